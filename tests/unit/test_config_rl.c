/* tests/unit/test_config_rl.c — rate limiters from the JSON config (Firecracker's
 * "rate_limiter", "rx_rate_limiter", "tx_rate_limiter" objects) and from --disk bw=/ops=,
 * and the errors for bad shapes.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/config.h"
#include "tests/unit/test.h"

static int parse(struct vm_config *c, const char *json, char *err, size_t errlen)
{
	config_init(c);
	return config_parse_json(c, json, "vm.json", err, errlen);
}

TEST(json_drive_and_net_limiters)
{
	struct vm_config c;
	char err[256] = "";
	int r =
	    parse(&c,
		  "{\"boot-source\": {\"kernel_image_path\": \"k\"},"
		  " \"drives\": [{\"drive_id\": \"root\", \"path_on_host\": \"d.img\","
		  "  \"rate_limiter\": {\"bandwidth\": {\"size\": 10485760, \"refill_time\": "
		  "1000, \"one_time_burst\": 1048576}, \"ops\": {\"size\": 500, "
		  "\"refill_time\": 100}}}],"
		  " \"network-interfaces\": [{\"iface_id\": \"eth0\", \"backend\": \"none\","
		  "  \"rx_rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"refill_time\": 10}},"
		  "  \"tx_rate_limiter\": {\"ops\": {\"size\": 7, \"refill_time\": 70}}}]}",
		  err, sizeof(err));
	CHECK_EQ(r, 0);
	if (r)
		fprintf(stderr, "  %s\n", err);
	CHECK_EQ(c.disks[0].rate_limiter.bandwidth.size, 10485760);
	CHECK_EQ(c.disks[0].rate_limiter.bandwidth.refill_time_ms, 1000);
	CHECK_EQ(c.disks[0].rate_limiter.bandwidth.one_time_burst, 1048576);
	CHECK_EQ(c.disks[0].rate_limiter.ops.size, 500);
	CHECK_EQ(c.disks[0].rate_limiter.ops.refill_time_ms, 100);
	CHECK_EQ(c.nets[0].rx_rl.bandwidth.size, 1000);
	CHECK_EQ(c.nets[0].rx_rl.bandwidth.refill_time_ms, 10);
	CHECK(!rl_bucket_config_is_limited(&c.nets[0].rx_rl.ops));
	CHECK_EQ(c.nets[0].tx_rl.ops.size, 7);
	CHECK(!rl_bucket_config_is_limited(&c.nets[0].tx_rl.bandwidth));
	config_fini(&c);
}

TEST(json_bad_limiters_refused)
{
	static const char *const bad[] = {
	    "{\"bandwidth\": {\"size\": 10}}",				/* no refill_time */
	    "{\"bandwidth\": {\"refill_time\": 10}}",			/* no size */
	    "{\"bandwidth\": {\"size\": -1, \"refill_time\": 10}}",	/* negative */
	    "{\"bandwidth\": {\"size\": 1.5, \"refill_time\": 10}}",	/* fraction */
	    "{\"bandwidth\": {\"size\": \"10\", \"refill_time\": 10}}", /* string */
	    "{\"bandwidth\": {\"size\": 10, \"refill_time\": 10, \"burst\": 1}}", /* key */
	    "{\"bw\": {\"size\": 10, \"refill_time\": 10}}",
	    "[1]",
	    "{\"ops\": 5}",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[512], err[256] = "";
		struct vm_config c;
		test_snprintf(json, sizeof(json),
			      "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": "
			      "[{\"path_on_host\": \"d.img\", \"rate_limiter\": %s}]}",
			      bad[i]);
		CHECK_EQ(parse(&c, json, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "rate_limiter") != NULL);
		config_fini(&c);
	}
}

TEST(cli_disk_limits)
{
	struct vm_disk_config d;
	char err[256];

	CHECK_EQ(config_parse_disk(&d, "a.img,bw=10M,ops=100:1000:50", err, sizeof(err)), 0);
	CHECK_EQ(d.rate_limiter.bandwidth.size, 10 << 20);
	CHECK_EQ(d.rate_limiter.bandwidth.refill_time_ms, 1000);
	CHECK_EQ(d.rate_limiter.ops.size, 100);
	CHECK_EQ(d.rate_limiter.ops.one_time_burst, 50);
	free(d.path);
	free(d.id);
	CHECK_EQ(config_parse_disk(&d, "a.img,bw=lots", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--disk a.img,bw=lots") != NULL);
}

int main(void)
{
	RUN(json_drive_and_net_limiters);
	RUN(json_bad_limiters_refused);
	RUN(cli_disk_limits);
	return test_summary();
}

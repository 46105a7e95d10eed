/* tests/unit/test_config.c — command line and JSON parsing: sizes at their edges, bad
 * values named in the message, JSON shapes and types, flags overriding the file. */
#include "core/config.h"
#include "tests/unit/test.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static char err[1024];

static int parse(struct vm_config *c, int argc, const char **argv)
{
	config_init(c);
	err[0] = '\0';
	return config_parse_args(c, argc, (char **)argv, err, sizeof(err));
}

TEST(sizes)
{
	uint64_t v = 0;

	CHECK_EQ(config_parse_size("256M", &v), 0);
	CHECK_EQ(v, 256ULL << 20);
	CHECK_EQ(config_parse_size("6G", &v), 0);
	CHECK_EQ(v, 6ULL << 30);
	CHECK_EQ(config_parse_size("1024", &v), 0); /* plain number: MiB */
	CHECK_EQ(v, 1024ULL << 20);
	CHECK_EQ(config_parse_size("64k", &v), 0);
	CHECK_EQ(v, 64ULL << 10);
	CHECK_EQ(config_parse_size("512MiB", &v), 0);
	CHECK_EQ(v, 512ULL << 20);
	CHECK_EQ(config_parse_size("2GB", &v), 0);
	CHECK_EQ(v, 2ULL << 30);
	CHECK(config_parse_size("", &v) < 0);
	CHECK(config_parse_size("-1G", &v) < 0);
	CHECK(config_parse_size("+1G", &v) < 0);
	CHECK(config_parse_size("1X", &v) < 0);
	CHECK(config_parse_size("1.5G", &v) < 0);
	CHECK(config_parse_size("5K", &v) < 0);	       /* not a multiple of 4 KiB */
	CHECK(config_parse_size("16777216T", &v) < 0); /* 2^24 TiB = 2^64: overflows */
	CHECK_EQ(config_parse_size("16777215T", &v), 0);
	CHECK(config_parse_size("99999999999999999999", &v) < 0);
	CHECK(config_parse_size(NULL, &v) < 0);
}

TEST(flags)
{
	struct vm_config c;
	const char *a[] = {"arcvmm",	"--kernel", "k",	"--initrd",  "i",
			   "--cmdline", "x y",	    "--cpus",	"4",	     "--memory",
			   "1G",	"--boot",   "pvh",	"--disk",    "d.img,ro,id=abc",
			   "--net",	"none",	    "--no-rng", "--console", "virtio"};

	CHECK_EQ(parse(&c, 20, a), 0);
	CHECK(!strcmp(c.kernel, "k"));
	CHECK(!strcmp(c.initrd, "i"));
	CHECK(!strcmp(c.cmdline, "x y"));
	CHECK_EQ(c.ncpus, 4);
	CHECK_EQ(c.mem_size, 1ULL << 30);
	CHECK_EQ(c.protocol, BOOT_PROTO_PVH);
	CHECK_EQ(c.nr_disks, 1);
	CHECK(!strcmp(c.disks[0].path, "d.img"));
	CHECK(c.disks[0].is_read_only);
	CHECK(!strcmp(c.disks[0].id, "abc"));
	CHECK_EQ(c.nr_nets, 1);
	CHECK_EQ(c.nets[0].kind, VM_NET_NONE);
	CHECK(!c.has_rng);
	CHECK_EQ(c.console, VM_CONSOLE_VIRTIO);
	CHECK(!c.huge_pages);
	config_fini(&c);

	const char *b[] = {"arcvmm", "--kernel", "k", "--huge-pages", "2M"};
	CHECK_EQ(parse(&c, 5, b), 0);
	CHECK(c.huge_pages);
	config_fini(&c);
}

TEST(bad_flags)
{
	struct vm_config c;
	const char *cpus0[] = {"arcvmm", "--kernel", "k", "--cpus", "0"};
	const char *cpus255[] = {"arcvmm", "--kernel", "k", "--cpus", "255"};
	const char *cpus254[] = {"arcvmm", "--kernel", "k", "--cpus", "254"};
	const char *cpusneg[] = {"arcvmm", "--kernel", "k", "--cpus", "-1"};
	const char *mem[] = {"arcvmm", "--kernel", "k", "--memory", "15M"};
	const char *mem16[] = {"arcvmm", "--kernel", "k", "--memory", "16M"};
	const char *unknown[] = {"arcvmm", "--kernel", "k", "--frobnicate"};
	const char *nokernel[] = {"arcvmm", "--cpus", "2"};
	const char *disk[] = {"arcvmm", "--kernel", "k", "--disk", ",ro"};
	const char *queues[] = {"arcvmm", "--kernel", "k", "--disk", "d,queues=17"};
	const char *empty_net[] = {"arcvmm", "--kernel", "k", "--net", ""};

	CHECK(parse(&c, 5, cpus0) < 0);
	CHECK(strstr(err, "--cpus 0: a VM needs at least one vCPU"));
	config_fini(&c);
	CHECK(parse(&c, 5, cpus255) < 0);
	CHECK(strstr(err, "--cpus 255: too many"));
	config_fini(&c);
	CHECK_EQ(parse(&c, 5, cpus254), 0);
	config_fini(&c);
	CHECK(parse(&c, 5, cpusneg) < 0);
	CHECK(strstr(err, "not a number"));
	config_fini(&c);
	CHECK(parse(&c, 5, mem) < 0);
	CHECK(strstr(err, "--memory 15M: too small (minimum 16 MiB)"));
	config_fini(&c);
	CHECK_EQ(parse(&c, 5, mem16), 0);
	config_fini(&c);
	CHECK(parse(&c, 4, unknown) < 0);
	CHECK(strstr(err, "--frobnicate: unknown option"));
	config_fini(&c);
	/* No kernel is not the parser's business (the JSON or the API may give it later):
	 * arcvmm_create() refuses it, tests/cli checks the message. */
	CHECK_EQ(parse(&c, 3, nokernel), 0);
	config_fini(&c);
	CHECK(parse(&c, 5, disk) < 0);
	CHECK(strstr(err, "missing the image path"));
	config_fini(&c);
	CHECK(parse(&c, 5, queues) < 0);
	CHECK(strstr(err, "queues must be 1..16"));
	config_fini(&c);
	CHECK(parse(&c, 5, empty_net) < 0);
	config_fini(&c);
}

static int json(struct vm_config *c, const char *text)
{
	config_init(c);
	err[0] = '\0';
	return config_parse_json(c, text, "t.json", err, sizeof(err));
}

TEST(net_user_hostname)
{
	struct vm_net_config n;
	char why[256];

	memset(&n, 0, sizeof(n));
	CHECK_EQ(config_parse_net(&n, "user", why, sizeof(why)), 0);
	CHECK_EQ(n.hostname[0], 0); /* none unless asked */
	memset(&n, 0, sizeof(n));
	CHECK_EQ(config_parse_net(&n, "user,hostname=build-box.local", why, sizeof(why)), 0);
	CHECK(!strcmp(n.hostname, "build-box.local"));
	const char *bad[] = {"user,hostname=", "user,hostname=a b", "user,hostname=x;reboot",
			     "user,hostname=123456789012345678901234567890123",
			     "tap=t0,hostname=x"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&n, 0, sizeof(n));
		why[0] = 0;
		CHECK(config_parse_net(&n, bad[i], why, sizeof(why)) < 0);
		CHECK(why[0] != 0);
	}
}

TEST(json_good)
{
	struct vm_config c;

	CHECK_EQ(json(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\", \"initrd_path\": "
			  "\"/i\", \"boot_args\": \"console=ttyS0\"}, \"machine-config\": "
			  "{\"vcpu_count\": 2, \"mem_size_mib\": 512, \"huge_pages\": \"2M\"}, "
			  "\"drives\": [{\"drive_id\": "
			  "\"root\", \"path_on_host\": \"/d.img\", \"is_root_device\": true, "
			  "\"is_read_only\": true}], \"network-interfaces\": [{\"iface_id\": "
			  "\"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": "
			  "\"06:00:00:00:00:01\"}]}"),
		 0);
	CHECK(!strcmp(c.kernel, "/k"));
	CHECK(!strcmp(c.initrd, "/i"));
	CHECK(!strcmp(c.cmdline, "console=ttyS0"));
	CHECK_EQ(c.ncpus, 2);
	CHECK_EQ(c.mem_size, 512ULL << 20);
	CHECK(c.huge_pages);
	CHECK_EQ(c.nr_disks, 1);
	CHECK(c.disks[0].is_read_only);
	CHECK(!strcmp(c.disks[0].id, "root"));
	CHECK_EQ(c.nr_nets, 1);
	CHECK_EQ(c.nets[0].kind, VM_NET_TAP);
	CHECK(!strcmp(c.nets[0].tap, "tap0"));
	CHECK(c.nets[0].has_mac);
	CHECK(!memcmp(c.nets[0].mac, "\x06\x00\x00\x00\x00\x01", 6));
	config_fini(&c);
}

TEST(json_bad)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"", "malformed JSON"},
	    {"{", "malformed JSON"},
	    {"[]", "must be an object"},
	    {"{\"machine-config\": {}}", "missing \"boot-source\""},
	    {"{\"boot-source\": {}}", "needs \"kernel_image_path\""},
	    {"{\"boot-source\": {\"kernel_image_path\": 5}}", "must be a string"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"k\", \"x\": 1}}", "unknown key \"x\""},
	    {"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"machine-config\": "
	     "{\"vcpu_count\": 1.5}}",
	     "whole number"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"machine-config\": "
	     "{\"vcpu_count\": -1}}",
	     "whole number"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"machine-config\": "
	     "{\"mem_size_mib\": 8}}",
	     "too small"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"machine-config\": "
	     "{\"smt\": true}}",
	     "not supported"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"machine-config\": "
	     "{\"huge_pages\": \"1G\"}}",
	     "huge_pages 1G: must be none or 2M"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": {}}",
	     "must be an array"},
	    {"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"drives\": [{}]}",
	     "needs \"path_on_host\""},
	    {"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"network-interfaces\": "
	     "[{\"iface_id\": \"eth0\"}]}",
	     "needs \"host_dev_name\""},
	    {"{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"console\": 1}", "\"console\""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vm_config c;
		int r = json(&c, cases[i].text);
		CHECK(r < 0);
		if (!strstr(err, cases[i].want)) {
			fprintf(stderr, "  case %zu: got \"%s\", want \"%s\"\n", i, err,
				cases[i].want);
			CHECK(!"message");
		}
		config_fini(&c);
	}
}

TEST(flags_override_file)
{
	struct vm_config c;
	char path[] = "/tmp/arcvmm-test-config-XXXXXX";
	int fd = mkstemp(path);
	const char *text = "{\"boot-source\": {\"kernel_image_path\": \"/from-file\"}, "
			   "\"machine-config\": {\"vcpu_count\": 3}}";

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	const char *a[] = {"arcvmm", "--cpus", "2", "--config", path};
	CHECK_EQ(parse(&c, 5, a), 0);
	CHECK(!strcmp(c.kernel, "/from-file"));
	CHECK_EQ(c.ncpus, 2);
	config_fini(&c);
	unlink(path);
}

int main(void)
{
	RUN(sizes);
	RUN(flags);
	RUN(bad_flags);
	RUN(net_user_hostname);
	RUN(json_good);
	RUN(json_bad);
	RUN(flags_override_file);
	return test_summary();
}

/* tests/unit/test_audit_regressions.c — the config bugs of issue #14's audit, one test
 * each, plus the --net syntax the structured network config must keep accepting.
 *
 * 1. A JSON drive with a legal 4094-byte path and "is_read_only": true used to go through a
 *    4096-byte --disk spec string: ",ro" fell off the end and the disk was opened
 *    read-write. Now the config holds the exact path and is_read_only, or refuses clearly.
 * 2. A JSON guest_mac (or host_dev_name, hostfwd) with a comma used to become extra --net
 *    options ("...,hostfwd=tcp:0.0.0.0:2222-:22" opened a port). Now it is refused.
 * (The third, the console reset hang, is in test_virtio_console.c, which has the driver.)
 *
 * Trusts: nothing; it only calls the parsers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "devices/virtio_blk.h"
#include "tests/unit/test.h"

static char err[1024];

static int json(struct vm_config *c, const char *text)
{
	config_init(c);
	err[0] = '\0';
	return config_parse_json(c, text, "t.json", err, sizeof(err));
}

/* mkdir -p of dir + "/" + ... so that dir/.../file is exactly len bytes; the file is
 * created. Returns the path (malloc'd) or NULL. */
static char *make_deep_file(const char *dir, size_t len)
{
	char *p = malloc(len + 1);
	size_t n = strlen(dir);

	if (!p || n + 2 > len)
		return NULL;
	memcpy(p, dir, n);
	/* Components of 200 bytes while more than a component and a file name remain. */
	while (len - n > 1 + 200 + 1 + 16) {
		p[n++] = '/';
		memset(p + n, 'd', 200);
		n += 200;
		p[n] = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			free(p);
			return NULL;
		}
	}
	p[n++] = '/';
	memset(p + n, 'f', len - n);
	p[len] = 0;
	int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(p);
		return NULL;
	}
	close(fd);
	return p;
}

static char *drive_json(const char *path, const char *extra)
{
	size_t len = strlen(path) + strlen(extra) + 256;
	char *t = malloc(len);

	if (!t)
		return NULL;
	int n = snprintf(t, len,
			 "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": "
			 "[{\"drive_id\": \"root\", \"path_on_host\": \"%s\"%s}]}",
			 path, extra);
	if (n < 0 || (size_t)n >= len) { /* cannot happen: len was sized for it */
		free(t);
		return NULL;
	}
	return t;
}

TEST(json_drive_4094_byte_path_keeps_read_only)
{
	char tmpl[] = "/tmp/arcvmm-audit-XXXXXX";
	struct vm_config c;

	CHECK(mkdtemp(tmpl) != NULL);
	char *path = make_deep_file(tmpl, 4094);
	CHECK(path != NULL);
	if (!path)
		return;
	CHECK_EQ(strlen(path), 4094);
	CHECK_EQ(access(path, F_OK), 0); /* a real file, legal for open() */

	CHECK_EQ(truncate(path, 1 << 20), 0);
	char *t = drive_json(path, ", \"is_read_only\": true, \"num_queues\": 2");
	CHECK_EQ(json(&c, t), 0);
	CHECK_EQ(c.nr_disks, 1);
	if (c.nr_disks == 1) {
		CHECK(!strcmp(c.disks[0].path, path)); /* never a silently different file */
		CHECK(c.disks[0].is_read_only);
		CHECK_EQ(c.disks[0].nr_queues, 2);
		CHECK(!strcmp(c.disks[0].id, "root"));
		/* And the device really offers the disk read-only. */
		static uint8_t ram[1 << 16];
		struct guest_mem m;
		guest_mem_init_buffer(&m, ram, sizeof(ram));
		struct virtio_blk *b = virtio_blk_create(&m, &c.disks[0], err, sizeof(err));
		CHECK(b != NULL);
		if (b) {
			CHECK(virtio_blk_ops.features(b) & VIRTIO_BIT(VIRTIO_BLK_F_RO));
			virtio_blk_destroy(b);
		} else {
			fprintf(stderr, "  %s\n", err);
		}
	}
	config_fini(&c);
	free(t);

	/* The longest path kept, and one byte more: refused, naming the drive and field. */
	char *longer = malloc(VM_DISK_PATH_MAX + 2);
	memset(longer, 'x', VM_DISK_PATH_MAX + 1);
	longer[0] = '/';
	longer[VM_DISK_PATH_MAX] = 0;
	t = drive_json(longer, ", \"is_read_only\": true");
	CHECK_EQ(json(&c, t), 0);
	CHECK(c.nr_disks == 1 && strlen(c.disks[0].path) == VM_DISK_PATH_MAX &&
	      c.disks[0].is_read_only);
	config_fini(&c);
	free(t);
	longer[VM_DISK_PATH_MAX] = 'x';
	longer[VM_DISK_PATH_MAX + 1] = 0;
	t = drive_json(longer, ", \"is_read_only\": true");
	CHECK(json(&c, t) < 0);
	CHECK(strstr(err, "drive \"root\": \"path_on_host\" is longer than 4095 bytes") != NULL);
	CHECK_EQ(c.nr_disks, 0);
	config_fini(&c);
	free(t);
	free(longer);

	/* Remove the tree again, deepest first. */
	unlink(path);
	for (size_t n = strlen(path); n > strlen(tmpl); n--) {
		if (path[n] == '/') {
			path[n] = 0;
			rmdir(path);
		}
	}
	rmdir(tmpl);
	free(path);
}

TEST(json_drive_values_go_in_verbatim)
{
	struct vm_config c;

	/* A comma is part of the file name now, not an option: this stays read-write. */
	CHECK_EQ(json(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": "
			  "[{\"path_on_host\": \"/d,ro,id=x\", \"is_read_only\": false}]}"),
		 0);
	CHECK(c.nr_disks == 1 && !strcmp(c.disks[0].path, "/d,ro,id=x"));
	CHECK(c.nr_disks == 1 && !c.disks[0].is_read_only && !c.disks[0].id);
	config_fini(&c);
	CHECK_EQ(json(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": "
			  "[{\"path_on_host\": \"/d\", \"cache_type\": \"Direct\"}]}"),
		 0);
	CHECK(c.nr_disks == 1 && c.disks[0].is_direct);
	config_fini(&c);
	/* A NUL would end the C string early: "/a\u0000b" must not become "/a". */
	CHECK(json(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": "
		       "[{\"path_on_host\": \"/a\\u0000b\"}]}") < 0);
	CHECK(strstr(err, "\\u0000") != NULL);
	config_fini(&c);
	/* ... but an escaped backslash before "u0000" is just text. */
	CHECK_EQ(json(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": "
			  "[{\"path_on_host\": \"/a\\\\u0000b\"}]}"),
		 0);
	CHECK(c.nr_disks == 1 && !strcmp(c.disks[0].path, "/a\\u0000b"));
	config_fini(&c);
	/* Fields that cannot hold the value: refused, naming drive and field. */
	CHECK(json(&c,
		   "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": "
		   "[{\"drive_id\": \"abcdefghijklmnopqrstu\", \"path_on_host\": \"/d\"}]}") < 0);
	CHECK(strstr(err, "\"drive_id\" is longer than 20 bytes") != NULL);
	config_fini(&c);
	CHECK(json(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": "
		       "[{\"path_on_host\": \"/d\", \"num_queues\": 0}]}") < 0);
	CHECK(strstr(err, "drive 0: \"num_queues\" must be 1..16") != NULL);
	config_fini(&c);
	CHECK(json(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": "
		       "[{\"path_on_host\": \"/d\", \"cache_type\": \"Bogus\"}]}") < 0);
	CHECK(strstr(err, "\"cache_type\"") != NULL);
	config_fini(&c);
}

static int net_json(struct vm_config *c, const char *iface)
{
	char t[1024];
	int n = snprintf(t, sizeof(t),
			 "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
			 "\"network-interfaces\": [%s]}",
			 iface);
	if (n < 0 || (size_t)n >= sizeof(t)) {
		config_init(c);
		return -ENAMETOOLONG;
	}
	return json(c, t);
}

TEST(json_net_mac_injection_refused)
{
	struct vm_config c;

	/* The audit's example: a tenant's MAC that would have opened a port forward. */
	CHECK(net_json(&c, "{\"iface_id\": \"eth0\", \"backend\": \"user\", \"guest_mac\": "
			   "\"02:00:00:00:00:01,hostfwd=tcp:0.0.0.0:2222-:22\"}") < 0);
	CHECK(strstr(err, "network interface \"eth0\": \"guest_mac\"") != NULL);
	CHECK(strstr(err, "not a unicast MAC address") != NULL);
	CHECK_EQ(c.nr_nets, 0);
	config_fini(&c);
	/* The same on a TAP interface; and a TAP name carrying options. */
	CHECK(net_json(&c, "{\"host_dev_name\": \"tap0\", \"guest_mac\": "
			   "\"02:00:00:00:00:01,hostfwd=tcp:0.0.0.0:2222-:22\"}") < 0);
	CHECK(strstr(err, "network interface 0: \"guest_mac\"") != NULL);
	config_fini(&c);
	CHECK(net_json(&c, "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0,mac=02:00:00:00:00:"
			   "01\"}") < 0);
	CHECK(strstr(err, "\"host_dev_name\"") != NULL);
	CHECK_EQ(c.nr_nets, 0);
	config_fini(&c);
	static const char *const bad_taps[] = {"tap/0", "tap 0", "tap\\t0", "", "sixteen-bytes-xx",
					       "..",	"tap:0"};
	for (unsigned i = 0; i < sizeof(bad_taps) / sizeof(bad_taps[0]); i++) {
		char iface[128];
		snprintf(iface, sizeof(iface), "{\"host_dev_name\": \"%s\"}", bad_taps[i]);
		CHECK(net_json(&c, iface) < 0);
		CHECK(strstr(err, "\"host_dev_name\"") != NULL);
		config_fini(&c);
	}
	/* A forward with a second one (or a MAC) behind a comma does not parse. */
	CHECK(net_json(&c, "{\"backend\": \"user\", \"hostfwd\": "
			   "\"tcp::2222-:22,hostfwd=tcp:0.0.0.0:2223-:23\"}") < 0);
	CHECK(strstr(err, "\"hostfwd\"") != NULL);
	config_fini(&c);
	CHECK(net_json(&c, "{\"backend\": \"user\", \"hostfwd\": \"tcp::2222-:22,mac=02:00:00:00:"
			   "00:01\"}") < 0);
	config_fini(&c);
	CHECK(net_json(&c, "{\"host_dev_name\": \"tap0\", \"hostfwd\": \"tcp::2222-:22\"}") < 0);
	CHECK(strstr(err, "needs \"backend\": \"user\"") != NULL);
	config_fini(&c);
	CHECK(net_json(&c, "{\"host_dev_name\": \"tap0\", \"fd\": 3}") < 0);
	CHECK(strstr(err, "disagree") != NULL);
	config_fini(&c);
	CHECK(net_json(&c, "{\"host_dev_name\": \"tap0\", \"backend\": \"user\"}") < 0);
	config_fini(&c);
	CHECK(net_json(&c, "{\"backend\": \"user,hostfwd=tcp::1-:2\"}") < 0);
	CHECK(strstr(err, "\"backend\" must be") != NULL);
	config_fini(&c);
	CHECK_EQ(net_json(&c, "{\"host_dev_name\": \"tap0\", \"backend\": \"tap\"}"), 0);
	CHECK(c.nr_nets == 1 && c.nets[0].kind == VM_NET_TAP);
	config_fini(&c);
	CHECK(net_json(&c, "{\"backend\": \"user\", \"guest_mac\": \"01:00:00:00:00:01\"}") < 0);
	config_fini(&c);
	CHECK(net_json(&c, "{\"backend\": \"user\", \"guest_mac\": \"0g:00:00:00:00:01\"}") < 0);
	config_fini(&c);
	CHECK(net_json(&c, "{\"backend\": \"user\", \"guest_mac\": \"02-00-00-00-00-01\"}") < 0);
	config_fini(&c);
}

TEST(json_net_values_fill_the_struct)
{
	struct vm_config c;

	CHECK_EQ(net_json(&c, "{\"iface_id\": \"eth0\", \"backend\": \"user\", \"guest_mac\": "
			      "\"02:AB:cd:00:00:01\", \"hostfwd\": [\"tcp::2222-:22\", "
			      "\"udp:127.0.0.1:5353-10.0.2.15:53\"]}, {\"fd\": 7}, "
			      "{\"host_dev_name\": \"tap-x.1\", \"tx_rate_limiter\": "
			      "{\"ops\": {\"size\": 5, \"refill_time\": 100}}}, "
			      "{\"backend\": \"none\"}"),
		 0);
	CHECK_EQ(c.nr_nets, 4);
	if (c.nr_nets == 4) {
		CHECK_EQ(c.nets[0].kind, VM_NET_USER);
		CHECK(c.nets[0].has_mac);
		CHECK(!memcmp(c.nets[0].mac, "\x02\xab\xcd\x00\x00\x01", 6));
		CHECK_EQ(c.nets[0].nr_fwds, 2);
		CHECK(!c.nets[0].fwds[0].is_udp && c.nets[0].fwds[0].host_port == 2222 &&
		      c.nets[0].fwds[0].guest_port == 22 && c.nets[0].fwds[0].host_addr == 0);
		CHECK(c.nets[0].fwds[1].is_udp && c.nets[0].fwds[1].host_port == 5353 &&
		      c.nets[0].fwds[1].host_addr == htonl(0x7f000001));
		CHECK_EQ(c.nets[1].kind, VM_NET_FD);
		CHECK_EQ(c.nets[1].fd, 7);
		CHECK_EQ(c.nets[2].kind, VM_NET_TAP);
		CHECK(!strcmp(c.nets[2].tap, "tap-x.1"));
		CHECK_EQ(c.nets[2].tx_rl.ops.size, 5);
		CHECK_EQ(c.nets[3].kind, VM_NET_NONE);
	}
	config_fini(&c);
}

/* Every --net syntax keeps working through the one parser. */
TEST(cli_net_syntax)
{
	struct vm_net_config n;

	CHECK_EQ(config_parse_net(&n, "none", err, sizeof(err)), 0);
	CHECK_EQ(n.kind, VM_NET_NONE);
	CHECK_EQ(config_parse_net(&n, "tap=tap0,mac=06:00:00:00:00:01", err, sizeof(err)), 0);
	CHECK(n.kind == VM_NET_TAP && !strcmp(n.tap, "tap0") && n.has_mac && n.mac[0] == 6);
	CHECK_EQ(config_parse_net(&n, "fd=12", err, sizeof(err)), 0);
	CHECK(n.kind == VM_NET_FD && n.fd == 12 && !n.has_mac);
	CHECK_EQ(config_parse_net(&n,
				  "user,hostfwd=tcp::8080-:80,hostfwd=udp::53-10.0.2.15:53,"
				  "mac=52:54:00:aa:bb:cc,rx-bw=10M,tx-ops=100",
				  err, sizeof(err)),
		 0);
	CHECK(n.kind == VM_NET_USER && n.nr_fwds == 2 && n.has_mac);
	CHECK(n.fwds[1].is_udp && n.fwds[1].guest_addr == htonl(0x0a00020f));
	CHECK_EQ(n.rx_rl.bandwidth.size, 10 << 20);
	CHECK_EQ(n.tx_rl.ops.size, 100);
	CHECK_EQ(config_parse_net(&n, "user,hostfwd=::2222-:22", err, sizeof(err)), 0);
	CHECK(n.nr_fwds == 1 && n.fwds[0].host_port == 2222);

	static const struct {
		const char *spec, *want;
	} bad[] = {
	    {"", "--net: empty"},
	    {"bogus", "--net bogus: unknown option"},
	    {"mac=52:54:00:00:00:01", "no backend"},
	    {"tap=a,tap=b", "--net tap=b: unknown option"},
	    {"tap=name-much-too-long-for-linux", "--net tap=name-much-too-long-for-linux: "},
	    {"fd=-1", "not a file descriptor number"},
	    {"fd= 3", "not a file descriptor number"},
	    {"fd=99999999999", "not a file descriptor number"},
	    {"hostfwd=tcp::1-:2,user", "unknown option"},
	    {"user,hostfwd=tcp::notaport-:80", "malformed forward"},
	    {"user,hostfwd=tcp::0-:80", "malformed forward"},
	    {"user,hostfwd=tcp::65536-:80", "malformed forward"},
	    {"user,mac=zz", "--net mac=zz: malformed MAC address"},
	    {"none,mac=52:54:00:00:00:01", "unknown option"},
	    {"user,rx-bw=fast", "--net user,rx-bw=fast: "},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CHECK(config_parse_net(&n, bad[i].spec, err, sizeof(err)) < 0);
		if (!strstr(err, bad[i].want))
			fprintf(stderr, "  --net '%s': got '%s', want '%s'\n", bad[i].spec, err,
				bad[i].want);
		CHECK(strstr(err, bad[i].want) != NULL);
	}
}

int main(void)
{
	RUN(json_drive_4094_byte_path_keeps_read_only);
	RUN(json_drive_values_go_in_verbatim);
	RUN(json_net_mac_injection_refused);
	RUN(json_net_values_fill_the_struct);
	RUN(cli_net_syntax);
	return test_summary();
}

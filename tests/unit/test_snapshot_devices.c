/* tests/unit/test_snapshot_devices.c — each device's snapshot state: a save/restore round
 * trip gives a device that behaves as the original did (registers read back equal, queued
 * input comes out in order), and hostile blobs (cut, grown, wrong magic, values no register
 * can hold, random bytes) are refused without changing the device.
 */
#include "test.h"

#include "core/config.h"
#include "core/snapshot.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "devices/virtio_vsock.h"
#include "mem/guest_mem.h"
#include "virtio/mmio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

static int nr_irq_high;

/* SNAPSHOT_STATE_SEEDS=dir: good blobs become fuzz seeds (tests/fuzz/seeds-snapshot-state),
 * prefixed with fuzz_snapshot_state's selector byte. */
static void seed(const char *name, uint8_t which, const void *blob, size_t len)
{
	const char *dir = getenv("SNAPSHOT_STATE_SEEDS");
	char path[512];

	if (!dir)
		return;
	test_snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f) {
		fputc(which, f);
		fwrite(blob, 1, len, f);
		fclose(f);
	}
}

static void serial_irq(void *ctx, bool level)
{
	(void)ctx;
	if (level)
		nr_irq_high++;
}

static void pio_w(struct serial *s, unsigned off, uint8_t v)
{
	serial_pio(s, off, &v, true);
}

static uint8_t pio_r(struct serial *s, unsigned off)
{
	uint8_t v = 0;
	serial_pio(s, off, &v, false);
	return v;
}

/* Flips every byte of a blob in turn and feeds random blobs: restore must refuse or accept
 * without crashing (the sanitizer build checks the memory side). Returns the refusals. */
static unsigned hostile(int (*restore)(void *dev, const void *buf, size_t len), void *dev,
			const uint8_t *good, size_t len)
{
	uint8_t buf[8192];
	unsigned refused = 0;

	if (len > sizeof(buf))
		return 0;
	for (size_t cut = 0; cut < len; cut++)
		refused += restore(dev, good, cut) != 0;
	memcpy(buf, good, len);
	buf[len] = 0;
	refused += restore(dev, buf, len + 1) != 0;
	srand(7);
	for (unsigned i = 0; i < 200; i++) {
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rand();
		refused += restore(dev, buf, len) != 0;
	}
	return refused;
}

TEST(serial_round_trip)
{
	struct serial *a = serial_create(serial_irq, NULL), *b = serial_create(serial_irq, NULL);
	uint8_t blob[SERIAL_STATE_MAX];

	CHECK(a && b);
	pio_w(a, 3, 0x80); /* DLAB */
	pio_w(a, 0, 0x0c);
	pio_w(a, 1, 0x00);
	pio_w(a, 3, 0x1b); /* 8E1, DLAB off */
	pio_w(a, 7, 0x5a);
	pio_w(a, 4, 0x0b); /* DTR RTS OUT2 */
	pio_w(a, 1, 0x01); /* RX interrupt on */
	CHECK_EQ(serial_input(a, (const uint8_t *)"hello", 5), 5);
	long n = serial_save(a, blob, sizeof(blob));
	CHECK(n > 5);
	seed("serial", 1, blob, (size_t)n);
	CHECK_EQ(serial_save(a, blob, 4), -ENOSPC);
	nr_irq_high = 0;
	CHECK_EQ(serial_restore(b, blob, (size_t)n), 0);
	CHECK_EQ(nr_irq_high, 1); /* input waiting with RDI on: the line comes up again */
	CHECK_EQ(pio_r(b, 3), 0x1b);
	CHECK_EQ(pio_r(b, 7), 0x5a);
	CHECK_EQ(pio_r(b, 4), 0x0b);
	CHECK_EQ(pio_r(b, 1), 0x01);
	pio_w(b, 3, 0x9b);
	CHECK_EQ(pio_r(b, 0), 0x0c);
	pio_w(b, 3, 0x1b);
	char got[6] = "";
	for (int i = 0; i < 5; i++)
		got[i] = (char)pio_r(b, 0);
	CHECK(!strcmp(got, "hello"));
	CHECK_EQ(pio_r(b, 5) & 1, 0); /* nothing more */
	serial_destroy(a);
	serial_destroy(b);
}

static int serial_restore_v(void *dev, const void *buf, size_t len)
{
	return serial_restore(dev, buf, len);
}

TEST(serial_hostile)
{
	struct serial *a = serial_create(serial_irq, NULL), *b = serial_create(serial_irq, NULL);
	uint8_t blob[SERIAL_STATE_MAX];

	serial_input(a, (const uint8_t *)"xy", 2);
	long n = serial_save(a, blob, sizeof(blob));
	CHECK(n > 0);
	unsigned refused = hostile(serial_restore_v, b, blob, (size_t)n);
	CHECK(refused >= (unsigned)n + 1 + 190); /* every cut, the grown one, ~all random ones */
	/* A length field larger than the buffer behind it. */
	uint32_t big = 1u << 20;
	memcpy(blob + 4, &big, 4);
	CHECK_EQ(serial_restore(b, blob, (size_t)n), -EINVAL);
	serial_destroy(a);
	serial_destroy(b);
}

static void no_reset(void *ctx)
{
	(void)ctx;
}

static int kbd_irqs;
static void kbd_irq(void *ctx, bool level)
{
	(void)ctx;
	kbd_irqs += level;
}

TEST(i8042_round_trip)
{
	struct i8042 a, b;
	uint8_t blob[I8042_STATE_MAX], v;

	i8042_init(&a, no_reset, NULL);
	i8042_init(&b, no_reset, NULL);
	i8042_set_irq(&b, kbd_irq);
	CHECK_EQ(i8042_send_ctrl_alt_del(&a), 0);
	long n = i8042_save(&a, blob, sizeof(blob));
	CHECK(n > 0);
	seed("i8042", 2, blob, (size_t)n);
	kbd_irqs = 0;
	CHECK_EQ(i8042_restore(&b, blob, (size_t)n), 0);
	CHECK(kbd_irqs >= 1);
	uint8_t first, second;
	i8042_pio(&a, 0x60, &first, false);
	i8042_pio(&b, 0x60, &second, false);
	CHECK_EQ(first, second);
	i8042_pio(&a, 0x60, &first, false);
	i8042_pio(&b, 0x60, &second, false);
	CHECK_EQ(first, second);
	v = 0;
	i8042_pio(&b, 0x64, &v, false);
	CHECK(v & 1); /* more scancodes queued */
	/* Bad queue geometry is refused. */
	struct i8042 c;
	i8042_init(&c, no_reset, NULL);
	blob[12] = 16; /* kbd_head */
	CHECK_EQ(i8042_restore(&c, blob, (size_t)n), -EINVAL);
	CHECK_EQ(i8042_restore(&c, blob, (size_t)n - 1), -EINVAL);
}

static void fixed_clock(struct timespec *ts)
{
	ts->tv_sec = 1700000000;
	ts->tv_nsec = 0;
}

TEST(rtc_round_trip)
{
	struct rtc a, b;
	uint8_t blob[RTC_STATE_MAX], v;

	rtc_init(&a, NULL, fixed_clock, NULL);
	rtc_init(&b, NULL, fixed_clock, NULL);
	v = 0x40; /* NVRAM byte */
	uint8_t idx = 0x40;
	rtc_pio(&a, 0x70, &idx, true);
	v = 0xa5;
	rtc_pio(&a, 0x71, &v, true);
	long n = rtc_save(&a, blob, sizeof(blob));
	CHECK(n > 0);
	seed("rtc", 3, blob, (size_t)n);
	CHECK_EQ(rtc_restore(&b, blob, (size_t)n), 0);
	rtc_pio(&b, 0x70, &idx, true);
	rtc_pio(&b, 0x71, &v, false);
	CHECK_EQ(v, 0xa5);
	/* The time the guest reads is the same. */
	uint8_t sa, sb;
	idx = 0;
	rtc_pio(&a, 0x70, &idx, true);
	rtc_pio(&a, 0x71, &sa, false);
	rtc_pio(&b, 0x70, &idx, true);
	rtc_pio(&b, 0x71, &sb, false);
	CHECK_EQ(sa, sb);
	blob[4] = 200; /* index */
	CHECK_EQ(rtc_restore(&b, blob, (size_t)n), -EINVAL);
	CHECK_EQ(rtc_restore(&b, blob, 3), -EINVAL);
	rtc_destroy(&a);
	rtc_destroy(&b);
}

static void nothing(void *ctx)
{
	(void)ctx;
}

TEST(acpi_pm_round_trip)
{
	struct acpi_pm a, b;
	uint8_t blob[ACPI_PM_STATE_MAX];

	acpi_pm_init(&a, nothing, nothing, NULL);
	acpi_pm_init(&b, nothing, nothing, NULL);
	a.sleep_status = X86_ACPI_WAK_STS;
	long n = acpi_pm_save(&a, blob, sizeof(blob));
	CHECK(n > 0);
	seed("acpi-pm", 4, blob, (size_t)n);
	CHECK_EQ(acpi_pm_restore(&b, blob, (size_t)n), 0);
	CHECK_EQ(b.sleep_status, X86_ACPI_WAK_STS);
	blob[4] = 0xff;
	CHECK_EQ(acpi_pm_restore(&b, blob, (size_t)n), -EINVAL);
	CHECK_EQ(acpi_pm_save(&a, blob, 2), -ENOSPC);
}

/* A virtio device's hooks: round trip into a second instance, then hostile blobs. */
static void virtio_hooks(const struct virtio_device_ops *ops, void *a, void *b, bool has_state)
{
	uint8_t blob[256];

	CHECK(ops->save && ops->restore);
	long n = ops->save(a, blob, sizeof(blob));
	CHECK(n >= 0);
	CHECK(has_state ? n > 0 : n == 0);
	CHECK_EQ(ops->restore(b, blob, (size_t)n), 0);
	if (n > 0) {
		CHECK_EQ(ops->save(a, blob, (size_t)n - 1), -ENOSPC);
		unsigned refused = hostile(ops->restore, b, blob, (size_t)n);
		CHECK(refused >= (unsigned)n + 1 + 190);
		/* The good blob still goes in after all that. */
		n = ops->save(a, blob, sizeof(blob));
		CHECK_EQ(ops->restore(b, blob, (size_t)n), 0);
	} else {
		CHECK(ops->restore(b, "x", 1) != 0);
	}
}

TEST(virtio_rng_state)
{
	void *a = virtio_rng_create(), *b = virtio_rng_create();

	virtio_hooks(&virtio_rng_ops, a, b, false);
	virtio_rng_ops.destroy(a);
	virtio_rng_ops.destroy(b);
}

static uint8_t ram[1 << 20];

TEST(virtio_blk_state)
{
	/* Three images (an image is locked by the disk that has it open): b is the same
	 * size as a, other is not. */
	char path[] = "/tmp/arcvmm-snapdev-XXXXXX", path2[] = "/tmp/arcvmm-snapdev-XXXXXX",
	     path3[] = "/tmp/arcvmm-snapdev-XXXXXX";
	int fd = mkstemp(path), fd2 = mkstemp(path2), fd3 = mkstemp(path3);
	struct guest_mem mem;
	char err[256];

	CHECK(fd >= 0 && fd2 >= 0 && fd3 >= 0);
	CHECK(ftruncate(fd, 1 << 20) == 0);
	CHECK(ftruncate(fd2, 2 << 20) == 0);
	CHECK(ftruncate(fd3, 1 << 20) == 0);
	close(fd);
	close(fd2);
	close(fd3);
	guest_mem_init_buffer(&mem, ram, sizeof(ram));
	struct vm_disk_config c = {.path = path, .nr_queues = 1};
	struct virtio_blk *a = virtio_blk_create(&mem, &c, err, sizeof(err));
	c.path = path3;
	struct virtio_blk *b = virtio_blk_create(&mem, &c, err, sizeof(err));
	c.path = path2;
	struct virtio_blk *other = virtio_blk_create(&mem, &c, err, sizeof(err));
	CHECK(a && b && other);
	if (!a || !b || !other)
		return;
	virtio_hooks(&virtio_blk_ops, a, b, true);
	/* A disk of another size is not the one the guest knew. */
	uint8_t blob[64];
	long n = virtio_blk_ops.save(a, blob, sizeof(blob));
	CHECK_EQ(virtio_blk_ops.restore(other, blob, (size_t)n), -ESTALE);
	virtio_blk_destroy(a);
	virtio_blk_destroy(b);
	virtio_blk_destroy(other);
	unlink(path);
	unlink(path2);
	unlink(path3);
}

TEST(virtio_net_state)
{
	struct guest_mem mem;
	char err[256], spec[64];
	int sv[2], sv2[2];
	struct vm_net_config nc;

	guest_mem_init_buffer(&mem, ram, sizeof(ram));
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv2) == 0);
	test_snprintf(spec, sizeof(spec), "fd=%d,mac=52:54:00:aa:bb:cc", sv[0]);
	CHECK(config_parse_net(&nc, spec, err, sizeof(err)) == 0);
	struct virtio_net *a = virtio_net_create(&mem, &nc, err, sizeof(err));
	test_snprintf(spec, sizeof(spec), "fd=%d", sv2[0]); /* a random MAC */
	CHECK(config_parse_net(&nc, spec, err, sizeof(err)) == 0);
	struct virtio_net *b = virtio_net_create(&mem, &nc, err, sizeof(err));
	CHECK(a && b);
	virtio_hooks(&virtio_net_ops, a, b, true);
	uint8_t mac[6];
	virtio_net_get_mac(b, mac);
	CHECK(mac[3] == 0xaa && mac[4] == 0xbb && mac[5] == 0xcc); /* the guest's MAC kept */
	virtio_net_ops.destroy(a);
	virtio_net_ops.destroy(b);
	close(sv[1]);
	close(sv2[1]);
}

TEST(virtio_console_state)
{
	struct guest_mem mem;
	char err[256];

	guest_mem_init_buffer(&mem, ram, sizeof(ram));
	struct virtio_console *a = virtio_console_create(&mem, -1, -1, err, sizeof(err));
	struct virtio_console *b = virtio_console_create(&mem, -1, -1, err, sizeof(err));
	CHECK(a && b);
	virtio_hooks(&virtio_console_ops, a, b, true);
	virtio_console_destroy(a);
	virtio_console_destroy(b);
}

TEST(virtio_balloon_state)
{
	struct guest_mem mem;
	struct virtio_balloon_config bc;
	char err[256];

	guest_mem_init_buffer(&mem, ram, sizeof(ram));
	CHECK(virtio_balloon_parse_spec(&bc, "target=0", err, sizeof(err)) == 0);
	struct virtio_balloon *a = virtio_balloon_create(&mem, &bc, err, sizeof(err));
	struct virtio_balloon *b = virtio_balloon_create(&mem, &bc, err, sizeof(err));
	CHECK(a && b);
	CHECK_EQ(virtio_balloon_set_target(a, 1), 0);
	virtio_hooks(&virtio_balloon_ops, a, b, true);
	struct virtio_balloon_config got;
	virtio_balloon_get_config(b, &got);
	CHECK_EQ(got.amount_mib, 1);
	virtio_balloon_ops.destroy(a);
	virtio_balloon_ops.destroy(b);
}

TEST(virtio_vsock_state)
{
	struct virtio_vsock_config c = {.guest_cid = 3};
	char err[256], dir[] = "/tmp/arcvmm-snapvs-XXXXXX";

	CHECK(mkdtemp(dir) != NULL);
	test_snprintf(c.uds_path, sizeof(c.uds_path), "%s/a.sock", dir);
	struct virtio_vsock *a = virtio_vsock_create(&c, err, sizeof(err));
	test_snprintf(c.uds_path, sizeof(c.uds_path), "%s/b.sock", dir);
	struct virtio_vsock *b = virtio_vsock_create(&c, err, sizeof(err));
	c.guest_cid = 4;
	test_snprintf(c.uds_path, sizeof(c.uds_path), "%s/c.sock", dir);
	struct virtio_vsock *other = virtio_vsock_create(&c, err, sizeof(err));
	CHECK(a && b && other);
	virtio_hooks(&virtio_vsock_ops, a, b, true);
	uint8_t blob[64];
	long n = virtio_vsock_ops.save(a, blob, sizeof(blob));
	CHECK_EQ(virtio_vsock_ops.restore(other, blob, (size_t)n), -EINVAL); /* another CID */
	virtio_vsock_destroy(a);
	virtio_vsock_destroy(b);
	virtio_vsock_destroy(other);
	rmdir(dir);
}

TEST(config_round_trip)
{
	struct vm_config a, b;
	char err[256];
	uint64_t clock = 1;

	config_init(&a);
	config_init(&b);
	a.ncpus = 3;
	a.mem_size = 512ULL << 20;
	a.console = VM_CONSOLE_VIRTIO;
	a.has_rng = true;
	a.has_acpi = false;
	a.disks[0].path = strdup("/images/root.ext4");
	a.disks[0].id = strdup("root");
	a.disks[0].is_read_only = true;
	a.disks[0].nr_queues = 2;
	a.nr_disks = 1;
	CHECK(config_parse_net(&a.nets[0], "tap=tap7,mac=52:54:00:01:02:03", err, sizeof(err)) ==
	      0);
	CHECK(config_parse_net(&a.nets[1], "user,hostfwd=tcp::8080-:80,hostname=box", err,
			       sizeof(err)) == 0);
	a.nr_nets = 2;
	a.balloon = strdup("target=64,deflate_on_oom");
	a.vsock_cid = 7;
	a.vsock_uds = strdup("/run/v.sock");
	char *j = snapshot_config_json(&a);
	CHECK(j != NULL);
	if (!j)
		return;
	seed("config", 0, j, strlen(j));
	CHECK_EQ(snapshot_config_parse(&b, j, strlen(j), &clock, err, sizeof(err)), 0);
	CHECK_EQ(clock, 0);
	CHECK_EQ(b.ncpus, 3);
	CHECK_EQ(b.mem_size, 512ULL << 20);
	CHECK_EQ(b.console, VM_CONSOLE_VIRTIO);
	CHECK(b.has_rng && !b.has_acpi);
	CHECK_EQ(b.nr_disks, 1);
	CHECK(b.disks[0].path && !strcmp(b.disks[0].path, "/images/root.ext4"));
	CHECK(b.disks[0].id && !strcmp(b.disks[0].id, "root"));
	CHECK(b.disks[0].is_read_only && b.disks[0].nr_queues == 2);
	CHECK_EQ(b.nr_nets, 2);
	CHECK(b.nets[0].kind == VM_NET_TAP && !strcmp(b.nets[0].tap, "tap7"));
	CHECK(b.nets[0].has_mac && b.nets[0].mac[5] == 3);
	CHECK(b.nets[1].kind == VM_NET_USER && b.nets[1].nr_fwds == 1);
	CHECK(b.nets[1].fwds[0].host_port == 8080 && b.nets[1].fwds[0].guest_port == 80);
	CHECK(!strcmp(b.nets[1].hostname, "box"));
	CHECK(b.balloon && !strcmp(b.balloon, "target=64,deflate_on_oom"));
	CHECK(b.vsock_cid == 7 && b.vsock_uds && !strcmp(b.vsock_uds, "/run/v.sock"));
	/* The document prints the same again. */
	char *j2 = snapshot_config_json(&b);
	CHECK(j2 && !strcmp(j, j2));
	free(j2);
	free(j);
	config_fini(&a);
	config_fini(&b);
}

TEST(config_hostile)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{}",
	    "{\"format\":\"other\"}",
	    "{\"format\":\"arcvmm-snapshot-config-1\",\"vcpus\":0,\"mem_size_mib\":64,"
	    "\"console\":\"serial\"}",
	    "{\"format\":\"arcvmm-snapshot-config-1\",\"vcpus\":1.5,\"mem_size_mib\":64,"
	    "\"console\":\"serial\"}",
	    "{\"format\":\"arcvmm-snapshot-config-1\",\"vcpus\":1,\"mem_size_mib\":8,"
	    "\"console\":\"serial\"}",
	    "{\"format\":\"arcvmm-snapshot-config-1\",\"vcpus\":1,\"mem_size_mib\":64,"
	    "\"console\":\"tty\"}",
	    "{\"format\":\"arcvmm-snapshot-config-1\",\"vcpus\":1,\"mem_size_mib\":64,"
	    "\"console\":\"serial\",\"disks\":[{\"path\":\"\",\"queues\":1}]}",
	    "{\"format\":\"arcvmm-snapshot-config-1\",\"vcpus\":1,\"mem_size_mib\":64,"
	    "\"console\":\"serial\",\"disks\":[1,2,3,4,5,6,7,8,9]}",
	    "{\"format\":\"arcvmm-snapshot-config-1\",\"vcpus\":1,\"mem_size_mib\":64,"
	    "\"console\":\"serial\",\"nets\":[{\"kind\":\"tap\",\"tap\":\"a/b\"}]}",
	    "{\"format\":\"arcvmm-snapshot-config-1\",\"vcpus\":1,\"mem_size_mib\":64,"
	    "\"console\":\"serial\",\"nets\":[{\"kind\":\"fd\",\"fd\":3}]}",
	    "{\"format\":\"arcvmm-snapshot-config-1\",\"vcpus\":1,\"mem_size_mib\":64,"
	    "\"console\":\"serial\",\"nets\":[{\"kind\":\"user\",\"mac\":\"01:00:00:00:00:00\"}]}",
	    "{\"format\":\"arcvmm-snapshot-config-1\",\"vcpus\":1,\"mem_size_mib\":64,"
	    "\"console\":\"serial\",\"vsock\":{\"guest_cid\":2,\"uds_path\":\"/x\"}}",
	    "{\"format\":\"arcvmm-snapshot-config-1\",\"vcpus\":1,\"mem_size_mib\":64,"
	    "\"console\":\"serial\",\"paused_clock_ns\":\"-5\"}",
	};
	char err[256];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vm_config c;
		uint64_t clock;
		config_init(&c);
		err[0] = 0;
		int r = snapshot_config_parse(&c, bad[i], strlen(bad[i]), &clock, err, sizeof(err));
		if (r != -EINVAL)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK_EQ(r, -EINVAL);
		CHECK(err[0] != 0);
		config_fini(&c);
	}
	/* A NUL inside is not JSON text. */
	struct vm_config c;
	config_init(&c);
	CHECK_EQ(snapshot_config_parse(&c, "{\0}", 3, NULL, err, sizeof(err)), -EINVAL);
	config_fini(&c);
}

/* Restored RAM: the memory file mapped copy-on-write; the guest's writes never reach it. */
TEST(guest_mem_from_file)
{
	char path[] = "/tmp/arcvmm-snapmem-XXXXXX";
	int fd = mkstemp(path);
	struct guest_mem m;
	uint64_t v = 0x1122334455667788ULL, got = 0;

	CHECK(fd >= 0);
	CHECK(ftruncate(fd, 4 << 20) == 0);
	CHECK(pwrite(fd, &v, 8, 2 << 20) == 8);
	CHECK_EQ(guest_mem_init_file(&m, fd, 4 << 20, 3 << 20, 4ULL << 30), 0);
	CHECK_EQ(m.fd, -1);
	CHECK_EQ(m.nr_regions, 2); /* 3 MiB below the "hole", 1 MiB above */
	CHECK_EQ(m.regions[1].gpa, 4ULL << 30);
	CHECK_EQ(guest_mem_read(&m, 2 << 20, &got, 8), 0);
	CHECK_EQ(got, v);
	uint64_t w = 42;
	CHECK_EQ(guest_mem_write(&m, 2 << 20, &w, 8), 0);
	CHECK(pread(fd, &got, 8, 2 << 20) == 8);
	CHECK_EQ(got, v);				      /* the file is unchanged */
	CHECK_EQ(guest_mem_read(&m, 4ULL << 30, &got, 8), 0); /* fd offset 3 MiB */
	CHECK_EQ(got, 0);
	guest_mem_fini(&m);
	CHECK(guest_mem_init_file(&m, fd, 4097, 3 << 20, 4ULL << 30) == -EINVAL);
	close(fd);
	unlink(path);
}

int main(void)
{
	RUN(serial_round_trip);
	RUN(serial_hostile);
	RUN(i8042_round_trip);
	RUN(rtc_round_trip);
	RUN(acpi_pm_round_trip);
	RUN(virtio_rng_state);
	RUN(virtio_blk_state);
	RUN(virtio_net_state);
	RUN(virtio_console_state);
	RUN(virtio_balloon_state);
	RUN(virtio_vsock_state);
	RUN(config_round_trip);
	RUN(config_hostile);
	RUN(guest_mem_from_file);
	return test_summary();
}

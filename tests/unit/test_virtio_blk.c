/* tests/unit/test_virtio_blk.c — virtio-blk and the disk backend, no KVM.
 *
 * A simulated driver (bench/blk/simdrv.h) sets the device up through the real virtio-mmio
 * transport, lays chains out in malloc'd guest RAM, kicks the notify eventfd and waits on
 * the irqfd, while the device's workers do real I/O on a temporary image file. Covers
 * creation errors, config space, hostile chains, read-only, get-id, discard/write-zeroes,
 * flush, multi-queue, pause/reset with I/O in flight, and a random read/write run checked
 * against a shadow copy — on io_uring and on the forced preadv/pwritev fallback
 * (ARCVMM_DISK_NO_URING=1), buffered and O_DIRECT.
 *
 * Trusts: the transport, queue and worker code (they have their own tests).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/disk.h"
#include "bench/blk/simdrv.h"
#include "devices/virtio_blk.h"
#include "tests/unit/test.h"

#define RAM_SIZE  (64ULL << 20)
#define DISK_SIZE (4ULL << 20)
#define CAPACITY  (DISK_SIZE / 512)
#define WAIT_MS	  5000
#define NO_STATUS 0x5a /* what the status byte holds before the device writes it */
#define WANT_ALL  (~0ULL)

struct env {
	struct simdrv sd;
	struct virtio_blk *b;
	char path[160];
	uint64_t hdr_gpa, status_gpa, data_gpa; /* scratch for one request at a time */
};

/* Images live on a disk file system (O_DIRECT, hole punching, the immutable flag), not
 * on a tmpfs /tmp: ARCVMM_TEST_DIR, else /var/tmp. */
static const char *test_dir(void)
{
	const char *d = getenv("ARCVMM_TEST_DIR");

	return d && *d ? d : "/var/tmp";
}

static uint8_t pattern(uint64_t off, unsigned seed)
{
	return (uint8_t)(off * 7 + off / 512 + seed * 13);
}

static void fill_file(const char *path, uint64_t size, unsigned seed)
{
	static uint8_t buf[64 << 10];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pattern(off + i, seed);
		if (pwrite(fd, buf, sizeof(buf) < size - off ? sizeof(buf) : size - off,
			   (off_t)off) < 0)
			perror("pwrite");
	}
	close(fd);
}

static int read_file(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = pread(fd, buf, len, (off_t)off);

	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* If set, env_start() uses this image as it is instead of making a fresh one. */
static const char *env_image;

/* Opens a fresh image and starts the device with nq queues. */
static int env_start(struct env *e, const char *id, bool ro, bool direct, unsigned nq,
		     uint64_t wanted)
{
	struct vm_disk_config cfg = {0};
	char err[256] = "";

	memset(e, 0, sizeof(*e));
	if (env_image) {
		test_snprintf(e->path, sizeof(e->path), "%s", env_image); /* made by the test */
	} else {
		test_snprintf(e->path, sizeof(e->path), "%s/arcvmm-blk-%d.img", test_dir(),
			      (int)getpid());
		fill_file(e->path, DISK_SIZE, 1);
	}
	cfg.path = e->path;
	cfg.id = (char *)id;
	cfg.is_read_only = ro;
	cfg.is_direct = direct;
	cfg.nr_queues = nq;
	if (simdrv_init(&e->sd, RAM_SIZE) < 0)
		return -1;
	e->b = virtio_blk_create(&e->sd.mem, &cfg, err, sizeof(err));
	if (!e->b) {
		fprintf(stderr, "  create: %s\n", err);
		return -1;
	}
	e->hdr_gpa = simdrv_alloc(&e->sd, 4096, 4096);
	e->status_gpa = simdrv_alloc(&e->sd, 4096, 4096);
	e->data_gpa = simdrv_alloc(&e->sd, 1 << 20, 4096);
	if (simdrv_start(&e->sd, &virtio_blk_ops, e->b, nq, 256, wanted) < 0) {
		fprintf(stderr, "  simdrv_start failed\n");
		return -1;
	}
	return 0;
}

static void env_stop(struct env *e)
{
	simdrv_fini(&e->sd); /* destroys the transport and, through it, the device */
	unlink(e->path);
}

/* Runs one chain on queue qi and waits for it. Returns the status byte (NO_STATUS if the
 * device did not write it), or -1 if nothing came back. */
static int run_chain(struct env *e, unsigned qi, const struct simdrv_buf *bufs, unsigned n,
		     uint64_t status_gpa, uint32_t *used_len)
{
	uint8_t *status = status_gpa ? simdrv_ptr(&e->sd, status_gpa) : NULL;
	uint32_t id, len;
	int head;

	if (status)
		*status = NO_STATUS;
	head = simq_add(&e->sd.q[qi], bufs, n);
	if (head < 0)
		return -1;
	simdrv_kick(&e->sd, qi, false);
	if (!simdrv_wait_used(&e->sd, qi, &id, &len, WAIT_MS))
		return -1;
	if (id != (uint32_t)head)
		return -1;
	if (used_len)
		*used_len = len;
	return status ? *status : 0;
}

static void put_hdr(struct env *e, uint32_t type, uint64_t sector)
{
	struct virtio_blk_req_hdr h = {.type = type, .sector = sector};

	memcpy(simdrv_ptr(&e->sd, e->hdr_gpa), &h, sizeof(h));
}

/* The standard three-buffer layout: header, data, status. */
static int rq(struct env *e, unsigned qi, uint32_t type, uint64_t sector, uint64_t data_gpa,
	      uint32_t data_len, uint32_t *used_len)
{
	bool is_in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct simdrv_buf bufs[3] = {{e->hdr_gpa, 16, false}};
	unsigned n = 1;

	put_hdr(e, type, sector);
	if (data_len)
		bufs[n++] = (struct simdrv_buf){data_gpa, data_len, is_in};
	bufs[n++] = (struct simdrv_buf){e->status_gpa, 1, true};
	return run_chain(e, qi, bufs, n, e->status_gpa, used_len);
}

static void check_file_pattern(struct env *e, uint64_t off, size_t len, unsigned seed)
{
	uint8_t *buf = malloc(len);
	size_t bad = 0;

	CHECK(read_file(e->path, off, buf, len) == 0);
	for (size_t i = 0; i < len; i++)
		bad += buf[i] != pattern(off + i, seed);
	CHECK_EQ(bad, 0);
	free(buf);
}

TEST(test_create_errors)
{
	struct vm_disk_config cfg = {.nr_queues = 1};
	char err[256], path[160], dir[160];
	struct guest_mem mem;
	uint8_t ram[4096];
	int fd;

	guest_mem_init_buffer(&mem, ram, sizeof(ram));
	cfg.path = "/nonexistent/arcvmm/d.img";
	CHECK(!virtio_blk_create(&mem, &cfg, err, sizeof(err)));
	CHECK(strstr(err, "--disk /nonexistent/arcvmm/d.img") != NULL);
	CHECK(strstr(err, "No such file") != NULL);

	test_snprintf(dir, sizeof(dir), "%s/arcvmm-blkdir-%d", test_dir(), (int)getpid());
	mkdir(dir, 0755);
	cfg.path = dir;
	CHECK(!virtio_blk_create(&mem, &cfg, err, sizeof(err)));
	CHECK(strstr(err, "directory") != NULL);
	rmdir(dir);

	test_snprintf(path, sizeof(path), "%s/arcvmm-blkodd-%d.img", test_dir(), (int)getpid());
	fill_file(path, 1000, 0);
	cfg.path = path;
	CHECK(!virtio_blk_create(&mem, &cfg, err, sizeof(err)));
	char want[256];
	snprintf(want, sizeof(want), "--disk %s: size 1000 is not a multiple of 512 bytes", path);
	CHECK(strcmp(err, want) == 0);

	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	CHECK(!virtio_blk_create(&mem, &cfg, err, sizeof(err)));
	CHECK(strstr(err, "empty") != NULL);

	/* Not writable: root ignores permission bits, so use the immutable flag (ext4). */
	fill_file(path, 4096, 0);
	fd = open(path, O_RDONLY);
	int flags = 0;
	bool is_immutable = false;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		int f2 = flags | FS_IMMUTABLE_FL;
		is_immutable = ioctl(fd, FS_IOC_SETFLAGS, &f2) == 0;
	}
	if (!is_immutable && getuid() != 0) {
		chmod(path, 0444);
		is_immutable = true;
	}
	if (is_immutable) {
		CHECK(!virtio_blk_create(&mem, &cfg, err, sizeof(err)));
		CHECK(strstr(err, "not writable") != NULL && strstr(err, ",ro") != NULL);
		cfg.is_read_only = true;
		struct virtio_blk *b = virtio_blk_create(&mem, &cfg, err, sizeof(err));
		CHECK(b != NULL);
		virtio_blk_destroy(b);
		cfg.is_read_only = false;
		ioctl(fd, FS_IOC_SETFLAGS, &flags);
	} else {
		printf("  (skipped the not-writable case: no immutable flag here)\n");
	}
	close(fd);

	/* A good one opens. */
	struct virtio_blk *b = virtio_blk_create(&mem, &cfg, err, sizeof(err));
	CHECK(b != NULL);
	virtio_blk_destroy(b);
	unlink(path);
}

TEST(test_config_space)
{
	struct env e;
	uint64_t cap = 0;
	uint16_t nq = 0;
	uint32_t seg_max = 0, blk_size = 0, v = 0;

	CHECK(env_start(&e, NULL, false, false, 2, WANT_ALL) == 0);
	simdrv_config_read(&e.sd, VIRTIO_BLK_CFG_CAPACITY, &v, 4);
	cap = v;
	simdrv_config_read(&e.sd, VIRTIO_BLK_CFG_CAPACITY + 4, &v, 4);
	cap |= (uint64_t)v << 32;
	CHECK_EQ(cap, CAPACITY);
	simdrv_config_read(&e.sd, VIRTIO_BLK_CFG_NUM_QUEUES, &nq, 2);
	CHECK_EQ(nq, 2);
	simdrv_config_read(&e.sd, VIRTIO_BLK_CFG_SEG_MAX, &seg_max, 4);
	CHECK_EQ(seg_max, VIRTIO_BLK_SEG_MAX);
	simdrv_config_read(&e.sd, VIRTIO_BLK_CFG_BLK_SIZE, &blk_size, 4);
	CHECK_EQ(blk_size, 512);
	v = 0x12345678;
	simdrv_config_read(&e.sd, 0x200, &v, 4); /* past the config: zeros */
	CHECK_EQ(v, 0);
	CHECK(e.sd.features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	CHECK(e.sd.features & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD));
	CHECK(e.sd.features & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	CHECK(e.sd.features & VIRTIO_BIT(VIRTIO_BLK_F_MQ));
	CHECK(!(e.sd.features & VIRTIO_BIT(VIRTIO_BLK_F_RO)));
	env_stop(&e);

	CHECK(env_start(&e, NULL, true, false, 1, WANT_ALL) == 0);
	CHECK(e.sd.features & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	CHECK(!(e.sd.features & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)));
	env_stop(&e);
}

/* Write a pattern through the device, read it back, and find it in the host file. */
static void rw_roundtrip(bool direct, uint64_t wanted)
{
	struct env e;
	uint32_t used = 0;
	uint8_t *data;

	CHECK(env_start(&e, NULL, false, direct, 1, wanted) == 0);
	data = simdrv_ptr(&e.sd, e.data_gpa);
	for (unsigned i = 0; i < 65536; i++)
		data[i] = pattern(8192 + i, 2);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_OUT, 16, e.data_gpa, 65536, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 1);
	check_file_pattern(&e, 8192, 65536, 2);
	check_file_pattern(&e, 0, 8192, 1); /* neighbours untouched */
	check_file_pattern(&e, 8192 + 65536, 4096, 1);

	memset(data, 0, 65536);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_IN, 16, e.data_gpa, 65536, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 65537);
	size_t bad = 0;
	for (unsigned i = 0; i < 65536; i++)
		bad += data[i] != pattern(8192 + i, 2);
	CHECK_EQ(bad, 0);

	/* The last sector, and a read of the untouched first sectors. */
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_IN, CAPACITY - 1, e.data_gpa, 512, &used), VIRTIO_BLK_S_OK);
	bad = 0;
	for (unsigned i = 0; i < 512; i++)
		bad += data[i] != pattern(DISK_SIZE - 512 + i, 1);
	CHECK_EQ(bad, 0);
	CHECK(e.sd.nr_irqs > 0 ||
	      simdrv_wait_irq(&e.sd, WAIT_MS)); /* the irqfd write follows the push */

	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, &used), VIRTIO_BLK_S_OK);
	env_stop(&e);
}

TEST(test_rw_uring)
{
	rw_roundtrip(false, WANT_ALL);
}

TEST(test_rw_uring_no_event_idx)
{
	rw_roundtrip(false, ~VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
}

TEST(test_rw_uring_direct)
{
	rw_roundtrip(true, WANT_ALL);
}

TEST(test_rw_fallback)
{
	struct env e;
	struct virtio_blk_stats st;

	setenv("ARCVMM_DISK_NO_URING", "1", 1);
	CHECK(env_start(&e, NULL, false, false, 1, WANT_ALL) == 0);
	virtio_blk_get_stats(e.b, &st);
	CHECK(!st.has_uring);
	env_stop(&e);
	rw_roundtrip(false, WANT_ALL);
	rw_roundtrip(true, WANT_ALL);
	unsetenv("ARCVMM_DISK_NO_URING");
	CHECK(env_start(&e, NULL, false, false, 1, WANT_ALL) == 0);
	virtio_blk_get_stats(e.b, &st);
	CHECK(st.has_uring);
	env_stop(&e);
}

/* Odd layouts: header and data in one buffer, data split at odd sizes (unaligned for
 * O_DIRECT), status sharing a buffer with read data. */
static void odd_layouts(bool direct)
{
	struct env e;
	uint32_t used = 0;
	uint8_t *base;

	CHECK(env_start(&e, NULL, false, direct, 1, WANT_ALL) == 0);
	base = simdrv_ptr(&e.sd, e.data_gpa);
	/* write: [hdr + 100 bytes][412 bytes][status] */
	struct virtio_blk_req_hdr h = {.type = VIRTIO_BLK_T_OUT, .sector = 3};
	memcpy(base, &h, 16);
	for (unsigned i = 0; i < 512; i++)
		(i < 100 ? base + 16 : base + 4096 - 100)[i] = pattern(3 * 512 + i, 5);
	struct simdrv_buf w[3] = {
	    {e.data_gpa, 116, false}, {e.data_gpa + 4096, 412, false}, {e.status_gpa, 1, true}};
	CHECK_EQ(run_chain(&e, 0, w, 3, e.status_gpa, &used), VIRTIO_BLK_S_OK);
	check_file_pattern(&e, 3 * 512, 512, 5);

	/* read: [hdr][300 bytes][212 bytes + status] */
	put_hdr(&e, VIRTIO_BLK_T_IN, 3);
	memset(base, 0, 16384);
	struct simdrv_buf r[3] = {{e.hdr_gpa, 16, false},
				  {e.data_gpa + 1, 300, true},
				  {e.data_gpa + 8192 + 3, 213, true}};
	uint64_t st_gpa = e.data_gpa + 8192 + 3 + 212;
	CHECK_EQ(run_chain(&e, 0, r, 3, st_gpa, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 513);
	size_t bad = 0;
	for (unsigned i = 0; i < 512; i++)
		bad += (i < 300 ? base + 1 : base + 8192 + 3 - 300)[i] != pattern(3 * 512 + i, 5);
	CHECK_EQ(bad, 0);
	env_stop(&e);
}

TEST(test_odd_layouts)
{
	odd_layouts(false);
	odd_layouts(true);
	setenv("ARCVMM_DISK_NO_URING", "1", 1);
	odd_layouts(true);
	unsetenv("ARCVMM_DISK_NO_URING");
}

TEST(test_hostile_chains)
{
	struct env e;
	struct virtio_blk_stats st;
	uint32_t used = 0;
	uint8_t *data;

	CHECK(env_start(&e, NULL, false, false, 1, WANT_ALL) == 0);
	data = simdrv_ptr(&e.sd, e.data_gpa);

	/* Header too short. */
	put_hdr(&e, VIRTIO_BLK_T_IN, 0);
	struct simdrv_buf shorth[3] = {
	    {e.hdr_gpa, 8, false}, {e.data_gpa, 512, true}, {e.status_gpa, 1, true}};
	CHECK_EQ(run_chain(&e, 0, shorth, 3, e.status_gpa, &used), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(used, 1);

	/* No writable byte at all: no status can be written; the chain comes back, len 0. */
	memset(data, 0x11, 512);
	put_hdr(&e, VIRTIO_BLK_T_OUT, 0);
	struct simdrv_buf nost[2] = {{e.hdr_gpa, 16, false}, {e.data_gpa, 512, false}};
	CHECK_EQ(run_chain(&e, 0, nost, 2, 0, &used), 0);
	CHECK_EQ(used, 0);
	check_file_pattern(&e, 0, 512, 1); /* and nothing was written */
	/* The status buffer given as readable: same thing. */
	struct simdrv_buf rost[3] = {
	    {e.hdr_gpa, 16, false}, {e.data_gpa, 512, false}, {e.status_gpa, 1, false}};
	CHECK_EQ(run_chain(&e, 0, rost, 3, e.status_gpa, &used), NO_STATUS);
	CHECK_EQ(used, 0);
	check_file_pattern(&e, 0, 512, 1);
	virtio_blk_get_stats(e.b, &st);
	CHECK_EQ(st.nr_bad_chains, 2);

	/* Sectors past the end, partly past, and sector * 512 overflowing. */
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_IN, CAPACITY, e.data_gpa, 512, &used), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_IN, CAPACITY - 1, e.data_gpa, 1024, &used),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_OUT, CAPACITY + 1, e.data_gpa, 512, &used),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_IN, 1ULL << 55, e.data_gpa, 512, &used),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_OUT, UINT64_MAX, e.data_gpa, 512, &used),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_OUT, (UINT64_MAX / 512) + 1, e.data_gpa, 512, &used),
		 VIRTIO_BLK_S_IOERR);
	/* Not a whole number of sectors. */
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_IN, 0, e.data_gpa, 100, &used), VIRTIO_BLK_S_IOERR);

	/* A read whose data buffer is readable (device would have to write it). */
	memset(data, 0x22, 512);
	put_hdr(&e, VIRTIO_BLK_T_IN, 0);
	struct simdrv_buf rd_ro[3] = {
	    {e.hdr_gpa, 16, false}, {e.data_gpa, 512, false}, {e.status_gpa, 1, true}};
	CHECK_EQ(run_chain(&e, 0, rd_ro, 3, e.status_gpa, &used), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(data[0], 0x22);
	/* A write with the data writable and the status after it. */
	put_hdr(&e, VIRTIO_BLK_T_OUT, 0);
	struct simdrv_buf wr_wr[3] = {
	    {e.hdr_gpa, 16, false}, {e.data_gpa, 512, true}, {e.status_gpa, 1, true}};
	CHECK_EQ(run_chain(&e, 0, wr_wr, 3, e.status_gpa, &used), VIRTIO_BLK_S_IOERR);
	check_file_pattern(&e, 0, 512, 1);

	/* Zero-length read and write: nothing to do, OK. */
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_IN, 5, 0, 0, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 1);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_OUT, 5, 0, 0, &used), VIRTIO_BLK_S_OK);

	/* Unknown request type. */
	CHECK_EQ(rq(&e, 0, 99, 0, e.data_gpa, 512, &used), VIRTIO_BLK_S_UNSUPP);
	/* GET_ID with a readable id buffer. */
	put_hdr(&e, VIRTIO_BLK_T_GET_ID, 0);
	struct simdrv_buf id_ro[3] = {
	    {e.hdr_gpa, 16, false}, {e.data_gpa, 20, false}, {e.status_gpa, 1, true}};
	CHECK_EQ(run_chain(&e, 0, id_ro, 3, e.status_gpa, &used), VIRTIO_BLK_S_IOERR);

	/* More data buffers than seg_max. */
	struct simdrv_buf many[VIRTIO_BLK_SEG_MAX + 3];
	unsigned n = 0;
	put_hdr(&e, VIRTIO_BLK_T_IN, 0);
	many[n++] = (struct simdrv_buf){e.hdr_gpa, 16, false};
	for (unsigned i = 0; i < VIRTIO_BLK_SEG_MAX + 1; i++)
		many[n++] = (struct simdrv_buf){e.data_gpa + 512 * i, 512, true};
	many[n++] = (struct simdrv_buf){e.status_gpa, 1, true};
	CHECK_EQ(run_chain(&e, 0, many, n, e.status_gpa, &used), VIRTIO_BLK_S_IOERR);
	/* Exactly seg_max is fine. */
	n--;
	many[n - 1] = (struct simdrv_buf){e.status_gpa, 1, true};
	CHECK_EQ(run_chain(&e, 0, many, n, e.status_gpa, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 512 * VIRTIO_BLK_SEG_MAX + 1);

	/* After all that, the device still works and the driver was never reset. */
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_IN, 0, e.data_gpa, 512, &used), VIRTIO_BLK_S_OK);
	CHECK(!(virtio_mmio_status(e.sd.t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	env_stop(&e);
}

/* A ring the driver broke (a descriptor chain that loops) makes the device ask for a
 * reset (DEVICE_NEEDS_RESET, config interrupt) instead of spinning or crashing; after the
 * reset the driver can start over. */
TEST(test_broken_ring)
{
	struct env e;
	struct simq *q;
	uint32_t used = 0;

	CHECK(env_start(&e, NULL, false, false, 1, WANT_ALL) == 0);
	q = &e.sd.q[0];
	put_hdr(&e, VIRTIO_BLK_T_IN, 0);
	q->desc[0] = (struct virtq_desc){e.hdr_gpa, 16, VIRTQ_DESC_F_NEXT, 0}; /* next = itself */
	q->avail->ring[q->avail_idx % q->size] = 0;
	q->avail_idx++;
	simdrv_kick(&e.sd, 0, true);
	bool is_reset_asked = false;
	for (int i = 0; i < 500 && !is_reset_asked; i++) {
		is_reset_asked = virtio_mmio_status(e.sd.t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
		if (!is_reset_asked)
			simdrv_wait_irq(&e.sd, 10);
	}
	CHECK(is_reset_asked);
	/* Reset and set up again: the device works. */
	struct virtio_mmio *t = e.sd.t;
	simdrv_write32(&e.sd, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(virtio_mmio_status(t), 0);
	e.sd.next_alloc = e.data_gpa + (1 << 20);
	e.sd.t = NULL;
	/* simdrv_start makes a new transport; the old one (and the device) goes first. */
	virtio_mmio_destroy(t);
	struct vm_disk_config cfg = {.path = e.path, .nr_queues = 1};
	char err[256];
	e.b = virtio_blk_create(&e.sd.mem, &cfg, err, sizeof(err));
	CHECK(e.b != NULL);
	CHECK(simdrv_start(&e.sd, &virtio_blk_ops, e.b, 1, 256, WANT_ALL) == 0);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_IN, 0, e.data_gpa, 512, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(*(uint8_t *)simdrv_ptr(&e.sd, e.data_gpa), pattern(0, 1));
	env_stop(&e);
}

TEST(test_read_only)
{
	struct env e;
	uint32_t used = 0;
	uint8_t *data;

	CHECK(env_start(&e, NULL, true, false, 1, WANT_ALL) == 0);
	data = simdrv_ptr(&e.sd, e.data_gpa);
	memset(data, 0x33, 4096);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_OUT, 0, e.data_gpa, 4096, &used), VIRTIO_BLK_S_IOERR);
	check_file_pattern(&e, 0, 4096, 1);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_IN, 0, e.data_gpa, 4096, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(data[100], pattern(100, 1));
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, &used), VIRTIO_BLK_S_OK);
	struct virtio_blk_discard_seg seg = {.sector = 0, .num_sectors = 8};
	memcpy(data, &seg, sizeof(seg));
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_DISCARD, 0, e.data_gpa, 16, &used), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, e.data_gpa, 16, &used),
		 VIRTIO_BLK_S_IOERR);
	check_file_pattern(&e, 0, 4096, 1);
	env_stop(&e);
}

TEST(test_get_id)
{
	struct env e;
	uint32_t used = 0;
	uint8_t *data;

	CHECK(env_start(&e, "disk-serial-1", false, false, 1, WANT_ALL) == 0);
	data = simdrv_ptr(&e.sd, e.data_gpa);
	memset(data, 0xee, 64);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_GET_ID, 0, e.data_gpa, 20, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 21);
	CHECK(memcmp(data, "disk-serial-1\0\0\0\0\0\0\0", 20) == 0);
	CHECK_EQ(data[20], 0xee);
	/* A shorter buffer gets what fits. */
	memset(data, 0xee, 64);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_GET_ID, 0, e.data_gpa, 4, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 5);
	CHECK(memcmp(data, "disk\xee", 5) == 0);
	env_stop(&e);

	/* 20 bytes: no terminator. No id: all zeros. */
	CHECK(env_start(&e, "ABCDEFGHIJKLMNOPQRST", false, false, 1, WANT_ALL) == 0);
	data = simdrv_ptr(&e.sd, e.data_gpa);
	memset(data, 0xee, 64);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_GET_ID, 0, e.data_gpa, 20, &used), VIRTIO_BLK_S_OK);
	CHECK(memcmp(data, "ABCDEFGHIJKLMNOPQRST\xee", 21) == 0);
	env_stop(&e);
	CHECK(env_start(&e, NULL, false, false, 1, WANT_ALL) == 0);
	data = simdrv_ptr(&e.sd, e.data_gpa);
	memset(data, 0xee, 64);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_GET_ID, 0, e.data_gpa, 20, &used), VIRTIO_BLK_S_OK);
	size_t nz = 0;
	for (unsigned i = 0; i < 20; i++)
		nz += data[i] != 0;
	CHECK_EQ(nz, 0);
	env_stop(&e);
}

static uint64_t file_blocks(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_blocks : 0;
}

static int discard_rq(struct env *e, uint32_t type, const struct virtio_blk_discard_seg *segs,
		      unsigned n, uint32_t bytes)
{
	memcpy(simdrv_ptr(&e->sd, e->data_gpa), segs, n * sizeof(*segs));
	return rq(e, 0, type, 0, e->data_gpa, bytes, NULL);
}

TEST(test_discard_write_zeroes)
{
	struct env e;
	struct virtio_blk_discard_seg segs[VIRTIO_BLK_MAX_DISCARD_SEG + 1];
	uint64_t before, after;
	uint8_t *buf = malloc(65536);
	size_t nz;

	CHECK(env_start(&e, NULL, false, false, 1, WANT_ALL) == 0);
	fsync(open(e.path, O_RDONLY)); /* allocate blocks for the pattern */
	before = file_blocks(e.path);

	/* Discard 64 KiB at 64 KiB and 64 KiB at 1 MiB: holes in the host file. */
	segs[0] = (struct virtio_blk_discard_seg){.sector = 128, .num_sectors = 128};
	segs[1] = (struct virtio_blk_discard_seg){.sector = 2048, .num_sectors = 128};
	CHECK_EQ(discard_rq(&e, VIRTIO_BLK_T_DISCARD, segs, 2, 32), VIRTIO_BLK_S_OK);
	after = file_blocks(e.path);
	CHECK_EQ(before - after, 2 * 65536 / 512);
	CHECK(read_file(e.path, 65536, buf, 65536) == 0);
	nz = 0;
	for (unsigned i = 0; i < 65536; i++)
		nz += buf[i] != 0;
	CHECK_EQ(nz, 0);
	check_file_pattern(&e, 0, 65536, 1);
	check_file_pattern(&e, 131072, 65536, 1);

	/* Discard with UNMAP or unknown flags: UNSUPP, nothing changes. */
	segs[0] = (struct virtio_blk_discard_seg){.sector = 0, .num_sectors = 8, .flags = 1};
	CHECK_EQ(discard_rq(&e, VIRTIO_BLK_T_DISCARD, segs, 1, 16), VIRTIO_BLK_S_UNSUPP);
	segs[0].flags = 0x80;
	CHECK_EQ(discard_rq(&e, VIRTIO_BLK_T_DISCARD, segs, 1, 16), VIRTIO_BLK_S_UNSUPP);
	/* A bad segment after a good one: nothing is done (checked first). */
	segs[0] = (struct virtio_blk_discard_seg){.sector = 0, .num_sectors = 8};
	segs[1] = (struct virtio_blk_discard_seg){.sector = CAPACITY - 4, .num_sectors = 8};
	CHECK_EQ(discard_rq(&e, VIRTIO_BLK_T_DISCARD, segs, 2, 32), VIRTIO_BLK_S_IOERR);
	segs[1] = (struct virtio_blk_discard_seg){.sector = UINT64_MAX - 2, .num_sectors = 8};
	CHECK_EQ(discard_rq(&e, VIRTIO_BLK_T_DISCARD, segs, 2, 32), VIRTIO_BLK_S_IOERR);
	check_file_pattern(&e, 0, 4096, 1);
	/* num_seg: zero, not a whole segment, more than max_discard_seg. */
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_DISCARD, 0, 0, 0, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(discard_rq(&e, VIRTIO_BLK_T_DISCARD, segs, 1, 12), VIRTIO_BLK_S_IOERR);
	for (unsigned i = 0; i <= VIRTIO_BLK_MAX_DISCARD_SEG; i++)
		segs[i] = (struct virtio_blk_discard_seg){.sector = i * 8, .num_sectors = 8};
	CHECK_EQ(discard_rq(&e, VIRTIO_BLK_T_DISCARD, segs, VIRTIO_BLK_MAX_DISCARD_SEG + 1,
			    16 * (VIRTIO_BLK_MAX_DISCARD_SEG + 1)),
		 VIRTIO_BLK_S_IOERR);
	check_file_pattern(&e, 0, 4096, 1);

	/* Write-zeroes, with and without UNMAP; unknown flags refused. */
	segs[0] = (struct virtio_blk_discard_seg){.sector = 1024, .num_sectors = 16, .flags = 0};
	segs[1] = (struct virtio_blk_discard_seg){.sector = 1536, .num_sectors = 16, .flags = 1};
	CHECK_EQ(discard_rq(&e, VIRTIO_BLK_T_WRITE_ZEROES, segs, 2, 32), VIRTIO_BLK_S_OK);
	CHECK(read_file(e.path, 1024 * 512, buf, 8192) == 0);
	CHECK(read_file(e.path, 1536 * 512, buf + 8192, 8192) == 0);
	nz = 0;
	for (unsigned i = 0; i < 16384; i++)
		nz += buf[i] != 0;
	CHECK_EQ(nz, 0);
	check_file_pattern(&e, 1040 * 512, 512, 1);
	segs[0].flags = 2;
	CHECK_EQ(discard_rq(&e, VIRTIO_BLK_T_WRITE_ZEROES, segs, 1, 16), VIRTIO_BLK_S_UNSUPP);

	/* A second writer on the same image is refused while the device has it. */
	struct disk d;
	char err[128];
	CHECK(disk_open(&d, e.path, false, false, err, sizeof(err)) == -EBUSY); /* locked */
	env_stop(&e);
	free(buf);
}

TEST(test_flush)
{
	struct env e;
	uint32_t used = 0;
	uint8_t *data;
	int fd;

	for (int fallback = 0; fallback < 2; fallback++) {
		if (fallback)
			setenv("ARCVMM_DISK_NO_URING", "1", 1);
		CHECK(env_start(&e, NULL, false, false, 1, WANT_ALL) == 0);
		data = simdrv_ptr(&e.sd, e.data_gpa);
		memset(data, 0x44, 8192);
		/* Several writes in flight, then a flush in the same batch: the flush must only
		 * complete after the writes, and the data must be in the file (read with
		 * O_DIRECT, around the page cache). */
		struct simdrv_buf bufs[4][3];
		uint64_t hdrs = simdrv_alloc(&e.sd, 4096, 4096);
		uint64_t sts = simdrv_alloc(&e.sd, 4096, 4096);
		int flush_head = -1;
		for (unsigned i = 0; i < 4; i++) {
			struct virtio_blk_req_hdr h = {.type = i < 3 ? VIRTIO_BLK_T_OUT
								     : VIRTIO_BLK_T_FLUSH,
						       .sector = 16 * i};
			memcpy(simdrv_ptr(&e.sd, hdrs + 16 * i), &h, 16);
			bufs[i][0] = (struct simdrv_buf){hdrs + 16 * i, 16, false};
			bufs[i][1] = (struct simdrv_buf){e.data_gpa, 8192, false};
			bufs[i][2] = (struct simdrv_buf){sts + i, 1, true};
			*(uint8_t *)simdrv_ptr(&e.sd, sts + i) = NO_STATUS;
			if (i < 3)
				simq_add(&e.sd.q[0], bufs[i], 3);
			else
				flush_head = simq_add(
				    &e.sd.q[0], (struct simdrv_buf[]){bufs[i][0], bufs[i][2]}, 2);
		}
		simdrv_kick(&e.sd, 0, false);
		unsigned got = 0, flush_pos = 99;
		uint32_t id;
		while (got < 4 && simdrv_wait_used(&e.sd, 0, &id, &used, WAIT_MS)) {
			if ((int)id == flush_head)
				flush_pos = got; /* its place in completion order */
			got++;
		}
		CHECK_EQ(got, 4);
		CHECK_EQ(flush_pos, 3);
		for (unsigned i = 0; i < 4; i++)
			CHECK_EQ(*(uint8_t *)simdrv_ptr(&e.sd, sts + i), VIRTIO_BLK_S_OK);
		void *al = aligned_alloc(4096, 8192 * 3);
		fd = open(e.path, O_RDONLY | O_DIRECT);
		CHECK(fd >= 0);
		CHECK_EQ(pread(fd, al, 8192 * 3, 0), 8192 * 3);
		size_t bad = 0;
		for (unsigned i = 0; i < 8192 * 3; i++)
			bad += ((uint8_t *)al)[i] != 0x44;
		CHECK_EQ(bad, 0);
		close(fd);
		free(al);
		env_stop(&e);
		unsetenv("ARCVMM_DISK_NO_URING");
	}
}

static void drop_io(struct disk_io *io, void *arg)
{
	(void)io;
	(void)arg;
}

/* The disk backend's own paths, straight. */
TEST(test_disk_backend)
{
	char path[160], err[128];
	struct disk d;
	struct disk_queue q;
	uint8_t buf[4096];

	test_snprintf(path, sizeof(path), "%s/arcvmm-disk-%d.img", test_dir(), (int)getpid());
	for (int fallback = 0; fallback < 2; fallback++) {
		fill_file(path, 1 << 20, 3);
		if (fallback)
			setenv("ARCVMM_DISK_NO_URING", "1", 1);
		int r = disk_open(&d, path, false, false, err, sizeof(err));
		CHECK_EQ(r, 0);
		if (r)
			printf("  %s\n", err);
		CHECK_EQ(d.has_uring, !fallback);
		CHECK(disk_queue_init(&q, &d, 4) == 0);
		CHECK_EQ(disk_queue_fd(&q) >= 0, !fallback);
		struct disk_io ios[5];
		struct iovec iov[4];
		for (unsigned i = 0; i < 4; i++) {
			iov[i] = (struct iovec){buf + 1024 * i, 1024};
			ios[i] = (struct disk_io){.op = DISK_OP_READ,
						  .offset = 4096 * i,
						  .iov = &iov[i],
						  .iovcnt = 1,
						  .len = 1024};
			CHECK(disk_queue_add(&q, &ios[i]) == 0);
		}
		ios[4] = (struct disk_io){.op = DISK_OP_FLUSH};
		CHECK_EQ(disk_queue_add(&q, &ios[4]), -EBUSY); /* depth 4 */
		CHECK(disk_queue_submit(&q) == 0);
		unsigned n = 0;
		while (disk_queue_inflight(&q)) {
			unsigned k = disk_queue_reap(&q, true, drop_io, NULL);
			if (!k)
				break;
			n += k;
		}
		CHECK_EQ(n, 4);
		for (unsigned i = 0; i < 4; i++) {
			CHECK_EQ(ios[i].result, 1024);
			CHECK_EQ(buf[1024 * i + 5], pattern(4096 * i + 5, 3));
		}
		CHECK(disk_write_zeroes(&d, 8192, 4096, false) == 0);
		CHECK(read_file(path, 8192, buf, 4096) == 0);
		CHECK_EQ(buf[0] | buf[4095], 0);
		CHECK(disk_discard(&d, 0, 4096) == 0);
		CHECK(read_file(path, 0, buf, 4096) == 0);
		CHECK_EQ(buf[0] | buf[4095], 0);
		disk_queue_fini(&q);
		disk_close(&d);
		unsetenv("ARCVMM_DISK_NO_URING");
	}
	unlink(path);
}

/* A host write error (ENOSPC on a full file system) reaches the driver as IOERR, and the
 * device goes on serving what the host can do. Needs root for a small tmpfs; else skipped. */
static void host_write_error(void)
{
	char dir[] = "/tmp/arcvmm-blkfull-XXXXXX", path[64];
	struct env e;
	uint32_t used = 0;
	int fd;

	if (!mkdtemp(dir))
		return;
	if (mount("tmpfs", dir, "tmpfs", 0, "size=128k") < 0) {
		printf("  (skipped: cannot mount a small tmpfs: %s)\n", strerror(errno));
		rmdir(dir);
		return;
	}
	test_snprintf(path, sizeof(path), "%s/full.img", dir);
	fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(ftruncate(fd, DISK_SIZE) == 0); /* sparse: writes need space the fs lacks */
	close(fd);
	env_image = path;
	CHECK(env_start(&e, NULL, false, false, 1, WANT_ALL) == 0);
	env_image = NULL;
	memset(simdrv_ptr(&e.sd, e.data_gpa), 0x77, 1 << 20);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_OUT, 0, e.data_gpa, 1 << 20, &used), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(used, 1);
	CHECK_EQ(rq(&e, 0, VIRTIO_BLK_T_IN, 4096, e.data_gpa, 4096, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(*(uint8_t *)simdrv_ptr(&e.sd, e.data_gpa), 0); /* a hole reads as zeros */
	struct virtio_blk_stats st;
	virtio_blk_get_stats(e.b, &st);
	CHECK(st.nr_errors >= 1);
	env_stop(&e); /* unlinks the image */
	umount(dir);
	rmdir(dir);
}

TEST(test_host_write_error)
{
	host_write_error();
	setenv("ARCVMM_DISK_NO_URING", "1", 1);
	host_write_error();
	unsetenv("ARCVMM_DISK_NO_URING");
}

/* Many requests in flight on several queues, random reads and writes, checked against a
 * shadow copy of the disk. */
static void random_run(unsigned nq, bool direct)
{
	struct env e;
	uint8_t *shadow = malloc(DISK_SIZE);
	unsigned seed = 12345;
	const unsigned per_batch = 24, batches = 30;

	CHECK(env_start(&e, NULL, false, direct, nq, WANT_ALL) == 0);
	CHECK(read_file(e.path, 0, shadow, DISK_SIZE) == 0);
	uint64_t hdrs = simdrv_alloc(&e.sd, 16 * per_batch * nq, 4096);
	uint64_t sts = simdrv_alloc(&e.sd, per_batch * nq, 64);
	uint64_t bufs = simdrv_alloc(&e.sd, (uint64_t)per_batch * nq * 16384, 4096);
	CHECK(hdrs && sts && bufs);
	for (unsigned b = 0; b < batches; b++) {
		struct {
			uint32_t type;
			uint64_t sector;
			uint32_t len;
		} rqs[16][24];
		/* Writes in one batch never overlap anything else in the batch. */
		uint64_t used_sec[16 * 24][2];
		unsigned nused = 0;
		for (unsigned qi = 0; qi < nq; qi++) {
			for (unsigned i = 0; i < per_batch; i++) {
				unsigned k = qi * per_batch + i;
				uint64_t gpa = bufs + (uint64_t)k * 16384;
				uint32_t len;
				uint64_t sector;
				bool ok;
				do {
					seed = seed * 1103515245 + 12345;
					len = 512 * (1 + (seed >> 8) % 32);
					seed = seed * 1103515245 + 12345;
					sector = (seed >> 4) % (CAPACITY - len / 512);
					ok = true;
					for (unsigned u = 0; u < nused; u++)
						if (sector < used_sec[u][1] &&
						    used_sec[u][0] < sector + len / 512)
							ok = false;
				} while (!ok);
				used_sec[nused][0] = sector;
				used_sec[nused][1] = sector + len / 512;
				nused++;
				uint32_t type =
				    (seed >> 20) & 1 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
				rqs[qi][i].type = type;
				rqs[qi][i].sector = sector;
				rqs[qi][i].len = len;
				struct virtio_blk_req_hdr h = {.type = type, .sector = sector};
				memcpy(simdrv_ptr(&e.sd, hdrs + 16 * k), &h, 16);
				uint8_t *d = simdrv_ptr(&e.sd, gpa);
				if (type == VIRTIO_BLK_T_OUT) {
					for (uint32_t x = 0; x < len; x++)
						d[x] = (uint8_t)(seed + x * 31 + b);
					memcpy(shadow + sector * 512, d, len);
				} else {
					memset(d, 0xcc, len);
				}
				*(uint8_t *)simdrv_ptr(&e.sd, sts + k) = NO_STATUS;
				struct simdrv_buf c[3] = {{hdrs + 16 * k, 16, false},
							  {gpa, len, type == VIRTIO_BLK_T_IN},
							  {sts + k, 1, true}};
				CHECK(simq_add(&e.sd.q[qi], c, 3) >= 0);
			}
			simdrv_kick(&e.sd, qi, false);
		}
		for (unsigned qi = 0; qi < nq; qi++) {
			unsigned got = 0;
			uint32_t id, len;
			while (got < per_batch && simdrv_wait_used(&e.sd, qi, &id, &len, WAIT_MS))
				got++;
			CHECK_EQ(got, per_batch);
		}
		size_t bad = 0, badst = 0;
		for (unsigned qi = 0; qi < nq; qi++) {
			for (unsigned i = 0; i < per_batch; i++) {
				unsigned k = qi * per_batch + i;
				badst += *(uint8_t *)simdrv_ptr(&e.sd, sts + k) != VIRTIO_BLK_S_OK;
				if (rqs[qi][i].type == VIRTIO_BLK_T_IN)
					bad += memcmp(simdrv_ptr(&e.sd, bufs + (uint64_t)k * 16384),
						      shadow + rqs[qi][i].sector * 512,
						      rqs[qi][i].len) != 0;
			}
		}
		CHECK_EQ(badst, 0);
		CHECK_EQ(bad, 0);
	}
	/* Power-off: the host file equals the shadow. */
	uint8_t *file = malloc(DISK_SIZE);
	CHECK(read_file(e.path, 0, file, DISK_SIZE) == 0);
	CHECK(memcmp(file, shadow, DISK_SIZE) == 0);
	free(file);
	env_stop(&e);
	free(shadow);
}

TEST(test_random_uring)
{
	random_run(1, false);
	random_run(3, false);
	random_run(2, true);
}

TEST(test_random_fallback)
{
	setenv("ARCVMM_DISK_NO_URING", "1", 1);
	random_run(1, false);
	random_run(2, true);
	unsetenv("ARCVMM_DISK_NO_URING");
}

/* Pause with requests in flight: when pause returns, all of them are done (nobody writes
 * guest memory while paused); resume goes on. Then reset with requests in flight. */
TEST(test_pause_reset)
{
	struct env e;
	uint32_t used = 0, id;

	CHECK(env_start(&e, NULL, false, false, 1, WANT_ALL) == 0);
	uint64_t hdr = simdrv_alloc(&e.sd, 16 * 64, 64), sts = simdrv_alloc(&e.sd, 64, 64);
	for (unsigned i = 0; i < 64; i++) {
		struct virtio_blk_req_hdr h = {.type = VIRTIO_BLK_T_IN, .sector = 64 * i};
		memcpy(simdrv_ptr(&e.sd, hdr + 16 * i), &h, 16);
		struct simdrv_buf c[3] = {{hdr + 16 * i, 16, false},
					  {e.data_gpa + 16384 * i, 16384, true},
					  {sts + i, 1, true}};
		*(uint8_t *)simdrv_ptr(&e.sd, sts + i) = NO_STATUS;
		simq_add(&e.sd.q[0], c, 3);
	}
	simdrv_kick(&e.sd, 0, false);
	CHECK(virtio_mmio_pause(e.sd.t) == 0);
	/* Everything popped before the pause is complete now: nothing in flight. */
	CHECK_EQ(virtio_mmio_queue(e.sd.t, 0)->nr_inflight, 0);
	CHECK(virtio_mmio_resume(e.sd.t) == 0);
	unsigned got = 0;
	while (got < 64 && simdrv_wait_used(&e.sd, 0, &id, &used, WAIT_MS))
		got++;
	CHECK_EQ(got, 64);
	size_t bad = 0;
	for (unsigned i = 0; i < 64; i++)
		bad += *(uint8_t *)simdrv_ptr(&e.sd, sts + i) != VIRTIO_BLK_S_OK;
	CHECK_EQ(bad, 0);

	/* Reset in the middle of a burst: no crash, no hang; the device starts again. */
	for (unsigned i = 0; i < 32; i++) {
		struct simdrv_buf c[3] = {{hdr + 16 * i, 16, false},
					  {e.data_gpa + 16384 * i, 16384, true},
					  {sts + i, 1, true}};
		simq_add(&e.sd.q[0], c, 3);
	}
	simdrv_kick(&e.sd, 0, false);
	simdrv_write32(&e.sd, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(virtio_mmio_status(e.sd.t), 0);
	struct virtio_mmio *t = e.sd.t;
	e.sd.t = NULL;
	virtio_mmio_destroy(t); /* frees the device too */
	simdrv_fini(&e.sd);
	unlink(e.path);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "pause")) {
		RUN(test_pause_reset);
		return test_summary();
	}
	RUN(test_create_errors);
	RUN(test_config_space);
	RUN(test_rw_uring);
	RUN(test_rw_uring_no_event_idx);
	RUN(test_rw_uring_direct);
	RUN(test_rw_fallback);
	RUN(test_odd_layouts);
	RUN(test_hostile_chains);
	RUN(test_broken_ring);
	RUN(test_read_only);
	RUN(test_get_id);
	RUN(test_discard_write_zeroes);
	RUN(test_flush);
	RUN(test_disk_backend);
	RUN(test_host_write_error);
	RUN(test_random_uring);
	RUN(test_random_fallback);
	RUN(test_pause_reset);
	return test_summary();
}

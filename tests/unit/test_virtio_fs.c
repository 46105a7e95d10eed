/* tests/unit/test_virtio_fs.c — virtio-fs with a simulated driver (bench/blk/simdrv.h), no
 * KVM: config space, FUSE requests through the request queues and the hiprio queue,
 * parallel request queues, pause/resume, reset dropping the share's nodes, malformed
 * chains, bad configurations.
 *
 * Trusts: the transport, queue and worker code, and the FUSE server (own tests).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/blk/simdrv.h"
#include "devices/virtio_fs.h"
#include "tests/unit/test.h"

#define RAM_SIZE (16ULL << 20)
#define WAIT_MS	 3000
#define QSIZE	 64

static char root[64];

struct env {
	struct simdrv sd;
	struct virtio_fs *fs;
	uint64_t unique;
};

static int env_start(struct env *e, unsigned queues)
{
	struct virtio_fs_config c = {.path = root, .nr_queues = queues};
	char err[256];

	memset(e, 0, sizeof(*e));
	snprintf(c.tag, sizeof(c.tag), "share0");
	if (simdrv_init(&e->sd, RAM_SIZE) < 0)
		return -1;
	e->fs = virtio_fs_create(&c, err, sizeof(err));
	if (!e->fs) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	return simdrv_start(&e->sd, &virtio_fs_ops, e->fs, 1 + (queues ? queues : 1), QSIZE, ~0ULL);
}

/* Posts one request (header + args in two readable buffers) with `out_cap` bytes of reply
 * space on queue qi; does not wait. Returns the gpa of the reply space. */
static uint64_t post(struct env *e, unsigned qi, uint32_t op, uint64_t nodeid, const void *args,
		     size_t alen, size_t out_cap, int32_t len_delta)
{
	struct fuse_in_header h = {.len = (uint32_t)((int32_t)(sizeof(h) + alen) + len_delta),
				   .opcode = op,
				   .unique = ++e->unique,
				   .nodeid = nodeid};
	uint64_t hg = simdrv_alloc(&e->sd, sizeof(h), 8);
	uint64_t ag = simdrv_alloc(&e->sd, alen ? alen : 1, 8);
	uint64_t og = out_cap ? simdrv_alloc(&e->sd, out_cap, 8) : 0;
	struct simdrv_buf b[3] = {
	    {hg, sizeof(h), false}, {ag, (uint32_t)alen, false}, {og, (uint32_t)out_cap, true}};
	unsigned n = 0;
	struct simdrv_buf use[3];

	memcpy(simdrv_ptr(&e->sd, hg), &h, sizeof(h));
	if (alen)
		memcpy(simdrv_ptr(&e->sd, ag), args, alen);
	use[n++] = b[0];
	if (alen)
		use[n++] = b[1];
	if (out_cap)
		use[n++] = b[2];
	CHECK(simq_add(&e->sd.q[qi], use, n) >= 0);
	return og;
}

/* Posts, kicks and waits. Returns the used length (or -1 on timeout); *oh = reply header. */
static long request(struct env *e, unsigned qi, uint32_t op, uint64_t nodeid, const void *args,
		    size_t alen, size_t out_cap, struct fuse_out_header *oh, void **payload)
{
	uint64_t og = post(e, qi, op, nodeid, args, alen, out_cap, 0);
	uint32_t id, len;

	simdrv_kick(&e->sd, qi, false);
	if (!simdrv_wait_used(&e->sd, qi, &id, &len, WAIT_MS))
		return -1;
	if (oh && len >= sizeof(*oh))
		memcpy(oh, simdrv_ptr(&e->sd, og), sizeof(*oh));
	if (payload)
		*payload = (uint8_t *)simdrv_ptr(&e->sd, og) + sizeof(*oh);
	return len;
}

static void do_init(struct env *e, unsigned qi)
{
	struct fuse_init_in in = {.major = 7, .minor = 38, .flags = FUSE_MAX_PAGES};
	struct fuse_out_header oh = {0};
	void *p;

	CHECK_EQ(request(e, qi, FUSE_INIT, 0, &in, sizeof(in), 256, &oh, &p),
		 sizeof(oh) + sizeof(struct fuse_init_out));
	CHECK_EQ(oh.error, 0);
	CHECK_EQ(((struct fuse_init_out *)p)->minor, 38);
}

TEST(test_config_space)
{
	struct env e;
	struct virtio_fs_config_space cs;

	CHECK(env_start(&e, 3) == 0);
	CHECK_EQ(simdrv_read32(&e.sd, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_FS);
	for (unsigned i = 0; i < sizeof(cs); i += 4)
		simdrv_config_read(&e.sd, i, (uint8_t *)&cs + i, 4);
	CHECK(!memcmp(cs.tag, "share0\0\0", 8));
	CHECK_EQ(cs.num_request_queues, 3);
	uint32_t past = 0xffffffff;
	simdrv_config_read(&e.sd, 40, &past, 4);
	CHECK_EQ(past, 0);
	/* hiprio + 3 queues; a fifth does not exist. */
	simdrv_write32(&e.sd, VIRTIO_MMIO_QUEUE_SEL, 3);
	CHECK(simdrv_read32(&e.sd, VIRTIO_MMIO_QUEUE_NUM_MAX) > 0);
	simdrv_write32(&e.sd, VIRTIO_MMIO_QUEUE_SEL, 4);
	CHECK_EQ(simdrv_read32(&e.sd, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	CHECK_EQ(virtio_fs_ops.save(e.fs, NULL, 0), -ENOSPC);
	simdrv_fini(&e.sd);
}

TEST(test_requests)
{
	struct env e;
	struct fuse_out_header oh;
	void *p;

	CHECK(env_start(&e, 1) == 0);
	do_init(&e, 1);
	CHECK(request(&e, 1, FUSE_LOOKUP, 1, "hello", 6, 512, &oh, &p) > 0);
	CHECK_EQ(oh.error, 0);
	uint64_t node = ((struct fuse_entry_out *)p)->nodeid;
	CHECK_EQ(((struct fuse_entry_out *)p)->attr.size, 3);
	/* Open and read through the device. */
	struct fuse_open_in oi = {.flags = O_RDONLY};
	CHECK(request(&e, 1, FUSE_OPEN, node, &oi, sizeof(oi), 256, &oh, &p) > 0);
	CHECK_EQ(oh.error, 0);
	uint64_t fh = ((struct fuse_open_out *)p)->fh;
	struct fuse_read_in ri = {.fh = fh, .size = 100};
	CHECK_EQ(request(&e, 1, FUSE_READ, node, &ri, sizeof(ri), 4096, &oh, &p), 16 + 3);
	CHECK(!memcmp(p, "hi\n", 3));
	/* FORGET on the hiprio queue: a chain with no writable part, used length 0. */
	struct fuse_forget_in fi = {.nlookup = 1};
	CHECK_EQ(request(&e, 0, FUSE_FORGET, node, &fi, sizeof(fi), 0, NULL, NULL), 0);
	struct fuse_share_stats st;
	fuse_share_get_stats(virtio_fs_share(e.fs), &st);
	CHECK_EQ(st.nr_nodes, 1);
	CHECK_EQ(st.nr_handles, 1);
	/* Malformed: header len past the chain, no reply room, unknown opcode. */
	uint64_t og = post(&e, 1, FUSE_GETATTR, 1, "x", 1, 64, 1000);
	uint32_t id, len;
	simdrv_kick(&e.sd, 1, false);
	CHECK(simdrv_wait_used(&e.sd, 1, &id, &len, WAIT_MS));
	CHECK_EQ(len, 16);
	CHECK_EQ(((struct fuse_out_header *)simdrv_ptr(&e.sd, og))->error, -EINVAL);
	struct fuse_getattr_in gi = {0};
	CHECK_EQ(request(&e, 1, FUSE_GETATTR, 1, &gi, sizeof(gi), 0, NULL, NULL), 0);
	CHECK_EQ(request(&e, 1, 4242, 1, &gi, sizeof(gi), 64, &oh, NULL), 16);
	CHECK_EQ(oh.error, -ENOSYS);
	CHECK(!(simdrv_read32(&e.sd, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	/* Device reset drops every node and handle. */
	simdrv_write32(&e.sd, VIRTIO_MMIO_STATUS, 0);
	fuse_share_get_stats(virtio_fs_share(e.fs), &st);
	CHECK_EQ(st.nr_nodes, 1);
	CHECK_EQ(st.nr_handles, 0);
	simdrv_fini(&e.sd);
}

TEST(test_parallel_queues_and_pause)
{
	struct env e;
	uint32_t id, len;
	uint64_t og[4];

	CHECK(env_start(&e, 4) == 0);
	do_init(&e, 1);
	/* One request on each of the four request queues at once. */
	for (unsigned q = 1; q <= 4; q++) {
		struct fuse_getattr_in gi = {0};
		og[q - 1] = post(&e, q, FUSE_GETATTR, 1, &gi, sizeof(gi), 256, 0);
		simdrv_kick(&e.sd, q, false);
	}
	for (unsigned q = 1; q <= 4; q++) {
		CHECK(simdrv_wait_used(&e.sd, q, &id, &len, WAIT_MS));
		CHECK_EQ(len, 16 + sizeof(struct fuse_attr_out));
		CHECK_EQ(((struct fuse_out_header *)simdrv_ptr(&e.sd, og[q - 1]))->error, 0);
	}
	/* The per-queue counters (the metrics' "queue_requests") saw each request queue. */
	uint64_t qr[8];
	CHECK_EQ(virtio_fs_queue_requests(e.fs, qr, 8), 5);
	for (unsigned q = 1; q <= 4; q++)
		CHECK(qr[q] >= 1);
	CHECK_EQ(virtio_fs_queue_requests(e.fs, qr, 2), 2);
	/* Paused: a kick is not served until resume. */
	CHECK_EQ(virtio_mmio_pause(e.sd.t), 0);
	struct fuse_getattr_in gi = {0};
	post(&e, 2, FUSE_GETATTR, 1, &gi, sizeof(gi), 256, 0);
	simdrv_kick(&e.sd, 2, true);
	usleep(200 * 1000);
	CHECK_EQ(simq_get_used(&e.sd.q[2], &id, &len), 0);
	CHECK_EQ(virtio_mmio_resume(e.sd.t), 0);
	CHECK(simdrv_wait_used(&e.sd, 2, &id, &len, WAIT_MS));
	CHECK_EQ(len, 16 + sizeof(struct fuse_attr_out));
	simdrv_fini(&e.sd);
}

TEST(test_bad_config)
{
	struct virtio_fs_config c = {.path = root};
	char err[256];

	CHECK(virtio_fs_create(&c, err, sizeof(err)) == NULL); /* empty tag */
	memset(c.tag, 'a', VIRTIO_FS_TAG_MAX);
	c.nr_queues = VIRTIO_FS_MAX_REQUEST_QUEUES + 1;
	CHECK(virtio_fs_create(&c, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "queues") != NULL);
	c.nr_queues = VIRTIO_FS_MAX_REQUEST_QUEUES;
	struct virtio_fs *f = virtio_fs_create(&c, err, sizeof(err)); /* a 36-byte tag is fine */
	CHECK(f != NULL);
	if (f)
		virtio_fs_ops.destroy(f);
	c.path = "/nonexistent";
	CHECK(virtio_fs_create(&c, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "does not exist") != NULL);
}

int main(void)
{
	char tmpl[] = "/tmp/arcvmm-vfs-XXXXXX", cmd[128];

	if (!mkdtemp(tmpl))
		return 1;
	test_snprintf(root, sizeof(root), "%s", tmpl);
	test_snprintf(cmd, sizeof(cmd), "echo hi > %s/hello", tmpl);
	if (system(cmd) != 0)
		return 1;
	RUN(test_config_space);
	RUN(test_requests);
	RUN(test_parallel_queues_and_pause);
	RUN(test_bad_config);
	test_snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	if (system(cmd) != 0)
		return 1;
	return test_summary();
}

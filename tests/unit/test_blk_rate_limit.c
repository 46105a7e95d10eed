/* tests/unit/test_blk_rate_limit.c — virtio-blk with a rate limiter, driven in-process by
 * the simulated driver (bench/blk/simdrv.h) with 8 reads of 64 KiB always in flight:
 *   - a 10 MiB/s bandwidth limit holds within 10% over 10 s (ARCVMM_RL_TEST_SECONDS
 *     changes the length), every request completes OK (delayed, never failed), and the
 *     limiter did throttle;
 *   - an ops limit (200 requests/s) holds the same way;
 *   - virtio_blk_set_rate_limiter() at run time lifts the limit (the throttled queue goes
 *     on at once) and puts a new one in place.
 * The limits are far below what this machine does unthrottled (hundreds of MiB/s through
 * the page cache), so a slow machine cannot make these fail from below.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bench/blk/simdrv.h"
#include "devices/virtio_blk.h"
#include "tests/unit/test.h"

#define QSIZE	  64
#define DEPTH	  8
#define BS	  65536
#define DISK_SIZE (64ULL << 20)

struct rig {
	struct simdrv sd;
	struct virtio_blk *b;
	char path[64];
	uint64_t hdr[DEPTH], data[DEPTH], status[DEPTH];
	uint16_t slot_of[QSIZE];
	uint64_t next_off;
	unsigned inflight;
	uint64_t bytes, ops, errors;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double test_seconds(void)
{
	const char *s = getenv("ARCVMM_RL_TEST_SECONDS");
	double v = s ? atof(s) : 10;
	return v > 0 ? v : 10;
}

static void submit(struct rig *g, unsigned i)
{
	struct virtio_blk_req_hdr h = {.type = VIRTIO_BLK_T_IN, .sector = g->next_off / 512};
	struct simdrv_buf bufs[3] = {
	    {g->hdr[i], 16, false}, {g->data[i], BS, true}, {g->status[i], 1, true}};

	g->next_off = (g->next_off + BS) % DISK_SIZE;
	memcpy(simdrv_ptr(&g->sd, g->hdr[i]), &h, sizeof(h));
	*(uint8_t *)simdrv_ptr(&g->sd, g->status[i]) = 0xff;
	int head = simq_add(&g->sd.q[0], bufs, 3);
	if (head >= 0 && head < QSIZE) {
		g->slot_of[head] = (uint16_t)i;
		g->inflight++;
	}
}

static int rig_start(struct rig *g, const struct rate_limiter_config *rl)
{
	struct vm_disk_config cfg = {.nr_queues = 1};
	char err[256];
	const char *dir = getenv("ARCVMM_TEST_DIR");

	memset(g, 0, sizeof(*g));
	test_snprintf(g->path, sizeof(g->path), "%s/arcvmm-rl-XXXXXX",
		      dir && *dir ? dir : "/var/tmp");
	int fd = mkstemp(g->path);
	if (fd < 0 || ftruncate(fd, (off_t)DISK_SIZE) < 0)
		return -1;
	close(fd);
	cfg.path = g->path;
	if (rl)
		cfg.rate_limiter = *rl;
	if (simdrv_init(&g->sd, 4 << 20) < 0)
		return -1;
	g->b = virtio_blk_create(&g->sd.mem, &cfg, err, sizeof(err));
	if (!g->b || simdrv_start(&g->sd, &virtio_blk_ops, g->b, 1, QSIZE, ~0ULL) < 0)
		return -1;
	for (unsigned i = 0; i < DEPTH; i++) {
		g->hdr[i] = simdrv_alloc(&g->sd, 16, 16);
		g->status[i] = simdrv_alloc(&g->sd, 1, 1);
		g->data[i] = simdrv_alloc(&g->sd, BS, 4096);
		submit(g, i);
	}
	simdrv_kick(&g->sd, 0, true);
	return 0;
}

/* Keeps DEPTH reads in flight for seconds; returns the bytes completed per second. */
static double rig_run(struct rig *g, double seconds)
{
	uint64_t bytes0 = g->bytes;
	double t0 = now_s(), t;

	while ((t = now_s()) - t0 < seconds) {
		uint32_t id, len;
		unsigned n = 0;
		while (simq_get_used(&g->sd.q[0], &id, &len)) {
			unsigned i = id < QSIZE ? g->slot_of[id] : 0;
			g->inflight--;
			g->ops++;
			n++;
			if (*(uint8_t *)simdrv_ptr(&g->sd, g->status[i]) != VIRTIO_BLK_S_OK ||
			    len != BS + 1)
				g->errors++;
			else
				g->bytes += BS;
			submit(g, i);
		}
		if (n)
			simdrv_kick(&g->sd, 0, false);
		else
			simdrv_wait_irq(&g->sd, 20);
	}
	return (double)(g->bytes - bytes0) / (now_s() - t0);
}

static void rig_stop(struct rig *g)
{
	simdrv_fini(&g->sd); /* destroys the device through the transport */
	unlink(g->path);
}

TEST(bandwidth_limit_holds)
{
	/* 10 MiB/s with a 1 MiB bucket: the start-up credit is 1% of 10 s. */
	struct rate_limiter_config rl = {.bandwidth = {.size = 1 << 20, .refill_time_ms = 100}};
	struct rig g;
	double want = 10.0 * (1 << 20), secs = test_seconds();

	CHECK_EQ(rig_start(&g, &rl), 0);
	double rate = rig_run(&g, secs);
	printf("     bandwidth: %.2f MiB/s over %.0f s (limit 10 MiB/s), %llu throttles\n",
	       rate / (1 << 20), secs, (unsigned long long)virtio_blk_nr_throttled(g.b));
	CHECK(rate >= want * 0.9 && rate <= want * 1.1);
	CHECK_EQ(g.errors, 0);
	CHECK(virtio_blk_nr_throttled(g.b) > 0);
	rig_stop(&g);
}

TEST(ops_limit_holds)
{
	struct rate_limiter_config rl = {.ops = {.size = 20, .refill_time_ms = 100}};
	struct rig g;
	double secs = test_seconds() / 2;

	CHECK_EQ(rig_start(&g, &rl), 0);
	uint64_t ops0 = g.ops;
	double t0 = now_s();
	rig_run(&g, secs);
	double iops = (double)(g.ops - ops0) / (now_s() - t0);
	printf("     ops: %.1f requests/s over %.0f s (limit 200/s)\n", iops, secs);
	CHECK(iops >= 180 && iops <= 220);
	CHECK_EQ(g.errors, 0);
	rig_stop(&g);
}

TEST(limit_changes_at_run_time)
{
	struct rate_limiter_config slow = {.bandwidth = {.size = 64 << 10, .refill_time_ms = 100}};
	struct rate_limiter_config none = {0};
	struct rate_limiter_config mid = {.bandwidth = {.size = 1 << 20, .refill_time_ms = 100}};
	struct rig g;

	CHECK_EQ(rig_start(&g, &slow), 0);
	double r_slow = rig_run(&g, 1); /* 640 KiB/s */
	CHECK_EQ(virtio_blk_set_rate_limiter(g.b, &none), 0);
	double r_none = rig_run(&g, 1);
	CHECK_EQ(virtio_blk_set_rate_limiter(g.b, &mid), 0);
	rig_run(&g, 0.5);	       /* the old pipeline drains */
	double r_mid = rig_run(&g, 2); /* 10 MiB/s */
	printf("     640 KiB/s: %.2f MiB/s; none: %.1f MiB/s; 10 MiB/s: %.2f MiB/s\n",
	       r_slow / (1 << 20), r_none / (1 << 20), r_mid / (1 << 20));
	CHECK(r_slow <= 640.0 * 1024 * 1.25);
	CHECK(r_none > 3 * r_slow); /* unthrottled at once */
	CHECK(r_mid >= 10.0 * (1 << 20) * 0.85 && r_mid <= 10.0 * (1 << 20) * 1.15);
	CHECK_EQ(g.errors, 0);
	rig_stop(&g);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN(bandwidth_limit_holds);
	RUN(ops_limit_holds);
	RUN(limit_changes_at_run_time);
	return test_summary();
}

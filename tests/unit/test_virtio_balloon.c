/* tests/unit/test_virtio_balloon.c — virtio-balloon against a simulated driver, no KVM.
 *
 * Guest RAM is a real memfd (guest_mem_init, with a hole like the x86 MMIO window) so the
 * tests can see the host really get memory back: the memfd's allocated blocks (st_blocks)
 * must fall after an inflate or a free page report. The driver side is bench/blk/simdrv.h
 * (the real virtio-mmio transport, rings in guest RAM, kicks on the notify eventfds).
 * Covers: features and config space, target changes with the config interrupt, inflate,
 * deflate, statistics (buffer held and handed back on the polling timer), free page
 * reporting, hostile PFNs (past RAM, in the hole, straddling, huge buffers), the spec
 * parser and the control-plane errors Firecracker answers with 400.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/blk/simdrv.h"
#include "devices/virtio_balloon.h"
#include "tests/unit/test.h"

#define MIB	  (1ULL << 20)
#define RAM_SIZE  (32 * MIB)
#define HOLE_LO	  (16 * MIB)
#define HOLE_HI	  (20 * MIB)
#define WAIT_MS	  3000
#define PAGE	  4096ULL
#define WANT_ALL  (~0ULL)
#define FILL_BYTE 0xa5

struct env {
	struct simdrv sd;
	struct virtio_balloon *b;
	uint64_t buf_gpa; /* 64 KiB + 4 KiB of driver scratch */
};

/* Host pointer for gpa in either region (the driver's view of its own RAM). */
static uint8_t *gp(struct env *e, uint64_t gpa)
{
	return guest_mem_ptr(&e->sd.mem, gpa, 1);
}

static uint64_t allocated(struct env *e)
{
	struct stat st;

	if (fstat(e->sd.mem.fd, &st))
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

static int env_start(struct env *e, const char *spec, unsigned nq, uint64_t wanted)
{
	struct virtio_balloon_config bc;
	char err[256] = "";

	memset(e, 0, sizeof(*e));
	if (guest_mem_init(&e->sd.mem, RAM_SIZE, HOLE_LO, HOLE_HI))
		return -1;
	/* simdrv allocates rings and scratch from the start of region 0. */
	e->sd.ram = e->sd.mem.map;
	e->sd.ram_size = HOLE_LO;
	e->sd.next_alloc = PAGE;
	if (virtio_balloon_parse_spec(&bc, spec, err, sizeof(err))) {
		fprintf(stderr, "  spec: %s\n", err);
		return -1;
	}
	e->b = virtio_balloon_create(&e->sd.mem, &bc, err, sizeof(err));
	if (!e->b) {
		fprintf(stderr, "  create: %s\n", err);
		return -1;
	}
	e->buf_gpa = simdrv_alloc(&e->sd, 68 * 1024, PAGE);
	memset(gp(e, e->buf_gpa), 0, 68 * 1024); /* allocated now, not during a measurement */
	if (simdrv_start(&e->sd, &virtio_balloon_ops, e->b, nq, 256, wanted) < 0) {
		fprintf(stderr, "  simdrv_start failed\n");
		return -1;
	}
	return 0;
}

static void env_stop(struct env *e)
{
	if (e->sd.t)
		virtio_mmio_destroy(e->sd.t); /* frees the balloon */
	else if (e->b)
		virtio_balloon_ops.destroy(e->b);
	guest_mem_fini(&e->sd.mem);
}

/* Sends n PFNs (from pfns) on queue qi as one readable buffer and waits for it back. */
static int send_pfns(struct env *e, unsigned qi, const uint32_t *pfns, unsigned n)
{
	struct simdrv_buf buf = {.gpa = e->buf_gpa, .len = n * 4};
	uint32_t id, len;

	memcpy(gp(e, e->buf_gpa), pfns, n * 4);
	if (simq_add(&e->sd.q[qi], &buf, 1) < 0)
		return -1;
	simdrv_kick(&e->sd, qi, true);
	return simdrv_wait_used(&e->sd, qi, &id, &len, WAIT_MS) ? 0 : -1;
}

/* Sends the PFNs of [gpa, gpa+len) on queue qi, 256 per buffer as Linux does. */
static int send_range(struct env *e, unsigned qi, uint64_t gpa, uint64_t len)
{
	uint32_t pfns[256];
	unsigned n = 0;

	for (uint64_t a = gpa; a < gpa + len; a += PAGE) {
		pfns[n++] = (uint32_t)(a / PAGE);
		if (n == 256 || a + PAGE >= gpa + len) {
			if (send_pfns(e, qi, pfns, n))
				return -1;
			n = 0;
		}
	}
	return 0;
}

static bool is_filled(struct env *e, uint64_t gpa, uint64_t len, uint8_t v)
{
	const uint8_t *p = gp(e, gpa);

	for (uint64_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static struct virtio_balloon_stats stats_of(struct env *e)
{
	struct virtio_balloon_stats s;

	memset(&s, 0, sizeof(s));
	if (virtio_balloon_get_stats(e->b, &s))
		s.nr_bad_chains = 999999; /* makes the calling check fail visibly */
	return s;
}

TEST(features_and_config)
{
	struct env e;
	uint32_t v = 0;

	CHECK(env_start(&e, "target=8M,deflate_on_oom,stats=5,free_page_reporting", 4, WANT_ALL) ==
	      0);
	CHECK(e.sd.features & VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ));
	CHECK(e.sd.features & VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	CHECK(e.sd.features & VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING));
	CHECK(e.sd.features & VIRTIO_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST));
	CHECK(!(e.sd.features & VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT)));
	CHECK_EQ(simdrv_read32(&e.sd, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BALLOON);
	simdrv_config_read(&e.sd, 0, &v, 4);
	CHECK_EQ(v, 8 * 256); /* num_pages */
	/* The driver reports progress in `actual`; the statistics show it. */
	v = 1000;
	virtio_mmio_access(e.sd.t, VIRTIO_MMIO_CONFIG + 4, &v, 4, true);
	v = 0;
	simdrv_config_read(&e.sd, 4, &v, 4);
	CHECK_EQ(v, 1000);
	CHECK_EQ(stats_of(&e).actual_pages, 1000);
	/* num_pages is read-only for the driver. */
	v = 1;
	virtio_mmio_access(e.sd.t, VIRTIO_MMIO_CONFIG, &v, 4, true);
	simdrv_config_read(&e.sd, 0, &v, 4);
	CHECK_EQ(v, 8 * 256);
	/* A new target: num_pages moves and the config interrupt fires. */
	uint32_t gen = simdrv_read32(&e.sd, VIRTIO_MMIO_CONFIG_GENERATION);
	CHECK(virtio_balloon_set_target(e.b, 12) == 0);
	CHECK(simdrv_wait_irq(&e.sd, WAIT_MS));
	CHECK(simdrv_read32(&e.sd, VIRTIO_MMIO_CONFIG_GENERATION) != gen);
	simdrv_config_read(&e.sd, 0, &v, 4);
	CHECK_EQ(v, 12 * 256);
	struct virtio_balloon_config c;
	virtio_balloon_get_config(e.b, &c);
	CHECK_EQ(c.amount_mib, 12);
	CHECK(c.deflate_on_oom);
	CHECK_EQ(c.stats_polling_interval_s, 5);
	/* Bad input Firecracker answers with 400. */
	CHECK_EQ(virtio_balloon_set_target(e.b, 33), -EINVAL);
	CHECK_EQ(virtio_balloon_set_stats_interval(e.b, 0), -EINVAL);
	CHECK_EQ(virtio_balloon_set_stats_interval(e.b, 2), 0);
	/* Config reads out of range are zero, not a crash. */
	v = 0xffffffff;
	simdrv_config_read(&e.sd, 0x40, &v, 4);
	CHECK_EQ(v, 0);
	env_stop(&e);
}

TEST(inflate_punches_holes)
{
	struct env e;

	CHECK(env_start(&e, "target=8M", 2, WANT_ALL) == 0);
	/* The guest touches 4 MiB low and 4 MiB above the hole. */
	memset(gp(&e, 4 * MIB), FILL_BYTE, 4 * MIB);
	memset(gp(&e, 24 * MIB), FILL_BYTE, 4 * MIB);
	memset(gp(&e, 8 * MIB), 0x11, PAGE); /* a neighbour that must survive */
	uint64_t before = allocated(&e);
	CHECK(before >= 8 * MIB);
	CHECK(send_range(&e, 0, 4 * MIB, 4 * MIB) == 0);
	CHECK(send_range(&e, 0, 24 * MIB, 4 * MIB) == 0);
	uint64_t after = allocated(&e);
	CHECK(before - after >= 8 * MIB);
	CHECK(is_filled(&e, 4 * MIB, 4 * MIB, 0)); /* punched pages read as zero */
	CHECK(is_filled(&e, 24 * MIB, 4 * MIB, 0));
	CHECK(is_filled(&e, 8 * MIB, PAGE, 0x11));
	struct virtio_balloon_stats s;
	CHECK_EQ(virtio_balloon_get_stats(e.b, &s), -ENOTSUP); /* stats were off at boot */
	CHECK_EQ(virtio_balloon_set_stats_interval(e.b, 1), -ENOTSUP);
	/* Deflate: checked and counted; the pages come back as zero pages on touch. */
	CHECK(send_range(&e, 1, 4 * MIB, 1 * MIB) == 0);
	memset(gp(&e, 4 * MIB), 0x22, PAGE);
	CHECK(is_filled(&e, 4 * MIB, PAGE, 0x22));
	CHECK(!(virtio_mmio_status(e.sd.t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	env_stop(&e);
}

TEST(hostile_pfns)
{
	struct env e;
	uint64_t good = 0, bad = 0;

	CHECK(env_start(&e, "target=0,stats=60", 3, WANT_ALL) == 0);
	/* Region 1 ends at 20 MiB + 16 MiB = 36 MiB. */
	memset(gp(&e, 35 * MIB), FILL_BYTE, MIB);
	memset(gp(&e, HOLE_LO - PAGE), FILL_BYTE, PAGE);
	uint64_t before = allocated(&e);
	uint32_t pfns[] = {
	    0xffffffff,			    /* far past RAM */
	    (uint32_t)(HOLE_LO / PAGE),	    /* first page of the hole */
	    (uint32_t)(HOLE_LO / PAGE) + 5, /* inside the hole */
	    (uint32_t)(36 * MIB / PAGE),    /* just past the end */
	    (uint32_t)(36 * MIB / PAGE) + 1,
	    0xfffffffe,
	    0xffffffff,
	    0, /* a run that wraps 32 bits: 0 is fine on its own */
	};
	CHECK(send_pfns(&e, 0, pfns, sizeof(pfns) / 4) == 0);
	struct virtio_balloon_stats s = stats_of(&e);
	CHECK_EQ(s.nr_bad_pfns, 7);
	CHECK_EQ(s.nr_inflated_pages, 1);
	/* Nothing outside the guest's pages was touched: the memfd still holds them. */
	CHECK(is_filled(&e, 35 * MIB, MIB, FILL_BYTE));
	CHECK(is_filled(&e, HOLE_LO - PAGE, PAGE, FILL_BYTE));
	CHECK(allocated(&e) >= before - PAGE);
	/* A run straddling the end of region 0 into the hole: the RAM page goes, the rest
	 * counts as bad. */
	uint32_t straddle[] = {(uint32_t)(HOLE_LO / PAGE) - 1, (uint32_t)(HOLE_LO / PAGE),
			       (uint32_t)(HOLE_LO / PAGE) + 1};
	CHECK(send_pfns(&e, 0, straddle, 3) == 0);
	s = stats_of(&e);
	CHECK_EQ(s.nr_bad_pfns, 9);
	CHECK(is_filled(&e, HOLE_LO - PAGE, PAGE, 0));
	/* A huge buffer (past the per-chain cap) is cut, counted, and the device goes on. */
	uint32_t *many = (uint32_t *)gp(&e, e.buf_gpa);
	for (unsigned i = 0; i < 17 * 1024; i++)
		many[i] = 0x80000000u + i;
	struct simdrv_buf big = {.gpa = e.buf_gpa, .len = 17 * 1024 * 4};
	uint32_t id, len;
	CHECK(simq_add(&e.sd.q[0], &big, 1) >= 0);
	simdrv_kick(&e.sd, 0, true);
	CHECK(simdrv_wait_used(&e.sd, 0, &id, &len, WAIT_MS));
	s = stats_of(&e);
	CHECK_EQ(s.nr_bad_chains, 1);
	CHECK_EQ(s.nr_bad_pfns, 9 + 16 * 1024);
	/* A writable buffer on the inflate queue is odd but harmless. */
	struct simdrv_buf w = {.gpa = e.buf_gpa, .len = 8, .is_writable = true};
	CHECK(simq_add(&e.sd.q[1], &w, 1) >= 0);
	simdrv_kick(&e.sd, 1, true);
	CHECK(simdrv_wait_used(&e.sd, 1, &id, &len, WAIT_MS));
	CHECK(!(virtio_mmio_status(e.sd.t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	/* The pure parser: merged runs, counts, and no discard when asked not to. */
	good = bad = 0;
	uint32_t run[] = {100, 101, 102, 200, 0x7fffffff};
	CHECK_EQ(virtio_balloon_parse_pfns(&e.sd.mem, run, sizeof(run) + 3, false, &good, &bad),
		 -EFAULT);
	CHECK_EQ(good, 4);
	CHECK_EQ(bad, 1);
	CHECK_EQ(virtio_balloon_discard(&e.sd.mem, HOLE_LO, PAGE), -EFAULT);
	CHECK_EQ(virtio_balloon_discard(&e.sd.mem, 4 * MIB + 1, PAGE), -EINVAL);
	CHECK_EQ(virtio_balloon_discard(&e.sd.mem, UINT64_MAX & ~(PAGE - 1), PAGE), -EFAULT);
	env_stop(&e);
}

/* The driver's stats buffer: {le16 tag, le64 val} packed. */
static void put_stat(uint8_t *p, unsigned i, uint16_t tag, uint64_t val)
{
	memcpy(p + i * 10, &tag, 2);
	memcpy(p + i * 10 + 2, &val, 8);
}

TEST(statistics)
{
	struct env e;
	uint32_t id, len;

	CHECK(env_start(&e, "target=0,stats=600", 3, WANT_ALL) == 0);
	uint8_t *p = gp(&e, e.buf_gpa);
	put_stat(p, 0, VIRTIO_BALLOON_S_MEMTOT, 1ULL << 30);
	put_stat(p, 1, VIRTIO_BALLOON_S_AVAIL, 700ULL << 20);
	put_stat(p, 2, 99, 12345); /* unknown tag: skipped */
	put_stat(p, 3, VIRTIO_BALLOON_S_MAJFLT, 7);
	struct simdrv_buf buf = {.gpa = e.buf_gpa, .len = 40 + 5}; /* a torn last entry */
	CHECK(simq_add(&e.sd.q[2], &buf, 1) >= 0);
	simdrv_kick(&e.sd, 2, true);
	/* The device keeps the buffer until the next poll (600 s away) ... */
	CHECK(!simdrv_wait_used(&e.sd, 2, &id, &len, 300));
	struct virtio_balloon_stats s = stats_of(&e);
	CHECK(s.has[VIRTIO_BALLOON_S_MEMTOT]);
	CHECK_EQ(s.value[VIRTIO_BALLOON_S_MEMTOT], 1ULL << 30);
	CHECK_EQ(s.value[VIRTIO_BALLOON_S_AVAIL], 700ULL << 20);
	CHECK_EQ(s.value[VIRTIO_BALLOON_S_MAJFLT], 7);
	CHECK(!s.has[VIRTIO_BALLOON_S_SWAP_IN]);
	CHECK_EQ(s.nr_stats_updates, 1);
	/* ... and hands it back once PATCH /balloon/statistics makes the interval 1 s. */
	CHECK_EQ(virtio_balloon_set_stats_interval(e.b, 1), 0);
	CHECK(simdrv_wait_used(&e.sd, 2, &id, &len, WAIT_MS));
	/* The driver refills it with fresh figures. */
	put_stat(p, 1, VIRTIO_BALLOON_S_AVAIL, 600ULL << 20);
	CHECK(simq_add(&e.sd.q[2], &buf, 1) >= 0);
	simdrv_kick(&e.sd, 2, true);
	for (int i = 0; i < 100 && stats_of(&e).nr_stats_updates < 2; i++)
		usleep(10000);
	s = stats_of(&e);
	CHECK_EQ(s.nr_stats_updates, 2);
	CHECK_EQ(s.value[VIRTIO_BALLOON_S_AVAIL], 600ULL << 20);
	CHECK(!strcmp(virtio_balloon_stat_names[VIRTIO_BALLOON_S_AVAIL], "available_memory"));
	/* Pause and resume with the buffer held; reset forgets it. */
	CHECK_EQ(virtio_mmio_pause(e.sd.t), 0);
	CHECK_EQ(virtio_mmio_resume(e.sd.t), 0);
	simdrv_write32(&e.sd, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(virtio_mmio_status(e.sd.t), 0);
	env_stop(&e);
}

TEST(free_page_reporting)
{
	struct env e;
	uint32_t id, len;

	/* Stats off: the reporting queue is then index 2. */
	CHECK(env_start(&e, "target=0,free_page_reporting", 3, WANT_ALL) == 0);
	CHECK(e.sd.features & VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING));
	memset(gp(&e, 2 * MIB), FILL_BYTE, 6 * MIB);
	memset(gp(&e, 22 * MIB), FILL_BYTE, 2 * MIB);
	uint64_t before = allocated(&e);
	struct simdrv_buf ranges[] = {
	    {.gpa = 2 * MIB, .len = 4 * MIB, .is_writable = true},
	    {.gpa = 22 * MIB, .len = 2 * MIB, .is_writable = true},
	    {.gpa = 6 * MIB + 100, .len = PAGE, .is_writable = true}, /* no whole page */
	};
	CHECK(simq_add(&e.sd.q[2], ranges, 3) >= 0);
	simdrv_kick(&e.sd, 2, true);
	CHECK(simdrv_wait_used(&e.sd, 2, &id, &len, WAIT_MS));
	CHECK(before - allocated(&e) >= 6 * MIB);
	CHECK(is_filled(&e, 2 * MIB, 4 * MIB, 0));
	CHECK(is_filled(&e, 6 * MIB, 2 * MIB, FILL_BYTE)); /* the unaligned range stays */
	/* A range the guest makes up outside RAM breaks the ring (the queue checks it):
	 * NEEDS_RESET, nothing punched, no crash. */
	struct simdrv_buf out = {.gpa = HOLE_LO, .len = 2 * MIB, .is_writable = true};
	CHECK(simq_add(&e.sd.q[2], &out, 1) >= 0);
	simdrv_kick(&e.sd, 2, true);
	for (int i = 0; i < 100 && !(virtio_mmio_status(e.sd.t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	     i++)
		usleep(10000);
	CHECK(virtio_mmio_status(e.sd.t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK(is_filled(&e, 6 * MIB, 2 * MIB, FILL_BYTE));
	env_stop(&e);
}

TEST(spec_and_create)
{
	struct virtio_balloon_config c;
	struct guest_mem m;
	char err[256];
	static uint8_t ram[64 * 4096];

	CHECK(virtio_balloon_parse_spec(&c, "target=1G,deflate_on_oom,stats=10", err,
					sizeof(err)) == 0);
	CHECK_EQ(c.amount_mib, 1024);
	CHECK(c.deflate_on_oom && !c.free_page_reporting);
	CHECK_EQ(c.stats_polling_interval_s, 10);
	CHECK(virtio_balloon_parse_spec(&c, "amount_mib=300,free_page_reporting", err,
					sizeof(err)) == 0);
	CHECK_EQ(c.amount_mib, 300);
	CHECK(c.free_page_reporting);
	CHECK(virtio_balloon_parse_spec(&c, "target=12k", err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "target=12k") != NULL);
	CHECK(virtio_balloon_parse_spec(&c, "stats=-1", err, sizeof(err)) == -EINVAL);
	CHECK(virtio_balloon_parse_spec(&c, "amount_mib=x", err, sizeof(err)) == -EINVAL);
	CHECK(virtio_balloon_parse_spec(&c, "bogus", err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "bogus") != NULL);
	guest_mem_init_buffer(&m, ram, sizeof(ram));
	c = (struct virtio_balloon_config){.amount_mib = 1};
	CHECK(virtio_balloon_create(&m, &c, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "more than") != NULL);
	/* Statistics parser on its own: torn entries and unknown tags. */
	struct virtio_balloon_stats s;
	uint8_t b[25];
	memset(&s, 0, sizeof(s));
	put_stat(b, 0, VIRTIO_BALLOON_S_CACHES, 5);
	put_stat(b, 1, 0xffff, 6);
	CHECK_EQ(virtio_balloon_parse_stats(b, sizeof(b), &s), 1);
	CHECK_EQ(s.value[VIRTIO_BALLOON_S_CACHES], 5);
}

int main(void)
{
	RUN(features_and_config);
	RUN(inflate_punches_holes);
	RUN(hostile_pfns);
	RUN(statistics);
	RUN(free_page_reporting);
	RUN(spec_and_create);
	return test_summary();
}

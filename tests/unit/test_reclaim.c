/* tests/unit/test_reclaim.c — the memory reclaim policy (core/reclaim.c), no KVM.
 *
 * First the pure decision function: it inflates under host pressure, deflates when the
 * guest's available memory runs low or the host calms down, holds the floor, moves at most
 * a step per interval, and its hysteresis keeps it from oscillating. Then the thread for
 * real: a PSI file the test rewrites (in place, as the thread preads it), the balloon
 * device over the real virtio-mmio transport with RAM in a memfd, and a simulated driver
 * (bench/blk/simdrv.h, as in test_virtio_balloon.c) that answers target changes with
 * inflate/deflate PFNs: the target moves, the memfd's allocated blocks drop, the floor
 * holds, a paused VM is left alone, and destroy is prompt. Last, the option parsers.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/blk/simdrv.h"
#include "core/config.h"
#include "core/vm_internal.h"
#include "core/reclaim.h"
#include "devices/virtio_balloon.h"
#include "tests/unit/test.h"

#define MIB	 (1ULL << 20)
#define PAGE	 4096ULL
#define WAIT_MS	 3000
#define RAM_SIZE (32 * MIB)
#define HOLE_LO	 (16 * MIB)
#define HOLE_HI	 (20 * MIB)

/* A 1 GiB guest with the defaults: floor 256, step 64, interval 5 s, PSI 10/5, guest
 * low 128 MiB. */
static struct reclaim_config resolved(uint32_t ram_mib)
{
	struct reclaim_config in = {.mode = RECLAIM_AUTO}, out;

	reclaim_config_resolve(&in, ram_mib, &out);
	return out;
}

static struct reclaim_input input(uint64_t now_ms, double psi, uint64_t avail, uint32_t target)
{
	return (struct reclaim_input){
	    .now_ms = now_ms,
	    .has_psi = true,
	    .psi_some_avg10 = psi,
	    .has_guest = true,
	    .guest_avail_mib = avail,
	    .target_mib = target,
	    .actual_mib = target,
	    .ram_mib = 1024,
	};
}

TEST(defaults)
{
	struct reclaim_config c = resolved(1024);

	CHECK_EQ(c.floor_mib, 256);
	CHECK_EQ(c.step_mib, 64);
	CHECK_EQ(c.interval_ms, 5000);
	CHECK(c.pressure_high == 10.0 && c.pressure_low == 5.0);
	CHECK_EQ(c.guest_low_mib, 128);
	/* Small guests: the floor is 128 MiB, but never more than RAM. */
	CHECK_EQ(resolved(256).floor_mib, 128);
	CHECK_EQ(resolved(100).floor_mib, 100);
	CHECK_EQ(resolved(256).guest_low_mib, 64);
	/* A low threshold at or above the high one is no hysteresis: it is halved. */
	struct reclaim_config in = {.pressure_high = 20, .pressure_low = 30}, out;
	reclaim_config_resolve(&in, 1024, &out);
	CHECK(out.pressure_low == 10.0);
}

TEST(inflates_under_pressure)
{
	struct reclaim_config c = resolved(1024);
	struct reclaim_state s = {0};
	struct reclaim_input in = input(1000, 20.0, 800, 0);

	struct reclaim_decision d = reclaim_decide(&c, &s, &in);
	CHECK_EQ(d.reason, RECLAIM_INFLATE);
	CHECK_EQ(d.target_mib, 64);
	CHECK(d.next.is_pressured && d.next.has_stepped);
	CHECK_EQ(d.next.last_step_ms, 1000);
	/* No pressure, nothing in the balloon: hold. */
	in = input(1000, 1.0, 800, 0);
	d = reclaim_decide(&c, &s, &in);
	CHECK_EQ(d.reason, RECLAIM_HOLD);
	CHECK_EQ(d.target_mib, 0);
	CHECK(!d.next.has_stepped);
	/* Without the guest's statistics only the pressure and the floor count. */
	in = input(1000, 20.0, 0, 700);
	in.has_guest = false;
	d = reclaim_decide(&c, &s, &in);
	CHECK_EQ(d.reason, RECLAIM_INFLATE);
	CHECK_EQ(d.target_mib, 764);
	/* Without a PSI reading nothing is inflated. */
	in = input(1000, 0, 800, 0);
	in.has_psi = false;
	CHECK_EQ(reclaim_decide(&c, &s, &in).reason, RECLAIM_HOLD);
}

TEST(deflates_on_low_available)
{
	struct reclaim_config c = resolved(1024);
	struct reclaim_state s = {.is_pressured = true};
	/* The host is under pressure, but the guest comes first. */
	struct reclaim_input in = input(1000, 50.0, 100, 200);

	struct reclaim_decision d = reclaim_decide(&c, &s, &in);
	CHECK_EQ(d.reason, RECLAIM_DEFLATE_GUEST);
	CHECK_EQ(d.target_mib, 136);
	/* The driver holds less than the target (it deflated on OOM): the new target is
	 * what it holds, so it is not told to inflate again. */
	in = input(1000, 50.0, 100, 200);
	in.actual_mib = 100;
	d = reclaim_decide(&c, &s, &in);
	CHECK_EQ(d.reason, RECLAIM_DEFLATE_GUEST);
	CHECK_EQ(d.target_mib, 100);
	/* Never below zero, even with less than a step in the balloon. */
	in = input(1000, 50.0, 100, 10);
	d = reclaim_decide(&c, &s, &in);
	CHECK_EQ(d.target_mib, 0);
	/* Nothing in the balloon: nothing to give, and nothing to take either. */
	in = input(1000, 50.0, 100, 0);
	d = reclaim_decide(&c, &s, &in);
	CHECK_EQ(d.reason, RECLAIM_SKIP_GUEST);
	CHECK_EQ(d.target_mib, 0);
	/* A hostile guest's figure above RAM is clamped, not trusted. */
	in = input(1000, 50.0, UINT64_MAX, 0);
	CHECK_EQ(reclaim_decide(&c, &s, &in).reason, RECLAIM_INFLATE);
	/* The host calms down: the balloon goes back towards the initial target. */
	s.is_pressured = false;
	in = input(1000, 1.0, 800, 300);
	in.base_mib = 250;
	d = reclaim_decide(&c, &s, &in);
	CHECK_EQ(d.reason, RECLAIM_DEFLATE_CALM);
	CHECK_EQ(d.target_mib, 250);
	in.target_mib = in.actual_mib = 250;
	CHECK_EQ(reclaim_decide(&c, &s, &in).reason, RECLAIM_HOLD);
}

TEST(respects_the_floor)
{
	struct reclaim_config c = resolved(1024);
	struct reclaim_state s = {0};
	struct reclaim_input in = input(1000, 20.0, 800, 740);
	in.has_guest = false;

	/* 1024 - 256 = 768 at most: the step is cut to fit. */
	struct reclaim_decision d = reclaim_decide(&c, &s, &in);
	CHECK_EQ(d.reason, RECLAIM_INFLATE);
	CHECK_EQ(d.target_mib, 768);
	in.target_mib = in.actual_mib = 768;
	d = reclaim_decide(&c, &s, &in);
	CHECK_EQ(d.reason, RECLAIM_SKIP_FLOOR);
	CHECK_EQ(d.target_mib, 768);
	/* A target set by hand past the floor is brought back, a step at a time. */
	in.target_mib = in.actual_mib = 1000;
	d = reclaim_decide(&c, &s, &in);
	CHECK_EQ(d.reason, RECLAIM_DEFLATE_FLOOR);
	CHECK_EQ(d.target_mib, 936);
	in.target_mib = in.actual_mib = 800;
	CHECK_EQ(reclaim_decide(&c, &s, &in).target_mib, 768);
	/* A user floor larger than RAM: nothing is ever inflated. */
	struct reclaim_config big = {.floor_mib = 4096}, r;
	reclaim_config_resolve(&big, 1024, &r);
	in.target_mib = in.actual_mib = 0;
	CHECK_EQ(reclaim_decide(&r, &s, &in).reason, RECLAIM_SKIP_FLOOR);
	/* Inflating stops short of taking the guest near its low mark. */
	in = input(1000, 20.0, 300, 0); /* 300 >= 128 + 2 * 64 */
	CHECK_EQ(reclaim_decide(&c, &s, &in).reason, RECLAIM_INFLATE);
	in = input(1000, 20.0, 250, 0);
	CHECK_EQ(reclaim_decide(&c, &s, &in).reason, RECLAIM_SKIP_GUEST);
	/* A driver that has not caught up with the last step is waited for. */
	in = input(1000, 20.0, 800, 128);
	in.actual_mib = 64;
	CHECK_EQ(reclaim_decide(&c, &s, &in).reason, RECLAIM_SKIP_GUEST);
}

TEST(step_and_rate_limit)
{
	struct reclaim_config c = resolved(1024);
	struct reclaim_state s = {0};
	uint32_t target = 0;
	unsigned steps = 0, skipped = 0;

	/* Under steady pressure for 30 s, one decision every 250 ms. */
	for (uint64_t t = 0; t <= 30000; t += 250) {
		struct reclaim_input in = input(t, 30.0, 1000, target);
		in.has_guest = false;
		struct reclaim_decision d = reclaim_decide(&c, &s, &in);
		CHECK(d.target_mib <= target + 64); /* never more than a step */
		if (d.reason == RECLAIM_INFLATE) {
			CHECK(!s.has_stepped || t - s.last_step_ms >= 5000);
			steps++;
		}
		skipped += d.reason == RECLAIM_SKIP_RATE;
		target = d.target_mib;
		s = d.next;
	}
	/* 0, 5, 10, 15, 20, 25, 30 s: seven steps; 768 / 64 = 12 would need 55 s. */
	CHECK_EQ(steps, 7);
	CHECK_EQ(target, 7 * 64);
	CHECK_EQ(skipped, 121 - 7);
}

TEST(hysteresis_stops_oscillation)
{
	struct reclaim_config c = resolved(1024);
	struct reclaim_state s = {0};
	uint32_t target = 0;
	unsigned deflates = 0, inflates = 0, reversals = 0;
	int last_dir = 0;

	/* The pressure swings inside the band (6..9 %) after one spike: the balloon keeps
	 * inflating (pressure is on until it falls below 5) and never deflates. A naive
	 * single threshold at 7.5 would flip every tick. */
	for (unsigned i = 0; i < 40; i++) {
		double psi = i == 0 ? 12.0 : (i % 2 ? 6.0 : 9.0);
		struct reclaim_input in = input(i * 5000ULL, psi, 1000, target);
		in.has_guest = false;
		struct reclaim_decision d = reclaim_decide(&c, &s, &in);
		deflates += d.target_mib < target;
		inflates += d.target_mib > target;
		target = d.target_mib;
		s = d.next;
	}
	CHECK_EQ(deflates, 0);
	CHECK_EQ(inflates, 12); /* up to the floor: 768 MiB */
	CHECK_EQ(target, 768);
	/* Inside the band with pressure off: neither way. */
	s.is_pressured = false;
	struct reclaim_input in = input(1000000, 7.0, 1000, 300);
	CHECK_EQ(reclaim_decide(&c, &s, &in).reason, RECLAIM_HOLD);

	/* A guest whose available memory follows the balloon (600 MiB used of 1 GiB): under
	 * steady pressure the balloon climbs until one more step would bring the guest near
	 * its low mark, then stays; deflate never triggers, so no ping-pong. */
	memset(&s, 0, sizeof(s));
	target = 0;
	for (unsigned i = 0; i < 60; i++) {
		uint64_t avail = 1024 - 600 - target;
		struct reclaim_input g = input(i * 5000ULL, 30.0, avail, target);
		struct reclaim_decision d = reclaim_decide(&c, &s, &g);
		int dir = d.target_mib > target ? 1 : d.target_mib < target ? -1 : 0;
		if (dir && last_dir && dir != last_dir)
			reversals++;
		if (dir)
			last_dir = dir;
		target = d.target_mib;
		s = d.next;
	}
	CHECK_EQ(reversals, 0);
	CHECK_EQ(target, 192); /* avail 232: below 128 + 128, above 128 */
	/* The guest then needs memory (used grows to 900): the balloon deflates step by step
	 * and settles without climbing back. */
	reversals = 0;
	last_dir = 0;
	for (unsigned i = 60; i < 120; i++) {
		uint64_t used = 900, avail = target + used < 1024 ? 1024 - used - target : 0;
		struct reclaim_input g = input(i * 5000ULL, 30.0, avail, target);
		struct reclaim_decision d = reclaim_decide(&c, &s, &g);
		int dir = d.target_mib > target ? 1 : d.target_mib < target ? -1 : 0;
		if (dir && last_dir && dir != last_dir)
			reversals++;
		if (dir)
			last_dir = dir;
		target = d.target_mib;
		s = d.next;
	}
	CHECK_EQ(reversals, 0);
	CHECK_EQ(target, 0);
}

TEST(psi_parser)
{
	double v = -1;

	CHECK_EQ(reclaim_parse_psi("some avg10=1.23 avg60=0.50 avg300=0.10 total=12345\n"
				   "full avg10=0.50 avg60=0.20 avg300=0.05 total=6789\n",
				   &v),
		 0);
	CHECK(v > 1.229 && v < 1.231);
	/* "some" need not be first. */
	CHECK_EQ(reclaim_parse_psi("full avg10=9.00 avg60=0 avg300=0 total=0\n"
				   "some avg10=42.50 avg60=0 avg300=0 total=0\n",
				   &v),
		 0);
	CHECK(v == 42.5);
	CHECK_EQ(reclaim_parse_psi("", &v), -EINVAL);
	CHECK_EQ(reclaim_parse_psi("full avg10=1.00 avg60=0 avg300=0 total=0\n", &v), -EINVAL);
	CHECK_EQ(reclaim_parse_psi("some avg10=abc\n", &v), -EINVAL);
	CHECK_EQ(reclaim_parse_psi("some avg10=-1.0 avg60=0\n", &v), -EINVAL);
	CHECK_EQ(reclaim_parse_psi("some avg10=101.00 avg60=0\n", &v), -EINVAL);
	CHECK_EQ(reclaim_parse_psi("some avg10=nan avg60=0\n", &v), -EINVAL);
	CHECK_EQ(reclaim_parse_psi("some avg10=1.0x avg60=0\n", &v), -EINVAL);
	CHECK_EQ(reclaim_parse_psi("some avg60=1.0\n", &v), -EINVAL);
	CHECK(!strcmp(reclaim_reason_name(RECLAIM_SKIP_RATE), "skipped (rate limit)"));
	CHECK(!strcmp(reclaim_reason_name((enum reclaim_reason)99), "?"));
}

/* --- the thread, with a simulated driver --- */

struct env {
	struct simdrv sd;
	struct virtio_balloon *b;
	uint64_t buf_gpa;
	char psi_path[64];
	int psi_fd;
	bool is_running;
	uint32_t held_pages; /* the simulated guest's balloon: pages from 20 MiB up */
};

static uint64_t allocated(struct env *e)
{
	struct stat st;

	return fstat(e->sd.mem.fd, &st) ? 0 : (uint64_t)st.st_blocks * 512;
}

/* Rewrites the fake PSI file in place, always at the same length (the thread preads it;
 * a truncate would let it see an empty file). */
static void set_psi(struct env *e, double some)
{
	char text[128];

	test_snprintf(text, sizeof(text),
		      "some avg10=%06.2f avg60=0.00 avg300=0.00 total=1\n"
		      "full avg10=000.00 avg60=0.00 avg300=0.00 total=0\n",
		      some);
	CHECK(pwrite(e->psi_fd, text, strlen(text), 0) == (ssize_t)strlen(text));
}

static bool env_is_running(void *ctx)
{
	return __atomic_load_n(&((struct env *)ctx)->is_running, __ATOMIC_ACQUIRE);
}

static int env_start(struct env *e, const char *spec)
{
	struct virtio_balloon_config bc;
	char err[256] = "";

	memset(e, 0, sizeof(*e));
	e->is_running = true;
	test_snprintf(e->psi_path, sizeof(e->psi_path), "/tmp/test_reclaim_psi.%d", getpid());
	e->psi_fd = open(e->psi_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (e->psi_fd < 0)
		return -1;
	set_psi(e, 0);
	if (guest_mem_init(&e->sd.mem, RAM_SIZE, HOLE_LO, HOLE_HI))
		return -1;
	e->sd.ram = e->sd.mem.map;
	e->sd.ram_size = HOLE_LO;
	e->sd.next_alloc = PAGE;
	if (virtio_balloon_parse_spec(&bc, spec, err, sizeof(err)))
		return -1;
	e->b = virtio_balloon_create(&e->sd.mem, &bc, err, sizeof(err));
	if (!e->b)
		return -1;
	e->buf_gpa = simdrv_alloc(&e->sd, 8 * 1024, PAGE);
	memset(guest_mem_ptr(&e->sd.mem, e->buf_gpa, 8 * 1024), 0, 8 * 1024); /* allocated now */
	if (simdrv_start(&e->sd, &virtio_balloon_ops, e->b, 2, 256, ~0ULL) < 0)
		return -1;
	/* The guest's memory above the hole is in use (allocated in the memfd). */
	memset(guest_mem_ptr(&e->sd.mem, HOLE_HI, 16 * MIB), 0xa5, 16 * MIB);
	return 0;
}

static void env_stop(struct env *e)
{
	if (e->sd.t)
		virtio_mmio_destroy(e->sd.t);
	else if (e->b)
		virtio_balloon_ops.destroy(e->b);
	guest_mem_fini(&e->sd.mem);
	if (e->psi_fd >= 0) {
		close(e->psi_fd);
		unlink(e->psi_path);
	}
}

/* One round of the simulated driver: reads num_pages and inflates or deflates towards
 * it (pages from 20 MiB up, 256 PFNs per buffer as Linux sends), then writes actual. */
static void driver_round(struct env *e, unsigned qsel_inflate, unsigned qsel_deflate)
{
	uint32_t want = 0, pfns[256];
	struct simdrv_buf buf = {.gpa = e->buf_gpa};
	uint32_t id, len;

	simdrv_config_read(&e->sd, 0, &want, 4);
	while (want != e->held_pages) {
		bool is_inflate = want > e->held_pages;
		uint32_t n = is_inflate ? want - e->held_pages : e->held_pages - want;
		if (n > 256)
			n = 256;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t page = is_inflate ? e->held_pages + i : e->held_pages - 1 - i;
			pfns[i] = (uint32_t)(HOLE_HI / PAGE) + page;
		}
		memcpy(guest_mem_ptr(&e->sd.mem, e->buf_gpa, n * 4), pfns, n * 4);
		buf.len = n * 4;
		unsigned qi = is_inflate ? qsel_inflate : qsel_deflate;
		if (simq_add(&e->sd.q[qi], &buf, 1) < 0)
			return;
		simdrv_kick(&e->sd, qi, true);
		if (!simdrv_wait_used(&e->sd, qi, &id, &len, WAIT_MS))
			return;
		e->held_pages = is_inflate ? e->held_pages + n : e->held_pages - n;
	}
	virtio_mmio_access(e->sd.t, VIRTIO_MMIO_CONFIG + 4, &e->held_pages, 4, true);
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the driver until cond(e, counters) holds or WAIT_MS pass. */
static bool drive_until(struct env *e, struct reclaim *r,
			bool (*cond)(struct env *, const struct reclaim_counters *))
{
	struct reclaim_counters c;
	uint64_t end = ms_now() + WAIT_MS;

	do {
		driver_round(e, 0, 1);
		reclaim_get_counters(r, &c);
		if (cond(e, &c))
			return true;
		usleep(2000);
	} while (ms_now() < end);
	return false;
}

static void no_irq(void *ctx, bool level)
{
}

/* The metrics line's balloon.reclaim object, from vm_metrics_json() on a struct vm that
 * holds only what it reads (no KVM): the balloon, the policy, a serial port. */
static cJSON *reclaim_metrics(struct virtio_balloon *b, struct reclaim *r, cJSON **root)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	*root = NULL;
	if (!vm)
		return NULL;
	pthread_mutex_init(&vm->state_lock, NULL);
	vm->state = VM_STATE_RUNNING;
	vm->serial = serial_create(no_irq, NULL);
	vm->balloon = b;
	vm->reclaim = r;
	char *text = vm->serial ? vm_metrics_json(vm) : NULL;
	serial_destroy(vm->serial);
	pthread_mutex_destroy(&vm->state_lock);
	free(vm);
	*root = text ? cJSON_Parse(text) : NULL;
	free(text);
	cJSON *bo = cJSON_GetObjectItemCaseSensitive(*root, "balloon");
	return cJSON_GetObjectItemCaseSensitive(bo, "reclaim");
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(it) ? it->valuedouble : -1;
}

static bool at_floor(struct env *e, const struct reclaim_counters *c)
{
	return e->held_pages == 16 * 256 && c->nr_skipped_floor > 0;
}

static bool empty(struct env *e, const struct reclaim_counters *c)
{
	return e->held_pages == 0 && c->nr_deflate_steps >= 4;
}

TEST(thread_inflates_to_the_floor_and_back)
{
	struct env e;
	struct reclaim_counters c;
	struct reclaim_config rc = {.mode = RECLAIM_AUTO,
				    .floor_mib = 16,
				    .step_mib = 4,
				    .interval_ms = 60,
				    .psi_path = NULL};
	uint32_t target, actual;

	CHECK(env_start(&e, "target=0") == 0);
	rc.psi_path = e.psi_path;
	uint64_t before = allocated(&e);
	CHECK(before >= 16 * MIB);
	struct reclaim *r = reclaim_create(&rc, e.b, 32, env_is_running, &e);
	CHECK(r != NULL);
	if (!r) {
		env_stop(&e);
		return;
	}
	/* Calm host: nothing moves. */
	usleep(200000);
	virtio_balloon_get_sizes(e.b, &target, &actual);
	CHECK_EQ(target, 0);
	reclaim_get_counters(r, &c);
	CHECK(c.nr_ticks >= 2);
	CHECK(c.has_psi && c.last_psi == 0);
	CHECK_EQ(c.nr_inflate_steps, 0);

	/* Pressure: 4 MiB per step up to 32 - 16 = 16 MiB, then the floor holds. */
	set_psi(&e, 40.0);
	CHECK(drive_until(&e, r, at_floor));
	virtio_balloon_get_sizes(e.b, &target, &actual);
	CHECK_EQ(target, 16);
	CHECK_EQ(actual, 16);
	reclaim_get_counters(r, &c);
	CHECK_EQ(c.nr_inflate_steps, 4);
	CHECK(c.nr_skipped_rate > 0);
	CHECK(c.last_psi == 40.0);
	CHECK_EQ(c.floor_mib, 16);
	/* The metrics count every decision. */
	cJSON *root, *m = reclaim_metrics(e.b, r, &root);
	CHECK(m != NULL);
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(m, "mode");
	CHECK(cJSON_IsString(mode) && !strcmp(mode->valuestring, "auto"));
	CHECK(num(m, "inflate_steps") == 4);
	CHECK(num(m, "deflate_steps") == 0);
	CHECK(num(m, "skipped_floor") >= 1);
	CHECK(num(m, "skipped_rate") >= 1);
	CHECK(num(m, "last_psi_some_avg10") == 40.0);
	CHECK(num(m, "floor_mib") == 16);
	CHECK(num(m, "last_target_mib") == 16);
	cJSON_Delete(root);
	/* The host really got the memory back: the memfd holds 16 MiB less. */
	uint64_t after = allocated(&e);
	CHECK(before - after >= 16 * MIB);
	/* And the floor holds while the pressure stays. */
	usleep(300000);
	driver_round(&e, 0, 1);
	virtio_balloon_get_sizes(e.b, &target, &actual);
	CHECK_EQ(target, 16);

	/* Paused: the policy does nothing, whatever the pressure. */
	__atomic_store_n(&e.is_running, false, __ATOMIC_RELEASE);
	set_psi(&e, 0);
	usleep(50000); /* a tick that began before the store ends */
	reclaim_get_counters(r, &c);
	uint64_t ticks = c.nr_ticks;
	usleep(300000);
	reclaim_get_counters(r, &c);
	CHECK_EQ(c.nr_ticks, ticks);
	virtio_balloon_get_sizes(e.b, &target, &actual);
	CHECK_EQ(target, 16);

	/* Running and calm again: back to the initial target (0), step by step. */
	__atomic_store_n(&e.is_running, true, __ATOMIC_RELEASE);
	CHECK(drive_until(&e, r, empty));
	virtio_balloon_get_sizes(e.b, &target, &actual);
	CHECK_EQ(target, 0);
	reclaim_get_counters(r, &c);
	CHECK_EQ(c.nr_deflate_steps, 4);
	CHECK_EQ(c.nr_psi_errors, 0);

	/* A garbage PSI file is no reading: counted, nothing moves. */
	CHECK(pwrite(e.psi_fd, "garbage", 7, 0) == 7);
	usleep(200000);
	reclaim_get_counters(r, &c);
	CHECK(c.nr_psi_errors > 0);
	virtio_balloon_get_sizes(e.b, &target, &actual);
	CHECK_EQ(target, 0);

	uint64_t t0 = ms_now();
	reclaim_destroy(r);
	CHECK(ms_now() - t0 < 200);
	env_stop(&e);
}

TEST(thread_stops_promptly_and_modes)
{
	struct env e;
	struct reclaim_counters c;
	/* Default interval (5 s, a tick a second): destroy must not wait for the tick. */
	struct reclaim_config rc = {.mode = RECLAIM_AUTO};

	CHECK(env_start(&e, "target=2M") == 0);
	rc.psi_path = e.psi_path;
	struct reclaim *r = reclaim_create(&rc, e.b, 32, env_is_running, &e);
	CHECK(r != NULL);
	usleep(20000);
	uint64_t t0 = ms_now();
	reclaim_destroy(r);
	CHECK(ms_now() - t0 < 200);
	/* manual: no thread, the counters still answer; the target is the user's. */
	rc.mode = RECLAIM_MANUAL;
	set_psi(&e, 90.0);
	r = reclaim_create(&rc, e.b, 32, env_is_running, &e);
	CHECK(r != NULL);
	usleep(300000);
	reclaim_get_counters(r, &c);
	CHECK_EQ(c.mode, RECLAIM_MANUAL);
	CHECK_EQ(c.nr_ticks, 0);
	uint32_t target, actual;
	virtio_balloon_get_sizes(e.b, &target, &actual);
	CHECK_EQ(target, 2);
	reclaim_destroy(r);
	/* A missing PSI file: the policy runs without it (guest side only). */
	rc.mode = RECLAIM_AUTO;
	rc.psi_path = "/nonexistent/pressure";
	rc.interval_ms = 40;
	r = reclaim_create(&rc, e.b, 32, env_is_running, &e);
	CHECK(r != NULL);
	usleep(100000);
	reclaim_get_counters(r, &c);
	CHECK(c.nr_ticks > 0);
	CHECK(!c.has_psi);
	CHECK_EQ(c.nr_psi_errors, 0);
	reclaim_destroy(r);
	/* Free page reporting follows the mode. */
	struct virtio_balloon_config bc = {.free_page_reporting = false};
	reclaim_adjust_balloon(RECLAIM_AUTO, &bc);
	CHECK(bc.free_page_reporting);
	reclaim_adjust_balloon(RECLAIM_MANUAL, &bc);
	CHECK(bc.free_page_reporting);
	reclaim_adjust_balloon(RECLAIM_OFF, &bc);
	CHECK(!bc.free_page_reporting);
	env_stop(&e);
}

/* --- the options --- */

TEST(options)
{
	struct vm_config c;
	char err[256];

	config_init(&c);
	CHECK_EQ(c.reclaim.mode, RECLAIM_AUTO);
	CHECK_EQ(config_parse_reclaim(&c.reclaim, "manual", err, sizeof(err)), 0);
	CHECK_EQ(c.reclaim.mode, RECLAIM_MANUAL);
	CHECK_EQ(config_parse_reclaim(&c.reclaim,
				      "auto,floor=512M,step=32,interval=10,pressure=20:5.5,"
				      "guest-low=1G",
				      err, sizeof(err)),
		 0);
	CHECK_EQ(c.reclaim.mode, RECLAIM_AUTO);
	CHECK_EQ(c.reclaim.floor_mib, 512);
	CHECK_EQ(c.reclaim.step_mib, 32);
	CHECK_EQ(c.reclaim.interval_ms, 10000);
	CHECK(c.reclaim.pressure_high == 20 && c.reclaim.pressure_low == 5.5);
	CHECK_EQ(c.reclaim.guest_low_mib, 1024);
	/* A later option changes only what it names. */
	CHECK_EQ(config_parse_reclaim(&c.reclaim, "off", err, sizeof(err)), 0);
	CHECK_EQ(c.reclaim.mode, RECLAIM_OFF);
	CHECK_EQ(c.reclaim.floor_mib, 512);
	static const char *const bad[] = {
	    "bogus",
	    "",
	    "auto,floor=8M",
	    "auto,floor=1.5M",
	    "auto,step=0",
	    "auto,interval=0",
	    "auto,interval=3601",
	    "auto,pressure=0",
	    "auto,pressure=5:9",
	    "auto,pressure=101",
	    "auto,pressure=x",
	    "auto,what=1",
	    "auto,floor=",
	    "auto,pressure=10:",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int r = config_parse_reclaim(&c.reclaim, bad[i], err, sizeof(err));
		CHECK_EQ(r, -EINVAL);
		CHECK(!strncmp(err, "--memory-reclaim ", 17));
		CHECK_EQ(c.reclaim.mode, RECLAIM_OFF); /* unchanged */
	}
	config_parse_reclaim(&c.reclaim, "bogus", err, sizeof(err));
	CHECK(!strcmp(err, "--memory-reclaim bogus: unknown mode (auto, manual or off)"));
	config_fini(&c);

	/* JSON: arcvmm's fields in the "balloon" object. */
	config_init(&c);
	CHECK_EQ(config_parse_json(&c,
				   "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"balloon\": "
				   "{\"amount_mib\": 0, \"deflate_on_oom\": true, "
				   "\"memory_reclaim\": \"manual\", \"reclaim_floor_mib\": 300, "
				   "\"reclaim_step_mib\": 16, \"reclaim_interval_s\": 2, "
				   "\"reclaim_pressure_high\": 12.5, \"reclaim_pressure_low\": 3, "
				   "\"reclaim_guest_low_mib\": 99}}",
				   "vm.json", err, sizeof(err)),
		 0);
	CHECK_EQ(c.reclaim.mode, RECLAIM_MANUAL);
	CHECK_EQ(c.reclaim.floor_mib, 300);
	CHECK_EQ(c.reclaim.step_mib, 16);
	CHECK_EQ(c.reclaim.interval_ms, 2000);
	CHECK(c.reclaim.pressure_high == 12.5 && c.reclaim.pressure_low == 3);
	CHECK_EQ(c.reclaim.guest_low_mib, 99);
	config_fini(&c);
	static const char *const bad_json[] = {
	    "\"memory_reclaim\": \"sometimes\"", "\"memory_reclaim\": 1",
	    "\"reclaim_floor_mib\": 8",		 "\"reclaim_step_mib\": 1.5",
	    "\"reclaim_interval_s\": 0",	 "\"reclaim_pressure_high\": 0",
	    "\"reclaim_pressure_low\": 50",	 "\"reclaim_pressure_high\": \"x\"",
	    "\"reclaim_guest_low_mib\": -1",
	};
	for (unsigned i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		char text[512];
		test_snprintf(text, sizeof(text),
			      "{\"boot-source\": {\"kernel_image_path\": \"k\"}, \"balloon\": "
			      "{\"amount_mib\": 0, \"deflate_on_oom\": false, %s}}",
			      bad_json[i]);
		config_init(&c);
		err[0] = '\0';
		CHECK_EQ(config_parse_json(&c, text, "vm.json", err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "vm.json: balloon") != NULL);
		config_fini(&c);
	}
}

int main(void)
{
	RUN(defaults);
	RUN(inflates_under_pressure);
	RUN(deflates_on_low_available);
	RUN(respects_the_floor);
	RUN(step_and_rate_limit);
	RUN(hysteresis_stops_oscillation);
	RUN(psi_parser);
	RUN(thread_inflates_to_the_floor_and_back);
	RUN(thread_stops_promptly_and_modes);
	RUN(options);
	return test_summary();
}

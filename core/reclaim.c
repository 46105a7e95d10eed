/* core/reclaim.c — the balloon policy and its thread. See reclaim.h.
 *
 * Trust: the PSI file's text is parsed strictly (anything odd is "no reading"); the
 * guest's available_memory is clamped to RAM before it is compared with anything.
 */
#include "core/reclaim.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio_balloon.h"
#include "util/log.h"
#include "util/seccomp.h"

#define TICK_MAX_MS 1000
#define TICK_MIN_MS 10
#define PSI_MAX	    512 /* /proc/pressure/memory is two lines of about 60 bytes */

const char *reclaim_mode_name(enum reclaim_mode m)
{
	switch (m) {
	case RECLAIM_AUTO:
		return "auto";
	case RECLAIM_MANUAL:
		return "manual";
	case RECLAIM_OFF:
		return "off";
	}
	return "?";
}

const char *reclaim_reason_name(enum reclaim_reason r)
{
	static const char *const names[RECLAIM_NR_REASONS] = {
	    [RECLAIM_HOLD] = "hold",
	    [RECLAIM_INFLATE] = "inflate (host pressure)",
	    [RECLAIM_DEFLATE_GUEST] = "deflate (guest low on memory)",
	    [RECLAIM_DEFLATE_CALM] = "deflate (host calm)",
	    [RECLAIM_DEFLATE_FLOOR] = "deflate (target below the floor)",
	    [RECLAIM_SKIP_FLOOR] = "skipped (floor)",
	    [RECLAIM_SKIP_RATE] = "skipped (rate limit)",
	    [RECLAIM_SKIP_GUEST] = "skipped (guest memory)",
	};
	return (unsigned)r < RECLAIM_NR_REASONS ? names[r] : "?";
}

void reclaim_config_resolve(const struct reclaim_config *in, uint32_t ram_mib,
			    struct reclaim_config *out)
{
	*out = *in;
	if (!out->floor_mib) {
		out->floor_mib = ram_mib / 4;
		if (out->floor_mib < RECLAIM_DEFAULT_FLOOR_MIN_MIB)
			out->floor_mib = RECLAIM_DEFAULT_FLOOR_MIN_MIB;
	}
	if (out->floor_mib > ram_mib)
		out->floor_mib = ram_mib;
	if (!out->step_mib)
		out->step_mib = RECLAIM_DEFAULT_STEP_MIB;
	if (!out->interval_ms)
		out->interval_ms = RECLAIM_DEFAULT_INTERVAL_MS;
	if (!(out->pressure_high > 0))
		out->pressure_high = RECLAIM_DEFAULT_PRESSURE_HIGH;
	/* A low threshold at or above the high one would be no hysteresis at all. */
	if (!(out->pressure_low > 0) || out->pressure_low >= out->pressure_high)
		out->pressure_low = out->pressure_high / 2;
	if (!out->guest_low_mib) {
		out->guest_low_mib = ram_mib / 8;
		if (out->guest_low_mib < RECLAIM_DEFAULT_GUEST_LOW_MIN)
			out->guest_low_mib = RECLAIM_DEFAULT_GUEST_LOW_MIN;
	}
}

void reclaim_adjust_balloon(enum reclaim_mode m, struct virtio_balloon_config *bc)
{
	if (m == RECLAIM_AUTO)
		bc->free_page_reporting = true;
	else if (m == RECLAIM_OFF)
		bc->free_page_reporting = false;
}

/* --- the policy --- */

static uint32_t sub_sat(uint32_t a, uint32_t b)
{
	return a > b ? a - b : 0;
}

struct reclaim_decision reclaim_decide(const struct reclaim_config *c,
				       const struct reclaim_state *s,
				       const struct reclaim_input *in)
{
	struct reclaim_decision d = {.target_mib = in->target_mib, .reason = RECLAIM_HOLD};
	uint32_t ram = in->ram_mib, target = in->target_mib < ram ? in->target_mib : ram;
	uint32_t max_target = sub_sat(ram, c->floor_mib);
	uint32_t step = c->step_mib ? c->step_mib : 1;
	uint32_t base = in->base_mib < max_target ? in->base_mib : max_target;
	uint64_t avail = in->guest_avail_mib < ram ? in->guest_avail_mib : ram;
	uint32_t want = target;
	enum reclaim_reason why = RECLAIM_HOLD;

	d.next = *s;
	/* Hysteresis: pressure turns on at high and off only below low. */
	if (in->has_psi) {
		if (in->psi_some_avg10 >= c->pressure_high)
			d.next.is_pressured = true;
		else if (in->psi_some_avg10 < c->pressure_low)
			d.next.is_pressured = false;
	}
	if (target > max_target) {
		want = sub_sat(target, step) > max_target ? sub_sat(target, step) : max_target;
		why = RECLAIM_DEFLATE_FLOOR;
	} else if (in->has_guest && avail < c->guest_low_mib && target > 0) {
		/* The guest first: memory it needs goes back, whatever the host feels. */
		want = sub_sat(target, step);
		why = RECLAIM_DEFLATE_GUEST;
	} else if (in->has_psi && d.next.is_pressured) {
		if (target >= max_target) {
			why = RECLAIM_SKIP_FLOOR;
		} else if (in->actual_mib < target ||
			   (in->has_guest && avail < (uint64_t)c->guest_low_mib + 2ULL * step)) {
			/* The driver has not caught up with the last step, or one more step
			 * would take the guest near guest_low (and the next tick would give
			 * it back): wait. */
			why = RECLAIM_SKIP_GUEST;
		} else {
			want = max_target - target > step ? target + step : max_target;
			why = RECLAIM_INFLATE;
		}
	} else if (in->has_psi && in->psi_some_avg10 < c->pressure_low && target > base) {
		want = sub_sat(target, step) > base ? sub_sat(target, step) : base;
		why = RECLAIM_DEFLATE_CALM;
	}
	/* A deflate never asks the driver to hold more than it does: a guest that gave
	 * pages back on its own (deflate-on-OOM) would otherwise be told to take them
	 * again. Catching up with it moves no memory, so it may exceed a step. */
	if (want < target && want > in->actual_mib)
		want = in->actual_mib;
	if (want != target) {
		if (s->has_stepped && in->now_ms >= s->last_step_ms &&
		    in->now_ms - s->last_step_ms < c->interval_ms) {
			d.reason = RECLAIM_SKIP_RATE;
			return d;
		}
		d.target_mib = want;
		d.next.has_stepped = true;
		d.next.last_step_ms = in->now_ms;
	}
	d.reason = why;
	return d;
}

int reclaim_parse_psi(const char *text, double *some_avg10)
{
	const char *p = text;

	/* The "some" line starts the text or follows a newline. */
	while (p && strncmp(p, "some ", 5)) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p)
		return -EINVAL;
	p += 5;
	if (strncmp(p, "avg10=", 6))
		return -EINVAL;
	p += 6;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	double v = strtod(p, &end);
	if (errno || end == p || (*end != ' ' && *end != '\n' && *end) || !isfinite(v) || v < 0 ||
	    v > 100)
		return -EINVAL;
	*some_avg10 = v;
	return 0;
}

/* --- the thread --- */

struct reclaim {
	struct reclaim_config cfg; /* resolved */
	struct virtio_balloon *b;
	uint32_t ram_mib, base_mib;
	bool (*is_running)(void *ctx);
	void *ctx;
	int psi_fd; /* -1: no PSI */
	unsigned tick_ms;

	pthread_t thread;
	bool has_thread;
	pthread_mutex_t lock; /* is_stopping, ctr */
	pthread_cond_t cond;  /* on CLOCK_MONOTONIC */
	bool is_stopping;
	struct reclaim_counters ctr;

	struct reclaim_state state; /* the thread's own */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool read_psi(struct reclaim *r, double *v)
{
	char buf[PSI_MAX];
	ssize_t n;

	if (r->psi_fd < 0)
		return false;
	/* pread from 0: /proc regenerates the text; a test file is rewritten in place. */
	n = pread(r->psi_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return reclaim_parse_psi(buf, v) == 0;
}

static void tick(struct reclaim *r)
{
	struct reclaim_input in = {.ram_mib = r->ram_mib, .base_mib = r->base_mib};
	struct virtio_balloon_stats st;

	if (r->is_running && !r->is_running(r->ctx))
		return;
	in.now_ms = now_ms();
	in.has_psi = read_psi(r, &in.psi_some_avg10);
	virtio_balloon_get_sizes(r->b, &in.target_mib, &in.actual_mib);
	if (virtio_balloon_get_stats(r->b, &st) == 0 && st.has[VIRTIO_BALLOON_S_AVAIL]) {
		in.has_guest = true;
		in.guest_avail_mib = st.value[VIRTIO_BALLOON_S_AVAIL] >> 20;
	}
	struct reclaim_decision d = reclaim_decide(&r->cfg, &r->state, &in);
	r->state = d.next;
	if (d.target_mib != in.target_mib && virtio_balloon_set_target(r->b, d.target_mib))
		d.reason = RECLAIM_HOLD; /* cannot happen: the target is within RAM */

	pthread_mutex_lock(&r->lock);
	r->ctr.nr_ticks++;
	if (in.has_psi) {
		r->ctr.has_psi = true;
		r->ctr.last_psi = in.psi_some_avg10;
	} else if (r->psi_fd >= 0) {
		r->ctr.nr_psi_errors++;
	}
	switch (d.reason) {
	case RECLAIM_INFLATE:
		r->ctr.nr_inflate_steps++;
		break;
	case RECLAIM_DEFLATE_GUEST:
	case RECLAIM_DEFLATE_CALM:
	case RECLAIM_DEFLATE_FLOOR:
		r->ctr.nr_deflate_steps++;
		break;
	case RECLAIM_SKIP_FLOOR:
		r->ctr.nr_skipped_floor++;
		break;
	case RECLAIM_SKIP_RATE:
		r->ctr.nr_skipped_rate++;
		break;
	case RECLAIM_SKIP_GUEST:
		r->ctr.nr_skipped_guest++;
		break;
	default:
		break;
	}
	r->ctr.last_reason = d.reason;
	r->ctr.target_mib = d.target_mib;
	pthread_mutex_unlock(&r->lock);
	/* No log line here: log.c asks isatty() (an ioctl), which the worker filter refuses;
	 * the metrics show every decision instead. */
}

static void *reclaim_thread(void *arg)
{
	struct reclaim *r = arg;
	struct timespec ts;

	pthread_setname_np(pthread_self(), "reclaim");
	if (seccomp_apply(seccomp_kind_for_worker("reclaim")) < 0) {
		log_error("memory-reclaim: cannot install the seccomp filter; no automatic "
			  "reclaim");
		return NULL;
	}
	pthread_mutex_lock(&r->lock);
	while (!r->is_stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)r->tick_ms * 1000000;
		ts.tv_sec += (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		while (!r->is_stopping &&
		       pthread_cond_timedwait(&r->cond, &r->lock, &ts) != ETIMEDOUT)
			;
		if (r->is_stopping)
			break;
		pthread_mutex_unlock(&r->lock);
		tick(r);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

struct reclaim *reclaim_create(const struct reclaim_config *c, struct virtio_balloon *b,
			       uint32_t ram_mib, bool (*is_running)(void *ctx), void *ctx)
{
	struct reclaim *r = calloc(1, sizeof(*r));
	struct virtio_balloon_config bc;
	pthread_condattr_t ca;
	int e;

	if (!r)
		return NULL;
	reclaim_config_resolve(c, ram_mib, &r->cfg);
	r->cfg.psi_path = NULL; /* not kept: the caller's string */
	r->b = b;
	r->ram_mib = ram_mib;
	r->is_running = is_running;
	r->ctx = ctx;
	r->psi_fd = -1;
	virtio_balloon_get_config(b, &bc);
	r->base_mib = bc.amount_mib;
	r->tick_ms = r->cfg.interval_ms / 4;
	if (r->tick_ms > TICK_MAX_MS)
		r->tick_ms = TICK_MAX_MS;
	if (r->tick_ms < TICK_MIN_MS)
		r->tick_ms = TICK_MIN_MS;
	r->ctr.mode = c->mode;
	r->ctr.floor_mib = r->cfg.floor_mib;
	r->ctr.step_mib = r->cfg.step_mib;
	r->ctr.interval_ms = r->cfg.interval_ms;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (c->mode != RECLAIM_AUTO)
		return r;

	const char *path = c->psi_path ? c->psi_path : getenv(RECLAIM_PSI_ENV);
	if (!path || !*path)
		path = RECLAIM_PSI_PATH;
	/* Opened once, here, before the seccomp filter (no openat then) and read with pread:
	 * inside a jail without /proc the policy goes on with the guest's side only. */
	r->psi_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->psi_fd < 0)
		log_warn("memory-reclaim: %s: %s; host memory pressure is not watched", path,
			 strerror(errno));
	e = pthread_create(&r->thread, NULL, reclaim_thread, r);
	if (e) {
		reclaim_destroy(r);
		errno = e;
		return NULL;
	}
	r->has_thread = true;
	return r;
}

void reclaim_destroy(struct reclaim *r)
{
	if (!r)
		return;
	if (r->has_thread) {
		pthread_mutex_lock(&r->lock);
		r->is_stopping = true;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
	}
	if (r->psi_fd >= 0)
		close(r->psi_fd);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void reclaim_get_counters(struct reclaim *r, struct reclaim_counters *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->ctr;
	pthread_mutex_unlock(&r->lock);
}

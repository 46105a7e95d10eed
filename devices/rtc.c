/* devices/rtc.c — see rtc.h. The guest chooses only an index (masked to 7 bits) and
 * register values; decoding garbage gives a wrong time, never a fault. */
#include "devices/rtc.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/worker.h"

enum {
	REG_SEC = 0x00,
	REG_SEC_ALARM = 0x01,
	REG_MIN = 0x02,
	REG_MIN_ALARM = 0x03,
	REG_HOUR = 0x04,
	REG_HOUR_ALARM = 0x05,
	REG_WDAY = 0x06,
	REG_MDAY = 0x07,
	REG_MONTH = 0x08,
	REG_YEAR = 0x09,
	REG_A = 0x0a,
	REG_B = 0x0b,
	REG_C = 0x0c,
	REG_D = 0x0d,
	REG_CENTURY = 0x32,
};

#define B_SET	  0x80
#define B_PIE	  0x40
#define B_AIE	  0x20
#define B_UIE	  0x10
#define B_BINARY  0x04
#define B_24H	  0x02
#define C_IRQF	  0x80
#define C_PF	  0x40
#define C_AF	  0x20
#define C_UF	  0x10
#define HOUR_PM	  0x80
#define ALARM_ANY 0xc0 /* an alarm byte >= 0xc0 matches every value */

static void host_clock(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static int64_t guest_now(const struct rtc *r)
{
	struct timespec ts;

	r->clock(&ts);
	return (int64_t)ts.tv_sec + r->offset;
}

static uint8_t encode(const struct rtc *r, int v)
{
	if (r->cmos[REG_B] & B_BINARY)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int decode(const struct rtc *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_BINARY)
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t encode_hour(const struct rtc *r, int h)
{
	if (r->cmos[REG_B] & B_24H)
		return encode(r, h);
	int h12 = h % 12 ? h % 12 : 12;
	return (uint8_t)(encode(r, h12) | (h >= 12 ? HOUR_PM : 0));
}

static int decode_hour(const struct rtc *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_24H)
		return decode(r, v);
	return decode(r, v & 0x7f) % 12 + ((v & HOUR_PM) ? 12 : 0);
}

/* Fills the time registers with the clock's current time, in the current format. */
static void latch_time(struct rtc *r)
{
	time_t t = (time_t)guest_now(r);
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	r->cmos[REG_SEC] = encode(r, tm.tm_sec);
	r->cmos[REG_MIN] = encode(r, tm.tm_min);
	r->cmos[REG_HOUR] = encode_hour(r, tm.tm_hour);
	r->cmos[REG_WDAY] = encode(r, tm.tm_wday + 1);
	r->cmos[REG_MDAY] = encode(r, tm.tm_mday);
	r->cmos[REG_MONTH] = encode(r, tm.tm_mon + 1);
	r->cmos[REG_YEAR] = encode(r, tm.tm_year % 100);
	r->cmos[REG_CENTURY] = encode(r, (tm.tm_year + 1900) / 100);
}

/* The time registers as the guest left them become the clock: offset from the host's. */
static void commit_time(struct rtc *r)
{
	struct tm tm;
	struct timespec ts;
	int century = decode(r, r->cmos[REG_CENTURY]);

	if (century < 19 || century > 99)
		century = 20;
	memset(&tm, 0, sizeof(tm));
	tm.tm_sec = decode(r, r->cmos[REG_SEC]);
	tm.tm_min = decode(r, r->cmos[REG_MIN]);
	tm.tm_hour = decode_hour(r, r->cmos[REG_HOUR]);
	tm.tm_mday = decode(r, r->cmos[REG_MDAY]);
	tm.tm_mon = decode(r, r->cmos[REG_MONTH]) - 1;
	tm.tm_year = century * 100 + decode(r, r->cmos[REG_YEAR]) - 1900;
	time_t t = timegm(&tm);
	r->clock(&ts);
	r->offset = (int64_t)t - (int64_t)ts.tv_sec;
	r->last_sec = (int64_t)t;
}

static bool alarm_byte_matches(uint8_t alarm, uint8_t now)
{
	return alarm >= ALARM_ANY || alarm == now;
}

/* The update-ended and alarm flags due since the last look (lock held). */
static uint8_t due_flags(struct rtc *r)
{
	if (r->cmos[REG_B] & B_SET)
		return 0;
	int64_t now = guest_now(r);
	if (now == r->last_sec)
		return 0;
	r->last_sec = now;

	uint8_t flags = C_UF;
	time_t t = (time_t)now;
	struct tm tm;
	if (gmtime_r(&t, &tm) && alarm_byte_matches(r->cmos[REG_SEC_ALARM], encode(r, tm.tm_sec)) &&
	    alarm_byte_matches(r->cmos[REG_MIN_ALARM], encode(r, tm.tm_min)) &&
	    alarm_byte_matches(r->cmos[REG_HOUR_ALARM], encode_hour(r, tm.tm_hour)))
		flags |= C_AF;
	return flags;
}

static unsigned periodic_hz(const struct rtc *r)
{
	unsigned rs = r->cmos[REG_A] & 0x0f;

	if (!rs)
		return 0;
	/* 32.768 kHz time base: rates 1 and 2 are 256 and 128 Hz, 3..15 are 8192 >> (rs-3). */
	unsigned hz = rs <= 2 ? 512u >> rs : 32768u >> (rs - 1);
	return hz > RTC_MAX_PERIODIC_HZ ? RTC_MAX_PERIODIC_HZ : hz;
}

/* Arms the timer for what register B enables (lock held). */
static void rearm(struct rtc *r)
{
	struct itimerspec its;
	uint8_t b = r->cmos[REG_B];
	unsigned hz = (b & B_PIE) ? periodic_hz(r) : 0;
	int flags = 0;

	if (r->timer_fd < 0)
		return;
	memset(&its, 0, sizeof(its));
	if (b & B_SET) {
		/* disarmed: the clock is being set */
	} else if (hz) {
		its.it_interval.tv_nsec = 1000000000L / hz;
		its.it_value = its.it_interval;
	} else if (b & (B_AIE | B_UIE)) {
		/* Once a second, 1 ms after the host's second turns (the clock's seconds are the
		 * host's plus a whole offset). */
		clock_gettime(CLOCK_REALTIME, &its.it_value);
		its.it_value.tv_sec += 1;
		its.it_value.tv_nsec = 1000000;
		its.it_interval.tv_sec = 1;
		flags = TFD_TIMER_ABSTIME;
	}
	if (timerfd_settime(r->timer_fd, flags, &its, NULL) < 0)
		log_debug("rtc: timerfd_settime: %s", strerror(errno));
}

void rtc_tick(struct rtc *r)
{
	bool raise = false;

	pthread_mutex_lock(&r->lock);
	uint8_t flags = due_flags(r);
	if ((r->cmos[REG_B] & B_PIE) && periodic_hz(r) && !(r->cmos[REG_B] & B_SET))
		flags |= C_PF;
	r->reg_c |= flags;
	/* The enable bits in B sit where their flags sit in C. */
	if ((r->reg_c & r->cmos[REG_B] & (C_PF | C_AF | C_UF)) && !r->irq_line) {
		r->irq_line = true;
		r->reg_c |= C_IRQF;
		raise = r->irq != NULL;
	}
	pthread_mutex_unlock(&r->lock);
	if (raise) {
		__atomic_add_fetch(&r->nr_irqs, 1, __ATOMIC_RELAXED);
		r->irq(r->ctx);
	}
}

static void timer_ready(struct worker *w, int fd, uint32_t events, void *arg)
{
	uint64_t n;

	(void)w;
	(void)events;
	while (read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
		;
	rtc_tick(arg);
}

void rtc_init(struct rtc *r, rtc_irq_fn *irq, rtc_clock_fn *clock, void *ctx)
{
	/* glibc loads the time zone (openat of /etc/localtime) on the first gmtime_r of the
	 * process: do it here, on the creating thread, not on a filtered worker or vCPU. */
	tzset();
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->timer_fd = -1;
	r->irq = irq;
	r->clock = clock ? clock : host_clock;
	r->ctx = ctx;
	r->cmos[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz periodic rate (off: PIE=0) */
	r->cmos[REG_B] = B_24H;
	r->last_sec = guest_now(r);
	struct tm tm;
	time_t t = (time_t)r->last_sec;
	gmtime_r(&t, &tm);
}

int rtc_start(struct rtc *r)
{
	int r_;

	r->timer_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->timer_fd < 0)
		return -errno;
	r->worker = worker_create("rtc");
	if (!r->worker) {
		r_ = -errno;
		goto fail;
	}
	r_ = worker_add_fd(r->worker, r->timer_fd, EPOLLIN, timer_ready, r);
	if (!r_)
		r_ = worker_start(r->worker);
	if (r_)
		goto fail;
	pthread_mutex_lock(&r->lock);
	rearm(r);
	pthread_mutex_unlock(&r->lock);
	return 0;
fail:
	worker_destroy(r->worker);
	r->worker = NULL;
	close(r->timer_fd);
	r->timer_fd = -1;
	return r_;
}

int rtc_pause(struct rtc *r)
{
	return r->worker ? worker_pause(r->worker) : 0;
}

int rtc_resume(struct rtc *r)
{
	return r->worker ? worker_resume(r->worker) : 0;
}

void rtc_destroy(struct rtc *r)
{
	worker_destroy(r->worker);
	r->worker = NULL;
	if (r->timer_fd >= 0)
		close(r->timer_fd);
	r->timer_fd = -1;
	pthread_mutex_destroy(&r->lock);
}

static uint8_t rtc_read(struct rtc *r)
{
	uint8_t i = r->index, v;

	switch (i) {
	case REG_SEC:
	case REG_MIN:
	case REG_HOUR:
	case REG_WDAY:
	case REG_MDAY:
	case REG_MONTH:
	case REG_YEAR:
	case REG_CENTURY:
		if (!(r->cmos[REG_B] & B_SET))
			latch_time(r);
		return r->cmos[i];
	case REG_A:
		return r->cmos[REG_A] & 0x7f; /* update-in-progress never set */
	case REG_C:
		/* A guest polling without interrupts still sees the update and alarm flags. */
		r->reg_c |= due_flags(r);
		v = r->reg_c;
		if (!(v & C_IRQF) && (v & r->cmos[REG_B] & (C_PF | C_AF | C_UF)))
			v |= C_IRQF;
		r->reg_c = 0;
		r->irq_line = false;
		return v;
	case REG_D:
		return 0x80; /* battery good, CMOS valid */
	default:
		return r->cmos[i];
	}
}

static void rtc_write(struct rtc *r, uint8_t v)
{
	uint8_t i = r->index, old_b = r->cmos[REG_B];

	switch (i) {
	case REG_SEC:
	case REG_MIN:
	case REG_HOUR:
	case REG_WDAY:
	case REG_MDAY:
	case REG_MONTH:
	case REG_YEAR:
	case REG_CENTURY:
		if (old_b & B_SET) {
			r->cmos[i] = v;
		} else {
			/* Setting one field of a running clock sets the clock. */
			latch_time(r);
			r->cmos[i] = v;
			commit_time(r);
		}
		break;
	case REG_A:
		r->cmos[REG_A] = v & 0x7f;
		rearm(r);
		break;
	case REG_B:
		if (v & B_SET)
			v &= (uint8_t)~B_UIE; /* as the part does */
		if ((v & B_SET) && !(old_b & B_SET))
			latch_time(r);
		/* The format bits change how the latched registers read: re-latch in the new
		 * format unless the guest is in the middle of setting them. */
		r->cmos[REG_B] = v;
		if (!(v & B_SET) && (old_b & B_SET))
			commit_time(r);
		rearm(r);
		break;
	case REG_C:
	case REG_D:
		break; /* read-only */
	default:
		r->cmos[i] = v;
		break;
	}
}

void rtc_pio(struct rtc *r, uint16_t port, uint8_t *data, bool is_write)
{
	pthread_mutex_lock(&r->lock);
	if (port == 0x70) {
		if (is_write)
			r->index = data[0] & 0x7f;
		else
			data[0] = 0xff;
	} else if (is_write) {
		rtc_write(r, data[0]);
	} else {
		data[0] = rtc_read(r);
	}
	pthread_mutex_unlock(&r->lock);
}

/* --- snapshot --- */

#define RTC_STATE_MAGIC 0x4c435452 /* "RTCL" */

struct rtc_state {
	uint32_t magic;
	uint8_t index, reg_c, irq_line, pad;
	int64_t offset, last_sec;
	uint8_t cmos[128];
};

long rtc_save(struct rtc *r, void *buf, size_t cap)
{
	struct rtc_state st = {.magic = RTC_STATE_MAGIC};

	if (cap < sizeof(st))
		return -ENOSPC;
	pthread_mutex_lock(&r->lock);
	st.index = r->index;
	st.reg_c = r->reg_c;
	st.irq_line = r->irq_line;
	st.offset = r->offset;
	st.last_sec = r->last_sec;
	memcpy(st.cmos, r->cmos, sizeof(st.cmos));
	pthread_mutex_unlock(&r->lock);
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

int rtc_restore(struct rtc *r, const void *buf, size_t len)
{
	struct rtc_state st;

	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	/* The guest can only select indices below 128; the offset keeps time_t in range
	 * (about ±290 billion years is not a clock anybody set). */
	if (st.magic != RTC_STATE_MAGIC || st.index >= 128 || st.irq_line > 1 ||
	    st.offset > (INT64_C(1) << 40) || st.offset < -(INT64_C(1) << 40) ||
	    st.last_sec > (INT64_C(1) << 42) || st.last_sec < -(INT64_C(1) << 42))
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	r->index = st.index;
	r->reg_c = st.reg_c;
	r->irq_line = st.irq_line;
	r->offset = st.offset;
	r->last_sec = st.last_sec;
	memcpy(r->cmos, st.cmos, sizeof(r->cmos));
	rearm(r);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

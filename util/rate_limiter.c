/* util/rate_limiter.c — token buckets for bandwidth and operations. See rate_limiter.h.
 *
 * Trusts its callers (device code and the config parser); the numbers charged come from
 * lengths the devices already checked.
 */
#include "util/rate_limiter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>

#define NS_PER_MS 1000000ULL
/* Keeps size x refill_ns well inside __int128 and a day's worth of refill in range. */
#define RL_MAX_TOKENS	 (1ULL << 50)
#define RL_MAX_REFILL_MS (24ULL * 3600 * 1000)

uint64_t rate_limiter_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool rl_bucket_config_is_limited(const struct rl_bucket_config *b)
{
	return b->size && b->refill_time_ms;
}

bool rate_limiter_config_is_limited(const struct rate_limiter_config *c)
{
	return rl_bucket_config_is_limited(&c->bandwidth) || rl_bucket_config_is_limited(&c->ops);
}

static void bucket_set(struct rl_bucket *b, const struct rl_bucket_config *c, uint64_t now)
{
	memset(b, 0, sizeof(*b));
	if (!rl_bucket_config_is_limited(c))
		return;
	b->size = c->size < RL_MAX_TOKENS ? c->size : RL_MAX_TOKENS;
	b->refill_ns =
	    (c->refill_time_ms < RL_MAX_REFILL_MS ? c->refill_time_ms : RL_MAX_REFILL_MS) *
	    NS_PER_MS;
	b->burst = c->one_time_burst < RL_MAX_TOKENS ? c->one_time_burst : RL_MAX_TOKENS;
	b->budget = (__int128)b->size * b->refill_ns; /* starts full */
	b->last_ns = now;
}

static void bucket_refill(struct rl_bucket *b, uint64_t now)
{
	if (!b->size || now <= b->last_ns)
		return;
	__int128 full = (__int128)b->size * b->refill_ns;
	uint64_t elapsed = now - b->last_ns;
	b->last_ns = now;
	/* elapsed < 2^64 and size <= 2^50: the product fits. */
	b->budget += (__int128)elapsed * b->size;
	if (b->budget > full)
		b->budget = full;
}

static uint64_t bucket_wait(const struct rl_bucket *b)
{
	if (!b->size || b->burst || b->budget > 0)
		return 0;
	/* The budget turns positive after (1 - budget) / size ns, rounded up. */
	__int128 need = 1 - b->budget;
	__int128 ns = (need + b->size - 1) / b->size;
	return ns > (__int128)UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

static void bucket_charge(struct rl_bucket *b, uint64_t tokens)
{
	if (!b->size)
		return;
	uint64_t from_burst = tokens < b->burst ? tokens : b->burst;
	b->burst -= from_burst;
	tokens -= from_burst;
	if (tokens > RL_MAX_TOKENS)
		tokens = RL_MAX_TOKENS;
	b->budget -= (__int128)tokens * b->refill_ns;
}

void rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_config *cfg)
{
	static const struct rate_limiter_config none;

	memset(rl, 0, sizeof(*rl));
	pthread_mutex_init(&rl->lock, NULL);
	rate_limiter_set(rl, cfg ? cfg : &none);
}

void rate_limiter_fini(struct rate_limiter *rl)
{
	pthread_mutex_destroy(&rl->lock);
}

void rate_limiter_set_at(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
			 uint64_t now_ns)
{
	pthread_mutex_lock(&rl->lock);
	bucket_set(&rl->bw, &cfg->bandwidth, now_ns);
	bucket_set(&rl->ops, &cfg->ops, now_ns);
	__atomic_store_n(&rl->is_limited, rl->bw.size || rl->ops.size, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rl->lock);
}

void rate_limiter_set(struct rate_limiter *rl, const struct rate_limiter_config *cfg)
{
	rate_limiter_set_at(rl, cfg, rate_limiter_now_ns());
}

bool rate_limiter_is_limited(struct rate_limiter *rl)
{
	return __atomic_load_n(&rl->is_limited, __ATOMIC_ACQUIRE);
}

uint64_t rate_limiter_wait_at(struct rate_limiter *rl, uint64_t now_ns)
{
	uint64_t a, b;

	pthread_mutex_lock(&rl->lock);
	bucket_refill(&rl->bw, now_ns);
	bucket_refill(&rl->ops, now_ns);
	a = bucket_wait(&rl->bw);
	b = bucket_wait(&rl->ops);
	if (a || b)
		rl->nr_throttled++;
	pthread_mutex_unlock(&rl->lock);
	return a > b ? a : b;
}

uint64_t rate_limiter_wait(struct rate_limiter *rl)
{
	return rate_limiter_wait_at(rl, rate_limiter_now_ns());
}

void rate_limiter_charge_at(struct rate_limiter *rl, uint64_t bytes, uint64_t ops, uint64_t now_ns)
{
	pthread_mutex_lock(&rl->lock);
	bucket_refill(&rl->bw, now_ns);
	bucket_refill(&rl->ops, now_ns);
	bucket_charge(&rl->bw, bytes);
	bucket_charge(&rl->ops, ops);
	pthread_mutex_unlock(&rl->lock);
}

void rate_limiter_charge(struct rate_limiter *rl, uint64_t bytes, uint64_t ops)
{
	rate_limiter_charge_at(rl, bytes, ops, rate_limiter_now_ns());
}

int rate_limiter_arm_timer(int fd, uint64_t ns)
{
	struct itimerspec its = {0};

	if (ns < 1000)
		ns = 1000;
	its.it_value.tv_sec = (time_t)(ns / 1000000000ULL);
	its.it_value.tv_nsec = (long)(ns % 1000000000ULL);
	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

static int rl_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rl_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A count with an optional K/M/G suffix; *end past it. */
static int parse_count(const char *s, const char **end, uint64_t *out)
{
	char *e;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno)
		return -EINVAL;
	switch (*e) {
	case 'k':
	case 'K':
		shift = 10;
		e++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		e++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		e++;
		break;
	}
	if (v > (RL_MAX_TOKENS >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	*end = e;
	return 0;
}

int rl_bucket_parse(struct rl_bucket_config *b, const char *s, char *err, size_t errlen)
{
	const char *p = s;
	uint64_t refill = 1000, burst = 0, size;

	if (parse_count(p, &p, &size) < 0 || size == 0)
		return rl_fail(err, errlen, "%s: bucket size must be a positive number", s);
	if (*p == ':') {
		char *e;
		if (p[1] < '0' || p[1] > '9')
			return rl_fail(err, errlen, "%s: refill time must be milliseconds", s);
		errno = 0;
		refill = strtoull(p + 1, &e, 10);
		if (errno || refill == 0 || refill > RL_MAX_REFILL_MS)
			return rl_fail(err, errlen, "%s: refill time must be 1..%llu ms", s,
				       (unsigned long long)RL_MAX_REFILL_MS);
		p = e;
		if (*p == ':' && (parse_count(p + 1, &p, &burst) < 0))
			return rl_fail(err, errlen, "%s: one-time burst must be a number", s);
	}
	if (*p)
		return rl_fail(err, errlen, "%s: expected SIZE[:REFILL_MS[:BURST]]", s);
	*b = (struct rl_bucket_config){
	    .size = size, .one_time_burst = burst, .refill_time_ms = refill};
	return 0;
}

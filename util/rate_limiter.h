/* util/rate_limiter.h — Firecracker-style rate limiter: two token buckets, bandwidth
 * (bytes) and operations, each with a size, a refill time and a one-time burst.
 *
 * A bucket holds up to `size` tokens and refills at size / refill_time_ms, continuously.
 * `one_time_burst` extra tokens are spent first and never come back. A bucket with size 0
 * (or refill time 0) does not limit.
 *
 * Use (a device worker): before starting a piece of work ask rate_limiter_wait(); if it
 * returns 0 go ahead and afterwards rate_limiter_charge() what the work cost (bytes, ops).
 * Work is admitted while both buckets hold a positive budget; its charge may take a bucket
 * below zero (a 1 MiB write through a 64 KiB bucket is allowed, then nothing until the debt
 * is refilled), so long-run throughput is exactly the refill rate and nothing is ever
 * dropped or failed. A non-zero wait is the time in ns until admission: arm a timerfd
 * (rate_limiter_arm_timer) on the worker and try again when it fires.
 *
 * Thread-safe: one limiter may be shared by the queues of a multi-queue device, and
 * rate_limiter_set() may be called from any thread at run time (the buckets restart
 * full with the new shape).
 */
#ifndef ARCVMM_UTIL_RATE_LIMITER_H
#define ARCVMM_UTIL_RATE_LIMITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_bucket_config {
	uint64_t size;		 /* tokens; 0: no limit */
	uint64_t one_time_burst; /* extra tokens at the start */
	uint64_t refill_time_ms; /* time to refill `size` tokens; 0: no limit */
};

/* Firecracker's RateLimiter object: {"bandwidth": TokenBucket, "ops": TokenBucket}. */
struct rate_limiter_config {
	struct rl_bucket_config bandwidth;
	struct rl_bucket_config ops;
};

struct rl_bucket {
	uint64_t size, refill_ns;
	uint64_t burst;	  /* one-time tokens left */
	__int128 budget;  /* tokens x refill_ns (so refill has no rounding); may be < 0 */
	uint64_t last_ns; /* when budget was last refilled */
};

struct rate_limiter {
	pthread_mutex_t lock;
	struct rl_bucket bw, ops;
	uint64_t nr_throttled; /* times rate_limiter_wait said "not yet" */
	bool is_limited;       /* read without the lock (atomic) on the fast path */
};

bool rl_bucket_config_is_limited(const struct rl_bucket_config *b);
bool rate_limiter_config_is_limited(const struct rate_limiter_config *c);

void rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_config *cfg);
void rate_limiter_fini(struct rate_limiter *rl);
/* Changes the shape at run time; the buckets restart full. */
void rate_limiter_set(struct rate_limiter *rl, const struct rate_limiter_config *cfg);
bool rate_limiter_is_limited(struct rate_limiter *rl);

/* 0: go ahead now; else ns until work can be admitted. */
uint64_t rate_limiter_wait(struct rate_limiter *rl);
/* Takes bytes and ops tokens (one-time burst first). */
void rate_limiter_charge(struct rate_limiter *rl, uint64_t bytes, uint64_t ops);

/* The same with an explicit CLOCK_MONOTONIC time in ns (for tests). */
void rate_limiter_set_at(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
			 uint64_t now_ns);
uint64_t rate_limiter_wait_at(struct rate_limiter *rl, uint64_t now_ns);
void rate_limiter_charge_at(struct rate_limiter *rl, uint64_t bytes, uint64_t ops, uint64_t now_ns);
uint64_t rate_limiter_now_ns(void);

/* Arms timerfd fd to fire once after ns (at least 1 µs). 0 or -errno. */
int rate_limiter_arm_timer(int fd, uint64_t ns);

/* Parses one bucket from the CLI: "SIZE[:REFILL_MS[:BURST]]" where SIZE and BURST take
 * K/M/G suffixes (powers of 1024) and REFILL_MS defaults to 1000, so "bw=10M" is 10 MiB/s
 * and "bw=1M:100" is the same rate with a 1 MiB bucket. 0 or -EINVAL with err. */
int rl_bucket_parse(struct rl_bucket_config *b, const char *s, char *err, size_t errlen);

#endif

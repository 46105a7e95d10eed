/* tests/unit/test_rate_limiter.c — util/rate_limiter on a simulated clock: admission,
 * debt, refill cap, one-time burst, the ops bucket, a long run's rate, run-time changes,
 * and the CLI bucket syntax.
 */
#include <errno.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "tests/unit/test.h"
#include "util/rate_limiter.h"

#define MS 1000000ULL
#define S  1000000000ULL

TEST(unlimited_never_waits)
{
	struct rate_limiter rl;
	rate_limiter_init(&rl, NULL);
	CHECK(!rate_limiter_is_limited(&rl));
	for (int i = 0; i < 1000; i++) {
		CHECK_EQ(rate_limiter_wait_at(&rl, 0), 0);
		rate_limiter_charge_at(&rl, 1 << 30, 1000, 0);
	}
	rate_limiter_fini(&rl);
}

TEST(debt_is_repaid_at_the_refill_rate)
{
	struct rate_limiter rl;
	struct rate_limiter_config c = {.bandwidth = {.size = 1000, .refill_time_ms = 1000}};
	uint64_t t0 = 5 * S, w;

	rate_limiter_init(&rl, NULL);
	rate_limiter_set_at(&rl, &c, t0);
	CHECK(rate_limiter_is_limited(&rl));
	CHECK_EQ(rate_limiter_wait_at(&rl, t0), 0); /* starts full */
	rate_limiter_charge_at(&rl, 1500, 1, t0);   /* over the size: allowed, 500 in debt */
	w = rate_limiter_wait_at(&rl, t0);
	CHECK(w >= 500 * MS && w <= 500 * MS + 1000); /* 1 token per ms */
	w = rate_limiter_wait_at(&rl, t0 + 250 * MS);
	CHECK(w >= 250 * MS && w <= 250 * MS + 1000);
	CHECK_EQ(rate_limiter_wait_at(&rl, t0 + 501 * MS), 0);
	rate_limiter_fini(&rl);
}

TEST(refill_stops_at_the_size)
{
	struct rate_limiter rl;
	struct rate_limiter_config c = {.bandwidth = {.size = 1000, .refill_time_ms = 100}};

	rate_limiter_init(&rl, NULL);
	rate_limiter_set_at(&rl, &c, 0);
	/* An hour idle saves no more than one bucket. */
	rate_limiter_charge_at(&rl, 2000, 0, 3600 * S);
	uint64_t w = rate_limiter_wait_at(&rl, 3600 * S);
	CHECK(w >= 100 * MS && w <= 100 * MS + 1000); /* 1000 in debt at 10 tokens/ms */
	rate_limiter_fini(&rl);
}

TEST(one_time_burst_is_spent_first_and_once)
{
	struct rate_limiter rl;
	struct rate_limiter_config c = {
	    .bandwidth = {.size = 1000, .one_time_burst = 5000, .refill_time_ms = 1000}};

	rate_limiter_init(&rl, &c);
	rate_limiter_set_at(&rl, &c, 0);
	rate_limiter_charge_at(&rl, 5000, 0, 0);
	CHECK_EQ(rate_limiter_wait_at(&rl, 0), 0); /* the bucket itself is still full */
	rate_limiter_charge_at(&rl, 2000, 0, 0);
	uint64_t w = rate_limiter_wait_at(&rl, 0);
	CHECK(w >= 1000 * MS && w <= 1000 * MS + 1000);
	/* Once refilled, the burst does not come back. */
	rate_limiter_charge_at(&rl, 2000, 0, 10 * S);
	CHECK(rate_limiter_wait_at(&rl, 10 * S) >= 1000 * MS);
	rate_limiter_fini(&rl);
}

TEST(ops_bucket_limits_on_its_own)
{
	struct rate_limiter rl;
	struct rate_limiter_config c = {.ops = {.size = 10, .refill_time_ms = 1000}};
	unsigned admitted = 0;
	uint64_t now = 0;

	rate_limiter_init(&rl, NULL);
	rate_limiter_set_at(&rl, &c, 0);
	/* Bytes cost nothing here; 10 ops per second, over 20 simulated seconds. */
	while (now < 20 * S) {
		uint64_t w = rate_limiter_wait_at(&rl, now);
		if (w) {
			now += w;
			continue;
		}
		rate_limiter_charge_at(&rl, 1 << 20, 1, now);
		admitted++;
	}
	/* 10 to start with, 10 per second after, at most one op of overshoot. */
	CHECK(admitted >= 209 && admitted <= 211);
	rate_limiter_fini(&rl);
}

/* A worker-like loop on a simulated clock: 64 KiB requests through 10 MiB/s. */
static double simulated_rate(const struct rate_limiter_config *c, uint64_t seconds)
{
	struct rate_limiter rl;
	uint64_t now = 0, bytes = 0;

	rate_limiter_init(&rl, NULL);
	rate_limiter_set_at(&rl, c, 0);
	while (now < seconds * S) {
		uint64_t w = rate_limiter_wait_at(&rl, now);
		if (w) {
			now += w;
			continue;
		}
		rate_limiter_charge_at(&rl, 65536, 1, now);
		bytes += 65536;
		now += 20000; /* the I/O itself takes 20 µs */
	}
	rate_limiter_fini(&rl);
	return (double)bytes / (double)seconds;
}

TEST(long_run_rate_is_the_refill_rate)
{
	struct rate_limiter_config c = {.bandwidth = {.size = 1 << 20, .refill_time_ms = 100}};
	double r = simulated_rate(&c, 10);
	double want = 10.0 * (1 << 20);
	/* One bucket of start-up credit over ten seconds: +1%, plus one request. */
	CHECK(r >= want * 0.999 && r <= want * 1.02);
	c.bandwidth = (struct rl_bucket_config){.size = 10 << 20, .refill_time_ms = 1000};
	r = simulated_rate(&c, 100);
	CHECK(r >= want * 0.999 && r <= want * 1.02);
}

TEST(set_at_run_time_takes_the_new_shape)
{
	struct rate_limiter rl;
	struct rate_limiter_config slow = {.bandwidth = {.size = 100, .refill_time_ms = 1000}};
	struct rate_limiter_config none = {0};

	rate_limiter_init(&rl, &slow);
	rate_limiter_set_at(&rl, &slow, 0);
	rate_limiter_charge_at(&rl, 100000, 0, 0);
	CHECK(rate_limiter_wait_at(&rl, 0) > 900 * S); /* a long debt */
	rate_limiter_set_at(&rl, &none, 1);
	CHECK(!rate_limiter_is_limited(&rl));
	CHECK_EQ(rate_limiter_wait_at(&rl, 1), 0);
	rate_limiter_set_at(&rl, &slow, 2);
	CHECK_EQ(rate_limiter_wait_at(&rl, 2), 0); /* restarts full, the old debt forgotten */
	rate_limiter_fini(&rl);
}

TEST(timer_is_armed)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	struct itimerspec its;

	CHECK(fd >= 0);
	CHECK_EQ(rate_limiter_arm_timer(fd, 3 * S), 0);
	CHECK_EQ(timerfd_gettime(fd, &its), 0);
	CHECK(its.it_value.tv_sec >= 2 && its.it_value.tv_sec <= 3);
	CHECK_EQ(its.it_interval.tv_sec, 0);
	close(fd);
}

TEST(bucket_syntax)
{
	struct rl_bucket_config b;
	char err[128];

	CHECK_EQ(rl_bucket_parse(&b, "10M", err, sizeof(err)), 0);
	CHECK_EQ(b.size, 10 << 20);
	CHECK_EQ(b.refill_time_ms, 1000);
	CHECK_EQ(b.one_time_burst, 0);
	CHECK_EQ(rl_bucket_parse(&b, "1M:100:5M", err, sizeof(err)), 0);
	CHECK_EQ(b.size, 1 << 20);
	CHECK_EQ(b.refill_time_ms, 100);
	CHECK_EQ(b.one_time_burst, 5 << 20);
	CHECK_EQ(rl_bucket_parse(&b, "500", err, sizeof(err)), 0);
	CHECK_EQ(b.size, 500);
	const char *bad[] = {"",
			     "0",
			     "x",
			     "-1",
			     "1M:",
			     "1M:0",
			     "1M:abc",
			     "1M:100:zz",
			     "1M:100:5M:1",
			     "1T",
			     "99999999999999999999"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK_EQ(rl_bucket_parse(&b, bad[i], err, sizeof(err)), -EINVAL);
		CHECK(err[0] != '\0');
	}
}

int main(void)
{
	RUN(unlimited_never_waits);
	RUN(debt_is_repaid_at_the_refill_rate);
	RUN(refill_stops_at_the_size);
	RUN(one_time_burst_is_spent_first_and_once);
	RUN(ops_bucket_limits_on_its_own);
	RUN(long_run_rate_is_the_refill_rate);
	RUN(set_at_run_time_takes_the_new_shape);
	RUN(timer_is_armed);
	RUN(bucket_syntax);
	return test_summary();
}

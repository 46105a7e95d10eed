/* tests/unit/test_net_rate_limit.c — virtio-net with rate limiters, driven in-process by
 * the simulated driver (bench/net/sim_driver.h) over a socketpair (the fd= backend):
 *   - tx-bw=1M:100 (10 MiB/s): the driver queues 1500-byte frames as fast as the ring
 *     takes them; a reader thread counts what reaches the peer: within 10% of the limit
 *     over ARCVMM_RL_TEST_SECONDS (default 10 s), every frame arrives, in order;
 *   - rx-bw=1M:100: a writer thread floods the peer end (blocking sends: the socket holds
 *     what the device does not take yet); what the driver receives holds the same way,
 *     with nothing lost;
 *   - virtio_net_set_rate_limiters() at run time lifts the TX limit.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/net/sim_driver.h"
#include "devices/virtio_net.h"
#include "tests/unit/test.h"

#define FRAME 1500

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

struct peer {
	int fd;
	atomic_bool stop; /* set by the test, read by its threads */
	uint64_t bytes, frames, out_of_order;
	pthread_t th;
};

static void make_frame(uint8_t *f, uint32_t seq)
{
	memset(f, 0, FRAME);
	memset(f, 0xff, 6); /* broadcast */
	f[6] = 0x52;	    /* source */
	f[12] = 0x88;	    /* local experimental ethertype */
	f[13] = 0xb5;
	memcpy(f + 14, &seq, 4);
}

static void *reader(void *arg)
{
	struct peer *p = arg;
	uint8_t buf[65536];
	uint32_t expect = 0;

	while (!p->stop) {
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			continue;
		uint32_t seq;
		memcpy(&seq, buf + 14, 4);
		if (seq != expect)
			p->out_of_order++;
		expect = seq + 1;
		__atomic_add_fetch(&p->bytes, (uint64_t)n, __ATOMIC_RELAXED);
		p->frames++;
	}
	return NULL;
}

static void *writer(void *arg)
{
	struct peer *p = arg;
	uint8_t f[FRAME];

	for (uint32_t seq = 0; !p->stop; seq++) {
		make_frame(f, seq);
		/* Blocks while the socket is full: nothing is dropped on this side. */
		while (!p->stop) {
			struct pollfd pfd = {.fd = p->fd, .events = POLLOUT};
			if (poll(&pfd, 1, 50) > 0 && send(p->fd, f, FRAME, MSG_DONTWAIT) == FRAME)
				break;
		}
	}
	return NULL;
}

static int open_dev(struct sim_drv *d, int sv[2], const char *limits)
{
	char spec[128], err[256];

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
		return -1;
	test_snprintf(spec, sizeof(spec), "fd=%d,mac=52:54:00:aa:bb:cc%s", sv[0], limits);
	if (sim_create(d, spec, err, sizeof(err))) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	return sim_driver_init(d, ~0ULL, 256);
}

/* Sends frames for seconds; returns the peer's received bytes per second. */
static double tx_for(struct sim_drv *d, struct peer *p, double seconds, uint32_t *seq)
{
	struct virtio_net_hdr_v1 h = {.num_buffers = 0};
	uint8_t f[FRAME];
	uint64_t b0 = __atomic_load_n(&p->bytes, __ATOMIC_RELAXED);
	double t0 = now_s();

	while (now_s() - t0 < seconds) {
		make_frame(f, (*seq)++);
		if (sim_tx_frame(d, &h, f, FRAME, 1) < 0)
			break;
	}
	return (double)(__atomic_load_n(&p->bytes, __ATOMIC_RELAXED) - b0) / (now_s() - t0);
}

TEST(tx_limit_holds)
{
	struct sim_drv d;
	struct peer p = {0};
	int sv[2];
	uint32_t seq = 0;
	double want = 10.0 * (1 << 20), secs = test_seconds();

	CHECK_EQ(open_dev(&d, sv, ",tx-bw=1M:100"), 0);
	p.fd = sv[1];
	pthread_create(&p.th, NULL, reader, &p);
	double rate = tx_for(&d, &p, secs, &seq);
	printf("     tx: %.2f MiB/s over %.0f s (limit 10 MiB/s)\n", rate / (1 << 20), secs);
	CHECK(rate >= want * 0.9 && rate <= want * 1.1);
	/* Lift the limit at run time: TX runs free at once. */
	CHECK_EQ(virtio_net_set_rate_limiters(d.net, NULL, &(struct rate_limiter_config){0}), 0);
	double free_rate = tx_for(&d, &p, 1, &seq);
	printf("     tx without the limit: %.1f MiB/s\n", free_rate / (1 << 20));
	CHECK(free_rate > 2 * want);
	usleep(200000);
	p.stop = true;
	pthread_join(p.th, NULL);
	CHECK_EQ(p.out_of_order, 0); /* in order and none missing */
	sim_destroy(&d);
	close(sv[1]);
}

TEST(rx_limit_holds)
{
	struct sim_drv d;
	struct peer p = {0};
	int sv[2];
	double want = 10.0 * (1 << 20), secs = test_seconds();
	uint64_t bytes = 0, lost = 0;
	uint32_t expect = 0;

	CHECK_EQ(open_dev(&d, sv, ",rx-bw=1M:100"), 0);
	sim_rx_setup(&d, 256, 1, 2048);
	sim_rx_post(&d, 0, 256);
	p.fd = sv[1];
	pthread_create(&p.th, NULL, writer, &p);
	double t0 = now_s();
	while (now_s() - t0 < secs) {
		uint32_t id, len;
		uint16_t old = d.vq[VIRTIO_NET_RXQ].avail_idx;
		unsigned n = 0;
		while (sim_get_used(&d, VIRTIO_NET_RXQ, &id, &len)) {
			const uint8_t *f = sim_ptr(&d, sim_rx_buf_gpa(&d, id)) + 12;
			uint32_t seq;
			memcpy(&seq, f + 14, 4);
			if (seq != expect)
				lost++;
			expect = seq + 1;
			bytes += len - 12;
			sim_rx_add(&d, id);
			n++;
		}
		if (n)
			sim_publish(&d, VIRTIO_NET_RXQ, old, false);
		else if (!sim_arm_irq(&d, VIRTIO_NET_RXQ))
			sim_wait_irq(&d, 50);
	}
	double rate = (double)bytes / (now_s() - t0);
	printf("     rx: %.2f MiB/s over %.0f s (limit 10 MiB/s)\n", rate / (1 << 20), secs);
	CHECK(rate >= want * 0.9 && rate <= want * 1.1);
	CHECK_EQ(lost, 0);
	p.stop = true;
	pthread_join(p.th, NULL);
	sim_destroy(&d);
	close(sv[1]);
}

TEST(limit_syntax_errors)
{
	struct sim_drv d;
	char err[256];
	int sv[2];

	CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	char spec[64];
	test_snprintf(spec, sizeof(spec), "fd=%d,rx-bw=fast", sv[0]);
	CHECK(sim_create(&d, spec, err, sizeof(err)) != 0);
	CHECK(strstr(err, "rx-bw=fast") != NULL);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN(tx_limit_holds);
	RUN(rx_limit_holds);
	RUN(limit_syntax_errors);
	return test_summary();
}

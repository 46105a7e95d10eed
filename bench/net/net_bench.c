/* bench/net/net_bench.c — virtio-net RX datapath throughput without a vCPU.
 *
 * For each backend (a SOCK_DGRAM socketpair; a TAP in a private network namespace fed by
 * an AF_PACKET socket) and frame size, a producer thread sends N numbered frames and two
 * consumers drain them in turn:
 *   plain  — a loop that reads the backend fd directly (recvmmsg / read) into host memory;
 *   device — the virtio-net device's RX worker writing into a simulated guest's RX ring,
 *            the simulated driver (bench/net/sim_driver.h) taking used buffers, checking
 *            each frame's sequence number and reposting, interrupts through the irqfd.
 * It prints frames/s, Gbit/s (Ethernet frame bytes), the device/plain ratio (goal >= 0.7)
 * and frames lost (sent - received in order; must be 0).
 *
 * The socketpair producer blocks when the socket is full (the backpressure the device
 * relies on). A TAP drops frames when its queue overflows (in the kernel, before anyone
 * reads), so the TAP producer keeps at most TAP_WINDOW frames in flight for both
 * consumers alike.
 *
 * Usage: net_bench [frames]   (default 200000). Trusts its environment; needs root for the
 * TAP part (it is skipped otherwise).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backends/tap.h"
#include "bench/net/sim_driver.h"
#include "util/seccomp.h"

#define TAP_WINDOW 256
#define TAP_NAME   "vnb0"

struct producer {
	int fd;
	bool is_packet; /* AF_PACKET on the TAP: windowed */
	uint32_t count;
	size_t len;
	atomic_uint_fast64_t received;
	uint64_t credited; /* consumer side: received when it last wrote credit_fd */
	atomic_bool is_stopping;
	int credit_fd; /* eventfd: consumer -> producer, "window opened" */
	pthread_t th;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill_frame(uint8_t *f, size_t len, uint32_t seq)
{
	memcpy(f, "\x52\x54\x00\xaa\xbb\xcc\x02\x00\x00\x00\x00\x02\x88\xb5", 14);
	memset(f + 14, 0x5a, len - 14);
	memcpy(f + 14, &seq, 4);
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	uint8_t f[2048];

	for (uint32_t seq = 0; seq < p->count; seq++) {
		if (p->is_packet) {
			while (seq - atomic_load(&p->received) >= TAP_WINDOW &&
			       !atomic_load(&p->is_stopping)) {
				uint64_t v;
				if (read(p->credit_fd, &v, sizeof(v)) < 0 && errno != EINTR)
					break;
			}
		}
		fill_frame(f, p->len, seq);
		while (send(p->fd, f, p->len, 0) < 0) {
			if (errno != EINTR && errno != ENOBUFS && errno != EAGAIN) {
				perror("net_bench: producer send");
				return NULL;
			}
			sched_yield();
		}
	}
	return NULL;
}

static void consumer_progress(struct producer *p, uint64_t got)
{
	atomic_store(&p->received, got);
	if (p->is_packet && got - p->credited >= 32) {
		p->credited = got;
		uint64_t one = 1;
		ssize_t r = write(p->credit_fd, &one, sizeof(one));
		(void)r;
	}
}

static void producer_start(struct producer *p, int fd, bool is_packet, uint32_t n, size_t len)
{
	p->fd = fd;
	p->is_packet = is_packet;
	p->count = n;
	p->len = len;
	atomic_store(&p->received, 0);
	atomic_store(&p->is_stopping, false);
	p->credited = 0;
	p->credit_fd = eventfd(0, EFD_CLOEXEC);
	pthread_create(&p->th, NULL, producer_main, p);
}

static void producer_join(struct producer *p)
{
	uint64_t one = 1;
	atomic_store(&p->is_stopping, true);
	ssize_t r = write(p->credit_fd, &one, sizeof(one));
	(void)r;
	pthread_join(p->th, NULL);
	close(p->credit_fd);
}

struct result {
	double secs;
	uint64_t frames, lost;
};

/* plain: drain fd (a datagram socket or a TAP with a 12-byte vnet header) until n frames
 * came or 3 s passed without one. */
static struct result plain_drain(int fd, bool is_tap, struct producer *p)
{
	struct result r = {0};
	enum { B = 64 };
	static uint8_t bufs[B][2048];
	struct iovec iov[B];
	struct mmsghdr m[B];
	uint32_t expect = 0;
	size_t off = is_tap ? 12 : 0;
	double t0 = now_s();

	for (int i = 0; i < B; i++) {
		iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
		memset(&m[i], 0, sizeof(m[i]));
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
	}
	int fl = fcntl(fd, F_GETFL);
	if (!is_tap)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	struct timeval tv = {3, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (r.frames < p->count) {
		int got;
		if (is_tap) {
			/* A TAP has no recvmmsg: read until it is empty, then sleep in poll. */
			ssize_t l = read(fd, bufs[0], sizeof(bufs[0]));
			if (l < 0 && errno == EAGAIN) {
				struct pollfd pf = {.fd = fd, .events = POLLIN};
				if (poll(&pf, 1, 3000) <= 0)
					break;
				continue;
			}
			if (l < 0)
				break;
			m[0].msg_len = (unsigned)l;
			got = 1;
		} else {
			got = recvmmsg(fd, m, B, MSG_WAITFORONE, NULL);
			if (got <= 0)
				break;
		}
		for (int i = 0; i < got; i++) {
			uint32_t seq;
			memcpy(&seq, bufs[i] + off + 14, 4);
			if (m[i].msg_len < off + 18 || bufs[i][off + 12] != 0x88)
				continue; /* not ours (the kernel's own chatter on a TAP) */
			if (seq != expect)
				r.lost += seq > expect ? seq - expect : 0;
			expect = seq + 1;
			r.frames++;
		}
		consumer_progress(p, r.frames);
	}
	r.secs = now_s() - t0;
	fcntl(fd, F_SETFL, fl);
	r.lost += p->count - (r.frames + r.lost < p->count ? r.frames + r.lost : p->count);
	return r;
}

/* device: the simulated driver takes frames from the RX ring. */
static struct result device_drain(struct sim_drv *d, struct producer *p, bool is_tap)
{
	struct result r = {0};
	uint32_t expect = 0;
	double t0 = now_s();

	sim_rx_setup(d, 512, 1, 2048);
	sim_rx_post(d, 0, 512);
	t0 = now_s();
	while (r.frames < p->count) {
		uint32_t id, len;
		uint16_t old = d->vq[VIRTIO_NET_RXQ].avail_idx;
		unsigned n = 0;
		while (sim_get_used(d, VIRTIO_NET_RXQ, &id, &len)) {
			const uint8_t *f = sim_ptr(d, sim_rx_buf_gpa(d, id)) + 12;
			uint32_t seq;
			memcpy(&seq, f + 14, 4);
			if (len >= 12 + 18 && f[12] == 0x88) {
				if (seq != expect)
					r.lost += seq > expect ? seq - expect : 0;
				expect = seq + 1;
				r.frames++;
			}
			sim_rx_add(d, id);
			n++;
		}
		if (n) {
			sim_publish(d, VIRTIO_NET_RXQ, old, false);
			consumer_progress(p, r.frames);
			continue;
		}
		if (sim_arm_irq(d, VIRTIO_NET_RXQ))
			continue;
		if (!sim_wait_irq(d, 3000))
			break;
	}
	r.secs = now_s() - t0;
	r.lost += p->count - (r.frames + r.lost < p->count ? r.frames + r.lost : p->count);
	(void)is_tap;
	return r;
}

struct stats {
	uint64_t irqs, kicks, starved;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int socketpair_once(uint32_t n, size_t len, struct result *plain_out, struct result *dev_out,
			   struct stats *so)
{
	struct producer p;
	int sv[2];
	char spec[64], err[256];
	struct sim_drv d;

	/* plain */
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	producer_start(&p, sv[1], false, n, len);
	struct result plain = plain_drain(sv[0], false, &p);
	producer_join(&p);
	close(sv[0]);
	close(sv[1]);
	/* device */
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	snprintf(spec, sizeof(spec), "fd=%d,mac=52:54:00:aa:bb:cc", sv[0]);
	if (sim_create(&d, spec, err, sizeof(err)) || sim_driver_init(&d, ~0ULL, 1024)) {
		fprintf(stderr, "net_bench: %s\n", err);
		return 1;
	}
	producer_start(&p, sv[1], false, n, len);
	struct result dev = device_drain(&d, &p, false);
	producer_join(&p);
	struct virtio_net_stats st;
	virtio_net_get_stats(d.net, &st);
	*so = (struct stats){st.rx_irqs, d.nr_kicks, st.rx_starved};
	sim_destroy(&d);
	close(sv[1]);
	*plain_out = plain;
	*dev_out = dev;
	return 0;
}

static int link_up_packet(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	int one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = (int)if_nametoindex(name)};
	bind(fd, (struct sockaddr *)&sll, sizeof(sll));
	return fd;
}

static int tap_once(uint32_t n, size_t len, struct result *plain_out, struct result *dev_out,
		    struct stats *so)
{
	struct producer p;
	char err[256];
	struct sim_drv d;

	/* plain: the same backend code opens the TAP; a loop reads its fd. */
	struct net_backend *be = tap_create(TAP_NAME, err, sizeof(err));
	if (!be) {
		fprintf(stderr, "net_bench: tap: %s\n", err);
		return 1;
	}
	int pk = link_up_packet(TAP_NAME);
	producer_start(&p, pk, true, n, len);
	struct result plain = plain_drain(be->rx_fd, true, &p);
	producer_join(&p);
	close(pk);
	net_backend_destroy(be);
	/* device */
	if (sim_create(&d, "tap=" TAP_NAME ",mac=52:54:00:aa:bb:cc", err, sizeof(err)) ||
	    sim_driver_init(&d, ~0ULL, 1024)) {
		fprintf(stderr, "net_bench: %s\n", err);
		return 1;
	}
	pk = link_up_packet(TAP_NAME);
	producer_start(&p, pk, true, n, len);
	struct result dev = device_drain(&d, &p, true);
	producer_join(&p);
	struct virtio_net_stats st;
	virtio_net_get_stats(d.net, &st);
	*so = (struct stats){st.rx_irqs, d.nr_kicks, st.rx_starved};
	close(pk);
	sim_destroy(&d);
	*plain_out = plain;
	*dev_out = dev;
	return 0;
}

#define REPS 5

/* Runs REPS alternating rounds; prints medians. Returns 1 if any frame was lost. */
static int bench(const char *name, uint32_t n, size_t len,
		 int (*once)(uint32_t, size_t, struct result *, struct result *, struct stats *))
{
	double pf[REPS], df[REPS], ratio[REPS];
	uint64_t lost = 0;
	struct stats so = {0};

	for (unsigned i = 0; i < REPS; i++) {
		struct result pl, dv;
		if (once(n, len, &pl, &dv, &so))
			return 1;
		pf[i] = pl.frames / pl.secs;
		df[i] = dv.frames / dv.secs;
		ratio[i] = df[i] / pf[i];
		lost += pl.lost + dv.lost;
	}
	double p = median(pf, REPS), d = median(df, REPS), r = median(ratio, REPS);
	printf("%-10s %5zu B  plain %8.0f f/s %6.2f Gbit/s | device %8.0f f/s %6.2f Gbit/s | "
	       "ratio %.2f | lost %llu | last run: irqs %llu kicks %llu starved %llu\n",
	       name, len, p, p * len * 8 / 1e9, d, d * len * 8 / 1e9, r, (unsigned long long)lost,
	       (unsigned long long)so.irqs, (unsigned long long)so.kicks,
	       (unsigned long long)so.starved);
	return lost != 0;
}

/* The device half of one round only (for the seccomp comparison): the device drains n
 * frames of len bytes from a socketpair (is_tap false) or the TAP; frames per second, or
 * -1 on a setup failure or a lost frame. *cpu_per_frame: the process's CPU seconds (all
 * threads: producer, device worker, simulated driver) per frame. */
static double device_round(uint32_t n, size_t len, bool is_tap, double *cpu_per_frame)
{
	struct producer p;
	struct sim_drv d;
	char spec[64], err[256];
	int sv[2] = {-1, -1}, pk = -1;

	if (is_tap) {
		snprintf(spec, sizeof(spec), "tap=%s,mac=52:54:00:aa:bb:cc", TAP_NAME);
	} else {
		socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
		snprintf(spec, sizeof(spec), "fd=%d,mac=52:54:00:aa:bb:cc", sv[0]);
	}
	if (sim_create(&d, spec, err, sizeof(err)) || sim_driver_init(&d, ~0ULL, 1024)) {
		fprintf(stderr, "net_bench: %s\n", err);
		return -1;
	}
	if (is_tap)
		pk = link_up_packet(TAP_NAME);
	struct timespec c0, c1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	producer_start(&p, is_tap ? pk : sv[1], is_tap, n, len);
	struct result dev = device_drain(&d, &p, is_tap);
	producer_join(&p);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	*cpu_per_frame = ((double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9) /
			 (dev.frames ? (double)dev.frames : 1);
	sim_destroy(&d);
	if (pk >= 0)
		close(pk);
	if (sv[1] >= 0)
		close(sv[1]);
	return dev.lost ? -1 : dev.frames / dev.secs;
}

/* No IPv6 on the namespace's new links: the TAP would carry router solicitations. */
static void quiet_ipv6(void)
{
	int fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY);
	if (fd >= 0) {
		ssize_t r = write(fd, "1", 1);
		(void)r;
		close(fd);
	}
}

#define CMP_REPS 11

/* ARCVMM_BENCH_SECCOMP=compare: CMP_REPS pairs of device rounds, one with the workers'
 * filters off and one with them on (the order swapped every pair, so a slow drift of the
 * machine's load favours neither); prints the medians and the median of the per-pair
 * ratios: throughput on/off, and CPU per frame off/on (less disturbed by other load on the
 * machine than wall-clock throughput; 1.00 = the filters cost nothing). */
static int seccomp_compare(const char *name, uint32_t n, size_t len, bool is_tap)
{
	double off[CMP_REPS], on[CMP_REPS], ratio[CMP_REPS], cpu[2][CMP_REPS], cratio[CMP_REPS];

	for (unsigned i = 0; i < CMP_REPS; i++) {
		for (unsigned k = 0; k < 2; k++) {
			bool is_on = (k == 0) == (i % 2 == 1);
			seccomp_set_mode(is_on ? SECCOMP_ON : SECCOMP_OFF);
			double fps = device_round(n, len, is_tap, &cpu[is_on][i]);
			if (fps < 0)
				return 1;
			*(is_on ? &on[i] : &off[i]) = fps;
		}
		ratio[i] = on[i] / off[i];
		cratio[i] = cpu[0][i] / cpu[1][i];
	}
	double r = median(ratio, CMP_REPS), cr = median(cratio, CMP_REPS);
	double c_off = median(cpu[0], CMP_REPS), c_on = median(cpu[1], CMP_REPS);
	printf("seccomp %-10s %5zu B  f/s off %8.0f on %8.0f on/off %.3f | CPU ns/frame off %6.0f "
	       "on %6.0f off/on %.3f (medians of %d pairs)\n",
	       name, len, median(off, CMP_REPS), median(on, CMP_REPS), r, c_off * 1e9, c_on * 1e9,
	       cr, CMP_REPS);
	return 0;
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 200000;
	int bad = 0;

	/* ARCVMM_BENCH_SECCOMP=on|log|off: the device workers' seccomp filters (for
	 * bench/seccomp.sh, which compares on against off). */
	enum seccomp_mode sc_mode;
	const char *sc = getenv("ARCVMM_BENCH_SECCOMP");
	if (sc && !strcmp(sc, "compare")) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		bad |= seccomp_compare("socketpair", n, 64, false);
		bad |= seccomp_compare("socketpair", n, 1514, false);
		if (unshare(CLONE_NEWNET) == 0) {
			quiet_ipv6();
			bad |= seccomp_compare("tap", n, 64, true);
			bad |= seccomp_compare("tap", n, 1514, true);
		} else {
			printf("tap: skipped (no network namespace: %s)\n", strerror(errno));
		}
		return bad;
	}
	if (getenv("ARCVMM_BENCH_SECCOMP") &&
	    seccomp_parse_mode(getenv("ARCVMM_BENCH_SECCOMP"), &sc_mode) == 0)
		seccomp_set_mode(sc_mode);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("medians of %d alternating runs of %u frames each; ratio = device/plain\n", REPS, n);
	bad |= bench("socketpair", n, 64, socketpair_once);
	bad |= bench("socketpair", n, 1514, socketpair_once);
	if (unshare(CLONE_NEWNET) == 0) {
		quiet_ipv6();
		bad |= bench("tap", n, 64, tap_once);
		bad |= bench("tap", n, 1514, tap_once);
	} else {
		printf("tap: skipped (no network namespace: %s)\n", strerror(errno));
	}
	if (bad)
		printf("FAIL: frames were lost\n");
	return bad;
}

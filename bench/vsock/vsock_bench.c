/* bench/vsock/vsock_bench.c — the virtio-vsock datapath without a vCPU: a simulated
 * driver (bench/blk/simdrv.h) plays the guest's vsock transport against the device, a host
 * thread plays the program on uds_path. Side by side on the same machine, the same bytes
 * through a plain Unix stream socket copy loop (64 KiB reads and writes, the best such a
 * loop does), and the connection setup rate against a plain connect/accept/line exchange.
 *
 *   build/bench/vsock/vsock_bench [MIB] [RXBUF]     (defaults 256 MiB, 4096-byte rx buffers
 *                                                    as Linux posts them)
 * Prints MB/s host → guest and guest → host, the plain loop's MB/s, the ratios, and
 * connections per second (device and plain). The driver behaves like Linux's: it reposts
 * the rx buffers it consumed in a batch and kicks once (EVENT_IDX), grants credit back
 * (CREDIT_UPDATE) every 64 KiB it consumed, and sends 64 KiB packets within the credit
 * the device advertised.
 *
 * Trusts: the device under test only as far as its answers are checked.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench/blk/simdrv.h"
#include "devices/virtio_vsock.h"

#define HL	   ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define CID	   3
#define NRX	   128
#define PKT	   65536
#define QSIZE	   256
#define GPORT	   1024
#define WAIT_MS	   5000
#define NR_CONNECT 2000

static struct simdrv sd;
static struct virtio_vsock *dev;
static char uds[96];
static uint64_t rx_gpa[QSIZE], tx_gpa;
static uint32_t rxbuf = 4096;

static double secs(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "vsock_bench: %s\n", what);
	exit(1);
}

static void post_rx(uint64_t gpa)
{
	struct simdrv_buf b = {gpa, HL + rxbuf, true};
	int head = simq_add(&sd.q[VSOCK_RXQ], &b, 1);

	if (head >= 0)
		rx_gpa[head] = gpa;
}

static struct virtio_vsock_hdr mkhdr(uint16_t op, uint32_t hport)
{
	struct virtio_vsock_hdr h = {.src_cid = CID,
				     .dst_cid = VSOCK_HOST_CID,
				     .src_port = GPORT,
				     .dst_port = hport,
				     .type = VSOCK_TYPE_STREAM,
				     .op = op,
				     .buf_alloc = 256 * 1024};
	return h;
}

/* One tx packet, waited for (control packets and the g→h stream, one in flight). */
static void send_pkt(struct virtio_vsock_hdr h, uint32_t len)
{
	uint32_t id, ulen;

	h.len = len;
	memcpy(simdrv_ptr(&sd, tx_gpa), &h, HL);
	struct simdrv_buf b[2] = {{tx_gpa, HL, false}, {tx_gpa + HL, len, false}};
	if (simq_add(&sd.q[VSOCK_TXQ], b, len ? 2 : 1) < 0)
		die("tx queue full");
	simdrv_kick(&sd, VSOCK_TXQ, false);
	if (!simdrv_wait_used(&sd, VSOCK_TXQ, &id, &ulen, WAIT_MS))
		die("tx packet not completed");
}

/* Next rx packet: its header (payload left in place), the buffer reposted (no kick). */
static bool recv_pkt(struct virtio_vsock_hdr *h, int timeout_ms)
{
	uint32_t id, len;

	if (!simdrv_wait_used(&sd, VSOCK_RXQ, &id, &len, timeout_ms))
		return false;
	if (id >= QSIZE || len < HL)
		die("bad rx used entry");
	memcpy(h, simdrv_ptr(&sd, rx_gpa[id]), HL);
	post_rx(rx_gpa[id]);
	return true;
}

static int uds_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect to uds_path");
	return fd;
}

/* Host CONNECT to GPORT; the driver accepts. Returns the host fd; *hport its port. */
static int host_open(uint32_t *hport)
{
	struct virtio_vsock_hdr h;
	char line[32];
	int fd = uds_connect(uds), n = snprintf(line, sizeof(line), "CONNECT %u\n", GPORT);

	if (write(fd, line, (size_t)n) != n)
		die("write CONNECT");
	do {
		if (!recv_pkt(&h, WAIT_MS))
			die("no REQUEST");
	} while (h.op != VSOCK_OP_REQUEST);
	simdrv_kick(&sd, VSOCK_RXQ, false);
	*hport = h.src_port;
	send_pkt(mkhdr(VSOCK_OP_RESPONSE, h.src_port), 0);
	for (int i = 0; i < (int)sizeof(line) - 1; i++) {
		if (read(fd, line + i, 1) != 1)
			die("no OK line");
		if (line[i] == '\n')
			return fd;
	}
	die("OK line too long");
	return -1;
}

struct pump {
	int fd;
	size_t bytes;
	bool is_write;
};

static void *pump_thread(void *p)
{
	struct pump *a = p;
	static __thread uint8_t buf[PKT];
	size_t done = 0;

	while (done < a->bytes) {
		size_t n = a->bytes - done < sizeof(buf) ? a->bytes - done : sizeof(buf);
		ssize_t k = a->is_write ? write(a->fd, buf, n) : read(a->fd, buf, n);
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	a->bytes = done;
	return NULL;
}

static double h2g(int fd, uint32_t hport, size_t total)
{
	struct pump w = {fd, total, true};
	struct virtio_vsock_hdr h;
	size_t got = 0, granted = 0;
	pthread_t th;
	double t0 = secs();

	pthread_create(&th, NULL, pump_thread, &w);
	while (got < total) {
		if (!recv_pkt(&h, WAIT_MS))
			die("h2g: stalled");
		do {
			if (h.op == VSOCK_OP_RW)
				got += h.len;
		} while (got < total && recv_pkt(&h, 0)); /* the whole batch that is there */
		simdrv_kick(&sd, VSOCK_RXQ, false);	  /* its buffers back, one kick */
		if (got - granted >= PKT) {
			struct virtio_vsock_hdr u = mkhdr(VSOCK_OP_CREDIT_UPDATE, hport);
			granted = got;
			u.fwd_cnt = (uint32_t)got;
			send_pkt(u, 0);
		}
	}
	simdrv_kick(&sd, VSOCK_RXQ, false);
	pthread_join(th, NULL);
	return (double)got / (secs() - t0) / 1e6;
}

static double g2h(int fd, uint32_t hport, size_t total)
{
	struct pump r = {fd, total, false};
	struct virtio_vsock_hdr h;
	uint32_t sent = 0, peer_fwd = 0;
	pthread_t th;
	double t0 = secs();

	pthread_create(&th, NULL, pump_thread, &r);
	while (sent < total) {
		/* Credit: the device's buf_alloc minus what it has not forwarded yet. */
		while (sent - peer_fwd + PKT > VSOCK_BUF_ALLOC) {
			if (!recv_pkt(&h, WAIT_MS))
				die("g2h: no credit update");
			simdrv_kick(&sd, VSOCK_RXQ, false);
			peer_fwd = h.fwd_cnt;
		}
		send_pkt(mkhdr(VSOCK_OP_RW, hport), PKT);
		sent += PKT;
	}
	pthread_join(th, NULL);
	if (r.bytes != total)
		die("g2h: bytes lost");
	return (double)total / (secs() - t0) / 1e6;
}

/* The same bytes through a plain Unix stream socket: writer and reader threads. */
static double plain(size_t total)
{
	int sv[2];
	pthread_t tw, tr;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	struct pump w = {sv[0], total, true}, r = {sv[1], total, false};
	double t0 = secs();
	pthread_create(&tw, NULL, pump_thread, &w);
	pthread_create(&tr, NULL, pump_thread, &r);
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	double t = secs() - t0;
	close(sv[0]);
	close(sv[1]);
	return (double)r.bytes / t / 1e6;
}

/* Connection setup: NR_CONNECT host CONNECTs accepted by the driver, each closed after its
 * OK (the driver resets the closed ones as Linux does). */
static double setup_rate(void)
{
	double t0 = secs();

	for (int i = 0; i < NR_CONNECT; i++) {
		uint32_t hport;
		struct virtio_vsock_hdr h;
		int fd = host_open(&hport);
		close(fd);
		/* The device's SHUTDOWN for the closed socket: answer RST. */
		while (recv_pkt(&h, WAIT_MS)) {
			simdrv_kick(&sd, VSOCK_RXQ, false);
			if (h.op == VSOCK_OP_SHUTDOWN) {
				send_pkt(mkhdr(VSOCK_OP_RST, h.src_port), 0);
				break;
			}
		}
	}
	return NR_CONNECT / (secs() - t0);
}

static void *plain_server(void *p)
{
	int lfd = *(int *)p;
	char buf[32];

	for (int i = 0; i < NR_CONNECT; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			die("accept");
		if (read(fd, buf, sizeof(buf)) <= 0 || write(fd, "OK 1\n", 5) != 5)
			die("plain line");
		close(fd);
	}
	return NULL;
}

static double plain_setup_rate(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pthread_t th;
	char buf[8];

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0)
		die("plain listener");
	pthread_create(&th, NULL, plain_server, &lfd);
	double t0 = secs();
	for (int i = 0; i < NR_CONNECT; i++) {
		int fd = uds_connect(path);
		if (write(fd, "CONNECT 1024\n", 13) != 13 || read(fd, buf, sizeof(buf)) <= 0)
			die("plain client");
		close(fd);
	}
	double r = NR_CONNECT / (secs() - t0);
	pthread_join(th, NULL);
	close(lfd);
	unlink(path);
	return r;
}

int main(int argc, char **argv)
{
	size_t total = (size_t)(argc > 1 ? atoi(argv[1]) : 256) << 20;
	struct virtio_vsock_config cfg = {.guest_cid = CID};
	char dir[] = "/tmp/vsock-bench-XXXXXX", err[200], path[96];
	uint32_t hport;

	if (argc > 2)
		rxbuf = (uint32_t)atoi(argv[2]);
	if (rxbuf < 64 || rxbuf > PKT || total == 0 || total > (1u << 31))
		die("usage: vsock_bench [MIB <= 2048] [RXBUF 64..65536]");
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	snprintf(cfg.uds_path, sizeof(cfg.uds_path), "%s", uds);
	if (simdrv_init(&sd, 64ULL << 20) < 0)
		die("guest memory");
	dev = virtio_vsock_create(&cfg, err, sizeof(err));
	if (!dev)
		die(err);
	if (simdrv_start(&sd, &virtio_vsock_ops, dev, 3, QSIZE, ~0ULL) < 0)
		die("driver start");
	tx_gpa = simdrv_alloc(&sd, HL + PKT, 64);
	for (unsigned i = 0; i < NRX; i++)
		post_rx(simdrv_alloc(&sd, HL + rxbuf, 64));
	simdrv_kick(&sd, VSOCK_RXQ, true);

	int fd = host_open(&hport);
	double p = plain(total);
	double hg = h2g(fd, hport, total);
	double gh = g2h(fd, hport, total);
	close(fd);
	printf("plain Unix socket copy loop: %.0f MB/s\n", p);
	printf("host->guest: %.0f MB/s (%u-byte rx buffers), %.2fx plain\n", hg, rxbuf, hg / p);
	printf("guest->host: %.0f MB/s (64 KiB packets), %.2fx plain\n", gh, gh / p);
	printf("balance host->guest / guest->host: %.2f\n", hg / gh);
	double cr = setup_rate();
	snprintf(path, sizeof(path), "%s/plain.sock", dir);
	double pr = plain_setup_rate(path);
	printf("connection setup: %.0f/s through CONNECT/OK, plain Unix connect+line %.0f/s "
	       "(%.2fx)\n",
	       cr, pr, cr / pr);
	simdrv_fini(&sd);
	unlink(uds);
	rmdir(dir);
	return 0;
}

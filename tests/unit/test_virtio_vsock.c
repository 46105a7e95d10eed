/* tests/unit/test_virtio_vsock.c — virtio-vsock with a simulated driver, no KVM.
 *
 * The simulated driver (bench/blk/simdrv.h) plays the guest's vsock transport: it posts
 * receive buffers, sends packets on the tx queue and reads what the device answers. The
 * host side is real Unix sockets in a temporary directory: CONNECT/OK both ways, data
 * both ways in order, credit exhaustion in both directions (bounded buffering), shutdown,
 * reset, and malformed packets.
 *
 * Trusts: the transport, queue and worker code (they have their own tests).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench/blk/simdrv.h"
#include "devices/virtio_vsock.h"
#include "tests/unit/test.h"

#define RAM_SIZE (32ULL << 20)
#define WAIT_MS	 3000
#define CID	 7
#define RXBUF	 4096
#define NRX	 32
#define HL	 ((uint32_t)sizeof(struct virtio_vsock_hdr))

struct env {
	struct simdrv sd;
	struct virtio_vsock *v;
	char dir[64], uds[128];
	uint64_t rx_gpa[256]; /* by head */
	uint64_t tx_gpa;
};

static void post_rx(struct env *e, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = simdrv_alloc(&e->sd, HL + RXBUF, 8);
		struct simdrv_buf b = {gpa, HL + RXBUF, true};
		int head = simq_add(&e->sd.q[VSOCK_RXQ], &b, 1);
		if (head >= 0)
			e->rx_gpa[head] = gpa;
	}
	simdrv_kick(&e->sd, VSOCK_RXQ, true);
}

static int env_start(struct env *e)
{
	struct virtio_vsock_config cfg = {.guest_cid = CID};
	char err[200];

	memset(e, 0, sizeof(*e));
	strcpy(e->dir, "/tmp/vsock-test-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	test_snprintf(e->uds, sizeof(e->uds), "%s/v.sock", e->dir);
	strcpy(cfg.uds_path, e->uds);
	if (simdrv_init(&e->sd, RAM_SIZE) < 0)
		return -1;
	e->v = virtio_vsock_create(&cfg, err, sizeof(err));
	if (!e->v) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	if (simdrv_start(&e->sd, &virtio_vsock_ops, e->v, 3, 64, ~0ULL) < 0)
		return -1;
	e->tx_gpa = simdrv_alloc(&e->sd, HL + 65536 + 4096, 8);
	post_rx(e, NRX);
	return 0;
}

static void env_stop(struct env *e)
{
	char cmd[200];

	simdrv_fini(&e->sd);
	test_snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	if (system(cmd)) {
	}
}

static struct virtio_vsock_hdr mkhdr(uint16_t op, uint32_t src_port, uint32_t dst_port)
{
	struct virtio_vsock_hdr h = {.src_cid = CID,
				     .dst_cid = VSOCK_HOST_CID,
				     .src_port = src_port,
				     .dst_port = dst_port,
				     .type = VSOCK_TYPE_STREAM,
				     .op = op,
				     .buf_alloc = 1 << 20};
	return h;
}

/* Sends one packet (header and payload in two descriptors); waits for its completion. */
static int send_pkt(struct env *e, struct virtio_vsock_hdr h, const void *data, uint32_t len)
{
	uint32_t id, ulen;
	uint8_t *p = simdrv_ptr(&e->sd, e->tx_gpa);

	if (h.op == VSOCK_OP_RW && !h.len)
		h.len = len;
	memcpy(p, &h, HL);
	if (len)
		memcpy(p + HL + 64, data, len);
	struct simdrv_buf b[2] = {{e->tx_gpa, HL, false}, {e->tx_gpa + HL + 64, len, false}};
	if (simq_add(&e->sd.q[VSOCK_TXQ], b, len ? 2 : 1) < 0)
		return -1;
	simdrv_kick(&e->sd, VSOCK_TXQ, true);
	return simdrv_wait_used(&e->sd, VSOCK_TXQ, &id, &ulen, WAIT_MS) ? 0 : -1;
}

/* Waits for the next rx packet; copies its payload (up to cap) and reposts the buffer.
 * Returns 0, or -1 on timeout. */
static int recv_pkt(struct env *e, struct virtio_vsock_hdr *h, void *data, size_t cap,
		    int timeout_ms)
{
	uint32_t id, len;

	if (!simdrv_wait_used(&e->sd, VSOCK_RXQ, &id, &len, timeout_ms))
		return -1;
	if (id >= 256 || len < HL)
		return -1;
	uint8_t *p = simdrv_ptr(&e->sd, e->rx_gpa[id]);
	memcpy(h, p, HL);
	if (data && h->len <= cap && HL + h->len <= len)
		memcpy(data, p + HL, h->len);
	struct simdrv_buf b = {e->rx_gpa[id], HL + RXBUF, true};
	int head = simq_add(&e->sd.q[VSOCK_RXQ], &b, 1);
	if (head >= 0)
		e->rx_gpa[head] = b.gpa;
	simdrv_kick(&e->sd, VSOCK_RXQ, true);
	return 0;
}

/* Next packet that is not a credit packet. */
static int recv_nocredit(struct env *e, struct virtio_vsock_hdr *h, void *data, size_t cap,
			 int timeout_ms)
{
	for (;;) {
		if (recv_pkt(e, h, data, cap, timeout_ms))
			return -1;
		if (h->op != VSOCK_OP_CREDIT_UPDATE && h->op != VSOCK_OP_CREDIT_REQUEST)
			return 0;
	}
}

static int uds_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static ssize_t read_timeout(int fd, void *buf, size_t len, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, ms) <= 0)
		return -2;
	return read(fd, buf, len);
}

static int read_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read_timeout(fd, (char *)buf + got, len - got, WAIT_MS);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* Host-initiated connection to guest port gport, accepted by the guest from gport.
 * Returns the host fd; *hport gets the host-side port. */
static int host_open(struct env *e, uint32_t gport, uint32_t *hport)
{
	struct virtio_vsock_hdr h;
	char line[32], want[32];
	int fd = uds_connect(e->uds);

	if (fd < 0)
		return -1;
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", gport);
	if (write(fd, line, (size_t)n) != n)
		goto fail;
	if (recv_nocredit(e, &h, NULL, 0, WAIT_MS) || h.op != VSOCK_OP_REQUEST ||
	    h.dst_port != gport || h.dst_cid != CID || h.src_cid != VSOCK_HOST_CID)
		goto fail;
	*hport = h.src_port;
	if (send_pkt(e, mkhdr(VSOCK_OP_RESPONSE, gport, h.src_port), NULL, 0))
		goto fail;
	n = snprintf(want, sizeof(want), "OK %u\n", h.src_port);
	memset(line, 0, sizeof(line));
	if (read_exact(fd, line, (size_t)n) || memcmp(line, want, (size_t)n))
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

TEST(test_parse_connect)
{
	uint32_t port = 0;

	CHECK_EQ(vsock_parse_connect("CONNECT 52\n", 11, &port), 11);
	CHECK_EQ(port, 52);
	CHECK_EQ(vsock_parse_connect("CONNECT 4294967295\nxyz", 22, &port), 19);
	CHECK_EQ(port, 4294967295U);
	CHECK_EQ(vsock_parse_connect("CONN", 4, &port), 0);
	CHECK_EQ(vsock_parse_connect("CONNECT 12", 10, &port), 0);
	CHECK_EQ(vsock_parse_connect("CONNECT 4294967296\n", 19, &port), -1);
	CHECK_EQ(vsock_parse_connect("CONNECT 12345678901\n", 20, &port), -1);
	CHECK_EQ(vsock_parse_connect("CONNECT \n", 9, &port), -1);
	CHECK_EQ(vsock_parse_connect("CONNECT  5\n", 11, &port), -1);
	CHECK_EQ(vsock_parse_connect("connect 5\n", 10, &port), -1);
	CHECK_EQ(vsock_parse_connect("CONNECT 5\r\n", 11, &port), -1);
	CHECK_EQ(vsock_parse_connect("GET / HTTP", 10, &port), -1);
}

TEST(test_bad_config)
{
	struct virtio_vsock_config cfg = {.guest_cid = 2};
	char err[200] = "";

	strcpy(cfg.uds_path, "/tmp/x.sock");
	CHECK(!virtio_vsock_create(&cfg, err, sizeof(err)));
	CHECK(strstr(err, "cid") != NULL);
	cfg.guest_cid = 3;
	strcpy(cfg.uds_path, "/nonexistent-dir/x.sock");
	CHECK(!virtio_vsock_create(&cfg, err, sizeof(err)));
	CHECK(strstr(err, "/nonexistent-dir/x.sock") != NULL);
}

TEST(test_host_connect_and_data)
{
	struct env e;
	struct virtio_vsock_hdr h;
	uint32_t hport = 0;
	char buf[64];
	uint64_t cid = 0;

	CHECK(env_start(&e) == 0);
	simdrv_config_read(&e.sd, 0, &cid, 4);
	CHECK_EQ(cid, CID);
	int fd = host_open(&e, 1024, &hport);
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	CHECK(write(fd, "hello", 5) == 5);
	CHECK(recv_nocredit(&e, &h, buf, sizeof(buf), WAIT_MS) == 0);
	CHECK_EQ(h.op, VSOCK_OP_RW);
	CHECK_EQ(h.len, 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK(send_pkt(&e, mkhdr(VSOCK_OP_RW, 1024, hport), "world!", 6) == 0);
	CHECK(read_exact(fd, buf, 6) == 0 && memcmp(buf, "world!", 6) == 0);

	/* Host half-close: the guest gets SHUTDOWN(SEND) and can still send. */
	shutdown(fd, SHUT_WR);
	CHECK(recv_nocredit(&e, &h, NULL, 0, WAIT_MS) == 0);
	CHECK_EQ(h.op, VSOCK_OP_SHUTDOWN);
	CHECK(h.flags & VSOCK_SHUTDOWN_SEND);
	CHECK(send_pkt(&e, mkhdr(VSOCK_OP_RW, 1024, hport), "more", 4) == 0);
	CHECK(read_exact(fd, buf, 4) == 0 && memcmp(buf, "more", 4) == 0);
	/* Guest closes: SHUTDOWN both, the host reads EOF, the device answers RST. */
	struct virtio_vsock_hdr s = mkhdr(VSOCK_OP_SHUTDOWN, 1024, hport);
	s.flags = VSOCK_SHUTDOWN_SEND | VSOCK_SHUTDOWN_RCV;
	CHECK(send_pkt(&e, s, NULL, 0) == 0);
	CHECK(recv_nocredit(&e, &h, NULL, 0, WAIT_MS) == 0);
	CHECK_EQ(h.op, VSOCK_OP_RST);
	CHECK(read_timeout(fd, buf, 1, WAIT_MS) == 0);
	close(fd);
	struct virtio_vsock_stats st;
	virtio_vsock_get_stats(e.v, &st);
	CHECK_EQ(st.nr_conns, 0);
out:
	env_stop(&e);
}

TEST(test_host_connect_refused_and_junk)
{
	struct env e;
	struct virtio_vsock_hdr h;
	char buf[8];

	CHECK(env_start(&e) == 0);
	int fd = uds_connect(e.uds);
	CHECK(write(fd, "CONNECT 99\n", 11) == 11);
	CHECK(recv_nocredit(&e, &h, NULL, 0, WAIT_MS) == 0);
	CHECK_EQ(h.op, VSOCK_OP_REQUEST);
	struct virtio_vsock_hdr r = mkhdr(VSOCK_OP_RST, 99, h.src_port);
	CHECK(send_pkt(&e, r, NULL, 0) == 0);
	CHECK(read_timeout(fd, buf, sizeof(buf), WAIT_MS) == 0); /* closed, no OK */
	close(fd);

	fd = uds_connect(e.uds);
	CHECK(write(fd, "GET / HTTP/1.0\r\n", 16) == 16);
	/* closed (ECONNRESET: the device closed with our junk unread), not timed out */
	ssize_t rr = read_timeout(fd, buf, sizeof(buf), WAIT_MS);
	CHECK(rr == 0 || rr == -1);
	close(fd);
	/* A line that never ends is dropped after the timeout. */
	fd = uds_connect(e.uds);
	CHECK(write(fd, "CONNECT 1", 9) == 9);
	rr = read_timeout(fd, buf, sizeof(buf), 5000);
	CHECK(rr == 0 || rr == -1);
	close(fd);
	env_stop(&e);
}

TEST(test_guest_connect)
{
	struct env e;
	struct virtio_vsock_hdr h;
	char buf[64];

	CHECK(env_start(&e) == 0);
	int lfd = virtio_vsock_listen(e.v, 5000);
	CHECK(lfd >= 0);
	CHECK(send_pkt(&e, mkhdr(VSOCK_OP_REQUEST, 40000, 5000), NULL, 0) == 0);
	CHECK(recv_nocredit(&e, &h, NULL, 0, WAIT_MS) == 0);
	CHECK_EQ(h.op, VSOCK_OP_RESPONSE);
	CHECK_EQ(h.src_port, 5000);
	CHECK_EQ(h.dst_port, 40000);
	int fd = accept(lfd, NULL, NULL);
	CHECK(fd >= 0);
	CHECK(send_pkt(&e, mkhdr(VSOCK_OP_RW, 40000, 5000), "ping", 4) == 0);
	CHECK(read_exact(fd, buf, 4) == 0 && memcmp(buf, "ping", 4) == 0);
	CHECK(write(fd, "pong", 4) == 4);
	CHECK(recv_nocredit(&e, &h, buf, sizeof(buf), WAIT_MS) == 0);
	CHECK(h.op == VSOCK_OP_RW && h.len == 4 && !memcmp(buf, "pong", 4));
	/* Host closes: SHUTDOWN with both flags; the guest answers RST. */
	close(fd);
	CHECK(recv_nocredit(&e, &h, NULL, 0, WAIT_MS) == 0);
	CHECK_EQ(h.op, VSOCK_OP_SHUTDOWN);
	CHECK(h.flags & VSOCK_SHUTDOWN_SEND);
	CHECK(send_pkt(&e, mkhdr(VSOCK_OP_RST, 40000, 5000), NULL, 0) == 0);

	/* Nobody at uds_5001: RST at once. */
	CHECK(send_pkt(&e, mkhdr(VSOCK_OP_REQUEST, 40001, 5001), NULL, 0) == 0);
	CHECK(recv_nocredit(&e, &h, NULL, 0, WAIT_MS) == 0);
	CHECK_EQ(h.op, VSOCK_OP_RST);
	CHECK_EQ(h.dst_port, 40001);
	close(lfd);
	usleep(100000);
	struct virtio_vsock_stats st;
	virtio_vsock_get_stats(e.v, &st);
	CHECK_EQ(st.nr_conns, 0);
	env_stop(&e);
}

/* The host reader stalls: guest data fills the device's buffer up to the credit, never
 * beyond; the guest that sends past its credit is reset; once the host reads, a credit
 * update arrives and every byte comes out in order. */
TEST(test_guest_to_host_credit)
{
	struct env e;
	struct virtio_vsock_hdr h;
	static uint8_t chunk[4096], got[VSOCK_BUF_ALLOC + 8192];
	uint32_t hport = 0, sent = 0;

	CHECK(env_start(&e) == 0);
	int fd = host_open(&e, 7000, &hport);
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	int sz = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	/* Fill: the socket takes some, the device buffers the rest, up to BUF_ALLOC total
	 * unread-by-host; we stay below the credit the device granted (BUF_ALLOC). */
	for (unsigned i = 0; sent + sizeof(chunk) <= VSOCK_BUF_ALLOC; i++) {
		for (unsigned k = 0; k < sizeof(chunk); k++)
			chunk[k] = (uint8_t)(sent + k);
		CHECK(send_pkt(&e, mkhdr(VSOCK_OP_RW, 7000, hport), chunk, sizeof(chunk)) == 0);
		sent += sizeof(chunk);
	}
	struct virtio_vsock_stats st;
	virtio_vsock_get_stats(e.v, &st);
	CHECK(st.buffered_bytes <= VSOCK_BUF_ALLOC);
	CHECK(st.buffered_bytes > 0);
	/* Drain on the host side; everything in order. */
	CHECK(read_exact(fd, got, sent) == 0);
	bool is_ordered = true;
	for (uint32_t k = 0; k < sent; k++)
		if (got[k] != (uint8_t)k)
			is_ordered = false;
	CHECK(is_ordered);
	/* A credit update (fwd_cnt caught up) reaches the guest. */
	bool has_update = false;
	for (int i = 0; i < 20 && !has_update; i++) {
		if (recv_pkt(&e, &h, NULL, 0, 200))
			continue;
		if (h.op == VSOCK_OP_CREDIT_UPDATE && h.fwd_cnt == sent)
			has_update = true;
	}
	CHECK(has_update);

	/* Now exceed: stall the reader again and send 2 * BUF_ALLOC; the device must reset
	 * the connection rather than buffer beyond its grant. */
	for (uint32_t k = 0; k < 2 * VSOCK_BUF_ALLOC / sizeof(chunk); k++)
		if (send_pkt(&e, mkhdr(VSOCK_OP_RW, 7000, hport), chunk, sizeof(chunk)))
			break;
	virtio_vsock_get_stats(e.v, &st);
	CHECK(st.buffered_bytes <= VSOCK_BUF_ALLOC);
	CHECK(st.nr_bad_pkts >= 1);
	bool has_rst = false;
	for (int i = 0; i < 100 && !has_rst; i++)
		if (!recv_pkt(&e, &h, NULL, 0, 100) && h.op == VSOCK_OP_RST)
			has_rst = true;
	CHECK(has_rst);
	close(fd);
out:
	env_stop(&e);
}

/* The guest grants 8 KiB: the device sends no more until a credit update. */
TEST(test_host_to_guest_credit)
{
	struct env e;
	struct virtio_vsock_hdr h;
	static uint8_t data[65536], got[65536];
	uint32_t hport = 0, recvd = 0, fwd = 0;
	char line[32];

	CHECK(env_start(&e) == 0);
	int fd = uds_connect(e.uds);
	CHECK(write(fd, "CONNECT 8000\n", 13) == 13);
	CHECK(recv_nocredit(&e, &h, NULL, 0, WAIT_MS) == 0);
	hport = h.src_port;
	struct virtio_vsock_hdr r = mkhdr(VSOCK_OP_RESPONSE, 8000, hport);
	r.buf_alloc = 8192;
	CHECK(send_pkt(&e, r, NULL, 0) == 0);
	int n = snprintf(line, sizeof(line), "OK %u\n", hport);
	CHECK(read_exact(fd, line, (size_t)n) == 0);
	for (unsigned k = 0; k < sizeof(data); k++)
		data[k] = (uint8_t)(k * 7);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	size_t written = 0;
	while (recvd < sizeof(data)) {
		if (written < sizeof(data)) {
			ssize_t w = write(fd, data + written, sizeof(data) - written);
			if (w > 0)
				written += (size_t)w;
		}
		uint8_t tmp[RXBUF];
		if (recv_pkt(&e, &h, tmp, sizeof(tmp), 300)) {
			/* Stalled: credit must be exhausted exactly. */
			CHECK_EQ(recvd - fwd, 8192);
			/* The guest "reads" everything and says so. */
			fwd = recvd;
			struct virtio_vsock_hdr u = mkhdr(VSOCK_OP_CREDIT_UPDATE, 8000, hport);
			u.buf_alloc = 8192;
			u.fwd_cnt = fwd;
			CHECK(send_pkt(&e, u, NULL, 0) == 0);
			continue;
		}
		if (h.op != VSOCK_OP_RW)
			continue;
		CHECK(recvd + h.len - fwd <= 8192);
		if (recvd + h.len > sizeof(got))
			break;
		memcpy(got + recvd, tmp, h.len);
		recvd += h.len;
	}
	CHECK_EQ(recvd, sizeof(data));
	CHECK(memcmp(got, data, sizeof(data)) == 0);
	close(fd);
	env_stop(&e);
}

TEST(test_hostile_packets)
{
	struct env e;
	struct virtio_vsock_hdr h;
	uint32_t hport = 0;
	struct virtio_vsock_stats st;

	CHECK(env_start(&e) == 0);
	int fd = host_open(&e, 1, &hport);
	CHECK(fd >= 0);
	/* len beyond the chain */
	struct virtio_vsock_hdr b = mkhdr(VSOCK_OP_RW, 1, hport);
	b.len = 100000;
	CHECK(send_pkt(&e, b, "x", 1) == 0);
	/* spoofed src_cid */
	b = mkhdr(VSOCK_OP_RW, 1, hport);
	b.src_cid = 99;
	CHECK(send_pkt(&e, b, "y", 1) == 0);
	virtio_vsock_get_stats(e.v, &st);
	CHECK_EQ(st.nr_bad_pkts, 2);
	/* a header cut short */
	CHECK(send_pkt(&e, mkhdr(VSOCK_OP_RW, 1, hport), NULL, 0) == 0);
	{
		uint32_t id, ulen;
		struct simdrv_buf sb = {e.tx_gpa, 10, false};
		simq_add(&e.sd.q[VSOCK_TXQ], &sb, 1);
		simdrv_kick(&e.sd, VSOCK_TXQ, true);
		CHECK(simdrv_wait_used(&e.sd, VSOCK_TXQ, &id, &ulen, WAIT_MS));
	}
	/* unknown type: RST */
	b = mkhdr(VSOCK_OP_REQUEST, 3, 3);
	b.type = 2;
	CHECK(send_pkt(&e, b, NULL, 0) == 0);
	CHECK(recv_nocredit(&e, &h, NULL, 0, WAIT_MS) == 0);
	CHECK_EQ(h.op, VSOCK_OP_RST);
	/* data for a connection that does not exist: RST */
	CHECK(send_pkt(&e, mkhdr(VSOCK_OP_RW, 555, 666), "z", 1) == 0);
	CHECK(recv_nocredit(&e, &h, NULL, 0, WAIT_MS) == 0);
	CHECK(h.op == VSOCK_OP_RST && h.dst_port == 555 && h.src_port == 666);
	/* the live connection still works */
	CHECK(send_pkt(&e, mkhdr(VSOCK_OP_RW, 1, hport), "ok", 2) == 0);
	char buf[4];
	CHECK(read_exact(fd, buf, 2) == 0 && !memcmp(buf, "ok", 2));
	/* unknown op on it: RST, host socket closed */
	CHECK(send_pkt(&e, mkhdr(77, 1, hport), NULL, 0) == 0);
	CHECK(recv_nocredit(&e, &h, NULL, 0, WAIT_MS) == 0);
	CHECK_EQ(h.op, VSOCK_OP_RST);
	CHECK(read_timeout(fd, buf, 1, WAIT_MS) == 0);
	close(fd);
	/* a flood of requests nobody listens for: bounded, all answered or counted */
	for (unsigned i = 0; i < 2000; i++) {
		struct virtio_vsock_hdr q = mkhdr(VSOCK_OP_REQUEST, 10000 + i, 9);
		uint8_t *p = simdrv_ptr(&e.sd, e.tx_gpa);
		struct simdrv_buf sb = {e.tx_gpa, HL, false};
		uint32_t id, ulen;
		memcpy(p, &q, HL);
		simq_add(&e.sd.q[VSOCK_TXQ], &sb, 1);
		simdrv_kick(&e.sd, VSOCK_TXQ, true);
		simdrv_wait_used(&e.sd, VSOCK_TXQ, &id, &ulen, WAIT_MS);
	}
	while (!recv_pkt(&e, &h, NULL, 0, 200))
		;
	virtio_vsock_get_stats(e.v, &st);
	CHECK_EQ(st.nr_conns, 0);
	CHECK(st.nr_rst_sent + st.nr_rst_dropped >= 2000);
	env_stop(&e);
}

/* In-process connect, pause/resume with a connection open, device reset closes it. */
struct conn_arg {
	struct env *e;
	int fd;
};

static void *connect_thread(void *p)
{
	struct conn_arg *a = p;

	a->fd = virtio_vsock_connect(a->e->v, 2222, WAIT_MS);
	return NULL;
}

TEST(test_inprocess_pause_reset)
{
	struct env e;
	struct virtio_vsock_hdr h;
	pthread_t th;
	char buf[8];

	CHECK(env_start(&e) == 0);
	struct conn_arg a = {&e, -1};
	pthread_create(&th, NULL, connect_thread, &a);
	CHECK(recv_nocredit(&e, &h, NULL, 0, WAIT_MS) == 0);
	CHECK_EQ(h.op, VSOCK_OP_REQUEST);
	uint32_t hport = h.src_port;
	CHECK(send_pkt(&e, mkhdr(VSOCK_OP_RESPONSE, 2222, hport), NULL, 0) == 0);
	pthread_join(th, NULL);
	CHECK(a.fd >= 0);
	CHECK(virtio_mmio_pause(e.sd.t) == 0);
	CHECK(write(a.fd, "abc", 3) == 3);
	CHECK(recv_pkt(&e, &h, NULL, 0, 300) < 0); /* paused: nothing moves */
	CHECK(virtio_mmio_resume(e.sd.t) == 0);
	CHECK(recv_nocredit(&e, &h, buf, sizeof(buf), WAIT_MS) == 0);
	CHECK(h.op == VSOCK_OP_RW && h.len == 3 && !memcmp(buf, "abc", 3));
	/* Device reset: the host connection is closed. */
	simdrv_write32(&e.sd, VIRTIO_MMIO_STATUS, 0);
	CHECK(read_timeout(a.fd, buf, 1, WAIT_MS) == 0);
	close(a.fd);
	struct virtio_vsock_stats st;
	virtio_vsock_get_stats(e.v, &st);
	CHECK_EQ(st.nr_conns, 0);
	/* No guest answer: the in-process connect gives up. */
	env_stop(&e);
}

static long rss_kib(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			v = atol(line + 6);
	if (f)
		fclose(f);
	return v;
}

/* Many concurrent connections (1024), each with its own bytes; prints the process's RSS
 * growth per connection (the test's own socket ends included). */
TEST(test_many_connections)
{
	struct env e;
	struct virtio_vsock_hdr h;
	enum { N = 1024 };
	static int fds[N];
	static uint32_t hports[N];

	CHECK(env_start(&e) == 0);
	int ok = 0;
	long rss0 = rss_kib();
	size_t heap0 = mallinfo2().uordblks;
	for (int i = 0; i < N; i++) {
		fds[i] = host_open(&e, 100 + (uint32_t)i, &hports[i]);
		ok += fds[i] >= 0;
	}
	CHECK_EQ(ok, N);
	size_t heap = mallinfo2().uordblks - heap0;
	printf("     %d connections: heap +%zu bytes (%zu per connection), RSS +%ld KiB; one "
	       "host fd each in the device\n",
	       N, heap, heap / N, rss_kib() - rss0);
	for (int i = 0; i < N; i++) {
		uint32_t v = (uint32_t)i * 2654435761U;
		if (fds[i] >= 0 && write(fds[i], &v, 4) != 4)
			CHECK(0);
	}
	int good = 0;
	for (int i = 0; i < N; i++) {
		uint32_t v;
		if (recv_nocredit(&e, &h, &v, 4, WAIT_MS))
			break;
		int k = (int)h.dst_port - 100;
		if (h.op == VSOCK_OP_RW && k >= 0 && k < N && h.src_port == hports[k] &&
		    v == (uint32_t)k * 2654435761U)
			good++;
	}
	CHECK_EQ(good, N);
	for (int i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	env_stop(&e);
}

/* Throughput figures with the simulated driver (printed, not checked): 32 MiB host →
 * guest (a writer thread on the host socket; the driver consumes and grants credit) and
 * 32 MiB guest → host (64 KiB packets; a reader thread on the host socket). */
struct pump_arg {
	int fd;
	size_t bytes;
	bool is_write;
};

static void *pump_thread(void *p)
{
	struct pump_arg *a = p;
	static uint8_t buf[65536];
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

static double secs(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

TEST(test_throughput_figures)
{
	struct env e;
	struct virtio_vsock_hdr h;
	const size_t total = 32u << 20;
	uint32_t hport = 0, fwd = 0;
	pthread_t th;
	static uint8_t pkt[65536];

	CHECK(env_start(&e) == 0);
	int fd = host_open(&e, 3000, &hport);
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	struct pump_arg wa = {fd, total, true};
	double t0 = secs();
	pthread_create(&th, NULL, pump_thread, &wa);
	size_t got = 0;
	while (got < total) {
		if (recv_pkt(&e, &h, NULL, 0, WAIT_MS))
			break;
		if (h.op != VSOCK_OP_RW)
			continue;
		got += h.len;
		if (got - fwd >= 256 * 1024) { /* the driver read it: grant more */
			fwd = (uint32_t)got;
			struct virtio_vsock_hdr u = mkhdr(VSOCK_OP_CREDIT_UPDATE, 3000, hport);
			u.fwd_cnt = fwd;
			send_pkt(&e, u, NULL, 0);
		}
	}
	pthread_join(th, NULL);
	double t1 = secs();
	CHECK_EQ(got, total);
	printf("     simulated driver: host->guest %.0f MB/s (4 KiB rx buffers)\n",
	       (double)got / (t1 - t0) / 1e6);
	struct pump_arg ra = {fd, total, false};
	pthread_create(&th, NULL, pump_thread, &ra);
	t0 = secs();
	for (size_t sent = 0; sent < total; sent += sizeof(pkt)) {
		/* stay within the credit the device grants: wait for its updates */
		for (int i = 0; i < 1000; i++) {
			struct virtio_vsock_stats st;
			virtio_vsock_get_stats(e.v, &st);
			if (st.buffered_bytes + sizeof(pkt) <= VSOCK_BUF_ALLOC)
				break;
			usleep(100);
		}
		if (send_pkt(&e, mkhdr(VSOCK_OP_RW, 3000, hport), pkt, sizeof(pkt)))
			break;
	}
	pthread_join(th, NULL);
	t1 = secs();
	CHECK_EQ(ra.bytes, total);
	printf("     simulated driver: guest->host %.0f MB/s (64 KiB packets)\n",
	       (double)ra.bytes / (t1 - t0) / 1e6);
	close(fd);
out:
	env_stop(&e);
}

/* A device restored from a snapshot tells the guest its connections are gone: the first
 * event buffer gets VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (id 0), and only one does. */
TEST(test_transport_reset_after_restore)
{
	struct virtio_vsock_config cfg = {.guest_cid = CID};
	struct env e;
	char err[200];
	uint8_t blob[64];

	memset(&e, 0, sizeof(e));
	strcpy(e.dir, "/tmp/vsock-test-XXXXXX");
	CHECK(mkdtemp(e.dir) != NULL);
	test_snprintf(e.uds, sizeof(e.uds), "%s/v.sock", e.dir);
	strcpy(cfg.uds_path, e.uds);
	CHECK(simdrv_init(&e.sd, RAM_SIZE) == 0);
	e.v = virtio_vsock_create(&cfg, err, sizeof(err));
	CHECK(e.v != NULL);
	if (!e.v)
		return;
	long n = virtio_vsock_ops.save(e.v, blob, sizeof(blob));
	CHECK(n > 0);
	CHECK_EQ(virtio_vsock_ops.restore(e.v, blob, (size_t)n), 0);
	CHECK(simdrv_start(&e.sd, &virtio_vsock_ops, e.v, 3, 64, ~0ULL) == 0);
	uint64_t gpa[2];
	for (unsigned i = 0; i < 2; i++) {
		gpa[i] = simdrv_alloc(&e.sd, 8, 8);
		memset(simdrv_ptr(&e.sd, gpa[i]), 0xee, 8);
		struct simdrv_buf b = {gpa[i], 8, true};
		simq_add(&e.sd.q[VSOCK_EVQ], &b, 1);
	}
	simq_publish(&e.sd.q[VSOCK_EVQ]);
	simdrv_kick(&e.sd, VSOCK_EVQ, true);
	uint32_t id = 99, len = 99, ev;
	CHECK(simdrv_wait_used(&e.sd, VSOCK_EVQ, &id, &len, WAIT_MS));
	CHECK_EQ(len, 4);
	memcpy(&ev, simdrv_ptr(&e.sd, gpa[0]), 4);
	CHECK_EQ(ev, 0); /* VIRTIO_VSOCK_EVENT_TRANSPORT_RESET */
	/* The second buffer stays with the device. */
	CHECK(!simdrv_wait_used(&e.sd, VSOCK_EVQ, &id, &len, 200));
	env_stop(&e);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(test_transport_reset_after_restore);
	RUN(test_parse_connect);
	RUN(test_bad_config);
	RUN(test_host_connect_and_data);
	RUN(test_host_connect_refused_and_junk);
	RUN(test_guest_connect);
	RUN(test_guest_to_host_credit);
	RUN(test_host_to_guest_credit);
	RUN(test_hostile_packets);
	RUN(test_inprocess_pause_reset);
	RUN(test_many_connections);
	RUN(test_throughput_figures);
	return test_summary();
}

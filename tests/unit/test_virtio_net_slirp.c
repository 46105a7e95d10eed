/* tests/unit/test_virtio_net_slirp.c — virtio-net over libslirp ("user" networking),
 * no vCPU. A simulated driver (bench/net/sim_driver.h) plays a guest that speaks just
 * enough ARP, DHCP and TCP by hand to check: the gateway answers ARP, DHCP offers
 * 10.0.2.15, an outbound TCP connection to a server on the host's loopback (reached as
 * 10.0.2.2) completes its handshake and carries the server's bytes to the guest intact, and
 * a host port forward turns a host connection into a SYN to the guest's port.
 * Only loopback addresses are used.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/net/sim_driver.h"
#include "tests/unit/test.h"

#ifdef HAVE_SLIRP

#define GUEST_MAC "\x52\x54\x00\xaa\xbb\xcc"
#define GUEST_IP  "\x0a\x00\x02\x0f"
#define GW_IP	  "\x0a\x00\x02\x02"

static uint8_t fr[2048], rx_buf[70000];
static uint8_t gw_mac[6];

static uint32_t csum_add(uint32_t s, const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)(b[len - 1] << 8);
	return s;
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

/* IPv4 header at ip (20 bytes) with payload of plen bytes already in place. */
static void ip4_hdr(uint8_t *ip, uint8_t proto, const void *src, const void *dst, size_t plen)
{
	uint16_t tot = (uint16_t)(20 + plen);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = tot >> 8;
	ip[3] = tot & 0xff;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	uint16_t c = csum_fold(csum_add(0, ip, 20));
	memcpy(ip + 10, &c, 2);
}

static uint16_t l4_csum(const uint8_t *ip, const uint8_t *l4, size_t len)
{
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = ip[9];
	ph[10] = (uint8_t)(len >> 8);
	ph[11] = (uint8_t)len;
	return csum_fold(csum_add(csum_add(0, ph, 12), l4, len));
}

static void eth_hdr(uint8_t *f, const void *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, GUEST_MAC, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
}

static void send_frame(struct sim_drv *d, const uint8_t *f, size_t len)
{
	struct virtio_net_hdr_v1 h = {0};
	CHECK(sim_tx_frame(d, &h, f, len, 1) == 0);
}

/* Next received frame with ethertype type (and IP protocol proto if type is IPv4). */
static long recv_frame(struct sim_drv *d, uint16_t type, uint8_t proto)
{
	struct virtio_net_hdr_v1 h;
	for (int i = 0; i < 32; i++) {
		long got = sim_rx_frame(d, &h, rx_buf, sizeof(rx_buf), 5000);
		if (got <= 0)
			return got;
		if (got >= 14 && rx_buf[12] == (type >> 8) && rx_buf[13] == (type & 0xff) &&
		    (type != 0x0800 || (got >= 34 && rx_buf[23] == proto)))
			return got;
	}
	return -1;
}

static int slirp_sim(struct sim_drv *d, const char *extra)
{
	char spec[128], err[256];

	test_snprintf(spec, sizeof(spec), "user,mac=52:54:00:aa:bb:cc%s", extra ? extra : "");
	if (sim_create(d, spec, err, sizeof(err))) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	if (sim_driver_init(d, ~0ULL, 256))
		return -1;
	sim_rx_setup(d, 128, 1, 2048);
	sim_rx_post(d, 0, 128);
	return 0;
}

/* ARP who-has 10.0.2.2 tell 10.0.2.15; fills gw_mac from the reply. */
static bool arp_gateway(struct sim_drv *d)
{
	eth_hdr(fr, "\xff\xff\xff\xff\xff\xff", 0x0806);
	uint8_t *a = fr + 14;
	memcpy(a, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	memcpy(a + 8, GUEST_MAC, 6);
	memcpy(a + 14, GUEST_IP, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, GW_IP, 4);
	memset(fr + 42, 0, 18);
	send_frame(d, fr, 60);
	long got = recv_frame(d, 0x0806, 0);
	if (got < 42)
		return false;
	a = rx_buf + 14;
	if (a[7] != 2 || memcmp(a + 14, GW_IP, 4) || memcmp(a + 24, GUEST_IP, 4))
		return false;
	memcpy(gw_mac, a + 8, 6);
	return true;
}

TEST(slirp_arp_and_dhcp)
{
	struct sim_drv d;

	if (slirp_sim(&d, NULL)) {
		CHECK(0);
		return;
	}
	CHECK(arp_gateway(&d));
	/* DHCPDISCOVER */
	memset(fr, 0, sizeof(fr));
	eth_hdr(fr, "\xff\xff\xff\xff\xff\xff", 0x0800);
	uint8_t *ip = fr + 14, *udp = ip + 20, *bootp = udp + 8;
	bootp[0] = 1;
	bootp[1] = 1;
	bootp[2] = 6;
	memcpy(bootp + 4, "\x12\x34\x56\x78", 4);
	memcpy(bootp + 28, GUEST_MAC, 6);
	memcpy(bootp + 236, "\x63\x82\x53\x63\x35\x01\x01\xff", 8);
	size_t blen = 300;
	udp[1] = 68;
	udp[3] = 67;
	udp[4] = (uint8_t)((8 + blen) >> 8);
	udp[5] = (uint8_t)(8 + blen);
	ip4_hdr(ip, 17, "\x00\x00\x00\x00", "\xff\xff\xff\xff", 8 + blen);
	send_frame(&d, fr, 14 + 20 + 8 + blen);
	long got = recv_frame(&d, 0x0800, 17);
	CHECK(got > 14 + 20 + 8 + 240);
	if (got > 14 + 20 + 8 + 240) {
		uint8_t *b = rx_buf + 14 + 20 + 8;
		CHECK_EQ(b[0], 2);			      /* BOOTREPLY */
		CHECK(!memcmp(b + 4, "\x12\x34\x56\x78", 4)); /* our xid */
		CHECK(!memcmp(b + 16, GUEST_IP, 4));	      /* yiaddr 10.0.2.15 */
		CHECK(!memcmp(b + 240, "\x35\x01\x02", 3));   /* DHCPOFFER */
	}
	sim_destroy(&d);
}

/* TCP segment from the guest (10.0.2.15:sport) to 10.0.2.2:dport. */
static void tcp_send(struct sim_drv *d, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		     uint8_t flags)
{
	memset(fr, 0, 74);
	eth_hdr(fr, gw_mac, 0x0800);
	uint8_t *ip = fr + 14, *t = ip + 20;
	t[0] = (uint8_t)(sport >> 8);
	t[1] = (uint8_t)sport;
	t[2] = (uint8_t)(dport >> 8);
	t[3] = (uint8_t)dport;
	uint32_t s = htonl(seq), a = htonl(ack);
	memcpy(t + 4, &s, 4);
	memcpy(t + 8, &a, 4);
	t[12] = 5 << 4;
	t[13] = flags;
	t[14] = 0xff; /* window 65535 */
	t[15] = 0xff;
	ip4_hdr(ip, 6, GUEST_IP, GW_IP, 20);
	uint16_t c = l4_csum(ip, t, 20);
	memcpy(t + 16, &c, 2);
	send_frame(d, fr, 54);
}

TEST(slirp_outbound_tcp)
{
	struct sim_drv d;
	const char msg[] = "hello from the host side of the NAT";

	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	CHECK(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(listen(l, 1) == 0);
	getsockname(l, (struct sockaddr *)&a, &al);
	uint16_t port = ntohs(a.sin_port);
	if (slirp_sim(&d, NULL)) {
		CHECK(0);
		return;
	}
	CHECK(arp_gateway(&d));
	tcp_send(&d, 40000, port, 1000, 0, 0x02); /* SYN */
	long got = recv_frame(&d, 0x0800, 6);
	CHECK(got >= 54);
	uint8_t *t = rx_buf + 34;
	CHECK_EQ(t[13] & 0x12, 0x12); /* SYN|ACK */
	uint32_t their;
	memcpy(&their, t + 4, 4);
	their = ntohl(their);
	tcp_send(&d, 40000, port, 1001, their + 1, 0x10); /* ACK */
	struct pollfd p = {.fd = l, .events = POLLIN};
	CHECK(poll(&p, 1, 5000) == 1);
	int c = accept(l, NULL, NULL);
	CHECK(c >= 0);
	CHECK(write(c, msg, sizeof(msg)) == (ssize_t)sizeof(msg));
	/* The data segment (skip pure ACKs). */
	bool is_found = false;
	for (int i = 0; i < 8 && !is_found; i++) {
		got = recv_frame(&d, 0x0800, 6);
		if (got <= 0)
			break;
		size_t ihl = (rx_buf[14] & 15) * 4u;
		uint8_t *tt = rx_buf + 14 + ihl;
		size_t doff = (tt[12] >> 4) * 4u;
		size_t tot = (size_t)(rx_buf[16] << 8 | rx_buf[17]);
		size_t plen = tot - ihl - doff;
		if (plen == sizeof(msg)) {
			CHECK(!memcmp(tt + doff, msg, sizeof(msg)));
			/* The checksum slirp computed is right. */
			CHECK_EQ(l4_csum(rx_buf + 14, tt, tot - ihl), 0);
			is_found = true;
		}
	}
	CHECK(is_found);
	close(c);
	close(l);
	sim_destroy(&d);
}

TEST(slirp_hostfwd)
{
	struct sim_drv d;
	char extra[64];

	/* Find a free port, then forward it. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	bind(s, (struct sockaddr *)&a, sizeof(a));
	getsockname(s, (struct sockaddr *)&a, &al);
	close(s);
	uint16_t port = ntohs(a.sin_port);
	test_snprintf(extra, sizeof(extra), ",hostfwd=tcp:127.0.0.1:%u-:8080", port);
	if (slirp_sim(&d, extra)) {
		CHECK(0);
		return;
	}
	CHECK(arp_gateway(&d)); /* slirp learns the guest's MAC */
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int rc = connect(c, (struct sockaddr *)&a, sizeof(a));
	CHECK(rc == 0 || errno == EINPROGRESS);
	long got = recv_frame(&d, 0x0800, 6);
	CHECK(got >= 54);
	if (got >= 54) {
		uint8_t *t = rx_buf + 34;
		CHECK(!memcmp(rx_buf + 30, GUEST_IP, 4));
		CHECK_EQ(t[2] << 8 | t[3], 8080);
		CHECK_EQ(t[13] & 0x12, 0x02); /* SYN */
	}
	close(c);
	sim_destroy(&d);
}

int main(void)
{
	RUN(slirp_arp_and_dhcp);
	RUN(slirp_outbound_tcp);
	RUN(slirp_hostfwd);
	return test_summary();
}

#else

int main(void)
{
	printf("skip (built without libslirp)\n");
	return 0;
}

#endif

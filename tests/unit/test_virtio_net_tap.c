/* tests/unit/test_virtio_net_tap.c — virtio-net over a real TAP device, no vCPU.
 *
 * The test moves itself into a fresh network namespace (unshare CLONE_NEWNET; needs root
 * or CAP_NET_ADMIN, else it says "skip" and runs nothing), creates the TAP through the
 * device's own "tap=" spec, and plays the outside world with an AF_PACKET socket bound to
 * the TAP with PACKET_VNET_HDR, so it can inject and observe GSO frames with their
 * virtio-net headers. A simulated driver (bench/net/sim_driver.h) plays the guest.
 *
 * Checks: plain frames bit for bit both ways; a 64 KiB TSO frame reaches a guest that
 * negotiated GUEST_TSO4 as one frame with the kernel's GSO metadata (gso_type, gso_size,
 * csum_start/offset) and arrives segmented into MSS-sized frames for a guest that did not;
 * a guest's 64 KiB TSO frame leaves through the TAP unsegmented with its metadata; bad
 * offload requests are dropped and counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/net/sim_driver.h"
#include "tests/unit/test.h"

#define TAP_NAME  "vnt0"
#define ETH_TEST  0x88b5
#define GUEST_MAC "\x52\x54\x00\xaa\xbb\xcc"
#define MSS	  1448

/* The AF_PACKET header: the legacy 10-byte virtio_net_hdr. */
struct pkt_vnet_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};

static uint8_t frame_buf[70000], rx_buf[70000], pkt_buf[70100];
static int pkt_fd = -1;
static int ifindex;

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		ssize_t r = write(fd, s, strlen(s));
		(void)r;
		close(fd);
	}
}

static int link_up(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	int rc;

	memset(&ifr, 0, sizeof(ifr));
	test_snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!rc)
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	return rc;
}

static int open_packet_socket(void)
{
	int one = 1;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one));
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	int big = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex};
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void make_frame(uint8_t *f, size_t len, uint32_t seq)
{
	memcpy(f, GUEST_MAC, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x02", 6);
	f[12] = ETH_TEST >> 8;
	f[13] = ETH_TEST & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seq * 29 + i * 3);
	memcpy(f + 14, &seq, 4);
}

static uint16_t ip_csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

/* Ethernet + IPv4 + TCP (no options) + payload; returns the frame length. */
static size_t make_tcp4(uint8_t *f, size_t payload, bool to_guest)
{
	uint8_t *ip = f + 14, *tcp = ip + 20;
	uint16_t tot = (uint16_t)(40 + payload);

	memcpy(f, to_guest ? GUEST_MAC : "\x02\x00\x00\x00\x00\x02", 6);
	memcpy(f + 6, to_guest ? "\x02\x00\x00\x00\x00\x02" : GUEST_MAC, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 40);
	ip[0] = 0x45;
	ip[2] = tot >> 8;
	ip[3] = tot & 0xff;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, "\x0a\x09\x00\x01", 4);
	memcpy(ip + 16, "\x0a\x09\x00\x02", 4);
	uint16_t c = ip_csum(ip, 20);
	memcpy(ip + 10, &c, 2);
	tcp[0] = 0x04;
	tcp[1] = 0xd2; /* 1234 */
	tcp[3] = 80;
	tcp[4] = 0x11; /* seq */
	tcp[12] = 5 << 4;
	tcp[13] = 0x18; /* PSH|ACK */
	tcp[14] = 0xff;
	tcp[15] = 0xff;
	for (size_t i = 0; i < payload; i++)
		tcp[20 + i] = (uint8_t)(i * 13 + 5);
	return 54 + payload;
}

/* Receives the next frame with our test ethertype or IPv4 TCP from the guest side,
 * skipping anything the kernel itself sends. */
static long guest_rx(struct sim_drv *d, struct virtio_net_hdr_v1 *h, int ms)
{
	for (int i = 0; i < 64; i++) {
		long got = sim_rx_frame(d, h, rx_buf, sizeof(rx_buf), ms);
		if (got <= 0)
			return got;
		if ((rx_buf[12] == (ETH_TEST >> 8) && rx_buf[13] == (ETH_TEST & 0xff)) ||
		    (rx_buf[12] == 0x08 && rx_buf[13] == 0x00 && got > 34 && rx_buf[23] == 6))
			return got;
	}
	return -1;
}

/* Receives the next frame the guest sent, from the packet socket. */
static long outside_rx(struct pkt_vnet_hdr *h, int ms)
{
	for (int i = 0; i < 64; i++) {
		struct pollfd p = {.fd = pkt_fd, .events = POLLIN};
		if (poll(&p, 1, ms) <= 0)
			return 0;
		ssize_t r = recv(pkt_fd, pkt_buf, sizeof(pkt_buf), 0);
		if (r < (ssize_t)sizeof(*h) + 14)
			continue;
		memcpy(h, pkt_buf, sizeof(*h));
		memmove(pkt_buf, pkt_buf + sizeof(*h), (size_t)r - sizeof(*h));
		return r - (long)sizeof(*h);
	}
	return -1;
}

static int outside_tx(const struct pkt_vnet_hdr *h, const uint8_t *f, size_t len)
{
	struct iovec iov[2] = {{(void *)h, sizeof(*h)}, {(void *)f, len}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};

	for (int tries = 0; tries < 1000; tries++) {
		ssize_t r = sendmsg(pkt_fd, &m, 0);
		if (r >= 0)
			return 0;
		if (errno != EAGAIN && errno != ENOBUFS)
			return -errno;
		usleep(1000);
	}
	return -EAGAIN;
}

static int tap_sim(struct sim_drv *d, uint64_t features)
{
	char err[256];

	if (sim_create(d, "tap=" TAP_NAME ",mac=52:54:00:aa:bb:cc", err, sizeof(err))) {
		fprintf(stderr, "  %s\n", err);
		return -1;
	}
	if (link_up(TAP_NAME)) {
		fprintf(stderr, "  cannot bring %s up: %s\n", TAP_NAME, strerror(errno));
		sim_destroy(d);
		return -1;
	}
	ifindex = (int)if_nametoindex(TAP_NAME);
	pkt_fd = open_packet_socket();
	if (pkt_fd < 0) {
		fprintf(stderr, "  packet socket: %s\n", strerror(errno));
		sim_destroy(d);
		return -1;
	}
	if (sim_driver_init(d, features, 256)) {
		close(pkt_fd);
		sim_destroy(d);
		return -1;
	}
	sim_rx_setup(d, 128, 1, 4096);
	sim_rx_post(d, 0, 128);
	return 0;
}

static void tap_sim_end(struct sim_drv *d)
{
	close(pkt_fd);
	pkt_fd = -1;
	sim_destroy(d); /* closes the TAP fd: the non-persistent interface goes away */
}

TEST(tap_features_and_plain_frames)
{
	struct sim_drv d;
	struct virtio_net_hdr_v1 h;
	struct pkt_vnet_hdr ph = {0};

	if (tap_sim(&d, ~0ULL)) {
		CHECK(0);
		return;
	}
	CHECK(sim_has(&d, VIRTIO_NET_F_CSUM));
	CHECK(sim_has(&d, VIRTIO_NET_F_GUEST_TSO4));
	CHECK(sim_has(&d, VIRTIO_NET_F_HOST_TSO6));
	CHECK(sim_has(&d, VIRTIO_NET_F_MRG_RXBUF));
	for (uint32_t seq = 0; seq < 100; seq++) {
		size_t len = 60 + (seq * 41) % 1455;
		make_frame(frame_buf, len, seq);
		CHECK(outside_tx(&ph, frame_buf, len) == 0);
		long got = guest_rx(&d, &h, 5000);
		CHECK_EQ(got, len);
		CHECK(got == (long)len && !memcmp(rx_buf, frame_buf, len));
		CHECK_EQ(h.gso_type, 0);
		CHECK_EQ(h.num_buffers, 1);
	}
	struct virtio_net_hdr_v1 th = {0};
	for (uint32_t seq = 0; seq < 100; seq++) {
		size_t len = 60 + (seq * 67) % 1455;
		make_frame(frame_buf, len, seq + 1000);
		frame_buf[0] = 0x02; /* not to ourselves */
		CHECK(sim_tx_frame(&d, &th, frame_buf, len, 1 + seq % 4) == 0);
		long got = outside_rx(&ph, 5000);
		CHECK_EQ(got, len);
		CHECK(got == (long)len && !memcmp(pkt_buf, frame_buf, len));
		CHECK_EQ(ph.gso_type, 0);
	}
	CHECK(sim_tx_drain(&d, 5000) == 0);
	tap_sim_end(&d);
}

/* A 64 KiB TSO frame from the outside reaches a TSO-capable guest as one frame. */
TEST(tap_rx_gso_passes_through)
{
	struct sim_drv d;
	struct virtio_net_hdr_v1 h;
	size_t payload = 65000 - 54;

	if (tap_sim(&d, ~0ULL)) {
		CHECK(0);
		return;
	}
	size_t len = make_tcp4(frame_buf, payload, true);
	struct pkt_vnet_hdr ph = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				  .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				  .hdr_len = 54,
				  .gso_size = MSS,
				  .csum_start = 34,
				  .csum_offset = 16};
	CHECK(outside_tx(&ph, frame_buf, len) == 0);
	long got = guest_rx(&d, &h, 5000);
	CHECK_EQ(got, len);
	CHECK_EQ(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ(h.gso_size, MSS);
	CHECK_EQ(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(h.csum_start, 34);
	CHECK_EQ(h.csum_offset, 16);
	CHECK(h.num_buffers > 1); /* 64 KiB over 4 KiB buffers */
	CHECK(got == (long)len && !memcmp(rx_buf, frame_buf, len));
	tap_sim_end(&d);
}

/* The same frame for a guest without GUEST_TSO4/GUEST_CSUM: the kernel segments it. */
TEST(tap_rx_gso_segmented_without_offload)
{
	struct sim_drv d;
	struct virtio_net_hdr_v1 h;
	size_t payload = 20000;
	uint64_t want =
	    ~(VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
	      VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN));

	if (tap_sim(&d, want)) {
		CHECK(0);
		return;
	}
	size_t len = make_tcp4(frame_buf, payload, true);
	struct pkt_vnet_hdr ph = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				  .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				  .hdr_len = 54,
				  .gso_size = MSS,
				  .csum_start = 34,
				  .csum_offset = 16};
	CHECK(outside_tx(&ph, frame_buf, len) == 0);
	size_t off = 0;
	unsigned segs = 0;
	while (off < payload) {
		long got = guest_rx(&d, &h, 5000);
		if (got <= 54) {
			CHECK(got > 54);
			break;
		}
		CHECK_EQ(h.gso_type, 0);
		CHECK_EQ(h.flags, 0);
		CHECK(got <= 54 + MSS);
		size_t pl = (size_t)got - 54;
		CHECK(off + pl <= payload && !memcmp(rx_buf + 54, frame_buf + 54 + off, pl));
		off += pl;
		segs++;
	}
	CHECK_EQ(off, payload);
	CHECK_EQ(segs, (payload + MSS - 1) / MSS);
	tap_sim_end(&d);
}

/* A guest's 64 KiB TSO frame leaves unsegmented, metadata intact. */
TEST(tap_tx_gso_passes_through)
{
	struct sim_drv d;
	struct pkt_vnet_hdr ph;
	size_t payload = 60000;

	if (tap_sim(&d, ~0ULL)) {
		CHECK(0);
		return;
	}
	size_t len = make_tcp4(frame_buf, payload, false);
	struct virtio_net_hdr_v1 th = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				       .hdr_len = 54,
				       .gso_size = MSS,
				       .csum_start = 34,
				       .csum_offset = 16};
	CHECK(sim_tx_frame(&d, &th, frame_buf, len, 5) == 0);
	long got = outside_rx(&ph, 5000);
	CHECK_EQ(got, len);
	CHECK_EQ(ph.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ(ph.gso_size, MSS);
	CHECK(got == (long)len && !memcmp(pkt_buf, frame_buf, len));
	/* Bad offload requests: checksum outside the frame, GSO without NEEDS_CSUM, UFO. */
	struct virtio_net_hdr_v1 bad1 = {.flags = 1, .csum_start = 2000, .csum_offset = 16};
	struct virtio_net_hdr_v1 bad2 = {.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = MSS};
	struct virtio_net_hdr_v1 bad3 = {.flags = 1,
					 .gso_type = VIRTIO_NET_HDR_GSO_UDP,
					 .gso_size = MSS,
					 .csum_start = 34,
					 .csum_offset = 6};
	CHECK(sim_tx_frame(&d, &bad1, frame_buf, 200, 1) == 0);
	CHECK(sim_tx_frame(&d, &bad2, frame_buf, len, 1) == 0);
	CHECK(sim_tx_frame(&d, &bad3, frame_buf, len, 1) == 0);
	CHECK(sim_tx_drain(&d, 5000) == 0);
	struct virtio_net_stats st;
	virtio_net_get_stats(d.net, &st);
	CHECK_EQ(st.tx_bad, 3);
	tap_sim_end(&d);
}

int main(void)
{
	if (unshare(CLONE_NEWNET) < 0) {
		printf("skip (cannot create a network namespace: %s)\n", strerror(errno));
		return 0;
	}
	/* Keep the kernel quiet on the TAP (no IPv6 router solicitations, DAD, MLD). */
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	RUN(tap_features_and_plain_frames);
	RUN(tap_rx_gso_passes_through);
	RUN(tap_rx_gso_segmented_without_offload);
	RUN(tap_tx_gso_passes_through);
	return test_summary();
}

/* tests/unit/test_virtio_net.c — virtio-net datapath without a vCPU.
 *
 * A simulated driver (bench/net/sim_driver.h) plays the guest against real backends: a
 * socketpair (fd backend), a TAP in a private network namespace (AF_PACKET socket as the
 * peer, with virtio-net headers so GSO metadata can be checked), and libslirp. Checks:
 * frames bit for bit both ways, mergeable and non-mergeable buffers, num_buffers, GSO
 * metadata kept or segmented as negotiated, no loss when the RX ring is full (socket
 * backpressure), TX backpressure, device reset in mid-stream, malformed TX chains counted
 * and survived, and --net spec errors.
 *
 * The TAP tests need root (CAP_NET_ADMIN) to unshare a network namespace; without it they
 * report "skip" and pass nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/net/sim_driver.h"
#include "tests/unit/test.h"

#define ALL_FEATURES (~0ULL)
#define NO_MRG	     (~VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF))

static uint8_t frame_buf[70000], rx_buf[70000];

/* Frame number seq of length len: Ethernet header then a pattern derived from seq. */
static void make_frame(uint8_t *f, size_t len, uint32_t seq)
{
	static const uint8_t dst[6] = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};
	static const uint8_t src[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xb5; /* local experimental ethertype */
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seq * 131 + i * 7);
	if (len >= 18)
		memcpy(f + 14, &seq, 4);
}

static int sim_fd_create(struct sim_drv *d, int *peer, const char *extra)
{
	int sv[2];
	char spec[64], err[256];

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0)
		return -errno;
	test_snprintf(spec, sizeof(spec), "fd=%d,mac=52:54:00:aa:bb:cc%s", sv[0],
		      extra ? extra : "");
	if (sim_create(d, spec, err, sizeof(err))) {
		fprintf(stderr, "  %s\n", err);
		close(sv[0]);
		close(sv[1]);
		return -EINVAL;
	}
	*peer = sv[1];
	return 0;
}

/* --net parsing then device creation, as the VM does it. */
static struct virtio_net *net_create(const struct guest_mem *m, const char *spec, char *err,
				     size_t errlen)
{
	struct vm_net_config nc;

	if (config_parse_net(&nc, spec, err, errlen))
		return NULL;
	return virtio_net_create(m, &nc, err, errlen);
}

TEST(spec_errors)
{
	struct guest_mem m;
	static uint8_t ram[1 << 16];
	char err[256];
	int fd;

	guest_mem_init_buffer(&m, ram, sizeof(ram));
	CHECK(!net_create(&m, "fd=3,mac=zz", err, sizeof(err)));
	CHECK(!strcmp(err, "--net mac=zz: malformed MAC address"));
	CHECK(!net_create(&m, "user,mac=01:00:00:00:00:01", err, sizeof(err)));
	CHECK(strstr(err, "malformed MAC address") != NULL);
	fd = open("/dev/null", O_RDONLY);
	char spec[64];
	test_snprintf(spec, sizeof(spec), "fd=%d", fd);
	CHECK(!net_create(&m, spec, err, sizeof(err)));
	char want[160];
	snprintf(want, sizeof(want), "--net fd=%d: not a socket", fd);
	CHECK(!strcmp(err, want));
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	test_snprintf(spec, sizeof(spec), "fd=%d", fd);
	CHECK(!net_create(&m, spec, err, sizeof(err)));
	CHECK(strstr(err, "not a datagram") != NULL);
	close(fd);
	CHECK(!net_create(&m, "fd=-1", err, sizeof(err)));
	CHECK(!net_create(&m, "bogus", err, sizeof(err)));
	CHECK(strstr(err, "--net bogus: unknown option") == err);
	CHECK(!net_create(&m, "tap=name-much-too-long-for-linux", err, sizeof(err)));
	CHECK(strstr(err, "--net tap=name-much-too-long-for-linux: ") == err);
	CHECK(!net_create(&m, "user,hostfwd=tcp::notaport-:80", err, sizeof(err)));
	CHECK(strstr(err, "malformed forward") != NULL);
	CHECK(!net_create(&m, "mac=52:54:00:00:00:01", err, sizeof(err)));
	CHECK(strstr(err, "no backend") != NULL);
#ifdef HAVE_SLIRP
	/* A host port that is taken. */
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
	socklen_t al = sizeof(a);
	CHECK(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(listen(l, 1) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&a, &al) == 0);
	unsigned port = ntohs(a.sin_port);
	test_snprintf(spec, sizeof(spec), "user,hostfwd=tcp::%u-:80", port);
	CHECK(!net_create(&m, spec, err, sizeof(err)));
	snprintf(want, sizeof(want), "--net user: host port %u is already in use", port);
	CHECK(!strcmp(err, want));
	if (strcmp(err, want))
		fprintf(stderr, "  got: %s\n", err);
	close(l);
#endif
}

TEST(config_space)
{
	struct sim_drv d;
	int peer;

	if (sim_fd_create(&d, &peer, NULL)) {
		CHECK(0);
		return;
	}
	CHECK_EQ(sim_rd(&d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	uint8_t mac[6];
	for (unsigned i = 0; i < 6; i++) {
		uint8_t b = 0;
		virtio_mmio_access(d.t, VIRTIO_MMIO_CONFIG + i, &b, 1, false);
		mac[i] = b;
	}
	CHECK(!memcmp(mac, "\x52\x54\x00\xaa\xbb\xcc", 6));
	uint16_t st = 0, mtu = 0;
	virtio_mmio_access(d.t, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_STATUS, &st, 2, false);
	virtio_mmio_access(d.t, VIRTIO_MMIO_CONFIG + VIRTIO_NET_CFG_MTU, &mtu, 2, false);
	CHECK_EQ(st, VIRTIO_NET_S_LINK_UP);
	CHECK_EQ(mtu, 1500);
	/* The fd backend carries no headers: no offloads offered. */
	CHECK(sim_driver_init(&d, ALL_FEATURES, 256) == 0);
	CHECK(sim_has(&d, VIRTIO_NET_F_MRG_RXBUF));
	CHECK(sim_has(&d, VIRTIO_F_EVENT_IDX));
	CHECK(!sim_has(&d, VIRTIO_NET_F_CSUM));
	CHECK(!sim_has(&d, VIRTIO_NET_F_GUEST_TSO4));
	sim_destroy(&d);
	close(peer);
}

/* Frames of many sizes from the peer arrive bit for bit, in order. */
static void rx_roundtrip(uint64_t features, unsigned nr_chains, unsigned chain_desc,
			 uint32_t buf_len, bool expect_multi)
{
	struct sim_drv d;
	int peer;
	struct virtio_net_hdr_v1 h;
	bool saw_multi = false;

	if (sim_fd_create(&d, &peer, NULL)) {
		CHECK(0);
		return;
	}
	CHECK(sim_driver_init(&d, features, 256) == 0);
	sim_rx_setup(&d, nr_chains, chain_desc, buf_len);
	sim_rx_post(&d, 0, nr_chains);
	for (uint32_t seq = 0; seq < 300; seq++) {
		size_t len = 14 + (seq * 37) % 1501; /* 14 .. 1514 */
		if (len < 60)
			len = 60;
		make_frame(frame_buf, len, seq);
		CHECK(send(peer, frame_buf, len, 0) == (ssize_t)len);
		long got = sim_rx_frame(&d, &h, rx_buf, sizeof(rx_buf), 5000);
		CHECK_EQ(got, len);
		if (got != (long)len)
			break;
		CHECK(!memcmp(rx_buf, frame_buf, len));
		CHECK_EQ(h.flags, 0);
		CHECK_EQ(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
		if (h.num_buffers > 1)
			saw_multi = true;
	}
	CHECK_EQ(saw_multi, expect_multi);
	struct virtio_net_stats st;
	virtio_net_get_stats(d.net, &st);
	CHECK_EQ(st.rx_frames, 300);
	CHECK_EQ(st.rx_oversize, 0);
	sim_destroy(&d);
	close(peer);
}

/* A snapshot of a paused NIC: the RX chains it reserved for frames to come go back to the
 * ring (nothing in flight, the transport's save succeeds), and after resume frames still
 * arrive, every byte right. */
TEST(rx_reserve_given_back_for_snapshot)
{
	struct sim_drv d;
	struct virtio_net_hdr_v1 h;
	struct virtio_mmio_state ts;
	uint8_t blob[64];
	int peer;

	if (sim_fd_create(&d, &peer, NULL)) {
		CHECK(0);
		return;
	}
	CHECK(sim_driver_init(&d, ALL_FEATURES, 256) == 0);
	sim_rx_setup(&d, 64, 1, 2048);
	sim_rx_post(&d, 0, 64);
	make_frame(frame_buf, 100, 1);
	CHECK(send(peer, frame_buf, 100, 0) == 100);
	CHECK_EQ(sim_rx_frame(&d, &h, rx_buf, sizeof(rx_buf), 5000), 100);
	/* The worker now holds a reserve of popped chains. */
	CHECK_EQ(virtio_mmio_pause(d.t), 0);
	CHECK(virtio_mmio_queue(d.t, 0)->nr_inflight > 0);
	CHECK_EQ(virtio_mmio_save(d.t, &ts), -EBUSY);
	long n = virtio_mmio_save_device(d.t, blob, sizeof(blob));
	CHECK(n > 0);
	CHECK_EQ(virtio_mmio_queue(d.t, 0)->nr_inflight, 0);
	CHECK_EQ(virtio_mmio_save(d.t, &ts), 0);
	CHECK_EQ(virtio_mmio_resume(d.t), 0);
	for (uint32_t seq = 2; seq < 40; seq++) {
		size_t len = 60 + seq * 31;
		make_frame(frame_buf, len, seq);
		CHECK(send(peer, frame_buf, len, 0) == (ssize_t)len);
		long got = sim_rx_frame(&d, &h, rx_buf, sizeof(rx_buf), 5000);
		CHECK_EQ(got, len);
		if (got != (long)len)
			break;
		CHECK(!memcmp(rx_buf, frame_buf, len));
	}
	sim_destroy(&d);
	close(peer);
}

TEST(rx_fd_mergeable)
{
	rx_roundtrip(ALL_FEATURES, 128, 1, 2048, false);
}

TEST(rx_fd_mergeable_small_buffers)
{
	/* 512-byte buffers: frames spread over up to 4 buffers, num_buffers says how many. */
	rx_roundtrip(ALL_FEATURES, 128, 1, 512, true);
}

TEST(rx_fd_no_event_idx)
{
	rx_roundtrip(ALL_FEATURES & ~VIRTIO_BIT(VIRTIO_F_EVENT_IDX), 64, 1, 2048, false);
}

TEST(rx_fd_not_mergeable)
{
	/* Chains of 2 x 1024 bytes, one frame per chain. */
	rx_roundtrip(NO_MRG, 64, 2, 1024, false);
}

TEST(rx_fd_oversize_dropped_counted)
{
	struct sim_drv d;
	int peer;
	struct virtio_net_hdr_v1 h;

	if (sim_fd_create(&d, &peer, NULL)) {
		CHECK(0);
		return;
	}
	CHECK(sim_driver_init(&d, NO_MRG, 256) == 0);
	sim_rx_setup(&d, 16, 1, 1526);
	sim_rx_post(&d, 0, 16);
	make_frame(frame_buf, 4000, 1); /* bigger than any chain: cannot be delivered */
	CHECK(send(peer, frame_buf, 4000, 0) == 4000);
	make_frame(frame_buf, 1514, 2);
	CHECK(send(peer, frame_buf, 1514, 0) == 1514);
	long got = sim_rx_frame(&d, &h, rx_buf, sizeof(rx_buf), 5000);
	CHECK_EQ(got, 1514);
	CHECK(!memcmp(rx_buf, frame_buf, 1514));
	struct virtio_net_stats st;
	virtio_net_get_stats(d.net, &st);
	CHECK_EQ(st.rx_oversize, 1);
	CHECK_EQ(st.rx_frames, 1);
	sim_destroy(&d);
	close(peer);
}

struct flood {
	int fd;
	uint32_t count;
	size_t len;
	int err;
};

static void *flood_thread(void *arg)
{
	struct flood *f = arg;
	uint8_t buf[2048];

	for (uint32_t seq = 0; seq < f->count; seq++) {
		size_t len = f->len ? f->len : 60 + seq % 1400;
		make_frame(buf, len, seq);
		/* Blocking send: when the device stops reading, this waits. */
		if (send(f->fd, buf, len, 0) != (ssize_t)len) {
			f->err = errno;
			break;
		}
	}
	return NULL;
}

/* The guest keeps only a few buffers posted and is slow: the device must stop reading
 * (socket backpressure), never drop; every frame arrives, in order. */
TEST(rx_ring_full_no_loss)
{
	struct sim_drv d;
	int peer;
	struct virtio_net_hdr_v1 h;
	struct flood f = {.count = 5000};
	pthread_t th;

	if (sim_fd_create(&d, &peer, NULL)) {
		CHECK(0);
		return;
	}
	f.fd = peer;
	CHECK(sim_driver_init(&d, ALL_FEATURES, 256) == 0);
	sim_rx_setup(&d, 8, 1, 2048);
	sim_rx_post(&d, 0, 8);
	pthread_create(&th, NULL, flood_thread, &f);
	usleep(200 * 1000); /* let the ring fill and the socket back up */
	uint32_t seq;
	for (seq = 0; seq < f.count; seq++) {
		long got = sim_rx_frame(&d, &h, rx_buf, sizeof(rx_buf), 5000);
		size_t len = 60 + seq % 1400;
		if (got != (long)len) {
			CHECK_EQ(got, len);
			break;
		}
		make_frame(frame_buf, len, seq);
		if (memcmp(rx_buf, frame_buf, len)) {
			CHECK(!"frame content or order differs");
			break;
		}
	}
	pthread_join(th, NULL);
	CHECK_EQ(f.err, 0);
	CHECK_EQ(seq, f.count);
	struct virtio_net_stats st;
	virtio_net_get_stats(d.net, &st);
	CHECK_EQ(st.rx_frames, f.count);
	CHECK(st.rx_starved > 0); /* the ring did run empty */
	CHECK_EQ(st.rx_oversize, 0);
	sim_destroy(&d);
	close(peer);
}

TEST(tx_fd_frames)
{
	struct sim_drv d;
	int peer;
	struct virtio_net_hdr_v1 h = {0};

	if (sim_fd_create(&d, &peer, NULL)) {
		CHECK(0);
		return;
	}
	CHECK(sim_driver_init(&d, ALL_FEATURES, 256) == 0);
	for (uint32_t seq = 0; seq < 200; seq++) {
		size_t len = 60 + (seq * 53) % 1455;
		make_frame(frame_buf, len, seq);
		CHECK(sim_tx_frame(&d, &h, frame_buf, len, 1 + seq % 5) == 0);
		ssize_t r = recv(peer, rx_buf, sizeof(rx_buf), 0);
		CHECK_EQ(r, len);
		CHECK(r == (ssize_t)len && !memcmp(rx_buf, frame_buf, len));
	}
	CHECK(sim_tx_drain(&d, 5000) == 0);
	struct virtio_net_stats st;
	virtio_net_get_stats(d.net, &st);
	CHECK_EQ(st.tx_frames, 200);
	CHECK_EQ(st.tx_bad, 0);
	sim_destroy(&d);
	close(peer);
}

/* The peer does not read: TX must hold chains (never lose them) and go on later. */
TEST(tx_backpressure_no_loss)
{
	struct sim_drv d;
	int peer;
	struct virtio_net_hdr_v1 h = {0};
	const uint32_t n = 3000;

	if (sim_fd_create(&d, &peer, NULL)) {
		CHECK(0);
		return;
	}
	CHECK(sim_driver_init(&d, ALL_FEATURES, 256) == 0);
	uint32_t sent = 0, rcvd = 0;
	int fl = fcntl(peer, F_GETFL);
	fcntl(peer, F_SETFL, fl | O_NONBLOCK);
	/* Fill until the driver's TX ring is stuck, then read everything. */
	while (sent < n) {
		make_frame(frame_buf, 1000, sent);
		if (sim_tx_frame(&d, &h, frame_buf, 1000, 2) != 0)
			break; /* ring full and no completion: backpressure reached the guest */
		sent++;
		if (sent % 500 == 0) {
			/* drain a bit so the test finishes */
			ssize_t r;
			while ((r = recv(peer, rx_buf, sizeof(rx_buf), 0)) > 0) {
				make_frame(frame_buf, 1000, rcvd);
				if (r != 1000 || memcmp(rx_buf, frame_buf, 1000)) {
					CHECK(!"TX frame lost, reordered or damaged");
					break;
				}
				rcvd++;
			}
		}
	}
	struct virtio_net_stats st;
	virtio_net_get_stats(d.net, &st);
	CHECK(st.tx_blocked > 0);
	fcntl(peer, F_SETFL, fl);
	for (int tries = 0; rcvd < sent && tries < 100000; tries++) {
		struct pollfd p = {.fd = peer, .events = POLLIN};
		if (poll(&p, 1, 2000) <= 0)
			break;
		ssize_t r = recv(peer, rx_buf, sizeof(rx_buf), 0);
		make_frame(frame_buf, 1000, rcvd);
		if (r != 1000 || memcmp(rx_buf, frame_buf, 1000)) {
			CHECK(!"TX frame lost, reordered or damaged");
			break;
		}
		rcvd++;
	}
	CHECK_EQ(rcvd, sent);
	CHECK(sim_tx_drain(&d, 5000) == 0);
	virtio_net_get_stats(d.net, &st);
	CHECK_EQ(st.tx_frames, sent);
	sim_destroy(&d);
	close(peer);
}

TEST(tx_malformed_chains)
{
	struct sim_drv d;
	int peer;
	struct virtio_net_hdr_v1 h = {0};

	if (sim_fd_create(&d, &peer, NULL)) {
		CHECK(0);
		return;
	}
	CHECK(sim_driver_init(&d, ALL_FEATURES, 256) == 0);
	uint64_t g = SIM_TX_BUF_BASE + 60 * SIM_TX_SLOT; /* a spare buffer area */
	memset(sim_ptr(&d, g), 0, 4096);
	/* 1: shorter than the header. */
	struct virtq_desc c1[] = {{g, 8, 0, 0}};
	sim_tx_raw(&d, c1, 1);
	/* 2: header only. */
	struct virtq_desc c2[] = {{g, 12, 0, 0}};
	sim_tx_raw(&d, c2, 1);
	/* 3: absurdly long (no TSO offered on this backend): 9000 bytes. */
	struct virtq_desc c3[] = {{g, 12, VIRTQ_DESC_F_NEXT, 0}, {g + 4096, 9000, 0, 0}};
	sim_tx_raw(&d, c3, 2);
	/* 4: GSO requested without HOST_TSO, and NEEDS_CSUM without CSUM. */
	struct virtio_net_hdr_v1 bad = {.flags = 1, .gso_type = 1, .gso_size = 1448};
	memcpy(sim_ptr(&d, g + 16384), &bad, sizeof(bad));
	struct virtq_desc c4[] = {{g + 16384, 12, VIRTQ_DESC_F_NEXT, 0}, {g + 4096, 100, 0, 0}};
	sim_tx_raw(&d, c4, 2);
	/* 5: a writable buffer in a TX chain. */
	struct virtq_desc c5[] = {{g, 12, VIRTQ_DESC_F_NEXT, 0},
				  {g + 4096, 100, VIRTQ_DESC_F_WRITE, 0}};
	sim_tx_raw(&d, c5, 2);
	/* 6: a length past guest RAM: the queue breaks (NEEDS_RESET), the VMM lives on. */
	CHECK(sim_tx_drain(&d, 5000) == 0);
	struct virtio_net_stats st;
	virtio_net_get_stats(d.net, &st);
	CHECK_EQ(st.tx_bad, 5);
	CHECK_EQ(st.tx_frames, 0);
	/* A good frame still goes through. */
	make_frame(frame_buf, 100, 7);
	CHECK(sim_tx_frame(&d, &h, frame_buf, 100, 1) == 0);
	CHECK_EQ(recv(peer, rx_buf, sizeof(rx_buf), 0), 100);
	CHECK(!memcmp(rx_buf, frame_buf, 100));
	struct virtq_desc c6[] = {{SIM_MEM_SIZE - 8, 0x10000, 0, 0}};
	sim_tx_raw(&d, c6, 1);
	for (int i = 0; i < 100 && !(virtio_mmio_status(d.t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	     i++)
		usleep(10000);
	CHECK(virtio_mmio_status(d.t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* The driver resets and starts over; the device works again. */
	CHECK(sim_driver_init(&d, ALL_FEATURES, 256) == 0);
	CHECK(sim_tx_frame(&d, &h, frame_buf, 100, 1) == 0);
	CHECK_EQ(recv(peer, rx_buf, sizeof(rx_buf), 0), 100);
	sim_destroy(&d);
	close(peer);
}

/* Reset while frames stream in; re-initialise with rings elsewhere. The old rings and
 * buffers must not be written after the reset; the new ones get every later frame. */
TEST(rx_reset_mid_stream)
{
	struct sim_drv d;
	int peer;
	struct virtio_net_hdr_v1 h;

	if (sim_fd_create(&d, &peer, NULL)) {
		CHECK(0);
		return;
	}
	CHECK(sim_driver_init(&d, ALL_FEATURES, 256) == 0);
	sim_rx_setup(&d, 64, 1, 2048);
	sim_rx_post(&d, 0, 64);
	for (uint32_t seq = 0; seq < 20; seq++) {
		make_frame(frame_buf, 500, seq);
		send(peer, frame_buf, 500, 0);
	}
	for (uint32_t seq = 0; seq < 10; seq++)
		CHECK_EQ(sim_rx_frame(&d, &h, rx_buf, sizeof(rx_buf), 5000), 500);
	/* The other 10 are in the ring already (delivered, not yet taken by the driver):
	 * the reset throws them away with the ring, as on real hardware. */
	struct virtio_net_stats st;
	for (int i = 0; i < 500; i++) {
		virtio_net_get_stats(d.net, &st);
		if (st.rx_frames == 20)
			break;
		usleep(1000);
	}
	CHECK_EQ(st.rx_frames, 20);
	sim_wr(&d, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(sim_rd(&d, VIRTIO_MMIO_STATUS), 0);
	/* Poison the old rings and buffers, then send more frames. */
	memset(sim_ptr(&d, SIM_RING_BASE), 0xa5, 2 * SIM_RING_SPAN);
	memset(sim_ptr(&d, SIM_RX_BUF_BASE), 0xa5, 64 * 2048);
	for (uint32_t seq = 100; seq < 110; seq++) {
		make_frame(frame_buf, 700, seq);
		send(peer, frame_buf, 700, 0);
	}
	usleep(100 * 1000);
	bool is_clean = true;
	for (size_t i = 0; i < 2 * SIM_RING_SPAN; i++)
		if (((uint8_t *)sim_ptr(&d, SIM_RING_BASE))[i] != 0xa5)
			is_clean = false;
	CHECK(is_clean);
	/* New rings at another place; new buffers. */
	d.ring_shift = 4 * SIM_RING_SPAN;
	CHECK(sim_driver_init(&d, ALL_FEATURES, 128) == 0);
	sim_rx_setup(&d, 32, 1, 2048);
	sim_rx_post(&d, 0, 32);
	/* The frames sent while the device was reset wait in the socket: all arrive. */
	for (uint32_t seq = 100; seq < 110; seq++) {
		long got = sim_rx_frame(&d, &h, rx_buf, sizeof(rx_buf), 5000);
		CHECK_EQ(got, 700);
		make_frame(frame_buf, 700, seq);
		CHECK(got == 700 && !memcmp(rx_buf, frame_buf, 700));
	}
	CHECK_EQ(sim_rx_frame(&d, &h, rx_buf, sizeof(rx_buf), 100), 0);
	sim_destroy(&d);
	close(peer);
}

/* A driver whose mergeable buffers are all too small to ever hold a frame: the device
 * must not spin on them; it asks for a reset, and a re-initialised driver works. */
TEST(rx_tiny_buffers_needs_reset)
{
	struct sim_drv d;
	int peer;
	struct virtio_net_hdr_v1 h;

	if (sim_fd_create(&d, &peer, NULL)) {
		CHECK(0);
		return;
	}
	CHECK(sim_driver_init(&d, ALL_FEATURES, 256) == 0);
	sim_rx_setup(&d, 256, 1, 4); /* 256 x 4 bytes */
	sim_rx_post(&d, 0, 256);
	make_frame(frame_buf, 100, 1);
	CHECK(send(peer, frame_buf, 100, 0) == 100);
	for (int i = 0; i < 200 && !(virtio_mmio_status(d.t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	     i++)
		usleep(10000);
	CHECK(virtio_mmio_status(d.t) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK(sim_driver_init(&d, ALL_FEATURES, 256) == 0);
	sim_rx_setup(&d, 64, 1, 2048);
	sim_rx_post(&d, 0, 64);
	CHECK_EQ(sim_rx_frame(&d, &h, rx_buf, sizeof(rx_buf), 5000), 100); /* not lost */
	CHECK(!memcmp(rx_buf, frame_buf, 100));
	sim_destroy(&d);
	close(peer);
}

int main(void)
{
	RUN(spec_errors);
	RUN(config_space);
	RUN(rx_fd_mergeable);
	RUN(rx_reserve_given_back_for_snapshot);
	RUN(rx_fd_mergeable_small_buffers);
	RUN(rx_fd_no_event_idx);
	RUN(rx_fd_not_mergeable);
	RUN(rx_fd_oversize_dropped_counted);
	RUN(rx_ring_full_no_loss);
	RUN(tx_fd_frames);
	RUN(tx_backpressure_no_loss);
	RUN(tx_malformed_chains);
	RUN(rx_reset_mid_stream);
	RUN(rx_tiny_buffers_needs_reset);
	return test_summary();
}

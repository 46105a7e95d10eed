/* tests/fuzz/fuzz_net.c — libFuzzer target for virtio-net TX and RX header handling
 * (devices/virtio_net*.c, instrumented) behind the real transport and ring, driven by the
 * hostile driver of fuzz_driver.c.
 *
 * The backend is a fake one in this file, in two flavours picked by bit 7 of the script's
 * size byte: bare Ethernet frames (like the fd and slirp backends) or frames with a
 * virtio-net header and offloads offered (like TAP), so both header paths are reached.
 * FZ_OP_DEVICE records talk to it: the first byte is a command —
 *   bit 0: queue the rest as an RX frame (bits 4..7: that many KiB of zeros appended,
 *          so oversize frames are reachable), with a header in front when the flavour has one
 *   bit 1: the next send() answers -EAGAIN (the backend is full), bit 2: the backend can
 *          take frames again (its tx_fd wakes the TX worker), bit 3: the next send()
 *          refuses its frame for good (-EMSGSIZE)
 * Oracles besides the sanitizers and the driver's checks: every frame handed to send() is
 * between an Ethernet header and the largest frame the device may send, and a header
 * passed to a backend that carries one holds only NEEDS_CSUM in its flags, num_buffers 0,
 * a supported GSO type and a checksum position inside the frame.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio_net_int.h"
#include "tests/fuzz/fuzz_driver.h"
#include "util/worker.h"

#define FRAME_MAX (65535 + 18) /* the device's own bound with host TSO */
#define RXQ_MAX	  8

struct fake {
	struct net_backend be;
	struct virtio_net *n;
	struct fz_driver d;
	uint8_t *frames[RXQ_MAX];
	size_t frame_len[RXQ_MAX];
	unsigned nr_frames;
	bool is_full, refuses_next;
};

static struct fake plain, vhdr;
static uint8_t scratch[FRAME_MAX + 64];

static void fake_wake(int fd, bool is_on)
{
	uint64_t one = 1;

	if (is_on) {
		if (write(fd, &one, sizeof(one)) < 0)
			abort();
	} else {
		worker_eventfd_drain(fd);
	}
}

static int fake_recv_batch(struct net_backend *be, struct net_rx_slot *slots, unsigned n)
{
	struct fake *f = (struct fake *)be;
	unsigned got = 0;

	while (got < n && f->nr_frames) {
		struct net_rx_slot *s = &slots[got];
		const uint8_t *p = f->frames[0];
		size_t left = f->frame_len[0];

		s->len = left;
		s->is_truncated = false;
		for (int i = 0; i < s->iovcnt && left; i++) {
			size_t take = left < s->iov[i].iov_len ? left : s->iov[i].iov_len;
			memcpy(s->iov[i].iov_base, p, take);
			p += take;
			left -= take;
		}
		s->is_truncated = left > 0;
		free(f->frames[0]);
		memmove(f->frames, f->frames + 1, (f->nr_frames - 1) * sizeof(f->frames[0]));
		memmove(f->frame_len, f->frame_len + 1, (f->nr_frames - 1) * sizeof(size_t));
		f->nr_frames--;
		got++;
	}
	if (!f->nr_frames)
		fake_wake(be->rx_fd, false);
	return got ? (int)got : -EAGAIN;
}

static void check_hdr(const struct fake *f, const struct virtio_net_hdr_v1 *h, size_t frame)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		abort();
	if (f->n->hdr_len >= sizeof(*h) && h->num_buffers)
		abort();
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (size_t)h->csum_start + h->csum_offset + 2 > frame)
		abort();
	if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE &&
	    ((gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6) || !h->gso_size ||
	     !(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)))
		abort();
}

static int fake_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct fake *f = (struct fake *)be;
	size_t len = 0, hdr = be->has_vnet_hdr ? f->n->hdr_len : 0;

	if (f->is_full)
		return -EAGAIN;
	for (int i = 0; i < iovcnt; i++) {
		if (len + iov[i].iov_len > sizeof(scratch))
			abort(); /* far longer than any frame the device may send */
		memcpy(scratch + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	if (len < hdr + 14 || len - hdr > FRAME_MAX)
		abort();
	if (hdr) {
		struct virtio_net_hdr_v1 h = {0};
		memcpy(&h, scratch, hdr);
		check_hdr(f, &h, len - hdr);
	}
	if (f->refuses_next) {
		f->refuses_next = false;
		return -EMSGSIZE;
	}
	return 0;
}

static int fake_set_offload(struct net_backend *be, unsigned vnet_hdr_len, unsigned offloads)
{
	(void)offloads;
	if (vnet_hdr_len != sizeof(struct virtio_net_hdr_v1) &&
	    vnet_hdr_len != offsetof(struct virtio_net_hdr_v1, num_buffers))
		abort();
	return 0;
}

static void fake_destroy(struct net_backend *be)
{
	(void)be;
}

static const struct net_backend_ops fake_ops = {
    .recv_batch = fake_recv_batch,
    .send = fake_send,
    .set_offload = fake_set_offload,
    .destroy = fake_destroy,
};

static void fake_event(void *ctx, const uint8_t *data, size_t len)
{
	struct fake *f = ctx;

	if (!len)
		return;
	if (data[0] & 2)
		f->is_full = true;
	if (data[0] & 4) {
		f->is_full = false;
		fake_wake(f->be.tx_fd, true);
	}
	if (data[0] & 8)
		f->refuses_next = true;
	if ((data[0] & 1) && f->nr_frames < RXQ_MAX) {
		size_t pad = (size_t)(data[0] >> 4) * 1024, n = len - 1 + pad;
		uint8_t *fr = calloc(1, n ? n : 1);
		if (!fr)
			abort();
		memcpy(fr, data + 1, len - 1);
		f->frames[f->nr_frames] = fr;
		f->frame_len[f->nr_frames++] = n;
		fake_wake(f->be.rx_fd, true);
	}
}

static void fake_open(struct fake *f, bool has_vnet_hdr)
{
	struct vm_net_config nc;
	char err[256];
	int sv[2];

	memset(&nc, 0, sizeof(nc));
	fz_driver_init(&f->d, &virtio_net_ops, NULL, 2);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	nc.kind = VM_NET_FD;
	nc.fd = sv[0];
	nc.has_mac = true;
	memcpy(nc.mac, "\x52\x54\x00\x12\x34\x56", 6);
	f->n = virtio_net_create(&f->d.mem, &nc, err, sizeof(err));
	if (!f->n) {
		fprintf(stderr, "fuzz_net: %s\n", err);
		abort();
	}
	/* Swap the socket backend for the fake one before anything runs. */
	net_backend_destroy(f->n->be);
	close(sv[1]);
	f->be = (struct net_backend){
	    .ops = &fake_ops,
	    .kind = has_vnet_hdr ? "fake-tap" : "fake",
	    .rx_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
	    .tx_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
	    .tx_events = EPOLLIN,
	    .has_vnet_hdr = has_vnet_hdr,
	    .can_offload = has_vnet_hdr,
	    .mtu = 1500,
	    .max_rx_len = has_vnet_hdr ? 65535 + 14 + 4 : 1500 + 14 + 4,
	};
	if (f->be.rx_fd < 0 || f->be.tx_fd < 0)
		abort();
	f->n->be = &f->be;
	if (has_vnet_hdr)
		f->n->offered |=
		    VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
		    VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
		    VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
		    VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN);
	f->d.dev = f->n;
	f->d.device_event = fake_event;
	f->d.ctx = f;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fake_open(&plain, false);
	fake_open(&vhdr, true);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake *f;

	if (size < 9)
		return 0;
	f = data[8] & 0x80 ? &vhdr : &plain;
	fz_driver_run(&f->d, data, size);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr,
			"fuzz_net: rx %llu frames, %llu oversize; tx %llu frames, %llu bad, %llu "
			"rejected\n",
			(unsigned long long)f->n->stats.rx_frames,
			(unsigned long long)f->n->stats.rx_oversize,
			(unsigned long long)f->n->stats.tx_frames,
			(unsigned long long)f->n->stats.tx_bad,
			(unsigned long long)f->n->stats.tx_rejected);
	/* Frames left over belong to this input only. */
	while (f->nr_frames)
		free(f->frames[--f->nr_frames]);
	fake_wake(f->be.rx_fd, false);
	fake_wake(f->be.tx_fd, false);
	f->is_full = f->refuses_next = false;
	return 0;
}

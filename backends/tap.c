/* backends/tap.c — Linux TAP device backend. See tap.h.
 *
 * Trusts: the kernel's TAP driver (frame lengths it returns are still bounded by the
 * caller's iovecs). The interface name comes from the user and is length-checked.
 */
#include "backends/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct tap {
	struct net_backend be;
	int fd;
	char name[IFNAMSIZ];
};

static struct tap *to_tap(struct net_backend *be)
{
	return (struct tap *)be;
}

/* A TAP read returns exactly one frame. readv cannot report a cut frame, so the caller's
 * slot is extended by one scratch byte: a frame that reaches into it did not fit. */
static int tap_recv_batch(struct net_backend *be, struct net_rx_slot *slots, unsigned n)
{
	struct tap *t = to_tap(be);
	unsigned got = 0;

	for (; got < n; got++) {
		struct net_rx_slot *s = &slots[got];
		ssize_t r = readv(t->fd, s->iov, s->iovcnt);
		if (r < 0) {
			int err = errno;
			if (err == EINTR) {
				got--;
				continue;
			}
			if (got)
				break;
			return err == EWOULDBLOCK ? -EAGAIN : -err;
		}
		s->len = (size_t)r;
		s->is_truncated = false;
	}
	return (int)got;
}

static int tap_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct tap *t = to_tap(be);

	for (;;) {
		ssize_t r = writev(t->fd, iov, iovcnt);
		if (r >= 0)
			return 0; /* TAP takes whole frames or none */
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

static int tap_set_offload(struct net_backend *be, unsigned vnet_hdr_len, unsigned offloads)
{
	struct tap *t = to_tap(be);
	int hdr = (int)vnet_hdr_len;
	unsigned flags = 0;

	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0)
		return -errno;
	if (offloads & NET_OFFLOAD_CSUM) {
		flags |= TUN_F_CSUM;
		/* TSO without checksum offload is meaningless to the kernel. */
		if (offloads & NET_OFFLOAD_TSO4)
			flags |= TUN_F_TSO4;
		if (offloads & NET_OFFLOAD_TSO6)
			flags |= TUN_F_TSO6;
		if ((offloads & NET_OFFLOAD_ECN) && (flags & (TUN_F_TSO4 | TUN_F_TSO6)))
			flags |= TUN_F_TSO_ECN;
	}
	if (ioctl(t->fd, TUNSETOFFLOAD, flags) < 0)
		return -errno;
	return 0;
}

static void tap_destroy(struct net_backend *be)
{
	struct tap *t = to_tap(be);

	close(t->fd);
	free(t);
}

static const struct net_backend_ops tap_ops = {
    .recv_batch = tap_recv_batch,
    .send = tap_send,
    .set_offload = tap_set_offload,
    .destroy = tap_destroy,
};

/* The interface MTU, or 1500 if it cannot be read. */
static unsigned tap_mtu(const char *name)
{
	struct ifreq ifr;
	unsigned mtu = 1500;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return mtu;
	memset(&ifr, 0, sizeof(ifr));
	/* name is tap_create()'s, checked to be shorter than IFNAMSIZ: it fits. */
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= 68 && ifr.ifr_mtu <= 65535)
		mtu = (unsigned)ifr.ifr_mtu;
	close(s);
	return mtu;
}

struct net_backend *tap_create(const char *name, char *err, size_t errlen)
{
	struct ifreq ifr;
	unsigned features = 0;

	if (!name || !*name || strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "interface name must be 1 to %d characters", IFNAMSIZ - 1);
		return NULL;
	}
	struct tap *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		snprintf(err, errlen, "cannot open /dev/net/tun: %s", strerror(errno));
		goto err_free;
	}
	if (ioctl(t->fd, TUNGETFEATURES, &features) < 0 || !(features & IFF_VNET_HDR)) {
		snprintf(err, errlen, "the kernel's TAP driver lacks IFF_VNET_HDR");
		goto err_close;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		snprintf(err, errlen, "cannot create TAP device: %s", strerror(errno));
		goto err_close;
	}
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	t->be.ops = &tap_ops;
	t->be.kind = "tap";
	t->be.rx_fd = t->fd;
	t->be.tx_fd = t->fd;
	t->be.tx_events = EPOLLOUT;
	t->be.has_vnet_hdr = true;
	t->be.can_offload = true;
	t->be.mtu = tap_mtu(t->name);
	/* A GSO frame handed up by the kernel: at most 64 KiB of IP plus the link header. */
	t->be.max_rx_len = 65535 + 14 + 4;
	/* Until the guest negotiates, nothing is offloaded and the header is the v1 size. */
	if (tap_set_offload(&t->be, 12, 0) < 0) {
		snprintf(err, errlen, "cannot configure TAP offloads: %s", strerror(errno));
		goto err_close;
	}
	return &t->be;

err_close:
	close(t->fd);
err_free:
	free(t);
	return NULL;
}

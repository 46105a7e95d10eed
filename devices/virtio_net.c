/* devices/virtio_net.c — virtio-net device: backend, features, config space, lifecycle.
 * The datapath lives in virtio_net_rx.c and virtio_net_tx.c.
 *
 * Trusts: the struct vm_net_config (every field checked by core/config_net.c); the transport
 * calls the ops with its lock held and only between activate and reset do the workers run.
 * Config space writes from the guest are ignored (the MAC is read-only without CTRL_VQ).
 */
#include "devices/virtio_net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "backends/slirp.h"
#include "backends/sockfd.h"
#include "backends/tap.h"
#include "devices/virtio_net_int.h"
#include "util/log.h"

/* RX and TX rings: large enough that a burst at 10 Gbit/s does not empty them between two
 * guest refills. */
#define VIRTIO_NET_QUEUE_SIZE 1024

static struct net_backend *open_backend(const struct vm_net_config *nc, const char *what, char *err,
					size_t errlen)
{
	char msg[200] = "";
	struct net_backend *be = NULL;

	switch (nc->kind) {
	case VM_NET_TAP:
		be = tap_create(nc->tap, msg, sizeof(msg));
		break;
	case VM_NET_FD:
		be = sockfd_create(nc->fd, msg, sizeof(msg));
		break;
	case VM_NET_USER:
		be = slirp_backend_create(nc->fwds, nc->nr_fwds, nc->hostname, msg, sizeof(msg));
		break;
	default:
		snprintf(msg, sizeof(msg), "no backend (want tap=NAME, fd=N or user)");
		break;
	}
	if (!be)
		snprintf(err, errlen, "--net %s: %s", what, msg);
	return be;
}

struct virtio_net *virtio_net_create(const struct guest_mem *mem, const struct vm_net_config *nc,
				     char *err, size_t errlen)
{
	char what[32];

	if (!nc) {
		snprintf(err, errlen, "--net: no configuration");
		return NULL;
	}
	config_describe_net(nc, what, sizeof(what));
	struct net_backend *be = open_backend(nc, what, err, errlen);
	if (!be)
		return NULL;
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "--net %s: out of memory", what);
		net_backend_destroy(be);
		return NULL;
	}
	n->mem = mem;
	n->be = be;
	snprintf(n->spec, sizeof(n->spec), "net(%s)", what); /* fits: what < 32 bytes */
	if (nc->has_mac) {
		memcpy(n->mac, nc->mac, 6);
	} else {
		/* QEMU's OUI with random low bytes: unicast, stable for the VM's lifetime. */
		uint8_t r[3] = {0x12, 0x34, 0x56};
		if (getrandom(r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
			log_warn("%s: no randomness for the MAC; using 52:54:00:12:34:56", n->spec);
		n->mac[0] = 0x52;
		n->mac[1] = 0x54;
		n->mac[2] = 0x00;
		memcpy(n->mac + 3, r, 3);
	}
	n->mtu = be->mtu > 65535 ? 65535 : (uint16_t)be->mtu;
	n->rx.timer_fd = -1;
	n->rx.rl_timer_fd = -1;
	n->tx.rl_timer_fd = -1;
	rate_limiter_init(&n->rx_rl, &nc->rx_rl);
	rate_limiter_init(&n->tx_rl, &nc->tx_rl);
	n->offered = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
		     VIRTIO_BIT(VIRTIO_NET_F_MTU) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) |
		     VIRTIO_RING_FEATURES;
	if (be->has_vnet_hdr && be->can_offload)
		n->offered |=
		    VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
		    VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
		    VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
		    VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN);
	return n;
}

static uint64_t net_features(void *dev)
{
	struct virtio_net *n = dev;

	return n->offered;
}

static void net_config_read(void *dev, uint32_t offset, void *data, unsigned size)
{
	struct virtio_net *n = dev;
	uint8_t cfg[VIRTIO_NET_CFG_SIZE] = {0};
	uint16_t status = VIRTIO_NET_S_LINK_UP, pairs = 1, mtu = n->mtu;

	memcpy(cfg + VIRTIO_NET_CFG_MAC, n->mac, 6);
	memcpy(cfg + VIRTIO_NET_CFG_STATUS, &status, 2);
	memcpy(cfg + VIRTIO_NET_CFG_MAX_VQ, &pairs, 2);
	memcpy(cfg + VIRTIO_NET_CFG_MTU, &mtu, 2);
	memset(data, 0, size);
	if (offset < sizeof(cfg) && size <= sizeof(cfg) - offset)
		memcpy(data, cfg + offset, size);
}

static void net_config_write(void *dev, uint32_t offset, const void *data, unsigned size)
{
	/* Read-only: the MAC may only change through a control queue, which we do not offer. */
}

static void net_reset(void *dev);

static int net_activate(void *dev, struct virtio_mmio *t)
{
	struct virtio_net *n = dev;
	int err;

	n->t = t;
	n->features = virtio_mmio_driver_features(t);
	/* Virtio 1.x: the header always has num_buffers (12 bytes); legacy without
	 * MRG_RXBUF had 10. The transport is 1.x only, but follow the negotiation. */
	n->is_mrg = virtio_net_has(n, VIRTIO_NET_F_MRG_RXBUF);
	n->hdr_len = virtio_net_has(n, VIRTIO_F_VERSION_1) || n->is_mrg
			 ? sizeof(struct virtio_net_hdr_v1)
			 : offsetof(struct virtio_net_hdr_v1, num_buffers);
	n->has_guest_csum = virtio_net_has(n, VIRTIO_NET_F_GUEST_CSUM);
	n->has_guest_gso = n->has_guest_csum && (virtio_net_has(n, VIRTIO_NET_F_GUEST_TSO4) ||
						 virtio_net_has(n, VIRTIO_NET_F_GUEST_TSO6));
	if (n->be->has_vnet_hdr && n->be->ops->set_offload) {
		unsigned off = 0;
		if (n->has_guest_csum)
			off |= NET_OFFLOAD_CSUM;
		if (virtio_net_has(n, VIRTIO_NET_F_GUEST_TSO4))
			off |= NET_OFFLOAD_TSO4;
		if (virtio_net_has(n, VIRTIO_NET_F_GUEST_TSO6))
			off |= NET_OFFLOAD_TSO6;
		if (virtio_net_has(n, VIRTIO_NET_F_GUEST_ECN))
			off |= NET_OFFLOAD_ECN;
		err = n->be->ops->set_offload(n->be, n->hdr_len, off);
		if (err) {
			log_error("%s: cannot set the backend's offloads: %s", n->spec,
				  strerror(-err));
			return err;
		}
	}
	err = virtio_net_rx_start(n);
	if (err)
		return err;
	err = virtio_net_tx_start(n);
	if (err) {
		virtio_net_rx_stop(n);
		return err;
	}
	n->is_active = true;
	return 0;
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	virtio_net_rx_stop(n);
	virtio_net_tx_stop(n);
	n->is_active = false;
	n->t = NULL;
	n->features = 0;
}

static int net_pause(void *dev)
{
	struct virtio_net *n = dev;
	int err = 0;

	if (n->rx.w)
		err = worker_pause(n->rx.w);
	if (!err && n->tx.w) {
		err = worker_pause(n->tx.w);
		if (err && n->rx.w)
			worker_resume(n->rx.w);
	}
	return err;
}

static int net_resume(void *dev)
{
	struct virtio_net *n = dev;
	int err = 0;

	if (n->rx.w) {
		/* The chains a snapshot handed back are re-popped without waiting for a kick
		 * the driver already gave. */
		if (n->rx.has_given_back) {
			uint64_t one = 1;
			n->rx.has_given_back = false;
			if (write(n->rx.kick_fd, &one, sizeof(one)) < 0)
				log_debug("%s: RX self-kick: %s", n->spec, strerror(errno));
		}
		err = worker_resume(n->rx.w);
	}
	if (n->tx.w) {
		int e2 = worker_resume(n->tx.w);
		if (!err)
			err = e2;
	}
	return err;
}

static void net_destroy(void *dev)
{
	struct virtio_net *n = dev;

	if (!n)
		return;
	net_reset(n);
	virtio_net_rx_free(n);
	free(n->tx.chain);
	net_backend_destroy(n->be);
	rate_limiter_fini(&n->rx_rl);
	rate_limiter_fini(&n->tx_rl);
	free(n);
}

void virtio_net_get_stats(const struct virtio_net *n, struct virtio_net_stats *st)
{
	_Static_assert(sizeof(*st) % sizeof(uint64_t) == 0, "stats: uint64_t fields only");
	const uint64_t *src = (const uint64_t *)&n->stats;
	uint64_t *dst = (uint64_t *)st;
	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void virtio_net_get_mac(const struct virtio_net *n, uint8_t mac[6])
{
	memcpy(mac, n->mac, 6);
}

/* Snapshot: the MAC the guest knows (a random one must survive the restore); the backend
 * was opened again from the config (TAP by name, a new slirp), which the guest sees as a
 * network that dropped some frames. */
#define NET_STATE_MAGIC 0x54454e56 /* "VNET" */
struct net_state {
	uint32_t magic;
	uint8_t mac[6];
	uint16_t mtu;
};

static long net_save(void *dev, void *buf, size_t cap)
{
	struct virtio_net *n = dev;
	struct net_state st = {.magic = NET_STATE_MAGIC, .mtu = n->mtu};

	if (cap < sizeof(st))
		return -ENOSPC;
	/* Paused: RX buffers held for frames to come go back to the ring. */
	int r = virtio_net_rx_give_back(n);
	if (r)
		return r;
	memcpy(st.mac, n->mac, 6);
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

static int net_restore(void *dev, const void *buf, size_t len)
{
	struct virtio_net *n = dev;
	struct net_state st;

	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	/* A unicast MAC (the config parser's rule) and the MTU this device offers. */
	if (st.magic != NET_STATE_MAGIC || (st.mac[0] & 1) || st.mtu != n->mtu)
		return -EINVAL;
	memcpy(n->mac, st.mac, 6);
	return 0;
}

const struct virtio_device_ops virtio_net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .nr_queues = 2,
    .max_queue_size = VIRTIO_NET_QUEUE_SIZE,
    .features = net_features,
    .config_read = net_config_read,
    .config_write = net_config_write,
    .activate = net_activate,
    .reset = net_reset,
    .pause = net_pause,
    .resume = net_resume,
    .destroy = net_destroy,
    .save = net_save,
    .restore = net_restore,
};

int virtio_net_set_rate_limiters(struct virtio_net *n, const struct rate_limiter_config *rx,
				 const struct rate_limiter_config *tx)
{
	if (rx)
		rate_limiter_set(&n->rx_rl, rx);
	if (tx)
		rate_limiter_set(&n->tx_rl, tx);
	/* A throttled direction re-checks at once rather than at the old shape's time. The
	 * timer fds exist while the device runs; arming a closed (-1) one just fails. */
	int rx_fd = __atomic_load_n(&n->rx.rl_timer_fd, __ATOMIC_ACQUIRE);
	int tx_fd = __atomic_load_n(&n->tx.rl_timer_fd, __ATOMIC_ACQUIRE);
	if (rx && rx_fd >= 0)
		rate_limiter_arm_timer(rx_fd, 1);
	if (tx && tx_fd >= 0)
		rate_limiter_arm_timer(tx_fd, 1);
	return 0;
}

/* devices/virtio_net_tx.c — the virtio-net TX worker: guest → backend.
 *
 * Woken by the TX queue's notify eventfd, it pops chains, checks the virtio-net header the
 * guest put in front of each frame and hands the frame to the backend. When the backend
 * pushes back (-EAGAIN) the chain is kept, the worker watches the backend's tx_fd and
 * retries the same chain when it fires: nothing is lost. A malformed chain (too short for
 * the header or an Ethernet header, absurdly long, readable-only rules broken, GSO or
 * checksum requests the device did not offer or that point outside the frame) is
 * completed without being sent and counted in tx_bad; the VMM runs on.
 *
 * Trusts: chains from virtq_pop() (iovecs inside guest RAM). The header is copied into a
 * host struct, and only that copy is checked and passed on (a TAP gets the checked copy,
 * never the guest's bytes, so the guest cannot change it between check and use).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "devices/virtio_net_int.h"
#include "util/log.h"

#define NET_TX_BUDGET 256

static void tx_backend_cb(struct worker *w, int fd, uint32_t events, void *arg);

static void tx_watch_backend(struct virtio_net *n, bool is_on)
{
	struct net_tx *tx = &n->tx;

	if (tx->is_backend_watched == is_on)
		return;
	int err = is_on ? worker_add_fd(tx->w, n->be->tx_fd, n->be->tx_events, tx_backend_cb, n)
			: worker_del_fd(tx->w, n->be->tx_fd);
	if (err && err != -EEXIST && err != -ENOENT) {
		log_error("%s: cannot %s the backend for TX: %s", n->spec,
			  is_on ? "watch" : "unwatch", strerror(-err));
		return;
	}
	tx->is_backend_watched = is_on;
}

/* Checks the header copy h against the frame length and the negotiated features.
 * Returns NULL if fine, else what is wrong. */
static const char *tx_check_hdr(const struct virtio_net *n, const struct virtio_net_hdr_v1 *h,
				size_t frame_len)
{
	uint8_t gso = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!virtio_net_has(n, VIRTIO_NET_F_CSUM))
			return "checksum offload requested but not negotiated";
		if ((size_t)h->csum_start + h->csum_offset + 2 > frame_len)
			return "checksum position outside the frame";
	}
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return NULL;
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !virtio_net_has(n, VIRTIO_NET_F_HOST_ECN))
		return "ECN segmentation not negotiated";
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && !virtio_net_has(n, VIRTIO_NET_F_HOST_TSO4))
		return "TSO4 not negotiated";
	if (gso == VIRTIO_NET_HDR_GSO_TCPV6 && !virtio_net_has(n, VIRTIO_NET_F_HOST_TSO6))
		return "TSO6 not negotiated";
	if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6)
		return "unsupported GSO type";
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return "segmentation without checksum offload";
	if (h->gso_size == 0)
		return "zero gso_size";
	return NULL;
}

/* Sends one chain. Returns 0 when the chain is done (sent or dropped), -EAGAIN when the
 * backend cannot take it now. */
static int tx_one(struct virtio_net *n, const struct virtq_chain *c)
{
	struct net_tx *tx = &n->tx;
	struct virtio_net_hdr_v1 h = {0};
	size_t max_frame =
	    virtio_net_has(n, VIRTIO_NET_F_HOST_TSO4) || virtio_net_has(n, VIRTIO_NET_F_HOST_TSO6)
		? 65535 + 18
		: (size_t)n->mtu + 18;
	const char *bad = NULL;

	if (c->nr_in > 0)
		bad = "writable buffers in a TX chain";
	else if (c->out_len < n->hdr_len + 14)
		bad = "chain shorter than the header and an Ethernet header";
	else if (c->out_len - n->hdr_len > max_frame)
		bad = "frame longer than the maximum";
	size_t frame_len = c->out_len - n->hdr_len;
	if (!bad) {
		virtq_chain_read(c, 0, &h, n->hdr_len);
		/* Compiler barrier: from here on, h is ours. */
		__asm__ __volatile__("" : : "r"(&h) : "memory");
		bad = tx_check_hdr(n, &h, frame_len);
	}
	if (bad) {
		net_stat_add(&n->stats.tx_bad, 1);
		log_guest("%s: TX chain %u dropped: %s (%u bytes)", n->spec, c->head, bad,
			  c->out_len);
		return 0;
	}

	int nr = 0;
	if (n->be->has_vnet_hdr) {
		h.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.num_buffers = 0;
		tx->iov[nr++] = (struct iovec){&h, n->hdr_len};
	}
	size_t skip = n->hdr_len;
	for (unsigned i = 0; i < c->nr_out; i++) {
		size_t l = c->iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		tx->iov[nr++] = (struct iovec){(uint8_t *)c->iov[i].iov_base + skip, l - skip};
		skip = 0;
	}
	int err = n->be->ops->send(n->be, tx->iov, nr);
	if (err == -EAGAIN)
		return -EAGAIN;
	if (err) {
		net_stat_add(&n->stats.tx_rejected, 1);
		log_guest("%s: backend refused a %zu-byte frame: %s", n->spec, frame_len,
			  strerror(-err));
		return 0;
	}
	net_stat_add(&n->stats.tx_frames, 1);
	net_stat_add(&n->stats.tx_bytes, frame_len);
	return 0;
}

static void tx_process(struct virtio_net *n)
{
	struct net_tx *tx = &n->tx;
	unsigned done = 0;
	bool is_more = false;

	if (tx->is_dead)
		return;
	virtq_disable_notify(tx->q);
	for (;;) {
		if (done >= NET_TX_BUDGET || worker_should_yield(tx->w)) {
			is_more = true;
			break;
		}
		if (!tx->is_waiting_backend && rate_limiter_is_limited(&n->tx_rl)) {
			uint64_t wait = rate_limiter_wait(&n->tx_rl);
			if (wait) {
				/* Delayed, never dropped: the timer restarts TX. */
				rate_limiter_arm_timer(tx->rl_timer_fd, wait);
				tx->is_throttled = true;
				break;
			}
		}
		if (!tx->is_waiting_backend) {
			int r = virtq_pop(tx->q, tx->chain);
			if (r < 0) {
				tx->is_dead = true;
				virtio_mmio_set_needs_reset(n->t);
				break;
			}
			if (r == 0) {
				if (virtq_enable_notify(tx->q)) {
					virtq_disable_notify(tx->q);
					continue;
				}
				break;
			}
		}
		if (tx_one(n, tx->chain) == -EAGAIN) {
			if (!tx->is_waiting_backend)
				net_stat_add(&n->stats.tx_blocked, 1);
			tx->is_waiting_backend = true;
			tx_watch_backend(n, true);
			break; /* the guest's kicks are not needed until the backend drains */
		}
		tx->is_waiting_backend = false;
		if (rate_limiter_is_limited(&n->tx_rl))
			rate_limiter_charge(
			    &n->tx_rl,
			    tx->chain->out_len > n->hdr_len ? tx->chain->out_len - n->hdr_len : 0,
			    1);
		virtq_push(tx->q, tx->chain->head, 0);
		done++;
	}
	if (done && virtio_mmio_signal_used(n->t, VIRTIO_NET_TXQ))
		net_stat_add(&n->stats.tx_irqs, 1);
	if (is_more) {
		/* Budget spent with work left: come back through epoll (kick ourselves). */
		uint64_t one = 1;
		ssize_t r = write(tx->kick_fd, &one, sizeof(one));
		(void)r;
	}
}

static void tx_backend_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_net *n = arg;

	if (n->be->tx_events & EPOLLIN)
		worker_eventfd_drain(fd);
	tx_watch_backend(n, false);
	tx_process(n);
}

static void tx_kick_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_net *n = arg;

	worker_eventfd_drain(fd);
	if (!n->tx.is_waiting_backend && !n->tx.is_throttled)
		tx_process(n);
}

static void tx_rl_timer_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_net *n = arg;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && !events && !n->tx.is_throttled)
		return;
	n->tx.is_throttled = false;
	if (!n->tx.is_waiting_backend)
		tx_process(n);
}

int virtio_net_tx_start(struct virtio_net *n)
{
	struct net_tx *tx = &n->tx;
	int err;

	tx->q = virtio_mmio_queue(n->t, VIRTIO_NET_TXQ);
	tx->kick_fd = virtio_mmio_notify_fd(n->t, VIRTIO_NET_TXQ);
	if (!tx->q || !tx->q->is_ready)
		return 0;
	if (!tx->chain) {
		tx->chain = malloc(sizeof(*tx->chain));
		if (!tx->chain)
			return -ENOMEM;
	}
	tx->is_waiting_backend = false;
	tx->is_backend_watched = false;
	tx->is_dead = false;
	tx->is_throttled = false;
	tx->rl_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tx->rl_timer_fd < 0)
		return -errno;
	tx->w = worker_create("net-tx");
	if (!tx->w) {
		err = -errno;
		close(tx->rl_timer_fd);
		tx->rl_timer_fd = -1;
		return err;
	}
	err = worker_add_fd(tx->w, tx->kick_fd, EPOLLIN, tx_kick_cb, n);
	if (!err)
		err = worker_add_fd(tx->w, tx->rl_timer_fd, EPOLLIN, tx_rl_timer_cb, n);
	if (!err)
		err = worker_start(tx->w);
	if (err) {
		worker_destroy(tx->w);
		tx->w = NULL;
		close(tx->rl_timer_fd);
		tx->rl_timer_fd = -1;
	}
	return err;
}

void virtio_net_tx_stop(struct virtio_net *n)
{
	struct net_tx *tx = &n->tx;

	if (!tx->w)
		return;
	worker_destroy(tx->w);
	tx->w = NULL;
	close(tx->rl_timer_fd);
	tx->rl_timer_fd = -1;
	tx->is_waiting_backend = false; /* the held chain belonged to the old ring */
	tx->q = NULL;
}

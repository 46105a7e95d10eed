/* devices/virtio_net_rx.c — the virtio-net RX worker: backend → guest, with no drops.
 *
 * The worker waits (util/worker.h epoll) on four things: the backend's rx_fd (frames
 * waiting), the RX queue's notify eventfd (the guest posted buffers), a timerfd (the time
 * bound of interrupt coalescing) and its own control eventfd (pause/stop, in worker.c).
 *
 * No frame is lost for lack of guest buffers: before it reads anything from the backend,
 * the worker pops enough RX chains to hold a maximum-size frame (with mergeable buffers: as
 * many chains as that takes; without: one chain per frame, which the driver sized for the
 * largest frame it accepts). Popped chains wait in a reserve until a frame fills them. When
 * the ring cannot supply that much, the worker stops watching the backend — the frames stay
 * in the socket buffer / TAP queue, which pushes back on the sender — and re-enables the
 * guest's kick; the kick brings it back. Frames are read in batches (recvmmsg, or readv in
 * a loop for TAP) straight into guest buffers; a virtio-net header comes from the backend
 * when it carries one (TAP: GSO and checksum metadata as the kernel reports them), else it
 * is written here with no offload claims. num_buffers is filled for every frame.
 *
 * A frame is dropped (and counted, rx_oversize) only when it cannot fit the guest's
 * buffers at all: longer than the reserved chain without mergeable buffers, or longer
 * than the backend's documented maximum.
 *
 * Interrupt coalescing — count bound: an interrupt decision every NET_RX_COALESCE_FRAMES
 * frames within a burst; time bound: when a wake-up ends with frames still waiting (the
 * budget ran out), the decision is deferred at most NET_RX_COALESCE_USEC by the timerfd;
 * otherwise (the backend is drained, or the guest ran out of buffers) it is taken at once,
 * so a lone frame is never delayed. Each decision goes through virtq_should_notify()
 * (EVENT_IDX / NO_INTERRUPT), and interrupts only reach the guest through the irqfd.
 *
 * After a device reset the reserve is forgotten (the chains belonged to the old rings) and
 * the next activation reads the queue from the transport again.
 *
 * Trusts: the chains virtq_pop() returns (their iovecs are checked to lie in guest RAM);
 * nothing read back from guest memory is used for a decision.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "devices/virtio_net_int.h"
#include "util/log.h"

#define NET_RX_OVERFLOW (65536 + 512)
#define NET_RX_IOV_MAX	1024 /* UIO_MAXIOV: most iovecs one readv/recvmsg takes */

static void rx_signal(struct virtio_net *n)
{
	struct net_rx *rx = &n->rx;

	if (rx->is_timer_armed) {
		struct itimerspec off = {{0, 0}, {0, 0}};
		timerfd_settime(rx->timer_fd, 0, &off, NULL);
		rx->is_timer_armed = false;
	}
	/* Everything filled so far becomes visible in one used->idx update. */
	virtq_flush(rx->q);
	if (!rx->pending_irq)
		return;
	rx->pending_irq = 0;
	if (virtio_mmio_signal_used(n->t, VIRTIO_NET_RXQ))
		net_stat_add(&n->stats.rx_irqs, 1);
}

static void rx_arm_timer(struct virtio_net *n)
{
	struct net_rx *rx = &n->rx;
	struct itimerspec its = {{0, 0}, {0, NET_RX_COALESCE_USEC * 1000}};

	if (rx->is_timer_armed)
		return;
	if (timerfd_settime(rx->timer_fd, 0, &its, NULL) == 0)
		rx->is_timer_armed = true;
	else
		rx_signal(n); /* no timer: do not sit on the interrupt */
}

static void rx_backend_cb(struct worker *w, int fd, uint32_t events, void *arg);

static void rx_watch_backend(struct virtio_net *n, bool is_on)
{
	struct net_rx *rx = &n->rx;

	if (rx->is_backend_watched == is_on)
		return;
	int err = is_on ? worker_add_fd(rx->w, n->be->rx_fd, EPOLLIN, rx_backend_cb, n)
			: worker_del_fd(rx->w, n->be->rx_fd);
	if (err && err != -EEXIST && err != -ENOENT) {
		log_error("%s: cannot %s the backend: %s", n->spec, is_on ? "watch" : "unwatch",
			  strerror(-err));
		return;
	}
	rx->is_backend_watched = is_on;
}

static void rx_broken(struct virtio_net *n)
{
	n->rx.is_dead = true;
	rx_watch_backend(n, false);
	virtio_mmio_set_needs_reset(n->t);
}

static bool rx_has_enough(const struct net_rx *rx, bool is_mrg)
{
	return is_mrg ? rx->res_cap >= rx->need : rx->nr_res > 0;
}

/* Pops chains into the reserve: at least enough for one maximum-size frame if the ring
 * has them, more (up to a batch) if it is cheap. Returns 1 if the reserve can take a
 * frame, 0 if not, -EIO if the queue broke. */
static int rx_fill(struct virtio_net *n, struct virtq_chain *c)
{
	struct net_rx *rx = &n->rx;
	uint64_t want_cap = n->is_mrg ? rx->need * NET_RX_BATCH : 0;
	unsigned want_nr = n->is_mrg ? 1 : NET_RX_BATCH;

	while (rx->nr_free > 0 && (rx->res_cap < want_cap || rx->nr_res < want_nr)) {
		int r = virtq_pop(rx->q, c);
		if (r == 0)
			break;
		if (r < 0) {
			rx_broken(n);
			return -EIO;
		}
		if (c->nr_out > 0 || c->nr_in == 0) {
			/* RX buffers must be device-writable: hand it back unused. */
			log_guest("%s: RX chain %u has readable buffers; returned unused", n->spec,
				  c->head);
			virtq_push(rx->q, c->head, 0);
			rx->pending_irq++;
			continue;
		}
		uint16_t idx = rx->free_list[--rx->nr_free];
		struct net_rx_buf *b = &rx->bufs[idx];
		unsigned nr = c->nr_in < NET_RX_CHAIN_IOV ? c->nr_in : NET_RX_CHAIN_IOV;
		b->head = c->head;
		b->nr_iov = (uint16_t)nr;
		b->cap = 0;
		for (unsigned i = 0; i < nr; i++) {
			b->iov[i] = c->iov[c->nr_out + i];
			b->cap += (uint32_t)b->iov[i].iov_len; /* chain total fits 32 bits */
		}
		rx->order[rx->nr_res++] = idx;
		rx->res_cap += b->cap;
	}
	return rx_has_enough(rx, n->is_mrg);
}

/* Writes len bytes at offset into the guest buffers of reserve entries order[first..]. */
static void rx_write(struct net_rx *rx, unsigned first, unsigned count, size_t offset,
		     const void *src, size_t len)
{
	const uint8_t *p = src;

	for (unsigned e = first; e < first + count && len; e++) {
		const struct net_rx_buf *b = &rx->bufs[rx->order[e]];
		for (unsigned i = 0; i < b->nr_iov && len; i++) {
			size_t l = b->iov[i].iov_len;
			if (offset >= l) {
				offset -= l;
				continue;
			}
			size_t c = l - offset < len ? l - offset : len;
			memcpy((uint8_t *)b->iov[i].iov_base + offset, p, c);
			p += c;
			len -= c;
			offset = 0;
		}
	}
}

/* Splits the reserve into up to NET_RX_BATCH slots, each able to take one frame.
 * Returns the number of slots. */
static unsigned rx_make_slots(struct virtio_net *n)
{
	struct net_rx *rx = &n->rx;
	size_t skip0 = n->be->has_vnet_hdr ? 0 : n->hdr_len;
	unsigned pos = 0, nr_slots = 0, iov_used = 0;

	while (nr_slots < NET_RX_BATCH && pos < rx->nr_res) {
		unsigned first = pos, iov_first = iov_used;
		uint64_t cap = 0;
		size_t skip = skip0;
		bool is_full = false;

		do {
			const struct net_rx_buf *b = &rx->bufs[rx->order[pos]];
			if (iov_used + b->nr_iov + 1 > NET_RX_SLOT_IOV ||
			    iov_used - iov_first + b->nr_iov + 1 > NET_RX_IOV_MAX) {
				is_full = true;
				break;
			}
			for (unsigned i = 0; i < b->nr_iov; i++) {
				size_t l = b->iov[i].iov_len;
				if (skip >= l) {
					skip -= l;
					continue;
				}
				rx->slot_iov[iov_used++] =
				    (struct iovec){(uint8_t *)b->iov[i].iov_base + skip, l - skip};
				skip = 0;
			}
			cap += b->cap;
			pos++;
		} while (n->is_mrg && cap < rx->need && pos < rx->nr_res);
		if (is_full || (n->is_mrg && cap < rx->need))
			break;
		/* The tail catches a frame that does not fit, so it is noticed, not cut. */
		rx->slot_iov[iov_used++] = (struct iovec){rx->overflow, NET_RX_OVERFLOW};
		rx->slots[nr_slots] = (struct net_rx_slot){.iov = &rx->slot_iov[iov_first],
							   .iovcnt = (int)(iov_used - iov_first)};
		rx->slot_first[nr_slots] = first;
		rx->slot_count[nr_slots] = pos - first;
		rx->slot_cap[nr_slots] = cap;
		nr_slots++;
	}
	return nr_slots;
}

/* Completes one received frame in slot s: header fields, used entries. Returns false if
 * the frame was dropped (its chains stay in the reserve). */
static bool rx_complete(struct virtio_net *n, unsigned s)
{
	struct net_rx *rx = &n->rx;
	const struct net_rx_slot *sl = &rx->slots[s];
	size_t skip = n->be->has_vnet_hdr ? 0 : n->hdr_len;
	size_t hdr_in_frame = n->be->has_vnet_hdr ? n->hdr_len : 0;

	if (sl->is_truncated || sl->len + skip > rx->slot_cap[s] || sl->len < hdr_in_frame + 14) {
		net_stat_add(&n->stats.rx_oversize, 1);
		log_guest("%s: RX frame of %zu bytes does not fit the guest's %llu-byte buffers; "
			  "dropped",
			  n->spec, sl->len, (unsigned long long)rx->slot_cap[s]);
		return false;
	}
	size_t total = sl->len + skip, left = total;
	unsigned used = 0;
	uint32_t lens[VIRTQ_MAX_SIZE];
	while (left) {
		const struct net_rx_buf *b = &rx->bufs[rx->order[rx->slot_first[s] + used]];
		uint32_t l = left < b->cap ? (uint32_t)left : b->cap;
		lens[used++] = l;
		left -= l;
	}

	if (n->be->has_vnet_hdr) {
		/* The kernel wrote the header (GSO/csum facts); add what only we know. */
		if (!n->has_guest_csum) {
			uint8_t zero = 0; /* DATA_VALID means nothing to a driver without it */
			rx_write(rx, rx->slot_first[s], used, 0, &zero, 1);
		}
	} else {
		struct virtio_net_hdr_v1 h = {0};
		rx_write(rx, rx->slot_first[s], used, 0, &h, n->hdr_len);
	}
	if (n->hdr_len >= sizeof(struct virtio_net_hdr_v1)) {
		uint16_t nb = (uint16_t)used;
		rx_write(rx, rx->slot_first[s], used,
			 offsetof(struct virtio_net_hdr_v1, num_buffers), &nb, sizeof(nb));
	}
	/* Filled, not yet published: a driver reading num_buffers must find all of a
	 * frame's buffers behind the same used->idx update (Linux drops the frame
	 * otherwise), so publication waits for virtq_flush() at the end of the batch. */
	for (unsigned i = 0; i < used; i++) {
		unsigned e = rx->slot_first[s] + i;
		virtq_fill(rx->q, rx->bufs[rx->order[e]].head, lens[i]);
		rx->is_consumed[e] = true;
	}
	net_stat_add(&n->stats.rx_frames, 1);
	net_stat_add(&n->stats.rx_bytes, total - n->hdr_len);
	if (++rx->pending_irq >= NET_RX_COALESCE_FRAMES)
		rx_signal(n);
	return true;
}

/* Drops consumed entries from the reserve, keeping the others in order. */
static void rx_compact(struct net_rx *rx)
{
	unsigned k = 0;

	for (unsigned e = 0; e < rx->nr_res; e++) {
		uint16_t idx = rx->order[e];
		if (rx->is_consumed[e]) {
			rx->is_consumed[e] = false;
			rx->res_cap -= rx->bufs[idx].cap;
			rx->free_list[rx->nr_free++] = idx;
		} else {
			rx->order[k++] = idx;
		}
	}
	rx->nr_res = k;
}

static void rx_process(struct virtio_net *n)
{
	struct net_rx *rx = &n->rx;
	unsigned frames = 0;
	bool is_idle = false;

	if (rx->is_dead)
		return;
	while (frames < NET_RX_BUDGET && !worker_should_yield(rx->w)) {
		if (rate_limiter_is_limited(&n->rx_rl)) {
			uint64_t wait = rate_limiter_wait(&n->rx_rl);
			if (wait) {
				/* Frames wait in the backend (never dropped here); the
				 * timer restarts RX. */
				rx_watch_backend(n, false);
				rate_limiter_arm_timer(rx->rl_timer_fd, wait);
				rx->is_throttled = true;
				is_idle = true;
				break;
			}
		}
		int ok = rx_fill(n, rx->chain);
		if (ok < 0)
			return;
		if (!ok && (rx->nr_free == 0 || rx->nr_res >= rx->q->size)) {
			/* Every ring entry is held and together they cannot take one frame:
			 * the driver's buffers are unusable (and waiting would spin). */
			log_guest("%s: %u RX buffers hold %llu bytes, less than one %zu-byte frame",
				  n->spec, rx->nr_res, (unsigned long long)rx->res_cap, rx->need);
			rx_broken(n);
			return;
		}
		if (!ok) {
			/* Ask for a kick; if buffers slipped in meanwhile, take them now. */
			if (virtq_enable_notify(rx->q))
				continue;
			net_stat_add(&n->stats.rx_starved, 1);
			rx_watch_backend(n, false);
			is_idle = true;
			break;
		}
		virtq_disable_notify(rx->q);
		rx_watch_backend(n, true);
		unsigned nr_slots = rx_make_slots(n);
		if (!nr_slots) {
			/* Enough bytes, but scattered over more buffers than one read can take:
			 * the driver's buffers are unusable. Leave the frames queued. */
			log_guest("%s: RX buffers too fragmented for one frame; RX waits", n->spec);
			virtq_enable_notify(rx->q);
			rx_watch_backend(n, false);
			is_idle = true;
			break;
		}
		int got = n->be->ops->recv_batch(n->be, rx->slots, nr_slots);
		if (got == -EAGAIN) {
			is_idle = true;
			break;
		}
		if (got < 0) {
			log_error("%s: backend receive failed: %s; RX stopped", n->spec,
				  strerror(-got));
			rx_watch_backend(n, false);
			is_idle = true;
			break;
		}
		if (rate_limiter_is_limited(&n->rx_rl)) {
			uint64_t bytes = 0;
			for (int i = 0; i < got; i++)
				bytes += rx->slots[i].len;
			rate_limiter_charge(&n->rx_rl, bytes, (uint64_t)got);
		}
		for (int i = 0; i < got; i++)
			rx_complete(n, (unsigned)i);
		virtq_flush(rx->q);
		rx_compact(rx);
		frames += (unsigned)got;
	}
	if (is_idle)
		rx_signal(n);
	else if (rx->pending_irq)
		rx_arm_timer(n);
}

static void rx_backend_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	rx_process(arg);
}

static void rx_kick_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_net *n = arg;

	worker_eventfd_drain(fd);
	/* The guest posted buffers. If the backend is being watched, its callback does the
	 * work when frames arrive; otherwise the reserve was short and this resumes RX. */
	if (!n->rx.is_throttled && (!n->rx.is_backend_watched || !events))
		rx_process(n);
}

static void rx_rl_timer_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_net *n = arg;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && !events && !n->rx.is_throttled)
		return;
	n->rx.is_throttled = false;
	rx_watch_backend(n, true);
	rx_process(n);
}

static void rx_timer_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_net *n = arg;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) == sizeof(v))
		n->rx.is_timer_armed = false;
	rx_signal(n);
}

int virtio_net_rx_start(struct virtio_net *n)
{
	struct net_rx *rx = &n->rx;
	int err;

	rx->q = virtio_mmio_queue(n->t, VIRTIO_NET_RXQ);
	rx->kick_fd = virtio_mmio_notify_fd(n->t, VIRTIO_NET_RXQ);
	if (!rx->q || !rx->q->is_ready)
		return 0; /* the driver did not set RX up: nothing to receive into */
	size_t max_frame = n->be->max_rx_len;
	if (!n->has_guest_gso && max_frame > (size_t)n->mtu + 18)
		max_frame = (size_t)n->mtu + 18;
	rx->need = n->hdr_len + max_frame;
	if (!rx->bufs) {
		rx->bufs = calloc(VIRTQ_MAX_SIZE, sizeof(*rx->bufs));
		rx->slot_iov = calloc(NET_RX_SLOT_IOV, sizeof(*rx->slot_iov));
		rx->overflow = malloc(NET_RX_OVERFLOW);
		rx->chain = malloc(sizeof(*rx->chain));
		if (!rx->bufs || !rx->slot_iov || !rx->overflow || !rx->chain)
			return -ENOMEM; /* freed by virtio_net_rx_free() */
	}
	rx->nr_res = 0;
	rx->res_cap = 0;
	rx->nr_free = VIRTQ_MAX_SIZE;
	for (unsigned i = 0; i < VIRTQ_MAX_SIZE; i++)
		rx->free_list[i] = (uint16_t)(VIRTQ_MAX_SIZE - 1 - i);
	memset(rx->is_consumed, 0, sizeof(rx->is_consumed));
	rx->pending_irq = 0;
	rx->is_dead = false;
	rx->is_backend_watched = false;
	rx->is_timer_armed = false;
	rx->is_throttled = false;
	rx->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rx->timer_fd < 0)
		return -errno;
	rx->rl_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rx->rl_timer_fd < 0) {
		err = -errno;
		goto close_timer;
	}
	rx->w = worker_create("net-rx");
	if (!rx->w) {
		err = -errno;
		goto close_timer;
	}
	err = worker_add_fd(rx->w, rx->kick_fd, EPOLLIN, rx_kick_cb, n);
	if (!err)
		err = worker_add_fd(rx->w, rx->timer_fd, EPOLLIN, rx_timer_cb, n);
	if (!err)
		err = worker_add_fd(rx->w, rx->rl_timer_fd, EPOLLIN, rx_rl_timer_cb, n);
	if (err)
		goto destroy_worker;
	/* Watching the backend from the start: the first frame (or the lack of buffers for
	 * it) sets the reserve and the guest's kick up. */
	rx_watch_backend(n, true);
	err = worker_start(rx->w);
	if (err)
		goto destroy_worker;
	return 0;

destroy_worker:
	worker_destroy(rx->w);
	rx->w = NULL;
close_timer:
	close(rx->timer_fd);
	rx->timer_fd = -1;
	if (rx->rl_timer_fd >= 0)
		close(rx->rl_timer_fd);
	rx->rl_timer_fd = -1;
	return err;
}

void virtio_net_rx_stop(struct virtio_net *n)
{
	struct net_rx *rx = &n->rx;

	if (!rx->w)
		return;
	worker_destroy(rx->w); /* stops and joins: nothing writes guest memory after this */
	rx->w = NULL;
	close(rx->timer_fd);
	rx->timer_fd = -1;
	close(rx->rl_timer_fd);
	rx->rl_timer_fd = -1;
	/* The reserved chains belonged to rings the transport now forgets. */
	rx->nr_res = 0;
	rx->res_cap = 0;
	rx->q = NULL;
}

int virtio_net_rx_give_back(struct virtio_net *n)
{
	struct net_rx *rx = &n->rx;

	if (!rx->q || rx->nr_res == 0)
		return 0;
	/* Only a reserve that is exactly the last chains popped can go back (frames fill the
	 * reserve from its front, so what is left is the tail of the pops). */
	if (rx->q->nr_inflight != rx->nr_res || rx->q->nr_unpublished)
		return -EBUSY;
	for (unsigned e = 0; e < rx->nr_res; e++) {
		if (rx->is_consumed[e])
			return -EBUSY;
	}
	if (virtq_unpop(rx->q, rx->nr_res))
		return -EBUSY;
	for (unsigned e = 0; e < rx->nr_res; e++)
		rx->free_list[rx->nr_free++] = rx->order[e];
	rx->nr_res = 0;
	rx->res_cap = 0;
	rx->has_given_back = true;
	return 0;
}

void virtio_net_rx_free(struct virtio_net *n)
{
	struct net_rx *rx = &n->rx;

	free(rx->bufs);
	free(rx->slot_iov);
	free(rx->overflow);
	free(rx->chain);
	rx->bufs = NULL;
	rx->slot_iov = NULL;
	rx->overflow = NULL;
	rx->chain = NULL;
}

/* devices/virtio_console.c — virtio console, single port (hvc0). See virtio_console.h.
 *
 * One worker watches the two queue kicks and the input fd. Input is read into a host
 * buffer first and only then copied into a receive buffer the driver posted, so a guest
 * that posts no buffers is never handed an empty one; while input waits for buffers the
 * input fd is not watched (no busy loop), and the next rx kick brings it back.
 *
 * Output never blocks the worker (and so never a vCPU resetting, pausing or stopping the
 * device, which waits for the worker): the driver's transmit buffers are copied into a
 * bounded host buffer (devices/host_out.h, 64 KiB, written without blocking whatever
 * out_fd is — blocking pipe, terminal under Ctrl-S). While that buffer is full the worker
 * stops taking chains from the transmit queue (the current one stays half-copied): the
 * guest's writes wait, nothing is lost, and out_fd's EPOLLOUT brings the worker back. If
 * the reader is gone (EPIPE), output is dropped and counted (virtio_console_get_dropped).
 * Bytes buffered when the driver resets the device stay buffered: they go out once the
 * driver sets the device up again, or at teardown (host_out_drain, bounded).
 *
 * Trust: chains come checked from virtq_pop(); the device only reads readable buffers and
 * writes writable ones, bounded by their lengths. The fds are the caller's (trusted).
 */
#include "devices/virtio_console.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "devices/host_out.h"
#include "util/log.h"
#include "util/worker.h"

#define CON_IN_BUF 4096

struct virtio_console {
	const struct guest_mem *mem;
	int in_fd, out_fd;
	struct virtio_mmio *t;
	struct worker *worker;
	bool is_watching_in; /* in_fd is registered with the worker */
	bool is_in_done;     /* input ended (EOF, error) */
	bool is_in_file;     /* in_fd cannot be polled (a regular file): read it when wanted */
	uint8_t in_buf[CON_IN_BUF];
	size_t in_len, in_off; /* pending input is in_buf[in_off, in_len) */
	bool has_tx;	       /* tx_chain is popped and partly copied out */
	size_t tx_off;
	struct host_out out;
	bool is_watching_out; /* the out fd is registered for EPOLLOUT */
	struct virtq_chain tx_chain;
	struct virtq_chain rx_chain;
	_Atomic uint64_t nr_in_bytes, nr_out_bytes;
};

struct virtio_console *virtio_console_create(const struct guest_mem *mem, int in_fd, int out_fd,
					     char *err, size_t errlen)
{
	struct virtio_console *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "virtio-console: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	c->mem = mem;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->is_in_done = in_fd < 0;
	int r = host_out_init(&c->out, out_fd);
	if (r < 0) {
		snprintf(err, errlen, "virtio-console: output fd %d: %s", out_fd, strerror(-r));
		free(c);
		errno = -r;
		return NULL;
	}
	return c;
}

void virtio_console_destroy(struct virtio_console *c)
{
	if (!c)
		return;
	/* The VM is over: what the guest wrote last still gets out if the reader takes it
	 * (bounded: a stuck reader costs at most 100 ms, then the rest is dropped). */
	host_out_drain(&c->out, 100);
	host_out_fini(&c->out);
	free(c);
}

uint64_t virtio_console_get_dropped(const struct virtio_console *c)
{
	return host_out_dropped(&c->out);
}

void virtio_console_get_stats(const struct virtio_console *c, uint64_t *in_bytes,
			      uint64_t *out_bytes)
{
	*in_bytes = atomic_load_explicit(&c->nr_in_bytes, memory_order_relaxed);
	*out_bytes = atomic_load_explicit(&c->nr_out_bytes, memory_order_relaxed);
}

static void con_input_fn(struct worker *w, int fd, uint32_t events, void *arg);

/* Watches in_fd again if input is wanted and possible. */
static void con_watch_input(struct virtio_console *c, bool on)
{
	if (on == c->is_watching_in || (on && (c->is_in_done || c->is_in_file)))
		return;
	if (!on) {
		worker_del_fd(c->worker, c->in_fd);
		c->is_watching_in = false;
		return;
	}
	int r = worker_add_fd(c->worker, c->in_fd, EPOLLIN, con_input_fn, c);
	if (r == -EPERM) {
		/* A regular file (or /dev/null): always "readable", so read it whenever the
		 * driver has buffers, until EOF. */
		c->is_in_file = true;
		return;
	}
	if (r < 0) {
		log_warn("virtio-console: cannot watch the input fd: %s", strerror(-r));
		c->is_in_done = true;
		return;
	}
	c->is_watching_in = true;
}

static struct virtq *con_queue(struct virtio_console *c, unsigned q)
{
	struct virtq *vq = virtio_mmio_queue(c->t, q);

	return vq && vq->is_ready ? vq : NULL;
}

/* Copies pending input into the driver's receive buffers. */
static void con_rx_deliver(struct virtio_console *c)
{
	struct virtq *vq = con_queue(c, VIRTIO_CONSOLE_RXQ);
	bool is_pushed = false;

	for (;;) {
		int r;
		size_t n;

		if (c->in_off == c->in_len && c->is_in_file && !c->is_in_done) {
			ssize_t k = read(c->in_fd, c->in_buf, sizeof(c->in_buf));

			if (k <= 0) {
				if (k < 0 && errno == EINTR)
					continue;
				c->is_in_done = true; /* EOF or error */
			} else {
				c->in_off = 0;
				c->in_len = (size_t)k;
			}
		}
		if (!vq || c->in_off == c->in_len)
			break;
		r = virtq_pop(vq, &c->rx_chain);

		if (r < 0) {
			log_guest("virtio-console: receive queue broken by the driver");
			virtio_mmio_set_needs_reset(c->t);
			break;
		}
		if (r == 0)
			break;
		n = virtq_chain_write(&c->rx_chain, 0, c->in_buf + c->in_off,
				      c->in_len - c->in_off);
		c->in_off += n;
		atomic_fetch_add_explicit(&c->nr_in_bytes, n, memory_order_relaxed);
		virtq_push(vq, c->rx_chain.head, (uint32_t)n);
		is_pushed = true;
	}
	if (is_pushed)
		virtio_mmio_signal_used(c->t, VIRTIO_CONSOLE_RXQ);
	/* Read more only when everything read so far reached the guest. */
	con_watch_input(c, c->in_off == c->in_len);
}

static void con_input_fn(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_console *c = arg;
	ssize_t n;

	(void)w;
	/* events == 0 is the "check again" call after a resume: never read then, in_fd may
	 * be blocking. */
	if (events && c->in_off == c->in_len) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		/* A stale event must not block the worker on a blocking terminal. */
		if (poll(&pfd, 1, 0) <= 0)
			return;
		n = read(fd, c->in_buf, sizeof(c->in_buf));
		if (n > 0) {
			c->in_off = 0;
			c->in_len = (size_t)n;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			/* EOF or a dead terminal: stop listening for good. */
			con_watch_input(c, false);
			c->is_in_done = true;
			return;
		}
	}
	con_rx_deliver(c);
}

static void con_out_fn(struct worker *w, int fd, uint32_t events, void *arg);

/* Watches the out fd for room while bytes wait, and only then (a writable fd would wake
 * the worker for nothing). */
static void con_watch_output(struct virtio_console *c, bool on)
{
	int fd = host_out_poll_fd(&c->out);

	if (on == c->is_watching_out || fd < 0 || !c->worker)
		return;
	if (!on) {
		worker_del_fd(c->worker, fd);
		c->is_watching_out = false;
		return;
	}
	int r = worker_add_fd(c->worker, fd, EPOLLOUT, con_out_fn, c);
	if (r < 0) {
		/* Cannot happen for the fds host_out_poll_fd() hands out (ours, pollable). */
		log_warn("virtio-console: cannot watch the output fd: %s", strerror(-r));
		return;
	}
	c->is_watching_out = true;
}

/* Copies the rest of the current tx chain into the host buffer. Returns false if the
 * buffer filled first (the chain stays pending, tx_off says how far it got). */
static bool con_tx_copy(struct virtio_console *c)
{
	const struct virtq_chain *ch = &c->tx_chain;
	size_t skip = c->tx_off;

	for (unsigned i = 0; i < ch->nr_out; i++) {
		const uint8_t *p = ch->iov[i].iov_base;
		size_t len = ch->iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		p += skip;
		len -= skip;
		skip = 0;
		size_t n = host_out_put(&c->out, p, len);
		c->tx_off += n;
		atomic_fetch_add_explicit(&c->nr_out_bytes, (uint64_t)n, memory_order_relaxed);
		if (n < len)
			return false;
	}
	return true;
}

/* Writes what out_fd takes now; true if the host buffer has room again. */
static bool con_out_flush(struct virtio_console *c)
{
	int r = host_out_flush(&c->out);

	con_watch_output(c, r == -EAGAIN);
	return host_out_space(&c->out) > 0;
}

static void con_tx_run(struct virtio_console *c)
{
	struct virtq *vq = con_queue(c, VIRTIO_CONSOLE_TXQ);
	bool is_pushed = false;

	while (vq) {
		if (!c->has_tx) {
			int r = virtq_pop(vq, &c->tx_chain);

			if (r < 0) {
				log_guest("virtio-console: transmit queue broken by the driver");
				virtio_mmio_set_needs_reset(c->t);
				break;
			}
			if (r == 0)
				break;
			c->has_tx = true;
			c->tx_off = 0;
		}
		bool is_copied = con_tx_copy(c);
		/* Write as we go: a chain larger than the buffer gets through in pieces. */
		bool has_room = con_out_flush(c);
		if (!is_copied) {
			if (!has_room)
				break; /* full: EPOLLOUT on out_fd brings us back */
			continue;
		}
		c->has_tx = false;
		virtq_push(vq, c->tx_chain.head, 0);
		is_pushed = true;
	}
	if (is_pushed)
		virtio_mmio_signal_used(c->t, VIRTIO_CONSOLE_TXQ);
	/* Bytes left from before a reset (or the tail of this run) still go out. */
	con_out_flush(c);
}

/* out_fd has room (or the "check again" call after a resume). */
static void con_out_fn(struct worker *w, int fd, uint32_t events, void *arg)
{
	(void)w;
	(void)fd;
	(void)events;
	con_tx_run(arg);
}

static void con_rx_kick_fn(struct worker *w, int fd, uint32_t events, void *arg)
{
	(void)w;
	(void)events;
	worker_eventfd_drain(fd);
	con_rx_deliver(arg);
}

static void con_tx_kick_fn(struct worker *w, int fd, uint32_t events, void *arg)
{
	(void)w;
	(void)events;
	worker_eventfd_drain(fd);
	con_tx_run(arg);
}

/* --- transport hooks --- */

static uint64_t con_features(void *dev)
{
	(void)dev;
	return VIRTIO_RING_FEATURES;
}

static void con_config_read(void *dev, uint32_t offset, void *data, unsigned size)
{
	/* cols, rows, max_nr_ports, emerg_wr: all meaningless without their features. */
	(void)dev;
	(void)offset;
	memset(data, 0, size);
}

static void con_reset(void *dev)
{
	struct virtio_console *c = dev;

	if (c->worker)
		worker_destroy(c->worker);
	c->worker = NULL;
	c->is_watching_in = false;
	c->is_watching_out = false;
	c->has_tx = false; /* the chain belonged to the old ring; its copied bytes stay */
	c->t = NULL;
}

static int con_activate(void *dev, struct virtio_mmio *t)
{
	struct virtio_console *c = dev;
	int r;

	c->t = t;
	c->worker = worker_create("vconsole");
	if (!c->worker)
		return -errno;
	r = worker_add_fd(c->worker, virtio_mmio_notify_fd(t, VIRTIO_CONSOLE_RXQ), EPOLLIN,
			  con_rx_kick_fn, c);
	if (r == 0)
		r = worker_add_fd(c->worker, virtio_mmio_notify_fd(t, VIRTIO_CONSOLE_TXQ), EPOLLIN,
				  con_tx_kick_fn, c);
	if (r == 0) {
		con_watch_input(c, c->in_off == c->in_len);
		con_watch_output(c, host_out_pending(&c->out) > 0);
		r = worker_start(c->worker);
	}
	if (r < 0) {
		log_error("virtio-console: cannot start: %s", strerror(-r));
		con_reset(c);
	}
	return r;
}

static int con_pause(void *dev)
{
	struct virtio_console *c = dev;

	return c->worker ? worker_pause(c->worker) : 0;
}

static int con_resume(void *dev)
{
	struct virtio_console *c = dev;

	return c->worker ? worker_resume(c->worker) : 0;
}

static void con_destroy(void *dev)
{
	virtio_console_destroy(dev);
}

/* Snapshot: nothing of the console's own (input not yet given to the guest is the host's;
 * a chain held half-written refuses the save through the transport). The magic only. */
#define CON_STATE_MAGIC 0x4e4f4356 /* "VCON" */

static long con_save(void *dev, void *buf, size_t cap)
{
	uint32_t m = CON_STATE_MAGIC;

	if (cap < sizeof(m))
		return -ENOSPC;
	memcpy(buf, &m, sizeof(m));
	return sizeof(m);
}

static int con_restore(void *dev, const void *buf, size_t len)
{
	uint32_t m;

	if (len != sizeof(m))
		return -EINVAL;
	memcpy(&m, buf, sizeof(m));
	return m == CON_STATE_MAGIC ? 0 : -EINVAL;
}

const struct virtio_device_ops virtio_console_ops = {
    .name = "virtio-console",
    .device_id = VIRTIO_ID_CONSOLE,
    .nr_queues = 2,
    .max_queue_size = 256,
    .features = con_features,
    .config_read = con_config_read,
    .activate = con_activate,
    .reset = con_reset,
    .pause = con_pause,
    .resume = con_resume,
    .destroy = con_destroy,
    .save = con_save,
    .restore = con_restore,
};

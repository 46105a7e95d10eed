/* backends/slirp.c — user-mode networking through libslirp. See slirp.h.
 *
 * Threading: libslirp is not thread-safe, so every call into it happens with `lock` held:
 * on the backend's own thread (polling slirp's sockets and running its timers) and on the
 * device's TX worker (slirp_input). Frames slirp emits for the guest go into a bounded
 * FIFO that the RX worker drains through recv_batch(); rx_fd (an eventfd) is readable
 * while the FIFO is not empty.
 *
 * Backpressure instead of loss: above RXQ_HIGH bytes queued, the thread stops polling
 * slirp's host sockets (so TCP windows close on the host side); above RXQ_HARD, send()
 * answers -EAGAIN so the guest's TX waits too (its frames would make slirp emit replies).
 * Only output slirp produces on its own (timers) while above RXQ_HARD could still grow the
 * queue; past RXQ_LIMIT such frames are dropped and counted (nr_dropped).
 *
 * Trusts: libslirp (Debian's build) and the forward list from the command line parser.
 */
#include "backends/slirp.h"

#include <stdio.h>

#ifndef HAVE_SLIRP

struct net_backend *slirp_backend_create(const struct slirp_fwd *fwds, unsigned nr_fwds,
					 const char *hostname, char *err, size_t errlen)
{
	snprintf(err, errlen, "this build has no libslirp (user networking)");
	return NULL;
}

#else

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libslirp.h>

#include "util/log.h"
#include "util/seccomp.h"

#define RXQ_HIGH	  (512u << 10)
#define RXQ_HARD	  (2u << 20)
#define RXQ_LIMIT	  (8u << 20)
#define SLIRP_MAX_POLLFDS 1024
#define SLIRP_MAX_TIMERS  16

struct frame {
	struct frame *next;
	size_t len;
	uint8_t data[];
};

struct slirp_timer {
	bool is_used, is_armed;
	int64_t expire_ms;
	SlirpTimerCb cb;
	void *cb_opaque;
};

struct slirp_backend {
	struct net_backend be;
	pthread_mutex_t lock;
	Slirp *slirp;
	pthread_t thread;
	bool is_thread_started;
	bool is_stopping; /* under lock */
	int wake_fd;	  /* wakes the slirp thread */
	int rx_efd;	  /* readable while rxq is not empty */
	int tx_efd;	  /* readable when send() may work again */
	struct frame *rxq_head, *rxq_tail;
	size_t rxq_bytes;
	bool is_tx_blocked;
	uint64_t nr_dropped;
	struct pollfd pfds[SLIRP_MAX_POLLFDS + 1];
	unsigned nr_pfds;
	struct slirp_timer timers[SLIRP_MAX_TIMERS];
};

static void efd_kick(int fd)
{
	uint64_t one = 1;
	ssize_t r = write(fd, &one, sizeof(one));
	(void)r; /* EAGAIN: the counter is already non-zero, which is all we want */
}

static void efd_drain(int fd)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- callbacks from libslirp (lock held) --- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_backend *s = opaque;

	if (s->rxq_bytes + len > RXQ_LIMIT) {
		s->nr_dropped++;
		return (ssize_t)len;
	}
	struct frame *f = malloc(sizeof(*f) + len);
	if (!f) {
		s->nr_dropped++;
		return (ssize_t)len;
	}
	f->next = NULL;
	f->len = len;
	memcpy(f->data, buf, len);
	if (s->rxq_tail)
		s->rxq_tail->next = f;
	else
		s->rxq_head = f;
	s->rxq_tail = f;
	s->rxq_bytes += len;
	efd_kick(s->rx_efd);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	log_guest("user network: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct slirp_backend *s = opaque;

	for (unsigned i = 0; i < SLIRP_MAX_TIMERS; i++) {
		struct slirp_timer *t = &s->timers[i];
		if (!t->is_used) {
			*t =
			    (struct slirp_timer){.is_used = true, .cb = cb, .cb_opaque = cb_opaque};
			return t;
		}
	}
	log_error("user network: out of timers");
	return NULL;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct slirp_timer *t = timer;

	if (t)
		memset(t, 0, sizeof(*t));
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_backend *s = opaque;
	struct slirp_timer *t = timer;

	if (!t)
		return;
	t->expire_ms = expire_ms;
	t->is_armed = true;
	efd_kick(s->wake_fd);
}

static void cb_register_poll_fd(int fd, void *opaque)
{
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
}

static void cb_notify(void *opaque)
{
	struct slirp_backend *s = opaque;

	efd_kick(s->wake_fd);
}

static const SlirpCb slirp_callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
};

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct slirp_backend *s = opaque;
	short ev = 0;

	if (s->nr_pfds >= SLIRP_MAX_POLLFDS)
		return -1; /* slirp then skips this socket this round */
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	s->pfds[s->nr_pfds] = (struct pollfd){.fd = fd, .events = ev};
	return (int)s->nr_pfds++;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct slirp_backend *s = opaque;
	int ev = 0;

	if (idx < 0 || (unsigned)idx >= s->nr_pfds)
		return 0;
	short r = s->pfds[idx].revents;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

/* Runs expired timers; returns ms until the next one (capped). Lock held. */
static int run_timers(struct slirp_backend *s)
{
	int64_t now = now_ms();
	int64_t next = 1000;

	for (unsigned i = 0; i < SLIRP_MAX_TIMERS; i++) {
		struct slirp_timer *t = &s->timers[i];
		if (!t->is_used || !t->is_armed)
			continue;
		if (t->expire_ms <= now) {
			t->is_armed = false;
			t->cb(t->cb_opaque);
			continue;
		}
		if (t->expire_ms - now < next)
			next = t->expire_ms - now;
	}
	return (int)next;
}

static void *slirp_thread(void *arg)
{
	struct slirp_backend *s = arg;

	pthread_setname_np(pthread_self(), "net-slirp");
	if (seccomp_apply(SECCOMP_KIND_SLIRP) < 0)
		abort(); /* must not serve the guest unfiltered */
	pthread_mutex_lock(&s->lock);
	while (!s->is_stopping) {
		uint32_t timeout = (uint32_t)run_timers(s);
		bool is_backpressured = s->rxq_bytes > RXQ_HIGH;

		/* Slot 0 is always the wake eventfd. */
		s->nr_pfds = 1;
		s->pfds[0] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
		if (!is_backpressured)
			slirp_pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
		unsigned n = s->nr_pfds;
		pthread_mutex_unlock(&s->lock);

		int r = poll(s->pfds, n, (int)timeout);

		pthread_mutex_lock(&s->lock);
		if (s->pfds[0].revents & POLLIN)
			efd_drain(s->wake_fd);
		if (!is_backpressured)
			slirp_pollfds_poll(s->slirp, r < 0, cb_get_revents, s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* --- backend ops --- */

static size_t copy_to_iov(const struct iovec *iov, int n, const uint8_t *src, size_t len)
{
	size_t done = 0;

	for (int i = 0; i < n && done < len; i++) {
		size_t c = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;
		memcpy(iov[i].iov_base, src + done, c);
		done += c;
	}
	return done;
}

static int slirpbe_recv_batch(struct net_backend *be, struct net_rx_slot *slots, unsigned n)
{
	struct slirp_backend *s = (struct slirp_backend *)be;
	unsigned got = 0;

	pthread_mutex_lock(&s->lock);
	bool was_high = s->rxq_bytes > RXQ_HIGH;
	while (got < n && s->rxq_head) {
		struct frame *f = s->rxq_head;
		size_t copied = copy_to_iov(slots[got].iov, slots[got].iovcnt, f->data, f->len);
		slots[got].len = f->len;
		slots[got].is_truncated = copied < f->len;
		s->rxq_head = f->next;
		if (!s->rxq_head)
			s->rxq_tail = NULL;
		s->rxq_bytes -= f->len;
		free(f);
		got++;
	}
	if (!s->rxq_head)
		efd_drain(s->rx_efd);
	if (was_high && s->rxq_bytes <= RXQ_HIGH)
		efd_kick(s->wake_fd); /* resume polling slirp's sockets */
	if (s->is_tx_blocked && s->rxq_bytes <= RXQ_HARD) {
		s->is_tx_blocked = false;
		efd_kick(s->tx_efd);
	}
	pthread_mutex_unlock(&s->lock);
	return got ? (int)got : -EAGAIN;
}

static int slirpbe_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct slirp_backend *s = (struct slirp_backend *)be;
	uint8_t buf[65536 + 64];
	size_t len = 0;

	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > sizeof(buf) - len)
			return -EMSGSIZE;
		memcpy(buf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	pthread_mutex_lock(&s->lock);
	if (s->rxq_bytes > RXQ_HARD) {
		efd_drain(s->tx_efd);
		s->is_tx_blocked = true;
		pthread_mutex_unlock(&s->lock);
		return -EAGAIN;
	}
	slirp_input(s->slirp, buf, (int)len);
	pthread_mutex_unlock(&s->lock);
	/* The input may have opened a socket: let the thread poll it. */
	efd_kick(s->wake_fd);
	return 0;
}

static void slirpbe_destroy(struct net_backend *be)
{
	struct slirp_backend *s = (struct slirp_backend *)be;

	if (s->is_thread_started) {
		pthread_mutex_lock(&s->lock);
		s->is_stopping = true;
		pthread_mutex_unlock(&s->lock);
		efd_kick(s->wake_fd);
		pthread_join(s->thread, NULL);
	}
	if (s->slirp)
		slirp_cleanup(s->slirp);
	while (s->rxq_head) {
		struct frame *f = s->rxq_head;
		s->rxq_head = f->next;
		free(f);
	}
	close(s->wake_fd);
	close(s->rx_efd);
	close(s->tx_efd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct net_backend_ops slirpbe_ops = {
    .recv_batch = slirpbe_recv_batch,
    .send = slirpbe_send,
    .destroy = slirpbe_destroy,
};

struct net_backend *slirp_backend_create(const struct slirp_fwd *fwds, unsigned nr_fwds,
					 const char *hostname, char *err, size_t errlen)
{
	struct slirp_backend *s = calloc(1, sizeof(*s));
	SlirpConfig cfg;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->rx_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->tx_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_fd < 0 || s->rx_efd < 0 || s->tx_efd < 0) {
		snprintf(err, errlen, "cannot create eventfds: %s", strerror(errno));
		goto err;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = 1;
	cfg.in_enabled = true;
	inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
	inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
	/* No hostname in DHCP unless asked (hostname=): a distribution's own name stays
	 * (systemd-networkd otherwise logs "Could not set hostname: Access denied"). */
	cfg.vhostname = hostname && hostname[0] ? hostname : NULL;
	cfg.if_mtu = 1500;
	cfg.if_mru = 1500;
	s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
	if (!s->slirp) {
		snprintf(err, errlen, "libslirp failed to start");
		goto err;
	}
	for (unsigned i = 0; i < nr_fwds; i++) {
		const struct slirp_fwd *f = &fwds[i];
		struct in_addr host = {.s_addr = f->host_addr}, guest = {.s_addr = f->guest_addr};
		if (!guest.s_addr)
			inet_pton(AF_INET, "10.0.2.15", &guest);
		errno = 0;
		if (slirp_add_hostfwd(s->slirp, f->is_udp, host, f->host_port, guest,
				      f->guest_port) < 0) {
			if (errno == EADDRINUSE || errno == 0)
				snprintf(err, errlen, "host port %u is already in use",
					 f->host_port);
			else
				snprintf(err, errlen, "cannot listen on host port %u: %s",
					 f->host_port, strerror(errno));
			goto err;
		}
	}
	s->be.ops = &slirpbe_ops;
	s->be.kind = "user";
	s->be.rx_fd = s->rx_efd;
	s->be.tx_fd = s->tx_efd;
	s->be.tx_events = EPOLLIN;
	s->be.mtu = 1500;
	s->be.max_rx_len = 1500 + 14;
	seccomp_net_uses_slirp(); /* the net workers call into libslirp */
	if (pthread_create(&s->thread, NULL, slirp_thread, s) != 0) {
		snprintf(err, errlen, "cannot start the user network thread");
		goto err;
	}
	s->is_thread_started = true;
	return &s->be;

err:
	slirpbe_destroy(&s->be);
	return NULL;
}

#endif

/* devices/virtio_vsock.c — virtio-vsock over Unix sockets (hybrid protocol). See the .h.
 *
 * Connection lifecycle (conn->state):
 *   LINE       accepted on uds_path, waiting for "CONNECT <port>\n" (not in the hash)
 *   CONNECTING REQUEST queued/sent to the guest, waiting for RESPONSE (host-initiated)
 *   OPEN       established; guest-initiated connections start here (RESPONSE queued)
 * A connection is freed after its RST went out (or when the guest sent one). Connections
 * in LINE, CONNECTING or closing (SHUTDOWN sent, waiting for the guest's RST) sit on the
 * timed list with a deadline; a 500 ms timer walks only that list.
 *
 * Towards the guest, the rx queue carries, in this order of priority: pending resets for
 * connections that do not exist (a bounded ring), control packets of connections (the
 * ctl list), then data of connections whose socket is readable and who have credit (the
 * ready list, round robin). Host sockets are registered edge-triggered: "readable" is
 * remembered until a read returns EAGAIN, so a connection without credit or rx buffers
 * simply leaves the ready list and comes back when credit or buffers arrive — no busy
 * loop, no epoll_ctl per packet. Data is read straight from the socket into the guest's
 * buffer (readv on the chain), and guest data is written straight from the chain to the
 * socket; only what the socket does not take is copied to the connection's buffer.
 *
 * Trust: see the .h. Every header field from the guest is checked: type, src_cid (must be
 * the guest's), dst_cid (must be the host's), len (<= the chain and VSOCK_MAX_PKT, and for
 * RW within the credit we granted), op.
 */
#include "devices/virtio_vsock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/worker.h"

#define HDR_LEN		   ((uint32_t)sizeof(struct virtio_vsock_hdr))
#define NR_BUCKETS	   4096
#define MAX_LINE_CONNS	   64
#define RST_RING	   256
#define PUMP_BUDGET	   256
#define RX_BATCH	   16	       /* rx buffers one readv fills */
#define VSOCK_RX_READ_MAX  (64 * 1024) /* bytes one readv asks for */
#define LINE_TIMEOUT_MS	   2000
#define CONNECT_TIMEOUT_MS 2000
#define CLOSE_TIMEOUT_MS   2000
#define CREDIT_THRESHOLD   (VSOCK_BUF_ALLOC / 4)
#define FIRST_HOST_PORT	   (1U << 30)

enum conn_state { CONN_LINE, CONN_CONNECTING, CONN_OPEN };

/* Pending control packets of one connection (bits of conn->pending). */
#define P_REQUEST	(1U << 0)
#define P_RESPONSE	(1U << 1)
#define P_CREDIT_UPDATE (1U << 2)
#define P_CREDIT_REQ	(1U << 3)
#define P_SHUTDOWN	(1U << 4)
#define P_RST		(1U << 5)

struct list {
	struct list *prev, *next;
};

struct conn {
	enum conn_state state;
	int fd;
	uint32_t host_port, guest_port;
	struct conn *hnext; /* hash chain */
	struct list ctl, ready, timed;
	uint64_t deadline_ms;	 /* on the timed list */
	uint32_t pending;	 /* P_* */
	uint32_t shutdown_flags; /* what the next SHUTDOWN says */
	bool is_hashed, is_readable, is_host_eof, is_guest_shut_send, is_guest_shut_rcv;
	bool is_host_wr_shut, is_host_hup, is_closing, is_credit_requested;
	/* guest → host */
	uint32_t rx_cnt;       /* bytes received from the guest */
	uint32_t fwd_cnt;      /* of those, written to the host socket */
	uint32_t fwd_cnt_sent; /* fwd_cnt the guest last heard of */
	uint8_t *buf;	       /* [VSOCK_BUF_ALLOC] ring of unwritten guest data, or NULL */
	uint32_t buf_head, buf_len;
	/* host → guest */
	uint32_t tx_cnt; /* bytes sent to the guest */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
};

struct virtio_vsock {
	struct virtio_vsock_config cfg;
	int listen_fd;
	struct virtio_mmio *t;
	struct worker *worker;
	int ep_fd, timer_fd, wake_fd;
	struct conn *buckets[NR_BUCKETS];
	struct list ctl_list, ready_list, timed_list;
	unsigned nr_line_conns;
	uint32_t next_host_port;
	struct virtio_vsock_hdr rst_ring[RST_RING];
	unsigned rst_head, rst_len;
	struct virtq_chain chain;      /* worker-owned scratch */
	struct virtq_chain *rx_chains; /* [RX_BATCH - 1] more, for put_data (worker scratch) */
	struct iovec iov[VIRTQ_CHAIN_MAX_IOV];
	/* Restored from a snapshot: the guest is owed a TRANSPORT_RESET event (worker). */
	bool needs_transport_reset;
	_Atomic uint64_t nr_conns, nr_bad, nr_rst_sent, nr_rst_dropped, nr_tx_bytes, nr_rx_bytes,
	    buffered;
};

/* --- small helpers --- */

static void list_init(struct list *l)
{
	l->prev = l->next = l;
}

static bool list_is_linked(const struct list *l)
{
	return l->next != l;
}

static void list_del(struct list *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	list_init(l);
}

static void list_add_tail(struct list *head, struct list *l)
{
	if (list_is_linked(l))
		list_del(l);
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

#define conn_of(ptr, member) ((struct conn *)((char *)(ptr)-offsetof(struct conn, member)))

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned bucket_of(uint32_t host_port, uint32_t guest_port)
{
	uint64_t k = ((uint64_t)host_port << 32 | guest_port) * 0x9e3779b97f4a7c15ULL;

	return (unsigned)(k >> 52) & (NR_BUCKETS - 1);
}

static struct conn *conn_lookup(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (struct conn *c = v->buckets[bucket_of(host_port, guest_port)]; c; c = c->hnext)
		if (c->host_port == host_port && c->guest_port == guest_port)
			return c;
	return NULL;
}

static void conn_hash(struct virtio_vsock *v, struct conn *c)
{
	unsigned b = bucket_of(c->host_port, c->guest_port);

	c->hnext = v->buckets[b];
	v->buckets[b] = c;
	c->is_hashed = true;
}

static void conn_unhash(struct virtio_vsock *v, struct conn *c)
{
	struct conn **pp = &v->buckets[bucket_of(c->host_port, c->guest_port)];

	if (!c->is_hashed)
		return;
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	c->is_hashed = false;
}

static struct conn *conn_new(struct virtio_vsock *v, int fd, enum conn_state state)
{
	struct conn *c;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};

	if (atomic_load(&v->nr_conns) >= VSOCK_MAX_CONNS || !(c = calloc(1, sizeof(*c))))
		return NULL;
	c->fd = fd;
	c->state = state;
	list_init(&c->ctl);
	list_init(&c->ready);
	list_init(&c->timed);
	ev.data.ptr = c;
	if (epoll_ctl(v->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c);
		return NULL;
	}
	atomic_fetch_add(&v->nr_conns, 1);
	return c;
}

static void conn_free(struct virtio_vsock *v, struct conn *c)
{
	conn_unhash(v, c);
	list_del(&c->ctl);
	list_del(&c->ready);
	list_del(&c->timed);
	if (c->state == CONN_LINE)
		v->nr_line_conns--;
	epoll_ctl(v->ep_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->buf)
		atomic_fetch_sub(&v->buffered, c->buf_len);
	free(c->buf);
	free(c);
	atomic_fetch_sub(&v->nr_conns, 1);
}

static void conn_set_deadline(struct virtio_vsock *v, struct conn *c, unsigned ms)
{
	c->deadline_ms = now_ms() + ms;
	list_add_tail(&v->timed_list, &c->timed);
}

static void conn_queue(struct virtio_vsock *v, struct conn *c, uint32_t what)
{
	c->pending |= what;
	if (!list_is_linked(&c->ctl))
		list_add_tail(&v->ctl_list, &c->ctl);
}

/* Resets a hashed connection: the RST goes to the guest when an rx buffer is there, then
 * the connection (and its host socket) is freed. */
static void conn_reset(struct virtio_vsock *v, struct conn *c)
{
	list_del(&c->ready);
	c->is_readable = false;
	c->pending = 0;
	conn_queue(v, c, P_RST);
}

static uint32_t conn_peer_credit(const struct conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static void conn_maybe_ready(struct virtio_vsock *v, struct conn *c)
{
	if (c->state == CONN_OPEN && c->is_readable && !c->is_host_eof && !c->is_guest_shut_rcv &&
	    !(c->pending & P_RST) && !list_is_linked(&c->ready))
		list_add_tail(&v->ready_list, &c->ready);
}

static void wake(struct virtio_vsock *v)
{
	uint64_t one = 1;
	ssize_t r = write(v->wake_fd, &one, sizeof(one));

	(void)r;
}

/* --- the CONNECT line --- */

int vsock_parse_connect(const char *buf, size_t len, uint32_t *port)
{
	static const char word[] = "CONNECT ";
	const size_t wl = sizeof(word) - 1;
	uint64_t val = 0;
	size_t i;

	for (i = 0; i < len && i < wl; i++)
		if (buf[i] != word[i])
			return -1;
	if (len <= wl)
		return 0;
	for (i = wl; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (i - wl >= 10)
			return -1;
		val = val * 10 + (uint64_t)(buf[i] - '0');
	}
	if (i == len)
		return len >= VSOCK_LINE_MAX ? -1 : 0;
	if (i == wl || buf[i] != '\n' || val > UINT32_MAX)
		return -1;
	*port = (uint32_t)val;
	return (int)(i + 1);
}

static uint32_t alloc_host_port(struct virtio_vsock *v, uint32_t guest_port)
{
	for (;;) {
		uint32_t p = v->next_host_port++;
		if (v->next_host_port == 0)
			v->next_host_port = FIRST_HOST_PORT;
		if (p >= FIRST_HOST_PORT && !conn_lookup(v, p, guest_port))
			return p;
	}
}

/* A LINE connection's socket is readable: peek at the line, consume exactly it (bytes
 * after it belong to the stream), then ask the guest. */
static void conn_read_line(struct virtio_vsock *v, struct conn *c)
{
	char buf[VSOCK_LINE_MAX];
	uint32_t port = 0;
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	int r;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	r = n > 0 ? vsock_parse_connect(buf, (size_t)n, &port) : -1;
	if (r == 0) {
		if ((size_t)n == sizeof(buf))
			goto drop;
		return; /* the rest of the line may come; the deadline bounds the wait */
	}
	if (r < 0 || recv(c->fd, buf, (size_t)r, MSG_DONTWAIT) != r)
		goto drop;
	v->nr_line_conns--;
	c->state = CONN_CONNECTING;
	c->guest_port = port;
	c->host_port = alloc_host_port(v, port);
	conn_hash(v, c);
	conn_set_deadline(v, c, CONNECT_TIMEOUT_MS);
	conn_queue(v, c, P_REQUEST);
	return;
drop:
	conn_free(v, c);
}

/* --- host → guest --- */

static void fill_hdr(struct virtio_vsock *v, struct virtio_vsock_hdr *h, const struct conn *c,
		     uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->cfg.guest_cid;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	if (c) {
		h->src_port = c->host_port;
		h->dst_port = c->guest_port;
		h->buf_alloc = VSOCK_BUF_ALLOC;
		h->fwd_cnt = c->fwd_cnt;
	}
}

/* Writes c's most urgent control packet into the chain. Returns the bytes written; frees c
 * (and sets *c_freed) after an RST. */
static uint32_t put_ctl(struct virtio_vsock *v, struct conn *c, const struct virtq_chain *ch)
{
	struct virtio_vsock_hdr h;
	uint32_t bit;
	uint16_t op;

	if (c->pending & P_RST) {
		bit = P_RST, op = VSOCK_OP_RST;
	} else if (c->pending & P_REQUEST) {
		bit = P_REQUEST, op = VSOCK_OP_REQUEST;
	} else if (c->pending & P_RESPONSE) {
		bit = P_RESPONSE, op = VSOCK_OP_RESPONSE;
	} else if (c->pending & P_SHUTDOWN) {
		bit = P_SHUTDOWN, op = VSOCK_OP_SHUTDOWN;
	} else if (c->pending & P_CREDIT_REQ) {
		bit = P_CREDIT_REQ, op = VSOCK_OP_CREDIT_REQUEST;
	} else {
		bit = P_CREDIT_UPDATE, op = VSOCK_OP_CREDIT_UPDATE;
	}
	fill_hdr(v, &h, c, op);
	if (op == VSOCK_OP_SHUTDOWN)
		h.flags = c->shutdown_flags;
	c->fwd_cnt_sent = c->fwd_cnt;
	c->pending &= ~bit;
	if (op == VSOCK_OP_CREDIT_UPDATE || op == VSOCK_OP_RESPONSE)
		c->pending &= ~P_CREDIT_UPDATE; /* every packet carries fwd_cnt */
	if (!c->pending)
		list_del(&c->ctl);
	virtq_chain_write(ch, 0, &h, HDR_LEN);
	if (op == VSOCK_OP_RST) {
		atomic_fetch_add(&v->nr_rst_sent, 1);
		conn_free(v, c);
	} else if (op == VSOCK_OP_RESPONSE) {
		conn_maybe_ready(v, c); /* data may follow now */
	}
	return HDR_LEN;
}

/* Builds at most max_iov iovecs over the writable part of ch from offset off, at most max
 * bytes. Returns the number of iovecs; *bytes gets what they cover. */
static unsigned chain_in_iov(const struct virtq_chain *ch, size_t off, size_t max,
			     struct iovec *iov, unsigned max_iov, size_t *bytes)
{
	unsigned n = 0;

	*bytes = 0;
	for (unsigned i = ch->nr_out; i < ch->nr_out + ch->nr_in && max && n < max_iov; i++) {
		size_t l = ch->iov[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		iov[n].iov_base = (uint8_t *)ch->iov[i].iov_base + off;
		iov[n].iov_len = l - off < max ? l - off : max;
		max -= iov[n].iov_len;
		*bytes += iov[n].iov_len;
		off = 0;
		n++;
	}
	return n;
}

/* A chain the rx queue can carry a packet in: writable only, room for the header. */
static bool rx_chain_is_good(const struct virtq_chain *ch)
{
	return ch->in_len >= HDR_LEN && !ch->nr_out;
}

/* Reads c's socket into v->chain (popped by the caller) and up to RX_BATCH - 1 more rx
 * chains with one readv: the guest's buffers are small (Linux posts 4 KiB ones), and one
 * syscall per buffer made host → guest the slow direction. Each chain becomes one RW
 * packet; they are pushed in order (the driver queues the payloads in used-ring order).
 * Chains left without data are given back. Returns the number of chains pushed; 0 if none
 * (then every chain, v->chain included, was given back). */
static unsigned put_data(struct virtio_vsock *v, struct conn *c, struct virtq *q)
{
	uint32_t credit = conn_peer_credit(c);
	uint32_t room[RX_BATCH];
	struct virtq_chain *chains[RX_BATCH];
	struct virtio_vsock_hdr h;
	size_t want, total = 0;
	unsigned nr = 0, n_iov = 0, pushed = 0;
	ssize_t n;

	if (!credit) {
		virtq_unpop(q, 1);
		list_del(&c->ready);
		if (!c->is_credit_requested) {
			c->is_credit_requested = true;
			conn_queue(v, c, P_CREDIT_REQ);
		}
		return 0;
	}
	want = credit < VSOCK_RX_READ_MAX ? credit : VSOCK_RX_READ_MAX;
	for (;;) {
		struct virtq_chain *ch = nr ? &v->rx_chains[nr - 1] : &v->chain;
		size_t bytes;
		unsigned k;

		if (nr && virtio_mmio_pop(v->t, VSOCK_RXQ, ch) <= 0)
			break;
		if (nr && !rx_chain_is_good(ch)) {
			virtq_unpop(q, 1); /* rx_pump() counts and drops it on its own turn */
			break;
		}
		k = chain_in_iov(ch, HDR_LEN, want - total, v->iov + n_iov,
				 VIRTQ_CHAIN_MAX_IOV - n_iov, &bytes);
		if (!bytes) {
			if (nr) {
				virtq_unpop(q, 1);
				break;
			}
			/* A first buffer with room for the header only carries nothing. */
			atomic_fetch_add(&v->nr_bad, 1);
			virtq_push(q, ch->head, 0);
			return 1;
		}
		chains[nr] = ch;
		room[nr++] = (uint32_t)bytes;
		n_iov += k;
		total += bytes;
		if (total >= want || nr == RX_BATCH || n_iov == VIRTQ_CHAIN_MAX_IOV)
			break;
	}
	n = readv(c->fd, v->iov, (int)n_iov);
	if (n <= 0) {
		virtq_unpop(q, nr);
		c->is_readable = false;
		list_del(&c->ready);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		/* EOF (or a dead socket): the host sends no more. Everything read before is
		 * already in the rx queue, ahead of this SHUTDOWN. */
		c->is_host_eof = true;
		c->shutdown_flags |= VSOCK_SHUTDOWN_SEND;
		if (n < 0 || c->is_guest_shut_send || c->is_host_hup)
			c->shutdown_flags |= VSOCK_SHUTDOWN_RCV;
		conn_queue(v, c, P_SHUTDOWN);
		if (c->shutdown_flags == (VSOCK_SHUTDOWN_SEND | VSOCK_SHUTDOWN_RCV)) {
			c->is_closing = true;
			conn_set_deadline(v, c, CLOSE_TIMEOUT_MS);
		}
		return 0;
	}
	c->fwd_cnt_sent = c->fwd_cnt;
	c->pending &= ~P_CREDIT_UPDATE;
	if (!c->pending)
		list_del(&c->ctl);
	atomic_fetch_add(&v->nr_rx_bytes, (uint64_t)n);
	for (size_t left = (size_t)n; pushed < nr && left; pushed++) {
		uint32_t part = left < room[pushed] ? (uint32_t)left : room[pushed];
		fill_hdr(v, &h, c, VSOCK_OP_RW);
		h.len = part;
		virtq_chain_write(chains[pushed], 0, &h, HDR_LEN);
		virtq_push(q, chains[pushed]->head, HDR_LEN + part);
		c->tx_cnt += part;
		left -= part;
	}
	if (pushed < nr)
		virtq_unpop(q, nr - pushed);	  /* the newest ones, none of them pushed */
	list_add_tail(&v->ready_list, &c->ready); /* round robin */
	return pushed;
}

/* Fills rx buffers with whatever waits for the guest. */
static void rx_pump(struct virtio_vsock *v)
{
	struct virtq *q = virtio_mmio_queue(v->t, VSOCK_RXQ);
	struct virtq_chain *ch = &v->chain;
	unsigned budget = PUMP_BUDGET;
	bool pushed = false;

	if (!q || !q->is_ready)
		return;
	while (v->rst_len || list_is_linked(&v->ctl_list) || list_is_linked(&v->ready_list)) {
		uint32_t len = 0;

		if (!budget--) {
			wake(v); /* come back after the tx queue had its turn */
			break;
		}
		if (virtio_mmio_pop(v->t, VSOCK_RXQ, ch) <= 0)
			break; /* no buffers: the next rx kick brings us back */
		if (!rx_chain_is_good(ch)) {
			atomic_fetch_add(&v->nr_bad, 1);
			virtq_push(q, ch->head, 0);
			pushed = true;
			continue;
		}
		if (v->rst_len) {
			virtq_chain_write(ch, 0, &v->rst_ring[v->rst_head], HDR_LEN);
			v->rst_head = (v->rst_head + 1) % RST_RING;
			v->rst_len--;
			atomic_fetch_add(&v->nr_rst_sent, 1);
			len = HDR_LEN;
		} else if (list_is_linked(&v->ctl_list)) {
			len = put_ctl(v, conn_of(v->ctl_list.next, ctl), ch);
		} else {
			if (put_data(v, conn_of(v->ready_list.next, ready), q))
				pushed = true;
			goto next; /* put_data pushed or gave back its chains itself */
		}
		if (!len) {
			virtq_unpop(q, 1);
			continue;
		}
		virtq_push(q, ch->head, len);
		pushed = true;
	next:
		if (worker_should_yield(v->worker)) {
			wake(v);
			break;
		}
	}
	if (pushed)
		virtio_mmio_signal_used(v->t, VSOCK_RXQ);
}

/* A reset for a packet that matches no connection. */
static void queue_rst(struct virtio_vsock *v, const struct virtio_vsock_hdr *in)
{
	struct virtio_vsock_hdr *h;

	if (in->op == VSOCK_OP_RST)
		return;
	if (v->rst_len == RST_RING) {
		atomic_fetch_add(&v->nr_rst_dropped, 1);
		return;
	}
	h = &v->rst_ring[(v->rst_head + v->rst_len++) % RST_RING];
	fill_hdr(v, h, NULL, VSOCK_OP_RST);
	h->src_port = in->dst_port;
	h->dst_port = in->src_port;
}

/* --- guest → host --- */

static void conn_after_write(struct virtio_vsock *v, struct conn *c)
{
	if (c->fwd_cnt - c->fwd_cnt_sent >= CREDIT_THRESHOLD)
		conn_queue(v, c, P_CREDIT_UPDATE);
	if (!c->buf_len && c->is_guest_shut_send && !c->is_host_wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->is_host_wr_shut = true;
	}
	if (!c->buf_len && c->is_guest_shut_send && c->is_guest_shut_rcv)
		conn_reset(v, c); /* the guest closed and all its data reached the host */
}

/* Writes buffered guest data to the host socket. Returns 0 or -1 (socket dead). */
static int conn_flush(struct virtio_vsock *v, struct conn *c)
{
	while (c->buf_len) {
		uint32_t first = VSOCK_BUF_ALLOC - c->buf_head;
		struct iovec iov[2] = {
		    {c->buf + c->buf_head, first < c->buf_len ? first : c->buf_len},
		    {c->buf, c->buf_len > first ? c->buf_len - first : 0}};
		ssize_t n = writev(c->fd, iov, iov[1].iov_len ? 2 : 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		c->buf_head = (uint32_t)((c->buf_head + (size_t)n) % VSOCK_BUF_ALLOC);
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
		atomic_fetch_sub(&v->buffered, (uint64_t)n);
	}
	if (!c->buf_len && c->buf) {
		free(c->buf);
		c->buf = NULL;
		c->buf_head = 0;
	}
	conn_after_write(v, c);
	return 0;
}

/* An RW packet: payload at [HDR_LEN, HDR_LEN + len) of the chain's readable part. */
static void conn_rw(struct virtio_vsock *v, struct conn *c, const struct virtq_chain *ch,
		    uint32_t len)
{
	uint32_t used = c->rx_cnt - c->fwd_cnt, off = HDR_LEN;

	if (c->is_guest_shut_send || len > VSOCK_BUF_ALLOC - used) {
		atomic_fetch_add(&v->nr_bad, 1); /* beyond the credit we granted */
		log_guest("virtio-vsock: guest port %u sent beyond its credit", c->guest_port);
		conn_reset(v, c);
		return;
	}
	c->rx_cnt += len;
	atomic_fetch_add(&v->nr_tx_bytes, len);
	if (!c->buf_len) {
		/* The fast path: straight from guest memory to the socket. */
		size_t skip = HDR_LEN, rem = len;
		unsigned n_iov = 0;
		for (unsigned i = 0; i < ch->nr_out && rem; i++) {
			size_t l = ch->iov[i].iov_len;
			if (skip >= l) {
				skip -= l;
				continue;
			}
			v->iov[n_iov].iov_base = (uint8_t *)ch->iov[i].iov_base + skip;
			v->iov[n_iov].iov_len = l - skip < rem ? l - skip : rem;
			rem -= v->iov[n_iov++].iov_len;
			skip = 0;
		}
		ssize_t n;
		do
			n = writev(c->fd, v->iov, (int)n_iov);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			conn_reset(v, c);
			return;
		}
		if (n > 0) {
			c->fwd_cnt += (uint32_t)n;
			off += (uint32_t)n;
			len -= (uint32_t)n;
		}
	}
	if (len) {
		if (!c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC))) {
			conn_reset(v, c);
			return;
		}
		uint32_t tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
		uint32_t first = VSOCK_BUF_ALLOC - tail < len ? VSOCK_BUF_ALLOC - tail : len;
		virtq_chain_read(ch, off, c->buf + tail, first);
		if (len > first)
			virtq_chain_read(ch, off + first, c->buf, len - first);
		c->buf_len += len;
		atomic_fetch_add(&v->buffered, len);
	}
	conn_after_write(v, c);
}

/* A guest connect() to the host: the in-process path and uds_path_<port>. */
static void guest_request(struct virtio_vsock *v, const struct virtio_vsock_hdr *h)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct conn *c;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->cfg.uds_path, h->dst_port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto rst;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(fd);
		goto rst;
	}
	c = conn_new(v, fd, CONN_OPEN);
	if (!c) {
		close(fd);
		goto rst;
	}
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	conn_hash(v, c);
	conn_queue(v, c, P_RESPONSE);
	return;
rst:
	queue_rst(v, h);
}

static void tx_packet(struct virtio_vsock *v, const struct virtq_chain *ch)
{
	struct virtio_vsock_hdr h;
	struct conn *c;

	if (ch->nr_in || virtq_chain_read(ch, 0, &h, HDR_LEN) != HDR_LEN)
		goto bad;
	if (h.src_cid != v->cfg.guest_cid || h.len > VSOCK_MAX_PKT || h.len > ch->out_len - HDR_LEN)
		goto bad;
	if (h.dst_cid != VSOCK_HOST_CID || h.type != VSOCK_TYPE_STREAM) {
		queue_rst(v, &h);
		goto bad;
	}
	c = conn_lookup(v, h.dst_port, h.src_port);
	if (c && (c->pending & P_RST)) {
		if (h.op == VSOCK_OP_RST)
			conn_free(v, c); /* both sides reset: ours need not go out */
		return;
	}
	if (!c) {
		if (!c && h.op == VSOCK_OP_REQUEST)
			guest_request(v, &h);
		else if (!c)
			queue_rst(v, &h);
		return;
	}
	if (h.op != VSOCK_OP_RST && h.op != VSOCK_OP_RW && h.len) {
		conn_reset(v, c); /* control packets carry no payload */
		goto bad;
	}
	bool had_credit = conn_peer_credit(c) > 0;
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	if (!had_credit && conn_peer_credit(c)) {
		c->is_credit_requested = false;
		conn_maybe_ready(v, c);
	}
	switch (h.op) {
	case VSOCK_OP_RESPONSE:
		if (c->state != CONN_CONNECTING) {
			conn_reset(v, c);
			break;
		}
		char ok[24];
		int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
		if (send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
			conn_reset(v, c);
			break;
		}
		c->state = CONN_OPEN;
		list_del(&c->timed);
		c->is_readable = true; /* bytes may already wait behind the line */
		conn_maybe_ready(v, c);
		break;
	case VSOCK_OP_RST:
		conn_free(v, c);
		break;
	case VSOCK_OP_SHUTDOWN:
		if (h.flags & VSOCK_SHUTDOWN_RCV) {
			c->is_guest_shut_rcv = true;
			list_del(&c->ready);
		}
		if (h.flags & VSOCK_SHUTDOWN_SEND) {
			c->is_guest_shut_send = true;
			conn_after_write(v, c);
		}
		if (c->is_guest_shut_rcv && c->is_guest_shut_send) {
			/* The guest closed: conn_after_write() resets once the buffered data is
			 * out; a host that never takes it is given CLOSE_TIMEOUT_MS. */
			c->is_closing = true;
			conn_set_deadline(v, c, CLOSE_TIMEOUT_MS);
			conn_flush(v, c);
		}
		break;
	case VSOCK_OP_RW:
		if (c->state != CONN_OPEN) {
			conn_reset(v, c);
			break;
		}
		conn_rw(v, c, ch, h.len);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		conn_queue(v, c, P_CREDIT_UPDATE);
		break;
	case VSOCK_OP_REQUEST: /* a second request on a live pair */
	default:
		conn_reset(v, c);
		goto bad;
	}
	return;
bad:
	atomic_fetch_add(&v->nr_bad, 1);
	log_guest("virtio-vsock: malformed packet dropped (op %u, len %u)", h.op, h.len);
}

/* --- worker callbacks --- */

static void tx_kick(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_vsock *v = arg;
	struct virtq *q = virtio_mmio_queue(v->t, VSOCK_TXQ);
	bool pushed = false;

	worker_eventfd_drain(fd);
	while (virtio_mmio_pop(v->t, VSOCK_TXQ, &v->chain) > 0) {
		tx_packet(v, &v->chain);
		virtq_push(q, v->chain.head, 0);
		pushed = true;
		if (worker_should_yield(w))
			break;
	}
	if (pushed)
		virtio_mmio_signal_used(v->t, VSOCK_TXQ);
	rx_pump(v);
}

static void rx_kick(struct worker *w, int fd, uint32_t events, void *arg)
{
	worker_eventfd_drain(fd);
	rx_pump(arg);
}

#define VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0

/* After a restore: one event buffer gets TRANSPORT_RESET (virtio 5.10.6.5); without a
 * buffer yet, the driver's next event-queue kick brings us back. */
static void send_transport_reset(struct virtio_vsock *v)
{
	struct virtq *q = virtio_mmio_queue(v->t, VSOCK_EVQ);
	uint32_t id = VIRTIO_VSOCK_EVENT_TRANSPORT_RESET; /* le32; x86 hosts only */

	if (!v->needs_transport_reset || !q || !q->is_ready)
		return;
	int r = virtio_mmio_pop(v->t, VSOCK_EVQ, &v->chain);
	if (r <= 0)
		return;
	uint32_t len = 0;
	if (v->chain.nr_out == 0 && v->chain.in_len >= sizeof(id))
		len = (uint32_t)virtq_chain_write(&v->chain, 0, &id, sizeof(id));
	else
		atomic_fetch_add(&v->nr_bad, 1);
	virtq_push(q, v->chain.head, len);
	virtio_mmio_signal_used(v->t, VSOCK_EVQ);
	if (len)
		v->needs_transport_reset = false;
}

static void ev_kick(struct worker *w, int fd, uint32_t events, void *arg)
{
	worker_eventfd_drain(fd); /* event buffers are kept for a transport reset */
	send_transport_reset(arg);
}

static void wake_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_vsock *v = arg;

	worker_eventfd_drain(fd);
	send_transport_reset(v);
	tx_kick(w, virtio_mmio_notify_fd(v->t, VSOCK_TXQ), 0, v);
}

static void accept_all(struct virtio_vsock *v)
{
	for (;;) {
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;
		if (v->nr_line_conns >= MAX_LINE_CONNS || !(c = conn_new(v, fd, CONN_LINE))) {
			close(fd);
			continue;
		}
		v->nr_line_conns++;
		conn_set_deadline(v, c, LINE_TIMEOUT_MS);
		conn_read_line(v, c);
	}
}

static void timer_expired(struct virtio_vsock *v)
{
	uint64_t now = now_ms();
	struct list *l, *next;

	worker_eventfd_drain(v->timer_fd);
	for (l = v->timed_list.next; l != &v->timed_list; l = next) {
		struct conn *c = conn_of(l, timed);
		next = l->next;
		if (c->deadline_ms > now)
			continue;
		list_del(&c->timed);
		if (c->state == CONN_LINE)
			conn_free(v, c);
		else
			conn_reset(v, c); /* no RESPONSE, or no RST after our SHUTDOWN */
	}
}

static void conn_event(struct virtio_vsock *v, struct conn *c, uint32_t events)
{
	if (c->state == CONN_LINE) {
		conn_read_line(v, c);
		return;
	}
	if (c->pending & P_RST)
		return;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
		if (c->buf_len && conn_flush(v, c) < 0) {
			conn_reset(v, c);
			return;
		}
	}
	if (events & (EPOLLHUP | EPOLLERR))
		c->is_host_hup = true;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		c->is_readable = true;
		conn_maybe_ready(v, c);
	}
	if ((events & (EPOLLHUP | EPOLLERR)) && c->is_host_eof && !c->is_closing)
		conn_reset(v, c);
}

static void ep_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_vsock *v = arg;
	struct epoll_event evs[64];
	int n = epoll_wait(v->ep_fd, evs, 64, 0);
	bool has_timer = false, has_accept = false;

	/* Nothing in this loop frees a connection other than the one whose event it is, so
	 * later entries of evs stay valid; accepting and the timer (which frees) come after. */
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == &v->listen_fd)
			has_accept = true;
		else if (evs[i].data.ptr == &v->timer_fd)
			has_timer = true;
		else
			conn_event(v, evs[i].data.ptr, evs[i].events);
	}
	if (has_accept)
		accept_all(v);
	if (has_timer)
		timer_expired(v);
	rx_pump(v);
	if (n == 64)
		wake(v);
}

/* --- ops --- */

static uint64_t vsock_features(void *dev)
{
	return VIRTIO_RING_FEATURES;
}

static void vsock_config_read(void *dev, uint32_t offset, void *data, unsigned size)
{
	struct virtio_vsock *v = dev;
	uint8_t cfg[8];

	memcpy(cfg, &v->cfg.guest_cid, 8);
	memset(data, 0, size);
	if (offset < 8 && offset + size <= 8)
		memcpy(data, cfg + offset, size);
}

static void close_all(struct virtio_vsock *v)
{
	for (unsigned b = 0; b < NR_BUCKETS; b++)
		while (v->buckets[b])
			conn_free(v, v->buckets[b]);
	while (list_is_linked(&v->timed_list)) /* LINE connections are only there */
		conn_free(v, conn_of(v->timed_list.next, timed));
	v->rst_len = 0;
	v->nr_line_conns = 0;
}

static void vsock_reset(void *dev)
{
	struct virtio_vsock *v = dev;

	worker_destroy(v->worker);
	v->worker = NULL;
	close_all(v);
	if (v->ep_fd >= 0)
		close(v->ep_fd);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	if (v->wake_fd >= 0)
		close(v->wake_fd);
	v->ep_fd = v->timer_fd = v->wake_fd = -1;
}

static int vsock_activate(void *dev, struct virtio_mmio *t)
{
	struct virtio_vsock *v = dev;
	struct itimerspec its = {{0, 500000000}, {0, 500000000}};
	struct epoll_event ev = {.events = EPOLLIN};
	int err = -ENOMEM;

	v->t = t;
	v->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	v->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (v->ep_fd < 0 || v->timer_fd < 0 || v->wake_fd < 0)
		goto fail;
	timerfd_settime(v->timer_fd, 0, &its, NULL);
	ev.data.ptr = &v->listen_fd;
	if (epoll_ctl(v->ep_fd, EPOLL_CTL_ADD, v->listen_fd, &ev) < 0)
		goto fail;
	ev.data.ptr = &v->timer_fd;
	if (epoll_ctl(v->ep_fd, EPOLL_CTL_ADD, v->timer_fd, &ev) < 0)
		goto fail;
	v->worker = worker_create("vsock");
	if (!v->worker)
		goto fail;
	if ((err = worker_add_fd(v->worker, virtio_mmio_notify_fd(t, VSOCK_RXQ), EPOLLIN, rx_kick,
				 v)) ||
	    (err = worker_add_fd(v->worker, virtio_mmio_notify_fd(t, VSOCK_TXQ), EPOLLIN, tx_kick,
				 v)) ||
	    (err = worker_add_fd(v->worker, virtio_mmio_notify_fd(t, VSOCK_EVQ), EPOLLIN, ev_kick,
				 v)) ||
	    (err = worker_add_fd(v->worker, v->wake_fd, EPOLLIN, wake_cb, v)) ||
	    (err = worker_add_fd(v->worker, v->ep_fd, EPOLLIN, ep_cb, v)) ||
	    (err = worker_start(v->worker)))
		goto fail;
	if (v->needs_transport_reset)
		wake(v);
	return 0;
fail:
	vsock_reset(v);
	return err;
}

static int vsock_pause(void *dev)
{
	struct virtio_vsock *v = dev;

	return v->worker ? worker_pause(v->worker) : 0;
}

static int vsock_resume(void *dev)
{
	struct virtio_vsock *v = dev;

	return v->worker ? worker_resume(v->worker) : 0;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	if (!v)
		return;
	vsock_reset(v);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		unlink(v->cfg.uds_path);
	}
	free(v->rx_chains);
	free(v);
}

static void vsock_destroy(void *dev)
{
	virtio_vsock_destroy(dev);
}

/* Snapshot: the CID only. Connections are not saved (their host ends belong to the old
 * process): as Firecracker does, the restored guest gets VIRTIO_VSOCK_EVENT_TRANSPORT_RESET
 * on the event queue once the device runs again, and drops every connection it had; the
 * host listener (uds_path) and guest listeners keep working. */
#define VSOCK_STATE_MAGIC 0x4b535656 /* "VVSK" */
struct vsock_state {
	uint32_t magic;
	uint32_t pad;
	uint64_t guest_cid;
};

static long vsock_save(void *dev, void *buf, size_t cap)
{
	struct virtio_vsock *v = dev;
	struct vsock_state st = {.magic = VSOCK_STATE_MAGIC, .guest_cid = v->cfg.guest_cid};

	if (cap < sizeof(st))
		return -ENOSPC;
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

static int vsock_restore(void *dev, const void *buf, size_t len)
{
	struct virtio_vsock *v = dev;
	struct vsock_state st;

	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.magic != VSOCK_STATE_MAGIC || st.guest_cid != v->cfg.guest_cid)
		return -EINVAL;
	v->needs_transport_reset = true;
	return 0;
}

const struct virtio_device_ops virtio_vsock_ops = {
    .name = "virtio-vsock",
    .device_id = VIRTIO_ID_VSOCK,
    .nr_queues = 3,
    .max_queue_size = 256,
    .features = vsock_features,
    .config_read = vsock_config_read,
    .activate = vsock_activate,
    .reset = vsock_reset,
    .pause = vsock_pause,
    .resume = vsock_resume,
    .destroy = vsock_destroy,
    .save = vsock_save,
    .restore = vsock_restore,
};

static int bind_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s: exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path); /* a stale socket from an earlier run */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	return fd;
}

struct virtio_vsock *virtio_vsock_create(const struct virtio_vsock_config *cfg, char *err,
					 size_t errlen)
{
	struct virtio_vsock *v;
	char e[160];
	int fd;

	if (cfg->guest_cid < 3 || cfg->guest_cid >= 0xffffffffULL) {
		snprintf(err, errlen, "vsock: cid %llu: must be 3 .. 4294967294",
			 (unsigned long long)cfg->guest_cid);
		errno = EINVAL;
		return NULL;
	}
	if (!cfg->uds_path[0] || strlen(cfg->uds_path) > VSOCK_UDS_MAX) {
		snprintf(err, errlen, "vsock: uds path: must be 1 .. %d bytes", VSOCK_UDS_MAX);
		errno = EINVAL;
		return NULL;
	}
	fd = bind_listen(cfg->uds_path, e, sizeof(e));
	if (fd < 0) {
		snprintf(err, errlen, "vsock: uds %s", e);
		errno = -fd;
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		close(fd);
		snprintf(err, errlen, "vsock: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	v->rx_chains = calloc(RX_BATCH - 1, sizeof(*v->rx_chains));
	if (!v->rx_chains) {
		close(fd);
		free(v);
		snprintf(err, errlen, "vsock: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	v->cfg = *cfg;
	v->listen_fd = fd;
	v->ep_fd = v->timer_fd = v->wake_fd = -1;
	v->next_host_port = FIRST_HOST_PORT;
	list_init(&v->ctl_list);
	list_init(&v->ready_list);
	list_init(&v->timed_list);
	return v;
}

/* --- in-process entry points (any thread but the worker) --- */

int virtio_vsock_connect(struct virtio_vsock *v, uint32_t port, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char line[VSOCK_LINE_MAX];
	size_t got = 0;
	int fd, n, e;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", v->cfg.uds_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail_errno;
	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n)
		goto fail_errno;
	/* Byte by byte up to '\n': what follows the OK line is the guest's data. */
	while (got < sizeof(line)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, timeout_ms);
		if (r == 0) {
			close(fd);
			return -ETIMEDOUT;
		}
		if (r < 0 && errno == EINTR)
			continue;
		ssize_t k = read(fd, line + got, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			close(fd);
			return -ECONNREFUSED;
		}
		if (line[got++] == '\n')
			break;
	}
	if (got < 5 || memcmp(line, "OK ", 3) || line[got - 1] != '\n') {
		close(fd);
		return -EPROTO;
	}
	return fd;
fail_errno:
	e = errno;
	close(fd);
	return -e;
}

int virtio_vsock_listen(struct virtio_vsock *v, uint32_t port)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char e[160];
	int fd;

	snprintf(path, sizeof(path), "%s_%u", v->cfg.uds_path, port);
	fd = bind_listen(path, e, sizeof(e));
	if (fd < 0)
		return fd;
	/* The caller accept()s with its own blocking mode. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

void virtio_vsock_get_stats(const struct virtio_vsock *v, struct virtio_vsock_stats *s)
{
	s->nr_conns = atomic_load(&v->nr_conns);
	s->nr_bad_pkts = atomic_load(&v->nr_bad);
	s->nr_rst_sent = atomic_load(&v->nr_rst_sent);
	s->nr_rst_dropped = atomic_load(&v->nr_rst_dropped);
	s->nr_tx_bytes = atomic_load(&v->nr_tx_bytes);
	s->nr_rx_bytes = atomic_load(&v->nr_rx_bytes);
	s->buffered_bytes = atomic_load(&v->buffered);
}

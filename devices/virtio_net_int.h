/* devices/virtio_net_int.h — state shared by virtio_net.c (device, config, lifecycle),
 * virtio_net_rx.c (the RX worker) and virtio_net_tx.c (the TX worker). Not for other users.
 *
 * Ownership: between activate and reset, the rx part belongs to the RX worker thread and
 * the tx part to the TX worker thread; the rest is read-only. Each counter in stats has one
 * writer (one worker) and is updated with net_stat_add(); readers on other threads load
 * each field with a relaxed atomic load (virtio_net_get_stats), so no torn values.
 */
#ifndef ARCVMM_DEVICES_VIRTIO_NET_INT_H
#define ARCVMM_DEVICES_VIRTIO_NET_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backends/net_backend.h"
#include "devices/virtio_net.h"
#include "util/worker.h"
#include "util/rate_limiter.h"
#include "virtio/queue.h"

/* Writable buffers of one RX chain used at most (Linux posts 1 for mergeable buffers and
 * up to MAX_SKB_FRAGS + 2 for "big packets"); extra ones are simply not written. */
#define NET_RX_CHAIN_IOV 64
/* Frames per recv_batch call, and per worker wake-up before returning to epoll. */
#define NET_RX_BATCH  64
#define NET_RX_BUDGET 256
/* Interrupt coalescing bounds (see virtio_net_rx.c). */
#define NET_RX_COALESCE_FRAMES 64
#define NET_RX_COALESCE_USEC   100
/* iovecs available to the slots of one batch. */
#define NET_RX_SLOT_IOV 4096

/* One guest RX chain held in reserve (popped, not yet used). */
struct net_rx_buf {
	uint16_t head;
	uint16_t nr_iov;
	uint32_t cap;
	struct iovec iov[NET_RX_CHAIN_IOV];
};

struct net_rx {
	struct virtq *q;
	struct worker *w;
	int kick_fd;
	int timer_fd;
	bool is_backend_watched;
	bool is_timer_armed;
	bool is_dead;	   /* the queue broke: nothing more until reset */
	bool is_throttled; /* the rate limiter said wait: rl_timer_fd restarts RX */
	int rl_timer_fd;
	size_t need; /* bytes of guest buffer (header included) a maximum-size frame takes */
	unsigned pending_irq; /* frames pushed since the last interrupt decision */
	bool has_given_back;  /* a snapshot returned the reserve: kick ourselves on resume */
	/* The reserve: order[0, nr_res) index bufs[], in the order they were popped. */
	struct net_rx_buf *bufs; /* [VIRTQ_MAX_SIZE] */
	uint16_t order[VIRTQ_MAX_SIZE];
	uint16_t free_list[VIRTQ_MAX_SIZE];
	unsigned nr_res, nr_free;
	uint64_t res_cap;
	/* Batch scratch. */
	struct net_rx_slot slots[NET_RX_BATCH];
	unsigned slot_first[NET_RX_BATCH], slot_count[NET_RX_BATCH]; /* ranges of order[] */
	uint64_t slot_cap[NET_RX_BATCH];
	struct iovec *slot_iov; /* [NET_RX_SLOT_IOV] */
	uint8_t *overflow;	/* scratch tail of every slot: catches frames that do not fit */
	bool is_consumed[VIRTQ_MAX_SIZE];
	struct virtq_chain *chain; /* pop scratch */
};

struct net_tx {
	struct virtq *q;
	struct worker *w;
	int kick_fd;
	bool is_waiting_backend; /* a chain is held until the backend takes it */
	bool is_backend_watched;
	bool is_dead;
	bool is_throttled; /* the rate limiter said wait: rl_timer_fd restarts TX */
	int rl_timer_fd;
	struct virtq_chain *chain; /* the current (possibly held) chain */
	struct iovec iov[VIRTQ_CHAIN_MAX_IOV + 1];
};

/* Adds v to counter c. Single writer per counter: a relaxed load and store (no locked
 * instruction on the data path), atomic so other threads' reads are well defined. */
static inline void net_stat_add(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

struct virtio_net {
	const struct guest_mem *mem;
	char spec[128]; /* for messages */
	uint8_t mac[6];
	uint16_t mtu;
	struct net_backend *be;
	uint64_t offered;

	/* Valid between activate and reset. */
	struct virtio_mmio *t;
	uint64_t features; /* negotiated */
	unsigned hdr_len;
	bool is_mrg;
	bool has_guest_csum, has_guest_gso;
	bool is_active;
	struct net_rx rx;
	struct net_tx tx;
	struct rate_limiter rx_rl, tx_rl; /* settable at run time from any thread */

	struct virtio_net_stats stats;
};

int virtio_net_rx_start(struct virtio_net *n);
/* Snapshot, RX worker paused: the reserved (popped, unfilled) chains go back to the ring
 * (virtq_unpop), so the queue has nothing in flight; the reserve fills again when frames
 * come. -EBUSY if the reserve is not the tail of the pops. */
int virtio_net_rx_give_back(struct virtio_net *n);
void virtio_net_rx_stop(struct virtio_net *n);
void virtio_net_rx_free(struct virtio_net *n);
int virtio_net_tx_start(struct virtio_net *n);
void virtio_net_tx_stop(struct virtio_net *n);

static inline bool virtio_net_has(const struct virtio_net *n, unsigned bit)
{
	return n->features & VIRTIO_BIT(bit);
}

#endif

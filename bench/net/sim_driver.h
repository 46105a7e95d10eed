/* bench/net/sim_driver.h — a simulated virtio-net driver (the "guest") for datapath tests
 * and benches without a vCPU. Header-only; used by tests/unit/test_virtio_net.c and
 * bench/net/net_bench.c.
 *
 * It owns a malloc'd "guest RAM" (struct guest_mem over a buffer), creates the device and
 * its virtio-mmio transport, and plays the driver through the transport's registers
 * (virtio_mmio_access, as a vCPU's MMIO exits would) and the rings in that memory, the way
 * Linux's virtio_ring does: descriptors and avail entries first, then a store-release of
 * avail->idx; used->idx loaded with acquire before its entries are read. Kicks go through
 * the QueueNotify register (which writes the queue's notify eventfd, the ioeventfd path);
 * interrupts are awaited on the irqfd.
 *
 * RX buffers: nr_rx_bufs chains of rx_chain_desc descriptors of rx_buf_len bytes each,
 * chain k owning descriptors [k*rx_chain_desc, (k+1)*rx_chain_desc) and buffer memory at a
 * fixed place. TX: one chain per frame, a header descriptor then the frame split in
 * pieces. Trusts: the device under test only through what it writes to the used rings.
 */
#ifndef ARCVMM_BENCH_NET_SIM_DRIVER_H
#define ARCVMM_BENCH_NET_SIM_DRIVER_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio_net.h"
#include "mem/guest_mem.h"
#include "virtio/mmio.h"
#include "virtio/queue.h"

#define SIM_MEM_SIZE	(96ULL << 20)
#define SIM_RING_BASE	0x10000ULL /* queue q's rings at SIM_RING_BASE + q * SIM_RING_SPAN */
#define SIM_RING_SPAN	0x10000ULL
#define SIM_RX_BUF_BASE (1ULL << 20)
#define SIM_TX_BUF_BASE (72ULL << 20)
#define SIM_TX_SLOT	(72ULL << 10) /* header + 64 KiB frame per TX chain */

struct sim_vq {
	uint16_t size;
	uint64_t desc, avail, used; /* gpa */
	uint16_t avail_idx;	    /* next avail->idx to publish */
	uint16_t last_used;
};

struct sim_drv {
	uint8_t *ram;
	struct guest_mem mem;
	struct virtio_net *net;
	struct virtio_mmio *t;
	uint64_t features;
	struct sim_vq vq[2];
	uint64_t ring_shift; /* moves the rings (for re-initialisation after reset) */
	/* RX geometry. */
	unsigned rx_chain_desc, nr_rx_chains;
	uint32_t rx_buf_len;
	/* TX chains in flight (by head), for completion. */
	unsigned tx_inflight;
	uint16_t tx_next_slot;
	uint64_t nr_kicks, nr_irqs;
};

static inline void sim_wr(struct sim_drv *d, uint64_t off, uint32_t v)
{
	virtio_mmio_access(d->t, off, &v, 4, true);
}

static inline uint32_t sim_rd(struct sim_drv *d, uint64_t off)
{
	uint32_t v = 0;
	virtio_mmio_access(d->t, off, &v, 4, false);
	return v;
}

static inline void *sim_ptr(struct sim_drv *d, uint64_t gpa)
{
	return d->ram + gpa;
}

static inline struct virtq_desc *sim_desc(struct sim_drv *d, unsigned q, unsigned i)
{
	return (struct virtq_desc *)sim_ptr(d, d->vq[q].desc) + i;
}

static inline struct virtq_avail *sim_avail(struct sim_drv *d, unsigned q)
{
	return sim_ptr(d, d->vq[q].avail);
}

static inline struct virtq_used *sim_used(struct sim_drv *d, unsigned q)
{
	return sim_ptr(d, d->vq[q].used);
}

static inline uint64_t sim_rx_buf_gpa(const struct sim_drv *d, unsigned desc)
{
	return SIM_RX_BUF_BASE + (uint64_t)desc * d->rx_buf_len;
}

/* Sets the rings of queue q up through the registers. */
static inline int sim_setup_queue(struct sim_drv *d, unsigned q, uint16_t size)
{
	struct sim_vq *v = &d->vq[q];
	uint64_t base = SIM_RING_BASE + d->ring_shift + q * SIM_RING_SPAN;

	v->size = size;
	v->desc = base;
	v->avail = base + 16ULL * size;
	v->used = (v->avail + 6 + 2ULL * size + 4095) & ~4095ULL;
	v->avail_idx = 0;
	v->last_used = 0;
	memset(sim_ptr(d, base), 0, SIM_RING_SPAN);
	sim_wr(d, VIRTIO_MMIO_QUEUE_SEL, q);
	if (sim_rd(d, VIRTIO_MMIO_QUEUE_NUM_MAX) < size)
		return -EINVAL;
	sim_wr(d, VIRTIO_MMIO_QUEUE_NUM, size);
	sim_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)v->desc);
	sim_wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(v->desc >> 32));
	sim_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)v->avail);
	sim_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(v->avail >> 32));
	sim_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)v->used);
	sim_wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(v->used >> 32));
	sim_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return sim_rd(d, VIRTIO_MMIO_QUEUE_READY) == 1 ? 0 : -EINVAL;
}

/* Driver initialisation (3.1.1): accepts the offered features that are in `want`. */
static inline int sim_driver_init(struct sim_drv *d, uint64_t want, uint16_t qsize)
{
	sim_wr(d, VIRTIO_MMIO_STATUS, 0);
	sim_wr(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	sim_wr(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	uint64_t offered = 0;
	for (unsigned sel = 0; sel < 2; sel++) {
		sim_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
		offered |= (uint64_t)sim_rd(d, VIRTIO_MMIO_DEVICE_FEATURES) << (32 * sel);
	}
	d->features = offered & (want | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	for (unsigned sel = 0; sel < 2; sel++) {
		sim_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
		sim_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(d->features >> (32 * sel)));
	}
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	sim_wr(d, VIRTIO_MMIO_STATUS, s);
	if (!(sim_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return -EINVAL;
	for (unsigned q = 0; q < 2; q++)
		if (sim_setup_queue(d, q, qsize))
			return -EINVAL;
	d->tx_inflight = 0;
	d->tx_next_slot = 0;
	sim_wr(d, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
	return (sim_rd(d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) ? -EIO : 0;
}

static inline bool sim_has(const struct sim_drv *d, unsigned bit)
{
	return d->features & VIRTIO_BIT(bit);
}

/* Creates device + transport over fresh guest RAM. Returns 0, or -errno with err set. */
static inline int sim_create(struct sim_drv *d, const char *spec, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->ram = aligned_alloc(4096, SIM_MEM_SIZE);
	if (!d->ram)
		return -ENOMEM;
	memset(d->ram, 0, SIM_MEM_SIZE);
	guest_mem_init_buffer(&d->mem, d->ram, SIM_MEM_SIZE);
	struct vm_net_config nc;
	d->net = config_parse_net(&nc, spec, err, errlen)
		     ? NULL
		     : virtio_net_create(&d->mem, &nc, err, errlen);
	if (!d->net) {
		free(d->ram);
		d->ram = NULL;
		return -EINVAL;
	}
	d->t = virtio_mmio_create(&d->mem, 0xd0000000, 5, &virtio_net_ops, d->net);
	if (!d->t) {
		snprintf(err, errlen, "virtio_mmio_create failed");
		return -EINVAL;
	}
	return 0;
}

static inline void sim_destroy(struct sim_drv *d)
{
	virtio_mmio_destroy(d->t); /* frees the device too */
	free(d->ram);
	memset(d, 0, sizeof(*d));
}

/* Publishes avail entries up to v->avail_idx and kicks if the device asked for it. */
static inline void sim_publish(struct sim_drv *d, unsigned q, uint16_t old_idx, bool force_kick)
{
	struct sim_vq *v = &d->vq[q];
	struct virtq_avail *a = sim_avail(d, q);
	struct virtq_used *u = sim_used(d, q);

	/* Pairs with the device's load-acquire of avail->idx. */
	__atomic_store_n(&a->idx, v->avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* pairs with the device's avail_event fence */
	bool kick;
	if (sim_has(d, VIRTIO_F_EVENT_IDX)) {
		uint16_t ev = __atomic_load_n((uint16_t *)&u->ring[v->size], __ATOMIC_RELAXED);
		kick = (uint16_t)(v->avail_idx - ev - 1) < (uint16_t)(v->avail_idx - old_idx);
	} else {
		kick = !(__atomic_load_n(&u->flags, __ATOMIC_RELAXED) & VIRTQ_USED_F_NO_NOTIFY);
	}
	if (kick || force_kick) {
		d->nr_kicks++;
		sim_wr(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
	}
}

/* Posts RX chain k (descriptors [k*rx_chain_desc ...]) without publishing. */
static inline void sim_rx_add(struct sim_drv *d, unsigned k)
{
	struct sim_vq *v = &d->vq[VIRTIO_NET_RXQ];
	unsigned first = k * d->rx_chain_desc;

	for (unsigned i = 0; i < d->rx_chain_desc; i++) {
		struct virtq_desc *ds = sim_desc(d, VIRTIO_NET_RXQ, first + i);
		ds->addr = sim_rx_buf_gpa(d, first + i);
		ds->len = d->rx_buf_len;
		ds->flags = VIRTQ_DESC_F_WRITE | (i + 1 < d->rx_chain_desc ? VIRTQ_DESC_F_NEXT : 0);
		ds->next = (uint16_t)(first + i + 1);
	}
	sim_avail(d, VIRTIO_NET_RXQ)->ring[v->avail_idx % v->size] = (uint16_t)first;
	v->avail_idx++;
}

/* RX geometry: nr chains of chain_desc buffers of buf_len bytes. */
static inline void sim_rx_setup(struct sim_drv *d, unsigned nr, unsigned chain_desc,
				uint32_t buf_len)
{
	d->nr_rx_chains = nr;
	d->rx_chain_desc = chain_desc;
	d->rx_buf_len = buf_len;
}

/* Posts chains [from, from + count) and publishes them. */
static inline void sim_rx_post(struct sim_drv *d, unsigned from, unsigned count)
{
	uint16_t old = d->vq[VIRTIO_NET_RXQ].avail_idx;

	for (unsigned i = 0; i < count; i++)
		sim_rx_add(d, from + i);
	sim_publish(d, VIRTIO_NET_RXQ, old, false);
}

/* Takes the next used entry of queue q, if any. */
static inline bool sim_get_used(struct sim_drv *d, unsigned q, uint32_t *id, uint32_t *len)
{
	struct sim_vq *v = &d->vq[q];
	struct virtq_used *u = sim_used(d, q);

	/* Pairs with the device's store-release of used->idx. */
	if (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) == v->last_used)
		return false;
	struct virtq_used_elem *e = &u->ring[v->last_used % v->size];
	*id = e->id;
	*len = e->len;
	v->last_used++;
	return true;
}

/* Asks for an interrupt at the next used entry (EVENT_IDX) — what a driver does before it
 * sleeps — and reports whether entries are already waiting. */
static inline bool sim_arm_irq(struct sim_drv *d, unsigned q)
{
	struct sim_vq *v = &d->vq[q];
	struct virtq_avail *a = sim_avail(d, q);

	if (sim_has(d, VIRTIO_F_EVENT_IDX))
		__atomic_store_n(&a->ring[v->size], v->last_used, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&sim_used(d, q)->idx, __ATOMIC_ACQUIRE) != v->last_used;
}

/* Waits up to ms for the irqfd; acknowledges. Returns true if an interrupt came. */
static inline bool sim_wait_irq(struct sim_drv *d, int ms)
{
	struct pollfd p = {.fd = virtio_mmio_irqfd(d->t), .events = POLLIN};

	if (poll(&p, 1, ms) <= 0)
		return false;
	uint64_t v;
	if (read(p.fd, &v, sizeof(v)) != sizeof(v))
		return false;
	uint32_t st = sim_rd(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	sim_wr(d, VIRTIO_MMIO_INTERRUPT_ACK, st);
	d->nr_irqs++;
	return true;
}

/* Receives one frame (mergeable or not) into buf (cap bytes): header into *hdr, frame
 * bytes after it. Waits up to ms. Returns the frame length (header excluded), 0 on time
 * out, -EPROTO if the device broke the protocol. Reposts the chains it consumed. */
static inline long sim_rx_frame(struct sim_drv *d, struct virtio_net_hdr_v1 *hdr, uint8_t *buf,
				size_t cap, int ms)
{
	uint32_t id, len;
	size_t hl = sizeof(*hdr), got = 0;
	unsigned nb = 1, taken = 0;
	uint16_t old = d->vq[VIRTIO_NET_RXQ].avail_idx;

	while (taken < nb) {
		if (!sim_get_used(d, VIRTIO_NET_RXQ, &id, &len)) {
			/* Like Linux: the rest of a mergeable frame must already be there. */
			if (taken)
				return -EPROTO;
			if (sim_arm_irq(d, VIRTIO_NET_RXQ))
				continue;
			if (!sim_wait_irq(d, ms))
				return 0;
			continue;
		}
		if (id % d->rx_chain_desc || id / d->rx_chain_desc >= d->nr_rx_chains ||
		    len > (uint64_t)d->rx_chain_desc * d->rx_buf_len)
			return -EPROTO;
		/* Gather the chain's bytes. */
		uint8_t tmp[65536 + 4096];
		size_t off = 0;
		for (unsigned i = 0; i < d->rx_chain_desc && off < len; i++) {
			size_t c = len - off < d->rx_buf_len ? len - off : d->rx_buf_len;
			memcpy(tmp + off, sim_ptr(d, sim_rx_buf_gpa(d, id + i)), c);
			off += c;
		}
		size_t start = 0;
		if (taken == 0) {
			if (len < hl)
				return -EPROTO;
			memcpy(hdr, tmp, hl);
			nb = sim_has(d, VIRTIO_NET_F_MRG_RXBUF) ? hdr->num_buffers : 1;
			if (nb == 0 ||
			    (!sim_has(d, VIRTIO_NET_F_MRG_RXBUF) && hdr->num_buffers != 1))
				return -EPROTO;
			start = hl;
		}
		if (got + (len - start) > cap)
			return -EPROTO;
		memcpy(buf + got, tmp + start, len - start);
		got += len - start;
		taken++;
		sim_rx_add(d, id / d->rx_chain_desc);
	}
	sim_publish(d, VIRTIO_NET_RXQ, old, false);
	return (long)got;
}

/* Sends one frame with header h, splitting the frame into `pieces` descriptors. Waits for
 * completions when the ring is full. Returns 0, or -ETIMEDOUT. */
static inline int sim_tx_frame(struct sim_drv *d, const struct virtio_net_hdr_v1 *h,
			       const void *frame, size_t len, unsigned pieces)
{
	struct sim_vq *v = &d->vq[VIRTIO_NET_TXQ];
	unsigned per_chain = 8, slots = v->size / per_chain;
	uint32_t id, ul;

	if (pieces == 0 || pieces > per_chain - 1)
		pieces = 1;
	while (d->tx_inflight >= slots) {
		if (sim_get_used(d, VIRTIO_NET_TXQ, &id, &ul)) {
			d->tx_inflight--;
			continue;
		}
		if (!sim_arm_irq(d, VIRTIO_NET_TXQ) && !sim_wait_irq(d, 5000))
			return -ETIMEDOUT;
	}
	unsigned slot = d->tx_next_slot++ % slots, head = slot * per_chain;
	uint64_t gpa = SIM_TX_BUF_BASE + slot * SIM_TX_SLOT;
	memcpy(sim_ptr(d, gpa), h, sizeof(*h));
	memcpy(sim_ptr(d, gpa + sizeof(*h)), frame, len);
	struct virtq_desc *ds = sim_desc(d, VIRTIO_NET_TXQ, head);
	ds->addr = gpa;
	ds->len = sizeof(*h);
	ds->flags = VIRTQ_DESC_F_NEXT;
	ds->next = (uint16_t)(head + 1);
	size_t off = 0, piece = (len + pieces - 1) / pieces;
	for (unsigned i = 0; i < pieces; i++) {
		size_t l = len - off < piece ? len - off : piece;
		ds = sim_desc(d, VIRTIO_NET_TXQ, head + 1 + i);
		ds->addr = gpa + sizeof(*h) + off;
		ds->len = (uint32_t)l;
		ds->flags = i + 1 < pieces ? VIRTQ_DESC_F_NEXT : 0;
		ds->next = (uint16_t)(head + 2 + i);
		off += l;
	}
	uint16_t old = v->avail_idx;
	sim_avail(d, VIRTIO_NET_TXQ)->ring[v->avail_idx % v->size] = (uint16_t)head;
	v->avail_idx++;
	d->tx_inflight++;
	sim_publish(d, VIRTIO_NET_TXQ, old, false);
	return 0;
}

/* Posts a hand-made TX chain of n descriptors (for malformed-chain tests). */
static inline void sim_tx_raw(struct sim_drv *d, const struct virtq_desc *descs, unsigned n)
{
	struct sim_vq *v = &d->vq[VIRTIO_NET_TXQ];
	unsigned per_chain = 8, slots = v->size / per_chain;
	unsigned slot = d->tx_next_slot++ % slots, head = slot * per_chain;

	for (unsigned i = 0; i < n && i < per_chain; i++) {
		struct virtq_desc *ds = sim_desc(d, VIRTIO_NET_TXQ, head + i);
		*ds = descs[i];
		if (ds->flags & VIRTQ_DESC_F_NEXT)
			ds->next = (uint16_t)(head + i + 1);
	}
	uint16_t old = v->avail_idx;
	sim_avail(d, VIRTIO_NET_TXQ)->ring[v->avail_idx % v->size] = (uint16_t)head;
	v->avail_idx++;
	d->tx_inflight++;
	sim_publish(d, VIRTIO_NET_TXQ, old, false);
}

/* Waits until every TX chain came back. Returns 0 or -ETIMEDOUT. */
static inline int sim_tx_drain(struct sim_drv *d, int ms)
{
	uint32_t id, ul;

	while (d->tx_inflight) {
		if (sim_get_used(d, VIRTIO_NET_TXQ, &id, &ul)) {
			d->tx_inflight--;
			continue;
		}
		if (!sim_arm_irq(d, VIRTIO_NET_TXQ) && !sim_wait_irq(d, ms))
			return -ETIMEDOUT;
	}
	return 0;
}

#endif

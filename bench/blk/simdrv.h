/* bench/blk/simdrv.h — a simulated virtio-mmio driver for device tests and benches
 * (header only; used by tests/unit/test_virtio_blk.c, test_virtio_console.c, bench/blk).
 *
 * It plays the guest without a vCPU: guest RAM is a malloc'd buffer wrapped as guest
 * memory, registers are written through virtio_mmio_access() as a vCPU exit would, rings
 * are laid out in that RAM, kicks go to the queue's notify eventfd (what KVM's ioeventfd
 * does) and interrupts are read from the irqfd.
 *
 * Trust: this is test code; it trusts the device under test only as far as the checks in
 * the tests go (used ids and lengths are range-checked before use).
 */
#ifndef ARCVMM_BENCH_BLK_SIMDRV_H
#define ARCVMM_BENCH_BLK_SIMDRV_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem/guest_mem.h"
#include "virtio/mmio.h"
#include "virtio/queue.h"

#define SIMDRV_MAX_QUEUES 16
#define SIMDRV_MMIO_BASE  0xd0000000ULL
#define SIMDRV_GSI	  5

struct simdrv_buf {
	uint64_t gpa;
	uint32_t len;
	bool is_writable; /* device-writable (VIRTQ_DESC_F_WRITE) */
};

struct simq {
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t *used_event;  /* driver → device: interrupt me after this used idx */
	uint16_t *avail_event; /* device → driver: kick me after this avail idx */
	uint16_t avail_idx;    /* next avail idx to publish */
	uint16_t kicked_idx;   /* avail idx at the last kick decision */
	uint16_t last_used;
	uint16_t free_head; /* descriptor free list through desc[].next */
	uint16_t nr_free;
	uint16_t chain_len[VIRTQ_MAX_SIZE]; /* descriptors held by the chain at each head */
	uint64_t nr_kicks;
};

struct simdrv {
	uint8_t *ram;
	uint64_t ram_size;
	uint64_t next_alloc;
	struct guest_mem mem;
	struct virtio_mmio *t;
	uint64_t features;
	bool has_event_idx;
	unsigned nr_queues;
	struct simq q[SIMDRV_MAX_QUEUES];
	uint64_t nr_irqs;
};

static inline int simdrv_init(struct simdrv *sd, uint64_t ram_size)
{
	memset(sd, 0, sizeof(*sd));
	sd->ram = aligned_alloc(4096, ram_size);
	if (!sd->ram)
		return -ENOMEM;
	memset(sd->ram, 0, ram_size);
	sd->ram_size = ram_size;
	sd->next_alloc = 4096; /* keep gpa 0 unused */
	guest_mem_init_buffer(&sd->mem, sd->ram, ram_size);
	return 0;
}

static inline void simdrv_fini(struct simdrv *sd)
{
	if (sd->t)
		virtio_mmio_destroy(sd->t);
	sd->t = NULL;
	free(sd->ram);
	sd->ram = NULL;
}

/* Bump allocator in guest RAM; returns a gpa (never 0) or 0 when full. */
static inline uint64_t simdrv_alloc(struct simdrv *sd, uint64_t len, uint64_t align)
{
	uint64_t gpa = (sd->next_alloc + align - 1) & ~(align - 1);

	if (gpa + len > sd->ram_size)
		return 0;
	sd->next_alloc = gpa + len;
	return gpa;
}

static inline void *simdrv_ptr(struct simdrv *sd, uint64_t gpa)
{
	return sd->ram + gpa;
}

static inline uint32_t simdrv_read32(struct simdrv *sd, uint64_t off)
{
	uint32_t v = 0;

	virtio_mmio_access(sd->t, off, &v, 4, false);
	return v;
}

static inline void simdrv_write32(struct simdrv *sd, uint64_t off, uint32_t v)
{
	virtio_mmio_access(sd->t, off, &v, 4, true);
}

static inline void simdrv_config_read(struct simdrv *sd, uint32_t off, void *data, unsigned size)
{
	virtio_mmio_access(sd->t, VIRTIO_MMIO_CONFIG + off, data, size, false);
}

/* Creates the transport for dev and initialises it like Linux does: features (those
 * offered among `wanted`, plus VERSION_1), nr_queues queues of qsize entries, DRIVER_OK.
 * Returns 0, or -1 if the device refused something. */
static inline int simdrv_start(struct simdrv *sd, const struct virtio_device_ops *ops, void *dev,
			       unsigned nr_queues, uint16_t qsize, uint64_t wanted)
{
	uint64_t offered;

	sd->t = virtio_mmio_create(&sd->mem, SIMDRV_MMIO_BASE, SIMDRV_GSI, ops, dev);
	if (!sd->t)
		return -1;
	if (simdrv_read32(sd, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC)
		return -1;
	simdrv_write32(sd, VIRTIO_MMIO_STATUS, 0);
	simdrv_write32(sd, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	simdrv_write32(sd, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	simdrv_write32(sd, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered = simdrv_read32(sd, VIRTIO_MMIO_DEVICE_FEATURES);
	simdrv_write32(sd, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)simdrv_read32(sd, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	sd->features = offered & (wanted | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	sd->has_event_idx = sd->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	simdrv_write32(sd, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	simdrv_write32(sd, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)sd->features);
	simdrv_write32(sd, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	simdrv_write32(sd, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(sd->features >> 32));
	simdrv_write32(sd, VIRTIO_MMIO_STATUS,
		       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			   VIRTIO_STATUS_FEATURES_OK);
	if (!(simdrv_read32(sd, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return -1;

	if (nr_queues > SIMDRV_MAX_QUEUES)
		return -1;
	sd->nr_queues = nr_queues;
	for (unsigned i = 0; i < nr_queues; i++) {
		struct simq *q = &sd->q[i];

		simdrv_write32(sd, VIRTIO_MMIO_QUEUE_SEL, i);
		if (simdrv_read32(sd, VIRTIO_MMIO_QUEUE_NUM_MAX) < qsize)
			return -1;
		memset(q, 0, sizeof(*q));
		q->size = qsize;
		q->desc_gpa = simdrv_alloc(sd, VIRTQ_DESC_BYTES(qsize), 16);
		q->avail_gpa = simdrv_alloc(sd, VIRTQ_AVAIL_BYTES(qsize), 2);
		q->used_gpa = simdrv_alloc(sd, VIRTQ_USED_BYTES(qsize), 4);
		if (!q->desc_gpa || !q->avail_gpa || !q->used_gpa)
			return -1;
		q->desc = simdrv_ptr(sd, q->desc_gpa);
		q->avail = simdrv_ptr(sd, q->avail_gpa);
		q->used = simdrv_ptr(sd, q->used_gpa);
		q->used_event = &q->avail->ring[qsize];
		q->avail_event = (uint16_t *)&q->used->ring[qsize];
		for (uint16_t d = 0; d < qsize; d++)
			q->desc[d].next = (uint16_t)(d + 1);
		q->free_head = 0;
		q->nr_free = qsize;
		simdrv_write32(sd, VIRTIO_MMIO_QUEUE_NUM, qsize);
		simdrv_write32(sd, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc_gpa);
		simdrv_write32(sd, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc_gpa >> 32));
		simdrv_write32(sd, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)q->avail_gpa);
		simdrv_write32(sd, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(q->avail_gpa >> 32));
		simdrv_write32(sd, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)q->used_gpa);
		simdrv_write32(sd, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(q->used_gpa >> 32));
		simdrv_write32(sd, VIRTIO_MMIO_QUEUE_READY, 1);
		if (simdrv_read32(sd, VIRTIO_MMIO_QUEUE_READY) != 1)
			return -1;
	}
	simdrv_write32(sd, VIRTIO_MMIO_STATUS,
		       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	if (simdrv_read32(sd, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return -1;
	return 0;
}

/* Puts a chain of n buffers (readable ones must come first, as the spec asks) on the
 * descriptor table and the avail ring, without publishing avail->idx. Returns the head, or
 * -1 if the descriptors ran out. */
static inline int simq_add(struct simq *q, const struct simdrv_buf *bufs, unsigned n)
{
	uint16_t head, d;

	if (n == 0 || n > q->nr_free)
		return -1;
	head = d = q->free_head;
	for (unsigned i = 0; i < n; i++) {
		uint16_t next = q->desc[d].next;

		q->desc[d].addr = bufs[i].gpa;
		q->desc[d].len = bufs[i].len;
		q->desc[d].flags = (uint16_t)((bufs[i].is_writable ? VIRTQ_DESC_F_WRITE : 0) |
					      (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		if (i + 1 < n)
			d = next;
		else
			q->free_head = next;
	}
	q->nr_free = (uint16_t)(q->nr_free - n);
	q->chain_len[head] = (uint16_t)n;
	q->avail->ring[q->avail_idx % q->size] = head;
	q->avail_idx++;
	return head;
}

/* Publishes added chains; pairs with the device's load-acquire of avail->idx. */
static inline void simq_publish(struct simq *q)
{
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
}

/* Publishes and kicks queue qi if the device asked for it (or always, with force). */
static inline void simdrv_kick(struct simdrv *sd, unsigned qi, bool force)
{
	struct simq *q = &sd->q[qi];
	uint16_t old = q->kicked_idx, new_idx = q->avail_idx;
	bool need;

	simq_publish(q);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* pairs with the device's re-check of avail */
	if (sd->has_event_idx) {
		uint16_t ev = __atomic_load_n(q->avail_event, __ATOMIC_ACQUIRE);

		need = (uint16_t)(new_idx - ev - 1) < (uint16_t)(new_idx - old);
	} else {
		need =
		    !(__atomic_load_n(&q->used->flags, __ATOMIC_ACQUIRE) & VIRTQ_USED_F_NO_NOTIFY);
	}
	q->kicked_idx = new_idx;
	if (need || force) {
		uint64_t one = 1;
		ssize_t r = write(virtio_mmio_notify_fd(sd->t, qi), &one, sizeof(one));

		(void)r;
		q->nr_kicks++;
	}
}

/* Takes the next used entry of queue qi, freeing its descriptors. Returns 1, or 0 if none. */
static inline int simq_get_used(struct simq *q, uint32_t *id, uint32_t *len)
{
	uint16_t used_idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
	struct virtq_used_elem e;
	uint16_t d;

	if (used_idx == q->last_used)
		return 0;
	e = q->used->ring[q->last_used % q->size];
	q->last_used++;
	/* Ask for an interrupt on the next used entry (EVENT_IDX drivers). */
	__atomic_store_n(q->used_event, q->last_used, __ATOMIC_RELEASE);
	*id = e.id;
	*len = e.len;
	if (e.id >= q->size || !q->chain_len[e.id])
		return 1; /* the caller's checks will catch it */
	d = (uint16_t)e.id;
	for (unsigned i = 1; i < q->chain_len[e.id]; i++)
		d = q->desc[d].next;
	q->desc[d].next = q->free_head;
	q->free_head = (uint16_t)e.id;
	q->nr_free = (uint16_t)(q->nr_free + q->chain_len[e.id]);
	q->chain_len[e.id] = 0;
	return 1;
}

/* Waits up to timeout_ms for an interrupt and acknowledges it. Returns true if one came. */
static inline bool simdrv_wait_irq(struct simdrv *sd, int timeout_ms)
{
	struct pollfd pfd = {.fd = virtio_mmio_irqfd(sd->t), .events = POLLIN};
	uint64_t v;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return false;
	if (read(pfd.fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		sd->nr_irqs++;
	simdrv_write32(sd, VIRTIO_MMIO_INTERRUPT_ACK,
		       simdrv_read32(sd, VIRTIO_MMIO_INTERRUPT_STATUS));
	return true;
}

/* Waits until queue qi has a used entry (or ~timeout_ms pass). Returns 1 with it, or 0. */
static inline int simdrv_wait_used(struct simdrv *sd, unsigned qi, uint32_t *id, uint32_t *len,
				   int timeout_ms)
{
	for (int waited = 0;; waited += 10) {
		if (simq_get_used(&sd->q[qi], id, len))
			return 1;
		if (waited >= timeout_ms)
			return 0;
		simdrv_wait_irq(sd, 10);
	}
}

#endif

/* virtio/queue.h — split virtqueue, device side.
 *
 * Pure ring logic: no threads, no file descriptors, no hypervisor. The transport fills in
 * the driver's geometry (size and the three ring addresses) and calls virtq_activate(),
 * which checks it against guest RAM once and keeps host pointers to the rings. A device
 * worker then pops checked chains, does its I/O, pushes used entries and asks whether the
 * driver wants an interrupt.
 *
 * Trust: everything in guest memory is hostile and may change under our feet. Each ring
 * index and descriptor is read once into a host variable (with the atomics the virtio
 * memory model asks for) and only that copy is checked and used. A chain that breaks a
 * rule marks the queue broken (is_broken); the transport then sets DEVICE_NEEDS_RESET.
 * Nothing the guest writes can make these functions read or write outside guest RAM, loop
 * without bound, or overflow a host buffer.
 *
 * The usual worker loop after a kick (see devices/virtio_rng.c):
 *	while ((r = virtq_pop(q, &chain)) > 0) {
 *		... read chain.iov[0, nr_out), write chain.iov[nr_out, nr_out + nr_in) ...
 *		virtq_push(q, chain.head, bytes_written);
 *	}
 *	if (r == -EIO) virtio_mmio_set_needs_reset(t);   (or use virtio_mmio_pop())
 *	virtio_mmio_signal_used(t, qidx);                 (EVENT_IDX decision + irqfd)
 * Popping until 0 is enough: an empty pop re-arms notifications and re-checks.
 *
 * Threading: after activation a queue belongs to one worker thread at a time. The
 * transport only touches it while no worker runs (before DRIVER_OK, or after reset has
 * stopped the workers).
 */
#ifndef ARCVMM_VIRTIO_QUEUE_H
#define ARCVMM_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mem/guest_mem.h"

/* Largest queue size a device may offer (QueueNumMax). Chains can never be longer than
 * the queue, so with this bound every direct chain fits in a struct virtq_chain. */
#define VIRTQ_MAX_SIZE 1024
/* Most buffers one chain may carry, direct and indirect together. */
#define VIRTQ_CHAIN_MAX_IOV 1024

/* Descriptor flags (virtio 1.x, 2.7.5). */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
/* avail->flags / used->flags */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

/* The guest-memory layout of the split ring (little-endian; x86 hosts only). */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* [size], then uint16_t used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[]; /* [size], then uint16_t avail_event */
};

/* Ring sizes in bytes for a queue of `size` entries (with the EVENT_IDX tail fields). */
#define VIRTQ_DESC_BYTES(size)	(16ULL * (size))
#define VIRTQ_AVAIL_BYTES(size) (6ULL + 2ULL * (size))
#define VIRTQ_USED_BYTES(size)	(6ULL + 8ULL * (size))

/* One popped chain: iov[0, nr_out) are the driver's readable buffers (device reads them),
 * iov[nr_out, nr_out + nr_in) its writable ones (device writes them). Every iov_base points
 * inside guest RAM and the whole [base, base+len) range was checked. Zero-length buffers
 * are dropped. */
struct virtq_chain {
	uint16_t head;	  /* descriptor index to hand back to virtq_push() */
	uint16_t nr_out;  /* readable buffers */
	uint16_t nr_in;	  /* writable buffers, after the readable ones */
	uint32_t out_len; /* sum of readable lengths (never overflows: checked) */
	uint32_t in_len;  /* sum of writable lengths */
	struct iovec iov[VIRTQ_CHAIN_MAX_IOV];
};

struct virtq {
	/* The driver's geometry, written by the transport while the queue is not ready. */
	uint16_t size; /* QueueNum */
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* Set by virtq_activate(); cleared by virtq_reset(). */
	bool is_ready;
	bool has_event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	bool has_indirect;  /* VIRTIO_F_INDIRECT_DESC negotiated */
	const struct guest_mem *mem;
	struct virtq_desc *desc; /* host views of the rings (guest-writable memory) */
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t *used_event;  /* &avail->ring[size] */
	uint16_t *avail_event; /* &used->ring[size] */

	/* Device-side state, owned by the worker. */
	uint16_t last_avail;	 /* next avail->ring slot to consume (free-running) */
	uint16_t used_idx;	 /* our copy of used->idx (free-running) */
	uint16_t signalled_used; /* used_idx when we last decided about an interrupt */
	bool is_signalled_valid;
	uint16_t nr_inflight;	 /* popped, not yet pushed */
	uint16_t nr_unpublished; /* filled by virtq_fill(), not yet made visible by virtq_flush() */
	bool is_notify_disabled; /* between virtq_disable_notify() and virtq_enable_notify() */
	bool is_broken;		 /* the driver broke a rule; nothing more is popped */

	/* Counters (worker-owned; read racily for statistics only). */
	uint64_t nr_popped, nr_pushed, nr_notified, nr_errors;
};

/* Forgets everything (geometry included): the state after device reset. */
void virtq_reset(struct virtq *q);

/* Checks the geometry in q (size a power of two, 1 <= size <= max_size <= VIRTQ_MAX_SIZE;
 * desc 16-byte, avail 2-byte, used 4-byte aligned; each ring wholly inside one RAM region)
 * and makes the queue ready. The device-side indices start at 0. Returns 0, or -EINVAL with
 * the queue left not ready. */
int virtq_activate(struct virtq *q, const struct guest_mem *mem, uint16_t max_size,
		   bool has_event_idx, bool has_indirect);

/* Pops the next available chain into *c. When the ring is empty and notifications are
 * enabled, it re-arms them (avail_event or used->flags) and checks the ring once more, so a
 * worker that pops until 0 after each kick never misses a buffer.
 * Returns 1 with *c filled, 0 if the ring is empty, -EIO if the driver broke a rule (the
 * queue is then marked broken and every later call returns -EIO; the caller should ask
 * the transport for DEVICE_NEEDS_RESET), -EINVAL if the queue is not ready. */
int virtq_pop(struct virtq *q, struct virtq_chain *c);

/* Returns a chain popped earlier: writes the used element {head, len} and publishes it.
 * len is the number of bytes the device wrote into the writable buffers. Returns 0, or
 * -EINVAL for a head that is out of range or when nothing is in flight (a device bug). */
int virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* virtq_push() in two halves, for a group of used entries the driver must see at once
 * (virtio-net's mergeable RX buffers: all buffers of one frame behind a single used->idx
 * update). virtq_fill() writes the element but does not move used->idx; virtq_flush()
 * publishes everything filled so far. Same return values as virtq_push(). */
int virtq_fill(struct virtq *q, uint16_t head, uint32_t len);
void virtq_flush(struct virtq *q);

/* Gives back the n most recently popped chains so that the next pops return them again
 * (a device that reserved buffers and then had nothing to put in them, e.g. net RX when the
 * backend had no frame after all; with a FIFO reserve the unfilled chains are always the
 * newest). The caller must not have filled or pushed any of those n; only n <= nr_inflight
 * is checked here. A chain popped again is checked again. Returns 0 or -EINVAL. */
int virtq_unpop(struct virtq *q, unsigned n);

/* After one or more pushes: does the driver want an interrupt now? Uses used_event with
 * EVENT_IDX, avail->flags NO_INTERRUPT otherwise. Counts in nr_notified when true. */
bool virtq_should_notify(struct virtq *q);

/* Ask the driver not to kick (set used->flags NO_NOTIFY, or with EVENT_IDX leave
 * avail_event behind) while the worker is draining the ring anyway. */
void virtq_disable_notify(struct virtq *q);
/* Ask for kicks again (avail_event = last_avail with EVENT_IDX). Returns true if buffers
 * arrived meanwhile, in which case the caller must pop again before sleeping. */
bool virtq_enable_notify(struct virtq *q);

/* True if at least one chain is waiting (a plain check; pop still validates). */
bool virtq_has_avail(struct virtq *q);

/* Copy helpers over a popped chain. Offsets count bytes across the readable (or writable)
 * buffers as if they were one. Return the number of bytes copied (short at the end). */
size_t virtq_chain_read(const struct virtq_chain *c, size_t offset, void *dst, size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, size_t offset, const void *src, size_t len);

#endif

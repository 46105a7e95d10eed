/* virtio/queue.c — split virtqueue, device side. See queue.h.
 *
 * Trusts: the struct virtq fields the transport and the device set (geometry is checked
 * here at activation). Does not trust anything in guest memory: ring indices are loaded
 * once with atomics, descriptors are copied into host structs (behind a compiler barrier
 * so that the compiler cannot go back to guest memory for a field), and every buffer is
 * turned into a host pointer by guest_mem_ptr() over its whole length.
 */
#include "virtio/queue.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

/* Memory-ordering notes. The driver side (Linux virtio_ring) does:
 *   publish: write descriptors and avail->ring[], wmb, write avail->idx, mb, read
 *            avail_event / used->flags to decide whether to kick;
 *   consume: read used->idx, rmb, read used->ring[]; write used_event, mb, re-read idx.
 * The comments at each atomic below name the driver-side operation they pair with. */

static void virtq_break(struct virtq *q, const char *why, unsigned a, unsigned b)
{
	q->is_broken = true;
	q->nr_errors++;
	log_guest("virtqueue (size %u): %s (%u, %u); queue stopped until reset", q->size, why, a,
		  b);
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

static bool is_power_of_two(unsigned v)
{
	return v && !(v & (v - 1));
}

int virtq_activate(struct virtq *q, const struct guest_mem *mem, uint16_t max_size,
		   bool has_event_idx, bool has_indirect)
{
	uint16_t size = q->size;

	q->is_ready = false;
	if (max_size > VIRTQ_MAX_SIZE || !is_power_of_two(size) || size > max_size)
		return -EINVAL;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	struct virtq_desc *desc = guest_mem_ptr(mem, q->desc_gpa, VIRTQ_DESC_BYTES(size));
	struct virtq_avail *avail = guest_mem_ptr(mem, q->avail_gpa, VIRTQ_AVAIL_BYTES(size));
	struct virtq_used *used = guest_mem_ptr(mem, q->used_gpa, VIRTQ_USED_BYTES(size));
	if (!desc || !avail || !used)
		return -EINVAL;
	/* The atomics below need natural alignment in the host too (a caller-supplied buffer
	 * region need not be page aligned). */
	if (((uintptr_t)desc & 7) || ((uintptr_t)avail & 1) || ((uintptr_t)used & 3))
		return -EINVAL;

	q->mem = mem;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->used_event = &avail->ring[size];
	q->avail_event = (uint16_t *)&used->ring[size];
	q->has_event_idx = has_event_idx;
	q->has_indirect = has_indirect;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->is_signalled_valid = false;
	q->nr_inflight = 0;
	q->nr_unpublished = 0;
	q->is_notify_disabled = false;
	q->is_broken = false;
	q->is_ready = true;
	return 0;
}

/* Copies one descriptor out of guest memory. The barrier makes the compiler treat guest
 * memory as changed afterwards, so every later use of *dst reads the copy, never the
 * guest's (possibly rewritten) descriptor. */
static void desc_load(struct virtq_desc *dst, const struct virtq_desc *src)
{
	memcpy(dst, src, sizeof(*dst));
	__asm__ __volatile__("" : : "r"(dst) : "memory");
}

struct chain_walk {
	struct virtq_chain *c;
	uint64_t out_len, in_len;
	bool seen_writable;
};

/* Adds one buffer to the chain being built. Returns 0 or -EIO (queue broken). */
static int chain_add(struct virtq *q, struct chain_walk *w, const struct virtq_desc *d)
{
	struct virtq_chain *c = w->c;
	bool is_writable = d->flags & VIRTQ_DESC_F_WRITE;

	if (is_writable) {
		w->seen_writable = true;
	} else if (w->seen_writable) {
		virtq_break(q, "readable buffer after a writable one", c->head, 0);
		return -EIO;
	}
	if (d->len == 0)
		return 0; /* nothing to read or write: no iovec */
	void *p = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!p) {
		virtq_break(q, "buffer outside guest RAM", c->head, d->len);
		return -EIO;
	}
	if (c->nr_out + c->nr_in >= VIRTQ_CHAIN_MAX_IOV) {
		virtq_break(q, "too many buffers in one chain", c->head, VIRTQ_CHAIN_MAX_IOV);
		return -EIO;
	}
	uint64_t *sum = is_writable ? &w->in_len : &w->out_len;
	*sum += d->len; /* each len < 2^32 and at most 2^10 of them: no 64-bit overflow */
	if (*sum > UINT32_MAX) {
		virtq_break(q, "chain length overflows 32 bits", c->head, 0);
		return -EIO;
	}
	struct iovec *iov = &c->iov[c->nr_out + c->nr_in];
	iov->iov_base = p;
	iov->iov_len = d->len;
	if (is_writable)
		c->nr_in++;
	else
		c->nr_out++;
	return 0;
}

/* Walks an indirect table described by *ind (already copied to the host). */
static int chain_indirect(struct virtq *q, struct chain_walk *w, const struct virtq_desc *ind)
{
	uint16_t head = w->c->head;

	if (!q->has_indirect) {
		virtq_break(q, "indirect descriptor without VIRTIO_F_INDIRECT_DESC", head, 0);
		return -EIO;
	}
	if (ind->flags & VIRTQ_DESC_F_NEXT) {
		virtq_break(q, "indirect descriptor with NEXT set", head, 0);
		return -EIO;
	}
	if (ind->len == 0 || ind->len % sizeof(struct virtq_desc) ||
	    ind->len / sizeof(struct virtq_desc) > VIRTQ_CHAIN_MAX_IOV) {
		virtq_break(q, "bad indirect table length", head, ind->len);
		return -EIO;
	}
	unsigned n = ind->len / sizeof(struct virtq_desc);
	const struct virtq_desc *table = guest_mem_ptr(q->mem, ind->addr, ind->len);
	if (!table) {
		virtq_break(q, "indirect table outside guest RAM", head, ind->len);
		return -EIO;
	}
	unsigned i = 0, hops = 0;
	for (;;) {
		struct virtq_desc d;

		if (++hops > n) {
			virtq_break(q, "loop in indirect table", head, n);
			return -EIO;
		}
		/* The table may be unaligned: desc_load copies bytes. */
		desc_load(&d, &table[i]);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			virtq_break(q, "indirect descriptor inside an indirect table", head, i);
			return -EIO;
		}
		int err = chain_add(q, w, &d);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n) {
			virtq_break(q, "indirect next out of range", head, d.next);
			return -EIO;
		}
		i = d.next;
	}
}

static int chain_parse(struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	struct chain_walk w = {.c = c};
	unsigned idx = head, hops = 0;

	c->head = head;
	c->nr_out = 0;
	c->nr_in = 0;
	for (;;) {
		struct virtq_desc d;

		/* A chain visits each descriptor at most once, so more hops than the queue
		 * has descriptors means a loop. */
		if (++hops > q->size) {
			virtq_break(q, "descriptor loop", head, q->size);
			return -EIO;
		}
		desc_load(&d, &q->desc[idx]);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			int err = chain_indirect(q, &w, &d);
			if (err)
				return err;
			break;
		}
		int err = chain_add(q, &w, &d);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= q->size) {
			virtq_break(q, "next out of range", head, d.next);
			return -EIO;
		}
		idx = d.next;
	}
	c->out_len = (uint32_t)w.out_len;
	c->in_len = (uint32_t)w.in_len;
	return 0;
}

/* Loads avail->idx. Acquire pairs with the driver's wmb before it stores avail->idx, so the
 * ring entries and descriptors it published are visible once we see the new index. */
static uint16_t avail_idx_load(const struct virtq *q)
{
	return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
}

/* Re-arms driver notifications and reports whether buffers are waiting. */
static bool notify_arm(struct virtq *q)
{
	if (q->has_event_idx) {
		/* Read by the driver after its mb that follows the avail->idx store. */
		__atomic_store_n(q->avail_event, q->last_avail, __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&q->used->flags, 0, __ATOMIC_RELAXED);
	}
	/* Store-load fence: our avail_event/flags store must be visible before we look at
	 * avail->idx again. Pairs with the driver's mb between its avail->idx store and its
	 * avail_event/flags load; one of the two sides then sees the other's write. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_idx_load(q) != q->last_avail;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	if (!q->is_ready)
		return -EINVAL;
	if (q->is_broken)
		return -EIO;

	uint16_t avail_idx = avail_idx_load(q);
	if (avail_idx == q->last_avail) {
		if (q->is_notify_disabled || !q->has_event_idx || !notify_arm(q))
			return 0;
		avail_idx = avail_idx_load(q);
	}
	/* Every chain holds at least one of the size descriptors, and the device still holds
	 * those it popped and has not published: the driver cannot have more than the rest
	 * available. A bigger jump is a driver bug or a hostile one. */
	uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
	unsigned held = (unsigned)q->nr_inflight + q->nr_unpublished;
	if (held >= q->size || pending > q->size - held) {
		virtq_break(q, "avail idx moved past the free descriptors", pending, held);
		return -EIO;
	}
	/* Ordered after the acquire load of avail->idx above. */
	uint16_t head =
	    __atomic_load_n(&q->avail->ring[q->last_avail & (q->size - 1)], __ATOMIC_RELAXED);
	if (head >= q->size) {
		virtq_break(q, "head out of range", head, q->size);
		return -EIO;
	}
	int err = chain_parse(q, head, c);
	if (err)
		return err;
	q->last_avail++;
	q->nr_inflight++;
	q->nr_popped++;
	return 1;
}

int virtq_fill(struct virtq *q, uint16_t head, uint32_t len)
{
	if (!q->is_ready || head >= q->size || q->nr_inflight == 0)
		return -EINVAL;
	uint16_t idx = (uint16_t)(q->used_idx + q->nr_unpublished);
	struct virtq_used_elem *e = &q->used->ring[idx & (q->size - 1)];
	/* Plain stores: the driver reads them only after the release store in virtq_flush. */
	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	q->nr_unpublished++;
	q->nr_inflight--;
	q->nr_pushed++;
	return 0;
}

void virtq_flush(struct virtq *q)
{
	if (!q->is_ready || q->nr_unpublished == 0)
		return;
	q->used_idx = (uint16_t)(q->used_idx + q->nr_unpublished);
	q->nr_unpublished = 0;
	/* Release pairs with the driver's rmb after it loads used->idx: the elements filled
	 * above are visible before the index that publishes them. */
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	int err = virtq_fill(q, head, len);

	if (err)
		return err;
	virtq_flush(q);
	return 0;
}

int virtq_unpop(struct virtq *q, unsigned n)
{
	if (!q->is_ready || n > q->nr_inflight)
		return -EINVAL;
	q->last_avail = (uint16_t)(q->last_avail - n);
	q->nr_inflight = (uint16_t)(q->nr_inflight - n);
	q->nr_popped -= n;
	return 0;
}

bool virtq_should_notify(struct virtq *q)
{
	if (!q->is_ready)
		return false;
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool was_valid = q->is_signalled_valid;
	bool notify;

	if (old == now)
		return false; /* nothing pushed since activation or the last decision */
	q->signalled_used = now;
	q->is_signalled_valid = true;
	/* Store-load fence: our used->idx store must be visible before we read used_event /
	 * avail->flags. Pairs with the driver's mb between its used_event store (or flags
	 * store) and its re-read of used->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->has_event_idx) {
		uint16_t event = __atomic_load_n(q->used_event, __ATOMIC_RELAXED);
		/* Interrupt if used_event lies in [old, now): the driver asked to hear about
		 * the entry at used_event and we just went past it. */
		notify = !was_valid || (uint16_t)(now - event - 1) < (uint16_t)(now - old);
	} else {
		uint16_t flags = __atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED);
		notify = !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	if (notify)
		q->nr_notified++;
	return notify;
}

void virtq_disable_notify(struct virtq *q)
{
	if (!q->is_ready)
		return;
	q->is_notify_disabled = true;
	/* With EVENT_IDX, leaving avail_event behind already stops kicks after the next one. */
	if (!q->has_event_idx)
		__atomic_store_n(&q->used->flags, VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

bool virtq_enable_notify(struct virtq *q)
{
	if (!q->is_ready)
		return false;
	q->is_notify_disabled = false;
	return notify_arm(q);
}

bool virtq_has_avail(struct virtq *q)
{
	return q->is_ready && !q->is_broken && avail_idx_load(q) != q->last_avail;
}

static size_t chain_copy(const struct iovec *iov, unsigned n, size_t offset, void *buf, size_t len,
			 bool to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		size_t chunk = iov[i].iov_len - offset;
		if (chunk > len - done)
			chunk = len - done;
		uint8_t *g = (uint8_t *)iov[i].iov_base + offset;
		if (to_iov)
			memcpy(g, (const uint8_t *)buf + done, chunk);
		else
			memcpy((uint8_t *)buf + done, g, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, size_t offset, void *dst, size_t len)
{
	return chain_copy(c->iov, c->nr_out, offset, dst, len, false);
}

size_t virtq_chain_write(const struct virtq_chain *c, size_t offset, const void *src, size_t len)
{
	return chain_copy(c->iov + c->nr_out, c->nr_in, offset, (void *)src, len, true);
}

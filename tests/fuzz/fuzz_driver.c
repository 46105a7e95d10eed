/* tests/fuzz/fuzz_driver.c — the hostile driver of the device fuzz targets. See
 * fuzz_driver.h for the input script. Trusts the device under test only to be a device:
 * every check here is one a real driver could not rely on either.
 */
#include "tests/fuzz/fuzz_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/worker.h"

/* Rounds of worker callbacks per step: enough for a kick, the I/O it starts and the
 * completions; a device that keeps itself busy longer (a timer) just continues later. */
#define FZ_RUN_ROUNDS 16

/* FUZZ_VERBOSE=1: print every used element and the final status (checking seeds). */
static bool is_verbose;

static void wr32(struct fz_driver *d, uint32_t off, uint32_t v)
{
	uint64_t buf = v;

	virtio_mmio_access(d->t, off, &buf, 4, true);
}

static uint32_t rd32(struct fz_driver *d, uint32_t off)
{
	uint64_t buf = 0;

	virtio_mmio_access(d->t, off, &buf, 4, false);
	return (uint32_t)buf;
}

void fz_driver_init(struct fz_driver *d, const struct virtio_device_ops *ops, void *dev,
		    unsigned nr_queues)
{
	memset(d, 0, sizeof(*d));
	log_threshold = LOG_ERROR; /* a fuzzed guest is noisy: keep stderr for findings */
	worker_set_inline(true);
	d->ops = *ops;
	d->ops.destroy = NULL;
	d->dev = dev;
	d->max_size_log2 = 10;
	d->nr_queues = nr_queues < FZ_MAX_QUEUES ? nr_queues : FZ_MAX_QUEUES;
	is_verbose = getenv("FUZZ_VERBOSE") != NULL;
	d->ram = aligned_alloc(4096, FZ_RAM_SIZE);
	if (!d->ram)
		abort();
	guest_mem_init_buffer(&d->mem, d->ram, FZ_RAM_SIZE);
}

/* What a Linux driver does at probe: reset, negotiate, set the queues up, DRIVER_OK. */
static void fz_setup(struct fz_driver *d)
{
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	uint64_t offered;

	wr32(d, VIRTIO_MMIO_STATUS, 0);
	wr32(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr32(d, VIRTIO_MMIO_STATUS, st);
	wr32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered = rd32(d, VIRTIO_MMIO_DEVICE_FEATURES);
	wr32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)rd32(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	offered &= d->features | VIRTIO_BIT(VIRTIO_F_VERSION_1);
	wr32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)offered);
	wr32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(offered >> 32));
	st |= VIRTIO_STATUS_FEATURES_OK;
	wr32(d, VIRTIO_MMIO_STATUS, st);
	for (unsigned q = 0; q < d->nr_queues; q++) {
		uint64_t base = FZ_RING_BASE(q);
		uint32_t max;

		wr32(d, VIRTIO_MMIO_QUEUE_SEL, q);
		max = rd32(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
		d->size[q] = (uint16_t)(1u << ((d->size_log2 & 0x7f) % (d->max_size_log2 + 1u)));
		while (d->size[q] > max && d->size[q] > 1)
			d->size[q] >>= 1;
		d->avail_idx[q] = 0;
		d->seen_used[q] = 0;
		/* Fresh rings, as a driver allocates at probe (descriptors stay: they
		 * are the script's, and stale ones are just more hostile input). */
		memset(d->ram + base + FZ_AVAIL_OFF, 0, 0x8000 - FZ_AVAIL_OFF);
		if (!max)
			continue;
		wr32(d, VIRTIO_MMIO_QUEUE_NUM, d->size[q]);
		wr32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)base);
		wr32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		wr32(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)(base + FZ_AVAIL_OFF));
		wr32(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
		wr32(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)(base + FZ_USED_OFF));
		wr32(d, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
		wr32(d, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr32(d, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
}

static void fz_kick(struct fz_driver *d, unsigned q)
{
	wr32(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* The device never hands back more chains than it took (nor holds more than the ring):
 * last_avail - used_idx stays within the queue size. The used elements it published
 * during the last step (the latest queue's worth of them: a step can see several
 * generations of a small ring, a chain held for the backend and then the next one) name
 * heads inside the queue. */
static void fz_check_used(struct fz_driver *d, bool is_resync)
{
	for (unsigned q = 0; q < d->nr_queues; q++) {
		struct virtq *vq = virtio_mmio_queue(d->t, q);
		uint16_t n;

		if (!vq)
			abort(); /* the device has fewer queues than it said */
		if (is_resync || !vq->is_ready) {
			d->seen_used[q] = vq->used_idx;
			continue;
		}
		if ((uint16_t)(vq->last_avail - vq->used_idx) > vq->size)
			abort();
		n = (uint16_t)(vq->used_idx - d->seen_used[q]);
		if (n > vq->size)
			n = vq->size;
		for (uint16_t k = 0; k < n; k++) {
			uint16_t slot = (uint16_t)(vq->used_idx - n + k) % vq->size;
			if (is_verbose)
				fprintf(stderr, "fuzz_driver: q%u used id %u len %u\n", q,
					vq->used->ring[slot].id, vq->used->ring[slot].len);
			if (vq->used->ring[slot].id >= vq->size)
				abort();
		}
		d->seen_used[q] = vq->used_idx;
	}
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Bytes each record takes after its selector (FZ_OP_RAM and FZ_OP_DEVICE: plus len). */
static const uint8_t fz_op_len[FZ_NR_OPS] = {
    [FZ_OP_RAM] = 4,  [FZ_OP_DESC] = 15, [FZ_OP_POST] = 3,  [FZ_OP_IDX] = 3,	[FZ_OP_REG] = 7,
    [FZ_OP_READ] = 3, [FZ_OP_SETUP] = 0, [FZ_OP_PAUSE] = 0, [FZ_OP_DEVICE] = 1, [FZ_OP_RUN] = 0,
};

void fz_driver_run(struct fz_driver *d, const uint8_t *data, size_t size)
{
	size_t i = 9;

	if (size < 9)
		return;
	memcpy(&d->features, data, 8);
	d->size_log2 = data[8];
	memset(d->ram, 0, FZ_RAM_SIZE);
	d->t = virtio_mmio_create(&d->mem, 0xd0000000, 5, &d->ops, d->dev);
	if (!d->t)
		abort();
	fz_setup(d);
	worker_run_inline(FZ_RUN_ROUNDS);
	fz_check_used(d, true);
	while (i < size) {
		unsigned op = data[i] % FZ_NR_OPS;
		const uint8_t *a = data + i + 1;
		size_t need = fz_op_len[op];
		bool is_resync = false;

		if (size - i - 1 < need)
			break;
		if (op == FZ_OP_RAM || op == FZ_OP_DEVICE) {
			size_t len = op == FZ_OP_RAM ? a[3] : a[0];
			if (size - i - 1 - need < len)
				break;
			need += len;
		}
		i += 1 + need;
		switch (op) {
		case FZ_OP_RAM: {
			uint32_t gpa = (uint32_t)(a[0] | a[1] << 8 | a[2] << 16) % FZ_RAM_SIZE;
			size_t len = a[3];
			if (len > FZ_RAM_SIZE - gpa)
				len = FZ_RAM_SIZE - gpa;
			memcpy(d->ram + gpa, a + 4, len);
			break;
		}
		case FZ_OP_DESC: {
			unsigned q = a[0] % FZ_MAX_QUEUES;
			uint16_t idx = le16(a + 1);
			struct virtq_desc desc = {.addr = le32(a + 3),
						  .len = le32(a + 7),
						  .flags = le16(a + 11),
						  .next = le16(a + 13)};
			/* Indices past the table land in the next ring: on purpose, the
			 * driver may scribble anywhere. */
			uint64_t at = FZ_RING_BASE(q) + 16ull * (idx % 2048);
			if (at + sizeof(desc) <= FZ_RAM_SIZE)
				memcpy(d->ram + at, &desc, sizeof(desc));
			break;
		}
		case FZ_OP_POST:
		case FZ_OP_IDX: {
			unsigned q = a[0] % d->nr_queues;
			uint8_t *avail = d->ram + FZ_RING_BASE(q) + FZ_AVAIL_OFF;
			uint16_t v = le16(a + 1);

			if (op == FZ_OP_POST) {
				uint16_t slot = d->size[q] ? d->avail_idx[q] % d->size[q] : 0;
				memcpy(avail + 4 + 2 * slot, &v, 2);
				d->avail_idx[q]++;
			} else {
				d->avail_idx[q] = v;
			}
			/* pairs with virtq_pop's load-acquire of avail->idx */
			__atomic_store_n((uint16_t *)(avail + 2), d->avail_idx[q],
					 __ATOMIC_RELEASE);
			fz_kick(d, q);
			break;
		}
		case FZ_OP_REG: {
			uint64_t v = le32(a + 3);
			virtio_mmio_access(d->t, le16(a) % 0x1100, &v, 1u << (a[2] & 3), true);
			is_resync = true;
			break;
		}
		case FZ_OP_READ: {
			uint64_t v = 0;
			virtio_mmio_access(d->t, le16(a) % 0x1100, &v, 1u << (a[2] & 3), false);
			break;
		}
		case FZ_OP_SETUP:
			fz_setup(d);
			is_resync = true;
			break;
		case FZ_OP_PAUSE:
			virtio_mmio_pause(d->t);
			virtio_mmio_resume(d->t);
			break;
		case FZ_OP_DEVICE:
			if (d->device_event)
				d->device_event(d->ctx, a + 1, a[0]);
			break;
		case FZ_OP_RUN:
			break;
		}
		worker_run_inline(FZ_RUN_ROUNDS);
		fz_check_used(d, is_resync);
	}
	if (is_verbose)
		fprintf(stderr, "fuzz_driver: status %#x at the end\n",
			rd32(d, VIRTIO_MMIO_STATUS));
	wr32(d, VIRTIO_MMIO_STATUS, 0);
	virtio_mmio_destroy(d->t);
	d->t = NULL;
}

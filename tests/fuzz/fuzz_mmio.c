/* tests/fuzz/fuzz_mmio.c — libFuzzer target: a hostile driver against the virtio-mmio
 * transport and the split ring behind it.
 *
 * The input is a list of 8-byte operations: register reads and writes of any size and
 * offset, writes into guest RAM (so the fuzzer can build rings), and "device work" steps
 * that pop, fill and push chains on a queue the way a worker would (on this thread: the
 * fake device has no worker, so runs are deterministic). RAM is one exact-size allocation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem/guest_mem.h"
#include "util/log.h"
#include "virtio/mmio.h"

#define RAM_SIZE 0x10000

static struct virtq_chain chain;

static uint64_t fz_features(void *dev)
{
	return VIRTIO_BIT(0) | VIRTIO_BIT(5) | VIRTIO_RING_FEATURES;
}

static void fz_config_read(void *dev, uint32_t off, void *data, unsigned size)
{
	static const uint8_t cfg[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	if (off < sizeof(cfg) && size <= sizeof(cfg) - off)
		memcpy(data, cfg + off, size);
}

static int fz_activate(void *dev, struct virtio_mmio *t)
{
	return 0;
}

static void fz_reset(void *dev)
{
}

static const struct virtio_device_ops fz_ops = {
    .name = "fuzz",
    .device_id = 99,
    .nr_queues = 3,
    .max_queue_size = 64,
    .features = fz_features,
    .config_read = fz_config_read,
    .activate = fz_activate,
    .reset = fz_reset,
};

static void device_work(struct virtio_mmio *t, unsigned qi)
{
	struct virtq *q = virtio_mmio_queue(t, qi);
	int r, n = 0;

	if (!q || !(virtio_mmio_status(t) & VIRTIO_STATUS_DRIVER_OK))
		return;
	while (n++ < 128 && (r = virtio_mmio_pop(t, qi, &chain)) > 0) {
		uint8_t buf[32];
		virtq_chain_read(&chain, 0, buf, sizeof(buf));
		size_t w = virtq_chain_write(&chain, 0, buf, sizeof(buf));
		if (virtq_push(q, chain.head, (uint32_t)w))
			abort(); /* a chain we popped must always go back */
	}
	virtio_mmio_signal_used(t, qi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem mem;
	uint8_t *ram = calloc(1, RAM_SIZE);
	uint64_t sink;

	log_threshold = LOG_ERROR;
	guest_mem_init_buffer(&mem, ram, RAM_SIZE);
	struct virtio_mmio *t = virtio_mmio_create(&mem, 0xd0000000, 5, &fz_ops, NULL);
	if (!t)
		abort();
	for (size_t i = 0; i + 8 <= size; i += 8) {
		const uint8_t *op = data + i;
		uint32_t off = (uint32_t)(op[1] | op[2] << 8) % 0x1100; /* a little past the end */
		uint32_t v;
		memcpy(&v, op + 4, 4);
		unsigned sz = 1u << (op[3] & 3);
		uint64_t buf = v;
		switch (op[0] % 5) {
		case 0:
		case 1: /* registers are mostly 4-byte aligned: bias towards them */
			virtio_mmio_access(t, op[0] & 0x80 ? off : off & ~3u, &buf,
					   op[0] & 0x40 ? sz : 4, true);
			break;
		case 2:
			virtio_mmio_access(t, off, &buf, sz, false);
			break;
		case 3: /* the driver writes 4 bytes of RAM */
			memcpy(ram +
				   ((uint32_t)(op[1] | op[2] << 8 | op[3] << 16) % (RAM_SIZE - 3)),
			       &v, 4);
			break;
		case 4:
			device_work(t, op[1] % 4);
			break;
		}
	}
	/* The eventfds must still be ours and usable. */
	if (read(virtio_mmio_irqfd(t), &sink, 8) < 0)
		sink = 0;
	virtio_mmio_destroy(t);
	free(ram);
	return 0;
}

/* tests/fuzz/fuzz_driver.h — a hostile virtio driver for the device fuzz targets
 * (fuzz_blk, fuzz_net, fuzz_console, fuzz_rng).
 *
 * The device under test runs unchanged behind the real virtio-mmio transport; its workers
 * are created in inline mode (util/worker.h: no threads), so the target's thread runs
 * every callback and a run is deterministic. Guest RAM is one malloc'd buffer at gpa 0
 * (FZ_RAM_SIZE: big enough for an indirect table of 1024 descriptors, the chain limit,
 * and for every queue's rings at fixed places). The input is a script:
 *
 *   byte 0..7   the driver's feature mask (ANDed with what the device offers)
 *   byte 8      bits 0..6: log2 of each queue's size (mod max_size_log2 + 1; capped by
 *               QueueNumMax); bit 7 is the target's (a second device flavour)
 *   then records, the first byte selecting:
 *     FZ_OP_RAM     u24 gpa, u8 len, len bytes       — the driver writes RAM
 *     FZ_OP_DESC    u8 q, u16 i, u32 addr, u32 len, u16 flags, u16 next — a descriptor
 *     FZ_OP_POST    u8 q, u16 head                   — avail ring entry, idx++, kick
 *     FZ_OP_IDX     u8 q, u16 idx                    — avail idx set as given, kick
 *     FZ_OP_REG     u16 offset, u8 size, u32 value   — any register write
 *     FZ_OP_READ    u16 offset, u8 size              — any register read
 *     FZ_OP_SETUP   (none)                           — reset and bring the device up again
 *     FZ_OP_PAUSE   (none)                           — virtio_mmio_pause + resume
 *     FZ_OP_DEVICE  u8 len, len bytes                — the target's own event (a frame
 *                                                      from the backend, console input)
 *     FZ_OP_RUN     (none)                           — run the workers once more
 * A record cut short by the end of the input is ignored. After every record the workers
 * run until idle and the used rings are checked: the device never hands back more chains
 * than it took (last_avail - used_idx within the queue size), and every used element it
 * published names a head inside the queue.
 */
#ifndef ARCVMM_TESTS_FUZZ_FUZZ_DRIVER_H
#define ARCVMM_TESTS_FUZZ_FUZZ_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "virtio/mmio.h"

#define FZ_RAM_SIZE   (2u << 20)
#define FZ_MAX_QUEUES 4
/* Queue q's rings: desc at FZ_RING_BASE(q), avail 16 KiB on, used 20 KiB on. */
#define FZ_RING_BASE(q) ((uint64_t)(q)*0x8000u)
#define FZ_AVAIL_OFF	0x4000u
#define FZ_USED_OFF	0x5000u
/* Data buffers the seeds use start here. */
#define FZ_DATA_BASE 0x20000u

enum {
	FZ_OP_RAM,
	FZ_OP_DESC,
	FZ_OP_POST,
	FZ_OP_IDX,
	FZ_OP_REG,
	FZ_OP_READ,
	FZ_OP_SETUP,
	FZ_OP_PAUSE,
	FZ_OP_DEVICE,
	FZ_OP_RUN,
	FZ_NR_OPS
};

struct fz_driver {
	struct virtio_device_ops ops; /* the device's, without destroy */
	void *dev;
	struct guest_mem mem;
	uint8_t *ram;
	struct virtio_mmio *t;
	unsigned nr_queues; /* queues the driver sets up (<= FZ_MAX_QUEUES) */
	uint64_t features;  /* the input's mask */
	uint8_t size_log2;
	/* Largest queue the driver sets up, log2 (fz_driver_init: 10). A target lowers it
	 * where a big queue only costs time (the chain limit is reachable through indirect
	 * tables whatever the queue size). */
	uint8_t max_size_log2;
	uint16_t size[FZ_MAX_QUEUES];
	uint16_t avail_idx[FZ_MAX_QUEUES]; /* the driver's copy */
	uint16_t seen_used[FZ_MAX_QUEUES];
	/* The target's hook for FZ_OP_DEVICE (may be NULL). */
	void (*device_event)(void *ctx, const uint8_t *data, size_t len);
	void *ctx;
};

/* Once per process: turns inline workers on and allocates RAM; nr_queues of the device's
 * queues get set up by each run. Aborts on failure (a fuzzer cannot go on without it). */
void fz_driver_init(struct fz_driver *d, const struct virtio_device_ops *ops, void *dev,
		    unsigned nr_queues);
/* Runs one input script (see above) against a fresh transport over the same device and
 * zeroed RAM; destroys the transport at the end (the device is reset, never freed: the
 * target keeps one device for all inputs). */
void fz_driver_run(struct fz_driver *d, const uint8_t *data, size_t size);

#endif

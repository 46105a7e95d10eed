/* virtio/mmio.h — virtio-mmio transport, version 2 (virtio 1.x, no legacy), and the
 * interface a virtio device plugs into.
 *
 * One struct virtio_mmio per device slot (4 KiB of MMIO at base_gpa, one GSI). It owns the
 * registers, the status state machine, feature negotiation, the queues (struct virtq), one
 * notify eventfd per queue (queue kicks: vm.c registers each as a KVM ioeventfd) and one
 * irqfd eventfd (interrupts: vm.c registers it as a KVM irqfd on the GSI). It never
 * includes hv/ headers or <linux/kvm.h>.
 *
 * How vm.c wires a device:
 *	struct virtio_mmio *t = virtio_mmio_create(mem, base_gpa, gsi, &virtio_rng_ops, dev);
 *	hv: irqfd(virtio_mmio_irqfd(t), gsi)
 *	for (q = 0; q < virtio_mmio_nr_queues(t); q++)
 *		hv: ioeventfd(virtio_mmio_notify_fd(t, q), base_gpa + VIRTIO_MMIO_QUEUE_NOTIFY,
 *			      4 bytes, datamatch q)
 *	virtio_mmio_cmdline(t, buf, len) → "virtio_mmio.device=4K@0xd0000000:5" for the kernel
 *	vCPU MMIO exit in [base_gpa, base_gpa + VIRTIO_MMIO_SIZE):
 *		virtio_mmio_access(t, gpa - base_gpa, data, size, is_write)
 *	teardown: virtio_mmio_destroy(t) (stops the device, calls ops->destroy(dev))
 *
 * Threads: virtio_mmio_access() may be called from any vCPU thread (a mutex serialises
 * register access); it never waits on I/O, though a reset or a pause waits for the
 * device's workers to acknowledge. The device's workers call virtio_mmio_signal_used(),
 * virtio_mmio_interrupt(), virtio_mmio_set_needs_reset() and virtio_mmio_config_changed()
 * — these take no lock, so a worker is never stuck behind a vCPU that is stopping it.
 *
 * Trust: every register value the guest writes is checked here; queue geometry is checked
 * by virtq_activate() against guest RAM. The device code and the ops table are trusted.
 */
#ifndef ARCVMM_VIRTIO_MMIO_H
#define ARCVMM_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "virtio/queue.h"

/* Register offsets (virtio 1.x, 4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE		0x000
#define VIRTIO_MMIO_VERSION		0x004
#define VIRTIO_MMIO_DEVICE_ID		0x008
#define VIRTIO_MMIO_VENDOR_ID		0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES	0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES	0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL		0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX	0x034
#define VIRTIO_MMIO_QUEUE_NUM		0x038
#define VIRTIO_MMIO_QUEUE_READY		0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY	0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS	0x060
#define VIRTIO_MMIO_INTERRUPT_ACK	0x064
#define VIRTIO_MMIO_STATUS		0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW	0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH	0x084
#define VIRTIO_MMIO_QUEUE_AVAIL_LOW	0x090
#define VIRTIO_MMIO_QUEUE_AVAIL_HIGH	0x094
#define VIRTIO_MMIO_QUEUE_USED_LOW	0x0a0
#define VIRTIO_MMIO_QUEUE_USED_HIGH	0x0a4
#define VIRTIO_MMIO_SHM_SEL		0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW		0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH	0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW	0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH	0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION	0x0fc
#define VIRTIO_MMIO_CONFIG		0x100
#define VIRTIO_MMIO_SIZE		0x1000

#define VIRTIO_MMIO_MAGIC  0x74726976 /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x4d564341 /* "ACVM", little-endian */

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	 1
#define VIRTIO_STATUS_DRIVER		 2
#define VIRTIO_STATUS_DRIVER_OK		 4
#define VIRTIO_STATUS_FEATURES_OK	 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED		 128

/* InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING  1
#define VIRTIO_MMIO_INT_CONFIG 2

/* Transport/ring feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32
#define VIRTIO_BIT(b)	       (1ULL << (b))
/* The ring features a device can allow by returning them from ops->features(). */
#define VIRTIO_RING_FEATURES (VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX))

/* Device IDs (5). */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4

#define VIRTIO_MMIO_MAX_QUEUES 16

struct virtio_mmio;

/* A virtio device type. `dev` is the device's own state, passed to every hook. All hooks
 * except the worker-facing ones run on the thread that calls virtio_mmio_access() (a vCPU)
 * or the one calling virtio_mmio_destroy/pause/resume, with the transport lock held. */
struct virtio_device_ops {
	const char *name;   /* "virtio-rng", for logs */
	uint32_t device_id; /* VIRTIO_ID_* */
	unsigned nr_queues; /* 1 .. VIRTIO_MMIO_MAX_QUEUES: the most this type has */
	/* Optional: how many queues this instance has (1 .. nr_queues), e.g. a disk's
	 * num_queues. Called once, at virtio_mmio_create(). */
	unsigned (*queue_count)(void *dev);
	uint16_t max_queue_size; /* QueueNumMax: a power of two <= VIRTQ_MAX_SIZE */
	/* Device feature bits offered, plus any of VIRTIO_RING_FEATURES the device supports.
	 * The transport adds VIRTIO_F_VERSION_1. Called once, at virtio_mmio_create(). */
	uint64_t (*features)(void *dev);
	/* Config space, offset relative to 0x100. size is 1, 2 or 4. Reads outside the
	 * device's config must fill zeros; writes there must be ignored. May be NULL. */
	void (*config_read)(void *dev, uint32_t offset, void *data, unsigned size);
	void (*config_write)(void *dev, uint32_t offset, const void *data, unsigned size);
	/* DRIVER_OK was set: the queues are configured (virtio_mmio_queue(t, i)->is_ready for
	 * those the driver set up) and features negotiated (virtio_mmio_driver_features()).
	 * Start the workers. Returns 0 or -errno (the transport then sets NEEDS_RESET). */
	int (*activate)(void *dev, struct virtio_mmio *t);
	/* Device reset (status 0 written, or destroy) after a successful activate: stop and
	 * join the workers. The transport forgets the queue state after this returns. */
	void (*reset)(void *dev);
	/* Optional: pause/resume the workers (worker_pause/worker_resume on each). Called only
	 * between activate and reset. Return 0 or -errno. */
	int (*pause)(void *dev);
	int (*resume)(void *dev);
	/* Optional snapshot hooks (device-private state only; the transport saves its own).
	 * save returns the bytes written to buf (<= cap) or -errno; restore returns 0/-errno. */
	long (*save)(void *dev, void *buf, size_t cap);
	int (*restore)(void *dev, const void *buf, size_t len);
	/* Optional: frees dev; called by virtio_mmio_destroy() last. */
	void (*destroy)(void *dev);
};

/* --- vm.c side --- */

/* Creates the transport for one device at base_gpa (4 KiB slot) raising gsi. Creates the
 * notify eventfds and the irqfd (all EFD_NONBLOCK|EFD_CLOEXEC). mem must outlive t.
 * Returns NULL with errno set (EINVAL for a bad ops table). */
struct virtio_mmio *virtio_mmio_create(const struct guest_mem *mem, uint64_t base_gpa, uint32_t gsi,
				       const struct virtio_device_ops *ops, void *dev);
/* Resets the device (stopping its workers), closes the eventfds, calls ops->destroy(dev),
 * frees t. NULL is fine. */
void virtio_mmio_destroy(struct virtio_mmio *t);

/* A guest access at offset (from base_gpa) of size 1, 2, 4 or 8 bytes; data is the
 * little-endian bytes (KVM's mmio.data). Reads fill data. Bad offsets/sizes read as 0 and
 * are ignored on write. A write to QueueNotify signals that queue's notify eventfd (the
 * path when no ioeventfd is registered). */
void virtio_mmio_access(struct virtio_mmio *t, uint64_t offset, void *data, unsigned size,
			bool is_write);

int virtio_mmio_irqfd(const struct virtio_mmio *t);
/* The eventfd the guest's kicks of queue q arrive on, or -1 if q is out of range. */
int virtio_mmio_notify_fd(const struct virtio_mmio *t, unsigned q);
unsigned virtio_mmio_nr_queues(const struct virtio_mmio *t);
uint64_t virtio_mmio_base(const struct virtio_mmio *t);
uint32_t virtio_mmio_gsi(const struct virtio_mmio *t);
/* Writes "virtio_mmio.device=4K@0x<base>:<gsi>" (NUL-terminated) into buf. Returns the
 * length without the NUL, or -ENOSPC if it does not fit. */
int virtio_mmio_cmdline(const struct virtio_mmio *t, char *buf, size_t len);

/* Pause/resume the device's workers (no-ops returning 0 if the device is not active or
 * has no pause hook). Returns 0 or -errno. */
int virtio_mmio_pause(struct virtio_mmio *t);
int virtio_mmio_resume(struct virtio_mmio *t);

/* Snapshot of the transport: registers and each queue's geometry and ring positions.
 * Fixed layout, host-endian; the caller frames and versions it in the snapshot file.
 * Device-private state goes through ops->save/restore separately. */
#define VIRTIO_MMIO_STATE_MAGIC 0x564d4d49 /* "IMMV" */
struct virtio_mmio_queue_state {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t size;
	uint16_t last_avail, used_idx, signalled_used;
	uint8_t is_ready, is_signalled_valid, is_notify_disabled, pad;
};
struct virtio_mmio_state {
	uint32_t magic;
	uint32_t device_id;
	uint32_t nr_queues;
	uint32_t status;
	uint64_t driver_features;
	uint32_t device_features_sel, driver_features_sel, queue_sel, shm_sel;
	uint32_t interrupt_status, config_generation;
	struct virtio_mmio_queue_state queues[VIRTIO_MMIO_MAX_QUEUES];
};
/* Fills *s. The device must be paused (virtio_mmio_pause) or not active. Returns 0, or
 * -EBUSY if a queue still has chains in flight (the device did not finish them). */
int virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *s);
/* Loads *s into a freshly created (or reset) transport before the guest runs again. The
 * state is checked like guest input (a snapshot file is not trusted): the status must be
 * one the state machine can reach, the features a subset of the offered ones, and every
 * ready queue passes virtq_activate() again. If DRIVER_OK is set the device is activated
 * (its workers start; pause them before the vCPUs run if the VM is to stay paused).
 * Returns 0 or -EINVAL (the transport is then reset). */
int virtio_mmio_restore(struct virtio_mmio *t, const struct virtio_mmio_state *s);
/* The device's own state through ops->save / ops->restore: save returns the bytes written
 * (<= cap; 0 for a device without the hook) or -errno; restore goes into the device before
 * virtio_mmio_restore() activates it (a device without the hook takes only len 0). */
long virtio_mmio_save_device(struct virtio_mmio *t, void *buf, size_t cap);
int virtio_mmio_restore_device(struct virtio_mmio *t, const void *buf, size_t len);
/* The device type's name and id ("virtio-blk"), for messages and checks. */
const char *virtio_mmio_device_name(const struct virtio_mmio *t);
uint32_t virtio_mmio_device_id(const struct virtio_mmio *t);

/* --- device side --- */

/* Queue q (NULL if q >= nr_queues). The device's workers own ready queues between
 * activate and reset. */
struct virtq *virtio_mmio_queue(struct virtio_mmio *t, unsigned q);
/* Features the driver accepted (valid from FEATURES_OK on). */
uint64_t virtio_mmio_driver_features(const struct virtio_mmio *t);
const struct guest_mem *virtio_mmio_mem(const struct virtio_mmio *t);

/* virtq_pop() on queue q that also sets DEVICE_NEEDS_RESET when the driver broke the ring
 * (-EIO). Same return values as virtq_pop(). Worker thread. */
int virtio_mmio_pop(struct virtio_mmio *t, unsigned q, struct virtq_chain *c);
/* After pushing used entries on queue q: if virtq_should_notify() says so, raise the
 * used-buffer interrupt. Returns true if an interrupt was raised. Worker thread. */
bool virtio_mmio_signal_used(struct virtio_mmio *t, unsigned q);
/* Sets InterruptStatus bits (VIRTIO_MMIO_INT_*), then writes the irqfd. Any thread. */
void virtio_mmio_interrupt(struct virtio_mmio *t, uint32_t bits);
/* The device's config space changed: bump ConfigGeneration, raise the config interrupt. */
void virtio_mmio_config_changed(struct virtio_mmio *t);
/* The driver broke the device (e.g. virtq_pop returned -EIO): set DEVICE_NEEDS_RESET and
 * raise the config interrupt. Any thread. */
void virtio_mmio_set_needs_reset(struct virtio_mmio *t);

/* Current status register value (for tests and the control thread). */
uint32_t virtio_mmio_status(const struct virtio_mmio *t);

#endif

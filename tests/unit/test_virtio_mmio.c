/* tests/unit/test_virtio_mmio.c — the virtio-mmio transport: registers, the status state
 * machine, feature negotiation, queue setup checks, interrupts, config generation, reset;
 * then a simulated driver talking to virtio-rng through the notify eventfd and the irqfd.
 *
 * Guest RAM is a malloc'ed buffer. No KVM. Waits are on eventfds with poll(); the long
 * timeout there only turns a hang into a failure, it is not a timing assert.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio_rng.h"
#include "mem/guest_mem.h"
#include "tests/unit/test.h"
#include "util/log.h"
#include "virtio/mmio.h"

#define RAM_SIZE  (1u << 20)
#define DESC_GPA  0x1000
#define AVAIL_GPA 0x3000
#define USED_GPA  0x4000
#define DATA_GPA  0x10000
#define BASE_GPA  0xd0000000ULL

static const uint32_t S_ACK = VIRTIO_STATUS_ACKNOWLEDGE;
static const uint32_t S_DRV = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
static const uint32_t S_FOK =
    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
static const uint32_t S_DOK = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;

/* --- a fake device: 2 queues, feature bit 0, 8 bytes of config --- */

struct fake {
	int nr_activate, nr_reset, nr_destroy;
	int activate_result;
	uint8_t config[8];
	bool queue0_ready_at_activate;
};

static uint64_t fake_features(void *dev)
{
	/* Bit 0 is device-specific; bit 40 is a transport bit the transport must not offer. */
	return VIRTIO_BIT(0) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(40);
}

static void fake_config_read(void *dev, uint32_t off, void *data, unsigned size)
{
	struct fake *f = dev;

	if (off < sizeof(f->config) && size <= sizeof(f->config) - off)
		memcpy(data, f->config + off, size);
}

static void fake_config_write(void *dev, uint32_t off, const void *data, unsigned size)
{
	struct fake *f = dev;

	if (off < sizeof(f->config) && size <= sizeof(f->config) - off)
		memcpy(f->config + off, data, size);
}

static int fake_activate(void *dev, struct virtio_mmio *t)
{
	struct fake *f = dev;

	f->nr_activate++;
	f->queue0_ready_at_activate = virtio_mmio_queue(t, 0)->is_ready;
	return f->activate_result;
}

static void fake_reset(void *dev)
{
	struct fake *f = dev;

	f->nr_reset++;
}

static void fake_destroy(void *dev)
{
	struct fake *f = dev;

	f->nr_destroy++;
}

static const struct virtio_device_ops fake_ops = {
    .name = "fake",
    .device_id = 42,
    .nr_queues = 2,
    .max_queue_size = 64,
    .features = fake_features,
    .config_read = fake_config_read,
    .config_write = fake_config_write,
    .activate = fake_activate,
    .reset = fake_reset,
    .destroy = fake_destroy,
};

/* --- helpers --- */

static uint8_t *ram;
static struct guest_mem mem;

static void wr(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	virtio_mmio_access(t, off, &v, 4, true);
}

static uint32_t rd(struct virtio_mmio *t, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	virtio_mmio_access(t, off, &v, 4, false);
	return v;
}

static void set_features(struct virtio_mmio *t, uint64_t f)
{
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

static uint64_t device_features(struct virtio_mmio *t)
{
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t hi = rd(t, VIRTIO_MMIO_DEVICE_FEATURES);
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return hi << 32 | rd(t, VIRTIO_MMIO_DEVICE_FEATURES);
}

/* Brings the device to FEATURES_OK with the given features. Returns the status. */
static uint32_t negotiate(struct virtio_mmio *t, uint64_t f)
{
	wr(t, VIRTIO_MMIO_STATUS, 0);
	wr(t, VIRTIO_MMIO_STATUS, S_ACK);
	wr(t, VIRTIO_MMIO_STATUS, S_DRV);
	set_features(t, f);
	wr(t, VIRTIO_MMIO_STATUS, S_FOK);
	return rd(t, VIRTIO_MMIO_STATUS);
}

static void setup_queue(struct virtio_mmio *t, unsigned q, uint32_t size, uint64_t desc,
			uint64_t avail, uint64_t used)
{
	wr(t, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(t, VIRTIO_MMIO_QUEUE_NUM, size);
	wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(t, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	wr(t, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	wr(t, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	wr(t, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
}

static struct virtio_mmio *fake_create(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	return virtio_mmio_create(&mem, BASE_GPA, 5, &fake_ops, f);
}

/* Waits until fd (an eventfd) is readable and returns its counter; 0 on timeout. */
static uint64_t wait_eventfd(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t v = 0;

	if (poll(&p, 1, 20000) != 1)
		return 0;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static uint64_t eventfd_peek(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* --- tests --- */

TEST(identity_registers)
{
	struct fake f;
	struct virtio_mmio *t = fake_create(&f);
	char buf[64];

	CHECK(t != NULL);
	CHECK_EQ(rd(t, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(rd(t, VIRTIO_MMIO_VERSION), 2);
	CHECK_EQ(rd(t, VIRTIO_MMIO_DEVICE_ID), 42);
	CHECK_EQ(rd(t, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(rd(t, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	/* VERSION_1 added, the unimplemented transport bit 40 dropped. */
	CHECK_EQ(device_features(t),
		 VIRTIO_BIT(0) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	wr(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 7);
	CHECK_EQ(rd(t, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	CHECK_EQ(virtio_mmio_cmdline(t, buf, sizeof(buf)), 34);
	CHECK(strcmp(buf, "virtio_mmio.device=4K@0xd0000000:5") == 0);
	CHECK_EQ(virtio_mmio_cmdline(t, buf, 10), -ENOSPC);
	CHECK(virtio_mmio_notify_fd(t, 0) >= 0);
	CHECK(virtio_mmio_notify_fd(t, 1) >= 0);
	CHECK_EQ(virtio_mmio_notify_fd(t, 2), -1);
	CHECK(virtio_mmio_irqfd(t) >= 0);
	CHECK_EQ(virtio_mmio_nr_queues(t), 2);
	/* Odd sizes and offsets read as zero. */
	uint8_t b = 0xff;
	virtio_mmio_access(t, VIRTIO_MMIO_MAGIC_VALUE, &b, 1, false);
	CHECK_EQ(b, 0);
	uint32_t v = 0xffffffff;
	virtio_mmio_access(t, 0x2, &v, 4, false);
	CHECK_EQ(v, 0);
	virtio_mmio_access(t, VIRTIO_MMIO_SIZE, &v, 4, false);
	CHECK_EQ(v, 0);
	virtio_mmio_access(t, VIRTIO_MMIO_SIZE - 2, &v, 4, false); /* straddles the end */
	virtio_mmio_access(t, 0, &v, 3, false);			   /* bad size: untouched */
	virtio_mmio_destroy(t);
	CHECK_EQ(f.nr_destroy, 1);
}

TEST(bad_ops_refused)
{
	struct virtio_device_ops ops = fake_ops;
	struct fake f;

	ops.max_queue_size = 48;
	CHECK(virtio_mmio_create(&mem, BASE_GPA, 5, &ops, &f) == NULL);
	ops = fake_ops;
	ops.nr_queues = 0;
	CHECK(virtio_mmio_create(&mem, BASE_GPA, 5, &ops, &f) == NULL);
	ops = fake_ops;
	CHECK(virtio_mmio_create(&mem, BASE_GPA + 8, 5, &ops, &f) == NULL);
}

TEST(status_machine)
{
	struct fake f;
	struct virtio_mmio *t = fake_create(&f);
	const uint64_t v1 = VIRTIO_BIT(VIRTIO_F_VERSION_1);

	/* Skipping steps is refused; the register keeps its value. */
	wr(t, VIRTIO_MMIO_STATUS, S_DRV);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), 0);
	wr(t, VIRTIO_MMIO_STATUS, S_DOK);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), 0);
	wr(t, VIRTIO_MMIO_STATUS, S_ACK);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_ACK);
	wr(t, VIRTIO_MMIO_STATUS, S_ACK | VIRTIO_STATUS_FEATURES_OK);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_ACK);
	wr(t, VIRTIO_MMIO_STATUS, S_DRV);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_DRV);
	wr(t, VIRTIO_MMIO_STATUS, S_DRV | VIRTIO_STATUS_DRIVER_OK); /* no FEATURES_OK yet */
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_DRV);
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_DRIVER); /* dropping a bit */
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_DRV);
	wr(t, VIRTIO_MMIO_STATUS, S_DRV | 0x10); /* unknown bit */
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_DRV);
	set_features(t, v1);
	wr(t, VIRTIO_MMIO_STATUS, S_FOK);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_FOK);
	/* Features are frozen after FEATURES_OK. */
	set_features(t, v1 | VIRTIO_BIT(0));
	CHECK_EQ(virtio_mmio_driver_features(t), v1);
	CHECK_EQ(f.nr_activate, 0);
	wr(t, VIRTIO_MMIO_STATUS, S_DOK);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_DOK);
	CHECK_EQ(f.nr_activate, 1);
	/* Writing the same value again is harmless; re-activation does not happen. */
	wr(t, VIRTIO_MMIO_STATUS, S_DOK);
	CHECK_EQ(f.nr_activate, 1);
	/* FAILED may be added at any time. */
	wr(t, VIRTIO_MMIO_STATUS, S_DOK | VIRTIO_STATUS_FAILED);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_DOK | VIRTIO_STATUS_FAILED);
	/* Reset: the device is stopped, everything forgotten. */
	wr(t, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(f.nr_reset, 1);
	CHECK_EQ(virtio_mmio_driver_features(t), 0);
	/* FAILED straight from ACK. */
	wr(t, VIRTIO_MMIO_STATUS, S_ACK);
	wr(t, VIRTIO_MMIO_STATUS, S_ACK | VIRTIO_STATUS_FAILED);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_ACK | VIRTIO_STATUS_FAILED);
	wr(t, VIRTIO_MMIO_STATUS, S_DRV | VIRTIO_STATUS_FAILED); /* nothing after FAILED */
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_ACK | VIRTIO_STATUS_FAILED);
	wr(t, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(f.nr_reset, 1); /* never activated: no device reset owed */
	virtio_mmio_destroy(t);
}

TEST(feature_negotiation)
{
	struct fake f;
	struct virtio_mmio *t = fake_create(&f);
	const uint64_t v1 = VIRTIO_BIT(VIRTIO_F_VERSION_1);

	CHECK_EQ(negotiate(t, 0), S_DRV);		    /* no VERSION_1 */
	CHECK_EQ(negotiate(t, VIRTIO_BIT(0)), S_DRV);	    /* still no VERSION_1 */
	CHECK_EQ(negotiate(t, v1 | VIRTIO_BIT(1)), S_DRV);  /* bit 1 not offered */
	CHECK_EQ(negotiate(t, v1 | VIRTIO_BIT(40)), S_DRV); /* transport bit not offered */
	CHECK_EQ(negotiate(t, v1 | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)), S_DRV); /* not allowed */
	/* Bits in selector page 2 (features 64..95) are unknown. */
	wr(t, VIRTIO_MMIO_STATUS, 0);
	wr(t, VIRTIO_MMIO_STATUS, S_ACK);
	wr(t, VIRTIO_MMIO_STATUS, S_DRV);
	set_features(t, v1);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(t, VIRTIO_MMIO_STATUS, S_FOK);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_DRV);
	/* Good sets. */
	CHECK_EQ(negotiate(t, v1), S_FOK);
	CHECK_EQ(negotiate(t, v1 | VIRTIO_BIT(0) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX)), S_FOK);
	CHECK_EQ(virtio_mmio_driver_features(t),
		 v1 | VIRTIO_BIT(0) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
	/* Driver features written before DRIVER is set are ignored. */
	wr(t, VIRTIO_MMIO_STATUS, 0);
	wr(t, VIRTIO_MMIO_STATUS, S_ACK);
	set_features(t, v1);
	wr(t, VIRTIO_MMIO_STATUS, S_DRV);
	wr(t, VIRTIO_MMIO_STATUS, S_FOK);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_DRV);
	virtio_mmio_destroy(t);
}

TEST(queue_setup)
{
	struct fake f;
	struct virtio_mmio *t = fake_create(&f);
	const uint64_t v1 = VIRTIO_BIT(VIRTIO_F_VERSION_1);

	/* Before FEATURES_OK the queue registers are inert. */
	wr(t, VIRTIO_MMIO_STATUS, S_ACK);
	setup_queue(t, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK_EQ(negotiate(t, v1 | VIRTIO_BIT(VIRTIO_F_EVENT_IDX)), S_FOK);

	/* Bad selectors: reads give 0, writes do nothing. */
	wr(t, VIRTIO_MMIO_QUEUE_SEL, 2);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	setup_queue(t, 2, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(t, 0xffffffff, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);

	/* Geometry refused: not a power of two, above the max, misaligned, outside RAM. */
	setup_queue(t, 0, 24, DESC_GPA, AVAIL_GPA, USED_GPA);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(t, 0, 128, DESC_GPA, AVAIL_GPA, USED_GPA);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(t, 0, 0x10010, DESC_GPA, AVAIL_GPA, USED_GPA); /* 16 in the low bits */
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(t, 0, 16, DESC_GPA + 8, AVAIL_GPA, USED_GPA);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(t, 0, 16, DESC_GPA, AVAIL_GPA + 1, USED_GPA);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(t, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA + 2);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(t, 0, 16, RAM_SIZE - 128, AVAIL_GPA, USED_GPA);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(t, 0, 16, DESC_GPA, AVAIL_GPA, 0x100000000ULL + USED_GPA); /* high half */
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	setup_queue(t, 0, 16, BASE_GPA, AVAIL_GPA, USED_GPA); /* MMIO, not RAM */
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);

	/* A good one. */
	setup_queue(t, 0, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 1);
	struct virtq *q = virtio_mmio_queue(t, 0);
	CHECK_EQ(q->size, 16);
	CHECK_EQ(q->used_gpa, USED_GPA);
	CHECK(q->has_event_idx);
	CHECK(!q->has_indirect);
	/* A ready queue's geometry cannot change. */
	wr(t, VIRTIO_MMIO_QUEUE_NUM, 32);
	wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x8000);
	CHECK_EQ(q->size, 16);
	CHECK_EQ(q->desc_gpa, DESC_GPA);
	/* Queue 1 untouched. */
	wr(t, VIRTIO_MMIO_QUEUE_SEL, 1);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);

	wr(t, VIRTIO_MMIO_STATUS, S_DOK);
	CHECK_EQ(f.nr_activate, 1);
	CHECK(f.queue0_ready_at_activate);
	/* After DRIVER_OK queue setup is refused. */
	setup_queue(t, 1, 16, 0x8000, 0x9000, 0xa000);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);

	/* Reset forgets all queue state. */
	wr(t, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(f.nr_reset, 1);
	CHECK(!q->is_ready);
	CHECK_EQ(q->size, 0);
	CHECK_EQ(q->desc_gpa, 0);
	CHECK_EQ(q->used_gpa, 0);
	wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	/* A fresh negotiation can set it up again, with only the address written now
	 * (the rest must not have survived: size 0 is refused). */
	CHECK_EQ(negotiate(t, v1), S_FOK);
	wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC_GPA);
	wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(rd(t, VIRTIO_MMIO_QUEUE_READY), 0);
	virtio_mmio_destroy(t);
}

TEST(activate_failure_needs_reset)
{
	struct fake f;
	struct virtio_mmio *t = fake_create(&f);

	f.activate_result = -ENOMEM;
	CHECK_EQ(negotiate(t, VIRTIO_BIT(VIRTIO_F_VERSION_1)), S_FOK);
	wr(t, VIRTIO_MMIO_STATUS, S_DOK);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_DOK | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK(rd(t, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	wr(t, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(f.nr_reset, 0); /* activate failed: nothing to stop */
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), 0);
	virtio_mmio_destroy(t);
}

TEST(interrupts_and_ack)
{
	struct fake f;
	struct virtio_mmio *t = fake_create(&f);
	int irqfd = virtio_mmio_irqfd(t);

	CHECK_EQ(rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	CHECK_EQ(eventfd_peek(irqfd), 0);
	virtio_mmio_interrupt(t, VIRTIO_MMIO_INT_VRING);
	CHECK_EQ(eventfd_peek(irqfd), 1);
	CHECK_EQ(rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	virtio_mmio_interrupt(t, VIRTIO_MMIO_INT_CONFIG);
	CHECK_EQ(rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 3);
	wr(t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	CHECK_EQ(rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	wr(t, VIRTIO_MMIO_INTERRUPT_ACK, 0xffffffff);
	CHECK_EQ(rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* InterruptStatus is read-only. */
	wr(t, VIRTIO_MMIO_INTERRUPT_STATUS, 3);
	CHECK_EQ(rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* Reset clears pending status. */
	virtio_mmio_interrupt(t, VIRTIO_MMIO_INT_VRING);
	wr(t, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	virtio_mmio_destroy(t);
}

TEST(config_space_and_generation)
{
	struct fake f;
	struct virtio_mmio *t = fake_create(&f);
	int irqfd = virtio_mmio_irqfd(t);
	uint16_t h;
	uint64_t q;

	memcpy(f.config, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	CHECK_EQ(rd(t, VIRTIO_MMIO_CONFIG), 0x44332211);
	virtio_mmio_access(t, VIRTIO_MMIO_CONFIG + 2, &h, 2, false);
	CHECK_EQ(h, 0x4433);
	virtio_mmio_access(t, VIRTIO_MMIO_CONFIG, &q, 8, false);
	CHECK(q == 0x8877665544332211ULL);
	CHECK_EQ(rd(t, VIRTIO_MMIO_CONFIG + 8), 0); /* past the device's config */
	h = 0xbeef;
	virtio_mmio_access(t, VIRTIO_MMIO_CONFIG + 6, &h, 2, true);
	CHECK_EQ(f.config[6], 0xef);
	CHECK_EQ(f.config[7], 0xbe);

	uint32_t gen = rd(t, VIRTIO_MMIO_CONFIG_GENERATION);
	virtio_mmio_config_changed(t); /* before DRIVER_OK: no interrupt */
	CHECK_EQ(rd(t, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
	CHECK_EQ(eventfd_peek(irqfd), 0);
	negotiate(t, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	wr(t, VIRTIO_MMIO_STATUS, S_DOK);
	virtio_mmio_config_changed(t);
	CHECK_EQ(rd(t, VIRTIO_MMIO_CONFIG_GENERATION), gen + 2);
	CHECK_EQ(eventfd_peek(irqfd), 1);
	CHECK_EQ(rd(t, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	virtio_mmio_destroy(t);
}

TEST(needs_reset_bit)
{
	struct fake f;
	struct virtio_mmio *t = fake_create(&f);
	int irqfd = virtio_mmio_irqfd(t);

	negotiate(t, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	wr(t, VIRTIO_MMIO_STATUS, S_DOK);
	virtio_mmio_set_needs_reset(t);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_DOK | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK_EQ(eventfd_peek(irqfd), 1);
	virtio_mmio_set_needs_reset(t); /* once is enough */
	CHECK_EQ(eventfd_peek(irqfd), 0);
	/* The driver cannot clear it by writing status back without it. */
	wr(t, VIRTIO_MMIO_STATUS, S_DOK);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_DOK | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	wr(t, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), 0);
	virtio_mmio_destroy(t);
}

TEST(notify_by_mmio_write)
{
	struct fake f;
	struct virtio_mmio *t = fake_create(&f);

	wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 2); /* no such queue */
	CHECK_EQ(eventfd_peek(virtio_mmio_notify_fd(t, 0)), 0);
	CHECK_EQ(eventfd_peek(virtio_mmio_notify_fd(t, 1)), 2);
	/* Reset drops stale kicks. */
	wr(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	wr(t, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(eventfd_peek(virtio_mmio_notify_fd(t, 0)), 0);
	virtio_mmio_destroy(t);
}

/* --- a simulated driver against virtio-rng --- */

struct rng_driver {
	struct virtio_mmio *t;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t avail_idx;
};

static void rng_driver_start(struct rng_driver *d, uint64_t features)
{
	memset(ram, 0, RAM_SIZE);
	d->t = virtio_mmio_create(&mem, BASE_GPA, 5, &virtio_rng_ops, virtio_rng_create());
	CHECK(d->t != NULL);
	CHECK_EQ(rd(d->t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	CHECK_EQ(negotiate(d->t, features), S_FOK);
	wr(d->t, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(rd(d->t, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	setup_queue(d->t, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	CHECK_EQ(rd(d->t, VIRTIO_MMIO_QUEUE_READY), 1);
	wr(d->t, VIRTIO_MMIO_STATUS, S_DOK);
	CHECK_EQ(rd(d->t, VIRTIO_MMIO_STATUS), S_DOK);
	d->desc = (struct virtq_desc *)(ram + DESC_GPA);
	d->avail = (struct virtq_avail *)(ram + AVAIL_GPA);
	d->used = (struct virtq_used *)(ram + USED_GPA);
	d->avail_idx = 0;
}

static void rng_driver_post(struct rng_driver *d, uint16_t head, uint64_t addr, uint32_t len)
{
	d->desc[head] = (struct virtq_desc){.addr = addr, .len = len, .flags = VIRTQ_DESC_F_WRITE};
	d->avail->ring[d->avail_idx % 8] = head;
	d->avail_idx++;
	__atomic_store_n(&d->avail->idx, d->avail_idx, __ATOMIC_RELEASE);
}

static void kick_queue0(struct rng_driver *d)
{
	uint64_t one = 1;

	CHECK_EQ(write(virtio_mmio_notify_fd(d->t, 0), &one, 8), 8);
}

static bool is_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Waits for interrupts until used->idx reaches want (or a wait times out). */
static bool wait_used(struct rng_driver *d, uint16_t want)
{
	while (__atomic_load_n(&d->used->idx, __ATOMIC_ACQUIRE) != want) {
		if (!wait_eventfd(virtio_mmio_irqfd(d->t)))
			return false;
		uint32_t isr = rd(d->t, VIRTIO_MMIO_INTERRUPT_STATUS);
		wr(d->t, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	}
	return true;
}

TEST(rng_driver_simulation)
{
	struct rng_driver d;

	rng_driver_start(&d, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	for (uint16_t i = 0; i < 4; i++)
		rng_driver_post(&d, i, DATA_GPA + i * 0x100, 64);
	kick_queue0(&d);
	CHECK(wait_eventfd(virtio_mmio_irqfd(d.t)) >= 1);
	CHECK(rd(d.t, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);
	wr(d.t, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	CHECK(wait_used(&d, 4));
	for (uint16_t i = 0; i < 4; i++) {
		CHECK_EQ(d.used->ring[i].id, i);
		CHECK_EQ(d.used->ring[i].len, 64);
		CHECK(!is_all_zero(ram + DATA_GPA + i * 0x100, 64));
	}
	CHECK(is_all_zero(ram + DATA_GPA + 3 * 0x100 + 64, 0x100 - 64)); /* no overrun */

	/* Kicks through the MMIO register (no ioeventfd) work too. */
	rng_driver_post(&d, 4, DATA_GPA + 0x1000, 32);
	wr(d.t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	CHECK(wait_used(&d, 5));
	CHECK_EQ(d.used->ring[4].len, 32);

	/* Paused: nothing is written to guest memory until resume. */
	CHECK_EQ(virtio_mmio_pause(d.t), 0);
	rng_driver_post(&d, 5, DATA_GPA + 0x2000, 16);
	kick_queue0(&d);
	CHECK_EQ(__atomic_load_n(&d.used->idx, __ATOMIC_ACQUIRE), 5);
	CHECK(is_all_zero(ram + DATA_GPA + 0x2000, 16));
	CHECK_EQ(virtio_mmio_resume(d.t), 0);
	CHECK(wait_used(&d, 6));
	CHECK(!is_all_zero(ram + DATA_GPA + 0x2000, 16));

	/* Snapshot while paused, then restore into a new transport and device over the same
	 * RAM: the ring positions carry on where they were. */
	struct virtio_mmio_state st;
	CHECK_EQ(virtio_mmio_pause(d.t), 0);
	CHECK_EQ(virtio_mmio_save(d.t, &st), 0);
	CHECK_EQ(virtio_mmio_resume(d.t), 0);
	CHECK_EQ(st.status, S_DOK);
	CHECK_EQ(st.queues[0].last_avail, 6);
	CHECK_EQ(st.queues[0].used_idx, 6);
	struct virtio_mmio *t2 =
	    virtio_mmio_create(&mem, BASE_GPA, 5, &virtio_rng_ops, virtio_rng_create());
	CHECK_EQ(virtio_mmio_restore(t2, &st), 0);
	CHECK_EQ(rd(t2, VIRTIO_MMIO_STATUS), S_DOK);
	wr(t2, VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(rd(t2, VIRTIO_MMIO_QUEUE_READY), 1);
	virtio_mmio_destroy(d.t);
	d.t = t2;
	rng_driver_post(&d, 6, DATA_GPA + 0x3000, 16);
	kick_queue0(&d);
	CHECK(wait_used(&d, 7));
	CHECK_EQ(d.used->ring[6].id, 6);

	/* Reset stops the worker and forgets the queue; the device can be set up again. */
	wr(d.t, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd(d.t, VIRTIO_MMIO_QUEUE_READY), 0);
	virtio_mmio_destroy(d.t);
}

TEST(rng_event_idx_and_indirect)
{
	struct rng_driver d;
	const uint64_t f = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_RING_FEATURES;

	rng_driver_start(&d, f);
	/* used_event = 1: the driver wants an interrupt only once entry 1 is used. */
	d.avail->ring[8] = 1;
	/* An indirect chain of two writable buffers. */
	struct virtq_desc *table = (struct virtq_desc *)(ram + 0x8000);
	table[0] = (struct virtq_desc){DATA_GPA, 10, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1};
	table[1] = (struct virtq_desc){DATA_GPA + 0x100, 6, VIRTQ_DESC_F_WRITE, 0};
	d.desc[0] = (struct virtq_desc){0x8000, 32, VIRTQ_DESC_F_INDIRECT, 0};
	d.avail->ring[0] = 0;
	d.desc[1] = (struct virtq_desc){DATA_GPA + 0x200, 8, VIRTQ_DESC_F_WRITE, 0};
	d.avail->ring[1] = 1;
	d.avail_idx = 2;
	__atomic_store_n(&d.avail->idx, 2, __ATOMIC_RELEASE);
	kick_queue0(&d);
	CHECK(wait_used(&d, 2));
	CHECK_EQ(d.used->ring[0].len, 16);
	CHECK_EQ(d.used->ring[1].len, 8);
	CHECK(!is_all_zero(ram + DATA_GPA + 0x100, 6));
	/* The device re-armed avail_event at 2 when it found the ring empty. */
	uint16_t *avail_event = (uint16_t *)&d.used->ring[8];
	CHECK_EQ(__atomic_load_n(avail_event, __ATOMIC_ACQUIRE), 2);
	virtio_mmio_destroy(d.t);
}

TEST(rng_broken_ring_needs_reset)
{
	struct rng_driver d;

	rng_driver_start(&d, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	d.avail->ring[0] = 200; /* head >= queue size */
	__atomic_store_n(&d.avail->idx, 1, __ATOMIC_RELEASE);
	kick_queue0(&d);
	CHECK(wait_eventfd(virtio_mmio_irqfd(d.t)) >= 1);
	CHECK(rd(d.t, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	CHECK(rd(d.t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK_EQ(d.used->idx, 0);
	/* Reset and bring it up again: it works. */
	wr(d.t, VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(rd(d.t, VIRTIO_MMIO_STATUS), 0);
	CHECK_EQ(negotiate(d.t, VIRTIO_BIT(VIRTIO_F_VERSION_1)), S_FOK);
	memset(ram, 0, RAM_SIZE);
	setup_queue(d.t, 0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	wr(d.t, VIRTIO_MMIO_STATUS, S_DOK);
	d.avail_idx = 0;
	rng_driver_post(&d, 0, DATA_GPA, 64);
	kick_queue0(&d);
	CHECK(wait_used(&d, 1));
	CHECK_EQ(d.used->ring[0].len, 64);
	virtio_mmio_destroy(d.t);
}

/* A driver that follows Linux's virtio_ring protocol — kick only when avail_event (or
 * used->flags) asks for it, sleep only after re-arming used_event and re-checking — runs
 * many requests against the rng worker. A lost wake-up on either side shows up as a wait
 * that never ends (the poll timeout turns it into a failure). */
static bool need_event(uint16_t event, uint16_t now, uint16_t old)
{
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

static void stress(bool event_idx, unsigned nr_requests)
{
	struct rng_driver d;
	uint64_t f = VIRTIO_BIT(VIRTIO_F_VERSION_1);
	uint16_t free_heads[8], nr_free = 8, last_used = 0;
	unsigned done = 0, kicks = 0, sleeps = 0;
	bool ok = true;

	if (event_idx)
		f |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	rng_driver_start(&d, f);
	uint16_t *used_event = &d.avail->ring[8];
	uint16_t *avail_event = (uint16_t *)&d.used->ring[8];
	for (uint16_t i = 0; i < 8; i++)
		free_heads[i] = i;
	while (done < nr_requests && ok) {
		/* Post what we can. */
		while (nr_free > 0) {
			uint16_t head = free_heads[--nr_free];
			d.desc[head] =
			    (struct virtq_desc){DATA_GPA + head * 64u, 8, VIRTQ_DESC_F_WRITE, 0};
			d.avail->ring[d.avail_idx & 7] = head;
			uint16_t old = d.avail_idx++;
			__atomic_store_n(&d.avail->idx, d.avail_idx, __ATOMIC_RELEASE);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			bool kick = event_idx
					? need_event(__atomic_load_n(avail_event, __ATOMIC_RELAXED),
						     d.avail_idx, old)
					: !(__atomic_load_n(&d.used->flags, __ATOMIC_RELAXED) &
					    VIRTQ_USED_F_NO_NOTIFY);
			if (kick) {
				kick_queue0(&d);
				kicks++;
			}
		}
		/* Reclaim, or sleep until the interrupt. */
		uint16_t used_idx = __atomic_load_n(&d.used->idx, __ATOMIC_ACQUIRE);
		if (used_idx == last_used) {
			if (event_idx)
				__atomic_store_n(used_event, last_used, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (__atomic_load_n(&d.used->idx, __ATOMIC_ACQUIRE) != last_used)
				continue;
			sleeps++;
			if (!wait_eventfd(virtio_mmio_irqfd(d.t))) {
				ok = false;
				break;
			}
			wr(d.t, VIRTIO_MMIO_INTERRUPT_ACK, rd(d.t, VIRTIO_MMIO_INTERRUPT_STATUS));
			continue;
		}
		while (last_used != used_idx) {
			struct virtq_used_elem e = d.used->ring[last_used & 7];
			ok &= e.id < 8 && e.len == 8;
			free_heads[nr_free++] = (uint16_t)e.id;
			last_used++;
			done++;
		}
	}
	CHECK(ok);
	CHECK(done >= nr_requests);
	CHECK(!(rd(d.t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	if (event_idx)
		CHECK(kicks < nr_requests); /* suppression worked at least sometimes */
	printf("     %s: %u requests, %u kicks, %u sleeps\n", event_idx ? "EVENT_IDX" : "flags",
	       done, kicks, sleeps);
	virtio_mmio_destroy(d.t);
}

TEST(rng_stress_no_lost_wakeups)
{
	stress(true, 20000);
	stress(false, 20000);
}

TEST(restore_checks_state)
{
	struct fake f;
	struct virtio_mmio *t = fake_create(&f);
	struct virtio_mmio_state good, bad;

	negotiate(t, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	setup_queue(t, 1, 16, DESC_GPA, AVAIL_GPA, USED_GPA);
	wr(t, VIRTIO_MMIO_STATUS, S_DOK);
	CHECK_EQ(virtio_mmio_save(t, &good), 0);
	CHECK_EQ(good.queues[1].is_ready, 1);

	bad = good;
	bad.magic++;
	CHECK_EQ(virtio_mmio_restore(t, &bad), -EINVAL);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), 0);
	bad = good;
	bad.device_id = VIRTIO_ID_NET;
	CHECK_EQ(virtio_mmio_restore(t, &bad), -EINVAL);
	bad = good;
	bad.status = S_ACK | VIRTIO_STATUS_DRIVER_OK; /* unreachable */
	CHECK_EQ(virtio_mmio_restore(t, &bad), -EINVAL);
	bad = good;
	bad.driver_features |= VIRTIO_BIT(3); /* not offered */
	CHECK_EQ(virtio_mmio_restore(t, &bad), -EINVAL);
	bad = good;
	bad.queues[1].used_gpa = RAM_SIZE - 8; /* ring outside RAM */
	CHECK_EQ(virtio_mmio_restore(t, &bad), -EINVAL);
	bad = good;
	bad.queues[1].size = 256; /* above the device's max */
	CHECK_EQ(virtio_mmio_restore(t, &bad), -EINVAL);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), 0);
	int before = f.nr_activate;
	CHECK_EQ(virtio_mmio_restore(t, &good), 0);
	CHECK_EQ(rd(t, VIRTIO_MMIO_STATUS), S_DOK);
	CHECK_EQ(f.nr_activate, before + 1);
	virtio_mmio_destroy(t);
}

int main(void)
{
	log_threshold = LOG_ERROR;
	ram = aligned_alloc(4096, RAM_SIZE);
	memset(ram, 0, RAM_SIZE);
	guest_mem_init_buffer(&mem, ram, RAM_SIZE);
	RUN(identity_registers);
	RUN(bad_ops_refused);
	RUN(status_machine);
	RUN(feature_negotiation);
	RUN(queue_setup);
	RUN(activate_failure_needs_reset);
	RUN(interrupts_and_ack);
	RUN(config_space_and_generation);
	RUN(needs_reset_bit);
	RUN(notify_by_mmio_write);
	RUN(rng_driver_simulation);
	RUN(rng_event_idx_and_indirect);
	RUN(rng_broken_ring_needs_reset);
	RUN(rng_stress_no_lost_wakeups);
	RUN(restore_checks_state);
	free(ram);
	return test_summary();
}

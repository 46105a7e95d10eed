/* virtio/mmio.c — virtio-mmio version 2 transport. See mmio.h.
 *
 * Trusts: the device ops table and device code, and vm.c's offsets (< VIRTIO_MMIO_SIZE is
 * re-checked anyway). Does not trust any value the guest writes: selectors are range
 * checked, status moves only along the allowed transitions, features must be a subset of
 * what was offered, queue geometry goes through virtq_activate().
 *
 * Locking: `lock` serialises register accesses from vCPU threads and the control thread.
 * Fields that device workers touch (status's NEEDS_RESET bit, InterruptStatus, the config
 * generation) are atomics and never need the lock, so a vCPU holding the lock while it
 * waits for a worker to stop cannot deadlock against that worker.
 */
#include "virtio/mmio.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"

/* Transport feature bits 24..49 are reserved for the transport: offer none of them
 * except the ones implemented here. */
#define TRANSPORT_BITS_MASK (((1ULL << 50) - 1) & ~((1ULL << 24) - 1))
#define TRANSPORT_OFFERED   (VIRTIO_RING_FEATURES | VIRTIO_BIT(VIRTIO_F_VERSION_1))

#define STATUS_DRIVER_BITS                                                              \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | \
	 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED)

struct virtio_mmio {
	const struct guest_mem *mem;
	uint64_t base_gpa;
	uint32_t gsi;
	const struct virtio_device_ops *ops;
	void *dev;
	unsigned nr_queues; /* ops->nr_queues, or fewer if ops->queue_count says so */

	pthread_mutex_t lock;
	uint32_t status; /* atomic: workers may OR in NEEDS_RESET */
	uint64_t device_features;
	uint64_t driver_features;
	bool has_unknown_features; /* the driver wrote bits in a selector page past 1 */
	uint32_t device_features_sel, driver_features_sel;
	uint32_t queue_sel;
	uint32_t shm_sel;
	uint32_t interrupt_status;  /* atomic */
	uint32_t config_generation; /* atomic */
	bool is_active;		    /* ops->activate succeeded; ops->reset owed */

	int irqfd;
	int notify_fds[VIRTIO_MMIO_MAX_QUEUES];
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
};

static uint32_t status_load(const struct virtio_mmio *t)
{
	return __atomic_load_n(&t->status, __ATOMIC_ACQUIRE);
}

struct virtio_mmio *virtio_mmio_create(const struct guest_mem *mem, uint64_t base_gpa, uint32_t gsi,
				       const struct virtio_device_ops *ops, void *dev)
{
	struct virtio_mmio *t;
	unsigned q;
	int err;

	if (!mem || !ops || !ops->features || !ops->activate || !ops->reset ||
	    ops->nr_queues == 0 || ops->nr_queues > VIRTIO_MMIO_MAX_QUEUES ||
	    ops->max_queue_size == 0 || ops->max_queue_size > VIRTQ_MAX_SIZE ||
	    (ops->max_queue_size & (ops->max_queue_size - 1)) || (base_gpa & 0xfff)) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->mem = mem;
	t->base_gpa = base_gpa;
	t->gsi = gsi;
	t->ops = ops;
	t->dev = dev;
	t->nr_queues = ops->nr_queues;
	if (ops->queue_count) {
		unsigned n = ops->queue_count(dev);
		if (n >= 1 && n < t->nr_queues)
			t->nr_queues = n;
	}
	t->device_features = (ops->features(dev) & (~TRANSPORT_BITS_MASK | TRANSPORT_OFFERED)) |
			     VIRTIO_BIT(VIRTIO_F_VERSION_1);
	for (q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		t->notify_fds[q] = -1;
	t->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->irqfd < 0) {
		err = errno;
		goto free_t;
	}
	for (q = 0; q < t->nr_queues; q++) {
		t->notify_fds[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->notify_fds[q] < 0) {
			err = errno;
			goto close_fds;
		}
	}
	pthread_mutex_init(&t->lock, NULL);
	return t;

close_fds:
	while (q-- > 0)
		close(t->notify_fds[q]);
	close(t->irqfd);
free_t:
	free(t);
	errno = err;
	return NULL;
}

/* Stops the device and forgets everything the driver set up. Lock held. */
static void device_reset(struct virtio_mmio *t)
{
	if (t->is_active) {
		t->ops->reset(t->dev); /* joins the workers: nothing touches the queues after */
		t->is_active = false;
	}
	for (unsigned q = 0; q < t->nr_queues; q++) {
		virtq_reset(&t->queues[q]);
		uint64_t v;
		ssize_t r = read(t->notify_fds[q], &v, sizeof(v)); /* drop stale kicks */
		(void)r;
	}
	t->driver_features = 0;
	t->has_unknown_features = false;
	t->device_features_sel = 0;
	t->driver_features_sel = 0;
	t->queue_sel = 0;
	t->shm_sel = 0;
	__atomic_store_n(&t->interrupt_status, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&t->status, 0, __ATOMIC_RELEASE);
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	device_reset(t);
	pthread_mutex_unlock(&t->lock);
	for (unsigned q = 0; q < t->nr_queues; q++)
		close(t->notify_fds[q]);
	close(t->irqfd);
	if (t->ops->destroy)
		t->ops->destroy(t->dev);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static bool features_acceptable(const struct virtio_mmio *t)
{
	if (t->has_unknown_features)
		return false;
	if (t->driver_features & ~t->device_features)
		return false;
	return t->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1);
}

static void driver_ok(struct virtio_mmio *t)
{
	__atomic_fetch_or(&t->status, VIRTIO_STATUS_DRIVER_OK, __ATOMIC_ACQ_REL);
	int err = t->ops->activate(t->dev, t);
	if (err) {
		log_error("%s: cannot start the device: %s", t->ops->name, strerror(-err));
		virtio_mmio_set_needs_reset(t);
		return;
	}
	t->is_active = true;
}

/* The status state machine: besides a write of 0 (reset), the driver may only add the
 * next bit of the initialisation sequence, or FAILED at any time. Anything else is ignored
 * and the register keeps its value, which is what the driver will read back. */
static void status_write(struct virtio_mmio *t, uint32_t v)
{
	static const uint32_t ack = VIRTIO_STATUS_ACKNOWLEDGE;
	static const uint32_t drv = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	static const uint32_t fok = drv | VIRTIO_STATUS_FEATURES_OK;
	uint32_t cur = status_load(t) & STATUS_DRIVER_BITS;

	if (v == 0) {
		device_reset(t);
		return;
	}
	v &= ~(uint32_t)VIRTIO_STATUS_DEVICE_NEEDS_RESET; /* the device's bit, not the driver's */
	if (v == cur)
		return;
	if (v & ~STATUS_DRIVER_BITS)
		goto refuse;
	if (v == (cur | VIRTIO_STATUS_FAILED)) {
		__atomic_fetch_or(&t->status, VIRTIO_STATUS_FAILED, __ATOMIC_ACQ_REL);
		return;
	}
	if (cur == 0 && v == ack) {
		__atomic_fetch_or(&t->status, ack, __ATOMIC_ACQ_REL);
		return;
	}
	if (cur == ack && v == drv) {
		__atomic_fetch_or(&t->status, VIRTIO_STATUS_DRIVER, __ATOMIC_ACQ_REL);
		return;
	}
	if (cur == drv && v == fok) {
		if (!features_acceptable(t)) {
			log_guest("%s: FEATURES_OK refused for features 0x%" PRIx64
				  " (offered 0x%" PRIx64 ")",
				  t->ops->name, t->driver_features, t->device_features);
			return;
		}
		__atomic_fetch_or(&t->status, VIRTIO_STATUS_FEATURES_OK, __ATOMIC_ACQ_REL);
		return;
	}
	if (cur == fok && v == (fok | VIRTIO_STATUS_DRIVER_OK)) {
		driver_ok(t);
		return;
	}
refuse:
	log_guest("%s: status 0x%x -> 0x%x not allowed", t->ops->name, cur, v);
}

/* Queue registers may be written between FEATURES_OK and DRIVER_OK, for a valid
 * selector, while the queue is not ready. Returns the queue or NULL (write ignored). */
static struct virtq *queue_for_setup(struct virtio_mmio *t)
{
	uint32_t s = status_load(t);

	if (t->queue_sel >= t->nr_queues)
		return NULL;
	if (!(s & VIRTIO_STATUS_FEATURES_OK) ||
	    (s & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED)))
		return NULL;
	struct virtq *q = &t->queues[t->queue_sel];
	return q->is_ready ? NULL : q;
}

static void set_low(uint64_t *v, uint32_t lo)
{
	*v = (*v & 0xffffffff00000000ULL) | lo;
}

static void set_high(uint64_t *v, uint32_t hi)
{
	*v = (*v & 0xffffffffULL) | ((uint64_t)hi << 32);
}

static void queue_ready_write(struct virtio_mmio *t, uint32_t v)
{
	uint32_t s = status_load(t);

	if (t->queue_sel >= t->nr_queues || !(s & VIRTIO_STATUS_FEATURES_OK) ||
	    (s & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED)))
		return;
	struct virtq *q = &t->queues[t->queue_sel];
	if (v == 0) {
		q->is_ready = false;
		return;
	}
	if (v != 1 || q->is_ready)
		return;
	int err = virtq_activate(q, t->mem, t->ops->max_queue_size,
				 t->driver_features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX),
				 t->driver_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
	if (err)
		log_guest("%s: queue %u refused: size %u desc 0x%" PRIx64 " avail 0x%" PRIx64
			  " used 0x%" PRIx64,
			  t->ops->name, t->queue_sel, q->size, q->desc_gpa, q->avail_gpa,
			  q->used_gpa);
}

static void reg_write(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->device_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->driver_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* Only while negotiating: after FEATURES_OK the set is frozen. */
		if ((status_load(t) & STATUS_DRIVER_BITS) !=
		    (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER))
			break;
		if (t->driver_features_sel == 0)
			set_low(&t->driver_features, v);
		else if (t->driver_features_sel == 1)
			set_high(&t->driver_features, v);
		else if (v)
			t->has_unknown_features = true;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel =
		    v; /* checked on use: a bad selector makes the queue registers inert */
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		q = queue_for_setup(t);
		if (q)
			q->size = v > 0xffff ? 0 : (uint16_t)v; /* 0 fails virtq_activate */
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		queue_ready_write(t, v);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (v < t->nr_queues) {
			uint64_t one = 1;
			ssize_t r = write(t->notify_fds[v], &one, sizeof(one));
			(void)r; /* EAGAIN: the counter is already huge, the worker will wake */
		}
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&t->interrupt_status, ~v, __ATOMIC_ACQ_REL);
		break;
	case VIRTIO_MMIO_STATUS:
		status_write(t, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH: {
		q = queue_for_setup(t);
		if (!q)
			break;
		uint64_t *addr = off < VIRTIO_MMIO_QUEUE_AVAIL_LOW  ? &q->desc_gpa
				 : off < VIRTIO_MMIO_QUEUE_USED_LOW ? &q->avail_gpa
								    : &q->used_gpa;
		if (off & 4)
			set_high(addr, v);
		else
			set_low(addr, v);
		break;
	}
	case VIRTIO_MMIO_SHM_SEL:
		t->shm_sel = v;
		break;
	default:
		log_guest("%s: write 0x%x to read-only or unknown register 0x%" PRIx64,
			  t->ops->name, v, off);
		break;
	}
}

static uint32_t reg_read(struct virtio_mmio *t, uint64_t off)
{
	const struct virtq *q = t->queue_sel < t->nr_queues ? &t->queues[t->queue_sel] : NULL;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->device_features_sel > 1)
			return 0;
		return (uint32_t)(t->device_features >> (32 * t->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? t->ops->max_queue_size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->is_ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&t->interrupt_status, __ATOMIC_ACQUIRE);
	case VIRTIO_MMIO_STATUS:
		return status_load(t);
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffff; /* no shared memory regions: length ~0 means "none" */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return __atomic_load_n(&t->config_generation, __ATOMIC_ACQUIRE);
	default:
		return 0;
	}
}

void virtio_mmio_access(struct virtio_mmio *t, uint64_t offset, void *data, unsigned size,
			bool is_write)
{
	bool is_valid_size = size == 1 || size == 2 || size == 4 || size == 8;

	if (!is_write)
		memset(data, 0, is_valid_size ? size : 0);
	if (!is_valid_size || offset >= VIRTIO_MMIO_SIZE || size > VIRTIO_MMIO_SIZE - offset)
		return;
	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint32_t coff = (uint32_t)(offset - VIRTIO_MMIO_CONFIG);
		/* Device config is read with 1-, 2- or 4-byte accesses; split an 8-byte one. */
		for (unsigned done = 0; done < size; done += 4) {
			unsigned n = size < 4 ? size : 4;
			uint8_t *p = (uint8_t *)data + done;
			if (is_write && t->ops->config_write)
				t->ops->config_write(t->dev, coff + done, p, n);
			else if (!is_write && t->ops->config_read)
				t->ops->config_read(t->dev, coff + done, p, n);
		}
	} else if (size != 4 || (offset & 3)) {
		log_guest("%s: %u-byte access to register 0x%" PRIx64 " ignored", t->ops->name,
			  size, offset);
	} else if (is_write) {
		uint32_t v;
		memcpy(&v, data, 4); /* little-endian host and guest */
		reg_write(t, offset, v);
	} else {
		uint32_t v = reg_read(t, offset);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->lock);
}

int virtio_mmio_irqfd(const struct virtio_mmio *t)
{
	return t->irqfd;
}

int virtio_mmio_notify_fd(const struct virtio_mmio *t, unsigned q)
{
	return q < t->nr_queues ? t->notify_fds[q] : -1;
}

unsigned virtio_mmio_nr_queues(const struct virtio_mmio *t)
{
	return t->nr_queues;
}

uint64_t virtio_mmio_base(const struct virtio_mmio *t)
{
	return t->base_gpa;
}

uint32_t virtio_mmio_gsi(const struct virtio_mmio *t)
{
	return t->gsi;
}

int virtio_mmio_cmdline(const struct virtio_mmio *t, char *buf, size_t len)
{
	int n = snprintf(buf, len, "virtio_mmio.device=4K@0x%" PRIx64 ":%u", t->base_gpa, t->gsi);

	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

int virtio_mmio_pause(struct virtio_mmio *t)
{
	int err = 0;

	pthread_mutex_lock(&t->lock);
	if (t->is_active && t->ops->pause)
		err = t->ops->pause(t->dev);
	pthread_mutex_unlock(&t->lock);
	return err;
}

int virtio_mmio_resume(struct virtio_mmio *t)
{
	int err = 0;

	pthread_mutex_lock(&t->lock);
	if (t->is_active && t->ops->resume)
		err = t->ops->resume(t->dev);
	pthread_mutex_unlock(&t->lock);
	return err;
}

struct virtq *virtio_mmio_queue(struct virtio_mmio *t, unsigned q)
{
	return q < t->nr_queues ? &t->queues[q] : NULL;
}

uint64_t virtio_mmio_driver_features(const struct virtio_mmio *t)
{
	return t->driver_features;
}

const struct guest_mem *virtio_mmio_mem(const struct virtio_mmio *t)
{
	return t->mem;
}

void virtio_mmio_interrupt(struct virtio_mmio *t, uint32_t bits)
{
	uint64_t one = 1;

	/* InterruptStatus first: the guest's handler reads it after the interrupt arrives. */
	__atomic_fetch_or(&t->interrupt_status, bits, __ATOMIC_ACQ_REL);
	ssize_t r = write(t->irqfd, &one, sizeof(one));
	(void)r; /* EAGAIN: the counter is saturated, an interrupt is pending anyway */
}

int virtio_mmio_pop(struct virtio_mmio *t, unsigned q, struct virtq_chain *c)
{
	if (q >= t->nr_queues)
		return -EINVAL;
	int r = virtq_pop(&t->queues[q], c);
	if (r == -EIO)
		virtio_mmio_set_needs_reset(t);
	return r;
}

bool virtio_mmio_signal_used(struct virtio_mmio *t, unsigned q)
{
	if (q >= t->nr_queues || !virtq_should_notify(&t->queues[q]))
		return false;
	virtio_mmio_interrupt(t, VIRTIO_MMIO_INT_VRING);
	return true;
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	__atomic_fetch_add(&t->config_generation, 1, __ATOMIC_ACQ_REL);
	if (status_load(t) & VIRTIO_STATUS_DRIVER_OK)
		virtio_mmio_interrupt(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_set_needs_reset(struct virtio_mmio *t)
{
	uint32_t old =
	    __atomic_fetch_or(&t->status, VIRTIO_STATUS_DEVICE_NEEDS_RESET, __ATOMIC_ACQ_REL);

	if ((old & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		virtio_mmio_interrupt(t, VIRTIO_MMIO_INT_CONFIG);
}

uint32_t virtio_mmio_status(const struct virtio_mmio *t)
{
	return status_load(t);
}

int virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *s)
{
	int err = 0;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&t->lock);
	s->magic = VIRTIO_MMIO_STATE_MAGIC;
	s->device_id = t->ops->device_id;
	s->nr_queues = t->nr_queues;
	s->status = status_load(t);
	s->driver_features = t->driver_features;
	s->device_features_sel = t->device_features_sel;
	s->driver_features_sel = t->driver_features_sel;
	s->queue_sel = t->queue_sel;
	s->shm_sel = t->shm_sel;
	s->interrupt_status = __atomic_load_n(&t->interrupt_status, __ATOMIC_ACQUIRE);
	s->config_generation = __atomic_load_n(&t->config_generation, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < t->nr_queues; i++) {
		const struct virtq *q = &t->queues[i];
		struct virtio_mmio_queue_state *qs = &s->queues[i];
		if (q->nr_inflight || q->nr_unpublished)
			err = -EBUSY;
		qs->desc_gpa = q->desc_gpa;
		qs->avail_gpa = q->avail_gpa;
		qs->used_gpa = q->used_gpa;
		qs->size = q->size;
		qs->last_avail = q->last_avail;
		qs->used_idx = q->used_idx;
		qs->signalled_used = q->signalled_used;
		qs->is_ready = q->is_ready;
		qs->is_signalled_valid = q->is_signalled_valid;
		qs->is_notify_disabled = q->is_notify_disabled;
	}
	pthread_mutex_unlock(&t->lock);
	return err;
}

static bool is_reachable_status(uint32_t status)
{
	static const uint32_t steps[] = {
	    0,
	    VIRTIO_STATUS_ACKNOWLEDGE,
	    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER,
	    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK,
	    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		VIRTIO_STATUS_DRIVER_OK,
	};
	uint32_t base =
	    status & ~(uint32_t)(VIRTIO_STATUS_FAILED | VIRTIO_STATUS_DEVICE_NEEDS_RESET);

	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (base == steps[i])
			return true;
	return false;
}

int virtio_mmio_restore(struct virtio_mmio *t, const struct virtio_mmio_state *s)
{
	int err = -EINVAL;

	pthread_mutex_lock(&t->lock);
	device_reset(t);
	if (s->magic != VIRTIO_MMIO_STATE_MAGIC || s->device_id != t->ops->device_id ||
	    s->nr_queues != t->nr_queues || !is_reachable_status(s->status))
		goto reset;
	t->driver_features = s->driver_features;
	if ((s->status & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(t))
		goto reset;
	t->device_features_sel = s->device_features_sel;
	t->driver_features_sel = s->driver_features_sel;
	t->queue_sel = s->queue_sel;
	t->shm_sel = s->shm_sel;
	for (unsigned i = 0; i < t->nr_queues; i++) {
		const struct virtio_mmio_queue_state *qs = &s->queues[i];
		struct virtq *q = &t->queues[i];
		q->size = qs->size;
		q->desc_gpa = qs->desc_gpa;
		q->avail_gpa = qs->avail_gpa;
		q->used_gpa = qs->used_gpa;
		if (!qs->is_ready)
			continue;
		if (!(s->status & VIRTIO_STATUS_FEATURES_OK) ||
		    virtq_activate(q, t->mem, t->ops->max_queue_size,
				   t->driver_features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX),
				   t->driver_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)))
			goto reset;
		q->last_avail = qs->last_avail;
		q->used_idx = qs->used_idx;
		q->signalled_used = qs->signalled_used;
		q->is_signalled_valid = qs->is_signalled_valid;
		q->is_notify_disabled = qs->is_notify_disabled;
	}
	__atomic_store_n(&t->interrupt_status,
			 s->interrupt_status & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&t->config_generation, s->config_generation, __ATOMIC_RELEASE);
	__atomic_store_n(&t->status, s->status & ~(uint32_t)VIRTIO_STATUS_DRIVER_OK,
			 __ATOMIC_RELEASE);
	if (s->status & VIRTIO_STATUS_DRIVER_OK)
		driver_ok(t);
	/* A pending interrupt the guest had not acknowledged is raised again. */
	if (s->interrupt_status) {
		uint64_t one = 1;
		ssize_t r = write(t->irqfd, &one, sizeof(one));
		(void)r;
	}
	pthread_mutex_unlock(&t->lock);
	return 0;

reset:
	device_reset(t);
	pthread_mutex_unlock(&t->lock);
	return err;
}

long virtio_mmio_save_device(struct virtio_mmio *t, void *buf, size_t cap)
{
	long r = 0;

	pthread_mutex_lock(&t->lock);
	if (t->ops->save)
		r = t->ops->save(t->dev, buf, cap);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int virtio_mmio_restore_device(struct virtio_mmio *t, const void *buf, size_t len)
{
	int r;

	pthread_mutex_lock(&t->lock);
	if (t->ops->restore)
		r = t->ops->restore(t->dev, buf, len);
	else
		r = len ? -EINVAL : 0;
	pthread_mutex_unlock(&t->lock);
	return r;
}

const char *virtio_mmio_device_name(const struct virtio_mmio *t)
{
	return t->ops->name;
}

uint32_t virtio_mmio_device_id(const struct virtio_mmio *t)
{
	return t->ops->device_id;
}

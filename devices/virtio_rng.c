/* devices/virtio_rng.c — virtio entropy device: one request queue, filled from getrandom().
 *
 * The driver posts writable buffers; the worker fills each with random bytes and returns
 * it. There is no config space. In a Linux guest this shows up as /dev/hwrng
 * (virtio_rng → hw_random core).
 *
 * Trusts: the transport's checked chains (buffers inside guest RAM). The guest controls how
 * much it asks for; a chain's fill is capped so one request cannot keep the worker busy
 * for long, and getrandom() never blocks once the host's pool is initialised.
 */
#include "devices/virtio_rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include "util/log.h"
#include "util/worker.h"

/* Most bytes returned for one chain (Linux asks for at most a few hundred at a time). */
#define RNG_MAX_PER_CHAIN (64 * 1024)

struct virtio_rng {
	struct virtio_mmio *t;
	struct worker *worker;
	struct virtq_chain chain; /* worker-owned scratch */
	uint64_t nr_bytes;
};

/* Fills the writable buffers of c, up to RNG_MAX_PER_CHAIN bytes. Returns bytes written. */
static uint32_t rng_fill(const struct virtq_chain *c)
{
	uint32_t total = 0;

	for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in && total < RNG_MAX_PER_CHAIN; i++) {
		uint8_t *p = c->iov[i].iov_base;
		size_t want = c->iov[i].iov_len;
		if (want > RNG_MAX_PER_CHAIN - total)
			want = RNG_MAX_PER_CHAIN - total;
		while (want) {
			ssize_t n = getrandom(p, want, 0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				log_error("virtio-rng: getrandom: %m");
				return total;
			}
			p += n;
			want -= (size_t)n;
			total += (uint32_t)n;
		}
	}
	return total;
}

static void rng_kick(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_rng *rng = arg;
	struct virtq *q = virtio_mmio_queue(rng->t, 0);
	int r;

	worker_eventfd_drain(fd);
	while ((r = virtio_mmio_pop(rng->t, 0, &rng->chain)) > 0) {
		uint32_t len = rng_fill(&rng->chain);
		rng->nr_bytes += len;
		virtq_push(q, rng->chain.head, len);
		if (worker_should_yield(w))
			break; /* the resume call (events == 0) comes back here */
	}
	/* r < 0: a broken ring (NEEDS_RESET is set) or a queue the driver never set up. */
	virtio_mmio_signal_used(rng->t, 0);
}

static uint64_t rng_features(void *dev)
{
	return VIRTIO_RING_FEATURES;
}

static int rng_activate(void *dev, struct virtio_mmio *t)
{
	struct virtio_rng *rng = dev;
	int err;

	rng->t = t;
	rng->worker = worker_create("virtio-rng");
	if (!rng->worker)
		return -errno;
	err = worker_add_fd(rng->worker, virtio_mmio_notify_fd(t, 0), EPOLLIN, rng_kick, rng);
	if (err)
		goto destroy_worker;
	err = worker_start(rng->worker);
	if (err)
		goto destroy_worker;
	return 0;

destroy_worker:
	worker_destroy(rng->worker);
	rng->worker = NULL;
	return err;
}

static void rng_reset(void *dev)
{
	struct virtio_rng *rng = dev;

	worker_destroy(rng->worker); /* stops and joins it */
	rng->worker = NULL;
}

static int rng_pause(void *dev)
{
	struct virtio_rng *rng = dev;

	return rng->worker ? worker_pause(rng->worker) : 0;
}

static int rng_resume(void *dev)
{
	struct virtio_rng *rng = dev;

	return rng->worker ? worker_resume(rng->worker) : 0;
}

static long rng_save(void *dev, void *buf, size_t cap)
{
	return 0; /* no device state beyond the transport's */
}

static int rng_restore(void *dev, const void *buf, size_t len)
{
	return len == 0 ? 0 : -EINVAL;
}

static void rng_destroy(void *dev)
{
	struct virtio_rng *rng = dev;

	worker_destroy(rng->worker);
	free(rng);
}

const struct virtio_device_ops virtio_rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .nr_queues = 1,
    .max_queue_size = 256,
    .features = rng_features,
    .activate = rng_activate,
    .reset = rng_reset,
    .pause = rng_pause,
    .resume = rng_resume,
    .save = rng_save,
    .restore = rng_restore,
    .destroy = rng_destroy,
};

void *virtio_rng_create(void)
{
	return calloc(1, sizeof(struct virtio_rng));
}

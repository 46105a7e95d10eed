/* devices/virtio_fs.c — virtio-fs over virtio-mmio: the queues and workers around the
 * FUSE server (fs/fuse_server.c). See virtio_fs.h.
 *
 * Each worker pops checked chains from its queue and hands the readable buffers (the
 * request) and the writable ones (room for the reply) to fuse_handle(), which returns the
 * bytes it wrote; that is the used length. A request with no reply (FORGET) is returned
 * with length 0.
 *
 * Trusts: the transport's checked chains; the FUSE server's own request checks.
 */
#include "devices/virtio_fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "util/log.h"
#include "util/worker.h"

struct fs_queue {
	struct virtio_fs *fs;
	unsigned idx;
	struct worker *worker;
	struct virtq_chain chain; /* worker-owned scratch */
	uint64_t nr_requests;
};

struct virtio_fs {
	struct virtio_mmio *t;
	struct fuse_share *share;
	struct virtio_fs_config_space cfg;
	unsigned nr_queues; /* hiprio + request queues */
	struct fs_queue q[VIRTIO_MMIO_MAX_QUEUES];
};

static void fs_kick(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct fs_queue *fq = arg;
	struct virtio_fs *fs = fq->fs;
	struct virtq *q = virtio_mmio_queue(fs->t, fq->idx);
	struct virtq_chain *c = &fq->chain;
	int r;

	worker_eventfd_drain(fd);
	while ((r = virtio_mmio_pop(fs->t, fq->idx, c)) > 0) {
		size_t len =
		    fuse_handle(fs->share, c->iov, c->nr_out, c->iov + c->nr_out, c->nr_in);
		virtq_push(q, c->head, (uint32_t)len);
		__atomic_fetch_add(&fq->nr_requests, 1, __ATOMIC_RELAXED);
		if (worker_should_yield(w))
			break; /* the resume call (events == 0) comes back here */
	}
	virtio_mmio_signal_used(fs->t, fq->idx);
}

static unsigned fs_queue_count(void *dev)
{
	struct virtio_fs *fs = dev;

	return fs->nr_queues;
}

static uint64_t fs_features(void *dev)
{
	return VIRTIO_RING_FEATURES;
}

static void fs_config_read(void *dev, uint32_t offset, void *data, unsigned size)
{
	struct virtio_fs *fs = dev;
	const uint8_t *cs = (const uint8_t *)&fs->cfg;

	memset(data, 0, size);
	if (offset < sizeof(fs->cfg) && size <= sizeof(fs->cfg) - offset)
		memcpy(data, cs + offset, size);
}

static void fs_stop_workers(struct virtio_fs *fs)
{
	for (unsigned i = 0; i < fs->nr_queues; i++) {
		worker_destroy(fs->q[i].worker); /* stops and joins it */
		fs->q[i].worker = NULL;
	}
}

static int fs_activate(void *dev, struct virtio_mmio *t)
{
	struct virtio_fs *fs = dev;
	char name[24];
	int err = 0;

	fs->t = t;
	for (unsigned i = 0; i < fs->nr_queues; i++) {
		struct fs_queue *fq = &fs->q[i];
		struct virtq *q = virtio_mmio_queue(t, i);
		if (!q || !q->is_ready)
			continue; /* the driver may leave request queues unused */
		if (i == 0)
			snprintf(name, sizeof(name), "fs-hiprio");
		else
			snprintf(name, sizeof(name), "fs-req%u", i - 1);
		fq->worker = worker_create(name);
		if (!fq->worker) {
			err = -errno;
			goto stop;
		}
		err = worker_add_fd(fq->worker, virtio_mmio_notify_fd(t, i), EPOLLIN, fs_kick, fq);
		if (!err)
			err = worker_start(fq->worker);
		if (err)
			goto stop;
	}
	return 0;

stop:
	fs_stop_workers(fs);
	return err;
}

static void fs_reset(void *dev)
{
	struct virtio_fs *fs = dev;

	fs_stop_workers(fs);
	fuse_share_reset(fs->share); /* every node and handle the guest had */
}

static int fs_pause(void *dev)
{
	struct virtio_fs *fs = dev;
	int r;

	for (unsigned i = 0; i < fs->nr_queues; i++) {
		if (fs->q[i].worker && (r = worker_pause(fs->q[i].worker))) {
			while (i--)
				if (fs->q[i].worker)
					worker_resume(fs->q[i].worker);
			return r;
		}
	}
	return 0;
}

static int fs_resume(void *dev)
{
	struct virtio_fs *fs = dev;
	int r = 0;

	for (unsigned i = 0; i < fs->nr_queues; i++)
		if (fs->q[i].worker && worker_resume(fs->q[i].worker))
			r = -EINVAL;
	return r;
}

/* The device's part of the snapshot: its identity, then the share's tables. */
#define FS_STATE_MAGIC 0x31534656u /* "VFS1" */

struct fs_state_hdr {
	uint32_t magic;
	uint32_t nr_queues;
	uint8_t tag[VIRTIO_FS_TAG_MAX];
};

static long fs_save(void *dev, void *buf, size_t cap)
{
	struct virtio_fs *fs = dev;
	struct fs_state_hdr h = {.magic = FS_STATE_MAGIC, .nr_queues = fs->nr_queues};
	long n;

	if (cap < sizeof(h))
		return -ENOSPC;
	memcpy(h.tag, fs->cfg.tag, sizeof(h.tag));
	memcpy(buf, &h, sizeof(h));
	/* The workers are paused between requests: no handler holds a node or a handle. */
	n = fuse_share_save(fs->share, (uint8_t *)buf + sizeof(h), cap - sizeof(h));
	return n < 0 ? n : (long)sizeof(h) + n;
}

static int fs_restore(void *dev, const void *buf, size_t len)
{
	struct virtio_fs *fs = dev;
	struct fs_state_hdr h;

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != FS_STATE_MAGIC)
		return -EINVAL;
	if (h.nr_queues != fs->nr_queues || memcmp(h.tag, fs->cfg.tag, sizeof(h.tag)))
		return -ESTALE;
	return fuse_share_restore(fs->share, (const uint8_t *)buf + sizeof(h), len - sizeof(h));
}

static void fs_destroy(void *dev)
{
	struct virtio_fs *fs = dev;

	fs_stop_workers(fs);
	fuse_share_destroy(fs->share);
	free(fs);
}

const struct virtio_device_ops virtio_fs_ops = {
    .name = "virtio-fs",
    .device_id = VIRTIO_ID_FS,
    .nr_queues = VIRTIO_MMIO_MAX_QUEUES,
    .queue_count = fs_queue_count,
    .max_queue_size = VIRTIO_FS_QUEUE_SIZE,
    .features = fs_features,
    .config_read = fs_config_read,
    .activate = fs_activate,
    .reset = fs_reset,
    .pause = fs_pause,
    .resume = fs_resume,
    .save = fs_save,
    .restore = fs_restore,
    .destroy = fs_destroy,
};

struct virtio_fs *virtio_fs_create(const struct virtio_fs_config *cfg, char *err, size_t errlen)
{
	struct fuse_share_opts o = {.path = cfg->path,
				    .is_read_only = cfg->is_read_only,
				    .has_xattr = cfg->has_xattr,
				    .cache = cfg->cache};
	unsigned nq = cfg->nr_queues ? cfg->nr_queues : 1;
	size_t taglen = strnlen(cfg->tag, sizeof(cfg->tag));
	char serr[256];
	struct virtio_fs *fs;

	if (taglen == 0 || taglen > VIRTIO_FS_TAG_MAX) {
		snprintf(err, errlen, "virtio-fs: tag must be 1 .. %d bytes", VIRTIO_FS_TAG_MAX);
		errno = EINVAL;
		return NULL;
	}
	if (nq > VIRTIO_FS_MAX_REQUEST_QUEUES) {
		snprintf(err, errlen, "virtio-fs %s: queues=%u: at most %d", cfg->tag, nq,
			 VIRTIO_FS_MAX_REQUEST_QUEUES);
		errno = EINVAL;
		return NULL;
	}
	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		snprintf(err, errlen, "virtio-fs: out of memory");
		return NULL;
	}
	fs->share = fuse_share_create(&o, serr, sizeof(serr));
	if (!fs->share) {
		int e = errno;
		snprintf(err, errlen, "virtio-fs %s: %s", cfg->tag, serr);
		free(fs);
		errno = e;
		return NULL;
	}
	memcpy(fs->cfg.tag, cfg->tag, taglen);
	fs->cfg.num_request_queues = nq;
	fs->nr_queues = nq + 1;
	for (unsigned i = 0; i < fs->nr_queues; i++) {
		fs->q[i].fs = fs;
		fs->q[i].idx = i;
	}
	return fs;
}

struct fuse_share *virtio_fs_share(struct virtio_fs *f)
{
	return f->share;
}

unsigned virtio_fs_queue_requests(struct virtio_fs *f, uint64_t *out, unsigned max)
{
	unsigned n = f->nr_queues < max ? f->nr_queues : max;

	for (unsigned i = 0; i < n; i++)
		out[i] = __atomic_load_n(&f->q[i].nr_requests, __ATOMIC_RELAXED);
	return n;
}

/* devices/virtio_blk.c — virtio block device. See virtio_blk.h.
 *
 * Each ready queue (up to num_queues) has its own worker thread and its own disk_queue (an
 * io_uring): the worker pops chains, checks them, hands reads/writes/flushes to the ring
 * and goes back to sleep; completions wake it through the ring's eventfd, and it writes the
 * status byte, pushes the used entry and fires one interrupt per batch. Discard and
 * write-zeroes are rare metadata operations and are done synchronously (fallocate).
 *
 * Trust: the chain layout and every byte the guest wrote are hostile. virtq_pop() already
 * bounded the chain and checked every buffer against guest RAM; here the header and
 * segments are copied into host structs before use, sectors and lengths are checked
 * against the image with overflow-safe arithmetic, readable/writable roles are enforced,
 * and a request that breaks a rule completes with IOERR/UNSUPP (or, without a writable
 * status byte, with used len 0) — never a host error. The config (path, id) is trusted.
 */
#include "devices/virtio_blk.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "backends/disk.h"
#include "util/log.h"
#include "util/rate_limiter.h"
#include "util/worker.h"

#define BLK_HDR_BYTES		16
#define BLK_SEG_BYTES		16
#define BLK_MAX_DISCARD_SECTORS (1U << 22) /* 2 GiB per segment */
#define BLK_DISCARD_ALIGNMENT	8	   /* sectors: 4 KiB, the usual file system block */

struct blk_queue;

/* One read, write or flush on its way through the disk queue. */
struct blk_req {
	struct blk_queue *bq;
	struct blk_req *next_free;
	uint16_t head;
	uint8_t *status;   /* the status byte, inside guest RAM (checked by virtq_pop) */
	uint32_t used_len; /* bytes written into the driver's buffers on success */
	struct disk_io io;
	struct iovec iov[VIRTIO_BLK_SEG_MAX];
};

struct blk_queue {
	struct virtio_blk *blk;
	unsigned index;
	struct virtq *vq;
	struct worker *worker;
	struct disk_queue dq;
	struct blk_req *reqs;
	struct blk_req *free;
	bool is_starved;	  /* stopped popping for want of a free request */
	bool needs_signal;	  /* used entries pushed since the last interrupt decision */
	bool is_throttled;	  /* the rate limiter said wait: rl_timer_fd restarts us */
	int rl_timer_fd;	  /* timerfd on this queue's worker; -1 when unlimited */
	struct virtq_chain chain; /* virtq_pop's output (large: keep it off the stack) */
};

struct virtio_blk {
	const struct guest_mem *mem;
	struct disk disk;
	unsigned serial; /* for worker names */
	unsigned nr_queues;
	uint64_t features;
	uint8_t id[VIRTIO_BLK_ID_BYTES];
	uint8_t config[VIRTIO_BLK_CFG_SIZE];
	struct virtio_mmio *t;
	struct blk_queue *queues[VIRTIO_MMIO_MAX_QUEUES];
	_Atomic uint64_t nr_requests, nr_errors, nr_bad_chains;
	/* Requests started, by kind, and their data bytes (relaxed: counters only). */
	_Atomic uint64_t nr_reads, nr_writes, nr_flushes, nr_discards, read_bytes, write_bytes;
	_Atomic uint64_t nr_host_errors; /* backend failures (for log rate limiting) */
	struct rate_limiter rl;		 /* shared by the queues; settable at run time */
	pthread_mutex_t rl_lock;	 /* guards the queues' rl_timer_fd against reset */
};

static atomic_uint blk_serial;

static void put_le16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v)); /* x86 hosts only: little-endian */
}

static void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

struct virtio_blk *virtio_blk_create(const struct guest_mem *mem, const struct vm_disk_config *cfg,
				     char *err, size_t errlen)
{
	struct virtio_blk *b;
	int r;

	if (!cfg || !cfg->path) {
		snprintf(err, errlen, "--disk: missing the image path");
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "--disk %s: out of memory", cfg->path);
		errno = ENOMEM;
		return NULL;
	}
	r = disk_open(&b->disk, cfg->path, cfg->is_read_only, cfg->is_direct, err, errlen);
	if (r < 0) {
		free(b);
		errno = -r;
		return NULL;
	}
	b->mem = mem;
	rate_limiter_init(&b->rl, &cfg->rate_limiter);
	pthread_mutex_init(&b->rl_lock, NULL);
	b->serial = atomic_fetch_add(&blk_serial, 1);
	b->nr_queues = cfg->nr_queues;
	if (b->nr_queues < 1)
		b->nr_queues = 1;
	if (b->nr_queues > VIRTIO_MMIO_MAX_QUEUES)
		b->nr_queues = VIRTIO_MMIO_MAX_QUEUES;
	if (cfg->id)
		/* NUL-padded; a 20-byte id is sent unterminated, as the spec allows. */
		memcpy(b->id, cfg->id, strnlen(cfg->id, sizeof(b->id)));

	b->features = VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
		      VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_MQ) |
		      VIRTIO_RING_FEATURES;
	if (b->disk.is_read_only)
		b->features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	else
		b->features |=
		    VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);

	put_le64(b->config + VIRTIO_BLK_CFG_CAPACITY, b->disk.size / DISK_SECTOR_SIZE);
	put_le32(b->config + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX);
	put_le32(b->config + VIRTIO_BLK_CFG_BLK_SIZE, DISK_SECTOR_SIZE);
	put_le16(b->config + VIRTIO_BLK_CFG_NUM_QUEUES, (uint16_t)b->nr_queues);
	put_le32(b->config + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, BLK_MAX_DISCARD_SECTORS);
	put_le32(b->config + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, VIRTIO_BLK_MAX_DISCARD_SEG);
	put_le32(b->config + VIRTIO_BLK_CFG_DISCARD_ALIGNMENT, BLK_DISCARD_ALIGNMENT);
	put_le32(b->config + VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS, BLK_MAX_DISCARD_SECTORS);
	put_le32(b->config + VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG, VIRTIO_BLK_MAX_DISCARD_SEG);
	b->config[VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP] = 1;
	return b;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	disk_close(&b->disk);
	rate_limiter_fini(&b->rl);
	pthread_mutex_destroy(&b->rl_lock);
	free(b);
}

int virtio_blk_set_rate_limiter(struct virtio_blk *b, const struct rate_limiter_config *cfg)
{
	rate_limiter_set(&b->rl, cfg);
	/* Throttled queues re-check at once instead of at the old shape's time. */
	pthread_mutex_lock(&b->rl_lock);
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		if (b->queues[i] && b->queues[i]->rl_timer_fd >= 0)
			rate_limiter_arm_timer(b->queues[i]->rl_timer_fd, 1);
	}
	pthread_mutex_unlock(&b->rl_lock);
	return 0;
}

uint64_t virtio_blk_nr_throttled(struct virtio_blk *b)
{
	pthread_mutex_lock(&b->rl.lock);
	uint64_t n = b->rl.nr_throttled;
	pthread_mutex_unlock(&b->rl.lock);
	return n;
}

void virtio_blk_get_stats(const struct virtio_blk *b, struct virtio_blk_stats *st)
{
	st->nr_requests = atomic_load_explicit(&b->nr_requests, memory_order_relaxed);
	st->nr_errors = atomic_load_explicit(&b->nr_errors, memory_order_relaxed);
	st->nr_reads = atomic_load_explicit(&b->nr_reads, memory_order_relaxed);
	st->nr_writes = atomic_load_explicit(&b->nr_writes, memory_order_relaxed);
	st->nr_flushes = atomic_load_explicit(&b->nr_flushes, memory_order_relaxed);
	st->nr_discards = atomic_load_explicit(&b->nr_discards, memory_order_relaxed);
	st->read_bytes = atomic_load_explicit(&b->read_bytes, memory_order_relaxed);
	st->write_bytes = atomic_load_explicit(&b->write_bytes, memory_order_relaxed);
	st->nr_bad_chains = atomic_load_explicit(&b->nr_bad_chains, memory_order_relaxed);
	st->has_uring = b->disk.has_uring;
}

/* --- requests --- */

/* Writes the status byte and hands the chain back. */
static void blk_finish(struct blk_queue *bq, uint16_t head, uint8_t *status, uint8_t st,
		       uint32_t used_len)
{
	struct virtio_blk *b = bq->blk;

	*status = st;
	/* virtq_push publishes with a store-release, so the status byte is visible first. */
	virtq_push(bq->vq, head, used_len);
	bq->needs_signal = true;
	atomic_fetch_add_explicit(&b->nr_requests, 1, memory_order_relaxed);
	if (st != VIRTIO_BLK_S_OK)
		atomic_fetch_add_explicit(&b->nr_errors, 1, memory_order_relaxed);
}

/* Is [sector, sector + nr_sectors) inside the image? (no overflow: both sides bounded) */
static bool blk_range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t nr_sectors)
{
	uint64_t capacity = b->disk.size / DISK_SECTOR_SIZE;

	return sector <= capacity && nr_sectors <= capacity - sector;
}

/* Copies the iovec window [skip, skip + len) of src into dst. Returns the number of
 * entries, -E2BIG if more than max are needed, -EINVAL if src is shorter. */
static int blk_iov_slice(const struct iovec *src, unsigned n, size_t skip, size_t len,
			 struct iovec *dst, unsigned max)
{
	unsigned cnt = 0;

	for (unsigned i = 0; i < n && len; i++) {
		size_t l = src[i].iov_len, take;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		take = l - skip;
		if (take > len)
			take = len;
		if (cnt == max)
			return -E2BIG;
		dst[cnt].iov_base = (uint8_t *)src[i].iov_base + skip;
		dst[cnt].iov_len = take;
		cnt++;
		len -= take;
		skip = 0;
	}
	return len ? -EINVAL : (int)cnt;
}

static struct blk_req *blk_req_get(struct blk_queue *bq)
{
	struct blk_req *req = bq->free;

	if (req)
		bq->free = req->next_free;
	return req;
}

static void blk_req_put(struct blk_queue *bq, struct blk_req *req)
{
	req->next_free = bq->free;
	bq->free = req;
}

/* A failing host disk fails every request: report the first few, then one in 1000. */
static bool blk_should_log_host_error(struct virtio_blk *b)
{
	uint64_t n = atomic_fetch_add_explicit(&b->nr_host_errors, 1, memory_order_relaxed);

	return n < 10 || n % 1000 == 0;
}

static void blk_io_done(struct disk_io *io, void *arg)
{
	struct blk_queue *bq = arg;
	struct blk_req *req = (struct blk_req *)((uint8_t *)io - offsetof(struct blk_req, io));

	if (io->result < 0) {
		if (blk_should_log_host_error(bq->blk))
			log_warn("virtio-blk: %s at byte %llu: %s",
				 io->op == DISK_OP_READ	   ? "read"
				 : io->op == DISK_OP_WRITE ? "write"
							   : "flush",
				 (unsigned long long)io->offset, strerror((int)-io->result));
		blk_finish(bq, req->head, req->status, VIRTIO_BLK_S_IOERR, 1);
	} else {
		blk_finish(bq, req->head, req->status, VIRTIO_BLK_S_OK, req->used_len);
	}
	blk_req_put(bq, req);
}

/* Queues a read, write or flush. Returns a status to complete with now, or -1 if the
 * request went to the disk queue. */
static int blk_submit(struct blk_queue *bq, const struct virtq_chain *c, uint8_t *status,
		      enum disk_op op, uint64_t sector)
{
	struct virtio_blk *b = bq->blk;
	bool is_write = op == DISK_OP_WRITE;
	size_t len = 0;
	struct blk_req *req;
	int cnt = 0;

	if (op != DISK_OP_FLUSH) {
		/* IN: the header is all the driver may give us to read, and the data must be
		 * writable; OUT: the status byte is all we may write. */
		if (is_write ? c->in_len != 1 : c->out_len != BLK_HDR_BYTES)
			return VIRTIO_BLK_S_IOERR;
		if (is_write && b->disk.is_read_only)
			return VIRTIO_BLK_S_IOERR;
		len = is_write ? c->out_len - BLK_HDR_BYTES : c->in_len - 1u;
		if (len % DISK_SECTOR_SIZE || !blk_range_ok(b, sector, len / DISK_SECTOR_SIZE))
			return VIRTIO_BLK_S_IOERR;
		if (!len)
			return VIRTIO_BLK_S_OK;
	}
	req = blk_req_get(bq);
	if (!req)
		return VIRTIO_BLK_S_IOERR; /* cannot happen: as many requests as ring entries */
	if (op != DISK_OP_FLUSH) {
		if (is_write)
			cnt = blk_iov_slice(c->iov, c->nr_out, BLK_HDR_BYTES, len, req->iov,
					    VIRTIO_BLK_SEG_MAX);
		else
			cnt = blk_iov_slice(c->iov + c->nr_out, c->nr_in, 0, len, req->iov,
					    VIRTIO_BLK_SEG_MAX);
		if (cnt < 0) {
			blk_req_put(bq, req);
			return VIRTIO_BLK_S_IOERR;
		}
	}
	req->head = c->head;
	req->status = status;
	req->used_len = is_write || op == DISK_OP_FLUSH ? 1 : (uint32_t)len + 1;
	req->io.op = op;
	req->io.offset = sector * DISK_SECTOR_SIZE;
	req->io.iov = req->iov;
	req->io.iovcnt = (unsigned)cnt;
	req->io.len = len;
	if (disk_queue_add(&bq->dq, &req->io) < 0) {
		blk_req_put(bq, req);
		return VIRTIO_BLK_S_IOERR;
	}
	return -1;
}

/* Discard and write-zeroes: all segments are checked before any is carried out. */
static int blk_discard(struct blk_queue *bq, const struct virtq_chain *c, uint32_t type)
{
	struct virtio_blk *b = bq->blk;
	struct virtio_blk_discard_seg segs[VIRTIO_BLK_MAX_DISCARD_SEG];
	uint32_t bytes = c->out_len - BLK_HDR_BYTES;
	unsigned n = bytes / BLK_SEG_BYTES;
	bool is_zeroes = type == VIRTIO_BLK_T_WRITE_ZEROES;
	uint64_t feature = is_zeroes ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD;

	if (!(b->features & VIRTIO_BIT(feature)))
		return b->disk.is_read_only ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_UNSUPP;
	if (c->in_len != 1 || bytes == 0 || bytes % BLK_SEG_BYTES || n > VIRTIO_BLK_MAX_DISCARD_SEG)
		return VIRTIO_BLK_S_IOERR;
	if (virtq_chain_read(c, BLK_HDR_BYTES, segs, bytes) != bytes)
		return VIRTIO_BLK_S_IOERR;
	for (unsigned i = 0; i < n; i++) {
		/* Discard takes no flags at all; write-zeroes only UNMAP (5.2.6.2). */
		uint32_t allowed = is_zeroes ? VIRTIO_BLK_WRITE_ZEROES_UNMAP : 0;

		if (segs[i].flags & ~allowed)
			return VIRTIO_BLK_S_UNSUPP;
		if (segs[i].num_sectors > BLK_MAX_DISCARD_SECTORS ||
		    !blk_range_ok(b, segs[i].sector, segs[i].num_sectors))
			return VIRTIO_BLK_S_IOERR;
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t off = segs[i].sector * DISK_SECTOR_SIZE;
		uint64_t len = (uint64_t)segs[i].num_sectors * DISK_SECTOR_SIZE;
		int r;

		if (!len)
			continue;
		if (is_zeroes)
			r = disk_write_zeroes(&b->disk, off, len,
					      segs[i].flags & VIRTIO_BLK_WRITE_ZEROES_UNMAP);
		else
			r = disk_discard(&b->disk, off, len);
		if (r < 0) {
			if (blk_should_log_host_error(b))
				log_warn("virtio-blk: %s at byte %llu: %s",
					 is_zeroes ? "write-zeroes" : "discard",
					 (unsigned long long)off, strerror(-r));
			return VIRTIO_BLK_S_IOERR;
		}
	}
	return VIRTIO_BLK_S_OK;
}

static void blk_handle_chain(struct blk_queue *bq, const struct virtq_chain *c)
{
	struct virtio_blk *b = bq->blk;
	struct virtio_blk_req_hdr hdr;
	const struct iovec *last;
	uint8_t *status;
	uint32_t used_len = 1;
	int st;

	if (c->nr_in == 0) {
		/* Nowhere to put a status: hand the chain back empty so the driver can
		 * reclaim it, and say so. */
		atomic_fetch_add_explicit(&b->nr_bad_chains, 1, memory_order_relaxed);
		log_guest("virtio-blk: request without a writable status byte (head %u)", c->head);
		virtq_push(bq->vq, c->head, 0);
		bq->needs_signal = true;
		return;
	}
	last = &c->iov[c->nr_out + c->nr_in - 1];
	status = (uint8_t *)last->iov_base + last->iov_len - 1;
	if (c->out_len < BLK_HDR_BYTES) {
		log_guest("virtio-blk: request header too short (%u bytes)", c->out_len);
		blk_finish(bq, c->head, status, VIRTIO_BLK_S_IOERR, 1);
		return;
	}
	virtq_chain_read(c, 0, &hdr, sizeof(hdr));
	if (rate_limiter_is_limited(&b->rl)) {
		/* Data bytes of reads and writes, one op for every request. */
		uint64_t bytes = hdr.type == VIRTIO_BLK_T_IN	? c->in_len - 1u
				 : hdr.type == VIRTIO_BLK_T_OUT ? c->out_len - BLK_HDR_BYTES
								: 0;
		rate_limiter_charge(&b->rl, bytes, 1);
	}

	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		atomic_fetch_add_explicit(&b->nr_reads, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&b->read_bytes, c->in_len - 1u, memory_order_relaxed);
		st = blk_submit(bq, c, status, DISK_OP_READ, hdr.sector);
		break;
	case VIRTIO_BLK_T_OUT:
		atomic_fetch_add_explicit(&b->nr_writes, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&b->write_bytes, c->out_len - BLK_HDR_BYTES,
					  memory_order_relaxed);
		st = blk_submit(bq, c, status, DISK_OP_WRITE, hdr.sector);
		break;
	case VIRTIO_BLK_T_FLUSH:
		atomic_fetch_add_explicit(&b->nr_flushes, 1, memory_order_relaxed);
		/* Nothing can be dirty on a read-only image. */
		st = b->disk.is_read_only ? VIRTIO_BLK_S_OK
					  : blk_submit(bq, c, status, DISK_OP_FLUSH, 0);
		break;
	case VIRTIO_BLK_T_GET_ID: {
		size_t n = c->in_len - 1u;

		if (c->out_len != BLK_HDR_BYTES) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (n > VIRTIO_BLK_ID_BYTES)
			n = VIRTIO_BLK_ID_BYTES;
		virtq_chain_write(c, 0, b->id, n);
		used_len = (uint32_t)n + 1;
		st = VIRTIO_BLK_S_OK;
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		atomic_fetch_add_explicit(&b->nr_discards, 1, memory_order_relaxed);
		st = blk_discard(bq, c, hdr.type);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (st < 0)
		return; /* in the disk queue */
	if (st != VIRTIO_BLK_S_OK)
		used_len = 1;
	blk_finish(bq, c->head, status, (uint8_t)st, used_len);
}

/* Pops and starts everything available, reaps what finished, and interrupts once. */
static void blk_queue_run(struct blk_queue *bq)
{
	struct virtq *vq = bq->vq;
	int r = 0;

	for (;;) {
		bq->is_starved = false;
		bq->is_throttled = false;
		virtq_disable_notify(vq);
		for (;;) {
			if (!bq->free) {
				/* Kicks stay off; a completion restarts us. */
				bq->is_starved = true;
				break;
			}
			if (rate_limiter_is_limited(&bq->blk->rl)) {
				uint64_t wait = rate_limiter_wait(&bq->blk->rl);
				if (wait) {
					/* Delayed, never failed: the timer restarts us. */
					rate_limiter_arm_timer(bq->rl_timer_fd, wait);
					bq->is_throttled = true;
					break;
				}
			}
			r = virtq_pop(vq, &bq->chain);
			if (r <= 0)
				break;
			blk_handle_chain(bq, &bq->chain);
			if (bq->worker && worker_should_yield(bq->worker))
				break;
		}
		disk_queue_submit(&bq->dq);
		disk_queue_reap(&bq->dq, false, blk_io_done, bq);
		if (r < 0) {
			log_guest("virtio-blk: queue %u broken by the driver", bq->index);
			virtio_mmio_set_needs_reset(bq->blk->t);
			break;
		}
		if (bq->is_throttled)
			break; /* notifications stay off until the timer */
		if (bq->is_starved) {
			if (bq->free)
				continue;
			break;
		}
		if (r == 1)
			break; /* yielding: the resume call picks the rest up */
		if (!virtq_enable_notify(vq))
			break;
	}
	if (bq->needs_signal) {
		bq->needs_signal = false;
		virtio_mmio_signal_used(bq->blk->t, bq->index);
	}
}

static void blk_on_kick(struct worker *w, int fd, uint32_t events, void *arg)
{
	(void)w;
	(void)events;
	worker_eventfd_drain(fd);
	blk_queue_run(arg);
}

static void blk_on_rl_timer(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct blk_queue *bq = arg;
	uint64_t n;

	(void)w;
	if (read(fd, &n, sizeof(n)) < 0 && !events)
		return; /* the after-resume call with nothing expired: kicks restart us */
	blk_queue_run(bq);
}

static void blk_on_completion(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct blk_queue *bq = arg;

	(void)w;
	(void)events;
	worker_eventfd_drain(fd);
	disk_queue_reap(&bq->dq, false, blk_io_done, bq);
	if (bq->is_starved) {
		blk_queue_run(bq);
		return;
	}
	if (bq->needs_signal) {
		bq->needs_signal = false;
		virtio_mmio_signal_used(bq->blk->t, bq->index);
	}
}

/* --- transport hooks --- */

static uint64_t blk_features(void *dev)
{
	return ((struct virtio_blk *)dev)->features;
}

static void blk_config_read(void *dev, uint32_t offset, void *data, unsigned size)
{
	struct virtio_blk *b = dev;

	memset(data, 0, size);
	if (offset < VIRTIO_BLK_CFG_SIZE && size <= VIRTIO_BLK_CFG_SIZE - offset)
		memcpy(data, b->config + offset, size);
}

static void blk_queue_free(struct blk_queue *bq)
{
	if (!bq)
		return;
	if (bq->worker)
		worker_destroy(bq->worker); /* stops and joins it */
	if (bq->rl_timer_fd >= 0) {
		pthread_mutex_lock(&bq->blk->rl_lock);
		close(bq->rl_timer_fd);
		bq->rl_timer_fd = -1;
		pthread_mutex_unlock(&bq->blk->rl_lock);
	}
	/* Requests still in the kernel may write guest memory: wait for them. */
	disk_queue_fini(&bq->dq);
	free(bq->reqs);
	free(bq);
}

static void blk_reset(void *dev)
{
	struct virtio_blk *b = dev;

	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		blk_queue_free(b->queues[i]);
		b->queues[i] = NULL;
	}
	b->t = NULL;
}

static int blk_queue_start(struct virtio_blk *b, struct virtio_mmio *t, unsigned i,
			   struct virtq *vq)
{
	struct blk_queue *bq;
	char name[16];
	int r;

	bq = calloc(1, sizeof(*bq));
	if (!bq)
		return -ENOMEM;
	bq->dq.event_fd = -1;
	bq->rl_timer_fd = -1;
	bq->blk = b;
	bq->index = i;
	bq->vq = vq;
	bq->reqs = calloc(vq->size, sizeof(*bq->reqs));
	if (!bq->reqs) {
		free(bq);
		return -ENOMEM;
	}
	for (unsigned k = vq->size; k-- > 0;) {
		bq->reqs[k].bq = bq;
		blk_req_put(bq, &bq->reqs[k]);
	}
	r = disk_queue_init(&bq->dq, &b->disk, vq->size);
	if (r < 0) {
		free(bq->reqs);
		free(bq);
		return r;
	}
	b->queues[i] = bq;
	snprintf(name, sizeof(name), "blk%u-q%u", b->serial % 1000u, i % 100u);
	bq->worker = worker_create(name);
	if (!bq->worker)
		return -errno;
	r = worker_add_fd(bq->worker, virtio_mmio_notify_fd(t, i), EPOLLIN, blk_on_kick, bq);
	if (r == 0 && disk_queue_fd(&bq->dq) >= 0)
		r = worker_add_fd(bq->worker, disk_queue_fd(&bq->dq), EPOLLIN, blk_on_completion,
				  bq);
	if (r == 0) {
		pthread_mutex_lock(&b->rl_lock);
		bq->rl_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		r = bq->rl_timer_fd < 0 ? -errno : 0;
		pthread_mutex_unlock(&b->rl_lock);
		if (r == 0)
			r = worker_add_fd(bq->worker, bq->rl_timer_fd, EPOLLIN, blk_on_rl_timer,
					  bq);
	}
	if (r == 0)
		r = worker_start(bq->worker);
	return r;
}

static int blk_activate(void *dev, struct virtio_mmio *t)
{
	struct virtio_blk *b = dev;
	int r;

	b->t = t;
	for (unsigned i = 0; i < b->nr_queues; i++) {
		struct virtq *vq = virtio_mmio_queue(t, i);

		if (!vq || !vq->is_ready)
			continue;
		r = blk_queue_start(b, t, i, vq);
		if (r < 0) {
			log_error("virtio-blk: cannot start queue %u: %s", i, strerror(-r));
			blk_reset(b);
			return r;
		}
	}
	return 0;
}

static int blk_pause(void *dev)
{
	struct virtio_blk *b = dev;
	int r = 0;

	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		struct blk_queue *bq = b->queues[i];

		if (!bq)
			continue;
		if (worker_pause(bq->worker) < 0)
			r = -EINVAL;
		/* The worker is parked; finish what the kernel still has, so no one writes
		 * guest memory until resume. */
		disk_queue_submit(&bq->dq);
		while (disk_queue_inflight(&bq->dq)) {
			if (!disk_queue_reap(&bq->dq, true, blk_io_done, bq))
				break;
		}
		if (bq->needs_signal) {
			bq->needs_signal = false;
			virtio_mmio_signal_used(b->t, i);
		}
	}
	return r;
}

static int blk_resume(void *dev)
{
	struct virtio_blk *b = dev;
	int r = 0;

	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		if (b->queues[i] && worker_resume(b->queues[i]->worker) < 0)
			r = -EINVAL;
	}
	return r;
}

static void blk_destroy(void *dev)
{
	virtio_blk_destroy(dev);
}

static unsigned blk_queue_count(void *dev)
{
	return ((struct virtio_blk *)dev)->nr_queues;
}

/* Snapshot: the disk's identity (size, read-only); the restore side opened the image by
 * its path again and refuses one that changed. Requests in flight were completed by the
 * pause (the transport refuses to save a queue with chains in flight). */
#define BLK_STATE_MAGIC 0x4b4c4256 /* "VBLK" */
struct blk_state {
	uint32_t magic;
	uint32_t is_read_only;
	uint64_t size;
};

static long blk_save(void *dev, void *buf, size_t cap)
{
	struct virtio_blk *b = dev;
	struct blk_state st = {
	    .magic = BLK_STATE_MAGIC, .is_read_only = b->disk.is_read_only, .size = b->disk.size};

	if (cap < sizeof(st))
		return -ENOSPC;
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

static int blk_restore(void *dev, const void *buf, size_t len)
{
	struct virtio_blk *b = dev;
	struct blk_state st;

	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.magic != BLK_STATE_MAGIC)
		return -EINVAL;
	if (st.size != b->disk.size || st.is_read_only != b->disk.is_read_only)
		return -ESTALE; /* not the disk the guest knew */
	return 0;
}

const struct virtio_device_ops virtio_blk_ops = {
    .queue_count = blk_queue_count,
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    /* The ops table is shared by all disks, so it offers the most queues; the driver
	 * uses num_queues of them (config space). */
    .nr_queues = VIRTIO_MMIO_MAX_QUEUES,
    .max_queue_size = VIRTIO_BLK_QUEUE_SIZE,
    .features = blk_features,
    .config_read = blk_config_read,
    .activate = blk_activate,
    .reset = blk_reset,
    .pause = blk_pause,
    .resume = blk_resume,
    .destroy = blk_destroy,
    .save = blk_save,
    .restore = blk_restore,
};

/* backends/disk.c — raw disk images through io_uring, with a preadv/pwritev fallback.
 * See disk.h.
 *
 * Trust: offsets, lengths and iovecs come from the device, which checked them against the
 * image size and guest RAM. The kernel's results are trusted but not assumed complete: a
 * short transfer, or one the O_DIRECT fd refuses (unaligned guest buffers), is finished
 * synchronously through the buffered fd, so the device only ever sees "all" or -errno.
 */
#include "backends/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* io_uring fixed-file slots (io_uring_register_files). */
#define FIXED_DIRECT   0
#define FIXED_BUFFERED 1

static bool disk_uring_disabled_by_env(void)
{
	const char *v = getenv("ARCVMM_DISK_NO_URING");

	return v && *v && strcmp(v, "0") != 0;
}

static int disk_fail(char *err, size_t errlen, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int disk_fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

static bool disk_probe_uring(void)
{
	struct io_uring ring;

	if (disk_uring_disabled_by_env())
		return false;
	if (io_uring_queue_init(2, &ring, 0) < 0)
		return false;
	io_uring_queue_exit(&ring);
	return true;
}

int disk_open(struct disk *d, const char *path, bool is_read_only, bool is_direct, char *err,
	      size_t errlen)
{
	const char *opt = is_direct ? ",direct" : "";
	struct stat st;
	uint64_t size;
	int flags = (is_read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	int fd, r;

	memset(d, 0, sizeof(*d));
	d->fd = d->buffered_fd = -1;
	if (stat(path, &st) < 0) {
		r = -errno;
		return disk_fail(err, errlen, r, "--disk %s: %s", path, strerror(-r));
	}
	if (S_ISDIR(st.st_mode))
		return disk_fail(err, errlen, -EISDIR,
				 "--disk %s: is a directory, not a disk image", path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return disk_fail(err, errlen, -EINVAL,
				 "--disk %s: not a regular file or a block device", path);

	fd = open(path, flags);
	if (fd < 0) {
		r = -errno;
		if (!is_read_only && (r == -EACCES || r == -EROFS || r == -EPERM))
			return disk_fail(
			    err, errlen, r,
			    "--disk %s: not writable (%s); add ,ro to use it read-only", path,
			    strerror(-r));
		return disk_fail(err, errlen, r, "--disk %s: cannot open: %s", path, strerror(-r));
	}
	/* Two writers on one image corrupt it; readers may share. */
	if (flock(fd, (is_read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		r = disk_fail(err, errlen, -EBUSY,
			      "--disk %s: in use (locked by another process or another --disk)",
			      path);
		goto close_fd;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
			r = -errno;
			disk_fail(err, errlen, r, "--disk %s: cannot get the device size: %s", path,
				  strerror(-r));
			goto close_fd;
		}
		d->is_block_device = true;
	} else {
		size = (uint64_t)st.st_size;
	}
	if (size == 0) {
		r = disk_fail(err, errlen, -EINVAL, "--disk %s: the image is empty (size 0)", path);
		goto close_fd;
	}
	if (size % DISK_SECTOR_SIZE) {
		r = disk_fail(err, errlen, -EINVAL,
			      "--disk %s: size %llu is not a multiple of 512 bytes", path,
			      (unsigned long long)size);
		goto close_fd;
	}

	d->buffered_fd = d->fd = fd;
	if (is_direct) {
		d->fd = open(path, flags | O_DIRECT);
		if (d->fd < 0) {
			r = -errno;
			if (r == -EINVAL)
				disk_fail(err, errlen, r,
					  "--disk %s%s: the file system does not support O_DIRECT",
					  path, opt);
			else
				disk_fail(err, errlen, r, "--disk %s%s: cannot open: %s", path, opt,
					  strerror(-r));
			goto close_fd;
		}
	}
	d->size = size;
	d->is_read_only = is_read_only;
	d->is_direct = is_direct;
	d->has_uring = disk_probe_uring();
	if (!d->has_uring)
		log_info("--disk %s: io_uring unavailable or disabled, using preadv/pwritev", path);
	return 0;

close_fd:
	close(fd);
	d->fd = d->buffered_fd = -1;
	return r;
}

void disk_close(struct disk *d)
{
	if (d->fd >= 0 && d->fd != d->buffered_fd)
		close(d->fd);
	if (d->buffered_fd >= 0)
		close(d->buffered_fd);
	d->fd = d->buffered_fd = -1;
}

/* Can the O_DIRECT fd take this request as it is? */
static bool disk_io_is_aligned(const struct disk_io *io)
{
	if (io->offset % DISK_SECTOR_SIZE)
		return false;
	for (unsigned i = 0; i < io->iovcnt; i++) {
		if ((uintptr_t)io->iov[i].iov_base % DISK_SECTOR_SIZE ||
		    io->iov[i].iov_len % DISK_SECTOR_SIZE)
			return false;
	}
	return true;
}

/* Drops the first n bytes of io's iovecs (in place). */
static void disk_io_advance(struct disk_io *io, size_t n)
{
	while (n && io->iovcnt) {
		if (n < io->iov[0].iov_len) {
			io->iov[0].iov_base = (uint8_t *)io->iov[0].iov_base + n;
			io->iov[0].iov_len -= n;
			return;
		}
		n -= io->iov[0].iov_len;
		io->iov++;
		io->iovcnt--;
	}
}

/* Transfers the remaining `left` bytes of io at offset off with blocking calls on fd. */
static long disk_rw_sync(int fd, struct disk_io *io, uint64_t off, size_t left)
{
	while (left) {
		ssize_t n;

		/* Skip empty entries so a zero-length first iovec cannot stall the loop. */
		while (io->iovcnt && io->iov[0].iov_len == 0) {
			io->iov++;
			io->iovcnt--;
		}
		if (!io->iovcnt)
			return -EIO;
		if (io->op == DISK_OP_READ)
			n = preadv(fd, io->iov, (int)io->iovcnt, (off_t)off);
		else
			n = pwritev(fd, io->iov, (int)io->iovcnt, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			if (io->op == DISK_OP_WRITE)
				return -EIO;
			/* The image shrank under us: what is not there reads as zeros. */
			for (unsigned i = 0; i < io->iovcnt; i++)
				memset(io->iov[i].iov_base, 0, io->iov[i].iov_len);
			return 0;
		}
		disk_io_advance(io, (size_t)n);
		off += (uint64_t)n;
		left -= (size_t)n;
	}
	return 0;
}

static long disk_flush_sync(struct disk *d)
{
	if (fdatasync(d->buffered_fd) < 0)
		return -errno;
	return 0;
}

/* Does io completely with blocking calls; returns io->len or -errno. */
static long disk_do_sync(struct disk *d, struct disk_io *io)
{
	long r;

	if (io->op == DISK_OP_FLUSH)
		return disk_flush_sync(d);
	if (d->is_direct && disk_io_is_aligned(io)) {
		/* One direct call first: if the fd refuses the buffers (-EINVAL), nothing moved
		 * and the buffered fd redoes all of it; otherwise finish what is left. */
		ssize_t n;

		do {
			if (io->op == DISK_OP_READ)
				n = preadv(d->fd, io->iov, (int)io->iovcnt, (off_t)io->offset);
			else
				n = pwritev(d->fd, io->iov, (int)io->iovcnt, (off_t)io->offset);
		} while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EINVAL)
			return -errno;
		if (n >= 0) {
			disk_io_advance(io, (size_t)n);
			r = disk_rw_sync(d->buffered_fd, io, io->offset + (uint64_t)n,
					 io->len - (size_t)n);
			return r < 0 ? r : (long)io->len;
		}
	}
	r = disk_rw_sync(d->buffered_fd, io, io->offset, io->len);
	return r < 0 ? r : (long)io->len;
}

int disk_queue_init(struct disk_queue *q, struct disk *d, unsigned depth)
{
	int r;

	memset(q, 0, sizeof(*q));
	q->disk = d;
	q->event_fd = -1;
	q->depth = depth ? depth : 1;
	if (!d->has_uring)
		return 0;
	r = io_uring_queue_init(q->depth, &q->ring, 0);
	if (r < 0)
		return r;
	q->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->event_fd < 0) {
		r = -errno;
		goto exit_ring;
	}
	r = io_uring_register_eventfd(&q->ring, q->event_fd);
	if (r < 0)
		goto close_event;
	{
		int fds[2] = {d->fd, d->buffered_fd};

		/* Fixed files save a file-table lookup per request; optional. */
		q->has_fixed_files = io_uring_register_files(&q->ring, fds, 2) == 0;
	}
	q->has_uring = true;
	return 0;

close_event:
	close(q->event_fd);
	q->event_fd = -1;
exit_ring:
	io_uring_queue_exit(&q->ring);
	return r;
}

int disk_queue_fd(const struct disk_queue *q)
{
	return q->event_fd;
}

static void disk_queue_finish_sync(struct disk_queue *q, struct disk_io *io)
{
	io->result = disk_do_sync(q->disk, io);
	io->next_done = NULL;
	if (q->done_tail)
		q->done_tail->next_done = io;
	else
		q->done_head = io;
	q->done_tail = io;
}

static void disk_queue_prep(struct disk_queue *q, struct io_uring_sqe *sqe, struct disk_io *io)
{
	struct disk *d = q->disk;
	bool is_direct = d->is_direct && io->op != DISK_OP_FLUSH && disk_io_is_aligned(io);
	int fd = is_direct ? d->fd : d->buffered_fd;

	if (q->has_fixed_files)
		fd = is_direct ? FIXED_DIRECT : FIXED_BUFFERED;
	switch (io->op) {
	case DISK_OP_READ:
		io_uring_prep_readv(sqe, fd, io->iov, io->iovcnt, io->offset);
		break;
	case DISK_OP_WRITE:
		io_uring_prep_writev(sqe, fd, io->iov, io->iovcnt, io->offset);
		break;
	case DISK_OP_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	}
	if (q->has_fixed_files)
		sqe->flags |= IOSQE_FIXED_FILE;
	/* A flush starts only after everything queued before it has completed, so "flush
	 * done" really covers every write the driver saw complete, and more. */
	if (io->op == DISK_OP_FLUSH)
		sqe->flags |= IOSQE_IO_DRAIN;
	io_uring_sqe_set_data(sqe, io);
}

int disk_queue_add(struct disk_queue *q, struct disk_io *io)
{
	struct io_uring_sqe *sqe;

	if (q->nr_inflight >= q->depth)
		return -EBUSY;
	q->nr_inflight++;
	io->result = -EINPROGRESS;
	if (!q->has_uring) {
		disk_queue_finish_sync(q, io);
		return 0;
	}
	sqe = io_uring_get_sqe(&q->ring);
	if (!sqe) {
		disk_queue_submit(q);
		sqe = io_uring_get_sqe(&q->ring);
	}
	if (!sqe) {
		q->nr_sync_retries++;
		disk_queue_finish_sync(q, io);
		return 0;
	}
	disk_queue_prep(q, sqe, io);
	q->nr_unsubmitted++;
	return 0;
}

int disk_queue_submit(struct disk_queue *q)
{
	int r;

	if (!q->has_uring || !q->nr_unsubmitted)
		return 0;
	/* Requests that complete inside the submit call (page-cache hits) are reaped right
	 * after it by the caller: no need to wake the worker for them. The eventfd comes
	 * back on at the end of disk_queue_reap(). */
	if (!q->is_eventfd_off && io_uring_cq_eventfd_toggle(&q->ring, false) == 0)
		q->is_eventfd_off = true;
	do {
		r = io_uring_submit(&q->ring);
	} while (r == -EINTR);
	if (r < 0)
		return r;
	q->nr_unsubmitted = (unsigned)r >= q->nr_unsubmitted ? 0 : q->nr_unsubmitted - (unsigned)r;
	return 0;
}

/* Turns the kernel's result for io into "all of it" or -errno. */
static void disk_queue_complete(struct disk_queue *q, struct disk_io *io, int res)
{
	struct disk *d = q->disk;
	long r;

	if (io->op == DISK_OP_FLUSH) {
		io->result = res;
		if (res == -EINVAL || res == -EOPNOTSUPP || res == -EAGAIN || res == -EINTR) {
			q->nr_sync_retries++;
			io->result = disk_flush_sync(d);
		}
		return;
	}
	if (res >= 0 && (size_t)res == io->len) {
		io->result = res;
		return;
	}
	if (res >= 0) {
		/* Short: finish the rest ourselves. */
		q->nr_sync_retries++;
		disk_io_advance(io, (size_t)res);
		r = disk_rw_sync(d->buffered_fd, io, io->offset + (uint64_t)res,
				 io->len - (size_t)res);
		io->result = r < 0 ? r : (long)io->len;
		return;
	}
	if (res == -EAGAIN || res == -EINTR || res == -EINVAL || res == -EOPNOTSUPP) {
		/* Nothing was transferred: redo it all, unaligned-safe. */
		q->nr_sync_retries++;
		r = disk_rw_sync(d->buffered_fd, io, io->offset, io->len);
		io->result = r < 0 ? r : (long)io->len;
		return;
	}
	io->result = res;
}

unsigned disk_queue_reap(struct disk_queue *q, bool wait,
			 void (*done)(struct disk_io *io, void *arg), void *arg)
{
	unsigned n = 0;

	while (q->done_head) {
		struct disk_io *io = q->done_head;

		q->done_head = io->next_done;
		if (!q->done_head)
			q->done_tail = NULL;
		q->nr_inflight--;
		n++;
		done(io, arg);
	}
	if (!q->has_uring)
		return n;
	for (;;) {
		struct io_uring_cqe *cqe;
		struct disk_io *io;
		int r, res;

		r = io_uring_peek_cqe(&q->ring, &cqe);
		if (r == -EAGAIN && q->is_eventfd_off) {
			/* Later completions must wake the worker again; one that slipped in
			 * before this is caught by peeking once more. */
			io_uring_cq_eventfd_toggle(&q->ring, true);
			q->is_eventfd_off = false;
			continue;
		}
		if (r == -EAGAIN) {
			if (!wait || n || !q->nr_inflight)
				break;
			disk_queue_submit(q);
			r = io_uring_wait_cqe(&q->ring, &cqe);
			if (r == -EINTR || r == -EAGAIN)
				continue;
		}
		if (r < 0) {
			log_error("disk: io_uring completion: %s", strerror(-r));
			break;
		}
		io = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&q->ring, cqe);
		if (!io)
			continue;
		disk_queue_complete(q, io, res);
		q->nr_inflight--;
		n++;
		done(io, arg);
	}
	return n;
}

static void disk_drop(struct disk_io *io, void *arg)
{
	(void)io;
	(void)arg;
}

void disk_queue_fini(struct disk_queue *q)
{
	/* The kernel may still be writing into guest memory: wait for it. */
	disk_queue_submit(q);
	while (q->nr_inflight) {
		if (!disk_queue_reap(q, true, disk_drop, NULL))
			break; /* only on a ring error; never spin */
	}
	if (q->has_uring) {
		/* Registered files pin the image (and its lock) until the ring's deferred
		 * teardown; drop them now so a reopen right after sees the image free. */
		if (q->has_fixed_files)
			io_uring_unregister_files(&q->ring);
		io_uring_queue_exit(&q->ring);
		q->has_uring = false;
	}
	if (q->event_fd >= 0)
		close(q->event_fd);
	q->event_fd = -1;
}

int disk_discard(struct disk *d, uint64_t offset, uint64_t len)
{
	if (d->is_read_only)
		return -EROFS;
	if (fallocate(d->buffered_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)len) == 0)
		return 0;
	if (errno == EOPNOTSUPP || errno == ENOSYS)
		return 0; /* a hint the file system cannot take */
	return -errno;
}

int disk_write_zeroes(struct disk *d, uint64_t offset, uint64_t len, bool may_unmap)
{
	static const uint8_t zeroes[64 << 10];

	if (d->is_read_only)
		return -EROFS;
	if (may_unmap && fallocate(d->buffered_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   (off_t)offset, (off_t)len) == 0)
		return 0;
	if (fallocate(d->buffered_fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL)
		return -errno;
	while (len) {
		size_t chunk = len < sizeof(zeroes) ? (size_t)len : sizeof(zeroes);
		ssize_t n = pwrite(d->buffered_fd, zeroes, chunk, (off_t)offset);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

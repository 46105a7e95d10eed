/* backends/disk.h — a raw disk image (regular file or block device) and its I/O queues.
 *
 * struct disk is the opened image: size check, read-only and O_DIRECT handling. Each device
 * queue gets its own struct disk_queue, used by one thread at a time: an io_uring (liburing)
 * whose completions are announced on an eventfd, or, when io_uring is unavailable or
 * ARCVMM_DISK_NO_URING=1 is set in the environment, plain preadv/pwritev/fdatasync done at
 * once on the calling thread. Both paths report completions the same way, through
 * disk_queue_reap(), so the device code does not know which one runs.
 *
 * Trust: the caller (a device) has already checked that offsets and lengths lie inside the
 * image and that every iovec points into guest RAM; this file trusts those values. Short
 * transfers from the kernel are finished here, so a completed read or write always covers
 * the whole request or fails with -errno.
 */
#ifndef ARCVMM_BACKENDS_DISK_H
#define ARCVMM_BACKENDS_DISK_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define DISK_SECTOR_SIZE 512

struct disk {
	int fd;		 /* the image; O_DIRECT when is_direct */
	int buffered_fd; /* without O_DIRECT, for requests the direct fd refuses; == fd otherwise */
	uint64_t size;	 /* bytes, a multiple of DISK_SECTOR_SIZE */
	bool is_read_only;
	bool is_direct;
	bool is_block_device;
	bool has_uring; /* io_uring worked at open time and was not disabled */
};

/* Opens path for a `--disk` option. Checks: it exists, is a regular file or a block device
 * (not a directory), opens for writing unless is_read_only, supports O_DIRECT if asked, and
 * its size is a non-zero multiple of 512 bytes. On failure writes one line naming the
 * option and path into err and returns -errno. */
int disk_open(struct disk *d, const char *path, bool is_read_only, bool is_direct, char *err,
	      size_t errlen);
void disk_close(struct disk *d);

enum disk_op {
	DISK_OP_READ,
	DISK_OP_WRITE,
	DISK_OP_FLUSH, /* fdatasync: completes after every write completed before it is on disk */
};

/* One request. The caller owns it until disk_queue_reap() hands it back; the backend may
 * modify iov[] (to resume a short transfer). */
struct disk_io {
	enum disk_op op;
	uint64_t offset; /* bytes */
	struct iovec *iov;
	unsigned iovcnt;
	size_t len;		   /* sum of iov lengths */
	long result;		   /* on completion: len, or -errno */
	struct disk_io *next_done; /* backend-private */
};

struct disk_queue {
	struct disk *disk;
	bool has_uring;
	bool has_fixed_files; /* the two disk fds are registered with the ring */
	bool is_eventfd_off;  /* completion eventfd muted between submit and reap */
	unsigned depth;
	struct io_uring ring;
	int event_fd; /* readable when completions are waiting (io_uring only; else -1) */
	unsigned nr_unsubmitted;	       /* prepared SQEs not yet given to the kernel */
	unsigned nr_inflight;		       /* added, not yet reaped */
	struct disk_io *done_head, *done_tail; /* finished without io_uring, not yet reaped */
	uint64_t nr_sync_retries; /* short or refused transfers finished synchronously */
};

/* Sets up a queue for at most depth requests in flight. Falls back to synchronous I/O
 * when the disk has no io_uring. Returns 0 or -errno. */
int disk_queue_init(struct disk_queue *q, struct disk *d, unsigned depth);
/* Waits for every request still in flight (their results are dropped: the caller must not
 * care any more, e.g. on device reset), then frees the queue. */
void disk_queue_fini(struct disk_queue *q);
/* The completion eventfd to poll, or -1 when every request completes inside add(). */
int disk_queue_fd(const struct disk_queue *q);

/* Queues io. With io_uring it is prepared and sent to the kernel by the next
 * disk_queue_submit(); without, it is done right away. Either way its result is delivered
 * by disk_queue_reap(). Returns 0, or -EBUSY if depth requests are already in flight. */
int disk_queue_add(struct disk_queue *q, struct disk_io *io);
/* Sends prepared requests to the kernel. Returns 0 or -errno. The caller must call
 * disk_queue_reap() afterwards (completion eventfd notifications are muted in between). */
int disk_queue_submit(struct disk_queue *q);
/* Calls done(io, arg) for every finished request (io->result set). With wait, blocks
 * until at least one finishes if any is in flight. Returns the number reaped. */
unsigned disk_queue_reap(struct disk_queue *q, bool wait,
			 void (*done)(struct disk_io *io, void *arg), void *arg);
static inline unsigned disk_queue_inflight(const struct disk_queue *q)
{
	return q->nr_inflight;
}

/* Synchronous range operations (rare; done on the calling thread). offset and len are
 * bytes inside the disk. Discard deallocates (punches a hole; reads then return zeros);
 * it returns 0 where the file system cannot deallocate (discard is only a hint).
 * Write-zeroes makes the range read as zeros, deallocating it if may_unmap. Both return 0
 * or -errno. */
int disk_discard(struct disk *d, uint64_t offset, uint64_t len);
int disk_write_zeroes(struct disk *d, uint64_t offset, uint64_t len, bool may_unmap);

#endif

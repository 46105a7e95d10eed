/* devices/virtio_blk.h — virtio block device (device ID 2) over a raw image (backends/disk).
 *
 * vm.c: struct virtio_blk *b = virtio_blk_create(mem, &cfg->disks[i], err, sizeof(err));
 *       t = virtio_mmio_create(mem, base, gsi, &virtio_blk_ops, b);
 * virtio_mmio_destroy(t) frees b through ops->destroy. A disk that is never handed to a
 * transport is freed with virtio_blk_destroy().
 *
 * Offers: FLUSH (a volatile write cache: flush = fdatasync), SEG_MAX, BLK_SIZE (512), MQ
 * (num_queues = the --disk queues= value, one worker thread per queue), DISCARD and
 * WRITE_ZEROES (punch hole / zero range) on writable disks, RO on read-only ones, GET_ID
 * (the id= value), indirect descriptors and EVENT_IDX.
 */
#ifndef ARCVMM_DEVICES_VIRTIO_BLK_H
#define ARCVMM_DEVICES_VIRTIO_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "mem/guest_mem.h"
#include "virtio/mmio.h"

/* Request types and status values (virtio 1.x, 5.2.6). */
#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK		  0
#define VIRTIO_BLK_S_IOERR	  1
#define VIRTIO_BLK_S_UNSUPP	  2

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_MQ		  12
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_ID_BYTES	      20
#define VIRTIO_BLK_WRITE_ZEROES_UNMAP 1 /* discard/write-zeroes segment flag */

/* The request header at the start of the driver's readable buffers. */
struct virtio_blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* One discard / write-zeroes segment. */
struct virtio_blk_discard_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* Config space offsets used here (5.2.4). */
#define VIRTIO_BLK_CFG_CAPACITY			0
#define VIRTIO_BLK_CFG_SEG_MAX			12
#define VIRTIO_BLK_CFG_BLK_SIZE			20
#define VIRTIO_BLK_CFG_NUM_QUEUES		34
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS	36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG		40
#define VIRTIO_BLK_CFG_DISCARD_ALIGNMENT	44
#define VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS 48
#define VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG	52
#define VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP	56
#define VIRTIO_BLK_CFG_SIZE			60

/* Limits the device announces. */
#define VIRTIO_BLK_QUEUE_SIZE	   256
#define VIRTIO_BLK_SEG_MAX	   126 /* data buffers per request */
#define VIRTIO_BLK_MAX_DISCARD_SEG 32

struct virtio_blk;

extern const struct virtio_device_ops virtio_blk_ops;

/* Opens and checks the image named by cfg (see disk_open). Returns NULL with one line in
 * err naming the option and the path, e.g. "--disk /x/d.img: size 1000 is not a multiple
 * of 512 bytes". mem must outlive the device. */
struct virtio_blk *virtio_blk_create(const struct guest_mem *mem, const struct vm_disk_config *cfg,
				     char *err, size_t errlen);
/* Frees a device that was never given to a transport (the transport calls ops->destroy). */
void virtio_blk_destroy(struct virtio_blk *b);

/* Statistics (racy reads, for tests and benches). */
struct virtio_blk_stats {
	uint64_t nr_requests;	/* completed, any status */
	uint64_t nr_errors;	/* completed with IOERR or UNSUPP */
	uint64_t nr_bad_chains; /* chains without a writable status byte: dropped with len 0 */
	uint64_t nr_reads, nr_writes, nr_flushes, nr_discards; /* started, by kind */
	uint64_t read_bytes, write_bytes;
	bool has_uring;
};
void virtio_blk_get_stats(const struct virtio_blk *b, struct virtio_blk_stats *st);

/* Changes the disk's rate limiter at run time (any thread; the API's PUT/PATCH /drives).
 * A zero config removes the limit. Requests over the limit are delayed, never failed.
 * Returns 0. */
int virtio_blk_set_rate_limiter(struct virtio_blk *b, const struct rate_limiter_config *cfg);
/* How many times a queue had to wait for the limiter. */
uint64_t virtio_blk_nr_throttled(struct virtio_blk *b);

#endif

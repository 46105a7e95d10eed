/* devices/virtio_balloon.h — virtio memory balloon (device ID 5): the guest hands pages
 * back and the host really frees them (holes punched in the RAM memfd).
 *
 * vm.c: struct virtio_balloon *b = virtio_balloon_create(mem, spec, err, errlen);
 *       t = virtio_mmio_create(mem, base, gsi, &virtio_balloon_ops, b);
 * virtio_mmio_destroy(t) frees b through ops->destroy.
 *
 * Control-plane calls (any thread; for libarcvmm and the API's /balloon endpoints):
 * virtio_balloon_set_target(), virtio_balloon_get_config(), virtio_balloon_get_stats(),
 * virtio_balloon_set_stats_interval(). They take the device's own lock, never the
 * transport's, and never wait on the guest.
 *
 * Trust: every PFN and every reported range comes from the guest and is checked against
 * RAM through guest_mem_ptr() before anything is freed; the spec string is user input.
 */
#ifndef ARCVMM_DEVICES_VIRTIO_BALLOON_H
#define ARCVMM_DEVICES_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "virtio/mmio.h"

#define VIRTIO_ID_BALLOON 5

/* Feature bits (virtio 1.x, 5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ	1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON	4
#define VIRTIO_BALLOON_F_PAGE_REPORTING 5

#define VIRTIO_BALLOON_PAGE_SHIFT 12 /* PFNs are always 4 KiB frames */

/* Statistics tags (5.5.6.3). */
#define VIRTIO_BALLOON_S_SWAP_IN      0
#define VIRTIO_BALLOON_S_SWAP_OUT     1
#define VIRTIO_BALLOON_S_MAJFLT	      2
#define VIRTIO_BALLOON_S_MINFLT	      3
#define VIRTIO_BALLOON_S_MEMFREE      4
#define VIRTIO_BALLOON_S_MEMTOT	      5
#define VIRTIO_BALLOON_S_AVAIL	      6
#define VIRTIO_BALLOON_S_CACHES	      7
#define VIRTIO_BALLOON_S_HTLB_PGALLOC 8
#define VIRTIO_BALLOON_S_HTLB_PGFAIL  9
#define VIRTIO_BALLOON_S_NR	      10

/* What the user asked for (--balloon / the JSON "balloon" object). */
struct virtio_balloon_config {
	uint32_t amount_mib; /* initial target: MiB the guest should give back */
	bool deflate_on_oom;
	uint32_t stats_polling_interval_s; /* 0: no statistics queue */
	bool free_page_reporting;
};

/* Firecracker's GET /balloon/statistics fields; a stat the guest never sent reads
 * has[tag] == false (Firecracker leaves it out of the JSON). */
struct virtio_balloon_stats {
	uint32_t target_pages, actual_pages, target_mib, actual_mib;
	bool has[VIRTIO_BALLOON_S_NR];
	/* swap_in, swap_out, major_faults, minor_faults, free_memory, total_memory,
	 * available_memory, disk_caches, hugetlb_allocations, hugetlb_failures, by tag */
	uint64_t value[VIRTIO_BALLOON_S_NR];
	/* Device counters (not in Firecracker): what the host really freed and refused. */
	uint64_t nr_inflated_pages, nr_deflated_pages, nr_reported_bytes, nr_punched_bytes;
	uint64_t nr_bad_pfns, nr_bad_chains, nr_punch_errors, nr_stats_updates;
};

/* Firecracker's names for the stat tags above ("swap_in", ... "hugetlb_failures"). */
extern const char *const virtio_balloon_stat_names[VIRTIO_BALLOON_S_NR];

extern const struct virtio_device_ops virtio_balloon_ops;

/* "target=SIZE[,deflate_on_oom][,stats=SECONDS][,free_page_reporting]" (SIZE like
 * --memory: 256M, 1G; a bare number is MiB). Also "amount_mib=N". 0 or -EINVAL with err. */
int virtio_balloon_parse_spec(struct virtio_balloon_config *c, const char *spec, char *err,
			      size_t errlen);

/* Creates the device for RAM mem (which must outlive it). Checks the target against the
 * RAM size. Returns NULL with errno set and err filled. */
struct virtio_balloon *virtio_balloon_create(const struct guest_mem *mem,
					     const struct virtio_balloon_config *cfg, char *err,
					     size_t errlen);

/* PUT/PATCH /balloon amount_mib: moves the target and raises the config interrupt.
 * Returns 0, or -EINVAL if amount_mib is larger than guest RAM. */
int virtio_balloon_set_target(struct virtio_balloon *b, uint32_t amount_mib);
/* GET /balloon: the current configuration (amount_mib is the target). */
void virtio_balloon_get_config(struct virtio_balloon *b, struct virtio_balloon_config *out);
/* The target and what the driver says it holds (config num_pages and actual), in MiB,
 * with or without statistics (for the reclaim policy, core/reclaim.c). */
void virtio_balloon_get_sizes(struct virtio_balloon *b, uint32_t *target_mib, uint32_t *actual_mib);
/* GET /balloon/statistics. Returns 0, or -ENOTSUP if statistics were not enabled at boot
 * (Firecracker answers 400 then). */
int virtio_balloon_get_stats(struct virtio_balloon *b, struct virtio_balloon_stats *out);
/* PATCH /balloon/statistics. 0, or -ENOTSUP when statistics were off at boot (a nonzero
 * interval cannot be enabled later), -EINVAL when asked to turn them off (0). */
int virtio_balloon_set_stats_interval(struct virtio_balloon *b, uint32_t seconds);

/* --- the parsers, exported for the fuzzer and tests (pure: no device, no threads) --- */

/* Gives back [gpa, gpa+len) of mem to the host: fallocate(PUNCH_HOLE) on the memfd, or
 * madvise(MADV_DONTNEED) for caller-owned RAM. The range is checked against RAM first and
 * must be page aligned. Returns 0, -EFAULT (not RAM), -EINVAL (unaligned) or -errno. */
int virtio_balloon_discard(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* Parses an inflate/deflate buffer (an array of le32 PFNs, len bytes; a trailing partial
 * entry is ignored). Contiguous PFNs are merged; each run is checked against RAM. With
 * do_discard, valid runs are discarded. Adds to *nr_good / *nr_bad (pages). Returns 0 or
 * -EFAULT if any PFN was bad. */
int virtio_balloon_parse_pfns(const struct guest_mem *mem, const void *buf, size_t len,
			      bool do_discard, uint64_t *nr_good, uint64_t *nr_bad);
/* Parses a statistics buffer (packed {le16 tag, le64 val} entries) into s; unknown tags are
 * skipped. Returns the number of known entries. */
unsigned virtio_balloon_parse_stats(const void *buf, size_t len, struct virtio_balloon_stats *s);

#endif

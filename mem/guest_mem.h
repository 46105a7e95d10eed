/* mem/guest_mem.h — guest RAM and the one checked accessor.
 *
 * Guest RAM is a memfd mapped once, MAP_SHARED|MAP_NORESERVE, split into at most two
 * regions on x86: [0, low_end) and [4 GiB, 4 GiB + rest) above the 32-bit MMIO hole.
 * guest_mem_ptr() is the only way any code turns a guest physical address into a host
 * pointer: it checks that the whole range [gpa, gpa+len) lies inside one region, with
 * overflow-safe arithmetic. Everything the guest controls goes through it.
 */
#ifndef ARCVMM_MEM_GUEST_MEM_H
#define ARCVMM_MEM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 4

struct guest_region {
	uint64_t gpa;	    /* first guest physical address */
	uint64_t size;	    /* bytes; never 0 */
	uint8_t *host;	    /* host address of gpa */
	uint64_t fd_offset; /* offset of the region inside the memfd (for KVM and snapshots) */
};

struct guest_mem {
	int fd;		 /* the memfd, or -1 for a caller-supplied buffer */
	bool is_hugetlb; /* RAM on 2 MiB hugetlbfs pages (holes punched in whole 2 MiB only) */
	uint8_t *map;	 /* whole mapping (all regions, back to back) */
	uint64_t map_size;
	uint64_t ram_size; /* sum of region sizes */
	unsigned nr_regions;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
};

/* Creates RAM of ram_size bytes (a multiple of 4 KiB) laid out with the given hole:
 * RAM below hole_start, the rest from hole_end up. Returns 0 or -errno. */
int guest_mem_init(struct guest_mem *m, uint64_t ram_size, uint64_t hole_start, uint64_t hole_end);
/* RAM from a snapshot's memory file: fd (at least ram_size bytes, laid out as
 * guest_mem_init() lays out its memfd) mapped MAP_PRIVATE, so pages load from the file on
 * first touch and the guest's writes stay in this process. m->fd stays -1 (the file is
 * not the guest's to punch holes into); the caller may close fd after. 0 or -errno. */
int guest_mem_init_file(struct guest_mem *m, int fd, uint64_t ram_size, uint64_t hole_start,
			uint64_t hole_end);
/* The same with flags: GUEST_MEM_HUGETLB_2M puts RAM on 2 MiB hugetlbfs pages
 * (memfd_create MFD_HUGETLB); ram_size and hole_start must be multiples of 2 MiB, and the
 * pages are reserved at once (-ENOMEM when the host's pool, /proc/sys/vm/nr_hugepages,
 * has too few free), so a guest can never fault on a missing huge page. */
#define GUEST_MEM_HUGETLB_2M 1u
int guest_mem_init_flags(struct guest_mem *m, uint64_t ram_size, uint64_t hole_start,
			 uint64_t hole_end, unsigned flags);
/* Wraps caller-owned memory as one region at gpa 0 (tests, fuzzers, benches). */
void guest_mem_init_buffer(struct guest_mem *m, void *buf, uint64_t size);
/* Adds a caller-owned region (tests that need a second region or a gap). Returns 0 or -EINVAL. */
int guest_mem_add_buffer(struct guest_mem *m, uint64_t gpa, void *buf, uint64_t size);
void guest_mem_fini(struct guest_mem *m);

/* Host pointer for [gpa, gpa+len) if the whole range is inside one RAM region, else NULL.
 * len 0 is allowed and checks only that gpa is inside (or at the end of) a region. */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* Copies with the same check. Return 0 or -EFAULT. */
int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);
int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);
/* Highest guest physical address + 1 of RAM below the hole (region 0's end). */
uint64_t guest_mem_low_end(const struct guest_mem *m);

#endif

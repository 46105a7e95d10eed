/* mem/guest_mem.c — see guest_mem.h. Trusts nothing about gpa/len. */
#include "mem/guest_mem.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <linux/memfd.h> /* MFD_HUGE_2MB */
#include <sys/mman.h>
#include <unistd.h>

/* The x86 split of ram_size around [hole_start, hole_end), at fd offsets back to back. */
static void set_regions(struct guest_mem *m, uint64_t ram_size, uint64_t hole_start,
			uint64_t hole_end)
{
	uint64_t low = ram_size < hole_start ? ram_size : hole_start;

	m->map_size = ram_size;
	m->ram_size = ram_size;
	m->regions[0] = (struct guest_region){.gpa = 0, .size = low, .host = m->map};
	m->nr_regions = 1;
	if (ram_size > low) {
		m->regions[1] = (struct guest_region){
		    .gpa = hole_end,
		    .size = ram_size - low,
		    .host = m->map + low,
		    .fd_offset = low,
		};
		m->nr_regions = 2;
	}
}

int guest_mem_init_file(struct guest_mem *m, int fd, uint64_t ram_size, uint64_t hole_start,
			uint64_t hole_end)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (ram_size == 0 || (ram_size & 0xfff) || hole_start > hole_end || (hole_start & 0xfff) ||
	    hole_end > UINT64_MAX - ram_size)
		return -EINVAL;
	/* Lazy: nothing is read here; MAP_NORESERVE as for the memfd. */
	void *p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	m->map = p;
	set_regions(m, ram_size, hole_start, hole_end);
	madvise(m->map, ram_size, MADV_DONTDUMP);
	return 0;
}

int guest_mem_init(struct guest_mem *m, uint64_t ram_size, uint64_t hole_start, uint64_t hole_end)
{
	return guest_mem_init_flags(m, ram_size, hole_start, hole_end, 0);
}

int guest_mem_init_flags(struct guest_mem *m, uint64_t ram_size, uint64_t hole_start,
			 uint64_t hole_end, unsigned flags)
{
	bool huge = flags & GUEST_MEM_HUGETLB_2M;
	uint64_t align = huge ? (2ULL << 20) - 1 : 0xfff;
	int err;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (ram_size == 0 || (ram_size & align) || hole_start > hole_end || (hole_start & align))
		return -EINVAL;
	if (hole_end > UINT64_MAX - ram_size)
		return -EINVAL;
	m->fd = memfd_create("arcvmm-ram", MFD_CLOEXEC | (huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0));
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, (off_t)ram_size) < 0) {
		err = -errno;
		goto close_fd;
	}
	/* 4 KiB pages: MAP_NORESERVE, RAM is committed as the guest touches it (and given
	 * back by the balloon). Huge pages: no MAP_NORESERVE, so mmap reserves the whole
	 * pool share now and fails with ENOMEM instead of a SIGBUS at a guest's first touch. */
	m->map = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED | (huge ? 0 : MAP_NORESERVE), m->fd, 0);
	if (m->map == MAP_FAILED) {
		err = -errno;
		m->map = NULL;
		goto close_fd;
	}
	set_regions(m, ram_size, hole_start, hole_end);
	m->is_hugetlb = huge;
	/* Guest RAM is large and rarely shared with a child: keep it out of core dumps. */
	madvise(m->map, ram_size, MADV_DONTDUMP);
	/* Transparent huge pages for the memfd where the host lets shared memory have them
	 * (/sys/kernel/mm/transparent_hugepage/shmem_enabled = advise, within_size or always;
	 * Debian's default is never, and then this does nothing). The memfd stays what it is
	 * for: punching holes (the balloon) splits a huge page, snapshot files read it as
	 * usual. */
	if (!huge)
		madvise(m->map, ram_size, MADV_HUGEPAGE);
	return 0;

close_fd:
	close(m->fd);
	m->fd = -1;
	return err;
}

void guest_mem_init_buffer(struct guest_mem *m, void *buf, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->regions[0] = (struct guest_region){.gpa = 0, .size = size, .host = buf};
	m->nr_regions = size ? 1 : 0;
	m->ram_size = size;
}

int guest_mem_add_buffer(struct guest_mem *m, uint64_t gpa, void *buf, uint64_t size)
{
	if (m->nr_regions >= GUEST_MEM_MAX_REGIONS || size == 0 || gpa > UINT64_MAX - size)
		return -EINVAL;
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct guest_region *r = &m->regions[i];
		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EINVAL;
	}
	m->regions[m->nr_regions++] = (struct guest_region){.gpa = gpa, .size = size, .host = buf};
	m->ram_size += size;
	return 0;
}

void guest_mem_fini(struct guest_mem *m)
{
	if (m->map)
		munmap(m->map, m->map_size);
	if (m->fd >= 0)
		close(m->fd);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct guest_region *r = &m->regions[i];
		/* Written so that nothing can wrap: offset < size, then len <= size - offset. */
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off > r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

int guest_mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = guest_mem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int guest_mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = guest_mem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

uint64_t guest_mem_low_end(const struct guest_mem *m)
{
	return m->nr_regions ? m->regions[0].gpa + m->regions[0].size : 0;
}

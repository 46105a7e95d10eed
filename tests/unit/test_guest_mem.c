/* tests/unit/test_guest_mem.c — the checked guest-memory accessor at every boundary: start,
 * last byte, one past the end, zero lengths, lengths that wrap, the x86 hole, two regions.
 * Trusts nothing; no KVM needed (malloc'ed buffers, or a memfd with MAP_NORESERVE).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "arch/x86/layout.h"
#include "mem/guest_mem.h"
#include "tests/unit/test.h"

#define BUF_SIZE 0x10000ULL
#define GIB	 (1ULL << 30)

TEST(buffer_boundaries)
{
	uint8_t *buf = calloc(1, BUF_SIZE);
	struct guest_mem m;

	guest_mem_init_buffer(&m, buf, BUF_SIZE);
	CHECK(guest_mem_ptr(&m, 0, 1) == buf);
	CHECK(guest_mem_ptr(&m, 0, BUF_SIZE) == buf);
	CHECK(guest_mem_ptr(&m, 0, BUF_SIZE + 1) == NULL);
	CHECK(guest_mem_ptr(&m, BUF_SIZE - 1, 1) == buf + BUF_SIZE - 1);
	CHECK(guest_mem_ptr(&m, BUF_SIZE - 1, 2) == NULL);
	CHECK(guest_mem_ptr(&m, BUF_SIZE, 1) == NULL);
	/* len 0: inside or exactly at the end is fine, past the end is not. */
	CHECK(guest_mem_ptr(&m, 0, 0) == buf);
	CHECK(guest_mem_ptr(&m, BUF_SIZE, 0) == buf + BUF_SIZE);
	CHECK(guest_mem_ptr(&m, BUF_SIZE + 1, 0) == NULL);
	/* Lengths and addresses that would wrap a naive gpa + len check. */
	CHECK(guest_mem_ptr(&m, 1, UINT64_MAX) == NULL);
	CHECK(guest_mem_ptr(&m, BUF_SIZE - 1, UINT64_MAX) == NULL);
	CHECK(guest_mem_ptr(&m, UINT64_MAX, 2) == NULL);
	CHECK(guest_mem_ptr(&m, UINT64_MAX, 0) == NULL);
	CHECK(guest_mem_ptr(&m, 0, UINT64_MAX) == NULL);
	CHECK_EQ(guest_mem_low_end(&m), BUF_SIZE);
	free(buf);
}

TEST(empty_buffer)
{
	struct guest_mem m;
	uint8_t b;

	guest_mem_init_buffer(&m, &b, 0);
	CHECK(guest_mem_ptr(&m, 0, 0) == NULL);
	CHECK(guest_mem_ptr(&m, 0, 1) == NULL);
	CHECK_EQ(guest_mem_low_end(&m), 0);
}

TEST(read_write_helpers)
{
	uint8_t *buf = calloc(1, BUF_SIZE);
	uint8_t src[16], dst[16];
	struct guest_mem m;

	for (unsigned i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(0xa0 + i);
	guest_mem_init_buffer(&m, buf, BUF_SIZE);
	CHECK_EQ(guest_mem_write(&m, BUF_SIZE - sizeof(src), src, sizeof(src)), 0);
	CHECK(memcmp(buf + BUF_SIZE - sizeof(src), src, sizeof(src)) == 0);
	memset(dst, 0, sizeof(dst));
	CHECK_EQ(guest_mem_read(&m, BUF_SIZE - sizeof(src), dst, sizeof(dst)), 0);
	CHECK(memcmp(dst, src, sizeof(src)) == 0);
	/* One byte past the end: refused, and nothing is written or read. */
	memset(buf, 0, BUF_SIZE);
	CHECK_EQ(guest_mem_write(&m, BUF_SIZE - sizeof(src) + 1, src, sizeof(src)), -EFAULT);
	for (uint64_t i = 0; i < BUF_SIZE; i++)
		if (buf[i])
			CHECK(!"write past the end touched the buffer");
	memset(dst, 0x55, sizeof(dst));
	CHECK_EQ(guest_mem_read(&m, BUF_SIZE - sizeof(src) + 1, dst, sizeof(dst)), -EFAULT);
	CHECK_EQ(dst[0], 0x55);
	CHECK_EQ(guest_mem_read(&m, UINT64_MAX, dst, 1), -EFAULT);
	CHECK_EQ(guest_mem_write(&m, 0, src, 0), 0);
	free(buf);
}

TEST(added_region_and_gap)
{
	uint8_t *lo = calloc(1, 0x1000), *hi = calloc(1, 0x1000);
	struct guest_mem m;

	guest_mem_init_buffer(&m, lo, 0x1000);
	CHECK_EQ(guest_mem_add_buffer(&m, 0x3000, hi, 0x1000), 0);
	/* Overlaps and wraps are refused. */
	CHECK_EQ(guest_mem_add_buffer(&m, 0x3800, hi, 0x1000), -EINVAL);
	CHECK_EQ(guest_mem_add_buffer(&m, UINT64_MAX - 0x10, hi, 0x1000), -EINVAL);
	CHECK(guest_mem_ptr(&m, 0x3000, 0x1000) == hi);
	CHECK(guest_mem_ptr(&m, 0x2fff, 1) == NULL); /* just below the region */
	CHECK(guest_mem_ptr(&m, 0x1000, 1) == NULL); /* in the gap */
	CHECK(guest_mem_ptr(&m, 0x0fff, 2) == NULL); /* straddles low end and gap */
	CHECK(guest_mem_ptr(&m, 0x2fff, 2) == NULL); /* straddles gap and region */
	CHECK(guest_mem_ptr(&m, 0x3fff, 1) == hi + 0xfff);
	CHECK(guest_mem_ptr(&m, 0x4000, 1) == NULL);
	CHECK_EQ(m.ram_size, 0x2000);
	CHECK_EQ(guest_mem_low_end(&m), 0x1000);
	free(lo);
	free(hi);
}

TEST(x86_small_no_hole)
{
	struct guest_mem m;

	CHECK_EQ(guest_mem_init(&m, 128ULL << 20, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	CHECK_EQ(m.nr_regions, 1);
	CHECK_EQ(guest_mem_low_end(&m), 128ULL << 20);
	CHECK(guest_mem_ptr(&m, (128ULL << 20) - 1, 1) != NULL);
	CHECK(guest_mem_ptr(&m, 128ULL << 20, 1) == NULL);
	CHECK(guest_mem_ptr(&m, X86_HIGH_RAM_START, 1) == NULL);
	guest_mem_fini(&m);
}

TEST(x86_exactly_at_hole)
{
	struct guest_mem m;

	CHECK_EQ(guest_mem_init(&m, 3 * GIB, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	CHECK_EQ(m.nr_regions, 1);
	CHECK_EQ(guest_mem_low_end(&m), X86_MMIO_HOLE_START);
	CHECK(guest_mem_ptr(&m, X86_MMIO_HOLE_START - 1, 1) != NULL);
	CHECK(guest_mem_ptr(&m, X86_MMIO_HOLE_START, 1) == NULL);
	CHECK(guest_mem_ptr(&m, X86_HIGH_RAM_START, 0) == NULL);
	guest_mem_fini(&m);
}

TEST(x86_two_regions)
{
	const uint64_t ram = 6 * GIB, high = ram - X86_MMIO_HOLE_START;
	struct guest_mem m;
	uint8_t *lo_last, *hi_first, *hi_last;
	uint32_t v = 0x12345678, r = 0;

	CHECK_EQ(guest_mem_init(&m, ram, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	CHECK_EQ(m.nr_regions, 2);
	CHECK_EQ(m.ram_size, ram);
	CHECK_EQ(guest_mem_low_end(&m), X86_MMIO_HOLE_START);
	CHECK_EQ(m.regions[1].gpa, X86_HIGH_RAM_START);
	CHECK_EQ(m.regions[1].size, high);

	lo_last = guest_mem_ptr(&m, X86_MMIO_HOLE_START - 1, 1);
	hi_first = guest_mem_ptr(&m, X86_HIGH_RAM_START, 1);
	hi_last = guest_mem_ptr(&m, X86_HIGH_RAM_START + high - 1, 1);
	CHECK(lo_last != NULL);
	CHECK(hi_first != NULL);
	CHECK(hi_last != NULL);
	/* The memfd is laid out back to back: high RAM follows low RAM in the mapping. */
	CHECK(hi_first == lo_last + 1);
	CHECK(hi_last == m.map + ram - 1);
	/* The hole, and ranges that straddle its edges. */
	CHECK(guest_mem_ptr(&m, X86_MMIO_HOLE_START, 1) == NULL);
	CHECK(guest_mem_ptr(&m, X86_IOAPIC_ADDR, 4) == NULL);
	CHECK(guest_mem_ptr(&m, X86_HIGH_RAM_START - 1, 1) == NULL);
	CHECK(guest_mem_ptr(&m, X86_MMIO_HOLE_START - 1, 2) == NULL);
	CHECK(guest_mem_ptr(&m, X86_HIGH_RAM_START - 1, 2) == NULL);
	/* High region end. */
	CHECK(guest_mem_ptr(&m, X86_HIGH_RAM_START + high, 1) == NULL);
	CHECK(guest_mem_ptr(&m, X86_HIGH_RAM_START + high, 0) != NULL);
	CHECK(guest_mem_ptr(&m, X86_HIGH_RAM_START, high) == hi_first);
	CHECK(guest_mem_ptr(&m, X86_HIGH_RAM_START, high + 1) == NULL);
	CHECK(guest_mem_ptr(&m, X86_HIGH_RAM_START + 1, UINT64_MAX) == NULL);
	/* Read back through the helpers in the high region. */
	CHECK_EQ(guest_mem_write(&m, X86_HIGH_RAM_START + 0x1000, &v, sizeof(v)), 0);
	CHECK_EQ(guest_mem_read(&m, X86_HIGH_RAM_START + 0x1000, &r, sizeof(r)), 0);
	CHECK_EQ(r, v);
	CHECK_EQ(guest_mem_write(&m, X86_HIGH_RAM_START - 2, &v, sizeof(v)), -EFAULT);
	guest_mem_fini(&m);
	CHECK_EQ(m.nr_regions, 0);
	CHECK_EQ(m.fd, -1);
}

TEST(init_rejects_bad_sizes)
{
	struct guest_mem m;

	CHECK_EQ(guest_mem_init(&m, 0, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), -EINVAL);
	CHECK_EQ(guest_mem_init(&m, 0x1001, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), -EINVAL);
	CHECK_EQ(guest_mem_init(&m, 0x1000, X86_MMIO_HOLE_END, X86_MMIO_HOLE_START), -EINVAL);
	CHECK_EQ(guest_mem_init(&m, 0x2000, 0x1000, UINT64_MAX - 0x1000), -EINVAL);
}

/* HugePages_Free from /proc/meminfo, or -1. */
static long huge_free(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

TEST(hugetlb)
{
	struct guest_mem m;
	const uint64_t mib = 1ULL << 20;

	/* 2 MiB alignment of the size and of the hole. */
	CHECK_EQ(guest_mem_init_flags(&m, 3 * mib, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END,
				      GUEST_MEM_HUGETLB_2M),
		 -EINVAL);
	CHECK_EQ(guest_mem_init_flags(&m, 4 * mib, mib, 8 * mib, GUEST_MEM_HUGETLB_2M), -EINVAL);
	long before = huge_free();
	int r = guest_mem_init_flags(&m, 4 * mib, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END,
				     GUEST_MEM_HUGETLB_2M);
	if (before >= 0 && before < 2) {
		/* Too small a pool: refused at once (no SIGBUS later at a first touch). */
		CHECK_EQ(r, -ENOMEM);
		return;
	}
	if (r == -ENOMEM || r == -EINVAL || r == -ENOSYS) {
		printf("  (skipped: no usable hugetlbfs pool here: %s)\n", strerror(-r));
		return;
	}
	CHECK_EQ(r, 0);
	CHECK(m.is_hugetlb);
	/* Reserved at creation: the pool's free-minus-reserved count dropped by 2. */
	uint8_t *p = guest_mem_ptr(&m, 0, 4 * mib);
	CHECK(p != NULL);
	memset(p, 0x5a, 4 * mib);
	CHECK_EQ(huge_free(), before - 2);
	guest_mem_fini(&m);
	CHECK_EQ(huge_free(), before);
}

int main(void)
{
	RUN(buffer_boundaries);
	RUN(empty_buffer);
	RUN(read_write_helpers);
	RUN(added_region_and_gap);
	RUN(x86_small_no_hole);
	RUN(x86_exactly_at_hole);
	RUN(x86_two_regions);
	RUN(init_rejects_bad_sizes);
	RUN(hugetlb);
	return test_summary();
}

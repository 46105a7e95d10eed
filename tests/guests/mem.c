/* tests/guests/mem.c — the memory guest (mem.elf, mem.bzImage).
 *
 * Reads the memory map it was given (PVH memmap or e820 in boot_params), prints every entry
 * and "GUEST-MEM total_kb=<RAM KiB> regions=<RAM entries>", then checks, in this order:
 *  1. there is at least one RAM (type 1) entry and no RAM entry is empty or wraps around;
 *  2. no two RAM entries overlap;
 *  3. no RAM entry overlaps [0x9fc00, 0x100000) (MP table / BIOS area) or the 32-bit MMIO
 *     hole [0xc0000000, 0x100000000);
 *  4. "expect_mb=<n>" is on the command line and total RAM == n MiB - 0x60400 bytes (the
 *     0x9fc00..0x100000 hole);
 *  5. memory test: a qword at the start and end of every RAM entry and at every 2 MiB
 *     boundary inside it gets a value derived from its address (so aliasing shows), all are
 *     read back, then the same with the complement of each value. The guest's live image
 *     (code, data, stack, page tables) is skipped; its dead boot code is not.
 * Prints "GUEST-MEM-PASS", or "GUEST-MEM-FAIL <why>" for the first failed check.
 * Trusts: rt.c's copy of the memory map (it checks the rest here).
 */
#include "rt.h"

#define RESERVED_LOW_START 0x9fc00ULL
#define RESERVED_LOW_END   0x100000ULL
#define MMIO_HOLE_START	   0xc0000000ULL
#define MMIO_HOLE_END	   0x100000000ULL
#define PROBE_STRIDE	   (2 * RT_MIB)
#define PATTERN		   0x5a3cc3a5f00f9669ULL

static void fail(const char *why, uint64_t a, uint64_t b)
{
	rt_puts("GUEST-MEM-FAIL ");
	rt_puts(why);
	if (a != UINT64_MAX) {
		rt_putc(' ');
		rt_putx(a);
	}
	if (b != UINT64_MAX) {
		rt_putc(' ');
		rt_putx(b);
	}
	rt_putc('\n');
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool is_live(uint64_t addr)
{
	return addr + 8 > (uint64_t)(uintptr_t)_live_start &&
	       addr < (uint64_t)(uintptr_t)_image_end;
}

/* Calls fn on every probe address of every RAM entry. Returns the first non-zero result. */
static int for_each_probe(int (*fn)(uint64_t addr, uint64_t flip), uint64_t flip, uint64_t *count)
{
	for (unsigned i = 0; i < rt_map_count; i++) {
		const struct rt_region *r = &rt_map[i];
		uint64_t last, a;
		int err;

		if (r->type != RT_E820_RAM || r->size < 8)
			continue;
		last = (r->addr + r->size - 8) & ~7ULL;
		a = (r->addr + 7) & ~7ULL;
		while (a <= last) {
			if (!is_live(a)) {
				err = fn(a, flip);
				if (err)
					return err;
				(*count)++;
			}
			if (a == last)
				break;
			/* next 2 MiB boundary, or the last qword */
			a = (a + PROBE_STRIDE) & ~(PROBE_STRIDE - 1);
			if (a > last)
				a = last;
		}
	}
	return 0;
}

static uint64_t pattern(uint64_t addr, uint64_t flip)
{
	return (addr * 0x9e3779b97f4a7c15ULL ^ PATTERN) ^ flip;
}

static int probe_write(uint64_t addr, uint64_t flip)
{
	*(volatile uint64_t *)rt_phys(addr) = pattern(addr, flip);
	return 0;
}

static uint64_t bad_addr, bad_val;

static int probe_check(uint64_t addr, uint64_t flip)
{
	uint64_t v = *(volatile uint64_t *)rt_phys(addr);

	if (v == pattern(addr, flip))
		return 0;
	bad_addr = addr;
	bad_val = v;
	return -1;
}

static int check_map(uint64_t total)
{
	uint64_t expect_mb, max_end = 0;
	unsigned ram = 0;

	for (unsigned i = 0; i < rt_map_count; i++) {
		const struct rt_region *r = &rt_map[i];

		if (r->type != RT_E820_RAM)
			continue;
		ram++;
		if (!r->size || r->addr + r->size < r->addr) {
			fail("RAM entry empty or wrapping at", r->addr, r->size);
			return -1;
		}
		if (r->addr + r->size > max_end)
			max_end = r->addr + r->size;
		for (unsigned j = 0; j < i; j++) {
			const struct rt_region *s = &rt_map[j];

			if (s->type == RT_E820_RAM &&
			    overlaps(r->addr, r->size, s->addr, s->size)) {
				fail("RAM entries overlap at", r->addr, s->addr);
				return -1;
			}
		}
		if (overlaps(r->addr, r->size, RESERVED_LOW_START,
			     RESERVED_LOW_END - RESERVED_LOW_START)) {
			fail("RAM entry overlaps 0x9fc00..0x100000:", r->addr, r->size);
			return -1;
		}
		if (overlaps(r->addr, r->size, MMIO_HOLE_START, MMIO_HOLE_END - MMIO_HOLE_START)) {
			fail("RAM entry overlaps the MMIO hole 0xc0000000..4G:", r->addr, r->size);
			return -1;
		}
	}
	if (!ram) {
		fail("no RAM in the memory map", UINT64_MAX, UINT64_MAX);
		return -1;
	}
	if (rt_cmdline_u64("expect_mb", &expect_mb)) {
		fail("no expect_mb=<n> on the command line", UINT64_MAX, UINT64_MAX);
		return -1;
	}
	if (expect_mb * RT_MIB < RESERVED_LOW_END - RESERVED_LOW_START ||
	    total != expect_mb * RT_MIB - (RESERVED_LOW_END - RESERVED_LOW_START)) {
		rt_puts("GUEST-MEM-FAIL total ");
		rt_putu(total);
		rt_puts(" bytes, expected ");
		rt_putu(expect_mb);
		rt_puts(" MiB - 0x60400 = ");
		rt_putu(expect_mb * RT_MIB - (RESERVED_LOW_END - RESERVED_LOW_START));
		rt_putc('\n');
		return -1;
	}
	if (rt_map_identity(max_end)) {
		fail("RAM ends past what this guest can map:", max_end, UINT64_MAX);
		return -1;
	}
	return 0;
}

int guest_main(void)
{
	uint64_t total = 0, probes = 0, probes2 = 0;
	unsigned ram = 0;

	rt_puts("GUEST-MEM-BOOT ");
	rt_puts(rt_format);
	rt_putc('\n');
	for (unsigned i = 0; i < rt_map_count; i++) {
		const struct rt_region *r = &rt_map[i];

		rt_puts("GUEST-MEM-MAP addr=");
		rt_putx(r->addr);
		rt_puts(" size=");
		rt_putx(r->size);
		rt_puts(" type=");
		rt_putu(r->type);
		rt_putc('\n');
		if (r->type == RT_E820_RAM) {
			total += r->size;
			ram++;
		}
	}
	rt_puts("GUEST-MEM total_kb=");
	rt_putu(total / RT_KIB);
	rt_puts(" regions=");
	rt_putu(ram);
	rt_putc('\n');
	if (check_map(total))
		return 0;

	for_each_probe(probe_write, 0, &probes);
	if (for_each_probe(probe_check, 0, &probes2)) {
		fail("readback mismatch at/value", bad_addr, bad_val);
		return 0;
	}
	probes2 = 0;
	for_each_probe(probe_write, ~0ULL, &probes2);
	probes2 = 0;
	if (for_each_probe(probe_check, ~0ULL, &probes2)) {
		fail("readback mismatch (complement) at/value", bad_addr, bad_val);
		return 0;
	}
	rt_puts("GUEST-MEM checked=");
	rt_putu(probes);
	rt_puts(" qwords\n");
	rt_puts("GUEST-MEM-PASS\n");
	return 0;
}

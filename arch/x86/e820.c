/* arch/x86/e820.c — the guest's e820 memory map, derived from the guest RAM regions.
 *
 * Low RAM loses [X86_EBDA_ADDR, 1 MiB) to a reserved entry (the MP table lives at its start
 * and the rest is the legacy VGA/BIOS area); every other byte of RAM is reported as RAM.
 * Trusts: guest_mem (built by us); checks the caller's table size.
 */
#include "arch/x86/setup.h"

#include <errno.h>

#include "arch/x86/layout.h"

static int e820_add(struct e820_entry *map, size_t max, size_t *n, uint64_t start, uint64_t end,
		    uint32_t type)
{
	if (start >= end)
		return 0;
	if (*n >= max)
		return -ENOSPC;
	map[*n] = (struct e820_entry){.addr = start, .size = end - start, .type = type};
	(*n)++;
	return 0;
}

static uint64_t u64_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t u64_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

int x86_e820_build(const struct guest_mem *m, struct e820_entry *map, size_t max)
{
	size_t n = 0;
	int ret;

	for (unsigned i = 0; i < m->nr_regions; i++) {
		uint64_t start = m->regions[i].gpa;
		uint64_t end = start + m->regions[i].size; /* guest_mem guarantees no wrap */

		ret = e820_add(map, max, &n, start, u64_min(end, X86_EBDA_ADDR), E820_RAM);
		if (ret)
			return ret;
		ret = e820_add(map, max, &n, u64_max(start, X86_EBDA_ADDR),
			       u64_min(end, X86_LOW_RESERVED_END), E820_RESERVED);
		if (ret)
			return ret;
		ret = e820_add(map, max, &n, u64_max(start, X86_LOW_RESERVED_END), end, E820_RAM);
		if (ret)
			return ret;
	}
	return (int)n;
}

/* tests/guests/count.c — the snapshot guest (count.elf): counts rounds and prints
 * "COUNT <n>" per round on COM1 while it writes a pattern over a block of its memory, and
 * checks the previous round's pattern before overwriting it, so a restore that lost or
 * mixed up memory shows as "COUNT-BAD <round> <addr>". Ends with "COUNT-DONE <rounds>".
 *
 * Command line: rounds=<n> (default 200), mb=<MiB written per round> (default 16, from
 * 16 MiB up), delay=<million TSC cycles between rounds> (default 20), so a snapshot can
 * land mid-run. Trusts: rt.c.
 */
#include "rt.h"

#define BLOCK_START (16 * RT_MIB)
#define STRIDE	    256 /* one qword every 256 bytes: every page, cheaply */

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static uint64_t pattern(uint64_t round, uint64_t addr)
{
	return (round << 40) ^ addr ^ 0x5a5a000000000000ULL;
}

int guest_main(void)
{
	uint64_t rounds = 200, mb = 16, delay = 20;

	rt_cmdline_u64("rounds", &rounds);
	rt_cmdline_u64("mb", &mb);
	rt_cmdline_u64("delay", &delay);
	uint64_t end = BLOCK_START + mb * RT_MIB;
	if (rt_map_identity(end)) {
		rt_puts("COUNT-BAD map\n");
		rt_exit();
	}
	rt_puts("COUNT-START\n");
	for (uint64_t r = 0; r < rounds; r++) {
		for (uint64_t a = BLOCK_START; a < end; a += STRIDE) {
			volatile uint64_t *p = rt_phys(a);
			if (r > 0 && *p != pattern(r - 1, a)) {
				rt_puts("COUNT-BAD ");
				rt_putu(r);
				rt_putc(' ');
				rt_putx(a);
				rt_putc('\n');
				rt_exit();
			}
			*p = pattern(r, a);
		}
		rt_puts("COUNT ");
		rt_putu(r);
		rt_putc('\n');
		uint64_t t = rdtsc();
		while (rdtsc() - t < delay * 1000000ULL)
			__asm__ volatile("pause");
	}
	rt_puts("COUNT-DONE ");
	rt_putu(rounds);
	rt_putc('\n');
	rt_exit();
}

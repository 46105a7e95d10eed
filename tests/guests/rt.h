/* tests/guests/rt.h — the small 64-bit runtime shared by the C test guests (mem, smp, the
 * bzImage hello): COM1 output, exit through isa-debug-exit + i8042 reset, the boot
 * information (memory map and command line) copied out of hvm_start_info or boot_params,
 * and identity paging that can be extended above 4 GiB.
 *
 * Trusts: the VMM only as far as rt.c checks it (magic numbers, entry counts, lengths).
 */
#ifndef GUESTS_RT_H
#define GUESTS_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt_asm.h" /* RT_ENTRY_*: how the guest was entered */

#define RT_MAP_MAX     128
#define RT_CMDLINE_MAX 2048 /* including the NUL */
#define RT_E820_RAM    1

#define RT_KIB 1024ULL
#define RT_MIB (1024ULL * 1024)
#define RT_GIB (1024ULL * 1024 * 1024)

struct rt_region {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

extern uint32_t rt_entry_kind;
extern const char *rt_format; /* "ELF/PVH", "bzImage/64-bit", ... */
extern struct rt_region rt_map[RT_MAP_MAX];
extern unsigned rt_map_count;
extern char rt_cmdline[RT_CMDLINE_MAX];
extern bool rt_cmdline_truncated;
extern uint64_t rt_mapped_end; /* identity paging covers [0, rt_mapped_end) */

/* Symbols from the link scripts and rt_entry.S. */
extern char _image_start[], _live_start[], _image_end[];
extern uint64_t rt_pml4[512];

int guest_main(void);

void rt_putc(char c);
void rt_puts(const char *s);
void rt_putu(uint64_t v);
void rt_putx(uint64_t v);
__attribute__((noreturn)) void rt_exit(void);

/* Extends the identity map to cover [0, end). Returns 0, or -1 if end is past what the page
 * table pool can map. */
int rt_map_identity(uint64_t end);

/* Finds "key=<decimal>" as a whole word on the command line. Returns 0 and sets *v, or -1. */
int rt_cmdline_u64(const char *key, uint64_t *v);

/* bzImage entries: whether the VMM copied the setup header ("HdrS" at 0x202) into
 * boot_params, as the boot protocol asks. */
bool rt_boot_params_has_hdr(void);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);
int memcmp(const void *a, const void *b, size_t n);

/* A physical (= identity-mapped virtual) address as a pointer; hidden from the compiler's
 * bounds checks, which think low addresses are null-ish. */
static inline void *rt_phys(uint64_t addr)
{
	void *p = (void *)(uintptr_t)addr;

	__asm__("" : "+r"(p));
	return p;
}

static inline void rt_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t rt_inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rt_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void rt_cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static inline void rt_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

#endif

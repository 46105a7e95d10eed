/* tests/guests/rt.c — the C half of the test guests' runtime: serial output, exit, copying
 * the boot information out of hvm_start_info (PVH) or boot_params (bzImage), identity paging
 * above 4 GiB, and the few libc functions the compiler may call.
 *
 * Trusts: the VMM for nothing it can check: magic numbers, entry counts and string lengths are
 * bounded before use, and everything is copied into our own memory first.
 */
#include "rt.h"

#define COM1	    0x3f8
#define COM1_LSR    (COM1 + 5)
#define LSR_THRE    0x20
#define DEBUG_EXIT  0xf4
#define I8042_CMD   0x64
#define I8042_RESET 0xfe

#define PVH_MAGIC      0x336ec578
#define BP_E820_COUNT  0x1e8
#define BP_E820_TABLE  0x2d0
#define BP_HDR_MAGIC   0x202
#define BP_CMDLINE_PTR 0x228
#define BP_EXT_CMDLINE 0x0c8

uint32_t rt_entry_kind;
const char *rt_format = "?";
struct rt_region rt_map[RT_MAP_MAX];
unsigned rt_map_count;
char rt_cmdline[RT_CMDLINE_MAX];
bool rt_cmdline_truncated;
uint64_t rt_mapped_end = 4 * RT_GIB;

extern uint64_t rt_pdpt[512];
extern uint64_t rt_pd[RT_PD_PAGES][512];

void rt_start64(uint32_t kind, uint64_t info);

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++) {
		if (*p != *q)
			return *p < *q ? -1 : 1;
	}
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

void rt_putc(char c)
{
	while (!(rt_inb(COM1_LSR) & LSR_THRE))
		rt_pause();
	rt_outb(COM1, (uint8_t)c);
}

void rt_puts(const char *s)
{
	while (*s)
		rt_putc(*s++);
}

void rt_putu(uint64_t v)
{
	char buf[24];
	int i = 0;

	do {
		buf[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		rt_putc(buf[--i]);
}

void rt_putx(uint64_t v)
{
	int shift = 60;

	rt_puts("0x");
	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		rt_putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

void rt_exit(void)
{
	rt_outb(DEBUG_EXIT, 0);
	rt_outb(I8042_CMD, I8042_RESET);
	for (;;)
		__asm__ volatile("cli; hlt");
}

int rt_map_identity(uint64_t end)
{
	uint32_t a, b, c, d;
	bool has_1g;
	uint64_t gib;

	if (end <= rt_mapped_end)
		return 0;
	rt_cpuid(0x80000000, &a, &b, &c, &d);
	has_1g = false;
	if (a >= 0x80000001) {
		rt_cpuid(0x80000001, &a, &b, &c, &d);
		has_1g = d & (1u << 26);
	}
	/* One PDPT: 512 GiB at most. Without 1 GiB pages, the PD pool limits us further. */
	if (end > 512 * RT_GIB || (!has_1g && end > RT_PD_PAGES * RT_GIB))
		return -1;
	for (gib = rt_mapped_end / RT_GIB; gib * RT_GIB < end; gib++) {
		if (has_1g) {
			rt_pdpt[gib] = (gib * RT_GIB) | 0x83; /* present, writable, 1 GiB page */
			continue;
		}
		for (unsigned i = 0; i < 512; i++)
			rt_pd[gib][i] = (gib * RT_GIB + i * 2 * RT_MIB) | 0x83;
		rt_pdpt[gib] = (uint64_t)(uintptr_t)rt_pd[gib] | 0x03;
	}
	rt_mapped_end = gib * RT_GIB;
	/* Only new entries were added: no stale translations to flush, but be plain about it. */
	__asm__ volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
	return 0;
}

static bool is_word_start(const char *p)
{
	return p == rt_cmdline || p[-1] == ' ';
}

int rt_cmdline_u64(const char *key, uint64_t *v)
{
	size_t klen = strlen(key);

	for (const char *p = rt_cmdline; *p; p++) {
		uint64_t n = 0;
		const char *q;

		if (!is_word_start(p) || memcmp(p, key, klen) || p[klen] != '=')
			continue;
		q = p + klen + 1;
		if (*q < '0' || *q > '9')
			return -1;
		for (; *q >= '0' && *q <= '9'; q++) {
			if (n > (UINT64_MAX - 9) / 10)
				return -1;
			n = n * 10 + (uint64_t)(*q - '0');
		}
		if (*q && *q != ' ')
			return -1;
		*v = n;
		return 0;
	}
	return -1;
}

static void copy_cmdline(uint64_t paddr)
{
	const volatile char *src;
	size_t i;

	rt_cmdline[0] = 0;
	if (!paddr)
		return;
	if (paddr + RT_CMDLINE_MAX > rt_mapped_end && rt_map_identity(paddr + RT_CMDLINE_MAX)) {
		rt_cmdline_truncated = true;
		return;
	}
	src = (const volatile char *)rt_phys(paddr);
	for (i = 0; i < RT_CMDLINE_MAX - 1 && src[i]; i++)
		rt_cmdline[i] = src[i];
	rt_cmdline[i] = 0;
	rt_cmdline_truncated = i == RT_CMDLINE_MAX - 1 && src[i];
}

static void boot_fail(const char *why)
{
	rt_puts("GUEST-BOOT-FAIL ");
	rt_puts(why);
	rt_putc('\n');
	rt_exit();
}

static uint64_t rd64(uint64_t addr)
{
	return *(const volatile uint64_t *)rt_phys(addr);
}

static uint32_t rd32(uint64_t addr)
{
	return *(const volatile uint32_t *)rt_phys(addr);
}

/* hvm_start_info: magic, version, flags, nr_modules (u32 each), modlist_paddr, cmdline_paddr,
 * rsdp_paddr, memmap_paddr (u64 each), memmap_entries, reserved (u32 each). Memory map
 * entries: addr, size (u64), type, reserved (u32): 24 bytes. */
static void read_pvh(uint64_t si)
{
	uint64_t mm;
	uint32_t n;

	if (si >= rt_mapped_end - 64)
		boot_fail("hvm_start_info above 4 GiB");
	if (rd32(si) != PVH_MAGIC)
		boot_fail("bad hvm_start_info magic");
	copy_cmdline(rd64(si + 24));
	if (rd32(si + 4) < 1)
		return; /* version 0 has no memory map */
	mm = rd64(si + 40);
	n = rd32(si + 48);
	if (n > RT_MAP_MAX)
		boot_fail("more than 128 memory map entries");
	if (n && (mm >= rt_mapped_end || rt_mapped_end - mm < (uint64_t)n * 24))
		boot_fail("memory map above 4 GiB");
	for (uint32_t i = 0; i < n; i++) {
		rt_map[i].addr = rd64(mm + i * 24);
		rt_map[i].size = rd64(mm + i * 24 + 8);
		rt_map[i].type = rd32(mm + i * 24 + 16);
	}
	rt_map_count = n;
}

static void read_boot_params(uint64_t bp)
{
	uint8_t n;

	if (bp >= rt_mapped_end - 4096)
		boot_fail("boot_params above 4 GiB");
	n = *(const volatile uint8_t *)rt_phys(bp + BP_E820_COUNT);
	if (n > RT_MAP_MAX)
		boot_fail("more than 128 e820 entries");
	for (unsigned i = 0; i < n; i++) {
		uint64_t e = bp + BP_E820_TABLE + i * 20;

		rt_map[i].addr = rd64(e);
		rt_map[i].size = rd64(e + 8);
		rt_map[i].type = rd32(e + 16);
	}
	rt_map_count = n;
	copy_cmdline(rd32(bp + BP_CMDLINE_PTR) | ((uint64_t)rd32(bp + BP_EXT_CMDLINE) << 32));
}

static uint64_t boot_info;

void rt_start64(uint32_t kind, uint64_t info)
{
	rt_entry_kind = kind;
	boot_info = info;
	switch (kind) {
	case RT_ENTRY_PVH:
		rt_format = "ELF/PVH";
		read_pvh(info);
		break;
	case RT_ENTRY_BZ64:
		rt_format = "bzImage/64-bit";
		read_boot_params(info);
		break;
	case RT_ENTRY_BZ32:
		rt_format = "bzImage/32-bit";
		read_boot_params(info);
		break;
	case RT_ENTRY_BZ16:
		rt_format = "bzImage/16-bit";
		read_boot_params(info);
		break;
	case RT_ENTRY_ELF64:
		rt_format = "ELF/64-bit";
		read_boot_params(info);
		break;
	default:
		boot_fail("unknown entry");
	}
	guest_main();
	rt_exit();
}

bool rt_boot_params_has_hdr(void)
{
	return rt_entry_kind != RT_ENTRY_PVH && rt_entry_kind != RT_ENTRY_ELF64 &&
	       rd32(boot_info + BP_HDR_MAGIC) == 0x53726448;
}

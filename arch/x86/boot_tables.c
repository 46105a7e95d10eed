/* arch/x86/boot_tables.c — the boot GDT, the (empty) boot IDT and the identity page tables
 * (0..4 GiB with 2 MiB pages) that both entry modes start with.
 *
 * The PVH entry ignores the page tables (paging is off) but writing them costs ~24 KiB of
 * stores, so both modes get them and the vCPU setup does not depend on the mode.
 * Trusts: guest_mem; every write is checked by guest_mem_write().
 */
#include "arch/x86/setup.h"

#include <errno.h>

#include "arch/x86/layout.h"

#define PAGE_SIZE   0x1000ULL
#define PTE_PRESENT 0x1ULL
#define PTE_WRITE   0x2ULL
#define PTE_LARGE   0x80ULL /* PS: a 2 MiB page in a PD entry */
#define PD_COUNT    4	    /* 4 x 1 GiB = 0..4 GiB */
#define PAGE_2M	    0x200000ULL

/* Flat descriptors, all with base 0. Access byte 0x9b = present, ring 0, code, readable,
 * accessed; flags nibble 0xa = 4 KiB granularity + long mode, 0xc = 4 KiB granularity +
 * 32-bit default size. */
static const uint64_t boot_gdt[X86_BOOT_GDT_ENTRIES] = {
    0,			   /* null */
    0,			   /* null (Linux's __BOOT_CS is 0x10) */
    0x00af9b000000ffffULL, /* 0x10: 64-bit code */
    0x00cf93000000ffffULL, /* 0x18: data, 4 GiB */
    0x00cf9b000000ffffULL, /* 0x20: 32-bit code, 4 GiB (PVH entry) */
    0x00008b0000000067ULL, /* 0x28: 64-bit TSS, busy, base 0, limit 0x67 */
};

/* With six entries the GDT runs to 0x52f, past X86_BOOT_IDT_ADDR (0x520). Harmless: the
 * boot IDT has limit 0, so no byte of it is ever read (any vector faults on the limit). */
_Static_assert(X86_BOOT_GDT_ADDR + sizeof(boot_gdt) < X86_PVH_INFO_ADDR, "boot GDT too large");
_Static_assert(X86_GDT_TSS_SEL / 8 < X86_BOOT_GDT_ENTRIES, "TSS selector outside the GDT");

static int write_table(const struct guest_mem *m, uint64_t gpa, const uint64_t *t)
{
	return guest_mem_write(m, gpa, t, PAGE_SIZE);
}

int x86_boot_tables_write(const struct guest_mem *m)
{
	uint64_t table[PAGE_SIZE / 8];
	int ret;

	ret = guest_mem_write(m, X86_BOOT_GDT_ADDR, boot_gdt, sizeof(boot_gdt));
	if (ret)
		return ret;
	/* The IDT has limit 0: nothing to write. Any exception before the kernel loads its own
	 * IDT is a triple fault, which is what we want from a broken guest. */

	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		table[i] = 0;
	table[0] = X86_PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
	ret = write_table(m, X86_PML4_ADDR, table);
	if (ret)
		return ret;

	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		table[i] =
		    i < PD_COUNT ? (X86_PD_ADDR + i * PAGE_SIZE) | PTE_PRESENT | PTE_WRITE : 0;
	ret = write_table(m, X86_PDPT_ADDR, table);
	if (ret)
		return ret;

	for (unsigned pd = 0; pd < PD_COUNT; pd++) {
		for (unsigned i = 0; i < PAGE_SIZE / 8; i++) {
			uint64_t addr = ((uint64_t)pd * (PAGE_SIZE / 8) + i) * PAGE_2M;

			table[i] = addr | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
		}
		ret = write_table(m, X86_PD_ADDR + pd * PAGE_SIZE, table);
		if (ret)
			return ret;
	}
	return 0;
}

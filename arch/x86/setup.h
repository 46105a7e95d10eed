/* arch/x86/setup.h — builders for x86 boot tables in guest memory: e820 map, MP table,
 * Linux boot_params, PVH start_info, boot GDT/IDT and identity page tables.
 * Trusts guest_mem and its caller; checks every write against RAM.
 */
#ifndef ARCVMM_ARCH_X86_SETUP_H
#define ARCVMM_ARCH_X86_SETUP_H

#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_MAX      128

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* Fills map from the RAM regions (low RAM minus the EBDA/BIOS area, high RAM). Returns the
 * number of entries, or -ENOSPC. */
int x86_e820_build(const struct guest_mem *m, struct e820_entry *map, size_t max);
/* Writes the MP floating pointer and config table (ncpus processors, one IOAPIC with
 * X86_IOAPIC_PINS pins, ISA bus, an interrupt entry per pin, LINT0=ExtINT, LINT1=NMI) at
 * X86_MPTABLE_ADDR. Returns 0, -EINVAL (ncpus 0 or > 254) or -EFAULT. */
int x86_mptable_write(const struct guest_mem *m, unsigned ncpus);
/* Boot GDT at X86_BOOT_GDT_ADDR, empty IDT, and page tables identity-mapping 0..4 GiB. */
int x86_boot_tables_write(const struct guest_mem *m);

#endif

/* arch/x86/setup.h — builders for x86 boot tables in guest memory: e820 map, MP table,
 * Linux boot_params, PVH start_info, boot GDT/IDT and identity page tables.
 * Trusts guest_mem and its caller; checks every write against RAM.
 */
#ifndef ARCVMM_ARCH_X86_SETUP_H
#define ARCVMM_ARCH_X86_SETUP_H

#include <stdbool.h>
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

/* The boot GDT: [0] null, [1] null, [2] 64-bit code (0x10), [3] data (0x18), [4] 32-bit code
 * (0x20), [5] TSS (0x28). */
#define X86_BOOT_GDT_ENTRIES 6
#define X86_BOOT_GDT_LIMIT   (X86_BOOT_GDT_ENTRIES * 8 - 1)

/* MP table limits: APIC ids 0..ncpus-1 for the CPUs, ncpus for the IOAPIC, 0xff is broadcast. */
#define X86_MP_MAX_CPUS 254

/* What the zero page / PVH start_info describe besides the memory map. */
struct x86_boot_info {
	uint64_t cmdline_gpa; /* NUL-terminated command line in guest RAM */
	uint32_t cmdline_len; /* bytes, without the NUL */
	uint64_t initrd_gpa;  /* 0 with initrd_size 0: none */
	uint64_t initrd_size;
	/* bzImage setup header bytes from offset 0x1f1 (NULL: build a fresh header, for an ELF
	 * kernel booted through the 64-bit entry). At most X86_SETUP_HDR_MAX bytes are used. */
	const uint8_t *setup_hdr;
	size_t setup_hdr_len;
};

/* Bytes of the setup header struct boot_params holds (0x1f1 .. 0x26c). */
#define X86_SETUP_HDR_MAX 0x7b

/* Writes struct boot_params (the "zero page") at X86_ZERO_PAGE_ADDR with the e820 map built
 * from m. Returns 0, -EINVAL (bad info) or -EFAULT/-ENOSPC. */
int x86_bootparams_write(const struct guest_mem *m, const struct x86_boot_info *bi);
/* Writes the PVH struct hvm_start_info at X86_PVH_INFO_ADDR, followed by its memory map
 * and module list (the initrd, if any, as module 0). Returns 0 or -errno. */
int x86_pvh_info_write(const struct guest_mem *m, const struct x86_boot_info *bi);
/* Records the ACPI RSDP's address in what the kernel reads at entry, after boot_load wrote
 * it: PVH start_info.rsdp_paddr (is_pvh) or boot_params.acpi_rsdp_addr (offset 0x070), at
 * info_gpa (struct boot_entry's info_gpa). Returns 0, -EINVAL (no start_info at info_gpa)
 * or -EFAULT. Without it the kernel still finds the RSDP by scanning 0xe0000..0xfffff. */
int x86_boot_set_rsdp(const struct guest_mem *m, bool is_pvh, uint64_t info_gpa, uint64_t rsdp_gpa);

#endif

/* arch/x86/layout.h — the x86_64 guest physical address map, in one table.
 *
 *   0x0000_0000  real-mode IVT / BDA (left as RAM, unused by us)
 *   0x0000_0500  boot GDT (64-bit and PVH entry)
 *   0x0000_0540  boot IDT (empty, limit 0)
 *   0x0000_6000  PVH hvm_start_info, then its memmap table and module list
 *   0x0000_7000  Linux boot_params ("zero page")
 *   0x0000_9000  PML4, 0xa000 PDPT, 0xb000..0xefff four PDs: identity map of 0..4 GiB, 2 MiB pages
 *   0x0001_0000  free low RAM (tiny guests put their AP trampoline here)
 *   0x0002_0000  kernel command line
 *   0x0009_fc00  MP floating pointer + MP config table (e820-reserved up to 1 MiB)
 *   0x0010_0000  kernel (bzImage protected-mode part / ELF segments at their p_paddr)
 *   ...          initrd: top of low RAM, below initrd_addr_max
 *   0xc000_0000  32-bit MMIO hole start (3 GiB): virtio-mmio slots, 4 KiB each
 *   0xfec0_0000  IOAPIC
 *   0xfee0_0000  LAPIC
 *   0x1_0000_0000 RAM above 4 GiB when the guest has more than 3 GiB
 */
#ifndef ARCVMM_ARCH_X86_LAYOUT_H
#define ARCVMM_ARCH_X86_LAYOUT_H

#define X86_BOOT_GDT_ADDR    0x500ULL
#define X86_BOOT_IDT_ADDR    0x540ULL
#define X86_PVH_INFO_ADDR    0x6000ULL
#define X86_ZERO_PAGE_ADDR   0x7000ULL
#define X86_PML4_ADDR	     0x9000ULL
#define X86_PDPT_ADDR	     0xa000ULL
#define X86_PD_ADDR	     0xb000ULL /* four pages: 0xb000..0xefff */
#define X86_FREE_LOW_ADDR    0x10000ULL
#define X86_CMDLINE_ADDR     0x20000ULL
#define X86_CMDLINE_MAX	     2048ULL /* Linux x86 COMMAND_LINE_SIZE, including the NUL */
#define X86_EBDA_ADDR	     0x9fc00ULL
#define X86_MPTABLE_ADDR     X86_EBDA_ADDR
#define X86_LOW_RESERVED_END 0x100000ULL
#define X86_HIMEM_START	     0x100000ULL
#define X86_MMIO_HOLE_START  0xc0000000ULL
#define X86_MMIO_HOLE_END    0x100000000ULL
#define X86_HIGH_RAM_START   0x100000000ULL

#define X86_VIRTIO_MMIO_BASE  0xd0000000ULL
#define X86_VIRTIO_MMIO_SIZE  0x1000ULL
#define X86_VIRTIO_MMIO_SLOTS 16
/* The virtio-mmio slots' GSIs: off the legacy ISA lines a guest's own drivers use (0 PIT,
 * 1 keyboard, 2 cascade, 4 COM1, 8 RTC, 9 ACPI SCI on PCs, 12 PS/2 mouse) and off the GED's
 * 23. Slot 0 gets 5, as before; COM2's line 3 (no COM2 here) comes last. */
static inline unsigned x86_virtio_gsi(unsigned slot)
{
	static const unsigned char gsis[X86_VIRTIO_MMIO_SLOTS] = {5,  6,  7,  10, 11, 13, 14, 15,
								  16, 17, 18, 19, 20, 21, 22, 3};
	return gsis[slot % X86_VIRTIO_MMIO_SLOTS];
}

/* The ACPI Generic Event Device's interrupt (the power button), above the virtio GSIs. */
#define X86_GED_GSI 23

#define X86_IOAPIC_ADDR 0xfec00000ULL
#define X86_IOAPIC_PINS 24
#define X86_LAPIC_ADDR	0xfee00000ULL

#define X86_COM1_PORT	    0x3f8
#define X86_COM1_IRQ	    4
#define X86_I8042_DATA_PORT 0x60
#define X86_I8042_CMD_PORT  0x64
#define X86_I8042_KBD_IRQ   1
#define X86_DEBUG_EXIT_PORT 0xf4 /* QEMU isa-debug-exit compatible */

/* Boot GDT selectors (entries: null, null, 0x10 code64, 0x18 data, 0x20 code32, 0x28 TSS) */
#define X86_GDT_CODE64_SEL 0x10
#define X86_GDT_DATA_SEL   0x18
#define X86_GDT_CODE32_SEL 0x20
#define X86_GDT_TSS_SEL	   0x28

/* KVM private pages: placed just below the IOAPIC, inside the hole. */
#define X86_KVM_IDENTITY_MAP_ADDR 0xfeffc000ULL
#define X86_KVM_TSS_ADDR	  0xfeffd000ULL

#endif

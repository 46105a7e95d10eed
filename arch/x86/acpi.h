/* arch/x86/acpi.h — the guest's ACPI tables (RSDP, XSDT, RSDT, FADT, MADT, DSDT) and the
 * small AML encoder the DSDT is built with.
 *
 * The tables describe a HW-reduced ACPI platform: no PM timer, no PM1/GPE blocks, no SCI.
 * Power-off and reset go through three I/O ports (see X86_ACPI_*_PORT below; the device
 * behind them is devices/acpi_pm.c). The DSDT lists COM1, the CMOS clock and one
 * "LNRO0005" device per virtio-mmio slot, which is how a kernel without
 * VIRTIO_MMIO_CMDLINE_DEVICES (Debian's stock kernel) finds them.
 *
 * What HW-reduced means to a Linux guest (seen in nested boots of 6.1): it drops the legacy
 * PIC and the PIT/HPET timer set-up (timekeeping is kvm-clock + LAPIC timer), so no ISA
 * IRQ is premapped: a legacy device gets an interrupt only through a _CRS in the DSDT
 * (COM1 here: IOAPIC pin 4, edge, a dynamic Linux IRQ number). A new ISA device that
 * interrupts must be added to the DSDT too. The MP table stays for `acpi=off`.
 *
 * Everything sits in the e820-reserved BIOS area, above the MP table:
 *   0xe0000  RSDP (16-byte aligned, inside the legacy scan range 0xe0000..0xfffff)
 *   0xe0040  XSDT, RSDT, FADT, MADT, DSDT, each 16-byte aligned, all below 1 MiB.
 * Trusts: guest_mem and the caller's device list (checked against the slot layout's limits).
 */
#ifndef ARCVMM_ARCH_X86_ACPI_H
#define ARCVMM_ARCH_X86_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/aml.h"
#include "mem/guest_mem.h"

#define X86_ACPI_RSDP_ADDR   0xe0000ULL
#define X86_ACPI_TABLES_ADDR 0xe0040ULL	 /* first table after the RSDP */
#define X86_ACPI_END	     0x100000ULL /* everything ends below 1 MiB */

/* The power-management port block (HW-reduced sleep control/status and reset registers).
 * Free on our machine: vm.c serves 0x3f8-0x3ff, 0x60/0x64, 0x70/0x71; KVM serves the PIC,
 * PIT and 0x61. */
#define X86_ACPI_PM_PORT	0x600
#define X86_ACPI_PM_PORTS	8
#define X86_ACPI_SLEEP_CTL_PORT 0x600
#define X86_ACPI_SLEEP_STS_PORT 0x601
#define X86_ACPI_RESET_PORT	0x604
#define X86_ACPI_RESET_VALUE	0x01
#define X86_ACPI_SLP_TYP_S5	5 /* \_S5_ package value the sleep control register expects */
#define X86_ACPI_SLP_TYP_SHIFT	2 /* SLEEP_CONTROL_REG: SLP_TYPx in bits 2-4 */
#define X86_ACPI_SLP_TYP_MASK	0x1c
#define X86_ACPI_SLP_EN		0x20 /* SLEEP_CONTROL_REG bit 5 */
#define X86_ACPI_WAK_STS	0x80 /* SLEEP_STATUS_REG bit 7 */
#define X86_ACPI_MAX_CPUS	254 /* 8-bit APIC ids 0..ncpus-1, IOAPIC id ncpus, 0xff broadcast */
#define X86_ACPI_MAX_VIRTIO	64

/* One virtio-mmio transport as the DSDT describes it. */
struct x86_acpi_virtio {
	uint64_t base; /* MMIO base, below 4 GiB (Memory32Fixed) */
	uint32_t size; /* bytes of the register window (0x1000 here) */
	uint32_t gsi;  /* edge-triggered, active-high interrupt, < X86_IOAPIC_PINS */
};

/* Writes all the tables for ncpus vCPUs (APIC ids 0..ncpus-1) and the given virtio-mmio
 * devices (DSDT devices VR00.. with _UID = their index in devs) and stores the RSDP's guest
 * address in *rsdp_gpa. Returns 0, -EINVAL (ncpus 0 or > X86_ACPI_MAX_CPUS, too many
 * devices, a device outside 32-bit space or with a GSI the IOAPIC lacks), -ENOSPC (the
 * tables would not fit below 1 MiB) or -EFAULT (guest RAM does not cover the area). */
int x86_acpi_write(const struct guest_mem *m, unsigned ncpus, const struct x86_acpi_virtio *devs,
		   unsigned ndevs, uint64_t *rsdp_gpa);

#endif

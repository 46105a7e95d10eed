/* tests/guests/rt_pvh.S — ELF entries of the C test guests (mem.elf, smp.elf): the Xen
 * PHYS32_ENTRY note with a 32-bit PVH entry (ebx = hvm_start_info), and the ELF e_entry, a
 * 64-bit Linux boot protocol entry (rsi = boot_params), for VMMs told not to use PVH.
 * Trusts: nothing (rt.c checks start_info and boot_params).
 */
#include "rt_asm.h"

	PVH_NOTE pvh_start

	.section .text.head, "ax"
	.code32
	.globl pvh_start
pvh_start:
	mov $RT_ENTRY_PVH, %edi
	mov %ebx, %esi
	jmp rt_enter32

	.code64
	.globl elf64_start
elf64_start:
	mov $RT_ENTRY_ELF64, %edi
	jmp rt_enter64

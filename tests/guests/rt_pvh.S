/* tests/guests/rt_pvh.S — PVH entry of the C test guests (mem.elf, smp.elf): the Xen
 * PHYS32_ENTRY note and a 32-bit entry that hands ebx (hvm_start_info) to rt_enter32.
 * Trusts: nothing (rt.c checks start_info).
 */
#include "rt_asm.h"

	.section .note.Xen, "a"
	.p2align 2
	.long 4			/* name size: "Xen\0" */
	.long 4			/* descriptor size */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start

	.section .text.head, "ax"
	.code32
	.globl pvh_start
pvh_start:
	mov $RT_ENTRY_PVH, %edi
	mov %ebx, %esi
	jmp rt_enter32

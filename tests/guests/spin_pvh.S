/* tests/guests/spin_pvh.S — a PVH guest that never ends (spin.elf): prints "GUEST-SPIN" on
 * COM1, then halts with interrupts off forever, so its vCPU sleeps inside KVM_RUN. Used to
 * check that signals and kicks stop a VM whose vCPUs are blocked in the hypervisor.
 * Trusts nothing; reads nothing from the VMM.
 */
#include "rt_asm.h"
#define COM1 0x3f8

	PVH_NOTE pvh_start

	.section .text.head, "ax"
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	mov $msg, %esi
1:	lodsb
	test %al, %al
	jz 3f
	mov %al, %ah
	mov $COM1 + 5, %dx
2:	in %dx, %al
	test $0x20, %al
	jz 2b
	mov $COM1, %dx
	mov %ah, %al
	out %al, %dx
	jmp 1b
3:	cli
	hlt
	jmp 3b

	.section .rodata
msg:	.asciz "GUEST-SPIN\r\n"

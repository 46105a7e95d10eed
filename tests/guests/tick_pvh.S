/* tests/guests/tick_pvh.S — a PVH guest that never ends and keeps talking (tick.elf):
 * prints "GUEST-TICK\r\n", then one '.' on COM1 after every busy loop of TICK_LOOPS
 * iterations, forever. Used to see a pause stop the vCPU (no more dots) and a resume
 * restart it (dots again). Trusts nothing; reads nothing from the VMM.
 */
#include "rt_asm.h"
#define COM1 0x3f8
#define TICK_LOOPS 20000

/* %al to COM1 once the transmitter is empty (clobbers %ah, %dx; no stack needed) */
.macro PUTC
	mov %al, %ah
	mov $COM1 + 5, %dx
91:	in %dx, %al
	test $0x20, %al
	jz 91b
	mov $COM1, %dx
	mov %ah, %al
	out %al, %dx
.endm

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
	PUTC
	jmp 1b
3:	mov $TICK_LOOPS, %ecx
4:	dec %ecx
	jnz 4b
	mov $'.', %al
	PUTC
	jmp 3b

	.section .rodata
msg:	.asciz "GUEST-TICK\r\n"

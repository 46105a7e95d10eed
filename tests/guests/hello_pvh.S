/* tests/guests/hello_pvh.S — the tiny PVH hello guest (hello.elf), also the startup benchmark
 * guest, so it is kept to a few hundred instructions: the VMM may emulate every one of them.
 *
 * Entered in 32-bit protected mode, paging off, ebx = hvm_start_info. Prints
 * "GUEST-HELLO ELF/PVH" and "GUEST-CMDLINE <cmdline>" on COM1 (polling LSR.THRE before each
 * byte), then writes port 0xf4 (QEMU isa-debug-exit) and resets through the i8042 (0xfe to
 * port 0x64).
 * Trusts: nothing in start_info beyond what it checks (magic; cmdline below 4 GiB; at most
 * 2047 cmdline bytes are printed).
 */
#include "rt_asm.h"
#define PVH_MAGIC 0x336ec578
#define COM1      0x3f8
#define CMDLINE_MAX 2047

	PVH_NOTE pvh_start

	.section .text.head, "ax"
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	mov $stack_top, %esp
	mov $hello, %esi
	mov $-1, %ecx
	call puts
	cmpl $PVH_MAGIC, (%ebx)
	jne bad_magic
	mov $cmdline_tag, %esi
	call puts
	mov 24(%ebx), %esi		/* cmdline_paddr, low half */
	cmpl $0, 28(%ebx)		/* above 4 GiB: not reachable without paging */
	jne 1f
	test %esi, %esi
	jz 1f
	mov $CMDLINE_MAX, %ecx
	call puts
1:	mov $newline, %esi
	mov $-1, %ecx
	call puts
exit:
	xor %eax, %eax
	out %al, $0xf4
	mov $0xfe, %al
	out %al, $0x64
2:	cli
	hlt
	jmp 2b

bad_magic:
	mov $bad_magic_msg, %esi
	mov $-1, %ecx
	call puts
	jmp exit

/* Prints the NUL-terminated string at esi, at most ecx bytes. Clobbers eax, ecx, edx, esi. */
puts:
	jecxz 3f
	lodsb
	test %al, %al
	jz 3f
	mov %al, %ah
	mov $COM1 + 5, %dx
4:	in %dx, %al
	test $0x20, %al
	jz 4b
	mov $COM1, %dx
	mov %ah, %al
	out %al, %dx
	dec %ecx
	jmp puts
3:	ret

	.section .rodata
hello:		.asciz "GUEST-HELLO ELF/PVH\n"
cmdline_tag:	.asciz "GUEST-CMDLINE "
newline:	.asciz "\n"
bad_magic_msg:	.asciz "GUEST-BOOT-FAIL bad hvm_start_info magic\n"

	.section .bss
	.p2align 4
	.skip 256
stack_top:

/* tests/guests/rt_entry.S — mode switching for the C test guests: from 32-bit protected mode
 * (PVH, or the bzImage 32-bit entry) or from the VMM's long mode (bzImage 64-bit entry) into
 * our own GDT, stack and identity page tables (0..4 GiB, 2 MiB pages), then rt_start64().
 * Trusts: that the VMM entered us in the mode its protocol promises; nothing else (it does
 * not rely on the VMM's GDT, page tables or stack).
 */
#include "rt_asm.h"

	.section .text.boot, "ax"

/* 32-bit protected mode, any flat segments. edi = RT_ENTRY_*, esi = boot info address. */
	.code32
	.globl rt_enter32
rt_enter32:
	cli
	cld
	lgdtl rt_gdtp
	ljmpl $RT_CS32, $1f
1:	mov $RT_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov %edi, %ebp
	mov %esi, %ebx
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	shr $2, %ecx
	xor %eax, %eax
	rep stosl
	mov $rt_stack_top, %esp
	movl $(rt_pdpt + 3), rt_pml4
	movl $(rt_pd + 0x0003), rt_pdpt
	movl $(rt_pd + 0x1003), rt_pdpt + 8
	movl $(rt_pd + 0x2003), rt_pdpt + 16
	movl $(rt_pd + 0x3003), rt_pdpt + 24
	mov $rt_pd, %edi
	mov $0x83, %eax			/* present, writable, 2 MiB page */
	mov $2048, %ecx
2:	mov %eax, (%edi)
	add $0x200000, %eax
	add $8, %edi
	dec %ecx
	jnz 2b
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $rt_pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PG | CR0_PE), %eax
	mov %eax, %cr0
	ljmpl $RT_CS64, $rt_long64

	.code64
rt_long64:
	mov $RT_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $rt_stack_top, %rsp
	mov %ebp, %edi
	mov %ebx, %esi
	call rt_start64
3:	cli
	hlt
	jmp 3b

/* Long mode with the VMM's GDT and page tables. edi = RT_ENTRY_*, rsi = boot_params. */
	.globl rt_enter64
rt_enter64:
	cli
	cld
	mov $rt_stack_top, %rsp
	mov %rsi, %rbx
	mov %edi, %ebp
	lgdt rt_gdtp
	pushq $RT_CS64
	pushq $1f
	lretq
1:	mov $RT_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $__bss_start, %rdi
	mov $__bss_end, %rcx
	sub %rdi, %rcx
	shr $3, %rcx
	xor %eax, %eax
	rep stosq
	mov $rt_stack_top, %rsp
	movq $(rt_pdpt + 3), rt_pml4
	movq $(rt_pd + 0x0003), rt_pdpt
	movq $(rt_pd + 0x1003), rt_pdpt + 8
	movq $(rt_pd + 0x2003), rt_pdpt + 16
	movq $(rt_pd + 0x3003), rt_pdpt + 24
	mov $rt_pd, %rdi
	mov $0x83, %eax
	mov $2048, %ecx
2:	mov %rax, (%rdi)
	add $0x200000, %rax
	add $8, %rdi
	dec %ecx
	jnz 2b
	mov $rt_pml4, %eax
	mov %rax, %cr3
	mov %ebp, %edi
	mov %rbx, %rsi
	call rt_start64
3:	cli
	hlt
	jmp 3b

	.section .data
	.p2align 3
	.globl rt_gdt
rt_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* RT_CS32: flat 32-bit code */
	.quad 0x00af9a000000ffff	/* RT_CS64: 64-bit code */
	.quad 0x00cf92000000ffff	/* RT_DS: flat data */
rt_gdt_end:
	.p2align 3
	.word 0, 0, 0
	.globl rt_gdtp
rt_gdtp:
	.word rt_gdt_end - rt_gdt - 1
	.quad rt_gdt

	.section .bss
	.p2align 12
	.globl rt_pml4, rt_pdpt, rt_pd
rt_pml4:	.skip 4096
rt_pdpt:	.skip 4096

/* Page directories are never cleared: every one in use has all 512 entries written. */
	.section .pgpool, "aw", @nobits
	.p2align 12
rt_pd:		.skip 4096 * RT_PD_PAGES

	.section .bss
	.p2align 4
	.skip RT_STACK_SIZE
	.globl rt_stack_top
rt_stack_top:

/* tests/guests/smp_tramp.S — the AP start-up trampoline of the SMP guest. smp.c copies
 * [smp_tramp_start, smp_tramp_end) to SMP_TRAMP_ADDR (a page in 0x10000..0x1ffff) and sends
 * SIPIs with vector SMP_TRAMP_ADDR >> 12. The AP starts in real mode at cs = vector << 8,
 * ip = 0; this goes to protected mode, then to long mode with the BSP's page tables, takes
 * a stack slot and calls smp_ap_main().
 * Only position-independent 16-bit code and addresses computed from SMP_TRAMP_ADDR are used
 * before long mode; after that the image's absolute addresses are valid.
 * Trusts: smp.c (it fills nothing in here; the GDT and addresses are fixed).
 */
#include "rt_asm.h"
#include "smp.h"

#define T(x) (SMP_TRAMP_ADDR + ((x) - smp_tramp_start))

	.section .rodata
	.p2align 4
	.globl smp_tramp_start, smp_tramp_end
smp_tramp_start:
	.code16
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl tramp_gdtp - smp_tramp_start
	mov %cr0, %eax
	or $CR0_PE, %eax
	mov %eax, %cr0
	ljmpl $RT_CS32, $T(tramp32)

	.code32
tramp32:
	mov $RT_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
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
	ljmpl $RT_CS64, $T(tramp64)

	.code64
tramp64:
	mov $RT_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	lgdt rt_gdtp			/* the image's GDT: the trampoline page may be reused */
	mov $1, %eax
	lock xadd %eax, smp_ap_slot
	cmp $SMP_MAX_CPUS, %eax
	jae 2f
	inc %eax
	imul $SMP_AP_STACK, %eax
	add $smp_ap_stacks, %rax
	mov %rax, %rsp
	movabs $smp_ap_main, %rax
	call *%rax
2:	cli
	hlt
	jmp 2b

	.p2align 3
tramp_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* RT_CS32 */
	.quad 0x00af9a000000ffff	/* RT_CS64 */
	.quad 0x00cf92000000ffff	/* RT_DS */
tramp_gdt_end:
tramp_gdtp:
	.word tramp_gdt_end - tramp_gdt - 1
	.long T(tramp_gdt)
smp_tramp_end:

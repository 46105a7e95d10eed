/* tests/guests/rt_asm.h — constants shared by the test guests' assembly and C code. */
#ifndef GUESTS_RT_ASM_H
#define GUESTS_RT_ASM_H

#define RT_CS32 0x08
#define RT_CS64 0x10
#define RT_DS	0x18

#define RT_ENTRY_PVH   1
#define RT_ENTRY_BZ64  2
#define RT_ENTRY_BZ32  3
#define RT_ENTRY_BZ16  4
#define RT_ENTRY_ELF64 5

/* Page directories in the pool: 2 MiB pages, one directory per GiB, 64 GiB at most (no
 * directories are needed above 4 GiB when the CPU has 1 GiB pages). */
#define RT_PD_PAGES   64
#define RT_STACK_SIZE 8192

#define CR0_PE	 0x00000001
#define CR0_PG	 0x80000000
#define CR4_PAE	 0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

/* Passed in edi from the bzImage real-mode setup to its 32-bit entry (the boot protocol says
 * edi is 0 there). */
#define RT_BZ16_MAGIC 0x36314d52

/* clang-format off */
#ifdef __ASSEMBLER__
/* The ELF note that makes an image a PVH kernel: XEN_ELFNOTE_PHYS32_ENTRY (type 18, name
 * "Xen") whose descriptor is the 32-bit physical entry address. */
.macro PVH_NOTE entry
	.pushsection .note.Xen, "a"
	.p2align 2
	.long 4			/* name size: "Xen\0" */
	.long 4			/* descriptor size */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long \entry
	.popsection
.endm
#endif
/* clang-format on */

#endif

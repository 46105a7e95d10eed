/* tests/guests/rt_bz.S — the bzImage shape of the C test guests: a Linux boot protocol 2.12
 * setup header, a real-mode setup for BIOS loaders (QEMU -M pc), the 32-bit entry at the
 * start of the protected-mode part and the 64-bit entry 0x200 bytes after it.
 *
 * File layout: the setup (SETUP_SECTS + 1 sectors of 512 bytes) is also a zero page: when a
 * BIOS loader runs the real-mode code, it collects the e820 map into the setup's own
 * boot_params fields (e820 table at 0x2d0) and passes the setup's address as boot_params,
 * so the 16-bit code sits at 0x1000, past every boot_params field we use.
 * Not relocatable: linked at 0x100000 (pref_address).
 * Trusts: the loader's header fields in memory (cmd_line_ptr), the BIOS e820 call.
 */
#include "rt_asm.h"

#define SETUP_SECTS 9 /* setup = 10 sectors = 0x1400 bytes */

	.section .setup, "ax"
	.code16
	.globl bz_setup
bz_setup:
	.org 0x1f1
hdr:
	.byte SETUP_SECTS		/* 0x1f1 setup_sects */
	.word 0				/* 0x1f2 root_flags */
	.long bz_syssize		/* 0x1f4 syssize (16-byte units) */
	.word 0				/* 0x1f8 ram_size */
	.word 0xffff			/* 0x1fa vid_mode: normal */
	.word 0				/* 0x1fc root_dev */
	.word 0xaa55			/* 0x1fe boot_flag */
	.byte 0xeb			/* 0x200 jump: short jmp to the real-mode code */
	.byte hdr_end - 0x202
	.ascii "HdrS"			/* 0x202 header */
	.word 0x020c			/* 0x206 version 2.12 */
	.long 0				/* 0x208 realmode_swtch */
	.word 0x1000			/* 0x20c start_sys_seg (obsolete) */
	.word 0				/* 0x20e kernel_version */
	.byte 0				/* 0x210 type_of_loader */
	.byte 0x01			/* 0x211 loadflags: LOADED_HIGH */
	.word 0				/* 0x212 setup_move_size */
	.long 0x100000			/* 0x214 code32_start */
	.long 0				/* 0x218 ramdisk_image */
	.long 0				/* 0x21c ramdisk_size */
	.long 0				/* 0x220 bootsect_kludge */
	.word 0				/* 0x224 heap_end_ptr */
	.byte 0				/* 0x226 ext_loader_ver */
	.byte 0				/* 0x227 ext_loader_type */
	.long 0				/* 0x228 cmd_line_ptr */
	.long 0x7fffffff		/* 0x22c initrd_addr_max */
	.long 0x100000			/* 0x230 kernel_alignment */
	.byte 0				/* 0x234 relocatable_kernel: no */
	.byte 12			/* 0x235 min_alignment */
	.word 0x0001			/* 0x236 xloadflags: XLF_KERNEL_64 */
	.long 2047			/* 0x238 cmdline_size */
	.long 0				/* 0x23c hardware_subarch */
	.quad 0				/* 0x240 hardware_subarch_data */
	.long 0				/* 0x248 payload_offset */
	.long 0				/* 0x24c payload_length */
	.quad 0				/* 0x250 setup_data */
	.quad 0x100000			/* 0x258 pref_address */
	.long bz_init_size		/* 0x260 init_size */
	.long 0				/* 0x264 handover_offset */
hdr_end:
	jmp setup16			/* near jump: the header's jump is only 2 bytes */

/* Real mode, cs = setup segment + 0x20, ds = es = ss = setup segment, interrupts maybe on. */
	.org 0x1000
setup16:
	cli
	cld
	mov %cs, %ax
	sub $0x20, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x1400 + 0x800, %sp	/* 2 KiB stack after the setup, in the same segment */
	/* BIOS e820 map into boot_params.e820_table (0x2d0), count into 0x1e8 */
	xor %ebx, %ebx
	mov $0x2d0, %di
	xor %bp, %bp
1:	mov $0xe820, %eax
	mov $0x534d4150, %edx		/* "SMAP" */
	mov $20, %ecx
	int $0x15
	jc 2f
	cmp $0x534d4150, %eax
	jne 2f
	add $20, %di
	inc %bp
	cmp $128, %bp
	jae 2f
	test %ebx, %ebx
	jnz 1b
2:	mov %bp, %ax
	mov %al, 0x1e8
	cli
	/* gdt pointer base = linear address of bz16_gdt */
	xor %eax, %eax
	mov %ds, %ax
	shl $4, %eax
	mov %eax, %esi			/* boot_params for the 32-bit entry */
	add $bz16_gdt, %eax
	mov %eax, bz16_gdtp + 2
	lgdtl bz16_gdtp
	mov %cr0, %eax
	or $CR0_PE, %eax
	mov %eax, %cr0
	mov $RT_DS, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $RT_BZ16_MAGIC, %edi
	xor %ebp, %ebp
	xor %ebx, %ebx
	ljmpl $RT_CS32, $0x100000

	.p2align 3
bz16_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* RT_CS32 */
	.quad 0x00af9a000000ffff	/* RT_CS64 */
	.quad 0x00cf92000000ffff	/* RT_DS */
bz16_gdt_end:
bz16_gdtp:
	.word bz16_gdt_end - bz16_gdt - 1
	.long 0

	.org (SETUP_SECTS + 1) * 512

/* Protected-mode part, loaded at 0x100000. */
	.section .text.head, "ax"
	.code32
	.globl startup_32
startup_32:				/* esi = boot_params */
	mov $RT_ENTRY_BZ32, %eax
	cmp $RT_BZ16_MAGIC, %edi
	jne 1f
	mov $RT_ENTRY_BZ16, %eax
1:	mov %eax, %edi
	jmp rt_enter32

	.org 0x200
	.code64
	.globl startup_64
startup_64:				/* rsi = boot_params */
	mov $RT_ENTRY_BZ64, %edi
	jmp rt_enter64

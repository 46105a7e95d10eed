/* boot/boot.h — loading a kernel (+ initrd, cmdline) into guest RAM and building the x86
 * boot structures around it (e820, boot_params or PVH start_info, MP table, boot GDT and
 * identity page tables).
 *
 * Trusts: nothing in the kernel/initrd files (every header field and offset is checked
 * against the file size and guest RAM). Trusts guest_mem (built by us).
 */
#ifndef ARCVMM_BOOT_BOOT_H
#define ARCVMM_BOOT_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"

enum boot_protocol {
	BOOT_PROTO_AUTO,    /* ELF: PVH note if present, else 64-bit entry; bzImage: 64-bit */
	BOOT_PROTO_PVH,	    /* ELF only: 32-bit PVH entry (XEN_ELFNOTE_PHYS32_ENTRY) */
	BOOT_PROTO_LINUX64, /* 64-bit Linux boot protocol entry (ELF e_entry, or bzImage +0x200) */
};

enum boot_entry_mode {
	BOOT_ENTRY_PVH32,   /* 32-bit protected mode, paging off, ebx = start_info gpa */
	BOOT_ENTRY_LINUX64, /* long mode, identity paging, rsi = boot_params gpa */
};

struct boot_params_in {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	const char *cmdline;	 /* NULL or "": empty */
	enum boot_protocol protocol;
	unsigned ncpus; /* for the MP table */
	/* virtio-mmio devices are described to the guest on the cmdline by the caller. */
};

struct boot_entry {
	enum boot_entry_mode mode;
	uint64_t entry;	   /* guest physical address of the first instruction */
	uint64_t info_gpa; /* start_info (PVH, ebx) or boot_params (LINUX64, rsi) */
	uint64_t cr3;	   /* LINUX64: X86_PML4_ADDR */
	uint64_t gdt_gpa;  /* X86_BOOT_GDT_ADDR */
	uint16_t gdt_limit;
	uint64_t idt_gpa;   /* X86_BOOT_IDT_ADDR (limit 0) */
	const char *format; /* "ELF/PVH", "ELF/64-bit", "bzImage/64-bit": for messages */
};

/* Loads everything and fills *out. On failure returns -errno and writes one line (without
 * "arcvmm: " and without a newline) naming the file and the problem into err, e.g.
 * "--kernel /x/vmlinux: truncated (program header 3 ends past the end of the file)". */
int boot_load(struct guest_mem *m, const struct boot_params_in *in, struct boot_entry *out,
	      char *err, size_t errlen);

/* Pieces, exported for unit tests. Each works on an in-memory image and guest_mem. */
struct boot_image {
	const uint8_t *data;
	size_t size;
	const char *name; /* for messages */
};
int boot_load_elf(struct guest_mem *m, const struct boot_image *img, enum boot_protocol proto,
		  uint64_t *entry, enum boot_entry_mode *mode, uint64_t *kernel_end, char *err,
		  size_t errlen);
/* setup_hdr receives the bzImage setup header bytes (0x1f1 .. end of header) for boot_params;
 * it must hold BOOT_SETUP_HDR_MAX bytes (a longer header from a newer kernel is cut there). */
#define BOOT_SETUP_HDR_MAX 0x7b /* 0x1f1 .. 0x26c: struct setup_header as of protocol 2.15 */
int boot_load_bzimage(struct guest_mem *m, const struct boot_image *img, uint64_t *entry,
		      uint64_t *kernel_end, uint8_t *setup_hdr, size_t *setup_hdr_len,
		      uint32_t *initrd_addr_max, uint32_t *cmdline_size, char *err, size_t errlen);

#endif

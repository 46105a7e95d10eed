/* arch/x86/bootparams.c — what the kernel reads at its entry point: the Linux "zero page"
 * (struct boot_params, 64-bit boot protocol) or the PVH struct hvm_start_info with its
 * memory map and module list.
 *
 * The structs below are our own, laid out from the documented offsets (Linux
 * Documentation/arch/x86/zero-page.rst and boot.rst, Xen's public/arch-x86/hvm/start_info.h)
 * and pinned with _Static_assert. Both are built in host memory and written with one
 * checked copy. Trusts: the caller's x86_boot_info (built by boot/boot.c from checked
 * values) and guest_mem; re-checks that the setup header length fits.
 */
#include "arch/x86/setup.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "arch/x86/layout.h"

struct setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

struct boot_params {
	uint8_t screen_info[0x40];
	uint8_t apm_bios_info[0x14];
	uint8_t pad_054[4];
	uint64_t tboot_addr;
	uint8_t ist_info[0x10];
	uint64_t acpi_rsdp_addr;
	uint8_t pad_078[8];
	uint8_t hd0_info[0x10];
	uint8_t hd1_info[0x10];
	uint8_t sys_desc_table[0x10];
	uint8_t olpc_ofw_header[0x10];
	uint32_t ext_ramdisk_image;
	uint32_t ext_ramdisk_size;
	uint32_t ext_cmd_line_ptr;
	uint8_t pad_0cc[0x1e8 - 0xcc]; /* cc_blob_address, edid_info, efi_info, ... */
	uint8_t e820_entries;
	uint8_t eddbuf_entries;
	uint8_t edd_mbr_sig_buf_entries;
	uint8_t kbd_status;
	uint8_t secure_boot;
	uint8_t pad_1ed[2];
	uint8_t sentinel; /* must stay 0, or the kernel wipes fields it thinks are stale */
	uint8_t pad_1f0[1];
	struct setup_header hdr;
	uint8_t pad_26c[0x2d0 - 0x26c]; /* edd_mbr_sig_buffer at 0x290 */
	struct e820_entry e820_table[E820_MAX];
	uint8_t pad_cd0[0x1000 - 0xcd0]; /* eddbuf */
} __attribute__((packed));

#define BP_OFF(f) offsetof(struct boot_params, f)
_Static_assert(sizeof(struct setup_header) == X86_SETUP_HDR_MAX, "setup header size");
_Static_assert(sizeof(struct boot_params) == 0x1000, "boot_params is one page");
_Static_assert(BP_OFF(acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
_Static_assert(BP_OFF(ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
_Static_assert(BP_OFF(ext_ramdisk_size) == 0x0c4, "ext_ramdisk_size");
_Static_assert(BP_OFF(ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr");
_Static_assert(BP_OFF(e820_entries) == 0x1e8, "e820_entries");
_Static_assert(BP_OFF(sentinel) == 0x1ef, "sentinel");
_Static_assert(BP_OFF(hdr) == 0x1f1, "hdr");
_Static_assert(BP_OFF(hdr.boot_flag) == 0x1fe, "boot_flag");
_Static_assert(BP_OFF(hdr.header) == 0x202, "header");
_Static_assert(BP_OFF(hdr.version) == 0x206, "version");
_Static_assert(BP_OFF(hdr.type_of_loader) == 0x210, "type_of_loader");
_Static_assert(BP_OFF(hdr.loadflags) == 0x211, "loadflags");
_Static_assert(BP_OFF(hdr.ramdisk_image) == 0x218, "ramdisk_image");
_Static_assert(BP_OFF(hdr.ramdisk_size) == 0x21c, "ramdisk_size");
_Static_assert(BP_OFF(hdr.heap_end_ptr) == 0x224, "heap_end_ptr");
_Static_assert(BP_OFF(hdr.cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(BP_OFF(hdr.initrd_addr_max) == 0x22c, "initrd_addr_max");
_Static_assert(BP_OFF(hdr.xloadflags) == 0x236, "xloadflags");
_Static_assert(BP_OFF(hdr.cmdline_size) == 0x238, "cmdline_size");
_Static_assert(BP_OFF(hdr.pref_address) == 0x258, "pref_address");
_Static_assert(BP_OFF(hdr.init_size) == 0x260, "init_size");
_Static_assert(BP_OFF(e820_table) == 0x2d0, "e820_table");
_Static_assert(sizeof(struct e820_entry) == 20, "e820 entry");

#define BP_BOOT_FLAG	  0xaa55
#define BP_HDRS		  0x53726448 /* "HdrS" */
#define BP_FRESH_VERSION  0x020f
#define BP_LOADER_UNKNOWN 0xff
#define BP_LOADED_HIGH	  0x01
#define BP_CAN_USE_HEAP	  0x80
#define BP_HEAP_END	  0xfe00 /* heap end relative to the real-mode setup code */

_Static_assert(X86_ZERO_PAGE_ADDR + sizeof(struct boot_params) <= X86_PML4_ADDR,
	       "zero page overlaps the page tables");

int x86_bootparams_write(const struct guest_mem *m, const struct x86_boot_info *bi)
{
	struct boot_params bp;
	int n;

	if (bi->setup_hdr && bi->setup_hdr_len > sizeof(bp.hdr))
		return -EINVAL;
	memset(&bp, 0, sizeof(bp));
	if (bi->setup_hdr) {
		memcpy(&bp.hdr, bi->setup_hdr, bi->setup_hdr_len);
	} else {
		/* An ELF vmlinux has no setup header: make the fields the kernel reads. */
		bp.hdr.boot_flag = BP_BOOT_FLAG;
		bp.hdr.header = BP_HDRS;
		bp.hdr.version = BP_FRESH_VERSION;
		bp.hdr.loadflags = BP_LOADED_HIGH;
		bp.hdr.initrd_addr_max = 0x7fffffff;
		bp.hdr.cmdline_size = X86_CMDLINE_MAX - 1;
	}
	bp.hdr.type_of_loader = BP_LOADER_UNKNOWN;
	bp.hdr.loadflags |= BP_CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = BP_HEAP_END;
	bp.hdr.cmd_line_ptr = (uint32_t)bi->cmdline_gpa;
	bp.ext_cmd_line_ptr = (uint32_t)(bi->cmdline_gpa >> 32);
	bp.hdr.ramdisk_image = (uint32_t)bi->initrd_gpa;
	bp.ext_ramdisk_image = (uint32_t)(bi->initrd_gpa >> 32);
	bp.hdr.ramdisk_size = (uint32_t)bi->initrd_size;
	bp.ext_ramdisk_size = (uint32_t)(bi->initrd_size >> 32);

	n = x86_e820_build(m, bp.e820_table, E820_MAX);
	if (n < 0)
		return n;
	bp.e820_entries = (uint8_t)n;

	return guest_mem_write(m, X86_ZERO_PAGE_ADDR, &bp, sizeof(bp));
}

/* PVH: Xen's public/arch-x86/hvm/start_info.h, version 1. */
#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
} __attribute__((packed));

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
} __attribute__((packed));

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info");
_Static_assert(offsetof(struct hvm_start_info, memmap_paddr) == 40, "memmap_paddr");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry");

/* start_info, memmap and module list share the page below the zero page. */
#define PVH_AREA_SIZE (X86_ZERO_PAGE_ADDR - X86_PVH_INFO_ADDR)

int x86_pvh_info_write(const struct guest_mem *m, const struct x86_boot_info *bi)
{
	uint8_t buf[PVH_AREA_SIZE];
	struct e820_entry map[E820_MAX];
	struct hvm_start_info si;
	size_t off;
	int n;

	n = x86_e820_build(m, map, E820_MAX);
	if (n < 0)
		return n;
	memset(buf, 0, sizeof(buf));
	memset(&si, 0, sizeof(si));
	si.magic = HVM_START_MAGIC;
	si.version = 1;
	si.cmdline_paddr = bi->cmdline_gpa;
	si.rsdp_paddr = 0; /* set by x86_boot_set_rsdp once the ACPI tables exist */

	off = sizeof(si);
	if ((size_t)n * sizeof(struct hvm_memmap_table_entry) > sizeof(buf) - off)
		return -ENOSPC;
	si.memmap_paddr = X86_PVH_INFO_ADDR + off;
	si.memmap_entries = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		struct hvm_memmap_table_entry e = {
		    .addr = map[i].addr,
		    .size = map[i].size,
		    .type = map[i].type,
		};
		memcpy(buf + off, &e, sizeof(e));
		off += sizeof(e);
	}

	if (bi->initrd_size) {
		struct hvm_modlist_entry mod = {.paddr = bi->initrd_gpa, .size = bi->initrd_size};

		if (sizeof(mod) > sizeof(buf) - off)
			return -ENOSPC;
		si.nr_modules = 1;
		si.modlist_paddr = X86_PVH_INFO_ADDR + off;
		memcpy(buf + off, &mod, sizeof(mod));
		off += sizeof(mod);
	}
	memcpy(buf, &si, sizeof(si));
	return guest_mem_write(m, X86_PVH_INFO_ADDR, buf, off);
}

int x86_boot_set_rsdp(const struct guest_mem *m, bool is_pvh, uint64_t info_gpa, uint64_t rsdp_gpa)
{
	uint32_t magic;
	int r;

	if (info_gpa > UINT64_MAX - 0x1000)
		return -EFAULT;
	if (!is_pvh)
		return guest_mem_write(m, info_gpa + BP_OFF(acpi_rsdp_addr), &rsdp_gpa,
				       sizeof(rsdp_gpa));
	r = guest_mem_read(m, info_gpa, &magic, sizeof(magic));
	if (r)
		return r;
	if (magic != HVM_START_MAGIC)
		return -EINVAL;
	return guest_mem_write(m, info_gpa + offsetof(struct hvm_start_info, rsdp_paddr), &rsdp_gpa,
			       sizeof(rsdp_gpa));
}

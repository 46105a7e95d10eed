/* tests/unit/test_boot.c — the kernel loaders against hand-built good and corrupt images
 * (ELF and bzImage, built in memory, some written to temporary files for boot_load), the
 * file, command-line and initrd errors, and — when the project's shared guest images are
 * present — the real minimal kernel, checked through what lands in guest memory.
 *
 * Every failure case asserts the return code and a key phrase of the message. No KVM.
 * Shared images: $ARCVMM_SHARED_GUEST, else /work/shared/guest, else ../shared/guest.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "arch/x86/setup.h"
#include "boot/boot.h"
#include "mem/guest_mem.h"
#include "tests/unit/test.h"

#define MIB	 (1ULL << 20)
#define RAM_SIZE (8 * MIB)
#define FILL	 0xaa

static char tmpdir[64];
static char errbuf[512];
static uint8_t *ram;
static struct guest_mem mem;

/* Fresh 8 MiB of "guest RAM" filled with FILL, so untouched bytes are recognisable. */
static struct guest_mem *fresh_mem(void)
{
	memset(ram, FILL, RAM_SIZE);
	guest_mem_init_buffer(&mem, ram, RAM_SIZE);
	errbuf[0] = 0;
	return &mem;
}

static int has(const char *phrase)
{
	if (strstr(errbuf, phrase))
		return 1;
	fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", errbuf, phrase);
	return 0;
}

static uint32_t rd32(uint64_t gpa)
{
	uint32_t v = 0;

	CHECK_EQ(guest_mem_read(&mem, gpa, &v, 4), 0);
	return v;
}

static int untouched(uint64_t gpa, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (ram[gpa + i] != FILL)
			return 0;
	return 1;
}

/* ---- ELF builder: ehdr, 2 phdrs (PT_NOTE, PT_LOAD), a Xen PVH note, 0x100 bytes of code */

#define ELF_NOTE_OFF  0x100
#define ELF_CODE_OFF  0x200
#define ELF_CODE_SIZE 0x100
#define ELF_SIZE      0x300
#define ELF_PADDR     0x100000ULL
#define ELF_MEMSZ     0x200
#define ELF_PVH_ENTRY 0x100010ULL

struct elf_img {
	uint8_t d[ELF_SIZE];
	size_t size;
};

static Elf64_Ehdr *eh(struct elf_img *e)
{
	return (Elf64_Ehdr *)e->d;
}

static Elf64_Phdr *ph(struct elf_img *e, unsigned i)
{
	return (Elf64_Phdr *)(e->d + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr));
}

/* Note: namesz, descsz, type, "Xen\0", desc (desc_size bytes). */
static void build_elf(struct elf_img *e, int with_note, unsigned desc_size)
{
	uint32_t note[3] = {4, desc_size, 18};
	uint64_t pvh = ELF_PVH_ENTRY;

	memset(e, 0, sizeof(*e));
	e->size = ELF_SIZE;
	memcpy(eh(e)->e_ident, ELFMAG, SELFMAG);
	eh(e)->e_ident[EI_CLASS] = ELFCLASS64;
	eh(e)->e_ident[EI_DATA] = ELFDATA2LSB;
	eh(e)->e_ident[EI_VERSION] = EV_CURRENT;
	eh(e)->e_type = ET_EXEC;
	eh(e)->e_machine = EM_X86_64;
	eh(e)->e_version = EV_CURRENT;
	eh(e)->e_entry = ELF_PADDR;
	eh(e)->e_phoff = sizeof(Elf64_Ehdr);
	eh(e)->e_ehsize = sizeof(Elf64_Ehdr);
	eh(e)->e_phentsize = sizeof(Elf64_Phdr);
	eh(e)->e_phnum = 2;

	*ph(e, 0) = (Elf64_Phdr){
	    .p_type = with_note ? PT_NOTE : PT_NULL,
	    .p_offset = ELF_NOTE_OFF,
	    .p_filesz = 12 + 4 + ((desc_size + 3) & ~3u),
	    .p_align = 4,
	};
	memcpy(e->d + ELF_NOTE_OFF, note, sizeof(note));
	memcpy(e->d + ELF_NOTE_OFF + 12, "Xen", 4);
	memcpy(e->d + ELF_NOTE_OFF + 16, &pvh, desc_size <= 8 ? desc_size : 8);

	*ph(e, 1) = (Elf64_Phdr){
	    .p_type = PT_LOAD,
	    .p_offset = ELF_CODE_OFF,
	    .p_paddr = ELF_PADDR,
	    .p_vaddr = 0xffffffff80000000ULL + ELF_PADDR,
	    .p_filesz = ELF_CODE_SIZE,
	    .p_memsz = ELF_MEMSZ,
	    .p_align = 0x1000,
	};
	for (unsigned i = 0; i < ELF_CODE_SIZE; i++)
		e->d[ELF_CODE_OFF + i] = (uint8_t)(i * 7 + 1);
}

static int load_elf(struct elf_img *e, enum boot_protocol proto, uint64_t *entry,
		    enum boot_entry_mode *mode)
{
	struct boot_image img = {.data = e->d, .size = e->size, .name = "k.elf"};
	uint64_t end = 0, ent = 0;
	enum boot_entry_mode md = BOOT_ENTRY_PVH32;
	int ret;

	ret = boot_load_elf(fresh_mem(), &img, proto, &ent, &md, &end, errbuf, sizeof(errbuf));
	if (entry)
		*entry = ent;
	if (mode)
		*mode = md;
	if (ret == 0)
		CHECK_EQ(end, ELF_PADDR + ELF_MEMSZ);
	else
		CHECK(untouched(ELF_PADDR, ELF_MEMSZ)); /* checks run before any copy */
	return ret;
}

TEST(elf_good_auto_pvh)
{
	struct elf_img e;
	uint64_t entry;
	enum boot_entry_mode mode;

	build_elf(&e, 1, 4);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, &entry, &mode), 0);
	CHECK_EQ(mode, BOOT_ENTRY_PVH32);
	CHECK_EQ(entry, ELF_PVH_ENTRY);
	/* filesz copied, memsz - filesz zeroed, nothing past memsz touched. */
	CHECK(memcmp(ram + ELF_PADDR, e.d + ELF_CODE_OFF, ELF_CODE_SIZE) == 0);
	for (unsigned i = ELF_CODE_SIZE; i < ELF_MEMSZ; i++)
		if (ram[ELF_PADDR + i] != 0)
			CHECK(!"bss not zeroed");
	CHECK(untouched(ELF_PADDR + ELF_MEMSZ, 0x100));
	CHECK(untouched(ELF_PADDR - 0x100, 0x100));

	build_elf(&e, 1, 8);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_PVH, &entry, &mode), 0);
	CHECK_EQ(mode, BOOT_ENTRY_PVH32);
	CHECK_EQ(entry, ELF_PVH_ENTRY);
}

TEST(elf_good_linux64)
{
	struct elf_img e;
	uint64_t entry;
	enum boot_entry_mode mode;

	build_elf(&e, 1, 4);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_LINUX64, &entry, &mode), 0);
	CHECK_EQ(mode, BOOT_ENTRY_LINUX64);
	CHECK_EQ(entry, ELF_PADDR);
	/* No note: AUTO falls back to the 64-bit entry. */
	build_elf(&e, 0, 4);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, &entry, &mode), 0);
	CHECK_EQ(mode, BOOT_ENTRY_LINUX64);
	CHECK_EQ(entry, ELF_PADDR);
}

TEST(elf_pvh_without_note)
{
	struct elf_img e;

	build_elf(&e, 0, 4);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_PVH, NULL, NULL), -ENOEXEC);
	CHECK(has("--kernel k.elf: no PVH entry point"));
	/* A note of another type or owner is not a PVH note. */
	build_elf(&e, 1, 4);
	memcpy(e.d + ELF_NOTE_OFF + 12, "Xeo", 4);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_PVH, NULL, NULL), -ENOEXEC);
	CHECK(has("no PVH entry point"));
}

TEST(elf_truncated_header)
{
	struct elf_img e;

	build_elf(&e, 1, 4);
	e.size = sizeof(Elf64_Ehdr) - 1;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("truncated (ELF header"));
	e.size = 3;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("not an ELF file"));
}

TEST(elf_bad_ident)
{
	struct elf_img e;

	build_elf(&e, 1, 4);
	e.d[1] = 'X';
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("not an ELF file"));

	build_elf(&e, 1, 4);
	eh(&e)->e_ident[EI_CLASS] = ELFCLASS32;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("not a 64-bit ELF"));

	build_elf(&e, 1, 4);
	eh(&e)->e_ident[EI_DATA] = ELFDATA2MSB;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("little-endian"));

	build_elf(&e, 1, 4);
	eh(&e)->e_machine = EM_386;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("not an x86-64 ELF"));

	build_elf(&e, 1, 4);
	eh(&e)->e_type = ET_DYN;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("not an ELF executable"));

	build_elf(&e, 1, 4);
	eh(&e)->e_phentsize = 32;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("program header size"));

	build_elf(&e, 1, 4);
	eh(&e)->e_phnum = 0;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("0 program headers"));
}

TEST(elf_phdrs_past_eof)
{
	struct elf_img e;

	build_elf(&e, 1, 4);
	eh(&e)->e_phoff = ELF_SIZE - sizeof(Elf64_Phdr); /* second one runs past */
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("truncated (program header table"));

	build_elf(&e, 1, 4);
	eh(&e)->e_phoff = UINT64_MAX - 8; /* would wrap */
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("truncated (program header table"));

	build_elf(&e, 1, 4);
	eh(&e)->e_phnum = 100;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("truncated (program header table"));
}

TEST(elf_segment_past_eof)
{
	struct elf_img e;

	build_elf(&e, 1, 4);
	ph(&e, 1)->p_filesz = ELF_SIZE - ELF_CODE_OFF + 1;
	ph(&e, 1)->p_memsz = 0x1000;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("truncated (segment 1 ends at 0x301 past the end of the file, 768 bytes)"));

	build_elf(&e, 1, 4);
	ph(&e, 1)->p_offset = UINT64_MAX - 0x10; /* offset + filesz wraps */
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("truncated (segment 1"));

	/* The note segment is checked against the file too. */
	build_elf(&e, 1, 4);
	ph(&e, 0)->p_filesz = ELF_SIZE;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("truncated (segment 0"));
}

TEST(elf_filesz_gt_memsz)
{
	struct elf_img e;

	build_elf(&e, 1, 4);
	ph(&e, 1)->p_memsz = ELF_CODE_SIZE - 1;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("corrupt segment 1 (file size 0x100 larger than memory size 0xff)"));
}

TEST(elf_paddr_overflow)
{
	struct elf_img e;

	build_elf(&e, 1, 4);
	ph(&e, 1)->p_paddr = UINT64_MAX - 0x100;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("wraps around"));
}

TEST(elf_segment_beyond_ram)
{
	struct elf_img e;

	build_elf(&e, 1, 4);
	ph(&e, 1)->p_paddr = RAM_SIZE - ELF_MEMSZ + 1; /* last byte one past the end */
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOMEM);
	CHECK(has("too large for guest memory (segment 1"));
	CHECK(untouched(RAM_SIZE - ELF_MEMSZ, ELF_MEMSZ));

	/* Exactly up to the end is fine (entry moved along so it stays inside). */
	build_elf(&e, 0, 4);
	ph(&e, 1)->p_paddr = RAM_SIZE - ELF_MEMSZ;
	eh(&e)->e_entry = RAM_SIZE - ELF_MEMSZ;
	CHECK_EQ(boot_load_elf(fresh_mem(),
			       &(struct boot_image){.data = e.d, .size = e.size, .name = "k"},
			       BOOT_PROTO_AUTO, &(uint64_t){0}, &(enum boot_entry_mode){0},
			       &(uint64_t){0}, errbuf, sizeof(errbuf)),
		 0);

	build_elf(&e, 1, 4);
	ph(&e, 1)->p_paddr = X86_HIGH_RAM_START;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOMEM);
	CHECK(has("too large for guest memory"));
}

TEST(elf_segment_over_boot_structures)
{
	struct elf_img e;

	build_elf(&e, 0, 4);
	ph(&e, 1)->p_paddr = X86_ZERO_PAGE_ADDR;
	eh(&e)->e_entry = X86_ZERO_PAGE_ADDR;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -EINVAL);
	CHECK(has("overlaps the boot tables"));

	build_elf(&e, 0, 4);
	ph(&e, 1)->p_paddr = X86_EBDA_ADDR - 0x10;
	eh(&e)->e_entry = X86_EBDA_ADDR - 0x10;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -EINVAL);
	CHECK(has("overlaps the MP table"));
}

TEST(elf_entry_outside_segments)
{
	struct elf_img e;

	build_elf(&e, 0, 4);
	eh(&e)->e_entry = ELF_PADDR + ELF_MEMSZ; /* one past the end */
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("64-bit entry point 0x100200 is outside every loaded segment"));

	build_elf(&e, 1, 4);
	memcpy(e.d + ELF_NOTE_OFF + 16, &(uint32_t){0x5000}, 4);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("PVH entry point 0x5000 is outside"));
}

TEST(elf_bad_notes)
{
	struct elf_img e;

	/* namesz runs past the segment end */
	build_elf(&e, 1, 4);
	memcpy(e.d + ELF_NOTE_OFF, &(uint32_t){0x100}, 4);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("note name of 256 bytes"));
	CHECK(has("past the segment end"));

	build_elf(&e, 1, 4);
	memcpy(e.d + ELF_NOTE_OFF, &(uint32_t){UINT32_MAX}, 4);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("note name"));

	/* descsz runs past the segment end */
	build_elf(&e, 1, 4);
	memcpy(e.d + ELF_NOTE_OFF + 4, &(uint32_t){5}, 4);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("note descriptor of 5 bytes"));

	build_elf(&e, 1, 4);
	memcpy(e.d + ELF_NOTE_OFF + 4, &(uint32_t){UINT32_MAX}, 4);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_PVH, NULL, NULL), -ENOEXEC);
	CHECK(has("note descriptor"));

	/* a header cut short by the segment */
	build_elf(&e, 1, 4);
	ph(&e, 0)->p_filesz = 8;
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("note header"));

	/* the PVH note with a descriptor that is neither 4 nor 8 bytes */
	build_elf(&e, 1, 2);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_AUTO, NULL, NULL), -ENOEXEC);
	CHECK(has("corrupt PVH entry note (descriptor of 2 bytes"));

	/* LINUX64 ignores notes entirely. */
	build_elf(&e, 1, 4);
	memcpy(e.d + ELF_NOTE_OFF, &(uint32_t){0x100}, 4);
	CHECK_EQ(load_elf(&e, BOOT_PROTO_LINUX64, NULL, NULL), 0);
}

/* ---- bzImage builder: 1 setup sector + boot sector, header, 0x1000 bytes payload ---- */

#define BZ_SETUP     0x400 /* (setup_sects 1 + 1) * 512 */
#define BZ_PAYLOAD   0x1000
#define BZ_SIZE	     (BZ_SETUP + BZ_PAYLOAD)
#define BZ_PREF	     0x200000ULL
#define BZ_INIT_SIZE 0x100000U

struct bz_img {
	uint8_t d[BZ_SIZE];
	size_t size;
};

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void build_bz(struct bz_img *b)
{
	memset(b, 0, sizeof(*b));
	b->size = BZ_SIZE;
	b->d[0x1f1] = 1; /* setup_sects */
	put32(b->d + 0x1f4, BZ_PAYLOAD / 16);
	put16(b->d + 0x1fe, 0xaa55);
	b->d[0x200] = 0xeb;
	b->d[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(b->d + 0x202, "HdrS", 4);
	put16(b->d + 0x206, 0x020f);
	b->d[0x211] = 0x01;		   /* LOADED_HIGH */
	put32(b->d + 0x22c, 0x7fffffff);   /* initrd_addr_max */
	put32(b->d + 0x230, 0x200000);	   /* kernel_alignment */
	b->d[0x234] = 1;		   /* relocatable */
	put16(b->d + 0x236, 0x0001);	   /* XLF_KERNEL_64 */
	put32(b->d + 0x238, 2047);	   /* cmdline_size */
	put64(b->d + 0x258, BZ_PREF);	   /* pref_address */
	put32(b->d + 0x260, BZ_INIT_SIZE); /* init_size */
	for (unsigned i = 0; i < BZ_PAYLOAD; i++)
		b->d[BZ_SETUP + i] = (uint8_t)(i * 13 + 5);
}

struct bz_out {
	uint64_t entry, end;
	uint8_t hdr[BOOT_SETUP_HDR_MAX];
	size_t hdr_len;
	uint32_t initrd_max, cmdline_size;
};

static int load_bz(struct bz_img *b, struct bz_out *o)
{
	struct boot_image img = {.data = b->d, .size = b->size, .name = "bz"};

	memset(o, 0, sizeof(*o));
	return boot_load_bzimage(fresh_mem(), &img, &o->entry, &o->end, o->hdr, &o->hdr_len,
				 &o->initrd_max, &o->cmdline_size, errbuf, sizeof(errbuf));
}

TEST(bz_good)
{
	struct bz_img b;
	struct bz_out o;

	build_bz(&b);
	CHECK_EQ(load_bz(&b, &o), 0);
	CHECK_EQ(o.entry, BZ_PREF + 0x200);
	CHECK_EQ(o.end, BZ_PREF + BZ_INIT_SIZE);
	CHECK_EQ(o.hdr_len, 0x7b);
	CHECK(memcmp(o.hdr, b.d + 0x1f1, 0x7b) == 0);
	CHECK_EQ(o.initrd_max, 0x7fffffff);
	CHECK_EQ(o.cmdline_size, 2047);
	CHECK(memcmp(ram + BZ_PREF, b.d + BZ_SETUP, BZ_PAYLOAD) == 0);
	CHECK(untouched(X86_HIMEM_START, 0x1000)); /* not also at 1 MiB */

	/* Not relocatable: 1 MiB, and the kernel still works at pref_address. */
	build_bz(&b);
	b.d[0x234] = 0;
	CHECK_EQ(load_bz(&b, &o), 0);
	CHECK_EQ(o.entry, X86_HIMEM_START + 0x200);
	CHECK_EQ(o.end, BZ_PREF + BZ_INIT_SIZE);
	CHECK(memcmp(ram + X86_HIMEM_START, b.d + BZ_SETUP, BZ_PAYLOAD) == 0);

	/* setup_sects 0 means 4: the payload starts at 5 * 512. */
	build_bz(&b);
	b.d[0x1f1] = 0;
	put32(b.d + 0x1f4, (BZ_SIZE - 5 * 512) / 16);
	CHECK_EQ(load_bz(&b, &o), 0);
	CHECK(memcmp(ram + BZ_PREF, b.d + 5 * 512, BZ_SIZE - 5 * 512) == 0);

	/* A shorter (older-layout) header is copied only as far as it goes. */
	build_bz(&b);
	b.d[0x201] = 0x66; /* ends at 0x268 */
	CHECK_EQ(load_bz(&b, &o), 0);
	CHECK_EQ(o.hdr_len, 0x268 - 0x1f1);
}

TEST(bz_bad_magic)
{
	struct bz_img b;
	struct bz_out o;

	build_bz(&b);
	b.d[0x205] = 'Z';
	CHECK_EQ(load_bz(&b, &o), -ENOEXEC);
	CHECK(has("--kernel bz: not a bzImage"));
	build_bz(&b);
	b.size = 0x204;
	CHECK_EQ(load_bz(&b, &o), -ENOEXEC);
	CHECK(has("not a bzImage"));
}

TEST(bz_old_protocol)
{
	struct bz_img b;
	struct bz_out o;

	build_bz(&b);
	put16(b.d + 0x206, 0x020b);
	CHECK_EQ(load_bz(&b, &o), -ENOEXEC);
	CHECK(has("boot protocol 2.11 is too old"));
}

TEST(bz_no_kernel64)
{
	struct bz_img b;
	struct bz_out o;

	build_bz(&b);
	put16(b.d + 0x236, 0x0002);
	CHECK_EQ(load_bz(&b, &o), -ENOEXEC);
	CHECK(has("no 64-bit entry point (XLF_KERNEL_64"));
}

TEST(bz_header_truncated)
{
	struct bz_img b;
	struct bz_out o;

	build_bz(&b);
	b.size = 0x260;
	CHECK_EQ(load_bz(&b, &o), -ENOEXEC);
	CHECK(has("truncated (setup header ends at 0x26c"));

	build_bz(&b);
	b.d[0x201] = 0x10; /* claims to end before init_size */
	CHECK_EQ(load_bz(&b, &o), -ENOEXEC);
	CHECK(has("corrupt setup header"));
}

TEST(bz_setup_past_eof)
{
	struct bz_img b;
	struct bz_out o;

	build_bz(&b);
	b.d[0x1f1] = 200;
	CHECK_EQ(load_bz(&b, &o), -ENOEXEC);
	CHECK(has("truncated (setup code: 200 sectors"));
	CHECK(untouched(BZ_PREF, 0x1000));
}

TEST(bz_truncated_payload)
{
	struct bz_img b;
	struct bz_out o;

	build_bz(&b);
	b.size = BZ_SIZE - 16; /* one paragraph short of syssize */
	CHECK_EQ(load_bz(&b, &o), -ENOEXEC);
	CHECK(has("truncated (protected-mode code of 4096 bytes"));

	build_bz(&b);
	put32(b.d + 0x1f4, 0);
	CHECK_EQ(load_bz(&b, &o), -ENOEXEC);
	CHECK(has("truncated (protected-mode code"));
	CHECK(untouched(BZ_PREF, 0x1000));
}

TEST(bz_too_large)
{
	struct bz_img b;
	struct bz_out o;

	build_bz(&b);
	put32(b.d + 0x260, RAM_SIZE); /* init_size: needs pref + 8 MiB */
	CHECK_EQ(load_bz(&b, &o), -ENOMEM);
	CHECK(has("too large for guest memory"));
	CHECK(untouched(BZ_PREF, 0x1000));
	CHECK(untouched(X86_HIMEM_START, 0x1000));

	build_bz(&b);
	put64(b.d + 0x258, UINT64_MAX - 0x1000); /* pref + init_size wraps */
	CHECK_EQ(load_bz(&b, &o), -ENOEXEC);
	CHECK(has("wraps"));

	/* Exactly fits: pref + init_size == end of RAM. */
	build_bz(&b);
	put32(b.d + 0x260, RAM_SIZE - BZ_PREF);
	CHECK_EQ(load_bz(&b, &o), 0);
	CHECK_EQ(o.end, RAM_SIZE);
}

/* ---- boot_load() with files ---- */

static char *tmp_path(const char *name)
{
	static char paths[16][128];
	static unsigned next;
	char *p = paths[next++ % 16];

	test_snprintf(p, 128, "%s/%s", tmpdir, name);
	return p;
}

static char *write_tmp(const char *name, const void *data, size_t len)
{
	char *p = tmp_path(name);
	FILE *f = fopen(p, "wb");

	CHECK(f != NULL);
	if (!f)
		return p;
	CHECK_EQ(fwrite(data, 1, len, f), len);
	fclose(f);
	return p;
}

static int run_boot(const char *kernel, const char *initrd, const char *cmdline,
		    enum boot_protocol proto, struct boot_entry *out)
{
	struct boot_params_in in = {
	    .kernel_path = kernel,
	    .initrd_path = initrd,
	    .cmdline = cmdline,
	    .protocol = proto,
	    .ncpus = 2,
	};

	return boot_load(fresh_mem(), &in, out, errbuf, sizeof(errbuf));
}

TEST(file_errors)
{
	struct boot_entry out;
	char *p;

	CHECK_EQ(run_boot(tmp_path("nope"), NULL, NULL, BOOT_PROTO_AUTO, &out), -ENOENT);
	CHECK(has("--kernel "));
	CHECK(has("/nope: does not exist"));

	CHECK_EQ(run_boot(tmpdir, NULL, NULL, BOOT_PROTO_AUTO, &out), -EISDIR);
	CHECK(has(": is a directory"));

	p = write_tmp("empty", "", 0);
	CHECK_EQ(run_boot(p, NULL, NULL, BOOT_PROTO_AUTO, &out), -EINVAL);
	CHECK(has("/empty: is empty"));

	p = write_tmp("junk", "this is not a kernel at all", 27);
	CHECK_EQ(run_boot(p, NULL, NULL, BOOT_PROTO_AUTO, &out), -ENOEXEC);
	CHECK(has("/junk: not a kernel (neither an ELF64 x86-64 executable nor a bzImage)"));

	CHECK_EQ(run_boot("/dev/null", NULL, NULL, BOOT_PROTO_AUTO, &out), -EINVAL);
	CHECK(has("not a regular file"));
	/* The message has no prefix and no newline. */
	CHECK(strncmp(errbuf, "--kernel ", 9) == 0);
	CHECK(strchr(errbuf, '\n') == NULL);
}

TEST(boot_load_elf_file)
{
	struct elf_img e;
	struct boot_entry out;
	uint8_t initrd[0x2345];
	char *k, *i;
	uint64_t ig, isz;

	build_elf(&e, 1, 4);
	k = write_tmp("k.elf", e.d, e.size);
	for (unsigned n = 0; n < sizeof(initrd); n++)
		initrd[n] = (uint8_t)(n ^ 0x5a);
	i = write_tmp("initrd", initrd, sizeof(initrd));

	CHECK_EQ(run_boot(k, i, "console=ttyS0", BOOT_PROTO_AUTO, &out), 0);
	CHECK_EQ(out.mode, BOOT_ENTRY_PVH32);
	CHECK_EQ(out.entry, ELF_PVH_ENTRY);
	CHECK_EQ(out.info_gpa, X86_PVH_INFO_ADDR);
	CHECK_EQ(out.cr3, X86_PML4_ADDR);
	CHECK_EQ(out.gdt_gpa, X86_BOOT_GDT_ADDR);
	CHECK_EQ(out.gdt_limit, 47);
	CHECK_EQ(out.idt_gpa, X86_BOOT_IDT_ADDR);
	CHECK(out.format && strcmp(out.format, "ELF/PVH") == 0);
	CHECK(strcmp((char *)ram + X86_CMDLINE_ADDR, "console=ttyS0") == 0);
	/* start_info */
	CHECK_EQ(rd32(X86_PVH_INFO_ADDR), 0x336ec578);
	CHECK_EQ(rd32(X86_PVH_INFO_ADDR + 12), 1);
	CHECK_EQ(rd32(X86_PVH_INFO_ADDR + 24), X86_CMDLINE_ADDR);
	CHECK_EQ(rd32(X86_PVH_INFO_ADDR + 48), 3);
	ig = rd32(rd32(X86_PVH_INFO_ADDR + 16));
	isz = rd32(rd32(X86_PVH_INFO_ADDR + 16) + 8);
	/* initrd: page-aligned, at the top of RAM, holding the file's bytes */
	CHECK_EQ(isz, sizeof(initrd));
	CHECK_EQ(ig % 0x1000, 0);
	CHECK_EQ(ig, (RAM_SIZE - sizeof(initrd)) & ~0xfffULL);
	CHECK(memcmp(ram + ig, initrd, sizeof(initrd)) == 0);
	/* MP table and page tables exist in this mode too */
	CHECK(memcmp(ram + X86_MPTABLE_ADDR, "_MP_", 4) == 0);
	CHECK_EQ(rd32(X86_PML4_ADDR), X86_PDPT_ADDR | 3);

	CHECK_EQ(run_boot(k, i, NULL, BOOT_PROTO_LINUX64, &out), 0);
	CHECK_EQ(out.mode, BOOT_ENTRY_LINUX64);
	CHECK_EQ(out.entry, ELF_PADDR);
	CHECK_EQ(out.info_gpa, X86_ZERO_PAGE_ADDR);
	CHECK(strcmp(out.format, "ELF/64-bit") == 0);
	CHECK_EQ(ram[X86_CMDLINE_ADDR], 0);
	CHECK_EQ(rd32(X86_ZERO_PAGE_ADDR + 0x202), 0x53726448);
	CHECK_EQ(rd32(X86_ZERO_PAGE_ADDR + 0x1fe) & 0xffff, 0xaa55);
	CHECK_EQ(rd32(X86_ZERO_PAGE_ADDR + 0x206) & 0xffff, 0x020f);
	CHECK_EQ(rd32(X86_ZERO_PAGE_ADDR + 0x228), X86_CMDLINE_ADDR);
	CHECK_EQ(rd32(X86_ZERO_PAGE_ADDR + 0x218), ig);
	CHECK_EQ(rd32(X86_ZERO_PAGE_ADDR + 0x21c), sizeof(initrd));
	CHECK_EQ(ram[X86_ZERO_PAGE_ADDR + 0x1e8], 3);

	/* bad ncpus */
	struct boot_params_in in = {.kernel_path = k, .ncpus = 0};
	CHECK_EQ(boot_load(fresh_mem(), &in, &out, errbuf, sizeof(errbuf)), -EINVAL);
	CHECK(has("--cpus 0"));
	in.ncpus = 255;
	CHECK_EQ(boot_load(fresh_mem(), &in, &out, errbuf, sizeof(errbuf)), -EINVAL);
	CHECK(has("--cpus 255"));
}

TEST(cmdline_limits)
{
	static char line[4096];
	struct elf_img e;
	struct bz_img b;
	struct boot_entry out;
	char *k;

	build_elf(&e, 1, 4);
	k = write_tmp("k2.elf", e.d, e.size);
	memset(line, 'x', 2047);
	line[2047] = 0;
	CHECK_EQ(run_boot(k, NULL, line, BOOT_PROTO_AUTO, &out), 0);
	CHECK_EQ(strlen((char *)ram + X86_CMDLINE_ADDR), 2047);
	line[2047] = 'x';
	line[2048] = 0;
	CHECK_EQ(run_boot(k, NULL, line, BOOT_PROTO_AUTO, &out), -E2BIG);
	CHECK(has("--cmdline: too long (2048 bytes, the kernel accepts at most 2047)"));
	CHECK(untouched(X86_CMDLINE_ADDR, 16));

	/* bzImage: its own cmdline_size */
	build_bz(&b);
	put32(b.d + 0x238, 100);
	k = write_tmp("bz-cmd", b.d, b.size);
	memset(line, 'y', 101);
	line[100] = 0;
	CHECK_EQ(run_boot(k, NULL, line, BOOT_PROTO_AUTO, &out), 0);
	line[100] = 'y';
	line[101] = 0;
	CHECK_EQ(run_boot(k, NULL, line, BOOT_PROTO_AUTO, &out), -E2BIG);
	CHECK(has("too long (101 bytes, the kernel accepts at most 100)"));
}

TEST(boot_load_bz_file)
{
	struct bz_img b;
	struct boot_entry out;
	uint8_t initrd[5000];
	char *k, *i;
	uint32_t ig;
	const uint64_t zp = X86_ZERO_PAGE_ADDR;

	build_bz(&b);
	put32(b.d + 0x22c, 0x5fffff); /* initrd_addr_max: the initrd must end by 6 MiB */
	k = write_tmp("bz", b.d, b.size);
	memset(initrd, 0x3c, sizeof(initrd));
	i = write_tmp("initrd-bz", initrd, sizeof(initrd));

	CHECK_EQ(run_boot(k, NULL, NULL, BOOT_PROTO_PVH, &out), -EINVAL);
	CHECK(has("a bzImage has no PVH entry point"));

	CHECK_EQ(run_boot(k, i, "quiet", BOOT_PROTO_AUTO, &out), 0);
	CHECK_EQ(out.mode, BOOT_ENTRY_LINUX64);
	CHECK_EQ(out.entry, BZ_PREF + 0x200);
	CHECK_EQ(out.info_gpa, zp);
	CHECK_EQ(out.cr3, X86_PML4_ADDR);
	CHECK(strcmp(out.format, "bzImage/64-bit") == 0);
	CHECK_EQ(ram[zp + 0x1f1], 1);		  /* copied setup_sects */
	CHECK_EQ(rd32(zp + 0x260), BZ_INIT_SIZE); /* copied init_size */
	CHECK_EQ(ram[zp + 0x210], 0xff);
	CHECK_EQ(ram[zp + 0x211], 0x81);
	CHECK_EQ(rd32(zp + 0x224) & 0xffff, 0xfe00);
	CHECK_EQ(rd32(zp + 0x228), X86_CMDLINE_ADDR);
	ig = rd32(zp + 0x218);
	CHECK_EQ(rd32(zp + 0x21c), sizeof(initrd));
	CHECK_EQ(ig % 0x1000, 0);
	CHECK_EQ(ig, (0x600000 - sizeof(initrd)) & ~0xfffULL);
	CHECK(ig >= BZ_PREF + BZ_INIT_SIZE);
	CHECK(memcmp(ram + ig, initrd, sizeof(initrd)) == 0);
	CHECK_EQ(ram[zp + 0x1e8], 3);
	CHECK(strcmp((char *)ram + X86_CMDLINE_ADDR, "quiet") == 0);
}

TEST(initrd_errors)
{
	struct elf_img e;
	struct bz_img b;
	struct boot_entry out;
	uint8_t *big;
	char *k, *i;

	build_elf(&e, 1, 4);
	k = write_tmp("k3.elf", e.d, e.size);
	CHECK_EQ(run_boot(k, tmp_path("no-initrd"), NULL, BOOT_PROTO_AUTO, &out), -ENOENT);
	CHECK(has("--initrd "));
	CHECK(has("/no-initrd: does not exist"));
	CHECK_EQ(run_boot(k, tmpdir, NULL, BOOT_PROTO_AUTO, &out), -EISDIR);
	CHECK(has("--initrd "));
	CHECK(has("is a directory"));
	i = write_tmp("empty-initrd", "", 0);
	CHECK_EQ(run_boot(k, i, NULL, BOOT_PROTO_AUTO, &out), -EINVAL);
	CHECK(has("--initrd "));
	CHECK(has("is empty"));

	/* RAM is 8 MiB, the kernel ends at 1 MiB + 0x200: 6 MiB fits, 7 MiB does not. */
	big = calloc(1, RAM_SIZE);
	i = write_tmp("big-initrd", big, 7 * MIB);
	CHECK_EQ(run_boot(k, i, NULL, BOOT_PROTO_AUTO, &out), -ENOMEM);
	CHECK(has("--initrd "));
	CHECK(has("/big-initrd: too large (7 MiB; at most 6 MiB fit below 0x800000"));
	i = write_tmp("fit-initrd", big, RAM_SIZE - 0x101000);
	CHECK_EQ(run_boot(k, i, NULL, BOOT_PROTO_AUTO, &out), 0);
	CHECK_EQ(rd32(rd32(X86_PVH_INFO_ADDR + 16)), 0x101000);

	/* A tiny ELF guest below 1 MiB: the initrd still stays above 1 MiB (boot tables). */
	build_elf(&e, 0, 4);
	ph(&e, 1)->p_paddr = 0x10000;
	eh(&e)->e_entry = 0x10000;
	k = write_tmp("k-low.elf", e.d, e.size);
	i = write_tmp("low-initrd", big, RAM_SIZE - 0x100000 + 0x1000);
	CHECK_EQ(run_boot(k, i, NULL, BOOT_PROTO_AUTO, &out), -ENOMEM);
	CHECK(has("too large (8 MiB; at most 7 MiB fit below 0x800000"));
	i = write_tmp("low-initrd2", big, RAM_SIZE - 0x100000);
	CHECK_EQ(run_boot(k, i, NULL, BOOT_PROTO_AUTO, &out), 0);
	CHECK_EQ(rd32(X86_ZERO_PAGE_ADDR + 0x218), 0x100000);
	CHECK(memcmp(ram + X86_MPTABLE_ADDR, "_MP_", 4) == 0);

	/* bzImage: initrd_addr_max caps it lower than RAM does. */
	build_bz(&b);
	put32(b.d + 0x22c, 0x3fffff);
	k = write_tmp("bz-lowmax", b.d, b.size);
	i = write_tmp("mid-initrd", big, 2 * MIB);
	CHECK_EQ(run_boot(k, i, NULL, BOOT_PROTO_AUTO, &out), -ENOMEM);
	CHECK(has("too large (2 MiB; at most 1 MiB fit below 0x400000"));
	free(big);
}

/* ---- the real minimal kernel, if the shared images are here ---- */

static const char *shared_dir(void)
{
	static const char *cands[] = {NULL, "/work/shared/guest", "../shared/guest"};
	struct stat st;

	cands[0] = getenv("ARCVMM_SHARED_GUEST");
	for (unsigned i = 0; i < 3; i++)
		if (cands[i] && stat(cands[i], &st) == 0 && S_ISDIR(st.st_mode))
			return cands[i];
	return NULL;
}

static int read_file_head(const char *path, void *buf, size_t len, off_t off)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, off);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

TEST(real_kernels)
{
	const char *dir = shared_dir();
	char kpath[512], bpath[512], ipath[512];
	struct boot_params_in in = {.cmdline = "console=ttyS0 panic=-1", .ncpus = 2};
	struct boot_entry out;
	struct guest_mem m;
	uint8_t want[256], *p;
	uint64_t ig, isz;
	int ret;

	if (!dir) {
		printf("skip real_kernels: no shared guest images\n");
		return;
	}
	test_snprintf(kpath, sizeof(kpath), "%s/minimal-vmlinux", dir);
	test_snprintf(bpath, sizeof(bpath), "%s/minimal-bzImage", dir);
	test_snprintf(ipath, sizeof(ipath), "%s/minimal-initramfs.cpio.gz", dir);
	CHECK_EQ(guest_mem_init(&m, 256 * MIB, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);

	in.kernel_path = kpath;
	in.initrd_path = ipath;
	ret = boot_load(&m, &in, &out, errbuf, sizeof(errbuf));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "  %s\n", errbuf);
	CHECK_EQ(out.mode, BOOT_ENTRY_PVH32);
	CHECK_EQ(out.entry, 0x10004a0);
	CHECK(strcmp(out.format, "ELF/PVH") == 0);
	p = guest_mem_ptr(&m, X86_PVH_INFO_ADDR, 56);
	CHECK(p && memcmp(p, &(uint32_t){0x336ec578}, 4) == 0);
	CHECK_EQ(guest_mem_read(&m, X86_PVH_INFO_ADDR + 16, &ig, 8), 0);
	CHECK_EQ(guest_mem_read(&m, ig, &ig, 8), 0);
	CHECK_EQ(guest_mem_read(&m, X86_PVH_INFO_ADDR + 16, &isz, 8), 0);
	CHECK_EQ(guest_mem_read(&m, isz + 8, &isz, 8), 0);
	CHECK_EQ(isz, 1033773);
	CHECK(ig >= 0x1c10000 + 0x206000); /* above the kernel's last segment */
	CHECK_EQ(ig % 0x1000, 0);
	CHECK(ig + isz <= 256 * MIB);
	CHECK_EQ(read_file_head(ipath, want, sizeof(want), 0), 0);
	CHECK(memcmp(guest_mem_ptr(&m, ig, sizeof(want)), want, sizeof(want)) == 0);
	/* first bytes of the first PT_LOAD (file offset 0x200000) at 16 MiB */
	CHECK_EQ(read_file_head(kpath, want, sizeof(want), 0x200000), 0);
	CHECK(memcmp(guest_mem_ptr(&m, 0x1000000, sizeof(want)), want, sizeof(want)) == 0);

	in.protocol = BOOT_PROTO_LINUX64;
	CHECK_EQ(boot_load(&m, &in, &out, errbuf, sizeof(errbuf)), 0);
	CHECK_EQ(out.mode, BOOT_ENTRY_LINUX64);
	CHECK_EQ(out.entry, 0x1000000);
	CHECK_EQ(out.info_gpa, X86_ZERO_PAGE_ADDR);

	in.kernel_path = bpath;
	in.protocol = BOOT_PROTO_AUTO;
	ret = boot_load(&m, &in, &out, errbuf, sizeof(errbuf));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "  %s\n", errbuf);
	CHECK_EQ(out.mode, BOOT_ENTRY_LINUX64);
	/* This kernel is not relocatable (relocatable_kernel = 0): loaded at 1 MiB. */
	CHECK_EQ(out.entry, 0x100200);
	CHECK(strcmp(out.format, "bzImage/64-bit") == 0);
	p = guest_mem_ptr(&m, X86_ZERO_PAGE_ADDR, 0x1000);
	CHECK(p != NULL);
	if (p) {
		uint32_t v32;

		CHECK_EQ(p[0x1f1], 0x1f);
		CHECK(memcmp(p + 0x202, "HdrS", 4) == 0);
		CHECK_EQ(p[0x206] | p[0x207] << 8, 0x020f);
		CHECK_EQ(p[0x210], 0xff);
		CHECK(p[0x211] & 0x80);
		memcpy(&v32, p + 0x228, 4);
		CHECK_EQ(v32, X86_CMDLINE_ADDR);
		memcpy(&v32, p + 0x21c, 4);
		CHECK_EQ(v32, 1033773);
		memcpy(&v32, p + 0x218, 4);
		CHECK(v32 >= 0x1000000 + 0x1114000); /* above pref_address + init_size */
		CHECK_EQ(v32 % 0x1000, 0);
		CHECK_EQ(p[0x1e8], 3);
	}
	CHECK(strcmp(guest_mem_ptr(&m, X86_CMDLINE_ADDR, 32), "console=ttyS0 panic=-1") == 0);
	CHECK_EQ(read_file_head(bpath, want, sizeof(want), 0x20 * 512), 0);
	CHECK(memcmp(guest_mem_ptr(&m, 0x100000, sizeof(want)), want, sizeof(want)) == 0);

	in.protocol = BOOT_PROTO_PVH;
	CHECK_EQ(boot_load(&m, &in, &out, errbuf, sizeof(errbuf)), -EINVAL);
	CHECK(has("no PVH entry point"));

	/* 32 MiB is too small for its init_size. */
	guest_mem_fini(&m);
	CHECK_EQ(guest_mem_init(&m, 32 * MIB, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	in.protocol = BOOT_PROTO_AUTO;
	CHECK_EQ(boot_load(&m, &in, &out, errbuf, sizeof(errbuf)), -ENOMEM);
	CHECK(has("too large for guest memory"));
	guest_mem_fini(&m);
}

int main(void)
{
	char tmpl[] = "/tmp/arcvmm-test-boot-XXXXXX";

	ram = malloc(RAM_SIZE);
	if (!ram || !mkdtemp(tmpl)) {
		perror("setup");
		return 1;
	}
	test_snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);

	RUN(elf_good_auto_pvh);
	RUN(elf_good_linux64);
	RUN(elf_pvh_without_note);
	RUN(elf_truncated_header);
	RUN(elf_bad_ident);
	RUN(elf_phdrs_past_eof);
	RUN(elf_segment_past_eof);
	RUN(elf_filesz_gt_memsz);
	RUN(elf_paddr_overflow);
	RUN(elf_segment_beyond_ram);
	RUN(elf_segment_over_boot_structures);
	RUN(elf_entry_outside_segments);
	RUN(elf_bad_notes);
	RUN(bz_good);
	RUN(bz_bad_magic);
	RUN(bz_old_protocol);
	RUN(bz_no_kernel64);
	RUN(bz_header_truncated);
	RUN(bz_setup_past_eof);
	RUN(bz_truncated_payload);
	RUN(bz_too_large);
	RUN(file_errors);
	RUN(boot_load_elf_file);
	RUN(cmdline_limits);
	RUN(boot_load_bz_file);
	RUN(initrd_errors);
	RUN(real_kernels);

	free(ram);
	char cmd[128];
	test_snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return test_summary();
}

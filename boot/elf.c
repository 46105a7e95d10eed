/* boot/elf.c — loads an ELF64 x86-64 executable (a Linux vmlinux, or a tiny test guest) at
 * its physical addresses and finds its entry point: the PVH entry from a Xen ELF note, or
 * e_entry for the 64-bit Linux entry.
 *
 * Trusts: nothing in the image. The ELF header, every program header and every note is
 * bounds-checked against the image size, and every segment against low guest RAM and the
 * boot structures, with arithmetic that cannot wrap; all checks run before the first byte
 * is copied into the guest.
 */
#include "boot/boot.h"
#include "boot/image.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define ELF_MAX_PHDRS		 256 /* real kernels have ~5; bounds the work per image */

/* Guest ranges that boot_load() fills after the kernel: a segment there would be overwritten
 * (or would overwrite the tables we hand to the kernel). */
static const struct {
	uint64_t start, end;
	const char *what;
} elf_reserved[] = {
    {X86_BOOT_GDT_ADDR, X86_PD_ADDR + 4 * 0x1000, "the boot tables"},
    {X86_CMDLINE_ADDR, X86_CMDLINE_ADDR + X86_CMDLINE_MAX, "the command line"},
    {X86_EBDA_ADDR, X86_LOW_RESERVED_END, "the MP table and BIOS area"},
};

static uint64_t align4(uint64_t v)
{
	return (v + 3) & ~3ULL; /* callers pass values < 2^33: no wrap */
}

/* Walks the notes of one PT_NOTE segment [seg, seg+len) for XEN_ELFNOTE_PHYS32_ENTRY. */
static int elf_scan_notes(const struct boot_image *img, unsigned idx, const uint8_t *seg,
			  uint64_t len, bool *found, uint64_t *pvh_entry, char *err, size_t errlen)
{
	uint64_t off = 0;

	while (off < len) {
		uint32_t namesz, descsz, type;
		uint64_t name_off, desc_off;

		if (len - off < 12)
			return boot_image_fail(
			    -ENOEXEC, err, errlen, img,
			    "corrupt note (segment %u: note header at +0x%llx runs past "
			    "the segment end, %llu bytes)",
			    idx, (unsigned long long)off, (unsigned long long)len);
		namesz = rd32(seg + off);
		descsz = rd32(seg + off + 4);
		type = rd32(seg + off + 8);
		name_off = off + 12;
		if (namesz > len - name_off)
			return boot_image_fail(
			    -ENOEXEC, err, errlen, img,
			    "corrupt note (segment %u: note name of %u bytes at +0x%llx "
			    "runs past the segment end, %llu bytes)",
			    idx, namesz, (unsigned long long)name_off, (unsigned long long)len);
		desc_off = name_off + align4(namesz);
		if (desc_off > len || descsz > len - desc_off)
			return boot_image_fail(
			    -ENOEXEC, err, errlen, img,
			    "corrupt note (segment %u: note descriptor of %u bytes at "
			    "+0x%llx runs past the segment end, %llu bytes)",
			    idx, descsz, (unsigned long long)desc_off, (unsigned long long)len);
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    memcmp(seg + name_off, "Xen", 4) == 0) {
			if (descsz == 4)
				*pvh_entry = rd32(seg + desc_off);
			else if (descsz == 8)
				*pvh_entry = rd64(seg + desc_off);
			else
				return boot_image_fail(
				    -ENOEXEC, err, errlen, img,
				    "corrupt PVH entry note (descriptor of %u bytes, "
				    "expected 4 or 8)",
				    descsz);
			*found = true;
		}
		off = desc_off + align4(descsz); /* may pass len: ends the loop */
	}
	return 0;
}

int boot_load_elf(struct guest_mem *m, const struct boot_image *img, enum boot_protocol proto,
		  uint64_t *entry, enum boot_entry_mode *mode, uint64_t *kernel_end, char *err,
		  size_t errlen)
{
	const uint64_t low_end = guest_mem_low_end(m);
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint64_t pvh_entry = 0, end = 0, chosen;
	bool has_pvh = false, entry_loaded = false;
	unsigned nload = 0;
	int ret;

	if (img->size < SELFMAG || memcmp(img->data, ELFMAG, SELFMAG) != 0)
		return boot_image_fail(-ENOEXEC, err, errlen, img, "not an ELF file (bad magic)");
	if (img->size < sizeof(eh))
		return boot_image_fail(-ENOEXEC, err, errlen, img,
				       "truncated (ELF header needs %zu bytes, the file has %zu)",
				       sizeof(eh), img->size);
	memcpy(&eh, img->data, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64)
		return boot_image_fail(
		    -ENOEXEC, err, errlen, img,
		    "not a 64-bit ELF file (class %u; an x86-64 kernel is ELFCLASS64)",
		    eh.e_ident[EI_CLASS]);
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return boot_image_fail(-ENOEXEC, err, errlen, img, "not a little-endian ELF file");
	if (eh.e_machine != EM_X86_64)
		return boot_image_fail(-ENOEXEC, err, errlen, img,
				       "not an x86-64 ELF file (machine %u, expected %u)",
				       eh.e_machine, EM_X86_64);
	if (eh.e_type != ET_EXEC)
		return boot_image_fail(-ENOEXEC, err, errlen, img,
				       "not an ELF executable (type %u; a kernel is ET_EXEC)",
				       eh.e_type);
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return boot_image_fail(-ENOEXEC, err, errlen, img,
				       "corrupt ELF header (program header size %u, expected %zu)",
				       eh.e_phentsize, sizeof(Elf64_Phdr));
	if (eh.e_phnum == 0 || eh.e_phnum > ELF_MAX_PHDRS)
		return boot_image_fail(-ENOEXEC, err, errlen, img,
				       "corrupt ELF header (%u program headers; 1..%u accepted)",
				       eh.e_phnum, ELF_MAX_PHDRS);
	/* phnum * phentsize <= 256 * 56: only the offset can be out of range. */
	uint64_t ph_size = (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (eh.e_phoff > img->size || ph_size > img->size - eh.e_phoff)
		return boot_image_fail(
		    -ENOEXEC, err, errlen, img,
		    "truncated (program header table at 0x%llx, %llu bytes, ends past "
		    "the end of the file, %zu bytes)",
		    (unsigned long long)eh.e_phoff, (unsigned long long)ph_size, img->size);

	/* Pass 1: check everything. */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, img->data + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > img->size || ph.p_filesz > img->size - ph.p_offset)
			return boot_image_fail(
			    -ENOEXEC, err, errlen, img,
			    "truncated (segment %u ends at 0x%llx past the end of the "
			    "file, %zu bytes)",
			    i,
			    (unsigned long long)(ph.p_offset > UINT64_MAX - ph.p_filesz
						     ? UINT64_MAX
						     : ph.p_offset + ph.p_filesz),
			    img->size);
		if (ph.p_type == PT_NOTE) {
			if (proto == BOOT_PROTO_LINUX64)
				continue;
			ret = elf_scan_notes(img, i, img->data + ph.p_offset, ph.p_filesz, &has_pvh,
					     &pvh_entry, err, errlen);
			if (ret)
				return ret;
			continue;
		}
		if (ph.p_filesz > ph.p_memsz)
			return boot_image_fail(
			    -ENOEXEC, err, errlen, img,
			    "corrupt segment %u (file size 0x%llx larger than memory "
			    "size 0x%llx)",
			    i, (unsigned long long)ph.p_filesz, (unsigned long long)ph.p_memsz);
		if (ph.p_memsz == 0)
			continue;
		if (ph.p_paddr > UINT64_MAX - ph.p_memsz)
			return boot_image_fail(
			    -ENOEXEC, err, errlen, img,
			    "corrupt segment %u (address 0x%llx + size 0x%llx wraps "
			    "around)",
			    i, (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz);
		uint64_t seg_end = ph.p_paddr + ph.p_memsz;
		if (seg_end > low_end)
			return boot_image_fail(
			    -ENOMEM, err, errlen, img,
			    "too large for guest memory (segment %u at [0x%llx, 0x%llx) "
			    "ends past the end of low RAM at 0x%llx)",
			    i, (unsigned long long)ph.p_paddr, (unsigned long long)seg_end,
			    (unsigned long long)low_end);
		for (size_t r = 0; r < sizeof(elf_reserved) / sizeof(elf_reserved[0]); r++) {
			if (ph.p_paddr < elf_reserved[r].end && elf_reserved[r].start < seg_end)
				return boot_image_fail(
				    -EINVAL, err, errlen, img,
				    "segment %u at [0x%llx, 0x%llx) overlaps %s at "
				    "[0x%llx, 0x%llx)",
				    i, (unsigned long long)ph.p_paddr, (unsigned long long)seg_end,
				    elf_reserved[r].what, (unsigned long long)elf_reserved[r].start,
				    (unsigned long long)elf_reserved[r].end);
		}
		if (seg_end > end)
			end = seg_end;
		nload++;
	}
	if (nload == 0)
		return boot_image_fail(-ENOEXEC, err, errlen, img, "no loadable segment");

	if (proto == BOOT_PROTO_PVH && !has_pvh)
		return boot_image_fail(
		    -ENOEXEC, err, errlen, img,
		    "no PVH entry point (no Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY); "
		    "boot it with the 64-bit entry instead");
	if (proto != BOOT_PROTO_LINUX64 && has_pvh) {
		*mode = BOOT_ENTRY_PVH32;
		chosen = pvh_entry;
	} else {
		*mode = BOOT_ENTRY_LINUX64;
		chosen = eh.e_entry;
	}

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, img->data + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && chosen >= ph.p_paddr &&
		    chosen - ph.p_paddr < ph.p_memsz)
			entry_loaded = true;
	}
	if (!entry_loaded)
		return boot_image_fail(-ENOEXEC, err, errlen, img,
				       "%s entry point 0x%llx is outside every loaded segment",
				       *mode == BOOT_ENTRY_PVH32 ? "PVH" : "64-bit",
				       (unsigned long long)chosen);

	/* Pass 2: copy. Every range was checked above. */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, img->data + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		uint8_t *dst = guest_mem_ptr(m, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return boot_image_fail(-EFAULT, err, errlen, img,
					       "segment %u at 0x%llx is not in guest RAM", i,
					       (unsigned long long)ph.p_paddr);
		memcpy(dst, img->data + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	*entry = chosen;
	*kernel_end = end;
	return 0;
}

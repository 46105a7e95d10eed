/* boot/bzimage.c — loads a Linux bzImage for the 64-bit boot protocol (Linux
 * Documentation/arch/x86/boot.rst): the protected-mode part goes to pref_address (relocatable
 * kernels, when it fits) or 1 MiB, the entry is 0x200 past it, and the setup header is
 * handed back for the zero page. The real-mode setup code is not loaded: nothing runs it.
 *
 * Trusts: nothing in the image. The header is checked (magic, protocol >= 2.12, 64-bit
 * entry, sizes against the file) and the kernel's working area (init_size) against low
 * guest RAM, with arithmetic that cannot wrap, before anything is copied.
 */
#include "boot/boot.h"
#include "boot/image.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"

/* Offsets in the image (= offsets in struct boot_params). */
#define HDR_SETUP_SECTS	     0x1f1
#define HDR_SYSSIZE	     0x1f4
#define HDR_JUMP_LEN	     0x201 /* header end = 0x202 + this byte */
#define HDR_MAGIC	     0x202
#define HDR_VERSION	     0x206
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE	     0x234
#define HDR_XLOADFLAGS	     0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE	     0x260
#define HDR_MIN_END	     0x264 /* through init_size: all we read */
#define HDR_START	     0x1f1

#define BZ_MIN_VERSION	 0x020c /* 2.12: xloadflags */
#define XLF_KERNEL_64	 0x0001
#define BZ_SECTOR	 512
#define BZ_ENTRY64_OFF	 0x200
#define BZ_DEFAULT_SECTS 4

static uint64_t u64_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static unsigned long long mib_up(uint64_t v)
{
	return (unsigned long long)(v / (1ULL << 20) + (v % (1ULL << 20) != 0));
}

int boot_load_bzimage(struct guest_mem *m, const struct boot_image *img, uint64_t *entry,
		      uint64_t *kernel_end, uint8_t *setup_hdr, size_t *setup_hdr_len,
		      uint32_t *initrd_addr_max, uint32_t *cmdline_size, char *err, size_t errlen)
{
	const uint64_t low_end = guest_mem_low_end(m);
	const uint8_t *d = img->data;
	uint64_t setup_size, payload, syssize, pref, init_size, align, load, work, need_end;
	unsigned sects, version, hdr_end;

	if (img->size < HDR_MAGIC + 4 || memcmp(d + HDR_MAGIC, "HdrS", 4) != 0)
		return boot_image_fail(-ENOEXEC, err, errlen, img,
				       "not a bzImage (no \"HdrS\" boot header at 0x202)");
	if (img->size < HDR_VERSION + 2)
		return boot_image_fail(
		    -ENOEXEC, err, errlen, img,
		    "truncated (setup header ends past the end of the file, %zu bytes)", img->size);
	version = rd16(d + HDR_VERSION);
	if (version < BZ_MIN_VERSION)
		return boot_image_fail(
		    -ENOEXEC, err, errlen, img,
		    "boot protocol %u.%02u is too old (2.12 or newer needed for the "
		    "64-bit entry)",
		    version >> 8, version & 0xff);
	hdr_end = 0x202 + d[HDR_JUMP_LEN];
	if (hdr_end < HDR_MIN_END)
		return boot_image_fail(
		    -ENOEXEC, err, errlen, img,
		    "corrupt setup header (ends at 0x%x, protocol %u.%02u needs 0x%x)", hdr_end,
		    version >> 8, version & 0xff, HDR_MIN_END);
	if (hdr_end > img->size)
		return boot_image_fail(
		    -ENOEXEC, err, errlen, img,
		    "truncated (setup header ends at 0x%x past the end of the file, "
		    "%zu bytes)",
		    hdr_end, img->size);
	if (!(rd16(d + HDR_XLOADFLAGS) & XLF_KERNEL_64))
		return boot_image_fail(
		    -ENOEXEC, err, errlen, img,
		    "no 64-bit entry point (XLF_KERNEL_64 not set in xloadflags): "
		    "a 32-bit kernel?");

	sects = d[HDR_SETUP_SECTS] ? d[HDR_SETUP_SECTS] : BZ_DEFAULT_SECTS;
	setup_size = (uint64_t)(sects + 1) * BZ_SECTOR;
	if (setup_size >= img->size)
		return boot_image_fail(
		    -ENOEXEC, err, errlen, img,
		    "truncated (setup code: %u sectors end at 0x%llx, the file has "
		    "%zu bytes and no protected-mode code)",
		    sects, (unsigned long long)setup_size, img->size);
	payload = img->size - setup_size;
	syssize = (uint64_t)rd32(d + HDR_SYSSIZE) * 16;
	if (syssize == 0 || syssize > payload || payload <= BZ_ENTRY64_OFF)
		return boot_image_fail(
		    -ENOEXEC, err, errlen, img,
		    "truncated (protected-mode code of %llu bytes at 0x%llx, the file "
		    "has %llu bytes there)",
		    (unsigned long long)syssize, (unsigned long long)setup_size,
		    (unsigned long long)payload);

	pref = rd64(d + HDR_PREF_ADDRESS);
	init_size = rd32(d + HDR_INIT_SIZE);
	align = rd32(d + HDR_KERNEL_ALIGNMENT);
	/* A relocatable kernel runs where it is put (if pref_address fits); anything else is
	 * loaded at 1 MiB and decompresses itself to its link address, pref_address. */
	load = X86_HIMEM_START;
	if (d[HDR_RELOCATABLE] && pref >= X86_HIMEM_START && pref <= low_end &&
	    u64_max(payload, init_size) <= low_end - pref)
		load = pref;
	/* Where the kernel works: from the aligned load address, never below pref_address. */
	work = load;
	if (d[HDR_RELOCATABLE] && align && !(align & (align - 1)) && align <= (1ULL << 30))
		work = (load + align - 1) & ~(align - 1);
	work = u64_max(work, pref);
	if (work > UINT64_MAX - init_size)
		return boot_image_fail(
		    -ENOEXEC, err, errlen, img,
		    "corrupt setup header (pref_address 0x%llx + init_size wraps)",
		    (unsigned long long)pref);
	need_end = u64_max(work + init_size, load + payload);
	if (need_end > low_end)
		return boot_image_fail(
		    -ENOMEM, err, errlen, img,
		    "too large for guest memory (the kernel needs RAM up to 0x%llx, "
		    "%llu MiB; low RAM ends at 0x%llx)",
		    (unsigned long long)need_end, mib_up(need_end), (unsigned long long)low_end);

	if (guest_mem_write(m, load, d + setup_size, payload))
		return boot_image_fail(-EFAULT, err, errlen, img,
				       "cannot write %llu bytes at 0x%llx into guest RAM",
				       (unsigned long long)payload, (unsigned long long)load);

	*setup_hdr_len = hdr_end - HDR_START;
	if (*setup_hdr_len > BOOT_SETUP_HDR_MAX)
		*setup_hdr_len = BOOT_SETUP_HDR_MAX;
	memcpy(setup_hdr, d + HDR_START, *setup_hdr_len);
	*entry = load + BZ_ENTRY64_OFF;
	*kernel_end = need_end;
	*initrd_addr_max = rd32(d + HDR_INITRD_ADDR_MAX);
	*cmdline_size = rd32(d + HDR_CMDLINE_SIZE);
	return 0;
}

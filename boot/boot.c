/* boot/boot.c — boot_load(): reads the kernel (ELF or bzImage) and the initrd, places them
 * with the command line in guest RAM, and builds the x86 boot structures around them.
 *
 * Trusts: nothing in the files or their sizes (each number is checked before use; the
 * loaders in elf.c and bzimage.c check the images). Trusts its caller's guest_mem and
 * boot_params_in, except for the sizes of cmdline and ncpus, which it checks.
 */
#include "boot/boot.h"
#include "boot/image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "arch/x86/setup.h"

#define PAGE_SIZE 0x1000ULL
_Static_assert(BOOT_SETUP_HDR_MAX == X86_SETUP_HDR_MAX, "setup header sizes agree");

#define ELF_INITRD_LIMIT 0x100000000ULL /* 32-bit ramdisk_image without ext_ fields */

static int boot_fail(int ret, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int boot_fail(int ret, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Opens a regular, non-empty file for reading. opt names it in messages ("--kernel"). */
static int boot_file_open(const char *opt, const char *path, int *fdp, uint64_t *sizep, char *err,
			  size_t errlen)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			return boot_fail(ret, err, errlen, "%s %s: does not exist", opt, path);
		return boot_fail(ret, err, errlen, "%s %s: cannot open (%s)", opt, path,
				 strerror(-ret));
	}
	if (fstat(fd, &st) < 0) {
		ret = boot_fail(-errno, err, errlen, "%s %s: cannot stat (%s)", opt, path,
				strerror(errno));
		goto close_fd;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = boot_fail(-EISDIR, err, errlen, "%s %s: is a directory", opt, path);
		goto close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = boot_fail(-EINVAL, err, errlen, "%s %s: not a regular file", opt, path);
		goto close_fd;
	}
	if (st.st_size <= 0) {
		ret = boot_fail(-EINVAL, err, errlen, "%s %s: is empty", opt, path);
		goto close_fd;
	}
	*fdp = fd;
	*sizep = (uint64_t)st.st_size;
	return 0;

close_fd:
	close(fd);
	return ret;
}

static unsigned long long mib_up(uint64_t v)
{
	return (unsigned long long)((v >> 20) + ((v & 0xfffff) != 0));
}

/* Places the initrd page-aligned at the top of [kernel_end, limit) and reads it there. */
static int boot_load_initrd(struct guest_mem *m, const char *path, uint64_t kernel_end,
			    uint64_t limit, uint64_t *gpa, uint64_t *size, char *err, size_t errlen)
{
	uint64_t fsize, top, bottom, avail, addr, done = 0;
	uint8_t *dst;
	int fd, ret;

	ret = boot_file_open("--initrd", path, &fd, &fsize, err, errlen);
	if (ret)
		return ret;
	if (limit > guest_mem_low_end(m))
		limit = guest_mem_low_end(m);
	top = limit & ~(PAGE_SIZE - 1);
	/* Never below 1 MiB, where the boot structures are (a tiny ELF guest may end there). */
	if (kernel_end < X86_LOW_RESERVED_END)
		kernel_end = X86_LOW_RESERVED_END;
	bottom = kernel_end > UINT64_MAX - (PAGE_SIZE - 1)
		     ? UINT64_MAX
		     : (kernel_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	avail = top > bottom ? top - bottom : 0;
	if (fsize > avail) {
		ret = boot_fail(-ENOMEM, err, errlen,
				"--initrd %s: too large (%llu MiB; at most %llu MiB fit below "
				"0x%llx, above the kernel's end at 0x%llx)",
				path, mib_up(fsize), (unsigned long long)(avail >> 20),
				(unsigned long long)top, (unsigned long long)kernel_end);
		goto close_fd;
	}
	addr = (top - fsize) & ~(PAGE_SIZE - 1);
	dst = guest_mem_ptr(m, addr, fsize);
	if (!dst) {
		ret = boot_fail(-EFAULT, err, errlen, "--initrd %s: 0x%llx is not in guest RAM",
				path, (unsigned long long)addr);
		goto close_fd;
	}
	while (done < fsize) {
		ssize_t n = pread(fd, dst + done, fsize - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = boot_fail(-errno, err, errlen, "--initrd %s: cannot read (%s)", path,
					strerror(errno));
			goto close_fd;
		}
		if (n == 0) {
			ret = boot_fail(-EIO, err, errlen,
					"--initrd %s: truncated (file shrank to %llu bytes while "
					"being read)",
					path, (unsigned long long)done);
			goto close_fd;
		}
		done += (uint64_t)n;
	}
	*gpa = addr;
	*size = fsize;
	ret = 0;

close_fd:
	close(fd);
	return ret;
}

static int boot_write_tables(struct guest_mem *m, const struct boot_params_in *in,
			     const struct x86_boot_info *bi, struct boot_entry *out, char *err,
			     size_t errlen)
{
	int ret;

	ret = x86_boot_tables_write(m);
	if (ret)
		return boot_fail(ret, err, errlen, "guest RAM too small for the boot page tables");
	ret = x86_mptable_write(m, in->ncpus);
	if (ret)
		return boot_fail(ret, err, errlen, "cannot write the MP table for %u vCPUs (%s)",
				 in->ncpus, strerror(-ret));
	if (out->mode == BOOT_ENTRY_LINUX64) {
		ret = x86_bootparams_write(m, bi);
		out->info_gpa = X86_ZERO_PAGE_ADDR;
	} else {
		ret = x86_pvh_info_write(m, bi);
		out->info_gpa = X86_PVH_INFO_ADDR;
	}
	if (ret)
		return boot_fail(ret, err, errlen, "cannot write the %s (%s)",
				 out->mode == BOOT_ENTRY_LINUX64 ? "boot_params" : "PVH start_info",
				 strerror(-ret));
	out->cr3 = X86_PML4_ADDR;
	out->gdt_gpa = X86_BOOT_GDT_ADDR;
	out->gdt_limit = X86_BOOT_GDT_LIMIT;
	out->idt_gpa = X86_BOOT_IDT_ADDR;
	return 0;
}

int boot_load(struct guest_mem *m, const struct boot_params_in *in, struct boot_entry *out,
	      char *err, size_t errlen)
{
	uint8_t setup_hdr[BOOT_SETUP_HDR_MAX];
	size_t setup_hdr_len = 0;
	uint32_t initrd_addr_max = 0, cmdline_size = 0;
	uint64_t ksize, kernel_end = 0, cmdline_limit, initrd_limit;
	struct x86_boot_info bi;
	struct boot_image img;
	const char *cmdline = in->cmdline ? in->cmdline : "";
	size_t cmdline_len;
	bool is_bzimage;
	void *map;
	int fd, ret;

	memset(out, 0, sizeof(*out));
	memset(&bi, 0, sizeof(bi));
	if (!in->kernel_path)
		return boot_fail(-EINVAL, err, errlen, "--kernel: missing");
	if (in->ncpus == 0 || in->ncpus > X86_MP_MAX_CPUS)
		return boot_fail(-EINVAL, err, errlen, "--cpus %u: out of range (1..%u)", in->ncpus,
				 X86_MP_MAX_CPUS);

	/* 1. The kernel file, mapped read-only (no copy of a large vmlinux). */
	ret = boot_file_open("--kernel", in->kernel_path, &fd, &ksize, err, errlen);
	if (ret)
		return ret;
	if (ksize > SIZE_MAX) {
		ret = boot_fail(-EFBIG, err, errlen, "--kernel %s: too large", in->kernel_path);
		goto close_fd;
	}
	map = mmap(NULL, (size_t)ksize, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		ret = boot_fail(-errno, err, errlen, "--kernel %s: cannot map (%s)",
				in->kernel_path, strerror(errno));
		goto close_fd;
	}
	img = (struct boot_image){.data = map, .size = (size_t)ksize, .name = in->kernel_path};

	/* 2./3. Load it. */
	is_bzimage = false;
	if (img.size >= 4 && memcmp(img.data, "\177ELF", 4) == 0) {
		ret = boot_load_elf(m, &img, in->protocol, &out->entry, &out->mode, &kernel_end,
				    err, errlen);
		if (ret)
			goto unmap;
		out->format = out->mode == BOOT_ENTRY_PVH32 ? "ELF/PVH" : "ELF/64-bit";
		cmdline_limit = X86_CMDLINE_MAX - 1;
		initrd_limit = ELF_INITRD_LIMIT;
	} else if (img.size >= 0x206 && memcmp(img.data + 0x202, "HdrS", 4) == 0) {
		if (in->protocol == BOOT_PROTO_PVH) {
			ret = boot_fail(-EINVAL, err, errlen,
					"--kernel %s: a bzImage has no PVH entry point (boot the "
					"vmlinux ELF for PVH, or use the 64-bit entry)",
					in->kernel_path);
			goto unmap;
		}
		ret =
		    boot_load_bzimage(m, &img, &out->entry, &kernel_end, setup_hdr, &setup_hdr_len,
				      &initrd_addr_max, &cmdline_size, err, errlen);
		if (ret)
			goto unmap;
		is_bzimage = true;
		out->mode = BOOT_ENTRY_LINUX64;
		out->format = "bzImage/64-bit";
		/* cmdline_size excludes the NUL; we have room up to the MP table. */
		cmdline_limit = cmdline_size;
		if (cmdline_limit > X86_EBDA_ADDR - X86_CMDLINE_ADDR - 1)
			cmdline_limit = X86_EBDA_ADDR - X86_CMDLINE_ADDR - 1;
		/* initrd_addr_max is the highest byte the initrd may occupy. */
		initrd_limit = (uint64_t)initrd_addr_max + 1;
	} else {
		ret = boot_fail(-ENOEXEC, err, errlen,
				"--kernel %s: not a kernel (neither an ELF64 x86-64 executable nor "
				"a bzImage)",
				in->kernel_path);
		goto unmap;
	}

	/* 4. Command line. */
	cmdline_len = strlen(cmdline);
	if (cmdline_len > cmdline_limit) {
		ret = boot_fail(-E2BIG, err, errlen,
				"--cmdline: too long (%zu bytes, the kernel accepts at most %llu)",
				cmdline_len, (unsigned long long)cmdline_limit);
		goto unmap;
	}
	if (guest_mem_write(m, X86_CMDLINE_ADDR, cmdline, cmdline_len + 1)) {
		ret = boot_fail(-EFAULT, err, errlen, "--cmdline: guest RAM too small");
		goto unmap;
	}
	bi.cmdline_gpa = X86_CMDLINE_ADDR;
	bi.cmdline_len = (uint32_t)cmdline_len;

	/* 5. initrd. */
	if (in->initrd_path) {
		ret = boot_load_initrd(m, in->initrd_path, kernel_end, initrd_limit, &bi.initrd_gpa,
				       &bi.initrd_size, err, errlen);
		if (ret)
			goto unmap;
	}

	/* 6. Boot structures. */
	if (is_bzimage) {
		bi.setup_hdr = setup_hdr;
		bi.setup_hdr_len = setup_hdr_len;
	}
	ret = boot_write_tables(m, in, &bi, out, err, errlen);

unmap:
	munmap(map, (size_t)ksize);
close_fd:
	close(fd);
	return ret;
}

int boot_image_fail(int ret, char *err, size_t errlen, const struct boot_image *img,
		    const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errlen)
		return ret;
	n = snprintf(err, errlen, "--kernel %s: ", img->name ? img->name : "(image)");
	if (n < 0 || (size_t)n >= errlen)
		return ret;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return ret;
}

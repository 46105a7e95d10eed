/* bench/startup/floor.c — the bare-KVM floor for the startup benchmark: the least a VMM must
 * do to run the PVH hello guest. Creates a VM with one memory slot and one vCPU in 32-bit
 * protected mode (flat segments, paging off), loads the ELF's PT_LOAD segments, points ebx at
 * a minimal hvm_start_info (no command line, no memory map) and rip at the PVH entry from the
 * Xen note, then runs until the guest writes port 0xf4 (debug exit) or 0x64 (i8042 reset).
 * COM1: LSR reads say "transmitter empty"; THR bytes are written to stdout at the end.
 * Nothing else on purpose: no irqchip, no CPUID setup, no threads.
 *
 * usage: floor GUEST.elf
 * Trusts: the ELF file only after bounds checks (it is ours, but a bad file must not crash).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <elf.h>

/* Guest RAM: 4 MiB unless a size in MiB is given (the slot's size costs KVM time on
 * shadow-paging hosts, so arcvmm is also compared with a floor of its own guest size). */
static uint64_t mem_size = 4u << 20;
#define MEM_SIZE   mem_size
#define START_INFO 0x6000u
#define PVH_MAGIC  0x336ec578u
#define XEN_PHYS32 18
#define COM1	   0x3f8
#define DEBUG_EXIT 0xf4
#define I8042_CMD  0x64
#define OUT_MAX	   4096

static int fail(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Returns the PVH entry from the Xen note in [p, p+len), or 0. */
static uint32_t pvh_note_entry(const uint8_t *p, uint64_t len)
{
	uint64_t off = 0;

	while (off + sizeof(Elf64_Nhdr) <= len) {
		Elf64_Nhdr n;
		uint64_t name, desc;

		memcpy(&n, p + off, sizeof(n));
		name = off + sizeof(n);
		desc = name + ((n.n_namesz + 3ull) & ~3ull);
		if (desc + ((n.n_descsz + 3ull) & ~3ull) > len)
			return 0;
		if (n.n_type == XEN_PHYS32 && n.n_namesz == 4 && !memcmp(p + name, "Xen", 4) &&
		    n.n_descsz >= 4) {
			uint32_t e;

			memcpy(&e, p + desc, 4);
			return e;
		}
		off = desc + ((n.n_descsz + 3ull) & ~3ull);
	}
	return 0;
}

/* Copies PT_LOAD segments into mem and finds the PVH entry. Returns 0 or -1. */
static int load_elf(const uint8_t *f, size_t size, uint8_t *mem, uint32_t *entry)
{
	Elf64_Ehdr eh;

	if (size < sizeof(eh))
		return -1;
	memcpy(&eh, f, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > size ||
	    (size - eh.e_phoff) / sizeof(Elf64_Phdr) < eh.e_phnum)
		return -1;
	*entry = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, f + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			return -1;
		if (ph.p_type == PT_NOTE && !*entry)
			*entry = pvh_note_entry(f + ph.p_offset, ph.p_filesz);
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_paddr > MEM_SIZE ||
		    ph.p_memsz > MEM_SIZE - ph.p_paddr)
			return -1;
		memcpy(mem + ph.p_paddr, f + ph.p_offset, ph.p_filesz);
		memset(mem + ph.p_paddr + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}
	return *entry && *entry < MEM_SIZE ? 0 : -1;
}

static void flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->db = 1;
	s->s = 1;
	s->g = 1;
}

int main(int argc, char **argv)
{
	struct kvm_userspace_memory_region slot;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	char out[OUT_MAX];
	size_t out_len = 0;
	struct stat st;
	uint8_t *mem, *file;
	uint32_t entry, *si;
	int kvm, vm, vcpu, fd, run_size;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: floor GUEST.elf [MEMORY_MIB]\n");
		return 2;
	}
	if (argc == 3) {
		char *end;
		unsigned long mib = strtoul(argv[2], &end, 10);
		if (*end || mib < 4 || mib > 3072) {
			fprintf(stderr, "floor: %s: memory must be 4..3072 MiB\n", argv[2]);
			return 2;
		}
		mem_size = (uint64_t)mib << 20;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return fail(argv[1]);
	file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (file == MAP_FAILED)
		return fail(argv[1]);
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("guest memory");
	if (load_elf(file, (size_t)st.st_size, mem, &entry)) {
		fprintf(stderr, "floor: %s: not a PVH ELF that fits in guest RAM\n", argv[1]);
		return 1;
	}
	si = (uint32_t *)(mem + START_INFO);
	si[0] = PVH_MAGIC;
	si[1] = 1; /* version; cmdline_paddr, memmap: 0 */

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	slot = (struct kvm_userspace_memory_region){
	    .slot = 0,
	    .guest_phys_addr = 0,
	    .memory_size = MEM_SIZE,
	    .userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < 0)
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail("kvm_run");

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	flat_segment(&sregs.cs, 0x08, 0xb); /* execute/read, accessed */
	flat_segment(&sregs.ds, 0x10, 0x3); /* read/write, accessed */
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr0 = 0x11; /* PE, ET; paging off */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rbx = START_INFO;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");

	for (;;) {
		uint8_t *data;

		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			return fail("KVM_RUN");
		}
		if (run->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "floor: unexpected exit reason %u\n", run->exit_reason);
			return 1;
		}
		data = (uint8_t *)run + run->io.data_offset;
		if (run->io.direction == KVM_EXIT_IO_IN) {
			memset(data, 0, (size_t)run->io.size * run->io.count);
			if (run->io.port == COM1 + 5)
				data[0] = 0x60; /* THR and transmitter empty */
			continue;
		}
		if (run->io.port == DEBUG_EXIT || run->io.port == I8042_CMD)
			break;
		if (run->io.port == COM1 && out_len < sizeof(out))
			out[out_len++] = (char)data[0];
	}
	if (out_len && write(STDOUT_FILENO, out, out_len) < 0)
		return fail("stdout");
	return 0;
}

/* hv/kvm_vcpu.c — KVM vCPUs on x86_64: creation, CPUID, MSRs, LAPIC LINT setup, the boot
 * register state (PVH 32-bit or Linux 64-bit entry), the run loop's exit decoding, kicks
 * and register dumps.
 *
 * Trusts KVM and the boot_entry built by boot/. The kvm_run area is shared with KVM; the
 * I/O data pointer handed to callers stays inside it (KVM sets data_offset).
 */
#include "hv/hv.h"
#include "hv/kvm_internal.h"
#include "arch/x86/layout.h"
#include "util/log.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define X86_CR0_PE   (1ULL << 0)
#define X86_CR0_ET   (1ULL << 4)
#define X86_CR0_PG   (1ULL << 31)
#define X86_CR4_PAE  (1ULL << 5)
#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)

#define MSR_IA32_TSC		0x10
#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MISC_ENABLE_FAST_STRING 1ULL
#define MTRR_ENABLE_WB		((1ULL << 11) | 6)

#define APIC_LVT0	 0x350
#define APIC_LVT1	 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

/* Number of bits needed to hold ids 0..n-1 (x2APIC topology shifts). */
static unsigned bits_for(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

/* One socket of ncpus cores, one thread each; APIC id = vCPU index. KVM's own leaves
 * (0x40000000..) pass through untouched. */
static void cpuid_fixup(struct kvm_cpuid2 *c, unsigned index, unsigned ncpus, bool has_tsc_deadline)
{
	unsigned core_bits = bits_for(ncpus);

	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 0x1:
			e->ebx &= 0x0000ffff;
			e->ebx |= (index << 24) | ((1u << core_bits) << 16);
			if (ncpus > 1)
				e->edx |= 1u << 28; /* HTT: the count in EBX[23:16] is valid */
			e->ecx |= 1u << 31;	    /* running under a hypervisor */
			if (has_tsc_deadline)
				e->ecx |= 1u << 24; /* TSC-deadline timer mode */
			break;
		case 0x4:
			/* Intel deterministic cache parameters: cores per package - 1. */
			e->eax &= 0x03ffffff;
			e->eax |= (ncpus - 1) << 26;
			break;
		case 0xb:
		case 0x1f:
			/* x2APIC topology: level 0 = SMT (1 thread), level 1 = core. */
			e->edx = index;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = core_bits;
				e->ebx = ncpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = 0;
				e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008:
			/* AMD: number of cores - 1 and the APIC id size. */
			e->ecx &= ~0xf0ffu;
			e->ecx |= (ncpus - 1) | (core_bits << 12);
			break;
		default:
			break;
		}
	}
}

static int vcpu_set_cpuid(struct hv_vcpu *vcpu, unsigned ncpus)
{
	struct kvm_cpuid2 *src = vcpu->vm->cpuid;
	size_t sz = sizeof(*src) + src->nent * sizeof(src->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int r = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, src, sz);
	cpuid_fixup(c, vcpu->index, ncpus, vcpu->vm->has_tsc_deadline);
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0)
		r = -errno;
	free(c);
	return r;
}

/* What firmware leaves in every CPU, the APs too: a guest that finds the MTRR default
 * type differing between CPUs warns ("inconsistent MTRRdefType") and fixes it up. */
static void vcpu_set_platform_msrs(struct hv_vcpu *vcpu)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[2];
	} msrs;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = 2;
	msrs.e[0].index = MSR_IA32_MISC_ENABLE;
	msrs.e[0].data = MISC_ENABLE_FAST_STRING;
	msrs.e[1].index = MSR_MTRR_DEF_TYPE;
	msrs.e[1].data = MTRR_ENABLE_WB;
	int r = ioctl(vcpu->fd, KVM_SET_MSRS, &msrs);
	/* Not essential (PVM has no MTRRs): a refusal only costs a debug line. */
	if (r < 2)
		log_debug("vcpu%u: KVM accepted %d of 2 platform MSRs", vcpu->index, r);
}

/* LINT0 delivers the PIC's ExtINT, LINT1 NMIs: what firmware would leave behind, and what
 * the MP table's local interrupt entries promise the guest. */
static int vcpu_set_lint(struct hv_vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	uint32_t v;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	memcpy(&v, &lapic.regs[APIC_LVT0], 4);
	v = (v & ~0x700u) | (APIC_MODE_EXTINT << 8);
	memcpy(&lapic.regs[APIC_LVT0], &v, 4);
	memcpy(&v, &lapic.regs[APIC_LVT1], 4);
	v = (v & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(&lapic.regs[APIC_LVT1], &v, 4);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

int hv_vcpu_create(struct hv_vm *vm, unsigned index, unsigned ncpus, struct hv_vcpu **out)
{
	struct hv_vcpu *vcpu = calloc(1, sizeof(*vcpu));
	int r;

	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0) {
		r = -errno;
		goto free_vcpu;
	}
	vcpu->run =
	    mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		r = -errno;
		goto close_fd;
	}
	r = vcpu_set_cpuid(vcpu, ncpus);
	if (r)
		goto unmap;
	r = vcpu_set_lint(vcpu);
	if (r)
		goto unmap;
	vcpu_set_platform_msrs(vcpu);
	*out = vcpu;
	return 0;

unmap:
	munmap(vcpu->run, (size_t)vm->run_size);
close_fd:
	close(vcpu->fd);
free_vcpu:
	free(vcpu);
	return r;
}

void hv_vcpu_destroy(struct hv_vcpu *vcpu)
{
	if (!vcpu)
		return;
	munmap(vcpu->run, (size_t)vcpu->vm->run_size);
	close(vcpu->fd);
	free(vcpu);
}

static void seg_flat(struct kvm_segment *s, uint16_t sel, uint8_t type, bool is_64)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = 0;
	s->db = is_64 ? 0 : 1;
	s->s = 1;
	s->l = is_64 ? 1 : 0;
	s->g = 1;
}

static int vcpu_set_msrs(struct hv_vcpu *vcpu)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} boot_msrs[] = {
	    {MSR_IA32_SYSENTER_CS, 0},
	    {MSR_IA32_SYSENTER_ESP, 0},
	    {MSR_IA32_SYSENTER_EIP, 0},
	    {MSR_STAR, 0},
	    {MSR_CSTAR, 0},
	    {MSR_KERNEL_GS_BASE, 0},
	    {MSR_SYSCALL_MASK, 0},
	    {MSR_LSTAR, 0},
	    {MSR_IA32_TSC, 0},
	};
	enum { N = sizeof(boot_msrs) / sizeof(boot_msrs[0]) };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[N];
	} msrs;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = N;
	for (unsigned i = 0; i < N; i++) {
		msrs.e[i].index = boot_msrs[i].index;
		msrs.e[i].data = boot_msrs[i].value;
	}
	int r = ioctl(vcpu->fd, KVM_SET_MSRS, &msrs);
	if (r < 0)
		return -errno;
	/* KVM stops at the first MSR it refuses; none of these is essential to the entry, so a
	 * hypervisor that lacks one (PVM has no MTRRs, say) only costs a debug line. */
	if (r < N)
		log_debug("vcpu%u: KVM accepted %d of %d boot MSRs (stopped at 0x%x)", vcpu->index,
			  r, N, boot_msrs[r].index);
	return 0;
}

int hv_vcpu_set_boot_state(struct hv_vcpu *vcpu, const struct boot_entry *entry)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	bool is_64 = entry->mode == BOOT_ENTRY_LINUX64;
	int r;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	seg_flat(&sregs.cs, is_64 ? X86_GDT_CODE64_SEL : X86_GDT_CODE32_SEL, 0xb, is_64);
	seg_flat(&sregs.ds, X86_GDT_DATA_SEL, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.selector = X86_GDT_TSS_SEL;
	sregs.tr.limit = 0x67;
	sregs.tr.type = 0xb; /* busy 32/64-bit TSS, as VMX requires */
	sregs.tr.present = 1;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.type = 0x2;
	sregs.ldt.present = 1;
	sregs.ldt.limit = 0xffff;
	sregs.gdt.base = entry->gdt_gpa;
	sregs.gdt.limit = entry->gdt_limit;
	sregs.idt.base = entry->idt_gpa;
	sregs.idt.limit = 0;
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (is_64) {
		sregs.cr0 |= X86_CR0_PG;
		sregs.cr3 = entry->cr3;
		sregs.cr4 |= X86_CR4_PAE;
		sregs.efer |= X86_EFER_LME | X86_EFER_LMA;
	}
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = entry->entry;
	if (is_64)
		regs.rsi = entry->info_gpa;
	else
		regs.rbx = entry->info_gpa;
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	r = vcpu_set_msrs(vcpu);
	return r;
}

int hv_vcpu_run(struct hv_vcpu *vcpu, struct hv_exit *exit)
{
	struct kvm_run *run = vcpu->run;

	if (!vcpu->has_thread) {
		vcpu->thread = pthread_self();
		atomic_thread_fence(memory_order_release);
		__atomic_store_n(&vcpu->has_thread, true, __ATOMIC_RELEASE);
	}
	memset(exit, 0, sizeof(*exit));
	if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN) {
			exit->kind = HV_EXIT_INTR;
			return 0;
		}
		return -errno;
	}
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		exit->kind = HV_EXIT_IO;
		exit->is_write = run->io.direction == KVM_EXIT_IO_OUT;
		exit->size = run->io.size;
		exit->port = run->io.port;
		exit->count = run->io.count;
		exit->data = (uint8_t *)run + run->io.data_offset;
		break;
	case KVM_EXIT_MMIO:
		exit->kind = HV_EXIT_MMIO;
		exit->is_write = run->mmio.is_write;
		exit->size = (uint8_t)run->mmio.len;
		exit->count = 1;
		exit->addr = run->mmio.phys_addr;
		exit->data = run->mmio.data;
		break;
	case KVM_EXIT_HLT:
		exit->kind = HV_EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		exit->kind = HV_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			exit->kind = HV_EXIT_POWEROFF;
			break;
		case KVM_SYSTEM_EVENT_RESET:
			exit->kind = HV_EXIT_RESET;
			break;
		default:
			exit->kind = HV_EXIT_OTHER;
			exit->hw_reason = run->system_event.type;
			break;
		}
		break;
	case KVM_EXIT_INTR:
		exit->kind = HV_EXIT_INTR;
		break;
	case KVM_EXIT_FAIL_ENTRY:
		exit->kind = HV_EXIT_FAIL_ENTRY;
		exit->hw_reason = run->fail_entry.hardware_entry_failure_reason;
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		exit->kind = HV_EXIT_INTERNAL;
		exit->suberror = run->internal.suberror;
		break;
	default:
		exit->kind = HV_EXIT_OTHER;
		exit->hw_reason = run->exit_reason;
		break;
	}
	return 0;
}

void hv_vcpu_kick(struct hv_vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vcpu->has_thread, __ATOMIC_ACQUIRE))
		pthread_kill(vcpu->thread, HV_SIG_KICK);
}

int hv_vcpu_kvmclock_ctrl(struct hv_vcpu *vcpu)
{
	return ioctl(vcpu->fd, KVM_KVMCLOCK_CTRL, 0) < 0 ? -errno : 0;
}

int hv_vcpu_complete_io(struct hv_vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(vcpu->fd, KVM_RUN, 0) < 0 && errno != EINTR && errno != EAGAIN)
		return -errno;
	return 0;
}

void hv_vcpu_clear_kick(struct hv_vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

void hv_vcpu_dump(struct hv_vcpu *vcpu, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	size_t n = 0;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		snprintf(buf, len, "vcpu%u: registers unavailable: %s", vcpu->index,
			 strerror(errno));
		return;
	}
#define DUMP(...)                                                             \
	do {                                                                  \
		if (n < len)                                                  \
			n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__); \
	} while (0)
	DUMP("vcpu%u registers:\n", vcpu->index);
	DUMP(" rip %016llx rsp %016llx rflags %08llx\n", r.rip, r.rsp, r.rflags);
	DUMP(" rax %016llx rbx %016llx rcx %016llx rdx %016llx\n", r.rax, r.rbx, r.rcx, r.rdx);
	DUMP(" rsi %016llx rdi %016llx rbp %016llx\n", r.rsi, r.rdi, r.rbp);
	DUMP(" r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n", r.r8, r.r9, r.r10, r.r11);
	DUMP(" r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n", r.r12, r.r13, r.r14, r.r15);
	DUMP(" cs %04x base %llx l %u db %u  ss %04x  ds %04x\n", s.cs.selector, s.cs.base, s.cs.l,
	     s.cs.db, s.ss.selector, s.ds.selector);
	DUMP(" cr0 %llx cr2 %llx cr3 %llx cr4 %llx efer %llx\n", s.cr0, s.cr2, s.cr3, s.cr4,
	     s.efer);
	DUMP(" gdt %llx/%x idt %llx/%x", s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
#undef DUMP
}

unsigned hv_vcpu_thread_ioctls(const unsigned long **out)
{
	static const unsigned long reqs[] = {
	    KVM_RUN,   KVM_GET_REGS,  KVM_GET_SREGS,	   KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS,
	    KVM_IRQFD, KVM_IOEVENTFD, KVM_SET_SIGNAL_MASK,
	};
	*out = reqs;
	return sizeof(reqs) / sizeof(reqs[0]);
}

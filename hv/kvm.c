/* hv/kvm.c — the hv.h interface on Linux KVM (x86_64).
 *
 * The only file that includes <linux/kvm.h>. It trusts KVM and our own boot_entry; it
 * checks the API version and every capability it uses so a missing one is reported by
 * name instead of failing later with a bare errno. Works on hardware KVM (VMX/SVM) and on
 * PVM (kvm_pvm), which offers the same API.
 */
#include "hv/hv.h"
#include "hv/kvm_internal.h"
#include "arch/x86/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define CPUID_MAX_ENTRIES 256

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
};

int hv_vm_create(struct hv_vm **out, char *err, size_t errlen)
{
	struct hv_vm *vm;
	int r;

	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	vm->vm_fd = -1;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			snprintf(err, errlen,
				 "/dev/kvm: not found (KVM is not available: load kvm_intel or "
				 "kvm_amd, or enable virtualization in the firmware)");
		else if (r == -EACCES || r == -EPERM)
			snprintf(err, errlen,
				 "/dev/kvm: permission denied (add your user to the 'kvm' group "
				 "or run as root)");
		else
			snprintf(err, errlen, "/dev/kvm: %s", strerror(-r));
		goto free_vm;
	}
	r = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r < 0) {
		snprintf(err, errlen, "/dev/kvm: not a KVM device (%s)", strerror(errno));
		r = -ENOTSUP;
		goto close_kvm;
	}
	if (r != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm: KVM API version %d, need %d", r, KVM_API_VERSION);
		r = -ENOTSUP;
		goto close_kvm;
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			snprintf(err, errlen, "/dev/kvm: missing capability %s",
				 required_caps[i].name);
			r = -ENOTSUP;
			goto close_kvm;
		}
	}
	r = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (r <= 0)
		r = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	vm->max_vcpus = r > 0 ? (unsigned)r : 1;
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size < (int)sizeof(struct kvm_run)) {
		snprintf(err, errlen, "/dev/kvm: KVM_GET_VCPU_MMAP_SIZE failed");
		r = -ENOTSUP;
		goto close_kvm;
	}

	do {
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(-r));
		goto close_kvm;
	}
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_KVM_TSS_ADDR) < 0) {
		r = -errno;
		snprintf(err, errlen, "KVM_SET_TSS_ADDR: %s", strerror(-r));
		goto close_vm;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0) {
		__u64 addr = X86_KVM_IDENTITY_MAP_ADDR;
		if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0) {
			r = -errno;
			snprintf(err, errlen, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(-r));
			goto close_vm;
		}
	}
	vm->cpuid =
	    calloc(1, sizeof(*vm->cpuid) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!vm->cpuid) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto close_vm;
	}
	vm->cpuid->nent = CPUID_MAX_ENTRIES;
	/* KVM emulates the LAPIC's TSC-deadline mode but does not put it in the supported
	 * CPUID (it is a property of the in-kernel LAPIC): the VMM advertises it. */
	vm->has_tsc_deadline =
	    ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->cpuid) < 0) {
		r = -errno;
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
		goto free_cpuid;
	}
	*out = vm;
	return 0;

free_cpuid:
	free(vm->cpuid);
close_vm:
	close(vm->vm_fd);
close_kvm:
	close(vm->kvm_fd);
free_vm:
	free(vm);
	return r;
}

void hv_vm_destroy(struct hv_vm *vm)
{
	if (!vm)
		return;
	free(vm->cpuid);
	close(vm->vm_fd);
	close(vm->kvm_fd);
	free(vm);
}

unsigned hv_max_vcpus(struct hv_vm *vm)
{
	return vm->max_vcpus;
}

int hv_vm_map_ram(struct hv_vm *vm, const struct guest_mem *m)
{
	for (unsigned i = 0; i < m->nr_regions; i++) {
		struct kvm_userspace_memory_region reg = {
		    .slot = vm->nr_slots,
		    .guest_phys_addr = m->regions[i].gpa,
		    .memory_size = m->regions[i].size,
		    .userspace_addr = (uintptr_t)m->regions[i].host,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &reg) < 0)
			return -errno;
		vm->nr_slots++;
	}
	return 0;
}

/* Separate from hv_vm_create() so that memory slots can be registered first: on some
 * hosts (PVM) each slot change after the irqchip exists waits for an SRCU grace period
 * (~10 ms), while before it, it costs nothing. */
int hv_vm_create_irqchip(struct hv_vm *vm)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};

	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return -errno;
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return -errno;
	return 0;
}

int hv_sig_kick = SIGUSR1;

int hv_vm_get_clock(struct hv_vm *vm, uint64_t *ns)
{
	struct kvm_clock_data d;

	memset(&d, 0, sizeof(d));
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &d) < 0)
		return -errno;
	*ns = d.clock;
	return 0;
}

int hv_vm_set_clock(struct hv_vm *vm, uint64_t ns)
{
	struct kvm_clock_data d;

	memset(&d, 0, sizeof(d));
	d.clock = ns;
	return ioctl(vm->vm_fd, KVM_SET_CLOCK, &d) < 0 ? -errno : 0;
}

int hv_vm_irq_line(struct hv_vm *vm, unsigned gsi, bool level)
{
	struct kvm_irq_level irq = {.irq = gsi, .level = level};

	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

int hv_vm_irqfd(struct hv_vm *vm, unsigned gsi, int fd, bool assign)
{
	struct kvm_irqfd req = {
	    .fd = (__u32)fd,
	    .gsi = gsi,
	    .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(vm->vm_fd, KVM_IRQFD, &req) < 0 ? -errno : 0;
}

int hv_vm_ioeventfd(struct hv_vm *vm, uint64_t addr, unsigned len, uint64_t datamatch, int fd,
		    bool is_pio, bool assign)
{
	struct kvm_ioeventfd req = {
	    .datamatch = datamatch,
	    .addr = addr,
	    .len = len,
	    .fd = fd,
	    .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	if (is_pio)
		req.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (!assign)
		req.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &req) < 0 ? -errno : 0;
}

/* hv/hv.h — the hypervisor interface. hv/kvm*.c implement it on Linux KVM; nothing outside
 * hv/ includes <linux/kvm.h>. Another backend (macOS Hypervisor.framework) would implement
 * the same functions.
 *
 * Threads: hv_vcpu_run() is called only by the vCPU's own thread; hv_vcpu_kick() from any
 * thread. Everything else is called by the control thread while vCPUs are not running,
 * except the irq/ioeventfd calls, which are thread-safe in KVM.
 */
#ifndef ARCVMM_HV_HV_H
#define ARCVMM_HV_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "boot/boot.h"

/* The signal hv_vcpu_kick() sends to a vCPU thread (SIGUSR1 unless changed with
 * hv_set_kick_signal() before any vCPU exists); install a no-op handler for it. */
extern int hv_sig_kick;
#define HV_SIG_KICK hv_sig_kick

struct hv_vm;
struct hv_vcpu;

enum hv_exit_kind {
	HV_EXIT_IO,	    /* port I/O: port, size, is_write, data */
	HV_EXIT_MMIO,	    /* MMIO outside RAM: addr, size, is_write, data */
	HV_EXIT_HLT,	    /* only without an in-kernel LAPIC */
	HV_EXIT_SHUTDOWN,   /* triple fault */
	HV_EXIT_RESET,	    /* guest asked for a reset (system event) */
	HV_EXIT_POWEROFF,   /* guest asked to power off (system event) */
	HV_EXIT_INTR,	    /* KVM_RUN returned early: kicked or signalled */
	HV_EXIT_FAIL_ENTRY, /* hardware refused to enter the guest; reason in hw_reason */
	HV_EXIT_INTERNAL,   /* KVM internal error (e.g. emulation failure); suberror */
	HV_EXIT_OTHER,	    /* anything else; raw in hw_reason */
};

struct hv_exit {
	enum hv_exit_kind kind;
	bool is_write;
	uint8_t size; /* 1, 2, 4 or 8 */
	uint16_t port;
	uint32_t count; /* IO: repetitions (string I/O); data holds count*size bytes */
	uint64_t addr;
	uint8_t *data; /* IO/MMIO: points into the shared run area; read or fill it */
	uint64_t hw_reason;
	uint32_t suberror;
};

/* Errors from hv_open carry a message for the user in err (without "arcvmm: "). */
int hv_vm_create(struct hv_vm **out, char *err, size_t errlen);
void hv_vm_destroy(struct hv_vm *vm);
/* The highest vCPU count the hypervisor allows (KVM_CAP_MAX_VCPUS). */
unsigned hv_max_vcpus(struct hv_vm *vm);
/* Registers each guest RAM region as a memory slot. */
int hv_vm_map_ram(struct hv_vm *vm, const struct guest_mem *m);
/* Creates the in-kernel interrupt controllers (PIC, IOAPIC, per-vCPU LAPIC) and the PIT.
 * Call after hv_vm_map_ram() and before creating vCPUs or irqfds. Returns 0 or -errno. */
int hv_vm_create_irqchip(struct hv_vm *vm);
/* Level-style interrupt line (serial, i8042): set the GSI's line to level. */
int hv_vm_irq_line(struct hv_vm *vm, unsigned gsi, bool level);
/* eventfd fd, when written, injects an edge on gsi (KVM irqfd). assign=false removes it. */
int hv_vm_irqfd(struct hv_vm *vm, unsigned gsi, int fd, bool assign);
/* A guest write of len bytes to addr (MMIO; port I/O if is_pio) equal to datamatch
 * signals fd without leaving the guest (KVM ioeventfd). */
int hv_vm_ioeventfd(struct hv_vm *vm, uint64_t addr, unsigned len, uint64_t datamatch, int fd,
		    bool is_pio, bool assign);

/* The guest's kvmclock: read at pause, written back at resume so the guest does not see
 * the paused time (KVM_GET_CLOCK/KVM_SET_CLOCK). -errno (e.g. -ENOTTY) if unsupported. */
int hv_vm_get_clock(struct hv_vm *vm, uint64_t *ns);
int hv_vm_set_clock(struct hv_vm *vm, uint64_t ns);
/* Tells the guest's kvmclock the vCPU was stopped by the host (no soft-lockup warnings
 * after a resume); -EINVAL when the guest has no kvmclock page yet is fine. */
int hv_vcpu_kvmclock_ctrl(struct hv_vcpu *vcpu);

int hv_vcpu_create(struct hv_vm *vm, unsigned index, unsigned ncpus, struct hv_vcpu **out);
void hv_vcpu_destroy(struct hv_vcpu *vcpu);
/* Puts the BSP at the kernel entry (registers, segments, MSRs, FPU). APs wait for SIPI. */
int hv_vcpu_set_boot_state(struct hv_vcpu *vcpu, const struct boot_entry *entry);
/* Runs until an exit that needs user space. Returns 0 and fills *exit, or -errno. */
int hv_vcpu_run(struct hv_vcpu *vcpu, struct hv_exit *exit);
/* Makes hv_vcpu_run() return HV_EXIT_INTR soon (from any thread; the vCPU thread must
 * have HV_SIG_KICK unblocked with a no-op handler). */
void hv_vcpu_kick(struct hv_vcpu *vcpu);
/* Finishes a port/MMIO exit that was handled in user space (KVM completes the
 * instruction only on the next KVM_RUN: until then the registers still point at it) by a
 * KVM_RUN with immediate_exit set, which never enters the guest. vCPU thread, before it
 * parks for a pause: a snapshot must not see a half-done OUT it would replay. Leaves
 * immediate_exit set (the next run returns at once: HV_EXIT_INTR). 0 or -errno. */
int hv_vcpu_complete_io(struct hv_vcpu *vcpu);
/* Re-arms after a kick so the next hv_vcpu_run() enters the guest. */
void hv_vcpu_clear_kick(struct hv_vcpu *vcpu);
/* Writes a register dump (for entry failures) as lines into buf. */
void hv_vcpu_dump(struct hv_vcpu *vcpu, char *buf, size_t len);
/* The ioctl requests a vCPU thread makes (run, dump, irq line, irqfd/ioeventfd
 * registration on device activation), for its seccomp filter. Returns how many. */
unsigned hv_vcpu_thread_ioctls(const unsigned long **out);

/* Snapshot (hv/kvm_snapshot.c). The state is an opaque blob only hv/ reads: a list of
 * tagged records, each bounds-checked and size-checked on restore (the file is hostile).
 * Save needs the vCPUs stopped (paused VM). *out is malloc'd. Restore goes into a freshly
 * created VM/vCPU before it first runs. Each returns 0 or -errno with one line in err. */
int hv_vcpu_save(struct hv_vcpu *vcpu, void **out, size_t *len, char *err, size_t errlen);
int hv_vcpu_restore(struct hv_vcpu *vcpu, const void *buf, size_t len, char *err, size_t errlen);
/* PIC master and slave, IOAPIC, PIT and the kvmclock. */
int hv_vm_save(struct hv_vm *vm, void **out, size_t *len, char *err, size_t errlen);
int hv_vm_restore(struct hv_vm *vm, const void *buf, size_t len, char *err, size_t errlen);

#endif

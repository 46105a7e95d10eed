/* vm.h — one virtual machine: the API that the CLI (main.c) and, later, the control socket
 * and the embeddable library drive. It owns guest memory, the hypervisor VM, the devices
 * and the vCPU threads, and knows the order to create and tear them down in.
 */
#ifndef ARCVMM_VM_H
#define ARCVMM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct vm;
struct virtio_blk;
struct virtio_net;
struct virtio_balloon;

enum vm_end {
	VM_END_NONE,
	VM_END_POWEROFF, /* guest powered off (ACPI / system event) */
	VM_END_RESET,	 /* guest rebooted (i8042 reset, system event) */
	VM_END_SHUTDOWN, /* guest triple fault */
	VM_END_USER,	 /* the user quit from the console (Ctrl-A x) */
	VM_END_PANIC,	 /* guest kernel panic (seen on the console), then reset */
	VM_END_STOP,	 /* vm_stop(): a hard stop (signo: the signal that caused it, or 0) */
	VM_END_ERROR,	 /* KVM could not run the guest, or a host error */
};

struct vm_exit_info {
	enum vm_end end;
	int signo;	   /* VM_END_STOP */
	char reason[1024]; /* one line for the user; may be followed by a register dump in
			    * `detail` */
	char detail[2048];
};

enum vm_state {
	VM_STATE_NOT_STARTED,
	VM_STATE_RUNNING,
	VM_STATE_PAUSED,
	VM_STATE_STOPPED,
};

enum vm_op { VM_OP_START, VM_OP_PAUSE, VM_OP_RESUME, VM_OP_SHUTDOWN, VM_OP_STOP };

/* The lifecycle table: may op be done in state? Everything below checks it. */
bool vm_state_allows(enum vm_state state, enum vm_op op);

/* Builds the VM from the config (files checked, kernel loaded, devices created, vCPUs
 * created, nothing running yet). On failure returns -errno with one line in err. Threads
 * made here (and by vm_start) inherit the caller's signal mask: the library blocks every
 * signal around these calls. */
int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t errlen);
/* Starts the control thread (console I/O, the end of the VM) and the vCPU threads.
 * -EBUSY if not NOT_STARTED. */
int vm_start(struct vm *vm, char *err, size_t errlen);
/* Parks the vCPUs outside the guest, pauses every device worker and holds the guest
 * clock; resume undoes it. -EBUSY in the wrong state, -ETIMEDOUT if a vCPU did not park
 * within seconds (e.g. stuck on a host fd; the VM then runs on). */
int vm_pause(struct vm *vm, char *err, size_t errlen);
int vm_resume(struct vm *vm, char *err, size_t errlen);
enum vm_shutdown { VM_SHUTDOWN_POWER_BUTTON, VM_SHUTDOWN_CTRL_ALT_DEL };
int vm_request_shutdown(struct vm *vm, enum vm_shutdown how, char *err, size_t errlen);
/* Ends the VM (VM_END_STOP with signo) and returns once it is STOPPED. */
int vm_stop(struct vm *vm, int signo);
enum vm_state vm_state(struct vm *vm);
/* 0 once STOPPED; -ETIMEDOUT after timeout_ms (< 0: forever). */
int vm_wait(struct vm *vm, int timeout_ms);
/* Readable once STOPPED. */
int vm_stopped_fd(struct vm *vm);
/* Readable after any state change (an eventfd: read it to clear). */
int vm_state_fd(struct vm *vm);
/* Why it ended (end == VM_END_NONE while it runs). */
void vm_get_exit_info(struct vm *vm, struct vm_exit_info *info);
/* Counters as a JSON object: malloc'd, NULL without memory. */
char *vm_metrics_json(struct vm *vm);
unsigned vm_ncpus(struct vm *vm);
/* The devices, for run-time changes (NULL: no such device). */
struct virtio_blk *vm_disk_by_id(struct vm *vm, const char *drive_id);
struct virtio_net *vm_net(struct vm *vm, unsigned index);
unsigned vm_nr_disks(struct vm *vm);
unsigned vm_nr_nets(struct vm *vm);
struct virtio_balloon *vm_balloon(struct vm *vm);
struct virtio_vsock;
struct virtio_vsock *vm_vsock(struct vm *vm); /* NULL: no vsock device */
uint64_t vm_mem_size(struct vm *vm);
/* Stops whatever still runs and frees everything. NULL is fine. */
void vm_destroy(struct vm *vm);
/* Like vm_destroy(), for a process about to exit: devices are torn down at once, but the
 * kernel's teardown of the VM itself (tens of milliseconds of RCU grace periods on some
 * hosts, mostly for the in-kernel PIT and irqchip) is left to a short-lived child process
 * that holds the VM's file references until this process has exited. */
void vm_destroy_detached(struct vm *vm);
/* The process exit status for an ended VM (see --help). */
int vm_exit_status(const struct vm_exit_info *info);

#endif

/* vm.h — one virtual machine: the API that the CLI (main.c) and, later, the control socket
 * and the embeddable library drive. It owns guest memory, the hypervisor VM, the devices
 * and the vCPU threads, and knows the order to create and tear them down in.
 */
#ifndef ARCVMM_VM_H
#define ARCVMM_VM_H

#include <stddef.h>

#include "core/config.h"

struct vm;

enum vm_end {
	VM_END_NONE,
	VM_END_POWEROFF, /* guest powered off (ACPI / system event) */
	VM_END_RESET,	 /* guest rebooted (i8042 reset, system event) */
	VM_END_SHUTDOWN, /* guest triple fault */
	VM_END_USER,	 /* the user quit from the console (Ctrl-A x) */
	VM_END_PANIC,	 /* guest kernel panic (seen on the console), then reset */
	VM_END_SIGNAL,	 /* SIGINT/SIGTERM/SIGHUP to arcvmm */
	VM_END_ERROR,	 /* KVM could not run the guest, or a host error */
};

struct vm_exit_info {
	enum vm_end end;
	int signo;	   /* VM_END_SIGNAL */
	char reason[1024]; /* one line for the user; may be followed by a register dump in
			    * `detail` */
	char detail[2048];
};

/* Builds the VM from the config (files checked, kernel loaded, devices created, vCPUs
 * created, nothing running yet). On failure returns -errno with one line in err.
 * Blocks SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGUSR1 in the calling thread (and so in
 * every thread the VM starts): vm_run() reads the first four from a signalfd, SIGUSR1
 * kicks vCPUs. Call both from the same thread. */
int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t errlen);
/* Runs the VM on the calling thread (the control loop) until it ends; fills *info. The
 * console is the calling process's stdin/stdout. Returns 0, or -errno if it could not
 * start (info says why). */
int vm_run(struct vm *vm, struct vm_exit_info *info);
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

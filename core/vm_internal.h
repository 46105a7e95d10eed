/* vm_internal.h — the inside of struct vm, shared by vm.c (lifecycle, vCPU threads, the
 * control loop) and vm_devices.c (device creation, placement and wiring). Nothing else
 * includes it: front ends use vm.h.
 */
#ifndef ARCVMM_VM_INTERNAL_H
#define ARCVMM_VM_INTERNAL_H

#include "core/vm.h"

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "hv/hv.h"
#include "mem/guest_mem.h"
#include "virtio/mmio.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct vm_vcpu {
	struct vm *vm;
	struct hv_vcpu *hv;
	unsigned index;
	pthread_t thread;
	bool is_started;
	uint64_t nr_exits_io, nr_exits_mmio, nr_exits_intr; /* written by its thread only */
};

struct virtio_balloon;
struct reclaim;
struct virtio_blk;
struct virtio_net;
struct virtio_console;

struct vm {
	unsigned ncpus;
	enum vm_console_mode console;
	struct guest_mem mem;
	bool has_mem;
	struct hv_vm *hv;
	struct vm_vcpu *vcpus;
	struct boot_entry entry;
	char *cmdline;

	struct virtio_mmio *virtio[X86_VIRTIO_MMIO_SLOTS];
	unsigned nr_virtio;
	struct virtio_balloon *balloon; /* owned by its transport in virtio[]; NULL: none */
	struct reclaim *reclaim;	/* core/reclaim.c, with the balloon; NULL: none */
	struct virtio_vsock *vsock;	/* owned by its transport in virtio[]; NULL: none */
	/* For counters and run-time changes; owned by their transports in virtio[]. */
	struct virtio_blk *blks[VM_MAX_DISKS];
	unsigned nr_blks;
	struct virtio_fs *fses[VM_MAX_FS]; /* for the metrics (owned by their transports) */
	char fs_tags[VM_MAX_FS][VM_FS_TAG_MAX + 1];
	unsigned nr_fses;
	char *blk_ids[VM_MAX_DISKS]; /* the config's drive ids (NULL: none) */
	struct virtio_net *nets[VM_MAX_NETS];
	unsigned nr_nets;
	struct virtio_console *vconsole; /* NULL: the serial console only */

	struct serial *serial;
	pthread_mutex_t pio_lock; /* i8042, RTC and ACPI PM registers */
	struct i8042 i8042;
	struct acpi_pm acpi_pm;
	struct rtc rtc;
	bool has_rtc;	/* rtc_init done (rtc_destroy owed) */
	int rtc_irq_fd; /* eventfd, irqfd on RTC_IRQ; -1 before */

	int end_fd; /* eventfd: the VM has ended (written by whoever ended it) */
	atomic_bool is_ending;
	pthread_mutex_t end_lock;
	struct vm_exit_info info;

	/* Console: the fds given in the config, or /dev/null (owned: con_null_fd). */
	int con_in_fd, con_out_fd, con_null_fd;
	bool has_power_button; /* ACPI tables with the GED power button */

	/* Lifecycle (core/vm_control.c). op_lock serializes the operations; state_lock
	 * guards state and is what vm_wait() sleeps on. */
	pthread_mutex_t op_lock;
	pthread_mutex_t state_lock;
	pthread_cond_t state_cond;
	enum vm_state state;
	int stopped_fd; /* eventfd written once STOPPED */
	int state_fd;	/* eventfd written on every state change (the embedder reads it) */
	pthread_t control_thread;
	bool has_control_thread;
	/* Pausing: vCPUs see is_pausing, park on park_cond and count themselves. */
	atomic_bool is_pausing;
	pthread_mutex_t park_lock;
	pthread_cond_t park_cond;
	unsigned nr_parked;
	uint64_t paused_clock_ns;
	bool has_paused_clock;
	uint64_t nr_pauses, nr_resumes;

	/* Snapshots (core/snapshot.c): the config as a state file keeps it; for a restored VM
	 * the memory file its RAM is mapped MAP_PRIVATE from (never to be overwritten). */
	char *snap_config;
	bool is_restored;
	uint64_t mem_file_dev, mem_file_ino;
	uint64_t restore_t0_ns; /* CLOCK_MONOTONIC at vm_restore()'s start (0: not restored) */
};

/* vm.c: ends the VM (the first caller wins; later calls do nothing). */
void vm_end(struct vm *vm, enum vm_end end, int signo, const char *detail, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* vm.c: vm_create(), or with rs a VM rebuilt from a snapshot (core/snapshot.c): RAM from
 * snapshot_restore_mem(), no kernel loaded, the saved state put back by
 * snapshot_restore_state() instead of the boot state. */
struct vm_restore_src;
int vm_create_from(const struct vm_config *cfg, struct vm_restore_src *rs, struct vm **out,
		   char *err, size_t errlen);
int snapshot_restore_mem(struct vm *vm, struct vm_restore_src *rs, char *err, size_t errlen);
int snapshot_restore_state(struct vm *vm, struct vm_restore_src *rs, char *err, size_t errlen);
/* vm_control.c: vm_start() for a restored VM: the vCPU threads start parked and the VM is
 * PAUSED (its devices already paused by the restore). */
int vm_start_paused(struct vm *vm, char *err, size_t errlen);
/* vm.c: the vCPU thread's body (started by the control thread). */
void *vm_vcpu_thread(void *arg);

/* vm_devices.c: the virtio devices from the config, in slot order (disks first, then
 * network, console, rng). Each returns 0 or -errno with one line in err. */
int vm_devices_create(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen);
/* The kernel command line: the user's (or the default) plus, without ACPI, the devices. */
int vm_devices_cmdline(struct vm *vm, const struct vm_config *cfg);
/* ACPI tables describing the CPUs and devices, after the kernel is loaded. */
int vm_devices_acpi(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen);
/* Registers each device's irqfd and queue ioeventfds with the hypervisor. */
int vm_devices_wire(struct vm *vm, char *err, size_t errlen);

#endif

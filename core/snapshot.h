/* core/snapshot.h — snapshot a paused VM to a state file and a memory file, and build a VM
 * from them again (in a new process, or beside the original).
 *
 * The state file (core/snapshot_format.h) holds the config needed to rebuild the machine
 * (vCPUs, RAM, the device list, disk paths, NIC backends, the vsock socket), the KVM state
 * of every vCPU and of the VM, the legacy devices, each virtio-mmio transport and each
 * virtio device's own state. The memory file is guest RAM, sparse (holes stay holes, zero
 * pages are not written), at the offsets it has in the RAM memfd.
 *
 * Trust: a state file and a memory file are hostile input: the whole state file is checked
 * (checksums, version, host features, every length) before anything is built, every device
 * checks its own state like guest input, and a failure at any step destroys the half-built
 * VM: the caller gets one line naming what is wrong, never a half-restored guest.
 */
#ifndef ARCVMM_CORE_SNAPSHOT_H
#define ARCVMM_CORE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct vm;

enum vm_snapshot_type {
	VM_SNAPSHOT_FULL,
	VM_SNAPSHOT_DIFF, /* not implemented yet: refused with -ENOTSUP */
};

struct vm_snapshot_stats {
	uint64_t state_bytes;
	uint64_t mem_pages_written, mem_pages_zero, mem_bytes_hole;
	uint64_t ns_state, ns_mem; /* time spent on each file */
};

/* Writes the paused VM to state_path (written to a temporary name beside it, then renamed:
 * never a half-written state file under that name) and its RAM to mem_path. -EBUSY with a
 * reason if the VM is not paused; -EINVAL for bad paths; -errno for I/O. st may be NULL. */
int vm_snapshot_create(struct vm *vm, const char *state_path, const char *mem_path,
		       enum vm_snapshot_type type, struct vm_snapshot_stats *st, char *err,
		       size_t errlen);

/* What the restoring process supplies: the files and what is not the snapshot's to say
 * (the console's fds, seccomp, log level — taken from base, whose machine and devices are
 * ignored). */
struct vm_restore_params {
	const char *state_path;
	const char *mem_path;	      /* NULL: state_path with ".mem" appended */
	const struct vm_config *base; /* NULL: defaults (console on stdin/stdout) */
	bool is_verify;		      /* read the whole memory file once (--verify) */
};

/* Builds a VM from a snapshot; it is left Paused (vm_resume() runs it). On failure
 * returns -errno with one line in err and nothing is left behind. */
int vm_restore(const struct vm_restore_params *p, struct vm **out, char *err, size_t errlen);

/* Starts a restored VM: its vCPU threads start parked (PAUSED); with resume it then runs.
 * 0 or -errno with err. */
int vm_restore_start(struct vm *vm, bool resume, char *err, size_t errlen);

/* The config as the snapshot's CONFIG section keeps it (JSON, malloc'd; NULL without
 * memory). vm.c keeps one per VM. */
char *snapshot_config_json(const struct vm_config *cfg);
/* Parses that JSON (hostile: every field's type and range checked) into c, which must be
 * config_init()ed. 0 or -EINVAL with err. paused_clock_ns may be NULL. */
int snapshot_config_parse(struct vm_config *c, const char *json, size_t len,
			  uint64_t *paused_clock_ns, char *err, size_t errlen);

#endif

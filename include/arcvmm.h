/* arcvmm.h — libarcvmm, the arcvmm virtual machine monitor as an embeddable C library.
 *
 * This is the only header an embedder includes; link with -larcvmm (pkg-config arcvmm).
 * The arcvmm command and its REST API server are clients of exactly this interface.
 *
 * Lifecycle: build a config, create a VM from it (files opened, kernel loaded, devices and
 * vCPUs made, nothing runs), start it, then pause/resume/stop it while it runs; it ends when
 * the guest powers off or resets, on a hard stop, or on a host error. Wait for the end with
 * arcvmm_wait() or poll arcvmm_event_fd(); read why with arcvmm_exit(); free with
 * arcvmm_destroy(). Every state move goes through one table, arcvmm_state_allows().
 *
 * Embedder rules (guarantees of the library):
 *  - It never calls exit() or abort() on purpose (but see seccomp below): every failure is a negative errno return
 *    (or NULL) plus a one-line message for the user from arcvmm_last_error().
 *  - It never takes over the calling thread: arcvmm_start() returns once the VM runs; the
 *    VM's control, vCPU and device threads are the library's own. They start with every
 *    signal blocked except the vCPU kick signal in vCPU threads, so the embedder's signal
 *    handling is left alone.
 *  - It installs one signal handler of its own: a no-op handler for the vCPU kick signal
 *    (SIGUSR1 unless arcvmm_set_kick_signal() chose another, before the first create). Do
 *    not use that signal for anything else. With seccomp on or log (the default is on)
 *    it also installs a SIGSYS handler: a thread of the library that makes a forbidden
 *    system call is a compromised or broken VMM, and the handler writes one line naming
 *    the thread and the call and ends the process (on) — the only case in which the
 *    library ends the process — or logs it and lets the call fail (log).
 *  - Two or more VMs can live in one process; functions on different VMs may be called
 *    from different threads at the same time. Calls on one VM are serialized internally.
 *  - Per-thread seccomp filters (on by default, see "seccomp" in the options) are
 *    installed only on the library's own threads, never on the caller's.
 *  - The VM's console defaults to the process's stdin/stdout; arcvmm_config_set_console()
 *    points it elsewhere (or nowhere).
 * Not thread-safe: arcvmm_config_parse_args() (getopt), arcvmm_set_kick_signal().
 */
#ifndef ARCVMM_H
#define ARCVMM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The interface version: bumped on every incompatible change (it is also the SONAME's). */
#define ARCVMM_API_VERSION 1

struct arcvmm_config;
struct arcvmm_vm;

/* --- errors and library-wide settings --- */

/* The message of the last failed call made by this thread ("" if none). Valid until the
 * thread's next failing call. */
const char *arcvmm_last_error(void);
/* "0.2.0" etc. */
const char *arcvmm_version(void);
/* The signal used to kick vCPU threads out of the guest (default SIGUSR1). Call before
 * the first arcvmm_create(); later calls fail with -EBUSY. */
int arcvmm_set_kick_signal(int signo);
/* Library log messages go to stderr at this level and above: 0 error, 1 warn, 2 info,
 * 3 debug. Default 1. */
void arcvmm_set_log_level(int level);
int arcvmm_get_log_level(void);
/* Sends log lines to fd instead of stderr (-1: back to stderr). */
int arcvmm_set_log_fd(int fd);

/* --- configuration --- */

struct arcvmm_config *arcvmm_config_new(void);
void arcvmm_config_free(struct arcvmm_config *c);
/* Kernel image (ELF vmlinux, PVH ELF or bzImage), optional initrd, optional command line
 * (NULL: the default, which suits the serial console). */
int arcvmm_config_set_kernel(struct arcvmm_config *c, const char *kernel, const char *initrd,
			     const char *cmdline);
/* vCPU count (1..254) and guest RAM in MiB (>= 16). */
int arcvmm_config_set_machine(struct arcvmm_config *c, unsigned vcpus, uint64_t mem_mib);
/* Guest RAM on 2 MiB hugetlbfs pages (on = 1) or on 4 KiB pages with transparent huge
 * pages where the host allows them (on = 0, the default). With huge pages the memory size
 * must be a multiple of 2 MiB and the host's pool (/proc/sys/vm/nr_hugepages) must hold it:
 * arcvmm_create() reserves it all and fails otherwise; the balloon gives memory back only
 * in whole 2 MiB pages. */
int arcvmm_config_set_huge_pages(struct arcvmm_config *c, int on);
/* A disk, in the arcvmm command's --disk syntax: "PATH[,ro][,id=ID][,direct][,queues=N]
 * [,bw=RATE][,ops=RATE]". */
int arcvmm_config_add_disk(struct arcvmm_config *c, const char *spec);
/* A NIC, in --net syntax: "user[,hostfwd=...]", "tap=NAME[,mac=...]", "fd=N". */
int arcvmm_config_add_net(struct arcvmm_config *c, const char *spec);
/* Console: kind 0 = the 8250 UART (ttyS0), 1 = virtio-console (hvc0). Guest input is read
 * from in_fd, output written to out_fd; -1 for none (no input / output discarded). The
 * library does not close them; they must stay open until arcvmm_destroy(). Default: serial
 * on stdin/stdout. */
enum arcvmm_console_kind { ARCVMM_CONSOLE_SERIAL = 0, ARCVMM_CONSOLE_VIRTIO = 1 };
int arcvmm_config_set_console(struct arcvmm_config *c, enum arcvmm_console_kind kind, int in_fd,
			      int out_fd);
/* A Firecracker-style JSON configuration document ("boot-source", "machine-config",
 * "drives", "network-interfaces", ...), merged into c. name labels messages. */
int arcvmm_config_load_json(struct arcvmm_config *c, const char *json, const char *name);
int arcvmm_config_load_file(struct arcvmm_config *c, const char *path);
/* The arcvmm command's VM options (argv[0] is skipped; see `arcvmm --help`), merged into
 * c. Returns 1 if --help/--version was printed (nothing to run), 0, or -EINVAL. */
int arcvmm_config_parse_args(struct arcvmm_config *c, int argc, char **argv);
/* Prints the VM options' help to the stream (a FILE *). */
void arcvmm_config_usage(void *stream);
/* If the config asks for a jail (--jail DIR), moves the whole process into it now: new
 * mount/PID(/net) namespaces, pivot_root into DIR, the jail's uid/gid without
 * capabilities. For launcher-style front ends (the arcvmm command); 0 if no jail. */
int arcvmm_config_enter_jail(struct arcvmm_config *c);

/* --- lifecycle --- */

enum arcvmm_state {
	ARCVMM_STATE_NOT_STARTED, /* created, no vCPU has run */
	ARCVMM_STATE_RUNNING,
	ARCVMM_STATE_PAUSED,  /* vCPUs parked, devices quiesced, guest clock held */
	ARCVMM_STATE_STOPPED, /* ended; arcvmm_exit() says why */
};

enum arcvmm_op {
	ARCVMM_OP_START,
	ARCVMM_OP_PAUSE,
	ARCVMM_OP_RESUME,
	ARCVMM_OP_SHUTDOWN, /* graceful stop request */
	ARCVMM_OP_STOP,	    /* hard stop */
};

/* The state machine: 1 if op is allowed in state, else 0. START: NOT_STARTED only;
 * PAUSE: RUNNING; RESUME: PAUSED; SHUTDOWN: RUNNING; STOP: anything but STOPPED. */
int arcvmm_state_allows(enum arcvmm_state state, enum arcvmm_op op);
/* "Not started", "Running", "Paused", "Stopped" (Firecracker's InstanceInfo.state words
 * for the first three). */
const char *arcvmm_state_name(enum arcvmm_state state);

/* Builds a VM from the config (the config may be freed afterwards). NULL on failure. */
struct arcvmm_vm *arcvmm_create(const struct arcvmm_config *c);
/* Stops the VM if it still runs, joins its threads and frees it. NULL is fine. */
void arcvmm_destroy(struct arcvmm_vm *vm);
/* The same for a process about to exit: devices are closed at once, but the kernel's slow
 * teardown of the VM (tens of ms) is left to a short-lived child process (fork) that
 * exits with this process. */
void arcvmm_destroy_detached(struct arcvmm_vm *vm);

/* Starts the vCPUs; returns once they run. -EBUSY if the state does not allow it. */
int arcvmm_start(struct arcvmm_vm *vm);
/* Parks every vCPU outside the guest, quiesces every device (no guest memory is written
 * until resume) and holds the guest's clock. Returns once all of that is done. */
int arcvmm_pause(struct arcvmm_vm *vm);
int arcvmm_resume(struct arcvmm_vm *vm);

enum arcvmm_shutdown_method {
	ARCVMM_SHUTDOWN_POWER_BUTTON, /* an ACPI power-button press (systemd: poweroff) */
	ARCVMM_SHUTDOWN_CTRL_ALT_DEL, /* Ctrl-Alt-Del on the i8042 keyboard (init: reboot) */
};
/* Asks the guest to shut itself down and returns at once; the VM ends when the guest
 * powers off or resets. A guest may ignore it: follow with arcvmm_wait() and a timeout,
 * then arcvmm_stop(). */
int arcvmm_request_shutdown(struct arcvmm_vm *vm, enum arcvmm_shutdown_method how);
/* Hard stop: the vCPUs stop at once, the VM ends with ARCVMM_END_STOPPED. signo, if not
 * 0, is recorded (a front end stopping on a signal). Returns once the VM is stopped. */
int arcvmm_stop(struct arcvmm_vm *vm, int signo);

enum arcvmm_state arcvmm_state(struct arcvmm_vm *vm);
/* Waits until the VM is STOPPED: timeout_ms < 0 forever. 0 when stopped, -ETIMEDOUT. */
int arcvmm_wait(struct arcvmm_vm *vm, int timeout_ms);
/* A file descriptor that polls readable once the VM is STOPPED and stays so (owned by the
 * VM; do not read or close it). */
int arcvmm_event_fd(struct arcvmm_vm *vm);
/* An eventfd that becomes readable on every state change (Running, Paused, Stopped):
 * read 8 bytes to clear it, then ask arcvmm_state(). Owned by the VM. */
int arcvmm_state_fd(struct arcvmm_vm *vm);

enum arcvmm_end {
	ARCVMM_END_NONE,     /* still running */
	ARCVMM_END_POWEROFF, /* the guest powered off */
	ARCVMM_END_RESET,    /* the guest rebooted */
	ARCVMM_END_TRIPLE_FAULT,
	ARCVMM_END_CONSOLE, /* the user typed Ctrl-A x on a terminal console */
	ARCVMM_END_PANIC,   /* the guest kernel panicked */
	ARCVMM_END_STOPPED, /* arcvmm_stop() */
	ARCVMM_END_ERROR,   /* KVM could not run the guest, or a host error */
};
struct arcvmm_exit {
	enum arcvmm_end end;
	int signo;	    /* given to arcvmm_stop() */
	const char *reason; /* one line, valid until arcvmm_destroy() */
	const char *detail; /* register dump etc., may be "" */
	int status;	    /* the arcvmm command's exit status for this end (see --help) */
};
/* Why the VM ended; end is ARCVMM_END_NONE while it runs. */
int arcvmm_exit(struct arcvmm_vm *vm, struct arcvmm_exit *out);

/* --- observation --- */

/* The VM's counters as one JSON object (vCPU exits, each device's requests, bytes and
 * errors, pauses): a malloc'd string to free(), or NULL. */
char *arcvmm_metrics_json(struct arcvmm_vm *vm);
/* The vCPU count and RAM size the VM was built with. */
unsigned arcvmm_vcpus(struct arcvmm_vm *vm);
uint64_t arcvmm_mem_mib(struct arcvmm_vm *vm);

/* --- run-time device changes (what the API's PATCH endpoints call) --- */

/* Firecracker's RateLimiter: two token buckets. A bucket with size 0 (or refill 0) does
 * not limit; all zero removes the limit. Over the limit, work is delayed, never dropped. */
struct arcvmm_token_bucket {
	uint64_t size;		 /* bytes (bandwidth) or requests (ops) per refill_time_ms */
	uint64_t one_time_burst; /* extra tokens at the start */
	uint64_t refill_time_ms;
};
struct arcvmm_rate_limit {
	struct arcvmm_token_bucket bandwidth, ops;
};
/* The disk with this drive id (the config's id=/drive_id) gets a new limit. -ENOENT if no
 * disk has that id. */
int arcvmm_disk_set_rate_limit(struct arcvmm_vm *vm, const char *drive_id,
			       const struct arcvmm_rate_limit *limit);
/* NIC number index (in config order, from 0): new RX and/or TX limits (NULL: unchanged).
 * -ENOENT if there is no such NIC. */
int arcvmm_net_set_rate_limit(struct arcvmm_vm *vm, unsigned index,
			      const struct arcvmm_rate_limit *rx,
			      const struct arcvmm_rate_limit *tx);
/* The number of disks and NICs the VM has. */
unsigned arcvmm_disk_count(struct arcvmm_vm *vm);
unsigned arcvmm_net_count(struct arcvmm_vm *vm);

/* The balloon (configured with "balloon" / --balloon before create). Every call returns
 * -ENODEV when the VM has none. */
struct arcvmm_balloon_config {
	uint32_t amount_mib; /* the target: MiB the guest is asked to give back */
	int deflate_on_oom;
	uint32_t stats_polling_interval_s; /* 0: statistics off */
};
/* Values are -1 when the guest has not reported them (yet). */
struct arcvmm_balloon_stats {
	uint32_t target_pages, actual_pages, target_mib, actual_mib;
	int64_t swap_in, swap_out, major_faults, minor_faults, free_memory, total_memory,
	    available_memory, disk_caches, hugetlb_allocations, hugetlb_failures;
};
/* Moves the target (any state but STOPPED); -EINVAL if larger than guest RAM. */
int arcvmm_balloon_set_target(struct arcvmm_vm *vm, uint32_t amount_mib);
int arcvmm_balloon_get_config(struct arcvmm_vm *vm, struct arcvmm_balloon_config *out);
/* -ENOTSUP if statistics were not enabled at create. */
int arcvmm_balloon_get_stats(struct arcvmm_vm *vm, struct arcvmm_balloon_stats *out);
/* -ENOTSUP if statistics were off at create; -EINVAL for 0 (they cannot be turned off). */
int arcvmm_balloon_set_stats_interval(struct arcvmm_vm *vm, uint32_t seconds);

/* virtio-vsock (Firecracker's hybrid vsock: the host side is Unix sockets).
 * arcvmm_config_set_vsock: guest CID (>= 3) and uds_path; a host program connects to
 * uds_path and writes "CONNECT <port>\n" to reach guest port <port> (answer "OK <n>\n"),
 * and a guest connect() to CID 2 port P reaches whoever listens on "<uds_path>_<P>".
 * Same as --vsock cid=N,uds=PATH / the JSON "vsock" object. */
int arcvmm_config_set_vsock(struct arcvmm_config *c, uint32_t guest_cid, const char *uds_path);
/* In-process connect to guest port `port`: returns a connected stream socket (close it to
 * end the connection; shutdown(SHUT_WR) half-closes) or -errno with the reason in err
 * (may be NULL) and arcvmm_last_error(): -ECONNREFUSED if nothing listens in the guest,
 * -ETIMEDOUT if the guest does not answer within 5 s, -ENODEV without a vsock device.
 * Blocks the calling thread until the guest answers; do not call it from a callback the
 * VM runs. It goes through uds_path and the CONNECT protocol, so it costs what an outside
 * client does. */
int arcvmm_vsock_connect(struct arcvmm_vm *vm, uint32_t port, char *err, size_t errlen);
/* Accepting guest-initiated connections in-process: returns a listening Unix socket bound
 * at "<uds_path>_<port>" (blocking, CLOEXEC); accept() on it yields one stream socket per
 * guest connect() to CID 2 port `port` (poll it for readability to accept without
 * blocking). Close it to stop listening (the path is left behind; the next listen on that
 * port replaces it). -errno on failure. */
int arcvmm_vsock_listen(struct arcvmm_vm *vm, uint32_t port);

/* --- snapshots --- */

/* Firecracker's snapshot types; ARCVMM_SNAPSHOT_DIFF is not implemented yet (-ENOTSUP). */
enum arcvmm_snapshot_type { ARCVMM_SNAPSHOT_FULL = 0, ARCVMM_SNAPSHOT_DIFF = 1 };
/* Writes the VM (which must be PAUSED: -EBUSY otherwise) to state_path, a checksummed
 * state file written under a temporary name and renamed into place, and its RAM to
 * mem_path, sparsely (holes and zero pages are not written). The VM stays paused. */
int arcvmm_snapshot_create(struct arcvmm_vm *vm, const char *state_path, const char *mem_path,
			   enum arcvmm_snapshot_type type);

#define ARCVMM_RESTORE_RESUME 1 /* run the restored VM at once (else it is PAUSED) */
#define ARCVMM_RESTORE_VERIFY 2 /* read the whole memory file once before restoring */
/* Builds a VM from a snapshot (mem_path NULL: state_path + ".mem"): the machine, disks,
 * NICs and vsock as the snapshot says; the console, seccomp and log level from c (NULL:
 * defaults). Guest RAM is mapped from the memory file copy-on-write and loaded lazily, so
 * restore time does not grow with RAM size; two VMs restored from the same files run side
 * by side (each needs its own vsock uds_path free, and disks it may lock). The VM comes
 * back PAUSED (ARCVMM_RESTORE_RESUME: RUNNING). A truncated, corrupted, wrong-version or
 * wrong-host state file, or a memory file of the wrong size, gives NULL and one line in
 * arcvmm_last_error(). */
struct arcvmm_vm *arcvmm_restore(const char *state_path, const char *mem_path,
				 const struct arcvmm_config *c, unsigned flags);
/* virtio-fs: shares host directory `path` with the guest, which mounts it with
 * `mount -t virtiofs TAG /mnt` (served in-process, confined to path; see README).
 * opts may be NULL (read-write, cache "auto", no xattrs, one request queue). Same as
 * --fs PATH,tag=TAG[,ro][,cache=..][,xattr=on][,queues=N] / the JSON "fs" array. Call
 * before arcvmm_create(); several shares per VM (at most 8). -EINVAL with
 * arcvmm_last_error() for a path that is not a directory, a tag that is empty, longer
 * than 36 bytes or already used, a bad cache mode or queue count. */
struct arcvmm_fs_options {
	int read_only;	   /* the guest gets EROFS for every change */
	int xattr;	   /* pass extended attributes through */
	const char *cache; /* "none", "auto" (NULL) or "always" */
	unsigned queues;   /* request queues, 1 .. 15 (0: 1) */
};
int arcvmm_config_add_fs(struct arcvmm_config *c, const char *path, const char *tag,
			 const struct arcvmm_fs_options *opts);

#ifdef __cplusplus
}
#endif

#endif

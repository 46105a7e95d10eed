/* util/seccomp.h — per-thread seccomp allow-lists (libseccomp).
 *
 * Each thread kind installs its own filter on itself before it touches guest data:
 * the vCPU threads at the top of vcpu_thread, each device worker at the top of
 * worker_main (its kind comes from its name), the slirp thread at the top of its loop, and
 * the control thread (the CLI's main thread, or the API thread) when it calls
 * seccomp_apply(SECCOMP_KIND_CONTROL).
 *
 * Linux filters stack and are inherited: a thread started by a filtered thread is bound by
 * its parent's filter as well as its own. Device workers are started by the vCPU that
 * writes DRIVER_OK, so the vCPU list also holds what a worker needs (see seccomp_lists.c).
 *
 * Modes (process-wide, set once before any thread starts): OFF installs nothing; LOG
 * installs the filters with SCMP_ACT_LOG (the kernel logs the violation, the call goes on);
 * ON makes a violation trap: a SIGSYS handler writes one line to stderr
 *   "arcvmm: seccomp: thread vcpu0 (vcpu) made forbidden syscall 39 (getpid); killing the VM"
 * and ends the process with status SECCOMP_EXIT_STATUS.
 */
#ifndef ARCVMM_UTIL_SECCOMP_H
#define ARCVMM_UTIL_SECCOMP_H

enum seccomp_mode { SECCOMP_OFF, SECCOMP_LOG, SECCOMP_ON };

enum seccomp_kind {
	SECCOMP_KIND_CONTROL, /* CLI control loop / API server (HTTP on a Unix socket) */
	SECCOMP_KIND_VCPU,
	SECCOMP_KIND_BLK,     /* virtio-blk queue workers ("blk*") */
	SECCOMP_KIND_NET,     /* virtio-net RX and TX workers ("net-rx", "net-tx") */
	SECCOMP_KIND_CONSOLE, /* virtio-console worker ("vconsole") */
	SECCOMP_KIND_RNG,     /* virtio-rng worker ("virtio-rng") */
	SECCOMP_KIND_SLIRP,   /* the user-networking thread ("net-slirp") */
	SECCOMP_KIND_WORKER,  /* a worker whose name matches no kind above */
	SECCOMP_KIND_FS,      /* virtio-fs queue workers ("fs-*"): the FUSE server */
	SECCOMP_KIND_COUNT,
};

/* 128 + SIGSYS: what the process exits with after a violation in ON mode. */
#define SECCOMP_EXIT_STATUS 159

/* "off", "log", "on". 0 or -EINVAL. */
int seccomp_parse_mode(const char *s, enum seccomp_mode *out);
/* Sets the process-wide mode (default OFF for the library; the CLI's default is ON). Call
 * before the VM's threads start. */
void seccomp_set_mode(enum seccomp_mode m);
enum seccomp_mode seccomp_get_mode(void);

/* Installs the allow-list of kind on the calling thread (nothing when the mode is OFF).
 * Returns 0 or -errno (the caller must then not go on to touch guest data). */
int seccomp_apply(enum seccomp_kind kind);
/* The ioctl requests a vCPU thread may make (hv/ knows them; called before the vCPUs
 * start). Up to 32 in all. */
void seccomp_allow_vcpu_ioctls(const unsigned long *reqs, unsigned n);
/* User networking is in use: the net workers' TX path runs libslirp (which opens host
 * sockets for new flows), so the net list takes the slirp list too. Call before the net
 * workers start. */
void seccomp_net_uses_slirp(void);
/* The kind a worker thread named name gets. */
enum seccomp_kind seccomp_kind_for_worker(const char *name);
const char *seccomp_kind_name(enum seccomp_kind kind);
/* Number of syscall rules in kind's list (ioctl counts once per allowed request). */
unsigned seccomp_rule_count(enum seccomp_kind kind);

/* Test hook: when the environment variable ARCVMM_TEST_SECCOMP_VIOLATE names kind, the
 * thread makes a forbidden syscall right after installing its filter. */
void seccomp_test_hook(enum seccomp_kind kind);

#endif

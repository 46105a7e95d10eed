/* util/seccomp_lists.c — the allow-list of each thread kind (see seccomp.h).
 *
 * Names, not numbers, so the lists read like the code they permit; seccomp.c resolves
 * them with libseccomp and skips a name this kernel's headers do not know. ioctl is never
 * in these lists: seccomp.c adds it per kind (any request for the control thread, a
 * closed set of requests for the vCPUs, none for the workers).
 *
 * Why the vCPU list is wider than KVM_RUN: a vCPU that writes DRIVER_OK (or resets a
 * device) creates, starts, pauses and joins the device's workers, sets up its io_uring and
 * tells the TAP device the offloads, and the workers it starts inherit its filter — so it
 * holds thread creation plus every worker kind's calls.
 */
#include "util/seccomp_lists.h"

#include <stddef.h>

#define END NULL

/* Every thread: memory, futexes, signals, time, thread exit, epoll on its own fds. */
static const char *const common[] = {
    "read",
    "write",
    "readv",
    "writev",
    "close",
    "futex",
    "futex_waitv",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_ctl",
    "poll",
    "ppoll",
    "mmap",
    "munmap",
    "mprotect",
    "madvise",
    "mremap",
    "brk",
    "exit",
    "exit_group",
    "rt_sigreturn",
    "rt_sigprocmask",
    "sigaltstack",
    "clock_gettime",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "getpid",
    "gettid",
    "tgkill",
    "sched_yield",
    "sched_getaffinity",
    "restart_syscall",
    "getrandom",
    "fstat",
    "newfstatat",
    "lseek",
    "rseq",
    "set_robust_list",
    "timerfd_settime",
    "timerfd_gettime",
    "prctl",
    END,
};

static const char *const blk[] = {
    "pread64", "pwrite64",  "preadv",	 "pwritev",	   "preadv2",		"pwritev2",
    "fsync",   "fdatasync", "fallocate", "io_uring_enter", "io_uring_register", END,
};

static const char *const net[] = {
    "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "sendto", "recvfrom", END,
};

static const char *const console[] = {"fcntl", END};

static const char *const rng[] = {END};

/* The vsock worker ("vsock", kind WORKER): accepts on uds_path, connects to
 * uds_path_<port>, peeks at the CONNECT line. A worker started by a vCPU also keeps the
 * vCPU's filter, whose slirp part holds these too. */
static const char *const vsock[] = {
    "socket", "connect", "accept4", "shutdown", "sendto", "recvfrom", "fcntl", END,
};

/* The virtio-fs workers ("fs-*"): the FUSE server's passthrough (fs/fuse_server.c) —
 * openat2 for lookups and creates, openat for re-opening a node through /proc/self/fd,
 * the *at calls on the nodes' O_PATH fds, path xattr calls on /proc/self/fd/N. */
static const char *const fs[] = {
    "openat",	  "openat2",   "readlinkat", "symlinkat",   "mknodat",	 "mkdirat",
    "unlinkat",	  "renameat",  "renameat2",  "linkat",	    "fchmod",	 "fchmodat",
    "fchmodat2",  "fchownat",  "utimensat",  "ftruncate",   "fallocate", "copy_file_range",
    "getdents64", "pread64",   "pwrite64",   "preadv",	    "pwritev",	 "fsync",
    "fdatasync",  "faccessat", "faccessat2", "fstatfs",	    "statfs",	 "statx",
    "getxattr",	  "setxattr",  "listxattr",  "removexattr", "lgetxattr", "fcntl",
    END,
};

/* libslirp opens, connects and accepts host sockets for the guest's flows and reads
 * /etc/resolv.conf for the DNS address. */
static const char *const slirp[] = {
    "socket",	  "connect",	 "bind",	"listen",   "accept", "accept4",  "setsockopt",
    "getsockopt", "getsockname", "getpeername", "shutdown", "sendto", "recvfrom", "sendmsg",
    "recvmsg",	  "fcntl",	 "openat",	"eventfd2", "pipe2",  "uname",	  END,
};

/* What creating, starting and stopping workers needs (vCPU, control). */
static const char *const threads[] = {
    "clone",	      "clone3", "epoll_create1", "eventfd2", "timerfd_create",
    "io_uring_setup", "fcntl",	"dup",		 "seccomp",  END,
};

/* The control thread: the CLI's control loop and teardown, and the API server (an HTTP
 * server such as libmicrohttpd on a Unix socket, with its own threads). Generous on
 * purpose: it never touches guest data, it runs code (the HTTP parser) that may change. */
static const char *const control[] = {
    "socket",
    "socketpair",
    "bind",
    "listen",
    "accept",
    "accept4",
    "connect",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "getsockname",
    "getpeername",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendfile",
    "openat",
    "open",
    "unlink",
    "unlinkat",
    "rename",
    "renameat2",
    "mkdirat",
    "readlink",
    "readlinkat",
    "getdents64",
    "statx",
    "stat",
    "lstat",
    "access",
    "faccessat",
    "faccessat2",
    "fstatfs",
    "statfs",
    "fcntl",
    "dup",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "ftruncate",
    "fsync",
    "fdatasync",
    "pread64",
    "pwrite64",
    "epoll_create1",
    "eventfd2",
    "signalfd4",
    "timerfd_create",
    "rt_sigaction",
    "rt_sigtimedwait",
    "rt_sigsuspend",
    "kill",
    "wait4",
    "waitid",
    "clone",
    "clone3",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "uname",
    "sysinfo",
    "prlimit64",
    "getrlimit",
    "umask",
    "chmod",
    "fchmod",
    "fchmodat",
    "io_uring_enter",
    "io_uring_register",
    "membarrier",
    "select",
    "pselect6",
    "alarm",
    "setitimer",
    "getitimer",
    "times",
    "getrusage",
    "sched_getparam",
    "sched_setaffinity",
    "mlock",
    "munlock",
    END,
};

static const char *const *const parts[SECCOMP_KIND_COUNT][SECCOMP_LIST_PARTS] = {
    [SECCOMP_KIND_CONTROL] = {common, threads, control, blk, END},
    [SECCOMP_KIND_VCPU] = {common, threads, blk, net, console, slirp, fs},
    [SECCOMP_KIND_BLK] = {common, blk, END},
    [SECCOMP_KIND_NET] = {common, net, END},
    [SECCOMP_KIND_CONSOLE] = {common, console, END},
    [SECCOMP_KIND_RNG] = {common, rng, END},
    [SECCOMP_KIND_SLIRP] = {common, slirp, END},
    [SECCOMP_KIND_WORKER] = {common, blk, net, console, vsock, END},
    [SECCOMP_KIND_FS] = {common, fs, END},
};

const char *const *const *seccomp_list_parts(enum seccomp_kind kind)
{
	if ((unsigned)kind >= SECCOMP_KIND_COUNT)
		return NULL;
	return parts[kind];
}

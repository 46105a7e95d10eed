/* core/jail.c — see jail.h. Trusts the command line (root gave it); keeps the VM's own
 * inputs (guest, disks) out of everything else the host has. */
#include "core/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int jfail(char *err, size_t errlen, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int jfail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

/* Bind-mounts src onto DIR/rel (a new empty file or directory), read-only if asked. */
static int bind_in(const char *dir, const char *rel, const char *src, bool is_ro, char *err,
		   size_t errlen)
{
	char dst[4096];
	struct stat st;

	if (stat(src, &st) < 0)
		return jfail(err, errlen, -errno, "--jail: %s: %s", src, strerror(errno));
	if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, rel) >= sizeof(dst))
		return jfail(err, errlen, -ENAMETOOLONG, "--jail %s: path too long", dir);
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return jfail(err, errlen, -errno, "--jail: mkdir %s: %s", dst,
				     strerror(errno));
	} else {
		int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return jfail(err, errlen, -errno, "--jail: create %s: %s", dst,
				     strerror(errno));
		close(fd);
	}
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return jfail(err, errlen, -errno, "--jail: bind %s: %s", src, strerror(errno));
	if (is_ro && mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
		return jfail(err, errlen, -errno, "--jail: read-only %s: %s", dst, strerror(errno));
	return 0;
}

/* A fresh device node DIR/rel like src, owned by the jail's uid:gid, mode 0600 (like
 * Firecracker's jailer: the host's node may be root-only). */
static int make_node(const char *dir, const char *rel, const char *src, const struct jail_config *j,
		     char *err, size_t errlen)
{
	char dst[4096];
	struct stat st;

	if (stat(src, &st) < 0 || !S_ISCHR(st.st_mode))
		return jfail(err, errlen, -ENODEV, "--jail: %s: not a character device", src);
	if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, rel) >= sizeof(dst))
		return jfail(err, errlen, -ENAMETOOLONG, "--jail %s: path too long", dir);
	unlink(dst);
	if (mknod(dst, S_IFCHR | 0600, st.st_rdev) < 0 || chown(dst, j->uid, j->gid) < 0)
		return jfail(err, errlen, -errno, "--jail: mknod %s: %s", dst, strerror(errno));
	return 0;
}

/* Binds *path under /files/N-basename and rewrites *path to that. */
static int bind_file(const char *dir, char **path, unsigned n, bool is_ro, char *err, size_t errlen)
{
	char rel[512];
	const char *base = strrchr(*path, '/');

	base = base ? base + 1 : *path;
	/* The name inside the jail is ours, a label: the basename is cut to 400 bytes on
	 * purpose (N keeps it unique), and "files/" + 10 digits + "-" + 400 always fits. */
	snprintf(rel, sizeof(rel), "files/%u-%.400s", n, base);
	int r = bind_in(dir, rel, *path, is_ro, err, errlen);
	if (r)
		return r;
	char *inside = malloc(strlen(rel) + 2);
	if (!inside)
		return -ENOMEM;
	sprintf(inside, "/%s", rel);
	free(*path);
	*path = inside;
	return 0;
}

static pid_t jailed_child;

static void pass_signal(int sig)
{
	if (jailed_child > 0)
		kill(jailed_child, sig);
}

static void ignore_signal(int sig)
{
	(void)sig; /* PID 1 only gets signals it has a handler for; vm.c reads them by signalfd */
}

/* Closes fds >= 3 except the --net fd=N ones. */
static void close_inherited(const struct vm_config *c)
{
	int keep[VM_MAX_NETS + 1], nr = 0;

	for (unsigned i = 0; i < c->nr_nets; i++) {
		if (c->nets[i].kind == VM_NET_FD)
			keep[nr++] = c->nets[i].fd;
	}
	unsigned from = 3;
	for (;;) {
		int next = -1;
		for (int i = 0; i < nr; i++)
			if (keep[i] >= (int)from && (next < 0 || keep[i] < next))
				next = keep[i];
		if (next < 0) {
			syscall(SYS_close_range, from, ~0U, 0);
			return;
		}
		if ((unsigned)next > from)
			syscall(SYS_close_range, from, (unsigned)next - 1, 0);
		from = (unsigned)next + 1;
	}
}

int jail_enter(struct vm_config *c, const struct jail_config *j, char *err, size_t errlen)
{
	bool needs_host_net = c->nr_nets == 0, needs_tun = false;
	struct stat st;
	char old[4096];
	int r, flags = CLONE_NEWNS | CLONE_NEWPID;

	if (geteuid() != 0)
		return jfail(err, errlen, -EPERM, "--jail: needs root");
	if (stat(j->dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return jfail(err, errlen, -ENOTDIR, "--jail %s: not a directory", j->dir);
	if (j->uid == 0 || j->gid == 0)
		return jfail(err, errlen, -EINVAL,
			     "--jail: --jail-uid and --jail-gid must not be 0");
	/* Every DIR/... path below is built in old[]: the longest ("/.old-root", "/dev/net")
	 * must fit, so none of those snprintf calls can cut a path. */
	if (strlen(j->dir) + sizeof("/.old-root") > sizeof(old))
		return jfail(err, errlen, -ENAMETOOLONG, "--jail %s: path too long", j->dir);
	for (unsigned i = 0; i < c->nr_nets; i++) {
		if (c->nets[i].kind == VM_NET_TAP)
			needs_tun = true;
		if (c->nets[i].kind == VM_NET_TAP || c->nets[i].kind == VM_NET_USER)
			needs_host_net = true;
	}
	if (!needs_host_net)
		flags |= CLONE_NEWNET;
	if (unshare(flags) < 0)
		return jfail(err, errlen, -errno, "--jail: unshare: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(j->dir, j->dir, NULL, MS_BIND, NULL) < 0)
		return jfail(err, errlen, -errno, "--jail %s: mount: %s", j->dir, strerror(errno));
	snprintf(old, sizeof(old), "%s/files", j->dir);
	mkdir(old, 0755);
	snprintf(old, sizeof(old), "%s/dev", j->dir);
	mkdir(old, 0755);
	if ((r = make_node(j->dir, "dev/kvm", "/dev/kvm", j, err, errlen)) ||
	    (r = bind_in(j->dir, "dev/null", "/dev/null", false, err, errlen)) ||
	    (r = bind_in(j->dir, "dev/urandom", "/dev/urandom", true, err, errlen)))
		return r;
	if (needs_tun) {
		snprintf(old, sizeof(old), "%s/dev/net", j->dir);
		mkdir(old, 0755);
		if ((r = make_node(j->dir, "dev/net/tun", "/dev/net/tun", j, err, errlen)))
			return r;
	}
	unsigned n = 0;
	if ((r = bind_file(j->dir, &c->kernel, n++, true, err, errlen)))
		return r;
	if (c->initrd && (r = bind_file(j->dir, &c->initrd, n++, true, err, errlen)))
		return r;
	for (unsigned i = 0; i < c->nr_disks; i++)
		if ((r = bind_file(j->dir, &c->disks[i].path, n++, c->disks[i].is_read_only, err,
				   errlen)))
			return r;
	gid_t groups[1] = {j->gid};

	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return jfail(err, errlen, -errno, "--jail: fork: %s", strerror(errno));
	if (pid > 0) {
		/* The parent: passes stop signals on, waits, exits with the child's status. */
		int status;
		jailed_child = pid;
		int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
		for (unsigned i = 0; i < 4; i++)
			signal(sigs[i], pass_signal);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(status))
			_exit(128 + WTERMSIG(status));
		_exit(WEXITSTATUS(status));
	}
	/* The child: PID 1 of the new namespace. */
	int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	for (unsigned i = 0; i < 4; i++)
		signal(sigs[i], ignore_signal);
	close_inherited(c);
	snprintf(old, sizeof(old), "%s/.old-root", j->dir);
	mkdir(old, 0700);
	if (syscall(SYS_pivot_root, j->dir, old) < 0 || chdir("/") < 0 ||
	    umount2("/.old-root", MNT_DETACH) < 0 || rmdir("/.old-root") < 0) {
		fprintf(stderr, "arcvmm: --jail %s: pivot_root: %s\n", j->dir, strerror(errno));
		_exit(1);
	}
	struct rlimit core = {0, 0}, nofile = {4096, 4096};
	setrlimit(RLIMIT_CORE, &core);
	setrlimit(RLIMIT_NOFILE, &nofile);
	if (setgroups(1, groups) < 0 || setresgid(j->gid, j->gid, j->gid) < 0 ||
	    setresuid(j->uid, j->uid, j->uid) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fprintf(stderr, "arcvmm: --jail: cannot drop to %u:%u: %s\n", (unsigned)j->uid,
			(unsigned)j->gid, strerror(errno));
		_exit(1);
	}
	/* From root to a non-zero uid: the kernel cleared every capability set. */
	return 0;
}

/* fs/fuse_ops.c — the FUSE server's passthrough handlers: one host operation per FUSE
 * opcode on the share's O_PATH node fds (see fs/fuse_server.h for the confinement rules).
 * fs/fuse_server.c parses and copies the request and calls fuse_ops_dispatch(); each
 * handler returns the bytes of its reply or -errno for an error reply.
 *
 * Trusts: the request copy's framing (fuse_server.c checked its length); nothing in its
 * arguments (each handler checks sizes, names, flags, ids).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fuse_internal.h"

/* Most bytes one READDIR/GETXATTR/LISTXATTR reply carries (bounced through the heap). */
#define FUSE_MAX_REPLY (XATTR_SIZE_MAX + 4096)
#define FUSE_MAX_COPY  (64ULL << 20) /* COPY_FILE_RANGE per request */

/* ---- host helpers ---- */

static double cache_timeout(const struct fuse_share *s)
{
	switch (s->cache) {
	case FUSE_CACHE_NONE:
		return 0;
	case FUSE_CACHE_ALWAYS:
		return 86400;
	default:
		return 1;
	}
}

static void fill_attr(struct fuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = (uint32_t)st->st_rdev;
	a->blksize = (uint32_t)st->st_blksize;
}

static int stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* "N" for fd N, for the *at calls relative to /proc/self/fd. */
struct fdname {
	char s[16];
};

static struct fdname fd_name(int fd)
{
	struct fdname n;

	snprintf(n.s, sizeof(n.s), "%d", fd);
	return n;
}

/* Opens name under dirfd without following any symlink or leaving the directory. */
int fuse_open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : (int)fd;
}

/* Re-opens node n (a regular file or directory) for I/O through its own fd. */
int fuse_node_reopen(struct fuse_share *s, const struct fuse_node *n, int flags)
{
	struct fdname nm = fd_name(n->fd);
	int fd;

	if (n->type == S_IFLNK)
		return -ELOOP;
	if (n->type != S_IFREG && n->type != S_IFDIR)
		return -EACCES;
	fd = openat(s->proc_fd, nm.s, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The host's umask bits also strip what the guest asked for; put them back. */
static void fix_mode(struct fuse_share *s, int fd, mode_t mode)
{
	struct fdname nm = fd_name(fd);

	if (mode & 07777 & s->host_umask)
		(void)fchmodat(s->proc_fd, nm.s, mode & 07777, 0);
}

static int64_t entry_timeout_fill(struct fuse_share *s, struct fuse_entry_out *e, int64_t nodeid,
				  const struct stat *st)
{
	double t = cache_timeout(s);

	memset(e, 0, sizeof(*e));
	e->nodeid = (uint64_t)nodeid;
	e->generation = 0;
	e->entry_valid = (uint64_t)t;
	e->attr_valid = (uint64_t)t;
	fill_attr(&e->attr, st);
	return nodeid;
}

/* LOOKUP of name under parent: one new lookup reference. Fills e. Returns 0 or -errno. */
static int do_lookup(struct fuse_share *s, struct fuse_node *parent, const char *name,
		     struct fuse_entry_out *e)
{
	struct stat st;
	int64_t id;
	int fd, r;

	if (parent->type != S_IFDIR)
		return -ENOTDIR;
	fd = fuse_open_beneath(parent->fd, name, O_PATH, 0);
	if (fd < 0)
		return fd;
	if ((r = stat_fd(fd, &st))) {
		close(fd);
		return r;
	}
	id = fuse_node_add(s, fd, &st);
	if (id < 0)
		return (int)id;
	entry_timeout_fill(s, e, id, &st);
	return 0;
}

/* ---- handlers: each returns bytes written, or -errno for an error reply ---- */

#define NEED(ptr, size)                                   \
	do {                                              \
		if (!((ptr) = fuse_arg_fixed(r, (size)))) \
			return -EINVAL;                   \
	} while (0)

static long op_lookup(struct req *r, struct fuse_node *n)
{
	struct fuse_entry_out e;
	const char *name;
	size_t off = 0;
	int err;

	if ((err = fuse_arg_name(r, &off, &name)))
		return err;
	if ((err = do_lookup(r->s, n, name, &e)))
		return err;
	long w = fuse_reply(r, &e, sizeof(e), NULL, 0);
	if (w < 0)
		fuse_node_forget(r->s, e.nodeid, 1);
	return w;
}

static long reply_attr(struct req *r, const struct stat *st)
{
	struct fuse_attr_out o = {0};

	o.attr_valid = (uint64_t)cache_timeout(r->s);
	fill_attr(&o.attr, st);
	return fuse_reply(r, &o, sizeof(o), NULL, 0);
}

static long op_getattr(struct req *r, struct fuse_node *n)
{
	const struct fuse_getattr_in *in;
	struct stat st;
	int err;

	NEED(in, sizeof(*in));
	if (in->getattr_flags & FUSE_GETATTR_FH) {
		struct fuse_fh *h = fuse_fh_get(r->s, in->fh);
		if (!h)
			return -EBADF;
		err = fstat(h->fd, &st) < 0 ? -errno : 0;
		fuse_fh_put(r->s, h);
	} else {
		err = stat_fd(n->fd, &st);
	}
	return err ? err : reply_attr(r, &st);
}

static long op_setattr(struct req *r, struct fuse_node *n)
{
	const struct fuse_setattr_in *in;
	struct fuse_share *s = r->s;
	struct fuse_fh *h = NULL;
	struct fdname nm = fd_name(n->fd);
	struct stat st;
	int err = 0;

	NEED(in, sizeof(*in));
	if (s->is_read_only)
		return -EROFS;
	if (in->valid & FATTR_FH) {
		if (!(h = fuse_fh_get(s, in->fh)))
			return -EBADF;
	}
	if (in->valid & FATTR_MODE) {
		if (h && fchmod(h->fd, in->mode & 07777) < 0)
			err = -errno;
		else if (!h && fchmodat(s->proc_fd, nm.s, in->mode & 07777, 0) < 0)
			err = -errno;
		if (err)
			goto out;
	}
	if (in->valid & (FATTR_UID | FATTR_GID)) {
		uid_t uid = (in->valid & FATTR_UID) ? in->uid : (uid_t)-1;
		gid_t gid = (in->valid & FATTR_GID) ? in->gid : (gid_t)-1;
		if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
			err = errno == EINVAL ? -EPERM : -errno;
			goto out;
		}
	}
	if (in->valid & FATTR_SIZE) {
		int fd = h ? h->fd : fuse_node_reopen(s, n, O_WRONLY);
		if (fd < 0) {
			err = fd;
			goto out;
		}
		if (ftruncate(fd, (off_t)in->size) < 0)
			err = -errno;
		if (!h)
			close(fd);
		if (err)
			goto out;
	}
	if (in->valid & (FATTR_ATIME | FATTR_MTIME)) {
		struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
		if (in->valid & FATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (in->valid & FATTR_ATIME)
			ts[0] = (struct timespec){(time_t)in->atime, in->atimensec % 1000000000};
		if (in->valid & FATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (in->valid & FATTR_MTIME)
			ts[1] = (struct timespec){(time_t)in->mtime, in->mtimensec % 1000000000};
		if (utimensat(s->proc_fd, nm.s, ts, 0) < 0) {
			err = -errno;
			goto out;
		}
	}
	err = stat_fd(n->fd, &st);
out:
	if (h)
		fuse_fh_put(s, h);
	return err ? err : reply_attr(r, &st);
}

static long op_readlink(struct req *r, struct fuse_node *n)
{
	char buf[PATH_MAX];
	ssize_t len;

	if (n->type != S_IFLNK)
		return -EINVAL;
	len = readlinkat(n->fd, "", buf, sizeof(buf));
	if (len < 0)
		return -errno;
	return fuse_reply(r, buf, (size_t)len, NULL, 0);
}

/* After creating name under parent: look it up and answer with its entry. */
static long reply_new_entry(struct req *r, struct fuse_node *parent, const char *name, mode_t fix)
{
	struct fuse_entry_out e;
	int err = do_lookup(r->s, parent, name, &e);

	if (err)
		return err;
	if (fix) {
		struct fuse_node *n = fuse_node_get(r->s, e.nodeid);
		if (n) {
			fix_mode(r->s, n->fd, fix);
			struct stat st;
			if (!stat_fd(n->fd, &st))
				fill_attr(&e.attr, &st);
			fuse_node_put(r->s, n);
		}
	}
	long w = fuse_reply(r, &e, sizeof(e), NULL, 0);
	if (w < 0)
		fuse_node_forget(r->s, e.nodeid, 1);
	return w;
}

/* The name after the fixed part of a request that changes directory n (at *off): parsed
 * and checked (fuse_arg_name), then the share must be writable and n a directory — in that
 * order, so the guest gets the same error for the same request whichever op it is. */
static int dir_change_name(struct req *r, const struct fuse_node *n, size_t *off, const char **name)
{
	int err = fuse_arg_name(r, off, name);

	if (err)
		return err;
	if (r->s->is_read_only)
		return -EROFS;
	if (n->type != S_IFDIR)
		return -ENOTDIR;
	return 0;
}

static long op_mknod(struct req *r, struct fuse_node *n)
{
	const struct fuse_mknod_in *in;
	const char *name;
	size_t off = sizeof(*in);
	int err;

	NEED(in, sizeof(*in));
	if ((err = dir_change_name(r, n, &off, &name)))
		return err;
	switch (in->mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		break;
	default:
		return -EINVAL;
	}
	if (mknodat(n->fd, name, in->mode, in->rdev) < 0)
		return -errno;
	return reply_new_entry(r, n, name, in->mode);
}

static long op_mkdir(struct req *r, struct fuse_node *n)
{
	const struct fuse_mkdir_in *in;
	const char *name;
	size_t off = sizeof(*in);
	int err;

	NEED(in, sizeof(*in));
	if ((err = dir_change_name(r, n, &off, &name)))
		return err;
	if (mkdirat(n->fd, name, in->mode & 07777) < 0)
		return -errno;
	return reply_new_entry(r, n, name, in->mode & 07777);
}

static long op_symlink(struct req *r, struct fuse_node *n)
{
	const char *name, *target;
	size_t off = 0;
	int err;

	if ((err = fuse_arg_name(r, &off, &name)))
		return err;
	target = (const char *)r->arg + off;
	size_t room = off < r->arglen ? r->arglen - off : 0;
	const char *nul = memchr(target, '\0', room);
	if (!nul || nul == target)
		return -EINVAL;
	if ((size_t)(nul - target) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (r->s->is_read_only)
		return -EROFS;
	if (n->type != S_IFDIR)
		return -ENOTDIR;
	if (symlinkat(target, n->fd, name) < 0)
		return -errno;
	return reply_new_entry(r, n, name, 0);
}

static long op_unlink(struct req *r, struct fuse_node *n, int flags)
{
	const char *name;
	size_t off = 0;
	int err;

	if ((err = dir_change_name(r, n, &off, &name)))
		return err;
	if (unlinkat(n->fd, name, flags) < 0)
		return -errno;
	return fuse_reply(r, NULL, 0, NULL, 0);
}

static long op_rename(struct req *r, struct fuse_node *n, bool is_v2)
{
	uint64_t newdir;
	uint32_t flags = 0;
	size_t off;
	const char *oldname, *newname;
	struct fuse_node *nd;
	int err;

	if (is_v2) {
		const struct fuse_rename2_in *in;
		NEED(in, sizeof(*in));
		newdir = in->newdir;
		flags = in->flags;
		off = sizeof(*in);
	} else {
		const struct fuse_rename_in *in;
		NEED(in, sizeof(*in));
		newdir = in->newdir;
		off = sizeof(*in);
	}
	if ((err = fuse_arg_name(r, &off, &oldname)) || (err = fuse_arg_name(r, &off, &newname)))
		return err;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE))
		return -EINVAL;
	if (r->s->is_read_only)
		return -EROFS;
	if (!(nd = fuse_node_get(r->s, newdir)))
		return -ENOENT;
	if (n->type != S_IFDIR || nd->type != S_IFDIR)
		err = -ENOTDIR;
	else if (renameat2(n->fd, oldname, nd->fd, newname, flags) < 0)
		err = -errno;
	fuse_node_put(r->s, nd);
	return err ? err : fuse_reply(r, NULL, 0, NULL, 0);
}

static long op_link(struct req *r, struct fuse_node *parent)
{
	const struct fuse_link_in *in;
	struct fuse_node *old;
	const char *name;
	size_t off = sizeof(*in);
	int err = 0;

	NEED(in, sizeof(*in));
	if ((err = dir_change_name(r, parent, &off, &name)))
		return err;
	if (!(old = fuse_node_get(r->s, in->oldnodeid)))
		return -ENOENT;
	if (old->type == S_IFDIR) {
		err = -EPERM;
	} else {
		/* Through /proc/self/fd: linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH. */
		struct fdname nm = fd_name(old->fd);
		if (linkat(r->s->proc_fd, nm.s, parent->fd, name, AT_SYMLINK_FOLLOW) < 0)
			err = -errno;
	}
	fuse_node_put(r->s, old);
	return err ? err : reply_new_entry(r, parent, name, 0);
}

static int open_flags(const struct fuse_share *s, uint32_t guest, int *flags)
{
	int acc = (int)guest & O_ACCMODE;

	if (acc == 3)
		return -EINVAL;
	if (s->is_read_only && (acc != O_RDONLY || (guest & O_TRUNC)))
		return -EROFS;
	*flags =
	    acc | ((int)guest & (O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_DIRECT | O_NONBLOCK));
	return 0;
}

static uint32_t open_out_flags(const struct fuse_share *s)
{
	if (s->cache == FUSE_CACHE_NONE)
		return FOPEN_DIRECT_IO;
	if (s->cache == FUSE_CACHE_ALWAYS)
		return FOPEN_KEEP_CACHE;
	return 0;
}

static long op_open(struct req *r, struct fuse_node *n, bool is_dir)
{
	const struct fuse_open_in *in;
	struct fuse_open_out o = {0};
	int flags, fd, err;
	int64_t fh;

	NEED(in, sizeof(*in));
	if (is_dir) {
		if (n->type != S_IFDIR)
			return -ENOTDIR;
		flags = O_RDONLY | O_DIRECTORY;
	} else {
		if (n->type == S_IFDIR)
			return -EISDIR;
		if ((err = open_flags(r->s, in->flags, &flags)))
			return err;
	}
	fd = fuse_node_reopen(r->s, n, flags);
	if (fd < 0)
		return fd;
	fh = fuse_fh_add(r->s, fd, is_dir, flags, r->h.nodeid);
	if (fh < 0)
		return (long)fh;
	o.fh = (uint64_t)fh;
	o.open_flags = is_dir ? 0 : open_out_flags(r->s);
	long w = fuse_reply(r, &o, sizeof(o), NULL, 0);
	if (w < 0)
		fuse_fh_release(r->s, (uint64_t)fh, is_dir);
	return w;
}

static long op_create(struct req *r, struct fuse_node *parent)
{
	const struct fuse_create_in *in;
	struct fuse_entry_out e;
	struct fuse_open_out o = {0};
	const char *name;
	size_t off = sizeof(*in);
	struct stat st;
	int flags, fd, pfd, err;
	int64_t id, fh;

	NEED(in, sizeof(*in));
	if ((err = dir_change_name(r, parent, &off, &name)))
		return err;
	if ((err = open_flags(r->s, in->flags, &flags)))
		return err;
	flags |= O_CREAT | ((int)in->flags & O_EXCL);
	fd = fuse_open_beneath(parent->fd, name, flags, in->mode & 07777);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EIO;
	}
	if (in->mode & 07777 & r->s->host_umask) {
		(void)fchmod(fd, in->mode & 07777);
		(void)fstat(fd, &st);
	}
	/* The node's O_PATH fd comes from the open file itself: the same inode, no race. */
	struct fdname nm = fd_name(fd);
	pfd = openat(r->s->proc_fd, nm.s, O_PATH | O_CLOEXEC);
	if (pfd < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	id = fuse_node_add(r->s, pfd, &st);
	if (id < 0) {
		close(fd);
		return (long)id;
	}
	fh = fuse_fh_add(r->s, fd, false, flags, (uint64_t)id);
	if (fh < 0) {
		fuse_node_forget(r->s, (uint64_t)id, 1);
		return (long)fh;
	}
	entry_timeout_fill(r->s, &e, id, &st);
	o.fh = (uint64_t)fh;
	o.open_flags = open_out_flags(r->s);
	long w = fuse_reply(r, &e, sizeof(e), &o, sizeof(o));
	if (w < 0) {
		fuse_fh_release(r->s, (uint64_t)fh, false);
		fuse_node_forget(r->s, (uint64_t)id, 1);
	}
	return w;
}

static long op_read(struct req *r)
{
	const struct fuse_read_in *in;
	struct fuse_out_header oh;
	struct iovec v[FUSE_SERVER_MAX_IOV];
	struct fuse_fh *h;
	ssize_t n;
	int cnt;

	NEED(in, sizeof(*in));
	size_t size = in->size;
	if (size > FUSE_SERVER_MAX_WRITE)
		size = FUSE_SERVER_MAX_WRITE;
	if (size > r->out_cap - sizeof(oh))
		size = r->out_cap - sizeof(oh);
	if (in->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	cnt = fuse_iov_slice(r->out, r->nout, sizeof(oh), size, v, FUSE_SERVER_MAX_IOV);
	if (cnt < 0)
		return -EINVAL;
	if (!(h = fuse_fh_get(r->s, in->fh)))
		return -EBADF;
	if (h->is_dir) {
		fuse_fh_put(r->s, h);
		return -EISDIR;
	}
	do
		n = cnt ? preadv(h->fd, v, cnt, (off_t)in->offset) : 0;
	while (n < 0 && errno == EINTR);
	fuse_fh_put(r->s, h);
	if (n < 0)
		return -errno;
	oh.len = (uint32_t)(sizeof(oh) + (size_t)n);
	oh.error = 0;
	oh.unique = r->h.unique;
	fuse_iov_copy_to(r->out, r->nout, 0, &oh, sizeof(oh));
	return (long)oh.len;
}

static long op_write(struct req *r)
{
	const struct fuse_write_in *in;
	struct fuse_write_out o = {0};
	struct iovec v[FUSE_SERVER_MAX_IOV];
	struct fuse_fh *h;
	ssize_t n;
	int cnt;

	NEED(in, sizeof(*in));
	if (r->s->is_read_only)
		return -EROFS;
	if (in->size > FUSE_SERVER_MAX_WRITE || in->offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	/* The data follows the header and write_in in the readable buffers; h.len counts it. */
	size_t data_off = sizeof(struct fuse_in_header) + sizeof(*in);
	if ((size_t)r->h.len - data_off < in->size)
		return -EINVAL;
	cnt = fuse_iov_slice(r->in, r->nin, data_off, in->size, v, FUSE_SERVER_MAX_IOV);
	if (cnt < 0)
		return -EINVAL;
	if (!(h = fuse_fh_get(r->s, in->fh)))
		return -EBADF;
	if (h->is_dir) {
		fuse_fh_put(r->s, h);
		return -EISDIR;
	}
	do
		n = cnt ? pwritev(h->fd, v, cnt, (off_t)in->offset) : 0;
	while (n < 0 && errno == EINTR);
	fuse_fh_put(r->s, h);
	if (n < 0)
		return -errno;
	o.size = (uint32_t)n;
	return fuse_reply(r, &o, sizeof(o), NULL, 0);
}

static long op_statfs(struct req *r, struct fuse_node *n)
{
	struct fuse_statfs_out o = {0};
	struct statfs st;

	if (fstatfs(n->fd, &st) < 0)
		return -errno;
	o.st.blocks = st.f_blocks;
	o.st.bfree = st.f_bfree;
	o.st.bavail = st.f_bavail;
	o.st.files = st.f_files;
	o.st.ffree = st.f_ffree;
	o.st.bsize = (uint32_t)st.f_bsize;
	o.st.namelen = (uint32_t)st.f_namelen;
	o.st.frsize = (uint32_t)st.f_frsize;
	return fuse_reply(r, &o, sizeof(o), NULL, 0);
}

static long op_release(struct req *r, bool is_dir)
{
	const struct fuse_release_in *in;
	int err;

	NEED(in, sizeof(*in));
	if ((err = fuse_fh_release(r->s, in->fh, is_dir)))
		return err;
	return fuse_reply(r, NULL, 0, NULL, 0);
}

static long op_fsync(struct req *r, bool is_dir)
{
	const struct fuse_fsync_in *in;
	struct fuse_fh *h;
	int err = 0;

	NEED(in, sizeof(*in));
	if (!(h = fuse_fh_get(r->s, in->fh)))
		return -EBADF;
	if (h->is_dir != is_dir)
		err = -EBADF;
	else if ((in->fsync_flags & 1 ? fdatasync(h->fd) : fsync(h->fd)) < 0)
		err = -errno;
	fuse_fh_put(r->s, h);
	return err ? err : fuse_reply(r, NULL, 0, NULL, 0);
}

static long op_flush(struct req *r)
{
	const struct fuse_flush_in *in;
	struct fuse_fh *h;

	NEED(in, sizeof(*in));
	if (!(h = fuse_fh_get(r->s, in->fh)))
		return -EBADF;
	fuse_fh_put(r->s, h);
	return fuse_reply(r, NULL, 0, NULL, 0);
}

/* READDIR / READDIRPLUS: entries from the host offset in->offset (a d_off cookie). */
static long op_readdir(struct req *r, struct fuse_node *dir, bool is_plus)
{
	const struct fuse_read_in *in;
	struct fuse_fh *h;
	uint8_t *out = NULL, *dents = NULL;
	size_t cap, used = 0;
	long err = 0;

	NEED(in, sizeof(*in));
	cap = in->size;
	if (cap > FUSE_MAX_REPLY)
		cap = FUSE_MAX_REPLY;
	if (cap > r->out_cap - sizeof(struct fuse_out_header))
		cap = r->out_cap - sizeof(struct fuse_out_header);
	if (!(h = fuse_fh_get(r->s, in->fh)))
		return -EBADF;
	if (!h->is_dir) {
		fuse_fh_put(r->s, h);
		return -ENOTDIR;
	}
	out = malloc(cap + 1);
	dents = malloc(cap + 512);
	if (!out || !dents) {
		err = -ENOMEM;
		goto done;
	}
	pthread_mutex_lock(&h->dir_lock);
	if (lseek(h->fd, (off_t)in->offset, SEEK_SET) < 0) {
		err = -errno;
		goto unlock;
	}
	for (;;) {
		long nd = syscall(SYS_getdents64, h->fd, dents, cap + 512);
		if (nd < 0) {
			err = -errno;
			break;
		}
		if (nd == 0)
			break;
		bool is_full = false;
		for (long pos = 0; pos < nd;) {
			struct dirent64 *d = (struct dirent64 *)(dents + pos);
			size_t namelen = strlen(d->d_name);
			size_t base = is_plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
			size_t rec = FUSE_DIRENT_ALIGN(base + namelen);
			pos += d->d_reclen;
			if (used + rec > cap) {
				is_full = true;
				break;
			}
			struct fuse_dirent *fd;
			if (is_plus) {
				struct fuse_direntplus *p = (struct fuse_direntplus *)(out + used);
				memset(p, 0, rec);
				bool is_dot = !strcmp(d->d_name, ".") || !strcmp(d->d_name, "..");
				if (!is_dot && do_lookup(r->s, dir, d->d_name, &p->entry_out))
					memset(&p->entry_out, 0, sizeof(p->entry_out));
				fd = &p->dirent;
			} else {
				fd = (struct fuse_dirent *)(out + used);
				memset(fd, 0, rec);
			}
			fd->ino = d->d_ino;
			fd->off = (uint64_t)d->d_off;
			fd->namelen = (uint32_t)namelen;
			fd->type = d->d_type;
			memcpy(fd->name, d->d_name, namelen);
			used += rec;
		}
		if (is_full || used == 0 || cap - used < 512)
			break;
	}
unlock:
	pthread_mutex_unlock(&h->dir_lock);
done:
	fuse_fh_put(r->s, h);
	if (!err)
		err = fuse_reply(r, out, used, NULL, 0);
	free(out);
	free(dents);
	return err;
}

static long op_access(struct req *r, struct fuse_node *n)
{
	const struct fuse_access_in *in;
	struct fdname nm = fd_name(n->fd);

	NEED(in, sizeof(*in));
	if ((in->mask & W_OK) && r->s->is_read_only)
		return -EROFS;
	if (n->type == S_IFLNK)
		return fuse_reply(r, NULL, 0, NULL, 0);
	if (faccessat(r->s->proc_fd, nm.s, (int)(in->mask & 7), 0) < 0)
		return -errno;
	return fuse_reply(r, NULL, 0, NULL, 0);
}

static long op_fallocate(struct req *r)
{
	const struct fuse_fallocate_in *in;
	struct fuse_fh *h;
	int err = 0;

	NEED(in, sizeof(*in));
	if (r->s->is_read_only)
		return -EROFS;
	if (in->offset > (uint64_t)INT64_MAX || in->length > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (!(h = fuse_fh_get(r->s, in->fh)))
		return -EBADF;
	if (fallocate(h->fd, (int)in->mode, (off_t)in->offset, (off_t)in->length) < 0)
		err = -errno;
	fuse_fh_put(r->s, h);
	return err ? err : fuse_reply(r, NULL, 0, NULL, 0);
}

static long op_lseek(struct req *r)
{
	const struct fuse_lseek_in *in;
	struct fuse_lseek_out o = {0};
	struct fuse_fh *h;
	off_t off;
	int err = 0;

	NEED(in, sizeof(*in));
	if (in->whence != SEEK_SET && in->whence != SEEK_CUR && in->whence != SEEK_END &&
	    in->whence != SEEK_DATA && in->whence != SEEK_HOLE)
		return -EINVAL;
	if (!(h = fuse_fh_get(r->s, in->fh)))
		return -EBADF;
	off = lseek(h->fd, (off_t)in->offset, (int)in->whence);
	if (off < 0)
		err = -errno;
	fuse_fh_put(r->s, h);
	o.offset = (uint64_t)off;
	return err ? err : fuse_reply(r, &o, sizeof(o), NULL, 0);
}

static long op_copy_file_range(struct req *r)
{
	const struct fuse_copy_file_range_in *in;
	struct fuse_write_out o = {0};
	struct fuse_fh *hi, *ho;
	ssize_t n;
	int err = 0;

	NEED(in, sizeof(*in));
	if (r->s->is_read_only)
		return -EROFS;
	if (in->flags || in->off_in > (uint64_t)INT64_MAX || in->off_out > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (!(hi = fuse_fh_get(r->s, in->fh_in)))
		return -EBADF;
	if (!(ho = fuse_fh_get(r->s, in->fh_out))) {
		fuse_fh_put(r->s, hi);
		return -EBADF;
	}
	loff_t oi = (loff_t)in->off_in, oo = (loff_t)in->off_out;
	size_t len = in->len > FUSE_MAX_COPY ? FUSE_MAX_COPY : in->len;
	n = copy_file_range(hi->fd, &oi, ho->fd, &oo, len, 0);
	if (n < 0)
		err = -errno;
	fuse_fh_put(r->s, ho);
	fuse_fh_put(r->s, hi);
	if (err)
		return err;
	/* fuse_write_out.size is 32 bits; FUSE_MAX_COPY keeps n below that. */
	o.size = (uint32_t)n;
	return fuse_reply(r, &o, sizeof(o), NULL, 0);
}

/* ---- extended attributes, through /proc/self/fd/N (O_PATH fds take no f*xattr) ---- */

struct procpath {
	char s[40];
};

static struct procpath proc_path(int fd)
{
	struct procpath p;

	snprintf(p.s, sizeof(p.s), "/proc/self/fd/%d", fd);
	return p;
}

static long op_getxattr(struct req *r, struct fuse_node *n, bool is_list)
{
	const struct fuse_getxattr_in *in;
	struct procpath pp = proc_path(n->fd);
	const char *name = NULL;
	size_t off = sizeof(*in);
	ssize_t len;
	void *buf = NULL;

	NEED(in, sizeof(*in));
	if (!r->s->has_xattr)
		return -ENOSYS;
	if (!is_list) {
		/* Attribute names may contain '/' and '.': check only termination and length. */
		const char *p = (const char *)r->arg + off;
		const char *nul = memchr(p, '\0', r->arglen - off);
		if (!nul || nul == p)
			return -EINVAL;
		if (nul - p > XATTR_NAME_MAX)
			return -ERANGE;
		name = p;
	}
	if (n->type != S_IFREG && n->type != S_IFDIR)
		return is_list ? fuse_reply(r, &(struct fuse_getxattr_out){0},
					    sizeof(struct fuse_getxattr_out), NULL, 0)
			       : -ENODATA;
	size_t size = in->size > XATTR_SIZE_MAX ? XATTR_SIZE_MAX : in->size;
	if (size && !(buf = malloc(size)))
		return -ENOMEM;
	len = is_list ? listxattr(pp.s, buf, size) : getxattr(pp.s, name, buf, size);
	long w;
	if (len < 0) {
		w = -errno;
	} else if (in->size == 0) {
		struct fuse_getxattr_out o = {.size = (uint32_t)len};
		w = fuse_reply(r, &o, sizeof(o), NULL, 0);
	} else {
		w = fuse_reply(r, buf, (size_t)len, NULL, 0);
	}
	free(buf);
	return w;
}

static long op_setxattr(struct req *r, struct fuse_node *n)
{
	const struct fuse_setxattr_in *in;
	struct procpath pp = proc_path(n->fd);
	size_t off = FUSE_COMPAT_SETXATTR_IN_SIZE;

	NEED(in, FUSE_COMPAT_SETXATTR_IN_SIZE);
	if (!r->s->has_xattr)
		return -ENOSYS;
	const char *p = (const char *)r->arg + off;
	const char *nul = memchr(p, '\0', r->arglen - off);
	if (!nul || nul == p)
		return -EINVAL;
	if (nul - p > XATTR_NAME_MAX)
		return -ERANGE;
	off += (size_t)(nul - p) + 1;
	if (in->size > XATTR_SIZE_MAX || r->arglen - off < in->size)
		return -EINVAL;
	if (r->s->is_read_only)
		return -EROFS;
	if (n->type != S_IFREG && n->type != S_IFDIR)
		return -EPERM;
	if (setxattr(pp.s, p, r->arg + off, in->size, (int)in->flags) < 0)
		return -errno;
	return fuse_reply(r, NULL, 0, NULL, 0);
}

static long op_removexattr(struct req *r, struct fuse_node *n)
{
	struct procpath pp = proc_path(n->fd);
	const char *p = (const char *)r->arg;
	const char *nul = memchr(p, '\0', r->arglen);

	if (!r->s->has_xattr)
		return -ENOSYS;
	if (!nul || nul == p)
		return -EINVAL;
	if (nul - p > XATTR_NAME_MAX)
		return -ERANGE;
	if (r->s->is_read_only)
		return -EROFS;
	if (n->type != S_IFREG && n->type != S_IFDIR)
		return -EPERM;
	if (removexattr(pp.s, p) < 0)
		return -errno;
	return fuse_reply(r, NULL, 0, NULL, 0);
}

/* ---- dispatch ---- */

/* Opcodes that name a node in h.nodeid (the handler gets it with a reference held). */
bool fuse_ops_takes_node(uint32_t op)
{
	switch (op) {
	case FUSE_LOOKUP:
	case FUSE_GETATTR:
	case FUSE_SETATTR:
	case FUSE_READLINK:
	case FUSE_SYMLINK:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
	case FUSE_LINK:
	case FUSE_OPEN:
	case FUSE_OPENDIR:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
	case FUSE_STATFS:
	case FUSE_ACCESS:
	case FUSE_CREATE:
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
	case FUSE_SETXATTR:
	case FUSE_REMOVEXATTR:
		return true;
	default:
		return false;
	}
}

long fuse_ops_dispatch(struct req *r, struct fuse_node *n)
{
	switch (r->h.opcode) {
	case FUSE_LOOKUP:
		return op_lookup(r, n);
	case FUSE_GETATTR:
		return op_getattr(r, n);
	case FUSE_SETATTR:
		return op_setattr(r, n);
	case FUSE_READLINK:
		return op_readlink(r, n);
	case FUSE_SYMLINK:
		return op_symlink(r, n);
	case FUSE_MKNOD:
		return op_mknod(r, n);
	case FUSE_MKDIR:
		return op_mkdir(r, n);
	case FUSE_UNLINK:
		return op_unlink(r, n, 0);
	case FUSE_RMDIR:
		return op_unlink(r, n, AT_REMOVEDIR);
	case FUSE_RENAME:
		return op_rename(r, n, false);
	case FUSE_RENAME2:
		return op_rename(r, n, true);
	case FUSE_LINK:
		return op_link(r, n);
	case FUSE_OPEN:
		return op_open(r, n, false);
	case FUSE_OPENDIR:
		return op_open(r, n, true);
	case FUSE_READ:
		return op_read(r);
	case FUSE_WRITE:
		return op_write(r);
	case FUSE_STATFS:
		return op_statfs(r, n);
	case FUSE_RELEASE:
		return op_release(r, false);
	case FUSE_RELEASEDIR:
		return op_release(r, true);
	case FUSE_FSYNC:
		return op_fsync(r, false);
	case FUSE_FSYNCDIR:
		return op_fsync(r, true);
	case FUSE_FLUSH:
		return op_flush(r);
	case FUSE_READDIR:
		return op_readdir(r, n, false);
	case FUSE_READDIRPLUS:
		return op_readdir(r, n, true);
	case FUSE_ACCESS:
		return op_access(r, n);
	case FUSE_CREATE:
		return op_create(r, n);
	case FUSE_FALLOCATE:
		return op_fallocate(r);
	case FUSE_LSEEK:
		return op_lseek(r);
	case FUSE_COPY_FILE_RANGE:
		return op_copy_file_range(r);
	case FUSE_GETXATTR:
		return op_getxattr(r, n, false);
	case FUSE_LISTXATTR:
		return op_getxattr(r, n, true);
	case FUSE_SETXATTR:
		return op_setxattr(r, n);
	case FUSE_REMOVEXATTR:
		return op_removexattr(r, n);
	case FUSE_GETLK:
	case FUSE_SETLK:
	case FUSE_SETLKW:
		return -ENOSYS; /* not negotiated: the guest keeps locks local */
	default:
		return -ENOSYS;
	}
}

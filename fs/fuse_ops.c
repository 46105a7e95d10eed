/* fs/fuse_ops.c — the FUSE server's passthrough handlers: one host operation per FUSE
 * opcode on the share's O_PATH node fds (see fs/fuse_server.h for the confinement rules).
 * fs/fuse_server.c parses and copies the request and calls fuse_ops_dispatch(); each
 * handler returns the bytes of its reply or -errno for an error reply. This file has the
 * helpers the handlers share, the node handlers (LOOKUP, GETATTR, SETATTR, READLINK,
 * STATFS, ACCESS) and the dispatch; directory changes and READDIR are in fuse_ops_dir.c,
 * open files in fuse_ops_file.c, extended attributes in fuse_ops_xattr.c.
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

void fuse_fill_attr(struct fuse_attr *a, const struct stat *st)
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

int fuse_stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

struct fuse_fdname fuse_fd_name(int fd)
{
	struct fuse_fdname n;

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
	struct fuse_fdname nm = fuse_fd_name(n->fd);
	int fd;

	if (n->type == S_IFLNK)
		return -ELOOP;
	if (n->type != S_IFREG && n->type != S_IFDIR)
		return -EACCES;
	fd = openat(s->proc_fd, nm.s, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The host's umask bits also strip what the guest asked for; put them back. */
void fuse_fix_mode(struct fuse_share *s, int fd, mode_t mode)
{
	struct fuse_fdname nm = fuse_fd_name(fd);

	if (mode & 07777 & s->host_umask)
		(void)fchmodat(s->proc_fd, nm.s, mode & 07777, 0);
}

int64_t fuse_entry_fill(struct fuse_share *s, struct fuse_entry_out *e, int64_t nodeid,
			const struct stat *st)
{
	double t = cache_timeout(s);

	memset(e, 0, sizeof(*e));
	e->nodeid = (uint64_t)nodeid;
	e->generation = 0;
	e->entry_valid = (uint64_t)t;
	e->attr_valid = (uint64_t)t;
	fuse_fill_attr(&e->attr, st);
	return nodeid;
}

/* LOOKUP of name under parent: one new lookup reference. Fills e. Returns 0 or -errno. */
int fuse_do_lookup(struct fuse_share *s, struct fuse_node *parent, const char *name,
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
	if ((r = fuse_stat_fd(fd, &st))) {
		close(fd);
		return r;
	}
	id = fuse_node_add(s, fd, &st);
	if (id < 0)
		return (int)id;
	fuse_entry_fill(s, e, id, &st);
	return 0;
}

/* ---- handlers: each returns bytes written, or -errno for an error reply ---- */

static long op_lookup(struct req *r, struct fuse_node *n)
{
	struct fuse_entry_out e;
	const char *name;
	size_t off = 0;
	int err;

	if ((err = fuse_arg_name(r, &off, &name)))
		return err;
	if ((err = fuse_do_lookup(r->s, n, name, &e)))
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
	fuse_fill_attr(&o.attr, st);
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
		err = fuse_stat_fd(n->fd, &st);
	}
	return err ? err : reply_attr(r, &st);
}

static long op_setattr(struct req *r, struct fuse_node *n)
{
	const struct fuse_setattr_in *in;
	struct fuse_share *s = r->s;
	struct fuse_fh *h = NULL;
	struct fuse_fdname nm = fuse_fd_name(n->fd);
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
	err = fuse_stat_fd(n->fd, &st);
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

static long op_access(struct req *r, struct fuse_node *n)
{
	const struct fuse_access_in *in;
	struct fuse_fdname nm = fuse_fd_name(n->fd);

	NEED(in, sizeof(*in));
	if ((in->mask & W_OK) && r->s->is_read_only)
		return -EROFS;
	if (n->type == S_IFLNK)
		return fuse_reply(r, NULL, 0, NULL, 0);
	if (faccessat(r->s->proc_fd, nm.s, (int)(in->mask & 7), 0) < 0)
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
		return fuse_op_symlink(r, n);
	case FUSE_MKNOD:
		return fuse_op_mknod(r, n);
	case FUSE_MKDIR:
		return fuse_op_mkdir(r, n);
	case FUSE_UNLINK:
		return fuse_op_unlink(r, n, 0);
	case FUSE_RMDIR:
		return fuse_op_unlink(r, n, AT_REMOVEDIR);
	case FUSE_RENAME:
		return fuse_op_rename(r, n, false);
	case FUSE_RENAME2:
		return fuse_op_rename(r, n, true);
	case FUSE_LINK:
		return fuse_op_link(r, n);
	case FUSE_OPEN:
		return fuse_op_open(r, n, false);
	case FUSE_OPENDIR:
		return fuse_op_open(r, n, true);
	case FUSE_READ:
		return fuse_op_read(r);
	case FUSE_WRITE:
		return fuse_op_write(r);
	case FUSE_STATFS:
		return op_statfs(r, n);
	case FUSE_RELEASE:
		return fuse_op_release(r, false);
	case FUSE_RELEASEDIR:
		return fuse_op_release(r, true);
	case FUSE_FSYNC:
		return fuse_op_fsync(r, false);
	case FUSE_FSYNCDIR:
		return fuse_op_fsync(r, true);
	case FUSE_FLUSH:
		return fuse_op_flush(r);
	case FUSE_READDIR:
		return fuse_op_readdir(r, n, false);
	case FUSE_READDIRPLUS:
		return fuse_op_readdir(r, n, true);
	case FUSE_ACCESS:
		return op_access(r, n);
	case FUSE_CREATE:
		return fuse_op_create(r, n);
	case FUSE_FALLOCATE:
		return fuse_op_fallocate(r);
	case FUSE_LSEEK:
		return fuse_op_lseek(r);
	case FUSE_COPY_FILE_RANGE:
		return fuse_op_copy_file_range(r);
	case FUSE_GETXATTR:
		return fuse_op_getxattr(r, n, false);
	case FUSE_LISTXATTR:
		return fuse_op_getxattr(r, n, true);
	case FUSE_SETXATTR:
		return fuse_op_setxattr(r, n);
	case FUSE_REMOVEXATTR:
		return fuse_op_removexattr(r, n);
	case FUSE_GETLK:
	case FUSE_SETLK:
	case FUSE_SETLKW:
		return -ENOSYS; /* not negotiated: the guest keeps locks local */
	default:
		return -ENOSYS;
	}
}

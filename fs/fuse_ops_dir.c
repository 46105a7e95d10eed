/* fs/fuse_ops_dir.c — the FUSE handlers that change directories (MKNOD, MKDIR, SYMLINK,
 * UNLINK, RMDIR, RENAME, RENAME2, LINK) and READDIR/READDIRPLUS; split from fs/fuse_ops.c
 * (which dispatches to them), same rules.
 *
 * Trusts: the request copy's framing (fuse_server.c checked its length); nothing in its
 * arguments (each handler checks sizes, names, flags, ids).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs/fuse_internal.h"

/* After creating name under parent: look it up and answer with its entry. */
static long reply_new_entry(struct req *r, struct fuse_node *parent, const char *name, mode_t fix)
{
	struct fuse_entry_out e;
	int err = fuse_do_lookup(r->s, parent, name, &e);

	if (err)
		return err;
	if (fix) {
		struct fuse_node *n = fuse_node_get(r->s, e.nodeid);
		if (n) {
			fuse_fix_mode(r->s, n->fd, fix);
			struct stat st;
			if (!fuse_stat_fd(n->fd, &st))
				fuse_fill_attr(&e.attr, &st);
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
int fuse_dir_change_name(struct req *r, const struct fuse_node *n, size_t *off, const char **name)
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

long fuse_op_mknod(struct req *r, struct fuse_node *n)
{
	const struct fuse_mknod_in *in;
	const char *name;
	size_t off = sizeof(*in);
	int err;

	NEED(in, sizeof(*in));
	if ((err = fuse_dir_change_name(r, n, &off, &name)))
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

long fuse_op_mkdir(struct req *r, struct fuse_node *n)
{
	const struct fuse_mkdir_in *in;
	const char *name;
	size_t off = sizeof(*in);
	int err;

	NEED(in, sizeof(*in));
	if ((err = fuse_dir_change_name(r, n, &off, &name)))
		return err;
	if (mkdirat(n->fd, name, in->mode & 07777) < 0)
		return -errno;
	return reply_new_entry(r, n, name, in->mode & 07777);
}

long fuse_op_symlink(struct req *r, struct fuse_node *n)
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

long fuse_op_unlink(struct req *r, struct fuse_node *n, int flags)
{
	const char *name;
	size_t off = 0;
	int err;

	if ((err = fuse_dir_change_name(r, n, &off, &name)))
		return err;
	if (unlinkat(n->fd, name, flags) < 0)
		return -errno;
	return fuse_reply(r, NULL, 0, NULL, 0);
}

long fuse_op_rename(struct req *r, struct fuse_node *n, bool is_v2)
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

long fuse_op_link(struct req *r, struct fuse_node *parent)
{
	const struct fuse_link_in *in;
	struct fuse_node *old;
	const char *name;
	size_t off = sizeof(*in);
	int err = 0;

	NEED(in, sizeof(*in));
	if ((err = fuse_dir_change_name(r, parent, &off, &name)))
		return err;
	if (!(old = fuse_node_get(r->s, in->oldnodeid)))
		return -ENOENT;
	if (old->type == S_IFDIR) {
		err = -EPERM;
	} else {
		/* Through /proc/self/fd: linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH. */
		struct fuse_fdname nm = fuse_fd_name(old->fd);
		if (linkat(r->s->proc_fd, nm.s, parent->fd, name, AT_SYMLINK_FOLLOW) < 0)
			err = -errno;
	}
	fuse_node_put(r->s, old);
	return err ? err : reply_new_entry(r, parent, name, 0);
}

/* READDIR / READDIRPLUS: entries from the host offset in->offset (a d_off cookie). */
long fuse_op_readdir(struct req *r, struct fuse_node *dir, bool is_plus)
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
				if (!is_dot && fuse_do_lookup(r->s, dir, d->d_name, &p->entry_out))
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

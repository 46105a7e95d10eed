/* fs/fuse_ops_file.c — the FUSE handlers of open files: OPEN/OPENDIR, CREATE, READ, WRITE,
 * RELEASE/RELEASEDIR, FSYNC/FSYNCDIR, FLUSH, FALLOCATE, LSEEK, COPY_FILE_RANGE; split from
 * fs/fuse_ops.c (which dispatches to them), same rules. READ and WRITE move the data
 * between the file and the guest's buffers with preadv/pwritev, no bounce copy.
 *
 * Trusts: the request copy's framing (fuse_server.c checked its length); nothing in its
 * arguments (each handler checks sizes, names, flags, ids).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fuse_internal.h"

#define FUSE_MAX_COPY (64ULL << 20) /* COPY_FILE_RANGE per request */

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

long fuse_op_open(struct req *r, struct fuse_node *n, bool is_dir)
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

long fuse_op_create(struct req *r, struct fuse_node *parent)
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
	if ((err = fuse_dir_change_name(r, parent, &off, &name)))
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
	struct fuse_fdname nm = fuse_fd_name(fd);
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
	fuse_entry_fill(r->s, &e, id, &st);
	o.fh = (uint64_t)fh;
	o.open_flags = open_out_flags(r->s);
	long w = fuse_reply(r, &e, sizeof(e), &o, sizeof(o));
	if (w < 0) {
		fuse_fh_release(r->s, (uint64_t)fh, false);
		fuse_node_forget(r->s, (uint64_t)id, 1);
	}
	return w;
}

long fuse_op_read(struct req *r)
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

long fuse_op_write(struct req *r)
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

long fuse_op_release(struct req *r, bool is_dir)
{
	const struct fuse_release_in *in;
	int err;

	NEED(in, sizeof(*in));
	if ((err = fuse_fh_release(r->s, in->fh, is_dir)))
		return err;
	return fuse_reply(r, NULL, 0, NULL, 0);
}

long fuse_op_fsync(struct req *r, bool is_dir)
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

long fuse_op_flush(struct req *r)
{
	const struct fuse_flush_in *in;
	struct fuse_fh *h;

	NEED(in, sizeof(*in));
	if (!(h = fuse_fh_get(r->s, in->fh)))
		return -EBADF;
	fuse_fh_put(r->s, h);
	return fuse_reply(r, NULL, 0, NULL, 0);
}

long fuse_op_fallocate(struct req *r)
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

long fuse_op_lseek(struct req *r)
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

long fuse_op_copy_file_range(struct req *r)
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

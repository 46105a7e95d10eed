/* fs/fuse_ops_xattr.c — the FUSE handlers of extended attributes (GETXATTR, LISTXATTR,
 * SETXATTR, REMOVEXATTR; ENOSYS unless the share has xattr=on); split from fs/fuse_ops.c
 * (which dispatches to them), same rules.
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
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fuse_internal.h"

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

long fuse_op_getxattr(struct req *r, struct fuse_node *n, bool is_list)
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

long fuse_op_setxattr(struct req *r, struct fuse_node *n)
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

long fuse_op_removexattr(struct req *r, struct fuse_node *n)
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

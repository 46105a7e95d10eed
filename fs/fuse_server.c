/* fs/fuse_server.c — FUSE request parsing, INIT/FORGET, the share's lifetime (see
 * fuse_server.h for the confinement rules and limits; the handlers are fs/fuse_ops.c).
 *
 * A request is copied (header and arguments, never WRITE data) into a host buffer before
 * anything looks at it, so the guest cannot change it under the parser; the header's len
 * must lie within the readable bytes of the chain. READ and WRITE data move between the
 * file and the guest's own buffers with preadv/pwritev on sub-ranges of the checked iovecs.
 *
 * Trusts: nothing in the request; the iovecs (the transport checked them).
 */
#include "fs/fuse_server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fuse_internal.h"
#include "util/log.h"

/* The protocol this server speaks: 7.31 (virtio-fs's first) .. FUSE_KERNEL_MINOR_VERSION. */
#define FUSE_MIN_MINOR 31
/* Arguments of one request (all but WRITE data) are at most this big: SETXATTR with a
 * 64 KiB value and a name, SYMLINK with PATH_MAX of text. */
#define FUSE_MAX_ARGS (XATTR_SIZE_MAX + NAME_MAX + 64)
/* Most bytes one READDIR/GETXATTR/LISTXATTR reply carries (bounced through the heap). */
#define ARGBUF_STACK 512

static size_t iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

static size_t iov_copy_from(const struct iovec *iov, int n, size_t off, void *dst, size_t len)
{
	size_t done = 0;

	for (int i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)dst + done, (const uint8_t *)iov[i].iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t fuse_iov_copy_to(const struct iovec *iov, int n, size_t off, const void *src, size_t len)
{
	size_t done = 0;

	for (int i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)src + done, k);
		done += k;
		off = 0;
	}
	return done;
}

/* dst[] = the bytes [off, off + len) of iov as iovecs. Returns the count, or -1 if the
 * range is not wholly there or needs more than max entries. */
int fuse_iov_slice(const struct iovec *iov, int n, size_t off, size_t len, struct iovec *dst,
		   int max)
{
	int k = 0;

	for (int i = 0; i < n && len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		if (k == max)
			return -1;
		size_t take = iov[i].iov_len - off;
		if (take > len)
			take = len;
		dst[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		dst[k].iov_len = take;
		k++;
		len -= take;
		off = 0;
	}
	return len ? -1 : k;
}

/* The reply: header + payload parts. Returns bytes written, or -ERANGE if it does not fit
 * (the caller then answers an error). */
long fuse_reply(struct req *r, const void *a, size_t alen, const void *b, size_t blen)
{
	struct fuse_out_header oh;
	size_t total = sizeof(oh) + alen + blen;

	if (total > r->out_cap)
		return -ERANGE;
	oh.len = (uint32_t)total;
	oh.error = 0;
	oh.unique = r->h.unique;
	fuse_iov_copy_to(r->out, r->nout, 0, &oh, sizeof(oh));
	if (alen)
		fuse_iov_copy_to(r->out, r->nout, sizeof(oh), a, alen);
	if (blen)
		fuse_iov_copy_to(r->out, r->nout, sizeof(oh) + alen, b, blen);
	return (long)total;
}

static long reply_err(struct req *r, int err)
{
	struct fuse_out_header oh = {.len = sizeof(oh), .error = -err, .unique = r->h.unique};

	if (r->out_cap < sizeof(oh))
		return 0;
	fuse_iov_copy_to(r->out, r->nout, 0, &oh, sizeof(oh));
	return sizeof(oh);
}

/* The fixed argument struct at the start of the arguments, or NULL if they are short. */
const void *fuse_arg_fixed(const struct req *r, size_t size)
{
	return r->arglen >= size ? r->arg : NULL;
}

/* A name at *off inside the arguments: NUL-terminated there, 1..NAME_MAX bytes, no '/',
 * not "." or "..". Advances *off past the NUL. Returns 0 or -EINVAL/-ENAMETOOLONG. */
int fuse_arg_name(const struct req *r, size_t *off, const char **name)
{
	const char *p = (const char *)r->arg + *off;
	size_t room = *off < r->arglen ? r->arglen - *off : 0;
	const char *nul = memchr(p, '\0', room);
	size_t len;

	if (!nul)
		return -EINVAL;
	len = (size_t)(nul - p);
	if (len == 0)
		return -EINVAL;
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(p, '/', len) || !strcmp(p, ".") || !strcmp(p, ".."))
		return -EINVAL;
	*name = p;
	*off += len + 1;
	return 0;
}

/* ---- handlers: each returns bytes written, or -errno for an error reply ---- */

static long op_init(struct req *r)
{
	const struct fuse_init_in *in;
	struct fuse_init_out o = {0};
	uint32_t want;

	if (r->arglen < 16)
		return -EINVAL;
	in = (const struct fuse_init_in *)r->arg;
	o.major = FUSE_KERNEL_VERSION;
	o.minor = FUSE_KERNEL_MINOR_VERSION;
	if (in->major > FUSE_KERNEL_VERSION)
		return fuse_reply(r, &o, 8, NULL, 0); /* the kernel retries with our major */
	if (in->major < FUSE_KERNEL_VERSION || in->minor < FUSE_MIN_MINOR)
		return -EPROTO;
	if (in->minor < o.minor)
		o.minor = in->minor;
	/* Offered where the server does what the flag promises; locks are not (the guest
	 * then keeps POSIX and flock locks local). */
	want = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS |
	       FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS |
	       FUSE_AUTO_INVAL_DATA;
	o.flags = in->flags & want;
	o.max_readahead = in->max_readahead;
	o.max_background = 64;
	o.congestion_threshold = 48;
	o.max_write = FUSE_SERVER_MAX_WRITE;
	o.time_gran = 1;
	o.max_pages = FUSE_SERVER_MAX_WRITE / 4096;
	r->s->minor = o.minor;
	__atomic_store_n(&r->s->is_initialized, true, __ATOMIC_RELEASE);
	return fuse_reply(r, &o, sizeof(o), NULL, 0);
}

static long op_forget(struct req *r)
{
	const struct fuse_forget_in *in;

	if (!(in = fuse_arg_fixed(r, sizeof(*in))))
		return 0;
	fuse_node_forget(r->s, r->h.nodeid, in->nlookup);
	return 0;
}

static long op_batch_forget(struct req *r)
{
	const struct fuse_batch_forget_in *in;
	const struct fuse_forget_one *one;

	if (!(in = fuse_arg_fixed(r, sizeof(*in))))
		return 0;
	one = (const struct fuse_forget_one *)(r->arg + sizeof(*in));
	size_t room = (r->arglen - sizeof(*in)) / sizeof(*one);
	for (size_t i = 0; i < in->count && i < room; i++)
		fuse_node_forget(r->s, one[i].nodeid, one[i].nlookup);
	return 0;
}

size_t fuse_handle(struct fuse_share *s, const struct iovec *in, int nin, const struct iovec *out,
		   int nout)
{
	uint64_t stackbuf[ARGBUF_STACK / 8];
	uint8_t *buf = (uint8_t *)stackbuf;
	struct req r = {.s = s, .in = in, .nin = nin, .out = out, .nout = nout};
	size_t in_total, copy;
	struct fuse_node *n = NULL;
	long w;

	__atomic_fetch_add(&s->nr_requests, 1, __ATOMIC_RELAXED);
	if (nin < 0 || nout < 0 || nin > FUSE_SERVER_MAX_IOV || nout > FUSE_SERVER_MAX_IOV)
		return 0;
	r.out_cap = iov_total(out, nout);
	in_total = iov_total(in, nin);
	if (in_total < sizeof(r.h)) {
		__atomic_fetch_add(&s->nr_errors, 1, __ATOMIC_RELAXED);
		return 0; /* no unique to answer to */
	}
	iov_copy_from(in, nin, 0, &r.h, sizeof(r.h));
	if (r.h.len < sizeof(r.h) || r.h.len > in_total) {
		w = -EINVAL;
		goto bad;
	}
	copy = r.h.len - sizeof(r.h);
	if (r.h.opcode == FUSE_WRITE && copy > sizeof(struct fuse_write_in))
		copy = sizeof(struct fuse_write_in);
	if (copy > FUSE_MAX_ARGS) {
		w = -E2BIG;
		goto bad;
	}
	/* One byte more than the arguments, zeroed, so no string scan can run off the end. */
	if (copy + 1 > sizeof(stackbuf) && !(buf = malloc(copy + 1))) {
		w = -ENOMEM;
		goto answer;
	}
	iov_copy_from(in, nin, sizeof(r.h), buf, copy);
	buf[copy] = 0;
	r.arg = buf;
	r.arglen = copy;

	if (r.h.opcode == FUSE_INIT) {
		w = op_init(&r);
		goto answer;
	}
	if (!__atomic_load_n(&s->is_initialized, __ATOMIC_ACQUIRE)) {
		w = -EIO;
		goto bad;
	}
	switch (r.h.opcode) {
	case FUSE_FORGET:
		w = op_forget(&r);
		goto done;
	case FUSE_BATCH_FORGET:
		w = op_batch_forget(&r);
		goto done;
	case FUSE_INTERRUPT:
		w = 0; /* requests run to completion; nothing to interrupt, no reply */
		goto done;
	case FUSE_DESTROY:
		/* Other queues may still run: only mark; the device's reset drops the tables. */
		__atomic_store_n(&s->is_initialized, false, __ATOMIC_RELEASE);
		w = fuse_reply(&r, NULL, 0, NULL, 0);
		goto answer;
	}
	if (fuse_ops_takes_node(r.h.opcode)) {
		if (!(n = fuse_node_get(s, r.h.nodeid))) {
			w = fuse_node_is_dead(s, r.h.nodeid) ? -ESTALE : -ENOENT;
			goto answer;
		}
	}
	w = fuse_ops_dispatch(&r, n);
	if (n)
		fuse_node_put(s, n);
	if (w == -EINVAL && r.h.opcode != FUSE_READLINK)
		__atomic_fetch_add(&s->nr_errors, 1, __ATOMIC_RELAXED);
	goto answer;
bad:
	__atomic_fetch_add(&s->nr_errors, 1, __ATOMIC_RELAXED);
answer:
	if (w < 0)
		w = reply_err(&r, (int)-w);
done:
	if (buf != (uint8_t *)stackbuf)
		free(buf);
	return (size_t)w;
}

/* ---- share lifetime ---- */

/* The process's umask, read without changing it (umask(2) is process-wide: setting and
 * restoring it would race with the embedder's other threads). */
static mode_t host_umask(void)
{
	char line[128];
	unsigned mask = 022;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 022;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &mask) == 1)
			break;
	fclose(f);
	return (mode_t)(mask & 0777);
}

struct fuse_share *fuse_share_create(const struct fuse_share_opts *opts, char *err, size_t errlen)
{
	struct fuse_share *s;
	struct stat st;
	struct rlimit rl;
	int e;

	if (!opts->path || !*opts->path) {
		snprintf(err, errlen, "virtio-fs: no share path");
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "virtio-fs: out of memory");
		return NULL;
	}
	s->root_fd = -1;
	s->proc_fd = -1;
	s->is_read_only = opts->is_read_only;
	s->has_xattr = opts->has_xattr;
	s->cache = opts->cache;
	s->max_nodes = opts->max_nodes ? opts->max_nodes : FUSE_DEFAULT_MAX_NODES;
	s->max_handles = opts->max_handles ? opts->max_handles : FUSE_DEFAULT_MAX_HANDLES;
	if (s->max_nodes > FUSE_DEFAULT_MAX_NODES)
		s->max_nodes = FUSE_DEFAULT_MAX_NODES;
	if (s->max_handles > FUSE_DEFAULT_MAX_HANDLES)
		s->max_handles = FUSE_DEFAULT_MAX_HANDLES;

	s->root_fd = open(opts->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", opts->path,
			 e == ENOENT	? "does not exist"
			 : e == ENOTDIR ? "is not a directory"
					: strerror(e));
		goto fail;
	}
	if (fstat(s->root_fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		e = ENOTDIR;
		snprintf(err, errlen, "%s: is not a directory", opts->path);
		goto fail;
	}
	s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->proc_fd < 0) {
		e = errno;
		snprintf(err, errlen, "virtio-fs: /proc/self/fd: %s (is /proc mounted?)",
			 strerror(e));
		goto fail;
	}
	if ((e = -fuse_table_init(s))) {
		snprintf(err, errlen, "virtio-fs: out of memory");
		goto fail;
	}
	/* The root: slot 0, generation 0 = FUSE_ROOT_ID, never forgotten. */
	int rfd = dup(s->root_fd);
	if (rfd < 0 || fuse_node_add(s, rfd, &st) != FUSE_ROOT_ID) {
		e = EMFILE;
		snprintf(err, errlen, "virtio-fs: out of file descriptors");
		goto fail;
	}
	s->host_umask = host_umask();
	/* One fd per node and handle: let the tables fill before the host says EMFILE.
	 * The soft limit goes up to the hard one; with CAP_SYS_RESOURCE (root) the hard
	 * one too, to what the tables can hold (a boot's default hard limit, 4096, is
	 * less than a guest's `ls -R` of a big tree). virtiofsd does the same. */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rlim_t want = (rlim_t)s->max_nodes + s->max_handles + 4096;
		unsigned long nr_open = 1048576;
		FILE *f = fopen("/proc/sys/fs/nr_open", "re");
		if (f) {
			if (fscanf(f, "%lu", &nr_open) != 1)
				nr_open = 1048576;
			fclose(f);
		}
		if (want > nr_open)
			want = nr_open; /* the kernel's ceiling for any process */
		if (rl.rlim_max < want) {
			struct rlimit more = {want, want};
			if (!setrlimit(RLIMIT_NOFILE, &more))
				rl = more;
		}
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	return s;

fail:
	fuse_share_destroy(s);
	errno = e;
	return NULL;
}

void fuse_share_destroy(struct fuse_share *s)
{
	if (!s)
		return;
	fuse_table_fini(s);
	if (s->proc_fd >= 0)
		close(s->proc_fd);
	if (s->root_fd >= 0)
		close(s->root_fd);
	free(s);
}

void fuse_share_reset(struct fuse_share *s)
{
	fuse_table_reset(s);
	s->is_initialized = false;
}

void fuse_share_get_stats(struct fuse_share *s, struct fuse_share_stats *st)
{
	pthread_mutex_lock(&s->lock);
	st->nr_nodes = s->nr_nodes;
	st->nr_handles = s->nr_handles;
	st->nr_dead_nodes = s->nr_dead_nodes;
	st->nr_dead_handles = s->nr_dead_handles;
	pthread_mutex_unlock(&s->lock);
	st->nr_requests = __atomic_load_n(&s->nr_requests, __ATOMIC_RELAXED);
	st->nr_errors = __atomic_load_n(&s->nr_errors, __ATOMIC_RELAXED);
}

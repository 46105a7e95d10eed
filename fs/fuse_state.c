/* fs/fuse_state.c — the FUSE server's snapshot: its node and handle tables saved as paths
 * relative to the share and rebuilt on restore, so the guest's nodeids and open files keep
 * working in the restored VM (see fuse_server.h for the entry points).
 *
 * The blob (host byte order; a snapshot is restored on a host of the same kind):
 *   struct state_hdr
 *   nr_nodes × { struct node_rec, path_len bytes of path (no NUL) }
 *   nr_fhs × struct fh_rec
 * A node's path is where its O_PATH fd points at save time (readlink of /proc/self/fd/N),
 * made relative to the root's own; a node whose file is gone (no links left, or moved out
 * of the share by the host) is saved with path_len 0. The root (slot 0) is not saved: the
 * restoring share has its own, which must be the same directory (dev, ino).
 *
 * Restore re-opens each path with openat2(root, path, O_PATH | O_NOFOLLOW, RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) — the lookups' own confinement, from the root —
 * and keeps the node only if the file there is the same one: same type, st_dev and st_ino
 * (not size or times, which the host may change legitimately). Otherwise, or if the path no
 * longer opens, the slot holds a dead node: requests on it answer ESTALE, FORGET frees it.
 * A handle is re-opened through its node's fd (/proc/self/fd, as OPEN does) with the flags
 * it was opened with; a handle whose node is dead or whose re-open fails is dead (EBADF;
 * RELEASE frees it). Nodeids and fhs keep their slots and generations, so the ids the guest
 * holds name the same entries.
 *
 * Trusts: nothing in the blob (a snapshot file is input): every count, slot, type, flag and
 * path is checked; a blob that fails a check leaves the share empty (root only) and returns
 * -EINVAL. The share's own fds and options.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fuse_internal.h"

#define STATE_MAGIC   0x54534653u /* "FSST" */
#define STATE_VERSION 1u

struct state_hdr {
	uint32_t magic, version;
	uint32_t minor;
	uint8_t is_initialized, is_read_only, has_xattr, cache;
	uint32_t nr_node_slots, nr_fh_slots; /* table sizes: slots above these are unused */
	uint32_t nr_nodes, nr_fhs;	     /* records that follow */
	uint64_t root_dev, root_ino;
};

struct node_rec {
	uint32_t slot, gen;
	uint64_t nlookup;
	uint64_t dev, ino;
	uint32_t type; /* S_IFMT bits */
	uint32_t path_len;
};

struct fh_rec {
	uint32_t slot, gen;
	uint64_t nodeid;
	uint64_t dev, ino;
	int32_t flags;
	uint8_t is_dir;
	uint8_t pad[3];
};

/* Open flags a handle may carry (what open_flags() in fuse_ops.c passes, and OPENDIR's). */
#define FH_FLAGS (O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC | O_DIRECT | O_NONBLOCK | O_DIRECTORY)

static int fd_path(const struct fuse_share *s, int fd, char *buf, size_t cap)
{
	char nm[16];
	ssize_t n;

	snprintf(nm, sizeof(nm), "%d", fd);
	n = readlinkat(s->proc_fd, nm, buf, cap - 1);
	if (n < 0 || (size_t)n >= cap - 1)
		return -1;
	buf[n] = 0;
	return (int)n;
}

/* The node's path relative to the root (rootp, rootlen bytes) into rel, or 0 if it has none
 * (gone, or outside the share). Returns the length. */
static size_t node_rel_path(const struct fuse_share *s, const struct fuse_node *n,
			    const char *rootp, size_t rootlen, char *rel)
{
	char p[PATH_MAX + 16];
	struct stat st;
	int len;

	if (n->fd < 0 || fstat(n->fd, &st) < 0 || st.st_nlink == 0)
		return 0;
	if ((len = fd_path(s, n->fd, p, sizeof(p))) < 0)
		return 0;
	/* "/" as the root: every path starts with it; else the root, then '/'. */
	size_t skip = rootlen == 1 ? 1 : rootlen + 1;
	if ((size_t)len <= skip || memcmp(p, rootp, rootlen) || (rootlen > 1 && p[rootlen] != '/'))
		return 0;
	memcpy(rel, p + skip, (size_t)len - skip);
	return (size_t)len - skip;
}

long fuse_share_save(struct fuse_share *s, void *buf, size_t cap)
{
	uint8_t *out = buf;
	struct state_hdr h = {.magic = STATE_MAGIC, .version = STATE_VERSION};
	char rootp[PATH_MAX + 16], rel[PATH_MAX + 16];
	struct stat st;
	size_t off = sizeof(h);
	int rootlen;

	if (cap < sizeof(h))
		return -ENOSPC;
	if (fstat(s->root_fd, &st) < 0 ||
	    (rootlen = fd_path(s, s->root_fd, rootp, sizeof(rootp))) < 0)
		return -EIO;
	h.minor = s->minor;
	h.is_initialized = __atomic_load_n(&s->is_initialized, __ATOMIC_ACQUIRE);
	h.is_read_only = s->is_read_only;
	h.has_xattr = s->has_xattr;
	h.cache = (uint8_t)s->cache;
	h.nr_node_slots = s->nr_node_slots;
	h.nr_fh_slots = s->nr_fh_slots;
	h.root_dev = st.st_dev;
	h.root_ino = st.st_ino;
	for (uint32_t i = 1; i < s->nr_node_slots; i++) {
		const struct fuse_node *n = fuse_table_node_at(s, i);
		if (!n)
			continue;
		struct node_rec nr = {.slot = i,
				      .gen = n->gen,
				      .nlookup = n->nlookup,
				      .dev = n->dev,
				      .ino = n->ino,
				      .type = n->type};
		nr.path_len = (uint32_t)node_rel_path(s, n, rootp, (size_t)rootlen, rel);
		if (cap - off < sizeof(nr) + nr.path_len)
			return -ENOSPC;
		memcpy(out + off, &nr, sizeof(nr));
		memcpy(out + off + sizeof(nr), rel, nr.path_len);
		off += sizeof(nr) + nr.path_len;
		h.nr_nodes++;
	}
	for (uint32_t i = 0; i < s->nr_fh_slots; i++) {
		const struct fuse_fh *fh = fuse_table_fh_at(s, i);
		if (!fh)
			continue;
		struct fh_rec fr = {.slot = i,
				    .gen = fh->gen,
				    .nodeid = fh->nodeid,
				    .flags = fh->flags,
				    .is_dir = fh->is_dir};
		if (fh->fd >= 0 && fstat(fh->fd, &st) == 0) {
			fr.dev = st.st_dev;
			fr.ino = st.st_ino;
		}
		if (cap - off < sizeof(fr))
			return -ENOSPC;
		memcpy(out + off, &fr, sizeof(fr));
		off += sizeof(fr);
		h.nr_fhs++;
	}
	memcpy(out, &h, sizeof(h));
	return (long)off;
}

static bool is_valid_type(uint32_t t)
{
	switch (t) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		return true;
	default:
		return false;
	}
}

/* A relative path of components that are neither empty, "." nor "..", without a NUL. */
static bool is_valid_path(const char *p, size_t len)
{
	size_t start = 0;

	if (len == 0 || len >= PATH_MAX || memchr(p, 0, len))
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		size_t c = i - start;
		if (c == 0 || c > NAME_MAX || (c == 1 && p[start] == '.') ||
		    (c == 2 && p[start] == '.' && p[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

/* The file at path under the root if it is the one saved, else -1 (a dead node). */
static int reopen_node(struct fuse_share *s, const char *path, const struct node_rec *nr)
{
	struct stat st;
	int fd = fuse_open_beneath(s->root_fd, path, O_PATH, 0);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != nr->type || st.st_dev != nr->dev ||
	    st.st_ino != nr->ino) {
		close(fd);
		return -1;
	}
	return fd;
}

static int restore_nodes(struct fuse_share *s, const uint8_t *p, size_t len, size_t *off,
			 const struct state_hdr *h)
{
	char path[PATH_MAX];

	for (uint32_t i = 0; i < h->nr_nodes; i++) {
		struct node_rec nr;
		int fd = -1, r;

		if (len - *off < sizeof(nr))
			return -EINVAL;
		memcpy(&nr, p + *off, sizeof(nr));
		*off += sizeof(nr);
		/* (The table may have more slots than the blob: an earlier restore grew it.) */
		if (!is_valid_type(nr.type) || nr.path_len > len - *off ||
		    nr.slot >= h->nr_node_slots)
			return -EINVAL;
		if (nr.path_len) {
			if (!is_valid_path((const char *)p + *off, nr.path_len))
				return -EINVAL;
			memcpy(path, p + *off, nr.path_len);
			path[nr.path_len] = 0;
			*off += nr.path_len;
			fd = reopen_node(s, path, &nr);
		}
		if (fd < 0)
			s->nr_dead_nodes++;
		r = fuse_table_place_node(s, nr.slot, nr.gen, nr.nlookup, fd, (mode_t)nr.type,
					  (dev_t)nr.dev, (ino_t)nr.ino);
		if (r)
			return r;
	}
	return 0;
}

/* The handle's fd re-opened through its node, or -1 (a dead handle). */
static int reopen_fh(struct fuse_share *s, const struct fh_rec *fr)
{
	const struct fuse_node *n = fuse_table_node_by_id(s, fr->nodeid);
	struct stat st;
	int fd;

	if (!n || n->fd < 0 || (fr->is_dir ? n->type != S_IFDIR : n->type != S_IFREG))
		return -1;
	fd = fuse_node_reopen(s, n, fr->flags);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_dev != fr->dev || st.st_ino != fr->ino) {
		close(fd);
		return -1;
	}
	return fd;
}

static int restore_fhs(struct fuse_share *s, const uint8_t *p, size_t len, size_t *off,
		       const struct state_hdr *h)
{
	for (uint32_t i = 0; i < h->nr_fhs; i++) {
		struct fh_rec fr;
		int fd, r;

		if (len - *off < sizeof(fr))
			return -EINVAL;
		memcpy(&fr, p + *off, sizeof(fr));
		*off += sizeof(fr);
		int acc = fr.flags & O_ACCMODE;
		if (fr.slot >= h->nr_fh_slots || fr.is_dir > 1 || (fr.flags & ~FH_FLAGS) ||
		    acc == 3 || !!(fr.flags & O_DIRECTORY) != fr.is_dir ||
		    (fr.is_dir && acc != O_RDONLY) || (s->is_read_only && acc != O_RDONLY))
			return -EINVAL;
		fd = reopen_fh(s, &fr);
		if (fd < 0)
			s->nr_dead_handles++;
		r = fuse_table_place_fh(s, fr.slot, fr.gen, fd, fr.is_dir, fr.flags, fr.nodeid);
		if (r)
			return r;
	}
	return 0;
}

int fuse_share_restore(struct fuse_share *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	struct state_hdr h;
	struct stat st;
	size_t off = sizeof(h);
	int r;

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, p, sizeof(h));
	if (h.magic != STATE_MAGIC || h.version != STATE_VERSION || h.is_initialized > 1 ||
	    h.is_read_only > 1 || h.has_xattr > 1 || h.cache > FUSE_CACHE_ALWAYS)
		return -EINVAL;
	if (h.nr_nodes >= h.nr_node_slots || h.nr_fhs > h.nr_fh_slots ||
	    (h.is_initialized && h.minor < 31))
		return -EINVAL;
	/* Another share or other options than the snapshot's: the guest would be wrong about it. */
	if (fstat(s->root_fd, &st) < 0 || st.st_dev != h.root_dev || st.st_ino != h.root_ino ||
	    h.is_read_only != s->is_read_only || h.has_xattr != s->has_xattr ||
	    h.cache != (uint8_t)s->cache)
		return -ESTALE;
	if ((r = fuse_table_restore_begin(s, h.nr_node_slots, h.nr_fh_slots)))
		return r;
	s->nr_dead_nodes = 0;
	s->nr_dead_handles = 0;
	r = restore_nodes(s, p, len, &off, &h);
	if (!r)
		r = restore_fhs(s, p, len, &off, &h);
	if (!r && off != len)
		r = -EINVAL;
	fuse_table_restore_end(s);
	if (r) {
		fuse_share_reset(s);
		return r;
	}
	s->minor = h.minor;
	__atomic_store_n(&s->is_initialized, h.is_initialized != 0, __ATOMIC_RELEASE);
	return 0;
}

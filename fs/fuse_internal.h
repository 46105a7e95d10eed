/* fs/fuse_internal.h — the FUSE server's share state and its node/handle tables, shared by
 * fs/fuse_server.c (request handlers) and fs/fuse_table.c (tables). Not for other rooms.
 *
 * Node ids and handle ids the guest sees are (generation << 32) | (slot + 1) for nodes and
 * (generation << 32) | slot for handles: a stale id whose slot was reused has the wrong
 * generation and is refused. The root is always slot 0, generation 0, i.e. FUSE_ROOT_ID.
 *
 * Lifetime: a node lives while the guest holds lookups on it (nlookup > 0) or a handler
 * uses it (refs > 0); a handle until RELEASE and the last handler using it is done. The
 * fd is closed only when both counts are 0, so a concurrent FORGET/RELEASE never closes an
 * fd under a running system call. Slots live in chunks allocated on demand and never
 * moved, so pointers stay valid while refs > 0.
 */
#ifndef ARCVMM_FS_FUSE_INTERNAL_H
#define ARCVMM_FS_FUSE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <linux/fuse.h>
#include <linux/limits.h>

#include "fs/fuse_server.h"

#define FUSE_NODE_CHUNK	  4096u
#define FUSE_HANDLE_CHUNK 1024u
#define FUSE_HASH_BUCKETS (1u << 16)
#define FUSE_NIL	  UINT32_MAX

struct fuse_node {
	int fd; /* O_PATH|O_NOFOLLOW; -1 for a dead node (restored, its file gone) */
	uint32_t gen;
	uint64_t nlookup;
	uint32_t refs;
	bool is_used;
	mode_t type; /* S_IFMT bits */
	dev_t dev;
	ino_t ino;
	uint32_t slot;
	uint32_t hash_next; /* slot, or FUSE_NIL */
	uint32_t free_next;
};

struct fuse_fh {
	int fd;		 /* -1 for a dead handle (restored, its file gone) */
	int flags;	 /* the host open flags (O_CREAT/O_EXCL/O_TRUNC dropped) */
	uint64_t nodeid; /* the node it was opened on */
	uint32_t gen;
	uint32_t refs;
	bool is_used;
	bool is_released;
	bool is_dir;
	uint32_t slot;
	uint32_t free_next;
	pthread_mutex_t dir_lock; /* READDIR: lseek + getdents64 on one fd */
};

struct fuse_share {
	int root_fd; /* O_PATH of opts.path */
	int proc_fd; /* O_PATH of /proc/self/fd */
	bool is_read_only, has_xattr;
	enum fuse_cache_mode cache;
	mode_t host_umask;
	uint32_t max_nodes, max_handles;

	bool is_initialized; /* INIT answered */
	uint32_t minor;	     /* negotiated protocol minor */

	pthread_mutex_t lock; /* the tables below */
	struct fuse_node **node_chunks;
	uint32_t nr_node_slots; /* slots handed out so far (chunks * CHUNK at most) */
	uint32_t node_free;	/* free list head or FUSE_NIL */
	uint32_t nr_nodes;
	uint32_t *buckets; /* [FUSE_HASH_BUCKETS], (dev, ino) -> slot chain */
	struct fuse_fh **fh_chunks;
	uint32_t nr_fh_slots;
	uint32_t fh_free;
	uint32_t nr_handles;

	uint64_t nr_requests, nr_errors;
	uint32_t nr_dead_nodes, nr_dead_handles; /* made dead by the last restore */
};

int fuse_table_init(struct fuse_share *s);
void fuse_table_fini(struct fuse_share *s);
/* Drops every node but the root (whose lookup count goes back to 1) and every handle. */
void fuse_table_reset(struct fuse_share *s);

/* The node with this id with refs taken, or NULL (also for a dead node). */
struct fuse_node *fuse_node_get(struct fuse_share *s, uint64_t nodeid);
/* Is nodeid a dead node (restored from a snapshot, its file gone: answers ESTALE)? */
bool fuse_node_is_dead(struct fuse_share *s, uint64_t nodeid);
void fuse_node_put(struct fuse_share *s, struct fuse_node *n);
/* Adds one lookup of the inode behind fd (stat'ed into *st): an existing node with the
 * same (dev, ino) gets nlookup + 1 and fd is closed; otherwise fd becomes a new node's.
 * Returns the nodeid (> 0) or -ENFILE (table full; fd closed) / -ENOMEM. */
int64_t fuse_node_add(struct fuse_share *s, int fd, const struct stat *st);
/* Removes nlookup lookups; an unknown id or too many is ignored (counted). Returns 0 or
 * -ENOENT. */
int fuse_node_forget(struct fuse_share *s, uint64_t nodeid, uint64_t nlookup);

/* Takes fd (opened with flags on node nodeid) into a new handle. Returns the fh (>= 0) or
 * -EMFILE (fd closed). */
int64_t fuse_fh_add(struct fuse_share *s, int fd, bool is_dir, int flags, uint64_t nodeid);
/* The handle with refs taken, or NULL (also for a dead handle). */
struct fuse_fh *fuse_fh_get(struct fuse_share *s, uint64_t fh);
void fuse_fh_put(struct fuse_share *s, struct fuse_fh *h);
/* RELEASE: the handle's id stops working; the fd closes after the last user. 0/-EBADF. */
int fuse_fh_release(struct fuse_share *s, uint64_t fh, bool is_dir);

/* ---- snapshot support (fs/fuse_state.c); no request may run, the lock is not taken ---- */
/* The node / handle in this slot if it is in use, else NULL. */
struct fuse_node *fuse_table_node_at(struct fuse_share *s, uint32_t slot);
struct fuse_fh *fuse_table_fh_at(struct fuse_share *s, uint32_t slot);
/* Empties the tables (root kept) and makes room for exactly nr_nodes node slots (root
 * included, 1 .. max_nodes) and nr_fhs handle slots (0 .. max_handles). 0 / -EINVAL /
 * -ENOMEM. */
int fuse_table_restore_begin(struct fuse_share *s, uint32_t nr_nodes, uint32_t nr_fhs);
/* Puts a node into a free slot (1 .. nr_nodes - 1) with this generation and lookup count;
 * fd < 0 makes it dead. A live node's fd is the table's from then on (also on failure: then
 * it is closed). 0, or -EINVAL (slot out of range or taken, same (dev, ino) twice). */
int fuse_table_place_node(struct fuse_share *s, uint32_t slot, uint32_t gen, uint64_t nlookup,
			  int fd, mode_t type, dev_t dev, ino_t ino);
int fuse_table_place_fh(struct fuse_share *s, uint32_t slot, uint32_t gen, int fd, bool is_dir,
			int flags, uint64_t nodeid);
/* The free lists from the slots left unused (also after a failed restore, before a reset). */
void fuse_table_restore_end(struct fuse_share *s);
/* Lock not taken: the node (live or dead) with this id, or NULL. */
struct fuse_node *fuse_table_node_by_id(struct fuse_share *s, uint64_t nodeid);

/* fs/fuse_ops.c helpers the snapshot code shares: openat2 below dirfd, no symlink, no magic
 * link, O_NOFOLLOW (fd or -errno); re-open a regular file or directory node for I/O through
 * /proc/self/fd (fd or -errno). */
int fuse_open_beneath(int dirfd, const char *name, int flags, mode_t mode);
int fuse_node_reopen(struct fuse_share *s, const struct fuse_node *n, int flags);

/* ---- one request being served (fs/fuse_server.c builds it, fs/fuse_ops.c answers) ---- */
struct req {
	struct fuse_share *s;
	struct fuse_in_header h;
	const uint8_t *arg; /* arguments after the header (a host copy) */
	size_t arglen;
	const struct iovec *in;
	int nin;
	const struct iovec *out;
	int nout;
	size_t out_cap;
};

size_t fuse_iov_copy_to(const struct iovec *iov, int n, size_t off, const void *src, size_t len);
/* dst[] = the bytes [off, off + len) of iov as iovecs: the count, or -1 if the range is not
 * wholly there or needs more than max entries. */
int fuse_iov_slice(const struct iovec *iov, int n, size_t off, size_t len, struct iovec *dst,
		   int max);
/* Writes header + a + b into the reply space: bytes written, or -ERANGE if it does not fit. */
long fuse_reply(struct req *r, const void *a, size_t alen, const void *b, size_t blen);
/* The fixed argument struct at the start of the arguments, or NULL if they are short. */
const void *fuse_arg_fixed(const struct req *r, size_t size);
/* A name at *off: NUL-terminated inside the arguments, 1..NAME_MAX bytes, no '/', not "."
 * or "..". Advances *off past the NUL. 0 or -EINVAL/-ENAMETOOLONG. */
int fuse_arg_name(const struct req *r, size_t *off, const char **name);

/* fs/fuse_ops.c: does opcode r->h.opcode name a node in h.nodeid? And its handler. */
bool fuse_ops_takes_node(uint32_t op);
long fuse_ops_dispatch(struct req *r, struct fuse_node *n);

/* ---- shared by the handler files (fs/fuse_ops*.c) ---- */

/* Most bytes one READDIR/GETXATTR/LISTXATTR reply carries (bounced through the heap). */
#define FUSE_MAX_REPLY (XATTR_SIZE_MAX + 4096)

/* The fixed argument struct ptr at the start of the arguments, or -EINVAL if short. */
#define NEED(ptr, size)                                   \
	do {                                              \
		if (!((ptr) = fuse_arg_fixed(r, (size)))) \
			return -EINVAL;                   \
	} while (0)

/* "N" for fd N, for the *at calls relative to /proc/self/fd. */
struct fuse_fdname {
	char s[16];
};
struct fuse_fdname fuse_fd_name(int fd);
void fuse_fill_attr(struct fuse_attr *a, const struct stat *st);
/* fstatat(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW): 0 or -errno. */
int fuse_stat_fd(int fd, struct stat *st);
/* The host's umask bits also strip what the guest asked for; put them back. */
void fuse_fix_mode(struct fuse_share *s, int fd, mode_t mode);
/* e for nodeid with the share's timeouts and st's attributes. Returns nodeid. */
int64_t fuse_entry_fill(struct fuse_share *s, struct fuse_entry_out *e, int64_t nodeid,
			const struct stat *st);
/* LOOKUP of name under parent: one new lookup reference. Fills e. 0 or -errno. */
int fuse_do_lookup(struct fuse_share *s, struct fuse_node *parent, const char *name,
		   struct fuse_entry_out *e);

/* fs/fuse_ops_dir.c */
/* The name at *off of a request that changes directory n, checked (fuse_arg_name), then
 * the share writable and n a directory, in that order. 0 or -errno. */
int fuse_dir_change_name(struct req *r, const struct fuse_node *n, size_t *off, const char **name);
long fuse_op_mknod(struct req *r, struct fuse_node *n);
long fuse_op_mkdir(struct req *r, struct fuse_node *n);
long fuse_op_symlink(struct req *r, struct fuse_node *n);
long fuse_op_unlink(struct req *r, struct fuse_node *n, int flags);
long fuse_op_rename(struct req *r, struct fuse_node *n, bool is_v2);
long fuse_op_link(struct req *r, struct fuse_node *parent);
long fuse_op_readdir(struct req *r, struct fuse_node *dir, bool is_plus);
/* fs/fuse_ops_file.c */
long fuse_op_open(struct req *r, struct fuse_node *n, bool is_dir);
long fuse_op_create(struct req *r, struct fuse_node *parent);
long fuse_op_read(struct req *r);
long fuse_op_write(struct req *r);
long fuse_op_release(struct req *r, bool is_dir);
long fuse_op_fsync(struct req *r, bool is_dir);
long fuse_op_flush(struct req *r);
long fuse_op_fallocate(struct req *r);
long fuse_op_lseek(struct req *r);
long fuse_op_copy_file_range(struct req *r);
/* fs/fuse_ops_xattr.c */
long fuse_op_getxattr(struct req *r, struct fuse_node *n, bool is_list);
long fuse_op_setxattr(struct req *r, struct fuse_node *n);
long fuse_op_removexattr(struct req *r, struct fuse_node *n);

#endif

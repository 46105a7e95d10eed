/* fs/fuse_server.h — an in-process FUSE server passing one host directory through.
 *
 * Independent of virtio: the caller hands over one request as two iovec lists, the
 * driver-readable buffers (`in`: fuse_in_header + arguments [+ WRITE data]) and the
 * device-writable ones (`out`: room for fuse_out_header + the reply), both already checked
 * to lie in guest memory. fuse_handle() parses the request, does the host system calls
 * and writes the reply; it returns the bytes written into `out` (0 for requests that take
 * no reply: FORGET, BATCH_FORGET, INTERRUPT, or a chain without room for a header).
 *
 * Confinement (what keeps a hostile guest inside the shared directory):
 *  - the guest names files only by nodeid + one path component. A nodeid is an index into
 *    the node table; each node holds an O_PATH|O_NOFOLLOW fd taken when the guest looked
 *    the name up. No path string longer than one component is ever resolved on the host.
 *  - a component must be NUL-terminated inside the request, 1..NAME_MAX bytes, without
 *    '/', and not "." or ".." (the guest kernel resolves those itself; virtio-fs never
 *    sends them without FUSE_EXPORT_SUPPORT, which is not offered).
 *  - every name lookup and every create goes through openat2(parent fd, name,
 *    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) with O_NOFOLLOW: a
 *    symlink (also one a host process swaps in during the lookup) becomes a node of its
 *    own whose text READLINK returns; it is never followed on the host.
 *  - re-opening a node for I/O (OPEN, ACCESS, chmod/truncate/times/xattr of a node without
 *    a file handle, LINK) goes through the node's own fd as /proc/self/fd/N relative to a
 *    /proc/self/fd directory fd opened at share creation. That magic link names exactly
 *    the inode the O_PATH fd already holds: no path walk happens, so nothing the guest or
 *    a host process renames can redirect it. Guest-supplied names never reach /proc (the
 *    parent fds are in the share; RESOLVE_NO_MAGICLINKS refuses magic links there).
 *    Only regular files and directories are opened (anything else: EACCES), so a FIFO,
 *    a socket or a device node in the share can neither block a worker nor be read.
 *
 * Limits (fuse_share_opts, 0 = default): at most FUSE_DEFAULT_MAX_NODES (1 << 20) nodes
 * (one O_PATH fd each; a lookup beyond that answers ENFILE) and FUSE_DEFAULT_MAX_HANDLES
 * (65536) open files/directories (beyond that: EMFILE). The guest kernel sends FORGET when
 * it drops an inode, which frees the node once its lookup count reaches 0. fuse_share_create
 * raises the process's soft RLIMIT_NOFILE towards the hard limit so the tables can fill;
 * when the host runs out of fds the guest gets EMFILE/ENFILE, the VMM stays up.
 *
 * Ownership: no credential switching. Files are created as the user running arcvmm (the
 * guest's root maps to that user); ownership changes the host refuses come back as EPERM.
 *
 * Threads: fuse_handle() may run on several threads at once for one share (one per
 * request queue); the node and handle tables are under one mutex, held only for table
 * updates, never across a system call that can block on I/O.
 *
 * Trust: every byte of the request is hostile. The share options are the caller's.
 */
#ifndef ARCVMM_FS_FUSE_SERVER_H
#define ARCVMM_FS_FUSE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define FUSE_DEFAULT_MAX_NODES	 (1u << 20)
#define FUSE_DEFAULT_MAX_HANDLES 65536u
/* Largest READ/WRITE payload negotiated (max_pages * 4 KiB). */
#define FUSE_SERVER_MAX_WRITE (1u << 20)
/* Most iovecs of one request direction that fuse_handle() looks at (IOV_MAX). */
#define FUSE_SERVER_MAX_IOV 1024

enum fuse_cache_mode {
	FUSE_CACHE_AUTO = 0, /* attributes and entries valid 1 s */
	FUSE_CACHE_NONE,     /* no caching: direct I/O, timeouts 0 */
	FUSE_CACHE_ALWAYS,   /* long timeouts, page cache kept across opens */
};

struct fuse_share_opts {
	const char *path; /* the host directory */
	bool is_read_only;
	bool has_xattr;
	enum fuse_cache_mode cache;
	uint32_t max_nodes;   /* 0: FUSE_DEFAULT_MAX_NODES */
	uint32_t max_handles; /* 0: FUSE_DEFAULT_MAX_HANDLES */
};

struct fuse_share;

/* Opens opts->path (it must be a directory). Returns NULL with errno set; err gets one
 * line naming the path and the problem. */
struct fuse_share *fuse_share_create(const struct fuse_share_opts *opts, char *err, size_t errlen);
/* Closes every fd and frees s. NULL is fine. No fuse_handle() may be running. */
void fuse_share_destroy(struct fuse_share *s);
/* Forgets every node except the root and closes every handle; the next request must be
 * INIT again (device reset, FUSE_DESTROY). No fuse_handle() may be running. */
void fuse_share_reset(struct fuse_share *s);

/* Snapshot (fs/fuse_state.c): the negotiated protocol and the node and handle tables, each
 * node as its path relative to the share and its identity (type, st_dev, st_ino), each
 * handle as its node and open flags. No fuse_handle() may run during either call.
 * save: the bytes written to buf, or -ENOSPC (cap too small) / -EIO.
 * restore, into a share just created with the same path and options: rebuilds the tables
 * with the same nodeids and fhs by re-opening every path from the root with the lookups'
 * confinement; a node whose file is gone or is another file (type, st_dev or st_ino differ)
 * stays as a dead node whose requests answer ESTALE (FORGET frees it), a handle that cannot
 * be re-opened as a dead one (EBADF; RELEASE frees it). Returns 0, -ESTALE (another root
 * directory, or other ro/xattr/cache options than the snapshot's), -EINVAL (a malformed
 * blob: the share is then empty, as after fuse_share_reset) or -ENOMEM. */
long fuse_share_save(struct fuse_share *s, void *buf, size_t cap);
int fuse_share_restore(struct fuse_share *s, const void *buf, size_t len);

/* Serves one request (see above). Returns the bytes written to out. */
size_t fuse_handle(struct fuse_share *s, const struct iovec *in, int nin, const struct iovec *out,
		   int nout);

/* Statistics (read racily). */
struct fuse_share_stats {
	uint32_t nr_nodes;   /* live nodes, root included */
	uint32_t nr_handles; /* open handles */
	uint64_t nr_requests;
	uint64_t nr_errors; /* malformed requests (EINVAL/EIO answers for bad input) */
	uint32_t nr_dead_nodes, nr_dead_handles; /* made dead by the last restore */
};
void fuse_share_get_stats(struct fuse_share *s, struct fuse_share_stats *st);

#endif

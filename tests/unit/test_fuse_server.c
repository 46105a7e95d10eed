/* tests/unit/test_fuse_server.c — the FUSE server (fs/fuse_server.c) against a temporary
 * directory, without a guest: requests are built in a buffer, fuse_handle() answers into
 * another, and the test checks the reply and what happened in the host directory.
 *
 * Covers every opcode the issue lists, the escape attempts (.., absolute and relative
 * symlinks, a symlink swapped in by the host, /proc magic links, links to nodes the guest
 * does not hold), read-only shares, malformed requests and the table limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/fuse_server.h"
#include "tests/unit/test.h"

static char root[64];	 /* the share */
static char outside[96]; /* a file outside it */
static struct fuse_share *S;
static uint64_t unique;

/* The last reply. */
static uint8_t rbuf[256 * 1024];
static size_t rlen;

static void sh(const char *fmt, const char *a)
{
	char cmd[512];

	test_snprintf(cmd, sizeof(cmd), fmt, a, a, a);
	CHECK(system(cmd) == 0);
}

static void host_path(char *buf, size_t len, const char *rel)
{
	test_snprintf(buf, len, "%s/%s", root, rel);
}

/* Sends opcode on nodeid with arguments a (alen bytes) then b (blen bytes; b may be a
 * separate iovec when split). Returns the reply's error (0 or -errno), or 1 for no reply. */
static int xfer(struct fuse_share *s, uint32_t op, uint64_t nodeid, const void *a, size_t alen,
		const void *b, size_t blen, size_t out_cap)
{
	static uint8_t req[200 * 1024];
	struct fuse_in_header h = {0};
	struct iovec in[2], out[3];
	struct fuse_out_header oh;

	h.len = (uint32_t)(sizeof(h) + alen + blen);
	h.opcode = op;
	h.unique = ++unique;
	h.nodeid = nodeid;
	memcpy(req, &h, sizeof(h));
	if (alen)
		memcpy(req + sizeof(h), a, alen);
	in[0] = (struct iovec){req, sizeof(h) + alen};
	in[1] = (struct iovec){(void *)b, blen};
	/* The reply space in three pieces, to exercise the scatter code. */
	size_t p1 = out_cap < 24 ? out_cap : 24, p2 = out_cap - p1 < 100 ? out_cap - p1 : 100;
	out[0] = (struct iovec){rbuf, p1};
	out[1] = (struct iovec){rbuf + p1, p2};
	out[2] = (struct iovec){rbuf + p1 + p2, out_cap - p1 - p2};
	rlen = fuse_handle(s, in, blen ? 2 : 1, out, 3);
	if (rlen == 0)
		return 1;
	memcpy(&oh, rbuf, sizeof(oh));
	CHECK_EQ(oh.unique, h.unique);
	CHECK_EQ(oh.len, rlen);
	return oh.error;
}

static int call(uint32_t op, uint64_t nodeid, const void *a, size_t alen)
{
	return xfer(S, op, nodeid, a, alen, NULL, 0, sizeof(rbuf));
}

/* Arguments: a fixed struct followed by up to two NUL-terminated names. */
static int call_names(uint32_t op, uint64_t nodeid, const void *fixed, size_t flen, const char *n1,
		      const char *n2)
{
	uint8_t a[2 * PATH_MAX + 128];
	size_t len = flen;

	if (flen)
		memcpy(a, fixed, flen);
	if (n1) {
		memcpy(a + len, n1, strlen(n1) + 1);
		len += strlen(n1) + 1;
	}
	if (n2) {
		memcpy(a + len, n2, strlen(n2) + 1);
		len += strlen(n2) + 1;
	}
	return call(op, nodeid, a, len);
}

static const void *payload(void)
{
	return rbuf + sizeof(struct fuse_out_header);
}

static int do_init(struct fuse_share *s)
{
	struct fuse_init_in in = {.major = 7, .minor = 38, .max_readahead = 65536, .flags = ~0u};
	return xfer(s, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, sizeof(rbuf));
}

static struct fuse_share *share(bool ro, bool xattr, uint32_t max_nodes, uint32_t max_handles)
{
	struct fuse_share_opts o = {.path = root,
				    .is_read_only = ro,
				    .has_xattr = xattr,
				    .max_nodes = max_nodes,
				    .max_handles = max_handles};
	char err[256];
	struct fuse_share *s = fuse_share_create(&o, err, sizeof(err));

	CHECK(s != NULL);
	if (s)
		CHECK_EQ(do_init(s), 0);
	return s;
}

/* LOOKUP name under parent: the nodeid, or 0 with *err. */
static uint64_t lookup(uint64_t parent, const char *name, int *err)
{
	int e = call_names(FUSE_LOOKUP, parent, NULL, 0, name, NULL);
	if (err)
		*err = e;
	if (e)
		return 0;
	return ((const struct fuse_entry_out *)payload())->nodeid;
}

static uint32_t lookup_mode(uint64_t parent, const char *name)
{
	if (call_names(FUSE_LOOKUP, parent, NULL, 0, name, NULL))
		return 0;
	return ((const struct fuse_entry_out *)payload())->attr.mode;
}

static uint64_t do_open(uint64_t node, uint32_t flags, int *err)
{
	struct fuse_open_in in = {.flags = flags};
	int e = call(FUSE_OPEN, node, &in, sizeof(in));
	if (err)
		*err = e;
	return e ? UINT64_MAX : ((const struct fuse_open_out *)payload())->fh;
}

static uint64_t do_create(uint64_t parent, const char *name, uint32_t mode, uint64_t *fh, int *err)
{
	struct fuse_create_in in = {.flags = O_RDWR | O_CREAT, .mode = S_IFREG | mode};
	int e = call_names(FUSE_CREATE, parent, &in, sizeof(in), name, NULL);
	if (err)
		*err = e;
	if (e)
		return 0;
	const struct fuse_entry_out *eo = payload();
	if (fh)
		*fh = ((const struct fuse_open_out *)(eo + 1))->fh;
	return eo->nodeid;
}

static int do_release(uint64_t fh, bool is_dir)
{
	struct fuse_release_in in = {.fh = fh};
	return call(is_dir ? FUSE_RELEASEDIR : FUSE_RELEASE, 1, &in, sizeof(in));
}

static int do_write(uint64_t fh, uint64_t off, const void *data, size_t len)
{
	struct fuse_write_in in = {.fh = fh, .offset = off, .size = (uint32_t)len};
	return xfer(S, FUSE_WRITE, 1, &in, sizeof(in), data, len, sizeof(rbuf));
}

static int do_read(uint64_t fh, uint64_t off, uint32_t size)
{
	struct fuse_read_in in = {.fh = fh, .offset = off, .size = size};
	return call(FUSE_READ, 1, &in, sizeof(in));
}

static void read_host(const char *rel, char *buf, size_t cap)
{
	char p[256];
	host_path(p, sizeof(p), rel);
	int fd = open(p, O_RDONLY);
	CHECK(fd >= 0);
	ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : -1;
	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

static bool host_exists(const char *rel)
{
	char p[256];
	struct stat st;
	host_path(p, sizeof(p), rel);
	return lstat(p, &st) == 0;
}

static void fresh(void)
{
	sh("rm -rf %s/* %s/.[!.]* 2>/dev/null; true", root);
}

/* ---- tests ---- */

TEST(test_init)
{
	struct fuse_share_opts o = {.path = root};
	char err[256];
	struct fuse_share *s = fuse_share_create(&o, err, sizeof(err));
	struct fuse_init_in in = {.major = 7, .minor = 38};

	CHECK(s != NULL);
	/* Before INIT, everything else is refused. */
	CHECK_EQ(xfer(s, FUSE_GETATTR, 1, &(struct fuse_getattr_in){0},
		      sizeof(struct fuse_getattr_in), NULL, 0, sizeof(rbuf)),
		 -EIO);
	in.major = 8;
	CHECK_EQ(xfer(s, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, sizeof(rbuf)), 0);
	CHECK_EQ(((const struct fuse_init_out *)payload())->major, 7);
	in.major = 7;
	in.minor = 20;
	CHECK_EQ(xfer(s, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, sizeof(rbuf)), -EPROTO);
	in.minor = 40; /* newer than ours: we answer ours */
	in.flags = FUSE_DO_READDIRPLUS | FUSE_POSIX_LOCKS | FUSE_MAX_PAGES;
	CHECK_EQ(xfer(s, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, sizeof(rbuf)), 0);
	const struct fuse_init_out *io = payload();
	CHECK_EQ(io->minor, FUSE_KERNEL_MINOR_VERSION);
	CHECK(io->flags & FUSE_DO_READDIRPLUS);
	CHECK(!(io->flags & FUSE_POSIX_LOCKS)); /* not offered: locks are ENOSYS */
	CHECK_EQ(io->max_write, FUSE_SERVER_MAX_WRITE);
	/* The 16-byte INIT of older kernels. */
	in.minor = 31;
	CHECK_EQ(xfer(s, FUSE_INIT, 0, &in, 16, NULL, 0, sizeof(rbuf)), 0);
	CHECK_EQ(((const struct fuse_init_out *)payload())->minor, 31);
	fuse_share_destroy(s);

	/* Bad share paths. */
	o.path = "/nonexistent/dir";
	CHECK(fuse_share_create(&o, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "does not exist") != NULL);
	o.path = "/etc/hostname";
	CHECK(fuse_share_create(&o, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "not a directory") != NULL);
}

TEST(test_lookup_getattr)
{
	int err;
	fresh();
	sh("echo hello > %s/f; mkdir %s/d; echo x > %s/d/g", root);
	uint64_t f = lookup(1, "f", &err);
	CHECK_EQ(err, 0);
	CHECK(f > 1);
	CHECK_EQ(((const struct fuse_entry_out *)payload())->attr.size, 6);
	CHECK_EQ(lookup(1, "f", NULL), f); /* same inode, same node */
	uint64_t d = lookup(1, "d", NULL);
	CHECK(d > 1 && d != f);
	CHECK(lookup(d, "g", NULL) > 1);
	CHECK_EQ(lookup(f, "g", &err), 0);
	CHECK_EQ(err, -ENOTDIR);
	CHECK_EQ(lookup(1, "missing", &err), 0);
	CHECK_EQ(err, -ENOENT);

	struct fuse_getattr_in gi = {0};
	CHECK_EQ(call(FUSE_GETATTR, f, &gi, sizeof(gi)), 0);
	const struct fuse_attr_out *ao = payload();
	CHECK_EQ(ao->attr.size, 6);
	CHECK(S_ISREG(ao->attr.mode));
	CHECK_EQ(call(FUSE_GETATTR, 1, &gi, sizeof(gi)), 0);
	CHECK(S_ISDIR(((const struct fuse_attr_out *)payload())->attr.mode));
	/* A nodeid the guest never got. */
	CHECK_EQ(call(FUSE_GETATTR, 12345, &gi, sizeof(gi)), -ENOENT);
	CHECK_EQ(call(FUSE_GETATTR, (1ULL << 32) | 1, &gi, sizeof(gi)), -ENOENT);
	/* Forget: two lookups of f, then the node is gone. */
	struct fuse_forget_in fi = {.nlookup = 1};
	CHECK_EQ(call(FUSE_FORGET, f, &fi, sizeof(fi)), 1);
	CHECK_EQ(call(FUSE_GETATTR, f, &gi, sizeof(gi)), 0);
	CHECK_EQ(call(FUSE_FORGET, f, &fi, sizeof(fi)), 1);
	CHECK_EQ(call(FUSE_GETATTR, f, &gi, sizeof(gi)), -ENOENT);
	/* FORGET of unknown nodes, the root, huge counts: no reply, nothing breaks. */
	fi.nlookup = UINT64_MAX;
	CHECK_EQ(call(FUSE_FORGET, 999999, &fi, sizeof(fi)), 1);
	CHECK_EQ(call(FUSE_FORGET, 1, &fi, sizeof(fi)), 1);
	CHECK_EQ(call(FUSE_GETATTR, 1, &gi, sizeof(gi)), 0);
	/* BATCH_FORGET with a count larger than what follows. */
	struct {
		struct fuse_batch_forget_in b;
		struct fuse_forget_one one[2];
	} bf = {{.count = 1000}, {{d, 1}, {777, 5}}};
	CHECK_EQ(lookup(1, "d", NULL), d); /* d: 2 lookups now */
	CHECK_EQ(call(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf)), 1);
	CHECK_EQ(call(FUSE_GETATTR, d, &gi, sizeof(gi)), 0); /* d had 2 lookups */
	bf.b.count = 1;
	CHECK_EQ(call(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf)), 1);
	CHECK_EQ(call(FUSE_GETATTR, d, &gi, sizeof(gi)), -ENOENT);
}

TEST(test_names)
{
	char longname[NAME_MAX + 2];
	int err;

	fresh();
	sh("mkdir %s/d", root);
	CHECK_EQ(lookup(1, "..", &err), 0);
	CHECK_EQ(err, -EINVAL);
	CHECK_EQ(lookup(1, ".", &err), 0);
	CHECK_EQ(err, -EINVAL);
	CHECK_EQ(lookup(1, "d/..", &err), 0);
	CHECK_EQ(err, -EINVAL);
	CHECK_EQ(lookup(1, "/etc", &err), 0);
	CHECK_EQ(err, -EINVAL);
	CHECK_EQ(lookup(1, "", &err), 0);
	CHECK_EQ(err, -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	CHECK_EQ(lookup(1, longname, &err), 0);
	CHECK_EQ(err, -ENAMETOOLONG);
	longname[NAME_MAX] = 0;
	CHECK_EQ(lookup(1, longname, &err), 0);
	CHECK_EQ(err, -ENOENT); /* NAME_MAX itself is fine */
	/* A name without its NUL inside the request. */
	CHECK_EQ(call(FUSE_LOOKUP, 1, "d", 1), -EINVAL);
	/* mkdir "..", rename to "..", symlink named "a/b". */
	struct fuse_mkdir_in mi = {.mode = 0755};
	CHECK_EQ(call_names(FUSE_MKDIR, 1, &mi, sizeof(mi), "..", NULL), -EINVAL);
	struct fuse_rename_in ri = {.newdir = 1};
	CHECK_EQ(call_names(FUSE_RENAME, 1, &ri, sizeof(ri), "d", ".."), -EINVAL);
	CHECK_EQ(call_names(FUSE_RENAME, 1, &ri, sizeof(ri), "d", NULL), -EINVAL);
	CHECK_EQ(call_names(FUSE_SYMLINK, 1, NULL, 0, "a/b", "t"), -EINVAL);
	CHECK_EQ(call_names(FUSE_SYMLINK, 1, NULL, 0, "ab", NULL), -EINVAL);
	CHECK(host_exists("d"));
}

TEST(test_escapes)
{
	char p[256], buf[64];
	int err;

	fresh();
	/* Absolute and relative symlinks out, a /proc magic link, a link to /proc itself. */
	sh("ln -s /etc %s/abs; ln -s ../../.. %s/rel; ln -s /proc/self/fd/0 %s/magic", root);
	sh("ln -s /proc %s/proc; mkdir %s/d", root);
	CHECK(S_ISLNK(lookup_mode(1, "abs")));
	uint64_t abs = lookup(1, "abs", NULL);
	CHECK_EQ(lookup(abs, "passwd", &err), 0);
	CHECK_EQ(err, -ENOTDIR);
	CHECK_EQ(call(FUSE_READLINK, abs, NULL, 0), 0);
	CHECK_EQ(rlen - sizeof(struct fuse_out_header), 4);
	CHECK(!memcmp(payload(), "/etc", 4));
	uint64_t rel = lookup(1, "rel", NULL);
	CHECK(S_ISLNK(lookup_mode(1, "rel")));
	CHECK_EQ(lookup(rel, "etc", &err), 0);
	CHECK_EQ(err, -ENOTDIR);
	do_open(rel, O_RDONLY, &err);
	CHECK_EQ(err, -ELOOP);
	struct fuse_open_in oi = {0};
	CHECK_EQ(call(FUSE_OPENDIR, rel, &oi, sizeof(oi)), -ENOTDIR);
	uint64_t magic = lookup(1, "magic", NULL);
	CHECK(S_ISLNK(lookup_mode(1, "magic")));
	do_open(magic, O_RDONLY, &err);
	CHECK_EQ(err, -ELOOP);
	uint64_t proc = lookup(1, "proc", NULL);
	CHECK_EQ(lookup(proc, "self", &err), 0);
	CHECK_EQ(err, -ENOTDIR);

	/* Creating through a symlink that points out: refused, nothing appears outside. */
	test_snprintf(p, sizeof(p), "ln -s %s %s/out", outside, root);
	CHECK(system(p) == 0);
	unlink(outside);
	do_create(1, "out", 0644, NULL, &err);
	CHECK(err == -ELOOP || err == -EEXIST);
	CHECK(access(outside, F_OK) < 0);
	struct fuse_mknod_in mn = {.mode = S_IFREG | 0644};
	CHECK_EQ(call_names(FUSE_MKNOD, 1, &mn, sizeof(mn), "out", NULL), -EEXIST);
	CHECK(access(outside, F_OK) < 0);
	/* Writing through a symlink's node (SETATTR size) does not follow it. */
	int fd = open(outside, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, "secret", 6) == 6);
	close(fd);
	uint64_t out = lookup(1, "out", NULL);
	struct fuse_setattr_in sa = {.valid = FATTR_SIZE, .size = 0};
	CHECK(call(FUSE_SETATTR, out, &sa, sizeof(sa)) < 0);
	struct stat st;
	CHECK(stat(outside, &st) == 0 && st.st_size == 6);
	/* chmod/utimes of the symlink node do not reach the target either. */
	sa.valid = FATTR_MODE;
	sa.mode = 0777;
	call(FUSE_SETATTR, out, &sa, sizeof(sa));
	CHECK(stat(outside, &st) == 0 && (st.st_mode & 0777) == 0644);
	time_t mtime_before = st.st_mtime;
	sa = (struct fuse_setattr_in){.valid = FATTR_MTIME, .mtime = 12345};
	call(FUSE_SETATTR, out, &sa, sizeof(sa));
	CHECK(stat(outside, &st) == 0 && st.st_mtime == mtime_before);
	/* ... nor do xattrs (refused on symlink nodes) or an open for writing. */
	do_open(out, O_WRONLY, &err);
	CHECK_EQ(err, -ELOOP);

	/* A directory swapped for a symlink by a host process: the old node still names
	 * the (moved) directory; a new lookup gets the symlink, never its target. */
	uint64_t d = lookup(1, "d", NULL);
	sh("mv %s/d %s/d2; ln -s /etc %s/d", root);
	CHECK_EQ(lookup(d, "passwd", &err), 0);
	CHECK_EQ(err, -ENOENT); /* looked for in d2, which is empty */
	uint64_t d_new = lookup(1, "d", NULL);
	CHECK(d_new != d);
	CHECK(S_ISLNK(lookup_mode(1, "d")));
	CHECK_EQ(lookup(d_new, "passwd", &err), 0);
	CHECK_EQ(err, -ENOTDIR);
	/* Creating inside the swapped-in symlink. */
	do_create(d_new, "x", 0644, NULL, &err);
	CHECK_EQ(err, -ENOTDIR);

	/* Hard links: only to nodes the guest holds; a directory cannot be linked. */
	struct fuse_link_in li = {.oldnodeid = 424242};
	CHECK_EQ(call_names(FUSE_LINK, 1, &li, sizeof(li), "hl", NULL), -ENOENT);
	li.oldnodeid = lookup(1, "d2", NULL);
	CHECK_EQ(call_names(FUSE_LINK, 1, &li, sizeof(li), "hl", NULL), -EPERM);
	/* A hard link of the symlink "abs" makes another symlink, not a link to /etc. */
	li.oldnodeid = abs;
	CHECK_EQ(call_names(FUSE_LINK, 1, &li, sizeof(li), "abs2", NULL), 0);
	CHECK(S_ISLNK(((const struct fuse_entry_out *)payload())->attr.mode));
	host_path(p, sizeof(p), "abs2");
	CHECK(readlink(p, buf, sizeof(buf)) == 4);
}

TEST(test_create_read_write)
{
	uint64_t fh, fh2;
	char buf[64];
	int err;

	fresh();
	uint64_t f = do_create(1, "f", 0640, &fh, &err);
	CHECK_EQ(err, 0);
	CHECK(f > 1);
	CHECK(host_exists("f"));
	struct stat st;
	char p[256];
	host_path(p, sizeof(p), "f");
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0640);
	CHECK_EQ(do_write(fh, 0, "hello world", 11), 0);
	CHECK_EQ(((const struct fuse_write_out *)payload())->size, 11);
	read_host("f", buf, sizeof(buf));
	CHECK(!strcmp(buf, "hello world"));
	/* Read into a reply split over three iovecs. */
	CHECK_EQ(do_read(fh, 6, 100), 0);
	CHECK_EQ(rlen, sizeof(struct fuse_out_header) + 5);
	CHECK(!memcmp(payload(), "world", 5));
	/* A read larger than the reply space is cut to it. */
	struct fuse_read_in ri = {.fh = fh, .offset = 0, .size = 4096};
	CHECK_EQ(xfer(S, FUSE_READ, 1, &ri, sizeof(ri), NULL, 0, 16 + 3), 0);
	CHECK_EQ(rlen, 19);
	CHECK(!memcmp(payload(), "hel", 3));
	/* A big write and read (1 MiB). */
	static uint8_t big[FUSE_SERVER_MAX_WRITE], back[FUSE_SERVER_MAX_WRITE];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + (i >> 12));
	CHECK_EQ(do_write(fh, 4096, big, sizeof(big)), 0);
	CHECK_EQ(((const struct fuse_write_out *)payload())->size, sizeof(big));
	int hfd = open(p, O_RDONLY);
	CHECK(pread(hfd, back, sizeof(back), 4096) == (ssize_t)sizeof(back));
	close(hfd);
	CHECK(!memcmp(big, back, sizeof(big)));
	/* Open again read-only: writes fail with the host's EBADF. */
	fh2 = do_open(f, O_RDONLY, &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(do_write(fh2, 0, "x", 1), -EBADF);
	CHECK_EQ(do_read(fh2, 0, 5), 0);
	CHECK(!memcmp(payload(), "hello", 5));
	/* Append and O_TRUNC. */
	CHECK_EQ(do_release(fh2, false), 0);
	CHECK_EQ(do_release(fh2, false), -EBADF); /* twice */
	fh2 = do_open(f, O_WRONLY | O_TRUNC, &err);
	CHECK_EQ(err, 0);
	CHECK(stat(p, &st) == 0 && st.st_size == 0);
	CHECK_EQ(do_release(fh2, false), 0);
	fh2 = do_open(f, O_WRONLY | O_APPEND, &err);
	CHECK_EQ(do_write(fh2, 0, "ab", 2), 0);
	CHECK_EQ(do_write(fh2, 0, "cd", 2), 0);
	read_host("f", buf, sizeof(buf));
	CHECK(!strcmp(buf, "abcd"));
	/* fsync, fdatasync, flush */
	struct fuse_fsync_in fs = {.fh = fh2};
	CHECK_EQ(call(FUSE_FSYNC, f, &fs, sizeof(fs)), 0);
	fs.fsync_flags = 1;
	CHECK_EQ(call(FUSE_FSYNC, f, &fs, sizeof(fs)), 0);
	struct fuse_flush_in fl = {.fh = fh2};
	CHECK_EQ(call(FUSE_FLUSH, f, &fl, sizeof(fl)), 0);
	CHECK_EQ(do_release(fh2, false), 0);
	CHECK_EQ(do_release(fh, false), 0);
	/* Stale handles. */
	CHECK_EQ(do_read(fh, 0, 5), -EBADF);
	CHECK_EQ(do_read(12345, 0, 5), -EBADF);
	/* CREATE of an existing name with O_EXCL. */
	struct fuse_create_in ci = {.flags = O_RDWR | O_CREAT | O_EXCL, .mode = S_IFREG | 0644};
	CHECK_EQ(call_names(FUSE_CREATE, 1, &ci, sizeof(ci), "f", NULL), -EEXIST);
	/* OPEN of a directory as a file; READ on a directory handle. */
	sh("mkdir %s/dd", root);
	uint64_t dd = lookup(1, "dd", NULL);
	do_open(dd, O_RDONLY, &err);
	CHECK_EQ(err, -EISDIR);
	/* A FIFO in the share is not opened (a worker would block). */
	sh("mkfifo %s/fifo", root);
	do_open(lookup(1, "fifo", NULL), O_RDONLY, &err);
	CHECK_EQ(err, -EACCES);
}

TEST(test_dirs)
{
	struct fuse_mkdir_in mi = {.mode = 0750};
	struct fuse_open_in oi = {0};
	int err;

	fresh();
	CHECK_EQ(call_names(FUSE_MKDIR, 1, &mi, sizeof(mi), "dir", NULL), 0);
	uint64_t dir = ((const struct fuse_entry_out *)payload())->nodeid;
	CHECK(S_ISDIR(((const struct fuse_entry_out *)payload())->attr.mode));
	CHECK_EQ(call_names(FUSE_MKDIR, 1, &mi, sizeof(mi), "dir", NULL), -EEXIST);
	/* 1000 entries, read back in small READDIR chunks and with READDIRPLUS. */
	char p[300];
	for (int i = 0; i < 1000; i++) {
		test_snprintf(p, sizeof(p), "%s/dir/entry-%04d", root, i);
		int fd = open(p, O_CREAT | O_WRONLY, 0644);
		CHECK(fd >= 0);
		close(fd);
	}
	for (int plus = 0; plus < 2; plus++) {
		CHECK_EQ(call(FUSE_OPENDIR, dir, &oi, sizeof(oi)), 0);
		uint64_t fh = ((const struct fuse_open_out *)payload())->fh;
		uint64_t off = 0;
		int seen = 0, dots = 0, rounds = 0;
		static bool got[1000];
		memset(got, 0, sizeof(got));
		for (;;) {
			struct fuse_read_in ri = {.fh = fh, .offset = off, .size = 4096};
			CHECK_EQ(call(plus ? FUSE_READDIRPLUS : FUSE_READDIR, dir, &ri, sizeof(ri)),
				 0);
			size_t len = rlen - sizeof(struct fuse_out_header), pos = 0;
			if (len == 0 || ++rounds > 1000)
				break;
			while (pos < len) {
				const uint8_t *e = (const uint8_t *)payload() + pos;
				const struct fuse_dirent *d;
				if (plus) {
					const struct fuse_direntplus *dp = (const void *)e;
					d = &dp->dirent;
					pos += FUSE_DIRENTPLUS_SIZE(dp);
					if (d->namelen > 2)
						CHECK(dp->entry_out.nodeid > 1);
				} else {
					d = (const void *)e;
					pos += FUSE_DIRENT_SIZE(d);
				}
				int k;
				if (d->namelen == 10 && sscanf(d->name, "entry-%4d", &k) == 1 &&
				    k >= 0 && k < 1000 && !got[k]) {
					got[k] = true;
					seen++;
				} else if (d->namelen <= 2) {
					dots++;
				}
				off = d->off;
			}
		}
		CHECK_EQ(seen, 1000);
		CHECK_EQ(dots, 2);
		CHECK(rounds > 5);
		CHECK_EQ(do_release(fh, true), 0);
	}
	/* READDIR on a file handle; RELEASEDIR of a file handle. */
	uint64_t ffh;
	do_create(1, "file", 0644, &ffh, &err);
	struct fuse_read_in ri = {.fh = ffh, .size = 4096};
	CHECK_EQ(call(FUSE_READDIR, 1, &ri, sizeof(ri)), -ENOTDIR);
	CHECK_EQ(do_release(ffh, true), -EBADF);
	CHECK_EQ(do_release(ffh, false), 0);
	/* FSYNCDIR */
	CHECK_EQ(call(FUSE_OPENDIR, dir, &oi, sizeof(oi)), 0);
	uint64_t dfh = ((const struct fuse_open_out *)payload())->fh;
	struct fuse_fsync_in fs = {.fh = dfh};
	CHECK_EQ(call(FUSE_FSYNCDIR, dir, &fs, sizeof(fs)), 0);
	CHECK_EQ(do_release(dfh, true), 0);
	/* rmdir: not empty, then empty. */
	CHECK_EQ(call_names(FUSE_RMDIR, 1, NULL, 0, "dir", NULL), -ENOTEMPTY);
	sh("rm -f %s/dir/*", root);
	CHECK_EQ(call_names(FUSE_RMDIR, 1, NULL, 0, "dir", NULL), 0);
	CHECK(!host_exists("dir"));
	CHECK_EQ(call_names(FUSE_UNLINK, 1, NULL, 0, "file", NULL), 0);
	CHECK(!host_exists("file"));
	CHECK_EQ(call_names(FUSE_UNLINK, 1, NULL, 0, "file", NULL), -ENOENT);
}

TEST(test_rename_link_symlink_mknod)
{
	char buf[64];
	int err;

	fresh();
	sh("echo A > %s/a; echo B > %s/b; mkdir %s/sub", root);
	uint64_t sub = lookup(1, "sub", NULL);
	struct fuse_rename_in r1 = {.newdir = sub};
	CHECK_EQ(call_names(FUSE_RENAME, 1, &r1, sizeof(r1), "a", "a2"), 0);
	CHECK(host_exists("sub/a2") && !host_exists("a"));
	struct fuse_rename2_in r2 = {.newdir = 1, .flags = RENAME_NOREPLACE};
	CHECK_EQ(call_names(FUSE_RENAME2, sub, &r2, sizeof(r2), "a2", "b"), -EEXIST);
	r2.flags = RENAME_EXCHANGE;
	CHECK_EQ(call_names(FUSE_RENAME2, sub, &r2, sizeof(r2), "a2", "b"), 0);
	read_host("b", buf, sizeof(buf));
	CHECK(!strcmp(buf, "A\n"));
	read_host("sub/a2", buf, sizeof(buf));
	CHECK(!strcmp(buf, "B\n"));
	r2.flags = RENAME_EXCHANGE | RENAME_NOREPLACE;
	CHECK_EQ(call_names(FUSE_RENAME2, sub, &r2, sizeof(r2), "a2", "b"), -EINVAL);
	r2.flags = RENAME_WHITEOUT;
	CHECK_EQ(call_names(FUSE_RENAME2, sub, &r2, sizeof(r2), "a2", "b"), -EINVAL);
	r2.flags = 0;
	r2.newdir = 5555;
	CHECK_EQ(call_names(FUSE_RENAME2, sub, &r2, sizeof(r2), "a2", "b"), -ENOENT);

	/* Hard link. */
	uint64_t b = lookup(1, "b", NULL);
	struct fuse_link_in li = {.oldnodeid = b};
	CHECK_EQ(call_names(FUSE_LINK, sub, &li, sizeof(li), "blink", NULL), 0);
	const struct fuse_entry_out *eo = payload();
	CHECK_EQ(eo->nodeid, b);
	CHECK_EQ(eo->attr.nlink, 2);
	read_host("sub/blink", buf, sizeof(buf));
	CHECK(!strcmp(buf, "A\n"));

	/* Symlink + readlink. */
	CHECK_EQ(call_names(FUSE_SYMLINK, 1, NULL, 0, "sl", "../anything/at/all"), 0);
	uint64_t sl = ((const struct fuse_entry_out *)payload())->nodeid;
	CHECK_EQ(call(FUSE_READLINK, sl, NULL, 0), 0);
	CHECK_EQ(rlen - sizeof(struct fuse_out_header), 18);
	CHECK(!memcmp(payload(), "../anything/at/all", 18));
	CHECK_EQ(call(FUSE_READLINK, b, NULL, 0), -EINVAL);

	/* mknod: a FIFO and a regular file; a device node is the host's to refuse. */
	struct fuse_mknod_in mn = {.mode = S_IFIFO | 0600};
	CHECK_EQ(call_names(FUSE_MKNOD, 1, &mn, sizeof(mn), "fifo", NULL), 0);
	CHECK(S_ISFIFO(((const struct fuse_entry_out *)payload())->attr.mode));
	mn.mode = S_IFREG | 0600;
	CHECK_EQ(call_names(FUSE_MKNOD, 1, &mn, sizeof(mn), "reg", NULL), 0);
	mn.mode = S_IFDIR | 0600;
	CHECK_EQ(call_names(FUSE_MKNOD, 1, &mn, sizeof(mn), "dir", NULL), -EINVAL);
	if (geteuid() != 0) {
		mn.mode = S_IFCHR | 0600;
		mn.rdev = makedev(1, 3);
		CHECK_EQ(call_names(FUSE_MKNOD, 1, &mn, sizeof(mn), "null", NULL), -EPERM);
	}
	(void)err;
}

TEST(test_setattr)
{
	uint64_t fh;
	struct stat st;
	char p[256];
	int err;

	fresh();
	uint64_t f = do_create(1, "f", 0644, &fh, &err);
	host_path(p, sizeof(p), "f");
	do_write(fh, 0, "0123456789", 10);
	struct fuse_setattr_in sa = {.valid = FATTR_MODE, .mode = S_IFREG | 0600};
	CHECK_EQ(call(FUSE_SETATTR, f, &sa, sizeof(sa)), 0);
	CHECK_EQ(((const struct fuse_attr_out *)payload())->attr.mode & 0777, 0600);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
	sa = (struct fuse_setattr_in){.valid = FATTR_SIZE, .size = 3};
	CHECK_EQ(call(FUSE_SETATTR, f, &sa, sizeof(sa)), 0);
	CHECK(stat(p, &st) == 0 && st.st_size == 3);
	sa = (struct fuse_setattr_in){.valid = FATTR_SIZE | FATTR_FH, .size = 7, .fh = fh};
	CHECK_EQ(call(FUSE_SETATTR, f, &sa, sizeof(sa)), 0);
	CHECK(stat(p, &st) == 0 && st.st_size == 7);
	sa = (struct fuse_setattr_in){
	    .valid = FATTR_ATIME | FATTR_MTIME, .atime = 1000000, .mtime = 2000000, .mtimensec = 5};
	CHECK_EQ(call(FUSE_SETATTR, f, &sa, sizeof(sa)), 0);
	CHECK(stat(p, &st) == 0 && st.st_atime == 1000000 && st.st_mtime == 2000000);
	CHECK_EQ(st.st_mtim.tv_nsec, 5);
	sa = (struct fuse_setattr_in){.valid = FATTR_MTIME | FATTR_MTIME_NOW};
	CHECK_EQ(call(FUSE_SETATTR, f, &sa, sizeof(sa)), 0);
	CHECK(stat(p, &st) == 0 && st.st_mtime > 2000000);
	/* Ownership: to ourselves works, to someone else the host refuses (rootless). */
	sa = (struct fuse_setattr_in){
	    .valid = FATTR_UID | FATTR_GID, .uid = geteuid(), .gid = getegid()};
	CHECK_EQ(call(FUSE_SETATTR, f, &sa, sizeof(sa)), 0);
	if (geteuid() != 0) {
		sa.uid = 0;
		CHECK_EQ(call(FUSE_SETATTR, f, &sa, sizeof(sa)), -EPERM);
	}
	/* Directory chmod and times. */
	sh("mkdir %s/d", root);
	uint64_t d = lookup(1, "d", NULL);
	sa = (struct fuse_setattr_in){.valid = FATTR_MODE, .mode = S_IFDIR | 0711};
	CHECK_EQ(call(FUSE_SETATTR, d, &sa, sizeof(sa)), 0);
	host_path(p, sizeof(p), "d");
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0711);
	/* Truncating a directory. */
	sa = (struct fuse_setattr_in){.valid = FATTR_SIZE};
	CHECK(call(FUSE_SETATTR, d, &sa, sizeof(sa)) < 0);
	sa = (struct fuse_setattr_in){.valid = FATTR_FH | FATTR_SIZE, .fh = 999};
	CHECK_EQ(call(FUSE_SETATTR, f, &sa, sizeof(sa)), -EBADF);
	do_release(fh, false);
}

TEST(test_misc_ops)
{
	uint64_t fh;
	int err;

	fresh();
	uint64_t f = do_create(1, "f", 0644, &fh, &err);
	/* STATFS */
	CHECK_EQ(call(FUSE_STATFS, 1, NULL, 0), 0);
	CHECK(((const struct fuse_statfs_out *)payload())->st.bsize > 0);
	CHECK_EQ(((const struct fuse_statfs_out *)payload())->st.namelen, NAME_MAX);
	/* ACCESS */
	struct fuse_access_in ai = {.mask = R_OK | W_OK};
	CHECK_EQ(call(FUSE_ACCESS, f, &ai, sizeof(ai)), 0);
	ai.mask = X_OK;
	if (geteuid() != 0)
		CHECK_EQ(call(FUSE_ACCESS, f, &ai, sizeof(ai)), -EACCES);
	/* FALLOCATE, then LSEEK for data and holes */
	struct fuse_fallocate_in fa = {.fh = fh, .offset = 0, .length = 1 << 20};
	CHECK_EQ(call(FUSE_FALLOCATE, f, &fa, sizeof(fa)), 0);
	struct fuse_getattr_in gi = {0};
	CHECK_EQ(call(FUSE_GETATTR, f, &gi, sizeof(gi)), 0);
	CHECK_EQ(((const struct fuse_attr_out *)payload())->attr.size, 1 << 20);
	struct fuse_setattr_in sa = {.valid = FATTR_SIZE, .size = 0};
	CHECK_EQ(call(FUSE_SETATTR, f, &sa, sizeof(sa)), 0);
	do_write(fh, 1 << 20, "data", 4);
	struct fuse_lseek_in li = {.fh = fh, .offset = 0, .whence = SEEK_DATA};
	CHECK_EQ(call(FUSE_LSEEK, f, &li, sizeof(li)), 0);
	uint64_t data = ((const struct fuse_lseek_out *)payload())->offset;
	CHECK(data > 0 && data <= 1 << 20); /* tmpfs/ext4 report the hole */
	li.whence = SEEK_HOLE;
	CHECK_EQ(call(FUSE_LSEEK, f, &li, sizeof(li)), 0);
	CHECK_EQ(((const struct fuse_lseek_out *)payload())->offset, 0);
	li.whence = 77;
	CHECK_EQ(call(FUSE_LSEEK, f, &li, sizeof(li)), -EINVAL);
	/* COPY_FILE_RANGE */
	uint64_t fh2;
	do_create(1, "g", 0644, &fh2, &err);
	struct fuse_copy_file_range_in cr = {
	    .fh_in = fh, .off_in = 1 << 20, .fh_out = fh2, .off_out = 2, .len = 4};
	CHECK_EQ(call(FUSE_COPY_FILE_RANGE, f, &cr, sizeof(cr)), 0);
	CHECK_EQ(((const struct fuse_write_out *)payload())->size, 4);
	char buf[16];
	read_host("g", buf, sizeof(buf));
	CHECK(!memcmp(buf, "\0\0data", 6));
	cr.flags = 1;
	CHECK_EQ(call(FUSE_COPY_FILE_RANGE, f, &cr, sizeof(cr)), -EINVAL);
	/* Locks are honestly not there; INTERRUPT takes no reply; unknown opcodes. */
	struct fuse_lk_in lk = {.fh = fh};
	CHECK_EQ(call(FUSE_GETLK, f, &lk, sizeof(lk)), -ENOSYS);
	CHECK_EQ(call(FUSE_SETLK, f, &lk, sizeof(lk)), -ENOSYS);
	CHECK_EQ(call(FUSE_SETLKW, f, &lk, sizeof(lk)), -ENOSYS);
	struct fuse_interrupt_in ii = {.unique = 3};
	CHECK_EQ(call(FUSE_INTERRUPT, 0, &ii, sizeof(ii)), 1);
	CHECK_EQ(call(FUSE_IOCTL, f, NULL, 0), -ENOSYS);
	CHECK_EQ(call(FUSE_SETUPMAPPING, f, NULL, 0), -ENOSYS);
	CHECK_EQ(call(9999, f, NULL, 0), -ENOSYS);
	CHECK_EQ(call(0, f, NULL, 0), -ENOSYS);
	CHECK_EQ(call(UINT32_MAX, f, NULL, 0), -ENOSYS);
	do_release(fh, false);
	do_release(fh2, false);
}

TEST(test_xattr)
{
	struct fuse_share *saved = S;
	int err;

	fresh();
	uint64_t f = do_create(1, "f", 0644, NULL, &err);
	/* Off (the default): ENOSYS so the guest stops asking. */
	struct fuse_getxattr_in gx = {.size = 64};
	CHECK_EQ(call_names(FUSE_GETXATTR, f, &gx, sizeof(gx), "user.a", NULL), -ENOSYS);
	CHECK_EQ(call(FUSE_LISTXATTR, f, &gx, sizeof(gx)), -ENOSYS);

	S = share(false, true, 0, 0);
	f = lookup(1, "f", NULL);
	uint8_t a[128];
	struct fuse_setxattr_in sx = {.size = 5};
	memcpy(a, &sx, 8);
	memcpy(a + 8, "user.a\0hello", 12);
	int r = call(FUSE_SETXATTR, f, a, 8 + 12);
	if (r == -EOPNOTSUPP) {
		printf("  (no user xattrs on this file system; xattr test skipped)\n");
		goto out;
	}
	CHECK_EQ(r, 0);
	CHECK_EQ(call_names(FUSE_GETXATTR, f, &gx, sizeof(gx), "user.a", NULL), 0);
	CHECK_EQ(rlen - sizeof(struct fuse_out_header), 5);
	CHECK(!memcmp(payload(), "hello", 5));
	gx.size = 0;
	CHECK_EQ(call_names(FUSE_GETXATTR, f, &gx, sizeof(gx), "user.a", NULL), 0);
	CHECK_EQ(((const struct fuse_getxattr_out *)payload())->size, 5);
	gx.size = 2;
	CHECK_EQ(call_names(FUSE_GETXATTR, f, &gx, sizeof(gx), "user.a", NULL), -ERANGE);
	gx.size = 100;
	CHECK_EQ(call(FUSE_LISTXATTR, f, &gx, sizeof(gx)), 0);
	CHECK(!memcmp(payload(), "user.a", 7));
	CHECK_EQ(call_names(FUSE_REMOVEXATTR, f, NULL, 0, "user.a", NULL), 0);
	CHECK_EQ(call_names(FUSE_GETXATTR, f, &gx, sizeof(gx), "user.a", NULL), -ENODATA);
	/* Value longer than the request carries; name without NUL. */
	sx.size = 500;
	memcpy(a, &sx, 8);
	CHECK_EQ(call(FUSE_SETXATTR, f, a, 8 + 12), -EINVAL);
	CHECK_EQ(call(FUSE_REMOVEXATTR, f, "user.a", 6), -EINVAL);
out:
	fuse_share_destroy(S);
	S = saved;
}

TEST(test_read_only)
{
	struct fuse_share *saved = S;
	char big[64];
	int err;

	fresh();
	sh("echo data > %s/f; mkdir %s/d", root);
	S = share(true, true, 0, 0);
	uint64_t f = lookup(1, "f", NULL), d = lookup(1, "d", NULL);
	CHECK(f > 1 && d > 1);
	/* Reading works. */
	uint64_t fh = do_open(f, O_RDONLY, &err);
	CHECK_EQ(err, 0);
	CHECK_EQ(do_read(fh, 0, 4), 0);
	CHECK(!memcmp(payload(), "data", 4));
	CHECK_EQ(do_write(fh, 0, "x", 1), -EROFS);
	do_open(f, O_RDWR, &err);
	CHECK_EQ(err, -EROFS);
	do_open(f, O_RDONLY | O_TRUNC, &err);
	CHECK_EQ(err, -EROFS);
	do_create(1, "new", 0644, NULL, &err);
	CHECK_EQ(err, -EROFS);
	struct fuse_mkdir_in mi = {.mode = 0755};
	CHECK_EQ(call_names(FUSE_MKDIR, 1, &mi, sizeof(mi), "nd", NULL), -EROFS);
	struct fuse_mknod_in mn = {.mode = S_IFREG | 0644};
	CHECK_EQ(call_names(FUSE_MKNOD, 1, &mn, sizeof(mn), "nn", NULL), -EROFS);
	CHECK_EQ(call_names(FUSE_SYMLINK, 1, NULL, 0, "sl", "f"), -EROFS);
	CHECK_EQ(call_names(FUSE_UNLINK, 1, NULL, 0, "f", NULL), -EROFS);
	CHECK_EQ(call_names(FUSE_RMDIR, 1, NULL, 0, "d", NULL), -EROFS);
	struct fuse_rename_in ri = {.newdir = 1};
	CHECK_EQ(call_names(FUSE_RENAME, 1, &ri, sizeof(ri), "f", "g"), -EROFS);
	struct fuse_rename2_in r2 = {.newdir = 1};
	CHECK_EQ(call_names(FUSE_RENAME2, 1, &r2, sizeof(r2), "f", "g"), -EROFS);
	struct fuse_link_in li = {.oldnodeid = f};
	CHECK_EQ(call_names(FUSE_LINK, 1, &li, sizeof(li), "l", NULL), -EROFS);
	struct fuse_setattr_in sa = {.valid = FATTR_MODE, .mode = 0777};
	CHECK_EQ(call(FUSE_SETATTR, f, &sa, sizeof(sa)), -EROFS);
	struct fuse_fallocate_in fa = {.fh = fh, .length = 100};
	CHECK_EQ(call(FUSE_FALLOCATE, f, &fa, sizeof(fa)), -EROFS);
	struct fuse_copy_file_range_in cr = {.fh_in = fh, .fh_out = fh, .len = 1};
	CHECK_EQ(call(FUSE_COPY_FILE_RANGE, f, &cr, sizeof(cr)), -EROFS);
	struct fuse_setxattr_in sx = {.size = 1};
	memcpy(big, &sx, 8);
	memcpy(big + 8, "user.a\0x", 8);
	CHECK_EQ(call(FUSE_SETXATTR, f, big, 16), -EROFS);
	CHECK_EQ(call_names(FUSE_REMOVEXATTR, f, NULL, 0, "user.a", NULL), -EROFS);
	struct fuse_access_in ai = {.mask = W_OK};
	CHECK_EQ(call(FUSE_ACCESS, f, &ai, sizeof(ai)), -EROFS);
	CHECK(host_exists("f") && host_exists("d") && !host_exists("new") && !host_exists("g"));
	char buf[16];
	read_host("f", buf, sizeof(buf));
	CHECK(!strcmp(buf, "data\n"));
	do_release(fh, false);
	fuse_share_destroy(S);
	S = saved;
}

TEST(test_bad_requests)
{
	struct fuse_in_header h = {.len = 1000, .opcode = FUSE_GETATTR, .unique = 77, .nodeid = 1};
	struct iovec in = {&h, sizeof(h)}, out = {rbuf, sizeof(rbuf)};
	struct fuse_out_header *oh = (struct fuse_out_header *)rbuf;

	/* len larger than the chain */
	CHECK_EQ(fuse_handle(S, &in, 1, &out, 1), 16);
	CHECK_EQ(oh->error, -EINVAL);
	CHECK_EQ(oh->unique, 77);
	/* len smaller than a header */
	h.len = 8;
	CHECK_EQ(fuse_handle(S, &in, 1, &out, 1), 16);
	CHECK_EQ(oh->error, -EINVAL);
	/* fewer readable bytes than a header: nothing to answer to */
	in.iov_len = 20;
	CHECK_EQ(fuse_handle(S, &in, 1, &out, 1), 0);
	CHECK_EQ(fuse_handle(S, NULL, 0, &out, 1), 0);
	/* no room for the reply header */
	in.iov_len = sizeof(h);
	h.len = sizeof(h);
	out.iov_len = 15;
	CHECK_EQ(fuse_handle(S, &in, 1, &out, 1), 0);
	CHECK_EQ(fuse_handle(S, &in, 1, NULL, 0), 0);
	/* GETATTR without its argument struct */
	out.iov_len = sizeof(rbuf);
	CHECK_EQ(fuse_handle(S, &in, 1, &out, 1), 16);
	CHECK_EQ(oh->error, -EINVAL);
	/* Absurd iovec counts */
	CHECK_EQ(fuse_handle(S, &in, -1, &out, 1), 0);
	CHECK_EQ(fuse_handle(S, &in, 1, &out, FUSE_SERVER_MAX_IOV + 1), 0);
	/* Arguments larger than any request may be */
	static uint8_t huge[FUSE_SERVER_MAX_WRITE];
	struct fuse_in_header *hh = (void *)huge;
	*hh = (struct fuse_in_header){.len = sizeof(huge), .opcode = FUSE_SETXATTR, .nodeid = 1};
	struct iovec hin = {huge, sizeof(huge)};
	CHECK_EQ(fuse_handle(S, &hin, 1, &out, 1), 16);
	CHECK_EQ(oh->error, -E2BIG);
	/* A WRITE whose size is larger than the data the chain carries. */
	uint64_t fh;
	int err;
	fresh();
	do_create(1, "f", 0644, &fh, &err);
	struct fuse_write_in wi = {.fh = fh, .size = 100};
	CHECK_EQ(xfer(S, FUSE_WRITE, 1, &wi, sizeof(wi), "abc", 3, sizeof(rbuf)), -EINVAL);
	wi.size = FUSE_SERVER_MAX_WRITE + 1;
	CHECK_EQ(xfer(S, FUSE_WRITE, 1, &wi, sizeof(wi), "abc", 3, sizeof(rbuf)), -EINVAL);
	wi.size = 3;
	wi.offset = UINT64_MAX;
	CHECK_EQ(xfer(S, FUSE_WRITE, 1, &wi, sizeof(wi), "abc", 3, sizeof(rbuf)), -EINVAL);
	/* A short read reply buffer for a readdirplus: nothing fits, empty reply. */
	struct fuse_open_in oi = {0};
	CHECK_EQ(call(FUSE_OPENDIR, 1, &oi, sizeof(oi)), 0);
	uint64_t dfh = ((const struct fuse_open_out *)payload())->fh;
	struct fuse_read_in ri = {.fh = dfh, .size = 4096};
	CHECK_EQ(xfer(S, FUSE_READDIRPLUS, 1, &ri, sizeof(ri), NULL, 0, 16 + 40), 0);
	CHECK_EQ(rlen, 16);
	do_release(dfh, true);
	do_release(fh, false);
	/* Truncated structs for each opcode with a fixed argument. */
	static const uint32_t ops[] = {FUSE_SETATTR,   FUSE_MKNOD,	  FUSE_MKDIR,
				       FUSE_RENAME,    FUSE_RENAME2,	  FUSE_LINK,
				       FUSE_OPEN,      FUSE_READ,	  FUSE_WRITE,
				       FUSE_RELEASE,   FUSE_FSYNC,	  FUSE_FLUSH,
				       FUSE_READDIR,   FUSE_ACCESS,	  FUSE_CREATE,
				       FUSE_FALLOCATE, FUSE_LSEEK,	  FUSE_COPY_FILE_RANGE,
				       FUSE_GETXATTR,  FUSE_LISTXATTR,	  FUSE_SETXATTR,
				       FUSE_FORGET,    FUSE_BATCH_FORGET, FUSE_LOOKUP,
				       FUSE_UNLINK,    FUSE_SYMLINK,	  FUSE_REMOVEXATTR};
	uint8_t zeros[4] = {0};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int e = call(ops[i], 1, zeros, 3);
		CHECK(e == -EINVAL || e == 1 || e == -ENOSYS);
	}
}

TEST(test_limits)
{
	struct fuse_share *saved = S;
	int err;

	fresh();
	sh("touch %s/a %s/b %s/c", root);
	sh("touch %s/d %s/e", root);
	S = share(false, false, 4, 2); /* root + 3 nodes; 2 handles */
	uint64_t a = lookup(1, "a", NULL), b = lookup(1, "b", NULL), c = lookup(1, "c", NULL);
	CHECK(a && b && c);
	CHECK_EQ(lookup(1, "d", &err), 0);
	CHECK_EQ(err, -ENFILE);
	CHECK_EQ(lookup(1, "a", NULL), a); /* an existing node still answers */
	do_create(1, "new", 0644, NULL, &err);
	CHECK_EQ(err, -ENFILE);
	struct fuse_forget_in fi = {.nlookup = 2};
	call(FUSE_FORGET, a, &fi, sizeof(fi));
	uint64_t d = lookup(1, "d", &err);
	CHECK_EQ(err, 0);
	CHECK(d != a); /* the slot is reused with another generation */
	struct fuse_getattr_in gi = {0};
	CHECK_EQ(call(FUSE_GETATTR, a, &gi, sizeof(gi)), -ENOENT);
	/* handles */
	uint64_t h1 = do_open(b, O_RDONLY, &err), h2 = do_open(b, O_RDONLY, NULL);
	CHECK_EQ(err, 0);
	do_open(b, O_RDONLY, &err);
	CHECK_EQ(err, -EMFILE);
	CHECK_EQ(do_release(h1, false), 0);
	uint64_t h3 = do_open(c, O_RDONLY, &err);
	CHECK_EQ(err, 0);
	CHECK(h3 != h1);
	CHECK_EQ(do_read(h1, 0, 1), -EBADF);
	struct fuse_share_stats st;
	fuse_share_get_stats(S, &st);
	CHECK_EQ(st.nr_nodes, 4);
	CHECK_EQ(st.nr_handles, 2);
	/* Reset: only the root stays; INIT is needed again. */
	fuse_share_reset(S);
	fuse_share_get_stats(S, &st);
	CHECK_EQ(st.nr_nodes, 1);
	CHECK_EQ(st.nr_handles, 0);
	CHECK_EQ(call(FUSE_GETATTR, 1, &gi, sizeof(gi)), -EIO);
	CHECK_EQ(do_init(S), 0);
	CHECK_EQ(call(FUSE_GETATTR, b, &gi, sizeof(gi)), -ENOENT);
	CHECK_EQ(do_read(h2, 0, 1), -EBADF);
	CHECK(lookup(1, "e", NULL) > 1);
	/* DESTROY: the next request must INIT again. */
	CHECK_EQ(call(FUSE_DESTROY, 0, NULL, 0), 0);
	CHECK_EQ(call(FUSE_GETATTR, 1, &gi, sizeof(gi)), -EIO);
	fuse_share_destroy(S);
	S = saved;
}

int main(void)
{
	char tmpl[] = "/tmp/arcvmm-fuse-XXXXXX";

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 1;
	}
	test_snprintf(root, sizeof(root), "%s/share", tmpl);
	test_snprintf(outside, sizeof(outside), "%s/outside", tmpl);
	CHECK(mkdir(root, 0755) == 0);
	S = share(false, false, 0, 0);
	if (!S)
		return 1;
	RUN(test_init);
	RUN(test_lookup_getattr);
	RUN(test_names);
	RUN(test_escapes);
	RUN(test_create_read_write);
	RUN(test_dirs);
	RUN(test_rename_link_symlink_mknod);
	RUN(test_setattr);
	RUN(test_misc_ops);
	RUN(test_xattr);
	RUN(test_read_only);
	RUN(test_bad_requests);
	RUN(test_limits);
	fuse_share_destroy(S);
	char cmd[128];
	test_snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpl);
	return test_summary();
}

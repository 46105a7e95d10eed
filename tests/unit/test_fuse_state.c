/* tests/unit/test_fuse_state.c — the FUSE server's snapshot (fs/fuse_state.c): a share's
 * nodes and handles saved, a new share restored from the blob, and the old nodeids and fhs
 * answering GETATTR/READ/READDIR; files gone or replaced on the host becoming dead nodes
 * (ESTALE) and dead handles (EBADF) that FORGET/RELEASE free; another share or other
 * options refused (ESTALE); hostile blobs (cut, flipped, crafted) refused without a crash
 * or a leak, the share left empty. Through the device too (tag, queue count).
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
#include <unistd.h>

#include "core/config.h"
#include "core/snapshot.h"
#include "devices/virtio_fs.h"
#include "fs/fuse_server.h"
#include "tests/unit/test.h"

static char base[64], root[96], other[96];
static uint64_t unique;
static uint8_t rbuf[128 * 1024];
static uint8_t blob[1 << 20];

/* The blob's layout (fs/fuse_state.c), for crafted blobs. */
struct state_hdr {
	uint32_t magic, version;
	uint32_t minor;
	uint8_t is_initialized, is_read_only, has_xattr, cache;
	uint32_t nr_node_slots, nr_fh_slots;
	uint32_t nr_nodes, nr_fhs;
	uint64_t root_dev, root_ino;
};
struct node_rec {
	uint32_t slot, gen;
	uint64_t nlookup;
	uint64_t dev, ino;
	uint32_t type;
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

static void sh(const char *cmd)
{
	CHECK(system(cmd) == 0);
}

/* One request with arguments a then b; the reply's error (0/-errno), 1 for none. */
static int xfer(struct fuse_share *s, uint32_t op, uint64_t nodeid, const void *a, size_t alen,
		const char *n1, const char *n2)
{
	uint8_t req[4096];
	struct fuse_in_header h = {.opcode = op, .unique = ++unique, .nodeid = nodeid};
	size_t len = sizeof(h);
	struct iovec in, out = {rbuf, sizeof(rbuf)};
	struct fuse_out_header oh;

	if (alen)
		memcpy(req + len, a, alen);
	len += alen;
	for (const char *n = n1; n; n = n == n1 ? n2 : NULL) {
		memcpy(req + len, n, strlen(n) + 1);
		len += strlen(n) + 1;
	}
	h.len = (uint32_t)len;
	memcpy(req, &h, sizeof(h));
	in = (struct iovec){req, len};
	if (fuse_handle(s, &in, 1, &out, 1) == 0)
		return 1;
	memcpy(&oh, rbuf, sizeof(oh));
	CHECK_EQ(oh.unique, h.unique);
	return oh.error;
}

static const void *payload(void)
{
	return rbuf + sizeof(struct fuse_out_header);
}

static struct fuse_share *new_share(const char *path, bool ro, bool init)
{
	struct fuse_share_opts o = {.path = path, .is_read_only = ro, .has_xattr = true};
	char err[256];
	struct fuse_share *s = fuse_share_create(&o, err, sizeof(err));
	struct fuse_init_in in = {.major = 7, .minor = 38, .flags = ~0u};

	CHECK(s != NULL);
	if (s && init)
		CHECK_EQ(xfer(s, FUSE_INIT, 0, &in, sizeof(in), NULL, NULL), 0);
	return s;
}

static uint64_t lookup(struct fuse_share *s, uint64_t parent, const char *name)
{
	if (xfer(s, FUSE_LOOKUP, parent, NULL, 0, name, NULL))
		return 0;
	return ((const struct fuse_entry_out *)payload())->nodeid;
}

static uint64_t open_fh(struct fuse_share *s, uint64_t node, uint32_t flags, bool is_dir)
{
	struct fuse_open_in in = {.flags = flags};
	if (xfer(s, is_dir ? FUSE_OPENDIR : FUSE_OPEN, node, &in, sizeof(in), NULL, NULL))
		return UINT64_MAX;
	return ((const struct fuse_open_out *)payload())->fh;
}

static int getattr(struct fuse_share *s, uint64_t node)
{
	struct fuse_getattr_in in = {0};
	return xfer(s, FUSE_GETATTR, node, &in, sizeof(in), NULL, NULL);
}

static int read_fh(struct fuse_share *s, uint64_t fh, uint32_t size, bool is_dir)
{
	struct fuse_read_in in = {.fh = fh, .size = size};
	return xfer(s, is_dir ? FUSE_READDIR : FUSE_READ, 1, &in, sizeof(in), NULL, NULL);
}

static int write_fh(struct fuse_share *s, uint64_t fh, uint64_t off, const char *data)
{
	uint8_t a[256];
	struct fuse_write_in in = {.fh = fh, .offset = off, .size = (uint32_t)strlen(data)};

	memcpy(a, &in, sizeof(in));
	memcpy(a + sizeof(in), data, strlen(data));
	return xfer(s, FUSE_WRITE, 1, a, sizeof(in) + strlen(data), NULL, NULL);
}

static void forget(struct fuse_share *s, uint64_t node, uint64_t n)
{
	struct fuse_forget_in in = {.nlookup = n};
	CHECK_EQ(xfer(s, FUSE_FORGET, node, &in, sizeof(in), NULL, NULL), 1);
}

static int release(struct fuse_share *s, uint64_t fh, bool is_dir)
{
	struct fuse_release_in in = {.fh = fh};
	return xfer(s, is_dir ? FUSE_RELEASEDIR : FUSE_RELEASE, 1, &in, sizeof(in), NULL, NULL);
}

static struct fuse_share_stats stats(struct fuse_share *s)
{
	struct fuse_share_stats st;
	fuse_share_get_stats(s, &st);
	return st;
}

/* Does a READDIR reply (in rbuf) name `name`? */
static bool dir_has(const char *name)
{
	const struct fuse_out_header *oh = (const void *)rbuf;
	size_t len = oh->len - sizeof(*oh), off = 0;

	while (off + FUSE_NAME_OFFSET <= len) {
		const struct fuse_dirent *d = (const void *)((const uint8_t *)payload() + off);
		if (d->namelen == strlen(name) && !memcmp(d->name, name, d->namelen))
			return true;
		off += FUSE_DIRENT_SIZE(d);
	}
	return false;
}

static void populate(void)
{
	char cmd[1024];
	test_snprintf(cmd, sizeof(cmd),
		      "rm -rf %s/* %s/* && mkdir -p %s/d/e && echo hello >%s/d/f && "
		      "echo gone >%s/g && echo old >%s/r && echo mv >%s/m && ln -s /etc %s/abs && "
		      "mkfifo %s/fifo",
		      root, other, root, root, root, root, root, root, root);
	sh(cmd);
}

/* The state of a share holding: d, d/f (open rw), d/e, d (open as a dir), g (open, then
 * unlinked on the host), r (replaced on the host by another file), m (renamed on the host),
 * abs (a symlink), fifo. Saved into blob; returns its length. */
struct ids {
	uint64_t d, f, e, g, r, m, abs, fifo;
	uint64_t fh_f, fh_d, fh_g;
};

static long build_and_save(struct ids *id)
{
	struct fuse_share *a = new_share(root, false, true);
	char cmd[512];
	long n;

	populate();
	id->d = lookup(a, FUSE_ROOT_ID, "d");
	id->f = lookup(a, id->d, "f");
	id->e = lookup(a, id->d, "e");
	id->g = lookup(a, FUSE_ROOT_ID, "g");
	id->r = lookup(a, FUSE_ROOT_ID, "r");
	id->m = lookup(a, FUSE_ROOT_ID, "m");
	id->abs = lookup(a, FUSE_ROOT_ID, "abs");
	id->fifo = lookup(a, FUSE_ROOT_ID, "fifo");
	CHECK(id->d && id->f && id->e && id->g && id->r && id->m && id->abs && id->fifo);
	CHECK_EQ(lookup(a, id->d, "f"), id->f); /* a second lookup: nlookup 2 */
	id->fh_f = open_fh(a, id->f, O_RDWR, false);
	id->fh_d = open_fh(a, id->d, O_RDONLY, true);
	id->fh_g = open_fh(a, id->g, O_RDONLY, false);
	CHECK(id->fh_f != UINT64_MAX && id->fh_d != UINT64_MAX && id->fh_g != UINT64_MAX);
	/* A handle released before the save is not carried over. */
	uint64_t fh_x = open_fh(a, id->m, O_RDONLY, false);
	CHECK_EQ(release(a, fh_x, false), 0);
	test_snprintf(cmd, sizeof(cmd), "rm %s/g && rm %s/r && echo new >%s/r && mv %s/m %s/d/m2",
		      root, root, root, root, root);
	sh(cmd);
	n = fuse_share_save(a, blob, sizeof(blob));
	CHECK(n > (long)sizeof(struct state_hdr));
	CHECK_EQ(fuse_share_save(a, blob, 10), -ENOSPC);
	CHECK_EQ(fuse_share_save(a, blob, (size_t)n - 1), -ENOSPC);
	CHECK_EQ(fuse_share_save(a, blob, sizeof(blob)), n); /* the same again */
	fuse_share_destroy(a);
	return n;
}

TEST(test_round_trip)
{
	struct ids id;
	long n = build_and_save(&id);
	struct fuse_share *b = new_share(root, false, false);
	struct fuse_share_stats st;
	char cmd[512];

	/* Between the save and the restore, the host replaces d/e by another directory. */
	test_snprintf(cmd, sizeof(cmd), "mkdir %s/d/e2 && rmdir %s/d/e && mv %s/d/e2 %s/d/e", root,
		      root, root, root);
	sh(cmd);
	CHECK_EQ(fuse_share_restore(b, blob, (size_t)n), 0);
	st = stats(b);
	CHECK_EQ(st.nr_nodes, 9);      /* root + 8 */
	CHECK_EQ(st.nr_handles, 3);    /* f, d, g */
	CHECK_EQ(st.nr_dead_nodes, 3); /* g, r, e */
	CHECK_EQ(st.nr_dead_handles, 1);
	/* No INIT again: the restored share is initialised, the old ids work. */
	CHECK_EQ(getattr(b, id.d), 0);
	CHECK_EQ(((const struct fuse_attr_out *)payload())->attr.mode & S_IFMT, S_IFDIR);
	CHECK_EQ(getattr(b, id.f), 0);
	CHECK_EQ(((const struct fuse_attr_out *)payload())->attr.size, 6);
	CHECK_EQ(read_fh(b, id.fh_f, 100, false), 0);
	CHECK(!memcmp(payload(), "hello\n", 6));
	CHECK_EQ(write_fh(b, id.fh_f, 0, "HE"), 0); /* opened O_RDWR: still writable */
	CHECK_EQ(read_fh(b, id.fh_f, 100, false), 0);
	CHECK(!memcmp(payload(), "HEllo\n", 6));
	CHECK_EQ(read_fh(b, id.fh_d, 4096, true), 0);
	CHECK(dir_has("f") && dir_has("e") && dir_has("m2"));
	CHECK_EQ(getattr(b, id.e), -ESTALE); /* another inode now */
	CHECK_EQ(getattr(b, id.m), 0);	     /* renamed on the host before the save: found there */
	CHECK_EQ(getattr(b, id.abs), 0);
	CHECK_EQ(((const struct fuse_attr_out *)payload())->attr.mode & S_IFMT, S_IFLNK);
	CHECK_EQ(xfer(b, FUSE_READLINK, id.abs, NULL, 0, NULL, NULL), 0);
	CHECK(!memcmp(payload(), "/etc", 4));
	CHECK_EQ(getattr(b, id.fifo), 0);
	/* Unlinked (g) and replaced (r) on the host: dead nodes, ESTALE; g's handle EBADF. */
	CHECK_EQ(getattr(b, id.g), -ESTALE);
	CHECK_EQ(getattr(b, id.r), -ESTALE);
	CHECK_EQ(xfer(b, FUSE_LOOKUP, id.r, NULL, 0, "x", NULL), -ESTALE);
	CHECK_EQ(read_fh(b, id.fh_g, 100, false), -EBADF);
	/* A new lookup of r finds the new file under a new id; of f, the restored node. */
	uint64_t r2 = lookup(b, FUSE_ROOT_ID, "r");
	CHECK(r2 && r2 != id.r);
	CHECK_EQ(lookup(b, id.d, "f"), id.f);
	/* Dead ones are freed by FORGET / RELEASE like any other. */
	CHECK_EQ(release(b, id.fh_g, false), 0);
	CHECK_EQ(release(b, id.fh_g, false), -EBADF);
	forget(b, id.g, 1);
	forget(b, id.r, 1);
	st = stats(b);
	CHECK_EQ(st.nr_nodes, 8); /* - g - r + r2 */
	CHECK_EQ(st.nr_handles, 2);
	CHECK_EQ(getattr(b, id.g), -ENOENT);
	/* f had 2 lookups before the save and one after: three forgets drop it. */
	forget(b, id.f, 2);
	CHECK_EQ(getattr(b, id.f), 0);
	forget(b, id.f, 1);
	CHECK_EQ(getattr(b, id.f), -ENOENT);
	CHECK_EQ(read_fh(b, id.fh_f, 100, false), 0); /* the handle outlives the node's ids */
	/* New creations get fresh ids that do not clash with the restored ones. */
	struct fuse_create_in ci = {.flags = O_RDWR | O_CREAT, .mode = S_IFREG | 0644};
	CHECK_EQ(xfer(b, FUSE_CREATE, id.d, &ci, sizeof(ci), "new", NULL), 0);
	const struct fuse_entry_out *eo = payload();
	uint64_t nn = eo->nodeid, nfh = ((const struct fuse_open_out *)(eo + 1))->fh;
	CHECK(nn != id.d && nn != id.e && nn != id.m && nn != id.abs && nn != id.fifo);
	CHECK(nfh != id.fh_f && nfh != id.fh_d);
	/* A second save of the restored share (dead entries included) restores again. */
	long n2 = fuse_share_save(b, blob, sizeof(blob));
	CHECK(n2 > 0);
	fuse_share_destroy(b);
	b = new_share(root, false, false);
	CHECK_EQ(fuse_share_restore(b, blob, (size_t)n2), 0);
	CHECK_EQ(getattr(b, nn), 0);
	CHECK_EQ(read_fh(b, id.fh_d, 4096, true), 0);
	CHECK(dir_has("new"));
	CHECK_EQ(getattr(b, id.f), -ENOENT);
	fuse_share_destroy(b);
}

TEST(test_other_share_or_options)
{
	struct ids id;
	long n = build_and_save(&id);
	struct fuse_share *b = new_share(other, false, false);

	CHECK_EQ(fuse_share_restore(b, blob, (size_t)n), -ESTALE); /* another directory */
	fuse_share_destroy(b);
	b = new_share(root, true, false); /* ro */
	CHECK_EQ(fuse_share_restore(b, blob, (size_t)n), -ESTALE);
	CHECK_EQ(stats(b).nr_nodes, 1);
	fuse_share_destroy(b);
}

/* A blob that must be refused: -EINVAL (or -ESTALE), and the share holds only the root. */
#define expect_refused(b, p, len) expect_refused_at(__LINE__, b, p, len)
static void expect_refused_at(int line, struct fuse_share *b, const void *p, size_t len)
{
	int r = fuse_share_restore(b, p, len);
	if (r != -EINVAL && r != -ESTALE)
		fprintf(stderr, "  line %d: a %zu-byte blob: restore answered %d\n", line, len, r);
	CHECK(r == -EINVAL || r == -ESTALE);
	struct fuse_share_stats st = stats(b);
	CHECK_EQ(st.nr_nodes, 1);
	CHECK_EQ(st.nr_handles, 0);
}

TEST(test_hostile_blobs)
{
	struct ids id;
	long n = build_and_save(&id);
	struct fuse_share *b = new_share(root, false, false);
	static uint8_t c[1 << 20];
	struct state_hdr h;

	/* Every cut. */
	for (long len = 0; len < n; len++)
		expect_refused(b, blob, (size_t)len);
	/* Trailing bytes. */
	memcpy(c, blob, (size_t)n);
	c[n] = 0;
	expect_refused(b, c, (size_t)n + 1);
	/* Bytes flipped anywhere: never a crash; a refused one leaves the share empty. */
	srand(7);
	for (int i = 0; i < 3000; i++) {
		memcpy(c, blob, (size_t)n);
		for (int k = 0; k < 1 + i % 4; k++)
			c[rand() % n] ^= (uint8_t)(1 + rand() % 255);
		int r = fuse_share_restore(b, c, (size_t)n);
		if (r) {
			CHECK_EQ(stats(b).nr_nodes, 1);
			CHECK_EQ(stats(b).nr_handles, 0);
		}
		fuse_share_reset(b);
	}
	/* Crafted: header fields. */
	memcpy(&h, blob, sizeof(h));
	struct state_hdr bad[] = {h, h, h, h, h, h, h};
	bad[0].magic ^= 1;
	bad[1].version = 2;
	bad[2].nr_node_slots = 0xffffffffu; /* beyond the table */
	bad[3].nr_nodes = h.nr_node_slots;  /* more records than slots */
	bad[4].nr_fh_slots = 1u << 30;
	bad[5].cache = 9;
	bad[6].minor = 5;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(c, blob, (size_t)n);
		memcpy(c, &bad[i], sizeof(h));
		expect_refused(b, c, (size_t)n);
	}
	/* Crafted: one node record with a hostile path or slot. */
	const char *paths[] = {"/etc", "..", "d/../../x", "d//f", "./d", "d/.", "a\0b", ""};
	size_t plens[] = {4, 2, 9, 4, 3, 3, 3, 0};
	for (unsigned i = 0; i < sizeof(paths) / sizeof(paths[0]) + 3; i++) {
		struct state_hdr hh = h;
		struct node_rec nr = {.slot = 1, .gen = 0, .nlookup = 1, .type = S_IFDIR};
		size_t len = sizeof(hh) + sizeof(nr);
		hh.nr_nodes = 1;
		hh.nr_fhs = 0;
		if (i < sizeof(paths) / sizeof(paths[0])) {
			if (plens[i] == 0)
				continue; /* a dead node: fine */
			nr.path_len = (uint32_t)plens[i];
		} else if (i == sizeof(paths) / sizeof(paths[0])) {
			nr.slot = 0; /* the root's slot */
		} else if (i == sizeof(paths) / sizeof(paths[0]) + 1) {
			nr.slot = hh.nr_node_slots; /* past the table */
		} else {
			nr.type = 0170000; /* no such type */
		}
		memcpy(c, &hh, sizeof(hh));
		memcpy(c + sizeof(hh), &nr, sizeof(nr));
		if (nr.path_len) {
			memcpy(c + len, paths[i], plens[i]);
			len += plens[i];
		}
		expect_refused(b, c, len);
	}
	/* Two records for one slot; a path_len past the end. */
	{
		struct state_hdr hh = h;
		struct node_rec nr = {.slot = 1, .nlookup = 1, .type = S_IFREG};
		hh.nr_nodes = 2;
		hh.nr_fhs = 0;
		memcpy(c, &hh, sizeof(hh));
		memcpy(c + sizeof(hh), &nr, sizeof(nr));
		memcpy(c + sizeof(hh) + sizeof(nr), &nr, sizeof(nr));
		expect_refused(b, c, sizeof(hh) + 2 * sizeof(nr));
		hh.nr_nodes = 1;
		nr.path_len = 1000;
		memcpy(c, &hh, sizeof(hh));
		memcpy(c + sizeof(hh), &nr, sizeof(nr));
		expect_refused(b, c, sizeof(hh) + sizeof(nr) + 10);
	}
	/* A path through a symlink (abs -> /etc) or naming the symlink as a directory: a dead
	 * node, never /etc. */
	{
		struct state_hdr hh = h;
		struct node_rec nr = {.slot = 1, .nlookup = 1, .type = S_IFDIR, .path_len = 3};
		struct stat est;
		CHECK(stat("/etc", &est) == 0);
		nr.dev = est.st_dev;
		nr.ino = est.st_ino;
		hh.nr_nodes = 1;
		hh.nr_fhs = 0;
		memcpy(c, &hh, sizeof(hh));
		memcpy(c + sizeof(hh), &nr, sizeof(nr));
		memcpy(c + sizeof(hh) + sizeof(nr), "abs", 3);
		CHECK_EQ(fuse_share_restore(b, c, sizeof(hh) + sizeof(nr) + 3), 0);
		CHECK_EQ(stats(b).nr_dead_nodes, 1);
		CHECK_EQ(getattr(b, 1 + 1), -ESTALE);
		fuse_share_reset(b);
		nr.path_len = 10;
		memcpy(c + sizeof(hh), &nr, sizeof(nr));
		memcpy(c + sizeof(hh) + sizeof(nr), "abs/passwd", 10);
		CHECK_EQ(fuse_share_restore(b, c, sizeof(hh) + sizeof(nr) + 10), 0);
		CHECK_EQ(stats(b).nr_dead_nodes, 1);
		fuse_share_reset(b);
	}
	/* Handle records: bad flags, a write handle... */
	{
		struct state_hdr hh = h;
		struct fh_rec fr = {.slot = 0,
				    .nodeid = FUSE_ROOT_ID,
				    .is_dir = 1,
				    .flags = O_RDONLY | O_DIRECTORY};
		struct fh_rec bads[] = {fr, fr, fr, fr, fr};
		bads[0].flags = O_RDWR | O_DIRECTORY; /* a writable directory */
		bads[1].flags = O_RDONLY;	      /* is_dir without O_DIRECTORY */
		bads[2].flags |= O_CREAT;
		bads[3].is_dir = 7;
		bads[4].slot = hh.nr_fh_slots;
		hh.nr_nodes = 0;
		hh.nr_fhs = 1;
		for (unsigned i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
			memcpy(c, &hh, sizeof(hh));
			memcpy(c + sizeof(hh), &bads[i], sizeof(fr));
			expect_refused(b, c, sizeof(hh) + sizeof(fr));
		}
		/* The root as a directory handle with its identity: a live handle. */
		struct stat rst;
		CHECK(stat(root, &rst) == 0);
		fr.dev = rst.st_dev;
		fr.ino = rst.st_ino;
		memcpy(c + sizeof(hh), &fr, sizeof(fr));
		CHECK_EQ(fuse_share_restore(b, c, sizeof(hh) + sizeof(fr)), 0);
		CHECK_EQ(stats(b).nr_dead_handles, 0);
		CHECK_EQ(read_fh(b, 0, 4096, true), 0);
		CHECK(dir_has("d"));
		/* ...on a node that is no directory, or an unknown node: dead, not refused. */
		fr.nodeid = 12345;
		memcpy(c + sizeof(hh), &fr, sizeof(fr));
		CHECK_EQ(fuse_share_restore(b, c, sizeof(hh) + sizeof(fr)), 0);
		CHECK_EQ(stats(b).nr_dead_handles, 1);
		CHECK_EQ(read_fh(b, 0, 4096, true), -EBADF);
		fuse_share_reset(b);
	}
	/* After all that, the genuine blob still restores. */
	CHECK_EQ(fuse_share_restore(b, blob, (size_t)n), 0);
	CHECK_EQ(getattr(b, id.d), 0);
	CHECK_EQ(getattr(b, id.e), 0);
	fuse_share_destroy(b);
}

TEST(test_device_save_restore)
{
	struct virtio_fs_config cfg = {.path = root, .nr_queues = 2};
	char err[256];
	struct virtio_fs *a, *b;
	long n;

	snprintf(cfg.tag, sizeof(cfg.tag), "share");
	a = virtio_fs_create(&cfg, err, sizeof(err));
	CHECK(a != NULL);
	if (!a)
		return;
	n = virtio_fs_ops.save(a, blob, sizeof(blob));
	CHECK(n > 0);
	CHECK_EQ(virtio_fs_ops.save(a, blob, 8), -ENOSPC);
	b = virtio_fs_create(&cfg, err, sizeof(err));
	CHECK_EQ(virtio_fs_ops.restore(b, blob, (size_t)n), 0);
	CHECK_EQ(virtio_fs_ops.restore(b, blob, 4), -EINVAL);
	virtio_fs_ops.destroy(b);
	snprintf(cfg.tag, sizeof(cfg.tag), "other");
	b = virtio_fs_create(&cfg, err, sizeof(err));
	CHECK_EQ(virtio_fs_ops.restore(b, blob, (size_t)n), -ESTALE); /* another tag */
	virtio_fs_ops.destroy(b);
	snprintf(cfg.tag, sizeof(cfg.tag), "share");
	cfg.nr_queues = 3;
	b = virtio_fs_create(&cfg, err, sizeof(err));
	CHECK_EQ(virtio_fs_ops.restore(b, blob, (size_t)n), -ESTALE); /* another queue count */
	virtio_fs_ops.destroy(b);
	virtio_fs_ops.destroy(a);
}

/* The snapshot's config carries the shares, so the restored VM has the same devices. */
TEST(test_snapshot_config_shares)
{
	struct vm_config a, b;
	struct vm_fs_config f1 = {.path = root, .queues = 4, .has_xattr = true, .cache = 2};
	struct vm_fs_config f2 = {.path = other, .queues = 1, .is_read_only = true, .cache = 1};
	char err[256];
	uint64_t clock;

	config_init(&a);
	config_init(&b);
	a.ncpus = 1;
	a.mem_size = 64ULL << 20;
	snprintf(f1.tag, sizeof(f1.tag), "rw");
	snprintf(f2.tag, sizeof(f2.tag), "ro");
	CHECK_EQ(config_add_fs(&a, &f1, "t", err, sizeof(err)), 0);
	CHECK_EQ(config_add_fs(&a, &f2, "t", err, sizeof(err)), 0);
	char *j = snapshot_config_json(&a);
	CHECK(j && strstr(j, "\"fs\""));
	CHECK_EQ(snapshot_config_parse(&b, j, strlen(j), &clock, err, sizeof(err)), 0);
	CHECK_EQ(b.nr_fs, 2);
	CHECK(b.fs[0].path && !strcmp(b.fs[0].path, root) && !strcmp(b.fs[0].tag, "rw"));
	CHECK(b.fs[0].queues == 4 && b.fs[0].has_xattr && !b.fs[0].is_read_only &&
	      b.fs[0].cache == 2);
	CHECK(b.fs[1].path && !strcmp(b.fs[1].path, other) && !strcmp(b.fs[1].tag, "ro"));
	CHECK(b.fs[1].queues == 1 && !b.fs[1].has_xattr && b.fs[1].is_read_only &&
	      b.fs[1].cache == 1);
	free(j);
	config_fini(&a);
	config_fini(&b);
}

int main(void)
{
	char cmd[128];

	test_snprintf(base, sizeof(base), "/tmp/arcvmm-fstate-XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	test_snprintf(root, sizeof(root), "%s/share", base);
	test_snprintf(other, sizeof(other), "%s/other", base);
	CHECK(mkdir(root, 0755) == 0 && mkdir(other, 0755) == 0);
	RUN(test_round_trip);
	RUN(test_other_share_or_options);
	RUN(test_hostile_blobs);
	RUN(test_device_save_restore);
	RUN(test_snapshot_config_shares);
	test_snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
	return test_summary();
}

/* tests/fuzz/fuzz_fs_state.c — libFuzzer target for the FUSE server's snapshot blob parser
 * (fs/fuse_state.c, instrumented): fuse_share_restore() of arbitrary bytes into a share in
 * a temporary directory.
 *
 * Input: the blob (the format in fs/fuse_state.c). Two helps so the fuzzer gets past the
 * identity checks it cannot guess: the header's root (dev, ino) is set to the real root's
 * (when the input is long enough), and a node or handle record whose ino is 0 gets the
 * (dev, ino) of what its path (a node) or its node (a handle) names now, if anything.
 * After a successful restore: GETATTR on the first slots' nodeids and READ/READDIR on the
 * first fhs (their replies checked as in fuzz_fuse), a save that must succeed and restore
 * again, then a reset.
 * Oracles: no crash or leak (ASan); a failed restore leaves only the root and no handle;
 * the file outside the share is never touched.
 */
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fuse_server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The blob's layout (fs/fuse_state.c). */
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

static char base[64], root[96], outside[96];
static struct fuse_share *share;
static struct stat outside_st, root_st;
static uint8_t blob[1 << 20], saved[1 << 20], outbuf[70000];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct fuse_share_opts o = {.has_xattr = true, .max_nodes = 256, .max_handles = 64};
	char err[256], cmd[640];
	int fd;

	snprintf(base, sizeof(base), "/tmp/arcvmm-fuzz-fss-XXXXXX");
	if (!mkdtemp(base))
		abort();
	snprintf(root, sizeof(root), "%s/share", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	fd = open(outside, O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "secret", 6) != 6)
		abort();
	close(fd);
	stat(outside, &outside_st);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/d/e && echo hi >%s/f && echo there >%s/d/g && ln -s /etc %s/abs && "
		 "ln -s ../outside %s/rel && mkfifo %s/fifo",
		 root, root, root, root, root, root);
	if (system(cmd) != 0)
		abort();
	stat(root, &root_st);
	o.path = root;
	share = fuse_share_create(&o, err, sizeof(err));
	if (!share) {
		fprintf(stderr, "fuzz_fs_state: %s\n", err);
		abort();
	}
	return 0;
}

/* The fuzzer's helps (see the top): walks the records as the parser does, bounds-checked. */
static void fill_identities(uint8_t *p, size_t len)
{
	struct state_hdr h;
	size_t off = sizeof(h);
	uint64_t ids[8][3] = {{0}}; /* slot, dev, ino of the first nodes filled */
	unsigned nids = 0;

	if (len < sizeof(h))
		return;
	memcpy(&h, p, sizeof(h));
	h.root_dev = root_st.st_dev;
	h.root_ino = root_st.st_ino;
	memcpy(p, &h, sizeof(h));
	for (uint32_t i = 0; i < h.nr_nodes && i < 64; i++) {
		struct node_rec nr;
		char path[512], full[640];
		struct stat st;
		if (len - off < sizeof(nr))
			return;
		memcpy(&nr, p + off, sizeof(nr));
		if (nr.path_len > len - off - sizeof(nr))
			return;
		if (nr.ino == 0 && nr.path_len && nr.path_len < sizeof(path)) {
			memcpy(path, p + off + sizeof(nr), nr.path_len);
			path[nr.path_len] = 0;
			snprintf(full, sizeof(full), "%s/%s", root, path);
			if (strlen(path) == nr.path_len && lstat(full, &st) == 0) {
				nr.dev = st.st_dev;
				nr.ino = st.st_ino;
				memcpy(p + off, &nr, sizeof(nr));
			}
		}
		if (nids < 8) {
			ids[nids][0] = nr.slot;
			ids[nids][1] = nr.dev;
			ids[nids][2] = nr.ino;
			nids++;
		}
		off += sizeof(nr) + nr.path_len;
	}
	for (uint32_t i = 0; i < h.nr_fhs && i < 64; i++) {
		struct fh_rec fr;
		if (len - off < sizeof(fr))
			return;
		memcpy(&fr, p + off, sizeof(fr));
		if (fr.ino == 0) {
			if (fr.nodeid == FUSE_ROOT_ID) {
				fr.dev = root_st.st_dev;
				fr.ino = root_st.st_ino;
			}
			for (unsigned k = 0; k < nids; k++)
				if ((uint32_t)fr.nodeid == ids[k][0] + 1) {
					fr.dev = ids[k][1];
					fr.ino = ids[k][2];
				}
			memcpy(p + off, &fr, sizeof(fr));
		}
		off += sizeof(fr);
	}
}

static void serve(uint32_t op, uint64_t nodeid, const void *arg, size_t alen)
{
	uint8_t req[128];
	struct fuse_in_header h = {
	    .len = (uint32_t)(sizeof(h) + alen), .opcode = op, .unique = 77, .nodeid = nodeid};
	struct iovec in = {req, sizeof(h) + alen}, out = {outbuf, sizeof(outbuf)};
	struct fuse_out_header oh;

	memcpy(req, &h, sizeof(h));
	memcpy(req + sizeof(h), arg, alen);
	size_t w = fuse_handle(share, &in, 1, &out, 1);
	if (w == 0)
		return;
	memcpy(&oh, outbuf, sizeof(oh));
	if (w > sizeof(outbuf) || w < sizeof(oh) || oh.len != w || oh.unique != 77 ||
	    oh.error > 0 || oh.error < -4095)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuse_share_stats st;
	struct stat ost;

	if (size > sizeof(blob))
		return 0;
	memcpy(blob, data, size);
	fill_identities(blob, size);
	if (fuse_share_restore(share, blob, size) != 0) {
		fuse_share_get_stats(share, &st);
		if (st.nr_nodes != 1 || st.nr_handles != 0)
			abort();
	} else {
		for (uint64_t slot = 1; slot <= 8; slot++) {
			struct fuse_getattr_in g = {0};
			serve(FUSE_GETATTR, slot, &g, sizeof(g));
		}
		for (uint64_t fh = 0; fh < 4; fh++) {
			struct fuse_read_in r = {.fh = fh, .size = 4096};
			serve(FUSE_READ, 1, &r, sizeof(r));
			serve(FUSE_READDIR, 1, &r, sizeof(r));
		}
		long n = fuse_share_save(share, saved, sizeof(saved));
		if (n < 0 || fuse_share_restore(share, saved, (size_t)n) != 0)
			abort();
	}
	fuse_share_reset(share);
	if (stat(outside, &ost) < 0 || ost.st_size != 6 || ost.st_mtime != outside_st.st_mtime ||
	    ost.st_mode != outside_st.st_mode || ost.st_nlink != 1)
		abort();
	return 0;
}

/* tests/fuzz/fuzz_fuse.c — libFuzzer target for the FUSE server (fs/fuse_server.c,
 * instrumented): arbitrary request sequences against a share in a temporary directory.
 *
 * Input: records of [u16 length][u8 split][u8 out size / 256 bytes][length bytes]; each
 * record is one request, its readable bytes split into two iovecs at `split` (mod length)
 * and its reply space (out size * 256, at least 0) split into two. An INIT is served
 * first so the handlers past it are reached.
 * Oracles: a reply never exceeds its space, its header's len equals the bytes returned
 * and its unique echoes the request's; the file outside the share is never touched.
 * The share is reset after every input and emptied every 500 inputs.
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

static char base[64], root[96], outside[96];
static struct fuse_share *share;
static struct stat outside_st;
static unsigned nr_inputs;
static uint8_t reqbuf[70000], outbuf[300000];

static void populate(void)
{
	char cmd[512];

	snprintf(
	    cmd, sizeof(cmd),
	    "mkdir -p %s; chmod -R u+rwX %s; rm -rf %s/* %s/.[!.]*; mkdir %s/d && "
	    "echo hi > %s/f && ln -s /etc %s/abs && ln -s ../outside %s/rel && ln %s/f %s/d/hl",
	    root, root, root, root, root, root, root, root, root, root);
	if (system(cmd) != 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct fuse_share_opts o = {.has_xattr = true, .max_nodes = 64, .max_handles = 16};
	char err[256];
	int fd;

	snprintf(base, sizeof(base), "/tmp/arcvmm-fuzz-fuse-XXXXXX");
	if (!mkdtemp(base))
		abort();
	snprintf(root, sizeof(root), "%s/share", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	fd = open(outside, O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "secret", 6) != 6)
		abort();
	close(fd);
	stat(outside, &outside_st);
	populate();
	o.path = root;
	share = fuse_share_create(&o, err, sizeof(err));
	if (!share) {
		fprintf(stderr, "fuzz_fuse: %s\n", err);
		abort();
	}
	return 0;
}

static void serve(const uint8_t *req, size_t len, size_t split, size_t cap)
{
	struct iovec in[2], out[2];
	struct fuse_out_header oh;
	struct fuse_in_header h = {0};

	if (split > len)
		split = len;
	in[0] = (struct iovec){(void *)req, split};
	in[1] = (struct iovec){(void *)(req + split), len - split};
	out[0] = (struct iovec){outbuf, cap / 3};
	out[1] = (struct iovec){outbuf + cap / 3, cap - cap / 3};
	size_t w = fuse_handle(share, in, 2, out, 2);
	if (w > cap)
		abort();
	if (w == 0)
		return;
	if (w < sizeof(oh) || len < sizeof(h))
		abort();
	memcpy(&oh, outbuf, sizeof(oh));
	memcpy(&h, req, sizeof(h));
	if (oh.len != w || oh.unique != h.unique)
		abort();
	if (oh.error > 0 || oh.error < -4095 || (oh.error && w != sizeof(oh)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} init = {{.len = sizeof(init), .opcode = FUSE_INIT, .unique = 1},
		  {.major = 7, .minor = 38, .flags = ~0u}};
	struct stat st;

	serve((const uint8_t *)&init, sizeof(init), 40, 4096);
	while (size >= 4) {
		size_t len = (size_t)data[0] | (size_t)data[1] << 8;
		size_t split = data[2];
		size_t cap = (size_t)data[3] * 1024 + data[3];
		data += 4;
		size -= 4;
		if (len > size)
			len = size;
		if (len > sizeof(reqbuf))
			len = sizeof(reqbuf);
		memcpy(reqbuf, data, len);
		serve(reqbuf, len, len ? split % (len + 1) : 0, cap);
		data += len;
		size -= len;
	}
	fuse_share_reset(share);
	if (stat(outside, &st) < 0 || st.st_size != 6 || st.st_mtime != outside_st.st_mtime ||
	    st.st_mode != outside_st.st_mode || st.st_nlink != 1)
		abort();
	if (++nr_inputs % 500 == 0)
		populate(); /* empties the share (the root directory itself stays) */
	return 0;
}

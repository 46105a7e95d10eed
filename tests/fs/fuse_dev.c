/* tests/fs/fuse_dev.c — serves a directory through the FUSE server (fs/fuse_server.c)
 * on the HOST kernel's /dev/fuse, without a VM: the same requests a virtio-fs guest
 * sends, so the host's own tools (and fsx, pjdfstest, benchmarks) can be run against
 * the handlers here, where no KVM is needed. Needs root (mount) and /dev/fuse.
 *
 *   fuse_dev DIR MNT [THREADS] [ro] [cache=none|auto|always] [xattr] [seccomp]
 *
 * seccomp: the serving threads run under the virtio-fs workers' allow-list
 * (SECCOMP_KIND_FS, mode on): a call the list lacks ends the process with the line
 * util/seccomp.c prints — so fsx or a test script run on MNT checks the list too.
 *
 * Mounts MNT (fuse, default_permissions,allow_other — what the virtio-fs driver sets),
 * serves until MNT is unmounted (umount MNT), then exits 0.
 *
 * Trusts: the host kernel's requests no more than a guest's (they go through the same
 * fuse_handle()); its arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs/fuse_server.h"
#include "util/seccomp.h"

static struct fuse_share *share;
static int dev_fd;
static bool has_seccomp;

static void *serve(void *arg __attribute__((unused)))
{
	size_t cap = FUSE_SERVER_MAX_WRITE + 8192;
	char *in = malloc(cap), *out = malloc(cap);

	if (has_seccomp && seccomp_apply(SECCOMP_KIND_FS) < 0) {
		fprintf(stderr, "fuse_dev: cannot install the fs seccomp filter\n");
		exit(1);
	}

	for (;;) {
		ssize_t n = read(dev_fd, in, cap);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue;
			break; /* ENODEV: unmounted */
		}
		struct iovec iv = {in, (size_t)n}, ov = {out, cap};
		size_t w = fuse_handle(share, &iv, 1, &ov, 1);
		if (w && write(dev_fd, out, w) < 0 && errno != ENOENT)
			perror("fuse_dev: write");
	}
	free(in);
	free(out);
	return NULL;
}

int main(int argc, char **argv)
{
	struct fuse_share_opts o = {0};
	char err[256], opts[256];
	int threads = argc > 3 ? atoi(argv[3]) : 1;

	if (argc < 3) {
		fprintf(stderr, "usage: fuse_dev DIR MNT [THREADS] [ro] [cache=..] [xattr]\n");
		return 2;
	}
	o.path = argv[1];
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "ro"))
			o.is_read_only = true;
		else if (!strcmp(argv[i], "xattr"))
			o.has_xattr = true;
		else if (!strcmp(argv[i], "cache=none"))
			o.cache = FUSE_CACHE_NONE;
		else if (!strcmp(argv[i], "cache=always"))
			o.cache = FUSE_CACHE_ALWAYS;
		else if (!strcmp(argv[i], "seccomp"))
			has_seccomp = true;
	}
	share = fuse_share_create(&o, err, sizeof(err));
	if (!share) {
		fprintf(stderr, "fuse_dev: %s\n", err);
		return 1;
	}
	dev_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (dev_fd < 0) {
		perror("fuse_dev: /dev/fuse");
		return 1;
	}
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,default_permissions,allow_other",
		 dev_fd);
	if (mount("arcvmm-fs", argv[2], "fuse.arcvmm", 0, opts) < 0) {
		perror("fuse_dev: mount");
		return 1;
	}
	if (threads < 1 || threads > 64)
		threads = 1;
	if (has_seccomp)
		seccomp_set_mode(SECCOMP_ON);
	pthread_t t[64];
	for (int i = 1; i < threads; i++)
		pthread_create(&t[i], NULL, serve, NULL);
	serve(NULL);
	for (int i = 1; i < threads; i++)
		pthread_join(t[i], NULL);
	struct fuse_share_stats st;
	fuse_share_get_stats(share, &st);
	fprintf(stderr, "fuse_dev: %llu requests, %llu malformed, %u nodes left\n",
		(unsigned long long)st.nr_requests, (unsigned long long)st.nr_errors, st.nr_nodes);
	fuse_share_destroy(share);
	return 0;
}

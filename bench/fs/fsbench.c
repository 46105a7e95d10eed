/* bench/fs/fsbench.c — the file-system workloads of issue #11's benchmark, run inside a
 * guest on a virtio-fs mount (static; or on the host against tests/fs/fuse_dev):
 *
 *   fsbench meta DIR N        create + stat + unlink of N small (100-byte) files
 *   fsbench tree DIR N        makes N files in 100 subdirectories, then times a
 *                             recursive readdir + lstat of them (ls -lR) from a cold
 *                             cache (drop_caches when allowed)
 *   fsbench randread FILE MIB COUNT   COUNT 4 KiB preads at random offsets of a MIB file
 *   fsbench seq FILE MIB      1 MiB sequential write (+fsync), drop caches, 1 MiB reads
 *
 * One line per figure: "FSBENCH <name> <value> <unit>".
 * Trusts: its arguments.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			perror("drop_caches");
		close(fd);
	}
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static long walk(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[4096];
	struct stat st;
	long n = 0;

	if (!d)
		die(dir);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st) < 0)
			die(p);
		n++;
		if (S_ISDIR(st.st_mode))
			n += walk(p);
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	static char buf[1 << 20];
	char p[4096];

	if (argc < 4) {
		fprintf(stderr, "usage: see bench/fs/fsbench.c\n");
		return 2;
	}
	memset(buf, 'x', sizeof(buf));
	if (!strcmp(argv[1], "meta")) {
		long n = atol(argv[3]);
		struct stat st;
		double t0 = now();
		for (long i = 0; i < n; i++) {
			snprintf(p, sizeof(p), "%s/m%ld", argv[2], i);
			int fd = open(p, O_CREAT | O_WRONLY | O_EXCL, 0644);
			if (fd < 0 || write(fd, buf, 100) != 100)
				die(p);
			close(fd);
		}
		for (long i = 0; i < n; i++) {
			snprintf(p, sizeof(p), "%s/m%ld", argv[2], i);
			if (stat(p, &st) < 0)
				die(p);
		}
		for (long i = 0; i < n; i++) {
			snprintf(p, sizeof(p), "%s/m%ld", argv[2], i);
			if (unlink(p) < 0)
				die(p);
		}
		printf("FSBENCH meta_create_stat_unlink_%ld %.3f s\n", n, now() - t0);
	} else if (!strcmp(argv[1], "tree")) {
		long n = atol(argv[3]);
		for (int d = 0; d < 100; d++) {
			snprintf(p, sizeof(p), "%s/d%d", argv[2], d);
			mkdir(p, 0755);
		}
		for (long i = 0; i < n; i++) {
			snprintf(p, sizeof(p), "%s/d%ld/f%ld", argv[2], i % 100, i);
			int fd = open(p, O_CREAT | O_WRONLY, 0644);
			if (fd < 0)
				die(p);
			close(fd);
		}
		drop_caches();
		double t0 = now();
		long seen = walk(argv[2]);
		printf("FSBENCH ls_lR_%ld %.3f s (entries %ld)\n", n, now() - t0, seen);
	} else if (!strcmp(argv[1], "randread") && argc == 5) {
		long mib = atol(argv[3]), count = atol(argv[4]);
		int fd = open(argv[2], O_CREAT | O_RDWR, 0644);
		if (fd < 0)
			die(argv[2]);
		for (long m = 0; m < mib; m++)
			if (pwrite(fd, buf, sizeof(buf), m << 20) != (ssize_t)sizeof(buf))
				die("pwrite");
		fsync(fd);
		close(fd);
		drop_caches();
		fd = open(argv[2], O_RDONLY);
		uint64_t x = 88172645463325252ULL;
		double t0 = now();
		for (long i = 0; i < count; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			off_t off = (off_t)(x % (uint64_t)(mib * 256)) * 4096;
			if (pread(fd, buf, 4096, off) != 4096)
				die("pread");
		}
		double t = now() - t0;
		printf("FSBENCH randread_4k %.0f IOPS\n", count / t);
		close(fd);
	} else if (!strcmp(argv[1], "seq")) {
		long mib = atol(argv[3]);
		int fd = open(argv[2], O_CREAT | O_TRUNC | O_WRONLY, 0644);
		if (fd < 0)
			die(argv[2]);
		double t0 = now();
		for (long m = 0; m < mib; m++)
			if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
				die("write");
		fsync(fd);
		double tw = now() - t0;
		close(fd);
		drop_caches();
		fd = open(argv[2], O_RDONLY);
		t0 = now();
		for (long m = 0; m < mib; m++)
			if (read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
				die("read");
		double tr = now() - t0;
		close(fd);
		printf("FSBENCH seq_write_1m %.1f MiB/s\n", mib / tw);
		printf("FSBENCH seq_read_1m %.1f MiB/s\n", mib / tr);
	}
	return 0;
}

/* tests/guest-tools/fst.c — file-system checks busybox cannot do, for tests/linux/fs.sh
 * (static; appended to the guest's initramfs). Each subcommand prints one line
 * "FST <cmd> ok ..." or "FST <cmd> FAIL <why>" and exits 0/1.
 *
 *   fst exchange A B       renameat2(RENAME_EXCHANGE): contents swap
 *   fst noreplace A B      renameat2(RENAME_NOREPLACE) onto an existing B: EEXIST, both kept
 *   fst fallocate F        fallocate 1 MiB, size and blocks grow; punch a hole
 *   fst seekdata F         a file with data at 1 MiB after a hole: SEEK_DATA finds it
 *   fst mmap F             MAP_SHARED write of 64 KiB, msync, drop caches, read back
 *   fst mkmany DIR N       creates N empty files DIR/f<i>
 *   fst countdir DIR       counts entries (without . and ..) with readdir
 *   fst gen F MIB          writes MIB MiB of a deterministic pattern (1 MiB writes)
 *
 * Trusts: its arguments (test code).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE	 2
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_KEEP_SIZE  1
#define FALLOC_FL_PUNCH_HOLE 2
#endif

static const char *cmd;

static int fail(const char *fmt, const char *a)
{
	printf("FST %s FAIL ", cmd);
	printf(fmt, a);
	printf(" (errno %d %s)\n", errno, strerror(errno));
	return 1;
}

static int ren2(const char *a, const char *b, unsigned flags)
{
	return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

static int put(const char *path, const char *text)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int get(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	char b1[64], b2[64];

	if (argc < 3) {
		fprintf(stderr, "usage: fst CMD ARGS\n");
		return 2;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "exchange") && argc == 4) {
		if (put(argv[2], "AAA") || put(argv[3], "BBB"))
			return fail("cannot write %s", argv[2]);
		if (ren2(argv[2], argv[3], RENAME_EXCHANGE) < 0)
			return fail("renameat2 %s", "EXCHANGE");
		if (get(argv[2], b1, sizeof(b1)) || get(argv[3], b2, sizeof(b2)))
			return fail("cannot read %s", argv[2]);
		if (strcmp(b1, "BBB") || strcmp(b2, "AAA"))
			return fail("contents not swapped: %s", b1);
		printf("FST exchange ok\n");
		return 0;
	}
	if (!strcmp(cmd, "noreplace") && argc == 4) {
		if (put(argv[2], "AAA") || put(argv[3], "BBB"))
			return fail("cannot write %s", argv[2]);
		if (ren2(argv[2], argv[3], RENAME_NOREPLACE) == 0 || errno != EEXIST)
			return fail("renameat2 NOREPLACE onto %s did not give EEXIST", argv[3]);
		if (get(argv[3], b2, sizeof(b2)) || strcmp(b2, "BBB"))
			return fail("%s was replaced", argv[3]);
		unlink(argv[3]);
		if (ren2(argv[2], argv[3], RENAME_NOREPLACE) < 0)
			return fail("renameat2 NOREPLACE to a free name %s", argv[3]);
		printf("FST noreplace ok\n");
		return 0;
	}
	if (!strcmp(cmd, "fallocate")) {
		struct stat st;
		int fd = open(argv[2], O_CREAT | O_TRUNC | O_RDWR, 0644);
		if (fd < 0 || fallocate(fd, 0, 0, 1 << 20) < 0)
			return fail("fallocate %s", argv[2]);
		if (fstat(fd, &st) < 0 || st.st_size != 1 << 20 || st.st_blocks < 2048)
			return fail("size/blocks after fallocate wrong on %s", argv[2]);
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 512 << 10) < 0)
			return fail("punch hole in %s", argv[2]);
		if (fstat(fd, &st) < 0 || st.st_size != 1 << 20 || st.st_blocks >= 2048)
			return fail("blocks after the punch not lower on %s", argv[2]);
		printf("FST fallocate ok blocks=%lld\n", (long long)st.st_blocks);
		return 0;
	}
	if (!strcmp(cmd, "seekdata")) {
		int fd = open(argv[2], O_CREAT | O_TRUNC | O_RDWR, 0644);
		if (fd < 0 || pwrite(fd, "data", 4, 1 << 20) != 4)
			return fail("write %s", argv[2]);
		off_t d = lseek(fd, 0, SEEK_DATA), h = lseek(fd, 0, SEEK_HOLE);
		if (d < 0)
			return fail("SEEK_DATA on %s", argv[2]);
		if (d == 0 || d > 1 << 20 || h != 0)
			return fail("SEEK_DATA/HOLE offsets wrong on %s", argv[2]);
		printf("FST seekdata ok data=%lld hole=%lld\n", (long long)d, (long long)h);
		return 0;
	}
	if (!strcmp(cmd, "mmap")) {
		size_t len = 64 << 10;
		int fd = open(argv[2], O_CREAT | O_TRUNC | O_RDWR, 0644);
		if (fd < 0 || ftruncate(fd, (off_t)len) < 0)
			return fail("create %s", argv[2]);
		uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return fail("mmap MAP_SHARED %s", argv[2]);
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)(i * 13 + 7);
		if (msync(p, len, MS_SYNC) < 0)
			return fail("msync %s", argv[2]);
		munmap(p, len);
		close(fd);
		static uint8_t back[64 << 10];
		/* Drop the guest's page cache so the read comes from the host file. */
		int dc = open("/proc/sys/vm/drop_caches", O_WRONLY);
		if (dc >= 0) {
			if (write(dc, "3", 1) != 1)
				perror("drop_caches");
			close(dc);
		}
		fd = open(argv[2], O_RDONLY);
		if (fd < 0 || read(fd, back, len) != (ssize_t)len)
			return fail("read back %s", argv[2]);
		for (size_t i = 0; i < len; i++)
			if (back[i] != (uint8_t)(i * 13 + 7))
				return fail("byte mismatch in %s", argv[2]);
		printf("FST mmap ok\n");
		return 0;
	}
	if (!strcmp(cmd, "mkmany") && argc == 4) {
		char p[4096];
		long n = atol(argv[3]);
		for (long i = 0; i < n; i++) {
			snprintf(p, sizeof(p), "%s/f%ld", argv[2], i);
			int fd = open(p, O_CREAT | O_WRONLY, 0644);
			if (fd < 0)
				return fail("create in %s", argv[2]);
			close(fd);
		}
		printf("FST mkmany ok n=%ld\n", n);
		return 0;
	}
	if (!strcmp(cmd, "countdir")) {
		DIR *d = opendir(argv[2]);
		long n = 0;
		struct dirent *e;
		if (!d)
			return fail("opendir %s", argv[2]);
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				n++;
		closedir(d);
		printf("FST countdir ok n=%ld\n", n);
		return 0;
	}
	if (!strcmp(cmd, "gen") && argc == 4) {
		static uint64_t buf[(1 << 20) / 8];
		long mib = atol(argv[3]);
		uint64_t x = 0x9e3779b97f4a7c15ULL;
		int fd = open(argv[2], O_CREAT | O_TRUNC | O_WRONLY, 0644);
		if (fd < 0)
			return fail("create %s", argv[2]);
		for (long m = 0; m < mib; m++) {
			for (size_t i = 0; i < sizeof(buf) / 8; i++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				buf[i] = x;
			}
			if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
				return fail("write %s", argv[2]);
		}
		if (fsync(fd) < 0 || close(fd) < 0)
			return fail("fsync %s", argv[2]);
		printf("FST gen ok mib=%ld\n", mib);
		return 0;
	}
	fprintf(stderr, "fst: unknown command %s\n", cmd);
	return 2;
}

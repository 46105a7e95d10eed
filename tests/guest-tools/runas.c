/* tests/guest-tools/runas.c — `runas UID GID PROGRAM [ARG...]`: drops every supplementary
 * group, sets the real/effective/saved gid and uid, then runs PROGRAM (PATH searched).
 * For the tests that run arcvmm as an ordinary user inside the nested L1, whose busybox
 * setpriv has no --reuid/--regid. Static, so it runs there without libraries.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int num(const char *s, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return *s && !*end && !errno && *v < 0xffffffffUL ? 0 : -1;
}

int main(int argc, char **argv)
{
	unsigned long uid, gid;

	if (argc < 4 || num(argv[1], &uid) || num(argv[2], &gid)) {
		fprintf(stderr, "usage: runas UID GID PROGRAM [ARG...]\n");
		return 2;
	}
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		fprintf(stderr, "runas: %s\n", strerror(errno));
		return 2;
	}
	execvp(argv[3], argv + 3);
	fprintf(stderr, "runas: %s: %s\n", argv[3], strerror(errno));
	return 127;
}

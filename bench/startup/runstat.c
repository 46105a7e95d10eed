/* bench/startup/runstat.c — runs one command and reports how long it took and how much memory
 * it used: wall time from just before fork() to waitpid() return (CLOCK_MONOTONIC), the exit
 * status, and user/system CPU time and peak RSS from getrusage(RUSAGE_CHILDREN) (this process
 * has exactly one child). The command's stdio is inherited.
 *
 * usage: runstat OUTFILE CMD [ARGS...]   (writes one line "key=value ..." to OUTFILE)
 * Trusts: its arguments.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long ns_of(const struct timespec *t)
{
	return t->tv_sec * 1000000000LL + t->tv_nsec;
}

static long long us_of(const struct timeval *t)
{
	return t->tv_sec * 1000000LL + t->tv_usec;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	FILE *out;
	pid_t pid;
	int status, code;

	if (argc < 3) {
		fprintf(stderr, "usage: runstat OUTFILE CMD [ARGS...]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "runstat: fork: %s\n", strerror(errno));
		return 2;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "runstat: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "runstat: waitpid: %s\n", strerror(errno));
			return 2;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	getrusage(RUSAGE_CHILDREN, &ru);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	out = fopen(argv[1], "w");
	if (!out) {
		fprintf(stderr, "runstat: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	fprintf(out, "wall_ns=%lld status=%d user_us=%lld sys_us=%lld maxrss_kb=%ld\n",
		ns_of(&t1) - ns_of(&t0), code, us_of(&ru.ru_utime), us_of(&ru.ru_stime),
		ru.ru_maxrss);
	if (fclose(out)) {
		fprintf(stderr, "runstat: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	return 0;
}

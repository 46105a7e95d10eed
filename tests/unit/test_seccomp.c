/* tests/unit/test_seccomp.c — util/seccomp: a worker thread gets its kind's filter before
 * its first callback; a call outside the list kills the whole process with one log line
 * (ON), is let through (LOG), or nothing is installed (OFF); allowed calls work.
 *
 * Each case runs in a forked child (a filter cannot be taken off again); the parent reads
 * the child's stderr and exit status. The child arms alarm() so a hang fails, not blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/test.h"
#include "util/seccomp.h"
#include "util/worker.h"

enum action { DO_NOTHING, DO_PREAD, DO_OPEN, DO_SHRINK };

struct job {
	enum action action;
	sem_t done;
	long result;
};

static void job_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct job *j = arg;
	char c;

	if (!events)
		return;
	worker_eventfd_drain(fd);
	if (j->action == DO_PREAD) {
		int f = STDIN_FILENO; /* the parent gave /proc/self/stat... any readable file */
		j->result = pread(f, &c, 1, 0);
	} else if (j->action == DO_OPEN) {
		j->result = open("/dev/null", O_RDONLY | O_CLOEXEC);
	} else if (j->action == DO_SHRINK) {
		/* What the vsock worker does with its per-connection overflow buffers when many
		 * connections close at once (a guest powering off): 256 KiB blocks, allocated
		 * together, then freed. The first round is mmap()ed, which raises glibc's mmap
		 * threshold, so the later rounds come from this thread's arena and freeing them
		 * shrinks its heap — the first shrink in a process makes glibc open
		 * /proc/sys/vm/overcommit_memory. */
		void *p[16];
		j->result = 0;
		for (int round = 0; round < 3; round++) {
			for (int i = 0; i < 16; i++)
				if (!(p[i] = malloc(256 * 1024)))
					j->result = -1;
			for (int i = 15; i >= 0; i--)
				free(p[i]);
		}
	}
	sem_post(&j->done);
}

/* In the child: a worker named name, in mode m, runs action once. Exit 0 if it came back. */
static void child(enum seccomp_mode m, const char *name, enum action action)
{
	struct job j = {.action = action};
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t one = 1;

	alarm(10);
	sem_init(&j.done, 0, 0);
	seccomp_set_mode(m);
	struct worker *w = worker_create(name);
	if (!w || worker_add_fd(w, efd, EPOLLIN, job_cb, &j) || worker_start(w))
		_exit(2);
	if (write(efd, &one, sizeof(one)) != sizeof(one))
		_exit(2);
	while (sem_wait(&j.done) < 0 && errno == EINTR)
		;
	worker_destroy(w);
	_exit(j.result >= 0 ? 0 : 3);
}

/* Runs child() in a fork with ARCVMM_TEST_SECCOMP_VIOLATE=violate (or unset); returns its
 * exit status (-1 if it did not exit normally) and its stderr in err. */
static int run(enum seccomp_mode m, const char *name, enum action action, const char *violate,
	       char *err, size_t errlen)
{
	int p[2], status;
	size_t len = 0;

	if (pipe(p) < 0)
		return -2;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		int f = open("/proc/self/stat", O_RDONLY);
		if (f >= 0)
			dup2(f, STDIN_FILENO);
		if (violate)
			setenv("ARCVMM_TEST_SECCOMP_VIOLATE", violate, 1);
		else
			unsetenv("ARCVMM_TEST_SECCOMP_VIOLATE");
		child(m, name, action);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], err + len, errlen - 1 - len);
		if (n <= 0 || (len += (size_t)n) >= errlen - 1)
			break;
	}
	err[len] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Regression: the vsock worker was killed for an openat at guest power-off (two nested
 * runs). glibc's first heap shrink in a non-main arena reads
 * /proc/sys/vm/overcommit_memory; seccomp_set_mode() now makes that happen before any
 * filter exists. First in main(): the check is once per process (and a fork inherits it). */
TEST(worker_heap_shrink_is_not_a_violation)
{
	char err[1024];
	int rc = run(SECCOMP_ON, "vsock", DO_SHRINK, NULL, err, sizeof(err));
	if (rc)
		fprintf(stderr, "  child rc %d: %s\n", rc, err);
	CHECK_EQ(rc, 0);
	CHECK_EQ(strlen(err), 0);
}

TEST(hook_kills_blk_worker_with_log_line)
{
	char err[512];
	int rc = run(SECCOMP_ON, "blk0-q0", DO_NOTHING, "blk", err, sizeof(err));
	CHECK_EQ(rc, SECCOMP_EXIT_STATUS);
	CHECK(strstr(err, "arcvmm: seccomp: thread blk0-q0 (blk) made forbidden syscall") != NULL);
	CHECK(strstr(err, "(getppid); killing the VM") != NULL);
}

TEST(hook_of_other_kind_does_not_fire)
{
	char err[512];
	CHECK_EQ(run(SECCOMP_ON, "blk0-q0", DO_NOTHING, "net", err, sizeof(err)), 0);
	CHECK_EQ(strlen(err), 0);
}

TEST(allowed_call_works_under_filter)
{
	char err[512];
	CHECK_EQ(run(SECCOMP_ON, "blk0-q0", DO_PREAD, NULL, err, sizeof(err)), 0);
	CHECK_EQ(strlen(err), 0);
}

TEST(net_worker_may_not_open_files)
{
	char err[512];
	int rc = run(SECCOMP_ON, "net-rx", DO_OPEN, NULL, err, sizeof(err));
	CHECK_EQ(rc, SECCOMP_EXIT_STATUS);
	CHECK(strstr(err, "thread net-rx (net) made forbidden syscall") != NULL);
	CHECK(strstr(err, "(openat)") != NULL);
	/* Neither may a blk, rng or console worker. */
	CHECK_EQ(run(SECCOMP_ON, "blk1-q0", DO_OPEN, NULL, err, sizeof(err)), SECCOMP_EXIT_STATUS);
	CHECK_EQ(run(SECCOMP_ON, "virtio-rng", DO_OPEN, NULL, err, sizeof(err)),
		 SECCOMP_EXIT_STATUS);
	CHECK_EQ(run(SECCOMP_ON, "vconsole", DO_OPEN, NULL, err, sizeof(err)), SECCOMP_EXIT_STATUS);
}

TEST(log_mode_lets_the_call_through)
{
	char err[512];
	CHECK_EQ(run(SECCOMP_LOG, "net-rx", DO_OPEN, NULL, err, sizeof(err)), 0);
	CHECK_EQ(run(SECCOMP_LOG, "blk0-q0", DO_NOTHING, "blk", err, sizeof(err)), 0);
}

TEST(off_mode_installs_nothing)
{
	char err[512];
	CHECK_EQ(run(SECCOMP_OFF, "net-rx", DO_OPEN, "net", err, sizeof(err)), 0);
	CHECK_EQ(strlen(err), 0);
}

TEST(modes_kinds_and_counts)
{
	enum seccomp_mode m = SECCOMP_OFF;
	CHECK_EQ(seccomp_parse_mode("on", &m), 0);
	CHECK_EQ(m, SECCOMP_ON);
	CHECK_EQ(seccomp_parse_mode("log", &m), 0);
	CHECK_EQ(m, SECCOMP_LOG);
	CHECK_EQ(seccomp_parse_mode("off", &m), 0);
	CHECK_EQ(m, SECCOMP_OFF);
	CHECK_EQ(seccomp_parse_mode("yes", &m), -EINVAL);
	CHECK_EQ(seccomp_kind_for_worker("blk3-q1"), SECCOMP_KIND_BLK);
	CHECK_EQ(seccomp_kind_for_worker("net-tx"), SECCOMP_KIND_NET);
	CHECK_EQ(seccomp_kind_for_worker("vconsole"), SECCOMP_KIND_CONSOLE);
	CHECK_EQ(seccomp_kind_for_worker("virtio-rng"), SECCOMP_KIND_RNG);
	CHECK_EQ(seccomp_kind_for_worker("mystery"), SECCOMP_KIND_WORKER);
	/* The device workers' lists are the narrowest, the control thread's the widest. */
	CHECK(seccomp_rule_count(SECCOMP_KIND_RNG) > 20);
	CHECK(seccomp_rule_count(SECCOMP_KIND_RNG) < seccomp_rule_count(SECCOMP_KIND_BLK));
	CHECK(seccomp_rule_count(SECCOMP_KIND_BLK) < seccomp_rule_count(SECCOMP_KIND_CONTROL));
	for (int k = 0; k < SECCOMP_KIND_COUNT; k++)
		printf("     %-8s %u rules\n", seccomp_kind_name((enum seccomp_kind)k),
		       seccomp_rule_count((enum seccomp_kind)k));
}

int main(void)
{
	RUN(worker_heap_shrink_is_not_a_violation);
	RUN(hook_kills_blk_worker_with_log_line);
	RUN(hook_of_other_kind_does_not_fire);
	RUN(allowed_call_works_under_filter);
	RUN(net_worker_may_not_open_files);
	RUN(log_mode_lets_the_call_through);
	RUN(off_mode_installs_nothing);
	RUN(modes_kinds_and_counts);
	return test_summary();
}

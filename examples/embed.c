/* embed.c — an example embedder of libarcvmm, and a test of the library (tests/embed runs
 * it): it uses nothing but <arcvmm.h>.
 *
 *   embed KERNEL      KERNEL: a guest that never ends and keeps printing on the serial
 *                     console, e.g. build/guests/tick.elf ("GUEST-TICK", then dots)
 *
 * It boots two VMs side by side in this process with their consoles on pipes, pauses one
 * and checks that its guest really stops (no output while paused) and goes on after the
 * resume, asks it to shut down, hard-stops both and reads why they ended. Each step prints
 * "ok ..." or "FAIL ..."; the exit status is the number of failures (0: all passed).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include <arcvmm.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int nr_failed;

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok  " : "FAIL", what);
	if (!ok) {
		printf("     last error: %s\n", arcvmm_last_error());
		nr_failed++;
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the console pipe for ms milliseconds (or until `want` shows up): the byte count. */
static size_t read_console(int fd, int ms, const char *want, int *is_seen)
{
	char buf[4096], tail[64] = "";
	size_t total = 0;
	long long end = now_ms() + ms;

	if (is_seen)
		*is_seen = 0;
	for (;;) {
		long long left = end - now_ms();
		if (left <= 0)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n <= 0)
			break;
		total += (size_t)n;
		if (want && is_seen) {
			/* Look in what came now plus the end of what came before. */
			char joined[sizeof(tail) + sizeof(buf)];
			buf[n] = '\0';
			snprintf(joined, sizeof(joined), "%s%s", tail, buf);
			if (strstr(joined, want)) {
				*is_seen = 1;
				break;
			}
			size_t jl = strlen(joined);
			snprintf(tail, sizeof(tail), "%s", joined + (jl > 32 ? jl - 32 : 0));
		}
	}
	return total;
}

/* One VM with its console on a pipe: the parent reads pipe[0]. */
static struct arcvmm_vm *boot(const char *kernel, int *console_rd)
{
	struct arcvmm_config *c = arcvmm_config_new();
	struct arcvmm_vm *vm = NULL;
	int p[2];

	if (!c || pipe2(p, O_CLOEXEC) < 0)
		return NULL;
	if (arcvmm_config_set_kernel(c, kernel, NULL, NULL) ||
	    arcvmm_config_set_machine(c, 1, 64) || arcvmm_config_add_net(c, "none") ||
	    arcvmm_config_set_console(c, ARCVMM_CONSOLE_SERIAL, -1, p[1]))
		goto out;
	vm = arcvmm_create(c);
out:
	arcvmm_config_free(c);
	/* The library writes to p[1] until destroy; we keep it open as long (leaked here
	 * for brevity: the process ends soon). */
	*console_rd = p[0];
	return vm;
}

int main(int argc, char **argv)
{
	struct arcvmm_exit ex;
	int con_a, con_b, seen;

	if (argc != 2) {
		fprintf(stderr, "usage: embed KERNEL (e.g. build/guests/tick.elf)\n");
		return 2;
	}
	printf("libarcvmm %s\n", arcvmm_version());
	arcvmm_set_log_level(0);

	/* The state table is the library's: the same answers the CLI and the API give. */
	check(arcvmm_state_allows(ARCVMM_STATE_NOT_STARTED, ARCVMM_OP_START) &&
		  !arcvmm_state_allows(ARCVMM_STATE_NOT_STARTED, ARCVMM_OP_PAUSE) &&
		  arcvmm_state_allows(ARCVMM_STATE_RUNNING, ARCVMM_OP_PAUSE) &&
		  arcvmm_state_allows(ARCVMM_STATE_PAUSED, ARCVMM_OP_RESUME) &&
		  !arcvmm_state_allows(ARCVMM_STATE_STOPPED, ARCVMM_OP_STOP),
	      "state table");

	struct arcvmm_config *bad = arcvmm_config_new();
	check(arcvmm_create(bad) == NULL && strstr(arcvmm_last_error(), "no kernel"),
	      "create without a kernel fails with a message");
	arcvmm_config_free(bad);

	struct arcvmm_vm *a = boot(argv[1], &con_a);
	check(a != NULL, "create VM a");
	if (!a)
		return 1;
	check(arcvmm_state(a) == ARCVMM_STATE_NOT_STARTED, "a is Not started");
	check(arcvmm_pause(a) == -EBUSY && strstr(arcvmm_last_error(), "not started"),
	      "pause before start is refused, naming the state");
	check(arcvmm_start(a) == 0 && arcvmm_state(a) == ARCVMM_STATE_RUNNING, "start a");
	check(arcvmm_start(a) == -EBUSY, "a second start is refused");
	read_console(con_a, 10000, "GUEST-TICK", &seen);
	check(seen, "a's guest prints GUEST-TICK");
	check(read_console(con_a, 300, NULL, NULL) > 0, "a's guest ticks");

	/* The state fd tells an event loop that something changed; the state says what. */
	uint64_t cnt;
	ssize_t rd = read(arcvmm_state_fd(a), &cnt, sizeof(cnt)); /* clear: Running */
	(void)rd;
	check(arcvmm_pause(a) == 0 && arcvmm_state(a) == ARCVMM_STATE_PAUSED, "pause a");
	struct pollfd sp = {.fd = arcvmm_state_fd(a), .events = POLLIN};
	check(poll(&sp, 1, 0) == 1, "the state fd is readable after the pause");
	read_console(con_a, 200, NULL, NULL); /* what was in flight before the pause */
	size_t quiet = read_console(con_a, 700, NULL, NULL);
	printf("     %zu console bytes in 700 ms while paused\n", quiet);
	check(quiet == 0, "a paused guest prints nothing");
	check(arcvmm_pause(a) == -EBUSY, "pausing a paused VM is refused");
	char *m = arcvmm_metrics_json(a);
	check(m && strstr(m, "\"state\":\"Paused\"") && strstr(m, "\"pauses\":1"),
	      "metrics: state and pause count");
	free(m);
	check(arcvmm_resume(a) == 0 && arcvmm_state(a) == ARCVMM_STATE_RUNNING, "resume a");
	check(read_console(con_a, 3000, NULL, NULL) > 0, "a ticks again after the resume");

	/* A second VM in the same process, running at the same time. */
	struct arcvmm_vm *b = boot(argv[1], &con_b);
	check(b && arcvmm_start(b) == 0, "create and start VM b beside a");
	read_console(con_b, 10000, "GUEST-TICK", &seen);
	check(seen, "b's guest prints GUEST-TICK");
	check(read_console(con_a, 500, NULL, NULL) > 0, "a still ticks while b runs");

	/* A graceful stop is a request: this guest has no ACPI driver and ignores it. */
	check(arcvmm_request_shutdown(a, ARCVMM_SHUTDOWN_POWER_BUTTON) == 0,
	      "power button request accepted");
	check(arcvmm_wait(a, 300) == -ETIMEDOUT,
	      "a guest that ignores it runs on (wait times out)");
	check(arcvmm_exit(a, &ex) == 0 && ex.end == ARCVMM_END_NONE,
	      "no exit reason while running");
	check(arcvmm_stop(a, 0) == 0 && arcvmm_state(a) == ARCVMM_STATE_STOPPED, "hard stop a");
	check(arcvmm_wait(a, 0) == 0, "wait returns at once on a stopped VM");
	struct pollfd p = {.fd = arcvmm_event_fd(a), .events = POLLIN};
	check(poll(&p, 1, 0) == 1, "a's event fd is readable");
	check(arcvmm_exit(a, &ex) == 0 && ex.end == ARCVMM_END_STOPPED && ex.status == 0,
	      "a ended STOPPED, status 0");
	printf("     a: %s\n", ex.reason);
	check(arcvmm_resume(a) == -EBUSY && arcvmm_start(a) == -EBUSY,
	      "a stopped VM stays stopped");

	check(read_console(con_b, 500, NULL, NULL) > 0, "b still ticks after a stopped");
	check(arcvmm_stop(b, 15) == 0 && arcvmm_exit(b, &ex) == 0 && ex.end == ARCVMM_END_STOPPED &&
		  ex.signo == 15 && ex.status == 128 + 15,
	      "hard stop b for signal 15: status 143");

	arcvmm_destroy(a);
	arcvmm_destroy(b);
	printf("%d failed\n", nr_failed);
	return nr_failed;
}

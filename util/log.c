/* util/log.c — see log.h. Writes whole lines with one write() so threads do not interleave. */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

enum log_level log_threshold = LOG_WARN;
static int log_fd = STDERR_FILENO;
/* Whether log_fd is a terminal: asked once per fd, never on a logging thread (isatty is an
 * ioctl, which the worker and vCPU seccomp filters forbid: a worker's first log line used
 * to kill the VM). -1: not asked yet. */
static _Atomic int log_is_tty = -1;

void log_prepare(void)
{
	log_is_tty = isatty(log_fd) == 1;
}

int log_set_fd(int fd)
{
	if (fd < -1)
		return -EBADF;
	log_fd = fd < 0 ? STDERR_FILENO : fd;
	log_prepare();
	return 0;
}

static void log_vwrite(const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "arcvmm: %s", prefix);

	if (n < 0)
		return;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	size_t len = strnlen(line, sizeof(line) - 2);
	/* "\r\n" keeps lines tidy when the terminal is in raw mode. */
	if (log_is_tty == 1)
		line[len++] = '\r';
	line[len++] = '\n';
	ssize_t w = write(log_fd, line, len);
	(void)w;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const prefixes[] = {"", "warning: ", "", "debug: "};
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	log_vwrite(prefixes[level], fmt, ap);
	va_end(ap);
}

void log_guest(const char *fmt, ...)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static time_t window;
	static unsigned in_window, suppressed;
	struct timespec now;
	bool emit;
	unsigned dropped = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&lock);
	if (now.tv_sec != window) {
		window = now.tv_sec;
		in_window = 0;
		dropped = suppressed;
		suppressed = 0;
	}
	emit = in_window++ < 10;
	if (!emit)
		suppressed++;
	pthread_mutex_unlock(&lock);
	if (dropped)
		log_msg(LOG_WARN, "guest: %u similar messages suppressed", dropped);
	if (!emit || LOG_WARN > log_threshold)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vwrite("guest: ", fmt, ap);
	va_end(ap);
}

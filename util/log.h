/* util/log.h — diagnostics to stderr.
 *
 * Every line starts with "arcvmm: ". log_error() is for the user's mistakes and host
 * failures; log_guest() is for a guest's mistakes and is rate-limited so a hostile guest
 * cannot flood the host's log.
 */
#ifndef ARCVMM_UTIL_LOG_H
#define ARCVMM_UTIL_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;

/* Log lines go to fd (-1: stderr again). 0 or -EBADF. */
int log_set_fd(int fd);
/* Looks at the log fd once (is it a terminal?); called before any thread of the VM
 * starts, since the threads' seccomp filters forbid the ioctl that asks. */
void log_prepare(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Rate-limited (a burst of 10, then one per second) report of guest misbehaviour. */
void log_guest(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif

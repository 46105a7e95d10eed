/* devices/host_out.c — non-blocking bounded output to a host fd. See host_out.h.
 *
 * Trusts: the fd is the caller's; the bytes are the guest's (only copied, never looked at).
 */
#include "devices/host_out.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/* A new open file description of the same file, O_NONBLOCK: the user's fd keeps its
 * flags. -1 if the file cannot be reopened (sockets, no /proc, a FIFO without reader). */
static int reopen_nonblocking(int fd, const struct stat *st)
{
	char path[64];
	struct stat st2;

	/* "/proc/self/fd/" and at most 10 digits: always fits. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int nfd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (nfd < 0)
		return -1;
	/* The magic link must lead to the very same file (not, say, a renamed FIFO path). */
	if (fstat(nfd, &st2) < 0 || st2.st_dev != st->st_dev || st2.st_ino != st->st_ino ||
	    st2.st_rdev != st->st_rdev) {
		close(nfd);
		return -1;
	}
	return nfd;
}

int host_out_init(struct host_out *o, int user_fd)
{
	struct stat st;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->user_fd = user_fd;
	o->mode = HOST_OUT_DISCARD;
	if (user_fd < 0)
		return 0;
	if (fstat(user_fd, &st) < 0)
		return -errno;
	o->user_dev = st.st_dev;
	o->user_ino = st.st_ino;
	int fl = fcntl(user_fd, F_GETFL);
	if (fl < 0)
		return -errno;
	o->buf = malloc(HOST_OUT_SIZE);
	if (!o->buf)
		return -ENOMEM;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		o->mode = HOST_OUT_FILE;
	} else if (fl & O_NONBLOCK) {
		o->mode = HOST_OUT_NONBLOCK;
	} else if (!S_ISSOCK(st.st_mode) && (o->fd = reopen_nonblocking(user_fd, &st)) >= 0) {
		o->mode = HOST_OUT_NONBLOCK;
		return 0;
	} else {
		o->mode = HOST_OUT_POLLED;
	}
	o->fd = fcntl(user_fd, F_DUPFD_CLOEXEC, 3);
	if (o->fd < 0) {
		int e = -errno;
		free(o->buf);
		o->buf = NULL;
		return e;
	}
	return 0;
}

bool host_out_is_for(const struct host_out *o, int user_fd)
{
	struct stat st;

	if (user_fd != o->user_fd)
		return false;
	if (user_fd < 0)
		return true;
	return fstat(user_fd, &st) == 0 && st.st_dev == o->user_dev && st.st_ino == o->user_ino;
}

void host_out_fini(struct host_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	free(o->buf);
	o->buf = NULL;
	o->fd = -1;
	o->len = 0;
	o->mode = HOST_OUT_DISCARD;
}

size_t host_out_space(const struct host_out *o)
{
	if (o->mode == HOST_OUT_DISCARD || o->is_gone)
		return SIZE_MAX;
	return HOST_OUT_SIZE - o->len;
}

size_t host_out_pending(const struct host_out *o)
{
	return o->len;
}

void host_out_drop(struct host_out *o, size_t len)
{
	atomic_fetch_add_explicit(&o->nr_dropped, len, memory_order_relaxed);
}

size_t host_out_put(struct host_out *o, const void *p, size_t len)
{
	if (o->mode == HOST_OUT_DISCARD)
		return len;
	if (o->is_gone) {
		host_out_drop(o, len);
		return len;
	}
	size_t n = HOST_OUT_SIZE - o->len;
	if (n > len)
		n = len;
	size_t tail = (o->head + o->len) % HOST_OUT_SIZE;
	size_t first = HOST_OUT_SIZE - tail < n ? HOST_OUT_SIZE - tail : n;
	memcpy(o->buf + tail, p, first);
	memcpy(o->buf, (const uint8_t *)p + first, n - first);
	o->len += n;
	return n;
}

static void gone(struct host_out *o, int err)
{
	if (!o->is_gone && err != EPIPE)
		log_warn("console output (fd %d): %s; dropping output from now on", o->user_fd,
			 strerror(err));
	o->is_gone = true;
	host_out_drop(o, o->len);
	o->len = 0;
	o->head = 0;
}

int host_out_flush(struct host_out *o)
{
	if (o->is_gone)
		return -EPIPE;
	while (o->len) {
		size_t n = HOST_OUT_SIZE - o->head < o->len ? HOST_OUT_SIZE - o->head : o->len;
		if (o->mode == HOST_OUT_POLLED) {
			struct pollfd pfd = {.fd = o->fd, .events = POLLOUT};
			int r = poll(&pfd, 1, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0)
				return -EAGAIN;
			if (r < 0 || (pfd.revents & (POLLERR | POLLNVAL))) {
				gone(o, r < 0 ? errno : EPIPE);
				return -EPIPE;
			}
			if (!(pfd.revents & POLLOUT)) { /* POLLHUP alone: the reader left */
				gone(o, EPIPE);
				return -EPIPE;
			}
			if (n > PIPE_BUF)
				n = PIPE_BUF;
		}
		ssize_t w = write(o->fd, o->buf + o->head, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		if (w <= 0) {
			gone(o, w < 0 ? errno : EIO);
			return -EPIPE;
		}
		o->head = (o->head + (size_t)w) % HOST_OUT_SIZE;
		o->len -= (size_t)w;
		atomic_fetch_add_explicit(&o->nr_written, (uint64_t)w, memory_order_relaxed);
	}
	o->head = 0;
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int host_out_drain(struct host_out *o, int max_ms)
{
	int64_t deadline = mono_ms() + max_ms;
	int r;

	while ((r = host_out_flush(o)) == -EAGAIN) {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			break;
		struct pollfd pfd = {.fd = o->fd, .events = POLLOUT};
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			break;
	}
	if (o->len == 0)
		return r == -EPIPE ? r : 0;
	host_out_drop(o, o->len); /* a stuck reader: the rest is given up, counted */
	o->len = 0;
	o->head = 0;
	return -EAGAIN;
}

int host_out_poll_fd(const struct host_out *o)
{
	return o->mode == HOST_OUT_NONBLOCK || o->mode == HOST_OUT_POLLED ? o->fd : -1;
}

uint64_t host_out_dropped(const struct host_out *o)
{
	return atomic_load_explicit(&o->nr_dropped, memory_order_relaxed);
}

uint64_t host_out_written(const struct host_out *o)
{
	return atomic_load_explicit(&o->nr_written, memory_order_relaxed);
}

/* tests/unit/test_host_out.c — devices/host_out.c, the console devices' non-blocking
 * output: for each kind of host fd (blocking pipe, terminal with output stopped as by
 * Ctrl-S, stream socket, regular file) writing never blocks, the user's fd flags are
 * left alone, the bytes that do go out are the ones put in, in order, and a gone reader
 * turns into counted drops.
 *
 * Trusts: nothing of host_out.c; the kernel's pipes, ptys and sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "devices/host_out.h"
#include "tests/unit/test.h"

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Puts and flushes 1 MiB at a reader that takes nothing: must end in -EAGAIN at once,
 * with a full buffer and nothing dropped. */
static void fill_stuck(struct host_out *o)
{
	static uint8_t chunk[4096];
	uint64_t t0 = mono_ms();
	int r = 0;

	for (unsigned i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)i;
	for (int i = 0; i < 256; i++) {
		host_out_put(o, chunk, sizeof(chunk));
		r = host_out_flush(o);
	}
	CHECK_EQ(r, -EAGAIN);
	CHECK_EQ(host_out_space(o), 0);
	CHECK_EQ(host_out_dropped(o), 0);
	CHECK(mono_ms() - t0 < 1000);
	CHECK(host_out_poll_fd(o) >= 0);
}

TEST(blocking_pipe_is_reopened)
{
	struct host_out o;
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK_EQ(host_out_init(&o, p[1]), 0);
	CHECK_EQ(o.mode, HOST_OUT_NONBLOCK);
	fill_stuck(&o);
	CHECK_EQ(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0); /* the user's fd is untouched */
	/* What went out is the start of the stream, in order. */
	uint8_t buf[4096];
	CHECK_EQ(read(p[0], buf, sizeof(buf)), (ssize_t)sizeof(buf));
	for (unsigned i = 0; i < sizeof(buf); i++)
		if (buf[i] != (uint8_t)i) {
			CHECK(buf[i] == (uint8_t)i);
			break;
		}
	/* The reader leaves: EPIPE, the buffer is dropped and counted, puts still succeed. */
	close(p[0]);
	CHECK_EQ(host_out_flush(&o), -EPIPE);
	CHECK_EQ(host_out_dropped(&o), HOST_OUT_SIZE);
	CHECK_EQ(host_out_put(&o, "x", 1), 1);
	CHECK_EQ(host_out_dropped(&o), HOST_OUT_SIZE + 1);
	host_out_fini(&o);
	close(p[1]);
}

/* A terminal whose output is stopped (what Ctrl-S does with IXON): a blocking write would
 * wait for Ctrl-Q for ever. */
TEST(stopped_terminal)
{
	struct host_out o;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	CHECK(m >= 0);
	if (m < 0)
		return;
	CHECK(grantpt(m) == 0 && unlockpt(m) == 0);
	int tty = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
	CHECK(tty >= 0);
	struct termios t;
	CHECK(tcgetattr(tty, &t) == 0);
	cfmakeraw(&t);
	CHECK(tcsetattr(tty, TCSANOW, &t) == 0);
	CHECK(tcflow(tty, TCOOFF) == 0);
	CHECK_EQ(host_out_init(&o, tty), 0);
	CHECK_EQ(o.mode, HOST_OUT_NONBLOCK);
	fill_stuck(&o);
	CHECK_EQ(fcntl(tty, F_GETFL) & O_NONBLOCK, 0);
	struct termios t2;
	CHECK(tcgetattr(tty, &t2) == 0 && !(t2.c_lflag & ICANON)); /* raw mode kept */
	CHECK(tcflow(tty, TCOON) == 0);
	host_out_fini(&o);
	close(tty);
	close(m);
}

/* A socket cannot be reopened: poll before write, PIPE_BUF at a time. */
TEST(stream_socket_is_polled)
{
	struct host_out o;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK_EQ(host_out_init(&o, sv[0]), 0);
	CHECK_EQ(o.mode, HOST_OUT_POLLED);
	fill_stuck(&o);
	CHECK_EQ(fcntl(sv[0], F_GETFL) & O_NONBLOCK, 0);
	close(sv[1]);
	CHECK_EQ(host_out_flush(&o), -EPIPE);
	host_out_fini(&o);
	close(sv[0]);
}

TEST(regular_file_and_discard)
{
	struct host_out o;
	char path[] = "/tmp/arcvmm-host-out-XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	unlink(path);
	CHECK_EQ(host_out_init(&o, fd), 0);
	CHECK_EQ(o.mode, HOST_OUT_FILE);
	CHECK_EQ(host_out_put(&o, "hello", 5), 5);
	CHECK_EQ(host_out_flush(&o), 0);
	CHECK_EQ(host_out_written(&o), 5);
	CHECK(host_out_is_for(&o, fd));
	host_out_fini(&o);
	CHECK_EQ(lseek(fd, 0, SEEK_END), 5);
	close(fd);
	CHECK_EQ(host_out_init(&o, -1), 0);
	CHECK_EQ(o.mode, HOST_OUT_DISCARD);
	CHECK_EQ(host_out_put(&o, "x", 1), 1);
	CHECK_EQ(host_out_flush(&o), 0);
	host_out_fini(&o);
}

/* Teardown: the drain waits for a stuck reader at most its bound, then counts the rest. */
TEST(drain_is_bounded)
{
	struct host_out o;
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK_EQ(host_out_init(&o, p[1]), 0);
	fill_stuck(&o);
	uint64_t t0 = mono_ms();
	CHECK_EQ(host_out_drain(&o, 50), -EAGAIN);
	CHECK(mono_ms() - t0 < 500);
	CHECK_EQ(host_out_dropped(&o), HOST_OUT_SIZE);
	CHECK_EQ(host_out_pending(&o), 0);
	host_out_fini(&o);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as cli/main.c */
	RUN(blocking_pipe_is_reopened);
	RUN(stopped_terminal);
	RUN(stream_socket_is_polled);
	RUN(regular_file_and_discard);
	RUN(drain_is_bounded);
	return test_summary();
}

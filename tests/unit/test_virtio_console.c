/* tests/unit/test_virtio_console.c — virtio-console over pipes, no KVM.
 *
 * The simulated driver (bench/blk/simdrv.h) plays the guest's hvc0: transmit chains must
 * come out of the output pipe byte for byte and in order (also through a full,
 * non-blocking pipe drained slowly, and across a pause), input written to the input pipe
 * must land in the receive buffers the driver posts — only once they are posted, never in
 * an empty completion — and EOF or an unpollable input must not disturb output.
 *
 * Trusts: the transport, queue and worker code (they have their own tests).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/blk/simdrv.h"
#include "devices/virtio_console.h"
#include "tests/unit/test.h"

#define RAM_SIZE (16ULL << 20)
#define WAIT_MS	 5000

struct env {
	struct simdrv sd;
	struct virtio_console *c;
	int in_pipe[2], out_pipe[2];
};

static int env_start(struct env *e, int in_fd)
{
	char err[128];

	memset(e, 0, sizeof(*e));
	if (pipe2(e->in_pipe, O_CLOEXEC) < 0 || pipe2(e->out_pipe, O_CLOEXEC) < 0)
		return -1;
	if (simdrv_init(&e->sd, RAM_SIZE) < 0)
		return -1;
	e->c = virtio_console_create(&e->sd.mem, in_fd == -2 ? e->in_pipe[0] : in_fd,
				     e->out_pipe[1], err, sizeof(err));
	if (!e->c)
		return -1;
	return simdrv_start(&e->sd, &virtio_console_ops, e->c, 2, 64, ~0ULL);
}

static void env_stop(struct env *e)
{
	simdrv_fini(&e->sd);
	for (int i = 0; i < 2; i++) {
		close(e->in_pipe[i]);
		close(e->out_pipe[i]);
	}
}

/* Sends text as one transmit chain split in two buffers; waits for it to come back. */
static int tx(struct env *e, const char *text)
{
	size_t len = strlen(text), half = len / 2;
	uint64_t gpa = simdrv_alloc(&e->sd, len + 1, 1);
	uint32_t id, ulen;

	memcpy(simdrv_ptr(&e->sd, gpa), text, len);
	struct simdrv_buf b[2] = {{gpa, (uint32_t)half, false},
				  {gpa + half, (uint32_t)(len - half), false}};
	if (!half)
		b[0].len = (uint32_t)len;
	if (simq_add(&e->sd.q[VIRTIO_CONSOLE_TXQ], b, half ? 2 : 1) < 0)
		return -1;
	simdrv_kick(&e->sd, VIRTIO_CONSOLE_TXQ, false);
	return simdrv_wait_used(&e->sd, VIRTIO_CONSOLE_TXQ, &id, &ulen, WAIT_MS) ? 0 : -1;
}

static int read_exact(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

TEST(test_output)
{
	struct env e;
	char buf[64] = "";

	CHECK(env_start(&e, -2) == 0);
	CHECK(tx(&e, "hello from hvc0\n") == 0);
	CHECK(read_exact(e.out_pipe[0], buf, 16) == 0);
	CHECK(memcmp(buf, "hello from hvc0\n", 16) == 0);
	CHECK(tx(&e, "x") == 0);
	CHECK(read_exact(e.out_pipe[0], buf, 1) == 0);
	CHECK_EQ(buf[0], 'x');
	CHECK(e.sd.nr_irqs > 0 ||
	      simdrv_wait_irq(&e.sd, WAIT_MS)); /* the irqfd write follows the push */
	uint64_t in_b, out_b;
	virtio_console_get_stats(e.c, &in_b, &out_b);
	CHECK_EQ(out_b, 17);
	env_stop(&e);
}

TEST(test_input_waits_for_buffers)
{
	struct env e;
	uint32_t id, len;
	struct simq *rq;

	CHECK(env_start(&e, -2) == 0);
	rq = &e.sd.q[VIRTIO_CONSOLE_RXQ];
	/* Input before any receive buffer: it must wait, not be dropped. */
	CHECK(write(e.in_pipe[1], "abc", 3) == 3);
	CHECK(!simdrv_wait_used(&e.sd, VIRTIO_CONSOLE_RXQ, &id, &len, 200));
	uint64_t g1 = simdrv_alloc(&e.sd, 2, 1), g2 = simdrv_alloc(&e.sd, 8, 1);
	struct simdrv_buf b1 = {g1, 2, true}, b2 = {g2, 8, true};
	int h1 = simq_add(rq, &b1, 1), h2 = simq_add(rq, &b2, 1);
	simdrv_kick(&e.sd, VIRTIO_CONSOLE_RXQ, false);
	CHECK(simdrv_wait_used(&e.sd, VIRTIO_CONSOLE_RXQ, &id, &len, WAIT_MS));
	CHECK_EQ(id, h1);
	CHECK_EQ(len, 2);
	CHECK(memcmp(simdrv_ptr(&e.sd, g1), "ab", 2) == 0);
	CHECK(simdrv_wait_used(&e.sd, VIRTIO_CONSOLE_RXQ, &id, &len, WAIT_MS));
	CHECK_EQ(id, h2);
	CHECK_EQ(len, 1);
	CHECK_EQ(*(char *)simdrv_ptr(&e.sd, g2), 'c');

	/* With a buffer posted first, input arrives as it is typed. */
	uint64_t g3 = simdrv_alloc(&e.sd, 64, 1);
	struct simdrv_buf b3 = {g3, 64, true};
	int h3 = simq_add(rq, &b3, 1);
	simdrv_kick(&e.sd, VIRTIO_CONSOLE_RXQ, false);
	CHECK(write(e.in_pipe[1], "ls\r", 3) == 3);
	CHECK(simdrv_wait_used(&e.sd, VIRTIO_CONSOLE_RXQ, &id, &len, WAIT_MS));
	CHECK_EQ(id, h3);
	CHECK_EQ(len, 3);
	CHECK(memcmp(simdrv_ptr(&e.sd, g3), "ls\r", 3) == 0);

	/* A readable-only "receive buffer" gets nothing written; the input is kept. */
	uint64_t g4 = simdrv_alloc(&e.sd, 8, 1), g5 = simdrv_alloc(&e.sd, 8, 1);
	memset(simdrv_ptr(&e.sd, g4), '.', 8);
	struct simdrv_buf b4 = {g4, 8, false}, b5 = {g5, 8, true};
	simq_add(rq, &b4, 1);
	simq_add(rq, &b5, 1);
	simdrv_kick(&e.sd, VIRTIO_CONSOLE_RXQ, false);
	CHECK(write(e.in_pipe[1], "q", 1) == 1);
	CHECK(simdrv_wait_used(&e.sd, VIRTIO_CONSOLE_RXQ, &id, &len, WAIT_MS));
	CHECK_EQ(len, 0);
	CHECK_EQ(*(char *)simdrv_ptr(&e.sd, g4), '.');
	CHECK(simdrv_wait_used(&e.sd, VIRTIO_CONSOLE_RXQ, &id, &len, WAIT_MS));
	CHECK_EQ(len, 1);
	CHECK_EQ(*(char *)simdrv_ptr(&e.sd, g5), 'q');

	/* EOF on input: output still works. */
	close(e.in_pipe[1]);
	e.in_pipe[1] = -1;
	char buf[8];
	CHECK(tx(&e, "ok") == 0);
	CHECK(read_exact(e.out_pipe[0], buf, 2) == 0);
	env_stop(&e);
}

/* Input from a regular file (epoll cannot watch it): read as buffers come, to EOF. */
TEST(test_input_from_file)
{
	struct env e;
	char path[64];
	uint32_t id, len;
	int fd;

	test_snprintf(path, sizeof(path), "/tmp/arcvmm-con-%d.txt", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(write(fd, "line1\nline2\n", 12) == 12);
	lseek(fd, 0, SEEK_SET);
	CHECK(env_start(&e, fd) == 0);
	uint64_t g = simdrv_alloc(&e.sd, 8, 1), g2 = simdrv_alloc(&e.sd, 64, 1);
	struct simdrv_buf b = {g, 8, true}, b2 = {g2, 64, true};
	simq_add(&e.sd.q[VIRTIO_CONSOLE_RXQ], &b, 1);
	simq_add(&e.sd.q[VIRTIO_CONSOLE_RXQ], &b2, 1);
	simdrv_kick(&e.sd, VIRTIO_CONSOLE_RXQ, false);
	CHECK(simdrv_wait_used(&e.sd, VIRTIO_CONSOLE_RXQ, &id, &len, WAIT_MS));
	CHECK_EQ(len, 8);
	CHECK(memcmp(simdrv_ptr(&e.sd, g), "line1\nli", 8) == 0);
	CHECK(simdrv_wait_used(&e.sd, VIRTIO_CONSOLE_RXQ, &id, &len, WAIT_MS));
	CHECK_EQ(len, 4);
	CHECK(memcmp(simdrv_ptr(&e.sd, g2), "ne2\n", 4) == 0);
	/* At EOF nothing more comes, and a posted buffer stays with the device. */
	uint64_t g3 = simdrv_alloc(&e.sd, 8, 1);
	struct simdrv_buf b3 = {g3, 8, true};
	simq_add(&e.sd.q[VIRTIO_CONSOLE_RXQ], &b3, 1);
	simdrv_kick(&e.sd, VIRTIO_CONSOLE_RXQ, false);
	CHECK(!simdrv_wait_used(&e.sd, VIRTIO_CONSOLE_RXQ, &id, &len, 200));
	env_stop(&e);
	close(fd);
	unlink(path);
}

TEST(test_no_input_fd)
{
	struct env e;
	char buf[8];
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/* /dev/null cannot be polled; -1 means no input at all. */
	CHECK(env_start(&e, null_fd) == 0);
	CHECK(tx(&e, "n1") == 0);
	CHECK(read_exact(e.out_pipe[0], buf, 2) == 0);
	env_stop(&e);
	close(null_fd);
	CHECK(env_start(&e, -1) == 0);
	CHECK(tx(&e, "n2") == 0);
	CHECK(read_exact(e.out_pipe[0], buf, 2) == 0);
	env_stop(&e);
}

struct reader {
	int fd;
	size_t want;
	uint8_t *got;
};

static void *slow_reader(void *arg)
{
	struct reader *r = arg;
	size_t n = 0;

	while (n < r->want) {
		ssize_t k = read(r->fd, r->got + n, r->want - n < 512 ? r->want - n : 512);
		if (k <= 0)
			break;
		n += (size_t)k;
		usleep(200);
	}
	r->want = n;
	return NULL;
}

/* 256 KiB through a non-blocking pipe (64 KiB) read slowly, with a pause in the middle:
 * every byte arrives, in order. */
TEST(test_output_backpressure)
{
	struct env e;
	const size_t total = 256 << 10, chunk = 4096;
	uint8_t *want = malloc(total);
	struct reader r = {.want = total, .got = calloc(1, total)};
	pthread_t th;
	uint32_t id, len;

	CHECK(env_start(&e, -2) == 0);
	fcntl(e.out_pipe[1], F_SETFL, O_NONBLOCK);
	r.fd = e.out_pipe[0];
	for (size_t i = 0; i < total; i++)
		want[i] = (uint8_t)(i * 13 + i / 4096);
	uint64_t gpa = simdrv_alloc(&e.sd, total, 4096);
	memcpy(simdrv_ptr(&e.sd, gpa), want, total);
	pthread_create(&th, NULL, slow_reader, &r);
	size_t sent = 0, done = 0;
	bool paused_once = false;
	struct simq *tq = &e.sd.q[VIRTIO_CONSOLE_TXQ];
	while (done < total / chunk) {
		while (sent < total && tq->nr_free) {
			struct simdrv_buf b = {gpa + sent, (uint32_t)chunk, false};
			simq_add(tq, &b, 1);
			sent += chunk;
		}
		simdrv_kick(&e.sd, VIRTIO_CONSOLE_TXQ, false);
		if (!simdrv_wait_used(&e.sd, VIRTIO_CONSOLE_TXQ, &id, &len, WAIT_MS))
			break;
		done++;
		if (!paused_once && done == 8) {
			/* The worker is likely waiting on the full pipe: pause must get through. */
			CHECK(virtio_mmio_pause(e.sd.t) == 0);
			CHECK(virtio_mmio_resume(e.sd.t) == 0);
			paused_once = true;
		}
	}
	CHECK_EQ(done, total / chunk);
	pthread_join(th, NULL);
	CHECK_EQ(r.want, total);
	CHECK(memcmp(r.got, want, total) == 0);
	env_stop(&e);
	free(want);
	free(r.got);
}

/* Runs fn(arg) on a helper thread; true if it returned within ms. If it did not, drain()
 * is called (to unblock the old, hanging code) before joining, so the test fails rather
 * than hangs. */
struct bounded {
	int (*fn)(struct env *e);
	struct env *e;
	_Atomic bool is_done;
	int ret;
};

static void *bounded_thread(void *arg)
{
	struct bounded *b = arg;

	b->ret = b->fn(b->e);
	atomic_store(&b->is_done, true);
	return NULL;
}

static bool run_bounded(int (*fn)(struct env *e), struct env *e, int ms, int *ret)
{
	struct bounded b = {.fn = fn, .e = e};
	pthread_t th;
	bool in_time = false;

	if (pthread_create(&th, NULL, bounded_thread, &b))
		return false;
	for (int waited = 0; waited <= ms; waited += 5) {
		if (atomic_load(&b.is_done)) {
			in_time = true;
			break;
		}
		usleep(5000);
	}
	if (!in_time) {
		/* Unblock a worker stuck in write() so the join below returns. */
		fcntl(e->out_pipe[0], F_SETFL, O_NONBLOCK);
		char sink[4096];
		while (!atomic_load(&b.is_done)) {
			if (read(e->out_pipe[0], sink, sizeof(sink)) <= 0)
				usleep(1000);
		}
	}
	pthread_join(th, NULL);
	*ret = b.ret;
	return in_time;
}

static int do_pause_resume(struct env *e)
{
	int r = virtio_mmio_pause(e->sd.t);
	return r ? r : virtio_mmio_resume(e->sd.t);
}

static int do_reset(struct env *e)
{
	simdrv_write32(&e->sd, VIRTIO_MMIO_STATUS, 0); /* what the guest's vCPU does */
	return 0;
}

/* Issue #14 bug 3: a blocking output pipe whose reader never reads, the guest writing more
 * than the pipe holds. The old worker blocked in write() and a reset (the vCPU writing
 * status 0, holding the transport lock) or a pause waited for it for ever. Now both
 * finish at once; the guest's excess writes simply wait, nothing written is lost. */
TEST(test_stuck_reader_reset_and_pause)
{
	struct env e;
	const size_t chunk = 4096, nr = 64, total = chunk * nr;
	uint8_t *want = malloc(total);
	uint32_t id, len;
	int ret = -1;

	CHECK(env_start(&e, -2) == 0);
	CHECK_EQ(fcntl(e.out_pipe[1], F_GETFL) & O_NONBLOCK, 0); /* blocking, as stdout is */
	int pipe_size = fcntl(e.out_pipe[1], F_GETPIPE_SZ);
	CHECK(pipe_size > 0 && (size_t)pipe_size < total / 2);
	for (size_t i = 0; i < total; i++)
		want[i] = (uint8_t)(i * 7 + i / 1000);
	uint64_t gpa = simdrv_alloc(&e.sd, total, 4096);
	memcpy(simdrv_ptr(&e.sd, gpa), want, total);
	struct simq *tq = &e.sd.q[VIRTIO_CONSOLE_TXQ];
	size_t sent = 0;
	while (sent < total && tq->nr_free) {
		struct simdrv_buf b = {gpa + sent, (uint32_t)chunk, false};
		simq_add(tq, &b, 1);
		sent += chunk;
	}
	CHECK_EQ(sent, total);
	simdrv_kick(&e.sd, VIRTIO_CONSOLE_TXQ, false);
	/* The device takes what the pipe and its buffer hold, then stops taking chains. */
	unsigned done = 0;
	while (simdrv_wait_used(&e.sd, VIRTIO_CONSOLE_TXQ, &id, &len, 300))
		done++;
	CHECK(done > 0 && done < nr);
	uint64_t in_b, out_b;
	virtio_console_get_stats(e.c, &in_b, &out_b);
	CHECK(out_b >= (uint64_t)pipe_size && out_b < total);
	CHECK_EQ(virtio_console_get_dropped(e.c), 0);

	CHECK(run_bounded(do_pause_resume, &e, 1000, &ret));
	CHECK_EQ(ret, 0);
	CHECK(run_bounded(do_reset, &e, 1000, &ret));
	CHECK_EQ(simdrv_read32(&e.sd, VIRTIO_MMIO_STATUS), 0);

	/* What reached the pipe is the guest's output, in order, from the start. */
	fcntl(e.out_pipe[0], F_SETFL, O_NONBLOCK);
	uint8_t *got = malloc(total);
	size_t n = 0;
	ssize_t k;
	while (n < total && (k = read(e.out_pipe[0], got + n, total - n)) > 0)
		n += (size_t)k;
	CHECK(n >= (size_t)pipe_size && n <= out_b);
	CHECK(memcmp(got, want, n) == 0);
	env_stop(&e);
	free(got);
	free(want);
}

/* The reader is gone (EPIPE): output is dropped and counted, the guest never waits. */
TEST(test_gone_reader_drops)
{
	struct env e;
	const size_t chunk = 4096, nr = 48;
	uint32_t id, len;

	CHECK(env_start(&e, -2) == 0);
	close(e.out_pipe[0]);
	e.out_pipe[0] = -1;
	uint64_t gpa = simdrv_alloc(&e.sd, chunk * nr, 4096);
	memset(simdrv_ptr(&e.sd, gpa), 'z', chunk * nr);
	struct simq *tq = &e.sd.q[VIRTIO_CONSOLE_TXQ];
	for (size_t i = 0; i < nr; i++) {
		struct simdrv_buf b = {gpa + i * chunk, (uint32_t)chunk, false};
		simq_add(tq, &b, 1);
	}
	simdrv_kick(&e.sd, VIRTIO_CONSOLE_TXQ, false);
	unsigned done = 0;
	while (done < nr && simdrv_wait_used(&e.sd, VIRTIO_CONSOLE_TXQ, &id, &len, WAIT_MS))
		done++;
	CHECK_EQ(done, nr);
	CHECK_EQ(virtio_console_get_dropped(e.c), chunk * nr);
	int ret;
	CHECK(run_bounded(do_reset, &e, 1000, &ret));
	env_stop(&e);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as cli/main.c: EPIPE instead of death */
	RUN(test_output);
	RUN(test_input_waits_for_buffers);
	RUN(test_input_from_file);
	RUN(test_no_input_fd);
	RUN(test_output_backpressure);
	RUN(test_stuck_reader_reset_and_pause);
	RUN(test_gone_reader_drops);
	return test_summary();
}

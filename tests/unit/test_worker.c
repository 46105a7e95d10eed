/* tests/unit/test_worker.c — util/worker: callbacks on ready fds, the pause/resume/stop
 * handshake, and the argument checks.
 *
 * No sleeps and no timing asserts: each step waits for a definite event (a semaphore
 * posted by a callback, or the handshake's own acknowledgement).
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tests/unit/test.h"
#include "util/worker.h"

struct probe {
	sem_t called;
	int nr_calls;	   /* written by the worker, read after sem_wait or a pause */
	int nr_zero_calls; /* calls with events == 0 (after resume) */
	uint64_t drained;
	bool was_self;
	/* for the long-running callback */
	bool is_spinning;
	bool did_return;
};

static void count_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct probe *p = arg;

	p->drained += worker_eventfd_drain(fd);
	p->was_self = worker_is_self(w);
	p->nr_calls++;
	if (!events)
		p->nr_zero_calls++;
	sem_post(&p->called);
}

static void kick(int fd)
{
	uint64_t one = 1;

	CHECK_EQ(write(fd, &one, sizeof(one)), sizeof(one));
}

TEST(callback_runs_on_worker)
{
	struct probe p = {0};
	int fd = eventfd(0, EFD_NONBLOCK);
	struct worker *w = worker_create("t-basic");

	sem_init(&p.called, 0, 0);
	CHECK(w != NULL);
	CHECK_EQ(worker_add_fd(w, fd, EPOLLIN, count_cb, &p), 0);
	CHECK_EQ(worker_start(w), 0);
	CHECK_EQ(worker_start(w), -EINVAL); /* already running */
	kick(fd);
	sem_wait(&p.called);
	CHECK_EQ(p.nr_calls, 1);
	CHECK_EQ(p.drained, 1);
	CHECK(p.was_self);
	CHECK(!worker_is_self(w));
	kick(fd);
	sem_wait(&p.called);
	CHECK_EQ(p.drained, 2);
	CHECK_EQ(worker_stop(w), 0);
	CHECK_EQ(worker_stop(w), -EINVAL); /* already stopped */
	/* A stopped worker can be started again and still has its fds. */
	CHECK_EQ(worker_start(w), 0);
	kick(fd);
	sem_wait(&p.called);
	CHECK_EQ(p.drained, 3);
	worker_destroy(w); /* stops it */
	close(fd);
	sem_destroy(&p.called);
}

TEST(pause_blocks_callbacks_until_resume)
{
	struct probe p = {0};
	int fd = eventfd(0, EFD_NONBLOCK);
	struct worker *w = worker_create("t-pause");

	sem_init(&p.called, 0, 0);
	CHECK_EQ(worker_add_fd(w, fd, EPOLLIN, count_cb, &p), 0);
	CHECK_EQ(worker_pause(w), -EINVAL); /* not started */
	CHECK_EQ(worker_start(w), 0);
	CHECK_EQ(worker_resume(w), -EINVAL); /* not paused */
	CHECK_EQ(worker_pause(w), 0);
	CHECK_EQ(worker_pause(w), -EINVAL); /* already paused */
	/* Acknowledged: the worker is parked and runs no callback, whatever arrives. */
	kick(fd);
	kick(fd);
	CHECK_EQ(p.nr_calls, 0);
	CHECK_EQ(p.drained, 0);
	uint64_t pending;
	CHECK_EQ(read(fd, &pending, sizeof(pending)), sizeof(pending)); /* still unread */
	CHECK_EQ(pending, 2);
	kick(fd);
	CHECK_EQ(worker_resume(w), 0);
	/* Resume calls every callback once with events == 0. */
	sem_wait(&p.called);
	CHECK_EQ(p.nr_zero_calls, 1);
	CHECK_EQ(p.drained, 1);
	/* And the worker is live again. */
	kick(fd);
	sem_wait(&p.called);
	CHECK_EQ(p.drained, 2);
	/* Stop from the paused state. */
	CHECK_EQ(worker_pause(w), 0);
	CHECK_EQ(worker_stop(w), 0);
	worker_destroy(w);
	close(fd);
	sem_destroy(&p.called);
}

/* Spins until the worker is asked to pause or stop: a request that takes "long". */
static void spin_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct probe *p = arg;

	if (!events)
		return; /* the resume call */
	worker_eventfd_drain(fd);
	__atomic_store_n(&p->is_spinning, true, __ATOMIC_SEQ_CST);
	sem_post(&p->called);
	while (!worker_should_yield(w))
		;
	__atomic_store_n(&p->did_return, true, __ATOMIC_SEQ_CST);
}

TEST(pause_waits_for_current_request)
{
	struct probe p = {0};
	int fd = eventfd(0, EFD_NONBLOCK);
	struct worker *w = worker_create("t-yield");

	sem_init(&p.called, 0, 0);
	CHECK_EQ(worker_add_fd(w, fd, EPOLLIN, spin_cb, &p), 0);
	CHECK_EQ(worker_start(w), 0);
	CHECK(!worker_should_yield(w));
	kick(fd);
	sem_wait(&p.called); /* the callback is inside its loop */
	CHECK_EQ(worker_pause(w), 0);
	/* pause returned only after the callback finished. */
	CHECK(__atomic_load_n(&p.did_return, __ATOMIC_SEQ_CST));
	CHECK(worker_should_yield(w));
	CHECK_EQ(worker_resume(w), 0);
	/* Same for stop. */
	__atomic_store_n(&p.did_return, false, __ATOMIC_SEQ_CST);
	kick(fd);
	sem_wait(&p.called);
	CHECK_EQ(worker_stop(w), 0);
	CHECK(__atomic_load_n(&p.did_return, __ATOMIC_SEQ_CST));
	worker_destroy(w);
	close(fd);
	sem_destroy(&p.called);
}

TEST(fd_registration)
{
	struct probe p = {0};
	struct worker *w = worker_create("t-fds");
	int fds[WORKER_MAX_FDS + 1];

	for (int i = 0; i <= WORKER_MAX_FDS; i++)
		fds[i] = eventfd(0, EFD_NONBLOCK);
	CHECK_EQ(worker_add_fd(w, -1, EPOLLIN, count_cb, &p), -EINVAL);
	CHECK_EQ(worker_add_fd(w, fds[0], EPOLLIN, NULL, &p), -EINVAL);
	for (int i = 0; i < WORKER_MAX_FDS; i++)
		CHECK_EQ(worker_add_fd(w, fds[i], EPOLLIN, count_cb, &p), 0);
	CHECK_EQ(worker_add_fd(w, fds[WORKER_MAX_FDS], EPOLLIN, count_cb, &p), -ENOSPC);
	CHECK_EQ(worker_add_fd(w, fds[3], EPOLLIN, count_cb, &p), -EEXIST);
	CHECK_EQ(worker_del_fd(w, fds[3]), 0);
	CHECK_EQ(worker_del_fd(w, fds[3]), -ENOENT);
	CHECK_EQ(worker_add_fd(w, fds[WORKER_MAX_FDS], EPOLLIN, count_cb, &p), 0);
	CHECK_EQ(worker_del_fd(w, fds[0]), 0);
	CHECK_EQ(worker_add_fd(w, 1000000, EPOLLIN, count_cb, &p), -EBADF);
	CHECK_EQ(worker_add_fd(w, fds[0], EPOLLIN, count_cb, &p), 0); /* the slot was freed */
	worker_destroy(w);
	for (int i = 0; i <= WORKER_MAX_FDS; i++)
		close(fds[i]);
}

TEST(removed_fd_is_not_called)
{
	struct probe a = {0}, b = {0};
	int fa = eventfd(0, EFD_NONBLOCK), fb = eventfd(0, EFD_NONBLOCK);
	struct worker *w = worker_create("t-del");

	sem_init(&a.called, 0, 0);
	sem_init(&b.called, 0, 0);
	CHECK_EQ(worker_add_fd(w, fa, EPOLLIN, count_cb, &a), 0);
	CHECK_EQ(worker_add_fd(w, fb, EPOLLIN, count_cb, &b), 0);
	CHECK_EQ(worker_start(w), 0);
	CHECK_EQ(worker_pause(w), 0);
	CHECK_EQ(worker_del_fd(w, fa), 0);
	kick(fa);
	CHECK_EQ(worker_resume(w), 0);
	sem_wait(&b.called); /* b's resume call */
	kick(fb);
	sem_wait(&b.called);
	CHECK_EQ(worker_stop(w), 0);
	CHECK_EQ(a.nr_calls, 0);
	CHECK_EQ(b.drained, 1);
	worker_destroy(w);
	close(fa);
	close(fb);
}

TEST(pause_right_after_resume)
{
	struct probe p = {0};
	int fd = eventfd(0, EFD_NONBLOCK);
	struct worker *w = worker_create("t-flip");

	sem_init(&p.called, 0, 0);
	CHECK_EQ(worker_add_fd(w, fd, EPOLLIN, count_cb, &p), 0);
	CHECK_EQ(worker_start(w), 0);
	/* Back-to-back pause/resume pairs never fail, whether or not the worker has woken up
	 * from the previous resume yet. */
	for (int i = 0; i < 2000; i++) {
		CHECK_EQ(worker_pause(w), 0);
		CHECK_EQ(worker_resume(w), 0);
	}
	CHECK_EQ(worker_pause(w), 0);
	int calls = __atomic_load_n(&p.nr_calls, __ATOMIC_SEQ_CST);
	kick(fd);
	CHECK_EQ(__atomic_load_n(&p.nr_calls, __ATOMIC_SEQ_CST), calls); /* parked */
	CHECK_EQ(worker_stop(w), 0);
	worker_destroy(w);
	close(fd);
	sem_destroy(&p.called);
}

/* Inline mode (fuzzers): no thread; worker_run_inline() runs ready callbacks on the
 * caller, pause holds them, resume owes each one events == 0 call, stop ends them. */
struct inline_count {
	int calls, rechecks;
};

static void inline_cb(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct inline_count *c = arg;

	(void)w;
	if (events)
		c->calls++;
	else
		c->rechecks++;
	worker_eventfd_drain(fd);
}

TEST(inline_mode)
{
	struct inline_count c = {0};
	uint64_t one = 1;
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	worker_set_inline(true);
	struct worker *w = worker_create("inline");
	worker_set_inline(false);
	CHECK(w != NULL && fd >= 0);
	if (!w)
		return;
	CHECK_EQ(worker_add_fd(w, fd, EPOLLIN, inline_cb, &c), 0);
	CHECK_EQ(worker_run_inline(4), 0); /* not started */
	CHECK_EQ(worker_start(w), 0);
	CHECK(!worker_is_self(w));
	CHECK_EQ(worker_run_inline(4), 0); /* nothing ready */
	CHECK(write(fd, &one, sizeof(one)) == sizeof(one));
	CHECK_EQ(worker_run_inline(4), 1);
	CHECK_EQ(c.calls, 1);
	CHECK_EQ(worker_pause(w), 0);
	CHECK(write(fd, &one, sizeof(one)) == sizeof(one));
	CHECK_EQ(worker_run_inline(4), 0); /* paused: held */
	CHECK_EQ(worker_resume(w), 0);
	CHECK_EQ(worker_resume(w), -EINVAL);
	CHECK_EQ(worker_run_inline(4), 1); /* the recheck drains it */
	CHECK_EQ(c.rechecks, 1);
	CHECK_EQ(c.calls, 1);
	CHECK_EQ(worker_stop(w), 0);
	CHECK(write(fd, &one, sizeof(one)) == sizeof(one));
	CHECK_EQ(worker_run_inline(4), 0); /* stopped */
	CHECK_EQ(worker_stop(w), -EINVAL);
	worker_destroy(w);
	close(fd);
}

int main(void)
{
	RUN(callback_runs_on_worker);
	RUN(pause_blocks_callbacks_until_resume);
	RUN(pause_waits_for_current_request);
	RUN(fd_registration);
	RUN(removed_fd_is_not_called);
	RUN(pause_right_after_resume);
	RUN(inline_mode);
	return test_summary();
}

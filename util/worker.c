/* util/worker.c — device I/O thread with a pause/stop handshake. See worker.h.
 *
 * Trusts its callers (device code). The handshake: a controller sets `request` under the
 * mutex and writes the control eventfd; the worker, between callbacks, sees the eventfd,
 * takes the mutex, publishes its new `state` and signals the condition variable; the
 * controller waits on that condition until the state matches.
 */
#include "util/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/seccomp.h"

enum worker_state { WORKER_IDLE, WORKER_RUNNING, WORKER_PAUSED, WORKER_EXITED };
enum worker_request { WORKER_REQ_NONE, WORKER_REQ_PAUSE, WORKER_REQ_STOP };

struct worker_watch {
	int fd; /* -1: free slot */
	worker_fn *fn;
	void *arg;
};

struct worker {
	char name[16];
	int epfd;
	int ctl_fd;
	pthread_t thread;
	bool has_thread;
	pthread_mutex_t lock; /* protects state, request and watches[] */
	pthread_cond_t cond;
	enum worker_state state;
	enum worker_request request; /* also read without the lock by worker_should_yield */
	struct worker_watch watches[WORKER_MAX_FDS];
	/* Inline mode (worker.h): no thread; worker_run_inline() calls the callbacks. */
	bool is_inline;
	bool owes_recheck; /* resumed: every callback is owed one events == 0 call */
	struct worker *inline_next;
};

static bool is_inline_mode;
static struct worker *inline_head; /* running inline workers */
static pthread_mutex_t inline_lock = PTHREAD_MUTEX_INITIALIZER;

void worker_set_inline(bool is_inline)
{
	is_inline_mode = is_inline;
}

struct worker *worker_create(const char *name)
{
	struct worker *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return NULL;
	snprintf(w->name, sizeof(w->name), "%s", name ? name : "worker");
	for (unsigned i = 0; i < WORKER_MAX_FDS; i++)
		w->watches[i].fd = -1;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd < 0) {
		err = errno;
		goto free_w;
	}
	w->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->ctl_fd < 0) {
		err = errno;
		goto close_epfd;
	}
	/* data.u32 = WORKER_MAX_FDS marks the control fd; watches use their slot number. */
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = WORKER_MAX_FDS};
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->ctl_fd, &ev) < 0) {
		err = errno;
		goto close_ctl;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->state = WORKER_IDLE;
	w->is_inline = is_inline_mode;
	return w;

close_ctl:
	close(w->ctl_fd);
close_epfd:
	close(w->epfd);
free_w:
	free(w);
	errno = err;
	return NULL;
}

void worker_destroy(struct worker *w)
{
	if (!w)
		return;
	worker_stop(w);
	close(w->ctl_fd);
	close(w->epfd);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int worker_add_fd(struct worker *w, int fd, uint32_t events, worker_fn *fn, void *arg)
{
	int slot = -1, err = 0;

	if (fd < 0 || !fn)
		return -EINVAL;
	pthread_mutex_lock(&w->lock);
	for (int i = 0; i < WORKER_MAX_FDS; i++) {
		if (w->watches[i].fd == fd) {
			err = -EEXIST;
			goto unlock;
		}
		if (w->watches[i].fd < 0 && slot < 0)
			slot = i;
	}
	if (slot < 0) {
		err = -ENOSPC;
		goto unlock;
	}
	w->watches[slot] = (struct worker_watch){.fd = fd, .fn = fn, .arg = arg};
	struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)slot};
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err = -errno;
		w->watches[slot].fd = -1;
	}
unlock:
	pthread_mutex_unlock(&w->lock);
	return err;
}

int worker_del_fd(struct worker *w, int fd)
{
	int err = -ENOENT;

	pthread_mutex_lock(&w->lock);
	for (int i = 0; i < WORKER_MAX_FDS; i++) {
		if (w->watches[i].fd == fd) {
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
			w->watches[i].fd = -1;
			err = 0;
			break;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return err;
}

/* Calls the callback of one slot. The slot is copied under the lock; the callback runs
 * without it (worker_add_fd from a callback must not deadlock). */
static void worker_call(struct worker *w, unsigned slot, uint32_t events)
{
	struct worker_watch watch;

	pthread_mutex_lock(&w->lock);
	watch = w->watches[slot];
	pthread_mutex_unlock(&w->lock);
	if (watch.fd >= 0)
		watch.fn(w, watch.fd, events, watch.arg);
}

/* Handles a control request. Returns true if the worker must exit. */
static bool worker_control(struct worker *w)
{
	bool is_exit = false, was_paused = false;

	worker_eventfd_drain(w->ctl_fd);
	pthread_mutex_lock(&w->lock);
	while (w->request == WORKER_REQ_PAUSE) {
		if (w->state != WORKER_PAUSED) {
			w->state = WORKER_PAUSED;
			pthread_cond_broadcast(&w->cond); /* the acknowledgement */
		}
		was_paused = true;
		pthread_cond_wait(&w->cond, &w->lock);
	}
	if (w->request == WORKER_REQ_STOP) {
		is_exit = true;
		w->state = WORKER_EXITED;
	} else {
		w->state = WORKER_RUNNING;
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (was_paused && !is_exit) {
		/* Work may have arrived while paused, or a callback may have yielded. */
		for (unsigned i = 0; i < WORKER_MAX_FDS; i++)
			worker_call(w, i, 0);
	}
	return is_exit;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[WORKER_MAX_FDS + 1];

	/* Named from inside (no /proc write from the starting thread), then filtered before
	 * the first callback can see guest data. */
	pthread_setname_np(pthread_self(), w->name);
	if (seccomp_apply(seccomp_kind_for_worker(w->name)) < 0)
		abort();

	for (;;) {
		int n = epoll_wait(w->epfd, evs, WORKER_MAX_FDS + 1, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("worker %s: epoll_wait: %s", w->name, strerror(errno));
			/* Keep the handshake alive: wait for stop in the control path. */
			pthread_mutex_lock(&w->lock);
			while (w->request != WORKER_REQ_STOP)
				pthread_cond_wait(&w->cond, &w->lock);
			w->state = WORKER_EXITED;
			pthread_cond_broadcast(&w->cond);
			pthread_mutex_unlock(&w->lock);
			return NULL;
		}
		/* Control first: a pause must not wait behind a batch of device work. */
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == WORKER_MAX_FDS && worker_control(w))
				return NULL;
		}
		for (int i = 0; i < n; i++) {
			uint32_t slot = evs[i].data.u32;
			if (slot >= WORKER_MAX_FDS)
				continue;
			/* A request arriving during the batch is served before the next callback. */
			if (__atomic_load_n(&w->request, __ATOMIC_ACQUIRE) != WORKER_REQ_NONE) {
				if (worker_control(w))
					return NULL;
			}
			worker_call(w, slot, evs[i].events);
		}
	}
}

int worker_start(struct worker *w)
{
	int err;

	pthread_mutex_lock(&w->lock);
	if (w->state != WORKER_IDLE) {
		pthread_mutex_unlock(&w->lock);
		return -EINVAL;
	}
	w->request = WORKER_REQ_NONE;
	w->state = WORKER_RUNNING;
	if (w->is_inline) {
		pthread_mutex_unlock(&w->lock);
		pthread_mutex_lock(&inline_lock);
		w->inline_next = inline_head;
		inline_head = w;
		pthread_mutex_unlock(&inline_lock);
		return 0;
	}
	err = pthread_create(&w->thread, NULL, worker_main, w);
	if (err) {
		w->state = WORKER_IDLE;
		pthread_mutex_unlock(&w->lock);
		return -err;
	}
	w->has_thread = true;
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static void worker_kick_ctl(struct worker *w)
{
	uint64_t one = 1;
	ssize_t r = write(w->ctl_fd, &one, sizeof(one));
	(void)r; /* EAGAIN means the counter is already non-zero: the worker will wake */
}

/* Pause, resume and stop of an inline worker: state changes only. */
static int worker_inline_control(struct worker *w, enum worker_request req)
{
	int err = 0;

	pthread_mutex_lock(&w->lock);
	if (req == WORKER_REQ_PAUSE) {
		if (w->state == WORKER_RUNNING)
			w->state = WORKER_PAUSED;
		else
			err = -EINVAL;
	} else if (req == WORKER_REQ_NONE) {
		if (w->state == WORKER_PAUSED) {
			w->state = WORKER_RUNNING;
			w->owes_recheck = true;
		} else {
			err = -EINVAL;
		}
	} else if (w->state == WORKER_IDLE) {
		err = -EINVAL;
	} else {
		w->state = WORKER_IDLE;
		w->owes_recheck = false;
		pthread_mutex_lock(&inline_lock);
		for (struct worker **p = &inline_head; *p; p = &(*p)->inline_next) {
			if (*p == w) {
				*p = w->inline_next;
				break;
			}
		}
		pthread_mutex_unlock(&inline_lock);
	}
	pthread_mutex_unlock(&w->lock);
	return err;
}

unsigned worker_run_inline(unsigned max_rounds)
{
	struct epoll_event evs[WORKER_MAX_FDS + 1];
	unsigned total = 0;

	for (unsigned round = 0; round < max_rounds; round++) {
		unsigned ran = 0;

		/* Callbacks never start or stop workers, so the list holds still meanwhile. */
		for (struct worker *w = inline_head; w; w = w->inline_next) {
			if (w->state != WORKER_RUNNING)
				continue;
			if (w->owes_recheck) {
				w->owes_recheck = false;
				for (unsigned i = 0; i < WORKER_MAX_FDS; i++)
					worker_call(w, i, 0);
				ran++;
			}
			int n = epoll_wait(w->epfd, evs, WORKER_MAX_FDS + 1, 0);
			for (int i = 0; i < n; i++) {
				uint32_t slot = evs[i].data.u32;
				if (slot >= WORKER_MAX_FDS) {
					worker_eventfd_drain(w->ctl_fd);
					continue;
				}
				worker_call(w, slot, evs[i].events);
				ran++;
			}
		}
		total += ran;
		if (!ran)
			break;
	}
	return total;
}

int worker_pause(struct worker *w)
{
	if (w->is_inline)
		return worker_inline_control(w, WORKER_REQ_PAUSE);
	if (worker_is_self(w))
		return -EDEADLK;
	pthread_mutex_lock(&w->lock);
	/* PAUSED with no request: a resume the worker has not woken up for yet. Asking again
	 * simply keeps it parked. */
	if ((w->state != WORKER_RUNNING && w->state != WORKER_PAUSED) ||
	    w->request != WORKER_REQ_NONE) {
		pthread_mutex_unlock(&w->lock);
		return -EINVAL;
	}
	__atomic_store_n(&w->request, WORKER_REQ_PAUSE, __ATOMIC_RELEASE);
	worker_kick_ctl(w);
	while (w->state != WORKER_PAUSED && w->state != WORKER_EXITED)
		pthread_cond_wait(&w->cond, &w->lock);
	int err = w->state == WORKER_PAUSED ? 0 : -ESRCH;
	pthread_mutex_unlock(&w->lock);
	return err;
}

int worker_resume(struct worker *w)
{
	if (w->is_inline)
		return worker_inline_control(w, WORKER_REQ_NONE);
	pthread_mutex_lock(&w->lock);
	if (w->state != WORKER_PAUSED || w->request != WORKER_REQ_PAUSE) {
		pthread_mutex_unlock(&w->lock);
		return -EINVAL;
	}
	__atomic_store_n(&w->request, WORKER_REQ_NONE, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

int worker_stop(struct worker *w)
{
	if (w->is_inline)
		return worker_inline_control(w, WORKER_REQ_STOP);
	if (worker_is_self(w))
		return -EDEADLK;
	pthread_mutex_lock(&w->lock);
	if (!w->has_thread) {
		pthread_mutex_unlock(&w->lock);
		return -EINVAL;
	}
	__atomic_store_n(&w->request, WORKER_REQ_STOP, __ATOMIC_RELEASE);
	worker_kick_ctl(w);
	pthread_cond_broadcast(&w->cond); /* wakes a paused worker */
	while (w->state != WORKER_EXITED)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_lock(&w->lock);
	w->has_thread = false;
	w->state = WORKER_IDLE;
	w->request = WORKER_REQ_NONE;
	pthread_mutex_unlock(&w->lock);
	worker_eventfd_drain(w->ctl_fd);
	return 0;
}

bool worker_should_yield(const struct worker *w)
{
	return __atomic_load_n(&w->request, __ATOMIC_ACQUIRE) != WORKER_REQ_NONE;
}

bool worker_is_self(const struct worker *w)
{
	return w->has_thread && pthread_equal(pthread_self(), w->thread);
}

uint64_t worker_eventfd_drain(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* util/worker.h — a device I/O thread: epoll over registered fds plus a control eventfd.
 *
 * Each device runs its I/O on its own worker(s). A worker sleeps in epoll_wait on the fds
 * it was given (queue ioeventfds, backend fds, timerfds) and on a private control eventfd.
 * It calls the callback registered with each ready fd, one at a time, on its own thread.
 *
 * Control (from any other thread, never from the worker itself):
 *   worker_pause()  — the worker finishes the callback it is in, acknowledges, and waits;
 *                     worker_pause() returns only after the acknowledgement, so when it
 *                     returns the worker writes no guest memory until worker_resume().
 *   worker_resume() — the worker goes on; it then calls every callback once with
 *                     events == 0 so that work which arrived during the pause (or which a
 *                     callback left for later, see worker_should_yield()) is not lost.
 *   worker_stop()   — the worker acknowledges and exits; the thread is joined.
 * No pthread_cancel anywhere (the binary must run in a bare initramfs).
 *
 * Trust: the fds and callbacks come from the device code (trusted); this file never looks
 * at guest memory.
 */
#ifndef ARCVMM_UTIL_WORKER_H
#define ARCVMM_UTIL_WORKER_H

#include <stdbool.h>
#include <stdint.h>

struct worker;

/* Called on the worker thread when fd is ready. events: EPOLLIN etc., or 0 for the
 * "check again" call after a resume. The callback must not block for long (no waiting on
 * the guest); it should drain what it can and return. */
typedef void worker_fn(struct worker *w, int fd, uint32_t events, void *arg);

/* Maximum fds one worker can watch (besides its control eventfd). */
#define WORKER_MAX_FDS 16

/* Creates a stopped worker named name (used for the thread name, ≤15 chars kept).
 * Returns NULL with errno set. */
struct worker *worker_create(const char *name);
/* Frees the worker; stops it first if it runs. Does not close the fds it watched. */
void worker_destroy(struct worker *w);

/* Watches fd for events (EPOLLIN, ...) and calls fn(w, fd, events, arg). Allowed before
 * worker_start() and while the worker runs or is paused (not from another callback of a
 * different worker). Returns 0, -ENOSPC past WORKER_MAX_FDS, -EEXIST, or -errno. */
int worker_add_fd(struct worker *w, int fd, uint32_t events, worker_fn *fn, void *arg);
/* Stops watching fd. Returns 0 or -ENOENT. */
int worker_del_fd(struct worker *w, int fd);

/* Starts the thread. Returns 0 or -errno. */
int worker_start(struct worker *w);
/* Pause/resume/stop handshake, see above. Each returns 0, or -EINVAL if the worker is not
 * in a state where the request makes sense (not running, already paused, ...). */
int worker_pause(struct worker *w);
int worker_resume(struct worker *w);
int worker_stop(struct worker *w);

/* For long loops inside a callback: true once pause or stop was requested, so the
 * callback can return early (the resume call with events == 0 picks the work up again). */
bool worker_should_yield(const struct worker *w);
/* True if the calling thread is this worker's thread. */
bool worker_is_self(const struct worker *w);

/* Reads an eventfd to zero (ignores EAGAIN). Returns the counter value read, 0 if none. */
uint64_t worker_eventfd_drain(int fd);

/* Inline mode, for fuzzers and single-threaded tests only: workers created while it is on
 * get no thread. worker_start() makes them runnable, pause/resume/stop only change their
 * state (there is no thread to wait for), and worker_run_inline() runs, on the calling
 * thread, the callbacks of every ready fd of every running inline worker (and the
 * events == 0 calls a resume owes), round after round until no fd is ready or max_rounds
 * is reached. Returns the number of callbacks run. No seccomp filter is applied. A VM never
 * turns this on: its device code runs unchanged, only the scheduling differs. */
void worker_set_inline(bool is_inline);
unsigned worker_run_inline(unsigned max_rounds);

#endif

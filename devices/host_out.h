/* devices/host_out.h — a bounded output buffer in front of a host fd that is never written
 * in a way that can block: what the console devices (virtio-console's worker, the UART's
 * control-thread flush) use for the guest's output.
 *
 * The host fd is the user's (often the terminal shared with the shell, or a pipe): its
 * flags are never changed. host_out_init() picks how to write without blocking:
 *   - a regular file or block device: plain write() (it never waits for a reader);
 *   - an fd already O_NONBLOCK: a dup of it, written as is;
 *   - otherwise (pipe, FIFO, terminal, character device) it reopens the same file through
 *     /proc/self/fd/N with O_NONBLOCK: a new open file description, so the flag is ours
 *     alone (a terminal keeps its termios; a pipe gets a second writer end, closed in
 *     host_out_fini());
 *   - where that is impossible (a socket, no /proc in a jail, a FIFO whose reader left):
 *     a dup, and write() only after poll() reports POLLOUT, at most PIPE_BUF bytes at a
 *     time (a pipe, a Unix or TCP socket then takes them without waiting).
 *
 * Policy: bytes wait in the buffer (HOST_OUT_SIZE) while the reader is slow or stuck; the
 * caller decides what to do when it is full (virtio-console stops taking chains from the
 * guest; the UART drops after a stall). If the reader is gone (EPIPE, or any other write
 * error), everything from then on is dropped and counted.
 *
 * Not thread-safe: one thread (the device's worker, or the control thread) owns it;
 * host_out_dropped() may be read from anywhere.
 */
#ifndef ARCVMM_DEVICES_HOST_OUT_H
#define ARCVMM_DEVICES_HOST_OUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOST_OUT_SIZE (64 * 1024)

enum host_out_mode {
	HOST_OUT_DISCARD,  /* no fd: output is dropped (not counted) */
	HOST_OUT_FILE,	   /* regular file: write() does not wait for anyone */
	HOST_OUT_NONBLOCK, /* our own O_NONBLOCK fd */
	HOST_OUT_POLLED,   /* poll() for POLLOUT, then at most PIPE_BUF bytes */
};

struct host_out {
	int fd; /* ours (reopened or dup'ed; closed by fini), -1 with HOST_OUT_DISCARD */
	int user_fd;
	uint64_t user_dev, user_ino; /* which file user_fd was (fd numbers get reused) */
	enum host_out_mode mode;
	bool is_gone; /* the reader went away or the fd broke: drop from now on */
	uint8_t *buf; /* [HOST_OUT_SIZE] ring */
	size_t head, len;
	_Atomic uint64_t nr_dropped; /* bytes given up for a gone reader (or a full buffer) */
	_Atomic uint64_t nr_written; /* bytes the fd took */
};

/* user_fd may be -1 (discard). Returns 0 or -errno (out of memory, a bad fd). */
int host_out_init(struct host_out *o, int user_fd);
/* True if o was set up for user_fd and user_fd is still the same file. */
bool host_out_is_for(const struct host_out *o, int user_fd);
/* Closes our fd (not user_fd); pending bytes are lost. */
void host_out_fini(struct host_out *o);
/* Bytes the buffer can still take. */
size_t host_out_space(const struct host_out *o);
size_t host_out_pending(const struct host_out *o);
/* Copies up to len bytes in (all of them if the output is discarded or gone, counting
 * them as dropped). Returns how many were taken. */
size_t host_out_put(struct host_out *o, const void *p, size_t len);
/* Counts len bytes the caller gave up on (e.g. the UART after a stall). */
void host_out_drop(struct host_out *o, size_t len);
/* Writes what the fd takes without blocking. Returns 0 (buffer empty), -EAGAIN (bytes
 * remain: wait for POLLOUT on host_out_poll_fd()), or -EPIPE (the reader is gone; the
 * buffer was dropped). */
int host_out_flush(struct host_out *o);
/* At teardown only (never on reset, pause or a vCPU's path): flushes, waiting for POLLOUT
 * at most max_ms in all, then counts what is left as dropped. So the guest's last lines
 * reach a reader that is merely slow, and a stuck one delays the end by max_ms at most.
 * Returns 0 if everything went out. */
int host_out_drain(struct host_out *o, int max_ms);
/* The fd to watch for EPOLLOUT while host_out_flush() says -EAGAIN; -1 if none. */
int host_out_poll_fd(const struct host_out *o);
uint64_t host_out_dropped(const struct host_out *o);
uint64_t host_out_written(const struct host_out *o);

#endif

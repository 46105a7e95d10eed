/* devices/virtio_console.h — virtio console (device ID 3), one port: the guest's hvc0.
 *
 * vm.c: struct virtio_console *c = virtio_console_create(mem, STDIN_FILENO, STDOUT_FILENO,
 *                                                        err, sizeof(err));
 *       t = virtio_mmio_create(mem, base, gsi, &virtio_console_ops, c);
 * virtio_mmio_destroy(t) frees c through ops->destroy.
 *
 * No feature bits (no MULTIPORT, no SIZE): queue 0 is port 0's receiveq (host → guest,
 * read from in_fd), queue 1 its transmitq (guest → host, written to out_fd). Both run on
 * one worker thread. in_fd may be -1 (no input), a terminal, pipe or socket (watched with
 * epoll), or a regular file (read as the guest posts buffers, until EOF). out_fd may be -1
 * (output dropped). Neither fd is closed by the device; the caller sets the terminal mode.
 * Output is never written in a way that blocks (devices/host_out.h: out_fd's own flags
 * are left alone); a stuck reader makes the guest's writes wait, a gone one (EPIPE) drops
 * them with a counter; reset, pause and stop never wait on out_fd.
 */
#ifndef ARCVMM_DEVICES_VIRTIO_CONSOLE_H
#define ARCVMM_DEVICES_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "mem/guest_mem.h"
#include "virtio/mmio.h"

#define VIRTIO_CONSOLE_RXQ 0
#define VIRTIO_CONSOLE_TXQ 1

struct virtio_console;

extern const struct virtio_device_ops virtio_console_ops;

/* Returns NULL with one line in err (and errno) on failure. */
struct virtio_console *virtio_console_create(const struct guest_mem *mem, int in_fd, int out_fd,
					     char *err, size_t errlen);
/* Frees a console never handed to a transport. */
void virtio_console_destroy(struct virtio_console *c);

/* Byte counters (racy reads, for tests). */
void virtio_console_get_stats(const struct virtio_console *c, uint64_t *in_bytes,
			      uint64_t *out_bytes);
/* Output bytes dropped because out_fd's reader went away (EPIPE or another write error). */
uint64_t virtio_console_get_dropped(const struct virtio_console *c);

#endif

/* tests/fuzz/fuzz_console.c — libFuzzer target for virtio-console (devices/virtio_console.c
 * and its output buffer devices/host_out.c, instrumented) behind the real transport and
 * ring, driven by the hostile driver of fuzz_driver.c.
 *
 * The host side is two pipes: the device reads input from one and writes output into the
 * other, whose capacity is cut to one page so the full-buffer path (the transmit queue
 * waits, nothing is lost) is reached in a few records. FZ_OP_DEVICE commands: bit 0 —
 * the rest of the record is host input; bit 1 — the host reads the output pipe empty.
 * Oracles besides the sanitizers and the driver's checks: the output pipe never holds
 * bytes the guest did not write (the device's out counter covers what the host read) and
 * a stuck reader never loses output (no drop while the reader is there).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "devices/virtio_console.h"
#include "tests/fuzz/fuzz_driver.h"

static struct fz_driver d;
static struct virtio_console *con;
static int in_pipe[2], out_pipe[2];
static uint64_t host_read; /* output bytes the host has read, all inputs together */

static void drain_output(void)
{
	uint8_t buf[4096];
	ssize_t n;

	while ((n = read(out_pipe[0], buf, sizeof(buf))) > 0)
		host_read += (uint64_t)n;
}

static void check_counters(void)
{
	uint64_t in_bytes, out_bytes;

	virtio_console_get_stats(con, &in_bytes, &out_bytes);
	if (host_read > out_bytes)
		abort(); /* the host read more than the guest wrote */
	if (virtio_console_get_dropped(con))
		abort(); /* the reader is still there: nothing may be dropped */
}

static void console_event(void *ctx, const uint8_t *data, size_t len)
{
	(void)ctx;
	if (!len)
		return;
	if ((data[0] & 1) && len > 1) {
		ssize_t r = write(in_pipe[1], data + 1, len - 1);
		(void)r; /* a full input pipe just keeps the rest */
	}
	if (data[0] & 2)
		drain_output();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	/* The output pipe's writer end stays blocking: the device must cope on its own. */
	if (pipe2(in_pipe, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0)
		abort();
	if (fcntl(out_pipe[0], F_SETFL, O_NONBLOCK) < 0)
		abort();
	fcntl(out_pipe[1], F_SETPIPE_SZ, 4096);
	fz_driver_init(&d, &virtio_console_ops, NULL, 2);
	con = virtio_console_create(&d.mem, in_pipe[0], out_pipe[1], err, sizeof(err));
	if (!con) {
		fprintf(stderr, "fuzz_console: %s\n", err);
		abort();
	}
	d.dev = con;
	d.device_event = console_event;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[4096];

	fz_driver_run(&d, data, size);
	check_counters();
	/* The next input starts with empty pipes. */
	drain_output();
	while (read(in_pipe[0], buf, sizeof(buf)) > 0)
		;
	return 0;
}

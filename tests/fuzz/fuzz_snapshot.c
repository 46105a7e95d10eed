/* tests/fuzz/fuzz_snapshot.c — libFuzzer target for the snapshot state file parser
 * (core/snapshot_format.c): any bytes, as a file from an untrusted place would be. Finds
 * reads past the buffer, overflowing length arithmetic and UB; an accepted file must have
 * every section inside the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/snapshot_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_host host;
	struct snap_file f;
	char err[256];
	/* Its own copy so ASan catches a read one byte past the end. */
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	snap_host_probe(&host);
	if (!snap_parse(buf, size, NULL, &host, &f, err, sizeof(err))) {
		for (unsigned i = 0; i < f.nr_secs; i++) {
			const uint8_t *p = f.secs[i].data;
			if (p < buf || p + f.secs[i].len > buf + size)
				abort();
			volatile uint8_t sink = f.secs[i].len ? p[f.secs[i].len - 1] : 0;
			(void)sink;
		}
		snap_file_fini(&f);
	}
	free(buf);
	return 0;
}

/* tests/fuzz/fuzz_rng.c — libFuzzer target for virtio-rng (devices/virtio_rng.c,
 * instrumented) behind the real transport and ring, driven by the hostile driver of
 * fuzz_driver.c: readable buffers where writable ones belong, chains of every length up
 * to the 1024-descriptor limit through indirect tables, resets and pauses. The device's
 * only parser is the chain walk, so the oracles are the sanitizers and the driver's
 * used-ring checks.
 */
#include <stdint.h>
#include <stdlib.h>

#include "devices/virtio_rng.h"
#include "tests/fuzz/fuzz_driver.h"

static struct fz_driver d;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	void *rng = virtio_rng_create();

	(void)argc;
	(void)argv;
	if (!rng)
		abort();
	fz_driver_init(&d, &virtio_rng_ops, rng, 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_driver_run(&d, data, size);
	return 0;
}

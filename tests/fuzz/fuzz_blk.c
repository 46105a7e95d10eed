/* tests/fuzz/fuzz_blk.c — libFuzzer target for virtio-blk request parsing
 * (devices/virtio_blk.c, instrumented) behind the real transport and ring, driven by the
 * hostile driver of fuzz_driver.c: arbitrary descriptors, headers, segments, discard
 * tables, resets and pauses mid-flight.
 *
 * Backends: two 256 KiB memfd images, one writable and one read-only (the first byte of the
 * script's size field picks: bit 7), through the synchronous preadv/pwritev path of
 * backends/disk.c (ARCVMM_DISK_NO_URING=1) so a run is deterministic. Oracles besides the
 * sanitizers and the driver's used-ring checks: an image never grows (nothing is written
 * past the capacity) and the read-only image's bytes never change.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio_blk.h"
#include "tests/fuzz/fuzz_driver.h"

#define IMG_SIZE (256u << 10)

struct image {
	int fd;
	struct virtio_blk *b;
	struct fz_driver d;
};

static struct image rw, ro;
/* The read-only image as the device sees it (a shared mapping) and as it was made. */
static const uint8_t *ro_map;
static uint8_t ro_copy[IMG_SIZE];

static void image_open(struct image *im, bool is_read_only)
{
	struct vm_disk_config cfg = {0};
	char path[64], err[256];

	im->fd = memfd_create(is_read_only ? "fuzz-blk-ro" : "fuzz-blk-rw", 0);
	if (im->fd < 0 || ftruncate(im->fd, IMG_SIZE) < 0)
		abort();
	for (unsigned off = 0; off < IMG_SIZE; off += 4096) {
		uint8_t page[4096];
		memset(page, (int)(off / 4096), sizeof(page));
		if (pwrite(im->fd, page, sizeof(page), off) != (ssize_t)sizeof(page))
			abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", im->fd);
	cfg.path = path;
	cfg.id = "fuzz-disk";
	cfg.is_read_only = is_read_only;
	cfg.nr_queues = 2;
	fz_driver_init(&im->d, &virtio_blk_ops, NULL, 2);
	im->b = virtio_blk_create(&im->d.mem, &cfg, err, sizeof(err));
	if (!im->b) {
		fprintf(stderr, "fuzz_blk: %s\n", err);
		abort();
	}
	im->d.dev = im->b;
	/* Each activation allocates a request (2 KiB) per entry: past 32 entries that is
	 * mmap and page-fault time, not coverage. */
	im->d.max_size_log2 = 5;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("ARCVMM_DISK_NO_URING", "1", 1);
	image_open(&rw, false);
	image_open(&ro, true);
	ro_map = mmap(NULL, IMG_SIZE, PROT_READ, MAP_SHARED, ro.fd, 0);
	if (ro_map == MAP_FAILED)
		abort();
	memcpy(ro_copy, ro_map, IMG_SIZE);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image *im;
	struct stat st;

	if (size < 9)
		return 0;
	im = data[8] & 0x80 ? &ro : &rw;
	fz_driver_run(&im->d, data, size);
	if (fstat(im->fd, &st) < 0 || st.st_size != IMG_SIZE)
		abort(); /* written or cut past the capacity */
	if (im == &ro && memcmp(ro_map, ro_copy, IMG_SIZE))
		abort(); /* a read-only image changed */
	return 0;
}

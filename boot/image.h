/* boot/image.h — helpers shared by the kernel loaders (boot/elf.c, boot/bzimage.c):
 * unaligned little-endian reads from a file image and the one error formatter, so every
 * message names the option and the file the same way. Internal to boot/.
 */
#ifndef ARCVMM_BOOT_IMAGE_H
#define ARCVMM_BOOT_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "boot/boot.h"

static inline uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Writes "--kernel NAME: <fmt...>" into err (if any) and returns ret. */
int boot_image_fail(int ret, char *err, size_t errlen, const struct boot_image *img,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif

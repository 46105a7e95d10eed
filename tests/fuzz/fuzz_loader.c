/* tests/fuzz/fuzz_loader.c — libFuzzer target for the kernel loaders (boot/elf.c,
 * boot/bzimage.c): a user's --kernel file is untrusted input. Input: one selector byte
 * (ELF with PVH, ELF with the 64-bit entry, or bzImage), then the image. Guest RAM is a
 * small memfd with x86's MMIO hole above it, so a loader that writes outside RAM or reads
 * past the image is caught by ASan or by the sentinel at the end of RAM.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "mem/guest_mem.h"

#define MIB (1ULL << 20)
#define RAM (64 * MIB)

static struct guest_mem mem;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	uint64_t entry = 0, kernel_end = 0;

	if (!mem.map && guest_mem_init(&mem, RAM, 3072 * MIB, 4096 * MIB))
		abort();
	if (size < 1)
		return 0;
	struct boot_image img = {.data = data + 1, .size = size - 1, .name = "fuzz"};
	err[0] = 0;
	if (data[0] % 3 == 2) {
		uint8_t hdr[BOOT_SETUP_HDR_MAX];
		size_t hdr_len = 0;
		uint32_t initrd_max = 0, cmdline_size = 0;
		if (boot_load_bzimage(&mem, &img, &entry, &kernel_end, hdr, &hdr_len, &initrd_max,
				      &cmdline_size, err, sizeof(err)) == 0) {
			if (hdr_len > sizeof(hdr) || kernel_end > RAM)
				abort();
		} else if (!err[0]) {
			abort(); /* every refusal names its reason */
		}
	} else {
		enum boot_entry_mode mode;
		enum boot_protocol proto = data[0] % 3 ? BOOT_PROTO_LINUX64 : BOOT_PROTO_PVH;
		if (boot_load_elf(&mem, &img, proto, &entry, &mode, &kernel_end, err,
				  sizeof(err)) == 0) {
			if (kernel_end > RAM)
				abort();
		} else if (!err[0]) {
			abort();
		}
	}
	return 0;
}

/* tests/fuzz/fuzz_snapshot_state.c — libFuzzer target for what a snapshot's sections feed
 * after the file passed its checksums (a file can be written by anyone, checksums and
 * all): the config section's JSON parser (core/snapshot.c) and the legacy devices' state
 * parsers. The first byte picks the parser, the rest is the section. An accepted config
 * must hold only values in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/snapshot.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/serial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void irq_level(void *ctx, bool level)
{
	(void)ctx;
	(void)level;
}

static void nothing(void *ctx)
{
	(void)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct serial *serial;
	char err[512];

	if (size < 1)
		return 0;
	uint8_t which = data[0] % 5;
	size--;
	/* Its own copy so ASan catches a read one byte past the end. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size);
	switch (which) {
	case 0: {
		struct vm_config c;
		uint64_t clock;
		config_init(&c);
		if (!snapshot_config_parse(&c, (const char *)buf, size, &clock, err, sizeof(err))) {
			if (c.ncpus < 1 || c.ncpus > VM_MAX_CPUS || c.mem_size < VM_MIN_MEM ||
			    c.nr_disks > VM_MAX_DISKS || c.nr_nets > VM_MAX_NETS)
				abort();
			for (unsigned i = 0; i < c.nr_disks; i++)
				if (!c.disks[i].path || !c.disks[i].nr_queues)
					abort();
		}
		config_fini(&c);
		break;
	}
	case 1:
		if (!serial)
			serial = serial_create(irq_level, NULL);
		if (serial)
			serial_restore(serial, buf, size);
		break;
	case 2: {
		struct i8042 k;
		i8042_init(&k, nothing, NULL);
		i8042_restore(&k, buf, size);
		break;
	}
	case 3: {
		struct rtc r;
		rtc_init(&r, NULL, NULL, NULL);
		rtc_restore(&r, buf, size);
		rtc_destroy(&r);
		break;
	}
	case 4: {
		struct acpi_pm pm;
		acpi_pm_init(&pm, nothing, nothing, NULL);
		acpi_pm_restore(&pm, buf, size);
		break;
	}
	}
	free(buf);
	return 0;
}

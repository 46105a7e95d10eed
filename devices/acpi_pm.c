/* devices/acpi_pm.c — see acpi_pm.h. The register semantics follow the ACPI 6.x
 * specification (4.8.3.7 sleep control/status registers, 4.8.3.6 reset register). */
#include "devices/acpi_pm.h"

#include <errno.h>
#include <string.h>

void acpi_pm_init(struct acpi_pm *pm, void (*poweroff)(void *ctx), void (*reset)(void *ctx),
		  void *ctx)
{
	memset(pm, 0, sizeof(*pm));
	pm->poweroff = poweroff;
	pm->reset = reset;
	pm->ctx = ctx;
}

bool acpi_pm_handles(uint16_t port)
{
	return port >= ACPI_PM_PORT && port - ACPI_PM_PORT < ACPI_PM_PORTS;
}

static void sleep_control_write(struct acpi_pm *pm, uint8_t v)
{
	unsigned typ = (v & X86_ACPI_SLP_TYP_MASK) >> X86_ACPI_SLP_TYP_SHIFT;

	if (!(v & X86_ACPI_SLP_EN))
		return; /* SLP_TYP is only acted on together with SLP_EN */
	if (typ == X86_ACPI_SLP_TYP_S5 && pm->poweroff) {
		pm->poweroff(pm->ctx);
		return;
	}
	/* A sleep state we never advertised: wake at once, so a guest waiting for WAK_STS
	 * goes on instead of spinning forever. */
	pm->sleep_status |= X86_ACPI_WAK_STS;
	pm->nr_ignored++;
}

static void write_byte(struct acpi_pm *pm, uint16_t port, uint8_t v)
{
	switch (port) {
	case X86_ACPI_SLEEP_CTL_PORT:
		sleep_control_write(pm, v);
		break;
	case X86_ACPI_SLEEP_STS_PORT:
		pm->sleep_status &= (uint8_t) ~(v & X86_ACPI_WAK_STS); /* write 1 to clear */
		break;
	case X86_ACPI_RESET_PORT:
		if (v == X86_ACPI_RESET_VALUE && pm->reset)
			pm->reset(pm->ctx);
		else
			pm->nr_ignored++;
		break;
	default:
		pm->nr_ignored++;
		break;
	}
}

static uint8_t read_byte(struct acpi_pm *pm, uint16_t port)
{
	if (port == X86_ACPI_SLEEP_STS_PORT)
		return pm->sleep_status;
	return 0; /* the control and reset registers are write-only */
}

void acpi_pm_pio(struct acpi_pm *pm, uint16_t port, uint8_t *data, unsigned size, bool is_write)
{
	for (unsigned i = 0; i < size; i++) {
		uint16_t p = (uint16_t)(port + i);

		if (!acpi_pm_handles(p) || (uint32_t)port + i > 0xffff) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		if (is_write)
			write_byte(pm, p, data[i]);
		else
			data[i] = read_byte(pm, p);
	}
}

/* --- snapshot --- */

#define ACPI_PM_STATE_MAGIC 0x4d504341 /* "ACPM" */

struct acpi_pm_state {
	uint32_t magic;
	uint8_t sleep_status, pad[3];
};

long acpi_pm_save(const struct acpi_pm *pm, void *buf, size_t cap)
{
	struct acpi_pm_state st = {.magic = ACPI_PM_STATE_MAGIC, .sleep_status = pm->sleep_status};

	if (cap < sizeof(st))
		return -ENOSPC;
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

int acpi_pm_restore(struct acpi_pm *pm, const void *buf, size_t len)
{
	struct acpi_pm_state st;

	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.magic != ACPI_PM_STATE_MAGIC || (st.sleep_status & ~X86_ACPI_WAK_STS))
		return -EINVAL;
	pm->sleep_status = st.sleep_status;
	return 0;
}

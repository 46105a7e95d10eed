/* devices/acpi_pm.h — the HW-reduced ACPI power-management registers the FADT points at
 * (arch/x86/acpi.h): the sleep control register (the guest writes SLP_TYP=S5 | SLP_EN to
 * power off), the sleep status register (WAK_STS) and the reset register.
 *
 * Called from vCPU threads with the caller's device lock held (one access at a time); the
 * callbacks run under that lock. Trusts nothing the guest writes: every value is either a
 * request we know or ignored (and counted).
 */
#ifndef ARCVMM_DEVICES_ACPI_PM_H
#define ARCVMM_DEVICES_ACPI_PM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/acpi.h"

#define ACPI_PM_PORT  X86_ACPI_PM_PORT
#define ACPI_PM_PORTS X86_ACPI_PM_PORTS

struct acpi_pm {
	void (*poweroff)(void *ctx); /* SLP_EN with SLP_TYP S5 */
	void (*reset)(void *ctx);    /* the reset value written to the reset register */
	void *ctx;
	uint8_t sleep_status; /* WAK_STS */
	uint64_t nr_ignored;  /* writes that asked for nothing we offer */
};

/* Either callback may be NULL (that request is then ignored). */
void acpi_pm_init(struct acpi_pm *pm, void (*poweroff)(void *ctx), void (*reset)(void *ctx),
		  void *ctx);
/* True if port is one of ours: [ACPI_PM_PORT, ACPI_PM_PORT + ACPI_PM_PORTS). */
bool acpi_pm_handles(uint16_t port);
/* A port access of size bytes at port (each byte goes to port + i). Reads of ports we do
 * not implement inside the block return 0; bytes outside the block read 0xff. */
void acpi_pm_pio(struct acpi_pm *pm, uint16_t port, uint8_t *data, unsigned size, bool is_write);

/* Snapshot: the sleep status (the rest is fixed). save returns the bytes written or
 * -ENOSPC; restore checks the blob, 0 or -EINVAL. */
#define ACPI_PM_STATE_MAX 16
long acpi_pm_save(const struct acpi_pm *pm, void *buf, size_t cap);
int acpi_pm_restore(struct acpi_pm *pm, const void *buf, size_t len);

#endif

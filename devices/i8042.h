/* devices/i8042.h — just enough of the PS/2 controller for a guest to reset the machine
 * (command 0xFE, or output-port writes with the reset bit low) and for Linux's i8042 driver
 * to probe it without errors. No keyboard or mouse. */
#ifndef ARCVMM_DEVICES_I8042_H
#define ARCVMM_DEVICES_I8042_H

#include <stdbool.h>
#include <stdint.h>

struct i8042 {
	void (*reset)(void *ctx); /* the guest pulsed the reset line */
	void *ctx;
	uint8_t ctr;	     /* controller command byte */
	uint8_t outp;	     /* output port */
	uint8_t pending_cmd; /* command waiting for its data byte on port 0x60 */
	uint8_t data;	     /* byte for the guest to read on port 0x60 */
	bool has_data;
};

void i8042_init(struct i8042 *k, void (*reset)(void *ctx), void *ctx);
/* port is 0x60 or 0x64. Called from vCPU threads with the caller's device lock held. */
void i8042_pio(struct i8042 *k, uint16_t port, uint8_t *data, bool is_write);

#endif

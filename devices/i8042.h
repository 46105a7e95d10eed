/* devices/i8042.h — just enough of the PS/2 controller for a guest to reset the machine
 * (command 0xFE, or output-port writes with the reset bit low), for Linux's i8042 driver
 * to probe it without errors, and for the host to type Ctrl-Alt-Del (a graceful stop
 * request): a keyboard that only sends the scancodes the host queues, on IRQ 1. No mouse;
 * the keyboard answers commands with "resend" (the default command line has
 * i8042.dumbkbd, so Linux's atkbd does not probe it). */
#ifndef ARCVMM_DEVICES_I8042_H
#define ARCVMM_DEVICES_I8042_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct i8042 {
	void (*reset)(void *ctx); /* the guest pulsed the reset line */
	void *ctx;
	uint8_t ctr;	     /* controller command byte */
	uint8_t outp;	     /* output port */
	uint8_t pending_cmd; /* command waiting for its data byte on port 0x60 */
	uint8_t data;	     /* byte for the guest to read on port 0x60 */
	bool has_data;
	bool is_kbd_data;		    /* `data` came from the keyboard queue */
	void (*irq)(void *ctx, bool level); /* IRQ 1; NULL: no interrupts */
	uint8_t kbd_queue[16];		    /* scancodes (set 1) not yet read by the guest */
	unsigned kbd_head, kbd_len;
	/* The keyboard behind the controller: enough of a PS/2 keyboard that a stock
	 * kernel's atkbd driver finds one (it probes with commands and waits for answers). */
	uint8_t kbd_pending; /* keyboard command waiting for its parameter byte */
	uint8_t kbd_last;    /* last byte sent, for "resend" */
};

void i8042_init(struct i8042 *k, void (*reset)(void *ctx), void *ctx);
/* port is 0x60 or 0x64. Called from vCPU threads with the caller's device lock held. */
void i8042_pio(struct i8042 *k, uint16_t port, uint8_t *data, bool is_write);

/* Interrupt line for keyboard bytes (IRQ 1 on a PC), raised while a keyboard byte waits
 * and the guest enabled keyboard interrupts (command byte bit 0). */
void i8042_set_irq(struct i8042 *k, void (*irq)(void *ctx, bool level));
/* Queues the make and break scancodes of Ctrl-Alt-Del. Returns 0, or -ENOSPC if the guest
 * has not read the previous ones. Same locking as i8042_pio(). */
int i8042_send_ctrl_alt_del(struct i8042 *k);

/* Snapshot: the controller, the keyboard and the scancode queue. save returns the bytes
 * written (<= cap) or -ENOSPC; restore checks the blob like guest input and drives IRQ 1 to
 * match. 0 or -EINVAL. Caller holds whatever serializes i8042_pio(). */
#define I8042_STATE_MAX 64
long i8042_save(const struct i8042 *k, void *buf, size_t cap);
int i8042_restore(struct i8042 *k, const void *buf, size_t len);

#endif

/* devices/i8042.c — see i8042.h. Trusts nothing: every guest byte is a command we either
 * know or ignore. */
#include "devices/i8042.h"

#include <errno.h>
#include <string.h>

#define STATUS_OBF 0x01 /* output buffer full: data for the guest on 0x60 */
#define STATUS_SYS 0x04 /* system flag: passed self-test */
#define STATUS_CMD 0x08 /* last write was to the command port */

#define CMD_READ_CTR   0x20
#define CMD_WRITE_CTR  0x60
#define CMD_AUX_TEST   0xa9
#define CMD_SELF_TEST  0xaa
#define CMD_KBD_TEST   0xab
#define CMD_READ_OUTP  0xd0
#define CMD_WRITE_OUTP 0xd1
#define CMD_RESET      0xfe

void i8042_init(struct i8042 *k, void (*reset)(void *ctx), void *ctx)
{
	memset(k, 0, sizeof(*k));
	k->reset = reset;
	k->ctx = ctx;
	k->ctr = 0x45;	/* translate, system flag, keyboard interrupt */
	k->outp = 0x01; /* reset line high (inactive) */
}

#define CTR_KBD_INT 0x01

/* The keyboard's IRQ follows "a keyboard byte is in the output buffer and interrupts are
 * on". A byte is moved from the queue into the output buffer only when it is empty. */
static void update(struct i8042 *k)
{
	if (!k->has_data && k->kbd_len) {
		/* A new byte is a new edge (IRQ 1 is edge-triggered): drop the line first. */
		if (k->irq)
			k->irq(k->ctx, false);
		k->data = k->kbd_queue[k->kbd_head];
		k->kbd_head = (k->kbd_head + 1) % sizeof(k->kbd_queue);
		k->kbd_len--;
		k->has_data = true;
		k->is_kbd_data = true;
	}
	if (k->irq)
		k->irq(k->ctx, k->has_data && k->is_kbd_data && (k->ctr & CTR_KBD_INT));
}

static void put_data(struct i8042 *k, uint8_t v)
{
	k->data = v;
	k->has_data = true;
	k->is_kbd_data = false;
}

void i8042_set_irq(struct i8042 *k, void (*irq)(void *ctx, bool level))
{
	k->irq = irq;
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	/* Set 1 (what the controller's translation makes of set 2): LCtrl, LAlt, E0 Delete
	 * pressed, then released in reverse order. */
	static const uint8_t codes[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};

	if (k->kbd_len + sizeof(codes) > sizeof(k->kbd_queue))
		return -ENOSPC;
	for (unsigned i = 0; i < sizeof(codes); i++)
		k->kbd_queue[(k->kbd_head + k->kbd_len++) % sizeof(k->kbd_queue)] = codes[i];
	update(k);
	return 0;
}

static void command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CTR:
		put_data(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP:
		k->pending_cmd = cmd;
		break;
	case CMD_SELF_TEST:
		put_data(k, 0x55);
		break;
	case CMD_KBD_TEST:
	case CMD_AUX_TEST:
		put_data(k, 0x00);
		break;
	case CMD_READ_OUTP:
		put_data(k, k->outp);
		break;
	case CMD_RESET:
		k->reset(k->ctx);
		break;
	default:
		/* 0xf0..0xff pulse output lines; bit 0 low pulses reset. */
		if (cmd >= 0xf0 && !(cmd & 1))
			k->reset(k->ctx);
		break;
	}
}

void i8042_pio(struct i8042 *k, uint16_t port, uint8_t *data, bool is_write)
{
	if (port == 0x64) {
		if (is_write) {
			command(k, data[0]);
			update(k);
		} else {
			data[0] = STATUS_SYS | (k->has_data ? STATUS_OBF : 0);
		}
		return;
	}
	/* port 0x60 */
	if (!is_write) {
		data[0] = k->has_data ? k->data : 0;
		k->has_data = false;
		update(k);
		return;
	}
	switch (k->pending_cmd) {
	case CMD_WRITE_CTR:
		k->ctr = data[0];
		break;
	case CMD_WRITE_OUTP:
		k->outp = data[0];
		if (!(data[0] & 1))
			k->reset(k->ctx);
		break;
	default:
		/* A byte for the (absent) keyboard: answer "resend" so drivers give up. */
		put_data(k, 0xfe);
		break;
	}
	k->pending_cmd = 0;
	update(k);
}

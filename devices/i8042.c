/* devices/i8042.c — see i8042.h. Trusts nothing: every guest byte is a command we either
 * know or ignore. */
#include "devices/i8042.h"

#include <errno.h>
#include <string.h>

#define STATUS_OBF	0x01 /* output buffer full: data for the guest on 0x60 */
#define STATUS_SYS	0x04 /* system flag: passed self-test */
#define STATUS_CMD	0x08 /* last write was to the command port */
#define STATUS_UNLOCKED 0x10 /* keyboard not inhibited (no "keylock") */

/* PS/2 keyboard commands (written to port 0x60) and answers. */
#define KBD_ACK		 0xfa
#define KBD_SET_LEDS	 0xed
#define KBD_ECHO	 0xee
#define KBD_SCAN_SET	 0xf0
#define KBD_GET_ID	 0xf2
#define KBD_TYPEMATIC	 0xf3
#define KBD_RESEND	 0xfe
#define KBD_RESET	 0xff
#define KBD_SELF_TEST_OK 0xaa
#define CTR_TRANSLATE	 0x40

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

/* Queues keyboard bytes for the guest; those that do not fit are dropped (the queue only
 * overflows if the guest never reads, and then it does not care). */
static void kbd_reply(struct i8042 *k, const uint8_t *b, unsigned n)
{
	for (unsigned i = 0; i < n && k->kbd_len < sizeof(k->kbd_queue); i++) {
		k->kbd_queue[(k->kbd_head + k->kbd_len++) % sizeof(k->kbd_queue)] = b[i];
		k->kbd_last = b[i];
	}
}

/* A byte the guest wrote to the keyboard (port 0x60 outside a controller command). */
static void kbd_byte(struct i8042 *k, uint8_t v)
{
	static const uint8_t ack[] = {KBD_ACK};

	if (k->kbd_pending) {
		/* The parameter of set-LEDs, typematic rate or scan set. */
		uint8_t cmd = k->kbd_pending;
		k->kbd_pending = 0;
		kbd_reply(k, ack, 1);
		if (cmd == KBD_SCAN_SET && v == 0) {
			/* Which set: 2, as the controller's translation shows it (set 2 -> 0x41). */
			uint8_t set = (k->ctr & CTR_TRANSLATE) ? 0x41 : 0x02;
			kbd_reply(k, &set, 1);
		}
		return;
	}
	switch (v) {
	case KBD_RESET: {
		static const uint8_t r[] = {KBD_ACK, KBD_SELF_TEST_OK};
		kbd_reply(k, r, 2);
		break;
	}
	case KBD_GET_ID: {
		/* An MF2 keyboard: AB 83, which translation turns into AB 41. */
		uint8_t id[] = {KBD_ACK, 0xab, (k->ctr & CTR_TRANSLATE) ? 0x41 : 0x83};
		kbd_reply(k, id, 3);
		break;
	}
	case KBD_SET_LEDS:
	case KBD_TYPEMATIC:
	case KBD_SCAN_SET:
		k->kbd_pending = v;
		kbd_reply(k, ack, 1);
		break;
	case KBD_ECHO: {
		static const uint8_t e[] = {KBD_ECHO};
		kbd_reply(k, e, 1);
		break;
	}
	case KBD_RESEND: {
		uint8_t last = k->kbd_last;
		kbd_reply(k, &last, 1);
		break;
	}
	default:
		/* Enable/disable scanning, defaults, typematic modes...: acknowledged. */
		kbd_reply(k, ack, 1);
		break;
	}
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
			data[0] = STATUS_SYS | STATUS_UNLOCKED | (k->has_data ? STATUS_OBF : 0);
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
		kbd_byte(k, data[0]);
		break;
	}
	k->pending_cmd = 0;
	update(k);
}

/* --- snapshot --- */

#define I8042_STATE_MAGIC 0x32343869 /* "i842" */

struct i8042_state {
	uint32_t magic;
	uint8_t ctr, outp, pending_cmd, data, has_data, is_kbd_data, kbd_pending, kbd_last;
	uint8_t kbd_head, kbd_len, pad[2];
	uint8_t kbd_queue[16];
};

long i8042_save(const struct i8042 *k, void *buf, size_t cap)
{
	struct i8042_state st = {
	    .magic = I8042_STATE_MAGIC,
	    .ctr = k->ctr,
	    .outp = k->outp,
	    .pending_cmd = k->pending_cmd,
	    .data = k->data,
	    .has_data = k->has_data,
	    .is_kbd_data = k->is_kbd_data,
	    .kbd_pending = k->kbd_pending,
	    .kbd_last = k->kbd_last,
	    .kbd_head = (uint8_t)k->kbd_head,
	    .kbd_len = (uint8_t)k->kbd_len,
	};

	if (cap < sizeof(st))
		return -ENOSPC;
	memcpy(st.kbd_queue, k->kbd_queue, sizeof(st.kbd_queue));
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

int i8042_restore(struct i8042 *k, const void *buf, size_t len)
{
	struct i8042_state st;

	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.magic != I8042_STATE_MAGIC || st.has_data > 1 || st.is_kbd_data > 1 ||
	    st.kbd_head >= sizeof(k->kbd_queue) || st.kbd_len > sizeof(k->kbd_queue))
		return -EINVAL;
	k->ctr = st.ctr;
	k->outp = st.outp;
	k->pending_cmd = st.pending_cmd;
	k->data = st.data;
	k->has_data = st.has_data;
	k->is_kbd_data = st.is_kbd_data;
	k->kbd_pending = st.kbd_pending;
	k->kbd_last = st.kbd_last;
	k->kbd_head = st.kbd_head;
	k->kbd_len = st.kbd_len;
	memcpy(k->kbd_queue, st.kbd_queue, sizeof(k->kbd_queue));
	update(k);
	return 0;
}

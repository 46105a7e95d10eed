/* tests/unit/test_devices.c — the legacy devices' registers as a guest drives them:
 * 16550A UART (interrupt identification, THRE and RX interrupts, FIFO bits, DLAB, loopback,
 * scratch, output and the panic watch, input backpressure), i8042 (reset paths, command
 * byte, self-test) and the CMOS RTC (BCD time, never update-in-progress). */
#include "devices/i8042.h"

#include <errno.h>
#include "devices/rtc.h"
#include "devices/serial.h"
#include "tests/unit/test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int irq_level = -1, irq_changes;

static void irq_cb(void *ctx, bool level)
{
	(void)ctx;
	irq_level = level;
	irq_changes++;
}

static uint8_t rd(struct serial *s, unsigned off)
{
	uint8_t v = 0;
	serial_pio(s, off, &v, false);
	return v;
}

static void wr(struct serial *s, unsigned off, uint8_t v)
{
	serial_pio(s, off, &v, true);
}

/* Drains buffered output into a pipe and returns it NUL-terminated (static buffer). */
static const char *drain(struct serial *s)
{
	static char buf[70000];
	int p[2];

	if (pipe(p) < 0)
		return "";
	long n = serial_flush(s, p[1]);
	close(p[1]);
	ssize_t got = n > 0 ? read(p[0], buf, sizeof(buf) - 1) : 0;
	close(p[0]);
	buf[got > 0 ? got : 0] = '\0';
	return buf;
}

TEST(serial_thre_interrupt)
{
	struct serial *s = serial_create(irq_cb, NULL);

	CHECK(s != NULL);
	irq_level = -1;
	CHECK_EQ(rd(s, 2) & 0x0f, 0x01); /* no interrupt pending */
	CHECK_EQ(rd(s, 5) & 0x60, 0x60); /* THR and transmitter empty */
	wr(s, 4, 0x08);			 /* OUT2: interrupts reach the bus */
	wr(s, 1, 0x02);			 /* enable THRE interrupt: raised at once */
	CHECK_EQ(irq_level, 1);
	CHECK_EQ(rd(s, 2) & 0x0f, 0x02); /* IIR says THRE... */
	CHECK_EQ(irq_level, 0);		 /* ...and reading it cleared the interrupt */
	CHECK_EQ(rd(s, 2) & 0x0f, 0x01);
	wr(s, 0, 'A'); /* a byte goes out, THR empty again: THRE once more */
	CHECK_EQ(irq_level, 1);
	wr(s, 1, 0x00);
	CHECK_EQ(irq_level, 0);
	CHECK(!strcmp(drain(s), "A"));
	serial_destroy(s);
}

TEST(serial_out2_gates_the_line)
{
	struct serial *s = serial_create(irq_cb, NULL);

	irq_level = -1;
	wr(s, 4, 0x00); /* OUT2 off */
	wr(s, 1, 0x02);
	CHECK(irq_level != 1);
	wr(s, 4, 0x08);
	CHECK_EQ(irq_level, 1);
	serial_destroy(s);
}

TEST(serial_rx_fifo_and_interrupt)
{
	struct serial *s = serial_create(irq_cb, NULL);
	uint8_t big[5000];

	wr(s, 4, 0x08);
	wr(s, 1, 0x01); /* RX data interrupt */
	irq_level = -1;
	CHECK_EQ(serial_input(s, (const uint8_t *)"hi", 2), 2);
	CHECK_EQ(irq_level, 1);
	CHECK_EQ(rd(s, 5) & 0x01, 1);	 /* data ready */
	CHECK_EQ(rd(s, 2) & 0x0f, 0x04); /* IIR: received data */
	CHECK_EQ(rd(s, 0), 'h');
	CHECK_EQ(rd(s, 0), 'i');
	CHECK_EQ(rd(s, 5) & 0x01, 0);
	CHECK_EQ(irq_level, 0);
	CHECK_EQ(rd(s, 0), 0); /* empty FIFO reads 0, no crash */
	/* The FIFO takes 4 KiB and then pushes back. */
	memset(big, 'x', sizeof(big));
	CHECK_EQ(serial_input(s, big, sizeof(big)), 4096);
	CHECK_EQ(serial_input(s, big, 1), 0);
	wr(s, 2, 0x03); /* FCR: enable + clear receive FIFO */
	CHECK_EQ(rd(s, 5) & 0x01, 0);
	CHECK_EQ(rd(s, 2) & 0xc0, 0xc0); /* 16550A with FIFOs enabled */
	serial_destroy(s);
}

TEST(serial_dlab_scratch_loopback)
{
	struct serial *s = serial_create(irq_cb, NULL);

	wr(s, 3, 0x83); /* DLAB on */
	wr(s, 0, 0x01);
	wr(s, 1, 0x02);
	CHECK_EQ(rd(s, 0), 0x01);
	CHECK_EQ(rd(s, 1), 0x02);
	wr(s, 3, 0x03); /* DLAB off: divisor writes did not touch IER or output */
	CHECK_EQ(rd(s, 1), 0x00);
	CHECK(!strcmp(drain(s), ""));
	wr(s, 7, 0x5a);
	CHECK_EQ(rd(s, 7), 0x5a);
	wr(s, 4, 0x10 | 0x01 | 0x02);	 /* loopback with DTR and RTS */
	CHECK_EQ(rd(s, 6) & 0xf0, 0x30); /* DSR and CTS mirror them */
	wr(s, 0, 'L');			 /* a looped byte comes back as input... */
	CHECK_EQ(rd(s, 0), 'L');
	CHECK(!strcmp(drain(s), "")); /* ...and never reaches the host */
	/* Offsets are masked to the 8 registers. */
	wr(s, 8 + 7, 0x11);
	CHECK_EQ(rd(s, 7), 0x11);
	serial_destroy(s);
}

TEST(serial_output_and_panic_watch)
{
	struct serial *s = serial_create(irq_cb, NULL);
	char line[200];
	const char *msg = "boot\r\n[ 1.0] Kernel panic - not syncing: VFS: no root\r\nmore";

	CHECK(!serial_saw_panic(s, line, sizeof(line)));
	CHECK(!serial_has_output(s));
	for (const char *p = msg; *p; p++)
		wr(s, 0, (uint8_t)*p);
	CHECK(serial_has_output(s));
	CHECK(!strcmp(drain(s), msg));
	CHECK(!serial_has_output(s));
	CHECK(serial_saw_panic(s, line, sizeof(line)));
	CHECK(strstr(line, "Kernel panic - not syncing: VFS: no root") != NULL);
	/* A very long line is cut, not overrun. */
	for (int i = 0; i < 1000; i++)
		wr(s, 0, 'y');
	wr(s, 0, '\n');
	CHECK_EQ(strlen(drain(s)), 1001);
	serial_destroy(s);
}

TEST(serial_backpressure_released_by_close)
{
	struct serial *s = serial_create(irq_cb, NULL);

	/* Fill the 64 KiB output buffer; after serial_close() more output is dropped rather
	 * than waited for (a vCPU must never hang on a console nobody drains). */
	for (int i = 0; i < 65536; i++)
		wr(s, 0, 'z');
	serial_close(s);
	wr(s, 0, 'w'); /* would block forever without the close */
	CHECK_EQ(strlen(drain(s)), 65536);
	serial_destroy(s);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct uart_writer {
	struct serial *s;
	size_t n;
	_Atomic bool is_done;
};

static void *uart_writer_fn(void *arg)
{
	struct uart_writer *w = arg;

	for (size_t i = 0; i < w->n; i++)
		wr(w->s, 0, (uint8_t)('a' + i % 26));
	atomic_store(&w->is_done, true);
	return NULL;
}

/* Issue #14: a blocking stdout nobody drains (a stopped pipe reader) must hang neither the
 * control thread (serial_flush) nor the vCPUs writing THR: a flush returns at once, and
 * after the stall bound the UART drops output (counted) instead of holding the vCPU. The
 * old serial_flush blocked in write() for ever (the alarm turns that into a failure). */
TEST(serial_stuck_reader_blocks_nobody)
{
	struct serial *s = serial_create(irq_cb, NULL);
	struct uart_writer w = {.s = s, .n = 400 << 10};
	int p[2];
	pthread_t th;
	uint64_t worst = 0;

	alarm(20);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK_EQ(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);
	CHECK(pthread_create(&th, NULL, uart_writer_fn, &w) == 0);
	uint64_t t0 = mono_ms();
	while (!atomic_load(&w.is_done) && mono_ms() - t0 < 5000) {
		uint64_t t = mono_ms();
		serial_flush(s, p[1]); /* what the control loop does every few ms */
		if (mono_ms() - t > worst)
			worst = mono_ms() - t;
		usleep(4000);
	}
	CHECK(atomic_load(&w.is_done)); /* the "vCPU" was never held for good */
	CHECK(worst < 100);
	CHECK(serial_get_dropped(s) > 0);
	CHECK(serial_has_output(s)); /* the host buffer still waits for the reader */
	/* What the pipe got is the start of the output, in order. */
	char buf[4096];
	ssize_t got = read(p[0], buf, sizeof(buf));
	CHECK(got > 0);
	for (ssize_t i = 0; i < got; i++)
		if (buf[i] != 'a' + i % 26) {
			CHECK(buf[i] == 'a' + i % 26);
			break;
		}
	/* A gone reader: EPIPE, everything dropped, still no blocking. */
	close(p[0]);
	for (int i = 0; i < 100; i++)
		wr(s, 0, 'q');
	CHECK_EQ(serial_flush(s, p[1]), -EPIPE);
	CHECK(!serial_has_output(s));
	serial_close(s);
	pthread_join(th, NULL);
	close(p[1]);
	serial_destroy(s);
	alarm(0);
}

/* The last flush after serial_close() (the VM stopping) waits for a stuck reader at most
 * SERIAL_STALL_MS, then drops the rest, counted, and lets go of the fd. */
TEST(serial_stop_with_stuck_reader_is_bounded)
{
	struct serial *s = serial_create(irq_cb, NULL);
	int p[2];

	alarm(20);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK_EQ(fcntl(p[1], F_SETPIPE_SZ, 65536), 65536);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 65536; i++)
			wr(s, 0, 'k');
		serial_flush(s, p[1]); /* round 0 fills the pipe, round 1 our buffer */
	}
	CHECK(serial_has_output(s));
	CHECK_EQ(serial_get_dropped(s), 0);
	serial_close(s);
	uint64_t t0 = mono_ms();
	serial_flush(s, p[1]);
	CHECK(mono_ms() - t0 < 1000);
	CHECK_EQ(serial_get_dropped(s), 65536); /* the pipe took round 0, round 1 is lost */
	CHECK(!serial_has_output(s));
	close(p[0]);
	close(p[1]);
	serial_destroy(s);
	alarm(0);
}

static int resets;

static void reset_cb(void *ctx)
{
	(void)ctx;
	resets++;
}

static uint8_t kbd(struct i8042 *k, uint16_t port, int write_val)
{
	uint8_t v = (uint8_t)write_val;
	i8042_pio(k, port, &v, write_val >= 0);
	return v;
}

TEST(i8042_reset_and_commands)
{
	struct i8042 k;

	i8042_init(&k, reset_cb, NULL);
	resets = 0;
	CHECK_EQ(kbd(&k, 0x64, -1) & 0x01, 0); /* nothing to read */
	kbd(&k, 0x64, 0xaa);		       /* self-test */
	CHECK_EQ(kbd(&k, 0x64, -1) & 0x01, 1);
	CHECK_EQ(kbd(&k, 0x60, -1), 0x55);
	kbd(&k, 0x64, 0x60); /* write the command byte */
	kbd(&k, 0x60, 0x47);
	kbd(&k, 0x64, 0x20); /* read it back */
	CHECK_EQ(kbd(&k, 0x60, -1), 0x47);
	CHECK_EQ(resets, 0);
	kbd(&k, 0x64, 0xfe); /* pulse reset */
	CHECK_EQ(resets, 1);
	kbd(&k, 0x64, 0xd1); /* write output port with the reset bit low */
	kbd(&k, 0x60, 0x00);
	CHECK_EQ(resets, 2);
	kbd(&k, 0x64, 0xd1); /* ...and high: nothing */
	kbd(&k, 0x60, 0x01);
	CHECK_EQ(resets, 2);
	kbd(&k, 0x64, 0xf1); /* pulse lines with bit 0 high: not a reset */
	CHECK_EQ(resets, 2);
	kbd(&k, 0x64, 0x12); /* unknown commands are ignored */
	CHECK_EQ(resets, 2);
}

static int irq_level, irq_edges;
static void kbd_irq_cb(void *ctx, bool level)
{
	(void)ctx;
	irq_edges += level && !irq_level;
	irq_level = level;
}

/* Reads one keyboard byte as the guest does: OBF set, then port 0x60. -1: nothing. */
static int kbd_read(struct i8042 *k)
{
	if (!(kbd(k, 0x64, -1) & 0x01))
		return -1;
	return kbd(k, 0x60, -1);
}

TEST(i8042_keyboard_answers_atkbd_and_sends_ctrl_alt_del)
{
	struct i8042 k;

	i8042_init(&k, reset_cb, NULL);
	i8042_set_irq(&k, kbd_irq_cb);
	irq_level = irq_edges = 0;
	CHECK(kbd(&k, 0x64, -1) & 0x10); /* not inhibited: no "Keylock active" */
	kbd(&k, 0x60, 0xff);		 /* reset: ACK, self-test passed */
	CHECK_EQ(kbd_read(&k), 0xfa);
	CHECK_EQ(kbd_read(&k), 0xaa);
	CHECK_EQ(kbd_read(&k), -1);
	kbd(&k, 0x60, 0xf2); /* get ID: ACK, MF2 as translated (AB 41) */
	CHECK_EQ(kbd_read(&k), 0xfa);
	CHECK_EQ(kbd_read(&k), 0xab);
	CHECK_EQ(kbd_read(&k), 0x41);
	kbd(&k, 0x60, 0xed); /* set LEDs: ACK, then the parameter: ACK */
	CHECK_EQ(kbd_read(&k), 0xfa);
	kbd(&k, 0x60, 0x07);
	CHECK_EQ(kbd_read(&k), 0xfa);
	kbd(&k, 0x60, 0xf4); /* enable scanning */
	CHECK_EQ(kbd_read(&k), 0xfa);
	kbd(&k, 0x60, 0xee); /* echo */
	CHECK_EQ(kbd_read(&k), 0xee);
	CHECK(irq_edges >= 9); /* every byte above raised IRQ 1 anew (CTR bit 0 is on) */

	irq_edges = 0;
	CHECK_EQ(i8042_send_ctrl_alt_del(&k), 0);
	static const uint8_t want[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	for (unsigned i = 0; i < sizeof(want); i++)
		CHECK_EQ(kbd_read(&k), want[i]);
	CHECK_EQ(kbd_read(&k), -1);
	CHECK_EQ(irq_edges, 8);
	CHECK_EQ(irq_level, 0);
	/* A guest that never reads: the queue fills, the request is refused, nothing hangs. */
	int r = 0, tries = 0;
	while (r == 0 && tries++ < 4)
		r = i8042_send_ctrl_alt_del(&k);
	CHECK_EQ(r, -ENOSPC);
	CHECK(tries >= 2);
	/* Interrupts off in the command byte: bytes still queue, the line stays low. */
	kbd(&k, 0x64, 0x60);
	kbd(&k, 0x60, 0x44);
	CHECK_EQ(irq_level, 0);
}

static int from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t cmos(struct rtc *r, uint8_t index)
{
	uint8_t v = index;
	rtc_pio(r, 0x70, &v, true);
	rtc_pio(r, 0x71, &v, false);
	return v;
}

TEST(rtc_reads_host_time)
{
	struct rtc r;
	time_t now = time(NULL);
	struct tm tm;

	rtc_init(&r, NULL, NULL, NULL);
	gmtime_r(&now, &tm);
	CHECK_EQ(cmos(&r, 0x0a) & 0x80, 0); /* never update-in-progress */
	CHECK_EQ(cmos(&r, 0x0d), 0x80);	    /* CMOS valid */
	CHECK_EQ(from_bcd(cmos(&r, 0x09)), tm.tm_year % 100);
	CHECK_EQ(from_bcd(cmos(&r, 0x08)), tm.tm_mon + 1);
	CHECK_EQ(from_bcd(cmos(&r, 0x32)), (tm.tm_year + 1900) / 100);
	uint8_t b = 0x02 | 0x04; /* binary mode */
	uint8_t idx = 0x0b;
	rtc_pio(&r, 0x70, &idx, true);
	rtc_pio(&r, 0x71, &b, true);
	CHECK_EQ(cmos(&r, 0x08), tm.tm_mon + 1);
	/* Index writes are masked to 7 bits (bit 7 is the NMI mask on PCs). */
	CHECK_EQ(cmos(&r, 0x80 | 0x08), tm.tm_mon + 1);
	CHECK_EQ(cmos(&r, 0x7f), 0);
}

static void cmos_write(struct rtc *r, uint8_t index, uint8_t v)
{
	rtc_pio(r, 0x70, &index, true);
	rtc_pio(r, 0x71, &v, true);
}

/* A clock the test moves by hand. */
static struct timespec fake_now;
static void fake_clock(struct timespec *ts)
{
	*ts = fake_now;
}
static int fake_irqs;
static void fake_irq(void *ctx)
{
	(void)ctx;
	__atomic_add_fetch(&fake_irqs, 1, __ATOMIC_SEQ_CST);
}

TEST(rtc_set_time_persists_as_an_offset)
{
	struct rtc r;

	fake_now.tv_sec = 1700000000; /* 2023-11-14 22:13:20 UTC */
	rtc_init(&r, fake_irq, fake_clock, NULL);
	CHECK_EQ(from_bcd(cmos(&r, 0x04)), 22);
	/* What hwclock --systohc does: SET, the fields, SET off. 2030-01-02 03:04:05. */
	cmos_write(&r, 0x0b, 0x80 | 0x02);
	cmos_write(&r, 0x00, 0x05);
	cmos_write(&r, 0x02, 0x04);
	cmos_write(&r, 0x04, 0x03);
	cmos_write(&r, 0x07, 0x02);
	cmos_write(&r, 0x08, 0x01);
	cmos_write(&r, 0x09, 0x30);
	cmos_write(&r, 0x32, 0x20);
	/* While SET, the registers hold what was written. */
	CHECK_EQ(cmos(&r, 0x00), 0x05);
	fake_now.tv_sec += 100;
	CHECK_EQ(cmos(&r, 0x00), 0x05);
	cmos_write(&r, 0x0b, 0x02);
	fake_now.tv_sec += 61; /* the clock runs on from the set time */
	CHECK_EQ(cmos(&r, 0x00), 0x06);
	CHECK_EQ(cmos(&r, 0x02), 0x05);
	CHECK_EQ(cmos(&r, 0x09), 0x30);
	CHECK_EQ(cmos(&r, 0x32), 0x20);
	/* 12-hour mode: 03 h is 3 AM; 15 h reads 0x83 (PM bit). */
	cmos_write(&r, 0x0b, 0x00);
	CHECK_EQ(cmos(&r, 0x04), 0x03);
	fake_now.tv_sec += 12 * 3600;
	CHECK_EQ(cmos(&r, 0x04), 0x83);
	CHECK_EQ(fake_irqs, 0); /* nothing enabled, nothing raised */
	rtc_destroy(&r);
}

TEST(rtc_alarm_update_and_periodic_interrupts)
{
	struct rtc r;

	fake_irqs = 0;
	fake_now.tv_sec = 1700000000; /* 22:13:20 */
	rtc_init(&r, fake_irq, fake_clock, NULL);
	cmos(&r, 0x0c);
	/* Alarm at 22:13:25, seconds exact, minutes and hours "any". */
	cmos_write(&r, 0x01, 0x25);
	cmos_write(&r, 0x03, 0xc0);
	cmos_write(&r, 0x05, 0xff);
	cmos_write(&r, 0x0b, 0x02 | 0x20); /* AIE */
	for (int i = 0; i < 4; i++) {
		fake_now.tv_sec++;
		rtc_tick(&r);
	}
	CHECK_EQ(fake_irqs, 0); /* 22:13:24: not yet */
	fake_now.tv_sec++;
	rtc_tick(&r);
	CHECK_EQ(fake_irqs, 1);
	/* The line stays up until C is read: no second edge. */
	fake_now.tv_sec += 60;
	rtc_tick(&r);
	CHECK_EQ(fake_irqs, 1);
	uint8_t c = cmos(&r, 0x0c);
	CHECK((c & 0xa0) == 0xa0);   /* IRQF | AF */
	CHECK_EQ(cmos(&r, 0x0c), 0); /* reading cleared it */
	/* Update-ended: one per second while UIE is on. */
	cmos_write(&r, 0x0b, 0x02 | 0x10);
	fake_now.tv_sec++;
	rtc_tick(&r);
	CHECK_EQ(fake_irqs, 2);
	CHECK_EQ(cmos(&r, 0x0c) & 0x90, 0x90);
	rtc_tick(&r); /* same second: nothing */
	CHECK_EQ(fake_irqs, 2);
	/* Periodic: every tick while PIE is on and the rate is set. */
	cmos_write(&r, 0x0a, 0x26);
	cmos_write(&r, 0x0b, 0x02 | 0x40);
	rtc_tick(&r);
	CHECK_EQ(fake_irqs, 3);
	CHECK_EQ(cmos(&r, 0x0c) & 0xc0, 0xc0);
	cmos_write(&r, 0x0a, 0x20); /* rate 0: off */
	rtc_tick(&r);
	CHECK_EQ(fake_irqs, 3);
	/* Polling with no interrupt enabled still sees the update flag. */
	cmos_write(&r, 0x0b, 0x02);
	fake_now.tv_sec++;
	CHECK_EQ(cmos(&r, 0x0c) & 0x90, 0x10);
	CHECK_EQ(fake_irqs, 3);
	/* Garbage everywhere: no crash, C and D stay read-only. */
	for (unsigned i = 0; i < 256; i++)
		cmos_write(&r, (uint8_t)i, (uint8_t)(i * 37));
	CHECK_EQ(cmos(&r, 0x0d), 0x80);
	rtc_destroy(&r);
}

TEST(rtc_worker_raises_update_interrupts)
{
	struct rtc r;

	fake_irqs = 0;
	rtc_init(&r, fake_irq, NULL, NULL);
	CHECK_EQ(rtc_start(&r), 0);
	cmos_write(&r, 0x0b, 0x02 | 0x10); /* UIE */
	int seen = 0;
	for (int i = 0; i < 40 && seen < 2; i++) {
		usleep(100000);
		if (__atomic_load_n(&fake_irqs, __ATOMIC_SEQ_CST) > seen) {
			seen++;
			cmos(&r, 0x0c); /* ack, as the driver does */
		}
	}
	CHECK(seen >= 2);
	CHECK_EQ(rtc_pause(&r), 0);
	CHECK_EQ(rtc_resume(&r), 0);
	cmos_write(&r, 0x0b, 0x02);
	rtc_destroy(&r);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as cli/main.c */
	RUN(serial_thre_interrupt);
	RUN(serial_out2_gates_the_line);
	RUN(serial_rx_fifo_and_interrupt);
	RUN(serial_dlab_scratch_loopback);
	RUN(serial_output_and_panic_watch);
	RUN(serial_backpressure_released_by_close);
	RUN(serial_stuck_reader_blocks_nobody);
	RUN(serial_stop_with_stuck_reader_is_bounded);
	RUN(i8042_reset_and_commands);
	RUN(i8042_keyboard_answers_atkbd_and_sends_ctrl_alt_del);
	RUN(rtc_reads_host_time);
	RUN(rtc_set_time_persists_as_an_offset);
	RUN(rtc_alarm_update_and_periodic_interrupts);
	RUN(rtc_worker_raises_update_interrupts);
	return test_summary();
}

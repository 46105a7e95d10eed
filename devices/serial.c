/* devices/serial.c — 16550A UART. See serial.h.
 *
 * Trusts nothing the guest writes: register offsets are masked, every value is a byte.
 * Implements what Linux's 8250 driver uses: DLAB divisor latch, IER, IIR with the FIFO
 * bits, FCR, LCR, MCR with loopback (MSR mirrors the modem outputs), LSR, SCR, and the two
 * interrupt sources it needs (received data, transmitter empty) as a level on the line.
 *
 * Output: vCPUs put bytes in `out` (OUT_SIZE) and wait when it is full; the control thread
 * moves them into a host buffer (devices/host_out.h, 64 KiB) that is written without ever
 * blocking, whatever the host fd is (a blocking pipe nobody reads, a terminal under
 * Ctrl-S). A slow reader thus slows the guest (lossless); a reader that took nothing for
 * SERIAL_STALL_MS while both buffers are full is stuck: then `out` is dropped with a
 * counter instead of holding the vCPUs (a UART has no flow control to the guest, and a
 * vCPU waiting here could not be paused or stopped). A gone reader (EPIPE): dropped too.
 */
#include "devices/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/host_out.h"

#define UART_RBR_THR 0
#define UART_IER     1
#define UART_IIR_FCR 2
#define UART_LCR     3
#define UART_MCR     4
#define UART_LSR     5
#define UART_MSR     6
#define UART_SCR     7

#define IER_RDI	 0x01
#define IER_THRI 0x02

#define IIR_NO_INT 0x01
#define IIR_THRI   0x02
#define IIR_RDI	   0x04
#define IIR_FIFO   0xc0

#define FCR_ENABLE    0x01
#define FCR_CLEAR_RCV 0x02

#define LCR_DLAB 0x80

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR	 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI	0x40
#define MSR_DCD 0x80

#define SERIAL_WAKE_BYTES 1024
#define RX_SIZE		  4096
#define OUT_SIZE	  65536
#define SERIAL_STALL_MS	  100

struct serial {
	pthread_mutex_t lock;
	pthread_cond_t space; /* signalled when the control thread drained the output */
	bool is_closing;      /* no more draining: drop output instead of waiting */
	void (*set_irq)(void *ctx, bool level);
	void *ctx;
	int wake_fd;
	bool irq_level;

	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thr_int_pending; /* "transmitter empty" interrupt waiting for the guest */

	uint8_t rx[RX_SIZE];
	size_t rx_head, rx_len;

	uint8_t out[OUT_SIZE];
	size_t out_len;
	bool has_line; /* a '\n' (or a burst) is in out[]: worth writing out now */

	/* The control thread's side (serial_flush and serial_has_output only). */
	struct host_out host;
	bool has_host;		   /* host is set up for host.user_fd */
	uint64_t last_progress_ns; /* the host fd took bytes (or had none waiting) */

	char line[160]; /* the guest's current output line, for the panic watch */
	size_t line_len;
	bool panicked;
	char panic_line[160];
};

static void wake(struct serial *s)
{
	uint64_t one = 1;
	ssize_t w = write(s->wake_fd, &one, sizeof(one));
	(void)w;
}

/* Called with the lock held: recompute the interrupt line and drive it on a change. */
static void update_irq(struct serial *s)
{
	bool level =
	    ((s->ier & IER_RDI) && s->rx_len) || ((s->ier & IER_THRI) && s->thr_int_pending);

	/* OUT2 gates the interrupt onto the bus on PC hardware; Linux sets it. */
	if (!(s->mcr & MCR_OUT2))
		level = false;
	if (level != s->irq_level) {
		s->irq_level = level;
		s->set_irq(s->ctx, level);
	}
}

struct serial *serial_create(void (*set_irq)(void *ctx, bool level), void *ctx)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		int e = errno;
		free(s);
		errno = e;
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->space, NULL);
	s->set_irq = set_irq;
	s->ctx = ctx;
	s->lcr = 0x03; /* 8N1 */
	s->mcr = MCR_OUT2;
	return s;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	close(s->wake_fd);
	if (s->has_host)
		host_out_fini(&s->host);
	pthread_cond_destroy(&s->space);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int serial_wake_fd(struct serial *s)
{
	return s->wake_fd;
}

static void watch_line(struct serial *s, uint8_t c)
{
	static const char needle[] = "Kernel panic - not syncing";

	if (c == '\n' || c == '\r') {
		s->line[s->line_len] = '\0';
		if (!s->panicked && strstr(s->line, needle)) {
			s->panicked = true;
			memcpy(s->panic_line, s->line, s->line_len + 1);
		}
		s->line_len = 0;
		return;
	}
	if (s->line_len < sizeof(s->line) - 1)
		s->line[s->line_len++] = (char)c;
}

static void transmit(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		if (s->rx_len < RX_SIZE) {
			s->rx[(s->rx_head + s->rx_len) % RX_SIZE] = c;
			s->rx_len++;
		}
	} else {
		/* The host side is not keeping up: the vCPU waits for the control thread
		 * (backpressure, like a real UART at its baud rate), never loses output. */
		while (s->out_len == OUT_SIZE && !s->is_closing)
			pthread_cond_wait(&s->space, &s->lock);
		if (s->out_len < OUT_SIZE)
			s->out[s->out_len++] = c;
		/* Wake the control thread per line (or per burst), not per byte: a byte-wise
		 * wake-up costs three syscalls and a cross-CPU hop each. A partial line (a
		 * shell prompt) is picked up by the control loop's short poll instead, see
		 * serial_has_output(). */
		if (c == '\n' || s->out_len >= SERIAL_WAKE_BYTES)
			s->has_line = true;
		/* The first byte into an empty buffer wakes it too: the control thread may be
		 * asleep with nothing to poll for, and a line that never ends (a progress
		 * bar, a prompt) must still come out. */
		if (c == '\n' || s->out_len == SERIAL_WAKE_BYTES || s->out_len == 1)
			wake(s);
		watch_line(s, c);
	}
	/* The byte leaves at once, so THR is empty again. */
	s->thr_int_pending = true;
}

static uint8_t read_reg(struct serial *s, unsigned off)
{
	uint8_t v = 0;

	switch (off) {
	case UART_RBR_THR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (s->rx_len) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % RX_SIZE;
			s->rx_len--;
			if (s->rx_len == 0)
				wake(s); /* the control thread may have input waiting */
		}
		return v;
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR_FCR:
		v = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;
		if ((s->ier & IER_RDI) && s->rx_len)
			return v | IIR_RDI;
		if ((s->ier & IER_THRI) && s->thr_int_pending) {
			/* Reading IIR while it reports THRE clears that interrupt. */
			s->thr_int_pending = false;
			return v | IIR_THRI;
		}
		return v | IIR_NO_INT;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0);
	case UART_MSR:
		if (s->mcr & MCR_LOOP) {
			return ((s->mcr & MCR_DTR) ? MSR_DSR : 0) |
			       ((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
			       ((s->mcr & MCR_OUT1) ? MSR_RI : 0) |
			       ((s->mcr & MCR_OUT2) ? MSR_DCD : 0);
		}
		return MSR_DCD | MSR_DSR | MSR_CTS;
	case UART_SCR:
		return s->scr;
	}
	return 0;
}

static void write_reg(struct serial *s, unsigned off, uint8_t v)
{
	switch (off) {
	case UART_RBR_THR:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			transmit(s, v);
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			/* Enabling the THRE interrupt with THR empty raises it at once. */
			if ((v & IER_THRI) && !(s->ier & IER_THRI))
				s->thr_int_pending = true;
			s->ier = v & 0x0f;
		}
		break;
	case UART_IIR_FCR:
		s->fcr = v & 0xc9;
		if (v & FCR_CLEAR_RCV) {
			s->rx_head = 0;
			s->rx_len = 0;
		}
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

void serial_pio(struct serial *s, unsigned offset, uint8_t *data, bool is_write)
{
	offset &= 7;
	pthread_mutex_lock(&s->lock);
	if (is_write)
		write_reg(s, offset, data[0]);
	else
		data[0] = read_reg(s, offset);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

/* --- snapshot --- */

#define SERIAL_STATE_MAGIC 0x4c524553 /* "SERL" */

struct serial_state {
	uint32_t magic;
	uint32_t rx_len;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr, thr_int_pending;
	/* followed by rx_len bytes of input, oldest first */
};

long serial_save(struct serial *s, void *buf, size_t cap)
{
	struct serial_state st = {.magic = SERIAL_STATE_MAGIC};

	pthread_mutex_lock(&s->lock);
	st.rx_len = (uint32_t)s->rx_len;
	st.ier = s->ier;
	st.lcr = s->lcr;
	st.mcr = s->mcr;
	st.scr = s->scr;
	st.dll = s->dll;
	st.dlm = s->dlm;
	st.fcr = s->fcr;
	st.thr_int_pending = s->thr_int_pending;
	size_t len = sizeof(st) + s->rx_len;
	if (len > cap) {
		pthread_mutex_unlock(&s->lock);
		return -ENOSPC;
	}
	uint8_t *p = buf;
	memcpy(p, &st, sizeof(st));
	for (size_t i = 0; i < s->rx_len; i++)
		p[sizeof(st) + i] = s->rx[(s->rx_head + i) % RX_SIZE];
	pthread_mutex_unlock(&s->lock);
	return (long)len;
}

int serial_restore(struct serial *s, const void *buf, size_t len)
{
	struct serial_state st;

	if (len < sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	/* Only values the registers can hold: what write_reg() would have kept. */
	if (st.magic != SERIAL_STATE_MAGIC || st.rx_len > RX_SIZE ||
	    len != sizeof(st) + st.rx_len || (st.ier & ~0x0f) || (st.mcr & ~0x1f) ||
	    (st.fcr & ~0xc9) || st.thr_int_pending > 1)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->ier = st.ier;
	s->lcr = st.lcr;
	s->mcr = st.mcr;
	s->scr = st.scr;
	s->dll = st.dll;
	s->dlm = st.dlm;
	s->fcr = st.fcr;
	s->thr_int_pending = st.thr_int_pending;
	memcpy(s->rx, (const uint8_t *)buf + sizeof(st), st.rx_len);
	s->rx_head = 0;
	s->rx_len = st.rx_len;
	/* The line as the registers say; a high line is driven again (the interrupt
	 * controller's own state came back with the VM's). */
	s->irq_level = false;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Writes what the host fd takes now; notes progress for the stall rule. */
static int host_flush(struct serial *s)
{
	uint64_t before = host_out_written(&s->host);
	int r = host_out_flush(&s->host);

	if (r == 0 || host_out_written(&s->host) != before)
		s->last_progress_ns = now_ns();
	return r;
}

long serial_flush(struct serial *s, int fd)
{
	uint64_t cnt;
	ssize_t rd = read(s->wake_fd, &cnt, sizeof(cnt));
	(void)rd;

	if (!s->has_host || !host_out_is_for(&s->host, fd)) {
		if (s->has_host)
			host_out_fini(&s->host);
		int r = host_out_init(&s->host, fd);
		if (r < 0) {
			host_out_init(&s->host, -1); /* cannot fail: output is discarded */
		}
		s->has_host = true;
		s->last_progress_ns = now_ns();
	}
	uint64_t before = host_out_written(&s->host);
	host_flush(s);
	pthread_mutex_lock(&s->lock);
	size_t room = host_out_space(&s->host);
	size_t n = s->out_len < room ? s->out_len : room;
	host_out_put(&s->host, s->out, n);
	if (n < s->out_len &&
	    now_ns() - s->last_progress_ns >= (uint64_t)SERIAL_STALL_MS * 1000000ULL) {
		host_out_drop(&s->host, s->out_len - n); /* stuck reader: see the top */
		n = s->out_len;
	}
	memmove(s->out, s->out + n, s->out_len - n);
	s->out_len -= n;
	s->has_line = s->out_len >= SERIAL_WAKE_BYTES || memchr(s->out, '\n', s->out_len);
	if (n)
		pthread_cond_broadcast(&s->space);
	bool is_closing = s->is_closing;
	pthread_mutex_unlock(&s->lock);
	int r = host_flush(s);
	if (is_closing && s->host.mode != HOST_OUT_DISCARD) {
		/* The last flush (the VM is over): the guest's last lines get out if the reader
		 * takes them within SERIAL_STALL_MS in all; then our fd goes, so that nothing
		 * (e.g. vm.c's teardown child) keeps the user's pipe open. */
		r = host_out_drain(&s->host, SERIAL_STALL_MS);
		host_out_fini(&s->host);
	}
	if (r == -EPIPE)
		return -EPIPE;
	return (long)(host_out_written(&s->host) - before);
}

uint64_t serial_get_dropped(struct serial *s)
{
	return s->has_host ? host_out_dropped(&s->host) : 0;
}

size_t serial_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t taken = 0;

	pthread_mutex_lock(&s->lock);
	while (taken < len && s->rx_len < RX_SIZE) {
		s->rx[(s->rx_head + s->rx_len) % RX_SIZE] = buf[taken++];
		s->rx_len++;
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return taken;
}

bool serial_saw_panic(struct serial *s, char *buf, size_t len)
{
	bool r;

	pthread_mutex_lock(&s->lock);
	r = s->panicked;
	if (r && len) {
		strncpy(buf, s->panic_line, len - 1);
		buf[len - 1] = '\0';
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void serial_close(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	s->is_closing = true;
	pthread_cond_broadcast(&s->space);
	pthread_mutex_unlock(&s->lock);
}

bool serial_has_line(struct serial *s)
{
	bool r;

	pthread_mutex_lock(&s->lock);
	r = s->has_line || s->is_closing;
	pthread_mutex_unlock(&s->lock);
	return r;
}

void serial_ack_wake(struct serial *s)
{
	uint64_t cnt;
	ssize_t rd = read(s->wake_fd, &cnt, sizeof(cnt));
	(void)rd;
}

bool serial_has_output(struct serial *s)
{
	bool r;

	pthread_mutex_lock(&s->lock);
	r = s->out_len != 0;
	pthread_mutex_unlock(&s->lock);
	/* Bytes the host fd did not take yet: the caller's short poll retries them. */
	return r || (s->has_host && host_out_pending(&s->host));
}

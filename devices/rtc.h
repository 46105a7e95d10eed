/* devices/rtc.h — the MC146818 CMOS clock on ports 0x70/0x71, with its interrupt on IRQ 8.
 *
 * The clock is the host's UTC time plus an offset the guest sets (SET bit in register B,
 * then the time registers: what `hwclock --systohc` does). Register B's PIE/AIE/UIE enable
 * the periodic, alarm and update-ended interrupts; register C holds their flags and reading
 * it clears them. The interrupt is raised as an edge (ISA IRQ 8 is edge-triggered) when
 * register C's IRQF goes from 0 to 1 — as the real part's line stays asserted until C is
 * read, a second event before that raises nothing new.
 *
 * Threads: rtc_pio() runs on a vCPU (register state only, plus re-arming a timerfd); the
 * events come from the "rtc" worker, woken by that timerfd only while an interrupt is
 * enabled (an idle guest costs no wakeups). The periodic rate is capped at
 * RTC_MAX_PERIODIC_HZ. A mutex orders the two. The guest chooses only a register index
 * (masked to 7 bits) and register values; every value is accepted and read back as the
 * part would.
 */
#ifndef ARCVMM_DEVICES_RTC_H
#define ARCVMM_DEVICES_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RTC_MAX_PERIODIC_HZ 1024
#define RTC_IRQ		    8

struct worker;

/* Raises one edge on the RTC's interrupt line (called on the worker, lock not held). */
typedef void rtc_irq_fn(void *ctx);
/* The host's clock (tests give their own). Returns seconds and nanoseconds, UTC. */
typedef void rtc_clock_fn(struct timespec *ts);

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t cmos[128]; /* time, alarm and A/B registers as the guest set them; NVRAM */
	uint8_t reg_c;
	bool irq_line;	  /* IRQF is set and nobody read C yet */
	int64_t offset;	  /* guest clock - host clock, seconds */
	int64_t last_sec; /* the guest second the last update event was for */
	int timer_fd;	  /* -1 when no worker (tests drive rtc_tick) */
	struct worker *worker;
	rtc_irq_fn *irq;
	rtc_clock_fn *clock;
	void *ctx;
	uint64_t nr_irqs;
};

/* Sets up the registers (24-hour BCD, no interrupts, battery good). irq may be NULL (no
 * interrupt); clock NULL means clock_gettime(CLOCK_REALTIME). */
void rtc_init(struct rtc *r, rtc_irq_fn *irq, rtc_clock_fn *clock, void *ctx);
/* Starts the "rtc" worker and its timerfd. Returns 0 or -errno. Without it the registers
 * work and no event ever fires. */
int rtc_start(struct rtc *r);
/* Pause/resume the worker (no event is raised while paused; the clock goes on). */
int rtc_pause(struct rtc *r);
int rtc_resume(struct rtc *r);
/* Stops the worker, closes the timerfd. */
void rtc_destroy(struct rtc *r);

void rtc_pio(struct rtc *r, uint16_t port, uint8_t *data, bool is_write);
/* What the worker does when the timer fires (tests call it directly): sets the flags of
 * the events due at the current clock and raises the interrupt if an enabled one is set. */
void rtc_tick(struct rtc *r);

/* Snapshot: the CMOS (time, alarm, A-D, NVRAM), the index and the guest clock's offset
 * from the host's (so the guest's wall clock goes on from the host's time after a
 * restore, as a real RTC does across a power-off). save returns the bytes written or
 * -ENOSPC; restore checks the blob like guest input, re-arms the timer for what register
 * B enables (an edge already sent is in the restored interrupt controller). 0 or -EINVAL. */
#define RTC_STATE_MAX 192
long rtc_save(struct rtc *r, void *buf, size_t cap);
int rtc_restore(struct rtc *r, const void *buf, size_t len);

#endif

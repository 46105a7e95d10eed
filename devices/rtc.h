/* devices/rtc.h — a read-only MC146818 CMOS clock on ports 0x70/0x71 showing the host's UTC
 * time, so guests that read the RTC at boot get a sane wall clock and never spin on the
 * update-in-progress bit. Writes to time registers are ignored. */
#ifndef ARCVMM_DEVICES_RTC_H
#define ARCVMM_DEVICES_RTC_H

#include <stdbool.h>
#include <stdint.h>

struct rtc {
	uint8_t index;
	uint8_t reg_b;
};

void rtc_init(struct rtc *r);
void rtc_pio(struct rtc *r, uint16_t port, uint8_t *data, bool is_write);

#endif

/* devices/rtc.c — see rtc.h. The guest chooses only an index (masked to 7 bits). */
#include "devices/rtc.h"

#include <time.h>

#define REG_B_24H    0x02
#define REG_B_BINARY 0x04

void rtc_init(struct rtc *r)
{
	r->index = 0;
	r->reg_b = REG_B_24H;
}

static uint8_t to_bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t rtc_read(struct rtc *r)
{
	time_t now = time(NULL);
	struct tm tm;
	int v;

	gmtime_r(&now, &tm);
	switch (r->index) {
	case 0x00:
		v = tm.tm_sec;
		break;
	case 0x02:
		v = tm.tm_min;
		break;
	case 0x04:
		v = tm.tm_hour;
		break;
	case 0x06:
		v = tm.tm_wday + 1;
		break;
	case 0x07:
		v = tm.tm_mday;
		break;
	case 0x08:
		v = tm.tm_mon + 1;
		break;
	case 0x09:
		v = tm.tm_year % 100;
		break;
	case 0x32:
		v = (tm.tm_year + 1900) / 100;
		break;
	case 0x0a:
		return 0x26; /* 32.768 kHz base, 1024 Hz; update-in-progress never set */
	case 0x0b:
		return r->reg_b;
	case 0x0c:
		return 0x00;
	case 0x0d:
		return 0x80; /* battery good, CMOS valid */
	default:
		return 0x00;
	}
	return (r->reg_b & REG_B_BINARY) ? (uint8_t)v : to_bcd(v);
}

void rtc_pio(struct rtc *r, uint16_t port, uint8_t *data, bool is_write)
{
	if (port == 0x70) {
		if (is_write)
			r->index = data[0] & 0x7f;
		else
			data[0] = 0xff;
		return;
	}
	if (is_write) {
		if (r->index == 0x0b)
			r->reg_b = data[0] & (REG_B_24H | REG_B_BINARY);
		return;
	}
	data[0] = rtc_read(r);
}

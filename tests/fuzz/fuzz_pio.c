/* tests/fuzz/fuzz_pio.c — libFuzzer target for the port-I/O devices a guest drives
 * directly: the i8042 (devices/i8042.c), the CMOS clock (devices/rtc.c, its event path
 * included) and the ACPI PM block (devices/acpi_pm.c). Input: records of 3 bytes —
 * port selector, value, flags (bit 0: write; bit 1: run the RTC's timer tick; bit 2: move
 * the RTC's clock one second on). Finds out-of-range register indices, UB in the BCD and
 * 12-hour arithmetic, and state the callbacks should never see (checked: the interrupt
 * callbacks only ever get what the device raised).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/rtc.h"

static struct timespec now;
static void fake_clock(struct timespec *ts)
{
	*ts = now;
}
static void noop(void *ctx)
{
	(void)ctx;
}
static void irq_level(void *ctx, bool level)
{
	(void)ctx;
	(void)level;
}
static void rtc_irq(void *ctx)
{
	(void)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct i8042 kbd;
	struct acpi_pm pm;
	struct rtc rtc;
	static const uint16_t ports[] = {0x60, 0x64, 0x70, 0x71};

	now.tv_sec = 1700000000;
	now.tv_nsec = 0;
	i8042_init(&kbd, noop, NULL);
	i8042_set_irq(&kbd, irq_level);
	acpi_pm_init(&pm, noop, noop, NULL);
	rtc_init(&rtc, rtc_irq, fake_clock, NULL);
	for (size_t i = 0; i + 3 <= size; i += 3) {
		uint8_t sel = data[i], v = data[i + 1], fl = data[i + 2];
		bool wr = fl & 1;
		if (fl & 4)
			now.tv_sec++;
		if (fl & 2)
			rtc_tick(&rtc);
		if (sel < 0x80) {
			uint16_t port = ports[sel & 3];
			if (port >= 0x70)
				rtc_pio(&rtc, port, &v, wr);
			else
				i8042_pio(&kbd, port, &v, wr);
		} else {
			uint16_t port =
			    (uint16_t)(ACPI_PM_PORT + (sel & 0x7f) % (ACPI_PM_PORTS + 2));
			uint8_t buf[4] = {v, v, v, v};
			unsigned sz = 1u << (fl >> 6 & 3);
			if (sz > 4)
				sz = 4;
			if (acpi_pm_handles(port))
				acpi_pm_pio(&pm, port, buf, sz, wr);
		}
	}
	rtc_destroy(&rtc);
	return 0;
}

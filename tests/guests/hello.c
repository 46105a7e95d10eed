/* tests/guests/hello.c — the hello guest on the C runtime (hello.bzImage): prints
 * "GUEST-HELLO <format>" (format = how it was entered, e.g. bzImage/64-bit), whether
 * boot_params carries the setup header, and "GUEST-CMDLINE <cmdline>"; then exits.
 * Trusts: rt.c's copy of the boot information.
 */
#include "rt.h"

int guest_main(void)
{
	rt_puts("GUEST-HELLO ");
	rt_puts(rt_format);
	rt_putc('\n');
	if (rt_entry_kind != RT_ENTRY_PVH) {
		rt_puts("GUEST-BOOTPARAMS hdr=");
		rt_puts(rt_boot_params_has_hdr() ? "HdrS" : "missing");
		rt_putc('\n');
	}
	rt_puts("GUEST-CMDLINE ");
	rt_puts(rt_cmdline);
	rt_putc('\n');
	if (rt_cmdline_truncated)
		rt_puts("GUEST-CMDLINE-TRUNCATED\n");
	return 0;
}

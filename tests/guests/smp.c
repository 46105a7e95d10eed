/* tests/guests/smp.c — the SMP guest (smp.elf, smp.bzImage).
 *
 * Finds the MP floating pointer ("_MP_": first KiB of the EBDA, the last KiB of base memory at
 * 0x9fc00, then the BIOS area 0xf0000..0xfffff), checks both checksums, counts the enabled
 * processor entries (N) of the MP configuration table, and starts every processor that is not
 * the BSP with INIT, SIPI, SIPI through the local APIC's ICR (trampoline at SMP_TRAMP_ADDR).
 * Every CPU, the BSP first, prints "GUEST-CPU apic=<LAPIC ID register> cpuid=<CPUID.1:EBX
 * [31:24]>" under a spinlock; the BSP waits a bounded time for all of them and prints
 * "GUEST-SMP-DONE n=<N>" or "GUEST-SMP-FAIL started=<CPUs that reported, BSP included> of <N>".
 * Trusts: the MP table only after its signature and checksums are checked; entries are
 * bounded by the table length.
 */
#include "rt.h"
#include "smp.h"

#define LAPIC_ID     0x020
#define LAPIC_SVR    0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define ICR_PENDING  (1u << 12)
#define ICR_INIT     0x00000500u
#define ICR_STARTUP  0x00000600u
#define ICR_LEVEL    (1u << 15)
#define ICR_ASSERT   (1u << 14)

#define MP_PROCESSOR 0
#define MP_CPU_EN    0x01
#define MP_CPU_BP    0x02

/* Generous bounds in TSC ticks: the TSC rate is unknown, assume no more than 5 GHz. */
#define TICKS_PER_MS 5000000ULL
#define AP_WAIT_MS   10000ULL

extern const char smp_tramp_start[], smp_tramp_end[];

uint32_t smp_ap_slot;
uint8_t smp_ap_stacks[(SMP_MAX_CPUS + 1) * SMP_AP_STACK] __attribute__((aligned(16)));
static uint32_t uart_lock;
static uint32_t reported;
static uint64_t lapic_base = 0xfee00000;

static void lock(uint32_t *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		rt_pause();
}

static void unlock(uint32_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

static uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)rt_phys(lapic_base + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)rt_phys(lapic_base + reg) = v;
}

static void delay_ms(uint64_t ms)
{
	uint64_t t0 = rt_rdtsc();

	while (rt_rdtsc() - t0 < ms * TICKS_PER_MS / 5) /* ~1 ms at 1 GHz .. 0.2 ms at 5 GHz */
		rt_pause();
}

static void report_cpu(bool is_bsp)
{
	uint32_t a, b, c, d;
	uint32_t apic = lapic_read(LAPIC_ID) >> 24;

	rt_cpuid(1, &a, &b, &c, &d);
	lock(&uart_lock);
	rt_puts("GUEST-CPU apic=");
	rt_putu(apic);
	rt_puts(" cpuid=");
	rt_putu(b >> 24);
	if (is_bsp)
		rt_puts(" bsp");
	rt_putc('\n');
	unlock(&uart_lock);
	__atomic_fetch_add(&reported, 1, __ATOMIC_RELEASE);
}

void smp_ap_main(void);
void smp_ap_main(void)
{
	report_cpu(false);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static uint8_t sum(const volatile uint8_t *p, uint32_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static uint64_t scan_mpf(uint64_t start, uint64_t len)
{
	for (uint64_t a = start; a + 16 <= start + len; a += 16) {
		const volatile uint8_t *p = (const volatile uint8_t *)rt_phys(a);

		if (p[0] == '_' && p[1] == 'M' && p[2] == 'P' && p[3] == '_' && p[8] == 1 &&
		    !sum(p, 16))
			return a;
	}
	return 0;
}

static int smp_fail(const char *why)
{
	rt_puts("GUEST-SMP-FAIL ");
	rt_puts(why);
	rt_putc('\n');
	return 0;
}

struct cpu_entry {
	uint8_t apic_id;
	uint8_t flags;
};

static struct cpu_entry cpus[SMP_MAX_CPUS];

/* Returns the number of enabled processors, or -1 after printing why. */
static int read_mptable(void)
{
	uint64_t ebda = (uint64_t) * (const volatile uint16_t *)rt_phys(0x40e) << 4;
	uint64_t mpf = 0, cfg;
	const volatile uint8_t *c;
	uint16_t len, count;
	uint32_t off = 44;
	int n = 0;

	if (ebda >= 0x80000 && ebda < 0xa0000)
		mpf = scan_mpf(ebda, 1024);
	if (!mpf)
		mpf = scan_mpf(0x9fc00, 1024);
	if (!mpf)
		mpf = scan_mpf(0xf0000, 0x10000);
	if (!mpf)
		return smp_fail("no MP floating pointer"), -1;
	cfg = *(const volatile uint32_t *)rt_phys(mpf + 4);
	if (!cfg || cfg >= 0xfffff000)
		return smp_fail("no MP configuration table (default configurations unsupported)"),
		       -1;
	c = (const volatile uint8_t *)rt_phys(cfg);
	len = (uint16_t)(c[4] | c[5] << 8);
	count = (uint16_t)(c[0x22] | c[0x23] << 8);
	if (c[0] != 'P' || c[1] != 'C' || c[2] != 'M' || c[3] != 'P' || len < 44 || sum(c, len))
		return smp_fail("bad MP configuration table header or checksum"), -1;
	lapic_base = *(const volatile uint32_t *)rt_phys(cfg + 0x24);
	for (uint16_t i = 0; i < count; i++) {
		uint32_t elen = c[off] == MP_PROCESSOR ? 20 : 8;

		if (c[off] > 4 || off + elen > len)
			return smp_fail("bad MP table entry"), -1;
		if (c[off] == MP_PROCESSOR && (c[off + 3] & MP_CPU_EN)) {
			if (n == SMP_MAX_CPUS)
				return smp_fail("more processors than this guest supports"), -1;
			cpus[n].apic_id = c[off + 1];
			cpus[n].flags = c[off + 3];
			n++;
		}
		off += elen;
	}
	if (!n)
		return smp_fail("no enabled processor in the MP table"), -1;
	return n;
}

static void icr_send(uint8_t apic_id, uint32_t lo)
{
	uint64_t t0 = rt_rdtsc();

	lapic_write(LAPIC_ICR_HI, (uint32_t)apic_id << 24);
	lapic_write(LAPIC_ICR_LO, lo);
	while ((lapic_read(LAPIC_ICR_LO) & ICR_PENDING) && rt_rdtsc() - t0 < 100 * TICKS_PER_MS)
		rt_pause();
}

int guest_main(void)
{
	uint32_t self;
	uint64_t t0;
	int n;

	rt_puts("GUEST-SMP-BOOT ");
	rt_puts(rt_format);
	rt_putc('\n');
	n = read_mptable();
	if (n < 0)
		return 0;
	if (lapic_base != 0xfee00000 && lapic_base >= rt_mapped_end)
		return smp_fail("local APIC above the identity map");
	rt_puts("GUEST-SMP-MPTABLE cpus=");
	rt_putu((uint64_t)n);
	rt_puts(" lapic=");
	rt_putx(lapic_base);
	rt_putc('\n');

	memcpy(rt_phys(SMP_TRAMP_ADDR), smp_tramp_start, (size_t)(smp_tramp_end - smp_tramp_start));
	lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | 0x1ff); /* enabled, spurious vector 0xff */
	self = lapic_read(LAPIC_ID) >> 24;
	report_cpu(true);

	for (int i = 0; i < n; i++) {
		if (cpus[i].apic_id == self)
			continue;
		icr_send(cpus[i].apic_id, ICR_INIT | ICR_LEVEL | ICR_ASSERT);
		delay_ms(10);
		icr_send(cpus[i].apic_id, ICR_INIT | ICR_LEVEL);
		for (int sipi = 0; sipi < 2; sipi++) {
			icr_send(cpus[i].apic_id, ICR_STARTUP | (SMP_TRAMP_ADDR >> 12));
			delay_ms(1);
		}
	}

	t0 = rt_rdtsc();
	while (__atomic_load_n(&reported, __ATOMIC_ACQUIRE) < (uint32_t)n &&
	       rt_rdtsc() - t0 < AP_WAIT_MS * TICKS_PER_MS)
		rt_pause();

	lock(&uart_lock);
	if (__atomic_load_n(&reported, __ATOMIC_ACQUIRE) == (uint32_t)n) {
		rt_puts("GUEST-SMP-DONE n=");
		rt_putu((uint64_t)n);
	} else {
		rt_puts("GUEST-SMP-FAIL started=");
		rt_putu(__atomic_load_n(&reported, __ATOMIC_ACQUIRE));
		rt_puts(" of ");
		rt_putu((uint64_t)n);
	}
	rt_putc('\n');
	/* keep the lock: no AP prints after the verdict */
	return 0;
}

/* tests/unit/test_acpi.c — the ACPI tables (arch/x86/acpi.c) read back from guest memory at
 * the offsets the ACPI specification gives (not through our structs): RSDP found by the
 * legacy scan, every checksum, XSDT/RSDT pointers, FADT HW-reduced fields, MADT entries,
 * DSDT devices; the AML encoder's encodings at their boundaries; the RSDP pointer in
 * boot_params / PVH start_info; the power-management registers (devices/acpi_pm.c).
 * When `iasl` (Debian acpica-tools) is installed, the tables are also disassembled by it,
 * and the DSDT recompiled from the disassembly must give back the same AML.
 * No KVM needed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"
#include "arch/x86/setup.h"
#include "devices/acpi_pm.h"
#include "mem/guest_mem.h"
#include "tests/unit/test.h"

#define MIB	 (1ULL << 20)
#define RAM_SIZE (2 * MIB)

static uint8_t *ram;
static struct guest_mem mem;

static struct guest_mem *fresh_mem(void)
{
	memset(ram, 0xaa, RAM_SIZE);
	guest_mem_init_buffer(&mem, ram, RAM_SIZE);
	return &mem;
}

static uint8_t rd8(uint64_t gpa)
{
	uint8_t v = 0;

	CHECK_EQ(guest_mem_read(&mem, gpa, &v, 1), 0);
	return v;
}

static uint16_t rd16(uint64_t gpa)
{
	uint16_t v = 0;

	CHECK_EQ(guest_mem_read(&mem, gpa, &v, 2), 0);
	return v;
}

static uint32_t rd32(uint64_t gpa)
{
	uint32_t v = 0;

	CHECK_EQ(guest_mem_read(&mem, gpa, &v, 4), 0);
	return v;
}

static uint64_t rd64(uint64_t gpa)
{
	uint64_t v = 0;

	CHECK_EQ(guest_mem_read(&mem, gpa, &v, 8), 0);
	return v;
}

static uint8_t sum(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = guest_mem_ptr(&mem, gpa, len);
	uint8_t s = 0;

	CHECK(p != NULL);
	if (!p)
		return 0xff;
	for (uint64_t i = 0; i < len; i++)
		s += p[i];
	return s;
}

static bool sig_is(uint64_t gpa, const char *sig, size_t n)
{
	const char *p = guest_mem_ptr(&mem, gpa, n);

	return p && memcmp(p, sig, n) == 0;
}

/* Checks a table's header (signature, checksum, ids, inside the reserved area); returns its
 * length, 0 if wrong. */
static uint32_t check_table(uint64_t gpa, const char *sig)
{
	uint32_t len;

	CHECK(gpa >= X86_ACPI_RSDP_ADDR && gpa < X86_LOW_RESERVED_END);
	if (gpa < X86_ACPI_RSDP_ADDR || gpa >= X86_LOW_RESERVED_END)
		return 0;
	CHECK(sig_is(gpa, sig, 4));
	len = rd32(gpa + 4);
	CHECK(len >= 36);
	CHECK(gpa + len <= X86_LOW_RESERVED_END);
	if (len < 36 || gpa + len > X86_LOW_RESERVED_END)
		return 0;
	CHECK_EQ(sum(gpa, len), 0);
	CHECK(sig_is(gpa + 10, "ARCVMM", 6));
	return len;
}

/* The legacy way: a 16-byte aligned "RSD PTR " whose first 20 bytes sum to 0. */
static uint64_t scan_rsdp(unsigned *found)
{
	uint64_t at = 0;

	*found = 0;
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
		if (sig_is(a, "RSD PTR ", 8) && sum(a, 20) == 0) {
			at = a;
			(*found)++;
		}
	}
	return at;
}

static size_t count_bytes(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	size_t c = 0;

	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			c++;
	return c;
}

struct tables {
	uint64_t rsdp, xsdt, rsdt, fadt, madt, dsdt;
	uint32_t fadt_len, madt_len, dsdt_len;
};

static void vm_devices(struct x86_acpi_virtio *devs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		devs[i].base = X86_VIRTIO_MMIO_BASE + i * X86_VIRTIO_MMIO_SIZE;
		devs[i].size = X86_VIRTIO_MMIO_SIZE;
		/* the slots repeat past the 16th (only the larger-than-life tests get there) */
		devs[i].gsi = x86_virtio_gsi(i);
	}
}

/* Walks RSDP → XSDT/RSDT → FADT/MADT → DSDT with every check on the way. */
static void walk(struct tables *t)
{
	unsigned found;
	uint32_t xlen, rlen;

	memset(t, 0, sizeof(*t));
	t->rsdp = scan_rsdp(&found);
	CHECK_EQ(found, 1);
	CHECK_EQ(t->rsdp, X86_ACPI_RSDP_ADDR);
	CHECK_EQ(rd8(t->rsdp + 15), 2);	  /* revision */
	CHECK_EQ(rd32(t->rsdp + 20), 36); /* length */
	CHECK_EQ(sum(t->rsdp, 36), 0);	  /* extended checksum */
	CHECK(sig_is(t->rsdp + 9, "ARCVMM", 6));

	t->xsdt = rd64(t->rsdp + 24);
	xlen = check_table(t->xsdt, "XSDT");
	CHECK_EQ(xlen, 36 + 2 * 8);
	t->fadt = rd64(t->xsdt + 36);
	t->madt = rd64(t->xsdt + 44);

	t->rsdt = rd32(t->rsdp + 16);
	rlen = check_table(t->rsdt, "RSDT");
	CHECK_EQ(rlen, 36 + 2 * 4);
	CHECK_EQ(rd32(t->rsdt + 36), t->fadt);
	CHECK_EQ(rd32(t->rsdt + 40), t->madt);

	t->fadt_len = check_table(t->fadt, "FACP");
	t->madt_len = check_table(t->madt, "APIC");
	t->dsdt = rd64(t->fadt + 140); /* X_DSDT */
	t->dsdt_len = check_table(t->dsdt, "DSDT");
}

static void check_gas_io8(uint64_t gpa, uint16_t port)
{
	CHECK_EQ(rd8(gpa), 1);	   /* SystemIO */
	CHECK_EQ(rd8(gpa + 1), 8); /* bit width */
	CHECK_EQ(rd8(gpa + 2), 0); /* bit offset */
	CHECK_EQ(rd8(gpa + 3), 1); /* byte access */
	CHECK_EQ(rd64(gpa + 4), port);
}

static void check_fadt(const struct tables *t)
{
	uint64_t f = t->fadt;
	uint32_t flags = rd32(f + 112);

	CHECK_EQ(t->fadt_len, 276);
	CHECK_EQ(rd8(f + 8), 6);       /* revision */
	CHECK_EQ(rd32(f + 36), 0);     /* FIRMWARE_CTRL: no FACS */
	CHECK_EQ(rd32(f + 40), 0);     /* DSDT: zero when X_DSDT is set */
	CHECK_EQ(rd16(f + 46), 0);     /* SCI_INT */
	CHECK_EQ(rd32(f + 48), 0);     /* SMI_CMD */
	CHECK_EQ(rd32(f + 56), 0);     /* PM1a_EVT_BLK */
	CHECK_EQ(rd32(f + 64), 0);     /* PM1a_CNT_BLK */
	CHECK_EQ(rd32(f + 76), 0);     /* PM_TMR_BLK */
	CHECK(flags & (1u << 20));     /* HW_REDUCED_ACPI */
	CHECK(flags & (1u << 10));     /* RESET_REG_SUP */
	CHECK(flags & (1u << 4));      /* no fixed power button */
	CHECK(flags & (1u << 5));      /* no fixed sleep button */
	CHECK(!(rd16(f + 109) & 0x2)); /* IAPC_BOOT_ARCH: no 8042 advertised */
	check_gas_io8(f + 116, X86_ACPI_RESET_PORT);
	CHECK_EQ(rd8(f + 128), X86_ACPI_RESET_VALUE);
	CHECK_EQ(rd64(f + 132), 0); /* X_FIRMWARE_CTRL */
	CHECK_EQ(rd64(f + 140), t->dsdt);
	for (uint64_t g = f + 148; g < f + 244; g += 12) /* X_PM1a_EVT_BLK .. X_GPE1_BLK */
		CHECK_EQ(rd64(g + 4), 0);
	check_gas_io8(f + 244, X86_ACPI_SLEEP_CTL_PORT);
	check_gas_io8(f + 256, X86_ACPI_SLEEP_STS_PORT);
}

static void check_madt(const struct tables *t, unsigned ncpus)
{
	uint64_t p = t->madt + 44, end = t->madt + t->madt_len;
	unsigned n = 0, nlapic = 0, nioapic = 0, nnmi = 0;

	CHECK_EQ(rd32(t->madt + 36), X86_LAPIC_ADDR);
	CHECK_EQ(rd32(t->madt + 40) & 1, 1); /* PCAT_COMPAT */
	while (p < end) {
		uint8_t type = rd8(p), len = rd8(p + 1);

		CHECK(len >= 2);
		if (len < 2)
			return;
		switch (type) {
		case 0:
			CHECK_EQ(len, 8);
			CHECK_EQ(rd8(p + 2), nlapic); /* processor UID */
			CHECK_EQ(rd8(p + 3), nlapic); /* APIC id = vCPU index */
			CHECK_EQ(rd32(p + 4) & 1, 1); /* enabled */
			nlapic++;
			break;
		case 1:
			CHECK_EQ(len, 12);
			CHECK_EQ(rd8(p + 2), ncpus); /* IOAPIC id, as in the MP table */
			CHECK_EQ(rd32(p + 4), X86_IOAPIC_ADDR);
			CHECK_EQ(rd32(p + 8), 0); /* GSI base */
			nioapic++;
			break;
		case 4:
			CHECK_EQ(len, 6);
			CHECK_EQ(rd8(p + 2), 0xff); /* all processors */
			CHECK_EQ(rd8(p + 5), 1);    /* LINT1 */
			nnmi++;
			break;
		default:
			CHECK(!"unexpected MADT entry type");
		}
		p += len;
		n++;
	}
	CHECK_EQ(p, end);
	CHECK_EQ(nlapic, ncpus);
	CHECK_EQ(nioapic, 1);
	CHECK_EQ(nnmi, 1);
	CHECK_EQ(n, ncpus + 2);
}

static void check_dsdt(const struct tables *t, const struct x86_acpi_virtio *devs, unsigned n)
{
	const uint8_t *d = guest_mem_ptr(&mem, t->dsdt, t->dsdt_len);
	static const uint8_t s5[] = {0x08, '_',	 'S',  '5',  '_',  0x12, 0x07,
				     0x04, 0x0a, 0x05, 0x00, 0x00, 0x00};
	static const uint8_t com1_crs[] = {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01,
					   0x08, 0x22, 0x10, 0x00, 0x79, 0x00};

	CHECK(d != NULL);
	if (!d)
		return;
	CHECK_EQ(rd8(t->dsdt + 8), 2); /* revision 2: 64-bit integers */
	CHECK_EQ(count_bytes(d, t->dsdt_len, "LNRO0005", 8), n);
	CHECK_EQ(count_bytes(d, t->dsdt_len, s5, sizeof(s5)), 1);
	CHECK_EQ(count_bytes(d, t->dsdt_len, com1_crs, sizeof(com1_crs)), 1);
	/* EisaId("PNP0501") */
	CHECK_EQ(count_bytes(d, t->dsdt_len, "\x0c\x41\xd0\x05\x01", 5), 1);
	for (unsigned i = 0; i < n; i++) {
		uint8_t res[] = {0x86,
				 0x09,
				 0x00,
				 0x01, /* Memory32Fixed, read-write */
				 (uint8_t)devs[i].base,
				 (uint8_t)(devs[i].base >> 8),
				 (uint8_t)(devs[i].base >> 16),
				 (uint8_t)(devs[i].base >> 24),
				 (uint8_t)devs[i].size,
				 (uint8_t)(devs[i].size >> 8),
				 (uint8_t)(devs[i].size >> 16),
				 (uint8_t)(devs[i].size >> 24),
				 0x89,
				 0x06,
				 0x00,
				 0x03,
				 0x01, /* Interrupt: consumer, edge, high, exclusive */
				 (uint8_t)devs[i].gsi,
				 (uint8_t)(devs[i].gsi >> 8),
				 (uint8_t)(devs[i].gsi >> 16),
				 (uint8_t)(devs[i].gsi >> 24),
				 0x79,
				 0x00};
		char name[5];

		CHECK_EQ(count_bytes(d, t->dsdt_len, res, sizeof(res)), 1);
		snprintf(name, sizeof(name), "VR%02X", i);
		CHECK_EQ(count_bytes(d, t->dsdt_len, name, 4), 1);
	}
}

/* The tables must not overlap each other, the RSDP or the MP table. */
static void check_layout(const struct tables *t)
{
	struct {
		uint64_t a, len;
	} r[] = {
	    {t->rsdp, 36},	    {t->xsdt, rd32(t->xsdt + 4)}, {t->rsdt, rd32(t->rsdt + 4)},
	    {t->fadt, t->fadt_len}, {t->madt, t->madt_len},	  {t->dsdt, t->dsdt_len},
	};
	size_t n = sizeof(r) / sizeof(r[0]);

	for (size_t i = 0; i < n; i++) {
		CHECK(r[i].a >= 0xe0000);
		CHECK(r[i].a + r[i].len <= X86_LOW_RESERVED_END);
		for (size_t j = i + 1; j < n; j++)
			CHECK(r[i].a + r[i].len <= r[j].a || r[j].a + r[j].len <= r[i].a);
	}
}

static void check_all(unsigned ncpus, unsigned ndevs)
{
	struct x86_acpi_virtio devs[X86_ACPI_MAX_VIRTIO];
	struct tables t;
	uint64_t rsdp = 0;

	fresh_mem();
	vm_devices(devs, ndevs);
	CHECK_EQ(x86_acpi_write(&mem, ncpus, devs, ndevs, &rsdp), 0);
	CHECK_EQ(rsdp, X86_ACPI_RSDP_ADDR);
	walk(&t);
	check_fadt(&t);
	check_madt(&t, ncpus);
	check_dsdt(&t, devs, ndevs);
	check_layout(&t);
}

TEST(tables_one_cpu_no_devices)
{
	check_all(1, 0);
}

TEST(tables_like_vm)
{
	check_all(4, 3);
}

TEST(tables_largest)
{
	check_all(X86_ACPI_MAX_CPUS, X86_ACPI_MAX_VIRTIO);
}

/* The MP table (written with the most CPUs) and the ACPI tables leave each other intact,
 * in either order. */
TEST(tables_beside_mptable)
{
	struct x86_acpi_virtio devs[X86_VIRTIO_MMIO_SLOTS];
	struct tables t;
	uint64_t rsdp;

	vm_devices(devs, X86_VIRTIO_MMIO_SLOTS);
	fresh_mem();
	CHECK_EQ(x86_acpi_write(&mem, 2, devs, X86_VIRTIO_MMIO_SLOTS, &rsdp), 0);
	CHECK_EQ(x86_mptable_write(&mem, X86_MP_MAX_CPUS), 0);
	walk(&t);
	check_dsdt(&t, devs, X86_VIRTIO_MMIO_SLOTS);

	fresh_mem();
	CHECK_EQ(x86_mptable_write(&mem, X86_MP_MAX_CPUS), 0);
	CHECK_EQ(x86_acpi_write(&mem, 2, devs, X86_VIRTIO_MMIO_SLOTS, &rsdp), 0);
	CHECK(sig_is(X86_MPTABLE_ADDR, "_MP_", 4));
	CHECK_EQ(sum(X86_MPTABLE_ADDR, 16), 0);
	uint32_t cfg = rd32(X86_MPTABLE_ADDR + 4);
	CHECK(sig_is(cfg, "PCMP", 4));
	CHECK_EQ(sum(cfg, rd16(cfg + 4)), 0);
	CHECK(cfg + rd16(cfg + 4) <= X86_ACPI_RSDP_ADDR);
}

TEST(tables_rejects)
{
	struct x86_acpi_virtio devs[X86_ACPI_MAX_VIRTIO + 1];
	uint64_t rsdp = 0x1234;
	static uint8_t small[512 * 1024];

	vm_devices(devs, X86_ACPI_MAX_VIRTIO + 1);
	fresh_mem();
	CHECK_EQ(x86_acpi_write(&mem, 0, devs, 1, &rsdp), -EINVAL);
	CHECK_EQ(x86_acpi_write(&mem, X86_ACPI_MAX_CPUS + 1, devs, 1, &rsdp), -EINVAL);
	CHECK_EQ(x86_acpi_write(&mem, 1, devs, X86_ACPI_MAX_VIRTIO + 1, &rsdp), -EINVAL);
	CHECK_EQ(x86_acpi_write(&mem, 1, NULL, 1, &rsdp), -EINVAL);
	devs[0].gsi = X86_IOAPIC_PINS;
	CHECK_EQ(x86_acpi_write(&mem, 1, devs, 1, &rsdp), -EINVAL);
	devs[0].gsi = 5;
	devs[0].base = 0x100000000ULL;
	CHECK_EQ(x86_acpi_write(&mem, 1, devs, 1, &rsdp), -EINVAL);
	devs[0].base = 0xfffff000ULL;
	devs[0].size = 0x2000;
	CHECK_EQ(x86_acpi_write(&mem, 1, devs, 1, &rsdp), -EINVAL);
	devs[0].size = 0;
	CHECK_EQ(x86_acpi_write(&mem, 1, devs, 1, &rsdp), -EINVAL);
	CHECK_EQ(rsdp, 0x1234);
	/* Nothing was written by the failed calls. */
	CHECK_EQ(rd32(X86_ACPI_RSDP_ADDR), 0xaaaaaaaa);

	/* RAM that ends below 1 MiB cannot hold the tables. */
	guest_mem_init_buffer(&mem, small, sizeof(small));
	vm_devices(devs, 1);
	CHECK_EQ(x86_acpi_write(&mem, 1, devs, 1, &rsdp), -EFAULT);
	CHECK_EQ(rsdp, 0x1234);
}

/* --- AML encoder --- */

static void check_encoding(const struct aml *a, const uint8_t *want, size_t n)
{
	CHECK_EQ(a->err, 0);
	CHECK_EQ(a->len, n);
	CHECK(a->len == n && memcmp(a->buf, want, n) == 0);
}

TEST(aml_pkglength_boundaries)
{
	uint8_t o[4];

	CHECK_EQ(aml_pkglength(o, 0), 1);
	CHECK_EQ(o[0], 1);
	CHECK_EQ(aml_pkglength(o, 62), 1); /* 63: the largest one-byte length */
	CHECK_EQ(o[0], 63);
	CHECK_EQ(aml_pkglength(o, 63), 2); /* 65 = 0x41 */
	CHECK_EQ(o[0], 0x41);
	CHECK_EQ(o[1], 0x04);
	CHECK_EQ(aml_pkglength(o, 4093), 2); /* 4095 = 0xfff */
	CHECK_EQ(o[0], 0x4f);
	CHECK_EQ(o[1], 0xff);
	CHECK_EQ(aml_pkglength(o, 4094), 3); /* 4097 = 0x1001 */
	CHECK_EQ(o[0], 0x81);
	CHECK_EQ(o[1], 0x00);
	CHECK_EQ(o[2], 0x01);
	CHECK_EQ(aml_pkglength(o, 0xffffc), 3); /* 0xfffff: the largest three-byte length */
	CHECK_EQ(o[0], 0x8f);
	CHECK_EQ(o[1], 0xff);
	CHECK_EQ(o[2], 0xff);
	CHECK_EQ(aml_pkglength(o, 0xffffd), 4); /* 0x100001 */
	CHECK_EQ(o[0], 0xc1);
	CHECK_EQ(o[1], 0x00);
	CHECK_EQ(o[2], 0x00);
	CHECK_EQ(o[3], 0x01);
	CHECK_EQ(aml_pkglength(o, (1u << 28) - 5), 4); /* 0xfffffff */
	CHECK_EQ(o[0], 0xcf);
	CHECK_EQ(o[3], 0xff);
	CHECK_EQ(aml_pkglength(o, (1u << 28) - 4), 0); /* too long for AML */
}

TEST(aml_integers_names_strings)
{
	uint8_t buf[128];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 2);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0x100000000ULL);
	static const uint8_t ints[] = {0x00, 0x00 + 1, 0x0a, 0x02, 0x0a, 0xff, 0x0b, 0x00,
				       0x01, 0x0c,     0x00, 0x00, 0x01, 0x00, 0x0e, 0,
				       0,    0,	       0,    1,	   0,	 0,    0};
	check_encoding(&a, ints, sizeof(ints));

	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, "\\_SB_.VR00");
	aml_namestring(&a, "_S5");
	aml_namestring(&a, "^A.B.C");
	aml_namestring(&a, "\\");
	static const uint8_t names[] = {0x5c, 0x2e, '_', 'S',  'B',  '_', 'V', 'R',  '0', '0', '_',
					'S',  '5',  '_', 0x5e, 0x2f, 3,	  'A', '_',  '_', '_', 'B',
					'_',  '_',  '_', 'C',  '_',  '_', '_', 0x5c, 0x00};
	check_encoding(&a, names, sizeof(names));

	aml_init(&a, buf, sizeof(buf));
	aml_string(&a, "LNRO0005");
	aml_eisaid(&a, "PNP0501");
	aml_eisaid(&a, "PNP0B00");
	static const uint8_t strs[] = {0x0d, 'L',  'N',	 'R',  'O',  '0',  '0',	 '0',  '5',  0x00,
				       0x0c, 0x41, 0xd0, 0x05, 0x01, 0x0c, 0x41, 0xd0, 0x0b, 0x00};
	check_encoding(&a, strs, sizeof(strs));

	static const char *const bad_names[] = {"1ABC", "ABCDE", "ab", "A..B", "A.", ".A", "A-B"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_namestring(&a, bad_names[i]);
		CHECK_EQ(a.err, -EINVAL);
	}
	static const char *const bad_ids[] = {"PNP050", "pnp0501", "PNP050G", "PNP05011"};
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_eisaid(&a, bad_ids[i]);
		CHECK_EQ(a.err, -EINVAL);
	}
}

/* Nested objects get their PkgLength inserted; the first error sticks. */
TEST(aml_nesting_and_overflow)
{
	uint8_t buf[512];
	struct aml a;
	size_t dev, b;

	aml_init(&a, buf, sizeof(buf));
	dev = aml_device_begin(&a, "DEV0");
	aml_name(&a, "_UID");
	aml_integer(&a, 7);
	aml_end(&a, dev);
	static const uint8_t small[] = {0x5b, 0x82, 0x0c, 'D', 'E', 'V',  '0',
					0x08, '_',  'U',  'I', 'D', 0x0a, 0x07};
	check_encoding(&a, small, sizeof(small));

	/* A 100-byte buffer: two-byte PkgLength (2 + 2 + 100 = 104 = 0x68), size as a byte. */
	aml_init(&a, buf, sizeof(buf));
	b = aml_buffer_begin(&a);
	for (int i = 0; i < 100; i++)
		aml_bytes(&a, "\x5a", 1);
	aml_buffer_end(&a, b);
	CHECK_EQ(a.err, 0);
	CHECK_EQ(a.len, 1 + 2 + 2 + 100);
	CHECK_EQ(buf[0], 0x11);
	CHECK_EQ(buf[1], 0x48);
	CHECK_EQ(buf[2], 0x06);
	CHECK_EQ(buf[3], 0x0a);
	CHECK_EQ(buf[4], 100);
	CHECK_EQ(buf[5], 0x5a);
	CHECK_EQ(buf[104], 0x5a);

	/* Full buffer: -ENOSPC, and nothing written past cap. */
	uint8_t tiny[8 + 4];
	memset(tiny, 0xee, sizeof(tiny));
	aml_init(&a, tiny, 8);
	aml_string(&a, "LNRO0005");
	CHECK_EQ(a.err, -ENOSPC);
	aml_integer(&a, 1);
	CHECK_EQ(a.err, -ENOSPC);
	CHECK_EQ(tiny[8], 0xee);

	/* Inserting a PkgLength into a full buffer fails too. */
	aml_init(&a, tiny, 4);
	dev = aml_package_begin(&a, 1);
	aml_integer(&a, 0x10);
	CHECK_EQ(a.len, 4);
	aml_end(&a, dev);
	CHECK_EQ(a.err, -ENOSPC);
	CHECK_EQ(tiny[4], 0xee);
}

/* --- RSDP pointer at entry --- */

TEST(rsdp_in_boot_params_and_pvh)
{
	struct x86_boot_info bi = {.cmdline_gpa = X86_CMDLINE_ADDR};

	fresh_mem();
	CHECK_EQ(x86_bootparams_write(&mem, &bi), 0);
	CHECK_EQ(rd64(X86_ZERO_PAGE_ADDR + 0x070), 0);
	CHECK_EQ(x86_boot_set_rsdp(&mem, false, X86_ZERO_PAGE_ADDR, X86_ACPI_RSDP_ADDR), 0);
	CHECK_EQ(rd64(X86_ZERO_PAGE_ADDR + 0x070), X86_ACPI_RSDP_ADDR);
	CHECK_EQ(rd64(X86_ZERO_PAGE_ADDR + 0x068), 0); /* neighbours untouched */
	CHECK_EQ(rd64(X86_ZERO_PAGE_ADDR + 0x078), 0);

	fresh_mem();
	CHECK_EQ(x86_pvh_info_write(&mem, &bi), 0);
	CHECK_EQ(rd64(X86_PVH_INFO_ADDR + 32), 0); /* rsdp_paddr */
	CHECK_EQ(x86_boot_set_rsdp(&mem, true, X86_PVH_INFO_ADDR, X86_ACPI_RSDP_ADDR), 0);
	CHECK_EQ(rd64(X86_PVH_INFO_ADDR + 32), X86_ACPI_RSDP_ADDR);
	CHECK_EQ(rd64(X86_PVH_INFO_ADDR + 24), X86_CMDLINE_ADDR); /* cmdline_paddr intact */

	/* No start_info there (wrong mode or address): refused, nothing written. */
	CHECK_EQ(x86_boot_set_rsdp(&mem, true, X86_ZERO_PAGE_ADDR, X86_ACPI_RSDP_ADDR), -EINVAL);
	CHECK_EQ(x86_boot_set_rsdp(&mem, false, RAM_SIZE, X86_ACPI_RSDP_ADDR), -EFAULT);
	CHECK_EQ(x86_boot_set_rsdp(&mem, false, UINT64_MAX - 8, X86_ACPI_RSDP_ADDR), -EFAULT);
	CHECK_EQ(x86_boot_set_rsdp(&mem, true, UINT64_MAX - 8, X86_ACPI_RSDP_ADDR), -EFAULT);
}

/* --- iasl --- */

static char tmpdir[64];

static int dump_table(uint64_t gpa, const char *name)
{
	char path[128];
	uint32_t len = rd32(gpa + 4);
	FILE *f;

	test_snprintf(path, sizeof(path), "%s/%s.dat", tmpdir, name);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(guest_mem_ptr(&mem, gpa, len), 1, len, f);
	return fclose(f) == 0 && w == len ? 0 : -1;
}

static int run(const char *fmt, const char *arg)
{
	char cmd[512];

	test_snprintf(cmd, sizeof(cmd), fmt, tmpdir, arg);
	return system(cmd);
}

static char *slurp(const char *name, size_t *len)
{
	char path[128];
	FILE *f;
	char *buf;
	long n;

	test_snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = 0;
		if (len)
			*len = (size_t)n;
	}
	return buf;
}

static size_t count_str(const char *hay, const char *needle)
{
	size_t c = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		c++;
	return c;
}

/* Disassembles every table with iasl, checks what it decoded, and recompiles the DSDT's
 * disassembly: the same AML must come back (header aside). */
static void iasl_roundtrip(unsigned ncpus, unsigned ndevs)
{
	struct x86_acpi_virtio devs[X86_ACPI_MAX_VIRTIO];
	static const char *const names[] = {"facp", "apic", "xsdt", "rsdt", "dsdt"};
	struct tables t;
	uint64_t rsdp;
	char *dsl, *aml;
	size_t aml_len = 0;
	char want[64];

	CHECK_EQ(run("rm -f %s/*%s", ""), 0);
	fresh_mem();
	vm_devices(devs, ndevs);
	CHECK_EQ(x86_acpi_write(&mem, ncpus, devs, ndevs, &rsdp), 0);
	walk(&t);
	CHECK_EQ(dump_table(t.fadt, "facp"), 0);
	CHECK_EQ(dump_table(t.madt, "apic"), 0);
	CHECK_EQ(dump_table(t.xsdt, "xsdt"), 0);
	CHECK_EQ(dump_table(t.rsdt, "rsdt"), 0);
	CHECK_EQ(dump_table(t.dsdt, "dsdt"), 0);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char file[32];

		CHECK_EQ(run("cd %s && iasl -d %s.dat >>iasl.log 2>&1", names[i]), 0);
		test_snprintf(file, sizeof(file), "%s.dsl", names[i]);
		dsl = slurp(file, NULL);
		CHECK(dsl != NULL);
		if (!dsl)
			continue;
		/* iasl writes its complaints about a table into the listing as comments */
		CHECK(!strstr(dsl, "**** "));
		CHECK(!strstr(dsl, "Invalid"));
		CHECK(!strstr(dsl, "Error"));
		if (i == 0) {
			CHECK(strstr(dsl, "Hardware Reduced (V5) : 1") != NULL);
			CHECK(strstr(dsl, "Revision : 06") != NULL);
		}
		if (i == 1)
			CHECK_EQ(count_str(dsl, "Subtable Type : 00 [Processor Local APIC]"),
				 ncpus);
		free(dsl);
	}

	dsl = slurp("dsdt.dsl", NULL);
	CHECK(dsl != NULL);
	if (dsl) {
		CHECK_EQ(count_str(dsl, "Name (_HID, \"LNRO0005\")"), ndevs);
		CHECK_EQ(count_str(dsl, "Device (VR"), ndevs);
		CHECK_EQ(count_str(
			     dsl, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )"),
			 ndevs + 1); /* + the GED's (power button) */
		CHECK(strstr(dsl, "Name (_HID, \"ACPI0013\"") != NULL);
		CHECK(strstr(dsl, "EisaId (\"PNP0C0C\")") != NULL);
		CHECK(strstr(dsl, "EisaId (\"PNP0303\")") != NULL); /* the i8042 keyboard */
		CHECK(strstr(dsl, "Notify (PWRB, 0x80)") != NULL);
		CHECK(strstr(dsl, "Name (_S5, Package (0x04)") != NULL);
		CHECK(strstr(dsl, "EisaId (\"PNP0501\")") != NULL);
		CHECK(strstr(dsl, "IRQNoFlags ()\n                    {4}") != NULL);
		CHECK(strstr(dsl, "EisaId (\"PNP0B00\")") != NULL);
		for (unsigned i = 0; i < ndevs; i++) {
			snprintf(want, sizeof(want), "0x%08llX,         // Address Base",
				 (unsigned long long)devs[i].base);
			CHECK(strstr(dsl, want) != NULL);
		}
		snprintf(want, sizeof(want), "0x%08X,", devs[ndevs - 1].gsi);
		CHECK(strstr(dsl, want) != NULL);
		free(dsl);
	}

	CHECK_EQ(run("cd %s && iasl -p re dsdt.dsl >>iasl.log 2>&1%s", ""), 0);
	aml = slurp("re.aml", &aml_len);
	CHECK(aml != NULL);
	if (aml) {
		const uint8_t *ours = guest_mem_ptr(&mem, t.dsdt, t.dsdt_len);

		CHECK_EQ(aml_len, t.dsdt_len);
		CHECK(aml_len == t.dsdt_len && memcmp(aml + 36, ours + 36, aml_len - 36) == 0);
		free(aml);
	}
}

/* Objects longer than the DSDT ever needs, so iasl also reads our 3-byte PkgLengths: a
 * scope holding a device with a 5000-byte buffer and a 70-element package. */
static void iasl_big_objects(void)
{
	static uint8_t tbl[8192];
	struct aml a;
	size_t sc, dev, b, pkg;
	uint32_t len;
	uint8_t s = 0;
	char *aml;
	size_t aml_len = 0;
	FILE *f;
	char path[128];

	memset(tbl, 0, sizeof(tbl));
	aml_init(&a, tbl + 36, sizeof(tbl) - 36);
	sc = aml_scope_begin(&a, "_SB_");
	dev = aml_device_begin(&a, "BIG0");
	aml_name(&a, "_HID");
	aml_string(&a, "ARCV0001");
	aml_name(&a, "BUF0");
	b = aml_buffer_begin(&a);
	for (int i = 0; i < 5000; i++) {
		uint8_t v = (uint8_t)(i * 7);
		aml_bytes(&a, &v, 1);
	}
	aml_buffer_end(&a, b);
	aml_name(&a, "PKG0");
	pkg = aml_package_begin(&a, 70);
	for (uint64_t i = 0; i < 70; i++)
		aml_integer(&a, i * 0x10001);
	aml_end(&a, pkg);
	aml_end(&a, dev);
	aml_end(&a, sc);
	CHECK_EQ(a.err, 0);
	CHECK_EQ(tbl[36 + 1] >> 6, 2); /* the scope's PkgLength has 3 bytes */

	len = (uint32_t)(36 + a.len);
	memcpy(tbl, "DSDT", 4);
	memcpy(tbl + 4, &len, 4);
	tbl[8] = 2;
	memcpy(tbl + 10, "ARCVMMBIGOBJS   ", 14);
	for (uint32_t i = 0; i < len; i++)
		s += tbl[i];
	tbl[9] = (uint8_t)-s;

	test_snprintf(path, sizeof(path), "%s/big.dat", tmpdir);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_EQ(fwrite(tbl, 1, len, f), len);
	fclose(f);
	CHECK_EQ(run("cd %s && iasl -d big.dat >>iasl.log 2>&1%s", ""), 0);
	CHECK_EQ(run("cd %s && grep -q 'Buffer (0x1388)' big.dsl%s", ""), 0);
	CHECK_EQ(run("cd %s && iasl -p rebig big.dsl >>iasl.log 2>&1%s", ""), 0);
	aml = slurp("rebig.aml", &aml_len);
	CHECK(aml != NULL);
	if (aml) {
		CHECK_EQ(aml_len, len);
		CHECK(aml_len == len && memcmp(aml + 36, tbl + 36, len - 36) == 0);
		free(aml);
	}
}

TEST(iasl_disassembles_and_recompiles)
{
	int before = test_failed_checks;

	if (system("command -v iasl >/dev/null 2>&1") != 0) {
		printf("  skip: iasl not installed (Debian package acpica-tools)\n");
		return;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_acpi.XXXXXX");
	CHECK(mkdtemp(tmpdir) != NULL);
	iasl_roundtrip(2, 3);
	if (test_failed_checks == before)
		iasl_roundtrip(X86_ACPI_MAX_CPUS, X86_ACPI_MAX_VIRTIO);
	if (test_failed_checks == before)
		iasl_big_objects();
	if (test_failed_checks == before)
		run("rm -rf %s%s", "");
	else
		printf("  iasl output kept in %s\n", tmpdir);
}

/* --- acpi_pm --- */

static int nr_poweroff, nr_reset;

static void on_poweroff(void *ctx)
{
	CHECK_EQ((long)(intptr_t)ctx, 42);
	nr_poweroff++;
}

static void on_reset(void *ctx)
{
	nr_reset++;
}

static void pm_write(struct acpi_pm *pm, uint16_t port, uint8_t v)
{
	acpi_pm_pio(pm, port, &v, 1, true);
}

static uint8_t pm_read(struct acpi_pm *pm, uint16_t port)
{
	uint8_t v = 0x5a;

	acpi_pm_pio(pm, port, &v, 1, false);
	return v;
}

TEST(pm_poweroff)
{
	struct acpi_pm pm;
	uint8_t s5 = X86_ACPI_SLP_EN | (X86_ACPI_SLP_TYP_S5 << X86_ACPI_SLP_TYP_SHIFT);

	CHECK_EQ(s5, 0x34); /* what Linux writes for \_S5_ = {5, ...} */
	nr_poweroff = nr_reset = 0;
	acpi_pm_init(&pm, on_poweroff, on_reset, (void *)(intptr_t)42);

	/* SLP_TYP S5 without SLP_EN, other sleep types, other ports: nothing. */
	pm_write(&pm, X86_ACPI_SLEEP_CTL_PORT, X86_ACPI_SLP_TYP_S5 << X86_ACPI_SLP_TYP_SHIFT);
	pm_write(&pm, X86_ACPI_SLEEP_STS_PORT, s5);
	pm_write(&pm, X86_ACPI_RESET_PORT, s5);
	pm_write(&pm, X86_ACPI_PM_PORT + 2, s5);
	CHECK_EQ(nr_poweroff, 0);
	CHECK_EQ(pm_read(&pm, X86_ACPI_SLEEP_STS_PORT), 0);

	pm_write(&pm, X86_ACPI_SLEEP_CTL_PORT, X86_ACPI_SLP_EN | (3 << X86_ACPI_SLP_TYP_SHIFT));
	CHECK_EQ(nr_poweroff, 0);
	/* an unadvertised sleep state wakes at once; WAK_STS is write-1-to-clear */
	CHECK_EQ(pm_read(&pm, X86_ACPI_SLEEP_STS_PORT), X86_ACPI_WAK_STS);
	pm_write(&pm, X86_ACPI_SLEEP_STS_PORT, 0x7f);
	CHECK_EQ(pm_read(&pm, X86_ACPI_SLEEP_STS_PORT), X86_ACPI_WAK_STS);
	pm_write(&pm, X86_ACPI_SLEEP_STS_PORT, X86_ACPI_WAK_STS);
	CHECK_EQ(pm_read(&pm, X86_ACPI_SLEEP_STS_PORT), 0);

	pm_write(&pm, X86_ACPI_SLEEP_CTL_PORT, s5);
	CHECK_EQ(nr_poweroff, 1);
	/* extra bits outside SLP_TYP/SLP_EN do not change the request */
	pm_write(&pm, X86_ACPI_SLEEP_CTL_PORT, s5 | 0xc3);
	CHECK_EQ(nr_poweroff, 2);
	CHECK_EQ(nr_reset, 0);
	CHECK(pm.nr_ignored > 0);

	/* a 2-byte write at the control register reaches it through its low byte */
	uint8_t w[2] = {s5, 0};
	acpi_pm_pio(&pm, X86_ACPI_SLEEP_CTL_PORT, w, 2, true);
	CHECK_EQ(nr_poweroff, 3);
}

TEST(pm_reset_and_reads)
{
	struct acpi_pm pm;
	uint8_t r4[4];

	nr_poweroff = nr_reset = 0;
	acpi_pm_init(&pm, on_poweroff, on_reset, (void *)(intptr_t)42);
	pm_write(&pm, X86_ACPI_RESET_PORT, 0);
	pm_write(&pm, X86_ACPI_RESET_PORT, 2);
	CHECK_EQ(nr_reset, 0);
	pm_write(&pm, X86_ACPI_RESET_PORT, X86_ACPI_RESET_VALUE);
	CHECK_EQ(nr_reset, 1);
	CHECK_EQ(nr_poweroff, 0);

	CHECK(acpi_pm_handles(X86_ACPI_PM_PORT));
	CHECK(acpi_pm_handles(X86_ACPI_PM_PORT + X86_ACPI_PM_PORTS - 1));
	CHECK(!acpi_pm_handles(X86_ACPI_PM_PORT - 1));
	CHECK(!acpi_pm_handles(X86_ACPI_PM_PORT + X86_ACPI_PM_PORTS));
	CHECK_EQ(pm_read(&pm, X86_ACPI_SLEEP_CTL_PORT), 0);
	CHECK_EQ(pm_read(&pm, X86_ACPI_RESET_PORT), 0);
	/* a 4-byte read at the block's last port: the bytes past it float high */
	acpi_pm_pio(&pm, X86_ACPI_PM_PORT + X86_ACPI_PM_PORTS - 1, r4, 4, false);
	CHECK_EQ(r4[0], 0);
	CHECK_EQ(r4[1], 0xff);
	CHECK_EQ(r4[3], 0xff);

	/* Without callbacks, requests are only counted. */
	acpi_pm_init(&pm, NULL, NULL, NULL);
	pm_write(&pm, X86_ACPI_SLEEP_CTL_PORT, 0x34);
	pm_write(&pm, X86_ACPI_RESET_PORT, X86_ACPI_RESET_VALUE);
	CHECK_EQ(pm.nr_ignored, 2);
	CHECK_EQ(nr_poweroff, 0);
	CHECK_EQ(nr_reset, 1);
}

int main(void)
{
	ram = malloc(RAM_SIZE);
	if (!ram)
		return 1;
	RUN(tables_one_cpu_no_devices);
	RUN(tables_like_vm);
	RUN(tables_largest);
	RUN(tables_beside_mptable);
	RUN(tables_rejects);
	RUN(aml_pkglength_boundaries);
	RUN(aml_integers_names_strings);
	RUN(aml_nesting_and_overflow);
	RUN(rsdp_in_boot_params_and_pvh);
	RUN(iasl_disassembles_and_recompiles);
	RUN(pm_poweroff);
	RUN(pm_reset_and_reads);
	free(ram);
	return test_summary();
}

/* arch/x86/acpi.c — see acpi.h. The table layouts are our own structs, laid out from the
 * ACPI 6.x specification (sections 5.2.5 RSDP, 5.2.6 header, 5.2.8 XSDT, 5.2.9 FADT,
 * 5.2.12 MADT, 20 AML, 6.4 resource descriptors) and pinned with _Static_assert.
 *
 * All tables are built in one host buffer that mirrors [X86_ACPI_RSDP_ADDR, X86_ACPI_END)
 * and go to the guest in one checked copy. The AML encoder writes into a fixed buffer and
 * records its first error, so a builder runs straight through and checks once.
 * Trusts: guest_mem; checks the caller's CPU count and device list.
 */
#include "arch/x86/acpi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"

/* --- table layouts --- */

struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision; /* 2: ACPI 2.0+, has the XSDT */
	uint32_t rsdt_addr;
	uint32_t length;
	uint64_t xsdt_addr;
	uint8_t ext_checksum; /* all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

/* Generic Address Structure */
struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* 1: byte */
	uint64_t address;
} __attribute__((packed));

struct acpi_fadt {
	struct acpi_header hdr;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));

struct acpi_madt {
	struct acpi_header hdr;
	uint32_t lapic_addr;
	uint32_t flags;
} __attribute__((packed));

struct madt_lapic {
	uint8_t type; /* 0 */
	uint8_t length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type; /* 1 */
	uint8_t length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t addr;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type; /* 4 */
	uint8_t length;
	uint8_t processor_uid; /* 0xff: all processors */
	uint16_t flags;	       /* MPS INTI flags; 0: conforms to the bus */
	uint8_t lint;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
_Static_assert(sizeof(struct acpi_header) == 36, "table header");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");
_Static_assert(offsetof(struct acpi_fadt, firmware_ctrl) == 36, "FADT FIRMWARE_CTRL");
_Static_assert(offsetof(struct acpi_fadt, pm_profile) == 45, "FADT Preferred_PM_Profile");
_Static_assert(offsetof(struct acpi_fadt, pm1a_evt_blk) == 56, "FADT PM1a_EVT_BLK");
_Static_assert(offsetof(struct acpi_fadt, pm1_evt_len) == 88, "FADT PM1_EVT_LEN");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "FADT IAPC_BOOT_ARCH");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT Flags");
_Static_assert(offsetof(struct acpi_fadt, reset_reg) == 116, "FADT RESET_REG");
_Static_assert(offsetof(struct acpi_fadt, reset_value) == 128, "FADT RESET_VALUE");
_Static_assert(offsetof(struct acpi_fadt, minor_version) == 131, "FADT minor version");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT");
_Static_assert(offsetof(struct acpi_fadt, x_gpe1_blk) == 232, "FADT X_GPE1_BLK");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT SLEEP_CONTROL_REG");
_Static_assert(offsetof(struct acpi_fadt, sleep_status_reg) == 256, "FADT SLEEP_STATUS_REG");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT header");
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT Local APIC");
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT I/O APIC");
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT Local APIC NMI");

#define ACPI_OEM_ID	  "ARCVMM"
#define ACPI_OEM_TABLE_ID "ARCVMM  "
#define ACPI_CREATOR_ID	  "ARCV"

#define GAS_SYSTEM_IO	  1
#define GAS_ACCESS_BYTE	  1
#define PM_PROFILE_SERVER 4 /* Enterprise Server */

/* FADT flags */
#define FADT_WBINVD	   (1u << 0)
#define FADT_PWR_BUTTON	   (1u << 4) /* no fixed-hardware power button */
#define FADT_SLP_BUTTON	   (1u << 5) /* no fixed-hardware sleep button */
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_HW_REDUCED	   (1u << 20)
/* IAPC_BOOT_ARCH: no VGA. The 8042 flag stays clear: our i8042 is only there to reset the
 * machine (no keyboard, no IRQ 1), so Linux should not bind a keyboard driver to it. */
#define IAPC_VGA_NOT_PRESENT (1u << 2)

#define MADT_PCAT_COMPAT   (1u << 0)
#define MADT_LAPIC_ENABLED (1u << 0)
#define MADT_ALL_CPUS	   0xff

enum madt_type {
	MADT_LAPIC = 0,
	MADT_IOAPIC = 1,
	MADT_LAPIC_NMI = 4,
};

/* The MP table ends far below the ACPI area, even with the most CPUs (it needs < 6 KiB). */
_Static_assert(X86_MPTABLE_ADDR + 0x10000 <= X86_ACPI_RSDP_ADDR, "MP table reaches the RSDP");
_Static_assert(X86_ACPI_RSDP_ADDR % 16 == 0, "RSDP must be 16-byte aligned");
_Static_assert(X86_ACPI_RSDP_ADDR >= 0xe0000 && X86_ACPI_RSDP_ADDR < 0x100000,
	       "RSDP outside the legacy scan range");
_Static_assert(X86_ACPI_TABLES_ADDR >= X86_ACPI_RSDP_ADDR + sizeof(struct acpi_rsdp),
	       "tables overlap the RSDP");
_Static_assert(X86_ACPI_END <= X86_LOW_RESERVED_END, "ACPI tables outside the reserved area");
_Static_assert(X86_ACPI_PM_PORT >= X86_COM1_PORT + 8, "PM ports overlap COM1 or the ISA range");
_Static_assert(X86_ACPI_SLEEP_CTL_PORT >= X86_ACPI_PM_PORT &&
		   X86_ACPI_SLEEP_STS_PORT < X86_ACPI_PM_PORT + X86_ACPI_PM_PORTS &&
		   X86_ACPI_RESET_PORT < X86_ACPI_PM_PORT + X86_ACPI_PM_PORTS,
	       "PM registers outside the PM port block");

#define AREA_SIZE (X86_ACPI_END - X86_ACPI_RSDP_ADDR)

/* --- tables --- */

static uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

static void acpi_header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Sets the checksum of the table at buf (its length from its header). */
static void acpi_table_seal(uint8_t *buf)
{
	struct acpi_header h;

	memcpy(&h, buf, sizeof(h));
	buf[offsetof(struct acpi_header, checksum)] = 0;
	buf[offsetof(struct acpi_header, checksum)] = acpi_checksum(buf, h.length);
}

static size_t align16(size_t v)
{
	return (v + 15) & ~(size_t)15;
}

static struct acpi_gas gas_io8(uint16_t port)
{
	return (struct acpi_gas){
	    .space_id = GAS_SYSTEM_IO,
	    .bit_width = 8,
	    .bit_offset = 0,
	    .access_size = GAS_ACCESS_BYTE,
	    .address = port,
	};
}

static void fadt_build(uint8_t *p, uint64_t dsdt_gpa)
{
	struct acpi_fadt f;

	memset(&f, 0, sizeof(f));
	acpi_header_init(&f.hdr, "FACP", sizeof(f), 6);
	f.minor_version = 0; /* ACPI 6.0 layout */
	f.pm_profile = PM_PROFILE_SERVER;
	/* HW-reduced: no SCI, SMI command port, PM1/PM2/GPE blocks or PM timer; FACS optional. */
	f.flags =
	    FADT_HW_REDUCED | FADT_WBINVD | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_RESET_REG_SUP;
	f.iapc_boot_arch = IAPC_VGA_NOT_PRESENT;
	f.reset_reg = gas_io8(X86_ACPI_RESET_PORT);
	f.reset_value = X86_ACPI_RESET_VALUE;
	/* X_DSDT only: the spec wants DSDT zero when X_DSDT is set. */
	f.x_dsdt = dsdt_gpa;
	f.sleep_control_reg = gas_io8(X86_ACPI_SLEEP_CTL_PORT);
	f.sleep_status_reg = gas_io8(X86_ACPI_SLEEP_STS_PORT);
	memcpy(&f.hypervisor_vendor_id, "ARCVMM\0\0", 8);
	memcpy(p, &f, sizeof(f));
	acpi_table_seal(p);
}

static size_t madt_size(unsigned ncpus)
{
	return sizeof(struct acpi_madt) + ncpus * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) + sizeof(struct madt_lapic_nmi);
}

static void madt_build(uint8_t *p, unsigned ncpus)
{
	struct acpi_madt h;
	size_t off = sizeof(h);

	for (unsigned i = 0; i < ncpus; i++) {
		struct madt_lapic l = {
		    .type = MADT_LAPIC,
		    .length = sizeof(l),
		    .processor_uid = (uint8_t)i,
		    .apic_id = (uint8_t)i,
		    .flags = MADT_LAPIC_ENABLED,
		};
		memcpy(p + off, &l, sizeof(l));
		off += sizeof(l);
	}

	struct madt_ioapic io = {
	    .type = MADT_IOAPIC,
	    .length = sizeof(io),
	    .ioapic_id = (uint8_t)ncpus, /* as in the MP table */
	    .addr = (uint32_t)X86_IOAPIC_ADDR,
	    .gsi_base = 0,
	};
	memcpy(p + off, &io, sizeof(io));
	off += sizeof(io);

	/* No interrupt source overrides: KVM's default routing sends GSI n to IOAPIC pin n
	 * (the in-kernel PIT raises GSI 0), so ISA IRQ n is GSI n, as in the MP table. */
	struct madt_lapic_nmi nmi = {
	    .type = MADT_LAPIC_NMI,
	    .length = sizeof(nmi),
	    .processor_uid = MADT_ALL_CPUS,
	    .flags = 0,
	    .lint = 1,
	};
	memcpy(p + off, &nmi, sizeof(nmi));
	off += sizeof(nmi);

	acpi_header_init(&h.hdr, "APIC", (uint32_t)off, 4);
	h.lapic_addr = (uint32_t)X86_LAPIC_ADDR;
	h.flags = MADT_PCAT_COMPAT;
	memcpy(p, &h, sizeof(h));
	acpi_table_seal(p);
}

/* The DSDT's AML into a (returns the first error). */
static int dsdt_aml(struct aml *a, const struct x86_acpi_virtio *devs, unsigned ndevs)
{
	size_t sb, dev, pkg, buf;

	/* \_S5_: SLP_TYPa, SLP_TYPb, reserved, reserved. Only the first value is used on a
	 * HW-reduced platform. */
	aml_name(a, "_S5_");
	pkg = aml_package_begin(a, 4);
	aml_integer(a, X86_ACPI_SLP_TYP_S5);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_end(a, pkg);

	/* "_SB_", not "\\_SB_": the same at the root, and what ASL compilers emit. */
	sb = aml_scope_begin(a, "_SB_");

	/* COM1: with ACPI the 8250 driver takes its IRQ from here (a HW-reduced x86 kernel
	 * has no legacy PIC, so nothing else maps ISA IRQ 4). */
	dev = aml_device_begin(a, "COM1");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	buf = aml_buffer_begin(a);
	aml_res_io(a, X86_COM1_PORT, 8);
	aml_res_irq(a, X86_COM1_IRQ);
	aml_res_end(a);
	aml_buffer_end(a, buf);
	aml_end(a, dev);

	/* The i8042's keyboard port: a stock kernel probes the controller through ACPI PNP
	 * (unless booted with i8042.nopnp) and finds nothing without it — and then cannot
	 * get the Ctrl-Alt-Del that SendCtrlAltDel sends. No PS/2 mouse (no PNP0F13). */
	dev = aml_device_begin(a, "KBD_");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0303");
	aml_name(a, "_CRS");
	buf = aml_buffer_begin(a);
	aml_res_io(a, 0x60, 1);
	aml_res_io(a, 0x64, 1);
	aml_res_irq(a, X86_I8042_KBD_IRQ);
	aml_res_end(a);
	aml_buffer_end(a, buf);
	aml_end(a, dev);

	/* The CMOS clock on IRQ 8 (alarm, update and periodic interrupts). */
	dev = aml_device_begin(a, "RTC_");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0B00");
	aml_name(a, "_CRS");
	buf = aml_buffer_begin(a);
	aml_res_io(a, 0x70, 2);
	aml_res_irq(a, 8);
	aml_res_end(a);
	aml_buffer_end(a, buf);
	aml_end(a, dev);

	for (unsigned i = 0; i < ndevs; i++) {
		char name[16];

		snprintf(name, sizeof(name), "VR%02X", i & 0xffu);
		dev = aml_device_begin(a, name);
		aml_name(a, "_HID");
		aml_string(a, "LNRO0005");
		aml_name(a, "_UID");
		aml_integer(a, i);
		aml_name(a, "_CRS");
		buf = aml_buffer_begin(a);
		aml_res_mem32_fixed(a, (uint32_t)devs[i].base, devs[i].size, true);
		aml_res_interrupt(a, devs[i].gsi);
		aml_res_end(a);
		aml_buffer_end(a, buf);
		aml_end(a, dev);
	}

	/* The power button, a control-method device (FADT PWR_BUTTON), pressed by the host
	 * through a Generic Event Device: an edge on X86_GED_GSI runs _EVT, which notifies
	 * the button (0x80: "pressed"), which the guest's button driver turns into a key. */
	dev = aml_device_begin(a, "PWRB");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C0C");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_end(a, dev);
	dev = aml_device_begin(a, "GED0");
	aml_name(a, "_HID");
	aml_string(a, "ACPI0013");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	buf = aml_buffer_begin(a);
	aml_res_interrupt(a, X86_GED_GSI);
	aml_res_end(a);
	aml_buffer_end(a, buf);
	size_t evt = aml_method_begin(a, "_EVT", 1);
	aml_notify(a, "PWRB", 0x80);
	aml_end(a, evt);
	aml_end(a, dev);

	aml_end(a, sb);
	return a->err;
}

static int check_devices(const struct x86_acpi_virtio *devs, unsigned ndevs)
{
	if (ndevs > X86_ACPI_MAX_VIRTIO || (ndevs && !devs))
		return -EINVAL;
	for (unsigned i = 0; i < ndevs; i++) {
		if (devs[i].size == 0 || devs[i].base > 0xffffffffULL ||
		    devs[i].size > 0x100000000ULL - devs[i].base || devs[i].gsi >= X86_IOAPIC_PINS)
			return -EINVAL;
	}
	return 0;
}

int x86_acpi_write(const struct guest_mem *m, unsigned ncpus, const struct x86_acpi_virtio *devs,
		   unsigned ndevs, uint64_t *rsdp_gpa)
{
	size_t xsdt_off, rsdt_off, fadt_off, madt_off, dsdt_off, end;
	const size_t nptrs = 2; /* FADT, MADT */
	struct acpi_header h;
	struct acpi_rsdp rsdp;
	struct aml a;
	uint8_t *buf;
	int r;

	if (ncpus == 0 || ncpus > X86_ACPI_MAX_CPUS)
		return -EINVAL;
	r = check_devices(devs, ndevs);
	if (r)
		return r;
	buf = calloc(1, AREA_SIZE);
	if (!buf)
		return -ENOMEM;

#define GPA(off) (X86_ACPI_RSDP_ADDR + (off))
	xsdt_off = X86_ACPI_TABLES_ADDR - X86_ACPI_RSDP_ADDR;
	rsdt_off = align16(xsdt_off + sizeof(h) + nptrs * 8);
	fadt_off = align16(rsdt_off + sizeof(h) + nptrs * 4);
	madt_off = align16(fadt_off + sizeof(struct acpi_fadt));
	dsdt_off = align16(madt_off + madt_size(ncpus));
	if (dsdt_off + sizeof(h) > AREA_SIZE) {
		r = -ENOSPC;
		goto out_free;
	}

	/* DSDT first: its size is known only once the AML is built. */
	aml_init(&a, buf + dsdt_off + sizeof(h), AREA_SIZE - dsdt_off - sizeof(h));
	r = dsdt_aml(&a, devs, ndevs);
	if (r)
		goto out_free;
	end = dsdt_off + sizeof(h) + a.len;
	acpi_header_init(&h, "DSDT", (uint32_t)(sizeof(h) + a.len), 2);
	memcpy(buf + dsdt_off, &h, sizeof(h));
	acpi_table_seal(buf + dsdt_off);

	fadt_build(buf + fadt_off, GPA(dsdt_off));
	madt_build(buf + madt_off, ncpus);

	uint64_t ptrs[2] = {GPA(fadt_off), GPA(madt_off)};
	acpi_header_init(&h, "XSDT", (uint32_t)(sizeof(h) + nptrs * 8), 1);
	memcpy(buf + xsdt_off, &h, sizeof(h));
	memcpy(buf + xsdt_off + sizeof(h), ptrs, sizeof(ptrs));
	acpi_table_seal(buf + xsdt_off);

	/* The RSDT too, for kernels told to ignore the XSDT (acpi=rsdt). */
	uint32_t ptrs32[2] = {(uint32_t)ptrs[0], (uint32_t)ptrs[1]};
	acpi_header_init(&h, "RSDT", (uint32_t)(sizeof(h) + nptrs * 4), 1);
	memcpy(buf + rsdt_off, &h, sizeof(h));
	memcpy(buf + rsdt_off + sizeof(h), ptrs32, sizeof(ptrs32));
	acpi_table_seal(buf + rsdt_off);

	memset(&rsdp, 0, sizeof(rsdp));
	memcpy(rsdp.signature, "RSD PTR ", 8);
	memcpy(rsdp.oem_id, ACPI_OEM_ID, 6);
	rsdp.revision = 2;
	rsdp.rsdt_addr = (uint32_t)GPA(rsdt_off);
	rsdp.length = sizeof(rsdp);
	rsdp.xsdt_addr = GPA(xsdt_off);
	rsdp.checksum = acpi_checksum((const uint8_t *)&rsdp, 20);
	rsdp.ext_checksum = acpi_checksum((const uint8_t *)&rsdp, sizeof(rsdp));
	memcpy(buf, &rsdp, sizeof(rsdp));
#undef GPA

	r = guest_mem_write(m, X86_ACPI_RSDP_ADDR, buf, end);
	if (!r)
		*rsdp_gpa = X86_ACPI_RSDP_ADDR;
out_free:
	free(buf);
	return r;
}

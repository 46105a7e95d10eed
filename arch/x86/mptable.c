/* arch/x86/mptable.c — the Intel MultiProcessor Specification 1.4 tables: the floating
 * pointer structure and the configuration table right behind it, at X86_MPTABLE_ADDR.
 *
 * Linux finds the floating pointer by scanning the last KiB of base memory (0x9fc00), so
 * the table tells it how many CPUs there are, where the IOAPIC is, and how the ISA IRQs
 * reach it, without ACPI. The table is built in a host buffer and written in one checked
 * copy. Trusts: guest_mem; rejects a CPU count whose APIC ids would not fit.
 */
#include "arch/x86/setup.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"

#define MP_SPEC_REV 4 /* 1.4 */

enum mp_entry_type {
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_IOINTR = 3,
	MP_LINTR = 4,
};

enum mp_irq_type {
	MP_INT = 0,
	MP_NMI = 1,
	MP_EXTINT = 3,
};

#define MP_CPU_ENABLED 0x1
#define MP_CPU_BSP     0x2
#define MP_APIC_VER    0x14
#define MP_IOAPIC_VER  0x11
#define MP_IOAPIC_EN   0x1
#define MP_CPU_SIG     0x600 /* family 6 */
#define MP_CPU_FEAT    0x201 /* FPU, APIC */
#define MP_BUS_ISA     0
#define MP_ALL_LAPICS  0xff

struct mp_floating {
	char signature[4]; /* "_MP_" */
	uint32_t config_gpa;
	uint8_t length; /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5]; /* feature[0] == 0: a configuration table is present */
} __attribute__((packed));

struct mp_config {
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* base table, header included */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table_gpa;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_table_length;
	uint8_t ext_table_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_processor {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_ver;
	uint8_t flags;
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type;
	uint8_t bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_ver;
	uint8_t flags;
	uint32_t addr;
} __attribute__((packed));

/* Both the I/O interrupt (type 3) and the local interrupt (type 4) assignment entries. */
struct mp_intr {
	uint8_t type;
	uint8_t irq_type;
	uint16_t irq_flags; /* 0: polarity and trigger conform to the bus */
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_apic;
	uint8_t dst_pin;
} __attribute__((packed));

_Static_assert(sizeof(struct mp_floating) == 16, "MP floating pointer is 16 bytes");
_Static_assert(sizeof(struct mp_config) == 44, "MP config header is 44 bytes");
_Static_assert(sizeof(struct mp_processor) == 20, "MP processor entry is 20 bytes");
_Static_assert(sizeof(struct mp_bus) == 8, "MP bus entry is 8 bytes");
_Static_assert(sizeof(struct mp_ioapic) == 8, "MP IOAPIC entry is 8 bytes");
_Static_assert(sizeof(struct mp_intr) == 8, "MP interrupt entry is 8 bytes");

#define MP_MAX_SIZE                                                              \
	(sizeof(struct mp_floating) + sizeof(struct mp_config) +                 \
	 X86_MP_MAX_CPUS * sizeof(struct mp_processor) + sizeof(struct mp_bus) + \
	 sizeof(struct mp_ioapic) + (X86_IOAPIC_PINS + 2) * sizeof(struct mp_intr))

/* Even the largest table ends inside the e820-reserved area below 1 MiB. */
_Static_assert(X86_MPTABLE_ADDR + MP_MAX_SIZE <= X86_LOW_RESERVED_END, "MP table too large");
_Static_assert(X86_IOAPIC_PINS <= 255, "IOAPIC pin count");

static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)-sum;
}

int x86_mptable_write(const struct guest_mem *m, unsigned ncpus)
{
	uint8_t buf[MP_MAX_SIZE];
	struct mp_floating mpf;
	struct mp_config mpc;
	size_t off;
	uint8_t ioapic_id;
	uint16_t count = 0;

	if (ncpus == 0 || ncpus > X86_MP_MAX_CPUS)
		return -EINVAL;
	ioapic_id = (uint8_t)ncpus;

	memset(buf, 0, sizeof(buf));
	off = sizeof(mpf) + sizeof(mpc);

	for (unsigned i = 0; i < ncpus; i++) {
		struct mp_processor cpu = {
		    .type = MP_PROCESSOR,
		    .apic_id = (uint8_t)i,
		    .apic_ver = MP_APIC_VER,
		    .flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
		    .signature = MP_CPU_SIG,
		    .features = MP_CPU_FEAT,
		};
		memcpy(buf + off, &cpu, sizeof(cpu));
		off += sizeof(cpu);
		count++;
	}

	struct mp_bus bus = {.type = MP_BUS, .bus_id = MP_BUS_ISA};
	memcpy(bus.bus_type, "ISA   ", sizeof(bus.bus_type));
	memcpy(buf + off, &bus, sizeof(bus));
	off += sizeof(bus);
	count++;

	struct mp_ioapic ioapic = {
	    .type = MP_IOAPIC,
	    .apic_id = ioapic_id,
	    .apic_ver = MP_IOAPIC_VER,
	    .flags = MP_IOAPIC_EN,
	    .addr = (uint32_t)X86_IOAPIC_ADDR,
	};
	memcpy(buf + off, &ioapic, sizeof(ioapic));
	off += sizeof(ioapic);
	count++;

	for (unsigned pin = 0; pin < X86_IOAPIC_PINS; pin++) {
		struct mp_intr in = {
		    .type = MP_IOINTR,
		    .irq_type = MP_INT,
		    .src_bus = MP_BUS_ISA,
		    .src_irq = (uint8_t)pin,
		    .dst_apic = ioapic_id,
		    .dst_pin = (uint8_t)pin,
		};
		memcpy(buf + off, &in, sizeof(in));
		off += sizeof(in);
		count++;
	}

	/* LINT0 takes the 8259's ExtINT (virtual wire mode), LINT1 takes NMI, on every CPU. */
	for (unsigned lint = 0; lint < 2; lint++) {
		struct mp_intr in = {
		    .type = MP_LINTR,
		    .irq_type = lint == 0 ? MP_EXTINT : MP_NMI,
		    .src_bus = MP_BUS_ISA,
		    .src_irq = 0,
		    .dst_apic = MP_ALL_LAPICS,
		    .dst_pin = (uint8_t)lint,
		};
		memcpy(buf + off, &in, sizeof(in));
		off += sizeof(in);
		count++;
	}

	memset(&mpc, 0, sizeof(mpc));
	memcpy(mpc.signature, "PCMP", 4);
	mpc.length = (uint16_t)(off - sizeof(mpf));
	mpc.spec_rev = MP_SPEC_REV;
	memcpy(mpc.oem_id, "ARCVMM  ", 8);
	memcpy(mpc.product_id, "KVM         ", 12);
	mpc.entry_count = count;
	mpc.lapic_addr = (uint32_t)X86_LAPIC_ADDR;
	/* No extended table: ext_table_length and its checksum stay 0. */
	memcpy(buf + sizeof(mpf), &mpc, sizeof(mpc));
	buf[sizeof(mpf) + offsetof(struct mp_config, checksum)] =
	    mp_checksum(buf + sizeof(mpf), mpc.length);

	memset(&mpf, 0, sizeof(mpf));
	memcpy(mpf.signature, "_MP_", 4);
	mpf.config_gpa = (uint32_t)(X86_MPTABLE_ADDR + sizeof(mpf));
	mpf.length = 1;
	mpf.spec_rev = MP_SPEC_REV;
	memcpy(buf, &mpf, sizeof(mpf));
	buf[offsetof(struct mp_floating, checksum)] = mp_checksum(buf, sizeof(mpf));

	return guest_mem_write(m, X86_MPTABLE_ADDR, buf, off);
}

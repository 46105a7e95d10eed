/* tests/unit/test_x86_setup.c — the x86 boot table builders, checked byte by byte from
 * guest memory: e820 maps at the interesting RAM sizes, the MP table (checksums, pointers,
 * entry counts, flags), the boot GDT, the identity page tables, boot_params and PVH
 * start_info layouts (read back at the documented offsets, independent of our structs).
 * No KVM needed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "arch/x86/layout.h"
#include "arch/x86/setup.h"
#include "mem/guest_mem.h"
#include "tests/unit/test.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static uint8_t rd8(const struct guest_mem *m, uint64_t gpa)
{
	uint8_t v = 0;

	CHECK_EQ(guest_mem_read(m, gpa, &v, 1), 0);
	return v;
}

static uint16_t rd16(const struct guest_mem *m, uint64_t gpa)
{
	uint16_t v = 0;

	CHECK_EQ(guest_mem_read(m, gpa, &v, 2), 0);
	return v;
}

static uint32_t rd32(const struct guest_mem *m, uint64_t gpa)
{
	uint32_t v = 0;

	CHECK_EQ(guest_mem_read(m, gpa, &v, 4), 0);
	return v;
}

static uint64_t rd64(const struct guest_mem *m, uint64_t gpa)
{
	uint64_t v = 0;

	CHECK_EQ(guest_mem_read(m, gpa, &v, 8), 0);
	return v;
}

static void check_entry(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	CHECK_EQ(e->addr, addr);
	CHECK_EQ(e->size, size);
	CHECK_EQ(e->type, type);
}

TEST(e820_128m)
{
	struct e820_entry map[E820_MAX];
	struct guest_mem m;

	CHECK_EQ(guest_mem_init(&m, 128 * MIB, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	CHECK_EQ(x86_e820_build(&m, map, E820_MAX), 3);
	check_entry(&map[0], 0, 0x9fc00, E820_RAM);
	check_entry(&map[1], 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED);
	check_entry(&map[2], 0x100000, 128 * MIB - 0x100000, E820_RAM);
	/* Too small a table: -ENOSPC, never an overflow. */
	CHECK_EQ(x86_e820_build(&m, map, 2), -ENOSPC);
	CHECK_EQ(x86_e820_build(&m, map, 0), -ENOSPC);
	guest_mem_fini(&m);
}

TEST(e820_3g_at_hole)
{
	struct e820_entry map[E820_MAX];
	struct guest_mem m;

	CHECK_EQ(guest_mem_init(&m, 3 * GIB, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	CHECK_EQ(x86_e820_build(&m, map, E820_MAX), 3);
	check_entry(&map[2], 0x100000, X86_MMIO_HOLE_START - 0x100000, E820_RAM);
	guest_mem_fini(&m);
}

TEST(e820_6g_split)
{
	struct e820_entry map[E820_MAX];
	struct guest_mem m;

	CHECK_EQ(guest_mem_init(&m, 6 * GIB, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	CHECK_EQ(x86_e820_build(&m, map, E820_MAX), 4);
	check_entry(&map[0], 0, 0x9fc00, E820_RAM);
	check_entry(&map[1], 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED);
	check_entry(&map[2], 0x100000, X86_MMIO_HOLE_START - 0x100000, E820_RAM);
	check_entry(&map[3], X86_HIGH_RAM_START, 6 * GIB - X86_MMIO_HOLE_START, E820_RAM);
	CHECK_EQ(x86_e820_build(&m, map, 3), -ENOSPC);
	guest_mem_fini(&m);
}

static uint8_t sum_bytes(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = guest_mem_ptr(m, gpa, len);
	uint8_t s = 0;

	CHECK(p != NULL);
	for (uint64_t i = 0; p && i < len; i++)
		s += p[i];
	return s;
}

static void check_mptable(unsigned ncpus)
{
	struct guest_mem m;
	uint64_t mpc, e;
	uint16_t len, count;
	unsigned cpus = 0, buses = 0, ioapics = 0, ints = 0, lints = 0, bsps = 0;
	uint32_t pins_seen = 0;

	CHECK_EQ(guest_mem_init(&m, 64 * MIB, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	CHECK_EQ(x86_mptable_write(&m, ncpus), 0);

	/* Floating pointer: where Linux scans, 16 bytes, checksum 0. */
	CHECK(memcmp(guest_mem_ptr(&m, X86_EBDA_ADDR, 4), "_MP_", 4) == 0);
	CHECK_EQ(X86_MPTABLE_ADDR % 16, 0);
	CHECK_EQ(rd8(&m, X86_MPTABLE_ADDR + 8), 1);  /* length in paragraphs */
	CHECK_EQ(rd8(&m, X86_MPTABLE_ADDR + 9), 4);  /* spec 1.4 */
	CHECK_EQ(rd8(&m, X86_MPTABLE_ADDR + 11), 0); /* feature1: config table present */
	CHECK_EQ(sum_bytes(&m, X86_MPTABLE_ADDR, 16), 0);
	mpc = rd32(&m, X86_MPTABLE_ADDR + 4);
	CHECK_EQ(mpc, X86_MPTABLE_ADDR + 16);

	/* Config table header. */
	CHECK(memcmp(guest_mem_ptr(&m, mpc, 4), "PCMP", 4) == 0);
	len = rd16(&m, mpc + 4);
	count = rd16(&m, mpc + 34);
	CHECK_EQ(rd8(&m, mpc + 6), 4);
	CHECK_EQ(rd32(&m, mpc + 36), X86_LAPIC_ADDR);
	CHECK_EQ(rd16(&m, mpc + 40), 0); /* extended table length */
	CHECK_EQ(rd8(&m, mpc + 42), 0);	 /* extended table checksum */
	CHECK_EQ(sum_bytes(&m, mpc, len), 0);
	CHECK_EQ(count, ncpus + 1 + 1 + X86_IOAPIC_PINS + 2);
	CHECK_EQ(len, 44 + 20 * ncpus + 8 * (1 + 1 + X86_IOAPIC_PINS + 2));
	/* Ends inside the e820-reserved area. */
	CHECK(mpc + len <= X86_LOW_RESERVED_END);

	e = mpc + 44;
	for (unsigned i = 0; i < count && e < mpc + len; i++) {
		uint8_t type = rd8(&m, e);

		switch (type) {
		case 0:
			CHECK_EQ(rd8(&m, e + 1), cpus); /* APIC id = index */
			CHECK_EQ(rd8(&m, e + 2), 0x14);
			CHECK(rd8(&m, e + 3) & 1); /* enabled */
			if (rd8(&m, e + 3) & 2) {
				bsps++;
				CHECK_EQ(cpus, 0);
			}
			cpus++;
			e += 20;
			break;
		case 1:
			CHECK(memcmp(guest_mem_ptr(&m, e + 2, 6), "ISA   ", 6) == 0);
			buses++;
			e += 8;
			break;
		case 2:
			CHECK_EQ(rd8(&m, e + 1), ncpus);
			CHECK_EQ(rd8(&m, e + 2), 0x11);
			CHECK_EQ(rd8(&m, e + 3) & 1, 1);
			CHECK_EQ(rd32(&m, e + 4), X86_IOAPIC_ADDR);
			ioapics++;
			e += 8;
			break;
		case 3:
			CHECK_EQ(rd8(&m, e + 1), 0);		  /* INT */
			CHECK_EQ(rd16(&m, e + 2), 0);		  /* conforming */
			CHECK_EQ(rd8(&m, e + 5), rd8(&m, e + 7)); /* source irq = pin */
			CHECK_EQ(rd8(&m, e + 6), ncpus);
			CHECK(rd8(&m, e + 7) < X86_IOAPIC_PINS);
			pins_seen |= 1u << rd8(&m, e + 7);
			ints++;
			e += 8;
			break;
		case 4:
			CHECK_EQ(rd8(&m, e + 1), lints == 0 ? 3 : 1); /* ExtINT, then NMI */
			CHECK_EQ(rd8(&m, e + 6), 0xff);
			CHECK_EQ(rd8(&m, e + 7), lints);
			lints++;
			e += 8;
			break;
		default:
			CHECK(!"unknown MP entry type");
			e = mpc + len;
		}
	}
	CHECK_EQ(e, mpc + len);
	CHECK_EQ(cpus, ncpus);
	CHECK_EQ(bsps, 1);
	CHECK_EQ(buses, 1);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(ints, X86_IOAPIC_PINS);
	CHECK_EQ(pins_seen, (1u << X86_IOAPIC_PINS) - 1);
	CHECK_EQ(lints, 2);
	guest_mem_fini(&m);
}

TEST(mptable_1cpu)
{
	check_mptable(1);
}

TEST(mptable_4cpus)
{
	check_mptable(4);
}

TEST(mptable_254cpus)
{
	check_mptable(254);
}

TEST(mptable_rejects)
{
	struct guest_mem m;
	uint8_t *buf = calloc(1, 0x9fc00 + 100);

	CHECK_EQ(guest_mem_init(&m, 16 * MIB, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	CHECK_EQ(x86_mptable_write(&m, 0), -EINVAL);
	CHECK_EQ(x86_mptable_write(&m, 255), -EINVAL);
	CHECK_EQ(x86_mptable_write(&m, 1000), -EINVAL);
	guest_mem_fini(&m);
	/* RAM that ends inside the table: refused, nothing written past the end. */
	guest_mem_init_buffer(&m, buf, 0x9fc00 + 100);
	CHECK_EQ(x86_mptable_write(&m, 2), -EFAULT);
	CHECK_EQ(buf[0x9fc00], 0);
	free(buf);
}

TEST(gdt_and_page_tables)
{
	struct guest_mem m;

	CHECK_EQ(guest_mem_init(&m, 64 * MIB, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	/* Garbage first: the builder must write whole tables, not rely on zeroed RAM. */
	memset(guest_mem_ptr(&m, 0, 0x10000), 0xa5, 0x10000);
	CHECK_EQ(x86_boot_tables_write(&m), 0);
	CHECK_EQ(X86_BOOT_GDT_LIMIT, 47);
	CHECK_EQ(rd64(&m, X86_BOOT_GDT_ADDR + 0), 0);
	CHECK_EQ(rd64(&m, X86_BOOT_GDT_ADDR + 8), 0);
	CHECK_EQ(rd64(&m, X86_BOOT_GDT_ADDR + X86_GDT_CODE64_SEL), 0x00af9b000000ffffULL);
	CHECK_EQ(rd64(&m, X86_BOOT_GDT_ADDR + X86_GDT_DATA_SEL), 0x00cf93000000ffffULL);
	CHECK_EQ(rd64(&m, X86_BOOT_GDT_ADDR + X86_GDT_CODE32_SEL), 0x00cf9b000000ffffULL);
	CHECK_EQ(rd64(&m, X86_BOOT_GDT_ADDR + X86_GDT_TSS_SEL), 0x00008b0000000067ULL);

	CHECK_EQ(rd64(&m, X86_PML4_ADDR), X86_PDPT_ADDR | 3);
	for (unsigned i = 1; i < 512; i++)
		if (rd64(&m, X86_PML4_ADDR + 8 * i) != 0)
			CHECK(!"PML4 entry beyond 0 is not empty");
	for (unsigned i = 0; i < 512; i++) {
		uint64_t want = i < 4 ? (X86_PD_ADDR + 0x1000 * i) | 3 : 0;

		if (rd64(&m, X86_PDPT_ADDR + 8 * i) != want)
			CHECK(!"PDPT entry wrong");
	}
	/* 2048 2 MiB pages: entry k maps k * 2 MiB. */
	for (unsigned k = 0; k < 2048; k++) {
		uint64_t pte = rd64(&m, X86_PD_ADDR + 8 * k);

		if (pte != (((uint64_t)k << 21) | 0x83)) {
			CHECK_EQ(pte, ((uint64_t)k << 21) | 0x83);
			break;
		}
	}
	CHECK_EQ(rd64(&m, X86_PD_ADDR + 8 * 2047), 0xffe00000ULL | 0x83);
	guest_mem_fini(&m);
}

TEST(boot_tables_need_ram)
{
	uint8_t *buf = calloc(1, 0xa000);
	struct guest_mem m;

	guest_mem_init_buffer(&m, buf, 0xa000); /* ends inside the PDPT */
	CHECK(x86_boot_tables_write(&m) < 0);
	free(buf);
}

TEST(bootparams_bzimage_header)
{
	struct guest_mem m;
	uint8_t hdr[X86_SETUP_HDR_MAX];
	struct x86_boot_info bi = {
	    .cmdline_gpa = X86_CMDLINE_ADDR,
	    .cmdline_len = 10,
	    .initrd_gpa = 0x3f00000,
	    .initrd_size = 0x12345,
	    .setup_hdr = hdr,
	    .setup_hdr_len = sizeof(hdr),
	};
	const uint64_t zp = X86_ZERO_PAGE_ADDR;

	memset(hdr, 0, sizeof(hdr));
	hdr[0] = 0x1f;				/* setup_sects */
	memcpy(hdr + 0x202 - 0x1f1, "HdrS", 4); /* header */
	hdr[0x206 - 0x1f1] = 0x0f;
	hdr[0x207 - 0x1f1] = 0x02;
	hdr[0x211 - 0x1f1] = 0x01; /* loadflags: LOADED_HIGH */
	hdr[0x236 - 0x1f1] = 0x21; /* xloadflags */

	CHECK_EQ(guest_mem_init(&m, 64 * MIB, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	memset(guest_mem_ptr(&m, zp, 0x1000), 0xcc, 0x1000);
	CHECK_EQ(x86_bootparams_write(&m, &bi), 0);
	CHECK_EQ(rd8(&m, zp + 0x1f1), 0x1f);
	CHECK_EQ(rd32(&m, zp + 0x202), 0x53726448);
	CHECK_EQ(rd16(&m, zp + 0x206), 0x020f);
	CHECK_EQ(rd8(&m, zp + 0x210), 0xff);	/* type_of_loader */
	CHECK_EQ(rd8(&m, zp + 0x211), 0x81);	/* LOADED_HIGH | CAN_USE_HEAP */
	CHECK_EQ(rd16(&m, zp + 0x224), 0xfe00); /* heap_end_ptr */
	CHECK_EQ(rd32(&m, zp + 0x228), X86_CMDLINE_ADDR);
	CHECK_EQ(rd32(&m, zp + 0x0c8), 0);	   /* ext_cmd_line_ptr */
	CHECK_EQ(rd32(&m, zp + 0x218), 0x3f00000); /* ramdisk_image */
	CHECK_EQ(rd32(&m, zp + 0x21c), 0x12345);   /* ramdisk_size */
	CHECK_EQ(rd32(&m, zp + 0x0c0), 0);
	CHECK_EQ(rd32(&m, zp + 0x0c4), 0);
	CHECK_EQ(rd16(&m, zp + 0x236), 0x21);
	CHECK_EQ(rd8(&m, zp + 0x1ef), 0); /* sentinel */
	CHECK_EQ(rd8(&m, zp + 0x1e8), 3); /* e820_entries */
	CHECK_EQ(rd64(&m, zp + 0x2d0), 0);
	CHECK_EQ(rd64(&m, zp + 0x2d0 + 8), 0x9fc00);
	CHECK_EQ(rd32(&m, zp + 0x2d0 + 16), E820_RAM);
	CHECK_EQ(rd32(&m, zp + 0x2d0 + 20 + 16), E820_RESERVED);
	CHECK_EQ(rd64(&m, zp + 0x2d0 + 40), 0x100000);
	CHECK_EQ(rd64(&m, zp + 0x2d0 + 48), 64 * MIB - 0x100000);
	CHECK_EQ(rd8(&m, zp + 0xfff), 0); /* whole page written (was 0xcc) */

	bi.setup_hdr_len = X86_SETUP_HDR_MAX + 1;
	CHECK_EQ(x86_bootparams_write(&m, &bi), -EINVAL);
	guest_mem_fini(&m);
}

TEST(bootparams_fresh_header_high_initrd)
{
	struct guest_mem m;
	struct x86_boot_info bi = {
	    .cmdline_gpa = X86_CMDLINE_ADDR,
	    .initrd_gpa = 0x123456000ULL,
	    .initrd_size = 0x1000,
	};
	const uint64_t zp = X86_ZERO_PAGE_ADDR;

	CHECK_EQ(guest_mem_init(&m, 6 * GIB, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	CHECK_EQ(x86_bootparams_write(&m, &bi), 0);
	CHECK_EQ(rd16(&m, zp + 0x1fe), 0xaa55);
	CHECK_EQ(rd32(&m, zp + 0x202), 0x53726448);
	CHECK_EQ(rd16(&m, zp + 0x206), 0x020f);
	CHECK_EQ(rd8(&m, zp + 0x210), 0xff);
	CHECK(rd8(&m, zp + 0x211) & 0x80);
	CHECK_EQ(rd32(&m, zp + 0x218), 0x23456000);
	CHECK_EQ(rd32(&m, zp + 0x0c0), 1); /* ext_ramdisk_image: bits 32.. */
	CHECK_EQ(rd8(&m, zp + 0x1e8), 4);
	CHECK_EQ(rd64(&m, zp + 0x2d0 + 3 * 20), X86_HIGH_RAM_START);
	CHECK_EQ(rd64(&m, zp + 0x2d0 + 3 * 20 + 8), 6 * GIB - X86_MMIO_HOLE_START);
	guest_mem_fini(&m);
}

TEST(pvh_start_info)
{
	struct guest_mem m;
	struct x86_boot_info bi = {
	    .cmdline_gpa = X86_CMDLINE_ADDR,
	    .initrd_gpa = 0x7000000,
	    .initrd_size = 0x4321,
	};
	const uint64_t si = X86_PVH_INFO_ADDR;
	uint64_t mm, mods;

	CHECK_EQ(guest_mem_init(&m, 6 * GIB, X86_MMIO_HOLE_START, X86_MMIO_HOLE_END), 0);
	CHECK_EQ(x86_pvh_info_write(&m, &bi), 0);
	CHECK_EQ(rd32(&m, si + 0), 0x336ec578);
	CHECK_EQ(rd32(&m, si + 4), 1);
	CHECK_EQ(rd32(&m, si + 12), 1); /* nr_modules */
	CHECK_EQ(rd64(&m, si + 24), X86_CMDLINE_ADDR);
	CHECK_EQ(rd64(&m, si + 32), 0); /* rsdp */
	mm = rd64(&m, si + 40);
	CHECK_EQ(rd32(&m, si + 48), 4);
	CHECK(mm >= si + 56);
	CHECK_EQ(rd64(&m, mm + 0), 0);
	CHECK_EQ(rd64(&m, mm + 8), 0x9fc00);
	CHECK_EQ(rd32(&m, mm + 16), E820_RAM);
	CHECK_EQ(rd32(&m, mm + 24 + 16), E820_RESERVED);
	CHECK_EQ(rd64(&m, mm + 72), X86_HIGH_RAM_START);
	CHECK_EQ(rd64(&m, mm + 80), 6 * GIB - X86_MMIO_HOLE_START);
	mods = rd64(&m, si + 16);
	CHECK(mods >= mm + 4 * 24);
	CHECK(mods + 32 <= X86_ZERO_PAGE_ADDR);
	CHECK_EQ(rd64(&m, mods + 0), 0x7000000);
	CHECK_EQ(rd64(&m, mods + 8), 0x4321);
	CHECK_EQ(rd64(&m, mods + 16), 0);

	/* No initrd: no modules. */
	bi.initrd_size = 0;
	bi.initrd_gpa = 0;
	CHECK_EQ(x86_pvh_info_write(&m, &bi), 0);
	CHECK_EQ(rd32(&m, si + 12), 0);
	CHECK_EQ(rd64(&m, si + 16), 0);
	guest_mem_fini(&m);
}

int main(void)
{
	RUN(e820_128m);
	RUN(e820_3g_at_hole);
	RUN(e820_6g_split);
	RUN(mptable_1cpu);
	RUN(mptable_4cpus);
	RUN(mptable_254cpus);
	RUN(mptable_rejects);
	RUN(gdt_and_page_tables);
	RUN(boot_tables_need_ram);
	RUN(bootparams_bzimage_header);
	RUN(bootparams_fresh_header_high_initrd);
	RUN(pvh_start_info);
	return test_summary();
}

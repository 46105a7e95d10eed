/* tests/unit/test_virtq.c — the split virtqueue against hand-built (often hostile) rings.
 *
 * A "driver" here writes descriptors and ring indices straight into a malloc'ed buffer
 * wrapped as guest RAM; the device side under test is virtio/queue.c. Trusts nothing but
 * the harness.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mem/guest_mem.h"
#include "tests/unit/test.h"
#include "util/log.h"
#include "virtio/queue.h"

#define RAM_SIZE  (1u << 20)
#define DESC_GPA  0x1000
#define AVAIL_GPA 0x5000
#define USED_GPA  0x6000
#define TABLE_GPA 0x9000 /* indirect tables */
#define DATA_GPA  0x10000

struct drv {
	uint8_t *ram;
	struct guest_mem mem;
	struct virtq q;
	uint16_t avail_idx;
};

static struct virtq_chain chain; /* 16 KiB: not on the stack */

static struct virtq_desc *drv_desc(struct drv *d, unsigned i)
{
	return (struct virtq_desc *)(d->ram + DESC_GPA) + i;
}

static struct virtq_avail *drv_avail(struct drv *d)
{
	return (struct virtq_avail *)(d->ram + AVAIL_GPA);
}

static struct virtq_used *drv_used(struct drv *d)
{
	return (struct virtq_used *)(d->ram + USED_GPA);
}

static void drv_set(struct virtq_desc *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next)
{
	t[i] = (struct virtq_desc){.addr = addr, .len = len, .flags = flags, .next = next};
}

static void drv_post(struct drv *d, uint16_t head)
{
	drv_avail(d)->ring[d->avail_idx & (d->q.size - 1)] = head;
	d->avail_idx++;
	__atomic_store_n(&drv_avail(d)->idx, d->avail_idx, __ATOMIC_RELEASE);
}

static int drv_init(struct drv *d, uint16_t size, bool event_idx, bool indirect)
{
	memset(d, 0, sizeof(*d));
	d->ram = aligned_alloc(4096, RAM_SIZE);
	memset(d->ram, 0, RAM_SIZE);
	guest_mem_init_buffer(&d->mem, d->ram, RAM_SIZE);
	d->q.size = size;
	d->q.desc_gpa = DESC_GPA;
	d->q.avail_gpa = AVAIL_GPA;
	d->q.used_gpa = USED_GPA;
	return virtq_activate(&d->q, &d->mem, VIRTQ_MAX_SIZE, event_idx, indirect);
}

static void drv_fini(struct drv *d)
{
	free(d->ram);
}

TEST(simple_chain)
{
	struct drv d;

	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 0); /* empty */
	drv_set(drv_desc(&d, 0), 3, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 5);
	drv_set(drv_desc(&d, 0), 5, DATA_GPA + 0x100, 32, VIRTQ_DESC_F_NEXT, 1);
	drv_set(drv_desc(&d, 0), 1, DATA_GPA + 0x200, 64, VIRTQ_DESC_F_WRITE, 0);
	drv_post(&d, 3);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.head, 3);
	CHECK_EQ(chain.nr_out, 2);
	CHECK_EQ(chain.nr_in, 1);
	CHECK_EQ(chain.out_len, 48);
	CHECK_EQ(chain.in_len, 64);
	CHECK(chain.iov[0].iov_base == d.ram + DATA_GPA);
	CHECK(chain.iov[2].iov_base == d.ram + DATA_GPA + 0x200);
	CHECK_EQ(virtq_pop(&d.q, &chain), 0);
	CHECK_EQ(virtq_push(&d.q, 3, 10), 0);
	CHECK_EQ(drv_used(&d)->idx, 1);
	CHECK_EQ(drv_used(&d)->ring[0].id, 3);
	CHECK_EQ(drv_used(&d)->ring[0].len, 10);
	CHECK_EQ(virtq_push(&d.q, 3, 10), -EINVAL); /* nothing in flight */
	CHECK(!d.q.is_broken);
	drv_fini(&d);
}

TEST(chain_copy_helpers)
{
	struct drv d;
	uint8_t buf[40];

	CHECK_EQ(drv_init(&d, 4, false, false), 0);
	memcpy(d.ram + DATA_GPA, "hello ", 6);
	memcpy(d.ram + DATA_GPA + 0x100, "world", 5);
	drv_set(drv_desc(&d, 0), 0, DATA_GPA, 6, VIRTQ_DESC_F_NEXT, 1);
	drv_set(drv_desc(&d, 0), 1, DATA_GPA + 0x100, 5, VIRTQ_DESC_F_NEXT, 2);
	drv_set(drv_desc(&d, 0), 2, DATA_GPA + 0x200, 3, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	drv_set(drv_desc(&d, 0), 3, DATA_GPA + 0x300, 4, VIRTQ_DESC_F_WRITE, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(virtq_chain_read(&chain, 0, buf, sizeof(buf)), 11);
	CHECK(memcmp(buf, "hello world", 11) == 0);
	CHECK_EQ(virtq_chain_read(&chain, 4, buf, 4), 4);
	CHECK(memcmp(buf, "o wo", 4) == 0);
	CHECK_EQ(virtq_chain_write(&chain, 1, "abcdefgh", 8), 6);
	CHECK(memcmp(d.ram + DATA_GPA + 0x201, "ab", 2) == 0);
	CHECK(memcmp(d.ram + DATA_GPA + 0x300, "cdef", 4) == 0);
	drv_fini(&d);
}

TEST(descriptor_loop)
{
	struct drv d;

	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_set(drv_desc(&d, 0), 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	drv_set(drv_desc(&d, 0), 1, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	CHECK(d.q.is_broken);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO); /* stays broken */
	drv_fini(&d);

	/* A self-loop with zero-length buffers (no iovec is used up) must stop too. */
	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_set(drv_desc(&d, 0), 2, DATA_GPA, 0, VIRTQ_DESC_F_NEXT, 2);
	drv_post(&d, 2);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);
}

TEST(longest_legal_chain)
{
	struct drv d;

	/* Exactly `size` descriptors in a chain is fine. */
	CHECK_EQ(drv_init(&d, 16, false, false), 0);
	for (unsigned i = 0; i < 16; i++)
		drv_set(drv_desc(&d, 0), i, DATA_GPA + i * 8, 8, i < 15 ? VIRTQ_DESC_F_NEXT : 0,
			(uint16_t)(i + 1));
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.nr_out, 16);
	CHECK_EQ(chain.out_len, 128);
	drv_fini(&d);
}

TEST(head_or_next_out_of_range)
{
	struct drv d;

	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_post(&d, 8);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);

	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_post(&d, 0xffff);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);

	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_set(drv_desc(&d, 0), 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 8);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);
}

TEST(buffer_outside_ram)
{
	struct drv d;

	/* Ends one byte past RAM. */
	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_set(drv_desc(&d, 0), 0, RAM_SIZE - 16, 17, VIRTQ_DESC_F_WRITE, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);

	/* Ends exactly at the end of RAM: fine. */
	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_set(drv_desc(&d, 0), 0, RAM_SIZE - 16, 16, VIRTQ_DESC_F_WRITE, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	drv_fini(&d);

	/* addr + len wraps around 2^64. */
	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_set(drv_desc(&d, 0), 0, UINT64_MAX - 7, 64, 0, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);

	/* A good buffer, then a bad one later in the chain. */
	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_set(drv_desc(&d, 0), 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	drv_set(drv_desc(&d, 0), 1, 0x40000000, 8, 0, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);
}

TEST(length_sum_overflow)
{
	struct drv d;
	const uint64_t big_gpa = 1ULL << 32, big_size = 1ULL << 33;
	/* Reserve 8 GiB of address space that is never touched: pop only computes pointers. */
	void *big =
	    mmap(NULL, big_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	CHECK(big != MAP_FAILED);
	if (big == MAP_FAILED)
		return;
	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	CHECK_EQ(guest_mem_add_buffer(&d.mem, big_gpa, big, big_size), 0);
	drv_set(drv_desc(&d, 0), 0, big_gpa, 0xffffffff, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_set(drv_desc(&d, 0), 1, big_gpa + (1ULL << 32), 2, VIRTQ_DESC_F_WRITE, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);

	/* The same 4 GiB - 1 buffer alone is fine. */
	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	CHECK_EQ(guest_mem_add_buffer(&d.mem, big_gpa, big, big_size), 0);
	drv_set(drv_desc(&d, 0), 0, big_gpa, 0xffffffff, VIRTQ_DESC_F_WRITE, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.in_len, 0xffffffffu);
	drv_fini(&d);
	munmap(big, big_size);
}

TEST(avail_idx_jump)
{
	struct drv d;

	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	for (unsigned i = 0; i < 8; i++)
		drv_set(drv_desc(&d, 0), i, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	/* Exactly `size` new entries is legal. */
	for (unsigned i = 0; i < 8; i++)
		drv_post(&d, (uint16_t)i);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(virtq_pop(&d.q, &chain), 0);
	/* size + 1 is not. */
	d.avail_idx += 9;
	drv_avail(&d)->idx = d.avail_idx;
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);

	/* Going backwards looks like a jump of almost 2^16. */
	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_avail(&d)->idx = 0xffff;
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);
}

TEST(wrap_around)
{
	struct drv d;
	bool ok = true;

	/* 70000 requests through a 4-entry ring: both 16-bit indices wrap. */
	CHECK_EQ(drv_init(&d, 4, false, false), 0);
	for (unsigned i = 0; i < 4; i++)
		drv_set(drv_desc(&d, 0), i, DATA_GPA + i * 16, 16, VIRTQ_DESC_F_WRITE, 0);
	for (unsigned n = 0; n < 70000 && ok; n++) {
		uint16_t head = (uint16_t)(n % 4);
		drv_post(&d, head);
		if (n % 3 == 2) { /* sometimes two in flight */
			drv_post(&d, (uint16_t)((n + 1) % 4));
			n++;
		}
		int r;
		while ((r = virtq_pop(&d.q, &chain)) == 1)
			ok &= virtq_push(&d.q, chain.head, 4) == 0;
		ok &= r == 0;
		ok &= drv_used(&d)->idx == d.avail_idx;
		ok &= drv_used(&d)->ring[(uint16_t)(d.avail_idx - 1) & 3].id == (n % 4);
	}
	CHECK(ok);
	CHECK(!d.q.is_broken);
	CHECK(d.q.nr_popped >= 70000);
	CHECK_EQ(d.q.used_idx, d.avail_idx);
	drv_fini(&d);

	/* Start right below the wrap by hand: indices 0xfffe, 0xffff, 0, 1. */
	CHECK_EQ(drv_init(&d, 4, false, false), 0);
	d.q.last_avail = 0xfffe;
	d.q.used_idx = 0xfffe;
	d.avail_idx = 0xfffe;
	for (unsigned i = 0; i < 4; i++) {
		drv_set(drv_desc(&d, 0), i, DATA_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
		drv_post(&d, (uint16_t)i);
	}
	CHECK_EQ(drv_avail(&d)->idx, 2);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(virtq_pop(&d.q, &chain), 1);
		CHECK_EQ(chain.head, i);
		CHECK_EQ(virtq_push(&d.q, chain.head, 1), 0);
	}
	CHECK_EQ(virtq_pop(&d.q, &chain), 0);
	CHECK_EQ(drv_used(&d)->idx, 2);
	drv_fini(&d);
}

TEST(zero_length_buffers)
{
	struct drv d;

	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_set(drv_desc(&d, 0), 0, 0xdead00000000ULL, 0, VIRTQ_DESC_F_NEXT, 1); /* never used */
	drv_set(drv_desc(&d, 0), 1, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	drv_set(drv_desc(&d, 0), 2, DATA_GPA, 0, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	drv_set(drv_desc(&d, 0), 3, DATA_GPA + 0x100, 16, VIRTQ_DESC_F_WRITE, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.nr_out, 1);
	CHECK_EQ(chain.nr_in, 1);
	CHECK_EQ(chain.out_len, 8);
	CHECK_EQ(chain.in_len, 16);
	CHECK(chain.iov[1].iov_base == d.ram + DATA_GPA + 0x100);

	/* A chain of nothing but a zero-length buffer pops as an empty chain. */
	drv_set(drv_desc(&d, 0), 4, DATA_GPA, 0, 0, 0);
	drv_post(&d, 4);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.nr_out + chain.nr_in, 0);
	drv_fini(&d);
}

TEST(writable_then_readable)
{
	struct drv d;

	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_set(drv_desc(&d, 0), 0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_set(drv_desc(&d, 0), 1, DATA_GPA, 8, 0, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);
}

static struct virtq_desc *table(struct drv *d)
{
	return (struct virtq_desc *)(d->ram + TABLE_GPA);
}

TEST(indirect)
{
	struct drv d;

	CHECK_EQ(drv_init(&d, 8, false, true), 0);
	drv_set(table(&d), 0, DATA_GPA, 12, VIRTQ_DESC_F_NEXT, 2);
	drv_set(table(&d), 2, DATA_GPA + 0x100, 20, VIRTQ_DESC_F_NEXT, 1);
	drv_set(table(&d), 1, DATA_GPA + 0x200, 30, VIRTQ_DESC_F_WRITE, 0);
	/* One direct buffer first, then the indirect descriptor (its WRITE flag is ignored). */
	drv_set(drv_desc(&d, 0), 6, DATA_GPA + 0x300, 4, VIRTQ_DESC_F_NEXT, 7);
	drv_set(drv_desc(&d, 0), 7, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE,
		0);
	drv_post(&d, 6);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.head, 6);
	CHECK_EQ(chain.nr_out, 3);
	CHECK_EQ(chain.nr_in, 1);
	CHECK_EQ(chain.out_len, 36);
	CHECK_EQ(chain.in_len, 30);
	CHECK(chain.iov[0].iov_base == d.ram + DATA_GPA + 0x300);
	CHECK(chain.iov[3].iov_base == d.ram + DATA_GPA + 0x200);

	/* An unaligned table is fine (the driver may pack it anywhere). */
	memmove(d.ram + TABLE_GPA + 4, d.ram + TABLE_GPA, 3 * 16);
	drv_set(drv_desc(&d, 0), 0, TABLE_GPA + 4, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.nr_out + chain.nr_in, 3);
	drv_fini(&d);
}

/* Posts one indirect descriptor of table length len and expects pop to return want. */
static void indirect_case(bool negotiated, void (*fill)(struct drv *), uint32_t len, uint16_t flags,
			  int want)
{
	struct drv d;

	CHECK_EQ(drv_init(&d, 8, false, negotiated), 0);
	drv_set(table(&d), 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	drv_set(table(&d), 1, DATA_GPA, 8, 0, 0);
	if (fill)
		fill(&d);
	drv_set(drv_desc(&d, 0), 0, TABLE_GPA, len, VIRTQ_DESC_F_INDIRECT | flags, 1);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), want);
	drv_fini(&d);
}

static void fill_nested(struct drv *d)
{
	drv_set(table(d), 1, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
}

static void fill_loop(struct drv *d)
{
	drv_set(table(d), 1, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
}

static void fill_next_out_of_range(struct drv *d)
{
	drv_set(table(d), 1, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 2); /* table has 2 entries */
}

static void fill_bad_buffer(struct drv *d)
{
	drv_set(table(d), 1, RAM_SIZE, 1, 0, 0);
}

TEST(indirect_hostile)
{
	indirect_case(true, NULL, 32, 0, 1);	       /* the good case */
	indirect_case(false, NULL, 32, 0, -EIO);       /* not negotiated */
	indirect_case(true, fill_nested, 32, 0, -EIO); /* indirect inside indirect */
	indirect_case(true, fill_loop, 32, 0, -EIO);   /* loop inside the table */
	indirect_case(true, fill_next_out_of_range, 32, 0, -EIO);
	indirect_case(true, fill_bad_buffer, 32, 0, -EIO);	/* buffer past RAM */
	indirect_case(true, NULL, 0, 0, -EIO);			/* empty table */
	indirect_case(true, NULL, 24, 0, -EIO);			/* not a multiple of 16 */
	indirect_case(true, NULL, 32, VIRTQ_DESC_F_NEXT, -EIO); /* INDIRECT with NEXT */
	indirect_case(true, NULL, 16 * (VIRTQ_CHAIN_MAX_IOV + 1), 0, -EIO); /* too long */

	/* The table itself outside RAM. */
	struct drv d;
	CHECK_EQ(drv_init(&d, 8, false, true), 0);
	drv_set(drv_desc(&d, 0), 0, RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);
}

TEST(too_many_buffers)
{
	struct drv d;

	/* 7 direct buffers + an indirect table of VIRTQ_CHAIN_MAX_IOV: one too many iovecs. */
	CHECK_EQ(drv_init(&d, 8, false, true), 0);
	for (unsigned i = 0; i < 7; i++)
		drv_set(drv_desc(&d, 0), i, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
	for (unsigned i = 0; i < VIRTQ_CHAIN_MAX_IOV; i++)
		drv_set(table(&d), i, DATA_GPA, 4,
			i + 1 < VIRTQ_CHAIN_MAX_IOV ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	drv_set(drv_desc(&d, 0), 7, TABLE_GPA, 16 * VIRTQ_CHAIN_MAX_IOV, VIRTQ_DESC_F_INDIRECT, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);

	/* The full table alone fits exactly. */
	CHECK_EQ(drv_init(&d, 8, false, true), 0);
	for (unsigned i = 0; i < VIRTQ_CHAIN_MAX_IOV; i++)
		drv_set(table(&d), i, DATA_GPA, 4,
			i + 1 < VIRTQ_CHAIN_MAX_IOV ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	drv_set(drv_desc(&d, 0), 0, TABLE_GPA, 16 * VIRTQ_CHAIN_MAX_IOV, VIRTQ_DESC_F_INDIRECT, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.nr_out, VIRTQ_CHAIN_MAX_IOV);
	drv_fini(&d);
}

static int activate_with(uint16_t size, uint16_t max, uint64_t desc, uint64_t avail, uint64_t used)
{
	struct drv d;
	int err;

	drv_init(&d, 8, false, false);
	virtq_reset(&d.q);
	d.q.size = size;
	d.q.desc_gpa = desc;
	d.q.avail_gpa = avail;
	d.q.used_gpa = used;
	err = virtq_activate(&d.q, &d.mem, max, false, false);
	if (err)
		CHECK(!d.q.is_ready);
	else
		CHECK(d.q.is_ready);
	drv_fini(&d);
	return err;
}

TEST(geometry)
{
	CHECK_EQ(activate_with(256, 256, DESC_GPA, AVAIL_GPA, USED_GPA), 0);
	CHECK_EQ(activate_with(1, 256, DESC_GPA, AVAIL_GPA, USED_GPA), 0);
	CHECK_EQ(activate_with(0, 256, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);
	CHECK_EQ(activate_with(96, 256, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);  /* not 2^n */
	CHECK_EQ(activate_with(512, 256, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL); /* > max */
	CHECK_EQ(activate_with(2048, 4096, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);
	CHECK_EQ(activate_with(8, 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA), -EINVAL); /* align 16 */
	CHECK_EQ(activate_with(8, 8, DESC_GPA, AVAIL_GPA + 1, USED_GPA), -EINVAL); /* align 2 */
	CHECK_EQ(activate_with(8, 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2), -EINVAL); /* align 4 */
	CHECK_EQ(activate_with(8, 8, DESC_GPA, AVAIL_GPA + 2, USED_GPA + 4), 0);
	/* Rings that end past RAM, or start outside it. */
	CHECK_EQ(activate_with(8, 8, RAM_SIZE - 16 * 8, AVAIL_GPA, USED_GPA), 0);
	CHECK_EQ(activate_with(8, 8, RAM_SIZE - 16 * 4, AVAIL_GPA, USED_GPA), -EINVAL);
	CHECK_EQ(activate_with(8, 8, DESC_GPA, RAM_SIZE - 20, USED_GPA), -EINVAL);
	CHECK_EQ(activate_with(8, 8, DESC_GPA, AVAIL_GPA, RAM_SIZE - 68), -EINVAL);
	CHECK_EQ(activate_with(8, 8, DESC_GPA, AVAIL_GPA, RAM_SIZE - 72), 0);
	CHECK_EQ(activate_with(8, 8, 0xfffffffffffffff0ULL, AVAIL_GPA, USED_GPA), -EINVAL);
}

TEST(not_ready)
{
	struct virtq q;

	virtq_reset(&q);
	CHECK_EQ(virtq_pop(&q, &chain), -EINVAL);
	CHECK_EQ(virtq_push(&q, 0, 0), -EINVAL);
	CHECK(!virtq_should_notify(&q));
	CHECK(!virtq_has_avail(&q));
}

TEST(push_checks)
{
	struct drv d;

	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_set(drv_desc(&d, 0), 0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(virtq_push(&d.q, 8, 0), -EINVAL); /* head out of range */
	CHECK_EQ(drv_used(&d)->idx, 0);
	CHECK_EQ(virtq_push(&d.q, 0, 8), 0);
	drv_fini(&d);
}

TEST(fill_flush_unpop)
{
	struct drv d;

	CHECK_EQ(drv_init(&d, 8, true, false), 0);
	for (unsigned i = 0; i < 4; i++) {
		drv_set(drv_desc(&d, 0), i, DATA_GPA + i * 64, 64, VIRTQ_DESC_F_WRITE, 0);
		drv_post(&d, (uint16_t)i);
	}
	/* Reserve three, give the last two back, pop them again. */
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.head, 2);
	CHECK_EQ(virtq_unpop(&d.q, 3 + 1), -EINVAL);
	CHECK_EQ(virtq_unpop(&d.q, 2), 0);
	CHECK_EQ(d.q.nr_inflight, 1);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.head, 1);
	/* Fill two without publishing: the driver sees nothing yet. */
	CHECK_EQ(virtq_fill(&d.q, 0, 10), 0);
	CHECK_EQ(virtq_fill(&d.q, 1, 20), 0);
	CHECK_EQ(drv_used(&d)->idx, 0);
	CHECK(!virtq_should_notify(&d.q));	 /* nothing published */
	CHECK_EQ(virtq_unpop(&d.q, 1), -EINVAL); /* nothing unfilled left */
	virtq_flush(&d.q);
	CHECK_EQ(drv_used(&d)->idx, 2);
	CHECK_EQ(drv_used(&d)->ring[0].len, 10);
	CHECK_EQ(drv_used(&d)->ring[1].id, 1);
	CHECK(virtq_should_notify(&d.q));
	CHECK_EQ(virtq_fill(&d.q, 0, 1), -EINVAL); /* nothing in flight */

	/* A FIFO reserve: pop three, fill the oldest, give the two newer ones back. The ring
	 * still holds heads 2 and 3 from the first round; post 0, 1, 2 behind them. */
	for (unsigned i = 0; i < 3; i++)
		drv_post(&d, (uint16_t)i);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.head, 2);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.head, 3);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.head, 0);
	CHECK_EQ(virtq_push(&d.q, 2, 5), 0);
	CHECK_EQ(virtq_unpop(&d.q, 3), -EINVAL);
	CHECK_EQ(virtq_unpop(&d.q, 2), 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.head, 3);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.head, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(chain.head, 1);
	drv_fini(&d);
}

TEST(inflight_bound)
{
	struct drv d;

	/* A driver that reposts a head the device still holds: at most size chains can be in
	 * flight, the next pop breaks the queue. */
	CHECK_EQ(drv_init(&d, 2, false, false), 0);
	drv_set(drv_desc(&d, 0), 0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	drv_post(&d, 0);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), -EIO);
	drv_fini(&d);
}

TEST(notify_without_event_idx)
{
	struct drv d;

	CHECK_EQ(drv_init(&d, 8, false, false), 0);
	drv_set(drv_desc(&d, 0), 0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	CHECK(!virtq_should_notify(&d.q)); /* nothing pushed yet */
	drv_post(&d, 0);
	CHECK(virtq_has_avail(&d.q));
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(virtq_push(&d.q, 0, 8), 0);
	CHECK(virtq_should_notify(&d.q));
	CHECK(!virtq_should_notify(&d.q)); /* already decided for this entry */

	/* The driver asks for no interrupts. */
	drv_avail(&d)->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	drv_post(&d, 0);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(virtq_push(&d.q, 0, 8), 0);
	CHECK(!virtq_should_notify(&d.q));

	/* Kick suppression through used->flags. */
	virtq_disable_notify(&d.q);
	CHECK_EQ(drv_used(&d)->flags, VIRTQ_USED_F_NO_NOTIFY);
	CHECK(!virtq_enable_notify(&d.q));
	CHECK_EQ(drv_used(&d)->flags, 0);
	virtq_disable_notify(&d.q);
	drv_post(&d, 0);
	CHECK(virtq_enable_notify(&d.q)); /* arrived while disabled: pop again */
	drv_fini(&d);
}

TEST(notify_event_idx)
{
	struct drv d;
	uint16_t *used_event, *avail_event;

	CHECK_EQ(drv_init(&d, 8, true, false), 0);
	used_event = &drv_avail(&d)->ring[8];
	avail_event = (uint16_t *)&drv_used(&d)->ring[8];
	for (unsigned i = 0; i < 8; i++)
		drv_set(drv_desc(&d, 0), i, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);

	/* An empty pop arms avail_event at the next index the driver will fill. */
	CHECK_EQ(virtq_pop(&d.q, &chain), 0);
	CHECK_EQ(*avail_event, 0);

	/* Driver wants an interrupt when entry 2 is used (used_event = 2). */
	*used_event = 2;
	for (unsigned i = 0; i < 4; i++)
		drv_post(&d, (uint16_t)i);
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(virtq_push(&d.q, chain.head, 1), 0); /* used idx 1 */
	CHECK(virtq_should_notify(&d.q));	      /* first decision always notifies */
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(virtq_push(&d.q, chain.head, 1), 0); /* used idx 2: entry 1 used */
	CHECK(!virtq_should_notify(&d.q));	      /* event 2 not yet passed */
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(virtq_push(&d.q, chain.head, 1), 0); /* used idx 3: entry 2 used */
	CHECK(virtq_should_notify(&d.q));
	CHECK_EQ(virtq_pop(&d.q, &chain), 1);
	CHECK_EQ(virtq_push(&d.q, chain.head, 1), 0); /* used idx 4 */
	CHECK(!virtq_should_notify(&d.q));	      /* event 2 already signalled */
	CHECK_EQ(virtq_pop(&d.q, &chain), 0);
	CHECK_EQ(*avail_event, 4);

	/* A batch that jumps over used_event still notifies once. */
	*used_event = 5;
	for (unsigned i = 0; i < 3; i++)
		drv_post(&d, (uint16_t)i);
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(virtq_pop(&d.q, &chain), 1);
		CHECK_EQ(virtq_push(&d.q, chain.head, 1), 0);
	}
	CHECK(virtq_should_notify(&d.q)); /* used idx 4 -> 7 crosses entry 5 */
	CHECK_EQ(d.q.nr_notified, 3);

	/* Disabled: an empty pop must not move avail_event; enable moves it and rechecks. */
	virtq_disable_notify(&d.q);
	CHECK_EQ(virtq_pop(&d.q, &chain), 0);
	CHECK_EQ(*avail_event, 4);
	CHECK(!virtq_enable_notify(&d.q));
	CHECK_EQ(*avail_event, 7);
	virtq_disable_notify(&d.q);
	drv_post(&d, 0);
	CHECK(virtq_enable_notify(&d.q));
	drv_fini(&d);
}

TEST(used_event_wrap)
{
	struct drv d;

	/* Notification decisions across the 16-bit wrap of used->idx. */
	CHECK_EQ(drv_init(&d, 4, true, false), 0);
	d.q.last_avail = 0xfffd;
	d.q.used_idx = 0xfffd;
	d.q.signalled_used = 0xfffd;
	d.q.is_signalled_valid = true;
	d.avail_idx = 0xfffd;
	drv_avail(&d)->ring[4] = 0xffff; /* used_event: tell me when entry 0xffff is used */
	for (unsigned i = 0; i < 3; i++) {
		drv_set(drv_desc(&d, 0), i, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
		drv_post(&d, (uint16_t)i);
	}
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(virtq_pop(&d.q, &chain), 1);
		CHECK_EQ(virtq_push(&d.q, chain.head, 1), 0);
	}
	CHECK_EQ(drv_used(&d)->idx, 0);
	CHECK(virtq_should_notify(&d.q)); /* 0xfffd -> 0x0000 crosses 0xffff */
	drv_fini(&d);
}

int main(void)
{
	log_threshold = LOG_ERROR;
	RUN(simple_chain);
	RUN(chain_copy_helpers);
	RUN(descriptor_loop);
	RUN(longest_legal_chain);
	RUN(head_or_next_out_of_range);
	RUN(buffer_outside_ram);
	RUN(length_sum_overflow);
	RUN(avail_idx_jump);
	RUN(wrap_around);
	RUN(zero_length_buffers);
	RUN(writable_then_readable);
	RUN(indirect);
	RUN(indirect_hostile);
	RUN(too_many_buffers);
	RUN(geometry);
	RUN(not_ready);
	RUN(push_checks);
	RUN(fill_flush_unpop);
	RUN(inflight_bound);
	RUN(notify_without_event_idx);
	RUN(notify_event_idx);
	RUN(used_event_wrap);
	return test_summary();
}

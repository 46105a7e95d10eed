/* tests/fuzz/fuzz_virtq.c — libFuzzer target: virtq_pop()/virtq_push() over a fuzzed ring.
 *
 * The input is a small header and then the image of guest RAM (two regions: 4 KiB at gpa 0
 * holding the rings, 4 KiB at gpa 0x10000), so the fuzzer controls every descriptor, ring
 * index and flag. Each region is its own exact-size allocation: ASan reports any access
 * past it. Beyond the sanitizers, the target checks what pop promises: every iovec lies
 * inside a region, the lengths add up, the counts are bounded, and pop terminates.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem/guest_mem.h"
#include "util/log.h"
#include "virtio/queue.h"

#define REGION_SIZE 4096
#define HIGH_GPA    0x10000
#define DESC_GPA    0x000
#define AVAIL_GPA   0x400
#define USED_GPA    0x600
#define HEADER_SIZE 6

static struct virtq_chain chain;

static int is_inside(const void *p, size_t len, const uint8_t *base)
{
	const uint8_t *b = p;

	return b >= base && b <= base + REGION_SIZE && len <= (size_t)(base + REGION_SIZE - b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem mem;
	struct virtq q;
	uint8_t *low, *high;

	if (size < HEADER_SIZE)
		return 0;
	log_threshold = LOG_ERROR;
	low = calloc(1, REGION_SIZE);
	high = calloc(1, REGION_SIZE);
	size_t n = size - HEADER_SIZE;
	memcpy(low, data + HEADER_SIZE, n < REGION_SIZE ? n : REGION_SIZE);
	if (n > REGION_SIZE)
		memcpy(high, data + HEADER_SIZE + REGION_SIZE,
		       n - REGION_SIZE < REGION_SIZE ? n - REGION_SIZE : REGION_SIZE);
	guest_mem_init_buffer(&mem, low, REGION_SIZE);
	if (guest_mem_add_buffer(&mem, HIGH_GPA, high, REGION_SIZE))
		abort();

	virtq_reset(&q);
	q.size = (uint16_t)(1u << (data[0] % 6)); /* 1..32: the rings fit below 0x400/0x600 */
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;
	if (virtq_activate(&q, &mem, 32, data[1] & 1, data[1] & 2))
		abort(); /* the geometry above is always valid */
	/* Start anywhere, to cover the 16-bit wrap. */
	q.last_avail = (uint16_t)(data[2] | data[3] << 8);
	q.used_idx = (uint16_t)(data[4] | data[5] << 8);
	q.signalled_used = q.used_idx;

	for (int round = 0; round < 64; round++) {
		if (data[1] & 4)
			virtq_disable_notify(&q);
		int r = virtq_pop(&q, &chain);
		if (r <= 0) {
			if (r < 0 && !q.is_broken)
				abort();
			break;
		}
		if (chain.head >= q.size || chain.nr_out + chain.nr_in > VIRTQ_CHAIN_MAX_IOV)
			abort();
		uint64_t out = 0, in = 0;
		for (unsigned i = 0; i < chain.nr_out + chain.nr_in; i++) {
			struct iovec *v = &chain.iov[i];
			if (v->iov_len == 0 || (!is_inside(v->iov_base, v->iov_len, low) &&
						!is_inside(v->iov_base, v->iov_len, high)))
				abort();
			if (i < chain.nr_out) {
				out += v->iov_len;
				volatile uint8_t sink = ((uint8_t *)v->iov_base)[v->iov_len - 1];
				(void)sink;
			} else {
				in += v->iov_len;
			}
		}
		if (out != chain.out_len || in != chain.in_len)
			abort();
		/* Write a little into the writable buffers (the ring may overlap them). */
		uint8_t pattern[64];
		memset(pattern, 0xa5, sizeof(pattern));
		size_t wrote = virtq_chain_write(&chain, 0, pattern, sizeof(pattern));
		if (virtq_push(&q, chain.head, (uint32_t)wrote))
			abort();
		if (data[1] & 8)
			virtq_should_notify(&q);
		if (data[1] & 4)
			virtq_enable_notify(&q);
	}
	virtq_should_notify(&q);
	free(low);
	free(high);
	return 0;
}

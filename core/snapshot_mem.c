/* core/snapshot_mem.c — writes guest RAM to the snapshot's memory file sparsely. Trusts
 * the mapping (our own RAM, with every writer paused) and the fds it is given.
 */
#include "core/snapshot_mem.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096ULL

static int is_zero_page(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	for (unsigned i = 0; i < PAGE / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

/* Writes the non-zero pages of [start, end): runs of them in one pwrite. */
static int write_extent(const uint8_t *map, uint64_t start, uint64_t end, int out_fd,
			struct snapshot_mem_stats *st)
{
	uint64_t run = start;

	for (uint64_t off = start; off <= end; off += PAGE) {
		bool is_end = off >= end;
		bool is_zero = !is_end && is_zero_page(map + off);
		if (is_zero)
			st->pages_zero++;
		if (is_end || is_zero) {
			uint64_t at = run;
			while (at < off) {
				ssize_t n = pwrite(out_fd, map + at, off - at, (off_t)at);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					return n < 0 ? -errno : -EIO;
				at += (uint64_t)n;
			}
			st->pages_written += (off - run) / PAGE;
			run = off + PAGE;
		}
	}
	return 0;
}

int snapshot_mem_write(const uint8_t *map, uint64_t size, int src_fd, int out_fd,
		       struct snapshot_mem_stats *st)
{
	uint64_t off = 0;
	int r;

	memset(st, 0, sizeof(*st));
	if (size % PAGE)
		return -EINVAL;
	if (ftruncate(out_fd, 0) < 0 || ftruncate(out_fd, (off_t)size) < 0)
		return -errno;
	if (src_fd < 0)
		return write_extent(map, 0, size, out_fd, st);
	while (off < size) {
		off_t data = lseek(src_fd, (off_t)off, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO) { /* no data after off: the rest is a hole */
				st->bytes_hole += size - off;
				break;
			}
			return -errno;
		}
		if ((uint64_t)data >= size) {
			st->bytes_hole += size - off;
			break;
		}
		off_t hole = lseek(src_fd, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		uint64_t s = (uint64_t)data & ~(PAGE - 1), e = (uint64_t)hole;
		if (e > size)
			e = size;
		e = (e + PAGE - 1) & ~(PAGE - 1);
		st->bytes_hole += s - off;
		if ((r = write_extent(map, s, e, out_fd, st)))
			return r;
		off = e;
	}
	return 0;
}

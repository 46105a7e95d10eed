/* core/snapshot_mem.h — the snapshot's memory file: the guest RAM mapping written sparsely
 * at the same offsets it has in the RAM memfd (so a restore maps region i at its
 * fd_offset), holes kept as holes and zero pages skipped.
 */
#ifndef ARCVMM_CORE_SNAPSHOT_MEM_H
#define ARCVMM_CORE_SNAPSHOT_MEM_H

#include <stdint.h>

struct snapshot_mem_stats {
	uint64_t pages_written, pages_zero, bytes_hole;
};

/* Writes map[0, size) to out_fd (which is truncated to size first). src_fd, when >= 0, is
 * the file behind map with MAP_SHARED (the memfd): its holes (SEEK_DATA/SEEK_HOLE) are not
 * even read. -1 (memory restored MAP_PRIVATE from a file, whose written pages the file
 * does not show) reads every page. Zero pages are never written. 0 or -errno. */
int snapshot_mem_write(const uint8_t *map, uint64_t size, int src_fd, int out_fd,
		       struct snapshot_mem_stats *st);

#endif

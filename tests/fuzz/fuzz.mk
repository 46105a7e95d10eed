# tests/fuzz/fuzz.mk — libFuzzer targets (clang). Included by the top-level Makefile.
#
#   make fuzz        builds $(O)/fuzz/fuzz_virtq
#   make fuzz-smoke  builds it and fuzzes for FUZZ_TIME seconds (CI: 30 s)
#
# Needs clang and libclang-rt-<ver>-dev (Debian) for -fsanitize=fuzzer.

FUZZ_CC ?= clang
FUZZ_TIME ?= 30
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -I. -pthread \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_VIRTQ_SRCS := tests/fuzz/fuzz_virtq.c virtio/queue.c mem/guest_mem.c util/log.c

$(O)/fuzz/fuzz_virtq: $(FUZZ_VIRTQ_SRCS) virtio/queue.h mem/guest_mem.h util/log.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_VIRTQ_SRCS)

fuzz: $(O)/fuzz/fuzz_virtq

fuzz-smoke: $(O)/fuzz/fuzz_virtq
	@mkdir -p $(O)/fuzz/corpus-virtq
	$(O)/fuzz/fuzz_virtq -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
		$(O)/fuzz/corpus-virtq

.PHONY: fuzz fuzz-smoke

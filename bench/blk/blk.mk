# bench/blk/blk.mk — the virtio-blk bench (included by the top-level Makefile).
#   make bench-blk            builds and runs it (fio side by side; ~1 minute)
#   $(O)/bench/blk/bench_blk --help

BENCH_BLK := $(O)/bench/blk/bench_blk

$(BENCH_BLK): $(O)/bench/blk/bench_blk.o $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

benches:: $(BENCH_BLK)

bench-blk: $(BENCH_BLK)
	$(BENCH_BLK) --runtime 3

.PHONY: bench-blk

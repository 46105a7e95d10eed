# bench/bench.mk — benchmark programs (included by the top Makefile). Output in $(O)/bench/.
#   bench/startup: floor (bare-KVM floor, static), runstat (wall time + peak RSS of a command);
#   run with bench/startup/run.sh [RUNS] (it builds what it needs into build-bench/).

BENCH_CFLAGS := $(CFLAGS_BASE) -O2

$(O)/bench/startup/floor: bench/startup/floor.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -static -o $@ $<

$(O)/bench/startup/runstat: bench/startup/runstat.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

benches:: $(O)/bench/startup/floor $(O)/bench/startup/runstat

# The seccomp allow-list size of each thread kind (docs/security.md quotes it).
$(O)/bench/seccomp_figures: bench/seccomp_figures.c $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $(SANFLAGS) -o $@ $< $(O)/libarcvmm.a $(LDLIBS)

seccomp-figures: $(O)/bench/seccomp_figures
	$(O)/bench/seccomp_figures

.PHONY: seccomp-figures

# bench/vsock: the vsock datapath with a simulated driver vs a plain Unix socket loop, and
# the connection setup rate (build/bench/vsock/vsock_bench [MIB] [RXBUF]).
$(O)/bench/vsock/vsock_bench: bench/vsock/vsock_bench.c $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $(SANFLAGS) -o $@ $< $(O)/libarcvmm.a $(LDLIBS)

vsock-bench: $(O)/bench/vsock/vsock_bench
benches:: $(O)/bench/vsock/vsock_bench
.PHONY: vsock-bench

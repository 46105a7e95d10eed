#!/usr/bin/env bash
# bench/seccomp.sh [BUILD_DIR] — what the per-thread seccomp filters cost the device
# datapaths, measured in pairs inside one process so that other load on the machine hits
# both sides alike: bench/blk (simulated driver, io_uring) and bench/net (RX, simulated
# driver) each run their device with the workers' filters off and on, alternating, 9-11
# pairs per row (ARCVMM_BENCH_SECCOMP=compare). Per row: medians of throughput (on/off)
# and of CPU per request or frame (off/on); 1.000 = the filters cost nothing.
# Then the cost of one syscall with each filter stack (bench/seccomp_figures).
set -eu
B=${1:-build}
RUNTIME=${RUNTIME:-2}
ARCVMM_BENCH_SECCOMP=compare "$B/bench/blk/bench_blk" --runtime "$RUNTIME" --size 256
ARCVMM_BENCH_SECCOMP=compare "$B/bench/net/net_bench" 100000
"$B/bench/seccomp_figures" | sed -n '/syscall cost/,$p'

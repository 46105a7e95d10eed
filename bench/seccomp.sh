#!/usr/bin/env bash
# bench/seccomp.sh [BUILD_DIR] [REPS] — what the per-thread seccomp filters cost the device
# datapaths: bench/blk (simulated driver, io_uring, no fio) and bench/net (RX frames/s)
# run REPS times each with the workers' filters off and on, alternating; prints for each
# row the median of on/off (1.00 = no cost; IOPS for blk, device frames/s for net).
set -u
B=${1:-build}
REPS=${2:-3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for i in $(seq "$REPS"); do
	for m in off on; do
		ARCVMM_BENCH_SECCOMP=$m "$B/bench/blk/bench_blk" --no-fio --runtime 2 --size 256 2>/dev/null |
			awk -v m=$m -v i=$i '/^(rand|seq)/ {print "blk " $1 "-" $2, m, i, $5}' >>"$T/rows"
		ARCVMM_BENCH_SECCOMP=$m "$B/bench/net/net_bench" 100000 2>/dev/null |
			awk -v m=$m -v i=$i '/f\/s/ {print "net " $1 "-" $2, m, i, $11}' >>"$T/rows"
	done
done
python3 - "$T/rows" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(lambda: {"on": [], "off": []})
for line in open(sys.argv[1]):
    kind, name, mode, rep, val = line.split()
    rows[kind + " " + name][mode].append(float(val))
print("%-28s %12s %12s %6s" % ("row", "off", "on", "on/off"))
for k, v in rows.items():
    if not v["on"] or not v["off"]:
        continue
    off, on = statistics.median(v["off"]), statistics.median(v["on"])
    print("%-28s %12.0f %12.0f %6.3f" % (k, off, on, on / off if off else 0))
PY

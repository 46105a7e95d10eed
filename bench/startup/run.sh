#!/bin/bash
# bench/startup/run.sh — startup benchmark: time from exec to exit of the tiny PVH hello guest
# (tests/guests/hello.elf) on
#   floor   the bare-KVM floor (bench/startup/floor.c: VM, one slot, one vCPU, nothing else),
#           with a 4 MiB slot and again with 256 MiB like arcvmm and QEMU (on a shadow-paging
#           KVM such as PVM, registering a slot costs time in proportion to its size)
#   arcvmm  arcvmm --memory 256M
#   qemu    qemu-system-x86_64 -M microvm -m 256M (KVM) with isa-debug-exit on port 0xf4
# run alternately (floor, arcvmm, qemu, floor, ...), RUNS times each (default 10), one at a time.
# Reports medians of wall time (clock_gettime(CLOCK_MONOTONIC) around fork..waitpid), CPU time
# and peak RSS (getrusage(RUSAGE_CHILDREN), both measured by bench/startup/runstat.c), and the
# ratios arcvmm/floor and arcvmm/QEMU. The peak RSS is that of the same runs: a 256 MiB guest.
#
# usage: bench/startup/run.sh [RUNS]
# env:   O=build dir (default build-bench; arcvmm, hello.elf, floor, runstat are built there)
#        ARCVMM=path to use a prebuilt arcvmm instead; QEMU=qemu-system-x86_64 binary
# Every run must print "GUEST-HELLO ELF/PVH" and exit with its expected status (0; QEMU: 1 =
# debug-exit value 0), or the benchmark stops with an error.

set -eu

RUNS=${1:-10}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build-bench}
QEMU=${QEMU:-qemu-system-x86_64}
QEMU_CPU=${QEMU_CPU:-host,-arch-capabilities,-cx16,-xsave}
cd "$ROOT"

targets="$O/guests/hello.elf $O/bench/startup/floor $O/bench/startup/runstat"
[ -n "${ARCVMM:-}" ] || targets="$targets $O/arcvmm"
make -s O="$O" $targets >/dev/null
ARCVMM=${ARCVMM:-$O/arcvmm}
GUEST=$O/guests/hello.elf
RUNSTAT=$O/bench/startup/runstat
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cmd_floor() {
	"$RUNSTAT" "$1" "$O/bench/startup/floor" "$GUEST"
}
cmd_floor256() {
	"$RUNSTAT" "$1" "$O/bench/startup/floor" "$GUEST" 256
}
cmd_arcvmm() {
	"$RUNSTAT" "$1" "$ARCVMM" --kernel "$GUEST" --memory 256M --net none --no-rng -q
}
cmd_qemu() {
	"$RUNSTAT" "$1" "$QEMU" -M microvm -enable-kvm -cpu "$QEMU_CPU" -m 256M -nodefaults \
		-no-user-config -nographic -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$GUEST"
}

declare -A WANT=([floor]=0 [floor256]=0 [arcvmm]=0 [qemu]=1)
VMMS="floor floor256 arcvmm qemu"

for i in $(seq 1 "$RUNS"); do
	for v in $VMMS; do
		stat=$TMP/stat
		"cmd_$v" "$stat" </dev/null >"$TMP/out" 2>"$TMP/err" || true
		if [ ! -s "$stat" ] || ! grep -q '^GUEST-HELLO ELF/PVH' "$TMP/out"; then
			echo "bench/startup: $v run $i failed:" >&2
			cat "$TMP/out" "$TMP/err" >&2
			exit 1
		fi
		status=$(sed 's/.*status=\([0-9]*\).*/\1/' "$stat")
		if [ "$status" != "${WANT[$v]}" ]; then
			echo "bench/startup: $v run $i: exit status $status, expected ${WANT[$v]}" >&2
			cat "$TMP/out" "$TMP/err" >&2
			exit 1
		fi
		cat "$stat" >>"$TMP/$v.runs"
		rm -f "$stat"
	done
done

# median FILE KEY — median of KEY=value over the runs (mean of the middle two if even)
median() {
	sed -n "s/.*\\b$2=\\([0-9]*\\).*/\\1/p" "$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
cpu_median() {
	awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		print f["user_us"] + f["sys_us"] }' "$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A WALL WMIN CPU RSS
for v in $VMMS; do
	WALL[$v]=$(median "$TMP/$v.runs" wall_ns)
	WMIN[$v]=$(sed -n 's/.*wall_ns=\([0-9]*\).*/\1/p' "$TMP/$v.runs" | sort -n | head -1)
	CPU[$v]=$(cpu_median "$TMP/$v.runs")
	RSS[$v]=$(median "$TMP/$v.runs" maxrss_kb)
done

echo "startup: exec -> exit of hello.elf (PVH), $RUNS runs each, alternating; medians (and min)"
echo "host: $(nproc) CPUs, $(uname -r); QEMU: $("$QEMU" --version | head -1)"
printf '%-34s %10s %10s %10s %14s\n' "" "wall ms" "(min)" "CPU ms" "peak RSS MiB"
for v in $VMMS; do
	case $v in
	floor) label="floor (bare KVM, static, 4 MiB)" ;;
	floor256) label="floor, 256 MiB like the others" ;;
	arcvmm) label="arcvmm --memory 256M (no devices)" ;;
	qemu) label="qemu -M microvm -m 256M (KVM)" ;;
	esac
	awk -v l="$label" -v w="${WALL[$v]}" -v m="${WMIN[$v]}" -v c="${CPU[$v]}" \
		-v r="${RSS[$v]}" 'BEGIN { printf "%-34s %10.2f %10.2f %10.2f %14.1f\n", l, w / 1e6,
			m / 1e6, c / 1e3, r / 1024 }'
done
awk -v a="${WALL[arcvmm]}" -v f="${WALL[floor]}" -v f2="${WALL[floor256]}" -v q="${WALL[qemu]}" \
	-v ra="${RSS[arcvmm]}" -v rq="${RSS[qemu]}" 'BEGIN {
	printf "ratio wall arcvmm/floor: %.2f (4 MiB floor), %.2f (256 MiB floor)   arcvmm/QEMU: %.2f\n",
		a / f, a / f2, a / q
	printf "ratio peak RSS arcvmm/QEMU: %.2f\n", ra / rq }'

#!/usr/bin/env bash
# bench/boot/run.sh — Linux boot-time benchmark: arcvmm against QEMU's microvm (and
# kvmtool, which Debian 12 does not package: skipped with a note), same kernel, initramfs,
# memory and vCPUs, alternating runs, medians and the arcvmm/QEMU ratio.
#
#   bench/boot/run.sh [ARCVMM] [RUNS] [CPUS] [MEMORY_MIB]     (defaults build/arcvmm 5 1 256)
#
# On hardware KVM it runs boot-bench.sh directly; otherwise inside one nested L1 (see
# tests/nested/README.md), where QEMU runs with -enable-kvm -cpu host on L1's emulated-SVM
# KVM. Under nesting the absolute times say little about real hardware; the ratio is the
# figure to watch. Env: GUEST_DIR (default ../shared/guest, else build/guest),
# BENCH_TIMEOUT (s, default 900), NESTED_FORCE=1 (nested even on hardware KVM).
# Trusts: its caller.
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/nested/lib.sh"

arcvmm=${1:-$PROJECT_DIR/build/arcvmm}
runs=${2:-5}
cpus=${3:-1}
mem=${4:-256}
arcvmm=$(realpath -e "$arcvmm" 2>/dev/null) || nested_die "${1:-build/arcvmm}: no such file"
if [ -z "${GUEST_DIR:-}" ]; then
	GUEST_DIR="$PROJECT_DIR/../shared/guest"
	[ -d "$GUEST_DIR" ] || GUEST_DIR="$PROJECT_DIR/build/guest"
fi
GUEST_DIR=$(cd "$GUEST_DIR" && pwd -P) || nested_die "no guest images (see guest/README.md)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if nested_has_hw_kvm; then
	echo "boot-bench: hardware KVM, running directly"
	exec sh "$here/boot-bench.sh" "$arcvmm" "$GUEST_DIR" "$runs" "$cpus" "$mem"
fi

echo "boot-bench: no hardware KVM: inside one nested L1 (QEMU TCG, emulated SVM)"
nested_build_initramfs
nested_job_new
trap 'rm -rf "$NESTED_JOB"' EXIT
nested_job_add_bin "$arcvmm" arcvmm
nested_job_add_qemu
install -m 0755 "$here/boot-bench.sh" "$NESTED_JOB/boot-bench.sh"
nested_job_share "$GUEST_DIR" ro
echo / >"$NESTED_JOB/cwd"
{
	echo "NESTED_QEMU_DATA=/nested-job/qemu-data; export NESTED_QEMU_DATA"
	printf 'sh /nested-job/boot-bench.sh /nested-job/bin/arcvmm %s %s %s %s\n' \
		"$(nested_sq "$GUEST_DIR")" "$(nested_sq "$runs")" "$(nested_sq "$cpus")" \
		"$(nested_sq "$mem")"
} >"$NESTED_JOB/cmd.sh"
mkdir -p "$PROJECT_DIR/build"
nested_run_l1 "${BENCH_TIMEOUT:-900}" "$PROJECT_DIR/build/boot-bench-l1.log"

#!/usr/bin/env bash
# bench/boot/distro.sh — boot time of the Debian 12 image (guest/build-debian-image.sh),
# arcvmm against QEMU microvm (acpi=on, same devices), alternating, medians and ratios.
#
#   bench/boot/distro.sh [ARCVMM] [RUNS] [CPUS] [MEMORY_MIB]   (defaults build/arcvmm 3 2 1024)
#
# On hardware KVM it runs distro-bench.sh directly; otherwise inside one nested L1, where
# QEMU runs with -enable-kvm -cpu host on L1's emulated-SVM KVM (compare the ratios, not
# the absolute times). The L1 console log is kept in build/distro-bench-l1.log.
# Env: BENCH_TIMEOUT (s, default 2400), NESTED_FORCE=1. Trusts: its caller.
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/nested/lib.sh"

arcvmm=${1:-$PROJECT_DIR/build/arcvmm}
runs=${2:-3}
cpus=${3:-2}
mem=${4:-1024}
arcvmm=$(realpath -e "$arcvmm" 2>/dev/null) || nested_die "${1:-build/arcvmm}: no such file"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dd=$("$PROJECT_DIR/guest/build-debian-image.sh" --print-dir | tail -n 1) && [ -d "$dd" ] || nested_die "no Debian image"

if nested_has_hw_kvm; then
	echo "distro-bench: hardware KVM, running directly"
	exec sh "$here/distro-bench.sh" "$arcvmm" "$dd" "$runs" "$cpus" "$mem"
fi

echo "distro-bench: no hardware KVM: inside one nested L1 (QEMU TCG, emulated SVM)"
nested_build_initramfs
nested_job_new
trap 'rm -rf "$NESTED_JOB"' EXIT
nested_job_add_bin "$arcvmm" arcvmm
nested_job_add_qemu
nested_job_add_bin "$(command -v cp)" gnu-cp
install -m 0755 "$here/distro-bench.sh" "$NESTED_JOB/distro-bench.sh"
nested_job_share "$dd" ro
echo / >"$NESTED_JOB/cwd"
{
	echo "NESTED_QEMU_DATA=/nested-job/qemu-data; export NESTED_QEMU_DATA"
	printf 'sh /nested-job/distro-bench.sh /nested-job/bin/arcvmm %s %s %s %s\n' \
		"$(nested_sq "$dd")" "$(nested_sq "$runs")" "$(nested_sq "$cpus")" "$(nested_sq "$mem")"
} >"$NESTED_JOB/cmd.sh"
mkdir -p "$PROJECT_DIR/build"
nested_run_l1 "${BENCH_TIMEOUT:-2400}" "$PROJECT_DIR/build/distro-bench-l1.log"

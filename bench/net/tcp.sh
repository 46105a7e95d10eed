#!/usr/bin/env bash
# bench/net/tcp.sh — TCP throughput guest<->host over TAP, arcvmm against QEMU's microvm
# (virtio-net, tap backend, no vhost), same kernel, side by side, ratio printed.
#
#   bench/net/tcp.sh [RUNS] [MIB]        (defaults 3 runs, 128 MiB per direction and run)
#
# Builds nothing: uses $ARCVMM or build/arcvmm. On a host with hardware KVM it runs
# tcp-job.sh directly (in its own network namespace); otherwise it boots ONE nested L1
# (tests/nested/run-in-l1.sh --qemu) and runs tcp-job.sh there, which alternates arcvmm and
# QEMU RUNS times each and prints every run and a table (direction, arcvmm MB/s median,
# QEMU MB/s median, ratio). See bench/net/README-tcp.md. Under nesting the absolute figures
# say little about real hardware (L1 and the guest are both run by QEMU's emulator on one
# host core); the ratio is the figure to watch.
#
# Env: ARCVMM, GUEST_DIR (default ../shared/guest), NETB_TIMEOUT (s per guest boot and per
# transfer, default 180), NETB_VMMS (default "arcvmm qemu"), NETB_L1_TIMEOUT (s, default
# 2400), NETB_LOG (L1's console log, default build-netbench/tcp-l1.log), NESTED_FORCE=1
# (nested even on hardware KVM).
# Trusts: its caller.
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/nested/lib.sh"

runs=${1:-3}
mib=${2:-128}
for v in "$runs" "$mib"; do
	case "$v" in
	'' | *[!0-9]* | 0) nested_die "usage: $0 [RUNS] [MIB] (whole numbers >= 1), not '$v'" ;;
	esac
done
arcvmm=${ARCVMM:-$PROJECT_DIR/build/arcvmm}
arcvmm=$(realpath -e "$arcvmm" 2>/dev/null) || nested_die "${ARCVMM:-build/arcvmm}: no such file"
[ -x "$arcvmm" ] || nested_die "$arcvmm: not an executable"
if [ -z "${GUEST_DIR:-}" ]; then
	GUEST_DIR="$PROJECT_DIR/../shared/guest"
	[ -d "$GUEST_DIR" ] || GUEST_DIR="$PROJECT_DIR/build/guest"
fi
GUEST_DIR=$(cd "$GUEST_DIR" && pwd -P) || nested_die "no guest images (see guest/README.md)"
job="$PROJECT_DIR/bench/net/tcp-job.sh"
env_args=()
for v in NETB_TIMEOUT NETB_VMMS; do
	[ -n "${!v:-}" ] && env_args+=("$v=${!v}")
done

if nested_has_hw_kvm; then
	echo "tcp-bench: hardware KVM, running directly"
	exec env "${env_args[@]}" sh "$job" "$arcvmm" "$GUEST_DIR" "$runs" "$mib"
fi

echo "tcp-bench: no hardware KVM: inside one nested L1 (QEMU TCG, emulated SVM)"
logf=${NETB_LOG:-$PROJECT_DIR/build-netbench/tcp-l1.log}
mkdir -p "$(dirname "$logf")"
cmd="env"
for v in "${env_args[@]}"; do
	cmd+=" $(nested_sq "$v")"
done
cmd+=" sh $(nested_sq "$job") /nested-job/bin/arcvmm $(nested_sq "$GUEST_DIR")"
cmd+=" $(nested_sq "$runs") $(nested_sq "$mib")"
share=()
case "$GUEST_DIR/" in
"$(cd "$PROJECT_DIR/.." && pwd -P)/shared/guest/") ;;
*) share=(--share "$GUEST_DIR") ;;
esac
cd "$PROJECT_DIR" || exit 2
exec "$NESTED_DIR/run-in-l1.sh" --qemu --arcvmm "$arcvmm" "${share[@]}" \
	--timeout "${NETB_L1_TIMEOUT:-2400}" --log "$logf" --sh "$cmd"

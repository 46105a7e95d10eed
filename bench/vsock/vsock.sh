#!/usr/bin/env bash
# bench/vsock/vsock.sh — vsock stream throughput, arcvmm's hybrid vsock (Unix socket,
# Firecracker's CONNECT protocol) vs QEMU microvm with the kernel's vhost-vsock
# (-device vhost-vsock-device), the same minimal guest kernel and the same static tool
# (build/guest-tools/vsockt) on both ends, alternating, RUNS boots each. Per boot: BYTES
# guest → host (the guest's server generates, the host checks every byte) and host →
# guest (the host sends, then half-closes; the guest counts and hashes). Prints MB/s per
# run, medians, arcvmm/vhost ratios both ways and arcvmm's own h→g / g→h balance.
#
#   bench/vsock/vsock.sh [RUNS] [BYTES]        hardware KVM and /dev/vhost-vsock (root)
#   tests/nested/run-in-l1.sh --hostroot --sh 'bench/vsock/vsock.sh 3'     elsewhere (L1
#                                              loads vhost_vsock at boot: tests/nested/lib.sh)
#
# Needs qemu-system-x86_64 and make guest-tools. Trusts: its caller; guest output is only
# matched against patterns.
set -u
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
BYTES=${2:-268435456}
G=${ARCVMM_SHARED_GUEST:-$(cd .. && pwd)/shared/guest}
ARCVMM=${ARCVMM:-build/arcvmm}
QEMU=${QEMU:-qemu-system-x86_64}
VSOCKT=${VSOCKT:-build/guest-tools/vsockt}
[ -x "$VSOCKT" ] || { echo "vsock.sh: no $VSOCKT (make guest-tools)" >&2; exit 2; }
[ -c /dev/vhost-vsock ] || modprobe vhost_vsock 2>/dev/null
[ -c /dev/vhost-vsock ] || { echo "vsock.sh: no /dev/vhost-vsock (modprobe vhost_vsock, as root)" >&2; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat "$G/minimal-initramfs.cpio.gz" "$(dirname "$VSOCKT")/vsockt.cpio.gz" >"$W/initrd"
gcmd='/vsockt server vsock:1024 2; echo BENCH-DONE'
CMD="console=ttyS0 reboot=k panic=-1 quiet guest.quiet=1 guest.cmd64=$(printf '%s' "$gcmd" | base64 | tr -d '\n')"

# mbps LINE: the MBps= figure of a vsockt ok line
mbps() { sed -n 's/.* ok bytes=[0-9]* MBps=\([0-9.]*\).*/\1/p' <<<"$1"; }

run() {
	local name=$1 con=$W/$1.con pid addr i
	: >"$con"
	if [ "$name" = arcvmm ]; then
		rm -f "$W/v.sock"
		"$ARCVMM" --kernel "$G/minimal-vmlinux" --initrd "$W/initrd" --memory 512M \
			--net none --vsock "cid=3,uds=$W/v.sock" --cmdline "$CMD" \
			</dev/null >"$con" 2>"$W/$name.err" &
		addr="hyb:$W/v.sock:1024"
	else
		"$QEMU" -M microvm,acpi=off,x-option-roms=off,isa-serial=on,rtc=on -enable-kvm \
			-cpu host -m 512M -nodefaults -no-user-config -display none -no-reboot \
			-serial stdio -monitor none -device vhost-vsock-device,guest-cid=3 \
			-kernel "$G/minimal-vmlinux" -initrd "$W/initrd" -append "$CMD" \
			</dev/null >"$con" 2>"$W/$name.err" &
		addr="vsock:3:1024"
	fi
	pid=$!
	for i in $(seq 120); do
		grep -q 'VSOCKT server listening' "$con" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 1
	done
	local g s
	g=$("$VSOCKT" client "$addr" g "$BYTES" 2>&1)
	s=$("$VSOCKT" client "$addr" s "$BYTES" 2>&1)
	for i in $(seq 60); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	local gm sm
	gm=$(mbps "$g")
	sm=$(mbps "$s")
	if [ -z "$gm" ] || [ -z "$sm" ]; then
		echo "$name: a transfer failed: '$g' / '$s'; console tail:" >&2
		tail -5 "$con" >&2
		tail -5 "$W/$name.err" >&2
		return 1
	fi
	echo "$name run: guest->host ${gm} MB/s, host->guest ${sm} MB/s"
	echo "$gm" >>"$W/$name.g2h"
	echo "$sm" >>"$W/$name.h2g"
}

for i in $(seq "$RUNS"); do
	run arcvmm
	run vhost
done
for f in arcvmm.g2h arcvmm.h2g vhost.g2h vhost.h2g; do [ -s "$W/$f" ] || exit 1; done
med() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ag=$(med "$W/arcvmm.g2h") ah=$(med "$W/arcvmm.h2g") vg=$(med "$W/vhost.g2h") vh=$(med "$W/vhost.h2g")
echo "median guest->host: arcvmm $ag MB/s, vhost-vsock $vg MB/s, ratio $(ratio "$ag" "$vg")"
echo "median host->guest: arcvmm $ah MB/s, vhost-vsock $vh MB/s, ratio $(ratio "$ah" "$vh")"
echo "arcvmm balance host->guest / guest->host: $(ratio "$ah" "$ag")"

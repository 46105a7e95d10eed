#!/bin/sh
# bench/boot/boot-bench.sh — Linux boot time, arcvmm against QEMU's microvm (POSIX sh: runs
# under busybox inside the nested L1, or directly on a host with hardware KVM).
#
#   boot-bench.sh ARCVMM GUEST_DIR [RUNS] [CPUS] [MEMORY_MIB]     (defaults 5, 1, 256)
#
# Boots the minimal kernel (uncompressed vmlinux) + minimal initramfs from GUEST_DIR with
# each VMM, alternating, RUNS times each, and measures from the VMM's start to the guest's
# GUEST-INIT-READY line and to the VMM's exit (the guest powers off right after READY).
# Prints every run, the medians and the arcvmm/QEMU ratios. Both VMMs get the same kernel,
# initramfs, command line, memory and vCPUs, and no devices besides the serial port
# (arcvmm: --net none --no-rng). Env: QEMU (qemu-system-x86_64), NESTED_QEMU_DATA (QEMU's
# firmware folder, for -L).
#
# Times come from this machine's clock (/proc/uptime), never from the guest's (a nested
# guest's clock drifts). Timing is printed, never asserted.
# Trusts: nothing the guest prints (only the READY marker is looked for).

if [ $# -lt 2 ]; then
	echo "usage: $0 ARCVMM GUEST_DIR [RUNS] [CPUS] [MEMORY_MIB]" >&2
	exit 2
fi
ARCVMM=$1
G=$2
RUNS=${3:-5}
CPUS=${4:-1}
MEM=${5:-256}
QEMU=${QEMU:-qemu-system-x86_64}
K=$G/minimal-vmlinux
I=$G/minimal-initramfs.cpio.gz
CMD="console=ttyS0 reboot=k panic=-1 quiet guest.quiet=1"
TMO=120
for f in "$K" "$I"; do
	[ -f "$f" ] || { echo "boot-bench: missing $f" >&2; exit 2; }
done
qemu_l=""
[ -n "${NESTED_QEMU_DATA:-}" ] && qemu_l="-L $NESTED_QEMU_DATA"
res=$(mktemp -d /tmp/boot-bench.XXXXXX) || exit 2

now() { read -r now _ </proc/uptime; }

# measure NAME CMD...: run CMD; print "ready_s exit_s status" (ready_s "-" if no READY).
measure() {
	now
	_s=$now
	{
		timeout -s KILL "$TMO" "$@" </dev/null 2>>"$res/stderr"
		echo "BOOT-BENCH-EXIT $?"
	} | {
		r=-
		while IFS= read -r l; do
			case "$l" in
			GUEST-INIT-READY*)
				now
				r=$(awk -v a="$_s" -v b="$now" 'BEGIN { printf "%.2f", b - a }')
				;;
			BOOT-BENCH-EXIT*)
				now
				e=$(awk -v a="$_s" -v b="$now" 'BEGIN { printf "%.2f", b - a }')
				echo "$r $e ${l#BOOT-BENCH-EXIT }"
				;;
			esac
		done
	}
}

run_arcvmm() {
	measure "$ARCVMM" --kernel "$K" --initrd "$I" --cpus "$CPUS" --memory "${MEM}M" \
		--net none --no-rng --cmdline "$CMD"
}
run_qemu() {
	# shellcheck disable=SC2086
	measure "$QEMU" $qemu_l -M microvm,x-option-roms=off,isa-serial=on,rtc=on \
		-enable-kvm -cpu host -smp "$CPUS" -m "$MEM" -nodefaults -no-user-config \
		-display none -no-reboot -serial stdio -monitor none \
		-kernel "$K" -initrd "$I" -append "$CMD"
}

echo "boot-bench: minimal-vmlinux + minimal-initramfs, $CPUS vCPU, $MEM MiB," \
	"$RUNS runs each, alternating"
echo "boot-bench: kvmtool skipped: it is not packaged in Debian 12"
vmms="arcvmm qemu"
if ! command -v "$QEMU" >/dev/null 2>&1; then
	echo "boot-bench: $QEMU not found: QEMU skipped"
	vmms=arcvmm
fi
n=1
while [ "$n" -le "$RUNS" ]; do
	for v in $vmms; do
		set -- $(run_$v)
		echo "run $n $v ready_s=${1:--} exit_s=${2:--} status=${3:-?}"
		[ "${1:--}" != - ] && echo "$1" >>"$res/$v.ready"
		[ "${2:--}" != - ] && [ "${3:-1}" = 0 ] && echo "$2" >>"$res/$v.exit"
	done
	n=$((n + 1))
done

# median FILE: print the median of the numbers in FILE ("-" if none).
median() {
	[ -s "$1" ] || { echo -; return; }
	sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
for v in $vmms; do
	c=0
	[ -f "$res/$v.ready" ] && c=$(wc -l <"$res/$v.ready")
	echo "median $v: ready_s=$(median "$res/$v.ready") exit_s=$(median "$res/$v.exit") (READY in $c of $RUNS runs)"
done
ra=$(median "$res/arcvmm.ready")
rq=$(median "$res/qemu.ready")
ea=$(median "$res/arcvmm.exit")
eq=$(median "$res/qemu.exit")
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-";
		else printf "%.2f\n", a / b }'
}
echo "ratio arcvmm/qemu-microvm: ready $(ratio "$ra" "$rq"), exit $(ratio "$ea" "$eq")"
if [ -s "$res/stderr" ]; then
	echo "boot-bench: VMM stderr (last 10 lines):"
	tail -n 10 "$res/stderr" | sed 's/^/  ! /'
fi
rm -rf "$res"

#!/usr/bin/env bash
# bench/memory/reclaim.sh — memory given back to the host, arcvmm vs QEMU microvm side by
# side: the same minimal kernel and guest workload (a 1 GiB guest fills 512 MiB of tmpfs,
# frees it, idles 30 s, then 5 s more so the last sample is taken), with virtio-balloon free page reporting on both (arcvmm:
# --balloon target=0,stats=1 --memory-reclaim auto with a calm fake host-pressure file, so
# only free page reporting acts, as in QEMU; QEMU: virtio-balloon-device,
# free-page-reporting=on). Samples the VMM process's resident memory (VmRSS: guest RAM it
# holds plus its own) every 0.5 s and prints, per run: the RSS after boot, the peak, the
# seconds from the guest's free until RSS is back within 10% of the fill above the
# after-boot figure, and the idle RSS at the end; then medians and arcvmm/QEMU ratios.
#
#   bench/memory/reclaim.sh [RUNS]      on hardware KVM (alternates arcvmm and QEMU)
#   tests/nested/run-in-l1.sh --hostroot --sh 'bench/memory/reclaim.sh 2'   elsewhere
#
# Needs qemu-system-x86_64 (qemu-system-x86). Trusts: its caller; guest output is only
# matched.
set -u
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
G=${ARCVMM_SHARED_GUEST:-$(cd .. && pwd)/shared/guest}
ARCVMM=${ARCVMM:-build/arcvmm}
QEMU=${QEMU:-qemu-system-x86_64}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
FILL=512
guest='mkdir -p /fill && mount -t tmpfs -o size=600m none /fill
echo FILL-READY
sleep 3
dd if=/dev/zero of=/fill/f bs=1M count=512 2>/dev/null; sync
echo FILL-FILLED
sleep 5
rm -f /fill/f
echo FILL-FREED
sleep 30
echo FILL-DONE
sleep 5'
b64=$(printf '%s' "$guest" | base64 | tr -d '\n')
CMD="console=ttyS0 reboot=k panic=-1 quiet guest.quiet=1 guest.cmd64=$b64"
printf 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' >"$W/psi"

rss_mib() { awk '/^VmRSS:/ { print int($2 / 1024) }' "/proc/$1/status" 2>/dev/null; }
now_ms() { date +%s%3N; }

# run NAME: boots one VMM, samples it, appends "base peak settle_s idle" to $W/NAME
run() {
	local name=$1 con=$W/$1.con pid
	: >"$con"
	if [ "$name" = arcvmm ]; then
		ARCVMM_TEST_PSI_PATH=$W/psi "$ARCVMM" --kernel "$G/minimal-vmlinux" \
			--initrd "$G/minimal-initramfs.cpio.gz" --memory 1G --net none \
			--balloon target=0,stats=1 --memory-reclaim auto --cmdline "$CMD" \
			</dev/null >"$con" 2>"$W/$name.err" &
	else
		"$QEMU" -M microvm,acpi=off,x-option-roms=off,isa-serial=on,rtc=on -enable-kvm \
			-cpu host -m 1G -nodefaults -no-user-config -display none -no-reboot \
			-serial stdio -monitor none -device virtio-balloon-device,free-page-reporting=on \
			-kernel "$G/minimal-vmlinux" -initrd "$G/minimal-initramfs.cpio.gz" \
			-append "$CMD" </dev/null >"$con" 2>"$W/$name.err" &
	fi
	pid=$!
	local base="" peak=0 t_free="" settle="" idle="" r t
	while kill -0 "$pid" 2>/dev/null; do
		r=$(rss_mib "$pid")
		[ -n "$r" ] || break
		if [ -z "$base" ]; then
			grep -q FILL-READY "$con" && base=$r
		else
			[ "$r" -gt "$peak" ] && peak=$r
			if [ -z "$t_free" ] && grep -q FILL-FREED "$con"; then t_free=$(now_ms); fi
			if [ -n "$t_free" ] && [ -z "$settle" ] && [ "$r" -le $((base + FILL / 10)) ]; then
				t=$(now_ms)
				settle=$(awk -v a="$t" -v b="$t_free" 'BEGIN { printf "%.1f", (a - b) / 1000 }')
			fi
			grep -q FILL-DONE "$con" && { idle=$r; break; }
		fi
		sleep 0.5
	done
	sleep 5
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if [ -z "$base" ] || [ -z "$idle" ]; then
		echo "$name: the guest did not run the workload; console tail:" >&2
		tail -5 "$con" >&2
		tail -5 "$W/$name.err" >&2
		return 1
	fi
	echo "$name run: rss_after_boot=${base}MiB peak=${peak}MiB settle_s=${settle:-never(>30)} idle=${idle}MiB"
	echo "$base $peak ${settle:-99} $idle" >>"$W/$name"
}

for i in $(seq "$RUNS"); do
	run arcvmm
	run qemu
done
[ -s "$W/arcvmm" ] && [ -s "$W/qemu" ] || exit 1
med() { awk -v c="$2" '{ print $c }' "$1" | sort -n |
	awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
for c in 1:rss_after_boot 2:peak 3:settle_s 4:idle; do
	n=${c%%:*} label=${c#*:}
	a=$(med "$W/arcvmm" "$n")
	q=$(med "$W/qemu" "$n")
	echo "median $label: arcvmm $a, qemu $q, ratio arcvmm/qemu $(ratio "$a" "$q")"
done

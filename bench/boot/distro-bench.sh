#!/bin/sh
# bench/boot/distro-bench.sh — boot time of a stock distribution (guest/build-debian-image.sh's
# Debian 12 image: its kernel, initramfs-tools initrd, systemd on virtio-blk, --net user),
# arcvmm against QEMU microvm (acpi=on, same devices), alternating (POSIX sh: runs under
# busybox inside the nested L1, or directly on a host with hardware KVM).
#
#   distro-bench.sh ARCVMM DISTRO_DIR [RUNS] [CPUS] [MEMORY_MIB]     (defaults 3, 2, 1024)
#
# Per run, from the guest's own arcvmm-check.service lines: systemd-analyze's kernel and
# userspace times, and the initrd unpack time (dmesg: "Trying to unpack rootfs image as initramfs" (older kernels: "Unpacking initramfs") to "Freeing
# initrd memory"); from this machine's clock: the time to the VMM's exit (the guest powers
# off when its check is done). Prints every run, the medians and the arcvmm/QEMU ratios.
# Env: QEMU (qemu-system-x86_64), NESTED_QEMU_DATA (QEMU's firmware folder, for -L),
# WORK (scratch folder for the disk copies, default a mktemp -d under /tmp).
# Timing is printed, never asserted. Trusts: nothing the guest prints (parsed as numbers).

if [ $# -lt 2 ]; then
	echo "usage: $0 ARCVMM DISTRO_DIR [RUNS] [CPUS] [MEMORY_MIB]" >&2
	exit 2
fi
ARCVMM=$1
D=$2
RUNS=${3:-3}
CPUS=${4:-2}
MEM=${5:-1024}
QEMU=${QEMU:-qemu-system-x86_64}
CMD="root=/dev/vda ro console=ttyS0 net.ifnames=0 panic=-1 quiet"
TMO=400
for f in "$D/vmlinuz" "$D/initrd.img" "$D/rootfs.ext4"; do
	[ -f "$f" ] || { echo "distro-bench: missing $f" >&2; exit 2; }
done
ql=""
[ -n "${NESTED_QEMU_DATA:-}" ] && ql="-L $NESTED_QEMU_DATA"
res=$(mktemp -d "${WORK:-/tmp}/distro-bench.XXXXXX") || exit 2
CP=cp
command -v gnu-cp >/dev/null 2>&1 && CP=gnu-cp

now() { read -r now _ </proc/uptime; }

# secs TEXT: systemd's "1min 2.345s" / "345ms" / "2.1s" as seconds
secs() {
	echo "$1" | awk '{ t = 0; for (i = 1; i <= NF; i++) { v = $i
		if (v ~ /ms$/) { sub(/ms$/, "", v); t += v / 1000 }
		else if (v ~ /min$/) { sub(/min$/, "", v); t += v * 60 }
		else if (v ~ /us$/) { sub(/us$/, "", v); t += v / 1000000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); t += v } }
		printf "%.2f\n", t }'
}

# one VMM: boot a fresh copy; print "kernel_s userspace_s unpack_s exit_s status"
one() {
	v=$1
	disk=$res/disk.ext4
	rm -f "$disk"
	"$CP" --sparse=always "$D/rootfs.ext4" "$disk" 2>/dev/null || cp "$D/rootfs.ext4" "$disk"
	con=$res/$v.console
	now
	s=$now
	if [ "$v" = arcvmm ]; then
		timeout -s KILL "$TMO" "$ARCVMM" --kernel "$D/vmlinuz" --initrd "$D/initrd.img" \
			--cpus "$CPUS" --memory "${MEM}M" --disk "$disk" --net user \
			--cmdline "$CMD" </dev/null >"$con" 2>>"$res/stderr"
		st=$?
	else
		# shellcheck disable=SC2086
		timeout -s KILL "$TMO" "$QEMU" $ql \
			-M microvm,acpi=on,x-option-roms=off,isa-serial=on,rtc=on -enable-kvm -cpu host \
			-smp "$CPUS" -m "$MEM" -nodefaults -no-user-config -display none -no-reboot \
			-serial stdio -monitor none -kernel "$D/vmlinuz" -initrd "$D/initrd.img" \
			-append "$CMD" \
			-drive id=d0,file="$disk",format=raw,if=none -device virtio-blk-device,drive=d0 \
			-netdev user,id=n0 -device virtio-net-device,netdev=n0 \
			-object rng-random,id=r0,filename=/dev/urandom -device virtio-rng-device,rng=r0 \
			</dev/null >"$con" 2>>"$res/stderr"
		st=$?
	fi
	now
	e=$(awk -v a="$s" -v b="$now" 'BEGIN { printf "%.2f", b - a }')
	a=$(tr -d '\r' <"$con" | sed -n 's/^ARCVMM-CHECK analyze=Startup finished in //p' | head -n 1)
	k=- u=-
	if [ -n "$a" ]; then
		k=$(secs "$(echo "$a" | sed 's/ (kernel).*//')")
		u=$(secs "$(echo "$a" | sed -n 's/.* + \(.*\) (userspace).*/\1/p')")
	fi
	i0=$(tr -d '\r' <"$con" | sed -n 's/^ARCVMM-CHECK initrd-unpack=//p' | head -n 1)
	i1=$(tr -d '\r' <"$con" | sed -n 's/^ARCVMM-CHECK initrd-freed=//p' | head -n 1)
	un=-
	[ -n "$i0" ] && [ -n "$i1" ] && un=$(awk -v a="$i0" -v b="$i1" 'BEGIN { printf "%.2f", b - a }')
	echo "$k $u $un $e $st"
}

echo "distro-bench: $(basename "$D"), $CPUS vCPUs, $MEM MiB, $RUNS runs each, alternating"
vmms="arcvmm qemu"
command -v "$QEMU" >/dev/null 2>&1 || { echo "distro-bench: no $QEMU: QEMU skipped"; vmms=arcvmm; }
n=1
while [ "$n" -le "$RUNS" ]; do
	for v in $vmms; do
		set -- $(one "$v")
		echo "run $n $v kernel_s=$1 userspace_s=$2 initrd_unpack_s=$3 exit_s=$4 status=$5"
		[ "$1" != - ] && echo "$1" >>"$res/$v.kernel"
		[ "$2" != - ] && echo "$2" >>"$res/$v.user"
		[ "$1" != - ] && [ "$2" != - ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a + b }' >>"$res/$v.total"
		[ "$3" != - ] && echo "$3" >>"$res/$v.unpack"
		[ "$5" = 0 ] && echo "$4" >>"$res/$v.exit"
	done
	n=$((n + 1))
done

median() {
	[ -s "$1" ] || { echo -; return; }
	sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-";
		else printf "%.2f\n", a / b }'
}
for v in $vmms; do
	echo "median $v: kernel_s=$(median "$res/$v.kernel") userspace_s=$(median "$res/$v.user")" \
		"total_s=$(median "$res/$v.total") initrd_unpack_s=$(median "$res/$v.unpack")" \
		"exit_s=$(median "$res/$v.exit")"
done
line="ratio arcvmm/qemu-microvm:"
for m in kernel user total unpack exit; do
	line="$line $m $(ratio "$(median "$res/arcvmm.$m")" "$(median "$res/qemu.$m")")"
done
echo "$line"
if [ -s "$res/stderr" ]; then
	echo "distro-bench: VMM stderr (last 10 lines):"
	tail -n 10 "$res/stderr" | sed 's/^/  ! /'
fi
rm -rf "$res"

#!/usr/bin/env bash
# bench/boot/thp.sh — does guest RAM on transparent huge pages speed up the kernel's
# initrd unpack? Boots Debian's stock kernel with a 30 MiB initrd (the guest images'
# initramfs plus an incompressible 28 MiB file, the size of a distribution's
# initramfs-tools initrd), alternating the host's shmem THP setting between "never"
# (Debian's default: the RAM memfd gets 4 KiB pages) and "advise" (arcvmm's
# MADV_HUGEPAGE on the memfd then gets 2 MiB pages), and --huge-pages 2M (hugetlbfs: 2 MiB
# pages from a pool this script sizes for the run), RUNS times each, and prints per run
# the guest's own unpack time ("Unpacking initramfs" to "Freeing initrd memory", from its
# dmesg timestamps), arcvmm's minor page faults and wall time, then the medians and the
# advise/never and hugetlb/never ratios.
#
#   bench/boot/thp.sh [RUNS]          needs root (writes shmem_enabled) and hardware KVM;
#   tests/nested/run-in-l1.sh --hostroot --sh 'bench/boot/thp.sh 3'     elsewhere
#
# Trusts: its caller; nothing the guest prints is more than matched.
set -u
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
G=${ARCVMM_SHARED_GUEST:-$(cd .. && pwd)/shared/guest}
ARCVMM=${ARCVMM:-build/arcvmm}
knob=/sys/kernel/mm/transparent_hugepage/shmem_enabled
[ -w "$knob" ] || { echo "thp.sh: $knob is not writable (root?)" >&2; exit 2; }
saved=$(sed 's/.*\[\(.*\)\].*/\1/' "$knob")
W=$(mktemp -d)
hp=/proc/sys/vm/nr_hugepages
hp_saved=$(cat "$hp")
trap 'echo "$saved" >"$knob"; echo "$hp_saved" >"$hp"; rm -rf "$W"' EXIT
# 1 GiB of guest RAM: 512 pages of 2 MiB for the hugetlb runs.
echo $((hp_saved + 512)) >"$hp"

# The big initrd: the guest images' initramfs, then a second archive with 28 MiB of random
# bytes (the kernel unpacks concatenated archives in turn).
mkdir -p "$W/pad"
head -c $((28 << 20)) /dev/urandom >"$W/pad/padding"
(cd "$W/pad" && echo padding | cpio -o -H newc --quiet) >"$W/pad.cpio"
cat "$G/debian-initramfs.cpio.gz" "$W/pad.cpio" >"$W/initrd"

run() {
	local huge=none
	if [ "$1" = hugetlb ]; then
		echo never >"$knob"
		huge=2M
	else
		echo "$1" >"$knob"
	fi
	/usr/bin/time -f "%e %R" -o "$W/time" "$ARCVMM" --kernel "$G/debian-vmlinuz" \
		--initrd "$W/initrd" --memory 1G --huge-pages $huge --no-rng --net none \
		--cmdline "console=ttyS0 reboot=k panic=-1 guest.quiet=1 guest.cmd=dmesg" \
		</dev/null 2>/dev/null | tr -d '\r' >"$W/con"
	local a b
	a=$(sed -n 's/^\[ *\([0-9.]*\)\] \(Unpacking initramfs\|Trying to unpack rootfs\).*/\1/p' "$W/con" | head -1)
	b=$(sed -n 's/^\[ *\([0-9.]*\)\] Freeing initrd memory.*/\1/p' "$W/con" | head -1)
	read -r wall minflt <"$W/time"
	if [ -z "$a" ] || [ -z "$b" ]; then
		echo "$1 run: no unpack timestamps in the guest's dmesg:" >&2
		grep -i 'initr\|unpack' "$W/con" | head -5 >&2
		tail -5 "$W/con" >&2
		return 1
	fi
	local u
	u=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }')
	echo "$1 unpack_s=$u minflt=$minflt wall_s=$wall"
	echo "$u" >>"$W/$1.unpack"
	echo "$minflt" >>"$W/$1.flt"
}

for i in $(seq "$RUNS"); do
	run never
	run advise
	run hugetlb
done
med() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
[ -s "$W/never.unpack" ] && [ -s "$W/advise.unpack" ] && [ -s "$W/hugetlb.unpack" ] || exit 1
n=$(med "$W/never.unpack")
h=$(med "$W/advise.unpack")
t=$(med "$W/hugetlb.unpack")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "median unpack: never ${n}s, advise ${h}s, hugetlb ${t}s; ratio advise/never $(ratio "$h" "$n"), hugetlb/never $(ratio "$t" "$n")"
echo "median minor faults: never $(med "$W/never.flt"), advise $(med "$W/advise.flt"), hugetlb $(med "$W/hugetlb.flt")"

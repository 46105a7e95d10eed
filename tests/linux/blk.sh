#!/bin/sh
# tests/linux/blk.sh — virtio-blk seen by a Linux guest (POSIX sh; runs under busybox in the
# nested L1, or directly on a host with hardware KVM).
#
#   ARCVMM=build/arcvmm GUEST_DIR=../shared/guest WORK=/tmp/w sh tests/linux/blk.sh [TEST...]
#
# Each test boots the minimal kernel + initramfs with one or two --disk images made in
# WORK, runs a command in the guest (guest.cmd64, see ../shared/guest/README.md) and checks
# what the guest printed and what the image file holds after the VM ended. Prints
# "ok NAME" or "FAIL NAME: why" (then the tail of the console and of arcvmm's stderr);
# last line "N passed, N failed". Exit status 0 if all passed, 1 otherwise.
#
# WORK must be a local file system that can punch holes (tmpfs, ext4, xfs; not 9p) for
# blk-discard. Env: LT_TIMEOUT (s per boot, default 90).
#
# Tests:
#   blk-rw        /dev/vda has the image's size; a 1 MiB pattern written (then fsync) reads
#                 back the same after dropping the guest's caches, and after power-off the
#                 host file holds it at the right offset (sha256); the rest stays zero
#   blk-ro        ,ro: the guest sees a read-only disk, a write fails, the image is unchanged
#   blk-discard   blkdiscard of 8 MiB in the guest punches a hole in the host file (its
#                 allocated blocks drop by >= 8 MiB) and the range reads back as zeros
#   blk-two       two disks: vda and vdb with their sizes, vdb's serial (id=), a pattern
#                 written to vdb lands in the second image only
#   blk-mq        queues=2: the guest's blk-mq has two hardware queues, and writes from
#                 every vCPU (--cpus 2, taskset) land in the image
#
# Trusts: nothing the guest prints (only matched against patterns).

ARCVMM=${ARCVMM:?set ARCVMM to the arcvmm binary}
G=${GUEST_DIR:?set GUEST_DIR to the guest images}
WORK=${WORK:-$(mktemp -d)}
T=${LT_TIMEOUT:-90}
K=$G/minimal-vmlinux
I=$G/minimal-initramfs.cpio.gz
BASE="console=ttyS0 reboot=k panic=-1 quiet guest.quiet=1"
ALL="blk-rw blk-ro blk-discard blk-two blk-mq"
mkdir -p "$WORK" || exit 2

# The pattern both sides can make: 1 MiB of "arcvmm-blk-pattern\n..." (busybox yes/head).
PAT_CMD='yes arcvmm-blk-pattern | head -c 1048576'
pat_sum() { yes arcvmm-blk-pattern | head -c 1048576 | sha256sum | cut -d' ' -f1; }
# region_sum FILE OFFSET_MIB: sha256 of 1 MiB of FILE at OFFSET_MIB.
region_sum() { dd if="$1" bs=1048576 skip="$2" count=1 2>/dev/null | sha256sum | cut -d' ' -f1; }
zero_sum() { head -c 1048576 /dev/zero | sha256sum | cut -d' ' -f1; }
blocks() { stat -c %b "$1"; } # 512-byte blocks allocated

# run NAME GUEST_COMMAND ARCVMM_ARGS...: boots the guest; console in $con, stderr in $errf.
run() {
	_n=$1
	_cmd=$2
	shift 2
	con=$WORK/$_n.console
	errf=$WORK/$_n.stderr
	_b64=$(printf '%s' "$_cmd" | base64 | tr -d '\n')
	timeout -s KILL "$T" "$ARCVMM" --kernel "$K" --initrd "$I" --memory 256M "$@" \
		--cmdline "$BASE guest.cmd64=$_b64" </dev/null >"$con.raw" 2>"$errf"
	rc=$?
	tr -d '\r' <"$con.raw" >"$con"
	grep -q '^GUEST-CMD-EXIT=' "$con" || { why="the guest command never finished (rc $rc)"; return 1; }
	grep -q '^GUEST-POWEROFF' "$con" || { why="the guest did not power off (rc $rc)"; return 1; }
	[ "$rc" = 0 ] || { why="arcvmm exited with status $rc"; return 1; }
	return 0
}

# value KEY: what the guest printed as KEY=... (first one).
value() { sed -n "s/^$1=//p" "$con" | head -n 1; }
need() { # KEY EXPECTED
	_v=$(value "$1")
	[ "$_v" = "$2" ] && return 0
	why="guest said $1='$_v', expected '$2'"
	return 1
}

mkimg() { # FILE MIB: a zero-filled (sparse) image
	rm -f "$1"
	dd if=/dev/zero of="$1" bs=1048576 count=0 seek="$2" 2>/dev/null
}

t_blk_rw() {
	img=$WORK/rw.img
	mkimg "$img" 64
	run blk-rw "echo SECTORS=\$(cat /sys/block/vda/size)
$PAT_CMD > /tmp/p
dd if=/tmp/p of=/dev/vda bs=65536 seek=48 conv=fsync 2>/dev/null; echo WRITE=\$?
echo 3 > /proc/sys/vm/drop_caches
echo READ=\$(dd if=/dev/vda bs=65536 skip=48 count=16 2>/dev/null | sha256sum | cut -d' ' -f1)" \
		--disk "$img" || return 1
	need SECTORS 131072 && need WRITE 0 && need READ "$(pat_sum)" || return 1
	[ "$(region_sum "$img" 3)" = "$(pat_sum)" ] ||
		{ why="the host file does not hold the pattern at 3 MiB after power-off"; return 1; }
	[ "$(region_sum "$img" 2)" = "$(zero_sum)" ] && [ "$(region_sum "$img" 4)" = "$(zero_sum)" ] ||
		{ why="the write spilled outside its range in the host file"; return 1; }
}

t_blk_ro() {
	img=$WORK/ro.img
	mkimg "$img" 16
	yes arcvmm-ro-image | head -c 1048576 | dd of="$img" conv=notrunc 2>/dev/null
	before=$(sha256sum "$img" | cut -d' ' -f1)
	run blk-ro "echo RO=\$(cat /sys/block/vda/ro)
dd if=/dev/zero of=/dev/vda bs=4096 count=1 conv=fsync 2>/dev/null; echo WRITE=\$?
echo FIRST=\$(head -c 15 /dev/vda)" \
		--disk "$img,ro" || return 1
	need RO 1 && need FIRST arcvmm-ro-image || return 1
	[ "$(value WRITE)" != 0 ] || { why="a write to the read-only disk succeeded"; return 1; }
	[ "$(sha256sum "$img" | cut -d' ' -f1)" = "$before" ] ||
		{ why="the read-only image changed"; return 1; }
}

t_blk_discard() {
	img=$WORK/discard.img
	rm -f "$img"
	# 32 MiB, every block allocated: 32 copies of a 1 MiB pattern (cheap under emulation).
	yes arcvmm-discard | head -c 1048576 >"$WORK/discard.pat"
	for _i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 \
		29 30 31 32; do
		cat "$WORK/discard.pat"
	done >"$img"
	sync
	before=$(blocks "$img")
	run blk-discard "echo DMAX=\$(cat /sys/block/vda/queue/discard_max_bytes)
blkdiscard -o 8388608 -l 8388608 /dev/vda; echo DISCARD=\$?
echo 3 > /proc/sys/vm/drop_caches
echo ZERO=\$(dd if=/dev/vda bs=1048576 skip=8 count=1 2>/dev/null | sha256sum | cut -d' ' -f1)" \
		--disk "$img" || return 1
	need DISCARD 0 || return 1
	after=$(blocks "$img")
	[ $((before - after)) -ge 16384 ] ||
		{ why="host file blocks went from $before to $after (expected a hole of 8 MiB = 16384 blocks)"; return 1; }
	# arcvmm punches holes, so the guest reads zeros there (plain discard would not promise it).
	need ZERO "$(zero_sum)" || return 1
	[ "$(region_sum "$img" 8)" = "$(zero_sum)" ] && [ "$(region_sum "$img" 15)" = "$(zero_sum)" ] ||
		{ why="the discarded range does not read as zeros in the host file"; return 1; }
	[ "$(region_sum "$img" 16)" != "$(zero_sum)" ] ||
		{ why="data after the discarded range is gone"; return 1; }
}

t_blk_two() {
	a=$WORK/two-a.img
	b=$WORK/two-b.img
	mkimg "$a" 16
	mkimg "$b" 32
	run blk-two "echo A=\$(cat /sys/block/vda/size) B=\$(cat /sys/block/vdb/size)
echo SERIAL=\$(cat /sys/block/vdb/serial)
$PAT_CMD | dd of=/dev/vdb bs=65536 seek=16 conv=fsync 2>/dev/null; echo WRITE=\$?" \
		--disk "$a" --disk "$b,id=second-disk" || return 1
	_l=$(grep '^A=' "$con" | head -n 1)
	[ "$_l" = "A=32768 B=65536" ] || { why="sizes: '$_l', expected 'A=32768 B=65536'"; return 1; }
	need SERIAL second-disk && need WRITE 0 || return 1
	[ "$(region_sum "$b" 1)" = "$(pat_sum)" ] || { why="vdb's write is not in the second image"; return 1; }
	[ "$(region_sum "$a" 1)" = "$(zero_sum)" ] || { why="the first image changed"; return 1; }
}

t_blk_mq() {
	img=$WORK/mq.img
	mkimg "$img" 16
	run blk-mq "echo HWQ=\$(ls /sys/block/vda/mq | wc -l)
$PAT_CMD > /tmp/p
taskset 1 dd if=/tmp/p of=/dev/vda bs=65536 seek=16 conv=fsync 2>/dev/null; echo W0=\$?
taskset 2 dd if=/tmp/p of=/dev/vda bs=65536 seek=48 conv=fsync 2>/dev/null; echo W1=\$?" \
		--cpus 2 --disk "$img,queues=2" || return 1
	need HWQ 2 && need W0 0 && need W1 0 || return 1
	[ "$(region_sum "$img" 1)" = "$(pat_sum)" ] && [ "$(region_sum "$img" 3)" = "$(pat_sum)" ] ||
		{ why="the writes from both vCPUs are not both in the image"; return 1; }
}

. "$(dirname "$0")/runner.inc"
run_all "$@"

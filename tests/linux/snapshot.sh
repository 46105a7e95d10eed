#!/bin/sh
# suite: opt-in
# tests/linux/snapshot.sh — snapshot/restore of a Linux guest (POSIX sh; needs curl for the
# API: run it in the nested L1 with --hostroot, or on a host with hardware KVM).
#
#   ARCVMM=build/arcvmm GUEST_DIR=../shared/guest WORK=/tmp/w sh tests/linux/snapshot.sh [TEST...]
#
#   snapshot-linux-counter  the minimal kernel, 256 MiB, a shell loop printing "TICK <n>"
#                          every 100 ms; paused and snapshotted over --api-sock at TICK 20,
#                          stopped; restored in a new arcvmm process: the first TICK there
#                          is the next one (nothing lost or repeated, give or take the
#                          line the pause cut), the guest runs on for 20 more ticks (its
#                          timers, interrupts and console work), and 20 ticks take about
#                          2 s of host time (printed: "sleep 0.1" keeps its length).
#                          The VM also has a disk (8 MiB file) and the default user NIC
#                          (its RX buffers are reserved by the device while idle): each
#                          TICK line is also written to the disk (dd conv=fsync); after the
#                          restored run the image holds the restored guest's ticks.
#                          And a vsock (uds v.sock, relative): a guest vsockt server on port
#                          1024 echoes for a host client before the snapshot and again
#                          after the restore (the restored guest got TRANSPORT_RESET; its
#                          listener keeps working).
#   snapshot-linux-clones  two VMs restored from the same files at once both count on (the
#                          clones use copies of the disk image: an image is locked).
# Prints "ok NAME" / "FAIL NAME: why"; last line "N passed, N failed".
# Env: LT_TIMEOUT (s per boot, 120).
# Trusts: nothing the guest prints (only matched against patterns).

ARCVMM=${ARCVMM:?set ARCVMM to the arcvmm binary}
G=${GUEST_DIR:?set GUEST_DIR to the guest images}
WORK=${WORK:-$(mktemp -d)}
T=${LT_TIMEOUT:-120}
K=$G/minimal-vmlinux
I=$G/minimal-initramfs.cpio.gz
VSOCKT=${VSOCKT:-$(dirname "$ARCVMM")/guest-tools/vsockt}
ALL="snapshot-linux-counter snapshot-linux-clones"
mkdir -p "$WORK" || exit 2
. "$(dirname "$0")/runner.inc"

wait_for() { # FILE PATTERN SECONDS
	_i=0
	while [ $_i -lt $(($3 * 10)) ]; do
		tr -d '\r' 2>/dev/null <"$1" | grep -q -- "$2" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
api() { # METHOD PATH BODY: prints the HTTP status
	curl -s -o "$WORK/resp" -w '%{http_code}' --max-time 60 --unix-socket "$WORK/api.sock" \
		-X "$1" -H 'Content-Type: application/json' -d "$3" "http://localhost$2"
}
last_tick() { tr -d '\r' <"$1" | sed -n 's/^TICK \([0-9][0-9]*\)$/\1/p' | tail -n 1; }
first_tick() { tr -d '\r' <"$1" | sed -n 's/^TICK \([0-9][0-9]*\)$/\1/p' | head -n 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

snapped=0
snap() {
	[ $snapped = 1 ] && return 0
	snapped=1
	command -v curl >/dev/null || { why="no curl (run with --hostroot)"; return 1; }
	con=$WORK/snap1.console
	errf=$WORK/snap1.stderr
	rm -f "$WORK/api.sock"
	mkdir -p "$WORK/a" "$WORK/c1" "$WORK/c2"
	dd if=/dev/zero of="$WORK/a/disk.img" bs=1M count=8 2>/dev/null
	[ -x "$VSOCKT" ] || { why="no $VSOCKT (make guest-tools)"; return 1; }
	cat "$I" "$(dirname "$VSOCKT")/vsockt.cpio.gz" >"$WORK/initrd" || return 1
	cmd='/vsockt server vsock:1024 1000 >/dev/null 2>&1 & i=0; while true; do echo TICK $i; echo "TICK $i" | dd of=/dev/vda bs=512 seek=$i conv=notrunc,fsync 2>/dev/null; i=$((i+1)); sleep 0.1; done'
	b64=$(printf '%s' "$cmd" | base64 | tr -d '\n')
	(cd "$WORK/a" && exec timeout -s KILL "$T" "$ARCVMM" --kernel "$K" --initrd "$WORK/initrd" \
		--memory 256M --disk disk.img --vsock cid=3,uds=v.sock \
		--cmdline "console=ttyS0 reboot=k panic=-1 quiet guest.quiet=1 guest.cmd64=$b64" \
		--api-sock "$WORK/api.sock" </dev/null >"$con" 2>"$errf") &
	p=$!
	wait_for "$con" '^TICK 20$' "$T" || { why="the guest did not reach TICK 20"; kill $p; return 1; }
	timeout 30 "$VSOCKT" client "hyb:$WORK/a/v.sock:1024" e 4096 >"$WORK/vs1" 2>&1
	grep -q ' e ok' "$WORK/vs1" || { why="vsock echo before the snapshot: $(cat "$WORK/vs1")"; kill $p; return 1; }
	st=$(api PATCH /vm '{"state":"Paused"}')
	[ "$st" = 204 ] || { why="pause: $st $(cat "$WORK/resp")"; kill $p; return 1; }
	t0=$(now_ms)
	st=$(api PUT /snapshot/create "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"$WORK/s\",\"mem_file_path\":\"$WORK/m\"}")
	t1=$(now_ms)
	kill -INT $p
	wait $p
	[ "$st" = 204 ] || { why="snapshot: $st $(cat "$WORK/resp")"; return 1; }
	cp "$WORK/a/disk.img" "$WORK/c1/disk.img"
	cp "$WORK/a/disk.img" "$WORK/c2/disk.img"
	echo "  snapshot of 256 MiB Linux: $((t1 - t0)) ms, state $(stat -c %s "$WORK/s") bytes," \
		"memory $(du -k "$WORK/m" | cut -f1) KiB on disk"
	return 0
}

t_snapshot_linux_counter() {
	snap || return 1
	last=$(last_tick "$WORK/snap1.console")
	con=$WORK/snap2.console
	errf=$WORK/snap2.stderr
	(cd "$WORK/a" && exec timeout -s KILL "$T" "$ARCVMM" --restore "$WORK/s,mem=$WORK/m" \
		</dev/null >"$con" 2>"$errf") &
	p=$!
	want=$((last + 1))
	wait_for "$con" "^TICK $want\$" 60 || { why="no TICK $want after the restore"; kill $p; return 1; }
	timeout 30 "$VSOCKT" client "hyb:$WORK/a/v.sock:1024" e 4096 >"$WORK/vs2" 2>&1
	ta=$(now_ms)
	wait_for "$con" "^TICK $((want + 20))\$" 60 || { why="the restored guest stopped counting"; kill $p; return 1; }
	tb=$(now_ms)
	kill -INT $p
	wait $p
	grep -q ' e ok' "$WORK/vs2" || { why="vsock echo after the restore: $(cat "$WORK/vs2")"; return 1; }
	first=$(first_tick "$con")
	echo "  restored: first TICK $first (last before the snapshot: $last); 20 ticks in $((tb - ta)) ms of host time"
	[ "$first" = "$want" ] || { why="first TICK after the restore is $first, expected $want"; return 1; }
	n=$((want + 20))
	dd if="$WORK/a/disk.img" bs=512 skip=$n count=1 2>/dev/null | tr -d '\0' | grep -qx "TICK $n" ||
		{ why="the disk has no 'TICK $n' at sector $n (written by the restored guest)"; return 1; }
	return 0
}

t_snapshot_linux_clones() {
	snap || return 1
	last=$(last_tick "$WORK/snap1.console")
	con=$WORK/clone1.console
	errf=$WORK/clone1.stderr
	# The disk was given by a relative path: each clone runs in its own folder with its
	# own copy of the image taken at the snapshot (an image is locked by the VM using it),
	# as Firecracker's jailer does it.
	(cd "$WORK/c1" && exec timeout -s KILL "$T" "$ARCVMM" --restore "$WORK/s,mem=$WORK/m" \
		</dev/null >"$con" 2>"$errf") &
	p1=$!
	(cd "$WORK/c2" && exec timeout -s KILL "$T" "$ARCVMM" --restore "$WORK/s,mem=$WORK/m" \
		</dev/null >"$WORK/clone2.console" 2>"$WORK/clone2.stderr") &
	p2=$!
	ok=1
	wait_for "$con" "^TICK $((last + 20))\$" 90 || { why="clone 1 did not count on"; ok=0; }
	wait_for "$WORK/clone2.console" "^TICK $((last + 20))\$" 90 || { why="${why:-clone 2 did not count on}"; ok=0; }
	kill -INT $p1 $p2
	wait $p1 $p2
	[ $ok = 1 ]
}

run_all "$@"

#!/bin/sh
# tests/linux/control.sh — the control plane with real Linux guests (POSIX sh; runs under
# busybox in the nested L1, or directly on a host with hardware KVM): pause/resume,
# graceful stops. Drives the REST API with curl over its Unix socket.
#
#   ARCVMM=build/arcvmm GUEST_DIR=../shared/guest WORK=/tmp/w sh tests/linux/control.sh [TEST...]
#
#   control-pause-30s     Debian's stock kernel (soft-lockup, RCU-stall and clocksource
#                         watchdogs built in), 2 vCPUs, a disk and a NIC on NET_PEER
#                         (bench/net/net_peer -w) flooding 30000 ICMP echo requests from
#                         the start: the guest writes numbered 4 KiB blocks with O_SYNC, one
#                         a second; the VM is paused for 30 s through PATCH /vm in the
#                         middle (its console must stay silent), then resumed: every block
#                         is on the disk image, every echo request was answered in order,
#                         and the guest's kernel log has no lockup, stall or watchdog line
#                         from the pause on
#   control-power-button  SIGTERM to arcvmm presses the ACPI power button: the guest sees
#                         the GED interrupt (its ACPI power-button device probed), powers
#                         off, and arcvmm exits 0 without its hard-stop timeout
#   control-ctrl-alt-del  PUT /actions SendCtrlAltDel: the guest's i8042 keyboard driver
#                         gets Ctrl-Alt-Del (kernel.ctrl-alt-del=1: immediate reboot), the
#                         VM ends as a guest reset, exit 0
# Prints "ok NAME" / "FAIL NAME: why"; last line "N passed, N failed".
# Env: LT_TIMEOUT (s per minimal boot, 90), LT_SLOW_TIMEOUT (Debian kernel, 240), NET_PEER
# (default bench/net/net_peer beside ARCVMM's build folder).
#
# Trusts: nothing the guest prints (only matched against patterns).

ARCVMM=${ARCVMM:?set ARCVMM to the arcvmm binary}
G=${GUEST_DIR:?set GUEST_DIR to the guest images}
WORK=${WORK:-$(mktemp -d)}
T=${LT_TIMEOUT:-90}
T_SLOW=${LT_SLOW_TIMEOUT:-240}
NET_PEER=${NET_PEER:-$(dirname "$ARCVMM")/bench/net/net_peer}
K=$G/minimal-vmlinux
I=$G/minimal-initramfs.cpio.gz
ALL="control-pause-30s control-power-button control-ctrl-alt-del"
BASE="console=ttyS0 reboot=k panic=-1 quiet guest.quiet=1"
mkdir -p "$WORK" || exit 2

b64() { printf '%s' "$1" | base64 | tr -d '\n'; }
# wait_for FILE PATTERN SECONDS: 0 once PATTERN shows up in FILE
wait_for() {
	_i=0
	while [ $_i -lt "$3" ]; do
		tr -d '\r' <"$1" 2>/dev/null | grep -q -- "$2" && return 0
		sleep 1
		_i=$((_i + 1))
	done
	return 1
}
api() { curl -s -o "$WORK/api.resp" -w '%{http_code}' --max-time 30 --unix-socket "$SOCK" \
	-X "$1" "http://localhost$2" -H 'Content-Type: application/json' -d "$3"; }
fail_if_no_curl() { command -v curl >/dev/null || { why="no curl (needed for the API)"; return 1; }; }
finish() { tr -d '\r' <"$con.raw" >"$con"; }

t_control_pause_30s() {
	fail_if_no_curl || return 1
	[ -x "$NET_PEER" ] || { why="no peer program $NET_PEER"; return 1; }
	[ -f "$G/debian-vmlinuz" ] || { why="no $G/debian-vmlinuz"; return 1; }
	con=$WORK/pause.console
	errf=$WORK/pause.stderr
	SOCK=$WORK/pause.sock
	img=$WORK/pause.img
	rm -f "$SOCK" "$img"
	dd if=/dev/zero of="$img" bs=4096 count=64 2>/dev/null
	# The writer: block i holds "BLOCK-i", written with O_SYNC (conv=fsync), one a
	# second; the console shows each. Then the kernel log is checked by the guest itself.
	s='ip addr add 10.0.3.2/24 dev eth0
echo 16777216 >/proc/sys/net/ipv4/neigh/eth0/unres_qlen_bytes
ip link set eth0 up
i=0
while [ $i -lt 16 ]; do
	printf "BLOCK-%04d" $i | dd of=/dev/vda bs=4096 seek=$i conv=sync,fsync 2>/dev/null
	echo "WROTE $i $(cut -d" " -f1 /proc/uptime)"
	i=$((i + 1)); sleep 1
done
dmesg | grep -iE "soft lockup|hard lockup|stall|watchdog: BUG|clocksource|hung task|tsc.*unstable" |
	sed "s/^/DMESG-HIT /"
echo DMESG-END
echoes() { awk "/^Icmp:/ { n++; if (n == 2) print \$10 }" /proc/net/snmp; }
i=0; while [ "$(echoes)" -lt 30000 ] && [ $i -lt 150 ]; do sleep 1; i=$((i + 1)); done
echo "NET-ECHOES $(echoes)"
echo "NET-ICMP $(grep Icmp: /proc/net/snmp | tail -1)"'
	: >"$con.raw"
	# net_peer starts arcvmm with --net fd=3 and floods from the start; -w: arcvmm ends
	# by itself (the guest powers off), then the peer reports.
	"$NET_PEER" -w -n 30000 -t "$T_SLOW" -- "$ARCVMM" --api-sock "$SOCK" \
		--kernel "$G/debian-vmlinuz" --initrd "$G/debian-initramfs.cpio.gz" --cpus 2 \
		--memory 512M --disk "$img" --metrics-path "$WORK/pause.metrics" \
		--cmdline "$BASE guest.cmd64=$(b64 "$s")" \
		</dev/null >"$con.raw" 2>"$errf" &
	pid=$!
	if ! wait_for "$con.raw" '^WROTE 3 ' "$T_SLOW"; then
		kill -KILL $pid 2>/dev/null
		pkill -KILL -f "$SOCK" 2>/dev/null
		wait $pid
		finish
		why="the writer never got going"
		return 1
	fi
	code=$(api PATCH /vm '{"state": "Paused"}')
	[ "$code" = 204 ] || { kill -KILL $pid; pkill -KILL -f "$SOCK"; wait $pid; finish; why="PATCH /vm Paused: $code $(cat "$WORK/api.resp")"; return 1; }
	sleep 2
	s0=$(wc -c <"$con.raw")
	sleep 28
	s1=$(wc -c <"$con.raw")
	code2=$(api GET / '')
	grep -q '"state":"Paused"' "$WORK/api.resp" || code2="$code2 $(cat "$WORK/api.resp")"
	code=$(api PATCH /vm '{"state": "Resumed"}')
	wait_for "$con.raw" '^DMESG-END' 120
	wait $pid
	peer_rc=$?
	finish
	rc=$(sed -n 's/^peer: vmm exit //p' "$con")
	[ "$s0" = "$s1" ] || { why="the console grew from $s0 to $s1 bytes while paused"; return 1; }
	case "$code2" in 200) ;; *) why="GET / while paused: $code2"; return 1 ;; esac
	[ "$code" = 204 ] || { why="PATCH /vm Resumed: $code"; return 1; }
	grep -q '^DMESG-END' "$con" || { why="the guest never finished its writes"; return 1; }
	# Only what the kernel logged from the pause on counts (a boot-time line such as
	# "TSC unstable" is another matter): the guest's uptime at "WROTE 3" is before it.
	t_pause=$(grep '^WROTE 3 ' "$con" | awk '{print $3}')
	hits=$(grep '^DMESG-HIT' "$con" | sed 's/^DMESG-HIT \[ *\([0-9.]*\)\].*/\1 &/' |
		awk -v t="$t_pause" '$1 + 0 >= t + 0 { $1 = ""; print }')
	[ -z "$hits" ] || { why="the guest logged after the pause: $hits"; return 1; }
	grep '^DMESG-HIT' "$con" | sed 's/^/# control-pause-30s: before the pause: /'
	[ "$rc" = 0 ] || { why="arcvmm exited ${rc:-?}"; return 1; }
	# No frame lost by the device across the pause, either way: the guest received every
	# echo request (its InEchos), and every frame the device took from the guest's TX ring
	# reached the peer (the device's tx_frames, from the last metrics line, against the
	# peer's count: the difference is the guest's few ARP frames). Replies the guest's own
	# stack dropped before its TX ring (its qdisc under a flood) are the guest's business.
	flood=$(grep '^peer: flood' "$con")
	echoes=$(sed -n 's/^NET-ECHOES //p' "$con")
	replies=$(echo "$flood" | sed -n 's/.* replies \([0-9]*\).*/\1/p')
	backwards=$(echo "$flood" | sed -n 's/.* backwards \([0-9]*\).*/\1/p')
	tx=$(tail -n 1 "$WORK/pause.metrics" 2>/dev/null | sed -n 's/.*"tx_frames":\([0-9]*\).*/\1/p')
	out_reps=$(grep '^NET-ICMP' "$con" | awk '{print $27}')
	echo "# control-pause-30s: $flood; guest InEchos ${echoes:-?} OutEchoReps ${out_reps:-?}; device tx_frames ${tx:-?}"
	[ "$echoes" = 30000 ] || { why="the guest received ${echoes:-?} of 30000 echo requests"; return 1; }
	[ "$backwards" = 0 ] || { why="replies reordered: $flood"; return 1; }
	[ -n "$tx" ] && [ -n "$replies" ] && [ $((tx - replies)) -ge 0 ] && [ $((tx - replies)) -le 32 ] ||
		{ why="the device sent ${tx:-?} frames, the peer got ${replies:-?} replies"; return 1; }
	_i=0
	while [ $_i -lt 16 ]; do
		_want=$(printf 'BLOCK-%04d' $_i)
		_got=$(dd if="$img" bs=4096 skip=$_i count=1 2>/dev/null | head -c 10)
		[ "$_got" = "$_want" ] || { why="block $_i on the image is '$_got', not $_want"; return 1; }
		_i=$((_i + 1))
	done
	# The guest's clock went on from where it stopped: no 30 s jump between two writes.
	gap=$(grep '^WROTE ' "$con" | awk 'NR > 1 { d = $3 - p; if (d > m) m = d } { p = $3 } END { printf "%d", m }')
	echo "# control-pause-30s: longest gap between the guest's writes (guest uptime) ${gap}s"
	[ "${gap:-99}" -lt 20 ] || { why="the guest saw a ${gap}s jump in its clock"; return 1; }
}

t_control_power_button() {
	con=$WORK/pwrb.console
	errf=$WORK/pwrb.stderr
	# The GED's line in /proc/interrupts ("ACPI:Ged") counts the button's interrupt.
	s='dmesg | grep -q "Power Button" && echo PWRB-PROBED
n() { awk "/ACPI:Ged/ { s = 0; for (i = 2; i <= NF; i++) if (\$i ~ /^[0-9]+\$/) s += \$i; print s }" /proc/interrupts; }
echo "PWRB-READY $(n)"
i=0; while [ "$(n)" = 0 ] && [ $i -lt 120 ]; do sleep 1; i=$((i + 1)); done
echo "PWRB-GOT $(n)"'
	: >"$con.raw"
	timeout -s KILL "$T" "$ARCVMM" --kernel "$K" --initrd "$I" --memory 256M --net none \
		--shutdown-timeout 60 --cmdline "$BASE guest.cmd64=$(b64 "$s")" \
		</dev/null >"$con.raw" 2>"$errf" &
	pid=$!
	wait_for "$con.raw" '^PWRB-READY' "$T" || { kill -KILL $pid; wait $pid; finish; why="the guest never got ready"; return 1; }
	kill -TERM $pid
	wait $pid
	rc=$?
	finish
	grep -q '^PWRB-PROBED' "$con" || { why="the guest has no ACPI power button device"; return 1; }
	grep -q '^PWRB-READY 0' "$con" || { why="the GED interrupt fired before the press"; return 1; }
	grep -q '^PWRB-GOT [1-9]' "$con" || { why="the guest never saw the GED interrupt"; return 1; }
	grep -q 'did not power off in time' "$errf" && { why="arcvmm had to stop the guest hard"; return 1; }
	[ "$rc" = 0 ] || { why="arcvmm exited $rc, expected 0 (guest power-off)"; return 1; }
}

t_control_ctrl_alt_del() {
	fail_if_no_curl || return 1
	con=$WORK/cad.console
	errf=$WORK/cad.stderr
	SOCK=$WORK/cad.sock
	rm -f "$SOCK"
	s='echo 1 >/proc/sys/kernel/ctrl-alt-del; echo CAD-READY; sleep 120; echo CAD-IGNORED'
	: >"$con.raw"
	timeout -s KILL "$T" "$ARCVMM" --api-sock "$SOCK" --kernel "$K" --initrd "$I" --memory 256M \
		--net none --cmdline "$BASE guest.exit=hang guest.cmd64=$(b64 "$s")" \
		</dev/null >"$con.raw" 2>"$errf" &
	pid=$!
	wait_for "$con.raw" '^CAD-READY' "$T" || { kill -KILL $pid; wait $pid; finish; why="the guest never got ready"; return 1; }
	code=$(api PUT /actions '{"action_type": "SendCtrlAltDel"}')
	wait $pid
	rc=$?
	finish
	[ "$code" = 204 ] || { why="SendCtrlAltDel: $code $(cat "$WORK/api.resp")"; return 1; }
	grep -q '^CAD-IGNORED' "$con" && { why="the guest ignored Ctrl-Alt-Del"; return 1; }
	grep -q 'guest reset' "$errf" || { why="the VM did not end as a guest reset"; return 1; }
	[ "$rc" = 0 ] || { why="arcvmm exited $rc, expected 0"; return 1; }
}

. "$(dirname "$0")/runner.inc"
run_all "$@"

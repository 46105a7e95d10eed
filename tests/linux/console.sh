#!/bin/sh
# tests/linux/console.sh — virtio-console (hvc0) seen by a Linux guest (POSIX sh; runs under
# busybox in the nested L1, or directly on a host with hardware KVM).
#
#   ARCVMM=build/arcvmm GUEST_DIR=../shared/guest WORK=/tmp/w sh tests/linux/console.sh [TEST...]
#
# Tests (all with --console virtio; arcvmm's stdin is a FIFO, its stdout is captured).
#   console-hvc0-io   console=ttyS0 only: a line the guest writes to /dev/hvc0 comes out on
#                     arcvmm's stdout, and a line on arcvmm's stdin is read from /dev/hvc0
#   console-hvc0-init console=hvc0 last, so /dev/console is hvc0: init's GUEST-* lines reach
#                     stdout through the virtio console, and the guest lists hvc0 as active
#   console-serial-io the default --console serial: a line on arcvmm's stdin is read by the
#                     guest from ttyS0 (its /dev/console) through the 8250's receive path
# Prints "ok NAME" / "FAIL NAME: why" (then the console and stderr tails); last line
# "N passed, N failed". Exit status 0 if all passed. Env: LT_TIMEOUT (s per boot, 90).
#
# Trusts: nothing the guest prints (only matched against patterns).

ARCVMM=${ARCVMM:?set ARCVMM to the arcvmm binary}
G=${GUEST_DIR:?set GUEST_DIR to the guest images}
WORK=${WORK:-$(mktemp -d)}
T=${LT_TIMEOUT:-90}
K=$G/minimal-vmlinux
I=$G/minimal-initramfs.cpio.gz
ALL="console-hvc0-io console-hvc0-init console-serial-io"
mkdir -p "$WORK" || exit 2

# run NAME CONSOLES INPUT GUEST_COMMAND: boots with --console virtio. arcvmm's stdin is a
# FIFO; INPUT is written to it once the guest printed "via-hvc0-marker" (Linux drops input
# that reaches hvc0 before anything opened it), or never if INPUT is empty.
run() {
	_n=$1
	_consoles=$2
	_in=$3
	_b64=$(printf '%s' "$4" | base64 | tr -d '\n')
	con=$WORK/$_n.console
	errf=$WORK/$_n.stderr
	rm -f "$WORK/$_n.fifo" "$con.raw"
	mkfifo "$WORK/$_n.fifo" || { why="cannot make a FIFO in $WORK"; return 1; }
	: >"$con.raw"
	timeout -s KILL "$T" "$ARCVMM" --kernel "$K" --initrd "$I" --memory 256M \
		--console "${CONSOLE_MODE:-virtio}" \
		--cmdline "$_consoles reboot=k panic=-1 quiet guest.quiet=1 guest.cmd64=$_b64" \
		<"$WORK/$_n.fifo" >"$con.raw" 2>"$errf" &
	_pid=$!
	exec 4>"$WORK/$_n.fifo"
	if [ -n "$_in" ]; then
		_i=0
		while [ $_i -lt "$T" ] && ! grep -q -- "${WAIT_MARKER:-via-hvc0-marker}" "$con.raw"; do
			sleep 1
			_i=$((_i + 1))
		done
		printf '%s' "$_in" >&4
	fi
	wait $_pid
	rc=$?
	exec 4>&-
	tr -d '\r' <"$con.raw" >"$con"
	grep -q '^GUEST-CMD-EXIT=' "$con" || { why="no GUEST-CMD-EXIT line (rc $rc)"; return 1; }
	[ "$rc" = 0 ] || { why="arcvmm exited with status $rc"; return 1; }
	return 0
}

t_console_hvc0_io() {
	run console-hvc0-io "console=ttyS0" "hello-from-host
" 'exec 3<>/dev/hvc0
echo via-hvc0-marker >&3
read -t 60 -r line <&3; echo "GOT=$line"' || return 1
	grep -q 'via-hvc0-marker' "$con" ||
		{ why="what the guest wrote to /dev/hvc0 did not reach stdout"; return 1; }
	grep -q '^GOT=hello-from-host$' "$con" ||
		{ why="the guest did not read the host's line from /dev/hvc0"; return 1; }
}

t_console_serial_io() {
	CONSOLE_MODE=serial WAIT_MARKER=serial-input-marker run console-serial-io "console=ttyS0" \
		"hello-from-host
" 'echo serial-input-marker; read -t 60 -r line; echo "GOT=$line"' || return 1
	grep -q '^GOT=hello-from-host$' "$con" ||
		{ why="the guest did not read the host's line from ttyS0"; return 1; }
}

t_console_hvc0_init() {
	run console-hvc0-init "console=ttyS0 console=hvc0" "" \
		'echo "ACTIVE=$(cat /sys/class/tty/console/active)"' || return 1
	grep -q '^GUEST-INIT-READY' "$con" || { why="no GUEST-INIT-READY on stdout"; return 1; }
	grep -q '^ACTIVE=.*hvc0' "$con" || { why="hvc0 is not an active console in the guest"; return 1; }
	grep -q '^GUEST-POWEROFF' "$con" || { why="no GUEST-POWEROFF on stdout"; return 1; }
}

. "$(dirname "$0")/runner.inc"
run_all "$@"

#!/bin/sh
# tests/nested/linux-tests.sh — Linux-guest boot tests for arcvmm (plain POSIX sh: it runs
# under busybox inside the nested L1 as well as directly on a host with hardware KVM).
#
#   linux-tests.sh ARCVMM GUEST_DIR OUT_DIR [TEST...]      (default: every test)
#   linux-tests.sh --list
#
# Each test boots a guest from GUEST_DIR (the images described in ../shared/guest/README.md:
# minimal-vmlinux, minimal-bzImage, minimal-initramfs.cpio.gz, debian-vmlinuz,
# debian-initramfs.cpio.gz) with ARCVMM and checks the GUEST-* lines its /init prints on
# the serial console, plus arcvmm's exit status. It prints "ok NAME" or "FAIL NAME: why"
# (then the tail of the guest console and arcvmm's stderr), appends the same to
# OUT_DIR/results, and keeps OUT_DIR/NAME.console and NAME.stderr. Exit status: 0 when all
# ran tests passed, 1 otherwise.
#
# Env: LT_TIMEOUT (s, per minimal-kernel boot, default 90), LT_SLOW_TIMEOUT (Debian kernel,
# default 240), LT_BUDGET (s for the whole run, default 900: tests not started by then
# fail as "not run"), LT_CMDLINE_MAX (longest accepted command line, default 2047 =
# Linux x86's COMMAND_LINE_SIZE minus the NUL), LT_HEARTBEAT (file that gets "NAME
# TIMEOUT" as each test starts; default OUT_DIR/../heartbeat).
#
# Trusts: nothing the guest prints (it is only matched against patterns).

TESTS="boot-vmlinux boot-bzimage poweroff smp-2 smp-4 mem-128m mem-1g mem-5g reboot-i8042
reboot-triple-fault panic panic-triple-fault cmdline-quotes cmdline-long cmdline-too-long
virtio-rng virtio-net-user debian-stock debian-virtio"

if [ "${1:-}" = --list ]; then
	for t in $TESTS; do echo "$t"; done
	exit 0
fi
if [ $# -lt 3 ]; then
	echo "usage: $0 ARCVMM GUEST_DIR OUT_DIR [TEST...]" >&2
	exit 2
fi
ARCVMM=$1
G=$2
OUT=$3
shift 3
[ $# -gt 0 ] && TESTS="$*"
T_MIN=${LT_TIMEOUT:-90}
T_SLOW=${LT_SLOW_TIMEOUT:-240}
BUDGET=${LT_BUDGET:-900}
CMDLINE_MAX=${LT_CMDLINE_MAX:-2047}
mkdir -p "$OUT" || exit 2
: >"$OUT/results"

# The guest ends through the i8042 reset line (reboot=k) or ACPI power-off; a panic
# reboots at once (panic=-1); "quiet" keeps the slow nested serial console short.
BASE="console=ttyS0 reboot=k panic=-1 quiet"
MIN_K="$G/minimal-vmlinux"
MIN_BZ="$G/minimal-bzImage"
MIN_I="$G/minimal-initramfs.cpio.gz"

now() { read -r now _ </proc/uptime; }
now
t_start=$now

# vm NAME TIMEOUT ARCVMM_ARGS...: run arcvmm; console (stdout) in $OUT/NAME.console,
# stderr in $OUT/NAME.stderr, a copy without CRs in $con. Sets rc, secs, timed_out.
vm() {
	_n=$1
	_t=$2
	shift 2
	now
	_s=$now
	timeout -s KILL "$_t" "$ARCVMM" "$@" >"$OUT/$_n.console" 2>"$OUT/$_n.stderr" </dev/null
	rc=$?
	now
	secs=$(awk -v a="$_s" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
	timed_out=0
	if [ "$rc" = 137 ] || [ "$rc" = 124 ]; then
		awk -v e="$secs" -v t="$_t" 'BEGIN { exit !(e >= t - 1) }' && timed_out=1
	fi
	con=$OUT/$_n.con.txt
	tr -d '\r' <"$OUT/$_n.console" >"$con"
	errf=$OUT/$_n.stderr
}

# Checks: each returns 1 and sets $why when it does not hold.
need_image() {
	for _f in "$@"; do
		[ -f "$_f" ] || { why="missing guest image $_f"; return 1; }
	done
}
need_line() {
	grep -Eq "$1" "$con" && return 0
	why="${2:-no console line matching /$1/}"
	[ "$timed_out" = 1 ] && why="$why (arcvmm killed after ${secs}s)"
	return 1
}
need_exit0() {
	[ "$timed_out" = 1 ] && { why="timed out: arcvmm killed after ${secs}s"; return 1; }
	[ "$rc" = 0 ] && return 0
	why="arcvmm exited with status $rc (expected 0)"
	return 1
}
need_ready() {
	need_line '^GUEST-INIT-READY' "guest never printed GUEST-INIT-READY"
}
# need_value KEY EXPECTED: the guest printed a line "KEY=EXPECTED".
need_value() {
	_v=$(sed -n "s/^$1=//p" "$con" | head -n 1)
	[ "$_v" = "$2" ] && return 0
	why="guest reported $1='$_v', expected '$2'"
	return 1
}

boot_min() { # NAME [ARCVMM_ARGS...] with the minimal vmlinux + initramfs
	_n=$1
	shift
	need_image "$MIN_K" "$MIN_I" || return 1
	vm "$_n" "$T_MIN" --kernel "$MIN_K" --initrd "$MIN_I" "$@"
}

# ---- tests ------------------------------------------------------------------------------

# PVH entry (uncompressed vmlinux), 1 vCPU, clean end (ACPI power-off if arcvmm offers
# ACPI, else reboot: guest.exit=auto), exit status 0.
t_boot_vmlinux() {
	boot_min boot-vmlinux --cpus 1 --memory 256M \
		--cmdline "$BASE guest.quiet=1 guest.cmd=\"echo NPROC=\$(nproc)\"" &&
		need_ready && need_value NPROC 1 && need_line '^GUEST-POWEROFF' && need_exit0
}

# Linux boot protocol (bzImage, gzip payload).
t_boot_bzimage() {
	need_image "$MIN_BZ" "$MIN_I" || return 1
	vm boot-bzimage "$T_MIN" --kernel "$MIN_BZ" --initrd "$MIN_I" --cpus 1 --memory 256M \
		--cmdline "$BASE guest.quiet=1" &&
		need_ready && need_line '^GUEST-POWEROFF' && need_exit0
}

# The guest powers off (ACPI S5 or whatever arcvmm offers for "poweroff -f"); the VM ends.
t_poweroff() {
	boot_min poweroff --cpus 1 --memory 256M --cmdline "$BASE guest.quiet=1 guest.exit=poweroff" &&
		need_ready && need_line '^GUEST-POWEROFF poweroff' && need_exit0
}

smp() {
	boot_min "smp-$1" --cpus "$1" --memory 256M \
		--cmdline "$BASE guest.quiet=1 guest.cmd=\"echo NPROC=\$(nproc)\"" &&
		need_ready && need_value NPROC "$1" && need_exit0
}
t_smp_2() { smp 2; }
t_smp_4() { smp 4; }

MEM_CMD="grep MemTotal /proc/meminfo; grep 'System RAM' /proc/iomem"
# mem NAME MIB: MemTotal within [MIB * lo%, MIB] and, above 4 GiB, System RAM there.
mem() {
	boot_min "$1" --cpus 1 --memory "${2}M" \
		--cmdline "$BASE guest.quiet=1 guest.cmd=\"$MEM_CMD\"" ||
		return 1
	need_ready || return 1
	_kb=$(awk '/^MemTotal:/ { print $2; exit }' "$con")
	[ -n "$_kb" ] || { why="guest printed no MemTotal"; return 1; }
	_lo=90
	[ "$2" -lt 1024 ] && _lo=70
	if ! awk -v kb="$_kb" -v m="$2" -v lo="$_lo" \
		'BEGIN { exit !(kb <= m * 1024 && kb >= m * 1024 * lo / 100) }'; then
		why="MemTotal ${_kb} kB is outside ${_lo}%..100% of ${2} MiB"
		return 1
	fi
	if [ "$2" -gt 4096 ]; then
		# /proc/iomem lines look like "100000000-17fffffff : System RAM".
		if ! awk '/: System RAM$/ { split($1, r, "-"); s = r[1]; sub(/^0+/, "", s);
			if (length(s) >= 9) f = 1 } END { exit !f }' "$con"; then
			why="no System RAM range at or above 4 GiB in the guest's /proc/iomem"
			return 1
		fi
	fi
	need_exit0
}
t_mem_128m() { mem mem-128m 128; }
t_mem_1g() { mem mem-1g 1024; }
t_mem_5g() { mem mem-5g 5120; }

# A guest reboot ends the VM with status 0: through the i8042 reset line ...
t_reboot_i8042() {
	boot_min reboot-i8042 --cpus 1 --memory 256M \
		--cmdline "console=ttyS0 reboot=k panic=-1 quiet guest.quiet=1 guest.exit=reboot" &&
		need_ready && need_line '^GUEST-POWEROFF reboot' && need_exit0
}
# ... and through a triple fault.
t_reboot_triple_fault() {
	boot_min reboot-triple-fault --cpus 1 --memory 256M \
		--cmdline "console=ttyS0 reboot=t panic=-1 quiet guest.quiet=1 guest.exit=reboot" &&
		need_ready && need_line '^GUEST-POWEROFF reboot' && need_exit0
}

# init exits at once (rdinit=/bin/false) -> "Attempted to kill init" panic -> panic=-1
# resets the guest at once. arcvmm must end non-zero and say why on stderr, whichever
# way the guest resets: i8042 (reboot=k, arcvmm's default) or triple fault (reboot=t).
panic() {
	boot_min "$1" --cpus 1 --memory 256M \
		--cmdline "console=ttyS0 reboot=$2 panic=-1 rdinit=/bin/false" || return 1
	need_line 'Kernel panic' "the guest did not panic (no 'Kernel panic' on the console)" ||
		return 1
	if [ "$timed_out" = 1 ]; then
		why="arcvmm did not end after the panic (killed after ${secs}s)"
		return 1
	fi
	[ "$rc" != 0 ] || { why="arcvmm exited 0 after a guest panic (reboot=$2)"; return 1; }
	grep -qi panic "$errf" && return 0
	why="arcvmm exited $rc but its stderr does not mention the panic"
	return 1
}
t_panic() { panic panic k; }
t_panic_triple_fault() { panic panic-triple-fault t; }

# Quotes and runs of spaces reach the guest unchanged.
t_cmdline_quotes() {
	boot_min cmdline-quotes --cpus 1 --memory 256M \
		--cmdline "$BASE arcvmm.q=\"a  b\" guest.cmd=\"echo Q1 \$((6*7)) 'single  quoted'\"" &&
		need_ready && need_line '^Q1 42 single  quoted$' "guest.cmd did not arrive intact" &&
		need_line '^GUEST-INFO cmdline=.*arcvmm\.q="a  b"' "arcvmm.q=\"a  b\" not in /proc/cmdline" &&
		need_exit0
}

# long_cmdline LEN: set $line to a command line of exactly LEN bytes ending in a marker.
long_cmdline() {
	line="$BASE guest.exit=reboot guest.pad="
	_tail=" guest.end=LONGEND"
	_want=$(($1 - ${#_tail}))
	_blk=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ
	while [ $((${#line} + ${#_blk})) -le "$_want" ]; do line="$line$_blk"; done
	while [ "${#line}" -lt "$_want" ]; do line="${line}x"; done
	line="$line$_tail"
}

# A command line of the maximum length arrives whole. No devices: arcvmm puts a
# virtio_mmio.device= word per device in front of the user's line, which leaves the user
# less room.
t_cmdline_long() {
	long_cmdline "$CMDLINE_MAX"
	boot_min cmdline-long --cpus 1 --memory 256M --net none --no-rng --cmdline "$line" &&
		need_ready || return 1
	if ! grep '^GUEST-INFO cmdline=' "$con" | grep -qF "$line"; then
		why="the ${#line}-byte command line did not arrive intact in /proc/cmdline"
		return 1
	fi
	need_exit0
}

# One byte more is refused with a message (not silently cut).
t_cmdline_too_long() {
	long_cmdline $((CMDLINE_MAX + 1))
	boot_min cmdline-too-long --cpus 1 --memory 256M --net none --no-rng --cmdline "$line" ||
		return 1
	if grep -q '^GUEST-INIT-START' "$con"; then
		why="a ${#line}-byte command line (limit $CMDLINE_MAX) was accepted and booted"
		return 1
	fi
	[ "$timed_out" = 0 ] && [ "$rc" != 0 ] ||
		{ why="arcvmm did not refuse a ${#line}-byte command line (status $rc)"; return 1; }
	grep -Eqi 'cmdline|command line' "$errf" && return 0
	why="arcvmm refused it, but its message does not name the command line"
	return 1
}

# The guest finds arcvmm's virtio-mmio devices (from the virtio_mmio.device= words arcvmm
# puts on the command line) and binds its drivers: the entropy device ...
t_virtio_rng() {
	boot_min virtio-rng --cpus 1 --memory 256M --net none --cmdline "$BASE" &&
		need_ready &&
		need_line '^GUEST-INFO virtio=.*:rng:virtio_rng' "no virtio-rng bound to virtio_rng" &&
		need_line '^GUEST-INFO hwrng=virtio_rng' "virtio_rng is not the current hwrng" &&
		need_exit0
}
# ... and the network card with the user-mode (libslirp) backend.
t_virtio_net_user() {
	boot_min virtio-net-user --cpus 1 --memory 256M --net user --no-rng --cmdline "$BASE" &&
		need_ready &&
		need_line '^GUEST-INFO virtio=.*:net:virtio_net' "no virtio-net bound to virtio_net" &&
		need_line '^GUEST-INFO net=.*eth0' "no eth0 in the guest" && need_exit0
}

# Debian's stock kernel (bzImage, xz) and its module-loading initramfs.
t_debian_stock() {
	need_image "$G/debian-vmlinuz" "$G/debian-initramfs.cpio.gz" || return 1
	vm debian-stock "$T_SLOW" --kernel "$G/debian-vmlinuz" --initrd "$G/debian-initramfs.cpio.gz" \
		--cpus 1 --memory 512M --cmdline "$BASE guest.quiet=1" &&
		need_ready && need_exit0
}

# Debian's stock kernel has no virtio_mmio.device= support: it finds arcvmm's disk, network
# card and entropy device only through the ACPI DSDT (LNRO0005), with its modules from the
# initramfs.
t_debian_virtio() {
	need_image "$G/debian-vmlinuz" "$G/debian-initramfs.cpio.gz" || return 1
	_img=$OUT/debian-virtio.img
	dd if=/dev/zero of="$_img" bs=1M count=8 2>/dev/null || { why="cannot make $_img"; return 1; }
	vm debian-virtio "$T_SLOW" --kernel "$G/debian-vmlinuz" --initrd "$G/debian-initramfs.cpio.gz" \
		--cpus 1 --memory 512M --disk "$_img" --net user --cmdline "$BASE" &&
		need_ready &&
		need_line '^GUEST-INFO virtio_mmio_transports=.*LNRO0005' "no virtio-mmio device found through ACPI" &&
		need_line '^GUEST-INFO block=.*vda' "no /dev/vda" &&
		need_line '^GUEST-INFO net=.*eth0' "no eth0" &&
		need_line '^GUEST-INFO hwrng=virtio_rng' "virtio_rng is not the current hwrng" &&
		need_exit0
	rm -f "$_img"
	[ -z "$why" ]
}

# ---- runner -----------------------------------------------------------------------------

passed=0
failed=0
for t in $TESTS; do
	now
	why=""
	rc=""
	secs=0
	timed_out=0
	con=/dev/null
	errf=/dev/null
	# Progress mark for the host's watchdog (nested runs: the host kills an L1 that stops
	# responding): this test's name and how long it may take.
	_lim=$T_MIN
	case $t in debian-*) _lim=$T_SLOW ;; esac
	echo "$t $_lim" >"${LT_HEARTBEAT:-$OUT/../heartbeat}" 2>/dev/null
	if awk -v a="$t_start" -v b="$now" -v l="$BUDGET" 'BEGIN { exit !(b - a > l) }'; then
		why="not run: the suite's time budget (${BUDGET}s) is used up"
		res=1
	else
		f=t_$(echo "$t" | tr - _)
		if ! type "$f" >/dev/null 2>&1; then
			why="no such test"
			res=1
		else
			"$f"
			res=$?
		fi
	fi
	if [ "$res" = 0 ]; then
		echo "ok $t # ${secs}s"
		echo "ok $t" >>"$OUT/results"
		passed=$((passed + 1))
	else
		[ -n "$why" ] || why="failed"
		echo "FAIL $t: $why"
		echo "FAIL $t: $why" >>"$OUT/results"
		failed=$((failed + 1))
		if [ -s "$con" ]; then
			echo "  --- $t: guest console, last 40 lines (arcvmm status ${rc:-?}, ${secs}s) ---"
			tail -n 40 "$con" | sed 's/^/  | /'
		fi
		if [ -s "$errf" ]; then
			echo "  --- $t: arcvmm stderr, last 20 lines ---"
			tail -n 20 "$errf" | sed 's/^/  ! /'
		fi
	fi
done
echo "linux-tests done: passed=$passed failed=$failed"
[ "$failed" = 0 ]

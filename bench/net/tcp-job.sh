#!/bin/sh
# bench/net/tcp-job.sh — TCP throughput between a Linux guest and the machine it runs on,
# over a TAP device, arcvmm against QEMU's microvm (virtio-net-device, tap, no vhost), same
# kernel, initramfs, 1 vCPU, 256 MiB. Plain POSIX sh: runs under busybox inside the nested
# L1 (started by bench/net/tcp.sh) or directly on a host with hardware KVM; needs root.
#
#   tcp-job.sh ARCVMM GUEST_DIR [RUNS] [MIB]      (defaults 3 runs, 128 MiB per direction)
#   tcp-job.sh --scripts DIR [MIB]                write the scripts both ends run into DIR
#
# Everything happens in a private network namespace (unshare -n): per run and VMM,
# alternating arcvmm, QEMU, arcvmm, ... it creates the TAP nbtap0 (192.168.78.1/24), boots
# GUEST_DIR/minimal-vmlinux + minimal-initramfs.cpio.gz with guest.cmd64= running a script
# that gives eth0 192.168.78.2/24 and serves two busybox `nc -l -e` listeners:
#   guest->host  port 5001: the guest's dd writes MIB MiB of zeros (64 KiB writes) straight
#                into the socket; here a dd reads them (64 KiB reads) until EOF.
#   host->guest  port 5002: here a dd writes MIB MiB into the socket; the guest's dd reads
#                them and answers "D <records read>" once it has all of them.
# Both directions are timed here (/proc/uptime of this machine, never the guest's clock)
# from the moment the receiver holds the first 64 KiB block to the moment it holds the
# last one, so MB/s = (MIB*16 - 1) * 65536 / 10^6 / seconds. A transfer that did not move
# every block counts as failed, not as a figure. Prints every run, then a table of the
# medians and the arcvmm/QEMU ratio. Timing is printed, never asserted.
#
# Env: QEMU (qemu-system-x86_64), NESTED_QEMU_DATA (QEMU's firmware folder, for -L),
# NETB_TIMEOUT (s per boot and per transfer, default 180), NETB_VMMS ("arcvmm qemu").
# Trusts: its caller; nothing the guest prints beyond the marker lines it looks for.

TAP=nbtap0
HOST_IP=192.168.78.1
GUEST_IP=192.168.78.2
MAC=52:54:00:78:00:02
BS=65536

# guest_script MIB: the script the guest runs (as guest.cmd64).
guest_script() {
	_n=$(($1 * 16))
	cat <<EOF
ifconfig eth0 $GUEST_IP netmask 255.255.255.0 up
printf '#!/bin/sh\ndd if=/dev/zero bs=$BS count=$_n 2>/dev/null\n' >/tmp/tx.sh
cat >/tmp/rx.sh <<'X'
#!/bin/sh
dd bs=$BS count=1 iflag=fullblock of=/dev/null 2>/dev/null
echo S
dd bs=$BS count=$((_n - 1)) iflag=fullblock of=/dev/null 2>/tmp/rx.dd
read -r r </tmp/rx.dd
echo "D \$r"
X
chmod +x /tmp/tx.sh /tmp/rx.sh
nc -l -p 5001 -e /tmp/tx.sh &
nc -l -p 5002 -e /tmp/rx.sh &
sleep 1
echo NETB-READY
wait
echo NETB-DONE
EOF
}

# write_scripts DIR MIB: DIR/recv.sh and DIR/send.sh (run here by `nc -e`, the socket on
# their stdin and stdout; they leave "t0 t1 records" in $NETB_OUT) and DIR/guest.sh.
write_scripts() {
	_n=$(($2 * 16))
	cat >"$1/recv.sh" <<EOF
#!/bin/sh
# guest->host: the first block marks the start, EOF the end.
: >"\$NETB_OUT.started"
timeout $T dd bs=$BS count=1 iflag=fullblock of=/dev/null 2>/dev/null
read -r t0 _ </proc/uptime
timeout $T dd bs=$BS iflag=fullblock of=/dev/null 2>"\$NETB_OUT.dd"
read -r t1 _ </proc/uptime
read -r r <"\$NETB_OUT.dd"
echo "\$t0 \$t1 \${r%%+*}" >"\$NETB_OUT"
EOF
	cat >"$1/send.sh" <<EOF
#!/bin/sh
# host->guest: the guest's "S" says it holds the first block, its "D N" that it has all.
: >"\$NETB_OUT.started"
dd if=/dev/zero bs=$BS count=1 2>/dev/null
a=\$(timeout $T head -n 1)
[ "\$a" = S ] || exit 1
read -r t0 _ </proc/uptime
timeout $T dd if=/dev/zero bs=$BS count=$((_n - 1)) 2>/dev/null
a=\$(timeout $T head -n 1)
read -r t1 _ </proc/uptime
set -- \$a
[ "\$1" = D ] && r=\$2 && echo "\$t0 \$t1 \${r%%+*}" >"\$NETB_OUT"
EOF
	guest_script "$2" >"$1/guest.sh"
	chmod +x "$1/recv.sh" "$1/send.sh"
}

T=${NETB_TIMEOUT:-180}
if [ "${1:-}" = --scripts ]; then
	[ -d "${2:-}" ] || { echo "usage: $0 --scripts DIR [MIB]" >&2; exit 2; }
	write_scripts "$2" "${3:-128}"
	exit 0
fi
if [ $# -lt 2 ]; then
	echo "usage: $0 ARCVMM GUEST_DIR [RUNS] [MIB]" >&2
	exit 2
fi
ARCVMM=$1
G=$2
RUNS=${3:-3}
MIB=${4:-128}
QEMU=${QEMU:-qemu-system-x86_64}
K=$G/minimal-vmlinux
I=$G/minimal-initramfs.cpio.gz
for f in "$K" "$I"; do
	[ -f "$f" ] || { echo "tcp-bench: missing $f" >&2; exit 2; }
done
case "$MIB" in
'' | *[!0-9]* | 0) echo "tcp-bench: MIB '$MIB': want a whole number of MiB >= 1" >&2; exit 2 ;;
esac

# Outside the namespace: make sure TUN/TAP exists, then run again inside a fresh one (the
# marker is an environment variable: busybox unshare would take a --flag as its own).
if [ "${NETB_INNER:-0}" != 1 ]; then
	if [ ! -c /dev/net/tun ]; then
		modprobe tun 2>/dev/null ||
			insmod "/lib/modules/$(uname -r)/kernel/drivers/net/tun.ko" 2>/dev/null
		[ -c /dev/net/tun ] || { mkdir -p /dev/net && mknod /dev/net/tun c 10 200; } 2>/dev/null
	fi
	if ! grep -qw tun /proc/misc 2>/dev/null; then
		echo "tcp-bench: no TUN/TAP driver in this kernel" >&2
		exit 2
	fi
	export QEMU NESTED_QEMU_DATA NETB_TIMEOUT NETB_VMMS
	NETB_INNER=1 exec unshare -n -- sh "$0" "$@"
fi

res=$(mktemp -d /tmp/tcp-bench.XXXXXX) || exit 2
write_scripts "$res" "$MIB"
CMD="console=ttyS0 reboot=k panic=-1 quiet guest.quiet=1"
CMD="$CMD guest.cmd64=$(base64 <"$res/guest.sh" | tr -d '\n')"
qemu_l=""
[ -n "${NESTED_QEMU_DATA:-}" ] && qemu_l="-L $NESTED_QEMU_DATA"
ip link set lo up

vmms=${NETB_VMMS:-arcvmm qemu}
if ! command -v "$QEMU" >/dev/null 2>&1; then
	echo "tcp-bench: $QEMU not found: QEMU skipped"
	vmms=arcvmm
fi

start_arcvmm() {
	"$ARCVMM" --kernel "$K" --initrd "$I" --cpus 1 --memory 256M --no-rng \
		--net "tap=$TAP,mac=$MAC" --cmdline "$CMD"
}
start_qemu() {
	# shellcheck disable=SC2086
	"$QEMU" $qemu_l -M microvm,x-option-roms=off,isa-serial=on,rtc=on \
		-enable-kvm -cpu host -smp 1 -m 256 -nodefaults -no-user-config \
		-display none -no-reboot -serial stdio -monitor none \
		-netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no,vhost=off" \
		-device "virtio-net-device,netdev=n0,mac=$MAC" \
		-kernel "$K" -initrd "$I" -append "$CMD"
}

# alive PID: true while PID runs.
alive() { kill -0 "$1" 2>/dev/null; }

# wait_line FILE PATTERN SECONDS PID: wait until FILE has a line matching PATTERN; give up
# when the time is out or PID (the VMM) has ended.
wait_line() {
	_i=0
	while [ $_i -lt $(($3 * 5)) ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		alive "$4" || return 1
		sleep 0.2
		_i=$((_i + 1))
	done
	return 1
}

# transfer PORT SCRIPT OUT: connect to the guest's PORT and run SCRIPT on the socket
# (retried while the connection is refused); the figures end up in OUT.
transfer() {
	rm -f "$3" "$3.started" "$3.dd"
	_t=0
	while [ $_t -lt 5 ]; do
		NETB_OUT=$3 timeout $((T + 10)) nc "$GUEST_IP" "$1" -e "$2" </dev/null \
			>/dev/null 2>>"$3.nc"
		[ -f "$3.started" ] && break
		sleep 1
		_t=$((_t + 1))
	done
}

# incomplete OUT: why OUT holds no figure.
incomplete() {
	if [ ! -f "$1.started" ]; then
		echo "no connection"
	elif [ ! -s "$1" ]; then
		echo "no result (timed out or the guest did not answer)"
	elif [ "$(awk '{ print $3 }' "$1")" != $((MIB * 16 - 1)) ]; then
		echo "moved $(awk '{ print $3 }' "$1") of $((MIB * 16 - 1)) blocks after the first"
	else
		echo "too fast to time with /proc/uptime (10 ms): transfer more MiB"
	fi
}

# mbps OUTFILE: MB/s from "t0 t1 records" if every block after the first arrived.
mbps() {
	[ -s "$1" ] || return 1
	awk -v want=$((MIB * 16 - 1)) -v bs=$BS '{
		if ($3 != want || $2 <= $1) exit 1
		printf "%.1f\n", want * bs / 1e6 / ($2 - $1) }' "$1"
}

# stop PID GRACE: let the VMM end by itself for GRACE seconds (the guest powers off when
# both transfers are done), then TERM, then KILL.
stop() {
	_i=0
	while alive "$1" && [ $_i -lt $(($2 * 5)) ]; do
		sleep 0.2
		_i=$((_i + 1))
	done
	alive "$1" && kill -TERM "$1" 2>/dev/null && sleep 2
	alive "$1" && kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# run_one VMM N: one boot, both directions; prints one line.
run_one() {
	_p=$res/$1.$2
	if ! tunctl -t $TAP >/dev/null; then
		echo "run $2 $1 error: cannot create $TAP"
		return
	fi
	ip addr add $HOST_IP/24 dev $TAP
	ip link set $TAP up
	read -r _b _ </proc/uptime
	start_"$1" </dev/null >"$_p.console" 2>"$_p.stderr" &
	_vp=$!
	_g2h=- _h2g=- _why="" _r=""
	if ! wait_line "$_p.console" NETB-READY "$T" $_vp; then
		_why="no NETB-READY"
	else
		read -r _r _ </proc/uptime
		transfer 5001 "$res/recv.sh" "$_p.g2h"
		transfer 5002 "$res/send.sh" "$_p.h2g"
		_g2h=$(mbps "$_p.g2h") || _why="guest->host: $(incomplete "$_p.g2h")"
		_h2g=$(mbps "$_p.h2g") || _why="${_why:+$_why; }host->guest: $(incomplete "$_p.h2g")"
		[ -n "$_g2h" ] || _g2h=-
		[ -n "$_h2g" ] || _h2g=-
	fi
	if [ -z "$_why" ]; then stop $_vp 20; else stop $_vp 0; fi
	tunctl -d $TAP >/dev/null 2>&1
	ip link del $TAP 2>/dev/null
	[ "$_g2h" != - ] && echo "$_g2h" >>"$res/$1.g2h"
	[ "$_h2g" != - ] && echo "$_h2g" >>"$res/$1.h2g"
	_ready=-
	[ -n "${_r:-}" ] && _ready=$(awk -v a="$_b" -v b="$_r" 'BEGIN { printf "%.1f", b - a }')
	echo "run $2 $1 guest->host $_g2h MB/s, host->guest $_h2g MB/s" \
		"(ready after $_ready s)${_why:+  ERROR: $_why}"
	if [ -n "$_why" ]; then
		echo "  --- $1 console (last 15 lines):"
		tr -d '\r' <"$_p.console" | tail -n 15 | sed 's/^/  | /'
		[ -s "$_p.stderr" ] && tail -n 5 "$_p.stderr" | sed 's/^/  ! /'
		cat "$_p".*.nc 2>/dev/null | tail -n 5 | sed 's/^/  nc: /'
	fi
}

# median FILE: the median of the numbers in FILE ("-" if none).
median() {
	[ -s "$1" ] || { echo -; return; }
	sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
		else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# spread FILE: "min-max (n)".
spread() {
	[ -s "$1" ] || { echo "no runs"; return; }
	sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%s-%s, %d runs", v[1], v[NR], NR }'
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-";
		else printf "%.2f\n", a / b }'
}

echo "tcp-bench: TCP over TAP, $MIB MiB per direction, 1 vCPU, 256 MiB," \
	"$RUNS runs each, alternating ($vmms)"
echo "tcp-bench: QEMU: microvm, -netdev tap,vhost=off, virtio-net-device; MB/s = 10^6 bytes/s;" \
	"ratio = arcvmm MB/s / QEMU MB/s (above 1: arcvmm faster)"
n=1
while [ "$n" -le "$RUNS" ]; do
	for v in $vmms; do
		run_one "$v" "$n"
	done
	n=$((n + 1))
done

echo
printf '%-13s %-30s %-30s %s\n' direction "arcvmm MB/s (median)" "QEMU MB/s (median)" "arcvmm/QEMU"
for d in g2h h2g; do
	case $d in
	g2h) name=guest-\>host ;;
	*) name=host-\>guest ;;
	esac
	a=$(median "$res/arcvmm.$d")
	q=$(median "$res/qemu.$d")
	printf '%-13s %-30s %-30s %s\n' "$name" "$a ($(spread "$res/arcvmm.$d"))" \
		"$q ($(spread "$res/qemu.$d"))" "$(ratio "$a" "$q")"
done
rm -rf "$res"

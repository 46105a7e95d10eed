#!/bin/sh
# tests/linux/net.sh — virtio-net with a real Linux guest (plain POSIX sh: runs under
# busybox inside the nested L1, or directly on a host with hardware KVM; needs root).
#
#   ARCVMM=... GUEST_DIR=... WORK=... [NET_PEER=...] sh tests/linux/net.sh [TEST...]
#   sh tests/linux/net.sh --list
#
# Boots GUEST_DIR/minimal-vmlinux + minimal-initramfs.cpio.gz (see ../shared/guest/README.md;
# guest.cmd64= runs a script after GUEST-INIT-READY) and prints "ok NAME" or "FAIL NAME: why"
# per test (then the tail of the guest console), "N passed, N failed" at the end; exit 0
# only if all passed. Logs stay in WORK/NAME.console and WORK/NAME.stderr.
#
#   user-dhcp-download  --net user: the guest gets 10.0.2.15 by DHCP and downloads 2 MiB
#                       from an HTTP server on the host's loopback (10.0.2.2), md5 checked
#   user-hostfwd        --net user,hostfwd=tcp:127.0.0.1:18081-:8080: the host downloads
#                       from an HTTP server in the guest, md5 checked
#   tap-netns           --net tap=arctap0 inside a private network namespace: static
#                       addresses, ping, 2 MiB over HTTP each way (md5 checked), and the guest
#                       negotiated GUEST_TSO4 and HOST_TSO4 (TSO in effect both ways)
#   fd-ping             --net fd=3 with NET_PEER (bench/net/net_peer) answering ARP/ping
#   fd-flood            NET_PEER floods 2000 echo requests while the guest's interface is
#                       still down (RX ring empty: the socket pushes back), then the guest
#                       comes up: it must have received all 2000 (its Icmp InEchos), and
#                       every reply it sent (OutEchoReps) must reach the peer, in order
#
# Env: NET_PEER (default: bench/net/net_peer beside ARCVMM's build folder), NET_TIMEOUT
# (s per boot, default 120). Trusts: nothing the guest prints (matched against patterns).

TESTS="user-dhcp-download user-hostfwd tap-netns fd-ping fd-flood"
if [ "${1:-}" = --list ]; then
	for t in $TESTS; do echo "$t"; done
	exit 0
fi
SELF=$0
# Set in the copy of this script that tap-netns starts inside its network namespace (an
# environment variable: busybox unshare would take a --flag after the program as its own).
INNER=${NET_TAP_INNER:-0}
[ $# -gt 0 ] && TESTS="$*"
: "${ARCVMM:?set ARCVMM to the arcvmm binary}"
: "${GUEST_DIR:?set GUEST_DIR to the guest image folder}"
: "${WORK:?set WORK to a scratch folder}"
NET_PEER=${NET_PEER:-$(dirname "$ARCVMM")/bench/net/net_peer}
T=${NET_TIMEOUT:-120}
K="$GUEST_DIR/minimal-vmlinux"
I="$GUEST_DIR/minimal-initramfs.cpio.gz"
BASE="console=ttyS0 reboot=k panic=-1 quiet"
mkdir -p "$WORK" || exit 2
# User networking reaches the host through its loopback: a bare L1 may have it down.
ip link set lo up 2>/dev/null
passed=0
failed=0

ok() {
	echo "ok $1"
	passed=$((passed + 1))
}

fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
	if [ -f "$WORK/$1.console" ]; then
		echo "--- last lines of $1.console:"
		tr -d '\r' <"$WORK/$1.console" | tail -n 25
	fi
	if [ -s "$WORK/$1.stderr" ]; then
		echo "--- $1.stderr:"
		tail -n 10 "$WORK/$1.stderr"
	fi
}

# cmdline SCRIPT: the kernel command line running SCRIPT in the guest.
cmdline() {
	printf '%s guest.cmd64=%s' "$BASE" "$(printf '%s\n' "$1" | base64 | tr -d '\n')"
}

# grab NAME PATTERN: the first console line matching PATTERN (CRs removed).
grab() {
	tr -d '\r' <"$WORK/$1.console" | grep -m1 "$2"
}

# wait_for NAME PATTERN SECONDS: wait until the console shows PATTERN.
wait_for() {
	_i=0
	while [ $_i -lt $(($3 * 5)) ]; do
		grab "$1" "$2" >/dev/null 2>&1 && return 0
		sleep 0.2
		_i=$((_i + 1))
	done
	return 1
}

# The guest's DHCP client script (busybox udhcpc calls it with "bound").
DHCP='mkdir -p /tmp; cat >/tmp/u.sh <<"X"
#!/bin/sh
[ "$1" = bound ] || exit 0
ifconfig "$interface" "$ip" netmask "$subnet" up
route add default gw "$router"
X
chmod +x /tmp/u.sh; ip link set eth0 up
udhcpc -i eth0 -n -q -t 10 -s /tmp/u.sh >/dev/null 2>&1 && echo "NET-ADDR $(ip -4 addr show eth0 | grep -o "inet [0-9./]*")"'

# The negotiated features of the guest's virtio-net device (a string of 0/1 by bit).
FEATURES='for d in /sys/bus/virtio/devices/*; do [ "$(cat $d/device)" = 0x0001 ] && echo "NET-FEATURES $(cat $d/features)"; done'

blob() { # blob FILE KIB
	dd if=/dev/urandom of="$1" bs=1024 count="$2" 2>/dev/null
}

md5() {
	md5sum "$1" | cut -d' ' -f1
}

t_user_dhcp_download() {
	n=user-dhcp-download
	mkdir -p "$WORK/www"
	blob "$WORK/www/blob" 2048
	want=$(md5 "$WORK/www/blob")
	busybox httpd -f -p 127.0.0.1:18080 -h "$WORK/www" &
	hp=$!
	s="$DHCP
wget -q -O /tmp/blob http://10.0.2.2:18080/blob && echo \"NET-SUM \$(md5sum /tmp/blob)\""
	timeout -s KILL "$T" "$ARCVMM" --kernel "$K" --initrd "$I" --memory 256M --net user \
		--cmdline "$(cmdline "$s")" >"$WORK/$n.console" 2>"$WORK/$n.stderr" </dev/null
	kill $hp 2>/dev/null
	wait $hp 2>/dev/null
	if ! grab $n "NET-ADDR inet 10.0.2.15/24" >/dev/null; then
		fail $n "no DHCP address 10.0.2.15/24"
	elif ! grab $n "NET-SUM $want" >/dev/null; then
		fail $n "download missing or damaged (want md5 $want)"
	else
		ok $n
	fi
}

t_user_hostfwd() {
	n=user-hostfwd
	s="$DHCP
mkdir -p /www; dd if=/dev/urandom of=/www/blob bs=1024 count=1024 2>/dev/null
echo \"NET-SUM \$(md5sum /www/blob)\"; httpd -p 8080 -h /www; echo NET-READY; sleep 600"
	timeout -s KILL "$T" "$ARCVMM" --kernel "$K" --initrd "$I" --memory 256M \
		--net user,hostfwd=tcp:127.0.0.1:18081-:8080 \
		--cmdline "$(cmdline "$s")" >"$WORK/$n.console" 2>"$WORK/$n.stderr" </dev/null &
	vp=$!
	if ! wait_for $n NET-READY "$T"; then
		kill -9 $vp 2>/dev/null
		wait $vp 2>/dev/null
		fail $n "the guest's server did not start"
		return
	fi
	rm -f "$WORK/fwd.blob"
	wget -q -O "$WORK/fwd.blob" http://127.0.0.1:18081/blob
	kill -9 $vp 2>/dev/null
	wait $vp 2>/dev/null
	want=$(grab $n "NET-SUM" | awk '{print $2}')
	got=$(md5 "$WORK/fwd.blob" 2>/dev/null)
	if [ -z "$want" ] || [ "$want" != "$got" ]; then
		fail $n "download through the forward: md5 '$got', guest has '$want'"
	else
		ok $n
	fi
}

# tap_stats rx|tx: "BYTES PACKETS" of arctap0 from /proc/net/dev
tap_stats() {
	awk -v dir="$1" '{ sub(/^ */, "") } $1 == "arctap0:" {
		if (dir == "rx") print $2, $3; else print $10, $11 }' /proc/net/dev
}

# Runs inside a private network namespace (unshare -n).
tap_inner() {
	n=tap-netns
	ip link set lo up
	tunctl -t arctap0 >/dev/null || { echo "NET-TAP-FAIL tunctl"; return; }
	ip addr add 192.168.77.1/24 dev arctap0
	ip link set arctap0 up
	mkdir -p "$WORK/www"
	blob "$WORK/www/blob" 2048
	md5 "$WORK/www/blob" >"$WORK/tap.want"
	rm -f "$WORK/up.blob" "$WORK/tap.down" "$WORK/tap.up"
	busybox httpd -f -p 192.168.77.1:18082 -h "$WORK/www" &
	hp=$!
	# Guest-to-host: the host downloads from a server in the guest once it is up.
	# The TAP's counters tell whether TSO is in effect: frames arcvmm writes into the TAP
	# count as its rx, frames it reads as its tx. Over the download (host to guest, up to
	# NET-SERVING) and over the upload alone (guest to host), the average frame is above
	# the 1514-byte Ethernet maximum only if whole TSO segments pass unsegmented.
	# (/proc/net/dev is this namespace's view; /sys/class/net is the mounter's.)
	(wait_for $n NET-SERVING "$T" &&
		tap_stats tx >"$WORK/tap.down" &&
		r0=$(tap_stats rx) &&
		wget -q -O "$WORK/up.blob" http://192.168.77.2:8080/up &&
		echo "$r0 $(tap_stats rx)" >"$WORK/tap.up" &&
		echo done >"$WORK/up.done") &
	wp=$!
	s="ifconfig eth0 192.168.77.2 netmask 255.255.255.0 up
ping -c 3 192.168.77.1 >/dev/null && echo NET-PING-OK
wget -q -O /tmp/blob http://192.168.77.1:18082/blob && echo \"NET-SUM \$(md5sum /tmp/blob)\"
mkdir -p /www; dd if=/dev/urandom of=/www/up bs=1024 count=2048 2>/dev/null
echo \"NET-UPSUM \$(md5sum /www/up)\"
$FEATURES
httpd -p 8080 -h /www; echo NET-SERVING; sleep 30"
	timeout -s KILL "$T" "$ARCVMM" --kernel "$K" --initrd "$I" --memory 256M \
		--net tap=arctap0,mac=52:54:00:77:00:02 \
		--cmdline "$(cmdline "$s")" >"$WORK/$n.console" 2>"$WORK/$n.stderr" </dev/null
	kill $hp $wp 2>/dev/null # the guest is gone: nothing more to fetch
	wait $hp $wp 2>/dev/null
}

t_tap_netns() {
	n=tap-netns
	if [ ! -c /dev/net/tun ]; then
		modprobe tun 2>/dev/null ||
			insmod "/lib/modules/$(uname -r)/kernel/drivers/net/tun.ko" 2>/dev/null
		[ -c /dev/net/tun ] || { mkdir -p /dev/net && mknod /dev/net/tun c 10 200; } 2>/dev/null
	fi
	if ! grep -qw tun /proc/misc 2>/dev/null && ! [ -d /sys/class/misc/tun ]; then
		fail $n "no TUN/TAP driver in this kernel (L1 needs drivers/net/tun)"
		return
	fi
	: >"$WORK/$n.console"
	export ARCVMM GUEST_DIR WORK NET_TIMEOUT
	NET_TAP_INNER=1 unshare -n -- sh "$SELF"
	want=$(cat "$WORK/tap.want" 2>/dev/null)
	feat=$(grab $n "NET-FEATURES" | awk '{print $2}')
	upwant=$(grab $n "NET-UPSUM" | awk '{print $2}')
	upgot=$(md5 "$WORK/up.blob" 2>/dev/null)
	if ! grab $n NET-PING-OK >/dev/null; then
		fail $n "no ping reply from 192.168.77.1"
	elif [ -z "$want" ] || ! grab $n "NET-SUM $want" >/dev/null; then
		fail $n "host-to-guest download missing or damaged"
	elif [ -z "$upwant" ] || [ "$upwant" != "$upgot" ]; then
		fail $n "guest-to-host upload: md5 '$upgot' ($(wc -c <"$WORK/up.blob") bytes), guest sent '$upwant'"
	elif [ "$(echo "$feat" | cut -c8)" != 1 ] || [ "$(echo "$feat" | cut -c12)" != 1 ]; then
		fail $n "TSO not negotiated (features $feat)"
	elif ! down=$(awk '$2 > 0 { printf "%d", $1 / $2 }' "$WORK/tap.down" 2>/dev/null) ||
		[ -z "$down" ] || [ "$down" -le 1514 ]; then
		fail $n "host-to-guest frames average ${down:-?} bytes: no TSO segments reached the guest"
	elif ! up=$(awk '$4 > $2 { printf "%d", ($3 - $1) / ($4 - $2) }' "$WORK/tap.up" 2>/dev/null) ||
		[ -z "$up" ] || [ "$up" -le 1514 ]; then
		fail $n "guest-to-host frames average ${up:-?} bytes during the upload: no TSO segments"
	else
		echo "# tap-netns: average frame host->guest $down bytes, guest->host $up bytes (TSO)"
		ok $n
	fi
}

t_fd_ping() {
	n=fd-ping
	[ -x "$NET_PEER" ] || { fail $n "no peer program $NET_PEER"; return; }
	s="ip addr add 10.0.3.2/24 dev eth0; ip link set eth0 up
ping -c 5 10.0.3.1 >/dev/null && echo NET-PING-OK"
	"$NET_PEER" -t "$T" -- "$ARCVMM" --kernel "$K" --initrd "$I" --memory 256M \
		--cmdline "$(cmdline "$s")" >"$WORK/$n.console" 2>"$WORK/$n.stderr" </dev/null
	rc=$?
	if ! grab $n NET-PING-OK >/dev/null; then
		fail $n "the guest got no ping replies through the fd backend"
	elif [ $rc != 0 ]; then
		fail $n "the peer saw no pings (status $rc)"
	else
		ok $n
	fi
}

t_fd_flood() {
	n=fd-flood
	[ -x "$NET_PEER" ] || { fail $n "no peer program $NET_PEER"; return; }
	# The interface stays down for 5 s (no RX buffers) while the peer floods, so the
	# device stops reading and the socket pushes back. Then the guest takes every frame.
	# Its counters tell what the device delivered (Icmp InEchos) and what the guest sent
	# back (OutEchoReps); the peer must see exactly those replies, never out of order.
	s="ip addr add 10.0.3.2/24 dev eth0
echo 16777216 >/proc/sys/net/ipv4/neigh/eth0/unres_qlen_bytes
sleep 5; ip link set eth0 up; echo NET-UP
while :; do sleep 3; echo NET-ICMP \$(grep Icmp: /proc/net/snmp | tail -1); done"
	"$NET_PEER" -n 2000 -t "$T" -- "$ARCVMM" --kernel "$K" --initrd "$I" --memory 256M \
		--cmdline "$(cmdline "$s")" >"$WORK/$n.console" 2>"$WORK/$n.stderr" </dev/null
	rc=$?
	line=$(grep -m1 "^peer: flood" "$WORK/$n.console")
	# "NET-ICMP Icmp: InMsgs InErrors ...": InEchos is the 9th counter ($11), OutEchoReps
	# the 25th ($27).
	icmp=$(tr -d '\r' <"$WORK/$n.console" | grep "^NET-ICMP" | tail -1)
	in_echos=$(echo "$icmp" | awk '{print $11}')
	out_reps=$(echo "$icmp" | awk '{print $27}')
	replies=$(echo "$line" | sed -n 's/.* replies \([0-9]*\).*/\1/p')
	pushback=$(echo "$line" | sed -n 's/.* pushback \([0-9]*\).*/\1/p')
	if [ $rc != 0 ]; then
		fail $n "peer: ${line:-no report}"
	elif [ "${pushback:-0}" = 0 ]; then
		fail $n "the flood never met backpressure (ring never full): $line"
	elif [ "$replies" = 2000 ]; then
		ok $n # every request delivered and answered, in order
		echo "  $line"
	elif [ "$in_echos" != 2000 ]; then
		fail $n "the guest received $in_echos of 2000 echo requests ($line)"
	elif [ "$replies" != "$out_reps" ]; then
		fail $n "the guest sent $out_reps replies, the peer got $replies"
	else
		# The guest's own stack dropped some replies; the device lost nothing.
		ok $n
		echo "  $line; guest InEchos $in_echos OutEchoReps $out_reps"
	fi
}

if [ "$INNER" = 1 ]; then
	tap_inner
	exit 0
fi
for t in $TESTS; do
	case "$t" in
	user-dhcp-download) t_user_dhcp_download ;;
	user-hostfwd) t_user_hostfwd ;;
	tap-netns) t_tap_netns ;;
	fd-ping) t_fd_ping ;;
	fd-flood) t_fd_flood ;;
	*) fail "$t" "unknown test" ;;
	esac
done
echo "$passed passed, $failed failed"
[ $failed = 0 ]

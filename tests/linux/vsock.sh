#!/bin/sh
# tests/linux/vsock.sh — virtio-vsock with Firecracker's hybrid host side, seen by a Linux
# guest (POSIX sh; runs under busybox in the nested L1, or on a host with hardware KVM).
#
#   ARCVMM=build/arcvmm GUEST_DIR=../shared/guest WORK=/tmp/w sh tests/linux/vsock.sh [TEST...]
#
# One boot of the minimal kernel (vsock built in) with --vsock cid=3,uds=$WORK/v.sock and
# build/guest-tools/vsockt appended to the initramfs. The guest runs a vsockt server on
# port 1024 and, as a client, talks to a host vsockt server on $WORK/v.sock_5000.
#   vsock-no-guest-listener  host CONNECT 9999 (nobody listens in the guest): closed, no OK
#   vsock-host-echo          host CONNECT 1024 → OK, 64 MiB echoed back, every byte checked
#   vsock-host-to-guest      64 MiB host → guest, then the host half-closes (SHUT_WR): the
#                            guest sees EOF and still sends its count and FNV hash back,
#                            which agree
#   vsock-guest-to-host-gen  64 MiB generated in the guest, checked on the host
#   vsock-many               256 concurrent host connections, 4 KiB echo each, all checked
#   vsock-many-1024          1024 concurrent connections each way at once: host → guest
#                            (CONNECT) and guest → host (uds_path_5002), 4 KiB echo each
#                            with its own pattern, every byte checked (fd limits raised:
#                            ulimit -n on the host, which arcvmm inherits, and in the guest)
#   vsock-guest-echo         guest connect to CID 2 port 5000 (uds_path_5000), 64 MiB echo
#   vsock-guest-sink         64 MiB guest → host sink, half-closed by the guest, checksum back
#   vsock-slow-reader        64 MiB guest → host to a host reader that stops reading for 10 s
#                            after the first MiB: every byte arrives (checksum), and
#                            arcvmm's anonymous memory (RssAnon) stays under 64 MiB all along
#                            (the guest's credit runs out; nothing piles up in the VMM)
#   vsock-pause-resume       a 64 MiB guest → host transfer with the VM paused for 3 s in the
#                            middle (PATCH /vm over --api-sock, curl): every byte arrives
#   vsock-guest-refused      guest connect to port 5001 (nobody at uds_path_5001): the
#                            guest gets ECONNRESET or ECONNREFUSED at once
#   vsock-clean-exit         after the guest's power-off arcvmm exits 0, no seccomp kill
#   vsock-debian             every test above again with Debian's stock kernel
#                            (debian-vmlinuz + debian-initramfs.cpio.gz: vsock as modules,
#                            the device found through ACPI): this script run with
#                            VSOCK_GUEST=debian, all of its tests must pass
# Prints "ok NAME" / "FAIL NAME: why"; last line "N passed, N failed". Throughput lines
# ("VSOCKT client ... MBps=...") are printed too (figures for the README).
# Env: LT_TIMEOUT (s for the boot, 240), VSOCKT (the tool; default beside $ARCVMM).
#
# Trusts: nothing the guest prints (only matched against patterns).
# suite-timeout: 1300

ARCVMM=${ARCVMM:?set ARCVMM to the arcvmm binary}
G=${GUEST_DIR:?set GUEST_DIR to the guest images}
WORK=${WORK:-$(mktemp -d)}
T=${LT_TIMEOUT:-240}
K=$G/minimal-vmlinux
I=$G/minimal-initramfs.cpio.gz
if [ "${VSOCK_GUEST:-}" = debian ]; then
	K=$G/debian-vmlinuz
	I=$G/debian-initramfs.cpio.gz
	T=${LT_TIMEOUT:-420}
fi
VSOCKT=${VSOCKT:-$(dirname "$ARCVMM")/guest-tools/vsockt}
BOOT_TESTS="vsock-no-guest-listener vsock-host-echo vsock-host-to-guest vsock-guest-to-host-gen vsock-many vsock-many-1024 vsock-guest-echo vsock-guest-sink vsock-slow-reader vsock-pause-resume vsock-guest-refused vsock-clean-exit"
ALL="$BOOT_TESTS vsock-debian"
[ "${VSOCK_GUEST:-}" = debian ] && ALL=$BOOT_TESTS
# 1024 connections each way at once, plus the tool's own: more than the default 1024 fds.
ulimit -n 8192 2>/dev/null || ulimit -n 4096 2>/dev/null
mkdir -p "$WORK" || exit 2
. "$(dirname "$0")/runner.inc"

U=$WORK/v.sock
booted=0
M=67108864

# boot: once, runs every host-side check and keeps their output in $WORK/host.out.
boot() {
	[ $booted = 1 ] && return 0
	booted=1
	con=$WORK/vsock.console
	errf=$WORK/vsock.stderr
	[ -x "$VSOCKT" ] || { echo "no $VSOCKT (make guest-tools)" >"$WORK/host.out"; return 1; }
	cat "$I" "$(dirname "$VSOCKT")/vsockt.cpio.gz" >"$WORK/initrd" || return 1
	rm -f "$U" "${U}_5000" "${U}_5001" "${U}_5002"
	"$VSOCKT" server "unix:${U}_5000" 4 >"$WORK/hostserver.out" 2>&1 &
	hs=$!
	"$VSOCKT" server "unix:${U}_5002" 1024 >"$WORK/hostserver2.out" 2>&1 &
	hs2=$!
	# The guest's own many-1024 starts once the host's has begun (host-many.started).
	gcmd="ulimit -n 8192; /vsockt server vsock:1024 1284 & S=\$!; sleep 1;
/vsockt client vsock:2:5000 e $M; /vsockt client vsock:2:5000 s $M;
/vsockt client vsock:2:5000 p $M;
/vsockt client vsock:2:5001 e 10;
n=0; while ! /vsockt client vsock:2:5003 e 1 >/dev/null 2>&1 && [ \$n -lt 300 ]; do sleep 1; n=\$((n+1)); done;
/vsockt many vsock:2:5002 1024; wait \$S; echo guest-done"
	b64=$(printf '%s' "$gcmd" | base64 | tr -d '\n')
	timeout -s KILL "$T" "$ARCVMM" --kernel "$K" --initrd "$WORK/initrd" --memory 512M \
		--vsock "cid=3,uds=$U" --api-sock "$WORK/api.sock" \
		--cmdline "console=ttyS0 reboot=k panic=-1 quiet guest.quiet=1 guest.cmd64=$b64" \
		>"$con.raw" 2>"$errf" &
	vm=$!
	: >"$WORK/host.out"
	# arcvmm's anonymous memory, sampled every second while it runs (the peak is checked
	# by vsock-slow-reader). $vm is arcvmm itself under busybox's timeout (which execs the
	# command in its own process) or timeout with arcvmm as its child (coreutils).
	(
		peak=0 fdpeak=0
		while kill -0 $vm 2>/dev/null; do
			for c in $vm $(cat /proc/$vm/task/*/children 2>/dev/null); do
				a=$(awk '/^RssAnon:/ { print int($2 / 1024) }' /proc/$c/status 2>/dev/null)
				[ -n "$a" ] && [ "$a" -gt "$peak" ] && peak=$a && echo "$peak" >"$WORK/rssanon.peak"
				f=$(ls /proc/$c/fd 2>/dev/null | wc -l)
				[ "$f" -gt "$fdpeak" ] && fdpeak=$f && echo "$fdpeak" >"$WORK/fds.peak"
			done
			sleep 1
		done
	) &
	# Wait for the guest's server: retry the echo until it gets an OK.
	i=0
	while [ $i -lt "$T" ]; do
		grep -q "VSOCKT server listening vsock:1024" "$con.raw" 2>/dev/null && break
		kill -0 $vm 2>/dev/null || break
		sleep 1
		i=$((i + 1))
	done
	{
		echo "nolistener: $("$VSOCKT" client "hyb:$U:9999" e 10)"
		"$VSOCKT" client "hyb:$U:1024" e $M
		"$VSOCKT" client "hyb:$U:1024" s $M
		"$VSOCKT" client "hyb:$U:1024" g $M
		"$VSOCKT" many "hyb:$U:1024" 256
		# The gate: the guest starts its own 1024 once this listener takes its probe.
		"$VSOCKT" server "unix:${U}_5003" 1 >/dev/null 2>&1 &
		echo "many1024-rss-before: $(awk '/^RssAnon:/ { print $2 }' /proc/$vm/status 2>/dev/null) kB"
		"$VSOCKT" many "hyb:$U:1024" 1024
		"$VSOCKT" client "hyb:$U:1024" g $M >"$WORK/pause.out" 2>&1 &
		pc=$!
		sleep 1
		if command -v curl >/dev/null; then
			for st in Paused Resumed; do
				[ $st = Resumed ] && sleep 3
				echo "pause: $st $(curl -s -o /dev/null -w '%{http_code}' --max-time 30 \
					--unix-socket "$WORK/api.sock" -X PATCH -H 'Content-Type: application/json' \
					-d "{\"state\": \"$st\"}" http://localhost/vm)"
			done
		else
			echo "pause: no curl"
		fi
		wait $pc
		echo "pause: $(cat "$WORK/pause.out")"
	} >>"$WORK/host.out" 2>&1
	wait $vm
	echo $? >"$WORK/vm.rc"
	kill $hs $hs2 2>/dev/null
	tr -d '\r' <"$con.raw" >"$con"
	grep VSOCKT "$WORK/host.out" "$con" | sed 's/^/  /'
	return 0
}

host_has() { boot; con=$WORK/vsock.console; errf=$WORK/vsock.stderr; grep -q -- "$1" "$WORK/host.out" || { why="host side: no '$1'"; return 1; }; }
guest_has() { boot; con=$WORK/vsock.console; errf=$WORK/vsock.stderr; grep -q -- "$1" "$con" || { why="guest side: no '$1'"; return 1; }; }

t_vsock_no_guest_listener() { host_has "nolistener: VSOCKT client hyb:$U:9999 FAIL connection closed before OK"; }
t_vsock_host_echo() { host_has "VSOCKT client hyb:$U:1024 e ok bytes=$M"; }
t_vsock_host_to_guest() { host_has "VSOCKT client hyb:$U:1024 s ok bytes=$M"; }
t_vsock_guest_to_host_gen() { host_has "VSOCKT client hyb:$U:1024 g ok bytes=$M"; }
t_vsock_many() { host_has "VSOCKT many hyb:$U:1024 ok conns=256 good=256"; }
# The guest powered off with connections open and many just closed: arcvmm exits 0 and its
# workers were not killed by seccomp on the way (the vsock worker once was: glibc's first
# heap shrink in a thread arena opened /proc/sys/vm/overcommit_memory).
t_vsock_clean_exit() {
	boot; con=$WORK/vsock.console; errf=$WORK/vsock.stderr
	grep -q "seccomp" "$errf" && { why="seccomp: $(grep seccomp "$errf" | head -1)"; return 1; }
	[ "$(cat "$WORK/vm.rc" 2>/dev/null)" = 0 ] || { why="arcvmm exit status $(cat "$WORK/vm.rc" 2>/dev/null)"; return 1; }
}
t_vsock_many_1024() {
	host_has "VSOCKT many hyb:$U:1024 ok conns=1024 good=1024" || return 1
	guest_has "VSOCKT many vsock:2:5002 ok conns=1024 good=1024" || return 1
	echo "# vsock-many-1024: arcvmm peaks over the run: $(cat "$WORK/fds.peak" 2>/dev/null) fds, RssAnon $(cat "$WORK/rssanon.peak" 2>/dev/null) MiB; $(grep many1024-rss-before "$WORK/host.out")"
}
t_vsock_debian() {
	[ -f "$G/debian-vmlinuz" ] && [ -f "$G/debian-initramfs.cpio.gz" ] || { why="no Debian kernel/initramfs in $G"; return 1; }
	mkdir -p "$WORK/debian"
	VSOCK_GUEST=debian WORK="$WORK/debian" sh "$0" $BOOT_TESTS >"$WORK/debian.out" 2>&1
	sed 's/^/# debian: /' "$WORK/debian.out"
	grep -q "^12 passed, 0 failed" "$WORK/debian.out" || { why="Debian kernel: $(tail -1 "$WORK/debian.out")"; return 1; }
}
t_vsock_guest_echo() { guest_has "VSOCKT client vsock:2:5000 e ok bytes=$M"; }
t_vsock_guest_sink() { guest_has "VSOCKT client vsock:2:5000 s ok bytes=$M"; }
t_vsock_slow_reader() {
	guest_has "VSOCKT client vsock:2:5000 p ok bytes=$M" || return 1
	grep -q "VSOCKT server stalling 10 s" "$WORK/hostserver.out" || { why="the host reader never stalled"; return 1; }
	peak=$(cat "$WORK/rssanon.peak" 2>/dev/null)
	echo "# vsock-slow-reader: arcvmm RssAnon peak ${peak:-?} MiB over the whole run"
	[ -n "$peak" ] && [ "$peak" -lt 64 ] || { why="arcvmm's RssAnon peaked at ${peak:-?} MiB (limit 64)"; return 1; }
}
t_vsock_pause_resume() { host_has "pause: Paused 204" && host_has "pause: Resumed 204" && host_has "pause: VSOCKT client hyb:$U:1024 g ok bytes=$M"; }
t_vsock_guest_refused() { guest_has "VSOCKT client vsock:2:5001 FAIL connect errno=ECONN"; }

run_all "$@"

#!/bin/sh
# tests/linux/balloon.sh — memory given back to the host, with a real Linux guest (POSIX
# sh; runs under busybox in the nested L1, or directly on a host with hardware KVM).
#
#   ARCVMM=build/arcvmm GUEST_DIR=../shared/guest WORK=/tmp/w sh tests/linux/balloon.sh [TEST...]
#
#   balloon-free-page-reporting  the minimal kernel (virtio-balloon built in), 1 GiB, a
#                         balloon with --memory-reclaim auto (the default: free page
#                         reporting on): the guest fills 512 MiB of tmpfs, then frees it;
#                         the host's memory for the guest (the RAM memfd's allocated
#                         blocks, read through /proc/PID/fd) must rise by about 512 MiB and
#                         fall back by at least 460 MiB of it (all but 10%) within 10 s of
#                         the free.
#                         Prints the figures (baseline, peak, settled, seconds to settle).
#   balloon-inflate-api   --memory-reclaim manual, 512 MiB: the guest touches 256 MiB and
#                         frees it (it stays resident: no free page reporting in manual
#                         mode); PATCH /balloon {"amount_mib": 200} through the REST API:
#                         the memfd drops by >= 180 MiB within 20 s, the guest's MemTotal
#                         drops by >= 190 MiB (no deflate_on_oom, so the driver takes the
#                         pages off its total), GET /balloon shows the target, and GET
#                         /balloon/statistics agrees with the guest's /proc/meminfo
#                         (total_memory = MemTotal within 1%, free_memory = MemFree within
#                         32 MiB, both read in the same second)
#   balloon-deflate-on-oom  512 MiB, --balloon target=300M,deflate_on_oom (manual reclaim):
#                         once the driver holds the 300 MiB, the guest writes 350 MiB into a
#                         tmpfs — more than it has left — and the write succeeds with no
#                         OOM kill, because the driver gives balloon pages back on OOM;
#                         GET /balloon/statistics shows actual_mib below 300 afterwards
# Prints "ok NAME" / "FAIL NAME: why"; last line "N passed, N failed".
# Env: LT_TIMEOUT (s per minimal boot, 90).
#
# Trusts: nothing the guest prints (only matched against patterns).

ARCVMM=${ARCVMM:?set ARCVMM to the arcvmm binary}
G=${GUEST_DIR:?set GUEST_DIR to the guest images}
WORK=${WORK:-$(mktemp -d)}
T=${LT_TIMEOUT:-90}
K=$G/minimal-vmlinux
I=$G/minimal-initramfs.cpio.gz
ALL="balloon-free-page-reporting balloon-inflate-api balloon-deflate-on-oom"
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
finish() { tr -d '\r' <"$con.raw" >"$con"; }

# memfd_of PID: the /proc path of arcvmm's guest RAM memfd ("memfd:arcvmm-ram")
memfd_of() {
	for _f in /proc/"$1"/fd/*; do
		case "$(readlink "$_f" 2>/dev/null)" in
		*memfd:arcvmm-ram*) echo "$_f"; return 0 ;;
		esac
	done
	return 1
}
# mib_of FD_PATH: the memfd's allocated MiB (st_blocks are 512 bytes)
mib_of() {
	_b=$(stat -L -c %b "$1" 2>/dev/null) || return 1
	echo $((_b / 2048))
}

t_balloon_free_page_reporting() {
	con=$WORK/fpr.console
	errf=$WORK/fpr.stderr
	pidf=$WORK/fpr.pid
	rm -f "$pidf"
	# A calm host for the policy (no inflating to muddle the figures): only free page
	# reporting gives memory back here.
	printf 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n' \
		>"$WORK/fpr.psi"
	s='mkdir -p /fill && mount -t tmpfs -o size=600m none /fill || echo FILL-NO-TMPFS
echo FILL-READY
sleep 3
dd if=/dev/zero of=/fill/f bs=1M count=512 2>/dev/null; sync
echo "FILL-FILLED $(du -m /fill/f | cut -f1)"
sleep 5
rm -f /fill/f
echo FILL-FREED
sleep 20
echo FILL-DONE'
	: >"$con.raw"
	# sh -c ... exec: arcvmm's own pid in $pidf (timeout's child), for /proc/PID/fd.
	ARCVMM_TEST_PSI_PATH=$WORK/fpr.psi timeout -s KILL "$((T + 240))" sh -c 'echo $$ >"$0"; exec "$@"' "$pidf" \
		"$ARCVMM" --kernel "$K" --initrd "$I" --memory 1G --net none \
		--balloon target=0,stats=1,deflate_on_oom --memory-reclaim auto \
		--cmdline "$BASE guest.cmd64=$(b64 "$s")" \
		</dev/null >"$con.raw" 2>"$errf" &
	tpid=$!
	if ! wait_for "$con.raw" '^FILL-READY' "$T"; then
		kill -KILL $tpid 2>/dev/null; wait $tpid; finish
		why="the guest never got ready"
		return 1
	fi
	pid=$(cat "$pidf")
	fd=$(memfd_of "$pid") || { kill -KILL $tpid; wait $tpid; finish; why="no arcvmm-ram memfd in /proc/$pid/fd"; return 1; }
	base=$(mib_of "$fd")
	wait_for "$con.raw" '^FILL-FILLED' 240 || { kill -KILL $tpid; wait $tpid; finish; why="the guest never filled its tmpfs"; return 1; }
	peak=$(mib_of "$fd")
	wait_for "$con.raw" '^FILL-FREED' 30 || { kill -KILL $tpid; wait $tpid; finish; why="the guest never freed its tmpfs"; return 1; }
	# One sample a second for 10 s after the free; the first at or below peak - 460 wins.
	settled="" t_settle="" now=""
	_i=0
	while [ $_i -le 10 ]; do
		now=$(mib_of "$fd") || break
		if [ "$now" -le $((peak - 460)) ]; then
			settled=$now
			t_settle=$_i
			break
		fi
		sleep 1
		_i=$((_i + 1))
	done
	wait $tpid
	rc=$?
	finish
	echo "# balloon-free-page-reporting: guest RAM in the memfd: ${base} MiB after boot," \
		"${peak} MiB filled, ${settled:-$now} MiB ${t_settle:+<= ${t_settle} s }after the free"
	grep -q '^FILL-NO-TMPFS' "$con" && { why="the guest could not mount a tmpfs"; return 1; }
	[ $((peak - base)) -ge 450 ] || { why="filling 512 MiB added only $((peak - base)) MiB to the memfd"; return 1; }
	[ -n "$settled" ] || { why="10 s after the free the memfd still holds ${now:-?} MiB (peak $peak MiB)"; return 1; }
	grep -q '^FILL-DONE' "$con" || { why="the guest did not finish (exit $rc)"; return 1; }
	[ "$rc" = 0 ] || { why="arcvmm exited $rc, expected 0"; return 1; }
}

t_balloon_inflate_api() {
	command -v curl >/dev/null || { why="no curl (needed for the API)"; return 1; }
	con=$WORK/infl.console
	errf=$WORK/infl.stderr
	pidf=$WORK/infl.pid
	SOCK=$WORK/infl.sock
	rm -f "$pidf" "$SOCK"
	s='mkdir -p /fill && mount -t tmpfs -o size=300m none /fill || echo FILL-NO-TMPFS
dd if=/dev/zero of=/fill/f bs=1M count=256 2>/dev/null; sync; rm -f /fill/f
mi() { awk "/^$1:/ {print \$2}" /proc/meminfo; }
echo "BAL-TOUCHED $(mi MemTotal)"
i=0; while [ $i -lt 40 ]; do echo "BAL-MEM $(cut -d. -f1 /proc/uptime) $(mi MemTotal) $(mi MemFree)"; sleep 1; i=$((i + 1)); done
echo BAL-DONE'
	: >"$con.raw"
	timeout -s KILL "$((T + 120))" sh -c 'echo $$ >"$0"; exec "$@"' "$pidf" \
		"$ARCVMM" --api-sock "$SOCK" --kernel "$K" --initrd "$I" --memory 512M --net none \
		--balloon target=0,stats=1 --memory-reclaim manual \
		--cmdline "$BASE guest.cmd64=$(b64 "$s")" \
		</dev/null >"$con.raw" 2>"$errf" &
	tpid=$!
	if ! wait_for "$con.raw" '^BAL-TOUCHED' "$T"; then
		kill -KILL $tpid 2>/dev/null; wait $tpid; finish
		why="the guest never touched its memory"
		return 1
	fi
	pid=$(cat "$pidf")
	fd=$(memfd_of "$pid") || { kill -KILL $tpid; wait $tpid; finish; why="no arcvmm-ram memfd"; return 1; }
	peak=$(mib_of "$fd")
	code=$(curl -s -o "$WORK/infl.resp" -w '%{http_code}' --unix-socket "$SOCK" -X PATCH \
		http://localhost/balloon -d '{"amount_mib": 200}')
	low="" t_low=""
	_i=0
	while [ $_i -le 20 ]; do
		now=$(mib_of "$fd") || break
		if [ "$now" -le $((peak - 180)) ]; then low=$now; t_low=$_i; break; fi
		sleep 1
		_i=$((_i + 1))
	done
	sleep 3 # statistics every second: let one arrive after the inflate
	curl -s --unix-socket "$SOCK" http://localhost/balloon >"$WORK/infl.get"
	curl -s --unix-socket "$SOCK" http://localhost/balloon/statistics >"$WORK/infl.stats"
	up=$(cut -d. -f1 /proc/uptime)
	wait $tpid
	rc=$?
	finish
	before=$(sed -n 's/^BAL-TOUCHED //p' "$con")
	# The guest's last line before the statistics were read (its clock is not ours: take
	# the last line, read at most a second apart from the statistics it is compared with).
	last=$(grep '^BAL-MEM ' "$con" | tail -n 1)
	after_total=$(echo "$last" | awk '{print $3}')
	after_free=$(echo "$last" | awk '{print $4}')
	st_total=$(sed -n 's/.*"total_memory":\([0-9]*\).*/\1/p' "$WORK/infl.stats")
	st_free=$(sed -n 's/.*"free_memory":\([0-9]*\).*/\1/p' "$WORK/infl.stats")
	echo "# balloon-inflate-api: memfd ${peak} MiB -> ${low:-${now:-?}} MiB ${t_low:+in <= ${t_low} s}; guest MemTotal ${before:-?} -> ${after_total:-?} kB;" \
		"stats total_memory ${st_total:-?} free_memory ${st_free:-?} B (guest MemFree ${after_free:-?} kB); $(cat "$WORK/infl.get")"
	[ "$code" = 204 ] || { why="PATCH /balloon: $code $(cat "$WORK/infl.resp")"; return 1; }
	[ -n "$low" ] || { why="20 s after the inflate the memfd still holds ${now:-?} MiB (was $peak)"; return 1; }
	grep -q '"amount_mib":200' "$WORK/infl.get" || { why="GET /balloon does not show the target"; return 1; }
	[ -n "$before" ] && [ -n "$after_total" ] && [ $((before - after_total)) -ge $((190 * 1024)) ] ||
		{ why="the guest's MemTotal went from ${before:-?} to ${after_total:-?} kB"; return 1; }
	[ -n "$st_total" ] && [ -n "$st_free" ] || { why="no statistics: $(cat "$WORK/infl.stats")"; return 1; }
	d_total=$((st_total / 1024 - after_total))
	d_free=$((st_free / 1024 - after_free))
	[ "${d_total#-}" -le $((after_total / 100)) ] ||
		{ why="total_memory differs from MemTotal by ${d_total} kB"; return 1; }
	[ "${d_free#-}" -le $((32 * 1024)) ] ||
		{ why="free_memory differs from MemFree by ${d_free} kB"; return 1; }
	grep -q '^BAL-DONE' "$con" || { why="the guest did not finish (exit $rc)"; return 1; }
	[ "$rc" = 0 ] || { why="arcvmm exited $rc, expected 0"; return 1; }
	: "$up"
}

t_balloon_deflate_on_oom() {
	command -v curl >/dev/null || { why="no curl (needed for the API)"; return 1; }
	con=$WORK/oom.console
	errf=$WORK/oom.stderr
	SOCK=$WORK/oom.sock
	rm -f "$SOCK"
	s='mi() { awk "/^$1:/ {print \$2}" /proc/meminfo; }
i=0; while [ "$(mi MemAvailable)" -gt $((220 * 1024)) ] && [ $i -lt 120 ]; do sleep 1; i=$((i + 1)); done
echo "OOM-INFLATED avail_kb=$(mi MemAvailable) after ${i}s"
mkdir -p /fill && mount -t tmpfs -o size=400m none /fill || echo FILL-NO-TMPFS
dd if=/dev/zero of=/fill/f bs=1M count=350 2>/dev/null
echo "OOM-FILL rc=$? mib=$(du -m /fill/f | cut -f1) avail_kb=$(mi MemAvailable)"
dmesg | grep -iE "killed process|out of memory" | sed "s/^/OOM-DMESG /"
echo OOM-FILLED
sleep 4
echo OOM-DONE'
	: >"$con.raw"
	timeout -s KILL "$((T + 240))" "$ARCVMM" --api-sock "$SOCK" --kernel "$K" --initrd "$I" \
		--memory 512M --net none --balloon target=300M,deflate_on_oom,stats=1 \
		--memory-reclaim manual --cmdline "$BASE guest.cmd64=$(b64 "$s")" \
		</dev/null >"$con.raw" 2>"$errf" &
	tpid=$!
	if ! wait_for "$con.raw" '^OOM-FILLED' "$((T + 200))"; then
		kill -KILL $tpid 2>/dev/null; wait $tpid; finish
		why="the guest never finished its fill"
		return 1
	fi
	sleep 2 # a statistics round after the fill
	curl -s --max-time 10 --unix-socket "$SOCK" http://localhost/balloon/statistics >"$WORK/oom.stats"
	wait $tpid
	rc=$?
	finish
	actual=$(sed -n 's/.*"actual_mib":\([0-9]*\).*/\1/p' "$WORK/oom.stats")
	echo "# balloon-deflate-on-oom: $(grep '^OOM-INFLATED' "$con"); $(grep '^OOM-FILL ' "$con"); balloon actual_mib ${actual:-?} after the fill"
	grep -q '^OOM-INFLATED avail_kb=' "$con" || { why="no inflate report"; return 1; }
	i=$(sed -n 's/^OOM-INFLATED .* after \([0-9]*\)s/\1/p' "$con")
	[ "${i:-120}" -lt 120 ] || { why="the balloon never took 300 MiB (MemAvailable stayed high)"; return 1; }
	grep -q '^FILL-NO-TMPFS' "$con" && { why="the guest could not mount a tmpfs"; return 1; }
	grep -q '^OOM-FILL rc=0 mib=350 ' "$con" || { why="the 350 MiB write failed: $(grep '^OOM-FILL' "$con")"; return 1; }
	grep -qi '^OOM-DMESG.*killed process' "$con" && { why="the OOM killer ran: $(grep '^OOM-DMESG' "$con" | head -2)"; return 1; }
	[ -n "$actual" ] && [ "$actual" -lt 300 ] || { why="actual_mib ${actual:-?} after the fill (want < 300): $(cat "$WORK/oom.stats")"; return 1; }
	grep -q '^OOM-DONE' "$con" || { why="the guest did not finish (exit $rc)"; return 1; }
	[ "$rc" = 0 ] || { why="arcvmm exited $rc, expected 0"; return 1; }
}

. "$(dirname "$0")/runner.inc"
run_all "$@"

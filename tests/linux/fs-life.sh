#!/bin/sh
# tests/linux/fs-life.sh — virtio-fs through a VM's lifecycle, with a Linux guest (POSIX sh;
# runs under busybox in the nested L1 with curl beside arcvmm, or on a host with hardware
# KVM). tests/linux/fs.sh has the file-system semantics; this has what happens around them.
#
#   ARCVMM=build/arcvmm GUEST_DIR=../shared/guest WORK=/tmp/w sh tests/linux/fs-life.sh [TEST...]
#
#   fs-snapshot-open-file  a share (cache=none, so every read reaches the server) mounted in
#                          the guest, which holds a file open for reading, one for appending
#                          and one the host then deletes; the VM is paused and snapshotted
#                          over the API, stopped, the host adds a file, and a new arcvmm
#                          process restores it: the guest reads on in the still-open file
#                          (the next line), appends through the open fd, gets an error (not
#                          a hang, not data) from the deleted one's fd, lists the directory
#                          (the host's new file there, the deleted one gone) and unmounts;
#                          the host file holds both appends; arcvmm exits 0.
#   fs-rootless            arcvmm runs as uid/gid 65534 (tests/guest-tools/runas) on a share
#                          owned by that user: files and directories the guest (root) makes
#                          are owned by 65534 on the host; `chown 0:0` and `chown 1234` of a
#                          file answer EPERM in the guest; the share works on after that and
#                          arcvmm exits 0 with the guest's power-off.
#   fs-queues-pause        a share with queues=4: four parallel readers (sha256sum of four
#                          FS_LIFE_MIB MiB host files) get the host's checksums; then a copy
#                          of a 4 × FS_LIFE_MIB MiB file inside the share is paused (PATCH
#                          /vm Paused, 2 s) and resumed in the middle: no error, the copy's
#                          sha256 equals the original's on the host. The metrics' per-queue
#                          counters ("fs" → "queue_requests") are printed; the test requires
#                          five of them and the first request queue to have served, and
#                          reports how many request queues did (Linux before 6.11 sends
#                          every request on the first request queue, and both test kernels
#                          are 6.1: the parallel queues are tested in test_virtio_fs).
# Prints "ok NAME" / "FAIL NAME: why"; last line "N passed, N failed".
# Env: LT_TIMEOUT (s per boot, 300), FS_LIFE_MIB (32), RUNAS (default beside $ARCVMM in
# guest-tools/), CURL (curl).
# suite-timeout: 1200
#
# Trusts: nothing the guest prints (only matched against patterns).

ARCVMM=${ARCVMM:?set ARCVMM to the arcvmm binary}
G=${GUEST_DIR:?set GUEST_DIR to the guest images}
WORK=${WORK:-$(mktemp -d)}
T=${LT_TIMEOUT:-300}
K=$G/minimal-vmlinux
I=$G/minimal-initramfs.cpio.gz
MIB=${FS_LIFE_MIB:-32}
TOOLS=$(dirname "$ARCVMM")/guest-tools
RUNAS=${RUNAS:-$TOOLS/runas}
FST=${FST:-$TOOLS/fst}
CURL=${CURL:-curl}
ALL="fs-snapshot-open-file fs-rootless fs-queues-pause"
mkdir -p "$WORK" || exit 2
WORK=$(cd "$WORK" && pwd)
. "$(dirname "$0")/runner.inc"

CMDLINE="console=ttyS0 reboot=k panic=-1 quiet guest.quiet=1"

wait_for() { # FILE PATTERN SECONDS
	_i=0
	while [ $_i -lt $(($3 * 10)) ]; do
		tr -d '\r' 2>/dev/null <"$1" | grep -q -- "$2" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}
api() { # SOCKET METHOD PATH [BODY]: prints the HTTP status; the body goes to $WORK/resp
	"$CURL" -s -o "$WORK/resp" -w '%{http_code}' --max-time 60 --unix-socket "$1" \
		-X "$2" -H 'Content-Type: application/json' ${4:+-d "$4"} "http://localhost$3"
}
b64() { printf '%s' "$1" | base64 | tr -d '\n'; }
line() { tr -d '\r' <"$1" | sed -n "s/^$2 //p" | head -n 1; }

t_fs_snapshot_open_file() {
	command -v "$CURL" >/dev/null || { why="no curl"; return 1; }
	S=$WORK/snapshare
	rm -rf "$S" "$WORK/s" "$WORK/m" "$WORK/snap.sock"
	mkdir -p "$S/dir" || return 1
	printf 'line-one\nline-two\nline-three\n' >"$S/dir/held"
	echo doomed-content >"$S/dir/doomed"
	echo aaa >"$S/dir/a"
	: >"$S/dir/appended"
	gs='mkdir -p /m && mount -t virtiofs snap /m || echo SNAP-FAIL mount
exec 3</m/dir/held 4</m/dir/doomed 5>>/m/dir/appended
read -r l1 <&3; echo "SNAP-FIRST $l1"
echo before >&5
echo SNAP-READY
i=0; while [ ! -e /m/go ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i + 1)); done
read -r l2 <&3; echo "SNAP-SECOND $l2"
echo after >&5 && echo SNAP-APPENDED
if cat <&4 >/tmp/d 2>/tmp/e; then echo "SNAP-DOOMED-READ $(cat /tmp/d)"; else echo "SNAP-DOOMED-ERR $(cat /tmp/e)"; fi
echo "SNAP-LS $(ls /m/dir | tr "\n" " ")"
echo "SNAP-CAT $(cat /m/dir/a)"
exec 3<&- 4<&- 5>&-
cd / && umount /m && echo SNAP-UMOUNT
echo SNAP-DONE'
	con=$WORK/snap1.console
	errf=$WORK/snap1.stderr
	timeout -s KILL "$T" "$ARCVMM" --kernel "$K" --initrd "$I" --memory 256M \
		--fs "$S,tag=snap,cache=none" --api-sock "$WORK/snap.sock" \
		--cmdline "$CMDLINE guest.cmd64=$(b64 "$gs")" </dev/null >"$con" 2>"$errf" &
	p=$!
	wait_for "$con" '^SNAP-READY' "$T" || { why="the guest did not get ready"; kill $p; return 1; }
	rm "$S/dir/doomed"
	st=$(api "$WORK/snap.sock" PATCH /vm '{"state":"Paused"}')
	[ "$st" = 204 ] || { why="pause: $st $(cat "$WORK/resp")"; kill $p; return 1; }
	st=$(api "$WORK/snap.sock" PUT /snapshot/create "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"$WORK/s\",\"mem_file_path\":\"$WORK/m\"}")
	kill -INT $p
	wait $p
	[ "$st" = 204 ] || { why="snapshot/create: $st $(cat "$WORK/resp")"; return 1; }
	echo "  snapshot with a share: state $(stat -c %s "$WORK/s") bytes"
	echo from-host >"$S/dir/after-host"
	: >"$S/go"
	con=$WORK/snap2.console
	errf=$WORK/snap2.stderr
	timeout -s KILL "$T" "$ARCVMM" --restore "$WORK/s,mem=$WORK/m" </dev/null >"$con" 2>"$errf"
	rc=$?
	grep '^SNAP-' "$con" | sed 's/^/  /'
	[ "$(line "$WORK/snap1.console" SNAP-FIRST)" = line-one ] || { why="before: first line '$(line "$WORK/snap1.console" SNAP-FIRST)'"; return 1; }
	[ "$(line "$con" SNAP-SECOND)" = line-two ] || { why="the open file after the restore gave '$(line "$con" SNAP-SECOND)', expected line-two"; return 1; }
	grep -q '^SNAP-APPENDED' "$con" || { why="append through the open fd failed"; return 1; }
	grep -q '^SNAP-DOOMED-ERR' "$con" || { why="the deleted file's fd: $(grep SNAP-DOOMED "$con")"; return 1; }
	[ "$(line "$con" SNAP-LS)" = "a after-host appended held " ] || { why="listing after the restore: '$(line "$con" SNAP-LS)'"; return 1; }
	[ "$(line "$con" SNAP-CAT)" = aaa ] || { why="cat after the restore"; return 1; }
	grep -q '^SNAP-UMOUNT' "$con" || { why="umount after the restore failed"; return 1; }
	[ "$(tr '\n' ' ' <"$S/dir/appended")" = "before after " ] || { why="host: appended holds '$(cat "$S/dir/appended")'"; return 1; }
	[ "$rc" = 0 ] || { why="the restored arcvmm exited $rc"; return 1; }
	! grep -qi 'virtio-fs\|seccomp' "$errf" || { why="arcvmm stderr: $(head -n 3 "$errf")"; return 1; }
}

t_fs_rootless() {
	[ -x "$RUNAS" ] || { why="no $RUNAS (make guest-tools)"; return 1; }
	R=$WORK/rootless
	rm -rf "$R"
	mkdir -p "$R/share" || return 1
	echo host-file >"$R/share/hostfile"
	# The user must reach arcvmm and its libraries: in the nested L1 they sit in the job
	# folder (mode 0700, root's), so a copy goes beside the share, run through the copied
	# loader when the job brought one.
	mkdir -p "$R/bin" "$R/lib" && cp "$ARCVMM" "$R/bin/arcvmm" || return 1
	set -- "$R/bin/arcvmm"
	if [ -n "${LD_LIBRARY_PATH:-}" ] && [ -f "$LD_LIBRARY_PATH/ld-linux-x86-64.so.2" ]; then
		cp "$LD_LIBRARY_PATH"/* "$R/lib/" || return 1
		set -- "$R/lib/ld-linux-x86-64.so.2" --library-path "$R/lib" "$R/bin/arcvmm"
	fi
	chown -R 65534:65534 "$R" && chmod 0755 "$WORK" "$R" || { why="chown (not root?)"; return 1; }
	if ! "$RUNAS" 65534 65534 sh -c '[ -r /dev/kvm ] && [ -w /dev/kvm ]'; then
		# In the nested L1 (a throwaway machine) the test may open /dev/kvm to everyone.
		# (L1 is booted with l1.job= on its command line; the job folder is /nested-job,
		# or /tmp/nested-job under --hostroot.)
		grep -q 'l1\.job=' /proc/cmdline || { why="uid 65534 cannot open /dev/kvm here"; return 1; }
		chmod 0666 /dev/kvm || return 1
	fi
	gs='mkdir -p /m && mount -t virtiofs rl /m || echo RL-FAIL mount
echo guest >/m/made && mkdir /m/madedir && echo "RL-OWNER $(stat -c %u:%g /m/made /m/madedir | tr "\n" " ")"
if chown 0:0 /m/made 2>/tmp/e; then echo RL-CHOWN0-ALLOWED; else echo "RL-CHOWN0-ERR $(cat /tmp/e)"; fi
if chown 1234 /m/hostfile 2>/tmp/e; then echo RL-CHOWN1234-ALLOWED; else echo "RL-CHOWN1234-ERR $(cat /tmp/e)"; fi
echo later >/m/after-chown && [ "$(cat /m/after-chown)" = later ] && [ "$(cat /m/hostfile)" = host-file ] && echo RL-STILL-WORKS
cd / && umount /m && echo RL-DONE'
	con=$WORK/rootless.console
	errf=$WORK/rootless.stderr
	(cd "$R" && exec timeout -s KILL "$T" "$RUNAS" 65534 65534 "$@" --kernel "$K" \
		--initrd "$I" --memory 256M --fs "$R/share,tag=rl" \
		--cmdline "$CMDLINE guest.cmd64=$(b64 "$gs")" </dev/null >"$con" 2>"$errf")
	rc=$?
	grep '^RL-' "$con" | sed 's/^/  /'
	grep -q '^RL-DONE' "$con" || { why="the guest script did not finish"; return 1; }
	[ "$(stat -c %u:%g "$R/share/made")" = 65534:65534 ] || { why="host: made is owned by $(stat -c %u:%g "$R/share/made")"; return 1; }
	[ "$(stat -c %u:%g "$R/share/madedir")" = 65534:65534 ] || { why="host: madedir is owned by $(stat -c %u:%g "$R/share/madedir")"; return 1; }
	[ "$(line "$con" RL-OWNER)" = "65534:65534 65534:65534 " ] || { why="guest sees owners '$(line "$con" RL-OWNER)'"; return 1; }
	line "$con" RL-CHOWN0-ERR | grep -q 'Operation not permitted' || { why="chown 0:0: $(grep RL-CHOWN0 "$con")"; return 1; }
	line "$con" RL-CHOWN1234-ERR | grep -q 'Operation not permitted' || { why="chown 1234: $(grep RL-CHOWN1234 "$con")"; return 1; }
	grep -q '^RL-STILL-WORKS' "$con" || { why="the share stopped working after the refused chown"; return 1; }
	[ "$(stat -c %u "$R/share/hostfile")" = 65534 ] || { why="host: hostfile changed owner"; return 1; }
	[ "$rc" = 0 ] || { why="arcvmm (uid 65534) exited $rc"; return 1; }
	! grep -qi 'virtio-fs\|seccomp' "$errf" || { why="arcvmm stderr: $(head -n 3 "$errf")"; return 1; }
}

t_fs_queues_pause() {
	command -v "$CURL" >/dev/null || { why="no curl"; return 1; }
	[ -x "$FST" ] || { why="no $FST (make guest-tools)"; return 1; }
	Q=$WORK/qshare
	rm -rf "$Q" "$WORK/q.sock"
	mkdir -p "$Q" || return 1
	for n in 1 2 3 4; do
		"$FST" gen "$Q/f$n" "$MIB" >/dev/null || return 1
		# Four different files: the generator's pattern is the same, so prefix the number.
		{ echo "$n"; cat "$Q/f$n"; } >"$Q/f$n.t" && mv "$Q/f$n.t" "$Q/f$n"
	done
	cat "$Q/f1" "$Q/f2" "$Q/f3" "$Q/f4" >"$Q/big"
	gs='mkdir -p /m && mount -t virtiofs q /m || echo Q-FAIL mount
for n in 1 2 3 4; do sha256sum /m/f$n >/tmp/s$n & done; wait
for n in 1 2 3 4; do echo "Q-SUM f$n $(cut -d" " -f1 /tmp/s$n)"; done
echo Q-COPY-START
if cp /m/big /m/big.copy; then echo Q-COPY-DONE; else echo Q-COPY-FAIL; fi
echo "Q-SUM big.copy $(sha256sum /m/big.copy | cut -d" " -f1)"
echo Q-WAIT-METRICS
i=0; while [ ! -e /m/metrics-done ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
cd / && umount /m && echo Q-DONE'
	con=$WORK/q.console
	errf=$WORK/q.stderr
	timeout -s KILL "$T" "$ARCVMM" --kernel "$K" --initrd "$I" --memory 512M \
		--fs "$Q,tag=q,queues=4" --api-sock "$WORK/q.sock" \
		--cmdline "$CMDLINE guest.cmd64=$(b64 "$gs")" </dev/null >"$con" 2>"$errf" &
	p=$!
	wait_for "$con" '^Q-COPY-START' "$T" || { why="the guest did not reach the copy"; kill $p; return 1; }
	sleep 0.5
	mid=1
	grep -q '^Q-COPY-DONE\|^Q-COPY-FAIL' "$con" && mid=0
	st=$(api "$WORK/q.sock" PATCH /vm '{"state":"Paused"}')
	[ "$st" = 204 ] || { why="pause: $st $(cat "$WORK/resp")"; kill $p; return 1; }
	sleep 2
	api "$WORK/q.sock" GET /arcvmm/metrics >/dev/null
	grep -q '"state":"Paused"' "$WORK/resp" || { why="metrics while paused: $(head -c 200 "$WORK/resp")"; kill $p; return 1; }
	grep -q '^Q-COPY-DONE\|^Q-COPY-FAIL' "$con" && mid=0
	st=$(api "$WORK/q.sock" PATCH /vm '{"state":"Resumed"}')
	[ "$st" = 204 ] || { why="resume: $st $(cat "$WORK/resp")"; kill $p; return 1; }
	wait_for "$con" '^Q-WAIT-METRICS' "$T" || { why="the guest did not finish the copy"; kill $p; return 1; }
	st=$(api "$WORK/q.sock" GET /arcvmm/metrics)
	cp "$WORK/resp" "$WORK/q.metrics"
	: >"$Q/metrics-done"
	wait $p
	rc=$?
	grep '^Q-' "$con" | sed 's/^/  /'
	qr=$(tr -d ' \n' <"$WORK/q.metrics" | sed -n 's/.*"tag":"q"[^]]*"queue_requests":\[\([0-9,]*\)\].*/\1/p')
	echo "  requests per queue (hiprio, req0..req3): $qr; paused in the middle of the copy: $([ $mid = 1 ] && echo yes || echo no)"
	[ "$st" = 200 ] && [ -n "$qr" ] || { why="no fs queue counters in the metrics ($st)"; return 1; }
	[ $mid = 1 ] || { why="the copy ended before the pause (raise FS_LIFE_MIB)"; return 1; }
	for n in 1 2 3 4; do
		[ "$(line "$con" "Q-SUM f$n")" = "$(sha256sum "$Q/f$n" | cut -d' ' -f1)" ] || { why="parallel reader f$n: wrong sha256"; return 1; }
	done
	grep -q '^Q-COPY-DONE' "$con" || { why="the copy failed"; return 1; }
	h=$(sha256sum "$Q/big" | cut -d' ' -f1)
	[ "$(line "$con" "Q-SUM big.copy")" = "$h" ] || { why="the guest's sha256 of the copy differs"; return 1; }
	[ "$(sha256sum "$Q/big.copy" | cut -d' ' -f1)" = "$h" ] || { why="host: the copy differs from the original"; return 1; }
	echo "$qr" | awk -F, '{ n = 0; for (i = 2; i <= NF; i++) if ($i > 0) n++; print "  request queues that served: " n " of " NF - 1 }'
	echo "$qr" | awk -F, '{ exit !(NF == 5 && $2 > 0) }' || { why="queue counters $qr: five queues, the first request queue served"; return 1; }
	[ "$rc" = 0 ] || { why="arcvmm exited $rc"; return 1; }
	! grep -qi 'virtio-fs\|seccomp' "$errf" || { why="arcvmm stderr: $(head -n 3 "$errf")"; return 1; }
}

run_all "$@"

#!/bin/bash
# tests/guests/snapshot.sh — snapshot/restore with the counter guest (count.elf): a VM
# is paused and snapshotted mid-run over its API socket (curl), stopped, and restored in a
# new arcvmm process: the serial output of both runs put together must be the whole count,
# with no line lost or repeated and no memory-pattern error. Also: snapshot of a running VM
# refused (400), a restored VM snapshotted again, two clones from one snapshot, and bad
# files refused with one line (truncated, corrupted, memory file of the wrong size,
# missing memory file).
#
# usage: tests/guests/snapshot.sh ARCVMM_BINARY GUEST_DIR
# Prints "ok NAME" / "FAIL NAME: why" per test and "N passed, N failed". Needs KVM, curl.
# Trusts: nothing the guest prints (lines matched exactly).

set -u
VMM=$1
DIR=$2
GUEST=$DIR/count.elf
ROUNDS=${SNAP_ROUNDS:-100}
# ~0.1 s per round at 2 GHz: slow enough for curl in a nested L1 to catch it mid-run
DELAY=${SNAP_DELAY:-200}
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
passed=0
failed=0
WHY=

why() { [ -n "$WHY" ] || WHY=$1; }
report() {
	if [ -z "$WHY" ]; then
		echo "ok $1"
		passed=$((passed + 1))
	else
		echo "FAIL $1: $WHY"
		for f in "${@:2}"; do
			[ -e "$f" ] && { echo "  --- $f"; tail -n 20 "$f" | sed 's/^/  | /'; }
		done
		failed=$((failed + 1))
	fi
	WHY=
}

api() { # METHOD PATH BODY → status code in $CODE, body in $T/resp
	CODE=$(curl -s -o "$T/resp" -w '%{http_code}' --unix-socket "$T/api.sock" -X "$1" \
		-H 'Content-Type: application/json' -d "$3" "http://localhost$2")
}

# wait_line FILE PREFIX SECONDS
wait_line() {
	local i
	for i in $(seq 1 $(($3 * 20))); do
		grep -q "^$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

expected() { # the whole run's output, line by line
	echo COUNT-START
	seq 0 $((ROUNDS - 1)) | sed 's/^/COUNT /'
	echo "COUNT-DONE $ROUNDS"
}
expected >"$T/want"

# --- 1. snapshot mid-run, restore in a new process --------------------------------------
rm -f "$T/api.sock"
"$VMM" --kernel "$GUEST" --memory 128M --cmdline "rounds=$ROUNDS delay=$DELAY" --api-sock "$T/api.sock" \
	</dev/null >"$T/out1" 2>"$T/err1" &
pid=$!
wait_line "$T/out1" "COUNT 5" 60 || why "the guest did not reach COUNT 5"
api PUT /snapshot/create "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"$T/s1\",\"mem_file_path\":\"$T/m1\"}"
[ "$CODE" = 400 ] || why "snapshot of a running VM: HTTP $CODE, expected 400"
grep -q fault_message "$T/resp" || why "no fault_message for the running-VM snapshot"
running_refused=$WHY
WHY=
api PATCH /vm '{"state":"Paused"}'
[ "$CODE" = 204 ] || why "pause: HTTP $CODE $(cat "$T/resp")"
t0=$(date +%s%N)
api PUT /snapshot/create "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"$T/s1\",\"mem_file_path\":\"$T/m1\"}"
t1=$(date +%s%N)
[ "$CODE" = 204 ] || why "snapshot: HTTP $CODE $(cat "$T/resp")"
kill -INT $pid
wait $pid
tr -d '\r' <"$T/out1" >"$T/o1"
echo "  snapshot: $(((t1 - t0) / 1000000)) ms; state $(stat -c %s "$T/s1" 2>/dev/null) bytes;" \
	"memory file $(du -k "$T/m1" 2>/dev/null | cut -f1) KiB on disk of $(($(stat -c %s "$T/m1" 2>/dev/null || echo 0) >> 10)) KiB"
timeout -k 5 120 "$VMM" --restore "$T/s1,mem=$T/m1" </dev/null >"$T/out2" 2>"$T/err2"
st=$?
[ "$st" = 0 ] || why "restored run: exit status $st"
tr -d '\r' <"$T/out2" >"$T/o2"
cat "$T/o1" "$T/o2" >"$T/both"
cmp -s "$T/both" "$T/want" || why "output of the two runs is not the whole count: $(diff "$T/want" "$T/both" | head -5 | tr '\n' ' ')"
[ -s "$T/o2" ] || why "the restored run printed nothing"
grep -q COUNT-BAD "$T/both" && why "memory pattern broken: $(grep COUNT-BAD "$T/both")"
grep 'first KVM_RUN' "$T/err2" | sed 's/^/  /'
report snapshot-restore-continues "$T/o1" "$T/o2" "$T/err1" "$T/err2"

WHY=$running_refused
report snapshot-of-running-vm-refused "$T/resp"

# --- 2. two clones from one snapshot, side by side ----------------------------------------
"$VMM" --restore "$T/s1,mem=$T/m1" </dev/null >"$T/c1" 2>"$T/ce1" &
p1=$!
"$VMM" --restore "$T/s1,mem=$T/m1" </dev/null >"$T/c2" 2>"$T/ce2" &
p2=$!
wait $p1
s1=$?
wait $p2
s2=$?
[ "$s1" = 0 ] && [ "$s2" = 0 ] || why "clones exited $s1 and $s2"
tr -d '\r' <"$T/c1" | cmp -s - "$T/o2" || why "clone 1's output differs from the first restore's"
tr -d '\r' <"$T/c2" | cmp -s - "$T/o2" || why "clone 2's output differs from the first restore's"
report snapshot-two-clones "$T/c1" "$T/ce1" "$T/c2" "$T/ce2"

# --- 3. a restored VM snapshotted again (restored paused, then resumed over the API) ------
rm -f "$T/api.sock"
"$VMM" --restore "$T/s1,mem=$T/m1,paused" --api-sock "$T/api.sock" </dev/null >"$T/out3" \
	2>"$T/err3" &
pid=$!
for i in $(seq 1 100); do [ -S "$T/api.sock" ] && break; sleep 0.05; done
sleep 0.3
[ -s "$T/out3" ] && why "a VM restored paused printed: $(head -c 80 "$T/out3")"
api PATCH /vm '{"state":"Resumed"}'
[ "$CODE" = 204 ] || why "resume: HTTP $CODE $(cat "$T/resp")"
n=$(($(grep -c "^COUNT " "$T/o1") + 5))
wait_line "$T/out3" "COUNT $n" 30 || why "the restored guest did not reach COUNT $n"
api PATCH /vm '{"state":"Paused"}'
api PUT /snapshot/create "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"$T/s1b\",\"mem_file_path\":\"$T/m1\"}"
[ "$CODE" = 400 ] || why "snapshot over the mapped memory file: HTTP $CODE, expected 400"
api PUT /snapshot/create "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"$T/s2\",\"mem_file_path\":\"$T/m2\"}"
[ "$CODE" = 204 ] || why "second snapshot: HTTP $CODE $(cat "$T/resp")"
kill -INT $pid
wait $pid
timeout -k 5 120 "$VMM" --restore "$T/s2,mem=$T/m2" </dev/null >"$T/out4" 2>"$T/err4"
st=$?
[ "$st" = 0 ] || why "restore of the second snapshot: exit status $st"
cat "$T/o1" "$T/out3" "$T/out4" | tr -d '\r' >"$T/both2"
cmp -s "$T/both2" "$T/want" || why "runs 1+3+4 are not the whole count: $(diff "$T/want" "$T/both2" | head -5 | tr '\n' ' ')"
report snapshot-of-restored-vm "$T/out3" "$T/err3" "$T/out4" "$T/err4"

# --- 4. bad files: one line, exit 1, the guest never runs --------------------------------
refused() { # NAME EXPECTED_WORDS ARGS...
	local name=$1 words=$2
	shift 2
	timeout -k 5 30 "$VMM" "$@" </dev/null >"$T/bo" 2>"$T/be"
	local st=$?
	[ "$st" = 1 ] || why "exit status $st, expected 1"
	[ -s "$T/bo" ] && why "the guest ran: $(head -c 80 "$T/bo")"
	[ "$(wc -l <"$T/be")" = 1 ] || why "$(wc -l <"$T/be") lines on stderr, expected 1"
	grep -qi -- "$words" "$T/be" || why "message does not say '$words': $(cat "$T/be")"
	report "$name" "$T/be"
}
sz=$(stat -c %s "$T/s1")
head -c $((sz - 100)) "$T/s1" >"$T/trunc"
refused snapshot-truncated-refused "cut\|truncat\|short" --restore "$T/trunc,mem=$T/m1"
cp "$T/s1" "$T/corrupt"
printf '\xff' | dd of="$T/corrupt" bs=1 seek=$((sz / 2)) conv=notrunc 2>/dev/null
refused snapshot-corrupted-refused "checksum" --restore "$T/corrupt,mem=$T/m1"
cp "$T/s1" "$T/badver"
printf '\x09' | dd of="$T/badver" bs=1 seek=8 conv=notrunc 2>/dev/null # format_version
refused snapshot-wrong-version-refused "version" --restore "$T/badver,mem=$T/m1"
head -c $(($(stat -c %s "$T/m1") - 4096)) "$T/m1" >"$T/mshort"
refused snapshot-wrong-mem-size-refused "bytes" --restore "$T/s1,mem=$T/mshort"
refused snapshot-missing-mem-refused "No such file" --restore "$T/s1,mem=$T/nonexistent"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

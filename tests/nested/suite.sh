#!/bin/sh
# tests/nested/suite.sh — the whole Linux-guest suite, in one place (plain POSIX sh: runs
# under busybox inside the nested L1, or directly on a host with hardware KVM).
#
#   suite.sh ARCVMM GUEST_DIR OUT_DIR LINUX_DIR [TEST... | linux/NAME...]
#
# Runs linux-tests.sh (beside this file) and then every LINUX_DIR/*.sh (the project's
# tests/linux/: virtio-blk, -net, -console... with a Linux guest; each takes ARCVMM,
# GUEST_DIR and WORK from the environment and prints "ok NAME" / "FAIL NAME: why" and
# "N passed, N failed"). With arguments: TEST names go to linux-tests.sh and linux/NAME
# runs LINUX_DIR/NAME.sh; nothing else runs. Output goes to stdout as it comes; the
# ok/FAIL lines of everything are collected in OUT_DIR/results, each script's output in
# OUT_DIR/linux-NAME.out. Every output line refreshes OUT_DIR/../heartbeat (the host's
# watchdog kills an L1 that stops making progress). Scripts not started within LT_BUDGET
# seconds (default 900) of the start are reported as failed, not run.
# Exit status: 0 all passed, 1 a test failed, 2 usage error.
#
# Env passed on: LT_* (see linux-tests.sh), NET_PEER (bench/net/net_peer; default
# bench/net/net_peer beside ARCVMM's folder). SUITE_SCRIPT_TIMEOUT (s, default 600): a
# tests/linux script still running then is killed (and fails); a script's own line
# "# suite-timeout: SECONDS" raises that limit for it.
# Trusts: the scripts it runs (they are the project's own).

if [ $# -lt 4 ]; then
	echo "usage: $0 ARCVMM GUEST_DIR OUT_DIR LINUX_DIR [TEST... | linux/NAME...]" >&2
	exit 2
fi
ARCVMM=$1
GUEST_DIR=$2
OUT=$3
LDIR=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT" || exit 2
: >"$OUT/results"
hb=$OUT/../heartbeat
read -r t0 _ </proc/uptime
deadline=$(awk -v a="$t0" -v b="${LT_BUDGET:-900}" 'BEGIN { print a + b }')

lt_args=""
scripts=""
if [ $# -gt 0 ]; then
	for a in "$@"; do
		case "$a" in
		linux/*) scripts="$scripts $LDIR/${a#linux/}.sh" ;;
		*) lt_args="$lt_args $a" ;;
		esac
	done
else
	lt_args=all
	# A script with the line "# suite: opt-in" runs only when named (linux/NAME).
	for s in "$LDIR"/*.sh; do
		[ -f "$s" ] && ! grep -qx '# suite: opt-in' "$s" && scripts="$scripts $s"
	done
fi

LT_HEARTBEAT=$hb
export LT_HEARTBEAT

# relay NAME: copy stdin to stdout and OUT/NAME.out, refresh the heartbeat's time per line
# (its text names the running test: linux-tests.sh writes it, and "linux/NAME" while a
# tests/linux script runs), and collect the ok/FAIL lines.
relay() {
	while IFS= read -r l; do
		case "$l" in "SUITE-EXIT "*) ;; *) printf '%s\n' "$l" ;; esac
		printf '%s\n' "$l" >>"$OUT/$1.out"
		touch "$hb" 2>/dev/null
		case "$l" in
		"ok "* | "FAIL "*) echo "$l" >>"$OUT/results" ;;
		esac
	done
}

# check_exit OUTNAME LABEL: note a failed script; one that failed without naming a failed
# test still counts as a failure.
check_exit() {
	grep -q '^SUITE-EXIT 0$' "$OUT/$1.out" && return 0
	failed=1
	grep -q '^FAIL ' "$OUT/$1.out" && return 0
	_st=$(sed -n 's/^SUITE-EXIT //p' "$OUT/$1.out")
	echo "FAIL $2: exited with status ${_st:-?} and reported no failed test" | relay "$1"
}

failed=0
if [ -n "$lt_args" ]; then
	[ "$lt_args" = all ] && lt_args=""
	# shellcheck disable=SC2086
	{ sh "$here/linux-tests.sh" "$ARCVMM" "$GUEST_DIR" "$OUT/tests" $lt_args 2>&1
		echo "SUITE-EXIT $?"; } | relay linux-tests
	check_exit linux-tests linux-tests
fi

script_limit=${SUITE_SCRIPT_TIMEOUT:-600}
NET_PEER=${NET_PEER:-$(dirname "$ARCVMM")/bench/net/net_peer}
export NET_PEER
for s in $scripts; do
	n=$(basename "$s" .sh)
	if [ ! -f "$s" ]; then
		echo "FAIL linux/$n: no such script $s" | relay "linux-$n"
		failed=1
		continue
	fi
	read -r now _ </proc/uptime
	if awk -v a="$now" -v b="$deadline" 'BEGIN { exit !(a > b) }'; then
		echo "FAIL linux/$n: not run: the suite's time budget is used up" | relay "linux-$n"
		failed=1
		continue
	fi
	echo "=== tests/linux/$n.sh"
	echo "linux/$n" >"$hb"
	w=$(mktemp -d /tmp/linux-"$n".XXXXXX)
	# Bounded: a script that never ends must not take the rest of the suite with it. A
	# script may ask for a longer limit with a line "# suite-timeout: SECONDS".
	lim=$(sed -n 's/^# suite-timeout: \([0-9][0-9]*\)$/\1/p' "$s" | head -n 1)
	[ -n "$lim" ] && [ "$lim" -gt "$script_limit" ] || lim=$script_limit
	{ ARCVMM=$ARCVMM GUEST_DIR=$GUEST_DIR WORK=$w timeout -s KILL "$lim" sh "$s" 2>&1
		echo "SUITE-EXIT $?"; } | relay "linux-$n"
	check_exit "linux-$n" "linux/$n"
	rm -rf "$w"
done
exit "$failed"

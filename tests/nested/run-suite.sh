#!/usr/bin/env bash
# tests/nested/run-suite.sh — run the Linux-guest test suite (suite.sh: linux-tests.sh and
# every tests/linux/*.sh) against an arcvmm binary, directly on hardware KVM or inside one
# nested L1 otherwise.
#
#   tests/nested/run-suite.sh [--qemu] ARCVMM_BINARY [TEST... | linux/NAME...]
#
# Direct mode when /dev/kvm is hardware KVM (see nested_has_hw_kvm in lib.sh); nested
# mode (one L1 under QEMU's emulator, whole suite in one L1 boot) when it is PVM, missing
# or unusable. Prints "ok NAME" / "FAIL NAME: why" (with the guest console tail) per test
# and a last line "N passed, N failed". Exit status: 0 all passed, 1 a test failed, 2 the
# harness failed (L1 did not boot, the run timed out, no results came back).
#
# --qemu makes qemu-system-x86_64 available inside L1 (used with ARCVMM_BINARY =
# tests/nested/qemu-shim.sh to check the tests themselves against QEMU's microvm).
#
# Env: SUITE_TIMEOUT (s, hard limit for the whole run, default 1200), GUEST_DIR (default
# ../shared/guest beside the project, else build/guest), NESTED_RESULTS (where logs are
# kept, default build/nested-results), NESTED_FORCE=1 (nested even on hardware KVM), and
# LT_* / L1_* (see linux-tests.sh and lib.sh).
#
# Trusts: its caller and the host; guest output is only matched against patterns.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

with_qemu=0
if [ "${1:-}" = --qemu ]; then
	with_qemu=1
	shift
fi
[ $# -ge 1 ] || {
	echo "usage: $0 [--qemu] ARCVMM_BINARY [TEST...]" >&2
	exit 2
}
arcvmm=$(realpath -e "$1" 2>/dev/null) || nested_die "$1: no such file"
[ -x "$arcvmm" ] || nested_die "$arcvmm: not executable"
shift
SUITE_TIMEOUT=${SUITE_TIMEOUT:-1200}
# Leave room after the last test start for one slow boot and L1's own start and stop.
export LT_BUDGET=${LT_BUDGET:-$((SUITE_TIMEOUT - 300))}
if [ -z "${GUEST_DIR:-}" ]; then
	GUEST_DIR="$PROJECT_DIR/../shared/guest"
	[ -d "$GUEST_DIR" ] || GUEST_DIR="$PROJECT_DIR/build/guest"
fi
[ -d "$GUEST_DIR" ] || nested_die "no guest images in $GUEST_DIR (see guest/README.md)"
GUEST_DIR=$(cd "$GUEST_DIR" && pwd -P)
results=${NESTED_RESULTS:-$PROJECT_DIR/build/nested-results}
rm -rf "$results"
mkdir -p "$results"

# summarize RESULTS_FILE: print the closing line; return 1 if a test failed or none ran.
# Counts each test once (a script may print a test's line twice); FAIL wins over ok.
summarize() {
	local line p f
	line=$(awk '/^ok / { n = $2; if (!(n in st)) st[n] = "ok" }
		/^FAIL / { n = $2; sub(/:$/, "", n); st[n] = "FAIL" }
		END { for (n in st) if (st[n] == "ok") p++; else f++; printf "%d %d\n", p, f }' "$1")
	read -r p f <<<"$line"
	echo "${p:-0} passed, ${f:-0} failed"
	[ "${f:-0}" = 0 ] && [ "${p:-0}" -gt 0 ]
}

if nested_has_hw_kvm; then
	nested_log "hardware KVM: running the tests directly (logs in $results)"
	timeout -k 5 "$SUITE_TIMEOUT" sh "$NESTED_DIR/suite.sh" "$arcvmm" "$GUEST_DIR" \
		"$results/run-1" "$PROJECT_DIR/tests/linux" "$@"
	rc=$?
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		nested_log "the suite timed out after ${SUITE_TIMEOUT}s"
		[ -f "$results/run-1/results" ] && summarize "$results/run-1/results"
		exit 2
	fi
	[ -f "$results/run-1/results" ] || nested_die "suite.sh left no results"
	summarize "$results/run-1/results" || exit 1
	[ "$rc" = 0 ] || exit 1
	exit 0
fi

nested_log "no hardware KVM here: running the tests inside a nested L1 (logs in $results)"
nested_build_initramfs

# The units of the suite, in order: boot tests (linux-tests.sh), then linux/NAME scripts.
units=()
if [ $# -gt 0 ]; then
	units=("$@")
else
	while read -r t; do units+=("$t"); done < <(sh "$NESTED_DIR/linux-tests.sh" --list)
	# (as suite.sh does: a script with "# suite: opt-in" runs only when named)
	for f in "$PROJECT_DIR"/tests/linux/*.sh; do
		[ -f "$f" ] && ! grep -qx '# suite: opt-in' "$f" && units+=("linux/$(basename "$f" .sh)")
	done
fi

# tests/linux/distro.sh needs guest/build-debian-image.sh's image (built once, cached; a
# failed build leaves DISTRO_DIR unset and the test fails saying so).
distro_dir=""
for t in "${units[@]}"; do
	[ "$t" = linux/distro ] || continue
	nested_log "the Debian image for linux/distro (guest/build-debian-image.sh, cached)"
	distro_dir=$("$PROJECT_DIR/guest/build-debian-image.sh" --print-dir | tail -n 1) && [ -d "$distro_dir" ] || distro_dir=""
	export DISTRO_DIR=$distro_dir
done

# make_job UNIT...: a job folder that runs suite.sh on these units.
make_job() {
	nested_job_new
	nested_job_add_bin "$arcvmm" arcvmm
	[ "$with_qemu" = 1 ] && nested_job_add_qemu
	install -m 0755 "$NESTED_DIR/linux-tests.sh" "$NESTED_DIR/suite.sh" "$NESTED_JOB/"
	mkdir -p "$NESTED_JOB/linux"
	for f in "$PROJECT_DIR"/tests/linux/*.sh "$PROJECT_DIR"/tests/linux/*.inc; do
		[ -f "$f" ] && install -m 0755 "$f" "$NESTED_JOB/linux/"
	done
	# tests/linux/net.sh's peer program, where suite.sh looks for it (beside arcvmm).
	local peer t v
	peer="$(dirname "$arcvmm")/bench/net/net_peer"
	if [ -x "$peer" ]; then
		mkdir -p "$NESTED_JOB/bin/bench/net"
		cp -L "$peer" "$NESTED_JOB/bin/bench/net/net_peer"
		nested_job_add_libs "$peer"
	fi
	# tests/linux/vsock.sh's static tool and its cpio.gz (make guest-tools), beside arcvmm.
	if [ -d "$(dirname "$arcvmm")/guest-tools" ]; then
		mkdir -p "$NESTED_JOB/bin/guest-tools"
		cp -L "$(dirname "$arcvmm")"/guest-tools/* "$NESTED_JOB/bin/guest-tools/"
	fi
	# tests/linux/control.sh drives the REST API with a real HTTP client.
	local curl
	curl=$(command -v curl) && nested_job_add_bin "$curl" curl
	nested_job_share "$GUEST_DIR" ro
	# tests/linux/distro.sh: the Debian image (read-only; the test copies it), QEMU for the
	# side-by-side boot, e2fsprogs and GNU cp (sparse copies).
	if [ -n "$distro_dir" ]; then
		nested_job_share "$distro_dir" ro
		[ "$with_qemu" = 1 ] || nested_job_add_qemu
		for t in e2fsck debugfs; do
			v=$(command -v "$t") && nested_job_add_bin "$v" "$t"
		done
		v=$(command -v cp) && nested_job_add_bin "$v" gnu-cp
	fi
	echo / >"$NESTED_JOB/cwd"
	{
		echo "NESTED_QEMU_DATA=/nested-job/qemu-data; export NESTED_QEMU_DATA"
		for v in LT_TIMEOUT LT_SLOW_TIMEOUT LT_BUDGET LT_CMDLINE_MAX NET_TIMEOUT \
			SUITE_SCRIPT_TIMEOUT DISTRO_TIMEOUT DISTRO_DIR; do
			[ -n "${!v:-}" ] && echo "$v=$(nested_sq "${!v}"); export $v"
		done
		printf 'sh /nested-job/suite.sh /nested-job/bin/arcvmm %s /nested-job/out/run /nested-job/linux' \
			"$(nested_sq "$GUEST_DIR")"
		for t in "$@"; do
			printf ' %s' "$(nested_sq "$t")"
		done
		printf '\n'
	} >"$NESTED_JOB/cmd.sh"
}

# A test that wedges L1 itself (not just arcvmm, which the tests kill themselves) must not
# hold the run until SUITE_TIMEOUT: the watchdog kills L1 when the running test has
# outlived its own timeout by a minute (NESTED_STALL_S for the tests/linux scripts, which
# do not say). That test fails, and a fresh L1 goes on with the units after it (an L1 was
# seen to lock up, 2 times in about 60 L2 boots, with the host's 2 cores shared by 3 L1s).
export NESTED_STALL_S=${NESTED_STALL_S:-$((${LT_SLOW_TIMEOUT:-240} + 90))}
t_start=$(date +%s)
: >"$results/results"
attempt=1
trap 'rm -rf "${NESTED_JOB:-}"' EXIT
while :; do
	left=$((SUITE_TIMEOUT - ($(date +%s) - t_start)))
	if [ "$left" -lt 60 ]; then
		nested_log "the suite's time (${SUITE_TIMEOUT}s) is used up; not run: ${units[*]}"
		for t in "${units[@]}"; do
			echo "FAIL $t: not run: the suite's time is used up" | tee -a "$results/results"
		done
		break
	fi
	export LT_BUDGET=$((left > 360 ? left - 300 : 60))
	make_job "${units[@]}"
	nested_run_l1 "$left" "$results/l1-$attempt.log"
	rc=$?
	if [ -d "$NESTED_JOB/out/run" ]; then
		cp -r "$NESTED_JOB/out/run" "$results/run-$attempt"
		cat "$NESTED_JOB/out/run/results" >>"$results/results" 2>/dev/null
	fi
	if [ "$rc" = 3 ]; then
		stuck=$(cat "$NESTED_JOB/stalled")
		echo "FAIL $stuck: L1 stopped responding during this test and was killed" |
			tee -a "$results/results"
		# Go on after the stuck unit.
		rest=()
		seen=0
		for t in "${units[@]}"; do
			[ "$seen" = 1 ] && rest+=("$t")
			[ "$t" = "$stuck" ] && seen=1
		done
		rm -rf "$NESTED_JOB"
		[ "$seen" = 1 ] || {
			nested_log "cannot tell where to go on after '$stuck'"
			summarize "$results/results"
			exit 2
		}
		units=("${rest[@]}")
		[ ${#units[@]} -gt 0 ] || break
		attempt=$((attempt + 1))
		nested_log "starting a new L1 for: ${units[*]}"
		continue
	fi
	if [ "$rc" -ge 2 ] || [ ! -f "$NESTED_JOB/out/run/results" ]; then
		nested_log "harness failure (L1 did not finish the suite); last lines of" \
			"$results/l1-$attempt.log:"
		tail -n 30 "$results/l1-$attempt.log" | sed 's/^/  l1| /' >&2
		summarize "$results/results"
		exit 2
	fi
	rm -rf "$NESTED_JOB"
	break
done
summarize "$results/results" || exit 1
exit 0

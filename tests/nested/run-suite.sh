#!/usr/bin/env bash
# tests/nested/run-suite.sh — run the Linux-guest test suite (linux-tests.sh) against an
# arcvmm binary, directly on hardware KVM or inside one nested L1 otherwise.
#
#   tests/nested/run-suite.sh [--qemu] ARCVMM_BINARY [TEST...]
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
summarize() {
	local p f
	p=$(grep -c '^ok ' "$1" 2>/dev/null)
	f=$(grep -c '^FAIL ' "$1" 2>/dev/null)
	echo "${p:-0} passed, ${f:-0} failed"
	[ "${f:-0}" = 0 ] && [ "${p:-0}" -gt 0 ]
}

if nested_has_hw_kvm; then
	nested_log "hardware KVM: running the tests directly (logs in $results)"
	timeout -k 5 "$SUITE_TIMEOUT" sh "$NESTED_DIR/linux-tests.sh" "$arcvmm" "$GUEST_DIR" \
		"$results/tests" "$@"
	rc=$?
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		nested_log "the suite timed out after ${SUITE_TIMEOUT}s"
		exit 2
	fi
	[ -f "$results/tests/results" ] || nested_die "linux-tests.sh left no results"
	summarize "$results/tests/results" || exit 1
	exit 0
fi

nested_log "no hardware KVM here: running the tests inside a nested L1 (logs in $results)"
nested_build_initramfs
nested_job_new
trap 'rm -rf "$NESTED_JOB"' EXIT
nested_job_add_bin "$arcvmm" arcvmm
[ "$with_qemu" = 1 ] && nested_job_add_qemu
install -m 0755 "$NESTED_DIR/linux-tests.sh" "$NESTED_JOB/linux-tests.sh"
nested_job_share "$GUEST_DIR" ro
echo / >"$NESTED_JOB/cwd"
{
	echo "NESTED_QEMU_DATA=/nested-job/qemu-data; export NESTED_QEMU_DATA"
	for v in LT_TIMEOUT LT_SLOW_TIMEOUT LT_BUDGET LT_CMDLINE_MAX; do
		[ -n "${!v:-}" ] && echo "$v=$(nested_sq "${!v}"); export $v"
	done
	printf 'sh /nested-job/linux-tests.sh /nested-job/bin/arcvmm %s /nested-job/out/tests' \
		"$(nested_sq "$GUEST_DIR")"
	for t in "$@"; do
		printf ' %s' "$(nested_sq "$t")"
	done
	printf '\n'
} >"$NESTED_JOB/cmd.sh"

# A test that wedges L1 itself (not just arcvmm, which linux-tests.sh kills) must not hold
# the run until SUITE_TIMEOUT: kill L1 when no test has started for this long.
NESTED_STALL_S=${NESTED_STALL_S:-$((${LT_SLOW_TIMEOUT:-240} + 90))} \
	nested_run_l1 "$SUITE_TIMEOUT" "$results/l1.log"
rc=$?
[ -d "$NESTED_JOB/out/tests" ] && cp -r "$NESTED_JOB/out/tests" "$results/"
if [ "$rc" -ge 2 ] || [ ! -f "$results/tests/results" ]; then
	nested_log "harness failure (L1 did not finish the suite); last lines of $results/l1.log:"
	tail -n 30 "$results/l1.log" | sed 's/^/  l1| /' >&2
	[ -f "$results/tests/results" ] && summarize "$results/tests/results"
	exit 2
fi
summarize "$results/tests/results" || exit 1
exit 0

#!/usr/bin/env bash
# tests/nested/run-in-l1.sh — run arcvmm (or any shell command) inside a nested L1.
#
#   tests/nested/run-in-l1.sh [OPTIONS] -- ARCVMM_ARGS...
#   tests/nested/run-in-l1.sh [OPTIONS] --sh 'shell command'
#
# Boots one L1 (Debian's kernel under QEMU's emulator with an emulated AMD SVM CPU, so a
# real-looking /dev/kvm exists inside it), makes the project folder, ../shared/guest (if
# present) and the current folder visible there at the same paths as on the host, runs
# `arcvmm ARCVMM_ARGS...` (or the shell command, with `arcvmm` on PATH) in the current
# folder, shows its output, and exits with its exit status (2 if L1 itself failed).
# This is the way to try arcvmm on a machine without (nested) hardware virtualization.
#
# Options:
#   --arcvmm PATH    the arcvmm binary (default: build/arcvmm in the project)
#   --timeout S      kill L1 after S seconds (default 900)
#   --share DIR      also make DIR visible (read-write); may be repeated
#   --qemu           also make qemu-system-x86_64 runnable inside L1 (firmware:
#                    -L "$NESTED_QEMU_DATA")
#   --log FILE       keep L1's whole console log in FILE
#   --hostroot       run the command chrooted into the host's own file system (shared
#                    read-only, with L1's /dev, /proc, /sys, a fresh /tmp and the shares on
#                    top): the host's bash, curl, python3 and libraries are there
#   -q               print only the command's output, not L1's own lines (shown when
#                    L1 ends, not as it comes)
# The command's stdout and stderr both arrive through L1's serial console.
#
# Trusts: its caller. Needs qemu-system-x86, apt access the first time (the L1 kernel
# package and busybox-static are cached, see lib.sh), and cpio.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	sed -n '3,5p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2
	exit 2
}

arcvmm="$PROJECT_DIR/build/arcvmm"
tmo=900
shcmd=""
mode=""
logf=""
with_qemu=0
hostroot=0
quiet=0
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--arcvmm) arcvmm=$2; shift 2 ;;
	--timeout) tmo=$2; shift 2 ;;
	--share) extra+=("$2"); shift 2 ;;
	--qemu) with_qemu=1; shift ;;
	--log) logf=$2; shift 2 ;;
	-q) quiet=1; shift ;;
	--hostroot) hostroot=1; shift ;;
	--sh) mode=sh; shcmd=$2; shift 2 ;;
	--) mode=arcvmm; shift; break ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
done
[ -n "$mode" ] || usage

nested_build_initramfs
nested_job_new
trap 'rm -rf "$NESTED_JOB"' EXIT

if [ -x "$arcvmm" ]; then
	nested_job_add_bin "$arcvmm" arcvmm
elif [ "$mode" = arcvmm ]; then
	nested_die "$arcvmm: no such executable (build it with make, or pass --arcvmm)"
fi
[ "$with_qemu" = 1 ] && nested_job_add_qemu

nested_job_share "$PROJECT_DIR" rw
guest_dir="$PROJECT_DIR/../shared/guest"
[ -d "$guest_dir" ] && nested_job_share "$guest_dir" ro
here=$(pwd -P)
case "$here/" in
"$PROJECT_DIR"/*) ;;
*) [ "$here" != / ] && nested_job_share "$here" rw ;;
esac
for d in "${extra[@]}"; do
	nested_job_share "$d" rw
done
echo "$here" >"$NESTED_JOB/cwd"
[ "$hostroot" = 1 ] && : >"$NESTED_JOB/hostroot"

{
	if [ "$hostroot" = 1 ]; then
		echo "NESTED_QEMU_DATA=/tmp/nested-job/qemu-data; export NESTED_QEMU_DATA"
	else
		echo "NESTED_QEMU_DATA=/nested-job/qemu-data; export NESTED_QEMU_DATA"
	fi
	if [ "$mode" = arcvmm ]; then
		printf 'arcvmm'
		for a in "$@"; do
			printf ' %s' "$(nested_sq "$a")"
		done
		printf '\n'
	else
		printf '%s\n' "$shcmd"
	fi
} >"$NESTED_JOB/cmd.sh"

[ -n "$logf" ] || logf="$NESTED_JOB/l1.log"
if [ "$quiet" = 1 ]; then
	NESTED_QUIET=1 nested_run_l1 "$tmo" "$logf"
	rc=$?
	# The command's output without L1's own lines (its "l1: " lines and the kernel's
	# last word as L1 powers off).
	grep -v '^l1: ' "$logf" | sed '$ {/^\[ *[0-9.]*\] reboot: Power down$/d}'
else
	nested_run_l1 "$tmo" "$logf"
	rc=$?
fi
exit "$rc"

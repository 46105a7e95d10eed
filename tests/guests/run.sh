#!/bin/bash
# tests/guests/run.sh — boots the tiny test guests (built by tests/guests/guests.mk) on
# arcvmm and checks what they print on the serial console and arcvmm's exit status.
#
# usage: tests/guests/run.sh ARCVMM_BINARY GUEST_DIR
#
# Each test runs with stdin from /dev/null and a 60 s timeout (then SIGKILL 5 s later), one at a
# time. Prints "ok NAME", "FAIL NAME: why" (followed by the guest's output) or
# "skip NAME (reason)" per test, then "N passed, N failed"; exits 1 if any test failed.
# Trusts: nothing the guest prints (lines are matched exactly; \r is dropped).

set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 ARCVMM_BINARY GUEST_DIR" >&2
	exit 2
fi
VMM=$1
DIR=$2
TIMEOUT=${GUEST_TIMEOUT:-60}

for f in "$VMM" "$DIR/hello.elf" "$DIR/hello.bzImage" "$DIR/mem.elf" "$DIR/mem.bzImage" \
	"$DIR/smp.elf" "$DIR/smp.bzImage"; do
	if [ ! -e "$f" ]; then
		echo "$0: $f: missing (build with: make guests)" >&2
		exit 2
	fi
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/out
ERR=$TMP/err
passed=0
failed=0

STATUS=0
WHY=

# vm ARGS... — runs arcvmm; guest serial (with \r removed) in $OUT, stderr in $ERR, exit
# status in $STATUS.
vm() {
	timeout -k 5 "$TIMEOUT" "$VMM" "$@" </dev/null >"$TMP/raw" 2>"$ERR"
	STATUS=$?
	tr -d '\r' <"$TMP/raw" >"$OUT"
}

# The first failed expectation wins: later checks keep the first reason.
why() {
	[ -n "$WHY" ] || WHY=$1
}

expect_status() {
	if [ "$STATUS" -eq 124 ] || [ "$STATUS" -eq 137 ]; then
		why "timed out after ${TIMEOUT}s (status $STATUS)"
	elif [ "$STATUS" -ne "$1" ]; then
		why "exit status $STATUS, expected $1"
	fi
}

expect_line() {
	grep -Fxq -- "$1" "$OUT" || why "no line '$1'"
}

expect_no_prefix() {
	if grep -q -- "^$1" "$OUT"; then
		why "unexpected line: $(grep -m1 -- "^$1" "$OUT")"
	fi
}

# count PREFIX — number of output lines starting with PREFIX
count() {
	grep -c -- "^$1" "$OUT"
}

report() {
	local name=$1

	if [ -z "$WHY" ]; then
		echo "ok $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name: $WHY"
		echo "  --- guest serial output:"
		sed 's/^/  | /' "$OUT"
		echo "  --- arcvmm stderr:"
		sed 's/^/  | /' "$ERR"
		failed=$((failed + 1))
	fi
	WHY=
}

# --- hello: both loaders, the command line arrives byte for byte ----------------------------
CMDLINE='console=ttyS0 quoted="a b  c" single='"'"'x y'"'"'   three  spaces end\tab=1'
LONG=$(printf 'k%04d=v ' $(seq 1 200))
LONG=${LONG% }

test_hello() {
	local name=$1 kernel=$2 format=$3 cmdline=$4 got

	vm --kernel "$DIR/$kernel" --cmdline "$cmdline"
	expect_status 0
	expect_line "GUEST-HELLO $format"
	# arcvmm describes its virtio-mmio devices by virtio_mmio.device= words it puts first;
	# everything after them must be the user's command line, byte for byte.
	[ "$(count GUEST-CMDLINE)" -eq 1 ] || why "expected exactly one GUEST-CMDLINE line"
	got=$(sed -n 's/^GUEST-CMDLINE //p' "$OUT" | sed -E 's/^(virtio_mmio\.device=[^ ]+ )*//')
	[ "$got" = "$cmdline" ] || why "command line arrived as '$got'"
	if [ "$kernel" = hello.bzImage ]; then
		expect_line "GUEST-BOOTPARAMS hdr=HdrS"
	fi
	expect_no_prefix GUEST-BOOT-FAIL
	report "$name"
}

test_hello hello-elf hello.elf ELF/PVH "$CMDLINE"
test_hello hello-bzimage hello.bzImage bzImage/64-bit "$CMDLINE"
test_hello hello-elf-long-cmdline hello.elf ELF/PVH "$LONG"
test_hello hello-bzimage-long-cmdline hello.bzImage bzImage/64-bit "$LONG"
test_hello hello-elf-empty-cmdline hello.elf ELF/PVH ""

# --- memory: the map the guest sees and its RAM --------------------------------------------
# RAM in the map = size - the 0x9fc00..0x100000 hole (0x60400 bytes = 385 KiB); the guest
# checks the same with expect_mb and tests a qword at both ends of each RAM range and every
# 2 MiB.
test_mem() {
	local name=$1 kernel=$2 format=$3 mb=$4 regions=$5
	shift 5

	vm --kernel "$DIR/$kernel" --memory "${mb}M" --cmdline "expect_mb=$mb" "$@"
	expect_status 0
	expect_line "GUEST-MEM-BOOT $format"
	expect_line "GUEST-MEM total_kb=$((mb * 1024 - 385)) regions=$regions"
	expect_line "GUEST-MEM-PASS"
	expect_no_prefix GUEST-MEM-FAIL
	expect_no_prefix GUEST-BOOT-FAIL
	report "$name"
}

test_mem mem-elf-16M mem.elf ELF/PVH 16 2
test_mem mem-elf-128M mem.elf ELF/PVH 128 2
test_mem mem-elf-256M mem.elf ELF/PVH 256 2
test_mem mem-elf-3G mem.elf ELF/PVH 3072 2
test_mem mem-elf-6G mem.elf ELF/PVH 6144 3
test_mem mem-bzimage-256M mem.bzImage bzImage/64-bit 256 2
test_mem mem-bzimage-6G mem.bzImage bzImage/64-bit 6144 3
# the ELF's 64-bit e_entry with boot_params instead of the PVH note
test_mem mem-elf-linux64-6G mem.elf ELF/64-bit 6144 3 --boot linux64

# The guest's own check must be able to fail: a wrong expectation is reported.
vm --kernel "$DIR/mem.elf" --memory 128M --cmdline "expect_mb=129"
expect_status 0
expect_line "GUEST-MEM-FAIL total 133823488 bytes, expected 129 MiB - 0x60400 = $((129 * 1048576 - 0x60400))"
expect_no_prefix GUEST-MEM-PASS
report mem-guest-detects-wrong-size

# Below the minimum: a message naming the option, no guest run.
vm --kernel "$DIR/mem.elf" --memory 15M --cmdline "expect_mb=15"
if [ "$STATUS" -eq 0 ] || [ "$STATUS" -eq 124 ] || [ "$STATUS" -eq 137 ]; then
	why "exit status $STATUS, expected a configuration error"
fi
grep -q -- '--memory' "$ERR" || why "no message naming --memory on stderr"
[ "$(count GUEST-)" -eq 0 ] || why "the guest ran"
report mem-below-minimum-refused

# --- SMP: MP table, INIT/SIPI/SIPI, every CPU reports ---------------------------------------
test_smp() {
	local name=$1 kernel=$2 format=$3 n=$4 ids want
	shift 4

	vm --kernel "$DIR/$kernel" --cpus "$n" "$@"
	expect_status 0
	expect_line "GUEST-SMP-BOOT $format"
	expect_line "GUEST-SMP-MPTABLE cpus=$n lapic=0xfee00000"
	expect_line "GUEST-SMP-DONE n=$n"
	expect_no_prefix GUEST-SMP-FAIL
	[ "$(count GUEST-CPU)" -eq "$n" ] || why "$(count GUEST-CPU) GUEST-CPU lines, expected $n"
	[ "$(count 'GUEST-CPU .* bsp$')" -eq 1 ] || why "not exactly one BSP line"
	# each line: apic=<LAPIC ID> cpuid=<initial APIC ID>, equal; together 0..n-1
	if grep '^GUEST-CPU' "$OUT" | grep -Evq '^GUEST-CPU apic=([0-9]+) cpuid=\1( bsp)?$'; then
		why "a GUEST-CPU line with apic != cpuid or malformed"
	fi
	ids=$(sed -n 's/^GUEST-CPU apic=\([0-9]*\) .*/\1/p' "$OUT" | sort -n | tr '\n' ' ')
	want=$(seq 0 $((n - 1)) | tr '\n' ' ')
	[ "$ids" = "$want" ] || why "APIC ids '$ids', expected '$want'"
	report "$name"
}

test_smp smp-elf-1 smp.elf ELF/PVH 1
test_smp smp-elf-2 smp.elf ELF/PVH 2
test_smp smp-elf-4 smp.elf ELF/PVH 4
test_smp smp-elf-8 smp.elf ELF/PVH 8
test_smp smp-bzimage-3 smp.bzImage bzImage/64-bit 3
test_smp smp-elf-linux64-2 smp.elf ELF/64-bit 2 --boot linux64

# --- snapshot/restore with the counter guest (its own script; counts merged) --------------
if [ -e "$DIR/count.elf" ] && command -v curl >/dev/null; then
	bash "$(dirname "$0")/snapshot.sh" "$VMM" "$DIR" | tee "$TMP/snap"
	sp=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$TMP/snap")
	sf=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$TMP/snap")
	passed=$((passed + ${sp:-0}))
	failed=$((failed + ${sf:-1}))
else
	echo "skip snapshot (count.elf or curl missing)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

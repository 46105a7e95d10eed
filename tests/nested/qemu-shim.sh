#!/bin/sh
# tests/nested/qemu-shim.sh — stands in for arcvmm in the harness's own checks: takes
# arcvmm's command line (--kernel K [--initrd I] [--cmdline C] [--cpus N] [--memory M])
# and boots the same guest with QEMU's microvm on /dev/kvm. Used to show that the Linux
# tests pass against a known-good VMM (and that the ones QEMU cannot satisfy, e.g. a
# non-zero status after a guest panic, do fail):
#
#   tests/nested/run-suite.sh --qemu tests/nested/qemu-shim.sh
#
# Inside L1, NESTED_QEMU_DATA names the folder with QEMU's microvm firmware.
# Trusts: its caller.

k=""
i=""
c=""
n=1
m=256M
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) k=$2; shift 2 ;;
	--initrd) i=$2; shift 2 ;;
	--cmdline) c=$2; shift 2 ;;
	--cpus) n=$2; shift 2 ;;
	--memory) m=$2; shift 2 ;;
	--net) shift 2 ;;    # QEMU gets no devices anyway
	--no-rng) shift ;;
	*) echo "qemu-shim: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$k" ] || { echo "qemu-shim: --kernel is required" >&2; exit 2; }
set -- -M microvm,x-option-roms=off,isa-serial=on,rtc=on -enable-kvm -cpu host \
	-smp "$n" -m "$m" -nodefaults -no-user-config -display none -no-reboot \
	-serial stdio -monitor none -kernel "$k" -append "$c"
[ -n "$i" ] && set -- "$@" -initrd "$i"
[ -n "${NESTED_QEMU_DATA:-}" ] && set -- -L "$NESTED_QEMU_DATA" "$@"
exec qemu-system-x86_64 "$@"

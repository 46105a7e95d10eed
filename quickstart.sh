#!/usr/bin/env bash
# quickstart.sh — on a fresh Debian 12 machine: install the packages, build arcvmm and
# boot a default Linux guest to a shell prompt's worth of output, then power it off.
#
# The guest is the minimal kernel + busybox initramfs from ../shared/guest when that
# folder exists, else the one guest/build.sh makes from Debian's packages (a kernel
# build: about 20 minutes on 2 cores, once). Where /dev/kvm is hardware KVM the guest
# boots directly; where it is not (PVM, or no nested virtualization), it boots inside a
# nested L1 under QEMU's emulator (tests/nested/run-in-l1.sh), which takes a minute.
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
make -j"$(nproc)"
. tests/nested/lib.sh
G=${GUEST_DIR:-}
if [ -z "$G" ]; then
	if [ -f ../shared/guest/minimal-vmlinux ]; then
		G=$(cd ../shared/guest && pwd)
	else
		guest/build.sh
		G=$(pwd)/build/guest
	fi
fi
args=(--kernel "$G/minimal-vmlinux" --initrd "$G/minimal-initramfs.cpio.gz" --cpus 2
	--memory 256M --net none
	--cmdline 'console=ttyS0 reboot=k panic=-1 guest.cmd="uname -a; cat /proc/cpuinfo | grep -c processor; free -m"')
echo "== booting: build/arcvmm ${args[*]}"
if nested_has_hw_kvm; then
	build/arcvmm "${args[@]}"
else
	echo "== /dev/kvm is not hardware KVM here: booting inside a nested L1 (QEMU TCG)"
	tests/nested/run-in-l1.sh -- "${args[@]}"
fi

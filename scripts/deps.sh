#!/bin/sh
# scripts/deps.sh — installs the Debian 12 packages arcvmm needs to build, test and
# benchmark. The one list: .ci/run and quickstart.sh both call this.
set -e
PKGS="build-essential pkg-config clang clang-format libclang-rt-14-dev \
liburing-dev libcjson-dev libslirp-dev libglib2.0-dev \
qemu-system-x86 busybox-static cpio gzip kmod iproute2 e2fsprogs fio time python3 \
acpica-tools libmicrohttpd-dev libseccomp-dev libxxhash-dev curl socat mmdebstrap"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing:$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing

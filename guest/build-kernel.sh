#!/usr/bin/env bash
# guest/build-kernel.sh — build arcvmm's minimal x86_64 test kernel from Debian's
# linux-source-6.1 package: unpack, apply guest/patches/*.patch, `make tinyconfig`, merge
# guest/minimal-kernel.config.fragment, `make olddefconfig`, check that every option of
# the fragment survived, then (unless --config-only) `make bzImage` and copy out
#
#   OUTDIR/minimal-bzImage   (gzip bzImage)
#   OUTDIR/minimal-vmlinux   (stripped ELF with the PVH entry note)
#   OUTDIR/minimal-kernel.config
#
#   guest/build-kernel.sh [--config-only|--check] [OUTDIR]   (default OUTDIR: build/guest)
#
# --config-only stops after the configuration check; --check also compiles the files the
# patches touch (about a minute: a cheap proof that the patches still build).
#
# The full build takes about 18 minutes on 2 cores. Needs: gcc, make, flex, bison, bc,
# libelf-dev, libssl-dev, xz-utils, patch (apt-get install -y build-essential flex bison
# bc libelf-dev libssl-dev xz-utils patch). The source package is fetched with
# `apt-get download` into the nested harness's cache. Work tree: $GUEST_BUILD_DIR
# (default build-guest-kernel: outside build/, whose *.d files the Makefile reads).
# Trusts: Debian's packages.
. "$(dirname "${BASH_SOURCE[0]}")/../tests/nested/lib.sh"
set -o pipefail

config_only=0
check=0
case "${1:-}" in
--config-only) config_only=1; shift ;;
--check) config_only=1; check=1; shift ;;
esac
out=${1:-$PROJECT_DIR/build/guest}
work=${GUEST_BUILD_DIR:-$PROJECT_DIR/build-guest-kernel}
frag="$PROJECT_DIR/guest/minimal-kernel.config.fragment"
for tool in make gcc flex bison bc patch xz; do
	command -v "$tool" >/dev/null || nested_die "$tool is missing (see the header of $0)"
done
mkdir -p "$out" "$work"
out=$(cd "$out" && pwd -P)

deb=$(nested_fetch_deb linux-source-6.1) || exit 2
src="$work/linux-source-6.1"
rm -rf "$src"
nested_log "unpacking $(basename "$deb")"
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/src/linux-source-6.1.tar.xz |
	tar -xJ -C "$work" || nested_die "unpacking linux-source-6.1 failed"
cd "$src" || exit 2
for p in "$PROJECT_DIR"/guest/patches/*.patch; do
	patch -p1 --forward --quiet <"$p" || nested_die "patch $(basename "$p") does not apply"
done
make -s ARCH=x86_64 tinyconfig >/dev/null || nested_die "make tinyconfig failed"
scripts/kconfig/merge_config.sh -m .config "$frag" >/dev/null ||
	nested_die "merging $frag failed"
make -s ARCH=x86_64 olddefconfig >/dev/null || nested_die "make olddefconfig failed"

# Every line of the fragment must be in the final .config: Kconfig silently drops an
# option whose dependencies are not met.
bad=0
while IFS= read -r l; do
	case "$l" in
	CONFIG_*=*) ;;
	"# CONFIG_"*" is not set")
		# "not set" also holds when the symbol is absent altogether.
		sym=${l#\# }
		sym=${sym%% *}
		if grep -q "^$sym=" .config; then
			nested_log "fragment wants $sym off, .config has $(grep "^$sym=" .config)"
			bad=1
		fi
		continue
		;;
	*) continue ;;
	esac
	grep -qxF "$l" .config || {
		nested_log "fragment line '$l' is not in the final .config"
		bad=1
	}
done <"$frag"
[ "$bad" = 0 ] || nested_die "the configuration does not match the fragment"
cp .config "$out/minimal-kernel.config"
nested_log "configuration OK: $out/minimal-kernel.config"
if [ "$check" = 1 ]; then
	objs=$(sed -n 's|^+++ b/\(.*\)\.c$|\1.o|p' "$PROJECT_DIR"/guest/patches/*.patch)
	# shellcheck disable=SC2086
	nice make -s -j"$(nproc)" ARCH=x86_64 $objs || nested_die "patched files do not compile"
	nested_log "patched files compile: $(echo $objs)"
fi
[ "$config_only" = 1 ] && exit 0

nested_log "building (about 18 minutes on 2 cores)"
nice make -s -j"$(nproc)" ARCH=x86_64 bzImage || nested_die "kernel build failed"
cp arch/x86/boot/bzImage "$out/minimal-bzImage"
strip -o "$out/minimal-vmlinux" vmlinux || nested_die "strip failed"
# XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point a VMM needs to boot the ELF directly.
readelf -n "$out/minimal-vmlinux" | grep -q 'Xen .*(0x00000012)' ||
	nested_die "minimal-vmlinux has no PVH entry note"
nested_log "built $out/minimal-bzImage and $out/minimal-vmlinux"

#!/usr/bin/env bash
# guest/build-initramfs.sh — build arcvmm's test initramfs images from Debian packages:
#
#   OUTDIR/minimal-initramfs.cpio(.gz)   static busybox + guest/init.sh as /init
#   with --debian, also:
#   OUTDIR/debian-vmlinuz                Debian's stock kernel (linux-image-<rel>-amd64)
#   OUTDIR/debian-initramfs.cpio.gz      the same busybox and /init, plus that kernel's
#                                        virtio, ext4, fuse and vsock modules, listed in
#                                        /etc/guest-modules in load order
#
#   guest/build-initramfs.sh [--debian] [OUTDIR]          (default OUTDIR: build/guest)
#
# Packages come through `apt-get download` into the nested harness's cache (L1_KREL picks
# the kernel release, as there). Needs cpio, gzip, kmod (modinfo). Trusts: Debian's
# packages.
. "$(dirname "${BASH_SOURCE[0]}")/../tests/nested/lib.sh"
set -o pipefail

debian=0
if [ "${1:-}" = --debian ]; then
	debian=1
	shift
fi
out=${1:-$PROJECT_DIR/build/guest}
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
# Modules for the stock kernel, by name; their dependencies are added with modinfo.
DEBIAN_MODULES="crc32c_generic crc32c-intel ext4 virtiofs virtio_blk virtio_net virtio_console
virtio-rng virtio_balloon vmw_vsock_virtio_transport virtio_mmio virtio_pci"

nested_prepare_busybox

# stage DIR: the common tree (busybox with its applet links, /init, a few files).
stage() {
	local st=$1 a
	mkdir -p "$st"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root}
	install -m 0755 "$NESTED_BUSYBOX" "$st/bin/busybox"
	"$NESTED_BUSYBOX" --list-full | while read -r a; do
		[ "$a" = bin/busybox ] && continue
		mkdir -p "$st/$(dirname "$a")"
		ln -sf /bin/busybox "$st/$a"
	done
	install -m 0755 "$PROJECT_DIR/guest/init.sh" "$st/init"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$st/etc/passwd"
	echo 'root:x:0:' >"$st/etc/group"
}

# pack DIR FILE: a newc cpio of DIR, owned by root, with fixed times (reproducible).
pack() {
	find "$1" -exec touch -h -d @1700000000 {} +
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$2"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

stage "$tmp/min"
pack "$tmp/min" "$out/minimal-initramfs.cpio"
gzip -9 -n -c "$out/minimal-initramfs.cpio" >"$out/minimal-initramfs.cpio.gz"
nested_log "built $out/minimal-initramfs.cpio(.gz)"
[ "$debian" = 1 ] || exit 0

nested_pick_krel
deb=$(nested_fetch_deb "linux-image-$L1_KREL") || exit 2
kpkg="$tmp/kpkg"
mkdir -p "$kpkg"
dpkg-deb -x "$deb" "$kpkg" || nested_die "unpacking $deb failed"
kdir="$kpkg/lib/modules/$L1_KREL"
declare -A byname=() seen=()
while IFS= read -r f; do
	n=$(basename "$f" .ko)
	byname[${n//-/_}]=${f#"$kdir"/}
done < <(find "$kdir/kernel" -name '*.ko')
order=()
add() {
	local key=${1//-/_} rel dep
	rel=${byname[$key]:-}
	[ -n "$rel" ] || nested_die "no module $1 in linux-image-$L1_KREL"
	[ -n "${seen[$key]:-}" ] && return 0
	seen[$key]=1
	for dep in $(modinfo -F depends "$kdir/$rel" | tr , ' '); do
		add "$dep"
	done
	order+=("$rel")
}
for m in $DEBIAN_MODULES; do
	add "$m"
done
stage "$tmp/deb"
for rel in "${order[@]}"; do
	install -D -m 0644 "$kdir/$rel" "$tmp/deb/lib/modules/$L1_KREL/$rel"
	echo "$rel" >>"$tmp/deb/etc/guest-modules"
done
pack "$tmp/deb" "$tmp/deb.cpio"
gzip -9 -n -c "$tmp/deb.cpio" >"$out/debian-initramfs.cpio.gz"
cp "$kpkg/boot/vmlinuz-$L1_KREL" "$out/debian-vmlinuz"
nested_log "built $out/debian-vmlinuz and debian-initramfs.cpio.gz (${#order[@]} modules)"

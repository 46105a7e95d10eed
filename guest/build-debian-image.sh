#!/bin/sh
# guest/build-debian-image.sh — a small Debian 12 (bookworm) system with systemd as an ext4
# disk image, with its stock kernel and initramfs-tools initrd beside it, for the
# distribution test (tests/linux/distro.sh) and bench/boot/distro.sh.
#
#   guest/build-debian-image.sh [--print-dir] [--force]
#
# Output (cached): ${ARCVMM_GUEST_CACHE:-${XDG_CACHE_HOME:-~/.cache}/arcvmm-guest}/debian12-HASH/
#   rootfs.ext4   ext4, 1.5 GiB sparse, label "root", mounted from root=/dev/vda
#   vmlinuz       the image's linux-image-amd64 kernel (bzImage)
#   initrd.img    its initramfs-tools initrd (virtio_mmio, virtio_blk, virtio_net, ext4 in it)
#   packages      the image's package list (dpkg -l)
# HASH is a hash of this file: changing the recipe builds a new image. --print-dir prints
# the folder (building it first if needed) and nothing else on stdout. --force rebuilds.
#
# The image: mmdebstrap --variant=apt, no recommends, with systemd, systemd-sysv, udev,
# dbus (systemd-logind needs it: the ACPI power button goes through logind),
# linux-image-amd64, initramfs-tools, e2fsprogs, iproute2; systemd-networkd does DHCP on
# eth0 and en*; no getty, no firstboot. arcvmm-check.service (after multi-user.target)
# waits for `systemctl is-system-running --wait` and prints on /dev/console:
#   ARCVMM-CHECK state=S | failed=UNIT... | eth0=ADDR | nproc=N | memtotal_kb=N |
#       disks=vda,vdb... | file=written | analyze=... | cpuflags=... | initrd-unpack=...
#       | initrd-freed=... | done
#   ARCVMM-DMESG LINE      dmesg -l emerg,alert,crit,err,warn (without timestamps)
#   ARCVMM-JOURNAL LINE    journalctl -p warning -b (identifier: message)
# then writes and syncs /var/lib/arcvmm-check/data (the token from arcvmm.token= on the
# kernel command line, then `seq 1 20000`) and powers off; with arcvmm.stay=1 it prints
# "ARCVMM-CHECK staying" and stays up (the SIGTERM test).
# Needs: mmdebstrap, e2fsprogs (mke2fs -d), apt access, root (or mmdebstrap's unshare mode).
# Trusts: its caller and the Debian archive (apt checks the signatures).
set -eu

self=$(realpath "$0")
cache=${ARCVMM_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arcvmm-guest}
hash=$(sha256sum "$self" | cut -c1-12)
out=$cache/debian12-$hash
print_dir=0
force=0
for a in "$@"; do
	case $a in
	--print-dir) print_dir=1 ;;
	--force) force=1 ;;
	*)
		echo "usage: $0 [--print-dir] [--force]" >&2
		exit 2
		;;
	esac
done
log() { echo "build-debian-image: $*" >&2; }

if [ "$force" = 0 ] && [ -f "$out/done" ]; then
	[ "$print_dir" = 1 ] && echo "$out"
	exit 0
fi
command -v mmdebstrap >/dev/null || { log "needs mmdebstrap (scripts/deps.sh)"; exit 2; }
command -v mke2fs >/dev/null || { log "needs e2fsprogs"; exit 2; }

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf --one-file-system "$tmp"' EXIT
root=$tmp/root
mkdir -p "$tmp/files"

# The test unit and its script.
cat >"$tmp/files/arcvmm-check" <<'EOF'
#!/bin/sh
# arcvmm-check: the distribution test's in-guest half (guest/build-debian-image.sh).
exec >/dev/console 2>&1
m() { echo "ARCVMM-CHECK $*"; }
state=$(timeout 300 systemctl is-system-running --wait 2>/dev/null)
m "state=${state:-unknown}"
failed=$(systemctl list-units --failed --plain --no-legend 2>/dev/null | awk '{print $1}' | tr '\n' ' ')
m "failed=${failed:-none}"
a=$(ip -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}' | head -n 1)
m "eth0=${a:-none}"
m "nproc=$(nproc)"
m "memtotal_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
m "disks=$(ls /sys/block | grep '^vd' | tr '\n' ',' | sed 's/,$//')"
for d in /sys/block/vd*; do
	[ -e "$d/size" ] && m "disk=${d##*/} sectors=$(cat "$d/size")"
done
m "analyze=$(systemd-analyze 2>/dev/null | head -n 1)"
m "initrd-unpack=$(dmesg | grep -m1 -E 'Unpacking initramfs|Trying to unpack rootfs' | sed 's/^\[ *\([0-9.]*\)\].*/\1/')"
m "initrd-freed=$(dmesg | grep -m1 'Freeing initrd memory' | sed 's/^\[ *\([0-9.]*\)\].*/\1/')"
m "cpuflags=$(grep -m1 '^flags' /proc/cpuinfo | sed 's/^flags[^:]*: *//')"
m "hostname=$(hostname)"
dmesg -l emerg,alert,crit,err,warn 2>/dev/null | sed 's/^\[ *[0-9.]*\] //; s/^/ARCVMM-DMESG /'
journalctl -p warning -b --no-pager --no-hostname -o short-monotonic 2>/dev/null |
	grep -v '^-- ' | sed 's/^\[ *[0-9.]*\] //; s/^\([^ :[]*\)\[[0-9]*\]:/\1:/' |
	sed 's/^/ARCVMM-JOURNAL /'
tok=$(sed -n 's/.*arcvmm\.token=\([^ ]*\).*/\1/p' /proc/cmdline)
mkdir -p /var/lib/arcvmm-check
{ echo "${tok:-none}"; seq 1 20000; } >/var/lib/arcvmm-check/data.tmp
mv /var/lib/arcvmm-check/data.tmp /var/lib/arcvmm-check/data
sync
m "file=written"
if grep -q 'arcvmm\.stay=1' /proc/cmdline; then
	m "staying"
	m "done"
	exit 0
fi
m "done"
systemctl poweroff
EOF
cat >"$tmp/files/arcvmm-check.service" <<'EOF'
[Unit]
Description=arcvmm distribution test: report the boot on the console, then power off
After=multi-user.target
Wants=multi-user.target

[Service]
# simple, not oneshot: a pending start job would keep is-system-running at "starting".
Type=simple
ExecStart=/usr/local/sbin/arcvmm-check
StandardOutput=tty
TTYPath=/dev/console

[Install]
WantedBy=multi-user.target
EOF
cat >"$tmp/files/20-wired.network" <<'EOF'
[Match]
Name=eth0 en*

[Network]
DHCP=ipv4
EOF

log "mmdebstrap bookworm (a few minutes)"
mmdebstrap --mode=root --variant=apt --format=directory \
	--aptopt='APT::Install-Recommends "false"' \
	--include=systemd,systemd-sysv,udev,dbus,linux-image-amd64,initramfs-tools,e2fsprogs,iproute2,kmod \
	--essential-hook='mkdir -p "$1/etc/initramfs-tools"' \
	--customize-hook='printf "virtio_mmio\nvirtio_blk\nvirtio_net\next4\n" >>"$1/etc/initramfs-tools/modules"' \
	--customize-hook='sed -i "s/^MODULES=.*/MODULES=most/" "$1/etc/initramfs-tools/initramfs.conf"' \
	--customize-hook='chroot "$1" update-initramfs -u -k all' \
	--customize-hook="install -m 0755 $tmp/files/arcvmm-check \"\$1/usr/local/sbin/arcvmm-check\"" \
	--customize-hook="install -m 0644 $tmp/files/arcvmm-check.service \"\$1/etc/systemd/system/\"" \
	--customize-hook="install -m 0644 $tmp/files/20-wired.network \"\$1/etc/systemd/network/\"" \
	--customize-hook='chroot "$1" systemctl enable systemd-networkd.service arcvmm-check.service' \
	--customize-hook='chroot "$1" systemctl mask serial-getty@ttyS0.service getty@tty1.service systemd-firstboot.service' \
	--customize-hook='echo debian >"$1/etc/hostname"' \
	--customize-hook='echo "127.0.1.1 debian" >>"$1/etc/hosts"' \
	--customize-hook='echo 4172636d766d6d2d64656269616e3132 >"$1/etc/machine-id"' \
	--customize-hook='printf "/dev/vda / ext4 defaults 0 1\n" >"$1/etc/fstab"' \
	--customize-hook='chroot "$1" dpkg -l >"$1/root/packages"' \
	--customize-hook='rm -rf "$1/var/cache/apt/archives/"*.deb "$1/var/lib/apt/lists/"*_Packages' \
	bookworm "$root" http://deb.debian.org/debian

mkdir -p "$tmp/out"
k=$(ls "$root"/boot/vmlinuz-* | head -n 1)
i=$(ls "$root"/boot/initrd.img-* | head -n 1)
cp "$k" "$tmp/out/vmlinuz"
cp "$i" "$tmp/out/initrd.img"
mv "$root/root/packages" "$tmp/out/packages"
log "mke2fs -d (1.5 GiB sparse)"
mke2fs -q -t ext4 -L root -d "$root" "$tmp/out/rootfs.ext4" 1536M
e2fsck -fn "$tmp/out/rootfs.ext4" >/dev/null
echo "$hash $(basename "$k")" >"$tmp/out/done"
rm -rf "$out"
mv "$tmp/out" "$out"
# Builds of older recipe versions go, but the newest older one stays: a test run that
# started before this build may still be reading it.
ls -dt "$cache"/debian12-* | grep -v -x -F "$out" | tail -n +2 | while read -r d; do
	rm -rf "$d"
done
log "built $out ($(du -sh "$out/rootfs.ext4" | cut -f1) used, kernel $(basename "$k"))"
[ "$print_dir" = 1 ] && echo "$out"
exit 0

#!/bin/sh
# guest/init.sh — /init of arcvmm's test initramfs images (static busybox; no modules
# unless /etc/guest-modules lists some). It speaks the GUEST-* console protocol that
# tests/nested/linux-tests.sh checks:
#
#   GUEST-INIT-START uptime_s=S         first line of /init
#   GUEST-WARN text                     something non-fatal failed (e.g. an insmod)
#   GUEST-INIT-READY uptime_s=S         file systems mounted, modules loaded
#   GUEST-INFO key=value...             inventory (kernel, cpus, memory, block, net,
#                                       virtio devices and transports, hwrng, vsock/hvc,
#                                       ACPI tables, cmdline) unless guest.quiet=1
#   GUEST-CMD-BEGIN / GUEST-CMD-EXIT=N  around guest.cmd / guest.cmd64
#   GUEST-POWEROFF how uptime_s=S       just before it ends the guest
#
# Parameters, read from /proc/cmdline (dotted, so the kernel leaves them alone):
#   guest.cmd="..." | guest.cmd64=BASE64   a shell command to run after READY
#   guest.shell=1                          an interactive shell after READY
#   guest.quiet=1                          no GUEST-INFO lines
#   guest.exit=auto|poweroff|reboot|halt|hang   how to end (auto: poweroff when the
#                                          kernel found ACPI tables, else reboot, since
#                                          without ACPI a power-off only halts the CPU)
#
# It forks as little as it can: every process costs guest-kernel time, which is dear on
# an emulating or nested hypervisor.
# Trusts: the kernel command line (it is the test's input).

PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /tmp
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /tmp 2>/dev/null

t() { read -r up _ </proc/uptime; }
t
echo "GUEST-INIT-START uptime_s=$up"

# Split the command line the way the kernel does (spaces separate words, double quotes
# group and are dropped) and keep the guest.* words as shell assignments g_<name>=...
eval "$(awk '
function emit(w,   k, v, eq) {
	eq = index(w, "=")
	if (eq) { k = substr(w, 1, eq - 1); v = substr(w, eq + 1) } else { k = w; v = "1" }
	if (k !~ /^guest\.(cmd|cmd64|shell|quiet|exit)$/) return
	gsub(/\047/, "\047\\\047\047", v)
	printf "g_%s=\047%s\047\n", substr(k, 7), v
}
{
	w = ""; inq = 0; have = 0
	for (i = 1; i <= length($0); i++) {
		c = substr($0, i, 1)
		if (c == "\"") { inq = !inq; have = 1; continue }
		if (c == " " && !inq) { if (have) emit(w); w = ""; have = 0; continue }
		w = w c; have = 1
	}
	if (have) emit(w)
}' /proc/cmdline)"

if [ -f /etc/guest-modules ]; then
	read -r rel </proc/sys/kernel/osrelease
	while read -r ko; do
		case "$ko" in "" | "#"*) continue ;; esac
		msg=$(insmod "/lib/modules/$rel/$ko" 2>&1) || echo "GUEST-WARN insmod $ko: $msg"
	done </etc/guest-modules
fi

t
echo "GUEST-INIT-READY uptime_s=$up"

# names PATTERN...: $names = base names of the existing paths among the globbed args.
names() {
	names=""
	for p in "$@"; do
		[ -e "$p" ] && names="$names ${p##*/}"
	done
	names=${names# }
}

if [ "${g_quiet:-0}" != 1 ]; then
	read -r rel </proc/sys/kernel/osrelease
	kb=?
	while read -r key val _; do
		if [ "$key" = MemTotal: ]; then kb=$val; break; fi
	done </proc/meminfo
	names /sys/devices/system/cpu/cpu[0-9]*
	echo "GUEST-INFO kernel=$rel cpus=$names mem_kb=$kb"
	names /sys/block/*
	echo "GUEST-INFO block=$names"
	names /sys/class/net/*
	echo "GUEST-INFO net=$names"
	list=""
	for d in /sys/bus/virtio/devices/*; do
		[ -r "$d/device" ] || continue
		read -r id <"$d/device"
		case $((id)) in
		1) kind=net ;; 2) kind=block ;; 3) kind=console ;; 4) kind=rng ;;
		5) kind=balloon ;; 9) kind=9p ;; 16) kind=gpu ;; 18) kind=input ;;
		19) kind=vsock ;; 20) kind=crypto ;; 24) kind=mem ;; 26) kind=fs ;;
		27) kind=pmem ;; *) kind=id$((id)) ;;
		esac
		drv=none
		if [ -L "$d/driver" ]; then
			drv=$(readlink "$d/driver")
			drv=${drv##*/}
		fi
		list="$list ${d##*/}:$kind:$drv"
	done
	echo "GUEST-INFO virtio=${list# }"
	names /sys/bus/platform/drivers/virtio-mmio/*virtio_mmio* \
		/sys/bus/platform/drivers/virtio-mmio/LNRO0005:*
	echo "GUEST-INFO virtio_mmio_transports=$names"
	rng=none
	[ -r /sys/class/misc/hw_random/rng_current ] && read -r rng </sys/class/misc/hw_random/rng_current
	echo "GUEST-INFO hwrng=$rng"
	names /dev/vsock
	vs=${names:-none}
	names /sys/class/tty/hvc*
	hv=$names
	names /sys/class/virtio-ports/*
	echo "GUEST-INFO vsock=$vs hvc=$hv virtio_ports=$names"
	names /sys/firmware/acpi/tables/[A-Z]*
	echo "GUEST-INFO acpi_tables=${names:-none}"
	read -r line </proc/cmdline
	echo "GUEST-INFO cmdline=$line"
fi

run=${g_cmd:-}
[ -n "${g_cmd64:-}" ] && run=$(echo "$g_cmd64" | base64 -d)
if [ -n "$run" ]; then
	echo "GUEST-CMD-BEGIN"
	sh -c "$run"
	echo "GUEST-CMD-EXIT=$?"
fi
[ "${g_shell:-0}" = 1 ] && setsid cttyhack sh

sync
how=${g_exit:-auto}
if [ "$how" = auto ]; then
	if [ -d /sys/firmware/acpi/tables ]; then how=poweroff; else how=reboot; fi
fi
t
echo "GUEST-POWEROFF $how uptime_s=$up"
case "$how" in
reboot) reboot -f ;;
halt) halt -f ;;
hang) while :; do sleep 3600; done ;;
*) poweroff -f ;;
esac
# Only if the call above failed: init exiting panics the kernel (and panic=-1 resets).
exit 1

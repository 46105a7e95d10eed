#!/bin/sh
# tests/linux/platform.sh — what a distribution's kernel notices about the platform (POSIX
# sh; runs under busybox in the nested L1, or directly on a host with hardware KVM).
#
#   ARCVMM=build/arcvmm GUEST_DIR=../shared/guest WORK=/tmp/w sh tests/linux/platform.sh [TEST...]
#
#   platform-rtc-irqs   Debian's stock kernel (rtc_cmos built in), 2 vCPUs, two disks, a
#                       NIC and the rng (4 virtio devices, as in the boot that found the
#                       defect): rtc_cmos gets IRQ 8 ("alarms up to one day", not "no
#                       alarms"); an alarm 2 s ahead (sysfs wakealarm, what rtcwake sets)
#                       fires: rtc0's count in /proc/interrupts grows; `hwclock -w` after moving
#                       the clock an hour on sets the RTC (since_epoch follows); no virtio
#                       interrupt sits on ISA lines 1, 4, 8, 9 or 12; the kernel logs no
#                       "inconsistent MTRRdefType" (the APs get the BSP's MTRR default)
#                       and, where L1's KVM has the TSC-deadline timer, the guest sees it
#                       (cpuinfo flag tsc_deadline_timer)
#   platform-dhcp-hostname  the minimal kernel with --net user: DHCP hands out no hostname;
#                       with --net user,hostname=probe7 it hands out "probe7"
# Prints "ok NAME" / "FAIL NAME: why"; last line "N passed, N failed".
# Env: LT_TIMEOUT (s per minimal boot, 90), LT_SLOW_TIMEOUT (Debian kernel, 240).
#
# Trusts: nothing the guest prints (only matched against patterns).

ARCVMM=${ARCVMM:?set ARCVMM to the arcvmm binary}
G=${GUEST_DIR:?set GUEST_DIR to the guest images}
WORK=${WORK:-$(mktemp -d)}
T=${LT_TIMEOUT:-90}
T_SLOW=${LT_SLOW_TIMEOUT:-240}
K=$G/minimal-vmlinux
I=$G/minimal-initramfs.cpio.gz
ALL="platform-rtc-irqs platform-dhcp-hostname"
BASE="console=ttyS0 reboot=k panic=-1 quiet guest.quiet=1"
mkdir -p "$WORK" || exit 2

b64() { printf '%s' "$1" | base64 | tr -d '\n'; }

t_platform_rtc_irqs() {
	[ -f "$G/debian-vmlinuz" ] || { why="no $G/debian-vmlinuz"; return 1; }
	con=$WORK/rtc.console
	errf=$WORK/rtc.stderr
	dd if=/dev/zero of="$WORK/rtc-a.img" bs=1M count=4 2>/dev/null
	dd if=/dev/zero of="$WORK/rtc-b.img" bs=1M count=4 2>/dev/null
	s='dmesg | grep -iE "rtc_cmos|rtc0" | sed "s/^/RTC-DMESG /"
dmesg | grep -iE "mtrr|tsc.deadline" | sed "s/^/CPU-DMESG /"
grep -E "rtc0|virtio" /proc/interrupts | sed "s/^/IRQ /"
n0=$(awk "/rtc0/ { s = 0; for (i = 2; i <= NF; i++) if (\$i ~ /^[0-9]+\$/) s += \$i; else break; print s }" /proc/interrupts)
echo 0 >/sys/class/rtc/rtc0/wakealarm
echo +2 >/sys/class/rtc/rtc0/wakealarm
echo "WAKEALARM-RC $?"
sleep 4
n1=$(awk "/rtc0/ { s = 0; for (i = 2; i <= NF; i++) if (\$i ~ /^[0-9]+\$/) s += \$i; else break; print s }" /proc/interrupts)
echo "RTC-IRQS ${n0:-none} ${n1:-none}"
want=$(( $(date +%s) + 3600 ))
date -u -s "@$want" >/dev/null
hwclock -u -w; echo "HWCLOCK-W $?"
echo "RTC-SET want=$want got=$(cat /sys/class/rtc/rtc0/since_epoch)"
grep -m1 -o -w tsc_deadline_timer /proc/cpuinfo | sed "s/^/CPU-FLAG /"
echo PLATFORM-END'
	"$ARCVMM" --kernel "$G/debian-vmlinuz" --initrd "$G/debian-initramfs.cpio.gz" \
		--cpus 2 --memory 512M --disk "$WORK/rtc-a.img" --disk "$WORK/rtc-b.img" \
		--net user --cmdline "$BASE guest.cmd64=$(b64 "$s")" \
		</dev/null 2>"$errf" | tr -d '\r' >"$con" &
	pid=$!
	i=0
	while [ $i -lt "$T_SLOW" ] && kill -0 $pid 2>/dev/null; do
		sleep 1
		i=$((i + 1))
	done
	kill -0 $pid 2>/dev/null && { pkill -KILL -f "$WORK/rtc-a.img"; wait $pid; why="no end within ${T_SLOW}s"; return 1; }
	wait $pid
	grep -q '^PLATFORM-END' "$con" || { why="the guest's checks did not finish"; return 1; }
	grep '^RTC-DMESG\|^CPU-DMESG\|^IRQ \|^RTC-\|^CPU-FLAG' "$con" | sed 's/^/# platform-rtc-irqs: /'
	grep -q '^RTC-DMESG.*no alarms' "$con" && { why="rtc_cmos: no alarms (no IRQ 8)"; return 1; }
	grep -q '^RTC-DMESG.*alarms up to' "$con" || { why="rtc_cmos did not report its alarms"; return 1; }
	grep -q '^WAKEALARM-RC 0' "$con" || { why="setting an alarm through wakealarm failed"; return 1; }
	set -- $(sed -n 's/^RTC-IRQS //p' "$con")
	case "$1$2" in *none* | "") why="no rtc0 line in /proc/interrupts"; return 1 ;; esac
	[ "$2" -gt "$1" ] || { why="rtc0's interrupt count did not grow when the alarm was due ($1 -> $2)"; return 1; }
	grep -q '^HWCLOCK-W 0' "$con" || { why="hwclock -w failed"; return 1; }
	w=$(sed -n 's/^RTC-SET want=\([0-9]*\) got=.*/\1/p' "$con")
	g=$(sed -n 's/^RTC-SET want=[0-9]* got=\([0-9]*\)/\1/p' "$con")
	[ -n "$w" ] && [ -n "$g" ] && [ $((g - w)) -ge 0 ] && [ $((g - w)) -le 5 ] ||
		{ why="the RTC did not take the time hwclock -w set (want $w, got $g)"; return 1; }
	# "IRQ  24:  3  0  IO-APIC  5-edge  virtio0": the GSI is the number before -edge.
	bad=$(grep '^IRQ ' "$con" | grep virtio | sed -n 's/.* \([0-9]*\)-\(edge\|fasteoi\) .*/\1/p' |
		grep -xE '1|4|8|9|12')
	[ -z "$bad" ] || { why="virtio interrupts on legacy ISA lines: $bad"; return 1; }
	grep -q '^IRQ .*virtio' "$con" || { why="no virtio line in /proc/interrupts"; return 1; }
	grep -qi '^CPU-DMESG.*inconsistent MTRRdefType' "$con" && { why="inconsistent MTRRdefType"; return 1; }
	if grep -qi 'TSC deadline timer available' "$con" || grep -q '^CPU-FLAG' "$con"; then
		grep -q '^CPU-FLAG tsc_deadline_timer' "$con" ||
			{ why="the kernel saw the TSC-deadline timer but cpuinfo lacks the flag"; return 1; }
	else
		echo "# platform-rtc-irqs: no tsc_deadline_timer in the guest (L1's KVM may not offer it)"
	fi
	return 0
}

# boot_dhcp NETSPEC TAG: the minimal kernel asks DHCP once; prints the hostname it got
boot_dhcp() {
	s='printf "#!/bin/sh\necho \"DHCP-\$1 ip=\$ip hostname=\$hostname\"\n" >/tmp/dh
chmod +x /tmp/dh
ip link set eth0 up
udhcpc -i eth0 -n -q -f -s /tmp/dh 2>/dev/null
echo DHCP-END'
	timeout "$T" "$ARCVMM" --kernel "$K" --initrd "$I" --memory 256M --net "$1" \
		--cmdline "$BASE guest.cmd64=$(b64 "$s")" </dev/null 2>"$errf" | tr -d '\r' >"$WORK/dhcp-$2.console"
	cat "$WORK/dhcp-$2.console" >>"$con"
}

t_platform_dhcp_hostname() {
	con=$WORK/dhcp.console
	errf=$WORK/dhcp.stderr
	: >"$con"
	boot_dhcp user plain
	boot_dhcp user,hostname=probe7 named
	grep -q '^DHCP-bound ip=10.0.2.15' "$WORK/dhcp-plain.console" || { why="no DHCP lease (plain)"; return 1; }
	grep -q '^DHCP-bound ip=10.0.2.15 hostname=$' "$WORK/dhcp-plain.console" ||
		{ why="a hostname was handed out without hostname=: $(grep '^DHCP-bound' "$WORK/dhcp-plain.console")"; return 1; }
	grep -q '^DHCP-bound ip=10.0.2.15 hostname=probe7$' "$WORK/dhcp-named.console" ||
		{ why="hostname=probe7 not handed out: $(grep '^DHCP-' "$WORK/dhcp-named.console")"; return 1; }
	return 0
}

. "$(dirname "$0")/runner.inc"
run_all "$@"

#!/bin/sh
# tests/nested/l1-init.sh — /init of the L1 guest of the nested-KVM harness (busybox sh).
#
# L1 is Debian's stock kernel running under QEMU's emulator with an emulated AMD SVM CPU.
# This script loads the modules listed in /etc/l1-modules (kvm_amd and 9p, dependencies
# first), mounts the job share (tag from l1.job=) on /nested-job and every share listed in
# its "mounts" file at the same absolute path as on the host, runs the job's cmd.sh in the
# folder named by its "cwd" file, writes the exit status to out/rc and powers L1 off.
# Lines it prints itself start with "l1: ".
#
# Trusts: the host that built this initramfs and wrote the job folder.

PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /dev/shm 2>/dev/null

die() {
	echo "l1: error: $*"
	poweroff -f
	sleep 10
}

job=""
for w in $(cat /proc/cmdline); do
	case "$w" in
	l1.job=*) job=${w#*=} ;;
	esac
done

read -r kver </proc/sys/kernel/osrelease
while read -r m; do
	out=$(insmod "/lib/modules/$kver/kernel/$m" 2>&1) || echo "l1: insmod $m: $out"
done </etc/l1-modules
if [ -c /dev/kvm ]; then
	read -r up _ </proc/uptime
	echo "l1: /dev/kvm ready (kvm_amd, L1 uptime ${up}s)"
else
	echo "l1: warning: no /dev/kvm (does the L1 CPU offer svm?)"
fi

# Loopback up: tests reach servers on L1's 127.0.0.1 (e.g. through arcvmm's user network).
ip link set lo up 2>/dev/null

[ -n "$job" ] || die "no l1.job= on the kernel command line"
J=/nested-job
mkdir -p $J
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 "$job" $J ||
	die "cannot mount the job share '$job'"
if [ -f $J/mounts ]; then
	while read -r tag path mode; do
		[ -n "$tag" ] || continue
		mkdir -p "$path"
		mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000,$mode" "$tag" "$path" ||
			echo "l1: warning: cannot mount $tag on $path"
	done <$J/mounts
fi

# Dynamically linked programs from the host: their libraries and loader are in lib/.
if [ -f $J/lib/ld-linux-x86-64.so.2 ]; then
	mkdir -p /lib64
	ln -sf $J/lib/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
	LD_LIBRARY_PATH=$J/lib
	export LD_LIBRARY_PATH
fi
PATH=$J/bin:$PATH
HOME=/tmp
export PATH HOME

cwd=/
[ -f $J/cwd ] && read -r cwd <$J/cwd
cd "$cwd" 2>/dev/null || cd /
if [ -f $J/hostroot ]; then
	# The host's own file system (read-only) as the root, with L1's /dev, /proc and /sys,
	# a fresh /tmp and the shares on top: the host's tools (bash, curl, python3, the
	# libraries arcvmm links) run in L1 as they would on the host.
	R=/hostroot
	mkdir -p $R
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro hostroot $R ||
		die "cannot mount the host's root"
	mount -t proc proc $R/proc
	mount -o bind /sys $R/sys
	mount -o bind /dev $R/dev
	mount -o bind /dev/pts $R/dev/pts 2>/dev/null
	mount -t tmpfs tmpfs $R/tmp
	mount -t tmpfs tmpfs $R/run 2>/dev/null
	mount -t tmpfs tmpfs $R/var/tmp 2>/dev/null
	while read -r tag path mode; do
		[ -n "$tag" ] && mount -o bind "$path" "$R$path"
	done <$J/mounts
	mkdir -p $R/tmp/nested-job
	mount -o bind $J $R/tmp/nested-job
	chroot $R /bin/sh -c "cd '$cwd' 2>/dev/null || cd /; \
		PATH=/tmp/nested-job/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/tmp NESTED_QEMU_DATA=/tmp/nested-job/qemu-data LD_LIBRARY_PATH= \
		sh /tmp/nested-job/cmd.sh" </dev/null 2>&1
	rc=$?
	umount $R/tmp/nested-job 2>/dev/null
else
	sh $J/cmd.sh </dev/null 2>&1
	rc=$?
fi
echo "$rc" >$J/out/rc
sync
umount $J 2>/dev/null
poweroff -f
sleep 10

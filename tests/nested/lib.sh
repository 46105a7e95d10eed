# shellcheck shell=bash
# tests/nested/lib.sh — host side of the nested-KVM harness (sourced by run-suite.sh,
# run-in-l1.sh and bench/boot/run.sh; bash).
#
# What it does: fetches Debian's stock kernel package (for the L1 kernel and its kvm,
# kvm_amd and 9p modules) and busybox-static into a cache, packs a small L1 initramfs
# (busybox + l1-init.sh as /init + those modules), and boots that L1 under QEMU's emulator
# (TCG, `-cpu max`, which emulates AMD SVM) with a "job" folder and any number of host
# folders shared over virtio-9p. L1's /init loads kvm_amd, mounts the shares at the SAME
# absolute paths as on the host, runs job/cmd.sh there and writes its exit status back to
# job/out/rc. See README.md beside this file.
#
# Trusts: the host's apt configuration and Debian packages; the caller's arguments.
# Does not trust: anything L1 writes back (only a number is read from job/out/rc).
#
# Environment knobs (all optional):
#   ARCVMM_NESTED_CACHE  cache folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/arcvmm-nested)
#   L1_KREL              Debian kernel release for L1, e.g. 6.1.0-56-amd64 (default: what
#                        linux-image-amd64 depends on, or the newest one in the cache)
#   L1_MEM               L1 memory (default 6G; QEMU allocates host memory lazily)
#   L1_CPU               L1 CPU model (default max; must offer svm under TCG)
#   QEMU                 qemu-system-x86_64 binary to run L1 with
#   NESTED_VERBOSE=1     show L1's kernel messages too (L1 boots with "quiet" otherwise)

NESTED_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd "$NESTED_DIR/../.." && pwd)"
NESTED_CACHE="${ARCVMM_NESTED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arcvmm-nested}"
QEMU="${QEMU:-qemu-system-x86_64}"
L1_MEM="${L1_MEM:-6G}"
L1_CPU="${L1_CPU:-max}"

# Modules L1 needs, relative to lib/modules/<rel>/kernel; their dependencies are resolved
# with modinfo (Debian's package carries no modules.dep). tun: for tests/linux/net.sh.
# vhost_vsock: QEMU's vhost-vsock-device, the peer of bench/vsock.
NESTED_MODULES="arch/x86/kvm/kvm-amd.ko net/9p/9pnet_virtio.ko fs/9p/9p.ko \
drivers/virtio/virtio_pci.ko drivers/net/tun.ko drivers/vhost/vhost_vsock.ko"
# Folders of the kernel package to unpack (the modules above and everything they use).
NESTED_MODULE_DIRS="arch/x86/kvm virt/lib drivers/crypto/ccp drivers/virtio fs/9p fs/netfs \
fs/fscache net/9p drivers/net/tun.ko drivers/vhost net/vmw_vsock"

nested_log() { printf 'nested: %s\n' "$*" >&2; }
nested_die() {
	nested_log "error: $*"
	exit 2
}

# nested_sq STRING: STRING quoted for a POSIX shell (single quotes).
nested_sq() {
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}

# nested_has_hw_kvm: true when /dev/kvm is a hardware-assisted KVM that can boot Linux
# directly: the CPU shows vmx or svm, kvm_intel or kvm_amd is loaded, kvm_pvm is not, and
# /dev/kvm opens for reading and writing. CPU flags alone prove nothing (PVM hides them,
# and a flag does not mean the module is there). NESTED_FORCE=1 says no, NESTED_DIRECT=1
# says yes (to check the direct path with a stand-in VMM).
nested_has_hw_kvm() {
	[ "${NESTED_FORCE:-}" = 1 ] && return 1
	[ "${NESTED_DIRECT:-}" = 1 ] && return 0
	grep -qwE 'vmx|svm' /proc/cpuinfo || return 1
	[ -d /sys/module/kvm_pvm ] && return 1
	[ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ] || return 1
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	{ exec 9<>/dev/kvm; } 2>/dev/null || return 1
	exec 9>&-
	return 0
}

# nested_fetch_deb PACKAGE: print the path of PACKAGE's .deb in the cache, downloading it
# with apt-get if it is not there yet.
nested_fetch_deb() {
	local pkg=$1 d="$NESTED_CACHE/debs" f
	mkdir -p "$d"
	f=$(ls -1 "$d/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$f" ]; then
		nested_log "downloading $pkg"
		if ! (cd "$d" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2); then
			# A machine whose package lists were never fetched knows no versions yet.
			[ "$(id -u)" = 0 ] && apt-get update -q >&2
			(cd "$d" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
				nested_die "apt-get download $pkg failed"
		fi
		f=$(ls -1 "$d/${pkg}"_*.deb 2>/dev/null | sort -V | tail -n 1)
	fi
	[ -n "$f" ] || nested_die "no .deb for $pkg in $d"
	printf '%s\n' "$f"
}

# nested_pick_krel: set L1_KREL (Debian kernel release used for L1).
nested_pick_krel() {
	[ -n "${L1_KREL:-}" ] && return 0
	local k
	k=$(ls -1d "$NESTED_CACHE"/kernel-*/.done 2>/dev/null | sed 's|.*/kernel-||; s|/.done$||' |
		sort -V | tail -n 1)
	local try
	for try in 1 2; do
		[ -n "$k" ] && break
		k=$(apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
		[ -z "$k" ] && [ "$try" = 1 ] && [ "$(id -u)" = 0 ] && apt-get update -q >&2
	done
	[ -n "$k" ] || nested_die "cannot tell which linux-image-*-amd64 to use; set L1_KREL"
	L1_KREL=$k
}

# nested_prepare_kernel: unpack L1's vmlinuz and the module folders it needs into
# $NESTED_CACHE/kernel-$L1_KREL (once). Sets L1_KDIR.
nested_prepare_kernel() {
	nested_pick_krel
	L1_KDIR="$NESTED_CACHE/kernel-$L1_KREL"
	# .done holds the list of what was unpacked: a longer list unpacks again.
	[ "$(cat "$L1_KDIR/.done" 2>/dev/null)" = "$NESTED_MODULE_DIRS" ] && return 0
	local deb pats=() d
	deb=$(nested_fetch_deb "linux-image-$L1_KREL") || exit 2
	# Unpacked beside and renamed into place: other runs may be booting from the old copy.
	local tmp old
	tmp=$(mktemp -d "$NESTED_CACHE/kernel.XXXXXX")
	pats+=("./boot/vmlinuz-$L1_KREL")
	for d in $NESTED_MODULE_DIRS; do
		pats+=("./lib/modules/$L1_KREL/kernel/$d")
	done
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "${pats[@]}" ||
		nested_die "unpacking $deb failed"
	echo "$NESTED_MODULE_DIRS" >"$tmp/.done"
	chmod 755 "$tmp"
	if [ -e "$L1_KDIR" ]; then
		old="$NESTED_CACHE/kernel.old.$$"
		mv "$L1_KDIR" "$old"
		mv "$tmp" "$L1_KDIR"
		rm -rf "$old"
	else
		mv "$tmp" "$L1_KDIR"
	fi
}

# nested_prepare_busybox: unpack busybox-static once. Sets NESTED_BUSYBOX.
nested_prepare_busybox() {
	NESTED_BUSYBOX="$NESTED_CACHE/busybox/bin/busybox"
	[ -x "$NESTED_BUSYBOX" ] && return 0
	local deb
	deb=$(nested_fetch_deb busybox-static) || exit 2
	rm -rf "$NESTED_CACHE/busybox"
	mkdir -p "$NESTED_CACHE/busybox"
	dpkg-deb -x "$deb" "$NESTED_CACHE/busybox" || nested_die "unpacking $deb failed"
	[ -x "$NESTED_BUSYBOX" ] || nested_die "no bin/busybox in $deb"
}

# nested_module_order: print NESTED_MODULES and their dependencies, dependencies first,
# as paths relative to the kernel folder of L1_KDIR.
nested_module_order() {
	local kdir="$L1_KDIR/lib/modules/$L1_KREL/kernel"
	declare -A byname=() seen=()
	local f n
	while IFS= read -r f; do
		n=$(basename "$f" .ko)
		byname[${n//-/_}]=${f#"$kdir"/}
	done < <(find "$kdir" -name '*.ko')
	visit() {
		local rel=$1 dep
		[ -n "${seen[$rel]:-}" ] && return 0
		seen[$rel]=1
		for dep in $(modinfo -F depends "$kdir/$rel" | tr , ' '); do
			[ -n "${byname[${dep//-/_}]:-}" ] ||
				nested_die "module $rel needs $dep, which is not unpacked"
			visit "${byname[${dep//-/_}]}"
		done
		printf '%s\n' "$rel"
	}
	for f in $NESTED_MODULES; do
		[ -f "$kdir/$f" ] || nested_die "no module $f in linux-image-$L1_KREL"
		visit "$f"
	done
}

# nested_build_initramfs: (re)build $NESTED_CACHE/l1-$L1_KREL.cpio.gz when it is missing
# or older than l1-init.sh / this file. Sets L1_INITRD and L1_KERNEL.
nested_build_initramfs() {
	nested_prepare_kernel
	nested_prepare_busybox
	L1_KERNEL="$L1_KDIR/boot/vmlinuz-$L1_KREL"
	L1_INITRD="$NESTED_CACHE/l1-$L1_KREL.cpio.gz"
	if [ -f "$L1_INITRD" ] && [ "$L1_INITRD" -nt "$NESTED_DIR/l1-init.sh" ] &&
		[ "$L1_INITRD" -nt "$NESTED_DIR/lib.sh" ]; then
		return 0
	fi
	command -v cpio >/dev/null || nested_die "cpio is not installed"
	local st mods m a
	mods=$(nested_module_order) || exit 2
	st=$(mktemp -d "$NESTED_CACHE/stage.XXXXXX")
	mkdir -p "$st"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,lib/modules}
	install -m 0755 "$NESTED_BUSYBOX" "$st/bin/busybox"
	for a in $("$NESTED_BUSYBOX" --list); do
		[ "$a" = busybox ] || ln -s busybox "$st/bin/$a"
	done
	install -m 0755 "$NESTED_DIR/l1-init.sh" "$st/init"
	: >"$st/etc/l1-modules"
	for m in $mods; do
		install -D -m 0644 "$L1_KDIR/lib/modules/$L1_KREL/kernel/$m" \
			"$st/lib/modules/$L1_KREL/kernel/$m"
		echo "$m" >>"$st/etc/l1-modules"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$st/etc/passwd"
	echo 'root:x:0:' >"$st/etc/group"
	# gzip -1: L1 unpacks this under the emulator; most of it is already compressed.
	(cd "$st" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -1 -n >"$L1_INITRD.tmp" || nested_die "packing the L1 initramfs failed"
	mv "$L1_INITRD.tmp" "$L1_INITRD"
	rm -rf "$st"
	nested_log "built $L1_INITRD ($(stat -c %s "$L1_INITRD") bytes, L1 kernel $L1_KREL)"
}

# nested_job_new: make a fresh job folder and set NESTED_JOB. The folder holds cmd.sh (run
# by L1's /init), mounts ("TAG PATH ro|rw" per share), cwd, bin/ (put on L1's PATH), lib/
# (LD_LIBRARY_PATH, with the dynamic loader) and out/ (results; out/rc = exit status).
nested_job_new() {
	mkdir -p "$NESTED_CACHE/jobs"
	NESTED_JOB=$(mktemp -d "$NESTED_CACHE/jobs/job.XXXXXX")
	mkdir -p "$NESTED_JOB/bin" "$NESTED_JOB/lib" "$NESTED_JOB/out"
	: >"$NESTED_JOB/mounts"
	NESTED_SHARES=()
}

# nested_job_share HOSTDIR ro|rw: make HOSTDIR visible in L1 at the same absolute path.
nested_job_share() {
	local dir mode=$2 tag
	dir=$(cd "$1" && pwd -P) || nested_die "cannot share $1"
	tag="s${#NESTED_SHARES[@]}"
	NESTED_SHARES+=("$tag:$dir:$mode")
	echo "$tag $dir $mode" >>"$NESTED_JOB/mounts"
}

# nested_job_add_libs BINARY: copy BINARY's shared libraries (from ldd), the dynamic
# loader and libgcc_s.so.1 (glibc loads it at run time for thread cancellation; ldd does
# not list it) into the job's lib/.
nested_job_add_libs() {
	local bin=$1 lib gcc_s
	while read -r lib; do
		[ -f "$lib" ] && cp -L "$lib" "$NESTED_JOB/lib/"
	done < <(ldd "$bin" 2>/dev/null | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}')
	gcc_s=$(ldconfig -p 2>/dev/null | awk '/libgcc_s\.so\.1 .*x86-64/ {print $NF; exit}')
	if [ -n "$gcc_s" ] && [ ! -f "$NESTED_JOB/lib/libgcc_s.so.1" ]; then
		cp -L "$gcc_s" "$NESTED_JOB/lib/"
	fi
}

# nested_job_add_bin PATH [NAME]: copy an executable into the job's bin/ (on L1's PATH)
# together with its libraries.
nested_job_add_bin() {
	local src=$1 name=${2:-$(basename "$1")}
	[ -x "$src" ] || nested_die "$src: not an executable"
	cp -L "$src" "$NESTED_JOB/bin/$name"
	nested_job_add_libs "$src"
}

# nested_job_add_qemu: make qemu-system-x86_64 (with its libraries and the microvm
# firmware) runnable inside L1 as `qemu-system-x86_64 -L $NESTED_QEMU_DATA ...`.
nested_job_add_qemu() {
	local q f
	q=$(command -v "$QEMU") || nested_die "no $QEMU"
	nested_job_add_bin "$q" qemu-system-x86_64
	mkdir -p "$NESTED_JOB/qemu-data"
	for f in bios-microvm.bin qboot.rom linuxboot_dma.bin pvh.bin; do
		[ -f "/usr/share/qemu/$f" ] && cp -L "/usr/share/qemu/$f" "$NESTED_JOB/qemu-data/"
	done
}

# nested_watchdog STALL_S: (run in the background by nested_run_l1) kill this L1's QEMU,
# by the pid it wrote, when the job's out/heartbeat file has not changed for too long: an
# L1 whose kernel locked up must not hold the run until the overall timeout. The job
# refreshes out/heartbeat as it makes progress; its text is "NAME [LIMIT]": the running
# test, and how many seconds it may take (then the limit is LIMIT + 60, else STALL_S).
# On a kill, out/../stalled gets NAME.
nested_watchdog() {
	local stall=$1 hb="$NESTED_JOB/out/heartbeat" t0 last now pid name lim
	t0=$(date +%s)
	while sleep 5; do
		now=$(date +%s)
		last=$(stat -c %Y "$hb" 2>/dev/null || echo "$t0")
		[ "$last" -lt "$t0" ] && last=$t0
		name="" lim=""
		[ -f "$hb" ] && read -r name lim <"$hb"
		case "$lim" in
		'' | *[!0-9]*) lim=$stall ;;
		*) lim=$((lim + 60)) ;;
		esac
		if [ $((now - last)) -gt "$lim" ]; then
			pid=$(cat "$NESTED_JOB/qemu.pid" 2>/dev/null)
			echo "${name:-?}" >"$NESTED_JOB/stalled"
			[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
			return 0
		fi
	done
}

# nested_run_l1 TIMEOUT_S LOGFILE: boot L1 with the current job; L1's console goes to
# LOGFILE and (unless NESTED_QUIET=1) to stdout as it comes. Returns the job's exit status
# (from out/rc), 2 when L1 did not finish (did not boot, crashed, or timed out), or 3 when
# the watchdog (NESTED_STALL_S set) killed it; then $NESTED_JOB/stalled names the test.
nested_run_l1() {
	local tmo=$1 logf=$2 s tag dir mode rc qrc
	local args=(-accel tcg -M q35 -cpu "$L1_CPU" -smp 1 -m "$L1_MEM"
		-nodefaults -no-user-config -display none -no-reboot
		-serial stdio -monitor none
		-kernel "$L1_KERNEL" -initrd "$L1_INITRD"
		-virtfs "local,path=$NESTED_JOB,mount_tag=nestedjob,security_model=none,id=nestedjob")
	local append="console=ttyS0 panic=-1 l1.job=nestedjob"
	[ "${NESTED_VERBOSE:-0}" = 1 ] || append="$append loglevel=3"
	for s in "${NESTED_SHARES[@]}"; do
		IFS=: read -r tag dir mode <<<"$s"
		local ro=""
		[ "$mode" = ro ] && ro=",readonly=on"
		args+=(-virtfs "local,path=$dir,mount_tag=$tag,security_model=none,id=$tag$ro")
	done
	# --hostroot: the host's whole file system, read-only, for L1 to chroot into.
	[ -f "$NESTED_JOB/hostroot" ] &&
		args+=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,id=hostroot,readonly=on,multidevs=remap")
	rm -f "$NESTED_JOB/out/rc" "$NESTED_JOB/qemu.pid" "$NESTED_JOB/stalled"
	args+=(-pidfile "$NESTED_JOB/qemu.pid")
	local wd=""
	if [ -n "${NESTED_STALL_S:-}" ]; then
		nested_watchdog "$NESTED_STALL_S" &
		wd=$!
	fi
	# -smp 1: with two emulated CPUs (multi-threaded TCG) an L1 was seen to hang.
	# timeout kills only this QEMU; stdin is /dev/null so QEMU never reads the terminal.
	if [ "${NESTED_QUIET:-0}" = 1 ]; then
		timeout -k 5 "$tmo" "$QEMU" "${args[@]}" -append "$append" </dev/null 2>&1 |
			sed -u 's/\r//g' >"$logf"
	else
		timeout -k 5 "$tmo" "$QEMU" "${args[@]}" -append "$append" </dev/null 2>&1 |
			sed -u 's/\r//g' | tee "$logf"
	fi
	qrc=${PIPESTATUS[0]}
	[ -n "$wd" ] && kill "$wd" 2>/dev/null && wait "$wd" 2>/dev/null
	if [ -f "$NESTED_JOB/stalled" ]; then
		nested_log "L1 stopped responding during '$(cat "$NESTED_JOB/stalled")': killed"
		return 3
	fi
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		nested_log "L1 timed out after ${tmo}s and was killed (log: $logf)"
		return 2
	fi
	if [ ! -s "$NESTED_JOB/out/rc" ]; then
		nested_log "L1 ended (qemu status $qrc) without finishing the job (log: $logf)"
		return 2
	fi
	rc=$(head -c 16 "$NESTED_JOB/out/rc" | tr -cd '0-9')
	[ -n "$rc" ] || return 2
	return "$rc"
}

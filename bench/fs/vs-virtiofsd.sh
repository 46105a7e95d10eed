#!/bin/sh
# bench/fs/vs-virtiofsd.sh — issue #11's benchmark: the same guest kernel and workload
# (bench/fs/fsbench: create+stat+unlink of 10,000 files, ls -lR of a 10,000-entry tree
# from a cold cache, 4 KiB random reads, 1 MiB sequential write and read) on arcvmm's
# virtio-fs and on QEMU microvm with vhost-user-fs-device + Debian's virtiofsd
# (/usr/lib/qemu/virtiofsd, cache=auto; guest RAM a shared memfd), one after the other on
# one machine (in the nested L1 here: relative figures only).
#
#   ARCVMM=build/arcvmm GUEST_DIR=../shared/guest [WORK=/tmp/b] sh bench/fs/vs-virtiofsd.sh
#
# Prints each side's FSBENCH lines and "RATIO name arcvmm/virtiofsd x" (>1 means arcvmm
# is faster: inverse of time for metadata, throughput for data).
# Env: QEMU (qemu-system-x86_64), VIRTIOFSD (/usr/lib/qemu/virtiofsd), FSBENCH (default
# beside ARCVMM: guest-tools/fsbench), BT (s per run, 600).
ARCVMM=${ARCVMM:?set ARCVMM}
G=${GUEST_DIR:?set GUEST_DIR}
WORK=${WORK:-$(mktemp -d)}
QEMU=${QEMU:-qemu-system-x86_64}
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
FSBENCH=${FSBENCH:-$(dirname "$ARCVMM")/guest-tools/fsbench}
BT=${BT:-600}
QEMU_ACCEL=${QEMU_ACCEL:--enable-kvm -cpu host}
K=$G/minimal-vmlinux
mkdir -p "$WORK/a" "$WORK/q" "$WORK/root" || exit 2
cp "$FSBENCH" "$WORK/root/fsbench" || exit 2
(cd "$WORK/root" && echo fsbench | cpio -o -H newc --quiet -R 0:0 | gzip >../fsbench.cpio.gz)
cat "$G/minimal-initramfs.cpio.gz" "$WORK/fsbench.cpio.gz" >"$WORK/initrd"
gcmd='mount -t virtiofs bench /mnt && /fsbench meta /mnt 10000 && mkdir /mnt/t &&
/fsbench tree /mnt/t 10000 && /fsbench randread /mnt/rr 64 20000 && /fsbench seq /mnt/sq 256;
echo FSBENCH-DONE'
b64=$(printf '%s' "$gcmd" | base64 | tr -d '\n')
args="quiet guest.quiet=1 guest.cmd64=$b64"

timeout -s KILL "$BT" "$ARCVMM" --kernel "$K" --initrd "$WORK/initrd" --memory 1G --cpus 1 \
	--fs "$WORK/a,tag=bench" --cmdline "console=ttyS0 reboot=k panic=-1 $args" \
	</dev/null 2>"$WORK/arcvmm.err" | tr -d '\r' | grep '^FSBENCH' >"$WORK/arcvmm.out"

rm -f "$WORK/vfsd.sock"
"$VIRTIOFSD" --socket-path="$WORK/vfsd.sock" -o source="$WORK/q" -o cache=auto \
	>"$WORK/vfsd.log" 2>&1 &
vp=$!
i=0
while [ ! -S "$WORK/vfsd.sock" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
timeout -s KILL "$BT" "$QEMU" -M microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=off,memory-backend=mem \
	-object memory-backend-memfd,id=mem,size=1G,share=on $QEMU_ACCEL -m 1G -smp 1 \
	-global virtio-mmio.force-legacy=false \
	-nodefaults -no-user-config -nographic -no-reboot -serial stdio -kernel "$K" \
	-initrd "$WORK/initrd" -append "console=ttyS0 reboot=t panic=-1 $args" \
	-chardev socket,id=vfs,path="$WORK/vfsd.sock" \
	-device vhost-user-fs-device,chardev=vfs,tag=bench,queue-size=1024 \
	</dev/null 2>"$WORK/qemu.err" | tr -d '\r' | grep '^FSBENCH' >"$WORK/qemu.out"
kill $vp 2>/dev/null
sed 's/^/arcvmm    /' "$WORK/arcvmm.out"
sed 's/^/virtiofsd /' "$WORK/qemu.out"
grep -q FSBENCH-DONE "$WORK/arcvmm.out" || { echo "arcvmm run incomplete:"; tail -n 5 "$WORK/arcvmm.err"; }
grep -q FSBENCH-DONE "$WORK/qemu.out" || { echo "QEMU run incomplete:"; tail -n 5 "$WORK/qemu.err" "$WORK/vfsd.log"; }
awk 'NR == FNR { if ($3 != "") v[$2] = $3; next }
	$2 in v && $3 > 0 && v[$2] > 0 {
		r = ($4 == "s") ? $3 / v[$2] : v[$2] / $3
		printf "RATIO %s arcvmm/virtiofsd %.2f\n", $2, r }' "$WORK/arcvmm.out" "$WORK/qemu.out"

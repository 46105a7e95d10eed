#!/bin/sh
# tests/linux/fs.sh — virtio-fs shares seen by a Linux guest (POSIX sh; runs under busybox
# in the nested L1, or on a host with hardware KVM).
#
#   ARCVMM=build/arcvmm GUEST_DIR=../shared/guest WORK=/tmp/w sh tests/linux/fs.sh [TEST...]
#
# One boot of the minimal kernel (virtio-fs built in) with three shares:
#   rw  $WORK/share   (cache=auto, xattr=on, queues=2)
#   ro  $WORK/roshare (ro; it also carries the guest's script, guest.sh)
#   nc  $WORK/ncshare (cache=none)
# and build/guest-tools/fst appended to the initramfs. The guest mounts them with
# `mount -t virtiofs TAG DIR` and prints "FS-OK NAME" / "FS-FAIL NAME: why" per check; the
# host side checks what arrived in the host directories after the guest powered off.
#   fs-mount              all three shares mount
#   fs-create-read-write  a file written in the guest reads back, and on the host
#   fs-append-truncate    >> appends; truncate -s shrinks (host sees both)
#   fs-rename             mv within and across directories
#   fs-rename2            renameat2 RENAME_EXCHANGE swaps, RENAME_NOREPLACE refuses (fst)
#   fs-unlink-rmdir       rm, rmdir (non-empty refused)
#   fs-readdir-10000      10,000 files made in the guest: readdir and ls count 10,000, as
#                         does the host
#   fs-symlink            ln -s; readlink in the guest and on the host show the text
#   fs-hardlink           ln: link count 2 and one inode, in the guest and on the host
#   fs-chmod-utimes       chmod 751 and touch -d reach the host's inode
#   fs-fallocate          fallocate and punch hole (fst)
#   fs-seek-data          SEEK_DATA / SEEK_HOLE (fst)
#   fs-mmap-shared        MAP_SHARED writes, msync, drop caches, read back (fst); the host
#                         file holds them
#   fs-big-guest-to-host  FS_BIG_MIB (256) MiB generated in the guest: the guest's sha256sum
#                         equals the host's
#   fs-big-host-to-guest  FS_BIG_MIB MiB generated on the host: the guest's sha256sum of it
#                         equals the host's
#   fs-host-change-seen   while the guest runs the host creates a file and rewrites another:
#                         the guest sees both (cache=auto within 10 s; cache=none at once)
#   fs-escape             symlinks out of the share (absolute, relative, to a directory, via
#                         /proc), `..` past the mount, a guest symlink to / used for a write:
#                         the file outside is never read, nothing appears outside the share
#   fs-ro                 the ro share refuses create, write, rm, mkdir with EROFS
#   fs-fsx                xfstests' fsx (not written here; tests/fs/build-fsx.sh builds it
#                         statically into build/guest-tools/fsx) runs 10,000 random
#                         operations (read/write/mmap/truncate/fallocate/punch/zero/
#                         copy_range) on the rw share and reports no mismatch
#   fs-vmm-alive          arcvmm ends with the guest's power-off, status 0, no error lines
# Prints "ok NAME" / "FAIL NAME: why"; last line "N passed, N failed".
# Env: LT_TIMEOUT (s for the boot and checks, 480), FS_BIG_MIB (256), FST (the tool;
# default beside $ARCVMM).
# suite-timeout: 900
#
# Trusts: nothing the guest prints (only matched against patterns).

ARCVMM=${ARCVMM:?set ARCVMM to the arcvmm binary}
G=${GUEST_DIR:?set GUEST_DIR to the guest images}
WORK=${WORK:-$(mktemp -d)}
T=${LT_TIMEOUT:-480}
K=$G/minimal-vmlinux
I=$G/minimal-initramfs.cpio.gz
FST=${FST:-$(dirname "$ARCVMM")/guest-tools/fst}
FSX=${FSX:-$(dirname "$ARCVMM")/guest-tools/fsx}
BIG=${FS_BIG_MIB:-256}
ALL="fs-mount fs-create-read-write fs-append-truncate fs-rename fs-rename2 fs-unlink-rmdir fs-readdir-10000 fs-symlink fs-hardlink fs-chmod-utimes fs-fallocate fs-seek-data fs-mmap-shared fs-big-guest-to-host fs-big-host-to-guest fs-host-change-seen fs-escape fs-ro fs-vmm-alive"
# fs-fsx needs xfstests' fsx, which neither Debian nor this tree ships (tests/fs/build-fsx.sh
# builds it from a checkout): run it by name (sh tests/linux/fs.sh fs-fsx) where it is built.
mkdir -p "$WORK" || exit 2
. "$(dirname "$0")/runner.inc"

S=$WORK/share
RO=$WORK/roshare
NC=$WORK/ncshare
OUT=$WORK/outside
booted=0
C=$WORK/fs.console
E=$WORK/fs.stderr

write_guest_script() {
	cat >"$RO/guest.sh" <<EOF
ok() { echo "FS-OK \$1"; }
no() { echo "FS-FAIL \$1: \$2"; }
R=/mnt/rw; N=/mnt/nc
mkdir -p \$R \$N
mount -t virtiofs rw \$R && mount -t virtiofs nc \$N && ok fs-mount || no fs-mount "mount failed"
cd /tmp
# create / read / write
echo guest-wrote >\$R/created && [ "\$(cat \$R/created)" = guest-wrote ] && ok fs-create-read-write || no fs-create-read-write "readback"
# append / truncate
printf abc >\$R/app && printf def >>\$R/app && [ "\$(cat \$R/app)" = abcdef ] &&
	printf 0123456789 >\$R/trunc && truncate -s 4 \$R/trunc && [ "\$(cat \$R/trunc)" = 0123 ] &&
	ok fs-append-truncate || no fs-append-truncate "content \$(cat \$R/app) \$(cat \$R/trunc)"
# rename
mkdir \$R/d1 \$R/d2 && echo r >\$R/d1/a && mv \$R/d1/a \$R/d1/b && mv \$R/d1/b \$R/d2/c &&
	[ ! -e \$R/d1/b ] && [ "\$(cat \$R/d2/c)" = r ] && ok fs-rename || no fs-rename "mv"
/fst exchange \$R/x1 \$R/x2 >/tmp/o 2>&1 && /fst noreplace \$R/n1 \$R/n2 >>/tmp/o 2>&1 &&
	ok fs-rename2 || no fs-rename2 "\$(cat /tmp/o | tr '\n' ' ')"
# unlink / rmdir
mkdir \$R/rmd && touch \$R/rmd/f && ! rmdir \$R/rmd 2>/dev/null && rm \$R/rmd/f && rmdir \$R/rmd &&
	[ ! -e \$R/rmd ] && ok fs-unlink-rmdir || no fs-unlink-rmdir "rm/rmdir"
# 10,000 entries
mkdir \$R/many && /fst mkmany \$R/many 10000 >/tmp/o && c1=\$(/fst countdir \$R/many) &&
	c2=\$(ls \$R/many | wc -l) && [ "\$c1" = "FST countdir ok n=10000" ] && [ "\$c2" -eq 10000 ] &&
	ok fs-readdir-10000 || no fs-readdir-10000 "\$c1 ls=\$c2"
# symlink / hard link
ln -s some/where/../text \$R/sl && [ "\$(readlink \$R/sl)" = some/where/../text ] &&
	ok fs-symlink || no fs-symlink "readlink \$(readlink \$R/sl)"
echo hl >\$R/hl1 && ln \$R/hl1 \$R/hl2 && [ "\$(stat -c %h \$R/hl1)" = 2 ] &&
	[ "\$(stat -c %i \$R/hl1)" = "\$(stat -c %i \$R/hl2)" ] && ok fs-hardlink || no fs-hardlink "nlink \$(stat -c %h \$R/hl1)"
# chmod / utimes
echo m >\$R/modes && chmod 751 \$R/modes && touch -d "2001-02-03 04:05:06" \$R/modes &&
	[ "\$(stat -c %a \$R/modes)" = 751 ] && [ "\$(stat -c %Y \$R/modes)" = 981173106 ] &&
	ok fs-chmod-utimes || no fs-chmod-utimes "mode \$(stat -c '%a %Y' \$R/modes)"
/fst fallocate \$R/fa >/tmp/o 2>&1 && ok fs-fallocate || no fs-fallocate "\$(cat /tmp/o)"
/fst seekdata \$R/sd >/tmp/o 2>&1 && ok fs-seek-data || no fs-seek-data "\$(cat /tmp/o)"
/fst mmap \$R/mm >/tmp/o 2>&1 && ok fs-mmap-shared || no fs-mmap-shared "\$(cat /tmp/o)"
# big files both ways
/fst gen \$R/guestbig $BIG >/tmp/o 2>&1 && echo "FS-SUM guestbig \$(sha256sum \$R/guestbig | cut -d' ' -f1)" ||
	no fs-big-guest-to-host "\$(cat /tmp/o)"
echo "FS-SUM hostbig \$(sha256sum \$R/hostbig | cut -d' ' -f1)"
# escapes: nothing outside the share may be read or written
esc=0
for f in abs rel dirlink/secret proclink ../outside/secret; do
	if cat \$R/\$f 2>/dev/null | grep -q SECRET; then esc=1; echo "FS-ESCAPED read \$f"; fi
done
ln -s / \$R/toroot && echo x >\$R/toroot/tmp/pwned-root 2>/dev/null
ln -s .. \$R/up && echo x >\$R/up/pwned-up 2>/dev/null
echo x >\$R/abs 2>/dev/null
ls \$R/dirlink/ 2>/dev/null | grep -q secret && { esc=1; echo "FS-ESCAPED ls dirlink"; }
[ \$esc = 0 ] && ok fs-escape-guest || no fs-escape "guest read outside"
# fsx (if the initramfs has it)
if [ -x /fsx ]; then
	/fsx -N 10000 -q -S 1 \$R/fsxfile >/tmp/fsx.out 2>&1 && ok fs-fsx || no fs-fsx "\$(tail -n 3 /tmp/fsx.out | tr '\n' ' ')"
	tail -n 1 /tmp/fsx.out
else
	no fs-fsx "no /fsx in the initramfs"
fi
# ro share
ro=0
for op in "touch /mnt/ro/new" "mkdir /mnt/ro/nd" "rm -f /mnt/ro/guest.sh" "cp /mnt/ro/guest.sh /mnt/ro/g2"; do
	if \$op 2>/tmp/e; then ro=1; echo "FS-RO-ALLOWED \$op"; fi
	grep -q "Read-only file system" /tmp/e || { ro=1; echo "FS-RO-ERR \$op: \$(cat /tmp/e)"; }
done
(echo x >>/mnt/ro/guest.sh) 2>/tmp/e && ro=1
grep -q "Read-only" /tmp/e || ro=1
[ \$ro = 0 ] && ok fs-ro || no fs-ro "a change went through or the error was not EROFS"
# host-side changes while we run
ls \$R/from-host >/dev/null 2>&1
cat \$R/changing >/dev/null; cat \$N/changing >/dev/null
echo FS-WAIT-HOST
i=0; seen=0
while [ \$i -lt 60 ]; do
	[ -f /mnt/rw/host-done ] && break
	sleep 1; i=\$((i + 1))
done
n_ok=0; i=0
while [ \$i -lt 10 ]; do
	[ "\$(cat \$R/from-host 2>/dev/null)" = hello-from-host ] && [ "\$(cat \$R/changing)" = version-two-longer ] && { seen=1; break; }
	sleep 1; i=\$((i + 1))
done
[ "\$(cat \$N/changing)" = version-two-longer ] && n_ok=1
[ \$seen = 1 ] && [ \$n_ok = 1 ] && ok fs-host-change-seen || no fs-host-change-seen "auto=\$seen after \${i}s, none=\$n_ok: \$(cat \$R/changing) / \$(cat \$N/changing)"
echo nc-written >\$N/from-guest
sync
cd /
umount \$R && umount \$N && echo FS-UNMOUNTED
echo FS-GUEST-DONE
EOF
}

# The outside directory's entries and the secret's inode data (not "..": WORK changes).
outside_state() {
	ls -A "$OUT" | tr '\n' ' '
	stat -c '%s %Y %h %a' "$OUT/secret" "$OUT"
}

boot() {
	con=$C
	errf=$E
	[ $booted = 1 ] && return 0
	booted=1
	[ -x "$FST" ] || { echo "no $FST (make guest-tools)" >"$errf"; return 1; }
	rm -rf "$S" "$RO" "$NC" "$OUT"
	mkdir -p "$S" "$RO" "$NC" "$OUT" || return 1
	echo SECRET-OUTSIDE >"$OUT/secret"
	outside_before=$(outside_state)
	ln -s "$OUT/secret" "$S/abs"
	ln -s ../outside/secret "$S/rel"
	ln -s "$OUT" "$S/dirlink"
	ln -s "/proc/self/root$OUT/secret" "$S/proclink"
	echo version-one >"$S/changing"
	echo version-one >"$NC/changing"
	"$FST" gen "$S/hostbig" "$BIG" >/dev/null || return 1
	write_guest_script
	cat "$I" "$(dirname "$FST")/fst.cpio.gz" >"$WORK/initrd" || return 1
	if [ -x "$FSX" ]; then
		mkdir -p "$WORK/fsxroot" && cp "$FSX" "$WORK/fsxroot/fsx" &&
			(cd "$WORK/fsxroot" && echo fsx | cpio -o -H newc --quiet -R 0:0 | gzip >../fsx.cpio.gz) &&
			cat "$WORK/fsx.cpio.gz" >>"$WORK/initrd"
	fi
	gcmd="mkdir -p /mnt/ro && mount -t virtiofs ro /mnt/ro && sh /mnt/ro/guest.sh"
	b64=$(printf '%s' "$gcmd" | base64 | tr -d '\n')
	timeout -s KILL "$T" "$ARCVMM" --kernel "$K" --initrd "$WORK/initrd" --memory 768M \
		--fs "$S,tag=rw,xattr=on,queues=2" --fs "$RO,tag=ro,ro" --fs "$NC,tag=nc,cache=none" \
		--cmdline "console=ttyS0 reboot=k panic=-1 quiet guest.quiet=1 guest.cmd64=$b64" \
		</dev/null >"$con.raw" 2>"$errf" &
	vm=$!
	i=0
	while [ $i -lt "$T" ]; do
		grep -q FS-WAIT-HOST "$con.raw" 2>/dev/null && break
		kill -0 $vm 2>/dev/null || break
		sleep 1
		i=$((i + 1))
	done
	echo hello-from-host >"$S/from-host"
	echo version-two-longer >"$S/changing.new" && mv "$S/changing.new" "$S/changing"
	echo version-two-longer >"$NC/changing"
	: >"$S/host-done"
	wait $vm
	vm_rc=$?
	tr -d '\r' <"$con.raw" >"$con"
	grep '^FS-' "$con" | grep -v '^FS-OK' | sed 's/^/  /'
	return 0
}

guest_ok() { boot; grep -q "^FS-OK $1\$" "$con" || { why="guest: $(grep "^FS-FAIL $1" "$con" | head -n 1)"; return 1; }; }
host_is() { # host_is WHAT ACTUAL EXPECTED
	[ "$2" = "$3" ] || { why="host: $1 is '$2', expected '$3'"; return 1; }
}

t_fs_mount() { guest_ok fs-mount; }
t_fs_create_read_write() { guest_ok fs-create-read-write && host_is created "$(cat "$S/created")" guest-wrote; }
t_fs_append_truncate() { guest_ok fs-append-truncate && host_is app "$(cat "$S/app")" abcdef && host_is trunc "$(cat "$S/trunc")" 0123; }
t_fs_rename() { guest_ok fs-rename && host_is d2/c "$(cat "$S/d2/c")" r && [ ! -e "$S/d1/a" ]; }
t_fs_rename2() { guest_ok fs-rename2 && host_is x1 "$(cat "$S/x1")" BBB && host_is n2 "$(cat "$S/n2")" AAA; }
t_fs_unlink_rmdir() { guest_ok fs-unlink-rmdir && [ ! -e "$S/rmd" ] || { why="${why:-host: rmd still there}"; return 1; }; }
t_fs_readdir_10000() { guest_ok fs-readdir-10000 && host_is "host entries" "$(ls "$S/many" | wc -l | tr -d ' ')" 10000; }
t_fs_symlink() { guest_ok fs-symlink && host_is "host readlink" "$(readlink "$S/sl")" some/where/../text; }
t_fs_hardlink() { guest_ok fs-hardlink && host_is "host nlink" "$(stat -c %h "$S/hl1")" 2 && host_is "host inode" "$(stat -c %i "$S/hl2")" "$(stat -c %i "$S/hl1")"; }
t_fs_chmod_utimes() { guest_ok fs-chmod-utimes && host_is "host mode" "$(stat -c %a "$S/modes")" 751 && host_is "host mtime" "$(stat -c %Y "$S/modes")" 981173106; }
t_fs_fallocate() { guest_ok fs-fallocate; }
t_fs_seek_data() { guest_ok fs-seek-data; }
t_fs_mmap_shared() {
	guest_ok fs-mmap-shared || return 1
	# The host file holds the pattern: byte i = (i * 13 + 7) mod 256; check a few.
	for i in 0 1 4095 65535; do
		b=$(od -An -tu1 -j $i -N1 "$S/mm" | tr -d ' ')
		host_is "mm byte $i" "$b" $(((i * 13 + 7) % 256)) || return 1
	done
}
t_fs_big_guest_to_host() {
	boot
	g=$(sed -n 's/^FS-SUM guestbig \([0-9a-f]*\)$/\1/p' "$con")
	[ -n "$g" ] || { why="guest printed no checksum"; return 1; }
	host_is "sha256 of guestbig ($BIG MiB)" "$(sha256sum "$S/guestbig" | cut -d' ' -f1)" "$g"
}
t_fs_big_host_to_guest() {
	boot
	g=$(sed -n 's/^FS-SUM hostbig \([0-9a-f]*\)$/\1/p' "$con")
	[ -n "$g" ] || { why="guest printed no checksum"; return 1; }
	host_is "the guest's sha256 of hostbig ($BIG MiB)" "$g" "$(sha256sum "$S/hostbig" | cut -d' ' -f1)"
}
t_fs_host_change_seen() { guest_ok fs-host-change-seen && host_is "nc/from-guest" "$(cat "$NC/from-guest")" nc-written; }
t_fs_escape() {
	guest_ok fs-escape-guest || return 1
	host_is "outside dir" "$(outside_state)" "$outside_before" || return 1
	host_is secret "$(cat "$OUT/secret")" SECRET-OUTSIDE || return 1
	p=$(find "$WORK" -name 'pwned*' 2>/dev/null | grep -v "^$S/" | head -n 1)
	[ -z "$p" ] || { why="host: $p appeared outside the share"; return 1; }
	[ -L "$S/abs" ] || { why="host: the symlink abs was replaced"; return 1; }
}
t_fs_ro() { guest_ok fs-ro && [ ! -e "$RO/new" ] && [ ! -e "$RO/nd" ] && [ -f "$RO/guest.sh" ] || { why="${why:-host: the ro share changed}"; return 1; }; }
t_fs_fsx() { [ -x "$FSX" ] || { why="no $FSX (tests/fs/build-fsx.sh XFSTESTS_SRC $FSX)"; return 1; }; guest_ok fs-fsx; }
t_fs_vmm_alive() {
	boot
	grep -q FS-GUEST-DONE "$con" || { why="the guest script did not finish"; return 1; }
	grep -q FS-UNMOUNTED "$con" || { why="umount failed"; return 1; }
	[ "$vm_rc" = 0 ] || { why="arcvmm exit status $vm_rc"; return 1; }
	! grep -qi 'seccomp\|virtio-fs' "$errf" || { why="arcvmm stderr: $(head -n 3 "$errf")"; return 1; }
}

run_all "$@"

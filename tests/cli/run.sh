#!/bin/sh
# tests/cli/run.sh ARCVMM GUEST_DIR — bad input gets one clear line and a non-zero exit,
# nothing is left behind; good input (flags and JSON) boots the tiny hello guest.
# Runs on the machine's own KVM (tiny guests only). Prints "ok NAME"/"FAIL NAME" and a
# closing "N passed, N failed".
ARCVMM=${1:?usage: run.sh ARCVMM GUEST_DIR}
G=${2:?usage: run.sh ARCVMM GUEST_DIR}
HELLO=$G/hello.elf
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   cli: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL cli: $1"; sed 's/^/    | /' "$T/err" | head -20; }

# expect_error NAME PATTERN ARGS... : exit 1, exactly one stderr line matching PATTERN,
# nothing on stdout, no thread or file left behind.
expect_error() {
	name=$1 pat=$2
	shift 2
	"$ARCVMM" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	lines=$(wc -l <"$T/err")
	if [ "$rc" -ne 1 ]; then
		echo "exit status $rc, expected 1" >>"$T/err"; bad "$name"; return
	fi
	if [ "$lines" -ne 1 ] || ! grep -q -- "$pat" "$T/err"; then
		echo "expected one line matching: $pat" >>"$T/err"; bad "$name"; return
	fi
	if [ -s "$T/out" ]; then
		echo "unexpected stdout" >>"$T/err"; bad "$name"; return
	fi
	if ! grep -q '^arcvmm: ' "$T/err"; then
		echo "line does not start with 'arcvmm: '" >>"$T/err"; bad "$name"; return
	fi
	ok "$name"
}

# expect_boot NAME ARGS... : the hello guest runs, exit 0, its marker on stdout
expect_boot() {
	name=$1
	shift
	timeout 60 "$ARCVMM" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -ne 0 ] || ! grep -q 'GUEST-HELLO' "$T/out"; then
		echo "exit status $rc" >>"$T/err"; cat "$T/out" >>"$T/err"; bad "$name"; return
	fi
	ok "$name"
}

expect_error "no arguments" "no kernel"
expect_error "unknown flag" "--bogus: unknown option" --bogus --kernel "$HELLO"
expect_error "stray argument" "extra: unexpected argument" --kernel "$HELLO" extra
expect_error "cpus 0" "--cpus 0: a VM needs at least one vCPU" --kernel "$HELLO" --cpus 0
expect_error "cpus not a number" "--cpus two: not a number" --kernel "$HELLO" --cpus two
expect_error "cpus too many" "--cpus 100000: too many" --kernel "$HELLO" --cpus 100000
expect_error "memory too small" "--memory 8M: too small (minimum 16 MiB)" --kernel "$HELLO" --memory 8M
expect_error "memory 64k" "--memory 64k: too small" --kernel "$HELLO" --memory 64k
expect_error "memory above host" "more than the host" --kernel "$HELLO" --memory 64T
expect_error "memory garbage" "--memory lots: not a size" --kernel "$HELLO" --memory lots
expect_error "memory overflow" "--memory 99999999999999999999G" --kernel "$HELLO" --memory 99999999999999999999G
expect_error "missing value" "--memory: needs a value" --kernel "$HELLO" --memory
expect_error "missing kernel file" "--kernel $T/nope" --kernel "$T/nope"
expect_error "kernel is a directory" "--kernel $T: .*directory" --kernel "$T"
: >"$T/empty"
expect_error "empty kernel" "--kernel $T/empty: " --kernel "$T/empty"
echo "not a kernel at all, just text" >"$T/text"
expect_error "not a kernel" "--kernel $T/text: not a kernel" --kernel "$T/text"
expect_error "missing initrd" "--initrd $T/nope" --kernel "$HELLO" --initrd "$T/nope"
expect_error "bad boot protocol" "--boot xen: unknown protocol" --kernel "$HELLO" --boot xen
long=$(head -c 3000 /dev/zero | tr '\0' 'a')
expect_error "cmdline too long" "--cmdline: too long" --kernel "$HELLO" --cmdline "$long"
expect_error "bad disk option" "--disk x.img,fast: unknown option" --kernel "$HELLO" --disk x.img,fast
expect_error "missing config" "--config $T/none.json" --config "$T/none.json"
printf '{"boot-source": {"kernel_image_path": "%s"}, ' "$HELLO" >"$T/trunc.json"
expect_error "malformed json" "malformed JSON near line 1" --config "$T/trunc.json"
printf '{"boot-source": {"kernel_image_path": "%s"}, "machine-config": {"vcpu_count": 0}}' "$HELLO" >"$T/zero.json"
expect_error "json cpus 0" "vcpu_count 0: a VM needs at least one vCPU" --config "$T/zero.json"
printf '{"boot-source": {"kernel_image_path": "%s"}, "machine-config": {"vcpu_count": "2"}}' "$HELLO" >"$T/str.json"
expect_error "json wrong type" "\"vcpu_count\" must be a whole number" --config "$T/str.json"
printf '{"boot-source": {"kernel_image_path": "%s"}, "machin-config": {}}' "$HELLO" >"$T/typo.json"
expect_error "json unknown key" "unknown key \"machin-config\"" --config "$T/typo.json"
printf '{"machine-config": {"vcpu_count": 1}}' >"$T/nokernel.json"
expect_error "json without boot-source" "missing \"boot-source\"" --config "$T/nokernel.json"

# Devices: bad disks and network specs are refused before the VM starts.
expect_error "disk missing" "--disk $T/nope.img: No such file" --kernel "$HELLO" --disk "$T/nope.img"
expect_error "disk is a directory" "--disk $T: .*directory" --kernel "$HELLO" --disk "$T"
truncate -s 1000 "$T/odd.img"
expect_error "disk odd size" "--disk $T/odd.img: size 1000 is not a multiple of 512" --kernel "$HELLO" --disk "$T/odd.img"
expect_error "net malformed mac" "malformed MAC address" --kernel "$HELLO" --net user,mac=zz:00
expect_error "net fd not a socket" "--net fd=0: not a socket" --kernel "$HELLO" --net fd=0
expect_error "net fd not open" "--net fd=77" --kernel "$HELLO" --net fd=77
expect_error "net unknown backend" "--net bogus" --kernel "$HELLO" --net bogus
if command -v python3 >/dev/null; then
	python3 -c 'import socket,time,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(20)' >"$T/port" &
	holder=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/port" ] && break; sleep 0.2; done
	port=$(cat "$T/port")
	expect_error "hostfwd port in use" "$port" --kernel "$HELLO" --net "user,hostfwd=tcp:127.0.0.1:$port-:80"
	kill $holder 2>/dev/null
fi

# Host problems, each named: no /dev/kvm, no permission, not KVM at all, no permission
# for a TAP. (A private mount namespace hides or replaces /dev/kvm; setpriv drops root.)
if command -v unshare >/dev/null && command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	cp "$HELLO" "$T/hello.elf" && chmod 755 "$T" && chmod 644 "$T/hello.elf"
	unshare -m sh -c 'mount -t tmpfs none /dev && exec "$0" "$@"' "$ARCVMM" --kernel "$T/hello.elf" \
		--net none </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q '^arcvmm: /dev/kvm: not found' "$T/err"; then
		ok "host: no /dev/kvm"
	else echo "rc=$rc" >>"$T/err"; bad "host: no /dev/kvm"; fi
	: >"$T/notkvm"
	unshare -m sh -c 'mount --bind "$1" /dev/kvm && shift && exec "$@"' sh "$T/notkvm" "$ARCVMM" \
		--kernel "$T/hello.elf" --net none </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc = 1 ] && grep -q '^arcvmm: /dev/kvm: not a KVM device' "$T/err"; then
		ok "host: /dev/kvm is not KVM"
	else echo "rc=$rc" >>"$T/err"; bad "host: /dev/kvm is not KVM"; fi
	setpriv --reuid 65534 --regid 65534 --clear-groups "$ARCVMM" --kernel "$T/hello.elf" \
		--net none </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc = 1 ] && grep -q "^arcvmm: /dev/kvm: permission denied (add your user to the 'kvm' group" "$T/err"; then
		ok "host: no permission for /dev/kvm"
	else echo "rc=$rc" >>"$T/err"; bad "host: no permission for /dev/kvm"; fi
	setpriv --reuid 65534 --regid 65534 --clear-groups "$ARCVMM" --kernel "$T/hello.elf" \
		--net tap=arcnoperm0 </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc = 1 ] && grep -q '^arcvmm: --net tap=arcnoperm0: cannot open /dev/net/tun: Permission denied' "$T/err"; then
		ok "host: no permission for a TAP"
	else echo "rc=$rc" >>"$T/err"; bad "host: no permission for a TAP"; fi
fi
expect_error "tap name too long" "--net tap=averyveryverylongname123: interface name must be 1 to 15" \
	--kernel "$HELLO" --net tap=averyveryverylongname123
expect_error "memory-reclaim bogus" "--memory-reclaim bogus: unknown mode (auto, manual or off)" \
	--kernel "$HELLO" --balloon target=0 --memory-reclaim bogus

# virtio-fs shares (--fs): bad paths, tags and options get one line.
mkdir -p "$T/share" && : >"$T/share-file"
expect_error "fs: missing path" "--fs $T/nope,tag=a: $T/nope: does not exist" --kernel "$HELLO" --fs "$T/nope,tag=a"
expect_error "fs: not a directory" "--fs $T/share-file,tag=a: $T/share-file: is not a directory" --kernel "$HELLO" --fs "$T/share-file,tag=a"
expect_error "fs: duplicate tag" "tag a: already used by the share of $T/share" --kernel "$HELLO" --fs "$T/share,tag=a" --fs "$T/share,tag=a"
expect_error "fs: tag too long" "tag 0123456789012345678901234567890123456: too long (at most 36 bytes)" --kernel "$HELLO" --fs "$T/share,tag=0123456789012345678901234567890123456"
expect_error "fs: no tag" "needs tag=TAG" --kernel "$HELLO" --fs "$T/share"
expect_error "fs: bad cache" "cache=sometimes: must be none, auto or always" --kernel "$HELLO" --fs "$T/share,tag=a,cache=sometimes"
expect_error "fs: bad queues" "queues=99: must be 1 .. 15" --kernel "$HELLO" --fs "$T/share,tag=a,queues=99"
printf '{"boot-source": {"kernel_image_path": "%s"}, "fs": [{"path": "%s", "tag": "a"}, {"path": "%s", "tag": "a"}]}\n' \
	"$HELLO" "$T/share" "$T/share" >"$T/fs.json"
expect_error "fs: duplicate tag in json" "fs\[1\]: tag a: already used" --config "$T/fs.json"

# Good input.
expect_boot "flags boot hello" --kernel "$HELLO" --cpus 2 --memory 64M
printf '{"boot-source": {"kernel_image_path": "%s", "boot_args": "from json"},
 "machine-config": {"vcpu_count": 2, "mem_size_mib": 128}}\n' "$HELLO" >"$T/vm.json"
expect_boot "json boots hello" --config "$T/vm.json"
if grep -q 'GUEST-CMDLINE.* from json$' "$T/out"; then ok "json boot_args reach the guest"; else
	cat "$T/out" >"$T/err"; bad "json boot_args reach the guest"; fi
expect_boot "flags override json" --config "$T/vm.json" --cmdline "from flags"
if grep -q 'GUEST-CMDLINE.* from flags$' "$T/out"; then ok "flag overrides json cmdline"; else
	cat "$T/out" >"$T/err"; bad "flag overrides json cmdline"; fi
if grep -q '^arcvmm: guest reset (i8042)$' "$T/err"; then ok "one-line exit reason"; else
	bad "one-line exit reason"; fi
# Device discovery: ACPI (DSDT) by default, virtio_mmio.device= fragments without ACPI.
expect_boot "acpi: no cmdline fragments" --kernel "$HELLO"
if grep -q 'virtio_mmio.device=' "$T/out"; then cat "$T/out" >"$T/err"; bad "acpi: no cmdline fragments"; fi
expect_boot "no-acpi: cmdline fragments" --kernel "$HELLO" --no-acpi --net none
if ! grep -q 'GUEST-CMDLINE virtio_mmio.device=4K@0xd0000000:5 console=ttyS0' "$T/out"; then
	cat "$T/out" >"$T/err"; bad "no-acpi: cmdline fragments"; fi
expect_boot "fs: two shares, the guest boots" --kernel "$HELLO" --fs "$T/share,tag=a" --fs "$T/share,tag=b,ro,cache=none,queues=2"
"$ARCVMM" --help >"$T/out" 2>"$T/err" && grep -q -- '--kernel FILE' "$T/out" && ok "--help" || bad "--help"

# Signals stop a running VM cleanly (exit 128+N, reason line, vCPU threads joined):
# spin.elf halts its vCPUs forever inside KVM_RUN, so the kick path is what stops them.
# SIGTERM first presses the ACPI power button; --shutdown-timeout 0 makes it a hard stop.
# start_spin ARGS...: arcvmm on spin.elf in the background, $pid, once GUEST-SPIN is out
start_spin() {
	# A background job of a non-interactive shell starts with SIGINT ignored, and arcvmm
	# (like any program) leaves an ignored SIGINT ignored: restore the default first.
	env --default-signal=INT,QUIT "$ARCVMM" --kernel "$G/spin.elf" "$@" </dev/null >"$T/out" 2>"$T/err" &
	pid=$!
	for _ in $(seq 50); do grep -q GUEST-SPIN "$T/out" && break; sleep 0.1; done
}
for sig in TERM:15 INT:2 HUP:1 QUIT:3; do
	num=${sig#*:}
	sig=${sig%:*}
	start_spin --cpus 2 --shutdown-timeout 0
	kill -$sig $pid
	wait $pid
	rc=$?
	want=$((128 + num))
	if [ "$rc" -eq "$want" ] && grep -q '^arcvmm: stopped by ' "$T/err" && grep -q GUEST-SPIN "$T/out"; then
		ok "SIG$sig stops the VM"
	else
		echo "rc=$rc, expected $want" >>"$T/err"; cat "$T/out" >>"$T/err"; bad "SIG$sig stops the VM"
	fi
done
# The graceful path: spin.elf has no ACPI driver, so the power button goes unanswered and
# the hard stop follows after the timeout; a second SIGTERM cuts the wait short.
start_spin --shutdown-timeout 1.5
t0=$(date +%s%N)
kill -TERM $pid
wait $pid
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$rc" -eq 143 ] && [ "$ms" -ge 1400 ] && grep -q '^arcvmm: the guest did not power off in time: stopping it$' "$T/err"; then
	ok "SIGTERM: power button, then a hard stop after --shutdown-timeout (${ms} ms)"
else
	echo "rc=$rc after $ms ms" >>"$T/err"; bad "SIGTERM: power button, then a hard stop after --shutdown-timeout"
fi
start_spin
t0=$(date +%s%N)
kill -TERM $pid
sleep 0.3
kill -TERM $pid
wait $pid
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$rc" -eq 143 ] && [ "$ms" -lt 5000 ] && ! grep -q 'did not power off in time' "$T/err"; then
	ok "a second SIGTERM stops at once (${ms} ms)"
else
	echo "rc=$rc after $ms ms" >>"$T/err"; bad "a second SIGTERM stops at once"
fi
expect_error "bad --shutdown-timeout" "--shutdown-timeout soon: want seconds from 0 to 86400" --kernel "$HELLO" --shutdown-timeout soon
"$ARCVMM" --help >"$T/out" 2>"$T/err" && grep -q -- '--shutdown-timeout S' "$T/out" && grep -q 'Exit status' "$T/out" &&
	ok "--help lists the command's own options" || bad "--help lists the command's own options"

# seccomp: the test hook makes a thread of the named kind call getppid(), which is in no
# allow-list: with the default (on) the process dies with one line naming the thread and
# the call; with log it is let through; with off nothing is installed.
for kind in vcpu control; do
	ARCVMM_TEST_SECCOMP_VIOLATE=$kind timeout 60 "$ARCVMM" --kernel "$HELLO" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq 159 ] && grep -q "^arcvmm: seccomp: thread .* ($kind) made forbidden syscall [0-9]* (getppid); killing the VM$" "$T/err"; then
		ok "seccomp: a $kind thread's forbidden call kills the VM"
	else
		echo "rc=$rc, expected 159" >>"$T/err"; bad "seccomp: a $kind thread's forbidden call kills the VM"
	fi
	ARCVMM_TEST_SECCOMP_VIOLATE=$kind expect_boot "seccomp=log: a $kind thread's call goes on" --kernel "$HELLO" --seccomp log
	ARCVMM_TEST_SECCOMP_VIOLATE=$kind expect_boot "seccomp=off: no $kind filter" --kernel "$HELLO" --seccomp=off
done
expect_error "bad seccomp mode" "--seccomp maybe: must be off, log or on" --kernel "$HELLO" --seccomp maybe

# --jail (root only): the guest boots inside; the jailed process is PID 1 of its own PID
# namespace, runs as 65534 with no capabilities, sees only dev/ and files/, and SIGTERM to
# arcvmm reaches it (exit 143); nothing stays mounted on the host.
if [ "$(id -u)" = 0 ]; then
	J=$T/jail
	mkdir -p "$J"
	cp "$HELLO" "$T/hello-j.elf" && cp "$G/spin.elf" "$T/spin-j.elf" && chmod 644 "$T"/*-j.elf
	expect_boot "jail: the guest boots" --jail "$J" --kernel "$T/hello-j.elf" --net none
	if [ ! -s "$J/files/0-hello-j.elf" ]; then ok "jail: no mount left on the host"; else bad "jail: no mount left on the host"; fi
	rm -rf "$J"; mkdir -p "$J"
	"$ARCVMM" --jail "$J" --kernel "$T/spin-j.elf" --net none </dev/null >"$T/out" 2>"$T/err" &
	jp=$!
	child=""
	for _ in $(seq 50); do child=$(pgrep -P $jp | head -1); [ -n "$child" ] && grep -q '^Uid:.*65534' /proc/$child/status 2>/dev/null && break; sleep 0.1; done
	sleep 0.5
	st=/proc/$child/status
	root=$(ls -A /proc/$child/root 2>/dev/null | tr '\n' ' ')
	if [ -n "$child" ] && grep -q '^Uid:[[:space:]]*65534[[:space:]]*65534' $st && grep -q '^Gid:[[:space:]]*65534' $st &&
		grep -q '^CapEff:[[:space:]]*0000000000000000' $st && grep -q '^CapPrm:[[:space:]]*0000000000000000' $st &&
		grep -q '^NSpid:.*[[:space:]]1$' $st && grep -q '^NoNewPrivs:[[:space:]]*1' $st && [ "$root" = "dev files " ]; then
		ok "jail: PID 1 as 65534, no capabilities, only dev/ and files/"
	else
		echo "child=$child root='$root'" >>"$T/err"; cat $st >>"$T/err" 2>/dev/null; bad "jail: PID 1 as 65534, no capabilities, only dev/ and files/"
	fi
	kill -TERM $jp
	wait $jp
	rc=$?
	sleep 0.3
	if [ "$rc" -eq 143 ] && ! kill -0 "$child" 2>/dev/null; then ok "jail: SIGTERM reaches the jailed VM"; else echo "rc=$rc" >>"$T/err"; bad "jail: SIGTERM reaches the jailed VM"; fi
	expect_error "jail: not a directory" "--jail $T/none: not a directory" --jail "$T/none" --kernel "$HELLO"
	expect_error "jail: uid 0 refused" "--jail-uid 0: must be a uid/gid from 1" --jail "$J" --jail-uid 0 --kernel "$HELLO"
fi

# --huge-pages 2M: RAM on hugetlbfs pages, reserved at start (needs root to size the pool;
# the pool is put back as it was).
expect_error "huge pages: bad value" "--huge-pages 1G: must be none or 2M" --kernel "$HELLO" --huge-pages 1G
expect_error "huge pages: size not 2 MiB aligned" "--huge-pages 2M: --memory 66564 KiB is not a multiple of 2 MiB" --kernel "$HELLO" --memory 66564K --huge-pages 2M
HP=/proc/sys/vm/nr_hugepages
hp_field() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
if [ "$(id -u)" = 0 ] && [ -w "$HP" ]; then
	hp_old=$(cat "$HP")
	echo 0 >"$HP"
	if [ "$(hp_field HugePages_Free)" = 0 ]; then
		expect_error "huge pages: pool too small" "--huge-pages 2M: cannot reserve 32 huge pages of 2 MiB" --kernel "$HELLO" --memory 64M --huge-pages 2M
	fi
	echo $((hp_old + 40)) >"$HP"
	used0=$(($(hp_field HugePages_Total) - $(hp_field HugePages_Free) + $(hp_field HugePages_Rsvd)))
	"$ARCVMM" --kernel "$G/spin.elf" --net none --memory 64M --huge-pages 2M </dev/null >"$T/out" 2>"$T/err" &
	hp_pid=$!
	sleep 1
	used1=$(($(hp_field HugePages_Total) - $(hp_field HugePages_Free) + $(hp_field HugePages_Rsvd)))
	kill "$hp_pid" 2>/dev/null
	wait "$hp_pid" 2>/dev/null
	if [ $((used1 - used0)) -eq 32 ]; then
		ok "huge pages: 64 MiB guest holds 32 huge pages"
	else
		echo "huge pages in use before $used0, while running $used1" >>"$T/err"
		bad "huge pages: 64 MiB guest holds 32 huge pages"
	fi
	expect_boot "huge pages: hello boots on 2 MiB pages" --kernel "$HELLO" --memory 64M --huge-pages 2M
	printf '{"boot-source":{"kernel_image_path":"%s"},"machine-config":{"vcpu_count":1,"mem_size_mib":64,"huge_pages":"2M"}}' "$HELLO" >"$T/hp.json"
	expect_boot "huge pages: json machine-config huge_pages 2M" --config "$T/hp.json"
	echo "$hp_old" >"$HP"
fi

# A terminal: raw mode while the VM runs (Ctrl-A x reaches arcvmm without a newline, and
# Ctrl-C goes to the guest instead of killing arcvmm), the saved mode back on every exit.
if command -v script >/dev/null; then
	(sleep 1.5; printf '\003'; sleep 0.5; printf '\001x'; sleep 1) |
		timeout 30 script -qefc "$ARCVMM --kernel $G/spin.elf --net none; echo rc=\$?; stty -a" \
			/dev/null 2>&1 | tr -d '\r' >"$T/err"
	if grep -q '^arcvmm: stopped from the console (Ctrl-A x)$' "$T/err" && grep -q '^rc=4$' "$T/err" &&
		grep -qw icanon "$T/err" && grep -qw echo "$T/err" && ! grep -qw -- -icanon "$T/err"; then
		ok "tty: raw while running, restored after Ctrl-A x"
	else
		bad "tty: raw while running, restored after Ctrl-A x"
	fi
	(sleep 1.5; printf 'x'; sleep 1) |
		timeout 30 script -qefc "sh -c '$ARCVMM --kernel $G/spin.elf --net none 0<&0 & p=\$!; sleep 1; kill -TERM \$p; wait \$p; echo rc=\$?; stty -a'" \
			/dev/null 2>&1 | tr -d '\r' >"$T/err"
	if grep -q '^rc=143$' "$T/err" && grep -qw icanon "$T/err" && ! grep -qw -- -icanon "$T/err"; then
		ok "tty: restored after SIGTERM"
	else
		bad "tty: restored after SIGTERM"
	fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

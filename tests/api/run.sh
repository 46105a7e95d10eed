#!/usr/bin/env bash
# tests/api/run.sh — the Firecracker-compatible REST API, driven by real HTTP clients
# (curl --unix-socket, and Python's http.client in hostile.py) against `arcvmm --api-sock`
# booting the tiny tick guest: pre-boot configuration and its refusals, InstanceStart,
# pause/resume seen in the guest's output, metrics, run-time PATCHes, post-boot refusals,
# the socket's life cycle, and hostile clients.
#   tests/api/run.sh ARCVMM GUEST_DIR
set -u
ARCVMM=$(realpath "${1:?usage: run.sh ARCVMM GUEST_DIR}")
G=$(realpath "${2:?usage: run.sh ARCVMM GUEST_DIR}")
cd "$(dirname "$0")"
pass=0
fail=0
T=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$T"' EXIT
pid=
S=$T/api.sock
ok() { echo "ok   api: $1"; pass=$((pass + 1)); }
bad() {
	echo "FAIL api: $1"
	for f in resp err; do [ -s "$T/$f" ] && sed 's/^/    | /' "$T/$f" | tail -15; done
	fail=$((fail + 1))
}

# api METHOD PATH [JSON]: the status code in $code, the body in $T/resp
api() {
	local args=(-s -o "$T/resp" -w '%{http_code}' --unix-socket "$S" -X "$1" "http://localhost$2")
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' -d "$3")
	code=$(curl --max-time 10 "${args[@]}")
}
# expect NAME CODE [PATTERN]: the last reply had CODE and (if given) matches PATTERN
expect() {
	if [ "$code" = "$2" ] && { [ $# -lt 3 ] || grep -q -- "$3" "$T/resp"; }; then ok "$1"; else
		echo "got $code, expected $2 ${3:-}" >>"$T/resp"; bad "$1"; fi
}
start_api() {
	"$ARCVMM" --api-sock "$S" --shutdown-timeout 0 "$@" </dev/null >"$T/out" 2>"$T/err" &
	pid=$!
	for _ in $(seq 50); do [ -S "$S" ] && break; sleep 0.1; done
}
size() { stat -c %s "$T/out"; }

start_api
api GET /
expect "GET / before boot: Not started" 200 '"state":"Not started"'
grep -q '"app_name":"arcvmm"' "$T/resp" && grep -q '"id":"anonymous-instance"' "$T/resp" &&
	ok "GET / names app and id" || bad "GET / names app and id"
api GET /version
expect "GET /version" 200 '"firecracker_version"'
api PUT /actions '{"action_type": "InstanceStart"}'
expect "InstanceStart without a kernel is refused" 400 'without kernel configuration'
api PUT /boot-source '{"kernel_image_path": "/nonexistent/vmlinux"}'
expect "boot-source: a missing kernel file" 400 'kernel_image_path /nonexistent/vmlinux: No such file'
api PUT /boot-source '{"kernel_image_path": "'"$G/tick.elf"'", "frobnicate": 1}'
expect "boot-source: an unknown field" 400 'frobnicate'
api PUT /boot-source '{"kernel_image_path": "'"$G/tick.elf"'"}'
expect "PUT /boot-source" 204
api PUT /machine-config '{"vcpu_count": 0, "mem_size_mib": 64}'
expect "machine-config: 0 vCPUs refused" 400 'fault_message'
api PUT /machine-config '{"vcpu_count": 2}'
expect "machine-config: PUT needs both fields" 400 'mem_size_mib'
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64, "smt": false, "cpu_template": "None"}'
expect "PUT /machine-config (Firecracker client fields)" 204
api PATCH /machine-config '{"mem_size_mib": 96}'
expect "PATCH /machine-config" 204
api GET /machine-config
expect "GET /machine-config shows the patch" 200 '"mem_size_mib":96'
truncate -s 8M "$T/disk.img"
api PUT /drives/rootfs '{"drive_id": "other", "path_on_host": "'"$T/disk.img"'", "is_root_device": true, "is_read_only": false}'
expect "drives: path and body ids differ" 400 'does not match'
api PUT /drives/bad.id '{"drive_id": "bad.id", "path_on_host": "'"$T/disk.img"'", "is_root_device": false}'
expect "drives: an id with a dot" 400 'Invalid drive id'
api PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "'"$T/none.img"'", "is_root_device": true}'
expect "drives: a missing image" 400 'none.img: No such file'
api PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "'"$T/disk.img"'", "is_root_device": true, "is_read_only": false}'
expect "PUT /drives/rootfs" 204
api PUT /drives/second '{"drive_id": "second", "path_on_host": "'"$T/disk.img"'", "is_root_device": true, "is_read_only": true}'
expect "drives: a second root device is refused" 400 'root block device already exists'
api PATCH /vm '{"state": "Paused"}'
expect "PATCH /vm before boot is refused" 400 'not supported before starting'
api PUT /metrics '{"metrics_path": "'"$T/metrics"'"}'
expect "PUT /metrics" 204
api PUT /metrics '{"metrics_path": "'"$T/metrics2"'"}'
expect "metrics cannot be set twice" 400 'Reinitialization'
api PUT /logger '{"log_path": "'"$T/log"'", "level": "Info"}'
expect "PUT /logger" 204
api PUT /vsock '{"guest_cid": 3, "uds_path": "'"$T/v.sock"'"}'
expect "PUT /vsock (before boot)" 204
api GET /nothing
expect "an unknown path" 400 'Invalid request method and/or path'
api DELETE /
expect "an unknown method" 400 'Invalid request method and/or path'

api PUT /actions '{"action_type": "InstanceStart"}'
expect "InstanceStart" 204
for _ in $(seq 100); do grep -q GUEST-TICK "$T/out" && break; sleep 0.1; done
grep -q GUEST-TICK "$T/out" && ok "the guest runs (GUEST-TICK on stdout)" || bad "the guest runs"
api GET /
expect "GET /: Running" 200 '"state":"Running"'
api PUT /actions '{"action_type": "InstanceStart"}'
expect "a second InstanceStart is refused" 400 'not supported after starting'
api PUT /boot-source '{"kernel_image_path": "'"$G/tick.elf"'"}'
expect "PUT /boot-source after boot is refused" 400 'not supported after starting'
api PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "'"$T/disk.img"'", "is_root_device": true}'
expect "PUT /drives after boot is refused" 400 'not supported after starting'

api PATCH /vm '{"state": "Paused"}'
expect "PATCH /vm Paused" 204
api GET /
expect "GET /: Paused" 200 '"state":"Paused"'
sleep 0.2
s0=$(size)
sleep 0.8
s1=$(size)
[ "$s0" -eq "$s1" ] && ok "a paused guest prints nothing ($s0 = $s1 bytes)" ||
	{ echo "$s0 -> $s1" >"$T/resp"; bad "a paused guest prints nothing"; }
api PATCH /vm '{"state": "Paused"}'
expect "pausing twice is refused with the reason" 400 'paused'
api PATCH /vm '{"state": "Running"}'
expect "PATCH /vm with a bad state" 400 'Paused'
api PUT /actions '{"action_type": "FlushMetrics"}'
expect "FlushMetrics" 204
if python3 -c '
import json, sys
m = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert m["state"] == "Paused" and m["vm"]["pauses"] == 1 and m["vm"]["vcpus"] == 2
assert m["block"][0]["drive_id"] == "rootfs" and len(m["vcpu"]) == 2
' "$T/metrics" 2>"$T/resp"; then ok "the metrics line: state, pauses, vCPUs, drive"; else bad "the metrics line"; fi
api PATCH /vm '{"state": "Resumed"}'
expect "PATCH /vm Resumed" 204
s0=$(size)
sleep 1
s1=$(size)
[ "$s1" -gt "$s0" ] && ok "the guest prints again after the resume ($s0 -> $s1 bytes)" ||
	{ echo "$s0 -> $s1" >"$T/resp"; bad "the guest prints again after the resume"; }
api PATCH /drives/rootfs '{"drive_id": "rootfs", "rate_limiter": {"bandwidth": {"size": 1048576, "refill_time": 1000}, "ops": {"size": 100, "refill_time": 1000}}}'
expect "PATCH /drives rate_limiter at run time" 204
api PATCH /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "/etc/passwd"}'
expect "PATCH /drives path_on_host is refused" 400 'cannot be changed after boot'
api PATCH /drives/nope '{"drive_id": "nope", "rate_limiter": {}}'
expect "PATCH /drives on an unknown drive" 400 'no drive with id'
api PATCH /drives/rootfs '{"drive_id": "rootfs", "rate_limiter": {"bandwidth": {"size": -5}}}'
expect "PATCH /drives with a negative bucket" 400 'whole number'
api GET /vm/config
expect "GET /vm/config" 200 '"drives":\[{"drive_id":"rootfs"'
api GET /arcvmm/metrics
expect "GET /arcvmm/metrics (arcvmm's own)" 200 '"resumes":1'
api GET /balloon
expect "GET /balloon without one" 400 'No balloon'
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
expect "SendCtrlAltDel" 204

# The hostile clients, against this running VM.
if python3 ./hostile.py "$S" >"$T/resp" 2>&1; then
	ok "hostile clients ($(grep -c '^ok' "$T/resp") checks)"
else
	grep -v '^ok' "$T/resp" >"$T/err"
	bad "hostile clients"
fi
s0=$(size)
sleep 0.5
[ "$(size)" -gt "$s0" ] && ok "the guest ran on through the hostile clients" || bad "the guest ran on through the hostile clients"

# A second arcvmm on the same live socket is refused; the first serves on.
"$ARCVMM" --api-sock "$S" </dev/null >/dev/null 2>"$T/err2"
rc=$?
[ "$rc" -eq 1 ] && grep -q 'another process is serving on it' "$T/err2" &&
	ok "a live socket is not taken over" || { cat "$T/err2" >"$T/err"; bad "a live socket is not taken over"; }
api GET /
expect "the first server still answers" 200 '"state":"Running"'

kill -TERM $pid
wait $pid
rc=$?
[ "$rc" -eq 143 ] && [ ! -e "$S" ] && ok "SIGTERM: exit 143, socket removed" ||
	{ echo "rc=$rc" >>"$T/err"; bad "SIGTERM: exit 143, socket removed"; }
grep -q 'arcvmm' "$T/log" 2>/dev/null && ok "PUT /logger: the log file has the library's lines" ||
	{ echo "log: $(cat "$T/log" 2>/dev/null)" >"$T/resp"; bad "PUT /logger: the log file has the library's lines"; }

# A stale socket file (nobody serving) is replaced; the guest ending ends the process.
rm -f "$S"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$S"
start_api
api PUT /boot-source '{"kernel_image_path": "'"$G/hello.elf"'"}'
expect "a stale socket file is replaced" 204
api PUT /actions '{"action_type": "InstanceStart"}'
expect "InstanceStart (a guest that powers off)" 204
wait $pid
rc=$?
[ "$rc" -eq 0 ] && [ ! -e "$S" ] && ok "the guest's power-off ends arcvmm: exit 0, socket removed" ||
	{ echo "rc=$rc" >>"$T/err"; bad "the guest's power-off ends arcvmm"; }

# --api-sock with --kernel boots at once and serves the running VM.
start_api --kernel "$G/tick.elf" --net none --id vm-42 --metrics-path "$T/m2"
api GET /
expect "--kernel with --api-sock boots at once; --id" 200 '"id":"vm-42","state":"Running"'
kill -TERM $pid
wait $pid
if python3 -c '
import json, sys
m = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert m["state"] == "Stopped" and m["api"]["requests"] >= 1, m
' "$T/m2" 2>"$T/resp"; then ok "--metrics-path: a last line at the end, with the API counters"; else
	bad "--metrics-path: a last line at the end"; fi
# Not started, then SIGTERM: exits 143 without a VM.
start_api
kill -TERM $pid
wait $pid
rc=$?
[ "$rc" -eq 143 ] && [ ! -e "$S" ] && ok "SIGTERM before InstanceStart: exit 143, socket removed" ||
	{ echo "rc=$rc" >>"$T/err"; bad "SIGTERM before InstanceStart"; }
pid=

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

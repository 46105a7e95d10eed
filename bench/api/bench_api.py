#!/usr/bin/env python3
"""bench/api/bench_api.py ARCVMM GUEST_DIR [ROUNDS] — the control plane side by side with
QEMU's (microvm + QMP), on the same tiny guest (tick.elf: busy in a loop, printing dots).

  startup    exec -> the control socket accepts (wall ms and the process's CPU ms then);
             "start" -> the guest's first console byte (arcvmm: PUT /actions InstanceStart;
             QEMU: started with -S, then QMP "cont")
  pause      PATCH /vm Paused / Resumed vs QMP stop / cont, timed by the client: p50, p99
  requests   sequential GET / on one keep-alive connection vs QMP query-status: per second
  memory     VmRSS of each VMM with the guest running; arcvmm waiting for InstanceStart
             (the API alone) and running without the API

Prints one line per figure with the arcvmm/QEMU ratio. Timing is a measurement, never an
assert: run it on an idle machine, twice."""
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ARCVMM, GUESTS = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 200
TICK = os.path.join(GUESTS, "tick.elf")
QEMU = "qemu-system-x86_64"
TMP = tempfile.mkdtemp()


def cpu_ms(pid):
    """CPU time of every thread of pid so far (schedstat: ns on CPU)."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e6


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_connect(path, timeout=10):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            time.sleep(0.0005)
    raise RuntimeError("no socket at " + path)


def first_byte(proc, timeout=10):
    os.set_blocking(proc.stdout.fileno(), True)
    return proc.stdout.read(1)


class Unix(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def api(conn, method, url, body=None):
    conn.request(method, url, body=json.dumps(body) if body is not None else None)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, url, r.status, data))
    return data


class QMP:
    def __init__(self, sock):
        self.s = sock
        self.f = sock.makefile("rwb")
        self.read()  # greeting
        self.cmd("qmp_capabilities")

    def read(self):
        while True:
            m = json.loads(self.f.readline())
            if "event" not in m:
                return m

    def cmd(self, name):
        self.f.write(json.dumps({"execute": name}).encode() + b"\n")
        self.f.flush()
        m = self.read()
        if "error" in m:
            raise RuntimeError(str(m))
        return m


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def start_arcvmm(sock):
    if os.path.exists(sock):
        os.unlink(sock)
    t0 = time.monotonic()
    p = subprocess.Popen([ARCVMM, "--api-sock", sock, "--shutdown-timeout", "0"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    s = wait_connect(sock)
    t_ready = time.monotonic() - t0
    cpu = cpu_ms(p.pid)
    s.close()
    return p, t_ready * 1000, cpu


def start_qemu(sock):
    if os.path.exists(sock):
        os.unlink(sock)
    t0 = time.monotonic()
    p = subprocess.Popen([QEMU, "-M", "microvm,x-option-roms=off,rtc=off,acpi=off",
                          "-enable-kvm", "-cpu", "host,-arch-capabilities", "-m", "64",
                          "-nodefaults", "-no-user-config", "-display", "none", "-S",
                          "-serial", "stdio", "-kernel", TICK,
                          "-qmp", "unix:%s,server=on,wait=off" % sock],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    s = wait_connect(sock)
    q = QMP(s)
    t_ready = time.monotonic() - t0
    return p, q, t_ready * 1000, cpu_ms(p.pid)


def stop(p):
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def line(what, a, q, unit, lower_is_better=True):
    r = a / q if q else float("nan")
    print("%-44s arcvmm %9.2f %-6s QEMU %9.2f %-6s ratio %.2f%s" %
          (what, a, unit, q, unit, r, "" if lower_is_better else " (higher is better)"))


def main():
    sa, sq = os.path.join(TMP, "a.sock"), os.path.join(TMP, "q.sock")
    # --- startup, 10 rounds each
    a_ready, a_cpu, a_first, q_ready, q_cpu, q_first = [], [], [], [], [], []
    for _ in range(10):
        p, ms, cpu = start_arcvmm(sa)
        a_ready.append(ms)
        a_cpu.append(cpu)
        c = Unix(sa)
        api(c, "PUT", "/boot-source", {"kernel_image_path": TICK})
        api(c, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
        t0 = time.monotonic()
        api(c, "PUT", "/actions", {"action_type": "InstanceStart"})
        first_byte(p)
        a_first.append((time.monotonic() - t0) * 1000)
        c.close()
        stop(p)
        p, q, ms, cpu = start_qemu(sq)
        q_ready.append(ms)
        q_cpu.append(cpu)
        t0 = time.monotonic()
        q.cmd("cont")
        first_byte(p)
        q_first.append((time.monotonic() - t0) * 1000)
        stop(p)
    # exec -> first console byte, the kernel on the command line (no control socket).
    a_exec, q_exec = [], []
    for _ in range(10):
        t0 = time.monotonic()
        p = subprocess.Popen([ARCVMM, "--kernel", TICK, "--memory", "64M", "--net", "none",
                              "--shutdown-timeout", "0"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        first_byte(p)
        a_exec.append((time.monotonic() - t0) * 1000)
        stop(p)
        t0 = time.monotonic()
        p = subprocess.Popen([QEMU, "-M", "microvm,x-option-roms=off,rtc=off,acpi=off",
                              "-enable-kvm", "-cpu", "host,-arch-capabilities", "-m", "64",
                              "-nodefaults", "-no-user-config", "-display", "none",
                              "-serial", "stdio", "-kernel", TICK],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        first_byte(p)
        q_exec.append((time.monotonic() - t0) * 1000)
        stop(p)
    med = statistics.median
    line("exec -> guest's first console byte (median)", med(a_exec), med(q_exec), "ms")
    line("exec -> control socket accepts (median)", med(a_ready), med(q_ready), "ms")
    line("  CPU used by then (median)", med(a_cpu), med(q_cpu), "CPU-ms")
    line("start -> first console byte (median) [1]", med(a_first), med(q_first), "ms")
    print("  [1] arcvmm builds the VM at InstanceStart (as Firecracker does); QEMU's -S VM is "
          "built before, its cont only resumes it")

    # --- pause/resume, requests, memory: one VM each, running
    p, _, _ = start_arcvmm(sa)
    c = Unix(sa)
    api(c, "PUT", "/boot-source", {"kernel_image_path": TICK})
    api(c, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
    api(c, "PUT", "/actions", {"action_type": "InstanceStart"})
    qp, q, _, _ = start_qemu(sq)
    q.cmd("cont")
    time.sleep(0.5)
    ap, ar, qs, qc = [], [], [], []
    for _ in range(ROUNDS):
        t0 = time.monotonic()
        api(c, "PATCH", "/vm", {"state": "Paused"})
        t1 = time.monotonic()
        api(c, "PATCH", "/vm", {"state": "Resumed"})
        t2 = time.monotonic()
        ap.append((t1 - t0) * 1e6)
        ar.append((t2 - t1) * 1e6)
        t0 = time.monotonic()
        q.cmd("stop")
        t1 = time.monotonic()
        q.cmd("cont")
        t2 = time.monotonic()
        qs.append((t1 - t0) * 1e6)
        qc.append((t2 - t1) * 1e6)
        time.sleep(0.002)
    for name, a, b in (("pause (PATCH /vm Paused vs QMP stop)", ap, qs),
                       ("resume (PATCH /vm Resumed vs QMP cont)", ar, qc)):
        line(name + " p50", pct(a, 50), pct(b, 50), "us")
        line(name + " p99", pct(a, 99), pct(b, 99), "us")
    n = 2000
    t0 = time.monotonic()
    for _ in range(n):
        api(c, "GET", "/")
    a_rate = n / (time.monotonic() - t0)
    t0 = time.monotonic()
    for _ in range(n):
        q.cmd("query-status")
    q_rate = n / (time.monotonic() - t0)
    line("sequential requests (GET / vs query-status)", a_rate, q_rate, "req/s", False)
    line("VmRSS, guest running (64 MiB guest)", rss_kib(p.pid) / 1024, rss_kib(qp.pid) / 1024,
         "MiB")
    c.close()
    stop(p)
    stop(qp)
    # What the API adds: waiting for InstanceStart vs a VM run without the API.
    p, _, _ = start_arcvmm(sa)
    time.sleep(0.3)
    api_only = rss_kib(p.pid)
    stop(p)
    p = subprocess.Popen([ARCVMM, "--kernel", TICK, "--memory", "64M", "--net", "none"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    no_api = rss_kib(p.pid)
    stop(p)
    print("arcvmm VmRSS: %.1f MiB waiting for InstanceStart (API only), %.1f MiB running "
          "the guest without the API" % (api_only / 1024, no_api / 1024))


main()

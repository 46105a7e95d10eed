#!/bin/sh
# bench/api/run.sh [ROUNDS] — control-plane benches: pause/resume latency through the
# library (bench/api/pause_lat, 1 and 2 vCPUs), then the REST API beside QEMU's QMP
# (bench_api.py: startup, pause/resume, request rate, memory). Builds what it needs.
# Needs /dev/kvm and qemu-system-x86 (scripts/deps.sh installs it).
set -e
cd "$(dirname "$0")/../.."
make -s build/arcvmm build/bench/api/pause_lat guests >/dev/null
R=${1:-200}
build/bench/api/pause_lat build/guests/tick.elf "$R" 1
build/bench/api/pause_lat build/guests/tick.elf "$R" 2
python3 bench/api/bench_api.py build/arcvmm build/guests "$R"

#!/bin/sh
# bench/net/run.sh [FRAMES] — builds and runs the virtio-net RX datapath bench into
# build-bench/ (root needed for the TAP half: it unshares a network namespace).
set -e
cd "$(dirname "$0")/../.."
make -s O=build-bench build-bench/bench/net/net_bench
exec build-bench/bench/net/net_bench "${1:-200000}" 2>/dev/null

#!/bin/sh
# bench/fs/host.sh [BUILD] — the FUSE server's cost without a VM: bench/fs/fsbench's
# workloads on a host directory directly, then on the same kind of directory served by
# tests/fs/fuse_dev (fs/fuse_server.c on the host kernel's /dev/fuse, one thread).
# Needs root and /dev/fuse. Prints both sets of FSBENCH lines and the ratios
# (fuse_dev time / native time for metadata, fuse_dev / native throughput for data).
# This is NOT issue #11's benchmark (arcvmm's virtio-fs vs QEMU + virtiofsd in one L1,
# still to be written); it bounds the server's own overhead per request.
B=${1:-build}
T=$(mktemp -d)
trap 'umount "$T/mnt" 2>/dev/null; rm -rf "$T"' EXIT
mkdir -p "$T/native" "$T/share" "$T/mnt"
"$B/tests/fuse_dev" "$T/share" "$T/mnt" 1 2>"$T/fd.log" &
sleep 1
run() {
	"$B/guest-tools/fsbench" meta "$1" 10000
	mkdir -p "$1/t" && "$B/guest-tools/fsbench" tree "$1/t" 10000
	"$B/guest-tools/fsbench" randread "$1/rr" 64 20000
	"$B/guest-tools/fsbench" seq "$1/sq" 256
}
run "$T/native" >"$T/native.out"
run "$T/mnt" >"$T/fuse.out"
sed 's/^/native   /' "$T/native.out"
sed 's/^/fuse_dev /' "$T/fuse.out"
awk 'NR == FNR { v[$2] = $3; next }
	{ printf "ratio    %s fuse_dev/native %.2f (%s)\n", $2, $3 / v[$2],
		($4 == "s" ? "time: lower is better" : "throughput: higher is better") }' \
	"$T/native.out" "$T/fuse.out"

#!/bin/sh
# tests/fs/build-fsx.sh SRC OUT — builds xfstests' fsx (ltp/fsx.c, an existing file-system
# exerciser nobody here wrote) as a static binary OUT, for tests/linux/fs.sh (fs-fsx) and
# for tests/fs/fuse_dev runs. SRC is an xfstests checkout (a work tree, or a bare git
# directory such as the one `fetch github:kdave/xfstests` gives: its HEAD is read). The
# source is not part of this project; only this recipe is (autoconf's config.h replaced
# by the few defines fsx needs on Linux/glibc; no AIO, no io_uring, no XFS ioctls).
set -e
SRC=${1:?usage: build-fsx.sh XFSTESTS_SRC OUT}
OUT=${2:?usage: build-fsx.sh XFSTESTS_SRC OUT}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
if [ -f "$SRC/ltp/fsx.c" ]; then
	mkdir -p "$T/ltp" "$T/src"
	cp "$SRC/ltp/fsx.c" "$T/ltp/"
	cp "$SRC/src/global.h" "$SRC/src/statx.h" "$T/src/"
else
	git --git-dir="$SRC" archive HEAD ltp/fsx.c src/global.h src/statx.h | tar -x -C "$T"
fi
for d in SYS_TYPES_H SYS_STAT_H SYS_STATVFS_H SYS_TIME_H SYS_IOCTL_H SYS_WAIT_H MALLOC_H \
	DIRENT_H STDLIB_H UNISTD_H ERRNO_H STRING_H SYS_FCNTL_H SYS_PARAM_H LIBGEN_H ASSERT_H \
	ERR_H LINUX_FALLOC_H COPY_FILE_RANGE; do
	echo "#define HAVE_$d 1"
done >"$T/config.h"
echo '#include <getopt.h>' >>"$T/config.h"
${CC:-cc} -O2 -static -D_GNU_SOURCE -I"$T" -I"$T/src" -o "$OUT" "$T/ltp/fsx.c"
echo "built $OUT"

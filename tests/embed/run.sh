#!/usr/bin/env bash
# tests/embed/run.sh — libarcvmm as an embedder sees it: `make install` into a scratch
# prefix, then examples/embed.c built against the installed copy through pkg-config (the
# shared library, then the static one) and run on the tick guest. Also checks the shared
# library's SONAME and that it exports nothing but arcvmm_* symbols.
#   tests/embed/run.sh GUEST_DIR
set -u
cd "$(dirname "$0")/../.."
GUESTS=${1:?usage: run.sh GUEST_DIR}
pass=0
fail=0
ok() { echo "ok   embed: $1"; pass=$((pass + 1)); }
bad() { echo "FAIL embed: $1"; sed 's/^/    | /' "$T/log" | tail -30; fail=$((fail + 1)); }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
P=$T/prefix

if make -s install PREFIX="$P" >"$T/log" 2>&1 && [ -x "$P/bin/arcvmm" ] &&
	[ -f "$P/include/arcvmm.h" ] && [ -f "$P/lib/libarcvmm.a" ] &&
	[ -L "$P/lib/libarcvmm.so" ] && [ -f "$P/lib/pkgconfig/arcvmm.pc" ]; then
	ok "make install PREFIX= puts the command, header, libraries and arcvmm.pc in place"
else
	bad "make install"
fi

soname=$(readelf -d "$P/lib/libarcvmm.so" 2>/dev/null | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
if [ "$soname" = "libarcvmm.so.1" ]; then ok "SONAME libarcvmm.so.1"; else
	echo "SONAME: '$soname'" >"$T/log"; bad "SONAME"; fi

nm -D --defined-only "$P/lib/libarcvmm.so" | awk '{print $3}' | sed 's/@.*//' | grep -v '^arcvmm_' |
	grep -v '^ARCVMM_1$' >"$T/log"
if [ ! -s "$T/log" ] && nm -D --defined-only "$P/lib/libarcvmm.so" | grep -q ' arcvmm_create@'; then
	ok "only arcvmm_* symbols are exported"
else
	bad "exported symbols (listed above are not arcvmm_*)"
fi

export PKG_CONFIG_PATH=$P/lib/pkgconfig
# The header alone must compile, as C and as C++ (the extern "C" block).
if echo '#include <arcvmm.h>' | cc -x c -std=c99 -Wall -Werror -fsyntax-only \
	$(pkg-config --cflags arcvmm) - >"$T/log" 2>&1 &&
	{ ! command -v g++ >/dev/null || echo '#include <arcvmm.h>' |
		g++ -x c++ -Wall -Werror -fsyntax-only $(pkg-config --cflags arcvmm) - >>"$T/log" 2>&1; }; then
	ok "arcvmm.h compiles on its own (C99 and C++)"
else
	bad "arcvmm.h on its own"
fi

# shellcheck disable=SC2046
if cc -std=gnu11 -Wall -Werror -o "$T/embed-shared" examples/embed.c \
	$(pkg-config --cflags --libs arcvmm) >"$T/log" 2>&1; then
	ok "examples/embed.c builds against the installed shared library"
	if LD_LIBRARY_PATH=$P/lib timeout 120 "$T/embed-shared" "$GUESTS/tick.elf" >"$T/log" 2>&1; then
		ok "embed (shared): two VMs, pause/resume, shutdown request, stops ($(grep -c '^ok' "$T/log") checks)"
	else
		bad "embed (shared) run"
	fi
else
	bad "embed build (shared)"
fi

# shellcheck disable=SC2046
if cc -std=gnu11 -Wall -Werror -o "$T/embed-static" examples/embed.c \
	$(pkg-config --cflags arcvmm) "$P/lib/libarcvmm.a" $(pkg-config --static --libs arcvmm | sed 's/-larcvmm//') \
	>"$T/log" 2>&1; then
	if timeout 120 "$T/embed-static" "$GUESTS/tick.elf" >"$T/log" 2>&1; then
		ok "embed (static archive) runs"
	else
		bad "embed (static) run"
	fi
else
	bad "embed build (static)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

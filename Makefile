# arcvmm build. `make` builds build/arcvmm, the tiny test guests and the benches;
# `make test` runs the whole suite (see tests/run); `make SAN=1` builds with ASan+UBSan,
# `make TSAN=1` with ThreadSanitizer
# into build-san/.
#
# Sources are found by wildcard: a new file in one of the layer folders is built without
# touching this file.

CC ?= cc
PKGS := liburing libcjson libseccomp libxxhash
HAVE_SLIRP := $(shell pkg-config --exists slirp && echo 1)
ifeq ($(HAVE_SLIRP),1)
PKGS += slirp
else
$(warning libslirp (with glib) not found by pkg-config: building without --net user; run scripts/deps.sh)
endif

ifeq ($(SAN),1)
O := build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else ifeq ($(TSAN),1)
O := build-tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer -Wno-error
else
O ?= build
SANFLAGS :=
endif

ARCVMM_VERSION := 0.1.0
CFLAGS_BASE := -DARCVMM_VERSION=\"$(ARCVMM_VERSION)\" -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -D_GNU_SOURCE -I. -Iinclude \
	-fno-strict-aliasing -pthread
# -fPIC: the same objects go into libarcvmm.a and libarcvmm.so.
CFLAGS += $(CFLAGS_BASE) $(SANFLAGS) -fPIC $(shell pkg-config --cflags $(PKGS))
ifeq ($(HAVE_SLIRP),1)
CFLAGS += -DHAVE_SLIRP=1
endif
LDLIBS += $(shell pkg-config --libs $(PKGS)) -pthread
LDFLAGS += $(SANFLAGS)

LIB_SRCS := $(sort $(wildcard hv/*.c mem/*.c boot/*.c arch/x86/*.c devices/*.c virtio/*.c fs/*.c \
	backends/*.c util/*.c core/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o)
# The command's own parts: the CLI and the REST API server (clients of libarcvmm).
API_PKGS := libmicrohttpd
API_OBJS := $(patsubst %.c,$(O)/%.o,$(sort $(wildcard api/*.c)))
$(API_OBJS): CFLAGS += $(shell pkg-config --cflags $(API_PKGS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)

# libarcvmm's shared library: SONAME libarcvmm.so.$(ARCVMM_SOVERSION), bumped with
# ARCVMM_API_VERSION in include/arcvmm.h; only arcvmm_* symbols are exported
# (include/arcvmm.map).
ARCVMM_SOVERSION := 1
SO_NAME := libarcvmm.so.$(ARCVMM_SOVERSION)
SO_FILE := $(SO_NAME).0

all: $(O)/arcvmm $(O)/$(SO_FILE) $(O)/examples/embed $(UNIT_BINS) guests benches

# V=1 shows whole compiler command lines.
ifeq ($(V),1)
Q :=
else
Q := @
endif

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(O)/libarcvmm.a: $(LIB_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(O)/$(SO_FILE): $(LIB_OBJS) include/arcvmm.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SO_NAME) -Wl,--version-script,include/arcvmm.map \
		-Wl,-z,defs -o $@ $(LIB_OBJS) $(LDLIBS)
	$(Q)ln -sf $(SO_FILE) $(O)/$(SO_NAME)
	$(Q)ln -sf $(SO_NAME) $(O)/libarcvmm.so

# The example embedder: built here against the tree; tests/embed builds it again against
# an installed copy through pkg-config.
$(O)/examples/embed: examples/embed.c include/arcvmm.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/libarcvmm.a $(LDLIBS)

$(O)/arcvmm: $(O)/cli/main.o $(API_OBJS) $(O)/libarcvmm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(API_PKGS))

$(O)/tests/%: $(O)/tests/unit/%.o $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The API's unit test links the API server's objects too.
$(O)/tests/test_api: $(O)/tests/unit/test_api.o $(API_OBJS) $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(API_PKGS))

unit: $(UNIT_BINS)

# Tiny freestanding test guests and benches have their own rules.
-include tests/guests/guests.mk
-include bench/bench.mk
-include tests/fuzz/fuzz.mk
-include bench/blk/blk.mk
-include bench/net/net.mk
-include bench/api/api.mk
-include tests/guest-tools/tools.mk
-include tests/fs/fs.mk
guests::
benches::

test: all
	./tests/run

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')

format-check:
	@out=$$(for f in $$(git ls-files '*.c' '*.h'); do \
		clang-format --dry-run --Werror $$f >/dev/null 2>&1 || echo $$f; done); \
	if [ -n "$$out" ]; then echo "clang-format: not formatted:"; echo "$$out"; exit 1; fi

clean:
	rm -rf build build-san

# make install PREFIX=/usr/local DESTDIR=: the command, the header, both libraries and
# arcvmm.pc (pkg-config --cflags --libs arcvmm; --static for the archive's dependencies).
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
install: $(O)/arcvmm $(O)/$(SO_FILE) $(O)/libarcvmm.a
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 755 $(O)/arcvmm $(DESTDIR)$(BINDIR)/arcvmm
	install -m 644 include/arcvmm.h $(DESTDIR)$(INCLUDEDIR)/arcvmm.h
	install -m 644 $(O)/libarcvmm.a $(DESTDIR)$(LIBDIR)/libarcvmm.a
	install -m 755 $(O)/$(SO_FILE) $(DESTDIR)$(LIBDIR)/$(SO_FILE)
	ln -sf $(SO_FILE) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libarcvmm.so
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(ARCVMM_VERSION)|; s|@REQUIRES@|$(PKGS)|' \
		arcvmm.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/arcvmm.pc

.PHONY: all unit test format format-check clean install guests benches

-include $(shell find $(O) -name '*.d' -type f -not -path '*/guest-kernel/*' 2>/dev/null)

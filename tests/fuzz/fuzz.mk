# tests/fuzz/fuzz.mk — libFuzzer targets (clang). Included by the top-level Makefile.
#
#   make fuzz        builds $(O)/fuzz/fuzz_virtq (chain parsing) and fuzz_mmio (a hostile
#                    driver against the transport and the ring behind it)
#   make fuzz-smoke  builds them and fuzzes for FUZZ_TIME seconds in all (default 30:
#                    two thirds for fuzz_virtq, one third for fuzz_mmio)
#
# Needs clang and libclang-rt-<ver>-dev (Debian) for -fsanitize=fuzzer.

FUZZ_CC ?= clang
FUZZ_TIME ?= 30
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -I. -pthread \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_VIRTQ_SRCS := tests/fuzz/fuzz_virtq.c virtio/queue.c mem/guest_mem.c util/log.c

$(O)/fuzz/fuzz_virtq: $(FUZZ_VIRTQ_SRCS) virtio/queue.h mem/guest_mem.h util/log.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_VIRTQ_SRCS)

FUZZ_MMIO_SRCS := tests/fuzz/fuzz_mmio.c virtio/mmio.c virtio/queue.c mem/guest_mem.c util/log.c

$(O)/fuzz/fuzz_mmio: $(FUZZ_MMIO_SRCS) virtio/mmio.h virtio/queue.h mem/guest_mem.h util/log.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_MMIO_SRCS)

fuzz: $(O)/fuzz/fuzz_virtq $(O)/fuzz/fuzz_mmio

fuzz-smoke: $(O)/fuzz/fuzz_virtq $(O)/fuzz/fuzz_mmio
	@mkdir -p $(O)/fuzz/corpus-virtq $(O)/fuzz/corpus-mmio
	$(O)/fuzz/fuzz_virtq -max_total_time=$$(( $(FUZZ_TIME) * 2 / 3 )) -print_final_stats=1 \
		$(O)/fuzz/corpus-virtq tests/fuzz/seeds-virtq
	$(O)/fuzz/fuzz_mmio -max_total_time=$$(( $(FUZZ_TIME) / 3 )) -print_final_stats=1 \
		$(O)/fuzz/corpus-mmio tests/fuzz/seeds-mmio

.PHONY: fuzz fuzz-smoke

# The balloon's PFN and statistics parsers (devices/virtio_balloon.c, instrumented); the
# rest it links against (config, worker, transport) comes uninstrumented from the library.
FUZZ_BALLOON_SRCS := tests/fuzz/fuzz_balloon.c devices/virtio_balloon.c mem/guest_mem.c

$(O)/fuzz/fuzz_balloon: $(FUZZ_BALLOON_SRCS) devices/virtio_balloon.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_BALLOON_SRCS) $(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_balloon

# The REST API's request handling (api/routes.c, instrumented) against a server without a
# VM; the library it calls into comes uninstrumented from libarcvmm.a.
FUZZ_API_SRCS := tests/fuzz/fuzz_api.c api/routes.c api/server.c

$(O)/fuzz/fuzz_api: $(FUZZ_API_SRCS) api/api_internal.h api/api.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iinclude -o $@ $(FUZZ_API_SRCS) $(O)/libarcvmm.a $(LDLIBS) \
		$(shell pkg-config --libs $(API_PKGS))

fuzz: $(O)/fuzz/fuzz_api

fuzz-smoke-api: $(O)/fuzz/fuzz_api
	@mkdir -p $(O)/fuzz/corpus-api
	$(O)/fuzz/fuzz_api -max_total_time=$$(( $(FUZZ_TIME) / 3 )) -print_final_stats=1 \
		$(O)/fuzz/corpus-api tests/fuzz/seeds-api

fuzz-smoke: fuzz-smoke-api
.PHONY: fuzz-smoke-api

# The user-facing config parsers (core/config*.c, instrumented): the JSON file, --net and
# --disk, with the invariants of issue #14's audit checked on every parsed result.
FUZZ_CONFIG_SRCS := tests/fuzz/fuzz_config.c core/config.c core/config_net.c core/config_rl.c \
	core/config_balloon.c core/config_fs.c

$(O)/fuzz/fuzz_config: $(FUZZ_CONFIG_SRCS) core/config.h core/config_rl.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DARCVMM_VERSION=\"fuzz\" $(shell pkg-config --cflags libcjson) \
		-o $@ $(FUZZ_CONFIG_SRCS) $(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_config

# The kernel loaders (boot/, instrumented): a user's --kernel file.
FUZZ_LOADER_SRCS := tests/fuzz/fuzz_loader.c boot/elf.c boot/bzimage.c boot/boot.c

$(O)/fuzz/fuzz_loader: $(FUZZ_LOADER_SRCS) boot/boot.h boot/image.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_LOADER_SRCS) $(O)/libarcvmm.a $(LDLIBS)

# The port-I/O devices (i8042, RTC, ACPI PM; instrumented).
FUZZ_PIO_SRCS := tests/fuzz/fuzz_pio.c devices/i8042.c devices/rtc.c devices/acpi_pm.c

$(O)/fuzz/fuzz_pio: $(FUZZ_PIO_SRCS) devices/i8042.h devices/rtc.h devices/acpi_pm.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_PIO_SRCS) $(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_loader $(O)/fuzz/fuzz_pio

# The targets without a smoke run of their own get FUZZ_TIME / 6 each.
fuzz-smoke-more: $(O)/fuzz/fuzz_loader $(O)/fuzz/fuzz_pio $(O)/fuzz/fuzz_balloon $(O)/fuzz/fuzz_config \
		$(O)/fuzz/fuzz_fuse
	@for t in loader pio balloon config fuse; do \
		mkdir -p $(O)/fuzz/corpus-$$t; \
		seeds=; [ -d tests/fuzz/seeds-$$t ] && seeds=tests/fuzz/seeds-$$t; \
		$(O)/fuzz/fuzz_$$t -max_total_time=$$(( $(FUZZ_TIME) / 6 + 1 )) -print_final_stats=1 \
			$(O)/fuzz/corpus-$$t $$seeds || exit 1; \
	done

fuzz-smoke: fuzz-smoke-more
.PHONY: fuzz-smoke-more

# The hybrid vsock's CONNECT line parser (what a host peer on uds_path writes).
FUZZ_VSOCK_SRCS := tests/fuzz/fuzz_vsock.c devices/virtio_vsock.c

$(O)/fuzz/fuzz_vsock: $(FUZZ_VSOCK_SRCS) devices/virtio_vsock.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_VSOCK_SRCS) $(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_vsock

fuzz-smoke-vsock: $(O)/fuzz/fuzz_vsock
	@mkdir -p $(O)/fuzz/corpus-vsock
	$(O)/fuzz/fuzz_vsock -max_total_time=$$(( $(FUZZ_TIME) / 3 )) -print_final_stats=1 \
		$(O)/fuzz/corpus-vsock tests/fuzz/seeds-vsock

.PHONY: fuzz-smoke-vsock
fuzz-smoke: fuzz-smoke-vsock

# The snapshot state file parser (core/snapshot_format.c): seeds are valid files made by
# SNAPSHOT_SEEDS=dir build/tests/test_snapshot writes one (checked in under seeds-snapshot).
FUZZ_SNAPSHOT_SRCS := tests/fuzz/fuzz_snapshot.c core/snapshot_format.c

$(O)/fuzz/fuzz_snapshot: $(FUZZ_SNAPSHOT_SRCS) core/snapshot_format.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DARCVMM_VERSION=\"fuzz\" -o $@ $(FUZZ_SNAPSHOT_SRCS) \
		$(shell pkg-config --libs libxxhash)

fuzz: $(O)/fuzz/fuzz_snapshot

fuzz-smoke-snapshot: $(O)/fuzz/fuzz_snapshot
	@mkdir -p $(O)/fuzz/corpus-snapshot
	$(O)/fuzz/fuzz_snapshot -max_total_time=$$(( $(FUZZ_TIME) / 3 )) -print_final_stats=1 \
		$(O)/fuzz/corpus-snapshot tests/fuzz/seeds-snapshot

.PHONY: fuzz-smoke-snapshot

# The FUSE server's request handlers (fs/, instrumented) against a temporary directory.
FUZZ_FUSE_SRCS := tests/fuzz/fuzz_fuse.c fs/fuse_server.c fs/fuse_ops.c fs/fuse_table.c

$(O)/fuzz/fuzz_fuse: $(FUZZ_FUSE_SRCS) fs/fuse_server.h fs/fuse_internal.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_FUSE_SRCS) $(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_fuse

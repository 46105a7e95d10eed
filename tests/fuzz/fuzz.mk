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
		$(O)/fuzz/fuzz_fuse $(O)/fuzz/fuzz_fs_state
	@for t in loader pio balloon config fuse fs_state; do \
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

# What the snapshot's sections feed once the file passed its checksums: the config JSON
# (core/snapshot.c) and the legacy devices' state parsers; the first byte picks which.
FUZZ_SNAPSTATE_SRCS := tests/fuzz/fuzz_snapshot_state.c core/snapshot.c devices/serial.c \
	devices/i8042.c devices/rtc.c devices/acpi_pm.c

$(O)/fuzz/fuzz_snapshot_state: $(FUZZ_SNAPSTATE_SRCS) core/snapshot.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DARCVMM_VERSION=\"fuzz\" -o $@ $(FUZZ_SNAPSTATE_SRCS) \
		$(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_snapshot_state

fuzz-smoke-snapshot-state: $(O)/fuzz/fuzz_snapshot_state
	@mkdir -p $(O)/fuzz/corpus-snapshot-state
	$(O)/fuzz/fuzz_snapshot_state -max_total_time=$$(( $(FUZZ_TIME) / 3 )) \
		-print_final_stats=1 $(O)/fuzz/corpus-snapshot-state tests/fuzz/seeds-snapshot-state

.PHONY: fuzz-smoke-snapshot-state
fuzz-smoke: fuzz-smoke-snapshot-state
# (It had a smoke rule but was not in fuzz-smoke: CI never ran it.)
fuzz-smoke: fuzz-smoke-snapshot

# The devices' guest-facing request parsing, behind the real transport and ring: a hostile
# driver (tests/fuzz/fuzz_driver.c) scripts descriptors, headers, kicks, resets and pauses,
# and the device's workers run inline on the fuzzer's thread (util/worker.h), so a run is
# deterministic. The device, the transport and the ring are instrumented; the rest comes
# from libarcvmm.a.
FUZZ_DEV_SRCS := tests/fuzz/fuzz_driver.c virtio/mmio.c virtio/queue.c
FUZZ_DEV_HDRS := tests/fuzz/fuzz_driver.h virtio/mmio.h virtio/queue.h util/worker.h

$(O)/fuzz/fuzz_blk: tests/fuzz/fuzz_blk.c devices/virtio_blk.c $(FUZZ_DEV_SRCS) $(FUZZ_DEV_HDRS) \
		devices/virtio_blk.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_blk.c devices/virtio_blk.c $(FUZZ_DEV_SRCS) \
		$(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_blk

FUZZ_NET_SRCS := tests/fuzz/fuzz_net.c devices/virtio_net.c devices/virtio_net_rx.c \
	devices/virtio_net_tx.c

$(O)/fuzz/fuzz_net: $(FUZZ_NET_SRCS) $(FUZZ_DEV_SRCS) $(FUZZ_DEV_HDRS) devices/virtio_net.h \
		devices/virtio_net_int.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_NET_SRCS) $(FUZZ_DEV_SRCS) $(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_net

FUZZ_CONSOLE_SRCS := tests/fuzz/fuzz_console.c devices/virtio_console.c devices/host_out.c

$(O)/fuzz/fuzz_console: $(FUZZ_CONSOLE_SRCS) $(FUZZ_DEV_SRCS) $(FUZZ_DEV_HDRS) \
		devices/virtio_console.h devices/host_out.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_CONSOLE_SRCS) $(FUZZ_DEV_SRCS) $(O)/libarcvmm.a $(LDLIBS)

FUZZ_RNG_SRCS := tests/fuzz/fuzz_rng.c devices/virtio_rng.c

$(O)/fuzz/fuzz_rng: $(FUZZ_RNG_SRCS) $(FUZZ_DEV_SRCS) $(FUZZ_DEV_HDRS) devices/virtio_rng.h \
		$(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_RNG_SRCS) $(FUZZ_DEV_SRCS) $(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_console $(O)/fuzz/fuzz_rng

# The 16550A UART (what fuzz_pio leaves out of the port-I/O devices).
FUZZ_SERIAL_SRCS := tests/fuzz/fuzz_serial.c devices/serial.c devices/host_out.c

$(O)/fuzz/fuzz_serial: $(FUZZ_SERIAL_SRCS) devices/serial.h devices/host_out.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SERIAL_SRCS) $(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_serial

# The command line's option-spec parsers (--disk, --net, --vsock, --balloon,
# --memory-reclaim; MAC, hostfwd, sizes, rate-limiter buckets).
FUZZ_CLI_SPEC_SRCS := tests/fuzz/fuzz_cli_spec.c core/config.c core/config_net.c core/config_rl.c \
	core/config_balloon.c core/config_vsock.c util/rate_limiter.c

$(O)/fuzz/fuzz_cli_spec: $(FUZZ_CLI_SPEC_SRCS) core/config.h util/rate_limiter.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DARCVMM_VERSION=\"fuzz\" $(shell pkg-config --cflags libcjson) \
		-o $@ $(FUZZ_CLI_SPEC_SRCS) $(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_cli_spec

# The targets of the scripted hostile driver and the newer parsers get FUZZ_TIME / 6 each
# in the smoke run too.
FUZZ_SMOKE_NEW := blk net console rng serial cli_spec

fuzz-smoke-devices: $(FUZZ_SMOKE_NEW:%=$(O)/fuzz/fuzz_%)
	@for t in $(FUZZ_SMOKE_NEW); do \
		mkdir -p $(O)/fuzz/corpus-$$t; \
		$(O)/fuzz/fuzz_$$t -max_total_time=$$(( $(FUZZ_TIME) / 6 + 1 )) -print_final_stats=1 \
			$(O)/fuzz/corpus-$$t tests/fuzz/seeds-$$t || exit 1; \
	done

fuzz-smoke: fuzz-smoke-devices
.PHONY: fuzz-smoke-devices

# make fuzz-long: a campaign, every target (or FUZZ_TARGETS="blk net ...") for FUZZ_SECONDS
# each (default 600), one after the other, corpora kept in $(O)/fuzz/corpus-NAME (so a
# second campaign goes on from the first), crashes in $(O)/fuzz/crash-NAME-*, each run's
# log in $(O)/fuzz/long-NAME.log; at the end one line per target: executions, seconds,
# exec/s, crashes. Fails if any target found something. See tests/fuzz/README.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= virtq mmio api config loader pio balloon vsock snapshot blk net console rng \
	serial cli_spec

fuzz-long: $(FUZZ_TARGETS:%=$(O)/fuzz/fuzz_%)
	@fail=0; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(O)/fuzz/corpus-$$t; \
		seeds=; [ -d tests/fuzz/seeds-$$t ] && seeds=tests/fuzz/seeds-$$t; \
		echo "fuzz-long: $$t for $(FUZZ_SECONDS) s"; \
		$(O)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(O)/fuzz/crash-$$t- $(O)/fuzz/corpus-$$t $$seeds \
			>$(O)/fuzz/long-$$t.log 2>&1 || fail=1; \
	done; \
	printf '%-10s %12s %8s %8s %8s\n' target execs seconds exec/s crashes; \
	for t in $(FUZZ_TARGETS); do \
		n=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(O)/fuzz/long-$$t.log); \
		r=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $(O)/fuzz/long-$$t.log); \
		s=$$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' $(O)/fuzz/long-$$t.log); \
		c=$$(ls $(O)/fuzz/crash-$$t-* 2>/dev/null | wc -l); \
		printf '%-10s %12s %8s %8s %8s\n' $$t "$${n:-?}" "$${s:-?}" "$${r:-?}" $$c; \
	done; \
	exit $$fail

.PHONY: fuzz-long
# The FUSE server's request handlers (fs/, instrumented) against a temporary directory.
FUZZ_FUSE_SRCS := tests/fuzz/fuzz_fuse.c $(sort $(wildcard fs/*.c))

$(O)/fuzz/fuzz_fuse: $(FUZZ_FUSE_SRCS) fs/fuse_server.h fs/fuse_internal.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_FUSE_SRCS) $(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_fuse

# The FUSE server's snapshot blob (fs/fuse_state.c, instrumented with the rest of fs/).
FUZZ_FS_STATE_SRCS := tests/fuzz/fuzz_fs_state.c $(sort $(wildcard fs/*.c))

$(O)/fuzz/fuzz_fs_state: $(FUZZ_FS_STATE_SRCS) fs/fuse_server.h fs/fuse_internal.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_FS_STATE_SRCS) $(O)/libarcvmm.a $(LDLIBS)

fuzz: $(O)/fuzz/fuzz_fs_state

# tests/fs/fs.mk — fuse_dev: the FUSE server on the host's /dev/fuse (see fuse_dev.c).
$(O)/tests/fuse_dev: tests/fs/fuse_dev.c $(O)/libarcvmm.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/libarcvmm.a $(LDLIBS)

all: $(O)/tests/fuse_dev

# fsbench: issue #11's workloads (bench/fs/fsbench.c), static so it can go into a guest.
$(O)/guest-tools/fsbench: bench/fs/fsbench.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -static -Wall -Wextra -o $@ $<

all: $(O)/guest-tools/fsbench

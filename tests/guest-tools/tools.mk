# tests/guest-tools/tools.mk — small static programs the Linux-guest tests put into the
# guest (appended to the initramfs as a second cpio.gz archive; Linux unpacks both).
# vsockt: the vsock test client/server (tests/linux/vsock.sh), also run on the host side.
$(O)/guest-tools/vsockt: tests/guest-tools/vsockt.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -static -Wall -Wextra -o $@ $<

$(O)/guest-tools/vsockt.cpio.gz: $(O)/guest-tools/vsockt
	$(Q)cd $(O)/guest-tools && echo vsockt | cpio -o -H newc --quiet -R 0:0 | gzip -9 >vsockt.cpio.gz

guest-tools: $(O)/guest-tools/vsockt.cpio.gz
all: guest-tools
.PHONY: guest-tools

# fst: file-system checks busybox lacks (tests/linux/fs.sh: renameat2 flags, fallocate,
# SEEK_DATA, mmap MAP_SHARED, many files, a generated big file).
$(O)/guest-tools/fst: tests/guest-tools/fst.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -static -Wall -Wextra -o $@ $<

$(O)/guest-tools/fst.cpio.gz: $(O)/guest-tools/fst
	$(Q)cd $(O)/guest-tools && echo fst | cpio -o -H newc --quiet -R 0:0 | gzip -9 >fst.cpio.gz

guest-tools: $(O)/guest-tools/fst.cpio.gz

# runas: run a program as another uid/gid (tests/linux/fs-life.sh runs arcvmm rootless in
# the nested L1, whose busybox setpriv cannot change ids). A host-side tool, not a guest one.
$(O)/guest-tools/runas: tests/guest-tools/runas.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -static -Wall -Wextra -o $@ $<

guest-tools: $(O)/guest-tools/runas

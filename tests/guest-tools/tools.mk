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

# tests/guests/guests.mk — the tiny freestanding test guests (included by the top Makefile).
# Built with the host compiler and ld, no libc, our own link scripts; output in $(O)/guests/.
#   hello.elf      PVH, tiny assembly (also the startup benchmark guest)
#   hello.bzImage  bzImage with a 64-bit entry (and 32-bit/real-mode entries for BIOS loaders)
#   mem.elf, mem.bzImage   memory map + memory test guest (expect_mb=<n> on the cmdline)
#   smp.elf, smp.bzImage   MP table + INIT/SIPI/SIPI AP start-up guest
#   spin.elf, tick.elf     never end: one line then halt / one line then dots
#   count.elf      counts and rewrites 16 MiB per round (snapshot/restore tests)

GUEST_OUT := $(O)/guests
GUEST_SRC := tests/guests
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-ffreestanding -fno-builtin -nostdlib -fno-pic -fno-pie -fno-stack-protector -fno-delete-null-pointer-checks \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -mno-red-zone -mgeneral-regs-only \
	-mcmodel=small -m64 -I$(GUEST_SRC)
GUEST_ASFLAGS := -m64 -I$(GUEST_SRC)
GUEST_LDFLAGS := -m elf_x86_64 -n --build-id=none --no-warn-rwx-segments -z noexecstack -static
GUEST_RT := $(GUEST_OUT)/obj/rt.o $(GUEST_OUT)/obj/rt_entry.o

$(GUEST_OUT)/obj/%.o: $(GUEST_SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c $< -o $@

$(GUEST_OUT)/obj/%.o: $(GUEST_SRC)/%.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_ASFLAGS) -MMD -MP -c $< -o $@

$(GUEST_OUT)/hello.elf: $(GUEST_OUT)/obj/hello_pvh.o $(GUEST_SRC)/pvh.ld
	$(LD) $(GUEST_LDFLAGS) -T $(GUEST_SRC)/pvh.ld -o $@ $(filter %.o,$^)

# spin.elf: prints one line, then halts forever (for signal/kick tests)
$(GUEST_OUT)/spin.elf: $(GUEST_OUT)/obj/spin_pvh.o $(GUEST_SRC)/pvh.ld
	$(LD) $(GUEST_LDFLAGS) -T $(GUEST_SRC)/pvh.ld -o $@ $(filter %.o,$^)

# tick.elf: prints one line, then a '.' every few ms forever (for pause/resume tests)
$(GUEST_OUT)/tick.elf: $(GUEST_OUT)/obj/tick_pvh.o $(GUEST_SRC)/pvh.ld
	$(LD) $(GUEST_LDFLAGS) -T $(GUEST_SRC)/pvh.ld -o $@ $(filter %.o,$^)

# ELF on the C runtime: PVH note (32-bit entry) and a 64-bit e_entry
$(GUEST_OUT)/%.elf: $(GUEST_OUT)/obj/rt_pvh.o $(GUEST_RT) $(GUEST_OUT)/obj/%.o \
		$(GUEST_SRC)/pvh.ld
	$(LD) $(GUEST_LDFLAGS) -T $(GUEST_SRC)/pvh.ld -e elf64_start -o $@ $(filter %.o,$^)

# bzImage: link an ELF with the setup at 0 and the kernel at 0x100000, then flatten it.
$(GUEST_OUT)/%.bz.elf: $(GUEST_OUT)/obj/rt_bz.o $(GUEST_RT) $(GUEST_OUT)/obj/%.o \
		$(GUEST_SRC)/bz.ld
	$(LD) $(GUEST_LDFLAGS) -T $(GUEST_SRC)/bz.ld -o $@ $(filter %.o,$^)

$(GUEST_OUT)/%.bzImage: $(GUEST_OUT)/%.bz.elf
	objcopy -O binary -R .bss $< $@

GUEST_IMAGES := $(addprefix $(GUEST_OUT)/,hello.elf hello.bzImage mem.elf mem.bzImage \
	smp.elf smp.bzImage spin.elf tick.elf count.elf)

guests:: $(GUEST_IMAGES)

.PRECIOUS: $(GUEST_OUT)/obj/%.o $(GUEST_OUT)/%.bz.elf

# The SMP guest also carries its AP trampoline.
$(GUEST_OUT)/smp.elf $(GUEST_OUT)/smp.bz.elf: $(GUEST_OUT)/obj/smp_tramp.o

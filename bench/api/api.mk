# bench/api/api.mk — control-plane benches (included by the top Makefile).
#   $(O)/bench/api/pause_lat: pause/resume latency through libarcvmm
#   bench/api/run.sh: that, plus the REST API against QEMU's QMP side by side

$(O)/bench/api/pause_lat: bench/api/pause_lat.c include/arcvmm.h $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(O)/libarcvmm.a $(LDLIBS)

benches:: $(O)/bench/api/pause_lat

# bench/net/net.mk — the virtio-net datapath bench (to be -include'd by the top Makefile;
# until then: make -f Makefile -f bench/net/net.mk O=build-net net-bench).
#   $(O)/bench/net/net_bench: RX frames/s and Gbit/s of the device with a simulated driver
#   against a plain loop draining the same backend (socketpair, TAP in a private netns).
#   Run: bench/net/run.sh (root for the TAP part).

$(O)/bench/net/net_bench: $(O)/bench/net/net_bench.o $(O)/libarcvmm.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

net-bench: $(O)/bench/net/net_bench
benches:: $(O)/bench/net/net_bench

.PHONY: net-bench

# The fd-backend peer for tests/linux/net.sh (static: it runs inside the nested L1).
$(O)/bench/net/net_peer: bench/net/net_peer.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -static -o $@ $<

net-peer: $(O)/bench/net/net_peer
benches:: $(O)/bench/net/net_peer
.PHONY: net-peer

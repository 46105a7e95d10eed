# bench/net/net.mk — the virtio-net datapath bench (included by the top Makefile):
#   make O=build-net net-bench net-peer
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

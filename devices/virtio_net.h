/* devices/virtio_net.h — virtio network device (device ID 1) over virtio-mmio.
 *
 * vm.c: struct virtio_net *n = virtio_net_create(mem, &cfg->nets[i], err, sizeof(err));
 *       t = virtio_mmio_create(mem, base, gsi, &virtio_net_ops, n);
 * virtio_mmio_destroy(t) frees n through ops->destroy.
 *
 * The interface comes parsed and checked as a struct vm_net_config (core/config.h; the
 * --net syntax is core/config_net.c's): backend kind, MAC, forwards, rate limiters.
 *
 * Queues: 0 = RX, 1 = TX. RX runs on its own worker (devices/virtio_net_rx.c), TX on
 * another (devices/virtio_net_tx.c). Offered features: MAC, STATUS (link up), MTU,
 * MRG_RXBUF, EVENT_IDX, INDIRECT_DESC, and with a backend that carries virtio-net headers
 * (TAP): CSUM, GUEST_CSUM, GUEST_TSO4/TSO6/ECN, HOST_TSO4/TSO6/ECN.
 */
#ifndef ARCVMM_DEVICES_VIRTIO_NET_H
#define ARCVMM_DEVICES_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "mem/guest_mem.h"
#include "util/rate_limiter.h"
#include "virtio/mmio.h"

/* Feature bits (virtio 1.x, 5.1.3). */
#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU	3
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN	9
#define VIRTIO_NET_F_GUEST_UFO	10
#define VIRTIO_NET_F_HOST_TSO4	11
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_HOST_ECN	13
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16

/* Config space (5.1.4). */
#define VIRTIO_NET_CFG_MAC    0
#define VIRTIO_NET_CFG_STATUS 6
#define VIRTIO_NET_CFG_MAX_VQ 8
#define VIRTIO_NET_CFG_MTU    10
#define VIRTIO_NET_CFG_SIZE   12
#define VIRTIO_NET_S_LINK_UP  1

/* The per-frame header (5.1.6), version 1 layout: 12 bytes, num_buffers always present. */
struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE	    0
#define VIRTIO_NET_HDR_GSO_TCPV4    1
#define VIRTIO_NET_HDR_GSO_UDP	    3
#define VIRTIO_NET_HDR_GSO_TCPV6    4
#define VIRTIO_NET_HDR_GSO_ECN	    0x80

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1

struct virtio_net;

extern const struct virtio_device_ops virtio_net_ops;

/* Opens the backend nc names (nc->kind must not be VM_NET_NONE). Returns NULL with one
 * line in err naming the problem ("--net tap=foo0: cannot create TAP device: Operation not
 * permitted"). */
struct virtio_net *virtio_net_create(const struct guest_mem *mem, const struct vm_net_config *nc,
				     char *err, size_t errlen);

/* Statistics (read racily; for tests, benches and the API). */
struct virtio_net_stats {
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_oversize; /* frames larger than the guest's buffers: dropped */
	uint64_t rx_starved;  /* times RX stopped for lack of guest buffers (no loss) */
	uint64_t rx_irqs;     /* interrupts raised on RX */
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_bad;      /* malformed TX chains from the guest: dropped */
	uint64_t tx_rejected; /* frames the backend refused for good */
	uint64_t tx_blocked;  /* times TX waited for the backend (no loss) */
	uint64_t tx_irqs;
};
void virtio_net_get_stats(const struct virtio_net *n, struct virtio_net_stats *st);
/* Changes the RX and/or TX rate limiter (NULL: leave as is; a zero config: no limit), at
 * creation or at run time from any thread (the API's PATCH /network-interfaces). RX over
 * the limit leaves frames in the backend, TX leaves chains in the ring: delayed, never
 * dropped. --net takes rx-bw=, rx-ops=, tx-bw=, tx-ops= (bucket syntax as --disk bw=).
 * Returns 0. */
int virtio_net_set_rate_limiters(struct virtio_net *n, const struct rate_limiter_config *rx,
				 const struct rate_limiter_config *tx);
/* The MAC address the guest sees. */
void virtio_net_get_mac(const struct virtio_net *n, uint8_t mac[6]);

#endif

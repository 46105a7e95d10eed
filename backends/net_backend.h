/* backends/net_backend.h — what a virtio-net device talks to: an Ethernet frame pipe.
 *
 * Three kinds exist: tap (a Linux TAP device, frames carry a virtio-net header so GSO and
 * checksum offload pass through), sockfd (an already-connected datagram socket, one frame
 * per datagram) and slirp (libslirp's user-mode NAT in-process, on its own thread).
 *
 * The device's RX worker polls rx_fd for EPOLLIN and calls recv_batch(); the TX worker
 * calls send() and, when it answers -EAGAIN, polls tx_fd for tx_events before trying again.
 * Frames are never dropped here for lack of room: recv_batch() only takes frames for which
 * the caller supplied buffers, and send() pushes back with -EAGAIN.
 *
 * Trust: the iovecs handed in are checked by the caller (they point into guest RAM or host
 * buffers); what the backend itself returns (lengths, headers) is trusted by the device
 * only after its own bounds checks.
 */
#ifndef ARCVMM_BACKENDS_NET_BACKEND_H
#define ARCVMM_BACKENDS_NET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Offloads the reader (the guest) accepts, for set_offload(). */
#define NET_OFFLOAD_CSUM (1u << 0)
#define NET_OFFLOAD_TSO4 (1u << 1)
#define NET_OFFLOAD_TSO6 (1u << 2)
#define NET_OFFLOAD_ECN	 (1u << 3)

/* One frame slot for recv_batch(): the caller fills iov/iovcnt; the backend sets len (bytes
 * of the frame, which may exceed the iovecs' capacity: then the frame was cut and
 * is_truncated is set — the caller drops it). */
struct net_rx_slot {
	struct iovec *iov;
	int iovcnt;
	size_t len;
	bool is_truncated;
};

struct net_backend;

struct net_backend_ops {
	/* Receives up to n frames into slots. Returns the number received (>= 1), -EAGAIN if
	 * none is waiting, or another -errno (the backend is gone: ECONNRESET, EIO, ...). */
	int (*recv_batch)(struct net_backend *be, struct net_rx_slot *slots, unsigned n);
	/* Sends one frame (gathered from iov). Returns 0, -EAGAIN when the backend cannot
	 * take it now (poll tx_fd for EPOLLOUT), -EMSGSIZE/-EINVAL when it rejects this
	 * frame for good, or another -errno. */
	int (*send)(struct net_backend *be, const struct iovec *iov, int iovcnt);
	/* Backends with has_vnet_hdr: header size on both directions and the offloads the
	 * guest accepts on receive. Returns 0 or -errno. May be NULL. */
	int (*set_offload)(struct net_backend *be, unsigned vnet_hdr_len, unsigned offloads);
	/* Starts/stops background activity (slirp's thread). May be NULL. */
	int (*start)(struct net_backend *be);
	void (*stop)(struct net_backend *be);
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	const char *kind;   /* "tap", "fd", "user" */
	int rx_fd;	    /* EPOLLIN when frames are waiting */
	int tx_fd;	    /* tx_events when send() may succeed again after -EAGAIN */
	uint32_t tx_events; /* EPOLLOUT for sockets and TAP, EPOLLIN for an eventfd */
	/* Frames carry a virtio-net header of the length given to set_offload() (TAP with
	 * IFF_VNET_HDR); otherwise they are bare Ethernet frames. */
	bool has_vnet_hdr;
	/* GSO/checksum offload can be offered to the guest (needs has_vnet_hdr). */
	bool can_offload;
	unsigned mtu;	   /* largest L3 payload the backend passes (1500 by default) */
	size_t max_rx_len; /* largest frame recv may return, header excluded */
};

static inline void net_backend_destroy(struct net_backend *be)
{
	if (be)
		be->ops->destroy(be);
}

#endif

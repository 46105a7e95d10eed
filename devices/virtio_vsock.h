/* devices/virtio_vsock.h — virtio socket device (device ID 19), host side over Unix
 * sockets with Firecracker's "hybrid vsock" protocol.
 *
 * vm.c: struct virtio_vsock *v = virtio_vsock_create(&cfg, err, sizeof(err));
 *       t = virtio_mmio_create(mem, base, gsi, &virtio_vsock_ops, v);
 * virtio_mmio_destroy(t) frees v through ops->destroy (closing every connection, the
 * listener, and unlinking uds_path).
 *
 * Host side, byte for byte what Firecracker does:
 *  - host-initiated: a program connects to uds_path and writes "CONNECT <port>\n"; the
 *    device sends the guest a connection request to <port>; when the guest accepts, the
 *    program reads "OK <host_port>\n" and the socket carries the stream from then on. A
 *    port with no guest listener (the guest answers RST), junk instead of the line, a
 *    line longer than VSOCK_LINE_MAX or one that does not arrive within 2 s: the
 *    connection is closed.
 *  - guest-initiated: a guest connect() to CID 2 port P makes the device connect to
 *    "<uds_path>_<P>"; if nobody listens there the guest gets a reset (ECONNRESET).
 *
 * Flow control: the device advertises VSOCK_BUF_ALLOC bytes of receive buffer per
 * connection and counts what it forwarded (fwd_cnt); a guest that sends beyond its credit
 * is reset. Guest data the host socket does not take at once waits in a per-connection
 * buffer of at most VSOCK_BUF_ALLOC bytes (allocated only while non-empty); when it is
 * full, the guest's credit is exhausted and the guest's writes block. Towards the guest the
 * device reads a host socket only while the guest has granted credit and has posted
 * receive buffers, so a guest that stops reading makes the host socket push back.
 *
 * Per-connection cost: one host fd in arcvmm (the host program holds the other end of the
 * Unix socket), 160 bytes of heap (measured by test_many_connections with 1024
 * connections), plus the overflow buffer (VSOCK_BUF_ALLOC = 256 KiB) only while the host
 * peer is slower than the guest; the kernel's own Unix-socket buffers are not counted.
 * 1024 connections each way at once need ~2100 fds (tests/linux/vsock.sh vsock-many-1024
 * raises RLIMIT_NOFILE with ulimit -n; arcvmm does not raise it itself). Per device, not
 * per connection: RX_BATCH - 1 scratch chains (~240 KiB) for the batched host → guest
 * reads. Lookups go through a hash on (host port, guest port); nothing walks all
 * connections per packet. At most VSOCK_MAX_CONNS connections; requests beyond that are
 * reset.
 *
 * Host → guest, the worker reads one socket into up to RX_BATCH rx buffers with a single
 * readv (at most 64 KiB and the guest's credit), one RW packet per buffer: Linux posts
 * 4 KiB rx buffers, and a syscall per buffer made this direction the slow one.
 *
 * Threads: one worker ("vsock") watches the three queue kicks and one epoll fd holding
 * the listener, a timer and every connection's socket. Pause/resume keep connections;
 * device reset closes every host connection (the listener stays).
 *
 * Trust: guest packets are hostile (every header field is checked, see the .c); the host
 * peers on uds_path are untrusted too (the CONNECT line is bounded and timed). The
 * configuration is the caller's (trusted). Snapshot save/restore: not implemented (ops
 * save/restore are NULL).
 */
#ifndef ARCVMM_DEVICES_VIRTIO_VSOCK_H
#define ARCVMM_DEVICES_VIRTIO_VSOCK_H

#include <stddef.h>
#include <stdint.h>

#include "virtio/mmio.h"

#define VIRTIO_ID_VSOCK 19

#define VSOCK_RXQ 0
#define VSOCK_TXQ 1
#define VSOCK_EVQ 2

#define VSOCK_HOST_CID	2
#define VSOCK_BUF_ALLOC (256 * 1024)
#define VSOCK_MAX_CONNS 4096
#define VSOCK_MAX_PKT	(64 * 1024) /* largest payload accepted in one packet */
#define VSOCK_LINE_MAX	32	    /* "CONNECT 4294967295\n" is 19 bytes */
#define VSOCK_UDS_MAX	100	    /* sun_path is 108; leave room for "_<port>" */

/* The packet header (virtio 1.2, 5.10.6), little-endian. */
struct virtio_vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

#define VSOCK_TYPE_STREAM 1
enum {
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};
#define VSOCK_SHUTDOWN_RCV  1
#define VSOCK_SHUTDOWN_SEND 2

struct virtio_vsock_config {
	uint64_t guest_cid; /* >= 3 */
	char uds_path[VSOCK_UDS_MAX + 1];
};

struct virtio_vsock;

extern const struct virtio_device_ops virtio_vsock_ops;

/* Checks cfg (CID >= 3 and < 2^32-1, uds_path set, its directory exists), binds and
 * listens on uds_path (a stale socket there is replaced; any other file is an error).
 * Returns NULL with one line in err (and errno) on failure. */
struct virtio_vsock *virtio_vsock_create(const struct virtio_vsock_config *cfg, char *err,
					 size_t errlen);
/* Frees a device never handed to a transport. */
void virtio_vsock_destroy(struct virtio_vsock *v);

/* Parses "CONNECT <port>\n" at the start of buf[0, len). Returns the bytes of the line
 * (port set), 0 if more bytes may still make a valid line, or -1 for junk (anything but
 * that exact form: one space, 1-10 decimal digits, value <= UINT32_MAX, '\n'). */
int vsock_parse_connect(const char *buf, size_t len, uint32_t *port);

/* Connects in-process to guest port `port` through uds_path and the CONNECT protocol.
 * Returns a connected stream socket (SOCK_CLOEXEC) or -errno (ECONNREFUSED: no guest
 * listener; ETIMEDOUT). timeout_ms bounds the wait for the guest's answer. Any thread. */
int virtio_vsock_connect(struct virtio_vsock *v, uint32_t port, int timeout_ms);
/* Listens in-process for guest connections to host port `port`: binds "<uds_path>_<port>"
 * and returns the listening socket (accept() it). -errno on failure. */
int virtio_vsock_listen(struct virtio_vsock *v, uint32_t port);

struct virtio_vsock_stats {
	uint64_t nr_conns;	 /* open now */
	uint64_t nr_bad_pkts;	 /* malformed or spoofed packets dropped */
	uint64_t nr_rst_sent;	 /* resets sent to the guest */
	uint64_t nr_rst_dropped; /* resets that did not fit the pending ring */
	uint64_t nr_tx_bytes;	 /* guest → host */
	uint64_t nr_rx_bytes;	 /* host → guest */
	uint64_t buffered_bytes; /* guest data waiting for host sockets */
};
/* Racy reads, for tests and metrics. */
void virtio_vsock_get_stats(const struct virtio_vsock *v, struct virtio_vsock_stats *s);

#endif

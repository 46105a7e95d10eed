/* backends/slirp.h — rootless user-mode networking through libslirp, in-process.
 *
 * The guest sees 10.0.2.0/24: gateway 10.0.2.2 (also the DNS forwarder at 10.0.2.3), DHCP
 * handing out 10.0.2.15 first. Outbound TCP/UDP is NATed through host sockets; host port
 * forwards listen on the host and connect into the guest. libslirp runs on the backend's
 * own thread; frames for the guest are queued (bounded) and handed to the RX worker, and
 * when that queue is full slirp stops reading its host sockets, so TCP flow control pushes
 * back instead of frames being dropped.
 */
#ifndef ARCVMM_BACKENDS_SLIRP_H
#define ARCVMM_BACKENDS_SLIRP_H

#include "backends/net_backend.h"

struct slirp_fwd {
	bool is_udp;
	uint32_t host_addr; /* network order; 0 = any address */
	uint16_t host_port;
	uint32_t guest_addr; /* network order; 0 = 10.0.2.15 */
	uint16_t guest_port;
};

#define SLIRP_MAX_FWDS 16

/* Returns NULL with one line in err ("host port 8080 is already in use", or "this build has
 * no libslirp"). */
struct net_backend *slirp_backend_create(const struct slirp_fwd *fwds, unsigned nr_fwds,
					 const char *hostname, char *err, size_t errlen);

#endif

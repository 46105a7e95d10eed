/* backends/tap.h — Linux TAP device backend for virtio-net.
 *
 * Opens (or creates, with CAP_NET_ADMIN) the TAP interface `name` with IFF_VNET_HDR, so
 * frames in both directions carry a virtio-net header and TSO/checksum-offloaded frames
 * pass through unsegmented once set_offload() told the kernel what the guest accepts.
 */
#ifndef ARCVMM_BACKENDS_TAP_H
#define ARCVMM_BACKENDS_TAP_H

#include "backends/net_backend.h"

/* Returns NULL with one line in err ("cannot create TAP device: Operation not permitted"). */
struct net_backend *tap_create(const char *name, char *err, size_t errlen);

#endif

/* backends/sockfd.h — virtio-net backend over an inherited, connected datagram socket.
 *
 * A parent process passes an fd (SOCK_DGRAM or SOCK_SEQPACKET, already connected, e.g.
 * one end of a socketpair); each datagram is one bare Ethernet frame. The backend takes
 * ownership of the fd.
 */
#ifndef ARCVMM_BACKENDS_SOCKFD_H
#define ARCVMM_BACKENDS_SOCKFD_H

#include "backends/net_backend.h"

/* Returns NULL with one line in err ("not a socket", "not a datagram socket", ...). The fd
 * is closed by destroy, not on failure. */
struct net_backend *sockfd_create(int fd, char *err, size_t errlen);

#endif

/* backends/sockfd.c — datagram socket backend (one Ethernet frame per datagram). See sockfd.h.
 *
 * Trusts: the parent that passed the fd (it chose the peer). Datagram lengths come from
 * the kernel; a datagram larger than the caller's buffers is reported as truncated
 * (MSG_TRUNC) so the device drops it knowingly instead of passing a cut frame on.
 */
#include "backends/sockfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SOCKFD_BATCH 64

struct sockfd {
	struct net_backend be;
	int fd;
	struct mmsghdr msgs[SOCKFD_BATCH];
};

static int sockfd_recv_batch(struct net_backend *be, struct net_rx_slot *slots, unsigned n)
{
	struct sockfd *s = (struct sockfd *)be;

	if (n > SOCKFD_BATCH)
		n = SOCKFD_BATCH;
	memset(s->msgs, 0, n * sizeof(s->msgs[0]));
	for (unsigned i = 0; i < n; i++) {
		s->msgs[i].msg_hdr.msg_iov = slots[i].iov;
		s->msgs[i].msg_hdr.msg_iovlen = (size_t)slots[i].iovcnt;
	}
	int r;
	do {
		/* MSG_TRUNC: report each datagram's real length, so a cut one is noticed. */
		r = recvmmsg(s->fd, s->msgs, n, MSG_DONTWAIT | MSG_TRUNC, NULL);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (r == 0)
		return -ECONNRESET; /* SEQPACKET peer closed */
	for (int i = 0; i < r; i++) {
		slots[i].len = s->msgs[i].msg_len;
		slots[i].is_truncated = s->msgs[i].msg_hdr.msg_flags & MSG_TRUNC;
	}
	return r;
}

static int sockfd_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct sockfd *s = (struct sockfd *)be;
	struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};

	for (;;) {
		ssize_t r = sendmsg(s->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0)
			return 0; /* datagrams go whole or not at all */
		if (errno == EINTR)
			continue;
		/* A unix datagram socket whose peer queue is full answers EAGAIN; an UDP one
		 * may answer ENOBUFS: both mean "later". */
		if (errno == EWOULDBLOCK || errno == ENOBUFS)
			return -EAGAIN;
		return -errno;
	}
}

static void sockfd_destroy(struct net_backend *be)
{
	struct sockfd *s = (struct sockfd *)be;

	close(s->fd);
	free(s);
}

static const struct net_backend_ops sockfd_ops = {
    .recv_batch = sockfd_recv_batch,
    .send = sockfd_send,
    .destroy = sockfd_destroy,
};

struct net_backend *sockfd_create(int fd, char *err, size_t errlen)
{
	struct stat st;
	int type = 0;
	socklen_t tlen = sizeof(type);

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "not an open file descriptor");
		return NULL;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "not a socket");
		return NULL;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0) {
		snprintf(err, errlen, "cannot query the socket: %s", strerror(errno));
		return NULL;
	}
	if (type != SOCK_DGRAM && type != SOCK_SEQPACKET) {
		snprintf(err, errlen, "not a datagram (SOCK_DGRAM/SOCK_SEQPACKET) socket");
		return NULL;
	}
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0) {
		snprintf(err, errlen, "socket is not connected");
		return NULL;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot make the socket non-blocking: %s", strerror(errno));
		return NULL;
	}
	struct sockfd *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->fd = fd;
	s->be.ops = &sockfd_ops;
	s->be.kind = "fd";
	s->be.rx_fd = fd;
	s->be.tx_fd = fd;
	s->be.tx_events = EPOLLOUT;
	s->be.mtu = 1500;
	s->be.max_rx_len = 1500 + 14 + 4;
	return &s->be;
}

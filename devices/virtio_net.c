/* devices/virtio_net.c — virtio-net device: --net spec parsing, features, config space,
 * lifecycle. The datapath lives in virtio_net_rx.c and virtio_net_tx.c.
 *
 * Trusts: the spec string is the user's (checked here, errors name it); the transport
 * calls the ops with its lock held and only between activate and reset do the workers run.
 * Config space writes from the guest are ignored (the MAC is read-only without CTRL_VQ).
 */
#include "devices/virtio_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "backends/slirp.h"
#include "backends/sockfd.h"
#include "backends/tap.h"
#include "devices/virtio_net_int.h"
#include "util/log.h"

/* RX and TX rings: large enough that a burst at 10 Gbit/s does not empty them between two
 * guest refills. */
#define VIRTIO_NET_QUEUE_SIZE 1024

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (strlen(s) != 17)
		return -EINVAL;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6)
		return -EINVAL;
	for (unsigned i = 0; i < 6; i++) {
		/* sscanf's %x accepts signs and spaces; require two hex digits per byte. */
		const char *p = s + 3 * i;
		if (!strchr("0123456789abcdefABCDEF", p[0]) || !p[0] ||
		    !strchr("0123456789abcdefABCDEF", p[1]) || !p[1])
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	if (mac[0] & 1)
		return -EINVAL; /* multicast: not a station address */
	return 0;
}

static int parse_port(const char *s, size_t len, uint16_t *port)
{
	char buf[8];
	char *end;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = 0;
	unsigned long v = strtoul(buf, &end, 10);
	if (*end || v == 0 || v > 65535 || buf[0] == '+' || buf[0] == '-')
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int parse_addr(const char *s, size_t len, uint32_t *addr)
{
	char buf[INET_ADDRSTRLEN];
	struct in_addr a;

	if (len == 0) {
		*addr = 0;
		return 0;
	}
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*addr = a.s_addr;
	return 0;
}

/* "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT" */
static int parse_hostfwd(const char *s, struct slirp_fwd *f)
{
	memset(f, 0, sizeof(*f));
	if (!strncmp(s, "tcp:", 4)) {
		s += 4;
	} else if (!strncmp(s, "udp:", 4)) {
		f->is_udp = true;
		s += 4;
	} else if (*s == ':') {
		s += 1;
	} else {
		return -EINVAL;
	}
	const char *dash = strchr(s, '-');
	if (!dash)
		return -EINVAL;
	const char *c1 = memchr(s, ':', (size_t)(dash - s));
	if (!c1)
		return -EINVAL;
	if (parse_addr(s, (size_t)(c1 - s), &f->host_addr) ||
	    parse_port(c1 + 1, (size_t)(dash - c1 - 1), &f->host_port))
		return -EINVAL;
	const char *g = dash + 1, *c2 = strchr(g, ':');
	if (!c2 || parse_addr(g, (size_t)(c2 - g), &f->guest_addr) ||
	    parse_port(c2 + 1, strlen(c2 + 1), &f->guest_port))
		return -EINVAL;
	return 0;
}

static struct net_backend *open_backend(const char *spec, char *err, size_t errlen, uint8_t mac[6],
					bool *has_mac, struct rate_limiter_config rl[2])
{
	char buf[512], msg[200];
	char *save = NULL, *tok;
	enum { KIND_NONE, KIND_TAP, KIND_FD, KIND_USER } kind = KIND_NONE;
	const char *tap_name = NULL;
	int fd = -1;
	struct slirp_fwd fwds[SLIRP_MAX_FWDS];
	unsigned nr_fwds = 0;
	struct net_backend *be = NULL;

	*has_mac = false;
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "--net: specification too long");
		return NULL;
	}
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "tap=", 4) && kind == KIND_NONE) {
			kind = KIND_TAP;
			tap_name = tok + 4;
		} else if (!strncmp(tok, "fd=", 3) && kind == KIND_NONE) {
			char *end;
			long v = strtol(tok + 3, &end, 10);
			if (!tok[3] || *end || v < 0 || v > INT_MAX) {
				snprintf(err, errlen, "--net %s: not a file descriptor number",
					 tok);
				return NULL;
			}
			kind = KIND_FD;
			fd = (int)v;
		} else if (!strcmp(tok, "user") && kind == KIND_NONE) {
			kind = KIND_USER;
		} else if (!strncmp(tok, "mac=", 4)) {
			if (parse_mac(tok + 4, mac)) {
				snprintf(err, errlen, "--net %s: malformed MAC address", tok);
				return NULL;
			}
			*has_mac = true;
		} else if (!strncmp(tok, "rx-bw=", 6) || !strncmp(tok, "tx-bw=", 6) ||
			   !strncmp(tok, "rx-ops=", 7) || !strncmp(tok, "tx-ops=", 7)) {
			/* rl[0] RX, rl[1] TX; the bucket syntax of util/rate_limiter.h */
			struct rate_limiter_config *c = &rl[tok[0] == 't'];
			struct rl_bucket_config *bk = tok[3] == 'b' ? &c->bandwidth : &c->ops;
			if (rl_bucket_parse(bk, strchr(tok, '=') + 1, msg, sizeof(msg))) {
				snprintf(err, errlen, "--net %s: %s", spec, msg);
				return NULL;
			}
		} else if (!strncmp(tok, "hostfwd=", 8) && kind == KIND_USER) {
			if (nr_fwds >= SLIRP_MAX_FWDS) {
				snprintf(err, errlen, "--net %s: more than %d forwards", tok,
					 SLIRP_MAX_FWDS);
				return NULL;
			}
			if (parse_hostfwd(tok + 8, &fwds[nr_fwds])) {
				snprintf(err, errlen,
					 "--net %s: malformed forward (want "
					 "hostfwd=tcp::HOSTPORT-:GUESTPORT)",
					 tok);
				return NULL;
			}
			nr_fwds++;
		} else {
			snprintf(err, errlen,
				 "--net %s: unknown option (want tap=NAME, fd=N or "
				 "user, then mac=, hostfwd=, rx-bw=, rx-ops=, tx-bw=, tx-ops=)",
				 tok);
			return NULL;
		}
	}
	msg[0] = 0;
	switch (kind) {
	case KIND_TAP:
		be = tap_create(tap_name, msg, sizeof(msg));
		if (!be)
			snprintf(err, errlen, "--net tap=%s: %s", tap_name, msg);
		break;
	case KIND_FD:
		be = sockfd_create(fd, msg, sizeof(msg));
		if (!be)
			snprintf(err, errlen, "--net fd=%d: %s", fd, msg);
		break;
	case KIND_USER:
		be = slirp_backend_create(fwds, nr_fwds, msg, sizeof(msg));
		if (!be)
			snprintf(err, errlen, "--net %s: %s", spec, msg);
		break;
	default:
		snprintf(err, errlen, "--net %s: no backend (want tap=NAME, fd=N or user)", spec);
		break;
	}
	return be;
}

struct virtio_net *virtio_net_create(const struct guest_mem *mem, const char *spec, char *err,
				     size_t errlen)
{
	uint8_t mac[6];
	bool has_mac;

	if (!spec) {
		snprintf(err, errlen, "--net: empty specification");
		return NULL;
	}
	struct rate_limiter_config rl[2] = {0};
	struct net_backend *be = open_backend(spec, err, errlen, mac, &has_mac, rl);
	if (!be)
		return NULL;
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "--net %s: out of memory", spec);
		net_backend_destroy(be);
		return NULL;
	}
	n->mem = mem;
	n->be = be;
	snprintf(n->spec, sizeof(n->spec), "net(%s)", spec);
	if (has_mac) {
		memcpy(n->mac, mac, 6);
	} else {
		/* QEMU's OUI with random low bytes: unicast, stable for the VM's lifetime. */
		uint8_t r[3] = {0x12, 0x34, 0x56};
		if (getrandom(r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
			log_warn("%s: no randomness for the MAC; using 52:54:00:12:34:56", n->spec);
		n->mac[0] = 0x52;
		n->mac[1] = 0x54;
		n->mac[2] = 0x00;
		memcpy(n->mac + 3, r, 3);
	}
	n->mtu = be->mtu > 65535 ? 65535 : (uint16_t)be->mtu;
	n->rx.timer_fd = -1;
	n->rx.rl_timer_fd = -1;
	n->tx.rl_timer_fd = -1;
	rate_limiter_init(&n->rx_rl, &rl[0]);
	rate_limiter_init(&n->tx_rl, &rl[1]);
	n->offered = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
		     VIRTIO_BIT(VIRTIO_NET_F_MTU) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) |
		     VIRTIO_RING_FEATURES;
	if (be->has_vnet_hdr && be->can_offload)
		n->offered |=
		    VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
		    VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
		    VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
		    VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN);
	return n;
}

static uint64_t net_features(void *dev)
{
	struct virtio_net *n = dev;

	return n->offered;
}

static void net_config_read(void *dev, uint32_t offset, void *data, unsigned size)
{
	struct virtio_net *n = dev;
	uint8_t cfg[VIRTIO_NET_CFG_SIZE] = {0};
	uint16_t status = VIRTIO_NET_S_LINK_UP, pairs = 1, mtu = n->mtu;

	memcpy(cfg + VIRTIO_NET_CFG_MAC, n->mac, 6);
	memcpy(cfg + VIRTIO_NET_CFG_STATUS, &status, 2);
	memcpy(cfg + VIRTIO_NET_CFG_MAX_VQ, &pairs, 2);
	memcpy(cfg + VIRTIO_NET_CFG_MTU, &mtu, 2);
	memset(data, 0, size);
	if (offset < sizeof(cfg) && size <= sizeof(cfg) - offset)
		memcpy(data, cfg + offset, size);
}

static void net_config_write(void *dev, uint32_t offset, const void *data, unsigned size)
{
	/* Read-only: the MAC may only change through a control queue, which we do not offer. */
}

static void net_reset(void *dev);

static int net_activate(void *dev, struct virtio_mmio *t)
{
	struct virtio_net *n = dev;
	int err;

	n->t = t;
	n->features = virtio_mmio_driver_features(t);
	/* Virtio 1.x: the header always has num_buffers (12 bytes); legacy without
	 * MRG_RXBUF had 10. The transport is 1.x only, but follow the negotiation. */
	n->is_mrg = virtio_net_has(n, VIRTIO_NET_F_MRG_RXBUF);
	n->hdr_len = virtio_net_has(n, VIRTIO_F_VERSION_1) || n->is_mrg
			 ? sizeof(struct virtio_net_hdr_v1)
			 : offsetof(struct virtio_net_hdr_v1, num_buffers);
	n->has_guest_csum = virtio_net_has(n, VIRTIO_NET_F_GUEST_CSUM);
	n->has_guest_gso = n->has_guest_csum && (virtio_net_has(n, VIRTIO_NET_F_GUEST_TSO4) ||
						 virtio_net_has(n, VIRTIO_NET_F_GUEST_TSO6));
	if (n->be->has_vnet_hdr && n->be->ops->set_offload) {
		unsigned off = 0;
		if (n->has_guest_csum)
			off |= NET_OFFLOAD_CSUM;
		if (virtio_net_has(n, VIRTIO_NET_F_GUEST_TSO4))
			off |= NET_OFFLOAD_TSO4;
		if (virtio_net_has(n, VIRTIO_NET_F_GUEST_TSO6))
			off |= NET_OFFLOAD_TSO6;
		if (virtio_net_has(n, VIRTIO_NET_F_GUEST_ECN))
			off |= NET_OFFLOAD_ECN;
		err = n->be->ops->set_offload(n->be, n->hdr_len, off);
		if (err) {
			log_error("%s: cannot set the backend's offloads: %s", n->spec,
				  strerror(-err));
			return err;
		}
	}
	err = virtio_net_rx_start(n);
	if (err)
		return err;
	err = virtio_net_tx_start(n);
	if (err) {
		virtio_net_rx_stop(n);
		return err;
	}
	n->is_active = true;
	return 0;
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	virtio_net_rx_stop(n);
	virtio_net_tx_stop(n);
	n->is_active = false;
	n->t = NULL;
	n->features = 0;
}

static int net_pause(void *dev)
{
	struct virtio_net *n = dev;
	int err = 0;

	if (n->rx.w)
		err = worker_pause(n->rx.w);
	if (!err && n->tx.w) {
		err = worker_pause(n->tx.w);
		if (err && n->rx.w)
			worker_resume(n->rx.w);
	}
	return err;
}

static int net_resume(void *dev)
{
	struct virtio_net *n = dev;
	int err = 0;

	if (n->rx.w)
		err = worker_resume(n->rx.w);
	if (n->tx.w) {
		int e2 = worker_resume(n->tx.w);
		if (!err)
			err = e2;
	}
	return err;
}

static void net_destroy(void *dev)
{
	struct virtio_net *n = dev;

	if (!n)
		return;
	net_reset(n);
	virtio_net_rx_free(n);
	free(n->tx.chain);
	net_backend_destroy(n->be);
	rate_limiter_fini(&n->rx_rl);
	rate_limiter_fini(&n->tx_rl);
	free(n);
}

void virtio_net_get_stats(const struct virtio_net *n, struct virtio_net_stats *st)
{
	memcpy(st, &n->stats, sizeof(*st));
}

void virtio_net_get_mac(const struct virtio_net *n, uint8_t mac[6])
{
	memcpy(mac, n->mac, 6);
}

const struct virtio_device_ops virtio_net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .nr_queues = 2,
    .max_queue_size = VIRTIO_NET_QUEUE_SIZE,
    .features = net_features,
    .config_read = net_config_read,
    .config_write = net_config_write,
    .activate = net_activate,
    .reset = net_reset,
    .pause = net_pause,
    .resume = net_resume,
    .destroy = net_destroy,
};

int virtio_net_set_rate_limiters(struct virtio_net *n, const struct rate_limiter_config *rx,
				 const struct rate_limiter_config *tx)
{
	if (rx)
		rate_limiter_set(&n->rx_rl, rx);
	if (tx)
		rate_limiter_set(&n->tx_rl, tx);
	/* A throttled direction re-checks at once rather than at the old shape's time. The
	 * timer fds exist while the device runs; arming a closed (-1) one just fails. */
	int rx_fd = __atomic_load_n(&n->rx.rl_timer_fd, __ATOMIC_ACQUIRE);
	int tx_fd = __atomic_load_n(&n->tx.rl_timer_fd, __ATOMIC_ACQUIRE);
	if (rx && rx_fd >= 0)
		rate_limiter_arm_timer(rx_fd, 1);
	if (tx && tx_fd >= 0)
		rate_limiter_arm_timer(tx_fd, 1);
	return 0;
}

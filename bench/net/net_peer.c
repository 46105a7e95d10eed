/* bench/net/net_peer.c — the far end of arcvmm's fd network backend, for Linux-guest tests.
 *
 *   net_peer [-n FLOOD] [-t SECONDS] -- ARCVMM ARGS...
 *
 * Creates a SOCK_DGRAM socketpair, starts ARCVMM ARGS... --net fd=3,mac=52:54:00:12:34:56
 * with one end as fd 3, and plays a host at 10.0.3.1 (MAC 02:00:00:00:00:01) on the other:
 * it answers ARP requests and ICMP echo requests for 10.0.3.1 (so the guest, 10.0.3.2, can
 * ping it). With -n FLOOD it also sends FLOOD echo requests (sequence numbers 0..FLOOD-1)
 * to the guest as fast as the socket takes them — from the start, before the guest can
 * receive, so the device's RX ring fills and the socket pushes back — and counts the
 * replies: all must come back, in order. It prints "peer: flood N replies R in-order O
 * lost L" and "peer: answered P pings", kills arcvmm when the flood is complete (or after
 * -t SECONDS, default 120) and exits 0 only if nothing was lost or reordered (and, without
 * -n, if at least one ping was answered). With -w it leaves arcvmm alone until it exits by
 * itself (within -t), prints "peer: vmm exit N", and exits 0 only if every one of the
 * FLOOD requests was answered, in order.
 *
 * Trusts: nothing the guest sends (frames are length-checked before any field is read).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t peer_ip[4] = {10, 0, 3, 1};
static const uint8_t guest_ip[4] = {10, 0, 3, 2};

static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)(p[len - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

/* Ethernet + IPv4 + ICMP echo (type 8 request / 0 reply), 56 payload bytes. */
static size_t make_icmp(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, const uint8_t *dip,
			const uint8_t *sip, uint8_t type, uint16_t id, uint16_t seq,
			const uint8_t *payload, size_t plen)
{
	uint8_t *ip = f + 14, *ic = ip + 20;
	size_t tot = 20 + 8 + plen;

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, sip, 4);
	memcpy(ip + 16, dip, 4);
	uint16_t c = csum(ip, 20);
	memcpy(ip + 10, &c, 2);
	ic[0] = type;
	ic[1] = 0;
	ic[2] = ic[3] = 0;
	ic[4] = (uint8_t)(id >> 8);
	ic[5] = (uint8_t)id;
	ic[6] = (uint8_t)(seq >> 8);
	ic[7] = (uint8_t)seq;
	memcpy(ic + 8, payload, plen);
	c = csum(ic, 8 + plen);
	memcpy(ic + 2, &c, 2);
	return 14 + tot;
}

int main(int argc, char **argv)
{
	long flood = 0, secs = 120;
	bool is_waiting = false; /* -w: let the VMM end by itself, whatever the flood does */
	int i, sv[2];

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			flood = strtol(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			secs = strtol(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "-w"))
			is_waiting = true;
		else if (!strcmp(argv[i], "--"))
			break;
	}
	if (i + 1 >= argc || flood < 0 || flood > 65535) {
		fprintf(stderr,
			"usage: net_peer [-n FLOOD<=65535] [-t SECONDS] [-w] -- ARCVMM ARGS...\n");
		return 2;
	}
	char **av = calloc((size_t)(argc - i) + 3, sizeof(*av));
	int ac = 0;
	for (int k = i + 1; k < argc; k++)
		av[ac++] = argv[k];
	av[ac++] = "--net";
	av[ac++] = "fd=3,mac=52:54:00:12:34:56";
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) {
		perror("net_peer: socketpair");
		return 2;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(sv[0], 3);
		if (sv[0] != 3)
			close(sv[0]);
		close(sv[1]);
		execvp(av[0], av);
		perror("net_peer: exec");
		_exit(127);
	}
	close(sv[0]);
	int fd = sv[1];
	fcntl(fd, F_SETFL, O_NONBLOCK);

	uint8_t f[2048], payload[56];
	for (unsigned k = 0; k < sizeof(payload); k++)
		payload[k] = (uint8_t)k;
	long sent = 0, replies = 0, in_order = 0, backwards = 0, pushback = 0, pings = 0;
	time_t last_reply = time(NULL);
	long expect = 0;
	time_t end = time(NULL) + secs;
	int status = 0;
	bool is_exited = false;

	if (flood) {
		/* First an ARP request from us: the guest learns our MAC from it (before any
		 * echo request), so its replies need no ARP round trip of their own. */
		uint8_t a[60] = {0};
		memset(a, 0xff, 6);
		memcpy(a + 6, peer_mac, 6);
		a[12] = 0x08;
		a[13] = 0x06;
		memcpy(a + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
		memcpy(a + 22, peer_mac, 6);
		memcpy(a + 28, peer_ip, 4);
		memcpy(a + 38, guest_ip, 4);
		while (send(fd, a, sizeof(a), 0) < 0 && errno == EAGAIN)
			usleep(1000);
	}
	while (time(NULL) < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN | (sent < flood ? POLLOUT : 0)};
		if (poll(&p, 1, 200) < 0 && errno != EINTR)
			break;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			is_exited = true;
			break;
		}
		while (sent < flood) {
			size_t l = make_icmp(f, guest_mac, peer_mac, guest_ip, peer_ip, 8, 0x4242,
					     (uint16_t)sent, payload, sizeof(payload));
			if (send(fd, f, l, 0) < 0) {
				pushback++; /* EAGAIN: the device is not reading (ring full) */
				break;
			}
			sent++;
		}
		for (;;) {
			ssize_t r = recv(fd, f, sizeof(f), 0);
			if (r < 0)
				break;
			if (r >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 1 &&
			    !memcmp(f + 38, peer_ip, 4)) {
				/* ARP request for us: reply. */
				uint8_t a[60] = {0};
				memcpy(a, f + 6, 6);
				memcpy(a + 6, peer_mac, 6);
				a[12] = 0x08;
				a[13] = 0x06;
				memcpy(a + 14, "\x00\x01\x08\x00\x06\x04\x00\x02", 8);
				memcpy(a + 22, peer_mac, 6);
				memcpy(a + 28, peer_ip, 4);
				memcpy(a + 32, f + 22, 10); /* sender MAC + IP */
				send(fd, a, sizeof(a), 0);
				continue;
			}
			if (r < 42 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 1)
				continue;
			size_t ihl = (f[14] & 15) * 4u;
			size_t tot = (size_t)(f[16] << 8 | f[17]);
			if (ihl < 20 || tot < ihl + 8 || 14 + tot > (size_t)r)
				continue;
			uint8_t *ic = f + 14 + ihl;
			uint16_t id = (uint16_t)(ic[4] << 8 | ic[5]);
			uint16_t seq = (uint16_t)(ic[6] << 8 | ic[7]);
			if (ic[0] == 8 && !memcmp(f + 30, peer_ip, 4)) {
				/* The guest pings us. */
				uint8_t rep[2048];
				size_t l = make_icmp(rep, f + 6, peer_mac, f + 26, peer_ip, 0, id,
						     seq, ic + 8, tot - ihl - 8);
				send(fd, rep, l, 0);
				pings++;
			} else if (ic[0] == 0 && id == 0x4242) {
				replies++;
				last_reply = time(NULL);
				if (seq == (uint16_t)expect)
					in_order++;
				else if (seq < expect)
					backwards++;
				expect = seq + 1;
			}
		}
		if (is_waiting)
			continue; /* the VMM ends by itself (or -t runs out) */
		if (flood && replies >= flood)
			break;
		/* The guest's own stack may drop a reply (its business, not the device's):
		 * give up 20 s after the last one once everything was sent. */
		if (flood && sent == flood && replies && time(NULL) - last_reply > 20)
			break;
	}
	if (!is_exited) {
		kill(pid, SIGTERM);
		for (int k = 0; k < 50 && waitpid(pid, &status, WNOHANG) != pid; k++)
			usleep(100000);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (flood)
		printf(
		    "peer: flood %ld sent %ld pushback %ld replies %ld in-order %ld backwards %ld "
		    "missing %ld\n",
		    flood, sent, pushback, replies, in_order, backwards, flood - replies);
	printf("peer: answered %ld pings\n", pings);
	if (is_waiting)
		printf("peer: vmm exit %d\n",
		       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	if (flood && is_waiting)
		return sent == flood && replies == flood && in_order == flood && is_exited ? 0 : 1;
	if (flood)
		return sent == flood && backwards == 0 && replies > 0 ? 0 : 1;
	return pings > 0 ? 0 : 1;
}

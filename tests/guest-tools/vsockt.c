/* tests/guest-tools/vsockt.c — vsock test tool, static, used inside the Linux guest (AF_VSOCK)
 * and on the host side (Unix sockets, Firecracker's CONNECT protocol).
 *
 *   vsockt server vsock:PORT|unix:PATH NCONN   accept NCONN connections (one child each)
 *   vsockt client ADDR MODE BYTES              one connection; MODE e (echo: send BYTES,
 *                                              read them back), s (sink: the server counts
 *                                              and hashes what we send), g (the server
 *                                              generates BYTES for us), p (like s, but
 *                                              the server stops reading for 10 s after
 *                                              the first MiB: a stalled peer)
 *   vsockt many ADDR K                          K connections at once, 4 KiB echo each
 * ADDR for clients: vsock:CID:PORT, hyb:UDS:PORT (CONNECT PORT on UDS), unix:PATH.
 * The first byte on a connection is the mode; g is followed by 8 bytes of count. Prints
 * one line "VSOCKT <what> ok ..." or "VSOCKT <what> FAIL ..." (errno names for the
 * connect-refused checks), exit status 0 on ok.
 *
 * Trusts: nothing it reads (counts bounded, patterns checked).
 */
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
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static uint8_t pat(uint64_t i, unsigned seed)
{
	return (uint8_t)((i * 131 + seed + (i >> 12)) & 0xff);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int wr(int fd, const void *b, size_t n)
{
	while (n) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b = (const char *)b + k;
		n -= (size_t)k;
	}
	return 0;
}

static int rd(int fd, void *b, size_t n)
{
	while (n) {
		ssize_t k = read(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b = (char *)b + k;
		n -= (size_t)k;
	}
	return 0;
}

static const char *ename(int e)
{
	switch (e) {
	case ECONNRESET:
		return "ECONNRESET";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case ENOENT:
		return "ENOENT";
	default:
		return strerror(e);
	}
}

static int dial(const char *addr, char *why, size_t wl)
{
	char a[200];
	snprintf(a, sizeof(a), "%s", addr);
	if (!strncmp(a, "vsock:", 6)) {
		char *p = strchr(a + 6, ':');
		if (!p)
			return -1;
		struct sockaddr_vm sv = {.svm_family = AF_VSOCK,
					 .svm_cid = (unsigned)atoi(a + 6),
					 .svm_port = (unsigned)atoi(p + 1)};
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sv, sizeof(sv)) < 0) {
			snprintf(why, wl, "connect errno=%s", ename(errno));
			return -1;
		}
		return fd;
	}
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	char *path = strchr(a, ':') + 1, *port = NULL;
	if (!strncmp(a, "hyb:", 4)) {
		port = strrchr(path, ':');
		*port++ = 0;
	}
	snprintf(su.sun_path, sizeof(su.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&su, sizeof(su)) < 0) {
		snprintf(why, wl, "connect errno=%s", ename(errno));
		return -1;
	}
	if (port) {
		char line[40], c;
		size_t n = 0;
		int l = snprintf(line, sizeof(line), "CONNECT %s\n", port);
		if (wr(fd, line, (size_t)l))
			goto closed;
		while (n < sizeof(line) - 1) {
			if (read(fd, &c, 1) != 1)
				goto closed;
			line[n++] = c;
			if (c == '\n')
				break;
		}
		line[n] = 0;
		if (strncmp(line, "OK ", 3)) {
			snprintf(why, wl, "bad answer '%.20s'", line);
			close(fd);
			return -1;
		}
	}
	return fd;
closed:
	snprintf(why, wl, "connection closed before OK");
	close(fd);
	return -1;
}

static void serve_one(int fd)
{
	static uint8_t buf[1 << 16];
	char mode;
	if (rd(fd, &mode, 1))
		_exit(1);
	if (mode == 'e') {
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (wr(fd, buf, (size_t)n))
				_exit(1);
		shutdown(fd, SHUT_WR);
	} else if (mode == 's' || mode == 'p') {
		uint64_t cnt = 0, h = 1469598103934665603ULL;
		ssize_t n;
		bool stalled = false;
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < n; i++)
				h = (h ^ buf[i]) * 1099511628211ULL;
			cnt += (uint64_t)n;
			if (mode == 'p' && !stalled && cnt >= (1u << 20)) {
				stalled = true;
				printf("VSOCKT server stalling 10 s at %llu\n",
				       (unsigned long long)cnt);
				sleep(10);
				printf("VSOCKT server reading again\n");
			}
		}
		uint64_t out[2] = {cnt, h};
		wr(fd, out, sizeof(out));
	} else if (mode == 'g') {
		uint64_t cnt, off = 0;
		if (rd(fd, &cnt, 8))
			_exit(1);
		while (off < cnt) {
			size_t n = cnt - off < sizeof(buf) ? cnt - off : sizeof(buf);
			for (size_t i = 0; i < n; i++)
				buf[i] = pat(off + i, 7);
			if (wr(fd, buf, n))
				_exit(1);
			off += n;
		}
	}
	close(fd);
	_exit(0);
}

static int server(const char *addr, int nconn)
{
	int lfd;
	if (!strncmp(addr, "vsock:", 6)) {
		struct sockaddr_vm sv = {.svm_family = AF_VSOCK,
					 .svm_cid = VMADDR_CID_ANY,
					 .svm_port = (unsigned)atoi(addr + 6)};
		lfd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&sv, sizeof(sv)) < 0)
			return perror("vsock bind"), 1;
	} else {
		struct sockaddr_un su = {.sun_family = AF_UNIX};
		snprintf(su.sun_path, sizeof(su.sun_path), "%s", addr + 5);
		unlink(su.sun_path);
		lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&su, sizeof(su)) < 0)
			return perror("unix bind"), 1;
	}
	if (listen(lfd, 1024) < 0)
		return perror("listen"), 1;
	printf("VSOCKT server listening %s\n", addr);
	fflush(stdout);
	for (int i = 0; i < nconn; i++) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			i--;
			continue;
		}
		if (fork() == 0)
			serve_one(fd);
		close(fd);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	while (wait(NULL) > 0)
		;
	return 0;
}

static int client(const char *addr, char mode, uint64_t bytes)
{
	static uint8_t buf[1 << 16], back[1 << 16];
	char why[100] = "";
	int fd = dial(addr, why, sizeof(why));
	double t0 = now();
	uint64_t off = 0, got = 0, h = 1469598103934665603ULL;

	if (fd < 0) {
		printf("VSOCKT client %s FAIL %s\n", addr, why);
		return 1;
	}
	wr(fd, &mode, 1);
	if (mode == 'g') {
		wr(fd, &bytes, 8);
		ssize_t n;
		while ((n = read(fd, back, sizeof(back))) > 0) {
			for (ssize_t i = 0; i < n; i++)
				if (back[i] != pat(got + (uint64_t)i, 7)) {
					printf("VSOCKT client %s FAIL data at %llu\n", addr,
					       (unsigned long long)(got + (uint64_t)i));
					return 1;
				}
			got += (uint64_t)n;
		}
	} else {
		/* Non-blocking while both directions run: a blocking write of a whole buffer
		 * could wait for credit that only comes once we read the echo back (the peer's
		 * echo stops when our receive side is full) — a deadlock of the tool, not of
		 * the transport. */
		int fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		while (off < bytes || (mode == 'e' && got < bytes)) {
			struct pollfd p = {.fd = fd,
					   .events = (short)((off < bytes ? POLLOUT : 0) |
							     (mode == 'e' ? POLLIN : 0))};
			if (poll(&p, 1, 20000) <= 0) {
				printf("VSOCKT client %s FAIL stalled at %llu/%llu\n", addr,
				       (unsigned long long)off, (unsigned long long)got);
				return 1;
			}
			if ((p.revents & POLLOUT) && off < bytes) {
				size_t n = bytes - off < sizeof(buf) ? bytes - off : sizeof(buf);
				for (size_t i = 0; i < n; i++)
					buf[i] = pat(off + i, 3);
				ssize_t k = write(fd, buf, n);
				if (k > 0) {
					for (ssize_t i = 0; i < k; i++)
						h = (h ^ buf[i]) * 1099511628211ULL;
					off += (uint64_t)k;
				}
				if (off == bytes && (mode == 's' || mode == 'p'))
					shutdown(fd, SHUT_WR);
			}
			if (p.revents & (POLLIN | POLLHUP)) {
				ssize_t k = read(fd, back, sizeof(back));
				if (k < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (k <= 0) {
					printf("VSOCKT client %s FAIL eof at %llu\n", addr,
					       (unsigned long long)got);
					return 1;
				}
				for (ssize_t i = 0; i < k; i++)
					if (back[i] != pat(got + (uint64_t)i, 3)) {
						printf("VSOCKT client %s FAIL echo data\n", addr);
						return 1;
					}
				got += (uint64_t)k;
			}
		}
		fcntl(fd, F_SETFL, fl);
		if (mode == 'e')
			shutdown(fd, SHUT_WR);
		if (mode == 's' || mode == 'p') {
			uint64_t res[2];
			if (rd(fd, res, sizeof(res)) || res[0] != bytes || res[1] != h) {
				printf("VSOCKT client %s FAIL sink checksum\n", addr);
				return 1;
			}
			got = bytes;
		}
	}
	double dt = now() - t0;
	printf("VSOCKT client %s %c ok bytes=%llu MBps=%.1f\n", addr, mode, (unsigned long long)got,
	       got / dt / 1e6);
	close(fd);
	return got == bytes ? 0 : 1;
}

static int many(const char *addr, int k)
{
	int *fds = calloc((size_t)k, sizeof(int)), ok = 0;
	char why[100];
	static uint8_t buf[4096], back[4096];
	for (int i = 0; i < k; i++) {
		fds[i] = dial(addr, why, sizeof(why));
		if (fds[i] < 0) {
			printf("VSOCKT many FAIL conn %d: %s\n", i, why);
			return 1;
		}
		wr(fds[i], "e", 1);
	}
	for (int i = 0; i < k; i++) {
		for (size_t j = 0; j < sizeof(buf); j++)
			buf[j] = pat(j, (unsigned)i);
		if (wr(fds[i], buf, sizeof(buf)))
			return printf("VSOCKT many FAIL write %d\n", i), 1;
	}
	for (int i = 0; i < k; i++) {
		if (rd(fds[i], back, sizeof(back)))
			return printf("VSOCKT many FAIL read %d\n", i), 1;
		for (size_t j = 0; j < sizeof(back); j++)
			buf[j] = pat(j, (unsigned)i);
		ok += !memcmp(buf, back, sizeof(buf));
		close(fds[i]);
	}
	printf("VSOCKT many %s %s conns=%d good=%d\n", addr, ok == k ? "ok" : "FAIL", k, ok);
	return ok != k;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "server"))
		return server(argv[2], atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(argv[2], argv[3][0], strtoull(argv[4], NULL, 0));
	if (argc == 4 && !strcmp(argv[1], "many"))
		return many(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: vsockt server|client|many ...\n");
	return 2;
}

/* config_net.c — network interfaces: the --net syntax and the checks every field of a
 * struct vm_net_config goes through, whether it comes from the command line, the JSON file
 * (core/config.c) or the library API (core/arcvmm.c).
 *
 * Trusts nothing it reads: a spec is split at commas here and nowhere else, and each
 * value is checked for what its field can hold (a MAC is six hex pairs, a TAP name is one
 * Linux accepts, a forward parses completely), so a value can never smuggle in options.
 */
#include "core/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Messages quote the user's values; a cut message is still an error, never a success. */
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static unsigned hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return (unsigned)(ch - '0');
	return (unsigned)((ch | 0x20) - 'a' + 10);
}

int config_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t v[6];

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (unsigned i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		if (!is_hex(p[0]) || !is_hex(p[1]) || (i < 5 && p[2] != ':'))
			return -EINVAL;
		v[i] = (uint8_t)(hex_value(p[0]) << 4 | hex_value(p[1]));
	}
	if (v[0] & 1)
		return -EINVAL; /* multicast: not a station address */
	memcpy(mac, v, 6);
	return 0;
}

static int parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
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

int config_net_hostname(const char *s, char *out, size_t outlen)
{
	size_t n = strlen(s);

	if (n == 0 || n >= outlen || n > 32)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return -EINVAL;
	memcpy(out, s, n + 1);
	return 0;
}

int config_parse_hostfwd(const char *s, struct slirp_fwd *f)
{
	memset(f, 0, sizeof(*f));
	if (!s)
		return -EINVAL;
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

/* What the kernel's dev_valid_name() refuses, plus ',' (our option separator). */
const char *config_tap_name_problem(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (len == 0 || len >= IFNAMSIZ)
		return "interface name must be 1 to 15 characters";
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return "not an interface name";
	for (const char *p = s; *p; p++) {
		if (*p == '/' || *p == ',' || *p == ':' || isspace((unsigned char)*p) ||
		    (unsigned char)*p < 0x20 || *p == 0x7f)
			return "interface name with '/', ',', ':', whitespace or a control "
			       "character";
	}
	return NULL;
}

void config_describe_net(const struct vm_net_config *n, char *buf, size_t len)
{
	/* For messages: every value fits ("tap=" + 15 bytes, "fd=" + 10 digits). */
	switch (n->kind) {
	case VM_NET_TAP:
		snprintf(buf, len, "tap=%s", n->tap);
		break;
	case VM_NET_FD:
		snprintf(buf, len, "fd=%d", n->fd);
		break;
	case VM_NET_USER:
		snprintf(buf, len, "user");
		break;
	default:
		snprintf(buf, len, "none");
		break;
	}
}

/* One "key=value" (or bare word) of a --net spec. */
static int net_token(struct vm_net_config *n, char *tok, const char *spec, char *err, size_t errlen)
{
	if (!strncmp(tok, "tap=", 4) && n->kind == VM_NET_NONE) {
		const char *why = config_tap_name_problem(tok + 4);
		if (why)
			return fail(err, errlen, "--net %s: %s", tok, why);
		n->kind = VM_NET_TAP;
		memcpy(n->tap, tok + 4, strlen(tok + 4) + 1);
	} else if (!strncmp(tok, "fd=", 3) && n->kind == VM_NET_NONE) {
		char *end;
		errno = 0;
		long v = strtol(tok + 3, &end, 10);
		if (!tok[3] || *end || errno || v < 0 || v > INT_MAX ||
		    !isdigit((unsigned char)tok[3]))
			return fail(err, errlen, "--net %s: not a file descriptor number", tok);
		n->kind = VM_NET_FD;
		n->fd = (int)v;
	} else if (!strcmp(tok, "user") && n->kind == VM_NET_NONE) {
		n->kind = VM_NET_USER;
	} else if (!strncmp(tok, "mac=", 4)) {
		if (config_parse_mac(tok + 4, n->mac))
			return fail(err, errlen, "--net %s: malformed MAC address", tok);
		n->has_mac = true;
	} else if (!strncmp(tok, "rx-bw=", 6) || !strncmp(tok, "tx-bw=", 6) ||
		   !strncmp(tok, "rx-ops=", 7) || !strncmp(tok, "tx-ops=", 7)) {
		char why[160];
		struct rate_limiter_config *c = tok[0] == 't' ? &n->tx_rl : &n->rx_rl;
		struct rl_bucket_config *bk = tok[3] == 'b' ? &c->bandwidth : &c->ops;
		if (rl_bucket_parse(bk, strchr(tok, '=') + 1, why, sizeof(why)))
			return fail(err, errlen, "--net %s: %s", spec, why);
	} else if (!strncmp(tok, "hostname=", 9) && n->kind == VM_NET_USER) {
		if (config_net_hostname(tok + 9, n->hostname, sizeof(n->hostname)))
			return fail(err, errlen,
				    "--net %s: a hostname is 1 to 32 letters, digits, '-' and '.'",
				    tok);
	} else if (!strncmp(tok, "hostfwd=", 8) && n->kind == VM_NET_USER) {
		if (n->nr_fwds >= SLIRP_MAX_FWDS)
			return fail(err, errlen, "--net %s: more than %d forwards", tok,
				    SLIRP_MAX_FWDS);
		if (config_parse_hostfwd(tok + 8, &n->fwds[n->nr_fwds]))
			return fail(err, errlen,
				    "--net %s: malformed forward (want "
				    "hostfwd=tcp::HOSTPORT-:GUESTPORT)",
				    tok);
		n->nr_fwds++;
	} else {
		return fail(err, errlen,
			    "--net %s: unknown option (want tap=NAME, fd=N or user, then mac=, "
			    "hostfwd=, hostname=, rx-bw=, rx-ops=, tx-bw=, tx-ops=)",
			    tok);
	}
	return 0;
}

int config_parse_net(struct vm_net_config *n, const char *spec, char *err, size_t errlen)
{
	char *copy, *save = NULL, *tok;
	int r = 0;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (!spec || !*spec)
		return fail(err, errlen, "--net: empty (use tap=NAME, fd=N, user or none)");
	if (!strcmp(spec, "none"))
		return 0;
	copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !r; tok = strtok_r(NULL, ",", &save))
		r = net_token(n, tok, spec, err, errlen);
	if (!r && n->kind == VM_NET_NONE)
		r = fail(err, errlen, "--net %s: no backend (want tap=NAME, fd=N or user)", spec);
	free(copy);
	if (r) {
		memset(n, 0, sizeof(*n));
		n->fd = -1;
	}
	return r;
}

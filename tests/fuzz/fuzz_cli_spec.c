/* tests/fuzz/fuzz_cli_spec.c — libFuzzer target for the command line's option-spec parsers
 * (core/config*.c, util/rate_limiter.c's bucket syntax; instrumented): --disk, --net,
 * --vsock, --balloon, --memory-reclaim, and the value parsers under them (MAC, hostfwd,
 * sizes, rate-limiter buckets). fuzz_config covers the JSON file and overlaps on --disk and
 * --net; here every spec parser gets its own selector and its promises are checked:
 *   --disk: a path of at most VM_DISK_PATH_MAX bytes, an id of at most VM_DISK_ID_MAX,
 *           1..16 queues; --net: the fields only hold what they can (a TAP name Linux
 *           accepts, a unicast MAC, forwards only for user networking, fd >= 0);
 *   --vsock: a CID in 3 .. 2^32-2 and a non-empty path of at most VSOCK_UDS_MAX bytes;
 *   a MAC accepted is six hex pairs that print back to the input and is unicast;
 *   a size accepted is a multiple of 4 KiB (0 too: callers check their minimums); a
 *   second --vsock/--balloon is refused.
 * Input: one selector byte, then the spec (a NUL-terminated copy).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/reclaim.h"
#include "devices/virtio_vsock.h"
#include "util/rate_limiter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_net(const struct vm_net_config *n)
{
	if (n->kind == VM_NET_TAP &&
	    (!memchr(n->tap, 0, sizeof(n->tap)) || config_tap_name_problem(n->tap)))
		abort();
	if (n->has_mac && (n->mac[0] & 1))
		abort();
	if (n->nr_fwds > SLIRP_MAX_FWDS || (n->nr_fwds && n->kind != VM_NET_USER))
		abort();
	if (n->kind == VM_NET_FD && n->fd < 0)
		abort();
	if (!memchr(n->hostname, 0, sizeof(n->hostname)))
		abort();
}

static void check_mac(const char *text, const uint8_t mac[6])
{
	char again[18];

	if (mac[0] & 1)
		abort();
	snprintf(again, sizeof(again), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	if (strcasecmp(again, text))
		abort();
}

static void twice(int (*set)(struct vm_config *, const char *, char *, size_t), const char *spec,
		  bool is_vsock)
{
	struct vm_config c;
	char err[512];

	config_init(&c);
	if (set(&c, spec, err, sizeof(err)) == 0) {
		if (is_vsock && (c.vsock_cid < 3 || c.vsock_cid >= 0xffffffffULL || !c.vsock_uds ||
				 !*c.vsock_uds || strlen(c.vsock_uds) > VSOCK_UDS_MAX))
			abort();
		if (set(&c, spec, err, sizeof(err)) == 0)
			abort(); /* a second one must be refused */
	}
	config_fini(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512] = "";

	if (size < 1 || size > 16 * 1024)
		return 0;
	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	switch (data[0] % 9) {
	case 0: {
		struct vm_disk_config d;
		memset(&d, 0, sizeof(d));
		if (config_parse_disk(&d, text, err, sizeof(err)) == 0) {
			if (!d.path || strlen(d.path) > VM_DISK_PATH_MAX ||
			    (d.id && strlen(d.id) > VM_DISK_ID_MAX) || d.nr_queues < 1 ||
			    d.nr_queues > 16)
				abort();
			free(d.path);
			free(d.id);
		}
		break;
	}
	case 1: {
		struct vm_net_config n;
		memset(&n, 0, sizeof(n));
		if (config_parse_net(&n, text, err, sizeof(err)) == 0)
			check_net(&n);
		break;
	}
	case 2:
		twice(config_set_vsock, text, true);
		break;
	case 3:
		twice(config_set_balloon, text, false);
		break;
	case 4: {
		struct reclaim_config r;
		memset(&r, 0, sizeof(r));
		config_parse_reclaim(&r, text, err, sizeof(err));
		break;
	}
	case 5: {
		uint8_t mac[6];
		if (config_parse_mac(text, mac) == 0)
			check_mac(text, mac);
		break;
	}
	case 6: {
		struct slirp_fwd f;
		memset(&f, 0, sizeof(f));
		config_parse_hostfwd(text, &f);
		break;
	}
	case 7: {
		uint64_t v = 0;
		if (config_parse_size(text, &v) == 0 && v % 4096)
			abort();
		break;
	}
	default: {
		struct rl_bucket_config b;
		memset(&b, 0, sizeof(b));
		rl_bucket_parse(&b, text, err, sizeof(err));
		break;
	}
	}
	if (!memchr(err, 0, sizeof(err)))
		abort(); /* every message is one terminated line */
	free(text);
	return 0;
}

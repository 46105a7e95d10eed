/* tests/fuzz/fuzz_config.c — libFuzzer target for the user-facing config parsers: the JSON
 * file (core/config.c: drives, network interfaces, balloon, rate limiters), --net
 * (core/config_net.c: backends, MACs, forwards) and --disk.
 *
 * The first input byte picks the parser, the rest is the text (NUL-terminated copy). On
 * top of the sanitizers it checks what the audit of issue #14 was about: whatever the
 * input, a parsed interface holds only values its fields can hold (a NUL-terminated TAP
 * name Linux accepts, a unicast MAC, at most SLIRP_MAX_FWDS forwards) and a parsed drive
 * path is never longer than VM_DISK_PATH_MAX.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

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
}

static void check_config(const struct vm_config *c)
{
	if (c->nr_nets > VM_MAX_NETS || c->nr_disks > VM_MAX_DISKS)
		abort();
	for (unsigned i = 0; i < c->nr_nets; i++)
		check_net(&c->nets[i]);
	for (unsigned i = 0; i < c->nr_disks; i++) {
		const struct vm_disk_config *d = &c->disks[i];
		if (!d->path || strlen(d->path) > VM_DISK_PATH_MAX ||
		    (d->id && strlen(d->id) > VM_DISK_ID_MAX) || d->nr_queues < 1 ||
		    d->nr_queues > 16)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];

	if (size < 1 || size > 64 * 1024)
		return 0;
	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	switch (data[0] % 3) {
	case 0: {
		struct vm_config c;
		config_init(&c);
		if (config_parse_json(&c, text, "fuzz.json", err, sizeof(err)) == 0)
			check_config(&c);
		config_fini(&c);
		break;
	}
	case 1: {
		struct vm_net_config n;
		if (config_parse_net(&n, text, err, sizeof(err)) == 0)
			check_net(&n);
		break;
	}
	default: {
		struct vm_disk_config d;
		if (config_parse_disk(&d, text, err, sizeof(err)) == 0) {
			if (!d.path || strlen(d.path) > VM_DISK_PATH_MAX)
				abort();
			free(d.path);
			free(d.id);
		}
		break;
	}
	}
	free(text);
	return 0;
}

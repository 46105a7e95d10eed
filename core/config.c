/* config.c — command line and JSON config parsing into struct vm_config.
 *
 * Trusts nothing it reads: numbers are parsed with range and overflow checks, unknown flags
 * and unknown JSON keys are errors, and every message names the option and the value.
 * JSON goes through cJSON (Debian's libcjson): a kept library beats a hand-written parser.
 */
#include "core/config.h"

#include <cJSON.h>

#include "core/config_rl.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CONFIG_FILE (1 << 20)

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ncpus = 1;
	c->mem_size = 256ULL << 20;
	c->protocol = BOOT_PROTO_AUTO;
	c->console = VM_CONSOLE_SERIAL;
	c->console_in_fd = 0;
	c->console_out_fd = 1;
	c->has_rng = true;
	c->has_acpi = true;
	c->log_level = -1;
	c->seccomp = SECCOMP_ON;
	c->jail_uid = 65534;
	c->jail_gid = 65534;
	c->reclaim.mode = RECLAIM_AUTO;
}

void config_fini(struct vm_config *c)
{
	free(c->kernel);
	free(c->initrd);
	free(c->cmdline);
	free(c->jail_dir);
	for (unsigned i = 0; i < c->nr_disks; i++) {
		free(c->disks[i].path);
		free(c->disks[i].id);
	}
	free(c->balloon);
	free(c->vsock_uds);
	for (unsigned i = 0; i < c->nr_fs; i++)
		free(c->fs[i].path);
	memset(c, 0, sizeof(*c));
}

static int set_str(char **dst, const char *src)
{
	char *s = strdup(src);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	char *end;
	uint64_t shift = 20; /* no suffix: MiB */

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' || *end == 'B' || *end == 'b') { /* accept "MiB", "MB", "M" alike */
		if (*end == 'i')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
	}
	if (*end != '\0')
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	v <<= shift;
	if (v & 0xfff)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* opt and val name the setting in messages ("--memory 64k", "mem_size_mib 8"). */
static int check_memory(uint64_t size, const char *opt, const char *val, char *err, size_t errlen)
{
	if (size < VM_MIN_MEM)
		return fail(err, errlen, "%s %s: too small (minimum 16 MiB)", opt, val);
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	if (pages > 0 && psize > 0 && size / (uint64_t)psize > (uint64_t)pages)
		return fail(err, errlen, "%s %s: more than the host's %" PRIu64 " MiB of RAM", opt,
			    val, ((uint64_t)pages * (uint64_t)psize) >> 20);
	return 0;
}

static int set_memory(struct vm_config *c, const char *arg, char *err, size_t errlen)
{
	uint64_t size;
	int r = config_parse_size(arg, &size);

	if (r == -ERANGE)
		return fail(err, errlen, "--memory %s: too large", arg);
	if (r)
		return fail(err, errlen,
			    "--memory %s: not a size (use e.g. 256M or 2G; a plain number is MiB; "
			    "a multiple of 4 KiB)",
			    arg);
	r = check_memory(size, "--memory", arg, err, errlen);
	if (r)
		return r;
	c->mem_size = size;
	return 0;
}

/* "none"/"None" or "2M" (Firecracker's machine-config huge_pages values). */
static int set_huge_pages(struct vm_config *c, const char *arg, const char *opt, char *err,
			  size_t errlen)
{
	if (!strcasecmp(arg, "none"))
		c->huge_pages = false;
	else if (!strcasecmp(arg, "2M"))
		c->huge_pages = true;
	else
		return fail(err, errlen, "%s %s: must be none or 2M", opt, arg);
	return 0;
}

static int set_cpus(struct vm_config *c, const char *arg, const char *opt, char *err, size_t errlen)
{
	unsigned long v;

	if (parse_uint(arg, ULONG_MAX, &v))
		return fail(err, errlen, "%s %s: not a number", opt, arg);
	if (v == 0)
		return fail(err, errlen, "%s %s: a VM needs at least one vCPU", opt, arg);
	if (v > VM_MAX_CPUS)
		return fail(err, errlen, "%s %s: too many (at most %d)", opt, arg, VM_MAX_CPUS);
	c->ncpus = (unsigned)v;
	return 0;
}

int config_parse_disk(struct vm_disk_config *d, const char *spec, char *err, size_t errlen)
{
	char *copy = strdup(spec), *save = NULL, *tok;
	int r = 0;

	memset(d, 0, sizeof(*d));
	d->nr_queues = 1;
	if (!copy)
		return -ENOMEM;
	tok = strtok_r(copy, ",", &save);
	if (!tok || spec[0] == ',') {
		r = fail(err, errlen, "--disk %s: missing the image path", spec);
		goto out;
	}
	if (strlen(tok) > VM_DISK_PATH_MAX) {
		r = fail(err, errlen, "--disk: image path longer than %d bytes", VM_DISK_PATH_MAX);
		goto out;
	}
	d->path = strdup(tok);
	if (!d->path) {
		r = -ENOMEM;
		goto out;
	}
	while ((tok = strtok_r(NULL, ",", &save))) {
		unsigned long v;
		if (!strcmp(tok, "ro")) {
			d->is_read_only = true;
		} else if (!strcmp(tok, "rw")) {
			d->is_read_only = false;
		} else if (!strcmp(tok, "direct")) {
			d->is_direct = true;
		} else if (!strncmp(tok, "id=", 3)) {
			if (strlen(tok + 3) > VM_DISK_ID_MAX) {
				r = fail(err, errlen, "--disk %s: id too long (at most %d bytes)",
					 spec, VM_DISK_ID_MAX);
				goto out;
			}
			free(d->id);
			d->id = strdup(tok + 3);
			if (!d->id) {
				r = -ENOMEM;
				goto out;
			}
		} else if (!strncmp(tok, "queues=", 7)) {
			if (parse_uint(tok + 7, 16, &v) || v == 0) {
				r = fail(err, errlen, "--disk %s: queues must be 1..16", spec);
				goto out;
			}
			d->nr_queues = (unsigned)v;
		} else if (!strncmp(tok, "bw=", 3) || !strncmp(tok, "ops=", 4)) {
			char why[160];
			struct rl_bucket_config *bk =
			    tok[0] == 'b' ? &d->rate_limiter.bandwidth : &d->rate_limiter.ops;
			if (rl_bucket_parse(bk, strchr(tok, '=') + 1, why, sizeof(why))) {
				r = fail(err, errlen, "--disk %s: %s", spec, why);
				goto out;
			}
		} else {
			r = fail(
			    err, errlen,
			    "--disk %s: unknown option '%s' (known: ro, id=, direct, queues=, bw=, "
			    "ops=)",
			    spec, tok);
			goto out;
		}
	}
out:
	free(copy);
	if (r) {
		free(d->path);
		free(d->id);
		memset(d, 0, sizeof(*d));
	}
	return r;
}

static int add_disk(struct vm_config *c, const char *spec, char *err, size_t errlen)
{
	if (c->nr_disks == VM_MAX_DISKS)
		return fail(err, errlen, "--disk %s: too many disks (at most %d)", spec,
			    VM_MAX_DISKS);
	int r = config_parse_disk(&c->disks[c->nr_disks], spec, err, errlen);
	if (r == 0)
		c->nr_disks++;
	return r;
}

static int add_net(struct vm_config *c, const char *spec, char *err, size_t errlen)
{
	if (c->nr_nets == VM_MAX_NETS)
		return fail(err, errlen, "--net %s: too many interfaces (at most %d)", spec,
			    VM_MAX_NETS);
	int r = config_parse_net(&c->nets[c->nr_nets], spec, err, errlen);
	if (r == 0)
		c->nr_nets++;
	return r;
}

static int set_protocol(struct vm_config *c, const char *arg, char *err, size_t errlen)
{
	if (!strcmp(arg, "auto"))
		c->protocol = BOOT_PROTO_AUTO;
	else if (!strcmp(arg, "pvh"))
		c->protocol = BOOT_PROTO_PVH;
	else if (!strcmp(arg, "linux64") || !strcmp(arg, "64"))
		c->protocol = BOOT_PROTO_LINUX64;
	else
		return fail(err, errlen, "--boot %s: unknown protocol (auto, pvh or linux64)", arg);
	return 0;
}

static int set_console(struct vm_config *c, const char *arg, char *err, size_t errlen)
{
	if (!strcmp(arg, "serial"))
		c->console = VM_CONSOLE_SERIAL;
	else if (!strcmp(arg, "virtio"))
		c->console = VM_CONSOLE_VIRTIO;
	else
		return fail(err, errlen, "--console %s: unknown (serial or virtio)", arg);
	return 0;
}

/* --- JSON (Firecracker-like) --- */

static bool key_is_one_of(const char *k, const char *const *known)
{
	for (; *known; known++)
		if (!strcmp(k, *known))
			return true;
	return false;
}

static int check_keys(const cJSON *obj, const char *where, const char *const *known,
		      const char *name, char *err, size_t errlen)
{
	const cJSON *it;

	if (!cJSON_IsObject(obj))
		return fail(err, errlen, "%s: \"%s\" must be an object", name, where);
	cJSON_ArrayForEach(it, obj)
	{
		if (!key_is_one_of(it->string, known))
			return fail(err, errlen, "%s: unknown key \"%s\" in %s", name, it->string,
				    where);
	}
	return 0;
}

static int json_str(const cJSON *obj, const char *key, const char **out, const char *name,
		    char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!cJSON_IsString(v) || !v->valuestring)
		return fail(err, errlen, "%s: \"%s\" must be a string", name, key);
	*out = v->valuestring;
	return 0;
}

static int json_uint(const cJSON *obj, const char *key, double max, bool *present,
		     unsigned long long *out, const char *name, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*present = false;
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
	    v->valuedouble != (double)(unsigned long long)v->valuedouble)
		return fail(err, errlen, "%s: \"%s\" must be a whole number from 0 to %.0f", name,
			    key, max);
	*present = true;
	*out = (unsigned long long)v->valuedouble;
	return 0;
}

static int json_bool(const cJSON *obj, const char *key, bool *out, const char *name, char *err,
		     size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v)
		return 0;
	if (!cJSON_IsBool(v))
		return fail(err, errlen, "%s: \"%s\" must be true or false", name, key);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int json_boot_source(struct vm_config *c, const cJSON *bs, const char *name, char *err,
			    size_t errlen)
{
	static const char *const known[] = {"kernel_image_path", "initrd_path", "boot_args",
					    "boot_protocol", NULL};
	const char *s;
	int r = check_keys(bs, "boot-source", known, name, err, errlen);

	if (r)
		return r;
	if ((r = json_str(bs, "kernel_image_path", &s, name, err, errlen)))
		return r;
	if (!s)
		return fail(err, errlen, "%s: boot-source needs \"kernel_image_path\"", name);
	if ((r = set_str(&c->kernel, s)))
		return r;
	if ((r = json_str(bs, "initrd_path", &s, name, err, errlen)))
		return r;
	if (s && (r = set_str(&c->initrd, s)))
		return r;
	if ((r = json_str(bs, "boot_args", &s, name, err, errlen)))
		return r;
	if (s && (r = set_str(&c->cmdline, s)))
		return r;
	if ((r = json_str(bs, "boot_protocol", &s, name, err, errlen)))
		return r;
	if (s)
		return set_protocol(c, s, err, errlen);
	return 0;
}

static int json_machine(struct vm_config *c, const cJSON *mc, const char *name, char *err,
			size_t errlen)
{
	static const char *const known[] = {"vcpu_count",	 "mem_size_mib", "smt",
					    "track_dirty_pages", "huge_pages",	 NULL};
	unsigned long long v;
	bool present, smt = false;
	int r = check_keys(mc, "machine-config", known, name, err, errlen);

	if (r)
		return r;
	if ((r = json_uint(mc, "vcpu_count", 1e6, &present, &v, name, err, errlen)))
		return r;
	if (present) {
		char num[32]; /* v <= 1e6: always fits */
		snprintf(num, sizeof(num), "%llu", v);
		if ((r = set_cpus(c, num, "vcpu_count", err, errlen)))
			return r;
	}
	if ((r = json_uint(mc, "mem_size_mib", 1e9, &present, &v, name, err, errlen)))
		return r;
	if (present) {
		char num[32]; /* v <= 1e9: always fits */
		snprintf(num, sizeof(num), "%llu", v);
		if ((r = check_memory(v << 20, "mem_size_mib", num, err, errlen)))
			return r;
		c->mem_size = v << 20;
	}
	const char *hp;
	if ((r = json_str(mc, "huge_pages", &hp, name, err, errlen)))
		return r;
	if (hp && (r = set_huge_pages(c, hp, "machine-config huge_pages", err, errlen)))
		return r;
	if ((r = json_bool(mc, "smt", &smt, name, err, errlen)))
		return r;
	if (smt)
		return fail(err, errlen, "%s: \"smt\": true is not supported", name);
	return 0;
}

/* "drive \"root\"" or "drive 2": how messages name a drive or an interface. The id is
 * the user's: a long one only makes the message longer (err is cut, still an error). */
static void json_item_name(char *buf, size_t len, const char *kind, const char *id, unsigned index)
{
	if (id)
		snprintf(buf, len, "%s \"%s\"", kind, id);
	else
		snprintf(buf, len, "%s %u", kind, index);
}

static int json_drive(struct vm_disk_config *dc, const cJSON *d, unsigned index, const char *name,
		      char *err, size_t errlen)
{
	static const char *const known[] = {"drive_id",	      "path_on_host", "is_read_only",
					    "is_root_device", "io_engine",    "cache_type",
					    "num_queues",     "rate_limiter", NULL};
	const char *path, *id, *cache;
	unsigned long long nq = 1;
	bool present;
	char what[96];
	int r = check_keys(d, "a drive", known, name, err, errlen);

	if (r)
		return r;
	if ((r = json_str(d, "drive_id", &id, name, err, errlen)))
		return r;
	json_item_name(what, sizeof(what), "drive", id, index);
	if ((r = json_str(d, "path_on_host", &path, name, err, errlen)))
		return r;
	if (!path)
		return fail(err, errlen, "%s: %s needs \"path_on_host\"", name, what);
	if (!*path)
		return fail(err, errlen, "%s: %s: \"path_on_host\" is empty", name, what);
	if (strlen(path) > VM_DISK_PATH_MAX)
		return fail(err, errlen, "%s: %s: \"path_on_host\" is longer than %d bytes", name,
			    what, VM_DISK_PATH_MAX);
	if (id && strlen(id) > VM_DISK_ID_MAX)
		return fail(err, errlen, "%s: %s: \"drive_id\" is longer than %d bytes", name, what,
			    VM_DISK_ID_MAX);
	if ((r = json_bool(d, "is_read_only", &dc->is_read_only, name, err, errlen)))
		return r;
	if ((r = json_str(d, "cache_type", &cache, name, err, errlen)))
		return r;
	if (cache && strcmp(cache, "Unsafe") && strcmp(cache, "Writeback") &&
	    strcmp(cache, "Direct"))
		return fail(err, errlen,
			    "%s: %s: \"cache_type\" must be \"Unsafe\", \"Writeback\" or "
			    "\"Direct\"",
			    name, what);
	dc->is_direct = cache && !strcmp(cache, "Direct");
	if ((r = json_uint(d, "num_queues", 16, &present, &nq, name, err, errlen)))
		return r;
	if (present && nq == 0)
		return fail(err, errlen, "%s: %s: \"num_queues\" must be 1..16", name, what);
	dc->nr_queues = (unsigned)nq;
	if ((r = config_json_rate_limiter(cJSON_GetObjectItemCaseSensitive(d, "rate_limiter"),
					  &dc->rate_limiter, "a drive's \"rate_limiter\"", name,
					  err, errlen)))
		return r;
	if (!(dc->path = strdup(path)) || (id && !(dc->id = strdup(id))))
		return -ENOMEM;
	return 0;
}

/* Fills the disk config straight from the JSON values: no option string in between, so a
 * path may hold any byte (commas too) and nothing is ever cut. */
static int json_drives(struct vm_config *c, const cJSON *arr, const char *name, char *err,
		       size_t errlen)
{
	const cJSON *d;
	unsigned index = 0;

	if (!cJSON_IsArray(arr))
		return fail(err, errlen, "%s: \"drives\" must be an array", name);
	cJSON_ArrayForEach(d, arr)
	{
		if (c->nr_disks == VM_MAX_DISKS)
			return fail(err, errlen, "%s: too many drives (at most %d)", name,
				    VM_MAX_DISKS);
		struct vm_disk_config *dc = &c->disks[c->nr_disks];
		memset(dc, 0, sizeof(*dc));
		dc->nr_queues = 1;
		int r = json_drive(dc, d, index++, name, err, errlen);
		if (r) {
			free(dc->path);
			free(dc->id);
			memset(dc, 0, sizeof(*dc));
			return r;
		}
		c->nr_disks++;
	}
	return 0;
}

static int json_hostfwd(struct vm_net_config *nc, const cJSON *v, const char *what,
			const char *name, char *err, size_t errlen)
{
	const cJSON *one = v;

	if (!v)
		return 0;
	if (nc->kind != VM_NET_USER)
		return fail(err, errlen, "%s: %s: \"hostfwd\" needs \"backend\": \"user\"", name,
			    what);
	if (cJSON_IsArray(v))
		one = v->child;
	for (; one; one = cJSON_IsArray(v) ? one->next : NULL) {
		if (!cJSON_IsString(one) || !one->valuestring)
			return fail(err, errlen,
				    "%s: %s: \"hostfwd\" must be a string or an array of strings",
				    name, what);
		if (nc->nr_fwds >= SLIRP_MAX_FWDS)
			return fail(err, errlen, "%s: %s: more than %d forwards", name, what,
				    SLIRP_MAX_FWDS);
		if (config_parse_hostfwd(one->valuestring, &nc->fwds[nc->nr_fwds]))
			return fail(err, errlen,
				    "%s: %s: \"hostfwd\" \"%s\" is not a forward (want "
				    "\"tcp::HOSTPORT-:GUESTPORT\")",
				    name, what, one->valuestring);
		nc->nr_fwds++;
	}
	return 0;
}

static int json_net(struct vm_net_config *nc, const cJSON *n, unsigned index, const char *name,
		    char *err, size_t errlen)
{
	static const char *const known[] = {
	    "iface_id", "host_dev_name",   "guest_mac",	      "backend", "fd",
	    "hostfwd",	"rx_rate_limiter", "tx_rate_limiter", NULL};
	const char *id, *tap, *mac, *backend;
	unsigned long long fd = 0;
	bool has_fd;
	char what[96];
	int r = check_keys(n, "a network interface", known, name, err, errlen);

	if (r)
		return r;
	if ((r = json_str(n, "iface_id", &id, name, err, errlen)))
		return r;
	json_item_name(what, sizeof(what), "network interface", id, index);
	if ((r = json_str(n, "host_dev_name", &tap, name, err, errlen)) ||
	    (r = json_str(n, "guest_mac", &mac, name, err, errlen)) ||
	    (r = json_str(n, "backend", &backend, name, err, errlen)) ||
	    (r = json_uint(n, "fd", INT_MAX, &has_fd, &fd, name, err, errlen)))
		return r;
	/* "backend" may also just confirm what host_dev_name or fd says. */
	if (backend && strcmp(backend, "user") && strcmp(backend, "none") &&
	    strcmp(backend, "tap") && strcmp(backend, "fd"))
		return fail(err, errlen,
			    "%s: %s: \"backend\" must be \"user\", \"none\", \"tap\" or \"fd\"",
			    name, what);
	if ((tap && has_fd) || (tap && backend && strcmp(backend, "tap")) ||
	    (has_fd && backend && strcmp(backend, "fd")))
		return fail(err, errlen,
			    "%s: %s: \"host_dev_name\", \"fd\" and \"backend\" disagree", name,
			    what);
	if (tap) {
		const char *why = config_tap_name_problem(tap);
		if (why)
			return fail(err, errlen, "%s: %s: \"host_dev_name\" \"%s\": %s", name, what,
				    tap, why);
		nc->kind = VM_NET_TAP;
		memcpy(nc->tap, tap, strlen(tap) + 1);
	} else if (has_fd) {
		nc->kind = VM_NET_FD;
		nc->fd = (int)fd;
	} else if (backend && !strcmp(backend, "user")) {
		nc->kind = VM_NET_USER;
	} else if (backend && !strcmp(backend, "none")) {
		nc->kind = VM_NET_NONE;
	} else {
		return fail(err, errlen,
			    "%s: %s needs \"host_dev_name\" (TAP), \"fd\" or \"backend\": "
			    "\"user\" or \"none\"",
			    name, what);
	}
	if (mac) {
		if (nc->kind == VM_NET_NONE)
			return fail(err, errlen, "%s: %s: \"guest_mac\" with \"backend\": \"none\"",
				    name, what);
		if (config_parse_mac(mac, nc->mac))
			return fail(err, errlen,
				    "%s: %s: \"guest_mac\" \"%s\" is not a unicast MAC address "
				    "(six hex pairs, e.g. 02:00:00:00:00:01)",
				    name, what, mac);
		nc->has_mac = true;
	}
	if ((r = json_hostfwd(nc, cJSON_GetObjectItemCaseSensitive(n, "hostfwd"), what, name, err,
			      errlen)))
		return r;
	if ((r = config_json_rate_limiter(cJSON_GetObjectItemCaseSensitive(n, "rx_rate_limiter"),
					  &nc->rx_rl, "\"rx_rate_limiter\"", name, err, errlen)) ||
	    (r = config_json_rate_limiter(cJSON_GetObjectItemCaseSensitive(n, "tx_rate_limiter"),
					  &nc->tx_rl, "\"tx_rate_limiter\"", name, err, errlen)))
		return r;
	return 0;
}

/* Fills struct vm_net_config straight from the JSON values (the same struct --net fills):
 * no option string in between, so a value cannot add options; each is checked for what
 * its field can hold. */
static int json_nets(struct vm_config *c, const cJSON *arr, const char *name, char *err,
		     size_t errlen)
{
	const cJSON *n;
	unsigned index = 0;

	if (!cJSON_IsArray(arr))
		return fail(err, errlen, "%s: \"network-interfaces\" must be an array", name);
	cJSON_ArrayForEach(n, arr)
	{
		if (c->nr_nets == VM_MAX_NETS)
			return fail(err, errlen, "%s: too many network interfaces (at most %d)",
				    name, VM_MAX_NETS);
		struct vm_net_config *nc = &c->nets[c->nr_nets];
		memset(nc, 0, sizeof(*nc));
		nc->fd = -1;
		int r = json_net(nc, n, index++, name, err, errlen);
		if (r) {
			memset(nc, 0, sizeof(*nc));
			return r;
		}
		c->nr_nets++;
	}
	return 0;
}

/* cJSON turns "\u0000" into a NUL that silently ends the string: "a\u0000b" would name
 * the file "a". No value of ours can hold a NUL, so such a file is refused. */
static bool has_escaped_nul(const char *text)
{
	bool in_str = false;

	for (const char *p = text; *p; p++) {
		if (!in_str) {
			in_str = *p == '"';
			continue;
		}
		if (*p == '"') {
			in_str = false;
		} else if (*p == '\\') {
			if (p[1] == 'u' && !strncmp(p + 2, "0000", 4))
				return true;
			if (p[1])
				p++; /* the escaped character */
		}
	}
	return false;
}

int config_parse_json(struct vm_config *c, const char *text, const char *name, char *err,
		      size_t errlen)
{
	static const char *const known[] = {
	    "boot-source", "machine-config", "drives", "network-interfaces",
	    "console",	   "entropy",	     "logger", "metrics",
	    "balloon",	   "vsock",	     "fs",     NULL};
	cJSON *root;
	const cJSON *it;
	int r;

	if (has_escaped_nul(text))
		return fail(err, errlen, "%s: a string holds \\u0000 (no value can hold a NUL)",
			    name);
	root = cJSON_Parse(text);
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		long line = 1;
		for (const char *p = text; at && p < at && *p; p++)
			line += *p == '\n';
		return fail(err, errlen, "%s: malformed JSON near line %ld", name, line);
	}
	r = check_keys(root, "the top level", known, name, err, errlen);
	if (r)
		goto out;
	if (!(it = cJSON_GetObjectItemCaseSensitive(root, "boot-source"))) {
		r = fail(err, errlen, "%s: missing \"boot-source\"", name);
		goto out;
	}
	if ((r = json_boot_source(c, it, name, err, errlen)))
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "machine-config")) &&
	    (r = json_machine(c, it, name, err, errlen)))
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "drives")) &&
	    (r = json_drives(c, it, name, err, errlen)))
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "network-interfaces")) &&
	    (r = json_nets(c, it, name, err, errlen)))
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "console"))) {
		if (!cJSON_IsString(it)) {
			r = fail(err, errlen, "%s: \"console\" must be \"serial\" or \"virtio\"",
				 name);
			goto out;
		}
		if ((r = set_console(c, it->valuestring, err, errlen)))
			goto out;
	}
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "entropy"))) {
		if (!cJSON_IsBool(it)) {
			r = fail(err, errlen, "%s: \"entropy\" must be true or false", name);
			goto out;
		}
		c->has_rng = cJSON_IsTrue(it);
	}
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "balloon")) &&
	    (r = config_parse_balloon_json(c, it, name, err, errlen)))
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "vsock")) &&
	    (r = config_parse_vsock_json(c, it, name, err, errlen)))
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(root, "fs")) &&
	    (r = config_parse_fs_json(c, it, name, err, errlen)))
		goto out;
out:
	cJSON_Delete(root);
	return r;
}

int config_parse_json_file(struct vm_config *c, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, "--config %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, "--config %s: not a regular file", path);
	}
	if (st.st_size > MAX_CONFIG_FILE) {
		close(fd);
		return fail(err, errlen, "--config %s: too large (more than 1 MiB)", path);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	char *name;
	if (asprintf(&name, "--config %s", path) < 0) {
		free(buf);
		return -ENOMEM;
	}
	r = config_parse_json(c, buf, name, err, errlen);
	free(name);
	free(buf);
	return r;
}

/* --- command line --- */

void config_usage(FILE *f)
{
	fputs("usage: arcvmm --kernel FILE [options]\n"
	      "       arcvmm --config vm.json [options]\n"
	      "\n"
	      "Boots a Linux kernel (ELF vmlinux with PVH or 64-bit entry, or bzImage) on KVM.\n"
	      "The guest's serial console is on standard input/output; arcvmm exits when the\n"
	      "guest powers off or reboots. In a terminal, Ctrl-A x quits.\n"
	      "\n"
	      "  --kernel FILE        kernel image (vmlinux or bzImage)\n"
	      "  --initrd FILE        initial ramdisk\n"
	      "  --cmdline \"ARGS\"     kernel command line (default: " CONFIG_DEFAULT_CMDLINE ")\n"
	      "  --cpus N             vCPUs (default 1)\n"
	      "  --memory SIZE        guest RAM, e.g. 256M, 6G (default 256M; plain number = MiB)\n"
	      "  --boot PROTO         auto (default), pvh or linux64\n"
	      "  --disk PATH[,ro][,id=ID][,direct][,queues=N]   virtio-blk disk (repeatable)\n"
	      "                       [,bw=SIZE[:MS[:BURST]]][,ops=N[:MS[:BURST]]]: rate limit\n"
	      "                       (token bucket of SIZE bytes / N requests refilled every MS\n"
	      "                       ms, default 1000; BURST one-time extra): bw=10M = 10 MiB/s\n"
	      "  --net SPEC           tap=NAME[,mac=M] | fd=N[,mac=M] |\n"
	      "                       user[,hostfwd=tcp::HOSTPORT-:GUESTPORT][,hostname=NAME]\n"
	      "                       [,mac=M] | none (user: DHCP hands out no hostname\n"
	      "                       unless hostname= is given)\n"
	      "                       (default: user when built with libslirp)\n"
	      "  --console MODE       serial (default: ttyS0) or virtio (hvc0)\n"
	      "  --no-rng             no virtio-rng device\n"
	      "  --vsock cid=N,uds=PATH  virtio-vsock: guest CID N (>= 3); host side on Unix\n"
	      "                       socket PATH (Firecracker's CONNECT protocol; guest\n"
	      "                       connects to PATH_<port>)\n"
	      "  --fs PATH,tag=TAG[,ro][,cache=none|auto|always][,xattr=on][,queues=N]\n"
	      "                       virtio-fs: share host directory PATH (repeatable); in\n"
	      "                       the guest: mount -t virtiofs TAG /mnt\n"
	      "  --balloon target=SIZE[,deflate_on_oom][,stats=SECONDS][,free_page_reporting]\n"
	      "                       virtio-balloon: SIZE of guest RAM to reclaim (e.g. 128M)\n"
	      "  --huge-pages 2M|none guest RAM on 2 MiB hugetlbfs pages (reserved at start\n"
	      "                       from /proc/sys/vm/nr_hugepages; default none: 4 KiB\n"
	      "                       pages with transparent huge pages where the host allows)\n"
	      "  --memory-reclaim MODE[,floor=SIZE][,step=SIZE][,interval=S][,pressure=HI[:LO]]\n"
	      "                       [,guest-low=SIZE]  with --balloon: auto (default: free\n"
	      "                       page reporting, and the balloon follows host memory\n"
	      "                       pressure), manual (API only) or off (see README)\n"
	      "  --no-acpi            no ACPI tables (the guest then uses the MP table and\n"
	      "                       cannot power off, only reboot)\n"
	      "  --config FILE        JSON config (Firecracker-like: boot-source, machine-config,\n"
	      "                       drives, network-interfaces); later options override it\n"
	      "  -v, --verbose        more log output (repeat for debug)\n"
	      "  -q, --quiet          errors only\n"
	      "  --jail DIR           (root) run in new mount/PID(/net) namespaces, chrooted\n"
	      "                       into DIR with only the VM's files, as --jail-uid N and\n"
	      "                       --jail-gid N (default 65534) without capabilities\n"
	      "  --seccomp MODE       per-thread syscall filters: on (default; a forbidden\n"
	      "                       call kills the VM with a log line), log, off\n"
	      "  -h, --help           this text\n"
	      "  --version            print the version\n",
	      f);
}

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_CPUS,
	OPT_MEMORY,
	OPT_BOOT,
	OPT_DISK,
	OPT_NET,
	OPT_CONSOLE,
	OPT_NO_RNG,
	OPT_NO_ACPI,
	OPT_CONFIG,
	OPT_VERSION,
	OPT_SECCOMP,
	OPT_JAIL,
	OPT_JAIL_UID,
	OPT_JAIL_GID,
	OPT_BALLOON,
	OPT_VSOCK,
	OPT_FS,
	OPT_MEMORY_RECLAIM,
	OPT_HUGE_PAGES,
};

static const struct option long_opts[] = {
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"cmdline", required_argument, NULL, OPT_CMDLINE},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"mem", required_argument, NULL, OPT_MEMORY},
    {"boot", required_argument, NULL, OPT_BOOT},
    {"disk", required_argument, NULL, OPT_DISK},
    {"net", required_argument, NULL, OPT_NET},
    {"console", required_argument, NULL, OPT_CONSOLE},
    {"no-rng", no_argument, NULL, OPT_NO_RNG},
    {"no-acpi", no_argument, NULL, OPT_NO_ACPI},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"balloon", required_argument, NULL, OPT_BALLOON},
    {"vsock", required_argument, NULL, OPT_VSOCK},
    {"fs", required_argument, NULL, OPT_FS},
    {"memory-reclaim", required_argument, NULL, OPT_MEMORY_RECLAIM},
    {"huge-pages", required_argument, NULL, OPT_HUGE_PAGES},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"seccomp", required_argument, NULL, OPT_SECCOMP},
    {"jail", required_argument, NULL, OPT_JAIL},
    {"jail-uid", required_argument, NULL, OPT_JAIL_UID},
    {"jail-gid", required_argument, NULL, OPT_JAIL_GID},
    {NULL, 0, NULL, 0},
};

int config_parse_args(struct vm_config *c, int argc, char **argv, char *err, size_t errlen)
{
	int opt, r = 0, verbosity = 0;
	bool quiet = false;

	/* Pass 1: find --config so the file is read first and flags override it. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *path = NULL;
		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "--config")) {
			if (i + 1 >= argc)
				return fail(err, errlen, "--config: needs a file name");
			path = argv[++i];
		} else if (!strncmp(a, "--config=", 9)) {
			path = a + 9;
		}
		if (path && (r = config_parse_json_file(c, path, err, errlen)))
			return r;
	}

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":vqh", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_KERNEL:
			if (!*optarg)
				return fail(err, errlen, "--kernel: empty file name");
			r = set_str(&c->kernel, optarg);
			break;
		case OPT_INITRD:
			if (!*optarg)
				return fail(err, errlen, "--initrd: empty file name");
			r = set_str(&c->initrd, optarg);
			break;
		case OPT_CMDLINE:
			r = set_str(&c->cmdline, optarg);
			break;
		case OPT_CPUS:
			r = set_cpus(c, optarg, "--cpus", err, errlen);
			break;
		case OPT_MEMORY:
			r = set_memory(c, optarg, err, errlen);
			break;
		case OPT_BOOT:
			r = set_protocol(c, optarg, err, errlen);
			break;
		case OPT_DISK:
			r = add_disk(c, optarg, err, errlen);
			break;
		case OPT_NET:
			r = add_net(c, optarg, err, errlen);
			break;
		case OPT_CONSOLE:
			r = set_console(c, optarg, err, errlen);
			break;
		case OPT_NO_RNG:
			c->has_rng = false;
			break;
		case OPT_NO_ACPI:
			c->has_acpi = false;
			break;
		case OPT_CONFIG:
			break; /* read in pass 1 */
		case OPT_JAIL:
			if (!*optarg)
				return fail(err, errlen, "--jail: empty directory name");
			r = set_str(&c->jail_dir, optarg);
			break;
		case OPT_JAIL_UID:
		case OPT_JAIL_GID: {
			unsigned long v;
			if (parse_uint(optarg, 4294967294UL, &v) || v == 0)
				return fail(err, errlen, "%s %s: must be a uid/gid from 1",
					    opt == OPT_JAIL_UID ? "--jail-uid" : "--jail-gid",
					    optarg);
			*(opt == OPT_JAIL_UID ? &c->jail_uid : &c->jail_gid) = (unsigned)v;
			break;
		}
		case OPT_SECCOMP:
			if (seccomp_parse_mode(optarg, &c->seccomp) < 0)
				return fail(err, errlen, "--seccomp %s: must be off, log or on",
					    optarg);
			break;
		case OPT_BALLOON:
			r = config_set_balloon(c, optarg, err, errlen);
			break;
		case OPT_VSOCK:
			r = config_set_vsock(c, optarg, err, errlen);
			break;
		case OPT_FS:
			r = config_add_fs_spec(c, optarg, err, errlen);
			break;
		case OPT_MEMORY_RECLAIM:
			r = config_parse_reclaim(&c->reclaim, optarg, err, errlen);
			break;
		case OPT_HUGE_PAGES:
			r = set_huge_pages(c, optarg, "--huge-pages", err, errlen);
			break;
		case 'v':
			verbosity++;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			config_usage(stdout);
			return CONFIG_HELP;
		case OPT_VERSION:
			printf("arcvmm " ARCVMM_VERSION "\n");
			return CONFIG_HELP;
		case ':':
			return fail(err, errlen, "%s: needs a value", argv[optind - 1]);
		case '?':
		default:
			if (optopt)
				return fail(err, errlen, "-%c: unknown option (see --help)",
					    optopt);
			return fail(err, errlen, "%s: unknown option (see --help)",
				    argv[optind - 1]);
		}
		if (r)
			return r;
	}
	if (optind < argc)
		return fail(err, errlen, "%s: unexpected argument (see --help)", argv[optind]);
	c->log_level = quiet ? 0 : verbosity ? 1 + verbosity : -1;
	return 0;
}

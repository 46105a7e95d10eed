/* core/snapshot.c — snapshot create and restore. See core/snapshot.h.
 *
 * Create (control operation, VM paused): every state is read into one snap_writer buffer,
 * the memory file is written sparsely from the RAM mapping, then the state file is written
 * under a temporary name and renamed into place.
 *
 * Restore: the state file is read whole and parsed (snap_parse: checksums, version, host
 * features, bounds) before anything else; then the config section is parsed, the memory
 * file checked against the memory section and mapped MAP_PRIVATE (lazy: no page is read
 * until the guest or a device touches it), the VM built by vm_create_from() without a
 * kernel, and the states put back: KVM's VM and vCPU state, the legacy devices, then per
 * virtio slot the device's own state and its transport (which re-activates the device).
 * Every device ends paused; vm_start_paused() starts the vCPU threads parked.
 *
 * Trusts: our own VM (create); nothing in either file (restore).
 */
#include "core/snapshot.h"

#include "core/snapshot_format.h"
#include "core/snapshot_mem.h"
#include "core/vm_internal.h"
#include "util/log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_FILE_MAX	  (512ULL << 20) /* far above any state we write */
#define DEV_STATE_MAX	  (16u << 20)	 /* virtio-fs saves its node table: a path per node */
#define CONFIG_JSON_MAX	  (1u << 20)
#define SNAP_CONFIG_MAGIC "arcvmm-snapshot-config-1"

struct vm_restore_src {
	const struct snap_file *f;
	const char *state_path, *mem_path;
	int mem_fd;
	uint64_t paused_clock_ns;
	bool has_paused_clock;
	bool is_verify;
	/* CLOCK_MONOTONIC ns at the restore's steps, for the -v breakdown. */
	uint64_t t_mem, t_state, t_state_end;
};

static int say(char *err, size_t errlen, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* --- the config section --- */

static const char *const net_kinds[] = {"none", "user", "tap", "fd"};

char *snapshot_config_json(const struct vm_config *cfg)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char *text = NULL;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "format", SNAP_CONFIG_MAGIC);
	cJSON_AddNumberToObject(o, "vcpus", cfg->ncpus);
	cJSON_AddNumberToObject(o, "mem_size_mib", (double)(cfg->mem_size >> 20));
	cJSON_AddStringToObject(o, "console",
				cfg->console == VM_CONSOLE_VIRTIO ? "virtio" : "serial");
	cJSON_AddBoolToObject(o, "rng", cfg->has_rng);
	cJSON_AddBoolToObject(o, "acpi", cfg->has_acpi);
	if (cfg->kernel)
		cJSON_AddStringToObject(o, "kernel", cfg->kernel); /* for people, not restore */
	a = cJSON_AddArrayToObject(o, "disks");
	for (unsigned i = 0; a && i < cfg->nr_disks; i++) {
		const struct vm_disk_config *d = &cfg->disks[i];
		cJSON *j = cJSON_CreateObject();
		if (!j)
			goto out;
		cJSON_AddStringToObject(j, "path", d->path);
		if (d->id)
			cJSON_AddStringToObject(j, "id", d->id);
		cJSON_AddBoolToObject(j, "read_only", d->is_read_only);
		cJSON_AddBoolToObject(j, "direct", d->is_direct);
		cJSON_AddNumberToObject(j, "queues", d->nr_queues);
		cJSON_AddItemToArray(a, j);
	}
	a = cJSON_AddArrayToObject(o, "nets");
	/* No NIC given means the default one (user networking where built in): say so, so
	 * the restored machine has the same device list. */
	unsigned nr_nets = cfg->nr_nets;
	struct vm_net_config user = {.kind = VM_NET_USER, .fd = -1};
	const struct vm_net_config *nets = cfg->nets;
#ifdef HAVE_SLIRP
	if (nr_nets == 0) {
		nets = &user;
		nr_nets = 1;
	}
#else
	(void)user;
#endif
	for (unsigned i = 0; a && i < nr_nets; i++) {
		const struct vm_net_config *n = &nets[i];
		cJSON *j = cJSON_CreateObject(), *fw;
		char mac[18];
		if (!j)
			goto out;
		cJSON_AddStringToObject(j, "kind", net_kinds[n->kind]);
		if (n->kind == VM_NET_TAP)
			cJSON_AddStringToObject(j, "tap", n->tap);
		if (n->kind == VM_NET_FD)
			cJSON_AddNumberToObject(j, "fd", n->fd);
		if (n->has_mac) {
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0],
				 n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
			cJSON_AddStringToObject(j, "mac", mac);
		}
		if (n->hostname[0])
			cJSON_AddStringToObject(j, "hostname", n->hostname);
		fw = cJSON_AddArrayToObject(j, "hostfwd");
		for (unsigned k = 0; fw && k < n->nr_fwds; k++) {
			const struct slirp_fwd *f = &n->fwds[k];
			cJSON *e = cJSON_CreateObject();
			if (!e)
				goto out;
			cJSON_AddBoolToObject(e, "udp", f->is_udp);
			cJSON_AddNumberToObject(e, "host_addr", f->host_addr);
			cJSON_AddNumberToObject(e, "host_port", f->host_port);
			cJSON_AddNumberToObject(e, "guest_addr", f->guest_addr);
			cJSON_AddNumberToObject(e, "guest_port", f->guest_port);
			cJSON_AddItemToArray(fw, e);
		}
		cJSON_AddItemToArray(a, j);
	}
	if (cfg->balloon)
		cJSON_AddStringToObject(o, "balloon", cfg->balloon);
	if (cfg->vsock_uds) {
		cJSON *v = cJSON_AddObjectToObject(o, "vsock");
		if (v) {
			cJSON_AddNumberToObject(v, "guest_cid", (double)cfg->vsock_cid);
			cJSON_AddStringToObject(v, "uds_path", cfg->vsock_uds);
		}
	}
	if (cfg->nr_fs && !cJSON_AddItemToObject(o, "fs", config_fs_to_json(cfg)))
		goto out;
	text = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	return text;
}

/* Typed getters for the hostile document: each names the field it refuses. */
static int get_num(const cJSON *o, const char *key, double min, double max, bool is_required,
		   double *out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v) {
		if (is_required)
			return say(err, errlen, -EINVAL, "config: no \"%s\"", key);
		return 1;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return say(err, errlen, -EINVAL,
			   "config: \"%s\" is not a whole number in [%.0f, %.0f]", key, min, max);
	*out = v->valuedouble;
	return 0;
}

static int get_str(const cJSON *o, const char *key, size_t max, bool is_required, const char **out,
		   char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = NULL;
	if (!v) {
		if (is_required)
			return say(err, errlen, -EINVAL, "config: no \"%s\"", key);
		return 1;
	}
	if (!cJSON_IsString(v) || !v->valuestring || !v->valuestring[0] ||
	    strlen(v->valuestring) > max)
		return say(err, errlen, -EINVAL, "config: \"%s\" is not a string of 1..%zu bytes",
			   key, max);
	*out = v->valuestring;
	return 0;
}

static int get_bool(const cJSON *o, const char *key, bool *out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 1;
	if (!cJSON_IsBool(v))
		return say(err, errlen, -EINVAL, "config: \"%s\" is not true or false", key);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int dup_into(char **dst, const char *s)
{
	free(*dst);
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

static int parse_net(struct vm_net_config *n, const cJSON *j, char *err, size_t errlen)
{
	const char *s;
	double d;
	int r;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (!cJSON_IsObject(j))
		return say(err, errlen, -EINVAL, "config: a NIC is not an object");
	if ((r = get_str(j, "kind", 8, true, &s, err, errlen)))
		return r;
	unsigned k;
	for (k = 0; k < 4 && strcmp(s, net_kinds[k]); k++)
		;
	if (k == 4)
		return say(err, errlen, -EINVAL, "config: unknown NIC kind \"%s\"", s);
	n->kind = (enum vm_net_kind)k;
	if (n->kind == VM_NET_FD)
		return say(
		    err, errlen, -EINVAL,
		    "the snapshot's NIC is an inherited socket (fd=): it cannot be re-created "
		    "in another process");
	if (n->kind == VM_NET_TAP) {
		if ((r = get_str(j, "tap", IFNAMSIZ - 1, true, &s, err, errlen)))
			return r;
		const char *why = config_tap_name_problem(s);
		if (why)
			return say(err, errlen, -EINVAL, "config: tap \"%s\": %s", s, why);
		strcpy(n->tap, s);
	}
	if ((r = get_str(j, "mac", 17, false, &s, err, errlen)) < 0)
		return r;
	if (s) {
		if (config_parse_mac(s, n->mac))
			return say(err, errlen, -EINVAL, "config: bad MAC \"%s\"", s);
		n->has_mac = true;
	}
	if ((r = get_str(j, "hostname", 32, false, &s, err, errlen)) < 0)
		return r;
	if (s && config_net_hostname(s, n->hostname, sizeof(n->hostname)))
		return say(err, errlen, -EINVAL, "config: bad hostname \"%s\"", s);
	const cJSON *fw = cJSON_GetObjectItemCaseSensitive(j, "hostfwd");
	if (fw && (!cJSON_IsArray(fw) || cJSON_GetArraySize(fw) > SLIRP_MAX_FWDS))
		return say(err, errlen, -EINVAL, "config: \"hostfwd\" is not a list of at most %d",
			   SLIRP_MAX_FWDS);
	const cJSON *e;
	cJSON_ArrayForEach(e, fw)
	{
		struct slirp_fwd *f = &n->fwds[n->nr_fwds];
		bool udp = false;
		if (!cJSON_IsObject(e) || get_bool(e, "udp", &udp, err, errlen) < 0)
			return say(err, errlen, -EINVAL, "config: bad hostfwd entry");
		f->is_udp = udp;
		if ((r = get_num(e, "host_addr", 0, UINT32_MAX, true, &d, err, errlen)))
			return r;
		f->host_addr = (uint32_t)d;
		if ((r = get_num(e, "host_port", 1, 65535, true, &d, err, errlen)))
			return r;
		f->host_port = (uint16_t)d;
		if ((r = get_num(e, "guest_addr", 0, UINT32_MAX, true, &d, err, errlen)))
			return r;
		f->guest_addr = (uint32_t)d;
		if ((r = get_num(e, "guest_port", 1, 65535, true, &d, err, errlen)))
			return r;
		f->guest_port = (uint16_t)d;
		n->nr_fwds++;
	}
	if (n->kind != VM_NET_USER && n->nr_fwds)
		return say(err, errlen, -EINVAL, "config: hostfwd on a NIC that is not user");
	return 0;
}

int snapshot_config_parse(struct vm_config *c, const char *json, size_t len,
			  uint64_t *paused_clock_ns, char *err, size_t errlen)
{
	cJSON *o = NULL;
	const cJSON *a, *j;
	const char *s;
	double d;
	int r = -EINVAL;

	if (len > CONFIG_JSON_MAX || memchr(json, '\0', len))
		return say(err, errlen, -EINVAL, "config: not a JSON text");
	o = cJSON_ParseWithLength(json, len);
	if (!o || !cJSON_IsObject(o)) {
		r = say(err, errlen, -EINVAL, "config: not a JSON object");
		goto out;
	}
	if ((r = get_str(o, "format", 64, true, &s, err, errlen)))
		goto out;
	if (strcmp(s, SNAP_CONFIG_MAGIC)) {
		r = say(err, errlen, -EINVAL, "config: format \"%s\", expected \"%s\"", s,
			SNAP_CONFIG_MAGIC);
		goto out;
	}
	if ((r = get_num(o, "vcpus", 1, VM_MAX_CPUS, true, &d, err, errlen)))
		goto out;
	c->ncpus = (unsigned)d;
	/* At most 1 TiB: the memory file is mapped whole. */
	if ((r = get_num(o, "mem_size_mib", VM_MIN_MEM >> 20, 1 << 20, true, &d, err, errlen)))
		goto out;
	c->mem_size = (uint64_t)d << 20;
	if ((r = get_str(o, "console", 8, true, &s, err, errlen)))
		goto out;
	if (strcmp(s, "serial") && strcmp(s, "virtio")) {
		r = say(err, errlen, -EINVAL, "config: console \"%s\"", s);
		goto out;
	}
	c->console = strcmp(s, "virtio") ? VM_CONSOLE_SERIAL : VM_CONSOLE_VIRTIO;
	if ((r = get_bool(o, "rng", &c->has_rng, err, errlen)) < 0 ||
	    (r = get_bool(o, "acpi", &c->has_acpi, err, errlen)) < 0)
		goto out;
	if ((r = get_str(o, "kernel", VM_DISK_PATH_MAX, false, &s, err, errlen)) < 0)
		goto out;
	if (s && (r = dup_into(&c->kernel, s)))
		goto out;

	a = cJSON_GetObjectItemCaseSensitive(o, "disks");
	if (a && (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > VM_MAX_DISKS)) {
		r = say(err, errlen, -EINVAL, "config: \"disks\" is not a list of at most %d",
			VM_MAX_DISKS);
		goto out;
	}
	cJSON_ArrayForEach(j, a)
	{
		struct vm_disk_config *dc = &c->disks[c->nr_disks];
		if (!cJSON_IsObject(j)) {
			r = say(err, errlen, -EINVAL, "config: a disk is not an object");
			goto out;
		}
		if ((r = get_str(j, "path", VM_DISK_PATH_MAX, true, &s, err, errlen)))
			goto out;
		if ((r = dup_into(&dc->path, s)))
			goto out;
		c->nr_disks++; /* from here config_fini() frees it */
		if ((r = get_str(j, "id", VM_DISK_ID_MAX, false, &s, err, errlen)) < 0)
			goto out;
		if (s && (r = dup_into(&dc->id, s)))
			goto out;
		if ((r = get_bool(j, "read_only", &dc->is_read_only, err, errlen)) < 0 ||
		    (r = get_bool(j, "direct", &dc->is_direct, err, errlen)) < 0)
			goto out;
		if ((r = get_num(j, "queues", 1, VIRTIO_MMIO_MAX_QUEUES, true, &d, err, errlen)))
			goto out;
		dc->nr_queues = (unsigned)d;
	}
	a = cJSON_GetObjectItemCaseSensitive(o, "nets");
	if (a && (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > VM_MAX_NETS)) {
		r = say(err, errlen, -EINVAL, "config: \"nets\" is not a list of at most %d",
			VM_MAX_NETS);
		goto out;
	}
	cJSON_ArrayForEach(j, a)
	{
		if ((r = parse_net(&c->nets[c->nr_nets], j, err, errlen)))
			goto out;
		c->nr_nets++;
	}
	/* The list is the whole list: no NIC is "none" (not the default user NIC). */
	if (c->nr_nets == 0) {
		c->nets[0] = (struct vm_net_config){.kind = VM_NET_NONE, .fd = -1};
		c->nr_nets = 1;
	}
	if ((r = get_str(o, "balloon", 256, false, &s, err, errlen)) < 0)
		goto out;
	if (s && (r = dup_into(&c->balloon, s)))
		goto out;
	j = cJSON_GetObjectItemCaseSensitive(o, "vsock");
	if (j) {
		if (!cJSON_IsObject(j)) {
			r = say(err, errlen, -EINVAL, "config: \"vsock\" is not an object");
			goto out;
		}
		if ((r = get_num(j, "guest_cid", 3, UINT32_MAX, true, &d, err, errlen)))
			goto out;
		c->vsock_cid = (uint64_t)d;
		if ((r = get_str(j, "uds_path", 107, true, &s, err, errlen)))
			goto out;
		if ((r = dup_into(&c->vsock_uds, s)))
			goto out;
	}
	j = cJSON_GetObjectItemCaseSensitive(o, "fs"); /* virtio-fs shares (core/config_fs.c) */
	if (j && (r = config_parse_fs_json(c, j, "snapshot config", err, errlen)))
		goto out;
	if (paused_clock_ns) {
		/* JSON numbers are doubles: the clock is kept as a decimal string. */
		*paused_clock_ns = 0;
		if ((r = get_str(o, "paused_clock_ns", 20, false, &s, err, errlen)) < 0)
			goto out;
		if (s) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(s, &end, 10);
			if (errno || *end || !(*s >= '0' && *s <= '9')) {
				r = say(err, errlen, -EINVAL, "config: bad paused_clock_ns");
				goto out;
			}
			*paused_clock_ns = v;
		}
	}
	r = 0;
out:
	if (r > 0)
		r = 0;
	cJSON_Delete(o);
	return r;
}

/* --- create --- */

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A path we are to create: its folder must exist, and it must not be a directory. */
static int check_out_path(const char *what, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (!path || !path[0])
		return say(err, errlen, -EINVAL, "%s: no path given", what);
	if (strlen(path) > PATH_MAX - 16)
		return say(err, errlen, -ENAMETOOLONG, "%s %s: path too long", what, path);
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return say(err, errlen, -EEXIST, "%s %s: exists and is not a regular file", what,
			   path);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			return say(err, errlen, -ENOENT, "%s %s: folder %s does not exist", what,
				   path, dir);
	}
	return 0;
}

static void add_dev(struct snap_writer *w, uint32_t type, uint32_t inst, uint8_t *buf, long n)
{
	if (n >= 0)
		snap_writer_add(w, type, inst, buf, (size_t)n);
}

/* Every state into w (VM paused, op_lock held). 0 or -errno with err. */
static int collect(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
	uint8_t *buf = malloc(DEV_STATE_MAX);
	void *blob;
	size_t len;
	long n;
	int r;

	if (!buf)
		return say(err, errlen, -ENOMEM, "out of memory");
	/* The config, with the guest clock as it was at the pause. */
	cJSON *cfg = cJSON_Parse(vm->snap_config);
	char clock[24], *text = NULL;
	snprintf(clock, sizeof(clock), "%" PRIu64, vm->paused_clock_ns);
	if (cfg && vm->has_paused_clock)
		cJSON_AddStringToObject(cfg, "paused_clock_ns", clock);
	if (cfg)
		text = cJSON_PrintUnformatted(cfg);
	cJSON_Delete(cfg);
	if (!text) {
		free(buf);
		return say(err, errlen, -ENOMEM, "out of memory");
	}
	snap_writer_add(w, SNAP_SEC_CONFIG, 0, text, strlen(text));
	free(text);

	struct snap_memory m = {.total_size = vm->mem.map_size, .nr_regions = vm->mem.nr_regions};
	for (unsigned i = 0; i < vm->mem.nr_regions && i < SNAP_MAX_MEM_REGIONS; i++) {
		m.regions[i].gpa = vm->mem.regions[i].gpa;
		m.regions[i].size = vm->mem.regions[i].size;
		m.regions[i].fd_offset = vm->mem.regions[i].fd_offset;
	}
	snap_writer_add(w, SNAP_SEC_MEMORY, 0, &m, sizeof(m));

	if ((r = hv_vm_save(vm->hv, &blob, &len, err, errlen)))
		goto out;
	snap_writer_add(w, SNAP_SEC_VM, 0, blob, len);
	free(blob);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if ((r = hv_vcpu_save(vm->vcpus[i].hv, &blob, &len, err, errlen)))
			goto out;
		snap_writer_add(w, SNAP_SEC_VCPU, i, blob, len);
		free(blob);
	}
	n = serial_save(vm->serial, buf, DEV_STATE_MAX);
	add_dev(w, SNAP_SEC_SERIAL, 0, buf, n);
	pthread_mutex_lock(&vm->pio_lock);
	long n2 = i8042_save(&vm->i8042, buf, DEV_STATE_MAX);
	add_dev(w, SNAP_SEC_I8042, 0, buf, n2);
	long n3 = acpi_pm_save(&vm->acpi_pm, buf, DEV_STATE_MAX);
	add_dev(w, SNAP_SEC_ACPI_PM, 0, buf, n3);
	long n4 = rtc_save(&vm->rtc, buf, DEV_STATE_MAX);
	add_dev(w, SNAP_SEC_RTC, 0, buf, n4);
	pthread_mutex_unlock(&vm->pio_lock);
	if (n < 0 || n2 < 0 || n3 < 0 || n4 < 0) {
		r = say(err, errlen, -EIO, "cannot save the legacy devices' state");
		goto out;
	}
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		struct virtio_mmio *t = vm->virtio[i];
		/* The device first: it may hand buffers it holds back to the ring. */
		n = virtio_mmio_save_device(t, buf, DEV_STATE_MAX);
		if (n < 0) {
			r = say(err, errlen, (int)n, "%s (slot %u): cannot save its state: %s",
				virtio_mmio_device_name(t), i, strerror((int)-n));
			goto out;
		}
		snap_writer_add(w, SNAP_SEC_VIRTIO_DEV, i, buf, (size_t)n);
		struct virtio_mmio_state ts;
		if ((r = virtio_mmio_save(t, &ts))) {
			r = say(err, errlen, r,
				"%s (slot %u): requests still in flight after the pause",
				virtio_mmio_device_name(t), i);
			goto out;
		}
		snap_writer_add(w, SNAP_SEC_VIRTIO_MMIO, i, &ts, sizeof(ts));
	}
	r = 0;
out:
	free(buf);
	return r;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (!strcmp(a, b))
		return true;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

int vm_snapshot_create(struct vm *vm, const char *state_path, const char *mem_path,
		       enum vm_snapshot_type type, struct vm_snapshot_stats *st, char *err,
		       size_t errlen)
{
	struct vm_snapshot_stats stats = {0};
	struct snap_writer w;
	struct snap_host host;
	char tmp[PATH_MAX];
	int r, mem_fd = -1, fd = -1;
	bool has_tmp = false;

	if (type == VM_SNAPSHOT_DIFF)
		return say(err, errlen, -ENOTSUP, "diff snapshots are not supported yet");
	if (type != VM_SNAPSHOT_FULL)
		return say(err, errlen, -EINVAL, "unknown snapshot type %d", (int)type);
	if ((r = check_out_path("snapshot_path", state_path, err, errlen)) ||
	    (r = check_out_path("mem_file_path", mem_path, err, errlen)))
		return r;
	if (same_file(state_path, mem_path))
		return say(err, errlen, -EINVAL,
			   "snapshot_path and mem_file_path are the same file (%s)", state_path);

	pthread_mutex_lock(&vm->op_lock);
	enum vm_state s = vm_state(vm);
	if (s != VM_STATE_PAUSED) {
		pthread_mutex_unlock(&vm->op_lock);
		return say(err, errlen, -EBUSY, "cannot snapshot a VM that is %s: pause it first",
			   s == VM_STATE_RUNNING   ? "running"
			   : s == VM_STATE_STOPPED ? "stopped"
						   : "not started");
	}
	if (!vm->snap_config) {
		r = say(err, errlen, -ENOMEM, "out of memory");
		goto unlock;
	}
	/* A restored VM's RAM reads through to its memory file: writing that file now would
	 * change the guest's memory under it. */
	struct stat ms;
	if (vm->is_restored && stat(mem_path, &ms) == 0 &&
	    (uint64_t)ms.st_dev == vm->mem_file_dev && (uint64_t)ms.st_ino == vm->mem_file_ino) {
		r = say(err, errlen, -EINVAL,
			"mem_file_path %s: this VM's memory is mapped from that file; write the "
			"snapshot to a new one",
			mem_path);
		goto unlock;
	}

	uint64_t t0 = now_ns();
	snap_host_probe(&host);
	snap_writer_init(&w, &host);
	r = collect(vm, &w, err, errlen);
	const void *out;
	size_t outlen;
	if (!r && (r = snap_writer_finish(&w, &out, &outlen)))
		say(err, errlen, r, "out of memory");
	if (r)
		goto fini;

	uint64_t t1 = now_ns();
	mem_fd = open(mem_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (mem_fd < 0) {
		r = say(err, errlen, -errno, "mem_file_path %s: %s", mem_path, strerror(errno));
		goto fini;
	}
	struct snapshot_mem_stats mst = {0};
	r = snapshot_mem_write(vm->mem.map, vm->mem.map_size, vm->mem.fd, mem_fd, &mst);
	if (!r && close(mem_fd) < 0)
		r = -errno;
	mem_fd = -1;
	if (r) {
		say(err, errlen, r, "mem_file_path %s: %s", mem_path, strerror(-r));
		goto fini;
	}
	stats.mem_pages_written = mst.pages_written;
	stats.mem_pages_zero = mst.pages_zero;
	stats.mem_bytes_hole = mst.bytes_hole;
	uint64_t t2 = now_ns();

	snprintf(tmp, sizeof(tmp), "%s.tmp-%d", state_path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = say(err, errlen, -errno, "snapshot_path %s: %s", tmp, strerror(errno));
		goto fini;
	}
	has_tmp = true;
	if ((r = write_all(fd, out, outlen)) || (close(fd) < 0 && (r = -errno))) {
		fd = -1;
		say(err, errlen, r, "snapshot_path %s: %s", tmp, strerror(-r));
		goto fini;
	}
	fd = -1;
	if (rename(tmp, state_path) < 0) {
		r = say(err, errlen, -errno, "snapshot_path %s: %s", state_path, strerror(errno));
		goto fini;
	}
	has_tmp = false;
	stats.state_bytes = outlen;
	stats.ns_mem = t2 - t1;
	stats.ns_state = (t1 - t0) + (now_ns() - t2);
	log_info("snapshot: %s (%zu bytes), %s (%" PRIu64 " pages written, %" PRIu64
		 " zero pages skipped)",
		 state_path, outlen, mem_path, mst.pages_written, mst.pages_zero);
fini:
	if (fd >= 0)
		close(fd);
	if (mem_fd >= 0)
		close(mem_fd);
	if (has_tmp)
		unlink(tmp);
	snap_writer_fini(&w);
unlock:
	pthread_mutex_unlock(&vm->op_lock);
	if (!r && st)
		*st = stats;
	return r;
}

/* --- restore --- */

int snapshot_restore_mem(struct vm *vm, struct vm_restore_src *rs, char *err, size_t errlen)
{
	rs->t_mem = now_ns();
	const struct snap_ref *ref = snap_find(rs->f, SNAP_SEC_MEMORY, 0);
	struct snap_memory m;
	struct stat st;
	int r;

	if (!ref || ref->len != sizeof(m))
		return say(err, errlen, -EINVAL, "%s: no memory section of the right size",
			   rs->state_path);
	memcpy(&m, ref->data, sizeof(m));
	if (fstat(rs->mem_fd, &st) < 0)
		return say(err, errlen, -errno, "%s: %s", rs->mem_path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return say(err, errlen, -EINVAL, "%s: not a regular file", rs->mem_path);
	if ((uint64_t)st.st_size != m.total_size)
		return say(
		    err, errlen, -EINVAL,
		    "%s: %llu bytes, but the snapshot's memory is %llu bytes (not its memory "
		    "file, or cut)",
		    rs->mem_path, (unsigned long long)st.st_size, (unsigned long long)m.total_size);
	r = guest_mem_init_file(&vm->mem, rs->mem_fd, m.total_size, X86_MMIO_HOLE_START,
				X86_MMIO_HOLE_END);
	if (r)
		return say(err, errlen, r, "%s: cannot map it: %s", rs->mem_path, strerror(-r));
	/* The layout we rebuilt must be the one saved (same RAM size, same hole). */
	bool is_same = m.nr_regions == vm->mem.nr_regions && m.total_size == vm->mem.map_size;
	for (unsigned i = 0; is_same && i < m.nr_regions; i++)
		is_same = m.regions[i].gpa == vm->mem.regions[i].gpa &&
			  m.regions[i].size == vm->mem.regions[i].size &&
			  m.regions[i].fd_offset == vm->mem.regions[i].fd_offset;
	if (!is_same) {
		guest_mem_fini(&vm->mem);
		return say(err, errlen, -EINVAL,
			   "%s: the memory layout does not match this build's", rs->state_path);
	}
	if (rs->is_verify) {
		/* Every page read once: a file that cannot be read fails now, not in the guest
		 * (a read error on a lazily mapped page is a SIGBUS in whoever touches it). */
		uint8_t *tmp = malloc(1 << 20);
		uint64_t off = 0;
		while (tmp && off < m.total_size) {
			size_t n = m.total_size - off > (1 << 20) ? (1 << 20) : m.total_size - off;
			ssize_t got = pread(rs->mem_fd, tmp, n, (off_t)off);
			if (got != (ssize_t)n) {
				free(tmp);
				guest_mem_fini(&vm->mem);
				return say(err, errlen, -EIO, "%s: cannot read at offset %llu",
					   rs->mem_path, (unsigned long long)off);
			}
			off += n;
		}
		free(tmp);
	}
	vm->is_restored = true;
	vm->mem_file_dev = (uint64_t)st.st_dev;
	vm->mem_file_ino = (uint64_t)st.st_ino;
	return 0;
}

/* The one section of a type that must be there. */
static const struct snap_ref *need(struct vm_restore_src *rs, uint32_t type, uint32_t inst,
				   const char *what, char *err, size_t errlen)
{
	const struct snap_ref *r = snap_find(rs->f, type, inst);

	if (!r)
		say(err, errlen, -EINVAL, "%s: no %s state in the snapshot", rs->state_path, what);
	return r;
}

static int restore_state(struct vm *vm, struct vm_restore_src *rs, char *err, size_t errlen);

int snapshot_restore_state(struct vm *vm, struct vm_restore_src *rs, char *err, size_t errlen)
{
	rs->t_state = now_ns();
	int r = restore_state(vm, rs, err, errlen);
	rs->t_state_end = now_ns();
	return r;
}

static int restore_state(struct vm *vm, struct vm_restore_src *rs, char *err, size_t errlen)
{
	const struct snap_ref *ref;
	char herr[512];
	int r;

	/* Exactly our vCPUs and our devices, nothing more. */
	for (unsigned i = 0; i < rs->f->nr_secs; i++) {
		const struct snap_ref *s = &rs->f->secs[i];
		if ((s->type == SNAP_SEC_VCPU && s->instance >= vm->ncpus) ||
		    ((s->type == SNAP_SEC_VIRTIO_MMIO || s->type == SNAP_SEC_VIRTIO_DEV) &&
		     s->instance >= vm->nr_virtio))
			return say(err, errlen, -EINVAL,
				   "%s: state for a vCPU or device the config does not have",
				   rs->state_path);
	}
	if (!(ref = need(rs, SNAP_SEC_VM, 0, "VM", err, errlen)))
		return -EINVAL;
	if ((r = hv_vm_restore(vm->hv, ref->data, ref->len, herr, sizeof(herr))))
		return say(err, errlen, r, "%s: %s", rs->state_path, herr);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if (!(ref = need(rs, SNAP_SEC_VCPU, i, "vCPU", err, errlen)))
			return -EINVAL;
		if ((r = hv_vcpu_restore(vm->vcpus[i].hv, ref->data, ref->len, herr, sizeof(herr))))
			return say(err, errlen, r, "%s: vcpu%u: %s", rs->state_path, i, herr);
	}
	if (!(ref = need(rs, SNAP_SEC_SERIAL, 0, "serial", err, errlen)))
		return -EINVAL;
	if (serial_restore(vm->serial, ref->data, ref->len))
		return say(err, errlen, -EINVAL, "%s: bad serial state", rs->state_path);
	pthread_mutex_lock(&vm->pio_lock);
	r = 0;
	if (!(ref = need(rs, SNAP_SEC_I8042, 0, "i8042", err, errlen)) ||
	    i8042_restore(&vm->i8042, ref->data, ref->len))
		r = ref ? say(err, errlen, -EINVAL, "%s: bad i8042 state", rs->state_path)
			: -EINVAL;
	else if (!(ref = need(rs, SNAP_SEC_ACPI_PM, 0, "ACPI PM", err, errlen)) ||
		 acpi_pm_restore(&vm->acpi_pm, ref->data, ref->len))
		r = ref ? say(err, errlen, -EINVAL, "%s: bad ACPI PM state", rs->state_path)
			: -EINVAL;
	else if (!(ref = need(rs, SNAP_SEC_RTC, 0, "RTC", err, errlen)) ||
		 rtc_restore(&vm->rtc, ref->data, ref->len))
		r = ref ? say(err, errlen, -EINVAL, "%s: bad RTC state", rs->state_path) : -EINVAL;
	pthread_mutex_unlock(&vm->pio_lock);
	if (r)
		return r;

	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		struct virtio_mmio *t = vm->virtio[i];
		const char *name = virtio_mmio_device_name(t);
		const struct snap_ref *dev = need(rs, SNAP_SEC_VIRTIO_DEV, i, name, err, errlen);
		if (!dev || !(ref = need(rs, SNAP_SEC_VIRTIO_MMIO, i, name, err, errlen)))
			return -EINVAL;
		if (ref->len != sizeof(struct virtio_mmio_state))
			return say(err, errlen, -EINVAL, "%s: %s (slot %u): bad transport state",
				   rs->state_path, name, i);
		r = virtio_mmio_restore_device(t, dev->data, dev->len);
		if (r == -ESTALE)
			return say(
			    err, errlen, -EINVAL,
			    "%s (slot %u): not the device the snapshot was taken with (a disk "
			    "image of another size, or read-only changed)",
			    name, i);
		if (r)
			return say(err, errlen, -EINVAL, "%s: %s (slot %u): bad device state",
				   rs->state_path, name, i);
		struct virtio_mmio_state ts;
		memcpy(&ts, ref->data, sizeof(ts));
		if (virtio_mmio_restore(t, &ts))
			return say(err, errlen, -EINVAL, "%s: %s (slot %u): bad transport state",
				   rs->state_path, name, i);
		/* Restored paused: nothing moves until vm_resume(). */
		if ((r = virtio_mmio_pause(t)))
			return say(err, errlen, r, "%s (slot %u): cannot pause: %s", name, i,
				   strerror(-r));
	}
	if ((r = rtc_pause(&vm->rtc)))
		return say(err, errlen, r, "cannot pause the RTC: %s", strerror(-r));
	vm->paused_clock_ns = rs->paused_clock_ns;
	vm->has_paused_clock = rs->has_paused_clock;
	return 0;
}

int vm_restore_start(struct vm *vm, bool resume, char *err, size_t errlen)
{
	int r = vm_start_paused(vm, err, errlen);

	if (!r && resume)
		r = vm_resume(vm, err, errlen);
	return r;
}

static int read_file(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return say(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > STATE_FILE_MAX) {
		close(fd);
		return say(err, errlen, -EINVAL, "%s: not a snapshot state file", path);
	}
	uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf || got != (size_t)st.st_size) {
		free(buf);
		return say(err, errlen, buf ? -EIO : -ENOMEM, "%s: cannot read it", path);
	}
	*out = buf;
	*len = got;
	return 0;
}

int vm_restore(const struct vm_restore_params *p, struct vm **out, char *err, size_t errlen)
{
	struct vm_config cfg;
	struct snap_file f = {0};
	struct snap_host host;
	struct vm_restore_src rs = {.mem_fd = -1};
	char perr[512], mem_default[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (!p->state_path || !p->state_path[0])
		return say(err, errlen, -EINVAL, "no snapshot state file given");
	rs.state_path = p->state_path;
	rs.mem_path = p->mem_path;
	if (!rs.mem_path) {
		if (snprintf(mem_default, sizeof(mem_default), "%s.mem", p->state_path) >=
		    (int)sizeof(mem_default))
			return say(err, errlen, -ENAMETOOLONG, "%s: path too long", p->state_path);
		rs.mem_path = mem_default;
	}
	rs.is_verify = p->is_verify;
	uint64_t t0 = now_ns();
	config_init(&cfg);
	if ((r = read_file(p->state_path, &buf, &len, err, errlen)))
		goto out;
	snap_host_probe(&host);
	if ((r = snap_parse(buf, len, ARCVMM_VERSION, &host, &f, perr, sizeof(perr)))) {
		say(err, errlen, r, "%s: %s", p->state_path, perr);
		goto out;
	}
	rs.f = &f;
	const struct snap_ref *c = snap_find(&f, SNAP_SEC_CONFIG, 0);
	if (!c) {
		r = say(err, errlen, -EINVAL, "%s: no config section", p->state_path);
		goto out;
	}
	if ((r = snapshot_config_parse(&cfg, c->data, c->len, &rs.paused_clock_ns, perr,
				       sizeof(perr)))) {
		say(err, errlen, r, "%s: %s", p->state_path, perr);
		goto out;
	}
	rs.has_paused_clock = rs.paused_clock_ns != 0;
	/* What the restoring process decides. */
	if (p->base) {
		cfg.console_in_fd = p->base->console_in_fd;
		cfg.console_out_fd = p->base->console_out_fd;
		cfg.seccomp = p->base->seccomp;
		cfg.log_level = p->base->log_level;
	}
	rs.mem_fd = open(rs.mem_path, O_RDONLY | O_CLOEXEC);
	if (rs.mem_fd < 0) {
		r = say(err, errlen, -errno, "memory file %s: %s", rs.mem_path, strerror(errno));
		goto out;
	}
	r = vm_create_from(&cfg, &rs, out, err, errlen);
	if (!r)
		(*out)->restore_t0_ns = t0;
	if (!r) {
		uint64_t t_end = now_ns();
		/* Where the time goes (-v): file read and checked, the VM built up to its RAM
		 * (devices opened, memory mapped, KVM VM, irqchip, vCPUs), the states set. */
		log_info("restore: read+check %.2f ms, build %.2f ms, KVM and device state %.2f "
			 "ms, total %.2f ms",
			 (double)(rs.t_mem - t0) / 1e6, (double)(rs.t_state - rs.t_mem) / 1e6,
			 (double)(rs.t_state_end - rs.t_state) / 1e6, (double)(t_end - t0) / 1e6);
	}
	if (!r)
		log_info("restored %s (%u vCPU(s), %llu MiB) from %s", p->state_path, cfg.ncpus,
			 (unsigned long long)(cfg.mem_size >> 20), rs.mem_path);
out:
	if (rs.mem_fd >= 0)
		close(rs.mem_fd); /* the mapping keeps the file */
	snap_file_fini(&f);
	free(buf);
	config_fini(&cfg);
	return r;
}

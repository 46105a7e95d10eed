/* routes.c — the REST API's endpoints: Firecracker's paths, bodies and status codes
 * (its swagger definition, src/firecracker/swagger/firecracker.yaml), over libarcvmm.
 *
 * Pre-boot pieces are checked when they are PUT, by the library's own JSON config parser
 * (a trial config holding just that piece), so a PUT that succeeds cannot make
 * InstanceStart fail on its syntax; files are checked to exist then too. Pieces are kept
 * as JSON and assembled into one document at InstanceStart. Everything after boot goes
 * through the library's state machine, whose refusals come back as 400 with its reason.
 *
 * Trust: method, path and body come from a hostile client; ids are restricted to
 * Firecracker's alphabet, every JSON type is checked before use.
 */
#include "api/api_internal.h"

#include <arcvmm.h>

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOT_AFTER_BOOT	"The requested operation is not supported after starting the microVM."
#define NOT_BEFORE_BOOT "The requested operation is not supported before starting the microVM."

static void reply_json(struct api_reply *out, unsigned status, cJSON *o)
{
	out->status = status;
	free(out->body);
	out->body = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!out->body)
		api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
}

static void reply_ok(struct api_reply *out)
{
	out->status = MHD_HTTP_NO_CONTENT;
	free(out->body);
	out->body = NULL;
}

/* Firecracker's ids: letters, digits and '_' (we also take '-'), 1..64 of them. */
static bool is_valid_id(const char *id)
{
	size_t n = 0;

	for (; id[n]; n++) {
		char c = id[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return n >= 1 && n <= 64;
}

static cJSON *parse_body(const char *body, size_t len, struct api_reply *out)
{
	if (len == 0) {
		api_fault(out, MHD_HTTP_BAD_REQUEST, "The request body is missing.");
		return NULL;
	}
	cJSON *o = cJSON_ParseWithLength(body, len);
	if (!o) {
		api_fault(out, MHD_HTTP_BAD_REQUEST, "The request body is not valid JSON.");
		return NULL;
	}
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		api_fault(out, MHD_HTTP_BAD_REQUEST, "The request body must be a JSON object.");
		return NULL;
	}
	return o;
}

static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A file named by a client must be there and readable when it is given. */
static int check_file(const char *what, const char *path, bool is_writable, struct api_reply *out)
{
	struct stat st;

	if (stat(path, &st) < 0 || access(path, is_writable ? R_OK | W_OK : R_OK) < 0) {
		api_fault(out, MHD_HTTP_BAD_REQUEST, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		api_fault(out, MHD_HTTP_BAD_REQUEST, "%s %s: is a directory", what, path);
		return -1;
	}
	return 0;
}

/* Runs the library's parser on a document holding just this piece (plus a placeholder
 * boot source), so every PUT is checked the way InstanceStart will read it. */
static int check_piece(const char *key, const cJSON *piece, bool is_array, const char *what,
		       struct api_reply *out)
{
	cJSON *doc = cJSON_CreateObject();
	struct arcvmm_config *c = arcvmm_config_new();
	int r = -ENOMEM;

	if (!doc || !c)
		goto out;
	if (strcmp(key, "boot-source")) {
		cJSON *bs = cJSON_AddObjectToObject(doc, "boot-source");
		if (!bs || !cJSON_AddStringToObject(bs, "kernel_image_path", "/dev/null"))
			goto out;
	}
	cJSON *copy = cJSON_Duplicate(piece, 1);
	if (!copy)
		goto out;
	if (is_array) {
		cJSON *arr = cJSON_CreateArray();
		if (!arr) {
			cJSON_Delete(copy);
			goto out;
		}
		cJSON_AddItemToArray(arr, copy);
		copy = arr;
	}
	cJSON_AddItemToObject(doc, key, copy);
	char *text = cJSON_PrintUnformatted(doc);
	if (!text)
		goto out;
	r = arcvmm_config_load_json(c, text, what);
	free(text);
	if (r)
		api_fault(out, MHD_HTTP_BAD_REQUEST, "%s", arcvmm_last_error());
out:
	if (r == -ENOMEM)
		api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	cJSON_Delete(doc);
	arcvmm_config_free(c);
	return r;
}

static bool is_started(struct api_server *s)
{
	return s->vm != NULL;
}

/* --- GET / and friends --- */

static void get_instance(struct api_server *s, struct api_reply *out)
{
	cJSON *o = cJSON_CreateObject();

	if (o) {
		enum arcvmm_state st = s->vm ? arcvmm_state(s->vm) : ARCVMM_STATE_NOT_STARTED;
		cJSON_AddStringToObject(o, "id", s->id);
		cJSON_AddStringToObject(o, "state", arcvmm_state_name(st));
		cJSON_AddStringToObject(o, "vmm_version", arcvmm_version());
		cJSON_AddStringToObject(o, "app_name", "arcvmm");
	}
	reply_json(out, MHD_HTTP_OK, o);
}

static cJSON *machine_config_now(struct api_server *s)
{
	cJSON *o;

	if (s->vm) {
		o = cJSON_CreateObject();
		if (o) {
			cJSON_AddNumberToObject(o, "vcpu_count", arcvmm_vcpus(s->vm));
			cJSON_AddNumberToObject(o, "mem_size_mib", (double)arcvmm_mem_mib(s->vm));
		}
	} else if (s->machine_config) {
		o = cJSON_Duplicate(s->machine_config, 1);
	} else {
		o = cJSON_CreateObject();
		if (o) {
			cJSON_AddNumberToObject(o, "vcpu_count", 1);
			cJSON_AddNumberToObject(o, "mem_size_mib", 256);
		}
	}
	if (o && !cJSON_HasObjectItem(o, "smt"))
		cJSON_AddBoolToObject(o, "smt", 0);
	if (o && !cJSON_HasObjectItem(o, "huge_pages")) {
		const cJSON *hp =
		    s->machine_config
			? cJSON_GetObjectItemCaseSensitive(s->machine_config, "huge_pages")
			: NULL;
		cJSON_AddStringToObject(o, "huge_pages",
					cJSON_IsString(hp) ? hp->valuestring : "None");
	}
	if (o && !cJSON_HasObjectItem(o, "track_dirty_pages"))
		cJSON_AddBoolToObject(o, "track_dirty_pages", 0);
	return o;
}

/* Firecracker clients send these with their "nothing" values; anything else we lack. */
static int strip_none(cJSON *o, const char *key, struct api_reply *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	if (cJSON_IsNull(v) ||
	    (cJSON_IsString(v) && (!strcmp(v->valuestring, "None") || !v->valuestring[0]))) {
		cJSON_DeleteItemFromObjectCaseSensitive(o, key);
		return 0;
	}
	api_fault(out, MHD_HTTP_BAD_REQUEST, "machine-config: \"%s\" is not supported by arcvmm",
		  key);
	return -1;
}

static void put_machine_config(struct api_server *s, cJSON *body, bool is_patch,
			       struct api_reply *out)
{
	if (strip_none(body, "cpu_template", out))
		return;
	/* huge_pages: "None" or "2M", checked with the rest by the JSON config parser. */
	cJSON *merged = body;
	if (is_patch) {
		merged = s->machine_config ? cJSON_Duplicate(s->machine_config, 1)
					   : cJSON_CreateObject();
		if (!merged)
			return api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		cJSON *it;
		cJSON_ArrayForEach(it, body)
		{
			cJSON *dup = cJSON_Duplicate(it, 1);
			if (dup) {
				cJSON_DeleteItemFromObjectCaseSensitive(merged, it->string);
				cJSON_AddItemToObject(merged, it->string, dup);
			}
		}
	} else if (!cJSON_HasObjectItem(body, "vcpu_count") ||
		   !cJSON_HasObjectItem(body, "mem_size_mib")) {
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "machine-config needs \"vcpu_count\" and \"mem_size_mib\"");
	}
	if (check_piece("machine-config", merged, false, "PUT /machine-config", out)) {
		if (merged != body)
			cJSON_Delete(merged);
		return;
	}
	if (merged == body)
		merged = cJSON_Duplicate(body, 1);
	cJSON_Delete(s->machine_config);
	s->machine_config = merged;
	reply_ok(out);
}

static void put_boot_source(struct api_server *s, cJSON *body, struct api_reply *out)
{
	const char *k = get_str(body, "kernel_image_path"), *i = get_str(body, "initrd_path");

	if (check_piece("boot-source", body, false, "PUT /boot-source", out))
		return;
	if (check_file("kernel_image_path", k, false, out) ||
	    (i && check_file("initrd_path", i, false, out)))
		return;
	cJSON_Delete(s->boot_source);
	s->boot_source = cJSON_Duplicate(body, 1);
	reply_ok(out);
}

/* Replaces the entry whose idkey equals id, or appends. */
static int store_by_id(cJSON **arr, unsigned *n, unsigned max, const char *idkey, const char *id,
		       cJSON *piece)
{
	for (unsigned i = 0; i < *n; i++) {
		if (!strcmp(get_str(arr[i], idkey), id)) {
			cJSON_Delete(arr[i]);
			arr[i] = piece;
			return 0;
		}
	}
	if (*n == max)
		return -ENOSPC;
	arr[(*n)++] = piece;
	return 0;
}

static int find_by_id(cJSON **arr, unsigned n, const char *idkey, const char *id)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(get_str(arr[i], idkey), id))
			return (int)i;
	return -1;
}

/* The id in the path must match the body's (Firecracker's rule). */
static int check_body_id(cJSON *body, const char *key, const char *id, struct api_reply *out)
{
	const char *bid = get_str(body, key);

	if (!bid)
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "The body needs \"%s\".", key), -1;
	if (strcmp(bid, id))
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "The id from the path (%s) does not match the id from the body "
				 "(%s).",
				 id, bid),
		       -1;
	return 0;
}

static void put_drive(struct api_server *s, const char *id, cJSON *body, struct api_reply *out)
{
	if (check_body_id(body, "drive_id", id, out))
		return;
	const cJSON *root = cJSON_GetObjectItemCaseSensitive(body, "is_root_device");
	if (!cJSON_IsBool(root))
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "drive %s: \"is_root_device\" (true or false) is required", id);
	const cJSON *pu = cJSON_GetObjectItemCaseSensitive(body, "partuuid");
	if (pu && !(cJSON_IsString(pu) && is_valid_id(pu->valuestring)))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "drive %s: bad \"partuuid\"", id);
	if (cJSON_IsTrue(root)) {
		for (unsigned i = 0; i < s->nr_drives; i++)
			if (cJSON_IsTrue(
				cJSON_GetObjectItemCaseSensitive(s->drives[i], "is_root_device")) &&
			    strcmp(get_str(s->drives[i], "drive_id"), id))
				return api_fault(out, MHD_HTTP_BAD_REQUEST,
						 "A root block device already exists (%s).",
						 get_str(s->drives[i], "drive_id"));
	}
	/* The parser does not know partuuid (it only shapes root=): check without it. */
	cJSON *trial = cJSON_Duplicate(body, 1);
	if (!trial)
		return api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	cJSON_DeleteItemFromObjectCaseSensitive(trial, "partuuid");
	char what[96];
	snprintf(what, sizeof(what), "PUT /drives/%s", id); /* id is at most 64 bytes */
	int r = check_piece("drives", trial, true, what, out);
	cJSON_Delete(trial);
	if (r)
		return;
	const char *path = get_str(body, "path_on_host");
	bool is_ro = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "is_read_only"));
	if (check_file("path_on_host", path, !is_ro, out))
		return;
	cJSON *piece = cJSON_Duplicate(body, 1);
	if (!piece ||
	    store_by_id(s->drives, &s->nr_drives, API_MAX_DRIVES, "drive_id", id, piece)) {
		cJSON_Delete(piece);
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "too many drives (at most %d)",
				 API_MAX_DRIVES);
	}
	reply_ok(out);
}

/* PUT /fs/{tag}: a virtio-fs share (arcvmm's own endpoint, docs/api-fs.md):
 * {"path", ["tag"], ["read_only"], ["cache"], ["xattr"], ["queues"]}; a second PUT of
 * the same tag replaces the first. */
static void put_fs(struct api_server *s, const char *tag, cJSON *body, struct api_reply *out)
{
	char what[96];

	if (!cJSON_IsObject(body))
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "PUT /fs/%s: the body must be an object", tag);
	if (cJSON_HasObjectItem(body, "tag") && check_body_id(body, "tag", tag, out))
		return;
	cJSON *piece = cJSON_Duplicate(body, 1);
	if (!piece)
		return api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	if (!cJSON_HasObjectItem(piece, "tag"))
		cJSON_AddStringToObject(piece, "tag", tag);
	snprintf(what, sizeof(what), "PUT /fs/%s", tag); /* tag is at most 64 bytes */
	if (check_piece("fs", piece, true, what, out)) {
		cJSON_Delete(piece);
		return;
	}
	if (store_by_id(s->fs, &s->nr_fs, API_MAX_FS, "tag", tag, piece)) {
		cJSON_Delete(piece);
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "too many shares (at most %d)",
				 API_MAX_FS);
	}
	reply_ok(out);
}

/* Firecracker's RateLimiter JSON into the library's struct. */
static int parse_bucket(const cJSON *o, struct arcvmm_token_bucket *b, const char *what,
			struct api_reply *out)
{
	static const char *const keys[] = {"size", "one_time_burst", "refill_time"};
	uint64_t *dst[] = {&b->size, &b->one_time_burst, &b->refill_time_ms};
	const cJSON *it;

	memset(b, 0, sizeof(*b));
	if (!o || cJSON_IsNull(o))
		return 0;
	if (!cJSON_IsObject(o))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s must be an object", what), -1;
	cJSON_ArrayForEach(it, o)
	{
		unsigned k;
		for (k = 0; k < 3; k++)
			if (!strcmp(it->string, keys[k]))
				break;
		if (k == 3)
			return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s: unknown field \"%s\"",
					 what, it->string),
			       -1;
		if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1e18 ||
		    it->valuedouble != (double)(uint64_t)it->valuedouble)
			return api_fault(out, MHD_HTTP_BAD_REQUEST,
					 "%s: \"%s\" must be a whole number >= 0", what,
					 it->string),
			       -1;
		*dst[k] = (uint64_t)it->valuedouble;
	}
	return 0;
}

static int parse_rate_limit(const cJSON *o, struct arcvmm_rate_limit *rl, const char *what,
			    struct api_reply *out)
{
	char w[128];
	const cJSON *it;

	memset(rl, 0, sizeof(*rl));
	if (!o || cJSON_IsNull(o))
		return 0;
	if (!cJSON_IsObject(o))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s must be an object", what), -1;
	cJSON_ArrayForEach(
	    it, o) if (strcmp(it->string, "bandwidth") &&
		       strcmp(it->string, "ops")) return api_fault(out, MHD_HTTP_BAD_REQUEST,
								   "%s: unknown field \"%s\"", what,
								   it->string),
	    -1;
	snprintf(w, sizeof(w), "%s.bandwidth", what);
	if (parse_bucket(cJSON_GetObjectItemCaseSensitive(o, "bandwidth"), &rl->bandwidth, w, out))
		return -1;
	snprintf(w, sizeof(w), "%s.ops", what);
	return parse_bucket(cJSON_GetObjectItemCaseSensitive(o, "ops"), &rl->ops, w, out);
}

static int check_only_keys(const cJSON *o, const char *const *keys, const char *what,
			   struct api_reply *out)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, o)
	{
		bool ok = false;
		for (unsigned i = 0; keys[i]; i++)
			ok |= !strcmp(it->string, keys[i]);
		if (!ok) {
			api_fault(out, MHD_HTTP_BAD_REQUEST,
				  "%s: \"%s\" cannot be changed after boot", what, it->string);
			return -1;
		}
	}
	return 0;
}

static void patch_drive(struct api_server *s, const char *id, cJSON *body, struct api_reply *out)
{
	static const char *const keys[] = {"drive_id", "rate_limiter", NULL};
	struct arcvmm_rate_limit rl;

	if (!is_started(s))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, NOT_BEFORE_BOOT);
	if (check_body_id(body, "drive_id", id, out) ||
	    check_only_keys(body, keys, "PATCH /drives", out))
		return;
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(body, "rate_limiter");
	if (parse_rate_limit(lim, &rl, "rate_limiter", out))
		return;
	if (lim && arcvmm_disk_set_rate_limit(s->vm, id, &rl))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s", arcvmm_last_error());
	reply_ok(out);
}

static void put_net(struct api_server *s, const char *id, cJSON *body, struct api_reply *out)
{
	if (check_body_id(body, "iface_id", id, out))
		return;
	char what[112];
	snprintf(what, sizeof(what), "PUT /network-interfaces/%s", id);
	if (check_piece("network-interfaces", body, true, what, out))
		return;
	cJSON *piece = cJSON_Duplicate(body, 1);
	if (!piece || store_by_id(s->nets, &s->nr_nets, API_MAX_NETS, "iface_id", id, piece)) {
		cJSON_Delete(piece);
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "too many network interfaces (at most %d)", API_MAX_NETS);
	}
	reply_ok(out);
}

static void patch_net(struct api_server *s, const char *id, cJSON *body, struct api_reply *out)
{
	static const char *const keys[] = {"iface_id", "rx_rate_limiter", "tx_rate_limiter", NULL};
	struct arcvmm_rate_limit rx, tx;

	if (!is_started(s))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, NOT_BEFORE_BOOT);
	if (check_body_id(body, "iface_id", id, out) ||
	    check_only_keys(body, keys, "PATCH /network-interfaces", out))
		return;
	/* NICs are numbered in the order they were PUT (the device order). */
	int idx = find_by_id(s->nets, s->nr_nets, "iface_id", id);
	if (idx < 0)
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "no network interface \"%s\"", id);
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(body, "rx_rate_limiter");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "tx_rate_limiter");
	if (parse_rate_limit(r, &rx, "rx_rate_limiter", out) ||
	    parse_rate_limit(t, &tx, "tx_rate_limiter", out))
		return;
	if ((r || t) &&
	    arcvmm_net_set_rate_limit(s->vm, (unsigned)idx, r ? &rx : NULL, t ? &tx : NULL))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s", arcvmm_last_error());
	reply_ok(out);
}

/* --- balloon --- */

static void balloon_reply(struct api_server *s, struct api_reply *out)
{
	if (!is_started(s)) {
		if (!s->balloon)
			return api_fault(out, MHD_HTTP_BAD_REQUEST,
					 "No balloon device configured.");
		return reply_json(out, MHD_HTTP_OK, cJSON_Duplicate(s->balloon, 1));
	}
	struct arcvmm_balloon_config c;
	if (arcvmm_balloon_get_config(s->vm, &c))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "No balloon device configured.");
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddNumberToObject(o, "amount_mib", c.amount_mib);
		cJSON_AddBoolToObject(o, "deflate_on_oom", c.deflate_on_oom);
		cJSON_AddNumberToObject(o, "stats_polling_interval_s", c.stats_polling_interval_s);
	}
	reply_json(out, MHD_HTTP_OK, o);
}

static void balloon_stats_reply(struct api_server *s, struct api_reply *out)
{
	struct arcvmm_balloon_stats st;

	if (!is_started(s))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, NOT_BEFORE_BOOT);
	if (arcvmm_balloon_get_stats(s->vm, &st))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s", arcvmm_last_error());
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	cJSON_AddNumberToObject(o, "target_pages", st.target_pages);
	cJSON_AddNumberToObject(o, "actual_pages", st.actual_pages);
	cJSON_AddNumberToObject(o, "target_mib", st.target_mib);
	cJSON_AddNumberToObject(o, "actual_mib", st.actual_mib);
	const struct {
		const char *name;
		int64_t v;
	} f[] = {{"swap_in", st.swap_in},
		 {"swap_out", st.swap_out},
		 {"major_faults", st.major_faults},
		 {"minor_faults", st.minor_faults},
		 {"free_memory", st.free_memory},
		 {"total_memory", st.total_memory},
		 {"available_memory", st.available_memory},
		 {"disk_caches", st.disk_caches},
		 {"hugetlb_allocations", st.hugetlb_allocations},
		 {"hugetlb_failures", st.hugetlb_failures}};
	for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].v >= 0)
			cJSON_AddNumberToObject(o, f[i].name, (double)f[i].v);
	reply_json(out, MHD_HTTP_OK, o);
}

static int get_uint(const cJSON *o, const char *key, double max, uint32_t *v, bool *has,
		    struct api_reply *out)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	*has = it != NULL;
	if (!it)
		return 0;
	if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > max ||
	    it->valuedouble != (double)(uint32_t)it->valuedouble)
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "\"%s\" must be a whole number >= 0",
				 key),
		       -1;
	*v = (uint32_t)it->valuedouble;
	return 0;
}

static void patch_balloon(struct api_server *s, cJSON *body, bool is_stats, struct api_reply *out)
{
	static const char *const keys[] = {"amount_mib", NULL};
	static const char *const skeys[] = {"stats_polling_interval_s", NULL};
	const char *key = is_stats ? "stats_polling_interval_s" : "amount_mib";
	uint32_t v;
	bool has;

	if (check_only_keys(body, is_stats ? skeys : keys,
			    is_stats ? "PATCH /balloon/statistics" : "PATCH /balloon", out) ||
	    get_uint(body, key, is_stats ? 86400 : 4294967295.0, &v, &has, out))
		return;
	if (!has)
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "The body needs \"%s\".", key);
	if (!is_started(s)) {
		if (!s->balloon)
			return api_fault(out, MHD_HTTP_BAD_REQUEST,
					 "No balloon device configured.");
		cJSON *copy = cJSON_Duplicate(s->balloon, 1);
		if (!copy)
			return api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		cJSON_DeleteItemFromObjectCaseSensitive(copy, key);
		cJSON_AddNumberToObject(copy, key, v);
		if (check_piece("balloon", copy, false, "PATCH /balloon", out)) {
			cJSON_Delete(copy);
			return;
		}
		cJSON_Delete(s->balloon);
		s->balloon = copy;
		return reply_ok(out);
	}
	int r = is_stats ? arcvmm_balloon_set_stats_interval(s->vm, v)
			 : arcvmm_balloon_set_target(s->vm, v);
	if (r)
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s", arcvmm_last_error());
	reply_ok(out);
}

/* --- logger, metrics --- */

static int open_output(const char *what, const char *path, struct api_reply *out)
{
	/* Non-blocking: a FIFO whose reader stops costs lines, never the API thread. */
	int fd =
	    open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		api_fault(out, MHD_HTTP_BAD_REQUEST, "%s %s: %s", what, path, strerror(errno));
	return fd;
}

static void put_logger(struct api_server *s, cJSON *body, struct api_reply *out)
{
	static const char *const keys[] = {"log_path",	      "level",	"show_level",
					   "show_log_origin", "module", NULL};
	static const char *const levels[] = {"error", "warning", "info", "debug", "trace", "off"};
	static const int lv[] = {0, 1, 2, 3, 3, 0};
	const cJSON *it;
	int level = -1;

	cJSON_ArrayForEach(it, body)
	{
		bool ok = false;
		for (unsigned i = 0; keys[i]; i++)
			ok |= !strcmp(it->string, keys[i]);
		if (!ok)
			return api_fault(out, MHD_HTTP_BAD_REQUEST, "logger: unknown field \"%s\"",
					 it->string);
	}
	const char *lvl = get_str(body, "level");
	if (cJSON_HasObjectItem(body, "level")) {
		for (unsigned i = 0; lvl && i < 6; i++)
			if (!strcasecmp(lvl, levels[i]))
				level = lv[i];
		if (level < 0)
			return api_fault(out, MHD_HTTP_BAD_REQUEST,
					 "logger: \"level\" must be Error, Warning, Info, Debug, "
					 "Trace or Off");
	}
	const char *path = get_str(body, "log_path");
	if (cJSON_HasObjectItem(body, "log_path") && !path)
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "logger: \"log_path\" must be a string");
	if (path) {
		int fd = open_output("logger: log_path", path, out);
		if (fd < 0)
			return;
		if (arcvmm_set_log_fd(fd)) {
			close(fd);
			return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s", arcvmm_last_error());
		}
		if (s->log_fd >= 0)
			close(s->log_fd);
		s->log_fd = fd;
	}
	if (level >= 0)
		arcvmm_set_log_level(level);
	reply_ok(out);
}

static void put_metrics(struct api_server *s, cJSON *body, struct api_reply *out)
{
	const char *path = get_str(body, "metrics_path");

	if (s->metrics_fd >= 0)
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "Reinitialization of metrics not allowed.");
	if (!path || cJSON_GetArraySize(body) != 1)
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "metrics: the body is {\"metrics_path\": PATH}");
	int fd = open_output("metrics: metrics_path", path, out);
	if (fd < 0)
		return;
	s->metrics_fd = fd;
	reply_ok(out);
}

/* --- InstanceStart --- */

/* One Firecracker-style document from the pieces: the root drive first (it becomes vda),
 * root= added to the boot arguments as Firecracker does. */
static char *assemble(struct api_server *s, struct api_reply *out)
{
	cJSON *doc = cJSON_CreateObject();
	char *text = NULL;
	int root = -1;

	if (!doc)
		return NULL;
	for (unsigned i = 0; i < s->nr_drives; i++)
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s->drives[i], "is_root_device")))
			root = (int)i;
	cJSON *bs = cJSON_Duplicate(s->boot_source, 1);
	if (!bs)
		goto out;
	cJSON_AddItemToObject(doc, "boot-source", bs);
	if (root >= 0) {
		const char *args = get_str(bs, "boot_args");
		const char *pu = get_str(s->drives[root], "partuuid");
		bool ro =
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s->drives[root], "is_read_only"));
		size_t n = (args ? strlen(args) : 0) + 128;
		char *a = malloc(n);
		if (!a)
			goto out;
		snprintf(a, n, "%s%sroot=%s%s %s", args ? args : "", args && *args ? " " : "",
			 pu ? "PARTUUID=" : "/dev/vda", pu ? pu : "", ro ? "ro" : "rw");
		if (!args) {
			/* Our default arguments, then root=: read them from the library? They
			 * are the serial-console defaults; Firecracker clients give their own. */
			snprintf(a, n, "console=ttyS0 root=%s%s %s", pu ? "PARTUUID=" : "/dev/vda",
				 pu ? pu : "", ro ? "ro" : "rw");
		}
		cJSON_DeleteItemFromObjectCaseSensitive(bs, "boot_args");
		cJSON_AddStringToObject(bs, "boot_args", a);
		free(a);
	}
	if (s->machine_config)
		cJSON_AddItemToObject(doc, "machine-config", cJSON_Duplicate(s->machine_config, 1));
	if (s->nr_drives) {
		cJSON *arr = cJSON_AddArrayToObject(doc, "drives");
		for (int pass = 0; arr && pass < 2; pass++) {
			for (unsigned i = 0; i < s->nr_drives; i++) {
				if ((pass == 0) != ((int)i == root))
					continue;
				cJSON *d = cJSON_Duplicate(s->drives[i], 1);
				if (d) {
					cJSON_DeleteItemFromObjectCaseSensitive(d, "partuuid");
					cJSON_AddItemToArray(arr, d);
				}
			}
		}
	}
	if (s->nr_nets) {
		cJSON *arr = cJSON_AddArrayToObject(doc, "network-interfaces");
		for (unsigned i = 0; arr && i < s->nr_nets; i++)
			cJSON_AddItemToArray(arr, cJSON_Duplicate(s->nets[i], 1));
	}
	if (s->balloon)
		cJSON_AddItemToObject(doc, "balloon", cJSON_Duplicate(s->balloon, 1));
	if (s->vsock)
		cJSON_AddItemToObject(doc, "vsock", cJSON_Duplicate(s->vsock, 1));
	if (s->nr_fs) {
		cJSON *arr = cJSON_AddArrayToObject(doc, "fs");
		for (unsigned i = 0; arr && i < s->nr_fs; i++)
			cJSON_AddItemToArray(arr, cJSON_Duplicate(s->fs[i], 1));
	}
	if (s->has_entropy_off)
		cJSON_AddBoolToObject(doc, "entropy", 0);
	text = cJSON_PrintUnformatted(doc);
out:
	if (!text)
		api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	cJSON_Delete(doc);
	return text;
}

static void instance_start(struct api_server *s, struct api_reply *out)
{
	struct arcvmm_config *c;
	struct arcvmm_vm *vm;
	char *doc;

	if (is_started(s))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, NOT_AFTER_BOOT);
	if (!s->boot_source)
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "Cannot start microvm without kernel configuration.");
	if (!(doc = assemble(s, out)))
		return;
	c = arcvmm_config_new();
	if (!c) {
		free(doc);
		return api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	int r = 0;
	if (s->argc > 1)
		r = arcvmm_config_parse_args(c, s->argc, s->argv);
	if (!r)
		r = arcvmm_config_load_json(c, doc, "InstanceStart");
	if (!r && !s->has_cli_net && s->nr_nets == 0)
		r = arcvmm_config_add_net(c, "none"); /* Firecracker: no NIC unless one is PUT */
	free(doc);
	if (r) {
		arcvmm_config_free(c);
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s", arcvmm_last_error());
	}
	vm = arcvmm_create(c);
	arcvmm_config_free(c);
	if (!vm)
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "Cannot start the microVM: %s",
				 arcvmm_last_error());
	if (arcvmm_start(vm)) {
		api_fault(out, MHD_HTTP_BAD_REQUEST, "Cannot start the microVM: %s",
			  arcvmm_last_error());
		arcvmm_destroy(vm);
		return;
	}
	s->vm = vm;
	s->is_vm_ours = true;
	uint64_t one = 1;
	ssize_t w = write(s->start_fd, &one, sizeof(one));
	(void)w;
	reply_ok(out);
}

static void put_action(struct api_server *s, cJSON *body, struct api_reply *out)
{
	const char *a = get_str(body, "action_type");

	if (!a || cJSON_GetArraySize(body) != 1)
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "actions: the body is {\"action_type\": ACTION}");
	if (!strcmp(a, "InstanceStart"))
		return instance_start(s, out);
	if (!strcmp(a, "FlushMetrics")) {
		if (s->metrics_fd < 0)
			return api_fault(out, MHD_HTTP_BAD_REQUEST,
					 "The metrics system is not initialized (PUT /metrics).");
		int r = api_flush_metrics(s);
		if (r && r != -EAGAIN)
			return api_fault(out, MHD_HTTP_BAD_REQUEST, "FlushMetrics: %s",
					 strerror(-r));
		return reply_ok(out);
	}
	if (!strcmp(a, "SendCtrlAltDel") || !strcmp(a, "PowerButton")) {
		if (!is_started(s))
			return api_fault(out, MHD_HTTP_BAD_REQUEST, NOT_BEFORE_BOOT);
		if (arcvmm_request_shutdown(s->vm, a[0] == 'S' ? ARCVMM_SHUTDOWN_CTRL_ALT_DEL
							       : ARCVMM_SHUTDOWN_POWER_BUTTON))
			return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s", arcvmm_last_error());
		return reply_ok(out);
	}
	api_fault(out, MHD_HTTP_BAD_REQUEST,
		  "actions: unknown action_type \"%.64s\" (InstanceStart, SendCtrlAltDel, "
		  "FlushMetrics, PowerButton)",
		  a);
}

static void patch_vm(struct api_server *s, cJSON *body, struct api_reply *out)
{
	const char *st = get_str(body, "state");

	if (!st || cJSON_GetArraySize(body) != 1)
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "vm: the body is {\"state\": \"Paused\" | \"Resumed\"}");
	bool is_pause = !strcmp(st, "Paused");
	if (!is_pause && strcmp(st, "Resumed"))
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "vm: \"state\" must be \"Paused\" or \"Resumed\"");
	if (!is_started(s))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, NOT_BEFORE_BOOT);
	if (is_pause ? arcvmm_pause(s->vm) : arcvmm_resume(s->vm))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s", arcvmm_last_error());
	reply_ok(out);
}

/* --- snapshots (Firecracker's PUT /snapshot/create and /snapshot/load) --- */

static bool has_only_keys(const cJSON *o, const char *const *known)
{
	const cJSON *k;

	cJSON_ArrayForEach(k, o)
	{
		unsigned i;
		for (i = 0; known[i] && strcmp(k->string, known[i]); i++)
			;
		if (!known[i])
			return false;
	}
	return true;
}

static void put_snapshot_create(struct api_server *s, cJSON *b, struct api_reply *out)
{
	static const char *const keys[] = {"snapshot_type", "snapshot_path", "mem_file_path",
					   "version", NULL};
	const char *type = get_str(b, "snapshot_type"), *path = get_str(b, "snapshot_path"),
		   *mem = get_str(b, "mem_file_path");

	if (!has_only_keys(b, keys))
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "snapshot/create: unknown field (the body is {snapshot_type, "
				 "snapshot_path, mem_file_path})");
	if (!path || !mem)
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "snapshot/create: snapshot_path and mem_file_path are required");
	if (type && strcmp(type, "Full") && strcmp(type, "Diff"))
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "snapshot/create: snapshot_type must be \"Full\" or \"Diff\"");
	if (!is_started(s))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, NOT_BEFORE_BOOT);
	if (arcvmm_snapshot_create(s->vm, path, mem,
				   type && !strcmp(type, "Diff") ? ARCVMM_SNAPSHOT_DIFF
								 : ARCVMM_SNAPSHOT_FULL))
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s", arcvmm_last_error());
	reply_ok(out);
}

static void put_snapshot_load(struct api_server *s, cJSON *b, struct api_reply *out)
{
	static const char *const keys[] = {"snapshot_path",	    "mem_backend", "mem_file_path",
					   "enable_diff_snapshots", "resume_vm",   NULL};
	const char *path = get_str(b, "snapshot_path"), *mem = get_str(b, "mem_file_path");
	const cJSON *be = cJSON_GetObjectItemCaseSensitive(b, "mem_backend");
	const cJSON *diff = cJSON_GetObjectItemCaseSensitive(b, "enable_diff_snapshots");
	const cJSON *resume = cJSON_GetObjectItemCaseSensitive(b, "resume_vm");

	if (!has_only_keys(b, keys))
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "snapshot/load: unknown field (the body is {snapshot_path, "
				 "mem_backend, enable_diff_snapshots, resume_vm})");
	if (!path)
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "snapshot/load: snapshot_path is required");
	if (be && mem)
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "snapshot/load: give mem_backend or mem_file_path, not both");
	if (be) {
		const char *bt = get_str(be, "backend_type"), *bp = get_str(be, "backend_path");
		if (!cJSON_IsObject(be) || !bt || !bp)
			return api_fault(
			    out, MHD_HTTP_BAD_REQUEST,
			    "snapshot/load: mem_backend is {backend_type, backend_path}");
		if (strcmp(bt, "File"))
			return api_fault(
			    out, MHD_HTTP_BAD_REQUEST,
			    "snapshot/load: backend_type \"%s\" is not supported (only "
			    "\"File\")",
			    bt);
		mem = bp;
	}
	if (!mem)
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "snapshot/load: mem_backend (or mem_file_path) is required");
	if ((diff && !cJSON_IsBool(diff)) || (resume && !cJSON_IsBool(resume)))
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "snapshot/load: enable_diff_snapshots and resume_vm are booleans");
	if (cJSON_IsTrue(diff))
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "snapshot/load: diff snapshots are not supported yet");
	if (is_started(s))
		return api_fault(
		    out, MHD_HTTP_BAD_REQUEST,
		    "Loading a microVM snapshot not allowed after the microVM started.");
	if (s->boot_source || s->machine_config || s->nr_drives || s->nr_nets)
		return api_fault(out, MHD_HTTP_BAD_REQUEST,
				 "Loading a microVM snapshot not allowed after configuring "
				 "boot-specific resources.");
	struct arcvmm_config *c = arcvmm_config_new();
	if (!c)
		return api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	/* The command line's console, seccomp and log settings; the machine is the
	 * snapshot's. */
	if (s->argc > 1 && arcvmm_config_parse_args(c, s->argc, s->argv) < 0) {
		arcvmm_config_free(c);
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "%s", arcvmm_last_error());
	}
	struct arcvmm_vm *vm =
	    arcvmm_restore(path, mem, c, cJSON_IsTrue(resume) ? ARCVMM_RESTORE_RESUME : 0);
	arcvmm_config_free(c);
	if (!vm)
		return api_fault(out, MHD_HTTP_BAD_REQUEST, "Cannot load snapshot: %s",
				 arcvmm_last_error());
	s->vm = vm;
	s->is_vm_ours = true;
	uint64_t one = 1;
	ssize_t w = write(s->start_fd, &one, sizeof(one));
	(void)w;
	reply_ok(out);
}

static void get_vm_config(struct api_server *s, struct api_reply *out)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	if (s->boot_source)
		cJSON_AddItemToObject(o, "boot-source", cJSON_Duplicate(s->boot_source, 1));
	cJSON_AddItemToObject(o, "machine-config", machine_config_now(s));
	cJSON *d = cJSON_AddArrayToObject(o, "drives");
	for (unsigned i = 0; d && i < s->nr_drives; i++)
		cJSON_AddItemToArray(d, cJSON_Duplicate(s->drives[i], 1));
	cJSON *n = cJSON_AddArrayToObject(o, "network-interfaces");
	for (unsigned i = 0; n && i < s->nr_nets; i++)
		cJSON_AddItemToArray(n, cJSON_Duplicate(s->nets[i], 1));
	if (s->balloon)
		cJSON_AddItemToObject(o, "balloon", cJSON_Duplicate(s->balloon, 1));
	if (s->vsock)
		cJSON_AddItemToObject(o, "vsock", cJSON_Duplicate(s->vsock, 1));
	if (s->nr_fs) {
		cJSON *f = cJSON_AddArrayToObject(o, "fs");
		for (unsigned i = 0; f && i < s->nr_fs; i++)
			cJSON_AddItemToArray(f, cJSON_Duplicate(s->fs[i], 1));
	}
	reply_json(out, MHD_HTTP_OK, o);
}

/* --- the table of paths --- */

static bool has_prefix(const char *url, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);

	if (strncmp(url, prefix, n))
		return false;
	*rest = url + n;
	return true;
}

void api_route(struct api_server *s, const char *method, const char *url, const char *body,
	       size_t len, struct api_reply *out)
{
	bool is_get = !strcmp(method, "GET"), is_put = !strcmp(method, "PUT"),
	     is_patch = !strcmp(method, "PATCH");
	const char *id = NULL;
	cJSON *b = NULL;

	out->status = 0;
	if (is_get) {
		if (!strcmp(url, "/"))
			return get_instance(s, out);
		if (!strcmp(url, "/version")) {
			cJSON *o = cJSON_CreateObject();
			if (o)
				cJSON_AddStringToObject(o, "firecracker_version", arcvmm_version());
			return reply_json(out, MHD_HTTP_OK, o);
		}
		if (!strcmp(url, "/machine-config"))
			return reply_json(out, MHD_HTTP_OK, machine_config_now(s));
		if (!strcmp(url, "/vm/config"))
			return get_vm_config(s, out);
		if (!strcmp(url, "/balloon"))
			return balloon_reply(s, out);
		if (!strcmp(url, "/balloon/statistics"))
			return balloon_stats_reply(s, out);
		if (!strcmp(url, "/arcvmm/metrics")) {
			char *m = api_metrics_json(s);
			if (!m)
				return api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR,
						 "out of memory");
			out->status = MHD_HTTP_OK;
			out->body = m;
			return;
		}
		goto unknown;
	}
	if (!is_put && !is_patch)
		goto unknown;

	/* Every PUT and PATCH takes a JSON object. */
	static const char *const unsupported[] = {"/mmds",   "/mmds/config",	"/cpu-config",
						  "/serial", "/hotplug/memory", NULL};
	for (unsigned i = 0; unsupported[i]; i++)
		if (!strcmp(url, unsupported[i]) || has_prefix(url, "/pmem/", &id))
			return api_fault(out, MHD_HTTP_BAD_REQUEST,
					 "%s %s is not supported by arcvmm yet.", method, url);
	if (!(b = parse_body(body, len, out)))
		return;

	if (is_put && !strcmp(url, "/actions")) {
		put_action(s, b, out);
	} else if (is_put && !strcmp(url, "/snapshot/create")) {
		put_snapshot_create(s, b, out);
	} else if (is_put && !strcmp(url, "/snapshot/load")) {
		put_snapshot_load(s, b, out);
	} else if (is_patch && !strcmp(url, "/vm")) {
		patch_vm(s, b, out);
	} else if (is_patch && !strcmp(url, "/balloon")) {
		patch_balloon(s, b, false, out);
	} else if (is_patch && !strcmp(url, "/balloon/statistics")) {
		patch_balloon(s, b, true, out);
	} else if (is_patch && has_prefix(url, "/drives/", &id) && is_valid_id(id)) {
		patch_drive(s, id, b, out);
	} else if (is_patch && has_prefix(url, "/network-interfaces/", &id) && is_valid_id(id)) {
		patch_net(s, id, b, out);
	} else if (is_started(s) &&
		   (!strcmp(url, "/boot-source") || !strcmp(url, "/machine-config") ||
		    !strcmp(url, "/balloon") || !strcmp(url, "/logger") || !strcmp(url, "/vsock") ||
		    !strcmp(url, "/metrics") || !strcmp(url, "/entropy") ||
		    !strncmp(url, "/drives/", 8) || !strncmp(url, "/network-interfaces/", 20) ||
		    !strncmp(url, "/fs/", 4))) {
		api_fault(out, MHD_HTTP_BAD_REQUEST, NOT_AFTER_BOOT);
	} else if (is_put && !strcmp(url, "/boot-source")) {
		put_boot_source(s, b, out);
	} else if (!strcmp(url, "/machine-config")) {
		put_machine_config(s, b, is_patch, out);
	} else if (is_put && has_prefix(url, "/drives/", &id)) {
		if (!is_valid_id(id))
			api_fault(out, MHD_HTTP_BAD_REQUEST,
				  "Invalid drive id: letters, digits, '_' and '-', at most 64.");
		else
			put_drive(s, id, b, out);
	} else if (is_put && has_prefix(url, "/network-interfaces/", &id)) {
		if (!is_valid_id(id))
			api_fault(
			    out, MHD_HTTP_BAD_REQUEST,
			    "Invalid interface id: letters, digits, '_' and '-', at most 64.");
		else
			put_net(s, id, b, out);
	} else if (is_put && has_prefix(url, "/fs/", &id)) {
		if (!is_valid_id(id))
			api_fault(out, MHD_HTTP_BAD_REQUEST,
				  "Invalid share tag: letters, digits, '_' and '-', at most 64.");
		else
			put_fs(s, id, b, out);
	} else if (is_put && !strcmp(url, "/balloon")) {
		if (!check_piece("balloon", b, false, "PUT /balloon", out)) {
			cJSON_Delete(s->balloon);
			s->balloon = cJSON_Duplicate(b, 1);
			reply_ok(out);
		}
	} else if (is_put && !strcmp(url, "/vsock")) {
		/* Firecracker: {"guest_cid", "uds_path"[, "vsock_id"]}, 204; 400 with
		 * fault_message for a bad CID or path; a second PUT replaces the first. */
		if (!check_piece("vsock", b, false, "PUT /vsock", out)) {
			cJSON_Delete(s->vsock);
			s->vsock = cJSON_Duplicate(b, 1);
			reply_ok(out);
		}
	} else if (is_put && !strcmp(url, "/logger")) {
		put_logger(s, b, out);
	} else if (is_put && !strcmp(url, "/metrics")) {
		put_metrics(s, b, out);
	} else if (is_put && !strcmp(url, "/entropy")) {
		/* {} or {"rate_limiter": ...}: the rng is on by default; no limiter on it. */
		if (cJSON_HasObjectItem(b, "rate_limiter"))
			api_fault(out, MHD_HTTP_BAD_REQUEST,
				  "entropy: \"rate_limiter\" is not supported by arcvmm yet.");
		else
			reply_ok(out);
	} else {
		cJSON_Delete(b);
		goto unknown;
	}
	cJSON_Delete(b);
	if (!out->status)
		api_fault(out, MHD_HTTP_INTERNAL_SERVER_ERROR, "no reply");
	return;
unknown:
	api_fault(out, MHD_HTTP_BAD_REQUEST, "Invalid request method and/or path: %.16s %.256s.",
		  method, url);
}

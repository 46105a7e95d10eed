/* config_fs.c — the virtio-fs shares' part of the configuration: `--fs PATH,tag=TAG[,ro]
 * [,cache=none|auto|always][,xattr=on|off][,queues=N]` (repeatable), the JSON "fs" array
 * ([{"path", "tag", "read_only", "cache", "xattr", "queues"}]) and what the library's
 * arcvmm_config_add_fs() calls. Every way in ends in config_add_fs(), which checks the
 * share before anything starts: the path exists and is a directory, the tag is 1..36
 * bytes and not used by another share, at most VM_MAX_FS shares, 1..15 request queues.
 *
 * Trusts nothing it reads.
 */
#include "core/config.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "devices/virtio_fs.h"

static const char *const cache_names[] = {"auto", "none", "always"};

static int parse_cache(const char *s, unsigned *out)
{
	for (unsigned i = 0; i < 3; i++) {
		if (!strcmp(s, cache_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

int config_add_fs(struct vm_config *c, const struct vm_fs_config *fs, const char *what, char *err,
		  size_t errlen)
{
	struct stat st;
	size_t taglen = strlen(fs->tag);

	if (!fs->path || !*fs->path) {
		snprintf(err, errlen, "%s: needs a path", what);
		return -EINVAL;
	}
	if (stat(fs->path, &st) < 0) {
		snprintf(err, errlen, "%s: %s: %s", what, fs->path,
			 errno == ENOENT ? "does not exist" : strerror(errno));
		return -EINVAL;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s: is not a directory", what, fs->path);
		return -EINVAL;
	}
	if (taglen == 0) {
		snprintf(err, errlen, "%s: needs tag=TAG (the name the guest mounts)", what);
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->nr_fs; i++) {
		if (!strcmp(c->fs[i].tag, fs->tag)) {
			snprintf(err, errlen, "%s: tag %s: already used by the share of %s", what,
				 fs->tag, c->fs[i].path);
			return -EINVAL;
		}
	}
	if (fs->queues < 1 || fs->queues > VIRTIO_FS_MAX_REQUEST_QUEUES) {
		snprintf(err, errlen, "%s: queues=%u: must be 1 .. %d", what, fs->queues,
			 VIRTIO_FS_MAX_REQUEST_QUEUES);
		return -EINVAL;
	}
	if (fs->cache > 2) {
		snprintf(err, errlen, "%s: bad cache mode", what);
		return -EINVAL;
	}
	if (c->nr_fs == VM_MAX_FS) {
		snprintf(err, errlen, "%s: too many shares (at most %d)", what, VM_MAX_FS);
		return -EINVAL;
	}
	struct vm_fs_config *d = &c->fs[c->nr_fs];
	*d = *fs;
	d->path = strdup(fs->path);
	if (!d->path)
		return -ENOMEM;
	c->nr_fs++;
	return 0;
}

/* Copies a tag, refusing one longer than VM_FS_TAG_MAX bytes. */
static int set_tag(struct vm_fs_config *fs, const char *tag, const char *what, char *err,
		   size_t errlen)
{
	if (strlen(tag) > VM_FS_TAG_MAX) {
		snprintf(err, errlen, "%s: tag %.40s%s: too long (at most %d bytes)", what, tag,
			 strlen(tag) > 40 ? "..." : "", VM_FS_TAG_MAX);
		return -EINVAL;
	}
	if (!*tag) {
		snprintf(err, errlen, "%s: the tag is empty", what);
		return -EINVAL;
	}
	snprintf(fs->tag, sizeof(fs->tag), "%s", tag);
	return 0;
}

int config_add_fs_spec(struct vm_config *c, const char *spec, char *err, size_t errlen)
{
	struct vm_fs_config fs = {.queues = 1};
	char what[160], *copy, *tok, *save = NULL;
	int r = 0;

	snprintf(what, sizeof(what), "--fs %.140s", spec);
	copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	tok = strtok_r(copy, ",", &save);
	if (!tok || strchr(tok, '=')) {
		snprintf(err, errlen, "%s: the first part must be the host directory", what);
		r = -EINVAL;
		goto out;
	}
	fs.path = tok;
	while (!r && (tok = strtok_r(NULL, ",", &save))) {
		if (!strncmp(tok, "tag=", 4)) {
			r = set_tag(&fs, tok + 4, what, err, errlen);
		} else if (!strcmp(tok, "ro")) {
			fs.is_read_only = true;
		} else if (!strncmp(tok, "cache=", 6)) {
			if ((r = parse_cache(tok + 6, &fs.cache)))
				snprintf(err, errlen, "%s: cache=%s: must be none, auto or always",
					 what, tok + 6);
		} else if (!strcmp(tok, "xattr") || !strcmp(tok, "xattr=on")) {
			fs.has_xattr = true;
		} else if (!strcmp(tok, "xattr=off")) {
			fs.has_xattr = false;
		} else if (!strncmp(tok, "queues=", 7)) {
			char *end;
			errno = 0;
			unsigned long v = strtoul(tok + 7, &end, 10);
			if (!tok[7] || *end || errno || tok[7] == '-' || v > 1000) {
				snprintf(err, errlen, "%s: queues=%s: not a number", what, tok + 7);
				r = -EINVAL;
			} else {
				fs.queues = (unsigned)v;
			}
		} else {
			snprintf(err, errlen,
				 "%s: unknown option \"%s\" (tag=TAG, ro, cache=none|auto|always, "
				 "xattr=on|off, queues=N)",
				 what, tok);
			r = -EINVAL;
		}
	}
	if (!r)
		r = config_add_fs(c, &fs, what, err, errlen);
out:
	free(copy);
	return r;
}

static int json_one(struct vm_config *c, const cJSON *o, const char *what, char *err, size_t errlen)
{
	static const char *const known[] = {"path",  "tag",    "read_only", "cache",
					    "xattr", "queues", NULL};
	struct vm_fs_config fs = {.queues = 1};
	const cJSON *it;
	int r;

	if (!cJSON_IsObject(o)) {
		snprintf(err, errlen, "%s: must be an object", what);
		return -EINVAL;
	}
	for (it = o->child; it; it = it->next) {
		bool is_known = false;
		for (unsigned i = 0; known[i]; i++)
			is_known |= it->string && !strcmp(it->string, known[i]);
		if (!is_known) {
			snprintf(err, errlen, "%s: unknown key \"%s\"", what,
				 it->string ? it->string : "");
			return -EINVAL;
		}
	}
	it = cJSON_GetObjectItemCaseSensitive(o, "path");
	if (!cJSON_IsString(it)) {
		snprintf(err, errlen, "%s: \"path\" must be a string", what);
		return -EINVAL;
	}
	fs.path = it->valuestring;
	it = cJSON_GetObjectItemCaseSensitive(o, "tag");
	if (!cJSON_IsString(it)) {
		snprintf(err, errlen, "%s: \"tag\" must be a string", what);
		return -EINVAL;
	}
	if ((r = set_tag(&fs, it->valuestring, what, err, errlen)))
		return r;
	if ((it = cJSON_GetObjectItemCaseSensitive(o, "read_only"))) {
		if (!cJSON_IsBool(it)) {
			snprintf(err, errlen, "%s: \"read_only\" must be true or false", what);
			return -EINVAL;
		}
		fs.is_read_only = cJSON_IsTrue(it);
	}
	if ((it = cJSON_GetObjectItemCaseSensitive(o, "xattr"))) {
		if (!cJSON_IsBool(it)) {
			snprintf(err, errlen, "%s: \"xattr\" must be true or false", what);
			return -EINVAL;
		}
		fs.has_xattr = cJSON_IsTrue(it);
	}
	if ((it = cJSON_GetObjectItemCaseSensitive(o, "cache")) &&
	    (!cJSON_IsString(it) || parse_cache(it->valuestring, &fs.cache))) {
		snprintf(err, errlen, "%s: \"cache\" must be \"none\", \"auto\" or \"always\"",
			 what);
		return -EINVAL;
	}
	if ((it = cJSON_GetObjectItemCaseSensitive(o, "queues"))) {
		if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 1000 ||
		    it->valuedouble != (double)(unsigned)it->valuedouble) {
			snprintf(err, errlen, "%s: \"queues\" must be an integer 1 .. %d", what,
				 VIRTIO_FS_MAX_REQUEST_QUEUES);
			return -EINVAL;
		}
		fs.queues = (unsigned)it->valuedouble;
	}
	return config_add_fs(c, &fs, what, err, errlen);
}

int config_parse_fs_json(struct vm_config *c, const cJSON *arr, const char *name, char *err,
			 size_t errlen)
{
	char what[160];
	unsigned i = 0;
	int r;

	if (!cJSON_IsArray(arr)) {
		snprintf(err, errlen, "%s: \"fs\" must be an array of shares", name);
		return -EINVAL;
	}
	for (const cJSON *o = arr->child; o; o = o->next, i++) {
		snprintf(what, sizeof(what), "%.120s: fs[%u]", name, i);
		if ((r = json_one(c, o, what, err, errlen)))
			return r;
	}
	return 0;
}

struct cJSON *config_fs_to_json(const struct vm_config *c)
{
	cJSON *a = cJSON_CreateArray();

	for (unsigned i = 0; a && i < c->nr_fs; i++) {
		const struct vm_fs_config *fs = &c->fs[i];
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddStringToObject(o, "path", fs->path) ||
		    !cJSON_AddStringToObject(o, "tag", fs->tag) ||
		    !cJSON_AddBoolToObject(o, "read_only", fs->is_read_only) ||
		    !cJSON_AddStringToObject(o, "cache", cache_names[fs->cache % 3]) ||
		    !cJSON_AddBoolToObject(o, "xattr", fs->has_xattr) ||
		    !cJSON_AddNumberToObject(o, "queues", fs->queues)) {
			cJSON_Delete(o);
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

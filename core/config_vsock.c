/* config_vsock.c — the vsock's part of the configuration: `--vsock cid=N,uds=PATH` and the
 * JSON "vsock" object (Firecracker's {guest_cid, uds_path}; a "vsock_id" is accepted and
 * ignored, as Firecracker does). Both fill vm_config.vsock_cid / vsock_uds, checked here so
 * a bad value fails before anything starts: CID 3 .. 2^32-2, a path short enough for
 * "<path>_<port>" to fit a Unix socket address, in a directory that exists and is writable.
 *
 * Trusts nothing it reads.
 */
#include "core/config.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio_vsock.h"

static int check_vsock(uint64_t cid, const char *uds, const char *what, char *err, size_t errlen)
{
	char dir[VSOCK_UDS_MAX + 2];
	char *slash;

	if (cid < 3 || cid >= 0xffffffffULL) {
		snprintf(err, errlen, "%s: cid %llu: must be 3 .. 4294967294 (0-2 are reserved)",
			 what, (unsigned long long)cid);
		return -EINVAL;
	}
	if (!uds || !*uds) {
		snprintf(err, errlen, "%s: needs a uds path", what);
		return -EINVAL;
	}
	if (strlen(uds) > VSOCK_UDS_MAX) {
		snprintf(err, errlen, "%s: uds path %.40s...: too long (at most %d bytes)", what,
			 uds, VSOCK_UDS_MAX);
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%s", uds);
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(err, errlen, "%s: uds path %s: directory %s %s", what, uds, dir,
			 errno == ENOENT ? "does not exist" : "is not writable");
		return -EINVAL;
	}
	return 0;
}

static int set_vsock(struct vm_config *c, uint64_t cid, const char *uds, const char *what,
		     char *err, size_t errlen)
{
	int r;

	if (c->vsock_uds) {
		snprintf(err, errlen, "%s: a VM has at most one vsock device", what);
		return -EINVAL;
	}
	if ((r = check_vsock(cid, uds, what, err, errlen)))
		return r;
	c->vsock_cid = cid;
	c->vsock_uds = strdup(uds);
	return c->vsock_uds ? 0 : -ENOMEM;
}

int config_set_vsock(struct vm_config *c, const char *spec, char *err, size_t errlen)
{
	char what[160], *copy, *tok, *save = NULL;
	const char *uds = NULL;
	uint64_t cid = 0;
	bool has_cid = false;
	int r = 0;

	snprintf(what, sizeof(what), "--vsock %.140s", spec);
	copy = strdup(spec);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "cid=", 4)) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(tok + 4, &end, 10);
			if (!tok[4] || *end || errno || tok[4] == '-') {
				snprintf(err, errlen, "%s: cid %s: not a number", what, tok + 4);
				r = -EINVAL;
				goto out;
			}
			cid = v;
			has_cid = true;
		} else if (!strncmp(tok, "uds=", 4)) {
			uds = tok + 4;
		} else {
			snprintf(err, errlen, "%s: unknown option \"%s\" (cid=N,uds=PATH)", what,
				 tok);
			r = -EINVAL;
			goto out;
		}
	}
	if (!has_cid) {
		snprintf(err, errlen, "%s: needs cid=N", what);
		r = -EINVAL;
		goto out;
	}
	r = set_vsock(c, cid, uds, what, err, errlen);
out:
	free(copy);
	return r;
}

int config_parse_vsock_json(struct vm_config *c, const cJSON *obj, const char *name, char *err,
			    size_t errlen)
{
	static const char *const known[] = {"guest_cid", "uds_path", "vsock_id", NULL};
	char what[160];

	snprintf(what, sizeof(what), "%s: vsock", name);
	if (!cJSON_IsObject(obj)) {
		snprintf(err, errlen, "%s: must be an object", what);
		return -EINVAL;
	}
	for (const cJSON *it = obj->child; it; it = it->next) {
		bool is_known = false;
		for (unsigned i = 0; known[i]; i++)
			is_known |= it->string && !strcmp(it->string, known[i]);
		if (!is_known) {
			snprintf(err, errlen, "%s: unknown key \"%s\"", what,
				 it->string ? it->string : "");
			return -EINVAL;
		}
	}
	const cJSON *cid = cJSON_GetObjectItemCaseSensitive(obj, "guest_cid");
	const cJSON *uds = cJSON_GetObjectItemCaseSensitive(obj, "uds_path");
	if (!cJSON_IsNumber(cid) || cid->valuedouble < 0 || cid->valuedouble > 4294967295.0 ||
	    cid->valuedouble != (double)(uint64_t)cid->valuedouble) {
		snprintf(err, errlen, "%s: \"guest_cid\" must be an integer >= 3", what);
		return -EINVAL;
	}
	if (!cJSON_IsString(uds)) {
		snprintf(err, errlen, "%s: \"uds_path\" must be a string", what);
		return -EINVAL;
	}
	return set_vsock(c, (uint64_t)cid->valuedouble, uds->valuestring, what, err, errlen);
}

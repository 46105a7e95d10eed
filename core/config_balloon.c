/* config_balloon.c — the balloon's part of the configuration: `--balloon SPEC` and the
 * JSON "balloon" object (Firecracker's {amount_mib, deflate_on_oom,
 * stats_polling_interval_s}, plus arcvmm's free_page_reporting). Both end as one spec
 * string in vm_config.balloon that devices/virtio_balloon.c parses again at creation;
 * it is checked here so that a bad value fails before anything starts.
 *
 * Trusts nothing it reads: unknown keys, wrong types and out-of-range numbers are errors.
 */
#include "core/config.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio_balloon.h"

int config_set_balloon(struct vm_config *c, const char *spec, char *err, size_t errlen)
{
	struct virtio_balloon_config bc;
	int r;

	if (c->balloon) {
		snprintf(err, errlen, "--balloon %s: a VM has at most one balloon", spec);
		return -EINVAL;
	}
	r = virtio_balloon_parse_spec(&bc, spec, err, errlen);
	if (r)
		return r;
	c->balloon = strdup(spec);
	return c->balloon ? 0 : -ENOMEM;
}

static int json_balloon_uint(const cJSON *obj, const char *key, double max, bool *present,
			     unsigned long *out, const char *name, char *err, size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	*present = it != NULL;
	if (!it)
		return 0;
	if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > max ||
	    it->valuedouble != (double)(unsigned long)it->valuedouble) {
		snprintf(err, errlen, "%s: balloon.%s must be a whole number from 0 to %.0f", name,
			 key, max);
		return -EINVAL;
	}
	*out = (unsigned long)it->valuedouble;
	return 0;
}

int config_parse_balloon_json(struct vm_config *c, const cJSON *obj, const char *name, char *err,
			      size_t errlen)
{
	static const char *const known[] = {"amount_mib", "deflate_on_oom",
					    "stats_polling_interval_s", "free_page_reporting",
					    NULL};
	unsigned long mib = 0, secs = 0;
	bool has_mib, has_secs;
	char spec[128];
	int r;

	if (!cJSON_IsObject(obj)) {
		snprintf(err, errlen, "%s: \"balloon\" must be an object", name);
		return -EINVAL;
	}
	for (const cJSON *it = obj->child; it; it = it->next) {
		bool is_known = false;
		for (unsigned i = 0; known[i]; i++)
			is_known |= it->string && !strcmp(it->string, known[i]);
		if (!is_known) {
			snprintf(err, errlen, "%s: balloon: unknown key \"%s\"", name,
				 it->string ? it->string : "");
			return -EINVAL;
		}
	}
	if ((r = json_balloon_uint(obj, "amount_mib", 4294967295.0, &has_mib, &mib, name, err,
				   errlen)) ||
	    (r = json_balloon_uint(obj, "stats_polling_interval_s", 86400, &has_secs, &secs, name,
				   err, errlen)))
		return r;
	const cJSON *oom = cJSON_GetObjectItemCaseSensitive(obj, "deflate_on_oom");
	const cJSON *fpr = cJSON_GetObjectItemCaseSensitive(obj, "free_page_reporting");
	if (!has_mib || !oom) {
		snprintf(err, errlen, "%s: balloon needs \"amount_mib\" and \"deflate_on_oom\"",
			 name);
		return -EINVAL;
	}
	if (!cJSON_IsBool(oom) || (fpr && !cJSON_IsBool(fpr))) {
		snprintf(err, errlen, "%s: balloon.%s must be true or false", name,
			 !cJSON_IsBool(oom) ? "deflate_on_oom" : "free_page_reporting");
		return -EINVAL;
	}
	/* Only checked numbers and fixed words go in (no user text, so nothing to inject),
	 * at most 68 bytes; the check is for the day a field is added. */
	int n = snprintf(spec, sizeof(spec), "amount_mib=%lu,stats=%lu%s%s", mib, secs,
			 cJSON_IsTrue(oom) ? ",deflate_on_oom" : "",
			 fpr && cJSON_IsTrue(fpr) ? ",free_page_reporting" : "");
	if (n < 0 || (size_t)n >= sizeof(spec)) {
		snprintf(err, errlen, "%s: balloon: internal error (spec too long)", name);
		return -EINVAL;
	}
	return config_set_balloon(c, spec, err, errlen);
}

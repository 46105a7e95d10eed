/* core/config_rl.c — parses Firecracker-shaped "rate_limiter" objects. See config_rl.h.
 *
 * Trust: the JSON comes from the user (or an orchestrator copying a tenant's values):
 * every key is checked against the known ones and every number for type and range.
 */
#include "core/config_rl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define RL_JSON_MAX 1125899906842624.0 /* 2^50 tokens, as util/rate_limiter caps them */

static int rl_fail(char *err, size_t errlen, const char *name, const char *what, const char *why)
{
	snprintf(err, errlen, "%s: %s: %s", name, what, why);
	return -EINVAL;
}

static int only_keys(const cJSON *obj, const char *const *known, const char *name, const char *what,
		     char *err, size_t errlen)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, obj)
	{
		bool is_known = false;
		for (const char *const *k = known; *k; k++)
			is_known |= it->string && !strcmp(it->string, *k);
		if (!is_known) {
			snprintf(err, errlen, "%s: %s: unknown key \"%s\"", name, what,
				 it->string ? it->string : "?");
			return -EINVAL;
		}
	}
	return 0;
}

static int number(const cJSON *obj, const char *key, double max, bool is_required, uint64_t *out,
		  const char *name, const char *what, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v) {
		if (!is_required)
			return 0;
		snprintf(err, errlen, "%s: %s: missing \"%s\"", name, what, key);
		return -EINVAL;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
	    v->valuedouble != (double)(uint64_t)v->valuedouble) {
		snprintf(err, errlen, "%s: %s: \"%s\" must be a whole number from 0 to %.0f", name,
			 what, key, max);
		return -EINVAL;
	}
	*out = (uint64_t)v->valuedouble;
	return 0;
}

static int bucket(const cJSON *obj, struct rl_bucket_config *b, const char *name, const char *what,
		  char *err, size_t errlen)
{
	static const char *const known[] = {"size", "one_time_burst", "refill_time", NULL};
	int r;

	if (!cJSON_IsObject(obj))
		return rl_fail(err, errlen, name, what, "must be an object");
	if ((r = only_keys(obj, known, name, what, err, errlen)))
		return r;
	memset(b, 0, sizeof(*b));
	if ((r = number(obj, "size", RL_JSON_MAX, true, &b->size, name, what, err, errlen)) ||
	    (r = number(obj, "one_time_burst", RL_JSON_MAX, false, &b->one_time_burst, name, what,
			err, errlen)) ||
	    (r = number(obj, "refill_time", 86400000.0, true, &b->refill_time_ms, name, what, err,
			errlen)))
		return r;
	return 0;
}

int config_json_rate_limiter(const cJSON *obj, struct rate_limiter_config *out, const char *what,
			     const char *name, char *err, size_t errlen)
{
	static const char *const known[] = {"bandwidth", "ops", NULL};
	struct rate_limiter_config c = {0};
	const cJSON *it;
	char sub[96];
	int r;

	if (!obj || cJSON_IsNull(obj))
		return 0;
	if (!cJSON_IsObject(obj))
		return rl_fail(err, errlen, name, what, "must be an object");
	if ((r = only_keys(obj, known, name, what, err, errlen)))
		return r;
	if ((it = cJSON_GetObjectItemCaseSensitive(obj, "bandwidth"))) {
		snprintf(sub, sizeof(sub), "%s \"bandwidth\"", what);
		if ((r = bucket(it, &c.bandwidth, name, sub, err, errlen)))
			return r;
	}
	if ((it = cJSON_GetObjectItemCaseSensitive(obj, "ops"))) {
		snprintf(sub, sizeof(sub), "%s \"ops\"", what);
		if ((r = bucket(it, &c.ops, name, sub, err, errlen)))
			return r;
	}
	*out = c;
	return 0;
}

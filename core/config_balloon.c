/* config_balloon.c — the balloon's part of the configuration: `--balloon SPEC` and the
 * JSON "balloon" object (Firecracker's {amount_mib, deflate_on_oom,
 * stats_polling_interval_s}, plus arcvmm's free_page_reporting). Both end as one spec
 * string in vm_config.balloon that devices/virtio_balloon.c parses again at creation;
 * it is checked here so that a bad value fails before anything starts.
 * Also the reclaim policy's options (core/reclaim.h): `--memory-reclaim SPEC` and the
 * "balloon" object's arcvmm fields memory_reclaim and reclaim_*, into vm_config.reclaim.
 *
 * Trusts nothing it reads: unknown keys, wrong types and out-of-range numbers are errors.
 */
#include "core/config.h"

#include <cJSON.h>
#include <stddef.h>
#include <errno.h>
#include <math.h>
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

#define RECLAIM_MAX_INTERVAL_S 3600
#define RECLAIM_MAX_MIB	       (1U << 24) /* 16 TiB, more than any guest */

static int reclaim_mode_of(const char *s, enum reclaim_mode *m)
{
	if (!strcmp(s, "auto"))
		*m = RECLAIM_AUTO;
	else if (!strcmp(s, "manual"))
		*m = RECLAIM_MANUAL;
	else if (!strcmp(s, "off"))
		*m = RECLAIM_OFF;
	else
		return -EINVAL;
	return 0;
}

/* A size option in whole MiB, from min_mib to RECLAIM_MAX_MIB. */
static int reclaim_size(const char *v, uint32_t min_mib, uint32_t *out)
{
	uint64_t bytes;

	if (config_parse_size(v, &bytes) || bytes % (1 << 20) || (bytes >> 20) < min_mib ||
	    (bytes >> 20) > RECLAIM_MAX_MIB)
		return -EINVAL;
	*out = (uint32_t)(bytes >> 20);
	return 0;
}

/* Both thresholds (0: not given) as the policy will see them: 0 < low < high <= 100. */
static bool reclaim_pressure_ok(double high, double low)
{
	double h = high > 0 ? high : RECLAIM_DEFAULT_PRESSURE_HIGH;

	return isfinite(high) && isfinite(low) && high >= 0 && high <= 100 && low >= 0 &&
	       (low == 0 || low < h);
}

/* "HIGH[:LOW]": two positive decimal numbers. */
static int reclaim_pressure(const char *v, double *high, double *low)
{
	char *end;
	double hi, lo = 0;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	hi = strtod(v, &end);
	if (*end == ':') {
		if (end[1] < '0' || end[1] > '9')
			return -EINVAL;
		lo = strtod(end + 1, &end);
		if (!(lo > 0))
			return -EINVAL;
	}
	if (*end || !(hi > 0) || !reclaim_pressure_ok(hi, lo))
		return -EINVAL;
	*high = hi;
	*low = lo;
	return 0;
}

int config_parse_reclaim(struct reclaim_config *out, const char *spec, char *err, size_t errlen)
{
	struct reclaim_config rc = *out;
	char *copy = strdup(spec), *save = NULL, *end;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	char *tok = strtok_r(copy, ",", &save);
	if (!tok || reclaim_mode_of(tok, &rc.mode)) {
		snprintf(err, errlen, "--memory-reclaim %s: unknown mode (auto, manual or off)",
			 tok ? tok : spec);
		free(copy);
		return -EINVAL;
	}
	while (!r && (tok = strtok_r(NULL, ",", &save))) {
		const char *what = NULL;
		if (!strncmp(tok, "floor=", 6)) {
			if (reclaim_size(tok + 6, 16, &rc.floor_mib))
				what = "a size in whole MiB, at least 16M";
		} else if (!strncmp(tok, "step=", 5)) {
			if (reclaim_size(tok + 5, 1, &rc.step_mib))
				what = "a size in whole MiB, at least 1M";
		} else if (!strncmp(tok, "guest-low=", 10)) {
			if (reclaim_size(tok + 10, 1, &rc.guest_low_mib))
				what = "a size in whole MiB, at least 1M";
		} else if (!strncmp(tok, "interval=", 9)) {
			unsigned long v = strtoul(tok + 9, &end, 10);
			if (tok[9] < '0' || tok[9] > '9' || *end || v < 1 ||
			    v > RECLAIM_MAX_INTERVAL_S)
				what = "a number of seconds from 1 to 3600";
			else
				rc.interval_ms = (uint32_t)v * 1000;
		} else if (!strncmp(tok, "pressure=", 9)) {
			if (reclaim_pressure(tok + 9, &rc.pressure_high, &rc.pressure_low))
				what =
				    "HIGH[:LOW] percent of PSI some avg10, 0 < LOW < HIGH <= 100";
		} else {
			what = "unknown (floor=SIZE, step=SIZE, interval=SECONDS, "
			       "pressure=HIGH[:LOW], "
			       "guest-low=SIZE)";
		}
		if (what) {
			snprintf(err, errlen, "--memory-reclaim %s: %s", tok, what);
			r = -EINVAL;
		}
	}
	free(copy);
	if (!r)
		*out = rc;
	return r;
}

/* The "balloon" object's reclaim fields. */
static int json_reclaim(struct vm_config *c, const cJSON *obj, const char *name, char *err,
			size_t errlen)
{
	static const struct {
		const char *key;
		uint32_t min, max, scale;
		size_t off;
	} nums[] = {
	    {"reclaim_floor_mib", 16, RECLAIM_MAX_MIB, 1,
	     offsetof(struct reclaim_config, floor_mib)},
	    {"reclaim_step_mib", 1, RECLAIM_MAX_MIB, 1, offsetof(struct reclaim_config, step_mib)},
	    {"reclaim_guest_low_mib", 1, RECLAIM_MAX_MIB, 1,
	     offsetof(struct reclaim_config, guest_low_mib)},
	    {"reclaim_interval_s", 1, RECLAIM_MAX_INTERVAL_S, 1000,
	     offsetof(struct reclaim_config, interval_ms)},
	};
	struct reclaim_config rc = c->reclaim;
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, "memory_reclaim");

	if (it && (!cJSON_IsString(it) || reclaim_mode_of(it->valuestring, &rc.mode))) {
		snprintf(err, errlen,
			 "%s: balloon.memory_reclaim must be \"auto\", \"manual\" or "
			 "\"off\"",
			 name);
		return -EINVAL;
	}
	for (unsigned i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		it = cJSON_GetObjectItemCaseSensitive(obj, nums[i].key);
		if (!it)
			continue;
		if (!cJSON_IsNumber(it) || !(it->valuedouble >= nums[i].min) ||
		    it->valuedouble > nums[i].max ||
		    it->valuedouble != (double)(uint32_t)it->valuedouble) {
			snprintf(err, errlen, "%s: balloon.%s must be a whole number from %u to %u",
				 name, nums[i].key, nums[i].min, nums[i].max);
			return -EINVAL;
		}
		uint32_t v = (uint32_t)it->valuedouble * nums[i].scale;
		memcpy((char *)&rc + nums[i].off, &v, sizeof(v));
	}
	const cJSON *hi = cJSON_GetObjectItemCaseSensitive(obj, "reclaim_pressure_high");
	const cJSON *lo = cJSON_GetObjectItemCaseSensitive(obj, "reclaim_pressure_low");
	if ((hi && (!cJSON_IsNumber(hi) || !(hi->valuedouble > 0))) ||
	    (lo && (!cJSON_IsNumber(lo) || !(lo->valuedouble > 0))) ||
	    !reclaim_pressure_ok(hi ? hi->valuedouble : rc.pressure_high,
				 lo ? lo->valuedouble : rc.pressure_low)) {
		snprintf(err, errlen,
			 "%s: balloon.reclaim_pressure_high/low must be percents with 0 < low < "
			 "high <= 100",
			 name);
		return -EINVAL;
	}
	if (hi)
		rc.pressure_high = hi->valuedouble;
	if (lo)
		rc.pressure_low = lo->valuedouble;
	c->reclaim = rc;
	return 0;
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
	static const char *const known[] = {
	    "amount_mib",	    "deflate_on_oom",	     "stats_polling_interval_s",
	    "free_page_reporting",  "memory_reclaim",	     "reclaim_floor_mib",
	    "reclaim_step_mib",	    "reclaim_interval_s",    "reclaim_pressure_high",
	    "reclaim_pressure_low", "reclaim_guest_low_mib", NULL};
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
	if ((r = json_reclaim(c, obj, name, err, errlen)))
		return r;
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

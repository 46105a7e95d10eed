/* core/config_rl.h — Firecracker's "rate_limiter" objects in the JSON config (for config.c). */
#ifndef ARCVMM_CORE_CONFIG_RL_H
#define ARCVMM_CORE_CONFIG_RL_H

#include <stddef.h>

#include <cJSON.h>

#include "util/rate_limiter.h"

/* obj: {"bandwidth": TokenBucket, "ops": TokenBucket}, each bucket {"size": N,
 * "refill_time": MS, "one_time_burst": N (optional)}; NULL obj leaves *out untouched.
 * what names the object in messages ("a drive's \"rate_limiter\""). 0 or -EINVAL. */
int config_json_rate_limiter(const cJSON *obj, struct rate_limiter_config *out, const char *what,
			     const char *name, char *err, size_t errlen);

#endif

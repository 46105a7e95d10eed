/* core/reclaim.h — automatic memory reclaim: the balloon policy (--memory-reclaim).
 *
 * Modes: AUTO (the default with a balloon): free page reporting is on and a policy thread
 * moves the balloon target; MANUAL: only the API / library moves it (free page reporting
 * as --balloon says); OFF: no free page reporting, no policy.
 *
 * The policy (reclaim_decide, pure) looks at the host's memory pressure (PSI, "some avg10"
 * of /proc/pressure/memory) and the guest's balloon statistics (available_memory):
 *   - host pressure at or above pressure_high: inflate by step_mib, and go on inflating
 *     until the pressure falls below pressure_low (hysteresis);
 *   - host calm (below pressure_low): deflate by step_mib, down to the initial target;
 *   - the guest's available memory below guest_low_mib: deflate by step_mib, first of all;
 *     an inflate needs guest_low_mib + 2 * step_mib available, so one step can never
 *     undo the other (no oscillation);
 *   - never more than RAM - floor_mib in the balloon; at most one step per interval;
 *   - a deflate never sets the target above what the driver holds (`actual`), so a
 *     guest that deflated itself on OOM is not told to inflate again.
 * Without statistics (the balloon's stats=0) the guest side is unknown and only the
 * pressure and the floor count; without PSI (no file, or a jail without /proc) only the
 * guest side does.
 *
 * The thread (reclaim_create) runs one tick a second (or every interval/4 if shorter),
 * never while the VM is not running, and is joined promptly by reclaim_destroy. It
 * never takes a lock the control thread holds for long: the balloon's own short lock
 * and its own counters lock.
 *
 * Trust: the PSI file is host input (parsed strictly; a bad one counts as no reading);
 * the guest's statistics are guest input (clamped to RAM).
 */
#ifndef ARCVMM_CORE_RECLAIM_H
#define ARCVMM_CORE_RECLAIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum reclaim_mode { RECLAIM_AUTO, RECLAIM_MANUAL, RECLAIM_OFF };

/* Defaults (a field left 0 takes them; see reclaim_config_resolve). */
#define RECLAIM_DEFAULT_FLOOR_MIN_MIB 128  /* floor: max(RAM / 4, this), at most RAM */
#define RECLAIM_DEFAULT_STEP_MIB      64   /* at most this much per step */
#define RECLAIM_DEFAULT_INTERVAL_MS   5000 /* at most one step per interval */
#define RECLAIM_DEFAULT_PRESSURE_HIGH 10.0 /* PSI some avg10, percent */
#define RECLAIM_DEFAULT_GUEST_LOW_MIN 64   /* guest_low: max(RAM / 8, this) */
#define RECLAIM_PSI_PATH	      "/proc/pressure/memory"
/* Test hook: a file read instead of RECLAIM_PSI_PATH (when psi_path is NULL). */
#define RECLAIM_PSI_ENV "ARCVMM_TEST_PSI_PATH"

struct reclaim_config {
	enum reclaim_mode mode;
	uint32_t floor_mib;		    /* the guest keeps at least this much RAM */
	uint32_t step_mib;		    /* the most the target moves per step */
	uint32_t interval_ms;		    /* the least time between two steps */
	double pressure_high, pressure_low; /* PSI some avg10 (%) thresholds */
	uint32_t guest_low_mib;		    /* deflate when the guest has less available */
	const char *psi_path;		    /* NULL: RECLAIM_PSI_ENV or RECLAIM_PSI_PATH */
};

/* "auto", "manual", "off" */
const char *reclaim_mode_name(enum reclaim_mode m);
/* The config with every 0 field replaced by its default for a guest of ram_mib. */
void reclaim_config_resolve(const struct reclaim_config *in, uint32_t ram_mib,
			    struct reclaim_config *out);

struct virtio_balloon_config;
/* The balloon's features for mode m: AUTO turns free page reporting on, OFF turns it off,
 * MANUAL leaves it as --balloon / "balloon" said. vm_devices.c calls it on creation. */
void reclaim_adjust_balloon(enum reclaim_mode m, struct virtio_balloon_config *bc);

/* --- the pure policy --- */

enum reclaim_reason {
	RECLAIM_HOLD,	       /* nothing to do */
	RECLAIM_INFLATE,       /* host under pressure: inflate */
	RECLAIM_DEFLATE_GUEST, /* the guest's available memory is low: deflate */
	RECLAIM_DEFLATE_CALM,  /* the host is calm: deflate towards the initial target */
	RECLAIM_DEFLATE_FLOOR, /* the target (set by hand) eats into the floor: deflate */
	RECLAIM_SKIP_FLOOR,    /* would inflate, but the floor is reached */
	RECLAIM_SKIP_RATE,     /* would move, but the last step is less than an interval old */
	RECLAIM_SKIP_GUEST,    /* would inflate, but the guest lacks the memory or lags */
	RECLAIM_NR_REASONS,
};

const char *reclaim_reason_name(enum reclaim_reason r);

struct reclaim_input {
	uint64_t now_ms; /* a monotonic clock */
	bool has_psi;
	double psi_some_avg10;
	bool has_guest;		  /* the guest's statistics are known */
	uint64_t guest_avail_mib; /* available_memory */
	uint32_t target_mib;	  /* the balloon's current target */
	uint32_t actual_mib;	  /* what the guest's driver says it holds */
	uint32_t base_mib;	  /* the initial target: a calm host deflates down to it */
	uint32_t ram_mib;
};

/* What the policy remembers between ticks (zero to begin with). */
struct reclaim_state {
	bool is_pressured; /* pressure went above high and has not yet fallen below low */
	bool has_stepped;
	uint64_t last_step_ms;
};

struct reclaim_decision {
	uint32_t target_mib; /* == in->target_mib unless the reason is a step */
	enum reclaim_reason reason;
	struct reclaim_state next;
};

/* One decision for a resolved config c (reclaim_config_resolve). No side effects. */
struct reclaim_decision reclaim_decide(const struct reclaim_config *c,
				       const struct reclaim_state *s,
				       const struct reclaim_input *in);

/* Parses a PSI file's text ("some avg10=1.23 avg60=... total=...\nfull ..."): the "some"
 * line's avg10. 0 or -EINVAL. */
int reclaim_parse_psi(const char *text, double *some_avg10);

/* --- the thread --- */

struct virtio_balloon;
struct reclaim;

struct reclaim_counters {
	enum reclaim_mode mode;
	uint64_t nr_inflate_steps, nr_deflate_steps;
	uint64_t nr_skipped_floor, nr_skipped_rate, nr_skipped_guest;
	uint64_t nr_ticks, nr_psi_errors;
	bool has_psi;
	double last_psi; /* some avg10 of the last good reading */
	enum reclaim_reason last_reason;
	uint32_t target_mib;			   /* after the last decision */
	uint32_t floor_mib, step_mib, interval_ms; /* as resolved */
};

/* Makes the VM's reclaim state for balloon b (which must outlive it) in a guest of
 * ram_mib; in AUTO mode also opens the PSI file (a failure is logged once, the policy then
 * runs without it) and starts the thread. is_running(ctx) says whether the VM runs (the
 * thread does nothing otherwise). NULL with errno on failure. */
struct reclaim *reclaim_create(const struct reclaim_config *c, struct virtio_balloon *b,
			       uint32_t ram_mib, bool (*is_running)(void *ctx), void *ctx);
/* Stops the thread (at once: it waits on a condition variable, not in a sleep) and frees.
 * NULL is fine. */
void reclaim_destroy(struct reclaim *r);
void reclaim_get_counters(struct reclaim *r, struct reclaim_counters *out);

#endif

/* devices/virtio_balloon.c — virtio memory balloon: inflate, deflate, statistics and free
 * page reporting queues over virtio-mmio, with the pages really given back to the host.
 *
 * Queues, in the order the spec numbers them (a queue whose feature the driver did not
 * accept takes no index, so the index of the later ones moves down):
 *	0 inflateq  — arrays of le32 PFNs the guest gave up: each run is checked against RAM
 *		      and punched out of the memfd (fallocate PUNCH_HOLE) before the buffer is
 *		      returned, so MUST_TELL_HOST holds whether or not the driver asked for it.
 *	1 deflateq  — PFNs the guest takes back: nothing to do, a punched page reads as zero
 *		      on its next touch; only checked and counted.
 *	  statsq    — (STATS_VQ) the driver's one statistics buffer; the device holds it and
 *		      hands it back every stats_polling_interval_s to ask for fresh figures.
 *	  reportq   — (PAGE_REPORTING) device-writable scatter lists of free ranges (usually
 *		      2 or 4 MiB each); each is punched out like an inflated page.
 * Config space: num_pages (the target, set by the host), actual (written by the driver).
 *
 * Threads: one worker owns the queues. The control plane (set_target, get_stats, ...) and
 * the vCPUs (config reads/writes) meet the worker only in `lock` and in atomics.
 *
 * Trust: PFNs, ranges and statistics are guest data. A PFN outside RAM (past the end, in
 * the MMIO hole) is counted in nr_bad_pfns and skipped; nothing is discarded unless
 * guest_mem_ptr() accepted the whole range; one chain's work is capped.
 */
#include "devices/virtio_balloon.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/config.h"
#include "util/log.h"
#include "util/worker.h"

#define PAGE_SIZE_4K (1ULL << VIRTIO_BALLOON_PAGE_SHIFT)
/* Most PFN bytes taken from one inflate/deflate chain (Linux sends at most 1 KiB). */
#define PFN_MAX_PER_CHAIN (64 * 1024)
#define STATS_MAX_BYTES	  1024
#define QUEUE_SIZE	  256

enum { Q_INFLATE, Q_DEFLATE, Q_STATS, Q_REPORT, Q_NR };

const char *const virtio_balloon_stat_names[VIRTIO_BALLOON_S_NR] = {
    "swap_in",	    "swap_out",		"major_faults", "minor_faults",	       "free_memory",
    "total_memory", "available_memory", "disk_caches",	"hugetlb_allocations", "hugetlb_failures",
};

struct virtio_balloon {
	const struct guest_mem *mem;
	struct virtio_balloon_config cfg; /* as created; amount_mib follows set_target */
	struct virtio_mmio *t;
	struct worker *worker;
	int timer_fd;		  /* statistics polling, -1 without STATS_VQ */
	int qidx[Q_NR];		  /* transport queue index of each role, -1 if not negotiated */
	struct virtq_chain chain; /* worker-owned scratch */
	bool has_stats_buf;	  /* the worker holds the driver's stats buffer */
	uint16_t stats_head;

	uint32_t num_pages; /* target, __atomic (control thread writes, vCPUs read) */
	uint32_t actual;    /* written by the driver through a vCPU, __atomic */

	pthread_mutex_t lock; /* protects stats and cfg against the control thread */
	struct virtio_balloon_stats stats;
};

/* --- the parsers --- */

/* Frees [p, p+len) (inside region r, page aligned) back to the host. */
static int discard_host(const struct guest_mem *mem, const struct guest_region *r, uint8_t *p,
			uint64_t len)
{
	if (len == 0)
		return 0;
	if (mem->fd >= 0) {
		uint64_t off = r->fd_offset + (uint64_t)(p - r->host), end = off + len;
		/* hugetlbfs frees whole 2 MiB pages only: punch the ones the range covers
		 * entirely, leave the partial ones in use (they are freed when the rest of
		 * their page comes too, e.g. by free page reporting's 2 MiB+ ranges). */
		if (mem->is_hugetlb) {
			const uint64_t h = 2ULL << 20;
			off = (off + h - 1) & ~(h - 1);
			end &= ~(h - 1);
			if (end <= off)
				return 0;
		}
		if (fallocate(mem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			      (off_t)(end - off)))
			return -errno;
		return 0;
	}
	return madvise(p, len, MADV_DONTNEED) ? -errno : 0;
}

static const struct guest_region *region_of(const struct guest_mem *mem, const uint8_t *p,
					    uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];
		if (p >= r->host && (uint64_t)(p - r->host) <= r->size &&
		    len <= r->size - (uint64_t)(p - r->host))
			return r;
	}
	return NULL;
}

int virtio_balloon_discard(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint8_t *p;

	if ((gpa | len) & (PAGE_SIZE_4K - 1))
		return -EINVAL;
	p = guest_mem_ptr(mem, gpa, len);
	if (!p || len == 0)
		return p ? 0 : -EFAULT;
	const struct guest_region *r = region_of(mem, p, len);
	return r ? discard_host(mem, r, p, len) : -EFAULT;
}

/* A run of n contiguous PFNs from pfn: check it, discard it. */
static int pfn_run(const struct guest_mem *mem, uint64_t pfn, uint64_t n, bool do_discard,
		   uint64_t *nr_good, uint64_t *nr_bad)
{
	uint64_t gpa = pfn << VIRTIO_BALLOON_PAGE_SHIFT, len = n << VIRTIO_BALLOON_PAGE_SHIFT;

	if (!guest_mem_ptr(mem, gpa, len)) {
		if (n == 1) {
			*nr_bad += 1;
			return -EFAULT;
		}
		/* The run may straddle RAM's end or the hole: judge its pages one by one. */
		for (uint64_t i = 0; i < n; i++)
			pfn_run(mem, pfn + i, 1, do_discard, nr_good, nr_bad);
		return -EFAULT;
	}
	*nr_good += n;
	if (do_discard) {
		int r = virtio_balloon_discard(mem, gpa, len);
		if (r)
			log_guest("virtio-balloon: cannot discard guest pages: %s", strerror(-r));
	}
	return 0;
}

int virtio_balloon_parse_pfns(const struct guest_mem *mem, const void *buf, size_t len,
			      bool do_discard, uint64_t *nr_good, uint64_t *nr_bad)
{
	const uint8_t *b = buf;
	uint64_t start = 0, n = 0;
	int err = 0;

	for (size_t off = 0; off + 4 <= len; off += 4) {
		uint32_t pfn;
		memcpy(&pfn, b + off, 4); /* little-endian host */
		if (n && pfn == start + n) {
			n++;
			continue;
		}
		if (n && pfn_run(mem, start, n, do_discard, nr_good, nr_bad))
			err = -EFAULT;
		start = pfn;
		n = 1;
	}
	if (n && pfn_run(mem, start, n, do_discard, nr_good, nr_bad))
		err = -EFAULT;
	return err;
}

unsigned virtio_balloon_parse_stats(const void *buf, size_t len, struct virtio_balloon_stats *s)
{
	const uint8_t *b = buf;
	unsigned nr = 0;

	for (size_t off = 0; off + 10 <= len; off += 10) {
		uint16_t tag;
		uint64_t val;
		memcpy(&tag, b + off, 2);
		memcpy(&val, b + off + 2, 8);
		if (tag >= VIRTIO_BALLOON_S_NR)
			continue;
		s->has[tag] = true;
		s->value[tag] = val;
		nr++;
	}
	return nr;
}

/* --- the worker --- */

static bool has_queue(struct virtio_balloon *b, int role)
{
	return b->qidx[role] >= 0;
}

static void pfn_kick(struct virtio_balloon *b, struct worker *w, int role)
{
	static uint8_t buf[PFN_MAX_PER_CHAIN]; /* only the one worker uses it */
	unsigned qi = (unsigned)b->qidx[role];
	struct virtq *q = virtio_mmio_queue(b->t, qi);
	int r;

	while ((r = virtio_mmio_pop(b->t, qi, &b->chain)) > 0) {
		uint64_t good = 0, bad = 0;
		size_t n = virtq_chain_read(&b->chain, 0, buf, sizeof(buf));
		virtio_balloon_parse_pfns(b->mem, buf, n, role == Q_INFLATE, &good, &bad);
		pthread_mutex_lock(&b->lock);
		if (role == Q_INFLATE)
			b->stats.nr_inflated_pages += good;
		else
			b->stats.nr_deflated_pages += good;
		b->stats.nr_bad_pfns += bad;
		if (b->chain.out_len > sizeof(buf) || b->chain.nr_in)
			b->stats.nr_bad_chains++;
		pthread_mutex_unlock(&b->lock);
		if (bad)
			log_guest("virtio-balloon: %llu PFNs outside RAM ignored",
				  (unsigned long long)bad);
		virtq_push(q, b->chain.head, 0);
		if (worker_should_yield(w))
			break;
	}
	virtio_mmio_signal_used(b->t, qi);
}

static void inflate_kick(struct worker *w, int fd, uint32_t events, void *arg)
{
	worker_eventfd_drain(fd);
	pfn_kick(arg, w, Q_INFLATE);
}

static void deflate_kick(struct worker *w, int fd, uint32_t events, void *arg)
{
	worker_eventfd_drain(fd);
	pfn_kick(arg, w, Q_DEFLATE);
}

static void report_kick(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_balloon *b = arg;
	unsigned qi = (unsigned)b->qidx[Q_REPORT];
	struct virtq *q = virtio_mmio_queue(b->t, qi);
	int r;

	worker_eventfd_drain(fd);
	while ((r = virtio_mmio_pop(b->t, qi, &b->chain)) > 0) {
		uint64_t bytes = 0, punched = 0, errs = 0;
		/* The ranges are the chain's buffers, already checked inside RAM by the queue. */
		for (unsigned i = 0; i < (unsigned)b->chain.nr_out + b->chain.nr_in; i++) {
			uint8_t *p = b->chain.iov[i].iov_base;
			uint64_t len = b->chain.iov[i].iov_len;
			const struct guest_region *rg = region_of(b->mem, p, len);
			/* Only whole pages inside the range are freed. */
			uint64_t off = rg ? (uint64_t)(p - rg->host) : 0;
			uint64_t lo = (off + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
			uint64_t hi = (off + len) & ~(PAGE_SIZE_4K - 1);
			bytes += len;
			if (!rg) {
				errs++;
				continue;
			}
			if (hi > lo && discard_host(b->mem, rg, rg->host + lo, hi - lo) == 0)
				punched += hi - lo;
			else if (hi > lo)
				errs++;
		}
		pthread_mutex_lock(&b->lock);
		b->stats.nr_reported_bytes += bytes;
		b->stats.nr_punched_bytes += punched;
		b->stats.nr_punch_errors += errs;
		pthread_mutex_unlock(&b->lock);
		virtq_push(q, b->chain.head, 0);
		if (worker_should_yield(w))
			break;
	}
	virtio_mmio_signal_used(b->t, qi);
}

static void stats_kick(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_balloon *b = arg;
	unsigned qi = (unsigned)b->qidx[Q_STATS];
	struct virtq *q = virtio_mmio_queue(b->t, qi);
	uint8_t buf[STATS_MAX_BYTES];
	int r;

	worker_eventfd_drain(fd);
	while ((r = virtio_mmio_pop(b->t, qi, &b->chain)) > 0) {
		if (b->has_stats_buf) {
			/* The driver has one buffer; a second one is returned at once. */
			virtq_push(q, b->stats_head, 0);
		}
		size_t n = virtq_chain_read(&b->chain, 0, buf, sizeof(buf));
		pthread_mutex_lock(&b->lock);
		virtio_balloon_parse_stats(buf, n, &b->stats);
		b->stats.nr_stats_updates++;
		pthread_mutex_unlock(&b->lock);
		b->stats_head = b->chain.head;
		b->has_stats_buf = true;
	}
	virtio_mmio_signal_used(b->t, qi);
}

/* Polling tick: hand the buffer back, the driver refills it and kicks statsq. */
static void stats_tick(struct worker *w, int fd, uint32_t events, void *arg)
{
	struct virtio_balloon *b = arg;
	uint64_t v;

	if (events && read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	if (!b->has_stats_buf)
		return;
	unsigned qi = (unsigned)b->qidx[Q_STATS];
	b->has_stats_buf = false;
	virtq_push(virtio_mmio_queue(b->t, qi), b->stats_head, 0);
	virtio_mmio_signal_used(b->t, qi);
}

static int arm_timer(struct virtio_balloon *b, uint32_t seconds)
{
	struct itimerspec its = {.it_interval = {.tv_sec = seconds},
				 .it_value = {.tv_sec = seconds}};

	if (b->timer_fd < 0)
		return 0;
	return timerfd_settime(b->timer_fd, 0, &its, NULL) ? -errno : 0;
}

/* --- ops --- */

static unsigned balloon_queue_count(void *dev)
{
	struct virtio_balloon *b = dev;

	return 2 + (b->cfg.stats_polling_interval_s ? 1 : 0) + (b->cfg.free_page_reporting ? 1 : 0);
}

static uint64_t balloon_features(void *dev)
{
	struct virtio_balloon *b = dev;
	uint64_t f = VIRTIO_RING_FEATURES | VIRTIO_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST);

	if (b->cfg.stats_polling_interval_s)
		f |= VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ);
	if (b->cfg.deflate_on_oom)
		f |= VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	if (b->cfg.free_page_reporting)
		f |= VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING);
	return f;
}

static void balloon_config_read(void *dev, uint32_t offset, void *data, unsigned size)
{
	struct virtio_balloon *b = dev;
	uint32_t cs[4] = {__atomic_load_n(&b->num_pages, __ATOMIC_ACQUIRE),
			  __atomic_load_n(&b->actual, __ATOMIC_ACQUIRE), 0, 0};

	memset(data, 0, size);
	if (offset < sizeof(cs) && size <= sizeof(cs) - offset)
		memcpy(data, (uint8_t *)cs + offset, size);
}

static void balloon_config_write(void *dev, uint32_t offset, const void *data, unsigned size)
{
	struct virtio_balloon *b = dev;
	uint32_t v;

	if (offset != 4 || size != 4)
		return; /* only `actual` is the driver's; poison_val needs PAGE_POISON */
	memcpy(&v, data, 4);
	__atomic_store_n(&b->actual, v, __ATOMIC_RELEASE);
}

static int balloon_activate(void *dev, struct virtio_mmio *t)
{
	struct virtio_balloon *b = dev;
	uint64_t f = virtio_mmio_driver_features(t);
	int next = 2, err;

	b->t = t;
	b->qidx[Q_INFLATE] = 0;
	b->qidx[Q_DEFLATE] = 1;
	b->qidx[Q_STATS] = (f & VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ)) ? next++ : -1;
	b->qidx[Q_REPORT] = (f & VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING)) ? next++ : -1;
	b->has_stats_buf = false;
	for (int i = 0; i < Q_NR; i++) {
		struct virtq *q =
		    b->qidx[i] >= 0 ? virtio_mmio_queue(t, (unsigned)b->qidx[i]) : NULL;
		if (b->qidx[i] >= 0 && (!q || !q->is_ready))
			b->qidx[i] = -1; /* a queue the driver did not set up */
	}
	b->worker = worker_create("virtio-balloon");
	if (!b->worker)
		return -errno;
	static worker_fn *const fns[Q_NR] = {inflate_kick, deflate_kick, stats_kick, report_kick};
	for (int i = 0; i < Q_NR; i++) {
		if (!has_queue(b, i))
			continue;
		err = worker_add_fd(b->worker, virtio_mmio_notify_fd(t, (unsigned)b->qidx[i]),
				    EPOLLIN, fns[i], b);
		if (err)
			goto destroy_worker;
	}
	if (has_queue(b, Q_STATS) && b->timer_fd >= 0) {
		err = worker_add_fd(b->worker, b->timer_fd, EPOLLIN, stats_tick, b);
		if (err)
			goto destroy_worker;
		pthread_mutex_lock(&b->lock);
		err = arm_timer(b, b->cfg.stats_polling_interval_s);
		pthread_mutex_unlock(&b->lock);
		if (err)
			goto destroy_worker;
	}
	err = worker_start(b->worker);
	if (err)
		goto destroy_worker;
	return 0;

destroy_worker:
	worker_destroy(b->worker);
	b->worker = NULL;
	return err;
}

static void balloon_reset(void *dev)
{
	struct virtio_balloon *b = dev;

	worker_destroy(b->worker);
	b->worker = NULL;
	arm_timer(b, 0);
	b->has_stats_buf = false;
	__atomic_store_n(&b->actual, 0, __ATOMIC_RELEASE);
	for (int i = 0; i < Q_NR; i++)
		b->qidx[i] = -1;
}

static int balloon_pause(void *dev)
{
	struct virtio_balloon *b = dev;

	return b->worker ? worker_pause(b->worker) : 0;
}

static int balloon_resume(void *dev)
{
	struct virtio_balloon *b = dev;

	return b->worker ? worker_resume(b->worker) : 0;
}

static void balloon_destroy(void *dev)
{
	struct virtio_balloon *b = dev;

	worker_destroy(b->worker);
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* save/restore: not yet (the snapshot issue); all the state is in struct virtio_balloon. */
static uint32_t ram_mib(const struct guest_mem *mem);

/* Snapshot: the target and what the driver reported inflated. The inflated pages are
 * holes in the memory file (zero on restore), as the guest expects of pages it gave.
 * (A restored VM's RAM is a private file mapping: pages it inflates later are dropped
 * with MADV_DONTNEED and read back as the file's, not as zeros — the balloon does not
 * promise their contents.) */
#define BALLOON_STATE_MAGIC 0x4c414256 /* "VBAL" */
struct balloon_state {
	uint32_t magic;
	uint32_t num_pages, actual, amount_mib;
};

static long balloon_save(void *dev, void *buf, size_t cap)
{
	struct virtio_balloon *b = dev;
	struct balloon_state st = {
	    .magic = BALLOON_STATE_MAGIC,
	    .num_pages = __atomic_load_n(&b->num_pages, __ATOMIC_ACQUIRE),
	    .actual = __atomic_load_n(&b->actual, __ATOMIC_ACQUIRE),
	};

	if (cap < sizeof(st))
		return -ENOSPC;
	/* Paused: the statistics buffer the device holds goes back now, as a polling tick
	 * would give it (the driver refills it), so nothing is in flight. */
	if (b->has_stats_buf && b->t && b->qidx[Q_STATS] >= 0) {
		unsigned qi = (unsigned)b->qidx[Q_STATS];
		b->has_stats_buf = false;
		virtq_push(virtio_mmio_queue(b->t, qi), b->stats_head, 0);
		virtio_mmio_signal_used(b->t, qi);
	}
	pthread_mutex_lock(&b->lock);
	st.amount_mib = b->cfg.amount_mib;
	pthread_mutex_unlock(&b->lock);
	memcpy(buf, &st, sizeof(st));
	return sizeof(st);
}

static int balloon_restore(void *dev, const void *buf, size_t len)
{
	struct virtio_balloon *b = dev;
	struct balloon_state st;
	uint64_t max_pages = b->mem->ram_size >> VIRTIO_BALLOON_PAGE_SHIFT;

	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	/* The target is a whole number of MiB no larger than RAM, like set_target's. */
	if (st.magic != BALLOON_STATE_MAGIC || st.amount_mib > ram_mib(b->mem) ||
	    st.num_pages != st.amount_mib << (20 - VIRTIO_BALLOON_PAGE_SHIFT) ||
	    st.actual > max_pages)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	b->cfg.amount_mib = st.amount_mib;
	pthread_mutex_unlock(&b->lock);
	__atomic_store_n(&b->num_pages, st.num_pages, __ATOMIC_RELEASE);
	__atomic_store_n(&b->actual, st.actual, __ATOMIC_RELEASE);
	return 0;
}

const struct virtio_device_ops virtio_balloon_ops = {
    .name = "virtio-balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .nr_queues = Q_NR,
    .queue_count = balloon_queue_count,
    .max_queue_size = QUEUE_SIZE,
    .features = balloon_features,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .activate = balloon_activate,
    .reset = balloon_reset,
    .pause = balloon_pause,
    .resume = balloon_resume,
    .destroy = balloon_destroy,
    .save = balloon_save,
    .restore = balloon_restore,
};

/* --- creation and the control plane --- */

int virtio_balloon_parse_spec(struct virtio_balloon_config *c, const char *spec, char *err,
			      size_t errlen)
{
	char *copy = strdup(spec ? spec : ""), *save = NULL;
	int r = 0;

	memset(c, 0, sizeof(*c));
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		if (!strncmp(tok, "target=", 7) || !strncmp(tok, "amount_mib=", 11)) {
			bool is_mib = tok[0] == 'a';
			const char *v = tok + (is_mib ? 11 : 7);
			uint64_t bytes;
			unsigned long mib = strtoul(v, &end, 10);
			if (is_mib ? (*v < '0' || *v > '9' || *end || mib > UINT32_MAX)
				   : config_parse_size(v, &bytes) || bytes % (1 << 20)) {
				snprintf(err, errlen, "--balloon %s: not a size in whole MiB", tok);
				r = -EINVAL;
				break;
			}
			if (!is_mib)
				mib = bytes >> 20;
			if (mib > UINT32_MAX) {
				snprintf(err, errlen, "--balloon %s: too large", tok);
				r = -EINVAL;
				break;
			}
			c->amount_mib = (uint32_t)mib;
		} else if (!strncmp(tok, "stats=", 6)) {
			unsigned long s = strtoul(tok + 6, &end, 10);
			if (tok[6] < '0' || tok[6] > '9' || *end || s > 86400) {
				snprintf(
				    err, errlen,
				    "--balloon %s: not a polling interval in seconds (0..86400)",
				    tok);
				r = -EINVAL;
				break;
			}
			c->stats_polling_interval_s = (uint32_t)s;
		} else if (!strcmp(tok, "deflate_on_oom")) {
			c->deflate_on_oom = true;
		} else if (!strcmp(tok, "free_page_reporting")) {
			c->free_page_reporting = true;
		} else {
			snprintf(
			    err, errlen,
			    "--balloon %s: unknown (target=SIZE, deflate_on_oom, stats=SECONDS, "
			    "free_page_reporting)",
			    tok);
			r = -EINVAL;
			break;
		}
	}
	free(copy);
	return r;
}

static uint32_t ram_mib(const struct guest_mem *mem)
{
	return (uint32_t)(mem->ram_size >> 20);
}

struct virtio_balloon *virtio_balloon_create(const struct guest_mem *mem,
					     const struct virtio_balloon_config *cfg, char *err,
					     size_t errlen)
{
	struct virtio_balloon *b;

	if (cfg->amount_mib > ram_mib(mem)) {
		snprintf(err, errlen, "--balloon: target %u MiB is more than the guest's %u MiB",
			 cfg->amount_mib, ram_mib(mem));
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "virtio-balloon: %s", strerror(errno));
		return NULL;
	}
	b->mem = mem;
	b->cfg = *cfg;
	b->timer_fd = -1;
	for (int i = 0; i < Q_NR; i++)
		b->qidx[i] = -1;
	b->num_pages = cfg->amount_mib << (20 - VIRTIO_BALLOON_PAGE_SHIFT);
	pthread_mutex_init(&b->lock, NULL);
	if (cfg->stats_polling_interval_s) {
		b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (b->timer_fd < 0) {
			int e = errno;
			snprintf(err, errlen, "virtio-balloon: timerfd: %s", strerror(e));
			balloon_destroy(b);
			errno = e;
			return NULL;
		}
	}
	return b;
}

int virtio_balloon_set_target(struct virtio_balloon *b, uint32_t amount_mib)
{
	if (amount_mib > ram_mib(b->mem))
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	b->cfg.amount_mib = amount_mib;
	__atomic_store_n(&b->num_pages, amount_mib << (20 - VIRTIO_BALLOON_PAGE_SHIFT),
			 __ATOMIC_RELEASE);
	pthread_mutex_unlock(&b->lock);
	if (b->t && (virtio_mmio_status(b->t) & VIRTIO_STATUS_DRIVER_OK))
		virtio_mmio_config_changed(b->t);
	return 0;
}

void virtio_balloon_get_config(struct virtio_balloon *b, struct virtio_balloon_config *out)
{
	pthread_mutex_lock(&b->lock);
	*out = b->cfg;
	pthread_mutex_unlock(&b->lock);
}

void virtio_balloon_get_sizes(struct virtio_balloon *b, uint32_t *target_mib, uint32_t *actual_mib)
{
	*target_mib =
	    __atomic_load_n(&b->num_pages, __ATOMIC_ACQUIRE) >> (20 - VIRTIO_BALLOON_PAGE_SHIFT);
	*actual_mib =
	    __atomic_load_n(&b->actual, __ATOMIC_ACQUIRE) >> (20 - VIRTIO_BALLOON_PAGE_SHIFT);
}

int virtio_balloon_get_stats(struct virtio_balloon *b, struct virtio_balloon_stats *out)
{
	if (!b->cfg.stats_polling_interval_s && b->timer_fd < 0)
		return -ENOTSUP;
	pthread_mutex_lock(&b->lock);
	*out = b->stats;
	pthread_mutex_unlock(&b->lock);
	out->target_pages = __atomic_load_n(&b->num_pages, __ATOMIC_ACQUIRE);
	out->actual_pages = __atomic_load_n(&b->actual, __ATOMIC_ACQUIRE);
	out->target_mib = out->target_pages >> (20 - VIRTIO_BALLOON_PAGE_SHIFT);
	out->actual_mib = out->actual_pages >> (20 - VIRTIO_BALLOON_PAGE_SHIFT);
	return 0;
}

int virtio_balloon_set_stats_interval(struct virtio_balloon *b, uint32_t seconds)
{
	int r = 0;

	if (b->timer_fd < 0)
		return -ENOTSUP;
	if (seconds == 0)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	b->cfg.stats_polling_interval_s = seconds;
	if (b->worker)
		r = arm_timer(b, seconds);
	pthread_mutex_unlock(&b->lock);
	return r;
}

/* arcvmm.c — the public library (include/arcvmm.h) over the VM core (core/vm.h) and the
 * configuration parser (core/config.h): argument checks, the per-thread error message,
 * the signal mask around thread creation, and the public names of states and ends.
 *
 * Trusts: the core. Does not trust its caller's arguments: NULL pointers and out-of-range
 * values are refused with -EINVAL and a message.
 */
#include "arcvmm.h"

#include "core/config.h"
#include "core/jail.h"
#include "core/snapshot.h"
#include "core/vm.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_vsock.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "hv/hv.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arcvmm_config {
	struct vm_config cfg;
};

struct arcvmm_vm {
	struct vm *vm;
	struct vm_exit_info info; /* filled once STOPPED, for arcvmm_exit()'s pointers */
	bool has_info;
	pthread_mutex_t lock;
};

static _Thread_local char last_error[1024];
static atomic_bool has_created_vm;

static int set_error(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int set_error(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return r;
}

/* A message from the core in err, or strerror if it left none. */
static int core_error(int r, const char *err)
{
	return set_error(r, "%s", err && err[0] ? err : strerror(-r));
}

const char *arcvmm_last_error(void)
{
	return last_error;
}

const char *arcvmm_version(void)
{
	return ARCVMM_VERSION;
}

int arcvmm_set_kick_signal(int signo)
{
	if (atomic_load(&has_created_vm))
		return set_error(-EBUSY, "the kick signal cannot change once a VM exists");
	if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP)
		return set_error(-EINVAL, "signal %d cannot be the vCPU kick signal", signo);
	hv_sig_kick = signo;
	return 0;
}

void arcvmm_set_log_level(int level)
{
	if (level < LOG_ERROR)
		level = LOG_ERROR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_threshold = (enum log_level)level;
}

int arcvmm_get_log_level(void)
{
	return (int)log_threshold;
}

int arcvmm_set_log_fd(int fd)
{
	int r = log_set_fd(fd);

	return r ? set_error(r, "log fd %d: %s", fd, strerror(-r)) : 0;
}

/* --- configuration --- */

struct arcvmm_config *arcvmm_config_new(void)
{
	struct arcvmm_config *c = calloc(1, sizeof(*c));

	if (!c) {
		set_error(-ENOMEM, "out of memory");
		return NULL;
	}
	config_init(&c->cfg);
	return c;
}

void arcvmm_config_free(struct arcvmm_config *c)
{
	if (!c)
		return;
	config_fini(&c->cfg);
	free(c);
}

static int replace_str(char **dst, const char *src)
{
	char *d = NULL;

	if (src && !(d = strdup(src)))
		return set_error(-ENOMEM, "out of memory");
	free(*dst);
	*dst = d;
	return 0;
}

int arcvmm_config_set_kernel(struct arcvmm_config *c, const char *kernel, const char *initrd,
			     const char *cmdline)
{
	int r;

	if (!c || !kernel || !*kernel)
		return set_error(-EINVAL, "kernel: a file name is needed");
	if (initrd && !*initrd)
		return set_error(-EINVAL, "initrd: empty file name");
	if ((r = replace_str(&c->cfg.kernel, kernel)) ||
	    (r = replace_str(&c->cfg.initrd, initrd)) ||
	    (r = replace_str(&c->cfg.cmdline, cmdline)))
		return r;
	return 0;
}

int arcvmm_config_set_machine(struct arcvmm_config *c, unsigned vcpus, uint64_t mem_mib)
{
	if (!c)
		return set_error(-EINVAL, "no config");
	if (vcpus < 1 || vcpus > VM_MAX_CPUS)
		return set_error(-EINVAL, "vcpus %u: must be 1 to %u", vcpus, VM_MAX_CPUS);
	if (mem_mib < (VM_MIN_MEM >> 20) || mem_mib > (1ULL << 24))
		return set_error(-EINVAL, "memory %llu MiB: must be %llu MiB to 16 TiB",
				 (unsigned long long)mem_mib,
				 (unsigned long long)(VM_MIN_MEM >> 20));
	c->cfg.ncpus = vcpus;
	c->cfg.mem_size = mem_mib << 20;
	return 0;
}

int arcvmm_config_set_huge_pages(struct arcvmm_config *c, int on)
{
	if (!c)
		return set_error(-EINVAL, "no config");
	c->cfg.huge_pages = on != 0;
	return 0;
}

int arcvmm_config_add_disk(struct arcvmm_config *c, const char *spec)
{
	char err[1024] = "";
	int r;

	if (!c || !spec)
		return set_error(-EINVAL, "disk: no spec");
	if (c->cfg.nr_disks >= VM_MAX_DISKS)
		return set_error(-EINVAL, "disk %s: too many disks (at most %d)", spec,
				 VM_MAX_DISKS);
	struct vm_disk_config *d = &c->cfg.disks[c->cfg.nr_disks];
	r = config_parse_disk(d, spec, err, sizeof(err));
	if (r)
		return core_error(r, err);
	c->cfg.nr_disks++;
	return 0;
}

int arcvmm_config_add_net(struct arcvmm_config *c, const char *spec)
{
	if (!c || !spec || !*spec)
		return set_error(-EINVAL, "net: no spec");
	if (c->cfg.nr_nets >= VM_MAX_NETS)
		return set_error(-EINVAL, "net %s: too many interfaces (at most %d)", spec,
				 VM_MAX_NETS);
	/* The same parser as --net: the config holds the checked struct, never the string. */
	char err[1024] = "";
	int r = config_parse_net(&c->cfg.nets[c->cfg.nr_nets], spec, err, sizeof(err));
	if (r)
		return core_error(r, err);
	c->cfg.nr_nets++;
	return 0;
}

int arcvmm_config_set_console(struct arcvmm_config *c, enum arcvmm_console_kind kind, int in_fd,
			      int out_fd)
{
	if (!c)
		return set_error(-EINVAL, "no config");
	if (kind != ARCVMM_CONSOLE_SERIAL && kind != ARCVMM_CONSOLE_VIRTIO)
		return set_error(-EINVAL, "console kind %d: must be serial (0) or virtio (1)",
				 (int)kind);
	if (in_fd < -1 || out_fd < -1)
		return set_error(-EINVAL, "console: fds must be >= 0, or -1 for none");
	c->cfg.console = kind == ARCVMM_CONSOLE_SERIAL ? VM_CONSOLE_SERIAL : VM_CONSOLE_VIRTIO;
	c->cfg.console_in_fd = in_fd;
	c->cfg.console_out_fd = out_fd;
	return 0;
}

int arcvmm_config_load_json(struct arcvmm_config *c, const char *json, const char *name)
{
	char err[1024] = "";

	if (!c || !json)
		return set_error(-EINVAL, "config: no JSON text");
	int r = config_parse_json(&c->cfg, json, name ? name : "config", err, sizeof(err));
	return r ? core_error(r, err) : 0;
}

int arcvmm_config_load_file(struct arcvmm_config *c, const char *path)
{
	char err[1024] = "";

	if (!c || !path)
		return set_error(-EINVAL, "config: no file name");
	int r = config_parse_json_file(&c->cfg, path, err, sizeof(err));
	return r ? core_error(r, err) : 0;
}

int arcvmm_config_parse_args(struct arcvmm_config *c, int argc, char **argv)
{
	char err[1024] = "";

	if (!c || argc < 1 || !argv)
		return set_error(-EINVAL, "no arguments");
	int r = config_parse_args(&c->cfg, argc, argv, err, sizeof(err));
	if (r == CONFIG_HELP)
		return 1;
	if (r)
		return core_error(r, err);
	if (c->cfg.log_level >= 0)
		log_threshold = (enum log_level)c->cfg.log_level;
	return 0;
}

void arcvmm_config_usage(void *stream)
{
	config_usage(stream ? stream : stdout);
}

int arcvmm_config_enter_jail(struct arcvmm_config *c)
{
	char err[1024] = "";

	if (!c)
		return set_error(-EINVAL, "no config");
	if (!c->cfg.jail_dir)
		return 0;
	struct jail_config j = {c->cfg.jail_dir, c->cfg.jail_uid, c->cfg.jail_gid};
	int r = jail_enter(&c->cfg, &j, err, sizeof(err));
	return r ? core_error(r, err) : 0;
}

/* --- lifecycle --- */

/* The library's threads are made with every signal blocked (they inherit the mask), so an
 * embedder's signals never land on them; vCPU threads then unblock only the kick. */
static void block_all(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	/* Synchronous signals stay open: blocked, the kernel would reset them to their
	 * default and the seccomp reporter (SIGSYS) or a crash handler would never run. */
	sigdelset(&all, SIGSYS);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	sigdelset(&all, SIGABRT);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

static void kick_handler(int sig)
{
	(void)sig;
}

/* The only handler the library installs: a no-op, so that a kick makes KVM_RUN return. */
static void install_kick_handler(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static bool is_installed;

	pthread_mutex_lock(&lock);
	if (!is_installed) {
		struct sigaction sa = {.sa_handler = kick_handler};
		sigemptyset(&sa.sa_mask);
		sigaction(hv_sig_kick, &sa, NULL);
		is_installed = true;
	}
	pthread_mutex_unlock(&lock);
}

int arcvmm_state_allows(enum arcvmm_state state, enum arcvmm_op op)
{
	if ((unsigned)state > ARCVMM_STATE_STOPPED || (unsigned)op > ARCVMM_OP_STOP)
		return 0;
	return vm_state_allows((enum vm_state)state, (enum vm_op)op);
}

const char *arcvmm_state_name(enum arcvmm_state state)
{
	static const char *const names[] = {"Not started", "Running", "Paused", "Stopped"};

	return (unsigned)state <= ARCVMM_STATE_STOPPED ? names[state] : "Unknown";
}

/* A new VM handle (arcvmm_create, arcvmm_restore): the vCPU kick handler installed. NULL
 * with the library error set. */
static struct arcvmm_vm *handle_new(void)
{
	struct arcvmm_vm *v = calloc(1, sizeof(*v));

	if (!v) {
		set_error(-ENOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&v->lock, NULL);
	atomic_store(&has_created_vm, true);
	install_kick_handler();
	return v;
}

struct arcvmm_vm *arcvmm_create(const struct arcvmm_config *c)
{
	struct arcvmm_vm *v;
	char err[1024] = "";
	sigset_t old;
	int r;

	if (!c) {
		set_error(-EINVAL, "no config");
		return NULL;
	}
	if (!c->cfg.kernel) {
		set_error(-EINVAL, "no kernel: give --kernel FILE or --config FILE (see --help)");
		return NULL;
	}
	v = handle_new();
	if (!v)
		return NULL;
	block_all(&old);
	r = vm_create(&c->cfg, &v->vm, err, sizeof(err));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		core_error(r, err);
		pthread_mutex_destroy(&v->lock);
		free(v);
		return NULL;
	}
	return v;
}

void arcvmm_destroy(struct arcvmm_vm *v)
{
	if (!v)
		return;
	vm_destroy(v->vm);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

void arcvmm_destroy_detached(struct arcvmm_vm *v)
{
	if (!v)
		return;
	vm_destroy_detached(v->vm);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

#define CHECK_VM(v)                                         \
	do {                                                \
		if (!(v))                                   \
			return set_error(-EINVAL, "no VM"); \
	} while (0)

int arcvmm_start(struct arcvmm_vm *v)
{
	char err[1024] = "";
	sigset_t old;

	CHECK_VM(v);
	block_all(&old);
	int r = vm_start(v->vm, err, sizeof(err));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r ? core_error(r, err) : 0;
}

int arcvmm_pause(struct arcvmm_vm *v)
{
	char err[1024] = "";

	CHECK_VM(v);
	int r = vm_pause(v->vm, err, sizeof(err));
	return r ? core_error(r, err) : 0;
}

int arcvmm_resume(struct arcvmm_vm *v)
{
	char err[1024] = "";

	CHECK_VM(v);
	int r = vm_resume(v->vm, err, sizeof(err));
	return r ? core_error(r, err) : 0;
}

int arcvmm_request_shutdown(struct arcvmm_vm *v, enum arcvmm_shutdown_method how)
{
	char err[1024] = "";

	CHECK_VM(v);
	if (how != ARCVMM_SHUTDOWN_POWER_BUTTON && how != ARCVMM_SHUTDOWN_CTRL_ALT_DEL)
		return set_error(-EINVAL, "shutdown method %d: unknown", (int)how);
	int r = vm_request_shutdown(v->vm,
				    how == ARCVMM_SHUTDOWN_POWER_BUTTON ? VM_SHUTDOWN_POWER_BUTTON
									: VM_SHUTDOWN_CTRL_ALT_DEL,
				    err, sizeof(err));
	return r ? core_error(r, err) : 0;
}

int arcvmm_stop(struct arcvmm_vm *v, int signo)
{
	CHECK_VM(v);
	if (signo < 0 || signo >= NSIG)
		return set_error(-EINVAL, "signal %d: out of range", signo);
	return vm_stop(v->vm, signo);
}

enum arcvmm_state arcvmm_state(struct arcvmm_vm *v)
{
	if (!v)
		return ARCVMM_STATE_STOPPED;
	return (enum arcvmm_state)vm_state(v->vm);
}

int arcvmm_wait(struct arcvmm_vm *v, int timeout_ms)
{
	CHECK_VM(v);
	int r = vm_wait(v->vm, timeout_ms);
	return r ? set_error(r, "the VM is still running after %d ms", timeout_ms) : 0;
}

int arcvmm_event_fd(struct arcvmm_vm *v)
{
	CHECK_VM(v);
	return vm_stopped_fd(v->vm);
}

int arcvmm_state_fd(struct arcvmm_vm *v)
{
	CHECK_VM(v);
	return vm_state_fd(v->vm);
}

static enum arcvmm_end public_end(enum vm_end e)
{
	switch (e) {
	case VM_END_NONE:
		return ARCVMM_END_NONE;
	case VM_END_POWEROFF:
		return ARCVMM_END_POWEROFF;
	case VM_END_RESET:
		return ARCVMM_END_RESET;
	case VM_END_SHUTDOWN:
		return ARCVMM_END_TRIPLE_FAULT;
	case VM_END_USER:
		return ARCVMM_END_CONSOLE;
	case VM_END_PANIC:
		return ARCVMM_END_PANIC;
	case VM_END_STOP:
		return ARCVMM_END_STOPPED;
	case VM_END_ERROR:
	default:
		return ARCVMM_END_ERROR;
	}
}

int arcvmm_exit(struct arcvmm_vm *v, struct arcvmm_exit *out)
{
	CHECK_VM(v);
	if (!out)
		return set_error(-EINVAL, "no exit struct");
	pthread_mutex_lock(&v->lock);
	if (!v->has_info) {
		vm_get_exit_info(v->vm, &v->info);
		v->has_info = v->info.end != VM_END_NONE;
	}
	out->end = public_end(v->info.end);
	out->signo = v->info.signo;
	out->reason = v->has_info ? v->info.reason : "";
	out->detail = v->has_info ? v->info.detail : "";
	out->status = v->has_info ? vm_exit_status(&v->info) : 0;
	pthread_mutex_unlock(&v->lock);
	return 0;
}

char *arcvmm_metrics_json(struct arcvmm_vm *v)
{
	if (!v) {
		set_error(-EINVAL, "no VM");
		return NULL;
	}
	char *s = vm_metrics_json(v->vm);
	if (!s)
		set_error(-ENOMEM, "out of memory");
	return s;
}

unsigned arcvmm_vcpus(struct arcvmm_vm *v)
{
	return v ? vm_ncpus(v->vm) : 0;
}

uint64_t arcvmm_mem_mib(struct arcvmm_vm *v)
{
	return v ? vm_mem_size(v->vm) >> 20 : 0;
}

/* --- run-time device changes --- */

static void to_rl(struct rate_limiter_config *out, const struct arcvmm_rate_limit *in)
{
	out->bandwidth.size = in->bandwidth.size;
	out->bandwidth.one_time_burst = in->bandwidth.one_time_burst;
	out->bandwidth.refill_time_ms = in->bandwidth.refill_time_ms;
	out->ops.size = in->ops.size;
	out->ops.one_time_burst = in->ops.one_time_burst;
	out->ops.refill_time_ms = in->ops.refill_time_ms;
}

int arcvmm_disk_set_rate_limit(struct arcvmm_vm *v, const char *drive_id,
			       const struct arcvmm_rate_limit *limit)
{
	struct rate_limiter_config rl;

	CHECK_VM(v);
	if (!drive_id || !limit)
		return set_error(-EINVAL, "disk rate limit: no drive id or limit");
	struct virtio_blk *b = vm_disk_by_id(v->vm, drive_id);
	if (!b)
		return set_error(-ENOENT, "no drive with id \"%s\"", drive_id);
	to_rl(&rl, limit);
	return virtio_blk_set_rate_limiter(b, &rl);
}

int arcvmm_net_set_rate_limit(struct arcvmm_vm *v, unsigned index,
			      const struct arcvmm_rate_limit *rx,
			      const struct arcvmm_rate_limit *tx)
{
	struct rate_limiter_config r, t;

	CHECK_VM(v);
	struct virtio_net *n = vm_net(v->vm, index);
	if (!n)
		return set_error(-ENOENT, "no network interface %u", index);
	if (rx)
		to_rl(&r, rx);
	if (tx)
		to_rl(&t, tx);
	return virtio_net_set_rate_limiters(n, rx ? &r : NULL, tx ? &t : NULL);
}

unsigned arcvmm_disk_count(struct arcvmm_vm *v)
{
	return v ? vm_nr_disks(v->vm) : 0;
}

unsigned arcvmm_net_count(struct arcvmm_vm *v)
{
	return v ? vm_nr_nets(v->vm) : 0;
}

#define GET_BALLOON(v, b)                               \
	CHECK_VM(v);                                    \
	struct virtio_balloon *b = vm_balloon((v)->vm); \
	if (!b)                                         \
	return set_error(-ENODEV, "the VM has no balloon device")

int arcvmm_balloon_set_target(struct arcvmm_vm *v, uint32_t amount_mib)
{
	GET_BALLOON(v, b);
	if (vm_state(v->vm) == VM_STATE_STOPPED)
		return set_error(-EBUSY, "the VM is stopped");
	int r = virtio_balloon_set_target(b, amount_mib);
	if (r == -EINVAL)
		return set_error(r, "balloon target %u MiB: more than the guest's RAM (%llu MiB)",
				 amount_mib, (unsigned long long)(vm_mem_size(v->vm) >> 20));
	return r ? set_error(r, "balloon: %s", strerror(-r)) : 0;
}

int arcvmm_balloon_get_config(struct arcvmm_vm *v, struct arcvmm_balloon_config *out)
{
	struct virtio_balloon_config c;

	GET_BALLOON(v, b);
	if (!out)
		return set_error(-EINVAL, "no output struct");
	virtio_balloon_get_config(b, &c);
	out->amount_mib = c.amount_mib;
	out->deflate_on_oom = c.deflate_on_oom;
	out->stats_polling_interval_s = c.stats_polling_interval_s;
	return 0;
}

int arcvmm_balloon_get_stats(struct arcvmm_vm *v, struct arcvmm_balloon_stats *out)
{
	struct virtio_balloon_stats st;

	GET_BALLOON(v, b);
	if (!out)
		return set_error(-EINVAL, "no output struct");
	int r = virtio_balloon_get_stats(b, &st);
	if (r == -ENOTSUP)
		return set_error(r, "balloon statistics were not enabled at boot");
	if (r)
		return set_error(r, "balloon statistics: %s", strerror(-r));
	int64_t *vals[VIRTIO_BALLOON_S_NR] = {
	    &out->swap_in,	    &out->swap_out,    &out->major_faults,
	    &out->minor_faults,	    &out->free_memory, &out->total_memory,
	    &out->available_memory, &out->disk_caches, &out->hugetlb_allocations,
	    &out->hugetlb_failures};
	out->target_pages = st.target_pages;
	out->actual_pages = st.actual_pages;
	out->target_mib = st.target_mib;
	out->actual_mib = st.actual_mib;
	for (unsigned i = 0; i < VIRTIO_BALLOON_S_NR; i++)
		*vals[i] = st.has[i] ? (int64_t)st.value[i] : -1;
	return 0;
}

int arcvmm_balloon_set_stats_interval(struct arcvmm_vm *v, uint32_t seconds)
{
	GET_BALLOON(v, b);
	int r = virtio_balloon_set_stats_interval(b, seconds);
	if (r == -ENOTSUP)
		return set_error(r, "balloon statistics were not enabled at boot: they cannot be "
				    "turned on later");
	if (r == -EINVAL)
		return set_error(r, "balloon statistics cannot be turned off after boot");
	return r ? set_error(r, "balloon: %s", strerror(-r)) : 0;
}

/* --- vsock --- */

int arcvmm_config_set_vsock(struct arcvmm_config *c, uint32_t guest_cid, const char *uds_path)
{
	char spec[VSOCK_UDS_MAX + 64], err[1024] = "";

	if (!c || !uds_path)
		return set_error(-EINVAL, "vsock: no uds path");
	if (strlen(uds_path) > VSOCK_UDS_MAX)
		return set_error(-EINVAL, "vsock: uds path: too long (at most %d bytes)",
				 VSOCK_UDS_MAX);
	if (strchr(uds_path, ','))
		return set_error(-EINVAL, "vsock: uds path %s: no ',' allowed", uds_path);
	snprintf(spec, sizeof(spec), "cid=%u,uds=%s", guest_cid, uds_path);
	int r = config_set_vsock(&c->cfg, spec, err, sizeof(err));
	return r ? core_error(r, err) : 0;
}

/* --- virtio-fs --- */

int arcvmm_config_add_fs(struct arcvmm_config *c, const char *path, const char *tag,
			 const struct arcvmm_fs_options *opts)
{
	struct vm_fs_config fs = {.path = (char *)path, .queues = 1};
	char err[1024] = "";

	if (!c || !path || !tag)
		return set_error(-EINVAL, "fs: needs a path and a tag");
	if (strlen(tag) > VM_FS_TAG_MAX)
		return set_error(-EINVAL, "fs: tag %.40s: too long (at most %d bytes)", tag,
				 VM_FS_TAG_MAX);
	snprintf(fs.tag, sizeof(fs.tag), "%s", tag);
	if (opts) {
		fs.is_read_only = opts->read_only != 0;
		fs.has_xattr = opts->xattr != 0;
		fs.queues = opts->queues ? opts->queues : 1;
		if (!opts->cache || !strcmp(opts->cache, "auto"))
			fs.cache = 0;
		else if (!strcmp(opts->cache, "none"))
			fs.cache = 1;
		else if (!strcmp(opts->cache, "always"))
			fs.cache = 2;
		else
			return set_error(-EINVAL,
					 "fs %s: cache %.20s: must be none, auto or always", tag,
					 opts->cache);
	}
	char what[64];
	snprintf(what, sizeof(what), "fs %s", fs.tag);
	int r = config_add_fs(&c->cfg, &fs, what, err, sizeof(err));
	return r ? core_error(r, err) : 0;
}

#define GET_VSOCK(v, d)                             \
	CHECK_VM(v);                                \
	struct virtio_vsock *d = vm_vsock((v)->vm); \
	if (!d)                                     \
	return set_error(-ENODEV, "the VM has no vsock device")

int arcvmm_vsock_connect(struct arcvmm_vm *v, uint32_t port, char *err, size_t errlen)
{
	GET_VSOCK(v, d);
	int fd = virtio_vsock_connect(d, port, 5000);
	if (fd >= 0)
		return fd;
	int r = set_error(fd, "vsock: connect to guest port %u: %s", port,
			  fd == -ECONNREFUSED ? "no guest listener (connection refused)"
			  : fd == -ETIMEDOUT  ? "the guest did not answer"
					      : strerror(-fd));
	if (err && errlen)
		snprintf(err, errlen, "%s", arcvmm_last_error());
	return r;
}

int arcvmm_vsock_listen(struct arcvmm_vm *v, uint32_t port)
{
	GET_VSOCK(v, d);
	int fd = virtio_vsock_listen(d, port);
	return fd >= 0 ? fd
		       : set_error(fd, "vsock: listen on host port %u: %s", port, strerror(-fd));
}

/* --- snapshots --- */

int arcvmm_snapshot_create(struct arcvmm_vm *v, const char *state_path, const char *mem_path,
			   enum arcvmm_snapshot_type type)
{
	char err[1024] = "";

	CHECK_VM(v);
	int r =
	    vm_snapshot_create(v->vm, state_path, mem_path,
			       type == ARCVMM_SNAPSHOT_DIFF ? VM_SNAPSHOT_DIFF : VM_SNAPSHOT_FULL,
			       NULL, err, sizeof(err));
	return r ? core_error(r, err) : 0;
}

struct arcvmm_vm *arcvmm_restore(const char *state_path, const char *mem_path,
				 const struct arcvmm_config *c, unsigned flags)
{
	struct vm_restore_params p = {
	    .state_path = state_path,
	    .mem_path = mem_path,
	    .base = c ? &c->cfg : NULL,
	    .is_verify = flags & ARCVMM_RESTORE_VERIFY,
	};
	struct vm_config defaults;
	struct arcvmm_vm *v;
	char err[1024] = "";
	sigset_t old;
	int r;

	if (!c) {
		config_init(&defaults);
		p.base = &defaults;
	}
	v = handle_new();
	if (!v)
		return NULL;
	block_all(&old);
	r = vm_restore(&p, &v->vm, err, sizeof(err));
	if (!r) {
		r = vm_restore_start(v->vm, flags & ARCVMM_RESTORE_RESUME, err, sizeof(err));
		if (r) {
			vm_destroy(v->vm);
			v->vm = NULL;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!c)
		config_fini(&defaults);
	if (r) {
		core_error(r, err);
		pthread_mutex_destroy(&v->lock);
		free(v);
		return NULL;
	}
	return v;
}

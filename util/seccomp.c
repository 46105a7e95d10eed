/* util/seccomp.c — installs the per-thread allow-lists of seccomp_lists.c. See seccomp.h.
 *
 * Trust: the lists and the kinds come from our own code; nothing here sees guest data.
 * The SIGSYS handler uses only write() and exit_group() (both in every list) and a table
 * of syscall names resolved before any filter was loaded; to say where the call came from
 * it also asks dladdr() and, when the unwinder was loaded beforehand, backtrace().
 *
 * glibc does a few things lazily, by opening a file the first time any thread of the
 * process needs them; a filtered thread that happens to be first is killed. The filters
 * stay tight and prepare_libc() makes those first times happen before any filter exists:
 *  - the first shrink of a thread arena's heap reads /proc/sys/vm/overcommit_memory
 *    (glibc's check_may_shrink_heap). The vsock worker hit it at guest power-off: many
 *    connections closing at once freed their 256 KiB overflow buffers (nested runs, twice);
 *  - the time zone (/etc/localtime) on the first localtime/gmtime-style call;
 *  - libgcc_s.so.1, which backtrace() dlopens on first use (for the report above, when
 *    ARCVMM_SECCOMP_BACKTRACE=1 asks for it).
 */
#include "util/seccomp.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "util/log.h"
#include "util/seccomp_lists.h"

#define NAME_TABLE 512

static enum seccomp_mode mode = SECCOMP_OFF;
static const char *violate_kind;	/* ARCVMM_TEST_SECCOMP_VIOLATE, read once */
static char *syscall_names[NAME_TABLE]; /* resolved once, for the signal handler */
static unsigned long vcpu_ioctls[32];
static unsigned nr_vcpu_ioctls;
static bool net_has_slirp;
static bool has_where;	  /* ARCVMM_SECCOMP_BACKTRACE=1: dladdr + backtrace in the report */
static bool has_unwinder; /* backtrace() works without opening anything now */
static __thread char thread_name[16];
static __thread int thread_kind = -1;

static const char *const kind_names[SECCOMP_KIND_COUNT] = {
    [SECCOMP_KIND_CONTROL] = "control", [SECCOMP_KIND_VCPU] = "vcpu",
    [SECCOMP_KIND_BLK] = "blk",		[SECCOMP_KIND_NET] = "net",
    [SECCOMP_KIND_CONSOLE] = "console", [SECCOMP_KIND_RNG] = "rng",
    [SECCOMP_KIND_SLIRP] = "slirp",	[SECCOMP_KIND_WORKER] = "worker",
    [SECCOMP_KIND_FS] = "fs",
};

const char *seccomp_kind_name(enum seccomp_kind kind)
{
	return (unsigned)kind < SECCOMP_KIND_COUNT ? kind_names[kind] : "?";
}

int seccomp_parse_mode(const char *s, enum seccomp_mode *out)
{
	if (!strcmp(s, "off"))
		*out = SECCOMP_OFF;
	else if (!strcmp(s, "log"))
		*out = SECCOMP_LOG;
	else if (!strcmp(s, "on"))
		*out = SECCOMP_ON;
	else
		return -EINVAL;
	return 0;
}

/* Appends s to buf at *len (bounded). */
static void put(char *buf, size_t size, size_t *len, const char *s)
{
	while (*s && *len + 1 < size)
		buf[(*len)++] = *s++;
}

static void put_num(char *buf, size_t size, size_t *len, long v)
{
	char tmp[24];
	int n = 0;
	unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;

	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < 23);
	if (v < 0 && *len + 1 < size)
		buf[(*len)++] = '-';
	while (n > 0 && *len + 1 < size)
		buf[(*len)++] = tmp[--n];
}

static void put_hex(char *buf, size_t size, size_t *len, uintptr_t v)
{
	char tmp[2 * sizeof(v)];
	int n = 0;

	do
		tmp[n++] = "0123456789abcdef"[v & 15];
	while ((v >>= 4) && n < (int)sizeof(tmp));
	put(buf, size, len, "0x");
	while (n > 0 && *len + 1 < size)
		buf[(*len)++] = tmp[--n];
}

/* "  at 0x7f..." for the instruction after the syscall; with ARCVMM_SECCOMP_BACKTRACE=1
 * (a debugging aid) also ": libc.so.6 (open64+0x55)" and the call chain. Those are not
 * async-signal-safe (dladdr takes the loader's lock; under ASan the unwinder itself made
 * calls outside the lists, and a second violation inside this handler ends the process
 * by SIGSYS instead of SECCOMP_EXIT_STATUS), hence opt-in. */
static void sigsys_where(void *uc)
{
#if defined(__x86_64__)
	char line[300];
	size_t len = 0;
	uintptr_t ip = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
	Dl_info di;

	put(line, sizeof(line), &len, "arcvmm: seccomp:   at ");
	put_hex(line, sizeof(line), &len, ip);
	if (has_where && dladdr((void *)ip, &di) && di.dli_fname) {
		const char *base = strrchr(di.dli_fname, '/');
		put(line, sizeof(line), &len, ": ");
		put(line, sizeof(line), &len, base ? base + 1 : di.dli_fname);
		if (di.dli_sname) {
			put(line, sizeof(line), &len, " (");
			put(line, sizeof(line), &len, di.dli_sname);
			put(line, sizeof(line), &len, "+");
			put_hex(line, sizeof(line), &len, ip - (uintptr_t)di.dli_saddr);
			put(line, sizeof(line), &len, ")");
		}
	}
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
	if (has_unwinder) {
		void *frames[24];
		int n = backtrace(frames, 24);
		backtrace_symbols_fd(frames, n, STDERR_FILENO);
	}
#else
	(void)uc;
#endif
}

static void sigsys_handler(int sig, siginfo_t *si, void *uc)
{
	char line[200];
	size_t len = 0;
	int nr = si->si_syscall;

	(void)sig;
	put(line, sizeof(line), &len, "arcvmm: seccomp: thread ");
	put(line, sizeof(line), &len, thread_name[0] ? thread_name : "?");
	put(line, sizeof(line), &len, " (");
	put(line, sizeof(line), &len,
	    thread_kind >= 0 ? seccomp_kind_name((enum seccomp_kind)thread_kind) : "?");
	put(line, sizeof(line), &len, ") made forbidden syscall ");
	put_num(line, sizeof(line), &len, nr);
	if (nr >= 0 && nr < NAME_TABLE && syscall_names[nr]) {
		put(line, sizeof(line), &len, " (");
		put(line, sizeof(line), &len, syscall_names[nr]);
		put(line, sizeof(line), &len, ")");
	}
	put(line, sizeof(line), &len, "; killing the VM\n");
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
	sigsys_where(uc);
	syscall(SYS_exit_group, SECCOMP_EXIT_STATUS);
}

/* Runs on a thread of its own, so it has an arena of its own (not the main one, which
 * shrinks through brk without the check): blocks below any mmap threshold, 16 MB in all
 * so the heap's top passes the trim threshold even after glibc raised it (it doubles the
 * largest mmap()ed block freed so far), freed from the top down. */
static void *prepare_heap_shrink(void *arg)
{
	enum { NR_BLOCKS = 256, BLOCK = 64000 };
	void **p = calloc(NR_BLOCKS, sizeof(*p));

	(void)arg;
	if (!p)
		return NULL;
	for (int i = 0; i < NR_BLOCKS; i++)
		p[i] = malloc(BLOCK);
	for (int i = NR_BLOCKS - 1; i >= 0; i--)
		free(p[i]);
	free(p);
	return NULL;
}

static void prepare_libc_once(void)
{
	pthread_t t;
	void *frames[4];

	if (pthread_create(&t, NULL, prepare_heap_shrink, NULL) == 0)
		pthread_join(t, NULL);
	tzset();
	const char *bt = getenv("ARCVMM_SECCOMP_BACKTRACE");
	has_where = bt && *bt == '1';
	if (has_where)
		has_unwinder = backtrace(frames, 4) > 0;
}

/* Once per process, before the first filter (see the header comment). */
static void prepare_libc(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, prepare_libc_once);
}

void seccomp_set_mode(enum seccomp_mode m)
{
	mode = m;
	if (m == SECCOMP_OFF)
		return;
	violate_kind = getenv("ARCVMM_TEST_SECCOMP_VIOLATE");
	prepare_libc();
	for (int i = 0; i < NAME_TABLE; i++) {
		if (!syscall_names[i])
			syscall_names[i] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, i);
	}
	if (m == SECCOMP_ON) {
		struct sigaction sa = {.sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSYS, &sa, NULL);
	}
}

enum seccomp_mode seccomp_get_mode(void)
{
	return mode;
}

void seccomp_allow_vcpu_ioctls(const unsigned long *reqs, unsigned n)
{
	for (unsigned i = 0; i < n && nr_vcpu_ioctls < sizeof(vcpu_ioctls) / sizeof(vcpu_ioctls[0]);
	     i++)
		vcpu_ioctls[nr_vcpu_ioctls++] = reqs[i];
}

void seccomp_net_uses_slirp(void)
{
	net_has_slirp = true;
}

enum seccomp_kind seccomp_kind_for_worker(const char *name)
{
	if (!strncmp(name, "blk", 3))
		return SECCOMP_KIND_BLK;
	if (!strncmp(name, "net-rx", 6) || !strncmp(name, "net-tx", 6))
		return SECCOMP_KIND_NET;
	if (!strcmp(name, "vconsole"))
		return SECCOMP_KIND_CONSOLE;
	if (!strcmp(name, "virtio-rng"))
		return SECCOMP_KIND_RNG;
	if (!strncmp(name, "fs-", 3))
		return SECCOMP_KIND_FS;
	return SECCOMP_KIND_WORKER;
}

/* Adds the rules of kind to ctx (ctx may be NULL: then only counts). Returns the number
 * of rules, or -errno. */
static int add_rules(scmp_filter_ctx ctx, enum seccomp_kind kind)
{
	const char *const *const *parts = seccomp_list_parts(kind);
	const char *const *extra = kind == SECCOMP_KIND_NET && net_has_slirp
				       ? seccomp_list_parts(SECCOMP_KIND_SLIRP)[1]
				       : NULL;
	uint8_t seen[NAME_TABLE / 8] = {0};
	int n = 0, r;

	if (!parts)
		return -EINVAL;
	for (int p = 0; p <= SECCOMP_LIST_PARTS; p++) {
		const char *const *list = p < SECCOMP_LIST_PARTS ? parts[p] : extra;
		if (!list) {
			if (p < SECCOMP_LIST_PARTS)
				p = SECCOMP_LIST_PARTS - 1; /* on to the extra list */
			continue;
		}
		for (const char *const *s = list; *s; s++) {
			int nr = seccomp_syscall_resolve_name(*s);
			if (nr < 0 || nr >= NAME_TABLE || (seen[nr / 8] & (1u << (nr % 8))))
				continue; /* unknown here, or in two parts of the list */
			seen[nr / 8] |= (uint8_t)(1u << (nr % 8));
			if (ctx && (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
				return r;
			n++;
		}
	}
	switch (kind) {
	case SECCOMP_KIND_CONTROL:
	case SECCOMP_KIND_SLIRP:
		/* Terminals (TCGETS/TCSETS), FIONBIO/FIONREAD, KVM teardown. */
		if (ctx && (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 0)) < 0)
			return r;
		n++;
		break;
	case SECCOMP_KIND_VCPU: {
		/* The KVM requests hv/ registered, and the TAP offload calls at FEATURES_OK. */
		unsigned long tun[] = {TUNSETOFFLOAD, TUNSETVNETHDRSZ};
		for (unsigned i = 0; i < nr_vcpu_ioctls + 2; i++) {
			unsigned long req =
			    i < nr_vcpu_ioctls ? vcpu_ioctls[i] : tun[i - nr_vcpu_ioctls];
			if (ctx && (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
							 SCMP_A1(SCMP_CMP_EQ, req))) < 0)
				return r;
			n++;
		}
		break;
	}
	default:
		break;
	}
	return n;
}

unsigned seccomp_rule_count(enum seccomp_kind kind)
{
	int n = add_rules(NULL, kind);
	return n < 0 ? 0 : (unsigned)n;
}

int seccomp_apply(enum seccomp_kind kind)
{
	scmp_filter_ctx ctx;
	int r;

	if (mode == SECCOMP_OFF)
		return 0;
	ctx = seccomp_init(mode == SECCOMP_ON ? SCMP_ACT_TRAP : SCMP_ACT_LOG);
	if (!ctx)
		return -ENOMEM;
	/* A binary tree over the syscall numbers instead of a linear list: the datapath's
	 * calls (readv, writev, io_uring_enter, ...) cost log(n) compares, not n. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	r = add_rules(ctx, kind);
	if (r >= 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		log_error("seccomp: cannot install the %s filter: %s", seccomp_kind_name(kind),
			  strerror(-r));
		return r;
	}
	prctl(PR_GET_NAME, thread_name, 0, 0, 0);
	thread_kind = (int)kind;
	seccomp_test_hook(kind);
	return 0;
}

void seccomp_test_hook(enum seccomp_kind kind)
{
	if (violate_kind && !strcmp(violate_kind, seccomp_kind_name(kind)))
		syscall(SYS_getppid); /* in no list */
}

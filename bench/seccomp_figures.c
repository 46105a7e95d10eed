/* bench/seccomp_figures.c — prints the size of each thread kind's seccomp allow-list
 * (util/seccomp_lists.c as libseccomp resolves it on this machine: names this kernel's
 * headers do not know, and names in two parts of one list, count once or not at all).
 * `make seccomp-figures` builds and runs it; docs/security.md quotes its output.
 *
 * A rule is one allowed syscall, or one allowed ioctl request for the vCPUs (whose ioctl
 * is limited to the KVM requests hv/ makes plus the two TAP offload calls); the control
 * and slirp threads allow ioctl with any request (one rule), the workers none.
 *
 * Then what a filter costs per syscall: a thread times a read() of an empty non-blocking
 * eventfd (EAGAIN: the cheapest real syscall a worker makes) with no filter, then with the
 * vCPU filter and a worker kind's filter stacked on it, as a device worker runs. Best of
 * several rounds, so other load on the machine adds as little as possible.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "hv/hv.h"
#include "util/seccomp.h"

#define COST_CALLS  50000
#define COST_ROUNDS 31

struct cost_arg {
	int kind; /* -1: no filter */
	double ns;
};

/* One round of COST_CALLS reads; ns per call. */
static double time_reads(int fd)
{
	struct timespec a, b;
	uint64_t v;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < COST_CALLS; i++) {
		ssize_t n = read(fd, &v, sizeof(v));
		(void)n;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / COST_CALLS;
}

static void *cost_thread(void *p)
{
	struct cost_arg *c = p;
	int fd = eventfd(0, EFD_NONBLOCK);

	c->ns = -1;
	if (fd < 0)
		return NULL;
	if (c->kind >= 0 && (seccomp_apply(SECCOMP_KIND_VCPU) < 0 ||
			     (c->kind != SECCOMP_KIND_VCPU && seccomp_apply(c->kind) < 0))) {
		close(fd);
		return NULL;
	}
	c->ns = time_reads(fd);
	close(fd);
	return NULL;
}

/* One timed round in a fresh thread with kind's filters (-1: none). */
static double cost_round(int kind)
{
	struct cost_arg c = {.kind = kind};
	pthread_t th;

	if (pthread_create(&th, NULL, cost_thread, &c))
		return -1;
	pthread_join(th, NULL);
	return c.ns;
}

static const int cost_kinds[] = {SECCOMP_KIND_VCPU, SECCOMP_KIND_BLK, SECCOMP_KIND_NET,
				 SECCOMP_KIND_CONSOLE};

#define NR_COST (1 + sizeof(cost_kinds) / sizeof(cost_kinds[0]))

/* Rounds interleaved (none, vcpu, vcpu+blk, ... none, vcpu, ...) so a change in the
 * machine's load hits every column alike; the best round of each is printed. */
static void print_costs(void)
{
	double best[NR_COST];

	seccomp_set_mode(SECCOMP_ON);
	for (size_t i = 0; i < NR_COST; i++)
		best[i] = 1e18;
	for (int r = 0; r < COST_ROUNDS; r++) {
		for (size_t i = 0; i < NR_COST; i++) {
			double ns = cost_round(i ? cost_kinds[i - 1] : -1);
			if (ns >= 0 && ns < best[i])
				best[i] = ns;
		}
	}
	printf("\nsyscall cost (read of an empty eventfd, best of %d interleaved rounds of %d "
	       "calls):\n",
	       COST_ROUNDS, COST_CALLS);
	printf("%-22s %8.1f ns\n", "no filter", best[0]);
	for (size_t i = 1; i < NR_COST; i++) {
		int k = cost_kinds[i - 1];
		char name[64];
		snprintf(name, sizeof(name), "%s%s", k == SECCOMP_KIND_VCPU ? "" : "vcpu+",
			 seccomp_kind_name((enum seccomp_kind)k));
		printf("%-22s %8.1f ns  (%+.1f ns)\n", name, best[i], best[i] - best[0]);
	}
}

int main(void)
{
	const unsigned long *reqs;
	unsigned nr_reqs = hv_vcpu_thread_ioctls(&reqs);

	seccomp_allow_vcpu_ioctls(reqs, nr_reqs);
	printf("%-10s %6s %9s %13s\n", "kind", "rules", "syscalls", "ioctl rules");
	for (int k = 0; k < SECCOMP_KIND_COUNT; k++) {
		unsigned n = seccomp_rule_count((enum seccomp_kind)k), io = 0;
		const char *what = "";

		if (k == SECCOMP_KIND_VCPU) {
			io = nr_reqs + 2;
			what = " (KVM + TAP requests)";
		} else if (k == SECCOMP_KIND_CONTROL || k == SECCOMP_KIND_SLIRP) {
			io = 1;
			what = " (any request)";
		}
		printf("%-10s %6u %9u %13u%s\n", seccomp_kind_name((enum seccomp_kind)k), n, n - io,
		       io, what);
	}
	/* With --net user the net workers run libslirp and take its list too. */
	seccomp_net_uses_slirp();
	printf("%-10s %6u %9u %13u (the net workers with --net user)\n", "net+slirp",
	       seccomp_rule_count(SECCOMP_KIND_NET), seccomp_rule_count(SECCOMP_KIND_NET), 0u);
	printf("vcpu ioctl requests: %u KVM + 2 TAP\n", nr_reqs);
	print_costs();
	return 0;
}

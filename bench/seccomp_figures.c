/* bench/seccomp_figures.c — prints the size of each thread kind's seccomp allow-list
 * (util/seccomp_lists.c as libseccomp resolves it on this machine: names this kernel's
 * headers do not know, and names in two parts of one list, count once or not at all).
 * `make seccomp-figures` builds and runs it; docs/security.md quotes its output.
 *
 * A rule is one allowed syscall, or one allowed ioctl request for the vCPUs (whose ioctl
 * is limited to the KVM requests hv/ makes plus the two TAP offload calls); the control
 * and slirp threads allow ioctl with any request (one rule), the workers none.
 */
#include <stdio.h>

#include "hv/hv.h"
#include "util/seccomp.h"

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
	return 0;
}

/* core/jail.h — the optional jail for running arcvmm as root (--jail DIR).
 *
 * jail_enter() runs before the VM is created. It makes new mount and PID namespaces (and a
 * network namespace when no interface needs the host's network: every --net is none or
 * fd=N), bind-mounts into DIR only what the VM needs (the kernel, the initrd and the disk
 * images under /files, /dev/kvm, /dev/null, /dev/urandom, /dev/net/tun when a TAP is
 * used; /dev/kvm and /dev/net/tun as fresh nodes owned by the jail uid), forks (the child is PID 1 of the new namespace; the parent waits and exits with
 * its status, passing stop signals on), and in the child pivot_roots into DIR, closes every
 * inherited fd but 0-2 and the fd= ones, sets resource limits (no core dumps, 4096 fds),
 * and drops to uid/gid (no other groups) with no capabilities
 * and no_new_privs. The config's paths are rewritten to the paths inside the jail.
 * Returns 0 in the jailed child, or -errno with err set (nothing was changed for good).
 */
#ifndef ARCVMM_CORE_JAIL_H
#define ARCVMM_CORE_JAIL_H

#include <stddef.h>
#include <sys/types.h>

#include "core/config.h"

struct jail_config {
	const char *dir;
	uid_t uid;
	gid_t gid;
};

int jail_enter(struct vm_config *c, const struct jail_config *j, char *err, size_t errlen);

#endif

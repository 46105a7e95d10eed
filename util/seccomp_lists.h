/* util/seccomp_lists.h — the per-kind syscall name lists, for util/seccomp.c only. */
#ifndef ARCVMM_UTIL_SECCOMP_LISTS_H
#define ARCVMM_UTIL_SECCOMP_LISTS_H

#include "util/seccomp.h"

/* Up to 7 NULL-terminated name arrays (the array of arrays ends at the first NULL). */
#define SECCOMP_LIST_PARTS 7
const char *const *const *seccomp_list_parts(enum seccomp_kind kind);

#endif

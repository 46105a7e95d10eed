/* tests/guests/smp.h — constants shared by the SMP guest's C code and its trampoline. */
#ifndef GUESTS_SMP_H
#define GUESTS_SMP_H

#define SMP_TRAMP_ADDR 0x10000 /* page-aligned, below 1 MiB; SIPI vector 0x10 */
#define SMP_MAX_CPUS   64
#define SMP_AP_STACK   2048

#endif

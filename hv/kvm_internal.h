/* hv/kvm_internal.h — the KVM backend's private structures, shared by hv/kvm*.c only. */
#ifndef ARCVMM_HV_KVM_INTERNAL_H
#define ARCVMM_HV_KVM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

struct hv_vm {
	int kvm_fd;
	int vm_fd;
	int run_size;
	unsigned max_vcpus;
	unsigned nr_slots;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, fixed up per vCPU */
	bool has_tsc_deadline;	  /* KVM_CAP_TSC_DEADLINE_TIMER */
};

struct hv_vcpu {
	struct hv_vm *vm;
	int fd;
	unsigned index;
	struct kvm_run *run;
	pthread_t thread;
	bool has_thread;
};

#endif

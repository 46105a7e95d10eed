/* vm.h — placeholder, being written. */
#ifndef ARCVMM_VM_H
#define ARCVMM_VM_H
#endif

/* vm.c — being written. */
#include "vm.h"

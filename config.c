/* config.c — being written. */
#include "vm.h"

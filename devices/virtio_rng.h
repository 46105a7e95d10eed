/* devices/virtio_rng.h — virtio entropy device (device ID 4), backed by getrandom(2).
 *
 * vm.c: void *rng = virtio_rng_create();
 *       t = virtio_mmio_create(mem, base, gsi, &virtio_rng_ops, rng);
 * virtio_mmio_destroy(t) frees rng through ops->destroy.
 */
#ifndef ARCVMM_DEVICES_VIRTIO_RNG_H
#define ARCVMM_DEVICES_VIRTIO_RNG_H

#include "virtio/mmio.h"

extern const struct virtio_device_ops virtio_rng_ops;

/* Returns the device state, or NULL with errno set. */
void *virtio_rng_create(void);

#endif

/* devices/virtio_fs.h — virtio file-system device (device ID 26): one host directory shared
 * into the guest, served by the in-process FUSE server (fs/fuse_server.h).
 *
 * vm.c: struct virtio_fs *f = virtio_fs_create(&cfg, err, sizeof(err));
 *       t = virtio_mmio_create(mem, base, gsi, &virtio_fs_ops, f);
 * virtio_mmio_destroy(t) frees f through ops->destroy (closing every host fd of the share).
 * In the guest: mount -t virtiofs TAG /mnt.
 *
 * Queues: 0 is the high-priority queue (FORGET, BATCH_FORGET, INTERRUPT), 1 .. N the
 * request queues (N = cfg.nr_queues, 1 .. VIRTIO_FS_MAX_REQUEST_QUEUES). Each queue has its
 * own worker ("fs-hiprio", "fs-req0", ...), so requests on different queues run in
 * parallel; kicks arrive on the queue's ioeventfd, interrupts leave through the irqfd.
 * Config space: tag[36] (NUL-padded, not NUL-terminated when 36 bytes long) and
 * num_request_queues (le32). No feature bits beyond the ring's (no notification queue,
 * no DAX window).
 *
 * Lifecycle: pause/resume hold every worker (worker handshake). A device reset stops the
 * workers and drops every node and handle of the share (the guest must INIT again).
 * Snapshot: ops->save writes the tag, the queue count and the share's tables
 * (fuse_share_save: every node as a path relative to the share, every open handle);
 * ops->restore rebuilds them so the guest's nodeids and open files keep working, nodes
 * whose files are gone answer ESTALE (see fs/fuse_state.c). Another tag, queue count,
 * share directory or ro/xattr/cache option than the snapshot's: -ESTALE.
 *
 * Trust: the guest's chains are hostile (the FUSE server checks every request); the
 * configuration is the caller's.
 */
#ifndef ARCVMM_DEVICES_VIRTIO_FS_H
#define ARCVMM_DEVICES_VIRTIO_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/fuse_server.h"
#include "virtio/mmio.h"

#define VIRTIO_ID_FS		     26
#define VIRTIO_FS_TAG_MAX	     36
#define VIRTIO_FS_MAX_REQUEST_QUEUES (VIRTIO_MMIO_MAX_QUEUES - 1)
#define VIRTIO_FS_QUEUE_SIZE	     1024

/* Device config space (virtio 1.2, 5.11.4). */
struct virtio_fs_config_space {
	uint8_t tag[VIRTIO_FS_TAG_MAX];
	uint32_t num_request_queues;
} __attribute__((packed));

struct virtio_fs_config {
	const char *path;
	char tag[VIRTIO_FS_TAG_MAX + 1];
	bool is_read_only;
	bool has_xattr;
	enum fuse_cache_mode cache;
	unsigned nr_queues; /* request queues; 0 means 1 */
};

struct virtio_fs;

extern const struct virtio_device_ops virtio_fs_ops;

/* Opens the share. Returns NULL with errno set and err filled ("virtio-fs tag: ..."). */
struct virtio_fs *virtio_fs_create(const struct virtio_fs_config *cfg, char *err, size_t errlen);
/* The share behind the device (statistics, tests). */
struct fuse_share *virtio_fs_share(struct virtio_fs *f);
/* Requests served per queue (0 = hiprio, 1.. the request queues) into out[0 .. max): the
 * number of queues written. Read racily. */
unsigned virtio_fs_queue_requests(struct virtio_fs *f, uint64_t *out, unsigned max);

#endif

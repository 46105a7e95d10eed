/* vm_metrics.c — the VM's counters as one JSON document, and its devices for run-time
 * changes: arcvmm_metrics_json(), the API's
 * metrics file lines and `GET /metrics`-style consumers read this.
 *
 * Every counter is read without stopping anything: vCPU exit counts are relaxed atomics
 * written by their own thread, device counters come from each device's get_stats(),
 * which takes the device's own lock (never a transport lock, never waits on the guest).
 * The document is a snapshot, not a consistent cut across devices.
 */
#include "core/vm_internal.h"

#include "core/reclaim.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_fs.h"
#include "devices/virtio_net.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void add_u64(cJSON *o, const char *name, uint64_t v)
{
	/* JSON numbers are doubles: exact up to 2^53, far beyond any counter here. */
	cJSON_AddNumberToObject(o, name, (double)v);
}

static cJSON *vcpu_metrics(struct vm *vm)
{
	cJSON *arr = cJSON_CreateArray();

	for (unsigned i = 0; arr && i < vm->ncpus; i++) {
		struct vm_vcpu *v = &vm->vcpus[i];
		uint64_t a = __atomic_load_n(&v->nr_exits_io, __ATOMIC_RELAXED);
		uint64_t b = __atomic_load_n(&v->nr_exits_mmio, __ATOMIC_RELAXED);
		uint64_t c = __atomic_load_n(&v->nr_exits_intr, __ATOMIC_RELAXED);
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		add_u64(o, "exits_io", a);
		add_u64(o, "exits_mmio", b);
		add_u64(o, "exits_intr", c);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *blk_metrics(struct vm *vm)
{
	cJSON *arr = cJSON_CreateArray();

	for (unsigned i = 0; arr && i < vm->nr_blks; i++) {
		struct virtio_blk_stats st;
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		virtio_blk_get_stats(vm->blks[i], &st);
		char name[16];
		snprintf(name, sizeof(name), "vd%c", 'a' + (int)(i % 26));
		cJSON_AddStringToObject(o, "name", name);
		if (vm->blk_ids[i])
			cJSON_AddStringToObject(o, "drive_id", vm->blk_ids[i]);
		add_u64(o, "requests", st.nr_requests);
		add_u64(o, "reads", st.nr_reads);
		add_u64(o, "writes", st.nr_writes);
		add_u64(o, "flushes", st.nr_flushes);
		add_u64(o, "discards", st.nr_discards);
		add_u64(o, "read_bytes", st.read_bytes);
		add_u64(o, "write_bytes", st.write_bytes);
		add_u64(o, "errors", st.nr_errors);
		add_u64(o, "bad_chains", st.nr_bad_chains);
		add_u64(o, "throttled", virtio_blk_nr_throttled(vm->blks[i]));
		cJSON_AddBoolToObject(o, "io_uring", st.has_uring);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *net_metrics(struct vm *vm)
{
	cJSON *arr = cJSON_CreateArray();

	for (unsigned i = 0; arr && i < vm->nr_nets; i++) {
		struct virtio_net_stats st;
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		virtio_net_get_stats(vm->nets[i], &st);
		char name[16];
		snprintf(name, sizeof(name), "eth%u", i);
		cJSON_AddStringToObject(o, "name", name);
		add_u64(o, "rx_frames", st.rx_frames);
		add_u64(o, "rx_bytes", st.rx_bytes);
		add_u64(o, "rx_oversize", st.rx_oversize);
		add_u64(o, "rx_starved", st.rx_starved);
		add_u64(o, "rx_irqs", st.rx_irqs);
		add_u64(o, "tx_frames", st.tx_frames);
		add_u64(o, "tx_bytes", st.tx_bytes);
		add_u64(o, "tx_bad", st.tx_bad);
		add_u64(o, "tx_rejected", st.tx_rejected);
		add_u64(o, "tx_blocked", st.tx_blocked);
		add_u64(o, "tx_irqs", st.tx_irqs);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* Per share: the tables' sizes, requests, and requests served per queue (0 is hiprio). */
static cJSON *fs_metrics(struct vm *vm)
{
	cJSON *arr = cJSON_CreateArray();

	for (unsigned i = 0; arr && i < vm->nr_fses; i++) {
		struct fuse_share_stats st;
		uint64_t q[VIRTIO_MMIO_MAX_QUEUES];
		cJSON *o = cJSON_CreateObject(), *qa;
		if (!o)
			break;
		fuse_share_get_stats(virtio_fs_share(vm->fses[i]), &st);
		cJSON_AddStringToObject(o, "tag", vm->fs_tags[i]);
		add_u64(o, "nodes", st.nr_nodes);
		add_u64(o, "handles", st.nr_handles);
		add_u64(o, "requests", st.nr_requests);
		add_u64(o, "bad_requests", st.nr_errors);
		add_u64(o, "restored_dead_nodes", st.nr_dead_nodes);
		add_u64(o, "restored_dead_handles", st.nr_dead_handles);
		unsigned n = virtio_fs_queue_requests(vm->fses[i], q, VIRTIO_MMIO_MAX_QUEUES);
		if ((qa = cJSON_AddArrayToObject(o, "queue_requests")))
			for (unsigned k = 0; k < n; k++)
				cJSON_AddItemToArray(qa, cJSON_CreateNumber((double)q[k]));
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *balloon_metrics(struct vm *vm)
{
	struct virtio_balloon_stats st;
	cJSON *o;
	int r = virtio_balloon_get_stats(vm->balloon, &st);

	if (r && r != -ENOTSUP)
		return NULL;
	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (r == 0) {
		add_u64(o, "target_mib", st.target_mib);
		add_u64(o, "actual_mib", st.actual_mib);
		add_u64(o, "inflated_pages", st.nr_inflated_pages);
		add_u64(o, "deflated_pages", st.nr_deflated_pages);
		add_u64(o, "reported_bytes", st.nr_reported_bytes);
		add_u64(o, "punched_bytes", st.nr_punched_bytes);
		add_u64(o, "bad_pfns", st.nr_bad_pfns);
		add_u64(o, "bad_chains", st.nr_bad_chains);
		add_u64(o, "punch_errors", st.nr_punch_errors);
	}
	if (vm->reclaim) {
		/* The policy's decisions (core/reclaim.c). */
		struct reclaim_counters rc;
		reclaim_get_counters(vm->reclaim, &rc);
		cJSON *ro = cJSON_AddObjectToObject(o, "reclaim");
		if (ro) {
			cJSON_AddStringToObject(ro, "mode", reclaim_mode_name(rc.mode));
			add_u64(ro, "floor_mib", rc.floor_mib);
			add_u64(ro, "step_mib", rc.step_mib);
			add_u64(ro, "interval_ms", rc.interval_ms);
			add_u64(ro, "inflate_steps", rc.nr_inflate_steps);
			add_u64(ro, "deflate_steps", rc.nr_deflate_steps);
			add_u64(ro, "skipped_floor", rc.nr_skipped_floor);
			add_u64(ro, "skipped_rate", rc.nr_skipped_rate);
			add_u64(ro, "skipped_guest", rc.nr_skipped_guest);
			add_u64(ro, "ticks", rc.nr_ticks);
			add_u64(ro, "psi_errors", rc.nr_psi_errors);
			if (rc.has_psi)
				cJSON_AddNumberToObject(ro, "last_psi_some_avg10", rc.last_psi);
			add_u64(ro, "last_target_mib", rc.target_mib);
			cJSON_AddStringToObject(ro, "last_decision",
						reclaim_reason_name(rc.last_reason));
		}
	}
	return o;
}

char *vm_metrics_json(struct vm *vm)
{
	struct timespec ts;
	cJSON *root = cJSON_CreateObject();
	char *s;

	if (!root)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	add_u64(root, "utc_timestamp_ms",
		(uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	static const char *const state_names[] = {"Not started", "Running", "Paused", "Stopped"};
	cJSON_AddStringToObject(root, "state", state_names[vm_state(vm)]);
	cJSON *vmo = cJSON_AddObjectToObject(root, "vm");
	if (vmo) {
		add_u64(vmo, "pauses", __atomic_load_n(&vm->nr_pauses, __ATOMIC_RELAXED));
		add_u64(vmo, "resumes", __atomic_load_n(&vm->nr_resumes, __ATOMIC_RELAXED));
		add_u64(vmo, "vcpus", vm->ncpus);
		add_u64(vmo, "mem_mib", vm->mem.ram_size >> 20);
	}
	cJSON_AddItemToObject(root, "vcpu", vcpu_metrics(vm));
	cJSON_AddItemToObject(root, "block", blk_metrics(vm));
	cJSON_AddItemToObject(root, "net", net_metrics(vm));
	if (vm->nr_fses)
		cJSON_AddItemToObject(root, "fs", fs_metrics(vm));
	cJSON *con = cJSON_AddObjectToObject(root, "console");
	if (con) {
		/* Output bytes lost to a stuck or gone reader (never to a slow one). */
		add_u64(con, "serial_dropped_bytes", serial_get_dropped(vm->serial));
		if (vm->vconsole)
			add_u64(con, "virtio_dropped_bytes",
				virtio_console_get_dropped(vm->vconsole));
	}
	if (vm->balloon) {
		cJSON *b = balloon_metrics(vm);
		if (b)
			cJSON_AddItemToObject(root, "balloon", b);
	}
	s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return s;
}

struct virtio_blk *vm_disk_by_id(struct vm *vm, const char *drive_id)
{
	for (unsigned i = 0; drive_id && i < vm->nr_blks; i++)
		if (vm->blk_ids[i] && !strcmp(vm->blk_ids[i], drive_id))
			return vm->blks[i];
	return NULL;
}

struct virtio_net *vm_net(struct vm *vm, unsigned index)
{
	return index < vm->nr_nets ? vm->nets[index] : NULL;
}

unsigned vm_nr_disks(struct vm *vm)
{
	return vm->nr_blks;
}

unsigned vm_nr_nets(struct vm *vm)
{
	return vm->nr_nets;
}

struct virtio_balloon *vm_balloon(struct vm *vm)
{
	return vm->balloon;
}

/* vm_devices.c — which devices a VM gets and where: virtio-mmio slots (4 KiB each from
 * X86_VIRTIO_MMIO_BASE, GSIs from x86_virtio_gsi()) in a visible order, how the guest
 * learns about them (ACPI DSDT, or virtio_mmio.device= fragments), and their wiring to the
 * hypervisor (irqfds, ioeventfds). Trusts the config (parsed) and the devices' own checks.
 */
#include "core/vm_internal.h"

#include "arch/x86/acpi.h"
#include "arch/x86/setup.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_fs.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "devices/virtio_vsock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMDLINE_BUF 8192

/* With ACPI the guest finds virtio-mmio devices in the DSDT; a kernel that also had them
 * on its command line would probe each twice. Without ACPI (or with acpi=off), the
 * devices are announced as virtio_mmio.device= fragments, put first: anything after a
 * "--" in the user's command line belongs to init, not the kernel. */
int vm_devices_cmdline(struct vm *vm, const struct vm_config *cfg)
{
	const char *base = cfg->cmdline ? cfg->cmdline : CONFIG_DEFAULT_CMDLINE;
	size_t len = 0, cap = CMDLINE_BUF + strlen(base);
	bool needs_fragments = !cfg->has_acpi || strstr(base, "acpi=off");

	vm->cmdline = malloc(cap);
	if (!vm->cmdline)
		return -ENOMEM;
	for (unsigned i = 0; needs_fragments && i < vm->nr_virtio; i++) {
		int n = virtio_mmio_cmdline(vm->virtio[i], vm->cmdline + len, cap - len - 1);
		if (n < 0)
			return n;
		len += (size_t)n;
		vm->cmdline[len++] = ' ';
	}
	strcpy(vm->cmdline + len, base);
	return 0;
}

/* Places a virtio device in the next MMIO slot. Takes ownership of dev (freed through its
 * ops->destroy, also on failure). */
static int vm_devices_add(struct vm *vm, const struct virtio_device_ops *ops, void *dev, char *err,
			  size_t errlen)
{
	unsigned slot = vm->nr_virtio;

	if (slot == X86_VIRTIO_MMIO_SLOTS) {
		if (ops->destroy)
			ops->destroy(dev);
		snprintf(err, errlen, "too many devices (at most %d virtio devices)",
			 X86_VIRTIO_MMIO_SLOTS);
		return -ENOSPC;
	}
	struct virtio_mmio *t =
	    virtio_mmio_create(&vm->mem, X86_VIRTIO_MMIO_BASE + slot * X86_VIRTIO_MMIO_SIZE,
			       x86_virtio_gsi(slot), ops, dev);
	if (!t) {
		int r = -errno;
		if (ops->destroy)
			ops->destroy(dev);
		snprintf(err, errlen, "%s: cannot create the device: %s", ops->name, strerror(-r));
		return r;
	}
	vm->virtio[vm->nr_virtio++] = t;
	return 0;
}

int vm_devices_create(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
	char derr[768];
	int r;

	/* Disks first, in the order given: the guest names them vda, vdb, ... in probe order,
	 * which follows the cmdline fragments. */
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		struct virtio_blk *b =
		    virtio_blk_create(&vm->mem, &cfg->disks[i], derr, sizeof(derr));
		if (!b) {
			snprintf(err, errlen, "%s", derr);
			return errno ? -errno : -EINVAL;
		}
		r = vm_devices_add(vm, &virtio_blk_ops, b, err, errlen);
		if (r)
			return r;
		vm->blk_ids[vm->nr_blks] = cfg->disks[i].id ? strdup(cfg->disks[i].id) : NULL;
		vm->blks[vm->nr_blks++] = b;
	}
	unsigned nr_nets = cfg->nr_nets;
	const struct vm_net_config *nets = cfg->nets;
#ifdef HAVE_SLIRP
	static const struct vm_net_config default_net = {.kind = VM_NET_USER, .fd = -1};
	if (nr_nets == 0) {
		nets = &default_net;
		nr_nets = 1;
	}
#endif
	for (unsigned i = 0; i < nr_nets; i++) {
		if (nets[i].kind == VM_NET_NONE)
			continue;
		struct virtio_net *n = virtio_net_create(&vm->mem, &nets[i], err, errlen);
		if (!n)
			return errno ? -errno : -EINVAL;
		r = vm_devices_add(vm, &virtio_net_ops, n, err, errlen);
		if (r)
			return r;
		vm->nets[vm->nr_nets++] = n;
	}
	if (cfg->console == VM_CONSOLE_VIRTIO) {
		struct virtio_console *c = virtio_console_create(
		    &vm->mem, vm->con_in_fd, vm->con_out_fd, derr, sizeof(derr));
		if (!c) {
			snprintf(err, errlen, "virtio-console: %s", derr);
			return errno ? -errno : -EINVAL;
		}
		r = vm_devices_add(vm, &virtio_console_ops, c, err, errlen);
		if (r)
			return r;
		vm->vconsole = c;
	}
	if (cfg->has_rng) {
		void *rng = virtio_rng_create();
		if (!rng) {
			snprintf(err, errlen, "virtio-rng: %s", strerror(errno));
			return -errno;
		}
		r = vm_devices_add(vm, &virtio_rng_ops, rng, err, errlen);
		if (r)
			return r;
	}
	if (cfg->balloon) {
		struct virtio_balloon_config bc;
		if ((r = virtio_balloon_parse_spec(&bc, cfg->balloon, err, errlen)))
			return r;
		reclaim_adjust_balloon(cfg->reclaim.mode, &bc); /* --memory-reclaim */
		struct virtio_balloon *b = virtio_balloon_create(&vm->mem, &bc, err, errlen);
		if (!b)
			return -errno;
		r = vm_devices_add(vm, &virtio_balloon_ops, b, err, errlen);
		if (r)
			return r;
		vm->balloon = b; /* for the control plane: virtio_balloon_set_target() etc. */
	}
	if (cfg->vsock_uds) {
		struct virtio_vsock_config vc = {.guest_cid = cfg->vsock_cid};
		snprintf(vc.uds_path, sizeof(vc.uds_path), "%s", cfg->vsock_uds);
		struct virtio_vsock *v = virtio_vsock_create(&vc, err, errlen);
		if (!v)
			return errno ? -errno : -EINVAL;
		r = vm_devices_add(vm, &virtio_vsock_ops, v, err, errlen);
		if (r)
			return r;
		vm->vsock = v; /* for arcvmm_vsock_connect() / _listen() */
	}
	for (unsigned i = 0; i < cfg->nr_fs; i++) {
		const struct vm_fs_config *fc = &cfg->fs[i];
		struct virtio_fs_config vc = {.path = fc->path,
					      .is_read_only = fc->is_read_only,
					      .has_xattr = fc->has_xattr,
					      .cache = (enum fuse_cache_mode)fc->cache,
					      .nr_queues = fc->queues};
		snprintf(vc.tag, sizeof(vc.tag), "%s", fc->tag);
		struct virtio_fs *f = virtio_fs_create(&vc, err, errlen);
		if (!f)
			return errno ? -errno : -EINVAL;
		r = vm_devices_add(vm, &virtio_fs_ops, f, err, errlen);
		if (r)
			return r;
		vm->fses[vm->nr_fses] = f;
		snprintf(vm->fs_tags[vm->nr_fses], sizeof(vm->fs_tags[0]), "%s", fc->tag);
		vm->nr_fses++;
	}
	return 0;
}

struct virtio_vsock *vm_vsock(struct vm *vm)
{
	return vm->vsock;
}

/* ACPI tables (after the kernel is loaded: they go in the reserved low area, and the RSDP
 * address goes into boot_params / start_info): the guest powers off through them and
 * finds virtio-mmio devices without cmdline fragments (distribution kernels). */
int vm_devices_acpi(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
	struct x86_acpi_virtio devs[X86_VIRTIO_MMIO_SLOTS];
	uint64_t rsdp;
	int r;

	if (!cfg->has_acpi)
		return 0;
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		devs[i] = (struct x86_acpi_virtio){.base = virtio_mmio_base(vm->virtio[i]),
						   .size = X86_VIRTIO_MMIO_SIZE,
						   .gsi = virtio_mmio_gsi(vm->virtio[i])};
	r = x86_acpi_write(&vm->mem, vm->ncpus, devs, vm->nr_virtio, &rsdp);
	if (r == 0)
		r = x86_boot_set_rsdp(&vm->mem, vm->entry.mode == BOOT_ENTRY_PVH32,
				      vm->entry.info_gpa, rsdp);
	if (r)
		snprintf(err, errlen, "cannot write the ACPI tables: %s", strerror(-r));
	return r;
}

/* Queue kicks become ioeventfds and interrupts irqfds, so neither passes through a vCPU
 * thread in user space. */
int vm_devices_wire(struct vm *vm, char *err, size_t errlen)
{
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		struct virtio_mmio *t = vm->virtio[i];
		int r = hv_vm_irqfd(vm->hv, virtio_mmio_gsi(t), virtio_mmio_irqfd(t), true);
		if (r) {
			snprintf(err, errlen, "KVM_IRQFD: %s", strerror(-r));
			return r;
		}
		for (unsigned q = 0; q < virtio_mmio_nr_queues(t); q++) {
			r = hv_vm_ioeventfd(vm->hv, virtio_mmio_base(t) + VIRTIO_MMIO_QUEUE_NOTIFY,
					    4, q, virtio_mmio_notify_fd(t, q), false, true);
			if (r) {
				snprintf(err, errlen, "KVM_IOEVENTFD: %s", strerror(-r));
				return r;
			}
		}
	}
	return 0;
}

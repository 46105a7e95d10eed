/* vm.c — creation, running and teardown of one VM. See vm.h.
 *
 * Threads: the control thread (vm_control.c) starts one thread per vCPU, which runs KVM_RUN
 * and handles port/MMIO exits by calling the devices' register handlers, and parks outside
 * the guest while the VM is paused. The first thing that ends the VM (guest reset,
 * power-off, error, a stop) wins; everything else then stops.
 *
 * Trusts: the config (already parsed) and our own modules; every guest-controlled value
 * reaches this file only as a port/MMIO access, which goes to a device that checks it.
 */
#include "core/vm_internal.h"

#include "arch/x86/layout.h"
#include "boot/boot.h"
#include "core/reclaim.h"
#include "core/snapshot.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/serial.h"
#include "hv/hv.h"
#include "mem/guest_mem.h"
#include "util/log.h"
#include "util/seccomp.h"
#include "virtio/mmio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <time.h>
#include <unistd.h>

/* --- ending the VM --- */

void vm_end(struct vm *vm, enum vm_end end, int signo, const char *detail, const char *fmt, ...)
{
	va_list ap;
	uint64_t one = 1;

	pthread_mutex_lock(&vm->end_lock);
	if (vm->info.end != VM_END_NONE) {
		pthread_mutex_unlock(&vm->end_lock);
		return;
	}
	vm->info.end = end;
	vm->info.signo = signo;
	va_start(ap, fmt);
	vsnprintf(vm->info.reason, sizeof(vm->info.reason), fmt, ap);
	va_end(ap);
	if (detail)
		snprintf(vm->info.detail, sizeof(vm->info.detail), "%s", detail);
	atomic_store(&vm->is_ending, true);
	pthread_mutex_unlock(&vm->end_lock);
	ssize_t w = write(vm->end_fd, &one, sizeof(one));
	(void)w;
	/* Parked vCPUs leave the park and stop. */
	pthread_mutex_lock(&vm->park_lock);
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->park_lock);
	/* Stop the other vCPUs now: a guest that asked to reset must not run on. */
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].hv)
			hv_vcpu_kick(vm->vcpus[i].hv);
}

/* A reset or triple fault ends the VM; if the console showed a kernel panic first (the
 * kernel reboots after a panic with panic=N), that is the reason. */
static void vm_end_reset(struct vm *vm, enum vm_end end, const char *how)
{
	char panic[200];

	if (serial_saw_panic(vm->serial, panic, sizeof(panic)))
		vm_end(vm, VM_END_PANIC, 0, NULL, "guest kernel panic: %s", panic);
	else
		vm_end(vm, end, 0, NULL, "%s", how);
}

static void i8042_reset_cb(void *ctx)
{
	vm_end_reset(ctx, VM_END_RESET, "guest reset (i8042)");
}

static void i8042_irq_cb(void *ctx, bool level)
{
	struct vm *vm = ctx;
	int r = hv_vm_irq_line(vm->hv, X86_I8042_KBD_IRQ, level);

	if (r)
		log_warn("i8042: cannot set IRQ %d: %s", X86_I8042_KBD_IRQ, strerror(-r));
}

static void acpi_poweroff_cb(void *ctx)
{
	vm_end(ctx, VM_END_POWEROFF, 0, NULL, "guest powered off (ACPI)");
}

static void acpi_reset_cb(void *ctx)
{
	vm_end_reset(ctx, VM_END_RESET, "guest reset (ACPI)");
}

/* The RTC's edge on IRQ 8, through its irqfd (the RTC worker makes no KVM call). */
static void rtc_irq_cb(void *ctx)
{
	struct vm *vm = ctx;
	uint64_t one = 1;

	if (vm->rtc_irq_fd >= 0 && write(vm->rtc_irq_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("rtc: irqfd write: %s", strerror(errno));
}

static void serial_irq_cb(void *ctx, bool level)
{
	struct vm *vm = ctx;
	int r = hv_vm_irq_line(vm->hv, X86_COM1_IRQ, level);

	if (r)
		log_warn("serial: cannot set IRQ %d: %s", X86_COM1_IRQ, strerror(-r));
}

/* --- exits --- */

static void handle_pio(struct vm *vm, uint16_t port, uint8_t *data, unsigned size, bool is_write)
{
	if (port >= X86_COM1_PORT && port < X86_COM1_PORT + 8) {
		serial_pio(vm->serial, port - X86_COM1_PORT, data, is_write);
		return;
	}
	switch (port) {
	case X86_I8042_DATA_PORT:
	case X86_I8042_CMD_PORT:
		pthread_mutex_lock(&vm->pio_lock);
		i8042_pio(&vm->i8042, port, data, is_write);
		pthread_mutex_unlock(&vm->pio_lock);
		return;
	case 0x70:
	case 0x71:
		pthread_mutex_lock(&vm->pio_lock);
		rtc_pio(&vm->rtc, port, data, is_write);
		pthread_mutex_unlock(&vm->pio_lock);
		return;
	default:
		if (acpi_pm_handles(port)) {
			pthread_mutex_lock(&vm->pio_lock);
			acpi_pm_pio(&vm->acpi_pm, port, data, size, is_write);
			pthread_mutex_unlock(&vm->pio_lock);
			return;
		}
		/* Nothing there: reads float high, writes vanish (POST codes on 0x80, the
		 * QEMU debug-exit port 0xf4, probes of absent legacy devices). */
		if (!is_write)
			memset(data, 0xff, size);
		return;
	}
}

static void handle_mmio(struct vm *vm, uint64_t addr, uint8_t *data, unsigned size, bool is_write)
{
	if (addr >= X86_VIRTIO_MMIO_BASE &&
	    addr - X86_VIRTIO_MMIO_BASE < (uint64_t)vm->nr_virtio * X86_VIRTIO_MMIO_SIZE) {
		struct virtio_mmio *t =
		    vm->virtio[(addr - X86_VIRTIO_MMIO_BASE) / X86_VIRTIO_MMIO_SIZE];
		virtio_mmio_access(t, addr - virtio_mmio_base(t), data, size, is_write);
		return;
	}
	if (!is_write)
		memset(data, 0xff, size);
	log_debug("guest %s of %u bytes at unbacked 0x%llx ignored", is_write ? "write" : "read",
		  size, (unsigned long long)addr);
}

/* Pause: the vCPU waits here, outside KVM_RUN, until resumed or the VM ends. */
static void vcpu_park(struct vm *vm)
{
	pthread_mutex_lock(&vm->park_lock);
	vm->nr_parked++;
	pthread_cond_broadcast(&vm->park_cond);
	while (atomic_load(&vm->is_pausing) && !atomic_load(&vm->is_ending))
		pthread_cond_wait(&vm->park_cond, &vm->park_lock);
	vm->nr_parked--;
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->park_lock);
}

void *vm_vcpu_thread(void *arg)
{
	struct vm_vcpu *v = arg;
	struct vm *vm = v->vm;
	struct hv_exit ex;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, HV_SIG_KICK);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (seccomp_apply(SECCOMP_KIND_VCPU) < 0) {
		vm_end(vm, VM_END_ERROR, 0, NULL, "vcpu%u: cannot install its seccomp filter",
		       v->index);
		return NULL;
	}

	bool has_run = false, has_io = false;
	while (!atomic_load(&vm->is_ending)) {
		if (atomic_load(&vm->is_pausing)) {
			/* Parked state must be whole: an exit handled here is completed in KVM
			 * first (else a snapshot would replay the OUT, or lose the IN). */
			if (has_io) {
				int cr = hv_vcpu_complete_io(v->hv);
				if (cr)
					log_warn("vcpu%u: cannot complete the I/O exit: %s",
						 v->index, strerror(-cr));
				has_io = false;
			}
			vcpu_park(vm);
			continue;
		}
		if (!has_run && v->index == 0 && vm->restore_t0_ns) {
			/* bench/snapshot reads this line: the restore's cost up to the guest. */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
			log_info("restore: first KVM_RUN %.3f ms after the restore began",
				 (double)(now - vm->restore_t0_ns) / 1e6);
		}
		has_run = true;
		has_io = false;
		int r = hv_vcpu_run(v->hv, &ex);
		if (r) {
			vm_end(vm, VM_END_ERROR, 0, NULL, "vcpu%u: KVM_RUN failed: %s", v->index,
			       strerror(-r));
			break;
		}
		switch (ex.kind) {
		case HV_EXIT_IO:
			has_io = true;
			__atomic_store_n(&v->nr_exits_io, v->nr_exits_io + 1, __ATOMIC_RELAXED);
			for (uint32_t i = 0; i < ex.count; i++)
				handle_pio(vm, ex.port, ex.data + (size_t)i * ex.size, ex.size,
					   ex.is_write);
			break;
		case HV_EXIT_MMIO:
			has_io = true;
			__atomic_store_n(&v->nr_exits_mmio, v->nr_exits_mmio + 1, __ATOMIC_RELAXED);
			handle_mmio(vm, ex.addr, ex.data, ex.size, ex.is_write);
			break;
		case HV_EXIT_INTR:
			/* Clear first, then look at the flags: a kick sent after the clear
			 * makes the next KVM_RUN return at once, so none is lost. */
			__atomic_store_n(&v->nr_exits_intr, v->nr_exits_intr + 1, __ATOMIC_RELAXED);
			if (!atomic_load(&vm->is_ending))
				hv_vcpu_clear_kick(v->hv);
			break;
		case HV_EXIT_HLT:
			/* Only without an in-kernel LAPIC, which we always have. */
			break;
		case HV_EXIT_SHUTDOWN:
			vm_end_reset(vm, VM_END_SHUTDOWN, "guest reset (triple fault)");
			break;
		case HV_EXIT_RESET:
			vm_end_reset(vm, VM_END_RESET, "guest reset (system event)");
			break;
		case HV_EXIT_POWEROFF:
			vm_end(vm, VM_END_POWEROFF, 0, NULL, "guest powered off");
			break;
		case HV_EXIT_FAIL_ENTRY:
		case HV_EXIT_INTERNAL:
		case HV_EXIT_OTHER: {
			char dump[2048];
			hv_vcpu_dump(v->hv, dump, sizeof(dump));
			if (ex.kind == HV_EXIT_FAIL_ENTRY)
				vm_end(vm, VM_END_ERROR, 0, dump,
				       "vcpu%u: KVM could not enter the guest (hardware reason "
				       "0x%llx)",
				       v->index, (unsigned long long)ex.hw_reason);
			else if (ex.kind == HV_EXIT_INTERNAL)
				vm_end(vm, VM_END_ERROR, 0, dump,
				       "vcpu%u: KVM internal error (suberror %u%s)", v->index,
				       ex.suberror, ex.suberror == 1 ? ": emulation failure" : "");
			else
				vm_end(vm, VM_END_ERROR, 0, dump, "vcpu%u: unexpected exit %llu",
				       v->index, (unsigned long long)ex.hw_reason);
			break;
		}
		}
	}
	return NULL;
}

/* --- creation --- */

/* The reclaim policy moves the balloon only while the guest runs. */
static bool reclaim_is_running(void *ctx)
{
	return vm_state(ctx) == VM_STATE_RUNNING;
}

int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t errlen)
{
	return vm_create_from(cfg, NULL, out, err, errlen);
}

int vm_create_from(const struct vm_config *cfg, struct vm_restore_src *rs, struct vm **out,
		   char *err, size_t errlen)
{
	struct vm *vm;
	int r;

	log_prepare(); /* before any of the VM's filtered threads can log */
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	vm->end_fd = -1;
	vm->stopped_fd = -1;
	vm->rtc_irq_fd = -1;
	vm->state_fd = -1;
	vm->con_null_fd = -1;
	vm->ncpus = cfg->ncpus;
	seccomp_set_mode(cfg->seccomp);
	const unsigned long *vcpu_ioctls;
	unsigned nr_vcpu_ioctls = hv_vcpu_thread_ioctls(&vcpu_ioctls);
	seccomp_allow_vcpu_ioctls(vcpu_ioctls, nr_vcpu_ioctls);
	vm->console = cfg->console;
	pthread_mutex_init(&vm->pio_lock, NULL);
	pthread_mutex_init(&vm->end_lock, NULL);
	pthread_mutex_init(&vm->op_lock, NULL);
	pthread_mutex_init(&vm->state_lock, NULL);
	/* Both condition variables time out on CLOCK_MONOTONIC deadlines. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->state_cond, &ca);
	pthread_mutex_init(&vm->park_lock, NULL);
	pthread_cond_init(&vm->park_cond, &ca);
	pthread_condattr_destroy(&ca);
	vm->state = VM_STATE_NOT_STARTED;
	vm->end_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->stopped_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->state_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->end_fd < 0 || vm->stopped_fd < 0 || vm->state_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(-r));
		goto fail;
	}

	vm->has_power_button = cfg->has_acpi;
	vm->con_in_fd = cfg->console_in_fd;
	vm->con_out_fd = cfg->console_out_fd;
	if (vm->con_in_fd < 0 || vm->con_out_fd < 0) {
		vm->con_null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (vm->con_null_fd < 0) {
			r = -errno;
			snprintf(err, errlen, "/dev/null: %s", strerror(-r));
			goto fail;
		}
		if (vm->con_in_fd < 0)
			vm->con_in_fd = vm->con_null_fd;
		if (vm->con_out_fd < 0)
			vm->con_out_fd = vm->con_null_fd;
	}

	vm->snap_config = snapshot_config_json(cfg);
	if (cfg->huge_pages && (cfg->mem_size & ((2ULL << 20) - 1))) {
		r = -EINVAL;
		snprintf(err, errlen,
			 "--huge-pages 2M: --memory %llu KiB is not a multiple of 2 MiB",
			 (unsigned long long)(cfg->mem_size >> 10));
		goto fail;
	}
	if (rs) {
		r = snapshot_restore_mem(vm, rs, err, errlen);
		if (r)
			goto fail;
	} else {
		r = guest_mem_init_flags(&vm->mem, cfg->mem_size, X86_MMIO_HOLE_START,
					 X86_MMIO_HOLE_END,
					 cfg->huge_pages ? GUEST_MEM_HUGETLB_2M : 0);
		if (r && cfg->huge_pages) {
			snprintf(
			    err, errlen,
			    "--huge-pages 2M: cannot reserve %llu huge pages of 2 MiB for guest "
			    "RAM: %s (see HugePages_Free in /proc/meminfo; raise "
			    "/proc/sys/vm/nr_hugepages)",
			    (unsigned long long)(cfg->mem_size >> 21), strerror(-r));
			goto fail;
		}
		if (r) {
			snprintf(err, errlen, "--memory %llu MiB: cannot allocate guest RAM: %s",
				 (unsigned long long)(cfg->mem_size >> 20), strerror(-r));
			goto fail;
		}
	}
	vm->has_mem = true;

	vm->serial = serial_create(serial_irq_cb, vm);
	if (!vm->serial) {
		r = -errno;
		snprintf(err, errlen, "serial: %s", strerror(-r));
		goto fail;
	}
	i8042_init(&vm->i8042, i8042_reset_cb, vm);
	i8042_set_irq(&vm->i8042, i8042_irq_cb);
	acpi_pm_init(&vm->acpi_pm, acpi_poweroff_cb, acpi_reset_cb, vm);
	rtc_init(&vm->rtc, rtc_irq_cb, NULL, vm);
	vm->has_rtc = true;

	r = vm_devices_create(vm, cfg, err, errlen);
	if (r)
		goto fail;
	if (vm->balloon) {
		/* The policy thread idles until the VM runs (and while it is paused). */
		vm->reclaim =
		    reclaim_create(&cfg->reclaim, vm->balloon, (uint32_t)(vm->mem.ram_size >> 20),
				   reclaim_is_running, vm);
		if (!vm->reclaim) {
			r = -errno;
			snprintf(err, errlen, "memory-reclaim: %s", strerror(errno));
			goto fail;
		}
	}
	r = vm_devices_cmdline(vm, cfg);
	if (r) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}

	struct boot_params_in bp = {
	    .kernel_path = cfg->kernel,
	    .initrd_path = cfg->initrd,
	    .cmdline = vm->cmdline,
	    .protocol = cfg->protocol,
	    .ncpus = cfg->ncpus,
	};
	/* A restored guest's memory already holds its kernel and tables. */
	r = rs ? 0 : boot_load(&vm->mem, &bp, &vm->entry, err, errlen);
	if (r)
		goto fail;
	r = rs ? 0 : vm_devices_acpi(vm, cfg, err, errlen);
	if (r)
		goto fail;

	r = hv_vm_create(&vm->hv, err, errlen);
	if (r)
		goto fail;
	if (cfg->ncpus > hv_max_vcpus(vm->hv)) {
		snprintf(err, errlen, "--cpus %u: too many (KVM allows at most %u)", cfg->ncpus,
			 hv_max_vcpus(vm->hv));
		r = -EINVAL;
		goto fail;
	}
	r = hv_vm_map_ram(vm->hv, &vm->mem);
	if (r) {
		snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(-r));
		goto fail;
	}
	r = hv_vm_create_irqchip(vm->hv);
	if (r) {
		snprintf(err, errlen, "cannot create the in-kernel irqchip and PIT: %s",
			 strerror(-r));
		goto fail;
	}

	vm->rtc_irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r = vm->rtc_irq_fd < 0 ? -errno : hv_vm_irqfd(vm->hv, RTC_IRQ, vm->rtc_irq_fd, true);
	if (!r)
		r = rtc_start(&vm->rtc);
	if (r) {
		snprintf(err, errlen, "cannot start the RTC: %s", strerror(-r));
		goto fail;
	}

	r = vm_devices_wire(vm, err, errlen);
	if (r)
		goto fail;

	vm->vcpus = calloc(cfg->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < cfg->ncpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].index = i;
		r = hv_vcpu_create(vm->hv, i, cfg->ncpus, &vm->vcpus[i].hv);
		if (r) {
			snprintf(err, errlen, "cannot create vcpu%u: %s", i, strerror(-r));
			goto fail;
		}
	}
	if (rs) {
		r = snapshot_restore_state(vm, rs, err, errlen);
		if (r)
			goto fail;
		*out = vm;
		return 0;
	}
	r = hv_vcpu_set_boot_state(vm->vcpus[0].hv, &vm->entry);
	if (r) {
		snprintf(err, errlen, "cannot set the boot CPU state: %s", strerror(-r));
		goto fail;
	}
	log_info("%s kernel %s, entry 0x%llx, %u vCPU(s), %llu MiB", vm->entry.format, cfg->kernel,
		 (unsigned long long)vm->entry.entry, cfg->ncpus,
		 (unsigned long long)(cfg->mem_size >> 20));
	*out = vm;
	return 0;

fail:
	vm_destroy(vm);
	return r;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	reclaim_destroy(vm->reclaim); /* it uses the balloon: before the devices go */
	vm->reclaim = NULL;
	if (vm->has_control_thread) {
		/* The control thread joins the vCPUs on its way out. */
		vm_end(vm, VM_END_STOP, 0, NULL, "stopped (VM destroyed)");
		pthread_join(vm->control_thread, NULL);
		vm->has_control_thread = false;
	}
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->ncpus; i++)
			hv_vcpu_destroy(vm->vcpus[i].hv);
		free(vm->vcpus);
	}
	/* The VM (and with it every irqfd and ioeventfd) goes first, then the devices stop
	 * their workers, then guest memory goes. */
	hv_vm_destroy(vm->hv);
	if (vm->has_rtc)
		rtc_destroy(&vm->rtc);
	if (vm->rtc_irq_fd >= 0)
		close(vm->rtc_irq_fd);
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		virtio_mmio_destroy(vm->virtio[i]);
	for (unsigned i = 0; i < vm->nr_blks; i++)
		free(vm->blk_ids[i]);
	serial_destroy(vm->serial);
	if (vm->has_mem)
		guest_mem_fini(&vm->mem);
	if (vm->end_fd >= 0)
		close(vm->end_fd);
	if (vm->stopped_fd >= 0)
		close(vm->stopped_fd);
	if (vm->state_fd >= 0)
		close(vm->state_fd);
	if (vm->con_null_fd >= 0)
		close(vm->con_null_fd);
	free(vm->cmdline);
	free(vm->snap_config);
	pthread_mutex_destroy(&vm->pio_lock);
	pthread_mutex_destroy(&vm->end_lock);
	pthread_mutex_destroy(&vm->op_lock);
	pthread_mutex_destroy(&vm->state_lock);
	pthread_cond_destroy(&vm->state_cond);
	pthread_mutex_destroy(&vm->park_lock);
	pthread_cond_destroy(&vm->park_cond);
	free(vm);
}

void vm_destroy_detached(struct vm *vm)
{
	int p[2];

	if (!vm)
		return;
	if (vm->has_control_thread) {
		vm_end(vm, VM_END_STOP, 0, NULL, "stopped (VM destroyed)");
		pthread_join(vm->control_thread, NULL);
		vm->has_control_thread = false;
	}
	reclaim_destroy(vm->reclaim);
	vm->reclaim = NULL;
	/* Devices go first and normally: their files, sockets, TAPs and image locks must be
	 * released by the time arcvmm exits, not later. */
	for (unsigned i = 0; i < vm->nr_virtio; i++)
		virtio_mmio_destroy(vm->virtio[i]);
	vm->nr_virtio = 0;
	if (!vm->hv || pipe2(p, O_CLOEXEC) < 0) {
		vm_destroy(vm);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* The child: only async-signal-safe calls. It keeps the VM's file references
		 * until the parent is gone (the pipe's write end closes), then exits, and the
		 * kernel tears the VM down in this process. It lets go of the caller's stdio at
		 * once so nobody waits on it. */
		int null_fd = open("/dev/null", O_RDWR);
		if (null_fd >= 0) {
			dup2(null_fd, STDIN_FILENO);
			dup2(null_fd, STDOUT_FILENO);
			dup2(null_fd, STDERR_FILENO);
		}
		close(p[1]);
		char c;
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	/* p[1] stays open until this process exits. With a child holding references, the
	 * closes below are cheap; without one (fork failed), this is the normal path. */
	vm_destroy(vm);
}

int vm_exit_status(const struct vm_exit_info *info)
{
	switch (info->end) {
	case VM_END_POWEROFF:
	case VM_END_RESET:
	case VM_END_SHUTDOWN:
		return 0;
	case VM_END_USER:
		return 4; /* a script can tell the user's quit from the guest's power-off */
	case VM_END_PANIC:
		return 3;
	case VM_END_STOP:
		return info->signo ? 128 + info->signo : 0;
	case VM_END_NONE:
	case VM_END_ERROR:
	default:
		return 2;
	}
}

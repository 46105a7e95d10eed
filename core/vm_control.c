/* vm_control.c — a VM's life after vm_create(): the control thread (serial console I/O
 * and the end of the VM), start, pause/resume, graceful and hard stop, waiting, counters.
 * See vm.h.
 *
 * Threads: the library's control thread runs control_loop() from vm_start() until the VM
 * ends, then joins the vCPUs and marks the VM STOPPED. The operations (pause, resume, stop,
 * shutdown requests) run on the caller's thread, serialized by op_lock; they talk to vCPUs
 * through is_pausing/park_cond and kicks, to device workers through their pause handshake.
 *
 * Trusts: our own modules. Console input is the user's and goes to the UART as bytes.
 */
#include "core/vm_internal.h"

#include "util/log.h"
#include "util/seccomp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define SERIAL_POLL_MS	4
#define CONSOLE_IN_MAX	4096
#define PARK_TIMEOUT_MS 5000

/* --- the state machine --- */

bool vm_state_allows(enum vm_state state, enum vm_op op)
{
	switch (op) {
	case VM_OP_START:
		return state == VM_STATE_NOT_STARTED;
	case VM_OP_PAUSE:
	case VM_OP_SHUTDOWN:
		return state == VM_STATE_RUNNING;
	case VM_OP_RESUME:
		return state == VM_STATE_PAUSED;
	case VM_OP_STOP:
		return state != VM_STATE_STOPPED;
	}
	return false;
}

static const char *const op_names[] = {"start", "pause", "resume", "shut down", "stop"};
static const char *const state_words[] = {"not started", "running", "paused", "stopped"};

static int refuse(struct vm *vm, enum vm_op op, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot %s a VM that is %s", op_names[op], state_words[vm->state]);
	return -EBUSY;
}

static void set_state(struct vm *vm, enum vm_state s)
{
	pthread_mutex_lock(&vm->state_lock);
	vm->state = s;
	pthread_cond_broadcast(&vm->state_cond);
	pthread_mutex_unlock(&vm->state_lock);
	uint64_t one = 1;
	ssize_t w = write(vm->state_fd, &one, sizeof(one));
	(void)w;
}

enum vm_state vm_state(struct vm *vm)
{
	pthread_mutex_lock(&vm->state_lock);
	enum vm_state s = vm->state;
	pthread_mutex_unlock(&vm->state_lock);
	return s;
}

/* --- the serial console --- */

struct console_state {
	int in_fd, out_fd;
	bool is_tty;
	bool saw_ctrl_a;
	bool is_in_open;
	bool is_in_paused; /* out of epoll while the guest has not taken `pending` */
	/* Input the UART's FIFO could not take yet: handed over as the guest reads. At most
	 * two bytes per byte read (Ctrl-A then the key). */
	uint8_t pending[2 * CONSOLE_IN_MAX];
	size_t pending_off, pending_len;
};

/* Terminal input for the guest; in a terminal, Ctrl-A x quits and Ctrl-A Ctrl-A sends one
 * Ctrl-A. Called only when nothing is pending. */
static void console_read(struct vm *vm, struct console_state *cs, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = buf[i];
		if (cs->is_tty && cs->saw_ctrl_a) {
			cs->saw_ctrl_a = false;
			if (c == 'x' || c == 'X') {
				vm_end(vm, VM_END_USER, 0, NULL,
				       "stopped from the console (Ctrl-A x)");
				return;
			}
			if (c != 0x01)
				cs->pending[n++] = 0x01;
			cs->pending[n++] = c;
			continue;
		}
		if (cs->is_tty && c == 0x01) {
			cs->saw_ctrl_a = true;
			continue;
		}
		cs->pending[n++] = c;
	}
	cs->pending_off = 0;
	cs->pending_len = n;
}

/* Gives the guest's UART what it can take. While input is left over, the input fd leaves
 * the epoll set (the terminal or pipe pushes back); the UART's wake-up when the guest has
 * emptied its FIFO brings us back here. */
static void console_push(struct vm *vm, struct console_state *cs, int ep)
{
	cs->pending_off += serial_input(vm->serial, cs->pending + cs->pending_off,
					cs->pending_len - cs->pending_off);
	bool has_pending = cs->pending_off < cs->pending_len;
	if (has_pending == cs->is_in_paused || !cs->is_in_open)
		return;
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = cs->in_fd};
	if (epoll_ctl(ep, has_pending ? EPOLL_CTL_DEL : EPOLL_CTL_ADD, cs->in_fd, &ev) == 0)
		cs->is_in_paused = has_pending;
}

static void console_flush(struct vm *vm, struct console_state *cs)
{
	if (serial_flush(vm->serial, cs->out_fd) == -EPIPE)
		log_debug("console output closed");
}

/* --- the control thread --- */

static void start_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		int r = -pthread_create(&vm->vcpus[i].thread, NULL, vm_vcpu_thread, &vm->vcpus[i]);
		if (r) {
			vm_end(vm, VM_END_ERROR, 0, NULL, "cannot start vcpu%u: %s", i,
			       strerror(-r));
			break;
		}
		vm->vcpus[i].is_started = true;
	}
}

static void stop_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].hv)
			hv_vcpu_kick(vm->vcpus[i].hv);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if (vm->vcpus[i].is_started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].is_started = false;
		}
	}
}

static void control_loop(struct vm *vm, struct console_state *cs, int ep)
{
	struct epoll_event evs[8];

	while (!atomic_load(&vm->is_ending)) {
		/* A partial line (a prompt) waits at most SERIAL_POLL_MS. */
		int n = epoll_wait(ep, evs, 8, serial_has_output(vm->serial) ? SERIAL_POLL_MS : -1);
		if (n == 0) {
			console_flush(vm, cs);
			continue;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			vm_end(vm, VM_END_ERROR, 0, NULL, "epoll_wait: %s", strerror(errno));
			break;
		}
		bool has_typed = false;
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == cs->in_fd) {
				uint8_t buf[CONSOLE_IN_MAX];
				ssize_t got = read(cs->in_fd, buf, sizeof(buf));
				if (got > 0) {
					console_read(vm, cs, buf, (size_t)got);
					console_push(vm, cs, ep);
				} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
					/* End of input: the guest runs on without a keyboard. */
					epoll_ctl(ep, EPOLL_CTL_DEL, cs->in_fd, NULL);
					cs->is_in_open = false;
				}
				has_typed = got > 0;
			} else if (fd == serial_wake_fd(vm->serial)) {
				/* A whole line goes out now (draining the wake fd too); a partial
				 * one after SERIAL_POLL_MS, so that byte-wise output is written
				 * in bursts. */
				if (serial_has_line(vm->serial))
					console_flush(vm, cs);
				else
					serial_ack_wake(vm->serial);
			}
		}
		if (cs->pending_off < cs->pending_len)
			console_push(vm, cs, ep);
		/* After keystrokes the guest's echo (a partial line) goes out at once. */
		if (has_typed && serial_has_output(vm->serial))
			console_flush(vm, cs);
	}
}

static void *control_thread(void *arg)
{
	struct vm *vm = arg;
	struct console_state *cs;
	struct epoll_event ev;
	int ep;

	pthread_setname_np(pthread_self(), "vm-control");
	cs = calloc(1, sizeof(*cs));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!cs || ep < 0) {
		vm_end(vm, VM_END_ERROR, 0, NULL, "cannot set up the control loop: %s",
		       strerror(errno));
		goto out;
	}
	cs->in_fd = vm->con_in_fd;
	cs->out_fd = vm->con_out_fd;
	cs->is_tty = isatty(cs->in_fd) == 1;
	cs->is_in_open = true;
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = vm->end_fd};
	epoll_ctl(ep, EPOLL_CTL_ADD, vm->end_fd, &ev);
	ev.data.fd = serial_wake_fd(vm->serial);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = cs->in_fd;
	/* /dev/null and regular files cannot be polled: then the guest gets no input. With a
	 * virtio console, its own worker reads the input. */
	if (vm->console != VM_CONSOLE_SERIAL || cs->in_fd == vm->con_null_fd ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, cs->in_fd, &ev) < 0)
		cs->is_in_open = false;

	start_vcpus(vm);
	/* After the vCPUs started (they must not inherit it) and before guest input. */
	if (seccomp_apply(SECCOMP_KIND_CONTROL) < 0)
		vm_end(vm, VM_END_ERROR, 0, NULL, "cannot install the control seccomp filter");
	control_loop(vm, cs, ep);

out:
	/* Let vCPUs blocked on console backpressure go, then stop and join them all. */
	serial_close(vm->serial);
	stop_vcpus(vm);
	if (cs)
		console_flush(vm, cs);
	free(cs);
	if (ep >= 0)
		close(ep);
	/* The fd first: whoever sees STOPPED may poll it at once. */
	uint64_t one = 1;
	ssize_t w = write(vm->stopped_fd, &one, sizeof(one));
	(void)w;
	set_state(vm, VM_STATE_STOPPED);
	return NULL;
}

/* Starts the control thread (and through it the vCPUs) with the VM RUNNING, or PAUSED for a
 * restored VM: its vCPUs then see is_pausing before their first KVM_RUN and park at once;
 * vm_resume() lets them go. The state is set before the thread exists, so that a VM ending
 * at once is seen STOPPED. */
static int start(struct vm *vm, bool paused, char *err, size_t errlen)
{
	int r;

	pthread_mutex_lock(&vm->op_lock);
	if (!vm_state_allows(vm->state, VM_OP_START)) {
		r = refuse(vm, VM_OP_START, err, errlen);
		goto out;
	}
	if (paused)
		atomic_store(&vm->is_pausing, true);
	set_state(vm, paused ? VM_STATE_PAUSED : VM_STATE_RUNNING);
	r = -pthread_create(&vm->control_thread, NULL, control_thread, vm);
	if (r) {
		snprintf(err, errlen, "cannot start the control thread: %s", strerror(-r));
		vm_end(vm, VM_END_ERROR, 0, NULL, "cannot start the control thread");
		set_state(vm, VM_STATE_STOPPED);
		goto out;
	}
	vm->has_control_thread = true;
out:
	pthread_mutex_unlock(&vm->op_lock);
	return r;
}

int vm_start(struct vm *vm, char *err, size_t errlen)
{
	return start(vm, false, err, errlen);
}

int vm_start_paused(struct vm *vm, char *err, size_t errlen)
{
	return start(vm, true, err, errlen);
}

/* --- pause and resume --- */

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Kicks every vCPU and waits until all are parked; false on timeout or if the VM ends. */
static bool park_vcpus(struct vm *vm)
{
	struct timespec dl;
	bool is_parked;

	atomic_store(&vm->is_pausing, true);
	for (unsigned i = 0; i < vm->ncpus; i++)
		hv_vcpu_kick(vm->vcpus[i].hv);
	deadline_in(&dl, PARK_TIMEOUT_MS);
	pthread_mutex_lock(&vm->park_lock);
	while (vm->nr_parked < vm->ncpus && !atomic_load(&vm->is_ending)) {
		if (pthread_cond_timedwait(&vm->park_cond, &vm->park_lock, &dl) == ETIMEDOUT)
			break;
	}
	is_parked = vm->nr_parked == vm->ncpus && !atomic_load(&vm->is_ending);
	pthread_mutex_unlock(&vm->park_lock);
	return is_parked;
}

static void release_vcpus(struct vm *vm)
{
	pthread_mutex_lock(&vm->park_lock);
	atomic_store(&vm->is_pausing, false);
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->park_lock);
}

int vm_pause(struct vm *vm, char *err, size_t errlen)
{
	unsigned i;
	int r = 0;

	pthread_mutex_lock(&vm->op_lock);
	if (!vm_state_allows(vm_state(vm), VM_OP_PAUSE)) {
		r = refuse(vm, VM_OP_PAUSE, err, errlen);
		goto out;
	}
	if (!park_vcpus(vm)) {
		release_vcpus(vm);
		if (atomic_load(&vm->is_ending)) {
			r = -EBUSY;
			snprintf(err, errlen, "cannot pause: the VM is stopping");
		} else {
			r = -ETIMEDOUT;
			snprintf(err, errlen,
				 "cannot pause: a vCPU did not stop within %d ms (busy in a "
				 "device); the VM runs on",
				 PARK_TIMEOUT_MS);
		}
		goto out;
	}
	/* No vCPU touches a device now; the workers finish what they are doing. */
	for (i = 0; i < vm->nr_virtio; i++) {
		r = virtio_mmio_pause(vm->virtio[i]);
		if (r) {
			snprintf(err, errlen, "cannot pause virtio device %u: %s", i, strerror(-r));
			while (i--)
				virtio_mmio_resume(vm->virtio[i]);
			release_vcpus(vm);
			goto out;
		}
	}
	r = rtc_pause(&vm->rtc);
	if (r) {
		snprintf(err, errlen, "cannot pause the RTC: %s", strerror(-r));
		for (i = vm->nr_virtio; i--;)
			virtio_mmio_resume(vm->virtio[i]);
		release_vcpus(vm);
		goto out;
	}
	vm->has_paused_clock = hv_vm_get_clock(vm->hv, &vm->paused_clock_ns) == 0;
	__atomic_store_n(&vm->nr_pauses, vm->nr_pauses + 1, __ATOMIC_RELAXED);
	set_state(vm, VM_STATE_PAUSED);
out:
	pthread_mutex_unlock(&vm->op_lock);
	return r;
}

int vm_resume(struct vm *vm, char *err, size_t errlen)
{
	int r = 0;

	pthread_mutex_lock(&vm->op_lock);
	if (!vm_state_allows(vm_state(vm), VM_OP_RESUME)) {
		r = refuse(vm, VM_OP_RESUME, err, errlen);
		goto out;
	}
	/* The guest's clock goes on from where it stopped; each vCPU's kvmclock is told it
	 * was stopped by the host, so the guest's watchdogs do not fire. */
	if (vm->has_paused_clock) {
		int cr = hv_vm_set_clock(vm->hv, vm->paused_clock_ns);
		if (cr)
			log_debug("KVM_SET_CLOCK: %s", strerror(-cr));
	}
	for (unsigned i = 0; i < vm->ncpus; i++)
		hv_vcpu_kvmclock_ctrl(vm->vcpus[i].hv);
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		int dr = virtio_mmio_resume(vm->virtio[i]);
		if (dr)
			log_warn("cannot resume virtio device %u: %s", i, strerror(-dr));
	}
	int rr = rtc_resume(&vm->rtc);
	if (rr)
		log_warn("cannot resume the RTC: %s", strerror(-rr));
	__atomic_store_n(&vm->nr_resumes, vm->nr_resumes + 1, __ATOMIC_RELAXED);
	set_state(vm, VM_STATE_RUNNING);
	release_vcpus(vm);
out:
	pthread_mutex_unlock(&vm->op_lock);
	return r;
}

/* --- stopping --- */

/* An edge on the GED's line: the guest's _EVT notifies the power button. */
static int acpi_ged_press_power_button(struct vm *vm)
{
	int r = hv_vm_irq_line(vm->hv, X86_GED_GSI, true);

	if (!r)
		r = hv_vm_irq_line(vm->hv, X86_GED_GSI, false);
	return r;
}

int vm_request_shutdown(struct vm *vm, enum vm_shutdown how, char *err, size_t errlen)
{
	int r = 0;

	pthread_mutex_lock(&vm->op_lock);
	if (!vm_state_allows(vm_state(vm), VM_OP_SHUTDOWN)) {
		r = refuse(vm, VM_OP_SHUTDOWN, err, errlen);
		goto out;
	}
	switch (how) {
	case VM_SHUTDOWN_CTRL_ALT_DEL:
		pthread_mutex_lock(&vm->pio_lock);
		r = i8042_send_ctrl_alt_del(&vm->i8042);
		pthread_mutex_unlock(&vm->pio_lock);
		if (r)
			snprintf(err, errlen,
				 "the guest has not read the last Ctrl-Alt-Del from its keyboard");
		break;
	case VM_SHUTDOWN_POWER_BUTTON:
		if (!vm->has_power_button) {
			r = -ENOTSUP;
			snprintf(err, errlen, "no ACPI power button (the VM has no ACPI)");
			break;
		}
		r = acpi_ged_press_power_button(vm);
		if (r)
			snprintf(err, errlen, "power button: %s", strerror(-r));
		break;
	default:
		r = -EINVAL;
		snprintf(err, errlen, "unknown shutdown method %d", (int)how);
	}
out:
	pthread_mutex_unlock(&vm->op_lock);
	return r;
}

int vm_stop(struct vm *vm, int signo)
{
	pthread_mutex_lock(&vm->op_lock);
	enum vm_state s = vm_state(vm);
	if (s == VM_STATE_NOT_STARTED) {
		vm_end(vm, VM_END_STOP, signo, NULL, "stopped before it started");
		set_state(vm, VM_STATE_STOPPED);
		uint64_t one = 1;
		ssize_t w = write(vm->stopped_fd, &one, sizeof(one));
		(void)w;
	} else if (s != VM_STATE_STOPPED) {
		if (signo)
			vm_end(vm, VM_END_STOP, signo, NULL, "stopped by %s", strsignal(signo));
		else
			vm_end(vm, VM_END_STOP, 0, NULL, "stopped (hard stop)");
	}
	pthread_mutex_unlock(&vm->op_lock);
	return vm_wait(vm, -1);
}

int vm_wait(struct vm *vm, int timeout_ms)
{
	struct timespec dl;
	int r = 0;

	if (timeout_ms >= 0)
		deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&vm->state_lock);
	while (vm->state != VM_STATE_STOPPED) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&vm->state_cond, &vm->state_lock);
		} else if (pthread_cond_timedwait(&vm->state_cond, &vm->state_lock, &dl) ==
			   ETIMEDOUT) {
			r = vm->state == VM_STATE_STOPPED ? 0 : -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&vm->state_lock);
	return r;
}

int vm_stopped_fd(struct vm *vm)
{
	return vm->stopped_fd;
}

int vm_state_fd(struct vm *vm)
{
	return vm->state_fd;
}

void vm_get_exit_info(struct vm *vm, struct vm_exit_info *info)
{
	pthread_mutex_lock(&vm->end_lock);
	*info = vm->info;
	pthread_mutex_unlock(&vm->end_lock);
	/* Ended, but not yet stopped: not over for the caller. */
	if (vm_state(vm) != VM_STATE_STOPPED)
		info->end = VM_END_NONE;
}

unsigned vm_ncpus(struct vm *vm)
{
	return vm->ncpus;
}

uint64_t vm_mem_size(struct vm *vm)
{
	return vm->mem.ram_size;
}

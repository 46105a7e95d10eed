/* main.c — the arcvmm command, a client of libarcvmm (include/arcvmm.h) only: parse the
 * options, set up the terminal, create and start the VM, turn signals into graceful or
 * hard stops, report why the VM ended and turn that into the exit status. The only file
 * that calls exit() (by returning from main).
 *
 * Signals: SIGINT, SIGTERM, SIGHUP and SIGQUIT are blocked and read from a signalfd, so
 * they arrive here, in order, never inside the library's threads. The first SIGTERM asks
 * the guest to power off (the ACPI power button; Ctrl-Alt-Del without ACPI) and allows it
 * --shutdown-timeout seconds before a hard stop; a second SIGTERM, or SIGINT, SIGHUP or
 * SIGQUIT, stops the VM at once. Either hard stop exits 128+N.
 */
#include "arcvmm.h"

#include "api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static struct termios saved_tio;
static bool is_tio_saved;

static void restore_terminal(void)
{
	if (is_tio_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
		is_tio_saved = false;
	}
}

/* Raw mode so every key (Ctrl-C included) goes to the guest; restored on every exit path
 * through atexit() and the explicit calls below. */
static void raw_terminal(void)
{
	struct termios tio;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return;
	is_tio_saved = true;
	atexit(restore_terminal);
	tio = saved_tio;
	cfmakeraw(&tio);
	tio.c_oflag |= OPOST | ONLCR; /* keep our own messages' line endings sane */
	tcsetattr(STDIN_FILENO, TCSANOW, &tio);
}

/* The command's own options, taken out of argv before the library parses the VM's. */
struct cli_options {
	double shutdown_timeout_s; /* after the first SIGTERM */
	bool wants_help;
	const char *api_sock;	  /* --api-sock PATH */
	const char *id;		  /* --id ID */
	bool has_boot_source;	  /* --kernel or --config given: boot at once */
	bool has_net;		  /* --net given */
	bool is_no_api;		  /* --no-api */
	const char *metrics_path; /* --metrics-path PATH */
	const char *restore;	  /* --restore STATE[,mem=FILE][,paused][,verify] */
};

static void cli_usage(FILE *f)
{
	fputs("\n"
	      "Command options:\n"
	      "  --shutdown-timeout S seconds the guest gets to power off after SIGTERM before\n"
	      "                       a hard stop (default 10; 0: hard stop at once)\n"
	      "  --api-sock PATH      serve the Firecracker-compatible REST API on this Unix\n"
	      "                       socket; without --kernel/--config the VM is configured\n"
	      "                       and started through it (PUT /actions InstanceStart)\n"
	      "  --id ID              the instance id the API reports (GET /)\n"
	      "  --no-api             no REST API (the default; Firecracker's flag)\n"
	      "  --metrics-path PATH  a JSON metrics line every 60 s and at the end (with the\n"
	      "                       API also on FlushMetrics), appended to PATH (file or FIFO)\n"
	      "  --restore STATE[,mem=MEMFILE][,paused][,verify]\n"
	      "                       run the VM saved in a snapshot (PUT /snapshot/create)\n"
	      "                       instead of booting one: the machine and devices are the\n"
	      "                       snapshot's (MEMFILE default: STATE.mem); paused: wait for\n"
	      "                       PATCH /vm Resumed; verify: read the memory file first\n"
	      "\n"
	      "Signals: SIGTERM presses the guest's ACPI power button (Ctrl-Alt-Del without\n"
	      "ACPI); a second SIGTERM, or SIGINT, SIGHUP or SIGQUIT, stops the VM at once.\n"
	      "\n"
	      "Exit status: 0 when the guest powers off, reboots or triple-faults (also after a\n"
	      "graceful stop); 1 for a configuration or host error; 2 when KVM fails to run\n"
	      "the guest; 3 after a guest kernel panic; 4 when Ctrl-A x was typed; 128+N after\n"
	      "a hard stop on signal N (SIGTERM after --shutdown-timeout: 143).\n",
	      f);
}

/* Removes the command's options from argv (in place). Returns 0, or -1 with a message. */
static int take_cli_options(int *argc, char **argv, struct cli_options *o)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i], *val = NULL;
		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			o->wants_help = true;
		if (!strcmp(a, "--kernel") || !strncmp(a, "--kernel=", 9) ||
		    !strcmp(a, "--config") || !strncmp(a, "--config=", 9) ||
		    !strcmp(a, "--config-file") || !strncmp(a, "--config-file=", 14))
			o->has_boot_source = true;
		if (!strcmp(a, "--net") || !strncmp(a, "--net=", 6))
			o->has_net = true;
		/* Firecracker's name for --config. */
		if (!strcmp(a, "--config-file")) {
			argv[out++] = "--config";
			continue;
		}
		if (!strncmp(a, "--config-file=", 14)) {
			char *opt;
			if (asprintf(&opt, "--config=%s", a + 14) < 0)
				return -1;
			argv[out++] = opt; /* lives as long as the process */
			continue;
		}
		if (!strcmp(a, "--no-api")) {
			o->is_no_api = true; /* Firecracker's flag: no API is our default */
			continue;
		}
		const char **strval = !strcmp(a, "--api-sock")	     ? &o->api_sock
				      : !strcmp(a, "--id")	     ? &o->id
				      : !strcmp(a, "--metrics-path") ? &o->metrics_path
				      : !strcmp(a, "--restore")	     ? &o->restore
								     : NULL;
		if (strval) {
			if (i + 1 >= *argc || !argv[i + 1][0]) {
				fprintf(stderr, "arcvmm: %s needs a value\n", a);
				return -1;
			}
			*strval = argv[++i];
			continue;
		}
		if (!strncmp(a, "--shutdown-timeout", 18) && (a[18] == '\0' || a[18] == '=')) {
			if (a[18] == '=') {
				val = a + 19;
			} else if (i + 1 < *argc) {
				val = argv[++i];
			} else {
				fprintf(stderr, "arcvmm: --shutdown-timeout needs a value\n");
				return -1;
			}
			char *end;
			errno = 0;
			double d = strtod(val, &end);
			if (errno || end == val || *end || !(d >= 0 && d <= 86400)) {
				fprintf(
				    stderr,
				    "arcvmm: --shutdown-timeout %s: want seconds from 0 to 86400\n",
				    val);
				return -1;
			}
			o->shutdown_timeout_s = d;
			continue;
		}
		argv[out++] = argv[i];
	}
	argv[out] = NULL;
	*argc = out;
	if (o->restore && o->has_boot_source) {
		fprintf(stderr, "arcvmm: --restore and --kernel/--config exclude each other (the "
				"snapshot is the machine)\n");
		return -1;
	}
	if (o->restore)
		o->has_boot_source = true; /* runs at once; the API serves it */
	if (o->is_no_api && o->api_sock) {
		fprintf(stderr, "arcvmm: --no-api and --api-sock exclude each other\n");
		return -1;
	}
	return 0;
}

/* --restore STATE[,mem=MEMFILE][,paused][,verify]: the VM from a snapshot, started. */
static struct arcvmm_vm *cli_restore(const char *spec, const struct arcvmm_config *cfg)
{
	char *copy = strdup(spec), *save = NULL, *state = NULL, *mem = NULL;
	unsigned flags = ARCVMM_RESTORE_RESUME;
	struct arcvmm_vm *vm = NULL;

	if (!copy) {
		fprintf(stderr, "arcvmm: out of memory\n");
		return NULL;
	}
	/* The state path is everything before the first ",key" we know. */
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!state) {
			state = tok;
		} else if (!strncmp(tok, "mem=", 4) && tok[4]) {
			mem = tok + 4;
		} else if (!strcmp(tok, "paused")) {
			flags &= ~(unsigned)ARCVMM_RESTORE_RESUME;
		} else if (!strcmp(tok, "verify")) {
			flags |= ARCVMM_RESTORE_VERIFY;
		} else {
			fprintf(stderr,
				"arcvmm: --restore %s: unknown option '%s' (mem=FILE, paused, "
				"verify)\n",
				spec, tok);
			free(copy);
			return NULL;
		}
	}
	if (!state || !state[0])
		fprintf(stderr, "arcvmm: --restore needs the state file\n");
	else if (!(vm = arcvmm_restore(state, mem, cfg, flags)))
		fprintf(stderr, "arcvmm: --restore %s: %s\n", state, arcvmm_last_error());
	free(copy);
	return vm;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_line(const char *msg)
{
	/* The library's own format, so the user sees one style. */
	fprintf(stderr, "arcvmm: %s\n", msg);
}

/* Waits for the end of the VM while turning signals into stops (see the top comment). */
/* --metrics-path without the API: one line of the library's metrics. The fd is
 * non-blocking, so a FIFO nobody reads costs the line, never the command. */
static void write_metrics(struct arcvmm_vm *vm, int fd)
{
	char *m;

	if (fd < 0 || !(m = arcvmm_metrics_json(vm)))
		return;
	size_t n = strlen(m);
	m[n] = '\n';
	ssize_t w = write(fd, m, n + 1);
	(void)w;
	free(m);
}

#define METRICS_PERIOD_MS 60000

static void supervise(struct arcvmm_vm *vm, int sfd, int metrics_fd, const struct cli_options *o)
{
	int64_t deadline = -1, next_metrics = now_ms() + METRICS_PERIOD_MS;
	bool has_asked = false;

	for (;;) {
		struct pollfd p[2] = {{.fd = arcvmm_event_fd(vm), .events = POLLIN},
				      {.fd = sfd, .events = POLLIN}};
		int64_t wake = metrics_fd >= 0 ? next_metrics : -1;
		if (deadline >= 0 && (wake < 0 || deadline < wake))
			wake = deadline;
		int timeout = -1;
		if (wake >= 0) {
			int64_t left = wake - now_ms();
			timeout = left > 0 ? (int)left : 0;
		}
		int n = poll(p, 2, timeout);
		if (n < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			return;
		if (metrics_fd >= 0 && now_ms() >= next_metrics) {
			write_metrics(vm, metrics_fd);
			next_metrics += METRICS_PERIOD_MS;
		}
		if (n == 0 && deadline >= 0 && now_ms() >= deadline) {
			log_line("the guest did not power off in time: stopping it");
			arcvmm_stop(vm, SIGTERM);
			return;
		}
		if (!(p[1].revents & POLLIN))
			continue;
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		int sig = (int)si.ssi_signo;
		if (sig == SIGTERM && !has_asked && o->shutdown_timeout_s > 0) {
			has_asked = true;
			int r = arcvmm_request_shutdown(vm, ARCVMM_SHUTDOWN_POWER_BUTTON);
			if (r == -ENOTSUP)
				r = arcvmm_request_shutdown(vm, ARCVMM_SHUTDOWN_CTRL_ALT_DEL);
			if (r == 0) {
				deadline = now_ms() + (int64_t)(o->shutdown_timeout_s * 1000);
				continue;
			}
			/* Paused, or no way to ask: a hard stop is all that is left. */
		}
		arcvmm_stop(vm, sig);
		return;
	}
	arcvmm_stop(vm, SIGTERM);
}

int main(int argc, char **argv)
{
	struct cli_options o = {.shutdown_timeout_s = 10};
	struct arcvmm_config *cfg;
	struct arcvmm_vm *vm;
	struct arcvmm_exit ex;
	sigset_t sigs;
	int r, sfd;

	signal(SIGPIPE, SIG_IGN);
	if (take_cli_options(&argc, argv, &o))
		return 1;
	cfg = arcvmm_config_new();
	if (!cfg) {
		log_line(arcvmm_last_error());
		return 1;
	}
	r = arcvmm_config_parse_args(cfg, argc, argv);
	if (r == 1) {
		if (o.wants_help)
			cli_usage(stdout);
		arcvmm_config_free(cfg);
		return 0;
	}
	if (r || (r = arcvmm_config_enter_jail(cfg))) {
		log_line(arcvmm_last_error());
		arcvmm_config_free(cfg);
		return 1;
	}

	/* Blocked before any thread exists, so every thread inherits it. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGQUIT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		perror("arcvmm: signalfd");
		arcvmm_config_free(cfg);
		return 1;
	}

	struct api_server *api = NULL;
	struct api_options ao = {.sock_path = o.api_sock,
				 .id = o.id,
				 .argc = argc,
				 .argv = argv,
				 .has_cli_net = o.has_net,
				 .metrics_path = o.metrics_path};
	char api_err[1024] = "";
	if (o.api_sock && !o.has_boot_source &&
	    api_server_start(&ao, &api, api_err, sizeof(api_err))) {
		log_line(api_err);
		arcvmm_config_free(cfg);
		return 1;
	}
	if (api && !o.has_boot_source) {
		/* Configured through the API: wait for InstanceStart (or a signal). */
		arcvmm_config_free(cfg);
		struct pollfd p[2] = {{.fd = api_server_start_fd(api), .events = POLLIN},
				      {.fd = sfd, .events = POLLIN}};
		while (poll(p, 2, -1) < 0 && errno == EINTR)
			;
		vm = api_server_vm(api);
		if (!vm) {
			struct signalfd_siginfo si = {0};
			ssize_t n = read(sfd, &si, sizeof(si));
			(void)n;
			api_server_destroy(api);
			return 128 + (int)si.ssi_signo;
		}
		raw_terminal();
	} else if (o.restore) {
		vm = cli_restore(o.restore, cfg);
		arcvmm_config_free(cfg);
		if (!vm) {
			api_server_destroy(api);
			return 1;
		}
		raw_terminal();
		if (o.api_sock) {
			if (api_server_start(&ao, &api, api_err, sizeof(api_err))) {
				restore_terminal();
				log_line(api_err);
				arcvmm_destroy(vm);
				return 1;
			}
			api_server_set_vm(api, vm);
		}
	} else {
		vm = arcvmm_create(cfg);
		arcvmm_config_free(cfg);
		if (!vm) {
			log_line(arcvmm_last_error());
			api_server_destroy(api);
			return 1;
		}
		raw_terminal();
		if (arcvmm_start(vm)) {
			restore_terminal();
			log_line(arcvmm_last_error());
			api_server_destroy(api);
			arcvmm_destroy(vm);
			return 1;
		}
		/* Booted from the command line: the API (if any) serves the running VM
		 * from its first request on. */
		if (o.api_sock) {
			if (api_server_start(&ao, &api, api_err, sizeof(api_err))) {
				restore_terminal();
				log_line(api_err);
				arcvmm_destroy(vm);
				return 1;
			}
			api_server_set_vm(api, vm);
		}
	}
	int metrics_fd = -1;
	if (o.metrics_path && !api) {
		metrics_fd =
		    open(o.metrics_path,
			 O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
		if (metrics_fd < 0)
			fprintf(stderr, "arcvmm: --metrics-path %s: %s (no metrics)\n",
				o.metrics_path, strerror(errno));
	}
	supervise(vm, sfd, metrics_fd, &o);
	arcvmm_wait(vm, -1);
	restore_terminal();
	arcvmm_exit(vm, &ex);

	int status = ex.status;
	if (ex.end == ARCVMM_END_ERROR) {
		log_line(ex.reason);
		if (ex.detail[0])
			fprintf(stderr, "%s\n", ex.detail);
	} else if (status != 0 || arcvmm_get_log_level() > 0) {
		/* Not a warning, but the user should learn why the VM ended unless -q. */
		log_line(ex.reason);
	}
	/* A last metrics line with the final counts. Then the API goes: it must not serve
	 * a VM that is being freed. */
	write_metrics(vm, metrics_fd);
	if (metrics_fd >= 0)
		close(metrics_fd);
	api_server_flush_metrics(api);
	api_server_destroy(api);
	/* The caller (a shell, a container runtime) learns that the VM is over as soon as
	 * it is; ARCVMM_SYNC_TEARDOWN=1 waits for the kernel's teardown instead. */
	const char *sync = getenv("ARCVMM_SYNC_TEARDOWN");
	if (sync && *sync == '1')
		arcvmm_destroy(vm);
	else
		arcvmm_destroy_detached(vm);
	close(sfd);
	return status;
}

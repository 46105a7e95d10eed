/* main.c — the arcvmm command: parse the configuration, set up the terminal, build and run
 * the VM, report why it ended, and turn that into the exit status. The only file that
 * calls exit(). */
#include "core/jail.h"
#include "core/config.h"
#include "util/log.h"
#include "core/vm.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
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

int main(int argc, char **argv)
{
	struct vm_config cfg;
	struct vm_exit_info info;
	struct vm *vm = NULL;
	char err[1024] = "";
	int r, status;

	signal(SIGPIPE, SIG_IGN);
	config_init(&cfg);
	r = config_parse_args(&cfg, argc, argv, err, sizeof(err));
	if (r == CONFIG_HELP) {
		config_fini(&cfg);
		return 0;
	}
	if (r) {
		log_error("%s", err[0] ? err : strerror(-r));
		config_fini(&cfg);
		return 1;
	}
	if (cfg.log_level >= 0)
		log_threshold = (enum log_level)cfg.log_level;

	if (cfg.jail_dir) {
		struct jail_config j = {cfg.jail_dir, cfg.jail_uid, cfg.jail_gid};
		r = jail_enter(&cfg, &j, err, sizeof(err));
		if (r) {
			log_error("%s", err);
			config_fini(&cfg);
			return 1;
		}
	}
	r = vm_create(&cfg, &vm, err, sizeof(err));
	if (r) {
		log_error("%s", err[0] ? err : strerror(-r));
		config_fini(&cfg);
		return 1;
	}
	raw_terminal();
	memset(&info, 0, sizeof(info));
	vm_run(vm, &info);
	restore_terminal();
	/* The caller (a shell, a container runtime) learns that the VM is over as soon as
	 * it is; ARCVMM_SYNC_TEARDOWN=1 waits for the kernel's teardown instead. */
	const char *sync = getenv("ARCVMM_SYNC_TEARDOWN");
	if (sync && *sync == '1')
		vm_destroy(vm);
	else
		vm_destroy_detached(vm);
	bool is_quiet = cfg.log_level == LOG_ERROR;
	config_fini(&cfg);

	status = vm_exit_status(&info);
	if (info.end == VM_END_ERROR) {
		log_error("%s", info.reason);
		if (info.detail[0])
			fprintf(stderr, "%s\n", info.detail);
	} else if (status != 0) {
		log_error("%s", info.reason);
	} else if (!is_quiet) {
		/* Not a warning, but the user should always learn why the VM ended. */
		log_error("%s", info.reason);
	}
	return status;
}

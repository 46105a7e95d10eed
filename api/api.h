/* api.h — the Firecracker-compatible REST API on a Unix socket: the arcvmm command's
 * second front end, a client of libarcvmm (include/arcvmm.h) only.
 *
 * Before InstanceStart the API collects Firecracker's pre-boot pieces (boot-source,
 * machine-config, drives, network-interfaces, balloon, logger, metrics), each checked when
 * it is PUT by the same JSON parser the --config file goes through; InstanceStart
 * assembles them into one configuration document on top of the command's own VM options
 * and creates and starts the VM. After that the API drives the VM through the library's
 * state machine (PATCH /vm Paused/Resumed, SendCtrlAltDel, run-time rate limiters and the
 * balloon). Endpoints and status codes: README.md "REST API".
 *
 * Trust: every request is hostile. Bodies are capped (API_MAX_BODY), connections are
 * capped and time out, every field is checked; a failing request gets 400 and
 * {"fault_message": "..."} and never half-applies.
 */
#ifndef ARCVMM_API_H
#define ARCVMM_API_H

#include <stddef.h>

struct arcvmm_vm;
struct api_server;

#define API_MAX_BODY	     51200 /* Firecracker's request payload limit */
#define API_MAX_CONNECTIONS  128
#define API_CONN_TIMEOUT_S   10 /* an idle or trickling client is dropped */
#define API_METRICS_PERIOD_S 60 /* metrics lines written this often once configured */

struct api_options {
	const char *sock_path;
	const char *id; /* GET / "id"; default "anonymous-instance" */
	/* The command's VM options (argv[0] first): the base the API's pieces go on top of. */
	int argc;
	char **argv;
	/* Command-line NICs exist: do not add Firecracker's "no NIC unless one is PUT". */
	int has_cli_net;
	/* --metrics-path: as if PUT /metrics had named it (NULL: none). */
	const char *metrics_path;
};

/* Binds the socket (a stale socket file is replaced, a live one refused) and serves on
 * its own thread. 0, or -errno with a message in err. */
int api_server_start(const struct api_options *o, struct api_server **out, char *err,
		     size_t errlen);
/* Readable once InstanceStart has created and started a VM (then api_server_vm()). */
int api_server_start_fd(struct api_server *s);
struct arcvmm_vm *api_server_vm(struct api_server *s);
/* The command booted the VM itself (--kernel/--config with --api-sock): serve it. */
void api_server_set_vm(struct api_server *s, struct arcvmm_vm *vm);
/* Writes a last metrics line (if metrics are configured). */
void api_server_flush_metrics(struct api_server *s);
/* Stops serving (in-flight requests finish), removes the socket file, frees. */
void api_server_destroy(struct api_server *s);

#endif

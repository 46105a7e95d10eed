/* api_internal.h — what the transport (api/server.c) and the endpoints (api/routes.c)
 * share: the server's state and the reply helpers. */
#ifndef ARCVMM_API_INTERNAL_H
#define ARCVMM_API_INTERNAL_H

#include "api/api.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define API_MAX_DRIVES 16
#define API_MAX_NETS   8
#define API_MAX_FS     8

struct api_server {
	char *sock_path;
	char *id;
	int argc;
	char **argv;
	bool has_cli_net;
	int listen_fd;
	struct MHD_Daemon *daemon;

	/* lock: everything below (requests are served on one thread, but the command's
	 * thread sets vm and the metrics thread writes metrics_fd). */
	pthread_mutex_t lock;
	struct arcvmm_vm *vm;
	int start_fd;	 /* eventfd: the API started a VM */
	bool is_vm_ours; /* created by InstanceStart (the command destroys it either way) */

	/* Pre-boot pieces, as they were PUT (checked). NULL: not given. */
	cJSON *boot_source, *machine_config, *balloon, *vsock;
	cJSON *drives[API_MAX_DRIVES];
	unsigned nr_drives;
	cJSON *nets[API_MAX_NETS];
	unsigned nr_nets;
	cJSON *fs[API_MAX_FS]; /* PUT /fs/{tag} (arcvmm's own; Firecracker has none) */
	unsigned nr_fs;
	bool has_entropy_off;

	int log_fd;	/* PUT /logger, owned */
	int metrics_fd; /* PUT /metrics, owned */
	uint64_t nr_metrics_dropped;
	uint64_t nr_requests, nr_errors; /* every request served, and those answered >= 400 */
	pthread_t metrics_thread;
	bool has_metrics_thread, is_stopping;
	pthread_cond_t metrics_cond;
};

/* A reply: status, and a JSON body (NULL: none, for 204). routes.c fills it. */
struct api_reply {
	unsigned status;
	char *body; /* malloc'd */
};

/* routes.c: serves one request (lock held). body is NUL-terminated, len bytes. */
void api_route(struct api_server *s, const char *method, const char *url, const char *body,
	       size_t len, struct api_reply *out);
/* A 400 (or other) with Firecracker's {"fault_message": ...}. */
void api_fault(struct api_reply *out, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes one metrics line to metrics_fd (lock held). 0, or -errno. */
int api_flush_metrics(struct api_server *s);
/* The library's metrics plus the API's own counters: a malloc'd JSON string (lock held). */
char *api_metrics_json(struct api_server *s);

#endif

/* server.c — the REST API's transport: libmicrohttpd (Debian's libmicrohttpd, rather
 * than a hand-written HTTP parser) on a Unix socket we bind ourselves, one serving thread,
 * request bodies collected up to API_MAX_BODY, every reply JSON. Also the periodic metrics
 * writer. The endpoints are in routes.c.
 *
 * Trust: clients are hostile. Connections are capped (API_MAX_CONNECTIONS) and dropped
 * after API_CONN_TIMEOUT_S of silence; headers are capped by the per-connection memory
 * limit; a body over the limit is refused before it is parsed. A client that vanishes
 * mid-request costs nothing but its buffer. The serving thread never touches a guest or a
 * VM thread's locks except through the library, whose calls are bounded.
 */
#include "api/api_internal.h"

#include <arcvmm.h>

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct api_request {
	char *buf;
	size_t len, cap;
	bool is_too_big;
	size_t declared; /* Content-Length, for the message */
};

void api_fault(struct api_reply *out, unsigned status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap); /* a long message is only shortened */
	va_end(ap);
	cJSON *o = cJSON_CreateObject();
	if (o)
		cJSON_AddStringToObject(o, "fault_message", msg);
	out->status = status;
	free(out->body);
	out->body = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
}

static int append(struct api_request *r, const char *data, size_t n)
{
	if (r->is_too_big || r->len + n > API_MAX_BODY) {
		r->is_too_big = true;
		r->len += n; /* counted, not kept */
		return 0;
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 1024;
		while (cap < r->len + n + 1)
			cap *= 2;
		char *b = realloc(r->buf, cap);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, data, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return 0;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, const struct api_reply *rep)
{
	const char *body = rep->body ? rep->body : "";
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (rep->body)
		MHD_add_response_header(resp, "Content-Type", "application/json");
	enum MHD_Result r = MHD_queue_response(c, rep->status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct api_server *s = cls;
	struct api_request *r = *req_cls;
	struct api_reply rep = {0};

	if (!r) {
		/* First call: headers only. */
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		const char *cl =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		*req_cls = r;
		if (cl) {
			unsigned long long v = strtoull(cl, NULL, 10);
			r->declared = (size_t)v;
			if (v > API_MAX_BODY) {
				/* Answered before the body is read; MHD then closes the
				 * connection instead of reading 100 MiB nobody wants. */
				r->is_too_big = true;
				api_fault(&rep, MHD_HTTP_BAD_REQUEST,
					  "Request payload with size %zu is larger than the limit "
					  "of %d allowed by server.",
					  r->declared, API_MAX_BODY);
				enum MHD_Result res = send_reply(c, &rep);
				free(rep.body);
				pthread_mutex_lock(&s->lock);
				s->nr_requests++;
				s->nr_errors++;
				pthread_mutex_unlock(&s->lock);
				return res;
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (append(r, upload_data, *upload_data_size))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->is_too_big) {
		api_fault(&rep, MHD_HTTP_BAD_REQUEST,
			  "Request payload with size %zu is larger than the limit of %d allowed "
			  "by server.",
			  r->declared > r->len ? r->declared : r->len, API_MAX_BODY);
	} else if (r->len && memchr(r->buf, '\0', r->len)) {
		api_fault(&rep, MHD_HTTP_BAD_REQUEST, "the request body contains a NUL byte");
	} else {
		pthread_mutex_lock(&s->lock);
		api_route(s, method, url, r->buf ? r->buf : "", r->len, &rep);
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_lock(&s->lock);
	s->nr_requests++;
	s->nr_errors += rep.status >= 400;
	pthread_mutex_unlock(&s->lock);
	enum MHD_Result res = send_reply(c, &rep);
	free(rep.body);
	return res;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_request *r = *req_cls;

	if (r) {
		free(r->buf);
		free(r);
		*req_cls = NULL;
	}
}

char *api_metrics_json(struct api_server *s)
{
	char *m = s->vm ? arcvmm_metrics_json(s->vm) : strdup("{\"state\":\"Not started\"}");
	cJSON *o = m ? cJSON_Parse(m) : NULL;

	free(m);
	if (!o)
		return NULL;
	cJSON *api = cJSON_AddObjectToObject(o, "api");
	if (api) {
		cJSON_AddNumberToObject(api, "requests", (double)s->nr_requests);
		cJSON_AddNumberToObject(api, "errors", (double)s->nr_errors);
		cJSON_AddNumberToObject(api, "metrics_lines_dropped",
					(double)s->nr_metrics_dropped);
	}
	m = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return m;
}

int api_flush_metrics(struct api_server *s)
{
	if (s->metrics_fd < 0)
		return -ENOENT;
	char *m = api_metrics_json(s);
	if (!m)
		return -ENOMEM;
	size_t n = strlen(m);
	m[n] = '\n';
	/* The fd is non-blocking: a FIFO nobody reads costs a dropped line, never the API. */
	ssize_t w = write(s->metrics_fd, m, n + 1);
	int r = w == (ssize_t)(n + 1) ? 0 : w < 0 ? -errno : -EAGAIN;
	if (r)
		s->nr_metrics_dropped++;
	free(m);
	return r;
}

static void *metrics_thread(void *arg)
{
	struct api_server *s = arg;
	struct timespec dl;

	pthread_setname_np(pthread_self(), "api-metrics");
	pthread_mutex_lock(&s->lock);
	while (!s->is_stopping) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += API_METRICS_PERIOD_S;
		while (!s->is_stopping &&
		       pthread_cond_timedwait(&s->metrics_cond, &s->lock, &dl) != ETIMEDOUT)
			;
		if (!s->is_stopping && s->metrics_fd >= 0)
			api_flush_metrics(s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Binds path: a socket file nobody answers on is stale and replaced; one that answers
 * belongs to a running VMM and is refused. */
static int bind_socket(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--api-sock %s: path too long (at most %zu bytes)", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "--api-sock %s: exists and is not a socket", path);
			close(fd);
			return -EEXIST;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			close(fd);
			snprintf(err, errlen, "--api-sock %s: another process is serving on it",
				 path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	mode_t old = umask(0077); /* the socket is as private as the VM */
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 64) < 0) {
		r = -errno;
		snprintf(err, errlen, "--api-sock %s: %s", path, strerror(-r));
		close(fd);
		return r;
	}
	return fd;
}

int api_server_start(const struct api_options *o, struct api_server **out, char *err, size_t errlen)
{
	struct api_server *s = calloc(1, sizeof(*s));
	int r = -ENOMEM;

	*out = NULL;
	if (!s)
		goto fail;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->metrics_cond, &ca);
	pthread_condattr_destroy(&ca);
	s->listen_fd = s->start_fd = s->log_fd = s->metrics_fd = -1;
	s->sock_path = strdup(o->sock_path);
	s->id = strdup(o->id ? o->id : "anonymous-instance");
	s->argc = o->argc;
	s->argv = o->argv;
	s->has_cli_net = o->has_cli_net;
	if (!s->sock_path || !s->id)
		goto fail;
	s->start_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->start_fd < 0) {
		r = -errno;
		goto fail;
	}
	s->listen_fd = bind_socket(o->sock_path, err, errlen);
	if (s->listen_fd < 0) {
		r = s->listen_fd;
		s->listen_fd = -1;
		goto fail;
	}
	s->daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request, s,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)API_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)API_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
	if (!s->daemon) {
		snprintf(err, errlen, "--api-sock %s: cannot start the HTTP server", o->sock_path);
		r = -EIO;
		goto fail;
	}
	if (o->metrics_path) {
		s->metrics_fd =
		    open(o->metrics_path,
			 O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0600);
		if (s->metrics_fd < 0) {
			r = -errno;
			snprintf(err, errlen, "--metrics-path %s: %s", o->metrics_path,
				 strerror(-r));
			goto fail;
		}
	}
	if (pthread_create(&s->metrics_thread, NULL, metrics_thread, s) == 0)
		s->has_metrics_thread = true;
	*out = s;
	return 0;
fail:
	if (!err[0])
		snprintf(err, errlen, "--api-sock %s: %s", o->sock_path, strerror(-r));
	api_server_destroy(s);
	return r;
}

int api_server_start_fd(struct api_server *s)
{
	return s->start_fd;
}

struct arcvmm_vm *api_server_vm(struct api_server *s)
{
	pthread_mutex_lock(&s->lock);
	struct arcvmm_vm *vm = s->vm;
	pthread_mutex_unlock(&s->lock);
	return vm;
}

void api_server_set_vm(struct api_server *s, struct arcvmm_vm *vm)
{
	pthread_mutex_lock(&s->lock);
	s->vm = vm;
	pthread_mutex_unlock(&s->lock);
}

void api_server_flush_metrics(struct api_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->metrics_fd >= 0)
		api_flush_metrics(s);
	pthread_mutex_unlock(&s->lock);
}

void api_server_destroy(struct api_server *s)
{
	if (!s)
		return;
	if (s->daemon) {
		MHD_stop_daemon(s->daemon); /* joins the serving thread, closes listen_fd */
		s->listen_fd = -1;
		unlink(s->sock_path);
	} else if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->sock_path);
	}
	if (s->has_metrics_thread) {
		pthread_mutex_lock(&s->lock);
		s->is_stopping = true;
		pthread_cond_broadcast(&s->metrics_cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->metrics_thread, NULL);
	}
	cJSON_Delete(s->boot_source);
	cJSON_Delete(s->machine_config);
	cJSON_Delete(s->balloon);
	cJSON_Delete(s->vsock);
	for (unsigned i = 0; i < s->nr_drives; i++)
		cJSON_Delete(s->drives[i]);
	for (unsigned i = 0; i < s->nr_nets; i++)
		cJSON_Delete(s->nets[i]);
	for (unsigned i = 0; i < s->nr_fs; i++)
		cJSON_Delete(s->fs[i]);
	if (s->log_fd >= 0) {
		arcvmm_set_log_fd(-1);
		close(s->log_fd);
	}
	if (s->metrics_fd >= 0)
		close(s->metrics_fd);
	if (s->start_fd >= 0)
		close(s->start_fd);
	pthread_cond_destroy(&s->metrics_cond);
	pthread_mutex_destroy(&s->lock);
	free(s->sock_path);
	free(s->id);
	free(s);
}

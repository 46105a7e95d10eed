/* fuzz_api.c — libFuzzer target for the REST API's request handling (api/routes.c): a
 * hostile client's method, path and body against a server that has no VM.
 *
 * Input: byte 0 picks the method (GET, PUT, PATCH, DELETE), then the path up to the first
 * '\n', then the body. Paths that would start a VM or open host files chosen by the input
 * (/actions, /logger, /metrics) are skipped: those handlers' parsing is reached through
 * the same helpers from the other paths, and a fuzzer must not create files anywhere.
 */
#include "api/api_internal.h"

#include <arcvmm.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "PUT", "PATCH", "DELETE"};
	static struct api_server *s;

	if (size < 2)
		return 0;
	if (!s) {
		/* One server for the whole run, as in real life: pieces accumulate. */
		s = calloc(1, sizeof(*s));
		pthread_mutex_init(&s->lock, NULL);
		s->listen_fd = s->start_fd = s->log_fd = s->metrics_fd = -1;
		s->id = strdup("fuzz");
		arcvmm_set_log_level(0);
	}
	const char *method = methods[data[0] & 3];
	const uint8_t *nl = memchr(data + 1, '\n', size - 1);
	size_t url_len = nl ? (size_t)(nl - data - 1) : size - 1;
	char *url = strndup((const char *)data + 1, url_len);
	size_t body_len = nl ? size - 1 - url_len - 1 : 0;
	char *body = malloc(body_len + 1);
	if (!url || !body || !url_len || strchr(url, '\0') != url + url_len ||
	    !strncmp(url, "/actions", 8) || !strncmp(url, "/logger", 7) ||
	    !strncmp(url, "/metrics", 8)) {
		free(url);
		free(body);
		return 0;
	}
	memcpy(body, nl ? nl + 1 : (const uint8_t *)"", body_len);
	body[body_len] = '\0';
	/* The transport refuses bodies with a NUL; so does this harness. */
	if (memchr(body, '\0', body_len)) {
		free(url);
		free(body);
		return 0;
	}
	struct api_reply rep = {0};
	pthread_mutex_lock(&s->lock);
	api_route(s, method, url, body, body_len, &rep);
	pthread_mutex_unlock(&s->lock);
	if (rep.status < 200 || rep.status > 599)
		abort(); /* every request gets a real status */
	free(rep.body);
	free(url);
	free(body);
	return 0;
}

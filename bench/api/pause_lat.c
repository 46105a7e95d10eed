/* pause_lat.c — pause and resume latency through libarcvmm (include/arcvmm.h only).
 *
 *   pause_lat KERNEL [ROUNDS] [VCPUS]     e.g. build/guests/tick.elf 200 2
 *
 * Boots KERNEL (a guest that never ends; tick.elf keeps its vCPU busy in a loop of port
 * writes, so a pause always has to pull it out of the guest), then ROUNDS times: pause
 * (returns once every vCPU is parked and every device worker acknowledged), resume; each
 * call timed on CLOCK_MONOTONIC. Prints p50/p99/max of each in microseconds. A measurement,
 * not a test: bench/api/run.sh puts it beside QEMU's stop/cont.
 */
#include <arcvmm.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("%s: p50 %.1f us, p99 %.1f us, max %.1f us (%d rounds)\n", what, v[n / 2],
	       v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], v[n - 1], n);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: pause_lat KERNEL [ROUNDS] [VCPUS]\n");
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 200;
	unsigned vcpus = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
	if (rounds < 1 || rounds > 100000 || vcpus < 1 || vcpus > 64) {
		fprintf(stderr, "pause_lat: bad ROUNDS or VCPUS\n");
		return 2;
	}
	struct arcvmm_config *c = arcvmm_config_new();
	if (!c || arcvmm_config_set_kernel(c, argv[1], NULL, NULL) ||
	    arcvmm_config_set_machine(c, vcpus, 64) || arcvmm_config_add_net(c, "none") ||
	    arcvmm_config_set_console(c, ARCVMM_CONSOLE_SERIAL, -1, -1)) {
		fprintf(stderr, "pause_lat: %s\n", arcvmm_last_error());
		return 1;
	}
	struct arcvmm_vm *vm = arcvmm_create(c);
	arcvmm_config_free(c);
	if (!vm || arcvmm_start(vm)) {
		fprintf(stderr, "pause_lat: %s\n", arcvmm_last_error());
		return 1;
	}
	usleep(200000); /* let the guest get going */
	double *p = calloc((size_t)rounds, sizeof(double)),
	       *r = calloc((size_t)rounds, sizeof(double));
	if (!p || !r)
		return 1;
	for (int i = 0; i < rounds; i++) {
		double t0 = now_us();
		if (arcvmm_pause(vm)) {
			fprintf(stderr, "pause_lat: pause: %s\n", arcvmm_last_error());
			return 1;
		}
		double t1 = now_us();
		if (arcvmm_resume(vm)) {
			fprintf(stderr, "pause_lat: resume: %s\n", arcvmm_last_error());
			return 1;
		}
		double t2 = now_us();
		p[i] = t1 - t0;
		r[i] = t2 - t1;
		usleep(2000); /* run a little between rounds */
	}
	printf("libarcvmm, %u vCPU(s), busy guest:\n", vcpus);
	report("  pause ", p, rounds);
	report("  resume", r, rounds);
	arcvmm_stop(vm, 0);
	arcvmm_destroy(vm);
	free(p);
	free(r);
	return 0;
}

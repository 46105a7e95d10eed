/* bench/blk/bench_blk.c — virtio-blk datapath throughput against fio, side by side.
 *
 * No vCPU: a simulated driver (simdrv.h) keeps `iodepth` requests in flight on one queue
 * of the real device (transport, worker, io_uring backend): it fills the ring in fake guest
 * memory, kicks the notify eventfd (what KVM's ioeventfd does) and sleeps on the irqfd.
 * Then fio runs the same pattern with ioengine=io_uring on the same file. Printed: IOPS,
 * MB/s and the ratio arcvmm/fio for 4 KiB random reads and 1 MiB sequential reads and
 * writes, with O_DIRECT (the disk) and without (the page cache, warmed before each run).
 *
 * Usage: bench_blk [--file PATH] [--size MiB] [--runtime S] [--no-fio] [--buffered-only]
 *                  [--direct-only] [--only randread-4k|seqread-1m|seqwrite-1m]
 * Trusts: its arguments and fio's JSON output (parsed with cJSON, fields checked).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/blk/simdrv.h"
#include "devices/virtio_blk.h"
#include "util/seccomp.h"

#define RAM_SIZE  (32ULL << 20)
#define QUEUE_LEN 256

struct pattern {
	const char *name;
	bool is_write;
	bool is_random;
	uint32_t bs;
	unsigned iodepth;
};

static const struct pattern patterns[] = {
    {"randread-4k", false, true, 4096, 32},
    {"seqread-1m", false, false, 1 << 20, 8},
    {"seqwrite-1m", true, false, 1 << 20, 8},
};

struct result {
	double iops, mbps;
	double cpu_per_op; /* arcvmm only: process CPU seconds (all threads) per request */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int prepare_file(const char *path, uint64_t size)
{
	struct stat st;
	static uint8_t buf[1 << 20];
	int fd;

	if (stat(path, &st) == 0 && (uint64_t)st.st_size == size)
		return 0;
	fprintf(stderr, "bench_blk: writing %llu MiB to %s\n", (unsigned long long)(size >> 20),
		path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		buf[0] = (uint8_t)(off >> 20);
		if (pwrite(fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf)) {
			close(fd);
			return -EIO;
		}
	}
	fsync(fd);
	close(fd);
	return 0;
}

/* Reads the whole file once so both sides start from a warm page cache (buffered runs). */
static void warm_cache(const char *path)
{
	static uint8_t buf[1 << 20];
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

struct slot {
	uint64_t hdr_gpa, data_gpa, status_gpa;
};

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t next_offset(const struct pattern *p, uint64_t *seq, uint64_t size)
{
	uint64_t off;

	if (p->is_random) {
		rng_state ^= rng_state << 13;
		rng_state ^= rng_state >> 7;
		rng_state ^= rng_state << 17;
		return (rng_state % (size / p->bs)) * p->bs;
	}
	off = *seq;
	*seq += p->bs;
	if (*seq + p->bs > size)
		*seq = 0;
	return off;
}

static int slot_submit(struct simdrv *sd, struct slot *s, const struct pattern *p, uint64_t off,
		       uint16_t *head_slot, unsigned idx)
{
	struct virtio_blk_req_hdr h = {
	    .type = p->is_write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
	    .sector = off / 512,
	};
	struct simdrv_buf b[3] = {
	    {s->hdr_gpa, 16, false},
	    {s->data_gpa, p->bs, !p->is_write},
	    {s->status_gpa, 1, true},
	};
	int head;

	memcpy(simdrv_ptr(sd, s->hdr_gpa), &h, sizeof(h));
	head = simq_add(&sd->q[0], b, 3);
	if (head < 0)
		return -1;
	head_slot[head] = (uint16_t)idx;
	return 0;
}

static int run_arcvmm(const char *path, uint64_t size, bool direct, const struct pattern *p,
		      double runtime, struct result *res)
{
	struct vm_disk_config cfg = {.path = (char *)path, .is_direct = direct, .nr_queues = 1};
	struct simdrv sd;
	struct virtio_blk *b;
	struct slot slots[64];
	uint16_t head_slot[QUEUE_LEN];
	char err[256];
	uint64_t seq = 0, ops = 0, errors = 0;
	unsigned inflight = 0;
	double t0, t1;
	struct timespec c0, c1;

	if (simdrv_init(&sd, RAM_SIZE) < 0)
		return -1;
	b = virtio_blk_create(&sd.mem, &cfg, err, sizeof(err));
	if (!b) {
		fprintf(stderr, "bench_blk: %s\n", err);
		simdrv_fini(&sd);
		return -1;
	}
	if (simdrv_start(&sd, &virtio_blk_ops, b, 1, QUEUE_LEN, ~0ULL) < 0) {
		fprintf(stderr, "bench_blk: device setup failed\n");
		simdrv_fini(&sd);
		return -1;
	}
	for (unsigned i = 0; i < p->iodepth; i++) {
		slots[i].hdr_gpa = simdrv_alloc(&sd, 16, 16);
		slots[i].status_gpa = simdrv_alloc(&sd, 1, 1);
		slots[i].data_gpa = simdrv_alloc(&sd, p->bs, 4096);
		memset(simdrv_ptr(&sd, slots[i].data_gpa), 0x5a, p->bs);
		slot_submit(&sd, &slots[i], p, next_offset(p, &seq, size), head_slot, i);
		inflight++;
	}
	t0 = now_s();
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	simdrv_kick(&sd, 0, false);
	for (;;) {
		uint32_t id, len;
		bool is_done = now_s() - t0 >= runtime;
		unsigned n = 0;

		while (simq_get_used(&sd.q[0], &id, &len)) {
			unsigned idx = id < QUEUE_LEN ? head_slot[id] : 0;

			inflight--;
			ops++;
			n++;
			if (*(uint8_t *)simdrv_ptr(&sd, slots[idx].status_gpa) != VIRTIO_BLK_S_OK)
				errors++;
			if (!is_done) {
				slot_submit(&sd, &slots[idx], p, next_offset(p, &seq, size),
					    head_slot, idx);
				inflight++;
			}
		}
		if (n && !is_done)
			simdrv_kick(&sd, 0, false);
		if (is_done && !inflight)
			break;
		if (!n)
			simdrv_wait_irq(&sd, 100);
	}
	t1 = now_s();
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	simdrv_fini(&sd);
	if (errors) {
		fprintf(stderr, "bench_blk: %llu requests failed\n", (unsigned long long)errors);
		return -1;
	}
	res->cpu_per_op = ((double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9) /
			  (ops ? (double)ops : 1);
	res->iops = (double)ops / (t1 - t0);
	res->mbps = res->iops * p->bs / 1e6;
	return 0;
}

static int run_fio(const char *path, uint64_t size, bool direct, const struct pattern *p,
		   double runtime, struct result *res)
{
	char cmd[1024], *out = NULL;
	size_t cap = 0, len = 0;
	FILE *f;
	cJSON *root, *job, *side;
	int r = -1;

	snprintf(cmd, sizeof(cmd),
		 "fio --name=bench --filename=%s --ioengine=io_uring --direct=%d --rw=%s "
		 "--bs=%u --iodepth=%u --size=%llu --runtime=%g --time_based --numjobs=1 "
		 "--randrepeat=0 --norandommap --output-format=json 2>/dev/null",
		 path, direct ? 1 : 0,
		 p->is_random ? (p->is_write ? "randwrite" : "randread")
			      : (p->is_write ? "write" : "read"),
		 p->bs, p->iodepth, (unsigned long long)size, runtime);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			out = realloc(out, cap);
		}
		size_t n = fread(out + len, 1, 4096, f);
		if (!n)
			break;
		len += n;
	}
	pclose(f);
	if (!out)
		return -1;
	out[len] = 0;
	/* fio may print notes before the JSON. */
	root = cJSON_Parse(strchr(out, '{') ? strchr(out, '{') : out);
	job = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "jobs"), 0);
	side = cJSON_GetObjectItem(job, p->is_write ? "write" : "read");
	if (cJSON_IsNumber(cJSON_GetObjectItem(side, "iops")) &&
	    cJSON_IsNumber(cJSON_GetObjectItem(side, "bw_bytes"))) {
		res->iops = cJSON_GetObjectItem(side, "iops")->valuedouble;
		res->mbps = cJSON_GetObjectItem(side, "bw_bytes")->valuedouble / 1e6;
		r = 0;
	}
	cJSON_Delete(root);
	free(out);
	return r;
}

#define CMP_REPS 9

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ARCVMM_BENCH_SECCOMP=compare: for one pattern, CMP_REPS pairs of runs of the device with
 * the workers' seccomp filters off and on (order swapped every pair, so a drift of the
 * machine's load favours neither); prints medians and the median per-pair ratios: IOPS
 * on/off and CPU per request off/on (1.00 = the filters cost nothing). */
static int seccomp_compare(const char *path, uint64_t size, bool direct, const struct pattern *p,
			   double runtime)
{
	double iops[2][CMP_REPS], cpu[2][CMP_REPS], r_iops[CMP_REPS], r_cpu[CMP_REPS];

	for (unsigned i = 0; i < CMP_REPS; i++) {
		for (unsigned k = 0; k < 2; k++) {
			bool is_on = (k == 0) == (i % 2 == 1);
			struct result a = {0};
			seccomp_set_mode(is_on ? SECCOMP_ON : SECCOMP_OFF);
			if (!direct)
				warm_cache(path);
			if (run_arcvmm(path, size, direct, p, runtime, &a))
				return 1;
			iops[is_on][i] = a.iops;
			cpu[is_on][i] = a.cpu_per_op;
		}
		r_iops[i] = iops[1][i] / iops[0][i];
		r_cpu[i] = cpu[0][i] / cpu[1][i];
	}
	double ri = median(r_iops, CMP_REPS), rc = median(r_cpu, CMP_REPS);
	printf("seccomp %-12s %-8s IOPS off %8.0f on %8.0f on/off %.3f | CPU us/req off %7.2f on "
	       "%7.2f off/on %.3f (medians of %d pairs)\n",
	       p->name, direct ? "direct" : "buffered", median(iops[0], CMP_REPS),
	       median(iops[1], CMP_REPS), ri, median(cpu[0], CMP_REPS) * 1e6,
	       median(cpu[1], CMP_REPS) * 1e6, rc, CMP_REPS);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = "/var/tmp/arcvmm-bench-blk.img";
	uint64_t size = 1024ULL << 20;
	double runtime = 5;
	bool use_fio = true, do_direct = true, do_buffered = true;
	const char *only = NULL;
	static const struct option opts[] = {
	    {"file", required_argument, NULL, 'f'},    {"size", required_argument, NULL, 's'},
	    {"runtime", required_argument, NULL, 't'}, {"no-fio", no_argument, NULL, 'n'},
	    {"direct-only", no_argument, NULL, 'd'},   {"buffered-only", no_argument, NULL, 'b'},
	    {"only", required_argument, NULL, 'o'},    {NULL, 0, NULL, 0},
	};
	int c;

	/* ARCVMM_BENCH_SECCOMP=on|log|off: the device workers' seccomp filters (for
	 * bench/seccomp.sh, which compares on against off). */
	enum seccomp_mode sc_mode;
	const char *sc = getenv("ARCVMM_BENCH_SECCOMP");
	bool is_compare = sc && !strcmp(sc, "compare");
	if (getenv("ARCVMM_BENCH_SECCOMP") &&
	    seccomp_parse_mode(getenv("ARCVMM_BENCH_SECCOMP"), &sc_mode) == 0)
		seccomp_set_mode(sc_mode);

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			path = optarg;
			break;
		case 's':
			size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 't':
			runtime = strtod(optarg, NULL);
			break;
		case 'n':
			use_fio = false;
			break;
		case 'd':
			do_buffered = false;
			break;
		case 'b':
			do_direct = false;
			break;
		case 'o':
			only = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: %s [--file PATH] [--size MiB] [--runtime S] "
				"[--no-fio] [--direct-only|--buffered-only] [--only PATTERN]\n",
				argv[0]);
			return 2;
		}
	}
	if (size < (16ULL << 20) || runtime <= 0) {
		fprintf(stderr, "bench_blk: --size must be >= 16 MiB, --runtime > 0\n");
		return 2;
	}
	if (prepare_file(path, size) < 0) {
		fprintf(stderr, "bench_blk: cannot write %s\n", path);
		return 1;
	}
	if (is_compare) {
		int bad = 0;
		for (int direct = 1; direct >= 0; direct--) {
			if ((direct && !do_direct) || (!direct && !do_buffered))
				continue;
			for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
				if (!only || !strcmp(only, patterns[i].name))
					bad |= seccomp_compare(path, size, direct, &patterns[i],
							       runtime);
		}
		return bad;
	}
	printf("virtio-blk (simulated driver, 1 queue, io_uring) vs fio (io_uring), %s, %llu "
	       "MiB, %gs each\n",
	       path, (unsigned long long)(size >> 20), runtime);
	printf("%-12s %-8s %3s | %10s %9s | %10s %9s | %s\n", "pattern", "mode", "qd",
	       "arcvmm IOPS", "MB/s", "fio IOPS", "MB/s", "ratio");
	for (int direct = 1; direct >= 0; direct--) {
		if ((direct && !do_direct) || (!direct && !do_buffered))
			continue;
		for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
			const struct pattern *p = &patterns[i];
			struct result a = {0}, f = {0};
			int ra, rf;

			if (only && strcmp(only, p->name))
				continue;
			if (!direct)
				warm_cache(path);
			ra = run_arcvmm(path, size, direct, p, runtime, &a);
			if (!direct)
				warm_cache(path);
			rf = use_fio ? run_fio(path, size, direct, p, runtime, &f) : -1;

			printf("%-12s %-8s %3u | %10.0f %9.1f | ", p->name,
			       direct ? "direct" : "buffered", p->iodepth, ra ? 0 : a.iops,
			       ra ? 0 : a.mbps);
			if (rf == 0)
				printf("%10.0f %9.1f | %.2f\n", f.iops, f.mbps,
				       ra == 0 && f.iops > 0 ? a.iops / f.iops : 0);
			else
				printf("%10s %9s | -\n", "-", "-");
			fflush(stdout);
		}
	}
	return 0;
}

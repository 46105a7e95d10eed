/* tests/unit/test_reset_stress.c — device resets and queue reconfiguration racing with
 * busy workers (issue #14: concurrency), for virtio-rng (one worker) and virtio-blk (a
 * worker and an io_uring per queue, two queues) and virtio-net (RX and TX workers over
 * the fd backend, a peer thread feeding frames in and reading them out).
 *
 * Three threads per run, all through the real transport:
 *   - the driver keeps every ready queue full: it moves avail->idx on (store-release) as
 *     far as the used ring allows and kicks, never waiting for an interrupt;
 *   - the "vCPU" resets the device (status 0) and sets it up again, over and over; each
 *     setup toggles QueueReady 0/1 and changes the queue size, and while DRIVER_OK is set
 *     it writes QueueReady, QueueNum and the ring addresses (which must be ignored) —
 *     all while the workers are serving kicks;
 *   - the control thread pauses and resumes the device at random moments.
 * Rings and requests are laid out by the vCPU thread before DRIVER_OK; afterwards the
 * driver only touches avail->idx and the device only the used ring and the buffers it
 * fills, so the sanitizers (ASan with SAN=1, ThreadSanitizer with TSAN=1) see the VMM's own
 * accesses, not a guest's. Checks: nothing crashes or hangs (a reset, a pause, a resume
 * each return; an alarm turns a hang into a failure), the device never hands back more
 * chains than the driver posted, and after the storm a clean setup still completes a
 * request. STRESS_SECONDS (default 2) sets the length of each run.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "mem/guest_mem.h"
#include "tests/unit/test.h"
#include "util/log.h"
#include "virtio/mmio.h"

#define RAM_SIZE  (4u << 20)
#define NQ_MAX	  2
#define QSIZE_MAX 64
/* Queue q's rings and buffers. */
#define RING_GPA(q) (0x10000u + (q)*0x10000u)
#define AVAIL_OFF   0x1000u
#define USED_OFF    0x2000u
#define BUF_GPA(q)  (0x100000u + (q)*0x80000u)
#define BUF_SIZE    4096u /* per ring entry: data; header and status go after it */

struct stress {
	const struct virtio_device_ops *ops;
	bool is_blk;
	bool is_net;	  /* queue 0 RX (writable buffers), 1 TX (a frame each) */
	int peer_fd;	  /* net: the other end of the fd backend's socket */
	unsigned check_q; /* the queue the after-storm request goes to */
	unsigned nq;
	uint8_t *ram;
	struct guest_mem mem;
	struct virtio_mmio *t;
	atomic_bool is_done;
	atomic_uint qsize[NQ_MAX]; /* 0: the queue is being set up */
	atomic_ulong nr_posted, nr_resets, nr_pauses, nr_reconfig_ignored;
	atomic_uint nr_too_many;    /* used->idx ahead of avail->idx: must stay 0 */
	pthread_mutex_t setup_lock; /* the driver does not post while the vCPU lays rings out */
};

static void wr32(struct virtio_mmio *t, uint32_t off, uint32_t v)
{
	uint64_t b = v;

	virtio_mmio_access(t, off, &b, 4, true);
}

static uint32_t rd32(struct virtio_mmio *t, uint32_t off)
{
	uint64_t b = 0;

	virtio_mmio_access(t, off, &b, 4, false);
	return (uint32_t)b;
}

static uint16_t *avail_idx(struct stress *s, unsigned q)
{
	return (uint16_t *)(s->ram + RING_GPA(q) + AVAIL_OFF + 2);
}

static uint16_t *used_idx(struct stress *s, unsigned q)
{
	return (uint16_t *)(s->ram + RING_GPA(q) + USED_OFF + 2);
}

/* Chains the driver keeps in flight on a queue of n entries: rng one descriptor each,
 * blk three (header, a page of data to read, status). */
static unsigned nr_chains(const struct stress *s, unsigned n)
{
	return s->is_blk ? n / 3 : n;
}

/* Lays out queue q of size n: every chain its own buffers, avail slot i naming chain
 * i % nr_chains (so slots can be reused round and round without rewriting them). */
static void layout(struct stress *s, unsigned q, unsigned n)
{
	struct virtq_desc *desc = (struct virtq_desc *)(s->ram + RING_GPA(q));
	uint16_t *ring = (uint16_t *)(s->ram + RING_GPA(q) + AVAIL_OFF + 4);
	unsigned per = s->is_blk ? 3 : 1, nc = nr_chains(s, n);

	memset(s->ram + RING_GPA(q), 0, 0x10000);
	for (unsigned c = 0; c < nc; c++) {
		uint64_t buf = BUF_GPA(q) + c * (BUF_SIZE + 64);
		uint16_t d = (uint16_t)(c * per);

		if (s->is_net && q == VIRTIO_NET_TXQ) {
			/* A zero virtio-net header and a 60-byte Ethernet frame. */
			static const uint8_t eth[14] = {0x52, 0x54, 0,	  0x12, 0x34, 0x56, 0x52,
							0x54, 0,    0xab, 0xcd, 0xef, 0x08, 0x00};
			memset(s->ram + buf, 0, 72);
			memcpy(s->ram + buf + 12, eth, sizeof(eth));
			desc[d] = (struct virtq_desc){buf, 72, 0, 0};
			continue;
		}
		if (!s->is_blk) {
			desc[d] = (struct virtq_desc){buf, s->is_net ? 2048 : BUF_SIZE,
						      VIRTQ_DESC_F_WRITE, 0};
			continue;
		}
		struct virtio_blk_req_hdr h = {VIRTIO_BLK_T_IN, 0, (uint64_t)c * 8};
		memcpy(s->ram + buf + BUF_SIZE, &h, sizeof(h));
		desc[d] = (struct virtq_desc){buf + BUF_SIZE, sizeof(h), VIRTQ_DESC_F_NEXT,
					      (uint16_t)(d + 1)};
		desc[d + 1] = (struct virtq_desc){
		    buf, BUF_SIZE, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, (uint16_t)(d + 2)};
		desc[d + 2] = (struct virtq_desc){buf + BUF_SIZE + 32, 1, VIRTQ_DESC_F_WRITE, 0};
	}
	/* The driver keeps at most nc in flight, so slot i and slot i + nc never both are. */
	for (unsigned i = 0; i < n; i++)
		ring[i] = (uint16_t)(i % nc * per);
}

/* Reset, negotiate, set the queues up (QueueReady toggled on the way), DRIVER_OK. */
static void setup(struct stress *s, unsigned round)
{
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	uint32_t lo, hi;

	pthread_mutex_lock(&s->setup_lock);
	for (unsigned q = 0; q < s->nq; q++)
		atomic_store(&s->qsize[q], 0);
	wr32(s->t, VIRTIO_MMIO_STATUS, 0); /* the reset racing with the workers */
	atomic_fetch_add(&s->nr_resets, 1);
	wr32(s->t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr32(s->t, VIRTIO_MMIO_STATUS, st);
	wr32(s->t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = rd32(s->t, VIRTIO_MMIO_DEVICE_FEATURES);
	wr32(s->t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	hi = rd32(s->t, VIRTIO_MMIO_DEVICE_FEATURES);
	if (round & 1)
		lo &= ~(uint32_t)VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	wr32(s->t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr32(s->t, VIRTIO_MMIO_DRIVER_FEATURES, lo);
	wr32(s->t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr32(s->t, VIRTIO_MMIO_DRIVER_FEATURES, hi);
	st |= VIRTIO_STATUS_FEATURES_OK;
	wr32(s->t, VIRTIO_MMIO_STATUS, st);
	for (unsigned q = 0; q < s->nq; q++) {
		unsigned n = (round >> 1) % 3 == 0 ? 16 : (round >> 1) % 3 == 1 ? 32 : QSIZE_MAX;

		layout(s, q, n);
		wr32(s->t, VIRTIO_MMIO_QUEUE_SEL, q);
		wr32(s->t, VIRTIO_MMIO_QUEUE_NUM, 8);
		wr32(s->t, VIRTIO_MMIO_QUEUE_DESC_LOW, RING_GPA(q));
		wr32(s->t, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		wr32(s->t, VIRTIO_MMIO_QUEUE_AVAIL_LOW, RING_GPA(q) + AVAIL_OFF);
		wr32(s->t, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
		wr32(s->t, VIRTIO_MMIO_QUEUE_USED_LOW, RING_GPA(q) + USED_OFF);
		wr32(s->t, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
		/* Ready with size 8, then not ready, then the real size and ready again. */
		wr32(s->t, VIRTIO_MMIO_QUEUE_READY, 1);
		wr32(s->t, VIRTIO_MMIO_QUEUE_READY, 0);
		wr32(s->t, VIRTIO_MMIO_QUEUE_NUM, n);
		wr32(s->t, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr32(s->t, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
	for (unsigned q = 0; q < s->nq; q++) {
		struct virtq *vq = virtio_mmio_queue(s->t, q);
		atomic_store(&s->qsize[q], vq->is_ready ? vq->size : 0);
	}
	pthread_mutex_unlock(&s->setup_lock);
}

static void *driver_main(void *arg)
{
	struct stress *s = arg;

	while (!atomic_load(&s->is_done)) {
		pthread_mutex_lock(&s->setup_lock);
		for (unsigned q = 0; q < s->nq; q++) {
			unsigned n = atomic_load(&s->qsize[q]);
			if (!n)
				continue;
			uint16_t a = __atomic_load_n(avail_idx(s, q), __ATOMIC_RELAXED);
			/* pairs with the device's store-release of used->idx */
			uint16_t u = __atomic_load_n(used_idx(s, q), __ATOMIC_ACQUIRE);
			if ((uint16_t)(u - a) != 0 && (uint16_t)(u - a) < 0x8000)
				atomic_fetch_add(&s->nr_too_many, 1);
			unsigned nc = nr_chains(s, n), room = nc - (uint16_t)(a - u);
			if (room > nc)
				continue; /* out of step with a fresh ring: the next setup fixes it */
			if (room) {
				/* pairs with virtq_pop's load-acquire of avail->idx */
				__atomic_store_n(avail_idx(s, q), (uint16_t)(a + room),
						 __ATOMIC_RELEASE);
				atomic_fetch_add(&s->nr_posted, room);
			}
			wr32(s->t, VIRTIO_MMIO_QUEUE_NOTIFY, q);
		}
		pthread_mutex_unlock(&s->setup_lock);
	}
	return NULL;
}

static void *control_main(void *arg)
{
	struct stress *s = arg;
	unsigned seed = 7;

	while (!atomic_load(&s->is_done)) {
		if (virtio_mmio_pause(s->t) == 0) {
			atomic_fetch_add(&s->nr_pauses, 1);
			if (rand_r(&seed) & 1)
				sched_yield();
		}
		virtio_mmio_resume(s->t);
		usleep((useconds_t)(rand_r(&seed) % 500));
	}
	return NULL;
}

/* net: the far end of the socket: frames in for RX, TX frames read and thrown away. */
static void *peer_main(void *arg)
{
	struct stress *s = arg;
	uint8_t frame[60] = {0x52, 0x54, 0,    0x12, 0x34, 0x56, 0x52,
			     0x54, 0,	 0xab, 0xcd, 0xef, 8,	 0};
	uint8_t sink[2048];

	while (!atomic_load(&s->is_done)) {
		bool is_busy = send(s->peer_fd, frame, sizeof(frame), MSG_DONTWAIT) > 0;
		while (recv(s->peer_fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			is_busy = true;
		if (!is_busy)
			usleep(50);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void storm(struct stress *s)
{
	const char *env = getenv("STRESS_SECONDS");
	double seconds = env ? atof(env) : 2.0, end;
	pthread_t drv, ctl, peer;
	unsigned round = 0, seed = 1;

	s->ram = aligned_alloc(4096, RAM_SIZE);
	CHECK(s->ram != NULL);
	if (!s->ram)
		return;
	memset(s->ram, 0, RAM_SIZE);
	guest_mem_init_buffer(&s->mem, s->ram, RAM_SIZE);
	pthread_mutex_init(&s->setup_lock, NULL);
	setup(s, round++);
	CHECK(pthread_create(&drv, NULL, driver_main, s) == 0);
	CHECK(pthread_create(&ctl, NULL, control_main, s) == 0);
	if (s->is_net)
		CHECK(pthread_create(&peer, NULL, peer_main, s) == 0);
	end = now_s() + seconds;
	while (now_s() < end) {
		/* Let the workers get busy, then pull the rug. */
		usleep((useconds_t)(rand_r(&seed) % 2000));
		/* While DRIVER_OK: reconfiguration must be ignored. */
		for (unsigned q = 0; q < s->nq; q++) {
			const struct virtq *vq = virtio_mmio_queue(s->t, q);
			unsigned before = atomic_load(&s->qsize[q]);
			wr32(s->t, VIRTIO_MMIO_QUEUE_SEL, q);
			wr32(s->t, VIRTIO_MMIO_QUEUE_READY, 0);
			wr32(s->t, VIRTIO_MMIO_QUEUE_NUM, 4);
			wr32(s->t, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
			wr32(s->t, VIRTIO_MMIO_QUEUE_READY, 1);
			if (!before || (vq->size == before && vq->desc_gpa == RING_GPA(q) &&
					rd32(s->t, VIRTIO_MMIO_QUEUE_READY) == 1))
				atomic_fetch_add(&s->nr_reconfig_ignored, 1);
			else
				CHECK(!"queue reconfigured while DRIVER_OK");
		}
		setup(s, round++);
	}
	atomic_store(&s->is_done, true);
	pthread_join(drv, NULL);
	pthread_join(ctl, NULL);
	if (s->is_net) {
		uint8_t sink[2048];
		pthread_join(peer, NULL);
		while (recv(s->peer_fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			; /* room for the after-storm frame */
	}

	/* After the storm: a clean setup serves a request. */
	setup(s, 0);
	unsigned cq = s->check_q;
	uint16_t u0 = __atomic_load_n(used_idx(s, cq), __ATOMIC_ACQUIRE);
	__atomic_store_n(avail_idx(s, cq), 1, __ATOMIC_RELEASE);
	wr32(s->t, VIRTIO_MMIO_QUEUE_NOTIFY, cq);
	for (int i = 0; i < 5000 && __atomic_load_n(used_idx(s, cq), __ATOMIC_ACQUIRE) == u0; i++)
		usleep(1000);
	CHECK_EQ(__atomic_load_n(used_idx(s, cq), __ATOMIC_ACQUIRE), (uint16_t)(u0 + 1));
	CHECK_EQ(atomic_load(&s->nr_too_many), 0);
	CHECK(atomic_load(&s->nr_resets) > 10);
	CHECK((rd32(s->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) == 0);
	printf("  %s: %lu resets, %lu pauses, %lu chains posted, %lu ignored reconfigurations\n",
	       s->ops->name, atomic_load(&s->nr_resets), atomic_load(&s->nr_pauses),
	       atomic_load(&s->nr_posted), atomic_load(&s->nr_reconfig_ignored));
	virtio_mmio_destroy(s->t);
	pthread_mutex_destroy(&s->setup_lock);
	free(s->ram);
}

TEST(rng_reset_storm)
{
	static struct stress s;
	void *rng = virtio_rng_create();

	CHECK(rng != NULL);
	if (!rng)
		return;
	s.ops = &virtio_rng_ops;
	s.nq = 1;
	s.t = virtio_mmio_create(&s.mem, 0xd0000000, 5, &virtio_rng_ops, rng);
	CHECK(s.t != NULL);
	if (s.t)
		storm(&s);
}

TEST(blk_reset_storm)
{
	static struct stress s;
	struct vm_disk_config cfg = {0};
	char path[160], err[256];
	const char *dir = getenv("ARCVMM_TEST_DIR");
	int fd;

	test_snprintf(path, sizeof(path), "%s/arcvmm-stress-%d.img", dir && *dir ? dir : "/var/tmp",
		      (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 4 << 20) == 0);
	if (fd >= 0)
		close(fd);
	cfg.path = path;
	cfg.nr_queues = 2;
	s.ops = &virtio_blk_ops;
	s.is_blk = true;
	s.nq = 2;
	struct virtio_blk *b = virtio_blk_create(&s.mem, &cfg, err, sizeof(err));
	CHECK(b != NULL);
	if (b) {
		s.t = virtio_mmio_create(&s.mem, 0xd0000000, 5, &virtio_blk_ops, b);
		CHECK(s.t != NULL);
		if (s.t)
			storm(&s);
	}
	unlink(path);
}

TEST(net_reset_storm)
{
	static struct stress s;
	struct vm_net_config nc;
	char err[256];
	int sv[2];

	memset(&nc, 0, sizeof(nc));
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
	nc.kind = VM_NET_FD;
	nc.fd = sv[0];
	s.ops = &virtio_net_ops;
	s.is_net = true;
	s.nq = 2;
	s.peer_fd = sv[1];
	s.check_q = VIRTIO_NET_TXQ;
	struct virtio_net *n = virtio_net_create(&s.mem, &nc, err, sizeof(err));
	CHECK(n != NULL);
	if (n) {
		s.t = virtio_mmio_create(&s.mem, 0xd0000000, 5, &virtio_net_ops, n);
		CHECK(s.t != NULL);
		if (s.t)
			storm(&s);
	}
	close(sv[1]);
}

int main(void)
{
	log_threshold = LOG_ERROR; /* the storm makes the devices complain, as it should */
	alarm(120);		   /* a hang (a reset waiting forever) fails the binary */
	RUN(rng_reset_storm);
	RUN(blk_reset_storm);
	RUN(net_reset_storm);
	return test_summary();
}

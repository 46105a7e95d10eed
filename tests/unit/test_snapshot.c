/* tests/unit/test_snapshot.c — the snapshot state file format: a round trip, and every
 * corruption class refused with one line that names it (bad magic, wrong format version,
 * wrong arcvmm version, header checksum, wrong host, truncation at every length, a flipped
 * byte anywhere, unknown section type, duplicate section, trailing bytes).
 */
#include "tests/unit/test.h"

#include "core/snapshot_format.h"
#include "core/snapshot_mem.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

static struct snap_host host(void)
{
	struct snap_host h;
	snap_host_probe(&h);
	return h;
}

static uint8_t *make_file(size_t *len)
{
	struct snap_writer w;
	struct snap_host h = host();
	const void *out;
	uint8_t cpu[100];
	static const char cfg[] = "{\"machine-config\":{\"vcpu_count\":2}}";

	for (unsigned i = 0; i < sizeof(cpu); i++)
		cpu[i] = (uint8_t)i;
	snap_writer_init(&w, &h);
	snap_writer_add(&w, SNAP_SEC_CONFIG, 0, cfg, sizeof(cfg));
	snap_writer_add(&w, SNAP_SEC_VCPU, 0, cpu, sizeof(cpu));
	snap_writer_add(&w, SNAP_SEC_VCPU, 1, cpu, 7);
	snap_writer_add(&w, SNAP_SEC_SERIAL, 0, NULL, 0);
	CHECK_EQ(snap_writer_finish(&w, &out, len), 0);
	uint8_t *copy = malloc(*len);
	memcpy(copy, out, *len);
	snap_writer_fini(&w);
	return copy;
}

static int parse(const uint8_t *b, size_t len, char *err)
{
	struct snap_host h = host();
	struct snap_file f;
	err[0] = 0;
	int r = snap_parse(b, len, ARCVMM_VERSION, &h, &f, err, 256);
	if (!r)
		snap_file_fini(&f);
	return r;
}

/* Fixes the header checksum after a deliberate header edit. */
static void reseal(uint8_t *b)
{
	struct snap_header h;
	memcpy(&h, b, sizeof(h));
	h.header_xxh64 = 0;
	h.header_xxh64 = XXH64(&h, sizeof(h), 0);
	memcpy(b, &h, sizeof(h));
}

TEST(round_trip)
{
	size_t len;
	uint8_t *b = make_file(&len);
	struct snap_host h = host();
	struct snap_file f;
	char err[256] = "";

	CHECK_EQ(snap_parse(b, len, ARCVMM_VERSION, &h, &f, err, sizeof(err)), 0);
	CHECK_EQ(f.nr_secs, 4);
	const struct snap_ref *r = snap_find(&f, SNAP_SEC_VCPU, 1);
	CHECK(r && r->len == 7 && !memcmp(r->data, "\0\1\2\3\4\5\6", 7));
	r = snap_find(&f, SNAP_SEC_VCPU, 0);
	CHECK(r && r->len == 100 && ((const uint8_t *)r->data)[99] == 99);
	r = snap_find(&f, SNAP_SEC_SERIAL, 0);
	CHECK(r && r->len == 0);
	CHECK(!snap_find(&f, SNAP_SEC_VCPU, 2));
	CHECK(strstr(snap_find(&f, SNAP_SEC_CONFIG, 0)->data, "vcpu_count"));
	snap_file_fini(&f);
	free(b);
}

TEST(bad_magic)
{
	size_t len;
	uint8_t *b = make_file(&len);
	char err[256];
	b[0] ^= 1;
	CHECK_EQ(parse(b, len, err), -EINVAL);
	CHECK(strstr(err, "bad magic"));
	CHECK_EQ(parse(b, 3, err), -EINVAL);
	CHECK(strstr(err, "bad magic"));
	free(b);
}

TEST(wrong_format_version)
{
	size_t len;
	uint8_t *b = make_file(&len);
	char err[256];
	uint32_t v = SNAP_FORMAT_VERSION + 1;
	memcpy(b + offsetof(struct snap_header, format_version), &v, 4);
	reseal(b);
	CHECK_EQ(parse(b, len, err), -EINVAL);
	CHECK(strstr(err, "format version 2"));
	free(b);
}

TEST(wrong_arcvmm_version)
{
	size_t len;
	uint8_t *b = make_file(&len);
	char err[256];
	struct snap_file f;
	struct snap_host h = host();
	CHECK_EQ(snap_parse(b, len, "9.9.9", &h, &f, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "made by arcvmm " ARCVMM_VERSION) && strstr(err, "9.9.9"));
	free(b);
}

TEST(wrong_host)
{
	size_t len;
	uint8_t *b = make_file(&len);
	char err[256];
	struct snap_header hd;
	memcpy(&hd, b, sizeof(hd));
	hd.host.cpuid7_ebx = 0xffffffff; /* no host has every bit */
	memcpy(b, &hd, sizeof(hd));
	reseal(b);
	CHECK_EQ(parse(b, len, err), -EINVAL);
	CHECK(strstr(err, "CPUID.7.EBX"));

	free(b);
	b = make_file(&len);
	memcpy(&hd, b, sizeof(hd));
	hd.host.xsave_size += 64;
	memcpy(b, &hd, sizeof(hd));
	reseal(b);
	CHECK_EQ(parse(b, len, err), -EINVAL);
	CHECK(strstr(err, "XSAVE"));
	free(b);
}

TEST(truncated_everywhere)
{
	size_t len;
	uint8_t *b = make_file(&len);
	char err[256];
	int bad = 0;
	for (size_t n = 0; n < len; n++) {
		/* Each prefix in its own allocation, so ASan sees any read past it. */
		uint8_t *p = malloc(n ? n : 1);
		memcpy(p, b, n);
		if (parse(p, n, err) != -EINVAL || !err[0] || strchr(err, '\n'))
			bad++;
		free(p);
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(parse(b, len - 8, err), -EINVAL);
	CHECK(strstr(err, "truncated"));
	free(b);
}

TEST(flipped_byte_everywhere)
{
	size_t len;
	uint8_t *b = make_file(&len);
	char err[256];
	int accepted = 0;
	for (size_t i = 0; i < len; i++) {
		b[i] ^= 0x40;
		if (!parse(b, len, err))
			accepted++;
		b[i] ^= 0x40;
	}
	CHECK_EQ(accepted, 0);
	CHECK_EQ(parse(b, len, err), 0);
	/* A payload byte: named as a checksum mismatch of that section. */
	size_t vcpu1 = len - sizeof(struct snap_section) - 8;
	b[vcpu1] ^= 1;
	CHECK_EQ(parse(b, len, err), -EINVAL);
	CHECK(strstr(err, "vcpu section 1 checksum"));
	free(b);
}

TEST(structure)
{
	size_t len;
	uint8_t *b = make_file(&len);
	char err[256];
	struct snap_section s;
	size_t last = len - sizeof(s); /* the empty serial section */

	struct snap_section orig;
	memcpy(&orig, b + last, sizeof(orig));
	s = orig;
	s.type = 77;
	memcpy(b + last, &s, sizeof(s));
	CHECK_EQ(parse(b, len, err), -EINVAL);
	CHECK(strstr(err, "unknown type 77"));

	s.type = SNAP_SEC_VCPU;
	s.instance = 1;
	s.xxh64 = XXH64(NULL, 0, XXH64(&s, offsetof(struct snap_section, xxh64), 0));
	memcpy(b + last, &s, sizeof(s));
	CHECK_EQ(parse(b, len, err), -EINVAL);
	CHECK(strstr(err, "appears twice"));

	s.type = SNAP_SEC_SERIAL;
	s.instance = 0;
	s.len = ~0ULL;
	memcpy(b + last, &s, sizeof(s));
	CHECK_EQ(parse(b, len, err), -EINVAL);
	CHECK(strstr(err, "claims"));

	memcpy(b + last, &orig, sizeof(orig));
	uint8_t *longer = calloc(1, len + 8);
	memcpy(longer, b, len);
	CHECK_EQ(parse(longer, len + 8, err), -EINVAL);
	CHECK(strstr(err, "after the last section"));
	free(longer);

	struct snap_header hd;
	memcpy(&hd, b, sizeof(hd));
	hd.nr_sections = 100000;
	memcpy(b, &hd, sizeof(hd));
	reseal(b);
	CHECK_EQ(parse(b, len, err), -EINVAL);
	CHECK(strstr(err, "sections"));
	free(b);
}

/* A 4 MiB memfd with data in pages 1, 2 and 700, a written-but-zero page 5, the rest a
 * hole: the memory file has the same bytes at the same offsets, allocates only the three
 * data pages, and a MAP_PRIVATE copy of it reads back equal. */
TEST(memory_sparse)
{
	const uint64_t size = 4 << 20;
	int mfd = memfd_create("test-ram", 0);
	CHECK(mfd >= 0 && ftruncate(mfd, size) == 0);
	uint8_t *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	CHECK(map != MAP_FAILED);
	memset(map + 4096, 0xa5, 8192);
	map[700 * 4096 + 4095] = 1;
	map[5 * 4096] = 0; /* allocates the page, stays zero */

	char path[] = "/tmp/test-snapshot-mem-XXXXXX";
	int out = mkstemp(path);
	CHECK(out >= 0);
	unlink(path);
	struct snapshot_mem_stats st;
	CHECK_EQ(snapshot_mem_write(map, size, mfd, out, &st), 0);
	CHECK_EQ(st.pages_written, 3);
	CHECK(st.pages_zero >= 1);
	struct stat sb;
	CHECK(fstat(out, &sb) == 0);
	CHECK_EQ(sb.st_size, size);
	CHECK(sb.st_blocks * 512 <= 64 * 4096); /* 3 pages + filesystem slack, not 4 MiB */
	uint8_t *back = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, out, 0);
	CHECK(back != MAP_FAILED);
	CHECK(!memcmp(back, map, size));

	/* Without the hole map (restored memory): every page read, the same file. */
	back[9 * 4096] = 7; /* a private write the file does not show */
	char path2[] = "/tmp/test-snapshot-mem-XXXXXX";
	int out2 = mkstemp(path2);
	CHECK(out2 >= 0);
	unlink(path2);
	CHECK_EQ(snapshot_mem_write(back, size, -1, out2, &st), 0);
	CHECK_EQ(st.pages_written, 4);
	uint8_t *back2 = mmap(NULL, size, PROT_READ, MAP_PRIVATE, out2, 0);
	CHECK(back2 != MAP_FAILED && !memcmp(back, back2, size));
	CHECK_EQ(snapshot_mem_write(map, size - 1, mfd, out2, &st), -EINVAL);
	munmap(back2, size);
	munmap(back, size);
	munmap(map, size);
	close(out2);
	close(out);
	close(mfd);
}

/* SNAPSHOT_SEEDS=dir writes the test's valid file there (the fuzz target's seed). */
static void write_seed(void)
{
	const char *dir = getenv("SNAPSHOT_SEEDS");
	char path[4096];
	size_t len;
	if (!dir)
		return;
	uint8_t *b = make_file(&len);
	test_snprintf(path, sizeof(path), "%s/valid-4-sections", dir);
	FILE *fp = fopen(path, "wb");
	if (fp) {
		fwrite(b, 1, len, fp);
		fclose(fp);
	}
	free(b);
}

int main(void)
{
	write_seed();
	RUN(round_trip);
	RUN(bad_magic);
	RUN(wrong_format_version);
	RUN(wrong_arcvmm_version);
	RUN(wrong_host);
	RUN(truncated_everywhere);
	RUN(flipped_byte_everywhere);
	RUN(structure);
	RUN(memory_sparse);
	return test_summary();
}

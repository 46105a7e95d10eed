/* core/snapshot_format.c — writes and checks the snapshot state file (see the header).
 * The parser trusts nothing in the file: every offset is checked against the buffer with
 * overflow-safe arithmetic before it is read, and nothing is handed to a restorer until
 * the whole file passed. xxHash64 comes from Debian's libxxhash.
 */
#include "core/snapshot_format.h"

#include <cpuid.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SNAP_ALIGN 8

static const char *const section_names[SNAP_SEC_END_] = {
    [SNAP_SEC_CONFIG] = "config",
    [SNAP_SEC_MEMORY] = "memory",
    [SNAP_SEC_VM] = "vm",
    [SNAP_SEC_VCPU] = "vcpu",
    [SNAP_SEC_SERIAL] = "serial",
    [SNAP_SEC_I8042] = "i8042",
    [SNAP_SEC_RTC] = "rtc",
    [SNAP_SEC_ACPI_PM] = "acpi-pm",
    [SNAP_SEC_VIRTIO_MMIO] = "virtio-mmio",
    [SNAP_SEC_VIRTIO_DEV] = "virtio-device",
};

/* The checksum covers the section's own header too (type, instance, length): a flipped
 * instance number must not move a vCPU's state to another vCPU. */
static uint64_t section_hash(const struct snap_section *s, const void *data)
{
	uint64_t seed = XXH64(s, offsetof(struct snap_section, xxh64), 0);
	return XXH64(data, s->len, seed);
}

static size_t align_up(size_t n)
{
	return (n + SNAP_ALIGN - 1) & ~(size_t)(SNAP_ALIGN - 1);
}

static void reserve(struct snap_writer *w, size_t more)
{
	if (w->error)
		return;
	if (more > SIZE_MAX - w->len) {
		w->error = -ENOMEM;
		return;
	}
	if (w->len + more <= w->cap)
		return;
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < w->len + more)
		cap *= 2;
	uint8_t *p = realloc(w->buf, cap);
	if (!p) {
		w->error = -ENOMEM;
		return;
	}
	w->buf = p;
	w->cap = cap;
}

void snap_writer_init(struct snap_writer *w, const struct snap_host *host)
{
	struct snap_header h;

	memset(w, 0, sizeof(*w));
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, SNAP_MAGIC, sizeof(h.magic));
	h.format_version = SNAP_FORMAT_VERSION;
	h.header_size = sizeof(h);
	snprintf(h.arcvmm_version, sizeof(h.arcvmm_version), "%s", ARCVMM_VERSION);
	h.host = *host;
	reserve(w, sizeof(h));
	if (!w->error) {
		memcpy(w->buf, &h, sizeof(h));
		w->len = sizeof(h);
	}
}

void snap_writer_add(struct snap_writer *w, uint32_t type, uint32_t instance, const void *data,
		     size_t len)
{
	struct snap_section s = {.type = type, .instance = instance, .len = len};

	if (!w->error && (len > SNAP_MAX_SECTION || w->nr_sections >= SNAP_MAX_SECTIONS))
		w->error = -E2BIG;
	reserve(w, sizeof(s) + align_up(len));
	if (w->error)
		return;
	s.xxh64 = section_hash(&s, data);
	memcpy(w->buf + w->len, &s, sizeof(s));
	w->len += sizeof(s);
	if (len)
		memcpy(w->buf + w->len, data, len);
	memset(w->buf + w->len + len, 0, align_up(len) - len);
	w->len += align_up(len);
	w->nr_sections++;
}

int snap_writer_finish(struct snap_writer *w, const void **out, size_t *outlen)
{
	struct snap_header h;

	if (w->error)
		return w->error;
	memcpy(&h, w->buf, sizeof(h));
	h.nr_sections = w->nr_sections;
	h.header_xxh64 = 0;
	h.header_xxh64 = XXH64(&h, sizeof(h), 0);
	memcpy(w->buf, &h, sizeof(h));
	*out = w->buf;
	*outlen = w->len;
	return 0;
}

void snap_writer_fini(struct snap_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* One line per missing feature word: "needs CPUID.7.EBX bits 0x20 the host lacks". */
static int check_host(const struct snap_host *need, const struct snap_host *have, char *err,
		      size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
	} words[] = {
	    {"CPUID.1.ECX", offsetof(struct snap_host, cpuid1_ecx)},
	    {"CPUID.1.EDX", offsetof(struct snap_host, cpuid1_edx)},
	    {"CPUID.7.EBX", offsetof(struct snap_host, cpuid7_ebx)},
	    {"CPUID.7.ECX", offsetof(struct snap_host, cpuid7_ecx)},
	    {"CPUID.7.EDX", offsetof(struct snap_host, cpuid7_edx)},
	    {"CPUID.D.1.EAX", offsetof(struct snap_host, cpuid_d1_eax)},
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		uint32_t n, h;
		memcpy(&n, (const char *)need + words[i].off, 4);
		memcpy(&h, (const char *)have + words[i].off, 4);
		if (n & ~h)
			return fail(err, errlen,
				    "snapshot needs CPU features this host lacks: %s bits 0x%x",
				    words[i].name, n & ~h);
	}
	if (need->xcr0_mask & ~have->xcr0_mask)
		return fail(err, errlen,
			    "snapshot needs XSAVE features this host lacks: XCR0 bits 0x%llx",
			    (unsigned long long)(need->xcr0_mask & ~have->xcr0_mask));
	if (need->xsave_size > have->xsave_size)
		return fail(err, errlen,
			    "snapshot has %u bytes of XSAVE state, this host's is %u bytes",
			    need->xsave_size, have->xsave_size);
	return 0;
}

int snap_parse(const void *buf, size_t len, const char *version, const struct snap_host *host,
	       struct snap_file *f, char *err, size_t errlen)
{
	const uint8_t *p = buf;
	struct snap_header h;
	size_t off;
	int r;

	memset(f, 0, sizeof(*f));
	if (len < sizeof(h.magic) || memcmp(p, SNAP_MAGIC, sizeof(h.magic)))
		return fail(err, errlen, "not an arcvmm snapshot (bad magic)");
	if (len < offsetof(struct snap_header, header_size))
		return fail(err, errlen, "truncated: %zu bytes, shorter than the header", len);
	uint32_t fv;
	memcpy(&fv, p + offsetof(struct snap_header, format_version), sizeof(fv));
	if (fv != SNAP_FORMAT_VERSION)
		return fail(err, errlen, "snapshot format version %u, this arcvmm reads version %u",
			    fv, SNAP_FORMAT_VERSION);
	if (len < sizeof(h))
		return fail(err, errlen, "truncated: %zu bytes, shorter than the header", len);
	memcpy(&h, p, sizeof(h));
	if (h.header_size != sizeof(h))
		return fail(err, errlen, "corrupted header: header size %u (expected %zu)",
			    h.header_size, sizeof(h));
	uint64_t want = h.header_xxh64;
	h.header_xxh64 = 0;
	if (XXH64(&h, sizeof(h), 0) != want)
		return fail(err, errlen, "corrupted header: checksum mismatch");
	h.header_xxh64 = want;
	if (!memchr(h.arcvmm_version, 0, sizeof(h.arcvmm_version)))
		return fail(err, errlen, "corrupted header: arcvmm version not terminated");
	if (version && strcmp(h.arcvmm_version, version))
		return fail(err, errlen, "snapshot made by arcvmm %s, this is arcvmm %s",
			    h.arcvmm_version, version);
	if (host && (r = check_host(&h.host, host, err, errlen)))
		return r;
	if (h.nr_sections > SNAP_MAX_SECTIONS)
		return fail(err, errlen, "corrupted header: %u sections (at most %u)",
			    h.nr_sections, SNAP_MAX_SECTIONS);

	struct snap_ref *secs = calloc(h.nr_sections ? h.nr_sections : 1, sizeof(*secs));
	if (!secs) {
		snprintf(err, errlen, "out of memory reading the snapshot");
		return -ENOMEM;
	}
	off = sizeof(h);
	for (uint32_t i = 0; i < h.nr_sections; i++) {
		struct snap_section s;
		if (len - off < sizeof(s)) {
			r = fail(err, errlen,
				 "truncated: section %u of %u missing (file ends at %zu)", i + 1,
				 h.nr_sections, len);
			goto bad;
		}
		memcpy(&s, p + off, sizeof(s));
		off += sizeof(s);
		if (!s.type || s.type >= SNAP_SEC_END_) {
			r = fail(err, errlen, "corrupted: section %u has unknown type %u", i + 1,
				 s.type);
			goto bad;
		}
		const char *name = section_names[s.type];
		if (s.len > SNAP_MAX_SECTION) {
			r = fail(err, errlen, "corrupted: %s section %u claims %llu bytes", name,
				 s.instance, (unsigned long long)s.len);
			goto bad;
		}
		if (len - off < align_up(s.len)) {
			r = fail(err, errlen,
				 "truncated: %s section %u needs %llu bytes, %zu left in the file",
				 name, s.instance, (unsigned long long)s.len, len - off);
			goto bad;
		}
		if (section_hash(&s, p + off) != s.xxh64) {
			r = fail(err, errlen, "corrupted: %s section %u checksum mismatch", name,
				 s.instance);
			goto bad;
		}
		for (size_t k = s.len; k < align_up(s.len); k++)
			if (p[off + k]) {
				r = fail(err, errlen,
					 "corrupted: %s section %u has non-zero padding", name,
					 s.instance);
				goto bad;
			}
		for (uint32_t j = 0; j < i; j++)
			if (secs[j].type == s.type && secs[j].instance == s.instance) {
				r = fail(err, errlen, "corrupted: %s section %u appears twice",
					 name, s.instance);
				goto bad;
			}
		secs[i] = (struct snap_ref){s.type, s.instance, p + off, s.len};
		off += align_up(s.len);
	}
	if (off != len) {
		r = fail(err, errlen, "corrupted: %zu bytes after the last section", len - off);
		goto bad;
	}
	f->hdr = buf;
	f->secs = secs;
	f->nr_secs = h.nr_sections;
	return 0;
bad:
	free(secs);
	return r;
}

void snap_file_fini(struct snap_file *f)
{
	free(f->secs);
	memset(f, 0, sizeof(*f));
}

const struct snap_ref *snap_find(const struct snap_file *f, uint32_t type, uint32_t instance)
{
	for (unsigned i = 0; i < f->nr_secs; i++)
		if (f->secs[i].type == type && f->secs[i].instance == instance)
			return &f->secs[i];
	return NULL;
}

void snap_host_probe(struct snap_host *h)
{
	unsigned a, b, c, d;

	memset(h, 0, sizeof(*h));
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		/* OSXSAVE (bit 27) and the APIC ID-dependent bits are the OS's, not features. */
		h->cpuid1_ecx = c & ~(1u << 27);
		h->cpuid1_edx = d;
	}
	if (__get_cpuid_max(0, NULL) >= 7) {
		__cpuid_count(7, 0, a, b, c, d);
		h->cpuid7_ebx = b;
		/* OSPKE (bit 4) follows CR4, not the CPU. */
		h->cpuid7_ecx = c & ~(1u << 4);
		h->cpuid7_edx = d;
	}
	if (__get_cpuid_max(0, NULL) >= 0xd) {
		__cpuid_count(0xd, 0, a, b, c, d);
		h->xcr0_mask = ((uint64_t)d << 32) | a;
		h->xsave_size = c;
		__cpuid_count(0xd, 1, a, b, c, d);
		h->cpuid_d1_eax = a;
	}
}

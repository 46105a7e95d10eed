/* arch/x86/aml.c — see aml.h. Names are checked against the AML grammar (lead character,
 * 4-character segments); a bad name or a full buffer sets err once and stops all output. */
#include "arch/x86/aml.h"

#include <errno.h>
#include <string.h>

enum aml_op {
	AML_ZERO = 0x00,
	AML_ONE = 0x01,
	AML_NAME = 0x08,
	AML_BYTE = 0x0a,
	AML_WORD = 0x0b,
	AML_DWORD = 0x0c,
	AML_STRING = 0x0d,
	AML_QWORD = 0x0e,
	AML_SCOPE = 0x10,
	AML_BUFFER = 0x11,
	AML_PACKAGE = 0x12,
	AML_METHOD = 0x14,
	AML_NOTIFY = 0x86,
	AML_EXT_PREFIX = 0x5b,
	AML_EXT_DEVICE = 0x82,
	AML_ROOT_CHAR = 0x5c,
	AML_PARENT_CHAR = 0x5e,
	AML_DUAL_NAME = 0x2e,
	AML_MULTI_NAME = 0x2f,
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->len = 0;
	a->cap = cap;
	a->err = 0;
}

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (n > a->cap - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	uint8_t b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, n);
}

/* Puts n bytes at pos, moving what follows up. */
static void aml_insert(struct aml *a, size_t pos, const uint8_t *p, size_t n)
{
	if (a->err)
		return;
	if (pos > a->len || n > a->cap - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memmove(a->buf + pos + n, a->buf + pos, a->len - pos);
	memcpy(a->buf + pos, p, n);
	a->len += n;
}

size_t aml_pkglength(uint8_t out[4], size_t content_len)
{
	/* One byte holds 6 bits of length; with 1..3 more bytes the lead byte keeps 4 bits and
	 * each follower adds 8: up to 2^12, 2^20, 2^28. The length counts itself. */
	if (content_len + 1 <= 0x3f) {
		out[0] = (uint8_t)(content_len + 1);
		return 1;
	}
	for (size_t n = 2; n <= 4; n++) {
		size_t total = content_len + n;

		if (total < (1ULL << (4 + 8 * (n - 1)))) {
			out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
			for (size_t i = 1; i < n; i++)
				out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
			return n;
		}
	}
	return 0;
}

void aml_end(struct aml *a, size_t mark)
{
	uint8_t pl[4];
	size_t n;

	if (a->err)
		return;
	if (mark > a->len) {
		aml_fail(a, -EINVAL);
		return;
	}
	n = aml_pkglength(pl, a->len - mark);
	if (!n) {
		aml_fail(a, -ENOSPC);
		return;
	}
	aml_insert(a, mark, pl, n);
}

void aml_buffer_end(struct aml *a, size_t mark)
{
	uint8_t tmp[9];
	struct aml size;

	if (a->err)
		return;
	if (mark > a->len) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_init(&size, tmp, sizeof(tmp));
	aml_integer(&size, a->len - mark);
	aml_insert(a, mark, tmp, size.len);
	aml_end(a, mark);
}

static bool aml_is_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool aml_is_name_char(char c)
{
	return aml_is_lead_char(c) || (c >= '0' && c <= '9');
}

void aml_namestring(struct aml *a, const char *name)
{
	char segs[255][4];
	unsigned nsegs = 0;
	const char *p = name;

	while (*p == '\\' || *p == '^') {
		aml_byte(a, *p == '\\' ? AML_ROOT_CHAR : AML_PARENT_CHAR);
		p++;
	}
	while (*p) {
		size_t n = 0;

		if (nsegs == 255) {
			aml_fail(a, -EINVAL);
			return;
		}
		memset(segs[nsegs], '_', 4);
		while (p[n] && p[n] != '.') {
			if (n == 4 || !aml_is_name_char(p[n]) ||
			    (n == 0 && !aml_is_lead_char(p[n]))) {
				aml_fail(a, -EINVAL);
				return;
			}
			segs[nsegs][n] = p[n];
			n++;
		}
		if (n == 0) {
			aml_fail(a, -EINVAL);
			return;
		}
		nsegs++;
		p += n;
		if (*p == '.') {
			p++;
			if (!*p) {
				aml_fail(a, -EINVAL);
				return;
			}
		}
	}
	if (nsegs == 0) {
		aml_byte(a, AML_ZERO); /* NullName */
		return;
	}
	if (nsegs == 2) {
		aml_byte(a, AML_DUAL_NAME);
	} else if (nsegs > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t)nsegs);
	}
	aml_bytes(a, segs, (size_t)nsegs * 4);
}

size_t aml_scope_begin(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_SCOPE);
	mark = a->len;
	aml_namestring(a, name);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, AML_EXT_DEVICE);
	mark = a->len;
	aml_namestring(a, name);
	return mark;
}

size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs)
{
	size_t mark;

	if (nargs > 7 && !a->err)
		a->err = -EINVAL;
	aml_byte(a, AML_METHOD);
	mark = a->len;
	aml_namestring(a, name);
	aml_byte(a, (uint8_t)(nargs & 7)); /* MethodFlags: not serialized, sync level 0 */
	return mark;
}

void aml_notify(struct aml *a, const char *target, uint64_t value)
{
	aml_byte(a, AML_NOTIFY);
	aml_namestring(a, target);
	aml_integer(a, value);
}

size_t aml_package_begin(struct aml *a, uint8_t nelems)
{
	size_t mark;

	aml_byte(a, AML_PACKAGE);
	mark = a->len;
	aml_byte(a, nelems);
	return mark;
}

size_t aml_buffer_begin(struct aml *a)
{
	aml_byte(a, AML_BUFFER);
	return a->len;
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME);
	aml_namestring(a, name);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p > 0x7f) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v;
	int d[4];

	if (strlen(id) != 7) {
		aml_fail(a, -EINVAL);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	for (int i = 0; i < 4; i++) {
		d[i] = hex_digit(id[3 + i]);
		if (d[i] < 0) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	/* Three letters of 5 bits each ('A' = 1) in a big-endian 16-bit word, then the four
	 * hex digits big-endian; the whole is stored as a little-endian DWORD. */
	uint16_t letters =
	    (uint16_t)(((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40));
	uint16_t product = (uint16_t)((d[0] << 12) | (d[1] << 8) | (d[2] << 4) | d[3]);
	v = (uint32_t)(letters >> 8) | (uint32_t)(letters & 0xff) << 8 |
	    (uint32_t)(product >> 8) << 16 | (uint32_t)(product & 0xff) << 24;
	/* Always a DWORD, as ASL compilers emit it (even when the value would fit smaller). */
	aml_byte(a, AML_DWORD);
	aml_le(a, v, 4);
}

void aml_res_io(struct aml *a, uint16_t port, uint8_t len)
{
	aml_byte(a, 0x47); /* small item 0x08 (I/O port), 7 bytes */
	aml_byte(a, 0x01); /* 16-bit decode */
	aml_le(a, port, 2);
	aml_le(a, port, 2);
	aml_byte(a, 0x01); /* alignment */
	aml_byte(a, len);
}

void aml_res_irq(struct aml *a, uint8_t irq)
{
	if (irq > 15) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, 0x22); /* small item 0x04 (IRQ), 2 bytes: edge, active high */
	aml_le(a, 1u << irq, 2);
}

void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len, bool is_writable)
{
	aml_byte(a, 0x86); /* large item 0x06 (32-bit fixed memory range) */
	aml_le(a, 9, 2);
	aml_byte(a, is_writable ? 1 : 0);
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

void aml_res_interrupt(struct aml *a, uint32_t gsi)
{
	aml_byte(a, 0x89); /* large item 0x09 (extended interrupt) */
	aml_le(a, 6, 2);
	aml_byte(a, 0x03); /* consumer, edge, active high, exclusive, not wake capable */
	aml_byte(a, 1);	   /* one interrupt number */
	aml_le(a, gsi, 4);
}

void aml_res_end(struct aml *a)
{
	aml_byte(a, 0x79); /* end tag */
	aml_byte(a, 0x00); /* checksum 0: "treat as correct" */
}

/* arch/x86/aml.h — a small encoder for ACPI Machine Language (the DSDT's byte code):
 * names, integers, strings, packages, devices and resource descriptors — only what the
 * DSDT in acpi.c needs. Written here because no kept Debian library offers an AML
 * encoder for C (acpica's iasl compiles ASL text, at build time, not at run time).
 * Trusts its caller; every write is bounded by the buffer it was given.
 */
#ifndef ARCVMM_ARCH_X86_AML_H
#define ARCVMM_ARCH_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A byte buffer that remembers the first failure: once err is set, every call is a no-op,
 * so a builder checks err once at the end. */
struct aml {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int err; /* 0, or -ENOSPC (buffer full) / -EINVAL (bad name or value) */
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
/* Encodes a PkgLength for content_len bytes of content after it (the value counts its own
 * bytes too). Returns the number of bytes written to out (1..4), or 0 if too long. */
size_t aml_pkglength(uint8_t out[4], size_t content_len);

/* Structured objects: call *_begin, emit the contents, then aml_end with the returned mark;
 * aml_end inserts the PkgLength in front of the contents. */
size_t aml_scope_begin(struct aml *a, const char *name);
size_t aml_device_begin(struct aml *a, const char *name);
size_t aml_package_begin(struct aml *a, uint8_t nelems);
/* Method(name, nargs) { ... } — end with aml_end(). */
size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs);
/* Notify(target, value), a statement inside a method. */
void aml_notify(struct aml *a, const char *target, uint64_t value);
size_t aml_buffer_begin(struct aml *a);
void aml_end(struct aml *a, size_t mark);
/* Ends a buffer: inserts its PkgLength and its byte count (an integer) in front. */
void aml_buffer_end(struct aml *a, size_t mark);

/* Name(name, <object that follows>) — the object is the next thing emitted. */
void aml_name(struct aml *a, const char *name);
/* A NameString: "\\_SB_", "COM1", "\\_SB_.VR00"; segments shorter than 4 are padded with
 * '_'. */
void aml_namestring(struct aml *a, const char *name);
void aml_integer(struct aml *a, uint64_t v); /* smallest encoding: Zero/One/Byte/Word/... */
void aml_string(struct aml *a, const char *s);
/* EisaId("PNP0501") as its 32-bit compressed integer. */
void aml_eisaid(struct aml *a, const char *id);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* Resource descriptors, to go inside a buffer. */
void aml_res_io(struct aml *a, uint16_t port, uint8_t len);
void aml_res_irq(struct aml *a, uint8_t irq); /* IRQNoFlags: edge, active high */
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len, bool is_writable);
/* Extended interrupt: consumer, edge, active high, exclusive. */
void aml_res_interrupt(struct aml *a, uint32_t gsi);
void aml_res_end(struct aml *a);

#endif

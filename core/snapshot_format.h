/* core/snapshot_format.h — the snapshot state file: a header and typed sections, each with
 * its own length and xxHash64. Writing is trusted; parsing treats the file as hostile
 * (every length checked against the file, every checksum verified, the version and the
 * host checked) before anything is restored, so a bad file is refused as a whole.
 *
 * Layout (little-endian, host x86-64):
 *	struct snap_header                  (header_xxh64 over the header with it zeroed)
 *	nr_sections × { struct snap_section, len bytes of payload, padding to 8 }
 */
#ifndef ARCVMM_CORE_SNAPSHOT_FORMAT_H
#define ARCVMM_CORE_SNAPSHOT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC	    "ARCVMMSS"
#define SNAP_FORMAT_VERSION 1
#define SNAP_MAX_SECTIONS   4096
#define SNAP_MAX_SECTION    (64u << 20) /* no section of ours comes near this */

/* CPU features the saved state depends on: the guest was given (a subset of) these, and
 * XSAVE state of xsave_size bytes. A host without one of them cannot run the state. */
struct snap_host {
	uint32_t cpuid1_ecx, cpuid1_edx;
	uint32_t cpuid7_ebx, cpuid7_ecx, cpuid7_edx;
	uint32_t cpuid_d1_eax; /* XSAVEOPT/XSAVEC/XGETBV1/XSAVES */
	uint64_t xcr0_mask;    /* CPUID.(0xd,0): XSAVE features the host supports */
	uint32_t xsave_size;
	uint32_t pad;
};

struct snap_header {
	char magic[8];
	uint32_t format_version;
	uint32_t header_size;
	char arcvmm_version[32]; /* NUL-terminated */
	struct snap_host host;
	uint32_t nr_sections;
	uint32_t pad;
	uint64_t header_xxh64;
};

enum snap_section_type {
	SNAP_SEC_CONFIG = 1, /* the VM config (JSON text) */
	SNAP_SEC_MEMORY,     /* struct snap_memory */
	SNAP_SEC_VM,	     /* hv: irqchips, PIT, clock (opaque to the core) */
	SNAP_SEC_VCPU,	     /* hv: one vCPU (instance = index) */
	SNAP_SEC_SERIAL,
	SNAP_SEC_I8042,
	SNAP_SEC_RTC,
	SNAP_SEC_ACPI_PM,
	SNAP_SEC_VIRTIO_MMIO, /* struct virtio_mmio_state (instance = slot) */
	SNAP_SEC_VIRTIO_DEV,  /* the device's ops->save bytes (instance = slot) */
	SNAP_SEC_END_,
};

struct snap_section {
	uint32_t type;
	uint32_t instance;
	uint64_t len;
	uint64_t xxh64; /* of the payload */
};

/* The memory file's description: regions as guest_mem has them. */
#define SNAP_MAX_MEM_REGIONS 4
struct snap_memory {
	uint64_t total_size; /* the memory file's size */
	uint32_t nr_regions;
	uint32_t pad;
	struct {
		uint64_t gpa, size, fd_offset;
	} regions[SNAP_MAX_MEM_REGIONS];
};

/* --- writing (trusted) --- */
struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	uint32_t nr_sections;
	int error; /* sticky -ENOMEM */
};
void snap_writer_init(struct snap_writer *w, const struct snap_host *host);
/* Appends a section (copies data). Errors are sticky; snap_writer_finish() reports them. */
void snap_writer_add(struct snap_writer *w, uint32_t type, uint32_t instance, const void *data,
		     size_t len);
/* Fills in the header; out and outlen give the whole file (owned by w). 0 or -errno. */
int snap_writer_finish(struct snap_writer *w, const void **out, size_t *outlen);
void snap_writer_fini(struct snap_writer *w);

/* --- parsing (hostile) --- */
struct snap_ref {
	uint32_t type, instance;
	const void *data;
	size_t len;
};
struct snap_file {
	const struct snap_header *hdr; /* points into the buffer parsed */
	struct snap_ref *secs;	       /* malloc'd */
	unsigned nr_secs;
};
/* Checks the whole buffer: magic, format version, arcvmm version (must equal ours unless
 * version is NULL), header checksum, the host (NULL: not checked) has every feature the
 * state needs, every section's bounds, type and checksum. On failure returns -EINVAL (or
 * -ENOMEM) with one line naming what is wrong in err, and *f is left empty. */
int snap_parse(const void *buf, size_t len, const char *version, const struct snap_host *host,
	       struct snap_file *f, char *err, size_t errlen);
void snap_file_fini(struct snap_file *f);
/* The section of this type and instance, or NULL. */
const struct snap_ref *snap_find(const struct snap_file *f, uint32_t type, uint32_t instance);

/* The host's features (CPUID), for writing and checking. */
void snap_host_probe(struct snap_host *h);

#endif

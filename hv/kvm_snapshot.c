/* hv/kvm_snapshot.c — a vCPU's and a VM's KVM state for snapshots: regs, sregs, XSAVE
 * (KVM_GET_XSAVE2 where offered), XCRs, every MSR of KVM_GET_MSR_INDEX_LIST, LAPIC, vCPU
 * events, MP state, debug registers, CPUID and the TSC frequency; per VM the PICs, the
 * IOAPIC, the PIT and the kvmclock.
 *
 * The blob is a list of records {u32 tag, u32 len, payload padded to 8}. Trust: save is
 * trusted; restore treats the blob as hostile — every record's length is checked against
 * the blob and against the kernel structure's size before an ioctl sees it, and a record
 * that is required and missing refuses the whole restore.
 */
#include "hv/hv.h"
#include "hv/kvm_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define MSR_IA32_TSC 0x10

enum rec_tag {
	REC_REGS = 1,
	REC_SREGS,
	REC_XSAVE,
	REC_XCRS,
	REC_MSRS,
	REC_LAPIC,
	REC_EVENTS,
	REC_MP_STATE,
	REC_DEBUGREGS,
	REC_CPUID,
	REC_TSC_KHZ,
	REC_PIC_MASTER,
	REC_PIC_SLAVE,
	REC_IOAPIC,
	REC_PIT2,
	REC_CLOCK,
	REC_END_,
};

static const char *const rec_names[REC_END_] = {
    [REC_REGS] = "regs",	   [REC_SREGS] = "sregs",	[REC_XSAVE] = "xsave",
    [REC_XCRS] = "xcrs",	   [REC_MSRS] = "msrs",		[REC_LAPIC] = "lapic",
    [REC_EVENTS] = "events",	   [REC_MP_STATE] = "mp-state", [REC_DEBUGREGS] = "debugregs",
    [REC_CPUID] = "cpuid",	   [REC_TSC_KHZ] = "tsc-khz",	[REC_PIC_MASTER] = "pic-master",
    [REC_PIC_SLAVE] = "pic-slave", [REC_IOAPIC] = "ioapic",	[REC_PIT2] = "pit",
    [REC_CLOCK] = "kvmclock",
};

struct blob {
	uint8_t *buf;
	size_t len, cap;
	int error;
};

static void blob_add(struct blob *b, uint32_t tag, const void *data, size_t len)
{
	size_t need = 8 + ((len + 7) & ~(size_t)7);
	if (b->error)
		return;
	if (len > UINT32_MAX) {
		b->error = -E2BIG;
		return;
	}
	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16384;
		while (cap < b->len + need)
			cap *= 2;
		uint8_t *p = realloc(b->buf, cap);
		if (!p) {
			b->error = -ENOMEM;
			return;
		}
		b->buf = p;
		b->cap = cap;
	}
	uint32_t hdr[2] = {tag, (uint32_t)len};
	memcpy(b->buf + b->len, hdr, 8);
	memcpy(b->buf + b->len + 8, data, len);
	memset(b->buf + b->len + 8 + len, 0, need - 8 - len);
	b->len += need;
}

static int say(char *err, size_t errlen, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

/* Finds each record once; refs[tag] = payload, lens[tag] = length. Hostile input. */
static int blob_index(const void *buf, size_t len, const void **refs, size_t *lens, char *err,
		      size_t errlen)
{
	const uint8_t *p = buf;
	size_t off = 0;

	memset(refs, 0, sizeof(*refs) * REC_END_);
	while (off < len) {
		uint32_t hdr[2];
		if (len - off < 8)
			return say(err, errlen, -EINVAL, "corrupted KVM state: record header cut");
		memcpy(hdr, p + off, 8);
		off += 8;
		size_t padded = ((size_t)hdr[1] + 7) & ~(size_t)7;
		if (!hdr[0] || hdr[0] >= REC_END_)
			return say(err, errlen, -EINVAL, "corrupted KVM state: unknown record %u",
				   hdr[0]);
		if (len - off < padded)
			return say(err, errlen, -EINVAL, "corrupted KVM state: %s record cut",
				   rec_names[hdr[0]]);
		if (refs[hdr[0]])
			return say(err, errlen, -EINVAL, "corrupted KVM state: %s record twice",
				   rec_names[hdr[0]]);
		refs[hdr[0]] = p + off;
		lens[hdr[0]] = hdr[1];
		off += padded;
	}
	return 0;
}

/* The MSRs KVM saves for migration. Some in the list are refused by KVM_GET_MSRS on this
 * CPU (KVM returns how many it read: the first refused one stops the batch) — drop each
 * refused one and read the rest again. */
static struct kvm_msrs *read_msrs(struct hv_vcpu *vcpu, char *err, size_t errlen)
{
	struct kvm_msr_list probe = {.nmsrs = 0}, *list;
	struct kvm_msrs *m;
	int n;

	if (ioctl(vcpu->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG) {
		say(err, errlen, 0, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		return NULL;
	}
	list = malloc(sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	m = calloc(1, sizeof(*m) + probe.nmsrs * sizeof(struct kvm_msr_entry));
	if (!list || !m)
		goto nomem;
	list->nmsrs = probe.nmsrs;
	if (ioctl(vcpu->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		say(err, errlen, 0, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		goto fail;
	}
	m->nmsrs = list->nmsrs;
	for (unsigned i = 0; i < list->nmsrs; i++)
		m->entries[i].index = list->indices[i];
	for (;;) {
		n = ioctl(vcpu->fd, KVM_GET_MSRS, m);
		if (n < 0) {
			say(err, errlen, 0, "KVM_GET_MSRS: %s", strerror(errno));
			goto fail;
		}
		if ((unsigned)n >= m->nmsrs)
			break;
		/* entries[n] was refused: drop it, keep the order of the rest. */
		memmove(&m->entries[n], &m->entries[n + 1],
			(m->nmsrs - n - 1) * sizeof(m->entries[0]));
		m->nmsrs--;
	}
	free(list);
	return m;
nomem:
	say(err, errlen, 0, "out of memory saving the MSRs");
fail:
	free(list);
	free(m);
	return NULL;
}

#define GET(req, what, obj)                                                            \
	do {                                                                           \
		if (ioctl(vcpu->fd, req, obj) < 0) {                                   \
			r = say(err, errlen, -errno, "%s: %s", #req, strerror(errno)); \
			goto out;                                                      \
		}                                                                      \
		blob_add(&b, what, obj, sizeof(*(obj)));                               \
	} while (0)

int hv_vcpu_save(struct hv_vcpu *vcpu, void **out, size_t *len, char *err, size_t errlen)
{
	struct blob b = {0};
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_debugregs dregs;
	struct kvm_msrs *msrs = NULL;
	struct kvm_cpuid2 *cpuid = NULL;
	void *xsave = NULL;
	int r = 0;

	GET(KVM_GET_MP_STATE, REC_MP_STATE, &mp);
	GET(KVM_GET_REGS, REC_REGS, &regs);
	GET(KVM_GET_SREGS, REC_SREGS, &sregs);
	GET(KVM_GET_XCRS, REC_XCRS, &xcrs);
	GET(KVM_GET_LAPIC, REC_LAPIC, &lapic);
	GET(KVM_GET_VCPU_EVENTS, REC_EVENTS, &events);
	GET(KVM_GET_DEBUGREGS, REC_DEBUGREGS, &dregs);

	/* XSAVE: the size KVM_CAP_XSAVE2 gives (AMX and friends need more than 4 KiB). */
	int xsize = ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	unsigned long xreq = KVM_GET_XSAVE2;
	if (xsize < (int)sizeof(struct kvm_xsave)) {
		xsize = sizeof(struct kvm_xsave);
		xreq = KVM_GET_XSAVE;
	}
	xsave = calloc(1, xsize);
	if (!xsave) {
		r = say(err, errlen, -ENOMEM, "out of memory saving XSAVE state");
		goto out;
	}
	if (ioctl(vcpu->fd, xreq, xsave) < 0) {
		r = say(err, errlen, -errno, "KVM_GET_XSAVE: %s", strerror(errno));
		goto out;
	}
	blob_add(&b, REC_XSAVE, xsave, xsize);

	msrs = read_msrs(vcpu, err, errlen);
	if (!msrs) {
		r = -EIO;
		goto out;
	}
	blob_add(&b, REC_MSRS, msrs, sizeof(*msrs) + msrs->nmsrs * sizeof(msrs->entries[0]));

	unsigned ncpuid = 256;
	cpuid = calloc(1, sizeof(*cpuid) + ncpuid * sizeof(cpuid->entries[0]));
	if (!cpuid) {
		r = say(err, errlen, -ENOMEM, "out of memory saving CPUID");
		goto out;
	}
	cpuid->nent = ncpuid;
	if (ioctl(vcpu->fd, KVM_GET_CPUID2, cpuid) < 0) {
		r = say(err, errlen, -errno, "KVM_GET_CPUID2: %s", strerror(errno));
		goto out;
	}
	blob_add(&b, REC_CPUID, cpuid, sizeof(*cpuid) + cpuid->nent * sizeof(cpuid->entries[0]));

	int khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	if (khz > 0) {
		uint32_t k = khz;
		blob_add(&b, REC_TSC_KHZ, &k, sizeof(k));
	}
	if (b.error)
		r = say(err, errlen, b.error, "out of memory saving vCPU %u", vcpu->index);
out:
	free(xsave);
	free(msrs);
	free(cpuid);
	if (r) {
		free(b.buf);
		return r;
	}
	*out = b.buf;
	*len = b.len;
	return 0;
}

static int need(const void **refs, size_t *lens, unsigned tag, size_t size, char *err,
		size_t errlen)
{
	if (!refs[tag])
		return say(err, errlen, -EINVAL, "KVM state has no %s record", rec_names[tag]);
	if (size && lens[tag] != size)
		return say(err, errlen, -EINVAL, "KVM state: %s record is %zu bytes, expected %zu",
			   rec_names[tag], lens[tag], size);
	return 0;
}

/* The record copied into an aligned, owned buffer (the blob's payload is only 8-aligned
 * and KVM's structures are read in place). */
static void *dup_rec(const void *p, size_t len, size_t min)
{
	void *d = calloc(1, len > min ? len : min);
	if (d)
		memcpy(d, p, len);
	return d;
}

#define SET(req, tag, type)                                                                \
	do {                                                                               \
		type v;                                                                    \
		if ((r = need(refs, lens, tag, sizeof(v), err, errlen)))                   \
			goto out;                                                          \
		memcpy(&v, refs[tag], sizeof(v));                                          \
		if (ioctl(vcpu->fd, req, &v) < 0) {                                        \
			r = say(err, errlen, -errno, "vCPU %u: %s: %s", vcpu->index, #req, \
				strerror(errno));                                          \
			goto out;                                                          \
		}                                                                          \
	} while (0)

int hv_vcpu_restore(struct hv_vcpu *vcpu, const void *buf, size_t len, char *err, size_t errlen)
{
	const void *refs[REC_END_];
	size_t lens[REC_END_];
	void *tmp = NULL;
	int r;

	if ((r = blob_index(buf, len, refs, lens, err, errlen)))
		return r;

	/* CPUID first: it decides which MSRs and XSAVE components the vCPU accepts. */
	if ((r = need(refs, lens, REC_CPUID, 0, err, errlen)))
		return r;
	if (lens[REC_CPUID] < sizeof(struct kvm_cpuid2))
		return say(err, errlen, -EINVAL, "KVM state: cpuid record too short");
	struct kvm_cpuid2 c0;
	memcpy(&c0, refs[REC_CPUID], sizeof(c0));
	if (c0.nent > 256 ||
	    lens[REC_CPUID] != sizeof(c0) + c0.nent * sizeof(struct kvm_cpuid_entry2))
		return say(err, errlen, -EINVAL, "KVM state: cpuid record size mismatch");
	tmp = dup_rec(refs[REC_CPUID], lens[REC_CPUID], 0);
	if (!tmp)
		return -ENOMEM;
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, tmp) < 0) {
		r = say(err, errlen, -errno, "vCPU %u: KVM_SET_CPUID2: %s", vcpu->index,
			strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;

	if (refs[REC_TSC_KHZ] && lens[REC_TSC_KHZ] == 4) {
		uint32_t khz;
		memcpy(&khz, refs[REC_TSC_KHZ], 4);
		int now = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
		/* A few kHz apart is calibration noise; more needs TSC scaling. */
		if (now > 0 && (khz > (uint32_t)now + 1000 || khz + 1000 < (uint32_t)now) &&
		    ioctl(vcpu->fd, KVM_SET_TSC_KHZ, (unsigned long)khz) < 0) {
			r = say(err, errlen, -EINVAL,
				"snapshot's TSC runs at %u kHz, this host's at %d kHz and KVM "
				"cannot scale it",
				khz, now);
			goto out;
		}
	}

	SET(KVM_SET_REGS, REC_REGS, struct kvm_regs);
	SET(KVM_SET_SREGS, REC_SREGS, struct kvm_sregs);

	if ((r = need(refs, lens, REC_XSAVE, 0, err, errlen)))
		goto out;
	if (lens[REC_XSAVE] < sizeof(struct kvm_xsave) || lens[REC_XSAVE] > (1u << 20)) {
		r = say(err, errlen, -EINVAL, "KVM state: xsave record of %zu bytes",
			lens[REC_XSAVE]);
		goto out;
	}
	int xsize = ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (xsize < (int)sizeof(struct kvm_xsave))
		xsize = sizeof(struct kvm_xsave);
	if (lens[REC_XSAVE] > (size_t)xsize) {
		r = say(err, errlen, -EINVAL,
			"snapshot has %zu bytes of XSAVE state, this host's KVM takes %d",
			lens[REC_XSAVE], xsize);
		goto out;
	}
	tmp = dup_rec(refs[REC_XSAVE], lens[REC_XSAVE], xsize);
	if (!tmp) {
		r = -ENOMEM;
		goto out;
	}
	if (ioctl(vcpu->fd, KVM_SET_XSAVE, tmp) < 0) {
		r = say(err, errlen, -errno, "vCPU %u: KVM_SET_XSAVE: %s", vcpu->index,
			strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;

	SET(KVM_SET_XCRS, REC_XCRS, struct kvm_xcrs);
	SET(KVM_SET_DEBUGREGS, REC_DEBUGREGS, struct kvm_debugregs);
	SET(KVM_SET_LAPIC, REC_LAPIC, struct kvm_lapic_state);

	/* MSRs after the LAPIC (APIC base, TSC deadline) and CPUID; MSR_IA32_TSC among them
	 * puts the guest's TSC back where it was, so it continues monotonically. */
	if ((r = need(refs, lens, REC_MSRS, 0, err, errlen)))
		goto out;
	struct kvm_msrs m0;
	if (lens[REC_MSRS] < sizeof(m0)) {
		r = say(err, errlen, -EINVAL, "KVM state: msrs record too short");
		goto out;
	}
	memcpy(&m0, refs[REC_MSRS], sizeof(m0));
	if (m0.nmsrs > 4096 ||
	    lens[REC_MSRS] != sizeof(m0) + m0.nmsrs * sizeof(struct kvm_msr_entry)) {
		r = say(err, errlen, -EINVAL, "KVM state: msrs record size mismatch");
		goto out;
	}
	tmp = dup_rec(refs[REC_MSRS], lens[REC_MSRS], 0);
	if (!tmp) {
		r = -ENOMEM;
		goto out;
	}
	int n = ioctl(vcpu->fd, KVM_SET_MSRS, tmp);
	if (n < 0 || (unsigned)n != m0.nmsrs) {
		struct kvm_msrs *m = tmp;
		r = say(err, errlen, -EINVAL, "vCPU %u: KVM refused MSR 0x%x of the snapshot",
			vcpu->index, n >= 0 ? m->entries[n].index : 0);
		goto out;
	}
	free(tmp);
	tmp = NULL;

	/* MP state after the LAPIC (an AP waiting for its SIPI), events last: pending
	 * exceptions/NMIs/SIPIs on top of the restored state. */
	SET(KVM_SET_MP_STATE, REC_MP_STATE, struct kvm_mp_state);
	SET(KVM_SET_VCPU_EVENTS, REC_EVENTS, struct kvm_vcpu_events);
out:
	free(tmp);
	return r;
}

int hv_vm_save(struct hv_vm *vm, void **out, size_t *len, char *err, size_t errlen)
{
	struct blob b = {0};
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	static const struct {
		uint32_t id, tag;
	} chips[] = {{KVM_IRQCHIP_PIC_MASTER, REC_PIC_MASTER},
		     {KVM_IRQCHIP_PIC_SLAVE, REC_PIC_SLAVE},
		     {KVM_IRQCHIP_IOAPIC, REC_IOAPIC}};

	for (unsigned i = 0; i < 3; i++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = chips[i].id;
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0) {
			free(b.buf);
			return say(err, errlen, -errno, "KVM_GET_IRQCHIP %s: %s",
				   rec_names[chips[i].tag], strerror(errno));
		}
		blob_add(&b, chips[i].tag, &chip, sizeof(chip));
	}
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0) {
		free(b.buf);
		return say(err, errlen, -errno, "KVM_GET_PIT2: %s", strerror(errno));
	}
	blob_add(&b, REC_PIT2, &pit, sizeof(pit));
	memset(&clock, 0, sizeof(clock));
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) == 0)
		blob_add(&b, REC_CLOCK, &clock, sizeof(clock));
	if (b.error) {
		free(b.buf);
		return say(err, errlen, b.error, "out of memory saving the VM state");
	}
	*out = b.buf;
	*len = b.len;
	return 0;
}

int hv_vm_restore(struct hv_vm *vm, const void *buf, size_t len, char *err, size_t errlen)
{
	const void *refs[REC_END_];
	size_t lens[REC_END_];
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	static const uint32_t tags[] = {REC_PIC_MASTER, REC_PIC_SLAVE, REC_IOAPIC};
	static const uint32_t ids[] = {KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
				       KVM_IRQCHIP_IOAPIC};
	int r;

	if ((r = blob_index(buf, len, refs, lens, err, errlen)))
		return r;
	for (unsigned i = 0; i < 3; i++) {
		if ((r = need(refs, lens, tags[i], sizeof(chip), err, errlen)))
			return r;
		memcpy(&chip, refs[tags[i]], sizeof(chip));
		if (chip.chip_id != ids[i])
			return say(err, errlen, -EINVAL, "KVM state: %s record names chip %u",
				   rec_names[tags[i]], chip.chip_id);
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
			return say(err, errlen, -errno, "KVM_SET_IRQCHIP %s: %s",
				   rec_names[tags[i]], strerror(errno));
	}
	if ((r = need(refs, lens, REC_PIT2, sizeof(pit), err, errlen)))
		return r;
	memcpy(&pit, refs[REC_PIT2], sizeof(pit));
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
		return say(err, errlen, -errno, "KVM_SET_PIT2: %s", strerror(errno));
	if (refs[REC_CLOCK]) {
		struct kvm_clock_data clock;
		if ((r = need(refs, lens, REC_CLOCK, sizeof(clock), err, errlen)))
			return r;
		memcpy(&clock, refs[REC_CLOCK], sizeof(clock));
		/* Only the clock value: the flags KVM_GET_CLOCK reported are not all settable. */
		struct kvm_clock_data set = {.clock = clock.clock};
		if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &set) < 0)
			return say(err, errlen, -errno, "KVM_SET_CLOCK: %s", strerror(errno));
	}
	return 0;
}

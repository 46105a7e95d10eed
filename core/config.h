/* config.h — what a VM is made of, as parsed from the command line and/or a JSON file
 * (a shape close to Firecracker's config file). Parsing checks syntax and ranges; things
 * that need the host (does the file exist, can KVM do N vCPUs) are checked by vm.c and the
 * devices, which name the option in their messages.
 */
#ifndef ARCVMM_CONFIG_H
#define ARCVMM_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "backends/slirp.h"
#include "boot/boot.h"
#include "core/reclaim.h"
#include "util/rate_limiter.h"
#include "util/seccomp.h"

#define VM_MAX_DISKS 8
#define VM_MAX_NETS  4
#define VM_MIN_MEM   (16ULL << 20)
#define VM_MAX_CPUS  254 /* MP table APIC ids 0..253, the IOAPIC takes the next id */

/* The longest path_on_host / --disk path kept (PATH_MAX less the NUL); longer is refused. */
#define VM_DISK_PATH_MAX 4095
/* virtio-blk's GET_ID answer is 20 bytes. */
#define VM_DISK_ID_MAX 20

/* One virtio-fs share (--fs PATH,tag=TAG[,ro][,cache=..][,xattr=on][,queues=N]). */
#define VM_MAX_FS     8
#define VM_FS_TAG_MAX 36
struct vm_fs_config {
	char *path;
	char tag[VM_FS_TAG_MAX + 1];
	bool is_read_only;
	bool has_xattr;
	unsigned cache;	 /* enum fuse_cache_mode: 0 auto, 1 none, 2 always */
	unsigned queues; /* request queues, 1 .. 15 */
};

struct vm_disk_config {
	char *path;
	char *id; /* serial reported by VIRTIO_BLK_T_GET_ID; NULL: none */
	bool is_read_only;
	bool is_direct;				 /* O_DIRECT */
	unsigned nr_queues;			 /* 1 by default */
	struct rate_limiter_config rate_limiter; /* bw=, ops= / "rate_limiter"; 0: none */
};

enum vm_net_kind {
	VM_NET_NONE, /* --net none: no device */
	VM_NET_USER, /* libslirp, rootless */
	VM_NET_TAP,  /* a TAP interface by name */
	VM_NET_FD,   /* an inherited connected datagram/seqpacket socket */
};

/* One network interface, filled by the --net parser (config_parse_net) and by the JSON
 * "network-interfaces" entries alike; the device and its backend take it as is. Every
 * field holds only values checked to be valid for it (a TAP name Linux accepts, a unicast
 * MAC, parsed forwards), so no option string is ever built from user values. */
struct vm_net_config {
	enum vm_net_kind kind;
	char tap[IFNAMSIZ]; /* VM_NET_TAP: 1..15 bytes, no '/', ',', ':' or whitespace */
	int fd;		    /* VM_NET_FD: 0..INT_MAX */
	uint8_t mac[6];
	bool has_mac;			       /* false: a random locally administered MAC */
	struct slirp_fwd fwds[SLIRP_MAX_FWDS]; /* VM_NET_USER: hostfwd= */
	unsigned nr_fwds;
	/* VM_NET_USER: hostname= (the name DHCP hands the guest); empty: none, so a
	 * distribution keeps its own. 1..32 bytes of [A-Za-z0-9-.]. */
	char hostname[64];
	/* rx-bw=/tx-ops=... or JSON "rx_rate_limiter"/"tx_rate_limiter"; zero: none. */
	struct rate_limiter_config rx_rl, tx_rl;
};

enum vm_console_mode {
	VM_CONSOLE_SERIAL, /* stdin/stdout on COM1 (ttyS0) */
	VM_CONSOLE_VIRTIO, /* stdin/stdout on virtio-console (hvc0); COM1 output still shown */
};

struct vm_config {
	char *kernel;
	char *initrd;
	char *cmdline; /* NULL: the default command line */
	enum boot_protocol protocol;
	unsigned ncpus;
	uint64_t mem_size; /* bytes */
	/* --huge-pages 2M / machine-config "huge_pages": "2M": RAM on hugetlbfs 2 MiB pages
	 * (mem/guest_mem.h). Default false: a 4 KiB-page memfd with transparent huge pages. */
	bool huge_pages;
	enum vm_console_mode console;
	int console_in_fd, console_out_fd; /* 0 and 1 by default; -1: none */
	bool has_rng;
	bool has_acpi; /* ACPI tables (power-off, device discovery for stock kernels) */
	struct vm_disk_config disks[VM_MAX_DISKS];
	unsigned nr_disks;
	/* --net / "network-interfaces", parsed; none given: --net user (with libslirp). */
	struct vm_net_config nets[VM_MAX_NETS];
	unsigned nr_nets;
	int log_level;		     /* -1: leave the default */
	enum seccomp_mode seccomp;   /* --seccomp, ON by default */
	char *jail_dir;		     /* --jail DIR (core/jail.h); NULL: no jail */
	unsigned jail_uid, jail_gid; /* --jail-uid/--jail-gid, 65534 by default */
	/* --balloon spec ("target=SIZE,deflate_on_oom,stats=S,free_page_reporting"), checked
	 * by config_set_balloon(); NULL: no balloon. */
	char *balloon;
	/* --memory-reclaim / "balloon"."memory_reclaim" and the reclaim_* fields (only with a
	 * balloon); zero fields take core/reclaim.h's defaults, the mode is AUTO. */
	struct reclaim_config reclaim;
	/* --vsock / "vsock" (core/config_vsock.c): vsock_uds NULL means no vsock device. */
	uint64_t vsock_cid;
	char *vsock_uds;
	/* --fs / "fs" (core/config_fs.c): virtio-fs shares, checked when added. */
	struct vm_fs_config fs[VM_MAX_FS];
	unsigned nr_fs;
};

#define CONFIG_DEFAULT_CMDLINE \
	"console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"

/* Result of config_parse_args: */
#define CONFIG_OK   0
#define CONFIG_HELP 1 /* --help or --version was printed: exit 0 */

void config_init(struct vm_config *c);
void config_fini(struct vm_config *c);
/* Parses argv (and the --config file it names). On error returns -EINVAL with one line in
 * err (e.g. "--memory 64k: too small (minimum 16 MiB)"). */
int config_parse_args(struct vm_config *c, int argc, char **argv, char *err, size_t errlen);
int config_parse_json_file(struct vm_config *c, const char *path, char *err, size_t errlen);
int config_parse_json(struct vm_config *c, const char *text, const char *name, char *err,
		      size_t errlen);
/* "256M", "6G", "1024" (MiB), "65536K": bytes, a multiple of 4 KiB. 0 or -EINVAL. */
int config_parse_size(const char *s, uint64_t *out);
/* "path[,ro][,id=ID][,direct][,queues=N]". 0 or -EINVAL with err. */
int config_parse_disk(struct vm_disk_config *d, const char *spec, char *err, size_t errlen);
/* core/config_net.c: "tap=NAME[,mac=M]", "fd=N[,mac=M]",
 * "user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,mac=M]", "none";
 * any of them but none also takes rx-bw=, rx-ops=, tx-bw=, tx-ops= (util/rate_limiter.h
 * bucket syntax). 0 or -EINVAL with err ("--net mac=zz: malformed MAC address"). */
int config_parse_net(struct vm_net_config *n, const char *spec, char *err, size_t errlen);
/* "52:54:00:12:34:56": six pairs of hex digits, unicast. 0 or -EINVAL. */
int config_parse_mac(const char *s, uint8_t mac[6]);
/* One forward, "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT" (IPv4). 0 or -EINVAL. */
int config_parse_hostfwd(const char *s, struct slirp_fwd *f);
/* hostname=: 1..32 bytes (libslirp keeps 32) of letters, digits, '-' and '.'. 0/-EINVAL. */
int config_net_hostname(const char *s, char *out, size_t outlen);
/* NULL if s is a name Linux accepts for an interface, else what is wrong with it. */
const char *config_tap_name_problem(const char *s);
/* Names the interface for messages: "tap=tap0", "fd=5", "user", "none". */
void config_describe_net(const struct vm_net_config *n, char *buf, size_t len);
void config_usage(FILE *f);
/* core/config_balloon.c: --balloon SPEC (a second one is an error) and the JSON object. */
int config_set_balloon(struct vm_config *c, const char *spec, char *err, size_t errlen);
/* --memory-reclaim "auto|manual|off[,floor=SIZE][,step=SIZE][,interval=SECONDS]
 * [,pressure=HIGH[:LOW]][,guest-low=SIZE]". 0 or -EINVAL with err. */
int config_parse_reclaim(struct reclaim_config *r, const char *spec, char *err, size_t errlen);
struct cJSON;
int config_parse_balloon_json(struct vm_config *c, const struct cJSON *obj, const char *name,
			      char *err, size_t errlen);
/* core/config_vsock.c: --vsock cid=N,uds=PATH (a second one is an error) and the JSON
 * "vsock" object {guest_cid, uds_path}. 0 or -EINVAL with err. */
int config_set_vsock(struct vm_config *c, const char *spec, char *err, size_t errlen);
int config_parse_vsock_json(struct vm_config *c, const struct cJSON *obj, const char *name,
			    char *err, size_t errlen);
/* core/config_fs.c: --fs PATH,tag=TAG[,ro][,cache=none|auto|always][,xattr=on|off]
 * [,queues=N] (repeatable), the JSON "fs" array of {path, tag, read_only, cache, xattr,
 * queues}, and the library's checked add. The path must be a directory, the tag 1..36
 * bytes and unique. 0 or -EINVAL with err. */
int config_add_fs_spec(struct vm_config *c, const char *spec, char *err, size_t errlen);
int config_add_fs(struct vm_config *c, const struct vm_fs_config *fs, const char *what, char *err,
		  size_t errlen);
int config_parse_fs_json(struct vm_config *c, const struct cJSON *arr, const char *name, char *err,
			 size_t errlen);
/* The shares as the JSON "fs" array config_parse_fs_json() reads (the snapshot's config).
 * NULL if out of memory. */
struct cJSON *config_fs_to_json(const struct vm_config *c);

#endif

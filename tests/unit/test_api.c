/* test_api.c — the REST API's request → action mapping (api/routes.c) without HTTP and
 * without a VM: every pre-boot piece, every refusal and its Firecracker-style answer, and
 * that a refused request changes nothing. tests/api drives the same code over a socket
 * with a real VM. */
#include "api/api_internal.h"
#include "tests/unit/test.h"

#include <arcvmm.h>

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct api_server *server(void)
{
	struct api_server *s = calloc(1, sizeof(*s));

	pthread_mutex_init(&s->lock, NULL);
	s->listen_fd = s->start_fd = s->log_fd = s->metrics_fd = -1;
	s->id = strdup("test-vm");
	return s;
}

static void server_free(struct api_server *s)
{
	cJSON_Delete(s->boot_source);
	cJSON_Delete(s->machine_config);
	cJSON_Delete(s->balloon);
	cJSON_Delete(s->vsock);
	for (unsigned i = 0; i < s->nr_drives; i++)
		cJSON_Delete(s->drives[i]);
	for (unsigned i = 0; i < s->nr_nets; i++)
		cJSON_Delete(s->nets[i]);
	for (unsigned i = 0; i < s->nr_fs; i++)
		cJSON_Delete(s->fs[i]);
	free(s->id);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static char last_body[4096];

/* One request; returns the status and leaves the body in last_body. */
static unsigned req(struct api_server *s, const char *method, const char *url, const char *body)
{
	struct api_reply r = {0};

	api_route(s, method, url, body ? body : "", body ? strlen(body) : 0, &r);
	snprintf(last_body, sizeof(last_body), "%s", r.body ? r.body : "");
	free(r.body);
	return r.status;
}

#define FAULT(substr) (strstr(last_body, "\"fault_message\"") && strstr(last_body, substr))

TEST(instance_info_and_version)
{
	struct api_server *s = server();

	CHECK_EQ(req(s, "GET", "/", NULL), 200);
	CHECK(strstr(last_body, "\"id\":\"test-vm\""));
	CHECK(strstr(last_body, "\"state\":\"Not started\""));
	CHECK(strstr(last_body, "\"app_name\":\"arcvmm\""));
	CHECK_EQ(req(s, "GET", "/version", NULL), 200);
	CHECK(strstr(last_body, "\"firecracker_version\""));
	server_free(s);
}

TEST(unknown_paths_methods_and_bodies)
{
	struct api_server *s = server();

	CHECK_EQ(req(s, "GET", "/nope", NULL), 400);
	CHECK(FAULT("Invalid request method and/or path"));
	CHECK_EQ(req(s, "DELETE", "/machine-config", NULL), 400);
	CHECK(FAULT("Invalid request method and/or path"));
	CHECK_EQ(req(s, "POST", "/actions", "{}"), 400);
	CHECK_EQ(req(s, "PUT", "/machine-config", NULL), 400);
	CHECK(FAULT("body is missing"));
	CHECK_EQ(req(s, "PUT", "/machine-config", "{\"vcpu_count\": 2,"), 400);
	CHECK(FAULT("not valid JSON"));
	CHECK_EQ(req(s, "PUT", "/machine-config", "[1, 2]"), 400);
	CHECK(FAULT("must be a JSON object"));
	CHECK_EQ(req(s, "PUT", "/mmds", "{\"guest_cid\": 3}"), 400);
	CHECK(FAULT("not supported by arcvmm"));
	CHECK_EQ(req(s, "PUT", "/snapshot/create", "{}"), 400);
	CHECK_EQ(req(s, "PUT", "/pmem/p0", "{}"), 400);
	server_free(s);
}

/* Snapshot endpoints without a KVM: every refusal is a 400 with a fault_message that
 * names the problem; a load of a file that is not a snapshot never starts anything. */
TEST(snapshot_endpoints)
{
	struct api_server *s = server();

	CHECK_EQ(req(s, "PUT", "/snapshot/create", "{}"), 400);
	CHECK(FAULT("snapshot_path and mem_file_path are required"));
	CHECK_EQ(req(s, "PUT", "/snapshot/create",
		     "{\"snapshot_path\": \"/tmp/a\", \"mem_file_path\": \"/tmp/b\"}"),
		 400);
	CHECK(FAULT("not supported before starting"));
	CHECK_EQ(req(s, "PUT", "/snapshot/create",
		     "{\"snapshot_type\": \"Half\", \"snapshot_path\": \"/tmp/a\", "
		     "\"mem_file_path\": \"/tmp/b\"}"),
		 400);
	CHECK(FAULT("snapshot_type"));
	CHECK_EQ(req(s, "PUT", "/snapshot/create", "{\"snapshot_path\": \"/a\", \"x\": 1}"), 400);
	CHECK(FAULT("unknown field"));
	CHECK_EQ(req(s, "PUT", "/snapshot/load", "{}"), 400);
	CHECK(FAULT("snapshot_path is required"));
	CHECK_EQ(req(s, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/a\"}"), 400);
	CHECK(FAULT("mem_backend"));
	CHECK_EQ(req(s, "PUT", "/snapshot/load",
		     "{\"snapshot_path\": \"/a\", \"mem_backend\": {\"backend_type\": "
		     "\"Uffd\", \"backend_path\": \"/u\"}}"),
		 400);
	CHECK(FAULT("only \\\"File\\\""));
	CHECK_EQ(req(s, "PUT", "/snapshot/load",
		     "{\"snapshot_path\": \"/a\", \"mem_file_path\": \"/m\", "
		     "\"enable_diff_snapshots\": true}"),
		 400);
	CHECK(FAULT("diff snapshots are not supported"));
	CHECK_EQ(req(s, "PUT", "/snapshot/load",
		     "{\"snapshot_path\": \"/a\", \"mem_file_path\": \"/m\", \"resume_vm\": 1}"),
		 400);
	CHECK(FAULT("booleans"));
	CHECK_EQ(req(s, "PUT", "/snapshot/load",
		     "{\"snapshot_path\": \"/nonexistent/state\", \"mem_backend\": "
		     "{\"backend_type\": \"File\", \"backend_path\": \"/nonexistent/mem\"}, "
		     "\"resume_vm\": true}"),
		 400);
	CHECK(FAULT("Cannot load snapshot: /nonexistent/state: No such file or directory"));
	CHECK_EQ(req(s, "GET", "/", NULL), 200);
	CHECK(strstr(last_body, "\"state\":\"Not started\""));
	server_free(s);
}

TEST(machine_config)
{
	struct api_server *s = server();

	CHECK_EQ(req(s, "GET", "/machine-config", NULL), 200);
	CHECK(strstr(last_body, "\"vcpu_count\":1"));
	CHECK_EQ(req(s, "PUT", "/machine-config", "{\"vcpu_count\": 2}"), 400);
	CHECK(FAULT("mem_size_mib"));
	CHECK_EQ(req(s, "PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 64}"),
		 400);
	CHECK_EQ(req(s, "PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 8}"), 400);
	CHECK_EQ(req(s, "PUT", "/machine-config",
		     "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"bogus\": true}"),
		 400);
	CHECK(FAULT("bogus"));
	CHECK_EQ(req(s, "PUT", "/machine-config",
		     "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"cpu_template\": \"T2\"}"),
		 400);
	CHECK(FAULT("cpu_template"));
	CHECK_EQ(req(s, "PUT", "/machine-config",
		     "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"smt\": true}"),
		 400);
	/* Nothing of the refused ones stuck. */
	CHECK_EQ(req(s, "GET", "/machine-config", NULL), 200);
	CHECK(strstr(last_body, "\"vcpu_count\":1"));
	CHECK_EQ(req(s, "PUT", "/machine-config",
		     "{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"smt\": false, "
		     "\"cpu_template\": \"None\", \"track_dirty_pages\": false}"),
		 204);
	CHECK_EQ(req(s, "PATCH", "/machine-config", "{\"mem_size_mib\": 128}"), 204);
	CHECK_EQ(req(s, "PATCH", "/machine-config", "{\"mem_size_mib\": \"lots\"}"), 400);
	CHECK_EQ(req(s, "GET", "/machine-config", NULL), 200);
	CHECK(strstr(last_body, "\"vcpu_count\":2"));
	CHECK(strstr(last_body, "\"mem_size_mib\":128"));
	server_free(s);
}

TEST(boot_source_drives_nets)
{
	struct api_server *s = server();
	char body[512], img[] = "/tmp/test_api.XXXXXX";
	int fd = mkstemp(img);

	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(req(s, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}"), 400);
	CHECK(FAULT("without kernel configuration"));
	CHECK_EQ(req(s, "PUT", "/boot-source", "{\"boot_args\": \"console=ttyS0\"}"), 400);
	CHECK(FAULT("kernel_image_path"));
	CHECK_EQ(req(s, "PUT", "/boot-source", "{\"kernel_image_path\": \"/no/such/vmlinux\"}"),
		 400);
	CHECK(FAULT("No such file"));
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"initrd_path\": \"/no\"}",
		 img);
	CHECK_EQ(req(s, "PUT", "/boot-source", body), 400);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", img);
	CHECK_EQ(req(s, "PUT", "/boot-source", body), 204);
	CHECK(s->boot_source != NULL);

	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_read_only\": false}",
		 img);
	CHECK_EQ(req(s, "PUT", "/drives/rootfs", body), 400);
	CHECK(FAULT("is_root_device"));
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"x\", \"path_on_host\": \"%s\", \"is_root_device\": true}", img);
	CHECK_EQ(req(s, "PUT", "/drives/rootfs", body), 400);
	CHECK(FAULT("does not match"));
	CHECK_EQ(req(s, "PUT", "/drives/a%2Fb", body), 400);
	CHECK(FAULT("Invalid drive id"));
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		 "\"is_read_only\": false, \"cache_type\": \"Unsafe\", \"io_engine\": \"Sync\"}",
		 img);
	CHECK_EQ(req(s, "PUT", "/drives/rootfs", body), 204);
	CHECK_EQ(req(s, "PUT", "/drives/rootfs", body), 204); /* replaces, not adds */
	CHECK_EQ(s->nr_drives, 1);
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": true}",
		 img);
	CHECK_EQ(req(s, "PUT", "/drives/data", body), 400);
	CHECK(FAULT("root block device already exists"));
	CHECK_EQ(s->nr_drives, 1);
	CHECK_EQ(req(s, "PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}"), 400);
	CHECK(FAULT("before starting"));

	CHECK_EQ(req(s, "PUT", "/network-interfaces/eth0",
		     "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": "
		     "\"02:00:00:00:00:01\"}"),
		 204);
	CHECK_EQ(req(s, "PUT", "/network-interfaces/eth1",
		     "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", \"frob\": 1}"),
		 400);
	CHECK_EQ(s->nr_nets, 1);

	CHECK_EQ(req(s, "GET", "/vm/config", NULL), 200);
	CHECK(strstr(last_body, "\"drives\":[{\"drive_id\":\"rootfs\""));
	CHECK(strstr(last_body, "\"iface_id\":\"eth0\""));
	unlink(img);
	server_free(s);
}

TEST(actions_and_vm_before_boot)
{
	struct api_server *s = server();

	CHECK_EQ(req(s, "PUT", "/actions", "{\"action_type\": \"Reboot\"}"), 400);
	CHECK(FAULT("unknown action_type"));
	CHECK_EQ(req(s, "PUT", "/actions", "{\"action_type\": 5}"), 400);
	CHECK_EQ(req(s, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}"), 400);
	CHECK(FAULT("not initialized"));
	CHECK_EQ(req(s, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}"), 400);
	CHECK(FAULT("before starting"));
	CHECK_EQ(req(s, "PATCH", "/vm", "{\"state\": \"Paused\"}"), 400);
	CHECK(FAULT("before starting"));
	CHECK_EQ(req(s, "PATCH", "/vm", "{\"state\": \"Sleeping\"}"), 400);
	CHECK(FAULT("Paused"));
	CHECK_EQ(req(s, "PATCH", "/vm", "{\"state\": \"Paused\", \"x\": 1}"), 400);
	server_free(s);
}

TEST(balloon_and_logger_before_boot)
{
	struct api_server *s = server();

	CHECK_EQ(req(s, "GET", "/balloon", NULL), 400);
	CHECK(FAULT("No balloon"));
	CHECK_EQ(req(s, "PATCH", "/balloon", "{\"amount_mib\": 4}"), 400);
	CHECK_EQ(req(s, "PUT", "/balloon", "{\"amount_mib\": 4}"), 400);
	CHECK(FAULT("deflate_on_oom"));
	CHECK_EQ(
	    req(s, "PUT", "/balloon",
		"{\"amount_mib\": 4, \"deflate_on_oom\": true, \"stats_polling_interval_s\": 1}"),
	    204);
	CHECK_EQ(req(s, "PATCH", "/balloon", "{\"amount_mib\": 8}"), 204);
	CHECK_EQ(req(s, "PATCH", "/balloon", "{\"amount_mib\": -8}"), 400);
	CHECK_EQ(req(s, "GET", "/balloon", NULL), 200);
	CHECK(strstr(last_body, "\"amount_mib\":8"));
	CHECK_EQ(req(s, "GET", "/balloon/statistics", NULL), 400);
	CHECK_EQ(req(s, "PUT", "/logger", "{\"level\": \"Loud\"}"), 400);
	CHECK(FAULT("level"));
	CHECK_EQ(req(s, "PUT", "/logger", "{\"log_path\": 7}"), 400);
	CHECK_EQ(req(s, "PUT", "/logger", "{\"colour\": true}"), 400);
	CHECK_EQ(req(s, "PUT", "/metrics", "{}"), 400);
	CHECK_EQ(req(s, "PUT", "/metrics", "{\"metrics_path\": \"/no/such/dir/m\"}"), 400);
	CHECK(FAULT("No such file"));
	CHECK_EQ(req(s, "PUT", "/entropy", "{}"), 204);
	server_free(s);
}

TEST(vsock_before_boot)
{
	struct api_server *s = server();

	CHECK_EQ(req(s, "PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/tmp/v.sock\"}"), 400);
	CHECK(FAULT("cid 2"));
	CHECK_EQ(req(s, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/no/such/dir/v\"}"),
		 400);
	CHECK(FAULT("does not exist"));
	CHECK_EQ(req(s, "PUT", "/vsock", "{\"guest_cid\": 3}"), 400);
	CHECK(FAULT("uds_path"));
	CHECK_EQ(req(s, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/tmp/v\", \"x\": 1}"),
		 400);
	CHECK_EQ(req(s, "PUT", "/vsock",
		     "{\"vsock_id\": \"vsock0\", \"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"}"),
		 204);
	CHECK_EQ(req(s, "PUT", "/vsock", "{\"guest_cid\": 4, \"uds_path\": \"/tmp/v.sock\"}"), 204);
	CHECK_EQ(req(s, "GET", "/vm/config", NULL), 200);
	CHECK(strstr(last_body, "\"guest_cid\":4"));
	server_free(s);
}

TEST(fs_before_boot)
{
	struct api_server *s = server();

	CHECK_EQ(req(s, "PUT", "/fs/share0", "{\"path\": \"/no/such/dir\"}"), 400);
	CHECK(FAULT("does not exist"));
	CHECK_EQ(req(s, "PUT", "/fs/share0", "{\"path\": \"/etc/hostname\"}"), 400);
	CHECK(FAULT("not a directory"));
	CHECK_EQ(req(s, "PUT", "/fs/share0", "{\"path\": \"/tmp\", \"tag\": \"other\"}"), 400);
	CHECK_EQ(req(s, "PUT", "/fs/share0", "{\"path\": \"/tmp\", \"cache\": \"sometimes\"}"),
		 400);
	CHECK(FAULT("cache"));
	CHECK_EQ(req(s, "PUT", "/fs/share0", "{\"path\": \"/tmp\", \"bogus\": 1}"), 400);
	CHECK_EQ(req(s, "PUT", "/fs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "{\"path\": \"/tmp\"}"),
		 400);
	CHECK(FAULT("too long"));
	CHECK_EQ(req(s, "PUT", "/fs/bad!tag", "{\"path\": \"/tmp\"}"), 400);
	CHECK_EQ(s->nr_fs, 0);
	CHECK_EQ(req(s, "PUT", "/fs/share0",
		     "{\"path\": \"/tmp\", \"read_only\": true, \"cache\": \"none\"}"),
		 204);
	CHECK_EQ(req(s, "PUT", "/fs/share0", "{\"path\": \"/\", \"tag\": \"share0\"}"), 204);
	CHECK_EQ(req(s, "PUT", "/fs/share1", "{\"path\": \"/tmp\", \"xattr\": true}"), 204);
	CHECK_EQ(s->nr_fs, 2);
	CHECK_EQ(req(s, "GET", "/vm/config", NULL), 200);
	CHECK(strstr(last_body, "\"fs\":[") && strstr(last_body, "\"tag\":\"share1\""));
	server_free(s);
}

int main(void)
{
	arcvmm_set_log_level(0);
	RUN(instance_info_and_version);
	RUN(unknown_paths_methods_and_bodies);
	RUN(snapshot_endpoints);
	RUN(machine_config);
	RUN(boot_source_drives_nets);
	RUN(actions_and_vm_before_boot);
	RUN(balloon_and_logger_before_boot);
	RUN(vsock_before_boot);
	RUN(fs_before_boot);
	return test_summary();
}

/* tests/unit/test_config_fs.c — the virtio-fs shares' configuration (core/config_fs.c):
 * --fs specs, the JSON "fs" array and arcvmm_config_add_fs(), good and bad. */
#include <arcvmm.h>
#include <errno.h>
#include <string.h>

#include "core/config.h"
#include "tests/unit/test.h"

static int spec(struct vm_config *c, const char *s, char *err, size_t len)
{
	err[0] = 0;
	return config_add_fs_spec(c, s, err, len);
}

TEST(test_cli_specs)
{
	struct vm_config c;
	char err[512];

	config_init(&c);
	CHECK_EQ(spec(&c, "/tmp,tag=a", err, sizeof(err)), 0);
	CHECK_EQ(c.nr_fs, 1);
	CHECK(!strcmp(c.fs[0].tag, "a") && !strcmp(c.fs[0].path, "/tmp"));
	CHECK(!c.fs[0].is_read_only && !c.fs[0].has_xattr && c.fs[0].cache == 0 &&
	      c.fs[0].queues == 1);
	CHECK_EQ(spec(&c, "/,tag=root,ro,cache=always,xattr=on,queues=4", err, sizeof(err)), 0);
	CHECK(c.fs[1].is_read_only && c.fs[1].has_xattr && c.fs[1].cache == 2 &&
	      c.fs[1].queues == 4);
	CHECK_EQ(spec(&c, "/tmp,tag=n,cache=none", err, sizeof(err)), 0);
	CHECK_EQ(c.fs[2].cache, 1);
	/* Bad input: one line naming the share and the problem. */
	CHECK_EQ(spec(&c, "/tmp,tag=a", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "already used"));
	CHECK_EQ(spec(&c, "/no/such/dir,tag=x", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "/no/such/dir: does not exist"));
	CHECK_EQ(spec(&c, "/etc/hostname,tag=x", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "is not a directory"));
	CHECK_EQ(spec(&c, "/tmp,tag=0123456789012345678901234567890123456", err, sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "too long (at most 36 bytes)"));
	CHECK_EQ(spec(&c, "/tmp,tag=012345678901234567890123456789012345", err, sizeof(err)), 0);
	CHECK_EQ(spec(&c, "/tmp", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "needs tag="));
	CHECK_EQ(spec(&c, "/tmp,tag=", err, sizeof(err)), -EINVAL);
	CHECK_EQ(spec(&c, "tag=x", err, sizeof(err)), -EINVAL);
	CHECK_EQ(spec(&c, "/tmp,tag=y,cache=maybe", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "cache=maybe"));
	CHECK_EQ(spec(&c, "/tmp,tag=y,queues=0", err, sizeof(err)), -EINVAL);
	CHECK_EQ(spec(&c, "/tmp,tag=y,queues=16", err, sizeof(err)), -EINVAL);
	CHECK_EQ(spec(&c, "/tmp,tag=y,queues=x", err, sizeof(err)), -EINVAL);
	CHECK_EQ(spec(&c, "/tmp,tag=y,bogus", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unknown option"));
	CHECK_EQ(c.nr_fs, 4);
	for (int i = 0; i < 4; i++) {
		char s[64];
		snprintf(s, sizeof(s), "/tmp,tag=more%d", i);
		CHECK_EQ(spec(&c, s, err, sizeof(err)), 0);
	}
	CHECK_EQ(spec(&c, "/tmp,tag=ninth", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "too many"));
	config_fini(&c);

	/* Through argv. */
	char *argv[] = {"arcvmm",      "--kernel", "/dev/null",	     "--fs",
			"/tmp,tag=t1", "--fs",	   "/tmp,tag=t2,ro", NULL};
	config_init(&c);
	CHECK_EQ(config_parse_args(&c, 7, argv, err, sizeof(err)), 0);
	CHECK_EQ(c.nr_fs, 2);
	CHECK(c.fs[1].is_read_only);
	config_fini(&c);
}

TEST(test_json)
{
	struct vm_config c;
	char err[512];

	config_init(&c);
	CHECK_EQ(
	    config_parse_json(&c,
			      "{\"boot-source\": {\"kernel_image_path\": \"/dev/null\"},"
			      " \"fs\": [{\"path\": \"/tmp\", \"tag\": \"a\", \"read_only\": true,"
			      " \"cache\": \"none\", \"xattr\": true, \"queues\": 2},"
			      " {\"path\": \"/\", \"tag\": \"b\"}]}",
			      "t.json", err, sizeof(err)),
	    0);
	CHECK_EQ(c.nr_fs, 2);
	CHECK(c.fs[0].is_read_only && c.fs[0].has_xattr && c.fs[0].cache == 1 &&
	      c.fs[0].queues == 2);
	config_fini(&c);
	static const char *const bad[] = {
	    "\"fs\": {}",
	    "\"fs\": [1]",
	    "\"fs\": [{\"tag\": \"a\"}]",
	    "\"fs\": [{\"path\": \"/tmp\"}]",
	    "\"fs\": [{\"path\": \"/tmp\", \"tag\": \"a\", \"x\": 1}]",
	    "\"fs\": [{\"path\": \"/tmp\", \"tag\": \"a\", \"cache\": 3}]",
	    "\"fs\": [{\"path\": \"/tmp\", \"tag\": \"a\", \"queues\": 1.5}]",
	    "\"fs\": [{\"path\": \"/tmp\", \"tag\": \"a\", \"read_only\": 1}]",
	    "\"fs\": [{\"path\": \"/tmp\", \"tag\": \"a\"}, {\"path\": \"/\", \"tag\": \"a\"}]",
	    "\"fs\": [{\"path\": \"/nonexistent\", \"tag\": \"a\"}]",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char doc[512];
		snprintf(doc, sizeof(doc),
			 "{\"boot-source\": {\"kernel_image_path\": \"/dev/null\"}, %s}", bad[i]);
		config_init(&c);
		err[0] = 0;
		CHECK_EQ(config_parse_json(&c, doc, "t.json", err, sizeof(err)), -EINVAL);
		if (!strstr(err, "fs"))
			fprintf(stderr, "  bad[%u]: %s\n", i, err);
		CHECK(strstr(err, "fs") != NULL);
		config_fini(&c);
	}
}

TEST(test_library)
{
	struct arcvmm_config *c = arcvmm_config_new();
	struct arcvmm_fs_options o = {.read_only = 1, .cache = "always", .queues = 2};

	CHECK(c != NULL);
	CHECK_EQ(arcvmm_config_add_fs(c, "/tmp", "lib", NULL), 0);
	CHECK_EQ(arcvmm_config_add_fs(c, "/tmp", "lib2", &o), 0);
	CHECK_EQ(arcvmm_config_add_fs(c, "/tmp", "lib", NULL), -EINVAL);
	CHECK(strstr(arcvmm_last_error(), "already used"));
	CHECK_EQ(arcvmm_config_add_fs(c, "/no/such", "x", NULL), -EINVAL);
	o.cache = "sometimes";
	CHECK_EQ(arcvmm_config_add_fs(c, "/tmp", "x", &o), -EINVAL);
	CHECK_EQ(arcvmm_config_add_fs(c, "/tmp", "0123456789012345678901234567890123456", NULL),
		 -EINVAL);
	CHECK_EQ(arcvmm_config_add_fs(c, NULL, "x", NULL), -EINVAL);
	arcvmm_config_free(c);
}

int main(void)
{
	arcvmm_set_log_level(0);
	RUN(test_cli_specs);
	RUN(test_json);
	RUN(test_library);
	return test_summary();
}

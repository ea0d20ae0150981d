/* Unit tests of image references (docker/distribution's grammar and
 * ParseNormalizedNamed's normalisation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tpgrade/imageref.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct good {
	const char *in, *domain, *path, *tag, *digest, *full, *familiar;
};

static const struct good goods[] = {
	{"ubuntu", "docker.io", "library/ubuntu", "latest", NULL,
	 "docker.io/library/ubuntu:latest", "ubuntu:latest"},
	{"ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", NULL,
	 "docker.io/library/ubuntu:22.04", "ubuntu:22.04"},
	{"localhost:5000/my-ubuntu", "localhost:5000", "my-ubuntu", "latest", NULL,
	 "localhost:5000/my-ubuntu:latest", "localhost:5000/my-ubuntu:latest"},
	{"localhost/my-ubuntu:v1", "localhost", "my-ubuntu", "v1", NULL,
	 "localhost/my-ubuntu:v1", "localhost/my-ubuntu:v1"},
	{"localhost:5000", "docker.io", "library/localhost", "5000", NULL,
	 "docker.io/library/localhost:5000", "localhost:5000"},
	{"user/app", "docker.io", "user/app", "latest", NULL,
	 "docker.io/user/app:latest", "user/app:latest"},
	{"docker.io/library/ubuntu", "docker.io", "library/ubuntu", "latest", NULL,
	 "docker.io/library/ubuntu:latest", "ubuntu:latest"},
	{"index.docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", NULL,
	 "docker.io/library/ubuntu:latest", "ubuntu:latest"},
	{"docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", NULL,
	 "docker.io/library/ubuntu:latest", "ubuntu:latest"},
	{"ubuntu@sha256:" D64, "docker.io", "library/ubuntu", NULL, "sha256:" D64,
	 "docker.io/library/ubuntu@sha256:" D64, "ubuntu@sha256:" D64},
	{"ubuntu:22.04@sha256:" D64, "docker.io", "library/ubuntu", "22.04", "sha256:" D64,
	 "docker.io/library/ubuntu:22.04@sha256:" D64, "ubuntu:22.04@sha256:" D64},
	{"registry.gitlab.com/group/sub/project/image:1.0", "registry.gitlab.com",
	 "group/sub/project/image", "1.0", NULL,
	 "registry.gitlab.com/group/sub/project/image:1.0",
	 "registry.gitlab.com/group/sub/project/image:1.0"},
	{"[::1]:5000/foo", "[::1]:5000", "foo", "latest", NULL, "[::1]:5000/foo:latest",
	 "[::1]:5000/foo:latest"},
	{"[2001:db8::1]/foo:t", "[2001:db8::1]", "foo", "t", NULL, "[2001:db8::1]/foo:t",
	 "[2001:db8::1]/foo:t"},
	{"127.0.0.1:5000/a/b/c:TAG_1.x-y", "127.0.0.1:5000", "a/b/c", "TAG_1.x-y", NULL,
	 "127.0.0.1:5000/a/b/c:TAG_1.x-y", "127.0.0.1:5000/a/b/c:TAG_1.x-y"},
	{"ab__c-d---e/f_g.h", "docker.io", "ab__c-d---e/f_g.h", "latest", NULL,
	 "docker.io/ab__c-d---e/f_g.h:latest", "ab__c-d---e/f_g.h:latest"},
	{"Foo.example:443/bar", "Foo.example:443", "bar", "latest", NULL,
	 "Foo.example:443/bar:latest", "Foo.example:443/bar:latest"},
};

static void test_good(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		tpg_imageref *r = NULL;
		tpg_err err = {0};
		int rc = tpg_imageref_parse(g->in, &r, &err);
		if (rc != 0)
			fail_msg("%s: %s", g->in, err.msg);
		assert_string_equal(r->domain, g->domain);
		assert_string_equal(r->path, g->path);
		if (g->tag)
			assert_string_equal(r->tag, g->tag);
		else
			assert_null(r->tag);
		if (g->digest)
			assert_string_equal(r->digest, g->digest);
		else
			assert_null(r->digest);
		char *full = tpg_imageref_string(r), *fam = tpg_imageref_familiar(r);
		assert_string_equal(full, g->full);
		assert_string_equal(fam, g->familiar);
		free(full);
		free(fam);
		tpg_imageref_free(r);
	}
}

struct bad {
	const char *in, *want;   /* a piece of the message */
};

static const struct bad bads[] = {
	{"", "empty"},
	{"Ubuntu", "must be lowercase"},
	{"localhost:5000/My-Ubuntu", "must be lowercase"},
	{"ubuntu:", "invalid tag"},
	{"ubuntu:-x", "invalid tag"},
	{"ubuntu:.x", "invalid tag"},
	{"ubuntu:a b", "whitespace"},
	{"ubuntu:" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "invalid tag"},
	{"ubuntu@sha256:abc", "invalid digest"},
	{"ubuntu@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	 "invalid digest"},
	{"ubuntu@md5:" D64, "invalid digest"},
	{"ubuntu@@sha256:" D64, "more than one"},
	{D64, "image ID"},
	{"a//b", "empty path component"},
	{"/ubuntu", "empty path component"},
	{"ubuntu/", "empty path component"},
	{"a__-b", "invalid name component"},
	{"a___b", "invalid name component"},
	{"-ab", "invalid name component"},
	{"ab-", "invalid name component"},
	{"a..b", "invalid name component"},
	{"localhost:99999/x", "invalid registry host"},
	{"localhost:/x", "invalid registry host"},
	{"my_host.com/x", "invalid registry host"},
	{"-bad.com/x", "invalid registry host"},
	{"[::1/x", "invalid registry host"},
	{"[zz::1]:5000/x", "invalid registry host"},
	{":tag", "empty"},
	{"ubu\001ntu", "control"},
	{"a:b:c", "invalid"},
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		tpg_imageref *r = (tpg_imageref *)1;
		tpg_err err = {0};
		int rc = tpg_imageref_parse(bads[i].in, &r, &err);
		if (rc != TPG_EINVAL)
			fail_msg("%s: accepted (rc %d)", bads[i].in, rc);
		assert_null(r);
		if (!strstr(err.msg, bads[i].want))
			fail_msg("%s: message \"%s\" lacks \"%s\"", bads[i].in, err.msg, bads[i].want);
	}
}

static void test_length(void **state)
{
	char name[400];
	tpg_imageref *r;
	tpg_err err = {0};

	(void)state;
	/* "docker.io/" + path: exactly 255 is fine, 256 is not. */
	memset(name, 'a', sizeof(name));
	strcpy(name, "x/");
	memset(name + 2, 'a', 255 - 10 - 2);
	name[255 - 10] = '\0';
	assert_int_equal(tpg_imageref_parse(name, &r, &err), 0);
	assert_int_equal(strlen(r->domain) + 1 + strlen(r->path), 255);
	tpg_imageref_free(r);
	name[255 - 10] = 'a';
	name[255 - 10 + 1] = '\0';
	assert_int_equal(tpg_imageref_parse(name, &r, &err), TPG_EINVAL);
	assert_non_null(strstr(err.msg, "255"));
}

static void test_message_quotes(void **state)
{
	tpg_imageref *r;
	tpg_err err = {0};

	(void)state;
	assert_int_equal(tpg_imageref_parse("Localhost5000/x\"y", &r, &err), TPG_EINVAL);
	assert_non_null(strstr(err.msg, "\\\""));
	assert_int_equal(tpg_imageref_parse("ubuntu:tag\n", &r, &err), TPG_EINVAL);
	assert_non_null(strstr(err.msg, "\\x0a"));
}

static void test_helpers(void **state)
{
	tpg_imageref *r;
	tpg_err err = {0};

	(void)state;
	assert_string_equal(tpg_imageref_api_host("docker.io"), "registry-1.docker.io");
	assert_string_equal(tpg_imageref_api_host("localhost:5000"), "localhost:5000");
	assert_string_equal(tpg_imageref_config_key("docker.io"), "https://index.docker.io/v1/");
	assert_string_equal(tpg_imageref_config_key("ghcr.io"), "ghcr.io");
	assert_int_equal(tpg_imageref_parse("ubuntu", &r, &err), 0);
	assert_true(r->tag_implicit);
	assert_string_equal(tpg_imageref_manifest_ref(r), "latest");
	char *n = tpg_imageref_familiar_name(r);
	assert_string_equal(n, "ubuntu");
	free(n);
	tpg_imageref_free(r);
	assert_int_equal(tpg_imageref_parse("library/ubuntu/x", &r, &err), 0);
	n = tpg_imageref_familiar_name(r);
	assert_string_equal(n, "library/ubuntu/x");
	free(n);
	tpg_imageref_free(r);
	assert_int_equal(tpg_imageref_parse("x@sha256:" D64, &r, &err), 0);
	assert_false(r->tag_implicit);
	assert_string_equal(tpg_imageref_manifest_ref(r), "sha256:" D64);
	tpg_imageref_free(r);

	assert_true(tpg_imageref_valid_tag("_"));
	assert_true(tpg_imageref_valid_tag("V1.0-rc_2"));
	assert_false(tpg_imageref_valid_tag(""));
	assert_false(tpg_imageref_valid_tag("a/b"));
	assert_true(tpg_imageref_valid_digest("sha512:" D64 D64));
	assert_false(tpg_imageref_valid_digest("sha512:" D64));
	assert_true(tpg_imageref_valid_domain("a-b.c:1"));
	assert_false(tpg_imageref_valid_domain("a-.c"));
	assert_false(tpg_imageref_valid_domain("a..c"));
	assert_false(tpg_imageref_valid_domain("a.c."));
	assert_true(tpg_imageref_valid_path("a/b.c/d__e"));
	assert_false(tpg_imageref_valid_path("a/B"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_message_quotes),
		cmocka_unit_test(test_helpers),
	};
	return cmocka_run_group_tests_name("imageref", tests, NULL, NULL);
}

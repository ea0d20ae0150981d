/* Unit tests of the registry client's pure parts: SHA-256, challenges, Link
 * headers, URLs and origins, insecure hosts, error sentences, and what
 * tpg_registry_open accepts. No network: the live tests are
 * tests/docker/registry-client.sh (test_registry_live.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tpgrade/registry.h"
#include "../../grader/registry_priv.h"   /* tpg_registry_answer_error */

static void test_sha256(void **state)
{
	(void)state;
	struct { const char *in; const char *hex; } v[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
		{"{}", "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *d = tpg_registry_sha256(v[i].in, strlen(v[i].in));
		assert_string_equal(d + 7, v[i].hex);
		assert_memory_equal(d, "sha256:", 7);
		free(d);
	}
	/* A million 'a' crosses many blocks. */
	char *big = malloc(1000000);
	memset(big, 'a', 1000000);
	char *d = tpg_registry_sha256(big, 1000000);
	assert_string_equal(d, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(d);
	free(big);
}

static void test_challenge(void **state)
{
	tpg_auth_challenge c;

	(void)state;
	assert_int_equal(tpg_registry_parse_challenge(
		"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		"scope=\"repository:library/ubuntu:pull\"", &c), 0);
	assert_string_equal(c.scheme, "bearer");
	assert_string_equal(c.realm, "https://auth.docker.io/token");
	assert_string_equal(c.service, "registry.docker.io");
	assert_string_equal(c.scope, "repository:library/ubuntu:pull");
	assert_null(c.error);
	tpg_registry_challenge_free(&c);

	assert_int_equal(tpg_registry_parse_challenge(
		"bearer Realm=\"http://127.0.0.1:1/t\" , service=svc, scope=\"a:b:pull,push\","
		"error=\"insufficient_scope\"", &c), 0);
	assert_string_equal(c.realm, "http://127.0.0.1:1/t");
	assert_string_equal(c.service, "svc");
	assert_string_equal(c.scope, "a:b:pull,push");
	assert_string_equal(c.error, "insufficient_scope");
	tpg_registry_challenge_free(&c);

	assert_int_equal(tpg_registry_parse_challenge("Basic realm=\"a \\\"q\\\" b\"", &c), 0);
	assert_string_equal(c.scheme, "basic");
	assert_string_equal(c.realm, "a \"q\" b");
	tpg_registry_challenge_free(&c);

	/* Two challenges in one value: the first is taken. */
	assert_int_equal(tpg_registry_parse_challenge("Basic realm=x, Bearer realm=y", &c), 0);
	assert_string_equal(c.scheme, "basic");
	assert_string_equal(c.realm, "x");
	tpg_registry_challenge_free(&c);

	assert_int_equal(tpg_registry_parse_challenge("", &c), TPG_EPARSE);
	assert_int_equal(tpg_registry_parse_challenge("Bearer realm=\"unterminated", &c),
			 TPG_EPARSE);
}

static void test_link(void **state)
{
	char *n;

	(void)state;
	n = tpg_registry_link_next("</v2/_catalog?last=b&n=2>; rel=\"next\"");
	assert_string_equal(n, "/v2/_catalog?last=b&n=2");
	free(n);
	n = tpg_registry_link_next("<https://x/a>; rel=\"prev\", <https://x/b>; rel=next");
	assert_string_equal(n, "https://x/b");
	free(n);
	n = tpg_registry_link_next("<u1>; type=\"x\"; rel=\"first next\"");
	assert_string_equal(n, "u1");
	free(n);
	assert_null(tpg_registry_link_next("</a>; rel=\"prev\""));
	assert_null(tpg_registry_link_next("garbage"));
	assert_null(tpg_registry_link_next(NULL));
	assert_null(tpg_registry_link_next("<unterminated; rel=next"));
}

static void test_urls(void **state)
{
	char *u;

	(void)state;
	u = tpg_registry_resolve_url("http://h:5000/v2/x/tags/list?n=1", "/v2/x/tags/list?last=a");
	assert_string_equal(u, "http://h:5000/v2/x/tags/list?last=a");
	free(u);
	u = tpg_registry_resolve_url("https://h/v2/x/blobs/uploads/", "abc?_state=1");
	assert_string_equal(u, "https://h/v2/x/blobs/uploads/abc?_state=1");
	free(u);
	u = tpg_registry_resolve_url("https://h/v2/", "//cdn.example/blob");
	assert_string_equal(u, "https://cdn.example/blob");
	free(u);
	u = tpg_registry_resolve_url("https://h/v2/", "HTTP://Other:81/p");
	assert_string_equal(u, "HTTP://Other:81/p");
	free(u);
	u = tpg_registry_resolve_url("https://h", "rel");
	assert_string_equal(u, "https://h/rel");
	free(u);
	assert_null(tpg_registry_resolve_url("https://h/", "ftp://x/y"));
	assert_null(tpg_registry_resolve_url("https://h/", "file:///etc/passwd"));
	assert_null(tpg_registry_resolve_url("https://h/", "http://user:pw@evil/x"));
	assert_null(tpg_registry_resolve_url("https://h/", "http://evil/a b"));

	assert_true(tpg_registry_same_origin("http://h:80/a", "http://H/b"));
	assert_true(tpg_registry_same_origin("https://h/a", "https://h:443"));
	assert_true(tpg_registry_same_origin("http://[::1]:5000/v2/", "http://[::1]:5000"));
	assert_false(tpg_registry_same_origin("http://h/a", "https://h/a"));
	assert_false(tpg_registry_same_origin("http://h:5000/a", "http://h:5001/a"));
	assert_false(tpg_registry_same_origin("http://127.0.0.1/a", "http://127.0.0.2/a"));
	assert_false(tpg_registry_same_origin("http://h.evil/a", "http://h/a"));
	assert_false(tpg_registry_same_origin("http://u@h/a", "http://h/a"));
	assert_false(tpg_registry_same_origin(NULL, "http://h/a"));
}

static void test_insecure(void **state)
{
	const char *const list[] = {"myreg:5000", "other.example", "http://third:1", NULL};

	(void)state;
	assert_true(tpg_registry_is_insecure("localhost:5000", NULL));
	assert_true(tpg_registry_is_insecure("localhost", NULL));
	assert_true(tpg_registry_is_insecure("127.0.0.1:5000", NULL));
	assert_true(tpg_registry_is_insecure("127.1.2.3", NULL));
	assert_true(tpg_registry_is_insecure("[::1]:5000", NULL));
	assert_false(tpg_registry_is_insecure("127.0.0.1.evil.com", NULL));
	assert_false(tpg_registry_is_insecure("docker.io", NULL));
	assert_false(tpg_registry_is_insecure("localhost.example:5000", NULL));
	assert_true(tpg_registry_is_insecure("myreg:5000", list));
	assert_false(tpg_registry_is_insecure("myreg:5001", list));
	assert_false(tpg_registry_is_insecure("myreg", list));
	assert_true(tpg_registry_is_insecure("other.example:8443", list));
	assert_true(tpg_registry_is_insecure("other.example", list));
	assert_true(tpg_registry_is_insecure("third:1", list));
}

static void test_errors(void **state)
{
	tpg_err err = {0};

	(void)state;
	assert_int_equal(tpg_registry_error_from_answer(404,
		"{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"repository name not known "
		"to registry\",\"detail\":{\"name\":\"my-ubuntu\"}}]}", false, "localhost:5000",
		"my-ubuntu", "latest", &err), TPG_ENOTFOUND);
	assert_string_equal(err.msg, "repository my-ubuntu not found in localhost:5000");

	assert_int_equal(tpg_registry_error_from_answer(404,
		"{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}",
		false, "localhost:5000", "my-ubuntu", "v2", &err), TPG_ENOTFOUND);
	assert_string_equal(err.msg, "tag v2 not found in repository my-ubuntu of localhost:5000");

	assert_int_equal(tpg_registry_error_from_answer(404, NULL, false, "h", "r",
		"sha256:0000000000000000000000000000000000000000000000000000000000000000", &err),
		TPG_ENOTFOUND);
	assert_non_null(strstr(err.msg, "manifest sha256:0000"));

	/* The same for a blob; a missing repository is still said to be one. */
	assert_int_equal(tpg_registry_answer_error(404, NULL, false, "h", "r",
		"sha256:0000000000000000000000000000000000000000000000000000000000000000", true,
		&err), TPG_ENOTFOUND);
	assert_string_equal(err.msg, "blob sha256:0000000000000000000000000000000000000000000000"
			    "000000000000000000 not found in repository r of h");
	assert_int_equal(tpg_registry_answer_error(404,
		"{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"repository name not known "
		"to registry\"}]}", false, "h", "r", "sha256:00", true, &err), TPG_ENOTFOUND);
	assert_string_equal(err.msg, "repository r not found in h");

	assert_int_equal(tpg_registry_error_from_answer(403,
		"{\"errors\":[{\"code\":\"DENIED\",\"message\":\"requested access to the resource "
		"is denied\"}]}", false, "h", "r", NULL, &err), TPG_EDENIED);
	assert_string_equal(err.msg, "access to repository r in h denied (requested access to "
			    "the resource is denied)");

	assert_int_equal(tpg_registry_error_from_answer(429,
		"{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"You have reached your pull "
		"rate limit.\"}]}", false, "docker.io", "library/ubuntu", "latest", &err),
		TPG_EUNAVAIL);
	assert_non_null(strstr(err.msg, "too many requests"));
	assert_non_null(strstr(err.msg, "pull rate limit"));

	assert_int_equal(tpg_registry_error_from_answer(401,
		"{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}",
		false, "h", "r", NULL, &err), TPG_EAUTH);

	assert_int_equal(tpg_registry_error_from_answer(500, "<html>oops</html>", false, "h",
		NULL, NULL, &err), TPG_EUNAVAIL);
	assert_string_equal(err.msg, "h answered HTTP 500 (server error)");

	assert_int_equal(tpg_registry_error_from_answer(500, "{\"errors\":[{\"code\":\"UNKN",
		true, "h", NULL, NULL, &err), TPG_EUNAVAIL);
	assert_non_null(strstr(err.msg, "too large"));

	/* Server text is cleaned: no control characters, capped. */
	char body[2000];
	strcpy(body, "{\"errors\":[{\"code\":\"TAG_INVALID\",\"message\":\"bad\\u0007");
	memset(body + strlen(body), 'x', 600);
	strcpy(body + strlen(body) - 0, "\"}]}");
	assert_int_equal(tpg_registry_error_from_answer(400, body, false, "h", "r", "t", &err),
			 TPG_EINVAL);
	assert_non_null(strstr(err.msg, "TAG_INVALID"));
	assert_null(strchr(err.msg, '\007'));
	assert_true(strlen(err.msg) < 400);
}

static void test_open(void **state)
{
	tpg_registry *reg;
	tpg_err err = {0};
	tpg_registry_opts o = {0};
	const char *const ins[] = {"myreg:5000", NULL};

	(void)state;
	o.no_env = true;
	assert_int_equal(tpg_registry_open(&o, &reg, &err), TPG_EINVAL);
	o.host = "bad host";
	assert_int_equal(tpg_registry_open(&o, &reg, &err), TPG_EINVAL);
	assert_non_null(strstr(err.msg, "invalid registry host"));

	o.host = "docker.io";
	assert_int_equal(tpg_registry_open(&o, &reg, &err), 0);
	assert_string_equal(tpg_registry_base_url(reg), "https://registry-1.docker.io");
	assert_string_equal(tpg_registry_host(reg), "docker.io");
	assert_string_equal(tpg_registry_auth_scheme(reg), "unknown");
	tpg_registry_close(reg);

	o.host = "[::1]:5000";
	assert_int_equal(tpg_registry_open(&o, &reg, &err), 0);
	assert_string_equal(tpg_registry_base_url(reg), "http://[::1]:5000");
	tpg_registry_close(reg);

	o.host = "myreg:5000";
	assert_int_equal(tpg_registry_open(&o, &reg, &err), 0);
	assert_string_equal(tpg_registry_base_url(reg), "https://myreg:5000");
	tpg_registry_close(reg);
	o.insecure = ins;
	assert_int_equal(tpg_registry_open(&o, &reg, &err), 0);
	assert_string_equal(tpg_registry_base_url(reg), "http://myreg:5000");

	/* Arguments are checked before any traffic. */
	tpg_manifest_info m;
	assert_int_equal(tpg_registry_manifest_head(reg, "Bad/Name", "latest", 0, &m, &err),
			 TPG_EINVAL);
	assert_int_equal(tpg_registry_manifest_head(reg, "ok", "../../x", 0, &m, &err),
			 TPG_EINVAL);
	assert_int_equal(tpg_registry_manifest_get(reg, "ok/../x", "latest", 0, &m, &err),
			 TPG_EINVAL);
	tpg_buf b = TPG_BUF_INIT;
	assert_int_equal(tpg_registry_blob_get(reg, "ok", "sha256:zz", 0, 0, &b, &err),
			 TPG_EINVAL);
	tpg_registry_close(reg);
	tpg_registry_close(NULL);
}

static void test_deadline_passed(void **state)
{
	tpg_registry *reg;
	tpg_err err = {0};
	tpg_registry_opts o = {0};

	(void)state;
	o.host = "127.0.0.1:9";
	o.no_env = true;
	assert_int_equal(tpg_registry_open(&o, &reg, &err), 0);
	/* A deadline in the past fails before any connection attempt. */
	assert_int_equal(tpg_registry_ping(reg, tpg_now_ms() - 1, &err), TPG_ETIMEOUT);
	tpg_interrupt_set(true);
	assert_int_equal(tpg_registry_ping(reg, 0, &err), TPG_ECANCELED);
	tpg_interrupt_set(false);
	tpg_registry_close(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_insecure),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_deadline_passed),
	};
	return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}

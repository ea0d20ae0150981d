/* Unit tests of the credential lookup: order, config.json forms, key
 * matching, credential helpers (a fake docker-credential-tpgunit script),
 * deadlines, and that no secret ever appears in a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tpgrade/credentials.h"

#define SECRET "s3cr3t-Pa55"
#define HSECRET "s3cr3t-helper"

static char dir[256];

static void write_file(const char *name, const char *text, int mode)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

static char *read_back(const char *name)
{
	static char buf[512];
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void assert_clean(const tpg_err *err)
{
	if (strstr(err->msg, SECRET) || strstr(err->msg, HSECRET) ||
	    strstr(err->msg, "idtok-secret"))
		fail_msg("a secret leaked into: %s", err->msg);
}

static const char helper_script[] =
	"#!/bin/sh\n"
	"IFS= read -r url || true\n"
	"printf '%s' \"$url\" > \"$TPGUNIT_DIR/helper-stdin\"\n"
	"echo \"$1\" > \"$TPGUNIT_DIR/helper-arg\"\n"
	"case \"$TPGUNIT_HELPER_MODE\" in\n"
	"ok) printf '{\"ServerURL\":\"%s\",\"Username\":\"helperuser\",\"Secret\":\"" HSECRET "\"}' \"$url\";;\n"
	"token) printf '{\"ServerURL\":\"%s\",\"Username\":\"<token>\",\"Secret\":\"idtok-secret\"}' \"$url\";;\n"
	"notfound) echo 'credentials not found in native keychain'; exit 1;;\n"
	"fail) echo 'broken " HSECRET "'; exit 3;;\n"
	"hang) exec sleep 30;;\n"
	"garbage) echo 'not json " HSECRET "';;\n"
	"esac\n";

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tpg-cred-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	write_file("docker-credential-tpgunit", helper_script, 0755);
	char *path = tpg_xasprintf("%s:%s", dir, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", path, 1);
	free(path);
	setenv("TPGUNIT_DIR", dir, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = tpg_xasprintf("rm -rf '%s'", dir);
	int rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static tpg_cred_opts file_opts(void)
{
	tpg_cred_opts o = {0};
	o.config_dir = dir;
	o.no_env = true;
	return o;
}

static void test_base64(void **state)
{
	(void)state;
	const char *cases[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
				  {"user:" SECRET, NULL}};
	for (size_t i = 0; i < 5; i++) {
		char *e = tpg_cred_base64_encode(cases[i][0], strlen(cases[i][0]));
		if (cases[i][1])
			assert_string_equal(e, cases[i][1]);
		size_t n;
		char *d = tpg_cred_base64_decode(e, &n);
		assert_non_null(d);
		assert_int_equal(n, strlen(cases[i][0]));
		assert_string_equal(d, cases[i][0]);
		free(d);
		free(e);
	}
	assert_null(tpg_cred_base64_decode("Zm9v!", NULL));
	assert_null(tpg_cred_base64_decode("Zg===", NULL));
	char *h = tpg_cred_basic_header("Aladdin", "open sesame");
	assert_string_equal(h, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	tpg_cred_wipe_free(h);
}

static void test_explicit_first(void **state)
{
	tpg_cred_opts o = file_opts();
	tpg_cred c;
	tpg_err err = {0};

	(void)state;
	write_file("config.json", "{\"auths\":{\"localhost:5000\":{\"auth\":\"eDp5\"}}}", 0600);
	o.username = "ci";
	o.password = SECRET;
	o.docker_auth_config = "{\"auths\":{\"localhost:5000\":{\"auth\":\"eDp5\"}}}";
	assert_int_equal(tpg_cred_lookup("localhost:5000", &o, &c, &err), 0);
	assert_string_equal(c.username, "ci");
	assert_string_equal(c.password, SECRET);
	assert_string_equal(c.source, "explicit credentials");
	tpg_cred_free(&c);
	/* A half-given pair is ignored. */
	o.password = "";
	assert_int_equal(tpg_cred_lookup("localhost:5000", &o, &c, &err), 0);
	assert_string_equal(c.username, "x");
	assert_string_equal(c.password, "y");
	assert_string_equal(c.source, "DOCKER_AUTH_CONFIG (auths)");
	tpg_cred_free(&c);
}

static void test_auth_config_then_file(void **state)
{
	tpg_cred_opts o = file_opts();
	tpg_cred c;
	tpg_err err = {0};
	char *auth = tpg_cred_base64_encode("fileuser:" SECRET, strlen("fileuser:" SECRET));
	char *json = tpg_xasprintf("{\"auths\":{\"https://localhost:5000/v2/\":{\"auth\":\"%s\"},"
				   "\"https://index.docker.io/v1/\":{\"username\":\"hub\","
				   "\"password\":\"" SECRET "\"},"
				   "\"ghcr.io\":{\"identitytoken\":\"idtok-secret\"},"
				   "\"empty.example\":{}}}", auth);

	(void)state;
	write_file("config.json", json, 0600);
	/* DOCKER_AUTH_CONFIG has another host only: the file answers. */
	o.docker_auth_config = "{\"auths\":{\"other:1\":{\"auth\":\"eDp5\"}}}";
	assert_int_equal(tpg_cred_lookup("localhost:5000", &o, &c, &err), 0);
	assert_string_equal(c.username, "fileuser");
	assert_string_equal(c.password, SECRET);
	assert_non_null(strstr(c.source, "config.json (auths)"));
	tpg_cred_free(&c);

	assert_int_equal(tpg_cred_lookup("docker.io", &o, &c, &err), 0);
	assert_string_equal(c.username, "hub");
	tpg_cred_free(&c);
	assert_int_equal(tpg_cred_lookup("index.docker.io", &o, &c, &err), 0);
	tpg_cred_free(&c);

	assert_int_equal(tpg_cred_lookup("ghcr.io", &o, &c, &err), 0);
	assert_null(c.password);
	assert_string_equal(c.identity_token, "idtok-secret");
	tpg_cred_free(&c);

	assert_int_equal(tpg_cred_lookup("empty.example", &o, &c, &err), TPG_ENOTFOUND);
	assert_int_equal(tpg_cred_lookup("localhost:5001", &o, &c, &err), TPG_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no credentials for localhost:5001"));
	assert_non_null(strstr(err.msg, "DOCKER_AUTH_CONFIG"));
	assert_non_null(strstr(err.msg, dir));
	assert_clean(&err);
	free(auth);
	free(json);
}

static void test_absent_and_bad_files(void **state)
{
	tpg_cred_opts o = {0};
	tpg_cred c;
	tpg_err err = {0};
	char *sub = tpg_xasprintf("%s/nothing", dir);

	(void)state;
	o.no_env = true;
	o.config_dir = sub;
	assert_int_equal(tpg_cred_lookup("localhost:5000", &o, &c, &err), TPG_ENOTFOUND);
	assert_non_null(strstr(err.msg, "(absent)"));

	o.config_dir = dir;
	write_file("config.json", "{\"auths\":{\"localhost:5000\":{\"auth\":\"" SECRET "\" ", 0600);
	assert_int_equal(tpg_cred_lookup("localhost:5000", &o, &c, &err), TPG_EPARSE);
	assert_non_null(strstr(err.msg, "invalid JSON at line 1"));
	assert_clean(&err);

	write_file("config.json", "{\"auths\":{\"localhost:5000\":{\"auth\":\"" SECRET "\"}}}", 0600);
	assert_int_equal(tpg_cred_lookup("localhost:5000", &o, &c, &err), TPG_EPARSE);
	assert_non_null(strstr(err.msg, "not base64"));
	assert_clean(&err);

	o.docker_auth_config = "[\"" SECRET "\"]";
	write_file("config.json", "{}", 0600);
	assert_int_equal(tpg_cred_lookup("localhost:5000", &o, &c, &err), TPG_EPARSE);
	assert_non_null(strstr(err.msg, "DOCKER_AUTH_CONFIG: not a JSON object"));
	assert_clean(&err);
	free(sub);
}

static void test_env(void **state)
{
	tpg_cred_opts o = {0};
	tpg_cred c;
	tpg_err err = {0};

	(void)state;
	write_file("config.json", "{\"auths\":{\"envhost:1\":{\"auth\":\"dTpw\"}}}", 0600);
	setenv("DOCKER_CONFIG", dir, 1);
	setenv("DOCKER_AUTH_CONFIG", "{\"auths\":{\"dac:1\":{\"auth\":\"ZDpw\"}}}", 1);
	assert_int_equal(tpg_cred_lookup("envhost:1", &o, &c, &err), 0);
	assert_string_equal(c.username, "u");
	tpg_cred_free(&c);
	assert_int_equal(tpg_cred_lookup("dac:1", &o, &c, &err), 0);
	assert_string_equal(c.username, "d");
	tpg_cred_free(&c);
	/* no_env: neither variable is read. */
	o.no_env = true;
	assert_int_equal(tpg_cred_lookup("dac:1", &o, &c, &err), TPG_ENOTFOUND);
	unsetenv("DOCKER_CONFIG");
	unsetenv("DOCKER_AUTH_CONFIG");
}

static void test_helpers_order(void **state)
{
	tpg_cred_opts o = file_opts();
	tpg_cred c;
	tpg_err err = {0};

	(void)state;
	write_file("config.json",
		   "{\"credHelpers\":{\"localhost:5000\":\"tpgunit\"},"
		   "\"credsStore\":\"tpgunit\","
		   "\"auths\":{\"localhost:5000\":{\"auth\":\"ZmFsbGJhY2s6cHc=\"},"
		   "\"https://index.docker.io/v1/\":{}}}", 0600);
	setenv("TPGUNIT_HELPER_MODE", "ok", 1);
	assert_int_equal(tpg_cred_lookup("localhost:5000", &o, &c, &err), 0);
	assert_string_equal(c.username, "helperuser");
	assert_string_equal(c.password, HSECRET);
	assert_non_null(strstr(c.source, "docker-credential-tpgunit"));
	assert_string_equal(read_back("helper-stdin"), "localhost:5000");
	assert_string_equal(read_back("helper-arg"), "get\n");
	tpg_cred_free(&c);

	/* credsStore for Docker Hub: the server URL is the index key. */
	assert_int_equal(tpg_cred_lookup("docker.io", &o, &c, &err), 0);
	assert_string_equal(read_back("helper-stdin"), "https://index.docker.io/v1/");
	tpg_cred_free(&c);

	setenv("TPGUNIT_HELPER_MODE", "token", 1);
	assert_int_equal(tpg_cred_lookup("localhost:5000", &o, &c, &err), 0);
	assert_null(c.password);
	assert_string_equal(c.identity_token, "idtok-secret");
	tpg_cred_free(&c);

	/* The helper has nothing: auths answers. */
	setenv("TPGUNIT_HELPER_MODE", "notfound", 1);
	assert_int_equal(tpg_cred_lookup("localhost:5000", &o, &c, &err), 0);
	assert_string_equal(c.username, "fallback");
	tpg_cred_free(&c);
	assert_int_equal(tpg_cred_lookup("docker.io", &o, &c, &err), TPG_ENOTFOUND);

	/* A failing helper, nothing in auths: its failure is the error, and
	 * whatever it printed stays out of the message. */
	const char *modes[] = {"fail", "garbage"};
	for (int i = 0; i < 2; i++) {
		setenv("TPGUNIT_HELPER_MODE", modes[i], 1);
		assert_int_not_equal(tpg_cred_lookup("docker.io", &o, &c, &err), 0);
		assert_non_null(strstr(err.msg, "docker-credential-tpgunit"));
		assert_clean(&err);
		/* ...but auths still wins when it has an entry. */
		assert_int_equal(tpg_cred_lookup("localhost:5000", &o, &c, &err), 0);
		assert_string_equal(c.username, "fallback");
		tpg_cred_free(&c);
	}
	unsetenv("TPGUNIT_HELPER_MODE");
}

static void test_helper_direct(void **state)
{
	tpg_cred c;
	tpg_err err = {0};
	long long t0;

	(void)state;
	assert_int_equal(tpg_cred_run_helper("no-such-helper-xyz", "h", 0, &c, &err), TPG_ENOTFOUND);
	assert_non_null(strstr(err.msg, "docker-credential-no-such-helper-xyz not found in PATH"));
	assert_int_equal(tpg_cred_run_helper("../evil", "h", 0, &c, &err), TPG_EINVAL);
	assert_int_equal(tpg_cred_run_helper("a b", "h", 0, &c, &err), TPG_EINVAL);

	setenv("TPGUNIT_HELPER_MODE", "hang", 1);
	t0 = tpg_now_ms();
	assert_int_equal(tpg_cred_run_helper("tpgunit", "h", tpg_now_ms() + 300, &c, &err),
			 TPG_ETIMEOUT);
	assert_true(tpg_now_ms() - t0 < 3000);
	assert_non_null(strstr(err.msg, "no answer in time"));

	tpg_interrupt_set(true);
	assert_int_equal(tpg_cred_run_helper("tpgunit", "h", tpg_now_ms() + 5000, &c, &err),
			 TPG_ECANCELED);
	tpg_interrupt_set(false);

	setenv("TPGUNIT_HELPER_MODE", "ok", 1);
	assert_int_equal(tpg_cred_run_helper("tpgunit", "reg.example", 0, &c, &err), 0);
	assert_string_equal(c.password, HSECRET);
	tpg_cred_free(&c);
	unsetenv("TPGUNIT_HELPER_MODE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_explicit_first),
		cmocka_unit_test(test_auth_config_then_file),
		cmocka_unit_test(test_absent_and_bad_files),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_helpers_order),
		cmocka_unit_test(test_helper_direct),
	};
	return cmocka_run_group_tests_name("credentials", tests, setup, teardown);
}

/*
 * Live tests of the registry client against real registries (Debian's
 * docker-registry in three auth modes) and the misbehaving servers of
 * tests/registry/fake-registry.py. Skipped unless TPG_REGISTRY_LIVE=1;
 * tests/docker/registry-client.sh starts everything and sets:
 *   TPG_LIVE_NOAUTH, TPG_LIVE_BASIC, TPG_LIVE_TOKEN, TPG_LIVE_FAKE,
 *   TPG_LIVE_DEAD (host:port), TPG_LIVE_BASIC_DIR, TPG_LIVE_TOKEN_DIR,
 *   TPG_LIVE_TLS (an https-only registry, NAME:PORT), TPG_LIVE_TLS_CA (the
 *   CA bundle that signed its certificate), TPG_LIVE_TLS_OTHER_CA (one that
 *   did not),
 *   TPG_LIVE_FAKE_DIR (user, password, refresh-token, token-port, sink.log),
 *   TPG_LIVE_TMP (scratch), TPG_LIVE_OUT (every message is appended there,
 *   for the script to grep for secrets too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tpgrade/credentials.h"
#include "tpgrade/registry.h"

static bool live;
static char *secrets[8];
static size_t n_secrets;

static const char *env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		fail_msg("environment variable %s is not set", name);
	return v;
}

static char *slurp(const char *dir, const char *name)
{
	char path[1024];
	char buf[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot read %s", path);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return tpg_xstrdup(buf);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Every message goes through here: no secret may be in it. */
static void check_msg(const char *what, const tpg_err *err)
{
	const char *out = getenv("TPG_LIVE_OUT");
	for (size_t i = 0; i < n_secrets; i++)
		if (secrets[i] && strstr(err->msg, secrets[i]))
			fail_msg("%s: a secret leaked into the message: %s", what, err->msg);
	if (out) {
		FILE *f = fopen(out, "a");
		if (f) {
			fprintf(f, "%s: [%s] %s\n", what, tpg_err_code_name(err->code), err->msg);
			fclose(f);
		}
	}
}

#define EXPECT_OK(what, call)                                                   \
	do {                                                                     \
		tpg_err_clear(&err);                                             \
		int rc_ = (call);                                                \
		check_msg(what, &err);                                           \
		if (rc_ != 0)                                                    \
			fail_msg("%s: rc %d: %s", what, rc_, err.msg);           \
	} while (0)

#define EXPECT_RC(what, want, call)                                             \
	do {                                                                     \
		tpg_err_clear(&err);                                             \
		int rc_ = (call);                                                \
		check_msg(what, &err);                                           \
		if (rc_ != (want))                                               \
			fail_msg("%s: rc %d (want %d): %s", what, rc_, (want), err.msg); \
	} while (0)

#define EXPECT_MSG(piece)                                                       \
	do {                                                                     \
		if (!strstr(err.msg, (piece)))                                   \
			fail_msg("message \"%s\" lacks \"%s\"", err.msg, (piece)); \
	} while (0)

static long long dl(void)
{
	return tpg_now_ms() + 20000;
}

static tpg_registry *open_reg(const char *host, const char *user, const char *pass)
{
	tpg_registry_opts o = {0};
	tpg_registry *reg = NULL;
	tpg_err err = {0};

	o.host = host;
	o.username = user;
	o.password = pass;
	o.no_env = true;
	o.timeout_ms = 15000;
	o.page_size = 10;
	EXPECT_OK("open", tpg_registry_open(&o, &reg, &err));
	return reg;
}

/* --- pushing images through the API ------------------------------------ */

typedef struct pushed {
	char *manifest_digest;
	char *config_digest;
	size_t layer_size;
	size_t manifest_len;
} pushed;

static void pushed_free(pushed *p)
{
	free(p->manifest_digest);
	free(p->config_digest);
	memset(p, 0, sizeof(*p));
}

static void push_image(tpg_registry *reg, const char *repo, const char *tag, const char *arch,
		       bool docker_types, pushed *out)
{
	tpg_err err = {0};
	char layer[256], config[1024], manifest[2048];
	char *layer_digest = NULL, *cfg_digest = NULL, *diff;

	snprintf(layer, sizeof(layer), "layer of %s:%s for %s, not really a tar.gz", repo, tag,
		 arch);
	diff = tpg_registry_sha256(layer, strlen(layer));
	snprintf(config, sizeof(config),
		 "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Env\":[\"TP=2bis\"],"
		 "\"Cmd\":[\"bash\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
		 arch, diff);
	free(diff);
	EXPECT_OK("upload layer", tpg_registry_blob_upload(reg, repo, layer, strlen(layer), dl(),
							   &layer_digest, &err));
	EXPECT_OK("upload config", tpg_registry_blob_upload(reg, repo, config, strlen(config),
							    dl(), &cfg_digest, &err));
	snprintf(manifest, sizeof(manifest),
		 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
		 "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"%s\",\"digest\":"
		 "\"%s\",\"size\":%zu}]}",
		 docker_types ? TPG_MEDIATYPE_DOCKER_MANIFEST : TPG_MEDIATYPE_OCI_MANIFEST,
		 docker_types ? TPG_MEDIATYPE_DOCKER_CONFIG : TPG_MEDIATYPE_OCI_CONFIG,
		 cfg_digest, strlen(config),
		 docker_types ? TPG_MEDIATYPE_DOCKER_LAYER : TPG_MEDIATYPE_OCI_LAYER,
		 layer_digest, strlen(layer));
	EXPECT_OK("put manifest", tpg_registry_manifest_put(reg, repo, tag,
		docker_types ? TPG_MEDIATYPE_DOCKER_MANIFEST : TPG_MEDIATYPE_OCI_MANIFEST,
		manifest, strlen(manifest), dl(), &out->manifest_digest, &err));
	char *mine = tpg_registry_sha256(manifest, strlen(manifest));
	assert_string_equal(mine, out->manifest_digest);
	free(mine);
	out->config_digest = cfg_digest;
	out->layer_size = strlen(layer);
	out->manifest_len = strlen(manifest);
	free(layer_digest);
}

static char *push_index(tpg_registry *reg, const char *repo, const char *tag, bool docker_list,
			const pushed *amd, size_t amd_len, const pushed *arm, size_t arm_len)
{
	tpg_err err = {0};
	char body[2048];
	char *digest = NULL;
	const char *mt = docker_list ? TPG_MEDIATYPE_DOCKER_LIST : TPG_MEDIATYPE_OCI_INDEX;
	const char *child = docker_list ? TPG_MEDIATYPE_DOCKER_MANIFEST : TPG_MEDIATYPE_OCI_MANIFEST;

	snprintf(body, sizeof(body),
		 "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
		 "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,\"platform\":"
		 "{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
		 "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,\"platform\":"
		 "{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}}]}",
		 mt, child, amd->manifest_digest, amd_len, child, arm->manifest_digest, arm_len);
	EXPECT_OK("put index", tpg_registry_manifest_put(reg, repo, tag, mt, body, strlen(body),
							 dl(), &digest, &err));
	return digest;
}

/* --- checks shared by the three real registries -------------------------- */

static void exercise(tpg_registry *reg, const char *label)
{
	tpg_err err = {0};
	tpg_manifest_info m;
	pushed p = {0};
	char repo[64];
	bool exists;

	snprintf(repo, sizeof(repo), "my-ubuntu-%s", label);
	push_image(reg, repo, "latest", "amd64", false, &p);

	EXPECT_OK("head latest", tpg_registry_manifest_head(reg, repo, "latest", dl(), &m, &err));
	assert_string_equal(m.digest, p.manifest_digest);
	assert_string_equal(m.media_type, TPG_MEDIATYPE_OCI_MANIFEST);
	assert_false(m.is_index);
	assert_int_equal(m.size, (long long)p.manifest_len);
	tpg_manifest_info_free(&m);

	EXPECT_OK("get latest", tpg_registry_manifest_get(reg, repo, "latest", dl(), &m, &err));
	assert_string_equal(m.digest, p.manifest_digest);
	assert_string_equal(m.config_digest, p.config_digest);
	assert_int_equal(m.n_layers, 1);
	assert_int_equal(m.layer_sizes[0], (long long)p.layer_size);
	assert_int_equal(m.layers_size, (long long)p.layer_size);
	assert_non_null(m.body);
	tpg_manifest_info_free(&m);

	EXPECT_OK("get by digest", tpg_registry_manifest_get(reg, repo, p.manifest_digest, dl(),
							     &m, &err));
	assert_string_equal(m.digest, p.manifest_digest);
	tpg_manifest_info_free(&m);

	tpg_buf cfg = TPG_BUF_INIT;
	EXPECT_OK("config blob", tpg_registry_blob_get(reg, repo, p.config_digest, 0, dl(), &cfg,
						       &err));
	assert_non_null(strstr(tpg_buf_cstr(&cfg), "TP=2bis"));
	tpg_buf_free(&cfg);
	EXPECT_OK("blob exists", tpg_registry_blob_exists(reg, repo, p.config_digest, dl(),
							   &exists, &err));
	assert_true(exists);

	/* A missing tag, a missing digest, a missing repository. */
	EXPECT_RC("head missing tag", TPG_ENOTFOUND,
		  tpg_registry_manifest_head(reg, repo, "nope", dl(), &m, &err));
	char want[200];
	snprintf(want, sizeof(want), "tag nope not found in repository %s of %s (it has: latest)",
		 repo, tpg_registry_host(reg));
	EXPECT_MSG(want);
	EXPECT_RC("get missing digest", TPG_ENOTFOUND, tpg_registry_manifest_get(reg, repo,
		  "sha256:0000000000000000000000000000000000000000000000000000000000000000",
		  dl(), &m, &err));
	EXPECT_MSG("manifest sha256:0000");
	EXPECT_RC("head missing repo", TPG_ENOTFOUND,
		  tpg_registry_manifest_head(reg, "no-such-repo", "latest", dl(), &m, &err));
	snprintf(want, sizeof(want), "repository no-such-repo not found in %s",
		 tpg_registry_host(reg));
	EXPECT_MSG(want);
	EXPECT_OK("repo exists", tpg_registry_repo_exists(reg, repo, dl(), &exists, &err));
	assert_true(exists);
	EXPECT_OK("repo missing", tpg_registry_repo_exists(reg, "no-such-repo", dl(), &exists,
							    &err));
	assert_false(exists);

	/* 30 more tags; page size 10 (distribution 2.8 answers tags in one page;
	 * the paginated path is tested against the fake server). */
	char *mf = NULL;
	EXPECT_OK("get for retag", tpg_registry_manifest_get(reg, repo, "latest", dl(), &m, &err));
	for (int i = 0; i < 30; i++) {
		char tag[16];
		snprintf(tag, sizeof(tag), "v%02d", i);
		EXPECT_OK("retag", tpg_registry_manifest_put(reg, repo, tag, m.media_type, m.body,
							    m.body_len, dl(), &mf, &err));
		assert_string_equal(mf, p.manifest_digest);
		free(mf);
	}
	tpg_manifest_info_free(&m);
	tpg_strv tags = TPG_STRV_INIT;
	bool more = true;
	EXPECT_OK("tags", tpg_registry_tags(reg, repo, 0, dl(), &tags, &more, &err));
	assert_int_equal(tags.len, 31);
	assert_false(more);
	assert_true(tpg_strv_contains(&tags, "v29"));
	tpg_strv_free(&tags);
	EXPECT_OK("tags capped", tpg_registry_tags(reg, repo, 5, dl(), &tags, &more, &err));
	assert_int_equal(tags.len, 5);
	assert_true(more);
	tpg_strv_free(&tags);
	EXPECT_RC("tags of missing repo", TPG_ENOTFOUND,
		  tpg_registry_tags(reg, "no-such-repo", 0, dl(), &tags, NULL, &err));
	EXPECT_MSG("repository no-such-repo not found");
	tpg_strv_free(&tags);

	/* Catalog over several pages (page size 10: 12 more repositories). */
	for (int i = 0; i < 12; i++) {
		char r[64];
		pushed q = {0};
		snprintf(r, sizeof(r), "cat-%s-%02d", label, i);
		push_image(reg, r, "latest", "amd64", true, &q);
		pushed_free(&q);
	}
	tpg_registry_stats before, after;
	tpg_registry_get_stats(reg, &before);
	EXPECT_OK("catalog", tpg_registry_catalog(reg, 0, dl(), &tags, &more, &err));
	tpg_registry_get_stats(reg, &after);
	assert_true(tags.len >= 13);
	assert_true(tpg_strv_contains(&tags, repo));
	char r11[64];
	snprintf(r11, sizeof(r11), "cat-%s-11", label);
	assert_true(tpg_strv_contains(&tags, r11));
	assert_true(after.requests - before.requests >= 2);   /* more than one page */
	tpg_strv_free(&tags);
	EXPECT_OK("catalog capped", tpg_registry_catalog(reg, 3, dl(), &tags, &more, &err));
	assert_int_equal(tags.len, 3);
	assert_true(more);
	tpg_strv_free(&tags);

	/* Multi-platform: an OCI index and a Docker manifest list. */
	pushed amd = {0}, arm = {0};
	push_image(reg, repo, "amd", "amd64", false, &amd);
	push_image(reg, repo, "arm", "arm64", false, &arm);
	for (int docker = 0; docker < 2; docker++) {
		const char *tag = docker ? "multi-docker" : "multi-oci";
		char *idx = push_index(reg, repo, tag, docker, &amd, amd.manifest_len, &arm,
				       arm.manifest_len);
		EXPECT_OK("head index", tpg_registry_manifest_head(reg, repo, tag, dl(), &m, &err));
		assert_true(m.is_index);
		assert_string_equal(m.digest, idx);
		assert_string_equal(m.media_type, docker ? TPG_MEDIATYPE_DOCKER_LIST
				    : TPG_MEDIATYPE_OCI_INDEX);
		tpg_manifest_info_free(&m);
		EXPECT_OK("get index", tpg_registry_manifest_get(reg, repo, tag, dl(), &m, &err));
		assert_true(m.is_index);
		assert_int_equal(m.n_platforms, 2);
		assert_string_equal(m.platforms[0].architecture, "amd64");
		assert_string_equal(m.platforms[1].architecture, "arm64");
		assert_string_equal(m.platforms[1].variant, "v8");
		assert_string_equal(m.platforms[1].os, "linux");
		assert_string_equal(m.platforms[1].digest, arm.manifest_digest);
		tpg_manifest_info_free(&m);
		free(idx);
	}
	pushed_free(&amd);
	pushed_free(&arm);
	pushed_free(&p);
}

/* --- tests ------------------------------------------------------------------ */

#define LIVE_OR_SKIP() do { if (!live) skip(); } while (0)

static void test_noauth(void **state)
{
	tpg_err err = {0};
	(void)state;
	LIVE_OR_SKIP();
	tpg_registry *reg = open_reg(env("TPG_LIVE_NOAUTH"), NULL, NULL);
	EXPECT_OK("ping", tpg_registry_ping(reg, dl(), &err));
	assert_string_equal(tpg_registry_auth_scheme(reg), "none");
	exercise(reg, "noauth");
	tpg_registry_close(reg);
}

static void test_basic(void **state)
{
	tpg_err err = {0};
	tpg_manifest_info m;
	(void)state;
	LIVE_OR_SKIP();
	const char *host = env("TPG_LIVE_BASIC");
	const char *dir = env("TPG_LIVE_BASIC_DIR");
	char *user = slurp(dir, "user"), *pass = slurp(dir, "password");

	tpg_registry *reg = open_reg(host, user, pass);
	EXPECT_OK("ping basic", tpg_registry_ping(reg, dl(), &err));
	assert_string_equal(tpg_registry_auth_scheme(reg), "basic");
	exercise(reg, "basic");
	tpg_registry_close(reg);

	/* Wrong password: refused, and the message does not carry it. */
	secrets[n_secrets++] = tpg_xstrdup("WrongPassw0rd-xyz");
	reg = open_reg(host, user, "WrongPassw0rd-xyz");
	EXPECT_RC("ping wrong", TPG_EAUTH, tpg_registry_ping(reg, dl(), &err));
	EXPECT_MSG("refused the credentials (from explicit credentials)");
	EXPECT_RC("head wrong", TPG_EAUTH,
		  tpg_registry_manifest_head(reg, "my-ubuntu-basic", "latest", dl(), &m, &err));
	tpg_registry_close(reg);

	/* No credentials at all. */
	reg = open_reg(host, NULL, NULL);
	EXPECT_OK("ping anonymous (reachable)", tpg_registry_ping(reg, dl(), &err));
	EXPECT_RC("head anonymous", TPG_EAUTH,
		  tpg_registry_manifest_head(reg, "my-ubuntu-basic", "latest", dl(), &m, &err));
	EXPECT_MSG("requires authentication");
	EXPECT_MSG("no credentials for");
	tpg_registry_close(reg);

	/* DOCKER_AUTH_CONFIG, then config.json auths, then a credential helper. */
	char *plain = tpg_xasprintf("%s:%s", user, pass);
	char *b64 = tpg_cred_base64_encode(plain, strlen(plain));
	char *dac = tpg_xasprintf("{\"auths\":{\"%s\":{\"auth\":\"%s\"}}}", host, b64);
	tpg_registry_opts o = {0};
	o.host = host;
	o.no_env = true;
	o.docker_auth_config = dac;
	EXPECT_OK("open", tpg_registry_open(&o, &reg, &err));
	EXPECT_OK("head via DOCKER_AUTH_CONFIG",
		  tpg_registry_manifest_head(reg, "my-ubuntu-basic", "latest", dl(), &m, &err));
	tpg_manifest_info_free(&m);
	tpg_registry_close(reg);

	char *cdir = tpg_xasprintf("%s/basic-config", env("TPG_LIVE_TMP"));
	char *cfile = tpg_xasprintf("%s/config.json", cdir);
	char *mk = tpg_xasprintf("mkdir -p '%s'", cdir);
	assert_int_equal(system(mk), 0);
	char *json = tpg_xasprintf("{\"auths\":{\"http://%s/v2/\":{\"auth\":\"%s\"}}}", host, b64);
	write_text(cfile, json);
	free(json);
	o.docker_auth_config = NULL;
	o.docker_config_dir = cdir;
	EXPECT_OK("open", tpg_registry_open(&o, &reg, &err));
	EXPECT_OK("head via config.json auths",
		  tpg_registry_manifest_head(reg, "my-ubuntu-basic", "latest", dl(), &m, &err));
	tpg_manifest_info_free(&m);
	tpg_registry_close(reg);

	json = tpg_xasprintf("{\"credHelpers\":{\"%s\":\"tpgtest\"},\"auths\":{}}", host);
	write_text(cfile, json);
	free(json);
	char *secret_file = tpg_xasprintf("%s/password", dir);
	char *helper_log = tpg_xasprintf("%s/helper.log", env("TPG_LIVE_TMP"));
	setenv("TPGTEST_HELPER_SERVER", host, 1);
	setenv("TPGTEST_HELPER_USER", user, 1);
	setenv("TPGTEST_HELPER_SECRET_FILE", secret_file, 1);
	setenv("TPGTEST_HELPER_LOG", helper_log, 1);
	EXPECT_OK("open", tpg_registry_open(&o, &reg, &err));
	EXPECT_OK("head via credential helper",
		  tpg_registry_manifest_head(reg, "my-ubuntu-basic", "latest", dl(), &m, &err));
	tpg_manifest_info_free(&m);
	tpg_registry_close(reg);
	char *logged = slurp(env("TPG_LIVE_TMP"), "helper.log");
	assert_string_equal(logged, host);
	free(logged);
	/* The helper knows nothing for this host: credentials refused as absent. */
	setenv("TPGTEST_HELPER_SERVER", "elsewhere:1", 1);
	EXPECT_OK("open", tpg_registry_open(&o, &reg, &err));
	EXPECT_RC("head, helper without credentials", TPG_EAUTH,
		  tpg_registry_manifest_head(reg, "my-ubuntu-basic", "latest", dl(), &m, &err));
	tpg_registry_close(reg);
	unsetenv("TPGTEST_HELPER_SERVER");

	free(secret_file);
	free(helper_log);
	free(cdir);
	free(cfile);
	free(mk);
	free(dac);
	free(b64);
	free(plain);
	free(user);
	free(pass);
}

/* GET a URL of the token server (its /control and /stats). */
static size_t collect(char *d, size_t s, size_t n, void *ud)
{
	tpg_buf_append(ud, d, s * n);
	return s * n;
}

static char *token_server(const char *path)
{
	char *port = slurp(env("TPG_LIVE_TOKEN_DIR"), "token-port");
	char *url = tpg_xasprintf("http://127.0.0.1:%s%s", port, path);
	tpg_buf b = TPG_BUF_INIT;
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	free(url);
	free(port);
	return tpg_buf_detach(&b);
}

static long stat_of(const char *json, const char *key)
{
	char *pat = tpg_xasprintf("\"%s\": ", key);
	const char *p = strstr(json, pat);
	free(pat);
	if (!p)
		fail_msg("no %s in %s", key, json);
	return strtol(strchr(p, ':') + 1, NULL, 10);
}

static void control(const char *q)
{
	free(token_server(q));
}

static void test_token(void **state)
{
	tpg_err err = {0};
	tpg_manifest_info m;
	tpg_registry_stats st;
	(void)state;
	LIVE_OR_SKIP();
	const char *host = env("TPG_LIVE_TOKEN");
	const char *dir = env("TPG_LIVE_TOKEN_DIR");
	char *user = slurp(dir, "user"), *pass = slurp(dir, "password");

	control("/control?expires_in=300&field=token&omit_expires=0");
	tpg_registry *reg = open_reg(host, user, pass);
	EXPECT_OK("ping token", tpg_registry_ping(reg, dl(), &err));
	assert_string_equal(tpg_registry_auth_scheme(reg), "bearer");
	exercise(reg, "token");
	tpg_registry_get_stats(reg, &st);
	assert_true(st.token_fetches >= 3);   /* no scope, pull, pull+push, catalog */
	tpg_registry_close(reg);

	/* Tokens are cached: three HEADs, one token. */
	reg = open_reg(host, user, pass);
	for (int i = 0; i < 3; i++) {
		EXPECT_OK("head cached", tpg_registry_manifest_head(reg, "my-ubuntu-token", "latest",
								   dl(), &m, &err));
		tpg_manifest_info_free(&m);
	}
	tpg_registry_get_stats(reg, &st);
	assert_int_equal(st.token_fetches, 1);
	tpg_registry_close(reg);

	/* Wrong password: the token server refuses. */
	secrets[n_secrets++] = tpg_xstrdup("Wr0ng-token-pass");
	reg = open_reg(host, user, "Wr0ng-token-pass");
	EXPECT_RC("ping wrong", TPG_EAUTH, tpg_registry_ping(reg, dl(), &err));
	EXPECT_MSG("refused the credentials");
	EXPECT_RC("head wrong", TPG_EAUTH,
		  tpg_registry_manifest_head(reg, "my-ubuntu-token", "latest", dl(), &m, &err));
	tpg_registry_close(reg);

	/* Anonymous: a token without access, then a clear refusal. */
	reg = open_reg(host, NULL, NULL);
	EXPECT_RC("head anonymous", TPG_EAUTH,
		  tpg_registry_manifest_head(reg, "my-ubuntu-token", "latest", dl(), &m, &err));
	EXPECT_MSG("requires authentication");
	tpg_registry_close(reg);

	/* An identity token (OAuth refresh token) from a credential helper. */
	char *cdir = tpg_xasprintf("%s/token-config", env("TPG_LIVE_TMP"));
	char *mk = tpg_xasprintf("mkdir -p '%s'", cdir);
	assert_int_equal(system(mk), 0);
	char *cfile = tpg_xasprintf("%s/config.json", cdir);
	char *json = tpg_xasprintf("{\"credsStore\":\"tpgtest\"}");
	write_text(cfile, json);
	free(json);
	char *secret_file = tpg_xasprintf("%s/refresh-token", dir);
	setenv("TPGTEST_HELPER_SERVER", host, 1);
	setenv("TPGTEST_HELPER_USER", "<token>", 1);
	setenv("TPGTEST_HELPER_SECRET_FILE", secret_file, 1);
	tpg_registry_opts o = {0};
	o.host = host;
	o.no_env = true;
	o.docker_config_dir = cdir;
	EXPECT_OK("open", tpg_registry_open(&o, &reg, &err));
	char *before = token_server("/stats");
	EXPECT_OK("head with identity token",
		  tpg_registry_manifest_head(reg, "my-ubuntu-token", "latest", dl(), &m, &err));
	tpg_manifest_info_free(&m);
	char *after = token_server("/stats");
	assert_int_equal(stat_of(after, "refresh"), stat_of(before, "refresh") + 1);
	free(before);
	free(after);
	tpg_registry_close(reg);
	unsetenv("TPGTEST_HELPER_SERVER");

	/* identitytoken in config.json auths, likewise. */
	char *rt = slurp(dir, "refresh-token");
	json = tpg_xasprintf("{\"auths\":{\"%s\":{\"identitytoken\":\"%s\"}}}", host, rt);
	write_text(cfile, json);
	free(json);
	free(rt);
	EXPECT_OK("open", tpg_registry_open(&o, &reg, &err));
	EXPECT_OK("head with config identitytoken",
		  tpg_registry_manifest_head(reg, "my-ubuntu-token", "latest", dl(), &m, &err));
	tpg_manifest_info_free(&m);
	tpg_registry_close(reg);

	free(secret_file);
	free(cfile);
	free(mk);
	free(cdir);
	free(user);
	free(pass);
}

static void test_token_expiry(void **state)
{
	tpg_err err = {0};
	tpg_manifest_info m;
	tpg_registry_stats st;
	(void)state;
	LIVE_OR_SKIP();
	const char *host = env("TPG_LIVE_TOKEN");
	const char *dir = env("TPG_LIVE_TOKEN_DIR");
	char *user = slurp(dir, "user"), *pass = slurp(dir, "password");
	tpg_registry *reg;

	/* The server hands out a token that is already expired (but claims 300 s):
	 * the registry refuses it, the client fetches another and retries once. */
	control("/control?expired=1&expires_in=300");
	reg = open_reg(host, user, pass);
	EXPECT_OK("head after expired token",
		  tpg_registry_manifest_head(reg, "my-ubuntu-token", "latest", dl(), &m, &err));
	tpg_manifest_info_free(&m);
	tpg_registry_get_stats(reg, &st);
	assert_int_equal(st.token_fetches, 2);
	assert_int_equal(st.auth_retries, 1);
	/* Expired tokens every time: one retry, then a clean failure. */
	control("/control?expired=5");
	EXPECT_OK("head with cached good token",
		  tpg_registry_manifest_head(reg, "my-ubuntu-token", "latest", dl(), &m, &err));
	tpg_manifest_info_free(&m);
	tpg_registry_close(reg);
	reg = open_reg(host, user, pass);
	EXPECT_RC("head with only expired tokens", TPG_EAUTH,
		  tpg_registry_manifest_head(reg, "my-ubuntu-token", "latest", dl(), &m, &err));
	tpg_registry_get_stats(reg, &st);
	assert_int_equal(st.token_fetches, 2);
	tpg_registry_close(reg);
	control("/control?expired=0");

	/* Short-lived tokens (1 s) are renewed before use, with no 401. */
	control("/control?expires_in=1&field=access_token");
	reg = open_reg(host, user, pass);
	EXPECT_OK("head short token", tpg_registry_manifest_head(reg, "my-ubuntu-token", "latest",
								 dl(), &m, &err));
	tpg_manifest_info_free(&m);
	struct timespec ts = {1, 200 * 1000 * 1000};
	nanosleep(&ts, NULL);
	EXPECT_OK("head after expiry", tpg_registry_manifest_head(reg, "my-ubuntu-token", "latest",
								  dl(), &m, &err));
	tpg_manifest_info_free(&m);
	tpg_registry_get_stats(reg, &st);
	assert_int_equal(st.token_fetches, 2);
	assert_int_equal(st.auth_retries, 0);
	tpg_registry_close(reg);

	/* A token answer larger than the 64 KiB cap of error bodies (but under
	 * the 1 MiB cap of token answers) is read whole. */
	control("/control?expires_in=300&field=token&pad=200000");
	reg = open_reg(host, user, pass);
	EXPECT_OK("head with a 200 KB token answer",
		  tpg_registry_manifest_head(reg, "my-ubuntu-token", "latest", dl(), &m, &err));
	tpg_manifest_info_free(&m);
	tpg_registry_close(reg);
	control("/control?pad=0");

	/* No expires_in: 60 s by default, so one token serves both. */
	control("/control?expires_in=300&field=both&omit_expires=1");
	reg = open_reg(host, user, pass);
	for (int i = 0; i < 2; i++) {
		EXPECT_OK("head default lifetime", tpg_registry_manifest_head(reg, "my-ubuntu-token",
									      "latest", dl(), &m, &err));
		tpg_manifest_info_free(&m);
	}
	tpg_registry_get_stats(reg, &st);
	assert_int_equal(st.token_fetches, 1);
	tpg_registry_close(reg);
	control("/control?expires_in=300&field=token&omit_expires=0");
	free(user);
	free(pass);
}

static void test_unreachable(void **state)
{
	tpg_err err = {0};
	tpg_manifest_info m;
	(void)state;
	LIVE_OR_SKIP();
	const char *host = env("TPG_LIVE_DEAD");
	tpg_registry *reg = open_reg(host, "u", "p4ss-unused");
	char want[128];

	EXPECT_RC("ping dead", TPG_EUNAVAIL, tpg_registry_ping(reg, dl(), &err));
	snprintf(want, sizeof(want), "http://%s/v2/", host);
	EXPECT_MSG(want);
	EXPECT_RC("head dead", TPG_EUNAVAIL,
		  tpg_registry_manifest_head(reg, "x", "latest", dl(), &m, &err));
	tpg_registry_close(reg);
}

/* https to a registry whose certificate a private CA signed: verified with
 * the CA bundle given, refused without it, with another CA or with a bundle
 * that does not exist. */
static void test_tls(void **state)
{
	tpg_err err = {0};
	tpg_manifest_info m;
	tpg_registry_opts o = {0};
	tpg_registry *reg = NULL;
	pushed p = {0};
	(void)state;
	LIVE_OR_SKIP();
	const char *host = env("TPG_LIVE_TLS");
	char *base = tpg_xasprintf("https://%s", host);

	o.host = host;   /* a name under localhost: not taken for a loopback host */
	o.no_env = true;
	o.anonymous = true;
	o.timeout_ms = 15000;
	o.ca_bundle = env("TPG_LIVE_TLS_CA");
	EXPECT_OK("open", tpg_registry_open(&o, &reg, &err));
	assert_string_equal(tpg_registry_base_url(reg), base);
	EXPECT_OK("ping over https", tpg_registry_ping(reg, dl(), &err));
	push_image(reg, "over-tls", "latest", "amd64", false, &p);
	EXPECT_OK("get over https", tpg_registry_manifest_get(reg, "over-tls", "latest", dl(), &m,
							      &err));
	assert_string_equal(m.digest, p.manifest_digest);
	tpg_manifest_info_free(&m);
	pushed_free(&p);
	tpg_registry_close(reg);

	const char *const untrusted[] = { NULL, env("TPG_LIVE_TLS_OTHER_CA"),
					  "/nonexistent/tpgtest-ca.pem" };
	for (size_t i = 0; i < sizeof(untrusted) / sizeof(untrusted[0]); i++) {
		o.ca_bundle = untrusted[i];
		EXPECT_OK("open", tpg_registry_open(&o, &reg, &err));
		EXPECT_RC("ping, certificate not trusted", TPG_EUNAVAIL,
			  tpg_registry_ping(reg, dl(), &err));
		EXPECT_MSG("TLS error with the registry at ");
		EXPECT_MSG(base);
		if (untrusted[i]) {
			char *with = tpg_xasprintf("checked with the CA bundle %s)", untrusted[i]);
			EXPECT_MSG(with);
			free(with);
		} else {
			EXPECT_MSG("for a private CA, give its CA bundle)");
		}
		EXPECT_RC("head, certificate not trusted", TPG_EUNAVAIL,
			  tpg_registry_manifest_head(reg, "over-tls", "latest", dl(), &m, &err));
		EXPECT_MSG("TLS error");
		tpg_registry_close(reg);
	}
	free(base);
}

static char *fake_pass(void)
{
	return slurp(env("TPG_LIVE_FAKE_DIR"), "password");
}

static void test_redirects(void **state)
{
	tpg_err err = {0};
	tpg_manifest_info m;
	tpg_registry_stats st;
	(void)state;
	LIVE_OR_SKIP();
	char *pass = fake_pass();
	tpg_registry *reg = open_reg(env("TPG_LIVE_FAKE"), "tpguser", pass);

	/* To another host: followed, without the Authorization header. */
	EXPECT_OK("get via cross-host redirect",
		  tpg_registry_manifest_get(reg, "redir", "latest", dl(), &m, &err));
	assert_string_equal(m.media_type, TPG_MEDIATYPE_OCI_MANIFEST);
	tpg_manifest_info_free(&m);
	tpg_buf blob = TPG_BUF_INIT;
	static const char blob_text[] = "tpgtest blob behind a redirect\n";
	char *blob_digest = tpg_registry_sha256(blob_text, strlen(blob_text));
	EXPECT_OK("blob via cross-host redirect", tpg_registry_blob_get(reg, "redir",
		  blob_digest, 0, dl(), &blob, &err));
	assert_string_equal(tpg_buf_cstr(&blob), blob_text);
	tpg_buf_free(&blob);
	free(blob_digest);
	char *sink = slurp(env("TPG_LIVE_FAKE_DIR"), "sink.log");
	if (!strstr(sink, "GET /v2/redir/manifests/latest Authorization: <none>") ||
	    !strstr(sink, "GET /v2/redir/blobs/sha256:"))
		fail_msg("the sink did not log the redirected requests: %s", sink);
	if (strstr(sink, "Basic") || strstr(sink, pass))
		fail_msg("credentials reached the other host: %s", sink);
	free(sink);

	/* On the same host: followed, with the Authorization header kept (the
	 * target wants it). */
	tpg_registry_get_stats(reg, &st);
	unsigned redirects = st.redirects;
	EXPECT_OK("get via same-host redirect",
		  tpg_registry_manifest_get(reg, "samehost", "latest", dl(), &m, &err));
	tpg_manifest_info_free(&m);
	tpg_registry_get_stats(reg, &st);
	assert_int_equal(st.redirects, redirects + 1);

	/* A redirect with user:password@ in it is refused. */
	EXPECT_RC("evil redirect", TPG_EPROTO,
		  tpg_registry_manifest_get(reg, "evil", "latest", dl(), &m, &err));
	EXPECT_MSG("unusable location");
	tpg_registry_close(reg);
	free(pass);
}

static void test_big_bodies(void **state)
{
	tpg_err err = {0};
	tpg_manifest_info m;
	tpg_registry_stats st;
	(void)state;
	LIVE_OR_SKIP();
	char *pass = fake_pass();
	tpg_registry *reg = open_reg(env("TPG_LIVE_FAKE"), "tpguser", pass);
	long long t0 = tpg_now_ms();

	EXPECT_RC("10 MB error body", TPG_EUNAVAIL,
		  tpg_registry_manifest_get(reg, "big", "latest", dl(), &m, &err));
	EXPECT_MSG("HTTP 500");
	EXPECT_MSG("too large");
	assert_true(strlen(err.msg) < 300);
	tpg_registry_get_stats(reg, &st);
	assert_true(st.max_body_kept <= 64 * 1024);   /* TPG_REGISTRY_ERROR_BODY_MAX */
	EXPECT_RC("10 MB manifest", TPG_ETOOBIG,
		  tpg_registry_manifest_get(reg, "bigok", "latest", dl(), &m, &err));
	tpg_registry_get_stats(reg, &st);
	assert_true(st.max_body_kept <= 4 * 1024 * 1024);
	assert_true(tpg_now_ms() - t0 < 15000);
	tpg_registry_close(reg);

	/* With a small manifest cap, nothing near 10 MB is ever held. */
	tpg_registry_opts o = {0};
	o.host = env("TPG_LIVE_FAKE");
	o.username = "tpguser";
	o.password = pass;
	o.no_env = true;
	o.max_manifest = 100000;
	EXPECT_OK("open", tpg_registry_open(&o, &reg, &err));
	EXPECT_RC("10 MB manifest, small cap", TPG_ETOOBIG,
		  tpg_registry_manifest_get(reg, "bigok", "latest", dl(), &m, &err));
	EXPECT_RC("10 MB error again", TPG_EUNAVAIL,
		  tpg_registry_manifest_get(reg, "big", "latest", dl(), &m, &err));
	tpg_registry_get_stats(reg, &st);
	assert_true(st.max_body_kept <= 100000);
	tpg_registry_close(reg);
	free(pass);
}

static void test_pagination(void **state)
{
	tpg_err err = {0};
	tpg_registry_stats st;
	tpg_strv tags = TPG_STRV_INIT;
	bool more;
	(void)state;
	LIVE_OR_SKIP();
	char *pass = fake_pass();
	tpg_registry *reg = open_reg(env("TPG_LIVE_FAKE"), "tpguser", pass);

	EXPECT_OK("paged tags", tpg_registry_tags(reg, "paged", 0, dl(), &tags, &more, &err));
	assert_int_equal(tags.len, 30);
	assert_string_equal(tags.items[0], "t00");
	assert_string_equal(tags.items[29], "t29");
	assert_false(more);
	tpg_strv_free(&tags);
	tpg_registry_get_stats(reg, &st);
	unsigned req = st.requests;
	EXPECT_OK("paged tags capped", tpg_registry_tags(reg, "paged", 15, dl(), &tags, &more,
							 &err));
	assert_int_equal(tags.len, 15);
	assert_true(more);
	tpg_registry_get_stats(reg, &st);
	assert_int_equal(st.requests - req, 2);
	tpg_strv_free(&tags);
	EXPECT_RC("looping pages", TPG_EPROTO,
		  tpg_registry_tags(reg, "loop", 0, dl(), &tags, NULL, &err));
	tpg_strv_free(&tags);
	tpg_registry_close(reg);
	free(pass);
}

static void *raise_later(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	tpg_interrupt_set(true);
	return NULL;
}

static void test_deadline_and_interrupt(void **state)
{
	tpg_err err = {0};
	tpg_manifest_info m;
	pthread_t th;
	(void)state;
	LIVE_OR_SKIP();
	char *pass = fake_pass();
	tpg_registry *reg = open_reg(env("TPG_LIVE_FAKE"), "tpguser", pass);
	long long t0 = tpg_now_ms();

	EXPECT_RC("deadline", TPG_ETIMEOUT,
		  tpg_registry_manifest_head(reg, "hang", "latest", tpg_now_ms() + 700, &m, &err));
	assert_true(tpg_now_ms() - t0 < 5000);
	EXPECT_MSG("no answer from the registry");

	t0 = tpg_now_ms();
	assert_int_equal(pthread_create(&th, NULL, raise_later, NULL), 0);
	EXPECT_RC("interrupt", TPG_ECANCELED,
		  tpg_registry_manifest_head(reg, "hang", "latest", dl(), &m, &err));
	pthread_join(th, NULL);
	tpg_interrupt_set(false);
	assert_true(tpg_now_ms() - t0 < 5000);
	tpg_registry_close(reg);
	free(pass);
}

static void test_scrub(void **state)
{
	tpg_err err = {0};
	tpg_manifest_info m;
	(void)state;
	LIVE_OR_SKIP();
	char *pass = fake_pass();
	tpg_registry *reg = open_reg(env("TPG_LIVE_FAKE"), "tpguser", pass);

	/* The server repeats our Authorization header in its error message. */
	EXPECT_RC("echoing server", TPG_EINVAL,
		  tpg_registry_manifest_get(reg, "echo", "latest", dl(), &m, &err));
	EXPECT_MSG("[redacted]");
	tpg_registry_close(reg);
	free(pass);
}

static int group_setup(void **state)
{
	(void)state;
	const char *l = getenv("TPG_REGISTRY_LIVE");
	live = l && strcmp(l, "1") == 0;
	if (!live) {
		fprintf(stderr, "registry live tests skipped (TPG_REGISTRY_LIVE is not 1; "
			"tests/docker/registry-client.sh runs them)\n");
		return 0;
	}
	const char *dirs[] = {"TPG_LIVE_BASIC_DIR", "TPG_LIVE_TOKEN_DIR", "TPG_LIVE_FAKE_DIR"};
	for (int i = 0; i < 3; i++) {
		const char *d = getenv(dirs[i]);
		if (!d)
			continue;
		secrets[n_secrets++] = slurp(d, "password");
	}
	if (getenv("TPG_LIVE_TOKEN_DIR"))
		secrets[n_secrets++] = slurp(getenv("TPG_LIVE_TOKEN_DIR"), "refresh-token");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_secrets; i++)
		free(secrets[i]);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_noauth),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_token_expiry),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_big_bodies),
		cmocka_unit_test(test_pagination),
		cmocka_unit_test(test_deadline_and_interrupt),
		cmocka_unit_test(test_scrub),
	};
	return cmocka_run_group_tests_name("registry_live", tests, group_setup, group_teardown);
}

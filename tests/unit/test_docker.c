/* test_docker.c - the Engine API client against the fake daemon:
 * negotiation, errors, deadlines, streams; and endpoint resolution. */
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

#include "fakedocker.h"
#include "tpgrade/docker.h"

/* ---------------------------------------------------------------- env probe */

static const char *fake_env[32];   /* "NAME=value" */
static bool fake_resolves_docker;
static bool fake_socket_exists;

static const char *probe_getenv(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < TPG_ARRAY_LEN(fake_env) && fake_env[i]; i++)
		if (strncmp(fake_env[i], name, n) == 0 && fake_env[i][n] == '=')
			return fake_env[i] + n + 1;
	return NULL;
}

static bool probe_resolves(const char *host)
{
	return fake_resolves_docker && strcmp(host, "docker") == 0;
}

static bool probe_is_socket(const char *path)
{
	(void)path;
	return fake_socket_exists;
}

static const tpg_docker_probe probe = {probe_getenv, probe_resolves, probe_is_socket};

static void env_set(const char *const *vars)
{
	memset(fake_env, 0, sizeof(fake_env));
	for (size_t i = 0; vars && vars[i]; i++)
		fake_env[i] = vars[i];
	fake_resolves_docker = false;
	fake_socket_exists = true;
}

static tpg_docker *open_fake(tpgt_fakedocker *f, const char *api_version)
{
	tpg_docker_opts o = {.host = tpgt_fakedocker_host(f), .api_version = api_version,
	                     .probe = &probe};
	tpg_docker *dk = NULL;
	tpg_err err = {0};
	assert_int_equal(tpg_docker_open(&o, &dk, &err), 0);
	return dk;
}

static long long soon(void)
{
	return tpg_now_ms() + 5000;
}

/* ---------------------------------------------------------------- negotiation */

static void test_negotiate_2010(void **state)
{
	(void)state;
	env_set(NULL);
	tpgt_fakedocker_route routes[] = {{.method = "GET", .path = "/containers/json",
	                                   .body = "[]"}};
	tpgt_fakedocker *f = tpgt_fakedocker_start(NULL, routes, 1);
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};
	json_t *out = NULL;

	assert_int_equal(tpg_docker_call(dk, "GET", "/containers/json", NULL, soon(), NULL, &out,
	                                 &err), 0);
	assert_true(json_is_array(out));
	json_decref(out);
	assert_string_equal(tpg_docker_api_version(dk), "1.41");
	assert_string_equal(tpg_docker_server_version(dk), "20.10.24");
	assert_true(tpg_docker_buildkit_available(dk));
	assert_int_equal(tpg_docker_default_builder(dk), 1);
	char *log = tpgt_fakedocker_log(f);
	assert_non_null(strstr(log, "GET /_ping\nGET /version\nGET /v1.41/containers/json\n"));
	free(log);
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

static void test_negotiate_docker29(void **state)
{
	(void)state;
	env_set(NULL);
	tpgt_fakedocker_config cfg = {.api_max = "1.52", .api_min = "1.44", .version = "29.0.1",
	                              .builder = "2"};
	tpgt_fakedocker_route routes[] = {{.path = "/info", .body = "{}"}};
	tpgt_fakedocker *f = tpgt_fakedocker_start(&cfg, routes, 1);
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};

	assert_int_equal(tpg_docker_call(dk, "GET", "/info", NULL, soon(), NULL, NULL, &err), 0);
	assert_string_equal(tpg_docker_api_version(dk), TPG_DOCKER_API_MAX);
	assert_int_equal(tpg_docker_default_builder(dk), 2);
	char *log = tpgt_fakedocker_log(f);
	assert_non_null(strstr(log, "GET /v" TPG_DOCKER_API_MAX "/info"));
	free(log);
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

static void test_version_override_too_old(void **state)
{
	(void)state;
	static const char *vars[] = {"DOCKER_API_VERSION=1.41", NULL};
	env_set(vars);
	tpgt_fakedocker_config cfg = {.api_max = "1.52", .api_min = "1.44"};
	tpgt_fakedocker_route routes[] = {{.path = "/info", .body = "{}"}};
	tpgt_fakedocker *f = tpgt_fakedocker_start(&cfg, routes, 1);
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};
	long status = 0;

	int rc = tpg_docker_call(dk, "GET", "/info", NULL, soon(), &status, NULL, &err);
	assert_int_equal(rc, TPG_EPROTO);
	assert_int_equal(status, 400);
	assert_non_null(strstr(err.msg, "client version 1.41 is too old. Minimum supported API "
	                                "version is 1.44, please upgrade your client"));
	assert_string_equal(tpg_docker_api_version(dk), "1.41");
	tpg_docker_close(dk);

	/* The option wins over the environment. */
	dk = open_fake(f, "1.45");
	assert_int_equal(tpg_docker_call(dk, "GET", "/info", NULL, soon(), NULL, NULL, &err), 0);
	char *log = tpgt_fakedocker_log(f);
	assert_non_null(strstr(log, "GET /v1.45/info"));
	free(log);
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

static void test_daemon_too_old_or_too_new(void **state)
{
	(void)state;
	env_set(NULL);
	tpgt_fakedocker_config old = {.api_max = "1.35", .api_min = "1.12"};
	tpgt_fakedocker *f = tpgt_fakedocker_start(&old, NULL, 0);
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};
	assert_int_equal(tpg_docker_ping(dk, soon(), &err), TPG_EPROTO);
	assert_non_null(strstr(err.msg, "speaks API 1.35 at most"));
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);

	tpgt_fakedocker_config future = {.api_max = "1.60", .api_min = "1.50"};
	f = tpgt_fakedocker_start(&future, NULL, 0);
	dk = open_fake(f, NULL);
	assert_int_equal(tpg_docker_ping(dk, soon(), &err), TPG_EPROTO);
	assert_non_null(strstr(err.msg, "needs API 1.50 or later"));
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

static void test_ping_fallback_to_version(void **state)
{
	(void)state;
	env_set(NULL);
	tpgt_fakedocker_config cfg = {.api_max = "1.43", .ping_404 = true};
	tpgt_fakedocker *f = tpgt_fakedocker_start(&cfg, NULL, 0);
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};
	assert_int_equal(tpg_docker_ping(dk, soon(), &err), 0);
	assert_string_equal(tpg_docker_api_version(dk), "1.43");
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);

	tpgt_fakedocker_config bare = {.api_max = "1.42", .no_api_header = true};
	f = tpgt_fakedocker_start(&bare, NULL, 0);
	dk = open_fake(f, NULL);
	assert_int_equal(tpg_docker_ping(dk, soon(), &err), 0);
	assert_string_equal(tpg_docker_api_version(dk), "1.42");
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

/* Go's TLS server answers plain HTTP with a 400: say that TLS is wanted. */
static void test_plain_http_to_tls_port(void **state)
{
	(void)state;
	env_set(NULL);
	tpgt_fakedocker_route routes[] = {
		{.path = "/_ping", .status = 400, .content_type = "text/plain; charset=utf-8",
		 .body = "Client sent an HTTP request to an HTTPS server.\n"},
	};
	tpgt_fakedocker *f = tpgt_fakedocker_start(NULL, routes, TPG_ARRAY_LEN(routes));
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};
	assert_int_equal(tpg_docker_ping(dk, soon(), &err), TPG_EPROTO);
	assert_non_null(strstr(err.msg, "it speaks TLS only"));
	assert_non_null(strstr(err.msg, tpgt_fakedocker_host(f)));
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

static void test_invalid_forced_version(void **state)
{
	(void)state;
	env_set(NULL);
	tpg_docker_opts o = {.host = "unix:///nonexistent.sock", .api_version = "latest",
	                     .probe = &probe};
	tpg_docker *dk = NULL;
	tpg_err err = {0};
	assert_int_equal(tpg_docker_open(&o, &dk, &err), TPG_EINVAL);
	assert_null(dk);
	assert_int_equal(tpg_docker_version_cmp("1.9", "1.41"), -1);
	assert_int_equal(tpg_docker_version_cmp("1.44", "1.41"), 1);
	assert_int_equal(tpg_docker_version_cmp("1.41", "1.41"), 0);
}

/* ---------------------------------------------------------------- errors */

static void test_error_message_verbatim(void **state)
{
	(void)state;
	env_set(NULL);
	tpgt_fakedocker_route routes[] = {
		{.path = "/images/nope:latest/json", .status = 404,
		 .body = "{\"message\":\"No such image: nope:latest\"}\n"},
		{.path = "/containers/create", .status = 409,
		 .body = "{\"message\":\"Conflict. The container name \\\"/x\\\" is already in use\"}"},
		{.path = "/boom", .status = 500, .body = "plain text, not JSON"},
		{.path = "/bad", .body = "{\"Id\": \"abc\", oops}"},
		{.path = "/huge", .body = NULL, .repeat = 17 * 16},
	};
	static char ones[65536];
	for (size_t i = 0; i + 1 < sizeof(ones); i += 2)
		memcpy(ones + i, "1,", 2);
	routes[4].body = ones;
	routes[4].body_len = sizeof(ones);
	tpgt_fakedocker *f = tpgt_fakedocker_start(NULL, routes, TPG_ARRAY_LEN(routes));
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};
	long status = 0;
	json_t *out = NULL;

	assert_int_equal(tpg_docker_image_inspect(dk, "nope:latest", soon(), &out, &err),
	                 TPG_ENOTFOUND);
	assert_null(out);
	assert_string_equal(err.msg,
	                    "GET /images/nope:latest/json: HTTP 404: No such image: nope:latest");

	json_t *cfg = json_pack("{s:s}", "Image", "x");
	char *id = NULL;
	assert_int_equal(tpg_docker_container_create_json(dk, "x", cfg, soon(), &id, &err),
	                 TPG_EEXISTS);
	assert_null(id);
	assert_non_null(strstr(err.msg, "HTTP 409: Conflict. The container name \"/x\" is "
	                                "already in use"));
	assert_null(strstr(err.msg, "name=x"));   /* the query stays out */
	json_decref(cfg);

	assert_int_equal(tpg_docker_call(dk, "GET", "/boom", NULL, soon(), &status, NULL, &err),
	                 TPG_EGENERIC);
	assert_int_equal(status, 500);
	assert_string_equal(err.msg, "GET /boom: HTTP 500: plain text, not JSON");

	assert_int_equal(tpg_docker_call(dk, "GET", "/bad", NULL, soon(), &status, &out, &err),
	                 TPG_EPROTO);
	assert_non_null(strstr(err.msg, "malformed JSON"));
	assert_null(out);

	assert_int_equal(tpg_docker_call(dk, "GET", "/huge", NULL, soon(), NULL, &out, &err),
	                 TPG_ETOOBIG);
	assert_null(out);

	/* The connection is still usable after all that. */
	assert_int_equal(tpg_docker_call(dk, "GET", "/nothing-here", NULL, soon(), &status, NULL,
	                                 &err), TPG_ENOTFOUND);
	assert_string_equal(err.msg, "GET /nothing-here: HTTP 404: page not found");
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

static void test_huge_error_body_capped(void **state)
{
	(void)state;
	env_set(NULL);
	static char chunk[4096];
	memset(chunk, 'E', sizeof(chunk));
	tpgt_fakedocker_route routes[] = {
		{.path = "/err", .status = 500, .body = chunk, .body_len = sizeof(chunk),
		 .repeat = (10u << 20) / sizeof(chunk)},
	};
	tpgt_fakedocker *f = tpgt_fakedocker_start(NULL, routes, 1);
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};
	long status = 0;
	assert_int_equal(tpg_docker_call(dk, "GET", "/err", NULL, soon(), &status, NULL, &err),
	                 TPG_EGENERIC);
	assert_int_equal(status, 500);
	assert_true(strlen(err.msg) < 400);
	assert_non_null(strstr(err.msg, "EEEE..."));
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

static void test_timeout_and_interrupt(void **state)
{
	(void)state;
	env_set(NULL);
	tpgt_fakedocker_route routes[] = {
		{.path = "/slow", .delay_ms = 3000, .body = "{}"},
		{.path = "/stall", .stall_ms = 3000, .body = "{}"},
	};
	tpgt_fakedocker *f = tpgt_fakedocker_start(NULL, routes, 2);
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};
	assert_int_equal(tpg_docker_ping(dk, soon(), &err), 0);

	long long t0 = tpg_now_ms();
	assert_int_equal(tpg_docker_call(dk, "GET", "/slow", NULL, t0 + 300, NULL, NULL, &err),
	                 TPG_ETIMEOUT);
	long long took = tpg_now_ms() - t0;
	assert_true(took >= 250 && took < 1500);
	assert_non_null(strstr(err.msg, "did not finish before the deadline"));

	t0 = tpg_now_ms();
	assert_int_equal(tpg_docker_call(dk, "GET", "/stall", NULL, t0 + 300, NULL, NULL, &err),
	                 TPG_ETIMEOUT);
	assert_true(tpg_now_ms() - t0 < 1500);

	/* A deadline already gone: nothing is sent. */
	assert_int_equal(tpg_docker_call(dk, "GET", "/slow", NULL, tpg_now_ms() - 1, NULL, NULL,
	                                 &err), TPG_ETIMEOUT);

	tpg_interrupt_set(true);
	assert_int_equal(tpg_docker_call(dk, "GET", "/slow", NULL, soon(), NULL, NULL, &err),
	                 TPG_ECANCELED);
	tpg_interrupt_set(false);
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

static void test_connection_failures(void **state)
{
	(void)state;
	env_set(NULL);
	tpg_docker_opts o = {.host = "unix:///tmp/tpgt-no-such-dir/docker.sock", .probe = &probe};
	tpg_docker *dk = NULL;
	tpg_err err = {0};
	assert_int_equal(tpg_docker_open(&o, &dk, &err), 0);
	assert_int_equal(tpg_docker_ping(dk, soon(), &err), TPG_EUNAVAIL);
	assert_string_equal(err.msg, "cannot connect to the Docker daemon at "
	                             "unix:///tmp/tpgt-no-such-dir/docker.sock: No such file or "
	                             "directory (from --docker-host)");
	tpg_docker_close(dk);

	/* A socket file nobody listens on. */
	tpgt_fakedocker *f = tpgt_fakedocker_start(NULL, NULL, 0);
	char *host = tpg_xstrdup(tpgt_fakedocker_host(f));
	tpgt_fakedocker_stop(f);
	o.host = host;
	assert_int_equal(tpg_docker_open(&o, &dk, &err), 0);
	assert_int_equal(tpg_docker_call(dk, "GET", "/info", NULL, soon(), NULL, NULL, &err),
	                 TPG_EUNAVAIL);
	assert_non_null(strstr(err.msg, host));
	tpg_docker_close(dk);
	free(host);

	/* Something that is not an HTTP server. */
	tpgt_fakedocker_route garbage[] = {{.garbage = true}};
	f = tpgt_fakedocker_start(NULL, garbage, 1);
	dk = open_fake(f, NULL);
	int rc = tpg_docker_ping(dk, soon(), &err);
	assert_true(rc == TPG_EPROTO || rc == TPG_EUNAVAIL);
	assert_non_null(strstr(err.msg, tpgt_fakedocker_host(f)));
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

/* ---------------------------------------------------------------- streams */

static char *frames(const char *spec, size_t *len)
{
	/* "1:hello|2:oops" → multiplexed frames */
	tpg_buf b = TPG_BUF_INIT;
	char *copy = tpg_xstrdup(spec);
	for (char *tok = strtok(copy, "|"); tok; tok = strtok(NULL, "|")) {
		size_t n = strlen(tok + 2);
		unsigned char h[8] = {(unsigned char)(tok[0] - '0'), 0, 0, 0, (unsigned char)(n >> 24),
		                      (unsigned char)(n >> 16), (unsigned char)(n >> 8),
		                      (unsigned char)n};
		tpg_buf_append(&b, h, 8);
		tpg_buf_append(&b, tok + 2, n);
	}
	free(copy);
	*len = b.len;
	return tpg_buf_detach(&b);
}

static void test_logs_chunked_and_truncated(void **state)
{
	(void)state;
	env_set(NULL);
	size_t len;
	char *body = frames("1:Un \xc3\xa9l\xc3\xa9phant|2:dans un boa.|1:\n", &len);
	tpgt_fakedocker_route routes[] = {
		{.path = "/containers/c1/json", .body = "{\"Config\":{\"Tty\":false}}"},
		{.path = "/containers/c1/logs", .body = body, .body_len = len, .chunked = true,
		 .chunk_size = 3, .content_type = "application/vnd.docker.multiplexed-stream"},
		{.path = "/containers/c2/json", .body = "{\"Config\":{\"Tty\":false}}"},
		{.path = "/containers/c2/logs", .body = body, .body_len = len, .no_length = true,
		 .cut_after = 12},
		{.path = "/containers/c3/json", .body = "{\"Config\":{\"Tty\":true}}"},
		{.path = "/containers/c3/logs", .body = "raw \x01 tty\n", .no_length = true},
		{.path = "/containers/c4/json", .body = "{\"Config\":{\"Tty\":false}}"},
		{.path = "/containers/c4/logs", .body = "\x07\x01\x02\x03\x00\x00\x00\x01x",
		 .body_len = 9},
	};
	tpgt_fakedocker *f = tpgt_fakedocker_start(NULL, routes, TPG_ARRAY_LEN(routes));
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};
	tpg_buf out, errb;
	tpg_buf_init_capped(&out, 1024, false);
	tpg_buf_init_capped(&errb, 1024, false);

	assert_int_equal(tpg_docker_container_logs(dk, "c1", false, soon(), &out, &errb, &err), 0);
	assert_string_equal(tpg_buf_cstr(&out), "Un \xc3\xa9l\xc3\xa9phant\n");
	assert_string_equal(tpg_buf_cstr(&errb), "dans un boa.");

	tpg_buf_clear(&out);
	tpg_buf_clear(&errb);
	assert_int_equal(tpg_docker_container_logs(dk, "c2", false, soon(), &out, &errb, &err),
	                 TPG_EPROTO);
	assert_non_null(strstr(err.msg, "stopped inside a frame"));
	assert_string_equal(tpg_buf_cstr(&out), "Un \xc3");   /* what came is kept */

	tpg_buf_clear(&out);
	assert_int_equal(tpg_docker_container_logs(dk, "c3", false, soon(), &out, NULL, &err), 0);
	assert_string_equal(tpg_buf_cstr(&out), "raw \x01 tty\n");

	assert_int_equal(tpg_docker_container_logs(dk, "c4", false, soon(), &out, NULL, &err),
	                 TPG_EPROTO);
	assert_non_null(strstr(err.msg, "malformed frame header"));

	tpg_buf_free(&out);
	tpg_buf_free(&errb);
	free(body);
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

typedef struct watch {
	long long stop_at;       /* stop once the clock is past this */
	size_t stop_after;       /* or once this many bytes came (0: never) */
	size_t got;
	int asked;
} watch;

static void watch_feed(void *ctx, int stream, const char *data, size_t len)
{
	(void)stream;
	(void)data;
	((watch *)ctx)->got += len;
}

static int watch_stop(void *ctx)
{
	watch *w = ctx;
	w->asked++;
	return (w->stop_after && w->got >= w->stop_after) || tpg_now_ms() >= w->stop_at;
}

/* A follower stops when its watcher says so: after a piece, or while
 * nothing comes (the daemon holds the stream open). */
static void test_logs_stop(void **state)
{
	(void)state;
	env_set(NULL);
	size_t len;
	char *body = frames("1:line one\n|1:line two\n|2:line three\n", &len);
	tpgt_fakedocker_route routes[] = {
		{.path = "/containers/c1/json", .body = "{\"Config\":{\"Tty\":false}}"},
		{.path = "/containers/c1/logs", .body = body, .body_len = len, .chunked = true,
		 .chunk_size = 4, .stall_ms = 5000},
		{.path = "/containers/c2/json", .body = "{\"Config\":{\"Tty\":false}}"},
		{.path = "/containers/c2/logs", .body = body, .body_len = len, .chunked = true,
		 .chunk_size = 4, .repeat = 1000},
	};
	tpgt_fakedocker *f = tpgt_fakedocker_start(NULL, routes, TPG_ARRAY_LEN(routes));
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};

	long long t0 = tpg_now_ms();
	watch w = {.stop_at = t0 + 300};
	assert_int_equal(tpg_docker_container_logs_cb(dk, "c1", true, soon(), watch_feed,
	                                              watch_stop, &w, &err), 1);
	assert_true(tpg_now_ms() - t0 < 3000);   /* not the 5 s stall */
	assert_int_equal(w.got, 0);
	assert_true(w.asked > 0);

	watch w2 = {.stop_at = t0 + 60000, .stop_after = 20};
	assert_int_equal(tpg_docker_container_logs_cb(dk, "c2", true, soon(), watch_feed,
	                                              watch_stop, &w2, &err), 1);
	assert_true(w2.got >= 20 && w2.got < 1000 * len);

	free(body);
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

static void test_logs_big_output_capped(void **state)
{
	(void)state;
	env_set(NULL);
	/* 50 MiB of stdout in 64 KiB frames, the buffers keep 64 KiB. */
	size_t n = 65536;
	char *frame = tpg_xmalloc(n + 8);
	unsigned char h[8] = {1, 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                      (unsigned char)(n >> 8), (unsigned char)n};
	memcpy(frame, h, 8);
	memset(frame + 8, 'y', n);
	tpgt_fakedocker_route routes[] = {
		{.path = "/containers/big/json", .body = "{\"Config\":{\"Tty\":false}}"},
		{.path = "/containers/big/logs", .body = frame, .body_len = n + 8, .repeat = 800},
	};
	tpgt_fakedocker *f = tpgt_fakedocker_start(NULL, routes, 2);
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};
	tpg_buf out;
	tpg_buf_init_capped(&out, 65536, true);
	assert_int_equal(tpg_docker_container_logs(dk, "big", false, soon() + 20000, &out, NULL,
	                                           &err), 0);
	assert_int_equal(strlen(tpg_buf_cstr(&out)), 65536);
	assert_true(out.truncated);
	assert_int_equal(out.dropped, 800 * n - 65536);
	assert_true(out.cap <= 4 * 65536);
	tpg_buf_free(&out);
	free(frame);
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

/* ---------------------------------------------------------------- build */

static void test_build_classic_failure(void **state)
{
	(void)state;
	env_set(NULL);
	const char *stream =
		"{\"stream\":\"Step 1/3 : FROM python:3-slim\\n\"}\r\n"
		"{\"stream\":\" ---\\u003e 1234\\n\"}\r\n"
		"{\"stream\":\"Step 2/3 : RUN pip install nope\\n\"}\r\n"
		"{\"stream\":\" ---\\u003e Running in 5678\\n\"}\r\n"
		"{\"stream\":\"\\u001b[91mERROR: No matching distribution found for nope\\n\"}\r\n"
		"{\"stream\":\"\\u001b[0m\"}\r\n"
		"not json at all\r\n"
		"{\"errorDetail\":{\"code\":1,\"message\":\"The command '/bin/sh -c pip install nope' "
		"returned a non-zero code: 1\"},\"error\":\"The command '/bin/sh -c pip install nope' "
		"returned a non-zero code: 1\"}\r\n";
	tpgt_fakedocker_route routes[] = {
		{.method = "POST", .path = "/build", .body = stream, .chunked = true,
		 .chunk_size = 50},
	};
	tpgt_fakedocker *f = tpgt_fakedocker_start(NULL, routes, 1);
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};

	char dir[] = "/tmp/tpgt-buildctx-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *df = tpg_xasprintf("%s/Dockerfile", dir);
	FILE *fp = fopen(df, "w");
	fputs("FROM python:3-slim\nRUN pip install nope\n", fp);
	fclose(fp);

	const char *args[] = {"A=1 2", NULL};
	const char *labels[] = {"tpgrade.run=t1", NULL};
	tpg_docker_build_opts o = {.context_dir = dir, .tag = "t:1", .build_args = args,
	                           .labels = labels, .builder = TPG_DOCKER_BUILDER_CLASSIC};
	tpg_docker_build_result res;
	assert_int_equal(tpg_docker_build(dk, &o, soon(), &res, &err), 0);
	assert_false(res.ok);
	assert_string_equal(res.failed_step, "Step 2/3 : RUN pip install nope");
	assert_string_equal(res.failed_output, "ERROR: No matching distribution found for nope");
	assert_string_equal(res.error,
	                    "The command '/bin/sh -c pip install nope' returned a non-zero code: 1");
	assert_int_equal(res.builder, 1);
	assert_true(res.context_bytes >= 1024);

	char *log = tpgt_fakedocker_log(f);
	assert_non_null(strstr(log, "POST /v1.41/build?version=1&"));
	assert_non_null(strstr(log, "&t=t%3A1"));
	assert_non_null(strstr(log, "&buildargs=%7B%22A%22%3A%221%202%22%7D"));
	assert_non_null(strstr(log, "&labels=%7B%22tpgrade.run%22%3A%22t1%22%7D"));
	free(log);
	size_t full = 0;
	char *body = tpgt_fakedocker_last_body(f, &full);
	assert_int_equal(full, res.context_bytes);
	assert_string_equal(body, "Dockerfile");   /* the tar's first name field */
	free(body);
	tpg_docker_build_result_free(&res);

	/* The daemon refusing the build itself is a failed build too. */
	tpgt_fakedocker_route refuse[] = {
		{.method = "POST", .path = "/build", .status = 500,
		 .body = "{\"message\":\"Cannot locate specified Dockerfile: Dockerfile\"}"},
	};
	tpgt_fakedocker *f2 = tpgt_fakedocker_start(NULL, refuse, 1);
	tpg_docker *dk2 = open_fake(f2, NULL);
	assert_int_equal(tpg_docker_build(dk2, &o, soon(), &res, &err), 0);
	assert_false(res.ok);
	assert_string_equal(res.error, "Cannot locate specified Dockerfile: Dockerfile");
	tpg_docker_build_result_free(&res);
	tpg_docker_close(dk2);
	tpgt_fakedocker_stop(f2);

	unlink(df);
	rmdir(dir);
	free(df);
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

/* ---------------------------------------------------------------- cleanup */

static void test_cleanup_only_ours(void **state)
{
	(void)state;
	env_set(NULL);
	tpgt_fakedocker_route routes[] = {
		{.method = "GET", .path = "/containers/json",
		 .body = "[{\"Id\":\"c-ours\",\"Labels\":{\"tpgrade.run\":\"r1\"}},"
		         "{\"Id\":\"c-other\",\"Labels\":{\"tpgrade.run\":\"r2\"}},"
		         "{\"Id\":\"c-none\",\"Labels\":{}}]"},
		{.method = "GET", .path = "/images/json",
		 .body = "[{\"Id\":\"sha256:i1\",\"Labels\":{\"tpgrade.run\":\"r1\"}},"
		         "{\"Id\":\"sha256:base\",\"Labels\":null}]"},
		{.method = "GET", .path = "/networks", .body = "[{\"Id\":\"n1\",\"Labels\":"
		                                               "{\"tpgrade.run\":\"r1\"}}]"},
		{.method = "GET", .path = "/volumes", .body = "{\"Volumes\":null}"},
		{.method = "DELETE", .path = "/containers/c-ours", .status = 204},
		{.method = "DELETE", .path = "/images/sha256:i1", .body = "[]"},
		{.method = "DELETE", .path = "/networks/n1", .status = 204},
	};
	tpgt_fakedocker *f = tpgt_fakedocker_start(NULL, routes, TPG_ARRAY_LEN(routes));
	tpg_docker *dk = open_fake(f, NULL);
	tpg_err err = {0};
	tpg_docker_cleanup_stats st;

	assert_int_equal(tpg_docker_cleanup(dk, "r1", soon(), &st, &err), 0);
	assert_int_equal(st.containers, 1);
	assert_int_equal(st.images, 1);
	assert_int_equal(st.networks, 1);
	assert_int_equal(st.failures, 0);
	char *log = tpgt_fakedocker_log(f);
	assert_non_null(strstr(log, "filters=%7B%22label%22%3A%5B%22tpgrade.run%3Dr1%22%5D%7D"));
	assert_null(strstr(log, "c-other"));
	assert_null(strstr(log, "c-none"));
	assert_null(strstr(log, "base"));
	free(log);

	/* Cleanup works even after Ctrl-C: that is when it is needed. */
	tpg_interrupt_set(true);
	assert_int_equal(tpg_docker_cleanup(dk, NULL, soon(), &st, &err), 0);
	assert_int_equal(st.containers, 2);   /* r1 and r2, never the unlabelled one */
	tpg_interrupt_set(false);
	tpg_docker_close(dk);
	tpgt_fakedocker_stop(f);
}

static void test_container_config(void **state)
{
	(void)state;
	const char *cmd[] = {"python3", "app.py", NULL};
	const char *labels[] = {"tpgrade.run=r", NULL};
	const char *publish[] = {"5000", NULL};
	tpg_docker_container_spec s = {.image = "img", .cmd = cmd, .labels = labels,
	                               .publish = publish, .network = "bridge",
	                               .healthcheck_override = true, .hc_interval_ms = 1000,
	                               .hc_retries = 2};
	json_t *c = tpg_docker_container_config(&s);
	char *text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(strstr(text, "\"Healthcheck\":{\"Interval\":1000000000,\"Retries\":2}"));
	assert_non_null(strstr(text, "\"CapDrop\":[\"ALL\"]"));
	assert_non_null(strstr(text, "\"Memory\":268435456"));
	assert_non_null(strstr(text, "\"PidsLimit\":256"));
	assert_non_null(strstr(text, "\"NanoCpus\":1000000000"));
	assert_non_null(strstr(text, "\"SecurityOpt\":[\"no-new-privileges\"]"));
	assert_non_null(strstr(text, "\"PortBindings\":{\"5000/tcp\":[{\"HostIp\":\"127.0.0.1\","
	                             "\"HostPort\":\"\"}]}"));
	assert_non_null(strstr(text, "\"Labels\":{\"tpgrade.run\":\"r\"}"));
	assert_null(strstr(text, "\"Test\""));
	free(text);
	json_decref(c);

	tpg_docker_container_spec d = {.image = "img"};
	c = tpg_docker_container_config(&d);
	assert_string_equal(json_string_value(json_object_get(json_object_get(c, "HostConfig"),
	                                                      "NetworkMode")), "none");
	assert_null(json_object_get(c, "Healthcheck"));
	json_decref(c);
}

/* ---------------------------------------------------------------- endpoint */

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_endpoint_resolution(void **state)
{
	(void)state;
	tpg_docker_endpoint ep;
	tpg_err err = {0};

	env_set(NULL);
	assert_int_equal(tpg_docker_endpoint_resolve(NULL, &probe, &ep, &err), 0);
	assert_string_equal(ep.url, "unix:///var/run/docker.sock");
	assert_string_equal(ep.origin, "default");
	tpg_docker_endpoint_free(&ep);

	static const char *tcp[] = {"DOCKER_HOST=tcp://10.0.0.5", NULL};
	env_set(tcp);
	assert_int_equal(tpg_docker_endpoint_resolve(NULL, &probe, &ep, &err), 0);
	assert_string_equal(ep.url, "tcp://10.0.0.5:2375");
	assert_false(ep.tls);
	tpg_docker_endpoint_free(&ep);

	/* The explicit option wins. */
	assert_int_equal(tpg_docker_endpoint_resolve("unix:///run/x.sock", &probe, &ep, &err), 0);
	assert_string_equal(ep.socket_path, "/run/x.sock");
	assert_string_equal(ep.origin, "--docker-host");
	tpg_docker_endpoint_free(&ep);

	static const char *tls[] = {"DOCKER_HOST=tcp://[::1]:1234/base/", "DOCKER_TLS_VERIFY=1",
	                            "DOCKER_CERT_PATH=/certs/me", NULL};
	env_set(tls);
	assert_int_equal(tpg_docker_endpoint_resolve(NULL, &probe, &ep, &err), 0);
	assert_string_equal(ep.url, "tcp://[::1]:1234/base");
	assert_string_equal(ep.host, "::1");
	assert_true(ep.tls && ep.tls_verify);
	assert_string_equal(ep.ca, "/certs/me/ca.pem");
	assert_string_equal(ep.key, "/certs/me/key.pem");
	tpg_docker_endpoint_free(&ep);

	static const char *home[] = {"DOCKER_HOST=tcp://h", "DOCKER_TLS_VERIFY=yes",
	                             "HOME=/home/s", NULL};
	env_set(home);
	assert_int_equal(tpg_docker_endpoint_resolve(NULL, &probe, &ep, &err), 0);
	assert_string_equal(ep.url, "tcp://h:2376");
	assert_string_equal(ep.cert, "/home/s/.docker/cert.pem");
	tpg_docker_endpoint_free(&ep);

	assert_int_equal(tpg_docker_endpoint_resolve("ssh://me@host", &probe, &ep, &err),
	                 TPG_EINVAL);
	assert_non_null(strstr(err.msg, "ssh://"));
	assert_int_equal(tpg_docker_endpoint_resolve("tcp://h:99999", &probe, &ep, &err),
	                 TPG_EINVAL);

	/* GitLab docker:dind with TLS certificates. */
	char dir[] = "/tmp/tpgt-certs-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *client = tpg_xasprintf("%s/client", dir);
	mkdir(client, 0700);
	const char *names[] = {"ca.pem", "cert.pem", "key.pem"};
	for (int i = 0; i < 3; i++) {
		char *p = tpg_xasprintf("%s/%s", client, names[i]);
		write_file(p, "x");
		free(p);
	}
	char *certdir = tpg_xasprintf("DOCKER_TLS_CERTDIR=%s", dir);
	const char *dind[] = {certdir, NULL};
	env_set(dind);
	fake_socket_exists = false;
	fake_resolves_docker = true;
	assert_int_equal(tpg_docker_endpoint_resolve(NULL, &probe, &ep, &err), 0);
	assert_string_equal(ep.url, "tcp://docker:2376");
	assert_true(ep.tls && ep.tls_verify);
	char *ca = tpg_xasprintf("%s/ca.pem", client);
	assert_string_equal(ep.ca, ca);
	assert_non_null(strstr(ep.origin, "dind"));
	tpg_docker_endpoint_free(&ep);

	/* ... DOCKER_HOST given by the job, TLS certificates found alike. */
	const char *dind_host[] = {certdir, "DOCKER_HOST=tcp://docker:2376", NULL};
	env_set(dind_host);
	assert_int_equal(tpg_docker_endpoint_resolve(NULL, &probe, &ep, &err), 0);
	assert_true(ep.tls && ep.tls_verify);
	assert_string_equal(ep.ca, ca);
	tpg_docker_endpoint_free(&ep);

	/* ... without TLS (DOCKER_TLS_CERTDIR: ""). */
	static const char *notls[] = {"DOCKER_TLS_CERTDIR=", NULL};
	env_set(notls);
	fake_socket_exists = false;
	fake_resolves_docker = true;
	assert_int_equal(tpg_docker_endpoint_resolve(NULL, &probe, &ep, &err), 0);
	assert_string_equal(ep.url, "tcp://docker:2375");
	assert_false(ep.tls);
	tpg_docker_endpoint_free(&ep);

	/* ... a local socket wins; no "docker" host: the socket, with a note. */
	env_set(dind);
	fake_socket_exists = true;
	fake_resolves_docker = true;
	assert_int_equal(tpg_docker_endpoint_resolve(NULL, &probe, &ep, &err), 0);
	assert_string_equal(ep.url, "unix:///var/run/docker.sock");
	tpg_docker_endpoint_free(&ep);
	fake_socket_exists = false;
	fake_resolves_docker = false;
	assert_int_equal(tpg_docker_endpoint_resolve(NULL, &probe, &ep, &err), 0);
	assert_string_equal(ep.url, "unix:///var/run/docker.sock");
	assert_non_null(ep.note);
	tpg_docker_endpoint_free(&ep);

	for (int i = 0; i < 3; i++) {
		char *p = tpg_xasprintf("%s/%s", client, names[i]);
		unlink(p);
		free(p);
	}
	rmdir(client);
	rmdir(dir);
	free(ca);
	free(client);
	free(certdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiate_2010),
		cmocka_unit_test(test_negotiate_docker29),
		cmocka_unit_test(test_version_override_too_old),
		cmocka_unit_test(test_daemon_too_old_or_too_new),
		cmocka_unit_test(test_ping_fallback_to_version),
		cmocka_unit_test(test_plain_http_to_tls_port),
		cmocka_unit_test(test_invalid_forced_version),
		cmocka_unit_test(test_error_message_verbatim),
		cmocka_unit_test(test_huge_error_body_capped),
		cmocka_unit_test(test_timeout_and_interrupt),
		cmocka_unit_test(test_connection_failures),
		cmocka_unit_test(test_logs_chunked_and_truncated),
		cmocka_unit_test(test_logs_stop),
		cmocka_unit_test(test_logs_big_output_capped),
		cmocka_unit_test(test_build_classic_failure),
		cmocka_unit_test(test_cleanup_only_ours),
		cmocka_unit_test(test_container_config),
		cmocka_unit_test(test_endpoint_resolution),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_docker_live.c - the client against the real daemon. Skipped unless
 * TPG_DOCKER_LIVE=1 (tests/docker/docker-live.sh sets it). The image is
 * TPG_LIVE_IMAGE (default tpgrade-base/debian:bookworm from
 * tests/env/base-images.sh); nothing is pulled. Everything created carries
 * tpgrade.run=<this run> and is removed by the group teardown, which checks
 * that nothing is left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tpgrade/docker.h"

static tpg_docker *dk;
static char run_id[64];
static char run_label[96];
static const char *image;
static char ctx_dir[64];
static char *built_image;   /* from test_build_ok, used by the health test */

static long long in_s(int s)
{
	return tpg_now_ms() + s * 1000LL;
}

static void put(const char *rel, const char *text)
{
	char *p = tpg_xasprintf("%s/%s", ctx_dir, rel);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	free(p);
}

static int group_setup(void **state)
{
	(void)state;
	const char *live = getenv("TPG_DOCKER_LIVE");
	if (!live || strcmp(live, "1") != 0)
		return 0;
	image = getenv("TPG_LIVE_IMAGE");
	if (!image || !*image)
		image = "tpgrade-base/debian:bookworm";
	snprintf(run_id, sizeof(run_id), "live-%ld", (long)getpid());
	snprintf(run_label, sizeof(run_label), "%s=%s", TPG_DOCKER_LABEL_RUN, run_id);
	tpg_err err = {0};
	if (tpg_docker_open(NULL, &dk, &err) < 0 || tpg_docker_ping(dk, in_s(10), &err) < 0) {
		fprintf(stderr, "docker: %s\n", err.msg);
		return -1;
	}
	json_t *img = NULL;
	if (tpg_docker_image_inspect(dk, image, in_s(10), &img, &err) < 0) {
		fprintf(stderr, "image %s: %s\n", image, err.msg);
		return -1;
	}
	json_decref(img);
	snprintf(ctx_dir, sizeof(ctx_dir), "/tmp/tpgt-live-XXXXXX");
	if (!mkdtemp(ctx_dir))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (!dk)
		return 0;
	tpg_err err = {0};
	tpg_docker_cleanup_stats st;
	int rc = tpg_docker_cleanup(dk, run_id, in_s(60), &st, &err);
	fprintf(stderr, "cleanup: %d containers, %d images, %d networks, %d failures%s%s\n",
	        st.containers, st.images, st.networks, st.failures, rc ? ": " : "", err.msg);
	char *cmd = tpg_xasprintf("rm -rf '%s'", ctx_dir);
	if (system(cmd) != 0)
		rc = -1;
	free(cmd);
	free(built_image);
	tpg_docker_close(dk);
	return rc;
}

static void need_daemon(void)
{
	if (!dk)
		skip();
}

static const char *labels[] = {NULL, NULL};

static char *run_container(const tpg_docker_container_spec *base)
{
	tpg_docker_container_spec s = *base;
	tpg_err err = {0};
	char *id = NULL;
	labels[0] = run_label;
	s.labels = labels;
	if (!s.image)
		s.image = image;
	assert_int_equal(tpg_docker_container_create(dk, &s, in_s(30), &id, &err), 0);
	assert_int_equal(tpg_docker_container_start(dk, id, in_s(30), &err), 0);
	return id;
}

/* ---------------------------------------------------------------- tests */

static void test_negotiated(void **state)
{
	(void)state;
	need_daemon();
	const char *v = tpg_docker_api_version(dk);
	assert_non_null(v);
	assert_true(tpg_docker_version_cmp(v, TPG_DOCKER_API_MIN) >= 0);
	assert_true(tpg_docker_version_cmp(v, TPG_DOCKER_API_MAX) <= 0);
	const char *sv = tpg_docker_server_version(dk);
	assert_non_null(sv);
	if (strncmp(sv, "20.10", 5) == 0)
		assert_string_equal(v, "1.41");
	fprintf(stderr, "daemon %s, API %s, at %s\n", sv, v, tpg_docker_endpoint_desc(dk));
}

static void build_both(const char *dockerfile, const char *tag, tpg_docker_build_result res[2])
{
	const char *blabels[] = {run_label, NULL};
	const char *args[] = {"GREETING=bonjour", NULL};
	put("Dockerfile", dockerfile);
	for (int b = 0; b < 2; b++) {
		tpg_err err = {0};
		char *t = tpg_xasprintf("%s-%d", tag, b + 1);
		tpg_docker_build_opts o = {.context_dir = ctx_dir, .tag = t, .labels = blabels,
		                           .build_args = args, .network = "none",
		                           .builder = b == 0 ? TPG_DOCKER_BUILDER_CLASSIC
		                                             : TPG_DOCKER_BUILDER_BUILDKIT};
		int rc = tpg_docker_build(dk, &o, in_s(300), &res[b], &err);
		if (rc)
			fprintf(stderr, "build: %s\n", err.msg);
		assert_int_equal(rc, 0);
		fprintf(stderr, "builder %d: %s in %lld ms (context %llu bytes)\n", b + 1,
		        res[b].ok ? "built" : "failed", res[b].ms, res[b].context_bytes);
		free(t);
	}
}

static void test_build_ok(void **state)
{
	(void)state;
	need_daemon();
	put(".dockerignore", "excluded.txt\nsub/*.tmp\n");
	put("excluded.txt", "must not reach the image\n");
	put("kept.txt", "kept\n");
	char *df = tpg_xasprintf("FROM %s\n"
	                         "ARG GREETING\n"
	                         "COPY . /ctx\n"
	                         "RUN test ! -e /ctx/excluded.txt && test -f /ctx/kept.txt "
	                         "&& test -f /ctx/Dockerfile && echo \"$GREETING\" > /greeting\n"
	                         "HEALTHCHECK CMD test -f /tmp/ok\n"
	                         "CMD [\"sleep\", \"1000\"]\n", image);
	char *tag = tpg_xasprintf("tpgrade-live/ok:%s", run_id);
	tpg_docker_build_result res[2];
	build_both(df, tag, res);
	for (int b = 0; b < 2; b++) {
		if (!res[b].ok)
			fprintf(stderr, "log:\n%s\nerror: %s\n", res[b].log, res[b].error);
		assert_true(res[b].ok);
		assert_non_null(res[b].image_id);
		assert_int_equal(strncmp(res[b].image_id, "sha256:", 7), 0);
		assert_null(res[b].error);
		json_t *img = NULL;
		tpg_err err = {0};
		assert_int_equal(tpg_docker_image_inspect(dk, res[b].image_id, in_s(10), &img, &err),
		                 0);
		const char *l = json_string_value(json_object_get(
			json_object_get(json_object_get(img, "Config"), "Labels"), TPG_DOCKER_LABEL_RUN));
		assert_non_null(l);
		assert_string_equal(l, run_id);
		json_decref(img);
	}
	built_image = tpg_xstrdup(res[1].image_id);
	tpg_docker_build_result_free(&res[0]);
	tpg_docker_build_result_free(&res[1]);

	/* The excluded file is really absent, the build arg really there. */
	const char *cmd[] = {"sh", "-c", "ls -a /ctx; cat /greeting", NULL};
	tpg_docker_container_spec s = {.image = built_image, .cmd = cmd};
	char *id = run_container(&s);
	int code = -1;
	tpg_err err = {0};
	assert_int_equal(tpg_docker_container_wait(dk, id, in_s(30), &code, &err), 0);
	assert_int_equal(code, 0);
	tpg_buf out = TPG_BUF_INIT;
	assert_int_equal(tpg_docker_container_logs(dk, id, false, in_s(10), &out, NULL, &err), 0);
	assert_null(strstr(tpg_buf_cstr(&out), "excluded.txt"));
	assert_non_null(strstr(tpg_buf_cstr(&out), "kept.txt"));
	assert_non_null(strstr(tpg_buf_cstr(&out), ".dockerignore"));
	assert_non_null(strstr(tpg_buf_cstr(&out), "bonjour"));
	tpg_buf_free(&out);
	free(id);
	free(df);
	free(tag);
}

static void test_build_fails_at_run(void **state)
{
	(void)state;
	need_daemon();
	char *df = tpg_xasprintf("FROM %s\n"
	                         "RUN echo step-two-ok\n"
	                         "RUN echo before-failure && echo on-stderr >&2 && exit 3\n"
	                         "RUN echo never\n", image);
	char *tag = tpg_xasprintf("tpgrade-live/fail:%s", run_id);
	tpg_docker_build_result res[2];
	build_both(df, tag, res);
	for (int b = 0; b < 2; b++) {
		assert_false(res[b].ok);
		assert_null(res[b].image_id);
		assert_non_null(res[b].failed_step);
		assert_non_null(strstr(res[b].failed_step,
		                       "RUN echo before-failure && echo on-stderr >&2 && exit 3"));
		assert_non_null(res[b].failed_output);
		assert_non_null(strstr(res[b].failed_output, "before-failure"));
		assert_non_null(strstr(res[b].failed_output, "on-stderr"));
		assert_null(strstr(res[b].failed_output, "step-two-ok"));
		assert_non_null(res[b].error);
		assert_non_null(strstr(res[b].error, "3"));
		fprintf(stderr, "builder %d: step '%s', error '%s'\n", b + 1, res[b].failed_step,
		        res[b].error);
	}
	/* The classic builder counts the LABEL it adds for `labels`. */
	assert_int_equal(strncmp(res[0].failed_step, "Step 3/", 7), 0);
	assert_non_null(strstr(res[1].failed_step, "[3/4] "));
	tpg_docker_build_result_free(&res[0]);
	tpg_docker_build_result_free(&res[1]);
	free(df);
	free(tag);
}

static long max_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void test_fifty_megabytes(void **state)
{
	(void)state;
	need_daemon();
	const char *cmd[] = {"sh", "-c", "head -c 52428800 /dev/zero | tr '\\0' x", NULL};
	tpg_docker_container_spec s = {.cmd = cmd};
	char *id = run_container(&s);
	tpg_err err = {0};
	int code = -1;
	assert_int_equal(tpg_docker_container_wait(dk, id, in_s(120), &code, &err), 0);
	assert_int_equal(code, 0);
	long before = max_rss_kb();
	long long t0 = tpg_now_ms();
	tpg_buf out;
	tpg_buf_init_capped(&out, 1u << 20, true);
	int rc = tpg_docker_container_logs(dk, id, false, in_s(120), &out, NULL, &err);
	if (rc)
		fprintf(stderr, "logs: %s\n", err.msg);
	assert_int_equal(rc, 0);
	const char *s1 = tpg_buf_cstr(&out);
	assert_int_equal(strlen(s1), 1u << 20);
	assert_int_equal(out.len + out.dropped, 52428800);
	assert_int_equal(strspn(s1, "x"), 1u << 20);
	long grew = max_rss_kb() - before;
	fprintf(stderr, "50 MB of logs read in %lld ms, max RSS grew by %ld KB\n",
	        tpg_now_ms() - t0, grew);
	assert_true(grew < 16 * 1024);
	tpg_buf_free(&out);
	free(id);
}

static void test_never_exits(void **state)
{
	(void)state;
	need_daemon();
	const char *cmd[] = {"sleep", "1000", NULL};
	tpg_docker_container_spec s = {.cmd = cmd};
	char *id = run_container(&s);
	tpg_err err = {0};
	int code = -1;
	long long t0 = tpg_now_ms();
	assert_int_equal(tpg_docker_container_wait(dk, id, t0 + 1500, &code, &err), TPG_ETIMEOUT);
	assert_true(tpg_now_ms() - t0 < 10000);
	assert_non_null(strstr(err.msg, "killed"));
	json_t *info = NULL;
	assert_int_equal(tpg_docker_container_inspect(dk, id, in_s(10), &info, &err), 0);
	assert_false(json_is_true(json_object_get(json_object_get(info, "State"), "Running")));
	json_decref(info);
	free(id);
}

static void test_exec_and_limits(void **state)
{
	(void)state;
	need_daemon();
	const char *cmd[] = {"sleep", "1000", NULL};
	tpg_docker_container_spec s = {.cmd = cmd};
	char *id = run_container(&s);
	tpg_err err = {0};
	const char *argv[] = {"sh", "-c", "echo out; echo \"$X\" >&2; exit 7", NULL};
	const char *env[] = {"X=from-env", NULL};
	tpg_buf out = TPG_BUF_INIT, errb = TPG_BUF_INIT;
	int code = -1;
	long long t0 = tpg_now_ms();
	assert_int_equal(tpg_docker_exec(dk, id, argv, env, NULL, in_s(30), &code, &out, &errb,
	                                 &err), 0);
	fprintf(stderr, "exec took %lld ms\n", tpg_now_ms() - t0);
	assert_int_equal(code, 7);
	assert_string_equal(tpg_buf_cstr(&out), "out\n");
	assert_string_equal(tpg_buf_cstr(&errb), "from-env\n");
	tpg_buf_free(&out);
	tpg_buf_free(&errb);

	json_t *info = NULL;
	assert_int_equal(tpg_docker_container_inspect(dk, id, in_s(10), &info, &err), 0);
	json_t *hc = json_object_get(info, "HostConfig");
	assert_int_equal(json_integer_value(json_object_get(hc, "Memory")), 256LL << 20);
	assert_int_equal(json_integer_value(json_object_get(hc, "PidsLimit")), 256);
	assert_int_equal(json_integer_value(json_object_get(hc, "NanoCpus")), 1000000000LL);
	assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "CapDrop"), 0)),
	                    "ALL");
	assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "SecurityOpt"),
	                                                     0)), "no-new-privileges");
	assert_string_equal(json_string_value(json_object_get(hc, "NetworkMode")), "none");
	assert_false(json_is_true(json_object_get(hc, "Privileged")));
	json_decref(info);

	/* Two labelled networks, one with a container on it: tpgrade makes
	 * none, but the cleanup must remove labelled ones (in use or not). */
	char *name = tpg_xasprintf("tpgrade-live-%s", run_id);
	for (int i = 0; i < 2; i++) {
		json_t *body = json_pack("{s:s+,s:b,s:{s:s}}", "Name", name, i ? "-b" : "",
		                         "Internal", 1, "Labels", TPG_DOCKER_LABEL_RUN, run_id);
		assert_int_equal(tpg_docker_call(dk, "POST", "/networks/create", body, in_s(10), NULL,
		                                 NULL, &err), 0);
		json_decref(body);
	}
	const char *ncmd[] = {"sleep", "1000", NULL};
	tpg_docker_container_spec s2 = {.cmd = ncmd, .network = name};
	free(run_container(&s2));
	free(name);
	free(id);
}

static void test_logs_utf8_demux(void **state)
{
	(void)state;
	need_daemon();
	const char *cmd[] = {"sh", "-c", "printf 'Un \\303\\251l\\303\\251phant dans un boa.\\n'; "
	                                 "printf 'sur stderr\\n' >&2", NULL};
	tpg_docker_container_spec s = {.cmd = cmd};
	char *id = run_container(&s);
	tpg_err err = {0};
	int code = -1;
	assert_int_equal(tpg_docker_container_wait(dk, id, in_s(30), &code, &err), 0);
	tpg_buf out = TPG_BUF_INIT, errb = TPG_BUF_INIT;
	assert_int_equal(tpg_docker_container_logs(dk, id, false, in_s(10), &out, &errb, &err), 0);
	assert_string_equal(tpg_buf_cstr(&out), "Un éléphant dans un boa.\n");
	assert_string_equal(tpg_buf_cstr(&errb), "sur stderr\n");
	tpg_buf_free(&out);
	tpg_buf_free(&errb);

	/* With a TTY the stream is raw: all of it on stdout. */
	tpg_docker_container_spec t = {.cmd = cmd, .tty = true};
	free(id);
	id = run_container(&t);
	assert_int_equal(tpg_docker_container_wait(dk, id, in_s(30), &code, &err), 0);
	assert_int_equal(tpg_docker_container_logs(dk, id, false, in_s(10), &out, &errb, &err), 0);
	assert_non_null(strstr(tpg_buf_cstr(&out), "dans un boa."));
	assert_non_null(strstr(tpg_buf_cstr(&out), "sur stderr"));
	assert_int_equal(errb.len, 0);
	tpg_buf_free(&out);
	tpg_buf_free(&errb);
	free(id);
}

/* Polls State.Health.Status until it is `want`; 0, or -1 at the deadline
 * or when the container stopped. */
static int wait_health(const char *id, const char *want, long long deadline)
{
	for (;;) {
		json_t *info = NULL;
		tpg_err err = {0};
		assert_int_equal(tpg_docker_container_inspect(dk, id, deadline, &info, &err), 0);
		const json_t *st = json_object_get(info, "State");
		const char *h = json_string_value(json_object_get(json_object_get(st, "Health"),
		                                                  "Status"));
		bool done = h && !strcmp(h, want), running = json_is_true(json_object_get(st,
		                                                                         "Running"));
		json_decref(info);
		if (done)
			return 0;
		if (!running || tpg_now_ms() > deadline)
			return -1;
		usleep(100 * 1000);
	}
}

static void test_health(void **state)
{
	(void)state;
	need_daemon();
	if (!built_image)
		skip();
	const char *cmd[] = {"sh", "-c", "sleep 1; touch /tmp/ok; sleep 1000", NULL};
	tpg_docker_container_spec s = {.image = built_image, .cmd = cmd,
	                               .healthcheck_override = true, .hc_interval_ms = 300,
	                               .hc_timeout_ms = 2000, .hc_retries = 1};
	char *id = run_container(&s);
	tpg_err err = {0};
	long long t0 = tpg_now_ms();
	assert_int_equal(wait_health(id, "healthy", in_s(20)), 0);
	fprintf(stderr, "healthy after %lld ms\n", tpg_now_ms() - t0);

	/* The image's test is kept; only the timing changed. */
	json_t *info = NULL;
	assert_int_equal(tpg_docker_container_inspect(dk, id, in_s(10), &info, &err), 0);
	json_t *hc = json_object_get(json_object_get(info, "Config"), "Healthcheck");
	assert_int_equal(json_integer_value(json_object_get(hc, "Interval")), 300000000LL);
	json_decref(info);

	const char *rm[] = {"rm", "/tmp/ok", NULL};
	int code = -1;
	assert_int_equal(tpg_docker_exec(dk, id, rm, NULL, NULL, in_s(10), &code, NULL, NULL, &err),
	                 0);
	assert_int_equal(code, 0);
	assert_int_equal(wait_health(id, "unhealthy", in_s(20)), 0);
	free(id);
}

static void test_socket_absent(void **state)
{
	(void)state;
	need_daemon();
	tpg_docker_opts o = {.host = "unix:///tmp/tpgt-absent/docker.sock"};
	tpg_docker *other = NULL;
	tpg_err err = {0};
	assert_int_equal(tpg_docker_open(&o, &other, &err), 0);
	assert_int_equal(tpg_docker_ping(other, in_s(5), &err), TPG_EUNAVAIL);
	assert_non_null(strstr(err.msg, "unix:///tmp/tpgt-absent/docker.sock: No such file or "
	                                "directory"));
	tpg_docker_close(other);
}

static void test_cleanup_leaves_nothing(void **state)
{
	(void)state;
	need_daemon();
	tpg_err err = {0};
	tpg_docker_cleanup_stats st;
	assert_int_equal(tpg_docker_cleanup(dk, run_id, in_s(60), &st, &err), 0);
	assert_int_equal(st.failures, 0);
	assert_true(st.containers >= 5);
	assert_true(st.images >= 2);
	assert_int_equal(st.networks, 2);
	json_t *filters = json_pack("{s:[s]}", "label", run_label);
	json_t *list = NULL;
	assert_int_equal(tpg_docker_container_list(dk, filters, in_s(10), &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(tpg_docker_image_list(dk, run_label, in_s(10), &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	json_decref(filters);
	/* The base image is not ours and is still there. */
	json_t *img = NULL;
	assert_int_equal(tpg_docker_image_inspect(dk, image, in_s(10), &img, &err), 0);
	json_decref(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiated),
		cmocka_unit_test(test_build_ok),
		cmocka_unit_test(test_build_fails_at_run),
		cmocka_unit_test(test_fifty_megabytes),
		cmocka_unit_test(test_never_exits),
		cmocka_unit_test(test_exec_and_limits),
		cmocka_unit_test(test_logs_utf8_demux),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_socket_absent),
		cmocka_unit_test(test_cleanup_leaves_nothing),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

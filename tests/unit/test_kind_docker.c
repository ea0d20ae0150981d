/* test_kind_docker.c - the keys of the live Docker kinds (build, run,
 * service, image, container): what parses, and every mistake reported
 * with file:line:column and key path. Running them needs a daemon:
 * tests/docker/kinds-*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpgrade/spec.h"

#define HEAD                                                                   \
	"tp: demo\n"                                                              \
	"title: Demo\n"                                                           \
	"suites:\n"                                                               \
	"  - id: s\n"                                                             \
	"    title: S\n"                                                          \
	"    checks:\n"

static tpg_spec *load(const char *body, tpg_diags *d)
{
	tpg_spec *spec = NULL;
	char *text = NULL;
	tpg_spec_opts o = { NULL, false };
	size_t n = strlen(HEAD) + strlen(body) + 1;
	text = malloc(n);
	snprintf(text, n, "%s%s", HEAD, body);
	tpg_spec_load_buffer("spec.yaml", text, strlen(text), &o, &spec, d);
	free(text);
	return spec;
}

/* True when a diagnostic is at line:col (-1: any) with these substrings. */
static bool has_diag(const tpg_diags *d, int line, int col, const char *path, const char *msg)
{
	for (size_t i = 0; i < d->len; i++) {
		const tpg_diag *g = &d->items[i];
		if ((line < 0 || g->line == line) && (col < 0 || g->col == col) &&
		    (!path || strstr(g->path, path)) && (!msg || strstr(g->msg, msg)))
			return true;
	}
	tpg_diags_print(d, stderr);
	return false;
}

/* Loads a spec that must fail with one diagnostic matching. */
static void expect_error(const char *body, int line, int col, const char *path, const char *msg)
{
	tpg_diags d = TPG_DIAGS_INIT;
	tpg_spec *s = load(body, &d);
	assert_null(s);
	assert_true(has_diag(&d, line, col, path, msg));
	tpg_diags_free(&d);
}

static const char *all_kinds =
	"      - id: app.build\n"                               /* line 7 */
	"        title: builds\n"
	"        kind: build\n"
	"        context: healthcheck\n"
	"        dockerfile: Dockerfile.prod\n"
	"        build-args: {FLASK_VERSION: '2.2', BASE: python}\n"
	"        target: final\n"
	"        builder: buildkit\n"
	"        network: none\n"
	"        no-cache: true\n"
	"        max-context: 20MB\n"
	"        expect: [{log: {not-contains: WARNING}}]\n"
	"      - id: app.run\n"
	"        title: runs\n"
	"        kind: run\n"
	"        image: ${found.app.build.image}\n"
	"        args: [-f, stegosaurus, Yo!]\n"
	"        entrypoint: [/usr/games/cowsay]\n"
	"        env: {LANG: C.UTF-8}\n"
	"        user: '1000'\n"
	"        workdir: /tmp\n"
	"        tty: false\n"
	"        memory: 128MiB\n"
	"        pids: 64\n"
	"        cpus: 0.5\n"
	"        cap-add: [NET_BIND_SERVICE]\n"
	"        output-limit: 256k\n"
	"        expect:\n"
	"          - exit-code: [0, 1]\n"
	"          - stdout: Yo!\n"
	"          - any: [{stderr: {equals: ''}}, {output: {matches: 'W[a-z]+'}}]\n"
	"            message: {fr: raté, en: missed}\n"
	"      - id: app.svc\n"
	"        title: service\n"
	"        kind: service\n"
	"        image: ${found.app.build.tag}\n"
	"        port: [5000, 8080]\n"
	"        reach: published\n"
	"        health: {interval: 1s, timeout: 2s, retries: 2, start-period: 500ms}\n"
	"        steps:\n"
	"          - wait-health: healthy\n"
	"            within: 60s\n"
	"          - http: {method: post, path: kill, port: 8080, status: any}\n"
	"          - http: /health\n"
	"            within: 0\n"
	"          - http: {path: /health, status: {min: 500, max: 599}, body: {contains: NOT}}\n"
	"          - exec: {command: [cat, /etc/hostname], exit-code: 0, stdout: {matches: '\\w'}}\n"
	"          - exec: curl -f localhost:5000/health\n"
	"          - logs: 'GET /kill'\n"
	"            within: 5s\n"
	"            message: {fr: pas de log, en: no log}\n"
	"          - sleep: 1s\n"
	"      - id: app.svc2\n"
	"        title: reuse\n"
	"        kind: service\n"
	"        container: ${found.app.svc.container}\n"
	"        port: 5000\n"
	"        steps: [{wait-health: unhealthy}]\n"
	"      - id: app.image\n"
	"        title: image\n"
	"        kind: image\n"
	"        image: ${found.app.build.image}\n"
	"        expect:\n"
	"          - entrypoint: {equals: '[\"/usr/games/cowsay\"]'}\n"
	"          - entrypoint-form: exec\n"
	"          - healthcheck: {test: {matches: 'curl.*-f'}, interval: {max: 10s}, retries: {min: 1}}\n"
	"          - healthcheck: true\n"
	"          - exposed-ports: 5000/tcp\n"
	"          - layers: {min: 2, max: 20}\n"
	"          - size: {max: 1GB}\n"
	"          - not: {user: {equals: root}}\n"
	"      - id: reg.container\n"
	"        title: registry runs\n"
	"        kind: container\n"
	"        image: 'registry:2*'\n"
	"        running: true\n"
	"        expect:\n"
	"          - restart-policy: {equals: always}\n"
	"          - published: '5000:5000'\n"
	"          - published: {container: 5000, protocol: tcp}\n"
	"          - state: running\n"
	"          - mounts: {matches: '/var/lib/registry'}\n";

static void test_all_kinds_parse(void **state)
{
	(void)state;
	tpg_diags d = TPG_DIAGS_INIT;
	tpg_spec *s = load(all_kinds, &d);
	if (!s)
		tpg_diags_print(&d, stderr);
	assert_non_null(s);
	assert_int_equal(d.len, 0);
	assert_int_equal(s->nchecks, 6);
	const tpg_check *run = tpg_spec_find(s, "app.run");
	assert_non_null(run);
	assert_string_equal(run->kind->name, "run");
	assert_true(tpg_strv_contains(&run->tags, "docker"));
	assert_true(tpg_strv_contains(&run->uses, "app.build"));
	assert_int_equal(run->timeout_ms, 60000);
	assert_int_equal(tpg_spec_find(s, "app.build")->timeout_ms, 300000);
	assert_int_equal(tpg_spec_find(s, "app.svc")->timeout_ms, 120000);
	assert_true(tpg_strv_contains(&tpg_spec_find(s, "app.svc2")->uses, "app.svc"));
	/* Prerequisites first. */
	size_t pos_build = 0, pos_run = 0;
	for (size_t k = 0; k < s->nchecks; k++) {
		if (!strcmp(s->checks[s->order[k]].id, "app.build"))
			pos_build = k;
		if (!strcmp(s->checks[s->order[k]].id, "app.run"))
			pos_run = k;
	}
	assert_true(pos_build < pos_run);
	tpg_spec_free(s);
	tpg_diags_free(&d);
}

static void test_build_errors(void **state)
{
	(void)state;
	expect_error("      - id: b\n"
	             "        title: b\n"
	             "        kind: build\n"
	             "        builder: docker\n",
	             10, 18, "checks[0].builder", "'docker' is not one of: auto, classic, buildkit");
	expect_error("      - id: b\n"
	             "        title: b\n"
	             "        kind: build\n"
	             "        context: ../outside\n",
	             10, 18, "checks[0].context", "must be a path inside the repository");
	expect_error("      - id: b\n"
	             "        title: b\n"
	             "        kind: build\n"
	             "        build-args: [A=1]\n",
	             10, 21, "build-args", "must be a mapping");
	expect_error("      - id: b\n"
	             "        title: b\n"
	             "        kind: build\n"
	             "        network: host\n",
	             10, 18, "network", "not one of: default, none, bridge");
	expect_error("      - id: b\n"
	             "        title: b\n"
	             "        kind: build\n"
	             "        expect: [{logs: x}]\n",
	             -1, -1, "expect[0]", "a condition needs one of: log");
}

static void test_run_errors(void **state)
{
	(void)state;
	expect_error("      - id: r\n"
	             "        title: r\n"
	             "        kind: run\n"
	             "        args: [x]\n",
	             -1, -1, "checks[0]", "missing required key 'image'");
	expect_error("      - id: r\n"
	             "        title: r\n"
	             "        kind: run\n"
	             "        image: busybox\n"
	             "        expect: [{exit-code: zero}]\n",
	             11, 30, "expect[0].exit-code", "must be a whole number between 0 and 255");
	expect_error("      - id: r\n"
	             "        title: r\n"
	             "        kind: run\n"
	             "        image: busybox\n"
	             "        cap-add: [SYS_ADMIN]\n",
	             -1, -1, "cap-add", "'SYS_ADMIN' is not allowed");
	expect_error("      - id: r\n"
	             "        title: r\n"
	             "        kind: run\n"
	             "        image: busybox\n"
	             "        memory: 1k\n",
	             11, 17, "memory", "at least 6 MiB");
	expect_error("      - id: r\n"
	             "        title: r\n"
	             "        kind: run\n"
	             "        image: busybox\n"
	             "        network: host\n",
	             11, 18, "network", "is not one of: none, bridge, default");
	expect_error("      - id: r\n"
	             "        title: r\n"
	             "        kind: run\n"
	             "        image: busybox\n"
	             "        env: {A=B: x}\n",
	             11, 15, "env", "is not a variable name");
	expect_error("      - id: r\n"
	             "        title: r\n"
	             "        kind: run\n"
	             "        image: busybox\n"
	             "        pids: 2\n",
	             11, 15, "pids", "between 8 and 100000");
	expect_error("      - id: r\n"
	             "        title: r\n"
	             "        kind: run\n"
	             "        image: busybox\n"
	             "        stdout: x\n",
	             11, 9, "stdout", "unknown key 'stdout'");
}

static void test_service_errors(void **state)
{
	(void)state;
	expect_error("      - id: s\n"
	             "        title: s\n"
	             "        kind: service\n"
	             "        steps: [{wait-health: healthy}]\n",
	             -1, -1, "checks[0]", "either 'image'");
	expect_error("      - id: s\n"
	             "        title: s\n"
	             "        kind: service\n"
	             "        image: x\n"
	             "        steps:\n"
	             "          - http: /health\n",
	             12, 19, "steps[0].http", "needs the service's `port:`");
	expect_error("      - id: s\n"
	             "        title: s\n"
	             "        kind: service\n"
	             "        image: x\n"
	             "        steps:\n"
	             "          - wait-health: healthy\n"
	             "            sleep: 1s\n",
	             12, 13, "steps[0]", "one action per step");
	expect_error("      - id: s\n"
	             "        title: s\n"
	             "        kind: service\n"
	             "        image: x\n"
	             "        steps:\n"
	             "          - wait-health: sick\n",
	             12, 26, "steps[0].wait-health", "'sick' is not one of: healthy, unhealthy, "
	             "starting, running");
	expect_error("      - id: s\n"
	             "        title: s\n"
	             "        kind: service\n"
	             "        image: x\n"
	             "        steps:\n"
	             "          - exec: [true]\n"
	             "            within: 3s\n",
	             13, 21, "steps[0].within", "exec takes a timeout");
	expect_error("      - id: s\n"
	             "        title: s\n"
	             "        kind: service\n"
	             "        image: x\n"
	             "        port: 5000\n"
	             "        steps:\n"
	             "          - http: {path: /, port: 9000}\n",
	             13, 35, "steps[0].http.port", "not one of the service's `port:`");
	expect_error("      - id: s\n"
	             "        title: s\n"
	             "        kind: service\n"
	             "        image: x\n"
	             "        port: 70000\n",
	             11, 15, "port", "is not a TCP port");
	expect_error("      - id: first\n"
	             "        title: s\n"
	             "        kind: service\n"
	             "        image: x\n"
	             "      - id: s\n"
	             "        title: s\n"
	             "        kind: service\n"
	             "        container: ${found.first.container}\n"
	             "        args: [x]\n",
	             15, 15, "checks[1].args", "applies when the check starts the container");
	expect_error("      - id: s\n"
	             "        title: s\n"
	             "        kind: service\n"
	             "        image: x\n"
	             "        health: {interval: 10ms}\n",
	             -1, -1, "health", "at least 100ms");
	expect_error("      - id: s\n"
	             "        title: s\n"
	             "        kind: service\n"
	             "        image: x\n"
	             "        port: 5000\n"
	             "        network: none\n",
	             -1, -1, "network", "network: none cannot be reached");
	expect_error("      - id: s\n"
	             "        title: s\n"
	             "        kind: service\n"
	             "        image: x\n"
	             "        steps:\n"
	             "          - exec: {user: root}\n",
	             -1, -1, "steps[0].exec", "missing required key 'command'");
}

static void test_image_and_container_errors(void **state)
{
	(void)state;
	expect_error("      - id: i\n"
	             "        title: i\n"
	             "        kind: image\n"
	             "        image: x\n"
	             "        expect: [{user: root, workdir: /app}]\n",
	             -1, -1, "expect[0]", "one condition per item");
	expect_error("      - id: i\n"
	             "        title: i\n"
	             "        kind: image\n"
	             "        image: x\n"
	             "        expect: [{entrypoint-form: json}]\n",
	             11, 36, "entrypoint-form", "'json' is not one of: exec, shell");
	expect_error("      - id: i\n"
	             "        title: i\n"
	             "        kind: image\n"
	             "        image: x\n"
	             "        expect: [{healthcheck: {interval: {max: soon}}}]\n",
	             -1, -1, "healthcheck.interval.max", NULL);
	expect_error("      - id: i\n"
	             "        title: i\n"
	             "        kind: image\n"
	             "        image: x\n"
	             "        exists: false\n"
	             "        expect: [{user: root}]\n",
	             -1, -1, "exists", "takes no expect");
	expect_error("      - id: c\n"
	             "        title: c\n"
	             "        kind: container\n"
	             "        running: true\n",
	             -1, -1, "checks[0]", "say which container");
	expect_error("      - id: c\n"
	             "        title: c\n"
	             "        kind: container\n"
	             "        name: registry\n"
	             "        expect: [{published: 'port 5000'}]\n",
	             11, 30, "expect[0].published", "is not a port");
	expect_error("      - id: c\n"
	             "        title: c\n"
	             "        kind: container\n"
	             "        name: registry\n"
	             "        expect: [{restart: always}]\n",
	             -1, -1, "expect[0]", "restart-policy");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_kinds_parse),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_run_errors),
		cmocka_unit_test(test_service_errors),
		cmocka_unit_test(test_image_and_container_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_spec.c - the spec loader: valid specs, and every kind of mistake
 * reported with file:line:column and key path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpgrade/spec.h"

static const char *good =
	"tp: demo\n"
	"title: Demo TP\n"
	"lang: en\n"
	"vars:\n"
	"  registry: localhost:5000\n"
	"  image: ${registry}/my-ubuntu\n"
	"suites:\n"
	"  - id: one\n"
	"    title: First\n"
	"    checks:\n"
	"      - id: one.files\n"
	"        title: app.py exists\n"
	"        kind: file\n"
	"        points: 2\n"
	"        find: {glob: \"**/app.py\"}\n"
	"      - id: one.content\n"
	"        title: routes\n"
	"        kind: file\n"
	"        path: ${found.one.files.file}\n"
	"        expect:\n"
	"          - content: {matches: '/health'}\n"
	"        hint: {fr: indice, en: hint}\n"
	"      - id: one.bonus\n"
	"        title: bonus\n"
	"        kind: file\n"
	"        bonus: true\n"
	"        points: 1.5\n"
	"        needs: [one.content]\n"
	"        path: README.md\n"
	"        tags: [extra]\n";

static tpg_spec *load(const char *text, tpg_diags *d, const tpg_strv *vars)
{
	tpg_spec *spec = NULL;
	tpg_spec_opts o = { vars, false };
	tpg_spec_load_buffer("spec.yaml", text, strlen(text), &o, &spec, d);
	return spec;
}

/* True when some diagnostic is at line:col and its path and message hold
 * the given substrings. */
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

static void test_good_spec(void **state)
{
	(void)state;
	tpg_diags d = TPG_DIAGS_INIT;
	tpg_spec *s = load(good, &d, NULL);
	if (!s)
		tpg_diags_print(&d, stderr);
	assert_non_null(s);
	assert_int_equal(d.len, 0);
	assert_string_equal(s->tp, "demo");
	assert_string_equal(s->lang, "en");
	assert_int_equal(s->nsuites, 1);
	assert_int_equal(s->nchecks, 3);
	assert_string_equal(tpg_vars_get(&s->vars, "image"), "localhost:5000/my-ubuntu");
	const tpg_check *c = tpg_spec_find(s, "one.content");
	assert_non_null(c);
	assert_int_equal(c->uses.len, 1);
	assert_string_equal(c->uses.items[0], "one.files");
	assert_string_equal(tpg_l10n_pick(&c->hint, "fr"), "indice");
	assert_string_equal(tpg_l10n_pick(&c->hint, "en"), "hint");
	c = tpg_spec_find(s, "one.bonus");
	assert_true(c->bonus);
	assert_true(c->points == 1.5);
	assert_true(tpg_strv_contains(&c->tags, "extra"));
	assert_true(tpg_strv_contains(&c->tags, "static"));
	assert_true(tpg_strv_contains(&c->tags, "file"));
	assert_int_equal(tpg_spec_find(s, "one.files")->points, 2);
	assert_true(strncmp(s->digest, "sha1:", 5) == 0);
	tpg_spec_free(s);
	tpg_diags_free(&d);
}

static void test_cli_vars_override(void **state)
{
	(void)state;
	tpg_diags d = TPG_DIAGS_INIT;
	tpg_strv vars = TPG_STRV_INIT;
	tpg_strv_push(&vars, "registry=reg.example:443");
	tpg_spec *s = load(good, &d, &vars);
	assert_non_null(s);
	assert_string_equal(tpg_vars_get(&s->vars, "registry"), "reg.example:443");
	assert_string_equal(tpg_vars_get(&s->vars, "image"), "reg.example:443/my-ubuntu");
	tpg_spec_free(s);
	tpg_strv_free(&vars);
	tpg_diags_free(&d);
}

/* One check with a mistake at a known place. */
static void expect_error(const char *check_body, int line, int col, const char *path,
                         const char *msg)
{
	char *text = tpg_xasprintf(
		"tp: t\ntitle: T\nsuites:\n  - id: s\n    title: S\n    checks:\n%s", check_body);
	tpg_diags d = TPG_DIAGS_INIT;
	tpg_spec *s = load(text, &d, NULL);
	assert_null(s);
	assert_true(has_diag(&d, line, col, path, msg));
	tpg_diags_free(&d);
	free(text);
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: x\n"
	             "        pionts: 2\n",
	             11, 9, "suites[0].checks[0].pionts", "unknown key 'pionts'");
}

static void test_wrong_type(void **state)
{
	(void)state;
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: x\n"
	             "        points: [1]\n",
	             11, 17, "checks[0].points", "must be a single value");
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: x\n"
	             "        bonus: yes please\n",
	             11, 16, "checks[0].bonus", "true or false");
}

static void test_negative_points(void **state)
{
	(void)state;
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: x\n"
	             "        points: -1\n",
	             11, 17, "checks[0].points", "must be 0 or more");
}

static void test_duplicate_id(void **state)
{
	(void)state;
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: x\n"
	             "      - id: a\n        title: B\n        kind: file\n        path: y\n",
	             11, 9, "checks[1]", "duplicate check id 'a'");
}

static void test_needs_unknown(void **state)
{
	(void)state;
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: x\n"
	             "        needs: [b]\n",
	             11, 17, "checks[0].needs[0]", "no check has that id");
}

static void test_cycle(void **state)
{
	(void)state;
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: x\n"
	             "        needs: b\n"
	             "      - id: b\n        title: B\n        kind: file\n        path: y\n"
	             "        needs: a\n",
	             -1, -1, NULL, "dependency cycle: ");
}

static void test_cycle_through_found(void **state)
{
	(void)state;
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: ${found.b.file}\n"
	             "      - id: b\n        title: B\n        kind: file\n        path: ${found.a.file}\n",
	             -1, -1, NULL, "dependency cycle");
}

static void test_bad_regex(void **state)
{
	(void)state;
	/* The column points at the unmatched parenthesis inside the regex. */
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: x\n"
	             "        expect:\n          - content: {matches: 'ab(c'}\n",
	             12, -1, "expect[0].content.matches", "does not compile");
}

static void test_path_escape(void **state)
{
	(void)state;
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: ../../etc/passwd\n",
	             10, 15, "checks[0].path", "inside the repository");
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: /etc/passwd\n",
	             10, 15, "checks[0].path", "inside the repository");
}

static void test_undefined_var(void **state)
{
	(void)state;
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: ${nope}/x\n",
	             10, 15, "checks[0].path", "undefined variable ${nope}");
}

static void test_unknown_kind(void **state)
{
	(void)state;
	expect_error("      - id: a\n        title: A\n        kind: fiel\n        path: x\n",
	             9, 15, "checks[0].kind", "unknown kind 'fiel'");
}

static void test_found_not_allowed_in_regex(void **state)
{
	(void)state;
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: x\n"
	             "      - id: b\n        title: B\n        kind: file\n        path: y\n"
	             "        expect: [{content: {matches: '${found.a.file}'}}]\n",
	             -1, -1, "matches", "cannot be used here");
}

static void test_all_errors_at_once(void **state)
{
	(void)state;
	tpg_diags d = TPG_DIAGS_INIT;
	const char *text =
		"tp: t\ntitle: T\nextra: 1\nsuites:\n  - id: s\n    title: S\n    checks:\n"
		"      - id: a\n        title: A\n        kind: file\n        path: x\n        points: -2\n"
		"      - id: A!\n        kind: file\n        path: y\n";
	assert_null(load(text, &d, NULL));
	assert_true(d.len >= 4);
	assert_true(has_diag(&d, 3, 1, "extra", "unknown key"));
	assert_true(has_diag(&d, 12, -1, "points", "0 or more"));
	assert_true(has_diag(&d, 13, -1, "id", "not a valid id"));
	assert_true(has_diag(&d, -1, -1, "checks[1]", "missing required key 'title'"));
	tpg_diags_free(&d);
}

static void test_billion_laughs(void **state)
{
	(void)state;
	tpg_buf b = TPG_BUF_INIT;
	tpg_buf_puts(&b, "tp: t\ntitle: T\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (int i = 1; i < 10; i++) {
		tpg_buf_printf(&b, "a%d: &a%d [", i, i);
		for (int k = 0; k < 10; k++)
			tpg_buf_printf(&b, "%s*a%d", k ? ", " : "", i - 1);
		tpg_buf_puts(&b, "]\n");
	}
	tpg_buf_puts(&b, "suites: []\n");
	tpg_diags d = TPG_DIAGS_INIT;
	long long t0 = tpg_now_ms();
	assert_null(load(tpg_buf_cstr(&b), &d, NULL));
	assert_true(tpg_now_ms() - t0 < 2000);
	assert_true(has_diag(&d, -1, -1, NULL, "expands to more than"));
	tpg_diags_free(&d);
	tpg_buf_free(&b);
}

static void test_many_aliases_are_linear(void **state)
{
	(void)state;
	/* 100000 aliases of one early anchor: resolving each must not search
	 * the whole document (it once did, which made this quadratic). */
	tpg_buf b = TPG_BUF_INIT;
	tpg_buf_puts(&b, "tp: t\ntitle: T\nx-one: &one 1\nx-many: [");
	for (int i = 0; i < 100000; i++)
		tpg_buf_puts(&b, i ? ", *one" : "*one");
	tpg_buf_puts(&b, "]\nsuites: []\n");
	tpg_diags d = TPG_DIAGS_INIT;
	long long t0 = tpg_now_ms();
	tpg_spec *s = load(tpg_buf_cstr(&b), &d, NULL);
	if (!s)
		tpg_diags_print(&d, stderr);
	assert_non_null(s);
	assert_true(tpg_now_ms() - t0 < 3000);
	tpg_spec_free(s);
	tpg_diags_free(&d);
	tpg_buf_free(&b);
}

static void test_not_yaml(void **state)
{
	(void)state;
	tpg_diags d = TPG_DIAGS_INIT;
	assert_null(load("tp: [unclosed\n", &d, NULL));
	assert_true(has_diag(&d, -1, -1, NULL, "YAML"));
	tpg_diags_free(&d);
	assert_null(load("just a string\n", &d, NULL));
	assert_true(has_diag(&d, 1, 1, NULL, "a spec is a mapping"));
	tpg_diags_free(&d);
	assert_null(load("a\0b", &d, NULL));
	tpg_diags_free(&d);
	assert_null(load("", &d, NULL));
	assert_true(has_diag(&d, -1, -1, NULL, "a spec is a mapping"));
	tpg_diags_free(&d);
}

static void test_duplicate_yaml_key(void **state)
{
	(void)state;
	expect_error("      - id: a\n        title: A\n        kind: file\n        path: x\n        path: y\n",
	             11, 9, NULL, "duplicate key 'path'");
}

static void test_merge_key(void **state)
{
	(void)state;
	tpg_diags d = TPG_DIAGS_INIT;
	const char *text =
		"tp: t\ntitle: T\n"
		"x-base: &base {kind: file, points: 3, tags: [shared]}\n"
		"suites:\n  - id: s\n    title: S\n    checks:\n"
		"      - <<: *base\n        id: a\n        title: A\n        path: x\n"
		"      - <<: *base\n        id: b\n        title: B\n        path: y\n        points: 1\n";
	tpg_spec *s = load(text, &d, NULL);
	/* "x-" keys hold anchors; merged keys come in, explicit keys win. */
	assert_non_null(s);
	assert_true(s->checks[0].points == 3);
	assert_true(s->checks[1].points == 1);
	assert_true(tpg_strv_contains(&s->checks[1].tags, "shared"));
	tpg_spec_free(s);
	tpg_diags_free(&d);
	assert_null(load("tp: t\ntitle: T\ny-base: 1\nsuites: []\n", &d, NULL));
	assert_true(has_diag(&d, 3, 1, "y-base", "unknown key"));
	tpg_diags_free(&d);
}

static void test_order_prerequisites_first(void **state)
{
	(void)state;
	tpg_diags d = TPG_DIAGS_INIT;
	const char *text =
		"tp: t\ntitle: T\nsuites:\n  - id: s\n    title: S\n    checks:\n"
		"      - {id: a, title: A, kind: file, path: '${found.c.file}'}\n"
		"      - {id: b, title: B, kind: file, path: x}\n"
		"      - {id: c, title: C, kind: file, path: y}\n";
	tpg_spec *s = load(text, &d, NULL);
	assert_non_null(s);
	assert_string_equal(s->checks[s->order[0]].id, "b");
	assert_string_equal(s->checks[s->order[1]].id, "c");
	assert_string_equal(s->checks[s->order[2]].id, "a");
	tpg_spec_free(s);
	tpg_diags_free(&d);
}

static void test_escapes_and_defaults(void **state)
{
	(void)state;
	tpg_diags d = TPG_DIAGS_INIT;
	const char *text =
		"tp: t\ntitle: T\nvars: {v: ''}\nsuites:\n  - id: s\n    title: S\n    checks:\n"
		"      - {id: a, title: 'cost $$5 ${v:-none} $HOME', kind: file, path: x}\n";
	tpg_spec *s = load(text, &d, NULL);
	assert_non_null(s);
	assert_string_equal(s->checks[0].title, "cost $5 none $HOME");
	tpg_spec_free(s);
	tpg_diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_spec),
		cmocka_unit_test(test_cli_vars_override),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_negative_points),
		cmocka_unit_test(test_duplicate_id),
		cmocka_unit_test(test_needs_unknown),
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_cycle_through_found),
		cmocka_unit_test(test_bad_regex),
		cmocka_unit_test(test_path_escape),
		cmocka_unit_test(test_undefined_var),
		cmocka_unit_test(test_unknown_kind),
		cmocka_unit_test(test_found_not_allowed_in_regex),
		cmocka_unit_test(test_all_errors_at_once),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_many_aliases_are_linear),
		cmocka_unit_test(test_not_yaml),
		cmocka_unit_test(test_duplicate_yaml_key),
		cmocka_unit_test(test_merge_key),
		cmocka_unit_test(test_order_prerequisites_first),
		cmocka_unit_test(test_escapes_and_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

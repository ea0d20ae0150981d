/* test_report_json.c - the JSON report: structure, hostile text, round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "test_report_fixture.h"
#include "tpgrade/sanitize.h"

static json_t *written(const tpg_report *r)
{
	size_t len;
	char *text = fx_write(tpg_report_write_json, r, &len);
	json_error_t e;
	json_t *doc = json_loadb(text, len, 0, &e);

	if (!doc)
		fail_msg("JSON does not parse: %s (line %d)", e.text, e.line);
	assert_true(tpg_sanitize_is_utf8(text, len));
	free(text);
	return doc;
}

static const char *str(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	assert_non_null(v);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void test_json_structure(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	json_t *doc = written(r), *checks, *c, *suites;
	static const char *const top[] = {
		"tpgrade", "tp", "title", "spec", "spec_digest", "student", "repository",
		"commit", "commit_date", "ref", "hostname", "started", "seconds", "score",
		"max_score", "lang", "notes", "exit_code", "suites", "checks",
	};
	static const char *const fields[] = {
		"id", "title", "suite", "kind", "status", "points", "max_points", "bonus",
		"counted", "message", "hint", "file", "line", "output", "seconds", "tags",
		"needs", "data",
	};

	for (size_t i = 0; i < TPG_ARRAY_LEN(top); i++)
		assert_non_null(json_object_get(doc, top[i]));
	assert_string_equal(str(doc, "tpgrade"), TPGRADE_VERSION);
	assert_string_equal(str(doc, "tp"), "tp2bis");
	assert_string_equal(str(doc, "started"), "2026-12-03T16:41:56Z");
	assert_int_equal(json_integer_value(json_object_get(doc, "score")), 3);
	assert_int_equal(json_integer_value(json_object_get(doc, "max_score")), 7);
	assert_int_equal(json_integer_value(json_object_get(doc, "exit_code")), 3);
	assert_true(json_real_value(json_object_get(doc, "seconds")) == 12.5);
	assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "notes"), 0)),
	                    "2 commits after the deadline");

	suites = json_object_get(doc, "suites");
	assert_int_equal(json_array_size(suites), 2);
	assert_string_equal(str(json_array_get(suites, 0), "id"), "cowsay");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(suites, 0), "max_score")), 5);
	assert_int_equal(json_array_size(json_object_get(json_array_get(suites, 1), "checks")), 3);
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(json_array_get(suites, 1), "checks"), 1)),
	                    "registry.tag");

	checks = json_object_get(doc, "checks");
	assert_int_equal(json_array_size(checks), 6);
	for (size_t i = 0; i < json_array_size(checks); i++)
		for (size_t k = 0; k < TPG_ARRAY_LEN(fields); k++)
			if (!json_object_get(json_array_get(checks, i), fields[k]))
				fail_msg("checks[%zu] has no \"%s\"", i, fields[k]);

	c = json_array_get(checks, 1);
	assert_string_equal(str(c, "status"), "failed");
	assert_string_equal(str(c, "suite"), "cowsay");
	assert_string_equal(str(c, "hint"), "write ENTRYPOINT [\"cowsay\"]");
	assert_int_equal(json_integer_value(json_object_get(c, "line")), 3);
	assert_true(json_is_null(json_object_get(c, "output")));
	assert_true(json_is_null(json_object_get(c, "data")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(c, "needs"), 0)),
	                    "cowsay.from");
	assert_true(json_real_value(json_object_get(c, "seconds")) == 0.004);

	c = json_array_get(checks, 2);
	assert_string_equal(str(c, "status"), "error");
	assert_true(json_is_null(json_object_get(c, "line")));
	assert_true(json_is_null(json_object_get(c, "hint")));
	assert_string_equal(str(json_object_get(c, "data"), "image"), "tp2bis-cowsay");

	c = json_array_get(checks, 4);
	assert_true(json_is_true(json_object_get(c, "bonus")));
	c = json_array_get(checks, 5);
	assert_true(json_is_false(json_object_get(c, "counted")));
	assert_string_equal(str(c, "status"), "skipped");

	json_decref(doc);
	tpg_report_free(r);
}

static void test_json_nulls_for_absent(void **state)
{
	(void)state;
	tpg_report *r = tpg_report_new();
	tpg_report_add_check(r, NULL, NULL);
	json_t *doc = written(r);
	static const char *const nullable[] = {
		"tp", "title", "spec", "spec_digest", "student", "repository", "commit",
		"commit_date", "ref", "hostname", "started", "lang",
	};

	for (size_t i = 0; i < TPG_ARRAY_LEN(nullable); i++)
		assert_true(json_is_null(json_object_get(doc, nullable[i])));
	json_t *c = json_array_get(json_object_get(doc, "checks"), 0);
	assert_true(json_is_null(json_object_get(c, "id")));
	assert_true(json_is_null(json_object_get(c, "message")));
	assert_true(json_is_null(json_object_get(c, "file")));
	json_decref(doc);
	tpg_report_free(r);
}

static void test_json_hostile_content(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	tpg_report_check *c = &r->checks[1];
	size_t big = 10 * 1024 * 1024;

	free(c->message);
	c->message = tpg_xstrdup("bad \xFF\xFE utf8 \xC0\xAF and \033[31mred\033[0m \x01");
	free(r->student);
	r->student = tpg_xstrdup("\xE9l\xE8ve");   /* Latin-1 */
	c->output = malloc(big);
	memset(c->output, 'x', big);
	memcpy(c->output + 100, "\0\0\0", 3);
	c->output_len = big;
	c->points = NAN;
	c->seconds = -1;
	c->data = json_pack("{s:s}", "k", "v");
	json_object_set_new_nocheck(c->data, "bad\xFF", json_string_nocheck("v\xFE"));

	json_t *doc = written(r);
	json_t *jc = json_array_get(json_object_get(doc, "checks"), 1);
	assert_string_equal(str(jc, "message"),
	                    "bad \xEF\xBF\xBD\xEF\xBF\xBD utf8 \xEF\xBF\xBD\xEF\xBF\xBD and "
	                    "\033[31mred\033[0m \x01");
	assert_string_equal(str(doc, "student"), "\xEF\xBF\xBDl\xEF\xBF\xBDve");
	const char *out = str(jc, "output");
	assert_true(strlen(out) <= TPG_REPORT_OUTPUT_MAX);
	assert_non_null(strstr(out, "truncated ...]"));
	assert_true(json_is_null(json_object_get(jc, "points")));
	assert_true(json_is_null(json_object_get(jc, "seconds")));
	assert_non_null(json_object_get(json_object_get(jc, "data"), "bad\xEF\xBF\xBD"));
	json_decref(doc);
	tpg_report_free(r);
}

static void test_json_round_trip(void **state)
{
	(void)state;
	tpg_report *r = fx_sample(), *back = NULL;
	tpg_err err = {0};
	json_t *one = tpg_report_to_json(r), *two;

	assert_int_equal(tpg_report_from_json(one, &back, &err), 0);
	assert_int_equal(back->nchecks, r->nchecks);
	assert_int_equal(back->nsuites, r->nsuites);
	assert_string_equal(back->checks[1].hint, r->checks[1].hint);
	assert_int_equal(back->checks[1].line, 3);
	assert_true(back->checks[4].bonus);
	assert_false(back->checks[5].counted);
	assert_true(back->started == 1796316116.0);
	assert_int_equal(back->suites[1].first, 3);
	assert_int_equal(back->suites[1].count, 3);
	assert_int_equal(json_integer_value(json_object_get(back->checks[2].data, "exit")), 1);
	two = tpg_report_to_json(back);
	if (!json_equal(one, two)) {
		char *a = json_dumps(one, JSON_INDENT(1)), *b = json_dumps(two, JSON_INDENT(1));
		fprintf(stderr, "first:\n%s\nsecond:\n%s\n", a, b);
		free(a);
		free(b);
		fail();
	}
	json_decref(one);
	json_decref(two);
	tpg_report_free(back);

	/* Checks listed out of suite order come back grouped by suite. */
	json_t *doc = tpg_report_to_json(r);
	json_t *checks = json_object_get(doc, "checks");
	json_t *first = json_incref(json_array_get(checks, 0));
	json_array_remove(checks, 0);
	json_array_append_new(checks, first);
	assert_int_equal(tpg_report_from_json(doc, &back, &err), 0);
	assert_string_equal(back->checks[0].id, "cowsay.from");
	assert_int_equal(back->suites[0].count, 3);
	json_decref(doc);
	tpg_report_free(back);
	tpg_report_free(r);
}

static void test_json_round_trip_hostile(void **state)
{
	(void)state;
	tpg_report *r = fx_sample(), *back = NULL;
	tpg_err err = {0};

	free(r->checks[0].message);
	r->checks[0].message = tpg_xstrdup("\xFF\xFE" "\033]0;x\a");
	r->checks[1].output = malloc(200000);
	memset(r->checks[1].output, '\n', 199999);
	r->checks[1].output[199999] = '\0';
	/* Duplicate ids across suites. */
	free(r->checks[3].id);
	r->checks[3].id = tpg_xstrdup("cowsay.from");
	json_t *one = tpg_report_to_json(r), *two;
	assert_int_equal(tpg_report_from_json(one, &back, &err), 0);
	two = tpg_report_to_json(back);
	assert_true(json_equal(one, two));
	json_decref(one);
	json_decref(two);
	tpg_report_free(back);
	tpg_report_free(r);
}

static void expect_parse_error(const char *text, const char *needle)
{
	json_error_t je;
	json_t *doc = json_loads(text, 0, &je);
	tpg_report *r = (tpg_report *)1;
	tpg_err err = {0};

	assert_non_null(doc);
	assert_int_equal(tpg_report_from_json(doc, &r, &err), TPG_EPARSE);
	assert_null(r);
	if (!strstr(err.msg, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err.msg, needle);
	json_decref(doc);
}

static void test_json_from_bad_documents(void **state)
{
	(void)state;
	expect_parse_error("[]", "expected an object");
	expect_parse_error("{\"tpgrade\":\"0.1.0\"}", "checks");
	expect_parse_error("{\"checks\":[]}", "tpgrade");
	expect_parse_error("{\"tpgrade\":\"0.1.0\",\"score\":\"12\",\"checks\":[]}", "score");
	expect_parse_error("{\"tpgrade\":\"0.1.0\",\"started\":\"yesterday\",\"checks\":[]}",
	                   "started");
	expect_parse_error("{\"tpgrade\":\"0.1.0\",\"checks\":[{\"status\":\"great\"}]}",
	                   "checks[0].status");
	expect_parse_error("{\"tpgrade\":\"0.1.0\",\"checks\":[{\"status\":\"passed\"},"
	                   "{\"status\":\"failed\",\"points\":\"2\"}]}", "checks[1].points");
	expect_parse_error("{\"tpgrade\":\"0.1.0\",\"checks\":[{\"status\":\"passed\","
	                   "\"tags\":[1]}]}", "checks[0].tags");
	expect_parse_error("{\"tpgrade\":\"0.1.0\",\"checks\":[1]}", "checks[0]");
	expect_parse_error("{\"tpgrade\":\"0.1.0\",\"checks\":[{\"status\":\"passed\",\"id\":\"a\"}],"
	                   "\"suites\":[{\"id\":3}]}", "suites[0].id");
	expect_parse_error("{\"tpgrade\":\"0.1.0\",\"checks\":[],\"suites\":{}}", "suites");

	/* Minimal but valid: defaults apply. */
	json_t *doc = json_loads("{\"tpgrade\":\"0.1.0\",\"checks\":[{\"status\":\"failed\","
	                         "\"id\":\"x\",\"output\":\"a\\u0000b\"}]}", JSON_ALLOW_NUL, NULL);
	tpg_report *r = NULL;
	assert_int_equal(tpg_report_from_json(doc, &r, NULL), 0);
	assert_int_equal(r->nchecks, 1);
	assert_true(r->checks[0].counted);
	assert_string_equal(r->checks[0].output, "a");
	json_decref(doc);
	tpg_report_free(r);
}

static void test_json_write_error(void **state)
{
	tpg_err err = {0};
	int rc = fx_write_full(tpg_report_write_json, &err);

	(void)state;
	if (rc == 1)
		skip();
	assert_int_equal(rc, TPG_EIO);
	assert_non_null(strstr(err.msg, "JSON"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_structure),
		cmocka_unit_test(test_json_nulls_for_absent),
		cmocka_unit_test(test_json_hostile_content),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_round_trip_hostile),
		cmocka_unit_test(test_json_from_bad_documents),
		cmocka_unit_test(test_json_write_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_report_gradescope.c - Gradescope's results.json. */
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
	char *text = fx_write(tpg_report_write_gradescope, r, &len);
	json_error_t e;
	json_t *doc = json_loadb(text, len, 0, &e);

	if (!doc)
		fail_msg("results.json does not parse: %s", e.text);
	assert_true(tpg_sanitize_is_utf8(text, len));
	free(text);
	return doc;
}

static const char *str(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", k);
	return json_string_value(v);
}

static double num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_number(v))
		fail_msg("\"%s\" is not a number", k);
	return json_number_value(v);
}

static void test_gradescope_structure(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	json_t *doc = written(r), *tests, *t;

	assert_true(num(doc, "score") == 3);
	assert_int_equal((int)num(doc, "execution_time"), 13);   /* 12.5 s, rounded up */
	assert_string_equal(str(doc, "visibility"), "visible");
	assert_string_equal(str(doc, "stdout_visibility"), "hidden");
	assert_string_equal(str(doc, "output_format"), "text");
	assert_string_equal(str(doc, "test_output_format"), "text");
	assert_non_null(strstr(str(doc, "output"), "Score: 2/7 (+1 bonus)"));
	assert_non_null(strstr(str(doc, "output"), "Note: 2 commits after the deadline"));
	assert_non_null(strstr(str(doc, "output"), "not your fault"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "extra_data"),
	                                                    "exit_code")), 3);

	tests = json_object_get(doc, "tests");
	/* The deselected check is left out. */
	assert_int_equal(json_array_size(tests), 5);
	for (size_t i = 0; i < json_array_size(tests); i++) {
		t = json_array_get(tests, i);
		static const char *const keys[] = {"score", "max_score", "status", "name",
		                                   "number", "output", "tags", "visibility"};
		for (size_t k = 0; k < TPG_ARRAY_LEN(keys); k++)
			if (!json_object_get(t, keys[k]))
				fail_msg("tests[%zu] has no \"%s\"", i, keys[k]);
		const char *st = str(t, "status");
		assert_true(strcmp(st, "passed") == 0 || strcmp(st, "failed") == 0);
	}
	t = json_array_get(tests, 0);
	assert_string_equal(str(t, "name"), "cowsay.from \xE2\x80\x94 FROM an official image");
	assert_string_equal(str(t, "number"), "1.1");
	assert_string_equal(str(t, "status"), "passed");
	assert_true(num(t, "score") == 2 && num(t, "max_score") == 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(t, "tags"), 0)),
	                    "dockerfile");

	t = json_array_get(tests, 1);
	assert_string_equal(str(t, "status"), "failed");
	assert_string_equal(str(t, "output"),
	                    "ENTRYPOINT uses the shell form\n\nHint: write ENTRYPOINT [\"cowsay\"]\n"
	                    "File: cowsay/Dockerfile:3");

	t = json_array_get(tests, 2);   /* error */
	assert_string_equal(str(t, "status"), "failed");
	assert_non_null(strstr(str(t, "output"), "Grading environment error"));
	assert_non_null(strstr(str(t, "output"), "\n\nOutput:\nStep 1/3"));

	t = json_array_get(tests, 3);   /* skipped */
	assert_string_equal(str(t, "number"), "2.1");
	assert_string_equal(str(t, "status"), "failed");
	assert_true(strncmp(str(t, "output"), "Skipped: needs cowsay.run", 25) == 0);

	t = json_array_get(tests, 4);   /* bonus */
	assert_string_equal(str(t, "name"), "registry.tag \xE2\x80\x94 Tagged v1 (bonus)");
	assert_true(num(t, "score") == 1);
	assert_true(num(t, "max_score") == 0);
	json_decref(doc);
	tpg_report_free(r);
}

static void test_gradescope_french_and_hostile(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	free(r->lang);
	r->lang = tpg_xstrdup("fr");
	free(r->checks[1].message);
	r->checks[1].message = tpg_xstrdup("<script>alert(1)</script> \xFF\x01");
	r->checks[1].output = malloc(5 * 1024 * 1024 + 1);
	memset(r->checks[1].output, 'z', 5 * 1024 * 1024);
	r->checks[1].output[5 * 1024 * 1024] = '\0';
	r->checks[0].points = NAN;
	r->seconds = NAN;

	json_t *doc = written(r);
	json_t *t = json_array_get(json_object_get(doc, "tests"), 1);
	const char *out = str(t, "output");
	assert_true(strncmp(out, "<script>alert(1)</script> \xEF\xBF\xBD\x01", 30) == 0);
	assert_non_null(strstr(out, "Indice : write"));
	assert_non_null(strstr(out, "truncated ...]"));
	assert_true(strlen(out) < 80 * 1024);
	assert_true(num(json_array_get(json_object_get(doc, "tests"), 0), "score") == 0);
	assert_int_equal((int)num(doc, "execution_time"), 0);
	t = json_array_get(json_object_get(doc, "tests"), 3);
	assert_true(strncmp(str(t, "output"), "Non vérifié : ", 15) == 0);
	json_decref(doc);
	tpg_report_free(r);
}

static void test_gradescope_write_error(void **state)
{
	tpg_err err = {0};
	int rc = fx_write_full(tpg_report_write_gradescope, &err);

	(void)state;
	if (rc == 1)
		skip();
	assert_int_equal(rc, TPG_EIO);
	assert_non_null(strstr(err.msg, "Gradescope"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gradescope_structure),
		cmocka_unit_test(test_gradescope_french_and_hostile),
		cmocka_unit_test(test_gradescope_write_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

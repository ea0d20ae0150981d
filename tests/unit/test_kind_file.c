/* test_kind_file.c - `kind: file` graded through the engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kindtest.h"

static int setup(void **state)
{
	char *dir = tpgt_kind_tmpdir();
	tpgt_kind_write(dir, "tp/app.py", "@app.route('/health')\n@app.route(\"/kill\")\n");
	tpgt_kind_write(dir, "tp/Dockerfile", "FROM x\n");
	tpgt_kind_write(dir, "other/app.py", "print('no routes')\n");
	tpgt_kind_write(dir, "notes/a.md", "docker image history x\n");
	tpgt_kind_write(dir, "notes/b.md", "nothing\n");
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	tpgt_kind_rmrf(*state);
	free(*state);
	return 0;
}

#define CHECK(id, body) "      - id: " id "\n        title: " id "\n        kind: file\n" body

static void test_path_exists_and_missing(void **state)
{
	tpg_report *r = tpgt_kind_grade(
		CHECK("a", "        path: tp/app.py\n")
		CHECK("b", "        path: tp/nope.py\n")
		CHECK("c", "        path: tp\n        type: dir\n")
		CHECK("d", "        path: tp\n"), *state);
	assert_non_null(r);
	assert_string_equal(tpgt_kind_status(r, "a"), "passed");
	assert_string_equal(tpgt_kind_status(r, "b"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "b"), "tp/nope.py does not exist"));
	assert_string_equal(tpgt_kind_status(r, "c"), "passed");
	assert_string_equal(tpgt_kind_status(r, "d"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "d"), "is a folder, not a file"));
	tpg_report_free(r);
}

static void test_find_where_expect_and_found(void **state)
{
	tpg_report *r = tpgt_kind_grade(
		CHECK("files", "        find: {glob: \"**/app.py\"}\n"
		               "        where: [{content: {matches: '/health'}}]\n"
		               "        expect: [{content: /kill}, {sibling: Dockerfile}]\n")
		CHECK("df", "        path: ${found.files.dir}/Dockerfile\n"
		            "        expect: [{content: FROM}]\n")
		CHECK("none", "        find: {glob: \"**/*.rs\"}\n")
		CHECK("skipnone", "        find: {glob: \"**/*.rs\"}\n        if-none: skip\n"
		                  "        if-none-message: no rust here\n")
		CHECK("after", "        path: ${found.none.file}\n"), *state);
	assert_non_null(r);
	assert_string_equal(tpgt_kind_status(r, "files"), "passed");
	assert_string_equal(r->checks[0].file, "tp/app.py");
	assert_string_equal(tpgt_kind_status(r, "df"), "passed");
	assert_string_equal(r->checks[1].file, "tp/Dockerfile");
	assert_string_equal(tpgt_kind_status(r, "none"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "none"), "nothing in the repository matches"));
	assert_string_equal(tpgt_kind_status(r, "skipnone"), "skipped");
	assert_non_null(strstr(tpgt_kind_message(r, "skipnone"), "no rust here"));
	/* A found value that was never set: skipped with the reason. */
	assert_string_equal(tpgt_kind_status(r, "after"), "skipped");
	tpg_report_free(r);
}

static void test_where_rejects_with_reasons(void **state)
{
	tpg_report *r = tpgt_kind_grade(
		CHECK("f", "        find: {glob: \"**/*.py\"}\n"
		           "        where: [{content: {matches: '/nowhere'}}]\n"), *state);
	assert_string_equal(tpgt_kind_status(r, "f"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "f"), "none of the 2 candidates"));
	assert_non_null(strstr(tpgt_kind_message(r, "f"), "other/app.py does not match"));
	tpg_report_free(r);
}

static void test_prefer_and_match_all(void **state)
{
	tpg_report *r = tpgt_kind_grade(
		CHECK("pref", "        find: {glob: \"**/*.md\", prefer: [notes/b.md]}\n")
		CHECK("all", "        find: {glob: \"notes/*.md\"}\n        match: all\n"
		             "        expect: [{content: docker}]\n")
		CHECK("any", "        find: {glob: \"notes/*.md\"}\n"
		             "        expect: [{content: docker}]\n"), *state);
	assert_string_equal(tpgt_kind_status(r, "pref"), "passed");
	assert_string_equal(r->checks[0].file, "notes/b.md");
	assert_string_equal(tpgt_kind_status(r, "all"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "all"), "1 of the 2 matches"));
	assert_string_equal(tpgt_kind_status(r, "any"), "passed");
	assert_string_equal(r->checks[2].file, "notes/a.md");
	tpg_report_free(r);
}

static void test_absent_and_combinators(void **state)
{
	tpg_report *r = tpgt_kind_grade(
		CHECK("noenv", "        find: {glob: \"**/.env\"}\n        exists: false\n")
		CHECK("hasapp", "        find: {glob: \"**/app.py\"}\n        exists: false\n")
		CHECK("anyof", "        path: notes/a.md\n"
		               "        expect: [{any: [{content: zzz}, {content: history}]}]\n")
		CHECK("notof", "        path: notes/a.md\n"
		               "        expect: [{not: {content: history}, message: no history please}]\n")
		CHECK("size", "        path: notes/a.md\n        expect: [{size: {max: 10}}]\n"), *state);
	assert_string_equal(tpgt_kind_status(r, "noenv"), "passed");
	assert_string_equal(tpgt_kind_status(r, "hasapp"), "failed");
	assert_string_equal(tpgt_kind_status(r, "anyof"), "passed");
	assert_string_equal(tpgt_kind_status(r, "notof"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "notof"), "no history please (notes/a.md contains 'history'"));
	assert_string_equal(tpgt_kind_status(r, "size"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "size"), "over the 10 bytes limit"));
	tpg_report_free(r);
}

static void test_symlink_out(void **state)
{
	char *link = tpg_xasprintf("%s/passwd", (char *)*state);
	assert_int_equal(symlink("/etc/passwd", link), 0);
	tpg_report *r = tpgt_kind_grade(
		CHECK("s", "        path: passwd\n        expect: [{content: root}]\n"), *state);
	assert_string_equal(tpgt_kind_status(r, "s"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "s"), "outside the repository"));
	tpg_report_free(r);
	unlink(link);
	free(link);
}

static void test_spec_errors(void **state)
{
	(void)state;
	bool found;
	tpgt_kind_spec_errors(CHECK("x", "        expect: [{content: a}]\n"), "missing 'path'", &found);
	assert_true(found);
	tpgt_kind_spec_errors(CHECK("x", "        path: a\n        find: {glob: b}\n"), "not both", &found);
	assert_true(found);
	tpgt_kind_spec_errors(CHECK("x", "        path: a\n        expect: [{colour: red}]\n"),
	                      "a condition needs one of: content", &found);
	assert_true(found);
	tpgt_kind_spec_errors(CHECK("x", "        path: a\n        expect: [{content: {matchez: a}}]\n"),
	                      "unknown key 'matchez'", &found);
	assert_true(found);
	tpgt_kind_spec_errors(CHECK("x", "        find: {glob: \"../**\"}\n"), "inside the repository",
	                      &found);
	assert_true(found);
	tpgt_kind_spec_errors(CHECK("x", "        path: a\n        type: pipe\n"), "not one of", &found);
	assert_true(found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_path_exists_and_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_where_expect_and_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_where_rejects_with_reasons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefer_and_match_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent_and_combinators, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_out, setup, teardown),
		cmocka_unit_test(test_spec_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

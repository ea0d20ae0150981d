/* test_kind_dockerfile.c - `kind: dockerfile` graded through the engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kindtest.h"

static const char *multi =
	"ARG BASE=python:3-slim\n"
	"FROM ${BASE} AS build\n"
	"HEALTHCHECK --interval=5s CMD curl -f http://localhost:5000/health\n"
	"ENTRYPOINT [\"/bin/app\"]\n"
	"FROM build AS final\n"
	"COPY requirements.txt .\n"
	"RUN pip install -r requirements.txt\n"
	"COPY . .\n"
	"ONBUILD RUN echo later\n"
	"CMD [\"serve\"]\n";

static int setup(void **state)
{
	char *dir = tpgt_kind_tmpdir();
	tpgt_kind_write(dir, "multi/Dockerfile", multi);
	tpgt_kind_write(dir, "shell/Dockerfile", "from ubuntu\r\nentrypoint /usr/games/cowsay\r\n");
	tpgt_kind_write(dir, "bad/Dockerfile", "FROM ubuntu\nENTRYPOINT [\"/usr/games/cowsay\" \"-f\"]\n");
	tpgt_kind_write(dir, "quotes/Dockerfile", "FROM ubuntu\nENTRYPOINT ['cowsay']\n");
	tpgt_kind_write(dir, "none/Dockerfile", "FROM python\nHEALTHCHECK NONE\n");
	tpgt_kind_write(dir, "onbuild/Dockerfile", "FROM python\nONBUILD HEALTHCHECK CMD true\n");
	tpgt_kind_write(dir, "cmdreset/Dockerfile", "FROM a AS one\nCMD [\"x\"]\nFROM one\nENTRYPOINT [\"y\"]\n");
	tpgt_kind_write(dir, "broken/Dockerfile", "# only a comment\n");
	tpgt_kind_write(dir, "nofrom/Dockerfile", "RUN echo hi\n");
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	tpgt_kind_rmrf(*state);
	free(*state);
	return 0;
}

#define CHECK(id, body) "      - id: " id "\n        title: " id "\n        kind: dockerfile\n" body

static void test_presence_and_inheritance(void **state)
{
	tpg_report *r = tpgt_kind_grade(
		/* inherited from stage build via FROM build */
		CHECK("hc", "        path: multi/Dockerfile\n        instruction: HEALTHCHECK\n"
		            "        expect: [{present: true}, {healthcheck: cmd}]\n")
		CHECK("none", "        path: none/Dockerfile\n        instruction: HEALTHCHECK\n"
		              "        expect: [{present: true}]\n")
		CHECK("onb", "        path: onbuild/Dockerfile\n        instruction: HEALTHCHECK\n"
		             "        expect: [{present: true}]\n")
		CHECK("cmd", "        path: cmdreset/Dockerfile\n        instruction: CMD\n"
		             "        expect: [{present: true}]\n")
		CHECK("nohc", "        path: shell/Dockerfile\n        instruction: HEALTHCHECK\n"
		              "        expect: [{present: false}]\n"), *state);
	assert_non_null(r);
	assert_string_equal(tpgt_kind_status(r, "hc"), "passed");
	assert_string_equal(tpgt_kind_status(r, "none"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "none"), "HEALTHCHECK NONE"));
	assert_string_equal(tpgt_kind_status(r, "onb"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "onb"), "under ONBUILD"));
	assert_string_equal(tpgt_kind_status(r, "cmd"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "cmd"), "clears the CMD"));
	assert_string_equal(tpgt_kind_status(r, "nohc"), "passed");
	tpg_report_free(r);
}

static void test_forms(void **state)
{
	tpg_report *r = tpgt_kind_grade(
		CHECK("exec", "        path: multi/Dockerfile\n        instruction: ENTRYPOINT\n"
		              "        expect: [{form: exec}, {argv0: {matches: '/app$'}}]\n")
		CHECK("shell", "        path: shell/Dockerfile\n        instruction: ENTRYPOINT\n"
		               "        expect: [{form: exec}]\n")
		CHECK("shellok", "        path: shell/Dockerfile\n        instruction: ENTRYPOINT\n"
		                 "        expect: [{form: shell}, {argv0: {matches: 'cowsay$'}}]\n")
		CHECK("bad", "        path: bad/Dockerfile\n        instruction: ENTRYPOINT\n"
		             "        expect: [{form: exec}]\n")
		CHECK("quotes", "        path: quotes/Dockerfile\n        instruction: ENTRYPOINT\n"
		                "        expect: [{form: exec}]\n"), *state);
	assert_string_equal(tpgt_kind_status(r, "exec"), "passed");
	assert_string_equal(tpgt_kind_status(r, "shell"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "shell"), "is in shell form"));
	assert_string_equal(tpgt_kind_status(r, "shellok"), "passed");
	assert_string_equal(tpgt_kind_status(r, "bad"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "bad"), "not valid JSON"));
	assert_non_null(strstr(tpgt_kind_message(r, "bad"), "expected ','"));
	assert_string_equal(tpgt_kind_status(r, "quotes"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "quotes"), "not valid JSON"));
	assert_int_equal(r->checks[3].line, 2);
	tpg_report_free(r);
}

static void test_args_flags_counts_order(void **state)
{
	tpg_report *r = tpgt_kind_grade(
		CHECK("cmdtext", "        path: multi/Dockerfile\n        instruction: HEALTHCHECK\n"
		                 "        expect: [{command: {matches: ':5000/health', not-contains: wget}}]\n")
		CHECK("flag", "        path: multi/Dockerfile\n        instruction: HEALTHCHECK\n"
		              "        expect: [{flag: {name: interval, value: {equals: 5s}}},"
		              " {flag: {name: --retries, present: false}}]\n")
		CHECK("count", "        path: multi/Dockerfile\n        instruction: COPY\n"
		               "        expect: [{count: 2}, {count: {min: 3}, stage: any}]\n")
		CHECK("count2", "        path: multi/Dockerfile\n        instruction: RUN\n"
		                "        expect: [{count: 1}]\n")
		CHECK("stages", "        path: multi/Dockerfile\n        expect: [{stages: 2}]\n")
		CHECK("base", "        path: multi/Dockerfile\n        stage: build\n"
		              "        expect: [{base: {equals: 'python:3-slim'}}]\n")
		CHECK("order", "        path: multi/Dockerfile\n"
		               "        expect: [{order: [{instruction: COPY, args: requirements},"
		               " {instruction: RUN}, {instruction: COPY, args: {matches: '^\\. '}}]}]\n")
		CHECK("badorder", "        path: multi/Dockerfile\n"
		                  "        expect: [{order: [{instruction: RUN}, {instruction: COPY, args: requirements}]}]\n")
		CHECK("mentions", "        path: multi/Dockerfile\n        instruction: [RUN, CMD]\n"
		                  "        expect: [{mentions: pip}]\n"), *state);
	assert_string_equal(tpgt_kind_status(r, "cmdtext"), "passed");
	assert_string_equal(tpgt_kind_status(r, "flag"), "passed");
	/* ONBUILD RUN does not count as a RUN. */
	assert_string_equal(tpgt_kind_status(r, "count"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "count"), "has 2 COPY"));
	assert_string_equal(tpgt_kind_status(r, "count2"), "passed");
	assert_string_equal(tpgt_kind_status(r, "stages"), "passed");
	assert_string_equal(tpgt_kind_status(r, "base"), "passed");
	assert_string_equal(tpgt_kind_status(r, "order"), "passed");
	assert_string_equal(tpgt_kind_status(r, "badorder"), "failed");
	assert_string_equal(tpgt_kind_status(r, "mentions"), "passed");
	tpg_report_free(r);
}

static void test_unparsable_and_find(void **state)
{
	tpg_report *r = tpgt_kind_grade(
		CHECK("broken", "        path: broken/Dockerfile\n        instruction: RUN\n"
		                "        expect: [{present: true}]\n")
		CHECK("nofrom", "        path: nofrom/Dockerfile\n        instruction: RUN\n"
		                "        expect: [{present: true}]\n")
		CHECK("cow", "        find: {glob: \"**/Dockerfile\", prefer: [quotes/Dockerfile]}\n"
		             "        where: [{mentions: cowsay, instruction: ENTRYPOINT}]\n"
		             "        instruction: ENTRYPOINT\n        expect: [{form: exec}]\n")
		CHECK("useit", "        path: ${found.cow.file}\n        instruction: ENTRYPOINT\n"
		               "        expect: [{argv0: {matches: '(^|/)cowsay$'}}]\n"), *state);
	assert_string_equal(tpgt_kind_status(r, "broken"), "failed");
	assert_non_null(strstr(tpgt_kind_message(r, "broken"), "file with no instructions"));
	assert_string_equal(tpgt_kind_status(r, "nofrom"), "failed");
	/* with where:, the preferred candidate that qualifies is graded */
	assert_string_equal(tpgt_kind_status(r, "cow"), "failed");
	assert_string_equal(r->checks[2].file, "quotes/Dockerfile");
	assert_string_equal(tpgt_kind_status(r, "useit"), "failed");
	tpg_report_free(r);
}

static void test_spec_errors(void **state)
{
	(void)state;
	bool found;
	tpgt_kind_spec_errors(CHECK("x", "        path: D\n        expect: [{form: exec}]\n"),
	                      "say which with instruction", &found);
	assert_true(found);
	tpgt_kind_spec_errors(CHECK("x", "        path: D\n        instruction: RUN\n"
	                             "        expect: [{form: json}]\n"), "not one of: exec, shell", &found);
	assert_true(found);
	tpgt_kind_spec_errors(CHECK("x", "        path: D\n"), "needs 'expect'", &found);
	assert_true(found);
	tpgt_kind_spec_errors(CHECK("x", "        path: D\n        expect: [{order: [{instruction: RUN}]}]\n"),
	                      "at least two steps", &found);
	assert_true(found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_presence_and_inheritance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args_flags_counts_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unparsable_and_find, setup, teardown),
		cmocka_unit_test(test_spec_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

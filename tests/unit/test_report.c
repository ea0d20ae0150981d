/* test_report.c - the report model: lifetime, builders, tally, groups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "test_report_fixture.h"
#include "../../grader/report_priv.h"

static void test_status_names(void **state)
{
	(void)state;
	tpg_status s;

	assert_string_equal(tpg_status_name(TPG_STATUS_PASSED), "passed");
	assert_string_equal(tpg_status_name(TPG_STATUS_FAILED), "failed");
	assert_string_equal(tpg_status_name(TPG_STATUS_ERROR), "error");
	assert_string_equal(tpg_status_name(TPG_STATUS_SKIPPED), "skipped");
	assert_string_equal(tpg_status_name((tpg_status)42), "unknown");
	for (int i = 0; i <= TPG_STATUS_SKIPPED; i++) {
		assert_int_equal(tpg_status_parse(tpg_status_name((tpg_status)i), &s), 0);
		assert_int_equal(s, i);
	}
	assert_int_equal(tpg_status_parse("PASSED", &s), TPG_EINVAL);
	assert_int_equal(tpg_status_parse(NULL, &s), TPG_EINVAL);
}

static void test_builders_layout(void **state)
{
	(void)state;
	tpg_report *r = tpg_report_new();
	tpg_report_check *c;

	c = tpg_report_add_check(r, "loose", NULL);   /* before any suite */
	assert_null(c->suite_id);
	tpg_report_add_suite(r, "a", "Suite A");
	tpg_report_add_check(r, "a.1", "one");
	c = tpg_report_add_check(r, "a.2", "two");
	assert_true(c->counted);
	assert_int_equal(c->status, TPG_STATUS_PASSED);
	assert_string_equal(c->suite_id, "a");
	tpg_report_add_suite(r, "b", NULL);
	tpg_report_add_check(r, "b.1", "three");
	assert_int_equal(r->nsuites, 2);
	assert_int_equal(r->nchecks, 4);
	assert_int_equal(r->suites[0].first, 1);
	assert_int_equal(r->suites[0].count, 2);
	assert_int_equal(r->suites[1].first, 3);
	assert_int_equal(r->suites[1].count, 1);
	tpg_report_free(r);
	tpg_report_free(NULL);
}

static void test_clear_stack_report(void **state)
{
	(void)state;
	tpg_report r = {0};

	r.tp = tpg_xstrdup("x");
	tpg_report_add_suite(&r, "s", "t");
	tpg_report_check *c = tpg_report_add_check(&r, "c", "t");
	c->data = json_object();
	c->output = tpg_xstrdup("out");
	tpg_strv_push(&c->tags, "t");
	tpg_report_clear(&r);
	assert_null(r.checks);
	assert_int_equal(r.nchecks, 0);
	tpg_report_clear(&r);   /* twice is fine */
}

static void test_tally_rules(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();

	/* 2 (from) + 1 (bonus tag); max: 2+2+1+2, not the bonus nor the deselected. */
	assert_true(r->score == 3.0);
	assert_true(r->max_score == 7.0);
	assert_int_equal(r->exit_code, 3);   /* an error wins over a failure */

	r->checks[2].status = TPG_STATUS_PASSED;
	tpg_report_tally(r);
	assert_int_equal(r->exit_code, 1);
	r->checks[1].status = TPG_STATUS_PASSED;
	tpg_report_tally(r);
	assert_int_equal(r->exit_code, 0);

	/* Deselected checks count for nothing, even with points. */
	r->checks[5].points = 10;
	r->checks[5].max_points = 10;
	tpg_report_tally(r);
	assert_true(r->score == 3.0);
	assert_true(r->max_score == 7.0);

	/* NaN and infinities do not poison the total. */
	r->checks[0].points = NAN;
	r->checks[1].max_points = INFINITY;
	tpg_report_tally(r);
	assert_true(r->score == 1.0);
	assert_true(r->max_score == 5.0);
	tpg_report_free(r);

	r = tpg_report_new();
	tpg_report_tally(r);
	assert_true(r->score == 0 && r->max_score == 0 && r->exit_code == 0);
	tpg_report_free(r);
}

static void test_sums(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	tpg_report_sums s;

	tpg_report_sum(r, 0, 3, &s);
	assert_true(s.score == 2 && s.max_score == 5 && s.bonus == 0);
	assert_int_equal(s.passed, 1);
	assert_int_equal(s.failed, 1);
	assert_int_equal(s.errors, 1);
	tpg_report_sum(r, 3, 3, &s);
	assert_true(s.score == 1 && s.max_score == 2 && s.bonus == 1);
	assert_int_equal(s.skipped, 2);
	tpg_report_sum(r, 5, 1000, &s);   /* clamped */
	assert_int_equal(s.total, 1);
	tpg_report_sum(r, 1000, 1, &s);
	assert_int_equal(s.total, 0);
	tpg_report_free(r);
}

static void test_groups_tolerate_broken_layout(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	size_t ng;
	tpg_rgroup *g;

	/* Suite 1 claims far too much; suite 0 forgets its last check. */
	r->suites[0].count = 2;
	r->suites[1].first = 4;
	r->suites[1].count = 999;
	g = tpg_report_groups(r, &ng);
	assert_int_equal(ng, 4);
	assert_string_equal(g[0].id, "cowsay");
	assert_int_equal(g[0].n, 2);
	assert_int_equal(g[1].n, 2);            /* 4..5 */
	assert_string_equal(g[2].id, "cowsay");  /* check 2, by its suite_id */
	assert_int_equal(g[2].n, 1);
	assert_int_equal(g[2].idx[0], 2);
	assert_string_equal(g[3].id, "registry");
	assert_int_equal(g[3].idx[0], 3);
	tpg_report_groups_free(g, ng);

	/* No suites at all: checks grouped by suite_id, or the tp. */
	free(r->checks[0].suite_id);
	r->checks[0].suite_id = NULL;
	r->suites[0].count = 0;
	r->suites[1].count = 0;
	g = tpg_report_groups(r, &ng);
	size_t covered = 0;
	for (size_t i = 0; i < ng; i++)
		covered += g[i].n;
	assert_int_equal(covered, r->nchecks);
	bool found_tp = false;
	for (size_t i = 0; i < ng; i++)
		found_tp |= strcmp(g[i].id, "tp2bis") == 0;
	assert_true(found_tp);
	tpg_report_groups_free(g, ng);
	tpg_report_free(r);
}

static void test_formatting_helpers(void **state)
{
	(void)state;
	char b[64];
	double t;

	tpg_report_fmt_num(2, b, sizeof(b));
	assert_string_equal(b, "2");
	tpg_report_fmt_num(1.5, b, sizeof(b));
	assert_string_equal(b, "1.5");
	tpg_report_fmt_num(0.25, b, sizeof(b));
	assert_string_equal(b, "0.25");
	tpg_report_fmt_num(-0.0001, b, sizeof(b));
	assert_string_equal(b, "0");
	tpg_report_fmt_num(NAN, b, sizeof(b));
	assert_string_equal(b, "0");
	tpg_report_fmt_score(21, 28, 1, b, sizeof(b));
	assert_string_equal(b, "20/28 (+1 bonus)");
	tpg_report_fmt_score(20, 28, 0, b, sizeof(b));
	assert_string_equal(b, "20/28");

	tpg_report_fmt_time(1796316116.7, b, sizeof(b));
	assert_string_equal(b, "2026-12-03T16:41:56Z");
	tpg_report_fmt_time(0, b, sizeof(b));
	assert_string_equal(b, "");
	tpg_report_fmt_time(NAN, b, sizeof(b));
	assert_string_equal(b, "");
	assert_int_equal(tpg_report_parse_time("2026-12-03T16:41:56Z", &t), 0);
	assert_true(t == 1796316116.0);
	assert_int_equal(tpg_report_parse_time("2026-12-03T17:41:56.5+01:00", &t), 0);
	assert_true(t == 1796316116.5);
	assert_int_equal(tpg_report_parse_time("2026-12-03", &t), TPG_EPARSE);
	assert_int_equal(tpg_report_parse_time("2026-13-03T16:41:56Z", &t), TPG_EPARSE);
	assert_int_equal(tpg_report_parse_time("2026-12-03T16:41:56Zjunk", &t), TPG_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_builders_layout),
		cmocka_unit_test(test_clear_stack_report),
		cmocka_unit_test(test_tally_rules),
		cmocka_unit_test(test_sums),
		cmocka_unit_test(test_groups_tolerate_broken_layout),
		cmocka_unit_test(test_formatting_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

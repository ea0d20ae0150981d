/* test_gradebook.c - the class grade book: rows from states and reports,
 * statistics, grades.csv (quoting, formula injection), summary.json,
 * report.html (escaping, self-contained), class.json round trip, the
 * per-student state, and the class run's small file formats (probe
 * answers, class info). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "tpgrade/class.h"
#include "tpgrade/gradebook.h"
#include "tpgrade/roster.h"

static const char spec_text[] =
	"tp: demo\n"
	"title: \"Demo <b>TP</b>\"\n"
	"suites:\n"
	"  - id: one\n"
	"    title: One\n"
	"    checks:\n"
	"      - {id: one.a, title: A, kind: file, path: a}\n"
	"      - {id: one.b, title: B, kind: file, path: b, points: 2}\n"
	"  - id: two\n"
	"    title: Two\n"
	"    checks:\n"
	"      - {id: two.c, title: C, kind: file, path: c}\n"
	"      - {id: two.bonus, title: Bonus, kind: file, path: d, bonus: true}\n";

static tpg_spec *load_spec(void)
{
	tpg_spec *spec = NULL;
	tpg_diags d = TPG_DIAGS_INIT;
	tpg_spec_opts so = { NULL, false };
	int rc = tpg_spec_load_buffer("demo.yaml", spec_text, strlen(spec_text), &so, &spec, &d);
	if (rc < 0)
		tpg_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	tpg_diags_free(&d);
	return spec;
}

/* A report where the checks got these points (NAN: failed with 0). */
static tpg_report *make_report(const double pts[4])
{
	static const char *ids[] = { "one.a", "one.b", "two.c", "two.bonus" };
	static const double max[] = { 1, 2, 1, 1 };
	tpg_report *r = tpg_report_new();
	r->tp = tpg_xstrdup("demo");
	r->spec_digest = tpg_xstrdup("sha1:x");
	r->commit = tpg_xstrdup("0123456789abcdef0123456789abcdef01234567");
	tpg_report_add_suite(r, "one", "One");
	for (int i = 0; i < 4; i++) {
		if (i == 2)
			tpg_report_add_suite(r, "two", "Two");
		tpg_report_check *c = tpg_report_add_check(r, ids[i], ids[i]);
		c->max_points = max[i];
		c->bonus = i == 3;
		c->points = isnan(pts[i]) ? 0 : pts[i];
		c->status = isnan(pts[i]) || pts[i] < max[i] ? TPG_STATUS_FAILED : TPG_STATUS_PASSED;
	}
	tpg_strv_push(&r->notes, "1 commit of main after the deadline");
	tpg_report_tally(r);
	return r;
}

static tpg_class_state graded_state(void)
{
	tpg_class_state st;
	memset(&st, 0, sizeof(st));
	st.status = tpg_xstrdup("graded");
	st.commit = tpg_xstrdup("0123456789abcdef0123456789abcdef01234567");
	st.commit_date = tpg_xstrdup("2026-12-05T10:00:00+01:00");
	st.commits_after_deadline = 1;
	st.graded_at = 1e9;
	return st;
}

static tpg_gradebook *make_book(const tpg_spec *spec)
{
	tpg_gradebook *gb = tpg_gradebook_from_spec(spec, "checks/demo.yaml");
	tpg_student s[4];
	memset(s, 0, sizeof(s));
	const char *ids[] = { "alice", "bob", "carol", "dave" };
	const char *names[] = { "=HYPERLINK(\"http://evil\")", "<script>alert(1)</script>",
		"Carol, \"C\"", NULL };
	for (int i = 0; i < 4; i++) {
		s[i].id = (char *)ids[i];
		s[i].name = (char *)names[i];
		s[i].repo = (char *)"https://user:s3cret@git.example/x.git";
		s[i].folder = (char *)ids[i];
		s[i].index = (size_t)i;
		tpg_gradebook_add(gb, &s[i], true);
	}
	/* alice: all; bob: one.b failed; carol: error; dave: pending. */
	double p1[] = { 1, 2, 1, 1 }, p2[] = { 1, NAN, 1, NAN };
	tpg_class_state st = graded_state();
	tpg_report *r1 = make_report(p1), *r2 = make_report(p2);
	tpg_gradebook_fill_row(gb, &gb->rows[0], &st, r1);
	tpg_gradebook_fill_row(gb, &gb->rows[1], &st, r2);
	tpg_report_free(r1);
	tpg_report_free(r2);
	tpg_class_state_clear(&st);
	memset(&st, 0, sizeof(st));
	st.status = tpg_xstrdup("error");
	st.failure = tpg_xstrdup("repository not found");
	st.message = tpg_xstrdup("cannot fetch\nhttps://git.example/x.git: 404 <b>");
	st.commits_after_deadline = -1;
	tpg_gradebook_fill_row(gb, &gb->rows[2], &st, NULL);
	tpg_class_state_clear(&st);
	gb->generated = 1.8e9;
	return gb;
}

static char *render(int (*fn)(const tpg_gradebook *, FILE *, tpg_err *), const tpg_gradebook *gb)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	tpg_err err = {0};
	assert_int_equal(fn(gb, f, &err), 0);
	fclose(f);
	return buf;
}

static void test_points_format(void **state)
{
	(void)state;
	char b[32];
	tpg_gb_format_points(7, b, sizeof(b));
	assert_string_equal(b, "7");
	tpg_gb_format_points(0.5, b, sizeof(b));
	assert_string_equal(b, "0.5");
	tpg_gb_format_points(2.0 / 3, b, sizeof(b));
	assert_string_equal(b, "0.67");
	tpg_gb_format_points(-0.0, b, sizeof(b));
	assert_string_equal(b, "0");
	tpg_gb_format_points(NAN, b, sizeof(b));
	assert_string_equal(b, "");
}

static void test_stats(void **state)
{
	(void)state;
	tpg_spec *spec = load_spec();
	tpg_gradebook *gb = make_book(spec);
	tpg_gb_stats st;
	tpg_gradebook_stats(gb, &st);
	assert_int_equal(st.count, 4);
	assert_int_equal(st.graded, 2);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.pending, 1);
	/* alice 5 (4 + 1 bonus), bob 2. */
	assert_true(fabs(st.mean - 3.5) < 1e-9);
	assert_true(fabs(st.median - 3.5) < 1e-9);
	assert_true(fabs(st.min - 2) < 1e-9);
	assert_true(fabs(st.max - 5) < 1e-9);
	assert_true(fabs(st.max_score - 4) < 1e-9);
	assert_int_equal(st.checks[1].passed, 1);
	assert_int_equal(st.checks[1].failed, 1);
	assert_true(fabs(st.checks[1].pass_rate - 0.5) < 1e-9);
	assert_true(fabs(st.checks[0].pass_rate - 1) < 1e-9);
	assert_true(fabs(st.suite_mean[0] - 2) < 1e-9);  /* (3 + 1) / 2 */
	assert_true(fabs(st.suite_max[0] - 3) < 1e-9);
	assert_true(fabs(st.suite_max[1] - 1) < 1e-9);   /* the bonus does not count */
	tpg_gb_stats_clear(&st);
	tpg_gradebook_free(gb);
	tpg_spec_free(spec);
}

static void test_csv(void **state)
{
	(void)state;
	tpg_spec *spec = load_spec();
	tpg_gradebook *gb = make_book(spec);
	char *csv = render(tpg_gradebook_write_csv, gb);
	const char *want =
		"id,name,group,score,max,one.a,one.b,two.c,two.bonus,commit,commit_date,"
		"commits_after_deadline,status,message\r\n"
		"alice,\"'=HYPERLINK(\"\"http://evil\"\")\",,5,4,1,2,1,1,"
		"0123456789abcdef0123456789abcdef01234567,2026-12-05T10:00:00+01:00,1,graded,"
		"1 commit of main after the deadline\r\n"
		"bob,<script>alert(1)</script>,,2,4,1,0,1,0,"
		"0123456789abcdef0123456789abcdef01234567,2026-12-05T10:00:00+01:00,1,graded,"
		"1 commit of main after the deadline\r\n"
		"carol,\"Carol, \"\"C\"\"\",,,,,,,,,,,error,"
		"cannot fetch https://git.example/x.git: 404 <b>\r\n"
		"dave,,,,,,,,,,,,pending,\r\n";
	assert_string_equal(csv, want);
	free(csv);

	/* Rows of another shard are left out. */
	gb->rows[3].in_shard = false;
	csv = render(tpg_gradebook_write_csv, gb);
	assert_null(strstr(csv, "dave"));
	free(csv);

	char *cell = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&cell, &len);
	tpg_gb_csv_cell(f, "@SUM(A1)", true);
	fputc('|', f);
	tpg_gb_csv_cell(f, "-2+3", true);
	fputc('|', f);
	tpg_gb_csv_cell(f, "tab\there", true);
	fputc('|', f);
	tpg_gb_csv_cell(f, "bad \xff utf8", true);
	fclose(f);
	assert_string_equal(cell, "\"'@SUM(A1)\"|\"'-2+3\"|tab here|bad \xEF\xBF\xBD utf8");
	free(cell);
	tpg_gradebook_free(gb);
	tpg_spec_free(spec);
}

static void test_summary(void **state)
{
	(void)state;
	tpg_spec *spec = load_spec();
	tpg_gradebook *gb = make_book(spec);
	char *text = render(tpg_gradebook_write_summary, gb);
	json_error_t je;
	json_t *d = json_loads(text, 0, &je);
	assert_non_null(d);
	assert_int_equal(json_integer_value(json_object_get(d, "count")), 4);
	assert_int_equal(json_integer_value(json_object_get(d, "graded")), 2);
	assert_int_equal(json_integer_value(json_object_get(d, "errors")), 1);
	const json_t *score = json_object_get(d, "score");
	assert_true(fabs(json_number_value(json_object_get(score, "mean")) - 3.5) < 1e-9);
	assert_int_equal(json_integer_value(json_object_get(score, "max")), 5);
	const json_t *c1 = json_array_get(json_object_get(d, "checks"), 1);
	assert_string_equal(json_string_value(json_object_get(c1, "id")), "one.b");
	assert_true(fabs(json_number_value(json_object_get(c1, "pass_rate")) - 0.5) < 1e-9);
	const json_t *err = json_array_get(json_object_get(d, "students_in_error"), 0);
	assert_string_equal(json_string_value(json_object_get(err, "id")), "carol");
	assert_true(json_is_null(json_object_get(d, "run")));
	assert_string_equal(json_string_value(json_object_get(d, "generated")),
	                    "2027-01-15T08:00:00Z");
	json_decref(d);
	free(text);
	tpg_gradebook_free(gb);
	tpg_spec_free(spec);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_html(void **state)
{
	(void)state;
	tpg_spec *spec = load_spec();
	tpg_gradebook *gb = make_book(spec);
	/* The spec says no language: French, the course's. */
	assert_string_equal(gb->lang, "fr");
	free(gb->lang);
	gb->lang = tpg_xstrdup("en");
	char *html = render(tpg_gradebook_write_html, gb);
	/* One script (ours); the student's is text. */
	assert_int_equal(count(html, "<script"), 1);
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "Demo &lt;b&gt;TP&lt;/b&gt;"));
	assert_non_null(strstr(html, "404 &lt;b&gt;"));
	/* Self-contained: nothing fetched, a CSP forbidding it anyway. */
	assert_non_null(strstr(html, "default-src 'none'"));
	assert_null(strstr(html, "src=\"http"));
	assert_null(strstr(html, "href=\"http"));
	assert_null(strstr(html, "@import"));
	assert_null(strstr(html, "s3cret"));
	/* The numbers of the grade book. */
	assert_non_null(strstr(html, "<td class=\"score\">5</td><td class=\"max\">4</td>"));
	assert_non_null(strstr(html, "<dd id=\"stat-mean\">3.5"));
	assert_non_null(strstr(html, "<svg id=\"histogram\""));
	assert_non_null(strstr(html, "data-check=\"one.b\""));
	assert_non_null(strstr(html, "<span class=\"pct\">50%</span>"));
	assert_non_null(strstr(html, "<html lang=\"en\">"));
	assert_non_null(strstr(html, "<h2>Pass rate per check</h2>"));
	assert_non_null(strstr(html, "<td class=\"status\" data-v=\"graded\">graded</td>"));
	assert_non_null(strstr(html, "title=\"failed\""));
	assert_null(strstr(html, "Taux de réussite"));
	free(html);

	/* French: every label, the same numbers and classes. */
	free(gb->lang);
	gb->lang = tpg_xstrdup("fr");
	html = render(tpg_gradebook_write_html, gb);
	assert_non_null(strstr(html, "<html lang=\"fr\">"));
	assert_non_null(strstr(html, " — rapport de la classe</title>"));
	assert_non_null(strstr(html, "<h2>Taux de réussite par vérification</h2>"));
	assert_non_null(strstr(html, "<dt>Moyenne</dt><dd id=\"stat-mean\">3.5"));
	assert_non_null(strstr(html, "<th data-key=\"id\">Identifiant</th>"));
	assert_non_null(strstr(html, "placeholder=\"Filtrer les étudiants\""));
	assert_non_null(strstr(html, "<td class=\"status\" data-v=\"graded\">noté</td>"));
	assert_non_null(strstr(html, "<td class=\"status\" data-v=\"error\">erreur</td>"));
	assert_non_null(strstr(html, "<td class=\"pts failed\" title=\"échouée\">"));
	assert_non_null(strstr(html, "<td class=\"score\">5</td><td class=\"max\">4</td>"));
	assert_non_null(strstr(html, "note (sur "));
	/* No English label left (the words a page shows, not CSS classes). */
	static const char *const english[] = { ">Students<", ">Pass rate", ">Scores<",
		">Students</h2>", "Filter students", ">Commit date<", ">Late commits<",
		">graded<", "title=\"failed\"", "class report", "score (out of",
		"No student graded", "Histogram of" };
	for (size_t i = 0; i < sizeof(english) / sizeof(english[0]); i++)
		if (strstr(html, english[i]))
			fail_msg("English label left in the French report: %s", english[i]);
	free(html);

	/* Nothing graded: no histogram, no division by zero. */
	for (size_t i = 0; i < gb->nrows; i++)
		gb->rows[i].status = TPG_GB_PENDING;
	html = render(tpg_gradebook_write_html, gb);
	assert_non_null(strstr(html, "Aucun étudiant noté pour l'instant"));
	free(html);
	free(gb->lang);
	gb->lang = tpg_xstrdup("en");
	html = render(tpg_gradebook_write_html, gb);
	assert_non_null(strstr(html, "No student graded yet"));
	free(html);
	tpg_gradebook_free(gb);
	tpg_spec_free(spec);
}

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/tpg-gb-XXXXXX";
	const char *t = getenv("TMPDIR");
	char *path = t && *t ? tpg_xasprintf("%s/tpg-gb-XXXXXX", t) : tpg_xstrdup(tmpl);
	assert_non_null(mkdtemp(path));
	return path;
}

static void rm_rf(const char *dir)
{
	char *cmd = tpg_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void test_class_json_and_state(void **state)
{
	(void)state;
	tpg_spec *spec = load_spec();
	tpg_gradebook *gb = make_book(spec);
	gb->shard_index = 2;
	gb->shard_total = 3;
	gb->rows[3].in_shard = false;
	char *dir = tmpdir();
	tpg_err err = {0};
	assert_int_equal(tpg_gradebook_write_all(gb, dir, &err), 0);
	char *p = tpg_xasprintf("%s/class.json", dir);
	tpg_gradebook *back = NULL;
	assert_int_equal(tpg_gradebook_read_class_json(p, &back, &err), 0);
	free(p);
	assert_int_equal(back->nchecks, 4);
	assert_int_equal(back->nsuites, 2);
	assert_int_equal(back->suites[1].first, 2);
	assert_string_equal(back->checks[1].id, "one.b");
	assert_true(back->checks[3].bonus);
	assert_int_equal(back->shard_index, 2);
	/* The language goes along: a merge writes report.html in it. */
	assert_string_equal(back->lang, "fr");
	assert_int_equal(back->nrows, 4);
	assert_string_equal(back->rows[2].id, "carol");
	assert_false(back->rows[3].in_shard);
	/* Repositories are stored without their credentials. */
	assert_string_equal(back->rows[0].repo, "https://git.example/x.git");
	assert_int_equal(back->rows[0].status, TPG_GB_PENDING);
	tpg_gradebook_free(back);

	/* A state written and read back; a row loaded from the folder. */
	tpg_class_state st = graded_state();
	st.key = tpg_xstrdup("sha1:k");
	st.tip = tpg_xstrdup("abc");
	st.message = tpg_xstrdup("m\xff");
	char *sd = tpg_xasprintf("%s/alice", dir);
	assert_int_equal(mkdir(sd, 0755), 0);
	p = tpg_xasprintf("%s/state.json", sd);
	assert_int_equal(tpg_class_state_write(p, &st, &err), 0);
	tpg_class_state st2;
	assert_int_equal(tpg_class_state_read(p, &st2, &err), 0);
	assert_string_equal(st2.status, "graded");
	assert_string_equal(st2.key, "sha1:k");
	assert_string_equal(st2.tip, "abc");
	assert_string_equal(st2.message, "m\xEF\xBF\xBD");
	assert_int_equal(st2.commits_after_deadline, 1);
	assert_false(st2.transient);
	tpg_class_state_clear(&st2);
	/* Graded without result.json: an error row, not a crash. */
	tpg_gradebook_load_row(gb, &gb->rows[0], dir);
	assert_int_equal(gb->rows[0].status, TPG_GB_ERROR);
	double pts[] = { 1, 2, 1, 1 };
	tpg_report *r = make_report(pts);
	char *rp = tpg_xasprintf("%s/result.json", sd);
	assert_int_equal(tpg_write_atomic(rp, tpg_report_json_fn, r, &err), 0);
	tpg_gradebook_load_row(gb, &gb->rows[0], dir);
	assert_int_equal(gb->rows[0].status, TPG_GB_GRADED);
	assert_true(fabs(gb->rows[0].score - 5) < 1e-9);
	assert_int_equal(gb->rows[0].commits_after_deadline, 1);
	/* Gradescope's file from it, and for an error. */
	assert_int_equal(tpg_class_write_gradescope(sd, &st, &err), 0);
	char *gp = tpg_xasprintf("%s/results.json", sd);
	json_t *g = json_load_file(gp, 0, NULL);
	assert_non_null(g);
	assert_int_equal(json_integer_value(json_object_get(g, "score")), 5);
	json_decref(g);
	free(st.status);
	st.status = tpg_xstrdup("error");
	assert_int_equal(tpg_class_write_gradescope(sd, &st, &err), 0);
	g = json_load_file(gp, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(g, "score")), 0);
	assert_int_equal(json_array_size(json_object_get(g, "tests")), 0);
	json_decref(g);
	free(gp);
	free(rp);
	tpg_report_free(r);
	tpg_class_state_clear(&st);
	free(p);

	/* A tampered class.json with a folder escaping DIR is refused. */
	p = tpg_xasprintf("%s/class.json", dir);
	FILE *f = fopen(p, "w");
	fputs("{\"spec_digest\":\"x\",\"checks\":[],\"suites\":[],"
	      "\"students\":[{\"id\":\"a\",\"folder\":\"../../etc\"}]}", f);
	fclose(f);
	assert_int_equal(tpg_gradebook_read_class_json(p, &back, &err), TPG_EPARSE);
	assert_null(back);
	free(p);
	rm_rf(dir);
	free(sd);
	free(dir);
	tpg_gradebook_free(gb);
	tpg_spec_free(spec);
}

static void test_probe_encoding(void **state)
{
	(void)state;
	tpg_probe p = { TPG_PROBE_FAILED, NULL, tpg_xstrdup("ref not found"),
		tpg_xstrdup("x has no branch") }, q;
	tpg_buf b = TPG_BUF_INIT;
	tpg_probe_encode(&p, &b);
	assert_true(tpg_probe_decode(b.data, b.len, &q));
	assert_int_equal(q.kind, TPG_PROBE_FAILED);
	assert_string_equal(q.failure, "ref not found");
	assert_string_equal(q.message, "x has no branch");
	assert_null(q.tip);
	/* Cut short anywhere: refused, no leak. */
	for (size_t n = 0; n < b.len; n++) {
		tpg_probe r;
		assert_false(tpg_probe_decode(b.data, n, &r));
	}
	tpg_probe_clear(&q);
	tpg_probe_clear(&p);
	tpg_buf_free(&b);

	tpg_probe t = { TPG_PROBE_TIP, tpg_xstrdup("0123"), NULL, NULL };
	tpg_probe_encode(&t, &b);
	assert_true(tpg_probe_decode(b.data, b.len, &q));
	assert_int_equal(q.kind, TPG_PROBE_TIP);
	assert_string_equal(q.tip, "0123");
	tpg_probe_clear(&q);
	tpg_probe_clear(&t);
	tpg_buf_free(&b);
	assert_false(tpg_probe_decode("X\0\0\0", 4, &q));
	assert_false(tpg_probe_decode("T\0\0\0", 4, &q));   /* a tip answer without a tip */

	assert_true(tpg_class_failure_is_transient("timeout"));
	assert_true(tpg_class_failure_is_transient("host unreachable"));
	assert_true(tpg_class_failure_is_transient(NULL));
	assert_false(tpg_class_failure_is_transient("repository not found"));
	assert_false(tpg_class_failure_is_transient("authentication refused"));
}

static void test_student_key(void **state)
{
	(void)state;
	tpg_class_opts o;
	memset(&o, 0, sizeof(o));
	o.key_base = "tpgrade=0\nspec=sha1:a\n";
	tpg_student s;
	memset(&s, 0, sizeof(s));
	s.id = (char *)"a";
	s.repo = (char *)"https://u:tok1@h/a.git";
	char *k1 = tpg_class_student_key(&o, &s);
	s.repo = (char *)"https://u:tok2@h/a.git";
	char *k2 = tpg_class_student_key(&o, &s);
	/* Credentials do not change the key; a ref, a deadline, the spec do. */
	assert_string_equal(k1, k2);
	s.ref = (char *)"dev";
	char *k3 = tpg_class_student_key(&o, &s);
	assert_string_not_equal(k1, k3);
	o.key_base = "tpgrade=0\nspec=sha1:b\n";
	char *k4 = tpg_class_student_key(&o, &s);
	assert_string_not_equal(k3, k4);
	assert_true(strncmp(k1, "sha1:", 5) == 0);
	free(k1);
	free(k2);
	free(k3);
	free(k4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_points_format),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_class_json_and_state),
		cmocka_unit_test(test_probe_encoding),
		cmocka_unit_test(test_student_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

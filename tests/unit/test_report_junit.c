/*
 * test_report_junit.c - JUnit XML: structure (queried with xmllint --xpath),
 * unique testcase names, size caps, and schema validation against
 * tests/data/junit/junit-gitlab.xsd of every file produced, hostile or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sys/stat.h>

#include "test_report_fixture.h"
#include "tpgrade/sanitize.h"

#define XSD "tests/data/junit/junit-gitlab.xsd"

typedef struct ctx {
	char *dir;
	int files;
} ctx;

static int setup(void **state)
{
	ctx *c = calloc(1, sizeof(ctx));
	int st;
	char *v = fx_run("xmllint --version 2>&1", &st);

	free(v);
	if (st != 0) {
		fprintf(stderr, "xmllint is required (Debian: libxml2-utils)\n");
		free(c);
		return -1;
	}
	c->dir = fx_tmpdir();
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	ctx *c = *state;
	fx_rmdir(c->dir);
	free(c->dir);
	free(c);
	return 0;
}

/* Writes the report's XML to a new file of the temp dir; returns its path. */
static char *write_xml(ctx *c, const tpg_report *r, char **text, size_t *len)
{
	char *path = tpg_xasprintf("%s/report-%03d.xml", c->dir, c->files++);
	size_t n;
	char *xml = fx_write(tpg_report_write_junit, r, &n);

	assert_int_equal(fx_write_file(path, xml, n), 0);
	if (text)
		*text = xml;
	else
		free(xml);
	if (len)
		*len = n;
	return path;
}

static void assert_valid(const char *path)
{
	int st;
	char *cmd = tpg_xasprintf("xmllint --noout --schema %s '%s' 2>&1", XSD, path);
	char *out = fx_run(cmd, &st);

	if (st != 0)
		fail_msg("%s does not validate against %s:\n%.4000s", path, XSD, out);
	free(cmd);
	free(out);
}

static char *xpath(const char *path, const char *expr)
{
	int st;
	char *cmd = tpg_xasprintf("xmllint --xpath \"%s\" '%s' 2>/dev/null", expr, path);
	char *out = fx_run(cmd, &st);
	size_t n = strlen(out);

	/* xmllint ends what it prints with one newline of its own. */
	if (n > 0 && out[n - 1] == '\n')
		out[n - 1] = '\0';
	free(cmd);
	return out;
}

static void assert_xpath(const char *path, const char *expr, const char *want)
{
	char *got = xpath(path, expr);
	if (strcmp(got, want) != 0)
		fail_msg("xpath %s: got \"%s\", want \"%s\"", expr, got, want);
	free(got);
}

static void assert_xpath_contains(const char *path, const char *expr, const char *needle)
{
	char *got = xpath(path, expr);
	if (!strstr(got, needle))
		fail_msg("xpath %s: \"%.2000s\" does not contain \"%s\"", expr, got, needle);
	free(got);
}

/* Every (classname, name) pair is unique, as xmllint reads them back. */
static void assert_unique_names(const char *path, size_t expect_cases)
{
	char *pairs = xpath(path, "//testcase/@classname | //testcase/@name");
	tpg_strv seen = TPG_STRV_INIT;
	char *save = NULL, *cls = NULL;

	for (char *l = strtok_r(pairs, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, " classname=", 11) == 0) {
			cls = l;
			continue;
		}
		assert_non_null(cls);
		assert_true(strncmp(l, " name=", 6) == 0);
		char *key = tpg_xasprintf("%s|%s", cls, l);
		if (tpg_strv_contains(&seen, key))
			fail_msg("%s: duplicate testcase %s", path, key);
		tpg_strv_push_owned(&seen, key);
		cls = NULL;
	}
	assert_int_equal(seen.len, expect_cases);
	tpg_strv_free(&seen);
	free(pairs);
}

/* Each <testcase> element stays near the per-case cap. */
static void assert_case_sizes(const char *xml)
{
	const char *p = xml;
	while ((p = strstr(p, "<testcase "))) {
		const char *end = strstr(p, "</testcase>");
		const char *self = strstr(p, "/>\n");
		if (self && (!end || self < end) && !memchr(p, '\n', (size_t)(self - p)))
			end = self;
		assert_non_null(end);
		if ((size_t)(end - p) > TPG_REPORT_CASE_MAX + 4096)
			fail_msg("a testcase takes %zu bytes", (size_t)(end - p));
		p = end;
	}
}

/* --- structure ----------------------------------------------------------- */

static void test_junit_structure(void **state)
{
	ctx *c = *state;
	tpg_report *r = fx_sample();
	char *xml;
	char *p = write_xml(c, r, &xml, NULL);

	assert_valid(p);
	assert_true(strncmp(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", 50) == 0);
	assert_xpath(p, "count(/testsuites/testsuite)", "2");
	assert_xpath(p, "string(/testsuites/@tests)", "6");
	assert_xpath(p, "string(/testsuites/@failures)", "1");
	assert_xpath(p, "string(/testsuites/@errors)", "1");
	assert_xpath(p, "string(/testsuites/@skipped)", "2");
	assert_xpath(p, "string(/testsuites/@time)", "12.500");
	assert_xpath(p, "string(/testsuites/@timestamp)", "2026-12-03T16:41:56Z");

	assert_xpath(p, "string((//testsuite)[1]/@name)", "cowsay");
	assert_xpath(p, "string((//testsuite)[1]/@tests)", "3");
	assert_xpath(p, "string((//testsuite)[1]/@failures)", "1");
	assert_xpath(p, "string((//testsuite)[1]/@errors)", "1");
	assert_xpath(p, "string((//testsuite)[1]/@skipped)", "0");
	assert_xpath(p, "string((//testsuite)[1]/@time)", "3.216");
	assert_xpath(p, "string((//testsuite)[1]/@hostname)", "runner-1");
	assert_xpath(p, "string((//testsuite)[2]/@skipped)", "2");

	static const char *const props[][2] = {
		{"student", "alice"},
		{"repository", "https://gitlab.example/alice/tp2bis.git"},
		{"commit", "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"},
		{"commit_date", "2026-12-01T10:00:00Z"},
		{"score", "3"}, {"max_score", "7"}, {"tp", "tp2bis"},
		{"spec", "checks/tp2bis.yaml"}, {"suite_score", "2"}, {"suite_max_score", "5"},
		{"note", "2 commits after the deadline"},
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(props); i++) {
		char *e = tpg_xasprintf("string((//testsuite)[1]/properties/property[@name='%s']/@value)",
		                        props[i][0]);
		assert_xpath(p, e, props[i][1]);
		free(e);
	}

	/* Passed: no child. */
	assert_xpath(p, "string((//testcase)[1]/@classname)", "tp2bis.cowsay");
	assert_xpath(p, "string((//testcase)[1]/@name)", "cowsay.from \xE2\x80\x94 FROM an official image");
	assert_xpath(p, "string((//testcase)[1]/@file)", "cowsay/Dockerfile");
	assert_xpath(p, "string((//testcase)[1]/@line)", "1");
	assert_xpath(p, "string((//testcase)[1]/@time)", "0.012");
	assert_xpath(p, "count((//testcase)[1]/*)", "0");
	/* Failed: message attribute and the whole story in the text. */
	assert_xpath(p, "string((//testcase)[2]/failure/@message)", "ENTRYPOINT uses the shell form");
	assert_xpath(p, "string((//testcase)[2]/failure/@type)", "failed");
	assert_xpath(p, "string((//testcase)[2]/failure)",
	             "ENTRYPOINT uses the shell form\n\nHint: write ENTRYPOINT [\"cowsay\"]\n"
	             "File: cowsay/Dockerfile:3\nPoints: 0/2");
	assert_xpath(p, "string((//testcase)[2]/@line)", "3");
	/* Error: <error>, output in system-out. */
	assert_xpath(p, "count((//testcase)[3]/error)", "1");
	assert_xpath(p, "count((//testcase)[3]/failure)", "0");
	assert_xpath_contains(p, "string((//testcase)[3]/error)", "docker.sock");
	assert_xpath_contains(p, "string((//testcase)[3]/error)", "grading environment");
	assert_xpath(p, "string((//testcase)[3]/system-out)",
	             "Step 1/3 : FROM debian\nerror: daemon unreachable\n");
	assert_xpath(p, "count((//testcase)[3]/@file)", "0");
	/* Skipped, bonus. */
	assert_xpath(p, "string((//testcase)[4]/@classname)", "tp2bis.registry");
	assert_xpath(p, "string((//testcase)[4]/skipped/@message)",
	             "needs cowsay.run, which did not pass");
	assert_xpath(p, "string((//testcase)[5]/@name)", "registry.tag \xE2\x80\x94 Tagged v1 (bonus)");
	assert_unique_names(p, 6);
	free(xml);
	free(p);

	/* French labels. */
	free(r->lang);
	r->lang = tpg_xstrdup("fr");
	p = write_xml(c, r, NULL, NULL);
	assert_valid(p);
	assert_xpath_contains(p, "string((//testcase)[2]/failure)", "Indice : write ENTRYPOINT");
	assert_xpath_contains(p, "string((//testcase)[2]/failure)", "Fichier : cowsay/Dockerfile:3");
	free(p);
	tpg_report_free(r);
}

static void test_junit_empty_report(void **state)
{
	ctx *c = *state;
	tpg_report *r = tpg_report_new();
	char *p = write_xml(c, r, NULL, NULL);

	assert_valid(p);
	assert_xpath(p, "string(/testsuites/@name)", "tpgrade");
	assert_xpath(p, "count(//testsuite)", "0");
	free(p);
	tpg_report_free(r);
}

static void test_junit_unique_names(void **state)
{
	ctx *c = *state;
	tpg_report *r = tpg_report_new();
	char *p;

	r->tp = tpg_xstrdup("tp");
	/* The same suite twice, the same check many times, names that differ
	 * only by what sanitizing removes, and a name equal to a suffixed one. */
	for (int s = 0; s < 2; s++) {
		tpg_report_add_suite(r, "dup", "Same suite");
		for (int i = 0; i < 150; i++)
			tpg_report_add_check(r, "dup.check", "Same title");
		tpg_report_add_check(r, "dup.check \xE2\x80\x94 Same title (2)", NULL);
		tpg_report_add_check(r, "x\033", "t");
		tpg_report_add_check(r, "x", "t");
		tpg_report_add_check(r, "x\x01", "t");
		tpg_report_add_check(r, "x\n", "t");
		tpg_report_add_check(r, "x\xFF", "t");
		tpg_report_add_check(r, "x\xFE", "t");
		tpg_report_add_check(r, NULL, NULL);
		tpg_report_add_check(r, NULL, NULL);
		tpg_report_add_check(r, "", "");
	}
	tpg_report_tally(r);
	p = write_xml(c, r, NULL, NULL);
	assert_valid(p);
	assert_unique_names(p, r->nchecks);
	assert_xpath(p, "string((//testcase)[2]/@name)", "dup.check \xE2\x80\x94 Same title (2)");
	assert_xpath(p, "string((//testcase)[151]/@name)", "dup.check \xE2\x80\x94 Same title (2) (2)");
	free(p);
	tpg_report_free(r);
}

/* Names and messages too long for their attribute are clipped and still
 * on one line, the mark of the cut included. */
static void test_junit_long_attributes_one_line(void **state)
{
	ctx *c = *state;
	tpg_report *r = tpg_report_new();
	char big[3001], *text, *p, *name, *msg;

	for (int i = 0; i < 3000; i++)
		big[i] = i % 60 == 59 ? '\n' : (char)('a' + i % 26);
	big[3000] = '\0';
	tpg_report_add_suite(r, "s", "S");
	tpg_report_check *k = tpg_report_add_check(r, big, NULL);
	k->status = TPG_STATUS_FAILED;
	k->message = tpg_xstrdup(big);
	tpg_report_tally(r);
	p = write_xml(c, r, &text, NULL);
	assert_valid(p);
	assert_null(strstr(text, "&#10;"));
	name = xpath(p, "string(//testcase/@name)");
	msg = xpath(p, "string(//failure/@message)");
	assert_non_null(strstr(name, " truncated ...] "));
	assert_non_null(strstr(msg, " truncated ...] "));
	assert_true(strlen(name) <= 512);
	assert_true(strlen(msg) <= 1024);
	free(name);
	free(msg);
	free(text);
	free(p);
	tpg_report_free(r);
}

static void test_junit_big_output_truncated(void **state)
{
	ctx *c = *state;
	tpg_report *r = fx_sample();
	tpg_report_check *k = &r->checks[1];
	size_t big = 10 * 1024 * 1024, len;
	char *xml, *p;

	k->output = malloc(big + 1);
	for (size_t i = 0; i < big; i++)
		k->output[i] = (i % 100 == 99) ? '\n' : '<';   /* 4x when escaped */
	memcpy(k->output, "BEGIN\n", 6);
	memcpy(k->output + big - 4, "END\n", 4);
	k->output[big] = '\0';
	p = write_xml(c, r, &xml, &len);
	assert_valid(p);
	assert_true(len < 200 * 1024);
	assert_case_sizes(xml);
	assert_xpath_contains(p, "string((//testcase)[2]/system-out)", "BEGIN\n");
	assert_xpath_contains(p, "string((//testcase)[2]/system-out)", "END\n");
	assert_xpath_contains(p, "string((//testcase)[2]/system-out)", " MB truncated ...]");
	free(xml);
	free(p);
	tpg_report_free(r);
}

static void test_junit_file_budget(void **state)
{
	ctx *c = *state;
	tpg_report *r = tpg_report_new();
	size_t out = 96 * 1024, len;
	char *xml, *p;

	tpg_report_add_suite(r, "many", NULL);
	for (int i = 0; i < 600; i++) {
		char id[32];
		snprintf(id, sizeof(id), "many.%d", i);
		tpg_report_check *k = tpg_report_add_check(r, id, "A check with a big output");
		k->status = TPG_STATUS_FAILED;
		k->message = tpg_xstrdup("failed");
		k->output = malloc(out + 1);
		memset(k->output, 'o', out);
		k->output[out] = '\0';
	}
	p = write_xml(c, r, &xml, &len);
	assert_valid(p);
	assert_true(len < TPG_REPORT_JUNIT_BUDGET + 1024 * 1024);
	assert_true(len < 30 * 1000 * 1000);
	assert_case_sizes(xml);
	/* Still one testcase each, and the last ones still have their failure. */
	assert_xpath(p, "count(//testcase)", "600");
	assert_xpath(p, "count(//testcase/failure)", "600");
	free(xml);
	free(p);
	tpg_report_free(r);
}

static void test_junit_attachment_defused(void **state)
{
	ctx *c = *state;
	tpg_report *r = fx_sample();
	char *p;

	free(r->checks[2].output);
	r->checks[2].output = tpg_xstrdup("see [[ATTACHMENT|/etc/passwd]] and [[attachment|x]]");
	p = write_xml(c, r, NULL, NULL);
	assert_valid(p);
	char *so = xpath(p, "string((//testcase)[3]/system-out)");
	assert_null(strstr(so, "[[ATTACHMENT"));
	assert_null(strstr(so, "[[attachment"));
	assert_non_null(strstr(so, "ATTACHMENT|/etc/passwd]]"));
	free(so);
	free(p);
	tpg_report_free(r);
}

/* --- hostile reports, all validated ------------------------------------- */

static char *hostile_text(unsigned *seed, size_t len)
{
	static const char *const bits[] = {
		"]]>", "<![CDATA[", "]]]]><![CDATA[>", "<!-- -- -->", "--", "&amp;", "&#0;", "&#x1;",
		"\"'", "<a href=\"x\">", "\xFF", "\xC0\xAF", "\xED\xA0\x80", "\xEF\xBF\xBE",
		"\xF4\x90\x80\x80", "\033[31m", "\033]0;t\a", "\r\n", "\r", "\x01\x02\x0b\x0c",
		"\x7f", "\xC2\x9B", "\xE2\x80\xAE", "é", "😀", "\t", "\n", "[[ATTACHMENT|a]]",
		"<?xml version=\"1.0\"?>", "</testcase>", "&", "<", ">",
	};
	char *s = malloc(len + 1);
	size_t n = 0;

	while (n < len) {
		*seed = *seed * 1103515245u + 12345u;
		unsigned v = *seed >> 16;
		if (v % 3 == 0) {
			const char *b = bits[v % TPG_ARRAY_LEN(bits)];
			size_t bl = strlen(b);
			if (n + bl > len)
				bl = len - n;
			memcpy(s + n, b, bl);
			n += bl;
		} else {
			s[n++] = (char)(v % 3 == 1 ? (v >> 3) & 0xFF : 'a' + v % 26);
		}
	}
	s[n] = '\0';
	for (size_t i = 0; i < n; i++)   /* NULs only where lengths are explicit */
		if (s[i] == '\0')
			s[i] = '\x1f';
	return s;
}

static tpg_report *hostile_report(unsigned seed, bool big)
{
	tpg_report *r = tpg_report_new();
	size_t nsuites = 1 + seed % 3;

	r->tp = hostile_text(&seed, 20);
	r->title = hostile_text(&seed, 50);
	r->student = hostile_text(&seed, 30);
	r->repository = hostile_text(&seed, 60);
	r->commit = hostile_text(&seed, 40);
	r->hostname = hostile_text(&seed, 10);
	r->lang = tpg_xstrdup(seed & 1 ? "fr" : "en");
	r->started = seed % 5 ? 1796316116.0 + seed : NAN;
	r->seconds = seed % 7 ? 3.5 : -INFINITY;
	tpg_strv_push_owned(&r->notes, hostile_text(&seed, 80));
	for (size_t s = 0; s < nsuites; s++) {
		char *id = hostile_text(&seed, 12), *title = hostile_text(&seed, 30);
		tpg_report_add_suite(r, id, title);
		free(id);
		free(title);
		for (size_t k = 0; k < 4; k++) {
			char *cid = hostile_text(&seed, 16), *ct = hostile_text(&seed, 40);
			tpg_report_check *c = tpg_report_add_check(r, cid, ct);
			free(cid);
			free(ct);
			c->status = (tpg_status)((seed + k) % 4);
			c->points = k == 2 ? NAN : 1;
			c->max_points = 2;
			c->bonus = k == 3;
			c->message = hostile_text(&seed, 300);
			c->hint = k % 2 ? hostile_text(&seed, 200) : NULL;
			c->file = k % 2 ? NULL : hostile_text(&seed, 30);
			c->line = (int)(seed % 50) - 10;
			c->seconds = k == 1 ? NAN : 0.25;
			size_t olen = big && k == 0 ? 10 * 1024 * 1024 : 2000;
			c->output = hostile_text(&seed, olen);
			/* NULs inside, with an explicit length. */
			c->output[olen / 2] = '\0';
			c->output_len = olen;
			tpg_strv_push_owned(&c->tags, hostile_text(&seed, 8));
		}
	}
	/* A check no suite covers. */
	tpg_report_check *stray = tpg_report_add_check(r, "stray", NULL);
	stray->status = TPG_STATUS_FAILED;
	r->suites[r->nsuites - 1].count--;
	tpg_report_tally(r);
	return r;
}

static void test_junit_hostile_reports_validate(void **state)
{
	ctx *c = *state;

	for (unsigned seed = 1; seed <= 40; seed++) {
		tpg_report *r = hostile_report(seed * 7919u, seed == 3);
		char *xml;
		size_t len;
		char *p = write_xml(c, r, &xml, &len);

		assert_true(tpg_sanitize_is_utf8(xml, len));
		assert_valid(p);
		assert_unique_names(p, r->nchecks);
		assert_case_sizes(xml);
		if (seed == 3)
			assert_true(len < 1024 * 1024);
		free(xml);
		free(p);
		tpg_report_free(r);
	}
}

static void test_junit_control_chars_everywhere(void **state)
{
	ctx *c = *state;
	char all[256];

	/* Every byte value (but NUL) in every string. */
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	tpg_report *r = fx_sample();
	for (size_t i = 0; i < r->nchecks; i++) {
		tpg_report_check *k = &r->checks[i];
		free(k->title);
		free(k->message);
		free(k->hint);
		free(k->file);
		free(k->output);
		k->title = tpg_xstrdup(all);
		k->message = tpg_xstrdup(all);
		k->hint = tpg_xstrdup(all);
		k->file = tpg_xstrdup(all);
		k->output = tpg_xstrdup(all);
	}
	free(r->student);
	r->student = tpg_xstrdup(all);
	tpg_strv_push(&r->notes, all);
	char *p = write_xml(c, r, NULL, NULL);
	assert_valid(p);
	assert_unique_names(p, r->nchecks);
	assert_xpath_contains(p, "string((//testcase)[2]/failure)", "!\"#$%&'()*+,-./0123");
	assert_xpath_contains(p, "string((//testcase)[2]/failure)", "<=>");
	free(p);
	tpg_report_free(r);
}

static void test_junit_write_error(void **state)
{
	tpg_err err = {0};
	int rc = fx_write_full(tpg_report_write_junit, &err);

	(void)state;
	if (rc == 1)
		skip();
	assert_int_equal(rc, TPG_EIO);
	assert_non_null(strstr(err.msg, "JUnit"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_junit_structure),
		cmocka_unit_test(test_junit_empty_report),
		cmocka_unit_test(test_junit_unique_names),
		cmocka_unit_test(test_junit_long_attributes_one_line),
		cmocka_unit_test(test_junit_big_output_truncated),
		cmocka_unit_test(test_junit_file_budget),
		cmocka_unit_test(test_junit_attachment_defused),
		cmocka_unit_test(test_junit_hostile_reports_validate),
		cmocka_unit_test(test_junit_control_chars_everywhere),
		cmocka_unit_test(test_junit_write_error),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_report_term.c - the terminal report: layout, modes, safety, wrapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_report_fixture.h"
#include "tpgrade/sanitize.h"

static char *term(const tpg_report *r, tpg_term_opts o)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	tpg_err err = {0};

	assert_int_equal(tpg_report_write_term(r, &o, f, &err), 0);
	fclose(f);
	assert_true(tpg_sanitize_is_utf8(buf, n));
	return buf;
}

static void has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("no \"%s\" in:\n%s", needle, text);
}

static void has_not(const char *text, const char *needle)
{
	if (strstr(text, needle))
		fail_msg("unexpected \"%s\" in:\n%s", needle, text);
}

/* Columns of the widest line (our test texts are one column per code point). */
static size_t widest(const char *s)
{
	size_t best = 0, cur = 0;
	for (; *s; s++) {
		if (*s == '\n') {
			cur = 0;
			continue;
		}
		if (((unsigned char)*s & 0xC0) != 0x80)
			cur++;
		if (cur > best)
			best = cur;
	}
	return best;
}

static void test_term_default(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	char *t = term(r, (tpg_term_opts){0});

	has(t, "tp2bis \xE2\x80\x94 Dockerfile et images\n");
	has(t, "Student: alice");
	has(t, "Commit: 1a2b3c4d5e6f (2026-12-01T10:00:00Z)");
	has(t, "Note: 2 commits after the deadline\n");
	has(t, "\ncowsay \xE2\x80\x94 Image cowsay  2/5\n");
	has(t, "\nregistry \xE2\x80\x94 Push to the registry  0/2 (+1 bonus)\n");
	/* A pass shows the file graded, not its explanation (unless verbose). */
	has(t, "  \xE2\x9C\x94 2/2   cowsay.from \xE2\x80\x94 FROM an official image "
	       "(cowsay/Dockerfile)\n");
	has_not(t, "uses debian:bookworm-slim");
	has(t, "  \xE2\x9C\x98 0/2   cowsay.entrypoint \xE2\x80\x94 ENTRYPOINT in exec form: "
	       "ENTRYPOINT uses the shell form\n"
	       "          Hint: write ENTRYPOINT [\"cowsay\"]\n"
	       "          File: cowsay/Dockerfile:3\n");
	has(t, "  \xE2\x9A\xA0 0/1   cowsay.run");
	has(t, "  \xE2\x97\x8B 0/2   registry.push");
	has(t, "  \xE2\x9C\x94 +1/1  registry.tag \xE2\x80\x94 Tagged v1 (bonus)");
	has(t, "  \xE2\x97\x8B -     registry.extra");
	has(t, "\nScore: 2/7 (+1 bonus)\n");
	has(t, "2 passed, 1 failed, 1 error, 2 skipped\n");
	has(t, "grading environment");
	has_not(t, "\033");
	has_not(t, "Step 1/3");      /* outputs only in verbose */
	has_not(t, " s)");           /* times only in verbose */
	free(t);
	tpg_report_free(r);
}

static void test_term_color(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	char *t = term(r, (tpg_term_opts){.color = true});

	has(t, "\033[32m\xE2\x9C\x94\033[0m");
	has(t, "\033[31m\xE2\x9C\x98\033[0m");
	has(t, "\033[33m\xE2\x9A\xA0\033[0m");
	has(t, "\033[2m\xE2\x97\x8B\033[0m");
	has(t, "\033[1m\033[33mScore: 2/7 (+1 bonus)\033[0m");   /* errors: yellow */
	free(t);
	r->checks[2].status = TPG_STATUS_PASSED;
	tpg_report_tally(r);
	t = term(r, (tpg_term_opts){.color = true});
	has(t, "\033[1m\033[31mScore:");
	free(t);
	tpg_report_free(r);
}

static void test_term_ascii(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	free(r->lang);
	r->lang = tpg_xstrdup("fr");
	free(r->checks[0].title);
	r->checks[0].title = tpg_xstrdup("Élève — « œuvre » 😀 déjà");
	char *t = term(r, (tpg_term_opts){.ascii = true, .verbose = true});

	for (const char *p = t; *p; p++)
		if ((unsigned char)*p >= 0x80)
			fail_msg("non-ASCII byte in ASCII mode:\n%s", t);
	has(t, "  [OK] 2/2   cowsay.from - Eleve - \" oeuvre \" ? deja");
	has(t, "  [KO] 0/2");
	has(t, "  [!!] 0/1");
	has(t, "  [--] 0/2");
	has(t, "Indice : write ENTRYPOINT");
	has(t, "Fichier : cowsay/Dockerfile:3");
	has(t, "| error: daemon unreachable\n");
	has(t, "2 reussies, 1 echouee, 1 erreur, 2 ignorees");
	free(t);
	tpg_report_free(r);
}

static void test_term_quiet(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	char *t = term(r, (tpg_term_opts){.quiet = true});

	has(t, "cowsay.entrypoint");
	has(t, "Hint: write");
	has(t, "cowsay.run");
	has(t, "Score: 2/7 (+1 bonus)\n");
	has_not(t, "cowsay.from");
	has_not(t, "registry.");
	has_not(t, "Dockerfile et images");
	has_not(t, "passed,");
	free(t);
	tpg_report_free(r);
}

static void test_term_verbose_output_tail(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	tpg_buf out = TPG_BUF_INIT;

	for (int i = 1; i <= 100; i++)
		tpg_buf_printf(&out, "log line %03d\n", i);
	free(r->checks[1].output);
	r->checks[1].output = tpg_buf_detach(&out);
	char *t = term(r, (tpg_term_opts){.verbose = true});

	has(t, "cowsay.run \xE2\x80\x94 The container runs (3.20 s): cannot connect");
	has(t, "(0.00 s)");
	has(t, "          Output (last 20 lines):\n");
	has(t, "          \xE2\x94\x82 log line 081\n");
	has(t, "          \xE2\x94\x82 log line 100\n");
	has_not(t, "log line 080");
	has(t, "          Output:\n          \xE2\x94\x82 Step 1/3 : FROM debian\n");
	free(t);
	t = term(r, (tpg_term_opts){.verbose = true, .output_lines = 3});
	has(t, "Output (last 3 lines):\n");
	has_not(t, "log line 097");
	has(t, "log line 098");
	free(t);
	/* Outputs of passed checks are not shown. */
	r->checks[0].output = tpg_xstrdup("PASSED OUTPUT");
	t = term(r, (tpg_term_opts){.verbose = true});
	has_not(t, "PASSED OUTPUT");
	free(t);
	tpg_report_free(r);
}

static void test_term_student(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	free(r->lang);
	r->lang = tpg_xstrdup("fr");
	char *t = term(r, (tpg_term_opts){.student = true});

	has(t, "\nÀ corriger (1)\n");
	has(t, "Pas pu vérifier (1) \xE2\x80\x94 un problème de l'environnement");
	has(t, "\nBien joué (2)\n");
	has(t, "\nNon vérifiés (2)\n");
	/* Hint first, then the explanation, then the file. */
	has(t, "cowsay.entrypoint \xE2\x80\x94 ENTRYPOINT in exec form\n"
	       "          Indice : write ENTRYPOINT [\"cowsay\"]\n"
	       "          ENTRYPOINT uses the shell form\n"
	       "          Fichier : cowsay/Dockerfile:3\n");
	has(t, "Encore 1 vérification à corriger, courage !");
	has(t, "pas de ta faute");
	has(t, "Score: 2/7 (+1 bonus)");
	assert_true(strstr(t, "À corriger") < strstr(t, "Bien joué"));
	free(t);

	t = term(r, (tpg_term_opts){.student = true, .quiet = true});
	has(t, "À corriger (1)");
	has_not(t, "Bien joué");
	has_not(t, "Non vérifiés");
	free(t);

	for (size_t i = 0; i < r->nchecks; i++)
		r->checks[i].status = TPG_STATUS_PASSED;
	tpg_report_tally(r);
	t = term(r, (tpg_term_opts){.student = true});
	has(t, "Tout est bon, bravo !");
	has_not(t, "À corriger");
	free(t);
	free(r->lang);
	r->lang = tpg_xstrdup("en");
	t = term(r, (tpg_term_opts){.student = true});
	has(t, "All good, well done!");
	has(t, "Well done (6)");
	free(t);
	tpg_report_free(r);
}

static void test_term_hostile_content(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	const char *evil = "\033[2J\033[H\033]0;pwned\a\xC2\x9B" "31m\xE2\x80\xAE" "abc\r"
	                   "\x08\x7f\xFF\xC0\xAF\x00tail";
	tpg_report_check *c = &r->checks[1];

	free(c->title);
	free(c->message);
	free(c->hint);
	free(c->file);
	c->title = tpg_xstrdup(evil);
	c->message = tpg_xstrdup(evil);
	c->hint = tpg_xstrdup(evil);
	c->file = tpg_xstrdup(evil);
	c->output = malloc(64);
	memcpy(c->output, evil, 40);
	memcpy(c->output + 40, "\0after NUL\n", 12);
	c->output_len = 52;
	free(r->student);
	r->student = tpg_xstrdup(evil);
	tpg_strv_push(&r->notes, evil);

	for (int color = 0; color < 2; color++) {
		char *t = term(r, (tpg_term_opts){.color = color, .verbose = true, .width = 50});
		for (const char *p = t; *p; p++) {
			unsigned char ch = (unsigned char)*p;
			if (ch == '\033') {
				/* Only our SGR sequences: ESC [ digits m. */
				assert_true(color);
				assert_int_equal(p[1], '[');
				const char *q = p + 2;
				while (*q >= '0' && *q <= '9')
					q++;
				assert_int_equal(*q, 'm');
				continue;
			}
			assert_true(ch >= 0x20 || ch == '\n' || ch == '\t' || ch == '\033');
			assert_true(ch != 0x7F);
		}
		has(t, "^[[2J^[[H^[]0;pwned^G<U+009B>31m<U+202E>abc^M^H^?");
		has(t, "after NUL");
		has_not(t, "\xC2\x9B");
		has_not(t, "\xE2\x80\xAE");
		free(t);
	}
	tpg_report_free(r);
}

static void test_term_wrapping(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	tpg_report_check *c = &r->checks[1];

	free(c->message);
	c->message = tpg_xstrdup("The ENTRYPOINT instruction uses the shell form, so signals "
	                         "are not delivered to the program and docker stop waits ten "
	                         "seconds.\nSecond paragraph: https://docs.docker.com/reference/"
	                         "dockerfile/#entrypoint-exec-form-and-shell-form-differences-"
	                         "explained-at-length");
	free(c->hint);
	c->hint = tpg_xstrdup("Use the exec form: ENTRYPOINT [\"cowsay\", \"-f\", \"tux\"] and "
	                      "keep CMD for the default arguments of the program.");
	for (int width = 30; width <= 100; width += 7) {
		char *t = term(r, (tpg_term_opts){.width = width});
		if (widest(t) > (size_t)width)
			fail_msg("width %d: a line has %zu columns:\n%s", width, widest(t), t);
		/* Continuation lines keep the check's indentation. */
		has(t, "\n          ");
		has(t, "seconds.\n          Second paragraph:");
		free(t);
	}
	/* Without a width nothing is wrapped. */
	char *t = term(r, (tpg_term_opts){0});
	has(t, "The ENTRYPOINT instruction uses the shell form, so signals are not delivered "
	       "to the program and docker stop waits ten seconds.\n");
	free(t);
	tpg_report_free(r);
}

static void test_term_single_check(void **state)
{
	(void)state;
	tpg_report *r = fx_sample();
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	assert_int_equal(tpg_report_write_term_check(&r->checks[1], "fr",
	                                             &(tpg_term_opts){0}, f, NULL), 0);
	fclose(f);
	has(buf, "\xE2\x9C\x98 0/2");
	has(buf, "Indice : write");
	has_not(buf, "Score");
	free(buf);
	tpg_report_free(r);
}

static void test_term_locale(void **state)
{
	(void)state;
	unsetenv("LC_ALL");
	unsetenv("LC_CTYPE");
	unsetenv("LANG");
	assert_false(tpg_term_locale_is_utf8());
	setenv("LANG", "fr_FR.UTF-8", 1);
	assert_true(tpg_term_locale_is_utf8());
	setenv("LC_CTYPE", "C", 1);
	assert_false(tpg_term_locale_is_utf8());
	setenv("LC_ALL", "en_US.utf8", 1);
	assert_true(tpg_term_locale_is_utf8());
	setenv("LC_ALL", "", 1);
	assert_false(tpg_term_locale_is_utf8());
	unsetenv("LC_ALL");
	unsetenv("LC_CTYPE");
	unsetenv("LANG");
}

static void test_term_empty_and_write_error(void **state)
{
	(void)state;
	tpg_report *r = tpg_report_new();
	char *t = term(r, (tpg_term_opts){0});
	has(t, "Score: 0/0\n");
	free(t);
	tpg_report_free(r);

	r = fx_sample();
	FILE *f = fopen("/dev/full", "w");
	tpg_err err = {0};
	if (!f)
		skip();
	assert_int_equal(tpg_report_write_term(r, NULL, f, &err), TPG_EIO);
	assert_non_null(strstr(err.msg, "cannot write"));
	fclose(f);
	tpg_report_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_term_default),
		cmocka_unit_test(test_term_color),
		cmocka_unit_test(test_term_ascii),
		cmocka_unit_test(test_term_quiet),
		cmocka_unit_test(test_term_verbose_output_tail),
		cmocka_unit_test(test_term_student),
		cmocka_unit_test(test_term_hostile_content),
		cmocka_unit_test(test_term_wrapping),
		cmocka_unit_test(test_term_single_check),
		cmocka_unit_test(test_term_locale),
		cmocka_unit_test(test_term_empty_and_write_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

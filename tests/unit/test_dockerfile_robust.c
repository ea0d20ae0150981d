/* test_dockerfile_robust.c - hostile and odd input for the Dockerfile
 * parser and the shell lexer: binary garbage, NUL bytes, UTF-16, invalid
 * UTF-8, CRLF, BOM, line-length boundaries, 100k-line files, deep ONBUILD
 * and JSON nesting, unterminated heredocs, and a short random-mutation fuzz
 * loop over the conformance files (must never crash; run it under
 * ASan/UBSan with `make SAN=1`). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "tpgrade/dockerfile.h"
#include "tpgrade/shellword.h"

static tpg_dockerfile *parse_str(const char *s, int *rc, tpg_err *err)
{
	tpg_dockerfile *df = NULL;
	*rc = tpg_dockerfile_parse(s, strlen(s), &df, NULL, err);
	return df;
}

static char *dump_of(const char *s)
{
	tpg_err err = {0};
	int rc;
	tpg_dockerfile *df = parse_str(s, &rc, &err);
	tpg_buf b = TPG_BUF_INIT;

	if (rc != 0)
		fail_msg("parse failed: %s", err.msg);
	tpg_dockerfile_dump(df, &b);
	tpg_dockerfile_free(df);
	return tpg_buf_detach(&b);
}

static void expect_dump(const char *in, const char *want)
{
	char *got = dump_of(in);
	assert_string_equal(got, want);
	free(got);
}

static void test_nul_and_utf16(void **state)
{
	(void)state;
	static const char nul[] = "FROM x\nRUN a\0b\n";
	static const char u16[] = "\xff\xfe" "F\0R\0O\0M\0 \0x\0\n\0";
	tpg_dockerfile *df = NULL;
	tpg_err err = {0};
	int line = -1;

	assert_int_equal(tpg_dockerfile_parse(nul, sizeof(nul) - 1, &df, &line, &err), TPG_EPARSE);
	assert_null(df);
	assert_int_equal(line, 2);
	assert_non_null(strstr(err.msg, "not a text file"));
	assert_int_equal(tpg_dockerfile_parse(u16, sizeof(u16) - 1, &df, &line, &err), TPG_EPARSE);
	assert_non_null(strstr(err.msg, "UTF-16"));
	/* empty input and NULL data */
	assert_int_equal(tpg_dockerfile_parse(NULL, 0, &df, &line, &err), TPG_EPARSE);
	assert_string_equal(err.msg, "file with no instructions");
	assert_int_equal(line, 0);
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	expect_dump("FROM x\nRUN echo \xff\xfe\n", "(from \"x\")\n(run \"echo \\xff\\xfe\")\n");
	/* keywords are lowercased as Go's strings.ToLower: bad bytes become U+FFFD */
	expect_dump("R\xffN a\n", "(r\xef\xbf\xbdn \"\")\n");
	/* ENV words go through runes: the bad byte becomes U+FFFD */
	expect_dump("ENV A=\xff\n", "(env \"A\" \"\xef\xbf\xbd\" \"=\")\n");
	/* flags walk bytes: 0xA0 separates, bytes >= 0x80 become Latin-1 runes */
	expect_dump("COPY --a=\xc3\xa9 x y\n", "(copy [\"--a=\xc3\x83\xc2\xa9\"] \"x\" \"y\")\n");
	/* Unicode keywords: the Kelvin sign lowercases to k, dotted I to i */
	expect_dump("WOR\xe2\x84\xaa" "DIR /a\n", "(workdir \"/a\")\n");
	expect_dump("ONBU\xc4\xb0LD RUN x\n", "(onbuild (run \"x\"))\n");
}

static void test_quote(void **state)
{
	(void)state;
	static const char in[] = "\x00\x07\x7f \xc2\xa0\xe2\x80\xa8\xf0\x9f\x98\x80\xed\xa0\x80\"\\\xef\xbf\xbd";
	tpg_buf b = TPG_BUF_INIT;

	tpg_go_quote(in, sizeof(in) - 1, &b);
	assert_string_equal(tpg_buf_cstr(&b),
			    "\"\\x00\\a\\x7f \\u00a0\\u2028\xf0\x9f\x98\x80\\xed\\xa0\\x80\\\"\\\\\xef\xbf\xbd\"");
	tpg_buf_free(&b);
}

static void test_crlf_bom(void **state)
{
	(void)state;
	expect_dump("\xef\xbb\xbf# escape=`\r\nFROM x\r\nRUN a `\r\n  b\r\nRUN c\rd\r\n",
		    "(from \"x\")\n(run \"a   b\")\n(run \"c\\rd\")\n");
	/* a BOM only counts on the first line */
	expect_dump("FROM x\n\xef\xbb\xbfRUN y\n", "(from \"x\")\n(\xef\xbb\xbfrun \"\")\n");
}

static void test_line_limits(void **state)
{
	(void)state;
	tpg_buf b = TPG_BUF_INIT;
	tpg_dockerfile *df = NULL;
	tpg_err err = {0};
	int line;

	/* 65535 bytes before the newline: fine; 65536: too long */
	for (size_t n = 65535; n <= 65536; n++) {
		for (int nl = 0; nl < 2; nl++) {
			tpg_buf_clear(&b);
			tpg_buf_puts(&b, "FROM x\nRUN ");
			while (b.len < 7 + n)
				tpg_buf_putc(&b, 'a');
			if (nl)
				tpg_buf_putc(&b, '\n');
			int rc = tpg_dockerfile_parse(b.data, b.len, &df, &line, &err);
			if (n == 65535) {
				assert_int_equal(rc, 0);
				assert_int_equal(df->ninstrs, 2);
				tpg_dockerfile_free(df);
			} else {
				assert_int_equal(rc, TPG_EPARSE);
				assert_string_equal(err.msg,
						    "dockerfile line greater than max allowed size of 65535");
				assert_int_equal(line, 1);
			}
		}
	}
	/* a too long first line: BuildKit reports the empty file first */
	tpg_buf_clear(&b);
	for (int i = 0; i < 70000; i++)
		tpg_buf_putc(&b, 'a');
	assert_int_equal(tpg_dockerfile_parse(b.data, b.len, &df, &line, &err), TPG_EPARSE);
	assert_string_equal(err.msg, "file with no instructions");
	/* inside a heredoc: unterminated */
	tpg_buf_clear(&b);
	tpg_buf_puts(&b, "FROM x\nRUN <<EOF\n");
	for (int i = 0; i < 70000; i++)
		tpg_buf_putc(&b, 'a');
	tpg_buf_puts(&b, "\nEOF\n");
	assert_int_equal(tpg_dockerfile_parse(b.data, b.len, &df, &line, &err), TPG_EPARSE);
	assert_string_equal(err.msg, "unterminated heredoc");
	tpg_buf_free(&b);
}

static void test_many_lines(void **state)
{
	(void)state;
	tpg_buf b = TPG_BUF_INIT;
	tpg_dockerfile *df = NULL;
	tpg_err err = {0};
	clock_t t0 = clock();

	tpg_buf_puts(&b, "FROM x\n");
	for (int i = 0; i < 100000; i++)
		tpg_buf_printf(&b, "RUN echo %d\n", i);
	assert_int_equal(tpg_dockerfile_parse(b.data, b.len, &df, NULL, &err), 0);
	assert_int_equal(df->ninstrs, 100001);
	assert_int_equal(df->instrs[100000].start_line, 100001);
	tpg_dockerfile_free(df);

	/* one instruction continued over 100k lines, comments in between */
	tpg_buf_clear(&b);
	tpg_buf_puts(&b, "FROM x\nRUN a \\\n");
	for (int i = 0; i < 100000; i++)
		tpg_buf_puts(&b, i % 2 ? "  # c\n" : "  b \\\n");
	tpg_buf_puts(&b, "  end\n");
	assert_int_equal(tpg_dockerfile_parse(b.data, b.len, &df, NULL, &err), 0);
	assert_int_equal(df->ninstrs, 2);
	assert_int_equal(df->instrs[1].end_line, 100003);
	tpg_dockerfile_free(df);

	/* 100k comment lines and blank lines */
	tpg_buf_clear(&b);
	for (int i = 0; i < 100000; i++)
		tpg_buf_puts(&b, i % 2 ? "# comment\n" : "\n");
	tpg_buf_puts(&b, "FROM x\n");
	assert_int_equal(tpg_dockerfile_parse(b.data, b.len, &df, NULL, &err), 0);
	assert_int_equal(df->instrs[0].start_line, 100001);
	tpg_dockerfile_free(df);
	tpg_buf_free(&b);
	print_message("100k-line files: %.2f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
}

static void test_deep_onbuild(void **state)
{
	(void)state;
	tpg_buf b = TPG_BUF_INIT, d = TPG_BUF_INIT;
	tpg_dockerfile *df = NULL;
	tpg_err err = {0};
	int rc;
	const int depth = 8000;

	/* BuildKit's parser accepts ONBUILD ONBUILD (its instruction layer then
	 * rejects it), so we do too, at any depth a line can hold. */
	expect_dump("ONBUILD ONBUILD RUN x\n", "(onbuild (onbuild (run \"x\")))\n");
	for (int i = 0; i < depth; i++)
		tpg_buf_puts(&b, "ONBUILD ");
	tpg_buf_puts(&b, "RUN <<EOF\nbody\nEOF\n");
	assert_int_equal(tpg_dockerfile_parse(b.data, b.len, &df, NULL, &err), 0);
	assert_int_equal(df->ninstrs, 3);  /* the body is not a heredoc two levels down */
	tpg_dockerfile_dump(df, &d);
	assert_int_equal(strncmp(tpg_buf_cstr(&d), "(onbuild (onbuild (onbuild", 26), 0);
	assert_non_null(strstr(tpg_buf_cstr(&d), "(run \"<<EOF\")))"));
	const tpg_df_instr *in = &df->instrs[0];
	int n = 0;
	while (in->inner) {
		in = in->inner;
		n++;
	}
	assert_int_equal(n, depth);
	assert_string_equal(in->cmd, "run");
	tpg_dockerfile_free(df);
	tpg_buf_free(&b);
	tpg_buf_free(&d);

	/* one level: the heredoc belongs to the ONBUILD node */
	df = parse_str("ONBUILD RUN <<EOF\nx\nEOF\n", &rc, &err);
	assert_int_equal(rc, 0);
	assert_int_equal(df->ninstrs, 1);
	assert_int_equal(df->instrs[0].nheredocs, 1);
	tpg_dockerfile_free(df);
}

static void test_heredoc_edges(void **state)
{
	(void)state;
	tpg_dockerfile *df = NULL;
	tpg_err err = {0};
	tpg_df_errpos pos;
	static const char unterminated[] = "FROM x\nRUN <<EOF\nline\n";
	static const char two[] = "FROM x\nCOPY <<A <<B /d\na\nA\n";
	int rc;

	assert_int_equal(tpg_dockerfile_parse_at(unterminated, sizeof(unterminated) - 1, &df, &pos,
						 &err), TPG_EPARSE);
	assert_string_equal(err.msg, "unterminated heredoc");
	assert_int_equal(pos.start_line, 2);
	assert_int_equal(pos.end_line, 3);
	assert_int_equal(tpg_dockerfile_parse_at(two, sizeof(two) - 1, &df, &pos, &err), TPG_EPARSE);
	assert_string_equal(err.msg, "unterminated heredoc");
	/* a heredoc fd that overflows uint64 saturates as strconv.ParseUint does */
	expect_dump("RUN 99999999999999999999999<<E\nE\n", "(run \"99999999999999999999999<<E\")\n");
	df = parse_str("RUN 99999999999999999999999<<E\nE\n", &rc, &err);
	assert_int_equal(rc, 0);
	assert_true(df->instrs[0].heredocs[0].fd == UINT64_MAX);
	tpg_dockerfile_free(df);
	/* CRLF terminator, chomp with tabs */
	df = parse_str("RUN <<-E\r\n\ta\r\n\t\tE\r\n", &rc, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(df->instrs[0].heredocs[0].content, "\ta\r\n");
	tpg_dockerfile_free(df);
}

static void test_json_edges(void **state)
{
	(void)state;
	tpg_buf b = TPG_BUF_INIT;
	tpg_dockerfile *df = NULL;
	tpg_err err = {0};
	int rc;

	df = parse_str("CMD [\"a\" \"b\"]\n", &rc, &err);
	assert_int_equal(rc, 0);
	assert_false(df->instrs[0].json);
	assert_non_null(df->instrs[0].json_error);
	assert_non_null(strstr(df->instrs[0].json_error, "expected ',' or ']' after array element"));
	tpg_dockerfile_free(df);

	df = parse_str("CMD ['a']\n", &rc, &err);
	assert_non_null(strstr(df->instrs[0].json_error, "single quotes"));
	tpg_dockerfile_free(df);
	df = parse_str("CMD [\"a\",]\n", &rc, &err);
	assert_non_null(strstr(df->instrs[0].json_error, "trailing comma"));
	tpg_dockerfile_free(df);
	df = parse_str("CMD echo [x]\n", &rc, &err);
	assert_null(df->instrs[0].json_error);  /* does not start with '[' */
	tpg_dockerfile_free(df);

	/* a float64 overflow is a decode error: shell form, not "strings only" */
	expect_dump("CMD [\"a\", 1e999]\n", "(cmd \"[\\\"a\\\", 1e999]\")\n");
	df = parse_str("CMD [\"a\", 1.7976931348623158e308]\n", &rc, &err);
	assert_int_equal(rc, TPG_EPARSE);  /* rounds to MaxFloat64: a number, not a string */
	df = parse_str("CMD [\"a\", 1.7976931348623159e308]\n", &rc, &err);
	assert_int_equal(rc, 0);  /* rounds to +Inf: ErrRange */
	tpg_dockerfile_free(df);
	df = parse_str("CMD [\"a\", 0.00001e-99999]\n", &rc, &err);
	assert_int_equal(rc, TPG_EPARSE);  /* underflow is no error */

	/* nesting: 10000 levels is JSON (then not strings), 10001 is not JSON */
	for (int depth = 10000; depth <= 10001; depth++) {
		tpg_buf_clear(&b);
		tpg_buf_puts(&b, "CMD ");
		for (int i = 0; i < depth; i++)
			tpg_buf_putc(&b, '[');
		for (int i = 0; i < depth; i++)
			tpg_buf_putc(&b, ']');
		tpg_buf_putc(&b, '\n');
		df = NULL;
		rc = tpg_dockerfile_parse(b.data, b.len, &df, NULL, &err);
		if (depth == 10000) {
			assert_int_equal(rc, TPG_EPARSE);
		} else {
			assert_int_equal(rc, 0);
			assert_false(df->instrs[0].json);
			assert_non_null(strstr(df->instrs[0].json_error, "nested"));
			tpg_dockerfile_free(df);
		}
	}
	/* surrogates and escapes */
	df = parse_str("RUN [\"\\ud83d\\ude00\", \"\\ud800x\", \"\\u0000\"]\n", &rc, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(df->instrs[0].args.items[0], "\xf0\x9f\x98\x80");
	assert_string_equal(df->instrs[0].args.items[1], "\xef\xbf\xbdx");
	assert_int_equal(df->instrs[0].arg_lens[2], 1);
	tpg_dockerfile_free(df);
	tpg_buf_free(&b);
}

/* ---- fuzz --------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void load_corpus(const char *dir, tpg_strv *files, tpg_buf *all)
{
	const char *base = getenv("TPG_TEST_DATA");
	char *p = tpg_xasprintf("%s/buildkit-parser/%s", base && *base ? base : "tests/data", dir);
	DIR *d = opendir(p);
	struct dirent *e;

	if (!d)
		fail_msg("cannot list %s", p);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *f = tpg_xasprintf("%s/%s/Dockerfile", p, e->d_name);
		FILE *fp = fopen(f, "rb");
		if (fp) {
			tpg_buf b = TPG_BUF_INIT;
			char chunk[4096];
			size_t n;
			while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
				tpg_buf_append(&b, chunk, n);
			fclose(fp);
			tpg_buf_append(&b, "", 0);
			tpg_buf_append(all, b.data, b.len);
			tpg_strv_push_owned(files, tpg_buf_detach(&b));
		}
		free(f);
	}
	closedir(d);
	free(p);
}

static const char *const dict[] = {
	"\\", "`", "\"", "'", "<<", "<<-", "\n", "\r\n", "[", "]", "$", "${", "}", "#", " ", "\t",
	"\xff", "\xc2\xa0", "ONBUILD ", "RUN ", "EOF", "COPY ", "ENV ", "--", "--x=", ":-",
	"# escape=`\n", "# syntax=x\n", "\\\n", "\n\n", "[\"a\",", "1e999", "\xef\xbb\xbf", "=",
};

static void mutate(tpg_buf *b)
{
	int n = 1 + (int)(rnd() % 8);
	for (int i = 0; i < n; i++) {
		size_t pos = b->len ? rnd() % b->len : 0;
		switch (rnd() % 4) {
		case 0:
			if (b->len)
				b->data[pos] = (char)(rnd() % 255 + 1);
			break;
		case 1: {
			const char *w = dict[rnd() % TPG_ARRAY_LEN(dict)];
			tpg_buf t = TPG_BUF_INIT;
			tpg_buf_append(&t, b->data, pos);
			tpg_buf_puts(&t, w);
			tpg_buf_append(&t, b->data + pos, b->len - pos);
			tpg_buf_free(b);
			*b = t;
			break;
		}
		case 2:
			if (b->len > 1) {
				size_t l = rnd() % (b->len - pos);
				memmove(b->data + pos, b->data + pos + l, b->len - pos - l);
				b->len -= l;
				b->data[b->len] = '\0';
			}
			break;
		default:
			if (b->len && b->len < 200000) {
				size_t l = rnd() % (b->len - pos);
				tpg_buf t = TPG_BUF_INIT;
				tpg_buf_append(&t, b->data, b->len);
				tpg_buf_append(&t, b->data + pos, l);
				tpg_buf_free(b);
				*b = t;
			}
			break;
		}
	}
}

static void test_fuzz(void **state)
{
	(void)state;
	tpg_strv files = TPG_STRV_INIT, env = TPG_STRV_INIT;
	tpg_buf all = TPG_BUF_INIT;
	clock_t t0 = clock();
	long iters = 0, ok = 0;
	/* TPG_FUZZ_SECONDS / TPG_FUZZ_SEED for longer runs by hand */
	const char *secs_env = getenv("TPG_FUZZ_SECONDS"), *seed_env = getenv("TPG_FUZZ_SEED");
	double secs = secs_env ? atof(secs_env) : 1.5;
	long max_iters = secs_env ? 1000000000L : 200000;

	if (seed_env)
		rng_state = strtoull(seed_env, NULL, 10) | 1;
	load_corpus("testfiles", &files, &all);
	load_corpus("oracle-extra", &files, &all);
	load_corpus("testfiles-negative", &files, &all);
	assert_true(files.len > 50);
	tpg_strv_push(&env, "A=1");
	tpg_strv_push(&env, "B=x y");
	while ((double)(clock() - t0) / CLOCKS_PER_SEC < secs && iters < max_iters) {
		tpg_buf b = TPG_BUF_INIT;
		const char *src = files.items[rnd() % files.len];
		tpg_buf_puts(&b, src);
		tpg_buf_append(&b, "", 0);
		mutate(&b);
		tpg_dockerfile *df = NULL;
		tpg_err err = {0};
		if (tpg_dockerfile_parse(b.data, b.len, &df, NULL, &err) == 0) {
			tpg_buf d = TPG_BUF_INIT;
			tpg_df_stage *st = NULL;
			size_t ns = 0;
			ok++;
			tpg_dockerfile_dump(df, &d);
			tpg_buf_free(&d);
			if (tpg_dockerfile_stages(df, &env, &st, &ns, &err) == 0) {
				for (size_t s = 0; s < ns; s++) {
					(void)tpg_dockerfile_effective(df, st, ns, s, "user");
					(void)tpg_dockerfile_effective_cmd(df, st, ns, s);
				}
				tpg_df_stages_free(st, ns);
			}
			for (size_t i = 0; i < df->ninstrs && i < 8; i++) {
				tpg_strv w = TPG_STRV_INIT;
				char *o = NULL;
				tpg_shell_expand_words(df->instrs[i].original, df->escape, &env, &w, NULL);
				tpg_shell_expand_word(df->instrs[i].original, df->escape, &env, &o, NULL);
				tpg_strv_free(&w);
				free(o);
			}
			tpg_dockerfile_free(df);
		} else {
			assert_null(df);
			assert_true(err.msg[0] != '\0');
		}
		tpg_buf_free(&b);
		iters++;
	}
	print_message("fuzz: %ld inputs (%ld parsed) in %.2f s\n", iters, ok,
		      (double)(clock() - t0) / CLOCKS_PER_SEC);
	assert_true(iters > 100);
	tpg_strv_free(&files);
	tpg_strv_free(&env);
	tpg_buf_free(&all);
}

static void test_garbage(void **state)
{
	(void)state;
	for (int round = 0; round < 300; round++) {
		size_t n = (size_t)(rnd() % 4096);
		char *g = tpg_xmalloc(n + 1);
		for (size_t i = 0; i < n; i++)
			g[i] = (char)(rnd() % 255 + 1);  /* no NUL: parse it all */
		tpg_dockerfile *df = NULL;
		tpg_err err = {0};
		if (tpg_dockerfile_parse(g, n, &df, NULL, &err) == 0) {
			tpg_buf d = TPG_BUF_INIT;
			tpg_dockerfile_dump(df, &d);
			tpg_buf_free(&d);
			tpg_dockerfile_free(df);
		}
		g[n] = '\0';
		char *o = NULL;
		tpg_shell_expand_word(g, '\\', NULL, &o, NULL);
		free(o);
		free(g);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nul_and_utf16),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_crlf_bom),
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_many_lines),
		cmocka_unit_test(test_deep_onbuild),
		cmocka_unit_test(test_heredoc_edges),
		cmocka_unit_test(test_json_edges),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

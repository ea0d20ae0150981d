/* test_shellword.c - BuildKit's shell lexer: every line of envVarTest and
 * wordsTest (tests/data/buildkit-shell, read at run time; TPG_TEST_DATA
 * overrides tests/data), the cases of BuildKit's lex_test.go that live in Go
 * code (modifiers, patterns, mandatory variables), options, and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tpgrade/shellword.h"

static char *data_path(const char *rel)
{
	const char *base = getenv("TPG_TEST_DATA");
	return tpg_xasprintf("%s/%s", base && *base ? base : "tests/data", rel);
}

static char *slurp(const char *rel, size_t *len)
{
	char *path = data_path(rel);
	FILE *f = fopen(path, "rb");
	tpg_buf b = TPG_BUF_INIT;
	char chunk[4096];
	size_t n;

	if (!f)
		fail_msg("cannot open %s (run from the repository root or set TPG_TEST_DATA)", path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tpg_buf_append(&b, chunk, n);
	fclose(f);
	free(path);
	tpg_buf_append(&b, "", 0);
	if (len)
		*len = b.len;
	return tpg_buf_detach(&b);
}

/* Lines as Go's bufio.Scanner.Text gives them (no "\n", no final "\r"). */
static void split_lines(char *text, tpg_strv *lines)
{
	char *p = text;
	while (*p) {
		char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		if (l > 0 && p[l - 1] == '\r')
			l--;
		tpg_strv_push_owned(lines, tpg_xstrndup(p, l));
		if (!nl)
			break;
		p = nl + 1;
	}
}

static char *trim(const char *s)
{
	size_t b = 0, e = strlen(s);
	while (b < e && strchr(" \t\r\n\v\f", s[b]))
		b++;
	while (e > b && strchr(" \t\r\n\v\f", s[e - 1]))
		e--;
	return tpg_xstrndup(s + b, e - b);
}

static void split_on(const char *s, char sep, tpg_strv *out)
{
	const char *p = s;
	for (;;) {
		const char *q = strchr(p, sep);
		if (!q) {
			tpg_strv_push(out, p);
			return;
		}
		tpg_strv_push_owned(out, tpg_xstrndup(p, (size_t)(q - p)));
		p = q + 1;
	}
}

static void base_env(tpg_strv *env)
{
	tpg_strv_push(env, "PWD=/home");
	tpg_strv_push(env, "SHELL=bash");
	tpg_strv_push(env, "KOREAN=\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4");
	tpg_strv_push(env, "NULL=");
}

static void test_env_var_file(void **state)
{
	(void)state;
	char *text = slurp("buildkit-shell/envVarTest", NULL);
	tpg_strv lines = TPG_STRV_INIT, env = TPG_STRV_INIT;
	int failures = 0, checked = 0;

	base_env(&env);
	split_lines(text, &lines);
	for (size_t i = 0; i < lines.len; i++) {
		const char *raw = lines.items[i];
		tpg_strv f = TPG_STRV_INIT;
		if (raw[0] == '#')
			continue;
		char *t = trim(raw);
		if (!*t) {
			free(t);
			continue;
		}
		split_on(t, '|', &f);
		assert_int_equal(f.len, 3);
		char *plat = trim(f.items[0]), *src = trim(f.items[1]), *exp = trim(f.items[2]);
		assert_true(!strcmp(plat, "A") || !strcmp(plat, "U") || !strcmp(plat, "W"));
		if (strcmp(plat, "W") != 0) {
			char *out = NULL;
			tpg_err err = {0};
			int rc = tpg_shell_expand_word(src, '\\', &env, &out, &err);
			checked++;
			if (!strcmp(exp, "error")) {
				if (rc == 0) {
					print_error("line %zu: %s: expected an error, got '%s'\n", i + 1,
						    src, out);
					failures++;
				}
			} else if (rc != 0) {
				print_error("line %zu: %s: unexpected error %s\n", i + 1, src, err.msg);
				failures++;
			} else if (strcmp(out, exp) != 0) {
				print_error("line %zu: %s: expected '%s', got '%s'\n", i + 1, src, exp,
					    out);
				failures++;
			}
			free(out);
		}
		free(plat);
		free(src);
		free(exp);
		free(t);
		tpg_strv_free(&f);
	}
	print_message("envVarTest: %d cases checked\n", checked);
	assert_true(checked >= 200);
	assert_int_equal(failures, 0);
	tpg_strv_free(&lines);
	tpg_strv_free(&env);
	free(text);
}

static void test_words_file(void **state)
{
	(void)state;
	char *text = slurp("buildkit-shell/wordsTest", NULL);
	tpg_strv lines = TPG_STRV_INIT, env = TPG_STRV_INIT;
	int failures = 0, checked = 0;

	split_lines(text, &lines);
	for (size_t i = 0; i < lines.len; i++) {
		const char *line = lines.items[i];
		tpg_strv f = TPG_STRV_INIT, expect = TPG_STRV_INIT, got = TPG_STRV_INIT;
		tpg_err err = {0};
		if (line[0] == '#')
			continue;
		if (!strncmp(line, "ENV ", 4)) {
			const char *v = line + 3;
			while (*v == ' ')
				v++;
			tpg_strv_push(&env, v);
			continue;
		}
		split_on(line, '|', &f);
		assert_int_equal(f.len, 2);
		char *src = trim(f.items[0]);
		const char *e = f.items[1];
		while (*e == ' ')
			e++;
		split_on(e, ',', &expect);
		if (tpg_shell_expand_words(src, '\\', &env, &got, &err) != 0) {
			tpg_strv_free(&got);
			tpg_strv_push(&got, "error");
		}
		checked++;
		bool same = got.len == expect.len;
		for (size_t k = 0; same && k < got.len; k++)
			same = !strcmp(got.items[k], expect.items[k]);
		if (!same) {
			char *g = tpg_strv_join(&got, "|"), *x = tpg_strv_join(&expect, "|");
			print_error("line %zu: %s: expected [%s], got [%s]\n", i + 1, src, x, g);
			free(g);
			free(x);
			failures++;
		}
		free(src);
		tpg_strv_free(&f);
		tpg_strv_free(&expect);
		tpg_strv_free(&got);
	}
	print_message("wordsTest: %d cases checked\n", checked);
	assert_true(checked >= 20);
	assert_int_equal(failures, 0);
	tpg_strv_free(&lines);
	tpg_strv_free(&env);
	free(text);
}

/* ---- cases of lex_test.go kept in Go code ------------------------------- */

struct xcase {
	const char *input;
	const char *env[4];   /* "K=V", NULL-terminated */
	const char *expected; /* NULL: must fail */
};

static tpg_strv env_of(const char *const *kv)
{
	tpg_strv env = TPG_STRV_INIT;
	for (size_t i = 0; i < 4 && kv[i]; i++)
		tpg_strv_push(&env, kv[i]);
	return env;
}

static int run_cases(const struct xcase *c, size_t n)
{
	int failures = 0;
	for (size_t i = 0; i < n; i++) {
		tpg_strv env = env_of(c[i].env);
		char *out = NULL;
		tpg_err err = {0};
		int rc = tpg_shell_expand_word(c[i].input, '\\', &env, &out, &err);
		if (!c[i].expected && rc == 0) {
			print_error("%s: expected an error, got '%s'\n", c[i].input, out);
			failures++;
		} else if (c[i].expected && rc != 0) {
			print_error("%s: unexpected error: %s\n", c[i].input, err.msg);
			failures++;
		} else if (c[i].expected && strcmp(out, c[i].expected) != 0) {
			print_error("%s: expected '%s', got '%s'\n", c[i].input, c[i].expected, out);
			failures++;
		}
		free(out);
		tpg_strv_free(&env);
	}
	return failures;
}

static void test_modifiers(void **state)
{
	(void)state;
	static const struct xcase c[] = {
		{"x", {"DUMMY=dummy"}, "x"},
		{"x ${UNUSED}", {"DUMMY=dummy"}, "x "},
		{"x ${FOO}", {"FOO=y"}, "x y"},
		{"${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", {"FOO=xxx", "BAR="}, "xxx  ccc"},
		{"${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", {"FOO=xxx", "BAR="}, "xxx bbb ccc"},
		{"${FOO:-}", {"FOO=xxx", "BAR="}, "xxx"},
		{"${FOO:-}", {NULL}, ""},
		{"${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", {"FOO=xxx", "BAR="}, "aaa bbb "},
		{"${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", {"FOO=xxx", "BAR="}, "aaa  "},
		{"${FOO?aaa}", {"FOO=xxx", "BAR="}, "xxx"},
		{"${BAR?bbb}", {"FOO=xxx", "BAR="}, ""},
		{"${BAZ?ccc}", {"FOO=xxx", "BAR="}, NULL},
		{"${FOO:?aaa}", {"FOO=xxx", "BAR="}, "xxx"},
		{"${BAR:?bbb}", {"FOO=xxx", "BAR="}, NULL},
		{"${BAZ:?ccc}", {"FOO=xxx", "BAR="}, NULL},
		{"${BAZ:?}", {"FOO=xxx", "BAR="}, NULL},
		{"${FOO=aaa}", {"FOO=xxx", "BAR="}, NULL},
		{"${FOO=:aaa}", {"FOO=xxx", "BAR="}, NULL},
		{"${FOO=}", {NULL}, NULL},
		{"${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO=()[]{}^$.*?|\\x"}, "x"},
		{"${FOO%%\\**}", {"FOO=xx**"}, "xx"},
		{"${FOO#*x*y}", {"FOO=xxyy"}, "y"},
		{"${FOO#*}", {"FOO=xxyy"}, "xxyy"},
		{"${FOO#$BAR}", {"FOO=xxyy", "BAR=x"}, "xyy"},
		{"${FOO#$BAR}", {"FOO=xxyy", "BAR="}, "xxyy"},
		{"${FOO#}", {"FOO=xxyy"}, "xxyy"},
		{"${FOO##*x}", {"FOO=xxyy"}, "yy"},
		{"${FOO##}", {"FOO=xxyy"}, "xxyy"},
		{"${FOO#?\\?}", {"FOO=???y"}, "?y"},
		{"${ABC:-.}${FOO%x}${ABC:-.}", {"FOO=xxyy"}, ".xxyy."},
		{"${FOO%%\\**\\*}", {"FOO=a***yy*"}, "a"},
		{"${FOO%}", {"FOO=xxyy"}, "xxyy"},
		{"${FOO%%$BAR}", {"FOO=xxyy", "BAR="}, "xxyy"},
		{"${FOO:#}", {NULL}, NULL},
		{"${FOO:##}", {NULL}, NULL},
		{"${FOO:%}", {NULL}, NULL},
		{"${FOO:%%}", {NULL}, NULL},
		{"${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", {"FOO=/foo*/*/*.txt", "NEEDLE=\\*/"},
		 "/foo.*/*.txt - /foo..*.txt"},
		{"${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", {"FOO=/tmp/tmp/bar.txt", "NEEDLE=/tmp"},
		 "/tmp/bar.txt - /bar.txt"},
		{"${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
		 {"FOO=/a/foo/b/c.txt", "NEEDLE=/?/", "REPLACEMENT=/"}, "/foo/b/c.txt - /foo/c.txt"},
		{"${FOO/$NEEDLE/$REPLACEMENT}",
		 {"FOO=http://google.de", "NEEDLE=http://", "REPLACEMENT=https://"},
		 "https://google.de"},
		{"${FOO//\\//\\/}", {"FOO=/tmp/foo.txt"}, "\\/tmp\\/foo.txt"},
		{"${FOO/$BAR/ww}", {"FOO=xxyy", "BAR="}, "wwxxyy"},
		{"${FOO//ww}", {"FOO=xxyy"}, NULL},
		{"${FOO//}", {"FOO=xxyy"}, NULL},
		{"${FOO///}", {"FOO=xxyy"}, "xxyy"},
		{"${FOO///}", {NULL}, ""},
		/* TestProcessWithMatchesPlatform */
		{"something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz",
		 {"VERSION=v1.2.3", "TARGETOS=linux", "TARGETARCH=arm", "TARGETVARIANT=v7"},
		 "something-v1.2.3.linux-arm-v7.tar.gz"},
		{"something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz",
		 {"VERSION=v1.2.3", "TARGETOS=linux", "TARGETARCH=arm64"},
		 "something-v1.2.3.linux-arm64.tar.gz"},
		/* TestGetEnv: a later entry wins, "foo" alone is set and empty */
		{"$car", {"foo=bar", "car=hat", "car=bike"}, "bike"},
		{"${foo?}", {"foo"}, ""},
		/* our own: Go regexp details */
		/* $0 in the word is a (never set) positional parameter, but a
		 * replacement that still holds $0 or $$ goes through Go's
		 * Regexp.ReplaceAllString template expansion */
		{"${F//a/[$0]}", {"F=banana"}, "b[]n[]n[]"},
		{"${F//a/$R}", {"F=banana", "R=[$0]"}, "b[a]n[a]n[a]"},
		{"${F//a/$R}", {"F=banana", "R=$$"}, "b$n$n$"},
		{"${F//a/$R}", {"F=banana", "R=$x${0}$"}, "ba$na$na$"},
		{"${F/a/$R}", {"F=banana", "R=$0"}, "b$0nana"},
		{"${F//?/-}", {"F=a\nb"}, "-\n-"},
		{"${F%%.*}", {"F=archive.tar.gz"}, "archive"},
		{"${F%.*}", {"F=archive.tar.gz"}, "archive.tar"},
		{"${F##*/}", {"F=/usr/local/bin/tool"}, "tool"},
		{"${F#*/}", {"F=/usr/local/bin/tool"}, "usr/local/bin/tool"},
		{"${F#\\x}", {"F=x"}, NULL},
		{"${F#\\}", {"F=x"}, NULL},
	};
	assert_int_equal(run_cases(c, TPG_ARRAY_LEN(c)), 0);
}

static void test_mandatory(void **state)
{
	(void)state;
	tpg_strv set = TPG_STRV_INIT, empty = TPG_STRV_INIT, unset = TPG_STRV_INIT;
	char *out = NULL;
	tpg_err err = {0};

	tpg_strv_push(&set, "VAR=plain");
	tpg_strv_push(&set, "ARG=x");
	tpg_strv_push(&empty, "VAR=");
	tpg_strv_push(&empty, "ARG=x");
	tpg_strv_push(&unset, "ARG=x");

	assert_int_equal(tpg_shell_expand_word("${VAR:?message here$ARG}", '\\', &set, &out, &err), 0);
	assert_string_equal(out, "plain");
	free(out);
	assert_int_equal(tpg_shell_expand_word("${VAR:?message here$ARG}", '\\', &empty, &out, &err),
			 TPG_EPARSE);
	assert_non_null(strstr(err.msg, "message herex"));
	assert_null(out);
	assert_int_not_equal(tpg_shell_expand_word("${VAR:?message here$ARG}", '\\', &unset, &out, &err), 0);
	assert_non_null(strstr(err.msg, "message herex"));
	assert_int_equal(tpg_shell_expand_word("${VAR?message here$ARG}", '\\', &set, &out, &err), 0);
	assert_string_equal(out, "plain");
	free(out);
	assert_int_equal(tpg_shell_expand_word("${VAR?message here$ARG}", '\\', &empty, &out, &err), 0);
	assert_string_equal(out, "");
	free(out);
	assert_int_not_equal(tpg_shell_expand_word("${VAR?message here$ARG}", '\\', &unset, &out, &err), 0);
	assert_string_equal(err.msg, "failed to process \"${VAR?message here$ARG}\": VAR: message herex");
	assert_int_not_equal(tpg_shell_expand_word("${VAR?}", '\\', &unset, &out, &err), 0);
	assert_string_equal(err.msg, "failed to process \"${VAR?}\": VAR: is not allowed to be unset");
	tpg_strv_free(&set);
	tpg_strv_free(&empty);
	tpg_strv_free(&unset);
}

static void test_error_messages(void **state)
{
	(void)state;
	static const struct {
		const char *in, *msg;
	} c[] = {
		{"${}", "failed to process \"${}\": syntax error: bad substitution"},
		{"${", "failed to process \"${\": syntax error: missing '}'"},
		{"${a:-b", "failed to process \"${a:-b\": syntax error: missing '}'"},
		{"${a:-'b}", "failed to process \"${a:-'b}\": syntax error: missing '}'"},
		{"${a:x}", "failed to process \"${a:x}\": unsupported modifier (:x) in substitution"},
		{"${a:#}", "failed to process \"${a:#}\": unsupported modifier (:#) in substitution"},
		{"${a/b", "failed to process \"${a/b\": syntax error: missing '/' in ${}"},
		{"'a", "failed to process \"'a\": unexpected end of statement while looking for matching single-quote"},
		{"\"a", "failed to process \"\\\"a\": unexpected end of statement while looking for matching double-quote"},
		{"${a#\\x}", "failed to process \"${a#\\\\x}\": invalid pattern (\\x) in substitution: invalid escape '\\x'"},
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(c); i++) {
		tpg_strv env = TPG_STRV_INIT;
		char *out = NULL;
		tpg_err err = {0};
		tpg_strv_push(&env, "a=1");
		assert_int_equal(tpg_shell_expand_word(c[i].in, '\\', &env, &out, &err), TPG_EPARSE);
		assert_string_equal(err.msg, c[i].msg);
		tpg_strv_free(&env);
	}
}

static void test_backtick_escape(void **state)
{
	(void)state;
	tpg_strv env = TPG_STRV_INIT, words = TPG_STRV_INIT;
	char *out = NULL;

	tpg_strv_push(&env, "A=1");
	assert_int_equal(tpg_shell_expand_word("C:\\dir\\$A `$A \"`\"\"", '`', &env, &out, NULL), 0);
	assert_string_equal(out, "C:\\dir\\1 $A \"");
	free(out);
	assert_int_equal(tpg_shell_expand_words("a` b c", '`', &env, &words, NULL), 0);
	assert_int_equal(words.len, 2);
	assert_string_equal(words.items[0], "a b");
	assert_string_equal(words.items[1], "c");
	tpg_strv_free(&words);
	tpg_strv_free(&env);
}

static void test_options(void **state)
{
	(void)state;
	tpg_shell_opts o = {0};
	tpg_strv words = TPG_STRV_INIT, unmatched = TPG_STRV_INIT, env = TPG_STRV_INIT;
	char *out = NULL;

	/* as heredocsFromLine lexes a line */
	o.raw_quotes = o.raw_escapes = o.skip_unset_env = true;
	assert_int_equal(tpg_shell_process("RUN <<'EOF' \\\"x $U ${V:-a}", &o, NULL, &out, &words,
					   NULL, NULL), 0);
	assert_string_equal(out, "RUN <<'EOF' \\\"x $U ${V:-a}");
	assert_int_equal(words.len, 5);
	assert_string_equal(words.items[1], "<<'EOF'");
	assert_string_equal(words.items[2], "\\\"x");
	free(out);
	tpg_strv_free(&words);

	/* `<<` keeps the blanks after it in its word */
	assert_int_equal(tpg_shell_expand_words("cat <<  EOF x", '\\', NULL, &words, NULL), 0);
	assert_int_equal(words.len, 3);
	assert_string_equal(words.items[1], "<<  EOF");
	tpg_strv_free(&words);

	/* heredoc bodies: quotes are not special */
	memset(&o, 0, sizeof(o));
	o.skip_quotes = true;
	tpg_strv_push(&env, "N=me");
	assert_int_equal(tpg_shell_process("echo '$N' \"$N\"", &o, &env, &out, NULL, &unmatched,
					   NULL), 0);
	assert_string_equal(out, "echo 'me' \"me\"");
	free(out);

	/* unmatched names, each once */
	memset(&o, 0, sizeof(o));
	assert_int_equal(tpg_shell_process("$X ${Y:-$X} $N", &o, &env, &out, NULL, &unmatched, NULL), 0);
	assert_string_equal(out, "  me");
	assert_int_equal(unmatched.len, 2);
	assert_true(tpg_strv_contains(&unmatched, "X"));
	assert_true(tpg_strv_contains(&unmatched, "Y"));
	free(out);
	tpg_strv_free(&unmatched);
	tpg_strv_free(&env);
}

static void test_unicode_and_bytes(void **state)
{
	(void)state;
	tpg_strv env = TPG_STRV_INIT, words = TPG_STRV_INIT;
	char *out = NULL;

	/* invalid UTF-8 in the word comes out as U+FFFD, a leading BOM goes */
	assert_int_equal(tpg_shell_expand_word("a\xff" "b", '\\', NULL, &out, NULL), 0);
	assert_string_equal(out, "a\xef\xbf\xbd" "b");
	free(out);
	assert_int_equal(tpg_shell_expand_word("\xef\xbb\xbfx", '\\', NULL, &out, NULL), 0);
	assert_string_equal(out, "x");
	free(out);
	/* names are Unicode letters; NBSP splits words */
	tpg_strv_push(&env, "\xc3\xa9t\xc3\xa9=summer");
	assert_int_equal(tpg_shell_expand_word("$\xc3\xa9t\xc3\xa9!", '\\', &env, &out, NULL), 0);
	assert_string_equal(out, "summer!");
	free(out);
	assert_int_equal(tpg_shell_expand_words("a\xc2\xa0" "b", '\\', NULL, &words, NULL), 0);
	assert_int_equal(words.len, 2);
	tpg_strv_free(&words);
	tpg_strv_free(&env);
}

static void test_shared_words_buffer(void **state)
{
	(void)state;
	tpg_strv words = TPG_STRV_INIT;

	/* BuildKit's ProcessWords drops what precedes a ${v:-w} in a word
	 * (its words buffer is shared with the nested scan); ProcessWord keeps it. */
	assert_int_equal(tpg_shell_expand_words("ab${X:-c}d e", '\\', NULL, &words, NULL), 0);
	assert_int_equal(words.len, 2);
	assert_string_equal(words.items[0], "cd");
	assert_string_equal(words.items[1], "e");
	tpg_strv_free(&words);
}

static void test_limits(void **state)
{
	(void)state;
	tpg_strv env = TPG_STRV_INIT;
	char *big = tpg_xmalloc(600 * 1024 + 3);
	char *out = NULL;
	tpg_err err = {0};
	tpg_buf in = TPG_BUF_INIT;

	memset(big, 'x', 600 * 1024);
	memcpy(big, "B=", 2);
	big[600 * 1024] = '\0';
	tpg_strv_push_owned(&env, big);
	/* two copies of 600 KiB exceed the 1 MiB cap */
	assert_int_equal(tpg_shell_expand_word("$B$B", '\\', &env, &out, &err), TPG_ETOOBIG);
	assert_null(out);
	assert_int_equal(tpg_shell_expand_word("$B", '\\', &env, &out, &err), 0);
	assert_int_equal(strlen(out), 600 * 1024 - 2);
	free(out);

	/* deep nesting fails cleanly */
	for (int i = 0; i < 5000; i++)
		tpg_buf_puts(&in, "${a:-");
	for (int i = 0; i < 5000; i++)
		tpg_buf_puts(&in, "}");
	assert_int_equal(tpg_shell_expand_word(tpg_buf_cstr(&in), '\\', NULL, &out, &err), TPG_EPARSE);
	tpg_buf_clear(&in);

	/* a pathological pattern stays bounded */
	tpg_buf_puts(&in, "${B//");
	for (int i = 0; i < 2000; i++)
		tpg_buf_puts(&in, "*x");
	tpg_buf_puts(&in, "/y}");
	int rc = tpg_shell_expand_word(tpg_buf_cstr(&in), '\\', &env, &out, &err);
	assert_true(rc == TPG_ETOOBIG || rc == 0);
	free(out);
	tpg_buf_free(&in);
	tpg_strv_free(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_var_file),
		cmocka_unit_test(test_words_file),
		cmocka_unit_test(test_modifiers),
		cmocka_unit_test(test_mandatory),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_backtick_escape),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_unicode_and_bytes),
		cmocka_unit_test(test_shared_words_buffer),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

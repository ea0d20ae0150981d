/* test_glob.c - glob patterns against Docker's .dockerignore semantics.
 *
 * The tables mirror the cases moby/patternmatcher checks (MatchesExact)
 * and the filepath.Match cases it borrows from Go, plus our own additions
 * (classes never match '/', NOCASE, names that are not UTF-8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tpgrade/glob.h"

struct mcase {
	const char *pattern;
	const char *path;
	bool match;
};

static bool glob_matches(const char *pattern, int flags, const char *path)
{
	tpg_glob *g = NULL;
	tpg_err err = {0};
	int rc = tpg_glob_compile(pattern, flags, &g, &err);
	if (rc != 0) {
		fail_msg("pattern '%s' does not compile: %s", pattern, err.msg);
		return false;
	}
	bool m = tpg_glob_match(g, path);
	tpg_glob_free(g);
	return m;
}

static void run_table(const struct mcase *cases, size_t n, int flags)
{
	int failures = 0;
	for (size_t i = 0; i < n; i++) {
		bool got = glob_matches(cases[i].pattern, flags, cases[i].path);
		if (got != cases[i].match) {
			print_error("pattern '%s' path '%s': expected %s, got %s\n",
			            cases[i].pattern, cases[i].path,
			            cases[i].match ? "match" : "no match",
			            got ? "match" : "no match");
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

#define RUN(t, flags) run_table((t), TPG_ARRAY_LEN(t), (flags))

static void test_star_question_literal(void **state)
{
	(void)state;
	static const struct mcase t[] = {
		{"*", "fileutils.go", true},
		{"*", "a/b", false},
		{"*", "", true},
		{"*.go", "fileutils.go", true},
		{"*.go", "dir/fileutils.go", false},
		{"*c", "abc", true},
		{"a*", "a", true},
		{"a*", "ab/c", false},
		{"a*/b", "abc/b", true},
		{"a*/b", "a/c/b", false},
		{"a*b*c*d*e*/f", "axbxcxdxe/f", true},
		{"a*b*c*d*e*/f", "axbxcxdxexxx/f", true},
		{"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false},
		{"a*b*c*d*e*/f", "axbxcxdxexxx/fff", false},
		{"a*b?c*x", "abxbbxdbxebxczzx", true},
		{"a*b?c*x", "abxbbxdbxebxczzy", false},
		{"*x", "xxx", true},
		{"abc?def", "abcZdef", true},
		{"abc?def", "abcdef", false},
		{"a?b", "a/b", false},
		{"a*b", "a/b", false},
		{"a?b", "a\xe2\x98\xba" "b", true},     /* one rune, not one byte */
		{"a???b", "a\xe2\x98\xba" "b", false},
		{".*", ".foo", true},
		{".*", "foo", false},
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"abc.def", "abcdef", false},
		{"abc.def", "abcZdef", false},
		{"abc.def", "abc.def", true},
		{"a(b)c/def", "a(b)c/def", true},
		{"a(b)c/def", "a(b)c/xyz", false},
		{"a.|)$(}+{bc", "a.|)$(}+{bc", true},
		{"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
		 "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
		{"dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
		{"Dockerfile", "dockerfile", false},
		{"a/*.txt", "a/dir/file.txt", false},
		{"a/*.txt", "a/file.txt", true},
	};
	RUN(t, 0);
}

static void test_classes(void **state)
{
	(void)state;
	static const struct mcase t[] = {
		{"ab[c]", "abc", true},
		{"ab[b-d]", "abc", true},
		{"ab[e-g]", "abc", false},
		{"ab[^c]", "abc", false},
		{"ab[^b-d]", "abc", false},
		{"ab[^e-g]", "abc", true},
		{"ab[!e-g]", "abc", true},           /* glob.h: [!...] negates too */
		{"ab[!c]", "abc", false},
		{"a[b-d]e", "ae", false},
		{"a[b-d]e", "ace", true},
		{"a[b-d]e", "aae", false},
		{"a[^b-d]e", "aze", true},
		{"a[^a]b", "a\xe2\x98\xba" "b", true},
		{"a[^a][^a][^a]b", "a\xe2\x98\xba" "b", false},
		{"[a-\xce\xb6]*", "\xce\xb1", true},  /* [a-zeta] holds alpha */
		{"*[a-\xce\xb6]", "A", false},
		{"[\\]a]", "]", true},
		{"[\\-]", "-", true},
		{"[x\\-]", "x", true},
		{"[x\\-]", "-", true},
		{"[x\\-]", "z", false},
		{"[\\-x]", "x", true},
		{"[\\-x]", "-", true},
		{"[\\-x]", "a", false},
		{"[[]", "[", true},
		{"[\\\\]", "\\", true},
		/* Classes never match the separator, negated or not. */
		{"a[^x]b", "a/b", false},
		{"a[/]b", "a/b", false},
		{"a[!x]b", "a/b", false},
		/* Class metacharacters of PCRE stay literal. */
		{"[a^]", "^", true},
		{"[.]", "x", false},
		{"[.]", ".", true},
	};
	RUN(t, 0);
}

static void test_bad_patterns(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc",
		"a[", "[^]", "[^]x]", "[z-a]", "x\\", "[\\", "[a\\",
		"ok/[Local-Only]/",    /* unclosed after cleaning drops the '/' */
		"\xff",                /* patterns must be UTF-8 */
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(bad); i++) {
		tpg_glob *g = (tpg_glob *)(uintptr_t)1;
		tpg_err err = {0};
		int rc = tpg_glob_compile(bad[i], 0, &g, &err);
		if (rc != TPG_EINVAL)
			print_error("pattern '%s' compiled (rc %d)\n", bad[i], rc);
		assert_int_equal(rc, TPG_EINVAL);
		assert_null(g);
		assert_int_equal(err.code, TPG_EINVAL);
		assert_non_null(strstr(err.msg, "invalid pattern"));
	}
	/* The message names the pattern and says what is wrong. */
	tpg_glob *g = NULL;
	tpg_err err = {0};
	assert_int_equal(tpg_glob_compile("src/[abc", 0, &g, &err), TPG_EINVAL);
	assert_non_null(strstr(err.msg, "'src/[abc'"));
	assert_non_null(strstr(err.msg, "class"));
	assert_int_equal(tpg_glob_compile("src\\", 0, &g, NULL), TPG_EINVAL);
}

static void test_doublestar(void **state)
{
	(void)state;
	static const struct mcase t[] = {
		/* moby/patternmatcher TestMatches, MatchesExact column */
		{"**", "file", true},
		{"**", "file/", true},
		{"**/", "file", true},
		{"**/", "file/", true},
		{"**", "/", true},
		{"**/", "/", true},
		{"**", "dir/file", true},
		{"**/", "dir/file", true},
		{"**", "dir/file/", true},
		{"**/", "dir/file/", true},
		{"**/**", "dir/file", true},
		{"**/**", "dir/file/", true},
		{"dir/**", "dir/file", true},
		{"dir/**", "dir/file/", true},
		{"dir/**", "dir/dir2/file", true},
		{"dir/**", "dir/dir2/file/", true},
		{"**/dir", "dir", true},
		{"**/dir", "dir/file", false},
		{"**/dir2/*", "dir/dir2/file", true},
		{"**/dir2/*", "dir/dir2/file/", false},
		{"**/dir2/**", "dir/dir2/dir3/file", true},
		{"**/dir2/**", "dir/dir2/dir3/file/", true},
		{"**file", "file", true},
		{"**file", "dir/file", true},
		{"**/file", "dir/file", true},
		{"**file", "dir/dir/file", true},
		{"**/file", "dir/dir/file", true},
		{"**/file*", "dir/dir/file", true},
		{"**/file*", "dir/dir/file.txt", true},
		{"**/file*txt", "dir/dir/file.txt", true},
		{"**/file*.txt", "dir/dir/file.txt", true},
		{"**/file*.txt*", "dir/dir/file.txt", true},
		{"**/**/*.txt", "dir/dir/file.txt", true},
		{"**/**/*.txt2", "dir/dir/file.txt", false},
		{"**/*.txt", "file.txt", true},
		{"**/**/*.txt", "file.txt", true},
		{"a**/*.txt", "a/file.txt", true},
		{"a**/*.txt", "a/dir/file.txt", true},
		{"a**/*.txt", "a/dir/dir/file.txt", true},
		{"a/*.txt**", "a/file.txt", true},
		{"**/foo/bar", "foo/bar", true},
		{"**/foo/bar", "dir/foo/bar", true},
		{"**/foo/bar", "dir/dir2/foo/bar", true},
		{"abc/**", "abc", false},
		{"abc/**", "abc/def", true},
		{"abc/**", "abc/def/ghi", true},
		{"**/.foo", ".foo", true},
		{"**/.foo", "bar.foo", false},
		/* Consequences of the same translation, spelled out. */
		{"**", "", true},
		{"**/*.go", "main.go", true},
		{"**/*.go", "cmd/app/main.go", true},
		{"**/*.go", "main.go/x", false},
		{"**/*.go", "cmd/main.gox", false},
		{"dir/**/file", "dir/file", true},
		{"dir/**/file", "dir/a/file", true},
		{"dir/**/file", "dir/a/b/file", true},
		{"dir/**/file", "dirx/file", false},
		{"dir/**/file", "dir/afile", false},
		{"dir/**/file", "file", false},
		{"**file", "myfile", true},          /* a suffix test, as in Docker */
		{"**/file", "myfile", false},
		{"**/foo/bar", "xfoo/bar", false},
		{"a/**b", "a/b", true},              /* mid-pattern: any run of whole components */
		{"a/**b", "a/x/y/b", true},
		{"a/**b", "a/xb", false},
		{"a**", "abc/def", true},
		{"***", "a/b/c", true},
		{"cowsay/**", "cowsay/Dockerfile", true},
		{"cowsay/**", "cowsay", false},
		{"cowsay/**", "other/Dockerfile", false},
	};
	RUN(t, 0);
}

static void test_escapes(void **state)
{
	(void)state;
	static const struct mcase t[] = {
		{"a\\*b", "a*b", true},
		{"a\\*b", "ab", false},
		{"a\\*b", "axb", false},
		{"a\\\\", "a\\", true},
		{"a\\?", "a?", true},
		{"a\\?", "ab", false},
		{"\\[x]", "[x]", true},
		{"\\*\\*/x", "**/x", true},
		{"\\*\\*/x", "a/x", false},
		{"a\\b", "ab", true},                /* escaping a plain char is harmless */
		{"\\\xce\xb1", "\xce\xb1", true},    /* escaping a multi-byte char */
	};
	RUN(t, 0);
}

static void test_nocase(void **state)
{
	(void)state;
	static const struct mcase t[] = {
		{"Dockerfile", "dockerfile", true},
		{"Dockerfile", "DOCKERFILE", true},
		{"**/dockerfile", "cowsay/DockerFile", true},
		{"*.YML", "compose.yml", true},
		{"[a-c]x", "Bx", true},
		{"[^a-c]x", "Bx", false},
		{"Dockerfile", "Dockerfile2", false},
	};
	RUN(t, TPG_GLOB_NOCASE);
	assert_false(glob_matches("Dockerfile", 0, "dockerfile"));
}

static void test_cleaning(void **state)
{
	(void)state;
	static const struct mcase t[] = {
		{"./a//b/", "a/b", true},
		{"/a/b", "a/b", true},               /* a leading "/" is dropped */
		{"a/./b", "a/b", true},
		{"a/x/../b", "a/b", true},
		{"/../a", "a", true},                /* ".." at the root stays there */
		{"../a", "a", false},                /* Docker: never matches */
		{"a/../../a", "a", false},
		{"../*", "x", false},
		{"../**", "x", false},
	};
	RUN(t, 0);

	tpg_glob *g = NULL;
	assert_int_equal(tpg_glob_compile("./src//*.c/", 0, &g, NULL), 0);
	assert_string_equal(tpg_glob_pattern(g), "src/*.c");
	tpg_glob_free(g);
	tpg_glob_free(NULL);
}

static void test_literal(void **state)
{
	(void)state;
	static const struct {
		const char *pattern;
		bool literal;
	} t[] = {
		{"Dockerfile", true},
		{"cowsay/Dockerfile", true},
		{"a.|)$(}+{bc", true},
		{"*.go", false},
		{"a?", false},
		{"[ab]", false},
		{"a/**", false},
		{"**", false},
		{"a\\*b", false},   /* the text is not the path it names */
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(t); i++) {
		tpg_glob *g = NULL;
		assert_int_equal(tpg_glob_compile(t[i].pattern, 0, &g, NULL), 0);
		if (tpg_glob_is_literal(g) != t[i].literal)
			print_error("pattern '%s'\n", t[i].pattern);
		assert_int_equal(tpg_glob_is_literal(g), t[i].literal);
		tpg_glob_free(g);
	}
}

static void test_hostile_names(void **state)
{
	(void)state;
	static const struct mcase t[] = {
		{"*", "bad\xff" "name", true},       /* invalid UTF-8 is still a name */
		{"bad?name", "bad\xff" "name", true},
		{"bad??name", "bad\xff" "name", false},
		{"**/*.txt", "d\xc3/x\xfe\xff.txt", true},
		{"bad*", "bad\xc3\x28", true},       /* truncated sequence */
		{"*", "new\nline", true},
		{"new?line", "new\nline", true},
		{"**", "a\n/b\n", true},
		{"*.txt", "a\n.txt", true},
		{"a", "a\n", false},                  /* '$' must not match before "\n" */
		{"*", "\xed\xa0\x80", true},          /* an encoded surrogate */
		{"?", "\xf4\x90\x80\x80", false},     /* past U+10FFFF: 4 stray bytes */
		{"????", "\xf4\x90\x80\x80", true},
		{"\xef\xbf\xbf", "\xef\xbf\xbf", true},
	};
	RUN(t, 0);
	RUN(t, TPG_GLOB_NOCASE);
}

static void test_path_clean(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		const char *out;
		bool escapes;
	} t[] = {
		{"", ".", false},
		{".", ".", false},
		{"./", ".", false},
		{"/", ".", false},
		{"a", "a", false},
		{"a/", "a", false},
		{"//a//b//", "a/b", false},
		{"./a/./b/.", "a/b", false},
		{"a/b/..", "a", false},
		{"a/b/../..", ".", false},
		{"a/../b", "b", false},
		{"..", ".", true},
		{"../a", "a", true},
		{"a/../../b", "b", true},
		{"/../a", "a", true},
		{"a/..b/c", "a/..b/c", false},
		{"...", "...", false},
		{"a/.../b", "a/.../b", false},
		{".hidden/./x", ".hidden/x", false},
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(t); i++) {
		bool esc = !t[i].escapes;
		char *out = tpg_path_clean(t[i].in, &esc);
		if (strcmp(out, t[i].out) != 0 || esc != t[i].escapes)
			print_error("clean('%s') = '%s' (escapes %d)\n", t[i].in, out, esc);
		assert_string_equal(out, t[i].out);
		assert_int_equal(esc, t[i].escapes);
		free(out);
	}
	char *out = tpg_path_clean("../x", NULL);
	assert_string_equal(out, "x");
	free(out);
}

/* Pathological patterns must not blow up the matcher (PCRE backtracking on
 * "a*a*a*...b" against a long run of a's). */
static void test_no_catastrophic_backtracking(void **state)
{
	(void)state;
	char pattern[200], path[4096];
	size_t n = 0;
	for (int i = 0; i < 30; i++) {
		pattern[n++] = 'a';
		pattern[n++] = '*';
	}
	pattern[n++] = 'b';
	pattern[n] = '\0';
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';

	tpg_glob *g = NULL;
	assert_int_equal(tpg_glob_compile(pattern, 0, &g, NULL), 0);
	assert_false(tpg_glob_match(g, path));   /* returns (hits PCRE's limits at worst) */
	tpg_glob_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_star_question_literal),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_bad_patterns),
		cmocka_unit_test(test_doublestar),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_nocase),
		cmocka_unit_test(test_cleaning),
		cmocka_unit_test(test_literal),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_path_clean),
		cmocka_unit_test(test_no_catastrophic_backtracking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

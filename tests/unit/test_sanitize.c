/* test_sanitize.c - UTF-8 repair, terminal text, XML escaping, cuts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tpgrade/common.h"
#include "tpgrade/sanitize.h"

#define S(lit) (lit), (sizeof(lit) - 1)
#define FFFD "\xEF\xBF\xBD"

static void expect_utf8(const char *in, size_t len, const char *want)
{
	char *got = tpg_sanitize_utf8(in, len);
	assert_string_equal(got, want);
	assert_true(tpg_sanitize_is_utf8(got, strlen(got)));
	free(got);
}

static void test_utf8_valid_unchanged(void **state)
{
	(void)state;
	expect_utf8(S("plain ascii"), "plain ascii");
	expect_utf8(S("é à ç — 中文 😀"), "é à ç — 中文 😀");
	expect_utf8(S(FFFD), FFFD);   /* a real U+FFFD is valid */
	assert_true(tpg_sanitize_is_utf8(S("é — 😀")));
	assert_true(tpg_sanitize_is_utf8(NULL, 0));
	assert_null(tpg_sanitize_utf8(NULL, 3));
}

static void test_utf8_invalid_replaced(void **state)
{
	(void)state;
	expect_utf8(S("a\xFF" "b"), "a" FFFD "b");
	expect_utf8(S("\x80"), FFFD);                       /* stray continuation */
	expect_utf8(S("\xC0\xAF"), FFFD FFFD);              /* overlong '/' */
	expect_utf8(S("\xE0\x80\xAF"), FFFD FFFD FFFD);     /* overlong 3-byte */
	expect_utf8(S("\xED\xA0\x80"), FFFD FFFD FFFD);     /* surrogate D800 */
	expect_utf8(S("\xF4\x90\x80\x80"), FFFD FFFD FFFD FFFD); /* > U+10FFFF */
	expect_utf8(S("\xF5"), FFFD);
	expect_utf8(S("\xE2\x82"), FFFD);                   /* truncated € */
	expect_utf8(S("\xE2\x82" "x"), FFFD "x");           /* maximal subpart */
	expect_utf8(S("\xF0\x9F\x98"), FFFD);
	expect_utf8(S("a\0b"), "a" FFFD "b");               /* NUL */
	assert_false(tpg_sanitize_is_utf8(S("a\0b")));
	assert_false(tpg_sanitize_is_utf8(S("\xC3")));
	assert_false(tpg_sanitize_is_utf8(S("\xEF\xBF")));
}

static void test_utf8_random_bytes_always_valid(void **state)
{
	(void)state;
	unsigned seed = 12345;
	for (int round = 0; round < 2000; round++) {
		char in[64];
		size_t n = (size_t)(round % 64);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (char)(seed >> 16);
		}
		char *u = tpg_sanitize_utf8(in, n);
		char *t = tpg_sanitize_term(in, n);
		char *x = tpg_sanitize_xml(in, n, round & 1);
		assert_true(tpg_sanitize_is_utf8(u, strlen(u)));
		assert_true(tpg_sanitize_is_utf8(t, strlen(t)));
		assert_true(tpg_sanitize_is_utf8(x, strlen(x)));
		for (const char *p = t; *p; p++)
			assert_true((unsigned char)*p >= 0x20 || *p == '\n' || *p == '\t');
		free(u);
		free(t);
		free(x);
	}
}

/* tpg_utf8_encode and tpg_utf8_len are inverses at every length boundary. */
static void test_utf8_encode_round_trip(void **state)
{
	static const uint32_t cps[] = { 0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD,
	                                0xFFFF, 0x10000, 0x10FFFF };
	(void)state;
	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		char b[4];
		uint32_t back = 0xFFFFFFFF;
		size_t n = tpg_utf8_encode(cps[i], b);
		assert_int_equal(n, cps[i] < 0x80 ? 1 : cps[i] < 0x800 ? 2 : cps[i] < 0x10000 ? 3 : 4);
		assert_int_equal(tpg_utf8_len(b, n, &back), n);
		assert_int_equal(back, cps[i]);
	}
	assert_int_equal(tpg_utf8_len(S("\xEF\xBF\xBD"), NULL), 3);   /* a real U+FFFD */
	assert_int_equal(tpg_utf8_len(S("\xC0\xAF"), NULL), 0);
	assert_true(tpg_sanitize_is_invisible(0x061C));
	assert_true(tpg_sanitize_is_invisible(0x9B));
	assert_false(tpg_sanitize_is_invisible(0x200B));
}

static void expect_term(const char *in, size_t len, const char *want)
{
	char *got = tpg_sanitize_term(in, len);
	assert_string_equal(got, want);
	free(got);
}

static void test_term_controls_visible(void **state)
{
	(void)state;
	expect_term(S("\033[31mred\033[0m"), "^[[31mred^[[0m");
	expect_term(S("line1\nline2\tcol"), "line1\nline2\tcol");
	expect_term(S("crlf\r\nnext"), "crlf\nnext");
	expect_term(S("over\rwrite"), "over^Mwrite");
	expect_term(S("bell\a nul\0 del\x7f"), "bell^G nul^@ del^?");
	expect_term(S("\033]0;title\a"), "^[]0;title^G");
	expect_term(S("csi\xC2\x9B" "2J"), "csi<U+009B>2J");              /* C1 CSI */
	expect_term(S("abc\xE2\x80\xAE" "fed"), "abc<U+202E>fed");        /* RLO */
	expect_term(S("bad\xFF"), "bad" FFFD);
	expect_term(S("é — ok"), "é — ok");
}

static void expect_xml(const char *in, size_t len, bool attr, const char *want)
{
	char *got = tpg_sanitize_xml(in, len, attr);
	assert_string_equal(got, want);
	free(got);
}

static void test_xml_escaping(void **state)
{
	(void)state;
	expect_xml(S("a<b>&c"), false, "a&lt;b&gt;&amp;c");
	expect_xml(S("]]> <!-- -- -->"), false, "]]&gt; &lt;!-- -- --&gt;");
	expect_xml(S("say \"hi\" 'x'"), false, "say \"hi\" 'x'");
	expect_xml(S("say \"hi\" 'x'"), true, "say &quot;hi&quot; &apos;x&apos;");
	expect_xml(S("l1\nl2\tt\r"), false, "l1\nl2\tt&#13;");
	expect_xml(S("l1\nl2\tt\r"), true, "l1&#10;l2&#9;t&#13;");
	expect_xml(S("nul\0 bs\b vt\v ff\f esc\033x"), false, "nul bs vt ff escx");
	expect_xml(S("\033[1;31mERROR\033[0m done"), false, "ERROR done");
	expect_xml(S("\033]8;;http://x\033\\link"), false, "link");
	expect_xml(S("\xEF\xBF\xBE\xEF\xBF\xBF"), false, "");           /* U+FFFE U+FFFF */
	expect_xml(S("bad\xC0"), false, "bad" FFFD);
	expect_xml(S("😀 é"), true, "😀 é");
	expect_xml(S("\xC2\x85next"), false, "\xC2\x85next");           /* NEL is legal */
}

static void test_truncate_boundaries(void **state)
{
	(void)state;
	const char *s = "aé€😀";   /* 1 + 2 + 3 + 4 bytes */
	size_t len = strlen(s);

	assert_int_equal(tpg_sanitize_truncate(s, len, 100), len);
	assert_int_equal(tpg_sanitize_truncate(s, len, 1), 1);
	assert_int_equal(tpg_sanitize_truncate(s, len, 2), 1);
	assert_int_equal(tpg_sanitize_truncate(s, len, 3), 3);
	assert_int_equal(tpg_sanitize_truncate(s, len, 5), 3);
	assert_int_equal(tpg_sanitize_truncate(s, len, 6), 6);
	assert_int_equal(tpg_sanitize_truncate(s, len, 9), 6);
	assert_int_equal(tpg_sanitize_truncate(s, len, 0), 0);
	/* A run of continuation bytes: never loops, never returns more than max. */
	assert_int_equal(tpg_sanitize_truncate(S("\x80\x80\x80\x80\x80\x80"), 4), 4);

	assert_int_equal(tpg_sanitize_tail(s, len, 100), 0);
	assert_int_equal(tpg_sanitize_tail(s, len, 4), 6);
	assert_int_equal(tpg_sanitize_tail(s, len, 5), 6);
	assert_int_equal(tpg_sanitize_tail(s, len, 7), 3);
	assert_int_equal(tpg_sanitize_tail(s, len, 8), 3);
	assert_int_equal(tpg_sanitize_tail(s, len, 9), 1);
}

static void test_one_line(void **state)
{
	(void)state;
	char *s = tpg_sanitize_one_line("  a\n\tb \x01\x7f  c\r\n", 0);
	assert_string_equal(s, "a b c");
	free(s);
	s = tpg_sanitize_one_line("\xff ok", 0);
	assert_string_equal(s, "\xEF\xBF\xBD ok");
	free(s);
	s = tpg_sanitize_one_line("\xC3\xA9\xC3\xA9", 3);   /* cut on a character boundary */
	assert_string_equal(s, "\xC3\xA9");
	free(s);
	s = tpg_sanitize_one_line(NULL, 0);
	assert_string_equal(s, "");
	free(s);
}

static void test_human_size(void **state)
{
	(void)state;
	char b[32];
	assert_string_equal(tpg_format_size(1, b, sizeof(b)), "1 byte");
	assert_string_equal(tpg_format_size(512, b, sizeof(b)), "512 bytes");
	assert_string_equal(tpg_format_size(3 * 1024 + 512, b, sizeof(b)), "3.5 KB");
	assert_string_equal(tpg_format_size((long long)(9.5 * 1024 * 1024), b, sizeof(b)), "9.5 MB");
	assert_string_equal(tpg_format_size(1023LL * 1024 * 1024, b, sizeof(b)), "1023 MB");
	assert_string_equal(tpg_format_size(1LL << 30, b, sizeof(b)), "1.0 GB");
}

static void test_clip_small_is_identity(void **state)
{
	(void)state;
	char *c = tpg_sanitize_clip(S("short text"), 1000);
	assert_string_equal(c, "short text");
	free(c);
	c = tpg_sanitize_clip(S("no cap"), 0);
	assert_string_equal(c, "no cap");
	free(c);
	c = tpg_sanitize_clip(S("bad\xFF"), 1000);
	assert_string_equal(c, "bad" FFFD);
	free(c);
	assert_null(tpg_sanitize_clip(NULL, 0, 10));
}

static void test_clip_big_output(void **state)
{
	(void)state;
	size_t len = 10 * 1024 * 1024, max = 64 * 1024;
	char *big = malloc(len);
	char *c, *again;

	/* Lines of text, with a multi-byte character straddling every cut. */
	for (size_t i = 0; i < len; i++)
		big[i] = (i % 80 == 79) ? '\n' : (char)('a' + i % 26);
	for (size_t i = 1000; i + 3 < len; i += 7919)
		memcpy(big + i, "€", 3);
	memcpy(big, "FIRST LINE\n", 11);
	memcpy(big + len - 10, "LAST LINE\n", 10);
	c = tpg_sanitize_clip(big, len, max);
	assert_true(strlen(c) <= max);
	assert_true(strlen(c) > max / 2);
	assert_true(tpg_sanitize_is_utf8(c, strlen(c)));
	assert_non_null(strstr(c, "FIRST LINE\n"));
	assert_non_null(strstr(c, "LAST LINE\n"));
	assert_non_null(strstr(c, "\n[... 9.9 MB truncated ...]\n"));
	/* Cut at line boundaries: the marker is preceded by a full line. */
	const char *m = strstr(c, "[...");
	assert_true(m > c && m[-1] == '\n');
	/* Clipping again changes nothing (JSON round trips rely on it). */
	again = tpg_sanitize_clip(c, strlen(c), max);
	assert_string_equal(again, c);
	free(again);
	free(c);

	/* All invalid bytes: repairs triple the size, the cap still holds. */
	memset(big, 0xFF, len);
	c = tpg_sanitize_clip(big, len, max);
	assert_true(strlen(c) <= max);
	assert_true(tpg_sanitize_is_utf8(c, strlen(c)));
	assert_non_null(strstr(c, "truncated ...]"));
	free(c);
	c = tpg_sanitize_clip(big, max, max);   /* fits raw, not once repaired */
	assert_true(strlen(c) <= max);
	assert_true(tpg_sanitize_is_utf8(c, strlen(c)));
	free(c);
	/* Tiny caps: a plain cut, no marker. */
	c = tpg_sanitize_clip(S("éééééééééé"), 5);
	assert_string_equal(c, "éé");
	free(c);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid_unchanged),
		cmocka_unit_test(test_utf8_invalid_replaced),
		cmocka_unit_test(test_utf8_random_bytes_always_valid),
		cmocka_unit_test(test_utf8_encode_round_trip),
		cmocka_unit_test(test_term_controls_visible),
		cmocka_unit_test(test_xml_escaping),
		cmocka_unit_test(test_truncate_boundaries),
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_human_size),
		cmocka_unit_test(test_clip_small_is_identity),
		cmocka_unit_test(test_clip_big_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

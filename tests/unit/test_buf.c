/* test_buf.c - capped buffers: head and tail modes keep their invariants
 * after every append (len <= limit, NUL at len, dropped exact). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"

static void check_invariants(const tpg_buf *b, size_t total)
{
	if (b->limit)
		assert_true(b->len <= b->limit);
	assert_int_equal(b->len + b->dropped, total);
	assert_int_equal(strlen(tpg_buf_cstr(b)), b->len);   /* no NULs appended here */
	assert_int_equal(b->truncated, b->dropped > 0);
}

static void test_unlimited(void **state)
{
	(void)state;
	tpg_buf b = TPG_BUF_INIT;
	assert_string_equal(tpg_buf_cstr(&b), "");
	tpg_buf_puts(&b, "hello");
	tpg_buf_printf(&b, " %d %s", 42, "world");
	tpg_buf_putc(&b, '!');
	assert_string_equal(b.data, "hello 42 world!");
	check_invariants(&b, 15);
	char *s = tpg_buf_detach(&b);
	assert_string_equal(s, "hello 42 world!");
	assert_null(b.data);
	free(s);
	tpg_buf_append(&b, "", 0);
	assert_non_null(b.data);
	assert_string_equal(tpg_buf_cstr(&b), "");
	tpg_buf_free(&b);
}

static void test_head_cap(void **state)
{
	(void)state;
	tpg_buf b;
	tpg_buf_init_capped(&b, 10, false);
	tpg_buf_puts(&b, "0123456");
	tpg_buf_puts(&b, "789abcdef");
	assert_string_equal(b.data, "0123456789");
	check_invariants(&b, 16);
	tpg_buf_puts(&b, "zz");
	check_invariants(&b, 18);
	tpg_buf_truncate(&b, 4);
	assert_string_equal(b.data, "0123");
	tpg_buf_truncate(&b, 9);   /* longer than the text: no change */
	assert_string_equal(b.data, "0123");
	tpg_buf_clear(&b);
	check_invariants(&b, 0);
	tpg_buf_free(&b);
}

static void test_tail_cap(void **state)
{
	(void)state;
	tpg_buf b;
	size_t total = 0;
	char expect[8];
	tpg_buf_init_capped(&b, 8, true);
	for (int i = 0; i < 1000; i++) {
		char c = (char)('a' + i % 26);
		tpg_buf_putc(&b, c);
		total++;
		check_invariants(&b, total);
	}
	/* The last 8 characters appended. */
	for (int i = 0; i < 8; i++)
		expect[i] = (char)('a' + (992 + i) % 26);
	assert_memory_equal(b.data, expect, 8);
	/* A single append bigger than the cap keeps its own tail. */
	tpg_buf_puts(&b, "0123456789ABCDEF");
	total += 16;
	assert_string_equal(b.data, "89ABCDEF");
	check_invariants(&b, total);
	/* Mixed sizes. */
	for (int i = 0; i < 200; i++) {
		tpg_buf_printf(&b, "%d,", i);
		total += (size_t)snprintf(NULL, 0, "%d,", i);
		check_invariants(&b, total);
	}
	assert_string_equal(b.data, "198,199,");
	char *s = tpg_buf_detach(&b);
	assert_int_equal(strlen(s), 8);
	free(s);
}

static void test_tail_big_volume(void **state)
{
	(void)state;
	tpg_buf b;
	char chunk[1000];
	memset(chunk, 'x', sizeof(chunk));
	tpg_buf_init_capped(&b, 64 * 1024, true);
	long long t0 = tpg_now_ms();
	for (int i = 0; i < 50000; i++)   /* 50 MB */
		tpg_buf_append(&b, chunk, sizeof(chunk));
	tpg_buf_puts(&b, "END");
	assert_int_equal(b.len, 64 * 1024);
	assert_true(b.cap <= 2 * 64 * 1024 + 1);
	assert_string_equal(b.data + b.len - 3, "END");
	assert_int_equal(b.dropped, 50000u * 1000 + 3 - 64 * 1024);
	assert_true(tpg_now_ms() - t0 < 5000);
	tpg_buf_free(&b);
}

static void test_strv(void **state)
{
	(void)state;
	tpg_strv v = TPG_STRV_INIT;
	tpg_strv_push(&v, "a");
	tpg_strv_push_owned(&v, tpg_xstrdup("b"));
	assert_true(tpg_strv_contains(&v, "b"));
	assert_false(tpg_strv_contains(&v, "c"));
	assert_null(v.items[v.len]);
	char *j = tpg_strv_join(&v, ", ");
	assert_string_equal(j, "a, b");
	free(j);
	tpg_strv_free(&v);
	assert_int_equal(v.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_head_cap),
		cmocka_unit_test(test_tail_cap),
		cmocka_unit_test(test_tail_big_volume),
		cmocka_unit_test(test_strv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

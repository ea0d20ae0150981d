/* test_docker_stream.c - the demultiplexer and the line splitter, fed in
 * every possible piece size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tpgrade/docker.h"

typedef struct sink {
	tpg_buf out, err;
} sink;

static void collect(void *ctx, int stream, const char *data, size_t len)
{
	sink *s = ctx;
	tpg_buf_append(stream == 2 ? &s->err : &s->out, data, len);
}

static void frame(tpg_buf *b, int stream, const char *text)
{
	size_t n = strlen(text);
	unsigned char h[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24),
	                      (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
	tpg_buf_append(b, h, 8);
	tpg_buf_append(b, text, n);
}

static void test_demux_any_split(void **state)
{
	(void)state;
	tpg_buf in = TPG_BUF_INIT;
	frame(&in, 1, "Un \xc3\xa9l\xc3\xa9phant ");
	frame(&in, 2, "warning\n");
	frame(&in, 1, "");
	frame(&in, 1, "dans un boa.\n");
	for (size_t piece = 1; piece <= in.len; piece++) {
		sink s = {0};
		tpg_demux d;
		tpg_demux_init(&d, 0, collect, &s);
		for (size_t off = 0; off < in.len; off += piece) {
			size_t n = in.len - off < piece ? in.len - off : piece;
			assert_int_equal(tpg_demux_feed(&d, in.data + off, n), 0);
		}
		assert_int_equal(tpg_demux_finish(&d, NULL), 0);
		assert_int_equal(d.mode, 1);
		assert_string_equal(tpg_buf_cstr(&s.out), "Un \xc3\xa9l\xc3\xa9phant dans un boa.\n");
		assert_string_equal(tpg_buf_cstr(&s.err), "warning\n");
		tpg_buf_free(&s.out);
		tpg_buf_free(&s.err);
	}
	tpg_buf_free(&in);
}

static void test_demux_raw_guess_and_errors(void **state)
{
	(void)state;
	sink s = {0};
	tpg_demux d;
	tpg_err err = {0};

	tpg_demux_init(&d, 0, collect, &s);
	assert_int_equal(tpg_demux_feed(&d, "h", 1), 0);
	assert_int_equal(tpg_demux_feed(&d, "ello tty\n", 9), 0);
	assert_int_equal(d.mode, 2);
	assert_string_equal(tpg_buf_cstr(&s.out), "hello tty\n");
	tpg_buf_free(&s.out);

	/* Multiplexed, then a header that makes no sense. */
	tpg_buf in = TPG_BUF_INIT;
	frame(&in, 1, "ok");
	tpg_buf_append(&in, "\x01\x05\x00\x00\x00\x00\x00\x01z", 9);
	tpg_demux_init(&d, 1, collect, &s);
	assert_int_equal(tpg_demux_feed(&d, in.data, in.len), TPG_EPROTO);
	assert_int_equal(tpg_demux_finish(&d, &err), TPG_EPROTO);
	assert_string_equal(tpg_buf_cstr(&s.out), "ok");
	tpg_buf_free(&s.out);
	tpg_buf_free(&in);

	/* Truncated inside the payload. */
	frame(&in, 2, "abcdef");
	tpg_demux_init(&d, 1, collect, &s);
	assert_int_equal(tpg_demux_feed(&d, in.data, in.len - 2), 0);
	assert_int_equal(tpg_demux_finish(&d, &err), TPG_EPROTO);
	assert_non_null(strstr(err.msg, "2 bytes missing"));
	assert_string_equal(tpg_buf_cstr(&s.err), "abcd");
	tpg_buf_free(&s.err);
	tpg_buf_free(&in);
}

typedef struct lines_seen {
	tpg_strv v;
} lines_seen;

static int on_line(void *ctx, const char *line, size_t len)
{
	lines_seen *s = ctx;
	tpg_strv_push_owned(&s->v, tpg_xstrndup(line, len));
	return 0;
}

static void test_lines(void **state)
{
	(void)state;
	const char *text = "{\"a\":1}\r\n{\"b\":2}\n\nTOO-LONG-LINE-HERE\nlast";
	for (size_t piece = 1; piece <= strlen(text); piece++) {
		lines_seen s = {0};
		tpg_lines l;
		tpg_lines_init(&l, 12, on_line, &s);
		for (size_t off = 0; off < strlen(text); off += piece) {
			size_t n = strlen(text) - off < piece ? strlen(text) - off : piece;
			assert_int_equal(tpg_lines_feed(&l, text + off, n), 0);
		}
		assert_int_equal(tpg_lines_finish(&l), 0);
		char *all = tpg_strv_join(&s.v, "|");
		assert_string_equal(all, "{\"a\":1}|{\"b\":2}||last");
		assert_int_equal(l.cut, 1);
		free(all);
		tpg_strv_free(&s.v);
		tpg_lines_free(&l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demux_any_split),
		cmocka_unit_test(test_demux_raw_guess_and_errors),
		cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_buildkit_trace.c - BuildKit's base64 protobuf StatusResponse decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tpgrade/docker.h"

/* A minimal protobuf writer for building test messages. */
static void varint(tpg_buf *b, uint64_t v)
{
	do {
		unsigned char c = v & 0x7f;
		v >>= 7;
		if (v)
			c |= 0x80;
		tpg_buf_putc(b, (char)c);
	} while (v);
}

static void field_bytes(tpg_buf *b, int num, const void *data, size_t n)
{
	varint(b, ((uint64_t)num << 3) | 2);
	varint(b, n);
	tpg_buf_append(b, data, n);
}

static void field_str(tpg_buf *b, int num, const char *s)
{
	field_bytes(b, num, s, strlen(s));
}

static void field_varint(tpg_buf *b, int num, uint64_t v)
{
	varint(b, ((uint64_t)num << 3) | 0);
	varint(b, v);
}

static void field_msg(tpg_buf *b, int num, tpg_buf *sub)
{
	field_bytes(b, num, sub->data ? sub->data : "", sub->len);
	tpg_buf_free(sub);
}

static char *b64(const unsigned char *d, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	tpg_buf o = TPG_BUF_INIT;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)d[i + 1] << 8;
		if (i + 2 < n)
			v |= d[i + 2];
		tpg_buf_putc(&o, tbl[(v >> 18) & 63]);
		tpg_buf_putc(&o, tbl[(v >> 12) & 63]);
		tpg_buf_putc(&o, i + 1 < n ? tbl[(v >> 6) & 63] : '=');
		tpg_buf_putc(&o, i + 2 < n ? tbl[v & 63] : '=');
	}
	return tpg_buf_detach(&o);
}

static tpg_buf sample(void)
{
	tpg_buf msg = TPG_BUF_INIT, v = TPG_BUF_INIT, ts = TPG_BUF_INIT;

	field_str(&v, 1, "sha256:aaa");
	field_str(&v, 2, "sha256:input");
	field_str(&v, 3, "[2/4] RUN pip install nope");
	field_varint(&ts, 1, 1700000000);
	field_varint(&ts, 2, 5);
	field_msg(&v, 5, &ts);
	field_str(&v, 7, "executor failed running [/bin/sh -c pip install nope]: exit code: 1");
	field_varint(&v, 99, 12345);            /* unknown field: skipped */
	field_msg(&msg, 1, &v);

	field_str(&v, 1, "sha256:bbb");
	field_str(&v, 3, "[1/4] FROM python:3-slim");
	field_varint(&v, 4, 1);
	field_msg(&v, 6, &ts);
	field_msg(&msg, 1, &v);

	tpg_buf st = TPG_BUF_INIT;
	field_str(&st, 1, "extracting");
	field_str(&st, 2, "sha256:bbb");
	field_varint(&st, 4, 10);
	field_varint(&st, 5, 20);
	field_msg(&msg, 2, &st);

	tpg_buf log = TPG_BUF_INIT;
	field_str(&log, 1, "sha256:aaa");
	field_varint(&log, 3, 2);
	field_bytes(&log, 4, "ERROR: No matching distribution\n\0x", 35);
	field_msg(&msg, 3, &log);

	tpg_buf w = TPG_BUF_INIT;
	field_str(&w, 1, "sha256:aaa");
	field_varint(&w, 2, 1);
	field_str(&w, 3, "something to know");
	field_msg(&msg, 4, &w);
	return msg;
}

static void test_parse_status_response(void **state)
{
	(void)state;
	tpg_buf msg = sample();
	char *text = b64((const unsigned char *)msg.data, msg.len);
	tpg_bk_trace t;
	tpg_err err = {0};

	assert_int_equal(tpg_bk_trace_decode(text, strlen(text), &t, &err), 0);
	assert_int_equal(t.n_vertexes, 2);
	assert_string_equal(t.vertexes[0].digest, "sha256:aaa");
	assert_string_equal(t.vertexes[0].name, "[2/4] RUN pip install nope");
	assert_true(t.vertexes[0].started);
	assert_false(t.vertexes[0].completed);
	assert_non_null(strstr(t.vertexes[0].error, "exit code: 1"));
	assert_true(t.vertexes[1].cached && t.vertexes[1].completed);
	assert_null(t.vertexes[1].error);
	assert_int_equal(t.n_statuses, 1);
	assert_int_equal(t.statuses[0].current, 10);
	assert_int_equal(t.statuses[0].total, 20);
	assert_string_equal(t.statuses[0].vertex, "sha256:bbb");
	assert_int_equal(t.n_logs, 1);
	assert_int_equal(t.logs[0].stream, 2);
	assert_int_equal(t.logs[0].len, 35);
	assert_memory_equal(t.logs[0].data, "ERROR: No matching distribution\n\0x", 35);
	assert_int_equal(t.n_warnings, 1);
	assert_string_equal(t.warnings[0].text, "something to know");
	tpg_bk_trace_free(&t);
	free(text);
	tpg_buf_free(&msg);
}

static void test_malformed(void **state)
{
	(void)state;
	tpg_buf msg = sample();
	tpg_bk_trace t;
	tpg_err err = {0};

	/* Every truncation is refused or parsed, never read past the end. */
	for (size_t n = 0; n < msg.len; n++) {
		unsigned char *copy = tpg_xmalloc(n ? n : 1);
		memcpy(copy, msg.data, n);
		int rc = tpg_bk_trace_parse(copy, n, &t, &err);
		assert_true(rc == 0 || rc == TPG_EPARSE);
		tpg_bk_trace_free(&t);
		free(copy);
	}
	/* A length beyond the end, a group, a huge varint. */
	const unsigned char bad1[] = {0x0a, 0x7f, 0x01};
	assert_int_equal(tpg_bk_trace_parse(bad1, sizeof(bad1), &t, &err), TPG_EPARSE);
	tpg_bk_trace_free(&t);
	const unsigned char bad2[] = {0x0b, 0x00};
	assert_int_equal(tpg_bk_trace_parse(bad2, sizeof(bad2), &t, &err), TPG_EPARSE);
	tpg_bk_trace_free(&t);
	const unsigned char bad3[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                              0xff, 0xff, 0x01};
	assert_int_equal(tpg_bk_trace_parse(bad3, sizeof(bad3), &t, &err), TPG_EPARSE);
	tpg_bk_trace_free(&t);

	assert_int_equal(tpg_bk_trace_decode("not*base64", 10, &t, &err), TPG_EPARSE);
	tpg_bk_trace_free(&t);
	assert_int_equal(tpg_bk_trace_decode("", 0, &t, &err), 0);
	assert_int_equal(t.n_vertexes, 0);
	tpg_bk_trace_free(&t);
	tpg_buf_free(&msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_status_response),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

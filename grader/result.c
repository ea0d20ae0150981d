/* result.c - filling a check's result. */
#include "tpgrade/check.h"

#include <stdlib.h>
#include <string.h>

static void set(tpg_result *res, tpg_status st, const char *fmt, va_list ap)
{
	res->status = st;
	res->status_set = true;
	tpg_buf_clear(&res->message);
	tpg_buf_vprintf(&res->message, fmt, ap);
}

void tpg_result_pass(tpg_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set(res, TPG_STATUS_PASSED, fmt, ap);
	va_end(ap);
}

void tpg_result_fail(tpg_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set(res, TPG_STATUS_FAILED, fmt, ap);
	va_end(ap);
}

void tpg_result_error(tpg_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set(res, TPG_STATUS_ERROR, fmt, ap);
	va_end(ap);
}

void tpg_result_skip(tpg_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set(res, TPG_STATUS_SKIPPED, fmt, ap);
	va_end(ap);
}

void tpg_result_note(tpg_result *res, const char *fmt, ...)
{
	va_list ap;
	if (res->message.len && res->message.data[res->message.len - 1] != '\n')
		tpg_buf_putc(&res->message, '\n');
	va_start(ap, fmt);
	tpg_buf_vprintf(&res->message, fmt, ap);
	va_end(ap);
}

void tpg_result_file(tpg_result *res, const char *rel, int line)
{
	free(res->file);
	res->file = tpg_xstrdup(rel);
	res->line = line;
}

void tpg_result_output(tpg_result *res, const char *data, size_t len)
{
	tpg_buf_append(&res->output, data, len);
}

void tpg_result_data(tpg_result *res, const char *key, json_t *value)
{
	if (!res->data)
		res->data = json_object();
	json_object_set_new(res->data, key, value);
}

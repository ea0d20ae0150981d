/* buf.c - capped growable buffers and string lists. */
#include "tpgrade/buf.h"
#include "tpgrade/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tpg_buf_init_capped(tpg_buf *b, size_t limit, bool keep_tail)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
	b->keep_tail = keep_tail;
}

/* Makes room for `extra` more bytes (and the NUL) after data+len. */
static void reserve(tpg_buf *b, size_t extra)
{
	size_t off = b->data ? (size_t)(b->data - b->base) : 0;
	size_t need = off + b->len + extra + 1;
	if (need <= b->cap)
		return;
	if (off > 0) {
		/* Slide the kept tail back to the start before growing. */
		memmove(b->base, b->data, b->len + 1);
		b->data = b->base;
		off = 0;
		need = b->len + extra + 1;
		if (need <= b->cap)
			return;
	}
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->base = tpg_xrealloc(b->base, cap);
	b->data = b->base;
	b->cap = cap;
}

void tpg_buf_append(tpg_buf *b, const void *data, size_t n)
{
	const char *src = data;

	if (!b->data) {
		reserve(b, 0);
		b->data[0] = '\0';
	}
	if (n == 0)
		return;
	if (b->limit && !b->keep_tail && b->len + n > b->limit) {
		size_t room = b->limit > b->len ? b->limit - b->len : 0;
		b->dropped += n - room;
		b->truncated = true;
		n = room;
		if (n == 0)
			return;
	}
	if (b->limit && b->keep_tail) {
		if (n >= b->limit) {
			/* The new data alone fills the cap: keep its tail only. */
			b->dropped += b->len + (n - b->limit);
			b->truncated = true;
			b->data = b->base;
			b->len = 0;
			src += n - b->limit;
			n = b->limit;
		} else if (b->len + n > b->limit) {
			/* Drop the oldest bytes by moving the start forward. */
			size_t drop = b->len + n - b->limit;
			b->data += drop;
			b->len -= drop;
			b->dropped += drop;
			b->truncated = true;
		}
		/* Room for two caps: sliding back happens at most once per
		 * `limit` bytes appended, so appends stay amortised O(1). */
		if (b->cap < 2 * b->limit + 1) {
			size_t off = (size_t)(b->data - b->base);
			b->base = tpg_xrealloc(b->base, 2 * b->limit + 1);
			b->cap = 2 * b->limit + 1;
			b->data = b->base + off;
		}
	}
	reserve(b, n);
	memcpy(b->data + b->len, src, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void tpg_buf_puts(tpg_buf *b, const char *s)
{
	tpg_buf_append(b, s, strlen(s));
}

void tpg_buf_putc(tpg_buf *b, char c)
{
	tpg_buf_append(b, &c, 1);
}

void tpg_buf_vprintf(tpg_buf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		tpg_buf_append(b, small, (size_t)n);
		return;
	}
	char *big = tpg_xvasprintf(fmt, ap);
	tpg_buf_append(b, big, (size_t)n);
	free(big);
}

void tpg_buf_printf(tpg_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tpg_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void tpg_buf_truncate(tpg_buf *b, size_t len)
{
	if (b->data && len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

void tpg_buf_clear(tpg_buf *b)
{
	b->len = 0;
	b->truncated = false;
	b->dropped = 0;
	b->data = b->base;
	if (b->data)
		b->data[0] = '\0';
}

const char *tpg_buf_cstr(const tpg_buf *b)
{
	return b->data ? b->data : "";
}

char *tpg_buf_detach(tpg_buf *b)
{
	char *p;

	if (b->data && b->data != b->base)
		memmove(b->base, b->data, b->len + 1);
	p = b->base ? b->base : tpg_xstrdup("");
	size_t limit = b->limit;
	bool tail = b->keep_tail;
	memset(b, 0, sizeof(*b));
	b->limit = limit;
	b->keep_tail = tail;
	return p;
}

void tpg_buf_free(tpg_buf *b)
{
	free(b->base);
	size_t limit = b->limit;
	bool tail = b->keep_tail;
	memset(b, 0, sizeof(*b));
	b->limit = limit;
	b->keep_tail = tail;
}

void tpg_strv_push_owned(tpg_strv *v, char *s)
{
	if (v->len + 1 >= v->cap) {
		v->cap = v->cap ? v->cap * 2 : 8;
		v->items = tpg_xreallocarray(v->items, v->cap, sizeof(char *));
	}
	v->items[v->len++] = s;
	v->items[v->len] = NULL;
}

void tpg_strv_push(tpg_strv *v, const char *s)
{
	tpg_strv_push_owned(v, tpg_xstrdup(s));
}

bool tpg_strv_contains(const tpg_strv *v, const char *s)
{
	for (size_t i = 0; i < v->len; i++)
		if (strcmp(v->items[i], s) == 0)
			return true;
	return false;
}

void tpg_strv_free(tpg_strv *v)
{
	for (size_t i = 0; i < v->len; i++)
		free(v->items[i]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

char *tpg_strv_join(const tpg_strv *v, const char *sep)
{
	tpg_buf b = TPG_BUF_INIT;
	for (size_t i = 0; i < v->len; i++) {
		if (i)
			tpg_buf_puts(&b, sep);
		tpg_buf_puts(&b, v->items[i]);
	}
	return tpg_buf_detach(&b);
}

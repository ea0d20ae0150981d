/*
 * buf.h - a growable byte buffer, always NUL-terminated, with an optional
 * cap. Everything we keep from untrusted sources (container output, build
 * logs, file contents) goes through a capped buffer: once the cap is reached
 * further bytes are counted but dropped (or, in tail mode, the oldest bytes
 * are dropped), and `truncated` says so.
 */
#ifndef TPGRADE_BUF_H
#define TPGRADE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Invariants, after every call: data[0..len) is the kept text, data[len] is
 * '\0', len <= limit (when limit is set), and `dropped` counts every byte
 * not kept. Fields are read directly; only buf.c writes them. In tail mode
 * `data` moves forward inside the allocation (`base`) instead of copying
 * on each append, so dropping the oldest bytes stays cheap.
 */
typedef struct tpg_buf {
	char *data;       /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t cap;       /* bytes allocated at base */
	size_t limit;     /* 0 = no cap */
	bool keep_tail;   /* over the cap: drop oldest bytes instead of newest */
	bool truncated;   /* some bytes were dropped */
	size_t dropped;   /* how many */
	char *base;       /* the allocation (data == base except in tail mode) */
} tpg_buf;

#define TPG_BUF_INIT {0}

/* A buffer keeping at most `limit` bytes (the head, or the tail). */
void tpg_buf_init_capped(tpg_buf *b, size_t limit, bool keep_tail);
void tpg_buf_append(tpg_buf *b, const void *data, size_t n);
void tpg_buf_puts(tpg_buf *b, const char *s);
void tpg_buf_putc(tpg_buf *b, char c);
void tpg_buf_printf(tpg_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tpg_buf_vprintf(tpg_buf *b, const char *fmt, va_list ap);
/* Keeps the first `len` bytes (len <= b->len): undoes recent appends, e.g.
 * a path component while walking a tree. */
void tpg_buf_truncate(tpg_buf *b, size_t len);
/* Empties the buffer, keeps the allocation, the limit and mode. */
void tpg_buf_clear(tpg_buf *b);
/* The contents as a C string ("" when empty); owned by the buffer.
 * Never changes the buffer. */
const char *tpg_buf_cstr(const tpg_buf *b);
/* Hands the (malloc'ed, NUL-terminated) contents to the caller and resets
 * the buffer. Never NULL. */
char *tpg_buf_detach(tpg_buf *b);
void tpg_buf_free(tpg_buf *b);

/* A NULL-terminated growable list of owned strings. */
typedef struct tpg_strv {
	char **items;   /* items[len] == NULL when len > 0 */
	size_t len;
	size_t cap;
} tpg_strv;

#define TPG_STRV_INIT {0}

void tpg_strv_push(tpg_strv *v, const char *s);       /* copies s */
void tpg_strv_push_owned(tpg_strv *v, char *s);       /* takes s */
bool tpg_strv_contains(const tpg_strv *v, const char *s);
void tpg_strv_free(tpg_strv *v);
/* Joins with `sep`; returns a malloc'ed string. */
char *tpg_strv_join(const tpg_strv *v, const char *sep);

#endif

/* sanitize.c - UTF-8 repair, terminal-safe text, XML escaping, safe cuts. */
#include "tpgrade/sanitize.h"
#include "tpgrade/common.h"

#include <stdio.h>
#include <string.h>

static bool is_cont(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

size_t tpg_sanitize_decode(const char *str, size_t len, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];
	size_t need;
	uint32_t v;
	unsigned char lo = 0x80, hi = 0xBF;   /* range of the second byte */

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		v = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;          /* overlong */
		else if (c == 0xED)
			hi = 0x9F;          /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;          /* overlong */
		else if (c == 0xF4)
			hi = 0x8F;          /* > U+10FFFF */
	} else {
		*cp = 0xFFFD;
		return 1;
	}
	for (size_t i = 1; i <= need; i++) {
		unsigned char b = i < len ? s[i] : 0;
		bool ok = i < len && (i == 1 ? (b >= lo && b <= hi) : is_cont(b));
		if (!ok) {
			*cp = 0xFFFD;
			return i;   /* the maximal valid prefix */
		}
		v = (v << 6) | (b & 0x3F);
	}
	*cp = v;
	return need + 1;
}

size_t tpg_utf8_len(const char *s, size_t len, uint32_t *cp)
{
	uint32_t v;
	size_t n = tpg_sanitize_decode(s, len, &v);
	/* U+FFFD from an invalid sequence, not one written as EF BF BD. */
	if (v == 0xFFFD && !(n == 3 && (unsigned char)s[0] == 0xEF))
		return 0;
	if (cp)
		*cp = v;
	return n;
}

bool tpg_sanitize_is_utf8(const char *s, size_t len)
{
	size_t i = 0;

	if (!s)
		return true;
	while (i < len) {
		size_t n = s[i] ? tpg_utf8_len(s + i, len - i, NULL) : 0;
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

size_t tpg_utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static void put_cp(tpg_buf *out, uint32_t cp)
{
	char b[4];
	tpg_buf_append(out, b, tpg_utf8_encode(cp, b));
}

/* Longest run of plain printable ASCII from s[0..len): copied in one go. */
static size_t plain_run(const char *s, size_t len, bool xml)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7F)
			break;
		if (xml && (c == '&' || c == '<' || c == '>' || c == '"' || c == '\''))
			break;
		i++;
	}
	return i;
}

void tpg_sanitize_utf8_buf(tpg_buf *out, const char *s, size_t len)
{
	size_t i = 0;

	if (!s)
		len = 0;
	tpg_buf_append(out, "", 0);
	while (i < len) {
		size_t run = 0;
		/* Copy valid stretches (ASCII and well-formed sequences) at once. */
		while (i + run < len) {
			size_t n = s[i + run] ? tpg_utf8_len(s + i + run, len - i - run, NULL) : 0;
			if (n == 0)
				break;
			run += n;
		}
		tpg_buf_append(out, s + i, run);
		i += run;
		if (i < len) {
			uint32_t cp;
			i += s[i] == '\0' ? 1 : tpg_sanitize_decode(s + i, len - i, &cp);
			tpg_buf_puts(out, TPG_SANITIZE_REPLACEMENT);
		}
	}
}

char *tpg_sanitize_utf8(const char *s, size_t len)
{
	tpg_buf b = TPG_BUF_INIT;

	if (!s)
		return NULL;
	tpg_sanitize_utf8_buf(&b, s, len);
	return tpg_buf_detach(&b);
}

bool tpg_sanitize_is_invisible(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* One character that is not plain ASCII, for a terminal; returns the bytes
 * of s it consumed. */
static size_t term_char(tpg_buf *out, const char *s, size_t len)
{
	uint32_t cp;
	size_t n = tpg_sanitize_decode(s, len, &cp);

	if (cp == '\n' || cp == '\t') {
		tpg_buf_putc(out, (char)cp);
	} else if (cp == '\r' && len > 1 && s[1] == '\n') {
		/* CRLF line ends: the CR says nothing worth showing. */
	} else if (cp < 0x20) {
		tpg_buf_putc(out, '^');
		tpg_buf_putc(out, (char)('@' + cp));
	} else if (cp == 0x7F) {
		tpg_buf_puts(out, "^?");
	} else if (tpg_sanitize_is_invisible(cp)) {
		tpg_buf_printf(out, "<U+%04X>", (unsigned)cp);
	} else {
		put_cp(out, cp);
	}
	return n;
}

static bool xml_allowed(uint32_t cp)
{
	return cp == 0x9 || cp == 0xA || cp == 0xD ||
	       (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
	       (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Length of the ANSI escape sequence at s (s[0] == ESC), or 1. */
static size_t ansi_len(const char *s, size_t len)
{
	size_t i;

	if (len < 2)
		return 1;
	if (s[1] == '[') {
		/* CSI: parameters 0x30-0x3F, intermediates 0x20-0x2F, final 0x40-0x7E. */
		for (i = 2; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c >= 0x40 && c <= 0x7E)
				return i + 1;
			if (c < 0x20 || c > 0x3F)
				return 1;
		}
		return 1;
	}
	if (s[1] == ']') {
		/* OSC: ends with BEL or ESC '\'; give up after a sane length. */
		for (i = 2; i < len && i < 4096; i++) {
			if (s[i] == '\a')
				return i + 1;
			if (s[i] == '\033' && i + 1 < len && s[i + 1] == '\\')
				return i + 2;
			if (s[i] == '\n')
				return 1;
		}
		return 1;
	}
	return 1;
}

static size_t xml_char(tpg_buf *out, const char *s, size_t len, bool attr)
{
	uint32_t cp;
	size_t n;

	if (s[0] == '\033')
		return ansi_len(s, len);
	n = tpg_sanitize_decode(s, len, &cp);
	switch (cp) {
	case '&': tpg_buf_puts(out, "&amp;"); break;
	case '<': tpg_buf_puts(out, "&lt;"); break;
	case '>': tpg_buf_puts(out, "&gt;"); break;
	case '\r': tpg_buf_puts(out, "&#13;"); break;
	case '"': tpg_buf_puts(out, attr ? "&quot;" : "\""); break;
	case '\'': tpg_buf_puts(out, attr ? "&apos;" : "'"); break;
	case '\n': tpg_buf_puts(out, attr ? "&#10;" : "\n"); break;
	case '\t': tpg_buf_puts(out, attr ? "&#9;" : "\t"); break;
	default:
		if (xml_allowed(cp))
			put_cp(out, cp);
	}
	return n;
}

/* Plain printable ASCII is copied in runs; every other character goes
 * through term_char, or xml_char when `xml`. */
static void escape_walk(tpg_buf *out, const char *s, size_t len, bool xml, bool attr)
{
	size_t i = 0;

	if (!s)
		len = 0;
	tpg_buf_append(out, "", 0);
	while (i < len) {
		size_t run = plain_run(s + i, len - i, xml);

		tpg_buf_append(out, s + i, run);
		i += run;
		if (i < len)
			i += xml ? xml_char(out, s + i, len - i, attr) : term_char(out, s + i, len - i);
	}
}

void tpg_sanitize_term_buf(tpg_buf *out, const char *s, size_t len)
{
	escape_walk(out, s, len, false, false);
}

char *tpg_sanitize_term(const char *s, size_t len)
{
	tpg_buf b = TPG_BUF_INIT;

	if (!s)
		return NULL;
	tpg_sanitize_term_buf(&b, s, len);
	return tpg_buf_detach(&b);
}

void tpg_sanitize_xml_buf(tpg_buf *out, const char *s, size_t len, bool attr)
{
	escape_walk(out, s, len, true, attr);
}

char *tpg_sanitize_xml(const char *s, size_t len, bool attr)
{
	tpg_buf b = TPG_BUF_INIT;

	if (!s)
		return NULL;
	tpg_sanitize_xml_buf(&b, s, len, attr);
	return tpg_buf_detach(&b);
}

size_t tpg_sanitize_truncate(const char *s, size_t len, size_t max)
{
	size_t n, back = 0;

	if (!s || len <= max)
		return s ? len : 0;
	n = max;
	/* Step back over at most 3 continuation bytes to the lead byte. */
	while (n > 0 && back < 3 && is_cont((unsigned char)s[n])) {
		n--;
		back++;
	}
	return is_cont((unsigned char)s[n]) ? max : n;
}

size_t tpg_sanitize_tail(const char *s, size_t len, size_t max)
{
	size_t off, fwd = 0;

	if (!s || len <= max)
		return 0;
	off = len - max;
	while (off < len && fwd < 3 && is_cont((unsigned char)s[off])) {
		off++;
		fwd++;
	}
	return off;
}


/* Moves a head cut back to just after a newline when one is in the last half. */
static size_t head_at_line(const char *s, size_t n)
{
	for (size_t i = n; i > n / 2; i--)
		if (s[i - 1] == '\n')
			return i;
	return n;
}

/* Moves a tail start forward to just after a newline in the first half. */
static size_t tail_at_line(const char *s, size_t len, size_t off)
{
	size_t limit = off + (len - off) / 2;
	for (size_t i = off; i < limit; i++)
		if (s[i] == '\n')
			return i + 1;
	return off;
}

char *tpg_sanitize_clip(const char *s, size_t len, size_t max)
{
	tpg_buf head = TPG_BUF_INIT, tail = TPG_BUF_INIT, out = TPG_BUF_INIT;
	size_t budget, head_max, tail_max, hn, toff;
	char size[32];

	if (!s)
		return NULL;
	if (max == 0 || len <= max) {
		tpg_sanitize_utf8_buf(&out, s, len);
		if (max == 0 || out.len <= max)
			return tpg_buf_detach(&out);
		/* Repairs made it grow past the cap: clip the repaired text. */
		char *r = tpg_sanitize_clip(out.data, out.len, max);
		tpg_buf_free(&out);
		return r;
	}
	if (max < TPG_SANITIZE_CLIP_MIN) {
		tpg_sanitize_utf8_buf(&head, s, tpg_sanitize_truncate(s, len, max));
		tpg_buf_append(&out, head.data, tpg_sanitize_truncate(head.data, head.len, max));
		tpg_buf_free(&head);
		return tpg_buf_detach(&out);
	}
	/* Repair only windows of the input, so 10 MB in costs O(max). */
	budget = max - TPG_SANITIZE_MARKER_MAX;
	head_max = budget / 4;
	tail_max = budget - head_max;
	tpg_sanitize_utf8_buf(&head, s, tpg_sanitize_truncate(s, len, budget));
	toff = tpg_sanitize_tail(s, len, budget);
	tpg_sanitize_utf8_buf(&tail, s + toff, len - toff);

	hn = head_at_line(head.data, tpg_sanitize_truncate(head.data, head.len, head_max));
	toff = tpg_sanitize_tail(tail.data, tail.len, tail_max);
	toff = tail_at_line(tail.data, tail.len, toff);

	size_t kept = hn + (tail.len - toff);
	tpg_format_size((long long)(len > kept ? len - kept : 0), size, sizeof(size));
	tpg_buf_append(&out, head.data, hn);
	if (hn > 0 && head.data[hn - 1] != '\n')
		tpg_buf_putc(&out, '\n');
	tpg_buf_printf(&out, "[... %s truncated ...]\n", size);
	tpg_buf_append(&out, tail.data + toff, tail.len - toff);
	tpg_buf_free(&head);
	tpg_buf_free(&tail);
	return tpg_buf_detach(&out);
}

char *tpg_sanitize_one_line(const char *s, size_t max)
{
	tpg_buf b = TPG_BUF_INIT;
	bool space = false;

	tpg_buf_append(&b, "", 0);
	for (const char *p = s ? s : ""; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c == 0x7f) {
			space = b.len > 0;
			continue;
		}
		if (space)
			tpg_buf_putc(&b, ' ');
		space = false;
		tpg_buf_putc(&b, (char)c);
	}
	size_t n = max ? tpg_sanitize_truncate(b.data, b.len, max) : b.len;
	char *out = tpg_sanitize_utf8(b.data, n);
	tpg_buf_free(&b);
	return out;
}

/*
 * dockerfile_json.c - the JSON BuildKit feeds to Go's encoding/json: exec
 * form arrays (RUN ["a", "b"]) and `{ "syntax": ... }` directives.
 *
 * Go's rules are reproduced: the whole text must be one JSON value (only
 * ' ', \t, \r, \n around it), at most 10000 levels of nesting, strings may
 * hold invalid UTF-8 (decoded as U+FFFD) but no raw control character, lone
 * surrogates decode as U+FFFD, and a number too large for a float64
 * (ParseFloat's ErrRange) makes the whole decode fail even though the
 * syntax is fine. Validation is iterative, so nesting cannot blow the stack.
 */
#include "dockerfile_int.h"
#include "tpgrade/shellword.h"

#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 10000

/* 2^1024 - 2^970: the smallest decimal that ParseFloat rounds to +Inf. */
static const char float64_overflow[] =
	"17976931348623158079372897140530341507993413271003782693617377898044496829"
	"27647509466490179775872070963302864166928879109465555478519404026306574886"
	"71505820681908902000708383676273854845817711531764475730270069855571366959"
	"62284291481986083493647529271907416844436551070434271155969950809304288017"
	"7904174497792";

enum { JV_STRING, JV_NUMBER, JV_LITERAL, JV_ARRAY, JV_OBJECT };

/* A top-level member or element, reported to the caller. */
typedef struct json_item {
	int type;
	size_t start, end;        /* value bytes [start, end) */
	size_t kstart, kend;      /* key string (objects), quotes included */
} json_item;

typedef struct json_scan {
	const char *s;
	size_t n;
	size_t i;
	char *why;                /* first error, for humans */
	bool overflow;            /* a number out of float64 range */
	char *overflow_num;       /* the first such number */
	json_item *items;         /* depth-1 elements/members */
	size_t nitems, cap;
} json_scan;

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void skip_ws(json_scan *j)
{
	while (j->i < j->n && is_ws(j->s[j->i]))
		j->i++;
}

static char *show_char(const char *s, size_t n, size_t at)
{
	tpg_buf b = TPG_BUF_INIT;
	size_t w;

	if (at >= n)
		return tpg_xstrdup("end of line");
	tpg_go_decode_rune(s + at, n - at, &w);
	tpg_buf_putc(&b, '\'');
	if (w == 1 && (unsigned char)s[at] >= 0x20 && (unsigned char)s[at] < 0x7f)
		tpg_buf_putc(&b, s[at]);
	else {
		tpg_buf q = TPG_BUF_INIT;
		tpg_go_quote(s + at, w, &q);
		tpg_buf_append(&b, q.data + 1, q.len - 2);
		tpg_buf_free(&q);
	}
	tpg_buf_putc(&b, '\'');
	return tpg_buf_detach(&b);
}

static int fail(json_scan *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(json_scan *j, const char *fmt, ...)
{
	va_list ap;

	if (!j->why) {
		va_start(ap, fmt);
		j->why = tpg_xvasprintf(fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int fail_at(json_scan *j, const char *what)
{
	char *c = show_char(j->s, j->n, j->i);
	if (j->i >= j->n)
		fail(j, "%s at the end of the line", what);
	else
		fail(j, "%s at character %zu, found %s", what, j->i + 1, c);
	free(c);
	return -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int scan_string(json_scan *j)
{
	size_t open = j->i;

	j->i++;
	while (j->i < j->n) {
		unsigned char c = (unsigned char)j->s[j->i];
		if (c == '"') {
			j->i++;
			return 0;
		}
		if (c < 0x20) {
			fail(j, "raw control character (byte 0x%02x) inside the string at character "
			     "%zu; JSON needs an escape such as \\t or \\n", c, j->i + 1);
			return -1;
		}
		if (c == '\\') {
			if (j->i + 1 >= j->n)
				break;
			char e = j->s[j->i + 1];
			if (e == 'u') {
				for (int k = 0; k < 4; k++) {
					if (j->i + 2 + (size_t)k >= j->n)
						goto unterminated;
					if (hexval(j->s[j->i + 2 + k]) < 0) {
						fail(j, "invalid \\u escape at character %zu (4 hex digits "
						     "expected)", j->i + 1);
						return -1;
					}
				}
				j->i += 6;
				continue;
			}
			if (e == '\0' || !strchr("\"\\/bfnrt", e)) {
				fail(j, "invalid escape sequence at character %zu (JSON knows \\\" "
				     "\\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", j->i + 1);
				return -1;
			}
			j->i += 2;
			continue;
		}
		j->i++;
	}
unterminated:
	fail(j, "the string opened at character %zu is not closed", open + 1);
	return -1;
}

/* Whether the number text [b, e) overflows float64 (Go's ErrRange). */
static bool number_overflows(const char *s, size_t b, size_t e)
{
	size_t i = b;
	char digits[sizeof(float64_overflow) + 2];
	size_t nd = 0;
	long long exp10 = 0, ex = 0;
	bool int_nonzero = false, any = false, eneg = false;
	long long int_digits = 0, frac_lead_zeros = 0;

	if (i < e && s[i] == '-')
		i++;
	for (; i < e && s[i] >= '0' && s[i] <= '9'; i++) {
		if (s[i] != '0' || int_nonzero) {
			int_nonzero = true;
			int_digits++;
			if (nd < sizeof(digits) - 1)
				digits[nd++] = s[i];
			any = true;
		}
	}
	if (i < e && s[i] == '.') {
		for (i++; i < e && s[i] >= '0' && s[i] <= '9'; i++) {
			if (!any && s[i] == '0') {
				frac_lead_zeros++;
				continue;
			}
			any = true;
			if (nd < sizeof(digits) - 1)
				digits[nd++] = s[i];
		}
	}
	if (!any)
		return false;  /* zero */
	if (i < e && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < e && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		for (; i < e; i++)
			if (ex < 1000000000LL)
				ex = ex * 10 + (s[i] - '0');
	}
	/* value = 0.digits x 10^exp10 */
	exp10 = (int_nonzero ? int_digits : -frac_lead_zeros) + (eneg ? -ex : ex);
	if (exp10 != 309)
		return exp10 > 309;
	digits[nd] = '\0';
	for (size_t k = 0; k < sizeof(float64_overflow) - 1; k++) {
		char d = k < nd ? digits[k] : '0';
		if (d != float64_overflow[k])
			return d > float64_overflow[k];
	}
	return true;  /* exactly the halfway point rounds to +Inf */
}

static int scan_number(json_scan *j)
{
	size_t b = j->i;

	if (j->s[j->i] == '-')
		j->i++;
	if (j->i >= j->n || !(j->s[j->i] >= '0' && j->s[j->i] <= '9'))
		return fail_at(j, "invalid number");
	if (j->s[j->i] == '0')
		j->i++;
	else
		while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
	if (j->i < j->n && j->s[j->i] == '.') {
		j->i++;
		if (j->i >= j->n || !(j->s[j->i] >= '0' && j->s[j->i] <= '9'))
			return fail_at(j, "invalid number");
		while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
	}
	if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		if (j->i >= j->n || !(j->s[j->i] >= '0' && j->s[j->i] <= '9'))
			return fail_at(j, "invalid number");
		while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
			j->i++;
	}
	if (!j->overflow && number_overflows(j->s, b, j->i)) {
		j->overflow = true;
		j->overflow_num = tpg_xstrndup(j->s + b, j->i - b);
	}
	return 0;
}

static int scan_literal(json_scan *j)
{
	static const char *lits[] = {"true", "false", "null"};
	for (size_t k = 0; k < 3; k++) {
		size_t l = strlen(lits[k]);
		if (j->s[j->i] != lits[k][0])
			continue;
		for (size_t m = 0; m < l; m++) {
			if (j->i + m >= j->n || j->s[j->i + m] != lits[k][m]) {
				j->i += m;
				return fail_at(j, "invalid literal");
			}
		}
		j->i += l;
		return 0;
	}
	return -1;
}

static void add_item(json_scan *j, int type, size_t start, size_t ks, size_t ke)
{
	TPG_ARRAY_GROW(j->items, j->nitems, j->cap);
	j->items[j->nitems++] = (json_item){type, start, j->i, ks, ke};
}

/*
 * Validates the whole text as one JSON value, recording the depth-1 items
 * of the top-level container. Returns the top-level type or -1.
 */
static int json_validate(json_scan *j)
{
	char *stack = tpg_xmalloc(JSON_MAX_DEPTH + 2);
	size_t depth = 0;
	int top = -1;
	size_t kstart = 0, kend = 0;
	bool after_comma = false;

	skip_ws(j);
	for (;;) {
		/* expect a value */
		size_t vstart;
		int type;

		skip_ws(j);
		if (j->i >= j->n) {
			if (depth == 0)
				fail(j, "empty input");
			else
				fail(j, "the %s is not closed: '%c' is missing",
				     stack[depth - 1] == '[' ? "array" : "object",
				     stack[depth - 1] == '[' ? ']' : '}');
			goto bad;
		}
		vstart = j->i;
		char c = j->s[j->i];
		if (c == '[' || c == '{') {
			if (depth >= JSON_MAX_DEPTH) {
				fail(j, "nested deeper than %d levels", JSON_MAX_DEPTH);
				goto bad;
			}
			if (depth == 0)
				top = c == '[' ? JV_ARRAY : JV_OBJECT;
			else if (depth == 1)
				add_item(j, c == '[' ? JV_ARRAY : JV_OBJECT, vstart, kstart, kend);
			stack[depth++] = c;
			j->i++;
			skip_ws(j);
			if (j->i < j->n && j->s[j->i] == (c == '[' ? ']' : '}')) {
				j->i++;
				depth--;
				goto after_value;
			}
			if (c == '{')
				goto object_key;
			after_comma = false;
			continue;
		}
		if (c == '"') {
			if (scan_string(j))
				goto bad;
			type = JV_STRING;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			if (scan_number(j))
				goto bad;
			type = JV_NUMBER;
		} else if (c == 't' || c == 'f' || c == 'n') {
			if (scan_literal(j))
				goto bad;
			type = JV_LITERAL;
		} else {
			char *sc = show_char(j->s, j->n, j->i);
			if (c == '\'')
				fail(j, "single quotes are not JSON string quotes (character %zu); "
				     "use double quotes", j->i + 1);
			else if (c == ']' && after_comma)
				fail(j, "']' right after ',' at character %zu: JSON allows no "
				     "trailing comma", j->i + 1);
			else
				fail(j, "a JSON value (a string in double quotes) was expected at "
				     "character %zu, found %s", j->i + 1, sc);
			free(sc);
			goto bad;
		}
		if (depth == 0)
			top = type;
		else if (depth == 1)
			add_item(j, type, vstart, kstart, kend);
after_value:
		if (depth == 1 && j->nitems > 0 &&
		    (j->items[j->nitems - 1].type == JV_ARRAY ||
		     j->items[j->nitems - 1].type == JV_OBJECT))
			j->items[j->nitems - 1].end = j->i;
		skip_ws(j);
		if (depth == 0) {
			if (j->i < j->n) {
				char *sc = show_char(j->s, j->n, j->i);
				fail(j, "unexpected text after the closing '%c' at character %zu: %s",
				     top == JV_OBJECT ? '}' : ']', j->i + 1, sc);
				free(sc);
				goto bad;
			}
			free(stack);
			return top;
		}
		if (j->i < j->n && j->s[j->i] == ',') {
			j->i++;
			after_comma = true;
			if (stack[depth - 1] == '{')
				goto object_key;
			continue;
		}
		if (j->i < j->n && j->s[j->i] == (stack[depth - 1] == '[' ? ']' : '}')) {
			j->i++;
			depth--;
			goto after_value;
		}
		fail_at(j, stack[depth - 1] == '[' ? "expected ',' or ']' after array element"
						   : "expected ',' or '}' after object value");
		goto bad;
object_key:
		skip_ws(j);
		if (j->i >= j->n || j->s[j->i] != '"') {
			fail_at(j, "expected a string key in the object");
			goto bad;
		}
		kstart = j->i;
		if (scan_string(j))
			goto bad;
		kend = j->i;
		skip_ws(j);
		if (j->i >= j->n || j->s[j->i] != ':') {
			fail_at(j, "expected ':' after the object key");
			goto bad;
		}
		j->i++;
		after_comma = false;
	}
bad:
	free(stack);
	return -1;
}

static int getu4(const char *s, size_t n, size_t at)
{
	int r = 0;
	if (at + 6 > n || s[at] != '\\' || s[at + 1] != 'u')
		return -1;
	for (int k = 0; k < 4; k++) {
		int h = hexval(s[at + 2 + k]);
		if (h < 0)
			return -1;
		r = r * 16 + h;
	}
	return r;
}

/* Go's unquote of a validated string token [b, e) (quotes included). */
static void decode_string(const char *s, size_t b, size_t e, tpg_buf *out)
{
	size_t i = b + 1, end = e - 1;

	tpg_buf_append(out, "", 0);
	while (i < end) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			char x = s[i + 1];
			switch (x) {
			case 'b': tpg_buf_putc(out, '\b'); i += 2; continue;
			case 'f': tpg_buf_putc(out, '\f'); i += 2; continue;
			case 'n': tpg_buf_putc(out, '\n'); i += 2; continue;
			case 'r': tpg_buf_putc(out, '\r'); i += 2; continue;
			case 't': tpg_buf_putc(out, '\t'); i += 2; continue;
			case 'u': {
				int32_t r = getu4(s, end, i);
				i += 6;
				if (r >= 0xD800 && r < 0xE000) {
					int32_t r2 = getu4(s, end, i);
					if (r < 0xDC00 && r2 >= 0xDC00 && r2 < 0xE000) {
						r = 0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00);
						i += 6;
					} else {
						r = TPG_GO_RUNE_ERROR;
					}
				}
				tpg_go_append_rune(out, r);
				continue;
			}
			default:
				tpg_buf_putc(out, x);
				i += 2;
				continue;
			}
		}
		if (c < 0x80) {
			tpg_buf_putc(out, (char)c);
			i++;
			continue;
		}
		size_t w;
		int32_t r = tpg_go_decode_rune(s + i, end - i, &w);
		tpg_go_append_rune(out, r);
		i += w;
	}
}

int tpg_df_json_array(const char *rest, size_t len, tpg_strv *out, size_t **lens, char **why)
{
	json_scan j = {0};
	size_t b = 0, e = len;
	int top, rc;

	if (why)
		*why = NULL;
	if (lens)
		*lens = NULL;
	df_trim_left_space(rest, &b, e);
	if (b >= e || rest[b] != '[')
		return TPG_DF_NOT_JSON;
	j.s = rest + b;
	j.n = e - b;
	top = json_validate(&j);
	if (top != JV_ARRAY || j.overflow) {
		rc = TPG_DF_NOT_JSON;
		if (why && top < 0)
			*why = tpg_xstrdup(j.why ? j.why : "not a JSON array");
		else if (why)
			*why = tpg_xasprintf("the number %s is out of the range of a float64, "
					     "which Go's JSON decoder rejects", j.overflow_num);
		goto out;
	}
	for (size_t k = 0; k < j.nitems; k++) {
		if (j.items[k].type != JV_STRING) {
			rc = TPG_DF_JSON_NOT_STRINGS;
			goto out;
		}
	}
	if (lens)
		*lens = tpg_xcalloc(j.nitems + 1, sizeof(size_t));
	for (size_t k = 0; k < j.nitems; k++) {
		tpg_buf v = TPG_BUF_INIT;
		decode_string(j.s, j.items[k].start, j.items[k].end, &v);
		if (lens)
			(*lens)[k] = v.len;
		tpg_strv_push_owned(out, tpg_buf_detach(&v));
	}
	rc = TPG_DF_JSON;
out:
	free(j.why);
	free(j.overflow_num);
	free(j.items);
	return rc;
}

bool df_json_object_string(const char *data, size_t len, const char *key, char **val)
{
	json_scan j = {0};
	int top;
	bool found = false;

	*val = NULL;
	j.s = data;
	j.n = len;
	top = json_validate(&j);
	if (top == JV_OBJECT && !j.overflow) {
		for (size_t k = j.nitems; k-- > 0;) {
			tpg_buf kb = TPG_BUF_INIT;
			decode_string(j.s, j.items[k].kstart, j.items[k].kend, &kb);
			bool same = kb.len == strlen(key) && memcmp(kb.data, key, kb.len) == 0;
			tpg_buf_free(&kb);
			if (!same)
				continue;
			if (j.items[k].type == JV_STRING) {
				tpg_buf v = TPG_BUF_INIT;
				decode_string(j.s, j.items[k].start, j.items[k].end, &v);
				*val = tpg_buf_detach(&v);
				found = true;
			}
			break;
		}
	}
	free(j.why);
	free(j.overflow_num);
	free(j.items);
	return found;
}

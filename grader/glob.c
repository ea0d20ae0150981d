/*
 * glob.c - .dockerignore-style path patterns, compiled to PCRE2.
 *
 * The translation follows moby/patternmatcher (what `docker build` uses)
 * token for token, so that a pattern means here what it means to Docker:
 *  - a double star eats the slash after it and becomes "any run of whole
 *    components", the regex (.*[/])? ;
 *  - a double star at the very end becomes ".*": "a/" + double star is
 *    everything under "a/", but not "a" itself;
 *  - a pattern that starts with a double star and has no other wildcard is
 *    a suffix test: double star + "file" matches "myfile" and "a/file".
 * Where Docker defers to Go's filepath.Match (class syntax, a lone trailing
 * backslash), we reject what filepath.Match rejects.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tpgrade/glob.h"
#include "tpgrade/sanitize.h"
#include "tpgrade/buf.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tpg_glob {
	char *pattern;
	pcre2_code *code;   /* NULL: the pattern can match nothing */
	bool literal;
};

char *tpg_path_clean(const char *path, bool *escapes)
{
	tpg_strv parts = TPG_STRV_INIT;
	const char *p = path;
	bool esc = false;

	while (*p == '/')
		p++;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* skip empty and "." components */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (parts.len > 0) {
				free(parts.items[--parts.len]);
				parts.items[parts.len] = NULL;
			} else {
				esc = true;
			}
		} else {
			tpg_strv_push_owned(&parts, tpg_xstrndup(p, n));
		}
		p += n;
		while (*p == '/')
			p++;
	}
	char *out = parts.len ? tpg_strv_join(&parts, "/") : tpg_xstrdup(".");
	tpg_strv_free(&parts);
	if (escapes)
		*escapes = esc;
	return out;
}

/* Bytes of the character at s: a whole UTF-8 sequence, or one stray byte
 * (which pcre2_compile will then refuse with a message). */
static size_t char_len(const char *s)
{
	size_t n = tpg_utf8_len(s, strlen(s), NULL);
	return n ? n : 1;
}

static void put_literal(tpg_buf *re, const char *s, size_t n)
{
	if (n == 1 && strchr("\\^$.|?*+()[]{}", s[0]))
		tpg_buf_putc(re, '\\');
	tpg_buf_append(re, s, n);
}

/* One character of a class, as filepath.Match's getEsc reads it: '-' and
 * ']' must be escaped, '\' escapes the next character. Returns its length
 * in the pattern (escape included), 0 when the class is malformed. */
static size_t class_char(const char *p, const char **ch, size_t *chlen)
{
	if (p[0] == '\0' || p[0] == '-' || p[0] == ']')
		return 0;
	if (p[0] == '\\') {
		if (p[1] == '\0')
			return 0;
		*ch = p + 1;
		*chlen = char_len(p + 1);
		return 1 + *chlen;
	}
	*ch = p;
	*chlen = char_len(p);
	return *chlen;
}

static void put_class_char(tpg_buf *re, const char *ch, size_t n)
{
	if (n == 1 && strchr("\\]^-[", ch[0]))
		tpg_buf_putc(re, '\\');
	tpg_buf_append(re, ch, n);
}

/* Copies the [...] class at pat[i] into the regex; returns the index after
 * its ']', or 0 when it is malformed (unclosed, empty, a bare '-' or ']'). */
static size_t put_class(tpg_buf *re, const char *pat, size_t i)
{
	size_t j = i + 1;
	int nrange = 0;

	tpg_buf_puts(re, "(?!/)[");
	if (pat[j] == '^' || pat[j] == '!') {
		tpg_buf_putc(re, '^');
		j++;
	}
	for (;;) {
		if (pat[j] == ']' && nrange > 0) {
			tpg_buf_putc(re, ']');
			return j + 1;
		}
		const char *lo, *hi;
		size_t lolen, hilen;
		size_t n = class_char(pat + j, &lo, &lolen);
		if (n == 0)
			return 0;
		j += n;
		put_class_char(re, lo, lolen);
		if (pat[j] == '-') {
			n = class_char(pat + j + 1, &hi, &hilen);
			if (n == 0)
				return 0;
			j += 1 + n;
			tpg_buf_putc(re, '-');
			put_class_char(re, hi, hilen);
		}
		nrange++;
	}
}

/* How moby/patternmatcher classifies a pattern; we only need it to know
 * whether a leading "**" is a plain suffix test. */
enum match_kind { KIND_EXACT, KIND_PREFIX, KIND_SUFFIX, KIND_REGEX };

static int bad_pattern(tpg_err *err, const char *pattern, const char *why)
{
	return tpg_err_set(err, TPG_EINVAL, "invalid pattern '%s': %s", pattern, why);
}

/* Builds the regex body (without anchors) for a cleaned pattern. */
static int translate(const char *clean, const char *pattern, tpg_buf *re,
                     bool *literal, tpg_err *err)
{
	enum match_kind kind = KIND_EXACT;
	bool suffix_slash = false;  /* leading "**" followed by "/" */
	size_t lead_end = 0;        /* end of what the leading "**" emitted */
	size_t i = 0;

	*literal = true;
	while (clean[i]) {
		bool first = i == 0;
		char c = clean[i];
		if (c == '*' && clean[i + 1] == '*') {
			*literal = false;
			i += 2;
			bool slash = clean[i] == '/';
			if (slash)
				i++;
			if (clean[i] == '\0') {
				kind = kind == KIND_EXACT ? KIND_PREFIX : KIND_REGEX;
				tpg_buf_puts(re, ".*");
			} else {
				kind = KIND_REGEX;
				tpg_buf_puts(re, "(?:.*/)?");
			}
			if (first) {
				kind = KIND_SUFFIX;
				suffix_slash = slash;
				lead_end = re->len;
			}
		} else if (c == '*') {
			*literal = false;
			kind = KIND_REGEX;
			tpg_buf_puts(re, "[^/]*");
			i++;
		} else if (c == '?') {
			*literal = false;
			kind = KIND_REGEX;
			tpg_buf_puts(re, "[^/]");
			i++;
		} else if (c == '[') {
			*literal = false;
			kind = KIND_REGEX;
			size_t next = put_class(re, clean, i);
			if (next == 0)
				return bad_pattern(err, pattern,
				                   "malformed '[...]' class (unclosed, empty, "
				                   "or an unescaped '-' or ']')");
			i = next;
		} else if (c == '\\') {
			if (clean[i + 1] == '\0')
				return bad_pattern(err, pattern, "it ends with a lone '\\'");
			*literal = false;
			kind = KIND_REGEX;
			size_t n = char_len(clean + i + 1);
			put_literal(re, clean + i + 1, n);
			i += 1 + n;
		} else {
			size_t n = char_len(clean + i);
			put_literal(re, clean + i, n);
			i += n;
		}
	}
	if (kind == KIND_SUFFIX && !suffix_slash) {
		/* A leading double star without a slash is a suffix test:
		 * "myfoo" and "a/foo" both end with "foo". */
		tpg_buf tail = TPG_BUF_INIT;
		tpg_buf_puts(&tail, ".*");
		tpg_buf_append(&tail, re->data + lead_end, re->len - lead_end);
		tpg_buf_free(re);
		*re = tail;
	}
	return 0;
}

int tpg_glob_compile(const char *pattern, int flags, tpg_glob **out, tpg_err *err)
{
	bool escapes;
	char *clean = tpg_path_clean(pattern, &escapes);

	*out = NULL;
	if (escapes && pattern[0] != '/') {
		/* "../x": Docker keeps the ".." (paths inside the context never
		 * start with one), so the pattern matches nothing. A leading "/"
		 * roots the pattern, and ".." at the root stays at the root. */
		tpg_glob *g = tpg_xcalloc(1, sizeof(*g));
		g->pattern = clean;
		*out = g;
		return 0;
	}

	tpg_buf body = TPG_BUF_INIT;
	bool literal;
	int rc = translate(clean, pattern, &body, &literal, err);
	if (rc < 0) {
		tpg_buf_free(&body);
		free(clean);
		return rc;
	}
	tpg_buf re = TPG_BUF_INIT;
	tpg_buf_printf(&re, "^%s$", tpg_buf_cstr(&body));
	tpg_buf_free(&body);

	int errcode;
	PCRE2_SIZE erroff;
	/* DOLLAR_ENDONLY: "a" must not match the name "a\n". */
	uint32_t options = PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | PCRE2_UTF |
	                   PCRE2_MATCH_INVALID_UTF;
	if (flags & TPG_GLOB_NOCASE)
		options |= PCRE2_CASELESS;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)tpg_buf_cstr(&re), re.len, options,
	                                 &errcode, &erroff, NULL);
	tpg_buf_free(&re);
	if (!code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		rc = bad_pattern(err, pattern, (char *)msg);
		free(clean);
		return rc;
	}
	tpg_glob *g = tpg_xcalloc(1, sizeof(*g));
	g->pattern = clean;
	g->code = code;
	g->literal = literal;
	*out = g;
	return 0;
}

/*
 * File names need not be UTF-8, and PCRE2 in UTF mode lets no wildcard
 * match an invalid byte. So each invalid byte b is replaced by the
 * private-use code point U+10FF00+b (one character, which no pattern names)
 * before matching: "*" and "?" then match it like any other character.
 * Returns NULL when `path` is valid UTF-8 already.
 */
static char *remap_invalid_utf8(const char *path, size_t *outlen)
{
	size_t len = strlen(path);
	tpg_buf out = TPG_BUF_INIT;

	if (tpg_sanitize_is_utf8(path, len))
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = tpg_utf8_len(path + i, len - i, NULL);
		if (n) {
			tpg_buf_append(&out, path + i, n);
			i += n;
			continue;
		}
		char mapped[4];
		tpg_buf_append(&out, mapped,
		               tpg_utf8_encode(0x10FF00u + (unsigned char)path[i], mapped));
		i++;
	}
	*outlen = out.len;
	return tpg_buf_detach(&out);
}

bool tpg_glob_match(const tpg_glob *glob, const char *path)
{
	if (!glob->code)
		return false;
	size_t len = 0;
	char *mapped = remap_invalid_utf8(path, &len);
	const char *subject = mapped ? mapped : path;
	if (!mapped)
		len = strlen(path);
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	int rc = pcre2_match(glob->code, (PCRE2_SPTR)subject, len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	free(mapped);
	return rc >= 0;
}

const char *tpg_glob_pattern(const tpg_glob *glob)
{
	return glob->pattern;
}

bool tpg_glob_is_literal(const tpg_glob *glob)
{
	return glob->literal;
}

void tpg_glob_free(tpg_glob *glob)
{
	if (!glob)
		return;
	pcre2_code_free(glob->code);
	free(glob->pattern);
	free(glob);
}

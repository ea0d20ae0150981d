/* glob.c - .dockerignore-style path patterns, compiled to PCRE2. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tpgrade/glob.h"
#include "tpgrade/buf.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

struct tpg_glob {
	char *pattern;
	pcre2_code *code;
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

static void put_literal(tpg_buf *re, char c)
{
	if (strchr("\\^$.|?*+()[]{}", c))
		tpg_buf_putc(re, '\\');
	tpg_buf_putc(re, c);
}

/* Copies a [...] class into the regex, returning the index after ']' or
 * -1 when it is not closed. */
static long put_class(tpg_buf *re, const char *pat, size_t i)
{
	size_t j = i + 1;
	tpg_buf_puts(re, "(?!/)[");
	if (pat[j] == '^' || pat[j] == '!') {
		tpg_buf_putc(re, '^');
		j++;
	}
	bool first = true;
	for (; pat[j]; j++) {
		char c = pat[j];
		if (c == ']' && !first) {
			tpg_buf_putc(re, ']');
			return (long)j + 1;
		}
		first = false;
		if (c == '\\' && pat[j + 1]) {
			j++;
			tpg_buf_putc(re, '\\');
			tpg_buf_putc(re, pat[j]);
			continue;
		}
		if (c == '[' || c == '\\' || c == ']' || c == '^')
			tpg_buf_putc(re, '\\');
		tpg_buf_putc(re, c);
	}
	return -1;
}

int tpg_glob_compile(const char *pattern, int flags, tpg_glob **out, tpg_err *err)
{
	tpg_buf re = TPG_BUF_INIT;
	char *clean = tpg_path_clean(pattern, NULL);
	bool literal = true;
	size_t i = 0;

	*out = NULL;
	tpg_buf_puts(&re, "^");
	while (clean[i]) {
		char c = clean[i];
		if (c == '*' && clean[i + 1] == '*') {
			literal = false;
			bool at_start = i == 0 || clean[i - 1] == '/';
			size_t j = i + 2;
			while (clean[j] == '*')
				j++;
			if (at_start && clean[j] == '/') {
				/* "**" + "/": zero or more whole components */
				tpg_buf_puts(&re, "(?:.*/)?");
				i = j + 1;
			} else if (at_start && clean[j] == '\0' && i > 0) {
				/* "a/" + "**": everything under a/, and a/ itself */
				re.len--; /* drop the '/' already emitted */
				re.data[re.len] = '\0';
				tpg_buf_puts(&re, "(?:/.*)?");
				i = j;
			} else {
				tpg_buf_puts(&re, ".*");
				i = j;
			}
		} else if (c == '*') {
			literal = false;
			tpg_buf_puts(&re, "[^/]*");
			i++;
		} else if (c == '?') {
			literal = false;
			tpg_buf_puts(&re, "[^/]");
			i++;
		} else if (c == '[') {
			literal = false;
			long next = put_class(&re, clean, i);
			if (next < 0) {
				tpg_buf_free(&re);
				int rc = tpg_err_set(err, TPG_EINVAL,
				                     "invalid pattern '%s': '[' is never closed", pattern);
				free(clean);
				return rc;
			}
			i = (size_t)next;
		} else if (c == '\\') {
			if (clean[i + 1] == '\0') {
				tpg_buf_free(&re);
				int rc = tpg_err_set(err, TPG_EINVAL,
				                     "invalid pattern '%s': it ends with a lone '\\'", pattern);
				free(clean);
				return rc;
			}
			literal = false;
			put_literal(&re, clean[i + 1]);
			i += 2;
		} else {
			put_literal(&re, c);
			i++;
		}
	}
	tpg_buf_puts(&re, "$");

	int errcode;
	PCRE2_SIZE erroff;
	uint32_t options = PCRE2_DOTALL | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	if (flags & TPG_GLOB_NOCASE)
		options |= PCRE2_CASELESS;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)tpg_buf_cstr(&re), re.len, options,
	                                 &errcode, &erroff, NULL);
	tpg_buf_free(&re);
	if (!code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		int rc = tpg_err_set(err, TPG_EINVAL, "invalid pattern '%s': %s", pattern, (char *)msg);
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

bool tpg_glob_match(const tpg_glob *glob, const char *path)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(glob->code, NULL);
	int rc = pcre2_match(glob->code, (PCRE2_SPTR)path, strlen(path), 0, 0, md, NULL);
	pcre2_match_data_free(md);
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

/* textmatch.c - string conditions with explanations. */
#include "tpgrade/textmatch.h"
#include "tpgrade/regex.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OP_EQUALS, OP_CONTAINS, OP_NOT_CONTAINS, OP_MATCHES, OP_NOT_MATCHES } op_t;

static const char *const op_keys[] = { "equals", "contains", "not-contains", "matches",
                                        "not-matches" };

typedef struct cond {
	op_t op;
	char *text;          /* equals/contains */
	tpg_regex *re;       /* matches */
} cond;

struct tpg_textmatch {
	cond *conds;
	size_t n, cap;
	bool nocase;
};

void tpg_quote_excerpt(tpg_buf *out, const char *s, size_t len, size_t max)
{
	tpg_buf_putc(out, '\'');
	size_t n = len < max ? len : max;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			tpg_buf_puts(out, "\\n");
		else if (c == '\t')
			tpg_buf_puts(out, "\\t");
		else if (c < 0x20 || c == 0x7f)
			tpg_buf_printf(out, "\\x%02x", c);
		else
			tpg_buf_putc(out, (char)c);
	}
	if (len > max)
		tpg_buf_puts(out, "...");
	tpg_buf_putc(out, '\'');
}

static void add(tpg_textmatch *m, op_t op, char *text, tpg_regex *re)
{
	TPG_ARRAY_GROW(m->conds, m->n, m->cap);
	m->conds[m->n].op = op;
	m->conds[m->n].text = text;
	m->conds[m->n].re = re;
	m->n++;
}

static int parse_values(tpg_fields *f, const tpg_yaml_node *node, const char *key, op_t op,
                        tpg_textmatch *m, int regex_flags)
{
	size_t count = node->type == TPG_YAML_SEQ ? node->n : 1;
	int bad = 0;
	if (node->type == TPG_YAML_MAP) {
		tpg_fields_error(f, node, key, "must be a string or a list of strings");
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const tpg_yaml_node *item = node->type == TPG_YAML_SEQ ? node->items[i] : node;
		char sub[64];
		snprintf(sub, sizeof(sub), node->type == TPG_YAML_SEQ ? "%s[%zu]" : "%s", key, i);
		if (op == OP_MATCHES || op == OP_NOT_MATCHES) {
			tpg_regex *re;
			if (tpg_fields_regex_node(f, item, sub, regex_flags, &re) < 0) {
				bad = 1;
				continue;
			}
			add(m, op, NULL, re);
		} else {
			tpg_tmpl t;
			if (item->type != TPG_YAML_SCALAR) {
				tpg_fields_error(f, item, sub, "must be a string, not %s", tpg_yaml_type_name(item));
				bad = 1;
				continue;
			}
			if (tpg_fields_expand(f, item, sub, false, &t) < 0) {
				bad = 1;
				continue;
			}
			add(m, op, t.text, NULL);
		}
	}
	return bad ? -1 : 0;
}

int tpg_textmatch_parse(tpg_fields *f, const tpg_yaml_node *node, const char *key,
                        tpg_textmatch **out)
{
	tpg_textmatch *m = tpg_xcalloc(1, sizeof(*m));
	int bad = 0;

	*out = NULL;
	if (node->type == TPG_YAML_SCALAR || node->type == TPG_YAML_SEQ) {
		bad = parse_values(f, node, key, OP_CONTAINS, m, 0) < 0;
	} else {
		tpg_fields *sub = tpg_fields_sub(f, node, key);
		if (!sub) {
			tpg_textmatch_free(m);
			return -1;
		}
		tpg_fields_bool(sub, "nocase", &m->nocase);
		for (size_t k = 0; k < TPG_ARRAY_LEN(op_keys); k++) {
			const tpg_yaml_node *v = tpg_fields_take(sub, op_keys[k]);
			if (v && parse_values(sub, v, op_keys[k], (op_t)k, m,
			                      m->nocase ? TPG_REGEX_NOCASE : 0) < 0)
				bad = 1;
		}
		if (m->n == 0 && tpg_fields_errors(sub) == 0)
			tpg_fields_error(f, node, key,
			                 "give at least one of equals, contains, not-contains, matches, not-matches");
		if (tpg_fields_end(sub) < 0)
			bad = 1;
	}
	if (bad || m->n == 0) {
		tpg_textmatch_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

static const char *find_text(const char *hay, size_t len, const char *needle, bool nocase)
{
	size_t nlen = strlen(needle);
	if (nlen == 0)
		return hay;
	if (nlen > len)
		return NULL;
	for (size_t i = 0; i + nlen <= len; i++) {
		if (nocase ? strncasecmp(hay + i, needle, nlen) == 0 : memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	}
	return NULL;
}

/* The line of `text` around offset `at`, for messages. */
static void line_at(tpg_buf *why, const char *text, size_t len, size_t at)
{
	size_t s = at, e = at;
	int line = 1;
	while (s > 0 && text[s - 1] != '\n')
		s--;
	while (e < len && text[e] != '\n')
		e++;
	for (size_t i = 0; i < s; i++)
		if (text[i] == '\n')
			line++;
	/* Trim the line's leading blanks for readability. */
	while (s < e && (text[s] == ' ' || text[s] == '\t'))
		s++;
	tpg_buf_printf(why, " (line %d: ", line);
	tpg_quote_excerpt(why, text + s, e - s, 160);
	tpg_buf_putc(why, ')');
}

static bool has_newline(const char *text, size_t len)
{
	return memchr(text, '\n', len) != NULL;
}

int tpg_textmatch_eval(const tpg_textmatch *m, const char *text, size_t len, const char *what,
                       tpg_buf *why)
{
	tpg_buf held = TPG_BUF_INIT;
	bool multiline = has_newline(text, len);

	for (size_t i = 0; i < m->n; i++) {
		const cond *c = &m->conds[i];
		size_t s = 0, e = 0;
		int rc;
		const char *hit;
		tpg_buf one = TPG_BUF_INIT;
		bool ok;

		switch (c->op) {
		case OP_EQUALS: {
			/* Output usually ends with a newline the author did not write. */
			size_t l = len;
			while (l > 0 && (text[l - 1] == '\n' || text[l - 1] == '\r'))
				l--;
			ok = l == strlen(c->text) &&
			     (m->nocase ? strncasecmp(text, c->text, l) == 0 : memcmp(text, c->text, l) == 0);
			tpg_buf_printf(&one, "%s %s ", what, ok ? "is" : "is not");
			tpg_quote_excerpt(&one, c->text, strlen(c->text), 200);
			if (!ok) {
				tpg_buf_puts(&one, " (it is ");
				tpg_quote_excerpt(&one, text, len, 200);
				tpg_buf_putc(&one, ')');
			}
			break;
		}
		case OP_CONTAINS:
		case OP_NOT_CONTAINS:
			hit = find_text(text, len, c->text, m->nocase);
			ok = (hit != NULL) == (c->op == OP_CONTAINS);
			tpg_buf_printf(&one, "%s %s ", what, hit ? "contains" : "does not contain");
			tpg_quote_excerpt(&one, c->text, strlen(c->text), 200);
			if (hit && c->op == OP_NOT_CONTAINS && multiline)
				line_at(&one, text, len, (size_t)(hit - text));
			break;
		case OP_MATCHES:
		case OP_NOT_MATCHES:
			rc = tpg_regex_search(c->re, text, len, &s, &e);
			if (rc < 0) {
				tpg_buf_printf(why, "the regular expression /%s/ was too costly to evaluate on %s",
				               tpg_regex_pattern(c->re), what);
				tpg_buf_free(&held);
				tpg_buf_free(&one);
				return rc;
			}
			ok = (rc == 1) == (c->op == OP_MATCHES);
			tpg_buf_printf(&one, "%s %s /%s/", what, rc == 1 ? "matches" : "does not match",
			               tpg_regex_pattern(c->re));
			if (rc == 1 && c->op == OP_NOT_MATCHES && multiline)
				line_at(&one, text, len, s);
			else if (rc == 1 && c->op == OP_NOT_MATCHES) {
				tpg_buf_puts(&one, " (");
				tpg_quote_excerpt(&one, text + s, e - s, 160);
				tpg_buf_putc(&one, ')');
			}
			break;
		default:
			ok = false;
		}
		if (!ok && (c->op == OP_CONTAINS || c->op == OP_MATCHES) && !multiline && len <= 160 &&
		    len > 0 && !memmem(what, strlen(what), text, len)) {
			/* A short value that lacks something: show it (unless the
			 * caller's description already does). */
			tpg_buf_puts(&one, " (it is ");
			tpg_quote_excerpt(&one, text, len, 160);
			tpg_buf_putc(&one, ')');
		}
		if (!ok) {
			tpg_buf_puts(why, tpg_buf_cstr(&one));
			tpg_buf_free(&one);
			tpg_buf_free(&held);
			return 0;
		}
		if (held.len)
			tpg_buf_puts(&held, "; ");
		tpg_buf_puts(&held, tpg_buf_cstr(&one));
		tpg_buf_free(&one);
	}
	tpg_buf_puts(why, tpg_buf_cstr(&held));
	tpg_buf_free(&held);
	return 1;
}

void tpg_textmatch_free(tpg_textmatch *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->conds[i].text);
		tpg_regex_free(m->conds[i].re);
	}
	free(m->conds);
	free(m);
}

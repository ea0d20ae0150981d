/*
 * dockerfile.c - BuildKit's parser.Parse: lines, directives, comments,
 * continuations, heredoc bodies, line numbers, warnings and errors; plus
 * Node.Dump() and strconv.Quote.
 *
 * The control flow follows BuildKit's so that the corner cases come out the
 * same: lines are bufio.Scanner tokens that keep their "\n" (a line of 64 KiB
 * or more stops the scan), the first line loses a UTF-8 BOM, directives are
 * looked for on every line until the first non-directive, comment lines
 * vanish even inside a continuation, blank lines inside one are skipped with
 * a warning, error locations are BuildKit's (directive errors one line
 * early, "file with no instructions" on the last line).
 */
#include "dockerfile_int.h"
#include "tpgrade/shellword.h"

#include <stdlib.h>
#include <string.h>

#define MSG_TOO_LONG "dockerfile line greater than max allowed size of 65535"

/* ---- strconv.Quote ------------------------------------------------------ */

void tpg_go_quote(const char *s, size_t len, tpg_buf *out)
{
	tpg_buf_putc(out, '"');
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		int32_t r = c;
		size_t w = 1;

		if (c >= 0x80) {
			r = tpg_go_decode_rune(s + i, len - i, &w);
			if (w == 1) {   /* an invalid byte */
				tpg_buf_printf(out, "\\x%02x", c);
				i++;
				continue;
			}
		}
		if (r == '"' || r == '\\') {
			tpg_buf_putc(out, '\\');
			tpg_buf_putc(out, (char)r);
		} else if (tpg_go_is_print(r)) {
			tpg_buf_append(out, s + i, w);
		} else {
			switch (r) {
			case '\a': tpg_buf_puts(out, "\\a"); break;
			case '\b': tpg_buf_puts(out, "\\b"); break;
			case '\f': tpg_buf_puts(out, "\\f"); break;
			case '\n': tpg_buf_puts(out, "\\n"); break;
			case '\r': tpg_buf_puts(out, "\\r"); break;
			case '\t': tpg_buf_puts(out, "\\t"); break;
			case '\v': tpg_buf_puts(out, "\\v"); break;
			default:
				if (r < ' ' || r == 0x7f)
					tpg_buf_printf(out, "\\x%02x", (unsigned)r);
				else if (r < 0x10000)
					tpg_buf_printf(out, "\\u%04x", (unsigned)r);
				else
					tpg_buf_printf(out, "\\U%08x", (unsigned)r);
			}
		}
		i += w;
	}
	tpg_buf_putc(out, '"');
}

/* ---- Dump --------------------------------------------------------------- */

static void dump_head(const tpg_df_instr *n, tpg_buf *out)
{
	tpg_buf_puts(out, n->cmd);
	if (n->flags.len > 0) {
		tpg_buf_puts(out, " [");
		for (size_t i = 0; i < n->flags.len; i++) {
			if (i)
				tpg_buf_putc(out, ' ');
			tpg_go_quote(n->flags.items[i], strlen(n->flags.items[i]), out);
		}
		tpg_buf_putc(out, ']');
	}
}

void tpg_df_instr_dump(const tpg_df_instr *in, tpg_buf *out)
{
	const tpg_df_instr *n = in;
	tpg_buf tmp = TPG_BUF_INIT;
	size_t depth = 0, b, e;

	/* ONBUILD nests as "onbuild [flags] (" inner ")", iteratively. */
	while (n->inner) {
		dump_head(n, out);
		tpg_buf_puts(out, " (");
		depth++;
		n = n->inner;
	}
	dump_head(n, &tmp);
	for (size_t i = 0; i < n->args.len; i++) {
		tpg_buf_putc(&tmp, ' ');
		tpg_go_quote(n->args.items[i], n->arg_lens ? n->arg_lens[i] : strlen(n->args.items[i]),
			     &tmp);
	}
	tpg_buf_append(&tmp, "", 0);
	b = 0;
	e = tmp.len;
	df_trim_space(tmp.data, &b, &e);
	tpg_buf_append(out, tmp.data + b, e - b);
	tpg_buf_free(&tmp);
	while (depth-- > 0)
		tpg_buf_putc(out, ')');
}

void tpg_dockerfile_dump(const tpg_dockerfile *df, tpg_buf *out)
{
	tpg_buf_append(out, "", 0);
	for (size_t i = 0; i < df->ninstrs; i++) {
		tpg_buf_putc(out, '(');
		tpg_df_instr_dump(&df->instrs[i], out);
		tpg_buf_puts(out, ")\n");
	}
}

/* ---- freeing ------------------------------------------------------------ */

void df_instr_clear(tpg_df_instr *in)
{
	tpg_df_instr *cur = in;
	bool first = true;

	while (cur) {
		tpg_df_instr *next = cur->inner;
		free(cur->keyword);
		free(cur->cmd);
		tpg_strv_free(&cur->flags);
		tpg_strv_free(&cur->args);
		free(cur->arg_lens);
		free(cur->json_error);
		free(cur->original);
		for (size_t i = 0; i < cur->nheredocs; i++)
			tpg_df_heredoc_clear(&cur->heredocs[i]);
		free(cur->heredocs);
		tpg_strv_free(&cur->comments);
		if (first)
			memset(cur, 0, sizeof(*cur));
		else
			free(cur);
		first = false;
		cur = next;
	}
}

void tpg_dockerfile_free(tpg_dockerfile *df)
{
	if (!df)
		return;
	for (size_t i = 0; i < df->ninstrs; i++)
		df_instr_clear(&df->instrs[i]);
	free(df->instrs);
	free(df->syntax);
	free(df->check);
	tpg_strv_free(&df->warnings);
	free(df->warning_lines);
	free(df);
}

/* ---- the line scanner (bufio.Scanner with BuildKit's scanLines) ---------- */

typedef struct lscan {
	const char *d;
	size_t n;
	size_t pos;
	bool too_long;
	const char *tok;   /* current line, "\n" included */
	size_t tlen;
} lscan;

static bool lscan_next(lscan *s)
{
	const char *nl;
	size_t content;

	if (s->too_long || s->pos >= s->n)
		return false;
	nl = memchr(s->d + s->pos, '\n', s->n - s->pos);
	content = nl ? (size_t)(nl - (s->d + s->pos)) : s->n - s->pos;
	if (content >= TPG_DF_MAX_LINE) {
		s->too_long = true;
		return false;
	}
	s->tok = s->d + s->pos;
	s->tlen = nl ? content + 1 : content;
	s->pos += s->tlen;
	return true;
}

/* ---- per-line helpers --------------------------------------------------- */

static size_t trim_newline(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return n;
}

static bool is_comment(const char *s, size_t n)
{
	size_t b = 0;
	df_trim_left_space(s, &b, n);
	return b < n && s[b] == '#';
}

static bool is_empty_continuation(const char *s, size_t n)
{
	size_t b = 0;
	n = trim_newline(s, n);
	df_trim_left_space(s, &b, n);
	return b == n;
}

/* `([^E])E[ \t]*$|^E[ \t]*$` replaced by "$1": returns true (and the new
 * length) when the line continues. */
static bool trim_continuation(const char *s, size_t *n, char esc)
{
	size_t e = *n;

	while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	if (e == 0 || s[e - 1] != esc)
		return false;
	if (e == 1) {
		*n = 0;
		return true;
	}
	if (s[e - 2] == esc)
		return false;
	*n = e - 1;
	return true;
}

/* ---- the parser ---------------------------------------------------------- */

typedef struct pstate {
	tpg_dockerfile *df;
	df_directives dirs;
	size_t cap;
	int lcap;
} pstate;

static int parse_fail(tpg_df_errpos *pos, int start, int end, tpg_err *err)
{
	if (end <= start)
		end = start;
	if (pos) {
		pos->start_line = start;
		pos->end_line = end;
	}
	return err && err->code ? err->code : TPG_EPARSE;
}

/* processLine: the line without its newline (and leading blanks for the
 * first line of an instruction), directive detection, comments blanked.
 * Returns <0 on a directive error, else sets *out_len (0 for a comment). */
static int process_line(pstate *p, const char *tok, size_t tlen, bool strip_left, size_t *off,
			size_t *out_len, bool *directive, tpg_err *err)
{
	size_t b = 0, n = trim_newline(tok, tlen);
	char *name = NULL, *value = NULL;
	int rc;

	if (strip_left)
		df_trim_left_space(tok, &b, n);
	*directive = false;
	rc = df_directive_line(&p->dirs, tok + b, n - b, &name, &value, err);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if (!strcmp(name, "escape")) {
			if (strcmp(value, "`") != 0 && strcmp(value, "\\") != 0) {
				tpg_err_set(err, TPG_EPARSE,
					    "invalid escape token '%s' does not match ` or \\", value);
				free(name);
				free(value);
				return TPG_EPARSE;
			}
			p->df->escape = value[0];
		} else if (!strcmp(name, "syntax") && !p->df->syntax) {
			p->df->syntax = value;
			value = NULL;
		} else if (!strcmp(name, "check") && !p->df->check) {
			p->df->check = value;
			value = NULL;
		}
		*directive = true;
		free(name);
		free(value);
	}
	*off = b;
	*out_len = is_comment(tok + b, n - b) ? 0 : n - b;
	return 0;
}

static const char *not_text_reason(const char *data, size_t len, int *line)
{
	const char *nul = memchr(data, '\0', len);
	int l = 1;

	if (!nul)
		return NULL;
	for (const char *c = data; c < nul; c++)
		if (*c == '\n')
			l++;
	*line = l;
	if (len >= 2 && (((unsigned char)data[0] == 0xFF && (unsigned char)data[1] == 0xFE) ||
			 ((unsigned char)data[0] == 0xFE && (unsigned char)data[1] == 0xFF)))
		return "the Dockerfile is encoded in UTF-16 (as some Windows editors save it); "
		       "docker build reads UTF-8: save it as UTF-8";
	return "the Dockerfile is not a text file: it contains a NUL byte (UTF-16 files, as some "
	       "Windows editors save them, look like this; save it as UTF-8)";
}

static void add_warning(pstate *p, const char *line, int at)
{
	char *msg = tpg_xasprintf("Empty continuation line found in: %s", line);
	tpg_strv_push_owned(&p->df->warnings, msg);
	p->df->warning_lines = tpg_xreallocarray(p->df->warning_lines, p->df->warnings.len,
						 sizeof(int));
	p->df->warning_lines[p->df->warnings.len - 1] = at;
}

static int read_heredocs(pstate *p, lscan *sc, tpg_df_instr *child, const char *line,
			 int start, int *cur, tpg_df_errpos *pos, tpg_err *err)
{
	tpg_df_heredoc *docs;
	size_t nd;
	int rc = tpg_df_heredocs_from_line(line, &docs, &nd, err);

	(void)p;
	if (rc < 0)
		return parse_fail(pos, start, *cur, err);
	for (size_t k = 0; k < nd; k++) {
		tpg_df_heredoc *h = &docs[k];
		tpg_buf content = TPG_BUF_INIT;
		bool done = false;
		size_t nlen = strlen(h->name);

		tpg_buf_append(&content, "", 0);
		while (lscan_next(sc)) {
			size_t n = trim_newline(sc->tok, sc->tlen), b = 0;
			(*cur)++;
			if (h->chomp)
				while (b < n && sc->tok[b] == '\t')
					b++;
			if (n - b == nlen && memcmp(sc->tok + b, h->name, nlen) == 0) {
				done = true;
				break;
			}
			tpg_buf_append(&content, sc->tok, sc->tlen);
		}
		if (!done) {
			tpg_buf_free(&content);
			for (size_t j = 0; j < nd; j++)
				tpg_df_heredoc_clear(&docs[j]);
			free(docs);
			tpg_err_set(err, TPG_EPARSE, "unterminated heredoc");
			return parse_fail(pos, start, *cur, err);
		}
		free(h->content);
		h->content = tpg_buf_detach(&content);
	}
	child->heredocs = docs;
	child->nheredocs = nd;
	return 0;
}

int tpg_dockerfile_parse_at(const char *data, size_t len, tpg_dockerfile **out,
			    tpg_df_errpos *pos, tpg_err *err)
{
	pstate p;
	lscan sc = {0};
	int cur = 0, rc = 0;
	tpg_strv comments = TPG_STRV_INIT;
	tpg_buf line = TPG_BUF_INIT;
	const char *why;
	int nul_line = 0;

	*out = NULL;
	if (pos)
		pos->start_line = pos->end_line = 0;
	if (!data)
		data = "";
	why = not_text_reason(data, len, &nul_line);
	if (why) {
		tpg_err_set(err, TPG_EPARSE, "%s", why);
		return parse_fail(pos, nul_line, nul_line, err);
	}
	memset(&p, 0, sizeof(p));
	p.df = tpg_xcalloc(1, sizeof(*p.df));
	p.df->escape = '\\';
	p.dirs.prefix = "#";
	sc.d = data;
	sc.n = len;

	while (lscan_next(&sc)) {
		const char *tok = sc.tok;
		size_t tlen = sc.tlen, off, n;
		bool directive, cont, has_empty = false;
		int start;

		if (cur == 0 && tlen >= 3 && memcmp(tok, "\xEF\xBB\xBF", 3) == 0) {
			tok += 3;
			tlen -= 3;
		}
		if (is_comment(tok, tlen)) {
			size_t b = tlen ? 1 : 0, e = tlen;
			df_trim_space(tok, &b, &e);
			if (b == e)
				tpg_strv_free(&comments);
			else
				tpg_strv_push_owned(&comments, tpg_xstrndup(tok + b, e - b));
		}
		rc = process_line(&p, tok, tlen, true, &off, &n, &directive, err);
		if (directive && comments.len > 0) {
			free(comments.items[--comments.len]);
			comments.items[comments.len] = NULL;
		}
		if (rc < 0) {
			rc = parse_fail(pos, cur, 0, err);
			goto fail;
		}
		cur++;
		start = cur;
		cont = trim_continuation(tok + off, &n, p.df->escape);
		if (!cont && n == 0)
			continue;
		tpg_buf_clear(&line);
		tpg_buf_append(&line, tok + off, n);

		while (cont && lscan_next(&sc)) {
			size_t o2, n2;
			bool d2;
			rc = process_line(&p, sc.tok, sc.tlen, false, &o2, &n2, &d2, err);
			if (rc < 0) {
				rc = parse_fail(pos, cur, 0, err);
				goto fail;
			}
			cur++;
			if (is_comment(sc.tok, sc.tlen))
				continue;
			if (is_empty_continuation(sc.tok + o2, n2)) {
				has_empty = true;
				continue;
			}
			cont = trim_continuation(sc.tok + o2, &n2, p.df->escape);
			tpg_buf_append(&line, sc.tok + o2, n2);
		}

		if (has_empty)
			add_warning(&p, tpg_buf_cstr(&line), cur);

		tpg_df_instr child;
		rc = df_node_from_line(tpg_buf_cstr(&line), line.len, p.df->escape, &child, err);
		if (rc) {
			rc = parse_fail(pos, start, cur, err);
			goto fail;
		}
		child.comments = comments;
		memset(&comments, 0, sizeof(comments));
		if (df_can_contain_heredoc(&child) && strstr(tpg_buf_cstr(&line), "<<")) {
			rc = read_heredocs(&p, &sc, &child, tpg_buf_cstr(&line), start, &cur, pos, err);
			if (rc) {
				df_instr_clear(&child);
				goto fail;
			}
		}
		child.start_line = start;
		child.end_line = cur;
		TPG_ARRAY_GROW(p.df->instrs, p.df->ninstrs, p.cap);
		p.df->instrs[p.df->ninstrs++] = child;
	}

	if (p.df->ninstrs == 0) {
		tpg_err_set(err, TPG_EPARSE, "file with no instructions");
		rc = parse_fail(pos, cur, 0, err);
		goto fail;
	}
	if (sc.too_long) {
		tpg_err_set(err, TPG_EPARSE, MSG_TOO_LONG);
		rc = parse_fail(pos, cur, 0, err);
		goto fail;
	}
	tpg_strv_free(&comments);
	tpg_buf_free(&line);
	*out = p.df;
	return 0;

fail:
	tpg_strv_free(&comments);
	tpg_buf_free(&line);
	tpg_dockerfile_free(p.df);
	return rc ? rc : TPG_EPARSE;
}

int tpg_dockerfile_parse(const char *data, size_t len, tpg_dockerfile **out, int *err_line,
			 tpg_err *err)
{
	tpg_df_errpos pos;
	int rc = tpg_dockerfile_parse_at(data, len, out, &pos, err);

	if (err_line)
		*err_line = rc ? pos.start_line : 0;
	return rc;
}

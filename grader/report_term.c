/*
 * report_term.c - the report for humans at a terminal (docs/reports.md).
 *
 * The whole document is built in memory, then written once: that keeps the
 * ASCII transliteration a single pass, and a failing write a single check.
 * Everything that comes from the report goes through tpg_sanitize_term
 * first, so the only escape sequences in the buffer are our colours, which
 * the wrapping code knows to be zero-width.
 */
#include "tpgrade/report.h"
#include "tpgrade/sanitize.h"
#include "report_priv.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OUTPUT_LINES_DEFAULT 20
#define OUTPUT_LINE_MAX 400
#define OUTPUT_SCAN_MAX (256 * 1024)

#define SGR_GREEN "32"
#define SGR_RED "31"
#define SGR_YELLOW "33"
#define SGR_DIM "2"
#define SGR_BOLD "1"

typedef struct term {
	const tpg_report *r;
	tpg_term_opts o;
	bool fr;
	tpg_buf b;
	int ptsw;      /* width of the points column */
} term;

static const char *L(const term *t, const char *en, const char *fr)
{
	return t->fr ? fr : en;
}

static void sgr(term *t, const char *code)
{
	if (t->o.color && code)
		tpg_buf_printf(&t->b, "\033[%sm", code);
}

static void reset(term *t)
{
	if (t->o.color)
		tpg_buf_puts(&t->b, "\033[0m");
}

static void put_clean(tpg_buf *b, const char *s)
{
	if (s)
		tpg_sanitize_term_buf(b, s, strlen(s));
}

static void spaces(tpg_buf *b, int n)
{
	for (int i = 0; i < n; i++)
		tpg_buf_putc(b, ' ');
}

/* Columns a code point takes: 0 for combining marks, 2 for wide ones. */
static int cp_width(uint32_t cp)
{
	if ((cp >= 0x0300 && cp <= 0x036F) || cp == 0x200B || (cp >= 0xFE00 && cp <= 0xFE0F))
		return 0;
	if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
	    (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
	    (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
	    (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
	    (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD))
		return 2;
	return 1;
}

/*
 * Bytes of the longest prefix of s[0..len) that fits in `cols` columns (at
 * least one code point, so a hard break always progresses), our colour
 * sequences being zero-width; *width gets the prefix's width.
 */
static size_t fit_prefix(const char *s, size_t len, int cols, int *width)
{
	size_t i = 0;
	int w = 0;

	while (i < len) {
		uint32_t cp;
		size_t n;
		if (s[i] == '\033') {
			while (i < len && s[i] != 'm')
				i++;
			i++;
			continue;
		}
		n = tpg_sanitize_decode(s + i, len - i, &cp);
		int cw = cp == '\t' ? 1 : cp_width(cp);
		if (i > 0 && w + cw > cols)
			break;
		w += cw;
		i += n;
	}
	if (width)
		*width = w;
	return i < len ? i : len;
}

/* Display width of s[0..len). */
static int text_width(const char *s, size_t len)
{
	int w;
	fit_prefix(s, len, INT_MAX, &w);
	return w;
}

static void newline_indent(term *t, int indent, int *col)
{
	tpg_buf_putc(&t->b, '\n');
	spaces(&t->b, indent);
	*col = indent;
}

/*
 * Writes `text` (sanitized; may hold our colours) with the cursor at column
 * `col`; its further lines start at column `indent`. With a width, words
 * are wrapped and over-long ones broken.
 */
static void put_para(term *t, const char *text, int col, int indent)
{
	int width = t->o.width;
	const char *p = text;
	bool first_para = true;

	if (width > 0 && width < indent + 10)
		width = indent + 10;   /* too narrow to be useful: overflow a bit */
	while (true) {
		const char *nl = strchr(p, '\n');
		size_t plen = nl ? (size_t)(nl - p) : strlen(p);

		if (!first_para)
			newline_indent(t, indent, &col);
		first_para = false;
		if (width <= 0) {
			tpg_buf_append(&t->b, p, plen);
		} else {
			bool fresh = true;   /* nothing on this line yet */
			size_t i = 0;
			while (i < plen) {
				size_t ws, we;
				while (i < plen && (p[i] == ' ' || p[i] == '\t'))
					i++;
				if (i >= plen)
					break;
				ws = i;
				while (i < plen && p[i] != ' ' && p[i] != '\t')
					i++;
				we = i;
				int ww = text_width(p + ws, we - ws);
				if (!fresh && col + 1 + ww > width)
					newline_indent(t, indent, &col);
				else if (fresh && col > indent && col + ww > width &&
				         ww <= width - indent)
					newline_indent(t, indent, &col);   /* fits on the next line */
				else if (!fresh) {
					tpg_buf_putc(&t->b, ' ');
					col++;
				}
				/* Longer than a line: break it where it must. */
				while (col + ww > width && ww > width - indent) {
					int pw;
					size_t n = fit_prefix(p + ws, we - ws, width - col, &pw);
					tpg_buf_append(&t->b, p + ws, n);
					ws += n;
					ww -= pw;
					newline_indent(t, indent, &col);
				}
				tpg_buf_append(&t->b, p + ws, we - ws);
				col += ww;
				fresh = false;
			}
		}
		if (!nl)
			break;
		p = nl + 1;
	}
}

/* --- checks -------------------------------------------------------------- */

static const char *mark(const term *t, tpg_status s, const char **color)
{
	switch (s) {
	case TPG_STATUS_PASSED: *color = SGR_GREEN; return t->o.ascii ? "[OK]" : "\xE2\x9C\x94";
	case TPG_STATUS_FAILED: *color = SGR_RED; return t->o.ascii ? "[KO]" : "\xE2\x9C\x98";
	case TPG_STATUS_ERROR: *color = SGR_YELLOW; return t->o.ascii ? "[!!]" : "\xE2\x9A\xA0";
	default: *color = SGR_DIM; return t->o.ascii ? "[--]" : "\xE2\x97\x8B";
	}
}

static void points(const tpg_report_check *c, char *buf, size_t n)
{
	char p[32], m[32];

	if (!c->counted) {
		snprintf(buf, n, "-");
		return;
	}
	tpg_report_fmt_num(c->points, p, sizeof(p));
	tpg_report_fmt_num(c->max_points, m, sizeof(m));
	snprintf(buf, n, "%s%s/%s", c->bonus ? "+" : "", p, m);
}

static bool is_problem(const tpg_report_check *c)
{
	return c->status == TPG_STATUS_FAILED || c->status == TPG_STATUS_ERROR;
}

static void put_labelled(term *t, int indent, const char *label, const char *color,
                         const char *text)
{
	tpg_buf tmp = TPG_BUF_INIT;
	int lw = text_width(label, strlen(label));

	spaces(&t->b, indent);
	sgr(t, color);
	tpg_buf_puts(&t->b, label);
	reset(t);
	put_clean(&tmp, text);
	put_para(t, tpg_buf_cstr(&tmp), indent + lw, indent + lw);
	tpg_buf_putc(&t->b, '\n');
	tpg_buf_free(&tmp);
}

static void put_message(term *t, int indent, const char *msg)
{
	tpg_buf tmp = TPG_BUF_INIT;

	spaces(&t->b, indent);
	put_clean(&tmp, msg);
	put_para(t, tpg_buf_cstr(&tmp), indent, indent);
	tpg_buf_putc(&t->b, '\n');
	tpg_buf_free(&tmp);
}

/* The last lines of the output, as a quoted block. */
static void put_output(term *t, const tpg_report_check *c, int indent)
{
	size_t len = tpg_report_output_len(c), off, nlines = 0, total = 0;
	int want = t->o.output_lines > 0 ? t->o.output_lines : OUTPUT_LINES_DEFAULT;
	const char *bar = t->o.ascii ? "| " : "\xE2\x94\x82 ";
	char *clean;
	size_t clen, start;

	if (!len)
		return;
	off = tpg_sanitize_tail(c->output, len, OUTPUT_SCAN_MAX);
	clean = tpg_sanitize_term(c->output + off, len - off);
	clen = strlen(clean);
	while (clen && clean[clen - 1] == '\n')
		clen--;
	for (size_t i = 0; i < clen; i++)
		total += clean[i] == '\n';
	total++;
	start = clen;
	while (start > 0 && nlines < (size_t)want) {
		start--;
		while (start > 0 && clean[start - 1] != '\n')
			start--;
		nlines++;
	}
	spaces(&t->b, indent);
	sgr(t, SGR_DIM);
	if (nlines < total || off > 0)
		tpg_buf_printf(&t->b, L(t, "Output (last %zu lines):", "Sortie (%zu dernières lignes) :"),
		               nlines);
	else
		tpg_buf_puts(&t->b, L(t, "Output:", "Sortie :"));
	reset(t);
	tpg_buf_putc(&t->b, '\n');
	for (size_t i = start; i < clen;) {
		const char *e = memchr(clean + i, '\n', clen - i);
		size_t n = e ? (size_t)(e - clean) - i : clen - i;
		size_t keep = tpg_sanitize_truncate(clean + i, n, OUTPUT_LINE_MAX);
		spaces(&t->b, indent);
		sgr(t, SGR_DIM);
		tpg_buf_puts(&t->b, bar);
		reset(t);
		tpg_buf_append(&t->b, clean + i, keep);
		if (keep < n)
			tpg_buf_puts(&t->b, "\xE2\x80\xA6");
		tpg_buf_putc(&t->b, '\n');
		i += n + 1;
	}
	free(clean);
}

static void put_check(term *t, const tpg_report_check *c)
{
	const char *color, *m = mark(t, c->status, &color);
	char pts[80];
	tpg_buf line = TPG_BUF_INIT;
	int col, indent;
	bool inline_msg = !(t->o.student && is_problem(c));

	points(c, pts, sizeof(pts));
	tpg_buf_puts(&t->b, "  ");
	sgr(t, color);
	tpg_buf_puts(&t->b, m);
	reset(t);
	tpg_buf_putc(&t->b, ' ');
	tpg_buf_puts(&t->b, pts);
	spaces(&t->b, t->ptsw - (int)strlen(pts));
	tpg_buf_puts(&t->b, "  ");
	col = 2 + text_width(m, strlen(m)) + 1 + t->ptsw + 2;
	indent = col;

	/* "id — title (0.12 s): message" */
	if (t->o.color)
		tpg_buf_puts(&line, "\033[1m");
	put_clean(&line, c->id ? c->id : "?");
	if (t->o.color)
		tpg_buf_puts(&line, "\033[0m");
	if (c->title && *c->title) {
		tpg_buf_puts(&line, " \xE2\x80\x94 ");
		put_clean(&line, c->title);
	}
	if (c->bonus)
		tpg_buf_puts(&line, " (bonus)");
	if (t->o.verbose) {
		if (t->o.color)
			tpg_buf_puts(&line, "\033[2m");
		tpg_buf_printf(&line, " (%.2f s)", tpg_report_finite(c->seconds));
		if (t->o.color)
			tpg_buf_puts(&line, "\033[0m");
	}
	if (c->status == TPG_STATUS_PASSED && !t->o.verbose) {
		/* A pass needs no explanation, only which file it was about. */
		if (c->file && *c->file) {
			tpg_buf_puts(&line, " (");
			put_clean(&line, c->file);
			tpg_buf_puts(&line, ")");
		}
	} else if (inline_msg && c->message && *c->message) {
		tpg_buf_puts(&line, ": ");
		put_clean(&line, c->message);
	}
	put_para(t, tpg_buf_cstr(&line), col, indent);
	tpg_buf_putc(&t->b, '\n');
	tpg_buf_free(&line);

	if (!is_problem(c))
		return;
	if (c->hint && *c->hint && c->status == TPG_STATUS_FAILED)
		put_labelled(t, indent, L(t, "Hint: ", "Indice : "), SGR_YELLOW, c->hint);
	if (!inline_msg && c->message && *c->message)
		put_message(t, indent, c->message);
	if (c->file && *c->file) {
		char *where = c->line > 0 ? tpg_xasprintf("%s:%d", c->file, c->line)
		                          : tpg_xstrdup(c->file);
		put_labelled(t, indent, L(t, "File: ", "Fichier : "), SGR_DIM, where);
		free(where);
	}
	if (t->o.verbose)
		put_output(t, c, indent);
}

/* --- document ------------------------------------------------------------ */

static void put_header(term *t)
{
	const tpg_report *r = t->r;
	tpg_buf line = TPG_BUF_INIT;

	put_clean(&line, r->tp ? r->tp : "tpgrade");
	if (r->title && *r->title) {
		tpg_buf_puts(&line, " \xE2\x80\x94 ");
		put_clean(&line, r->title);
	}
	sgr(t, SGR_BOLD);
	put_para(t, tpg_buf_cstr(&line), 0, 0);
	reset(t);
	tpg_buf_putc(&t->b, '\n');

	tpg_buf_clear(&line);
	if (r->student) {
		tpg_buf_puts(&line, L(t, "Student: ", "Étudiant : "));
		put_clean(&line, r->student);
	}
	if (r->commit) {
		tpg_buf_puts(&line, line.len ? "  Commit: " : "Commit: ");
		/* The short SHA is enough to find it again. */
		tpg_sanitize_term_buf(&line, r->commit, tpg_sanitize_truncate(r->commit,
		                      strlen(r->commit), 12));
		if (r->commit_date) {
			tpg_buf_puts(&line, " (");
			put_clean(&line, r->commit_date);
			tpg_buf_putc(&line, ')');
		}
	}
	if (r->ref) {
		tpg_buf_puts(&line, line.len ? "  " : "");
		tpg_buf_puts(&line, L(t, "Ref: ", "Réf. : "));
		put_clean(&line, r->ref);
	}
	if (line.len) {
		sgr(t, SGR_DIM);
		put_para(t, tpg_buf_cstr(&line), 0, 0);
		reset(t);
		tpg_buf_putc(&t->b, '\n');
	}
	tpg_buf_free(&line);
	for (size_t i = 0; i < r->notes.len; i++)
		put_labelled(t, 0, L(t, "Note: ", "Note : "), SGR_YELLOW, r->notes.items[i]);
}

static void put_group_header(term *t, const tpg_rgroup *g)
{
	tpg_report_sums s;
	char score[96];
	tpg_buf line = TPG_BUF_INIT;

	tpg_report_sum_idx(t->r, g->idx, g->n, &s);
	tpg_report_fmt_score(s.score, s.max_score, s.bonus, score, sizeof(score));
	if (t->o.color)
		tpg_buf_puts(&line, "\033[1m");
	put_clean(&line, g->id);
	if (g->title && *g->title) {
		tpg_buf_puts(&line, " \xE2\x80\x94 ");
		put_clean(&line, g->title);
	}
	if (t->o.color)
		tpg_buf_puts(&line, "\033[0m");
	tpg_buf_printf(&line, "  %s", score);
	tpg_buf_putc(&t->b, '\n');
	put_para(t, tpg_buf_cstr(&line), 0, 2);
	tpg_buf_putc(&t->b, '\n');
	tpg_buf_free(&line);
}

static void put_score(term *t, const tpg_report_sums *all)
{
	char score[96];

	tpg_report_fmt_score(t->r->score, t->r->max_score, all->bonus, score, sizeof(score));
	sgr(t, SGR_BOLD);
	sgr(t, t->r->exit_code == 0 ? SGR_GREEN : all->errors ? SGR_YELLOW : SGR_RED);
	tpg_buf_printf(&t->b, "Score: %s", score);
	reset(t);
	tpg_buf_putc(&t->b, '\n');
}

/* "1 error", "2 errors"; French participles agree too ("2 réussies"). */
static void count(term *t, tpg_buf *b, size_t n, const char *en, const char *fr, bool last)
{
	bool s = n > 1 && (t->fr || strcmp(en, "error") == 0);
	tpg_buf_printf(b, "%zu %s%s%s", n, L(t, en, fr), s ? "s" : "", last ? "" : ", ");
}

static void put_wrapped_line(term *t, const char *color, const char *text)
{
	sgr(t, color);
	put_para(t, text, 0, 0);
	reset(t);
	tpg_buf_putc(&t->b, '\n');
}

static void put_footer(term *t, const tpg_report_sums *all)
{
	tpg_buf_putc(&t->b, '\n');
	put_score(t, all);
	if (t->o.quiet)
		return;
	if (t->o.student) {
		if (all->failed) {
			char *msg = tpg_xasprintf(L(t, "%zu check%s left to fix. Keep going!",
			                            "Encore %zu vérification%s à corriger, courage !"),
			                          all->failed, all->failed > 1 ? "s" : "");
			put_wrapped_line(t, NULL, msg);
			free(msg);
		} else if (!all->errors) {
			put_wrapped_line(t, NULL, L(t, "All good, well done!", "Tout est bon, bravo !"));
		}
	} else {
		tpg_buf line = TPG_BUF_INIT;
		count(t, &line, all->passed, "passed", "réussie", false);
		count(t, &line, all->failed, "failed", "échouée", false);
		count(t, &line, all->errors, "error", "erreur", false);
		count(t, &line, all->skipped, "skipped", "ignorée", true);
		put_wrapped_line(t, NULL, tpg_buf_cstr(&line));
		tpg_buf_free(&line);
	}
	if (all->errors)
		put_wrapped_line(t, SGR_YELLOW, t->o.student ?
		             L(t, "Some checks could not run because of the grading environment: "
		                  "not your fault. Try again, or tell your teacher.",
		               "Certaines vérifications n'ont pas pu être faites à cause de "
		               "l'environnement de correction : ce n'est pas de ta faute. Réessaie, "
		               "ou préviens l'enseignant.") :
		             L(t, "Some checks could not run because of the grading environment.",
		               "Certaines vérifications n'ont pas pu être faites à cause de "
		               "l'environnement de correction."));
}

static void body_teacher(term *t)
{
	size_t ng;
	tpg_rgroup *g = tpg_report_groups(t->r, &ng);

	for (size_t i = 0; i < ng; i++) {
		if (!t->o.quiet)
			put_group_header(t, &g[i]);
		for (size_t k = 0; k < g[i].n; k++) {
			const tpg_report_check *c = &t->r->checks[g[i].idx[k]];
			if (!t->o.quiet || is_problem(c))
				put_check(t, c);
		}
	}
	tpg_report_groups_free(g, ng);
}

static void section(term *t, tpg_status status, const char *title, const char *color,
                    const char *why)
{
	size_t n = 0;

	for (size_t i = 0; i < t->r->nchecks; i++)
		n += t->r->checks[i].status == status;
	if (!n)
		return;
	char *head = tpg_xasprintf("%s (%zu)", title, n);
	tpg_buf_putc(&t->b, '\n');
	sgr(t, SGR_BOLD);
	sgr(t, color);
	tpg_buf_puts(&t->b, head);
	reset(t);
	if (why) {
		tpg_buf_puts(&t->b, " \xE2\x80\x94 ");
		put_para(t, why, text_width(head, strlen(head)) + 3, 2);
	}
	free(head);
	tpg_buf_putc(&t->b, '\n');
	for (size_t i = 0; i < t->r->nchecks; i++)
		if (t->r->checks[i].status == status)
			put_check(t, &t->r->checks[i]);
}

static void body_student(term *t)
{
	section(t, TPG_STATUS_FAILED, L(t, "To fix", "À corriger"), SGR_RED, NULL);
	section(t, TPG_STATUS_ERROR, L(t, "Could not check", "Pas pu vérifier"), SGR_YELLOW,
	        L(t, "a problem of the grading environment, not your fault",
	          "un problème de l'environnement de correction, pas de ta faute"));
	if (t->o.quiet)
		return;
	section(t, TPG_STATUS_PASSED, L(t, "Well done", "Bien joué"), SGR_GREEN, NULL);
	section(t, TPG_STATUS_SKIPPED, L(t, "Not checked", "Non vérifiés"), SGR_DIM, NULL);
}

/* --- ASCII --------------------------------------------------------------- */

static const char latin1[] = "AAAAAAACEEEEIIIIDNOOOOOxOUUUUYTs"
                             "aaaaaaaceeeeiiiidnooooo/ouuuuyty";

static const char *fold_cp(uint32_t cp, char *one)
{
	if (cp >= 0xC0 && cp <= 0xFF) {
		one[0] = latin1[cp - 0xC0];
		one[1] = '\0';
		return one;
	}
	switch (cp) {
	case 0xA0: case 0x202F: case 0x2009: return " ";
	case 0xAB: case 0xBB: case 0x201C: case 0x201D: return "\"";
	case 0x2018: case 0x2019: return "'";
	case 0x2013: case 0x2014: return "-";
	case 0x2026: return "...";
	case 0x2192: return "->";
	case 0x0152: return "OE";
	case 0x0153: return "oe";
	case 0x200B: return "";
	default: return "?";
	}
}

static void to_ascii(tpg_buf *b)
{
	tpg_buf out = TPG_BUF_INIT;
	size_t i = 0;

	tpg_buf_append(&out, "", 0);
	while (i < b->len) {
		size_t run = i;
		while (run < b->len && (unsigned char)b->data[run] < 0x80)
			run++;
		tpg_buf_append(&out, b->data + i, run - i);
		i = run;
		if (i < b->len) {
			uint32_t cp;
			char one[2];
			i += tpg_sanitize_decode(b->data + i, b->len - i, &cp);
			tpg_buf_puts(&out, fold_cp(cp, one));
		}
	}
	tpg_buf_free(b);
	*b = out;
}

/* --- entry points -------------------------------------------------------- */

bool tpg_term_locale_is_utf8(void)
{
	static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};

	for (size_t i = 0; i < TPG_ARRAY_LEN(vars); i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return strcasestr(v, "utf-8") || strcasestr(v, "utf8");
	}
	return false;
}

static int emit(term *t, FILE *out, tpg_err *err)
{
	int rc = 0;

	if (t->o.ascii)
		to_ascii(&t->b);
	if (t->b.len && fwrite(t->b.data, 1, t->b.len, out) != t->b.len)
		rc = TPG_EIO;
	tpg_buf_free(&t->b);
	if (tpg_report_check_stream(out, "report", err) != 0)
		return TPG_EIO;
	if (rc)
		return tpg_err_set(err, TPG_EIO, "cannot write the report");
	return 0;
}

static void init(term *t, const tpg_report *r, const tpg_term_opts *opts)
{
	memset(t, 0, sizeof(*t));
	t->r = r;
	if (opts)
		t->o = *opts;
	t->fr = tpg_report_is_fr(r);
	t->ptsw = 3;
	for (size_t i = 0; i < r->nchecks; i++) {
		char pts[80];
		points(&r->checks[i], pts, sizeof(pts));
		if ((int)strlen(pts) > t->ptsw)
			t->ptsw = (int)strlen(pts);
	}
	if (t->ptsw > 16)
		t->ptsw = 16;
}

int tpg_report_write_term(const tpg_report *r, const tpg_term_opts *opts, FILE *out,
                          tpg_err *err)
{
	term t;
	tpg_report_sums all;

	init(&t, r, opts);
	tpg_report_sum(r, 0, r->nchecks, &all);
	if (!t.o.quiet)
		put_header(&t);
	if (t.o.student)
		body_student(&t);
	else
		body_teacher(&t);
	put_footer(&t, &all);
	return emit(&t, out, err);
}

int tpg_report_write_term_check(const tpg_report_check *check, const char *lang,
                                const tpg_term_opts *opts, FILE *out, tpg_err *err)
{
	tpg_report one = {0};
	term t;

	one.lang = (char *)lang;
	one.checks = (tpg_report_check *)check;
	one.nchecks = 1;
	init(&t, &one, opts);
	put_check(&t, check);
	return emit(&t, out, err);
}

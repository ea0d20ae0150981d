/*
 * report_junit.c - JUnit XML for GitLab's test report (docs/reports.md).
 *
 * Text content is escaped rather than wrapped in CDATA: escaping has no
 * special case ("]]>" is just "]]&gt;") and the same code serves attributes.
 * Each testcase is built in memory so its size can be capped before it is
 * written; names are deduplicated on their escaped form, which is what
 * GitLab compares once parsed (escaping is injective).
 */
#include "tpgrade/report.h"
#include "tpgrade/sanitize.h"
#include "report_priv.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CLASSNAME_MAX 256
#define NAME_MAX_BYTES 512
#define ATTR_MAX 1024
#define MESSAGE_MAX (12 * 1024)
#define HINT_MAX (4 * 1024)
#define CASE_MIN_OUTPUT 1024   /* below this, outputs are left out */

/* --- a set of strings, to make testcase names unique -------------------- */

typedef struct strset {
	char **slots;
	size_t cap;    /* power of two */
	size_t len;
} strset;

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool set_has(const strset *set, const char *s)
{
	if (!set->cap)
		return false;
	for (size_t i = hash(s) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
		if (!set->slots[i])
			return false;
		if (strcmp(set->slots[i], s) == 0)
			return true;
	}
}

static void set_add(strset *set, char *owned);

static void set_grow(strset *set)
{
	strset bigger = {0};
	bigger.cap = set->cap ? set->cap * 2 : 64;
	bigger.slots = tpg_xcalloc(bigger.cap, sizeof(char *));
	for (size_t i = 0; i < set->cap; i++)
		if (set->slots[i])
			set_add(&bigger, set->slots[i]);
	free(set->slots);
	*set = bigger;
}

static void set_add(strset *set, char *owned)
{
	if ((set->len + 1) * 2 > set->cap)
		set_grow(set);
	size_t i = hash(owned) & (set->cap - 1);
	while (set->slots[i])
		i = (i + 1) & (set->cap - 1);
	set->slots[i] = owned;
	set->len++;
}

static void set_free(strset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i]);
	free(set->slots);
}

/* --- text helpers -------------------------------------------------------- */

/* Escaped attribute value of a capped, one-line version of s: clipped
 * first, so that the mark of the cut ends up on the line too. */
static char *attr_line(const char *s, size_t max)
{
	char *clip = tpg_sanitize_clip(s, strlen(s), max);
	char *line = tpg_sanitize_one_line(clip, 0);
	char *esc = tpg_sanitize_xml(line, strlen(line), true);
	free(clip);
	free(line);
	return esc;
}

static void put_attr(tpg_buf *b, const char *name, const char *value, size_t max)
{
	char *esc = attr_line(value ? value : "", max);
	tpg_buf_printf(b, " %s=\"%s\"", name, esc);
	free(esc);
}

/*
 * Appends s escaped as element text, clipped so that the escaped form fits
 * `budget` bytes (escaping grows text up to 5 times: "&amp;").
 */
static void put_text(tpg_buf *b, const char *s, size_t len, size_t budget)
{
	size_t raw = budget;

	for (int attempt = 0; attempt < 5; attempt++) {
		char *clip = tpg_sanitize_clip(s, len, raw);
		char *esc = tpg_sanitize_xml(clip, strlen(clip), false);
		size_t elen = strlen(esc);
		free(clip);
		if (elen <= budget || attempt == 4) {
			tpg_buf_append(b, esc, elen);
			free(esc);
			return;
		}
		free(esc);
		if (attempt == 3)
			raw = budget / 5;   /* the worst case: always fits */
		else
			raw = (size_t)((double)raw * (double)budget / (double)elen * 0.95);
	}
}

/* GitLab turns "[[ATTACHMENT|path]]" in system-out into a link to an
 * artifact; a student's output must not be able to do that. */
static void defuse_attachments(tpg_buf *b, size_t from)
{
	static const char tag[] = "[[ATTACHMENT";
	tpg_buf out = TPG_BUF_INIT;
	size_t i = from, last = from;
	bool found = false;

	while (b->len >= sizeof(tag) - 1 && i + sizeof(tag) - 1 <= b->len) {
		if (strncasecmp(b->data + i, tag, sizeof(tag) - 1) == 0) {
			if (!found)
				tpg_buf_append(&out, b->data, from);
			found = true;
			tpg_buf_append(&out, b->data + last, i + 1 - last);
			tpg_buf_puts(&out, "\xE2\x80\x8B");   /* U+200B between the brackets */
			last = i + 1;
			i += sizeof(tag) - 1;
			continue;
		}
		i++;
	}
	if (!found)
		return;
	tpg_buf_append(&out, b->data + last, b->len - last);
	tpg_buf_free(b);
	*b = out;
}

static void put_time(tpg_buf *b, const char *name, double seconds)
{
	seconds = tpg_report_finite(seconds);
	if (seconds < 0 || seconds > 1e9)
		seconds = 0;
	tpg_buf_printf(b, " %s=\"%.3f\"", name, seconds);
}

/* --- the document -------------------------------------------------------- */

typedef struct junit {
	const tpg_report *r;
	bool fr;
	strset names;
	size_t budget;      /* bytes left for the whole file */
	size_t cases_left;  /* testcases not written yet */
} junit;

static const char *label(const junit *j, const char *en, const char *fr)
{
	return j->fr ? fr : en;
}

/* The text GitLab shows for a failure, error or skip: everything useful. */
static void put_details(junit *j, tpg_buf *b, const tpg_report_check *c, size_t budget)
{
	size_t start = b->len;
	const char *msg = c->message ? c->message : "";

	put_text(b, msg, strlen(msg), budget / 2 < MESSAGE_MAX ? budget / 2 : MESSAGE_MAX);
	if (c->status == TPG_STATUS_ERROR)
		tpg_buf_puts(b, label(j, "\n\n(a problem of the grading environment, not of the "
		                         "student's work)",
		                      "\n\n(un problème de l'environnement de correction, pas du "
		                      "travail de l'étudiant)"));
	if (c->hint && *c->hint) {
		tpg_buf_puts(b, "\n\n");
		tpg_buf_puts(b, label(j, "Hint: ", "Indice : "));
		put_text(b, c->hint, strlen(c->hint), budget / 4 < HINT_MAX ? budget / 4 : HINT_MAX);
	}
	if (c->file && *c->file) {
		size_t used = b->len - start;
		tpg_buf_puts(b, "\n");
		tpg_buf_puts(b, label(j, "File: ", "Fichier : "));
		put_text(b, c->file, strlen(c->file), used < budget ? budget - used : 64);
		if (c->line > 0)
			tpg_buf_printf(b, ":%d", c->line);
	}
	if (c->status == TPG_STATUS_FAILED) {
		char p[32], m[32];
		tpg_report_fmt_num(c->points, p, sizeof(p));
		tpg_report_fmt_num(c->max_points, m, sizeof(m));
		tpg_buf_printf(b, "\n%s%s/%s", label(j, "Points: ", "Points : "), p, m);
	}
}

static void put_testcase(junit *j, tpg_buf *b, const char *classname, size_t ci)
{
	const tpg_report_check *c = &j->r->checks[ci];
	size_t start = b->len;
	size_t cap = j->budget / (j->cases_left ? j->cases_left : 1);
	char *name, *key, *esc_class;
	const char *title = c->title && *c->title ? c->title : NULL;

	if (cap > TPG_REPORT_CASE_MAX)
		cap = TPG_REPORT_CASE_MAX;

	/* classname + name must be unique: GitLab keeps only the first. */
	{
		char *raw = c->id && *c->id ?
		            (title ? tpg_xasprintf("%s \xE2\x80\x94 %s", c->id, title)
		                   : tpg_xstrdup(c->id)) :
		            (title ? tpg_xstrdup(title) : tpg_xasprintf("check %zu", ci + 1));
		if (c->bonus) {
			char *t = tpg_xasprintf("%s (bonus)", raw);
			free(raw);
			raw = t;
		}
		name = attr_line(raw, NAME_MAX_BYTES);
		free(raw);
	}
	esc_class = attr_line(classname, CLASSNAME_MAX);
	key = tpg_xasprintf("%s\n%s", esc_class, name);
	if (set_has(&j->names, key)) {
		for (unsigned n = 2;; n++) {
			char *cand = tpg_xasprintf("%s (%u)", name, n);
			char *ckey = tpg_xasprintf("%s\n%s", esc_class, cand);
			if (!set_has(&j->names, ckey)) {
				free(name);
				free(key);
				name = cand;
				key = ckey;
				break;
			}
			free(cand);
			free(ckey);
		}
	}
	set_add(&j->names, key);

	tpg_buf_printf(b, "    <testcase classname=\"%s\" name=\"%s\"", esc_class, name);
	free(esc_class);
	free(name);
	if (c->file && *c->file) {
		put_attr(b, "file", c->file, ATTR_MAX);
		if (c->line > 0)
			tpg_buf_printf(b, " line=\"%d\"", c->line);
	}
	put_time(b, "time", c->seconds);

	size_t head = b->len - start;
	size_t room = cap > head + 512 ? cap - head - 512 : 256;
	const char *tag = NULL, *type = NULL;
	switch (c->status) {
	case TPG_STATUS_FAILED: tag = "failure"; type = "failed"; break;
	case TPG_STATUS_ERROR: tag = "error"; type = "environment"; break;
	case TPG_STATUS_SKIPPED: tag = "skipped"; type = "skipped"; break;
	default: break;
	}
	size_t outlen = tpg_report_output_len(c);
	if (!tag && !outlen) {
		tpg_buf_puts(b, "/>\n");
		return;
	}
	tpg_buf_puts(b, ">\n");
	if (tag) {
		tpg_buf_printf(b, "      <%s", tag);
		put_attr(b, "message", c->message ? c->message : tpg_status_name(c->status), ATTR_MAX);
		tpg_buf_printf(b, " type=\"%s\">", type);
		put_details(j, b, c, room / 2);
		tpg_buf_printf(b, "</%s>\n", tag);
	}
	size_t used = b->len - start;
	if (outlen && used + CASE_MIN_OUTPUT + 64 <= cap) {
		size_t at;
		tpg_buf_puts(b, "      <system-out>");
		at = b->len;
		put_text(b, c->output, outlen, cap - used - 64);
		defuse_attachments(b, at);
		tpg_buf_puts(b, "</system-out>\n");
	}
	tpg_buf_puts(b, "    </testcase>\n");
}

static void put_property(tpg_buf *b, const char *name, const char *value)
{
	tpg_buf_printf(b, "      <property name=\"%s\"", name);
	put_attr(b, "value", value ? value : "", ATTR_MAX);
	tpg_buf_puts(b, "/>\n");
}

static void put_properties(tpg_buf *b, const tpg_report *r, const tpg_report_sums *s)
{
	char score[32], max[32], sscore[32], smax[32], code[16];

	tpg_report_fmt_num(r->score, score, sizeof(score));
	tpg_report_fmt_num(r->max_score, max, sizeof(max));
	tpg_report_fmt_num(s->score, sscore, sizeof(sscore));
	tpg_report_fmt_num(s->max_score, smax, sizeof(smax));
	snprintf(code, sizeof(code), "%d", r->exit_code);
	tpg_buf_puts(b, "    <properties>\n");
	put_property(b, "student", r->student);
	put_property(b, "repository", r->repository);
	put_property(b, "commit", r->commit);
	put_property(b, "commit_date", r->commit_date);
	put_property(b, "ref", r->ref);
	put_property(b, "score", score);
	put_property(b, "max_score", max);
	put_property(b, "suite_score", sscore);
	put_property(b, "suite_max_score", smax);
	put_property(b, "tp", r->tp);
	put_property(b, "title", r->title);
	put_property(b, "spec", r->spec_path);
	put_property(b, "spec_digest", r->spec_digest);
	put_property(b, "lang", r->lang);
	put_property(b, "exit_code", code);
	put_property(b, "tpgrade", TPGRADE_VERSION);
	for (size_t i = 0; i < r->notes.len; i++)
		put_property(b, "note", r->notes.items[i]);
	tpg_buf_puts(b, "    </properties>\n");
}

static double group_seconds(const tpg_report *r, const tpg_rgroup *g)
{
	double t = 0;
	for (size_t i = 0; i < g->n; i++) {
		double s = tpg_report_finite(r->checks[g->idx[i]].seconds);
		if (s > 0 && s < 1e9)
			t += s;
	}
	return t;
}

static int flush_buf(tpg_buf *b, FILE *out)
{
	int rc = 0;
	if (b->len && fwrite(b->data, 1, b->len, out) != b->len)
		rc = TPG_EIO;
	tpg_buf_clear(b);
	return rc;
}

int tpg_report_write_junit(const tpg_report *r, FILE *out, tpg_err *err)
{
	junit j = {.r = r, .fr = tpg_report_is_fr(r)};
	tpg_buf b = TPG_BUF_INIT;
	size_t ng;
	tpg_rgroup *g = tpg_report_groups(r, &ng);
	tpg_report_sums all;
	char when[64];
	double total_time = 0;
	int rc = 0;

	tpg_report_fmt_time(r->started, when, sizeof(when));
	memset(&all, 0, sizeof(all));
	for (size_t i = 0; i < ng; i++) {
		tpg_report_sums s;
		tpg_report_sum_idx(r, g[i].idx, g[i].n, &s);
		all.total += s.total;
		all.failed += s.failed;
		all.errors += s.errors;
		all.skipped += s.skipped;
		j.cases_left += g[i].n;
		total_time += group_seconds(r, &g[i]);
	}
	if (tpg_report_finite(r->seconds) > 0 && r->seconds < 1e9)
		total_time = r->seconds;
	j.budget = TPG_REPORT_JUNIT_BUDGET;

	tpg_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	tpg_buf_puts(&b, "<testsuites");
	put_attr(&b, "name", r->tp ? r->tp : "tpgrade", CLASSNAME_MAX);
	tpg_buf_printf(&b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\"",
	               all.total, all.failed, all.errors, all.skipped);
	put_time(&b, "time", total_time);
	if (when[0])
		tpg_buf_printf(&b, " timestamp=\"%s\"", when);
	tpg_buf_puts(&b, ">\n");

	for (size_t i = 0; i < ng && rc == 0; i++) {
		tpg_report_sums s;
		char *classname = r->tp && *r->tp ? tpg_xasprintf("%s.%s", r->tp, g[i].id)
		                                   : tpg_xstrdup(g[i].id);

		tpg_report_sum_idx(r, g[i].idx, g[i].n, &s);
		tpg_buf_puts(&b, "  <testsuite");
		put_attr(&b, "name", g[i].id, CLASSNAME_MAX);
		tpg_buf_printf(&b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\"",
		               s.total, s.failed, s.errors, s.skipped);
		put_time(&b, "time", group_seconds(r, &g[i]));
		if (when[0])
			tpg_buf_printf(&b, " timestamp=\"%s\"", when);
		if (r->hostname)
			put_attr(&b, "hostname", r->hostname, CLASSNAME_MAX);
		tpg_buf_puts(&b, ">\n");
		put_properties(&b, r, &s);
		for (size_t k = 0; k < g[i].n && rc == 0; k++) {
			size_t before = b.len;
			put_testcase(&j, &b, classname, g[i].idx[k]);
			size_t used = b.len - before;
			j.budget = j.budget > used ? j.budget - used : 0;
			j.cases_left--;
			if (b.len > 256 * 1024)
				rc = flush_buf(&b, out);
		}
		free(classname);
		tpg_buf_puts(&b, "  </testsuite>\n");
	}
	tpg_buf_puts(&b, "</testsuites>\n");
	if (rc == 0)
		rc = flush_buf(&b, out);
	tpg_buf_free(&b);
	tpg_report_groups_free(g, ng);
	set_free(&j.names);
	if (tpg_report_check_stream(out, "JUnit report", err) != 0)
		return TPG_EIO;
	if (rc != 0)
		return tpg_err_set(err, TPG_EIO, "cannot write the JUnit report");
	return 0;
}

int tpg_report_junit_fn(FILE *out, void *ctx, tpg_err *err)
{
	return tpg_report_write_junit(ctx, out, err);
}

/* report.c - the report model: lifetime, builders, tally, groups, helpers. */
#include "tpgrade/report.h"
#include "tpgrade/sanitize.h"
#include "report_priv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const status_names[] = {
	[TPG_STATUS_PASSED] = "passed",
	[TPG_STATUS_FAILED] = "failed",
	[TPG_STATUS_ERROR] = "error",
	[TPG_STATUS_SKIPPED] = "skipped",
};

const char *tpg_status_name(tpg_status status)
{
	if ((unsigned)status < TPG_ARRAY_LEN(status_names))
		return status_names[status];
	return "unknown";
}

int tpg_status_parse(const char *name, tpg_status *out)
{
	for (size_t i = 0; name && i < TPG_ARRAY_LEN(status_names); i++) {
		if (strcmp(name, status_names[i]) == 0) {
			*out = (tpg_status)i;
			return 0;
		}
	}
	return TPG_EINVAL;
}

tpg_report *tpg_report_new(void)
{
	return tpg_xcalloc(1, sizeof(tpg_report));
}

void tpg_report_check_clear(tpg_report_check *c)
{
	if (!c)
		return;
	free(c->id);
	free(c->title);
	free(c->suite_id);
	free(c->kind);
	free(c->message);
	free(c->hint);
	free(c->file);
	free(c->output);
	tpg_strv_free(&c->tags);
	tpg_strv_free(&c->needs);
	if (c->data)
		json_decref(c->data);
	memset(c, 0, sizeof(*c));
}

void tpg_report_clear(tpg_report *r)
{
	if (!r)
		return;
	free(r->tp);
	free(r->title);
	free(r->spec_path);
	free(r->spec_digest);
	free(r->student);
	free(r->repository);
	free(r->commit);
	free(r->commit_date);
	free(r->ref);
	free(r->hostname);
	free(r->lang);
	tpg_strv_free(&r->notes);
	for (size_t i = 0; i < r->nsuites; i++) {
		free(r->suites[i].id);
		free(r->suites[i].title);
	}
	free(r->suites);
	for (size_t i = 0; i < r->nchecks; i++)
		tpg_report_check_clear(&r->checks[i]);
	free(r->checks);
	memset(r, 0, sizeof(*r));
}

void tpg_report_free(tpg_report *r)
{
	if (!r)
		return;
	tpg_report_clear(r);
	free(r);
}

/* Arrays grow one element at a time through realloc: reports are small,
 * and it keeps nsuites/nchecks the only bookkeeping in the public struct. */
tpg_report_suite *tpg_report_add_suite(tpg_report *r, const char *id, const char *title)
{
	tpg_report_suite *s;

	r->suites = tpg_xreallocarray(r->suites, r->nsuites + 1, sizeof(*r->suites));
	s = &r->suites[r->nsuites++];
	memset(s, 0, sizeof(*s));
	s->id = tpg_xstrdup(id);
	s->title = tpg_xstrdup(title);
	s->first = r->nchecks;
	return s;
}

tpg_report_check *tpg_report_add_check(tpg_report *r, const char *id, const char *title)
{
	tpg_report_check *c;

	r->checks = tpg_xreallocarray(r->checks, r->nchecks + 1, sizeof(*r->checks));
	c = &r->checks[r->nchecks++];
	memset(c, 0, sizeof(*c));
	c->id = tpg_xstrdup(id);
	c->title = tpg_xstrdup(title);
	c->counted = true;
	c->status = TPG_STATUS_PASSED;
	if (r->nsuites > 0) {
		tpg_report_suite *s = &r->suites[r->nsuites - 1];
		c->suite_id = tpg_xstrdup(s->id);
		s->count++;
	}
	return c;
}

double tpg_report_finite(double v)
{
	return isfinite(v) ? v : 0.0;
}

static void sum_one(const tpg_report_check *c, tpg_report_sums *out)
{
	out->total++;
	switch (c->status) {
	case TPG_STATUS_PASSED: out->passed++; break;
	case TPG_STATUS_FAILED: out->failed++; break;
	case TPG_STATUS_ERROR: out->errors++; break;
	default: out->skipped++; break;
	}
	if (!c->counted)
		return;
	out->score += tpg_report_finite(c->points);
	if (c->bonus)
		out->bonus += tpg_report_finite(c->points);
	else
		out->max_score += tpg_report_finite(c->max_points);
}

void tpg_report_sum(const tpg_report *r, size_t first, size_t count, tpg_report_sums *out)
{
	memset(out, 0, sizeof(*out));
	if (first > r->nchecks)
		first = r->nchecks;
	if (count > r->nchecks - first)
		count = r->nchecks - first;
	for (size_t i = first; i < first + count; i++)
		sum_one(&r->checks[i], out);
}

void tpg_report_sum_idx(const tpg_report *r, const size_t *idx, size_t n,
                        tpg_report_sums *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		if (idx[i] < r->nchecks)
			sum_one(&r->checks[idx[i]], out);
}

void tpg_report_tally(tpg_report *r)
{
	tpg_report_sums s;

	tpg_report_sum(r, 0, r->nchecks, &s);
	r->score = s.score;
	r->max_score = s.max_score;
	r->exit_code = s.errors ? 3 : s.failed ? 1 : 0;
}

static bool same_str(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

tpg_rgroup *tpg_report_groups(const tpg_report *r, size_t *ngroups)
{
	tpg_rgroup *g = NULL;
	size_t n = 0, cap = 0;
	bool *covered = tpg_xcalloc(r->nchecks ? r->nchecks : 1, sizeof(bool));

	for (size_t i = 0; i < r->nsuites; i++) {
		const tpg_report_suite *s = &r->suites[i];
		size_t first = s->first < r->nchecks ? s->first : r->nchecks;
		size_t count = s->count < r->nchecks - first ? s->count : r->nchecks - first;

		TPG_ARRAY_GROW(g, n, cap);
		g[n].id = s->id ? s->id : "suite";
		g[n].title = s->title;
		g[n].idx = tpg_xcalloc(count ? count : 1, sizeof(size_t));
		g[n].n = count;
		for (size_t j = 0; j < count; j++) {
			g[n].idx[j] = first + j;
			covered[first + j] = true;
		}
		n++;
	}
	/* Stray checks, grouped by suite_id in order of first appearance. */
	for (size_t i = 0; i < r->nchecks; i++) {
		const char *sid = r->checks[i].suite_id;
		size_t k, m = 0;

		if (covered[i])
			continue;
		TPG_ARRAY_GROW(g, n, cap);
		k = n++;
		g[k].id = sid ? sid : (r->tp ? r->tp : "checks");
		g[k].title = NULL;
		g[k].idx = tpg_xcalloc(r->nchecks - i, sizeof(size_t));
		for (size_t j = i; j < r->nchecks; j++) {
			if (!covered[j] && same_str(r->checks[j].suite_id, sid)) {
				covered[j] = true;
				g[k].idx[m++] = j;
			}
		}
		g[k].n = m;
	}
	free(covered);
	*ngroups = n;
	return g;
}

void tpg_report_groups_free(tpg_rgroup *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(g[i].idx);
	free(g);
}

void tpg_report_fmt_num(double v, char *buf, size_t n)
{
	char *p;

	v = tpg_report_finite(v);
	if (fabs(v) < 0.005)
		v = 0.0;   /* no "-0" */
	snprintf(buf, n, "%.2f", v);
	p = strchr(buf, '.');
	if (!p)
		return;
	char *end = p + strlen(p) - 1;
	while (end > p && *end == '0')
		*end-- = '\0';
	if (end == p)
		*p = '\0';
}

void tpg_report_fmt_score(double score, double max, double bonus, char *buf, size_t n)
{
	char a[32], b[32], c[32];

	bonus = tpg_report_finite(bonus);
	tpg_report_fmt_num(tpg_report_finite(score) - bonus, a, sizeof(a));
	tpg_report_fmt_num(max, b, sizeof(b));
	tpg_report_fmt_num(bonus, c, sizeof(c));
	if (strcmp(c, "0") != 0)
		snprintf(buf, n, "%s/%s (%s%s bonus)", a, b, bonus > 0 ? "+" : "", c);
	else
		snprintf(buf, n, "%s/%s", a, b);
}

void tpg_report_fmt_time(double epoch, char *buf, size_t n)
{
	struct tm tm;
	time_t t;

	buf[0] = '\0';
	if (!(epoch > 0) || epoch > 253402300799.0)   /* year 9999 */
		return;
	t = (time_t)epoch;
	if (!gmtime_r(&t, &tm))
		return;
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int tpg_report_parse_time(const char *s, double *epoch)
{
	struct tm tm;
	int consumed = 0;
	double frac = 0.0;
	long off = 0;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 || consumed != 19)
		return TPG_EPARSE;
	p = s + consumed;
	if (*p == '.') {
		double scale = 0.1;
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm, k = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &k) != 2 || k != 5)
			return TPG_EPARSE;
		off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return TPG_EPARSE;
	}
	if (*p)
		return TPG_EPARSE;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return TPG_EPARSE;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*epoch = (double)timegm(&tm) - (double)off + frac;
	return 0;
}

size_t tpg_report_output_len(const tpg_report_check *c)
{
	if (!c->output)
		return 0;
	return c->output_len ? c->output_len : strlen(c->output);
}

bool tpg_report_is_fr(const tpg_report *r)
{
	return r->lang && strncmp(r->lang, "fr", 2) == 0;
}

int tpg_report_check_stream(FILE *out, const char *what, tpg_err *err)
{
	errno = 0;
	if (fflush(out) != 0 || ferror(out)) {
		int e = errno ? errno : EIO;
		return tpg_err_set(err, TPG_EIO, "cannot write the %s: %s", what, strerror(e));
	}
	return 0;
}

json_t *tpg_report_jstr(const char *s, size_t len, size_t max)
{
	if (!s)
		return json_null();
	char *clean = tpg_sanitize_clip(s, len, max);
	json_t *j = json_string(clean);
	free(clean);
	return j ? j : json_null();
}

json_t *tpg_report_jnum(double v)
{
	if (!isfinite(v))
		return json_null();
	if (v == floor(v) && fabs(v) < 1e15)
		return json_integer((json_int_t)v);
	return json_real(v);
}

int tpg_report_dump_json(json_t *doc, FILE *out, const char *what, tpg_err *err)
{
	int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(12));

	json_decref(doc);
	if (rc == 0)
		fputc('\n', out);
	if (tpg_report_check_stream(out, what, err) != 0)
		return TPG_EIO;
	if (rc != 0)
		return tpg_err_set(err, TPG_EIO, "cannot write the %s", what);
	return 0;
}

/* report_json.c - the JSON report: build, write, read back. */
#include "tpgrade/report.h"
#include "tpgrade/sanitize.h"
#include "report_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Messages and hints are ours or the spec's, but may quote student text. */
#define TEXT_MAX (16 * 1024)
#define NAME_MAX_BYTES 1024
#define DATA_DEPTH_MAX 32

static json_t *jstr(const char *s, size_t max)
{
	return tpg_report_jstr(s, s ? strlen(s) : 0, max);
}

static json_t *jseconds(double v)
{
	if (!isfinite(v) || v < 0)
		return json_null();
	return tpg_report_jnum(round(v * 1000.0) / 1000.0);
}

static json_t *jstrv(const tpg_strv *v)
{
	json_t *a = json_array();
	for (size_t i = 0; i < v->len; i++)
		json_array_append_new(a, jstr(v->items[i], NAME_MAX_BYTES));
	return a;
}

/* A copy of `data` whose strings and keys are valid UTF-8 (json_string_nocheck
 * lets anything in) and whose depth is bounded. */
static json_t *clean_data(const json_t *j, int depth)
{
	if (!j || depth > DATA_DEPTH_MAX)
		return json_null();
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		json_t *o = json_object();
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v) {
			char *ck = tpg_sanitize_utf8(k, strlen(k));
			json_object_set_new(o, ck, clean_data(v, depth + 1));
			free(ck);
		}
		return o;
	}
	case JSON_ARRAY: {
		json_t *a = json_array();
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v)
			json_array_append_new(a, clean_data(v, depth + 1));
		return a;
	}
	case JSON_STRING: {
		json_t *s = tpg_report_jstr(json_string_value(j), json_string_length(j), TPG_REPORT_OUTPUT_MAX);
		return s;
	}
	default:
		return json_deep_copy(j);
	}
}

static void set(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v ? v : json_null());
}

static json_t *check_to_json(const tpg_report_check *c)
{
	json_t *o = json_object();

	set(o, "id", jstr(c->id, NAME_MAX_BYTES));
	set(o, "title", jstr(c->title, NAME_MAX_BYTES));
	set(o, "suite", jstr(c->suite_id, NAME_MAX_BYTES));
	set(o, "kind", jstr(c->kind, NAME_MAX_BYTES));
	set(o, "status", json_string(tpg_status_name(c->status)));
	set(o, "points", tpg_report_jnum(c->points));
	set(o, "max_points", tpg_report_jnum(c->max_points));
	set(o, "bonus", json_boolean(c->bonus));
	set(o, "counted", json_boolean(c->counted));
	set(o, "message", jstr(c->message, TEXT_MAX));
	set(o, "hint", jstr(c->hint, TEXT_MAX));
	set(o, "file", jstr(c->file, NAME_MAX_BYTES));
	set(o, "line", c->line > 0 ? json_integer(c->line) : json_null());
	set(o, "output", tpg_report_jstr(c->output, tpg_report_output_len(c), TPG_REPORT_OUTPUT_MAX));
	set(o, "seconds", jseconds(c->seconds));
	set(o, "tags", jstrv(&c->tags));
	set(o, "needs", jstrv(&c->needs));
	set(o, "data", clean_data(c->data, 0));
	return o;
}

json_t *tpg_report_to_json(const tpg_report *r)
{
	json_t *o = json_object(), *suites = json_array(), *checks = json_array();
	size_t ng;
	tpg_rgroup *g = tpg_report_groups(r, &ng);
	char when[64];

	tpg_report_fmt_time(r->started, when, sizeof(when));
	set(o, "tpgrade", json_string(TPGRADE_VERSION));
	set(o, "tp", jstr(r->tp, NAME_MAX_BYTES));
	set(o, "title", jstr(r->title, NAME_MAX_BYTES));
	set(o, "spec", jstr(r->spec_path, TEXT_MAX));
	set(o, "spec_digest", jstr(r->spec_digest, NAME_MAX_BYTES));
	set(o, "student", jstr(r->student, NAME_MAX_BYTES));
	set(o, "repository", jstr(r->repository, TEXT_MAX));
	set(o, "commit", jstr(r->commit, NAME_MAX_BYTES));
	set(o, "commit_date", jstr(r->commit_date, NAME_MAX_BYTES));
	set(o, "ref", jstr(r->ref, NAME_MAX_BYTES));
	set(o, "hostname", jstr(r->hostname, NAME_MAX_BYTES));
	set(o, "started", when[0] ? json_string(when) : json_null());
	set(o, "seconds", jseconds(r->seconds));
	set(o, "score", tpg_report_jnum(r->score));
	set(o, "max_score", tpg_report_jnum(r->max_score));
	set(o, "lang", jstr(r->lang, NAME_MAX_BYTES));
	json_t *notes = json_array();
	for (size_t i = 0; i < r->notes.len; i++)
		json_array_append_new(notes, jstr(r->notes.items[i], TEXT_MAX));
	set(o, "notes", notes);
	set(o, "exit_code", json_integer(r->exit_code));

	for (size_t i = 0; i < ng; i++) {
		json_t *s = json_object(), *ids = json_array();
		tpg_report_sums sums;

		tpg_report_sum_idx(r, g[i].idx, g[i].n, &sums);
		set(s, "id", jstr(g[i].id, NAME_MAX_BYTES));
		set(s, "title", jstr(g[i].title, NAME_MAX_BYTES));
		set(s, "score", tpg_report_jnum(sums.score));
		set(s, "max_score", tpg_report_jnum(sums.max_score));
		for (size_t j = 0; j < g[i].n; j++)
			json_array_append_new(ids, jstr(r->checks[g[i].idx[j]].id, NAME_MAX_BYTES));
		set(s, "checks", ids);
		json_array_append_new(suites, s);
	}
	set(o, "suites", suites);
	for (size_t i = 0; i < r->nchecks; i++)
		json_array_append_new(checks, check_to_json(&r->checks[i]));
	set(o, "checks", checks);
	tpg_report_groups_free(g, ng);
	return o;
}

int tpg_report_write_json(const tpg_report *r, FILE *out, tpg_err *err)
{
	return tpg_report_dump_json(tpg_report_to_json(r), out, "JSON report", err);
}

int tpg_report_json_fn(FILE *out, void *ctx, tpg_err *err)
{
	return tpg_report_write_json(ctx, out, err);
}

/* --- reading back --------------------------------------------------- */

typedef struct reader {
	tpg_err *err;
	char where[128];   /* "checks[3]" */
} reader;

static int bad(reader *rd, const char *key, const char *expected)
{
	return tpg_err_set(rd->err, TPG_EPARSE, "JSON report: %s%s%s: expected %s",
	                   rd->where, rd->where[0] ? "." : "", key, expected);
}

static int get_str(reader *rd, const json_t *o, const char *key, char **dst)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return bad(rd, key, "a string or null");
	free(*dst);
	/* Jansson strings may hold "\u0000": keep what a C string can. */
	*dst = tpg_xstrdup(json_string_value(v));
	return 0;
}

static int get_num(reader *rd, const json_t *o, const char *key, double *dst)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return bad(rd, key, "a number or null");
	*dst = json_number_value(v);
	return 0;
}

static int get_bool(reader *rd, const json_t *o, const char *key, bool *dst)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return bad(rd, key, "true or false");
	*dst = json_is_true(v);
	return 0;
}

static int get_int(reader *rd, const json_t *o, const char *key, int *dst)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < -1000000000LL ||
	    json_integer_value(v) > 1000000000LL)
		return bad(rd, key, "an integer or null");
	*dst = (int)json_integer_value(v);
	return 0;
}

static int get_strv(reader *rd, const json_t *o, const char *key, tpg_strv *dst)
{
	const json_t *v = json_object_get(o, key), *item;
	size_t i;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return bad(rd, key, "an array of strings");
	json_array_foreach(v, i, item) {
		if (!json_is_string(item))
			return bad(rd, key, "an array of strings");
		tpg_strv_push(dst, json_string_value(item));
	}
	return 0;
}

static int read_check(reader *rd, const json_t *o, tpg_report_check *c)
{
	const json_t *st = json_object_get(o, "status"), *data;
	int rc = 0;

	if (!json_is_object(o))
		return tpg_err_set(rd->err, TPG_EPARSE, "JSON report: %s: expected an object",
		                   rd->where);
	c->counted = true;
	if (!json_is_string(st) || tpg_status_parse(json_string_value(st), &c->status) != 0)
		return bad(rd, "status", "\"passed\", \"failed\", \"error\" or \"skipped\"");
	if ((rc = get_str(rd, o, "id", &c->id)) || (rc = get_str(rd, o, "title", &c->title)) ||
	    (rc = get_str(rd, o, "suite", &c->suite_id)) || (rc = get_str(rd, o, "kind", &c->kind)) ||
	    (rc = get_num(rd, o, "points", &c->points)) ||
	    (rc = get_num(rd, o, "max_points", &c->max_points)) ||
	    (rc = get_bool(rd, o, "bonus", &c->bonus)) ||
	    (rc = get_bool(rd, o, "counted", &c->counted)) ||
	    (rc = get_str(rd, o, "message", &c->message)) ||
	    (rc = get_str(rd, o, "hint", &c->hint)) || (rc = get_str(rd, o, "file", &c->file)) ||
	    (rc = get_int(rd, o, "line", &c->line)) || (rc = get_str(rd, o, "output", &c->output)) ||
	    (rc = get_num(rd, o, "seconds", &c->seconds)) ||
	    (rc = get_strv(rd, o, "tags", &c->tags)) || (rc = get_strv(rd, o, "needs", &c->needs)))
		return rc;
	if (c->line < 0)
		c->line = 0;
	data = json_object_get(o, "data");
	if (data && !json_is_null(data))
		c->data = json_deep_copy(data);
	return 0;
}

static int read_top(reader *rd, const json_t *doc, tpg_report *r)
{
	const json_t *started = json_object_get(doc, "started"), *notes;
	int rc;

	if ((rc = get_str(rd, doc, "tp", &r->tp)) || (rc = get_str(rd, doc, "title", &r->title)) ||
	    (rc = get_str(rd, doc, "spec", &r->spec_path)) ||
	    (rc = get_str(rd, doc, "spec_digest", &r->spec_digest)) ||
	    (rc = get_str(rd, doc, "student", &r->student)) ||
	    (rc = get_str(rd, doc, "repository", &r->repository)) ||
	    (rc = get_str(rd, doc, "commit", &r->commit)) ||
	    (rc = get_str(rd, doc, "commit_date", &r->commit_date)) ||
	    (rc = get_str(rd, doc, "ref", &r->ref)) ||
	    (rc = get_str(rd, doc, "hostname", &r->hostname)) ||
	    (rc = get_str(rd, doc, "lang", &r->lang)) ||
	    (rc = get_num(rd, doc, "seconds", &r->seconds)) ||
	    (rc = get_num(rd, doc, "score", &r->score)) ||
	    (rc = get_num(rd, doc, "max_score", &r->max_score)) ||
	    (rc = get_int(rd, doc, "exit_code", &r->exit_code)) ||
	    (rc = get_strv(rd, doc, "notes", &r->notes)))
		return rc;
	if (started && !json_is_null(started) &&
	    (!json_is_string(started) ||
	     tpg_report_parse_time(json_string_value(started), &r->started) != 0))
		return bad(rd, "started", "an ISO 8601 date (\"2026-12-03T16:41:56Z\") or null");
	notes = json_object_get(doc, "tpgrade");
	if (!json_is_string(notes))
		return bad(rd, "tpgrade", "the version string of tpgrade");
	return 0;
}

/* Puts the checks in suite order so every suite is a contiguous range. */
static int read_suites(reader *rd, const json_t *jsuites, tpg_report *r,
                       tpg_report_check *loose, size_t nloose)
{
	bool *used = tpg_xcalloc(nloose ? nloose : 1, sizeof(bool));
	const json_t *js;
	size_t i;
	int rc = 0;

	r->checks = tpg_xcalloc(nloose ? nloose : 1, sizeof(tpg_report_check));
	json_array_foreach(jsuites, i, js) {
		const json_t *ids = json_object_get(js, "checks"), *jid;
		tpg_report_suite *s;
		char *id = NULL, *title = NULL;
		size_t k;

		snprintf(rd->where, sizeof(rd->where), "suites[%zu]", i);
		if (!json_is_object(js)) {
			rc = tpg_err_set(rd->err, TPG_EPARSE, "JSON report: %s: expected an object",
			                 rd->where);
			break;
		}
		if ((rc = get_str(rd, js, "id", &id)) || (rc = get_str(rd, js, "title", &title))) {
			free(id);
			free(title);
			break;
		}
		if (ids && !json_is_array(ids)) {
			free(id);
			free(title);
			rc = bad(rd, "checks", "an array of check ids");
			break;
		}
		s = tpg_report_add_suite(r, id, title);
		free(id);
		free(title);
		json_array_foreach(ids, k, jid) {
			const char *want = json_string_value(jid);
			for (size_t j = 0; want && j < nloose; j++) {
				if (!used[j] && loose[j].id && strcmp(loose[j].id, want) == 0) {
					used[j] = true;
					r->checks[r->nchecks++] = loose[j];
					s->count++;
					break;
				}
			}
		}
	}
	rd->where[0] = '\0';
	for (size_t j = 0; j < nloose; j++) {
		if (used[j])
			continue;
		if (rc == 0)
			r->checks[r->nchecks++] = loose[j];
		else
			tpg_report_check_clear(&loose[j]);
	}
	free(used);
	return rc;
}

int tpg_report_from_json(const json_t *doc, tpg_report **out, tpg_err *err)
{
	reader rd = {.err = err};
	const json_t *jchecks, *jsuites, *jc;
	tpg_report *r;
	tpg_report_check *loose;
	size_t i, n;
	int rc;

	*out = NULL;
	if (!json_is_object(doc))
		return tpg_err_set(err, TPG_EPARSE, "JSON report: expected an object");
	jchecks = json_object_get(doc, "checks");
	jsuites = json_object_get(doc, "suites");
	if (!json_is_array(jchecks))
		return tpg_err_set(err, TPG_EPARSE,
		                   "JSON report: no \"checks\" array (not a tpgrade report?)");
	if (jsuites && !json_is_null(jsuites) && !json_is_array(jsuites))
		return bad(&rd, "suites", "an array");
	r = tpg_report_new();
	if ((rc = read_top(&rd, doc, r)) != 0) {
		tpg_report_free(r);
		return rc;
	}
	n = json_array_size(jchecks);
	loose = tpg_xcalloc(n ? n : 1, sizeof(*loose));
	json_array_foreach(jchecks, i, jc) {
		snprintf(rd.where, sizeof(rd.where), "checks[%zu]", i);
		if ((rc = read_check(&rd, jc, &loose[i])) != 0) {
			for (size_t j = 0; j <= i; j++)
				tpg_report_check_clear(&loose[j]);
			free(loose);
			tpg_report_free(r);
			return rc;
		}
	}
	rc = read_suites(&rd, jsuites, r, loose, n);
	free(loose);
	if (rc != 0) {
		tpg_report_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

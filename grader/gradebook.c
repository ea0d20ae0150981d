/* gradebook.c - the class grade book: rows from per-student states and
 * reports, class.json, statistics, grades.csv and summary.json. */
#include "tpgrade/gradebook.h"
#include "tpgrade/git.h"
#include "tpgrade/sanitize.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* --------------------------------------------------------------- helpers */

static char *jstr(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? tpg_xstrdup(json_string_value(v)) : NULL;
}

static double jnum(const json_t *obj, const char *key, double dflt)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_number(v) ? json_number_value(v) : dflt;
}

static json_t *str_or_null(const char *s)
{
	if (!s)
		return json_null();
	char *clean = tpg_sanitize_utf8(s, strlen(s));
	json_t *v = json_string(clean);
	free(clean);
	return v ? v : json_null();
}

/* Numbers as JSON: whole ones as integers, NAN as null. */
static json_t *num(double v)
{
	if (!isfinite(v))
		return json_null();
	if (v == floor(v) && fabs(v) < 1e15)
		return json_integer((json_int_t)v);
	return json_real(round(v * 1000) / 1000);
}

/* What class.json and summary.json both say of a check, and of the shard. */
static json_t *check_json(const tpg_gb_check *c)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", str_or_null(c->id));
	json_object_set_new(o, "title", str_or_null(c->title));
	json_object_set_new(o, "suite", str_or_null(c->suite));
	json_object_set_new(o, "max_points", num(c->max_points));
	json_object_set_new(o, "bonus", json_boolean(c->bonus));
	return o;
}

static json_t *shard_json(const tpg_gradebook *gb)
{
	if (gb->shard_total <= 0)
		return json_null();
	return json_pack("{s:i,s:i}", "index", gb->shard_index, "total", gb->shard_total);
}

static int dump_json(json_t *doc, FILE *out, tpg_err *err)
{
	int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (rc < 0 || fputc('\n', out) == EOF || ferror(out))
		return tpg_err_set(err, TPG_EIO, "write error");
	return 0;
}

void tpg_gb_format_points(double v, char *buf, size_t n)
{
	if (!isfinite(v)) {
		snprintf(buf, n, "%s", "");
		return;
	}
	if (fabs(v - round(v)) < 1e-9) {
		snprintf(buf, n, "%.0f", round(v) == 0 ? 0.0 : round(v));
		return;
	}
	snprintf(buf, n, "%.2f", v);
	char *end = buf + strlen(buf);
	while (end > buf && end[-1] == '0')
		*--end = '\0';
	if (end > buf && end[-1] == '.')
		end[-1] = '\0';
}

static char *iso_utc(double t)
{
	char buf[32];
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return tpg_xstrdup(buf);
}

/* ------------------------------------------------------------ the state */

void tpg_class_state_clear(tpg_class_state *st)
{
	free(st->status);
	free(st->failure);
	free(st->message);
	free(st->key);
	free(st->spec_digest);
	free(st->tip);
	free(st->commit);
	free(st->commit_date);
	free(st->ref);
	memset(st, 0, sizeof(*st));
	st->commits_after_deadline = -1;
}

int tpg_class_state_read(const char *path, tpg_class_state *st, tpg_err *err)
{
	json_error_t je;
	memset(st, 0, sizeof(*st));
	st->commits_after_deadline = -1;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		struct stat sb;
		if (stat(path, &sb) < 0)
			return tpg_err_errno(err, errno, "cannot read %s", path);
		return tpg_err_set(err, TPG_EPARSE, "%s: %s (line %d)", path, je.text, je.line);
	}
	st->status = jstr(doc, "status");
	if (!json_is_object(doc) || !st->status ||
	    (strcmp(st->status, "graded") != 0 && strcmp(st->status, "error") != 0)) {
		json_decref(doc);
		tpg_class_state_clear(st);
		return tpg_err_set(err, TPG_EPARSE, "%s: no valid \"status\"", path);
	}
	st->failure = jstr(doc, "failure");
	st->transient = json_is_true(json_object_get(doc, "transient"));
	st->message = jstr(doc, "message");
	st->key = jstr(doc, "key");
	st->spec_digest = jstr(doc, "spec_digest");
	st->tip = jstr(doc, "tip");
	st->commit = jstr(doc, "commit");
	st->commit_date = jstr(doc, "commit_date");
	st->ref = jstr(doc, "ref");
	st->commits_after_deadline = (int)jnum(doc, "commits_after_deadline", -1);
	st->graded_at = jnum(doc, "graded_at", 0);
	st->seconds = jnum(doc, "seconds", 0);
	st->engine_seconds = jnum(doc, "engine_seconds", 0);
	st->exit_code = (int)jnum(doc, "exit_code", 0);
	json_decref(doc);
	return 0;
}

static int state_fn(FILE *out, void *ctx, tpg_err *err)
{
	const tpg_class_state *st = ctx;
	json_t *d = json_object();
	json_object_set_new(d, "status", str_or_null(st->status));
	json_object_set_new(d, "failure", str_or_null(st->failure));
	json_object_set_new(d, "transient", json_boolean(st->transient));
	json_object_set_new(d, "message", str_or_null(st->message));
	json_object_set_new(d, "key", str_or_null(st->key));
	json_object_set_new(d, "spec_digest", str_or_null(st->spec_digest));
	json_object_set_new(d, "tip", str_or_null(st->tip));
	json_object_set_new(d, "commit", str_or_null(st->commit));
	json_object_set_new(d, "commit_date", str_or_null(st->commit_date));
	json_object_set_new(d, "ref", str_or_null(st->ref));
	json_object_set_new(d, "commits_after_deadline",
	                    st->commits_after_deadline >= 0 ? json_integer(st->commits_after_deadline)
	                                                    : json_null());
	json_object_set_new(d, "graded_at", json_real(st->graded_at));
	json_object_set_new(d, "seconds", json_real(st->seconds));
	json_object_set_new(d, "engine_seconds", json_real(st->engine_seconds));
	json_object_set_new(d, "exit_code", json_integer(st->exit_code));
	return dump_json(d, out, err);
}

int tpg_class_state_write(const char *path, const tpg_class_state *st, tpg_err *err)
{
	return tpg_write_atomic(path, state_fn, (void *)st, err);
}

/* ------------------------------------------------------- building a book */

tpg_gradebook *tpg_gradebook_from_spec(const tpg_spec *spec, const char *spec_display)
{
	tpg_gradebook *gb = tpg_xcalloc(1, sizeof(*gb));
	gb->tp = tpg_xstrdup(spec->tp);
	gb->title = tpg_xstrdup(spec->title);
	gb->spec = tpg_xstrdup(spec_display ? spec_display : spec->path);
	gb->spec_digest = tpg_xstrdup(spec->digest);
	gb->lang = tpg_xstrdup(spec->lang ? spec->lang : "fr");
	gb->nchecks = spec->nchecks;
	gb->checks = tpg_xcalloc(spec->nchecks, sizeof(*gb->checks));
	for (size_t i = 0; i < spec->nchecks; i++) {
		const tpg_check *c = &spec->checks[i];
		gb->checks[i].id = tpg_xstrdup(c->id);
		gb->checks[i].title = tpg_xstrdup(c->title);
		gb->checks[i].max_points = c->points;
		gb->checks[i].bonus = c->bonus;
	}
	gb->nsuites = spec->nsuites;
	gb->suites = tpg_xcalloc(spec->nsuites, sizeof(*gb->suites));
	for (size_t s = 0; s < spec->nsuites; s++) {
		const tpg_suite *su = &spec->suites[s];
		gb->suites[s].id = tpg_xstrdup(su->id);
		gb->suites[s].title = tpg_xstrdup(su->title);
		gb->suites[s].first = su->first;
		gb->suites[s].count = su->count;
		for (size_t i = su->first; i < su->first + su->count && i < gb->nchecks; i++)
			gb->checks[i].suite = tpg_xstrdup(su->id);
	}
	return gb;
}

static void row_clear_results(tpg_gradebook *gb, tpg_gb_row *row)
{
	free(row->message);
	free(row->commit);
	free(row->commit_date);
	row->message = row->commit = row->commit_date = NULL;
	row->status = TPG_GB_PENDING;
	row->score = row->max_score = NAN;
	row->commits_after_deadline = -1;
	row->graded_at = row->seconds = row->engine_seconds = 0;
	row->exit_code = 0;
	for (size_t i = 0; i < gb->nchecks; i++) {
		row->points[i] = NAN;
		row->check_status[i] = -1;
	}
}

static tpg_gb_row *add_row(tpg_gradebook *gb)
{
	TPG_ARRAY_GROW(gb->rows, gb->nrows, gb->rows_cap);
	tpg_gb_row *row = &gb->rows[gb->nrows++];
	memset(row, 0, sizeof(*row));
	row->points = tpg_xcalloc(gb->nchecks ? gb->nchecks : 1, sizeof(double));
	row->check_status = tpg_xcalloc(gb->nchecks ? gb->nchecks : 1, sizeof(int));
	row_clear_results(gb, row);
	return row;
}

tpg_gb_row *tpg_gradebook_add(tpg_gradebook *gb, const tpg_student *s, bool in_shard)
{
	tpg_gb_row *row = add_row(gb);
	row->index = s->index;
	row->id = tpg_xstrdup(s->id);
	row->name = tpg_xstrdup(s->name);
	row->group = tpg_xstrdup(s->group);
	row->folder = tpg_xstrdup(s->folder);
	row->repo = tpg_url_redact(s->repo);
	row->ref = tpg_xstrdup(s->ref);
	row->in_shard = in_shard;
	return row;
}

void tpg_gradebook_free(tpg_gradebook *gb)
{
	if (!gb)
		return;
	for (size_t i = 0; i < gb->nchecks; i++) {
		free(gb->checks[i].id);
		free(gb->checks[i].title);
		free(gb->checks[i].suite);
	}
	free(gb->checks);
	for (size_t i = 0; i < gb->nsuites; i++) {
		free(gb->suites[i].id);
		free(gb->suites[i].title);
	}
	free(gb->suites);
	for (size_t i = 0; i < gb->nrows; i++) {
		tpg_gb_row *r = &gb->rows[i];
		free(r->id);
		free(r->name);
		free(r->group);
		free(r->folder);
		free(r->repo);
		free(r->ref);
		free(r->message);
		free(r->commit);
		free(r->commit_date);
		free(r->points);
		free(r->check_status);
	}
	free(gb->rows);
	free(gb->tp);
	free(gb->title);
	free(gb->spec);
	free(gb->spec_digest);
	free(gb->lang);
	free(gb);
}

static long check_index(const tpg_gradebook *gb, const char *id)
{
	for (size_t i = 0; i < gb->nchecks; i++)
		if (strcmp(gb->checks[i].id, id) == 0)
			return (long)i;
	return -1;
}

void tpg_gradebook_fill_row(tpg_gradebook *gb, tpg_gb_row *row, const tpg_class_state *st,
                            const tpg_report *report)
{
	row_clear_results(gb, row);
	if (!st)
		return;
	row->graded_at = st->graded_at;
	row->seconds = st->seconds;
	row->engine_seconds = st->engine_seconds;
	row->exit_code = st->exit_code;
	row->commits_after_deadline = st->commits_after_deadline;
	row->commit = tpg_xstrdup(st->commit);
	row->commit_date = tpg_xstrdup(st->commit_date);
	if (strcmp(st->status, "graded") != 0 || !report) {
		row->status = TPG_GB_ERROR;
		row->message = tpg_sanitize_one_line(st->message ? st->message
		                        : strcmp(st->status, "graded") == 0 ? "the report is missing"
		                        : "could not be graded", 1000);
		return;
	}
	row->status = TPG_GB_GRADED;
	row->score = report->score;
	row->max_score = report->max_score;
	if (!row->commit && report->commit)
		row->commit = tpg_xstrdup(report->commit);
	if (!row->commit_date && report->commit_date)
		row->commit_date = tpg_xstrdup(report->commit_date);
	for (size_t i = 0; i < report->nchecks; i++) {
		const tpg_report_check *c = &report->checks[i];
		long k = c->id ? check_index(gb, c->id) : -1;
		if (k < 0)
			continue;
		row->check_status[k] = (int)c->status;
		row->points[k] = c->counted && isfinite(c->points) ? c->points : NAN;
	}
	tpg_buf msg = TPG_BUF_INIT;
	if (st->message && *st->message)
		tpg_buf_puts(&msg, st->message);
	for (size_t i = 0; i < report->notes.len; i++)
		tpg_buf_printf(&msg, "%s%s", msg.len ? "; " : "", report->notes.items[i]);
	row->message = tpg_sanitize_one_line(tpg_buf_cstr(&msg), 1000);
	tpg_buf_free(&msg);
}

void tpg_gradebook_load_row(tpg_gradebook *gb, tpg_gb_row *row, const char *dir)
{
	tpg_class_state st;
	char *path = tpg_xasprintf("%s/%s/state.json", dir, row->folder);
	int rc = tpg_class_state_read(path, &st, NULL);
	free(path);
	if (rc < 0) {
		row_clear_results(gb, row);
		return;
	}
	tpg_report *report = NULL;
	if (strcmp(st.status, "graded") == 0) {
		path = tpg_xasprintf("%s/%s/result.json", dir, row->folder);
		json_t *doc = json_load_file(path, 0, NULL);
		free(path);
		if (!doc || tpg_report_from_json(doc, &report, NULL) < 0)
			report = NULL;
		json_decref(doc);
	}
	tpg_gradebook_fill_row(gb, row, &st, report);
	tpg_report_free(report);
	tpg_class_state_clear(&st);
}

/* ------------------------------------------------------------- class.json */

int tpg_gradebook_write_class_json(const tpg_gradebook *gb, FILE *out, tpg_err *err)
{
	json_t *d = json_object();
	json_object_set_new(d, "tpgrade", json_string(TPGRADE_VERSION));
	json_object_set_new(d, "tp", str_or_null(gb->tp));
	json_object_set_new(d, "title", str_or_null(gb->title));
	json_object_set_new(d, "spec", str_or_null(gb->spec));
	json_object_set_new(d, "spec_digest", str_or_null(gb->spec_digest));
	json_object_set_new(d, "lang", str_or_null(gb->lang));
	json_object_set_new(d, "shard", shard_json(gb));
	json_t *suites = json_array();
	for (size_t s = 0; s < gb->nsuites; s++) {
		json_t *ids = json_array();
		for (size_t i = gb->suites[s].first;
		     i < gb->suites[s].first + gb->suites[s].count && i < gb->nchecks; i++)
			json_array_append_new(ids, str_or_null(gb->checks[i].id));
		json_t *o = json_object();
		json_object_set_new(o, "id", str_or_null(gb->suites[s].id));
		json_object_set_new(o, "title", str_or_null(gb->suites[s].title));
		json_object_set_new(o, "checks", ids);
		json_array_append_new(suites, o);
	}
	json_object_set_new(d, "suites", suites);
	json_t *checks = json_array();
	for (size_t i = 0; i < gb->nchecks; i++)
		json_array_append_new(checks, check_json(&gb->checks[i]));
	json_object_set_new(d, "checks", checks);
	json_t *students = json_array();
	for (size_t i = 0; i < gb->nrows; i++) {
		const tpg_gb_row *r = &gb->rows[i];
		json_t *o = json_object();
		json_object_set_new(o, "index", json_integer((json_int_t)r->index));
		json_object_set_new(o, "id", str_or_null(r->id));
		json_object_set_new(o, "name", str_or_null(r->name));
		json_object_set_new(o, "group", str_or_null(r->group));
		json_object_set_new(o, "folder", str_or_null(r->folder));
		json_object_set_new(o, "repo", str_or_null(r->repo));
		json_object_set_new(o, "ref", str_or_null(r->ref));
		json_object_set_new(o, "in_shard", json_boolean(r->in_shard));
		json_array_append_new(students, o);
	}
	json_object_set_new(d, "students", students);
	return dump_json(d, out, err);
}

static int class_fn(FILE *out, void *ctx, tpg_err *err)
{
	return tpg_gradebook_write_class_json(ctx, out, err);
}

int tpg_gradebook_read_class_json(const char *path, tpg_gradebook **out, tpg_err *err)
{
	json_error_t je;
	*out = NULL;
	json_t *d = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!d) {
		struct stat sb;
		if (stat(path, &sb) < 0)
			return tpg_err_errno(err, errno, "cannot read %s (not the output folder of "
			                     "a class run?)", path);
		return tpg_err_set(err, TPG_EPARSE, "%s: %s (line %d)", path, je.text, je.line);
	}
	const json_t *checks = json_object_get(d, "checks"), *suites = json_object_get(d, "suites");
	const json_t *students = json_object_get(d, "students");
	if (!json_is_array(checks) || !json_is_array(suites) || !json_is_array(students) ||
	    !json_is_string(json_object_get(d, "spec_digest"))) {
		json_decref(d);
		return tpg_err_set(err, TPG_EPARSE, "%s: not a tpgrade class.json (checks, suites, "
		                   "students, spec_digest expected)", path);
	}
	tpg_gradebook *gb = tpg_xcalloc(1, sizeof(*gb));
	gb->tp = jstr(d, "tp");
	gb->title = jstr(d, "title");
	gb->spec = jstr(d, "spec");
	gb->spec_digest = jstr(d, "spec_digest");
	gb->lang = jstr(d, "lang");
	const json_t *shard = json_object_get(d, "shard");
	if (json_is_object(shard)) {
		gb->shard_index = (int)jnum(shard, "index", 0);
		gb->shard_total = (int)jnum(shard, "total", 0);
	}
	gb->nchecks = json_array_size(checks);
	gb->checks = tpg_xcalloc(gb->nchecks ? gb->nchecks : 1, sizeof(*gb->checks));
	int rc = 0;
	for (size_t i = 0; i < gb->nchecks; i++) {
		const json_t *c = json_array_get(checks, i);
		gb->checks[i].id = jstr(c, "id");
		gb->checks[i].title = jstr(c, "title");
		gb->checks[i].suite = jstr(c, "suite");
		gb->checks[i].max_points = jnum(c, "max_points", 0);
		gb->checks[i].bonus = json_is_true(json_object_get(c, "bonus"));
		if (!gb->checks[i].id)
			rc = tpg_err_set(err, TPG_EPARSE, "%s: checks[%zu] has no id", path, i);
	}
	gb->nsuites = json_array_size(suites);
	gb->suites = tpg_xcalloc(gb->nsuites ? gb->nsuites : 1, sizeof(*gb->suites));
	size_t next = 0;
	for (size_t s = 0; s < gb->nsuites; s++) {
		const json_t *o = json_array_get(suites, s);
		gb->suites[s].id = jstr(o, "id");
		gb->suites[s].title = jstr(o, "title");
		gb->suites[s].first = next;
		gb->suites[s].count = json_array_size(json_object_get(o, "checks"));
		next += gb->suites[s].count;
	}
	if (next != gb->nchecks)
		rc = tpg_err_set(err, TPG_EPARSE, "%s: suites do not cover the checks", path);
	for (size_t i = 0; i < json_array_size(students) && rc == 0; i++) {
		const json_t *o = json_array_get(students, i);
		tpg_gb_row *r = add_row(gb);
		r->index = (size_t)jnum(o, "index", (double)i);
		r->id = jstr(o, "id");
		r->name = jstr(o, "name");
		r->group = jstr(o, "group");
		r->folder = jstr(o, "folder");
		r->repo = jstr(o, "repo");
		r->ref = jstr(o, "ref");
		r->in_shard = json_is_true(json_object_get(o, "in_shard"));
		/* A folder from a file must still be one safe component. */
		if (!r->id || !r->folder || !tpg_roster_id_is_safe(r->folder))
			rc = tpg_err_set(err, TPG_EPARSE, "%s: students[%zu]: missing id or unsafe "
			                 "folder", path, i);
	}
	json_decref(d);
	if (rc < 0) {
		tpg_gradebook_free(gb);
		return rc;
	}
	*out = gb;
	return 0;
}

/* ------------------------------------------------------------- statistics */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void tpg_gradebook_stats(const tpg_gradebook *gb, tpg_gb_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->checks = tpg_xcalloc(gb->nchecks ? gb->nchecks : 1, sizeof(*st->checks));
	st->suite_mean = tpg_xcalloc(gb->nsuites ? gb->nsuites : 1, sizeof(double));
	st->suite_max = tpg_xcalloc(gb->nsuites ? gb->nsuites : 1, sizeof(double));
	double *scores = tpg_xcalloc(gb->nrows ? gb->nrows : 1, sizeof(double));
	double sum = 0;

	st->mean = st->median = st->min = st->max = st->max_score = NAN;
	for (size_t i = 0; i < gb->nrows; i++) {
		const tpg_gb_row *r = &gb->rows[i];
		if (!r->in_shard)
			continue;
		st->count++;
		switch (r->action) {
		case TPG_GB_RUN_GRADED: st->run_graded++; break;
		case TPG_GB_RUN_UNCHANGED: st->run_unchanged++; break;
		case TPG_GB_RUN_ERROR: st->run_errors++; break;
		case TPG_GB_RUN_INTERRUPTED: st->run_interrupted++; break;
		default: break;
		}
		if (r->status == TPG_GB_ERROR)
			st->errors++;
		if (r->status == TPG_GB_PENDING)
			st->pending++;
		if (r->status != TPG_GB_GRADED)
			continue;
		double s = isfinite(r->score) ? r->score : 0;
		scores[st->graded++] = s;
		sum += s;
		if (isfinite(r->max_score) && !(r->max_score <= st->max_score))
			st->max_score = r->max_score;
		for (size_t k = 0; k < gb->nchecks; k++) {
			if (!isfinite(r->points[k]) || r->check_status[k] < 0)
				continue;
			tpg_gb_check_stats *c = &st->checks[k];
			c->graded++;
			c->mean_points += r->points[k];
			switch (r->check_status[k]) {
			case TPG_STATUS_PASSED: c->passed++; break;
			case TPG_STATUS_FAILED: c->failed++; break;
			case TPG_STATUS_ERROR: c->errors++; break;
			default: c->skipped++; break;
			}
		}
		for (size_t s2 = 0; s2 < gb->nsuites; s2++) {
			const tpg_gb_suite *su = &gb->suites[s2];
			for (size_t k = su->first; k < su->first + su->count && k < gb->nchecks; k++)
				if (isfinite(r->points[k]))
					st->suite_mean[s2] += r->points[k];
		}
	}
	for (size_t k = 0; k < gb->nchecks; k++) {
		tpg_gb_check_stats *c = &st->checks[k];
		c->pass_rate = c->graded ? (double)c->passed / (double)c->graded : NAN;
		c->mean_points = c->graded ? c->mean_points / (double)c->graded : NAN;
	}
	for (size_t s2 = 0; s2 < gb->nsuites; s2++) {
		const tpg_gb_suite *su = &gb->suites[s2];
		st->suite_mean[s2] = st->graded ? st->suite_mean[s2] / (double)st->graded : NAN;
		for (size_t k = su->first; k < su->first + su->count && k < gb->nchecks; k++)
			if (!gb->checks[k].bonus)
				st->suite_max[s2] += gb->checks[k].max_points;
	}
	if (st->graded) {
		qsort(scores, st->graded, sizeof(double), cmp_double);
		st->mean = sum / (double)st->graded;
		st->min = scores[0];
		st->max = scores[st->graded - 1];
		st->median = st->graded % 2 ? scores[st->graded / 2]
		             : (scores[st->graded / 2 - 1] + scores[st->graded / 2]) / 2;
	}
	free(scores);
}

void tpg_gb_stats_clear(tpg_gb_stats *st)
{
	free(st->checks);
	free(st->suite_mean);
	free(st->suite_max);
	memset(st, 0, sizeof(*st));
}

/* -------------------------------------------------------------- grades.csv */

void tpg_gb_csv_cell(FILE *out, const char *s, bool text)
{
	if (!s || !*s)
		return;
	char *clean = tpg_sanitize_utf8(s, strlen(s));
	bool quote = text && strpbrk(clean, ",;\"\n\r") != NULL;
	bool defuse = text && strchr("=+-@\t\r", clean[0]) != NULL;
	if (defuse)
		quote = true;
	if (quote)
		fputc('"', out);
	if (defuse)
		fputc('\'', out);
	for (const char *p = clean; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			fputs("\"\"", out);
		else if (c < 0x20 || c == 0x7f)
			fputc(' ', out);
		else
			fputc((char)c, out);
	}
	if (quote)
		fputc('"', out);
	free(clean);
}

const char *tpg_gb_status_name(tpg_gb_status s)
{
	return s == TPG_GB_GRADED ? "graded" : s == TPG_GB_ERROR ? "error" : "pending";
}

int tpg_gradebook_write_csv(const tpg_gradebook *gb, FILE *out, tpg_err *err)
{
	char nb[64];
	fputs("id,name,group,score,max", out);
	for (size_t k = 0; k < gb->nchecks; k++) {
		fputc(',', out);
		tpg_gb_csv_cell(out, gb->checks[k].id, true);
	}
	fputs(",commit,commit_date,commits_after_deadline,status,message\r\n", out);
	for (size_t i = 0; i < gb->nrows; i++) {
		const tpg_gb_row *r = &gb->rows[i];
		bool graded = r->status == TPG_GB_GRADED;
		if (!r->in_shard)
			continue;
		tpg_gb_csv_cell(out, r->id, true);
		fputc(',', out);
		tpg_gb_csv_cell(out, r->name, true);
		fputc(',', out);
		tpg_gb_csv_cell(out, r->group, true);
		fputc(',', out);
		tpg_gb_format_points(graded ? r->score : NAN, nb, sizeof(nb));
		fputs(nb, out);
		fputc(',', out);
		tpg_gb_format_points(graded ? r->max_score : NAN, nb, sizeof(nb));
		fputs(nb, out);
		for (size_t k = 0; k < gb->nchecks; k++) {
			fputc(',', out);
			tpg_gb_format_points(graded ? r->points[k] : NAN, nb, sizeof(nb));
			fputs(nb, out);
		}
		fputc(',', out);
		tpg_gb_csv_cell(out, r->commit, true);
		fputc(',', out);
		tpg_gb_csv_cell(out, r->commit_date, true);
		fputc(',', out);
		if (r->commits_after_deadline >= 0)
			fprintf(out, "%d", r->commits_after_deadline);
		fputc(',', out);
		fputs(tpg_gb_status_name(r->status), out);
		fputc(',', out);
		tpg_gb_csv_cell(out, r->message, true);
		fputs("\r\n", out);
	}
	if (fflush(out) == EOF || ferror(out))
		return tpg_err_set(err, TPG_EIO, "write error");
	return 0;
}

static int csv_fn(FILE *out, void *ctx, tpg_err *err)
{
	return tpg_gradebook_write_csv(ctx, out, err);
}

/* ------------------------------------------------------------ summary.json */

int tpg_gradebook_write_summary(const tpg_gradebook *gb, FILE *out, tpg_err *err)
{
	tpg_gb_stats st;
	tpg_gradebook_stats(gb, &st);
	json_t *d = json_object();
	json_object_set_new(d, "tpgrade", json_string(TPGRADE_VERSION));
	json_object_set_new(d, "tp", str_or_null(gb->tp));
	json_object_set_new(d, "title", str_or_null(gb->title));
	json_object_set_new(d, "spec_digest", str_or_null(gb->spec_digest));
	char *gen = iso_utc(gb->generated);
	json_object_set_new(d, "generated", json_string(gen));
	free(gen);
	json_object_set_new(d, "shard", shard_json(gb));
	json_object_set_new(d, "count", json_integer((json_int_t)st.count));
	json_object_set_new(d, "graded", json_integer((json_int_t)st.graded));
	json_object_set_new(d, "errors", json_integer((json_int_t)st.errors));
	json_object_set_new(d, "pending", json_integer((json_int_t)st.pending));
	json_t *score = json_object();
	json_object_set_new(score, "mean", num(st.mean));
	json_object_set_new(score, "median", num(st.median));
	json_object_set_new(score, "min", num(st.min));
	json_object_set_new(score, "max", num(st.max));
	json_object_set_new(score, "max_score", num(st.max_score));
	json_object_set_new(d, "score", score);
	json_t *checks = json_array();
	for (size_t k = 0; k < gb->nchecks; k++) {
		const tpg_gb_check_stats *c = &st.checks[k];
		json_t *o = check_json(&gb->checks[k]);
		json_object_set_new(o, "graded", json_integer((json_int_t)c->graded));
		json_object_set_new(o, "passed", json_integer((json_int_t)c->passed));
		json_object_set_new(o, "failed", json_integer((json_int_t)c->failed));
		json_object_set_new(o, "skipped", json_integer((json_int_t)c->skipped));
		json_object_set_new(o, "error", json_integer((json_int_t)c->errors));
		json_object_set_new(o, "pass_rate", num(c->pass_rate));
		json_object_set_new(o, "mean_points", num(c->mean_points));
		json_array_append_new(checks, o);
	}
	json_object_set_new(d, "checks", checks);
	json_t *suites = json_array();
	for (size_t s = 0; s < gb->nsuites; s++) {
		json_t *o = json_object();
		json_object_set_new(o, "id", str_or_null(gb->suites[s].id));
		json_object_set_new(o, "title", str_or_null(gb->suites[s].title));
		json_object_set_new(o, "mean", num(st.suite_mean[s]));
		json_object_set_new(o, "max_score", num(st.suite_max[s]));
		json_array_append_new(suites, o);
	}
	json_object_set_new(d, "suites", suites);
	json_t *errs = json_array();
	for (size_t i = 0; i < gb->nrows; i++)
		if (gb->rows[i].in_shard && gb->rows[i].status == TPG_GB_ERROR)
			json_array_append_new(errs, json_pack("{s:o,s:o}", "id", str_or_null(gb->rows[i].id),
			                                      "message", str_or_null(gb->rows[i].message)));
	json_object_set_new(d, "students_in_error", errs);
	if (gb->has_run)
		json_object_set_new(d, "run", json_pack("{s:i,s:i,s:i,s:i,s:b}",
			"graded", (int)st.run_graded, "unchanged", (int)st.run_unchanged,
			"errors", (int)st.run_errors, "not_finished", (int)st.run_interrupted,
			"interrupted", gb->interrupted));
	else
		json_object_set_new(d, "run", json_null());
	tpg_gb_stats_clear(&st);
	return dump_json(d, out, err);
}

static int summary_fn(FILE *out, void *ctx, tpg_err *err)
{
	return tpg_gradebook_write_summary(ctx, out, err);
}

static int html_fn(FILE *out, void *ctx, tpg_err *err)
{
	return tpg_gradebook_write_html(ctx, out, err);
}

int tpg_gradebook_write_all(const tpg_gradebook *gb, const char *dir, tpg_err *err)
{
	static const struct {
		const char *name;
		tpg_write_fn fn;
	} files[] = {
		{ "class.json", class_fn },
		{ "grades.csv", csv_fn },
		{ "summary.json", summary_fn },
		{ "report.html", html_fn },
	};
	int first = 0;
	for (size_t i = 0; i < TPG_ARRAY_LEN(files); i++) {
		tpg_err e = {0};
		char *path = tpg_xasprintf("%s/%s", dir, files[i].name);
		int rc = tpg_write_atomic(path, files[i].fn, (void *)gb, &e);
		free(path);
		if (rc < 0 && !first) {
			first = rc;
			if (err)
				*err = e;
		}
	}
	return first;
}

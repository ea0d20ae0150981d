/* engine.c - selecting, ordering and running checks; building the report. */
#include "tpgrade/engine.h"
#include "tpgrade/repo.h"
#include "engine_internal.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* Captured output kept per check: the tail, where errors usually are. */
#define OUTPUT_CAP (64u * 1024)

static void new_run_id(char out[13])
{
	unsigned char bytes[6];
	static const char hex[] = "0123456789abcdef";
	if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes)) {
		/* Fall back to time and pid: uniqueness is what matters. */
		long long t = tpg_now_ms() ^ ((long long)getpid() << 20);
		for (size_t i = 0; i < sizeof(bytes); i++)
			bytes[i] = (unsigned char)(t >> (8 * i));
	}
	for (size_t i = 0; i < sizeof(bytes); i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 15];
	}
	out[12] = '\0';
}

static bool matches_any(const tpg_strv *patterns, const tpg_spec *spec, const tpg_check *c)
{
	const char *suite = spec->suites[c->suite].id;
	for (size_t i = 0; i < patterns->len; i++) {
		const char *p = patterns->items[i];
		if (!strcmp(p, c->id) || (suite && !strcmp(p, suite)) || fnmatch(p, c->id, 0) == 0)
			return true;
	}
	return false;
}

static bool has_any_tag(const tpg_strv *tags, const tpg_check *c)
{
	for (size_t i = 0; i < tags->len; i++)
		if (tpg_strv_contains(&c->tags, tags->items[i]))
			return true;
	return false;
}

bool tpg_engine_selected(const tpg_spec *spec, const tpg_check *c, const tpg_engine_opts *opts,
                         const char **why)
{
	*why = NULL;
	if (opts->only.len && !matches_any(&opts->only, spec, c)) {
		*why = "not selected (--only)";
		return false;
	}
	if (opts->skip.len && matches_any(&opts->skip, spec, c)) {
		*why = "left out (--skip)";
		return false;
	}
	if (opts->tags.len && !has_any_tag(&opts->tags, c)) {
		*why = "not selected (--tags)";
		return false;
	}
	if (opts->skip_tags.len && has_any_tag(&opts->skip_tags, c)) {
		*why = "left out (--skip-tags)";
		return false;
	}
	return true;
}

/* Selection plus the prerequisites of selected checks (which --only would
 * otherwise leave out), unless those were explicitly skipped. */
static void compute_selection(tpg_run *run)
{
	const tpg_spec *spec = run->spec;
	size_t n = spec->nchecks;

	for (size_t i = 0; i < n; i++)
		run->selected[i] = tpg_engine_selected(spec, &spec->checks[i], run->opts, &run->why_not[i]);
	bool changed = true;
	while (changed) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			if (!run->selected[i])
				continue;
			const tpg_check *c = &spec->checks[i];
			for (size_t e = 0; e < c->needs.len + c->uses.len; e++) {
				const char *dep = e < c->needs.len ? c->needs.items[e] : c->uses.items[e - c->needs.len];
				long w = tpg_spec_index(spec, dep);
				if (w < 0 || run->selected[w])
					continue;
				const tpg_check *d = &spec->checks[w];
				bool skipped_explicitly =
					(run->opts->skip.len && matches_any(&run->opts->skip, spec, d)) ||
					(run->opts->skip_tags.len && has_any_tag(&run->opts->skip_tags, d));
				if (!skipped_explicitly) {
					run->selected[w] = true;
					run->why_not[w] = NULL;
					changed = true;
				}
			}
		}
	}
}

static const char *status_verb(tpg_status st)
{
	switch (st) {
	case TPG_STATUS_FAILED: return "failed";
	case TPG_STATUS_ERROR: return "could not be graded (error)";
	case TPG_STATUS_SKIPPED: return "was skipped";
	default: return "passed";
	}
}

/* Why a check cannot run because of its prerequisites, or NULL. */
static char *blocked_by(tpg_run *run, const tpg_check *c)
{
	const tpg_spec *spec = run->spec;
	for (size_t k = 0; k < c->needs.len; k++) {
		long w = tpg_spec_index(spec, c->needs.items[k]);
		if (w < 0)
			continue;
		const tpg_check *d = &spec->checks[w];
		if (!run->selected[w])
			return tpg_xasprintf("needs %s (%s), which was not selected", d->id, d->title);
		if (run->results[w].status != TPG_STATUS_PASSED)
			return tpg_xasprintf("needs %s (%s), which %s", d->id, d->title,
			                     status_verb(run->results[w].status));
	}
	for (size_t k = 0; k < c->uses.len; k++) {
		long w = tpg_spec_index(spec, c->uses.items[k]);
		if (w < 0)
			continue;
		const tpg_check *d = &spec->checks[w];
		if (!run->selected[w])
			return tpg_xasprintf("uses what %s (%s) finds, and it was not selected", d->id, d->title);
		if (run->results[w].status == TPG_STATUS_SKIPPED ||
		    run->results[w].status == TPG_STATUS_ERROR)
			return tpg_xasprintf("uses what %s (%s) finds, and it %s", d->id, d->title,
			                     status_verb(run->results[w].status));
	}
	return NULL;
}

/* Every report line says which file it graded: a check that grades what
 * another one found (an image built from a Dockerfile, a container of that
 * image) names the file of the first such check, unless it named one. */
static void inherit_file(tpg_run *run, const tpg_check *c, tpg_result *res)
{
	for (size_t k = 0; k < c->uses.len && !res->file; k++) {
		long w = tpg_spec_index(run->spec, c->uses.items[k]);
		if (w >= 0 && run->results[w].file)
			tpg_result_file(res, run->results[w].file, 0);
	}
}

static void run_one(tpg_run *run, size_t idx)
{
	const tpg_spec *spec = run->spec;
	const tpg_check *c = &spec->checks[idx];
	tpg_result *res = &run->results[idx];
	char *blocked;

	tpg_buf_init_capped(&res->output, OUTPUT_CAP, true);
	double t0 = tpg_wall_seconds();
	if (!run->selected[idx]) {
		tpg_result_skip(res, "%s", run->why_not[idx] ? run->why_not[idx] : "not selected");
	} else if (tpg_interrupted()) {
		tpg_result_skip(res, "not run: grading was interrupted");
	} else if ((blocked = blocked_by(run, c)) != NULL) {
		tpg_result_skip(res, "%s", blocked);
		free(blocked);
	} else {
		if (run->opts->on_start)
			run->opts->on_start(run->opts->progress_ctx, c);
		run->current = c;
		run->deadline = tpg_now_ms() + c->timeout_ms;
		c->kind->run(c, c->cfg, run, res);
		run->current = NULL;
		inherit_file(run, c, res);
		if (!res->status_set)
			tpg_result_error(res, "internal error: the %s check set no result", c->kind->name);
		if (res->status == TPG_STATUS_FAILED && tpg_now_ms() > run->deadline &&
		    res->message.len == 0)
			tpg_result_fail(res, "did not finish within %lld s", c->timeout_ms / 1000);
	}
	run->seconds[idx] = tpg_wall_seconds() - t0;
}

static void fill_report_check(tpg_run *run, size_t idx, tpg_report_check *rc)
{
	const tpg_spec *spec = run->spec;
	const tpg_check *c = &spec->checks[idx];
	tpg_result *res = &run->results[idx];

	rc->id = tpg_xstrdup(c->id);
	rc->title = tpg_xstrdup(c->title);
	rc->suite_id = tpg_xstrdup(spec->suites[c->suite].id);
	rc->kind = tpg_xstrdup(c->kind ? c->kind->name : "");
	rc->status = res->status;
	rc->counted = run->selected[idx];
	rc->bonus = c->bonus;
	rc->max_points = rc->counted ? c->points : 0;
	rc->points = res->status == TPG_STATUS_PASSED && rc->counted ? c->points : 0;
	rc->message = tpg_buf_detach(&res->message);
	const char *hint = tpg_l10n_pick(&c->hint, run->lang);
	rc->hint = hint ? tpg_xstrdup(hint) : NULL;
	rc->file = res->file;
	res->file = NULL;
	rc->line = res->line;
	if (res->output.len || res->output.truncated) {
		tpg_buf out = TPG_BUF_INIT;
		if (res->output.truncated)
			tpg_buf_printf(&out, "[... %zu earlier bytes not kept ...]\n", res->output.dropped);
		/* Container output may hold NULs: keep its true length. */
		tpg_buf_append(&out, res->output.data, res->output.len);
		rc->output_len = out.len;
		rc->output = tpg_buf_detach(&out);
	}
	tpg_buf_free(&res->output);
	rc->seconds = run->seconds[idx];
	for (size_t i = 0; i < c->tags.len; i++)
		tpg_strv_push(&rc->tags, c->tags.items[i]);
	for (size_t i = 0; i < c->needs.len; i++)
		tpg_strv_push(&rc->needs, c->needs.items[i]);
	for (size_t i = 0; i < c->uses.len; i++)
		if (!tpg_strv_contains(&rc->needs, c->uses.items[i]))
			tpg_strv_push(&rc->needs, c->uses.items[i]);
	rc->data = res->data;
	res->data = NULL;
}

static tpg_report *build_report(tpg_run *run, double started)
{
	const tpg_spec *spec = run->spec;
	const tpg_engine_opts *o = run->opts;
	tpg_report *r = tpg_xcalloc(1, sizeof(*r));
	char host[256] = "";

	r->tp = tpg_xstrdup(spec->tp);
	r->title = tpg_xstrdup(spec->title);
	r->spec_path = tpg_xstrdup(spec->path);
	r->spec_digest = tpg_xstrdup(spec->digest);
	r->student = tpg_xstrdup(o->student);
	r->repository = tpg_xstrdup(o->repository ? o->repository : tpg_repo_root(run->repo));
	r->commit = tpg_xstrdup(o->commit);
	r->commit_date = tpg_xstrdup(o->commit_date);
	r->ref = tpg_xstrdup(o->ref);
	gethostname(host, sizeof(host) - 1);
	r->hostname = tpg_xstrdup(host);
	r->lang = tpg_xstrdup(run->lang);
	r->started = started;
	if (o->notes)
		for (size_t i = 0; i < o->notes->len; i++)
			tpg_strv_push(&r->notes, o->notes->items[i]);
	r->nsuites = spec->nsuites;
	r->suites = tpg_xcalloc(spec->nsuites ? spec->nsuites : 1, sizeof(*r->suites));
	for (size_t s = 0; s < spec->nsuites; s++) {
		r->suites[s].id = tpg_xstrdup(spec->suites[s].id);
		r->suites[s].title = tpg_xstrdup(spec->suites[s].title);
		r->suites[s].first = spec->suites[s].first;
		r->suites[s].count = spec->suites[s].count;
	}
	r->nchecks = spec->nchecks;
	r->checks = tpg_xcalloc(spec->nchecks ? spec->nchecks : 1, sizeof(*r->checks));
	for (size_t i = 0; i < spec->nchecks; i++)
		fill_report_check(run, i, &r->checks[i]);
	r->seconds = tpg_wall_seconds() - started;
	tpg_report_tally(r);
	if (tpg_interrupted())
		r->exit_code = 130;
	return r;
}

/* ---- What kinds see of the run ---------------------------------------- */

tpg_repo *tpg_run_repo(tpg_run *run)
{
	return run->repo;
}

static const char *lookup_found(void *ctx, const char *name)
{
	tpg_run *run = ctx;
	return tpg_vars_get(&run->found, name);
}

int tpg_run_expand(tpg_run *run, const tpg_tmpl *t, char **out, tpg_err *err)
{
	*out = NULL;
	if (!t->text)
		return tpg_err_set(err, TPG_EINVAL, "no value");
	if (!t->dynamic) {
		*out = tpg_xstrdup(t->text);
		return 0;
	}
	int rc = tpg_vars_expand(t->text, lookup_found, run, NULL, out, NULL, err);
	if (rc < 0 && strstr(err->msg, "undefined variable ${found.")) {
		/* Rephrase: the other check ran but did not find its target. */
		char msg[TPG_ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", err->msg + strlen("undefined variable "));
		tpg_err_set(err, TPG_ENOTFOUND, "%s is not set: the check that should find it found nothing",
		            msg);
		return TPG_ENOTFOUND;
	}
	return rc;
}

void tpg_run_set_found(tpg_run *run, const char *key, const char *value)
{
	if (!run->current)
		return;
	char *name = tpg_xasprintf("found.%s.%s", run->current->id, key);
	tpg_vars_set(&run->found, name, value);
	free(name);
}

const char *tpg_run_found(tpg_run *run, const char *check_id, const char *key)
{
	char *name = tpg_xasprintf("found.%s.%s", check_id, key);
	const char *v = tpg_vars_get(&run->found, name);
	free(name);
	return v;
}

long long tpg_run_deadline(tpg_run *run)
{
	return run->deadline;
}

const char *tpg_run_lang(tpg_run *run)
{
	return run->lang;
}

const char *tpg_run_id(tpg_run *run)
{
	return run->id;
}


const char *tpg_run_builder(tpg_run *run)
{
	return run->opts->builder;
}


void tpg_run_put(tpg_run *run, const char *key, void *ptr, void (*destroy)(void *ptr, tpg_run *run))
{
	TPG_ARRAY_GROW(run->objects, run->nobjects, run->capobjects);
	run_object *o = &run->objects[run->nobjects++];
	o->key = tpg_xasprintf("%s.%s", run->current ? run->current->id : "", key);
	o->ptr = ptr;
	o->destroy = destroy;
}

void *tpg_run_get(tpg_run *run, const char *check_id, const char *key)
{
	char *full = tpg_xasprintf("%s.%s", check_id, key);
	void *found = NULL;
	for (size_t i = run->nobjects; i-- > 0;) {
		if (!strcmp(run->objects[i].key, full)) {
			found = run->objects[i].ptr;
			break;
		}
	}
	free(full);
	return found;
}

static void destroy_objects(tpg_run *run)
{
	for (size_t i = run->nobjects; i-- > 0;) {
		run_object *o = &run->objects[i];
		if (o->destroy)
			o->destroy(o->ptr, run);
		free(o->key);
	}
	free(run->objects);
	run->objects = NULL;
	run->nobjects = 0;
}

int tpg_engine_run(const tpg_spec *spec, const tpg_engine_opts *opts, tpg_report **out, tpg_err *err)
{
	tpg_run run;
	size_t n = spec->nchecks;
	double started = tpg_wall_seconds();

	*out = NULL;
	memset(&run, 0, sizeof(run));
	run.spec = spec;
	run.opts = opts;
	run.lang = opts->lang ? opts->lang : spec->lang;
	new_run_id(run.id);
	if (tpg_repo_open(opts->repo_path, &run.repo, err) < 0)
		return err->code ? err->code : TPG_ENOTFOUND;

	run.selected = tpg_xcalloc(n ? n : 1, sizeof(bool));
	run.why_not = tpg_xcalloc(n ? n : 1, sizeof(char *));
	run.results = tpg_xcalloc(n ? n : 1, sizeof(tpg_result));
	run.seconds = tpg_xcalloc(n ? n : 1, sizeof(double));
	compute_selection(&run);

	for (size_t k = 0; k < n; k++) {
		size_t idx = spec->order ? spec->order[k] : k;
		run_one(&run, idx);
		if (opts->on_done) {
			/* A throwaway view of the result for progress output. */
			tpg_report_check rc;
			memset(&rc, 0, sizeof(rc));
			rc.id = spec->checks[idx].id;
			rc.title = spec->checks[idx].title;
			rc.status = run.results[idx].status;
			rc.message = (char *)tpg_buf_cstr(&run.results[idx].message);
			rc.seconds = run.seconds[idx];
			rc.counted = run.selected[idx];
			rc.max_points = spec->checks[idx].points;
			rc.points = rc.status == TPG_STATUS_PASSED ? rc.max_points : 0;
			opts->on_done(opts->progress_ctx, &rc);
		}
	}

	/* Cleanup first, then the report: a report must not promise a clean
	 * daemon that the cleanup then failed to deliver. */
	destroy_objects(&run);
	tpg_engine_docker_finish(&run);

	*out = build_report(&run, started);
	if (run.cleanup_note) {
		tpg_strv_push_owned(&(*out)->notes, run.cleanup_note);
		(*out)->exit_code = (*out)->exit_code == 130 ? 130 : 3;
	}

	for (size_t i = 0; i < n; i++) {
		tpg_buf_free(&run.results[i].message);
		tpg_buf_free(&run.results[i].output);
		free(run.results[i].file);
		json_decref(run.results[i].data);
	}
	free(run.results);
	free(run.seconds);
	free(run.selected);
	free(run.why_not);
	tpg_vars_free(&run.found);
	tpg_repo_close(run.repo);
	return 0;
}

void tpg_engine_opts_free(tpg_engine_opts *opts)
{
	tpg_strv_free(&opts->only);
	tpg_strv_free(&opts->skip);
	tpg_strv_free(&opts->tags);
	tpg_strv_free(&opts->skip_tags);
}

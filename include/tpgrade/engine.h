/*
 * engine.h - grading one repository with one spec.
 *
 * The engine opens the repository, decides which checks are selected,
 * runs them in dependency order (a check whose explicit prerequisite did
 * not pass is skipped with the reason), enforces each check's deadline,
 * and turns the results into a tpg_report. Everything the run created on
 * the Docker daemon is removed at the end, also after errors or a signal.
 */
#ifndef TPGRADE_ENGINE_H
#define TPGRADE_ENGINE_H

#include "tpgrade/report.h"
#include "tpgrade/spec.h"

typedef struct tpg_engine_opts {
	const char *repo_path;       /* folder to grade (required) */
	tpg_strv only;               /* check ids, suite ids or patterns ("cowsay.*") */
	tpg_strv skip;
	tpg_strv tags;               /* run checks having any of these tags */
	tpg_strv skip_tags;          /* leave out checks having any of these */
	const char *lang;            /* "fr"/"en"; NULL: the spec's */
	const char *docker_host;     /* NULL: DOCKER_HOST and the usual defaults */
	const char *builder;         /* NULL/"auto", "buildkit", "classic" */
	/* Report metadata (copied; any may be NULL). */
	const char *student;
	const char *repository;      /* shown instead of repo_path (credentials already stripped) */
	const char *commit;
	const char *commit_date;
	const char *ref;
	const tpg_strv *notes;
	/* Called before and after each check runs (may be NULL), for progress. */
	void (*on_start)(void *ctx, const tpg_check *check);
	void (*on_done)(void *ctx, const tpg_report_check *result);
	void *progress_ctx;
} tpg_engine_opts;

/*
 * Grades. On success *out is a report (freed with tpg_report_free) whose
 * exit_code is 0, 1 or 3 (130 when interrupted). Fails only when nothing
 * can be graded: the repository is missing or unreadable (TPG_ENOTFOUND,
 * TPG_EIO).
 */
int tpg_engine_run(const tpg_spec *spec, const tpg_engine_opts *opts, tpg_report **out, tpg_err *err);
void tpg_engine_opts_free(tpg_engine_opts *opts);   /* frees the strv members only */

/* True when `check` is selected by only/skip/tags/skip_tags (dependencies
 * not considered); *why says why not, for the report. */
bool tpg_engine_selected(const tpg_spec *spec, const tpg_check *check,
                         const tpg_engine_opts *opts, const char **why);

#endif

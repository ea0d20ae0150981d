/*
 * report.h - the outcome of one grading run, independent of the spec's
 * internals, and the writers that turn it into JUnit XML, JSON, the
 * terminal report and Gradescope's results.json.
 *
 * A tpg_report owns every string in it (malloc'ed, freed by
 * tpg_report_free). Strings may hold anything a student or a container
 * produced: writers sanitize for their format (include/tpgrade/sanitize.h).
 */
#ifndef TPGRADE_REPORT_H
#define TPGRADE_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"

typedef enum tpg_status {
	TPG_STATUS_PASSED = 0,
	TPG_STATUS_FAILED,
	TPG_STATUS_ERROR,    /* the environment failed (daemon down...), not the student */
	TPG_STATUS_SKIPPED
} tpg_status;

/* "passed", "failed", "error", "skipped". Static. */
const char *tpg_status_name(tpg_status status);

typedef struct tpg_report_check {
	char *id;            /* "cowsay.entrypoint-exec" */
	char *title;
	char *suite_id;      /* "cowsay" */
	char *kind;          /* "dockerfile" */
	tpg_status status;
	double points;       /* awarded */
	double max_points;   /* what it is worth (0 when not selected) */
	bool bonus;          /* counts toward the score, not the maximum */
	bool counted;        /* false when deselected (--only/--skip/--tags): not in max */
	char *message;       /* the explanation: why it passed/failed/was skipped */
	char *hint;          /* in the chosen language; NULL when none */
	char *file;          /* repo-relative file graded, NULL if none */
	int line;            /* line in `file`, 0 if none */
	char *output;        /* captured output (build log tail, container output), may be NULL */
	double seconds;      /* wall time spent on the check */
	tpg_strv tags;
	tpg_strv needs;
	json_t *data;        /* extra details for JSON (owned reference, may be NULL) */
} tpg_report_check;

typedef struct tpg_report_suite {
	char *id;
	char *title;
	size_t first;        /* index of its first check in report->checks */
	size_t count;
} tpg_report_suite;

typedef struct tpg_report {
	char *tp;            /* the spec's `tp` ("tp2bis") */
	char *title;         /* the spec's title */
	char *spec_path;
	char *spec_digest;   /* "sha256:..." of the spec file's bytes */
	char *student;       /* may be NULL */
	char *repository;    /* path or URL, credentials stripped */
	char *commit;        /* SHA graded, NULL when not a git repository */
	char *commit_date;   /* ISO 8601, NULL when unknown */
	char *ref;           /* branch/tag asked for, may be NULL */
	char *hostname;
	char *lang;          /* "fr" / "en": language of hints */
	double started;      /* epoch seconds */
	double seconds;      /* total wall time */
	double score;
	double max_score;    /* counted, non-bonus checks */
	tpg_strv notes;      /* report-wide notes ("2 commits after the deadline") */
	tpg_report_suite *suites;
	size_t nsuites;
	tpg_report_check *checks;
	size_t nchecks;
	int exit_code;       /* 0 all passed, 1 failures, 3 environment errors */
} tpg_report;

void tpg_report_free(tpg_report *report);
/* Recomputes score, max_score and exit_code from the checks. */
void tpg_report_tally(tpg_report *report);

/* Options of the terminal writer. */
typedef struct tpg_term_opts {
	bool color;        /* ANSI colours (the CLI decides: TTY, NO_COLOR, --no-color) */
	bool verbose;      /* times per check, outputs of passed checks */
	bool quiet;        /* only failures and the total */
	bool student;      /* `tpgrade check`: friendlier wording, hints first */
	int width;         /* terminal width for wrapping, 0 = no wrapping */
} tpg_term_opts;

/* Writers: each writes the whole document to `out`; return 0 or TPG_EIO. */
int tpg_report_write_junit(const tpg_report *report, FILE *out, tpg_err *err);
int tpg_report_write_json(const tpg_report *report, FILE *out, tpg_err *err);
int tpg_report_write_term(const tpg_report *report, const tpg_term_opts *opts,
                          FILE *out, tpg_err *err);
int tpg_report_write_gradescope(const tpg_report *report, FILE *out, tpg_err *err);

/* The JSON document (new reference), for callers that embed it. */
json_t *tpg_report_to_json(const tpg_report *report);
/* Reads back a JSON report written by tpg_report_write_json (class runs,
 * `tpgrade merge`). *out is freed with tpg_report_free. */
int tpg_report_from_json(const json_t *doc, tpg_report **out, tpg_err *err);

/*
 * Writes a file atomically: `write` is called with a FILE* on a temporary
 * file in the same folder, which is then fsync'ed and renamed over `path`.
 * On any failure the temporary file is removed and `path` is untouched.
 * `path` "-" writes to stdout directly.
 */
typedef int (*tpg_write_fn)(FILE *out, void *ctx, tpg_err *err);
int tpg_write_atomic(const char *path, tpg_write_fn write, void *ctx, tpg_err *err);

#endif

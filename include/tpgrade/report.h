/*
 * report.h - the outcome of one grading run, independent of the spec's
 * internals, and the writers that turn it into JUnit XML, JSON, the
 * terminal report and Gradescope's results.json (docs/reports.md).
 *
 * Ownership: a tpg_report owns every string, strv and json_t in it
 * (malloc'ed / one reference each), released by tpg_report_free (heap
 * report, e.g. from tpg_report_new or tpg_report_from_json) or
 * tpg_report_clear (report embedded elsewhere, e.g. on the stack).
 * Strings may hold anything a student or a container produced (invalid
 * UTF-8, control characters, megabytes of log): writers sanitize and cap for
 * their format (include/tpgrade/sanitize.h), the model does not.
 *
 * Layout: the checks of a suite are contiguous in `checks`
 * (suites[i].first .. first+count). Writers tolerate a broken layout (ranges
 * past the end are clamped; checks no suite covers are reported in an extra
 * group named after their suite_id), but tpg_report_add_suite/_add_check
 * always build a proper one.
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

/* "passed", "failed", "error", "skipped" ("unknown" out of range). Static. */
const char *tpg_status_name(tpg_status status);
/* The reverse; returns 0 and sets *out, or TPG_EINVAL for another string. */
int tpg_status_parse(const char *name, tpg_status *out);

typedef struct tpg_report_check {
	char *id;            /* "cowsay.entrypoint-exec" */
	char *title;
	char *suite_id;      /* "cowsay" */
	char *kind;          /* "dockerfile" */
	tpg_status status;
	double points;       /* awarded */
	double max_points;   /* what it is worth */
	bool bonus;          /* counts toward the score, not the maximum */
	bool counted;        /* false when deselected (--only/--skip/--tags): in neither */
	char *message;       /* the explanation: why it passed/failed/was skipped */
	char *hint;          /* in the chosen language; NULL when none */
	char *file;          /* repo-relative file graded, NULL if none */
	int line;            /* line in `file`, 0 if none */
	char *output;        /* captured output (build log tail, container output), may be NULL */
	size_t output_len;   /* bytes of `output` when it may hold NULs; 0 = strlen(output) */
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
	char *lang;          /* "fr" / "en": language of hints and labels (NULL: en) */
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

/* An empty heap report (freed with tpg_report_free). */
tpg_report *tpg_report_new(void);
/* Frees everything the report owns and the report itself. NULL is fine. */
void tpg_report_free(tpg_report *report);
/* Frees everything the report owns and zeroes it; the struct is the caller's. */
void tpg_report_clear(tpg_report *report);
/* Frees everything a check owns and zeroes it. */
void tpg_report_check_clear(tpg_report_check *check);

/*
 * Builders. add_suite appends an empty suite (id and title copied).
 * add_check appends a check to the last suite (its suite_id is a copy of
 * that suite's id; NULL and in no suite when there is none yet), with `id`
 * and `title` copied, counted = true, status PASSED, everything else zero.
 * The returned pointers are borrowed, valid until the next add_suite or
 * add_check on the same report.
 */
tpg_report_suite *tpg_report_add_suite(tpg_report *report, const char *id,
                                       const char *title);
tpg_report_check *tpg_report_add_check(tpg_report *report, const char *id,
                                       const char *title);

/*
 * Recomputes score, max_score and exit_code from the checks:
 * score = sum of `points` of counted checks (bonus ones included),
 * max_score = sum of `max_points` of counted non-bonus checks,
 * exit_code = 3 if any check is in error, else 1 if any failed, else 0
 * (every check counts for the exit code, counted or not).
 * Non-finite points count as 0.
 */
void tpg_report_tally(tpg_report *report);

/* Totals of a set of checks, as tally computes them; used for suite subtotals. */
typedef struct tpg_report_sums {
	double score;        /* counted points, bonus included */
	double max_score;    /* counted non-bonus max_points */
	double bonus;        /* counted points of bonus checks */
	size_t passed, failed, errors, skipped;
	size_t total;
} tpg_report_sums;
void tpg_report_sum(const tpg_report *report, size_t first, size_t count,
                    tpg_report_sums *out);

/* Options of the terminal writer. */
typedef struct tpg_term_opts {
	bool color;        /* ANSI colours (the CLI decides: TTY, NO_COLOR, --no-color) */
	bool ascii;        /* no UTF-8 in what we print (marks "[FAIL]"...; see
	                      tpg_term_locale_is_utf8); text is transliterated */
	bool verbose;      /* times per check, output of failed/error checks */
	bool quiet;        /* only failures and the total */
	bool student;      /* `tpgrade check`: friendlier wording, grouped by outcome, hints first */
	int width;         /* terminal width for wrapping, 0 = no wrapping */
	int output_lines;  /* verbose: last lines of output shown, 0 = 20 */
} tpg_term_opts;

/* Whether LC_ALL / LC_CTYPE / LANG (the first one set) names a UTF-8
 * locale; the CLI sets opts.ascii = !tpg_term_locale_is_utf8(). */
bool tpg_term_locale_is_utf8(void);

/*
 * Writers: each writes the whole document to `out`; return 0, or TPG_EIO
 * (message says what failed) when `out` reports a write error.
 * Outputs are capped at TPG_REPORT_OUTPUT_MAX bytes per check in JUnit,
 * JSON and Gradescope (head and tail kept, with a "[... truncated ...]"
 * line), and the JUnit file as a whole stays under TPG_REPORT_JUNIT_BUDGET
 * for up to ~10000 checks (then outputs are dropped).
 */
#define TPG_REPORT_OUTPUT_MAX (48 * 1024)
#define TPG_REPORT_CASE_MAX (64 * 1024)
#define TPG_REPORT_JUNIT_BUDGET (20 * 1024 * 1024)
int tpg_report_write_junit(const tpg_report *report, FILE *out, tpg_err *err);
int tpg_report_write_json(const tpg_report *report, FILE *out, tpg_err *err);
int tpg_report_write_term(const tpg_report *report, const tpg_term_opts *opts,
                          FILE *out, tpg_err *err);
int tpg_report_write_gradescope(const tpg_report *report, FILE *out, tpg_err *err);
/* The lines of one check as the terminal report shows them (progress output
 * while grading); `lang` as tpg_report.lang. */
int tpg_report_write_term_check(const tpg_report_check *check, const char *lang,
                                const tpg_term_opts *opts, FILE *out, tpg_err *err);

/* The JSON document (new reference), for callers that embed it. Never NULL. */
json_t *tpg_report_to_json(const tpg_report *report);
/* The Gradescope results.json document (new reference). Never NULL. */
json_t *tpg_report_to_gradescope(const tpg_report *report);
/* Reads back a JSON report written by tpg_report_write_json (class runs,
 * `tpgrade merge`). *out is freed with tpg_report_free. TPG_EPARSE names the
 * offending member ("checks[3].points: expected a number"). */
int tpg_report_from_json(const json_t *doc, tpg_report **out, tpg_err *err);

/*
 * Writes a file atomically: `write` is called with a FILE* on a temporary
 * file created (mode 0644) in the same folder, which is then flushed,
 * fsync'ed and renamed over `path` (a symlink at `path` is replaced, not
 * followed). On any failure the temporary file is removed, `path` is
 * untouched, and the result is TPG_EIO with a message naming `path` — or the
 * callback's own error code (its message prefixed with the path).
 * `path` "-" writes to stdout directly (flushed).
 */
typedef int (*tpg_write_fn)(FILE *out, void *ctx, tpg_err *err);
int tpg_write_atomic(const char *path, tpg_write_fn write, void *ctx, tpg_err *err);

/* Adapters for tpg_write_atomic: ctx is the `const tpg_report *`. */
int tpg_report_junit_fn(FILE *out, void *ctx, tpg_err *err);
int tpg_report_json_fn(FILE *out, void *ctx, tpg_err *err);
int tpg_report_gradescope_fn(FILE *out, void *ctx, tpg_err *err);

#endif

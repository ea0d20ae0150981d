/*
 * gradebook.h - the outputs of a class run (docs/class.md): per student a
 * state file, and for the class grades.csv, summary.json, report.html and
 * class.json (what `tpgrade merge` reads back).
 *
 * Layout of an output folder DIR:
 *   DIR/class.json             the spec's checks and the roster (ids, names,
 *                              folders, redacted repositories, shard)
 *   DIR/<folder>/state.json    what the last finished grading of that student
 *                              gave (tpg_class_state): the resume/incremental
 *                              record, written last, after the files below
 *   DIR/<folder>/result.json   the child's JSON report (read back here)
 *   DIR/<folder>/junit.xml, results.json (Gradescope), log.txt
 *   DIR/grades.csv, DIR/summary.json, DIR/report.html
 *
 * Every string from a roster, a repository or a report is untrusted: the
 * writers sanitize it for their format (CSV formula injection included).
 */
#ifndef TPGRADE_GRADEBOOK_H
#define TPGRADE_GRADEBOOK_H

#include <stdbool.h>
#include <stdio.h>

#include "tpgrade/common.h"
#include "tpgrade/report.h"
#include "tpgrade/roster.h"
#include "tpgrade/spec.h"

/* ------------------------------------------------------- per-student state */

typedef struct tpg_class_state {
	char *status;        /* "graded" or "error" */
	char *failure;       /* why an error: a git failure name ("not found",
	                        "authentication refused"...), "timeout", "crash",
	                        "no report"...; NULL when graded */
	bool transient;      /* retried by the next run without asking the server */
	char *message;       /* one line for the grade book, may be NULL */
	char *key;           /* tpg_class key of the options it was graded with */
	char *spec_digest;
	char *tip;           /* commit the ref pointed to when fetched; NULL unknown */
	char *commit;        /* commit graded; NULL unknown */
	char *commit_date;
	char *ref;
	int commits_after_deadline;  /* -1 unknown */
	double graded_at;    /* epoch seconds */
	double seconds;      /* wall time of the child process */
	double engine_seconds;  /* the report's "seconds" (grading without the clone) */
	int exit_code;       /* the child's exit status (or 128 + signal) */
} tpg_class_state;

int tpg_class_state_read(const char *path, tpg_class_state *st, tpg_err *err);
/* Atomically (tpg_write_atomic). */
int tpg_class_state_write(const char *path, const tpg_class_state *st, tpg_err *err);
void tpg_class_state_clear(tpg_class_state *st);

/* --------------------------------------------------------- the grade book */

typedef struct tpg_gb_check {
	char *id;
	char *title;
	char *suite;
	double max_points;
	bool bonus;
} tpg_gb_check;

typedef struct tpg_gb_suite {
	char *id;
	char *title;
	size_t first, count;   /* checks[first .. first+count) */
} tpg_gb_suite;

typedef enum tpg_gb_status {
	TPG_GB_PENDING = 0,    /* not graded yet (interrupted, other shard) */
	TPG_GB_GRADED,
	TPG_GB_ERROR
} tpg_gb_status;

/* What this run did with a student (progress, summary.json "run"). */
typedef enum tpg_gb_action {
	TPG_GB_NOT_RUN = 0,
	TPG_GB_RUN_GRADED,      /* graded (or regraded) now */
	TPG_GB_RUN_UNCHANGED,   /* same commit and options: previous result kept */
	TPG_GB_RUN_ERROR,       /* tried now, error */
	TPG_GB_RUN_INTERRUPTED
} tpg_gb_action;

typedef struct tpg_gb_row {
	size_t index;          /* roster order */
	char *id, *name, *group, *folder;
	char *repo;            /* redacted */
	char *ref;             /* the roster's, NULL for the class default */
	bool in_shard;         /* graded by this output folder */
	tpg_gb_status status;
	tpg_gb_action action;
	char *message;
	double score, max_score;
	double *points;        /* per gradebook check; NAN: not counted / not graded */
	int *check_status;     /* per check: tpg_status, or -1 */
	char *commit, *commit_date;
	int commits_after_deadline;   /* -1 unknown */
	double graded_at, seconds, engine_seconds;
	int exit_code;
} tpg_gb_row;

typedef struct tpg_gradebook {
	char *tp, *title, *spec, *spec_digest;
	char *lang;                     /* report.html's labels: "fr..." French, else
	                                   English; from the spec, the class run may
	                                   override it (--lang, LANG) */
	tpg_gb_check *checks;
	size_t nchecks;
	tpg_gb_suite *suites;
	size_t nsuites;
	tpg_gb_row *rows;
	size_t nrows, rows_cap;
	int shard_index, shard_total;   /* 1-based; 0/0 when not sharded */
	double generated;               /* epoch seconds */
	bool interrupted;               /* this run stopped early */
	bool has_run;                   /* rows' actions describe a run (not a merge) */
} tpg_gradebook;

/* The checks and suites of `spec`, no rows. */
tpg_gradebook *tpg_gradebook_from_spec(const tpg_spec *spec, const char *spec_display);
void tpg_gradebook_free(tpg_gradebook *gb);
/* Appends a pending row for `s` (copied; its repository redacted). Borrowed
 * pointer, valid until the next add. */
tpg_gb_row *tpg_gradebook_add(tpg_gradebook *gb, const tpg_student *s, bool in_shard);

/*
 * Fills `row` from DIR/<folder>/state.json and result.json: pending when
 * there is no state; graded or error as the state says. A missing or
 * unreadable result.json of a graded state makes the row an error.
 */
void tpg_gradebook_load_row(tpg_gradebook *gb, tpg_gb_row *row, const char *dir);
/* The same from a report already in memory (NULL: from the state only). */
void tpg_gradebook_fill_row(tpg_gradebook *gb, tpg_gb_row *row, const tpg_class_state *st,
                            const tpg_report *report);

/* class.json: write / read back (rows pending, actions NOT_RUN). */
int tpg_gradebook_write_class_json(const tpg_gradebook *gb, FILE *out, tpg_err *err);
int tpg_gradebook_read_class_json(const char *path, tpg_gradebook **out, tpg_err *err);

/* Statistics over graded rows (summary.json and report.html). */
typedef struct tpg_gb_check_stats {
	size_t passed, failed, skipped, errors, graded;   /* graded: rows where it counted */
	double pass_rate;        /* passed / graded; NAN when graded == 0 */
	double mean_points;
} tpg_gb_check_stats;

typedef struct tpg_gb_stats {
	size_t count, graded, errors, pending;
	double mean, median, min, max, max_score;   /* NAN when nothing graded */
	tpg_gb_check_stats *checks;   /* nchecks */
	double *suite_mean, *suite_max;   /* nsuites */
	size_t run_graded, run_unchanged, run_errors, run_interrupted;
} tpg_gb_stats;

void tpg_gradebook_stats(const tpg_gradebook *gb, tpg_gb_stats *st);
void tpg_gb_stats_clear(tpg_gb_stats *st);

/* "pending", "graded", "error": the status column of grades.csv. Static. */
const char *tpg_gb_status_name(tpg_gb_status s);

/* "7", "0.5", "2.33": points as the grade book shows them. */
void tpg_gb_format_points(double v, char *buf, size_t n);

/* Writers (callbacks for tpg_write_atomic take the gradebook as ctx). */
int tpg_gradebook_write_csv(const tpg_gradebook *gb, FILE *out, tpg_err *err);
int tpg_gradebook_write_summary(const tpg_gradebook *gb, FILE *out, tpg_err *err);
int tpg_gradebook_write_html(const tpg_gradebook *gb, FILE *out, tpg_err *err);

/* Writes class.json, grades.csv, summary.json and report.html into dir,
 * each atomically; the first failure is returned (the others still tried). */
int tpg_gradebook_write_all(const tpg_gradebook *gb, const char *dir, tpg_err *err);

/* CSV cell: quoted when needed, formula-like text (= + - @ TAB CR first)
 * defused with a leading apostrophe, controls as spaces, valid UTF-8. */
void tpg_gb_csv_cell(FILE *out, const char *s, bool text);

#endif

/*
 * class_int.h - internals of a class run, shared by grader/class_run.c (the
 * loop and the decisions), class_child.c (starting children) and
 * class_commit.c (recording results, progress). Not for other modules:
 * use tpgrade/class.h.
 */
#ifndef TPGRADE_CLASS_INT_H
#define TPGRADE_CLASS_INT_H

#include <stdbool.h>
#include <sys/types.h>

#include "tpgrade/class.h"

#define TPG_CLASS_PROBE_TIMEOUT_MS (60LL * 1000)   /* without --git-timeout */
#define TPG_CLASS_CHECKPOINT_MS (30LL * 1000)      /* grade book rewritten this often */

typedef enum { TPG_CLASS_PROBE, TPG_CLASS_GRADE } tpg_class_job_kind;

typedef struct tpg_class_job {
	pid_t pid;             /* 0: free */
	tpg_class_job_kind kind;
	size_t row;
	int fd;                /* probe: its pipe; else -1 */
	tpg_buf out;
	long long started, deadline, kill_at;
	bool term_sent, timed_out;
	tpg_probe probe;       /* the probe that led to this grading, if any */
	bool probed;
	char *key;             /* the student's options key (tpg_class_student_key) */
	tpg_class_state prev;  /* probe: the last state, what the answer is compared with */
} tpg_class_job;

typedef struct tpg_class_ctx {
	const tpg_class_opts *o;
	const tpg_roster *roster;
	tpg_gradebook *gb;
	tpg_class_job *jobs;
	int njobs;
	size_t *queue, qlen, qpos;
	size_t total, done, failed, unchanged;
	long long t0, last_progress, last_checkpoint;
	bool stopping;
	int sfd;
	bool line_shown;
} tpg_class_ctx;


/* Paths under the output folder: DIR/FOLDER[/NAME]. Caller frees. */
char *tpg_class_path(const char *dir, const char *folder, const char *name);
/* Removes the files of a folder (not recursive). */
void tpg_class_empty_dir(const char *dir);
int tpg_class_ensure_dir(const char *path, tpg_err *err);
/* A student id for the terminal: sanitized, one line, at most 60 bytes. */
char *tpg_class_shown_id(const char *id);
/* The last "tpgrade: ..." line of a child's log, NULL if none. */
char *tpg_class_last_error_line(const char *log);
void tpg_class_write_text(const char *path, const char *text);

/* The progress line (a terminal) or nothing; `force` skips the throttle. */
void tpg_class_progress(tpg_class_ctx *r, bool force);
/* Rewrites the grade book (during a long run, so it can be looked at). */
void tpg_class_checkpoint(tpg_class_ctx *r);
/* Moves the staged files into DIR/<folder>, writes state.json last (and
 * results.json for Gradescope), and fills the row. */
void tpg_class_commit(tpg_class_ctx *r, tpg_gb_row *row, tpg_class_state *st,
                      const tpg_report *rep, bool graded_files);
/* Counts the row as done, prints its line. */
void tpg_class_finish_row(tpg_class_ctx *r, tpg_gb_row *row, tpg_gb_action action, double secs,
                          const char *what);
/* Records an error row (state, log.txt unless the child wrote one). */
void tpg_class_record_error(tpg_class_ctx *r, tpg_gb_row *row, const char *key,
                            const char *failure, const char *message, const char *tip,
                            double secs, int exit_code, bool log_from_stage);

/* Start a child in slot j; j->pid is -1 when it could not be started. */
void tpg_class_start_probe(tpg_class_ctx *r, tpg_class_job *j, size_t rowi);
void tpg_class_start_grade(tpg_class_ctx *r, tpg_class_job *j, size_t rowi);

#endif

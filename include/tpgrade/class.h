/*
 * class.h - grading a whole class (docs/class.md).
 *
 * tpg_class_run grades every student of a roster (or of one shard of it)
 * with a child process each, `tpgrade grade` run from our own executable,
 * at most `jobs` at once, and keeps the grade book up to date.
 *
 * Incremental runs: a student whose last grading finished with the same
 * options key (spec digest, ref, deadline, variables, selection, language,
 * tpgrade version, repository URL) is asked about first with a probe, a
 * `git ls-remote` through libgit2 in a forked worker: when the ref still
 * points to the commit it pointed to then (so the deadline walk would pick
 * the same commit again), or the repository fails the same way, the
 * student is not graded again.
 *
 * The probe and `tpgrade grade --class-info` (what a child tells the class
 * run: the commit the ref pointed to, the commit graded, why a fetch
 * failed) live in class_probe.c; the scheduler in class_run.c.
 */
#ifndef TPGRADE_CLASS_H
#define TPGRADE_CLASS_H

#include <stdbool.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"
#include "tpgrade/git.h"
#include "tpgrade/gradebook.h"
#include "tpgrade/roster.h"
#include "tpgrade/spec.h"

/* ------------------------------------------------------------ class info */

/* What `tpgrade grade --class-info FILE` writes for the class run. */
typedef struct tpg_class_info {
	bool ok;                 /* the repository was fetched */
	char *failure;           /* tpg_git_failure_name() when !ok */
	char *message;           /* why, when !ok (no secrets) */
	char *tip;               /* commit the ref pointed to, NULL unknown */
	char *commit, *commit_date, *ref;
	int commits_after_deadline;
} tpg_class_info;

/*
 * Writes FILE atomically. `co` NULL: the fetch failed (why, message).
 * Called by cli_grade.c; never fails the grading (errors are returned).
 */
int tpg_class_info_write(const char *path, const tpg_git_checkout *co, tpg_git_failure why,
                         const char *message, tpg_err *err);
int tpg_class_info_read(const char *path, tpg_class_info *ci, tpg_err *err);
void tpg_class_info_clear(tpg_class_info *ci);

/* Whether a fetch failure may go away by itself (network, timeout...):
 * such students are retried without probing. `failure` as stored. */
bool tpg_class_failure_is_transient(const char *failure);

/* ----------------------------------------------------------------- probe */

typedef enum tpg_probe_kind {
	TPG_PROBE_TIP = 0,   /* tip: the commit the ref points to */
	TPG_PROBE_PINNED,    /* the ref is a commit id: nothing to ask */
	TPG_PROBE_NONE,      /* cannot tell (a folder that is not a repository) */
	TPG_PROBE_FAILED     /* failure, message */
} tpg_probe_kind;

typedef struct tpg_probe {
	tpg_probe_kind kind;
	char *tip;
	char *failure;
	char *message;
} tpg_probe;

/*
 * Lists the remote's refs (no objects are downloaded) and picks the commit
 * `o->ref` (NULL: the remote HEAD) points to, the way tpg_git_fetch does.
 * Runs in the calling process and may block on the network: the class run
 * calls it in a forked child it kills at the deadline, which writes the
 * result to `fd` (tpg_probe_encode) and _exits.
 */
void tpg_class_probe(const tpg_git_opts *o, tpg_probe *out);
void tpg_probe_encode(const tpg_probe *p, tpg_buf *out);
/* False when the data is cut short (the worker died). */
bool tpg_probe_decode(const char *data, size_t len, tpg_probe *out);
void tpg_probe_clear(tpg_probe *p);

/* --------------------------------------------------------------- the run */

typedef struct tpg_class_opts {
	const char *self_exe;        /* the tpgrade executable to run (/proc/self/exe) */
	const char *spec_path;       /* absolute, given to the children */
	const char *out_dir;         /* exists */
	int jobs;                    /* >= 1 */
	const char *ref;             /* class defaults; the roster may override */
	const char *deadline;
	const char *token, *user, *password, *ssh_key;   /* given to children by env */
	tpg_strv child_args;         /* extra `tpgrade grade` options (--var, --only, ...) */
	bool force;                  /* regrade everyone */
	bool keep;                   /* children keep their clones */
	bool gradescope;             /* also write results.json */
	long long git_timeout_ms;    /* <= 0: the git default */
	long long student_timeout_ms;
	long long grace_ms;          /* after SIGTERM, before SIGKILL */
	bool tty;                    /* one updating progress line on stderr */
	bool quiet;                  /* no per-student lines */
	const char *key_base;        /* the options that change a grade, canonical text */
} tpg_class_opts;

/*
 * Grades the rows of `gb` that are in the shard (gb->rows[i].in_shard),
 * with roster->students[gb->rows[i].index] for the repository and ref.
 * Rows are filled as students finish; interrupted (tpg_interrupted()):
 * children get SIGTERM, and gb->interrupted is set. Returns 0, or a
 * negative code when nothing could be started (err).
 */
int tpg_class_run(const tpg_class_opts *o, const tpg_roster *roster, tpg_gradebook *gb,
                  tpg_err *err);

/* The options key of one student (a digest of key_base and its own repo,
 * ref and deadline). Caller frees. */
char *tpg_class_student_key(const tpg_class_opts *o, const tpg_student *s);

/*
 * `tpgrade merge`: combines the output folders `src` of sharded runs into
 * `out` (which exists; may be one of them): rows in roster order, each
 * student from the folder of its shard (the latest graded if several),
 * its files copied; writes the grade book. *gb_out (caller frees, also on
 * failure when not NULL) is the merged book; *missing counts students no
 * folder graded. TPG_ENOTFOUND/TPG_EPARSE for a folder without a valid
 * class.json, TPG_EINVAL for folders of different specs, TPG_EIO when
 * writing fails.
 */
int tpg_class_merge(char *const *src, int nsrc, const char *out, bool gradescope,
                    tpg_gradebook **gb_out, size_t *missing, tpg_err *err);

/* Per-student files from a state and a report: results.json for Gradescope
 * (also for an error row, with the message), written atomically. */
int tpg_class_write_gradescope(const char *dir, const tpg_class_state *st, tpg_err *err);
/* The same from DIR/state.json; TPG_ENOTFOUND without one. */
int tpg_class_write_gradescope_from_state(const char *dir, tpg_err *err);

#endif

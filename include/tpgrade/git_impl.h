/*
 * git_impl.h - internals shared by grader/git*.c (and their unit tests).
 * Not for other modules: use tpgrade/git.h.
 */
#ifndef TPGRADE_GIT_IMPL_H
#define TPGRADE_GIT_IMPL_H

#include <stdbool.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"
#include "tpgrade/git.h"

typedef enum tpg_git_url_kind {
	TPG_GIT_URL_LOCAL = 0,  /* a path */
	TPG_GIT_URL_FILE,       /* file:// */
	TPG_GIT_URL_HTTP,       /* http:// and https:// */
	TPG_GIT_URL_SSH,        /* ssh://, git+ssh://, ssh+git://, user@host:path */
	TPG_GIT_URL_GIT         /* git:// */
} tpg_git_url_kind;

typedef struct tpg_git_url {
	tpg_git_url_kind kind;
	bool tls;        /* https */
	char *user;      /* from the userinfo, percent-decoded; NULL if none */
	char *password;  /* idem */
	char *host;      /* lower case, no brackets; NULL for paths and file:// */
	char *fetch;     /* what libgit2 gets: no password; no user except for ssh */
	char *display;   /* no userinfo at all */
} tpg_git_url;

/* Splits `url`; TPG_EINVAL for an unsupported scheme or an empty host. */
int tpg_git_url_parse(const char *url, tpg_git_url *out, tpg_err *err);
void tpg_git_url_clear(tpg_git_url *u);

/* Replaces every occurrence of each secret (and its percent-encoded form)
 * with "***" and cuts URL userinfo, in place within a malloc'ed string. */
char *tpg_git_scrub(char *msg, const tpg_strv *secrets);
/* Same for an error record's message. */
void tpg_git_scrub_err(tpg_err *err, const tpg_strv *secrets);
/* Copies `s` for a message: control bytes and invalid UTF-8 as \xNN, at
 * most `max` bytes of input. Caller frees. */
char *tpg_git_printable(const char *s, size_t max);

/* rm -rf that never follows symlinks and never crosses into another mount. */
int tpg_git_rmtree(const char *path, tpg_err *err);
/* A new private (0700) folder "<parent>/tpgrade-git-XXXXXX"; caller frees. */
int tpg_git_mkdtemp(const char *parent, char **out, tpg_err *err);

/* What the worker is asked to do. Everything is borrowed. */
typedef struct tpg_git_job {
	const tpg_git_opts *opts;
	const tpg_git_url *url;
	const char *gitdir;          /* to create (bare clone) */
	const char *workdir;         /* to create (checkout) */
	const char *local_source;    /* local repository path (uncommitted-changes note), or NULL */
	const char *netrc_login;     /* from .netrc for url->host, or NULL */
	const char *netrc_password;
	const tpg_strv *secrets;
	bool has_deadline;
	long long deadline_epoch;    /* grading deadline (wall clock seconds) */
	int deadline_offset;         /* its UTC offset in minutes, for messages */
	long long stop_ms;           /* tpg_now_ms() deadline for the whole job */
	long long max_bytes;
} tpg_git_job;

/* What the worker found (also what the parent decodes). */
typedef struct tpg_git_result {
	int code;                    /* 0 or TPG_E* */
	tpg_git_failure why;
	char *message;
	char *commit;
	char *commit_date;
	long long commit_time;
	char *ref;
	int commits_after_deadline;
	bool has_submodules;
	tpg_strv notes;
	char *phase;                 /* last thing the worker said it was doing */
} tpg_git_result;

void tpg_git_result_clear(tpg_git_result *r);

/* Runs the job in this process, writing records to fd (and returning the
 * code). The parent reads them with tpg_git_result_decode. */
int tpg_git_worker_run(const tpg_git_job *job, int fd);
/* Decodes what a worker wrote (possibly cut short); returns whether a final
 * record was seen. */
bool tpg_git_result_decode(const char *data, size_t len, tpg_git_result *r);

/* Maps the last libgit2 error (after a call returned rc) to a code, a
 * failure kind and a message "what: libgit2 says". */
int tpg_git_error_from_libgit2(int rc, const char *what, tpg_git_failure *why, tpg_err *err);

#endif

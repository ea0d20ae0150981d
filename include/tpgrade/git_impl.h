/*
 * git_impl.h - internals shared by grader/git*.c (and their unit tests),
 * and by the class run (grader/class_*.c), whose probe must ask a server
 * exactly as a fetch does. Not for other modules: use tpgrade/git.h.
 */
#ifndef TPGRADE_GIT_IMPL_H
#define TPGRADE_GIT_IMPL_H

#include <git2.h>
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

/* `url` without the password of its userinfo ("https://u:p@h/x" ->
 * "https://u@h/x", "u:p@h:x" -> "u@h:x"), which goes to *password as
 * tpg_git_url_parse reads it (NULL when none; caller frees both), so a
 * child process can get it by its environment instead of its command
 * line. */
char *tpg_git_url_strip_password(const char *url, char **password);
/* Replaces every occurrence of each secret (and its percent-encoded form)
 * with "***" and cuts URL userinfo, in place within a malloc'ed string. */
char *tpg_git_scrub(char *msg, const tpg_strv *secrets);
/* Same for an error record's message. */
void tpg_git_scrub_err(tpg_err *err, const tpg_strv *secrets);
/* `s` for a one-line message: at most `max` bytes of it (never cutting a
 * UTF-8 sequence, "..." when cut), escaped as tpg_repo_path_display does
 * (controls, backslashes, invalid UTF-8, invisible characters). Caller
 * frees. */
char *tpg_git_printable(const char *s, size_t max);

/* git_libgit2_init (released with git_libgit2_shutdown) and the options
 * every entry point wants (owner validation off, see tpg_git_global_init). */
int tpg_git_enter(tpg_err *err);
/* Whether `path` itself (no search upwards) is a git repository. */
bool tpg_git_is_repository(const char *path);
/* For a local path URL: its absolute path (*abs, caller frees) when it is
 * a folder; else *why (NOT_FOUND, INVALID) and err ("cannot grade P: ..."). */
int tpg_git_local_folder(const tpg_git_url *u, char **abs, tpg_git_failure *why,
	tpg_err *err);

/* rm -rf that never follows symlinks and never crosses into another mount. */
int tpg_git_rmtree(const char *path, tpg_err *err);
/* A new private (0700) folder "<parent>/tpgrade-git-XXXXXX"; caller frees. */
int tpg_git_mkdtemp(const char *parent, char **out, tpg_err *err);

/* ---- credentials (git_cred.c): one order for a fetch and a probe ---- */

/*
 * The secrets of a fetch or a probe (token, password, passphrase, the URL's
 * password) pushed to `secrets` (borrowed from o and u); for an http(s) URL,
 * the .netrc entry of u->host (o->netrc, else $NETRC, else ~/.netrc) in
 * *netrc_login and *netrc_password (caller frees them, the password with
 * tpg_git_forget; both NULL when there is none), its password pushed too.
 */
void tpg_git_cred_prepare(const tpg_git_opts *o, const tpg_git_url *u, tpg_strv *secrets,
	char **netrc_login, char **netrc_password);
/* Wipes and frees a secret; NULL is fine. */
void tpg_git_forget(char *secret);

/* What one connection authenticates with, and how far libgit2's credential
 * callback got (libgit2 calls it again after each refusal). Zero it, then
 * set the first four fields (borrowed). */
typedef struct tpg_git_cred {
	const tpg_git_opts *opts;
	const tpg_git_url *url;
	const char *netrc_login;     /* from tpg_git_cred_prepare, may be NULL */
	const char *netrc_password;
	int calls;
	bool gave_userpass, tried_key, tried_agent;
	const char *user;            /* the user name last sent with a password */
	bool plain_http;             /* a password was sent over http, not https */
} tpg_git_cred;

/*
 * The body of a git_credential_acquire_cb. In this order: over http(s) a
 * token (user: the option, the URL's, .netrc's, else TPG_GIT_TOKEN_USER),
 * else user/password, else the URL's userinfo, else .netrc; over ssh the
 * key file if given, else the agent. Each is offered once; nothing is sent
 * to a host other than the URL's (a redirect). 0 with *out, or TPG_EAUTH
 * (failure TPG_GIT_FAIL_AUTH) with err saying why, without secrets.
 */
int tpg_git_cred_acquire(tpg_git_cred *c, git_credential **out, const char *url,
	const char *url_user, unsigned int allowed, tpg_err *err);

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
	char *tip;
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

/* What a --ref may name (git_worker.c decides, a probe follows): *branch
 * for "refs/heads/X", "origin/X" or "X"; *tag for "refs/tags/X" or "X".
 * Both point into `want`. */
void tpg_git_ref_names(const char *want, const char **branch, const char **tag);
/* Whether `s` may be an abbreviated commit id (4 to 40 hex digits); its
 * length in *len (may be NULL). */
bool tpg_git_is_commit_id(const char *s, size_t *len);

/* Maps the last libgit2 error (after a call returned rc) to a code, a
 * failure kind and a message "what: libgit2 says". */
int tpg_git_error_from_libgit2(int rc, const char *what, tpg_git_failure *why, tpg_err *err);

#endif

/*
 * git.h - get the files of a student's repository to grade (docs/git.md).
 *
 * tpg_git_fetch takes a URL (https/http with a token or user/password, ssh
 * with the agent or a key file, git://, file://) or a local path, clones it
 * into a private temporary folder, picks the commit to grade (a ref, and the
 * last commit before a deadline on its first-parent history) and checks that
 * commit out as a clean tree: only the commit's files, no .git, symlinks
 * created as symlinks, submodules not fetched.
 *
 * A local folder that is not a git repository is graded in place (nothing
 * is copied, nothing is ever removed). A local folder that is a git
 * repository is cloned like a URL, so only committed files are graded and
 * the student's folder is never written to.
 *
 * The network part runs in a worker process (fork) that the caller's
 * process kills when the timeout passes or tpg_interrupted() is raised:
 * libgit2 1.5 has no connect/read timeouts, and a server that accepts and
 * never answers would otherwise block forever.
 *
 * Secrets (token, passwords, passphrase, userinfo of the URL, the .netrc
 * password) never appear in a message, a note or a URL this module returns.
 *
 * Threads: call tpg_git_global_init once per process, in main, before
 * anything else here (every entry point also takes its own libgit2
 * reference, so forgetting it costs only speed). Class runs grade students
 * in separate processes; call tpg_git_fetch from a process with a single
 * thread: it forks, and a child of a multi-threaded process may deadlock on
 * a lock another thread held (the timeout would still kill it). libgit2's
 * options are process-wide.
 *
 * docs/git.md: URL forms, credentials, deadline semantics, errors, removal.
 */
#ifndef TPGRADE_GIT_H
#define TPGRADE_GIT_H

#include <stdbool.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"

#define TPG_GIT_DEFAULT_TIMEOUT_MS (5LL * 60 * 1000)
#define TPG_GIT_DEFAULT_MAX_BYTES (500LL * 1024 * 1024)
/* Default user name sent with a token over http(s) when none is given. */
#define TPG_GIT_TOKEN_USER "x-access-token"

typedef struct tpg_git_opts {
	const char *url;            /* URL or local path; required */
	const char *ref;            /* branch, tag or (abbreviated) SHA; NULL: remote HEAD */
	const char *deadline;       /* ISO 8601 with offset, NULL: none */
	const char *token;          /* http(s): sent as password */
	const char *username;       /* http(s) and ssh; NULL: from URL, .netrc or a default */
	const char *password;       /* http(s) */
	const char *ssh_key;        /* private key file; NULL: ssh agent */
	const char *ssh_passphrase; /* of ssh_key, may be NULL */
	const char *netrc;          /* NULL: $NETRC, else ~/.netrc; "": do not read one */
	const char *workdir_parent; /* NULL: $TMPDIR, else /tmp */
	bool keep;                  /* keep the temporary folder on free */
	long long timeout_ms;       /* whole fetch + checkout; <= 0: default */
	long long max_bytes;        /* download and checkout cap; <= 0: default */
} tpg_git_opts;

typedef struct tpg_git_checkout {
	char *workdir;        /* absolute; the files to grade */
	char *root;           /* temporary folder holding workdir and gitdir; NULL in place */
	char *gitdir;         /* bare repository with the fetched history; NULL if !is_git */
	char *commit;         /* 40 hex digits; NULL if !is_git */
	char *tip;            /* the commit `ref` pointed to, before the deadline
	                         walk (== commit without one); NULL if !is_git */
	char *commit_date;    /* committer date, ISO 8601 with its offset; NULL if !is_git */
	long long commit_time;/* the same, seconds since the epoch */
	char *ref;            /* what was graded: branch or tag name, or the SHA asked */
	char *display_url;    /* URL or absolute path, without credentials */
	int commits_after_deadline; /* first-parent commits after the graded one */
	bool has_submodules;  /* .gitmodules or gitlinks: not fetched, see notes */
	bool is_git;          /* false: plain folder graded in place */
	bool in_place;        /* workdir is the caller's folder: never removed */
	bool keep;            /* free leaves root on disk */
	tpg_strv notes;       /* remarks for the report (sanitized, no secrets) */
} tpg_git_checkout;

/* Why a fetch failed, finer than the TPG_E* code. */
typedef enum tpg_git_failure {
	TPG_GIT_OK = 0,
	TPG_GIT_FAIL_INVALID,      /* TPG_EINVAL: bad URL, deadline, option */
	TPG_GIT_FAIL_NOT_FOUND,    /* TPG_ENOTFOUND: no such repository / folder */
	TPG_GIT_FAIL_EMPTY,        /* TPG_ENOTFOUND: the repository has no commits */
	TPG_GIT_FAIL_NO_REF,       /* TPG_ENOTFOUND: branch, tag or SHA missing */
	TPG_GIT_FAIL_NO_COMMIT,    /* TPG_ENOTFOUND: every commit is after the deadline */
	TPG_GIT_FAIL_AUTH,         /* TPG_EAUTH: credentials missing or refused */
	TPG_GIT_FAIL_UNREACHABLE,  /* TPG_EUNAVAIL: DNS, refused, unreachable, TLS */
	TPG_GIT_FAIL_TIMEOUT,      /* TPG_ETIMEOUT */
	TPG_GIT_FAIL_TOO_BIG,      /* TPG_ETOOBIG: download or tree over max_bytes */
	TPG_GIT_FAIL_CANCELED,     /* TPG_ECANCELED */
	TPG_GIT_FAIL_OTHER         /* anything else (I/O, protocol, worker crash) */
} tpg_git_failure;

/* "empty repository", "ref not found"... Static. */
const char *tpg_git_failure_name(tpg_git_failure why);

/*
 * Calls git_libgit2_init once and sets process-wide libgit2 options (owner
 * validation off: libgit2 runs no hooks nor config commands, and graders
 * often run as another user than the repositories' owner). Idempotent.
 */
int tpg_git_global_init(tpg_err *err);
void tpg_git_global_shutdown(void);

/*
 * Fetches and checks out opts->url (see the file comment). On success *out
 * belongs to the caller (tpg_git_checkout_free). On failure *out is NULL,
 * the temporary folder is already removed, err says what was tried.
 */
int tpg_git_fetch(const tpg_git_opts *opts, tpg_git_checkout **out, tpg_err *err);
/* The same, also saying why it failed (why may be NULL). */
int tpg_git_fetch_ex(const tpg_git_opts *opts, tpg_git_checkout **out,
	tpg_git_failure *why, tpg_err *err);

/* Removes root (recursively, never following a symlink) unless keep or in
 * place, then frees co. NULL is fine. */
void tpg_git_checkout_free(tpg_git_checkout *co);

/*
 * For a local folder that is a git repository (the folder itself, not a
 * subfolder): the HEAD commit (40 hex) and its committer date (ISO 8601).
 * Both out-strings belong to the caller. TPG_ENOTFOUND when `path` is not a
 * repository or HEAD has no commit.
 */
int tpg_git_describe_local(const char *path, char **commit, char **commit_date,
	tpg_err *err);

/*
 * `url` without its userinfo ("https://u:tok@host/x" -> "https://host/x"),
 * also inside a longer text: every "scheme://user@" is cut. Never NULL for a
 * non-NULL input; caller frees.
 */
char *tpg_url_redact(const char *url);

/*
 * Parses "2026-12-10T23:59:00+01:00": date, 'T' or ' ', time to the minute
 * or second (fraction ignored), then 'Z' or +hh:mm / +hhmm / +hh. The basic
 * form (20261210T235900Z) works too. The offset is mandatory. Sets *epoch
 * (seconds) and *offset_minutes (either may be NULL); TPG_EINVAL otherwise.
 */
int tpg_parse_iso8601(const char *s, long long *epoch, int *offset_minutes, tpg_err *err);
/* "2026-12-10T23:59:00+01:00" for epoch shown at offset; caller frees. */
char *tpg_format_iso8601(long long epoch, int offset_minutes);

/*
 * Looks `host` up in a .netrc file (machine/login/password/default/account/
 * macdef tokens, double-quoted tokens allowed). 0 with *login and *password
 * (caller frees; *login may be NULL), TPG_ENOTFOUND when neither the host
 * nor `default` has a password or the file is missing.
 */
int tpg_git_netrc_lookup(const char *path, const char *host, char **login,
	char **password, tpg_err *err);

#endif

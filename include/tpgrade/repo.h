/*
 * repo.h - safe access to a student's repository (untrusted input).
 *
 * Every path handed to this module is relative to the repository root and
 * resolved by us, one component at a time, with openat(O_NOFOLLOW) and
 * fstatat(AT_SYMLINK_NOFOLLOW): the kernel never follows a symlink for us.
 *  - A symlink whose target stays inside the repository is followed (its
 *    target is resolved lexically against the link's folder, at most
 *    TPG_REPO_MAX_SYMLINKS hops in a row).
 *  - A symlink to an absolute path, or one whose ".." climbs above the root,
 *    is never followed: TPG_ESYMLINK, "X is a symbolic link to T, outside
 *    the repository: not followed".
 *  - ".." in the path asked for that climbs above the root: TPG_EINVAL.
 *  - Reads are capped, FIFOs/devices/sockets are never opened for reading.
 *  - Walks (tpg_repo_glob) never descend into a symlinked folder and stop
 *    at caps on entries visited and depth.
 * See docs/repo-access.md for the full list of guarantees.
 *
 * Paths given back (canonical paths, glob results) are raw bytes from the
 * student's file system: they may hold newlines or invalid UTF-8. Callers
 * escape them for display (tpg_repo_path_display, or the report writers).
 * Error messages from this module already show names escaped.
 */
#ifndef TPGRADE_REPO_H
#define TPGRADE_REPO_H

#include <stdbool.h>
#include <stddef.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"
#include "tpgrade/glob.h"   /* TPG_GLOB_* flags for tpg_repo_glob_opts */

#define TPG_REPO_MAX_SYMLINKS 40            /* hops while resolving one path */
#define TPG_REPO_MAX_PATH 4096              /* bytes in a path we are asked for */
#define TPG_REPO_READ_DEFAULT_MAX (1 << 20) /* tpg_repo_read with max_bytes 0 */
#define TPG_REPO_GLOB_MAX_VISIT 200000      /* default entries visited per glob */
#define TPG_REPO_GLOB_MAX_DEPTH 64          /* default folder depth per glob */
#define TPG_REPO_GLOB_DEPTH_LIMIT 256       /* max_depth is clamped to this */

/* An open repository root: an O_DIRECTORY descriptor and its real path.
 * Nothing in it changes after tpg_repo_open: several threads may use one
 * repo at once, as long as none closes it meanwhile. */
typedef struct tpg_repo tpg_repo;

/*
 * Opens the folder `path` (the operator's argument: symlinks in it are
 * followed, this is not student input). Errors: TPG_ENOTFOUND "repository
 * folder not found: X", TPG_EINVAL "X is not a folder", TPG_EDENIED.
 * *out is closed with tpg_repo_close.
 */
int tpg_repo_open(const char *path, tpg_repo **out, tpg_err *err);
void tpg_repo_close(tpg_repo *repo);   /* NULL is fine */
/* Absolute real path of the root; borrowed, valid until tpg_repo_close. */
const char *tpg_repo_root(const tpg_repo *repo);

typedef enum tpg_ftype {
	TPG_FT_NONE = 0,
	TPG_FT_FILE,    /* regular file */
	TPG_FT_DIR,
	TPG_FT_OTHER    /* FIFO, socket, device */
} tpg_ftype;

/* (Not named tpg_repo_stat: C types and functions share one namespace.) */
typedef struct tpg_repo_info {
	tpg_ftype type;
	long long size;      /* st_size of the final target (bytes) */
	bool via_symlink;    /* at least one symlink was followed */
} tpg_repo_info;

/*
 * Resolves `rel` (relative, '/'-separated; "" and "." are the root) as
 * described above. On success *canonical (if canonical is non-NULL) is the
 * repo-relative path of the final target without any symlink, "." for the
 * root, malloc'ed; *st (if non-NULL) describes the target.
 * Errors: TPG_ENOTFOUND (missing, or a component is not a folder),
 * TPG_ESYMLINK (symlink out of the repository, or a loop),
 * TPG_EINVAL (absolute path, ".." above the root, too long), TPG_EDENIED.
 * On error *canonical is NULL.
 */
int tpg_repo_stat(tpg_repo *repo, const char *rel, char **canonical,
                  tpg_repo_info *st, tpg_err *err);

/*
 * Reads the regular file `rel` (resolved as tpg_repo_stat does) into `out`,
 * which is emptied first. max_bytes 0 means TPG_REPO_READ_DEFAULT_MAX.
 * A file over max_bytes gives TPG_ETOOBIG ("X is 1.0 GB, over the 1.0 MB
 * limit") without reading it. Anything but a regular file (folder, FIFO,
 * socket, device) gives TPG_EINVAL and is never opened for reading, so a
 * FIFO cannot block us. The contents are NUL-terminated; out->len is the
 * true length (the file may itself contain NUL bytes). `out` must have no
 * cap or a cap >= max_bytes. On error `out` is left empty.
 */
int tpg_repo_read(tpg_repo *repo, const char *rel, size_t max_bytes,
                  tpg_buf *out, tpg_err *err);

/* What tpg_repo_glob lists. A symlink counts as what it resolves to inside
 * the repository; a symlink that cannot be followed (outside the
 * repository, dangling, a loop) counts as a FILE, so that reading it then
 * reports why. */
enum {
	TPG_REPO_GLOB_FILES = 1 << 0,
	TPG_REPO_GLOB_DIRS = 1 << 1,
	TPG_REPO_GLOB_OTHER = 1 << 2,   /* FIFOs, sockets, devices */
	TPG_REPO_GLOB_ALL = 7
};

typedef struct tpg_repo_glob_opts {
	int glob_flags;      /* TPG_GLOB_NOCASE... */
	unsigned types;      /* TPG_REPO_GLOB_* mask; 0 means FILES */
	size_t max_visit;    /* entries looked at; 0 means TPG_REPO_GLOB_MAX_VISIT */
	int max_depth;       /* folder nesting; 0 means TPG_REPO_GLOB_MAX_DEPTH,
	                        at most TPG_REPO_GLOB_DEPTH_LIMIT */
} tpg_repo_glob_opts;

/*
 * Appends to `out` the repo-relative paths matching `pattern` (glob.h
 * syntax), sorted in byte order. The walk never follows a symlinked folder
 * (the link itself may be listed), skips every entry named ".git", and
 * silently skips folders it cannot open. opts may be NULL (defaults).
 * When a cap is hit, the paths found so far are returned with 0,
 * *truncated (if non-NULL) is set, and err->msg (if err) says which cap,
 * with err->code left 0. Errors: TPG_EINVAL (bad pattern),
 * TPG_ECANCELED (tpg_interrupted()). On error nothing is appended.
 */
int tpg_repo_glob(tpg_repo *repo, const char *pattern, const tpg_repo_glob_opts *opts,
                  tpg_strv *out, bool *truncated, tpg_err *err);

/*
 * For spec-supplied paths at load time: false when `rel` is empty, absolute,
 * too long, or climbs above the root with ".."; *why (if non-NULL) is then
 * a static reason ("absolute path", ...).
 */
bool tpg_repo_path_is_safe(const char *rel, const char **why);


/* `path` with control characters, backslashes and invalid UTF-8 escaped
 * ("a\nb" -> "a\\nb", 0xff -> "\\xff"); malloc'ed. */
char *tpg_repo_path_display(const char *path);

#endif

/*
 * buildctx.h - the build context: a student's folder as the tar the docker
 * CLI would send, honouring .dockerignore exactly as Docker does.
 *
 * The folder is untrusted: it is walked with openat() from the folder's
 * descriptor and O_NOFOLLOW, so nothing outside it is ever read. Symlinks
 * are stored as symlink entries (never followed), sockets, FIFOs and
 * device nodes are skipped, the total size is capped. The order is
 * deterministic (byte order of names within each directory, a directory's
 * contents right after it, like Go's filepath.Walk).
 */
#ifndef TPGRADE_BUILDCTX_H
#define TPGRADE_BUILDCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"

#define TPG_BUILDCTX_DEFAULT_LIMIT (100u << 20)

/* ---------------------------------------------------------------- .dockerignore */

/* Compiled .dockerignore patterns, matched like moby/patternmatcher. */
typedef struct tpg_dockerignore tpg_dockerignore;

/* Parses .dockerignore text like the docker CLI (BOM dropped, lines
 * starting with '#' ignored, spaces trimmed, "!" exceptions, patterns
 * cleaned, a leading "/" dropped). TPG_EINVAL for a bad pattern or a lone
 * "!". `text` may be NULL (no patterns). */
int tpg_dockerignore_parse(const char *text, size_t len, tpg_dockerignore **out, tpg_err *err);
/* Adds a pattern at the end ("!Dockerfile"), as the CLI does for the files
 * it always sends. */
int tpg_dockerignore_add(tpg_dockerignore *ign, const char *pattern, tpg_err *err);
/* True when `path` (relative, '/'-separated) or one of its parent
 * directories is excluded and no later exception re-includes it. */
bool tpg_dockerignore_excluded(const tpg_dockerignore *ign, const char *path);
bool tpg_dockerignore_has_exceptions(const tpg_dockerignore *ign);
size_t tpg_dockerignore_count(const tpg_dockerignore *ign);
void tpg_dockerignore_free(tpg_dockerignore *ign);

/* ---------------------------------------------------------------- context */

typedef struct tpg_buildctx_opts {
	const char *dockerfile;   /* inside the context; NULL: "Dockerfile" */
	size_t limit;             /* bytes of file content; 0: the default */
} tpg_buildctx_opts;

typedef struct tpg_buildctx_stats {
	size_t files, dirs, symlinks;
	size_t excluded;          /* entries left out by .dockerignore */
	size_t skipped;           /* sockets, FIFOs, devices, unreadable names */
	unsigned long long bytes; /* file content */
	unsigned long long tar_bytes;   /* size of the tar written */
} tpg_buildctx_stats;

/* Writes the context of folder `dir` as an uncompressed tar to `out`
 * (st may be NULL). TPG_ETOOBIG "build context over 100 MB" past the cap,
 * TPG_ENOTFOUND when dir is not a folder, TPG_EINVAL for a Dockerfile path
 * that leaves the context or a bad .dockerignore. */
int tpg_buildctx_write(const char *dir, const tpg_buildctx_opts *opts, FILE *out,
                       tpg_buildctx_stats *st, tpg_err *err);

/* The entries that would be sent, in order ("app", "app/main.py", ...;
 * directories without a trailing '/'), for tests and diagnostics. */
int tpg_buildctx_list(const char *dir, const tpg_buildctx_opts *opts, tpg_strv *paths,
                      tpg_buildctx_stats *st, tpg_err *err);

#endif

/*
 * glob.h - path patterns, as Docker's .dockerignore understands them
 * (moby/patternmatcher), which is also what specs use for `glob:`.
 *
 *   *      any run of characters except '/'
 *   ?      one character except '/'
 *   [...]  a character class ([^...] or [!...] negates); never matches '/'.
 *          As in Go's filepath.Match, '-' and ']' must be escaped unless
 *          they form a range ("[a-z]", "[\]]"); "[]", "[x-]" are errors
 *   **     any number of path components (also zero): `**' + `/x` matches
 *          `x`, `a/x`, `a/b/x`; `a/` + `**` matches everything under a/
 *          (not `a` itself); `**` alone matches everything. A pattern that
 *          starts with `**` and has no other wildcard is a suffix test, as
 *          in Docker: `**' + `file` matches `myfile` and `a/file`
 *   \c     the character c itself; a trailing lone '\' is an error
 *
 * Patterns and paths are relative, '/'-separated, and matched in full.
 * A pattern is cleaned first as Go's filepath.Clean would ("./a//b/" is
 * "a/b"), and a leading "/" is dropped. A pattern whose ".." climbs above
 * the start ("../x") compiles but matches nothing, as in Docker.
 * Paths may hold any bytes: newlines, invalid UTF-8 (each invalid byte is
 * one character for `?`). Patterns must be valid UTF-8.
 */
#ifndef TPGRADE_GLOB_H
#define TPGRADE_GLOB_H

#include <stdbool.h>
#include "tpgrade/common.h"

typedef struct tpg_glob tpg_glob;

enum {
	TPG_GLOB_NOCASE = 1 << 0   /* case-insensitive (students write "dockerfile") */
};

/* Compiles `pattern`; *out is freed with tpg_glob_free. TPG_EINVAL with a
 * message saying what is wrong (e.g. an unclosed '['). */
int tpg_glob_compile(const char *pattern, int flags, tpg_glob **out, tpg_err *err);
bool tpg_glob_match(const tpg_glob *glob, const char *path);
/* The cleaned pattern text; borrowed, valid while glob lives. */
const char *tpg_glob_pattern(const tpg_glob *glob);
/* True when the pattern has no wildcard: it names one path. */
bool tpg_glob_is_literal(const tpg_glob *glob);
void tpg_glob_free(tpg_glob *glob);

/* Cleans a relative path like Go's filepath.Clean (no leading "/", no ".",
 * "a/../b" is "b"). Returns a malloc'ed string; "." for the empty path.
 * `escapes` is set when ".." climbs above the start. */
char *tpg_path_clean(const char *path, bool *escapes);

#endif

/*
 * locate.h - how a check names the file or folder it grades, or finds it:
 *
 *   path: cowsay/Dockerfile               # one path (may use ${found.*})
 *   find:                                 # or search the repository
 *     glob: "**" + "/Dockerfile"            (a glob or a list of globs)
 *     prefer: [tp2bis/cowsay/Dockerfile]    # tried first, in order
 *     exclude: [vendor, "*.bak"]
 *     nocase: true                        # "dockerfile" matches too
 *   if-none: fail | skip                  # nothing found: fail (default) or skip
 *   if-none-message: {fr: ..., en: ...}
 *
 * Candidates are ordered: first those matching an earlier `prefer`
 * pattern, then shallower paths, then byte order. The kind then takes the
 * first candidate that satisfies its `where:` conditions.
 */
#ifndef TPGRADE_LOCATE_H
#define TPGRADE_LOCATE_H

#include "tpgrade/check.h"

typedef struct tpg_locate {
	tpg_tmpl path;        /* set for `path:` */
	tpg_strv globs;       /* set for `find:` */
	tpg_strv prefer;
	tpg_strv exclude;
	bool nocase;
	bool skip_if_none;
	tpg_l10n none_message;
	bool dirs;            /* locating folders rather than files */
} tpg_locate;

/* Reads path/find/if-none/if-none-message from f; exactly one of path and
 * find is required. 0 or -1 (reported). */
int tpg_locate_parse(tpg_fields *f, bool dirs, tpg_locate *out);
/*
 * Lists the candidates in preference order (repo-relative paths). For
 * `path:` that is the path itself, cleaned, whether it exists or not.
 * Errors: a `${found.*}` value that is unset (TPG_ENOTFOUND: skip the
 * check), a path escaping the repository (TPG_EINVAL), interruption.
 */
int tpg_locate_candidates(tpg_run *run, const tpg_locate *loc, tpg_strv *out, tpg_err *err);
/* How many rejected candidates a report lists (the others are "..."). */
#define TPG_LOCATE_MAX_REPORTED 5

/*
 * tpg_locate_candidates with its errors turned into the check's result:
 * an unset `${found.*}` skips the check, a path leaving the repository
 * fails it, anything else is an error. Returns 0, or -1 when res is set.
 */
int tpg_locate_list(tpg_run *run, const tpg_locate *loc, tpg_strv *out, tpg_result *res);
/*
 * Nothing qualified: fails the check (skips it with if-none: skip), with
 * the author's if-none-message first, then what was looked at and why the
 * candidates were passed over. `rejected` holds one "\n  - <why>" line per
 * candidate (at most TPG_LOCATE_MAX_REPORTED), `nrejected` counts them all;
 * `noun` names what was searched ("candidates", "Dockerfiles").
 */
void tpg_locate_none(const tpg_locate *loc, const tpg_strv *cands, const tpg_buf *rejected,
                     size_t nrejected, const char *noun, const char *lang, tpg_result *res);

/* "cowsay/Dockerfile" or "**\/Dockerfile (found by search)" for messages. */
char *tpg_locate_describe(const tpg_locate *loc);
void tpg_locate_free(tpg_locate *loc);

/* The folder of a repo-relative path: "a/b" for "a/b/c", "." for "c". */
char *tpg_path_dirname(const char *rel);
/* Joins a repo-relative folder and a relative path, cleaned. */
char *tpg_path_join(const char *dir, const char *rel);

#endif

/*
 * regex.h - PCRE2 regexes as specs use them: multiline (^ and $ at every
 * line), UTF-8 that tolerates invalid bytes in the subject (student files),
 * and match limits so a pathological pattern on a large file gives an error
 * instead of hanging the grader.
 */
#ifndef TPGRADE_REGEX_H
#define TPGRADE_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include "tpgrade/common.h"

typedef struct tpg_regex tpg_regex;

enum {
	TPG_REGEX_NOCASE = 1 << 0,
	TPG_REGEX_DOTALL = 1 << 1     /* '.' also matches newlines */
};

/* Compiles; on error TPG_EINVAL with "<pcre2 message> at offset N" and
 * *erroffset (may be NULL) set to the byte offset in the pattern. */
int tpg_regex_compile(const char *pattern, int flags, tpg_regex **out,
                      size_t *erroffset, tpg_err *err);
/*
 * Searches `subject` (len bytes, may hold NULs and invalid UTF-8).
 * Returns 1 on a match (the whole match spans [*start, *end) when non-NULL),
 * 0 when there is none, TPG_ETOOBIG when the match limit was hit.
 */
int tpg_regex_search(const tpg_regex *re, const char *subject, size_t len,
                     size_t *start, size_t *end);
const char *tpg_regex_pattern(const tpg_regex *re);   /* borrowed */
void tpg_regex_free(tpg_regex *re);

#endif

/*
 * textmatch.h - the string conditions specs put on text (file contents,
 * command output, an instruction's arguments, an HTTP body):
 *
 *   contains: "Coucou !"           # a scalar alone means `contains`
 *   { equals: ..., contains: [..], not-contains: .., matches: re,
 *     not-matches: re, nocase: true }
 *
 * Each of equals/contains/not-contains/matches/not-matches takes a string
 * or a list; all conditions must hold. Regexes are PCRE2, multiline.
 */
#ifndef TPGRADE_TEXTMATCH_H
#define TPGRADE_TEXTMATCH_H

#include "tpgrade/buf.h"
#include "tpgrade/check.h"

typedef struct tpg_textmatch tpg_textmatch;

/* Parses the matcher written at `node` (key path suffix `key`).
 * Returns 0 and *out, or -1 after reporting through f. */
int tpg_textmatch_parse(tpg_fields *f, const tpg_yaml_node *node, const char *key,
                        tpg_textmatch **out);
/*
 * Evaluates on `text` (len bytes, may hold anything). Returns 1 when every
 * condition holds, 0 when one does not, TPG_ETOOBIG when a regex hit its
 * match limit. `why` gets one sentence about `what` ("stdout"): on failure
 * the first condition that failed ("stdout does not contain 'Coucou !'"),
 * with the offending line for not-matches/not-contains; on success what
 * held ("stdout contains 'Coucou !'").
 */
int tpg_textmatch_eval(const tpg_textmatch *m, const char *text, size_t len, const char *what,
                       tpg_buf *why);
void tpg_textmatch_free(tpg_textmatch *m);

/* Appends `s` quoted for a one-line message, shortened to `max` bytes,
 * control characters escaped. */
void tpg_quote_excerpt(tpg_buf *out, const char *s, size_t len, size_t max);

#endif

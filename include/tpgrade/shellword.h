/*
 * shellword.h - BuildKit's shell-word lexer (frontend/dockerfile/shell):
 * the `$VAR` / `${VAR:-x}` expansion, quote removal and word splitting that
 * docker build applies to instruction arguments (ENV, ARG, FROM, COPY...).
 *
 * Behaviour follows BuildKit's lexer byte for byte on the conformance data
 * (tests/data/buildkit-shell), including its quirks:
 *  - the escape character (`\` or the Dockerfile's `escape` directive) escapes
 *    any character outside quotes and only `"`, `$` and itself inside double
 *    quotes; nothing is escaped inside single quotes;
 *  - `${v:-w}`, `${v-w}`, `${v:+w}`, `${v+w}`, `${v:?w}`, `${v?w}`,
 *    `${v#p}`, `${v##p}`, `${v%p}`, `${v%%p}`, `${v/p/r}`, `${v//p/r}`
 *    (patterns: `*`, `?` and literal characters, no bracket expressions);
 *  - `$1`, `$@`, `$#`... are never set; unknown variables expand to "";
 *  - invalid UTF-8 in the word comes out as U+FFFD (Go's text/scanner).
 *
 * Not bash: no command substitution, arithmetic, globbing or tilde.
 *
 * Environments are lists of "KEY=VALUE" strings (a later entry wins; an
 * entry without '=' sets KEY to ""). Names are case-sensitive (Linux).
 *
 * Bounded: an expansion whose output would exceed TPG_SHELL_MAX_OUTPUT bytes
 * fails with TPG_ETOOBIG, `${...}` nesting deeper than TPG_SHELL_MAX_DEPTH
 * fails with TPG_EPARSE, and pattern matching has a fixed work budget
 * (TPG_ETOOBIG), so hostile input cannot exhaust memory or time. BuildKit
 * has no such limits; they are far above anything a real Dockerfile needs.
 */
#ifndef TPGRADE_SHELLWORD_H
#define TPGRADE_SHELLWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"

#define TPG_SHELL_MAX_OUTPUT (1024u * 1024u)
#define TPG_SHELL_MAX_DEPTH 200

/* Lexer options, BuildKit's Lex fields. Zero-initialise for ProcessWord. */
typedef struct tpg_shell_opts {
	char escape;           /* '\\' or '`'; 0 means '\\' */
	bool raw_quotes;       /* keep quote characters in the output */
	bool raw_escapes;      /* keep escape characters in the output */
	bool skip_unset_env;   /* leave references to unset variables as written */
	bool skip_quotes;      /* do not treat quotes as quotes (heredoc bodies) */
} tpg_shell_opts;

/*
 * ProcessWord: expands `word` into *out (malloc'ed, caller frees). On error
 * returns TPG_EPARSE (BuildKit's message, e.g. `failed to process "${}":
 * syntax error: bad substitution`) or TPG_ETOOBIG, and *out is NULL.
 */
int tpg_shell_expand_word(const char *word, char escape, const tpg_strv *env,
			  char **out, tpg_err *err);

/*
 * ProcessWords: expands `line` and splits it on unquoted whitespace into
 * `out` (appended; owned by the caller). Same errors as above; on error
 * nothing is appended.
 */
int tpg_shell_expand_words(const char *line, char escape, const tpg_strv *env,
			   tpg_strv *out, tpg_err *err);

/*
 * Both at once, with every option. `result` (may be NULL) receives the
 * ProcessWord string, `words` (may be NULL) the ProcessWords list. When
 * `unmatched` is not NULL it receives the names referenced but not set
 * (each once), which BuildKit's linter reports (UndefinedVar).
 */
int tpg_shell_process(const char *word, const tpg_shell_opts *opts,
		      const tpg_strv *env, char **result, tpg_strv *words,
		      tpg_strv *unmatched, tpg_err *err);

/*
 * Go runtime semantics shared with the Dockerfile parser (tables of Unicode
 * 15.0 in dockerfile_unicode.c).
 */
bool tpg_go_is_letter(int32_t r);   /* unicode.IsLetter */
bool tpg_go_is_digit(int32_t r);    /* unicode.IsDigit (Nd) */
bool tpg_go_is_space(int32_t r);    /* unicode.IsSpace */
bool tpg_go_is_print(int32_t r);    /* unicode.IsPrint / strconv.IsPrint */
int32_t tpg_go_to_lower(int32_t r); /* unicode.ToLower */

#define TPG_GO_RUNE_ERROR 0xFFFD

/* utf8.DecodeRune: the rune at s[0..n) and its width; invalid or truncated
 * input gives (U+FFFD, 1), empty input (U+FFFD, 0). */
int32_t tpg_go_decode_rune(const char *s, size_t n, size_t *width);
/* utf8.AppendRune: invalid runes (surrogates, negative, > U+10FFFF) are
 * written as U+FFFD. */
void tpg_go_append_rune(tpg_buf *b, int32_t r);
/* strings.ToLower: ASCII fast path, else rune by rune with invalid bytes
 * turned into U+FFFD. Returns a malloc'ed string. */
char *tpg_go_to_lower_str(const char *s, size_t len);
/* unicode.IsSpace of the rune at s (decoding s[0..n)), width in *width. */
bool tpg_go_space_at(const char *s, size_t n, size_t *width);

#endif

/*
 * dockerfile_int.h - private interface between the dockerfile*.c files.
 * Not for other modules: use include/tpgrade/dockerfile.h.
 */
#ifndef TPGRADE_DOCKERFILE_INT_H
#define TPGRADE_DOCKERFILE_INT_H

#include "tpgrade/dockerfile.h"

/* Go strings.TrimSpace / TrimLeftFunc(unicode.IsSpace) on s[0..len):
 * narrows [*b, *e). */
void df_trim_space(const char *s, size_t *b, size_t *e);
void df_trim_left_space(const char *s, size_t *b, size_t e);

/*
 * newNodeFromLine: splits `line` into keyword, flags and arguments and
 * parses the arguments as BuildKit does for that keyword (ONBUILD nests,
 * iteratively). Fills *in (zeroed first; lines are left 0). On error returns
 * TPG_EPARSE with BuildKit's message and *in is cleared.
 */
int df_node_from_line(const char *line, size_t len, char escape, tpg_df_instr *in, tpg_err *err);

/* Frees what an instruction owns (not the struct itself), inner included. */
void df_instr_clear(tpg_df_instr *in);

/* ADD, COPY, RUN, or ONBUILD of one of them, not in JSON form. */
bool df_can_contain_heredoc(const tpg_df_instr *in);

/* The incremental directive parser (DirectiveParser.ParseLine). */
typedef struct df_directives {
	const char *prefix;   /* "#" or "//" */
	bool done;
	bool seen[3];         /* syntax, escape, check */
	int line;
} df_directives;

/* Returns 1 and the lowercased name and value (malloc'ed) for a directive,
 * 0 when the line is not one (scanning then stops for good), TPG_EPARSE for
 * a repeated directive. */
int df_directive_line(df_directives *d, const char *line, size_t len, char **name, char **value,
		      tpg_err *err);

/* Whether data is a JSON object whose member `key` (last occurrence) is a
 * string; *val gets it (malloc'ed). */
bool df_json_object_string(const char *data, size_t len, const char *key, char **val);

#endif

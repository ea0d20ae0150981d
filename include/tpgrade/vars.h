/*
 * vars.h - spec variables and `${NAME}` expansion.
 *
 * Syntax: `${NAME}` is replaced by the variable's value, `${NAME:-text}` by
 * the value or `text` when NAME is unset or empty, `$$` by one `$`. A `$`
 * followed by anything else is kept, so regexes ending in `$` are safe.
 * Names: letters, digits, `_`, `.` and `-`, not starting with a digit.
 *
 * Expansion happens twice. When a spec is loaded, every variable is known
 * except the `found.*` ones (values a check finds while grading, like the
 * path of the Dockerfile it located); those are kept as written and the
 * string becomes a template (tpg_tmpl) expanded again when its check runs.
 */
#ifndef TPGRADE_VARS_H
#define TPGRADE_VARS_H

#include <stdbool.h>
#include "tpgrade/buf.h"
#include "tpgrade/common.h"

/* An ordered name -> value table. */
typedef struct tpg_vars {
	tpg_strv names;
	tpg_strv values;
} tpg_vars;

#define TPG_VARS_INIT {TPG_STRV_INIT, TPG_STRV_INIT}

/* Sets (or replaces) a variable; copies both strings. */
void tpg_vars_set(tpg_vars *vars, const char *name, const char *value);
/* Borrowed value, NULL when unset. */
const char *tpg_vars_get(const tpg_vars *vars, const char *name);
void tpg_vars_free(tpg_vars *vars);
bool tpg_var_name_valid(const char *name, size_t len);

/* Returns the value of `name` (borrowed), or NULL when it is not defined. */
typedef const char *(*tpg_var_lookup_fn)(void *ctx, const char *name);

/*
 * Expands `text` into *out (malloc'ed). With `defer_prefix` non-NULL,
 * references to names starting with it are kept verbatim and their names
 * appended to `deferred` (may be NULL); `$$` is then kept as `$$` so the
 * second expansion sees the same escapes. Errors (TPG_EINVAL): an undefined
 * variable ("undefined variable ${registry}"), an unterminated `${`, a bad
 * name. The result is capped at 1 MiB (TPG_ETOOBIG).
 */
int tpg_vars_expand(const char *text, tpg_var_lookup_fn lookup, void *ctx,
                    const char *defer_prefix, char **out, tpg_strv *deferred, tpg_err *err);

/* A string from a spec that may still hold `${found.*}` references. */
typedef struct tpg_tmpl {
	char *text;        /* fully expanded when !dynamic, else a template */
	bool dynamic;
} tpg_tmpl;

void tpg_tmpl_free(tpg_tmpl *t);

#endif

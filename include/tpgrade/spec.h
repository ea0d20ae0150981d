/*
 * spec.h - loading a YAML check spec (docs/spec.md describes the format).
 *
 * Loading is strict and reports every problem at once: unknown keys, wrong
 * types, duplicate ids, `needs` on unknown ids, dependency cycles, regexes
 * that do not compile, negative points, paths escaping the repository,
 * undefined variables. Nothing is graded from a spec with errors.
 */
#ifndef TPGRADE_SPEC_H
#define TPGRADE_SPEC_H

#include "tpgrade/check.h"
#include "tpgrade/diag.h"
#include "tpgrade/vars.h"

typedef struct tpg_suite {
	char *id;
	char *title;
	size_t first;      /* index of its first check in spec->checks */
	size_t count;
} tpg_suite;

typedef struct tpg_spec {
	char *path;          /* as given */
	char *digest;        /* "sha1:<git blob id of the file's bytes>" */
	char *tp;
	char *title;
	char *description;
	char *lang;          /* default language of hints: "fr" unless the spec says */
	tpg_vars vars;       /* effective variables: spec `vars:` overridden by --var */
	tpg_suite *suites;
	size_t nsuites;
	tpg_check *checks;   /* in spec order, suite by suite */
	size_t nchecks;
	size_t *order;       /* execution order: prerequisites first, else spec order */
} tpg_spec;

typedef struct tpg_spec_opts {
	const tpg_strv *cli_vars;   /* "NAME=VALUE" from --var, may be NULL */
	bool use_environment;       /* let ${NAME} fall back to the environment */
} tpg_spec_opts;

/*
 * Loads the spec at `path`. On success *out is freed with tpg_spec_free.
 * On failure diagnostics are added and TPG_EPARSE (spec errors) or
 * TPG_ENOTFOUND/TPG_EIO (cannot read the file) is returned.
 */
int tpg_spec_load(const char *path, const tpg_spec_opts *opts, tpg_spec **out, tpg_diags *diags);
/* The same from memory (`name` is used in diagnostics). */
int tpg_spec_load_buffer(const char *name, const char *data, size_t len,
                         const tpg_spec_opts *opts, tpg_spec **out, tpg_diags *diags);
void tpg_spec_free(tpg_spec *spec);
/* The check with this id, NULL if none (borrowed). */
const tpg_check *tpg_spec_find(const tpg_spec *spec, const char *id);
long tpg_spec_index(const tpg_spec *spec, const char *id);

/*
 * Resolves a spec argument as the CLI does: an existing file path is used
 * as is; otherwise a bare name ("tp2bis") is looked up as NAME.yaml in
 * $TPGRADE_CHECKS_DIR, then ./checks, then the folder holding the
 * executable's ../share/tpgrade/checks, then the installed data dir.
 * Returns a malloc'ed path, or NULL with err explaining where it looked.
 */
char *tpg_spec_resolve(const char *arg, const char *argv0, tpg_err *err);

#endif

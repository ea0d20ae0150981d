/*
 * check.h - what a check kind is, and everything a kind may use.
 *
 * A check kind is one file (grader/kind_<name>.c) defining one
 * `const tpg_check_kind tpg_kind_<name>` and listed once in the table in
 * grader/kinds.c. A kind:
 *   - parses its own keys of a check from the spec through a tpg_fields
 *     accessor, which expands variables, reports errors with file:line:col
 *     and the key path, and flags any key nobody read as unknown;
 *   - runs a check, filling a tpg_result: passed / failed (the student's
 *     fault) / error (the environment's fault) / skipped, with a message
 *     that explains, the file graded, and captured output.
 */
#ifndef TPGRADE_CHECK_H
#define TPGRADE_CHECK_H

#include <stdbool.h>
#include <jansson.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"
#include "tpgrade/report.h"
#include "tpgrade/vars.h"
#include "tpgrade/yaml.h"

typedef struct tpg_check tpg_check;
typedef struct tpg_run tpg_run;
typedef struct tpg_fields tpg_fields;
typedef struct tpg_result tpg_result;
typedef struct tpg_regex tpg_regex;
typedef struct tpg_repo tpg_repo;
typedef struct tpg_docker tpg_docker;

/* What a kind needs from the environment; also gives checks automatic tags
 * ("docker", "registry") so `--skip-tags docker` grades statically. */
enum {
	TPG_NEEDS_DOCKER = 1 << 0,
	TPG_NEEDS_REGISTRY = 1 << 1
};

typedef struct tpg_check_kind {
	const char *name;               /* the `kind:` value */
	const char *summary;            /* one line, for `tpgrade validate --kinds` */
	unsigned needs;                 /* TPG_NEEDS_* */
	long long default_timeout_ms;   /* when neither the check nor defaults set one */
	/* Reads the kind's keys; *cfg is owned by the check and freed with
	 * free_cfg. Returns 0, or -1 after reporting problems through fields. */
	int (*parse)(tpg_fields *fields, void **cfg);
	/* Grades one check. Must set res->status (the engine treats an unset
	 * result as an internal error). Never exits, never crashes on input. */
	void (*run)(const tpg_check *check, const void *cfg, tpg_run *run, tpg_result *res);
	void (*free_cfg)(void *cfg);
} tpg_check_kind;

/* The table of kinds (grader/kinds.c), NULL-terminated. */
extern const tpg_check_kind *const tpg_check_kinds[];
const tpg_check_kind *tpg_check_kind_find(const char *name);

/* A text given either as a plain string or per language {fr: .., en: ..}. */
typedef struct tpg_l10n {
	char *any;   /* the plain-string form */
	char *fr;
	char *en;
} tpg_l10n;

/* The text for `lang` ("fr"/"en"), falling back to the other; borrowed. */
const char *tpg_l10n_pick(const tpg_l10n *t, const char *lang);
void tpg_l10n_free(tpg_l10n *t);

/* One check of a loaded spec. */
struct tpg_check {
	char *id;
	char *title;
	char *description;      /* may be NULL */
	const tpg_check_kind *kind;
	void *cfg;              /* the kind's parsed configuration */
	double points;
	bool bonus;
	tpg_l10n hint;
	tpg_strv needs;         /* explicit prerequisites: must pass */
	tpg_strv uses;          /* checks whose found values it reads (${found.X.k}): must have run */
	tpg_strv tags;          /* as written plus automatic ones (kind name, docker...) */
	long long timeout_ms;
	size_t suite;           /* index into spec->suites */
	int line, col;          /* where the check starts in the spec */
};

/* ---- Reading a kind's keys ------------------------------------------- */

/*
 * Every function below reads one key of the mapping behind `f`, marks it
 * as known, and reports problems itself (file:line:col, key path, message).
 * They return 1 when the key was present and valid, 0 when it is absent
 * (an error is reported first if `required`), -1 when it was present but
 * invalid. Outputs are owned by the caller. Strings have the spec's
 * variables expanded; only tpg_fields_tmpl/_path accept `${found.*}`.
 */
int tpg_fields_str(tpg_fields *f, const char *key, bool required, char **out);
int tpg_fields_tmpl(tpg_fields *f, const char *key, bool required, tpg_tmpl *out);
/* A repo-relative path (template); absolute paths and `..` climbing out of
 * the repository are spec errors. */
int tpg_fields_path(tpg_fields *f, const char *key, bool required, tpg_tmpl *out);
int tpg_fields_bool(tpg_fields *f, const char *key, bool *out);
int tpg_fields_int(tpg_fields *f, const char *key, long long min, long long max, long long *out);
int tpg_fields_number(tpg_fields *f, const char *key, double min, double max, double *out);
/* "90s", "2m", "1500ms", "1h", or a bare number of seconds. */
int tpg_fields_duration(tpg_fields *f, const char *key, long long *ms);
/* "512k", "1MB", "2 GiB", or a bare number of bytes. */
int tpg_fields_size(tpg_fields *f, const char *key, long long *bytes);
/* One of `choices` (NULL-terminated); *out is its index. */
int tpg_fields_enum(tpg_fields *f, const char *key, const char *const *choices, int *out);
/* A string or a list of strings. */
int tpg_fields_strlist(tpg_fields *f, const char *key, tpg_strv *out);
int tpg_fields_l10n(tpg_fields *f, const char *key, tpg_l10n *out);

/* The raw node of `key` (marked known), NULL when absent. */
const tpg_yaml_node *tpg_fields_take(tpg_fields *f, const char *key);
/* The i-th key of the mapping (NULL past the end), for mappings whose keys
 * are data (names of build args, variables). Does not mark it known. */
const tpg_yaml_node *tpg_fields_key_at(tpg_fields *f, size_t i);
/* True when `key` is present (does not mark it known). */
bool tpg_fields_has(tpg_fields *f, const char *key);
/*
 * An accessor for a nested mapping `node` (e.g. an item of a list the kind
 * iterates), with `suffix` appended to the key path ("expect[2]"). Returns
 * NULL (after reporting "must be a mapping") when node is not a mapping.
 * Finish it with tpg_fields_end.
 */
tpg_fields *tpg_fields_sub(tpg_fields *f, const tpg_yaml_node *node, const char *suffix);
/* The same for the mapping under `key`: 1 and *sub set, 0 absent, -1 bad. */
int tpg_fields_map(tpg_fields *f, const char *key, bool required, tpg_fields **sub);
/* Reports every key never read as unknown (listing the known ones), then
 * frees the accessor. Returns -1 if this accessor reported any error. */
int tpg_fields_end(tpg_fields *f);
/* Reports a problem at `node` (NULL: the mapping itself); `key` (may be
 * NULL) is appended to the key path. */
void tpg_fields_error(tpg_fields *f, const tpg_yaml_node *node, const char *key,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Number of errors reported through this accessor so far. */
int tpg_fields_errors(const tpg_fields *f);
/* Expands spec variables in a scalar node; error reported at the node. */
int tpg_fields_expand(tpg_fields *f, const tpg_yaml_node *node, const char *key, bool allow_found,
                      tpg_tmpl *out);
/* Parses a scalar as a regex (errors at the node, with the column of the
 * problem when the scalar is on one line). */
int tpg_fields_regex_node(tpg_fields *f, const tpg_yaml_node *node, const char *key,
                          int regex_flags, tpg_regex **out);

/* ---- Results --------------------------------------------------------- */

struct tpg_result {
	tpg_status status;
	bool status_set;
	tpg_buf message;   /* the explanation, may span lines */
	char *file;        /* repo-relative path graded, NULL if none */
	int line;
	tpg_buf output;    /* captured output, capped (keeps the tail) */
	json_t *data;      /* extra details for JSON, owned, may be NULL */
};

void tpg_result_pass(tpg_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tpg_result_fail(tpg_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tpg_result_error(tpg_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tpg_result_skip(tpg_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a line to the message. */
void tpg_result_note(tpg_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tpg_result_file(tpg_result *res, const char *rel, int line);
void tpg_result_output(tpg_result *res, const char *data, size_t len);
/* Sets a key of res->data (steals `value`). */
void tpg_result_data(tpg_result *res, const char *key, json_t *value);

/* ---- The running engine, as kinds see it ------------------------------ */

/* The student's repository (borrowed, valid for the whole run). */
tpg_repo *tpg_run_repo(tpg_run *run);
/* Expands a template's `${found.*}` references (and `$$`); *out malloc'ed.
 * A reference to a value the other check did not set is TPG_ENOTFOUND with
 * a message naming it. */
int tpg_run_expand(tpg_run *run, const tpg_tmpl *t, char **out, tpg_err *err);
/* Publishes `${found.<this check's id>.<key>}` for later checks. */
void tpg_run_set_found(tpg_run *run, const char *key, const char *value);
/* A found value of another check (borrowed), NULL when unset. */
const char *tpg_run_found(tpg_run *run, const char *check_id, const char *key);
/* The absolute deadline (tpg_now_ms()) of the running check. */
long long tpg_run_deadline(tpg_run *run);
/* "fr" or "en". */
const char *tpg_run_lang(tpg_run *run);
/* A short id unique to this run (lowercase hex), for names and labels. */
const char *tpg_run_id(tpg_run *run);

/*
 * Objects a check leaves for later checks (a started service container,
 * a built image): stored under "<check id>.<key>", destroyed at the end of
 * the run (in reverse order) with `destroy(ptr, run)`.
 */
void tpg_run_put(tpg_run *run, const char *key, void *ptr, void (*destroy)(void *ptr, tpg_run *run));
void *tpg_run_get(tpg_run *run, const char *check_id, const char *key);

/*
 * The Docker client of the run, connected and version-negotiated on first
 * use (borrowed). When the daemon cannot be reached every call returns the
 * same TPG_EUNAVAIL error naming the endpoint tried, so each Docker check
 * reports an `error`, not a failure.
 */
int tpg_run_docker(tpg_run *run, tpg_docker **out, tpg_err *err);
/* The builder asked for on the command line (--builder): "auto",
 * "buildkit" or "classic"; NULL when not given. Borrowed. */
const char *tpg_run_builder(tpg_run *run);

#endif

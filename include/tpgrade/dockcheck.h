/*
 * dockcheck.h - what the live Docker check kinds (build, run, service,
 * image, container: grader/kind_*.c) share: the connection and how its
 * failures become results, names and labels of the objects a run creates,
 * the sandbox options of a container, the conditions on a process
 * (exit-code, stdout, stderr, output), JSON rendering for text
 * conditions, and a small HTTP client for service checks.
 *
 * Status rules (docs/docker-checks.md): what the student controls (a build
 * that fails, a container that exits non-zero or never exits, an image
 * that is missing) is `failed`; what the environment does (daemon
 * unreachable, a daemon error we cannot blame on the student, Ctrl-C) is
 * `error`.
 */
#ifndef TPGRADE_DOCKCHECK_H
#define TPGRADE_DOCKCHECK_H

#include <stdbool.h>
#include <jansson.h>

#include "tpgrade/check.h"
#include "tpgrade/docker.h"
#include "tpgrade/pred.h"

#define TPG_DC_LABEL_CHECK "tpgrade.check"
/* Kept of each output stream of a container or exec: the tail. */
#define TPG_DC_OUTPUT_DEFAULT (1u << 20)

/* ---- The daemon ------------------------------------------------------- */

/* The run's client; on failure `res` becomes an error naming the endpoint
 * and NULL is returned. */
tpg_docker *tpg_dc_docker(tpg_run *run, tpg_result *res);
/*
 * Sets `res` from a Docker call that failed with `rc`: interrupted (Ctrl-C)
 * and every daemon or transport problem are errors. `what` (may be NULL)
 * says what was being done ("starting the container").
 */
void tpg_dc_result_error(tpg_result *res, int rc, const tpg_err *err, const char *what);

/* Expands a template of the check (tpg_run_expand) into *out (malloc'ed).
 * A found value another check did not set makes `res` skipped, any other
 * problem an error; then -1 is returned and *out is NULL. */
int tpg_dc_expand(tpg_run *run, const tpg_tmpl *t, char **out, tpg_result *res);
/*
 * Sets `res` after creating (`creating`) or starting a container of
 * `image` failed with `rc`: a missing image or a command that cannot
 * start ("exec: not found", an OCI runtime error) is the student's
 * (failed, returns 0); the rest is the environment's (error, returns -1).
 */
int tpg_dc_start_failed(tpg_result *res, int rc, const tpg_err *err, const char *image,
                        bool creating);

/* A name for an object of this run and check: "tpgrade-<run id>-<check
 * id>[-suffix]", valid as a container name and an image repository
 * (lowercase, separators never doubled). malloc'ed. */
char *tpg_dc_name(tpg_run *run, const tpg_check *check, const char *suffix);
/* Appends the labels every object of the run carries: "tpgrade.run=<run
 * id>" (what the cleanup looks for) and "tpgrade.check=<check id>". */
void tpg_dc_labels(tpg_run *run, const tpg_check *check, tpg_strv *out);
/* min(the check's deadline, now + within_ms); within_ms <= 0: the check's. */
long long tpg_dc_deadline(tpg_run *run, long long within_ms);
/* "12.3 s" / "850 ms" for messages. */
const char *tpg_dc_secs(long long ms, char *buf, size_t n);

/* ---- Container options (run and service) ------------------------------- */

enum { TPG_DC_NET_UNSET = -1, TPG_DC_NET_NONE = 0, TPG_DC_NET_BRIDGE = 1 };

typedef struct tpg_dc_sandbox {
	tpg_strv args;          /* CMD override */
	bool args_set;
	tpg_strv entrypoint;    /* empty and set: the image's entrypoint dropped */
	bool entrypoint_set;
	tpg_strv env;           /* "K=V" */
	char *user;
	char *workdir;
	bool tty;
	int network;            /* TPG_DC_NET_* */
	long long memory;       /* bytes; 0: 256 MiB */
	long long pids;         /* 0: 256 */
	double cpus;            /* 0: 1 */
	tpg_strv cap_add;
	long long output_limit; /* bytes kept per stream; 0: default */
} tpg_dc_sandbox;

/* Reads args, entrypoint, env, user, workdir, tty, network, memory, pids,
 * cpus, cap-add, output-limit from f. 0, or -1 after reporting. */
int tpg_dc_sandbox_parse(tpg_fields *f, tpg_dc_sandbox *out);
/* Fills the container spec's fields from sb (pointers borrowed from sb);
 * `network_default` applies when sb says nothing. */
void tpg_dc_sandbox_apply(const tpg_dc_sandbox *sb, int network_default,
                          tpg_docker_container_spec *spec);
void tpg_dc_sandbox_free(tpg_dc_sandbox *sb);

/* ---- What a process did, and conditions on it ----------------------------- */

typedef struct tpg_dc_proc {
	const char *what;     /* "the container", "the command": for messages */
	int exit_code;
	bool exited;          /* exit_code is meaningful */
	bool oom_killed;
	tpg_buf out, err, all;   /* capped tails; `all` interleaved in order */
} tpg_dc_proc;

/* Handed to tpg_pred_parse as ctx: records whether `exit-code` appears. */
typedef struct tpg_dc_proc_ctx {
	bool saw_exit_code;
} tpg_dc_proc_ctx;

/* Leaves: exit-code (N or a list), stdout, stderr, output (text
 * matchers); one item may combine several, all must hold. */
extern const tpg_pred_ops tpg_dc_proc_ops;

void tpg_dc_proc_init(tpg_dc_proc *p, const char *what, size_t limit);
void tpg_dc_proc_free(tpg_dc_proc *p);
/* A tpg_demux_cb feeding p (ctx is the tpg_dc_proc). */
void tpg_dc_proc_feed(void *ctx, int stream, const char *data, size_t len);
/*
 * Grades p: `expect` (may be NULL) must hold and, unless `ctx` saw an
 * exit-code condition, the exit code must be 0. 1 / 0 / <0 as
 * tpg_pred_eval; `why` explains.
 */
int tpg_dc_proc_grade(const tpg_pred *expect, const tpg_dc_proc_ctx *ctx, tpg_dc_proc *p,
                      const char *lang, tpg_buf *why);
/* Appends "exit code N" (and "killed: out of memory") to `why`. */
void tpg_dc_proc_status(const tpg_dc_proc *p, tpg_buf *why);

/* ---- Rendering for text conditions --------------------------------------- */

/* Compact JSON of j ("" for NULL or null); malloc'ed. UTF-8 kept. */
char *tpg_dc_json(const json_t *j);
/* The keys of an object (with "=value" for string values when `values`),
 * or the string items of an array, one a line, sorted; malloc'ed. */
char *tpg_dc_lines(const json_t *j, bool values);

/* A range of integers: `N`, `[N, M]` as a list of allowed values, or
 * {min, max}. */
typedef struct tpg_dc_range {
	long long min, max;     /* max < 0: none */
	long long *values;      /* a list: one of these */
	size_t nvalues;
} tpg_dc_range;
int tpg_dc_range_parse(tpg_fields *f, const tpg_yaml_node *n, const char *key, long long lo,
                       long long hi, tpg_dc_range *r);
bool tpg_dc_range_holds(const tpg_dc_range *r, long long v);
/* "0", "one of 200, 204", "between 2 and 5", "at most 5"; into buf. */
void tpg_dc_range_describe(const tpg_dc_range *r, tpg_buf *out);
void tpg_dc_range_free(tpg_dc_range *r);

/* ---- HTTP (service checks) ------------------------------------------------- */

#define TPG_DC_HTTP_BODY_MAX (64u << 10)

/*
 * One request to `url` (http:// only; no proxy, no redirects followed),
 * giving up at `deadline` or on interrupt. *status gets the HTTP status,
 * `body` (capped by the caller) what came of the body, at most 1 MiB read.
 * Errors: TPG_EUNAVAIL (cannot connect: refused, unreachable),
 * TPG_ETIMEOUT, TPG_ECANCELED, TPG_EIO (the connection broke), with a
 * message naming the URL.
 */
int tpg_dc_http(const char *method, const char *url, long long deadline, long *status,
                tpg_buf *body, tpg_err *err);

#endif

/*
 * cli.h - the command line, one file per concern (as curl's tool_*.c):
 * cli_grade.c (grade, check), cli_spec.c (validate, list),
 * cli_dockerfile.c (dump-dockerfile), cli_cleanup.c, cli_class.c
 * (class, merge), cli_output.c (writing reports). Private to the CLI.
 *
 * Commands return the process exit code; none of them calls exit().
 */
#ifndef TPGRADE_CLI_H
#define TPGRADE_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "tpgrade/buf.h"
#include "tpgrade/report.h"

/* Exit codes (docs/tpgrade.1). */
enum {
	TPG_EXIT_PASSED = 0,
	TPG_EXIT_FAILED = 1,
	TPG_EXIT_USAGE = 2,    /* usage or spec error: nothing graded */
	TPG_EXIT_ENV = 3,      /* the environment failed; the report is still written */
	TPG_EXIT_INTERRUPTED = 130
};

int tpg_cli_grade(int argc, char **argv, const char *argv0);
int tpg_cli_check(int argc, char **argv, const char *argv0);
int tpg_cli_validate(int argc, char **argv, const char *argv0);
int tpg_cli_list(int argc, char **argv, const char *argv0);
int tpg_cli_dump_dockerfile(int argc, char **argv, const char *argv0);
int tpg_cli_cleanup(int argc, char **argv, const char *argv0);
int tpg_cli_class(int argc, char **argv, const char *argv0);
int tpg_cli_merge(int argc, char **argv, const char *argv0);

/* "fr" or "en" when LC_ALL (else LANG) names one of them, else NULL: then
 * the spec's language applies. */
const char *tpg_cli_lang_from_env(void);

/* Splits "a,b,,c" into v (trimmed, empty parts dropped). */
void tpg_cli_split_list(tpg_strv *v, const char *arg);

/* How the terminal report looks, from flags, NO_COLOR and the TTY. */
typedef struct tpg_cli_look {
	int color;      /* -1 auto, 0 never, 1 always */
	bool quiet;
	bool verbose;
} tpg_cli_look;
void tpg_cli_term_opts(const tpg_cli_look *look, FILE *out, bool student, tpg_term_opts *opts);

/* The machine-readable outputs asked for on the command line. */
typedef struct tpg_cli_outputs {
	const char *junit;
	const char *json;
	const char *gradescope;
} tpg_cli_outputs;
/* True when one of them goes to stdout ("-"). */
bool tpg_cli_outputs_use_stdout(const tpg_cli_outputs *o);
/* Writes each requested file atomically; on failure prints why on stderr
 * and returns TPG_EXIT_ENV, else 0. */
int tpg_cli_write_outputs(const tpg_cli_outputs *o, const tpg_report *report);

#endif

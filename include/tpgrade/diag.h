/*
 * diag.h - spec diagnostics: every problem found while loading a spec, with
 * file:line:column and the key path, so an instructor sees all of them at
 * once ("checks/tp2bis.yaml:40:17: suites[1].checks[2].points: must be zero
 * or more, got -1").
 */
#ifndef TPGRADE_DIAG_H
#define TPGRADE_DIAG_H

#include <stdbool.h>
#include <stdio.h>

typedef struct tpg_diag {
	char *file;     /* spec path as given */
	int line, col;  /* 1-based; 0 when unknown */
	char *path;     /* key path ("suites[0].checks[3].points"), may be "" */
	char *msg;
	size_t seq;     /* order of addition (tpg_diags_sort keeps it for ties) */
} tpg_diag;

typedef struct tpg_diags {
	tpg_diag *items;
	size_t len, cap;
} tpg_diags;

#define TPG_DIAGS_INIT {0}

void tpg_diags_add(tpg_diags *d, const char *file, int line, int col,
                   const char *path, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* One line per diagnostic: "file:line:col: error: path: msg". */
void tpg_diags_print(const tpg_diags *d, FILE *out);
/* Sorts by file, line, column (ties keep their order), so output follows the file. */
void tpg_diags_sort(tpg_diags *d);
void tpg_diags_free(tpg_diags *d);

#endif

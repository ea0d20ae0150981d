/* kindtest.h - helpers for check-kind unit tests: a repository in a temp
 * folder, a spec from a string, one engine run. Linked into every unit test
 * program (symbols prefixed tpgt_kind_). */
#ifndef TPGT_KINDTEST_H
#define TPGT_KINDTEST_H

#include "tpgrade/report.h"

/* A new empty folder (malloc'ed path), removed by tpgt_kind_rmrf. */
char *tpgt_kind_tmpdir(void);
void tpgt_kind_rmrf(const char *dir);
/* Writes `content` to dir/rel, creating folders. */
void tpgt_kind_write(const char *dir, const char *rel, const char *content);
/* Loads the suite `checks_yaml` (the list under checks:) and grades dir.
 * Returns the report (NULL if the spec did not load: diagnostics printed). */
tpg_report *tpgt_kind_grade(const char *checks_yaml, const char *dir);
/* Status of a check in a report, and its message. */
const char *tpgt_kind_status(const tpg_report *r, const char *id);
const char *tpgt_kind_message(const tpg_report *r, const char *id);
/* Number of spec diagnostics for checks_yaml (0 when it loads), and whether
 * one of them holds `needle`. */
int tpgt_kind_spec_errors(const char *checks_yaml, const char *needle, bool *found);

#endif

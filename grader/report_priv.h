/*
 * report_priv.h - helpers shared by the report writers (grader/report*.c
 * only; not a public interface).
 */
#ifndef TPGRADE_REPORT_PRIV_H
#define TPGRADE_REPORT_PRIV_H

#include "tpgrade/report.h"

/*
 * The report seen as groups of checks for the writers: one per declared
 * suite (ranges clamped to the checks), then one per suite_id of the checks
 * no suite covers. id/title are borrowed from the report; id is never NULL.
 */
typedef struct tpg_rgroup {
	const char *id;
	const char *title;     /* may be NULL */
	size_t *idx;           /* indices into report->checks (owned) */
	size_t n;
} tpg_rgroup;

tpg_rgroup *tpg_report_groups(const tpg_report *report, size_t *ngroups);
void tpg_report_groups_free(tpg_rgroup *groups, size_t ngroups);
void tpg_report_sum_idx(const tpg_report *report, const size_t *idx, size_t n,
                        tpg_report_sums *out);

/* v if finite, else 0. */
double tpg_report_finite(double v);
/* "2", "1.5", "0.25": at most two decimals, no trailing zeros. */
void tpg_report_fmt_num(double v, char *buf, size_t n);
/* "20/28" or "20/28 (+1 bonus)": the regular points, then the bonus
 * earned (the report's score is their sum). */
void tpg_report_fmt_score(double score, double max, double bonus, char *buf, size_t n);
/* "2026-12-03T16:41:56Z"; "" when epoch <= 0 or out of range. */
void tpg_report_fmt_time(double epoch, char *buf, size_t n);
/* Parses what fmt_time writes (fractional seconds and offsets accepted). */
int tpg_report_parse_time(const char *s, double *epoch);
/* Bytes of the check's output (0 when none). */
size_t tpg_report_output_len(const tpg_report_check *check);
/* Whether labels should be French. */
bool tpg_report_is_fr(const tpg_report *report);
/* Returns 0, or TPG_EIO if `out` saw a write error (after flushing). */
int tpg_report_check_stream(FILE *out, const char *what, tpg_err *err);

/* For the JSON writers (JSON report, Gradescope). */
/* s[0..len) as a JSON string, valid UTF-8, clipped to max bytes
 * (tpg_sanitize_clip); JSON null when s is NULL. */
json_t *tpg_report_jstr(const char *s, size_t len, size_t max);
/* An integer when v is one, else a real; JSON null when v is not finite. */
json_t *tpg_report_jnum(double v);
/* Writes doc (consumed) indented, then a newline; `what` names the file in
 * the message of a write error ("JSON report"). */
int tpg_report_dump_json(json_t *doc, FILE *out, const char *what, tpg_err *err);

#endif

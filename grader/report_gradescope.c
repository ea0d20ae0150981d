/*
 * report_gradescope.c - Gradescope's results.json (docs/reports.md).
 *
 * Gradescope only knows "passed" and "failed": skipped checks and
 * environment errors are "failed" with the reason at the top of their
 * output. Bonus checks have max_score 0 and score = their points, which
 * Gradescope shows as extra credit; the top-level "score" is authoritative
 * anyway. Deselected checks (counted = false) are left out.
 */
#include "tpgrade/report.h"
#include "tpgrade/sanitize.h"
#include "report_priv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX (16 * 1024)

/* Gradescope wants "" and 0, never null. */
static json_t *jtext(const char *s, size_t max)
{
	return s ? tpg_report_jstr(s, strlen(s), max) : json_string("");
}

static json_t *jnum(double v)
{
	return tpg_report_jnum(tpg_report_finite(v));
}

static void test_output(tpg_buf *b, const tpg_report_check *c, bool fr)
{
	switch (c->status) {
	case TPG_STATUS_SKIPPED:
		tpg_buf_puts(b, fr ? "Non vérifié : " : "Skipped: ");
		break;
	case TPG_STATUS_ERROR:
		tpg_buf_puts(b, fr ? "Erreur de l'environnement de correction (pas de ta faute, "
		                     "préviens l'enseignant) : "
		                   : "Grading environment error (not your fault, tell your "
		                     "teacher): ");
		break;
	default:
		break;
	}
	if (c->message)
		tpg_buf_puts(b, c->message);
	if (c->hint && *c->hint && c->status != TPG_STATUS_PASSED) {
		tpg_buf_puts(b, fr ? "\n\nIndice : " : "\n\nHint: ");
		tpg_buf_puts(b, c->hint);
	}
	if (c->file && *c->file) {
		tpg_buf_puts(b, fr ? "\nFichier : " : "\nFile: ");
		tpg_buf_puts(b, c->file);
		if (c->line > 0)
			tpg_buf_printf(b, ":%d", c->line);
	}
}

static json_t *test_to_json(const tpg_report *r, size_t ci, const char *number, bool fr)
{
	const tpg_report_check *c = &r->checks[ci];
	json_t *t = json_object(), *tags = json_array();
	tpg_buf text = TPG_BUF_INIT;
	char *name;

	json_object_set_new(t, "score", jnum(c->points));
	json_object_set_new(t, "max_score", jnum(c->bonus ? 0 : c->max_points));
	json_object_set_new(t, "status",
	                    json_string(c->status == TPG_STATUS_PASSED ? "passed" : "failed"));
	name = tpg_xasprintf("%s%s%s%s", c->id ? c->id : "?",
	                     c->title ? " \xE2\x80\x94 " : "", c->title ? c->title : "",
	                     c->bonus ? " (bonus)" : "");
	json_object_set_new(t, "name", jtext(name, 1024));
	free(name);
	json_object_set_new(t, "number", json_string(number));

	test_output(&text, c, fr);
	size_t outlen = tpg_report_output_len(c);
	if (outlen && c->status != TPG_STATUS_PASSED) {
		char *clip = tpg_sanitize_clip(c->output, outlen, TPG_REPORT_OUTPUT_MAX);
		tpg_buf_puts(&text, fr ? "\n\nSortie :\n" : "\n\nOutput:\n");
		tpg_buf_puts(&text, clip);
		free(clip);
	}
	json_object_set_new(t, "output", jtext(tpg_buf_cstr(&text), TEXT_MAX + TPG_REPORT_OUTPUT_MAX));
	tpg_buf_free(&text);
	for (size_t i = 0; i < c->tags.len; i++)
		json_array_append_new(tags, jtext(c->tags.items[i], 256));
	json_object_set_new(t, "tags", tags);
	json_object_set_new(t, "visibility", json_string("visible"));
	return t;
}

json_t *tpg_report_to_gradescope(const tpg_report *r)
{
	json_t *doc = json_object(), *tests = json_array(), *extra = json_object();
	bool fr = tpg_report_is_fr(r);
	tpg_buf summary = TPG_BUF_INIT;
	tpg_report_sums all;
	size_t ng;
	tpg_rgroup *g = tpg_report_groups(r, &ng);
	char score[96];
	double secs = tpg_report_finite(r->seconds);

	tpg_report_sum(r, 0, r->nchecks, &all);
	tpg_report_fmt_score(r->score, r->max_score, all.bonus, score, sizeof(score));
	tpg_buf_printf(&summary, "%s\n", r->title ? r->title : (r->tp ? r->tp : "tpgrade"));
	if (r->commit)
		tpg_buf_printf(&summary, "Commit: %s\n", r->commit);
	tpg_buf_printf(&summary, "Score: %s\n", score);
	if (fr)
		tpg_buf_printf(&summary, "%zu réussie%s, %zu à corriger, %zu erreur%s, "
		               "%zu non vérifiée%s\n", all.passed, all.passed > 1 ? "s" : "",
		               all.failed, all.errors, all.errors > 1 ? "s" : "", all.skipped,
		               all.skipped > 1 ? "s" : "");
	else
		tpg_buf_printf(&summary, "%zu passed, %zu failed, %zu error%s, %zu skipped\n",
		               all.passed, all.failed, all.errors, all.errors > 1 ? "s" : "",
		               all.skipped);
	if (all.errors)
		tpg_buf_puts(&summary, fr ? "Des vérifications n'ont pas pu être faites à cause "
		                            "de l'environnement de correction : ce n'est pas "
		                            "de ta faute.\n"
		                          : "Some checks could not run because of the grading "
		                            "environment: not your fault.\n");
	for (size_t i = 0; i < r->notes.len; i++)
		tpg_buf_printf(&summary, "%s%s\n", fr ? "Note : " : "Note: ", r->notes.items[i]);

	json_object_set_new(doc, "score", jnum(r->score));
	json_object_set_new(doc, "execution_time",
	                    json_integer(secs > 0 && secs < 1e9 ? (json_int_t)ceil(secs) : 0));
	json_object_set_new(doc, "output", jtext(tpg_buf_cstr(&summary), TEXT_MAX));
	/* Plain text: Gradescope must not interpret a student's output as
	 * HTML or Markdown. */
	json_object_set_new(doc, "output_format", json_string("text"));
	json_object_set_new(doc, "test_output_format", json_string("text"));
	json_object_set_new(doc, "visibility", json_string("visible"));
	json_object_set_new(doc, "stdout_visibility", json_string("hidden"));
	tpg_buf_free(&summary);

	for (size_t i = 0; i < ng; i++) {
		size_t k = 0;
		for (size_t j = 0; j < g[i].n; j++) {
			char number[48];
			if (!r->checks[g[i].idx[j]].counted)
				continue;
			snprintf(number, sizeof(number), "%zu.%zu", i + 1, ++k);
			json_array_append_new(tests, test_to_json(r, g[i].idx[j], number, fr));
		}
	}
	json_object_set_new(doc, "tests", tests);
	json_object_set_new(extra, "tpgrade", json_string(TPGRADE_VERSION));
	json_object_set_new(extra, "tp", jtext(r->tp, 256));
	json_object_set_new(extra, "commit", jtext(r->commit, 256));
	json_object_set_new(extra, "spec_digest", jtext(r->spec_digest, 256));
	json_object_set_new(extra, "exit_code", json_integer(r->exit_code));
	json_object_set_new(doc, "extra_data", extra);
	tpg_report_groups_free(g, ng);
	return doc;
}

int tpg_report_write_gradescope(const tpg_report *r, FILE *out, tpg_err *err)
{
	return tpg_report_dump_json(tpg_report_to_gradescope(r), out, "Gradescope results", err);
}

int tpg_report_gradescope_fn(FILE *out, void *ctx, tpg_err *err)
{
	return tpg_report_write_gradescope(ctx, out, err);
}

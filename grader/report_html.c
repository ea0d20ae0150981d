/*
 * report_html.c - report.html: one self-contained page for the instructor
 * (inline CSS, JS and SVG; a Content-Security-Policy that forbids loading
 * anything, so it works offline and a hostile string cannot fetch).
 * Every string from a roster or a report is HTML-escaped. Labels are in
 * the grade book's language (French or English, docs/class.md).
 */
#include "tpgrade/gradebook.h"
#include "tpgrade/sanitize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Escaped text: valid UTF-8, no controls, & < > " ' as entities. */
static void esc(FILE *out, const char *s)
{
	if (!s)
		return;
	char *clean = tpg_sanitize_utf8(s, strlen(s));
	for (const char *p = clean; *p; p++) {
		unsigned char c = (unsigned char)*p;
		switch (c) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fputc(' ', out);
			else
				fputc((char)c, out);
		}
	}
	free(clean);
}

/* Every word of the page, in the grade book's language (gb->lang). */
typedef struct labels {
	const char *lang, *class_report, *spec, *generated, *shard, *interrupted;
	const char *students, *graded, *errors, *pending, *stat[4];
	const char *h_scores, *h_checks, *h_suites, *h_students;
	const char *none_graded, *histogram, *colon, *student, *score_out_of;
	const char *check, *suite, *pass_rate, *passed, *mean_points, *bonus, *mean, *out_of;
	const char *filter, *id, *name, *group, *score, *max, *commit, *commit_date, *late;
	const char *status, *message;
	const char *row_status[3];      /* tpg_gb_status */
	const char *check_status[5];    /* tpg_status, then "not graded" */
} labels;

static const labels english = {
	"en", "class report", "Spec", "generated %s by tpgrade %s", "shard %d of %d",
	"interrupted: some students are not graded yet",
	"Students", "Graded", "Errors", "Pending", { "Mean", "Median", "Min", "Max" },
	"Scores", "Pass rate per check", "Suites", "Students",
	"No student graded yet.", "Histogram of scores", ": ", "student", "score (out of ",
	"Check", "Suite", "Pass rate", "Passed", "Mean points", "bonus", "Mean", "Out of",
	"Filter students", "Id", "Name", "Group", "Score", "Max", "Commit", "Commit date",
	"Late commits", "Status", "Message",
	{ "pending", "graded", "error" },
	{ "passed", "failed", "error", "skipped", "not graded" },
};

static const labels french = {
	"fr", "rapport de la classe", "Spécification", "généré le %s par tpgrade %s",
	"partie %d sur %d", "interrompu : des étudiants ne sont pas encore notés",
	"Étudiants", "Notés", "Erreurs", "En attente",
	{ "Moyenne", "Médiane", "Min", "Max" },
	"Notes", "Taux de réussite par vérification", "Suites", "Étudiants",
	"Aucun étudiant noté pour l'instant.", "Histogramme des notes", " : ", "étudiant",
	"note (sur ",
	"Vérification", "Suite", "Taux de réussite", "Réussies", "Points moyens", "bonus",
	"Moyenne", "Sur",
	"Filtrer les étudiants", "Identifiant", "Nom", "Groupe", "Note", "Max", "Commit",
	"Date du commit", "Commits en retard", "Statut", "Message",
	{ "en attente", "noté", "erreur" },
	{ "réussie", "échouée", "erreur", "ignorée", "non notée" },
};

static const labels *labels_for(const tpg_gradebook *gb)
{
	return gb->lang && strncmp(gb->lang, "fr", 2) == 0 ? &french : &english;
}

static void pts(FILE *out, double v)
{
	char b[64];
	tpg_gb_format_points(v, b, sizeof(b));
	fputs(b, out);
}

static void num2(FILE *out, double v)
{
	if (!isfinite(v))
		fputs("–", out);
	else
		pts(out, round(v * 100) / 100);
}

static const char css[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:1.5em;"
	"color:#222;background:#fff}\n"
	"h1{font-size:1.5em;margin:0 0 .2em}h1 small{color:#666;font-weight:normal}\n"
	"h2{font-size:1.15em;margin:1.6em 0 .5em;border-bottom:1px solid #ddd}\n"
	".meta{color:#666;margin:0 0 1em}\n"
	".cards{display:flex;flex-wrap:wrap;gap:.6em;margin:0;padding:0}\n"
	".cards div{border:1px solid #ddd;border-radius:6px;padding:.4em .9em;min-width:6em}\n"
	".cards dt{color:#666;font-size:.85em}.cards dd{margin:0;font-size:1.35em;font-weight:600}\n"
	"table{border-collapse:collapse;margin:.3em 0}\n"
	"th,td{border:1px solid #ddd;padding:.2em .45em;text-align:left;vertical-align:top}\n"
	"th{background:#f4f4f4;position:sticky;top:0}\n"
	"table.sortable th{cursor:pointer;user-select:none}\n"
	"table.sortable th[data-dir=asc]::after{content:' \\25B2'}\n"
	"table.sortable th[data-dir=desc]::after{content:' \\25BC'}\n"
	"td.num,td.score,td.max,td.pts,td.late{text-align:right;font-variant-numeric:tabular-nums}\n"
	"td.pts.passed{background:#e6f4ea}td.pts.failed{background:#fce8e6}\n"
	"td.pts.error{background:#fef7e0}td.pts.skipped{background:#f1f3f4;color:#777}\n"
	"tr.error td{background:#fff4f4}tr.pending td{color:#888}\n"
	"td.message{min-width:24em;max-width:40em;font-size:.88em;color:#444;"
	"overflow-wrap:anywhere}\n"
	"th,td.date,td.commit,td.id{white-space:nowrap}\n"
	"code{font-size:.92em}\n"
	".bar{display:inline-block;vertical-align:middle}\n"
	".low{fill:#d93025}.mid{fill:#f29900}.high{fill:#188038}\n"
	"#filter{margin:.3em 0;padding:.25em .4em;width:18em}\n"
	".wrap{overflow-x:auto}\n"
	"@media print{#filter{display:none}th{position:static}}\n";

static const char js[] =
	"(function(){\n"
	"function key(td,num){var v=td.getAttribute('data-v');if(v===null)v=td.textContent;\n"
	"  if(!num)return v.toLowerCase();var f=parseFloat(v);return isNaN(f)?-Infinity:f;}\n"
	"document.querySelectorAll('table.sortable').forEach(function(t){\n"
	"  t.querySelectorAll('thead th').forEach(function(th,i){\n"
	"    th.addEventListener('click',function(){\n"
	"      var num=th.getAttribute('data-type')==='num';\n"
	"      var dir=th.getAttribute('data-dir')==='asc'?-1:1;\n"
	"      t.querySelectorAll('thead th').forEach(function(h){h.removeAttribute('data-dir');});\n"
	"      th.setAttribute('data-dir',dir===1?'asc':'desc');\n"
	"      var tb=t.tBodies[0],rows=Array.prototype.slice.call(tb.rows);\n"
	"      rows.sort(function(a,b){var x=key(a.cells[i],num),y=key(b.cells[i],num);\n"
	"        return (x<y?-1:x>y?1:0)*dir;});\n"
	"      rows.forEach(function(r){tb.appendChild(r);});});});});\n"
	"var m=/^#sort=([^:]+)(:desc)?$/.exec(decodeURIComponent(location.hash));\n"
	"if(m)document.querySelectorAll('#grades thead th').forEach(function(th){\n"
	"  if(th.getAttribute('data-key')===m[1]){th.click();if(m[2])th.click();}});\n"
	"var f=document.getElementById('filter');\n"
	"if(f)f.addEventListener('input',function(){var q=f.value.toLowerCase();\n"
	"  document.querySelectorAll('#grades tbody tr').forEach(function(r){\n"
	"    r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});\n"
	"})();\n";

static const char *rate_class(double r)
{
	return !isfinite(r) || r < 0.5 ? "low" : r < 0.8 ? "mid" : "high";
}

static const char *status_name(int s)
{
	return s < 0 || s > TPG_STATUS_SKIPPED ? "none" : tpg_status_name((tpg_status)s);
}

static const char *status_label(const labels *l, int s)
{
	return l->check_status[s < 0 || s > TPG_STATUS_SKIPPED ? 4 : s];
}

static void histogram(FILE *out, const tpg_gradebook *gb, const tpg_gb_stats *st,
                      const labels *l)
{
	if (!st->graded || !isfinite(st->max_score) || st->max_score <= 0) {
		fprintf(out, "<p id=\"histogram-empty\">%s</p>\n", l->none_graded);
		return;
	}
	/* Bonus points can take a score over the maximum: the axis goes on. */
	double m = isfinite(st->max) && st->max > st->max_score ? st->max : st->max_score;
	bool whole = m <= 24 && fabs(m - round(m)) < 1e-9;
	for (size_t i = 0; i < gb->nrows && whole; i++)
		if (gb->rows[i].status == TPG_GB_GRADED &&
		    fabs(gb->rows[i].score - round(gb->rows[i].score)) > 1e-9)
			whole = false;
	size_t nb = whole ? (size_t)round(m) + 1 : 10;
	size_t *count = tpg_xcalloc(nb, sizeof(size_t));
	size_t top = 1;
	for (size_t i = 0; i < gb->nrows; i++) {
		const tpg_gb_row *r = &gb->rows[i];
		if (r->status != TPG_GB_GRADED)
			continue;
		double s = isfinite(r->score) ? r->score : 0;
		long b = whole ? lround(s) : (long)floor(s / m * 10);
		if (b < 0)
			b = 0;
		if ((size_t)b >= nb)
			b = (long)nb - 1;
		if (++count[b] > top)
			top = count[b];
	}
	const int W = 640, H = 220, L = 36, B = 40, T = 14;
	double bw = (double)(W - L - 10) / (double)nb;
	fprintf(out, "<svg id=\"histogram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"%s\">\n",
	        W, H, W, H, l->histogram);
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>\n", L,
	        H - B, W - 10, H - B);
	for (size_t b = 0; b < nb; b++) {
		double h = (double)(H - B - T) * (double)count[b] / (double)top;
		double x = L + bw * (double)b;
		char lo[64], hi[64];
		if (whole) {
			tpg_gb_format_points((double)b, lo, sizeof(lo));
			hi[0] = '\0';
		} else {
			tpg_gb_format_points(round(m * (double)b / 10 * 100) / 100, lo, sizeof(lo));
			tpg_gb_format_points(round(m * (double)(b + 1) / 10 * 100) / 100, hi, sizeof(hi));
		}
		fprintf(out, "<g class=\"bin\" data-bin=\"%zu\" data-count=\"%zu\">"
		        "<title>%s%s%s%s%zu %s%s</title>", b, count[b], lo, hi[0] ? "–" : "", hi,
		        l->colon, count[b], l->student,
		        count[b] > 1 || (count[b] == 0 && l == &english) ? "s" : "");
		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		        "fill=\"#4a78c2\"/>", x + 1, (double)(H - B) - h, bw - 2, h);
		if (count[b])
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">"
			        "%zu</text>", x + bw / 2, (double)(H - B) - h - 3, count[b]);
		fprintf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s"
		        "</text></g>\n", x + bw / 2, H - B + 14, lo);
	}
	fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s",
	        (W + L) / 2, H - 8, l->score_out_of);
	pts(out, st->max_score);
	fputs(")</text>\n</svg>\n", out);
	free(count);
}

static void rate_bar(FILE *out, double rate)
{
	double w = isfinite(rate) ? 160 * rate : 0;
	fprintf(out, "<svg class=\"bar\" width=\"162\" height=\"14\" xmlns=\"http://www.w3.org/2000/"
	        "svg\"><rect x=\"0\" y=\"0\" width=\"162\" height=\"14\" fill=\"#eee\"/>"
	        "<rect class=\"%s\" x=\"1\" y=\"1\" width=\"%.1f\" height=\"12\"/></svg>",
	        rate_class(rate), w);
}

static void checks_table(FILE *out, const tpg_gradebook *gb, const tpg_gb_stats *st,
                         const labels *l)
{
	fprintf(out, "<table id=\"checks\" class=\"sortable\"><thead><tr><th>%s</th><th>%s</th>"
	        "<th data-type=\"num\">%s</th><th data-type=\"num\">%s</th>"
	        "<th data-type=\"num\">%s</th></tr></thead><tbody>\n", l->check, l->suite,
	        l->pass_rate, l->passed, l->mean_points);
	for (size_t k = 0; k < gb->nchecks; k++) {
		const tpg_gb_check *c = &gb->checks[k];
		const tpg_gb_check_stats *cs = &st->checks[k];
		fputs("<tr data-check=\"", out);
		esc(out, c->id);
		fputs("\"><td><code>", out);
		esc(out, c->id);
		fputs("</code> ", out);
		esc(out, c->title);
		if (c->bonus)
			fprintf(out, " <em>(%s)</em>", l->bonus);
		fputs("</td><td>", out);
		esc(out, c->suite);
		fprintf(out, "</td><td class=\"rate\" data-v=\"%.4f\">", isfinite(cs->pass_rate)
		        ? cs->pass_rate : -1.0);
		rate_bar(out, cs->pass_rate);
		if (isfinite(cs->pass_rate))
			fprintf(out, " <span class=\"pct\">%.0f%%</span>", cs->pass_rate * 100);
		else
			fputs(" <span class=\"pct\">–</span>", out);
		fprintf(out, "</td><td class=\"num\" data-v=\"%zu\">%zu/%zu</td><td class=\"num\">",
		        cs->passed, cs->passed, cs->graded);
		num2(out, cs->mean_points);
		fputs(" / ", out);
		pts(out, c->max_points);
		fputs("</td></tr>\n", out);
	}
	fputs("</tbody></table>\n", out);
}

static void suites_table(FILE *out, const tpg_gradebook *gb, const tpg_gb_stats *st,
                         const labels *l)
{
	fprintf(out, "<table id=\"suites\"><thead><tr><th>%s</th><th>%s</th><th>%s</th>"
	        "</tr></thead><tbody>\n", l->suite, l->mean, l->out_of);
	for (size_t s = 0; s < gb->nsuites; s++) {
		fputs("<tr><td><code>", out);
		esc(out, gb->suites[s].id);
		fputs("</code> ", out);
		esc(out, gb->suites[s].title);
		fputs("</td><td class=\"num\">", out);
		num2(out, st->suite_mean[s]);
		fputs("</td><td class=\"num\">", out);
		pts(out, st->suite_max[s]);
		fputs("</td></tr>\n", out);
	}
	fputs("</tbody></table>\n", out);
}

static void students_table(FILE *out, const tpg_gradebook *gb, const labels *l)
{
	fprintf(out, "<input id=\"filter\" type=\"search\" placeholder=\"%s\">\n"
	        "<div class=\"wrap\"><table id=\"grades\" class=\"sortable\"><thead><tr>"
	        "<th data-key=\"id\">%s</th><th data-key=\"name\">%s</th>"
	        "<th data-key=\"group\">%s</th><th data-key=\"score\" data-type=\"num\">%s</th>"
	        "<th data-key=\"max\" data-type=\"num\">%s</th>", l->filter, l->id, l->name,
	        l->group, l->score, l->max);
	for (size_t k = 0; k < gb->nchecks; k++) {
		fputs("<th data-type=\"num\" data-key=\"", out);
		esc(out, gb->checks[k].id);
		fputs("\" title=\"", out);
		esc(out, gb->checks[k].title);
		fputs("\">", out);
		esc(out, gb->checks[k].id);
		fputs("</th>", out);
	}
	fprintf(out, "<th data-key=\"commit\">%s</th><th data-key=\"commit_date\">%s</th>"
	        "<th data-key=\"commits_after_deadline\" data-type=\"num\">%s</th>"
	        "<th data-key=\"status\">%s</th><th data-key=\"message\">%s</th></tr>"
	        "</thead><tbody>\n", l->commit, l->commit_date, l->late, l->status, l->message);
	for (size_t i = 0; i < gb->nrows; i++) {
		const tpg_gb_row *r = &gb->rows[i];
		bool graded = r->status == TPG_GB_GRADED;
		if (!r->in_shard)
			continue;
		const char *sw = tpg_gb_status_name(r->status);
		fprintf(out, "<tr class=\"%s\" data-index=\"%zu\"><td class=\"id\">", sw, r->index);
		if (r->status != TPG_GB_PENDING) {
			fputs("<a href=\"", out);
			esc(out, r->folder);
			fputs("/log.txt\">", out);
			esc(out, r->id);
			fputs("</a>", out);
		} else {
			esc(out, r->id);
		}
		fputs("</td><td class=\"name\">", out);
		esc(out, r->name);
		fputs("</td><td class=\"group\">", out);
		esc(out, r->group);
		fputs("</td><td class=\"score\">", out);
		pts(out, graded ? r->score : NAN);
		fputs("</td><td class=\"max\">", out);
		pts(out, graded ? r->max_score : NAN);
		fputs("</td>", out);
		for (size_t k = 0; k < gb->nchecks; k++) {
			int cs = graded ? r->check_status[k] : -1;
			fprintf(out, "<td class=\"pts %s\" title=\"%s\">", status_name(cs),
			        status_label(l, cs));
			pts(out, graded ? r->points[k] : NAN);
			fputs("</td>", out);
		}
		fputs("<td class=\"commit\"><code title=\"", out);
		esc(out, r->commit);
		fputs("\">", out);
		if (r->commit) {
			char shortc[13];
			snprintf(shortc, sizeof(shortc), "%s", r->commit);
			esc(out, shortc);
		}
		fputs("</code></td><td class=\"date\">", out);
		esc(out, r->commit_date);
		fputs("</td><td class=\"late\">", out);
		if (r->commits_after_deadline >= 0)
			fprintf(out, "%d", r->commits_after_deadline);
		fprintf(out, "</td><td class=\"status\" data-v=\"%s\">%s</td><td class=\"message\">",
		        sw, l->row_status[r->status]);
		esc(out, r->message);
		fputs("</td></tr>\n", out);
	}
	fputs("</tbody></table></div>\n", out);
}

int tpg_gradebook_write_html(const tpg_gradebook *gb, FILE *out, tpg_err *err)
{
	const labels *l = labels_for(gb);
	tpg_gb_stats st;
	tpg_gradebook_stats(gb, &st);

	fprintf(out, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">\n"
	        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
	        "<meta name=\"generator\" content=\"tpgrade " TPGRADE_VERSION "\">\n<title>",
	        l->lang);
	esc(out, gb->title);
	fprintf(out, " — %s</title>\n<style>\n", l->class_report);
	fputs(css, out);
	fputs("</style></head><body>\n<h1>", out);
	esc(out, gb->title);
	fputs(" <small>", out);
	esc(out, gb->tp);
	fprintf(out, "</small></h1>\n<p class=\"meta\">%s <code>", l->spec);
	esc(out, gb->spec);
	fputs("</code> (<code>", out);
	esc(out, gb->spec_digest);
	char when[40];
	time_t t = (time_t)gb->generated;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	fputs("</code>) · ", out);
	fprintf(out, l->generated, when, TPGRADE_VERSION);
	if (gb->shard_total > 0) {
		fputs(" · ", out);
		fprintf(out, l->shard, gb->shard_index, gb->shard_total);
	}
	if (gb->interrupted)
		fprintf(out, " · <strong>%s</strong>", l->interrupted);
	fputs("</p>\n<dl class=\"cards\" id=\"stats\">\n", out);
	fprintf(out, "<div><dt>%s</dt><dd id=\"stat-count\">%zu</dd></div>\n", l->students,
	        st.count);
	fprintf(out, "<div><dt>%s</dt><dd id=\"stat-graded\">%zu</dd></div>\n", l->graded,
	        st.graded);
	fprintf(out, "<div><dt>%s</dt><dd id=\"stat-errors\">%zu</dd></div>\n", l->errors,
	        st.errors);
	if (st.pending)
		fprintf(out, "<div><dt>%s</dt><dd id=\"stat-pending\">%zu</dd></div>\n", l->pending,
		        st.pending);
	static const char *const ids[] = { "mean", "median", "min", "max" };
	double vals[] = { st.mean, st.median, st.min, st.max };
	for (int i = 0; i < 4; i++) {
		fprintf(out, "<div><dt>%s</dt><dd id=\"stat-%s\">", l->stat[i], ids[i]);
		num2(out, vals[i]);
		if (isfinite(st.max_score)) {
			fputs(" <small>/ ", out);
			pts(out, st.max_score);
			fputs("</small>", out);
		}
		fputs("</dd></div>\n", out);
	}
	fprintf(out, "</dl>\n<h2>%s</h2>\n", l->h_scores);
	histogram(out, gb, &st, l);
	fprintf(out, "<h2>%s</h2>\n", l->h_checks);
	checks_table(out, gb, &st, l);
	fprintf(out, "<h2>%s</h2>\n", l->h_suites);
	suites_table(out, gb, &st, l);
	fprintf(out, "<h2>%s</h2>\n", l->h_students);
	students_table(out, gb, l);
	fputs("<script>\n", out);
	fputs(js, out);
	fputs("</script>\n</body></html>\n", out);
	tpg_gb_stats_clear(&st);
	if (fflush(out) == EOF || ferror(out))
		return tpg_err_set(err, TPG_EIO, "write error");
	return 0;
}

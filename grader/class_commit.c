/*
 * class_commit.c - what a class run writes as students finish: the staged
 * files of a child moved into DIR/<folder>, state.json (last), Gradescope's
 * results.json, the grade book every so often, and the progress shown.
 */
#include "class_int.h"
#include "tpgrade/sanitize.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

char *tpg_class_path(const char *dir, const char *folder, const char *name)
{
	return name ? tpg_xasprintf("%s/%s/%s", dir, folder, name)
	            : tpg_xasprintf("%s/%s", dir, folder);
}

/* Removes the regular files of a folder (ours: no subfolders expected). */
void tpg_class_empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

int tpg_class_ensure_dir(const char *path, tpg_err *err)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST) {
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		return tpg_err_set(err, TPG_EIO, "%s exists and is not a folder", path);
	}
	return tpg_err_errno(err, errno, "cannot create %s", path);
}

char *tpg_class_shown_id(const char *id)
{
	char *t = tpg_sanitize_term(id, strlen(id));
	for (char *p = t; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	if (strlen(t) > 60) {
		size_t n = tpg_sanitize_truncate(t, strlen(t), 57);
		strcpy(t + n, "...");
	}
	return t;
}

/* The last "tpgrade: ..." line of a child's log: why it stopped. */
char *tpg_class_last_error_line(const char *log)
{
	FILE *f = fopen(log, "rb");
	if (!f)
		return NULL;
	char line[1024];
	char *found = NULL;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "tpgrade: ", 9) == 0) {
			free(found);
			line[strcspn(line, "\r\n")] = '\0';
			found = tpg_xstrdup(line + 9);
		}
	}
	fclose(f);
	return found;
}

void tpg_class_write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return;
	size_t n = strlen(text);
	while (n) {
		ssize_t w = write(fd, text, n);
		if (w <= 0)
			break;
		text += w;
		n -= (size_t)w;
	}
	close(fd);
}

/* ------------------------------------------------------------- gradescope */

static int error_gradescope_fn(FILE *out, void *ctx, tpg_err *err)
{
	const tpg_class_state *st = ctx;
	json_t *d = json_object();
	char *msg = tpg_xasprintf("Your repository could not be graded: %s",
	                          st->message ? st->message : st->failure ? st->failure : "error");
	char *clean = tpg_sanitize_utf8(msg, strlen(msg));
	json_object_set_new(d, "score", json_integer(0));
	json_object_set_new(d, "output", json_string(clean));
	json_object_set_new(d, "output_format", json_string("text"));
	json_object_set_new(d, "visibility", json_string("visible"));
	json_object_set_new(d, "tests", json_array());
	free(clean);
	free(msg);
	int rc = json_dumpf(d, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(d);
	if (rc < 0 || fputc('\n', out) == EOF)
		return tpg_err_set(err, TPG_EIO, "write error");
	return 0;
}

int tpg_class_write_gradescope(const char *dir, const tpg_class_state *st, tpg_err *err)
{
	char *out = tpg_xasprintf("%s/results.json", dir);
	int rc;
	if (strcmp(st->status, "graded") == 0) {
		char *in = tpg_xasprintf("%s/result.json", dir);
		json_t *doc = json_load_file(in, 0, NULL);
		tpg_report *report = NULL;
		free(in);
		rc = doc ? tpg_report_from_json(doc, &report, err)
		         : tpg_err_set(err, TPG_ENOTFOUND, "%s/result.json is missing", dir);
		json_decref(doc);
		if (rc == 0)
			rc = tpg_write_atomic(out, tpg_report_gradescope_fn, report, err);
		tpg_report_free(report);
	} else {
		rc = tpg_write_atomic(out, error_gradescope_fn, (void *)st, err);
	}
	free(out);
	return rc;
}

int tpg_class_write_gradescope_from_state(const char *dir, tpg_err *err)
{
	char *sp = tpg_xasprintf("%s/state.json", dir);
	tpg_class_state st;
	int rc = tpg_class_state_read(sp, &st, err);
	free(sp);
	if (rc < 0)
		return rc;
	rc = tpg_class_write_gradescope(dir, &st, err);
	tpg_class_state_clear(&st);
	return rc;
}

/* --------------------------------------------------------------- progress */

static void fmt_duration(long long ms, char *buf, size_t n)
{
	long long s = ms / 1000;
	if (s >= 3600)
		snprintf(buf, n, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, n, "%lld:%02lld", s / 60, s % 60);
}

void tpg_class_progress(tpg_class_ctx *r, bool force)
{
	if (!r->o->tty)
		return;
	long long now = tpg_now_ms();
	if (!force && now - r->last_progress < 200)
		return;
	r->last_progress = now;
	char el[32], eta[48] = "";
	fmt_duration(now - r->t0, el, sizeof(el));
	if (r->done > 0 && r->done < r->total) {
		long long left = (now - r->t0) * (long long)(r->total - r->done) / (long long)r->done;
		char t[32];
		fmt_duration(left, t, sizeof(t));
		snprintf(eta, sizeof(eta), ", ETA %s", t);
	}
	int running = 0;
	for (int i = 0; i < r->njobs; i++)
		running += r->jobs[i].pid != 0;
	fprintf(stderr, "\r\033[K%zu/%zu done, %zu failed, %zu unchanged, %d running, %s elapsed%s%s",
	        r->done, r->total, r->failed, r->unchanged, running, el, eta,
	        r->stopping ? " (stopping)" : "");
	fflush(stderr);
	r->line_shown = true;
}

static void student_line(tpg_class_ctx *r, const tpg_gb_row *row, const char *what, double secs)
{
	if (r->o->quiet && row->status != TPG_GB_ERROR)
		return;
	if (r->o->tty) {
		if (row->status != TPG_GB_ERROR)
			return;   /* the progress line says enough; errors stay on screen */
		fputs("\r\033[K", stderr);
	}
	char *id = tpg_class_shown_id(row->id);
	char sc[32], mx[32];
	tpg_gb_format_points(row->score, sc, sizeof(sc));
	tpg_gb_format_points(row->max_score, mx, sizeof(mx));
	int w = 1;
	for (size_t t = r->total; t >= 10; t /= 10)
		w++;
	if (row->status == TPG_GB_GRADED)
		fprintf(stderr, "[%*zu/%zu] %s: %s/%s (%s, %.1f s)\n", w, r->done, r->total, id, sc, mx,
		        what, secs);
	else if (row->status == TPG_GB_ERROR) {
		char *msg = tpg_sanitize_term(row->message ? row->message : "", strlen(row->message ?
		                              row->message : ""));
		fprintf(stderr, "[%*zu/%zu] %s: error (%s): %s\n", w, r->done, r->total, id, what, msg);
		free(msg);
	} else
		fprintf(stderr, "[%*zu/%zu] %s: %s\n", w, r->done, r->total, id, what);
	free(id);
	fflush(stderr);
	if (r->o->tty)
		tpg_class_progress(r, true);
}

/* ------------------------------------------------------------- committing */

static const char *const staged_files[] = { "result.json", "junit.xml", "log.txt" };

void tpg_class_checkpoint(tpg_class_ctx *r)
{
	tpg_err err = {0};
	if (tpg_gradebook_write_all(r->gb, r->o->out_dir, &err) < 0)
		fprintf(stderr, "\ntpgrade: %s\n", err.msg);
	r->last_checkpoint = tpg_now_ms();
}

/* Moves the staged files in place and writes the state; fills the row. */
void tpg_class_commit(tpg_class_ctx *r, tpg_gb_row *row, tpg_class_state *st, const tpg_report *rep,
                           bool graded_files)
{
	const char *dir = r->o->out_dir;
	char *state = tpg_class_path(dir, row->folder, "state.json");
	unlink(state);
	for (size_t i = 0; i < TPG_ARRAY_LEN(staged_files); i++) {
		char *from = tpg_xasprintf("%s/%s/.staging/%s", dir, row->folder, staged_files[i]);
		char *to = tpg_class_path(dir, row->folder, staged_files[i]);
		bool is_log = strcmp(staged_files[i], "log.txt") == 0;
		/* A log written directly (no child ran) stays; stale reports go. */
		if (!(graded_files || is_log) || (rename(from, to) < 0 && !is_log))
			unlink(to);
		free(from);
		free(to);
	}
	char *gs = tpg_class_path(dir, row->folder, "results.json");
	unlink(gs);
	free(gs);
	char *stage = tpg_class_path(dir, row->folder, ".staging");
	tpg_class_empty_dir(stage);
	rmdir(stage);
	free(stage);

	tpg_err err = {0};
	if (tpg_class_state_write(state, st, &err) < 0)
		fprintf(stderr, "\ntpgrade: %s\n", err.msg);
	free(state);
	if (r->o->gradescope) {
		char *sd = tpg_class_path(dir, row->folder, NULL);
		if (tpg_class_write_gradescope(sd, st, &err) < 0)
			fprintf(stderr, "\ntpgrade: %s\n", err.msg);
		free(sd);
	}
	tpg_gradebook_fill_row(r->gb, row, st, rep);
}

void tpg_class_finish_row(tpg_class_ctx *r, tpg_gb_row *row, tpg_gb_action action, double secs,
                       const char *what)
{
	row->action = action;
	r->done++;
	if (row->status == TPG_GB_ERROR)
		r->failed++;
	if (action == TPG_GB_RUN_UNCHANGED)
		r->unchanged++;
	student_line(r, row, what, secs);
	if (tpg_now_ms() - r->last_checkpoint > TPG_CLASS_CHECKPOINT_MS)
		tpg_class_checkpoint(r);
}

void tpg_class_record_error(tpg_class_ctx *r, tpg_gb_row *row, const char *key, const char *failure,
                         const char *message, const char *tip, double secs, int exit_code,
                         bool log_from_stage)
{
	tpg_class_state st;
	memset(&st, 0, sizeof(st));
	st.status = tpg_xstrdup("error");
	st.failure = tpg_xstrdup(failure);
	st.transient = tpg_class_failure_is_transient(failure);
	st.message = tpg_xstrdup(message);
	st.key = tpg_xstrdup(key);
	st.spec_digest = tpg_xstrdup(r->gb->spec_digest);
	st.tip = tpg_xstrdup(tip);
	st.commits_after_deadline = -1;
	st.graded_at = tpg_wall_seconds();
	st.seconds = secs;
	st.exit_code = exit_code;
	char *sdir = tpg_class_path(r->o->out_dir, row->folder, NULL);
	tpg_class_ensure_dir(sdir, NULL);
	free(sdir);
	if (!log_from_stage) {
		char *log = tpg_class_path(r->o->out_dir, row->folder, "log.txt");
		char *text = tpg_xasprintf("tpgrade class: %s: %s\n", failure, message ? message : "");
		tpg_class_write_text(log, text);
		free(text);
		free(log);
	}
	tpg_class_commit(r, row, &st, NULL, false);
	tpg_class_state_clear(&st);
	tpg_class_finish_row(r, row, TPG_GB_RUN_ERROR, secs, failure);
}

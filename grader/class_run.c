/*
 * class_run.c - grading the students of a class with child processes.
 *
 * One loop waits (poll on a signalfd for SIGCHLD) for children to finish,
 * starts new ones while fewer than `jobs` run, kills those past their
 * deadline, and forwards an interruption as SIGTERM. Each child runs in
 * its own process group (a Ctrl-C on the terminal reaches only us: we stop
 * the children in order) with PR_SET_PDEATHSIG (they stop if we die).
 *
 * A student is either probed (forked worker, tpg_class_probe) or graded
 * (`tpgrade grade` exec'ed from self_exe, writing into DIR/<folder>/.staging).
 * A finished grading is committed: state.json removed, the staged files
 * renamed into DIR/<folder>, state.json written last. An interrupted one is
 * discarded, so the previous result stays and the next run resumes.
 */
#include "class_int.h"

#include <errno.h>
#include <git2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *tpg_class_student_key(const tpg_class_opts *o, const tpg_student *s)
{
	char *repo = tpg_url_redact(s->repo);
	char *text = tpg_xasprintf("%s\nrepo=%s\nref=%s\ndeadline=%s\n", o->key_base ? o->key_base : "",
	                           repo, s->ref ? s->ref : o->ref ? o->ref : "",
	                           s->deadline ? s->deadline : o->deadline ? o->deadline : "");
	git_oid oid;
	char hex[GIT_OID_HEXSZ + 1] = "";
	git_libgit2_init();
	if (git_odb_hash(&oid, text, strlen(text), GIT_OBJECT_BLOB) == 0)
		git_oid_tostr(hex, sizeof(hex), &oid);
	git_libgit2_shutdown();
	char *key = hex[0] ? tpg_xasprintf("sha1:%s", hex)
	                   : tpg_xasprintf("fnv:%016llx", tpg_roster_hash(text, strlen(text)));
	free(text);
	free(repo);
	return key;
}

/* --------------------------------------------------------------- deciding */

static bool prefix_of(const char *shorter, const char *full)
{
	size_t n = strlen(shorter);
	return full && strlen(full) >= n && strncasecmp(shorter, full, n) == 0;
}

/* A student with a state recorded under the same key (and not a transient
 * failure) is probed first; anyone else is graded. The key and the state
 * go with the job, so neither is computed nor read again when it ends. */
static void start_next(tpg_class_ctx *r, tpg_class_job *j)
{
	size_t rowi = r->queue[r->qpos++];
	tpg_gb_row *row = &r->gb->rows[rowi];
	const tpg_student *s = &r->roster->students[row->index];
	char *key = tpg_class_student_key(r->o, s);
	tpg_class_state prev;
	char *sp = tpg_class_path(r->o->out_dir, row->folder, "state.json");
	bool have = tpg_class_state_read(sp, &prev, NULL) == 0;
	free(sp);
	bool probe = have && !r->o->force && prev.key && strcmp(prev.key, key) == 0 &&
	             !prev.transient;
	if (probe)
		tpg_class_start_probe(r, j, rowi);
	else
		tpg_class_start_grade(r, j, rowi);
	if (j->pid < 0) {
		j->pid = 0;
		free(key);
		tpg_class_state_clear(&prev);
		tpg_class_record_error(r, row, "", "error", "cannot start a child process", NULL, 0, -1, false);
		return;
	}
	j->key = key;
	if (probe)
		j->prev = prev;
	else
		tpg_class_state_clear(&prev);
}

/* The job is over: what it owns goes. */
static void release(tpg_class_job *j)
{
	j->pid = 0;
	free(j->key);
	j->key = NULL;
	tpg_class_state_clear(&j->prev);
	if (j->probed)
		tpg_probe_clear(&j->probe);
	j->probed = false;
}

static void probe_done(tpg_class_ctx *r, tpg_class_job *j, int status)
{
	tpg_gb_row *row = &r->gb->rows[j->row];
	const tpg_student *s = &r->roster->students[row->index];
	const tpg_class_state *prev = &j->prev;
	double secs = (tpg_now_ms() - j->started) / 1000.0;
	char buf[8192];
	ssize_t n;
	while ((n = read(j->fd, buf, sizeof(buf))) > 0)
		tpg_buf_append(&j->out, buf, (size_t)n);
	close(j->fd);
	j->fd = -1;
	tpg_probe pr;
	bool ok = WIFEXITED(status) && tpg_probe_decode(j->out.data, j->out.len, &pr);
	tpg_buf_free(&j->out);
	if (r->stopping && !j->timed_out) {
		if (ok)
			tpg_probe_clear(&pr);
		release(j);
		row->action = TPG_GB_RUN_INTERRUPTED;
		return;
	}
	if (!ok) {
		memset(&pr, 0, sizeof(pr));
		pr.kind = TPG_PROBE_FAILED;
		pr.failure = tpg_xstrdup(j->timed_out ? "timeout" : "error");
		char *disp = tpg_url_redact(s->repo);
		pr.message = j->timed_out
			? tpg_xasprintf("timed out after %.1f s asking %s for its refs", secs, disp)
			: tpg_xasprintf("the probe of %s stopped without an answer", disp);
		free(disp);
	}
	const char *ref = s->ref ? s->ref : r->o->ref;
	bool graded = strcmp(prev->status, "graded") == 0;
	bool unchanged =
		(pr.kind == TPG_PROBE_TIP && prev->tip && strcmp(prev->tip, pr.tip) == 0) ||
		(pr.kind == TPG_PROBE_PINNED && graded && ref &&
		 prefix_of(ref, prev->tip ? prev->tip : prev->commit)) ||
		(pr.kind == TPG_PROBE_FAILED && !graded && prev->failure &&
		 strcmp(prev->failure, pr.failure) == 0);
	/* The server did not answer this time: the last grade stays, said. */
	bool unknown = graded && pr.kind == TPG_PROBE_FAILED &&
	               tpg_class_failure_is_transient(pr.failure);
	tpg_class_state_clear(&j->prev);
	if (unchanged) {
		release(j);
		tpg_gradebook_load_row(r->gb, row, r->o->out_dir);
		tpg_class_finish_row(r, row, TPG_GB_RUN_UNCHANGED, secs, "unchanged");
		tpg_probe_clear(&pr);
	} else if (unknown) {
		release(j);
		tpg_gradebook_load_row(r->gb, row, r->o->out_dir);
		char *msg = tpg_xasprintf("not checked for new commits this run (%s: %s)%s%s",
		                          pr.failure, pr.message ? pr.message : "",
		                          row->message && *row->message ? "; " : "",
		                          row->message ? row->message : "");
		free(row->message);
		row->message = msg;
		char *what = tpg_xasprintf("kept, not checked: %s", pr.failure);
		tpg_class_finish_row(r, row, TPG_GB_RUN_UNCHANGED, secs, what);
		free(what);
		tpg_probe_clear(&pr);
	} else if (pr.kind == TPG_PROBE_FAILED) {
		char *key = j->key;
		j->key = NULL;
		release(j);
		tpg_class_record_error(r, row, key, pr.failure, pr.message, NULL, secs, -1, false);
		free(key);
		tpg_probe_clear(&pr);
	} else {
		/* Changed: grade in this slot now, remembering the tip (and the key). */
		tpg_class_start_grade(r, j, j->row);
		j->probe = pr;
		j->probed = true;
		if (j->pid < 0) {
			char *key = j->key;
			j->key = NULL;
			release(j);
			tpg_class_record_error(r, row, key, "error", "cannot start a child process", NULL,
			                       0, -1, false);
			free(key);
		}
	}
}

static void grade_done(tpg_class_ctx *r, tpg_class_job *j, int status)
{
	tpg_gb_row *row = &r->gb->rows[j->row];
	const char *dir = r->o->out_dir;
	double secs = (tpg_now_ms() - j->started) / 1000.0;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	char *stage = tpg_class_path(dir, row->folder, ".staging");
	char *tip = j->probed && j->probe.kind == TPG_PROBE_TIP ? tpg_xstrdup(j->probe.tip) : NULL;
	char *key = j->key;
	j->key = NULL;
	release(j);

	char *rpath = tpg_xasprintf("%s/result.json", stage);
	json_t *doc = json_load_file(rpath, 0, NULL);
	free(rpath);
	tpg_report *rep = NULL;
	if (doc && tpg_report_from_json(doc, &rep, NULL) < 0)
		rep = NULL;
	json_decref(doc);
	if (r->stopping && !j->timed_out && !(rep && (code == 0 || code == 1))) {
		/* Interrupted: the previous result (if any) stays. */
		tpg_class_empty_dir(stage);
		rmdir(stage);
		free(stage);
		free(tip);
		free(key);
		tpg_report_free(rep);
		row->action = TPG_GB_RUN_INTERRUPTED;
		return;
	}
	char *ipath = tpg_xasprintf("%s/class-info.json", stage);
	tpg_class_info ci;
	bool have_ci = tpg_class_info_read(ipath, &ci, NULL) == 0;
	free(ipath);
	if (have_ci && ci.tip) {
		free(tip);
		tip = tpg_xstrdup(ci.tip);
	}

	if (j->timed_out) {
		char *msg = tpg_xasprintf("no result after %.0f s (the per-student time limit): "
		                          "stopped", secs);
		tpg_class_record_error(r, row, key, "timeout", msg, tip, secs, code, true);
		free(msg);
	} else if (rep && (code == 0 || code == 1 || code == 3) && rep->spec_digest &&
	           strcmp(rep->spec_digest, r->gb->spec_digest) != 0) {
		tpg_class_record_error(r, row, key, "spec changed", "the spec file changed during the run: "
		             "run again", tip, secs, code, true);
	} else if (rep && (code == 0 || code == 1 || code == 3)) {
		tpg_class_state st;
		memset(&st, 0, sizeof(st));
		st.status = tpg_xstrdup("graded");
		st.transient = code == 3;
		if (code == 3)
			st.message = tpg_xstrdup("some checks could not run (grading environment): "
			                         "graded again next run");
		st.key = tpg_xstrdup(key);
		st.spec_digest = tpg_xstrdup(r->gb->spec_digest);
		st.tip = tpg_xstrdup(tip);
		st.commit = tpg_xstrdup(have_ci && ci.commit ? ci.commit : rep->commit);
		st.commit_date = tpg_xstrdup(have_ci && ci.commit_date ? ci.commit_date
		                                                       : rep->commit_date);
		st.ref = tpg_xstrdup(have_ci && ci.ref ? ci.ref : rep->ref);
		st.commits_after_deadline = have_ci ? ci.commits_after_deadline : -1;
		st.graded_at = tpg_wall_seconds();
		st.seconds = secs;
		st.engine_seconds = rep->seconds;
		st.exit_code = code;
		tpg_class_commit(r, row, &st, rep, true);
		tpg_class_state_clear(&st);
		tpg_class_finish_row(r, row, TPG_GB_RUN_GRADED, secs, code == 3 ? "graded, environment errors"
		                                                      : "graded");
	} else if (have_ci && !ci.ok) {
		tpg_class_record_error(r, row, key, ci.failure ? ci.failure : "error",
		             ci.message, tip, secs, code, true);
	} else {
		char *log = tpg_xasprintf("%s/log.txt", stage);
		char *why = tpg_class_last_error_line(log);
		free(log);
		char *msg = WIFSIGNALED(status)
			? tpg_xasprintf("tpgrade grade died of signal %d%s%s", WTERMSIG(status),
			                why ? ": " : "", why ? why : "")
			: tpg_xasprintf("tpgrade grade exited with status %d%s%s", code,
			                why ? ": " : "", why ? why : "");
		tpg_class_record_error(r, row, key, WIFSIGNALED(status) ? "crash" : "no report", msg, tip, secs,
		             code, true);
		free(msg);
		free(why);
	}
	if (have_ci)
		tpg_class_info_clear(&ci);
	tpg_report_free(rep);
	free(key);
	free(tip);
	free(stage);
}

/* -------------------------------------------------------------------- loop */

static void signal_job(tpg_class_job *j, int sig)
{
	if (j->pid > 0)
		kill(-j->pid, sig);
}

static void reap(tpg_class_ctx *r)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < r->njobs; i++) {
			tpg_class_job *j = &r->jobs[i];
			if (j->pid != pid)
				continue;
			/* The group may still hold a grandchild: make sure it goes. */
			kill(-pid, SIGKILL);
			if (j->kind == TPG_CLASS_PROBE)
				probe_done(r, j, status);
			else
				grade_done(r, j, status);
			break;
		}
	}
}

static long long next_wakeup(tpg_class_ctx *r, long long now)
{
	long long wake = now + 1000;
	for (int i = 0; i < r->njobs; i++) {
		tpg_class_job *j = &r->jobs[i];
		if (j->pid <= 0)
			continue;
		long long t = j->term_sent ? j->kill_at : j->deadline;
		if (t < wake)
			wake = t;
	}
	if (r->o->tty && now + 250 < wake)
		wake = now + 250;
	return wake;
}

static void check_deadlines(tpg_class_ctx *r, long long now)
{
	for (int i = 0; i < r->njobs; i++) {
		tpg_class_job *j = &r->jobs[i];
		if (j->pid <= 0)
			continue;
		if (!j->term_sent && now >= j->deadline) {
			j->timed_out = true;
			j->term_sent = true;
			j->kill_at = now + (j->kind == TPG_CLASS_PROBE ? 0 : r->o->grace_ms);
			signal_job(j, j->kind == TPG_CLASS_PROBE ? SIGKILL : SIGTERM);
		} else if (j->term_sent && now >= j->kill_at) {
			signal_job(j, SIGKILL);
			j->kill_at = now + 1000;
		}
	}
}

static void stop_all(tpg_class_ctx *r, long long now)
{
	r->stopping = true;
	for (int i = 0; i < r->njobs; i++) {
		tpg_class_job *j = &r->jobs[i];
		if (j->pid <= 0 || j->term_sent)
			continue;
		j->term_sent = true;
		j->kill_at = now + (j->kind == TPG_CLASS_PROBE ? 0 : r->o->grace_ms);
		signal_job(j, j->kind == TPG_CLASS_PROBE ? SIGKILL : SIGTERM);
	}
	if (r->o->tty)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "tpgrade: interrupted: stopping the students being graded (their Docker "
	        "objects are removed); the next run resumes\n");
}

int tpg_class_run(const tpg_class_opts *o, const tpg_roster *roster, tpg_gradebook *gb,
                  tpg_err *err)
{
	tpg_class_ctx r;
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.roster = roster;
	r.gb = gb;
	r.njobs = o->jobs > 0 ? o->jobs : 1;
	r.jobs = tpg_xcalloc((size_t)r.njobs, sizeof(tpg_class_job));
	r.queue = tpg_xcalloc(gb->nrows ? gb->nrows : 1, sizeof(size_t));
	for (size_t i = 0; i < gb->nrows; i++) {
		gb->rows[i].action = TPG_GB_NOT_RUN;
		if (gb->rows[i].in_shard) {
			tpg_gradebook_load_row(gb, &gb->rows[i], o->out_dir);
			r.queue[r.qlen++] = i;
		}
	}
	r.total = r.qlen;
	r.t0 = tpg_now_ms();
	gb->has_run = true;
	tpg_class_checkpoint(&r);
	/* One libgit2 reference for the whole run: each first init loads the
	 * CA bundle (~10 ms), and keys and probes would pay it every time. */
	tpg_git_global_init(NULL);

	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	r.sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r.sfd < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		tpg_git_global_shutdown();
		free(r.jobs);
		free(r.queue);
		return tpg_err_errno(err, e, "cannot watch child processes (signalfd)");
	}

	for (;;) {
		long long now = tpg_now_ms();
		if (tpg_interrupted() && !r.stopping)
			stop_all(&r, now);
		for (int i = 0; i < r.njobs && !r.stopping; i++)
			if (r.jobs[i].pid == 0 && r.qpos < r.qlen)
				start_next(&r, &r.jobs[i]);
		int running = 0;
		for (int i = 0; i < r.njobs; i++)
			running += r.jobs[i].pid > 0;
		if (!running && (r.stopping || r.qpos >= r.qlen))
			break;
		tpg_class_progress(&r, false);
		long long wake = next_wakeup(&r, now);
		struct pollfd pfd = { .fd = r.sfd, .events = POLLIN };
		int ms = wake > now ? (int)(wake - now) : 0;
		poll(&pfd, 1, ms);
		struct signalfd_siginfo si;
		while (read(r.sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			;
		reap(&r);
		check_deadlines(&r, tpg_now_ms());
	}
	if (r.stopping) {
		gb->interrupted = true;
		for (size_t q = r.qpos; q < r.qlen; q++)
			gb->rows[r.queue[q]].action = TPG_GB_RUN_INTERRUPTED;
	}
	if (o->tty && r.line_shown) {
		tpg_class_progress(&r, true);
		fputc('\n', stderr);
	}
	/* Gradescope files of students left unchanged by a run without them. */
	for (size_t i = 0; i < gb->nrows && o->gradescope; i++) {
		tpg_gb_row *row = &gb->rows[i];
		if (!row->in_shard || row->status == TPG_GB_PENDING)
			continue;
		char *gs = tpg_class_path(o->out_dir, row->folder, "results.json");
		struct stat st;
		if (stat(gs, &st) < 0) {
			char *sd = tpg_class_path(o->out_dir, row->folder, NULL);
			tpg_class_write_gradescope_from_state(sd, NULL);
			free(sd);
		}
		free(gs);
	}
	close(r.sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	tpg_git_global_shutdown();
	free(r.jobs);
	free(r.queue);
	return 0;
}

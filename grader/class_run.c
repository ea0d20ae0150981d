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
#include "tpgrade/class.h"
#include "tpgrade/git_impl.h"
#include "tpgrade/sanitize.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PROBE_TIMEOUT_DEFAULT_MS (60LL * 1000)
#define CHECKPOINT_MS (30LL * 1000)

typedef enum { JOB_PROBE, JOB_GRADE } job_kind;

typedef struct job {
	pid_t pid;             /* 0: free */
	job_kind kind;
	size_t row;
	int fd;                /* probe: its pipe; else -1 */
	tpg_buf out;
	long long started, deadline, kill_at;
	bool term_sent, timed_out;
	tpg_probe probe;       /* the probe that led to this grading, if any */
	bool probed;
} job;

typedef struct run {
	const tpg_class_opts *o;
	const tpg_roster *roster;
	tpg_gradebook *gb;
	job *jobs;
	int njobs;
	size_t *queue, qlen, qpos;
	size_t total, done, failed, unchanged;
	long long t0, last_progress, last_checkpoint;
	bool stopping;
	int sfd;
	bool line_shown;
} run;

/* ---------------------------------------------------------------- helpers */

static char *path2(const char *dir, const char *folder, const char *name)
{
	return name ? tpg_xasprintf("%s/%s/%s", dir, folder, name)
	            : tpg_xasprintf("%s/%s", dir, folder);
}

/* Removes the regular files of a folder (ours: no subfolders expected). */
static void empty_dir(const char *dir)
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

static int ensure_dir(const char *path, tpg_err *err)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST) {
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		return tpg_err_set(err, TPG_EIO, "%s exists and is not a folder", path);
	}
	return tpg_err_errno(err, errno, "cannot create %s", path);
}

static char *shown_id(const char *id)
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
static char *last_error_line(const char *log)
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

static void write_text(const char *path, const char *text)
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

/* --------------------------------------------------------------- progress */

static void fmt_duration(long long ms, char *buf, size_t n)
{
	long long s = ms / 1000;
	if (s >= 3600)
		snprintf(buf, n, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, n, "%lld:%02lld", s / 60, s % 60);
}

static void progress_line(run *r, bool force)
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

static void student_line(run *r, const tpg_gb_row *row, const char *what, double secs)
{
	if (r->o->quiet && row->status != TPG_GB_ERROR)
		return;
	if (r->o->tty) {
		if (row->status != TPG_GB_ERROR)
			return;   /* the progress line says enough; errors stay on screen */
		fputs("\r\033[K", stderr);
	}
	char *id = shown_id(row->id);
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
		progress_line(r, true);
}

/* ------------------------------------------------------------- committing */

static const char *const staged_files[] = { "result.json", "junit.xml", "log.txt" };

static void checkpoint(run *r)
{
	tpg_err err = {0};
	if (tpg_gradebook_write_all(r->gb, r->o->out_dir, &err) < 0)
		fprintf(stderr, "\ntpgrade: %s\n", err.msg);
	r->last_checkpoint = tpg_now_ms();
}

/* Moves the staged files in place and writes the state; fills the row. */
static void commit_student(run *r, tpg_gb_row *row, tpg_class_state *st, const tpg_report *rep,
                           bool graded_files)
{
	const char *dir = r->o->out_dir;
	char *state = path2(dir, row->folder, "state.json");
	unlink(state);
	for (size_t i = 0; i < TPG_ARRAY_LEN(staged_files); i++) {
		char *from = tpg_xasprintf("%s/%s/.staging/%s", dir, row->folder, staged_files[i]);
		char *to = path2(dir, row->folder, staged_files[i]);
		bool is_log = strcmp(staged_files[i], "log.txt") == 0;
		/* A log written directly (no child ran) stays; stale reports go. */
		if (!(graded_files || is_log) || (rename(from, to) < 0 && !is_log))
			unlink(to);
		free(from);
		free(to);
	}
	char *gs = path2(dir, row->folder, "results.json");
	unlink(gs);
	free(gs);
	char *stage = path2(dir, row->folder, ".staging");
	empty_dir(stage);
	rmdir(stage);
	free(stage);

	tpg_err err = {0};
	if (tpg_class_state_write(state, st, &err) < 0)
		fprintf(stderr, "\ntpgrade: %s\n", err.msg);
	free(state);
	if (r->o->gradescope) {
		char *sd = path2(dir, row->folder, NULL);
		if (tpg_class_write_gradescope(sd, st, &err) < 0)
			fprintf(stderr, "\ntpgrade: %s\n", err.msg);
		free(sd);
	}
	tpg_gradebook_fill_row(r->gb, row, st, rep);
}

static void finish_row(run *r, tpg_gb_row *row, tpg_gb_action action, double secs,
                       const char *what)
{
	row->action = action;
	r->done++;
	if (row->status == TPG_GB_ERROR)
		r->failed++;
	if (action == TPG_GB_RUN_UNCHANGED)
		r->unchanged++;
	student_line(r, row, what, secs);
	if (tpg_now_ms() - r->last_checkpoint > CHECKPOINT_MS)
		checkpoint(r);
}

static void record_error(run *r, tpg_gb_row *row, const char *key, const char *failure,
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
	char *sdir = path2(r->o->out_dir, row->folder, NULL);
	ensure_dir(sdir, NULL);
	free(sdir);
	if (!log_from_stage) {
		char *log = path2(r->o->out_dir, row->folder, "log.txt");
		char *text = tpg_xasprintf("tpgrade class: %s: %s\n", failure, message ? message : "");
		write_text(log, text);
		free(text);
		free(log);
	}
	commit_student(r, row, &st, NULL, false);
	tpg_class_state_clear(&st);
	finish_row(r, row, TPG_GB_RUN_ERROR, secs, failure);
}

/* ----------------------------------------------------------------- children */

static void child_setup(pid_t parent, int deathsig)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, deathsig);
	if (getppid() != parent)
		_exit(127);
}

static void start_probe(run *r, job *j, size_t rowi)
{
	const tpg_student *s = &r->roster->students[r->gb->rows[rowi].index];
	int p[2];
	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->row = rowi;
	j->kind = JOB_PROBE;
	tpg_git_opts go;
	memset(&go, 0, sizeof(go));
	go.url = s->repo;
	go.ref = s->ref ? s->ref : r->o->ref;
	go.token = r->o->token;
	go.username = r->o->user;
	go.password = r->o->password;
	go.ssh_key = r->o->ssh_key;
	if (pipe2(p, O_CLOEXEC) < 0) {
		j->pid = -1;
		return;
	}
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		child_setup(parent, SIGKILL);
		tpg_probe pr;
		tpg_buf b = TPG_BUF_INIT;
		tpg_class_probe(&go, &pr);
		tpg_probe_encode(&pr, &b);
		size_t off = 0;
		while (off < b.len) {
			ssize_t w = write(p[1], b.data + off, b.len - off);
			if (w <= 0 && errno != EINTR)
				break;
			if (w > 0)
				off += (size_t)w;
		}
		_exit(0);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		j->pid = -1;
		return;
	}
	setpgid(pid, pid);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	j->pid = pid;
	j->fd = p[0];
	tpg_buf_init_capped(&j->out, 64 * 1024, false);
	j->started = tpg_now_ms();
	long long t = r->o->git_timeout_ms > 0 ? r->o->git_timeout_ms : PROBE_TIMEOUT_DEFAULT_MS;
	j->deadline = j->started + t;
}

/* A URL's password moves to the environment: command lines are public. */
static char *strip_password(const char *url, char **password)
{
	*password = NULL;
	const char *scheme = strstr(url, "://");
	if (!scheme)
		return tpg_xstrdup(url);
	const char *auth = scheme + 3;
	const char *end = auth + strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return tpg_xstrdup(url);
	const char *colon = memchr(auth, ':', (size_t)(at - auth));
	if (!colon)
		return tpg_xstrdup(url);
	tpg_git_url u;
	if (tpg_git_url_parse(url, &u, NULL) == 0) {
		*password = u.password;
		u.password = NULL;
		tpg_git_url_clear(&u);
	}
	return tpg_xasprintf("%.*s%s", (int)(colon - url), url, at);
}

static void push_env(tpg_strv *env, const char *name, const char *value)
{
	if (value)
		tpg_strv_push_owned(env, tpg_xasprintf("%s=%s", name, value));
}

static void start_grade(run *r, job *j, size_t rowi)
{
	const tpg_class_opts *o = r->o;
	tpg_gb_row *row = &r->gb->rows[rowi];
	const tpg_student *s = &r->roster->students[row->index];
	j->kind = JOB_GRADE;
	j->row = rowi;
	j->fd = -1;
	j->pid = -1;
	j->term_sent = j->timed_out = false;

	char *sdir = path2(o->out_dir, row->folder, NULL);
	char *stage = path2(o->out_dir, row->folder, ".staging");
	tpg_err err = {0};
	if (ensure_dir(sdir, &err) < 0 || ensure_dir(stage, &err) < 0) {
		fprintf(stderr, "\ntpgrade: %s\n", err.msg);
		free(sdir);
		free(stage);
		return;
	}
	empty_dir(stage);

	char *url_password = NULL;
	char *url = strip_password(s->repo, &url_password);
	tpg_strv argv = TPG_STRV_INIT, env = TPG_STRV_INIT;
	tpg_strv_push(&argv, "tpgrade");
	tpg_strv_push(&argv, "grade");
	tpg_strv_push(&argv, "--no-color");
	tpg_strv_push_owned(&argv, tpg_xasprintf("--json=%s/result.json", stage));
	tpg_strv_push_owned(&argv, tpg_xasprintf("--junit=%s/junit.xml", stage));
	tpg_strv_push_owned(&argv, tpg_xasprintf("--class-info=%s/class-info.json", stage));
	tpg_strv_push_owned(&argv, tpg_xasprintf("--student=%s", s->id));
	const char *ref = s->ref ? s->ref : o->ref;
	const char *deadline = s->deadline ? s->deadline : o->deadline;
	if (ref)
		tpg_strv_push_owned(&argv, tpg_xasprintf("--ref=%s", ref));
	if (deadline)
		tpg_strv_push_owned(&argv, tpg_xasprintf("--deadline=%s", deadline));
	if (o->git_timeout_ms > 0)
		tpg_strv_push_owned(&argv, tpg_xasprintf("--git-timeout=%.3f", o->git_timeout_ms / 1000.0));
	if (o->ssh_key)
		tpg_strv_push_owned(&argv, tpg_xasprintf("--ssh-key=%s", o->ssh_key));
	if (o->keep)
		tpg_strv_push(&argv, "--keep");
	for (size_t i = 0; i < o->child_args.len; i++)
		tpg_strv_push(&argv, o->child_args.items[i]);
	tpg_strv_push(&argv, "--");
	tpg_strv_push(&argv, o->spec_path);
	tpg_strv_push(&argv, url);

	/* Credentials go by environment (readable by our uid only). */
	for (char **e = environ; e && *e; e++)
		if ((!o->token || strncmp(*e, "GIT_TOKEN=", 10)) &&
		    (!o->user || strncmp(*e, "GIT_USERNAME=", 13)) &&
		    ((!o->password && !url_password) || strncmp(*e, "GIT_PASSWORD=", 13)))
			tpg_strv_push(&env, *e);
	push_env(&env, "GIT_TOKEN", o->token);
	push_env(&env, "GIT_USERNAME", o->user);
	push_env(&env, "GIT_PASSWORD", o->password ? o->password : url_password);
	/* A child gets no terminal: plain progress, no colours. */
	tpg_strv_push(&env, "NO_COLOR=1");

	char *log = tpg_xasprintf("%s/log.txt", stage);
	int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	free(log);
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = logfd >= 0 && nullfd >= 0 ? fork() : -1;
	if (pid == 0) {
		child_setup(parent, SIGTERM);
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		execve(o->self_exe, argv.items, env.items);
		dprintf(2, "tpgrade: cannot run %s: %s\n", o->self_exe, strerror(errno));
		_exit(127);
	}
	if (pid > 0)
		setpgid(pid, pid);
	else
		fprintf(stderr, "\ntpgrade: cannot start a child process: %s\n", strerror(errno));
	if (logfd >= 0)
		close(logfd);
	if (nullfd >= 0)
		close(nullfd);
	if (url_password) {
		explicit_bzero(url_password, strlen(url_password));
		free(url_password);
	}
	for (size_t i = 0; i < env.len; i++)
		explicit_bzero(env.items[i], strlen(env.items[i]));
	tpg_strv_free(&env);
	tpg_strv_free(&argv);
	free(url);
	free(sdir);
	free(stage);
	j->pid = pid > 0 ? pid : -1;
	j->started = tpg_now_ms();
	j->deadline = j->started + o->student_timeout_ms;
}

/* --------------------------------------------------------------- deciding */

static bool prefix_of(const char *shorter, const char *full)
{
	size_t n = strlen(shorter);
	return full && strlen(full) >= n && strncasecmp(shorter, full, n) == 0;
}

static void start_next(run *r, job *j)
{
	size_t rowi = r->queue[r->qpos++];
	tpg_gb_row *row = &r->gb->rows[rowi];
	tpg_class_state prev;
	char *sp = path2(r->o->out_dir, row->folder, "state.json");
	bool have = tpg_class_state_read(sp, &prev, NULL) == 0;
	free(sp);
	const tpg_student *s = &r->roster->students[row->index];
	char *key = tpg_class_student_key(r->o, s);
	bool probe = have && !r->o->force && prev.key && strcmp(prev.key, key) == 0 &&
	             !prev.transient;
	free(key);
	if (have)
		tpg_class_state_clear(&prev);
	if (probe)
		start_probe(r, j, rowi);
	else
		start_grade(r, j, rowi);
	if (j->pid < 0) {
		j->pid = 0;
		record_error(r, row, "", "error", "cannot start a child process", NULL, 0, -1, false);
	}
}

static void probe_done(run *r, job *j, int status)
{
	tpg_gb_row *row = &r->gb->rows[j->row];
	const tpg_student *s = &r->roster->students[row->index];
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
	char *key = tpg_class_student_key(r->o, s);
	if (r->stopping && !j->timed_out) {
		if (ok)
			tpg_probe_clear(&pr);
		free(key);
		j->pid = 0;
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
	tpg_class_state prev;
	char *sp = path2(r->o->out_dir, row->folder, "state.json");
	bool have = tpg_class_state_read(sp, &prev, NULL) == 0;
	free(sp);
	const char *ref = s->ref ? s->ref : r->o->ref;
	bool graded = have && strcmp(prev.status, "graded") == 0;
	bool unchanged = have &&
		((pr.kind == TPG_PROBE_TIP && prev.tip && strcmp(prev.tip, pr.tip) == 0) ||
		 (pr.kind == TPG_PROBE_PINNED && graded && ref && prefix_of(ref, prev.commit)) ||
		 (pr.kind == TPG_PROBE_FAILED && !graded && prev.failure &&
		  strcmp(prev.failure, pr.failure) == 0));
	if (have)
		tpg_class_state_clear(&prev);
	j->pid = 0;
	if (unchanged) {
		tpg_gradebook_load_row(r->gb, row, r->o->out_dir);
		finish_row(r, row, TPG_GB_RUN_UNCHANGED, secs, "unchanged");
		tpg_probe_clear(&pr);
	} else if (pr.kind == TPG_PROBE_FAILED) {
		record_error(r, row, key, pr.failure, pr.message, NULL, secs, -1, false);
		tpg_probe_clear(&pr);
	} else {
		/* Changed: grade in this slot now, remembering the tip. */
		start_grade(r, j, j->row);
		j->probe = pr;
		j->probed = true;
		if (j->pid < 0) {
			j->pid = 0;
			record_error(r, row, key, "error", "cannot start a child process", NULL, 0, -1,
			             false);
			tpg_probe_clear(&j->probe);
			j->probed = false;
		}
	}
	free(key);
}

static void grade_done(run *r, job *j, int status)
{
	tpg_gb_row *row = &r->gb->rows[j->row];
	const tpg_student *s = &r->roster->students[row->index];
	const char *dir = r->o->out_dir;
	double secs = (tpg_now_ms() - j->started) / 1000.0;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	char *stage = path2(dir, row->folder, ".staging");
	char *tip = j->probed && j->probe.kind == TPG_PROBE_TIP ? tpg_xstrdup(j->probe.tip) : NULL;
	if (j->probed)
		tpg_probe_clear(&j->probe);
	j->probed = false;
	j->pid = 0;

	char *rpath = tpg_xasprintf("%s/result.json", stage);
	json_t *doc = json_load_file(rpath, 0, NULL);
	free(rpath);
	tpg_report *rep = NULL;
	if (doc && tpg_report_from_json(doc, &rep, NULL) < 0)
		rep = NULL;
	json_decref(doc);
	if (r->stopping && !j->timed_out && !(rep && (code == 0 || code == 1))) {
		/* Interrupted: the previous result (if any) stays. */
		empty_dir(stage);
		rmdir(stage);
		free(stage);
		free(tip);
		tpg_report_free(rep);
		row->action = TPG_GB_RUN_INTERRUPTED;
		return;
	}
	char *key = tpg_class_student_key(r->o, s);
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
		record_error(r, row, key, "timeout", msg, tip, secs, code, true);
		free(msg);
	} else if (rep && (code == 0 || code == 1 || code == 3) && rep->spec_digest &&
	           strcmp(rep->spec_digest, r->gb->spec_digest) != 0) {
		record_error(r, row, key, "spec changed", "the spec file changed during the run: "
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
		commit_student(r, row, &st, rep, true);
		tpg_class_state_clear(&st);
		finish_row(r, row, TPG_GB_RUN_GRADED, secs, code == 3 ? "graded, environment errors"
		                                                      : "graded");
	} else if (have_ci && !ci.ok) {
		record_error(r, row, key, ci.failure ? ci.failure : "error",
		             ci.message, tip, secs, code, true);
	} else {
		char *log = tpg_xasprintf("%s/log.txt", stage);
		char *why = last_error_line(log);
		free(log);
		char *msg = WIFSIGNALED(status)
			? tpg_xasprintf("tpgrade grade died of signal %d%s%s", WTERMSIG(status),
			                why ? ": " : "", why ? why : "")
			: tpg_xasprintf("tpgrade grade exited with status %d%s%s", code,
			                why ? ": " : "", why ? why : "");
		record_error(r, row, key, WIFSIGNALED(status) ? "crash" : "no report", msg, tip, secs,
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

static void signal_job(job *j, int sig)
{
	if (j->pid > 0)
		kill(-j->pid, sig);
}

static void reap(run *r)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < r->njobs; i++) {
			job *j = &r->jobs[i];
			if (j->pid != pid)
				continue;
			/* The group may still hold a grandchild: make sure it goes. */
			kill(-pid, SIGKILL);
			if (j->kind == JOB_PROBE)
				probe_done(r, j, status);
			else
				grade_done(r, j, status);
			break;
		}
	}
}

static long long next_wakeup(run *r, long long now)
{
	long long wake = now + 1000;
	for (int i = 0; i < r->njobs; i++) {
		job *j = &r->jobs[i];
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

static void check_deadlines(run *r, long long now)
{
	for (int i = 0; i < r->njobs; i++) {
		job *j = &r->jobs[i];
		if (j->pid <= 0)
			continue;
		if (!j->term_sent && now >= j->deadline) {
			j->timed_out = true;
			j->term_sent = true;
			j->kill_at = now + (j->kind == JOB_PROBE ? 0 : r->o->grace_ms);
			signal_job(j, j->kind == JOB_PROBE ? SIGKILL : SIGTERM);
		} else if (j->term_sent && now >= j->kill_at) {
			signal_job(j, SIGKILL);
			j->kill_at = now + 1000;
		}
	}
}

static void stop_all(run *r, long long now)
{
	r->stopping = true;
	for (int i = 0; i < r->njobs; i++) {
		job *j = &r->jobs[i];
		if (j->pid <= 0 || j->term_sent)
			continue;
		j->term_sent = true;
		j->kill_at = now + (j->kind == JOB_PROBE ? 0 : r->o->grace_ms);
		signal_job(j, j->kind == JOB_PROBE ? SIGKILL : SIGTERM);
	}
	if (r->o->tty)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "tpgrade: interrupted: stopping the students being graded (their Docker "
	        "objects are removed); the next run resumes\n");
}

int tpg_class_run(const tpg_class_opts *o, const tpg_roster *roster, tpg_gradebook *gb,
                  tpg_err *err)
{
	run r;
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.roster = roster;
	r.gb = gb;
	r.njobs = o->jobs > 0 ? o->jobs : 1;
	r.jobs = tpg_xcalloc((size_t)r.njobs, sizeof(job));
	r.queue = tpg_xcalloc(gb->nrows ? gb->nrows : 1, sizeof(size_t));
	for (size_t i = 0; i < gb->nrows; i++) {
		gb->rows[i].action = TPG_GB_NOT_RUN;
		if (gb->rows[i].in_shard) {
			tpg_gradebook_load_row(gb, &gb->rows[i], o->out_dir);
			r.queue[r.qlen++] = i;
		}
	}
	r.total = r.qlen;
	r.t0 = r.last_checkpoint = tpg_now_ms();
	gb->has_run = true;

	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	r.sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r.sfd < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
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
		progress_line(&r, false);
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
		progress_line(&r, true);
		fputc('\n', stderr);
	}
	/* Gradescope files of students left unchanged by a run without them. */
	for (size_t i = 0; i < gb->nrows && o->gradescope; i++) {
		tpg_gb_row *row = &gb->rows[i];
		if (!row->in_shard || row->status == TPG_GB_PENDING)
			continue;
		char *gs = path2(o->out_dir, row->folder, "results.json");
		struct stat st;
		if (stat(gs, &st) < 0) {
			char *sp = path2(o->out_dir, row->folder, "state.json");
			tpg_class_state cs;
			if (tpg_class_state_read(sp, &cs, NULL) == 0) {
				char *sd = path2(o->out_dir, row->folder, NULL);
				tpg_class_write_gradescope(sd, &cs, NULL);
				free(sd);
				tpg_class_state_clear(&cs);
			}
			free(sp);
		}
		free(gs);
	}
	close(r.sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(r.jobs);
	free(r.queue);
	return 0;
}

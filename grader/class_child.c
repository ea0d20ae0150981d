/*
 * class_child.c - starting the children of a class run: a probe (a forked
 * worker asking the server for its refs) or `tpgrade grade` (exec'ed from
 * our own executable, writing into DIR/<folder>/.staging, its output in
 * log.txt). Both run in their own process group with PR_SET_PDEATHSIG.
 * Credentials go to `tpgrade grade` through its environment, never its
 * command line (which any user can read).
 */
#include "class_int.h"
#include "tpgrade/git_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char **environ;

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

void tpg_class_start_probe(tpg_class_ctx *r, tpg_class_job *j, size_t rowi)
{
	const tpg_student *s = &r->roster->students[r->gb->rows[rowi].index];
	int p[2];
	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->row = rowi;
	j->kind = TPG_CLASS_PROBE;
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
	long long t = r->o->git_timeout_ms > 0 ? r->o->git_timeout_ms : TPG_CLASS_PROBE_TIMEOUT_MS;
	j->deadline = j->started + t;
}

static void push_env(tpg_strv *env, const char *name, const char *value)
{
	if (value)
		tpg_strv_push_owned(env, tpg_xasprintf("%s=%s", name, value));
}

void tpg_class_start_grade(tpg_class_ctx *r, tpg_class_job *j, size_t rowi)
{
	const tpg_class_opts *o = r->o;
	tpg_gb_row *row = &r->gb->rows[rowi];
	const tpg_student *s = &r->roster->students[row->index];
	j->kind = TPG_CLASS_GRADE;
	j->row = rowi;
	j->fd = -1;
	j->pid = -1;
	j->term_sent = j->timed_out = false;

	char *sdir = tpg_class_path(o->out_dir, row->folder, NULL);
	char *stage = tpg_class_path(o->out_dir, row->folder, ".staging");
	tpg_err err = {0};
	if (tpg_class_ensure_dir(sdir, &err) < 0 || tpg_class_ensure_dir(stage, &err) < 0) {
		fprintf(stderr, "\ntpgrade: %s\n", err.msg);
		free(sdir);
		free(stage);
		return;
	}
	tpg_class_empty_dir(stage);

	/* A URL's password moves to the environment: command lines are public. */
	char *url_password = NULL;
	char *url = tpg_git_url_strip_password(s->repo, &url_password);
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
	tpg_git_forget(url_password);
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

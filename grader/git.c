/*
 * git.c - tpg_git_fetch: decide what the URL is, prepare the temporary
 * folder, run the worker process under a deadline, assemble the result.
 */
#include "tpgrade/git_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if LIBGIT2_VER_MAJOR > 1 || (LIBGIT2_VER_MAJOR == 1 && LIBGIT2_VER_MINOR >= 7)
#define HAVE_SERVER_TIMEOUTS 1
#endif

/*
 * libgit2 counts its init calls: every entry point (tpg_git_enter, released
 * with git_libgit2_shutdown) takes one reference, so
 * the module works even if the CLI forgot tpg_git_global_init, and the
 * reference that call takes keeps libgit2 set up between fetches.
 */
int tpg_git_enter(tpg_err *err)
{
	int rc = git_libgit2_init();
	if (rc < 0) {
		const git_error *e = git_error_last();
		return tpg_err_set(err, TPG_EGENERIC, "cannot initialise libgit2: %s",
			e && e->message ? e->message : "unknown error");
	}
	/* libgit2 runs no hooks, filters or config commands: a repository owned
	 * by a student's uid is safe to read, and common when grading as root. */
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	return 0;
}

int tpg_git_global_init(tpg_err *err)
{
	return tpg_git_enter(err);
}

void tpg_git_global_shutdown(void)
{
	git_libgit2_shutdown();
}

void tpg_git_checkout_free(tpg_git_checkout *co)
{
	if (!co)
		return;
	if (co->root && !co->keep && !co->in_place)
		tpg_git_rmtree(co->root, NULL);
	free(co->workdir);
	free(co->root);
	free(co->gitdir);
	free(co->commit);
	free(co->tip);
	free(co->commit_date);
	free(co->ref);
	free(co->display_url);
	tpg_strv_free(&co->notes);
	free(co);
}

bool tpg_git_is_repository(const char *path)
{
	git_repository *repo = NULL;
	if (git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return false;
	git_repository_free(repo);
	return true;
}

int tpg_git_local_folder(const tpg_git_url *u, char **abs, tpg_git_failure *why, tpg_err *err)
{
	struct stat st;

	*abs = NULL;
	*why = TPG_GIT_FAIL_NOT_FOUND;
	if (stat(u->fetch, &st) < 0)
		return tpg_err_errno(err, errno, "cannot grade %s", u->display);
	if (!S_ISDIR(st.st_mode)) {
		*why = TPG_GIT_FAIL_INVALID;
		return tpg_err_set(err, TPG_EINVAL, "cannot grade %s: not a folder", u->display);
	}
	*abs = realpath(u->fetch, NULL);
	if (!*abs)
		return tpg_err_errno(err, errno, "cannot grade %s", u->display);
	return 0;
}

int tpg_git_describe_local(const char *path, char **commit, char **commit_date,
	tpg_err *err)
{
	git_repository *repo = NULL;
	git_reference *head = NULL;
	git_object *obj = NULL;
	int rc;

	*commit = NULL;
	*commit_date = NULL;
	if ((rc = tpg_git_enter(err)) < 0)
		return rc;
	rc = git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (rc < 0) {
		rc = tpg_err_set(err, TPG_ENOTFOUND, "%s is not a git repository", path);
		goto out;
	}
	rc = git_repository_head(&head, repo);
	if (rc == 0)
		rc = git_reference_peel(&obj, head, GIT_OBJECT_COMMIT);
	if (rc < 0) {
		rc = tpg_err_set(err, TPG_ENOTFOUND, "%s has no commit on HEAD", path);
		goto out;
	}
	const git_commit *c = (const git_commit *)obj;
	char oid[GIT_OID_HEXSZ + 1];
	git_oid_tostr(oid, sizeof(oid), git_commit_id(c));
	*commit = tpg_xstrdup(oid);
	*commit_date = tpg_format_iso8601((long long)git_commit_time(c),
		git_commit_time_offset(c));
	rc = 0;
out:
	git_object_free(obj);
	git_reference_free(head);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

/* ---- the worker process ---- */

static void worker_child(const tpg_git_job *job, int fd, pid_t parent)
{
	struct rlimit rl;

	/* Die with the grader, even if it is SIGKILLed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	/* A belt for the size cap: no single file over it (a zip-bomb blob). */
	signal(SIGXFSZ, SIG_IGN);
	rl.rlim_cur = rl.rlim_max = (rlim_t)job->max_bytes + 64 * 1024 * 1024;
	setrlimit(RLIMIT_FSIZE, &rl);
#ifdef HAVE_SERVER_TIMEOUTS
	{
		long long left = job->stop_ms - tpg_now_ms();
		int ms = left > INT_MAX ? INT_MAX : left < 1 ? 1 : (int)left;
		git_libgit2_opts(GIT_OPT_SET_SERVER_CONNECT_TIMEOUT, ms);
		git_libgit2_opts(GIT_OPT_SET_SERVER_TIMEOUT, ms);
	}
#endif
	tpg_git_worker_run(job, fd);
	close(fd);
	/* _exit: the parent's stdio buffers and atexit handlers are not ours. */
	_exit(0);
}

static int run_worker(const tpg_git_job *job, tpg_git_result *res, tpg_err *err)
{
	int p[2];
	tpg_buf b = TPG_BUF_INIT;
	bool timed_out = false, canceled = false, eof = false;
	long long started = tpg_now_ms();
	pid_t parent = getpid();

	if (pipe2(p, O_CLOEXEC) < 0)
		return tpg_err_errno(err, errno, "cannot create a pipe");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return tpg_err_errno(err, e, "cannot start the git worker process");
	}
	if (pid == 0) {
		close(p[0]);
		worker_child(job, p[1], parent);
	}
	close(p[1]);
	tpg_buf_init_capped(&b, 4 << 20, false);

	while (!eof) {
		long long now = tpg_now_ms();
		if (tpg_interrupted()) {
			canceled = true;
			break;
		}
		if (now >= job->stop_ms) {
			timed_out = true;
			break;
		}
		long long wait = job->stop_ms - now;
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		int n = poll(&pfd, 1, wait > 100 ? 100 : (int)wait);
		if (n <= 0)
			continue;   /* timeout tick, or EINTR: look at the flag again */
		char chunk[8192];
		ssize_t r = read(p[0], chunk, sizeof(chunk));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			eof = true;
		else
			tpg_buf_append(&b, chunk, (size_t)r);
	}
	close(p[0]);

	/* After EOF the worker is exiting; do not wait for it past the deadline. */
	int status = 0;
	for (;;) {
		if (timed_out || canceled) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (tpg_interrupted())
			canceled = true;
		else if (tpg_now_ms() >= job->stop_ms)
			timed_out = true;
		else
			poll(NULL, 0, 10);
	}

	bool final = tpg_git_result_decode(b.data ? b.data : "", b.len, res);
	tpg_buf_free(&b);
	const char *doing = res->phase ? res->phase : "starting";
	/* A complete answer wins, even if the worker was slow to exit after it. */
	if (final) {
		if (res->code < 0)
			return tpg_err_set(err, res->code, "%s", res->message ? res->message : "");
		return 0;
	}
	if (canceled) {
		res->why = TPG_GIT_FAIL_CANCELED;
		return tpg_err_set(err, TPG_ECANCELED, "interrupted while fetching %s (%s)",
			job->url->display, doing);
	}
	if (timed_out) {
		res->why = TPG_GIT_FAIL_TIMEOUT;
		return tpg_err_set(err, TPG_ETIMEOUT, "timed out after %.1f s fetching %s (%s)",
			(tpg_now_ms() - started) / 1000.0, job->url->display, doing);
	}
	res->why = TPG_GIT_FAIL_OTHER;
	if (WIFSIGNALED(status))
		return tpg_err_set(err, TPG_EGENERIC, "the git worker died of signal %d "
			"fetching %s (%s)", WTERMSIG(status), job->url->display, doing);
	return tpg_err_set(err, TPG_EGENERIC, "the git worker stopped without a result "
		"fetching %s (%s)", job->url->display, doing);
}

/* ---- tpg_git_fetch ---- */

static tpg_git_checkout *in_place(const char *abs, const tpg_git_opts *o)
{
	tpg_git_checkout *co = tpg_xcalloc(1, sizeof(*co));
	co->workdir = tpg_xstrdup(abs);
	co->display_url = tpg_xstrdup(abs);
	co->in_place = true;
	co->keep = true;
	tpg_strv_push(&co->notes, "not a git repository: the folder is graded in place");
	if (o->ref && o->ref[0])
		tpg_strv_push(&co->notes, "the ref option was ignored (not a git repository)");
	if (o->deadline && o->deadline[0])
		tpg_strv_push(&co->notes, "the deadline was not applied (not a git repository)");
	return co;
}

int tpg_git_fetch_ex(const tpg_git_opts *o, tpg_git_checkout **out,
	tpg_git_failure *why, tpg_err *err)
{
	tpg_git_url url;
	tpg_git_job job = { 0 };
	tpg_git_result res = { 0 };
	tpg_strv secrets = TPG_STRV_INIT;
	char *abs = NULL, *root = NULL, *gitdir = NULL, *workdir = NULL;
	char *nlogin = NULL, *npass = NULL;
	tpg_git_failure w = TPG_GIT_FAIL_INVALID;
	int rc;

	*out = NULL;
	if (why)
		*why = TPG_GIT_OK;
	if (!o)
		return tpg_err_set(err, TPG_EINVAL, "no git options given");
	if ((rc = tpg_git_url_parse(o->url, &url, err)) < 0) {
		if (why)
			*why = TPG_GIT_FAIL_INVALID;
		return rc;
	}
	if ((rc = tpg_git_enter(err)) < 0) {
		tpg_git_url_clear(&url);
		if (why)
			*why = TPG_GIT_FAIL_OTHER;
		return rc;
	}
	tpg_git_cred_prepare(o, &url, &secrets, &nlogin, &npass);
	job.opts = o;
	job.netrc_login = nlogin;
	job.netrc_password = npass;
	job.url = &url;
	job.secrets = &secrets;
	job.stop_ms = tpg_now_ms() + (o->timeout_ms > 0 ? o->timeout_ms : TPG_GIT_DEFAULT_TIMEOUT_MS);
	job.max_bytes = o->max_bytes > 0 ? o->max_bytes : TPG_GIT_DEFAULT_MAX_BYTES;
	if (o->deadline && o->deadline[0]) {
		if ((rc = tpg_parse_iso8601(o->deadline, &job.deadline_epoch,
			&job.deadline_offset, err)) < 0) {
			tpg_err_prefix(err, "bad deadline");
			goto fail;
		}
		job.has_deadline = true;
	}

	if (url.kind == TPG_GIT_URL_LOCAL) {
		if ((rc = tpg_git_local_folder(&url, &abs, &w, err)) < 0)
			goto fail;
		free(url.display);
		url.display = tpg_xstrdup(abs);
		if (!tpg_git_is_repository(abs)) {
			*out = in_place(abs, o);
			rc = 0;
			goto done;
		}
		free(url.fetch);
		url.fetch = tpg_xstrdup(abs);
		job.local_source = abs;
	} else if (url.kind == TPG_GIT_URL_SSH && !(git_libgit2_features() & GIT_FEATURE_SSH)) {
		rc = tpg_err_set(err, TPG_EINVAL, "cannot fetch %s: this libgit2 has no ssh "
			"support (use an https URL)", url.display);
		goto fail;
	} else if (url.tls && !(git_libgit2_features() & GIT_FEATURE_HTTPS)) {
		rc = tpg_err_set(err, TPG_EINVAL, "cannot fetch %s: this libgit2 has no https "
			"support", url.display);
		goto fail;
	}

	if ((rc = tpg_git_mkdtemp(o->workdir_parent, &root, err)) < 0) {
		w = TPG_GIT_FAIL_OTHER;
		goto fail;
	}
	gitdir = tpg_xasprintf("%s/repo.git", root);
	workdir = tpg_xasprintf("%s/work", root);
	job.gitdir = gitdir;
	job.workdir = workdir;

	rc = run_worker(&job, &res, err);
	if (rc < 0) {
		w = res.why ? res.why : TPG_GIT_FAIL_OTHER;
		tpg_git_rmtree(root, NULL);
		goto fail;
	}
	tpg_git_checkout *co = tpg_xcalloc(1, sizeof(*co));
	co->root = root;
	co->workdir = workdir;
	co->gitdir = gitdir;
	root = workdir = gitdir = NULL;
	co->commit = res.commit;
	co->tip = res.tip;
	co->commit_date = res.commit_date;
	co->commit_time = res.commit_time;
	co->ref = res.ref;
	res.commit = res.tip = res.commit_date = res.ref = NULL;
	co->display_url = tpg_git_scrub(tpg_xstrdup(url.display), &secrets);
	co->commits_after_deadline = res.commits_after_deadline;
	co->has_submodules = res.has_submodules;
	co->is_git = true;
	co->keep = o->keep;
	for (size_t i = 0; i < res.notes.len; i++)
		tpg_strv_push_owned(&co->notes, tpg_git_scrub(tpg_xstrdup(res.notes.items[i]),
			&secrets));
	*out = co;
	rc = 0;
	goto done;

fail:
	if (why)
		*why = w;
	tpg_git_scrub_err(err, &secrets);
done:
	tpg_git_result_clear(&res);
	tpg_git_url_clear(&url);
	free(abs);
	free(root);
	free(gitdir);
	free(workdir);
	free(nlogin);
	tpg_git_forget(npass);
	tpg_strv_free(&secrets);
	git_libgit2_shutdown();
	return rc;
}

int tpg_git_fetch(const tpg_git_opts *opts, tpg_git_checkout **out, tpg_err *err)
{
	return tpg_git_fetch_ex(opts, out, NULL, err);
}

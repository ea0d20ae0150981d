/* test_git_remote.c - tpg_git_fetch against real local servers (git daemon,
 * smart HTTP with Basic auth) started by tests/env/git-server.sh; run by
 * tests/e2e/git-server-clone.sh. Skips (exit 77) unless these are set:
 *   TPG_GIT_SERVER_URLS        "git://127.0.0.1:P http://127.0.0.1:Q"
 *   TPG_GIT_SERVER_USER        student
 *   TPG_GIT_SERVER_TOKEN_FILE  file holding the token
 * and, for the ssh cases (skipped without them), TPG_GIT_SSH_URL,
 * TPG_GIT_SERVER_REPOS, TPG_GIT_SSH_KEY, TPG_GIT_SSH_BADKEY, TPG_GIT_SSH_HOME
 * (all from tests/env/git-server.sh) and TPG_GIT_SSH_AGENT=1 when
 * SSH_AUTH_SOCK is an agent holding TPG_GIT_SSH_KEY.
 * Every fetch is followed by a class run's probe (tpg_class_probe) with the
 * same options, which must find the fetch's tip or fail the same way: they
 * share the credential order and the error classification.
 * Every message, note and URL the module returns is printed (prefixed
 * "msg: ") so that the e2e script can grep the whole output for the token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tpgrade/class.h"
#include "tpgrade/git.h"

typedef struct rfx {
	char *git;      /* git://127.0.0.1:P */
	char *http;     /* http://127.0.0.1:Q */
	char *user;
	char *token;
	char *tmp;
	tpg_buf log;    /* everything the module said */
} rfx;

static char *read_in(const char *dir, const char *rel)
{
	char *p = tpg_xasprintf("%s/%s", dir, rel);
	FILE *fp = fopen(p, "r");
	free(p);
	if (!fp)
		return NULL;
	char buf[256] = "";
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	buf[strcspn(buf, "\n")] = '\0';
	return tpg_xstrdup(buf);
}

static void say(rfx *f, const char *what, const char *s)
{
	if (!s)
		return;
	print_message("msg: %s: %s\n", what, s);
	tpg_buf_printf(&f->log, "%s\n", s);
}

typedef struct fetched {
	int rc;
	tpg_git_failure why;
	tpg_err err;
	tpg_git_checkout *co;
	long long ms;
} fetched;

static fetched run(rfx *f, const tpg_git_opts *o)
{
	fetched r = { 0 };
	long long t0 = tpg_now_ms();
	r.rc = tpg_git_fetch_ex(o, &r.co, &r.why, &r.err);
	r.ms = tpg_now_ms() - t0;
	if (r.rc < 0) {
		assert_null(r.co);
		char *m = tpg_xasprintf("[%s] %s", tpg_git_failure_name(r.why), r.err.msg);
		say(f, "error", m);
		free(m);
	} else {
		say(f, "url", r.co->display_url);
		say(f, "commit", r.co->commit);
		say(f, "date", r.co->commit_date);
		for (size_t i = 0; i < r.co->notes.len; i++)
			say(f, "note", r.co->notes.items[i]);
	}
	return r;
}

/* tpg_class_probe as a class run calls it: in a forked child that writes
 * its answer to a pipe and _exits (libgit2 1.5's ssh transport leaks on a
 * refused connection; the child's exit is what reclaims it). */
static void forked_probe(const tpg_git_opts *o, tpg_probe *out)
{
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		tpg_probe p;
		tpg_buf b = TPG_BUF_INIT;
		close(fd[0]);
		tpg_class_probe(o, &p);
		tpg_probe_encode(&p, &b);
		ssize_t w = write(fd[1], b.data, b.len);
		_exit(w == (ssize_t)b.len ? 0 : 1);
	}
	close(fd[1]);
	tpg_buf b = TPG_BUF_INIT;
	char chunk[4096];
	ssize_t n;
	while ((n = read(fd[0], chunk, sizeof(chunk))) > 0)
		tpg_buf_append(&b, chunk, (size_t)n);
	close(fd[0]);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(tpg_probe_decode(b.data, b.len, out));
	tpg_buf_free(&b);
}

/* The probe of a class run, with the same options: the tip the fetch
 * started from (co), or the failure (why) when a probe can see it. */
static void probe_agrees(rfx *f, const tpg_git_opts *o, const tpg_git_checkout *co,
	tpg_git_failure why)
{
	tpg_probe p;
	forked_probe(o, &p);
	if (p.kind == TPG_PROBE_FAILED) {
		char *m = tpg_xasprintf("[%s] %s", p.failure, p.message ? p.message : "");
		say(f, "probe", m);
		free(m);
	}
	if (co) {
		if (p.kind != TPG_PROBE_TIP)
			fail_msg("probe of %s: kind %d (%s), the fetch worked", o->url, (int)p.kind,
				p.message ? p.message : "");
		assert_string_equal(p.tip, co->tip);
	} else {
		assert_int_equal(p.kind, TPG_PROBE_FAILED);
		assert_string_equal(p.failure, tpg_git_failure_name(why));
	}
	tpg_probe_clear(&p);
}

static tpg_git_checkout *ok(rfx *f, const tpg_git_opts *o)
{
	fetched r = run(f, o);
	if (r.rc != 0)
		fail_msg("fetch %s failed: %s", o->url, r.err.msg);
	probe_agrees(f, o, r.co, TPG_GIT_OK);
	return r.co;
}

static void expect(rfx *f, const tpg_git_opts *o, int code, tpg_git_failure why,
	const char *needle)
{
	fetched r = run(f, o);
	assert_int_equal(r.rc, code);
	assert_int_equal(r.why, why);
	if (needle && !strstr(r.err.msg, needle))
		fail_msg("'%s' not in '%s'", needle, r.err.msg);
	/* What a probe can see (not a size, a deadline or a timeout). */
	if (why == TPG_GIT_FAIL_AUTH || why == TPG_GIT_FAIL_NOT_FOUND ||
	    why == TPG_GIT_FAIL_EMPTY || why == TPG_GIT_FAIL_NO_REF ||
	    why == TPG_GIT_FAIL_UNREACHABLE)
		probe_agrees(f, o, NULL, why);
}

static void expect_readme(const tpg_git_checkout *co, const char *want)
{
	char *s = read_in(co->workdir, "README");
	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static int setup(void **state)
{
	const char *urls = getenv("TPG_GIT_SERVER_URLS");
	const char *tf = getenv("TPG_GIT_SERVER_TOKEN_FILE");
	if (!urls || !urls[0] || !tf) {
		printf("SKIP: TPG_GIT_SERVER_URLS/TPG_GIT_SERVER_TOKEN_FILE not set "
			"(tests/e2e/git-server-clone.sh starts the servers and runs this)\n");
		exit(77);
	}
	rfx *f = tpg_xcalloc(1, sizeof(*f));
	char *copy = tpg_xstrdup(urls);
	for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) {
		if (strncmp(tok, "git://", 6) == 0)
			f->git = tpg_xstrdup(tok);
		else if (strncmp(tok, "http://", 7) == 0)
			f->http = tpg_xstrdup(tok);
	}
	free(copy);
	const char *u = getenv("TPG_GIT_SERVER_USER");
	f->user = tpg_xstrdup(u && u[0] ? u : "student");
	char *dir = tpg_xstrdup(tf);
	char *slash = strrchr(dir, '/');
	f->token = read_in(slash ? (*slash = '\0', dir) : ".", slash ? slash + 1 : tf);
	free(dir);
	if (!f->git || !f->http || !f->token || strlen(f->token) < 8) {
		printf("bad server environment: %s\n", urls);
		return -1;
	}
	const char *t = getenv("TMPDIR");
	f->tmp = tpg_xstrdup(t && t[0] ? t : "/tmp");
	if (tpg_git_global_init(NULL) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	rfx *f = *state;
	free(f->git);
	free(f->http);
	free(f->user);
	free(f->token);
	free(f->tmp);
	tpg_buf_free(&f->log);
	free(f);
	tpg_git_global_shutdown();
	return 0;
}

static void test_daemon_clone(void **state)
{
	rfx *f = *state;
	char *url = tpg_xasprintf("%s/hello.git", f->git);
	tpg_git_opts o = { .url = url, .netrc = "" };

	tpg_git_checkout *co = ok(f, &o);
	assert_string_equal(co->ref, "main");
	assert_string_equal(co->commit_date, "2026-12-20T10:00:00+01:00");
	assert_string_equal(co->display_url, url);
	expect_readme(co, "c3");
	tpg_git_checkout_free(co);

	o.deadline = "2026-12-10T23:59:00+01:00";
	co = ok(f, &o);
	expect_readme(co, "c2");
	assert_string_equal(co->commit_date, "2026-12-05T10:00:00+01:00");
	assert_int_equal(co->commits_after_deadline, 1);
	tpg_git_checkout_free(co);

	o.deadline = NULL;
	o.ref = "dev";
	co = ok(f, &o);
	expect_readme(co, "d1");
	tpg_git_checkout_free(co);

	o.ref = "v1";
	co = ok(f, &o);
	expect_readme(co, "c2");
	tpg_git_checkout_free(co);
	free(url);
}

static void test_daemon_errors(void **state)
{
	rfx *f = *state;
	char *nope = tpg_xasprintf("%s/nope.git", f->git);
	char *secret_path = tpg_xasprintf("%s/%s.git", f->git, f->token);
	char *empty = tpg_xasprintf("%s/empty.git", f->git);
	char *big = tpg_xasprintf("%s/big.git", f->git);
	char *hello = tpg_xasprintf("%s/hello.git", f->git);
	tpg_git_opts o = { .netrc = "", .token = f->token };

	o.url = nope;
	expect(f, &o, TPG_ENOTFOUND, TPG_GIT_FAIL_NOT_FOUND, "not found");
	o.url = secret_path;   /* the daemon echoes the path: scrubbed */
	expect(f, &o, TPG_ENOTFOUND, TPG_GIT_FAIL_NOT_FOUND, "***");
	o.url = empty;
	expect(f, &o, TPG_ENOTFOUND, TPG_GIT_FAIL_EMPTY, "empty repository");
	o.url = big;
	o.max_bytes = 256 * 1024;
	expect(f, &o, TPG_ETOOBIG, TPG_GIT_FAIL_TOO_BIG, "repository over 256 KB");
	o.max_bytes = 0;
	tpg_git_checkout *co = ok(f, &o);   /* under the default cap */
	tpg_git_checkout_free(co);
	o.url = hello;
	o.ref = "nope";
	expect(f, &o, TPG_ENOTFOUND, TPG_GIT_FAIL_NO_REF, "branches: dev, main");
	o.ref = NULL;
	o.deadline = "2026-11-01T00:00:00+01:00";
	expect(f, &o, TPG_ENOTFOUND, TPG_GIT_FAIL_NO_COMMIT, "after the deadline");
	free(nope);
	free(secret_path);
	free(empty);
	free(big);
	free(hello);
}

static void test_http_token(void **state)
{
	rfx *f = *state;
	char *url = tpg_xasprintf("%s/hello.git", f->http);
	tpg_git_opts o = { .url = url, .netrc = "", .username = f->user, .token = f->token,
		.deadline = "2026-12-05T10:00:00+01:00" };
	tpg_git_checkout *co = ok(f, &o);
	expect_readme(co, "c2");
	assert_int_equal(co->commits_after_deadline, 1);
	assert_string_equal(co->display_url, url);
	bool warned = false;
	for (size_t i = 0; i < co->notes.len; i++)
		warned |= strstr(co->notes.items[i], "plain http") != NULL;
	assert_true(warned);
	tpg_git_checkout_free(co);

	/* user/password works the same way. */
	o = (tpg_git_opts){ .url = url, .netrc = "", .username = f->user, .password = f->token };
	co = ok(f, &o);
	expect_readme(co, "c3");
	tpg_git_checkout_free(co);
	free(url);
}

static void test_http_auth_refused(void **state)
{
	rfx *f = *state;
	char *url = tpg_xasprintf("%s/hello.git", f->http);
	char *wrong = tpg_xasprintf("%sX", f->token);
	tpg_git_opts o = { .url = url, .netrc = "", .username = f->user, .token = wrong,
		.timeout_ms = 20000 };

	fetched r = run(f, &o);
	assert_int_equal(r.rc, TPG_EAUTH);
	assert_int_equal(r.why, TPG_GIT_FAIL_AUTH);
	assert_non_null(strstr(r.err.msg, "refused"));
	assert_true(r.ms < 10000);   /* no retry loop */

	o.token = f->token;
	o.username = "intruder";
	expect(f, &o, TPG_EAUTH, TPG_GIT_FAIL_AUTH, "user 'intruder'");

	o.token = NULL;
	o.username = NULL;
	expect(f, &o, TPG_EAUTH, TPG_GIT_FAIL_AUTH, "no credentials were given");
	free(url);
	free(wrong);
}

static void test_http_userinfo_and_netrc(void **state)
{
	rfx *f = *state;
	const char *hostport = f->http + strlen("http://");
	char *url = tpg_xasprintf("%s/hello.git", f->http);
	char *with = tpg_xasprintf("http://%s:%s@%s/hello.git", f->user, f->token, hostport);
	tpg_git_opts o = { .url = with, .netrc = "" };

	tpg_git_checkout *co = ok(f, &o);
	assert_string_equal(co->display_url, url);
	expect_readme(co, "c3");
	tpg_git_checkout_free(co);

	char *nrc = tpg_xasprintf("%s/tpg-netrc-%d", f->tmp, (int)getpid());
	FILE *fp = fopen(nrc, "w");
	assert_non_null(fp);
	fprintf(fp, "machine example.com login a password b\n"
		"machine 127.0.0.1\n login %s\n password %s\n", f->user, f->token);
	fclose(fp);
	o = (tpg_git_opts){ .url = url, .netrc = nrc };
	co = ok(f, &o);
	expect_readme(co, "c3");
	tpg_git_checkout_free(co);

	/* $NETRC when the option is NULL. */
	setenv("NETRC", nrc, 1);
	o.netrc = NULL;
	co = ok(f, &o);
	tpg_git_checkout_free(co);
	unsetenv("NETRC");
	unlink(nrc);
	free(nrc);
	free(url);
	free(with);
}

static void test_http_errors(void **state)
{
	rfx *f = *state;
	char *nope = tpg_xasprintf("%s/nope.git", f->http);
	char *empty = tpg_xasprintf("%s/empty.git", f->http);
	char *big = tpg_xasprintf("%s/big.git", f->http);
	char *slow = tpg_xasprintf("%s/slow/hello.git", f->http);
	tpg_git_opts o = { .netrc = "", .username = f->user, .token = f->token };

	o.url = nope;
	expect(f, &o, TPG_ENOTFOUND, TPG_GIT_FAIL_NOT_FOUND, "404");
	o.url = empty;
	expect(f, &o, TPG_ENOTFOUND, TPG_GIT_FAIL_EMPTY, "empty repository");
	o.url = big;
	o.max_bytes = 256 * 1024;
	expect(f, &o, TPG_ETOOBIG, TPG_GIT_FAIL_TOO_BIG, "repository over 256 KB");
	o.max_bytes = 0;
	o.url = slow;
	o.timeout_ms = 1000;
	fetched r = run(f, &o);
	assert_int_equal(r.rc, TPG_ETIMEOUT);
	assert_int_equal(r.why, TPG_GIT_FAIL_TIMEOUT);
	assert_true(r.ms < 5000);
	free(nope);
	free(empty);
	free(big);
	free(slow);
}

/* ssh: only when git-server.sh could start sshd. HOME points to a folder
 * whose .ssh/known_hosts has the server's key (libgit2 checks it). */
typedef struct ssh_env {
	const char *base;     /* ssh://user@127.0.0.1:R */
	const char *repos;
	const char *key;
	const char *badkey;
	char *old_home;
	char *old_sock;
} ssh_env;

static bool ssh_begin(ssh_env *e)
{
	e->base = getenv("TPG_GIT_SSH_URL");
	e->repos = getenv("TPG_GIT_SERVER_REPOS");
	e->key = getenv("TPG_GIT_SSH_KEY");
	e->badkey = getenv("TPG_GIT_SSH_BADKEY");
	const char *home = getenv("TPG_GIT_SSH_HOME");
	if (!e->base || !e->repos || !e->key || !e->badkey || !home) {
		print_message("no sshd (install openssh-server): ssh cases skipped\n");
		return false;
	}
	e->old_home = tpg_xstrdup(getenv("HOME"));
	e->old_sock = tpg_xstrdup(getenv("SSH_AUTH_SOCK"));
	setenv("HOME", home, 1);
	return true;
}

static void ssh_end(ssh_env *e)
{
	if (e->old_home)
		setenv("HOME", e->old_home, 1);
	else
		unsetenv("HOME");
	if (e->old_sock)
		setenv("SSH_AUTH_SOCK", e->old_sock, 1);
	else
		unsetenv("SSH_AUTH_SOCK");
	free(e->old_home);
	free(e->old_sock);
}

static void test_ssh_key(void **state)
{
	rfx *f = *state;
	ssh_env e = { 0 };
	if (!ssh_begin(&e))
		skip();
	char *url = tpg_xasprintf("%s%s/hello.git", e.base, e.repos);
	char *nope = tpg_xasprintf("%s%s/nope.git", e.base, e.repos);
	tpg_git_opts o = { .url = url, .netrc = "", .ssh_key = e.key, .timeout_ms = 30000,
		.deadline = "2026-12-06T00:00:00+01:00" };

	tpg_git_checkout *co = ok(f, &o);
	expect_readme(co, "c2");
	assert_null(strstr(co->display_url, "@"));   /* no user in what we show */
	tpg_git_checkout_free(co);

	o.deadline = NULL;
	o.ssh_key = e.badkey;
	expect(f, &o, TPG_EAUTH, TPG_GIT_FAIL_AUTH, "refused");
	o.ssh_key = "/nonexistent/key";
	expect(f, &o, TPG_EAUTH, TPG_GIT_FAIL_AUTH, "cannot read the ssh key");
	o.ssh_key = NULL;
	unsetenv("SSH_AUTH_SOCK");
	expect(f, &o, TPG_EAUTH, TPG_GIT_FAIL_AUTH, "needs an ssh key");
	o.ssh_key = e.key;
	o.url = nope;
	expect(f, &o, TPG_ENOTFOUND, TPG_GIT_FAIL_NOT_FOUND, "not found");

	/* A HOME without the host in known_hosts: refused, whatever the key. */
	setenv("HOME", f->tmp, 1);
	o.url = url;
	expect(f, &o, TPG_EUNAVAIL, TPG_GIT_FAIL_UNREACHABLE, "known_hosts");
	ssh_end(&e);
	free(url);
	free(nope);
}

static void test_ssh_agent(void **state)
{
	rfx *f = *state;
	ssh_env e = { 0 };
	if (!getenv("TPG_GIT_SSH_AGENT") || !ssh_begin(&e)) {
		print_message("no ssh agent holding the test key: skipped\n");
		skip();
	}
	char *url = tpg_xasprintf("%s%s/hello.git", e.base, e.repos);
	tpg_git_opts o = { .url = url, .netrc = "", .timeout_ms = 30000 };
	tpg_git_checkout *co = ok(f, &o);
	expect_readme(co, "c3");
	tpg_git_checkout_free(co);
	ssh_end(&e);
	free(url);
}

/* Last: nothing the module said holds the token. */
static void test_token_never_shown(void **state)
{
	rfx *f = *state;
	const char *all = tpg_buf_cstr(&f->log);
	assert_true(strlen(all) > 100);
	assert_null(strstr(all, f->token));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon_clone),
		cmocka_unit_test(test_daemon_errors),
		cmocka_unit_test(test_http_token),
		cmocka_unit_test(test_http_auth_refused),
		cmocka_unit_test(test_http_userinfo_and_netrc),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_ssh_key),
		cmocka_unit_test(test_ssh_agent),
		cmocka_unit_test(test_token_never_shown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* test_git.c - the git layer: URLs, dates, .netrc, and fetches of local
 * repositories built at test time with the git CLI (fixed committer dates).
 * Network cases use only 127.0.0.1 sockets opened here (a server that never
 * answers, a closed port); real servers are in test_git_remote.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tpgrade/git.h"
#include "tpgrade/git_impl.h"

#define TOKEN "tpgT0k3n-7f2a9c41d8"
#define PASSWD "Pa55w0rd-b81e"

typedef struct gfx {
	char *base;     /* everything of the group lives here */
	char *hist;     /* the history repository (see make_history) */
	int nparent;
} gfx;

/* ---- helpers ---- */

static void sh(const gfx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sh(const gfx *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *body = tpg_xvasprintf(fmt, ap);
	va_end(ap);
	char *cmd = tpg_xasprintf("cd '%s' && { %s ; } >/dev/null 2>&1", f->base, body);
	int rc = system(cmd);
	if (rc != 0)
		print_error("command failed (%d): %s\n", rc, body);
	assert_int_equal(rc, 0);
	free(cmd);
	free(body);
}

static char *capture(const gfx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *capture(const gfx *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *body = tpg_xvasprintf(fmt, ap);
	va_end(ap);
	char *cmd = tpg_xasprintf("cd '%s' && %s", f->base, body);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[512] = "";
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	assert_int_equal(pclose(p), 0);
	line[strcspn(line, "\n")] = '\0';
	free(cmd);
	free(body);
	return tpg_xstrdup(line);
}

static char *path_in(const gfx *f, const char *rel)
{
	return tpg_xasprintf("%s/%s", f->base, rel);
}

/* A fresh, empty folder for the temporary checkouts of one test. */
static char *new_parent(gfx *f)
{
	char *p = tpg_xasprintf("%s/tmp%d", f->base, f->nparent++);
	assert_int_equal(mkdir(p, 0755), 0);
	return p;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static bool exists_in(const char *dir, const char *rel)
{
	struct stat st;
	char *p = tpg_xasprintf("%s/%s", dir, rel);
	bool ok = lstat(p, &st) == 0;
	free(p);
	return ok;
}

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
	return tpg_xstrdup(buf);
}

typedef struct fetched {
	int rc;
	tpg_git_failure why;
	tpg_err err;
	tpg_git_checkout *co;
} fetched;

static fetched do_fetch(const tpg_git_opts *o)
{
	fetched r = { 0 };
	r.rc = tpg_git_fetch_ex(o, &r.co, &r.why, &r.err);
	if (r.rc < 0) {
		assert_null(r.co);
		assert_int_equal(r.err.code, r.rc);
		print_message("    (%s: %s)\n", tpg_git_failure_name(r.why), r.err.msg);
	}
	return r;
}

static fetched fetch_ok(const tpg_git_opts *o)
{
	fetched r = do_fetch(o);
	if (r.rc != 0)
		fail_msg("fetch %s failed: %s", o->url, r.err.msg);
	assert_non_null(r.co);
	return r;
}

static void expect_fail(const tpg_git_opts *o, int code, tpg_git_failure why, const char *needle)
{
	fetched r = do_fetch(o);
	assert_int_equal(r.rc, code);
	assert_int_equal(r.why, why);
	if (needle && !strstr(r.err.msg, needle))
		fail_msg("'%s' not in '%s'", needle, r.err.msg);
}

static bool notes_have(const tpg_git_checkout *co, const char *needle)
{
	for (size_t i = 0; i < co->notes.len; i++)
		if (strstr(co->notes.items[i], needle))
			return true;
	return false;
}

/*
 * main (first-parent): c1 12-01, c2 12-05 (tags v1, v1a annotated),
 * c3 12-07, merge 12-15 (second parent: feature f1 12-08, from c2),
 * c4 12-20; all at +01:00. Each commit adds <name>.txt.
 */
static void make_history(gfx *f, const char *name)
{
	sh(f, "git init -q -b main %s && cd %s && "
		"c() { echo $2 > $2.txt; git add -A; GIT_AUTHOR_DATE=$1 GIT_COMMITTER_DATE=$1 "
		"git commit -q -m $2; } && "
		"c 2026-12-01T10:00:00+01:00 c1 && c 2026-12-05T10:00:00+01:00 c2 && "
		"git tag v1 && GIT_COMMITTER_DATE=2026-12-05T11:00:00+01:00 git tag -a -m ann v1a && "
		"git checkout -q -b feature && c 2026-12-08T10:00:00+01:00 f1 && "
		"git checkout -q main && c 2026-12-07T10:00:00+01:00 c3 && "
		"GIT_AUTHOR_DATE=2026-12-15T10:00:00+01:00 GIT_COMMITTER_DATE=2026-12-15T10:00:00+01:00 "
		"git merge -q --no-ff -m merge feature && c 2026-12-20T10:00:00+01:00 c4",
		name, name);
}

static int group_setup(void **state)
{
	if (system("git --version >/dev/null 2>&1") != 0) {
		printf("SKIP: the git command is needed to build test repositories\n");
		exit(77);
	}
	gfx *f = tpg_xcalloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	char *tmpl = tpg_xasprintf("%s/tpg-test-git-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(tmpl))
		return -1;
	f->base = tmpl;
	/* Hermetic: neither the git CLI nor libgit2 reads the user's config. */
	setenv("HOME", f->base, 1);
	setenv("XDG_CONFIG_HOME", f->base, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_AUTHOR_NAME", "Student", 1);
	setenv("GIT_AUTHOR_EMAIL", "student@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "Student", 1);
	setenv("GIT_COMMITTER_EMAIL", "student@example.com", 1);
	if (tpg_git_global_init(NULL) < 0)
		return -1;
	make_history(f, "hist");
	f->hist = path_in(f, "hist");
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	gfx *f = *state;
	tpg_git_rmtree(f->base, NULL);
	free(f->base);
	free(f->hist);
	free(f);
	tpg_git_global_shutdown();
	return 0;
}

/* ---- pure functions ---- */

static void test_iso8601_valid(void **state)
{
	TPG_UNUSED(state);
	static const struct { const char *s; long long epoch; int off; } ok[] = {
		{ "2026-12-10T23:59:00+01:00", 1796943540LL, 60 },
		{ "2026-12-10T22:59:00Z", 1796943540LL, 0 },
		{ "2026-12-10t22:59:00z", 1796943540LL, 0 },
		{ "2026-12-10 23:59+01:00", 1796943540LL, 60 },
		{ "2026-12-10T23:59:00.999+0100", 1796943540LL, 60 },
		{ "2026-12-10T23:59:00,5+01", 1796943540LL, 60 },
		{ "20261210T235900+0100", 1796943540LL, 60 },
		{ "  2026-12-10T17:29:00-05:30  ", 1796943540LL, -330 },
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "1969-12-31T23:59:59Z", -1, 0 },
		{ "2024-02-29T12:00:00Z", 1709208000LL, 0 },
		{ "2000-02-29T00:00:00Z", 951782400LL, 0 },
		{ "2026-12-10T24:00:00Z", 1796947200LL, 0 },
		{ "2016-12-31T23:59:60Z", 1483228799LL, 0 },
		{ "0001-01-01T00:00:00Z", -62135596800LL, 0 },
		{ "9999-12-31T23:59:59Z", 253402300799LL, 0 },
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(ok); i++) {
		long long e = 42;
		int off = 42;
		tpg_err err = { 0 };
		if (tpg_parse_iso8601(ok[i].s, &e, &off, &err) != 0)
			fail_msg("'%s' refused: %s", ok[i].s, err.msg);
		if (e != ok[i].epoch || off != ok[i].off)
			fail_msg("'%s': got %lld %+d, want %lld %+d", ok[i].s, e, off,
				ok[i].epoch, ok[i].off);
	}
	assert_int_equal(tpg_parse_iso8601("2026-12-10T23:59:00+01:00", NULL, NULL, NULL), 0);
}

static void test_iso8601_invalid(void **state)
{
	TPG_UNUSED(state);
	static const char *const bad[] = {
		"", "   ", "garbage", "2026-12-10", "2026-12-10T23:59", "2026-12-10T23:59:00",
		"2026-12-10T23:59:00 ", "26-12-10T23:59Z", "2026-13-10T23:59Z", "2026-00-10T23:59Z",
		"2026-02-29T10:00Z", "2026-04-31T10:00Z", "2026-12-32T10:00Z", "2026-12-00T10:00Z",
		"2026-12-10T25:00Z", "2026-12-10T24:01Z", "2026-12-10T23:60Z", "2026-12-10T23:59:61Z",
		"2026-12-10T23:59+24:00", "2026-12-10T23:59+01:60", "2026-12-10T23:59+1",
		"2026-12-10T23:59+01:0", "2026-12-10T23:59:00.Z", "2026-12-10T23:59:00Zjunk",
		"2026-12-10T23:59:00+01:00x", "2026/12/10T23:59Z", "2026-12-10X23:59Z",
		"2026-1-10T23:59Z", "2026-12-10T2:59Z", "2026-12-10T23:5Z", "2026-12-10T23:59:0Z",
		"+2026-12-10T23:59Z", "2026-12-10T23:59:00+01:00\n", "2026-12-1O T23:59Z",
		"2026-12-10T23:59:00 +01:00", "\xff\xfe", "2026-12-10T23h59Z",
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(bad); i++) {
		tpg_err err = { 0 };
		long long e = 7;
		int rc = tpg_parse_iso8601(bad[i], &e, NULL, &err);
		if (rc != TPG_EINVAL)
			fail_msg("'%s' accepted (%lld)", bad[i], e);
		assert_int_equal(err.code, TPG_EINVAL);
		assert_non_null(strstr(err.msg, "invalid date"));
		/* The message never echoes raw control bytes. */
		for (const char *p = err.msg; *p; p++)
			assert_true((unsigned char)*p >= 0x20);
	}
	assert_int_equal(tpg_parse_iso8601(NULL, NULL, NULL, NULL), TPG_EINVAL);
}

static void test_iso8601_format(void **state)
{
	TPG_UNUSED(state);
	static const struct { long long e; int off; const char *want; } cases[] = {
		{ 1796943540LL, 60, "2026-12-10T23:59:00+01:00" },
		{ 1796943540LL, 0, "2026-12-10T22:59:00+00:00" },
		{ 1796943540LL, -330, "2026-12-10T17:29:00-05:30" },
		{ 0, 0, "1970-01-01T00:00:00+00:00" },
		{ -1, 0, "1969-12-31T23:59:59+00:00" },
		{ 951782400LL, 0, "2000-02-29T00:00:00+00:00" },
		{ 0, 100000, "1970-01-01T00:00:00+00:00" },  /* absurd offset ignored */
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(cases); i++) {
		char *s = tpg_format_iso8601(cases[i].e, cases[i].off);
		assert_string_equal(s, cases[i].want);
		long long back;
		int off;
		if (i < 6) {
			assert_int_equal(tpg_parse_iso8601(s, &back, &off, NULL), 0);
			assert_true(back == cases[i].e);
		}
		free(s);
	}
	/* Forged far-away dates stay printable. */
	char *s = tpg_format_iso8601(LLONG_MAX, 0);
	assert_non_null(s);
	free(s);
	s = tpg_format_iso8601(LLONG_MIN, -60);
	assert_non_null(s);
	free(s);
}

static void test_url_redact(void **state)
{
	TPG_UNUSED(state);
	static const char *const cases[][2] = {
		{ "https://user:tok@host/x", "https://host/x" },
		{ "https://tok@host/x.git", "https://host/x.git" },
		{ "https://host/x", "https://host/x" },
		{ "https://u:p@host:8443/a/b?c#d", "https://host:8443/a/b?c#d" },
		{ "https://u:p%40x@host", "https://host" },
		{ "ssh://git@github.com/a/b.git", "ssh://github.com/a/b.git" },
		{ "https://host/path/@scope/pkg", "https://host/path/@scope/pkg" },
		{ "fetch https://a:b@h1/x failed, then http://c:d@h2/y too",
		  "fetch https://h1/x failed, then http://h2/y too" },
		{ "https://u:p@[::1]:80/x", "https://[::1]:80/x" },
		{ "no url here", "no url here" },
		{ "", "" },
		{ "://@", "://" },
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(cases); i++) {
		char *r = tpg_url_redact(cases[i][0]);
		assert_string_equal(r, cases[i][1]);
		free(r);
	}
	assert_null(tpg_url_redact(NULL));
}

static void test_url_parse(void **state)
{
	TPG_UNUSED(state);
	tpg_git_url u;
	tpg_err err = { 0 };

	assert_int_equal(tpg_git_url_parse("https://student:" TOKEN "@Git.Example.com/a/b.git", &u, &err), 0);
	assert_int_equal(u.kind, TPG_GIT_URL_HTTP);
	assert_true(u.tls);
	assert_string_equal(u.user, "student");
	assert_string_equal(u.password, TOKEN);
	assert_string_equal(u.host, "git.example.com");
	assert_string_equal(u.fetch, "https://Git.Example.com/a/b.git");
	assert_string_equal(u.display, "https://Git.Example.com/a/b.git");
	tpg_git_url_clear(&u);

	assert_int_equal(tpg_git_url_parse("http://a%40b:p%3Aw%2F@[::1]:8080/x", &u, &err), 0);
	assert_false(u.tls);
	assert_string_equal(u.user, "a@b");
	assert_string_equal(u.password, "p:w/");
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.display, "http://[::1]:8080/x");
	tpg_git_url_clear(&u);

	assert_int_equal(tpg_git_url_parse("ssh://git:secret@host:2222/r.git", &u, &err), 0);
	assert_int_equal(u.kind, TPG_GIT_URL_SSH);
	assert_string_equal(u.user, "git");
	assert_string_equal(u.fetch, "ssh://git@host:2222/r.git");
	assert_string_equal(u.display, "ssh://host:2222/r.git");
	tpg_git_url_clear(&u);

	assert_int_equal(tpg_git_url_parse("git@github.com:student/tp.git", &u, &err), 0);
	assert_int_equal(u.kind, TPG_GIT_URL_SSH);
	assert_string_equal(u.user, "git");
	assert_string_equal(u.host, "github.com");
	assert_string_equal(u.fetch, "git@github.com:student/tp.git");
	assert_string_equal(u.display, "github.com:student/tp.git");
	tpg_git_url_clear(&u);

	assert_int_equal(tpg_git_url_parse("git+ssh://h/x", &u, &err), 0);
	assert_int_equal(u.kind, TPG_GIT_URL_SSH);
	assert_null(u.user);
	tpg_git_url_clear(&u);

	assert_int_equal(tpg_git_url_parse("git://127.0.0.1:9418/x.git", &u, &err), 0);
	assert_int_equal(u.kind, TPG_GIT_URL_GIT);
	tpg_git_url_clear(&u);

	assert_int_equal(tpg_git_url_parse("file:///srv/x.git", &u, &err), 0);
	assert_int_equal(u.kind, TPG_GIT_URL_FILE);
	assert_null(u.host);
	assert_string_equal(u.fetch, "file:///srv/x.git");
	tpg_git_url_clear(&u);

	static const char *const local[] = { "/srv/x", "./a:b", "rel/dir", "x", "/a:b", ":x" };
	for (size_t i = 0; i < TPG_ARRAY_LEN(local); i++) {
		assert_int_equal(tpg_git_url_parse(local[i], &u, &err), 0);
		assert_int_equal(u.kind, TPG_GIT_URL_LOCAL);
		assert_string_equal(u.fetch, local[i]);
		tpg_git_url_clear(&u);
	}

	static const char *const bad[] = { "", "ftp://h/x", "ext::sh -c touch% /tmp/pwned",
		"https:///x", "https://u:p@/x", "http://a\nb/x", "a::b" };
	for (size_t i = 0; i < TPG_ARRAY_LEN(bad); i++) {
		int rc = tpg_git_url_parse(bad[i], &u, &err);
		if (rc != TPG_EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_null(u.fetch);
	}
	assert_int_equal(tpg_git_url_parse(NULL, &u, &err), TPG_EINVAL);
}

static void test_strip_password(void **state)
{
	static const struct {
		const char *url, *stripped, *password;
	} cases[] = {
		{ "https://alice:" PASSWD "@h.example/x.git", "https://alice@h.example/x.git", PASSWD },
		{ "https://alice:p%40ss@h.example/x.git", "https://alice@h.example/x.git", "p@ss" },
		{ "https://a:b@c@h.example:8443/x@y.git", "https://a@h.example:8443/x@y.git", "b@c" },
		{ "ssh://git:pw@h.example:2222/x.git", "ssh://git@h.example:2222/x.git", "pw" },
		{ "alice:" PASSWD "@h.example:grp/x.git", "alice@h.example:grp/x.git", PASSWD },
		{ "https://alice@h.example/x.git", "https://alice@h.example/x.git", NULL },
		{ "git@h.example:x.git", "git@h.example:x.git", NULL },
		{ "/srv/repos/a:b@c", "/srv/repos/a:b@c", NULL },
		{ "ftp://u:p@h/x", "ftp://u@h/x", "p" },   /* refused later, but not shown */
	};
	TPG_UNUSED(state);
	for (size_t i = 0; i < TPG_ARRAY_LEN(cases); i++) {
		char *pw;
		char *out = tpg_git_url_strip_password(cases[i].url, &pw);
		assert_string_equal(out, cases[i].stripped);
		if (cases[i].password)
			assert_string_equal(pw, cases[i].password);
		else
			assert_null(pw);
		free(out);
		free(pw);
	}
}

static void test_scrub(void **state)
{
	TPG_UNUSED(state);
	tpg_strv secrets = TPG_STRV_INIT;
	tpg_strv_push(&secrets, TOKEN);
	tpg_strv_push(&secrets, "p@ss w/rd");

	char *m = tpg_git_scrub(tpg_xstrdup("bad token " TOKEN " at https://u:" TOKEN
		"@h/x and p%40ss%20w%2Frd, p@ss w/rd"), &secrets);
	assert_null(strstr(m, TOKEN));
	assert_null(strstr(m, "ss w"));
	assert_null(strstr(m, "ss%20w"));
	assert_string_equal(m, "bad token *** at https://h/x and ***, ***");
	free(m);

	/* A message cut in the middle of a secret does not keep its start. */
	m = tpg_git_scrub(tpg_xstrdup("cut here: tpgT0k3n-7f"), &secrets);
	assert_string_equal(m, "cut here: ");
	free(m);

	tpg_err err = { 0 };
	char big[TPG_ERR_MSG_MAX + 100];
	memset(big, 'x', sizeof(big));
	memcpy(big + TPG_ERR_MSG_MAX - 10, TOKEN, strlen(TOKEN));
	big[sizeof(big) - 1] = '\0';
	tpg_err_set(&err, TPG_EAUTH, "%s", big);
	tpg_git_scrub_err(&err, &secrets);
	assert_null(strstr(err.msg, "tpgT0k"));
	assert_int_equal(err.code, TPG_EAUTH);
	tpg_strv_free(&secrets);

	char *p = tpg_git_printable("a\nb\xff\\c\xc3\xa9\xe2\x80\xae", 100);
	assert_string_equal(p, "a\\nb\\xff\\\\c\xc3\xa9\\u202e");
	free(p);
	p = tpg_git_printable("abcdef", 3);
	assert_string_equal(p, "abc...");
	free(p);
	/* A cut never splits a character into \xNN halves. */
	p = tpg_git_printable("ab\xc3\xa9", 3);
	assert_string_equal(p, "ab...");
	free(p);
}

static void test_netrc(void **state)
{
	gfx *f = *state;
	char *path = path_in(f, "netrc");
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("# comment-like tokens are just tokens\n"
		"machine other.example.com login bob password bobpw\n"
		"macdef init\ncd /pub\nmachine evil login x password macro\n\n"
		"machine Git.Example.COM\n  login student\n  password \"s3cr et\\\"q\"\n"
		"  account ignored\n"
		"machine nopass.example.com login onlylogin\n"
		"default login anon password anonpw\n", fp);
	fclose(fp);

	char *login, *pass;
	tpg_err err = { 0 };
	assert_int_equal(tpg_git_netrc_lookup(path, "git.example.com", &login, &pass, &err), 0);
	assert_string_equal(login, "student");
	assert_string_equal(pass, "s3cr et\"q");
	free(login);
	free(pass);
	assert_int_equal(tpg_git_netrc_lookup(path, "other.example.com", &login, &pass, &err), 0);
	assert_string_equal(login, "bob");
	assert_string_equal(pass, "bobpw");
	free(login);
	free(pass);
	/* Inside a macdef: not a machine entry. */
	assert_int_equal(tpg_git_netrc_lookup(path, "evil", &login, &pass, &err), 0);
	assert_string_equal(login, "anon");
	free(login);
	free(pass);
	assert_int_equal(tpg_git_netrc_lookup(path, "unknown.example.com", &login, &pass, &err), 0);
	assert_string_equal(login, "anon");
	assert_string_equal(pass, "anonpw");
	free(login);
	free(pass);

	fp = fopen(path, "w");
	fputs("machine a login b", fp);
	fclose(fp);
	assert_int_equal(tpg_git_netrc_lookup(path, "a", &login, &pass, &err), TPG_ENOTFOUND);
	assert_null(login);
	assert_null(pass);
	char *missing = path_in(f, "no-netrc");
	assert_int_equal(tpg_git_netrc_lookup(missing, "a", &login, &pass, &err), TPG_ENOTFOUND);
	free(missing);
	free(path);
}

/* ---- credentials: the one order a fetch and a probe share ---- */

/* One callback call: the user and password offered, or NULL and err. */
static int offer(tpg_git_cred *c, const char *url, unsigned int allowed, char **user,
	char **pass, tpg_err *err)
{
	git_credential *cred = NULL;
	*user = *pass = NULL;
	int rc = tpg_git_cred_acquire(c, &cred, url, NULL, allowed, err);
	if (rc == 0) {
		assert_int_equal(cred->credtype, GIT_CREDENTIAL_USERPASS_PLAINTEXT);
		const git_credential_userpass_plaintext *up = (const void *)cred;
		*user = tpg_xstrdup(up->username);
		*pass = tpg_xstrdup(up->password);
		git_credential_free(cred);
	}
	return rc;
}

/* Prepares like a fetch (netrc from `netrc`), offers once, checks. */
static void expect_offer(const gfx *f, const tpg_git_opts *base, const char *url_text,
	const char *netrc, const char *want_user, const char *want_pass)
{
	tpg_git_opts o = *base;
	tpg_git_url u;
	tpg_strv secrets = TPG_STRV_INIT;
	char *nlogin, *npass, *user, *pass;
	tpg_err err = { 0 };

	char *path = path_in(f, "cred-netrc");
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(netrc, fp);
	fclose(fp);
	o.netrc = path;
	assert_int_equal(tpg_git_url_parse(url_text, &u, NULL), 0);
	tpg_git_cred_prepare(&o, &u, &secrets, &nlogin, &npass);
	tpg_git_cred c = { .opts = &o, .url = &u, .netrc_login = nlogin, .netrc_password = npass };
	int rc = offer(&c, u.fetch, GIT_CREDENTIAL_USERPASS_PLAINTEXT, &user, &pass, &err);
	if (!want_pass) {
		assert_int_equal(rc, TPG_EAUTH);
		assert_non_null(strstr(err.msg, want_user));
	} else {
		assert_int_equal(rc, 0);
		assert_string_equal(user, want_user);
		assert_string_equal(pass, want_pass);
		/* What was offered is a secret to scrub. */
		char *m = tpg_git_scrub(tpg_xasprintf("x %s y", pass), &secrets);
		assert_null(strstr(m, pass));
		free(m);
		assert_int_equal(c.plain_http, !u.tls);
		/* Offered once: a second request is a refusal naming the user. */
		free(user);
		free(pass);
		assert_int_equal(offer(&c, u.fetch, GIT_CREDENTIAL_USERPASS_PLAINTEXT, &user, &pass,
			&err), TPG_EAUTH);
		assert_non_null(strstr(err.msg, "authentication refused by"));
		assert_non_null(strstr(err.msg, want_user));
	}
	free(user);
	free(pass);
	free(nlogin);
	tpg_git_forget(npass);
	tpg_strv_free(&secrets);
	tpg_git_url_clear(&u);
	free(path);
}

static void test_credential_order(void **state)
{
	gfx *f = *state;
	const char *netrc = "machine h.example login nrcuser password nrcpass\n";
	const char *https = "https://h.example/x.git";
	tpg_git_opts none = { 0 };
	tpg_git_opts token = { .token = TOKEN };
	tpg_git_opts token_user = { .token = TOKEN, .username = "alice" };
	tpg_git_opts pw = { .password = PASSWD };
	tpg_git_opts pw_user = { .password = PASSWD, .username = "alice" };

	/* A token: the user given, else the URL's, else .netrc's, else the default. */
	expect_offer(f, &token_user, "https://urluser@h.example/x.git", netrc, "alice", TOKEN);
	expect_offer(f, &token, "https://urluser@h.example/x.git", netrc, "urluser", TOKEN);
	expect_offer(f, &token, https, netrc, "nrcuser", TOKEN);
	expect_offer(f, &token, https, "", TPG_GIT_TOKEN_USER, TOKEN);
	/* A password wins over the URL's and .netrc's, and needs a user. */
	expect_offer(f, &pw_user, "https://u:urlpw@h.example/x.git", netrc, "alice", PASSWD);
	expect_offer(f, &pw, https, netrc, "nrcuser", PASSWD);
	expect_offer(f, &pw, https, "", "no user name", NULL);
	/* Then the URL's userinfo, then .netrc (over plain http too). */
	expect_offer(f, &none, "http://u:urlpw@h.example/x.git", netrc, "u", "urlpw");
	expect_offer(f, &none, "http://h.example/x.git", netrc, "nrcuser", "nrcpass");
	expect_offer(f, &none, https, "machine other login a password b\n",
		"no credentials were given", NULL);

	/* Nothing goes to another host (a redirect), and only 6 calls. */
	tpg_git_url u;
	tpg_err err = { 0 };
	char *user, *pass;
	assert_int_equal(tpg_git_url_parse(https, &u, NULL), 0);
	tpg_git_cred c = { .opts = &token, .url = &u };
	assert_int_equal(offer(&c, "https://elsewhere.example/x.git",
		GIT_CREDENTIAL_USERPASS_PLAINTEXT, &user, &pass, &err), TPG_EAUTH);
	assert_non_null(strstr(err.msg, "redirected to another host"));
	c.calls = 6;
	assert_int_equal(offer(&c, https, GIT_CREDENTIAL_USERPASS_PLAINTEXT, &user, &pass, &err),
		TPG_EAUTH);
	tpg_git_url_clear(&u);

	/* ssh: a key file that cannot be read is said; no agent is said. */
	assert_int_equal(tpg_git_url_parse("git@h.example:x.git", &u, NULL), 0);
	char *key = path_in(f, "no-such-key");
	tpg_git_opts with_key = { .ssh_key = key };
	tpg_git_cred k = { .opts = &with_key, .url = &u };
	git_credential *cred = NULL;
	assert_int_equal(tpg_git_cred_acquire(&k, &cred, NULL, "git", GIT_CREDENTIAL_SSH_KEY,
		&err), TPG_EAUTH);
	assert_non_null(strstr(err.msg, "cannot read the ssh key"));
	char *sock = getenv("SSH_AUTH_SOCK") ? tpg_xstrdup(getenv("SSH_AUTH_SOCK")) : NULL;
	unsetenv("SSH_AUTH_SOCK");
	tpg_git_cred a = { .opts = &none, .url = &u };
	assert_int_equal(tpg_git_cred_acquire(&a, &cred, NULL, "git", GIT_CREDENTIAL_SSH_KEY,
		&err), TPG_EAUTH);
	assert_non_null(strstr(err.msg, "SSH_AUTH_SOCK is not set"));
	if (sock)
		setenv("SSH_AUTH_SOCK", sock, 1);
	free(sock);
	free(key);
	tpg_git_url_clear(&u);
}

static void test_rmtree_no_follow(void **state)
{
	gfx *f = *state;
	sh(f, "mkdir -p rmt/a/b outside && echo keep > outside/canary && "
		"ln -s ../../outside rmt/a/out && ln -s /etc/passwd rmt/pw && "
		"echo x > rmt/a/b/f && chmod 0555 rmt/a/b && chmod 0 rmt/a/b/f && "
		"mkfifo rmt/fifo");
	char *rmt = path_in(f, "rmt");
	tpg_err err = { 0 };
	assert_int_equal(tpg_git_rmtree(rmt, &err), 0);
	assert_false(exists_in(f->base, "rmt"));
	assert_true(exists_in(f->base, "outside/canary"));
	assert_true(exists_in("/etc", "passwd"));
	assert_int_equal(tpg_git_rmtree(rmt, &err), 0);   /* already gone: fine */
	assert_int_equal(tpg_git_rmtree("/", &err), TPG_EINVAL);
	assert_int_equal(tpg_git_rmtree("", &err), TPG_EINVAL);
	free(rmt);
}

/* ---- fetches of local repositories ---- */

static void test_clone_local_path(void **state)
{
	gfx *f = *state;
	char *parent = new_parent(f);
	tpg_git_opts o = { .url = f->hist, .workdir_parent = parent, .netrc = "" };
	fetched r = fetch_ok(&o);
	tpg_git_checkout *co = r.co;
	char *head = capture(f, "git -C hist rev-parse main");

	assert_true(co->is_git);
	assert_false(co->in_place);
	assert_string_equal(co->commit, head);
	assert_string_equal(co->commit_date, "2026-12-20T10:00:00+01:00");
	assert_string_equal(co->ref, "main");
	assert_string_equal(co->display_url, f->hist);
	assert_int_equal(co->commits_after_deadline, 0);
	assert_false(co->has_submodules);
	/* A private folder under workdir_parent holding work/ and repo.git/. */
	assert_int_equal(strncmp(co->root, parent, strlen(parent)), 0);
	struct stat st;
	assert_int_equal(stat(co->root, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_true(exists_in(co->workdir, "c4.txt"));
	assert_true(exists_in(co->workdir, "f1.txt"));
	assert_false(exists_in(co->workdir, ".git"));
	assert_true(exists_in(co->gitdir, "HEAD"));
	assert_int_equal(count_entries(co->workdir), 5);

	char *root = tpg_xstrdup(co->root);
	tpg_git_checkout_free(co);
	assert_false(exists_in(root, ""));
	assert_int_equal(count_entries(parent), 0);
	free(root);
	free(head);
	free(parent);
}

static void test_clone_file_url_and_keep(void **state)
{
	gfx *f = *state;
	char *parent = new_parent(f);
	char *url = tpg_xasprintf("file://%s", f->hist);
	tpg_git_opts o = { .url = url, .workdir_parent = parent, .keep = true, .netrc = "" };
	fetched r = fetch_ok(&o);
	assert_string_equal(r.co->display_url, url);
	assert_true(r.co->is_git);
	char *root = tpg_xstrdup(r.co->root);
	tpg_git_checkout_free(r.co);
	assert_true(exists_in(root, "work/c1.txt"));   /* kept */
	assert_int_equal(tpg_git_rmtree(root, NULL), 0);
	free(root);
	free(url);
	free(parent);
}

static void test_plain_folder_in_place(void **state)
{
	gfx *f = *state;
	sh(f, "mkdir -p plain/sub && echo hi > plain/Dockerfile");
	char *plain = path_in(f, "plain");
	tpg_git_opts o = { .url = plain, .ref = "main", .deadline = "2026-12-10T23:59:00+01:00",
		.netrc = "" };
	fetched r = fetch_ok(&o);
	assert_false(r.co->is_git);
	assert_true(r.co->in_place);
	assert_string_equal(r.co->workdir, plain);
	assert_null(r.co->commit);
	assert_null(r.co->tip);
	assert_null(r.co->root);
	assert_true(notes_have(r.co, "graded in place"));
	assert_true(notes_have(r.co, "ref option was ignored"));
	assert_true(notes_have(r.co, "deadline was not applied"));
	tpg_git_checkout_free(r.co);
	assert_true(exists_in(plain, "Dockerfile"));   /* never removed */

	/* A subfolder of a repository is a plain folder too. */
	sh(f, "mkdir -p hist2 && cp -r hist/.git hist2/.git && mkdir -p hist2/inner");
	char *inner = path_in(f, "hist2/inner");
	o = (tpg_git_opts){ .url = inner, .netrc = "" };
	r = fetch_ok(&o);
	assert_true(r.co->in_place);
	tpg_git_checkout_free(r.co);
	assert_true(exists_in(inner, ""));
	free(inner);
	free(plain);
}

static void test_deadline_selection(void **state)
{
	gfx *f = *state;
	char *parent = new_parent(f);
	char *c2 = capture(f, "git -C hist rev-parse v1");
	char *c3 = capture(f, "git -C hist rev-parse main~2");
	char *main_tip = capture(f, "git -C hist rev-parse main");

	tpg_git_opts o = { .url = f->hist, .workdir_parent = parent, .netrc = "",
		.deadline = "2026-12-10T23:59:00+01:00" };
	fetched r = fetch_ok(&o);
	/* c4 and the merge are after; f1 (12-08) is before the deadline but
	 * not on the first-parent line: c3 is graded. The tip (what a class
	 * run's probe compares with) is where the walk started. */
	assert_string_equal(r.co->commit, c3);
	assert_string_equal(r.co->tip, main_tip);
	assert_string_equal(r.co->commit_date, "2026-12-07T10:00:00+01:00");
	assert_int_equal(r.co->commits_after_deadline, 2);
	assert_true(exists_in(r.co->workdir, "c3.txt"));
	assert_false(exists_in(r.co->workdir, "f1.txt"));
	assert_false(exists_in(r.co->workdir, "c4.txt"));
	assert_true(notes_have(r.co, "2 commits of main after the deadline"));
	assert_true(notes_have(r.co, "2026-12-10T23:59:00+01:00"));
	tpg_git_checkout_free(r.co);

	/* "At or before": exactly the commit's time includes it, written in
	 * another offset too. */
	o.deadline = "2026-12-07T09:00:00Z";
	r = fetch_ok(&o);
	assert_string_equal(r.co->commit, c3);
	assert_int_equal(r.co->commits_after_deadline, 2);
	tpg_git_checkout_free(r.co);

	o.deadline = "2026-12-07T09:59:59+01:00";
	r = fetch_ok(&o);
	assert_string_equal(r.co->commit, c2);
	assert_int_equal(r.co->commits_after_deadline, 3);
	tpg_git_checkout_free(r.co);

	o.deadline = "2030-01-01T00:00:00Z";
	r = fetch_ok(&o);
	assert_int_equal(r.co->commits_after_deadline, 0);
	assert_string_equal(r.co->commit, main_tip);
	assert_string_equal(r.co->tip, main_tip);
	assert_false(notes_have(r.co, "after the deadline"));
	tpg_git_checkout_free(r.co);

	o.deadline = "2026-11-30T23:59:59+01:00";
	expect_fail(&o, TPG_ENOTFOUND, TPG_GIT_FAIL_NO_COMMIT, "after the deadline");

	o.deadline = "2026-12-10";
	expect_fail(&o, TPG_EINVAL, TPG_GIT_FAIL_INVALID, "bad deadline");

	/* Deadline on another branch: walked from its tip. */
	o.ref = "feature";
	o.deadline = "2026-12-07T12:00:00+01:00";
	r = fetch_ok(&o);
	assert_string_equal(r.co->commit, c2);
	assert_string_equal(r.co->ref, "feature");
	assert_int_equal(r.co->commits_after_deadline, 1);
	char *feature_tip = capture(f, "git -C hist rev-parse feature");
	assert_string_equal(r.co->tip, feature_tip);
	free(feature_tip);
	tpg_git_checkout_free(r.co);

	assert_int_equal(count_entries(parent), 0);
	free(main_tip);
	free(c2);
	free(c3);
	free(parent);
}

static void test_refs(void **state)
{
	gfx *f = *state;
	char *c1 = capture(f, "git -C hist rev-parse main~4");
	char *c2 = capture(f, "git -C hist rev-parse v1");
	char *f1 = capture(f, "git -C hist rev-parse feature");
	char *c1short = tpg_xstrndup(c1, 9);
	static const char *const names[] = { "v1", "v1a", "refs/tags/v1a", "feature",
		"refs/heads/feature", "origin/feature", "main" };
	tpg_git_opts o = { .url = f->hist, .netrc = "" };

	for (size_t i = 0; i < TPG_ARRAY_LEN(names); i++) {
		o.ref = names[i];
		fetched r = fetch_ok(&o);
		const char *want = i < 3 ? c2 : i < 6 ? f1 : NULL;
		if (want)
			assert_string_equal(r.co->commit, want);
		else
			assert_true(exists_in(r.co->workdir, "c4.txt"));
		tpg_git_checkout_free(r.co);
	}
	o.ref = c1;
	fetched r = fetch_ok(&o);
	assert_string_equal(r.co->commit, c1);
	assert_string_equal(r.co->ref, c1);
	assert_true(exists_in(r.co->workdir, "c1.txt"));
	assert_false(exists_in(r.co->workdir, "c2.txt"));
	tpg_git_checkout_free(r.co);

	o.ref = c1short;
	r = fetch_ok(&o);
	assert_string_equal(r.co->commit, c1);
	tpg_git_checkout_free(r.co);

	o.ref = "nope";
	expect_fail(&o, TPG_ENOTFOUND, TPG_GIT_FAIL_NO_REF, "branch or tag named 'nope'");
	r = do_fetch(&o);
	assert_non_null(strstr(r.err.msg, "feature, main"));
	assert_non_null(strstr(r.err.msg, "v1, v1a"));
	o.ref = "0000000000000000000000000000000000000000";
	expect_fail(&o, TPG_ENOTFOUND, TPG_GIT_FAIL_NO_REF, "commit 0000");
	o.ref = "bad..name";
	expect_fail(&o, TPG_ENOTFOUND, TPG_GIT_FAIL_NO_REF, NULL);
	o.ref = "x\nInjected: line";
	r = do_fetch(&o);
	assert_int_equal(r.why, TPG_GIT_FAIL_NO_REF);
	assert_null(strchr(r.err.msg, '\n'));

	free(c1);
	free(c2);
	free(f1);
	free(c1short);
}

static void test_empty_and_missing(void **state)
{
	gfx *f = *state;
	char *parent = new_parent(f);
	sh(f, "git init -q --bare empty.git && git init -q -b main emptywt && "
		"mkdir -p notrepo && echo x > notrepo/f && echo x > afile");
	char *bare = path_in(f, "empty.git");
	char *wt = path_in(f, "emptywt");
	char *notrepo = tpg_xasprintf("file://%s/notrepo", f->base);
	char *missing = path_in(f, "does-not-exist");
	char *afile = path_in(f, "afile");
	tpg_git_opts o = { .workdir_parent = parent, .netrc = "" };

	o.url = bare;
	expect_fail(&o, TPG_ENOTFOUND, TPG_GIT_FAIL_EMPTY, "empty repository");
	o.url = wt;
	expect_fail(&o, TPG_ENOTFOUND, TPG_GIT_FAIL_EMPTY, "empty repository");
	o.ref = "main";
	expect_fail(&o, TPG_ENOTFOUND, TPG_GIT_FAIL_EMPTY, "empty repository");
	o.ref = NULL;
	o.url = notrepo;
	expect_fail(&o, TPG_ENOTFOUND, TPG_GIT_FAIL_NOT_FOUND, "not found");
	o.url = missing;
	expect_fail(&o, TPG_ENOTFOUND, TPG_GIT_FAIL_NOT_FOUND, "does-not-exist");
	o.url = afile;
	expect_fail(&o, TPG_EINVAL, TPG_GIT_FAIL_INVALID, "not a folder");
	o.url = "ftp://example.com/x.git";
	expect_fail(&o, TPG_EINVAL, TPG_GIT_FAIL_INVALID, "unsupported URL scheme");
	o.url = NULL;
	expect_fail(&o, TPG_EINVAL, TPG_GIT_FAIL_INVALID, NULL);
	assert_int_equal(tpg_git_fetch_ex(NULL, &(tpg_git_checkout *){ NULL }, NULL, NULL),
		TPG_EINVAL);
	assert_int_equal(count_entries(parent), 0);
	free(bare);
	free(wt);
	free(notrepo);
	free(missing);
	free(afile);
	free(parent);
}

static void test_symlinks_and_names(void **state)
{
	gfx *f = *state;
	sh(f, "mkdir -p outside2 && echo keep > outside2/canary && "
		"git init -q -b main odd && cd odd && ln -s /etc/passwd passwd && "
		"ln -s ../../../outside2 escape && ln -s /etc etcdir && "
		"printf n > \"$(printf 'new\\nline')\" && printf b > \"$(printf 'bad\\377name')\" && "
		"mkdir -p \"$(printf 'dir\\001')\" && printf d > \"$(printf 'dir\\001/f')\" && "
		"git add -A && git commit -q -m odd");
	char *odd = path_in(f, "odd");
	tpg_git_opts o = { .url = odd, .netrc = "" };
	fetched r = fetch_ok(&o);
	const char *w = r.co->workdir;
	char *p = tpg_xasprintf("%s/passwd", w);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	char target[256];
	ssize_t n = readlink(p, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "/etc/passwd");
	free(p);
	p = tpg_xasprintf("%s/etcdir", w);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	free(p);

	char *s = read_in(w, "new\nline");
	assert_non_null(s);
	assert_string_equal(s, "n");
	free(s);
	s = read_in(w, "bad\377name");
	assert_non_null(s);
	assert_string_equal(s, "b");
	free(s);
	s = read_in(w, "dir\001/f");
	assert_non_null(s);
	free(s);

	/* Removing the checkout never follows its symlinks. */
	tpg_git_checkout_free(r.co);
	assert_true(exists_in(f->base, "outside2/canary"));
	assert_true(exists_in("/etc", "passwd"));
	free(odd);
}

static void test_submodules_note(void **state)
{
	gfx *f = *state;
	sh(f, "git init -q -b main withsub && cd withsub && echo x > f && "
		"git -c protocol.file.allow=always submodule -q add '%s' lib/dep && "
		"git add -A && git commit -q -m sub", f->hist);
	char *url = path_in(f, "withsub");
	tpg_git_opts o = { .url = url, .netrc = "" };
	fetched r = fetch_ok(&o);
	assert_true(r.co->has_submodules);
	assert_true(notes_have(r.co, "submodules"));
	assert_true(notes_have(r.co, "lib/dep"));
	assert_true(exists_in(r.co->workdir, ".gitmodules"));
	assert_false(exists_in(r.co->workdir, "lib/dep/c1.txt"));   /* not fetched */
	tpg_git_checkout_free(r.co);

	/* .gitmodules alone also counts. */
	sh(f, "git init -q -b main gm && cd gm && printf '[submodule \"x\"]\\n' > .gitmodules && "
		"git add -A && git commit -q -m gm");
	char *gm = path_in(f, "gm");
	o.url = gm;
	r = fetch_ok(&o);
	assert_true(r.co->has_submodules);
	assert_true(notes_have(r.co, ".gitmodules"));
	tpg_git_checkout_free(r.co);
	free(gm);
	free(url);
}

static void test_default_branch_missing(void **state)
{
	gfx *f = *state;
	/* A server-side repository whose HEAD says master; only main pushed. */
	sh(f, "git init -q --bare -b master hm.git && git -C hist push -q ../hm.git main");
	char *url = path_in(f, "hm.git");
	char *head = capture(f, "git -C hist rev-parse main");
	tpg_git_opts o = { .url = url, .netrc = "" };
	fetched r = fetch_ok(&o);
	assert_string_equal(r.co->ref, "main");
	assert_string_equal(r.co->commit, head);
	assert_true(notes_have(r.co, "default branch (master) has no commit"));
	tpg_git_checkout_free(r.co);
	/* Two branches: which one is a guess, so no. */
	sh(f, "git -C hist push -q ../hm.git feature");
	expect_fail(&o, TPG_ENOTFOUND, TPG_GIT_FAIL_NO_REF, "HEAD: master");
	o.ref = "feature";
	r = fetch_ok(&o);
	tpg_git_checkout_free(r.co);
	free(head);
	free(url);
}

static void test_lfs_note(void **state)
{
	gfx *f = *state;
	sh(f, "git init -q -b main lfs && cd lfs && "
		"echo '*.bin filter=lfs diff=lfs merge=lfs -text' > .gitattributes && "
		"printf 'version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 9\n' > a.bin && "
		"git add -A && git commit -q -m lfs");
	char *url = path_in(f, "lfs");
	tpg_git_opts o = { .url = url, .netrc = "" };
	fetched r = fetch_ok(&o);
	assert_true(notes_have(r.co, "Git LFS"));
	assert_true(exists_in(r.co->workdir, "a.bin"));
	tpg_git_checkout_free(r.co);
	o.url = f->hist;
	r = fetch_ok(&o);
	assert_false(notes_have(r.co, "LFS"));
	tpg_git_checkout_free(r.co);
	free(url);
}

static void test_uncommitted_note(void **state)
{
	gfx *f = *state;
	sh(f, "git init -q -b main dirty && cd dirty && echo a > a && git add a && "
		"git commit -q -m a && echo b >> a && echo new > untracked");
	char *url = path_in(f, "dirty");
	tpg_git_opts o = { .url = url, .netrc = "" };
	fetched r = fetch_ok(&o);
	assert_true(notes_have(r.co, "2 uncommitted changes"));
	assert_false(exists_in(r.co->workdir, "untracked"));
	char *a = read_in(r.co->workdir, "a");
	assert_string_equal(a, "a\n");
	free(a);
	tpg_git_checkout_free(r.co);
	free(url);
}

static void test_size_caps(void **state)
{
	gfx *f = *state;
	char *parent = new_parent(f);
	sh(f, "git init -q -b main bigrand && cd bigrand && "
		"head -c 1500000 /dev/urandom > blob && git add blob && git commit -q -m big && "
		"cd .. && git init -q -b main zeros && cd zeros && "
		"head -c 3000000 /dev/zero > z && git add z && git commit -q -m zeros");
	char *big = tpg_xasprintf("file://%s/bigrand", f->base);
	char *zeros = path_in(f, "zeros");
	tpg_git_opts o = { .url = big, .max_bytes = 256 * 1024, .workdir_parent = parent,
		.netrc = "" };
	/* The download is over the cap. */
	expect_fail(&o, TPG_ETOOBIG, TPG_GIT_FAIL_TOO_BIG, "repository over 256 KB");
	/* A few KB to download, 3 MB once checked out: caught before checkout. */
	o.url = zeros;
	o.max_bytes = 1024 * 1024;
	expect_fail(&o, TPG_ETOOBIG, TPG_GIT_FAIL_TOO_BIG, "files of the commit");
	assert_int_equal(count_entries(parent), 0);
	o.max_bytes = 0;   /* default 500 MB */
	fetched r = fetch_ok(&o);
	tpg_git_checkout_free(r.co);
	free(big);
	free(zeros);
	free(parent);
}

/* ---- network failures on 127.0.0.1 ---- */

/* A socket that accepts connections (the kernel does) and never answers. */
static int silent_server(int *port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 16), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return s;
}

static int closed_port(void)
{
	int port;
	int s = silent_server(&port);
	close(s);
	return port;
}

static void test_timeout_silent_server(void **state)
{
	gfx *f = *state;
	char *parent = new_parent(f);
	int port;
	int s = silent_server(&port);
	static const char *const forms[] = { "http://127.0.0.1:%d/x.git",
		"https://127.0.0.1:%d/x.git", "git://127.0.0.1:%d/x.git" };

	for (size_t i = 0; i < TPG_ARRAY_LEN(forms); i++) {
		char *url = tpg_xasprintf(forms[i], port);
		tpg_git_opts o = { .url = url, .timeout_ms = 1000, .workdir_parent = parent,
			.token = TOKEN, .netrc = "" };
		long long t0 = tpg_now_ms();
		expect_fail(&o, TPG_ETIMEOUT, TPG_GIT_FAIL_TIMEOUT, "timed out after");
		long long took = tpg_now_ms() - t0;
		assert_true(took >= 900);
		assert_true(took < 5000);
		free(url);
	}
	assert_int_equal(count_entries(parent), 0);
	close(s);
	free(parent);
}

static void test_interrupted(void **state)
{
	gfx *f = *state;
	int port;
	int s = silent_server(&port);
	char *url = tpg_xasprintf("http://127.0.0.1:%d/x.git", port);
	tpg_git_opts o = { .url = url, .timeout_ms = 30000, .netrc = "" };
	TPG_UNUSED(f);
	tpg_interrupt_set(true);
	long long t0 = tpg_now_ms();
	expect_fail(&o, TPG_ECANCELED, TPG_GIT_FAIL_CANCELED, "interrupted");
	tpg_interrupt_set(false);
	assert_true(tpg_now_ms() - t0 < 3000);
	close(s);
	free(url);
}

static void test_unreachable(void **state)
{
	TPG_UNUSED(state);
	int port = closed_port();
	char *http = tpg_xasprintf("http://127.0.0.1:%d/x.git", port);
	char *git = tpg_xasprintf("git://127.0.0.1:%d/x.git", port);
	tpg_git_opts o = { .url = http, .timeout_ms = 10000, .netrc = "" };
	expect_fail(&o, TPG_EUNAVAIL, TPG_GIT_FAIL_UNREACHABLE, "127.0.0.1");
	o.url = git;
	expect_fail(&o, TPG_EUNAVAIL, TPG_GIT_FAIL_UNREACHABLE, "127.0.0.1");
	free(http);
	free(git);
}

/* Secrets given as options, in the URL or in paths never reach a message. */
static void test_secrets_never_shown(void **state)
{
	gfx *f = *state;
	tpg_buf all = TPG_BUF_INIT;
	int port = closed_port();
	int sport;
	int s = silent_server(&sport);
	char *urls[] = {
		tpg_xasprintf("http://student:%s@127.0.0.1:%d/x.git", PASSWD, port),
		tpg_xasprintf("https://%s@127.0.0.1:%d/%s.git", TOKEN, sport, TOKEN),
		tpg_xasprintf("git://127.0.0.1:%d/%s/%s.git", port, TOKEN, PASSWD),
		tpg_xasprintf("%s/missing-%s", f->base, TOKEN),
		tpg_xasprintf("file://%s/missing/%s", f->base, PASSWD),
		tpg_xasprintf("%s", f->hist),
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(urls); i++) {
		tpg_git_opts o = { .url = urls[i], .token = TOKEN, .password = PASSWD,
			.username = "student", .ssh_passphrase = PASSWD, .timeout_ms = 1000,
			.netrc = "", .deadline = "2026-12-10T23:59:00+01:00" };
		fetched r = do_fetch(&o);
		tpg_buf_printf(&all, "%d %s\n", r.rc, r.err.msg);
		if (r.co) {
			tpg_buf_printf(&all, "%s %s %s\n", r.co->display_url, r.co->workdir, r.co->ref);
			for (size_t k = 0; k < r.co->notes.len; k++)
				tpg_buf_printf(&all, "%s\n", r.co->notes.items[k]);
			tpg_git_checkout_free(r.co);
		} else {
			assert_true(r.rc < 0);
		}
		free(urls[i]);
	}
	const char *text = tpg_buf_cstr(&all);
	assert_null(strstr(text, TOKEN));
	assert_null(strstr(text, PASSWD));
	assert_null(strstr(text, "tpgT0k"));
	assert_non_null(strstr(text, "***"));
	tpg_buf_free(&all);
	close(s);
}

static void test_describe_local(void **state)
{
	gfx *f = *state;
	char *commit, *date;
	char *head = capture(f, "git -C hist rev-parse HEAD");
	tpg_err err = { 0 };
	assert_int_equal(tpg_git_describe_local(f->hist, &commit, &date, &err), 0);
	assert_string_equal(commit, head);
	assert_string_equal(date, "2026-12-20T10:00:00+01:00");
	free(commit);
	free(date);
	char *plain = path_in(f, "plain-describe");
	assert_int_equal(mkdir(plain, 0755), 0);
	assert_int_equal(tpg_git_describe_local(plain, &commit, &date, &err), TPG_ENOTFOUND);
	assert_null(commit);
	assert_null(date);
	sh(f, "git init -q -b main nohead");
	char *nohead = path_in(f, "nohead");
	assert_int_equal(tpg_git_describe_local(nohead, &commit, &date, &err), TPG_ENOTFOUND);
	free(nohead);
	free(plain);
	free(head);
}

static void test_failure_names(void **state)
{
	TPG_UNUSED(state);
	for (int w = TPG_GIT_OK; w <= TPG_GIT_FAIL_OTHER; w++)
		assert_non_null(tpg_git_failure_name((tpg_git_failure)w));
	assert_string_equal(tpg_git_failure_name(TPG_GIT_FAIL_EMPTY), "empty repository");
	tpg_git_checkout_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iso8601_valid),
		cmocka_unit_test(test_iso8601_invalid),
		cmocka_unit_test(test_iso8601_format),
		cmocka_unit_test(test_url_redact),
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_strip_password),
		cmocka_unit_test(test_scrub),
		cmocka_unit_test(test_netrc),
		cmocka_unit_test(test_credential_order),
		cmocka_unit_test(test_rmtree_no_follow),
		cmocka_unit_test(test_clone_local_path),
		cmocka_unit_test(test_clone_file_url_and_keep),
		cmocka_unit_test(test_plain_folder_in_place),
		cmocka_unit_test(test_deadline_selection),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_empty_and_missing),
		cmocka_unit_test(test_symlinks_and_names),
		cmocka_unit_test(test_submodules_note),
		cmocka_unit_test(test_default_branch_missing),
		cmocka_unit_test(test_lfs_note),
		cmocka_unit_test(test_uncommitted_note),
		cmocka_unit_test(test_size_caps),
		cmocka_unit_test(test_timeout_silent_server),
		cmocka_unit_test(test_interrupted),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_secrets_never_shown),
		cmocka_unit_test(test_describe_local),
		cmocka_unit_test(test_failure_names),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

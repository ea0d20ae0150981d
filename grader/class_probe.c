/*
 * class_probe.c - what a class run asks a repository before grading it
 * again (an ls-remote through libgit2: refs only, no objects), and what a
 * `tpgrade grade --class-info` child reports back (the commit its ref
 * pointed to, the commit graded, why a fetch failed).
 *
 * It uses the git layer's internals (tpgrade/git_impl.h): URL parsing,
 * credentials (git_cred.c, the callback a fetch uses), scrubbing and error
 * classification, so a probe and a fetch of the same repository
 * authenticate alike and fail with the same failure name.
 */
#include "tpgrade/class.h"
#include "tpgrade/git_impl.h"

#include <git2.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ class info */

static json_t *jstr_or_null(const char *s)
{
	json_t *v = s ? json_string(s) : NULL;
	return v ? v : json_null();
}

typedef struct info_doc {
	json_t *doc;
} info_doc;

static int info_fn(FILE *out, void *ctx, tpg_err *err)
{
	info_doc *d = ctx;
	if (json_dumpf(d->doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
	    fputc('\n', out) == EOF)
		return tpg_err_set(err, TPG_EIO, "write error");
	return 0;
}

int tpg_class_info_write(const char *path, const tpg_git_checkout *co, tpg_git_failure why,
                         const char *message, tpg_err *err)
{
	json_t *d = json_object();
	json_object_set_new(d, "ok", json_boolean(co != NULL));
	if (co) {
		json_object_set_new(d, "failure", json_null());
		json_object_set_new(d, "message", json_null());
		json_object_set_new(d, "tip", jstr_or_null(co->tip));
		json_object_set_new(d, "commit", jstr_or_null(co->commit));
		json_object_set_new(d, "commit_date", jstr_or_null(co->commit_date));
		json_object_set_new(d, "ref", jstr_or_null(co->ref));
		json_object_set_new(d, "commits_after_deadline",
		                    co->is_git ? json_integer(co->commits_after_deadline) : json_null());
	} else {
		json_object_set_new(d, "failure", json_string(tpg_git_failure_name(why)));
		char *clean = tpg_git_printable(message ? message : "", 2000);
		json_object_set_new(d, "message", jstr_or_null(clean));
		free(clean);
	}
	info_doc ctx = { d };
	int rc = tpg_write_atomic(path, info_fn, &ctx, err);
	json_decref(d);
	return rc;
}

static char *get_str(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) ? tpg_xstrdup(json_string_value(v)) : NULL;
}

int tpg_class_info_read(const char *path, tpg_class_info *ci, tpg_err *err)
{
	json_error_t je;
	memset(ci, 0, sizeof(*ci));
	ci->commits_after_deadline = -1;
	json_t *d = json_load_file(path, 0, &je);
	if (!d)
		return tpg_err_set(err, TPG_ENOTFOUND, "%s: %s", path, je.text);
	ci->ok = json_is_true(json_object_get(d, "ok"));
	ci->failure = get_str(d, "failure");
	ci->message = get_str(d, "message");
	ci->tip = get_str(d, "tip");
	ci->commit = get_str(d, "commit");
	ci->commit_date = get_str(d, "commit_date");
	ci->ref = get_str(d, "ref");
	const json_t *n = json_object_get(d, "commits_after_deadline");
	if (json_is_integer(n))
		ci->commits_after_deadline = (int)json_integer_value(n);
	json_decref(d);
	return 0;
}

void tpg_class_info_clear(tpg_class_info *ci)
{
	free(ci->failure);
	free(ci->message);
	free(ci->tip);
	free(ci->commit);
	free(ci->commit_date);
	free(ci->ref);
	memset(ci, 0, sizeof(*ci));
	ci->commits_after_deadline = -1;
}

bool tpg_class_failure_is_transient(const char *failure)
{
	/* The student's doing: the same answer until the student acts. */
	static const tpg_git_failure permanent[] = { TPG_GIT_FAIL_NOT_FOUND, TPG_GIT_FAIL_EMPTY,
		TPG_GIT_FAIL_NO_REF, TPG_GIT_FAIL_NO_COMMIT, TPG_GIT_FAIL_AUTH, TPG_GIT_FAIL_TOO_BIG,
		TPG_GIT_FAIL_INVALID };
	if (!failure)
		return true;
	for (size_t i = 0; i < TPG_ARRAY_LEN(permanent); i++)
		if (strcmp(failure, tpg_git_failure_name(permanent[i])) == 0)
			return false;
	return true;
}

/* ----------------------------------------------------------------- probe */

/* Why the credential callback stopped libgit2 (always an authentication
 * failure); the first reason is the one reported. */
typedef struct prober {
	tpg_git_cred cred;
	int code;
	tpg_err err;
} prober;

static int probe_credentials(git_credential **out, const char *url, const char *url_user,
                             unsigned int allowed, void *payload)
{
	prober *p = payload;
	tpg_err err = { 0 };
	if (tpg_git_cred_acquire(&p->cred, out, url, url_user, allowed, &err) == 0)
		return 0;
	if (!p->code) {
		p->code = err.code;
		p->err = err;
	}
	git_error_set_str(GIT_ERROR_CALLBACK, p->err.msg);
	return GIT_EUSER;
}

static const git_remote_head *find_head(const git_remote_head **heads, size_t n,
                                        const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(heads[i]->name, name) == 0)
			return heads[i];
	return NULL;
}

/* A ref's commit: the peeled entry of an annotated tag when advertised. */
static const git_remote_head *find_commit(const git_remote_head **heads, size_t n,
                                          const char *name)
{
	char *peeled = tpg_xasprintf("%s^{}", name);
	const git_remote_head *h = find_head(heads, n, peeled);
	free(peeled);
	return h ? h : find_head(heads, n, name);
}

static void set_tip(tpg_probe *out, const git_oid *oid)
{
	char hex[GIT_OID_HEXSZ + 1];
	git_oid_tostr(hex, sizeof(hex), oid);
	out->kind = TPG_PROBE_TIP;
	out->tip = tpg_xstrdup(hex);
}

static void set_failed(tpg_probe *out, tpg_git_failure why, const char *msg,
                       const tpg_strv *secrets)
{
	out->kind = TPG_PROBE_FAILED;
	out->failure = tpg_xstrdup(tpg_git_failure_name(why));
	out->message = tpg_git_scrub(tpg_xstrdup(msg), secrets);
}

static void pick(const tpg_git_opts *o, const tpg_git_url *url, const git_remote_head **heads,
                 size_t n, tpg_probe *out, const tpg_strv *secrets)
{
	size_t branches = 0, refs = 0;
	const git_remote_head *only = NULL;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(heads[i]->name, "refs/heads/", 11) == 0) {
			branches++;
			only = heads[i];
		}
		if (strncmp(heads[i]->name, "refs/", 5) == 0)
			refs++;
	}
	const char *want = o->ref;
	if (!want || !want[0]) {
		const git_remote_head *h = find_head(heads, n, "HEAD");
		if (h && !git_oid_is_zero(&h->oid)) {
			set_tip(out, &h->oid);
		} else if (branches == 1) {
			set_tip(out, &only->oid);
		} else {
			char *msg = tpg_xasprintf(refs ? "%s has no commit on its default branch"
			                               : "%s is an empty repository: no commit was pushed",
			                          url->display);
			set_failed(out, refs ? TPG_GIT_FAIL_NO_REF : TPG_GIT_FAIL_EMPTY, msg, secrets);
			free(msg);
		}
		return;
	}
	const char *branch, *tag;
	tpg_git_ref_names(want, &branch, &tag);
	char *branch_ref = tpg_xasprintf("refs/heads/%s", branch);
	char *tag_ref = tpg_xasprintf("refs/tags/%s", tag);
	const git_remote_head *h = find_head(heads, n, branch_ref);
	if (!h)
		h = find_commit(heads, n, tag_ref);
	free(branch_ref);
	free(tag_ref);
	if (h) {
		set_tip(out, &h->oid);
	} else if (tpg_git_is_commit_id(want, NULL)) {
		out->kind = TPG_PROBE_PINNED;
	} else {
		char *shown = tpg_git_printable(want, 200);
		char *msg = refs ? tpg_xasprintf("%s has no branch or tag named '%s'", url->display, shown)
		                 : tpg_xasprintf("%s is an empty repository: no commit was pushed",
		                                 url->display);
		set_failed(out, refs ? TPG_GIT_FAIL_NO_REF : TPG_GIT_FAIL_EMPTY, msg, secrets);
		free(msg);
		free(shown);
	}
}

void tpg_class_probe(const tpg_git_opts *o, tpg_probe *out)
{
	tpg_git_url url;
	tpg_err err = {0};
	tpg_strv secrets = TPG_STRV_INIT;
	prober p;
	git_remote *remote = NULL;
	char *nlogin = NULL, *npass = NULL;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	if (tpg_git_url_parse(o->url, &url, &err) < 0) {
		set_failed(out, TPG_GIT_FAIL_INVALID, err.msg, &secrets);
		return;
	}
	if (tpg_git_enter(&err) < 0) {
		set_failed(out, TPG_GIT_FAIL_OTHER, err.msg, &secrets);
		tpg_git_url_clear(&url);
		return;
	}
	tpg_git_cred_prepare(o, &url, &secrets, &nlogin, &npass);

	if (url.kind == TPG_GIT_URL_LOCAL) {
		char *abs = NULL;
		tpg_git_failure why;
		if (tpg_git_local_folder(&url, &abs, &why, &err) < 0) {
			set_failed(out, why, err.msg, &secrets);
			goto done;
		}
		if (!tpg_git_is_repository(abs)) {
			out->kind = TPG_PROBE_NONE;
			free(abs);
			goto done;
		}
		free(url.fetch);
		url.fetch = abs;
	}

	p.cred.opts = o;
	p.cred.url = &url;
	p.cred.netrc_login = nlogin;
	p.cred.netrc_password = npass;
	git_remote_connect_options co = GIT_REMOTE_CONNECT_OPTIONS_INIT;
	co.callbacks.credentials = probe_credentials;
	co.callbacks.payload = &p;
	co.follow_redirects = GIT_REMOTE_REDIRECT_INITIAL;
	int rc = git_remote_create_detached(&remote, url.fetch);
	if (rc == 0)
		rc = git_remote_connect_ext(remote, GIT_DIRECTION_FETCH, &co);
	const git_remote_head **heads = NULL;
	size_t n = 0;
	if (rc == 0)
		rc = git_remote_ls(&heads, &n, remote);
	if (rc < 0) {
		tpg_git_failure why = TPG_GIT_FAIL_OTHER;
		if (p.code) {
			why = TPG_GIT_FAIL_AUTH;
			err = p.err;
		} else {
			char *what = tpg_xasprintf("cannot fetch %s", url.display);
			tpg_git_error_from_libgit2(rc, what, &why, &err);
			free(what);
		}
		set_failed(out, why, err.msg, &secrets);
	} else {
		pick(o, &url, heads, n, out, &secrets);
	}
	if (remote)
		git_remote_disconnect(remote);
	git_remote_free(remote);
done:
	free(nlogin);
	tpg_git_forget(npass);
	tpg_strv_free(&secrets);
	tpg_git_url_clear(&url);
	git_libgit2_shutdown();
}

/* Encoding: one kind letter, then NUL-separated fields. */
void tpg_probe_encode(const tpg_probe *p, tpg_buf *out)
{
	static const char kinds[] = "TPNF";
	tpg_buf_putc(out, kinds[p->kind]);
	const char *fields[3] = { p->tip, p->failure, p->message };
	for (int i = 0; i < 3; i++) {
		tpg_buf_puts(out, fields[i] ? fields[i] : "");
		tpg_buf_append(out, "", 1);
	}
}

bool tpg_probe_decode(const char *data, size_t len, tpg_probe *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 4)
		return false;
	const char *k = strchr("TPNF", data[0]);
	if (!k || !*k)
		return false;
	out->kind = (tpg_probe_kind)(k - "TPNF");
	char *fields[3] = { NULL, NULL, NULL };
	size_t pos = 1;
	for (int i = 0; i < 3; i++) {
		const char *nul = memchr(data + pos, '\0', len - pos);
		if (!nul) {
			for (int j = 0; j < i; j++)
				free(fields[j]);
			memset(out, 0, sizeof(*out));
			return false;
		}
		size_t n = (size_t)(nul - (data + pos));
		fields[i] = n ? tpg_xstrndup(data + pos, n) : NULL;
		pos += n + 1;
	}
	out->tip = fields[0];
	out->failure = fields[1];
	out->message = fields[2];
	if ((out->kind == TPG_PROBE_TIP && !out->tip) ||
	    (out->kind == TPG_PROBE_FAILED && !out->failure)) {
		tpg_probe_clear(out);
		return false;
	}
	return true;
}

void tpg_probe_clear(tpg_probe *p)
{
	free(p->tip);
	free(p->failure);
	free(p->message);
	memset(p, 0, sizeof(*p));
}

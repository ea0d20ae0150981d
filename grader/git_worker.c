/*
 * git_worker.c - the part of a fetch that runs in the worker process:
 * clone (bare), pick the commit, check it out. It reports to the parent
 * through records on a pipe (git_result.c decodes them).
 */
#include "tpgrade/git_impl.h"

#include <errno.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES 200000
#define MAX_LISTED 8

typedef struct worker {
	const tpg_git_job *job;
	int fd;
	/* Set by a callback that stopped libgit2 on purpose. */
	int code;
	tpg_git_failure why;
	tpg_err err;
	tpg_git_cred cred;
	bool noted_plain_http;
	long long last_progress_ms;
} worker;

/* ---- records to the parent ---- */

static void write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;   /* the parent is gone or gave up: nothing to do */
		p += n;
		len -= (size_t)n;
	}
}

static void record(worker *w, char tag, const char *text)
{
	/* Free text is scrubbed; a SHA or a date must not lose a digit run that
	 * happens to equal a short password. */
	char *clean = strchr("PN", tag)
		? tpg_git_scrub(tpg_xstrdup(text ? text : ""), w->job->secrets)
		: tpg_xstrdup(text ? text : "");
	size_t len = strlen(clean);
	unsigned char hdr[5] = { (unsigned char)tag, (unsigned char)(len >> 24),
		(unsigned char)(len >> 16), (unsigned char)(len >> 8), (unsigned char)len };
	write_all(w->fd, hdr, sizeof(hdr));
	write_all(w->fd, clean, len);
	free(clean);
}

static void recordf(worker *w, char tag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void recordf(worker *w, char tag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = tpg_xvasprintf(fmt, ap);
	va_end(ap);
	record(w, tag, s);
	free(s);
}

/* Remembers why we stopped libgit2; returns the value callbacks return. */
static int stash(worker *w, int code, tpg_git_failure why, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int stash(worker *w, int code, tpg_git_failure why, const char *fmt, ...)
{
	va_list ap;
	if (!w->code) {
		va_start(ap, fmt);
		tpg_err_vset(&w->err, code, fmt, ap);
		va_end(ap);
		w->code = code;
		w->why = why;
	}
	git_error_set_str(GIT_ERROR_CALLBACK, w->err.msg);
	return GIT_EUSER;
}

static int check_stop(worker *w)
{
	if (tpg_interrupted())
		return stash(w, TPG_ECANCELED, TPG_GIT_FAIL_CANCELED,
			"interrupted while fetching %s", w->job->url->display);
	if (tpg_now_ms() >= w->job->stop_ms)
		return stash(w, TPG_ETIMEOUT, TPG_GIT_FAIL_TIMEOUT,
			"timed out fetching %s", w->job->url->display);
	return 0;
}

/* ---- libgit2 callbacks ---- */

static int on_transfer(const git_indexer_progress *st, void *payload)
{
	worker *w = payload;

	if ((long long)st->received_bytes > w->job->max_bytes) {
		char cap[32];
		return stash(w, TPG_ETOOBIG, TPG_GIT_FAIL_TOO_BIG,
			"repository over %s: stopped downloading %s",
			tpg_format_size(w->job->max_bytes, cap, sizeof(cap)), w->job->url->display);
	}
	if (check_stop(w) < 0)
		return GIT_EUSER;
	long long now = tpg_now_ms();
	if (now - w->last_progress_ms >= 500) {
		w->last_progress_ms = now;
		if (st->received_objects < st->total_objects || !st->total_objects)
			recordf(w, 'P', "receiving objects (%u/%u, %zu KB)", st->received_objects,
				st->total_objects, st->received_bytes / 1024);
		else
			recordf(w, 'P', "resolving deltas (%u/%u)", st->indexed_deltas,
				st->total_deltas);
	}
	return 0;
}

static int on_sideband(const char *str, int len, void *payload)
{
	TPG_UNUSED(str);
	TPG_UNUSED(len);
	return check_stop(payload) < 0 ? GIT_EUSER : 0;
}

static int on_credentials(git_credential **out, const char *url, const char *url_user,
	unsigned int allowed, void *payload)
{
	worker *w = payload;
	tpg_err err = { 0 };
	int rc = tpg_git_cred_acquire(&w->cred, out, url, url_user, allowed, &err);

	if (w->cred.plain_http && !w->noted_plain_http) {
		w->noted_plain_http = true;
		record(w, 'N', "credentials were sent over plain http (not https)");
	}
	return rc < 0 ? stash(w, rc, TPG_GIT_FAIL_AUTH, "%s", err.msg) : 0;
}

/* ---- failures ---- */

static int fail(worker *w, int code, tpg_git_failure why, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(worker *w, int code, tpg_git_failure why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tpg_err_vset(&w->err, code, fmt, ap);
	va_end(ap);
	w->code = code;
	w->why = why;
	return code;
}

/* After a libgit2 call failed: our stashed reason, or libgit2's. */
static int fail_git(worker *w, int rc, const char *what)
{
	if (w->code)
		return w->code;
	w->code = tpg_git_error_from_libgit2(rc, what, &w->why, &w->err);
	return w->code;
}

/* ---- choosing the commit ---- */

/* "a, b, c" of up to MAX_LISTED refs matching glob, shortened, printable. */
static char *list_refs(git_repository *repo, const char *glob, size_t prefix)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	tpg_buf b = TPG_BUF_INIT;
	int n = 0;

	if (git_reference_iterator_glob_new(&it, repo, glob) < 0)
		return tpg_buf_detach(&b);
	while (git_reference_next(&ref, it) == 0) {
		const char *name = git_reference_name(ref);
		if (strlen(name) > prefix && strcmp(name + prefix, "HEAD") != 0) {
			if (n < MAX_LISTED) {
				char *shown = tpg_git_printable(name + prefix, 80);
				tpg_buf_printf(&b, "%s%s", n ? ", " : "", shown);
				free(shown);
			} else if (n == MAX_LISTED) {
				tpg_buf_puts(&b, ", ...");
			}
			n++;
		}
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	return tpg_buf_detach(&b);
}

static int missing_ref(worker *w, git_repository *repo, const char *what)
{
	char *branches = list_refs(repo, "refs/remotes/origin/*", strlen("refs/remotes/origin/"));
	char *tags = list_refs(repo, "refs/tags/*", strlen("refs/tags/"));
	char *shown = tpg_git_printable(what, 200);
	int rc;

	if (!branches[0] && !tags[0])
		rc = fail(w, TPG_ENOTFOUND, TPG_GIT_FAIL_EMPTY,
			"%s is an empty repository: no commit was pushed", w->job->url->display);
	else
		rc = fail(w, TPG_ENOTFOUND, TPG_GIT_FAIL_NO_REF,
			"%s has no %s (branches: %s; tags: %s)", w->job->url->display, shown,
			branches[0] ? branches : "none", tags[0] ? tags : "none");
	free(branches);
	free(tags);
	free(shown);
	return rc;
}

bool tpg_git_is_commit_id(const char *s, size_t *len)
{
	size_t n = 0;
	while (s[n] && strchr("0123456789abcdefABCDEF", s[n]))
		n++;
	if (len)
		*len = n;
	return !s[n] && n >= 4 && n <= GIT_OID_HEXSZ;
}

void tpg_git_ref_names(const char *want, const char **branch, const char **tag)
{
	*branch = want;
	if (strncmp(want, "refs/heads/", 11) == 0)
		*branch = want + 11;
	else if (strncmp(want, "origin/", 7) == 0)
		*branch = want + 7;
	*tag = strncmp(want, "refs/tags/", 10) == 0 ? want + 10 : *branch;
}

/* Looks `name` up as a reference and peels it to a commit. 1 if found. */
static int try_ref(worker *w, git_repository *repo, const char *name, git_commit **out)
{
	git_reference *ref = NULL;
	git_object *obj = NULL;
	int valid = 0;

	if (git_reference_name_is_valid(&valid, name) < 0 || !valid)
		return 0;
	if (git_reference_lookup(&ref, repo, name) < 0)
		return 0;
	int rc = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT);
	git_reference_free(ref);
	if (rc < 0) {
		char *shown = tpg_git_printable(name, 200);
		fail(w, TPG_ENOTFOUND, TPG_GIT_FAIL_NO_REF,
			"%s in %s does not point to a commit", shown, w->job->url->display);
		free(shown);
		return -1;
	}
	*out = (git_commit *)obj;
	return 1;
}

/*
 * The remote HEAD names a branch that was never pushed (a server created
 * the repository with "master", the student pushed "main"): with a single
 * branch there is no doubt about what to grade.
 */
static int unborn_head(worker *w, git_repository *repo, git_commit **tip, char **refname)
{
	git_reference_iterator *it = NULL;
	git_reference *ref, *only = NULL, *head = NULL;
	const char *prefix = "refs/remotes/origin/";
	int n = 0, rc;

	if (git_reference_iterator_glob_new(&it, repo, "refs/remotes/origin/*") == 0) {
		while (git_reference_next(&ref, it) == 0) {
			if (strcmp(git_reference_name(ref) + strlen(prefix), "HEAD") == 0 || n++) {
				git_reference_free(ref);
				continue;
			}
			only = ref;
		}
		git_reference_iterator_free(it);
	}
	char *target = tpg_xstrdup("?");
	if (git_reference_lookup(&head, repo, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC) {
		const char *t = git_reference_symbolic_target(head);
		free(target);
		target = tpg_git_printable(strncmp(t, "refs/heads/", 11) == 0 ? t + 11 : t, 100);
	}
	git_reference_free(head);
	if (n != 1) {
		git_reference_free(only);
		char *what = tpg_xasprintf("commit on its default branch (HEAD: %s)", target);
		rc = missing_ref(w, repo, what);
		free(what);
		free(target);
		return rc;
	}
	git_object *obj = NULL;
	rc = git_reference_peel(&obj, only, GIT_OBJECT_COMMIT);
	if (rc == 0) {
		*tip = (git_commit *)obj;
		*refname = tpg_xstrdup(git_reference_name(only) + strlen(prefix));
		char *shown = tpg_git_printable(*refname, 100);
		recordf(w, 'N', "the default branch (%s) has no commit: graded the only branch, %s",
			target, shown);
		free(shown);
	} else {
		fail_git(w, rc, "cannot read the only branch");
	}
	git_reference_free(only);
	free(target);
	return rc < 0 ? w->code : 0;
}

static int resolve(worker *w, git_repository *repo, git_commit **tip, char **refname)
{
	const char *want = w->job->opts->ref;
	int rc;

	*tip = NULL;
	*refname = NULL;
	if (!want || !want[0]) {
		git_reference *head = NULL;
		rc = git_repository_head(&head, repo);
		if (rc == GIT_EUNBORNBRANCH || rc == GIT_ENOTFOUND)
			return unborn_head(w, repo, tip, refname);
		if (rc < 0)
			return fail_git(w, rc, "cannot read HEAD");
		*refname = tpg_xstrdup(git_reference_shorthand(head));
		git_object *obj = NULL;
		rc = git_reference_peel(&obj, head, GIT_OBJECT_COMMIT);
		git_reference_free(head);
		if (rc < 0)
			return fail_git(w, rc, "cannot read the commit of HEAD");
		*tip = (git_commit *)obj;
		return 0;
	}

	const char *branch, *tag;
	tpg_git_ref_names(want, &branch, &tag);
	static const char *const prefixes[] = { "refs/remotes/origin/", "refs/heads/",
		"refs/tags/" };
	for (size_t i = 0; i < TPG_ARRAY_LEN(prefixes); i++) {
		const char *shortname = i == 2 ? tag : branch;
		char *name = tpg_xasprintf("%s%s", prefixes[i], shortname);
		rc = try_ref(w, repo, name, tip);
		free(name);
		if (rc < 0)
			return w->code;
		if (rc > 0) {
			*refname = tpg_xstrdup(shortname);
			return 0;
		}
	}
	size_t hexlen;
	if (tpg_git_is_commit_id(want, &hexlen)) {
		git_oid oid;
		git_object *obj = NULL, *peeled = NULL;
		if (git_oid_fromstrn(&oid, want, hexlen) == 0) {
			rc = git_object_lookup_prefix(&obj, repo, &oid, hexlen, GIT_OBJECT_ANY);
			if (rc == GIT_EAMBIGUOUS)
				return fail(w, TPG_ENOTFOUND, TPG_GIT_FAIL_NO_REF,
					"%s is ambiguous in %s: give more hex digits", want,
					w->job->url->display);
			if (rc == 0) {
				rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
				git_object_free(obj);
				if (rc < 0)
					return fail(w, TPG_ENOTFOUND, TPG_GIT_FAIL_NO_REF,
						"%s in %s is not a commit", want, w->job->url->display);
				*tip = (git_commit *)peeled;
				*refname = tpg_xstrdup(want);
				return 0;
			}
		}
		char *shown = tpg_xasprintf("commit %s on any branch or tag", want);
		rc = missing_ref(w, repo, shown);
		free(shown);
		return rc;
	}
	char *shown = tpg_xasprintf("branch or tag named '%s'", want);
	rc = missing_ref(w, repo, shown);
	free(shown);
	return rc;
}

/* First-parent walk back from tip to the first commit at or before the
 * deadline. Committer time: what `git log --before` uses (docs/git.md). */
static int apply_deadline(worker *w, git_commit **commit, int *after, const char *refname)
{
	git_commit *c = *commit;
	int n = 0;

	*after = 0;
	if (!w->job->has_deadline)
		return 0;
	while ((long long)git_commit_time(c) > w->job->deadline_epoch) {
		n++;
		if ((n & 1023) == 0 && check_stop(w) < 0)
			return w->code;
		if (git_commit_parentcount(c) == 0) {
			char *shown = tpg_git_printable(refname, 200);
			char *dl = tpg_format_iso8601(w->job->deadline_epoch, w->job->deadline_offset);
			fail(w, TPG_ENOTFOUND, TPG_GIT_FAIL_NO_COMMIT,
				"every commit of %s in %s (%d, first-parent) is after the deadline %s",
				shown, w->job->url->display, n, dl);
			free(dl);
			free(shown);
			return w->code;
		}
		git_commit *parent = NULL;
		int rc = git_commit_parent(&parent, c, 0);
		if (rc < 0)
			return fail_git(w, rc, "cannot read the history");
		git_commit_free(c);
		c = *commit = parent;
	}
	*after = n;
	return 0;
}

/* ---- the tree: size cap, submodules ---- */

typedef struct tree_scan {
	worker *w;
	git_odb *odb;
	long long bytes;
	long files;
	tpg_strv gitlinks;
	bool gitmodules;
	bool has_attributes;
	git_oid attributes;    /* the root .gitattributes */
} tree_scan;

static int on_tree_entry(const char *root, const git_tree_entry *e, void *payload)
{
	tree_scan *s = payload;
	git_filemode_t mode = git_tree_entry_filemode(e);

	if (mode == GIT_FILEMODE_COMMIT) {
		if (s->gitlinks.len < MAX_LISTED)
			tpg_strv_push_owned(&s->gitlinks,
				tpg_xasprintf("%s%s", root, git_tree_entry_name(e)));
		return 0;
	}
	if (!root[0] && strcmp(git_tree_entry_name(e), ".gitmodules") == 0)
		s->gitmodules = true;
	if (!root[0] && strcmp(git_tree_entry_name(e), ".gitattributes") == 0 &&
	    git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
		s->has_attributes = true;
		git_oid_cpy(&s->attributes, git_tree_entry_id(e));
	}
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		return 0;
	size_t len = 0;
	git_object_t type;
	if (git_odb_read_header(&len, &type, s->odb, git_tree_entry_id(e)) == 0)
		s->bytes += (long long)len;
	if (++s->files > MAX_FILES) {
		fail(s->w, TPG_ETOOBIG, TPG_GIT_FAIL_TOO_BIG,
			"the commit has more than %d files", MAX_FILES);
		return -1;
	}
	if (s->bytes > s->w->job->max_bytes) {
		char cap[32];
		fail(s->w, TPG_ETOOBIG, TPG_GIT_FAIL_TOO_BIG,
			"repository over %s: the files of the commit add up to more",
			tpg_format_size(s->w->job->max_bytes, cap, sizeof(cap)));
		return -1;
	}
	if ((s->files & 4095) == 0 && check_stop(s->w) < 0)
		return -1;
	return 0;
}

/* Git LFS files come out as small pointer files: graders should know. */
static void note_lfs(worker *w, git_repository *repo, const tree_scan *s)
{
	git_blob *blob = NULL;

	if (!s->has_attributes || git_blob_lookup(&blob, repo, &s->attributes) < 0)
		return;
	git_object_size_t size = git_blob_rawsize(blob);
	if (size < 1024 * 1024 && memmem(git_blob_rawcontent(blob), (size_t)size,
		"filter=lfs", 10))
		record(w, 'N', "the repository uses Git LFS: LFS files are checked out as "
			"pointer files, their contents were not fetched");
	git_blob_free(blob);
}

static int scan_tree(worker *w, git_repository *repo, git_commit *commit, bool *submodules)
{
	tree_scan s = { .w = w };
	git_tree *tree = NULL;
	int rc;

	*submodules = false;
	if ((rc = git_commit_tree(&tree, commit)) < 0)
		return fail_git(w, rc, "cannot read the commit's tree");
	if ((rc = git_repository_odb(&s.odb, repo)) < 0) {
		git_tree_free(tree);
		return fail_git(w, rc, "cannot open the object database");
	}
	rc = git_tree_walk(tree, GIT_TREEWALK_PRE, on_tree_entry, &s);
	git_odb_free(s.odb);
	git_tree_free(tree);
	if (rc < 0) {
		tpg_strv_free(&s.gitlinks);
		return w->code ? w->code : fail_git(w, rc, "cannot read the commit's tree");
	}
	if (s.gitmodules || s.gitlinks.len) {
		*submodules = true;
		tpg_buf b = TPG_BUF_INIT;
		tpg_buf_puts(&b, "the repository has submodules; they were not fetched");
		for (size_t i = 0; i < s.gitlinks.len; i++) {
			char *shown = tpg_git_printable(s.gitlinks.items[i], 200);
			tpg_buf_printf(&b, "%s%s", i ? ", " : ": ", shown);
			free(shown);
		}
		if (s.gitlinks.len == MAX_LISTED)
			tpg_buf_puts(&b, ", ...");
		if (s.gitmodules && !s.gitlinks.len)
			tpg_buf_puts(&b, " (.gitmodules)");
		record(w, 'N', tpg_buf_cstr(&b));
		tpg_buf_free(&b);
	}
	tpg_strv_free(&s.gitlinks);
	note_lfs(w, repo, &s);
	return 0;
}

static int checkout(worker *w, git_repository *repo, git_commit *commit)
{
	git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
	int rc;

	if (mkdir(w->job->workdir, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		return fail(w, TPG_EIO, TPG_GIT_FAIL_OTHER, "cannot create %s: %s",
			w->job->workdir, strerror(e));
	}
	/* The bare clone gets a work tree for the checkout only (no .git link
	 * is written in it): libgit2 needs one to skip submodules gracefully. */
	if ((rc = git_repository_set_workdir(repo, w->job->workdir, 0)) < 0)
		return fail_git(w, rc, "cannot prepare the checkout");
	co.checkout_strategy = GIT_CHECKOUT_FORCE;
	rc = git_checkout_tree(repo, (const git_object *)commit, &co);
	if (rc < 0)
		return fail_git(w, rc, "cannot check the commit out");
	return 0;
}

/* For a local repository: say when the student's folder differs from what
 * is graded (only commits are graded). */
static void note_uncommitted(worker *w)
{
	git_repository *repo = NULL;
	git_status_list *list = NULL;
	git_status_options so = GIT_STATUS_OPTIONS_INIT;

	if (!w->job->local_source)
		return;
	if (git_repository_open_ext(&repo, w->job->local_source,
		GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return;
	if (git_repository_is_bare(repo)) {
		git_repository_free(repo);
		return;
	}
	so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (git_status_list_new(&list, repo, &so) == 0) {
		size_t n = git_status_list_entrycount(list);
		if (n)
			recordf(w, 'N', "the local repository has %zu uncommitted change%s "
				"(modified or untracked files): only committed files are graded",
				n, n == 1 ? "" : "s");
		git_status_list_free(list);
	}
	git_repository_free(repo);
}

static int run(worker *w)
{
	const tpg_git_job *job = w->job;
	git_clone_options co = GIT_CLONE_OPTIONS_INIT;
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	char *refname = NULL;
	int after = 0, rc;
	bool submodules = false;
	char oid[GIT_OID_HEXSZ + 1], tip[GIT_OID_HEXSZ + 1];

	co.bare = 1;
	/* Always through a transport: a local clone would hard-link the
	 * student's object files and bypass the size cap. */
	co.local = GIT_CLONE_NO_LOCAL;
	co.fetch_opts.callbacks.credentials = on_credentials;
	co.fetch_opts.callbacks.transfer_progress = on_transfer;
	co.fetch_opts.callbacks.sideband_progress = on_sideband;
	co.fetch_opts.callbacks.payload = w;
	co.fetch_opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	co.fetch_opts.follow_redirects = GIT_REMOTE_REDIRECT_INITIAL;

	record(w, 'P', "connecting");
	rc = git_clone(&repo, job->url->fetch, job->gitdir, &co);
	if (rc < 0) {
		char *what = tpg_xasprintf("cannot fetch %s", job->url->display);
		fail_git(w, rc, what);
		free(what);
		return w->code;
	}
	record(w, 'P', "selecting the commit");
	if ((rc = resolve(w, repo, &commit, &refname)) < 0)
		goto out;
	git_oid_tostr(tip, sizeof(tip), git_commit_id(commit));
	if ((rc = apply_deadline(w, &commit, &after, refname)) < 0)
		goto out;
	git_oid_tostr(oid, sizeof(oid), git_commit_id(commit));
	if (after) {
		char *shown = tpg_git_printable(refname, 200);
		char *dl = tpg_format_iso8601(job->deadline_epoch, job->deadline_offset);
		recordf(w, 'N', "%d commit%s of %s after the deadline (%s) %s not graded", after,
			after == 1 ? "" : "s", shown, dl, after == 1 ? "was" : "were");
		free(dl);
		free(shown);
	}
	recordf(w, 'P', "checking out %s", oid);
	if ((rc = scan_tree(w, repo, commit, &submodules)) < 0)
		goto out;
	if ((rc = checkout(w, repo, commit)) < 0)
		goto out;
	note_uncommitted(w);

	char *date = tpg_format_iso8601((long long)git_commit_time(commit),
		git_commit_time_offset(commit));
	record(w, 'C', oid);
	record(w, 'H', tip);
	record(w, 'D', date);
	recordf(w, 'T', "%lld", (long long)git_commit_time(commit));
	record(w, 'R', refname);
	recordf(w, 'A', "%d", after);
	record(w, 'S', submodules ? "1" : "0");
	free(date);
	rc = 0;
out:
	free(refname);
	git_commit_free(commit);
	git_repository_free(repo);
	return rc < 0 ? w->code : 0;
}

int tpg_git_worker_run(const tpg_git_job *job, int fd)
{
	worker w = { .job = job, .fd = fd };
	w.cred.opts = job->opts;
	w.cred.url = job->url;
	w.cred.netrc_login = job->netrc_login;
	w.cred.netrc_password = job->netrc_password;
	int rc = run(&w);

	if (rc < 0) {
		if (!w.code)
			fail(&w, rc, TPG_GIT_FAIL_OTHER, "git fetch failed");
		tpg_git_scrub_err(&w.err, job->secrets);
		recordf(&w, 'E', "%d\n%d\n%s", w.code, (int)w.why, w.err.msg);
		return w.code;
	}
	record(&w, 'K', "");
	return 0;
}

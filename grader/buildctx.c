/*
 * buildctx.c - the build context tar and .dockerignore, as the docker CLI
 * builds them (moby/patternmatcher + the archive walker), but walking the
 * untrusted folder with openat()/O_NOFOLLOW only.
 */
#include "tpgrade/buildctx.h"
#include "tpgrade/glob.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 200
#define DOCKERIGNORE_MAX (1u << 20)

/* ---------------------------------------------------------------- patterns */

typedef struct ign_pattern {
	tpg_glob *glob;
	bool exclusion;
} ign_pattern;

struct tpg_dockerignore {
	ign_pattern *pats;
	size_t len, cap;
	bool exclusions;
};

static bool is_go_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char *trim_dup(const char *s, size_t n)
{
	while (n && is_go_space(*s)) {
		s++;
		n--;
	}
	while (n && is_go_space(s[n - 1]))
		n--;
	return tpg_xstrndup(s, n);
}

/* Adds one pattern as patternmatcher.New does: trimmed, cleaned, "!". */
int tpg_dockerignore_add(tpg_dockerignore *ign, const char *pattern, tpg_err *err)
{
	char *p = trim_dup(pattern, strlen(pattern));
	bool exclusion = false;
	int rc = 0;

	if (*p == '\0')
		goto out;
	if (p[0] == '!') {
		if (p[1] == '\0') {
			rc = tpg_err_set(err, TPG_EINVAL, "illegal exclusion pattern: \"!\"");
			goto out;
		}
		exclusion = true;
	}
	tpg_glob *g;
	rc = tpg_glob_compile(p + (exclusion ? 1 : 0), 0, &g, err);
	if (rc < 0)
		goto out;
	TPG_ARRAY_GROW(ign->pats, ign->len, ign->cap);
	ign->pats[ign->len].glob = g;
	ign->pats[ign->len].exclusion = exclusion;
	ign->len++;
	if (exclusion)
		ign->exclusions = true;
out:
	free(p);
	return rc;
}

int tpg_dockerignore_parse(const char *text, size_t len, tpg_dockerignore **out, tpg_err *err)
{
	tpg_dockerignore *ign = tpg_xcalloc(1, sizeof(*ign));
	size_t pos = 0;
	int lineno = 0;

	*out = NULL;
	while (text && pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		if (n && line[n - 1] == '\r')
			n--;
		if (lineno++ == 0 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
			line += 3;
			n -= 3;
		}
		if (n && line[0] == '#')
			continue;
		char *pat = trim_dup(line, n);
		if (*pat == '\0') {
			free(pat);
			continue;
		}
		/* The CLI cleans the pattern (keeping "!") and makes it relative. */
		bool invert = pat[0] == '!';
		char *body = invert ? trim_dup(pat + 1, strlen(pat + 1)) : tpg_xstrdup(pat);
		char *clean = *body ? tpg_path_clean(body, NULL) : tpg_xstrdup("");
		char *full = tpg_xasprintf("%s%s", invert ? "!" : "", clean);
		int rc = tpg_dockerignore_add(ign, full, err);
		free(full);
		free(clean);
		free(body);
		free(pat);
		if (rc < 0) {
			tpg_err_prefix(err, ".dockerignore line %d", lineno);
			tpg_dockerignore_free(ign);
			return rc;
		}
	}
	*out = ign;
	return 0;
}

void tpg_dockerignore_free(tpg_dockerignore *ign)
{
	if (!ign)
		return;
	for (size_t i = 0; i < ign->len; i++)
		tpg_glob_free(ign->pats[i].glob);
	free(ign->pats);
	free(ign);
}

bool tpg_dockerignore_has_exceptions(const tpg_dockerignore *ign)
{
	return ign && ign->exclusions;
}

size_t tpg_dockerignore_count(const tpg_dockerignore *ign)
{
	return ign ? ign->len : 0;
}

/* Does the pattern match `path` or, when we know nothing of the parent,
 * one of its parent directories? */
static bool pattern_matches(const ign_pattern *p, const char *path, bool check_parents)
{
	if (tpg_glob_match(p->glob, path))
		return true;
	if (!check_parents)
		return false;
	const char *slash = strrchr(path, '/');
	if (!slash)
		return false;
	char *prefix = tpg_xstrndup(path, (size_t)(slash - path));
	bool hit = false;
	for (char *s = prefix;; s++) {
		if (*s == '/' || *s == '\0') {
			char saved = *s;
			*s = '\0';
			hit = tpg_glob_match(p->glob, prefix);
			*s = saved;
			if (hit || saved == '\0')
				break;
		}
	}
	free(prefix);
	return hit;
}

/* patternmatcher's MatchesUsingParentResults: `parent` is the parent
 * directory's per-pattern results (NULL at the top, or when unknown);
 * `info` (may be NULL) receives this path's. */
static bool ign_match(const tpg_dockerignore *ign, const char *path, const bool *parent,
                      bool *info)
{
	bool matched = false;

	for (size_t i = 0; i < ign->len; i++) {
		const ign_pattern *p = &ign->pats[i];
		bool match = parent ? parent[i] : false;
		if (!match) {
			if (p->exclusion != matched) {
				if (info)
					info[i] = false;
				continue;
			}
			match = pattern_matches(p, path, parent == NULL);
		}
		if (info)
			info[i] = match;
		if (match)
			matched = !p->exclusion;
	}
	return matched;
}

bool tpg_dockerignore_excluded(const tpg_dockerignore *ign, const char *path)
{
	if (!ign || ign->len == 0)
		return false;
	return ign_match(ign, path, NULL, NULL);
}

/* An excluded directory is still entered when an exception names
 * something under it. */
static bool exception_under(const tpg_dockerignore *ign, const char *dir)
{
	size_t n = strlen(dir);
	for (size_t i = 0; i < ign->len; i++) {
		if (!ign->pats[i].exclusion)
			continue;
		const char *pat = tpg_glob_pattern(ign->pats[i].glob);
		if (strncmp(pat, dir, n) == 0 && (pat[n] == '/' || pat[n] == '\0'))
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------- walk */

typedef struct walker {
	const tpg_dockerignore *ign;
	size_t limit;
	tpg_buildctx_stats st;
	struct archive *ar;      /* when writing */
	struct archive_entry *entry;
	tpg_strv *list;          /* when listing */
	char *iobuf;
	tpg_err *err;
} walker;

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_names(int dirfd, const char *rel, tpg_strv *names, tpg_err *err)
{
	int fd = dup(dirfd);
	if (fd < 0)
		return tpg_err_errno(err, errno, "cannot read folder '%s'", *rel ? rel : ".");
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return tpg_err_errno(err, e, "cannot read folder '%s'", *rel ? rel : ".");
	}
	rewinddir(d);
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		tpg_strv_push(names, de->d_name);
	}
	closedir(d);
	if (names->len)
		qsort(names->items, names->len, sizeof(char *), cmp_names);
	return 0;
}

static int ar_fail(walker *w, const char *rel)
{
	return tpg_err_set(w->err, TPG_EIO, "cannot write the build context (at '%s'): %s", rel,
	                   archive_error_string(w->ar) ? archive_error_string(w->ar) : "?");
}

static void entry_common(walker *w, const char *path, const struct stat *sb, mode_t type)
{
	archive_entry_clear(w->entry);
	archive_entry_set_pathname(w->entry, path);
	archive_entry_set_filetype(w->entry, type);
	archive_entry_set_perm(w->entry, sb->st_mode & 07777);
	archive_entry_set_uid(w->entry, 0);
	archive_entry_set_gid(w->entry, 0);
	archive_entry_set_mtime(w->entry, sb->st_mtim.tv_sec, 0);
}

static int add_dir(walker *w, const char *rel, const struct stat *sb)
{
	w->st.dirs++;
	if (w->list) {
		tpg_strv_push(w->list, rel);
		return 0;
	}
	char *name = tpg_xasprintf("%s/", rel);
	entry_common(w, name, sb, AE_IFDIR);
	free(name);
	if (archive_write_header(w->ar, w->entry) != ARCHIVE_OK)
		return ar_fail(w, rel);
	return 0;
}

static int add_symlink(walker *w, int dirfd, const char *name, const char *rel,
                       const struct stat *sb)
{
	w->st.symlinks++;
	if (w->list) {
		tpg_strv_push(w->list, rel);
		return 0;
	}
	char target[4097];
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
	if (n < 0)
		return tpg_err_errno(w->err, errno, "cannot read symlink '%s'", rel);
	target[n] = '\0';
	entry_common(w, rel, sb, AE_IFLNK);
	archive_entry_set_symlink(w->entry, target);
	if (archive_write_header(w->ar, w->entry) != ARCHIVE_OK)
		return ar_fail(w, rel);
	return 0;
}

static int over_limit(walker *w)
{
	if (w->limit % (1u << 20) == 0)
		return tpg_err_set(w->err, TPG_ETOOBIG, "build context over %zu MB",
		                   w->limit >> 20);
	return tpg_err_set(w->err, TPG_ETOOBIG, "build context over %zu bytes", w->limit);
}

static int add_file(walker *w, int dirfd, const char *name, const char *rel,
                    const struct stat *lsb)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return tpg_err_errno(w->err, errno, "cannot open '%s' of the build context", rel);
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_ino != lsb->st_ino ||
	    sb.st_dev != lsb->st_dev) {
		close(fd);
		return tpg_err_set(w->err, TPG_EIO, "'%s' changed while the build context was read",
		                   rel);
	}
	unsigned long long size = (unsigned long long)sb.st_size;
	if (w->st.bytes + size > w->limit) {
		close(fd);
		return over_limit(w);
	}
	w->st.bytes += size;
	w->st.files++;
	if (w->list) {
		close(fd);
		tpg_strv_push(w->list, rel);
		return 0;
	}
	entry_common(w, rel, &sb, AE_IFREG);
	archive_entry_set_size(w->entry, (la_int64_t)size);
	if (archive_write_header(w->ar, w->entry) != ARCHIVE_OK) {
		close(fd);
		return ar_fail(w, rel);
	}
	/* A file that shrinks meanwhile is padded by libarchive; one that
	 * grows is cut at the size announced. */
	unsigned long long left = size;
	while (left > 0) {
		size_t want = left < 65536 ? (size_t)left : 65536;
		ssize_t n = read(fd, w->iobuf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return tpg_err_errno(w->err, e, "cannot read '%s' of the build context", rel);
		}
		if (n == 0)
			break;
		if (archive_write_data(w->ar, w->iobuf, (size_t)n) < 0) {
			close(fd);
			return ar_fail(w, rel);
		}
		left -= (unsigned long long)n;
	}
	close(fd);
	return 0;
}

static int walk_dir(walker *w, int dirfd, const char *rel, const bool *parent, int depth)
{
	tpg_strv names = TPG_STRV_INIT;
	size_t npat = tpg_dockerignore_count(w->ign);
	bool *info = tpg_xcalloc(npat ? npat : 1, sizeof(bool));
	int rc;

	if (depth > MAX_DEPTH) {
		rc = tpg_err_set(w->err, TPG_EINVAL, "build context nested deeper than %d folders at '%s'",
		                 MAX_DEPTH, rel);
		goto out;
	}
	rc = read_names(dirfd, rel, &names, w->err);
	for (size_t i = 0; rc == 0 && i < names.len; i++) {
		const char *name = names.items[i];
		char *path = *rel ? tpg_xasprintf("%s/%s", rel, name) : tpg_xstrdup(name);
		struct stat sb;

		if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			w->st.skipped++;   /* vanished meanwhile */
			free(path);
			continue;
		}
		bool isdir = S_ISDIR(sb.st_mode);
		bool skip = npat && ign_match(w->ign, path, parent, info);
		bool add = true;
		if (skip) {
			w->st.excluded++;
			if (!isdir || !tpg_dockerignore_has_exceptions(w->ign) ||
			    !exception_under(w->ign, path)) {
				free(path);
				continue;
			}
			add = false;   /* descend, without the folder's own entry */
		}
		if (isdir) {
			if (add)
				rc = add_dir(w, path, &sb);
			if (rc == 0) {
				int sub = openat(dirfd, name,
				                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub < 0) {
					rc = tpg_err_errno(w->err, errno, "cannot open folder '%s'", path);
				} else {
					bool *mine = NULL;
					if (npat) {
						mine = tpg_xmalloc(npat * sizeof(bool));
						memcpy(mine, info, npat * sizeof(bool));
					}
					rc = walk_dir(w, sub, path, mine, depth + 1);
					free(mine);
					close(sub);
				}
			}
		} else if (S_ISLNK(sb.st_mode)) {
			rc = add_symlink(w, dirfd, name, path, &sb);
		} else if (S_ISREG(sb.st_mode)) {
			rc = add_file(w, dirfd, name, path, &sb);
		} else {
			w->st.skipped++;   /* sockets, FIFOs, devices */
		}
		free(path);
	}
out:
	free(info);
	tpg_strv_free(&names);
	return rc;
}

static int read_dockerignore(int rootfd, tpg_dockerignore **out, tpg_err *err)
{
	int fd = openat(rootfd, ".dockerignore", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return tpg_dockerignore_parse(NULL, 0, out, err);
		if (errno == ELOOP)
			return tpg_err_set(err, TPG_ESYMLINK,
			                   ".dockerignore is a symlink: tpgrade does not follow it");
		return tpg_err_errno(err, errno, "cannot open .dockerignore");
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return tpg_err_set(err, TPG_EINVAL, ".dockerignore is not a regular file");
	}
	tpg_buf b;
	tpg_buf_init_capped(&b, DOCKERIGNORE_MAX, false);
	char chunk[8192];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 && !b.truncated)
		tpg_buf_append(&b, chunk, (size_t)n);
	close(fd);
	if (b.truncated) {
		tpg_buf_free(&b);
		return tpg_err_set(err, TPG_ETOOBIG, ".dockerignore is over 1 MB");
	}
	int rc = tpg_dockerignore_parse(tpg_buf_cstr(&b), b.len, out, err);
	tpg_buf_free(&b);
	return rc;
}

static int run(const char *dir, const tpg_buildctx_opts *opts, walker *w)
{
	const char *dockerfile = opts && opts->dockerfile ? opts->dockerfile : "Dockerfile";
	bool escapes = false;
	char *df = tpg_path_clean(dockerfile, &escapes);
	tpg_dockerignore *ign = NULL;
	int rc;

	w->limit = opts && opts->limit ? opts->limit : TPG_BUILDCTX_DEFAULT_LIMIT;
	if (escapes || dockerfile[0] == '/' || strcmp(df, ".") == 0) {
		rc = tpg_err_set(w->err, TPG_EINVAL,
		                 "the Dockerfile '%s' must be a file inside the build context",
		                 dockerfile);
		free(df);
		return rc;
	}
	int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		rc = tpg_err_errno(w->err, errno, "cannot open the build context folder '%s'", dir);
		free(df);
		return rc;
	}
	rc = read_dockerignore(rootfd, &ign, w->err);
	if (rc == 0) {
		/* Like the CLI: these two are always sent. */
		if (tpg_dockerignore_excluded(ign, ".dockerignore"))
			rc = tpg_dockerignore_add(ign, "!.dockerignore", w->err);
		if (rc == 0 && tpg_dockerignore_excluded(ign, df)) {
			char *exc = tpg_xasprintf("!%s", df);
			rc = tpg_dockerignore_add(ign, exc, w->err);
			free(exc);
		}
	}
	if (rc == 0) {
		w->ign = ign;
		w->iobuf = tpg_xmalloc(65536);
		rc = walk_dir(w, rootfd, "", NULL, 0);
		free(w->iobuf);
		w->iobuf = NULL;
	}
	tpg_dockerignore_free(ign);
	close(rootfd);
	free(df);
	return rc;
}

int tpg_buildctx_write(const char *dir, const tpg_buildctx_opts *opts, FILE *out,
                       tpg_buildctx_stats *st, tpg_err *err)
{
	walker w = {.err = err};

	w.ar = archive_write_new();
	w.entry = archive_entry_new();
	archive_write_set_format_pax_restricted(w.ar);
	archive_write_set_bytes_in_last_block(w.ar, 1);
	int rc = 0;
	if (archive_write_open_FILE(w.ar, out) != ARCHIVE_OK)
		rc = ar_fail(&w, ".");
	if (rc == 0)
		rc = run(dir, opts, &w);
	if (archive_write_close(w.ar) != ARCHIVE_OK && rc == 0)
		rc = ar_fail(&w, ".");
	w.st.tar_bytes = (unsigned long long)archive_filter_bytes(w.ar, -1);
	archive_entry_free(w.entry);
	archive_write_free(w.ar);
	if (rc == 0 && fflush(out) != 0)
		rc = tpg_err_errno(err, errno, "cannot write the build context");
	if (st)
		*st = w.st;
	return rc;
}

int tpg_buildctx_list(const char *dir, const tpg_buildctx_opts *opts, tpg_strv *paths,
                      tpg_buildctx_stats *st, tpg_err *err)
{
	walker w = {.err = err, .list = paths};
	int rc = run(dir, opts, &w);
	if (st)
		*st = w.st;
	return rc;
}

/*
 * repo_walk.c - tpg_repo_glob: a capped walk of the repository that never
 * enters a symlinked folder.
 *
 * The walk holds one descriptor per folder level (so at most max_depth + 1),
 * opens folders with O_NOFOLLOW | O_DIRECTORY relative to their parent, and
 * prunes with what the pattern allows: leading literal components are
 * entered directly, and a pattern without "**" cannot match deeper than its
 * number of components.
 */
#include "tpgrade/glob.h"
#include "tpgrade/repo.h"
#include "repo_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct walk {
	tpg_repo *repo;
	const tpg_glob *glob;
	unsigned types;
	size_t max_visit;
	size_t visited;
	int max_depth;
	int pattern_depth;      /* components a match has; -1: any number */
	tpg_buf path;           /* repo-relative path of the current entry */
	tpg_strv found;
	bool truncated_visit;
	bool truncated_depth;
	bool canceled;
};

static int by_bytes(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool stop(const struct walk *w)
{
	return w->canceled || w->truncated_visit;
}

/* The type a symlink counts as: what it resolves to inside the repository,
 * FILE when it cannot be followed. */
static unsigned symlink_type(struct walk *w, const char *path)
{
	tpg_repo_info st;
	if (tpg_repo_stat(w->repo, path, NULL, &st, NULL) != 0)
		return TPG_REPO_GLOB_FILES;
	switch (st.type) {
	case TPG_FT_DIR: return TPG_REPO_GLOB_DIRS;
	case TPG_FT_OTHER: return TPG_REPO_GLOB_OTHER;
	default: return TPG_REPO_GLOB_FILES;
	}
}

static void consider(struct walk *w, int dirfd, const char *name, unsigned char d_type,
                     int depth, bool *is_dir)
{
	const char *path = tpg_buf_cstr(&w->path);
	mode_t mode = 0;

	switch (d_type) {
	case DT_REG: mode = S_IFREG; break;
	case DT_DIR: mode = S_IFDIR; break;
	case DT_LNK: mode = S_IFLNK; break;
	case DT_FIFO: mode = S_IFIFO; break;
	case DT_SOCK: mode = S_IFSOCK; break;
	case DT_CHR: mode = S_IFCHR; break;
	case DT_BLK: mode = S_IFBLK; break;
	default: {
		struct stat st;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return;   /* vanished */
		mode = st.st_mode & S_IFMT;
	}
	}
	*is_dir = S_ISDIR(mode);
	if (w->pattern_depth >= 0 && depth != w->pattern_depth)
		return;
	if (!tpg_glob_match(w->glob, path))
		return;

	unsigned type;
	if (S_ISREG(mode))
		type = TPG_REPO_GLOB_FILES;
	else if (S_ISDIR(mode))
		type = TPG_REPO_GLOB_DIRS;
	else if (S_ISLNK(mode))
		type = (w->types & TPG_REPO_GLOB_ALL) == TPG_REPO_GLOB_ALL
		               ? TPG_REPO_GLOB_FILES : symlink_type(w, path);
	else
		type = TPG_REPO_GLOB_OTHER;
	if (w->types & type)
		tpg_strv_push(&w->found, path);
}

/* Lists the folder open as `fd` (taken over) whose path is w->path, at
 * `depth` components from the root. */
static void walk_dir(struct walk *w, int fd, int depth)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	size_t base = w->path.len;
	struct dirent *de;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;   /* end, or a read error: what was listed stays */
		const char *name = de->d_name;
		if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
			continue;
		if (strcmp(name, ".git") == 0)
			continue;
		if (w->visited >= w->max_visit) {
			w->truncated_visit = true;
			break;
		}
		w->visited++;
		if ((w->visited & 1023) == 0 && tpg_interrupted()) {
			w->canceled = true;
			break;
		}

		if (base)
			tpg_buf_putc(&w->path, '/');
		tpg_buf_puts(&w->path, name);

		bool is_dir = false;
		consider(w, dirfd(d), name, de->d_type, depth + 1, &is_dir);
		if (is_dir && (w->pattern_depth < 0 || depth + 1 < w->pattern_depth)) {
			if (depth + 1 >= w->max_depth) {
				w->truncated_depth = true;
			} else {
				int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				                 O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
				if (sub >= 0)
					walk_dir(w, sub, depth + 1);
			}
		}
		tpg_buf_truncate(&w->path, base);
		w->path.data[base] = '\0';
		if (stop(w))
			break;
	}
	closedir(d);
}

/* Counts components of a cleaned pattern and how many leading ones are
 * plain names (no wildcard, class or escape) that can be entered directly.
 * The last component never counts as a prefix. */
static void analyse(const char *pat, int *ncomp, int *nprefix, bool *bounded)
{
	*ncomp = 1;
	*nprefix = 0;
	*bounded = strstr(pat, "**") == NULL && strpbrk(pat, "[\\") == NULL;
	bool literal_so_far = true;
	const char *c = pat;
	for (;;) {
		size_t n = strcspn(c, "/");
		bool plain = strcspn(c, "*?[]\\") >= n;
		if (c[n] == '\0')
			break;
		if (literal_so_far && plain)
			(*nprefix)++;
		else
			literal_so_far = false;
		(*ncomp)++;
		c += n + 1;
	}
}

/* Opens the first `n` components of `pat` as folders, without following
 * symlinks. Returns the descriptor (O_RDONLY), or -1 when they are not all
 * real folders (then nothing can match). */
static int open_prefix(tpg_repo *repo, const char *pat, int n, tpg_buf *path)
{
	int fd = openat(tpg_repo_rootfd(repo), ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	const char *c = pat;
	for (int i = 0; i < n; i++) {
		size_t len = strcspn(c, "/");
		char *name = tpg_xstrndup(c, len);
		int flags = O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC |
		            (i == n - 1 ? O_RDONLY | O_NONBLOCK | O_NOCTTY : O_PATH);
		int next = strcmp(name, ".git") == 0 ? -1 : openat(fd, name, flags);
		close(fd);
		free(name);
		if (next < 0)
			return -1;
		fd = next;
		c += len + 1;
	}
	tpg_buf_append(path, pat, (size_t)(c - pat - 1));
	return fd;
}

int tpg_repo_glob(tpg_repo *repo, const char *pattern, const tpg_repo_glob_opts *opts,
                  tpg_strv *out, bool *truncated, tpg_err *err)
{
	static const tpg_repo_glob_opts defaults = {0};
	tpg_glob *glob = NULL;

	if (truncated)
		*truncated = false;
	if (!opts)
		opts = &defaults;
	if (!pattern)
		return tpg_err_set(err, TPG_EINVAL, "no pattern given");
	int rc = tpg_glob_compile(pattern, opts->glob_flags, &glob, err);
	if (rc < 0)
		return rc;

	struct walk w = {0};
	w.repo = repo;
	w.glob = glob;
	w.types = opts->types ? opts->types : TPG_REPO_GLOB_FILES;
	w.max_visit = opts->max_visit ? opts->max_visit : TPG_REPO_GLOB_MAX_VISIT;
	w.max_depth = opts->max_depth > 0 ? opts->max_depth : TPG_REPO_GLOB_MAX_DEPTH;
	if (w.max_depth > TPG_REPO_GLOB_DEPTH_LIMIT)
		w.max_depth = TPG_REPO_GLOB_DEPTH_LIMIT;   /* one descriptor per level */

	bool escapes;
	free(tpg_path_clean(pattern, &escapes));
	if (escapes && pattern[0] != '/')
		goto finish;   /* "../x" matches nothing (glob.h) */

	int ncomp, nprefix;
	bool bounded;
	const char *pat = tpg_glob_pattern(glob);
	if (strcmp(pat, ".") == 0)
		goto finish;   /* names the root, which is never listed */
	analyse(pat, &ncomp, &nprefix, &bounded);
	w.pattern_depth = bounded ? ncomp : -1;
	if (opts->glob_flags & TPG_GLOB_NOCASE)
		nprefix = 0;
	tpg_buf_append(&w.path, "", 0);

	int fd;
	if (nprefix > 0) {
		if (nprefix >= w.max_depth) {
			w.truncated_depth = true;
			goto finish;
		}
		fd = open_prefix(repo, pat, nprefix, &w.path);
	} else {
		fd = openat(tpg_repo_rootfd(repo), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd >= 0)
		walk_dir(&w, fd, nprefix);

finish:
	tpg_glob_free(glob);
	tpg_buf_free(&w.path);
	if (w.canceled) {
		tpg_strv_free(&w.found);
		return tpg_err_set(err, TPG_ECANCELED, "interrupted while listing '%s'", pattern);
	}
	if (w.found.len > 1)
		qsort(w.found.items, w.found.len, sizeof(char *), by_bytes);
	for (size_t i = 0; i < w.found.len; i++)
		tpg_strv_push_owned(out, w.found.items[i]);
	free(w.found.items);

	if (w.truncated_visit || w.truncated_depth) {
		if (truncated)
			*truncated = true;
		if (err) {
			if (w.truncated_visit)
				tpg_err_set(err, 0, "stopped listing '%s' after %zu entries: "
				            "the repository is too big to list completely",
				            pattern, w.max_visit);
			else
				tpg_err_set(err, 0, "did not look into folders nested deeper than %d "
				            "levels while listing '%s'", w.max_depth, pattern);
		}
	}
	return 0;
}

/*
 * repo.c - opening a student's repository, resolving paths inside it without
 * ever letting the kernel follow a symlink, and capped reads.
 * The walk behind tpg_repo_glob is in repo_walk.c.
 */
#include "tpgrade/repo.h"
#include "tpgrade/sanitize.h"
#include "tpgrade/glob.h"
#include "repo_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tpg_repo {
	int fd;       /* O_RDONLY|O_DIRECTORY on the root */
	char *root;   /* realpath of the root */
};

/* Components processed while resolving one path (".." and symlink targets
 * included): bounds the work a hostile path can cause. */
#define MAX_STEPS 8192

/* --- display helpers ---------------------------------------------------- */

char *tpg_repo_path_display(const char *path)
{
	tpg_buf b = TPG_BUF_INIT;
	const char *s = path ? path : "";
	size_t len = strlen(s);

	tpg_buf_append(&b, "", 0);
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = tpg_utf8_len(s + i, len - i, &cp);
		if (n == 0) {
			tpg_buf_printf(&b, "\\x%02x", (unsigned char)s[i]);
			i++;
			continue;
		}
		if (cp == '\n')
			tpg_buf_puts(&b, "\\n");
		else if (cp == '\t')
			tpg_buf_puts(&b, "\\t");
		else if (cp == '\r')
			tpg_buf_puts(&b, "\\r");
		else if (cp == '\\')
			tpg_buf_puts(&b, "\\\\");
		else if (cp < 0x20 || cp == 0x7F)
			tpg_buf_printf(&b, "\\x%02x", (unsigned)cp);
		else if (tpg_sanitize_is_invisible(cp))
			tpg_buf_printf(&b, "\\u%04x", (unsigned)cp);
		else
			tpg_buf_append(&b, s + i, n);
		i += n;
	}
	return tpg_buf_detach(&b);
}


bool tpg_repo_path_is_safe(const char *rel, const char **why)
{
	const char *reason = NULL;
	bool escapes = false;

	if (!rel || !rel[0]) {
		reason = "empty path";
	} else if (strlen(rel) > TPG_REPO_MAX_PATH) {
		reason = "path too long";
	} else if (rel[0] == '/') {
		reason = "absolute path: paths are relative to the repository root";
	} else {
		free(tpg_path_clean(rel, &escapes));
		if (escapes)
			reason = "'..' climbs above the repository root";
	}
	if (why)
		*why = reason;
	return reason == NULL;
}

/* --- open / close ------------------------------------------------------- */

int tpg_repo_open(const char *path, tpg_repo **out, tpg_err *err)
{
	*out = NULL;
	if (!path || !path[0])
		return tpg_err_set(err, TPG_EINVAL, "no repository folder given");

	char *real = realpath(path, NULL);
	if (!real) {
		int e = errno;
		char *d = tpg_repo_path_display(path);
		int rc;
		if (e == ENOENT)
			rc = tpg_err_set(err, TPG_ENOTFOUND, "repository folder not found: %s", d);
		else if (e == ENOTDIR)
			rc = tpg_err_set(err, TPG_EINVAL, "%s is not a folder", d);
		else
			rc = tpg_err_errno(err, e, "cannot open the repository folder %s", d);
		free(d);
		return rc;
	}
	struct stat st;
	if (stat(real, &st) == 0 && !S_ISDIR(st.st_mode)) {
		char *d = tpg_repo_path_display(path);
		int rc = tpg_err_set(err, TPG_EINVAL, "%s is not a folder", d);
		free(d);
		free(real);
		return rc;
	}
	int fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		char *d = tpg_repo_path_display(real);
		int rc = tpg_err_errno(err, e, "cannot open the repository folder %s", d);
		free(d);
		free(real);
		return rc;
	}
	tpg_repo *repo = tpg_xcalloc(1, sizeof(*repo));
	repo->fd = fd;
	repo->root = real;
	*out = repo;
	return 0;
}

void tpg_repo_close(tpg_repo *repo)
{
	if (!repo)
		return;
	close(repo->fd);
	free(repo->root);
	free(repo);
}

const char *tpg_repo_root(const tpg_repo *repo)
{
	return repo->root;
}

int tpg_repo_rootfd(const tpg_repo *repo)
{
	return repo->fd;
}

/* --- resolution --------------------------------------------------------- */

/* Where a path led: the target is `name` inside the folder `dirfd`
 * ("." when the target is that folder itself). */
struct resolved {
	int dirfd;          /* O_PATH; owned unless it is the root's fd */
	bool own_fd;
	char *name;
	char *canonical;
	struct stat st;     /* of the target, never of a symlink */
	bool via_symlink;
};

static void resolved_free(struct resolved *r)
{
	if (r->own_fd && r->dirfd >= 0)
		close(r->dirfd);
	free(r->name);
	free(r->canonical);
	memset(r, 0, sizeof(*r));
	r->dirfd = -1;
}

static char *join_stack(const tpg_strv *stack, const char *last)
{
	tpg_buf b = TPG_BUF_INIT;
	for (size_t i = 0; i < stack->len; i++) {
		if (i)
			tpg_buf_putc(&b, '/');
		tpg_buf_puts(&b, stack->items[i]);
	}
	if (last && strcmp(last, ".") != 0) {
		if (stack->len)
			tpg_buf_putc(&b, '/');
		tpg_buf_puts(&b, last);
	}
	if (b.len == 0)
		tpg_buf_putc(&b, '.');
	return tpg_buf_detach(&b);
}

/* A descriptor on the real folder `name` in `parent` (never through a
 * symlink), or a negative errno. */
static int open_dir_path(int parent, const char *name)
{
	int fd = openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno > 0 ? -errno : -EIO;
	return fd;
}

/* Re-opens the folder named by `stack` from the root (after a ".."). */
static int reopen_stack(const tpg_repo *repo, const tpg_strv *stack, int *cur, bool *own)
{
	int fd = repo->fd;
	bool owned = false;
	for (size_t i = 0; i < stack->len; i++) {
		int next = open_dir_path(fd, stack->items[i]);
		if (owned)
			close(fd);
		if (next < 0)
			return next;
		fd = next;
		owned = true;
	}
	if (*own)
		close(*cur);
	*cur = fd;
	*own = owned;
	return 0;
}

static int err_path(tpg_err *err, int code, const char *fmt, const char *path)
{
	char *d = tpg_repo_path_display(path);
	int rc = tpg_err_set(err, code, fmt, d);
	free(d);
	return rc;
}

static int err_errno_path(tpg_err *err, int e, const char *what, const char *path)
{
	char *d = tpg_repo_path_display(path);
	int rc = tpg_err_errno(err, e, "%s %s", what, d);
	free(d);
	return rc;
}

static int err_outside(tpg_err *err, const char *link, const char *target)
{
	char *dl = tpg_repo_path_display(link);
	char *dt = tpg_repo_path_display(target);
	int rc = tpg_err_set(err, TPG_ESYMLINK,
	                     "%s is a symbolic link to %s, outside the repository: not followed",
	                     dl, dt);
	free(dl);
	free(dt);
	return rc;
}

/* A missing component: say which when it is not the path asked for. */
static int err_missing(tpg_err *err, const char *rel, const char *at)
{
	char *dr = tpg_repo_path_display(rel);
	char *da = tpg_repo_path_display(at);
	int rc;
	if (strcmp(rel, at) == 0)
		rc = tpg_err_set(err, TPG_ENOTFOUND, "%s not found in the repository", dr);
	else
		rc = tpg_err_set(err, TPG_ENOTFOUND, "%s not found in the repository (no %s)",
		                 dr, da);
	free(dr);
	free(da);
	return rc;
}

/* Reads the link `name` in `dirfd`; NULL with *e set on failure. */
static char *read_link(int dirfd, const char *name, const struct stat *st, int *e)
{
	if (st->st_size > TPG_REPO_MAX_PATH) {
		*e = ENAMETOOLONG;
		return NULL;
	}
	size_t cap = (size_t)st->st_size + 2;
	char *buf = tpg_xmalloc(cap);
	ssize_t n = readlinkat(dirfd, name, buf, cap);
	if (n < 0 || (size_t)n >= cap) {
		*e = n < 0 ? errno : ENAMETOOLONG;
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int resolve(tpg_repo *repo, const char *rel, struct resolved *r, tpg_err *err)
{
	tpg_strv stack = TPG_STRV_INIT;   /* folders entered, from the root */
	int cur = repo->fd;
	bool own = false;
	int hops = 0, steps = 0, rc = 0;
	char *todo = NULL;
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	r->dirfd = -1;
	if (!rel)
		return tpg_err_set(err, TPG_EINVAL, "no path given");
	if (strlen(rel) > TPG_REPO_MAX_PATH)
		return err_path(err, TPG_EINVAL, "path too long: %.200s...", rel);
	if (rel[0] == '/')
		return err_path(err, TPG_EINVAL,
		                "%s is an absolute path, not a path inside the repository", rel);

	todo = tpg_xstrdup(rel);
	for (;;) {
		while (todo[pos] == '/')
			pos++;
		if (todo[pos] == '\0')
			break;    /* the target is the folder we are in */
		if (++steps > MAX_STEPS) {
			rc = err_path(err, TPG_EINVAL, "%s: path too deep to resolve", rel);
			goto fail;
		}
		const char *c0 = todo + pos;
		size_t clen = strcspn(c0, "/");
		char *comp = tpg_xstrndup(c0, clen);
		pos += clen;
		bool more = todo[pos] == '/';   /* a trailing '/' also wants a folder */

		if (strcmp(comp, ".") == 0) {
			free(comp);
			continue;
		}
		if (strcmp(comp, "..") == 0) {
			free(comp);
			if (stack.len == 0) {
				rc = err_path(err, TPG_EINVAL,
				              "%s climbs above the repository root with '..'", rel);
				goto fail;
			}
			free(stack.items[--stack.len]);
			stack.items[stack.len] = NULL;
			int e = reopen_stack(repo, &stack, &cur, &own);
			if (e < 0) {
				char *at = join_stack(&stack, NULL);
				rc = err_errno_path(err, -e, "cannot open", at);
				free(at);
				goto fail;
			}
			continue;
		}

		struct stat st;
		if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			int e = errno;
			char *at = join_stack(&stack, comp);
			if (e == ENOENT)
				rc = err_missing(err, rel, at);
			else if (e == EACCES)
				rc = err_path(err, TPG_EDENIED, "%s: permission denied", at);
			else
				rc = err_errno_path(err, e, "cannot look at", at);
			free(at);
			free(comp);
			goto fail;
		}

		if (S_ISLNK(st.st_mode)) {
			char *link = join_stack(&stack, comp);
			if (++hops > TPG_REPO_MAX_SYMLINKS) {
				rc = err_path(err, TPG_ESYMLINK,
				              "%s: too many levels of symbolic links (a loop?)", link);
				free(link);
				free(comp);
				goto fail;
			}
			int e = 0;
			char *target = read_link(cur, comp, &st, &e);
			free(comp);
			if (!target) {
				rc = err_errno_path(err, e, "cannot read the symbolic link", link);
				free(link);
				goto fail;
			}
			r->via_symlink = true;
			if (target[0] == '\0') {
				rc = err_path(err, TPG_ENOTFOUND,
				              "%s is a symbolic link to nothing (empty target)", link);
				free(target);
				free(link);
				goto fail;
			}
			bool escapes = target[0] == '/';
			char *cleaned = NULL;
			if (!escapes) {
				char *dir = join_stack(&stack, NULL);
				char *joined = tpg_xasprintf("%s/%s", dir, target);
				cleaned = tpg_path_clean(joined, &escapes);
				free(joined);
				free(dir);
			}
			if (escapes) {
				rc = err_outside(err, link, target);
				free(cleaned);
				free(target);
				free(link);
				goto fail;
			}
			/* Start over from the root with the target + what was left. */
			char *next = tpg_xasprintf("%s%s", cleaned, todo + pos);
			free(cleaned);
			free(target);
			free(link);
			free(todo);
			todo = next;
			pos = 0;
			tpg_strv_free(&stack);
			if (own)
				close(cur);
			cur = repo->fd;
			own = false;
			continue;
		}

		if (S_ISDIR(st.st_mode)) {
			int fd = open_dir_path(cur, comp);
			if (fd < 0) {
				int e = fd;
				char *at = join_stack(&stack, comp);
				if (e == -ENOENT)
					rc = err_missing(err, rel, at);
				else
					rc = err_errno_path(err, -e, "cannot open the folder", at);
				free(at);
				free(comp);
				goto fail;
			}
			if (own)
				close(cur);
			cur = fd;
			own = true;
			tpg_strv_push_owned(&stack, comp);
			continue;
		}

		/* A file, FIFO, socket or device must be the last component
		 * ("file/" and "file/." want a folder, as for the kernel). */
		if (more) {
			char *at = join_stack(&stack, comp);
			char *dr = tpg_repo_path_display(rel);
			char *da = tpg_repo_path_display(at);
			rc = tpg_err_set(err, TPG_ENOTFOUND,
			                 "%s not found in the repository (%s is not a folder)", dr, da);
			free(dr);
			free(da);
			free(at);
			free(comp);
			goto fail;
		}
		r->dirfd = cur;
		r->own_fd = own;
		r->canonical = join_stack(&stack, comp);
		r->name = comp;
		r->st = st;
		free(todo);
		tpg_strv_free(&stack);
		return 0;
	}

	/* The target is the folder `cur`. */
	if (fstat(cur, &r->st) != 0) {
		int e = errno;
		char *at = join_stack(&stack, NULL);
		rc = err_errno_path(err, e, "cannot look at", at);
		free(at);
		goto fail;
	}
	r->dirfd = cur;
	r->own_fd = own;
	r->name = tpg_xstrdup(".");
	r->canonical = join_stack(&stack, NULL);
	free(todo);
	tpg_strv_free(&stack);
	return 0;

fail:
	if (own)
		close(cur);
	free(todo);
	tpg_strv_free(&stack);
	r->via_symlink = false;
	return rc;
}

static tpg_ftype ftype_of(mode_t mode)
{
	if (S_ISREG(mode))
		return TPG_FT_FILE;
	if (S_ISDIR(mode))
		return TPG_FT_DIR;
	return TPG_FT_OTHER;
}

int tpg_repo_stat(tpg_repo *repo, const char *rel, char **canonical,
                  tpg_repo_info *st, tpg_err *err)
{
	struct resolved r;

	if (canonical)
		*canonical = NULL;
	if (st)
		memset(st, 0, sizeof(*st));
	int rc = resolve(repo, rel, &r, err);
	if (rc < 0)
		return rc;
	if (st) {
		st->type = ftype_of(r.st.st_mode);
		st->size = (long long)r.st.st_size;
		st->via_symlink = r.via_symlink;
	}
	if (canonical) {
		*canonical = r.canonical;
		r.canonical = NULL;
	}
	resolved_free(&r);
	return 0;
}

/* --- reading ------------------------------------------------------------ */

static const char *kind_name(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a folder";
	if (S_ISFIFO(mode))
		return "a named pipe (FIFO)";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a regular file";
}

static int err_too_big(tpg_err *err, const char *path, long long size, size_t max)
{
	char a[32], b[32];
	char *d = tpg_repo_path_display(path);
	int rc = tpg_err_set(err, TPG_ETOOBIG, "%s is %s, over the %s limit", d,
	                     tpg_format_size(size, a, sizeof(a)),
	                     tpg_format_size((long long)max, b, sizeof(b)));
	free(d);
	return rc;
}

int tpg_repo_read(tpg_repo *repo, const char *rel, size_t max_bytes,
                  tpg_buf *out, tpg_err *err)
{
	struct resolved r;
	int rc;

	tpg_buf_clear(out);
	if (max_bytes == 0)
		max_bytes = TPG_REPO_READ_DEFAULT_MAX;
	rc = resolve(repo, rel, &r, err);
	if (rc < 0)
		return rc;
	if (!S_ISREG(r.st.st_mode)) {
		char *d = tpg_repo_path_display(r.canonical);
		rc = tpg_err_set(err, TPG_EINVAL, "%s is %s, not a regular file", d,
		                 kind_name(r.st.st_mode));
		free(d);
		goto done;
	}
	if ((unsigned long long)r.st.st_size > (unsigned long long)max_bytes) {
		rc = err_too_big(err, r.canonical, (long long)r.st.st_size, max_bytes);
		goto done;
	}
	/* O_NONBLOCK: should the entry have become a FIFO since fstatat, opening
	 * it must not wait for a writer. */
	int fd = openat(r.dirfd, r.name,
	                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP)
			rc = err_path(err, TPG_ESYMLINK, "%s changed into a symbolic link while "
			              "being read: not followed", r.canonical);
		else
			rc = err_errno_path(err, e, "cannot open", r.canonical);
		goto done;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != r.st.st_dev ||
	    st.st_ino != r.st.st_ino) {
		close(fd);
		rc = err_path(err, TPG_EIO, "%s changed while being read", r.canonical);
		goto done;
	}
	/* The file may grow after fstat: read at most max_bytes + 1. */
	char chunk[65536];
	size_t total = 0;
	tpg_buf_append(out, "", 0);
	for (;;) {
		size_t want = max_bytes + 1 - total;
		if (want > sizeof(chunk))
			want = sizeof(chunk);
		ssize_t n = read(fd, chunk, want);
		if (n < 0) {
			if (errno == EINTR) {
				if (tpg_interrupted()) {
					rc = tpg_err_set(err, TPG_ECANCELED, "interrupted");
					break;
				}
				continue;
			}
			rc = err_errno_path(err, errno, "cannot read", r.canonical);
			break;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > max_bytes) {
			rc = err_too_big(err, r.canonical, (long long)total, max_bytes);
			break;
		}
		tpg_buf_append(out, chunk, (size_t)n);
	}
	close(fd);
	if (rc < 0)
		tpg_buf_clear(out);

done:
	resolved_free(&r);
	return rc;
}

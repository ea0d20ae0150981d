/* git_fs.c - the temporary folders of checkouts, and .netrc. */
#include "tpgrade/git_impl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int tpg_git_mkdtemp(const char *parent, char **out, tpg_err *err)
{
	struct stat st;

	*out = NULL;
	if (!parent || !parent[0])
		parent = getenv("TMPDIR");
	if (!parent || !parent[0])
		parent = "/tmp";
	if (stat(parent, &st) < 0)
		return tpg_err_errno(err, errno, "cannot use %s for temporary files", parent);
	if (!S_ISDIR(st.st_mode))
		return tpg_err_set(err, TPG_EINVAL, "cannot use %s for temporary files: "
			"not a directory", parent);
	/* Absolute, so that workdir stays valid whatever the cwd becomes. */
	char *abs = realpath(parent, NULL);
	if (!abs)
		return tpg_err_errno(err, errno, "cannot use %s for temporary files", parent);
	char *tmpl = tpg_xasprintf("%s%stpgrade-git-XXXXXX", abs,
		abs[strlen(abs) - 1] == '/' ? "" : "/");
	free(abs);
	/* mkdtemp creates the folder with mode 0700: private to us. */
	if (!mkdtemp(tmpl)) {
		int e = errno;
		free(tmpl);
		return tpg_err_errno(err, e, "cannot create a temporary folder in %s", parent);
	}
	*out = tmpl;
	return 0;
}

/*
 * Path-based on purpose: holding one descriptor per level would run out of
 * descriptors on a deep (hostile) tree. Every entry is lstat'ed and folders
 * are opened with O_NOFOLLOW, so a symlink is removed, never followed; a
 * mount point inside is left alone.
 */
static int rm_rec(const char *path, dev_t dev, int depth, tpg_err *err)
{
	struct stat st;
	int rc = 0;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return tpg_err_errno(err, errno, "cannot remove %s", path);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return tpg_err_errno(err, errno, "cannot remove %s", path);
		return 0;
	}
	if (st.st_dev != dev)
		return tpg_err_set(err, TPG_EDENIED, "not removing %s: another file system "
			"is mounted there", path);
	if (depth > 8192)
		return tpg_err_set(err, TPG_ETOOBIG, "cannot remove %s: too deep", path);

	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && chmod(path, 0700) == 0)
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return tpg_err_errno(err, errno, "cannot open %s", path);
	/* We remove entries: the folder must be writable (git makes some 0555). */
	if ((st.st_mode & 0700) != 0700)
		fchmod(fd, st.st_mode | 0700);
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return tpg_err_errno(err, e, "cannot read %s", path);
	}
	tpg_strv names = TPG_STRV_INIT;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			tpg_strv_push(&names, de->d_name);
	closedir(d);

	for (size_t i = 0; i < names.len; i++) {
		char *child = tpg_xasprintf("%s/%s", path, names.items[i]);
		int r = rm_rec(child, dev, depth + 1, err);
		if (r < 0 && rc == 0)
			rc = r;
		free(child);
	}
	tpg_strv_free(&names);
	if (rmdir(path) < 0 && errno != ENOENT && rc == 0)
		rc = tpg_err_errno(err, errno, "cannot remove %s", path);
	return rc;
}

int tpg_git_rmtree(const char *path, tpg_err *err)
{
	struct stat st;

	if (!path || !path[0] || strcmp(path, "/") == 0)
		return tpg_err_set(err, TPG_EINVAL, "refusing to remove '%s'", path ? path : "");
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return tpg_err_errno(err, errno, "cannot remove %s", path);
	}
	return rm_rec(path, st.st_dev, 0, err);
}

/* ---- .netrc ---- */

typedef struct netrc_lexer {
	const char *p;
} netrc_lexer;

/* Next token (caller frees) or NULL at the end. */
static char *netrc_token(netrc_lexer *lx)
{
	const char *p = lx->p;

	while (*p && isspace((unsigned char)*p))
		p++;
	if (!*p) {
		lx->p = p;
		return NULL;
	}
	tpg_buf b = TPG_BUF_INIT;
	if (*p == '"') {
		p++;
		while (*p && *p != '"') {
			if (*p == '\\' && p[1])
				p++;
			tpg_buf_putc(&b, *p++);
		}
		if (*p == '"')
			p++;
	} else {
		while (*p && !isspace((unsigned char)*p)) {
			if (*p == '\\' && p[1])
				p++;
			tpg_buf_putc(&b, *p++);
		}
	}
	lx->p = p;
	return tpg_buf_detach(&b);
}

/* macdef bodies run to the first empty line. */
static void netrc_skip_macdef(netrc_lexer *lx)
{
	const char *nl = strchr(lx->p, '\n');
	while (nl) {
		const char *q = nl + 1;
		if (*q == '\n' || (*q == '\r' && q[1] == '\n')) {
			lx->p = q;
			return;
		}
		nl = strchr(q, '\n');
	}
	lx->p += strlen(lx->p);
}

static char *read_small_file(const char *path, size_t max, int *errnum)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		*errnum = errno;
		return NULL;
	}
	tpg_buf b = TPG_BUF_INIT;
	tpg_buf_init_capped(&b, max, false);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tpg_buf_append(&b, chunk, n);
	fclose(f);
	/* NUL bytes would cut the text: make them spaces. */
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\0')
			b.data[i] = ' ';
	return tpg_buf_detach(&b);
}

int tpg_git_netrc_lookup(const char *path, const char *host, char **login,
	char **password, tpg_err *err)
{
	int errnum = 0;
	char *text;
	char *cur_login = NULL, *cur_pass = NULL;
	char *def_login = NULL, *def_pass = NULL;
	bool in_match = false, in_default = false, found = false;

	*login = NULL;
	*password = NULL;
	if (!path || !host)
		return tpg_err_set(err, TPG_ENOTFOUND, "no .netrc to read");
	text = read_small_file(path, 1 << 20, &errnum);
	if (!text)
		return tpg_err_errno(err, errnum, "cannot read %s", path);

	netrc_lexer lx = { text };
	char *tok;
	while (!found && (tok = netrc_token(&lx))) {
		if (strcmp(tok, "machine") == 0 || strcmp(tok, "default") == 0) {
			if (in_match && cur_pass) {
				found = true;
				free(tok);
				break;
			}
			free(cur_login);
			free(cur_pass);
			cur_login = cur_pass = NULL;
			in_match = false;
			in_default = tok[0] == 'd';
			if (!in_default) {
				char *name = netrc_token(&lx);
				in_match = name && strcasecmp(name, host) == 0;
				free(name);
			}
		} else if (strcmp(tok, "login") == 0 || strcmp(tok, "password") == 0 ||
			   strcmp(tok, "account") == 0) {
			char *val = netrc_token(&lx);
			char **slot = NULL;
			if (in_match || in_default)
				slot = tok[0] == 'l' ? (in_match ? &cur_login : &def_login)
					: tok[0] == 'p' ? (in_match ? &cur_pass : &def_pass) : NULL;
			if (slot && val) {
				free(*slot);
				*slot = val;
			} else {
				free(val);
			}
		} else if (strcmp(tok, "macdef") == 0) {
			free(netrc_token(&lx));
			netrc_skip_macdef(&lx);
		}
		free(tok);
	}
	if (in_match && cur_pass)
		found = true;

	int rc = 0;
	if (found) {
		*login = cur_login;
		*password = cur_pass;
		cur_login = cur_pass = NULL;
	} else if (def_pass) {
		*login = def_login;
		*password = def_pass;
		def_login = def_pass = NULL;
	} else {
		rc = tpg_err_set(err, TPG_ENOTFOUND, "no password for %s in %s", host, path);
	}
	free(cur_login);
	free(cur_pass);
	free(def_login);
	free(def_pass);
	/* The file held passwords: do not leave them in freed memory. */
	explicit_bzero(text, strlen(text));
	free(text);
	return rc;
}

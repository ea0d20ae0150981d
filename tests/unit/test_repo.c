/* test_repo.c - safe access to a hostile student repository.
 *
 * Every test builds its tree in a fresh mkdtemp() folder:
 *   <tmp>/outside.txt   a "secret" next to the repository
 *   <tmp>/repo/         the repository opened with tpg_repo_open
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "tpgrade/repo.h"

struct fx {
	char tmp[64];
	char root[128];
	tpg_repo *repo;
	int fds;          /* descriptors open after setup: none may leak */
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* --- tree building ------------------------------------------------------ */

static void mkdirs(struct fx *f, const char *rel)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	for (char *p = path + strlen(f->root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(path, 0755) != 0 && errno != EEXIST)
				fail_msg("mkdir %s: %s", path, strerror(errno));
			*p = '/';
		}
	}
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", path, strerror(errno));
}

static void write_at(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fail_msg("create %s: %s", path, strerror(errno));
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* Creates `rel` (and its folders) holding `content`. */
static void put(struct fx *f, const char *rel, const char *content)
{
	char path[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	if (slash) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - rel), rel);
		mkdirs(f, dir);
	}
	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	write_at(path, content, strlen(content));
}

static void link_(struct fx *f, const char *target, const char *rel)
{
	char path[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	if (slash) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - rel), rel);
		mkdirs(f, dir);
	}
	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	if (symlink(target, path) != 0)
		fail_msg("symlink %s: %s", path, strerror(errno));
}

static char *abs_path(struct fx *f, const char *rel)
{
	return tpg_xasprintf("%s/%s", f->root, rel);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D || flag == FTW_DNR) {
		chmod(path, 0700);
		rmdir(path);
	} else {
		unlink(path);
	}
	return 0;
}

static int setup(void **state)
{
	struct fx *f = tpg_xcalloc(1, sizeof(*f));
	strcpy(f->tmp, "/tmp/tpg-repo-XXXXXX");
	if (!mkdtemp(f->tmp))
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/repo", f->tmp);
	if (mkdir(f->root, 0755) != 0)
		return -1;
	char secret[PATH_MAX];
	snprintf(secret, sizeof(secret), "%s/outside.txt", f->tmp);
	write_at(secret, "SECRET\n", 7);
	tpg_err err = {0};
	if (tpg_repo_open(f->root, &f->repo, &err) != 0) {
		fprintf(stderr, "open: %s\n", err.msg);
		return -1;
	}
	f->fds = count_fds();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int fds = count_fds();
	if (fds != f->fds)
		fprintf(stderr, "descriptor leak: %d open after the test, %d before\n", fds, f->fds);
	tpg_repo_close(f->repo);
	/* nftw does not follow symlinks with FTW_PHYS: nothing outside is touched */
	nftw(f->tmp, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
	bool leaked = fds != f->fds;
	free(f);
	return leaked ? -1 : 0;
}

/* --- small assertions ---------------------------------------------------- */

static void expect_stat(struct fx *f, const char *rel, const char *canonical,
                        tpg_ftype type, bool via)
{
	char *canon = NULL;
	tpg_repo_info st;
	tpg_err err = {0};
	int rc = tpg_repo_stat(f->repo, rel, &canon, &st, &err);
	if (rc != 0)
		fail_msg("stat '%s': %d %s", rel, rc, err.msg);
	assert_string_equal(canon, canonical);
	assert_int_equal(st.type, type);
	assert_int_equal(st.via_symlink, via);
	free(canon);
}

static void expect_stat_error(struct fx *f, const char *rel, int code, const char *msg_part)
{
	char *canon = (char *)"untouched";
	tpg_repo_info st;
	tpg_err err = {0};
	int rc = tpg_repo_stat(f->repo, rel, &canon, &st, &err);
	if (rc != code || (msg_part && !strstr(err.msg, msg_part)))
		fail_msg("stat '%s': rc %d (want %d), msg '%s' (want '%s')", rel, rc, code,
		         err.msg, msg_part ? msg_part : "");
	assert_int_equal(err.code, code);
	assert_null(canon);
}

static void expect_read(struct fx *f, const char *rel, const char *content)
{
	tpg_buf b = TPG_BUF_INIT;
	tpg_err err = {0};
	int rc = tpg_repo_read(f->repo, rel, 0, &b, &err);
	if (rc != 0)
		fail_msg("read '%s': %d %s", rel, rc, err.msg);
	assert_int_equal(b.len, strlen(content));
	assert_string_equal(tpg_buf_cstr(&b), content);
	tpg_buf_free(&b);
}

static void expect_read_error(struct fx *f, const char *rel, int code, const char *msg_part)
{
	tpg_buf b = TPG_BUF_INIT;
	tpg_err err = {0};
	tpg_buf_puts(&b, "stale");
	int rc = tpg_repo_read(f->repo, rel, 0, &b, &err);
	if (rc != code || (msg_part && !strstr(err.msg, msg_part)))
		fail_msg("read '%s': rc %d (want %d), msg '%s' (want '%s')", rel, rc, code,
		         err.msg, msg_part ? msg_part : "");
	assert_int_equal(b.len, 0);
	assert_string_equal(tpg_buf_cstr(&b), "");
	tpg_buf_free(&b);
}

static tpg_strv glob_(struct fx *f, const char *pattern, unsigned types, bool *truncated)
{
	tpg_strv v = TPG_STRV_INIT;
	tpg_err err = {0};
	tpg_repo_glob_opts o = {.types = types};
	bool trunc = false;
	int rc = tpg_repo_glob(f->repo, pattern, &o, &v, &trunc, &err);
	if (rc != 0)
		fail_msg("glob '%s': %d %s", pattern, rc, err.msg);
	if (truncated)
		*truncated = trunc;
	else
		assert_false(trunc);
	return v;
}

/* `expected` is a NULL-terminated list in the order glob must return. */
static void expect_glob(struct fx *f, const char *pattern, unsigned types,
                        const char *const *expected)
{
	tpg_strv v = glob_(f, pattern, types, NULL);
	size_t n = 0;
	while (expected[n])
		n++;
	bool same = v.len == n;
	for (size_t i = 0; same && i < n; i++)
		same = strcmp(v.items[i], expected[i]) == 0;
	if (!same) {
		char *got = tpg_strv_join(&v, " | ");
		fail_msg("glob '%s' gave [%s]", pattern, got);
	}
	tpg_strv_free(&v);
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

/* --- open ---------------------------------------------------------------- */

static void test_open(void **state)
{
	struct fx *f = *state;
	tpg_repo *r = (tpg_repo *)(uintptr_t)1;
	tpg_err err = {0};

	char missing[PATH_MAX];
	snprintf(missing, sizeof(missing), "%s/nope", f->tmp);
	assert_int_equal(tpg_repo_open(missing, &r, &err), TPG_ENOTFOUND);
	assert_null(r);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "repository folder not found: %s", missing);
	assert_string_equal(err.msg, want);

	char file[PATH_MAX];
	snprintf(file, sizeof(file), "%s/outside.txt", f->tmp);
	assert_int_equal(tpg_repo_open(file, &r, &err), TPG_EINVAL);
	assert_non_null(strstr(err.msg, "is not a folder"));
	assert_int_equal(tpg_repo_open("", &r, &err), TPG_EINVAL);
	assert_int_equal(tpg_repo_open(NULL, &r, NULL), TPG_EINVAL);

	/* The operator's path may go through symlinks; the root is the real path. */
	char via[PATH_MAX];
	snprintf(via, sizeof(via), "%s/via", f->tmp);
	assert_int_equal(symlink("repo", via), 0);
	assert_int_equal(tpg_repo_open(via, &r, &err), 0);
	assert_string_equal(tpg_repo_root(r), f->root);
	tpg_repo_close(r);
	assert_string_equal(tpg_repo_root(f->repo), f->root);
	assert_int_equal(tpg_repo_root(f->repo)[0], '/');
	tpg_repo_close(NULL);
}

/* --- stat ---------------------------------------------------------------- */

static void test_stat_plain(void **state)
{
	struct fx *f = *state;
	put(f, "cowsay/Dockerfile", "FROM alpine\n");
	put(f, "a/b/c.txt", "c");

	expect_stat(f, "cowsay/Dockerfile", "cowsay/Dockerfile", TPG_FT_FILE, false);
	expect_stat(f, "./cowsay//Dockerfile", "cowsay/Dockerfile", TPG_FT_FILE, false);
	expect_stat(f, "a/b/../b/./c.txt", "a/b/c.txt", TPG_FT_FILE, false);
	expect_stat(f, "a/b", "a/b", TPG_FT_DIR, false);
	expect_stat(f, "a/b/", "a/b", TPG_FT_DIR, false);
	expect_stat(f, "a/b/..", "a", TPG_FT_DIR, false);
	expect_stat(f, "a/..", ".", TPG_FT_DIR, false);
	expect_stat(f, ".", ".", TPG_FT_DIR, false);
	expect_stat(f, "", ".", TPG_FT_DIR, false);

	tpg_repo_info st;
	assert_int_equal(tpg_repo_stat(f->repo, "cowsay/Dockerfile", NULL, &st, NULL), 0);
	assert_int_equal(st.size, 12);
	assert_int_equal(tpg_repo_stat(f->repo, "cowsay/Dockerfile", NULL, NULL, NULL), 0);

	expect_stat_error(f, "cowsay/dockerfile", TPG_ENOTFOUND,
	                  "cowsay/dockerfile not found in the repository");
	expect_stat_error(f, "nope/Dockerfile", TPG_ENOTFOUND, "(no nope)");
	expect_stat_error(f, "cowsay/Dockerfile/x", TPG_ENOTFOUND,
	                  "(cowsay/Dockerfile is not a folder)");
	expect_stat_error(f, "cowsay/Dockerfile/", TPG_ENOTFOUND, "is not a folder");
	expect_stat_error(f, "cowsay/Dockerfile/.", TPG_ENOTFOUND, "is not a folder");
	expect_stat_error(f, "cowsay/Dockerfile/..", TPG_ENOTFOUND, "is not a folder");
}

static void test_stat_dotdot_and_absolute(void **state)
{
	struct fx *f = *state;
	put(f, "a/x", "x");

	expect_stat_error(f, "..", TPG_EINVAL, "climbs above the repository root");
	expect_stat_error(f, "../outside.txt", TPG_EINVAL, "climbs above");
	expect_stat_error(f, "a/../../outside.txt", TPG_EINVAL, "climbs above");
	expect_stat_error(f, "a/../a/../..", TPG_EINVAL, "climbs above");
	expect_stat_error(f, "/etc/passwd", TPG_EINVAL, "absolute path");
	expect_stat_error(f, NULL, TPG_EINVAL, NULL);

	char *huge = tpg_xmalloc(TPG_REPO_MAX_PATH + 10);
	memset(huge, 'a', TPG_REPO_MAX_PATH + 9);
	huge[TPG_REPO_MAX_PATH + 9] = '\0';
	expect_stat_error(f, huge, TPG_EINVAL, "too long");
	free(huge);
}

/* --- symlinks -------------------------------------------------------------- */

static void test_symlink_absolute(void **state)
{
	struct fx *f = *state;
	mkdirs(f, "cowsay");
	link_(f, "/etc/passwd", "cowsay/Dockerfile");

	tpg_err err = {0};
	assert_int_equal(tpg_repo_stat(f->repo, "cowsay/Dockerfile", NULL, NULL, &err),
	                 TPG_ESYMLINK);
	assert_string_equal(err.msg, "cowsay/Dockerfile is a symbolic link to /etc/passwd, "
	                             "outside the repository: not followed");
	expect_read_error(f, "cowsay/Dockerfile", TPG_ESYMLINK, "outside the repository");
	expect_read_error(f, "cowsay/../cowsay/Dockerfile", TPG_ESYMLINK,
	                  "cowsay/Dockerfile is a symbolic link to /etc/passwd");

	/* Even an absolute link to a file inside the repository is refused:
	 * it would point elsewhere once the repository is cloned. */
	put(f, "real.txt", "r");
	char *abs = abs_path(f, "real.txt");
	link_(f, abs, "abs-inside");
	expect_stat_error(f, "abs-inside", TPG_ESYMLINK, "outside the repository");
	free(abs);
}

static void test_symlink_relative_escape(void **state)
{
	struct fx *f = *state;
	link_(f, "../../../../../../etc/passwd", "deep/passwd");
	link_(f, "../outside.txt", "secret");
	link_(f, "../../outside.txt", "sub/secret");
	link_(f, "../repo/sub/../../outside.txt", "sneaky");
	link_(f, "..", "parent");
	link_(f, "x/../../..", "sub/up");

	expect_stat_error(f, "deep/passwd", TPG_ESYMLINK,
	                  "deep/passwd is a symbolic link to ../../../../../../etc/passwd, "
	                  "outside the repository: not followed");
	expect_read_error(f, "secret", TPG_ESYMLINK, "secret is a symbolic link to ../outside.txt");
	expect_read_error(f, "sub/secret", TPG_ESYMLINK, "outside the repository");
	expect_read_error(f, "sneaky", TPG_ESYMLINK, "outside the repository");
	expect_stat_error(f, "parent/outside.txt", TPG_ESYMLINK, "parent is a symbolic link to ..");
	expect_stat_error(f, "parent", TPG_ESYMLINK, "outside the repository");
	expect_stat_error(f, "sub/up", TPG_ESYMLINK, "outside the repository");
}

static void test_symlink_loops(void **state)
{
	struct fx *f = *state;
	link_(f, "b", "a");
	link_(f, "a", "b");
	link_(f, "self", "self");
	link_(f, "grow/x", "grow");
	link_(f, "dir/../loopdir", "loopdir");
	mkdirs(f, "dir");

	expect_stat_error(f, "a", TPG_ESYMLINK, "too many levels of symbolic links");
	expect_stat_error(f, "b/c", TPG_ESYMLINK, "too many levels");
	expect_stat_error(f, "self", TPG_ESYMLINK, "too many levels");
	expect_stat_error(f, "grow", TPG_ESYMLINK, "too many levels");
	expect_stat_error(f, "loopdir/x", TPG_ESYMLINK, "too many levels");
	expect_read_error(f, "a", TPG_ESYMLINK, "too many levels");

	/* 40 hops are fine, 41 are not. */
	for (int i = 0; i < 41; i++) {
		char name[32], target[32];
		snprintf(name, sizeof(name), "chain%d", i);
		snprintf(target, sizeof(target), i == 40 ? "end.txt" : "chain%d", i + 1);
		link_(f, target, name);
	}
	put(f, "end.txt", "end");
	expect_stat(f, "chain1", "end.txt", TPG_FT_FILE, true);
	expect_stat_error(f, "chain0", TPG_ESYMLINK, "too many levels");

	/* A loop must not hang a walk either: links are not followed. */
	bool trunc;
	tpg_strv v = glob_(f, "**", TPG_REPO_GLOB_ALL, &trunc);
	assert_false(trunc);
	assert_true(tpg_strv_contains(&v, "a"));
	assert_true(tpg_strv_contains(&v, "loopdir"));
	tpg_strv_free(&v);
}

static void test_symlink_inside_followed(void **state)
{
	struct fx *f = *state;
	put(f, "docker/Dockerfile.prod", "FROM debian\n");
	put(f, "real/dir/file", "deep");
	link_(f, "docker/Dockerfile.prod", "Dockerfile");
	link_(f, "../docker/Dockerfile.prod", "app/Dockerfile");
	link_(f, "Dockerfile", "alias");                 /* a chain */
	link_(f, "real/dir", "d");                       /* a folder */
	link_(f, "./", "here");
	link_(f, "../real", "app/r");

	expect_stat(f, "Dockerfile", "docker/Dockerfile.prod", TPG_FT_FILE, true);
	expect_stat(f, "app/Dockerfile", "docker/Dockerfile.prod", TPG_FT_FILE, true);
	expect_stat(f, "alias", "docker/Dockerfile.prod", TPG_FT_FILE, true);
	expect_stat(f, "d", "real/dir", TPG_FT_DIR, true);
	expect_stat(f, "d/file", "real/dir/file", TPG_FT_FILE, true);
	/* ".." after a symlinked folder goes to the target's parent, as for the
	 * kernel, not back to where the link is. */
	expect_stat(f, "d/..", "real", TPG_FT_DIR, true);
	expect_stat(f, "app/r/dir/file", "real/dir/file", TPG_FT_FILE, true);
	expect_stat(f, "here/here/here/alias", "docker/Dockerfile.prod", TPG_FT_FILE, true);
	expect_stat_error(f, "d/../../..", TPG_EINVAL, "climbs above");
	expect_read(f, "Dockerfile", "FROM debian\n");
	expect_read(f, "d/file", "deep");

	/* (Linux cannot create a symlink with an empty target: not tested.) */
	link_(f, "missing.txt", "dangling");
	expect_stat_error(f, "dangling", TPG_ENOTFOUND, "dangling not found in the repository "
	                                                "(no missing.txt)");
}

static void test_symlinked_dir_outside_not_walked(void **state)
{
	struct fx *f = *state;
	put(f, "src/main.c", "int main;");
	link_(f, "/etc", "etc");
	link_(f, "..", "up");
	link_(f, "src", "srclink");   /* inside, but folders are not entered via links */

	expect_glob(f, "**", TPG_REPO_GLOB_FILES, LIST("etc", "src/main.c", "up"));
	expect_glob(f, "**", TPG_REPO_GLOB_DIRS, LIST("src", "srclink"));
	expect_glob(f, "**", TPG_REPO_GLOB_ALL, LIST("etc", "src", "src/main.c", "srclink", "up"));
	expect_glob(f, "etc/*", TPG_REPO_GLOB_ALL, NONE);
	expect_glob(f, "etc/passwd", TPG_REPO_GLOB_ALL, NONE);
	expect_glob(f, "**/passwd", TPG_REPO_GLOB_ALL, NONE);
	expect_glob(f, "up/**", TPG_REPO_GLOB_ALL, NONE);
	expect_glob(f, "up/*/outside.txt", TPG_REPO_GLOB_ALL, NONE);
	expect_glob(f, "srclink/*", TPG_REPO_GLOB_ALL, NONE);
	expect_stat_error(f, "etc/passwd", TPG_ESYMLINK, "etc is a symbolic link to /etc");
}

static void test_glob_lists_symlinked_files(void **state)
{
	struct fx *f = *state;
	put(f, "docker/Dockerfile.prod", "FROM x\n");
	link_(f, "/etc/passwd", "Dockerfile");
	link_(f, "../docker/Dockerfile.prod", "cowsay/Dockerfile");
	link_(f, "docker/Dockerfile.prod", "web/Dockerfile");   /* relative to web/ */

	/* Listed as files, so that a check reading them says why it cannot. */
	expect_glob(f, "**/Dockerfile", TPG_REPO_GLOB_FILES,
	            LIST("Dockerfile", "cowsay/Dockerfile", "web/Dockerfile"));
	expect_glob(f, "**/Dockerfile", TPG_REPO_GLOB_DIRS, NONE);
	expect_read_error(f, "Dockerfile", TPG_ESYMLINK, "outside the repository");
	expect_read(f, "cowsay/Dockerfile", "FROM x\n");
	expect_read_error(f, "web/Dockerfile", TPG_ENOTFOUND, "(no web/docker)");
}

/* --- reads --------------------------------------------------------------- */

static void test_read_contents(void **state)
{
	struct fx *f = *state;
	put(f, "hello.txt", "hello\n");
	put(f, "empty", "");
	char *p = abs_path(f, "nul.bin");
	write_at(p, "a\0b\0c", 5);
	free(p);

	expect_read(f, "hello.txt", "hello\n");
	expect_read(f, "empty", "");

	tpg_buf b = TPG_BUF_INIT;
	assert_int_equal(tpg_repo_read(f->repo, "nul.bin", 0, &b, NULL), 0);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "a\0b\0c", 6);   /* NUL-terminated */
	tpg_buf_free(&b);

	/* Exactly at the cap is fine; one byte more is not. */
	assert_int_equal(tpg_repo_read(f->repo, "hello.txt", 6, &b, NULL), 0);
	assert_int_equal(b.len, 6);
	tpg_err err = {0};
	assert_int_equal(tpg_repo_read(f->repo, "hello.txt", 5, &b, &err), TPG_ETOOBIG);
	assert_string_equal(err.msg, "hello.txt is 6 bytes, over the 5 bytes limit");
	assert_int_equal(b.len, 0);
	tpg_buf_free(&b);

	mkdirs(f, "folder");
	expect_read_error(f, "folder", TPG_EINVAL, "folder is a folder, not a regular file");
	expect_read_error(f, ".", TPG_EINVAL, "a folder");
	expect_read_error(f, "missing", TPG_ENOTFOUND, "missing not found in the repository");
}

static void test_read_sparse_1gb(void **state)
{
	struct fx *f = *state;
	char *p = abs_path(f, "big.bin");
	int fd = open(p, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1LL << 30), 0);
	close(fd);
	free(p);

	tpg_repo_info st;
	assert_int_equal(tpg_repo_stat(f->repo, "big.bin", NULL, &st, NULL), 0);
	assert_int_equal(st.size, 1LL << 30);

	long long t0 = tpg_now_ms();
	tpg_buf b = TPG_BUF_INIT;
	tpg_err err = {0};
	assert_int_equal(tpg_repo_read(f->repo, "big.bin", 1 << 20, &b, &err), TPG_ETOOBIG);
	long long ms = tpg_now_ms() - t0;
	assert_string_equal(err.msg, "big.bin is 1.0 GB, over the 1.0 MB limit");
	assert_int_equal(b.len, 0);
	assert_true(ms < 500);   /* refused from its size: reading 1 GB takes far longer */
	tpg_buf_free(&b);

	/* Through a symlink the message names the real file. */
	link_(f, "big.bin", "big-link");
	expect_read_error(f, "big-link", TPG_ETOOBIG, "big.bin is 1.0 GB");
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "test_repo: blocked on a FIFO\n";
	ssize_t n = write(2, msg, sizeof(msg) - 1);
	(void)n;
	_exit(3);
}

static void test_fifo_never_blocks(void **state)
{
	struct fx *f = *state;
	char *p = abs_path(f, "pipe");
	assert_int_equal(mkfifo(p, 0644), 0);
	free(p);
	link_(f, "pipe", "pipe-link");

	/* If anything opened the FIFO for reading without O_NONBLOCK it would
	 * wait for a writer forever: the alarm turns that into a failure. */
	signal(SIGALRM, on_alarm);
	alarm(5);
	expect_read_error(f, "pipe", TPG_EINVAL, "pipe is a named pipe (FIFO), not a regular file");
	expect_read_error(f, "pipe-link", TPG_EINVAL, "named pipe");
	expect_stat(f, "pipe", "pipe", TPG_FT_OTHER, false);
	expect_glob(f, "*", TPG_REPO_GLOB_FILES, NONE);
	expect_glob(f, "*", TPG_REPO_GLOB_OTHER, LIST("pipe", "pipe-link"));
	expect_glob(f, "pipe/*", TPG_REPO_GLOB_ALL, NONE);
	expect_stat_error(f, "pipe/x", TPG_ENOTFOUND, "not a folder");
	alarm(0);
	signal(SIGALRM, SIG_DFL);
}

static void test_socket_and_devices(void **state)
{
	struct fx *f = *state;
	char *p = abs_path(f, "sock");
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(s >= 0);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	assert_true(strlen(p) < sizeof(addr.sun_path));
	strcpy(addr.sun_path, p);
	assert_int_equal(bind(s, (struct sockaddr *)&addr, sizeof(addr)), 0);
	free(p);

	expect_read_error(f, "sock", TPG_EINVAL, "sock is a socket, not a regular file");
	expect_stat(f, "sock", "sock", TPG_FT_OTHER, false);
	expect_glob(f, "so*", TPG_REPO_GLOB_OTHER, LIST("sock"));
	close(s);

	/* An endless device: opening it would read until the cap. Needs root
	 * (CAP_MKNOD); skipped quietly otherwise. */
	p = abs_path(f, "zero");
	if (mknod(p, S_IFCHR | 0666, makedev(1, 5)) == 0) {
		expect_read_error(f, "zero", TPG_EINVAL, "zero is a character device");
		expect_stat(f, "zero", "zero", TPG_FT_OTHER, false);
		link_(f, "zero", "zero-link");
		expect_read_error(f, "zero-link", TPG_EINVAL, "character device");
	} else {
		print_message("mknod not permitted (%s): device case skipped\n", strerror(errno));
	}
	free(p);
}

static void test_unreadable(void **state)
{
	struct fx *f = *state;
	put(f, "locked.txt", "locked");
	put(f, "closed/inside.txt", "in");
	char *p = abs_path(f, "locked.txt");
	assert_int_equal(chmod(p, 0), 0);
	free(p);
	p = abs_path(f, "closed");
	assert_int_equal(chmod(p, 0), 0);
	free(p);

	if (geteuid() == 0) {
		/* root ignores permission bits: nothing to refuse, and we must not
		 * pretend otherwise. */
		expect_read(f, "locked.txt", "locked");
		expect_glob(f, "**", TPG_REPO_GLOB_FILES, LIST("closed/inside.txt", "locked.txt"));
	} else {
		expect_read_error(f, "locked.txt", TPG_EDENIED, "locked.txt");
		expect_stat_error(f, "closed/inside.txt", TPG_EDENIED, "permission denied");
		/* an unreadable folder is skipped by walks, not an error */
		expect_glob(f, "**", TPG_REPO_GLOB_FILES, LIST("locked.txt"));
	}
	expect_stat(f, "closed", "closed", TPG_FT_DIR, false);
}

/* --- walks ------------------------------------------------------------------ */

static void make_many(struct fx *f, int dirs, int files)
{
	char path[PATH_MAX];
	for (int d = 0; d < dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%03d", f->root, d);
		assert_int_equal(mkdir(path, 0755), 0);
		int dfd = open(path, O_RDONLY | O_DIRECTORY);
		assert_true(dfd >= 0);
		for (int i = 0; i < files; i++) {
			char name[32];
			snprintf(name, sizeof(name), "f%03d.txt", i);
			int fd = openat(dfd, name, O_WRONLY | O_CREAT, 0644);
			assert_true(fd >= 0);
			close(fd);
		}
		close(dfd);
	}
}

/* Wall-clock budgets; sanitizers make walks several times slower. */
static long long budget_ms(void)
{
	return getenv("TPG_SANITIZED") ? 3000 : 1000;
}

static void test_glob_20k_files(void **state)
{
	struct fx *f = *state;
	make_many(f, 200, 100);
	put(f, "d007/Dockerfile", "FROM x");

	long long t0 = tpg_now_ms();
	bool trunc;
	tpg_strv v = glob_(f, "**/*.txt", 0, &trunc);
	long long ms = tpg_now_ms() - t0;
	print_message("glob '**/*.txt' over 20000 files: %lld ms\n", ms);
	assert_false(trunc);
	assert_int_equal(v.len, 20000);
	for (size_t i = 1; i < v.len; i++)
		assert_true(strcmp(v.items[i - 1], v.items[i]) < 0);
	assert_string_equal(v.items[0], "d000/f000.txt");
	assert_string_equal(v.items[v.len - 1], "d199/f099.txt");
	assert_true(ms < budget_ms());
	tpg_strv_free(&v);

	t0 = tpg_now_ms();
	expect_glob(f, "**/Dockerfile", 0, LIST("d007/Dockerfile"));
	expect_glob(f, "**/dockerfile", 0, NONE);
	ms = tpg_now_ms() - t0;
	print_message("two more full walks: %lld ms\n", ms);
	assert_true(ms < budget_ms());

	/* A literal prefix is entered directly. */
	t0 = tpg_now_ms();
	for (int i = 0; i < 100; i++)
		expect_glob(f, "d150/f04?.txt", 0,
		            LIST("d150/f040.txt", "d150/f041.txt", "d150/f042.txt", "d150/f043.txt",
		                 "d150/f044.txt", "d150/f045.txt", "d150/f046.txt", "d150/f047.txt",
		                 "d150/f048.txt", "d150/f049.txt"));
	ms = tpg_now_ms() - t0;
	print_message("100 prefixed globs: %lld ms\n", ms);
	assert_true(ms < budget_ms());

	/* Appends to what the caller already has. */
	tpg_strv acc = TPG_STRV_INIT;
	tpg_strv_push(&acc, "zzz");
	assert_int_equal(tpg_repo_glob(f->repo, "d000/f00[0-1].txt", NULL, &acc, NULL, NULL), 0);
	assert_int_equal(acc.len, 3);
	assert_string_equal(acc.items[0], "zzz");
	assert_string_equal(acc.items[1], "d000/f000.txt");
	tpg_strv_free(&acc);
}

static void test_glob_visit_cap(void **state)
{
	struct fx *f = *state;
	make_many(f, 20, 50);

	tpg_strv v = TPG_STRV_INIT;
	tpg_err err = {0};
	bool trunc = false;
	tpg_repo_glob_opts o = {.max_visit = 100};
	assert_int_equal(tpg_repo_glob(f->repo, "**", &o, &v, &trunc, &err), 0);
	assert_true(trunc);
	assert_int_equal(err.code, 0);
	assert_non_null(strstr(err.msg, "after 100 entries"));
	assert_true(v.len > 0 && v.len <= 100);
	tpg_strv_free(&v);

	/* Exactly as many entries as the cap: not truncated. */
	o.max_visit = 20 + 20 * 50;
	err = (tpg_err){0};
	assert_int_equal(tpg_repo_glob(f->repo, "**", &o, &v, &trunc, &err), 0);
	assert_false(trunc);
	assert_int_equal(v.len, 1000);
	assert_string_equal(err.msg, "");
	tpg_strv_free(&v);
}

static void test_glob_interrupted(void **state)
{
	struct fx *f = *state;
	make_many(f, 10, 300);

	tpg_strv v = TPG_STRV_INIT;
	tpg_strv_push(&v, "kept");
	tpg_err err = {0};
	tpg_interrupt_set(true);
	int rc = tpg_repo_glob(f->repo, "**", NULL, &v, NULL, &err);
	tpg_interrupt_set(false);
	assert_int_equal(rc, TPG_ECANCELED);
	assert_int_equal(v.len, 1);   /* nothing appended on error */
	tpg_strv_free(&v);
}

static void test_deep_nesting(void **state)
{
	struct fx *f = *state;
	tpg_buf rel = TPG_BUF_INIT;
	for (int i = 0; i < 100; i++) {
		if (i)
			tpg_buf_putc(&rel, '/');
		tpg_buf_putc(&rel, 'n');
		mkdirs(f, tpg_buf_cstr(&rel));
	}
	tpg_buf_puts(&rel, "/bottom.txt");
	put(f, tpg_buf_cstr(&rel), "bottom");

	/* Resolution has no depth cap beyond the path length. */
	expect_read(f, tpg_buf_cstr(&rel), "bottom");

	bool trunc;
	tpg_err err = {0};
	tpg_strv v = TPG_STRV_INIT;
	assert_int_equal(tpg_repo_glob(f->repo, "**", &(tpg_repo_glob_opts){
	                     .types = TPG_REPO_GLOB_ALL}, &v, &trunc, &err), 0);
	assert_true(trunc);
	assert_int_equal(err.code, 0);
	assert_non_null(strstr(err.msg, "deeper than 64"));
	assert_int_equal(v.len, 64);   /* n, n/n, ... 64 levels */
	tpg_strv_free(&v);

	v = glob_(f, "**/bottom.txt", 0, &trunc);
	assert_true(trunc);
	assert_int_equal(v.len, 0);
	tpg_strv_free(&v);

	assert_int_equal(tpg_repo_glob(f->repo, "**/bottom.txt", &(tpg_repo_glob_opts){
	                     .max_depth = 200}, &v, &trunc, NULL), 0);
	assert_false(trunc);
	assert_int_equal(v.len, 1);
	assert_string_equal(v.items[0], tpg_buf_cstr(&rel));
	tpg_strv_free(&v);

	/* A pattern of fixed depth never needs to go deep. */
	v = glob_(f, "n/n/*", TPG_REPO_GLOB_DIRS, NULL);
	assert_int_equal(v.len, 1);
	tpg_strv_free(&v);
	tpg_buf_free(&rel);
}

static void test_hostile_names(void **state)
{
	struct fx *f = *state;
	put(f, "bad\nname.txt", "newline");
	put(f, "\xff\xfe.txt", "latin");
	put(f, "dir\n/\xc3(x.txt", "nested");
	put(f, " lead and trail .txt", "spaces");
	put(f, "-rf.txt", "dash");

	expect_glob(f, "**/*.txt", 0,
	            LIST(" lead and trail .txt", "-rf.txt", "bad\nname.txt", "dir\n/\xc3(x.txt",
	                 "\xff\xfe.txt"));
	expect_glob(f, "bad?name.txt", 0, LIST("bad\nname.txt"));
	expect_glob(f, "??.txt", 0, LIST("\xff\xfe.txt"));
	expect_read(f, "bad\nname.txt", "newline");
	expect_read(f, "\xff\xfe.txt", "latin");
	expect_read(f, "dir\n/\xc3(x.txt", "nested");

	/* Messages show such names escaped, on one line. */
	tpg_err err = {0};
	assert_int_equal(tpg_repo_stat(f->repo, "evil\nFAILED\xff", NULL, NULL, &err),
	                 TPG_ENOTFOUND);
	assert_string_equal(err.msg, "evil\\nFAILED\\xff not found in the repository");
	link_(f, "/etc/\npasswd", "x\ny");
	assert_int_equal(tpg_repo_stat(f->repo, "x\ny", NULL, NULL, &err), TPG_ESYMLINK);
	assert_null(strchr(err.msg, '\n'));
	assert_non_null(strstr(err.msg, "x\\ny is a symbolic link to /etc/\\npasswd"));
}

static void test_glob_git_types_nocase(void **state)
{
	struct fx *f = *state;
	put(f, ".git/config", "[core]");
	put(f, ".git/objects/ab/cdef", "x");
	put(f, "vendor/lib/.git", "gitdir: ../../.git/modules/lib");
	put(f, "cowsay/DOCKERFILE", "FROM a");
	put(f, "Dockerfile", "FROM b");
	put(f, ".dockerignore", "*.md");
	put(f, "docs/README.md", "doc");

	expect_glob(f, "**", 0, LIST(".dockerignore", "Dockerfile", "cowsay/DOCKERFILE",
	                             "docs/README.md"));
	expect_glob(f, ".git/*", TPG_REPO_GLOB_ALL, NONE);
	expect_glob(f, "**/config", 0, NONE);
	expect_glob(f, "**", TPG_REPO_GLOB_DIRS, LIST("cowsay", "docs", "vendor", "vendor/lib"));
	expect_glob(f, "*", TPG_REPO_GLOB_ALL,
	            LIST(".dockerignore", "Dockerfile", "cowsay", "docs", "vendor"));
	expect_glob(f, "cowsay/**", TPG_REPO_GLOB_ALL, LIST("cowsay/DOCKERFILE"));
	expect_glob(f, "**/dockerfile", 0, NONE);

	tpg_strv v = TPG_STRV_INIT;
	tpg_repo_glob_opts o = {.glob_flags = TPG_GLOB_NOCASE};
	assert_int_equal(tpg_repo_glob(f->repo, "**/dockerfile", &o, &v, NULL, NULL), 0);
	assert_int_equal(v.len, 2);
	assert_string_equal(v.items[0], "Dockerfile");
	assert_string_equal(v.items[1], "cowsay/DOCKERFILE");
	tpg_strv_free(&v);
	assert_int_equal(tpg_repo_glob(f->repo, "COWSAY/dockerFILE", &o, &v, NULL, NULL), 0);
	assert_int_equal(v.len, 1);
	tpg_strv_free(&v);

	/* Patterns that cannot match anything in the repository. */
	expect_glob(f, "../*", TPG_REPO_GLOB_ALL, NONE);
	expect_glob(f, "../repo/Dockerfile", TPG_REPO_GLOB_ALL, NONE);
	expect_glob(f, "", TPG_REPO_GLOB_ALL, NONE);
	expect_glob(f, ".", TPG_REPO_GLOB_ALL, NONE);
	expect_glob(f, "/Dockerfile", 0, LIST("Dockerfile"));   /* leading "/" dropped */

	tpg_err err = {0};
	tpg_strv_push(&v, "kept");
	assert_int_equal(tpg_repo_glob(f->repo, "src/[abc", NULL, &v, NULL, &err), TPG_EINVAL);
	assert_non_null(strstr(err.msg, "invalid pattern"));
	assert_int_equal(v.len, 1);
	assert_int_equal(tpg_repo_glob(f->repo, NULL, NULL, &v, NULL, &err), TPG_EINVAL);
	tpg_strv_free(&v);
}

/* --- helpers ------------------------------------------------------------------ */

static void test_path_is_safe(void **state)
{
	(void)state;
	static const struct {
		const char *rel;
		bool safe;
		const char *why;
	} t[] = {
		{"Dockerfile", true, NULL},
		{"cowsay/Dockerfile", true, NULL},
		{"./a/../b", true, NULL},
		{".", true, NULL},
		{"a/..", true, NULL},
		{"...", true, NULL},
		{"..", false, "climbs above"},
		{"../x", false, "climbs above"},
		{"a/../../x", false, "climbs above"},
		{"/etc/passwd", false, "absolute"},
		{"", false, "empty"},
		{NULL, false, "empty"},
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(t); i++) {
		const char *why = "unset";
		bool safe = tpg_repo_path_is_safe(t[i].rel, &why);
		if (safe != t[i].safe)
			fail_msg("'%s': %d", t[i].rel ? t[i].rel : "(null)", safe);
		if (t[i].safe)
			assert_null(why);
		else
			assert_non_null(strstr(why, t[i].why));
	}
	assert_true(tpg_repo_path_is_safe("x", NULL));
	char *huge = tpg_xmalloc(TPG_REPO_MAX_PATH + 2);
	memset(huge, 'a', TPG_REPO_MAX_PATH + 1);
	huge[TPG_REPO_MAX_PATH + 1] = '\0';
	assert_false(tpg_repo_path_is_safe(huge, NULL));
	free(huge);
}

static void test_format_size(void **state)
{
	(void)state;
	static const struct {
		long long n;
		const char *s;
	} t[] = {
		{0, "0 bytes"},
		{1, "1 byte"},
		{512, "512 bytes"},
		{1023, "1023 bytes"},
		{1024, "1.0 KB"},
		{1536, "1.5 KB"},
		{10 * 1024, "10 KB"},
		{512 * 1024, "512 KB"},
		{(1 << 20) - 1, "1.0 MB"},
		{1 << 20, "1.0 MB"},
		{5LL << 20, "5.0 MB"},
		{1LL << 30, "1.0 GB"},
		{(1LL << 30) + (1LL << 29), "1.5 GB"},
		{3LL << 40, "3.0 TB"},
		{LLONG_MAX, "8.0 EB"},
		{-5, "-5 bytes"},
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(t); i++) {
		char buf[32];
		assert_string_equal(tpg_format_size(t[i].n, buf, sizeof(buf)), t[i].s);
	}
	char small[4];
	assert_string_equal(tpg_format_size(1LL << 30, small, sizeof(small)), "1.0");
	assert_string_equal(tpg_format_size(1, NULL, 0), "");
}

static void test_path_display(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		const char *out;
	} t[] = {
		{"plain/path.txt", "plain/path.txt"},
		{"a\nb", "a\\nb"},
		{"tab\there\r", "tab\\there\\r"},
		{"\x1b[31mred", "\\x1b[31mred"},
		{"back\\slash", "back\\\\slash"},
		{"\xff\xfe", "\\xff\\xfe"},
		{"caf\xc3\xa9", "caf\xc3\xa9"},
		{"\xc3", "\\xc3"},
		{"rtl\xe2\x80\xaetxt.exe", "rtl\\u202etxt.exe"},
		{"c1\xc2\x9b", "c1\\u009b"},
		{"", ""},
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(t); i++) {
		char *d = tpg_repo_path_display(t[i].in);
		assert_string_equal(d, t[i].out);
		free(d);
	}
	char *d = tpg_repo_path_display(NULL);
	assert_string_equal(d, "");
	free(d);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open),
		T(test_stat_plain),
		T(test_stat_dotdot_and_absolute),
		T(test_symlink_absolute),
		T(test_symlink_relative_escape),
		T(test_symlink_loops),
		T(test_symlink_inside_followed),
		T(test_symlinked_dir_outside_not_walked),
		T(test_glob_lists_symlinked_files),
		T(test_read_contents),
		T(test_read_sparse_1gb),
		T(test_fifo_never_blocks),
		T(test_socket_and_devices),
		T(test_unreadable),
		T(test_glob_20k_files),
		T(test_glob_visit_cap),
		T(test_glob_interrupted),
		T(test_deep_nesting),
		T(test_hostile_names),
		T(test_glob_git_types_nocase),
		cmocka_unit_test(test_path_is_safe),
		cmocka_unit_test(test_format_size),
		cmocka_unit_test(test_path_display),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

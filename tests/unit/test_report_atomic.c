/* test_report_atomic.c - tpg_write_atomic: all or nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "test_report_fixture.h"

typedef struct wctx {
	const char *text;
	size_t repeat;
	int fail_with;
} wctx;

static int writer(FILE *out, void *ctx, tpg_err *err)
{
	wctx *w = ctx;
	for (size_t i = 0; i < (w->repeat ? w->repeat : 1); i++)
		fputs(w->text, out);
	if (w->fail_with)
		return tpg_err_set(err, w->fail_with, "the writer gave up");
	return 0;
}

/* Number of entries in `dir` besides . and .. */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_atomic_writes_and_replaces(void **state)
{
	(void)state;
	char *dir = fx_tmpdir(), *path = tpg_xasprintf("%s/report.xml", dir), *got;
	wctx w = {.text = "first\n"};
	tpg_err err = {0};
	struct stat st;

	assert_int_equal(tpg_write_atomic(path, writer, &w, &err), 0);
	got = fx_read_file(path, NULL);
	assert_string_equal(got, "first\n");
	free(got);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	w.text = "second\n";
	assert_int_equal(tpg_write_atomic(path, writer, &w, &err), 0);
	got = fx_read_file(path, NULL);
	assert_string_equal(got, "second\n");
	free(got);
	assert_int_equal(entries(dir), 1);   /* no temporary left behind */
	fx_rmdir(dir);
	free(path);
	free(dir);
}

static void test_atomic_relative_path(void **state)
{
	(void)state;
	char *dir = fx_tmpdir(), cwd[4096], *got;
	wctx w = {.text = "here"};

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	int rc = tpg_write_atomic("plain.txt", writer, &w, NULL);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	char *path = tpg_xasprintf("%s/plain.txt", dir);
	got = fx_read_file(path, NULL);
	assert_string_equal(got, "here");
	free(got);
	free(path);
	fx_rmdir(dir);
	free(dir);
}

static void test_atomic_callback_failure_keeps_target(void **state)
{
	(void)state;
	char *dir = fx_tmpdir(), *path = tpg_xasprintf("%s/r.json", dir), *got;
	wctx w = {.text = "new contents", .fail_with = TPG_EINVAL};
	tpg_err err = {0};

	assert_int_equal(fx_write_file(path, "old", 3), 0);
	assert_int_equal(tpg_write_atomic(path, writer, &w, &err), TPG_EINVAL);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "the writer gave up"));
	got = fx_read_file(path, NULL);
	assert_string_equal(got, "old");
	free(got);
	assert_int_equal(entries(dir), 1);
	fx_rmdir(dir);
	free(path);
	free(dir);
}

static void test_atomic_target_is_directory(void **state)
{
	(void)state;
	char *dir = fx_tmpdir(), *sub = tpg_xasprintf("%s/out", dir), *slash;
	wctx w = {.text = "x"};
	tpg_err err = {0};
	struct stat st;

	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(tpg_write_atomic(sub, writer, &w, &err), TPG_EIO);
	assert_non_null(strstr(err.msg, sub));
	assert_non_null(strstr(err.msg, "directory"));
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	slash = tpg_xasprintf("%s/", dir);
	assert_int_equal(tpg_write_atomic(slash, writer, &w, &err), TPG_EIO);
	assert_int_equal(entries(dir), 1);
	fx_rmdir(dir);
	free(slash);
	free(sub);
	free(dir);
}

static void test_atomic_unwritable_places(void **state)
{
	(void)state;
	wctx w = {.text = "x"};
	tpg_err err = {0};

	assert_int_equal(tpg_write_atomic("/nonexistent-tpgrade-dir/r.xml", writer, &w, &err),
	                 TPG_EIO);
	assert_non_null(strstr(err.msg, "/nonexistent-tpgrade-dir/r.xml"));
	/* Not even root can create files there. */
	assert_int_equal(tpg_write_atomic("/proc/self/r.xml", writer, &w, &err), TPG_EIO);
	assert_non_null(strstr(err.msg, "/proc/self/r.xml"));

	if (geteuid() != 0) {
		char *dir = fx_tmpdir(), *path = tpg_xasprintf("%s/r.xml", dir);
		assert_int_equal(chmod(dir, 0555), 0);
		assert_int_equal(tpg_write_atomic(path, writer, &w, &err), TPG_EIO);
		assert_non_null(strstr(err.msg, path));
		assert_non_null(strstr(err.msg, "Permission denied"));
		chmod(dir, 0755);
		fx_rmdir(dir);
		free(path);
		free(dir);
	}
	assert_int_equal(tpg_write_atomic("", writer, &w, &err), TPG_EINVAL);
}

/* A full disk, as far as one process can tell: RLIMIT_FSIZE makes writes
 * past the limit fail with EFBIG (SIGXFSZ ignored). */
static void test_atomic_disk_full(void **state)
{
	(void)state;
	char *dir = fx_tmpdir(), *path = tpg_xasprintf("%s/big.json", dir), *got;
	wctx w = {.text = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n",
	          .repeat = 16 * 1024};   /* 1 MiB */
	tpg_err err = {0};
	struct rlimit old, small;
	void (*prev)(int);

	assert_int_equal(fx_write_file(path, "old", 3), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 64 * 1024;
	prev = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	int rc = tpg_write_atomic(path, writer, &w, &err);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, prev);

	assert_int_equal(rc, TPG_EIO);
	assert_non_null(strstr(err.msg, path));
	got = fx_read_file(path, NULL);
	assert_string_equal(got, "old");
	free(got);
	assert_int_equal(entries(dir), 1);
	fx_rmdir(dir);
	free(path);
	free(dir);
}

static void test_atomic_stdout(void **state)
{
	(void)state;
	char *dir = fx_tmpdir(), *path = tpg_xasprintf("%s/stdout", dir), *got;
	int saved, fd;
	wctx w = {.text = "to stdout\n"};

	fflush(stdout);
	saved = dup(1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 1);
	close(fd);
	int rc = tpg_write_atomic("-", writer, &w, NULL);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	assert_int_equal(rc, 0);
	got = fx_read_file(path, NULL);
	assert_string_equal(got, "to stdout\n");
	free(got);
	fx_rmdir(dir);
	free(path);
	free(dir);
}

static void test_atomic_with_report_writers(void **state)
{
	(void)state;
	char *dir = fx_tmpdir();
	tpg_report *r = fx_sample();
	tpg_err err = {0};
	static const struct {
		const char *name;
		tpg_write_fn fn;
		const char *start;
	} w[] = {
		{"report.json", tpg_report_json_fn, "{"},
		{"report.xml", tpg_report_junit_fn, "<?xml"},
		{"results.json", tpg_report_gradescope_fn, "{"},
	};

	for (size_t i = 0; i < TPG_ARRAY_LEN(w); i++) {
		char *path = tpg_xasprintf("%s/%s", dir, w[i].name), *got;
		assert_int_equal(tpg_write_atomic(path, w[i].fn, r, &err), 0);
		got = fx_read_file(path, NULL);
		assert_true(strncmp(got, w[i].start, strlen(w[i].start)) == 0);
		free(got);
		free(path);
	}
	assert_int_equal(entries(dir), 3);
	tpg_report_free(r);
	fx_rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomic_writes_and_replaces),
		cmocka_unit_test(test_atomic_relative_path),
		cmocka_unit_test(test_atomic_callback_failure_keeps_target),
		cmocka_unit_test(test_atomic_target_is_directory),
		cmocka_unit_test(test_atomic_unwritable_places),
		cmocka_unit_test(test_atomic_disk_full),
		cmocka_unit_test(test_atomic_stdout),
		cmocka_unit_test(test_atomic_with_report_writers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_buildctx.c - .dockerignore semantics and the context tar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tpgrade/buildctx.h"

static tpg_dockerignore *parse(const char *text)
{
	tpg_dockerignore *ign = NULL;
	tpg_err err = {0};
	assert_int_equal(tpg_dockerignore_parse(text, strlen(text), &ign, &err), 0);
	return ign;
}

static void test_parse_rules(void **state)
{
	(void)state;
	tpg_dockerignore *ign = parse("\xEF\xBB\xBF# comment\n"
	                              "  *.md  \r\n"
	                              "\n"
	                              "! README.md\n"
	                              "/build/\n"
	                              "./tmp//x/../y\n"
	                              " # not a comment once spaces come first\n");
	assert_int_equal(tpg_dockerignore_count(ign), 5);
	assert_true(tpg_dockerignore_has_exceptions(ign));
	assert_true(tpg_dockerignore_excluded(ign, "NOTES.md"));
	assert_false(tpg_dockerignore_excluded(ign, "README.md"));
	assert_false(tpg_dockerignore_excluded(ign, "docs/x.md"));   /* '*' stays in its dir */
	assert_true(tpg_dockerignore_excluded(ign, "build"));
	assert_true(tpg_dockerignore_excluded(ign, "build/out/a.o"));   /* under an excluded dir */
	assert_true(tpg_dockerignore_excluded(ign, "tmp/y"));
	assert_false(tpg_dockerignore_excluded(ign, "tmp/x"));
	assert_true(tpg_dockerignore_excluded(ign, "# not a comment once spaces come first"));
	tpg_dockerignore_free(ign);

	tpg_err err = {0};
	assert_int_equal(tpg_dockerignore_parse("a\n!\n", 4, &ign, &err), TPG_EINVAL);
	assert_non_null(strstr(err.msg, "line 2"));
	assert_non_null(strstr(err.msg, "illegal exclusion pattern"));
	assert_int_equal(tpg_dockerignore_parse("[a-\n", 4, &ign, &err), TPG_EINVAL);
	assert_int_equal(tpg_dockerignore_parse(NULL, 0, &ign, &err), 0);
	assert_false(tpg_dockerignore_excluded(ign, "anything"));
	tpg_dockerignore_free(ign);
}

static void test_match_order_and_globs(void **state)
{
	(void)state;
	/* Later lines win; an exception cannot rescue a file of an excluded
	 * parent unless it names it. */
	tpg_dockerignore *ign = parse("**/*.pyc\n!keep.pyc\n*.pyc\ntemp?\ndocs\n!docs/keep.txt\n");
	assert_true(tpg_dockerignore_excluded(ign, "a/b/c.pyc"));
	assert_true(tpg_dockerignore_excluded(ign, "x.pyc"));
	assert_true(tpg_dockerignore_excluded(ign, "keep.pyc"));    /* "*.pyc" comes after */
	assert_true(tpg_dockerignore_excluded(ign, "temp1"));
	assert_false(tpg_dockerignore_excluded(ign, "temp12"));
	assert_true(tpg_dockerignore_excluded(ign, "docs/a.txt"));
	assert_false(tpg_dockerignore_excluded(ign, "docs/keep.txt"));
	tpg_dockerignore_free(ign);
}

/* ---------------------------------------------------------------- trees */

static char root[64];

static void put(const char *rel, const char *text)
{
	char *p = tpg_xasprintf("%s/%s", root, rel);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	free(p);
}

static void mkd(const char *rel)
{
	char *p = tpg_xasprintf("%s/%s", root, rel);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
}

static int setup_tree(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/tpgt-ctx-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	put("Dockerfile", "FROM scratch\n");
	put("app.py", "print('hi')\n");
	put("b.txt", "b\n");
	put("secret.env", "PASSWORD=x\n");
	mkd("a");
	put("a/z.txt", "z\n");
	mkd("node_modules");
	put("node_modules/big.js", "x\n");
	put("node_modules/keep.js", "keep\n");
	mkd("cache");
	put("cache/c.bin", "c\n");
	char *p = tpg_xasprintf("%s/link-out", root);
	if (symlink("/etc/passwd", p) != 0)
		return -1;
	free(p);
	p = tpg_xasprintf("%s/dir-out", root);
	if (symlink("/etc", p) != 0)
		return -1;
	free(p);
	p = tpg_xasprintf("%s/fifo", root);
	if (mkfifo(p, 0644) != 0)
		return -1;
	free(p);
	/* A socket. */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", root);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown_tree(void **state)
{
	(void)state;
	char *cmd = tpg_xasprintf("rm -rf '%s'", root);
	int rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static char *list(const char *dockerfile, size_t limit, int *rc_out, tpg_buildctx_stats *st)
{
	tpg_strv v = TPG_STRV_INIT;
	tpg_err err = {0};
	tpg_buildctx_opts o = {.dockerfile = dockerfile, .limit = limit};
	*rc_out = tpg_buildctx_list(root, &o, &v, st, &err);
	char *s = tpg_strv_join(&v, " ");
	tpg_strv_free(&v);
	return s;
}

static void test_walk_without_dockerignore(void **state)
{
	(void)state;
	int rc;
	tpg_buildctx_stats st;
	char *s = list(NULL, 0, &rc, &st);
	assert_int_equal(rc, 0);
	assert_string_equal(s, "Dockerfile a a/z.txt app.py b.txt cache cache/c.bin dir-out "
	                       "link-out node_modules node_modules/big.js node_modules/keep.js "
	                       "secret.env");
	assert_int_equal(st.symlinks, 2);
	assert_int_equal(st.skipped, 2);   /* fifo, sock */
	free(s);
}

static void test_walk_with_dockerignore(void **state)
{
	(void)state;
	put(".dockerignore", "*\n!app.py\n!a\nnode_modules\n!node_modules/keep.js\n");
	int rc;
	tpg_buildctx_stats st;
	char *s = list(NULL, 0, &rc, &st);
	assert_int_equal(rc, 0);
	/* Dockerfile and .dockerignore always; node_modules/ is entered for
	 * its exception but not sent itself; cache/ is not entered. */
	assert_string_equal(s, ".dockerignore Dockerfile a a/z.txt app.py node_modules/keep.js");
	free(s);

	/* A Dockerfile elsewhere is kept; the default one is not. */
	put("a/Dockerfile.prod", "FROM scratch\n");
	s = list("a/Dockerfile.prod", 0, &rc, &st);
	assert_int_equal(rc, 0);
	assert_string_equal(s, ".dockerignore a a/Dockerfile.prod a/z.txt app.py "
	                       "node_modules/keep.js");
	free(s);
	put(".dockerignore", "cache/\n*.env\n");
	s = list("./a/../a/Dockerfile.prod", 0, &rc, &st);
	assert_int_equal(rc, 0);
	assert_null(strstr(s, "cache"));
	assert_null(strstr(s, "secret.env"));
	assert_non_null(strstr(s, "a/Dockerfile.prod"));
	free(s);

	char *p = tpg_xasprintf("%s/a/Dockerfile.prod", root);
	unlink(p);
	free(p);
	p = tpg_xasprintf("%s/.dockerignore", root);
	unlink(p);
	free(p);
}

static void test_limits_and_bad_input(void **state)
{
	(void)state;
	int rc;
	tpg_buildctx_stats st;
	char *s = list(NULL, 10, &rc, &st);
	assert_int_equal(rc, TPG_ETOOBIG);
	free(s);

	tpg_strv v = TPG_STRV_INIT;
	tpg_err err = {0};
	tpg_buildctx_opts o = {.limit = 1u << 20};
	put("big.bin", "");
	char *p = tpg_xasprintf("%s/big.bin", root);
	assert_int_equal(truncate(p, (2 << 20)), 0);
	assert_int_equal(tpg_buildctx_list(root, &o, &v, NULL, &err), TPG_ETOOBIG);
	assert_string_equal(err.msg, "build context over 1 MB");
	tpg_strv_free(&v);
	unlink(p);
	free(p);

	o.dockerfile = "../Dockerfile";
	assert_int_equal(tpg_buildctx_list(root, &o, &v, NULL, &err), TPG_EINVAL);
	tpg_strv_free(&v);
	o.dockerfile = NULL;
	assert_int_equal(tpg_buildctx_list("/tmp/tpgt-no-such-dir", &o, &v, NULL, &err),
	                 TPG_ENOTFOUND);
	tpg_strv_free(&v);

	/* A symlinked .dockerignore is not followed. */
	p = tpg_xasprintf("%s/.dockerignore", root);
	assert_int_equal(symlink("/etc/hostname", p), 0);
	assert_int_equal(tpg_buildctx_list(root, &o, &v, NULL, &err), TPG_ESYMLINK);
	tpg_strv_free(&v);
	unlink(p);
	free(p);
}

static void test_tar_contents(void **state)
{
	(void)state;
	put(".dockerignore", "secret.env\n");
	FILE *fp = tmpfile();
	tpg_err err = {0};
	tpg_buildctx_stats st;
	assert_int_equal(tpg_buildctx_write(root, NULL, fp, &st, &err), 0);
	long size = ftell(fp);
	assert_int_equal((unsigned long long)size, st.tar_bytes);
	assert_int_equal(size % 512, 0);
	rewind(fp);

	struct archive *ar = archive_read_new();
	archive_read_support_format_tar(ar);
	assert_int_equal(archive_read_open_FILE(ar, fp), ARCHIVE_OK);
	struct archive_entry *e;
	tpg_strv names = TPG_STRV_INIT;
	bool saw_link = false, saw_app = false;
	while (archive_read_next_header(ar, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		tpg_strv_push(&names, name);
		assert_int_equal(archive_entry_uid(e), 0);
		if (strcmp(name, "link-out") == 0) {
			assert_int_equal(archive_entry_filetype(e), AE_IFLNK);
			assert_string_equal(archive_entry_symlink(e), "/etc/passwd");
			saw_link = true;
		}
		if (strcmp(name, "a/") == 0)
			assert_int_equal(archive_entry_filetype(e), AE_IFDIR);
		if (strcmp(name, "app.py") == 0) {
			char buf[64] = "";
			assert_int_equal(archive_read_data(ar, buf, sizeof(buf)), 12);
			assert_string_equal(buf, "print('hi')\n");
			saw_app = true;
		}
	}
	archive_read_free(ar);
	fclose(fp);
	char *all = tpg_strv_join(&names, " ");
	assert_string_equal(all, ".dockerignore Dockerfile a/ a/z.txt app.py b.txt cache/ "
	                         "cache/c.bin dir-out link-out node_modules/ node_modules/big.js "
	                         "node_modules/keep.js");
	free(all);
	tpg_strv_free(&names);
	assert_true(saw_link && saw_app);
	char *p = tpg_xasprintf("%s/.dockerignore", root);
	unlink(p);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rules),
		cmocka_unit_test(test_match_order_and_globs),
		cmocka_unit_test(test_walk_without_dockerignore),
		cmocka_unit_test(test_walk_with_dockerignore),
		cmocka_unit_test(test_limits_and_bad_input),
		cmocka_unit_test(test_tar_contents),
	};
	return cmocka_run_group_tests(tests, setup_tree, teardown_tree);
}

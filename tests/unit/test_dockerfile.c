/* test_dockerfile.c - the Dockerfile parser against BuildKit's conformance
 * data in tests/data/buildkit-parser (read at run time from the repository
 * root; TPG_TEST_DATA overrides "tests/data"): every testfiles/ case (dump
 * byte for byte), every testfiles-negative/ case, testfile-line, every
 * unit-tests/ file, and every oracle-extra/ case compared field by field
 * with the oracle's JSON. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <jansson.h>

#include "tpgrade/dockerfile.h"
#include "tpgrade/shellword.h"

static char *data_path(const char *rel)
{
	const char *base = getenv("TPG_TEST_DATA");
	return tpg_xasprintf("%s/buildkit-parser/%s", base && *base ? base : "tests/data", rel);
}

static char *slurp_path(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	tpg_buf b = TPG_BUF_INIT;
	char chunk[8192];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		tpg_buf_append(&b, chunk, n);
	fclose(f);
	tpg_buf_append(&b, "", 0);
	if (len)
		*len = b.len;
	return tpg_buf_detach(&b);
}

static char *slurp(const char *rel, size_t *len)
{
	char *p = data_path(rel);
	char *d = slurp_path(p, len);
	if (!d)
		fail_msg("cannot read %s (run from the repository root or set TPG_TEST_DATA)", p);
	free(p);
	return d;
}

static json_t *load_json(const char *rel)
{
	char *p = data_path(rel);
	json_error_t je;
	json_t *j = json_load_file(p, JSON_ALLOW_NUL, &je);
	if (!j)
		fail_msg("%s: %s", p, je.text);
	free(p);
	return j;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted subdirectory names of a data folder. */
static void list_dirs(const char *rel, tpg_strv *out)
{
	char *p = data_path(rel);
	DIR *d = opendir(p);
	struct dirent *e;

	if (!d)
		fail_msg("cannot list %s", p);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		tpg_strv_push(out, e->d_name);
	}
	closedir(d);
	free(p);
	if (out->len)
		qsort(out->items, out->len, sizeof(char *), cmp_names);
}

static tpg_dockerfile *parse_rel(const char *rel, int *rc, tpg_df_errpos *pos, tpg_err *err)
{
	size_t len;
	char *d = slurp(rel, &len);
	tpg_dockerfile *df = NULL;
	*rc = tpg_dockerfile_parse_at(d, len, &df, pos, err);
	free(d);
	return df;
}

/* ---- testfiles/ ----------------------------------------------------------- */

static void test_testfiles(void **state)
{
	(void)state;
	tpg_strv dirs = TPG_STRV_INIT;
	int failures = 0;

	list_dirs("testfiles", &dirs);
	assert_int_equal(dirs.len, 33);
	for (size_t i = 0; i < dirs.len; i++) {
		char *df_rel = tpg_xasprintf("testfiles/%s/Dockerfile", dirs.items[i]);
		char *res_rel = tpg_xasprintf("testfiles/%s/result", dirs.items[i]);
		tpg_err err = {0};
		int rc;
		tpg_dockerfile *df = parse_rel(df_rel, &rc, NULL, &err);
		char *want = slurp(res_rel, NULL);
		if (rc != 0) {
			print_error("%s: parse failed: %s\n", dirs.items[i], err.msg);
			failures++;
		} else {
			tpg_buf got = TPG_BUF_INIT;
			tpg_dockerfile_dump(df, &got);
			if (strcmp(tpg_buf_cstr(&got), want) != 0) {
				print_error("%s: dump differs\n--- got\n%s--- want\n%s", dirs.items[i],
					    tpg_buf_cstr(&got), want);
				failures++;
			}
			tpg_buf_free(&got);
		}
		tpg_dockerfile_free(df);
		free(want);
		free(df_rel);
		free(res_rel);
	}
	print_message("testfiles: %zu cases\n", dirs.len);
	assert_int_equal(failures, 0);
	tpg_strv_free(&dirs);
}

static void test_testfiles_negative(void **state)
{
	(void)state;
	static const struct {
		const char *name, *msg;
	} known[] = {
		{"empty_dockerfile", "file with no instructions"},
		{"only_comments", "file with no instructions"},
		{"env_no_value", "ENV must have two arguments"},
		{"shykes-nested-json",
		 "when using JSON array syntax, arrays must be comprised of strings only"},
	};
	tpg_strv dirs = TPG_STRV_INIT;

	list_dirs("testfiles-negative", &dirs);
	assert_int_equal(dirs.len, 4);
	for (size_t i = 0; i < dirs.len; i++) {
		char *rel = tpg_xasprintf("testfiles-negative/%s/Dockerfile", dirs.items[i]);
		tpg_err err = {0};
		int rc;
		tpg_dockerfile *df = parse_rel(rel, &rc, NULL, &err);
		assert_int_equal(rc, TPG_EPARSE);
		assert_null(df);
		for (size_t k = 0; k < TPG_ARRAY_LEN(known); k++)
			if (!strcmp(known[k].name, dirs.items[i]))
				assert_string_equal(err.msg, known[k].msg);
		free(rel);
	}
	tpg_strv_free(&dirs);
}

static void test_testfile_line(void **state)
{
	(void)state;
	json_t *exp = load_json("testfile-line/expected-lines.json");
	json_t *children = json_object_get(exp, "children");
	tpg_err err = {0};
	int rc;
	tpg_dockerfile *df = parse_rel("testfile-line/Dockerfile", &rc, NULL, &err);

	assert_int_equal(rc, 0);
	assert_int_equal(df->ninstrs, json_integer_value(json_object_get(exp, "child_count")));
	assert_int_equal(df->instrs[0].start_line,
			 json_integer_value(json_array_get(json_object_get(exp, "root"), 0)));
	assert_int_equal(df->instrs[df->ninstrs - 1].end_line,
			 json_integer_value(json_array_get(json_object_get(exp, "root"), 1)));
	for (size_t i = 0; i < json_array_size(children); i++) {
		json_t *c = json_array_get(children, i);
		assert_int_equal(df->instrs[i].start_line, json_integer_value(json_array_get(c, 0)));
		assert_int_equal(df->instrs[i].end_line, json_integer_value(json_array_get(c, 1)));
	}
	tpg_dockerfile_free(df);
	json_decref(exp);
}

/* ---- unit-tests/ ------------------------------------------------------------ */

static bool heredoc_equal(const tpg_df_heredoc *h, json_t *j, const char *where)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *content = json_string_value(json_object_get(j, "content"));
	bool ok = !strcmp(h->name, name) &&
		  h->fd == (uint64_t)json_integer_value(json_object_get(j, "fd")) &&
		  h->expand == json_is_true(json_object_get(j, "expand")) &&
		  h->chomp == json_is_true(json_object_get(j, "chomp")) &&
		  !strcmp(h->content, content);
	if (!ok)
		print_error("%s: heredoc differs: got {%s fd=%llu expand=%d chomp=%d %s}\n", where,
			    h->name, (unsigned long long)h->fd, h->expand, h->chomp, h->content);
	return ok;
}

static void check_heredoc_file(const char *dir)
{
	char *dfp = tpg_xasprintf("unit-tests/%s/Dockerfile", dir);
	char *jp = tpg_xasprintf("unit-tests/%s/expected-heredocs.json", dir);
	json_t *exp = load_json(jp);
	json_t *list = json_object_get(exp, "heredocs");
	tpg_err err = {0};
	int rc, failures = 0;
	tpg_dockerfile *df = parse_rel(dfp, &rc, NULL, &err);

	if (rc)
		fail_msg("%s: %s", dir, err.msg);
	assert_int_equal(df->ninstrs, json_array_size(list) + 1);
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		const tpg_df_instr *in = &df->instrs[i + 1];
		if (json_is_null(e)) {
			if (in->nheredocs != 0) {
				print_error("%s child %zu: unexpected heredocs\n", dir, i + 1);
				failures++;
			}
			continue;
		}
		if (in->nheredocs != json_array_size(e)) {
			print_error("%s child %zu: %zu heredocs, want %zu\n", dir, i + 1, in->nheredocs,
				    json_array_size(e));
			failures++;
			continue;
		}
		for (size_t k = 0; k < in->nheredocs; k++)
			if (!heredoc_equal(&in->heredocs[k], json_array_get(e, k), dir))
				failures++;
	}
	assert_int_equal(failures, 0);
	tpg_dockerfile_free(df);
	json_decref(exp);
	free(dfp);
	free(jp);
}

static void test_heredoc_extract(void **state)
{
	(void)state;
	check_heredoc_file("heredoc-extract");
	check_heredoc_file("heredoc-json-form");
}

static void test_empty_continuation_warnings(void **state)
{
	(void)state;
	json_t *exp = load_json("unit-tests/empty-continuation-warning/expected-warnings.json");
	json_t *sc = json_object_get(exp, "short_contains");
	tpg_err err = {0};
	int rc;
	tpg_dockerfile *df = parse_rel("unit-tests/empty-continuation-warning/Dockerfile", &rc,
				       NULL, &err);

	assert_int_equal(rc, 0);
	assert_int_equal(df->warnings.len, json_integer_value(json_object_get(exp, "warning_count")));
	for (size_t i = 0; i < json_array_size(sc); i++) {
		json_t *subs = json_array_get(sc, i);
		for (size_t k = 0; k < json_array_size(subs); k++)
			assert_non_null(strstr(df->warnings.items[i],
					       json_string_value(json_array_get(subs, k))));
	}
	assert_non_null(strstr(TPG_DF_EMPTY_CONTINUATION_DETAIL,
			       json_string_value(json_object_get(exp, "detail_contains"))));
	tpg_dockerfile_free(df);
	json_decref(exp);
}

/* Parses "FROM x\n<prefix> <input>\n" and returns the second instruction. */
static tpg_dockerfile *parse_one(const char *prefix, const char *input, size_t inlen, int *rc,
				 tpg_err *err)
{
	tpg_buf b = TPG_BUF_INIT;
	tpg_dockerfile *df = NULL;

	tpg_buf_puts(&b, "FROM x\n");
	tpg_buf_puts(&b, prefix);
	tpg_buf_putc(&b, ' ');
	tpg_buf_append(&b, input, inlen);
	tpg_buf_putc(&b, '\n');
	*rc = tpg_dockerfile_parse(b.data, b.len, &df, NULL, err);
	tpg_buf_free(&b);
	return df;
}

static bool args_equal(const tpg_df_instr *in, json_t *expect)
{
	if (in->args.len != json_array_size(expect))
		return false;
	for (size_t k = 0; k < in->args.len; k++) {
		json_t *e = json_array_get(expect, k);
		if (in->arg_lens[k] != json_string_length(e) ||
		    memcmp(in->args.items[k], json_string_value(e), in->arg_lens[k]) != 0)
			return false;
	}
	return true;
}

static void test_parse_words(void **state)
{
	(void)state;
	json_t *exp = load_json("unit-tests/parse-words.json");
	json_t *cases = json_object_get(exp, "cases");
	int failures = 0;

	for (size_t i = 0; i < json_array_size(cases); i++) {
		json_t *c = json_array_get(cases, i);
		const char *in = json_string_value(json_object_get(c, "input"));
		json_t *want = json_object_get(c, "expect");
		tpg_strv w = TPG_STRV_INIT;
		tpg_err err = {0};
		int rc;

		tpg_df_parse_words(in, strlen(in), '\\', &w);
		bool ok = w.len == json_array_size(want);
		for (size_t k = 0; ok && k < w.len; k++)
			ok = !strcmp(w.items[k], json_string_value(json_array_get(want, k)));
		tpg_dockerfile *df = parse_one("ARG", in, strlen(in), &rc, &err);
		ok = ok && rc == 0 && args_equal(&df->instrs[1], want);
		if (!ok) {
			print_error("parseWords %s differs\n", in);
			failures++;
		}
		tpg_dockerfile_free(df);
		tpg_strv_free(&w);
	}
	assert_int_equal(failures, 0);
	json_decref(exp);
}

static void test_json_arrays(void **state)
{
	(void)state;
	json_t *exp = load_json("unit-tests/json-arrays.json");
	json_t *valid = json_object_get(exp, "valid");
	json_t *invalid = json_object_get(exp, "invalid_not_string_array");
	int failures = 0;

	for (size_t i = 0; i < json_array_size(valid); i++) {
		json_t *c = json_array_get(valid, i);
		const char *in = json_string_value(json_object_get(c, "input"));
		tpg_err err = {0};
		int rc;
		tpg_dockerfile *df = parse_one("CMD", in, strlen(in), &rc, &err);
		if (rc != 0 || !df->instrs[1].json ||
		    !args_equal(&df->instrs[1], json_object_get(c, "expect"))) {
			print_error("JSON %s: not parsed as expected (%s)\n", in, err.msg);
			failures++;
		}
		tpg_dockerfile_free(df);
	}
	for (size_t i = 0; i < json_array_size(invalid); i++) {
		const char *in = json_string_value(json_array_get(invalid, i));
		tpg_err err = {0};
		int rc;
		tpg_dockerfile *df = parse_one("CMD", in, strlen(in), &rc, &err);
		if (rc != TPG_EPARSE ||
		    strcmp(err.msg,
			   "when using JSON array syntax, arrays must be comprised of strings only")) {
			print_error("JSON %s: expected the non-string error\n", in);
			failures++;
		}
		tpg_dockerfile_free(df);
	}
	assert_int_equal(failures, 0);
	json_decref(exp);
}

static void test_name_val(void **state)
{
	(void)state;
	json_t *exp = load_json("unit-tests/name-val.json");
	json_t *cases = json_object_get(exp, "cases");

	for (size_t i = 0; i < json_array_size(cases); i++) {
		json_t *c = json_array_get(cases, i);
		const char *kw = json_string_value(json_object_get(c, "instruction"));
		const char *in = json_string_value(json_object_get(c, "input"));
		json_t *e = json_object_get(c, "expect_error");
		tpg_err err = {0};
		int rc;
		tpg_dockerfile *df = parse_one(kw, in, strlen(in), &rc, &err);
		if (e) {
			assert_int_equal(rc, TPG_EPARSE);
			assert_string_equal(err.msg, json_string_value(e));
		} else {
			assert_int_equal(rc, 0);
			assert_true(args_equal(&df->instrs[1], json_object_get(c, "expect")));
		}
		tpg_dockerfile_free(df);
	}
	json_decref(exp);
}

static void test_heredoc_words(void **state)
{
	(void)state;
	json_t *exp = load_json("unit-tests/heredoc-words.json");
	json_t *ph = json_object_get(exp, "parse_heredoc");
	json_t *valid = json_object_get(ph, "valid_name_EOF");
	json_t *invalid = json_object_get(ph, "invalid");
	json_t *none = json_object_get(ph, "not_heredoc");
	json_t *fl = json_object_get(exp, "from_line");
	tpg_df_heredoc h;
	tpg_err err = {0};

	for (size_t i = 0; i < json_array_size(valid); i++) {
		const char *w = json_string_value(json_array_get(valid, i));
		assert_int_equal(tpg_df_parse_heredoc(w, &h, &err), 1);
		assert_string_equal(h.name, "EOF");
		tpg_df_heredoc_clear(&h);
	}
	for (size_t i = 0; i < json_array_size(invalid); i++) {
		const char *w = json_string_value(json_array_get(invalid, i));
		assert_int_equal(tpg_df_parse_heredoc(w, &h, &err), TPG_EPARSE);
	}
	for (size_t i = 0; i < json_array_size(none); i++) {
		const char *w = json_string_value(json_array_get(none, i));
		assert_int_equal(tpg_df_parse_heredoc(w, &h, &err), 0);
	}
	for (size_t i = 0; i < json_array_size(fl); i++) {
		json_t *c = json_array_get(fl, i);
		const char *line = json_string_value(json_object_get(c, "line"));
		json_t *names = json_object_get(c, "names");
		tpg_df_heredoc *docs;
		size_t n;

		assert_int_equal(tpg_df_heredocs_from_line(line, &docs, &n, &err), 0);
		assert_int_equal(n, json_array_size(names));
		for (size_t k = 0; k < n; k++) {
			assert_string_equal(docs[k].name, json_string_value(json_array_get(names, k)));
			tpg_df_heredoc_clear(&docs[k]);
		}
		free(docs);

		/* and through the parser: the next line is the terminator */
		tpg_buf b = TPG_BUF_INIT;
		tpg_dockerfile *df = NULL;
		int rc;
		tpg_buf_puts(&b, "FROM x\n");
		tpg_buf_puts(&b, line);
		tpg_buf_putc(&b, '\n');
		for (size_t k = 0; k < json_array_size(names); k++)
			tpg_buf_printf(&b, "body\n%s\n", json_string_value(json_array_get(names, k)));
		rc = tpg_dockerfile_parse(b.data, b.len, &df, NULL, &err);
		assert_int_equal(rc, 0);
		assert_int_equal(df->instrs[1].nheredocs, json_array_size(names));
		tpg_dockerfile_free(df);
		tpg_buf_free(&b);
	}
	json_decref(exp);
}

static void check_detect(json_t *cases, const char *key, bool any)
{
	for (size_t i = 0; i < json_array_size(cases); i++) {
		json_t *c = json_array_get(cases, i);
		const char *in = json_string_value(json_object_get(c, "input"));
		json_t *ref = json_object_get(c, "ref"), *cmd = json_object_get(c, "cmdline");
		json_t *line = json_object_get(c, "line");
		char *r = NULL, *cl = NULL;
		int l = -1;
		bool ok = tpg_df_detect_directive(in, strlen(in), key, any, &r, &cl, &l);

		assert_int_equal(ok, json_is_true(json_object_get(c, "ok")));
		if (ok && ref)
			assert_string_equal(r, json_string_value(ref));
		if (ok && cmd)
			assert_string_equal(cl, json_string_value(cmd));
		if (ok && line)
			assert_int_equal(l, json_integer_value(line));
		free(r);
		free(cl);
	}
}

static void test_directives(void **state)
{
	(void)state;
	json_t *exp = load_json("unit-tests/directives.json");
	json_t *pa = json_object_get(exp, "parse_all");

	for (size_t i = 0; i < json_array_size(pa); i++) {
		json_t *c = json_array_get(pa, i);
		const char *in = json_string_value(json_object_get(c, "input"));
		json_t *want = json_object_get(c, "expect");
		tpg_strv names = TPG_STRV_INIT, values = TPG_STRV_INIT;
		assert_int_equal(tpg_df_parse_directives(in, strlen(in), &names, &values, NULL), 0);
		assert_int_equal(names.len, json_array_size(want));
		for (size_t k = 0; k < names.len; k++) {
			json_t *w = json_array_get(want, k);
			assert_string_equal(names.items[k], json_string_value(json_object_get(w, "name")));
			assert_string_equal(values.items[k],
					    json_string_value(json_object_get(w, "value")));
		}
		tpg_strv_free(&names);
		tpg_strv_free(&values);
	}
	check_detect(json_object_get(exp, "detect_syntax"), "syntax", true);
	check_detect(json_object_get(exp, "parse_directive_check"), "check", false);
	json_decref(exp);
}

static void test_scanner_too_long(void **state)
{
	(void)state;
	json_t *exp = load_json("unit-tests/scanner-too-long.json");
	const char *tmpl = json_string_value(json_object_get(exp, "input_template"));
	json_t *fill = json_object_get(exp, "fill");
	size_t count = (size_t)json_integer_value(json_object_get(fill, "count"));
	const char *ch = json_string_value(json_object_get(fill, "char"));
	const char *pct = strstr(tmpl, "%s");
	tpg_buf b = TPG_BUF_INIT;
	tpg_dockerfile *df = NULL;
	tpg_err err = {0};

	assert_non_null(pct);
	tpg_buf_append(&b, tmpl, (size_t)(pct - tmpl));
	for (size_t i = 0; i < count; i++)
		tpg_buf_putc(&b, ch[0]);
	tpg_buf_puts(&b, pct + 2);
	assert_int_equal(tpg_dockerfile_parse(b.data, b.len, &df, NULL, &err), TPG_EPARSE);
	assert_string_equal(err.msg, json_string_value(json_object_get(exp, "expect_error")));
	tpg_buf_free(&b);
	json_decref(exp);
}

/* ---- oracle-extra/ ----------------------------------------------------------- */

/* The oracle omits empty strings and false/empty fields. */
static const char *jstr(json_t *j, const char *key)
{
	const char *v = json_string_value(json_object_get(j, key));
	return v ? v : "";
}

static int compare_node(const tpg_df_instr *in, json_t *j, const char *where, bool inner)
{
	int f = 0;
	json_t *flags = json_object_get(j, "flags"), *next = json_object_get(j, "next");
	json_t *hd = json_object_get(j, "heredocs"), *pc = json_object_get(j, "prev_comment");
	tpg_buf dump = TPG_BUF_INIT;

#define CHECK(cond, ...)                                  \
	do {                                              \
		if (!(cond)) {                            \
			print_error("%s: ", where);       \
			print_error(__VA_ARGS__);         \
			f++;                              \
		}                                         \
	} while (0)

	CHECK(!strcmp(in->keyword, jstr(j, "value")), "value %s\n", in->keyword);
	CHECK(!strcmp(in->original, jstr(j, "original")),
	      "original '%s'\n", in->original);
	CHECK(in->start_line == json_integer_value(json_object_get(j, "start_line")) &&
		      in->end_line == json_integer_value(json_object_get(j, "end_line")),
	      "lines %d-%d\n", in->start_line, in->end_line);
	CHECK(in->json == json_is_true(json_object_get(j, "json")), "json %d\n", in->json);
	CHECK(in->flags.len == json_array_size(flags), "%zu flags\n", in->flags.len);
	for (size_t k = 0; k < in->flags.len && k < json_array_size(flags); k++)
		CHECK(!strcmp(in->flags.items[k], json_string_value(json_array_get(flags, k))),
		      "flag %s\n", in->flags.items[k]);
	if (in->inner) {
		CHECK(json_array_size(next) == 1 && json_is_object(json_array_get(next, 0)),
		      "ONBUILD without nested node in the oracle\n");
		if (json_array_size(next) == 1)
			f += compare_node(in->inner, json_array_get(next, 0), where, true);
	} else {
		if (next)
			CHECK(args_equal(in, next), "args differ (%zu)\n", in->args.len);
		else
			CHECK(in->args.len == 0, "%zu args, none expected\n", in->args.len);
	}
	CHECK(in->nheredocs == json_array_size(hd), "%zu heredocs\n", in->nheredocs);
	for (size_t k = 0; k < in->nheredocs && k < json_array_size(hd); k++)
		if (!heredoc_equal(&in->heredocs[k], json_array_get(hd, k), where))
			f++;
	if (!inner) {
		CHECK(in->comments.len == json_array_size(pc), "%zu comments\n", in->comments.len);
		for (size_t k = 0; k < in->comments.len && k < json_array_size(pc); k++)
			CHECK(!strcmp(in->comments.items[k], json_string_value(json_array_get(pc, k))),
			      "comment '%s'\n", in->comments.items[k]);
	}
	tpg_df_instr_dump(in, &dump);
	CHECK(!strcmp(tpg_buf_cstr(&dump), jstr(j, "dump")),
	      "dump %s\n", tpg_buf_cstr(&dump));
	tpg_buf_free(&dump);
#undef CHECK
	return f;
}

static int check_oracle_case(const char *name)
{
	char *dfp = tpg_xasprintf("oracle-extra/%s/Dockerfile", name);
	char *resp = tpg_xasprintf("oracle-extra/%s/result", name);
	char *errp = tpg_xasprintf("oracle-extra/%s/error", name);
	char *orp = tpg_xasprintf("oracle-extra/%s/oracle.json", name);
	char *res_path = data_path(resp), *err_path = data_path(errp);
	char *result = slurp_path(res_path, NULL), *errmsg = slurp_path(err_path, NULL);
	json_t *o = load_json(orp);
	tpg_df_errpos pos;
	tpg_err err = {0};
	int rc, f = 0;
	tpg_dockerfile *df = parse_rel(dfp, &rc, &pos, &err);

	if (json_is_true(json_object_get(o, "ok")) != (rc == 0) || (result == NULL) != (rc != 0)) {
		print_error("%s: parse rc %d (%s)\n", name, rc, err.msg);
		f++;
		goto out;
	}
	if (rc != 0) {
		json_t *e = json_object_get(o, "error");
		json_t *l0 = json_array_get(json_object_get(e, "lines"), 0);
		size_t ml = strlen(errmsg);
		if (ml && errmsg[ml - 1] == '\n')
			errmsg[--ml] = '\0';
		if (strcmp(err.msg, errmsg) || strcmp(err.msg, json_string_value(json_object_get(e, "message")))) {
			print_error("%s: error '%s', want '%s'\n", name, err.msg, errmsg);
			f++;
		}
		if (pos.start_line != json_integer_value(json_array_get(l0, 0)) ||
		    pos.end_line != json_integer_value(json_array_get(l0, 1))) {
			print_error("%s: error lines %d-%d\n", name, pos.start_line, pos.end_line);
			f++;
		}
		goto out;
	}
	tpg_buf dump = TPG_BUF_INIT;
	tpg_dockerfile_dump(df, &dump);
	if (strcmp(tpg_buf_cstr(&dump), result)) {
		print_error("%s: dump differs\n--- got\n%s--- want\n%s", name, tpg_buf_cstr(&dump),
			    result);
		f++;
	}
	tpg_buf_free(&dump);

	json_t *children = json_object_get(o, "children");
	if (df->ninstrs != json_array_size(children)) {
		print_error("%s: %zu instructions\n", name, df->ninstrs);
		f++;
		goto out;
	}
	for (size_t i = 0; i < df->ninstrs; i++) {
		char *where = tpg_xasprintf("%s[%zu]", name, i);
		f += compare_node(&df->instrs[i], json_array_get(children, i), where, false);
		free(where);
	}
	if (df->instrs[0].start_line != json_integer_value(json_object_get(o, "start_line")) ||
	    df->instrs[df->ninstrs - 1].end_line != json_integer_value(json_object_get(o, "end_line"))) {
		print_error("%s: root lines\n", name);
		f++;
	}
	const char *esc = json_string_value(json_object_get(o, "escape_token"));
	if (!esc || esc[0] != df->escape) {
		print_error("%s: escape %c\n", name, df->escape);
		f++;
	}
	json_t *w = json_object_get(o, "warnings");
	if (df->warnings.len != json_array_size(w)) {
		print_error("%s: %zu warnings\n", name, df->warnings.len);
		f++;
	} else {
		for (size_t i = 0; i < df->warnings.len; i++) {
			json_t *wi = json_array_get(w, i);
			if (strcmp(df->warnings.items[i], json_string_value(json_object_get(wi, "short"))) ||
			    df->warning_lines[i] != json_integer_value(json_object_get(wi, "line"))) {
				print_error("%s: warning '%s' line %d\n", name, df->warnings.items[i],
					    df->warning_lines[i]);
				f++;
			}
		}
	}
out:
	tpg_dockerfile_free(df);
	json_decref(o);
	free(result);
	free(errmsg);
	free(res_path);
	free(err_path);
	free(dfp);
	free(resp);
	free(errp);
	free(orp);
	return f;
}

static void test_oracle_extra(void **state)
{
	(void)state;
	tpg_strv dirs = TPG_STRV_INIT;
	int failures = 0;

	list_dirs("oracle-extra", &dirs);
	assert_int_equal(dirs.len, 50);
	for (size_t i = 0; i < dirs.len; i++)
		failures += check_oracle_case(dirs.items[i]);
	print_message("oracle-extra: %zu cases\n", dirs.len);
	assert_int_equal(failures, 0);
	tpg_strv_free(&dirs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_testfiles),
		cmocka_unit_test(test_testfiles_negative),
		cmocka_unit_test(test_testfile_line),
		cmocka_unit_test(test_heredoc_extract),
		cmocka_unit_test(test_empty_continuation_warnings),
		cmocka_unit_test(test_parse_words),
		cmocka_unit_test(test_json_arrays),
		cmocka_unit_test(test_name_val),
		cmocka_unit_test(test_heredoc_words),
		cmocka_unit_test(test_directives),
		cmocka_unit_test(test_scanner_too_long),
		cmocka_unit_test(test_oracle_extra),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

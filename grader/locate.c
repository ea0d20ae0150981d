/* locate.c - naming or finding what a check grades. */
#include "tpgrade/locate.h"
#include "tpgrade/glob.h"
#include "tpgrade/repo.h"

#include <stdlib.h>
#include <string.h>

static void check_globs(tpg_fields *f, const tpg_strv *globs, const char *key, int flags)
{
	for (size_t i = 0; i < globs->len; i++) {
		tpg_glob *g = NULL;
		tpg_err err = {0};
		const char *why = NULL;
		if (!tpg_repo_path_is_safe(globs->items[i], &why)) {
			tpg_fields_error(f, NULL, key, "'%s' must stay inside the repository (%s)",
			                 globs->items[i], why);
			continue;
		}
		if (tpg_glob_compile(globs->items[i], flags, &g, &err) < 0)
			tpg_fields_error(f, NULL, key, "%s", err.msg);
		tpg_glob_free(g);
	}
}

int tpg_locate_parse(tpg_fields *f, bool dirs, tpg_locate *out)
{
	tpg_fields *find = NULL;
	int before = tpg_fields_errors(f);

	memset(out, 0, sizeof(*out));
	out->dirs = dirs;
	int has_path = tpg_fields_path(f, "path", false, &out->path);
	int has_find = tpg_fields_map(f, "find", false, &find);
	if (has_find > 0) {
		tpg_fields_bool(find, "nocase", &out->nocase);
		int flags = out->nocase ? TPG_GLOB_NOCASE : 0;
		if (tpg_fields_strlist(find, "glob", &out->globs) == 0)
			tpg_fields_error(find, NULL, NULL, "missing required key 'glob' (what to look for, "
			                 "e.g. \"**/Dockerfile\")");
		tpg_fields_strlist(find, "prefer", &out->prefer);
		tpg_fields_strlist(find, "exclude", &out->exclude);
		check_globs(find, &out->globs, "glob", flags);
		check_globs(find, &out->prefer, "prefer", flags);
		check_globs(find, &out->exclude, "exclude", flags);
		tpg_fields_end(find);
	}
	if (has_path > 0 && has_find > 0)
		tpg_fields_error(f, NULL, "find", "give either path or find, not both");
	else if (has_path == 0 && has_find == 0)
		tpg_fields_error(f, NULL, NULL, "missing 'path' (what to grade) or 'find' (how to look for it)");
	static const char *const if_none[] = { "fail", "skip", NULL };
	int choice = 0;
	tpg_fields_enum(f, "if-none", if_none, &choice);
	out->skip_if_none = choice == 1;
	tpg_fields_l10n(f, "if-none-message", &out->none_message);
	return tpg_fields_errors(f) > before ? -1 : 0;
}

typedef struct ranked {
	char *path;
	size_t prefer;   /* index of the first matching prefer pattern, or npref */
	size_t depth;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
	const ranked *x = a, *y = b;
	if (x->prefer != y->prefer)
		return x->prefer < y->prefer ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return strcmp(x->path, y->path);
}

static size_t depth_of(const char *p)
{
	size_t d = 0;
	for (; *p; p++)
		d += *p == '/';
	return d;
}

/* Compiled patterns of a list (NULL entries for ones that do not compile:
 * they were reported when the spec was loaded). */
static tpg_glob **compile_all(const tpg_strv *pats, int flags)
{
	tpg_glob **g = tpg_xcalloc(pats->len ? pats->len : 1, sizeof(*g));
	for (size_t i = 0; i < pats->len; i++)
		tpg_glob_compile(pats->items[i], flags, &g[i], NULL);
	return g;
}

static void free_all(tpg_glob **g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tpg_glob_free(g[i]);
	free(g);
}

/* Index of the first pattern matching `path`, or n when none does. */
static size_t first_match(tpg_glob *const *g, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (g[i] && tpg_glob_match(g[i], path))
			return i;
	return n;
}

int tpg_locate_candidates(tpg_run *run, const tpg_locate *loc, tpg_strv *out, tpg_err *err)
{
	if (loc->path.text) {
		char *p = NULL;
		int rc = tpg_run_expand(run, &loc->path, &p, err);
		if (rc < 0)
			return rc;
		const char *why = NULL;
		if (!tpg_repo_path_is_safe(p, &why)) {
			rc = tpg_err_set(err, TPG_EINVAL, "the path '%s' leaves the repository (%s)", p, why);
			free(p);
			return rc;
		}
		char *clean = tpg_path_clean(p, NULL);
		free(p);
		tpg_strv_push_owned(out, clean);
		return 0;
	}

	int flags = loc->nocase ? TPG_GLOB_NOCASE : 0;
	tpg_strv found = TPG_STRV_INIT;
	tpg_repo_glob_opts opts;
	memset(&opts, 0, sizeof(opts));
	opts.glob_flags = flags;
	opts.types = loc->dirs ? TPG_REPO_GLOB_DIRS : TPG_REPO_GLOB_FILES;
	tpg_glob **exclude = compile_all(&loc->exclude, flags);
	tpg_glob **prefer = compile_all(&loc->prefer, flags);
	for (size_t i = 0; i < loc->globs.len; i++) {
		tpg_strv one = TPG_STRV_INIT;
		int rc = tpg_repo_glob(tpg_run_repo(run), loc->globs.items[i], &opts, &one, NULL, err);
		if (rc < 0) {
			tpg_strv_free(&found);
			free_all(exclude, loc->exclude.len);
			free_all(prefer, loc->prefer.len);
			return rc;
		}
		for (size_t k = 0; k < one.len; k++)
			/* Several globs may list a path twice; one cannot. */
			if ((i == 0 || !tpg_strv_contains(&found, one.items[k])) &&
			    first_match(exclude, loc->exclude.len, one.items[k]) == loc->exclude.len)
				tpg_strv_push(&found, one.items[k]);
		tpg_strv_free(&one);
	}
	ranked *r = tpg_xcalloc(found.len ? found.len : 1, sizeof(*r));
	for (size_t i = 0; i < found.len; i++) {
		r[i].path = found.items[i];
		r[i].prefer = first_match(prefer, loc->prefer.len, r[i].path);
		r[i].depth = depth_of(r[i].path);
	}
	free_all(exclude, loc->exclude.len);
	free_all(prefer, loc->prefer.len);
	qsort(r, found.len, sizeof(*r), cmp_ranked);
	for (size_t i = 0; i < found.len; i++)
		tpg_strv_push_owned(out, r[i].path);
	free(r);
	free(found.items);
	return 0;
}

int tpg_locate_list(tpg_run *run, const tpg_locate *loc, tpg_strv *out, tpg_result *res)
{
	tpg_err err = {0};
	int rc = tpg_locate_candidates(run, loc, out, &err);
	if (rc == 0)
		return 0;
	if (rc == TPG_ENOTFOUND)
		tpg_result_skip(res, "%s", err.msg);
	else if (rc == TPG_EINVAL)
		tpg_result_fail(res, "%s", err.msg);
	else
		tpg_result_error(res, "%s", err.msg);
	return -1;
}

void tpg_locate_none(const tpg_locate *loc, const tpg_strv *cands, const tpg_buf *rejected,
                     size_t nrejected, const char *noun, const char *lang, tpg_result *res)
{
	const char *custom = tpg_l10n_pick(&loc->none_message, lang);
	char *what = tpg_locate_describe(loc);
	tpg_buf msg = TPG_BUF_INIT;

	if (custom)
		tpg_buf_printf(&msg, "%s\n", custom);
	if (loc->path.text && rejected->len > 5)
		tpg_buf_puts(&msg, tpg_buf_cstr(rejected) + 5);   /* the one reason, without "\n  - " */
	else if (cands->len == 0)
		tpg_buf_printf(&msg, "nothing in the repository matches %s", what);
	else
		tpg_buf_printf(&msg, "none of the %zu %s (%s) qualifies:%s%s", cands->len, noun, what,
		               tpg_buf_cstr(rejected),
		               nrejected > TPG_LOCATE_MAX_REPORTED ? "\n  - ..." : "");
	if (loc->path.text && cands->len == 1)
		tpg_result_file(res, cands->items[0], 0);
	if (loc->skip_if_none)
		tpg_result_skip(res, "%s", tpg_buf_cstr(&msg));
	else
		tpg_result_fail(res, "%s", tpg_buf_cstr(&msg));
	tpg_buf_free(&msg);
	free(what);
}

char *tpg_locate_describe(const tpg_locate *loc)
{
	if (loc->path.text)
		return tpg_xstrdup(loc->path.text);
	char *globs = tpg_strv_join(&loc->globs, ", ");
	char *d = tpg_xasprintf("%s (searched)", globs);
	free(globs);
	return d;
}

void tpg_locate_free(tpg_locate *loc)
{
	tpg_tmpl_free(&loc->path);
	tpg_strv_free(&loc->globs);
	tpg_strv_free(&loc->prefer);
	tpg_strv_free(&loc->exclude);
	tpg_l10n_free(&loc->none_message);
}

char *tpg_path_dirname(const char *rel)
{
	const char *slash = strrchr(rel, '/');
	if (!slash)
		return tpg_xstrdup(".");
	return tpg_xstrndup(rel, (size_t)(slash - rel));
}

char *tpg_path_join(const char *dir, const char *rel)
{
	char *joined = (!dir || !*dir || !strcmp(dir, ".")) ? tpg_xstrdup(rel)
	                                                    : tpg_xasprintf("%s/%s", dir, rel);
	char *clean = tpg_path_clean(joined, NULL);
	free(joined);
	return clean;
}

/*
 * kind_file.c - `kind: file`: a file or folder exists (or not), and what
 * it holds. See docs/spec.md, "file".
 */
#include "tpgrade/check.h"
#include "tpgrade/glob.h"
#include "tpgrade/locate.h"
#include "tpgrade/pred.h"
#include "tpgrade/repo.h"
#include "tpgrade/textmatch.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_SIZE (1LL << 20)

typedef enum { T_FILE, T_DIR, T_ANY } want_type;

typedef struct file_cfg {
	tpg_locate loc;
	want_type type;
	bool exists;
	bool all;
	long long max_size;
	tpg_pred *where;
	tpg_pred *expect;
} file_cfg;

/* ---- Leaf conditions --------------------------------------------------- */

typedef enum { L_CONTAINS, L_SIBLING, L_CHILD, L_SIZE } leaf_type;

typedef struct leaf {
	leaf_type type;
	tpg_textmatch *text;
	tpg_strv globs;
	long long min, max;
} leaf;

/* What a leaf is evaluated on: one candidate. */
typedef struct subject {
	tpg_run *run;
	const file_cfg *cfg;
	const char *path;         /* repo-relative, canonical */
	tpg_ftype type;
	long long size;
	tpg_buf content;
	bool loaded;
	int load_rc;
	tpg_err load_err;
} subject;

static void *parse_leaf(tpg_fields *f, void *ctx)
{
	TPG_UNUSED(ctx);
	leaf *l = tpg_xcalloc(1, sizeof(*l));
	const tpg_yaml_node *n;
	int given = 0;

	l->max = -1;
	if ((n = tpg_fields_take(f, "content")) != NULL) {
		given++;
		l->type = L_CONTAINS;
		if (tpg_textmatch_parse(f, n, "content", &l->text) < 0)
			goto bad;
	}
	if (tpg_fields_has(f, "sibling")) {
		given++;
		l->type = L_SIBLING;
		tpg_fields_strlist(f, "sibling", &l->globs);
	}
	if (tpg_fields_has(f, "child")) {
		given++;
		l->type = L_CHILD;
		tpg_fields_strlist(f, "child", &l->globs);
	}
	tpg_fields *size;
	if (tpg_fields_map(f, "size", false, &size) > 0) {
		given++;
		l->type = L_SIZE;
		tpg_fields_size(size, "min", &l->min);
		tpg_fields_size(size, "max", &l->max);
		tpg_fields_end(size);
	}
	for (size_t i = 0; i < l->globs.len; i++) {
		const char *why;
		if (!tpg_repo_path_is_safe(l->globs.items[i], &why))
			tpg_fields_error(f, NULL, NULL, "'%s' must stay inside the repository (%s)",
			                 l->globs.items[i], why);
	}
	if (given > 1) {
		tpg_fields_error(f, NULL, NULL, "one condition per item: split content, sibling, child, size");
		goto bad;
	}
	if (given == 0 || tpg_fields_errors(f) > 0)
		goto bad;
	return l;
bad:
	tpg_textmatch_free(l->text);
	tpg_strv_free(&l->globs);
	free(l);
	return NULL;
}

static void free_leaf(void *p)
{
	leaf *l = p;
	tpg_textmatch_free(l->text);
	tpg_strv_free(&l->globs);
	free(l);
}

static int load(subject *s)
{
	if (s->loaded)
		return s->load_rc;
	s->loaded = true;
	if (s->type != TPG_FT_FILE) {
		s->load_rc = tpg_err_set(&s->load_err, TPG_EINVAL, "%s is not a file", s->path);
		return s->load_rc;
	}
	s->load_rc = tpg_repo_read(tpg_run_repo(s->run), s->path, (size_t)s->cfg->max_size,
	                           &s->content, &s->load_err);
	return s->load_rc;
}

/* Does a path matching `pattern` (relative to `dir`) exist? */
static bool exists_under(tpg_run *run, const char *dir, const char *pattern, char **hit)
{
	char *full = tpg_path_join(dir, pattern);
	tpg_strv out = TPG_STRV_INIT;
	tpg_repo_glob_opts o;
	memset(&o, 0, sizeof(o));
	o.types = TPG_REPO_GLOB_ALL;
	o.max_depth = 16;
	bool ok = tpg_repo_glob(tpg_run_repo(run), full, &o, &out, NULL, NULL) == 0 && out.len > 0;
	if (ok && hit)
		*hit = tpg_xstrdup(out.items[0]);
	tpg_strv_free(&out);
	free(full);
	return ok;
}

static int eval_leaf(const void *p, void *subj, tpg_buf *why)
{
	const leaf *l = p;
	subject *s = subj;
	char *shown = tpg_repo_path_display(s->path);
	int rc = 0;

	switch (l->type) {
	case L_CONTAINS:
		if (load(s) < 0) {
			tpg_buf_puts(why, s->load_err.msg);
			rc = 0;
			break;
		}
		rc = tpg_textmatch_eval(l->text, s->content.data, s->content.len, shown, why);
		break;
	case L_SIBLING:
	case L_CHILD: {
		char *dir = l->type == L_CHILD && s->type == TPG_FT_DIR ? tpg_xstrdup(s->path)
		                                                        : tpg_path_dirname(s->path);
		rc = 1;
		for (size_t i = 0; i < l->globs.len && rc; i++) {
			char *hit = NULL;
			if (exists_under(s->run, dir, l->globs.items[i], &hit)) {
				char *h = tpg_repo_path_display(hit);
				tpg_buf_printf(why, "%s%s exists", i ? "; " : "", h);
				free(h);
				free(hit);
			} else {
				char *d = tpg_repo_path_display(dir);
				tpg_buf_clear(why);
				tpg_buf_printf(why, "there is no %s in %s", l->globs.items[i],
				               strcmp(d, ".") ? d : "the repository's top folder");
				free(d);
				rc = 0;
			}
		}
		free(dir);
		break;
	}
	case L_SIZE: {
		char a[32], b[32];
		tpg_format_size(s->size, a, sizeof(a));
		if (l->max >= 0 && s->size > l->max) {
			tpg_buf_printf(why, "%s is %s, over the %s limit", shown, a,
			               tpg_format_size(l->max, b, sizeof(b)));
		} else if (s->size < l->min) {
			tpg_buf_printf(why, "%s is %s, under the %s minimum", shown, a,
			               tpg_format_size(l->min, b, sizeof(b)));
		} else {
			tpg_buf_printf(why, "%s is %s", shown, a);
			rc = 1;
		}
		break;
	}
	}
	free(shown);
	return rc;
}

static const tpg_pred_ops file_ops = {
	parse_leaf, eval_leaf, free_leaf, "content, sibling, child, size"
};

/* ---- Parsing ------------------------------------------------------------ */

static void free_cfg(void *p)
{
	file_cfg *c = p;
	if (!c)
		return;
	tpg_locate_free(&c->loc);
	tpg_pred_free(c->where, &file_ops);
	tpg_pred_free(c->expect, &file_ops);
	free(c);
}

static int parse(tpg_fields *f, void **out)
{
	file_cfg *c = tpg_xcalloc(1, sizeof(*c));
	static const char *const types[] = { "file", "dir", "any", NULL };
	static const char *const modes[] = { "any", "all", NULL };
	int type = T_FILE, mode = 0;

	c->exists = true;
	c->max_size = DEFAULT_MAX_SIZE;
	tpg_fields_enum(f, "type", types, &type);
	c->type = (want_type)type;
	tpg_locate_parse(f, c->type == T_DIR, &c->loc);
	tpg_fields_bool(f, "exists", &c->exists);
	tpg_fields_enum(f, "match", modes, &mode);
	c->all = mode == 1;
	tpg_fields_size(f, "max-size", &c->max_size);
	tpg_pred_parse(f, "where", &file_ops, NULL, &c->where);
	tpg_pred_parse(f, "expect", &file_ops, NULL, &c->expect);
	if (!c->exists && (c->where || c->expect))
		tpg_fields_error(f, NULL, "exists", "exists: false takes no where/expect conditions");
	*out = c;
	return tpg_fields_errors(f) ? -1 : 0;
}

/* ---- Running ------------------------------------------------------------ */

static const char *type_word(tpg_ftype t)
{
	switch (t) {
	case TPG_FT_FILE: return "a file";
	case TPG_FT_DIR: return "a folder";
	case TPG_FT_OTHER: return "a special file (FIFO, socket or device)";
	default: return "missing";
	}
}

static bool type_ok(const file_cfg *c, tpg_ftype t)
{
	return c->type == T_ANY ? t == TPG_FT_FILE || t == TPG_FT_DIR
	     : c->type == T_DIR ? t == TPG_FT_DIR : t == TPG_FT_FILE;
}

static void subject_free(subject *s)
{
	tpg_buf_free(&s->content);
	free((char *)s->path);
}

/* Stats a candidate: 1 usable, 0 not (why filled), <0 environment error. */
static int open_subject(tpg_run *run, const file_cfg *c, const char *cand, subject *s,
                        tpg_buf *why)
{
	tpg_repo_info info;
	tpg_err err = {0};
	char *canon = NULL;

	memset(s, 0, sizeof(*s));
	s->run = run;
	s->cfg = c;
	int rc = tpg_repo_stat(tpg_run_repo(run), cand, &canon, &info, &err);
	if (rc < 0) {
		char *shown = tpg_repo_path_display(cand);
		if (rc == TPG_ENOTFOUND)
			tpg_buf_printf(why, "%s does not exist", shown);
		else
			tpg_buf_puts(why, err.msg);
		free(shown);
		return rc == TPG_ECANCELED ? rc : 0;
	}
	s->path = canon;
	s->type = info.type;
	s->size = info.size;
	if (!type_ok(c, info.type)) {
		char *shown = tpg_repo_path_display(canon);
		tpg_buf_printf(why, "%s is %s, not %s", shown, type_word(info.type),
		               c->type == T_DIR ? "a folder" : "a file");
		free(shown);
		return 0;
	}
	return 1;
}

static void export_found(tpg_run *run, const subject *s)
{
	char *dir = s->type == TPG_FT_DIR ? tpg_xstrdup(s->path) : tpg_path_dirname(s->path);
	tpg_run_set_found(run, "path", s->path);
	tpg_run_set_found(run, "dir", dir);
	if (s->type == TPG_FT_FILE)
		tpg_run_set_found(run, "file", s->path);
	free(dir);
}

static void run_absent(tpg_run *run, const file_cfg *c, const tpg_strv *cands, tpg_result *res)
{
	for (size_t i = 0; i < cands->len; i++) {
		tpg_repo_info info;
		char *canon = NULL;
		int rc = tpg_repo_stat(tpg_run_repo(run), cands->items[i], &canon, &info, NULL);
		bool present = rc == 0 && type_ok(c, info.type);
		if (rc == TPG_ESYMLINK)
			present = true;   /* the entry exists, even if we won't follow it */
		free(canon);
		if (present) {
			char *shown = tpg_repo_path_display(cands->items[i]);
			tpg_result_file(res, cands->items[i], 0);
			tpg_result_fail(res, "%s exists but should not", shown);
			free(shown);
			return;
		}
	}
	char *what = tpg_locate_describe(&c->loc);
	tpg_result_pass(res, "%s: absent, as expected", what);
	free(what);
}

static void run_check(const tpg_check *check, const void *cfgp, tpg_run *run, tpg_result *res)
{
	const file_cfg *c = cfgp;
	const char *lang = tpg_run_lang(run);
	tpg_strv cands = TPG_STRV_INIT;
	tpg_buf rejected = TPG_BUF_INIT;   /* why candidates were passed over */
	tpg_buf failures = TPG_BUF_INIT;   /* all-mode: who failed `expect` */
	size_t nrejected = 0, nselected = 0, npassed = 0;
	bool decided = false;
	TPG_UNUSED(check);

	if (tpg_locate_list(run, &c->loc, &cands, res) < 0)
		return;
	if (!c->exists) {
		run_absent(run, c, &cands, res);
		tpg_strv_free(&cands);
		return;
	}

	for (size_t i = 0; i < cands.len && !decided; i++) {
		subject s;
		tpg_buf why = TPG_BUF_INIT;
		int ok = open_subject(run, c, cands.items[i], &s, &why);
		if (ok > 0 && c->where) {
			tpg_buf_clear(&why);
			ok = tpg_pred_eval(c->where, &file_ops, &s, lang, &why);
		}
		bool selected = ok > 0;
		if (ok == 0 && nrejected++ < TPG_LOCATE_MAX_REPORTED)
			tpg_buf_printf(&rejected, "\n  - %s", tpg_buf_cstr(&why));
		if (selected) {
			nselected++;
			tpg_buf_clear(&why);
			ok = c->expect ? tpg_pred_eval(c->expect, &file_ops, &s, lang, &why) : 1;
		}
		if (ok < 0) {
			tpg_result_error(res, "%s", tpg_buf_cstr(&why));
			decided = true;
		} else if (selected && c->all) {
			if (ok == 1) {
				npassed++;
			} else {
				if (!res->file)
					tpg_result_file(res, s.path, 0);
				tpg_buf_printf(&failures, "\n  - %s", tpg_buf_cstr(&why));
			}
		} else if (selected && ok == 1) {
			char *shown = tpg_repo_path_display(s.path);
			export_found(run, &s);
			tpg_result_file(res, s.path, 0);
			if (why.len)
				tpg_result_pass(res, "%s: %s", shown, tpg_buf_cstr(&why));
			else
				tpg_result_pass(res, "%s exists", shown);
			free(shown);
			decided = true;
		} else if (selected && !res->status_set) {
			/* The first failing candidate is the one reported, unless a
			 * later one passes; with `where`, it is the only one graded. */
			export_found(run, &s);
			tpg_result_file(res, s.path, 0);
			tpg_result_fail(res, "%s", tpg_buf_cstr(&why));
			decided = c->where != NULL;
		}
		tpg_buf_free(&why);
		subject_free(&s);
	}

	if (!decided && !res->status_set && nselected == 0) {
		tpg_locate_none(&c->loc, &cands, &rejected, nrejected, "candidates", lang, res);
	} else if (!decided && c->all) {
		char *what = tpg_locate_describe(&c->loc);
		if (npassed == nselected)
			tpg_result_pass(res, "all %zu matches of %s qualify", nselected, what);
		else
			tpg_result_fail(res, "%zu of the %zu matches of %s do not qualify:%s",
			                nselected - npassed, nselected, what, tpg_buf_cstr(&failures));
		free(what);
	} else if (!decided && res->status == TPG_STATUS_FAILED && nselected > 1) {
		tpg_result_note(res, "(none of the other %zu candidates qualifies either)", nselected - 1);
	}
	tpg_buf_free(&failures);
	tpg_buf_free(&rejected);
	tpg_strv_free(&cands);
}

const tpg_check_kind tpg_kind_file = {
	.name = "file",
	.summary = "a file or folder exists (or not), its size and contents",
	.needs = 0,
	.default_timeout_ms = 10000,
	.parse = parse,
	.run = run_check,
	.free_cfg = free_cfg,
};

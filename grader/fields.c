/* fields.c - how check kinds read their keys: typed, expanded, located. */
#include "spec_internal.h"
#include "tpgrade/regex.h"
#include "tpgrade/repo.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct tpg_fields {
	tpg_fields_ctx *ctx;
	const tpg_yaml_node *map;
	bool *used;
	char *path;
	int errors;
	tpg_fields *parent;
};

tpg_fields *tpg_fields_new(tpg_fields_ctx *ctx, const tpg_yaml_node *map, const char *path)
{
	if (!map || map->type != TPG_YAML_MAP) {
		tpg_diags_add(ctx->diags, ctx->file, map ? map->line : 0, map ? map->col : 0, path,
		              "must be a mapping (key: value), not %s", tpg_yaml_type_name(map));
		return NULL;
	}
	tpg_fields *f = tpg_xcalloc(1, sizeof(*f));
	f->ctx = ctx;
	f->map = map;
	f->used = tpg_xcalloc(map->n ? map->n : 1, sizeof(bool));
	f->path = tpg_xstrdup(path);
	return f;
}

static char *join_path(const char *base, const char *key)
{
	if (!key || !*key)
		return tpg_xstrdup(base);
	if (!*base)
		return tpg_xstrdup(key);
	if (key[0] == '[')
		return tpg_xasprintf("%s%s", base, key);
	return tpg_xasprintf("%s.%s", base, key);
}

static void count_error(tpg_fields *f)
{
	for (tpg_fields *p = f; p; p = p->parent)
		p->errors++;
}

static void verror(tpg_fields *f, const tpg_yaml_node *node, const char *key,
                   const char *fmt, va_list ap)
{
	const tpg_yaml_node *at = node ? node : f->map;
	char *path = join_path(f->path, key);
	char *msg = tpg_xvasprintf(fmt, ap);
	tpg_diags_add(f->ctx->diags, f->ctx->file, at->line, at->col, path, "%s", msg);
	free(msg);
	free(path);
	count_error(f);
}

void tpg_fields_error(tpg_fields *f, const tpg_yaml_node *node, const char *key,
                      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror(f, node, key, fmt, ap);
	va_end(ap);
}

int tpg_fields_errors(const tpg_fields *f)
{
	return f->errors;
}


static long find_key(const tpg_fields *f, const char *key)
{
	for (size_t i = 0; i < f->map->n; i++)
		if (strcmp(f->map->items[2 * i]->value, key) == 0)
			return (long)i;
	return -1;
}

const tpg_yaml_node *tpg_fields_take(tpg_fields *f, const char *key)
{
	long i = find_key(f, key);
	if (i < 0)
		return NULL;
	f->used[i] = true;
	return f->map->items[2 * i + 1];
}

const tpg_yaml_node *tpg_fields_key_at(tpg_fields *f, size_t i)
{
	return i < f->map->n ? f->map->items[2 * i] : NULL;
}

bool tpg_fields_has(tpg_fields *f, const char *key)
{
	return find_key(f, key) >= 0;
}

/* Fetches a scalar, reporting a missing required key or a non-scalar. */
static int take_scalar(tpg_fields *f, const char *key, bool required, const tpg_yaml_node **out)
{
	const tpg_yaml_node *n = tpg_fields_take(f, key);
	*out = NULL;
	if (!n || tpg_yaml_is_null(n)) {
		if (required) {
			tpg_fields_error(f, n, NULL, "missing required key '%s'", key);
			return -1;
		}
		return 0;
	}
	if (n->type != TPG_YAML_SCALAR) {
		tpg_fields_error(f, n, key, "must be a single value, not %s", tpg_yaml_type_name(n));
		return -1;
	}
	*out = n;
	return 1;
}

int tpg_fields_expand(tpg_fields *f, const tpg_yaml_node *node, const char *key, bool allow_found,
                      tpg_tmpl *out)
{
	tpg_err err = {0};
	tpg_strv deferred = TPG_STRV_INIT;
	char *text = NULL;

	out->text = NULL;
	out->dynamic = false;
	if (tpg_vars_expand(node->value, f->ctx->lookup, f->ctx->lookup_ctx, "found.", &text,
	                    &deferred, &err) < 0) {
		tpg_fields_error(f, node, key, "%s", err.msg);
		tpg_strv_free(&deferred);
		return -1;
	}
	if (deferred.len > 0) {
		if (!allow_found) {
			tpg_fields_error(f, node, key,
			                 "${%s} cannot be used here: found values exist only while grading, "
			                 "and this key is read when the spec is loaded",
			                 deferred.items[0]);
			free(text);
			tpg_strv_free(&deferred);
			return -1;
		}
		for (size_t i = 0; i < deferred.len; i++)
			if (f->ctx->uses)
				tpg_strv_push(f->ctx->uses, deferred.items[i]);
		out->dynamic = true;
	} else if (strstr(node->value, "$$")) {
		/* The load-time pass kept "$$" because of the defer prefix: unescape
		 * now, since nothing will expand this string again. */
		free(text);
		if (tpg_vars_expand(node->value, f->ctx->lookup, f->ctx->lookup_ctx, NULL, &text, NULL,
		                    &err) < 0) {
			tpg_fields_error(f, node, key, "%s", err.msg);
			tpg_strv_free(&deferred);
			return -1;
		}
	}
	tpg_strv_free(&deferred);
	out->text = text;
	return 1;
}

int tpg_fields_str(tpg_fields *f, const char *key, bool required, char **out)
{
	const tpg_yaml_node *n;
	tpg_tmpl t;
	int rc = take_scalar(f, key, required, &n);

	*out = NULL;
	if (rc <= 0)
		return rc;
	if (tpg_fields_expand(f, n, key, false, &t) < 0)
		return -1;
	*out = t.text;
	return 1;
}

int tpg_fields_tmpl(tpg_fields *f, const char *key, bool required, tpg_tmpl *out)
{
	const tpg_yaml_node *n;
	int rc = take_scalar(f, key, required, &n);

	out->text = NULL;
	out->dynamic = false;
	if (rc <= 0)
		return rc;
	return tpg_fields_expand(f, n, key, true, out);
}

int tpg_fields_path(tpg_fields *f, const char *key, bool required, tpg_tmpl *out)
{
	int rc = tpg_fields_tmpl(f, key, required, out);
	if (rc <= 0)
		return rc;
	const tpg_yaml_node *n = tpg_yaml_get(f->map, key);
	/* A dynamic path is checked when it is resolved, against the repo. */
	const char *why = NULL;
	if (!out->dynamic && !tpg_repo_path_is_safe(out->text, &why)) {
		tpg_fields_error(f, n, key, "'%s' must be a path inside the repository (%s)", out->text,
		                 why);
		tpg_tmpl_free(out);
		return -1;
	}
	return 1;
}

int tpg_fields_bool(tpg_fields *f, const char *key, bool *out)
{
	const tpg_yaml_node *n;
	int rc = take_scalar(f, key, false, &n);
	if (rc <= 0)
		return rc;
	const char *v = n->value;
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE")) {
		*out = true;
		return 1;
	}
	if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE")) {
		*out = false;
		return 1;
	}
	tpg_fields_error(f, n, key, "must be true or false, not '%s'", v);
	return -1;
}

int tpg_fields_int(tpg_fields *f, const char *key, long long min, long long max, long long *out)
{
	const tpg_yaml_node *n;
	int rc = take_scalar(f, key, false, &n);
	if (rc <= 0)
		return rc;
	char *end;
	errno = 0;
	long long v = strtoll(n->value, &end, 10);
	if (errno || end == n->value || *end) {
		tpg_fields_error(f, n, key, "must be a whole number, not '%s'", n->value);
		return -1;
	}
	if (v < min || v > max) {
		tpg_fields_error(f, n, key, "must be between %lld and %lld, got %lld", min, max, v);
		return -1;
	}
	*out = v;
	return 1;
}

int tpg_fields_number(tpg_fields *f, const char *key, double min, double max, double *out)
{
	const tpg_yaml_node *n;
	int rc = take_scalar(f, key, false, &n);
	if (rc <= 0)
		return rc;
	char *end;
	errno = 0;
	double v = strtod(n->value, &end);
	if (errno || end == n->value || *end || !isfinite(v)) {
		tpg_fields_error(f, n, key, "must be a number, not '%s'", n->value);
		return -1;
	}
	if (v < min) {
		tpg_fields_error(f, n, key, "must be %g or more, got %s", min, n->value);
		return -1;
	}
	if (v > max) {
		tpg_fields_error(f, n, key, "must be %g or less, got %s", max, n->value);
		return -1;
	}
	*out = v;
	return 1;
}

/* Parses "1m30s", "500ms", "2h", "45" (seconds). */
static bool parse_duration(const char *s, long long *ms)
{
	double total = 0;
	const char *p = s;
	bool any = false;

	while (isspace((unsigned char)*p))
		p++;
	while (*p) {
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || v < 0 || !isfinite(v))
			return false;
		p = end;
		double mult;
		if (!strncmp(p, "ms", 2)) {
			mult = 1;
			p += 2;
		} else if (*p == 's') {
			mult = 1000;
			p++;
		} else if (*p == 'm') {
			mult = 60000;
			p++;
		} else if (*p == 'h') {
			mult = 3600000;
			p++;
		} else if (*p == '\0' && !any) {
			mult = 1000;
		} else {
			return false;
		}
		total += v * mult;
		any = true;
		if (total > 1e12)
			return false;
	}
	if (!any)
		return false;
	*ms = (long long)llround(total);
	return true;
}

int tpg_fields_duration(tpg_fields *f, const char *key, long long *ms)
{
	const tpg_yaml_node *n;
	int rc = take_scalar(f, key, false, &n);
	if (rc <= 0)
		return rc;
	char *text = NULL;
	tpg_tmpl t;
	if (tpg_fields_expand(f, n, key, false, &t) < 0)
		return -1;
	text = t.text;
	if (!parse_duration(text, ms)) {
		tpg_fields_error(f, n, key,
		                 "'%s' is not a duration: write e.g. 30s, 2m, 1m30s, 500ms, or seconds", text);
		free(text);
		return -1;
	}
	free(text);
	return 1;
}

static bool parse_size(const char *s, long long *bytes)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0 || !isfinite(v))
		return false;
	while (isspace((unsigned char)*end))
		end++;
	double mult = 1;
	char unit = (char)tolower((unsigned char)*end);
	if (unit == 'k')
		mult = 1024.0;
	else if (unit == 'm')
		mult = 1024.0 * 1024;
	else if (unit == 'g')
		mult = 1024.0 * 1024 * 1024;
	else if (unit == 't')
		mult = 1024.0 * 1024 * 1024 * 1024;
	else if (unit == 'b' || unit == '\0')
		mult = 1;
	else
		return false;
	if (*end && unit != 'b') {
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
	} else if (unit == 'b') {
		end++;
	}
	if (*end)
		return false;
	if (v * mult > 9e18)
		return false;
	*bytes = (long long)(v * mult);
	return true;
}

int tpg_fields_size(tpg_fields *f, const char *key, long long *bytes)
{
	const tpg_yaml_node *n;
	int rc = take_scalar(f, key, false, &n);
	if (rc <= 0)
		return rc;
	if (!parse_size(n->value, bytes)) {
		tpg_fields_error(f, n, key, "'%s' is not a size: write e.g. 512k, 1MB, 2GiB or bytes",
		                 n->value);
		return -1;
	}
	return 1;
}

int tpg_fields_enum(tpg_fields *f, const char *key, const char *const *choices, int *out)
{
	const tpg_yaml_node *n;
	int rc = take_scalar(f, key, false, &n);
	if (rc <= 0)
		return rc;
	for (int i = 0; choices[i]; i++) {
		if (strcmp(n->value, choices[i]) == 0) {
			*out = i;
			return 1;
		}
	}
	tpg_buf list = TPG_BUF_INIT;
	for (int i = 0; choices[i]; i++)
		tpg_buf_printf(&list, "%s%s", i ? ", " : "", choices[i]);
	tpg_fields_error(f, n, key, "'%s' is not one of: %s", n->value, tpg_buf_cstr(&list));
	tpg_buf_free(&list);
	return -1;
}

int tpg_fields_strlist(tpg_fields *f, const char *key, tpg_strv *out)
{
	const tpg_yaml_node *n = tpg_fields_take(f, key);
	int bad = 0;

	if (!n || tpg_yaml_is_null(n))
		return 0;
	if (n->type == TPG_YAML_MAP) {
		tpg_fields_error(f, n, key, "must be a string or a list of strings, not a mapping");
		return -1;
	}
	size_t count = n->type == TPG_YAML_SEQ ? n->n : 1;
	for (size_t i = 0; i < count; i++) {
		const tpg_yaml_node *item = n->type == TPG_YAML_SEQ ? n->items[i] : n;
		char sub[64];
		snprintf(sub, sizeof(sub), "%s[%zu]", key, i);
		if (item->type != TPG_YAML_SCALAR) {
			tpg_fields_error(f, item, sub, "must be a string, not %s", tpg_yaml_type_name(item));
			bad = 1;
			continue;
		}
		tpg_tmpl t;
		if (tpg_fields_expand(f, item, sub, false, &t) < 0) {
			bad = 1;
			continue;
		}
		tpg_strv_push_owned(out, t.text);
	}
	return bad ? -1 : 1;
}

int tpg_fields_regex_node(tpg_fields *f, const tpg_yaml_node *node, const char *key,
                          int regex_flags, tpg_regex **out)
{
	tpg_tmpl t;
	tpg_err err = {0};
	size_t off = 0;

	*out = NULL;
	if (node->type != TPG_YAML_SCALAR) {
		tpg_fields_error(f, node, key, "must be a regular expression (a string), not %s",
		                 tpg_yaml_type_name(node));
		return -1;
	}
	if (tpg_fields_expand(f, node, key, false, &t) < 0)
		return -1;
	if (tpg_regex_compile(t.text, regex_flags, out, &off, &err) < 0) {
		/* Point at the offending character when the text maps 1:1. */
		bool exact = strcmp(t.text, node->value) == 0 && !strchr(node->value, '\n');
		char *path = join_path(f->path, key);
		int col = node->col + (exact ? (int)off + (node->plain ? 0 : 1) : 0);
		tpg_diags_add(f->ctx->diags, f->ctx->file, node->line, col, path,
		              "the regular expression '%s' does not compile: %s", t.text, err.msg);
		free(path);
		count_error(f);
		free(t.text);
		return -1;
	}
	free(t.text);
	return 1;
}



int tpg_fields_l10n(tpg_fields *f, const char *key, tpg_l10n *out)
{
	const tpg_yaml_node *n = tpg_fields_take(f, key);
	memset(out, 0, sizeof(*out));
	if (!n || tpg_yaml_is_null(n))
		return 0;
	if (n->type == TPG_YAML_SCALAR) {
		tpg_tmpl t;
		if (tpg_fields_expand(f, n, key, false, &t) < 0)
			return -1;
		out->any = t.text;
		return 1;
	}
	tpg_fields *sub = tpg_fields_sub(f, n, key);
	if (!sub)
		return -1;
	tpg_fields_str(sub, "fr", false, &out->fr);
	tpg_fields_str(sub, "en", false, &out->en);
	if (!out->fr && !out->en && tpg_fields_errors(sub) == 0)
		tpg_fields_error(f, n, key, "give the text as a string, or per language with fr: and/or en:");
	if (tpg_fields_end(sub) < 0) {
		tpg_l10n_free(out);
		return -1;
	}
	return out->fr || out->en ? 1 : -1;
}

tpg_fields *tpg_fields_sub(tpg_fields *f, const tpg_yaml_node *node, const char *suffix)
{
	char *path = join_path(f->path, suffix);
	if (!node || node->type != TPG_YAML_MAP) {
		tpg_diags_add(f->ctx->diags, f->ctx->file, node ? node->line : f->map->line,
		              node ? node->col : f->map->col, path,
		              "must be a mapping (key: value), not %s", tpg_yaml_type_name(node));
		free(path);
		count_error(f);
		return NULL;
	}
	tpg_fields *sub = tpg_fields_new(f->ctx, node, path);
	free(path);
	sub->parent = f;
	return sub;
}

int tpg_fields_map(tpg_fields *f, const char *key, bool required, tpg_fields **sub)
{
	const tpg_yaml_node *n = tpg_fields_take(f, key);
	*sub = NULL;
	if (!n) {
		if (required) {
			tpg_fields_error(f, NULL, NULL, "missing required key '%s'", key);
			return -1;
		}
		return 0;
	}
	*sub = tpg_fields_sub(f, n, key);
	return *sub ? 1 : -1;
}

int tpg_fields_end(tpg_fields *f)
{
	if (!f)
		return -1;
	for (size_t i = 0; i < f->map->n; i++) {
		if (f->used[i])
			continue;
		tpg_buf known = TPG_BUF_INIT;
		for (size_t j = 0; j < f->map->n; j++)
			if (f->used[j])
				tpg_buf_printf(&known, "%s%s", known.len ? ", " : "", f->map->items[2 * j]->value);
		const tpg_yaml_node *k = f->map->items[2 * i];
		tpg_fields_error(f, k, k->value, "unknown key '%s'%s%s%s", k->value,
		                 known.len ? " (keys used here: " : "", tpg_buf_cstr(&known),
		                 known.len ? ")" : "");
		tpg_buf_free(&known);
	}
	int rc = f->errors ? -1 : 0;
	free(f->used);
	free(f->path);
	free(f);
	return rc;
}

char *tpg_found_ref_id(const char *name, bool (*has_id)(void *ctx, const char *id), void *ctx)
{
	if (strncmp(name, "found.", 6) != 0)
		return NULL;
	const char *rest = name + 6;
	/* The key is after the last dot; the id is everything before it, but
	 * try the longest id first in case keys ever contain dots. */
	for (const char *dot = strrchr(rest, '.'); dot && dot > rest;) {
		char *id = tpg_xstrndup(rest, (size_t)(dot - rest));
		if (has_id(ctx, id))
			return id;
		free(id);
		const char *prev = dot - 1;
		while (prev > rest && *prev != '.')
			prev--;
		dot = prev > rest ? prev : NULL;
	}
	return NULL;
}

const char *tpg_l10n_pick(const tpg_l10n *t, const char *lang)
{
	if (!t)
		return NULL;
	if (lang && !strcmp(lang, "en") && t->en)
		return t->en;
	if (lang && !strcmp(lang, "fr") && t->fr)
		return t->fr;
	if (t->any)
		return t->any;
	return t->fr ? t->fr : t->en;
}

void tpg_l10n_free(tpg_l10n *t)
{
	if (!t)
		return;
	free(t->any);
	free(t->fr);
	free(t->en);
	memset(t, 0, sizeof(*t));
}

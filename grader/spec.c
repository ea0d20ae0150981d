/* spec.c - loading and validating a check spec. */
#include "tpgrade/spec.h"
#include "spec_internal.h"

#include <ctype.h>
#include <errno.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPEC_MAX_BYTES (4u << 20)
#define DEFAULT_TIMEOUT_MS 30000

typedef struct loader {
	tpg_spec *spec;
	tpg_diags *diags;
	const char *file;
	const tpg_spec_opts *opts;
	tpg_vars cli;          /* --var values */
	tpg_vars spec_vars;    /* vars: after expansion, in order */
	long long default_timeout_ms;
	tpg_strv default_tags;
} loader;

/* Where a `needs:` entry was written, to report unknown ids there. */
typedef struct need_loc {
	int line, col;
} need_loc;

static const char *lookup_var(void *ctx, const char *name)
{
	loader *ld = ctx;
	const char *v = tpg_vars_get(&ld->cli, name);
	if (v)
		return v;
	v = tpg_vars_get(&ld->spec_vars, name);
	if (v)
		return v;
	if (ld->opts && ld->opts->use_environment)
		return getenv(name);
	return NULL;
}

static void diag(loader *ld, const tpg_yaml_node *at, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void diag(loader *ld, const tpg_yaml_node *at, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	va_start(ap, fmt);
	msg = tpg_xvasprintf(fmt, ap);
	va_end(ap);
	tpg_diags_add(ld->diags, ld->file, at ? at->line : 0, at ? at->col : 0, path, "%s", msg);
	free(msg);
}

static bool id_valid(const char *s, bool allow_dots)
{
	if (!*s || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return false;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(islower(c) || isdigit(c) || c == '-' || c == '_' || (allow_dots && c == '.')))
			return false;
	}
	return s[strlen(s) - 1] != '.';
}

static void parse_cli_vars(loader *ld)
{
	if (!ld->opts || !ld->opts->cli_vars)
		return;
	for (size_t i = 0; i < ld->opts->cli_vars->len; i++) {
		const char *kv = ld->opts->cli_vars->items[i];
		const char *eq = strchr(kv, '=');
		if (!eq || !tpg_var_name_valid(kv, (size_t)(eq - kv))) {
			tpg_diags_add(ld->diags, "--var", 0, 0, "", "'%s' must be NAME=VALUE", kv);
			continue;
		}
		char *name = tpg_xstrndup(kv, (size_t)(eq - kv));
		tpg_vars_set(&ld->cli, name, eq + 1);
		free(name);
	}
}

static void load_vars(loader *ld, tpg_fields *top)
{
	const tpg_yaml_node *vars = tpg_fields_take(top, "vars");
	if (!vars || tpg_yaml_is_null(vars))
		return;
	if (vars->type != TPG_YAML_MAP) {
		diag(ld, vars, "vars", "must be a mapping of NAME: value, not %s", tpg_yaml_type_name(vars));
		return;
	}
	for (size_t i = 0; i < vars->n; i++) {
		const tpg_yaml_node *k = vars->items[2 * i], *v = vars->items[2 * i + 1];
		char *path = tpg_xasprintf("vars.%s", k->value);
		if (!tpg_var_name_valid(k->value, strlen(k->value)) || !strncmp(k->value, "found.", 6)) {
			diag(ld, k, path, "'%s' is not a valid variable name (letters, digits, _ . -; "
			     "not starting with a digit or 'found.')", k->value);
		} else if (v->type != TPG_YAML_SCALAR) {
			diag(ld, v, path, "a variable's value must be a string, not %s", tpg_yaml_type_name(v));
		} else {
			/* Earlier variables, --var and the environment may be used. */
			tpg_err err = {0};
			char *val = NULL;
			const char *raw = tpg_yaml_is_null(v) ? "" : v->value;
			if (tpg_vars_expand(raw, lookup_var, ld, NULL, &val, NULL, &err) < 0) {
				/* Overridden on the command line: the default's problem is moot. */
				if (!tpg_vars_get(&ld->cli, k->value))
					diag(ld, v, path, "%s", err.msg);
			} else {
				tpg_vars_set(&ld->spec_vars, k->value, val);
			}
			free(val);
		}
		free(path);
	}
}

static void load_defaults(loader *ld, tpg_fields *top)
{
	tpg_fields *def;
	if (tpg_fields_map(top, "defaults", false, &def) <= 0)
		return;
	tpg_fields_duration(def, "timeout", &ld->default_timeout_ms);
	tpg_fields_strlist(def, "tags", &ld->default_tags);
	tpg_fields_end(def);
}

static void add_tag(tpg_strv *tags, const char *t)
{
	if (!tpg_strv_contains(tags, t))
		tpg_strv_push(tags, t);
}

static void check_tags(loader *ld, tpg_check *c, const tpg_yaml_node *at, const char *path)
{
	for (size_t i = 0; i < c->tags.len; i++)
		if (!id_valid(c->tags.items[i], false))
			diag(ld, at, path, "tag '%s' must be lowercase letters, digits, '-' or '_'",
			     c->tags.items[i]);
}

/* Reads `needs:` by hand to remember where each id was written. */
static void load_needs(tpg_fields *f, tpg_check *c, need_loc **locs)
{
	const tpg_yaml_node *n = tpg_fields_take(f, "needs");
	if (!n || tpg_yaml_is_null(n))
		return;
	size_t count = n->type == TPG_YAML_SEQ ? n->n : 1;
	if (n->type == TPG_YAML_MAP) {
		tpg_fields_error(f, n, "needs", "must be a check id or a list of check ids");
		return;
	}
	*locs = tpg_xcalloc(count, sizeof(**locs));
	for (size_t i = 0; i < count; i++) {
		const tpg_yaml_node *item = n->type == TPG_YAML_SEQ ? n->items[i] : n;
		if (item->type != TPG_YAML_SCALAR) {
			tpg_fields_error(f, item, "needs", "must be a check id, not %s", tpg_yaml_type_name(item));
			continue;
		}
		(*locs)[c->needs.len].line = item->line;
		(*locs)[c->needs.len].col = item->col;
		tpg_strv_push(&c->needs, item->value);
	}
}

typedef struct pending {
	need_loc *needs_at;
	char *path;
} pending;

static void load_check(loader *ld, const tpg_yaml_node *node, size_t suite, const char *path,
                       pending *pend)
{
	tpg_spec *spec = ld->spec;
	tpg_fields_ctx ctx = { ld->diags, ld->file, lookup_var, ld, NULL };
	tpg_check *c;

	spec->checks = tpg_xreallocarray(spec->checks, spec->nchecks + 1, sizeof(*spec->checks));
	c = &spec->checks[spec->nchecks++];
	memset(c, 0, sizeof(*c));
	c->suite = suite;
	c->line = node->line;
	c->col = node->col;
	c->points = 1;
	pend->path = tpg_xstrdup(path);
	ctx.uses = &c->uses;

	tpg_fields *f = tpg_fields_new(&ctx, node, path);
	if (!f)
		return;
	if (tpg_fields_str(f, "id", true, &c->id) > 0 && !id_valid(c->id, true)) {
		tpg_fields_error(f, tpg_yaml_get(node, "id"), "id",
		                 "'%s' is not a valid id: lowercase letters, digits, '.', '-', '_' "
		                 "(like cowsay.entrypoint-exec)", c->id);
	}
	tpg_fields_str(f, "title", true, &c->title);
	tpg_fields_str(f, "description", false, &c->description);
	tpg_fields_number(f, "points", 0, 1e6, &c->points);
	tpg_fields_bool(f, "bonus", &c->bonus);
	tpg_fields_l10n(f, "hint", &c->hint);
	load_needs(f, c, &pend->needs_at);
	tpg_fields_strlist(f, "tags", &c->tags);
	check_tags(ld, c, tpg_yaml_get(node, "tags"), path);
	long long timeout = 0;
	tpg_fields_duration(f, "timeout", &timeout);

	char *kind_name = NULL;
	if (tpg_fields_str(f, "kind", true, &kind_name) > 0) {
		c->kind = tpg_check_kind_find(kind_name);
		if (!c->kind) {
			tpg_buf names = TPG_BUF_INIT;
			for (size_t i = 0; tpg_check_kinds[i]; i++)
				tpg_buf_printf(&names, "%s%s", i ? ", " : "", tpg_check_kinds[i]->name);
			tpg_fields_error(f, tpg_yaml_get(node, "kind"), "kind",
			                 "unknown kind '%s' (known kinds: %s)", kind_name, tpg_buf_cstr(&names));
			tpg_buf_free(&names);
		}
	}
	free(kind_name);
	if (c->kind) {
		if (c->kind->parse(f, &c->cfg) < 0 && tpg_fields_errors(f) == 0)
			tpg_fields_error(f, NULL, NULL, "invalid %s check", c->kind->name);
		tpg_fields_end(f);
	} else {
		/* Without its kind the other keys cannot be judged: do not report
		 * them all as unknown. */
		for (size_t i = 0; i < node->n; i++)
			tpg_fields_take(f, node->items[2 * i]->value);
		tpg_fields_end(f);
	}

	for (size_t i = 0; i < ld->default_tags.len; i++)
		add_tag(&c->tags, ld->default_tags.items[i]);
	if (c->kind) {
		add_tag(&c->tags, c->kind->name);
		if (c->kind->needs & TPG_NEEDS_DOCKER)
			add_tag(&c->tags, "docker");
		if (c->kind->needs & TPG_NEEDS_REGISTRY)
			add_tag(&c->tags, "registry");
		if (!c->kind->needs)
			add_tag(&c->tags, "static");
	}
	c->timeout_ms = timeout ? timeout
	              : ld->default_timeout_ms ? ld->default_timeout_ms
	              : (c->kind && c->kind->default_timeout_ms) ? c->kind->default_timeout_ms
	              : DEFAULT_TIMEOUT_MS;
}

static void load_suites(loader *ld, tpg_fields *top, pending **pend_out)
{
	tpg_spec *spec = ld->spec;
	const tpg_yaml_node *suites = tpg_fields_take(top, "suites");
	pending *pend = NULL;
	size_t npend_cap = 0;

	*pend_out = NULL;
	if (!suites) {
		tpg_fields_error(top, NULL, NULL, "missing required key 'suites' (the list of exercises)");
		return;
	}
	if (suites->type != TPG_YAML_SEQ) {
		tpg_fields_error(top, suites, "suites", "must be a list of suites, not %s",
		                 tpg_yaml_type_name(suites));
		return;
	}
	tpg_fields_ctx ctx = { ld->diags, ld->file, lookup_var, ld, NULL };
	spec->suites = tpg_xcalloc(suites->n ? suites->n : 1, sizeof(*spec->suites));
	for (size_t s = 0; s < suites->n; s++) {
		char *spath = tpg_xasprintf("suites[%zu]", s);
		tpg_suite *su = &spec->suites[spec->nsuites++];
		su->first = spec->nchecks;
		tpg_fields *sf = tpg_fields_new(&ctx, suites->items[s], spath);
		if (!sf) {
			free(spath);
			continue;
		}
		if (tpg_fields_str(sf, "id", true, &su->id) > 0 && !id_valid(su->id, false))
			tpg_fields_error(sf, tpg_yaml_get(suites->items[s], "id"), "id",
			                 "'%s' is not a valid suite id: lowercase letters, digits, '-', '_'",
			                 su->id);
		tpg_fields_str(sf, "title", true, &su->title);
		char *ignored = NULL;
		tpg_fields_str(sf, "description", false, &ignored);
		free(ignored);
		const tpg_yaml_node *checks = tpg_fields_take(sf, "checks");
		if (!checks) {
			tpg_fields_error(sf, NULL, NULL, "missing required key 'checks'");
		} else if (checks->type != TPG_YAML_SEQ) {
			tpg_fields_error(sf, checks, "checks", "must be a list of checks, not %s",
			                 tpg_yaml_type_name(checks));
		} else {
			for (size_t i = 0; i < checks->n; i++) {
				char *cpath = tpg_xasprintf("%s.checks[%zu]", spath, i);
				TPG_ARRAY_GROW(pend, spec->nchecks, npend_cap);
				memset(&pend[spec->nchecks], 0, sizeof(*pend));
				load_check(ld, checks->items[i], s, cpath, &pend[spec->nchecks]);
				free(cpath);
			}
		}
		su->count = spec->nchecks - su->first;
		tpg_fields_end(sf);
		free(spath);
	}
	*pend_out = pend;
}

static bool has_id(void *ctx, const char *id)
{
	return tpg_spec_find(ctx, id) != NULL;
}

static void check_ids(loader *ld, pending *pend)
{
	tpg_spec *spec = ld->spec;

	for (size_t i = 0; i < spec->nsuites; i++)
		for (size_t j = 0; j < i; j++)
			if (spec->suites[i].id && spec->suites[j].id &&
			    !strcmp(spec->suites[i].id, spec->suites[j].id))
				tpg_diags_add(ld->diags, ld->file, 0, 0, "suites",
				              "duplicate suite id '%s'", spec->suites[i].id);
	for (size_t i = 0; i < spec->nchecks; i++) {
		tpg_check *c = &spec->checks[i];
		if (!c->id)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (spec->checks[j].id && !strcmp(spec->checks[j].id, c->id)) {
				tpg_diags_add(ld->diags, ld->file, c->line, c->col, pend[i].path,
				              "duplicate check id '%s' (first defined at line %d)", c->id,
				              spec->checks[j].line);
				break;
			}
		}
	}
	for (size_t i = 0; i < spec->nchecks; i++) {
		tpg_check *c = &spec->checks[i];
		for (size_t k = 0; k < c->needs.len; k++) {
			const char *need = c->needs.items[k];
			int line = pend[i].needs_at ? pend[i].needs_at[k].line : c->line;
			int col = pend[i].needs_at ? pend[i].needs_at[k].col : c->col;
			char *path = tpg_xasprintf("%s.needs[%zu]", pend[i].path, k);
			if (c->id && !strcmp(need, c->id))
				tpg_diags_add(ld->diags, ld->file, line, col, path, "a check cannot need itself");
			else if (!tpg_spec_find(spec, need))
				tpg_diags_add(ld->diags, ld->file, line, col, path,
				              "needs '%s', but no check has that id", need);
			free(path);
		}
		/* Turn ${found.<id>.<key>} names into check ids. */
		tpg_strv ids = TPG_STRV_INIT;
		for (size_t k = 0; k < c->uses.len; k++) {
			char *id = tpg_found_ref_id(c->uses.items[k], has_id, spec);
			if (!id) {
				tpg_diags_add(ld->diags, ld->file, c->line, c->col, pend[i].path,
				              "${%s} refers to no check: write ${found.<check id>.<key>}",
				              c->uses.items[k]);
			} else if (c->id && !strcmp(id, c->id)) {
				tpg_diags_add(ld->diags, ld->file, c->line, c->col, pend[i].path,
				              "${%s}: a check cannot use its own found values", c->uses.items[k]);
				free(id);
			} else if (tpg_strv_contains(&ids, id)) {
				free(id);
			} else {
				tpg_strv_push_owned(&ids, id);
			}
		}
		tpg_strv_free(&c->uses);
		c->uses = ids;
	}
}

/* Edges: needs and uses. Reports each cycle once; fills spec->order. */
static void order_checks(loader *ld, pending *pend)
{
	tpg_spec *spec = ld->spec;
	size_t n = spec->nchecks;
	int *state = tpg_xcalloc(n ? n : 1, sizeof(int));   /* 0 new, 1 on stack, 2 done */
	size_t *stack = tpg_xcalloc(n ? n : 1, sizeof(size_t));
	size_t *edge = tpg_xcalloc(n ? n : 1, sizeof(size_t));
	bool cyclic = false;

	for (size_t root = 0; root < n; root++) {
		if (state[root])
			continue;
		size_t sp = 0;
		stack[sp++] = root;
		state[root] = 1;
		edge[root] = 0;
		while (sp) {
			size_t v = stack[sp - 1];
			tpg_check *c = &spec->checks[v];
			size_t ne = c->needs.len + c->uses.len;
			if (edge[v] >= ne) {
				state[v] = 2;
				sp--;
				continue;
			}
			size_t e = edge[v]++;
			const char *dep = e < c->needs.len ? c->needs.items[e] : c->uses.items[e - c->needs.len];
			long w = tpg_spec_index(spec, dep);
			if (w < 0 || (size_t)w == v)
				continue;
			if (state[w] == 1) {
				tpg_buf cyc = TPG_BUF_INIT;
				size_t k = sp;
				while (k > 0 && stack[k - 1] != (size_t)w)
					k--;
				for (size_t j = k - 1; j < sp; j++)
					tpg_buf_printf(&cyc, "%s -> ", spec->checks[stack[j]].id);
				tpg_buf_puts(&cyc, spec->checks[w].id);
				tpg_diags_add(ld->diags, ld->file, spec->checks[w].line, spec->checks[w].col,
				              pend[w].path, "dependency cycle: %s", tpg_buf_cstr(&cyc));
				tpg_buf_free(&cyc);
				cyclic = true;
			} else if (state[w] == 0) {
				state[w] = 1;
				edge[w] = 0;
				stack[sp++] = (size_t)w;
			}
		}
	}
	free(stack);
	free(edge);
	free(state);
	if (cyclic)
		return;

	/* Kahn's algorithm, always taking the earliest ready check, so the
	 * order is the spec's except where a prerequisite comes later. */
	bool *placed = tpg_xcalloc(n ? n : 1, sizeof(bool));
	spec->order = tpg_xcalloc(n ? n : 1, sizeof(size_t));
	for (size_t k = 0; k < n; k++) {
		for (size_t v = 0; v < n; v++) {
			if (placed[v])
				continue;
			tpg_check *c = &spec->checks[v];
			bool ready = true;
			for (size_t e = 0; ready && e < c->needs.len + c->uses.len; e++) {
				const char *dep = e < c->needs.len ? c->needs.items[e]
				                                   : c->uses.items[e - c->needs.len];
				long w = tpg_spec_index(spec, dep);
				if (w >= 0 && (size_t)w != v && !placed[w])
					ready = false;
			}
			if (ready) {
				placed[v] = true;
				spec->order[k] = v;
				break;
			}
		}
	}
	free(placed);
}

static char *blob_digest(const char *data, size_t len)
{
	git_oid oid;
	char hex[GIT_OID_HEXSZ + 1];

	git_libgit2_init();
	int rc = git_odb_hash(&oid, data, len, GIT_OBJECT_BLOB);
	git_libgit2_shutdown();
	if (rc < 0)
		return tpg_xstrdup("");
	git_oid_tostr(hex, sizeof(hex), &oid);
	return tpg_xasprintf("sha1:%s", hex);
}

int tpg_spec_load_buffer(const char *name, const char *data, size_t len,
                         const tpg_spec_opts *opts, tpg_spec **out, tpg_diags *diags)
{
	tpg_yaml_doc *doc = NULL;
	loader ld;
	size_t errors_at_start = diags->len;
	pending *pend = NULL;

	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	ld.diags = diags;
	ld.file = name;
	ld.opts = opts;
	if (tpg_yaml_parse(name, data, len, NULL, &doc, diags) < 0)
		return TPG_EPARSE;

	tpg_spec *spec = tpg_xcalloc(1, sizeof(*spec));
	ld.spec = spec;
	spec->path = tpg_xstrdup(name);
	spec->digest = blob_digest(data, len);
	parse_cli_vars(&ld);

	tpg_fields_ctx ctx = { diags, name, lookup_var, &ld, NULL };
	const tpg_yaml_node *root = tpg_yaml_root(doc);
	tpg_fields *top = NULL;
	if (root->type != TPG_YAML_MAP)
		tpg_diags_add(diags, name, root->line, root->col, "",
		              "a spec is a mapping with tp:, title: and suites: (got %s)",
		              tpg_yaml_type_name(root));
	else
		top = tpg_fields_new(&ctx, root, "");
	if (top) {
		/* Keys starting with "x-" hold anchors for reuse (as in compose files). */
		for (size_t i = 0; i < root->n; i++)
			if (!strncmp(root->items[2 * i]->value, "x-", 2))
				tpg_fields_take(top, root->items[2 * i]->value);
		/* vars first: everything else may use them. */
		load_vars(&ld, top);
		if (tpg_fields_str(top, "tp", true, &spec->tp) > 0 && !id_valid(spec->tp, true))
			tpg_fields_error(top, tpg_yaml_get(root, "tp"), "tp",
			                 "'%s' is not a valid TP id: lowercase letters, digits, '.', '-', '_'",
			                 spec->tp);
		tpg_fields_str(top, "title", true, &spec->title);
		tpg_fields_str(top, "description", false, &spec->description);
		static const char *const langs[] = { "fr", "en", NULL };
		int lang = 0;
		tpg_fields_enum(top, "lang", langs, &lang);
		spec->lang = tpg_xstrdup(langs[lang]);
		long long version = 1;
		tpg_fields_int(top, "version", 1, 1, &version);
		load_defaults(&ld, top);
		load_suites(&ld, top, &pend);
		tpg_fields_end(top);
	}
	check_ids(&ld, pend);
	if (diags->len == errors_at_start)
		order_checks(&ld, pend);
	for (size_t i = 0; i < spec->nchecks; i++) {
		free(pend[i].needs_at);
		free(pend[i].path);
	}
	free(pend);

	/* Effective variables: the spec's, overridden by --var. */
	for (size_t i = 0; i < ld.spec_vars.names.len; i++)
		tpg_vars_set(&spec->vars, ld.spec_vars.names.items[i], ld.spec_vars.values.items[i]);
	for (size_t i = 0; i < ld.cli.names.len; i++)
		tpg_vars_set(&spec->vars, ld.cli.names.items[i], ld.cli.values.items[i]);
	tpg_vars_free(&ld.cli);
	tpg_vars_free(&ld.spec_vars);
	tpg_strv_free(&ld.default_tags);
	tpg_yaml_free(doc);

	if (diags->len > errors_at_start) {
		tpg_spec_free(spec);
		return TPG_EPARSE;
	}
	*out = spec;
	return 0;
}

int tpg_spec_load(const char *path, const tpg_spec_opts *opts, tpg_spec **out, tpg_diags *diags)
{
	FILE *fp;
	struct stat st;
	tpg_buf data = TPG_BUF_INIT;
	char chunk[65536];
	size_t n;

	*out = NULL;
	fp = fopen(path, "rb");
	if (!fp) {
		int e = errno;
		tpg_diags_add(diags, path, 0, 0, "", "cannot read the spec: %s", strerror(e));
		return e == ENOENT ? TPG_ENOTFOUND : TPG_EIO;
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		tpg_diags_add(diags, path, 0, 0, "", "is a folder, not a spec file");
		return TPG_EIO;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		tpg_buf_append(&data, chunk, n);
		if (data.len > SPEC_MAX_BYTES)
			break;
	}
	bool failed = ferror(fp);
	fclose(fp);
	if (failed) {
		tpg_buf_free(&data);
		tpg_diags_add(diags, path, 0, 0, "", "cannot read the spec");
		return TPG_EIO;
	}
	int rc = tpg_spec_load_buffer(path, tpg_buf_cstr(&data), data.len, opts, out, diags);
	tpg_buf_free(&data);
	return rc;
}

void tpg_spec_free(tpg_spec *spec)
{
	if (!spec)
		return;
	for (size_t i = 0; i < spec->nchecks; i++) {
		tpg_check *c = &spec->checks[i];
		if (c->kind && c->cfg)
			c->kind->free_cfg(c->cfg);
		free(c->id);
		free(c->title);
		free(c->description);
		tpg_l10n_free(&c->hint);
		tpg_strv_free(&c->needs);
		tpg_strv_free(&c->uses);
		tpg_strv_free(&c->tags);
	}
	for (size_t i = 0; i < spec->nsuites; i++) {
		free(spec->suites[i].id);
		free(spec->suites[i].title);
	}
	free(spec->checks);
	free(spec->suites);
	free(spec->order);
	free(spec->path);
	free(spec->digest);
	free(spec->tp);
	free(spec->title);
	free(spec->description);
	free(spec->lang);
	tpg_vars_free(&spec->vars);
	free(spec);
}

long tpg_spec_index(const tpg_spec *spec, const char *id)
{
	for (size_t i = 0; i < spec->nchecks; i++)
		if (spec->checks[i].id && !strcmp(spec->checks[i].id, id))
			return (long)i;
	return -1;
}

const tpg_check *tpg_spec_find(const tpg_spec *spec, const char *id)
{
	long i = tpg_spec_index(spec, id);
	return i < 0 ? NULL : &spec->checks[i];
}

static bool is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

char *tpg_spec_resolve(const char *arg, const char *argv0, tpg_err *err)
{
	if (is_file(arg))
		return tpg_xstrdup(arg);
	/* A bare name: look in the known checks folders. */
	if (strchr(arg, '/') || !*arg) {
		tpg_err_set(err, TPG_ENOTFOUND, "spec file not found: %s", arg);
		return NULL;
	}
	const char *base = arg;
	size_t blen = strlen(base);
	bool has_ext = blen > 5 && (!strcmp(base + blen - 5, ".yaml") || !strcmp(base + blen - 4, ".yml"));
	tpg_strv dirs = TPG_STRV_INIT;
	const char *env = getenv("TPGRADE_CHECKS_DIR");
	if (env && *env)
		tpg_strv_push(&dirs, env);
	tpg_strv_push(&dirs, "checks");
	if (argv0 && strchr(argv0, '/')) {
		char *exe = realpath(argv0, NULL);
		if (exe) {
			char *slash = strrchr(exe, '/');
			*slash = '\0';
			tpg_strv_push_owned(&dirs, tpg_xasprintf("%s/../share/tpgrade/checks", exe));
			tpg_strv_push_owned(&dirs, tpg_xasprintf("%s/../checks", exe));
			free(exe);
		}
	}
#ifdef TPG_DATADIR
	tpg_strv_push(&dirs, TPG_DATADIR "/checks");
#endif
	for (size_t i = 0; i < dirs.len; i++) {
		char *p = has_ext ? tpg_xasprintf("%s/%s", dirs.items[i], base)
		                  : tpg_xasprintf("%s/%s.yaml", dirs.items[i], base);
		if (is_file(p)) {
			tpg_strv_free(&dirs);
			return p;
		}
		free(p);
	}
	char *where = tpg_strv_join(&dirs, ", ");
	tpg_err_set(err, TPG_ENOTFOUND, "no spec named '%s' (not a file, and no %s%s in: %s)", arg,
	            base, has_ext ? "" : ".yaml", where);
	free(where);
	tpg_strv_free(&dirs);
	return NULL;
}

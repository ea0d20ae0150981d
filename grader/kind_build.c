/*
 * kind_build.c - `kind: build`: builds a folder of the student's
 * repository into an image of this run. See docs/spec.md, "build", and
 * docs/docker-checks.md.
 *
 * The image is tagged tpgrade-<run>-<check> and labelled with the run id,
 * so the end-of-run cleanup removes it; later checks use it through
 * ${found.<id>.image}. A failed build is the student's (`failed`, with
 * the failing step and the end of its output); a daemon we cannot reach
 * or an interrupt is an `error`.
 */
#include "tpgrade/check.h"
#include "tpgrade/dockcheck.h"
#include "tpgrade/docker.h"
#include "tpgrade/locate.h"
#include "tpgrade/pred.h"
#include "tpgrade/repo.h"
#include "tpgrade/textmatch.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONTEXT_MAX (100LL << 20)
#define LOG_TAIL_LINES 40

typedef struct build_cfg {
	tpg_tmpl context;
	tpg_tmpl dockerfile;
	tpg_strv arg_names;
	tpg_tmpl *arg_values;      /* one per name */
	char *target;
	int builder;               /* TPG_DOCKER_BUILDER_* */
	bool builder_set;
	int network;               /* 0 default, 1 none, 2 bridge */
	bool no_cache;
	long long context_max;
	tpg_pred *expect;
} build_cfg;

/* ---- Conditions: log ------------------------------------------------------- */

typedef struct build_subject {
	const char *log;
	size_t log_len;
} build_subject;

typedef struct leaf {
	tpg_textmatch *log;
} leaf;

static void *parse_leaf(tpg_fields *f, void *ctx)
{
	TPG_UNUSED(ctx);
	const tpg_yaml_node *n = tpg_fields_take(f, "log");
	if (!n)
		return NULL;
	leaf *l = tpg_xcalloc(1, sizeof(*l));
	if (tpg_textmatch_parse(f, n, "log", &l->log) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

static int eval_leaf(const void *p, void *subj, tpg_buf *why)
{
	const leaf *l = p;
	const build_subject *s = subj;
	return tpg_textmatch_eval(l->log, s->log, s->log_len, "the build log", why);
}

static void free_leaf(void *p)
{
	leaf *l = p;
	if (l)
		tpg_textmatch_free(l->log);
	free(l);
}

static const tpg_pred_ops build_ops = { parse_leaf, eval_leaf, free_leaf, "log" };

/* ---- Parsing ---------------------------------------------------------------- */

static void free_cfg(void *p)
{
	build_cfg *c = p;
	if (!c)
		return;
	tpg_tmpl_free(&c->context);
	tpg_tmpl_free(&c->dockerfile);
	for (size_t i = 0; i < c->arg_names.len; i++)
		tpg_tmpl_free(&c->arg_values[i]);
	free(c->arg_values);
	tpg_strv_free(&c->arg_names);
	free(c->target);
	tpg_pred_free(c->expect, &build_ops);
	free(c);
}

static void parse_build_args(tpg_fields *f, build_cfg *c)
{
	tpg_fields *ba;
	if (tpg_fields_map(f, "build-args", false, &ba) <= 0)
		return;
	const tpg_yaml_node *k;
	size_t n = 0;
	while (tpg_fields_key_at(ba, n))
		n++;
	c->arg_values = tpg_xcalloc(n ? n : 1, sizeof(*c->arg_values));
	for (size_t i = 0; (k = tpg_fields_key_at(ba, i)) != NULL; i++) {
		tpg_tmpl t = {0};
		if (!k->value || !*k->value || strchr(k->value, '=')) {
			tpg_fields_error(ba, k, NULL, "'%s' is not a build argument name", k->value ? k->value : "");
			tpg_fields_take(ba, k->value ? k->value : "");
			continue;
		}
		if (tpg_fields_tmpl(ba, k->value, false, &t) < 0)
			continue;
		c->arg_values[c->arg_names.len] = t;
		tpg_strv_push(&c->arg_names, k->value);
	}
	tpg_fields_end(ba);
}

static int parse(tpg_fields *f, void **out)
{
	static const char *const builders[] = { "auto", "classic", "buildkit", NULL };
	static const char *const networks[] = { "default", "none", "bridge", NULL };
	build_cfg *c = tpg_xcalloc(1, sizeof(*c));
	int builder = 0;
	*out = c;

	c->context_max = DEFAULT_CONTEXT_MAX;
	if (tpg_fields_path(f, "context", false, &c->context) == 0)
		c->context.text = tpg_xstrdup(".");
	if (tpg_fields_tmpl(f, "dockerfile", false, &c->dockerfile) == 0)
		c->dockerfile.text = tpg_xstrdup("Dockerfile");
	else if (c->dockerfile.text && !c->dockerfile.dynamic &&
	         !tpg_repo_path_is_safe(c->dockerfile.text, NULL))
		tpg_fields_error(f, NULL, "dockerfile", "'%s' must be a relative path inside the "
		                 "repository", c->dockerfile.text);
	parse_build_args(f, c);
	tpg_fields_str(f, "target", false, &c->target);
	if (tpg_fields_enum(f, "builder", builders, &builder) > 0) {
		c->builder = builder;   /* same order as TPG_DOCKER_BUILDER_* */
		c->builder_set = builder != 0;
	}
	tpg_fields_enum(f, "network", networks, &c->network);
	tpg_fields_bool(f, "no-cache", &c->no_cache);
	tpg_fields_size(f, "max-context", &c->context_max);
	tpg_pred_parse(f, "expect", &build_ops, NULL, &c->expect);
	return tpg_fields_errors(f) ? -1 : 0;
}

/* ---- Running ------------------------------------------------------------------- */

/* The builder: --builder on the command line wins (the operator knows the
 * daemon), then the check's, then BuildKit when the daemon has it. */
static int pick_builder(tpg_run *run, const build_cfg *c)
{
	const char *cli = tpg_run_builder(run);
	if (cli && !strcmp(cli, "buildkit"))
		return TPG_DOCKER_BUILDER_BUILDKIT;
	if (cli && !strcmp(cli, "classic"))
		return TPG_DOCKER_BUILDER_CLASSIC;
	return c->builder_set ? c->builder : TPG_DOCKER_BUILDER_AUTO;
}

/* The last `n` lines of text, for the report. */
static const char *last_lines(const char *text, size_t n)
{
	size_t len = strlen(text);
	while (len > 0 && text[len - 1] == '\n')
		len--;
	const char *p = text + len;
	while (p > text && n > 0) {
		p--;
		if (*p == '\n')
			n--;
	}
	return p == text ? p : p + 1;
}

/* `canon` relative to the folder `dir` ("." is the top), or NULL when it
 * is not inside it. */
static const char *inside(const char *canon, const char *dir)
{
	if (!strcmp(dir, "."))
		return canon;
	size_t n = strlen(dir);
	if (!strncmp(canon, dir, n) && canon[n] == '/')
		return canon + n + 1;
	return NULL;
}

/* Resolves context and Dockerfile in the repository. 1 ok, 0 the
 * student's problem (res failed), -1 res set otherwise. */
static int resolve(tpg_run *run, const build_cfg *c, char **ctx_canon, char **df_canon,
                   char **df_rel, tpg_result *res)
{
	tpg_repo *repo = tpg_run_repo(run);
	tpg_err err = {0};
	char *ctx = NULL, *df = NULL;
	tpg_repo_info info;
	int rc;

	*ctx_canon = *df_canon = *df_rel = NULL;
	if (tpg_dc_expand(run, &c->context, &ctx, res) < 0 ||
	    tpg_dc_expand(run, &c->dockerfile, &df, res) < 0) {
		free(ctx);
		return -1;
	}
	rc = tpg_repo_stat(repo, ctx, ctx_canon, &info, &err);
	if (rc == 0 && info.type != TPG_FT_DIR) {
		char *shown = tpg_repo_path_display(ctx);
		tpg_result_fail(res, "the build context %s is not a folder", shown);
		free(shown);
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		char *shown = tpg_repo_path_display(ctx);
		if (rc == TPG_ENOTFOUND)
			tpg_result_fail(res, "the build context %s does not exist in the repository", shown);
		else if (rc == TPG_ECANCELED)
			tpg_dc_result_error(res, rc, &err, "looking for the build context");
		else
			tpg_result_fail(res, "the build context %s cannot be used: %s", shown, err.msg);
		free(shown);
		rc = rc == TPG_ECANCELED ? -1 : 0;
		goto out;
	}

	/* The Dockerfile: relative to the context (docker build -f), or a
	 * repository path found by another check. */
	char *tries[2] = { tpg_path_join(*ctx_canon, df), tpg_path_join(".", df) };
	rc = 0;
	for (int i = 0; i < 2 && !*df_canon; i++) {
		char *canon = NULL;
		if (i == 1 && !strcmp(tries[0], tries[1]))
			break;
		if (tpg_repo_stat(repo, tries[i], &canon, &info, NULL) == 0 && info.type == TPG_FT_FILE)
			*df_canon = canon;
		else
			free(canon);
	}
	if (!*df_canon) {
		char *shown = tpg_repo_path_display(tries[0]);
		tpg_result_fail(res, "there is no Dockerfile %s in the repository", shown);
		free(shown);
	} else if (!inside(*df_canon, *ctx_canon)) {
		char *a = tpg_repo_path_display(*df_canon), *b = tpg_repo_path_display(*ctx_canon);
		tpg_result_file(res, *df_canon, 0);
		tpg_result_fail(res, "the Dockerfile %s is outside the build context %s", a, b);
		free(a);
		free(b);
	} else {
		*df_rel = tpg_xstrdup(inside(*df_canon, *ctx_canon));
		rc = 1;
	}
	free(tries[0]);
	free(tries[1]);
out:
	free(ctx);
	free(df);
	return rc;
}

static void show_failure(const tpg_docker_build_result *br, tpg_result *res)
{
	tpg_buf out = TPG_BUF_INIT;
	if (br->failed_step)
		tpg_buf_printf(&out, "--- %s ---\n", br->failed_step);
	if (br->failed_output && *br->failed_output)
		tpg_buf_puts(&out, br->failed_output);
	else if (br->log)
		tpg_buf_puts(&out, last_lines(br->log, LOG_TAIL_LINES));
	if (out.len && out.data[out.len - 1] != '\n')
		tpg_buf_putc(&out, '\n');
	if (br->error)
		tpg_buf_printf(&out, "--- error ---\n%s\n", br->error);
	tpg_result_output(res, out.data ? out.data : "", out.len);
	tpg_buf_free(&out);
}

static void run_check(const tpg_check *check, const void *cfgp, tpg_run *run, tpg_result *res)
{
	const build_cfg *c = cfgp;
	char *ctx_canon = NULL, *df_canon = NULL, *df_rel = NULL, *abs_ctx = NULL, *tag = NULL;
	tpg_strv args = TPG_STRV_INIT, labels = TPG_STRV_INIT;
	tpg_docker_build_result br;
	tpg_err err = {0};
	char secs[32];

	memset(&br, 0, sizeof(br));
	if (resolve(run, c, &ctx_canon, &df_canon, &df_rel, res) <= 0)
		goto out;
	tpg_result_file(res, df_canon, 0);
	for (size_t i = 0; i < c->arg_names.len; i++) {
		char *v = NULL;
		if (tpg_dc_expand(run, &c->arg_values[i], &v, res) < 0)
			goto out;
		tpg_strv_push_owned(&args, tpg_xasprintf("%s=%s", c->arg_names.items[i], v));
		free(v);
	}
	tpg_docker *dk = tpg_dc_docker(run, res);
	if (!dk)
		goto out;

	const char *root = tpg_repo_root(tpg_run_repo(run));
	abs_ctx = strcmp(ctx_canon, ".") ? tpg_xasprintf("%s/%s", root, ctx_canon) : tpg_xstrdup(root);
	tag = tpg_dc_name(run, check, NULL);
	tpg_dc_labels(run, check, &labels);

	tpg_docker_build_opts o;
	memset(&o, 0, sizeof(o));
	o.context_dir = abs_ctx;
	o.dockerfile = df_rel;
	o.tag = tag;
	o.build_args = args.len ? (const char *const *)args.items : NULL;
	o.labels = (const char *const *)labels.items;
	o.target = c->target;
	o.nocache = c->no_cache;
	o.network = c->network == 1 ? "none" : c->network == 2 ? "bridge" : NULL;
	o.builder = pick_builder(run, c);
	o.context_limit = (size_t)c->context_max;

	int rc = tpg_docker_build(dk, &o, tpg_run_deadline(run), &br, &err);
	const char *bname = br.builder == TPG_DOCKER_BUILDER_BUILDKIT ? "BuildKit" : "the classic builder";
	json_t *data = json_pack("{s:s,s:s,s:I}", "run", tpg_run_id(run), "builder",
	                         br.builder == TPG_DOCKER_BUILDER_BUILDKIT ? "buildkit" : "classic",
	                         "context_bytes", (json_int_t)br.context_bytes);
	tpg_result_data(res, "build", data);
	if (rc == TPG_ETOOBIG) {
		tpg_result_fail(res, "%s; leave big files out with a .dockerignore", err.msg);
		goto out;
	} else if (rc == TPG_ESYMLINK || rc == TPG_EINVAL) {
		tpg_result_fail(res, "the build context cannot be sent: %s", err.msg);
		goto out;
	} else if (rc == TPG_ETIMEOUT) {
		show_failure(&br, res);
		tpg_result_fail(res, "the build did not finish within %s (with %s)",
		                tpg_dc_secs(check->timeout_ms, secs, sizeof(secs)), bname);
		goto out;
	} else if (rc < 0) {
		if (br.log)
			show_failure(&br, res);
		tpg_dc_result_error(res, rc, &err, "building the image");
		goto out;
	}
	if (!br.ok) {
		show_failure(&br, res);
		if (br.failed_step)
			tpg_result_fail(res, "the build failed at %s: %s", br.failed_step,
			                br.error ? br.error : "(no message from the daemon)");
		else
			tpg_result_fail(res, "the build failed: %s",
			                br.error ? br.error : "(no message from the daemon)");
		goto out;
	}

	tpg_run_set_found(run, "image", br.image_id);
	tpg_run_set_found(run, "tag", tag);
	tpg_run_set_found(run, "dir", ctx_canon);
	json_object_set_new(data, "image", json_string(br.image_id));
	json_object_set_new(data, "tag", json_string(tag));
	json_object_set_new(data, "ms", json_integer(br.ms));

	tpg_buf why = TPG_BUF_INIT;
	int ok = 1;
	if (c->expect) {
		build_subject s = { br.log ? br.log : "", br.log ? strlen(br.log) : 0 };
		ok = tpg_pred_eval(c->expect, &build_ops, &s, tpg_run_lang(run), &why);
	}
	char *shown = tpg_repo_path_display(df_canon);
	char sz[32];
	if (ok == 1)
		tpg_result_pass(res, "%s built in %s with %s (image %.19s, context %s)%s%s", shown,
		                tpg_dc_secs(br.ms, secs, sizeof(secs)), bname, br.image_id,
		                tpg_format_size((long long)br.context_bytes, sz, sizeof(sz)),
		                why.len ? "; " : "", tpg_buf_cstr(&why));
	else if (ok == 0)
		tpg_result_fail(res, "%s built, but %s", shown, tpg_buf_cstr(&why));
	else
		tpg_result_error(res, "%s", tpg_buf_cstr(&why));
	if (ok != 1 && br.log)
		tpg_result_output(res, last_lines(br.log, LOG_TAIL_LINES),
		                  strlen(last_lines(br.log, LOG_TAIL_LINES)));
	free(shown);
	tpg_buf_free(&why);
out:
	tpg_docker_build_result_free(&br);
	tpg_strv_free(&args);
	tpg_strv_free(&labels);
	free(ctx_canon);
	free(df_canon);
	free(df_rel);
	free(abs_ctx);
	free(tag);
}

const tpg_check_kind tpg_kind_build = {
	.name = "build",
	.summary = "builds a folder of the repository into an image (docker build)",
	.needs = TPG_NEEDS_DOCKER,
	.default_timeout_ms = 300000,
	.parse = parse,
	.run = run_check,
	.free_cfg = free_cfg,
};

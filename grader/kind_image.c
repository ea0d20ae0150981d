/*
 * kind_image.c - `kind: image`: an image exists on the daemon (or not),
 * and conditions on its configuration: ENTRYPOINT, CMD, HEALTHCHECK,
 * USER, EXPOSE, ENV, WORKDIR, VOLUME, labels, layers, size, tags and
 * digests. See docs/spec.md, "image". Read-only: nothing is pulled,
 * tagged or removed.
 */
#include "tpgrade/check.h"
#include "tpgrade/dockcheck.h"
#include "tpgrade/docker.h"
#include "tpgrade/pred.h"
#include "tpgrade/repo.h"
#include "tpgrade/textmatch.h"

#include <stdlib.h>
#include <string.h>

typedef struct image_cfg {
	tpg_tmpl image;
	bool exists;
	tpg_pred *expect;
} image_cfg;

typedef enum {
	L_ENTRYPOINT, L_CMD, L_ENTRYPOINT_FORM, L_CMD_FORM, L_HEALTHCHECK, L_USER, L_WORKDIR,
	L_ENV, L_EXPOSED, L_VOLUMES, L_LABELS, L_LAYERS, L_SIZE, L_TAGS, L_DIGESTS
} leaf_type;

static const char *const leaf_keys[] = {
	"entrypoint", "cmd", "entrypoint-form", "cmd-form", "healthcheck", "user", "workdir",
	"env", "exposed-ports", "volumes", "labels", "layers", "size", "repo-tags",
	"repo-digests", NULL
};

/* A duration condition of healthcheck: exact, or {min, max}; -1 unset. */
typedef struct dur_range {
	long long min, max;
} dur_range;

typedef struct leaf {
	leaf_type type;
	tpg_textmatch *text;
	bool flag;               /* form: exec?  healthcheck: present? */
	tpg_dc_range count;      /* layers, healthcheck retries */
	long long size_min, size_max;
	/* healthcheck */
	bool hc_present_given;
	dur_range interval, timeout, start_period;
	bool retries_given;
} leaf;

/* ---- Parsing ------------------------------------------------------------ */

static int parse_dur(tpg_fields *f, const char *key, dur_range *r)
{
	r->min = r->max = -1;
	const tpg_yaml_node *n = tpg_fields_take(f, key);
	if (!n)
		return 0;
	if (n->type == TPG_YAML_SCALAR) {
		long long v = 0;
		if (tpg_fields_duration(f, key, &v) > 0)
			r->min = r->max = v;
		return 1;
	}
	tpg_fields *sub = tpg_fields_sub(f, n, key);
	if (!sub)
		return -1;
	tpg_fields_duration(sub, "min", &r->min);
	tpg_fields_duration(sub, "max", &r->max);
	return tpg_fields_end(sub) < 0 ? -1 : 1;
}

static void free_leaf(void *p)
{
	leaf *l = p;
	if (!l)
		return;
	tpg_textmatch_free(l->text);
	tpg_dc_range_free(&l->count);
	free(l);
}

static void *parse_leaf(tpg_fields *f, void *ctx)
{
	TPG_UNUSED(ctx);
	leaf *l = tpg_xcalloc(1, sizeof(*l));
	int given = 0, before = tpg_fields_errors(f);
	const tpg_yaml_node *n;

	l->interval.min = l->interval.max = -1;
	l->timeout = l->start_period = l->interval;
	for (int k = 0; leaf_keys[k]; k++) {
		if (!tpg_fields_has(f, leaf_keys[k]))
			continue;
		if (given++) {
			tpg_fields_take(f, leaf_keys[k]);
			continue;
		}
		l->type = (leaf_type)k;
		n = tpg_fields_take(f, leaf_keys[k]);
		switch (l->type) {
		case L_ENTRYPOINT_FORM:
		case L_CMD_FORM: {
			static const char *const forms[] = { "exec", "shell", NULL };
			int form = 0;
			tpg_fields_enum(f, leaf_keys[k], forms, &form);
			l->flag = form == 0;
			break;
		}
		case L_HEALTHCHECK:
			if (n->type == TPG_YAML_SCALAR) {
				l->hc_present_given = true;
				tpg_fields_bool(f, "healthcheck", &l->flag);
			} else {
				tpg_fields *h = tpg_fields_sub(f, n, "healthcheck");
				if (!h)
					break;
				l->flag = true;
				l->hc_present_given = tpg_fields_bool(h, "present", &l->flag) > 0;
				const tpg_yaml_node *t = tpg_fields_take(h, "test");
				if (t)
					tpg_textmatch_parse(h, t, "test", &l->text);
				parse_dur(h, "interval", &l->interval);
				parse_dur(h, "timeout", &l->timeout);
				parse_dur(h, "start-period", &l->start_period);
				const tpg_yaml_node *r = tpg_fields_take(h, "retries");
				if (r) {
					l->retries_given = true;
					tpg_dc_range_parse(h, r, "retries", 0, 1000000, &l->count);
				}
				tpg_fields_end(h);
			}
			break;
		case L_LAYERS:
			tpg_dc_range_parse(f, n, "layers", 0, 100000, &l->count);
			break;
		case L_SIZE: {
			tpg_fields *s = tpg_fields_sub(f, n, "size");
			l->size_max = -1;
			if (s) {
				tpg_fields_size(s, "min", &l->size_min);
				tpg_fields_size(s, "max", &l->size_max);
				tpg_fields_end(s);
			}
			break;
		}
		default:
			tpg_textmatch_parse(f, n, leaf_keys[k], &l->text);
			break;
		}
	}
	if (given > 1)
		tpg_fields_error(f, NULL, NULL, "one condition per item: split them into items");
	if (given == 0 || tpg_fields_errors(f) > before) {
		free_leaf(l);
		return NULL;
	}
	return l;
}

#define LEAF_LIST                                                                    \
	"entrypoint, cmd, entrypoint-form, cmd-form, healthcheck, user, workdir, env, " \
	"exposed-ports, volumes, labels, layers, size, repo-tags, repo-digests"

/* ---- Evaluation ------------------------------------------------------------ */

typedef struct subject {
	const char *name;
	json_t *info;
} subject;

static const json_t *config(const subject *s)
{
	return json_object_get(s->info, "Config");
}

/* Shell form as Docker stores it: [<shell>, "-c", "<line>"]. An exec form
 * written exactly like that cannot be told apart (docs/spec.md). */
static bool looks_shell_form(const json_t *arr)
{
	if (json_array_size(arr) != 3)
		return false;
	const char *sh = json_string_value(json_array_get(arr, 0));
	const char *c = json_string_value(json_array_get(arr, 1));
	if (!sh || !c || strcmp(c, "-c"))
		return false;
	size_t n = strlen(sh);
	return n >= 2 && !strcmp(sh + n - 2, "sh");
}

/* Docker's defaults for unset health-check durations (ns in the config). */
static long long hc_ms(const json_t *hc, const char *key, long long dflt)
{
	long long ns = (long long)json_integer_value(json_object_get(hc, key));
	return ns > 0 ? ns / 1000000 : dflt;
}

static bool dur_holds(const dur_range *r, long long v)
{
	return (r->min < 0 || v >= r->min) && (r->max < 0 || v <= r->max);
}

static int check_dur(const char *name, const dur_range *r, long long v, tpg_buf *why)
{
	char a[32], b[32];
	if (r->min < 0 && r->max < 0)
		return 1;
	bool ok = dur_holds(r, v);
	tpg_buf_printf(why, "%sits %s is %s", why->len ? "; " : "", name, tpg_dc_secs(v, a, sizeof(a)));
	if (!ok) {
		if (r->min == r->max)
			tpg_buf_printf(why, ", not %s", tpg_dc_secs(r->min, b, sizeof(b)));
		else if (r->max >= 0 && v > r->max)
			tpg_buf_printf(why, ", over %s", tpg_dc_secs(r->max, b, sizeof(b)));
		else
			tpg_buf_printf(why, ", under %s", tpg_dc_secs(r->min, b, sizeof(b)));
	}
	return ok;
}

static int eval_healthcheck(const leaf *l, const subject *s, tpg_buf *why)
{
	const json_t *hc = json_object_get(config(s), "Healthcheck");
	const json_t *test = json_object_get(hc, "Test");
	const char *t0 = json_string_value(json_array_get(test, 0));
	bool present = t0 && strcmp(t0, "NONE") != 0;
	if (!present) {
		tpg_buf_printf(why, "the image has %s", t0 ? "HEALTHCHECK NONE" : "no HEALTHCHECK");
		return l->hc_present_given && !l->flag;
	}
	if (l->hc_present_given && !l->flag) {
		char *j = tpg_dc_json(test);
		tpg_buf_printf(why, "the image has a HEALTHCHECK (%.200s%s)", j, strlen(j) > 200 ? "..." : "");
		free(j);
		return 0;
	}
	tpg_buf_puts(why, "the image has a HEALTHCHECK");
	tpg_buf inner = TPG_BUF_INIT;
	int ok = 1;
	if (l->text) {
		char *j = tpg_dc_json(test);
		ok = tpg_textmatch_eval(l->text, j, strlen(j), "its test", &inner);
		free(j);
	}
	if (ok == 1)
		ok = check_dur("interval", &l->interval, hc_ms(hc, "Interval", 30000), &inner) &&
		     check_dur("timeout", &l->timeout, hc_ms(hc, "Timeout", 30000), &inner) &&
		     check_dur("start period", &l->start_period, hc_ms(hc, "StartPeriod", 0), &inner);
	if (ok == 1 && l->retries_given) {
		long long r = (long long)json_integer_value(json_object_get(hc, "Retries"));
		if (r <= 0)
			r = 3;
		tpg_buf_printf(&inner, "%sits retries are %lld", inner.len ? "; " : "", r);
		if (!tpg_dc_range_holds(&l->count, r)) {
			tpg_buf_puts(&inner, ", expected ");
			tpg_dc_range_describe(&l->count, &inner);
			ok = 0;
		}
	}
	if (inner.len)
		tpg_buf_printf(why, ": %s", tpg_buf_cstr(&inner));
	tpg_buf_free(&inner);
	return ok;
}

static int eval_leaf(const void *p, void *subj, tpg_buf *why)
{
	const leaf *l = p;
	const subject *s = subj;
	const json_t *cfg = config(s);
	char *text = NULL;
	const char *label = NULL;
	int rc;

	switch (l->type) {
	case L_ENTRYPOINT:
	case L_CMD: {
		const json_t *v = json_object_get(cfg, l->type == L_CMD ? "Cmd" : "Entrypoint");
		text = tpg_dc_json(v);
		/* Student-controlled: shown shortened. */
		char *what = tpg_xasprintf("%s %.200s%s", l->type == L_CMD ? "CMD" : "ENTRYPOINT",
		                           *text ? text : "(none)", strlen(text) > 200 ? "..." : "");
		rc = tpg_textmatch_eval(l->text, text, strlen(text), what, why);
		free(what);
		free(text);
		return rc;
	}
	case L_ENTRYPOINT_FORM:
	case L_CMD_FORM: {
		const char *key = l->type == L_CMD_FORM ? "Cmd" : "Entrypoint";
		const json_t *v = json_object_get(cfg, key);
		text = tpg_dc_json(v);
		if (!json_array_size(v)) {
			tpg_buf_printf(why, "the image has no %s", l->type == L_CMD_FORM ? "CMD" : "ENTRYPOINT");
			free(text);
			return 0;
		}
		bool shell = looks_shell_form(v);
		tpg_buf_printf(why, "%s %.200s%s is in %s form",
		               l->type == L_CMD_FORM ? "CMD" : "ENTRYPOINT", text,
		               strlen(text) > 200 ? "..." : "", shell ? "shell" : "exec");
		free(text);
		return shell != l->flag;
	}
	case L_HEALTHCHECK:
		return eval_healthcheck(l, s, why);
	case L_USER:
		label = "USER";
		text = tpg_xstrdup(json_string_value(json_object_get(cfg, "User")));
		break;
	case L_WORKDIR:
		label = "WORKDIR";
		text = tpg_xstrdup(json_string_value(json_object_get(cfg, "WorkingDir")));
		break;
	case L_ENV:
		label = "ENV";
		text = tpg_dc_lines(json_object_get(cfg, "Env"), false);
		break;
	case L_EXPOSED:
		label = "EXPOSE";
		text = tpg_dc_lines(json_object_get(cfg, "ExposedPorts"), false);
		break;
	case L_VOLUMES:
		label = "VOLUME";
		text = tpg_dc_lines(json_object_get(cfg, "Volumes"), false);
		break;
	case L_LABELS:
		label = "LABEL";
		text = tpg_dc_lines(json_object_get(cfg, "Labels"), true);
		break;
	case L_TAGS:
		label = "its tags";
		text = tpg_dc_lines(json_object_get(s->info, "RepoTags"), false);
		break;
	case L_DIGESTS:
		label = "its repository digests";
		text = tpg_dc_lines(json_object_get(s->info, "RepoDigests"), false);
		break;
	case L_LAYERS: {
		long long n = (long long)json_array_size(
			json_object_get(json_object_get(s->info, "RootFS"), "Layers"));
		tpg_buf_printf(why, "the image has %lld layer%s", n, n == 1 ? "" : "s");
		if (!tpg_dc_range_holds(&l->count, n)) {
			tpg_buf_puts(why, ", expected ");
			tpg_dc_range_describe(&l->count, why);
			return 0;
		}
		return 1;
	}
	case L_SIZE: {
		long long sz = (long long)json_integer_value(json_object_get(s->info, "Size"));
		char a[32], b[32];
		tpg_buf_printf(why, "the image is %s", tpg_format_size(sz, a, sizeof(a)));
		if (l->size_max >= 0 && sz > l->size_max) {
			tpg_buf_printf(why, ", over the %s limit", tpg_format_size(l->size_max, b, sizeof(b)));
			return 0;
		}
		if (sz < l->size_min) {
			tpg_buf_printf(why, ", under the %s minimum", tpg_format_size(l->size_min, b, sizeof(b)));
			return 0;
		}
		return 1;
	}
	}
	if (!text)
		text = tpg_xstrdup("");
	/* textmatch quotes a short one-line value that fails a condition. */
	rc = tpg_textmatch_eval(l->text, text, strlen(text), label, why);
	if (rc == 0 && !*text)
		tpg_buf_puts(why, l->type == L_USER || l->type == L_WORKDIR ? " (unset)"
		                                                             : " (there are none)");
	free(text);
	return rc;
}

static const tpg_pred_ops image_ops = { parse_leaf, eval_leaf, free_leaf, LEAF_LIST };

/* ---- The check ------------------------------------------------------------------ */

static void free_cfg(void *p)
{
	image_cfg *c = p;
	if (!c)
		return;
	tpg_tmpl_free(&c->image);
	tpg_pred_free(c->expect, &image_ops);
	free(c);
}

static int parse(tpg_fields *f, void **out)
{
	image_cfg *c = tpg_xcalloc(1, sizeof(*c));
	*out = c;
	c->exists = true;
	tpg_fields_tmpl(f, "image", true, &c->image);
	tpg_fields_bool(f, "exists", &c->exists);
	tpg_pred_parse(f, "expect", &image_ops, NULL, &c->expect);
	if (!c->exists && c->expect)
		tpg_fields_error(f, NULL, "exists", "exists: false takes no expect conditions");
	return tpg_fields_errors(f) ? -1 : 0;
}

static void run_check(const tpg_check *check, const void *cfgp, tpg_run *run, tpg_result *res)
{
	const image_cfg *c = cfgp;
	char *name = NULL;
	tpg_err err = {0};
	json_t *info = NULL;
	TPG_UNUSED(check);

	if (tpg_dc_expand(run, &c->image, &name, res) < 0)
		return;
	tpg_docker *dk = tpg_dc_docker(run, res);
	if (!dk) {
		free(name);
		return;
	}
	int rc = tpg_docker_image_inspect(dk, name, tpg_run_deadline(run), &info, &err);
	if (rc == TPG_ENOTFOUND || rc == TPG_EINVAL) {
		/* 400: a reference the daemon cannot parse is not an image either. */
		if (c->exists)
			tpg_result_fail(res, "there is no image %s on the Docker daemon", name);
		else
			tpg_result_pass(res, "there is no image %s, as expected", name);
		goto out;
	}
	if (rc < 0) {
		tpg_dc_result_error(res, rc, &err, "inspecting the image");
		goto out;
	}
	const char *id = json_string_value(json_object_get(info, "Id"));
	if (!c->exists) {
		tpg_result_fail(res, "the image %s exists (%.19s) but should not", name, id ? id : "?");
		goto out;
	}
	if (id)
		tpg_run_set_found(run, "image", id);
	tpg_result_data(res, "image", json_pack("{s:s,s:s?}", "name", name, "id", id));
	subject s = { name, info };
	tpg_buf why = TPG_BUF_INIT;
	int ok = c->expect ? tpg_pred_eval(c->expect, &image_ops, &s, tpg_run_lang(run), &why) : 1;
	char shown[160];
	snprintf(shown, sizeof(shown), strncmp(name, "sha256:", 7) ? "%s" : "image %.19s", name);
	if (ok == 1 && why.len)
		tpg_result_pass(res, "%s: %s", shown, tpg_buf_cstr(&why));
	else if (ok == 1)
		tpg_result_pass(res, "%s exists (%.19s)", shown, id ? id : "?");
	else if (ok == 0)
		tpg_result_fail(res, "%s: %s", shown, tpg_buf_cstr(&why));
	else
		tpg_result_error(res, "%s", tpg_buf_cstr(&why));
	tpg_buf_free(&why);
out:
	json_decref(info);
	free(name);
}

const tpg_check_kind tpg_kind_image = {
	.name = "image",
	.summary = "an image exists on the daemon (or not), and its configuration",
	.needs = TPG_NEEDS_DOCKER,
	.default_timeout_ms = 30000,
	.parse = parse,
	.run = run_check,
	.free_cfg = free_cfg,
};

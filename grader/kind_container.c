/*
 * kind_container.c - `kind: container`: a container exists on the daemon
 * (found by name, image pattern, labels; running or not), and conditions
 * on it: state, restart policy, published ports, networks, mounts, health.
 * See docs/spec.md, "container". Read-only: it never starts, stops or
 * removes anything, and ignores the containers of other tpgrade runs.
 *
 * Meant for a student's self-check ("a registry:2 container runs with
 * restart policy always and port 5000 published") and for looking at a
 * container a service check of the run started.
 */
#include "tpgrade/check.h"
#include "tpgrade/dockcheck.h"
#include "tpgrade/docker.h"
#include "tpgrade/imageref.h"
#include "tpgrade/pred.h"
#include "tpgrade/textmatch.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INSPECTED 20
#define MAX_REPORTED 5

typedef struct ctr_cfg {
	tpg_tmpl name;
	tpg_tmpl image;
	tpg_strv labels;
	bool running;
	bool exists;
	bool all;
	tpg_pred *where;
	tpg_pred *expect;
} ctr_cfg;

typedef enum {
	L_STATE, L_RESTART, L_PUBLISHED, L_NETWORKS, L_MOUNTS, L_HEALTH, L_IMAGE, L_ENV
} leaf_type;

static const char *const leaf_keys[] = {
	"state", "restart-policy", "published", "networks", "mounts", "health", "image", "env", NULL
};
#define LEAF_LIST "state, restart-policy, published, networks, mounts, health, image, env"

typedef struct leaf {
	leaf_type type;
	tpg_textmatch *text;
	long long cport;         /* published: container port */
	long long hport;         /* published: host port, 0 any */
	char *proto;             /* "tcp" */
} leaf;

/* ---- Parsing ------------------------------------------------------------------ */

static void free_leaf(void *p)
{
	leaf *l = p;
	if (!l)
		return;
	tpg_textmatch_free(l->text);
	free(l->proto);
	free(l);
}

static bool port_num(const char *s, long long *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || v < 1 || v > 65535)
		return false;
	*out = v;
	return *end == '\0';
}

/* "5000", "5000/udp", "8080:5000" (host:container, as docker run -p). */
static bool parse_port_text(const char *s, leaf *l)
{
	char *copy = tpg_xstrdup(s);
	char *slash = strchr(copy, '/');
	bool ok = true;
	if (slash) {
		*slash = '\0';
		free(l->proto);
		l->proto = tpg_xstrdup(slash + 1);
		ok = !strcmp(l->proto, "tcp") || !strcmp(l->proto, "udp") || !strcmp(l->proto, "sctp");
	}
	char *colon = strrchr(copy, ':');
	if (colon) {
		*colon = '\0';
		ok = ok && port_num(copy, &l->hport) && port_num(colon + 1, &l->cport);
	} else {
		ok = ok && port_num(copy, &l->cport);
	}
	free(copy);
	return ok;
}

static void *parse_leaf(tpg_fields *f, void *ctx)
{
	TPG_UNUSED(ctx);
	leaf *l = tpg_xcalloc(1, sizeof(*l));
	int given = 0, before = tpg_fields_errors(f);
	l->proto = tpg_xstrdup("tcp");
	for (int k = 0; leaf_keys[k]; k++) {
		const tpg_yaml_node *n = tpg_fields_take(f, leaf_keys[k]);
		if (!n || given++)
			continue;
		l->type = (leaf_type)k;
		if (l->type != L_PUBLISHED) {
			tpg_textmatch_parse(f, n, leaf_keys[k], &l->text);
		} else if (n->type == TPG_YAML_SCALAR) {
			if (!parse_port_text(n->value, l))
				tpg_fields_error(f, n, "published", "'%s' is not a port: write 5000, "
				                 "5000/udp, 5000:5000 (host:container) or {container: 5000, "
				                 "host: 5000}", n->value);
		} else {
			tpg_fields *p = tpg_fields_sub(f, n, "published");
			if (p) {
				static const char *const protos[] = { "tcp", "udp", "sctp", NULL };
				int proto = 0;
				if (!tpg_fields_has(p, "container"))
					tpg_fields_error(p, NULL, NULL, "missing required key 'container'");
				tpg_fields_int(p, "container", 1, 65535, &l->cport);
				tpg_fields_int(p, "host", 1, 65535, &l->hport);
				if (tpg_fields_enum(p, "protocol", protos, &proto) > 0) {
					free(l->proto);
					l->proto = tpg_xstrdup(protos[proto]);
				}
				tpg_fields_end(p);
			}
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

/* ---- Evaluation ------------------------------------------------------------------ */

typedef struct subject {
	const char *name;
	json_t *info;
} subject;

static int eval_published(const leaf *l, const subject *s, tpg_buf *why)
{
	char key[32];
	snprintf(key, sizeof(key), "%lld/%s", l->cport, l->proto);
	bool running = json_is_true(json_object_get(json_object_get(s->info, "State"), "Running"));
	/* Live bindings when running; what was asked for otherwise. */
	const json_t *ports = running
		? json_object_get(json_object_get(s->info, "NetworkSettings"), "Ports")
		: json_object_get(json_object_get(s->info, "HostConfig"), "PortBindings");
	const json_t *list = json_object_get(ports, key);
	size_t i;
	const json_t *b;
	tpg_buf seen = TPG_BUF_INIT;
	json_array_foreach(list, i, b) {
		const char *hip = json_string_value(json_object_get(b, "HostIp"));
		const char *hp = json_string_value(json_object_get(b, "HostPort"));
		long long v = hp ? atoll(hp) : 0;
		tpg_buf_printf(&seen, "%s%s:%s", seen.len ? ", " : "", hip && *hip ? hip : "0.0.0.0",
		               hp && *hp ? hp : "(any)");
		if (!l->hport || v == l->hport) {
			tpg_buf_printf(why, "%s is published on %s:%s", key, hip && *hip ? hip : "0.0.0.0",
			               hp && *hp ? hp : "(a port Docker picks)");
			tpg_buf_free(&seen);
			return 1;
		}
	}
	if (seen.len)
		tpg_buf_printf(why, "%s is published on %s, not on host port %lld", key,
		               tpg_buf_cstr(&seen), l->hport);
	else {
		tpg_buf_printf(why, "%s is not published", key);
		/* Name what is, to help: "-p 5000" versus "-p 5000:5000". */
		const char *k;
		json_t *v;
		tpg_buf others = TPG_BUF_INIT;
		json_object_foreach((json_t *)ports, k, v) {
			if (json_array_size(v))
				tpg_buf_printf(&others, "%s%s", others.len ? ", " : "", k);
		}
		if (others.len)
			tpg_buf_printf(why, " (published: %s)", tpg_buf_cstr(&others));
		else if (!ports || !json_object_size(ports))
			tpg_buf_puts(why, " (no port is published)");
		tpg_buf_free(&others);
	}
	tpg_buf_free(&seen);
	return 0;
}

static char *mounts_text(const json_t *info)
{
	tpg_strv lines = TPG_STRV_INIT;
	size_t i;
	const json_t *m;
	json_array_foreach(json_object_get(info, "Mounts"), i, m) {
		const char *type = json_string_value(json_object_get(m, "Type"));
		const char *name = json_string_value(json_object_get(m, "Name"));
		const char *src = json_string_value(json_object_get(m, "Source"));
		const char *dst = json_string_value(json_object_get(m, "Destination"));
		const char *from = type && !strcmp(type, "volume") && name ? name : src;
		tpg_strv_push_owned(&lines, tpg_xasprintf("%s %s:%s", type ? type : "?",
		                                          from ? from : "", dst ? dst : ""));
	}
	char *s = tpg_strv_join(&lines, "\n");
	tpg_strv_free(&lines);
	return s ? s : tpg_xstrdup("");
}

static int eval_leaf(const void *p, void *subj, tpg_buf *why)
{
	const leaf *l = p;
	const subject *s = subj;
	const json_t *st = json_object_get(s->info, "State");
	const json_t *hc = json_object_get(s->info, "HostConfig");
	const json_t *cfg = json_object_get(s->info, "Config");
	char *text = NULL;
	const char *label = "";

	/* textmatch quotes a short one-line value that fails a condition. */
	switch (l->type) {
	case L_PUBLISHED:
		return eval_published(l, s, why);
	case L_STATE:
		label = "its state";
		text = tpg_xstrdup(json_string_value(json_object_get(st, "Status")));
		break;
	case L_RESTART: {
		label = "its restart policy";
		const char *n = json_string_value(json_object_get(json_object_get(hc, "RestartPolicy"),
		                                                  "Name"));
		text = tpg_xstrdup(n && *n ? n : "no");
		break;
	}
	case L_HEALTH: {
		label = "its health";
		const char *h = json_string_value(json_object_get(json_object_get(st, "Health"),
		                                                  "Status"));
		text = tpg_xstrdup(h && *h ? h : "none");
		break;
	}
	case L_IMAGE:
		label = "its image";
		text = tpg_xstrdup(json_string_value(json_object_get(cfg, "Image")));
		break;
	case L_NETWORKS:
		label = "its networks";
		text = tpg_dc_lines(json_object_get(json_object_get(s->info, "NetworkSettings"),
		                                    "Networks"), false);
		break;
	case L_MOUNTS:
		label = "its mounts";
		text = mounts_text(s->info);
		break;
	case L_ENV: {
		label = "its environment";
		/* May hold passwords: a trailing newline makes it multi-line, which
		 * textmatch does not quote (not-contains still shows its line). */
		char *lines = tpg_dc_lines(json_object_get(cfg, "Env"), false);
		text = *lines ? tpg_xasprintf("%s\n", lines) : tpg_xstrdup("");
		free(lines);
		break;
	}
	}
	if (!text)
		text = tpg_xstrdup("");
	int rc = tpg_textmatch_eval(l->text, text, strlen(text), label, why);
	if (rc == 0 && !*text)
		tpg_buf_puts(why, l->type == L_IMAGE ? " (it is empty)" : " (there are none)");
	free(text);
	return rc;
}

static const tpg_pred_ops ctr_ops = { parse_leaf, eval_leaf, free_leaf, LEAF_LIST };

/* ---- The check --------------------------------------------------------------------- */

static void free_cfg(void *p)
{
	ctr_cfg *c = p;
	if (!c)
		return;
	tpg_tmpl_free(&c->name);
	tpg_tmpl_free(&c->image);
	tpg_strv_free(&c->labels);
	tpg_pred_free(c->where, &ctr_ops);
	tpg_pred_free(c->expect, &ctr_ops);
	free(c);
}

static int parse(tpg_fields *f, void **out)
{
	static const char *const modes[] = { "any", "all", NULL };
	ctr_cfg *c = tpg_xcalloc(1, sizeof(*c));
	int mode = 0;
	*out = c;
	c->exists = true;
	tpg_fields_tmpl(f, "name", false, &c->name);
	tpg_fields_tmpl(f, "image", false, &c->image);
	tpg_fields_strlist(f, "label", &c->labels);
	tpg_fields_bool(f, "running", &c->running);
	tpg_fields_bool(f, "exists", &c->exists);
	tpg_fields_enum(f, "match", modes, &mode);
	c->all = mode == 1;
	tpg_pred_parse(f, "where", &ctr_ops, NULL, &c->where);
	tpg_pred_parse(f, "expect", &ctr_ops, NULL, &c->expect);
	if (!c->name.text && !c->image.text && !c->labels.len)
		tpg_fields_error(f, NULL, NULL, "say which container: give name, image or label");
	if (!c->exists && (c->expect || c->where))
		tpg_fields_error(f, NULL, "exists", "exists: false takes no where/expect conditions");
	return tpg_fields_errors(f) ? -1 : 0;
}

/* The image reference as written, and its usual spellings. */
static bool image_matches(const char *pattern, const char *ref)
{
	if (!ref)
		return false;
	if (!fnmatch(pattern, ref, 0))
		return true;
	tpg_imageref *r = NULL;
	bool ok = false;
	if (tpg_imageref_parse(ref, &r, NULL) == 0) {
		char *fam = tpg_imageref_familiar(r);
		char *full = tpg_imageref_string(r);
		ok = !fnmatch(pattern, fam, 0) || !fnmatch(pattern, full, 0);
		free(fam);
		free(full);
		tpg_imageref_free(r);
	}
	return ok;
}

static bool name_matches(const char *pattern, const json_t *item, const char **name_out)
{
	const char *id = json_string_value(json_object_get(item, "Id"));
	size_t i;
	const json_t *n;
	*name_out = NULL;
	json_array_foreach(json_object_get(item, "Names"), i, n) {
		const char *nm = json_string_value(n);
		if (!nm)
			continue;
		nm += nm[0] == '/';
		if (!*name_out)
			*name_out = nm;
		if (!pattern || !fnmatch(pattern, nm, 0)) {
			*name_out = nm;
			return true;
		}
	}
	size_t pl = pattern ? strlen(pattern) : 0;
	return id && pattern && pl >= 12 && !strncmp(id, pattern, pl);
}

typedef struct cand {
	char *id;
	char *name;
	char *image;
	bool running;
	long long created;
} cand;

static int cmp_cand(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	if (x->running != y->running)
		return x->running ? -1 : 1;
	return x->created > y->created ? -1 : x->created < y->created;
}

static char *describe_filter(const ctr_cfg *c, const char *name, const char *image)
{
	tpg_buf b = TPG_BUF_INIT;
	tpg_buf_puts(&b, c->running ? "a running container" : "a container");
	if (name)
		tpg_buf_printf(&b, " named %s", name);
	if (image)
		tpg_buf_printf(&b, "%s image %s", name ? " and" : " of", image);
	for (size_t i = 0; i < c->labels.len; i++)
		tpg_buf_printf(&b, "%s label %s", i || name || image ? "," : " with", c->labels.items[i]);
	return tpg_buf_detach(&b);
}

static void run_check(const tpg_check *check, const void *cfgp, tpg_run *run, tpg_result *res)
{
	const ctr_cfg *c = cfgp;
	char *name = NULL, *image = NULL, *what = NULL;
	tpg_err err = {0};
	json_t *list = NULL, *filters = NULL;
	cand *cands = NULL;
	size_t ncands = 0;
	TPG_UNUSED(check);

	if ((c->name.text && tpg_dc_expand(run, &c->name, &name, res) < 0) ||
	    (c->image.text && tpg_dc_expand(run, &c->image, &image, res) < 0))
		goto out;
	tpg_docker *dk = tpg_dc_docker(run, res);
	if (!dk)
		goto out;
	what = describe_filter(c, name, image);

	filters = json_object();
	if (c->labels.len) {
		json_t *l = json_array();
		for (size_t i = 0; i < c->labels.len; i++)
			json_array_append_new(l, json_string(c->labels.items[i]));
		json_object_set_new(filters, "label", l);
	}
	if (c->running)
		json_object_set_new(filters, "status", json_pack("[s]", "running"));
	int rc = tpg_docker_container_list(dk, filters, tpg_run_deadline(run), &list, &err);
	if (rc < 0) {
		tpg_dc_result_error(res, rc, &err, "listing containers");
		goto out;
	}
	size_t i;
	json_t *item;
	cands = tpg_xcalloc(json_array_size(list) + 1, sizeof(*cands));
	json_array_foreach(list, i, item) {
		const json_t *labels = json_object_get(item, "Labels");
		const char *other = json_string_value(json_object_get(labels, TPG_DOCKER_LABEL_RUN));
		const char *nm = NULL;
		if (other && strcmp(other, tpg_run_id(run)))
			continue;   /* another tpgrade run's: not the student's */
		if (!name_matches(name, item, &nm))
			continue;
		const char *img = json_string_value(json_object_get(item, "Image"));
		if (image && !image_matches(image, img))
			continue;
		cand *k = &cands[ncands++];
		k->id = tpg_xstrdup(json_string_value(json_object_get(item, "Id")));
		k->name = tpg_xstrdup(nm ? nm : k->id);
		k->image = tpg_xstrdup(img ? img : "?");
		k->running = !strcmp(json_string_value(json_object_get(item, "State")) ?
		                     json_string_value(json_object_get(item, "State")) : "", "running");
		k->created = (long long)json_integer_value(json_object_get(item, "Created"));
	}
	if (ncands > 1)
		qsort(cands, ncands, sizeof(*cands), cmp_cand);

	if (!c->exists) {
		if (ncands)
			tpg_result_fail(res, "there is %s (%s, %s) but there should not be", what,
			                cands[0].name, cands[0].running ? "running" : "stopped");
		else
			tpg_result_pass(res, "there is no %s, as expected", what + 2);
		goto out;
	}
	if (!ncands) {
		tpg_result_fail(res, "there is no %s on the Docker daemon", what + 2);
		goto out;
	}

	tpg_buf rejected = TPG_BUF_INIT, failures = TPG_BUF_INIT;
	size_t nsel = 0, npass = 0, nrej = 0;
	bool decided = false;
	for (size_t k = 0; k < ncands && k < MAX_INSPECTED && !decided; k++) {
		json_t *info = NULL;
		rc = tpg_docker_container_inspect(dk, cands[k].id, tpg_run_deadline(run), &info, &err);
		if (rc == TPG_ENOTFOUND)
			continue;   /* removed meanwhile */
		if (rc < 0) {
			tpg_dc_result_error(res, rc, &err, "inspecting a container");
			decided = true;
			break;
		}
		subject s = { cands[k].name, info };
		tpg_buf why = TPG_BUF_INIT;
		int ok = c->where ? tpg_pred_eval(c->where, &ctr_ops, &s, tpg_run_lang(run), &why) : 1;
		if (ok == 0 && nrej++ < MAX_REPORTED)
			tpg_buf_printf(&rejected, "\n  - %s: %s", cands[k].name, tpg_buf_cstr(&why));
		if (ok == 1) {
			nsel++;
			tpg_buf_clear(&why);
			ok = c->expect ? tpg_pred_eval(c->expect, &ctr_ops, &s, tpg_run_lang(run), &why) : 1;
			char head[512];
			snprintf(head, sizeof(head), strncmp(cands[k].image, "sha256:", 7)
			         ? "container %s (%s, %s)" : "container %s (image %.19s, %s)",
			         cands[k].name, cands[k].image, cands[k].running ? "running" : "not running");
			if (ok < 0) {
				tpg_result_error(res, "%s: %s", head, tpg_buf_cstr(&why));
				decided = true;
			} else if (c->all) {
				if (ok)
					npass++;
				else
					tpg_buf_printf(&failures, "\n  - %s: %s", head, tpg_buf_cstr(&why));
			} else if (ok) {
				tpg_run_set_found(run, "container", cands[k].id);
				tpg_run_set_found(run, "name", cands[k].name);
				tpg_result_pass(res, "%s%s%s", head, why.len ? ": " : "", tpg_buf_cstr(&why));
				decided = true;
			} else if (!res->status_set) {
				tpg_result_fail(res, "%s: %s", head, tpg_buf_cstr(&why));
				decided = c->where != NULL;
			}
		}
		tpg_buf_free(&why);
		json_decref(info);
	}
	if (!decided && nsel == 0) {
		if (res->status_set)
			;
		else
			tpg_result_fail(res, "none of the %zu containers matching (%s) qualifies:%s", ncands,
			                what + 2, tpg_buf_cstr(&rejected));
	} else if (!decided && c->all) {
		if (npass == nsel)
			tpg_result_pass(res, "all %zu matching containers qualify", nsel);
		else
			tpg_result_fail(res, "%zu of the %zu matching containers do not qualify:%s",
			                nsel - npass, nsel, tpg_buf_cstr(&failures));
	} else if (!decided && res->status == TPG_STATUS_FAILED && nsel > 1) {
		tpg_result_note(res, "(none of the other %zu matching containers qualifies either)",
		                nsel - 1);
	}
	tpg_buf_free(&rejected);
	tpg_buf_free(&failures);
out:
	for (size_t k = 0; k < ncands; k++) {
		free(cands[k].id);
		free(cands[k].name);
		free(cands[k].image);
	}
	free(cands);
	json_decref(list);
	json_decref(filters);
	free(what);
	free(name);
	free(image);
}

const tpg_check_kind tpg_kind_container = {
	.name = "container",
	.summary = "a container exists (by name, image, label), its state, restart policy, "
	           "ports, networks, mounts, health",
	.needs = TPG_NEEDS_DOCKER,
	.default_timeout_ms = 30000,
	.parse = parse,
	.run = run_check,
	.free_cfg = free_cfg,
};

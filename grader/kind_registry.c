/*
 * kind_registry.c - `kind: registry`: what a container registry holds,
 * seen through the Registry HTTP API v2 (registry.h): a repository, its
 * tags, the manifest of a tag (image or multi-platform index, platforms),
 * the catalog, and whether the local Docker daemon's image is the one the
 * registry has (its RepoDigests). See docs/spec.md, "registry".
 *
 * Anything that keeps us from seeing the registry (down, 5xx, credentials
 * refused, access denied, a protocol error) is an `error`, never a
 * failure: tpgrade cannot tell what the student pushed. Credentials never
 * reach a message: the client scrubs its own, and ours never quote them.
 */
#include "tpgrade/check.h"
#include "tpgrade/credentials.h"
#include "tpgrade/docker.h"
#include "tpgrade/imageref.h"
#include "tpgrade/pred.h"
#include "tpgrade/registry.h"
#include "tpgrade/repo.h"
#include "tpgrade/textmatch.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LISTED 10          /* names quoted in one message */
#define MAX_DATA_TAGS 100      /* tags kept in the JSON details */
#define CATALOG_HINT_MAX 20    /* catalog entries fetched for "the catalog has" */
#define CONFIG_BLOB_MAX (1u << 20)
#define SHORT_DIGEST 19        /* "sha256:" + 12 hex */

/* ---- Configuration ------------------------------------------------------ */

typedef struct reg_cfg {
	tpg_tmpl image;
	tpg_imageref *ref;     /* parsed at load time when image is static */
	char *username;        /* secrets: wiped on free, never printed */
	char *password;
	bool insecure;
	bool anonymous;
	char *ca_bundle;
	tpg_pred *expect;
} reg_cfg;

typedef enum {
	L_REPOSITORY, L_TAG, L_TAGS, L_MANIFEST, L_PLATFORM, L_CATALOG, L_LOCAL
} leaf_type;

static const char *const leaf_keys[] = {
	"repository", "tag", "tags", "manifest", "platform", "catalog", "digest-equals-local", NULL
};

typedef enum { M_EXISTS, M_ABSENT, M_IMAGE, M_INDEX } manifest_want;

typedef struct leaf {
	leaf_type type;
	int want;                  /* repository: 0 exists, 1 absent; manifest: manifest_want */
	tpg_strv names;            /* tag / catalog: names that must all be there */
	tpg_textmatch *text;       /* tag / catalog: some name matches */
	long long min, max;        /* tags: count bounds (max -1: none) */
	char *os, *arch, *variant; /* platform */
	tpg_imageref *local;       /* digest-equals-local: NULL = the check's image */
} leaf;

/* ---- What the conditions look at: one registry repository --------------- */

typedef struct lazy_list {
	bool done;
	int rc;
	tpg_err err;
	tpg_strv items;
	bool more;
} lazy_list;

typedef struct subject {
	tpg_run *run;
	tpg_registry *reg;
	const tpg_imageref *ref;
	char *name;            /* "localhost:5000/my-ubuntu", for messages */
	long long deadline;
	lazy_list tags;        /* sorted */
	lazy_list catalog;
	/* the manifest graded: the reference's digest or tag, else latest, else
	 * the first tag */
	bool target_done;
	int target_rc;
	tpg_err target_err;
	char *target;          /* tag or digest asked for */
	char *target_tag;      /* NULL when the reference is a digest */
	char *target_note;     /* why that tag, when it was chosen for the author */
	tpg_manifest_info man;
	/* what digest-equals-local saw, for the JSON details */
	char *local_name;
	json_t *local_digests;
} subject;

static void free_leaf(void *p)
{
	leaf *l = p;
	if (!l)
		return;
	tpg_strv_free(&l->names);
	tpg_textmatch_free(l->text);
	free(l->os);
	free(l->arch);
	free(l->variant);
	tpg_imageref_free(l->local);
	free(l);
}

/* `tag: latest`, `tag: [latest, v1]` (all of them), or a text matcher
 * mapping (some name matches). */
static int parse_names(tpg_fields *f, const tpg_yaml_node *n, const char *key, leaf *l)
{
	if (n->type == TPG_YAML_MAP)
		return tpg_textmatch_parse(f, n, key, &l->text);
	if (n->type == TPG_YAML_SCALAR) {
		tpg_tmpl t;
		if (tpg_fields_expand(f, n, key, false, &t) < 0)
			return -1;
		tpg_strv_push_owned(&l->names, t.text);
		return 0;
	}
	if (n->n == 0) {
		tpg_fields_error(f, n, key, "an empty list: give at least one name");
		return -1;
	}
	for (size_t i = 0; i < n->n; i++) {
		tpg_tmpl t;
		if (n->items[i]->type != TPG_YAML_SCALAR) {
			tpg_fields_error(f, n->items[i], key, "must be a name, got a %s",
			                 tpg_yaml_type_name(n->items[i]));
			return -1;
		}
		if (tpg_fields_expand(f, n->items[i], key, false, &t) < 0)
			return -1;
		tpg_strv_push_owned(&l->names, t.text);
	}
	return 0;
}

static int parse_count(tpg_fields *f, const tpg_yaml_node *n, leaf *l)
{
	l->min = 0;
	l->max = -1;
	if (n->type == TPG_YAML_SCALAR) {
		char *end;
		long long v = strtoll(n->value, &end, 10);
		if (!n->value[0] || *end || v < 0) {
			tpg_fields_error(f, n, "tags", "must be a count or {min: N, max: N}");
			return -1;
		}
		l->min = l->max = v;
		return 0;
	}
	tpg_fields *sub = tpg_fields_sub(f, n, "tags");
	if (!sub)
		return -1;
	long long eq = -1;
	tpg_fields_int(sub, "min", 0, 1000000, &l->min);
	tpg_fields_int(sub, "max", 0, 1000000, &l->max);
	if (tpg_fields_int(sub, "equals", 0, 1000000, &eq) > 0)
		l->min = l->max = eq;
	return tpg_fields_end(sub);
}

/* "linux/arm64/v8" */
static int parse_platform(tpg_fields *f, leaf *l)
{
	char *v = NULL;
	if (tpg_fields_str(f, "platform", true, &v) <= 0)
		return -1;
	char *a = strchr(v, '/');
	char *b = a ? strchr(a + 1, '/') : NULL;
	if (!a || a == v || !a[1] || a[1] == '/' || (b && (!b[1] || strchr(b + 1, '/')))) {
		tpg_fields_error(f, NULL, "platform", "'%s' is not a platform: write os/architecture "
		                 "or os/architecture/variant, like linux/amd64 or linux/arm64/v8", v);
		free(v);
		return -1;
	}
	*a = '\0';
	if (b)
		*b = '\0';
	l->os = tpg_xstrdup(v);
	l->arch = tpg_xstrdup(a + 1);
	l->variant = b ? tpg_xstrdup(b + 1) : NULL;
	free(v);
	return 0;
}

static int parse_local(tpg_fields *f, leaf *l)
{
	const tpg_yaml_node *n = tpg_fields_take(f, "digest-equals-local");
	tpg_tmpl t;
	tpg_err err = {0};

	if (n->type != TPG_YAML_SCALAR) {
		tpg_fields_error(f, n, "digest-equals-local", "must be true or a local image name");
		return -1;
	}
	if (n->plain && (!strcmp(n->value, "true") || !strcmp(n->value, "yes")))
		return 0;
	if (tpg_fields_expand(f, n, "digest-equals-local", false, &t) < 0)
		return -1;
	if (!strcmp(t.text, "") || tpg_imageref_parse(t.text, &l->local, &err) < 0) {
		tpg_fields_error(f, n, "digest-equals-local", "%s",
		                 t.text[0] ? err.msg : "must be true or a local image name");
		free(t.text);
		return -1;
	}
	free(t.text);
	return 0;
}

static void *parse_leaf(tpg_fields *f, void *ctx)
{
	static const char *const repo_wants[] = { "exists", "absent", NULL };
	static const char *const man_wants[] = { "exists", "absent", "image", "index", "list", NULL };
	leaf *l = tpg_xcalloc(1, sizeof(*l));
	int given = 0;
	TPG_UNUSED(ctx);

	for (int k = 0; leaf_keys[k]; k++) {
		if (!tpg_fields_has(f, leaf_keys[k]))
			continue;
		given++;
		l->type = (leaf_type)k;
		switch (l->type) {
		case L_REPOSITORY:
			tpg_fields_enum(f, "repository", repo_wants, &l->want);
			break;
		case L_MANIFEST:
			tpg_fields_enum(f, "manifest", man_wants, &l->want);
			if (l->want == 4)
				l->want = M_INDEX;   /* a Docker manifest list is an index */
			break;
		case L_TAG:
		case L_CATALOG:
			parse_names(f, tpg_fields_take(f, leaf_keys[k]), leaf_keys[k], l);
			break;
		case L_TAGS:
			parse_count(f, tpg_fields_take(f, "tags"), l);
			break;
		case L_PLATFORM:
			parse_platform(f, l);
			break;
		case L_LOCAL:
			parse_local(f, l);
			break;
		}
	}
	if (given > 1)
		tpg_fields_error(f, NULL, NULL, "one condition per item (repository, tag, tags, manifest, "
		                 "platform, catalog, digest-equals-local)");
	if (given == 0 || tpg_fields_errors(f) > 0) {
		free_leaf(l);
		return NULL;
	}
	return l;
}

/* ---- Helpers ------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a, b, c": every name (for the few a spec writes). */
static void list_names(tpg_buf *out, const tpg_strv *v)
{
	for (size_t i = 0; i < v->len; i++)
		tpg_buf_printf(out, "%s%s", i ? ", " : "", v->items[i]);
}

/* "a, b, c", at most MAX_LISTED then "and N more" (names from a registry). */
static void list_names_n(tpg_buf *out, const tpg_strv *v, bool more)
{
	for (size_t i = 0; i < MAX_LISTED && i < v->len; i++)
		tpg_buf_printf(out, "%s%s", i ? ", " : "", v->items[i]);
	if (more)
		tpg_buf_puts(out, " and more");
	else if (v->len > MAX_LISTED)
		tpg_buf_printf(out, " and %zu more", v->len - MAX_LISTED);
}

static void short_digest(tpg_buf *out, const char *digest)
{
	if (!digest) {
		tpg_buf_puts(out, "(no digest)");
		return;
	}
	size_t n = strlen(digest);
	if (n > SHORT_DIGEST)
		tpg_buf_printf(out, "%.*s…", SHORT_DIGEST, digest);
	else
		tpg_buf_puts(out, digest);
}

/* The port part of a registry domain ("" when none). */
static const char *domain_port(const char *d)
{
	const char *p = d[0] == '[' ? strchr(d, ']') : d;
	p = p ? strrchr(p, ':') : NULL;
	return p ? p + 1 : "";
}

/* Two names of the same registry: equal, or both loopback on one port
 * (localhost:5000 = 127.0.0.1:5000, as the student's registry is both). */
static bool same_registry(const char *a, const char *b)
{
	if (!strcmp(a, b))
		return true;
	return tpg_registry_is_insecure(a, NULL) && tpg_registry_is_insecure(b, NULL) &&
	       !strcmp(domain_port(a), domain_port(b));
}

/* An environment problem: the leaf cannot be evaluated. */
static int env_error(tpg_buf *why, const tpg_err *err)
{
	tpg_buf_puts(why, err->msg);
	if (err->code == TPG_EAUTH || err->code == TPG_EDENIED)
		tpg_buf_puts(why, " (tpgrade needs read access to this registry to grade: check the "
		             "check's username/password, DOCKER_AUTH_CONFIG or docker login)");
	return err->code < 0 ? err->code : TPG_EGENERIC;
}

/* ---- Lazy loading --------------------------------------------------------- */

static long long sub_deadline(const subject *s, long long ms)
{
	long long d = tpg_now_ms() + ms;
	return s->deadline && s->deadline < d ? s->deadline : d;
}

static int load_tags(subject *s)
{
	lazy_list *t = &s->tags;
	if (t->done)
		return t->rc;
	t->done = true;
	t->rc = tpg_registry_tags(s->reg, s->ref->path, 0, s->deadline, &t->items, &t->more,
	                          &t->err);
	if (t->rc == 0 && t->items.len > 1)
		qsort(t->items.items, t->items.len, sizeof(char *), cmp_str);
	return t->rc;
}

static int load_catalog(subject *s, size_t max, long long deadline)
{
	lazy_list *c = &s->catalog;
	if (c->done && (c->rc < 0 || !c->more || max == CATALOG_HINT_MAX))
		return c->rc;
	if (c->done) {   /* only the hint was loaded: load it all */
		tpg_strv_free(&c->items);
		tpg_err_clear(&c->err);
	}
	c->done = true;
	c->rc = tpg_registry_catalog(s->reg, max, deadline, &c->items, &c->more, &c->err);
	return c->rc;
}

/* "no repository my-ubuntu in localhost:5000 (the catalog has: a, b)";
 * the catalog is a best effort (GitLab and Docker Hub have none). */
static void repo_missing(subject *s, tpg_buf *why)
{
	tpg_buf_printf(why, "no repository %s in %s", s->ref->path, s->ref->domain);
	if (load_catalog(s, CATALOG_HINT_MAX, sub_deadline(s, 5000)) < 0)
		return;
	if (s->catalog.items.len == 0) {
		tpg_buf_puts(why, " (the registry is empty: nothing was pushed to it)");
		return;
	}
	tpg_buf_puts(why, " (the catalog has: ");
	list_names_n(why, &s->catalog.items, s->catalog.more);
	tpg_buf_putc(why, ')');
}

/* The tags, or 0 with why filled when the repository is missing, or <0 with
 * why filled for an environment problem. 1 when loaded. */
static int need_tags(subject *s, tpg_buf *why)
{
	int rc = load_tags(s);
	if (rc == TPG_ENOTFOUND) {
		repo_missing(s, why);
		return 0;
	}
	if (rc < 0)
		return env_error(why, &s->tags.err);
	return 1;
}

static int resolve_target(subject *s)
{
	const tpg_imageref *r = s->ref;
	if (s->target_done)
		return s->target_rc;
	s->target_done = true;
	if (r->digest) {
		s->target = tpg_xstrdup(r->digest);
		s->target_tag = r->tag && !r->tag_implicit ? tpg_xstrdup(r->tag) : NULL;
	} else if (!r->tag_implicit) {
		s->target = tpg_xstrdup(r->tag);
		s->target_tag = tpg_xstrdup(r->tag);
	} else {
		/* No tag written: latest, else the tag the student did push. */
		int rc = load_tags(s);
		if (rc < 0) {
			s->target_err = s->tags.err;
			return s->target_rc = rc;
		}
		const tpg_strv *t = &s->tags.items;
		if (tpg_strv_contains(t, "latest")) {
			s->target = tpg_xstrdup("latest");
		} else if (t->len > 0) {
			s->target = tpg_xstrdup(t->items[0]);
			s->target_note = t->len == 1
				? tpg_xasprintf("no tag latest; %s is its only tag", t->items[0])
				: tpg_xasprintf("no tag latest; %s is the first of its %zu tags",
				                t->items[0], t->len);
		} else {
			return s->target_rc = tpg_err_set(&s->target_err, TPG_ENOTFOUND,
				"repository %s of %s has no tags", r->path, r->domain);
		}
		s->target_tag = tpg_xstrdup(s->target);
	}
	s->target_rc = tpg_registry_manifest_get(s->reg, r->path, s->target, s->deadline, &s->man,
	                                         &s->target_err);
	return s->target_rc;
}

/* The manifest graded, or 0/<0 with why filled as need_tags. */
static int need_target(subject *s, tpg_buf *why)
{
	int rc = resolve_target(s);
	if (rc == TPG_ENOTFOUND) {
		/* Say whether the repository or the tag is missing. */
		if (load_tags(s) == TPG_ENOTFOUND)
			repo_missing(s, why);
		else
			tpg_buf_puts(why, s->target_err.msg);
		return 0;
	}
	if (rc < 0)
		return env_error(why, &s->target_err);
	return 1;
}

/* "localhost:5000/my-ubuntu:latest" or "...@sha256:abc…" */
static void target_name(const subject *s, tpg_buf *out)
{
	if (s->target_tag && !s->ref->digest)
		tpg_buf_printf(out, "%s:%s", s->name, s->target_tag);
	else if (s->ref->digest) {
		tpg_buf_printf(out, "%s@", s->name);
		short_digest(out, s->ref->digest);
	} else
		tpg_buf_puts(out, s->name);
}

static void platform_str(tpg_buf *out, const char *os, const char *arch, const char *variant)
{
	tpg_buf_printf(out, "%s/%s", os ? os : "?", arch ? arch : "?");
	if (variant && variant[0])
		tpg_buf_printf(out, "/%s", variant);
}

/* Index entries that are real platforms (not attestations). */
static bool real_platform(const tpg_platform *p)
{
	return !(p->os && !strcmp(p->os, "unknown") && p->architecture &&
	         !strcmp(p->architecture, "unknown"));
}

/* "linux/amd64, linux/arm64/v8": the platforms of an index. */
static void platform_list(const tpg_manifest_info *m, tpg_buf *out)
{
	size_t n = 0;
	for (size_t i = 0; i < m->n_platforms; i++) {
		if (!real_platform(&m->platforms[i]))
			continue;
		if (n++)
			tpg_buf_puts(out, ", ");
		platform_str(out, m->platforms[i].os, m->platforms[i].architecture,
		             m->platforms[i].variant);
	}
	if (n == 0)
		tpg_buf_puts(out, "none");
}

/* "an image (sha256:abc…, 3 layers, 29.5 MB)" */
static void describe_target(const subject *s, tpg_buf *out)
{
	const tpg_manifest_info *m = &s->man;
	if (m->is_index) {
		tpg_buf_puts(out, "a multi-platform index (");
		short_digest(out, m->digest);
		tpg_buf_puts(out, ": ");
		platform_list(m, out);
		tpg_buf_putc(out, ')');
	} else {
		char sz[32];
		tpg_buf_puts(out, "an image (");
		short_digest(out, m->digest);
		tpg_buf_printf(out, ", %zu layer%s, %s)", m->n_layers, m->n_layers == 1 ? "" : "s",
		               tpg_format_size(m->layers_size, sz, sizeof(sz)));
	}
	if (s->target_note)
		tpg_buf_printf(out, " [%s]", s->target_note);
}

/* ---- Leaves ----------------------------------------------------------------- */

static int eval_repository(const leaf *l, subject *s, tpg_buf *why)
{
	int rc = need_tags(s, why);
	if (rc <= 0)
		return rc < 0 ? rc : l->want == 1;
	tpg_buf_printf(why, "repository %s exists in %s", s->ref->path, s->ref->domain);
	if (s->tags.items.len) {
		tpg_buf_puts(why, " (tags: ");
		list_names_n(why, &s->tags.items, s->tags.more);
		tpg_buf_putc(why, ')');
	} else {
		tpg_buf_puts(why, " (no tags)");
	}
	if (l->want == 1)
		tpg_buf_puts(why, " but should not");
	return l->want == 0;
}

static void has_tags_clause(const subject *s, tpg_buf *why)
{
	if (s->tags.items.len == 0) {
		tpg_buf_puts(why, "it has no tags");
		return;
	}
	tpg_buf_puts(why, "it has: ");
	list_names_n(why, &s->tags.items, s->tags.more);
}

/* Some name of `names` meets the matcher: 1 (which, in why), 0, <0. */
static int match_some(const tpg_textmatch *m, const tpg_strv *names, bool more,
                      const char *noun, const char *owner, tpg_buf *why)
{
	tpg_buf first = TPG_BUF_INIT;
	for (size_t i = 0; i < names->len; i++) {
		tpg_buf one = TPG_BUF_INIT;
		char *what = tpg_xasprintf("%s %s", noun, names->items[i]);
		int rc = tpg_textmatch_eval(m, names->items[i], strlen(names->items[i]), what, &one);
		free(what);
		if (rc != 0) {
			tpg_buf_printf(why, "%s: %s", owner, tpg_buf_cstr(&one));
			tpg_buf_free(&one);
			tpg_buf_free(&first);
			return rc;
		}
		if (i == 0)
			tpg_buf_puts(&first, tpg_buf_cstr(&one));
		tpg_buf_free(&one);
	}
	if (names->len == 0) {
		tpg_buf_printf(why, "%s has no %ss", owner, noun);
	} else {
		tpg_buf_printf(why, "no %s of %s qualifies (", noun, owner);
		list_names_n(why, names, more);
		tpg_buf_printf(why, "): %s", tpg_buf_cstr(&first));
	}
	tpg_buf_free(&first);
	return 0;
}

static int eval_tag(const leaf *l, subject *s, tpg_buf *why)
{
	int rc = need_tags(s, why);
	if (rc <= 0)
		return rc;
	if (l->text)
		return match_some(l->text, &s->tags.items, s->tags.more, "tag", s->name, why);
	for (size_t i = 0; i < l->names.len; i++) {
		if (!tpg_strv_contains(&s->tags.items, l->names.items[i])) {
			tpg_buf_clear(why);
			tpg_buf_printf(why, "%s has no tag %s (", s->name, l->names.items[i]);
			has_tags_clause(s, why);
			tpg_buf_putc(why, ')');
			return 0;
		}
	}
	tpg_buf_printf(why, "%s has tag%s ", s->name, l->names.len > 1 ? "s" : "");
	list_names(why, &l->names);
	return 1;
}

static int eval_tags(const leaf *l, subject *s, tpg_buf *why)
{
	int rc = need_tags(s, why);
	if (rc <= 0)
		return rc;
	size_t n = s->tags.items.len;
	bool ok = (long long)n >= l->min && (l->max < 0 || (long long)n <= l->max);
	tpg_buf_printf(why, "%s has %s%zu tag%s", s->name, s->tags.more ? "at least " : "", n,
	               n == 1 ? "" : "s");
	if (n) {
		tpg_buf_puts(why, ": ");
		list_names_n(why, &s->tags.items, s->tags.more);
	}
	if (!ok) {
		if (l->min == l->max)
			tpg_buf_printf(why, "; expected %lld", l->min);
		else if (l->max >= 0 && (long long)n > l->max)
			tpg_buf_printf(why, "; expected at most %lld", l->max);
		else
			tpg_buf_printf(why, "; expected at least %lld", l->min);
	}
	return ok;
}

static int eval_manifest(const leaf *l, subject *s, tpg_buf *why)
{
	int rc = need_target(s, why);
	if (rc <= 0)
		return rc < 0 ? rc : l->want == M_ABSENT;
	target_name(s, why);
	tpg_buf_puts(why, " is ");
	describe_target(s, why);
	switch ((manifest_want)l->want) {
	case M_ABSENT:
		tpg_buf_puts(why, ", but should not exist");
		return 0;
	case M_IMAGE:
		if (s->man.is_index)
			tpg_buf_puts(why, ", not a single image");
		return !s->man.is_index;
	case M_INDEX:
		if (!s->man.is_index)
			tpg_buf_puts(why, ", not a multi-platform index (manifest list)");
		return s->man.is_index;
	default:
		return 1;
	}
}

static bool platform_eq(const leaf *l, const char *os, const char *arch, const char *variant)
{
	return os && arch && !strcmp(os, l->os) && !strcmp(arch, l->arch) &&
	       (!l->variant || (variant && !strcmp(variant, l->variant)));
}

static int eval_platform(const leaf *l, subject *s, tpg_buf *why)
{
	int rc = need_target(s, why);
	if (rc <= 0)
		return rc;
	tpg_buf want = TPG_BUF_INIT;
	platform_str(&want, l->os, l->arch, l->variant);
	target_name(s, why);
	if (s->man.is_index) {
		bool hit = false;
		for (size_t i = 0; i < s->man.n_platforms && !hit; i++) {
			const tpg_platform *p = &s->man.platforms[i];
			hit = platform_eq(l, p->os, p->architecture, p->variant);
		}
		tpg_buf_printf(why, " is %s", hit ? "an index with " : "an index without ");
		tpg_buf_puts(why, tpg_buf_cstr(&want));
		tpg_buf_puts(why, " (its platforms: ");
		platform_list(&s->man, why);
		tpg_buf_putc(why, ')');
		tpg_buf_free(&want);
		return hit;
	}
	/* A single image: its platform is in its config. */
	tpg_buf cfg = TPG_BUF_INIT;
	tpg_err err = {0};
	rc = tpg_registry_blob_get(s->reg, s->ref->path, s->man.config_digest, CONFIG_BLOB_MAX,
	                           s->deadline, &cfg, &err);
	if (rc < 0) {
		tpg_buf_clear(why);
		tpg_buf_free(&cfg);
		tpg_buf_free(&want);
		if (rc == TPG_ENOTFOUND || rc == TPG_ETOOBIG || rc == TPG_EINVAL) {
			tpg_buf_printf(why, "cannot read the configuration of %s:%s: %s", s->name,
			               s->target, err.msg);
			return 0;
		}
		return env_error(why, &err);
	}
	json_t *root = json_loadb(cfg.data ? cfg.data : "", cfg.len, 0, NULL);
	const char *os = json_string_value(json_object_get(root, "os"));
	const char *arch = json_string_value(json_object_get(root, "architecture"));
	const char *variant = json_string_value(json_object_get(root, "variant"));
	bool hit = platform_eq(l, os, arch, variant);
	tpg_buf_puts(why, " is an image for ");
	platform_str(why, os, arch, variant);
	if (!hit)
		tpg_buf_printf(why, ", not %s", tpg_buf_cstr(&want));
	json_decref(root);
	tpg_buf_free(&cfg);
	tpg_buf_free(&want);
	return hit;
}

static int eval_catalog(const leaf *l, subject *s, tpg_buf *why)
{
	int rc = load_catalog(s, 0, s->deadline);
	if (rc < 0) {
		tpg_buf_printf(why, "cannot list the catalog of %s: ", s->ref->domain);
		return env_error(why, &s->catalog.err);
	}
	const tpg_strv *c = &s->catalog.items;
	char *owner = tpg_xasprintf("the catalog of %s", s->ref->domain);
	if (l->text) {
		rc = match_some(l->text, c, s->catalog.more, "repository", owner, why);
		free(owner);
		return rc;
	}
	for (size_t i = 0; i < l->names.len; i++) {
		if (!tpg_strv_contains(c, l->names.items[i])) {
			tpg_buf_printf(why, "%s has no %s (", owner, l->names.items[i]);
			if (c->len) {
				tpg_buf_puts(why, "it has: ");
				list_names_n(why, c, s->catalog.more);
			} else {
				tpg_buf_puts(why, "it is empty");
			}
			tpg_buf_putc(why, ')');
			free(owner);
			return 0;
		}
	}
	tpg_buf_printf(why, "%s lists ", owner);
	list_names(why, &l->names);
	free(owner);
	return 1;
}

/* The names the local image may have: the leaf's, else the check's;
 * without a tag written, the tag graded in the registry. A loopback
 * registry also under its other names (pushed as localhost:5000, graded
 * as 127.0.0.1:5000). */
static void local_names(const leaf *l, const subject *s, tpg_strv *out)
{
	const tpg_imageref *r = l->local ? l->local : s->ref;
	char *suffix;
	if (r->digest && (r->tag_implicit || !r->tag))
		suffix = tpg_xasprintf("@%s", r->digest);
	else if (r->tag_implicit && s->target_tag && !l->local)
		suffix = tpg_xasprintf(":%s", s->target_tag);
	else
		suffix = tpg_xasprintf(":%s", r->tag ? r->tag : "latest");
	char *name = tpg_imageref_familiar_name(r);
	tpg_strv_push_owned(out, tpg_xasprintf("%s%s", name, suffix));
	free(name);
	if (tpg_registry_is_insecure(r->domain, NULL)) {
		static const char *const aliases[] = { "localhost", "127.0.0.1" };
		const char *port = domain_port(r->domain);
		for (size_t i = 0; i < 2; i++) {
			char *alt = tpg_xasprintf("%s%s%s/%s%s", aliases[i], *port ? ":" : "", port,
			                          r->path, suffix);
			if (!tpg_strv_contains(out, alt))
				tpg_strv_push_owned(out, alt);
			else
				free(alt);
		}
	}
	free(suffix);
}

static int eval_local(const leaf *l, subject *s, tpg_buf *why)
{
	int rc = need_target(s, why);
	if (rc <= 0)
		return rc;
	tpg_docker *dk = NULL;
	tpg_err err = {0};
	if (tpg_run_docker(s->run, &dk, &err) < 0) {
		tpg_buf_printf(why, "cannot compare with the local image: %s", err.msg);
		return err.code < 0 ? err.code : TPG_EUNAVAIL;
	}
	tpg_strv names = TPG_STRV_INIT;
	json_t *img = NULL;
	const char *name = NULL;
	local_names(l, s, &names);
	rc = TPG_ENOTFOUND;
	for (size_t i = 0; i < names.len && rc == TPG_ENOTFOUND; i++) {
		name = names.items[i];
		rc = tpg_docker_image_inspect(dk, name, s->deadline, &img, &err);
	}
	if (rc == TPG_ENOTFOUND)
		name = names.items[0];
	free(s->local_name);
	s->local_name = tpg_xstrdup(name);
	if (rc == TPG_ENOTFOUND) {
		tpg_buf_printf(why, "the Docker daemon has no image %s (pull it back: docker pull %s)",
		               name, name);
		tpg_strv_free(&names);
		return 0;
	}
	if (rc < 0) {
		tpg_buf_printf(why, "cannot inspect the local image %s: %s", name, err.msg);
		tpg_strv_free(&names);
		return rc;
	}

	/* Its RepoDigests ("name@sha256:...") for this repository of this
	 * registry: Docker records one on every push and pull. */
	const char *want = s->man.digest;
	json_t *rd = json_object_get(img, "RepoDigests");
	tpg_strv mine = TPG_STRV_INIT;
	bool hit = false;
	size_t i;
	json_t *v;
	json_decref(s->local_digests);
	s->local_digests = json_array();
	json_array_foreach(rd, i, v) {
		const char *str = json_string_value(v);
		tpg_imageref *r = NULL;
		if (!str)
			continue;
		json_array_append_new(s->local_digests, json_string(str));
		if (tpg_imageref_parse(str, &r, NULL) < 0)
			continue;
		if (r->digest && same_registry(r->domain, s->ref->domain) &&
		    !strcmp(r->path, s->ref->path)) {
			tpg_strv_push(&mine, r->digest);
			if (want && !strcmp(r->digest, want))
				hit = true;
		}
		tpg_imageref_free(r);
	}

	tpg_buf reg = TPG_BUF_INIT;
	tpg_buf_puts(&reg, "the registry's ");
	target_name(s, &reg);
	tpg_buf_puts(&reg, " is ");
	short_digest(&reg, want);
	if (hit) {
		tpg_buf_printf(why, "the local image %s is the one in the registry: %s, a digest "
		               "Docker recorded for it", name, tpg_buf_cstr(&reg));
	} else if (mine.len == 0) {
		tpg_buf_printf(why, "the local image %s was neither pushed to nor pulled from %s (it has "
		               "no digest there; %s)", name, s->name, tpg_buf_cstr(&reg));
	} else {
		tpg_buf_printf(why, "the local image %s is not the one in the registry: %s, but the "
		               "local image's digest there is ", name, tpg_buf_cstr(&reg));
		for (size_t k = 0; k < mine.len && k < 3; k++) {
			if (k)
				tpg_buf_puts(why, ", ");
			short_digest(why, mine.items[k]);
		}
		tpg_buf_puts(why, " (was it rebuilt or retagged after the push?)");
	}
	tpg_buf_free(&reg);
	tpg_strv_free(&mine);
	tpg_strv_free(&names);
	json_decref(img);
	return hit;
}

static int eval_leaf(const void *p, void *subj, tpg_buf *why)
{
	const leaf *l = p;
	subject *s = subj;
	switch (l->type) {
	case L_REPOSITORY: return eval_repository(l, s, why);
	case L_TAG: return eval_tag(l, s, why);
	case L_TAGS: return eval_tags(l, s, why);
	case L_MANIFEST: return eval_manifest(l, s, why);
	case L_PLATFORM: return eval_platform(l, s, why);
	case L_CATALOG: return eval_catalog(l, s, why);
	case L_LOCAL: return eval_local(l, s, why);
	}
	return TPG_EGENERIC;
}

static const tpg_pred_ops reg_ops = {
	parse_leaf, eval_leaf, free_leaf,
	"repository, tag, tags, manifest, platform, catalog, digest-equals-local"
};

/* ---- Parsing ------------------------------------------------------------ */

static void free_cfg(void *p)
{
	reg_cfg *c = p;
	if (!c)
		return;
	tpg_tmpl_free(&c->image);
	tpg_imageref_free(c->ref);
	tpg_cred_wipe_free(c->username);
	tpg_cred_wipe_free(c->password);
	free(c->ca_bundle);
	tpg_pred_free(c->expect, &reg_ops);
	free(c);
}

static int parse(tpg_fields *f, void **out)
{
	reg_cfg *c = tpg_xcalloc(1, sizeof(*c));
	tpg_err err = {0};

	const tpg_yaml_node *n = tpg_fields_take(f, "image");
	if (!n)
		tpg_fields_error(f, NULL, "image", "required: the image to look for, like "
		                 "localhost:5000/my-ubuntu or ${CI_REGISTRY_IMAGE}:latest");
	else if (n->type != TPG_YAML_SCALAR)
		tpg_fields_error(f, n, "image", "must be an image reference, got a %s",
		                 tpg_yaml_type_name(n));
	else if (tpg_fields_expand(f, n, "image", true, &c->image) > 0 && !c->image.dynamic &&
	         tpg_imageref_parse(c->image.text, &c->ref, &err) < 0)
		tpg_fields_error(f, n, "image", "%s (write host/repository[:tag], like "
		                 "localhost:5000/my-ubuntu)", err.msg);
	tpg_fields_str(f, "username", false, &c->username);
	tpg_fields_str(f, "password", false, &c->password);
	tpg_fields_bool(f, "insecure", &c->insecure);
	tpg_fields_bool(f, "anonymous", &c->anonymous);
	tpg_fields_str(f, "ca-bundle", false, &c->ca_bundle);
	tpg_pred_parse(f, "expect", &reg_ops, NULL, &c->expect);
	if (c->anonymous && ((c->username && c->username[0]) || (c->password && c->password[0])))
		tpg_fields_error(f, NULL, "anonymous", "anonymous: true takes no username/password");
	*out = c;
	return tpg_fields_errors(f) ? -1 : 0;
}

/* ---- Running ------------------------------------------------------------ */

static void subject_free(subject *s)
{
	tpg_strv_free(&s->tags.items);
	tpg_strv_free(&s->catalog.items);
	free(s->name);
	free(s->target);
	free(s->target_tag);
	free(s->target_note);
	tpg_manifest_info_free(&s->man);
	free(s->local_name);
	json_decref(s->local_digests);
	tpg_registry_close(s->reg);
}

static void export(tpg_run *run, subject *s, tpg_result *res)
{
	json_t *d = json_object();
	json_object_set_new(d, "registry", json_string(s->ref->domain));
	json_object_set_new(d, "repository", json_string(s->ref->path));
	tpg_run_set_found(run, "registry", s->ref->domain);
	tpg_run_set_found(run, "repository", s->ref->path);
	if (s->tags.done && s->tags.rc == 0) {
		json_t *a = json_array();
		for (size_t i = 0; i < s->tags.items.len && i < MAX_DATA_TAGS; i++)
			json_array_append_new(a, json_string(s->tags.items.items[i]));
		json_object_set_new(d, "tags", a);
	}
	if (s->target_done && s->target_rc == 0 && s->man.digest) {
		tpg_buf img = TPG_BUF_INIT;
		if (s->target_tag)
			tpg_buf_printf(&img, "%s:%s", s->name, s->target_tag);
		else
			tpg_buf_printf(&img, "%s@%s", s->name, s->man.digest);
		tpg_run_set_found(run, "digest", s->man.digest);
		tpg_run_set_found(run, "image", tpg_buf_cstr(&img));
		if (s->target_tag)
			tpg_run_set_found(run, "tag", s->target_tag);
		json_object_set_new(d, "image", json_string(tpg_buf_cstr(&img)));
		if (s->target_tag)
			json_object_set_new(d, "tag", json_string(s->target_tag));
		json_object_set_new(d, "digest", json_string(s->man.digest));
		if (s->man.media_type)
			json_object_set_new(d, "media_type", json_string(s->man.media_type));
		tpg_buf_free(&img);
	}
	if (s->local_name) {
		json_object_set_new(d, "local_image", json_string(s->local_name));
		if (s->local_digests)
			json_object_set(d, "local_repo_digests", s->local_digests);
	}
	tpg_result_data(res, "registry", d);
}

static void run_check(const tpg_check *check, const void *cfgp, tpg_run *run, tpg_result *res)
{
	const reg_cfg *c = cfgp;
	tpg_err err = {0};
	subject s;
	tpg_imageref *dyn = NULL;
	TPG_UNUSED(check);

	memset(&s, 0, sizeof(s));
	s.run = run;
	s.deadline = tpg_run_deadline(run);
	s.ref = c->ref;
	if (!s.ref) {
		char *text = NULL;
		int rc = tpg_run_expand(run, &c->image, &text, &err);
		if (rc == TPG_ENOTFOUND) {
			tpg_result_skip(res, "%s", err.msg);
			return;
		}
		if (rc == 0)
			rc = tpg_imageref_parse(text, &dyn, &err);
		free(text);
		if (rc < 0) {
			tpg_result_fail(res, "%s", err.msg);
			return;
		}
		s.ref = dyn;
	}
	s.name = tpg_imageref_familiar_name(s.ref);

	tpg_registry_opts o;
	const char *insecure[2] = { s.ref->domain, NULL };
	memset(&o, 0, sizeof(o));
	o.host = s.ref->domain;
	o.insecure = c->insecure ? insecure : NULL;
	o.ca_bundle = c->ca_bundle && c->ca_bundle[0] ? c->ca_bundle : NULL;
	o.username = c->username && c->username[0] ? c->username : NULL;
	o.password = c->password && c->password[0] ? c->password : NULL;
	o.anonymous = c->anonymous;
	if (tpg_registry_open(&o, &s.reg, &err) < 0) {
		tpg_result_error(res, "%s", err.msg);
		subject_free(&s);
		tpg_imageref_free(dyn);
		return;
	}

	tpg_buf why = TPG_BUF_INIT;
	int ok;
	if (c->expect) {
		ok = tpg_pred_eval(c->expect, &reg_ops, &s, tpg_run_lang(run), &why);
	} else {
		leaf exists = { .type = L_MANIFEST, .want = M_EXISTS };
		ok = eval_leaf(&exists, &s, &why);
	}
	/* Later checks may want the digest even when no condition needed it. */
	if (ok >= 0 && !s.target_done)
		resolve_target(&s);
	if (ok < 0)
		tpg_result_error(res, "%s", tpg_buf_cstr(&why));
	else if (ok)
		tpg_result_pass(res, "%s", tpg_buf_cstr(&why));
	else
		tpg_result_fail(res, "%s", tpg_buf_cstr(&why));
	export(run, &s, res);
	tpg_buf_free(&why);
	subject_free(&s);
	tpg_imageref_free(dyn);
}

const tpg_check_kind tpg_kind_registry = {
	.name = "registry",
	.summary = "a registry's repository, tags and manifests; the local image is the one pushed",
	.needs = TPG_NEEDS_REGISTRY,
	.default_timeout_ms = 30000,
	.parse = parse,
	.run = run_check,
	.free_cfg = free_cfg,
};

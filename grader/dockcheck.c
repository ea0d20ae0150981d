/*
 * dockcheck.c - what the live Docker check kinds share (dockcheck.h):
 * results from Docker failures, names and labels, sandbox options, the
 * process conditions, JSON rendering and a tiny HTTP client.
 */
#include "tpgrade/dockcheck.h"
#include "tpgrade/repo.h"
#include "tpgrade/textmatch.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

/* ---- The daemon ------------------------------------------------------- */

tpg_docker *tpg_dc_docker(tpg_run *run, tpg_result *res)
{
	tpg_docker *dk = NULL;
	tpg_err err = {0};
	int rc = tpg_run_docker(run, &dk, &err);
	if (rc < 0) {
		tpg_result_error(res, "%s", err.msg);
		return NULL;
	}
	return dk;
}

void tpg_dc_result_error(tpg_result *res, int rc, const tpg_err *err, const char *what)
{
	const char *msg = err && err->msg[0] ? err->msg : tpg_err_code_name(rc);
	if (rc == TPG_ECANCELED)
		tpg_result_error(res, "interrupted%s%s: grading was stopped (Ctrl-C or SIGTERM)",
		                 what ? " while " : "", what ? what : "");
	else if (what)
		tpg_result_error(res, "%s: %s", what, msg);
	else
		tpg_result_error(res, "%s", msg);
}

int tpg_dc_expand(tpg_run *run, const tpg_tmpl *t, char **out, tpg_result *res)
{
	tpg_err err = {0};
	int rc = tpg_run_expand(run, t, out, &err);
	if (rc == TPG_ENOTFOUND)
		tpg_result_skip(res, "%s", err.msg);
	else if (rc < 0)
		tpg_result_error(res, "%s", err.msg);
	return rc < 0 ? -1 : 0;
}

int tpg_dc_start_failed(tpg_result *res, int rc, const tpg_err *err, const char *image,
                        bool creating)
{
	const char *msg = err && err->msg[0] ? err->msg : tpg_err_code_name(rc);
	if (rc == TPG_ENOTFOUND && creating) {
		tpg_result_fail(res, "there is no image %s: %s", image, msg);
		return 0;
	}
	if (rc == TPG_EINVAL || (rc == TPG_EGENERIC && (strstr(msg, "exec") ||
	                                                strstr(msg, "OCI runtime") ||
	                                                strstr(msg, "executable")))) {
		tpg_result_fail(res, "the container cannot start: %s", msg);
		return 0;
	}
	tpg_dc_result_error(res, rc, err, creating ? "creating the container"
	                                          : "starting the container");
	return -1;
}

/* FNV-1a, to keep names apart when cleaning changed them. */
static unsigned hash32(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* A repository name component: [a-z0-9]+ with single '.', '_' or '-'
 * between alphanumerics. */
static void clean_component(const char *in, tpg_buf *out)
{
	size_t start = out->len;
	bool pending_sep = false;
	char sep = '-';
	for (const char *p = in; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) && c < 0x80) {
			if (pending_sep && out->len > start)
				tpg_buf_putc(out, sep);
			pending_sep = false;
			tpg_buf_putc(out, (char)tolower(c));
		} else {
			sep = pending_sep ? '-' : (c == '.' || c == '_' ? (char)c : '-');
			pending_sep = true;
		}
	}
}

char *tpg_dc_name(tpg_run *run, const tpg_check *check, const char *suffix)
{
	tpg_buf b = TPG_BUF_INIT;
	tpg_buf id = TPG_BUF_INIT;
	tpg_buf_printf(&b, "tpgrade-%s-", tpg_run_id(run));
	clean_component(check->id, &id);
	if (id.len > 80 || strcmp(tpg_buf_cstr(&id), check->id) != 0) {
		char *short_id = tpg_xstrndup(tpg_buf_cstr(&id), 80);
		tpg_buf_printf(&b, "%s-%06x", short_id, hash32(check->id) & 0xffffff);
		free(short_id);
	} else {
		tpg_buf_puts(&b, tpg_buf_cstr(&id));
	}
	if (suffix && *suffix) {
		tpg_buf_putc(&b, '-');
		clean_component(suffix, &b);
	}
	tpg_buf_free(&id);
	return tpg_buf_detach(&b);
}

void tpg_dc_labels(tpg_run *run, const tpg_check *check, tpg_strv *out)
{
	tpg_strv_push_owned(out, tpg_xasprintf("%s=%s", TPG_DOCKER_LABEL_RUN, tpg_run_id(run)));
	tpg_strv_push_owned(out, tpg_xasprintf("%s=%s", TPG_DC_LABEL_CHECK, check->id));
}

long long tpg_dc_deadline(tpg_run *run, long long within_ms)
{
	long long d = tpg_run_deadline(run);
	if (within_ms > 0 && tpg_now_ms() + within_ms < d)
		d = tpg_now_ms() + within_ms;
	return d;
}

const char *tpg_dc_secs(long long ms, char *buf, size_t n)
{
	if (ms < 1000)
		snprintf(buf, n, "%lld ms", ms < 0 ? 0 : ms);
	else if (ms < 60000)
		snprintf(buf, n, "%.1f s", (double)ms / 1000.0);
	else
		snprintf(buf, n, "%lld s", ms / 1000);
	return buf;
}

/* ---- Sandbox options ------------------------------------------------------ */

static void parse_env(tpg_fields *f, tpg_strv *out)
{
	const tpg_yaml_node *n = tpg_fields_take(f, "env");
	if (!n || tpg_yaml_is_null(n))
		return;
	if (n->type == TPG_YAML_MAP) {
		tpg_fields *sub = tpg_fields_sub(f, n, "env");
		const tpg_yaml_node *k;
		for (size_t i = 0; sub && (k = tpg_fields_key_at(sub, i)) != NULL; i++) {
			char *v = NULL;
			if (!k->value || !*k->value || strchr(k->value, '=')) {
				tpg_fields_error(sub, k, NULL, "'%s' is not a variable name",
				                 k->value ? k->value : "");
				tpg_fields_take(sub, k->value ? k->value : "");
				continue;
			}
			if (tpg_fields_str(sub, k->value, false, &v) >= 0)
				tpg_strv_push_owned(out, tpg_xasprintf("%s=%s", k->value, v ? v : ""));
			free(v);
		}
		if (sub)
			tpg_fields_end(sub);
		return;
	}
	if (n->type != TPG_YAML_SEQ) {
		tpg_fields_error(f, n, "env", "must be a mapping {NAME: value} or a list of NAME=value");
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		const tpg_yaml_node *item = n->items[i];
		char sub[32];
		snprintf(sub, sizeof(sub), "env[%zu]", i);
		tpg_tmpl t;
		if (item->type != TPG_YAML_SCALAR || !strchr(item->value, '=') || item->value[0] == '=') {
			tpg_fields_error(f, item, sub, "must be NAME=value");
			continue;
		}
		if (tpg_fields_expand(f, item, sub, false, &t) > 0)
			tpg_strv_push_owned(out, t.text);
	}
}

int tpg_dc_sandbox_parse(tpg_fields *f, tpg_dc_sandbox *o)
{
	static const char *const nets[] = { "none", "bridge", "default", NULL };
	int before = tpg_fields_errors(f);
	int net = -1;

	memset(o, 0, sizeof(*o));
	o->network = TPG_DC_NET_UNSET;
	if (tpg_fields_has(f, "args"))
		o->args_set = tpg_fields_strlist(f, "args", &o->args) > 0;
	if (tpg_fields_has(f, "entrypoint")) {
		o->entrypoint_set = tpg_fields_strlist(f, "entrypoint", &o->entrypoint) > 0;
		if (o->entrypoint.len == 1 && o->entrypoint.items[0][0] == '\0')
			tpg_strv_free(&o->entrypoint);   /* "": drop the image's entrypoint */
	}
	parse_env(f, &o->env);
	tpg_fields_str(f, "user", false, &o->user);
	tpg_fields_str(f, "workdir", false, &o->workdir);
	tpg_fields_bool(f, "tty", &o->tty);
	if (tpg_fields_enum(f, "network", nets, &net) > 0)
		o->network = net == 0 ? TPG_DC_NET_NONE : TPG_DC_NET_BRIDGE;
	const tpg_yaml_node *mem = tpg_fields_take(f, "memory");
	if (tpg_fields_size(f, "memory", &o->memory) > 0 && o->memory < (6LL << 20))
		tpg_fields_error(f, mem, "memory", "must be at least 6 MiB (Docker's minimum)");
	tpg_fields_int(f, "pids", 8, 100000, &o->pids);
	tpg_fields_number(f, "cpus", 0.01, 64, &o->cpus);
	tpg_fields_strlist(f, "cap-add", &o->cap_add);
	for (size_t i = 0; i < o->cap_add.len; i++) {
		/* Only what Docker grants every container by default: never more. */
		static const char *const allowed[] = {
			"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
			"SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
			"AUDIT_WRITE", NULL
		};
		const char *c = o->cap_add.items[i];
		if (!strncasecmp(c, "CAP_", 4))
			c += 4;
		bool ok = false;
		for (size_t k = 0; allowed[k] && !ok; k++)
			ok = !strcasecmp(c, allowed[k]);
		if (!ok)
			tpg_fields_error(f, NULL, "cap-add", "'%s' is not allowed: only capabilities Docker "
			                 "gives every container by default (NET_BIND_SERVICE, CHOWN, SETUID, "
			                 "SETGID, ...) can be given back", o->cap_add.items[i]);
	}
	const tpg_yaml_node *ol = tpg_fields_take(f, "output-limit");
	if (tpg_fields_size(f, "output-limit", &o->output_limit) > 0 &&
	    (o->output_limit < 1024 || o->output_limit > (64LL << 20)))
		tpg_fields_error(f, ol, "output-limit", "must be between 1 KB and 64 MB");
	return tpg_fields_errors(f) > before ? -1 : 0;
}

void tpg_dc_sandbox_apply(const tpg_dc_sandbox *sb, int network_default,
                          tpg_docker_container_spec *spec)
{
	int net = sb->network != TPG_DC_NET_UNSET ? sb->network : network_default;
	static const char *const no_args[] = { NULL };
	if (sb->args_set)
		spec->cmd = sb->args.len ? (const char *const *)sb->args.items : no_args;
	if (sb->entrypoint_set && sb->entrypoint.len)
		spec->entrypoint = (const char *const *)sb->entrypoint.items;
	else if (sb->entrypoint_set)
		spec->entrypoint_reset = true;
	if (sb->env.len)
		spec->env = (const char *const *)sb->env.items;
	spec->user = sb->user;
	spec->workdir = sb->workdir;
	spec->tty = sb->tty;
	spec->network = net == TPG_DC_NET_BRIDGE ? "bridge" : "none";
	spec->memory = sb->memory;
	spec->pids_limit = sb->pids;
	spec->nano_cpus = sb->cpus > 0 ? (long long)(sb->cpus * 1e9) : 0;
	if (sb->cap_add.len)
		spec->cap_add = (const char *const *)sb->cap_add.items;
}

void tpg_dc_sandbox_free(tpg_dc_sandbox *sb)
{
	tpg_strv_free(&sb->args);
	tpg_strv_free(&sb->entrypoint);
	tpg_strv_free(&sb->env);
	free(sb->user);
	free(sb->workdir);
	tpg_strv_free(&sb->cap_add);
	memset(sb, 0, sizeof(*sb));
}

/* ---- Ranges -------------------------------------------------------------- */

static bool parse_ll(const char *s, long long *v)
{
	char *end;
	if (!s || !*s)
		return false;
	long long x = strtoll(s, &end, 10);
	if (*end)
		return false;
	*v = x;
	return true;
}

int tpg_dc_range_parse(tpg_fields *f, const tpg_yaml_node *n, const char *key, long long lo,
                       long long hi, tpg_dc_range *r)
{
	memset(r, 0, sizeof(*r));
	r->max = -1;
	if (n->type == TPG_YAML_SCALAR) {
		long long v;
		if (!parse_ll(n->value, &v) || v < lo || v > hi) {
			tpg_fields_error(f, n, key, "must be a whole number between %lld and %lld, a list "
			                 "of them, or {min: N, max: N}", lo, hi);
			return -1;
		}
		r->min = r->max = v;
		return 0;
	}
	if (n->type == TPG_YAML_SEQ) {
		if (n->n == 0) {
			tpg_fields_error(f, n, key, "an empty list: give at least one value");
			return -1;
		}
		r->values = tpg_xcalloc(n->n, sizeof(*r->values));
		for (size_t i = 0; i < n->n; i++) {
			long long v;
			const tpg_yaml_node *it = n->items[i];
			if (it->type != TPG_YAML_SCALAR || !parse_ll(it->value, &v) || v < lo || v > hi) {
				char sub[64];
				snprintf(sub, sizeof(sub), "%s[%zu]", key, i);
				tpg_fields_error(f, it, sub, "must be a whole number between %lld and %lld",
				                 lo, hi);
				return -1;
			}
			r->values[r->nvalues++] = v;
		}
		return 0;
	}
	tpg_fields *sub = tpg_fields_sub(f, n, key);
	if (!sub)
		return -1;
	r->min = lo;
	tpg_fields_int(sub, "min", lo, hi, &r->min);
	tpg_fields_int(sub, "max", lo, hi, &r->max);
	if (r->max >= 0 && r->max < r->min)
		tpg_fields_error(sub, NULL, NULL, "max (%lld) is below min (%lld)", r->max, r->min);
	return tpg_fields_end(sub);
}

bool tpg_dc_range_holds(const tpg_dc_range *r, long long v)
{
	if (r->nvalues) {
		for (size_t i = 0; i < r->nvalues; i++)
			if (r->values[i] == v)
				return true;
		return false;
	}
	return v >= r->min && (r->max < 0 || v <= r->max);
}

void tpg_dc_range_describe(const tpg_dc_range *r, tpg_buf *out)
{
	if (r->nvalues == 1) {
		tpg_buf_printf(out, "%lld", r->values[0]);
	} else if (r->nvalues) {
		tpg_buf_puts(out, "one of ");
		for (size_t i = 0; i < r->nvalues; i++)
			tpg_buf_printf(out, "%s%lld", i ? ", " : "", r->values[i]);
	} else if (r->max >= 0 && r->min == r->max) {
		tpg_buf_printf(out, "%lld", r->min);
	} else if (r->max >= 0 && r->min > 0) {
		tpg_buf_printf(out, "between %lld and %lld", r->min, r->max);
	} else if (r->max >= 0) {
		tpg_buf_printf(out, "at most %lld", r->max);
	} else {
		tpg_buf_printf(out, "at least %lld", r->min);
	}
}

void tpg_dc_range_free(tpg_dc_range *r)
{
	free(r->values);
	memset(r, 0, sizeof(*r));
}

/* ---- Process conditions ---------------------------------------------------- */

typedef struct proc_leaf {
	bool has_code;
	tpg_dc_range code;
	tpg_textmatch *out, *err, *all;
} proc_leaf;

static void free_proc_leaf(void *p)
{
	proc_leaf *l = p;
	if (!l)
		return;
	tpg_dc_range_free(&l->code);
	tpg_textmatch_free(l->out);
	tpg_textmatch_free(l->err);
	tpg_textmatch_free(l->all);
	free(l);
}

static void *parse_proc_leaf(tpg_fields *f, void *ctx)
{
	tpg_dc_proc_ctx *pc = ctx;
	proc_leaf *l = tpg_xcalloc(1, sizeof(*l));
	const tpg_yaml_node *n;
	int given = 0, before = tpg_fields_errors(f);

	if ((n = tpg_fields_take(f, "exit-code")) != NULL) {
		given++;
		l->has_code = true;
		tpg_dc_range_parse(f, n, "exit-code", 0, 255, &l->code);
		if (pc)
			pc->saw_exit_code = true;
	}
	if ((n = tpg_fields_take(f, "stdout")) != NULL) {
		given++;
		tpg_textmatch_parse(f, n, "stdout", &l->out);
	}
	if ((n = tpg_fields_take(f, "stderr")) != NULL) {
		given++;
		tpg_textmatch_parse(f, n, "stderr", &l->err);
	}
	if ((n = tpg_fields_take(f, "output")) != NULL) {
		given++;
		tpg_textmatch_parse(f, n, "output", &l->all);
	}
	if (given == 0 || tpg_fields_errors(f) > before) {
		free_proc_leaf(l);
		return NULL;
	}
	return l;
}

/* Appends ": <the last line of stderr>" - usually the error that explains
 * an exit code ("/bin/sh: 1: [/usr/games/cowsay: not found"). */
static void last_line(const tpg_buf *err, tpg_buf *why)
{
	size_t end = err->len;
	while (end > 0 && (err->data[end - 1] == '\n' || err->data[end - 1] == '\r' ||
	                   err->data[end - 1] == ' '))
		end--;
	if (end == 0)
		return;
	size_t start = end;
	while (start > 0 && err->data[start - 1] != '\n')
		start--;
	tpg_buf_puts(why, ": ");
	tpg_quote_excerpt(why, err->data + start, end - start, 200);
}

static int eval_text(const tpg_textmatch *m, const tpg_buf *b, const char *name, tpg_buf *why)
{
	const char *text = tpg_buf_cstr(b);
	int rc = tpg_textmatch_eval(m, text, b->len, name, why);
	if (rc == 0 && b->truncated) {
		char sz[32];
		tpg_buf_printf(why, " (only its last %s were kept)",
		               tpg_format_size((long long)b->limit, sz, sizeof(sz)));
	}
	if (rc == 0 && b->len == 0)
		tpg_buf_printf(why, " (%s is empty)", name);
	return rc;
}

static int eval_proc_leaf(const void *p, void *subj, tpg_buf *why)
{
	const proc_leaf *l = p;
	tpg_dc_proc *s = subj;
	tpg_buf one = TPG_BUF_INIT;
	int rc = 1;

	if (l->has_code) {
		if (!s->exited) {
			tpg_buf_printf(&one, "%s did not exit", s->what);
			rc = 0;
		} else {
			bool ok = tpg_dc_range_holds(&l->code, s->exit_code);
			tpg_buf_printf(&one, "%s exited with code %d", s->what, s->exit_code);
			if (!ok) {
				tpg_buf_puts(&one, ", expected ");
				tpg_dc_range_describe(&l->code, &one);
				if (s->oom_killed)
					tpg_buf_puts(&one, " (killed: out of memory)");
				last_line(&s->err, &one);
				rc = 0;
			}
		}
	}
	const struct { const tpg_textmatch *m; const tpg_buf *b; const char *name; } texts[] = {
		{ l->out, &s->out, "stdout" }, { l->err, &s->err, "stderr" }, { l->all, &s->all, "the output" },
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(texts) && rc == 1; i++) {
		if (!texts[i].m)
			continue;
		tpg_buf t = TPG_BUF_INIT;
		rc = eval_text(texts[i].m, texts[i].b, texts[i].name, &t);
		if (rc == 1) {
			if (one.len)
				tpg_buf_puts(&one, "; ");
			tpg_buf_puts(&one, tpg_buf_cstr(&t));
		} else {
			tpg_buf_clear(&one);
			tpg_buf_puts(&one, tpg_buf_cstr(&t));
		}
		tpg_buf_free(&t);
	}
	tpg_buf_puts(why, tpg_buf_cstr(&one));
	tpg_buf_free(&one);
	return rc;
}

const tpg_pred_ops tpg_dc_proc_ops = {
	parse_proc_leaf, eval_proc_leaf, free_proc_leaf, "exit-code, stdout, stderr, output"
};

void tpg_dc_proc_init(tpg_dc_proc *p, const char *what, size_t limit)
{
	memset(p, 0, sizeof(*p));
	p->what = what;
	if (!limit)
		limit = TPG_DC_OUTPUT_DEFAULT;
	tpg_buf_init_capped(&p->out, limit, true);
	tpg_buf_init_capped(&p->err, limit, true);
	tpg_buf_init_capped(&p->all, limit, true);
}

void tpg_dc_proc_free(tpg_dc_proc *p)
{
	tpg_buf_free(&p->out);
	tpg_buf_free(&p->err);
	tpg_buf_free(&p->all);
}

void tpg_dc_proc_feed(void *ctx, int stream, const char *data, size_t len)
{
	tpg_dc_proc *p = ctx;
	tpg_buf_append(stream == 2 ? &p->err : &p->out, data, len);
	tpg_buf_append(&p->all, data, len);
}

void tpg_dc_proc_status(const tpg_dc_proc *p, tpg_buf *why)
{
	if (!p->exited)
		tpg_buf_puts(why, "still running");
	else
		tpg_buf_printf(why, "exit code %d", p->exit_code);
	if (p->oom_killed)
		tpg_buf_puts(why, ", killed: out of memory");
}

int tpg_dc_proc_grade(const tpg_pred *expect, const tpg_dc_proc_ctx *ctx, tpg_dc_proc *p,
                      const char *lang, tpg_buf *why)
{
	if (!(ctx && ctx->saw_exit_code)) {
		if (!p->exited || p->exit_code != 0) {
			if (!p->exited)
				tpg_buf_printf(why, "%s did not exit", p->what);
			else
				tpg_buf_printf(why, "%s exited with code %d, expected 0%s", p->what,
				               p->exit_code, p->oom_killed ? " (killed: out of memory)" : "");
			last_line(&p->err, why);
			return 0;
		}
	}
	if (!expect) {
		tpg_buf_printf(why, "%s exited with code %d", p->what, p->exit_code);
		return 1;
	}
	return tpg_pred_eval(expect, &tpg_dc_proc_ops, p, lang, why);
}

/* ---- Rendering -------------------------------------------------------------- */

char *tpg_dc_json(const json_t *j)
{
	if (!j || json_is_null(j))
		return tpg_xstrdup("");
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	char *out = tpg_xstrdup(s ? s : "");
	free(s);
	return out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *tpg_dc_lines(const json_t *j, bool values)
{
	tpg_strv items = TPG_STRV_INIT;
	if (json_is_object(j)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v) {
			if (values && json_is_string(v))
				tpg_strv_push_owned(&items, tpg_xasprintf("%s=%s", k, json_string_value(v)));
			else
				tpg_strv_push(&items, k);
		}
	} else if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v) {
			if (json_is_string(v))
				tpg_strv_push(&items, json_string_value(v));
		}
	}
	if (items.len)
		qsort(items.items, items.len, sizeof(char *), cmp_str);
	char *s = tpg_strv_join(&items, "\n");
	tpg_strv_free(&items);
	return s ? s : tpg_xstrdup("");
}

/* ---- HTTP -------------------------------------------------------------------- */

#define HTTP_READ_MAX (1u << 20)

typedef struct hx {
	tpg_buf *body;
	size_t read;
	long long deadline;
	bool canceled, too_big;
} hx;

static size_t http_body(char *data, size_t size, size_t nmemb, void *p)
{
	hx *x = p;
	size_t n = size * nmemb;
	x->read += n;
	if (x->read > HTTP_READ_MAX) {
		x->too_big = true;
		return 0;
	}
	if (x->body)
		tpg_buf_append(x->body, data, n);
	return n;
}

static int http_progress(void *p, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	hx *x = p;
	TPG_UNUSED(a);
	TPG_UNUSED(b);
	TPG_UNUSED(c);
	TPG_UNUSED(d);
	if (tpg_interrupted()) {
		x->canceled = true;
		return 1;
	}
	return 0;
}

int tpg_dc_http(const char *method, const char *url, long long deadline, long *status,
                tpg_buf *body, tpg_err *err)
{
	hx x = {body, 0, deadline, false, false};
	long long left = deadline - tpg_now_ms();
	*status = 0;
	if (strncmp(url, "http://", 7) != 0)
		return tpg_err_set(err, TPG_EINVAL, "%s: only http:// URLs are supported", url);
	if (left <= 0)
		return tpg_err_set(err, TPG_ETIMEOUT, "%s %s: no time left before the deadline", method, url);
	CURL *c = curl_easy_init();
	if (!c)
		return tpg_err_set(err, TPG_EGENERIC, "cannot create an HTTP client");
	char curl_err[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	/* The service is ours, on the daemon's host: never via a proxy. */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, left < 5000 ? left : 5000);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, http_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "tpgrade/" TPGRADE_VERSION);
	CURLcode cc = curl_easy_perform(c);
	int rc = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (cc == CURLE_OK) {
		rc = 0;
	} else if (x.canceled) {
		rc = tpg_err_set(err, TPG_ECANCELED, "%s %s: interrupted", method, url);
	} else if (x.too_big) {
		rc = 0;   /* we have the status and the start of the body: enough */
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = tpg_err_set(err, TPG_ETIMEOUT, "%s %s: no answer in time", method, url);
	} else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) {
		rc = tpg_err_set(err, TPG_EUNAVAIL, "%s %s: cannot connect (%s)", method, url,
		                 curl_err[0] ? curl_err : curl_easy_strerror(cc));
	} else {
		rc = tpg_err_set(err, TPG_EIO, "%s %s: %s", method, url,
		                 curl_err[0] ? curl_err : curl_easy_strerror(cc));
	}
	curl_easy_cleanup(c);
	return rc;
}

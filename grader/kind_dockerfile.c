/*
 * kind_dockerfile.c - `kind: dockerfile`: conditions on a parsed
 * Dockerfile (instructions of a stage, their form, arguments and flags,
 * base images, stages, order). See docs/spec.md, "dockerfile".
 *
 * Exec versus shell form is decided exactly as BuildKit does (only a valid
 * JSON array of strings is exec form); when a student's `["a" "b"]` is
 * silently taken as shell form, the message says what is wrong with the
 * JSON.
 */
#include "tpgrade/check.h"
#include "tpgrade/dockerfile.h"
#include "tpgrade/locate.h"
#include "tpgrade/pred.h"
#include "tpgrade/repo.h"
#include "tpgrade/textmatch.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_SIZE (1LL << 20)

/* ---- Configuration ------------------------------------------------------ */

typedef enum { S_FINAL, S_ANY, S_NAMED, S_INDEX } stage_sel;

typedef struct scope {
	stage_sel sel;
	char *name;          /* S_NAMED, lowercased */
	long index;          /* S_INDEX */
	bool set;
} scope;

typedef struct df_cfg {
	tpg_locate loc;
	long long max_size;
	tpg_strv build_args;  /* "NAME=VALUE" for FROM ${NAME} */
	scope stage;
	tpg_strv instruction; /* check-level default, lowercase */
	tpg_pred *where;
	tpg_pred *expect;
} df_cfg;

typedef enum {
	L_PRESENT, L_COUNT, L_FORM, L_COMMAND, L_ARGV0, L_ARGS, L_FLAG, L_HEALTHCHECK,
	L_BASE, L_STAGES, L_ORDER, L_MENTIONS
} leaf_type;

static const char *const leaf_keys[] = {
	"present", "count", "form", "command", "argv0", "args", "flag", "healthcheck",
	"base", "stages", "order", "mentions", NULL
};

typedef struct range {
	long long min, max;   /* max -1: none */
} range;

typedef struct order_step {
	char *instruction;       /* lowercase */
	tpg_textmatch *args;     /* on the original line's arguments, may be NULL */
} order_step;

typedef struct leaf {
	leaf_type type;
	scope stage;             /* item-level override (set) */
	tpg_strv instruction;    /* item-level override, lowercase */
	bool flag_bool;          /* present / form exec? / healthcheck cmd? / flag present */
	range count;
	tpg_textmatch *text;     /* command/argv0/args/base/mentions/flag value */
	char *flag_name;
	order_step *steps;
	size_t nsteps;
} leaf;

/* What the conditions are evaluated on: one parsed Dockerfile. */
typedef struct subject {
	const df_cfg *cfg;
	const char *path;        /* display form */
	tpg_dockerfile *df;
	tpg_df_stage *stages;
	size_t nstages;
	int line;                /* line of the instruction last looked at */
} subject;

static char *lower_dup(const char *s)
{
	char *d = tpg_xstrdup(s);
	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

static char *upper_dup(const char *s)
{
	char *d = tpg_xstrdup(s);
	for (char *p = d; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return d;
}

static int parse_scope(tpg_fields *f, scope *out)
{
	char *v = NULL;
	int rc = tpg_fields_str(f, "stage", false, &v);
	memset(out, 0, sizeof(*out));
	if (rc <= 0)
		return rc;
	out->set = true;
	if (!strcmp(v, "final") || !strcmp(v, "last")) {
		out->sel = S_FINAL;
	} else if (!strcmp(v, "any") || !strcmp(v, "all")) {
		out->sel = S_ANY;
	} else if (isdigit((unsigned char)v[0])) {
		char *end;
		out->sel = S_INDEX;
		out->index = strtol(v, &end, 10);
		if (*end) {
			tpg_fields_error(f, NULL, "stage", "'%s' is not a stage: write final, any, a stage "
			                 "name or a 0-based index", v);
			free(v);
			return -1;
		}
	} else {
		out->sel = S_NAMED;
		out->name = lower_dup(v);
	}
	free(v);
	return 1;
}

static void parse_instruction(tpg_fields *f, tpg_strv *out)
{
	tpg_strv raw = TPG_STRV_INIT;
	tpg_fields_strlist(f, "instruction", &raw);
	for (size_t i = 0; i < raw.len; i++)
		tpg_strv_push_owned(out, lower_dup(raw.items[i]));
	tpg_strv_free(&raw);
}

static int parse_range(tpg_fields *f, const tpg_yaml_node *n, const char *key, range *r)
{
	r->min = 0;
	r->max = -1;
	if (n->type == TPG_YAML_SCALAR) {
		char *end;
		long long v = strtoll(n->value, &end, 10);
		if (*end || v < 0) {
			tpg_fields_error(f, n, key, "must be a count or {min: N, max: N}");
			return -1;
		}
		r->min = r->max = v;
		return 0;
	}
	tpg_fields *sub = tpg_fields_sub(f, n, key);
	if (!sub)
		return -1;
	long long eq = -1;
	tpg_fields_int(sub, "min", 0, 1000000, &r->min);
	tpg_fields_int(sub, "max", 0, 1000000, &r->max);
	if (tpg_fields_int(sub, "equals", 0, 1000000, &eq) > 0)
		r->min = r->max = eq;
	return tpg_fields_end(sub);
}

static void free_leaf(void *p)
{
	leaf *l = p;
	if (!l)
		return;
	free(l->stage.name);
	tpg_strv_free(&l->instruction);
	tpg_textmatch_free(l->text);
	free(l->flag_name);
	for (size_t i = 0; i < l->nsteps; i++) {
		free(l->steps[i].instruction);
		tpg_textmatch_free(l->steps[i].args);
	}
	free(l->steps);
	free(l);
}

static int parse_order(tpg_fields *f, const tpg_yaml_node *n, leaf *l)
{
	if (n->type != TPG_YAML_SEQ || n->n < 2) {
		tpg_fields_error(f, n, "order", "must be a list of at least two steps, like "
		                 "[{instruction: COPY, args: requirements.txt}, {instruction: RUN}]");
		return -1;
	}
	l->steps = tpg_xcalloc(n->n, sizeof(*l->steps));
	for (size_t i = 0; i < n->n; i++) {
		char key[32];
		snprintf(key, sizeof(key), "order[%zu]", i);
		tpg_fields *sub = tpg_fields_sub(f, n->items[i], key);
		if (!sub)
			return -1;
		char *ins = NULL;
		tpg_fields_str(sub, "instruction", true, &ins);
		const tpg_yaml_node *args = tpg_fields_take(sub, "args");
		order_step *st = &l->steps[l->nsteps++];
		st->instruction = ins ? lower_dup(ins) : NULL;
		free(ins);
		if (args)
			tpg_textmatch_parse(sub, args, "args", &st->args);
		if (tpg_fields_end(sub) < 0)
			return -1;
	}
	return 0;
}

/* Conditions that look at one instruction need to know which. Checked once
 * the check-level default is known. */
static bool needs_instruction(leaf_type t)
{
	return t == L_PRESENT || t == L_COUNT || t == L_FORM || t == L_COMMAND || t == L_ARGV0 ||
	       t == L_ARGS || t == L_FLAG || t == L_HEALTHCHECK;
}

static void *parse_leaf(tpg_fields *f, void *ctx)
{
	const df_cfg *cfg = ctx;
	leaf *l = tpg_xcalloc(1, sizeof(*l));
	int given = 0;
	const tpg_yaml_node *n;

	parse_scope(f, &l->stage);
	parse_instruction(f, &l->instruction);
	for (int k = 0; leaf_keys[k]; k++) {
		if (!tpg_fields_has(f, leaf_keys[k]))
			continue;
		given++;
		l->type = (leaf_type)k;
		switch (l->type) {
		case L_PRESENT:
			tpg_fields_bool(f, "present", &l->flag_bool);
			break;
		case L_COUNT:
		case L_STAGES:
			n = tpg_fields_take(f, leaf_keys[k]);
			parse_range(f, n, leaf_keys[k], &l->count);
			break;
		case L_FORM: {
			static const char *const forms[] = { "exec", "shell", NULL };
			int form = 0;
			tpg_fields_enum(f, "form", forms, &form);
			l->flag_bool = form == 0;
			break;
		}
		case L_HEALTHCHECK: {
			static const char *const kinds[] = { "cmd", "none", NULL };
			int kind = 0;
			tpg_fields_enum(f, "healthcheck", kinds, &kind);
			l->flag_bool = kind == 0;
			break;
		}
		case L_FLAG: {
			tpg_fields *sub;
			if (tpg_fields_map(f, "flag", false, &sub) > 0) {
				char *name = NULL;
				l->flag_bool = true;
				tpg_fields_str(sub, "name", true, &name);
				if (name)
					l->flag_name = tpg_xstrdup(name + strspn(name, "-"));
				free(name);
				tpg_fields_bool(sub, "present", &l->flag_bool);
				const tpg_yaml_node *v = tpg_fields_take(sub, "value");
				if (v)
					tpg_textmatch_parse(sub, v, "value", &l->text);
				tpg_fields_end(sub);
			}
			break;
		}
		case L_ORDER:
			n = tpg_fields_take(f, "order");
			parse_order(f, n, l);
			break;
		default:
			n = tpg_fields_take(f, leaf_keys[k]);
			tpg_textmatch_parse(f, n, leaf_keys[k], &l->text);
			break;
		}
	}
	if (given > 1)
		tpg_fields_error(f, NULL, NULL, "one condition per item (present, count, form, command, "
		                 "argv0, args, flag, healthcheck, base, stages, order, mentions)");
	if (given == 1 && needs_instruction(l->type) && !l->instruction.len && !cfg->instruction.len)
		tpg_fields_error(f, NULL, NULL, "'%s' looks at an instruction: say which with "
		                 "instruction: (here or on the check)", leaf_keys[l->type]);
	if (given == 0 || tpg_fields_errors(f) > 0) {
		free_leaf(l);
		return NULL;
	}
	return l;
}

/* ---- Evaluation helpers ------------------------------------------------- */

static const char *upper_kw(const char *cmd, char *buf, size_t n)
{
	size_t i;
	for (i = 0; cmd[i] && i + 1 < n; i++)
		buf[i] = (char)toupper((unsigned char)cmd[i]);
	buf[i] = '\0';
	return buf;
}

/* The stage indexes a scope covers; returns how many (0: none, why set). */
static size_t scope_stages(const subject *s, const scope *sc, size_t *out, tpg_buf *why)
{
	switch (sc->sel) {
	case S_FINAL:
		out[0] = s->nstages - 1;
		return 1;
	case S_ANY:
		for (size_t i = 0; i < s->nstages; i++)
			out[i] = i;
		return s->nstages;
	case S_INDEX:
		if (sc->index < 0 || (size_t)sc->index >= s->nstages) {
			tpg_buf_printf(why, "%s has %zu stage%s, so no stage %ld", s->path, s->nstages,
			               s->nstages == 1 ? "" : "s", sc->index);
			return 0;
		}
		out[0] = (size_t)sc->index;
		return 1;
	case S_NAMED:
		for (size_t i = 0; i < s->nstages; i++) {
			if (s->stages[i].name && !strcmp(s->stages[i].name, sc->name)) {
				out[0] = i;
				return 1;
			}
		}
		tpg_buf_printf(why, "%s has no stage named '%s'", s->path, sc->name);
		return 0;
	}
	return 0;
}

/* "cowsay/Dockerfile", "the final stage of X", "stage 'build' of X". */
static void stage_label(const subject *s, size_t idx, tpg_buf *out)
{
	if (s->nstages == 1)
		tpg_buf_puts(out, s->path);
	else if (idx == s->nstages - 1)
		tpg_buf_printf(out, "the final stage of %s", s->path);
	else if (s->stages[idx].name)
		tpg_buf_printf(out, "stage '%s' of %s", s->stages[idx].name, s->path);
	else
		tpg_buf_printf(out, "stage %zu of %s", idx, s->path);
}

/* The same without the path, when the path was already said. */
static void stage_short(const subject *s, size_t idx, tpg_buf *out)
{
	if (idx == s->nstages - 1)
		tpg_buf_puts(out, "the final stage");
	else if (s->stages[idx].name)
		tpg_buf_printf(out, "stage '%s'", s->stages[idx].name);
	else
		tpg_buf_printf(out, "stage %zu", idx);
}

/* The command part of an instruction: HEALTHCHECK's after CMD. */
static void command_of(const tpg_df_instr *in, size_t *first, bool *is_json)
{
	*first = 0;
	*is_json = in->json;
	if (!strcmp(in->cmd, "healthcheck"))
		*first = 1;
}

static char *command_text(const tpg_df_instr *in)
{
	size_t first;
	bool json;
	command_of(in, &first, &json);
	tpg_strv part = TPG_STRV_INIT;
	for (size_t i = first; i < in->args.len; i++)
		tpg_strv_push(&part, in->args.items[i]);
	char *t = tpg_strv_join(&part, " ");
	tpg_strv_free(&part);
	return t;
}

static char *argv0_text(const tpg_df_instr *in)
{
	size_t first;
	bool json;
	command_of(in, &first, &json);
	if (first >= in->args.len)
		return tpg_xstrdup("");
	const char *a = in->args.items[first];
	if (json)
		return tpg_xstrdup(a);
	a += strspn(a, " \t");
	return tpg_xstrndup(a, strcspn(a, " \t\r\n"));
}

/* The instruction a single-instruction condition looks at in stage idx. */
static const tpg_df_instr *effective(const subject *s, size_t idx, const char *cmd)
{
	if (!strcmp(cmd, "cmd"))
		return tpg_dockerfile_effective_cmd(s->df, s->stages, s->nstages, idx);
	return tpg_dockerfile_effective(s->df, s->stages, s->nstages, idx, cmd);
}

static bool is_healthcheck_none(const tpg_df_instr *in)
{
	return !strcmp(in->cmd, "healthcheck") && in->args.len > 0 &&
	       !strcasecmp(in->args.items[0], "none");
}

static void show_instr(tpg_buf *why, const tpg_df_instr *in)
{
	char kw[32];
	tpg_buf_printf(why, "%s at line %d", upper_kw(in->cmd, kw, sizeof(kw)), in->start_line);
}

/* Explains shell form, and why a would-be JSON array is not one. */
static void explain_form(tpg_buf *why, const tpg_df_instr *in, bool want_exec)
{
	char kw[32];
	char *cmdtext = command_text(in);
	upper_kw(in->cmd, kw, sizeof(kw));
	show_instr(why, in);
	if (in->json) {
		tpg_buf_puts(why, " is in exec form (a JSON array)");
		if (!want_exec)
			tpg_buf_puts(why, "; shell form was expected");
	} else if (in->json_error) {
		tpg_buf_puts(why, " looks like an exec-form JSON array but is not valid JSON (");
		tpg_buf_puts(why, in->json_error);
		tpg_buf_puts(why, "), so Docker silently runs it in shell form: /bin/sh -c ");
		tpg_quote_excerpt(why, cmdtext, strlen(cmdtext), 120);
		tpg_buf_puts(why, ". JSON needs double quotes and commas: [\"a\", \"b\"]");
	} else {
		tpg_buf_puts(why, " is in shell form: Docker runs /bin/sh -c ");
		tpg_quote_excerpt(why, cmdtext, strlen(cmdtext), 120);
		if (want_exec)
			tpg_buf_printf(why, ", so arguments given to docker run are not passed to it and "
			               "signals do not reach it; write it as a JSON array: %s [\"...\", \"...\"]",
			               kw);
	}
	free(cmdtext);
}

static bool in_range(const range *r, long long v)
{
	return v >= r->min && (r->max < 0 || v <= r->max);
}

static void describe_range(tpg_buf *why, const range *r)
{
	if (r->max == r->min)
		tpg_buf_printf(why, "exactly %lld", r->min);
	else if (r->max < 0)
		tpg_buf_printf(why, "at least %lld", r->min);
	else if (r->min == 0)
		tpg_buf_printf(why, "at most %lld", r->max);
	else
		tpg_buf_printf(why, "between %lld and %lld", r->min, r->max);
}

static const char *flag_value(const tpg_df_instr *in, const char *name, bool *present)
{
	size_t nlen = strlen(name);
	*present = false;
	for (size_t i = 0; i < in->flags.len; i++) {
		const char *f = in->flags.items[i];
		f += strspn(f, "-");
		if (!strncmp(f, name, nlen) && (f[nlen] == '=' || f[nlen] == '\0')) {
			*present = true;
			return f[nlen] == '=' ? f + nlen + 1 : "";
		}
	}
	return NULL;
}

/* Where a missing instruction is instead, so students see why it does not
 * count: another stage, or under ONBUILD. */
static void explain_elsewhere(const subject *s, size_t idx, const char *cmd, tpg_buf *why)
{
	for (size_t i = 0; i < s->df->ninstrs; i++) {
		const tpg_df_instr *in = &s->df->instrs[i];
		bool in_stage = i >= s->stages[idx].first && i <= s->stages[idx].last;
		if (in->inner && !strcmp(in->inner->cmd, cmd)) {
			tpg_buf_printf(why, " (the one at line %d is under ONBUILD: it only runs in images "
			               "built FROM this one)", in->start_line);
			return;
		}
		if (!in_stage && !strcmp(in->cmd, cmd)) {
			for (size_t k = 0; k < s->nstages; k++) {
				if (i < s->stages[k].first || i > s->stages[k].last)
					continue;
				tpg_buf_printf(why, " (the one at line %d is in ", in->start_line);
				stage_short(s, k, why);
				tpg_buf_puts(why, ", which does not carry over to the final image)");
				return;
			}
		}
	}
}

/* Evaluates a single-instruction condition on one stage. */
static int eval_on_instr(const leaf *l, subject *s, size_t idx, const char *cmd, tpg_buf *why)
{
	const tpg_df_instr *in = effective(s, idx, cmd);
	char kw[32];
	upper_kw(cmd, kw, sizeof(kw));

	if (!in) {
		stage_label(s, idx, why);
		tpg_buf_printf(why, " has no %s", kw);
		if (!strcmp(cmd, "cmd") && effective(s, idx, "entrypoint"))
			tpg_buf_puts(why, " (an ENTRYPOINT in the stage clears the CMD inherited from its base)");
		else
			explain_elsewhere(s, idx, cmd, why);
		return l->type == L_PRESENT ? !l->flag_bool : 0;
	}
	s->line = in->start_line;
	switch (l->type) {
	case L_PRESENT:
		show_instr(why, in);
		if (is_healthcheck_none(in))
			tpg_buf_puts(why, " is HEALTHCHECK NONE, which disables health checks");
		else
			tpg_buf_puts(why, l->flag_bool ? " is there" : " is there but should not be");
		if (is_healthcheck_none(in))
			return !l->flag_bool;
		return l->flag_bool;
	case L_FORM:
		if (is_healthcheck_none(in)) {
			show_instr(why, in);
			tpg_buf_puts(why, " is HEALTHCHECK NONE: there is no command");
			return 0;
		}
		explain_form(why, in, l->flag_bool);
		return in->json == l->flag_bool;
	case L_HEALTHCHECK: {
		bool none = is_healthcheck_none(in);
		show_instr(why, in);
		tpg_buf_puts(why, none ? " is HEALTHCHECK NONE (health checks disabled)"
		                       : " runs a command");
		return none != l->flag_bool;
	}
	case L_COMMAND:
	case L_ARGV0:
	case L_ARGS: {
		char *text = l->type == L_COMMAND ? command_text(in)
		           : l->type == L_ARGV0 ? argv0_text(in) : tpg_strv_join(&in->args, " ");
		tpg_buf what = TPG_BUF_INIT;
		tpg_buf_printf(&what, "%s of %s at line %d",
		               l->type == L_COMMAND ? "the command" : l->type == L_ARGV0
		               ? "the program" : "the arguments", kw, in->start_line);
		int rc = tpg_textmatch_eval(l->text, text, strlen(text), tpg_buf_cstr(&what), why);
		tpg_buf_free(&what);
		free(text);
		return rc;
	}
	case L_FLAG: {
		bool present;
		const char *v = flag_value(in, l->flag_name, &present);
		if (!present || !l->flag_bool) {
			show_instr(why, in);
			tpg_buf_printf(why, present ? " has --%s" : " has no --%s", l->flag_name);
			return present == l->flag_bool;
		}
		if (!l->text) {
			show_instr(why, in);
			tpg_buf_printf(why, " has --%s", l->flag_name);
			return 1;
		}
		tpg_buf what = TPG_BUF_INIT;
		tpg_buf_printf(&what, "--%s of %s at line %d", l->flag_name, kw, in->start_line);
		int rc = tpg_textmatch_eval(l->text, v, strlen(v), tpg_buf_cstr(&what), why);
		tpg_buf_free(&what);
		return rc;
	}
	default:
		return 0;
	}
}

/* Instructions of a stage, as written in it (no inheritance, no ONBUILD). */
static size_t count_in_stage(const subject *s, size_t idx, const tpg_strv *cmds, int *first_line)
{
	size_t n = 0;
	for (size_t i = s->stages[idx].first; i <= s->stages[idx].last && i < s->df->ninstrs; i++) {
		const tpg_df_instr *in = &s->df->instrs[i];
		if (tpg_strv_contains(cmds, in->cmd)) {
			if (!n && first_line)
				*first_line = in->start_line;
			n++;
		}
	}
	return n;
}

static int eval_order(const leaf *l, subject *s, size_t idx, tpg_buf *why)
{
	size_t step = 0;
	int last_line = 0;
	for (size_t i = s->stages[idx].first; i <= s->stages[idx].last && step < l->nsteps; i++) {
		const tpg_df_instr *in = &s->df->instrs[i];
		const order_step *st = &l->steps[step];
		if (strcmp(in->cmd, st->instruction))
			continue;
		if (st->args) {
			char *args = tpg_strv_join(&in->args, " ");
			tpg_buf ignore = TPG_BUF_INIT;
			int m = tpg_textmatch_eval(st->args, args, strlen(args), "", &ignore);
			tpg_buf_free(&ignore);
			free(args);
			if (m != 1)
				continue;
		}
		last_line = in->start_line;
		step++;
	}
	if (step == l->nsteps) {
		s->line = last_line;
		tpg_buf_puts(why, "the instructions come in the expected order");
		return 1;
	}
	char kw[32];
	stage_label(s, idx, why);
	tpg_buf_printf(why, " has no %s", upper_kw(l->steps[step].instruction, kw, sizeof(kw)));
	if (l->steps[step].args)
		tpg_buf_puts(why, " with the expected arguments");
	if (step > 0)
		tpg_buf_printf(why, " after the %s at line %d", upper_kw(l->steps[step - 1].instruction,
		               kw, sizeof(kw)), last_line);
	return 0;
}

static int eval_leaf(const void *p, void *subj, tpg_buf *why)
{
	const leaf *l = p;
	subject *s = subj;
	const scope *sc = l->stage.set ? &l->stage : &s->cfg->stage;
	const tpg_strv *cmds = l->instruction.len ? &l->instruction : &s->cfg->instruction;
	size_t *idxs = tpg_xcalloc(s->nstages, sizeof(size_t));
	size_t n = scope_stages(s, sc, idxs, why);
	int rc = 0;

	if (l->type == L_STAGES) {
		tpg_buf_printf(why, "%s has %zu stage%s", s->path, s->nstages, s->nstages == 1 ? "" : "s");
		rc = in_range(&l->count, (long long)s->nstages);
		if (!rc) {
			tpg_buf_puts(why, " (expected ");
			describe_range(why, &l->count);
			tpg_buf_puts(why, ")");
		}
		free(idxs);
		return rc;
	}
	if (n == 0) {
		free(idxs);
		return 0;
	}

	if (l->type == L_COUNT) {
		size_t total = 0;
		int line = 0;
		for (size_t k = 0; k < n; k++)
			total += count_in_stage(s, idxs[k], cmds, line ? NULL : &line);
		if (line)
			s->line = line;
		char *names = tpg_strv_join(cmds, "/");
		char *up = upper_dup(names);
		if (sc->sel == S_ANY)
			tpg_buf_printf(why, "%s has %zu %s instruction%s", s->path, total, up,
			               total == 1 ? "" : "s");
		else {
			stage_label(s, idxs[0], why);
			tpg_buf_printf(why, " has %zu %s instruction%s", total, up, total == 1 ? "" : "s");
		}
		rc = in_range(&l->count, (long long)total);
		if (!rc) {
			tpg_buf_puts(why, " (expected ");
			describe_range(why, &l->count);
			tpg_buf_puts(why, ")");
		}
		free(up);
		free(names);
		free(idxs);
		return rc;
	}

	/* Conditions over stages: passes when one stage in scope passes; the
	 * explanation is that stage's, or the last one's. */
	for (size_t k = 0; k < n && rc != 1; k++) {
		size_t idx = idxs[k];
		tpg_buf one = TPG_BUF_INIT;
		int r = 0;
		if (l->type == L_BASE) {
			const tpg_df_stage *st = &s->stages[idx];
			const char *base = st->base_expanded ? st->base_expanded : st->base;
			tpg_buf what = TPG_BUF_INIT;
			tpg_buf_puts(&what, "the base image of ");
			stage_label(s, idx, &what);
			s->line = s->df->instrs[st->first].start_line;
			r = tpg_textmatch_eval(l->text, base, strlen(base), tpg_buf_cstr(&what), &one);
			tpg_buf_free(&what);
		} else if (l->type == L_ORDER) {
			r = eval_order(l, s, idx, &one);
		} else if (l->type == L_MENTIONS) {
			r = 0;
			for (size_t i = s->stages[idx].first; i <= s->stages[idx].last && r != 1; i++) {
				const tpg_df_instr *in = &s->df->instrs[i];
				if (cmds->len && !tpg_strv_contains(cmds, in->cmd))
					continue;
				tpg_buf w = TPG_BUF_INIT;
				char kw[32];
				tpg_buf_printf(&w, "%s at line %d", upper_kw(in->cmd, kw, sizeof(kw)), in->start_line);
				tpg_buf_clear(&one);
				r = tpg_textmatch_eval(l->text, in->original, strlen(in->original),
				                       tpg_buf_cstr(&w), &one);
				tpg_buf_free(&w);
				if (r == 1)
					s->line = in->start_line;
			}
			if (r != 1) {
				/* Say it about the instructions as a whole. */
				tpg_buf all = TPG_BUF_INIT, what = TPG_BUF_INIT;
				for (size_t i = s->stages[idx].first; i <= s->stages[idx].last; i++) {
					const tpg_df_instr *in = &s->df->instrs[i];
					if (!cmds->len || tpg_strv_contains(cmds, in->cmd))
						tpg_buf_printf(&all, "%s\n", in->original);
				}
				char *names = tpg_strv_join(cmds, "/");
				char *up = upper_dup(names);
				tpg_buf_printf(&what, "the %s%sinstructions of ", up, cmds->len ? " " : "");
				stage_label(s, idx, &what);
				tpg_buf_clear(&one);
				r = tpg_textmatch_eval(l->text, all.data ? all.data : "", all.len,
				                       tpg_buf_cstr(&what), &one);
				free(up);
				free(names);
				tpg_buf_free(&all);
				tpg_buf_free(&what);
			}
		} else {
			r = 0;
			for (size_t c = 0; c < cmds->len && r != 1; c++) {
				tpg_buf_clear(&one);
				r = eval_on_instr(l, s, idx, cmds->items[c], &one);
			}
		}
		tpg_buf_clear(why);
		tpg_buf_puts(why, tpg_buf_cstr(&one));
		tpg_buf_free(&one);
		rc = r;
		if (r < 0)
			break;
	}
	free(idxs);
	return rc;
}

static const tpg_pred_ops df_ops = {
	parse_leaf, eval_leaf, free_leaf,
	"present, count, form, command, argv0, args, flag, healthcheck, base, stages, order, mentions"
};

/* ---- Parsing the check ------------------------------------------------- */

static void free_cfg(void *p)
{
	df_cfg *c = p;
	if (!c)
		return;
	tpg_locate_free(&c->loc);
	tpg_strv_free(&c->build_args);
	free(c->stage.name);
	tpg_strv_free(&c->instruction);
	tpg_pred_free(c->where, &df_ops);
	tpg_pred_free(c->expect, &df_ops);
	free(c);
}

static int parse(tpg_fields *f, void **out)
{
	df_cfg *c = tpg_xcalloc(1, sizeof(*c));
	tpg_fields *ba;

	c->max_size = DEFAULT_MAX_SIZE;
	*out = c;
	tpg_locate_parse(f, false, &c->loc);
	tpg_fields_size(f, "max-size", &c->max_size);
	parse_scope(f, &c->stage);
	parse_instruction(f, &c->instruction);
	if (tpg_fields_map(f, "build-args", false, &ba) > 0) {
		/* Any key is a build arg name: read each one as a string. */
		const tpg_yaml_node *node;
		for (size_t i = 0; (node = tpg_fields_key_at(ba, i)) != NULL; i++) {
			char *v = NULL;
			if (tpg_fields_str(ba, node->value, false, &v) > 0)
				tpg_strv_push_owned(&c->build_args, tpg_xasprintf("%s=%s", node->value, v));
			free(v);
		}
		tpg_fields_end(ba);
	}
	tpg_pred_parse(f, "where", &df_ops, c, &c->where);
	tpg_pred_parse(f, "expect", &df_ops, c, &c->expect);
	if (!c->where && !c->expect && tpg_fields_errors(f) == 0)
		tpg_fields_error(f, NULL, NULL, "a dockerfile check needs 'expect' (what to grade) "
		                 "and/or 'where' (which Dockerfile to pick)");
	return tpg_fields_errors(f) ? -1 : 0;
}

/* ---- Running -------------------------------------------------------------- */

/* Loads and parses one candidate: 1 ok, 0 not a usable Dockerfile (why). */
static int load_subject(tpg_run *run, const df_cfg *c, const char *path, subject *s,
                        tpg_buf *why)
{
	tpg_buf data = TPG_BUF_INIT;
	tpg_err err = {0};
	int line = 0;

	memset(s, 0, sizeof(*s));
	s->cfg = c;
	s->path = path;
	int rc = tpg_repo_read(tpg_run_repo(run), path, (size_t)c->max_size, &data, &err);
	if (rc < 0) {
		if (rc == TPG_ENOTFOUND)
			tpg_buf_printf(why, "%s does not exist", path);
		else
			tpg_buf_puts(why, err.msg);
		tpg_buf_free(&data);
		return rc == TPG_ECANCELED ? rc : 0;
	}
	rc = tpg_dockerfile_parse(tpg_buf_cstr(&data), data.len, &s->df, &line, &err);
	tpg_buf_free(&data);
	if (rc < 0) {
		tpg_buf_printf(why, "%s does not parse as a Dockerfile: %s", path, err.msg);
		if (line > 0)
			tpg_buf_printf(why, " (line %d)", line);
		s->line = line;
		return 0;
	}
	if (tpg_dockerfile_stages(s->df, &c->build_args, &s->stages, &s->nstages, &err) < 0) {
		tpg_buf_printf(why, "%s is not a valid Dockerfile: %s", path, err.msg);
		return 0;
	}
	return 1;
}

static void subject_free(subject *s)
{
	tpg_df_stages_free(s->stages, s->nstages);
	tpg_dockerfile_free(s->df);
	memset(s, 0, sizeof(*s));
}

static void export_found(tpg_run *run, const char *path)
{
	char *dir = tpg_path_dirname(path);
	tpg_run_set_found(run, "file", path);
	tpg_run_set_found(run, "path", path);
	tpg_run_set_found(run, "dir", dir);
	free(dir);
}

static void run_check(const tpg_check *check, const void *cfgp, tpg_run *run, tpg_result *res)
{
	const df_cfg *c = cfgp;
	const char *lang = tpg_run_lang(run);
	tpg_strv cands = TPG_STRV_INIT;
	tpg_buf rejected = TPG_BUF_INIT;
	size_t nrejected = 0;
	bool decided = false;
	TPG_UNUSED(check);

	if (tpg_locate_list(run, &c->loc, &cands, res) < 0)
		return;
	for (size_t i = 0; i < cands.len && !decided; i++) {
		subject s;
		tpg_buf why = TPG_BUF_INIT;
		char *shown = tpg_repo_path_display(cands.items[i]);
		int ok = load_subject(run, c, shown, &s, &why);
		/* An unparsable file named by `path:` is graded (and fails); one
		 * met while searching is only passed over. */
		if (ok == 0 && c->loc.path.text) {
			tpg_result_file(res, cands.items[i], s.line);
			tpg_result_fail(res, "%s", tpg_buf_cstr(&why));
			decided = true;
		}
		if (ok > 0 && c->where) {
			tpg_buf_clear(&why);
			ok = tpg_pred_eval(c->where, &df_ops, &s, lang, &why);
		}
		if (ok == 0 && !decided && nrejected++ < TPG_LOCATE_MAX_REPORTED)
			tpg_buf_printf(&rejected, "\n  - %s", tpg_buf_cstr(&why));
		if (ok > 0) {
			tpg_buf_clear(&why);
			s.line = 0;
			ok = c->expect ? tpg_pred_eval(c->expect, &df_ops, &s, lang, &why) : 1;
			if (ok < 0) {
				tpg_result_error(res, "%s", tpg_buf_cstr(&why));
				decided = true;
			} else if (ok == 1 || c->where || !res->status_set) {
				export_found(run, cands.items[i]);
				tpg_result_file(res, cands.items[i], s.line);
				if (ok == 1)
					tpg_result_pass(res, "%s: %s", shown,
					                why.len ? tpg_buf_cstr(&why) : "matches");
				else
					tpg_result_fail(res, "%s", tpg_buf_cstr(&why));
				decided = ok == 1 || c->where;
			}
		} else if (ok < 0) {
			tpg_result_error(res, "%s", tpg_buf_cstr(&why));
			decided = true;
		}
		free(shown);
		tpg_buf_free(&why);
		subject_free(&s);
	}
	if (!res->status_set)
		tpg_locate_none(&c->loc, &cands, &rejected, nrejected, "Dockerfiles", lang, res);
	tpg_buf_free(&rejected);
	tpg_strv_free(&cands);
}

const tpg_check_kind tpg_kind_dockerfile = {
	.name = "dockerfile",
	.summary = "a Dockerfile's instructions, forms, arguments, flags, stages and order",
	.needs = 0,
	.default_timeout_ms = 10000,
	.parse = parse,
	.run = run_check,
	.free_cfg = free_cfg,
};

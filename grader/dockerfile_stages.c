/*
 * dockerfile_stages.c - build stages (split at FROM) and the instruction in
 * effect at the end of a stage, with BuildKit's rules from its instruction
 * layer and dockerfile2llb: ARGs before the first FROM are the only
 * variables FROM can use, build args override their defaults, stage names
 * are lowercased and matched case-insensitively against earlier stages, and
 * an ENTRYPOINT clears the CMD a stage inherits unless the stage sets one.
 */
#include "dockerfile_int.h"
#include "tpgrade/shellword.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#define HOST_VARIANT ""
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#define HOST_VARIANT ""
#elif defined(__arm__)
#define HOST_ARCH "arm"
#define HOST_VARIANT "v7"
#elif defined(__i386__)
#define HOST_ARCH "386"
#define HOST_VARIANT ""
#elif defined(__powerpc64__)
#define HOST_ARCH "ppc64le"
#define HOST_VARIANT ""
#elif defined(__s390x__)
#define HOST_ARCH "s390x"
#define HOST_VARIANT ""
#elif defined(__riscv)
#define HOST_ARCH "riscv64"
#define HOST_VARIANT ""
#else
#define HOST_ARCH "amd64"
#define HOST_VARIANT ""
#endif

void tpg_df_stages_free(tpg_df_stage *stages, size_t n)
{
	if (!stages)
		return;
	for (size_t i = 0; i < n; i++) {
		free(stages[i].name);
		free(stages[i].base);
		free(stages[i].base_expanded);
		free(stages[i].platform);
	}
	free(stages);
}

/* The value of NAME in a "K=V" list (last wins), or NULL. */
static const char *lookup(const tpg_strv *kv, const char *name)
{
	size_t nl = strlen(name);
	const char *found = NULL;

	if (!kv)
		return NULL;
	for (size_t i = 0; i < kv->len; i++) {
		const char *e = kv->items[i];
		if (strncmp(e, name, nl) == 0 && (e[nl] == '=' || e[nl] == '\0'))
			found = e[nl] == '=' ? e + nl + 1 : "";
	}
	return found;
}

static void set_arg(tpg_strv *env, const char *name, const char *value)
{
	tpg_strv_push_owned(env, tpg_xasprintf("%s=%s", name, value));
}

static void automatic_args(tpg_strv *env, const tpg_strv *build_args)
{
	static const char *const names[] = {
		"BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
		"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
	};
	const char *defaults[] = {
		"linux/" HOST_ARCH, "linux", HOST_ARCH, HOST_VARIANT,
		"linux/" HOST_ARCH, "linux", HOST_ARCH, HOST_VARIANT,
	};

	for (size_t i = 0; i < TPG_ARRAY_LEN(names); i++) {
		const char *v = lookup(build_args, names[i]);
		set_arg(env, names[i], v ? v : defaults[i]);
	}
}

static bool valid_stage_name(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return false;
	return true;
}

static bool equal_fold_as(const char *s)
{
	return (s[0] == 'a' || s[0] == 'A') && (s[1] == 's' || s[1] == 'S') && s[2] == '\0';
}

static int fail_at(tpg_err *err, const tpg_df_instr *in, const char *msg)
{
	return tpg_err_set(err, TPG_EPARSE, "line %d: %s", in->start_line, msg);
}

/* BuildKit's parseOnBuild checks, which fail the build (the low-level
 * parser accepts all of these). */
static int check_onbuild(const tpg_df_instr *in, tpg_err *err)
{
	char *up, *msg = NULL;
	int rc = 0;

	if (strcmp(in->cmd, "onbuild") != 0)
		return 0;
	if (!in->inner)
		return fail_at(err, in, "ONBUILD requires at least one argument");
	up = tpg_xstrdup(in->inner->keyword);
	for (char *c = up; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 32);
	if (!strcmp(up, "ONBUILD"))
		msg = tpg_xstrdup("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
	else if (!strcmp(up, "FROM") || !strcmp(up, "MAINTAINER"))
		msg = tpg_xasprintf("%s isn't allowed as an ONBUILD trigger", up);
	if (msg)
		rc = fail_at(err, in, msg);
	free(msg);
	free(up);
	return rc;
}

int tpg_dockerfile_stages(const tpg_dockerfile *df, const tpg_strv *build_args,
			  tpg_df_stage **out, size_t *nout, tpg_err *err)
{
	tpg_strv env = TPG_STRV_INIT;
	tpg_df_stage *st = NULL;
	size_t ns = 0, cap = 0, i = 0;
	int rc = 0;

	*out = NULL;
	*nout = 0;
	automatic_args(&env, build_args);

	/* Meta args: the ARGs before the first FROM. */
	for (; i < df->ninstrs && strcmp(df->instrs[i].cmd, "from") != 0; i++) {
		const tpg_df_instr *in = &df->instrs[i];
		if ((rc = check_onbuild(in, err)))
			goto fail;
		if (strcmp(in->cmd, "arg") != 0) {
			rc = fail_at(err, in, "no build stage in current context");
			goto fail;
		}
		for (size_t k = 0; k < in->args.len; k++) {
			const char *a = in->args.items[k];
			const char *eq = strchr(a, '=');
			char *name = eq ? tpg_xstrndup(a, (size_t)(eq - a)) : tpg_xstrdup(a);
			const char *ba = lookup(build_args, name);
			if (ba) {
				set_arg(&env, name, ba);
			} else if (eq) {
				char *v = NULL;
				tpg_err e2 = {0};
				if (tpg_shell_expand_word(eq + 1, df->escape, &env, &v, &e2) != 0) {
					rc = tpg_err_set(err, e2.code, "line %d: %s", in->start_line,
							 e2.msg);
					free(name);
					goto fail;
				}
				set_arg(&env, name, v);
				free(v);
			}
			free(name);
		}
	}
	if (i == df->ninstrs) {
		rc = tpg_err_set(err, TPG_EPARSE, "dockerfile contains no stages to build");
		goto fail;
	}

	for (; i < df->ninstrs; i++) {
		const tpg_df_instr *in = &df->instrs[i];
		tpg_df_stage s = {0};

		if ((rc = check_onbuild(in, err)))
			goto fail;
		if (strcmp(in->cmd, "from") != 0) {
			st[ns - 1].last = i;
			continue;
		}
		if (in->args.len == 3 && equal_fold_as(in->args.items[1])) {
			s.name = tpg_go_to_lower_str(in->args.items[2], strlen(in->args.items[2]));
			if (!valid_stage_name(s.name)) {
				tpg_buf q = TPG_BUF_INIT;
				tpg_go_quote(in->args.items[2], strlen(in->args.items[2]), &q);
				rc = tpg_err_set(err, TPG_EPARSE,
						 "line %d: invalid name for build stage: %s, name can't "
						 "start with a number or contain symbols",
						 in->start_line, tpg_buf_cstr(&q));
				tpg_buf_free(&q);
				free(s.name);
				goto fail;
			}
			for (size_t k = 0; k < ns; k++) {
				if (st[k].name && !strcmp(st[k].name, s.name)) {
					rc = tpg_err_set(err, TPG_EPARSE,
							 "line %d: duplicate stage name \"%s\"",
							 in->start_line, s.name);
					free(s.name);
					goto fail;
				}
			}
		} else if (in->args.len != 1) {
			rc = fail_at(err, in, "FROM requires either one or three arguments");
			goto fail;
		}
		s.index = ns;
		s.first = s.last = i;
		s.base = tpg_xstrdup(in->args.items[0]);
		for (size_t k = 0; k < in->flags.len; k++)
			if (!strncmp(in->flags.items[k], "--platform=", 11)) {
				free(s.platform);
				s.platform = tpg_xstrdup(in->flags.items[k] + 11);
			}
		if (tpg_shell_expand_word(s.base, df->escape, &env, &s.base_expanded, NULL) != 0)
			s.base_expanded = NULL;
		s.parent = -1;
		if (s.base_expanded) {
			char *lb = tpg_go_to_lower_str(s.base_expanded, strlen(s.base_expanded));
			for (size_t k = 0; k < ns; k++)
				if (st[k].name && !strcmp(st[k].name, lb))
					s.parent = (long)k;
			free(lb);
		}
		TPG_ARRAY_GROW(st, ns, cap);
		st[ns++] = s;
	}
	tpg_strv_free(&env);
	*out = st;
	*nout = ns;
	return 0;
fail:
	tpg_strv_free(&env);
	tpg_df_stages_free(st, ns);
	return rc ? rc : TPG_EPARSE;
}

static const tpg_df_instr *last_in_stage(const tpg_dockerfile *df, const tpg_df_stage *s,
					 const char *cmd)
{
	for (size_t i = s->last; i > s->first; i--)
		if (i < df->ninstrs && !strcmp(df->instrs[i].cmd, cmd))
			return &df->instrs[i];
	return NULL;
}

const tpg_df_instr *tpg_dockerfile_effective(const tpg_dockerfile *df, const tpg_df_stage *stages,
					     size_t nstages, size_t index, const char *cmd)
{
	/* parents are always earlier stages, so this terminates */
	while (index < nstages) {
		const tpg_df_instr *in = last_in_stage(df, &stages[index], cmd);
		if (in)
			return in;
		if (stages[index].parent < 0 || (size_t)stages[index].parent >= index)
			return NULL;
		index = (size_t)stages[index].parent;
	}
	return NULL;
}

const tpg_df_instr *tpg_dockerfile_effective_cmd(const tpg_dockerfile *df,
						 const tpg_df_stage *stages, size_t nstages,
						 size_t index)
{
	while (index < nstages) {
		const tpg_df_instr *in = last_in_stage(df, &stages[index], "cmd");
		if (in)
			return in;
		if (last_in_stage(df, &stages[index], "entrypoint"))
			return NULL;
		if (stages[index].parent < 0 || (size_t)stages[index].parent >= index)
			return NULL;
		index = (size_t)stages[index].parent;
	}
	return NULL;
}

/* test_dockerfile_stages.c - stages (split at FROM, names, base image
 * expansion with ARGs before the first FROM and build args, parents) and the
 * instruction in effect at the end of a stage, ENTRYPOINT resetting CMD. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tpgrade/dockerfile.h"

typedef struct fx {
	tpg_dockerfile *df;
	tpg_df_stage *st;
	size_t ns;
} fx;

static int load(fx *f, const char *text, const tpg_strv *args, tpg_err *err)
{
	memset(f, 0, sizeof(*f));
	int rc = tpg_dockerfile_parse(text, strlen(text), &f->df, NULL, err);
	if (rc)
		return rc;
	return tpg_dockerfile_stages(f->df, args, &f->st, &f->ns, err);
}

static void unload(fx *f)
{
	tpg_df_stages_free(f->st, f->ns);
	tpg_dockerfile_free(f->df);
}

static const char multi[] =
	"# syntax=docker/dockerfile:1\n"
	"ARG BASE=alpine\n"
	"ARG TAG=3.19\n"
	"ARG FULL=${BASE}:${TAG}\n"
	"FROM ${BASE}:${TAG} AS Build\n"          /* 5 */
	"RUN make\n"
	"CMD [\"build\"]\n"
	"USER builder\n"
	"ONBUILD USER nobody\n"
	"FROM build AS test\n"                    /* 10 */
	"ENTRYPOINT [\"/test\"]\n"
	"FROM --platform=$BUILDPLATFORM scratch\n"
	"COPY --from=build /out /\n"
	"FROM TEST\n"                             /* 14 */
	"WORKDIR /app\n"
	"FROM $FULL\n";

static void test_split(void **state)
{
	(void)state;
	fx f;
	tpg_err err = {0};

	assert_int_equal(load(&f, multi, NULL, &err), 0);
	assert_int_equal(f.ns, 5);
	assert_string_equal(f.df->syntax, "docker/dockerfile:1");

	assert_string_equal(f.st[0].name, "build");
	assert_string_equal(f.st[0].base, "${BASE}:${TAG}");
	assert_string_equal(f.st[0].base_expanded, "alpine:3.19");
	assert_int_equal(f.st[0].parent, -1);
	assert_int_equal(f.st[0].first, 3);
	assert_int_equal(f.st[0].last, 7);

	assert_string_equal(f.st[1].name, "test");
	assert_int_equal(f.st[1].parent, 0);
	assert_int_equal(f.st[1].first, 8);
	assert_int_equal(f.st[1].last, 9);

	assert_null(f.st[2].name);
	assert_string_equal(f.st[2].platform, "$BUILDPLATFORM");
	assert_string_equal(f.st[2].base_expanded, "scratch");
	assert_int_equal(f.st[2].parent, -1);

	/* names are matched case-insensitively, against earlier stages only */
	assert_int_equal(f.st[3].parent, 1);
	/* a meta ARG may use earlier ones */
	assert_string_equal(f.st[4].base_expanded, "alpine:3.19");
	assert_int_equal(f.st[4].index, 4);
	unload(&f);
}

static void test_build_args(void **state)
{
	(void)state;
	fx f;
	tpg_err err = {0};
	tpg_strv args = TPG_STRV_INIT;

	tpg_strv_push(&args, "BASE=debian");
	tpg_strv_push(&args, "UNDECLARED=x");
	tpg_strv_push(&args, "TARGETARCH=riscv64");
	assert_int_equal(load(&f, multi, &args, &err), 0);
	assert_string_equal(f.st[0].base_expanded, "debian:3.19");
	assert_string_equal(f.st[4].base_expanded, "debian:3.19");
	unload(&f);

	/* undeclared build args are not visible to FROM; platform args are */
	assert_int_equal(load(&f, "FROM img:${UNDECLARED}-${TARGETARCH}\n", &args, &err), 0);
	assert_string_equal(f.st[0].base_expanded, "img:-riscv64");
	unload(&f);

	/* a declared ARG without default, not given: empty */
	assert_int_equal(load(&f, "ARG V\nFROM ${V}\n", NULL, &err), 0);
	assert_string_equal(f.st[0].base_expanded, "");
	unload(&f);

	/* an expansion error leaves base_expanded NULL */
	assert_int_equal(load(&f, "FROM ${V:?unset}\n", NULL, &err), 0);
	assert_null(f.st[0].base_expanded);
	unload(&f);

	/* backtick escape applies to FROM expansion */
	assert_int_equal(load(&f, "# escape=`\nARG A=x\nFROM a`$A$A\n", NULL, &err), 0);
	assert_string_equal(f.st[0].base_expanded, "a$Ax");
	unload(&f);
	tpg_strv_free(&args);
}

static void test_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text, *msg;
	} c[] = {
		{"RUN x\nFROM a\n", "line 1: no build stage in current context"},
		{"ARG A\n", "dockerfile contains no stages to build"},
		{"FROM a b\n", "line 1: FROM requires either one or three arguments"},
		{"FROM a AS 1x\n",
		 "line 1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols"},
		{"FROM a AS x\nFROM b AS X\n", "line 2: duplicate stage name \"x\""},
		{"ARG A=${B:?no}\nFROM a\n", "line 1: failed to process \"${B:?no}\": B: no"},
		/* BuildKit's instruction layer rejects what its parser accepts */
		{"FROM a\nONBUILD ONBUILD RUN x\n",
		 "line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
		{"FROM a\nONBUILD from b\n", "line 2: FROM isn't allowed as an ONBUILD trigger"},
		{"FROM a\nONBUILD Maintainer me\n",
		 "line 2: MAINTAINER isn't allowed as an ONBUILD trigger"},
		{"FROM a\nONBUILD\n", "line 2: ONBUILD requires at least one argument"},
		{"ONBUILD ONBUILD RUN x\nFROM a\n",
		 "line 1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
	};
	for (size_t i = 0; i < TPG_ARRAY_LEN(c); i++) {
		fx f;
		tpg_err err = {0};
		assert_int_equal(load(&f, c[i].text, NULL, &err), TPG_EPARSE);
		assert_string_equal(err.msg, c[i].msg);
		assert_null(f.st);
		tpg_dockerfile_free(f.df);
	}
}

static void test_effective(void **state)
{
	(void)state;
	fx f;
	tpg_err err = {0};
	const tpg_df_instr *in;

	assert_int_equal(load(&f, multi, NULL, &err), 0);
	/* own USER, ONBUILD USER does not count */
	in = tpg_dockerfile_effective(f.df, f.st, f.ns, 0, "user");
	assert_non_null(in);
	assert_int_equal(in->start_line, 8);
	/* inherited through test -> build */
	in = tpg_dockerfile_effective(f.df, f.st, f.ns, 3, "user");
	assert_int_equal(in->start_line, 8);
	in = tpg_dockerfile_effective(f.df, f.st, f.ns, 3, "entrypoint");
	assert_int_equal(in->start_line, 11);
	/* raw inheritance sees build's CMD... */
	in = tpg_dockerfile_effective(f.df, f.st, f.ns, 3, "cmd");
	assert_int_equal(in->start_line, 7);
	/* ...but test's ENTRYPOINT reset it */
	assert_null(tpg_dockerfile_effective_cmd(f.df, f.st, f.ns, 1));
	assert_null(tpg_dockerfile_effective_cmd(f.df, f.st, f.ns, 3));
	in = tpg_dockerfile_effective_cmd(f.df, f.st, f.ns, 0);
	assert_int_equal(in->start_line, 7);
	/* an image base: nothing known */
	assert_null(tpg_dockerfile_effective(f.df, f.st, f.ns, 2, "user"));
	assert_null(tpg_dockerfile_effective(f.df, f.st, f.ns, 4, "workdir"));
	in = tpg_dockerfile_effective(f.df, f.st, f.ns, 3, "workdir");
	assert_int_equal(in->start_line, 15);
	/* out of range */
	assert_null(tpg_dockerfile_effective(f.df, f.st, f.ns, 99, "user"));
	unload(&f);

	/* CMD before or after ENTRYPOINT in the same stage is kept */
	assert_int_equal(load(&f, "FROM a\nCMD x\nENTRYPOINT y\n", NULL, &err), 0);
	assert_non_null(tpg_dockerfile_effective_cmd(f.df, f.st, f.ns, 0));
	unload(&f);
	assert_int_equal(load(&f, "FROM a AS p\nCMD x\nFROM p\nENTRYPOINT y\nCMD z\n", NULL, &err), 0);
	in = tpg_dockerfile_effective_cmd(f.df, f.st, f.ns, 1);
	assert_string_equal(in->args.items[0], "z");
	unload(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_build_args),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_effective),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* cli_spec.c - `tpgrade validate` and `tpgrade list`. */
#include "cli.h"
#include "tpgrade/spec.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int help_or_usage(int argc, char **argv, const char *text, bool *kinds)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "kinds", no_argument, NULL, 'k' },
		{ "var", required_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(text, stdout);
			return -1;
		}
		if (opt == 'k' && kinds) {
			*kinds = true;
			continue;
		}
		if (opt == 'V')
			continue;   /* read again by the caller */
		fputs(text, stderr);
		return TPG_EXIT_USAGE;
	}
	return 0;
}

/* --var values, collected in a second pass (getopt already checked them). */
static void collect_vars(int argc, char **argv, tpg_strv *vars)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--var") && i + 1 < argc)
			tpg_strv_push(vars, argv[++i]);
		else if (!strncmp(argv[i], "--var=", 6))
			tpg_strv_push(vars, argv[i] + 6);
	}
}

static const char validate_usage[] =
	"Usage: tpgrade validate [--var NAME=VALUE]... SPEC...\n"
	"       tpgrade validate --kinds\n"
	"\n"
	"Loads each spec and reports every problem (file:line:column, key path,\n"
	"message). Exit status 0 when all are valid, 2 otherwise. --kinds lists\n"
	"the check kinds.\n";

int tpg_cli_validate(int argc, char **argv, const char *argv0)
{
	bool kinds = false;
	int rc = help_or_usage(argc, argv, validate_usage, &kinds);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (kinds) {
		for (size_t i = 0; tpg_check_kinds[i]; i++)
			printf("%-12s %s%s\n", tpg_check_kinds[i]->name, tpg_check_kinds[i]->summary,
			       tpg_check_kinds[i]->needs & TPG_NEEDS_DOCKER ? " (Docker)" : "");
		return 0;
	}
	if (optind >= argc) {
		fputs(validate_usage, stderr);
		return TPG_EXIT_USAGE;
	}
	tpg_strv vars = TPG_STRV_INIT;
	collect_vars(argc, argv, &vars);
	int status = 0;
	for (int i = optind; i < argc; i++) {
		tpg_err err = {0};
		tpg_diags diags = TPG_DIAGS_INIT;
		tpg_spec *spec = NULL;
		char *path = tpg_spec_resolve(argv[i], argv0, &err);
		if (!path) {
			fprintf(stderr, "tpgrade: %s\n", err.msg);
			status = TPG_EXIT_USAGE;
			continue;
		}
		tpg_spec_opts so = { &vars, true };
		if (tpg_spec_load(path, &so, &spec, &diags) < 0) {
			tpg_diags_sort(&diags);
			tpg_diags_print(&diags, stdout);
			printf("%s: %zu problem%s\n", path, diags.len, diags.len == 1 ? "" : "s");
			status = TPG_EXIT_USAGE;
		} else {
			double max = 0, bonus = 0;
			for (size_t k = 0; k < spec->nchecks; k++) {
				if (spec->checks[k].bonus)
					bonus += spec->checks[k].points;
				else
					max += spec->checks[k].points;
			}
			printf("%s: OK: %s, %zu checks in %zu suites, %g points", path, spec->tp,
			       spec->nchecks, spec->nsuites, max);
			if (bonus > 0)
				printf(" (+%g bonus)", bonus);
			printf("\n");
		}
		tpg_spec_free(spec);
		tpg_diags_free(&diags);
		free(path);
	}
	tpg_strv_free(&vars);
	return status;
}

static const char list_usage[] =
	"Usage: tpgrade list [--var NAME=VALUE]... SPEC\n"
	"\n"
	"Lists the checks of SPEC by suite: id, kind, points, tags, prerequisites.\n";

int tpg_cli_list(int argc, char **argv, const char *argv0)
{
	int rc = help_or_usage(argc, argv, list_usage, NULL);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (optind != argc - 1) {
		fputs(list_usage, stderr);
		return TPG_EXIT_USAGE;
	}
	tpg_err err = {0};
	tpg_diags diags = TPG_DIAGS_INIT;
	tpg_spec *spec = NULL;
	tpg_strv vars = TPG_STRV_INIT;
	collect_vars(argc, argv, &vars);
	char *path = tpg_spec_resolve(argv[optind], argv0, &err);
	if (!path) {
		fprintf(stderr, "tpgrade: %s\n", err.msg);
		tpg_strv_free(&vars);
		return TPG_EXIT_USAGE;
	}
	tpg_spec_opts so = { &vars, true };
	if (tpg_spec_load(path, &so, &spec, &diags) < 0) {
		tpg_diags_sort(&diags);
		tpg_diags_print(&diags, stderr);
		tpg_diags_free(&diags);
		tpg_strv_free(&vars);
		free(path);
		return TPG_EXIT_USAGE;
	}
	printf("%s - %s\n", spec->tp, spec->title);
	double max = 0, bonus = 0;
	for (size_t s = 0; s < spec->nsuites; s++) {
		const tpg_suite *su = &spec->suites[s];
		printf("\n%s: %s\n", su->id, su->title);
		for (size_t k = su->first; k < su->first + su->count; k++) {
			const tpg_check *c = &spec->checks[k];
			char *tags = tpg_strv_join(&c->tags, ",");
			tpg_strv deps = TPG_STRV_INIT;
			for (size_t i = 0; i < c->needs.len; i++)
				tpg_strv_push(&deps, c->needs.items[i]);
			for (size_t i = 0; i < c->uses.len; i++)
				if (!tpg_strv_contains(&deps, c->uses.items[i]))
					tpg_strv_push_owned(&deps, tpg_xasprintf("%s (uses)", c->uses.items[i]));
			char *needs = tpg_strv_join(&deps, ", ");
			printf("  %-26s %-10s %4g%s  %s\n", c->id, c->kind->name, c->points,
			       c->bonus ? " bonus" : "      ", c->title);
			printf("  %-26s tags: %s%s%s\n", "", tags, deps.len ? "; needs: " : "", needs);
			if (c->bonus)
				bonus += c->points;
			else
				max += c->points;
			free(tags);
			free(needs);
			tpg_strv_free(&deps);
		}
	}
	printf("\nTotal: %g points", max);
	if (bonus > 0)
		printf(" (+%g bonus)", bonus);
	printf("\n");
	tpg_spec_free(spec);
	tpg_diags_free(&diags);
	tpg_strv_free(&vars);
	free(path);
	return 0;
}

/* main.c - `tpgrade COMMAND ...`: dispatch to the cli_*.c commands. */
#include "cli.h"
#include "tpgrade/common.h"
#include "tpgrade/git.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>

static const char usage[] =
	"Usage: tpgrade COMMAND [OPTIONS] ...\n"
	"\n"
	"Grades Docker course exercises (TP) from a YAML spec.\n"
	"\n"
	"Commands:\n"
	"  grade SPEC [REPO]        grade a repository (folder, git repository or URL)\n"
	"  check [SPEC]             check your own work, in your repository\n"
	"  class SPEC ROSTER        grade a whole class (CSV/YAML roster) into a grade book\n"
	"  merge DIR...             combine the outputs of sharded class runs\n"
	"  validate SPEC...         report every problem in specs\n"
	"  list SPEC                the checks of a spec: points, tags, dependencies\n"
	"  dump-dockerfile FILE     print a Dockerfile's parse as BuildKit's tests do\n"
	"  cleanup                  remove Docker objects left by interrupted runs\n"
	"\n"
	"  tpgrade COMMAND --help   options of a command\n"
	"  tpgrade --version\n"
	"\n"
	"Exit status: 0 all checks passed, 1 a check failed, 2 usage or spec error,\n"
	"3 the environment failed (report still written). See tpgrade(1).\n";

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **, const char *);
	} commands[] = {
		{ "grade", tpg_cli_grade },
		{ "check", tpg_cli_check },
		{ "class", tpg_cli_class },
		{ "merge", tpg_cli_merge },
		{ "validate", tpg_cli_validate },
		{ "list", tpg_cli_list },
		{ "dump-dockerfile", tpg_cli_dump_dockerfile },
		{ "cleanup", tpg_cli_cleanup },
	};

	setlocale(LC_CTYPE, "");
	if (argc < 2) {
		fputs(usage, stderr);
		return TPG_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("tpgrade %s\n", TPGRADE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < TPG_ARRAY_LEN(commands); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			tpg_signals_install();
			curl_global_init(CURL_GLOBAL_DEFAULT);
			/* Once per process (git.h): later inits are then cheap, where
			 * each would otherwise load the CA bundle again. */
			tpg_git_global_init(NULL);
			int rc = commands[i].fn(argc - 1, argv + 1, argv[0]);
			tpg_git_global_shutdown();
			curl_global_cleanup();
			return rc;
		}
	}
	fprintf(stderr, "tpgrade: unknown command '%s'\n\n%s", argv[1], usage);
	return TPG_EXIT_USAGE;
}

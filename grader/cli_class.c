/* cli_class.c - `tpgrade class` and `tpgrade merge` (issue 6). */
#include "cli.h"

int tpg_cli_class(int argc, char **argv, const char *argv0)
{
	TPG_UNUSED(argc);
	TPG_UNUSED(argv);
	TPG_UNUSED(argv0);
	fprintf(stderr, "tpgrade class: not available yet in this build\n");
	return TPG_EXIT_USAGE;
}

int tpg_cli_merge(int argc, char **argv, const char *argv0)
{
	TPG_UNUSED(argc);
	TPG_UNUSED(argv);
	TPG_UNUSED(argv0);
	fprintf(stderr, "tpgrade merge: not available yet in this build\n");
	return TPG_EXIT_USAGE;
}

/* kinds.c - the one table of check kinds. Add a kind: write
 * grader/kind_<name>.c defining tpg_kind_<name>, declare it here, list it. */
#include "tpgrade/check.h"

#include <string.h>

extern const tpg_check_kind tpg_kind_file;
extern const tpg_check_kind tpg_kind_dockerfile;
extern const tpg_check_kind tpg_kind_build;
extern const tpg_check_kind tpg_kind_run;
extern const tpg_check_kind tpg_kind_service;
extern const tpg_check_kind tpg_kind_image;
extern const tpg_check_kind tpg_kind_container;
extern const tpg_check_kind tpg_kind_registry;

const tpg_check_kind *const tpg_check_kinds[] = {
	&tpg_kind_file,
	&tpg_kind_dockerfile,
	&tpg_kind_build,
	&tpg_kind_run,
	&tpg_kind_service,
	&tpg_kind_image,
	&tpg_kind_container,
	&tpg_kind_registry,
	NULL
};

const tpg_check_kind *tpg_check_kind_find(const char *name)
{
	for (size_t i = 0; tpg_check_kinds[i]; i++)
		if (strcmp(tpg_check_kinds[i]->name, name) == 0)
			return tpg_check_kinds[i];
	return NULL;
}

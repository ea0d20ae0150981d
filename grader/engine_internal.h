/*
 * engine_internal.h - the run state shared by engine.c and
 * engine_docker.c. Not a public header.
 */
#ifndef TPGRADE_ENGINE_INTERNAL_H
#define TPGRADE_ENGINE_INTERNAL_H

#include "tpgrade/check.h"
#include "tpgrade/engine.h"

typedef struct run_object {
	char *key;
	void *ptr;
	void (*destroy)(void *ptr, tpg_run *run);
} run_object;

struct tpg_run {
	const tpg_spec *spec;
	const tpg_engine_opts *opts;
	tpg_repo *repo;
	const char *lang;
	char id[13];
	bool *selected;
	const char **why_not;
	tpg_result *results;
	double *seconds;
	tpg_vars found;             /* "found.<id>.<key>" -> value */
	const tpg_check *current;
	long long deadline;
	run_object *objects;
	size_t nobjects, capobjects;
	/* Docker: connected on first use; a failed connection is remembered. */
	tpg_docker *docker;
	bool docker_tried;
	tpg_err docker_err;
	char *cleanup_note;         /* set when cleanup was incomplete */
};

/* Removes every Docker object carrying this run's label and closes the
 * client (no-op when Docker was never used). */
void tpg_engine_docker_finish(tpg_run *run);

#endif

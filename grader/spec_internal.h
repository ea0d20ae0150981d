/*
 * spec_internal.h - what the spec loader shares with the field accessor.
 * Not a public header: only spec.c and fields.c include it.
 */
#ifndef TPGRADE_SPEC_INTERNAL_H
#define TPGRADE_SPEC_INTERNAL_H

#include "tpgrade/check.h"
#include "tpgrade/diag.h"

typedef struct tpg_fields_ctx {
	tpg_diags *diags;
	const char *file;
	tpg_var_lookup_fn lookup;
	void *lookup_ctx;
	tpg_strv *uses;      /* check ids referenced through ${found.<id>.<key>} */
} tpg_fields_ctx;

/* A root accessor for `map` (which may be any node: non-mappings are
 * reported). Returns NULL when it is not a mapping. */
tpg_fields *tpg_fields_new(tpg_fields_ctx *ctx, const tpg_yaml_node *map, const char *path);
/* Resolves the check id of a `found.<id>.<key>` variable name: the longest
 * prefix of ids known to `has_id` (ids contain dots). */
char *tpg_found_ref_id(const char *name, bool (*has_id)(void *ctx, const char *id), void *ctx);

#endif

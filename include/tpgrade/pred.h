/*
 * pred.h - lists of conditions with any/all/not and custom messages,
 * shared by the kinds that grade a located thing (a file, a Dockerfile).
 *
 *   expect:
 *     - content: {matches: '/health'}             # a leaf: the kind's keys
 *     - any: [ {content: wget}, {content: {matches: 'curl .*(-f|--fail)'}} ]
 *       message: {fr: "...", en: "..."}           # replaces the explanation
 *     - not: {content: {matches: 'curl(?!.*--fail)'}}
 *
 * A list means "all of these". A kind supplies the leaf parser and
 * evaluator; every evaluation writes one sentence about what it saw, used
 * as the explanation on failure (and under `not`, on success).
 */
#ifndef TPGRADE_PRED_H
#define TPGRADE_PRED_H

#include "tpgrade/check.h"

typedef struct tpg_pred tpg_pred;

typedef struct tpg_pred_ops {
	/* Parses the leaf keys of `f` (a mapping item). Returns a leaf (owned by
	 * the predicate), or NULL: after reporting, or silently when the item
	 * has none of the kind's keys (the caller then reports that). */
	void *(*parse_leaf)(tpg_fields *f, void *ctx);
	/* 1 holds, 0 does not, <0 could not be evaluated (an environment
	 * error: the check becomes an `error`). Writes one sentence to `why`. */
	int (*eval_leaf)(const void *leaf, void *subject, tpg_buf *why);
	void (*free_leaf)(void *leaf);
	const char *leaf_keys;   /* for messages: "content, sibling, max-size, type" */
} tpg_pred_ops;

/* Parses `key` of f: a list of items, or one item. 1/0/-1 as tpg_fields_*. */
/* `ctx` is handed to parse_leaf (the kind's check-level settings). */
int tpg_pred_parse(tpg_fields *f, const char *key, const tpg_pred_ops *ops, void *ctx,
                   tpg_pred **out);
/* Evaluates; `why` gets the explanation (the custom message in `lang`
 * when the failing item has one). Same return values as eval_leaf. */
int tpg_pred_eval(const tpg_pred *p, const tpg_pred_ops *ops, void *subject, const char *lang,
                  tpg_buf *why);
void tpg_pred_free(tpg_pred *p, const tpg_pred_ops *ops);

#endif

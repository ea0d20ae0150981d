/*
 * yaml.h - a YAML document as a tree with source positions, built from
 * libyaml's event stream. Specs are trusted but often wrong, so every node
 * knows its line and column.
 *
 * Aliases are resolved by sharing the anchored node (the tree is a DAG); the
 * size the tree would have once every alias is unfolded is capped, so a
 * "billion laughs" document is refused instead of being walked. The merge
 * key `<<` (YAML 1.1) is honoured in mappings.
 */
#ifndef TPGRADE_YAML_H
#define TPGRADE_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "tpgrade/diag.h"

typedef enum tpg_yaml_type {
	TPG_YAML_SCALAR,
	TPG_YAML_SEQ,
	TPG_YAML_MAP
} tpg_yaml_type;

typedef struct tpg_yaml_node tpg_yaml_node;
struct tpg_yaml_node {
	tpg_yaml_type type;
	int line, col;            /* 1-based position of the node's start */
	char *value;              /* scalar text (NUL-terminated), NULL otherwise */
	size_t len;               /* scalar length (may contain NULs) */
	bool plain;               /* scalar written without quotes (so `null`, `true`, `5` mean types) */
	char *tag;                /* explicit tag (e.g. "!regex"), NULL when none */
	tpg_yaml_node **items;    /* SEQ: `n` items; MAP: `n` pairs as items[2i]=key, items[2i+1]=value */
	size_t n;
	size_t unfolded;          /* nodes it stands for once aliases are unfolded (itself included) */
};

typedef struct tpg_yaml_limits {
	size_t max_bytes;         /* input size cap (default 4 MiB) */
	size_t max_nodes;         /* unfolded node count cap (default 200000) */
	size_t max_depth;         /* nesting cap (default 100) */
} tpg_yaml_limits;

typedef struct tpg_yaml_doc tpg_yaml_doc;

/*
 * Parses `data` (the file `name`, used in diagnostics). On success *out is
 * a document freed with tpg_yaml_free; its root is never NULL (an empty
 * document gives a null plain scalar). Only the first document is read; a
 * second one is an error.
 * On failure diagnostics are added and TPG_EPARSE is returned.
 * `limits` may be NULL for the defaults.
 */
int tpg_yaml_parse(const char *name, const char *data, size_t len,
                   const tpg_yaml_limits *limits, tpg_yaml_doc **out, tpg_diags *diags);
const tpg_yaml_node *tpg_yaml_root(const tpg_yaml_doc *doc);
void tpg_yaml_free(tpg_yaml_doc *doc);

/* The value of `key` in a MAP node, NULL when absent or not a map. */
const tpg_yaml_node *tpg_yaml_get(const tpg_yaml_node *map, const char *key);
/* True for a plain scalar spelling null ("", "~", "null", "Null", "NULL"). */
bool tpg_yaml_is_null(const tpg_yaml_node *node);
/* "a mapping", "a list", "a string"... for messages. */
const char *tpg_yaml_type_name(const tpg_yaml_node *node);

#endif

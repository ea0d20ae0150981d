/* yaml.c - libyaml events to a positioned tree, with alias and size caps. */
#include "tpgrade/yaml.h"
#include "tpgrade/buf.h"
#include "tpgrade/common.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct tpg_yaml_doc {
	char *name;
	tpg_yaml_node *root;
	tpg_yaml_node **all;     /* every node allocated, for freeing (the tree is a DAG) */
	size_t nall, capall;
};

typedef struct anchor {
	char *name;
	tpg_yaml_node *node;
} anchor;

typedef struct frame {
	tpg_yaml_node *node;
	size_t cap;              /* capacity of node->items */
	size_t size;             /* unfolded size so far (saturating) */
} frame;

typedef struct builder {
	tpg_yaml_doc *doc;
	const tpg_yaml_limits *lim;
	tpg_diags *diags;
	frame *stack;
	size_t depth, stack_cap;
	anchor *anchors;
	size_t nanchors, cap_anchors;
	size_t total;            /* unfolded nodes so far */
	bool failed;
} builder;

static const tpg_yaml_limits default_limits = { 4u << 20, 200000, 100 };

static void diag_at(builder *b, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void diag_at(builder *b, int line, int col, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = tpg_xvasprintf(fmt, ap);
	va_end(ap);
	tpg_diags_add(b->diags, b->doc->name, line, col, "", "%s", msg);
	free(msg);
	b->failed = true;
}

static size_t sat_add(size_t a, size_t x, size_t cap)
{
	return (a > cap || x > cap - a) ? cap + 1 : a + x;
}

/* Counts `more` nodes toward the unfolded size of the document: each node
 * written once when it is created, and an alias for every node it repeats.
 * Returns false (after reporting) past the cap. */
static bool count_nodes(builder *b, size_t more, int line, int col)
{
	size_t cap = b->lim->max_nodes;

	b->total = sat_add(b->total, more, cap);
	if (b->total > cap) {
		if (!b->failed)
			diag_at(b, line, col, "the document expands to more than %zu nodes "
			        "(aliases repeated too often?): refused", cap);
		return false;
	}
	return true;
}

static tpg_yaml_node *new_node(builder *b, tpg_yaml_type type, const yaml_mark_t *mark,
                               const yaml_char_t *tag)
{
	tpg_yaml_doc *doc = b->doc;
	tpg_yaml_node *n = tpg_xcalloc(1, sizeof(*n));

	n->type = type;
	n->line = (int)mark->line + 1;
	n->col = (int)mark->column + 1;
	if (tag)
		n->tag = tpg_xstrdup((const char *)tag);
	if (doc->nall >= doc->capall) {
		doc->capall = doc->capall ? doc->capall * 2 : 64;
		doc->all = tpg_xreallocarray(doc->all, doc->capall, sizeof(*doc->all));
	}
	n->unfolded = 1;
	count_nodes(b, 1, n->line, n->col);
	doc->all[doc->nall++] = n;
	return n;
}


/* Attaches a finished node (size `sz` unfolded) to the open container, or
 * makes it the root. */
static void attach(builder *b, tpg_yaml_node *n, size_t sz)
{
	size_t cap = b->lim->max_nodes;

	if (b->depth == 0) {
		if (!b->doc->root)
			b->doc->root = n;
		return;
	}
	frame *f = &b->stack[b->depth - 1];
	if (f->node->n >= f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->node->items = tpg_xreallocarray(f->node->items, f->cap, sizeof(*f->node->items));
	}
	f->node->items[f->node->n++] = n;
	f->size = sat_add(f->size, sz, cap);
}

static void add_anchor(builder *b, const yaml_char_t *name, tpg_yaml_node *n)
{
	if (!name)
		return;
	/* A redefined anchor replaces the old one for later aliases (YAML rule). */
	TPG_ARRAY_GROW(b->anchors, b->nanchors, b->cap_anchors);
	b->anchors[b->nanchors].name = tpg_xstrdup((const char *)name);
	b->anchors[b->nanchors].node = n;
	b->nanchors++;
}

static tpg_yaml_node *find_anchor(builder *b, const char *name)
{
	for (size_t i = b->nanchors; i-- > 0;)
		if (strcmp(b->anchors[i].name, name) == 0)
			return b->anchors[i].node;
	return NULL;
}

static bool is_open(builder *b, const tpg_yaml_node *n)
{
	for (size_t i = 0; i < b->depth; i++)
		if (b->stack[i].node == n)
			return true;
	return false;
}

static void push(builder *b, tpg_yaml_node *n, const yaml_mark_t *mark)
{
	if (b->depth >= b->lim->max_depth) {
		if (!b->failed)
			diag_at(b, (int)mark->line + 1, (int)mark->column + 1,
			        "nesting deeper than %zu levels: refused", b->lim->max_depth);
	}
	if (b->depth >= b->stack_cap) {
		b->stack_cap = b->stack_cap ? b->stack_cap * 2 : 16;
		b->stack = tpg_xreallocarray(b->stack, b->stack_cap, sizeof(*b->stack));
	}
	b->stack[b->depth].node = n;
	b->stack[b->depth].cap = 0;
	b->stack[b->depth].size = 1;
	b->depth++;
}

static bool key_is(const tpg_yaml_node *k, const char *s)
{
	return k->type == TPG_YAML_SCALAR && strcmp(k->value, s) == 0;
}

static bool map_has_key(const tpg_yaml_node *m, size_t upto, const char *key)
{
	for (size_t i = 0; i + 1 < upto; i += 2)
		if (m->items[i]->type == TPG_YAML_SCALAR && strcmp(m->items[i]->value, key) == 0)
			return true;
	return false;
}

/* Applies `<<` merge keys and reports duplicate or non-scalar keys. */
static void finish_map(builder *b, tpg_yaml_node *m)
{
	tpg_yaml_node **out = tpg_xcalloc(m->n ? m->n : 1, sizeof(*out));
	size_t nout = 0, capout = m->n ? m->n : 1;

	/* Explicit keys first: they win over merged ones. */
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		tpg_yaml_node *k = m->items[i];
		if (k->type != TPG_YAML_SCALAR) {
			diag_at(b, k->line, k->col, "a mapping key must be a plain string, not %s",
			        tpg_yaml_type_name(k));
			continue;
		}
		if (k->plain && key_is(k, "<<"))
			continue;
		if (map_has_key(&(tpg_yaml_node){ .items = out, .n = nout }, nout, k->value)) {
			diag_at(b, k->line, k->col, "duplicate key '%s' in this mapping", k->value);
			continue;
		}
		if (nout + 2 > capout) {
			capout *= 2;
			out = tpg_xreallocarray(out, capout, sizeof(*out));
		}
		out[nout++] = k;
		out[nout++] = m->items[i + 1];
	}
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		tpg_yaml_node *k = m->items[i], *v = m->items[i + 1];
		if (k->type != TPG_YAML_SCALAR || !k->plain || !key_is(k, "<<"))
			continue;
		size_t nsrc = v->type == TPG_YAML_SEQ ? v->n : 1;
		for (size_t s = 0; s < nsrc; s++) {
			tpg_yaml_node *src = v->type == TPG_YAML_SEQ ? v->items[s] : v;
			if (src->type != TPG_YAML_MAP) {
				diag_at(b, src->line, src->col,
				        "the merge key '<<' takes a mapping or a list of mappings");
				continue;
			}
			/* src is finished already: its n counts pairs. */
			for (size_t j = 0; j < src->n; j++) {
				if (map_has_key(&(tpg_yaml_node){ .items = out, .n = nout }, nout,
				                src->items[2 * j]->value))
					continue;
				if (nout + 2 > capout) {
					capout *= 2;
					out = tpg_xreallocarray(out, capout, sizeof(*out));
				}
				out[nout++] = src->items[2 * j];
				out[nout++] = src->items[2 * j + 1];
			}
		}
	}
	free(m->items);
	m->items = out;
	m->n = nout / 2;
}

static void pop(builder *b)
{
	frame f = b->stack[--b->depth];
	tpg_yaml_node *n = f.node;

	if (n->type == TPG_YAML_MAP) {
		finish_map(b, n);  /* turns items into pairs; n becomes pair count */
	}
	n->unfolded = f.size;
	attach(b, n, f.size);
}

static void on_scalar(builder *b, const yaml_event_t *ev)
{
	tpg_yaml_node *n = new_node(b, TPG_YAML_SCALAR, &ev->start_mark, ev->data.scalar.tag);
	n->len = ev->data.scalar.length;
	n->value = tpg_xmalloc(n->len + 1);
	memcpy(n->value, ev->data.scalar.value, n->len);
	n->value[n->len] = '\0';
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	add_anchor(b, ev->data.scalar.anchor, n);
	attach(b, n, 1);
}

static void on_alias(builder *b, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
	tpg_yaml_node *ref = find_anchor(b, name);

	if (!ref) {
		diag_at(b, line, col, "alias '*%s' refers to no anchor '&%s' defined before it", name, name);
		return;
	}
	if (is_open(b, ref)) {
		diag_at(b, line, col, "alias '*%s' refers to a node that contains it (recursive)", name);
		return;
	}
	if (count_nodes(b, ref->unfolded, line, col))
		attach(b, ref, ref->unfolded);
}

static void problem(builder *b, yaml_parser_t *p)
{
	const char *what = p->problem ? p->problem : "malformed YAML";
	const yaml_mark_t *m = &p->problem_mark;

	if (p->error == YAML_READER_ERROR)
		diag_at(b, 0, 0, "not valid YAML text: %s (at byte %zu)", what, p->problem_offset);
	else if (p->context)
		diag_at(b, (int)m->line + 1, (int)m->column + 1, "YAML syntax error: %s %s", what,
		        p->context);
	else
		diag_at(b, (int)m->line + 1, (int)m->column + 1, "YAML syntax error: %s", what);
}

int tpg_yaml_parse(const char *name, const char *data, size_t len,
                   const tpg_yaml_limits *limits, tpg_yaml_doc **out, tpg_diags *diags)
{
	yaml_parser_t parser;
	builder b;
	bool done = false;
	int docs = 0;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	b.lim = limits ? limits : &default_limits;
	b.diags = diags;
	b.doc = tpg_xcalloc(1, sizeof(*b.doc));
	b.doc->name = tpg_xstrdup(name);

	if (len > b.lim->max_bytes) {
		diag_at(&b, 0, 0, "the file is %zu bytes, over the %zu-byte limit for a spec", len,
		        b.lim->max_bytes);
		tpg_yaml_free(b.doc);
		return TPG_EPARSE;
	}
	if (memchr(data, '\0', len)) {
		diag_at(&b, 0, 0, "not a YAML text file (it contains NUL bytes)");
		tpg_yaml_free(b.doc);
		return TPG_EPARSE;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done && !b.failed) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			problem(&b, &parser);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				diag_at(&b, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
				        "a spec is one YAML document; remove this second one ('---')");
			break;
		case YAML_SCALAR_EVENT:
			on_scalar(&b, &ev);
			break;
		case YAML_ALIAS_EVENT:
			on_alias(&b, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT: {
			tpg_yaml_node *n = new_node(&b, TPG_YAML_SEQ, &ev.start_mark,
			                            ev.data.sequence_start.tag);
			add_anchor(&b, ev.data.sequence_start.anchor, n);
			push(&b, n, &ev.start_mark);
			break;
		}
		case YAML_MAPPING_START_EVENT: {
			tpg_yaml_node *n = new_node(&b, TPG_YAML_MAP, &ev.start_mark,
			                            ev.data.mapping_start.tag);
			add_anchor(&b, ev.data.mapping_start.anchor, n);
			push(&b, n, &ev.start_mark);
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (b.depth > 0)
				pop(&b);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);

	for (size_t i = 0; i < b.nanchors; i++)
		free(b.anchors[i].name);
	free(b.anchors);
	free(b.stack);
	if (b.failed) {
		tpg_yaml_free(b.doc);
		return TPG_EPARSE;
	}
	if (!b.doc->root) {
		/* An empty document: a null root, tracked for freeing like any node. */
		tpg_yaml_doc *doc = b.doc;
		tpg_yaml_node *n = tpg_xcalloc(1, sizeof(*n));
		n->type = TPG_YAML_SCALAR;
		n->line = n->col = 1;
		n->value = tpg_xstrdup("");
		n->plain = true;
		TPG_ARRAY_GROW(doc->all, doc->nall, doc->capall);
		doc->all[doc->nall++] = n;
		doc->root = n;
	}
	*out = b.doc;
	return 0;
}

const tpg_yaml_node *tpg_yaml_root(const tpg_yaml_doc *doc)
{
	return doc->root;
}


void tpg_yaml_free(tpg_yaml_doc *doc)
{
	if (!doc)
		return;
	for (size_t i = 0; i < doc->nall; i++) {
		free(doc->all[i]->value);
		free(doc->all[i]->tag);
		free(doc->all[i]->items);
		free(doc->all[i]);
	}
	free(doc->all);
	free(doc->name);
	free(doc);
}

const tpg_yaml_node *tpg_yaml_get(const tpg_yaml_node *map, const char *key)
{
	if (!map || map->type != TPG_YAML_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->items[2 * i]->value, key) == 0)
			return map->items[2 * i + 1];
	return NULL;
}

bool tpg_yaml_is_null(const tpg_yaml_node *node)
{
	if (!node || node->type != TPG_YAML_SCALAR || !node->plain)
		return false;
	const char *v = node->value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

const char *tpg_yaml_type_name(const tpg_yaml_node *node)
{
	if (!node)
		return "nothing";
	switch (node->type) {
	case TPG_YAML_MAP: return "a mapping";
	case TPG_YAML_SEQ: return "a list";
	default:
		return tpg_yaml_is_null(node) ? "null" : "a string";
	}
}

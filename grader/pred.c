/* pred.c - any/all/not over a kind's leaf conditions. */
#include "tpgrade/pred.h"

#include <stdlib.h>
#include <string.h>

typedef enum { P_LEAF, P_ALL, P_ANY, P_NOT } ptype;

struct tpg_pred {
	ptype type;
	void *leaf;
	tpg_pred **kids;
	size_t n;
	tpg_l10n message;
};

static tpg_pred *parse_item(tpg_fields *f, const tpg_yaml_node *node, const char *suffix,
                            const tpg_pred_ops *ops, void *ctx);

static tpg_pred *parse_list(tpg_fields *f, const tpg_yaml_node *node, const char *suffix,
                            const tpg_pred_ops *ops, void *ctx, ptype type)
{
	tpg_pred *p = tpg_xcalloc(1, sizeof(*p));
	bool bad = false;

	p->type = type;
	if (node->type != TPG_YAML_SEQ) {
		tpg_pred *one = parse_item(f, node, suffix, ops, ctx);
		if (!one) {
			free(p);
			return NULL;
		}
		p->kids = tpg_xcalloc(1, sizeof(*p->kids));
		p->kids[p->n++] = one;
		return p;
	}
	if (node->n == 0) {
		tpg_fields_error(f, node, suffix, "an empty list: give at least one condition");
		free(p);
		return NULL;
	}
	p->kids = tpg_xcalloc(node->n, sizeof(*p->kids));
	for (size_t i = 0; i < node->n; i++) {
		char *sub = tpg_xasprintf("%s[%zu]", suffix, i);
		tpg_pred *k = parse_item(f, node->items[i], sub, ops, ctx);
		free(sub);
		if (!k)
			bad = true;
		else
			p->kids[p->n++] = k;
	}
	if (bad) {
		tpg_pred_free(p, ops);
		return NULL;
	}
	return p;
}

static tpg_pred *parse_item(tpg_fields *f, const tpg_yaml_node *node, const char *suffix,
                            const tpg_pred_ops *ops, void *ctx)
{
	tpg_fields *sub = tpg_fields_sub(f, node, suffix);
	tpg_pred *p = NULL;

	if (!sub)
		return NULL;
	const tpg_yaml_node *any = tpg_fields_take(sub, "any");
	const tpg_yaml_node *all = tpg_fields_take(sub, "all");
	const tpg_yaml_node *not = tpg_fields_take(sub, "not");
	int combos = (any != NULL) + (all != NULL) + (not != NULL);
	tpg_l10n msg;
	tpg_fields_l10n(sub, "message", &msg);

	if (combos > 1) {
		tpg_fields_error(sub, NULL, NULL, "use one of any, all, not per item");
	} else if (any) {
		p = parse_list(sub, any, "any", ops, ctx, P_ANY);
	} else if (all) {
		p = parse_list(sub, all, "all", ops, ctx, P_ALL);
	} else if (not) {
		tpg_pred *inner = parse_item(sub, not, "not", ops, ctx);
		if (inner) {
			p = tpg_xcalloc(1, sizeof(*p));
			p->type = P_NOT;
			p->kids = tpg_xcalloc(1, sizeof(*p->kids));
			p->kids[p->n++] = inner;
		}
	} else {
		int before = tpg_fields_errors(sub);
		void *leaf = ops->parse_leaf(sub, ctx);
		if (leaf) {
			p = tpg_xcalloc(1, sizeof(*p));
			p->type = P_LEAF;
			p->leaf = leaf;
		} else if (tpg_fields_errors(sub) == before) {
			tpg_fields_error(sub, NULL, NULL, "a condition needs one of: %s, any, all, not",
			                 ops->leaf_keys);
		}
	}
	if (tpg_fields_end(sub) < 0 && p) {
		tpg_pred_free(p, ops);
		p = NULL;
	}
	if (p)
		p->message = msg;
	else
		tpg_l10n_free(&msg);
	return p;
}

int tpg_pred_parse(tpg_fields *f, const char *key, const tpg_pred_ops *ops, void *ctx,
                   tpg_pred **out)
{
	const tpg_yaml_node *node = tpg_fields_take(f, key);
	*out = NULL;
	if (!node || tpg_yaml_is_null(node))
		return 0;
	*out = parse_list(f, node, key, ops, ctx, P_ALL);
	return *out ? 1 : -1;
}

int tpg_pred_eval(const tpg_pred *p, const tpg_pred_ops *ops, void *subject, const char *lang,
                  tpg_buf *why)
{
	tpg_buf local = TPG_BUF_INIT;
	int rc = 1;

	switch (p->type) {
	case P_LEAF:
		rc = ops->eval_leaf(p->leaf, subject, &local);
		break;
	case P_ALL: {
		/* On failure: why the failing one failed; on success: all of it. */
		tpg_buf held = TPG_BUF_INIT;
		for (size_t i = 0; i < p->n && rc == 1; i++) {
			tpg_buf_clear(&local);
			rc = tpg_pred_eval(p->kids[i], ops, subject, lang, &local);
			if (rc == 1 && local.len)
				tpg_buf_printf(&held, "%s%s", held.len ? "; " : "", tpg_buf_cstr(&local));
		}
		if (rc == 1) {
			tpg_buf_clear(&local);
			tpg_buf_puts(&local, tpg_buf_cstr(&held));
		}
		tpg_buf_free(&held);
		break;
	}
	case P_ANY: {
		tpg_buf all_why = TPG_BUF_INIT;
		rc = 0;
		for (size_t i = 0; i < p->n; i++) {
			tpg_buf one = TPG_BUF_INIT;
			int r = tpg_pred_eval(p->kids[i], ops, subject, lang, &one);
			if (r == 1) {
				tpg_buf_clear(&local);
				tpg_buf_puts(&local, tpg_buf_cstr(&one));
				tpg_buf_free(&one);
				rc = 1;
				break;
			}
			if (r < 0 && rc == 0)
				rc = r;
			if (all_why.len)
				tpg_buf_puts(&all_why, "; ");
			tpg_buf_puts(&all_why, tpg_buf_cstr(&one));
			tpg_buf_free(&one);
		}
		if (rc != 1) {
			tpg_buf_clear(&local);
			tpg_buf_printf(&local, "none of the alternatives holds: %s", tpg_buf_cstr(&all_why));
		}
		tpg_buf_free(&all_why);
		break;
	}
	case P_NOT:
		rc = tpg_pred_eval(p->kids[0], ops, subject, lang, &local);
		if (rc >= 0)
			rc = !rc;
		break;
	}
	const char *custom = tpg_l10n_pick(&p->message, lang);
	if (rc == 0 && custom) {
		/* The author's message first, what we saw after it. */
		tpg_buf_puts(why, custom);
		if (local.len) {
			tpg_buf_puts(why, " (");
			tpg_buf_puts(why, tpg_buf_cstr(&local));
			tpg_buf_puts(why, ")");
		}
	} else {
		tpg_buf_puts(why, tpg_buf_cstr(&local));
	}
	tpg_buf_free(&local);
	return rc;
}

void tpg_pred_free(tpg_pred *p, const tpg_pred_ops *ops)
{
	if (!p)
		return;
	if (p->leaf)
		ops->free_leaf(p->leaf);
	for (size_t i = 0; i < p->n; i++)
		tpg_pred_free(p->kids[i], ops);
	free(p->kids);
	tpg_l10n_free(&p->message);
	free(p);
}

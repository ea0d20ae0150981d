/* diag.c - collected spec diagnostics. */
#include "tpgrade/diag.h"
#include "tpgrade/common.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void tpg_diags_add(tpg_diags *d, const char *file, int line, int col,
                   const char *path, const char *fmt, ...)
{
	va_list ap;

	TPG_ARRAY_GROW(d->items, d->len, d->cap);
	tpg_diag *g = &d->items[d->len++];
	g->file = tpg_xstrdup(file ? file : "");
	g->line = line;
	g->col = col;
	g->path = tpg_xstrdup(path ? path : "");
	va_start(ap, fmt);
	g->msg = tpg_xvasprintf(fmt, ap);
	va_end(ap);
}

void tpg_diags_print(const tpg_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->len; i++) {
		const tpg_diag *g = &d->items[i];
		if (g->line > 0)
			fprintf(out, "%s:%d:%d: error: ", g->file, g->line, g->col);
		else
			fprintf(out, "%s: error: ", g->file);
		if (g->path[0])
			fprintf(out, "%s: ", g->path);
		fprintf(out, "%s\n", g->msg);
	}
}

static int cmp_diag(const void *a, const void *b)
{
	const tpg_diag *x = a, *y = b;
	int c = strcmp(x->file, y->file);
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

void tpg_diags_sort(tpg_diags *d)
{
	/* qsort is not stable: `seq` keeps same-place diagnostics in order. */
	for (size_t i = 0; i < d->len; i++)
		d->items[i].seq = i;
	if (d->len > 1)
		qsort(d->items, d->len, sizeof(d->items[0]), cmp_diag);
}

void tpg_diags_free(tpg_diags *d)
{
	for (size_t i = 0; i < d->len; i++) {
		free(d->items[i].file);
		free(d->items[i].path);
		free(d->items[i].msg);
	}
	free(d->items);
	memset(d, 0, sizeof(*d));
}

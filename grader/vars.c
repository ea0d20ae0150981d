/* vars.c - variable tables and ${NAME} expansion. */
#include "tpgrade/vars.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define EXPAND_MAX (1u << 20)

void tpg_vars_set(tpg_vars *vars, const char *name, const char *value)
{
	for (size_t i = 0; i < vars->names.len; i++) {
		if (strcmp(vars->names.items[i], name) == 0) {
			free(vars->values.items[i]);
			vars->values.items[i] = tpg_xstrdup(value);
			return;
		}
	}
	tpg_strv_push(&vars->names, name);
	tpg_strv_push(&vars->values, value);
}

const char *tpg_vars_get(const tpg_vars *vars, const char *name)
{
	for (size_t i = 0; i < vars->names.len; i++)
		if (strcmp(vars->names.items[i], name) == 0)
			return vars->values.items[i];
	return NULL;
}

void tpg_vars_free(tpg_vars *vars)
{
	tpg_strv_free(&vars->names);
	tpg_strv_free(&vars->values);
}

bool tpg_var_name_valid(const char *name, size_t len)
{
	if (len == 0 || isdigit((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

int tpg_vars_expand(const char *text, tpg_var_lookup_fn lookup, void *ctx,
                    const char *defer_prefix, char **out, tpg_strv *deferred, tpg_err *err)
{
	tpg_buf b = TPG_BUF_INIT;
	const char *p = text;
	size_t plen = defer_prefix ? strlen(defer_prefix) : 0;

	*out = NULL;
	tpg_buf_append(&b, "", 0);
	while (*p) {
		const char *dollar = strchr(p, '$');
		if (!dollar) {
			tpg_buf_puts(&b, p);
			break;
		}
		tpg_buf_append(&b, p, (size_t)(dollar - p));
		if (dollar[1] == '$') {
			tpg_buf_puts(&b, defer_prefix ? "$$" : "$");
			p = dollar + 2;
			continue;
		}
		if (dollar[1] != '{') {
			tpg_buf_putc(&b, '$');
			p = dollar + 1;
			continue;
		}
		const char *name = dollar + 2;
		const char *close = strchr(name, '}');
		if (!close) {
			tpg_buf_free(&b);
			return tpg_err_set(err, TPG_EINVAL, "'${' without a closing '}' in \"%s\"", text);
		}
		const char *colon = memchr(name, ':', (size_t)(close - name));
		size_t nlen = (size_t)((colon ? colon : close) - name);
		if (!tpg_var_name_valid(name, nlen)) {
			int rc = tpg_err_set(err, TPG_EINVAL, "invalid variable name '%.*s' in \"%s\"",
			                     (int)nlen, name, text);
			tpg_buf_free(&b);
			return rc;
		}
		if (colon && colon[1] != '-') {
			int rc = tpg_err_set(err, TPG_EINVAL,
			                     "'${%.*s}': only ${NAME:-default} is supported after ':'",
			                     (int)(close - name), name);
			tpg_buf_free(&b);
			return rc;
		}
		char *vname = tpg_xstrndup(name, nlen);
		if (defer_prefix && strncmp(vname, defer_prefix, plen) == 0) {
			tpg_buf_append(&b, dollar, (size_t)(close + 1 - dollar));
			if (deferred && !tpg_strv_contains(deferred, vname))
				tpg_strv_push(deferred, vname);
			free(vname);
			p = close + 1;
			continue;
		}
		const char *val = lookup ? lookup(ctx, vname) : NULL;
		if (colon && (!val || !*val)) {
			tpg_buf_append(&b, colon + 2, (size_t)(close - colon - 2));
		} else if (!val) {
			int rc = tpg_err_set(err, TPG_EINVAL, "undefined variable ${%s}", vname);
			free(vname);
			tpg_buf_free(&b);
			return rc;
		} else {
			tpg_buf_puts(&b, val);
		}
		free(vname);
		p = close + 1;
		if (b.len > EXPAND_MAX) {
			tpg_buf_free(&b);
			return tpg_err_set(err, TPG_ETOOBIG, "expansion of \"%.60s...\" is over 1 MiB", text);
		}
	}
	*out = tpg_buf_detach(&b);
	return 0;
}

void tpg_tmpl_free(tpg_tmpl *t)
{
	if (!t)
		return;
	free(t->text);
	t->text = NULL;
	t->dynamic = false;
}

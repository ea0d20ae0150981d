/*
 * dockerfile_directives.c - parser directives (`# syntax=`, `# escape=`,
 * `# check=`) as BuildKit's DirectiveParser finds them, and DetectSyntax /
 * ParseDirective (with their `//` and JSON fallbacks).
 *
 * A directive line must match `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`
 * (Go regexp: \s is [\t\n\f\r ], `.` is anything but \n). The first line
 * that does not, or that names another directive, ends directive scanning.
 */
#include "dockerfile_int.h"
#include "tpgrade/shellword.h"

#include <stdlib.h>
#include <string.h>

static const char *const known[3] = {"syntax", "escape", "check"};

static bool re_space(char c)
{
	return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

static bool ascii_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The regexp; name and value as [start,end) offsets. */
static bool match_directive(const char *l, size_t len, const char *prefix, size_t *nb,
			    size_t *ne, size_t *vb, size_t *ve)
{
	size_t pl = strlen(prefix), i, j, e;

	if (len < pl || memcmp(l, prefix, pl) != 0)
		return false;
	if (memchr(l, '\n', len))
		return false;  /* `.` would not match it; lines never hold one */
	i = pl;
	while (i < len && re_space(l[i]))
		i++;
	if (i >= len || !ascii_alpha(l[i]))
		return false;
	*nb = i;
	while (i < len && (ascii_alpha(l[i]) || (l[i] >= '0' && l[i] <= '9')))
		i++;
	*ne = i;
	while (i < len && re_space(l[i]))
		i++;
	if (i >= len || l[i] != '=')
		return false;
	i++;
	j = i;
	while (j < len && re_space(l[j]))
		j++;
	if (j < len) {
		e = len;
		while (e > j && re_space(l[e - 1]))
			e--;
		*vb = j;
		*ve = e;
		return true;
	}
	/* Only blanks after '=': the lazy (.+?) backtracks into them and
	 * takes the last one. */
	if (j > i) {
		*vb = len - 1;
		*ve = len;
		return true;
	}
	return false;
}

int df_directive_line(df_directives *d, const char *line, size_t len, char **name, char **value,
		      tpg_err *err)
{
	size_t nb, ne, vb, ve;
	char *k;
	int which = -1;

	*name = NULL;
	*value = NULL;
	d->line++;
	if (d->done)
		return 0;
	if (!match_directive(line, len, d->prefix ? d->prefix : "#", &nb, &ne, &vb, &ve)) {
		d->done = true;
		return 0;
	}
	k = tpg_go_to_lower_str(line + nb, ne - nb);
	for (int i = 0; i < 3; i++)
		if (!strcmp(k, known[i]))
			which = i;
	if (which < 0) {
		free(k);
		d->done = true;
		return 0;
	}
	if (d->seen[which]) {
		tpg_err_set(err, TPG_EPARSE, "only one %s parser directive can be used", k);
		free(k);
		return TPG_EPARSE;
	}
	d->seen[which] = true;
	*name = k;
	*value = tpg_xstrndup(line + vb, ve - vb);
	return 1;
}

/* bufio.Scanner(ScanLines) over data: next line without "\n" or one "\r".
 * Stops, like the scanner, at a line longer than its 64 KiB buffer. */
static bool next_line(const char *data, size_t len, size_t *pos, size_t *lb, size_t *le)
{
	const char *nl;
	size_t end;

	if (*pos >= len)
		return false;
	nl = memchr(data + *pos, '\n', len - *pos);
	end = nl ? (size_t)(nl - data) : len;
	if (end - *pos >= TPG_DF_MAX_LINE)
		return false;
	*lb = *pos;
	*le = end;
	*pos = nl ? end + 1 : len;
	if (*le > *lb && data[*le - 1] == '\r')
		(*le)--;
	return true;
}

static int parse_all(const char *data, size_t len, df_directives *d, tpg_strv *names,
		     tpg_strv *values, int *lines, size_t maxlines, tpg_err *err)
{
	size_t pos = 0, lb, le;

	while (next_line(data, len, &pos, &lb, &le)) {
		char *n, *v;
		int rc;
		if (d->done)
			break;
		rc = df_directive_line(d, data + lb, le - lb, &n, &v, err);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			if (lines && names->len < maxlines)
				lines[names->len] = d->line;
			tpg_strv_push_owned(names, n);
			tpg_strv_push_owned(values, v);
		}
	}
	return 0;
}

int tpg_df_parse_directives(const char *data, size_t len, tpg_strv *names, tpg_strv *values,
			    tpg_err *err)
{
	df_directives d = {"#", false, {false, false, false}, 0};
	return parse_all(data, len, &d, names, values, NULL, 0, err);
}

static bool from_parser(const char *data, size_t len, const char *prefix, int line0,
			const char *key, char **ref, char **cmdline, int *line)
{
	df_directives d = {prefix, false, {false, false, false}, line0};
	tpg_strv names = TPG_STRV_INIT, values = TPG_STRV_INIT;
	int lines[3] = {0, 0, 0};
	bool found = false;

	parse_all(data, len, &d, &names, &values, lines, 3, NULL);
	for (size_t i = 0; i < names.len; i++) {
		if (strcmp(names.items[i], key) != 0)
			continue;
		const char *v = values.items[i];
		const char *sp = strchr(v, ' ');
		if (ref)
			*ref = sp ? tpg_xstrndup(v, (size_t)(sp - v)) : tpg_xstrdup(v);
		if (cmdline)
			*cmdline = tpg_xstrdup(v);
		if (line)
			*line = i < 3 ? lines[i] : 0;
		found = true;
		break;
	}
	tpg_strv_free(&names);
	tpg_strv_free(&values);
	return found;
}

bool tpg_df_detect_directive(const char *data, size_t len, const char *key, bool any_format,
			     char **ref, char **cmdline, int *line)
{
	int line0 = 0;
	char *v;

	if (ref)
		*ref = NULL;
	if (cmdline)
		*cmdline = NULL;
	if (line)
		*line = 0;
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
		data += 3;
		len -= 3;
	}
	if (len >= 2 && data[0] == '#' && data[1] == '!') {
		const char *nl = memchr(data, '\n', len);
		size_t skip = nl ? (size_t)(nl - data) + 1 : len;
		data += skip;
		len -= skip;
		line0 = 1;
	}
	if (from_parser(data, len, "#", line0, key, ref, cmdline, line))
		return true;
	if (!any_format)
		return false;
	if (from_parser(data, len, "//", line0, key, ref, cmdline, line))
		return true;
	if (df_json_object_string(data, len, key, &v)) {
		if (ref)
			*ref = tpg_xstrdup(v);
		if (cmdline)
			*cmdline = tpg_xstrdup(v);
		if (line)
			*line = line0;
		free(v);
		return true;
	}
	return false;
}

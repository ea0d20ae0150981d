/*
 * dockerfile_args.c - from an assembled instruction line to keyword, flags
 * and arguments, per instruction, as BuildKit's split_command.go and
 * line_parsers.go do it.
 *
 * Go string semantics matter here and are kept: TrimSpace is Unicode-aware,
 * the keyword/argument split is on ASCII [\t\v\f\r ] only, the flag scanner
 * walks bytes (so bytes 0x85 and 0xA0 count as blanks there and non-ASCII
 * bytes are re-encoded as Latin-1 runes), and parseWords walks runes (an
 * invalid byte becomes U+FFFD).
 */
#include "dockerfile_int.h"
#include "tpgrade/shellword.h"

#include <stdlib.h>
#include <string.h>

/* ---- Go string helpers -------------------------------------------------- */

/* utf8.DecodeLastRune of s[b..e). */
static int32_t decode_last(const char *s, size_t b, size_t e, size_t *width)
{
	size_t start, lim, w;
	int32_t r;

	if (e <= b) {
		*width = 0;
		return TPG_GO_RUNE_ERROR;
	}
	start = e - 1;
	if ((unsigned char)s[start] < 0x80) {
		*width = 1;
		return (unsigned char)s[start];
	}
	lim = e - b >= 4 ? e - 4 : b;
	while (start > lim && ((unsigned char)s[start] & 0xC0) == 0x80)
		start--;
	r = tpg_go_decode_rune(s + start, e - start, &w);
	if (start + w != e) {
		*width = 1;
		return TPG_GO_RUNE_ERROR;
	}
	*width = w;
	return r;
}

void df_trim_left_space(const char *s, size_t *b, size_t e)
{
	while (*b < e) {
		size_t w;
		if (!tpg_go_space_at(s + *b, e - *b, &w))
			break;
		*b += w;
	}
}

void df_trim_space(const char *s, size_t *b, size_t *e)
{
	df_trim_left_space(s, b, *e);
	while (*e > *b) {
		size_t w;
		int32_t r = decode_last(s, *b, *e, &w);
		if (!tpg_go_is_space(r))
			break;
		*e -= w;
	}
}

static bool ascii_ws(char c)
{
	return c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' ';
}

/* regexp `[\t\v\f\r ]+`.Split(s, n) with Go's rules (n = -1 or 2). */
static void ws_split(const char *s, size_t len, int n, tpg_strv *out, size_t **lens,
		     size_t *nlens)
{
	size_t beg = 0, end = 0, i = 0;
	size_t count = 0;
	size_t cap = 0;

#define PUSH(p, l)                                                             \
	do {                                                                   \
		tpg_strv_push_owned(out, tpg_xstrndup((p), (l)));              \
		if (lens) {                                                    \
			TPG_ARRAY_GROW(*lens, *nlens, cap);                    \
			(*lens)[(*nlens)++] = (l);                             \
		}                                                              \
		count++;                                                       \
	} while (0)

	if (lens)
		cap = *nlens;
	if (len == 0) {
		PUSH(s, (size_t)0);
		return;
	}
	while (i < len) {
		size_t ms, me;
		if (!ascii_ws(s[i])) {
			i++;
			continue;
		}
		ms = i;
		while (i < len && ascii_ws(s[i]))
			i++;
		me = i;
		if (n > 0 && count == (size_t)n - 1)
			break;
		end = ms;
		if (me != 0)
			PUSH(s + beg, end - beg);
		beg = me;
	}
	if (end != len)
		PUSH(s + beg, len - beg);
#undef PUSH
}

/* ---- argument builders -------------------------------------------------- */

static void add_arg(tpg_df_instr *in, const char *p, size_t l)
{
	size_t cap = in->args.len;
	char *copy = tpg_xmalloc(l + 1);  /* not strndup: JSON values may hold NUL */

	memcpy(copy, p, l);
	copy[l] = '\0';
	tpg_strv_push_owned(&in->args, copy);
	in->arg_lens = tpg_xreallocarray(in->arg_lens, cap + 1, sizeof(size_t));
	in->arg_lens[cap] = l;
}

void tpg_df_parse_words(const char *rest, size_t len, char escape, tpg_strv *out)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	tpg_buf word = TPG_BUF_INIT;
	int32_t quote = 0, ch = 0;
	size_t w = 0;
	bool blank_ok = false;

	tpg_buf_append(&word, "", 0);
	for (size_t pos = 0; pos <= len; pos += w) {
		if (pos != len)
			ch = tpg_go_decode_rune(rest + pos, len - pos, &w);
		if (phase == IN_SPACES) {
			if (pos == len)
				break;
			if (tpg_go_is_space(ch))
				continue;
			phase = IN_WORD;
		}
		if (pos == len) {
			if (blank_ok || word.len > 0)
				tpg_strv_push(out, word.data);
			break;
		}
		if (phase == IN_WORD) {
			if (tpg_go_is_space(ch)) {
				phase = IN_SPACES;
				if (blank_ok || word.len > 0)
					tpg_strv_push(out, word.data);
				tpg_buf_clear(&word);
				blank_ok = false;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = true;
				phase = IN_QUOTE;
			}
			if (ch == (unsigned char)escape) {
				if (pos + w == len)
					continue;
				tpg_go_append_rune(&word, ch);
				pos += w;
				ch = tpg_go_decode_rune(rest + pos, len - pos, &w);
			}
			tpg_go_append_rune(&word, ch);
			continue;
		}
		/* IN_QUOTE */
		if (ch == quote)
			phase = IN_WORD;
		if (ch == (unsigned char)escape && quote != '\'') {
			if (pos + w == len) {
				phase = IN_WORD;
				continue;
			}
			pos += w;
			tpg_go_append_rune(&word, ch);
			ch = tpg_go_decode_rune(rest + pos, len - pos, &w);
		}
		tpg_go_append_rune(&word, ch);
	}
	tpg_buf_free(&word);
}

/* parseJSON / parseMaybeJSON: 1 when JSON, 0 when not, <0 on error. */
static int maybe_json(tpg_df_instr *in, const char *rest, size_t len, tpg_err *err)
{
	tpg_strv vals = TPG_STRV_INIT;
	size_t *lens = NULL;
	char *why = NULL;
	int k = tpg_df_json_array(rest, len, &vals, &lens, &why);

	if (k == TPG_DF_JSON_NOT_STRINGS) {
		tpg_strv_free(&vals);
		free(lens);
		free(why);
		return tpg_err_set(err, TPG_EPARSE,
				   "when using JSON array syntax, arrays must be comprised of strings only");
	}
	if (k == TPG_DF_JSON) {
		for (size_t i = 0; i < vals.len; i++)
			add_arg(in, vals.items[i], lens[i]);
		in->json = true;
		tpg_strv_free(&vals);
		free(lens);
		return 1;
	}
	free(in->json_error);
	in->json_error = why;
	tpg_strv_free(&vals);
	free(lens);
	return 0;
}

static int parse_maybe_json(tpg_df_instr *in, const char *rest, size_t len, tpg_err *err)
{
	int rc;

	if (len == 0)
		return 0;
	rc = maybe_json(in, rest, len, err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		add_arg(in, rest, len);
	return 0;
}

static void whitespace_list(tpg_df_instr *in, const char *rest, size_t len)
{
	tpg_strv parts = TPG_STRV_INIT;
	size_t *lens = NULL, n = 0;

	if (len == 0)
		return;
	ws_split(rest, len, -1, &parts, &lens, &n);
	for (size_t i = 0; i < parts.len; i++)
		add_arg(in, parts.items[i], lens[i]);
	tpg_strv_free(&parts);
	free(lens);
}

static int parse_maybe_json_to_list(tpg_df_instr *in, const char *rest, size_t len,
				    tpg_err *err)
{
	int rc = maybe_json(in, rest, len, err);

	if (rc < 0)
		return rc;
	if (rc == 0)
		whitespace_list(in, rest, len);
	return 0;
}

static int parse_name_val(tpg_df_instr *in, const char *rest, size_t len, const char *key,
			  char escape, tpg_err *err)
{
	tpg_strv words = TPG_STRV_INIT;
	int rc = 0;

	tpg_df_parse_words(rest, len, escape, &words);
	if (words.len == 0)
		goto out;
	if (!strchr(words.items[0], '=')) {
		tpg_strv parts = TPG_STRV_INIT;
		ws_split(rest, len, 2, &parts, NULL, NULL);
		if (parts.len < 2) {
			rc = tpg_err_set(err, TPG_EPARSE, "%s must have two arguments", key);
		} else {
			add_arg(in, parts.items[0], strlen(parts.items[0]));
			/* the value is the rest of the line, unchanged */
			const char *v = parts.items[1];
			add_arg(in, v, strlen(v));
			add_arg(in, "", 0);
		}
		tpg_strv_free(&parts);
		goto out;
	}
	for (size_t i = 0; i < words.len; i++) {
		const char *wd = words.items[i];
		const char *eq = strchr(wd, '=');
		if (!eq) {
			tpg_buf q = TPG_BUF_INIT;
			tpg_go_quote(wd, strlen(wd), &q);
			rc = tpg_err_set(err, TPG_EPARSE,
					 "Syntax error - can't find = in %s. Must be of the form: name=value",
					 tpg_buf_cstr(&q));
			tpg_buf_free(&q);
			goto out;
		}
		add_arg(in, wd, (size_t)(eq - wd));
		add_arg(in, eq + 1, strlen(eq + 1));
		add_arg(in, "=", 1);
	}
out:
	tpg_strv_free(&words);
	return rc;
}

static bool byte_space(char c)
{
	return tpg_go_is_space((unsigned char)c);
}

static int parse_health(tpg_df_instr *in, const char *rest, size_t len, tpg_err *err)
{
	size_t sep = 0, next;

	while (sep < len && !byte_space(rest[sep]))
		sep++;
	next = sep;
	while (next < len && byte_space(rest[next]))
		next++;
	if (sep == 0)
		return 0;
	tpg_df_instr tmp = {0};
	int rc = parse_maybe_json(&tmp, rest + next, len - next, err);
	if (rc < 0) {
		df_instr_clear(&tmp);
		return rc;
	}
	add_arg(in, rest, sep);
	for (size_t i = 0; i < tmp.args.len; i++)
		add_arg(in, tmp.args.items[i], tmp.arg_lens[i]);
	in->json = tmp.json;
	in->json_error = tmp.json_error;
	tmp.json_error = NULL;
	df_instr_clear(&tmp);
	return 0;
}

/* ---- splitCommand ------------------------------------------------------- */

/* extractBuilderFlags over line[0..len): flags appended, *rest_off set to
 * where the arguments start (len when nothing is left). */
static void extract_flags(const char *line, size_t len, char escape, tpg_strv *flags,
			  size_t *rest_off)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	tpg_buf word = TPG_BUF_INIT;
	unsigned char quote = 0, ch = 0;
	bool blank_ok = false;

	tpg_buf_append(&word, "", 0);
	*rest_off = len;
	for (size_t pos = 0; pos <= len; pos++) {
		if (pos != len)
			ch = (unsigned char)line[pos];
		if (phase == IN_SPACES) {
			if (pos == len)
				break;
			if (tpg_go_is_space(ch))
				continue;
			if (ch != '-' || pos + 1 == len || line[pos + 1] != '-') {
				*rest_off = pos;
				goto out;
			}
			phase = IN_WORD;
		}
		if (pos == len) {
			if (strcmp(word.data, "--") != 0 && (blank_ok || word.len > 0))
				tpg_strv_push(flags, word.data);
			break;
		}
		if (phase == IN_WORD) {
			if (tpg_go_is_space(ch)) {
				phase = IN_SPACES;
				if (strcmp(word.data, "--") == 0) {
					*rest_off = pos;
					goto out;
				}
				if (blank_ok || word.len > 0)
					tpg_strv_push(flags, word.data);
				tpg_buf_clear(&word);
				tpg_buf_append(&word, "", 0);
				blank_ok = false;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = true;
				phase = IN_QUOTE;
				continue;
			}
			if (ch == (unsigned char)escape) {
				if (pos + 1 == len)
					continue;
				pos++;
				ch = (unsigned char)line[pos];
			}
			tpg_go_append_rune(&word, ch);
			continue;
		}
		/* IN_QUOTE */
		if (ch == quote) {
			phase = IN_WORD;
			continue;
		}
		if (ch == (unsigned char)escape) {
			if (pos + 1 == len) {
				phase = IN_WORD;
				continue;
			}
			pos++;
			ch = (unsigned char)line[pos];
		}
		tpg_go_append_rune(&word, ch);
	}
out:
	tpg_buf_free(&word);
}

/* One level of newNodeFromLine; *sub set to the ONBUILD sub-line (into line). */
static int node_level(const char *line, size_t len, char escape, tpg_df_instr *in,
		      const char **sub, size_t *sublen, tpg_err *err)
{
	size_t b = 0, e = len, kend, rb, re;
	const char *rest = "";
	size_t rlen = 0;
	int rc = 0;

	*sub = NULL;
	*sublen = 0;
	in->original = tpg_xstrndup(line, len);
	df_trim_space(line, &b, &e);
	kend = b;
	while (kend < e && !ascii_ws(line[kend]))
		kend++;
	in->keyword = tpg_xstrndup(line + b, kend - b);
	in->cmd = tpg_go_to_lower_str(line + b, kend - b);
	if (kend < e) {
		size_t rs = kend, off;
		while (rs < e && ascii_ws(line[rs]))
			rs++;
		extract_flags(line + rs, e - rs, escape, &in->flags, &off);
		rb = rs + off;
		re = e;
		df_trim_space(line, &rb, &re);
		rest = line + rb;
		rlen = re - rb;
	}

	const char *c = in->cmd;
	if (!strcmp(c, "onbuild")) {
		if (rlen > 0) {
			*sub = rest;
			*sublen = rlen;
		}
	} else if (!strcmp(c, "add") || !strcmp(c, "copy") || !strcmp(c, "volume")) {
		rc = parse_maybe_json_to_list(in, rest, rlen, err);
	} else if (!strcmp(c, "run") || !strcmp(c, "cmd") || !strcmp(c, "entrypoint") ||
		   !strcmp(c, "shell")) {
		rc = parse_maybe_json(in, rest, rlen, err);
	} else if (!strcmp(c, "arg")) {
		tpg_strv words = TPG_STRV_INIT;
		tpg_df_parse_words(rest, rlen, escape, &words);
		for (size_t i = 0; i < words.len; i++)
			add_arg(in, words.items[i], strlen(words.items[i]));
		tpg_strv_free(&words);
	} else if (!strcmp(c, "env")) {
		rc = parse_name_val(in, rest, rlen, "ENV", escape, err);
	} else if (!strcmp(c, "label")) {
		rc = parse_name_val(in, rest, rlen, "LABEL", escape, err);
	} else if (!strcmp(c, "expose") || !strcmp(c, "from")) {
		whitespace_list(in, rest, rlen);
	} else if (!strcmp(c, "healthcheck")) {
		rc = parse_health(in, rest, rlen, err);
	} else if (!strcmp(c, "maintainer") || !strcmp(c, "stopsignal") || !strcmp(c, "user") ||
		   !strcmp(c, "workdir")) {
		if (rlen > 0)
			add_arg(in, rest, rlen);
	} else {
		add_arg(in, "", 0);  /* parseIgnore: one empty node */
	}
	return rc;
}

int df_node_from_line(const char *line, size_t len, char escape, tpg_df_instr *in, tpg_err *err)
{
	tpg_df_instr *cur = in;
	const char *l = line;
	size_t n = len;

	memset(in, 0, sizeof(*in));
	for (;;) {
		const char *sub;
		size_t sublen;
		int rc = node_level(l, n, escape, cur, &sub, &sublen, err);
		if (rc) {
			df_instr_clear(in);
			return rc;
		}
		if (!sub)
			return 0;
		cur->inner = tpg_xcalloc(1, sizeof(*cur->inner));
		/* The sub-line lives in cur->original, which outlives this loop. */
		l = cur->original + (sub - l);
		n = sublen;
		cur = cur->inner;
	}
}

bool df_can_contain_heredoc(const tpg_df_instr *in)
{
	const tpg_df_instr *n = in;

	if (!strcmp(n->cmd, "onbuild") && n->inner)
		n = n->inner;
	if (strcmp(n->cmd, "add") && strcmp(n->cmd, "copy") && strcmp(n->cmd, "run"))
		return false;
	return !n->json;
}

/*
 * dockerfile_heredoc.c - which words of an ADD/COPY/RUN line open a heredoc
 * (BuildKit's heredocsFromLine, ParseHeredoc and heredocFromMatch).
 *
 * The line is split with the shell lexer keeping quotes, escapes and unset
 * variables as written; each word is matched against
 * `^(\d*)<<(-?)\s*([^<]*)$`; the terminator is the rest lexed once without
 * and once with raw quotes: different quote counts mean part of it was
 * quoted, so the body is not to be expanded. The escape character here is
 * always `\`, whatever the escape directive says (as in BuildKit).
 */
#include "dockerfile_int.h"
#include "tpgrade/shellword.h"

#include <stdlib.h>
#include <string.h>

void tpg_df_heredoc_clear(tpg_df_heredoc *h)
{
	if (!h)
		return;
	free(h->name);
	free(h->content);
	memset(h, 0, sizeof(*h));
}

static size_t count_quotes(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (*s == '\'' || *s == '"')
			n++;
	return n;
}

static bool re_space(char c)
{
	return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

int tpg_df_parse_heredoc(const char *word, tpg_df_heredoc *h, tpg_err *err)
{
	size_t i = 0;
	uint64_t fd = 0;
	bool chomp = false, overflow = false;
	const char *rest;
	tpg_shell_opts o = {0};
	tpg_strv words = TPG_STRV_INIT, raw = TPG_STRV_INIT;
	int rc;

	memset(h, 0, sizeof(*h));
	while (word[i] >= '0' && word[i] <= '9')
		i++;
	if (word[i] != '<' || word[i + 1] != '<')
		return 0;
	for (size_t k = 0; k < i; k++) {
		unsigned d = (unsigned)(word[k] - '0');
		if (fd > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			fd = fd * 10 + d;
	}
	if (overflow)
		fd = UINT64_MAX;  /* strconv.ParseUint's value on ErrRange */
	i += 2;
	if (word[i] == '-') {
		chomp = true;
		i++;
	}
	while (re_space(word[i]))
		i++;
	rest = word + i;
	if (strchr(rest, '<'))
		return 0;
	if (*rest == '\0')
		return 0;

	o.escape = '\\';
	o.skip_unset_env = true;
	rc = tpg_shell_process(rest, &o, NULL, NULL, &words, NULL, err);
	if (rc)
		goto out;
	if (words.len != 1) {
		rc = 0;
		goto out;
	}
	o.raw_quotes = true;
	rc = tpg_shell_process(rest, &o, NULL, NULL, &raw, NULL, err);
	if (rc)
		goto out;
	if (raw.len != words.len) {
		rc = tpg_err_set(err, TPG_EPARSE,
				 "internal lexing of heredoc produced inconsistent results: %s", rest);
		goto out;
	}
	h->name = tpg_xstrdup(words.items[0]);
	h->fd = fd;
	h->chomp = chomp;
	h->expand = count_quotes(words.items[0]) == count_quotes(raw.items[0]);
	h->content = tpg_xstrdup("");
	rc = 1;
out:
	tpg_strv_free(&words);
	tpg_strv_free(&raw);
	return rc;
}

int tpg_df_heredocs_from_line(const char *line, tpg_df_heredoc **out, size_t *n, tpg_err *err)
{
	tpg_shell_opts o = {0};
	tpg_strv words = TPG_STRV_INIT;
	tpg_df_heredoc *docs = NULL;
	size_t nd = 0, cap = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	o.escape = '\\';
	o.raw_quotes = true;
	o.raw_escapes = true;
	o.skip_unset_env = true;
	/* BuildKit ignores a lexing error here: no words, no heredoc. */
	if (tpg_shell_process(line, &o, NULL, NULL, &words, NULL, NULL) != 0)
		tpg_strv_free(&words);
	for (size_t i = 0; i < words.len; i++) {
		tpg_df_heredoc h;
		rc = tpg_df_parse_heredoc(words.items[i], &h, err);
		if (rc < 0) {
			for (size_t k = 0; k < nd; k++)
				tpg_df_heredoc_clear(&docs[k]);
			free(docs);
			docs = NULL;
			nd = 0;
			break;
		}
		if (rc == 1) {
			TPG_ARRAY_GROW(docs, nd, cap);
			docs[nd++] = h;
		}
		rc = 0;
	}
	tpg_strv_free(&words);
	*out = docs;
	*n = nd;
	return rc;
}

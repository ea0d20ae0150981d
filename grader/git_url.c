/* git_url.c - repository URLs: parsing, credentials out of sight, scrubbing. */
#include "tpgrade/git_impl.h"
#include "tpgrade/repo.h"
#include "tpgrade/sanitize.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tpg_git_url_clear(tpg_git_url *u)
{
	if (!u)
		return;
	free(u->user);
	free(u->password);
	free(u->host);
	free(u->fetch);
	free(u->display);
	memset(u, 0, sizeof(*u));
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *percent_decode(const char *s, size_t n)
{
	char *out = tpg_xmalloc(n + 1);
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n &&
		    (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			out[j++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

static char *lower_dup(const char *s, size_t n)
{
	char *out = tpg_xstrndup(s, n);
	for (char *p = out; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

/* "[::1]:8080" or "host:22" or "host" -> host (lower case, no brackets). */
static char *host_of(const char *hp, size_t n)
{
	if (n > 0 && hp[0] == '[') {
		const char *close = memchr(hp, ']', n);
		if (!close)
			return NULL;
		return lower_dup(hp + 1, (size_t)(close - hp - 1));
	}
	const char *colon = memchr(hp, ':', n);
	return lower_dup(hp, colon ? (size_t)(colon - hp) : n);
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Length of a "scheme" before "://" at the start of s, 0 if none. */
static size_t scheme_len(const char *s)
{
	size_t i = 0;
	if (!isalpha((unsigned char)s[0]))
		return 0;
	while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
		i++;
	return strncmp(s + i, "://", 3) == 0 ? i : 0;
}

static int parse_scheme_url(const char *url, size_t slen, tpg_git_url *out, tpg_err *err)
{
	char *scheme = lower_dup(url, slen);
	const char *rest = url + slen + 3;
	size_t alen = strcspn(rest, "/?#");
	const char *at = NULL;
	int rc = 0;

	if (strcmp(scheme, "file") == 0) {
		out->kind = TPG_GIT_URL_FILE;
	} else if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) {
		out->kind = TPG_GIT_URL_HTTP;
		out->tls = scheme[4] == 's';
	} else if (strcmp(scheme, "ssh") == 0 || strcmp(scheme, "git+ssh") == 0 ||
		   strcmp(scheme, "ssh+git") == 0) {
		out->kind = TPG_GIT_URL_SSH;
	} else if (strcmp(scheme, "git") == 0) {
		out->kind = TPG_GIT_URL_GIT;
	} else {
		rc = tpg_err_set(err, TPG_EINVAL,
			"unsupported URL scheme '%s://' (use https://, http://, ssh://, git://, "
			"file:// or a local path)", scheme);
		goto done;
	}

	for (size_t i = 0; i < alen; i++)
		if (rest[i] == '@')
			at = rest + i;
	const char *hp = at ? at + 1 : rest;
	size_t hplen = alen - (size_t)(hp - rest);
	if (at) {
		const char *colon = memchr(rest, ':', (size_t)(at - rest));
		size_t ulen = colon ? (size_t)(colon - rest) : (size_t)(at - rest);
		out->user = percent_decode(rest, ulen);
		if (colon)
			out->password = percent_decode(colon + 1, (size_t)(at - colon - 1));
		if (!out->user[0]) {
			free(out->user);
			out->user = NULL;
		}
	}
	if (out->kind != TPG_GIT_URL_FILE) {
		out->host = host_of(hp, hplen);
		if (!out->host || !out->host[0]) {
			rc = tpg_err_set(err, TPG_EINVAL, "no host name in the repository URL");
			goto done;
		}
	}
	out->display = tpg_xasprintf("%s://%.*s%s", scheme, (int)hplen, hp, rest + alen);
	if (out->kind == TPG_GIT_URL_SSH && at && out->user) {
		/* ssh needs the user; the raw (still encoded) text up to ':' or '@'. */
		size_t ulen = strcspn(rest, ":@");
		out->fetch = tpg_xasprintf("%s://%.*s@%.*s%s", scheme, (int)ulen, rest,
			(int)hplen, hp, rest + alen);
	} else {
		out->fetch = tpg_xstrdup(out->display);
	}
done:
	free(scheme);
	return rc;
}

int tpg_git_url_parse(const char *url, tpg_git_url *out, tpg_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!url || !url[0])
		return tpg_err_set(err, TPG_EINVAL, "no repository URL or path given");
	if (has_control(url))
		return tpg_err_set(err, TPG_EINVAL,
			"the repository URL or path contains control characters");

	/* git's "helper::address" runs a remote helper program: never. */
	size_t hl = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
	if (hl && strncmp(url + hl, "::", 2) == 0)
		return tpg_err_set(err, TPG_EINVAL, "unsupported repository URL: remote helpers "
			"('%.*s::') are not allowed", (int)(hl > 32 ? 32 : hl), url);

	size_t slen = scheme_len(url);
	if (slen) {
		rc = parse_scheme_url(url, slen, out, err);
		if (rc < 0)
			tpg_git_url_clear(out);
		return rc;
	}

	/* scp-like "[user@]host:path": a ':' before any '/', as git decides. */
	const char *colon = strchr(url, ':');
	const char *slash = strchr(url, '/');
	if (colon && colon != url && (!slash || colon < slash)) {
		const char *at = NULL;
		for (const char *p = url; p < colon; p++)
			if (*p == '@')
				at = p;
		/* "user:pass@host:path": the first ':' belongs to the userinfo. */
		if (!at) {
			const char *at2 = strchr(url, '@');
			const char *c2 = at2 ? strchr(at2, ':') : NULL;
			if (at2 && c2 && (!slash || at2 < slash)) {
				at = at2;
				colon = c2;
			}
		}
		out->kind = TPG_GIT_URL_SSH;
		const char *host = at ? at + 1 : url;
		if (colon == host)
			return tpg_err_set(err, TPG_EINVAL, "no host name in the repository URL");
		if (at) {
			const char *uc = memchr(url, ':', (size_t)(at - url));
			size_t ulen = uc ? (size_t)(uc - url) : (size_t)(at - url);
			if (ulen)
				out->user = tpg_xstrndup(url, ulen);
			if (uc)
				out->password = tpg_xstrndup(uc + 1, (size_t)(at - uc - 1));
		}
		out->host = lower_dup(host, (size_t)(colon - host));
		out->display = tpg_xasprintf("%.*s%s", (int)(colon - host), host, colon);
		out->fetch = out->user
			? tpg_xasprintf("%s@%s", out->user, out->display)
			: tpg_xstrdup(out->display);
		return 0;
	}

	out->kind = TPG_GIT_URL_LOCAL;
	out->fetch = tpg_xstrdup(url);
	out->display = tpg_xstrdup(url);
	return 0;
}

char *tpg_git_url_strip_password(const char *url, char **password)
{
	tpg_git_url u;
	bool parsed = tpg_git_url_parse(url, &u, NULL) == 0;
	const char *sep = strstr(url, "://");
	const char *auth = sep ? sep + 3 : url, *at = NULL;

	*password = NULL;
	/* The userinfo ends at the authority's last '@' ("scheme://", even one
	 * we refuse: its password must not show either), or at the first '@'
	 * of a scp-like "user:pass@host:path"; the password follows its first
	 * ':'. */
	if (sep) {
		size_t alen = strcspn(auth, "/?#");
		for (size_t i = 0; i < alen; i++)
			if (auth[i] == '@')
				at = auth + i;
	} else if (parsed && u.kind == TPG_GIT_URL_SSH && u.password) {
		at = strchr(auth, '@');
	}
	const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (!colon) {
		tpg_git_url_clear(&u);
		return tpg_xstrdup(url);
	}
	if (parsed && u.password) {
		*password = u.password;   /* percent-decoded, as the fetch uses it */
		u.password = NULL;
	} else {
		*password = tpg_xstrndup(colon + 1, (size_t)(at - colon - 1));
	}
	tpg_git_url_clear(&u);
	return tpg_xasprintf("%.*s%s", (int)(colon - url), url, at);
}

char *tpg_url_redact(const char *url)
{
	tpg_buf b = TPG_BUF_INIT;
	const char *p = url;

	if (!url)
		return NULL;
	while (*p) {
		const char *sep = strstr(p, "://");
		if (!sep) {
			tpg_buf_puts(&b, p);
			break;
		}
		tpg_buf_append(&b, p, (size_t)(sep - p) + 3);
		const char *a = sep + 3;
		size_t alen = strcspn(a, "/?#\\ \t\r\n\"'<>`");
		const char *at = NULL;
		for (size_t i = 0; i < alen; i++)
			if (a[i] == '@')
				at = a + i;
		p = at ? at + 1 : a;
	}
	return tpg_buf_detach(&b);
}

static char *percent_encode(const char *s)
{
	tpg_buf b = TPG_BUF_INIT;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p))
			tpg_buf_putc(&b, (char)*p);
		else
			tpg_buf_printf(&b, "%%%02X", *p);
	}
	return tpg_buf_detach(&b);
}

/* Replaces each occurrence of needle in *msg with "***". */
static void replace_all(char **msg, const char *needle)
{
	size_t nlen = strlen(needle);
	if (!nlen || !strstr(*msg, needle))
		return;
	tpg_buf b = TPG_BUF_INIT;
	const char *p = *msg;
	const char *hit;
	while ((hit = strstr(p, needle))) {
		tpg_buf_append(&b, p, (size_t)(hit - p));
		tpg_buf_puts(&b, "***");
		p = hit + nlen;
	}
	tpg_buf_puts(&b, p);
	free(*msg);
	*msg = tpg_buf_detach(&b);
}

/* A message cut at a fixed size may end with the start of a secret. */
static void cut_secret_prefix(char *msg, const char *secret)
{
	size_t mlen = strlen(msg), slen = strlen(secret);
	for (size_t k = slen - 1; k >= 4 && k > 0; k--) {
		if (k <= mlen && memcmp(msg + mlen - k, secret, k) == 0) {
			msg[mlen - k] = '\0';
			return;
		}
	}
}

char *tpg_git_scrub(char *msg, const tpg_strv *secrets)
{
	if (!msg)
		return NULL;
	for (size_t i = 0; secrets && i < secrets->len; i++) {
		const char *s = secrets->items[i];
		if (!s || !s[0])
			continue;
		char *enc = percent_encode(s);
		replace_all(&msg, s);
		if (strcmp(enc, s) != 0)
			replace_all(&msg, enc);
		cut_secret_prefix(msg, s);
		free(enc);
	}
	char *r = tpg_url_redact(msg);
	free(msg);
	return r;
}

void tpg_git_scrub_err(tpg_err *err, const tpg_strv *secrets)
{
	if (!err)
		return;
	char *m = tpg_git_scrub(tpg_xstrdup(err->msg), secrets);
	snprintf(err->msg, sizeof(err->msg), "%s", m);
	/* Cutting at the record's size may expose a secret's start again. */
	for (size_t i = 0; secrets && i < secrets->len; i++)
		if (secrets->items[i] && strlen(secrets->items[i]) > 1)
			cut_secret_prefix(err->msg, secrets->items[i]);
	free(m);
}

char *tpg_git_printable(const char *s, size_t max)
{
	size_t len = strlen(s), n = tpg_sanitize_truncate(s, len, max);
	char *head = tpg_xstrndup(s, n);
	char *shown = tpg_repo_path_display(head);

	free(head);
	if (n == len)
		return shown;
	char *cut = tpg_xasprintf("%s...", shown);
	free(shown);
	return cut;
}

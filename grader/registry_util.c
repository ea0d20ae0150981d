/* registry_util.c - pure helpers of the registry client: SHA-256, challenge
 * and Link parsing, URL resolution and origins, insecure hosts, and error
 * answers turned into sentences. */
#include "registry_priv.h"
#include "tpgrade/imageref.h"

#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- SHA-256 (FIPS 180-4) -------------------------------------------------- */

typedef struct sha256_ctx {
	uint32_t h[8];
	uint64_t total;
	unsigned char block[64];
	size_t used;
} sha256_ctx;

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t ror32(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

static void sha256_block(sha256_ctx *c, const unsigned char *p)
{
	uint32_t w[64], a, b, cc, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ w[i - 15] >> 3;
		uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ w[i - 2] >> 10;
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3];
	e = c->h[4]; f = c->h[5]; g = c->h[6]; h = c->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) +
			      ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) +
			      ((a & b) ^ (a & cc) ^ (b & cc));
		h = g; g = f; f = e; e = d + t1;
		d = cc; cc = b; b = a; a = t1 + t2;
	}
	c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d;
	c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

static void sha256_init(sha256_ctx *c)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(c->h, iv, sizeof(iv));
	c->total = 0;
	c->used = 0;
}

static void sha256_update(sha256_ctx *c, const void *data, size_t len)
{
	const unsigned char *p = data;

	c->total += len;
	while (len > 0) {
		size_t n = 64 - c->used;
		if (n > len)
			n = len;
		memcpy(c->block + c->used, p, n);
		c->used += n;
		p += n;
		len -= n;
		if (c->used == 64) {
			sha256_block(c, c->block);
			c->used = 0;
		}
	}
}

static void sha256_final(sha256_ctx *c, unsigned char out[32])
{
	uint64_t bits = c->total * 8;
	unsigned char pad = 0x80, zero = 0, len[8];

	sha256_update(c, &pad, 1);
	while (c->used != 56)
		sha256_update(c, &zero, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (56 - 8 * i));
	sha256_update(c, len, 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->h[i];
	}
}

char *tpg_registry_sha256(const void *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	sha256_ctx c;
	unsigned char d[32];
	char *out = tpg_xmalloc(7 + 64 + 1);

	sha256_init(&c);
	sha256_update(&c, data, len);
	sha256_final(&c, d);
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[d[i] >> 4];
		out[7 + 2 * i + 1] = hex[d[i] & 15];
	}
	out[71] = '\0';
	return out;
}

/* --- WWW-Authenticate ------------------------------------------------------ */

static bool is_tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A token or a quoted string at p; *value gets it unquoted. */
static const char *parse_value(const char *p, char **value)
{
	tpg_buf b = TPG_BUF_INIT;

	if (*p == '"') {
		p++;
		while (*p && *p != '"') {
			if (*p == '\\' && p[1])
				p++;
			tpg_buf_putc(&b, *p++);
		}
		if (*p != '"') {
			tpg_buf_free(&b);
			return NULL;
		}
		p++;
	} else {
		while (is_tchar(*p) || *p == '/' || *p == ':' || *p == '=')
			tpg_buf_putc(&b, *p++);
	}
	*value = tpg_buf_detach(&b);
	return p;
}

void tpg_registry_challenge_free(tpg_auth_challenge *c)
{
	if (!c)
		return;
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

int tpg_registry_parse_challenge(const char *value, tpg_auth_challenge *out)
{
	const char *p = skip_ows(value ? value : "");
	const char *start = p;

	memset(out, 0, sizeof(*out));
	while (is_tchar(*p))
		p++;
	if (p == start)
		return TPG_EPARSE;
	out->scheme = tpg_xstrndup(start, (size_t)(p - start));
	for (char *s = out->scheme; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	for (;;) {
		const char *name;
		size_t nlen;
		char *v = NULL;

		p = skip_ows(p);
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		name = p;
		while (is_tchar(*p))
			p++;
		nlen = (size_t)(p - name);
		p = skip_ows(p);
		if (nlen == 0 || *p != '=')
			break;  /* the next challenge (or garbage): stop at the first */
		p = parse_value(skip_ows(p + 1), &v);
		if (!p)
			goto bad;
		char **slot = NULL;
		if (nlen == 5 && strncasecmp(name, "realm", 5) == 0)
			slot = &out->realm;
		else if (nlen == 7 && strncasecmp(name, "service", 7) == 0)
			slot = &out->service;
		else if (nlen == 5 && strncasecmp(name, "scope", 5) == 0)
			slot = &out->scope;
		else if (nlen == 5 && strncasecmp(name, "error", 5) == 0)
			slot = &out->error;
		if (slot && !*slot)
			*slot = v;
		else
			free(v);
	}
	return 0;
bad:
	tpg_registry_challenge_free(out);
	return TPG_EPARSE;
}

/* --- Link ------------------------------------------------------------------ */

char *tpg_registry_link_next(const char *link)
{
	const char *p = link;

	if (!p)
		return NULL;
	for (;;) {
		const char *u, *ue;
		bool next = false;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p != '<')
			return NULL;
		u = p + 1;
		ue = strchr(u, '>');
		if (!ue)
			return NULL;
		p = ue + 1;
		for (;;) {
			const char *name;
			size_t nlen;
			char *v = NULL;

			p = skip_ows(p);
			if (*p != ';')
				break;
			p = skip_ows(p + 1);
			name = p;
			while (is_tchar(*p))
				p++;
			nlen = (size_t)(p - name);
			p = skip_ows(p);
			if (*p != '=')
				continue;
			p = parse_value(skip_ows(p + 1), &v);
			if (!p)
				return NULL;
			if (nlen == 3 && strncasecmp(name, "rel", 3) == 0) {
				/* rel is a space-separated list of relation types */
				char *save = NULL;
				for (char *tok = strtok_r(v, " ", &save); tok;
				     tok = strtok_r(NULL, " ", &save))
					if (strcasecmp(tok, "next") == 0)
						next = true;
			}
			free(v);
		}
		if (next)
			return tpg_xstrndup(u, (size_t)(ue - u));
		p = strchr(p, ',');
		if (!p)
			return NULL;
	}
}

/* --- URLs ------------------------------------------------------------------ */

typedef struct url_parts {
	char scheme[8];     /* "http" or "https" */
	const char *auth;   /* authority start */
	size_t auth_len;
	const char *rest;   /* path, query... */
} url_parts;

static bool split_url(const char *url, url_parts *u)
{
	const char *p;

	if (strncasecmp(url, "http://", 7) == 0) {
		strcpy(u->scheme, "http");
		p = url + 7;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		strcpy(u->scheme, "https");
		p = url + 8;
	} else {
		return false;
	}
	u->auth = p;
	u->auth_len = strcspn(p, "/?#");
	u->rest = p + u->auth_len;
	if (u->auth_len == 0 || memchr(u->auth, '@', u->auth_len))
		return false;
	for (const char *q = url; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return false;
	return true;
}

/* Lowercased host and numeric port of an authority. */
static bool authority_host_port(const url_parts *u, char *host, size_t hostsz, long *port)
{
	const char *a = u->auth, *end = u->auth + u->auth_len, *hend, *colon = NULL;

	if (*a == '[') {
		hend = memchr(a, ']', u->auth_len);
		if (!hend)
			return false;
		hend++;
		if (hend < end) {
			if (*hend != ':')
				return false;
			colon = hend;
		}
	} else {
		colon = memchr(a, ':', u->auth_len);
		hend = colon ? colon : end;
	}
	if ((size_t)(hend - a) >= hostsz)
		return false;
	for (size_t i = 0; i < (size_t)(hend - a); i++)
		host[i] = (char)tolower((unsigned char)a[i]);
	host[hend - a] = '\0';
	if (colon && colon + 1 < end) {
		char *e;
		long v = strtol(colon + 1, &e, 10);
		if (e != end || v <= 0 || v > 65535)
			return false;
		*port = v;
	} else {
		*port = strcmp(u->scheme, "https") == 0 ? 443 : 80;
	}
	return true;
}

bool tpg_registry_same_origin(const char *a, const char *b)
{
	url_parts ua, ub;
	char ha[300], hb[300];
	long pa, pb;

	if (!a || !b || !split_url(a, &ua) || !split_url(b, &ub))
		return false;
	if (!authority_host_port(&ua, ha, sizeof(ha), &pa) ||
	    !authority_host_port(&ub, hb, sizeof(hb), &pb))
		return false;
	return strcmp(ua.scheme, ub.scheme) == 0 && strcmp(ha, hb) == 0 && pa == pb;
}

char *tpg_registry_resolve_url(const char *base, const char *ref)
{
	url_parts ub, ur;
	char *out;

	if (!base || !ref || !split_url(base, &ub))
		return NULL;
	if (strncasecmp(ref, "http://", 7) == 0 || strncasecmp(ref, "https://", 8) == 0) {
		out = tpg_xstrdup(ref);
	} else if (ref[0] == '/' && ref[1] == '/') {
		out = tpg_xasprintf("%s:%s", ub.scheme, ref);
	} else if (ref[0] == '/') {
		out = tpg_xasprintf("%s://%.*s%s", ub.scheme, (int)ub.auth_len, ub.auth, ref);
	} else {
		size_t colon = strcspn(ref, ":/?#");
		if (ref[colon] == ':')
			return NULL;  /* another scheme */
		const char *path = ub.rest;
		size_t plen = strcspn(path, "?#");
		const char *slash = NULL;
		for (size_t i = 0; i < plen; i++)
			if (path[i] == '/')
				slash = path + i;
		if (!slash)
			out = tpg_xasprintf("%s://%.*s/%s", ub.scheme, (int)ub.auth_len, ub.auth, ref);
		else
			out = tpg_xasprintf("%s://%.*s%.*s%s", ub.scheme, (int)ub.auth_len, ub.auth,
					    (int)(slash - path + 1), path, ref);
	}
	if (!split_url(out, &ur)) {
		free(out);
		return NULL;
	}
	return out;
}

/* --- insecure hosts ----------------------------------------------------------- */

/* "[::1]:5000" -> "::1"; "localhost:5000" -> "localhost" (lowercased). */
static void domain_host(const char *domain, char *host, size_t sz)
{
	size_t n;
	const char *start = domain;

	if (*domain == '[') {
		const char *close = strchr(domain, ']');
		start = domain + 1;
		n = close ? (size_t)(close - start) : strlen(start);
	} else {
		n = strcspn(domain, ":");
	}
	if (n >= sz)
		n = sz - 1;
	for (size_t i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)start[i]);
	host[n] = '\0';
}

static bool is_loopback_v4(const char *h)
{
	unsigned a, b, c, d;
	char tail;

	return sscanf(h, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 &&
	       b < 256 && c < 256 && d < 256;
}

bool tpg_registry_is_insecure(const char *domain, const char *const *insecure)
{
	char host[300];

	if (!domain)
		return false;
	domain_host(domain, host, sizeof(host));
	if (strcmp(host, "localhost") == 0 || is_loopback_v4(host) || strcmp(host, "::1") == 0)
		return true;
	for (size_t i = 0; insecure && insecure[i]; i++) {
		const char *e = insecure[i];
		char ehost[300];
		if (strncasecmp(e, "http://", 7) == 0)
			e += 7;
		else if (strncasecmp(e, "https://", 8) == 0)
			e += 8;
		size_t elen = strcspn(e, "/");
		if (elen == strlen(domain) && strncasecmp(e, domain, elen) == 0)
			return true;
		/* An entry without a port covers every port of the host. */
		char *copy = tpg_xstrndup(e, elen);
		bool has_port = copy[0] == '[' ? strstr(copy, "]:") != NULL : strchr(copy, ':') != NULL;
		domain_host(copy, ehost, sizeof(ehost));
		free(copy);
		if (!has_port && strcmp(ehost, host) == 0)
			return true;
	}
	return false;
}

/* --- error answers ----------------------------------------------------------- */

/* Server text in a message: printable ASCII, capped. */
static void put_server_text(tpg_buf *b, const char *s, size_t max)
{
	size_t n = 0;

	for (; s && *s && n < max; s++, n++)
		tpg_buf_putc(b, (*s >= 0x20 && *s < 0x7f) ? *s : '?');
	if (s && *s)
		tpg_buf_puts(b, "...");
}

static void what_ref(tpg_buf *b, const char *ref, bool blob)
{
	if (blob)
		tpg_buf_printf(b, "blob %s", ref ? ref : "?");
	else if (tpg_imageref_valid_digest(ref))
		tpg_buf_printf(b, "manifest %s", ref);
	else
		tpg_buf_printf(b, "tag %s", ref ? ref : "?");
}

int tpg_registry_error_from_answer(long status, const char *body, bool body_cut,
				   const char *host, const char *repo, const char *ref,
				   tpg_err *err)
{
	return tpg_registry_answer_error(status, body, body_cut, host, repo, ref, false, err);
}

int tpg_registry_answer_error(long status, const char *body, bool body_cut, const char *host,
			      const char *repo, const char *ref, bool blob, tpg_err *err)
{
	json_t *root = NULL, *first = NULL;
	const char *code = NULL, *message = NULL;
	tpg_buf b = TPG_BUF_INIT;
	int rc;

	host = host ? host : "the registry";
	if (body && *body && !body_cut) {
		root = json_loads(body, 0, NULL);
		json_t *errors = json_object_get(root, "errors");
		if (json_is_array(errors) && json_array_size(errors) > 0)
			first = json_array_get(errors, 0);
		code = json_string_value(json_object_get(first, "code"));
		message = json_string_value(json_object_get(first, "message"));
	}
	if (code && strcmp(code, "NAME_UNKNOWN") == 0) {
		rc = TPG_ENOTFOUND;
		tpg_buf_printf(&b, "repository %s not found in %s", repo ? repo : "?", host);
	} else if (code && strcmp(code, "MANIFEST_UNKNOWN") == 0) {
		rc = TPG_ENOTFOUND;
		what_ref(&b, ref, blob);
		tpg_buf_printf(&b, " not found in repository %s of %s", repo ? repo : "?", host);
	} else if (code && strcmp(code, "BLOB_UNKNOWN") == 0) {
		rc = TPG_ENOTFOUND;
		tpg_buf_printf(&b, "blob %s not found in repository %s of %s", ref ? ref : "?",
			       repo ? repo : "?", host);
	} else if ((code && strcmp(code, "UNAUTHORIZED") == 0) || (!code && status == 401)) {
		rc = TPG_EAUTH;
		tpg_buf_printf(&b, "%s requires authentication", host);
		if (repo)
			tpg_buf_printf(&b, " for repository %s", repo);
	} else if ((code && strcmp(code, "DENIED") == 0) || (!code && status == 403)) {
		rc = TPG_EDENIED;
		if (repo)
			tpg_buf_printf(&b, "access to repository %s in %s denied", repo, host);
		else
			tpg_buf_printf(&b, "access to %s denied", host);
	} else if ((code && strcmp(code, "TOOMANYREQUESTS") == 0) || (!code && status == 429)) {
		rc = TPG_EUNAVAIL;
		tpg_buf_printf(&b, "%s refused the request: too many requests (rate limit), "
			       "try again later", host);
	} else if (code && strcmp(code, "UNSUPPORTED") == 0) {
		rc = TPG_EPROTO;
		tpg_buf_printf(&b, "%s does not support this operation", host);
	} else if (!code && status == 404) {
		rc = TPG_ENOTFOUND;
		if (repo && ref) {
			what_ref(&b, ref, blob);
			tpg_buf_printf(&b, " not found in repository %s of %s", repo, host);
		} else if (repo) {
			tpg_buf_printf(&b, "repository %s not found in %s", repo, host);
		} else {
			tpg_buf_printf(&b, "%s answered 404 not found", host);
		}
	} else if (code) {
		rc = status >= 500 ? TPG_EUNAVAIL
		     : (strstr(code, "INVALID") || strstr(code, "UNKNOWN")) ? TPG_EINVAL : TPG_EPROTO;
		tpg_buf_printf(&b, "%s answered HTTP %ld: ", host, status);
		put_server_text(&b, code, 64);
	} else if (status >= 500) {
		rc = TPG_EUNAVAIL;
		tpg_buf_printf(&b, "%s answered HTTP %ld (server error)", host, status);
	} else {
		rc = TPG_EPROTO;
		tpg_buf_printf(&b, "%s answered HTTP %ld", host, status);
	}
	if (message && *message && rc != TPG_ENOTFOUND) {
		tpg_buf_puts(&b, " (");
		put_server_text(&b, message, 200);
		tpg_buf_puts(&b, ")");
	}
	if (body_cut)
		tpg_buf_puts(&b, " (its error body was too large and was not read)");
	tpg_err_set(err, rc, "%s", tpg_buf_cstr(&b));
	tpg_buf_free(&b);
	json_decref(root);
	return rc;
}

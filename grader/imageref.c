/* imageref.c - image references, normalised like the docker CLI does. */
#include "tpgrade/imageref.h"
#include "tpgrade/buf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return isalnum((unsigned char)c) != 0;
}

/* One path component of [s, s+n): [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool valid_component(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum(s[0]))
		return false;
	while (i < n) {
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

bool tpg_imageref_valid_path(const char *path)
{
	const char *p = path;

	if (!path || !*path)
		return false;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (!valid_component(p, n))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

/* A DNS label: [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool valid_label(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool valid_port(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	long v = strtol(s, NULL, 10);
	return v >= 1 && v <= 65535;
}

bool tpg_imageref_valid_domain(const char *d)
{
	const char *port = NULL;
	const char *host_end;

	if (!d || !*d)
		return false;
	if (d[0] == '[') {
		const char *close = strchr(d, ']');
		if (!close || close == d + 1)
			return false;
		for (const char *p = d + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':')
				return false;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return false;
		return port ? valid_port(port) : true;
	}
	host_end = strchr(d, ':');
	if (host_end)
		port = host_end + 1;
	else
		host_end = d + strlen(d);
	for (const char *p = d; p < host_end;) {
		const char *dot = memchr(p, '.', (size_t)(host_end - p));
		const char *end = dot ? dot : host_end;
		if (!valid_label(p, (size_t)(end - p)))
			return false;
		if (!dot)
			break;
		p = dot + 1;
		if (p == host_end)
			return false;
	}
	return port ? valid_port(port) : true;
}

bool tpg_imageref_valid_tag(const char *tag)
{
	size_t n;

	if (!tag)
		return false;
	n = strlen(tag);
	if (n == 0 || n > TPG_IMAGEREF_TAG_MAX)
		return false;
	if (!is_alnum(tag[0]) && tag[0] != '_')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(tag[i]) && tag[i] != '_' && tag[i] != '.' && tag[i] != '-')
			return false;
	return true;
}

static bool all_lower_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool tpg_imageref_valid_digest(const char *d)
{
	if (!d)
		return false;
	if (strncmp(d, "sha256:", 7) == 0)
		return all_lower_hex(d + 7, 64);
	if (strncmp(d, "sha384:", 7) == 0)
		return all_lower_hex(d + 7, 96);
	if (strncmp(d, "sha512:", 7) == 0)
		return all_lower_hex(d + 7, 128);
	return false;
}

/* The reference as shown in messages: capped, control characters escaped. */
static void quote_ref(tpg_buf *b, const char *s)
{
	size_t n = 0;

	tpg_buf_putc(b, '"');
	for (; *s && n < 200; s++, n++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			tpg_buf_printf(b, "\\x%02x", c);
		else if (c == '"' || c == '\\')
			tpg_buf_printf(b, "\\%c", c);
		else
			tpg_buf_putc(b, (char)c);
	}
	if (*s)
		tpg_buf_puts(b, "...");
	tpg_buf_putc(b, '"');
}

__attribute__((format(printf, 3, 4)))
static int invalid(tpg_err *err, const char *ref, const char *fmt, ...)
{
	tpg_buf b = TPG_BUF_INIT;
	va_list ap;

	tpg_buf_puts(&b, "invalid image reference ");
	quote_ref(&b, ref);
	tpg_buf_puts(&b, ": ");
	va_start(ap, fmt);
	tpg_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	tpg_err_set(err, TPG_EINVAL, "%s", tpg_buf_cstr(&b));
	tpg_buf_free(&b);
	return TPG_EINVAL;
}

static bool has_upper(const char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return true;
	return false;
}

void tpg_imageref_free(tpg_imageref *r)
{
	if (!r)
		return;
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	free(r);
}

/* Finds which part of a path breaks the grammar, for the message. */
static int invalid_path(tpg_err *err, const char *ref, const char *path)
{
	const char *p = path;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0)
			return invalid(err, ref, "empty path component (a name cannot start "
				       "or end with '/' or contain '//')");
		if (!valid_component(p, n)) {
			char *comp = tpg_xstrndup(p, n < 100 ? n : 100);
			int rc = invalid(err, ref, "invalid name component \"%s\": use lowercase "
					 "letters and digits, separated by '.', '_', '__' or dashes, "
					 "starting and ending with a letter or digit", comp);
			free(comp);
			return rc;
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	return invalid(err, ref, "invalid repository name");
}

int tpg_imageref_parse(const char *s, tpg_imageref **out, tpg_err *err)
{
	const char *at, *name_end, *colon = NULL, *last_slash = NULL, *first_slash;
	char *name = NULL, *domain = NULL, *path = NULL, *tag = NULL, *digest = NULL;
	tpg_imageref *r;
	int rc;

	*out = NULL;
	if (!s || !*s)
		return tpg_err_set(err, TPG_EINVAL, "invalid image reference: it is empty");
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return invalid(err, s, "it contains whitespace or control characters");
	if (all_lower_hex(s, 64))
		return invalid(err, s, "a 64-character hexadecimal string is an image ID, "
			       "not a repository name");

	at = strchr(s, '@');
	if (at) {
		if (strchr(at + 1, '@'))
			return invalid(err, s, "more than one '@'");
		if (!tpg_imageref_valid_digest(at + 1))
			return invalid(err, s, "invalid digest after '@' (expected sha256: "
				       "followed by 64 lowercase hexadecimal digits)");
		name_end = at;
	} else {
		name_end = s + strlen(s);
	}
	for (const char *p = s; p < name_end; p++) {
		if (*p == '/')
			last_slash = p;
		else if (*p == ':')
			colon = p;
	}
	if (colon && last_slash && colon < last_slash)
		colon = NULL;   /* a port of the domain, not a tag */
	if (colon) {
		tag = tpg_xstrndup(colon + 1, (size_t)(name_end - colon - 1));
		if (!tpg_imageref_valid_tag(tag)) {
			rc = invalid(err, s, "invalid tag \"%.130s\": a tag has 1 to 128 letters, "
				     "digits, '_', '.' or '-' and cannot start with '.' or '-'", tag);
			goto fail;
		}
		name = tpg_xstrndup(s, (size_t)(colon - s));
	} else {
		name = tpg_xstrndup(s, (size_t)(name_end - s));
	}
	if (!*name) {
		rc = invalid(err, s, "the repository name is empty");
		goto fail;
	}

	/* Docker's domain split: the first component is a domain only if it
	 * looks like one. */
	first_slash = strchr(name, '/');
	if (first_slash) {
		size_t n = (size_t)(first_slash - name);
		char *first = tpg_xstrndup(name, n);
		bool is_domain = strpbrk(first, ".:") || strcmp(first, "localhost") == 0 ||
				 has_upper(first);
		if (is_domain) {
			domain = first;
			path = tpg_xstrdup(first_slash + 1);
		} else {
			free(first);
		}
	}
	if (!domain) {
		domain = tpg_xstrdup(TPG_IMAGEREF_DOCKER_HUB);
		path = tpg_xstrdup(name);
	}
	if (strcmp(domain, "index.docker.io") == 0) {
		free(domain);
		domain = tpg_xstrdup(TPG_IMAGEREF_DOCKER_HUB);
	}
	if (strcmp(domain, TPG_IMAGEREF_DOCKER_HUB) == 0 && !strchr(path, '/')) {
		char *p = tpg_xasprintf("library/%s", path);
		free(path);
		path = p;
	}
	if (!tpg_imageref_valid_domain(domain)) {
		rc = invalid(err, s, "invalid registry host \"%.200s\" (expected a host name, "
			     "an IPv4 address or [IPv6], with an optional :port)", domain);
		goto fail;
	}
	if (has_upper(path)) {
		rc = invalid(err, s, "repository name must be lowercase");
		goto fail;
	}
	if (!tpg_imageref_valid_path(path)) {
		rc = invalid_path(err, s, path);
		goto fail;
	}
	if (strlen(domain) + 1 + strlen(path) > TPG_IMAGEREF_NAME_MAX) {
		rc = invalid(err, s, "repository name must not be more than %d characters",
			     TPG_IMAGEREF_NAME_MAX);
		goto fail;
	}
	if (at)
		digest = tpg_xstrdup(at + 1);

	r = tpg_xcalloc(1, sizeof(*r));
	r->domain = domain;
	r->path = path;
	r->digest = digest;
	if (!tag && !digest) {
		tag = tpg_xstrdup("latest");
		r->tag_implicit = true;
	}
	r->tag = tag;
	free(name);
	*out = r;
	return 0;
fail:
	free(name);
	free(domain);
	free(path);
	free(tag);
	free(digest);
	return rc;
}

static void append_tag_digest(tpg_buf *b, const tpg_imageref *r)
{
	if (r->tag)
		tpg_buf_printf(b, ":%s", r->tag);
	if (r->digest)
		tpg_buf_printf(b, "@%s", r->digest);
}

char *tpg_imageref_string(const tpg_imageref *r)
{
	tpg_buf b = TPG_BUF_INIT;

	tpg_buf_printf(&b, "%s/%s", r->domain, r->path);
	append_tag_digest(&b, r);
	return tpg_buf_detach(&b);
}

char *tpg_imageref_familiar_name(const tpg_imageref *r)
{
	if (strcmp(r->domain, TPG_IMAGEREF_DOCKER_HUB) == 0) {
		const char *p = r->path;
		if (strncmp(p, "library/", 8) == 0 && !strchr(p + 8, '/'))
			p += 8;
		return tpg_xstrdup(p);
	}
	return tpg_xasprintf("%s/%s", r->domain, r->path);
}

char *tpg_imageref_familiar(const tpg_imageref *r)
{
	tpg_buf b = TPG_BUF_INIT;
	char *name = tpg_imageref_familiar_name(r);

	tpg_buf_puts(&b, name);
	free(name);
	append_tag_digest(&b, r);
	return tpg_buf_detach(&b);
}

const char *tpg_imageref_manifest_ref(const tpg_imageref *r)
{
	return r->digest ? r->digest : r->tag;
}

const char *tpg_imageref_api_host(const char *domain)
{
	if (domain && (strcmp(domain, TPG_IMAGEREF_DOCKER_HUB) == 0 ||
		       strcmp(domain, "index.docker.io") == 0))
		return TPG_IMAGEREF_DOCKER_HUB_API;
	return domain;
}

const char *tpg_imageref_config_key(const char *domain)
{
	if (domain && (strcmp(domain, TPG_IMAGEREF_DOCKER_HUB) == 0 ||
		       strcmp(domain, "index.docker.io") == 0))
		return TPG_IMAGEREF_DOCKER_HUB_KEY;
	return domain;
}

/* registry_auth.c - the registry client's HTTP layer: one request with curl,
 * redirects followed by hand (credentials only to their own origin),
 * WWW-Authenticate challenges, bearer tokens and their cache, lazy
 * credential lookup, and scrubbing of secrets from messages. */
#include "registry_priv.h"
#include "tpgrade/imageref.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CHALLENGES 8

/* --- secrets --------------------------------------------------------------- */

void tpg_registry_add_secret(tpg_registry *reg, const char *secret)
{
	if (!secret || strlen(secret) < 3 || tpg_strv_contains(&reg->secrets, secret))
		return;
	tpg_strv_push(&reg->secrets, secret);
}

void tpg_registry_add_password(tpg_registry *reg, const char *user, const char *password)
{
	if (!password)
		return;
	tpg_registry_add_secret(reg, password);
	/* Its Basic header too, minus "Basic ": base64 of user:password. */
	char *h = tpg_cred_basic_header(user, password);
	tpg_registry_add_secret(reg, h + 6);
	tpg_cred_wipe_free(h);
}

int tpg_registry_finish(tpg_registry *reg, int rc, tpg_err *err)
{
	if (!err || !reg)
		return rc;
	for (size_t i = 0; i < reg->secrets.len; i++) {
		const char *s = reg->secrets.items[i];
		size_t n = strlen(s);
		char *hit;
		while ((hit = strstr(err->msg, s)) != NULL) {
			static const char red[] = "[redacted]";
			size_t tail = strlen(hit + n);
			char tmp[TPG_ERR_MSG_MAX];
			memcpy(tmp, hit + n, tail + 1);
			size_t room = sizeof(err->msg) - (size_t)(hit - err->msg) - 1;
			size_t rl = sizeof(red) - 1 < room ? sizeof(red) - 1 : room;
			memcpy(hit, red, rl);
			size_t tl = tail < room - rl ? tail : room - rl;
			memcpy(hit + rl, tmp, tl);
			hit[rl + tl] = '\0';
			explicit_bzero(tmp, sizeof(tmp));
		}
	}
	return rc;
}

/* --- one HTTP exchange -------------------------------------------------------- */

void tpg_registry_resp_free(reg_resp *r)
{
	if (!r)
		return;
	tpg_buf_free(&r->body);
	free(r->content_type);
	free(r->digest);
	free(r->location);
	free(r->link);
	tpg_strv_free(&r->challenges);
	free(r->url);
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
}

static void set_str(char **slot, const char *v, size_t n)
{
	free(*slot);
	*slot = tpg_xstrndup(v, n);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	reg_resp *r = ud;
	size_t n = size * nmemb, len = n;
	const char *colon;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue): forget earlier headers. */
		size_t cap = r->cap;
		long long deadline = r->deadline;
		tpg_registry_resp_free(r);
		r->cap = cap;
		r->deadline = deadline;
		return n;
	}
	while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	colon = memchr(data, ':', len);
	if (!colon)
		return n;
	size_t nlen = (size_t)(colon - data);
	const char *v = colon + 1;
	size_t vlen = len - nlen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (vlen > TPG_REGISTRY_HEADER_MAX)
		vlen = TPG_REGISTRY_HEADER_MAX;
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(data, name, nlen) == 0)
	if (IS("content-type"))
		set_str(&r->content_type, v, vlen);
	else if (IS("docker-content-digest"))
		set_str(&r->digest, v, vlen);
	else if (IS("location"))
		set_str(&r->location, v, vlen);
	else if (IS("link"))
		set_str(&r->link, v, vlen);
	else if (IS("content-length")) {
		char num[32];
		size_t k = vlen < sizeof(num) - 1 ? vlen : sizeof(num) - 1;
		memcpy(num, v, k);
		num[k] = '\0';
		r->content_length = strtoll(num, NULL, 10);
	}
	else if (IS("www-authenticate") && r->challenges.len < MAX_CHALLENGES)
		tpg_strv_push_owned(&r->challenges, tpg_xstrndup(v, vlen));
#undef IS
	return n;
}

typedef struct write_ctx {
	reg_resp *resp;
	CURL *curl;
} write_ctx;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	write_ctx *w = ud;
	reg_resp *r = w->resp;
	size_t n = size * nmemb;
	long status = 0;
	size_t cap;

	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
	cap = (status >= 200 && status < 300 && r->cap) ? r->cap : TPG_REGISTRY_ERROR_BODY_MAX;
	if (r->body.len + n > cap) {
		/* Keep the head, stop reading: a huge body is never held whole. */
		tpg_buf_append(&r->body, data, cap - r->body.len);
		r->body_cut = true;
		return 0;
	}
	tpg_buf_append(&r->body, data, n);
	return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	reg_resp *r = ud;
	TPG_UNUSED(dltotal);
	TPG_UNUSED(dlnow);
	TPG_UNUSED(ultotal);
	TPG_UNUSED(ulnow);
	if (tpg_interrupted())
		return 1;
	if (r->deadline > 0 && tpg_now_ms() >= r->deadline)
		return 1;
	return 0;
}

static bool is_tls_error(CURLcode c)
{
	switch (c) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return true;
	default:
		return false;
	}
}

/*
 * One exchange, no redirect following. `what` names the peer in messages
 * ("the registry", "the token server"). The URL never holds credentials.
 */
static int http_once(tpg_registry *reg, const char *what, const char *method, const char *url,
		     const char *authz, const reg_req *req, reg_resp *resp, tpg_err *err)
{
	CURL *c = reg->curl;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	char *auth_line = NULL;
	write_ctx wctx = {resp, c};
	long long now = tpg_now_ms(), left;
	CURLcode res;
	int rc = 0;

	if (tpg_interrupted())
		return tpg_err_set(err, TPG_ECANCELED, "interrupted before contacting %s at %s",
				   what, url);
	left = reg->timeout_ms;
	if (req->deadline > 0) {
		if (req->deadline - now <= 0)
			return tpg_err_set(err, TPG_ETIMEOUT, "deadline passed before contacting "
					   "%s at %s", what, url);
		if (req->deadline - now < left)
			left = req->deadline - now;
	}
	tpg_registry_resp_free(resp);
	resp->cap = req->cap;
	resp->deadline = req->deadline;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_USERAGENT, reg->user_agent);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	curl_easy_setopt(c, CURLOPT_NOPROXY, reg->noproxy);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &wctx);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, resp);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	if (reg->ca_bundle)
		curl_easy_setopt(c, CURLOPT_CAINFO, reg->ca_bundle);

	if (req->accept) {
		char *h = tpg_xasprintf("Accept: %s", req->accept);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	if (req->content_type) {
		char *h = tpg_xasprintf("Content-Type: %s", req->content_type);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	if (authz) {
		auth_line = tpg_xasprintf("Authorization: %s", authz);
		hdrs = curl_slist_append(hdrs, auth_line);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}

	reg->stats.requests++;
	res = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->body.len > reg->stats.max_body_kept)
		reg->stats.max_body_kept = resp->body.len;

	if (res == CURLE_OK || (res == CURLE_WRITE_ERROR && resp->body_cut)) {
		rc = 0;
	} else if (res == CURLE_ABORTED_BY_CALLBACK && tpg_interrupted()) {
		rc = tpg_err_set(err, TPG_ECANCELED, "interrupted while talking to %s at %s",
				 what, url);
	} else if (res == CURLE_OPERATION_TIMEDOUT || res == CURLE_ABORTED_BY_CALLBACK) {
		rc = tpg_err_set(err, TPG_ETIMEOUT, "no answer from %s at %s within %lld ms",
				 what, url, left);
	} else if (is_tls_error(res)) {
		rc = tpg_err_set(err, TPG_EUNAVAIL, "TLS error with %s at %s: %s (%s%s)", what, url,
				 errbuf[0] ? errbuf : curl_easy_strerror(res),
				 reg->ca_bundle ? "checked with the CA bundle " : "if it only speaks "
				 "plain HTTP, list it as an insecure registry; for a private CA, "
				 "give its CA bundle", reg->ca_bundle ? reg->ca_bundle : "");
	} else if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST ||
		   res == CURLE_COULDNT_RESOLVE_PROXY || res == CURLE_GOT_NOTHING ||
		   res == CURLE_RECV_ERROR || res == CURLE_SEND_ERROR) {
		rc = tpg_err_set(err, TPG_EUNAVAIL, "cannot reach %s at %s: %s", what, url,
				 errbuf[0] ? errbuf : curl_easy_strerror(res));
	} else {
		rc = tpg_err_set(err, TPG_EUNAVAIL, "error talking to %s at %s: %s", what, url,
				 errbuf[0] ? errbuf : curl_easy_strerror(res));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (auth_line)
		tpg_cred_wipe_free(auth_line);
	return rc;
}

static bool is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 ||
	       status == 308;
}

/*
 * Sends, following redirects when req->follow. `authz` goes only to URLs of
 * the same origin as `auth_origin`: a registry redirecting a blob to a
 * storage host never gets our credentials forwarded.
 */
static int send_following(tpg_registry *reg, const char *what, const reg_req *req,
			  const char *auth_origin, const char *authz, reg_resp *resp,
			  tpg_err *err)
{
	char *url = tpg_xstrdup(req->url);
	const char *method = req->method;
	int rc;

	for (int hops = 0;; hops++) {
		const char *a = authz && tpg_registry_same_origin(url, auth_origin) ? authz : NULL;
		rc = http_once(reg, what, method, url, a, req, resp, err);
		if (rc != 0)
			break;
		if (!req->follow || !is_redirect(resp->status) || !resp->location)
			break;
		if (hops >= TPG_REGISTRY_MAX_REDIRECTS) {
			rc = tpg_err_set(err, TPG_EPROTO, "too many redirects from %s (last: %s)",
					 what, url);
			break;
		}
		char *next = tpg_registry_resolve_url(url, resp->location);
		if (!next) {
			rc = tpg_err_set(err, TPG_EPROTO, "%s at %s redirected to an unusable "
					 "location (not http(s), or with credentials in it)", what, url);
			break;
		}
		if (resp->status == 303 && strcmp(method, "HEAD") != 0)
			method = "GET";
		reg->stats.redirects++;
		free(url);
		url = next;
	}
	if (rc == 0) {
		free(resp->url);
		resp->url = url;
	} else {
		free(url);
	}
	return rc;
}

/* --- credentials ------------------------------------------------------------- */

static int ensure_creds(tpg_registry *reg, long long deadline, tpg_err *err)
{
	tpg_cred_opts o = {0};
	tpg_err cerr = {0};
	int rc;

	if (reg->cred_state != REG_CRED_UNKNOWN)
		return 0;
	if (reg->anonymous) {
		reg->cred_state = REG_CRED_NONE;
		snprintf(reg->cred_note, sizeof(reg->cred_note),
			 "credentials are not looked up for %s (anonymous access asked)", reg->domain);
		return 0;
	}
	o.username = reg->username;
	o.password = reg->password;
	o.docker_auth_config = reg->docker_auth_config;
	o.config_dir = reg->docker_config_dir;
	o.no_env = reg->no_env;
	o.deadline = deadline;
	rc = tpg_cred_lookup(reg->domain, &o, &reg->cred, &cerr);
	if (rc == TPG_ECANCELED)
		return tpg_err_set(err, rc, "%s", cerr.msg);
	if (rc == 0) {
		reg->cred_state = REG_CRED_FOUND;
		tpg_registry_add_password(reg, reg->cred.username, reg->cred.password);
		tpg_registry_add_secret(reg, reg->cred.identity_token);
	} else {
		reg->cred_state = REG_CRED_NONE;
		memcpy(reg->cred_note, cerr.msg, sizeof(reg->cred_note));
	}
	return 0;
}

static bool have_basic(const tpg_registry *reg)
{
	return reg->cred_state == REG_CRED_FOUND && reg->cred.password;
}

/* --- tokens ---------------------------------------------------------------- */

static reg_token *find_token(tpg_registry *reg, const char *scope)
{
	for (size_t i = 0; i < reg->n_tokens; i++)
		if (strcmp(reg->tokens[i].scope, scope ? scope : "") == 0)
			return &reg->tokens[i];
	return NULL;
}

static void drop_token(tpg_registry *reg, const char *scope)
{
	reg_token *t = find_token(reg, scope);
	if (t) {
		tpg_cred_wipe_free(t->token);
		t->token = NULL;
		t->expires = 0;
	}
}

static void store_token(tpg_registry *reg, const char *scope, const char *token,
			long long expires)
{
	reg_token *t = find_token(reg, scope);
	if (!t) {
		TPG_ARRAY_GROW(reg->tokens, reg->n_tokens, reg->cap_tokens);
		t = &reg->tokens[reg->n_tokens++];
		t->scope = tpg_xstrdup(scope ? scope : "");
		t->token = NULL;
	}
	tpg_cred_wipe_free(t->token);
	t->token = tpg_xstrdup(token);
	t->expires = expires;
	tpg_registry_add_secret(reg, token);
}

void tpg_registry_auth_free(tpg_registry *reg)
{
	for (size_t i = 0; i < reg->n_tokens; i++) {
		free(reg->tokens[i].scope);
		tpg_cred_wipe_free(reg->tokens[i].token);
	}
	free(reg->tokens);
	reg->tokens = NULL;
	reg->n_tokens = reg->cap_tokens = 0;
	free(reg->realm);
	free(reg->service);
	reg->realm = reg->service = NULL;
	tpg_cred_free(&reg->cred);
	for (size_t i = 0; i < reg->secrets.len; i++)
		explicit_bzero(reg->secrets.items[i], strlen(reg->secrets.items[i]));
	tpg_strv_free(&reg->secrets);
}

static char *url_escape(CURL *c, const char *s)
{
	char *e = curl_easy_escape(c, s, 0);
	char *out = tpg_xstrdup(e ? e : "");
	curl_free(e);
	return out;
}

/* May credentials travel to this token realm? Over https, or plain http to a
 * host the caller treats as insecure (loopback, the insecure list). */
static bool realm_may_get_creds(const tpg_registry *reg, const char *realm)
{
	if (strncasecmp(realm, "https://", 8) == 0)
		return true;
	if (strncasecmp(realm, "http://", 7) != 0)
		return false;
	const char *a = realm + 7;
	char *auth = tpg_xstrndup(a, strcspn(a, "/?#"));
	const char *const *list = (const char *const *)reg->insecure;
	bool ok = tpg_registry_is_insecure(auth, list);
	free(auth);
	return ok;
}

static int fetch_token(tpg_registry *reg, const char *scope, long long deadline, tpg_err *err)
{
	reg_req treq = {0};
	reg_resp resp = {0};
	tpg_buf url = TPG_BUF_INIT, form = TPG_BUF_INIT;
	char *authz = NULL, *realm_probe = NULL;
	bool use_creds, oauth;
	long long started = tpg_now_ms();
	json_t *root = NULL;
	int rc;

	if (!reg->realm)
		return tpg_err_set(err, TPG_EPROTO, "%s asked for a bearer token without a realm",
				   reg->domain);
	realm_probe = tpg_registry_resolve_url(reg->realm, reg->realm);
	if (!realm_probe)
		return tpg_err_set(err, TPG_EPROTO, "%s gave an unusable token realm", reg->domain);
	free(realm_probe);
	rc = ensure_creds(reg, deadline, err);
	if (rc)
		return rc;
	use_creds = reg->cred_state == REG_CRED_FOUND;
	if (use_creds && !realm_may_get_creds(reg, reg->realm))
		return tpg_err_set(err, TPG_EAUTH, "refusing to send the credentials for %s to the "
				   "token server %s over plain HTTP", reg->domain, reg->realm);
	oauth = use_creds && reg->cred.identity_token;

	treq.deadline = deadline;
	treq.cap = TPG_REGISTRY_TOKEN_BODY_MAX;
	treq.follow = !oauth;
	tpg_buf_puts(&url, reg->realm);
	if (oauth) {
		char *e;
		treq.method = "POST";
		treq.content_type = "application/x-www-form-urlencoded";
		tpg_buf_puts(&form, "grant_type=refresh_token&client_id=tpgrade&service=");
		e = url_escape(reg->curl, reg->service ? reg->service : "");
		tpg_buf_puts(&form, e);
		free(e);
		if (scope) {
			e = url_escape(reg->curl, scope);
			tpg_buf_printf(&form, "&scope=%s", e);
			free(e);
		}
		e = url_escape(reg->curl, reg->cred.identity_token);
		tpg_buf_printf(&form, "&refresh_token=%s", e);
		tpg_cred_wipe_free(e);
		treq.body = form.data;
		treq.body_len = form.len;
	} else {
		char sep = strchr(reg->realm, '?') ? '&' : '?';
		treq.method = "GET";
		if (reg->service) {
			char *e = url_escape(reg->curl, reg->service);
			tpg_buf_printf(&url, "%cservice=%s", sep, e);
			free(e);
			sep = '&';
		}
		if (scope) {
			char *e = url_escape(reg->curl, scope);
			tpg_buf_printf(&url, "%cscope=%s", sep, e);
			free(e);
		}
		if (use_creds && have_basic(reg))
			authz = tpg_cred_basic_header(reg->cred.username, reg->cred.password);
	}
	treq.url = tpg_buf_cstr(&url);
	rc = send_following(reg, "the token server", &treq, reg->realm, authz, &resp, err);
	tpg_cred_wipe_free(authz);
	if (form.data)
		explicit_bzero(form.data, form.len);
	tpg_buf_free(&form);
	if (rc)
		goto out;
	if (resp.status == 401 || resp.status == 403) {
		if (use_creds)
			rc = tpg_err_set(err, TPG_EAUTH, "the token server of %s (%s) refused the "
					 "credentials (from %s)", reg->domain, reg->realm,
					 reg->cred.source);
		else
			rc = tpg_err_set(err, TPG_EAUTH, "%s requires authentication and %s",
					 reg->domain, reg->cred_note);
		goto out;
	}
	if (resp.status != 200 || resp.body_cut) {
		rc = tpg_err_set(err, resp.status >= 500 ? TPG_EUNAVAIL : TPG_EPROTO,
				 "the token server of %s (%s) answered HTTP %ld%s", reg->domain,
				 reg->realm, resp.status, resp.body_cut ? " with a body too large" : "");
		goto out;
	}
	root = json_loads(tpg_buf_cstr(&resp.body), 0, NULL);
	const char *tok = json_string_value(json_object_get(root, "token"));
	if (!tok || !*tok)
		tok = json_string_value(json_object_get(root, "access_token"));
	if (!tok || !*tok) {
		rc = tpg_err_set(err, TPG_EPROTO, "the token server of %s (%s) answered without a "
				 "token", reg->domain, reg->realm);
		goto out;
	}
	json_t *ei = json_object_get(root, "expires_in");
	long long secs = json_is_integer(ei) ? json_integer_value(ei)
			 : json_is_real(ei) ? (long long)json_real_value(ei) : 0;
	if (secs <= 0)
		secs = 60;
	if (secs > 86400 * 365)
		secs = 86400 * 365;
	/* Renew a little early: 10% of the lifetime, at most 5 s. */
	long long margin = secs * 100 < 5000 ? secs * 100 : 5000;
	store_token(reg, scope, tok, started + secs * 1000 - margin);
	reg->stats.token_fetches++;
	rc = 0;
out:
	tpg_cred_wipe_json(root);
	json_decref(root);
	if (resp.body.data)
		explicit_bzero(resp.body.data, resp.body.len);
	tpg_registry_resp_free(&resp);
	tpg_buf_free(&url);
	return rc;
}

/* The Authorization value for a request with `scope`, or NULL. */
static int authz_for(tpg_registry *reg, const char *scope, long long deadline, char **out,
		     tpg_err *err)
{
	int rc;

	*out = NULL;
	if (reg->auth_kind == REG_AUTH_BASIC) {
		rc = ensure_creds(reg, deadline, err);
		if (rc)
			return rc;
		if (have_basic(reg))
			*out = tpg_cred_basic_header(reg->cred.username, reg->cred.password);
		return 0;
	}
	if (reg->auth_kind == REG_AUTH_BEARER) {
		reg_token *t = find_token(reg, scope);
		if (!t || !t->token || tpg_now_ms() >= t->expires) {
			rc = fetch_token(reg, scope, deadline, err);
			if (rc)
				return rc;
			t = find_token(reg, scope);
		}
		*out = tpg_xasprintf("Bearer %s", t->token);
	}
	return 0;
}

/* Learns the registry's scheme from a 401. 0, or TPG_EPROTO. */
static int learn_challenge(tpg_registry *reg, const reg_resp *resp, tpg_auth_challenge *ch)
{
	tpg_auth_challenge best = {0};

	/* Prefer Bearer when a registry offers both. */
	for (size_t i = 0; i < resp->challenges.len; i++) {
		tpg_auth_challenge c;
		if (tpg_registry_parse_challenge(resp->challenges.items[i], &c) != 0)
			continue;
		bool better = !best.scheme || (strcmp(c.scheme, "bearer") == 0 &&
					       strcmp(best.scheme, "bearer") != 0);
		if ((strcmp(c.scheme, "bearer") == 0 || strcmp(c.scheme, "basic") == 0) && better) {
			tpg_registry_challenge_free(&best);
			best = c;
		} else {
			tpg_registry_challenge_free(&c);
		}
	}
	*ch = best;
	if (!best.scheme)
		return TPG_EPROTO;
	if (strcmp(best.scheme, "basic") == 0) {
		reg->auth_kind = REG_AUTH_BASIC;
	} else {
		reg->auth_kind = REG_AUTH_BEARER;
		if (best.realm && (!reg->realm || strcmp(reg->realm, best.realm) != 0)) {
			free(reg->realm);
			reg->realm = tpg_xstrdup(best.realm);
		}
		free(reg->service);
		reg->service = tpg_xstrdup(best.service);
	}
	return 0;
}

static int auth_failure(tpg_registry *reg, const reg_req *req, const tpg_auth_challenge *ch,
			bool sent, tpg_err *err)
{
	const char *what = req->scope ? req->scope : "the registry API";

	if (reg->cred_state != REG_CRED_FOUND)
		return tpg_err_set(err, TPG_EAUTH, "%s requires authentication (%s) and %s",
				   reg->domain, what, reg->cred_note[0] ? reg->cred_note
				   : "no credentials were given");
	if (ch && ch->error && strcmp(ch->error, "insufficient_scope") == 0)
		return tpg_err_set(err, TPG_EDENIED, "the credentials for %s (from %s) do not "
				   "give access to %s", reg->domain, reg->cred.source, what);
	if (sent)
		return tpg_err_set(err, TPG_EAUTH, "%s refused the credentials (from %s)",
				   reg->domain, reg->cred.source);
	return tpg_err_set(err, TPG_EAUTH, "%s requires authentication (%s) that the "
			   "credentials (from %s) cannot provide", reg->domain, what,
			   reg->cred.source);
}

int tpg_registry_request(tpg_registry *reg, const reg_req *req, reg_resp *resp, tpg_err *err)
{
	int rc;

	/*
	 * Up to three rounds: anonymous (to learn the challenge), with
	 * credentials or a token, and once more after a refused token (expired
	 * or revoked early), with a fresh one.
	 */
	for (int attempt = 0, refused = 0;; attempt++) {
		char *authz = NULL;
		tpg_auth_challenge ch = {0};
		bool sent;

		rc = authz_for(reg, req->scope, req->deadline, &authz, err);
		if (rc)
			return rc;
		rc = send_following(reg, "the registry", req, reg->base_url, authz, resp, err);
		sent = authz != NULL;
		tpg_cred_wipe_free(authz);
		if (rc)
			return rc;
		if (resp->status != 401) {
			if (reg->auth_kind == REG_AUTH_UNKNOWN && resp->status < 400)
				reg->auth_kind = REG_AUTH_NONE;
			return 0;
		}
		if (learn_challenge(reg, resp, &ch) != 0)
			return tpg_err_set(err, TPG_EAUTH, "%s answered 401 (authentication "
					   "required) without a usable WWW-Authenticate challenge",
					   reg->domain);
		if (sent && refused++ >= 1)
			goto fail;
		if (!sent && attempt >= 1)
			goto fail;   /* we could not produce an Authorization */
		if (reg->auth_kind == REG_AUTH_BASIC) {
			if (sent)
				goto fail;   /* the same credentials would be refused again */
			rc = ensure_creds(reg, req->deadline, err);
			if (rc) {
				tpg_registry_challenge_free(&ch);
				return rc;
			}
			if (!have_basic(reg))
				goto fail;
		} else {
			drop_token(reg, req->scope);
			if (sent && reg->cred_state != REG_CRED_FOUND && ch.error &&
			    strcmp(ch.error, "insufficient_scope") == 0)
				goto fail;   /* anonymous tokens will not get better */
		}
		if (sent)
			reg->stats.auth_retries++;
		tpg_registry_challenge_free(&ch);
		continue;
fail:
		rc = auth_failure(reg, req, &ch, sent, err);
		tpg_registry_challenge_free(&ch);
		return rc;
	}
}

int tpg_registry_do_ping(tpg_registry *reg, long long deadline, tpg_err *err)
{
	reg_req req = {0};
	reg_resp resp = {0};
	tpg_auth_challenge ch = {0};
	char *url = tpg_xasprintf("%s/v2/", reg->base_url);
	char *authz = NULL;
	int rc;

	req.method = "GET";
	req.url = url;
	req.deadline = deadline;
	req.follow = true;
	req.cap = TPG_REGISTRY_ERROR_BODY_MAX;
	rc = send_following(reg, "the registry", &req, reg->base_url, NULL, &resp, err);
	if (rc)
		goto out;
	if (resp.status == 200) {
		reg->auth_kind = REG_AUTH_NONE;
		goto out;
	}
	if (resp.status != 401) {
		rc = tpg_err_set(err, resp.status >= 500 ? TPG_EUNAVAIL : TPG_EPROTO,
				 "%s does not answer like a Docker registry: GET %s gave HTTP %ld",
				 reg->domain, url, resp.status);
		goto out;
	}
	if (learn_challenge(reg, &resp, &ch) != 0) {
		rc = tpg_err_set(err, TPG_EAUTH, "%s answered 401 (authentication required) "
				 "without a usable WWW-Authenticate challenge", reg->domain);
		goto out;
	}
	rc = ensure_creds(reg, deadline, err);
	if (rc || reg->cred_state != REG_CRED_FOUND)
		goto out;  /* reachable; anonymous access may still work */
	if (reg->auth_kind == REG_AUTH_BEARER) {
		rc = fetch_token(reg, NULL, deadline, err);
		if (rc)
			goto out;
	}
	rc = authz_for(reg, NULL, deadline, &authz, err);
	if (rc)
		goto out;
	if (!authz) {
		rc = auth_failure(reg, &req, &ch, false, err);
		goto out;
	}
	rc = send_following(reg, "the registry", &req, reg->base_url, authz, &resp, err);
	if (rc == 0 && resp.status == 401)
		rc = auth_failure(reg, &req, &ch, true, err);
	else if (rc == 0 && resp.status != 200)
		rc = tpg_err_set(err, TPG_EPROTO, "%s answered HTTP %ld to GET %s", reg->domain,
				 resp.status, url);
out:
	tpg_cred_wipe_free(authz);
	tpg_registry_challenge_free(&ch);
	tpg_registry_resp_free(&resp);
	free(url);
	return rc;
}

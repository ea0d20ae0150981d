/* registry.c - the registry client's operations: open/close, ping,
 * manifests, tags, catalog, blobs and uploads. HTTP and authentication are
 * in registry_auth.c. */
#include "registry_priv.h"
#include "tpgrade/imageref.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_PAGE_SIZE 100
#define DEFAULT_MANIFEST_MAX (4 * 1024 * 1024)
#define DEFAULT_BLOB_MAX (16 * 1024 * 1024)
#define DEFAULT_LIST_MAX 10000
#define MAX_PAGES 10000

static const char manifest_accept[] =
	TPG_MEDIATYPE_OCI_INDEX ", " TPG_MEDIATYPE_OCI_MANIFEST ", "
	TPG_MEDIATYPE_DOCKER_LIST ", " TPG_MEDIATYPE_DOCKER_MANIFEST;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* --- open / close ------------------------------------------------------------ */

int tpg_registry_open(const tpg_registry_opts *opts, tpg_registry **out, tpg_err *err)
{
	tpg_registry *reg;
	const char *host;

	*out = NULL;
	if (!opts || !opts->host || !*opts->host)
		return tpg_err_set(err, TPG_EINVAL, "no registry host given");
	host = opts->host;
	if (!tpg_imageref_valid_domain(host))
		return tpg_err_set(err, TPG_EINVAL, "invalid registry host \"%.200s\" (expected "
				   "host, host:port or [IPv6]:port)", host);
	pthread_once(&curl_once, curl_init_once);

	reg = tpg_xcalloc(1, sizeof(*reg));
	reg->domain = tpg_xstrdup(strcmp(host, "index.docker.io") == 0 ? TPG_IMAGEREF_DOCKER_HUB
				  : host);
	reg->plain_http = tpg_registry_is_insecure(reg->domain, opts->insecure);
	reg->base_url = tpg_xasprintf("%s://%s", reg->plain_http ? "http" : "https",
				      tpg_imageref_api_host(reg->domain));
	if (opts->insecure) {
		size_t n = 0;
		while (opts->insecure[n])
			n++;
		reg->insecure = tpg_xcalloc(n + 1, sizeof(char *));
		for (size_t i = 0; i < n; i++)
			reg->insecure[i] = tpg_xstrdup(opts->insecure[i]);
	}
	reg->ca_bundle = tpg_xstrdup(opts->ca_bundle);
	reg->username = tpg_xstrdup(opts->username);
	reg->password = tpg_xstrdup(opts->password);
	reg->docker_config_dir = tpg_xstrdup(opts->docker_config_dir);
	reg->docker_auth_config = tpg_xstrdup(opts->docker_auth_config);
	reg->no_env = opts->no_env;
	reg->anonymous = opts->anonymous;
	reg->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	reg->page_size = opts->page_size ? opts->page_size : DEFAULT_PAGE_SIZE;
	reg->max_manifest = opts->max_manifest ? opts->max_manifest : DEFAULT_MANIFEST_MAX;
	reg->user_agent = tpg_xstrdup("tpgrade/" TPGRADE_VERSION);
	{
		/* Setting CURLOPT_NOPROXY replaces no_proxy: keep its hosts. */
		const char *np = opts->no_env ? NULL : getenv("no_proxy");
		if (!opts->no_env && (!np || !*np))
			np = getenv("NO_PROXY");
		reg->noproxy = tpg_xasprintf("%s%slocalhost,127.0.0.0/8,::1", np && *np ? np : "",
					     np && *np ? "," : "");
	}
	reg->curl = curl_easy_init();
	if (!reg->curl) {
		tpg_registry_close(reg);
		return tpg_err_set(err, TPG_EGENERIC, "cannot initialise libcurl");
	}
	/* Explicit secrets are scrubbed from messages from the start. */
	tpg_registry_add_password(reg, reg->username, reg->password);
	*out = reg;
	return 0;
}

void tpg_registry_close(tpg_registry *reg)
{
	if (!reg)
		return;
	if (reg->curl)
		curl_easy_cleanup(reg->curl);
	tpg_registry_auth_free(reg);
	free(reg->domain);
	free(reg->base_url);
	for (size_t i = 0; reg->insecure && reg->insecure[i]; i++)
		free(reg->insecure[i]);
	free(reg->insecure);
	free(reg->ca_bundle);
	free(reg->username);
	tpg_cred_wipe_free(reg->password);
	free(reg->docker_config_dir);
	tpg_cred_wipe_free(reg->docker_auth_config);
	free(reg->user_agent);
	free(reg->noproxy);
	free(reg);
}

const char *tpg_registry_base_url(const tpg_registry *reg)
{
	return reg->base_url;
}

const char *tpg_registry_host(const tpg_registry *reg)
{
	return reg->domain;
}

const char *tpg_registry_auth_scheme(const tpg_registry *reg)
{
	switch (reg->auth_kind) {
	case REG_AUTH_NONE: return "none";
	case REG_AUTH_BASIC: return "basic";
	case REG_AUTH_BEARER: return "bearer";
	default: return "unknown";
	}
}

void tpg_registry_get_stats(const tpg_registry *reg, tpg_registry_stats *out)
{
	*out = reg->stats;
}

int tpg_registry_ping(tpg_registry *reg, long long deadline, tpg_err *err)
{
	return tpg_registry_finish(reg, tpg_registry_do_ping(reg, deadline, err), err);
}

/* --- argument checks ----------------------------------------------------------- */

static int check_repo(const tpg_registry *reg, const char *repo, tpg_err *err)
{
	if (!repo || !tpg_imageref_valid_path(repo) ||
	    strlen(reg->domain) + 1 + strlen(repo) > TPG_IMAGEREF_NAME_MAX)
		return tpg_err_set(err, TPG_EINVAL, "invalid repository name \"%.200s\"",
				   repo ? repo : "");
	return 0;
}

static int check_ref(const char *ref, tpg_err *err)
{
	if (!ref || !(tpg_imageref_valid_tag(ref) || tpg_imageref_valid_digest(ref)))
		return tpg_err_set(err, TPG_EINVAL, "invalid tag or digest \"%.200s\"",
				   ref ? ref : "");
	return 0;
}

static char *scope_for(const char *repo, bool push)
{
	return tpg_xasprintf("repository:%s:%s", repo, push ? "pull,push" : "pull");
}

/* The error of a non-2xx answer, as a sentence. */
static int answer_error(const tpg_registry *reg, const reg_resp *resp, const char *repo,
			const char *ref, tpg_err *err)
{
	return tpg_registry_answer_error(resp->status, tpg_buf_cstr(&resp->body), resp->body_cut,
					 reg->domain, repo, ref, false, err);
}

static int blob_answer_error(const tpg_registry *reg, const reg_resp *resp, const char *repo,
			     const char *digest, tpg_err *err)
{
	return tpg_registry_answer_error(resp->status, tpg_buf_cstr(&resp->body), resp->body_cut,
					 reg->domain, repo, digest, true, err);
}

/* "application/json; charset=utf-8" -> "application/json" */
static char *bare_media_type(const char *ct)
{
	size_t n;

	if (!ct)
		return NULL;
	n = strcspn(ct, "; \t");
	return n ? tpg_xstrndup(ct, n) : NULL;
}

static bool media_is_index(const char *mt)
{
	return mt && (strcmp(mt, TPG_MEDIATYPE_OCI_INDEX) == 0 ||
		      strcmp(mt, TPG_MEDIATYPE_DOCKER_LIST) == 0);
}

/* --- manifests ------------------------------------------------------------- */

void tpg_manifest_info_free(tpg_manifest_info *m)
{
	if (!m)
		return;
	free(m->digest);
	free(m->media_type);
	for (size_t i = 0; i < m->n_platforms; i++) {
		free(m->platforms[i].os);
		free(m->platforms[i].architecture);
		free(m->platforms[i].variant);
		free(m->platforms[i].digest);
		free(m->platforms[i].media_type);
	}
	free(m->platforms);
	free(m->config_digest);
	free(m->config_media_type);
	free(m->layer_sizes);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

static char *json_strdup(json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));
	return v ? tpg_xstrdup(v) : NULL;
}

static long long json_size(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static int parse_manifest(const tpg_registry *reg, const char *repo, const char *ref,
			  const char *body, tpg_manifest_info *m, tpg_err *err)
{
	json_t *root = json_loads(body, 0, NULL), *v;
	size_t i;

	if (!json_is_object(root)) {
		json_decref(root);
		return tpg_err_set(err, TPG_EPROTO, "the manifest of %s:%s in %s is not a JSON "
				   "object", repo, ref, reg->domain);
	}
	if (!m->media_type || strcmp(m->media_type, "application/json") == 0 ||
	    strcmp(m->media_type, "text/plain") == 0) {
		char *mt = json_strdup(root, "mediaType");
		if (!mt && json_is_array(json_object_get(root, "manifests")))
			mt = tpg_xstrdup(TPG_MEDIATYPE_OCI_INDEX);
		else if (!mt && json_is_object(json_object_get(root, "config")))
			mt = tpg_xstrdup(TPG_MEDIATYPE_OCI_MANIFEST);
		if (mt) {
			free(m->media_type);
			m->media_type = mt;
		}
	}
	m->is_index = media_is_index(m->media_type) ||
		      json_is_array(json_object_get(root, "manifests"));
	if (m->is_index) {
		json_t *list = json_object_get(root, "manifests");
		size_t n = json_array_size(list);
		m->platforms = tpg_xcalloc(n ? n : 1, sizeof(tpg_platform));
		json_array_foreach(list, i, v) {
			tpg_platform *p = &m->platforms[m->n_platforms++];
			json_t *pl = json_object_get(v, "platform");
			p->os = json_strdup(pl, "os");
			p->architecture = json_strdup(pl, "architecture");
			p->variant = json_strdup(pl, "variant");
			p->digest = json_strdup(v, "digest");
			p->media_type = json_strdup(v, "mediaType");
			p->size = json_size(v, "size");
		}
	} else {
		json_t *cfg = json_object_get(root, "config");
		json_t *layers = json_object_get(root, "layers");
		if (json_is_object(cfg)) {
			m->config_digest = json_strdup(cfg, "digest");
			m->config_media_type = json_strdup(cfg, "mediaType");
			m->config_size = json_size(cfg, "size");
		} else {
			m->config_size = -1;
		}
		if (!json_is_array(layers))
			layers = json_object_get(root, "fsLayers");  /* schema 1 */
		m->n_layers = json_array_size(layers);
		m->layer_sizes = tpg_xcalloc(m->n_layers ? m->n_layers : 1, sizeof(long long));
		json_array_foreach(layers, i, v) {
			long long s = json_size(v, "size");
			m->layer_sizes[i] = s;
			if (s > 0)
				m->layers_size += s;
		}
	}
	json_decref(root);
	return 0;
}

/* A 404 on a manifest: is the repository or the tag missing? */
static int manifest_not_found(tpg_registry *reg, const char *repo, const char *ref,
			      const reg_resp *resp, long long deadline, tpg_err *err)
{
	tpg_strv tags = TPG_STRV_INIT;
	tpg_err terr = {0};
	bool more = false;
	int rc;

	rc = tpg_registry_tags(reg, repo, 6, deadline, &tags, &more, &terr);
	if (rc == TPG_ENOTFOUND) {
		rc = tpg_err_set(err, TPG_ENOTFOUND, "repository %s not found in %s", repo,
				 reg->domain);
	} else if (rc == 0 && !tpg_imageref_valid_digest(ref)) {
		tpg_buf b = TPG_BUF_INIT;
		if (tags.len == 0) {
			tpg_buf_puts(&b, "it has no tags");
		} else {
			tpg_buf_puts(&b, "it has: ");
			for (size_t i = 0; i < tags.len && i < 5; i++)
				tpg_buf_printf(&b, "%s%s", i ? ", " : "", tags.items[i]);
			if (tags.len > 5 || more)
				tpg_buf_puts(&b, ", ...");
		}
		rc = tpg_err_set(err, TPG_ENOTFOUND, "tag %s not found in repository %s of %s (%s)",
				 ref, repo, reg->domain, tpg_buf_cstr(&b));
		tpg_buf_free(&b);
	} else {
		rc = answer_error(reg, resp, repo, ref, err);
	}
	tpg_strv_free(&tags);
	return rc;
}

static int manifest_req(tpg_registry *reg, const char *repo, const char *ref, bool head,
			long long deadline, tpg_manifest_info *out, tpg_err *err)
{
	reg_resp resp = {0};
	char *url, *scope;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_repo(reg, repo, err)) || (rc = check_ref(ref, err)))
		return rc;
	url = tpg_xasprintf("%s/v2/%s/manifests/%s", reg->base_url, repo, ref);
	scope = scope_for(repo, false);
	reg_req req = { .method = head ? "HEAD" : "GET", .url = url, .accept = manifest_accept,
	                .scope = scope, .cap = reg->max_manifest, .follow = true,
	                .deadline = deadline };
	rc = tpg_registry_request(reg, &req, &resp, err);
	if (rc)
		goto out;
	if (resp.status == 404) {
		rc = manifest_not_found(reg, repo, ref, &resp, deadline, err);
		goto out;
	}
	if (resp.status != 200) {
		rc = answer_error(reg, &resp, repo, ref, err);
		goto out;
	}
	out->media_type = bare_media_type(resp.content_type);
	if (head) {
		if (!resp.digest || !tpg_imageref_valid_digest(resp.digest)) {
			/* Some registries give no digest on HEAD: GET instead. */
			tpg_manifest_info_free(out);
			rc = manifest_req(reg, repo, ref, false, deadline, out, err);
			goto out;
		}
		out->digest = tpg_xstrdup(resp.digest);
		out->size = resp.content_length;
		out->is_index = media_is_index(out->media_type);
		goto out;
	}
	if (resp.body_cut) {
		rc = tpg_err_set(err, TPG_ETOOBIG, "the manifest of %s:%s in %s is larger than %zu "
				 "bytes", repo, ref, reg->domain, reg->max_manifest);
		goto out;
	}
	char *computed = tpg_registry_sha256(resp.body.data ? resp.body.data : "", resp.body.len);
	if (resp.digest && strncmp(resp.digest, "sha256:", 7) == 0 &&
	    strcmp(resp.digest, computed) != 0) {
		rc = tpg_err_set(err, TPG_EPROTO, "the manifest of %s:%s in %s does not match the "
				 "digest the registry announced", repo, ref, reg->domain);
		free(computed);
		goto out;
	}
	if (strncmp(ref, "sha256:", 7) == 0 && strcmp(ref, computed) != 0) {
		rc = tpg_err_set(err, TPG_EPROTO, "the manifest %s in repository %s of %s does not "
				 "match its digest", ref, repo, reg->domain);
		free(computed);
		goto out;
	}
	if (resp.digest && tpg_imageref_valid_digest(resp.digest)) {
		out->digest = tpg_xstrdup(resp.digest);
		free(computed);
	} else {
		out->digest = computed;
	}
	out->size = (long long)resp.body.len;
	out->body_len = resp.body.len;
	out->body = tpg_buf_detach(&resp.body);
	rc = parse_manifest(reg, repo, ref, out->body, out, err);
out:
	if (rc)
		tpg_manifest_info_free(out);
	tpg_registry_resp_free(&resp);
	free(url);
	free(scope);
	return rc;
}

int tpg_registry_manifest_head(tpg_registry *reg, const char *repo, const char *ref,
			       long long deadline, tpg_manifest_info *out, tpg_err *err)
{
	return tpg_registry_finish(reg, manifest_req(reg, repo, ref, true, deadline, out, err),
				   err);
}

int tpg_registry_manifest_get(tpg_registry *reg, const char *repo, const char *ref,
			      long long deadline, tpg_manifest_info *out, tpg_err *err)
{
	return tpg_registry_finish(reg, manifest_req(reg, repo, ref, false, deadline, out, err),
				   err);
}

/* --- paginated lists ------------------------------------------------------- */

static int list_pages(tpg_registry *reg, const char *first_url, const char *scope,
		      const char *key, const char *repo, size_t max, long long deadline,
		      tpg_strv *out, bool *more, tpg_err *err)
{
	char *url = tpg_xstrdup(first_url);
	int rc = 0;

	if (more)
		*more = false;
	if (max == 0)
		max = DEFAULT_LIST_MAX;
	for (int page = 0; url; page++) {
		reg_req req = { .method = "GET", .url = url, .scope = scope,
		                .cap = TPG_REGISTRY_PAGE_BODY_MAX, .follow = true,
		                .deadline = deadline };
		reg_resp resp = {0};
		json_t *root, *list, *v;
		size_t i;
		char *next = NULL;

		if (page >= MAX_PAGES) {
			rc = tpg_err_set(err, TPG_EPROTO, "%s gave more than %d pages", reg->domain,
					 MAX_PAGES);
			break;
		}
		rc = tpg_registry_request(reg, &req, &resp, err);
		if (rc == 0 && resp.status != 200)
			rc = answer_error(reg, &resp, repo, NULL, err);
		if (rc == 0 && resp.body_cut)
			rc = tpg_err_set(err, TPG_ETOOBIG, "a page of %s from %s is larger than %d "
					 "bytes", key, reg->domain, TPG_REGISTRY_PAGE_BODY_MAX);
		if (rc) {
			tpg_registry_resp_free(&resp);
			break;
		}
		root = json_loads(tpg_buf_cstr(&resp.body), 0, NULL);
		list = json_object_get(root, key);
		if (!json_is_object(root) || (!json_is_array(list) && !json_is_null(list) && list)) {
			rc = tpg_err_set(err, TPG_EPROTO, "%s answered a %s list that is not JSON of "
					 "the expected form", reg->domain, key);
			json_decref(root);
			tpg_registry_resp_free(&resp);
			break;
		}
		bool full = false;
		json_array_foreach(list, i, v) {
			const char *s = json_string_value(v);
			if (!s)
				continue;
			if (out->len >= max) {
				full = true;
				break;
			}
			tpg_strv_push(out, s);
		}
		json_decref(root);
		char *link = tpg_registry_link_next(resp.link);
		if (link) {
			next = tpg_registry_resolve_url(resp.url ? resp.url : url, link);
			free(link);
		}
		if (out->len >= max && next) {
			full = true;
			free(next);
			next = NULL;
		}
		if (full && more)
			*more = true;
		if (next && strcmp(next, url) == 0) {
			free(next);
			next = NULL;
			rc = tpg_err_set(err, TPG_EPROTO, "%s's next page of %s is the same page",
					 reg->domain, key);
		}
		tpg_registry_resp_free(&resp);
		free(url);
		url = next;
		if (rc)
			break;
	}
	free(url);
	return rc;
}

int tpg_registry_tags(tpg_registry *reg, const char *repo, size_t max, long long deadline,
		      tpg_strv *out, bool *more, tpg_err *err)
{
	char *url, *scope;
	int rc;

	if ((rc = check_repo(reg, repo, err)))
		return tpg_registry_finish(reg, rc, err);
	url = tpg_xasprintf("%s/v2/%s/tags/list?n=%zu", reg->base_url, repo, reg->page_size);
	scope = scope_for(repo, false);
	rc = list_pages(reg, url, scope, "tags", repo, max, deadline, out, more, err);
	free(url);
	free(scope);
	return tpg_registry_finish(reg, rc, err);
}

int tpg_registry_catalog(tpg_registry *reg, size_t max, long long deadline, tpg_strv *out,
			 bool *more, tpg_err *err)
{
	char *url = tpg_xasprintf("%s/v2/_catalog?n=%zu", reg->base_url, reg->page_size);
	int rc = list_pages(reg, url, "registry:catalog:*", "repositories", NULL, max, deadline,
			    out, more, err);
	free(url);
	return tpg_registry_finish(reg, rc, err);
}

int tpg_registry_repo_exists(tpg_registry *reg, const char *repo, long long deadline,
			     bool *exists, tpg_err *err)
{
	tpg_strv tags = TPG_STRV_INIT;
	tpg_err terr = {0};
	int rc = tpg_registry_tags(reg, repo, 1, deadline, &tags, NULL, &terr);

	tpg_strv_free(&tags);
	*exists = rc == 0;
	if (rc == TPG_ENOTFOUND)
		return 0;
	if (rc && err)
		*err = terr;
	return rc;
}

/* --- blobs ----------------------------------------------------------------- */

static int blob_req(tpg_registry *reg, const char *repo, const char *digest, bool head,
		    size_t max, long long deadline, reg_resp *resp, tpg_err *err)
{
	char *url, *scope;
	int rc;

	if ((rc = check_repo(reg, repo, err)))
		return rc;
	if (!tpg_imageref_valid_digest(digest))
		return tpg_err_set(err, TPG_EINVAL, "invalid digest \"%.200s\"",
				   digest ? digest : "");
	url = tpg_xasprintf("%s/v2/%s/blobs/%s", reg->base_url, repo, digest);
	scope = scope_for(repo, false);
	reg_req req = { .method = head ? "HEAD" : "GET", .url = url, .scope = scope, .cap = max,
	                .follow = true, .deadline = deadline };
	rc = tpg_registry_request(reg, &req, resp, err);
	free(url);
	free(scope);
	return rc;
}

int tpg_registry_blob_exists(tpg_registry *reg, const char *repo, const char *digest,
			     long long deadline, bool *exists, tpg_err *err)
{
	reg_resp resp = {0};
	int rc = blob_req(reg, repo, digest, true, 0, deadline, &resp, err);

	*exists = false;
	if (rc == 0) {
		if (resp.status == 200)
			*exists = true;
		else if (resp.status != 404)
			rc = blob_answer_error(reg, &resp, repo, digest, err);
	}
	tpg_registry_resp_free(&resp);
	return tpg_registry_finish(reg, rc, err);
}

int tpg_registry_blob_get(tpg_registry *reg, const char *repo, const char *digest,
			  size_t max, long long deadline, tpg_buf *out, tpg_err *err)
{
	reg_resp resp = {0};
	int rc;

	if (max == 0)
		max = DEFAULT_BLOB_MAX;
	rc = blob_req(reg, repo, digest, false, max, deadline, &resp, err);
	if (rc == 0 && resp.status != 200) {
		rc = blob_answer_error(reg, &resp, repo, digest, err);
	} else if (rc == 0 && resp.body_cut) {
		rc = tpg_err_set(err, TPG_ETOOBIG, "blob %s of %s in %s is larger than %zu bytes",
				 digest, repo, reg->domain, max);
	} else if (rc == 0 && strncmp(digest, "sha256:", 7) == 0) {
		char *d = tpg_registry_sha256(resp.body.data ? resp.body.data : "", resp.body.len);
		if (strcmp(d, digest) != 0)
			rc = tpg_err_set(err, TPG_EPROTO, "blob %s of %s in %s does not match its "
					 "digest", digest, repo, reg->domain);
		free(d);
	}
	if (rc == 0)
		tpg_buf_append(out, resp.body.data ? resp.body.data : "", resp.body.len);
	tpg_registry_resp_free(&resp);
	return tpg_registry_finish(reg, rc, err);
}

/* --- uploads ----------------------------------------------------------------- */

static int blob_upload(tpg_registry *reg, const char *repo, const void *data, size_t len,
		       long long deadline, char **digest_out, tpg_err *err)
{
	reg_req req = {0};
	reg_resp resp = {0};
	char *digest = tpg_registry_sha256(data, len), *url = NULL, *put_url = NULL;
	char *scope = NULL, *loc = NULL;
	int rc;

	if ((rc = check_repo(reg, repo, err)))
		goto out;
	scope = scope_for(repo, true);
	/* Ask with the push scope from the start: one token for the whole push. */
	url = tpg_xasprintf("%s/v2/%s/blobs/%s", reg->base_url, repo, digest);
	req = (reg_req){ .method = "HEAD", .url = url, .scope = scope, .follow = true,
	                 .deadline = deadline };
	rc = tpg_registry_request(reg, &req, &resp, err);
	if (rc || resp.status == 200)
		goto out;   /* an error, or the blob is there already */
	free(url);
	url = tpg_xasprintf("%s/v2/%s/blobs/uploads/", reg->base_url, repo);
	req.method = "POST";
	req.url = url;
	req.follow = false;
	rc = tpg_registry_request(reg, &req, &resp, err);
	if (rc)
		goto out;
	if (resp.status != 202 || !resp.location) {
		rc = resp.status == 202
		     ? tpg_err_set(err, TPG_EPROTO, "%s started an upload without a Location",
				   reg->domain)
		     : answer_error(reg, &resp, repo, NULL, err);
		goto out;
	}
	loc = tpg_registry_resolve_url(resp.url ? resp.url : url, resp.location);
	if (!loc) {
		rc = tpg_err_set(err, TPG_EPROTO, "%s gave an unusable upload location", reg->domain);
		goto out;
	}
	put_url = tpg_xasprintf("%s%cdigest=%s", loc, strchr(loc, '?') ? '&' : '?', digest);
	req.method = "PUT";
	req.url = put_url;
	req.content_type = "application/octet-stream";
	req.body = data;
	req.body_len = len;
	rc = tpg_registry_request(reg, &req, &resp, err);
	if (rc == 0 && resp.status != 201)
		rc = blob_answer_error(reg, &resp, repo, digest, err);
out:
	if (rc == 0 && digest_out)
		*digest_out = digest;
	else
		free(digest);
	tpg_registry_resp_free(&resp);
	free(url);
	free(put_url);
	free(loc);
	free(scope);
	return rc;
}

int tpg_registry_blob_upload(tpg_registry *reg, const char *repo, const void *data,
			     size_t len, long long deadline, char **digest_out, tpg_err *err)
{
	if (digest_out)
		*digest_out = NULL;
	return tpg_registry_finish(reg, blob_upload(reg, repo, data, len, deadline, digest_out,
						    err), err);
}

int tpg_registry_manifest_put(tpg_registry *reg, const char *repo, const char *ref,
			      const char *media_type, const void *body, size_t len,
			      long long deadline, char **digest_out, tpg_err *err)
{
	reg_resp resp = {0};
	char *url, *scope;
	int rc;

	if (digest_out)
		*digest_out = NULL;
	if ((rc = check_repo(reg, repo, err)) || (rc = check_ref(ref, err)))
		return tpg_registry_finish(reg, rc, err);
	url = tpg_xasprintf("%s/v2/%s/manifests/%s", reg->base_url, repo, ref);
	scope = scope_for(repo, true);
	reg_req req = { .method = "PUT", .url = url, .scope = scope, .content_type = media_type,
	                .body = body, .body_len = len, .deadline = deadline };
	rc = tpg_registry_request(reg, &req, &resp, err);
	if (rc == 0 && resp.status != 201)
		rc = answer_error(reg, &resp, repo, ref, err);
	if (rc == 0 && digest_out)
		*digest_out = resp.digest && tpg_imageref_valid_digest(resp.digest)
			      ? tpg_xstrdup(resp.digest) : tpg_registry_sha256(body, len);
	tpg_registry_resp_free(&resp);
	free(url);
	free(scope);
	return tpg_registry_finish(reg, rc, err);
}

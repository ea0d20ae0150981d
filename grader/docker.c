/*
 * docker.c - the Engine API connection: where the daemon is (the docker
 * CLI's rules, GitLab's dind), API version negotiation, and one libcurl
 * request with a deadline, Ctrl-C, capped error bodies and errors that
 * name what was tried.
 */
#include "tpgrade/docker.h"
#include "docker_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct tpg_docker {
	tpg_docker_endpoint ep;
	char *desc;
	CURL *curl;
	char *forced_version;     /* DOCKER_API_VERSION / opts */
	char *api_version;        /* negotiated */
	char *daemon_max;         /* from /_ping or /version */
	char *daemon_min;
	char *server_version;
	char *os_type;
	int default_builder;
	bool pinged;
	bool uninterruptible;
};

/* ---------------------------------------------------------------- endpoint */

static const char *real_getenv(const char *name)
{
	return getenv(name);
}

static bool real_resolves(const char *host)
{
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return false;
	freeaddrinfo(res);
	return true;
}

static bool real_is_socket(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISSOCK(sb.st_mode);
}

static bool nonempty_file(const char *dir, const char *name)
{
	char *p = tpg_xasprintf("%s/%s", dir, name);
	struct stat sb;
	bool ok = stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
	free(p);
	return ok;
}

static bool has_certs(const char *dir)
{
	return nonempty_file(dir, "ca.pem") && nonempty_file(dir, "cert.pem") &&
	       nonempty_file(dir, "key.pem");
}

void tpg_docker_endpoint_free(tpg_docker_endpoint *ep)
{
	if (!ep)
		return;
	free(ep->url);
	free(ep->socket_path);
	free(ep->host);
	free(ep->base_path);
	free(ep->ca);
	free(ep->cert);
	free(ep->key);
	free(ep->origin);
	free(ep->note);
	memset(ep, 0, sizeof(*ep));
}

static void set_certs(tpg_docker_endpoint *ep, const char *dir)
{
	free(ep->ca);
	free(ep->cert);
	free(ep->key);
	ep->ca = tpg_xasprintf("%s/ca.pem", dir);
	ep->cert = tpg_xasprintf("%s/cert.pem", dir);
	ep->key = tpg_xasprintf("%s/key.pem", dir);
}

/* Parses a host string into ep (scheme, address); TLS is decided later. */
static int parse_host(const char *host, tpg_docker_endpoint *ep, tpg_err *err)
{
	const char *rest;
	bool https = false;

	if (strncmp(host, "unix://", 7) == 0) {
		rest = host + 7;
		ep->socket_path = tpg_xstrdup(*rest ? rest : TPG_DOCKER_DEFAULT_SOCKET);
		ep->url = tpg_xasprintf("unix://%s", ep->socket_path);
		return 0;
	}
	if (strncmp(host, "tcp://", 6) == 0) {
		rest = host + 6;
	} else if (strncmp(host, "http://", 7) == 0) {
		rest = host + 7;
	} else if (strncmp(host, "https://", 8) == 0) {
		rest = host + 8;
		https = true;
	} else if (strstr(host, "://")) {
		return tpg_err_set(err, TPG_EINVAL,
		                   "unsupported Docker host '%s': tpgrade speaks unix:// and tcp:// "
		                   "(not ssh://, npipe:// or fd://)", host);
	} else if (host[0] == '/') {
		ep->socket_path = tpg_xstrdup(host);
		ep->url = tpg_xasprintf("unix://%s", host);
		return 0;
	} else {
		rest = host;   /* "host:port", as the CLI accepts */
	}
	const char *slash = strchr(rest, '/');
	size_t hostport_len = slash ? (size_t)(slash - rest) : strlen(rest);
	char *hp = tpg_xstrndup(rest, hostport_len);
	char *h, *colon;
	if (hp[0] == '[') {
		char *close = strchr(hp, ']');
		if (!close) {
			free(hp);
			return tpg_err_set(err, TPG_EINVAL, "invalid Docker host '%s'", host);
		}
		*close = '\0';
		h = hp + 1;
		colon = close[1] == ':' ? close + 1 : NULL;
	} else {
		h = hp;
		colon = strrchr(hp, ':');
		if (colon)
			*colon = '\0';
	}
	int port = 0;
	if (colon && colon[1]) {
		char *end;
		long p = strtol(colon + 1, &end, 10);
		if (*end || p <= 0 || p > 65535) {
			free(hp);
			return tpg_err_set(err, TPG_EINVAL, "invalid port in Docker host '%s'", host);
		}
		port = (int)p;
	}
	if (!*h) {
		free(hp);
		return tpg_err_set(err, TPG_EINVAL, "no host name in Docker host '%s'", host);
	}
	ep->host = tpg_xstrdup(h);
	ep->port = port;
	ep->tls = https;
	ep->tls_verify = https;
	ep->base_path = tpg_xstrdup(slash && strcmp(slash, "/") != 0 ? slash : "");
	size_t bl = strlen(ep->base_path);
	if (bl && ep->base_path[bl - 1] == '/')
		ep->base_path[bl - 1] = '\0';
	free(hp);
	return 0;
}

int tpg_docker_endpoint_resolve(const char *explicit_host, const tpg_docker_probe *probe,
                                tpg_docker_endpoint *out, tpg_err *err)
{
	const char *(*env)(const char *) = probe && probe->getenv ? probe->getenv : real_getenv;
	bool (*resolves)(const char *) = probe && probe->resolves ? probe->resolves : real_resolves;
	bool (*is_socket)(const char *) =
		probe && probe->is_socket ? probe->is_socket : real_is_socket;
	const char *docker_host = env("DOCKER_HOST");
	const char *certdir = env("DOCKER_TLS_CERTDIR");
	const char *host;
	int rc;

	memset(out, 0, sizeof(*out));
	if (explicit_host && *explicit_host) {
		host = explicit_host;
		out->origin = tpg_xstrdup("--docker-host");
	} else if (docker_host && *docker_host) {
		host = docker_host;
		out->origin = tpg_xstrdup("DOCKER_HOST");
	} else if (certdir && !is_socket(TPG_DOCKER_DEFAULT_SOCKET)) {
		/* GitLab's docker:dind service, as the docker image's entrypoint
		 * sees it: certificates in $DOCKER_TLS_CERTDIR/client mean TLS
		 * on 2376, otherwise plain 2375. */
		if (resolves("docker")) {
			char *client = *certdir ? tpg_xasprintf("%s/client", certdir) : NULL;
			bool tls = client && has_certs(client);
			host = tls ? "tcp://docker:2376" : "tcp://docker:2375";
			out->origin = tpg_xstrdup(tls ? "GitLab docker:dind (DOCKER_TLS_CERTDIR)"
			                              : "GitLab docker:dind (no TLS)");
			rc = parse_host(host, out, err);
			if (rc == 0 && tls) {
				out->tls = out->tls_verify = true;
				set_certs(out, client);
			}
			free(client);
			if (rc < 0)
				tpg_docker_endpoint_free(out);
			else
				out->url = tpg_xasprintf("tcp://%s:%d", out->host, out->port);
			return rc;
		}
		host = "unix://" TPG_DOCKER_DEFAULT_SOCKET;
		out->origin = tpg_xstrdup("default");
		out->note = tpg_xstrdup("DOCKER_TLS_CERTDIR is set but the host 'docker' does not "
		                        "resolve, so no docker:dind service either");
	} else {
		host = "unix://" TPG_DOCKER_DEFAULT_SOCKET;
		out->origin = tpg_xstrdup("default");
	}
	rc = parse_host(host, out, err);
	if (rc < 0) {
		tpg_docker_endpoint_free(out);
		return rc;
	}
	if (out->socket_path)
		return 0;

	/* TCP: TLS like the CLI (DOCKER_TLS_VERIFY, DOCKER_TLS, DOCKER_CERT_PATH),
	 * or like the docker image's entrypoint when dind certificates are
	 * there and nothing else was said. */
	const char *verify = env("DOCKER_TLS_VERIFY");
	const char *tls = env("DOCKER_TLS");
	const char *cert_path = env("DOCKER_CERT_PATH");
	char *dir = NULL;
	if (cert_path && *cert_path) {
		dir = tpg_xstrdup(cert_path);
	} else {
		const char *home = env("HOME");
		dir = tpg_xasprintf("%s/.docker", home && *home ? home : "");
	}
	if (verify && *verify) {
		out->tls = out->tls_verify = true;
		set_certs(out, dir);
	} else if (tls && *tls) {
		out->tls = true;
		if (has_certs(dir))
			set_certs(out, dir);
	} else if (!out->tls && certdir && *certdir && !(cert_path && *cert_path)) {
		char *client = tpg_xasprintf("%s/client", certdir);
		if (has_certs(client)) {
			out->tls = out->tls_verify = true;
			set_certs(out, client);
		}
		free(client);
	} else if (out->tls && has_certs(dir)) {
		set_certs(out, dir);
	}
	free(dir);
	if (!out->port)
		out->port = out->tls ? 2376 : 2375;
	bool v6 = strchr(out->host, ':') != NULL;
	out->url = tpg_xasprintf("tcp://%s%s%s:%d%s", v6 ? "[" : "", out->host, v6 ? "]" : "",
	                         out->port, out->base_path);
	return 0;
}

/* ---------------------------------------------------------------- handle */

static bool valid_version(const char *v)
{
	int major, minor, n = 0;
	return v && sscanf(v, "%d.%d%n", &major, &minor, &n) == 2 && v[n] == '\0' && major >= 1;
}

int tpg_docker_version_cmp(const char *a, const char *b)
{
	int a1 = -1, a2 = -1, b1 = -1, b2 = -1;
	if (a)
		sscanf(a, "%d.%d", &a1, &a2);
	if (b)
		sscanf(b, "%d.%d", &b1, &b2);
	if (a1 != b1)
		return a1 < b1 ? -1 : 1;
	if (a2 != b2)
		return a2 < b2 ? -1 : 1;
	return 0;
}

int tpg_docker_open(const tpg_docker_opts *opts, tpg_docker **out, tpg_err *err)
{
	static const tpg_docker_opts none = {0};
	tpg_docker *dk = tpg_xcalloc(1, sizeof(*dk));
	int rc;

	*out = NULL;
	if (!opts)
		opts = &none;
	rc = tpg_docker_endpoint_resolve(opts->host, opts->probe, &dk->ep, err);
	if (rc < 0) {
		free(dk);
		return rc;
	}
	const char *forced = opts->api_version;
	const char *(*env)(const char *) =
		opts->probe && opts->probe->getenv ? opts->probe->getenv : real_getenv;
	if (!forced || !*forced)
		forced = env("DOCKER_API_VERSION");
	if (forced && *forced) {
		const char *v = forced[0] == 'v' ? forced + 1 : forced;
		if (!valid_version(v)) {
			rc = tpg_err_set(err, TPG_EINVAL, "invalid Docker API version '%s'", forced);
			tpg_docker_close(dk);
			return rc;
		}
		dk->forced_version = tpg_xstrdup(v);
	}
	dk->desc = tpg_xasprintf("%s%s%s%s", dk->ep.url,
	                         strcmp(dk->ep.origin, "default") ? " (from " : "",
	                         strcmp(dk->ep.origin, "default") ? dk->ep.origin : "",
	                         strcmp(dk->ep.origin, "default") ? ")" : "");
	static bool global_done;   /* set once, before any thread can race */
	if (!global_done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		global_done = true;
	}
	dk->curl = curl_easy_init();
	if (!dk->curl) {
		tpg_docker_close(dk);
		return tpg_err_set(err, TPG_EGENERIC, "cannot initialise libcurl");
	}
	dk->default_builder = 1;
	*out = dk;
	return 0;
}

void tpg_docker_close(tpg_docker *dk)
{
	if (!dk)
		return;
	if (dk->curl)
		curl_easy_cleanup(dk->curl);
	tpg_docker_endpoint_free(&dk->ep);
	free(dk->desc);
	free(dk->forced_version);
	free(dk->api_version);
	free(dk->daemon_max);
	free(dk->daemon_min);
	free(dk->server_version);
	free(dk->os_type);
	free(dk);
}

const char *tpg_docker_endpoint_desc(const tpg_docker *dk)
{
	return dk->desc;
}

const tpg_docker_endpoint *tpg_docker_endpoint_get(const tpg_docker *dk)
{
	return &dk->ep;
}

const char *tpg_docker_api_version(const tpg_docker *dk)
{
	return dk->api_version;
}

const char *tpg_docker_server_version(const tpg_docker *dk)
{
	return dk->server_version;
}

bool tpg_docker_buildkit_available(const tpg_docker *dk)
{
	if (!dk->api_version || tpg_docker_version_cmp(dk->api_version, "1.39") < 0)
		return false;
	return !dk->os_type || strcmp(dk->os_type, "linux") == 0;
}

int tpg_docker_default_builder(const tpg_docker *dk)
{
	return dk->default_builder == 2 ? 2 : 1;
}

bool tpg_dockeri_uninterruptible(tpg_docker *dk, bool on)
{
	bool old = dk->uninterruptible;
	dk->uninterruptible = on;
	return old;
}

/* ---------------------------------------------------------------- escaping */

static char *escape(const char *s, const char *keep)
{
	tpg_buf b = TPG_BUF_INIT;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~", *p) || (*p && strchr(keep, *p)))
			tpg_buf_putc(&b, (char)*p);
		else
			tpg_buf_printf(&b, "%%%02X", *p);
	}
	return tpg_buf_detach(&b);
}

char *tpg_dockeri_path_esc(const char *s)
{
	return escape(s, "/:@");
}

char *tpg_dockeri_query_esc(const char *s)
{
	return escape(s, "");
}

/* ---------------------------------------------------------------- requests */

typedef struct xfer {
	tpg_docker *dk;
	long long deadline;
	bool timed_out, canceled;
	int sink_rc;
	bool error_status;        /* decided at the first body byte */
	bool status_known;
	tpg_buf errbody;          /* capped */
	const tpg_docker_req *req;
	char *ctype;
	char *api_version, *builder_version, *os_type;
	FILE *body_file;
} xfer;

static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	xfer *x = p;
	TPG_UNUSED(dltotal);
	TPG_UNUSED(dlnow);
	TPG_UNUSED(ultotal);
	TPG_UNUSED(ulnow);
	if (!x->dk->uninterruptible && tpg_interrupted()) {
		x->canceled = true;
		return 1;
	}
	if (x->deadline && tpg_now_ms() >= x->deadline) {
		x->timed_out = true;
		return 1;
	}
	if (x->req->tick) {
		int rc = x->req->tick(x->req->sink_ctx);
		if (rc) {
			x->sink_rc = rc;
			return 1;   /* aborts with CURLE_ABORTED_BY_CALLBACK */
		}
	}
	return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *p)
{
	xfer *x = p;
	size_t n = size * nmemb;
	if (!x->status_known) {
		long code = 0;
		curl_easy_getinfo(x->dk->curl, CURLINFO_RESPONSE_CODE, &code);
		x->error_status = code < 200 || code >= 300;
		x->status_known = true;
	}
	if (x->error_status) {
		tpg_buf_append(&x->errbody, data, n);
		return n;
	}
	if (x->req->sink) {
		int rc = x->req->sink(x->req->sink_ctx, data, n);
		if (rc) {
			x->sink_rc = rc;
			return 0;   /* aborts with CURLE_WRITE_ERROR */
		}
	}
	return n;
}

static char *header_value(const char *line, size_t n, const char *name)
{
	size_t nl = strlen(name);
	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	const char *v = line + nl + 1;
	const char *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	return tpg_xstrndup(v, (size_t)(end - v));
}

static void keep_header(char **slot, char *value)
{
	if (value) {
		free(*slot);
		*slot = value;
	}
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *p)
{
	xfer *x = p;
	size_t n = size * nmemb;
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after a 100 Continue): start afresh. */
		free(x->ctype);
		x->ctype = NULL;
		x->status_known = false;
		return n;
	}
	keep_header(&x->ctype, header_value(data, n, "Content-Type"));
	keep_header(&x->api_version, header_value(data, n, "Api-Version"));
	keep_header(&x->builder_version, header_value(data, n, "Builder-Version"));
	keep_header(&x->os_type, header_value(data, n, "OSType"));
	return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *p)
{
	xfer *x = p;
	size_t n = fread(buf, size, nmemb, x->body_file);
	if (n == 0 && ferror(x->body_file))
		return CURL_READFUNC_ABORT;
	return n;
}

/* What the OS says about connecting to a unix socket: curl's own message
 * ("Couldn't connect to server") names neither the path nor the reason. */
static int unix_connect_errno(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int e = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : errno;
	close(fd);
	return e;
}

static int status_code(long status)
{
	switch (status) {
	case 400: return TPG_EINVAL;
	case 401: case 403: return TPG_EDENIED;
	case 404: return TPG_ENOTFOUND;
	case 409: return TPG_EEXISTS;
	default: return TPG_EGENERIC;
	}
}

/* The error answer as a message: the daemon's {"message"} verbatim, or
 * the start of whatever it sent. */
static int error_answer(xfer *x, const char *method, const char *path, long status,
                        tpg_err *err)
{
	json_error_t jerr;
	const char *body = tpg_buf_cstr(&x->errbody);
	json_t *j = json_loadb(body, x->errbody.len, 0, &jerr);
	const char *msg = NULL;
	if (j && json_is_object(j))
		msg = json_string_value(json_object_get(j, "message"));
	int code = status_code(status);
	/* The query may be long (build args...): the path says enough. */
	size_t plen = strcspn(path, "?");
	if (msg && strstr(msg, "client version") && strstr(msg, "too old"))
		code = TPG_EPROTO;
	if (msg) {
		tpg_err_set(err, code, "%s %.*s: HTTP %ld: %s", method, (int)plen, path, status, msg);
	} else {
		size_t n = x->errbody.len < 300 ? x->errbody.len : 300;
		tpg_err_set(err, code, "%s %.*s: HTTP %ld%s%.*s%s", method, (int)plen, path, status,
		            n ? ": " : "", (int)n, body, x->errbody.truncated || n < x->errbody.len
		                                             ? "..." : "");
	}
	json_decref(j);
	return code;
}

static int negotiate(tpg_docker *dk, long long deadline, tpg_err *err);

static int perform(tpg_docker *dk, const tpg_docker_req *req, long long deadline, long *status,
                   char **ctype_out, xfer *x, tpg_err *err)
{
	CURL *c = dk->curl;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	char *url;
	int rc = 0;

	memset(x, 0, sizeof(*x));
	x->dk = dk;
	x->deadline = deadline;
	x->req = req;
	tpg_buf_init_capped(&x->errbody, TPG_DOCKER_ERROR_MAX, false);
	if (status)
		*status = 0;
	if (ctype_out)
		*ctype_out = NULL;
	if (!dk->pinged && !req->unversioned) {
		rc = negotiate(dk, deadline, err);
		if (rc < 0)
			return rc;
	}
	if (deadline && tpg_now_ms() >= deadline)
		return tpg_err_set(err, TPG_ETIMEOUT, "%s %s: no time left before the deadline",
		                   req->method, req->path);
	if (!dk->uninterruptible && tpg_interrupted())
		return tpg_err_set(err, TPG_ECANCELED, "%s %s: interrupted", req->method, req->path);

	char *prefix = req->unversioned ? tpg_xstrdup("")
	                                : tpg_xasprintf("/v%s", dk->api_version);
	if (dk->ep.socket_path) {
		url = tpg_xasprintf("http://localhost%s%s", prefix, req->path);
	} else {
		bool v6 = strchr(dk->ep.host, ':') != NULL;
		url = tpg_xasprintf("%s://%s%s%s:%d%s%s%s", dk->ep.tls ? "https" : "http",
		                    v6 ? "[" : "", dk->ep.host, v6 ? "]" : "", dk->ep.port,
		                    dk->ep.base_path, prefix, req->path);
	}
	free(prefix);

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "tpgrade/" TPGRADE_VERSION);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	if (strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (dk->ep.socket_path) {
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, dk->ep.socket_path);
	} else if (dk->ep.tls) {
		if (dk->ep.ca)
			curl_easy_setopt(c, CURLOPT_CAINFO, dk->ep.ca);
		if (dk->ep.cert)
			curl_easy_setopt(c, CURLOPT_SSLCERT, dk->ep.cert);
		if (dk->ep.key)
			curl_easy_setopt(c, CURLOPT_SSLKEY, dk->ep.key);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, dk->ep.tls_verify ? 1L : 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, dk->ep.tls_verify ? 2L : 0L);
	}
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	if (deadline) {
		long long left = deadline - tpg_now_ms();
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(left > 0 ? left : 1));
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(left > 0 ? left : 1));
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (req->body_file || req->body) {
		char *ct = tpg_xasprintf("Content-Type: %s",
		                         req->content_type ? req->content_type : "application/json");
		hdrs = curl_slist_append(hdrs, ct);
		free(ct);
		curl_easy_setopt(c, CURLOPT_UPLOAD, 0L);
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		if (req->body_file) {
			x->body_file = req->body_file;
			curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(c, CURLOPT_READDATA, x);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		} else {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		}
		/* CURLOPT_POST set the method; keep the one asked for. */
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	}
	for (const char *const *h = req->headers; h && *h; h++)
		hdrs = curl_slist_append(hdrs, *h);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	CURLcode cc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (status)
		*status = code;

	if (cc == CURLE_OK) {
		if (code < 200 || code >= 300)
			rc = error_answer(x, req->method, req->path, code, err);
	} else if (x->canceled) {
		rc = tpg_err_set(err, TPG_ECANCELED, "%s %s: interrupted", req->method, req->path);
	} else if (x->timed_out || cc == CURLE_OPERATION_TIMEDOUT) {
		rc = tpg_err_set(err, TPG_ETIMEOUT,
		                 "%s %s: the Docker daemon at %s did not finish before the deadline",
		                 req->method, req->path, dk->ep.url);
	} else if (x->sink_rc) {
		rc = x->sink_rc < 0 ? x->sink_rc : TPG_ECANCELED;
		tpg_err_set(err, rc, "%s %.*s: stopped reading the answer", req->method,
		            (int)strcspn(req->path, "?"), req->path);
	} else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
	           cc == CURLE_COULDNT_RESOLVE_PROXY) {
		const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
		if (dk->ep.socket_path) {
			int e = unix_connect_errno(dk->ep.socket_path);
			why = e ? strerror(e) : why;
		}
		rc = tpg_err_set(err, TPG_EUNAVAIL,
		                 "cannot connect to the Docker daemon at %s: %s%s%s%s%s", dk->ep.url, why,
		                 strcmp(dk->ep.origin, "default") ? " (from " : "",
		                 strcmp(dk->ep.origin, "default") ? dk->ep.origin : "",
		                 strcmp(dk->ep.origin, "default") ? ")" : "",
		                 dk->ep.note ? "; " : "");
		if (dk->ep.note && err)
			strncat(err->msg, dk->ep.note, sizeof(err->msg) - strlen(err->msg) - 1);
	} else if (cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_PEER_FAILED_VERIFICATION ||
	           cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CACERT_BADFILE ||
	           cc == CURLE_SSL_CIPHER) {
		/* Certificates do not get better by waiting: not "unavailable",
		 * which callers retry while a daemon starts. */
		bool certs = cc != CURLE_SSL_CONNECT_ERROR && cc != CURLE_SSL_CIPHER;
		rc = tpg_err_set(err, certs ? TPG_EDENIED : TPG_EUNAVAIL,
		                 "cannot connect to the Docker daemon at %s over TLS (certificates "
		                 "%s): %s", dk->ep.url, dk->ep.ca ? dk->ep.ca : "none",
		                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
	} else if (dk->ep.tls && !code && (cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR) &&
	           strstr(errbuf, "alert")) {
		/* TLS 1.3: the daemon's refusal of our certificate comes as an
		 * alert on the first read, after the handshake. */
		rc = tpg_err_set(err, TPG_EDENIED,
		                 "cannot connect to the Docker daemon at %s over TLS: it refused our "
		                 "client certificate (%s): %s", dk->ep.url,
		                 dk->ep.cert ? dk->ep.cert : "none", errbuf);
	} else if (cc == CURLE_GOT_NOTHING || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
	           cc == CURLE_PARTIAL_FILE) {
		rc = tpg_err_set(err, code ? TPG_EIO : TPG_EUNAVAIL,
		                 "%s %s: the connection to the Docker daemon at %s broke: %s",
		                 req->method, req->path, dk->ep.url,
		                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
	} else {
		rc = tpg_err_set(err, TPG_EPROTO, "%s %s: talking to the Docker daemon at %s: %s",
		                 req->method, req->path, dk->ep.url,
		                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
	}
	if (ctype_out) {
		*ctype_out = x->ctype;
		x->ctype = NULL;
	}
	curl_slist_free_all(hdrs);
	/* Leave nothing pointing at our stack in the reused handle. */
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	free(url);
	return rc;
}

static void xfer_free(xfer *x)
{
	tpg_buf_free(&x->errbody);
	free(x->ctype);
	free(x->api_version);
	free(x->builder_version);
	free(x->os_type);
}

int tpg_docker_request(tpg_docker *dk, const tpg_docker_req *req, long long deadline,
                       long *status, char **ctype_out, tpg_err *err)
{
	xfer x;
	int rc = perform(dk, req, deadline, status, ctype_out, &x, err);
	xfer_free(&x);
	return rc;
}

/* ---------------------------------------------------------------- JSON calls */

static int sink_buf(void *ctx, const char *data, size_t len)
{
	tpg_buf *b = ctx;
	tpg_buf_append(b, data, len);
	return b->truncated ? TPG_ETOOBIG : 0;
}

int tpg_dockeri_call(tpg_docker *dk, const char *method, const char *path, const json_t *body,
                     long long deadline, long *status, json_t **out, const long *tolerate,
                     tpg_err *err)
{
	tpg_buf ans;
	char *text = NULL;
	long st = 0;
	tpg_err local = {0};
	tpg_err *e = err ? err : &local;

	if (out)
		*out = NULL;
	tpg_buf_init_capped(&ans, TPG_DOCKER_JSON_MAX, false);
	if (body)
		text = json_dumps(body, JSON_COMPACT);
	tpg_docker_req req = {
		.method = method, .path = path, .body = text, .body_len = text ? strlen(text) : 0,
		.content_type = "application/json", .sink = sink_buf, .sink_ctx = &ans,
	};
	if (body && !text) {
		tpg_buf_free(&ans);
		return tpg_err_set(err, TPG_EINVAL, "%s %s: cannot encode the JSON body", method, path);
	}
	int rc = tpg_docker_request(dk, &req, deadline, &st, NULL, e);
	free(text);
	if (status)
		*status = st;
	if (rc < 0 && st) {
		for (const long *t = tolerate; t && *t; t++) {
			if (*t == st) {
				tpg_err_clear(e);
				tpg_buf_free(&ans);
				return 0;
			}
		}
	}
	if (rc == TPG_ETOOBIG)
		tpg_err_set(e, rc, "%s %s: the daemon's answer is over %u MB", method, path,
		            TPG_DOCKER_JSON_MAX >> 20);
	if (rc == 0 && out && ans.len > 0) {
		json_error_t jerr;
		*out = json_loadb(tpg_buf_cstr(&ans), ans.len, JSON_ALLOW_NUL, &jerr);
		if (!*out)
			rc = tpg_err_set(e, TPG_EPROTO,
			                 "%s %s: the Docker daemon answered malformed JSON (%s at "
			                 "line %d)", method, path, jerr.text, jerr.line);
	}
	tpg_buf_free(&ans);
	return rc;
}

int tpg_docker_call(tpg_docker *dk, const char *method, const char *path_with_query,
                    const json_t *json_body, long long deadline, long *status,
                    json_t **json_out, tpg_err *err)
{
	return tpg_dockeri_call(dk, method, path_with_query, json_body, deadline, status,
	                        json_out, NULL, err);
}

json_t *tpg_dockeri_kv_object(const char *const *kv)
{
	json_t *o = json_object();
	for (const char *const *p = kv; p && *p; p++) {
		const char *eq = strchr(*p, '=');
		char *k = eq ? tpg_xstrndup(*p, (size_t)(eq - *p)) : tpg_xstrdup(*p);
		json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
		free(k);
	}
	return o;
}

const char *tpg_dockeri_stream_error(const json_t *msg)
{
	const json_t *detail = json_object_get(msg, "errorDetail");
	const char *s = json_string_value(json_object_get(detail, "message"));
	if (s && *s)
		return s;
	s = json_string_value(json_object_get(msg, "error"));
	return s && *s ? s : NULL;
}

/* ---------------------------------------------------------------- negotiation */

static void set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = v ? tpg_xstrdup(v) : NULL;
}

static int negotiate(tpg_docker *dk, long long deadline, tpg_err *err)
{
	tpg_buf ans;
	xfer x;
	long status = 0;
	int rc;

	tpg_buf_init_capped(&ans, 4096, false);
	tpg_docker_req ping = {.method = "GET", .path = "/_ping", .unversioned = true,
	                       .sink = sink_buf, .sink_ctx = &ans};
	rc = perform(dk, &ping, deadline, &status, NULL, &x, err);
	if (rc < 0 && status == 400 && !dk->ep.tls &&
	    strstr(tpg_buf_cstr(&x.errbody), "HTTP request to an HTTPS server")) {
		/* Go's answer to plain HTTP on a TLS port. */
		rc = tpg_err_set(err, TPG_EPROTO,
		                 "cannot talk to the Docker daemon at %s: it speaks TLS only (set "
		                 "DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the folder of ca.pem, "
		                 "cert.pem, key.pem)", dk->ep.url);
		xfer_free(&x);
		tpg_buf_free(&ans);
		return rc;
	}
	if (rc < 0 && (status == 0 || rc == TPG_ETIMEOUT || rc == TPG_ECANCELED)) {
		xfer_free(&x);
		tpg_buf_free(&ans);
		return rc;
	}
	/* Any HTTP answer will do: old daemons and proxies may 404 /_ping. */
	tpg_err_clear(err);
	set_str(&dk->daemon_max, x.api_version);
	set_str(&dk->os_type, x.os_type);
	dk->default_builder = x.builder_version && strcmp(x.builder_version, "2") == 0 ? 2 : 1;
	xfer_free(&x);
	tpg_buf_free(&ans);

	/* /version adds the minimum and the product version. It is
	 * unversioned, so asking does not recurse into negotiate(). */
	json_t *v = NULL;
	tpg_err verr = {0};
	tpg_buf vb;
	tpg_buf_init_capped(&vb, 65536, false);
	tpg_docker_req vreq = {.method = "GET", .path = "/version", .unversioned = true,
	                       .sink = sink_buf, .sink_ctx = &vb};
	rc = tpg_docker_request(dk, &vreq, deadline, NULL, NULL, &verr);
	if (rc == 0)
		v = json_loadb(tpg_buf_cstr(&vb), vb.len, 0, NULL);
	tpg_buf_free(&vb);
	if (rc == TPG_ETIMEOUT || rc == TPG_ECANCELED) {
		json_decref(v);
		if (err)
			*err = verr;
		return rc;
	}
	if (v) {
		if (!dk->daemon_max)
			set_str(&dk->daemon_max, json_string_value(json_object_get(v, "ApiVersion")));
		set_str(&dk->daemon_min, json_string_value(json_object_get(v, "MinAPIVersion")));
		set_str(&dk->server_version, json_string_value(json_object_get(v, "Version")));
		if (!dk->os_type)
			set_str(&dk->os_type, json_string_value(json_object_get(v, "Os")));
		json_decref(v);
	}

	if (dk->forced_version) {
		set_str(&dk->api_version, dk->forced_version);
		dk->pinged = true;
		return 0;
	}
	if (!dk->daemon_max || !valid_version(dk->daemon_max)) {
		dk->pinged = false;
		return tpg_err_set(err, TPG_EPROTO,
		                   "the Docker daemon at %s did not say which API version it speaks "
		                   "(no Api-Version header in /_ping, no ApiVersion in /version)",
		                   dk->ep.url);
	}
	const char *chosen = tpg_docker_version_cmp(dk->daemon_max, TPG_DOCKER_API_MAX) < 0
	                             ? dk->daemon_max : TPG_DOCKER_API_MAX;
	if (tpg_docker_version_cmp(chosen, TPG_DOCKER_API_MIN) < 0) {
		dk->pinged = false;
		return tpg_err_set(err, TPG_EPROTO,
		                   "the Docker daemon at %s speaks API %s at most; tpgrade needs %s "
		                   "(Docker 19.03) or later", dk->ep.url, dk->daemon_max,
		                   TPG_DOCKER_API_MIN);
	}
	if (dk->daemon_min && valid_version(dk->daemon_min) &&
	    tpg_docker_version_cmp(chosen, dk->daemon_min) < 0) {
		dk->pinged = false;
		return tpg_err_set(err, TPG_EPROTO,
		                   "the Docker daemon at %s needs API %s or later; tpgrade speaks %s "
		                   "at most (set DOCKER_API_VERSION to try a newer one)",
		                   dk->ep.url, dk->daemon_min, TPG_DOCKER_API_MAX);
	}
	set_str(&dk->api_version, chosen);
	dk->pinged = true;
	return 0;
}

int tpg_docker_ping(tpg_docker *dk, long long deadline, tpg_err *err)
{
	dk->pinged = false;
	return negotiate(dk, deadline, err);
}

/*
 * registry.h - a client of the Registry HTTP API v2 (the distribution /
 * OCI distribution spec): ping, manifests, tags, catalog, and uploads for
 * tests. See docs/registry-client.md.
 *
 * Transport: http:// for localhost, 127.0.0.0/8, ::1 and the hosts the
 * caller lists as insecure; https:// otherwise (opts.ca_bundle to trust a
 * private CA). Every call takes an absolute tpg_now_ms() deadline (0: the
 * per-request timeout only) and gives up with TPG_ECANCELED when
 * tpg_interrupted() rises.
 *
 * Authentication: requests go out anonymously until the registry answers
 * 401; its WWW-Authenticate challenge then decides: Basic (credentials sent
 * with every later request to the registry's own origin) or Bearer (a token
 * fetched from the realm with service and scope "repository:NAME:pull",
 * anonymously or with Basic credentials, or by OAuth POST with an identity
 * token; cached until expires_in, default 60 s). A 401 is retried once,
 * after fetching a fresh token. Credentials are looked up lazily
 * (credentials.h) the first time they are needed.
 *
 * Redirects are followed by hand (GET/HEAD only, at most 5): an
 * Authorization header only ever goes to the registry's own origin (scheme,
 * host and port), never to a redirect target elsewhere; curl's automatic
 * redirects and auth forwarding are off.
 *
 * Errors are sentences: "repository my-ubuntu not found in localhost:5000"
 * (TPG_ENOTFOUND), "tag v2 not found in repository my-ubuntu of
 * localhost:5000 (it has: latest)", "localhost:5000 refused the credentials
 * (from explicit credentials)" (TPG_EAUTH), "cannot reach the registry at
 * http://localhost:5000/v2/: ..." (TPG_EUNAVAIL). No message contains a
 * password, token or Authorization header: every message leaving this module
 * is scrubbed of the secrets the client knows.
 *
 * A tpg_registry is not thread-safe; use one per thread.
 */
#ifndef TPGRADE_REGISTRY_H
#define TPGRADE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"

#define TPG_MEDIATYPE_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define TPG_MEDIATYPE_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define TPG_MEDIATYPE_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define TPG_MEDIATYPE_OCI_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define TPG_MEDIATYPE_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define TPG_MEDIATYPE_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define TPG_MEDIATYPE_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define TPG_MEDIATYPE_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"

typedef struct tpg_registry tpg_registry;

typedef struct tpg_registry_opts {
	const char *host;                /* the registry as in an image reference:
	                                    "localhost:5000", "docker.io", "[::1]:5000" */
	const char *const *insecure;     /* NULL-terminated hosts ("host" or
	                                    "host:port") spoken to over http://; may be NULL */
	const char *ca_bundle;           /* PEM file of CAs for https; NULL: the system's */
	const char *username;            /* explicit credentials, used when both set */
	const char *password;
	const char *docker_config_dir;   /* NULL: $DOCKER_CONFIG, else ~/.docker */
	const char *docker_auth_config;  /* JSON text; NULL: $DOCKER_AUTH_CONFIG */
	bool no_env;                     /* read no environment variable (tests) */
	bool anonymous;                  /* never look credentials up */
	long timeout_ms;                 /* cap of one HTTP request; 0: 30 s */
	size_t page_size;                /* n= of tags and catalog pages; 0: 100 */
	size_t max_manifest;             /* manifest body cap; 0: 4 MiB */
} tpg_registry_opts;

/* Validates opts->host and prepares a client; no network traffic yet. */
int tpg_registry_open(const tpg_registry_opts *opts, tpg_registry **out, tpg_err *err);
/* Frees the client and wipes the secrets it held. NULL is fine. */
void tpg_registry_close(tpg_registry *reg);
/* "http://127.0.0.1:5000", "https://registry-1.docker.io". Borrowed. */
const char *tpg_registry_base_url(const tpg_registry *reg);
/* The host as given in opts ("docker.io"). Borrowed. */
const char *tpg_registry_host(const tpg_registry *reg);
/* "none", "basic", "bearer", or "unknown" before the first answer. Static. */
const char *tpg_registry_auth_scheme(const tpg_registry *reg);

/*
 * GET /v2/: 0 when the registry answers and, if it wants authentication
 * and credentials exist, accepts them (Basic: /v2/ with them; Bearer: a
 * token without scope, like `docker login`). Without credentials a
 * registry that wants them still pings fine (anonymous pulls may work).
 * TPG_EAUTH when credentials are refused, TPG_EUNAVAIL when unreachable,
 * TPG_EPROTO when the host is no v2 registry.
 */
int tpg_registry_ping(tpg_registry *reg, long long deadline, tpg_err *err);

typedef struct tpg_platform {
	char *os;              /* "linux"; "unknown" for attestation manifests */
	char *architecture;    /* "amd64" */
	char *variant;         /* "v8" or NULL */
	char *digest;          /* of the platform's manifest */
	char *media_type;
	long long size;
} tpg_platform;

typedef struct tpg_manifest_info {
	char *digest;            /* Docker-Content-Digest, or sha256 of the body */
	char *media_type;        /* without parameters */
	long long size;          /* bytes of the manifest, -1 unknown */
	bool is_index;           /* OCI index or Docker manifest list */
	/* index / list (GET only) */
	tpg_platform *platforms;
	size_t n_platforms;
	/* image manifest (GET only) */
	char *config_digest;
	char *config_media_type;
	long long config_size;
	size_t n_layers;
	long long *layer_sizes;  /* n_layers entries */
	long long layers_size;   /* their sum */
	/* GET only: the raw manifest, NUL-terminated */
	char *body;
	size_t body_len;
} tpg_manifest_info;

/* Frees the fields and zeroes the struct (not the struct itself). */
void tpg_manifest_info_free(tpg_manifest_info *m);

/*
 * HEAD /v2/REPO/manifests/REF (REF: a tag or "sha256:..."), with Accept
 * listing the OCI index and manifest and Docker list and v2 manifest types.
 * Fills digest, media_type, size, is_index. Falls back to GET when the
 * registry gives no digest. TPG_ENOTFOUND with a message telling whether
 * the repository or the tag is missing.
 */
int tpg_registry_manifest_head(tpg_registry *reg, const char *repo, const char *ref,
			       long long deadline, tpg_manifest_info *out, tpg_err *err);
/* GET, and parses the manifest (platforms, config, layers). Checks the body
 * against Docker-Content-Digest and against REF when it is a digest. */
int tpg_registry_manifest_get(tpg_registry *reg, const char *repo, const char *ref,
			      long long deadline, tpg_manifest_info *out, tpg_err *err);
/* Whether REPO exists (its tags list answers). */
int tpg_registry_repo_exists(tpg_registry *reg, const char *repo, long long deadline,
			     bool *exists, tpg_err *err);

/*
 * The tags of REPO, following Link rel="next" pages (n = page size), at
 * most `max` (0: 10000). *more (may be NULL) tells whether entries were left.
 */
int tpg_registry_tags(tpg_registry *reg, const char *repo, size_t max, long long deadline,
		      tpg_strv *out, bool *more, tpg_err *err);
/* /v2/_catalog, likewise (scope registry:catalog:*). */
int tpg_registry_catalog(tpg_registry *reg, size_t max, long long deadline, tpg_strv *out,
			 bool *more, tpg_err *err);

/* GET a blob into `out` (capped at max bytes, 0: 16 MiB: TPG_ETOOBIG
 * beyond), checking its digest. Follows redirects (without credentials to
 * other hosts). */
int tpg_registry_blob_get(tpg_registry *reg, const char *repo, const char *digest,
			  size_t max, long long deadline, tpg_buf *out, tpg_err *err);
/* HEAD a blob. */
int tpg_registry_blob_exists(tpg_registry *reg, const char *repo, const char *digest,
			     long long deadline, bool *exists, tpg_err *err);

/* Uploads (for tests: push images without a daemon). Scope pull,push. */
/* Monolithic upload (POST then PUT ?digest=); skipped when the blob exists.
 * *digest_out (may be NULL) gets "sha256:...". */
int tpg_registry_blob_upload(tpg_registry *reg, const char *repo, const void *data,
			     size_t len, long long deadline, char **digest_out, tpg_err *err);
/* PUT /v2/REPO/manifests/REF with Content-Type media_type. */
int tpg_registry_manifest_put(tpg_registry *reg, const char *repo, const char *ref,
			      const char *media_type, const void *body, size_t len,
			      long long deadline, char **digest_out, tpg_err *err);

typedef struct tpg_registry_stats {
	unsigned requests;        /* HTTP requests sent (redirect hops included) */
	unsigned redirects;       /* redirects followed */
	unsigned token_fetches;   /* successful token fetches */
	unsigned auth_retries;    /* requests re-sent after a 401 */
	size_t max_body_kept;     /* largest response body held in memory */
} tpg_registry_stats;

void tpg_registry_get_stats(const tpg_registry *reg, tpg_registry_stats *out);

/* --- protocol helpers (pure functions, also used by the unit tests) --- */

/* "sha256:<64 hex>" of the bytes. */
char *tpg_registry_sha256(const void *data, size_t len);

typedef struct tpg_auth_challenge {
	char *scheme;   /* "basic", "bearer" (lowercased) */
	char *realm;
	char *service;
	char *scope;
	char *error;    /* "invalid_token", "insufficient_scope" */
} tpg_auth_challenge;

/* Parses one WWW-Authenticate value (auth-params, quoted strings with
 * backslash escapes). TPG_EPARSE when it is not a challenge. */
int tpg_registry_parse_challenge(const char *value, tpg_auth_challenge *out);
void tpg_registry_challenge_free(tpg_auth_challenge *c);

/* The URL of the rel="next" link in a Link header value, or NULL. */
char *tpg_registry_link_next(const char *link);

/* An absolute URL for `ref` (absolute, "//host/..", "/path" or relative)
 * seen at `base`; NULL if ref is not http(s) or holds user:password@. */
char *tpg_registry_resolve_url(const char *base, const char *ref);

/* Same scheme, host (case-insensitive) and port (default ports filled in). */
bool tpg_registry_same_origin(const char *url_a, const char *url_b);

/* Whether `domain` is spoken to over plain http: localhost, 127.0.0.0/8,
 * [::1], or listed in `insecure` (as "host" or "host:port"). */
bool tpg_registry_is_insecure(const char *domain, const char *const *insecure);

/*
 * Turns an error answer into a sentence in err: HTTP status, the body's
 * {"errors":[{"code","message","detail"}]} (may be NULL or cut), the
 * registry host, repository and reference (either may be NULL). Returns the
 * TPG_E* code: NAME_UNKNOWN, MANIFEST_UNKNOWN, BLOB_UNKNOWN -> ENOTFOUND;
 * UNAUTHORIZED -> EAUTH; DENIED -> EDENIED; TOOMANYREQUESTS and 5xx ->
 * EUNAVAIL; other codes -> EPROTO or EINVAL.
 */
int tpg_registry_error_from_answer(long status, const char *body, bool body_cut,
				   const char *host, const char *repo, const char *ref,
				   tpg_err *err);

#endif

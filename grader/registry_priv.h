/*
 * registry_priv.h - internals shared by registry.c (the operations) and
 * registry_auth.c (HTTP requests, redirects, challenges, tokens,
 * credentials). Not a public header.
 */
#ifndef TPGRADE_REGISTRY_PRIV_H
#define TPGRADE_REGISTRY_PRIV_H

#include <curl/curl.h>

#include "tpgrade/buf.h"
#include "tpgrade/credentials.h"
#include "tpgrade/registry.h"

#define TPG_REGISTRY_ERROR_BODY_MAX (64 * 1024)
#define TPG_REGISTRY_PAGE_BODY_MAX (4 * 1024 * 1024)
#define TPG_REGISTRY_TOKEN_BODY_MAX (1024 * 1024)
#define TPG_REGISTRY_HEADER_MAX 8192
#define TPG_REGISTRY_MAX_REDIRECTS 5

enum { REG_AUTH_UNKNOWN, REG_AUTH_NONE, REG_AUTH_BASIC, REG_AUTH_BEARER };
enum { REG_CRED_UNKNOWN, REG_CRED_FOUND, REG_CRED_NONE };

typedef struct reg_token {
	char *scope;          /* "" for a token without scope */
	char *token;
	long long expires;    /* tpg_now_ms() value */
} reg_token;

struct tpg_registry {
	char *domain;         /* as given: "docker.io" */
	char *base_url;       /* "https://registry-1.docker.io" */
	bool plain_http;
	char **insecure;      /* copied list, NULL-terminated, may be NULL */
	char *ca_bundle;
	char *username, *password;   /* explicit */
	char *docker_config_dir, *docker_auth_config;
	bool no_env, anonymous;
	long timeout_ms;
	size_t page_size, max_manifest;
	char *user_agent;
	char *noproxy;         /* CURLOPT_NOPROXY: loopback never via a proxy */
	CURL *curl;

	int auth_kind;
	char *realm, *service;
	reg_token *tokens;
	size_t n_tokens, cap_tokens;

	int cred_state;
	tpg_cred cred;
	char cred_note[TPG_ERR_MSG_MAX];  /* why there are none: "no credentials for X (looked at...)" */

	tpg_strv secrets;     /* everything to scrub from messages */
	tpg_registry_stats stats;
};

typedef struct reg_req {
	const char *method;        /* GET HEAD POST PUT */
	const char *url;           /* absolute */
	const char *accept;
	const char *content_type;
	const void *body;
	size_t body_len;
	const char *scope;         /* token scope; NULL: none (ping) */
	size_t cap;                /* success body cap (0: the error cap) */
	bool follow;               /* follow redirects (GET/HEAD) */
	long long deadline;
} reg_req;

typedef struct reg_resp {
	long status;
	tpg_buf body;
	bool body_cut;             /* a cap was hit: the rest was not read */
	char *content_type;
	char *digest;              /* Docker-Content-Digest */
	char *location;
	char *link;
	long long content_length;  /* -1 unknown */
	tpg_strv challenges;       /* WWW-Authenticate values */
	char *url;                 /* the URL that answered (after redirects) */
	size_t cap;                /* internal: req->cap, for the curl callbacks */
	long long deadline;        /* internal: req->deadline, likewise */
} reg_resp;

void tpg_registry_resp_free(reg_resp *r);
/* Sends the request with authentication (see registry.h), following
 * redirects if asked. 0 means an HTTP answer is in *resp (any status but a
 * 401 that could not be satisfied, which becomes TPG_EAUTH). */
int tpg_registry_request(tpg_registry *reg, const reg_req *req, reg_resp *resp, tpg_err *err);
/* Remembers a secret to scrub from messages. */
void tpg_registry_add_secret(tpg_registry *reg, const char *secret);
/* Remembers a password (NULL: nothing) and the base64 of its Basic header. */
void tpg_registry_add_password(tpg_registry *reg, const char *user, const char *password);
/* Scrubs the secrets from err->msg; returns rc. Every public function
 * returns through it. */
int tpg_registry_finish(tpg_registry *reg, int rc, tpg_err *err);
/* tpg_registry_error_from_answer; with `blob`, ref is a blob's digest (a
 * plain 404 is then "blob ... not found"). */
int tpg_registry_answer_error(long status, const char *body, bool body_cut, const char *host,
			      const char *repo, const char *ref, bool blob, tpg_err *err);
/* The ping sequence of tpg_registry_ping. */
int tpg_registry_do_ping(tpg_registry *reg, long long deadline, tpg_err *err);
void tpg_registry_auth_free(tpg_registry *reg);

#endif

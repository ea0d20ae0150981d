/*
 * credentials.h - registry credentials, found where the docker CLI finds
 * them, in this order:
 *
 *  1. explicit values from the caller (e.g. spec variables such as
 *     ${CI_REGISTRY_USER} / ${CI_REGISTRY_PASSWORD});
 *  2. DOCKER_AUTH_CONFIG: the JSON text of a config.json (GitLab CI);
 *  3. $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
 *
 * In each config (2 and 3): credHelpers[key], else credsStore (a helper
 * program `docker-credential-<name>` run as `get`, the server URL on its
 * stdin, `{"ServerURL","Username","Secret"}` on its stdout; Username
 * "<token>" means Secret is an identity token), then auths[key] (`auth` =
 * base64 "user:password", or `username`/`password`, or `identitytoken`).
 * A helper that has nothing for the host lets the lookup go on to auths (the
 * docker CLI would stop there). The key is tpg_imageref_config_key(domain);
 * auths keys also match after removing "http(s)://" and anything from the
 * first "/" ("https://localhost:5000/v2/" matches "localhost:5000"), like
 * docker's ConvertToHostname.
 *
 * Secrets never appear in an error message or in `source`; tpg_cred_free
 * wipes them.
 */
#ifndef TPGRADE_CREDENTIALS_H
#define TPGRADE_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "tpgrade/common.h"

typedef struct tpg_cred {
	char *username;        /* NULL with an identity token only */
	char *password;        /* NULL with an identity token */
	char *identity_token;  /* an OAuth refresh token, or NULL */
	char *source;          /* where they came from, safe to print:
	                          "explicit credentials", "DOCKER_AUTH_CONFIG
	                          (auths)", "docker-credential-pass",
	                          "/root/.docker/config.json (auths)" */
} tpg_cred;

typedef struct tpg_cred_opts {
	const char *username;            /* explicit; used when both are non-empty */
	const char *password;
	const char *docker_auth_config;  /* JSON text; NULL: $DOCKER_AUTH_CONFIG */
	const char *config_dir;          /* NULL: $DOCKER_CONFIG, else $HOME/.docker */
	bool no_env;                     /* read no environment variable (tests) */
	long long deadline;              /* for helper programs; 0: 10 s from now */
} tpg_cred_opts;

/*
 * Looks up the credentials for registry `domain` ("docker.io",
 * "localhost:5000"). Returns 0 and fills *out when some were found,
 * TPG_ENOTFOUND (with a message listing where it looked) when none were;
 * another error when a config file does not parse or a helper fails (the
 * message names the file or the helper, never a secret).
 * *out is zeroed first; free it with tpg_cred_free.
 */
int tpg_cred_lookup(const char *domain, const tpg_cred_opts *opts, tpg_cred *out,
		    tpg_err *err);
/* Wipes and frees the fields (not the struct itself). */
void tpg_cred_free(tpg_cred *c);

/*
 * Runs `docker-credential-<helper> get` for `server_url` (found in PATH,
 * without a shell), giving up at `deadline` (absolute tpg_now_ms(); 0: 10 s).
 * Returns 0, TPG_ENOTFOUND when the helper has no credentials for the
 * server, TPG_ETIMEOUT, TPG_ECANCELED, or TPG_EIO/TPG_EPROTO/TPG_ENOTFOUND
 * with a message when the helper is missing or misbehaves.
 */
int tpg_cred_run_helper(const char *helper, const char *server_url, long long deadline,
			tpg_cred *out, tpg_err *err);

/* Base64 (standard alphabet, padded), used for Basic auth and config.json. */
char *tpg_cred_base64_encode(const void *data, size_t len);
/* Decodes; ignores no character: returns NULL on any invalid input. The
 * result is NUL-terminated; *len_out (may be NULL) gets its length. */
char *tpg_cred_base64_decode(const char *s, size_t *len_out);
/* The "Basic <base64(user:password)>" header value; wipe and free it. */
char *tpg_cred_basic_header(const char *user, const char *password);
/* Overwrites a string's bytes with zeros, then frees it. NULL is fine. */
void tpg_cred_wipe_free(char *s);
/* Overwrites every string of a JSON tree (Jansson keeps copies of what it
 * parsed: config.json, helper and token answers) before json_decref. */
void tpg_cred_wipe_json(json_t *j);

#endif

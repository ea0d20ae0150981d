/*
 * imageref.h - image references ("ubuntu", "localhost:5000/my-ubuntu:v2",
 * "name@sha256:...") parsed and normalised the way the docker CLI does
 * (docker/distribution's reference grammar and ParseNormalizedNamed):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] component ( "/" component )*
 *   domain     := host [ ":" port ]; host is a DNS name or "[" IPv6 "]"
 *   component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *   digest     := "sha256:" 64 lowercase hex (also sha384/96, sha512/128)
 *
 * The first component is a domain when it contains "." or ":", is
 * "localhost", or has an uppercase letter; otherwise the domain is
 * "docker.io" and a single-component path gets "library/". "index.docker.io"
 * is normalised to "docker.io". The name (domain "/" path) is at most 255
 * characters. A reference with neither tag nor digest gets the tag "latest"
 * (tag_implicit is then true).
 *
 * Difference from Docker: a first component with "." or ":" that is not a
 * valid domain (e.g. "my_host.com/x") is rejected, where Docker would quietly
 * make it a path with no domain.
 */
#ifndef TPGRADE_IMAGEREF_H
#define TPGRADE_IMAGEREF_H

#include <stdbool.h>
#include <stddef.h>

#include "tpgrade/common.h"

#define TPG_IMAGEREF_NAME_MAX 255
#define TPG_IMAGEREF_TAG_MAX 128
#define TPG_IMAGEREF_DOCKER_HUB "docker.io"
#define TPG_IMAGEREF_DOCKER_HUB_API "registry-1.docker.io"
#define TPG_IMAGEREF_DOCKER_HUB_KEY "https://index.docker.io/v1/"

typedef struct tpg_imageref {
	char *domain;      /* "docker.io", "localhost:5000", "[::1]:5000" */
	char *path;        /* repository within the domain: "library/ubuntu" */
	char *tag;         /* "latest" when none was written; NULL with a digest only */
	char *digest;      /* "sha256:<hex>" or NULL */
	bool tag_implicit; /* the tag is the "latest" default */
} tpg_imageref;

/*
 * Parses `s`. On error returns TPG_EINVAL with a message naming the
 * reference and what is wrong ("invalid reference \"Ubuntu\": repository
 * name must be lowercase"). *out is set only on success.
 */
int tpg_imageref_parse(const char *s, tpg_imageref **out, tpg_err *err);
void tpg_imageref_free(tpg_imageref *r);

/* "docker.io/library/ubuntu:latest", "localhost:5000/x@sha256:..." */
char *tpg_imageref_string(const tpg_imageref *r);
/* Docker's familiar form: "ubuntu:latest", "user/app:v1",
 * "localhost:5000/my-ubuntu:latest" (tag, then digest when present). */
char *tpg_imageref_familiar(const tpg_imageref *r);
/* The familiar name alone: "ubuntu", "localhost:5000/my-ubuntu". */
char *tpg_imageref_familiar_name(const tpg_imageref *r);
/* What to ask a registry's manifests endpoint for: the digest if any, else
 * the tag. Borrowed from r. */
const char *tpg_imageref_manifest_ref(const tpg_imageref *r);

/* The host to speak the registry API to: "registry-1.docker.io" for
 * "docker.io", the domain itself otherwise. Static or borrowed from domain. */
const char *tpg_imageref_api_host(const char *domain);
/* The key of the domain in a docker config.json ("auths", "credHelpers"):
 * "https://index.docker.io/v1/" for Docker Hub, the domain otherwise. */
const char *tpg_imageref_config_key(const char *domain);

/* Grammar checks of single parts (no normalisation). */
bool tpg_imageref_valid_tag(const char *tag);
bool tpg_imageref_valid_digest(const char *digest);
bool tpg_imageref_valid_path(const char *path);
bool tpg_imageref_valid_domain(const char *domain);

#endif

/*
 * docker.h - a small Docker Engine API client (libcurl + jansson).
 *
 * One opaque handle per daemon connection. A handle is not thread-safe: use
 * one per thread. Every call takes an absolute deadline (tpg_now_ms()
 * milliseconds; 0 means "no deadline" and is meant for tools and tests
 * only) and polls tpg_interrupted(): it gives up with TPG_ETIMEOUT or
 * TPG_ECANCELED. Connection failures are TPG_EUNAVAIL with a message naming
 * the endpoint ("cannot connect to the Docker daemon at
 * unix:///var/run/docker.sock: No such file or directory"), except what
 * waiting will not mend: certificates refused either way TPG_EDENIED,
 * plain HTTP to a TLS-only daemon TPG_EPROTO. Daemon errors
 * (`{"message": ...}`) reach err->msg verbatim, after "<METHOD> <path>: HTTP
 * <status>: "; 404 is TPG_ENOTFOUND, 409 TPG_EEXISTS, 400 TPG_EINVAL,
 * 401/403 TPG_EDENIED, other statuses TPG_EGENERIC.
 *
 * What we keep from the daemon is capped: JSON answers at
 * TPG_DOCKER_JSON_MAX, error bodies at TPG_DOCKER_ERROR_MAX, streams in
 * caller-provided capped tpg_bufs. See docs/docker-client.md.
 */
#ifndef TPGRADE_DOCKER_H
#define TPGRADE_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"

/* API versions we speak: we negotiate min(daemon max, MAX) and refuse a
 * daemon whose max is below MIN. */
#define TPG_DOCKER_API_MIN "1.40"
#define TPG_DOCKER_API_MAX "1.47"

#define TPG_DOCKER_DEFAULT_SOCKET "/var/run/docker.sock"
#define TPG_DOCKER_JSON_MAX (16u << 20)    /* JSON answers */
#define TPG_DOCKER_ERROR_MAX (64u << 10)   /* error bodies */

/* The label on everything tpgrade creates; its value is the run id. */
#define TPG_DOCKER_LABEL_RUN "tpgrade.run"

typedef struct tpg_docker tpg_docker;

/* ---------------------------------------------------------------- endpoint */

/* Where the daemon is, resolved from an explicit host and the environment
 * like the docker CLI (and GitLab's docker:dind images) do. */
typedef struct tpg_docker_endpoint {
	char *url;          /* "unix:///var/run/docker.sock", "tcp://docker:2376" */
	char *socket_path;  /* unix: the socket; NULL for tcp */
	char *host;         /* tcp: host name or address; NULL for unix */
	int port;           /* tcp: port */
	char *base_path;    /* tcp: path prefix ("" usually) */
	bool tls;           /* https */
	bool tls_verify;    /* verify the daemon's certificate against ca */
	char *ca, *cert, *key;   /* TLS files (NULL when absent) */
	char *origin;       /* why: "--docker-host", "DOCKER_HOST", "GitLab docker:dind
	                       (DOCKER_TLS_CERTDIR)", "default" */
	char *note;         /* a remark for error messages, or NULL */
} tpg_docker_endpoint;

/* Hooks for tests; any NULL member (or a NULL probe) uses the real thing. */
typedef struct tpg_docker_probe {
	const char *(*getenv)(const char *name);
	bool (*resolves)(const char *host);    /* getaddrinfo succeeds */
	bool (*is_socket)(const char *path);   /* stat says S_ISSOCK */
} tpg_docker_probe;

/* Resolves the endpoint: `explicit_host` (the CLI's --docker-host) first,
 * then DOCKER_HOST, then GitLab dind, then the default socket. Hosts:
 * unix:///path, tcp://host[:port][/path], http://, https://, host:port.
 * TPG_EINVAL for an unsupported scheme (ssh://, npipe://, fd://). */
int tpg_docker_endpoint_resolve(const char *explicit_host, const tpg_docker_probe *probe,
                                tpg_docker_endpoint *out, tpg_err *err);
void tpg_docker_endpoint_free(tpg_docker_endpoint *ep);

/* ---------------------------------------------------------------- handle */

typedef struct tpg_docker_opts {
	const char *host;          /* --docker-host; NULL: environment */
	const char *api_version;   /* forces a version, like DOCKER_API_VERSION
	                              (which is read when this is NULL) */
	const tpg_docker_probe *probe;   /* tests; NULL */
} tpg_docker_opts;

/* Resolves the endpoint and prepares a handle; does not connect. */
int tpg_docker_open(const tpg_docker_opts *opts, tpg_docker **out, tpg_err *err);
void tpg_docker_close(tpg_docker *dk);

/* GET /_ping, then GET /version: learns the daemon's versions and builder
 * and settles the API version. Called implicitly by the first request
 * when not called before. */
int tpg_docker_ping(tpg_docker *dk, long long deadline, tpg_err *err);

/* "unix:///var/run/docker.sock" (+ " (from DOCKER_HOST)"); borrowed. */
const char *tpg_docker_endpoint_desc(const tpg_docker *dk);
const tpg_docker_endpoint *tpg_docker_endpoint_get(const tpg_docker *dk);
/* The negotiated API version ("1.41"); NULL before ping. Borrowed. */
const char *tpg_docker_api_version(const tpg_docker *dk);
/* The daemon's product version ("20.10.24+dfsg1"); NULL if unknown. */
const char *tpg_docker_server_version(const tpg_docker *dk);
/* Builders: BuildKit works through POST /build?version=2 (API >= 1.39,
 * Linux daemon); the default builder comes from /_ping's Builder-Version. */
bool tpg_docker_buildkit_available(const tpg_docker *dk);
int tpg_docker_default_builder(const tpg_docker *dk);  /* 1 or 2 */

/* Compares "1.41" and "1.44": <0, 0, >0. Unparsable versions sort first. */
int tpg_docker_version_cmp(const char *a, const char *b);

/* ---------------------------------------------------------------- requests */

/* A request to `path_with_query` ("/containers/json?all=1"), which gets the
 * "/v<api>" prefix. `json_body` (may be NULL) is sent as JSON.
 * *status gets the HTTP status (may be NULL). On 2xx, *json_out (may be
 * NULL) gets the parsed answer, or NULL for an empty body; a body that does
 * not parse is TPG_EPROTO. Non-2xx statuses are errors (see the top). */
int tpg_docker_call(tpg_docker *dk, const char *method, const char *path_with_query,
                    const json_t *json_body, long long deadline, long *status,
                    json_t **json_out, tpg_err *err);

/* Receives the body of a streaming answer piece by piece; a non-zero
 * return aborts the transfer (the call then returns that value if it is
 * negative, TPG_ECANCELED otherwise). */
typedef int (*tpg_docker_sink)(void *ctx, const char *data, size_t len);

/* Lower-level: the body of a 2xx answer goes to `sink` as it arrives (an
 * error answer is handled as in tpg_docker_call). The request body is
 * `body` (`body_len` bytes, content type `content_type`) or, when
 * `body_file` is non-NULL, read from that FILE (body_len bytes). *ctype_out
 * (may be NULL) gets the answer's Content-Type (malloc'ed, or NULL). */
typedef struct tpg_docker_req {
	const char *method;
	const char *path;           /* with query; "/v<api>" is prepended */
	bool unversioned;           /* do not prepend "/v<api>" */
	const char *content_type;
	const char *body;
	size_t body_len;
	void *body_file;            /* FILE *, read from its current position */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated */
	tpg_docker_sink sink;
	void *sink_ctx;
	/* Optional: called with sink_ctx while the transfer runs, also when no
	 * data comes (about once a second then); non-zero stops it as a
	 * sink's return does. */
	int (*tick)(void *ctx);
} tpg_docker_req;
int tpg_docker_request(tpg_docker *dk, const tpg_docker_req *req, long long deadline,
                       long *status, char **ctype_out, tpg_err *err);

/* ---------------------------------------------------------------- streams */

/* Demultiplexes Docker's stdout/stderr stream (8-byte headers: stream,
 * 0, 0, 0, size big-endian). Feed it bytes in any pieces. In raw mode
 * (TTY, or a first header that is not one) everything is stdout. */
typedef void (*tpg_demux_cb)(void *ctx, int stream /* 1 stdout, 2 stderr */,
                             const char *data, size_t len);
typedef struct tpg_demux {
	int mode;                 /* 0 unknown yet, 1 multiplexed, 2 raw */
	unsigned char hdr[8];
	size_t hdr_len;
	size_t left;              /* payload bytes left in the current frame */
	int stream;
	bool bad;                 /* a header made no sense mid-stream */
	tpg_demux_cb cb;
	void *ctx;
} tpg_demux;
/* mode: 0 guess from the first header, 1 multiplexed, 2 raw. */
void tpg_demux_init(tpg_demux *d, int mode, tpg_demux_cb cb, void *ctx);
/* Returns 0, or TPG_EPROTO once a header made no sense (data is dropped). */
int tpg_demux_feed(tpg_demux *d, const char *data, size_t len);
/* At the end of the stream: TPG_EPROTO with a message if it stopped inside
 * a frame. */
int tpg_demux_finish(const tpg_demux *d, tpg_err *err);

/* Splits a stream into lines ('\n'; a trailing '\r' is dropped), each
 * handed to cb without its end; a line longer than `max_line` is dropped
 * whole (`cut` counts them): a cut JSON message is no use. */
typedef int (*tpg_lines_cb)(void *ctx, const char *line, size_t len);
typedef struct tpg_lines {
	tpg_buf pending;
	size_t max_line;
	bool skipping;
	size_t cut;
	tpg_lines_cb cb;
	void *ctx;
} tpg_lines;
void tpg_lines_init(tpg_lines *l, size_t max_line, tpg_lines_cb cb, void *ctx);
/* Returns the first non-zero value of cb, or 0. */
int tpg_lines_feed(tpg_lines *l, const char *data, size_t len);
int tpg_lines_finish(tpg_lines *l);   /* flushes a last unterminated line */
void tpg_lines_free(tpg_lines *l);

/* ---------------------------------------------------------------- build */

enum {
	TPG_DOCKER_BUILDER_AUTO = 0,      /* BuildKit when available */
	TPG_DOCKER_BUILDER_CLASSIC = 1,
	TPG_DOCKER_BUILDER_BUILDKIT = 2
};

typedef struct tpg_docker_build_opts {
	const char *context_dir;          /* the folder sent as context */
	const char *dockerfile;           /* inside the context; NULL: "Dockerfile" */
	const char *tag;                  /* "name:tag" or NULL */
	const char *const *build_args;    /* "KEY=VALUE", NULL-terminated, or NULL */
	const char *const *labels;        /* "key=value", NULL-terminated, or NULL */
	const char *target;               /* NULL: last stage */
	bool nocache;
	bool pull;                        /* always try to pull FROM images */
	const char *network;              /* RUN steps' network ("none", "host"...);
	                                     NULL: the daemon's default */
	int builder;                      /* TPG_DOCKER_BUILDER_* */
	size_t context_limit;             /* 0: TPG_BUILDCTX_DEFAULT_LIMIT */
	size_t log_limit;                 /* kept log tail; 0: 256 KiB */
	/* Optional: each line of human-readable progress. */
	void (*progress)(void *ctx, const char *line);
	void *progress_ctx;
} tpg_docker_build_opts;

typedef struct tpg_docker_build_result {
	bool ok;               /* the daemon built the image */
	char *image_id;        /* "sha256:..." when ok */
	char *failed_step;     /* "Step 3/5 : RUN pip install nope" (classic) or
	                          "[2/4] RUN pip install nope" (BuildKit); NULL */
	char *failed_output;   /* last lines of that step's output; NULL */
	char *error;           /* the daemon's error message; NULL when ok */
	char *log;             /* the tail of the whole progress text */
	int builder;           /* the builder used (1 or 2) */
	unsigned long long context_bytes;   /* size of the tar sent */
	long long ms;          /* wall time of the build request */
} tpg_docker_build_result;

/* Builds an image. Returns 0 when the daemon ran (or refused) the build:
 * res->ok says whether it succeeded, res->error and res->failed_* why not
 * (a Dockerfile error is the student's, not ours). Negative codes are for
 * what prevented asking: the context (TPG_ETOOBIG "build context over 100
 * MB", ...), the daemon unreachable, the deadline (the partial log is in
 * res), an interrupt. res is always initialised; free it with
 * tpg_docker_build_result_free. */
int tpg_docker_build(tpg_docker *dk, const tpg_docker_build_opts *opts, long long deadline,
                     tpg_docker_build_result *res, tpg_err *err);
void tpg_docker_build_result_free(tpg_docker_build_result *res);

/* ---------------------------------------------------------------- BuildKit trace */

/* BuildKit's progress, as POST /build?version=2 streams it:
 * {"id":"moby.buildkit.trace","aux":"<base64 of a protobuf
 * moby.buildkit.v1.StatusResponse>"}. Decoded with our own reader of the
 * protobuf wire format; unknown fields are skipped. */
typedef struct tpg_bk_vertex {
	char *digest;          /* "sha256:..." */
	char *name;            /* "[2/4] RUN pip install nope" */
	char *error;           /* NULL unless it failed */
	bool cached;
	bool started, completed;
} tpg_bk_vertex;

typedef struct tpg_bk_status {
	char *id, *vertex, *name;
	long long current, total;
	bool completed;
} tpg_bk_status;

typedef struct tpg_bk_log {
	char *vertex;          /* digest of the vertex it belongs to */
	int stream;            /* 1 stdout, 2 stderr */
	char *data;            /* bytes as they are, NUL-terminated too */
	size_t len;
} tpg_bk_log;

typedef struct tpg_bk_warning {
	char *vertex;
	char *text;            /* the short message */
} tpg_bk_warning;

typedef struct tpg_bk_trace {
	tpg_bk_vertex *vertexes;
	size_t n_vertexes;
	tpg_bk_status *statuses;
	size_t n_statuses;
	tpg_bk_log *logs;
	size_t n_logs;
	tpg_bk_warning *warnings;
	size_t n_warnings;
} tpg_bk_trace;

/* Parses a StatusResponse message; TPG_EPARSE when the bytes are not one.
 * *out is zeroed first and is to be freed even on error. */
int tpg_bk_trace_parse(const unsigned char *pb, size_t len, tpg_bk_trace *out, tpg_err *err);
/* Both steps, from the "aux" string. */
int tpg_bk_trace_decode(const char *base64, size_t len, tpg_bk_trace *out, tpg_err *err);
void tpg_bk_trace_free(tpg_bk_trace *t);

/* ---------------------------------------------------------------- images */

int tpg_docker_image_inspect(tpg_docker *dk, const char *name, long long deadline,
                             json_t **out, tpg_err *err);
/* DELETE /images/{name}?force=&noprune=0. */
int tpg_docker_image_remove(tpg_docker *dk, const char *name, bool force, long long deadline,
                            tpg_err *err);
/* GET /images/json with a label filter ("key" or "key=value"; NULL: all). */
int tpg_docker_image_list(tpg_docker *dk, const char *label, long long deadline, json_t **out,
                          tpg_err *err);
/* ---------------------------------------------------------------- containers */

/* A sandboxed container. Unset (zero) fields get the sandbox defaults:
 * Memory 256 MiB (and no extra swap), PidsLimit 256, NanoCpus 1e9, CapDrop
 * ALL, no-new-privileges, not privileged, NetworkMode "none", no TTY. */
typedef struct tpg_docker_container_spec {
	const char *image;
	const char *name;                 /* NULL: the daemon picks one */
	const char *const *cmd;           /* NULL: the image's */
	const char *const *entrypoint;    /* NULL: the image's */
	bool entrypoint_reset;            /* Entrypoint [""]: drop the image's */
	const char *const *env;           /* "K=V" */
	const char *const *labels;        /* "key=value" */
	const char *user;
	const char *workdir;
	long long memory;                 /* bytes; 0: 256 MiB */
	long long pids_limit;             /* 0: 256; <0: unlimited */
	long long nano_cpus;              /* 0: 1e9 (one CPU) */
	const char *const *cap_add;       /* only these (e.g. "NET_BIND_SERVICE") */
	const char *network;              /* NULL: "none" */
	const char *const *publish;       /* "5000/tcp": published on 127.0.0.1,
	                                     ephemeral host port */
	const char *publish_host_ip;      /* the host address ports are bound to;
	                                     NULL: "127.0.0.1" ("0.0.0.0" for a
	                                     remote daemon such as dind) */
	bool tty;
	bool healthcheck_override;        /* keep the image's Test, set these: */
	long long hc_interval_ms, hc_timeout_ms, hc_start_period_ms;   /* 0: unset */
	int hc_retries;                   /* 0: unset */
} tpg_docker_container_spec;

/* The body of POST /containers/create for spec (new reference). */
json_t *tpg_docker_container_config(const tpg_docker_container_spec *spec);
int tpg_docker_container_create(tpg_docker *dk, const tpg_docker_container_spec *spec,
                                long long deadline, char **id_out, tpg_err *err);
/* With a caller-built body (e.g. tpg_docker_container_config + changes). */
int tpg_docker_container_create_json(tpg_docker *dk, const char *name, const json_t *config,
                                     long long deadline, char **id_out, tpg_err *err);
int tpg_docker_container_start(tpg_docker *dk, const char *id, long long deadline, tpg_err *err);
/* Waits until the container stops (call after start); *exit_code gets its
 * status. At the deadline (or on interrupt) the container is killed and
 * TPG_ETIMEOUT (TPG_ECANCELED) returned. */
int tpg_docker_container_wait(tpg_docker *dk, const char *id, long long deadline,
                              int *exit_code, tpg_err *err);
/* signal: NULL means SIGKILL. A container that is not running is not an
 * error. */
int tpg_docker_container_kill(tpg_docker *dk, const char *id, const char *signal,
                              long long deadline, tpg_err *err);
/* DELETE ?force=1&v=1. A container already gone is not an error. */
int tpg_docker_container_remove(tpg_docker *dk, const char *id, long long deadline, tpg_err *err);
int tpg_docker_container_inspect(tpg_docker *dk, const char *id, long long deadline,
                                 json_t **out, tpg_err *err);
/* Output so far (follow=false) or until the container stops (follow=true),
 * stdout and stderr into two capped buffers (either may be NULL), bytes
 * kept as they are. */
int tpg_docker_container_logs(tpg_docker *dk, const char *id, bool follow, long long deadline,
                              tpg_buf *out, tpg_buf *errout, tpg_err *err);
/* The same, each piece handed to `cb` as it arrives (stream 1 stdout, 2
 * stderr; everything is stdout with a TTY), in the daemon's order: for a
 * caller that wants both streams interleaved as well as apart. `stop`
 * (may be NULL) is asked with ctx after each piece and, while following,
 * about once a second when nothing comes: non-zero ends the request,
 * which then returns 1 (a watcher waiting for a line need not read the
 * whole log again and again). */
int tpg_docker_container_logs_cb(tpg_docker *dk, const char *id, bool follow,
                                 long long deadline, tpg_demux_cb cb, int (*stop)(void *ctx),
                                 void *ctx, tpg_err *err);
/* GET /containers/json?all=1 with filters, a JSON object like
 * {"label":["tpgrade.run=x"],"name":["n"],"ancestor":["img"]} (borrowed,
 * may be NULL). */
int tpg_docker_container_list(tpg_docker *dk, const json_t *filters, long long deadline,
                              json_t **out, tpg_err *err);
/* The host port published for "5000/tcp" from an inspect answer; 0 if none. */
int tpg_docker_inspect_host_port(const json_t *inspect, const char *port);

/* Runs argv in a running container (no TTY, no stdin) and waits for it:
 * output demultiplexed into out/errout (capped, may be NULL), exit status
 * in *exit_code. `env` and `user` may be NULL. */
int tpg_docker_exec(tpg_docker *dk, const char *id, const char *const *argv,
                    const char *const *env, const char *user, long long deadline,
                    int *exit_code, tpg_buf *out, tpg_buf *errout, tpg_err *err);

/* The same, output pieces handed to `cb` (stream 1 or 2) in order. */
int tpg_docker_exec_cb(tpg_docker *dk, const char *id, const char *const *argv,
                       const char *const *env, const char *user, long long deadline,
                       int *exit_code, tpg_demux_cb cb, void *ctx, tpg_err *err);

/* ---------------------------------------------------------------- networks */

/* tpgrade creates no network; the cleanup removes labelled ones anyway. */
int tpg_docker_network_remove(tpg_docker *dk, const char *id, long long deadline, tpg_err *err);

/* ---------------------------------------------------------------- cleanup */

typedef struct tpg_docker_cleanup_stats {
	int containers, images, networks, volumes;   /* removed */
	int failures;                                /* could not be removed */
} tpg_docker_cleanup_stats;

/* Removes every container (forced, with its anonymous volumes), then
 * image, network and volume carrying TPG_DOCKER_LABEL_RUN=run_id, or any
 * value of it when run_id is NULL (`tpgrade cleanup`). Objects without the
 * label are never touched (the filter is applied by the daemon and checked
 * again here). Goes on after a failure; returns the first error. */
int tpg_docker_cleanup(tpg_docker *dk, const char *run_id, long long deadline,
                       tpg_docker_cleanup_stats *stats, tpg_err *err);

#endif

/*
 * fakedocker.h - a tiny scripted Engine API server on a unix socket, run
 * in a thread, for fault injection in unit tests (linked into every unit
 * test program, hence the tpgt_fakedocker_ prefix).
 *
 * It answers /_ping and /version itself like a daemon of the configured
 * versions (unless a route overrides them), refuses /vX.Y paths outside
 * [api_min, api_max] with Docker's own messages, and otherwise plays the
 * first route matching the method and the path (without "/vX.Y" and the
 * query). Unmatched requests get 404 {"message":"page not found"}.
 */
#ifndef TPGT_FAKEDOCKER_H
#define TPGT_FAKEDOCKER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tpgt_fakedocker tpgt_fakedocker;

typedef struct tpgt_fakedocker_route {
	const char *method;       /* NULL: any */
	const char *path;         /* exact path, or a prefix when it ends in '*' */
	int status;               /* 0: 200 */
	const char *content_type; /* NULL: application/json */
	const char *body;         /* NULL: empty */
	size_t body_len;          /* 0: strlen(body) */
	size_t repeat;            /* the body is sent this many times (0: once) */
	bool chunked;             /* Transfer-Encoding: chunked ... */
	size_t chunk_size;        /* ... of this many bytes (0: 7) */
	bool no_length;           /* no Content-Length: the end is the close */
	int delay_ms;             /* before answering */
	int stall_ms;             /* after the headers, before the body */
	long long cut_after;      /* close after this many body bytes (>0) */
	const char *headers;      /* extra lines, each ending with "\r\n" */
	bool garbage;             /* answer bytes that are not HTTP at all */
} tpgt_fakedocker_route;

typedef struct tpgt_fakedocker_config {
	const char *api_max;      /* /_ping's Api-Version; NULL: "1.41" */
	const char *api_min;      /* NULL: "1.12" */
	const char *version;      /* product version; NULL: "20.10.24" */
	const char *builder;      /* Builder-Version header; NULL: none */
	bool no_api_header;       /* /_ping without Api-Version */
	bool ping_404;            /* /_ping answers 404 */
} tpgt_fakedocker_config;

/* Starts the server; routes are borrowed and must outlive it. Aborts on
 * failure (tests only). */
tpgt_fakedocker *tpgt_fakedocker_start(const tpgt_fakedocker_config *cfg,
                                       const tpgt_fakedocker_route *routes, size_t n);
/* "unix:///tmp/.../docker.sock"; borrowed. */
const char *tpgt_fakedocker_host(const tpgt_fakedocker *f);
/* Requests seen so far, "METHOD /path?query" one per line (malloc'ed). */
char *tpgt_fakedocker_log(tpgt_fakedocker *f);
/* Body of the last request with one (capped at 1 MiB; malloc'ed, may be
 * ""), and its full length. */
char *tpgt_fakedocker_last_body(tpgt_fakedocker *f, size_t *full_len);
void tpgt_fakedocker_stop(tpgt_fakedocker *f);

#endif

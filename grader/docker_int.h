/*
 * docker_int.h - what grader/docker*.c share and nobody else uses.
 */
#ifndef TPGRADE_DOCKER_INT_H
#define TPGRADE_DOCKER_INT_H

#include "tpgrade/docker.h"

/* tpg_docker_call, but statuses listed in `tolerate` (0-terminated, may be
 * NULL) are not errors: the call returns 0 with *status set. */
int tpg_dockeri_call(tpg_docker *dk, const char *method, const char *path, const json_t *body,
                     long long deadline, long *status, json_t **out, const long *tolerate,
                     tpg_err *err);
/* Escapes a path component (an image name keeps its '/' and ':'). */
char *tpg_dockeri_path_esc(const char *s);
/* Escapes a query value. */
char *tpg_dockeri_query_esc(const char *s);
/* While on, requests ignore tpg_interrupted() (cleanup after Ctrl-C);
 * returns the previous state. */
bool tpg_dockeri_uninterruptible(tpg_docker *dk, bool on);
/* "key=value" strings (NULL-terminated, may be NULL) as a JSON object
 * (labels, build args); a string without '=' gets "". New reference. */
json_t *tpg_dockeri_kv_object(const char *const *kv);
/* The message of a JSON stream's {"error": ...}/{"errorDetail":...} line,
 * or NULL. Borrowed from `msg`. */
const char *tpg_dockeri_stream_error(const json_t *msg);

#endif

/*
 * buildkit_trace.c - BuildKit's progress messages (moby.buildkit.trace):
 * base64 (credentials.h has the decoder), then a protobuf StatusResponse
 * read with a small wire-format reader of our own. Field numbers are those of
 * moby/buildkit api/services/control/control.proto:
 *
 *   StatusResponse { repeated Vertex vertexes = 1; repeated VertexStatus
 *                    statuses = 2; repeated VertexLog logs = 3;
 *                    repeated VertexWarning warnings = 4; }
 *   Vertex         { string digest = 1; repeated string inputs = 2;
 *                    string name = 3; bool cached = 4; Timestamp started = 5;
 *                    Timestamp completed = 6; string error = 7; ... }
 *   VertexStatus   { string ID = 1; string vertex = 2; string name = 3;
 *                    int64 current = 4; int64 total = 5; Timestamp
 *                    timestamp = 6, started = 7, completed = 8; }
 *   VertexLog      { string vertex = 1; Timestamp timestamp = 2;
 *                    int64 stream = 3; bytes msg = 4; }
 *   VertexWarning  { string vertex = 1; int64 level = 2; bytes short = 3; ... }
 *
 * Untrusted input: every length is checked against what is left.
 */
#include "tpgrade/credentials.h"
#include "tpgrade/docker.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- wire format */

typedef struct pb {
	const unsigned char *p, *end;
} pb;

typedef struct pb_field {
	uint32_t num;
	int type;                 /* 0 varint, 1 fixed64, 2 bytes, 5 fixed32 */
	uint64_t varint;
	const unsigned char *data;  /* type 2 */
	size_t len;
} pb_field;

static bool pb_varint(pb *r, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return false;
		unsigned char b = *r->p++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* Reads the next field; 1 when one was read, 0 at the end, -1 on bad
 * input. Groups (types 3 and 4) are long deprecated: bad input here. */
static int pb_next(pb *r, pb_field *f)
{
	uint64_t key;
	if (r->p >= r->end)
		return 0;
	if (!pb_varint(r, &key))
		return -1;
	f->num = (uint32_t)(key >> 3);
	f->type = (int)(key & 7);
	if (f->num == 0)
		return -1;
	switch (f->type) {
	case 0:
		return pb_varint(r, &f->varint) ? 1 : -1;
	case 1:
		if (r->end - r->p < 8)
			return -1;
		r->p += 8;
		return 1;
	case 5:
		if (r->end - r->p < 4)
			return -1;
		r->p += 4;
		return 1;
	case 2: {
		uint64_t n;
		if (!pb_varint(r, &n) || n > (uint64_t)(r->end - r->p))
			return -1;
		f->data = r->p;
		f->len = (size_t)n;
		r->p += n;
		return 1;
	}
	default:
		return -1;
	}
}

static char *pb_str(const pb_field *f)
{
	return tpg_xstrndup((const char *)f->data, f->len);
}

static void set_str(char **slot, const pb_field *f)
{
	free(*slot);
	*slot = pb_str(f);
}

static int parse_vertex(const unsigned char *d, size_t len, tpg_bk_vertex *v)
{
	pb r = {d, d + len};
	pb_field f;
	int rc;
	while ((rc = pb_next(&r, &f)) > 0) {
		if (f.num == 1 && f.type == 2)
			set_str(&v->digest, &f);
		else if (f.num == 3 && f.type == 2)
			set_str(&v->name, &f);
		else if (f.num == 4 && f.type == 0)
			v->cached = f.varint != 0;
		else if (f.num == 5 && f.type == 2)
			v->started = true;
		else if (f.num == 6 && f.type == 2)
			v->completed = true;
		else if (f.num == 7 && f.type == 2) {
			if (f.len)
				set_str(&v->error, &f);
		}
	}
	return rc;
}

static int parse_status(const unsigned char *d, size_t len, tpg_bk_status *s)
{
	pb r = {d, d + len};
	pb_field f;
	int rc;
	while ((rc = pb_next(&r, &f)) > 0) {
		if (f.num == 1 && f.type == 2)
			set_str(&s->id, &f);
		else if (f.num == 2 && f.type == 2)
			set_str(&s->vertex, &f);
		else if (f.num == 3 && f.type == 2)
			set_str(&s->name, &f);
		else if (f.num == 4 && f.type == 0)
			s->current = (long long)f.varint;
		else if (f.num == 5 && f.type == 0)
			s->total = (long long)f.varint;
		else if (f.num == 8 && f.type == 2)
			s->completed = true;
	}
	return rc;
}

static int parse_log(const unsigned char *d, size_t len, tpg_bk_log *l)
{
	pb r = {d, d + len};
	pb_field f;
	int rc;
	while ((rc = pb_next(&r, &f)) > 0) {
		if (f.num == 1 && f.type == 2) {
			set_str(&l->vertex, &f);
		} else if (f.num == 3 && f.type == 0) {
			l->stream = (int)f.varint;
		} else if (f.num == 4 && f.type == 2) {
			/* Bytes, NULs included. */
			free(l->data);
			l->data = tpg_xmalloc(f.len + 1);
			memcpy(l->data, f.data, f.len);
			l->data[f.len] = '\0';
			l->len = f.len;
		}
	}
	return rc;
}

static int parse_warning(const unsigned char *d, size_t len, tpg_bk_warning *w)
{
	pb r = {d, d + len};
	pb_field f;
	int rc;
	while ((rc = pb_next(&r, &f)) > 0) {
		if (f.num == 1 && f.type == 2)
			set_str(&w->vertex, &f);
		else if (f.num == 3 && f.type == 2)
			set_str(&w->text, &f);
	}
	return rc;
}

#define GROW(arr, n) ((arr) = tpg_xreallocarray((arr), (n) + 1, sizeof(*(arr))), \
                      memset(&(arr)[(n)], 0, sizeof(*(arr))), &(arr)[(n)++])

int tpg_bk_trace_parse(const unsigned char *d, size_t len, tpg_bk_trace *out, tpg_err *err)
{
	pb r = {d, d + len};
	pb_field f;
	int rc;

	memset(out, 0, sizeof(*out));
	while ((rc = pb_next(&r, &f)) > 0) {
		if (f.type != 2)
			continue;
		int sub = 0;
		switch (f.num) {
		case 1:
			sub = parse_vertex(f.data, f.len, GROW(out->vertexes, out->n_vertexes));
			break;
		case 2:
			sub = parse_status(f.data, f.len, GROW(out->statuses, out->n_statuses));
			break;
		case 3: {
			tpg_bk_log *l = GROW(out->logs, out->n_logs);
			sub = parse_log(f.data, f.len, l);
			if (!l->data)
				l->data = tpg_xstrdup("");
			break;
		}
		case 4:
			sub = parse_warning(f.data, f.len, GROW(out->warnings, out->n_warnings));
			break;
		default:
			break;
		}
		if (sub < 0) {
			rc = -1;
			break;
		}
	}
	if (rc < 0)
		return tpg_err_set(err, TPG_EPARSE,
		                   "malformed BuildKit progress message (protobuf error at byte %zu "
		                   "of %zu)", (size_t)(r.p - d), len);
	return 0;
}

int tpg_bk_trace_decode(const char *base64, size_t len, tpg_bk_trace *out, tpg_err *err)
{
	memset(out, 0, sizeof(*out));
	char *text = tpg_xstrndup(base64, len);
	size_t n = 0;
	char *bytes = tpg_cred_base64_decode(text, &n);
	free(text);
	if (!bytes)
		return tpg_err_set(err, TPG_EPARSE, "BuildKit progress message: not base64");
	int rc = tpg_bk_trace_parse((const unsigned char *)bytes, n, out, err);
	free(bytes);
	return rc;
}

void tpg_bk_trace_free(tpg_bk_trace *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_vertexes; i++) {
		free(t->vertexes[i].digest);
		free(t->vertexes[i].name);
		free(t->vertexes[i].error);
	}
	for (size_t i = 0; i < t->n_statuses; i++) {
		free(t->statuses[i].id);
		free(t->statuses[i].vertex);
		free(t->statuses[i].name);
	}
	for (size_t i = 0; i < t->n_logs; i++) {
		free(t->logs[i].vertex);
		free(t->logs[i].data);
	}
	for (size_t i = 0; i < t->n_warnings; i++) {
		free(t->warnings[i].vertex);
		free(t->warnings[i].text);
	}
	free(t->vertexes);
	free(t->statuses);
	free(t->logs);
	free(t->warnings);
	memset(t, 0, sizeof(*t));
}

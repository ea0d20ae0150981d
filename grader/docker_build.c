/*
 * docker_build.c - POST /build with either builder, reading the JSON
 * progress stream as it comes: the classic builder's "Step N/M : ..."
 * text, or BuildKit's protobuf trace (buildkit_trace.c). What a grader
 * needs from a failed build is which step failed and the end of its output.
 *
 * The context tar goes to an unlinked temporary file first (bounded
 * memory, a known Content-Length), then is streamed to the daemon.
 */
#include "tpgrade/buildctx.h"
#include "tpgrade/docker.h"
#include "docker_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP_OUTPUT_MAX 8192
#define FAILED_LINES 30
#define MAX_VERTEXES 1024
#define LINE_MAX_BYTES (8u << 20)

typedef struct vtx {
	char *digest;
	char *name;
	char *error;
	int num;                 /* "#N" as BuildKit's plain progress numbers them */
	bool announced, done;
	tpg_buf out;             /* tail of its output */
} vtx;

typedef struct bstate {
	const tpg_docker_build_opts *o;
	tpg_docker_build_result *res;
	tpg_lines lines;
	tpg_buf log;             /* tail of everything */
	tpg_buf partial;         /* classic: a line not finished yet */
	/* classic */
	char *step;
	tpg_buf step_out;
	/* BuildKit */
	vtx *v;
	size_t nv;
	int bad_messages;
} bstate;

static void progress_line(bstate *s, const char *line, size_t n)
{
	tpg_buf_append(&s->log, line, n);
	tpg_buf_putc(&s->log, '\n');
	if (s->o->progress) {
		char *copy = tpg_xstrndup(line, n);
		s->o->progress(s->o->progress_ctx, copy);
		free(copy);
	}
}

/* ---------------------------------------------------------------- classic */

static bool is_step_line(const char *line)
{
	int a, b, n = 0;
	return sscanf(line, "Step %d/%d :%n", &a, &b, &n) == 2 && n > 0;
}

/* The classic builder paints a RUN's stderr red (ESC[91m ... ESC[0m). */
static char *strip_colors(const char *line, size_t *n)
{
	char *l = tpg_xstrndup(line, *n);
	char *w = l;
	for (const char *r = l; *r;) {
		if (strncmp(r, "\x1b[91m", 5) == 0)
			r += 5;
		else if (strncmp(r, "\x1b[0m", 4) == 0)
			r += 4;
		else
			*w++ = *r++;
	}
	*w = '\0';
	*n = (size_t)(w - l);
	return l;
}

static void classic_line(bstate *s, const char *line, size_t n)
{
	char *l = strip_colors(line, &n);
	progress_line(s, l, n);
	if (is_step_line(l)) {
		free(s->step);
		s->step = tpg_xstrdup(l);
		tpg_buf_clear(&s->step_out);
	} else if (strncmp(l, " ---> ", 6) != 0 &&
	           strncmp(l, "Removing intermediate container", 31) != 0 &&
	           strncmp(l, "Successfully ", 13) != 0) {
		tpg_buf_append(&s->step_out, l, n);
		tpg_buf_putc(&s->step_out, '\n');
	}
	free(l);
}

static void classic_stream(bstate *s, const char *text)
{
	tpg_buf_puts(&s->partial, text);
	const char *p = tpg_buf_cstr(&s->partial);
	const char *nl;
	size_t used = 0;
	while ((nl = strchr(p + used, '\n')) != NULL) {
		size_t n = (size_t)(nl - (p + used));
		if (n && p[used + n - 1] == '\r')
			classic_line(s, p + used, n - 1);
		else
			classic_line(s, p + used, n);
		used += n + 1;
	}
	if (used) {
		char *rest = tpg_xstrdup(p + used);
		tpg_buf_clear(&s->partial);
		tpg_buf_puts(&s->partial, rest);
		free(rest);
	}
	if (s->partial.len > 65536) {   /* a line without end: flush it */
		classic_line(s, tpg_buf_cstr(&s->partial), s->partial.len);
		tpg_buf_clear(&s->partial);
	}
}

/* ---------------------------------------------------------------- BuildKit */

static vtx *find_vtx(bstate *s, const char *digest, bool create)
{
	for (size_t i = 0; i < s->nv; i++)
		if (strcmp(s->v[i].digest, digest) == 0)
			return &s->v[i];
	if (!create || s->nv >= MAX_VERTEXES)
		return NULL;
	s->v = tpg_xreallocarray(s->v, s->nv + 1, sizeof(*s->v));
	vtx *v = &s->v[s->nv++];
	memset(v, 0, sizeof(*v));
	v->digest = tpg_xstrdup(digest);
	v->num = (int)s->nv;
	tpg_buf_init_capped(&v->out, STEP_OUTPUT_MAX, true);
	return v;
}

static void vtx_say(bstate *s, vtx *v, const char *fmt, const char *arg)
{
	char *text = tpg_xasprintf(fmt, v->num, arg);
	progress_line(s, text, strlen(text));
	free(text);
}

static void buildkit_trace(bstate *s, const char *b64)
{
	tpg_bk_trace t;
	if (tpg_bk_trace_decode(b64, strlen(b64), &t, NULL) < 0) {
		s->bad_messages++;
		tpg_bk_trace_free(&t);
		return;
	}
	for (size_t i = 0; i < t.n_vertexes; i++) {
		const tpg_bk_vertex *bv = &t.vertexes[i];
		if (!bv->digest)
			continue;
		vtx *v = find_vtx(s, bv->digest, true);
		if (!v)
			continue;
		if (bv->name && (!v->name || strcmp(v->name, bv->name) != 0)) {
			free(v->name);
			v->name = tpg_xstrdup(bv->name);
		}
		if ((bv->started || bv->cached) && !v->announced) {
			v->announced = true;
			vtx_say(s, v, "#%d %s", v->name ? v->name : bv->digest);
		}
		if (bv->error && !v->error) {
			v->error = tpg_xstrdup(bv->error);
			vtx_say(s, v, "#%d ERROR: %s", bv->error);
			v->done = true;
		} else if (bv->completed && !v->done) {
			v->done = true;
			vtx_say(s, v, bv->cached ? "#%d CACHED%s" : "#%d DONE%s", "");
		}
	}
	for (size_t i = 0; i < t.n_logs; i++) {
		const tpg_bk_log *l = &t.logs[i];
		vtx *v = l->vertex ? find_vtx(s, l->vertex, true) : NULL;
		if (v)
			tpg_buf_append(&v->out, l->data, l->len);
		/* The log gets the output line by line with the "#N" prefix. */
		const char *p = l->data, *end = l->data + l->len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			char *text = tpg_xasprintf("#%d %.*s", v ? v->num : 0, (int)n, p);
			progress_line(s, text, strlen(text));
			free(text);
			p += n + (nl ? 1 : 0);
		}
	}
	for (size_t i = 0; i < t.n_warnings; i++) {
		if (t.warnings[i].text) {
			char *text = tpg_xasprintf("WARNING: %s", t.warnings[i].text);
			progress_line(s, text, strlen(text));
			free(text);
		}
	}
	tpg_bk_trace_free(&t);
}

/* ---------------------------------------------------------------- messages */

static void set_once(char **slot, const char *v)
{
	if (v && !*slot)
		*slot = tpg_xstrdup(v);
}

static int on_message(void *ctx, const char *line, size_t len)
{
	bstate *s = ctx;
	if (len == 0)
		return 0;
	json_t *m = json_loadb(line, len, 0, NULL);
	if (!m || !json_is_object(m)) {
		s->bad_messages++;
		json_decref(m);
		return 0;
	}
	const char *id = json_string_value(json_object_get(m, "id"));
	const json_t *aux = json_object_get(m, "aux");
	const char *stream = json_string_value(json_object_get(m, "stream"));
	const char *error = tpg_dockeri_stream_error(m);

	if (id && strcmp(id, "moby.buildkit.trace") == 0 && json_is_string(aux)) {
		buildkit_trace(s, json_string_value(aux));
	} else if (json_is_object(aux) && json_is_string(json_object_get(aux, "ID"))) {
		free(s->res->image_id);
		s->res->image_id = tpg_xstrdup(json_string_value(json_object_get(aux, "ID")));
	} else if (stream) {
		classic_stream(s, stream);
	} else if (error) {
		set_once(&s->res->error, error);
		char *text = tpg_xasprintf("ERROR: %s", error);
		progress_line(s, text, strlen(text));
		free(text);
	} else if (json_is_string(json_object_get(m, "status"))) {
		const char *st = json_string_value(json_object_get(m, "status"));
		const char *prog = json_string_value(json_object_get(m, "progress"));
		char *text = tpg_xasprintf("%s%s%s%s%s", id ? id : "", id ? ": " : "", st,
		                           prog ? " " : "", prog ? prog : "");
		progress_line(s, text, strlen(text));
		free(text);
	}
	json_decref(m);
	return 0;
}

static int on_bytes(void *ctx, const char *data, size_t len)
{
	bstate *s = ctx;
	return tpg_lines_feed(&s->lines, data, len);
}

/* The last `n` lines of text. */
static char *last_lines(const char *text, int n)
{
	size_t len = strlen(text);
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	size_t start = len;
	int seen = 0;
	while (start > 0) {
		if (text[start - 1] == '\n' && ++seen == n)
			break;
		start--;
	}
	return tpg_xstrndup(text + start, len - start);
}

static bool canceled_error(const char *e)
{
	return strstr(e, "context canceled") || strstr(e, "canceled");
}

static void conclude(bstate *s)
{
	tpg_docker_build_result *res = s->res;

	if (s->partial.len) {
		classic_line(s, tpg_buf_cstr(&s->partial), s->partial.len);
		tpg_buf_clear(&s->partial);
	}
	if (res->builder == TPG_DOCKER_BUILDER_CLASSIC) {
		if (res->error && s->step) {
			res->failed_step = tpg_xstrdup(s->step);
			res->failed_output = last_lines(tpg_buf_cstr(&s->step_out), FAILED_LINES);
		}
	} else {
		vtx *failed = NULL;
		for (size_t i = 0; i < s->nv && !failed; i++)
			if (s->v[i].error && !canceled_error(s->v[i].error))
				failed = &s->v[i];
		for (size_t i = 0; i < s->nv && !failed; i++)
			if (s->v[i].error)
				failed = &s->v[i];
		if (failed) {
			res->failed_step = tpg_xstrdup(failed->name ? failed->name : failed->digest);
			res->failed_output = last_lines(tpg_buf_cstr(&failed->out), FAILED_LINES);
			if (!res->error)
				res->error = tpg_xstrdup(failed->error);
		}
	}
	res->log = tpg_buf_detach(&s->log);
}

static void bstate_free(bstate *s)
{
	tpg_lines_free(&s->lines);
	tpg_buf_free(&s->log);
	tpg_buf_free(&s->partial);
	tpg_buf_free(&s->step_out);
	free(s->step);
	for (size_t i = 0; i < s->nv; i++) {
		free(s->v[i].digest);
		free(s->v[i].name);
		free(s->v[i].error);
		tpg_buf_free(&s->v[i].out);
	}
	free(s->v);
}

/* "k=v" strings as a JSON object text, query-escaped. */
static char *kv_query(const char *const *kv)
{
	json_t *o = tpg_dockeri_kv_object(kv);
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	char *q = tpg_dockeri_query_esc(text ? text : "{}");
	free(text);
	return q;
}

static char *build_query(const tpg_docker_build_opts *o, int builder)
{
	tpg_buf q = TPG_BUF_INIT;
	char *e;

	tpg_buf_printf(&q, "/build?version=%d&rm=1&forcerm=1", builder);
	e = tpg_dockeri_query_esc(o->dockerfile ? o->dockerfile : "Dockerfile");
	tpg_buf_printf(&q, "&dockerfile=%s", e);
	free(e);
	if (o->tag) {
		e = tpg_dockeri_query_esc(o->tag);
		tpg_buf_printf(&q, "&t=%s", e);
		free(e);
	}
	if (o->target) {
		e = tpg_dockeri_query_esc(o->target);
		tpg_buf_printf(&q, "&target=%s", e);
		free(e);
	}
	if (o->build_args) {
		e = kv_query(o->build_args);
		tpg_buf_printf(&q, "&buildargs=%s", e);
		free(e);
	}
	if (o->labels) {
		e = kv_query(o->labels);
		tpg_buf_printf(&q, "&labels=%s", e);
		free(e);
	}
	if (o->network) {
		e = tpg_dockeri_query_esc(o->network);
		tpg_buf_printf(&q, "&networkmode=%s", e);
		free(e);
	}
	if (o->nocache)
		tpg_buf_puts(&q, "&nocache=1");
	if (o->pull)
		tpg_buf_puts(&q, "&pull=1");
	return tpg_buf_detach(&q);
}

void tpg_docker_build_result_free(tpg_docker_build_result *res)
{
	if (!res)
		return;
	free(res->image_id);
	free(res->failed_step);
	free(res->failed_output);
	free(res->error);
	free(res->log);
	memset(res, 0, sizeof(*res));
}

int tpg_docker_build(tpg_docker *dk, const tpg_docker_build_opts *o, long long deadline,
                     tpg_docker_build_result *res, tpg_err *err)
{
	long long t0 = tpg_now_ms();
	bstate s = {.o = o, .res = res};
	int rc;

	memset(res, 0, sizeof(*res));
	if (!tpg_docker_api_version(dk)) {
		rc = tpg_docker_ping(dk, deadline, err);
		if (rc < 0)
			return rc;
	}
	int builder = o->builder;
	if (builder == TPG_DOCKER_BUILDER_AUTO)
		builder = tpg_docker_buildkit_available(dk) ? TPG_DOCKER_BUILDER_BUILDKIT
		                                            : TPG_DOCKER_BUILDER_CLASSIC;
	if (builder == TPG_DOCKER_BUILDER_BUILDKIT && !tpg_docker_buildkit_available(dk))
		return tpg_err_set(err, TPG_EUNAVAIL,
		                   "BuildKit is not available from the Docker daemon at %s (API %s)",
		                   tpg_docker_endpoint_desc(dk), tpg_docker_api_version(dk));
	if (builder != TPG_DOCKER_BUILDER_CLASSIC && builder != TPG_DOCKER_BUILDER_BUILDKIT)
		return tpg_err_set(err, TPG_EINVAL, "unknown builder %d", o->builder);
	res->builder = builder;

	FILE *tar = tmpfile();
	if (!tar)
		return tpg_err_errno(err, errno, "cannot create a temporary file for the build context");
	tpg_buildctx_opts copts = {.dockerfile = o->dockerfile, .limit = o->context_limit};
	tpg_buildctx_stats st;
	rc = tpg_buildctx_write(o->context_dir, &copts, tar, &st, err);
	if (rc < 0) {
		fclose(tar);
		return rc;
	}
	long size = ftell(tar);
	rewind(tar);
	res->context_bytes = size > 0 ? (unsigned long long)size : 0;

	tpg_buf_init_capped(&s.log, o->log_limit ? o->log_limit : (256u << 10), true);
	tpg_buf_init_capped(&s.step_out, STEP_OUTPUT_MAX, true);
	tpg_lines_init(&s.lines, LINE_MAX_BYTES, on_message, &s);
	char *path = build_query(o, builder);
	tpg_docker_req req = {
		.method = "POST", .path = path, .content_type = "application/x-tar",
		.body_file = tar, .body_len = res->context_bytes, .sink = on_bytes, .sink_ctx = &s,
	};
	long status = 0;
	rc = tpg_docker_request(dk, &req, deadline, &status, NULL, err);
	tpg_lines_finish(&s.lines);
	free(path);
	fclose(tar);

	if (rc < 0 && status >= 400 && err) {
		/* The daemon refused the build itself (no Dockerfile, bad
		 * option...): a failed build, its message verbatim. */
		char marker[32];
		snprintf(marker, sizeof(marker), ": HTTP %ld: ", status);
		const char *m = strstr(err->msg, marker);
		set_once(&res->error, m ? m + strlen(marker) : err->msg);
		rc = 0;
	} else if (rc < 0 && status >= 400) {
		set_once(&res->error, "the daemon refused the build");
		rc = 0;
	}
	conclude(&s);
	if (rc == 0 && !res->error) {
		if (!res->image_id && o->tag) {
			json_t *img = NULL;
			if (tpg_docker_image_inspect(dk, o->tag, deadline, &img, NULL) == 0)
				set_once(&res->image_id, json_string_value(json_object_get(img, "Id")));
			json_decref(img);
		}
		if (res->image_id)
			res->ok = true;
		else
			res->error = tpg_xstrdup("the build ended without an image id "
			                         "(the progress stream was cut?)");
	}
	res->ms = tpg_now_ms() - t0;
	bstate_free(&s);
	return rc;
}

/*
 * service_steps.c - the steps of a `kind: service` check (service_int.h):
 * wait for a health status, HTTP requests (through whichever way reaches
 * the port), commands run in the container, its logs, a pause. Each says
 * what it saw in `why`: the check's message is built from them.
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS 200
#define HTTP_RETRY_MS 500
#define HTTP_BODY_SHOWN 4096
#define DEFAULT_HTTP_WITHIN_MS 10000
#define DEFAULT_LOGS_WITHIN_MS 10000
#define LOGS_EVAL_MS 400

const char *const tpg_svc_want_names[] = { "healthy", "unhealthy", "starting", "running", NULL };

/* The last probe's exit code, or -1. */
static int last_probe_exit(const json_t *info)
{
	const json_t *log = json_object_get(json_object_get(json_object_get(info, "State"),
	                                                    "Health"), "Log");
	size_t n = json_array_size(log);
	if (!n)
		return -1;
	return (int)json_integer_value(json_object_get(json_array_get(log, n - 1), "ExitCode"));
}

static int sleep_until(long long when)
{
	while (tpg_now_ms() < when) {
		if (tpg_interrupted())
			return TPG_ECANCELED;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* ---- Steps -------------------------------------------------------------------- */

int tpg_svc_inspect(tpg_svc_ctx *x, tpg_buf *why)
{
	tpg_err err = {0};
	json_t *info = NULL;
	int rc = tpg_docker_container_inspect(x->dk, x->s->id, tpg_run_deadline(x->run) + TPG_SVC_AFTER_MS,
	                                      &info, &err);
	if (rc < 0) {
		if (rc == TPG_ENOTFOUND) {
			tpg_buf_printf(why, "the container %s is gone", x->s->name);
			return 0;
		}
		tpg_buf_puts(why, err.msg);
		return rc;
	}
	json_decref(x->last_info);
	x->last_info = info;
	return 1;
}

static bool state_running(const json_t *info, int *exit_code, bool *oom)
{
	const json_t *st = json_object_get(info, "State");
	*exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
	*oom = json_is_true(json_object_get(st, "OOMKilled"));
	return json_is_true(json_object_get(st, "Running"));
}

static int step_wait(tpg_svc_ctx *x, const tpg_svc_step *st, tpg_buf *why)
{
	long long t0 = tpg_now_ms();
	long long deadline = tpg_dc_deadline(x->run, st->within_ms);
	const char *want = tpg_svc_want_names[st->want];
	char secs[32];
	for (;;) {
		int rc = tpg_svc_inspect(x, why);
		if (rc <= 0)
			return rc;
		int code;
		bool oom;
		bool running = state_running(x->last_info, &code, &oom);
		const json_t *health = json_object_get(json_object_get(x->last_info, "State"), "Health");
		const char *hs = json_string_value(json_object_get(health, "Status"));
		if (st->want == TPG_SVC_RUNNING && running) {
			tpg_buf_printf(why, "running after %s", tpg_dc_secs(tpg_now_ms() - t0, secs, sizeof(secs)));
			return 1;
		}
		if (st->want != TPG_SVC_RUNNING && (!hs || !*hs)) {
			const json_t *test = json_object_get(json_object_get(json_object_get(x->last_info,
			                                     "Config"), "Healthcheck"), "Test");
			const char *t0s = json_string_value(json_array_get(test, 0));
			if (t0s && !strcmp(t0s, "NONE"))
				tpg_buf_printf(why, "the image's health check is disabled (HEALTHCHECK NONE): "
				               "its health can never be '%s'", want);
			else
				tpg_buf_printf(why, "the image has no HEALTHCHECK: its health can never be '%s'",
				               want);
			return 0;
		}
		if (hs && !strcmp(hs, want)) {
			tpg_buf_printf(why, "%s after %s", want, tpg_dc_secs(tpg_now_ms() - t0, secs, sizeof(secs)));
			return 1;
		}
		if (!running) {
			if (hs)
				tpg_buf_printf(why, "the container stopped (exit code %d%s) while its health "
				               "was '%s', before it became '%s'", code,
				               oom ? ", out of memory" : "", hs, want);
			else
				tpg_buf_printf(why, "the container stopped (exit code %d%s)", code,
				               oom ? ", out of memory" : "");
			return 0;
		}
		if (tpg_now_ms() + POLL_MS > deadline) {
			long long waited = tpg_now_ms() - t0;
			if (st->want == TPG_SVC_RUNNING)
				tpg_buf_printf(why, "the container was not running after %s",
				               tpg_dc_secs(waited, secs, sizeof(secs)));
			else {
				tpg_buf_printf(why, "the container's health was still '%s' after %s, not '%s'",
				               hs, tpg_dc_secs(waited, secs, sizeof(secs)), want);
				int last = last_probe_exit(x->last_info);
				if (st->want == TPG_SVC_UNHEALTHY && !strcmp(hs, "healthy") && last == 0)
					tpg_buf_puts(why, ": its health command kept succeeding (exit code 0)");
				else if (st->want == TPG_SVC_HEALTHY && last > 0)
					tpg_buf_printf(why, ": its health command keeps failing (exit code %d)",
					               last);
			}
			return 0;
		}
		if (sleep_until(tpg_now_ms() + POLL_MS) < 0) {
			tpg_buf_puts(why, "interrupted");
			return TPG_ECANCELED;
		}
	}
}

/* One HTTP exchange through whichever way works. 1 got an answer, 0 could
 * not connect (why), <0 interrupted. */
static int http_once(tpg_svc_ctx *x, const tpg_svc_step *st, long long port, long long deadline,
                     long *status, tpg_buf *body, char **url_used, tpg_buf *why)
{
	int ways[2];
	size_t n = tpg_svc_ways(x->s, ways);
	tpg_buf errs = TPG_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		char *base = tpg_svc_url(x->s, port, ways[i]);
		if (!base)
			continue;
		char *url = tpg_xasprintf("%s%s", base, st->path);
		long long d = tpg_now_ms() + st->timeout_ms;
		tpg_err err = {0};
		tpg_buf_clear(body);
		int rc = tpg_dc_http(st->method, url, d < deadline ? d : deadline, status, body, &err);
		free(base);
		if (rc == 0) {
			x->s->prefer = ways[i];
			*url_used = url;
			tpg_buf_free(&errs);
			return 1;
		}
		free(url);
		if (rc == TPG_ECANCELED) {
			tpg_buf_free(&errs);
			return rc;
		}
		if (errs.len)
			tpg_buf_puts(&errs, "; ");
		tpg_buf_puts(&errs, err.msg);
	}
	if (!errs.len)
		tpg_buf_printf(&errs, "no way to reach port %lld (no address and no published port)",
		               port);
	tpg_buf_puts(why, tpg_buf_cstr(&errs));
	tpg_buf_free(&errs);
	return 0;
}

static int step_http(tpg_svc_ctx *x, const tpg_svc_step *st, tpg_buf *why)
{
	long long within = st->within_ms >= 0 ? st->within_ms : DEFAULT_HTTP_WITHIN_MS;
	long long deadline = within > 0 ? tpg_dc_deadline(x->run, within) : tpg_run_deadline(x->run);
	if (!st->port && !x->s->nports) {
		tpg_buf_puts(why, "no port to reach: give the check a `port:`");
		return TPG_EINVAL;
	}
	long long port = st->port ? st->port : x->s->ports[0];
	tpg_buf body;
	tpg_buf_init_capped(&body, TPG_DC_HTTP_BODY_MAX, false);
	int result = 0;
	bool show_body = false;
	for (;;) {
		long status = 0;
		char *url = NULL;
		tpg_buf attempt = TPG_BUF_INIT;
		show_body = false;
		int rc = http_once(x, st, port, deadline, &status, &body, &url, &attempt);
		if (rc < 0) {
			tpg_buf_free(&attempt);
			tpg_buf_puts(why, "interrupted");
			result = rc;
			break;
		}
		if (rc == 1) {
			bool ok = st->any_status || tpg_dc_range_holds(&st->status, status);
			tpg_buf_printf(&attempt, "%s %s answered %ld", st->method, url, status);
			if (!ok) {
				tpg_buf_puts(&attempt, ", expected ");
				tpg_dc_range_describe(&st->status, &attempt);
				if (body.len) {
					tpg_buf_puts(&attempt, " (body: ");
					tpg_quote_excerpt(&attempt, body.data, body.len, 200);
					tpg_buf_putc(&attempt, ')');
				}
			} else if (st->body) {
				tpg_buf b = TPG_BUF_INIT;
				int m = tpg_textmatch_eval(st->body, tpg_buf_cstr(&body), body.len,
				                           "the body", &b);
				tpg_buf_puts(&attempt, "; ");
				tpg_buf_puts(&attempt, tpg_buf_cstr(&b));
				/* textmatch quotes a short one-line body; a longer one
				 * goes to the report's output. */
				show_body = m == 0 && (body.len > 160 || memchr(body.data, '\n', body.len));
				tpg_buf_free(&b);
				if (m < 0) {
					tpg_buf_puts(why, tpg_buf_cstr(&attempt));
					tpg_buf_free(&attempt);
					free(url);
					result = m;
					break;
				}
				ok = m == 1;
			}
			free(url);
			if (ok) {
				tpg_buf_puts(why, tpg_buf_cstr(&attempt));
				tpg_buf_free(&attempt);
				result = 1;
				break;
			}
		} else {
			/* Cannot connect: is the container still there? */
			tpg_buf dummy = TPG_BUF_INIT;
			int code;
			bool oom;
			if (tpg_svc_inspect(x, &dummy) == 1 && !state_running(x->last_info, &code, &oom)) {
				tpg_buf_printf(why, "the container stopped (exit code %d%s): %s", code,
				               oom ? ", out of memory" : "", tpg_buf_cstr(&attempt));
				tpg_buf_free(&dummy);
				tpg_buf_free(&attempt);
				break;
			}
			tpg_buf_free(&dummy);
		}
		if (within <= 0 || tpg_now_ms() + HTTP_RETRY_MS > deadline) {
			char secs[32];
			tpg_buf_puts(why, tpg_buf_cstr(&attempt));
			if (within > 0)
				tpg_buf_printf(why, " (still so after %s)",
				               tpg_dc_secs(within, secs, sizeof(secs)));
			tpg_buf_free(&attempt);
			break;
		}
		tpg_buf_free(&attempt);
		if (sleep_until(tpg_now_ms() + HTTP_RETRY_MS) < 0) {
			tpg_buf_puts(why, "interrupted");
			result = TPG_ECANCELED;
			break;
		}
	}
	if (result == 0 && show_body) {
		size_t n = body.len < HTTP_BODY_SHOWN ? body.len : HTTP_BODY_SHOWN;
		tpg_buf_printf(&x->extra, "--- body of %s %s%s ---\n", st->method, st->path,
		               n < body.len || body.truncated ? " (start)" : "");
		tpg_buf_append(&x->extra, body.data, n);
		if (body.data[n - 1] != '\n')
			tpg_buf_putc(&x->extra, '\n');
	}
	tpg_buf_free(&body);
	return result;
}

static int step_exec(tpg_svc_ctx *x, const tpg_svc_step *st, tpg_buf *why)
{
	tpg_dc_proc p;
	tpg_err err = {0};
	tpg_dc_proc_init(&p, "the command", 0);
	long long deadline = tpg_dc_deadline(x->run, st->timeout_ms);
	int rc = tpg_docker_exec_cb(x->dk, x->s->id, (const char *const *)st->command.items,
	                            st->env.len ? (const char *const *)st->env.items : NULL, st->user,
	                            deadline, &p.exit_code, tpg_dc_proc_feed, &p, &err);
	char *cmd = tpg_strv_join(&st->command, " ");
	if (rc == 0) {
		p.exited = true;
		tpg_buf inner = TPG_BUF_INIT;
		int ok = 1;
		if (st->shorthand) {
			ok = tpg_dc_proc_ops.eval_leaf(st->shorthand, &p, &inner);
		}
		if (ok == 1) {
			tpg_buf more = TPG_BUF_INIT;
			tpg_dc_proc_ctx pc = st->pctx;
			ok = tpg_dc_proc_grade(st->expect, &pc, &p, tpg_run_lang(x->run), &more);
			if (ok != 1 || !inner.len) {
				tpg_buf_clear(&inner);
				tpg_buf_puts(&inner, tpg_buf_cstr(&more));
			}
			tpg_buf_free(&more);
		}
		tpg_buf_printf(why, "`%s`: %s", cmd, tpg_buf_cstr(&inner));
		tpg_buf_free(&inner);
		if (ok != 1 && (p.all.len || p.all.truncated)) {
			tpg_buf_printf(&x->extra, "--- output of `%s` ---\n", cmd);
			const char *text = tpg_buf_cstr(&p.all);
			tpg_buf_append(&x->extra, text, p.all.len);
			if (p.all.len && text[p.all.len - 1] != '\n')
				tpg_buf_putc(&x->extra, '\n');
		}
		rc = ok;
	} else if (rc == TPG_ETIMEOUT) {
		char secs[32];
		tpg_buf_printf(why, "`%s` did not finish within %s", cmd,
		               tpg_dc_secs(st->timeout_ms, secs, sizeof(secs)));
		rc = 0;
	} else if (rc == TPG_EINVAL || rc == TPG_EEXISTS || rc == TPG_ENOTFOUND ||
	           (rc == TPG_EGENERIC && strstr(err.msg, "not running"))) {
		/* 409: the container is not running; 404: the program is missing. */
		tpg_buf_printf(why, "`%s` cannot run: %s", cmd, err.msg);
		rc = 0;
	} else {
		tpg_buf_printf(why, "`%s`: %s", cmd, err.msg);
	}
	free(cmd);
	tpg_dc_proc_free(&p);
	return rc;
}

/* A logs step: the output so far, then what comes, matched again at most
 * every LOGS_EVAL_MS (and when the stream ends). */
typedef struct logs_watch {
	const tpg_textmatch *m;
	tpg_dc_proc p;
	char head[256];              /* the first bytes of the first read */
	size_t head_len;
	unsigned long long seen;     /* bytes of the first read */
	unsigned long long skip;     /* following: bytes still to drop */
	unsigned long long pos;      /* following: bytes dropped so far */
	bool fresh;                  /* new bytes since the last match */
	long long next_eval;
	int result;                  /* of the last match */
	tpg_buf why;
} logs_watch;

static void logs_feed(void *ctx, int stream, const char *data, size_t len)
{
	logs_watch *w = ctx;
	if (w->skip) {
		/* The follow sends the log from its start again: drop what the
		 * first read had, if it is the same start. When the daemon
		 * rotated the log (2 x 32 MB) in between, it is not: then
		 * everything counts (some lines twice, which matchers bear). */
		size_t n = w->skip < len ? (size_t)w->skip : len;
		size_t check = w->pos < w->head_len ? w->head_len - (size_t)w->pos : 0;
		if (check > n)
			check = n;
		if (check && memcmp(data, w->head + w->pos, check) != 0) {
			w->skip = 0;
		} else {
			w->skip -= n;
			w->pos += n;
			data += n;
			len -= n;
		}
	} else if (!w->pos && w->head_len < sizeof(w->head)) {
		size_t n = sizeof(w->head) - w->head_len < len ? sizeof(w->head) - w->head_len : len;
		memcpy(w->head + w->head_len, data, n);
		w->head_len += n;
	}
	w->seen += len;
	if (len) {
		tpg_dc_proc_feed(&w->p, stream, data, len);
		w->fresh = true;
	}
}

static void logs_match(logs_watch *w)
{
	tpg_buf_clear(&w->why);
	w->result = tpg_textmatch_eval(w->m, tpg_buf_cstr(&w->p.all), w->p.all.len, "the log",
	                               &w->why);
	w->fresh = false;
	w->next_eval = tpg_now_ms() + LOGS_EVAL_MS;
}

static int logs_decided(void *ctx)
{
	logs_watch *w = ctx;
	if (w->fresh && tpg_now_ms() >= w->next_eval)
		logs_match(w);
	return w->result != 0;
}

static int step_logs(tpg_svc_ctx *x, const tpg_svc_step *st, tpg_buf *why)
{
	long long within = st->within_ms >= 0 ? st->within_ms : DEFAULT_LOGS_WITHIN_MS;
	long long deadline = within > 0 ? tpg_dc_deadline(x->run, within) : tpg_run_deadline(x->run);
	logs_watch w = {.m = st->logs};
	tpg_err err = {0};
	tpg_dc_proc_init(&w.p, "the container", 0);
	/* What is there now decides as it did before any follow: a
	 * not-contains holds or not on the whole log, never on a part. */
	int rc = tpg_docker_container_logs_cb(x->dk, x->s->id, false, tpg_run_deadline(x->run),
	                                      logs_feed, NULL, &w, &err);
	if (rc == 0) {
		logs_match(&w);
		if (w.result == 0 && within > 0) {
			/* Then one request that follows: the daemon sends the log
			 * from its start again (skipped here), then what comes. */
			w.skip = w.seen;
			w.pos = 0;
			rc = tpg_docker_container_logs_cb(x->dk, x->s->id, true, deadline, logs_feed,
			                                  logs_decided, &w, &err);
			if (rc == 0 || rc == TPG_ETIMEOUT) {
				if (w.fresh)
					logs_match(&w);
				rc = 0;
			}
		}
	}
	int result;
	if (rc < 0) {
		tpg_buf_puts(why, err.msg);
		result = rc == TPG_ENOTFOUND ? 0 : rc;
	} else {
		tpg_buf_puts(why, tpg_buf_cstr(&w.why));
		result = w.result;
	}
	tpg_dc_proc_free(&w.p);
	tpg_buf_free(&w.why);
	return result;
}

void tpg_svc_step_describe(const tpg_svc_step *st, tpg_buf *out)
{
	switch (st->type) {
	case TPG_SVC_WAIT: tpg_buf_printf(out, "wait-health: %s", tpg_svc_want_names[st->want]); break;
	case TPG_SVC_HTTP: tpg_buf_printf(out, "http: %s %s", st->method, st->path); break;
	case TPG_SVC_EXEC: {
		char *cmd = tpg_strv_join(&st->command, " ");
		tpg_buf_printf(out, "exec: %s", cmd);
		free(cmd);
		break;
	}
	case TPG_SVC_LOGS: tpg_buf_puts(out, "logs"); break;
	case TPG_SVC_SLEEP: tpg_buf_puts(out, "sleep"); break;
	}
}

int tpg_svc_step_run(tpg_svc_ctx *x, const tpg_svc_step *st, tpg_buf *why)
{
	char secs[32];
	switch (st->type) {
	case TPG_SVC_WAIT: return step_wait(x, st, why);
	case TPG_SVC_HTTP: return step_http(x, st, why);
	case TPG_SVC_EXEC: return step_exec(x, st, why);
	case TPG_SVC_LOGS: return step_logs(x, st, why);
	case TPG_SVC_SLEEP:
		if (sleep_until(tpg_now_ms() + st->sleep_ms) < 0) {
			tpg_buf_puts(why, "interrupted");
			return TPG_ECANCELED;
		}
		tpg_buf_printf(why, "slept %s", tpg_dc_secs(st->sleep_ms, secs, sizeof(secs)));
		return 1;
	}
	return TPG_EINVAL;
}

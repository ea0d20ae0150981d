/*
 * docker_objects.c - images, containers, exec, networks and the cleanup by
 * label, on top of tpg_docker_call/tpg_docker_request (docker.c).
 */
#include "tpgrade/docker.h"
#include "docker_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KILL_GRACE_MS 10000

static char *pathf(const char *fmt, const char *a)
{
	char *e = tpg_dockeri_path_esc(a);
	char *p = tpg_xasprintf(fmt, e);
	free(e);
	return p;
}

static char *filters_query(const json_t *filters)
{
	if (!filters || json_object_size(filters) == 0)
		return tpg_xstrdup("");
	char *text = json_dumps(filters, JSON_COMPACT | JSON_SORT_KEYS);
	char *e = tpg_dockeri_query_esc(text ? text : "{}");
	free(text);
	char *q = tpg_xasprintf("filters=%s", e);
	free(e);
	return q;
}

static json_t *label_filter(const char *label)
{
	json_t *f = json_object();
	if (label)
		json_object_set_new(f, "label", json_pack("[s]", label));
	return f;
}

static json_t *str_array(const char *const *v)
{
	json_t *a = json_array();
	for (const char *const *p = v; p && *p; p++)
		json_array_append_new(a, json_string(*p));
	return a;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- images */

int tpg_docker_image_inspect(tpg_docker *dk, const char *name, long long deadline,
                             json_t **out, tpg_err *err)
{
	char *p = pathf("/images/%s/json", name);
	int rc = tpg_docker_call(dk, "GET", p, NULL, deadline, NULL, out, err);
	free(p);
	return rc;
}

int tpg_docker_image_remove(tpg_docker *dk, const char *name, bool force, long long deadline,
                            tpg_err *err)
{
	char *e = tpg_dockeri_path_esc(name);
	char *p = tpg_xasprintf("/images/%s?force=%d&noprune=0", e, force ? 1 : 0);
	int rc = tpg_docker_call(dk, "DELETE", p, NULL, deadline, NULL, NULL, err);
	free(e);
	free(p);
	return rc;
}

int tpg_docker_image_list(tpg_docker *dk, const char *label, long long deadline, json_t **out,
                          tpg_err *err)
{
	json_t *f = label_filter(label);
	char *q = filters_query(f);
	char *p = tpg_xasprintf("/images/json?%s", q);
	int rc = tpg_docker_call(dk, "GET", p, NULL, deadline, NULL, out, err);
	json_decref(f);
	free(q);
	free(p);
	return rc;
}

/* ---------------------------------------------------------------- containers */

json_t *tpg_docker_container_config(const tpg_docker_container_spec *s)
{
	json_t *c = json_object();
	json_t *hc = json_object();

	json_object_set_new(c, "Image", json_string(s->image ? s->image : ""));
	if (s->cmd)
		json_object_set_new(c, "Cmd", str_array(s->cmd));
	if (s->entrypoint)
		json_object_set_new(c, "Entrypoint", str_array(s->entrypoint));
	else if (s->entrypoint_reset)
		json_object_set_new(c, "Entrypoint", json_pack("[s]", ""));
	if (s->env)
		json_object_set_new(c, "Env", str_array(s->env));
	json_object_set_new(c, "Labels", tpg_dockeri_kv_object(s->labels));
	if (s->user)
		json_object_set_new(c, "User", json_string(s->user));
	if (s->workdir)
		json_object_set_new(c, "WorkingDir", json_string(s->workdir));
	json_object_set_new(c, "Tty", json_boolean(s->tty));
	json_object_set_new(c, "OpenStdin", json_false());
	json_object_set_new(c, "AttachStdin", json_false());
	json_object_set_new(c, "AttachStdout", json_false());
	json_object_set_new(c, "AttachStderr", json_false());
	if (s->healthcheck_override) {
		/* No Test: the daemon keeps the image's command. */
		json_t *h = json_object();
		if (s->hc_interval_ms)
			json_object_set_new(h, "Interval", json_integer(s->hc_interval_ms * 1000000LL));
		if (s->hc_timeout_ms)
			json_object_set_new(h, "Timeout", json_integer(s->hc_timeout_ms * 1000000LL));
		if (s->hc_start_period_ms)
			json_object_set_new(h, "StartPeriod",
			                    json_integer(s->hc_start_period_ms * 1000000LL));
		if (s->hc_retries)
			json_object_set_new(h, "Retries", json_integer(s->hc_retries));
		json_object_set_new(c, "Healthcheck", h);
	}

	long long mem = s->memory ? s->memory : 256LL << 20;
	json_object_set_new(hc, "Memory", json_integer(mem));
	json_object_set_new(hc, "MemorySwap", json_integer(mem));   /* no swap on top */
	long long pids = s->pids_limit ? s->pids_limit : 256;
	json_object_set_new(hc, "PidsLimit", json_integer(pids < 0 ? -1 : pids));
	json_object_set_new(hc, "NanoCpus", json_integer(s->nano_cpus ? s->nano_cpus
	                                                               : 1000000000LL));
	json_object_set_new(hc, "CapDrop", json_pack("[s]", "ALL"));
	if (s->cap_add)
		json_object_set_new(hc, "CapAdd", str_array(s->cap_add));
	json_object_set_new(hc, "SecurityOpt", json_pack("[s]", "no-new-privileges"));
	json_object_set_new(hc, "Privileged", json_false());
	json_object_set_new(hc, "NetworkMode", json_string(s->network ? s->network : "none"));
	/* Bounded disk for what a runaway container prints. */
	json_object_set_new(hc, "LogConfig",
	                    json_pack("{s:s,s:{s:s,s:s}}", "Type", "json-file", "Config",
	                              "max-size", "32m", "max-file", "2"));
	if (s->publish) {
		json_t *exposed = json_object();
		json_t *bindings = json_object();
		for (const char *const *p = s->publish; *p; p++) {
			char *port = strchr(*p, '/') ? tpg_xstrdup(*p) : tpg_xasprintf("%s/tcp", *p);
			json_object_set_new(exposed, port, json_object());
			json_object_set_new(bindings, port,
			                    json_pack("[{s:s,s:s}]", "HostIp",
			                              s->publish_host_ip ? s->publish_host_ip
			                                                 : "127.0.0.1",
			                              "HostPort", ""));
			free(port);
		}
		json_object_set_new(c, "ExposedPorts", exposed);
		json_object_set_new(hc, "PortBindings", bindings);
	}
	json_object_set_new(c, "HostConfig", hc);
	return c;
}

int tpg_docker_container_create_json(tpg_docker *dk, const char *name, const json_t *config,
                                     long long deadline, char **id_out, tpg_err *err)
{
	char *p;
	if (name) {
		char *e = tpg_dockeri_query_esc(name);
		p = tpg_xasprintf("/containers/create?name=%s", e);
		free(e);
	} else {
		p = tpg_xstrdup("/containers/create");
	}
	json_t *ans = NULL;
	*id_out = NULL;
	int rc = tpg_docker_call(dk, "POST", p, config, deadline, NULL, &ans, err);
	if (rc == 0) {
		const char *id = json_string_value(json_object_get(ans, "Id"));
		if (id)
			*id_out = tpg_xstrdup(id);
		else
			rc = tpg_err_set(err, TPG_EPROTO, "POST /containers/create: no Id in the answer");
	}
	json_decref(ans);
	free(p);
	return rc;
}

int tpg_docker_container_create(tpg_docker *dk, const tpg_docker_container_spec *spec,
                                long long deadline, char **id_out, tpg_err *err)
{
	json_t *c = tpg_docker_container_config(spec);
	int rc = tpg_docker_container_create_json(dk, spec->name, c, deadline, id_out, err);
	json_decref(c);
	return rc;
}

int tpg_docker_container_start(tpg_docker *dk, const char *id, long long deadline, tpg_err *err)
{
	static const long already[] = {304, 0};
	char *p = pathf("/containers/%s/start", id);
	int rc = tpg_dockeri_call(dk, "POST", p, NULL, deadline, NULL, NULL, already, err);
	free(p);
	return rc;
}

int tpg_docker_container_kill(tpg_docker *dk, const char *id, const char *signal,
                              long long deadline, tpg_err *err)
{
	static const long not_running[] = {409, 0};
	char *e = tpg_dockeri_path_esc(id);
	char *s = tpg_dockeri_query_esc(signal ? signal : "KILL");
	char *p = tpg_xasprintf("/containers/%s/kill?signal=%s", e, s);
	int rc = tpg_dockeri_call(dk, "POST", p, NULL, deadline, NULL, NULL, not_running, err);
	free(e);
	free(s);
	free(p);
	return rc;
}

int tpg_docker_container_remove(tpg_docker *dk, const char *id, long long deadline, tpg_err *err)
{
	static const long gone[] = {404, 0};
	char *e = tpg_dockeri_path_esc(id);
	char *p = tpg_xasprintf("/containers/%s?force=1&v=1", e);
	int rc = tpg_dockeri_call(dk, "DELETE", p, NULL, deadline, NULL, NULL, gone, err);
	free(e);
	free(p);
	return rc;
}

int tpg_docker_container_inspect(tpg_docker *dk, const char *id, long long deadline,
                                 json_t **out, tpg_err *err)
{
	char *p = pathf("/containers/%s/json", id);
	int rc = tpg_docker_call(dk, "GET", p, NULL, deadline, NULL, out, err);
	free(p);
	return rc;
}

int tpg_docker_container_wait(tpg_docker *dk, const char *id, long long deadline,
                              int *exit_code, tpg_err *err)
{
	char *p = pathf("/containers/%s/wait?condition=not-running", id);
	json_t *ans = NULL;
	int rc = tpg_docker_call(dk, "POST", p, NULL, deadline, NULL, &ans, err);
	free(p);
	if (rc == TPG_ETIMEOUT || rc == TPG_ECANCELED) {
		/* Stop it now, whatever the deadline or the interrupt say. */
		bool old = tpg_dockeri_uninterruptible(dk, true);
		tpg_docker_container_kill(dk, id, NULL, tpg_now_ms() + KILL_GRACE_MS, NULL);
		tpg_dockeri_uninterruptible(dk, old);
		if (rc == TPG_ETIMEOUT)
			tpg_err_set(err, rc, "container %.12s was still running at the deadline: killed",
			            id);
	} else if (rc == 0) {
		json_t *code = json_object_get(ans, "StatusCode");
		const char *werr = json_string_value(
			json_object_get(json_object_get(ans, "Error"), "Message"));
		if (!json_is_integer(code))
			rc = tpg_err_set(err, TPG_EPROTO, "wait for container %.12s: no StatusCode", id);
		else if (exit_code)
			*exit_code = (int)json_integer_value(code);
		if (rc == 0 && werr && *werr)
			rc = tpg_err_set(err, TPG_EGENERIC, "wait for container %.12s: %s", id, werr);
	}
	json_decref(ans);
	return rc;
}

typedef struct two_bufs {
	tpg_buf *out, *err;
} two_bufs;

static void to_bufs(void *ctx, int stream, const char *data, size_t len)
{
	two_bufs *b = ctx;
	tpg_buf *dst = stream == 2 ? b->err : b->out;
	if (dst)
		tpg_buf_append(dst, data, len);
}

static int demux_sink(void *ctx, const char *data, size_t len)
{
	return tpg_demux_feed(ctx, data, len) < 0 ? TPG_EPROTO : 0;
}

int tpg_docker_container_logs(tpg_docker *dk, const char *id, bool follow, long long deadline,
                              tpg_buf *out, tpg_buf *errout, tpg_err *err)
{
	two_bufs b = {out, errout};
	return tpg_docker_container_logs_cb(dk, id, follow, deadline, to_bufs, NULL, &b, err);
}

typedef struct logs_watch {
	tpg_demux d;
	int (*stop)(void *ctx);
	void *ctx;
	bool stopped;
} logs_watch;

static int logs_tick(void *p)
{
	logs_watch *w = p;
	if (w->stop && w->stop(w->ctx)) {
		w->stopped = true;
		return 1;
	}
	return 0;
}

static int logs_sink(void *p, const char *data, size_t len)
{
	logs_watch *w = p;
	return tpg_demux_feed(&w->d, data, len) < 0 ? TPG_EPROTO : logs_tick(w);
}

int tpg_docker_container_logs_cb(tpg_docker *dk, const char *id, bool follow,
                                 long long deadline, tpg_demux_cb cb, int (*stop)(void *ctx),
                                 void *ctx, tpg_err *err)
{
	json_t *info = NULL;
	int rc = tpg_docker_container_inspect(dk, id, deadline, &info, err);
	if (rc < 0)
		return rc;
	bool tty = json_is_true(json_object_get(json_object_get(info, "Config"), "Tty"));
	json_decref(info);

	logs_watch w = {.stop = stop, .ctx = ctx};
	tpg_demux_init(&w.d, tty ? 2 : 1, cb, ctx);
	char *e = tpg_dockeri_path_esc(id);
	char *p = tpg_xasprintf("/containers/%s/logs?stdout=1&stderr=1&follow=%d", e,
	                        follow ? 1 : 0);
	tpg_docker_req req = {.method = "GET", .path = p, .sink = logs_sink, .sink_ctx = &w,
	                      .tick = stop ? logs_tick : NULL};
	rc = tpg_docker_request(dk, &req, deadline, NULL, NULL, err);
	if (w.stopped) {
		tpg_err_clear(err);
		rc = 1;
	} else if (rc == 0 || (rc == TPG_EPROTO && w.d.bad)) {
		rc = tpg_demux_finish(&w.d, err);
	}
	free(e);
	free(p);
	return rc;
}

int tpg_docker_container_list(tpg_docker *dk, const json_t *filters, long long deadline,
                              json_t **out, tpg_err *err)
{
	char *q = filters_query(filters);
	char *p = tpg_xasprintf("/containers/json?all=1%s%s", *q ? "&" : "", q);
	int rc = tpg_docker_call(dk, "GET", p, NULL, deadline, NULL, out, err);
	free(q);
	free(p);
	return rc;
}

int tpg_docker_inspect_host_port(const json_t *inspect, const char *port)
{
	const json_t *ports =
		json_object_get(json_object_get(inspect, "NetworkSettings"), "Ports");
	const json_t *list = json_object_get(ports, port);
	size_t i;
	const json_t *b;
	json_array_foreach(list, i, b) {
		const char *hp = json_string_value(json_object_get(b, "HostPort"));
		if (hp && atoi(hp) > 0)
			return atoi(hp);
	}
	return 0;
}

int tpg_docker_exec(tpg_docker *dk, const char *id, const char *const *argv,
                    const char *const *env, const char *user, long long deadline,
                    int *exit_code, tpg_buf *out, tpg_buf *errout, tpg_err *err)
{
	two_bufs b = {out, errout};
	return tpg_docker_exec_cb(dk, id, argv, env, user, deadline, exit_code, to_bufs, &b, err);
}

int tpg_docker_exec_cb(tpg_docker *dk, const char *id, const char *const *argv,
                       const char *const *env, const char *user, long long deadline,
                       int *exit_code, tpg_demux_cb cb, void *ctx, tpg_err *err)
{
	json_t *body = json_pack("{s:b,s:b,s:b,s:b,s:o}", "AttachStdin", 0, "AttachStdout", 1,
	                         "AttachStderr", 1, "Tty", 0, "Cmd", str_array(argv));
	if (env)
		json_object_set_new(body, "Env", str_array(env));
	if (user)
		json_object_set_new(body, "User", json_string(user));
	char *p = pathf("/containers/%s/exec", id);
	json_t *ans = NULL;
	int rc = tpg_docker_call(dk, "POST", p, body, deadline, NULL, &ans, err);
	free(p);
	json_decref(body);
	if (rc < 0) {
		json_decref(ans);
		return rc;
	}
	char *exec_id = tpg_xstrdup(json_string_value(json_object_get(ans, "Id")));
	json_decref(ans);
	if (!exec_id)
		return tpg_err_set(err, TPG_EPROTO, "POST /containers/%.12s/exec: no Id", id);

	/* Without "Upgrade: tcp" the daemon still hijacks the connection but
	 * answers a plain 200 and closes at the end: an ordinary body. */
	tpg_demux d;
	tpg_demux_init(&d, 1, cb, ctx);
	const char *start = "{\"Detach\":false,\"Tty\":false}";
	char *sp = pathf("/exec/%s/start", exec_id);
	tpg_docker_req req = {.method = "POST", .path = sp, .body = start,
	                      .body_len = strlen(start), .content_type = "application/json",
	                      .sink = demux_sink, .sink_ctx = &d};
	rc = tpg_docker_request(dk, &req, deadline, NULL, NULL, err);
	free(sp);
	if (rc == 0 || (rc == TPG_EPROTO && d.bad))
		rc = tpg_demux_finish(&d, err);

	/* The stream ends when the process does; its status may lag a bit. */
	char *ip = pathf("/exec/%s/json", exec_id);
	for (int tries = 0; rc == 0; tries++) {
		json_t *info = NULL;
		rc = tpg_docker_call(dk, "GET", ip, NULL, deadline, NULL, &info, err);
		if (rc == 0) {
			bool running = json_is_true(json_object_get(info, "Running"));
			json_t *code = json_object_get(info, "ExitCode");
			if (!running && json_is_integer(code)) {
				if (exit_code)
					*exit_code = (int)json_integer_value(code);
				json_decref(info);
				break;
			}
			if (tries > 100 || (deadline && tpg_now_ms() > deadline))
				rc = tpg_err_set(err, TPG_ETIMEOUT,
				                 "exec in container %.12s: still running after its output "
				                 "ended", id);
		}
		json_decref(info);
		if (rc == 0)
			sleep_ms(50);
	}
	free(ip);
	free(exec_id);
	return rc;
}

/* ---------------------------------------------------------------- networks */

int tpg_docker_network_remove(tpg_docker *dk, const char *id, long long deadline, tpg_err *err)
{
	char *p = pathf("/networks/%s", id);
	int rc = tpg_docker_call(dk, "DELETE", p, NULL, deadline, NULL, NULL, err);
	free(p);
	return rc;
}

/* ---------------------------------------------------------------- cleanup */

/* Is the object really ours? The daemon filtered already; a second look
 * costs nothing and guards against a filter it ignored. */
static bool ours(const json_t *labels, const char *run_id)
{
	const char *v = json_string_value(json_object_get(labels, TPG_DOCKER_LABEL_RUN));
	return v && (!run_id || strcmp(v, run_id) == 0);
}

static void first_error(int rc, const tpg_err *e, int *first, tpg_err *err)
{
	if (rc < 0 && *first == 0) {
		*first = rc;
		if (err)
			*err = *e;
	}
}

int tpg_docker_cleanup(tpg_docker *dk, const char *run_id, long long deadline,
                       tpg_docker_cleanup_stats *stats, tpg_err *err)
{
	tpg_docker_cleanup_stats st = {0};
	bool old = tpg_dockeri_uninterruptible(dk, true);
	char *label = run_id ? tpg_xasprintf("%s=%s", TPG_DOCKER_LABEL_RUN, run_id)
	                     : tpg_xstrdup(TPG_DOCKER_LABEL_RUN);
	json_t *filters = label_filter(label);
	char *q = filters_query(filters);
	int first = 0;
	tpg_err e = {0};
	json_t *list = NULL;
	size_t i;
	json_t *item;
	int rc;

	rc = tpg_docker_container_list(dk, filters, deadline, &list, &e);
	first_error(rc, &e, &first, err);
	json_array_foreach(list, i, item) {
		const char *id = json_string_value(json_object_get(item, "Id"));
		if (!id || !ours(json_object_get(item, "Labels"), run_id))
			continue;
		rc = tpg_docker_container_remove(dk, id, deadline, &e);
		first_error(rc, &e, &first, err);
		rc < 0 ? st.failures++ : st.containers++;
	}
	json_decref(list);
	list = NULL;

	rc = tpg_docker_image_list(dk, label, deadline, &list, &e);
	first_error(rc, &e, &first, err);
	json_array_foreach(list, i, item) {
		const char *id = json_string_value(json_object_get(item, "Id"));
		if (!id || !ours(json_object_get(item, "Labels"), run_id))
			continue;
		rc = tpg_docker_image_remove(dk, id, true, deadline, &e);
		if (rc == TPG_ENOTFOUND)   /* went with a parent removed before */
			continue;
		first_error(rc, &e, &first, err);
		rc < 0 ? st.failures++ : st.images++;
	}
	json_decref(list);
	list = NULL;

	char *p = tpg_xasprintf("/networks?%s", q);
	rc = tpg_docker_call(dk, "GET", p, NULL, deadline, NULL, &list, &e);
	free(p);
	first_error(rc, &e, &first, err);
	json_array_foreach(list, i, item) {
		const char *id = json_string_value(json_object_get(item, "Id"));
		if (!id || !ours(json_object_get(item, "Labels"), run_id))
			continue;
		rc = tpg_docker_network_remove(dk, id, deadline, &e);
		first_error(rc, &e, &first, err);
		rc < 0 ? st.failures++ : st.networks++;
	}
	json_decref(list);
	list = NULL;

	p = tpg_xasprintf("/volumes?%s", q);
	rc = tpg_docker_call(dk, "GET", p, NULL, deadline, NULL, &list, &e);
	free(p);
	first_error(rc, &e, &first, err);
	json_array_foreach(json_object_get(list, "Volumes"), i, item) {
		const char *name = json_string_value(json_object_get(item, "Name"));
		if (!name || !ours(json_object_get(item, "Labels"), run_id))
			continue;
		char *vp = pathf("/volumes/%s?force=1", name);
		rc = tpg_docker_call(dk, "DELETE", vp, NULL, deadline, NULL, NULL, &e);
		free(vp);
		first_error(rc, &e, &first, err);
		rc < 0 ? st.failures++ : st.volumes++;
	}
	json_decref(list);

	json_decref(filters);
	free(q);
	free(label);
	tpg_dockeri_uninterruptible(dk, old);
	if (stats)
		*stats = st;
	return first;
}

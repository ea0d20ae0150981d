/*
 * kind_service.c - `kind: service`: a long-running container (a web app,
 * a registry) driven through steps: wait for a health status, HTTP
 * requests, commands run inside it, its logs. See docs/spec.md,
 * "service", and docs/docker-checks.md (reachability, health overrides).
 *
 * The container is started in the sandbox (or one an earlier service check
 * of this run started is reused: `container: ${found.<id>.container}`) and
 * stays up for later checks until the end of the run. On failure the
 * report shows the last health probes and the end of its logs.
 */
#include "tpgrade/check.h"
#include "tpgrade/dockcheck.h"
#include "tpgrade/docker.h"
#include "tpgrade/pred.h"
#include "tpgrade/textmatch.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PORTS 8
#define POLL_MS 200
#define HTTP_RETRY_MS 500
#define HTTP_BODY_SHOWN 4096
#define DEFAULT_HTTP_WITHIN_MS 10000
#define DEFAULT_LOGS_WITHIN_MS 10000
#define DEFAULT_HTTP_TIMEOUT_MS 5000
#define DEFAULT_EXEC_TIMEOUT_MS 30000
#define AFTER_MS 15000
#define LOGS_TAIL (16u << 10)
#define LOGS_EVAL_MS 400
#define PORTS_LABEL "tpgrade.ports"

typedef enum { R_AUTO, R_IP, R_PUBLISHED } reach_mode;
typedef enum { W_HEALTHY, W_UNHEALTHY, W_STARTING, W_RUNNING } want_state;
typedef enum { S_WAIT, S_HTTP, S_EXEC, S_LOGS, S_SLEEP } step_type;

static const char *const want_names[] = { "healthy", "unhealthy", "starting", "running", NULL };

typedef struct step {
	step_type type;
	long long within_ms;     /* -1: the step's default */
	tpg_l10n message;
	/* wait-health */
	want_state want;
	/* http */
	char *method, *path;
	long long port;          /* 0: the service's first port */
	tpg_dc_range status;
	bool any_status;
	tpg_textmatch *body;
	long long timeout_ms;
	/* exec */
	tpg_strv command;
	char *user;
	tpg_strv env;
	void *shorthand;         /* exit-code/stdout/... given directly in exec: */
	tpg_pred *expect;
	tpg_dc_proc_ctx pctx;
	/* logs */
	tpg_textmatch *logs;
	/* sleep */
	long long sleep_ms;
} step;

typedef struct service_cfg {
	tpg_tmpl image;
	tpg_tmpl container;
	tpg_dc_sandbox sb;
	long long ports[MAX_PORTS];
	size_t nports;
	reach_mode reach;
	bool hc_set;
	long long hc_interval, hc_timeout, hc_start, hc_retries;
	step *steps;
	size_t nsteps;
} service_cfg;

/* A container this run started, kept for later checks. */
typedef struct svc {
	char *id;
	char *name;
	bool local;              /* the daemon is on this machine (unix socket) */
	reach_mode reach;
	char *ip;                /* on its network; NULL if none */
	char *pub_host;          /* where published ports are reached */
	long long ports[MAX_PORTS];
	int host_ports[MAX_PORTS];
	size_t nports;
	int prefer;              /* 0: the IP, 1: the published port */
} svc;

/* ---- Parsing ----------------------------------------------------------- */

static void free_step(step *s)
{
	tpg_l10n_free(&s->message);
	free(s->method);
	free(s->path);
	tpg_dc_range_free(&s->status);
	tpg_textmatch_free(s->body);
	tpg_strv_free(&s->command);
	free(s->user);
	tpg_strv_free(&s->env);
	if (s->shorthand)
		tpg_dc_proc_ops.free_leaf(s->shorthand);
	tpg_pred_free(s->expect, &tpg_dc_proc_ops);
	tpg_textmatch_free(s->logs);
}

static void free_cfg(void *p)
{
	service_cfg *c = p;
	if (!c)
		return;
	tpg_tmpl_free(&c->image);
	tpg_tmpl_free(&c->container);
	tpg_dc_sandbox_free(&c->sb);
	for (size_t i = 0; i < c->nsteps; i++)
		free_step(&c->steps[i]);
	free(c->steps);
	free(c);
}

static bool has_port(const service_cfg *c, long long p)
{
	for (size_t i = 0; i < c->nports; i++)
		if (c->ports[i] == p)
			return true;
	return false;
}

static void parse_http(tpg_fields *sf, const tpg_yaml_node *n, service_cfg *c, step *s)
{
	s->method = tpg_xstrdup("GET");
	s->timeout_ms = DEFAULT_HTTP_TIMEOUT_MS;
	s->status.min = 200;
	s->status.max = 399;
	if (n->type == TPG_YAML_SCALAR) {
		tpg_tmpl t;
		if (tpg_fields_expand(sf, n, "http", false, &t) > 0)
			s->path = t.text;
	} else {
		tpg_fields *h = tpg_fields_sub(sf, n, "http");
		if (!h)
			return;
		char *m = NULL;
		if (tpg_fields_str(h, "method", false, &m) > 0) {
			free(s->method);
			s->method = m;
			for (char *q = m; *q; q++)
				if (*q >= 'a' && *q <= 'z')
					*q = (char)(*q - 'a' + 'A');
		}
		tpg_fields_str(h, "path", false, &s->path);
		const tpg_yaml_node *pn = tpg_fields_take(h, "port");
		if (tpg_fields_int(h, "port", 1, 65535, &s->port) > 0 && !has_port(c, s->port))
			tpg_fields_error(h, pn, "port", "port %lld is not one of the service's `port:`",
			                 s->port);
		const tpg_yaml_node *st = tpg_fields_take(h, "status");
		if (st && st->type == TPG_YAML_SCALAR && !strcmp(st->value, "any"))
			s->any_status = true;
		else if (st)
			tpg_dc_range_parse(h, st, "status", 100, 599, &s->status);
		const tpg_yaml_node *b = tpg_fields_take(h, "body");
		if (b)
			tpg_textmatch_parse(h, b, "body", &s->body);
		tpg_fields_duration(h, "timeout", &s->timeout_ms);
		tpg_fields_end(h);
	}
	if (!s->path)
		s->path = tpg_xstrdup("/");
	else if (s->path[0] != '/') {
		char *p = tpg_xasprintf("/%s", s->path);
		free(s->path);
		s->path = p;
	}
	/* A reused container's ports are learned from it when the check runs. */
	if (!c->nports && c->image.text && !tpg_fields_errors(sf))
		tpg_fields_error(sf, n, "http", "an http step needs the service's `port:` (the "
		                 "container port to reach)");
}

static void parse_exec(tpg_fields *sf, const tpg_yaml_node *n, step *s)
{
	bool shell_line = n->type == TPG_YAML_SCALAR;
	s->timeout_ms = DEFAULT_EXEC_TIMEOUT_MS;
	if (n->type == TPG_YAML_SCALAR || n->type == TPG_YAML_SEQ) {
		tpg_fields_strlist(sf, "exec", &s->command);
	} else {
		tpg_fields *e = tpg_fields_sub(sf, n, "exec");
		if (!e)
			return;
		const tpg_yaml_node *cmd = tpg_fields_take(e, "command");
		if (!cmd)
			tpg_fields_error(e, NULL, NULL, "missing required key 'command'");
		shell_line = cmd && cmd->type == TPG_YAML_SCALAR;
		tpg_fields_strlist(e, "command", &s->command);
		tpg_fields_str(e, "user", false, &s->user);
		tpg_fields_strlist(e, "env", &s->env);
		tpg_fields_duration(e, "timeout", &s->timeout_ms);
		s->shorthand = tpg_dc_proc_ops.parse_leaf(e, &s->pctx);
		tpg_pred_parse(e, "expect", &tpg_dc_proc_ops, &s->pctx, &s->expect);
		tpg_fields_end(e);
	}
	if (s->command.len == 0 && !tpg_fields_errors(sf))
		tpg_fields_error(sf, n, "exec", "give the command to run");
	if (shell_line && s->command.len == 1) {
		/* A string: a shell command line, as in a Dockerfile's shell form. */
		char *line = s->command.items[0];
		s->command.items[0] = NULL;
		s->command.len = 0;
		tpg_strv_push(&s->command, "/bin/sh");
		tpg_strv_push(&s->command, "-c");
		tpg_strv_push_owned(&s->command, line);
	}
}

static void parse_step(tpg_fields *f, const tpg_yaml_node *n, size_t idx, service_cfg *c, step *s)
{
	char suffix[32];
	snprintf(suffix, sizeof(suffix), "steps[%zu]", idx);
	tpg_fields *sf = tpg_fields_sub(f, n, suffix);
	if (!sf)
		return;
	static const char *const actions[] = { "wait-health", "http", "exec", "logs", "sleep" };
	const tpg_yaml_node *v = NULL;
	int found = 0;
	for (int k = 0; k < 5; k++) {
		const tpg_yaml_node *x = tpg_fields_take(sf, actions[k]);
		if (!x)
			continue;
		if (found++ == 0) {
			s->type = (step_type)k;
			v = x;
		}
	}
	s->within_ms = -1;
	if (found != 1) {
		tpg_fields_error(sf, NULL, NULL, found ? "one action per step: split them into steps"
		                                       : "a step needs one of: wait-health, http, exec, "
		                                         "logs, sleep");
		tpg_fields_end(sf);
		return;
	}
	int w = 0;
	switch (s->type) {
	case S_WAIT:
		if (tpg_fields_enum(sf, "wait-health", want_names, &w) > 0)
			s->want = (want_state)w;
		break;
	case S_HTTP:
		parse_http(sf, v, c, s);
		break;
	case S_EXEC:
		parse_exec(sf, v, s);
		break;
	case S_LOGS:
		tpg_textmatch_parse(sf, v, "logs", &s->logs);
		break;
	case S_SLEEP:
		tpg_fields_duration(sf, "sleep", &s->sleep_ms);
		break;
	}
	if (tpg_fields_has(sf, "within")) {
		if (s->type == S_EXEC || s->type == S_SLEEP)
			tpg_fields_error(sf, tpg_fields_take(sf, "within"), "within",
			                 "'within' is for wait-health, http and logs steps%s",
			                 s->type == S_EXEC ? " (exec takes a timeout)" : "");
		else
			tpg_fields_duration(sf, "within", &s->within_ms);
	}
	tpg_fields_l10n(sf, "message", &s->message);
	tpg_fields_end(sf);
}

static void parse_ports(tpg_fields *f, service_cfg *c)
{
	const tpg_yaml_node *n = tpg_fields_take(f, "port");
	if (!n)
		return;
	size_t count = n->type == TPG_YAML_SEQ ? n->n : 1;
	if (n->type == TPG_YAML_MAP || count == 0 || count > MAX_PORTS) {
		tpg_fields_error(f, n, "port", "must be a port number or a list of at most %d", MAX_PORTS);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		const tpg_yaml_node *it = n->type == TPG_YAML_SEQ ? n->items[i] : n;
		char *end;
		long long p = it->type == TPG_YAML_SCALAR ? strtoll(it->value, &end, 10) : 0;
		if (it->type != TPG_YAML_SCALAR || *end || p < 1 || p > 65535) {
			tpg_fields_error(f, it, "port", "'%s' is not a TCP port (1 to 65535)",
			                 it->type == TPG_YAML_SCALAR ? it->value : "?");
			continue;
		}
		c->ports[c->nports++] = p;
	}
}

static int parse(tpg_fields *f, void **out)
{
	static const char *const reaches[] = { "auto", "ip", "published", NULL };
	service_cfg *c = tpg_xcalloc(1, sizeof(*c));
	int reach = 0;
	*out = c;

	bool has_image = tpg_fields_has(f, "image"), has_container = tpg_fields_has(f, "container");
	if (has_image == has_container)
		tpg_fields_error(f, NULL, NULL, "a service check needs either 'image' (start a "
		                 "container) or 'container' (drive one an earlier check started)");
	tpg_fields_tmpl(f, "image", false, &c->image);
	tpg_fields_tmpl(f, "container", false, &c->container);
	if (has_container) {
		static const char *const start_only[] = {
			"args", "entrypoint", "env", "user", "workdir", "tty", "network", "memory",
			"pids", "cpus", "cap-add", "output-limit", "health", NULL
		};
		for (int i = 0; start_only[i]; i++)
			if (tpg_fields_has(f, start_only[i]))
				tpg_fields_error(f, tpg_fields_take(f, start_only[i]), start_only[i],
				                 "'%s' applies when the check starts the container (with "
				                 "'image'), not with 'container'", start_only[i]);
	}
	tpg_dc_sandbox_parse(f, &c->sb);
	parse_ports(f, c);
	if (tpg_fields_enum(f, "reach", reaches, &reach) > 0)
		c->reach = (reach_mode)reach;
	if (c->nports && c->sb.network == TPG_DC_NET_NONE)
		tpg_fields_error(f, NULL, "network", "network: none cannot be reached on a port: "
		                 "leave network out (bridge) or drop port");
	tpg_fields *h;
	if (tpg_fields_map(f, "health", false, &h) > 0) {
		c->hc_set = true;
		tpg_fields_duration(h, "interval", &c->hc_interval);
		tpg_fields_duration(h, "timeout", &c->hc_timeout);
		tpg_fields_duration(h, "start-period", &c->hc_start);
		tpg_fields_int(h, "retries", 1, 1000, &c->hc_retries);
		/* Docker refuses intervals under 1 ms; it polls no faster than this. */
		if ((c->hc_interval && c->hc_interval < 100) || (c->hc_timeout && c->hc_timeout < 100))
			tpg_fields_error(h, NULL, NULL, "interval and timeout must be at least 100ms");
		tpg_fields_end(h);
	}
	const tpg_yaml_node *steps = tpg_fields_take(f, "steps");
	if (steps && steps->type != TPG_YAML_SEQ) {
		tpg_fields_error(f, steps, "steps", "must be a list of steps");
	} else if (steps) {
		c->steps = tpg_xcalloc(steps->n ? steps->n : 1, sizeof(*c->steps));
		for (size_t i = 0; i < steps->n; i++)
			parse_step(f, steps->items[i], i, c, &c->steps[c->nsteps++]);
	}
	return tpg_fields_errors(f) ? -1 : 0;
}

/* ---- The container ----------------------------------------------------------- */

static void svc_free(svc *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->name);
	free(s->ip);
	free(s->pub_host);
	free(s);
}

static void svc_destroy(void *p, tpg_run *run)
{
	svc *s = p;
	tpg_docker *dk = NULL;
	/* After Ctrl-C this is refused; the run's cleanup by label follows. */
	if (tpg_run_docker(run, &dk, NULL) == 0)
		tpg_docker_container_remove(dk, s->id, tpg_now_ms() + AFTER_MS, NULL);
	svc_free(s);
}

static void svc_forget(void *p, tpg_run *run)
{
	TPG_UNUSED(run);
	svc_free(p);
}

static bool is_loopback(const char *host)
{
	return !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1") ||
	       !strcmp(host, "[::1]");
}

/* Learns the container's address and published ports from an inspect. */
static void svc_learn(svc *s, const json_t *info)
{
	const json_t *nets = json_object_get(json_object_get(info, "NetworkSettings"), "Networks");
	const char *k;
	json_t *v;
	free(s->ip);
	s->ip = NULL;
	json_object_foreach((json_t *)nets, k, v) {
		const char *ip = json_string_value(json_object_get(v, "IPAddress"));
		if (ip && *ip && !s->ip)
			s->ip = tpg_xstrdup(ip);
	}
	for (size_t i = 0; i < s->nports; i++) {
		char key[32];
		snprintf(key, sizeof(key), "%lld/tcp", s->ports[i]);
		s->host_ports[i] = tpg_docker_inspect_host_port(info, key);
	}
}

/* The base URL of `port` through the IP (which 0) or the published port. */
static char *svc_url(const svc *s, long long port, int which)
{
	size_t i;
	for (i = 0; i < s->nports && s->ports[i] != port; i++)
		;
	if (which == 0 && s->ip)
		return strchr(s->ip, ':') ? tpg_xasprintf("http://[%s]:%lld", s->ip, port)
		                          : tpg_xasprintf("http://%s:%lld", s->ip, port);
	if (which == 1 && i < s->nports && s->host_ports[i] > 0 && s->pub_host)
		return strchr(s->pub_host, ':') && s->pub_host[0] != '['
		       ? tpg_xasprintf("http://[%s]:%d", s->pub_host, s->host_ports[i])
		       : tpg_xasprintf("http://%s:%d", s->pub_host, s->host_ports[i]);
	return NULL;
}

/* The ways to try, best first. */
static size_t svc_ways(const svc *s, int ways[2])
{
	size_t n = 0;
	if (s->reach == R_IP)
		ways[n++] = 0;
	else if (s->reach == R_PUBLISHED)
		ways[n++] = 1;
	else if (s->local) {
		ways[n++] = s->prefer;
		ways[n++] = !s->prefer;
	} else {
		ways[n++] = 1;
	}
	return n;
}

static void set_found_url(tpg_run *run, const svc *s)
{
	if (!s->nports)
		return;
	int ways[2];
	size_t n = svc_ways(s, ways);
	for (size_t i = 0; i < n; i++) {
		char *u = svc_url(s, s->ports[0], ways[i]);
		if (u) {
			tpg_run_set_found(run, "url", u);
			free(u);
			return;
		}
	}
}

/* ---- Report helpers -------------------------------------------------------------- */

/* "12:00:01" out of "2024-01-15T12:00:01.123Z". */
static void clock_of(const char *ts, char out[16])
{
	const char *t = ts ? strchr(ts, 'T') : NULL;
	snprintf(out, 16, "%.8s", t ? t + 1 : "?");
}

static void show_health_log(const json_t *info, tpg_buf *out)
{
	const json_t *log = json_object_get(json_object_get(json_object_get(info, "State"),
	                                                    "Health"), "Log");
	size_t n = json_array_size(log);
	if (!n)
		return;
	tpg_buf_puts(out, "--- last health checks (State.Health.Log) ---\n");
	for (size_t i = n > 5 ? n - 5 : 0; i < n; i++) {
		const json_t *e = json_array_get(log, i);
		char when[16];
		clock_of(json_string_value(json_object_get(e, "Start")), when);
		const char *o = json_string_value(json_object_get(e, "Output"));
		size_t olen = o ? strlen(o) : 0;
		while (olen && (o[olen - 1] == '\n' || o[olen - 1] == '\r'))
			olen--;
		tpg_buf_printf(out, "%s exit %lld: %.*s%s\n", when,
		               (long long)json_integer_value(json_object_get(e, "ExitCode")),
		               (int)(olen > 400 ? 400 : olen), o ? o : "", olen > 400 ? "..." : "");
	}
}

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

static void show_logs(tpg_docker *dk, const char *id, tpg_buf *out)
{
	tpg_dc_proc p;
	tpg_dc_proc_init(&p, "the container", LOGS_TAIL);
	if (tpg_docker_container_logs_cb(dk, id, false, tpg_now_ms() + AFTER_MS, tpg_dc_proc_feed,
	                                 NULL, &p, NULL) == 0 && (p.all.len || p.all.truncated)) {
		tpg_buf_printf(out, "--- container logs%s ---\n", p.all.truncated ? " (end)" : "");
		const char *text = tpg_buf_cstr(&p.all);
		tpg_buf_append(out, text, p.all.len);
		if (p.all.len && text[p.all.len - 1] != '\n')
			tpg_buf_putc(out, '\n');
	}
	tpg_dc_proc_free(&p);
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

/* What a step did: 1 ok, 0 failed (the student's), <0 error; `why` says. */
typedef struct step_ctx {
	tpg_run *run;
	tpg_docker *dk;
	svc *s;
	json_t *last_info;       /* the last inspect, for the failure report */
	tpg_buf extra;           /* more output for the report */
} step_ctx;

static int inspect(step_ctx *x, tpg_buf *why)
{
	tpg_err err = {0};
	json_t *info = NULL;
	int rc = tpg_docker_container_inspect(x->dk, x->s->id, tpg_run_deadline(x->run) + AFTER_MS,
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

static int step_wait(step_ctx *x, const step *st, tpg_buf *why)
{
	long long t0 = tpg_now_ms();
	long long deadline = tpg_dc_deadline(x->run, st->within_ms);
	const char *want = want_names[st->want];
	char secs[32];
	for (;;) {
		int rc = inspect(x, why);
		if (rc <= 0)
			return rc;
		int code;
		bool oom;
		bool running = state_running(x->last_info, &code, &oom);
		const json_t *health = json_object_get(json_object_get(x->last_info, "State"), "Health");
		const char *hs = json_string_value(json_object_get(health, "Status"));
		if (st->want == W_RUNNING && running) {
			tpg_buf_printf(why, "running after %s", tpg_dc_secs(tpg_now_ms() - t0, secs, sizeof(secs)));
			return 1;
		}
		if (st->want != W_RUNNING && (!hs || !*hs)) {
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
			if (st->want == W_RUNNING)
				tpg_buf_printf(why, "the container was not running after %s",
				               tpg_dc_secs(waited, secs, sizeof(secs)));
			else {
				tpg_buf_printf(why, "the container's health was still '%s' after %s, not '%s'",
				               hs, tpg_dc_secs(waited, secs, sizeof(secs)), want);
				int last = last_probe_exit(x->last_info);
				if (st->want == W_UNHEALTHY && !strcmp(hs, "healthy") && last == 0)
					tpg_buf_puts(why, ": its health command kept succeeding (exit code 0)");
				else if (st->want == W_HEALTHY && last > 0)
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
static int http_once(step_ctx *x, const step *st, long long port, long long deadline,
                     long *status, tpg_buf *body, char **url_used, tpg_buf *why)
{
	int ways[2];
	size_t n = svc_ways(x->s, ways);
	tpg_buf errs = TPG_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		char *base = svc_url(x->s, port, ways[i]);
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

static int step_http(step_ctx *x, const step *st, tpg_buf *why)
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
			if (inspect(x, &dummy) == 1 && !state_running(x->last_info, &code, &oom)) {
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

static int step_exec(step_ctx *x, const step *st, tpg_buf *why)
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

static int step_logs(step_ctx *x, const step *st, tpg_buf *why)
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

static void describe_step(const step *st, tpg_buf *out)
{
	switch (st->type) {
	case S_WAIT: tpg_buf_printf(out, "wait-health: %s", want_names[st->want]); break;
	case S_HTTP: tpg_buf_printf(out, "http: %s %s", st->method, st->path); break;
	case S_EXEC: {
		char *cmd = tpg_strv_join(&st->command, " ");
		tpg_buf_printf(out, "exec: %s", cmd);
		free(cmd);
		break;
	}
	case S_LOGS: tpg_buf_puts(out, "logs"); break;
	case S_SLEEP: tpg_buf_puts(out, "sleep"); break;
	}
}

/* ---- Starting or finding the container ------------------------------------------- */

static svc *find_reused(tpg_run *run, const tpg_check *check, const char *ref)
{
	for (size_t i = 0; i < check->uses.len; i++) {
		svc *s = tpg_run_get(run, check->uses.items[i], "service");
		if (s && (!strcmp(s->id, ref) || !strcmp(s->name, ref) ||
		          (strlen(ref) >= 12 && !strncmp(s->id, ref, strlen(ref)))))
			return s;
	}
	return NULL;
}

/* 1 ready, 0 failed (res set), -1 error (res set). */
static int reuse(tpg_run *run, const tpg_check *check, const service_cfg *c, tpg_docker *dk,
                 const char *ref, svc **out, tpg_result *res)
{
	svc *s = find_reused(run, check, ref);
	if (s) {
		*out = s;
		return 1;
	}
	/* A container of this run, but not through a found value we know. */
	json_t *info = NULL;
	tpg_err err = {0};
	int rc = tpg_docker_container_inspect(dk, ref, tpg_run_deadline(run), &info, &err);
	if (rc == TPG_ENOTFOUND) {
		tpg_result_fail(res, "there is no container %s", ref);
		return 0;
	}
	if (rc < 0) {
		tpg_dc_result_error(res, rc, &err, "inspecting the container");
		return -1;
	}
	const json_t *labels = json_object_get(json_object_get(info, "Config"), "Labels");
	const char *mine = json_string_value(json_object_get(labels, TPG_DOCKER_LABEL_RUN));
	if (!mine || strcmp(mine, tpg_run_id(run))) {
		json_decref(info);
		tpg_result_error(res, "the container %s was not started by this run: service checks "
		                 "only drive containers a service check of the run started (use a "
		                 "`container` check to look at others)", ref);
		return -1;
	}
	s = tpg_xcalloc(1, sizeof(*s));
	s->id = tpg_xstrdup(json_string_value(json_object_get(info, "Id")));
	const char *nm = json_string_value(json_object_get(info, "Name"));
	s->name = tpg_xstrdup(nm ? nm + (nm[0] == '/') : ref);
	const tpg_docker_endpoint *ep = tpg_docker_endpoint_get(dk);
	s->local = ep->socket_path != NULL;
	s->reach = c->reach;
	s->pub_host = tpg_xstrdup(s->local ? "127.0.0.1" : ep->host);
	const char *ports = json_string_value(json_object_get(labels, PORTS_LABEL));
	for (const char *p = ports; p && *p && s->nports < MAX_PORTS;) {
		s->ports[s->nports++] = strtoll(p, (char **)&p, 10);
		p += *p == ',';
	}
	for (size_t i = 0; i < c->nports && s->nports < MAX_PORTS; i++) {
		bool known = false;
		for (size_t k = 0; k < s->nports; k++)
			known |= s->ports[k] == c->ports[i];
		if (!known)
			s->ports[s->nports++] = c->ports[i];
	}
	svc_learn(s, info);
	json_decref(info);
	/* Not ours to remove: the check that started it (or the run's cleanup)
	 * does. Kept so that it is freed at the end of the run. */
	tpg_run_put(run, "service-view", s, svc_forget);
	*out = s;
	return 1;
}

static int start(tpg_run *run, const tpg_check *check, const service_cfg *c, tpg_docker *dk,
                 const char *image, svc **out, tpg_result *res)
{
	tpg_strv labels = TPG_STRV_INIT, publish = TPG_STRV_INIT;
	tpg_err err = {0};
	char *id = NULL;
	const tpg_docker_endpoint *ep = tpg_docker_endpoint_get(dk);
	bool local = ep->socket_path != NULL;
	int rc;

	svc *s = tpg_xcalloc(1, sizeof(*s));
	s->name = tpg_dc_name(run, check, NULL);
	s->local = local;
	s->reach = c->reach;
	s->pub_host = tpg_xstrdup(local ? "127.0.0.1" : ep->host);
	memcpy(s->ports, c->ports, sizeof(s->ports));
	s->nports = c->nports;

	tpg_dc_labels(run, check, &labels);
	if (c->nports) {
		tpg_buf pl = TPG_BUF_INIT;
		for (size_t i = 0; i < c->nports; i++) {
			tpg_buf_printf(&pl, "%s%lld", i ? "," : "", c->ports[i]);
			tpg_strv_push_owned(&publish, tpg_xasprintf("%lld/tcp", c->ports[i]));
		}
		tpg_strv_push_owned(&labels, tpg_xasprintf("%s=%s", PORTS_LABEL, tpg_buf_cstr(&pl)));
		tpg_buf_free(&pl);
	}
	tpg_docker_container_spec spec;
	memset(&spec, 0, sizeof(spec));
	spec.image = image;
	spec.name = s->name;
	spec.labels = (const char *const *)labels.items;
	tpg_dc_sandbox_apply(&c->sb, c->nports ? TPG_DC_NET_BRIDGE : TPG_DC_NET_NONE, &spec);
	if (c->nports && c->reach != R_IP && strcmp(spec.network, "none")) {
		spec.publish = (const char *const *)publish.items;
		/* A remote daemon (dind): the port must be reachable from outside
		 * its own loopback. */
		spec.publish_host_ip = local || is_loopback(ep->host) ? "127.0.0.1" : "0.0.0.0";
	}
	if (c->hc_set) {
		spec.healthcheck_override = true;
		spec.hc_interval_ms = c->hc_interval;
		spec.hc_timeout_ms = c->hc_timeout;
		spec.hc_start_period_ms = c->hc_start;
		spec.hc_retries = (int)c->hc_retries;
	}
	rc = tpg_docker_container_create(dk, &spec, tpg_run_deadline(run), &id, &err);
	if (rc < 0) {
		rc = tpg_dc_start_failed(res, rc, &err, image, true);
		svc_free(s);
		goto out;
	}
	s->id = id;
	tpg_run_put(run, "service", s, svc_destroy);
	tpg_run_set_found(run, "container", s->id);
	*out = s;
	rc = tpg_docker_container_start(dk, id, tpg_run_deadline(run), &err);
	if (rc < 0) {
		rc = tpg_dc_start_failed(res, rc, &err, image, false);
		goto out;
	}
	json_t *info = NULL;
	rc = tpg_docker_container_inspect(dk, id, tpg_run_deadline(run), &info, &err);
	if (rc < 0) {
		tpg_dc_result_error(res, rc, &err, "inspecting the container");
		rc = -1;
		goto out;
	}
	svc_learn(s, info);
	json_decref(info);
	set_found_url(run, s);
	rc = 1;
out:
	tpg_strv_free(&labels);
	tpg_strv_free(&publish);
	return rc;
}

/* ---- Running -------------------------------------------------------------------- */

static void run_check(const tpg_check *check, const void *cfgp, tpg_run *run, tpg_result *res)
{
	const service_cfg *c = cfgp;
	char *ref = NULL;
	svc *s = NULL;
	bool started = c->image.text != NULL;
	if (tpg_dc_expand(run, started ? &c->image : &c->container, &ref, res) < 0)
		return;
	tpg_docker *dk = tpg_dc_docker(run, res);
	if (!dk) {
		free(ref);
		return;
	}
	long long t0 = tpg_now_ms();
	int rc = started ? start(run, check, c, dk, ref, &s, res)
	                 : reuse(run, check, c, dk, ref, &s, res);
	if (rc <= 0) {
		if (s && s->id) {
			tpg_buf out = TPG_BUF_INIT;
			show_logs(dk, s->id, &out);
			if (out.len)
				tpg_result_output(res, out.data, out.len);
			tpg_buf_free(&out);
		}
		free(ref);
		return;
	}
	if (!started) {
		tpg_run_set_found(run, "container", s->id);
		set_found_url(run, s);
	}

	step_ctx x = { run, dk, s, NULL, TPG_BUF_INIT };
	tpg_buf done = TPG_BUF_INIT;
	char secs[32];
	if (started && !strncmp(ref, "sha256:", 7))
		tpg_buf_printf(&done, "started %s from image %.19s", s->name, ref);
	else if (started)
		tpg_buf_printf(&done, "started %s from %s", s->name, ref);
	else
		tpg_buf_printf(&done, "using %s", s->name);
	const char *url0 = tpg_run_found(run, check->id, "url");
	if (url0)
		tpg_buf_printf(&done, " (%s)", url0);

	step def = { .type = S_WAIT, .want = W_RUNNING, .within_ms = 5000 };
	const step *steps = c->nsteps ? c->steps : &def;
	size_t nsteps = c->nsteps ? c->nsteps : 1;
	int result = 1;
	for (size_t i = 0; i < nsteps && result == 1; i++) {
		const step *st = &steps[i];
		tpg_buf why = TPG_BUF_INIT;
		switch (st->type) {
		case S_WAIT: result = step_wait(&x, st, &why); break;
		case S_HTTP: result = step_http(&x, st, &why); break;
		case S_EXEC: result = step_exec(&x, st, &why); break;
		case S_LOGS: result = step_logs(&x, st, &why); break;
		case S_SLEEP:
			result = sleep_until(tpg_now_ms() + st->sleep_ms) < 0 ? TPG_ECANCELED : 1;
			if (result == 1)
				tpg_buf_printf(&why, "slept %s", tpg_dc_secs(st->sleep_ms, secs, sizeof(secs)));
			else
				tpg_buf_puts(&why, "interrupted");
			break;
		}
		if (result == 1) {
			tpg_buf_printf(&done, "; %s", tpg_buf_cstr(&why));
		} else {
			tpg_buf head = TPG_BUF_INIT;
			const char *custom = tpg_l10n_pick(&st->message, tpg_run_lang(run));
			tpg_buf_printf(&head, "step %zu (", i + 1);
			describe_step(st, &head);
			tpg_buf_puts(&head, result == TPG_ECANCELED ? ")" : "): ");
			if (result == TPG_ECANCELED)
				;
			else if (result == 0 && custom)
				tpg_buf_printf(&head, "%s (%s)", custom, tpg_buf_cstr(&why));
			else
				tpg_buf_puts(&head, tpg_buf_cstr(&why));
			if (result == 0)
				tpg_result_fail(res, "%s", tpg_buf_cstr(&head));
			else if (result == TPG_ECANCELED)
				tpg_result_error(res, "interrupted during %s: grading was stopped (Ctrl-C or "
				                 "SIGTERM)", tpg_buf_cstr(&head));
			else
				tpg_result_error(res, "%s", tpg_buf_cstr(&head));
			tpg_result_note(res, "before that: %s", tpg_buf_cstr(&done));
			tpg_buf_free(&head);
		}
		tpg_buf_free(&why);
	}
	if (result == 1) {
		tpg_result_pass(res, "%s (%s in all)", tpg_buf_cstr(&done),
		                tpg_dc_secs(tpg_now_ms() - t0, secs, sizeof(secs)));
	} else if (result != TPG_ECANCELED) {
		tpg_buf out = TPG_BUF_INIT;
		if (!x.last_info) {
			tpg_buf dummy = TPG_BUF_INIT;
			inspect(&x, &dummy);
			tpg_buf_free(&dummy);
		}
		tpg_buf_append(&out, x.extra.data ? x.extra.data : "", x.extra.len);
		show_health_log(x.last_info, &out);
		show_logs(dk, s->id, &out);
		if (out.len)
			tpg_result_output(res, out.data, out.len);
		tpg_buf_free(&out);
	}
	/* The way that answered is the one later checks get. */
	set_found_url(run, s);
	tpg_result_data(res, "service", json_pack("{s:s,s:s,s:s?}", "run", tpg_run_id(run),
	                                          "container", s->id, "url",
	                                          tpg_run_found(run, check->id, "url")));
	tpg_buf_free(&done);
	tpg_buf_free(&x.extra);
	json_decref(x.last_info);
	free(ref);
}

const tpg_check_kind tpg_kind_service = {
	.name = "service",
	.summary = "starts a long-running container, waits for its health, "
	           "talks to it over HTTP, runs commands in it",
	.needs = TPG_NEEDS_DOCKER,
	.default_timeout_ms = 120000,
	.parse = parse,
	.run = run_check,
	.free_cfg = free_cfg,
};

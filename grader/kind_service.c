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
 *
 * This file reads the keys and runs the steps in order; the container is
 * service_ctr.c's, the steps service_steps.c's (service_int.h).
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_HTTP_TIMEOUT_MS 5000
#define DEFAULT_EXEC_TIMEOUT_MS 30000

/* ---- Parsing ----------------------------------------------------------- */

static void free_step(tpg_svc_step *s)
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
	tpg_svc_cfg *c = p;
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

static bool has_port(const tpg_svc_cfg *c, long long p)
{
	for (size_t i = 0; i < c->nports; i++)
		if (c->ports[i] == p)
			return true;
	return false;
}

static void parse_http(tpg_fields *sf, const tpg_yaml_node *n, tpg_svc_cfg *c, tpg_svc_step *s)
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

static void parse_exec(tpg_fields *sf, const tpg_yaml_node *n, tpg_svc_step *s)
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

static void parse_step(tpg_fields *f, const tpg_yaml_node *n, size_t idx, tpg_svc_cfg *c,
                       tpg_svc_step *s)
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
			s->type = (tpg_svc_step_type)k;
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
	case TPG_SVC_WAIT:
		if (tpg_fields_enum(sf, "wait-health", tpg_svc_want_names, &w) > 0)
			s->want = (tpg_svc_want)w;
		break;
	case TPG_SVC_HTTP:
		parse_http(sf, v, c, s);
		break;
	case TPG_SVC_EXEC:
		parse_exec(sf, v, s);
		break;
	case TPG_SVC_LOGS:
		tpg_textmatch_parse(sf, v, "logs", &s->logs);
		break;
	case TPG_SVC_SLEEP:
		tpg_fields_duration(sf, "sleep", &s->sleep_ms);
		break;
	}
	if (tpg_fields_has(sf, "within")) {
		if (s->type == TPG_SVC_EXEC || s->type == TPG_SVC_SLEEP)
			tpg_fields_error(sf, tpg_fields_take(sf, "within"), "within",
			                 "'within' is for wait-health, http and logs steps%s",
			                 s->type == TPG_SVC_EXEC ? " (exec takes a timeout)" : "");
		else
			tpg_fields_duration(sf, "within", &s->within_ms);
	}
	tpg_fields_l10n(sf, "message", &s->message);
	tpg_fields_end(sf);
}

static void parse_ports(tpg_fields *f, tpg_svc_cfg *c)
{
	const tpg_yaml_node *n = tpg_fields_take(f, "port");
	if (!n)
		return;
	size_t count = n->type == TPG_YAML_SEQ ? n->n : 1;
	if (n->type == TPG_YAML_MAP || count == 0 || count > TPG_SVC_MAX_PORTS) {
		tpg_fields_error(f, n, "port", "must be a port number or a list of at most %d",
		                 TPG_SVC_MAX_PORTS);
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
	tpg_svc_cfg *c = tpg_xcalloc(1, sizeof(*c));
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
		c->reach = (tpg_svc_reach)reach;
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

/* ---- Running -------------------------------------------------------------------- */

static void run_check(const tpg_check *check, const void *cfgp, tpg_run *run, tpg_result *res)
{
	const tpg_svc_cfg *c = cfgp;
	char *ref = NULL;
	tpg_svc *s = NULL;
	bool started = c->image.text != NULL;
	if (tpg_dc_expand(run, started ? &c->image : &c->container, &ref, res) < 0)
		return;
	tpg_docker *dk = tpg_dc_docker(run, res);
	if (!dk) {
		free(ref);
		return;
	}
	long long t0 = tpg_now_ms();
	int rc = started ? tpg_svc_start(run, check, c, dk, ref, &s, res)
	                 : tpg_svc_reuse(run, check, c, dk, ref, &s, res);
	if (rc <= 0) {
		if (s && s->id) {
			tpg_buf out = TPG_BUF_INIT;
			tpg_svc_show_logs(dk, s->id, &out);
			if (out.len)
				tpg_result_output(res, out.data, out.len);
			tpg_buf_free(&out);
		}
		free(ref);
		return;
	}
	if (!started) {
		tpg_run_set_found(run, "container", s->id);
		tpg_svc_set_found_url(run, s);
	}

	tpg_svc_ctx x = { run, dk, s, NULL, TPG_BUF_INIT };
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

	tpg_svc_step def = { .type = TPG_SVC_WAIT, .want = TPG_SVC_RUNNING, .within_ms = 5000 };
	const tpg_svc_step *steps = c->nsteps ? c->steps : &def;
	size_t nsteps = c->nsteps ? c->nsteps : 1;
	int result = 1;
	for (size_t i = 0; i < nsteps && result == 1; i++) {
		const tpg_svc_step *st = &steps[i];
		tpg_buf why = TPG_BUF_INIT;
		result = tpg_svc_step_run(&x, st, &why);
		if (result == 1) {
			tpg_buf_printf(&done, "; %s", tpg_buf_cstr(&why));
		} else {
			tpg_buf head = TPG_BUF_INIT;
			const char *custom = tpg_l10n_pick(&st->message, tpg_run_lang(run));
			tpg_buf_printf(&head, "step %zu (", i + 1);
			tpg_svc_step_describe(st, &head);
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
			tpg_svc_inspect(&x, &dummy);
			tpg_buf_free(&dummy);
		}
		tpg_buf_append(&out, x.extra.data ? x.extra.data : "", x.extra.len);
		tpg_svc_show_health_log(x.last_info, &out);
		tpg_svc_show_logs(dk, s->id, &out);
		if (out.len)
			tpg_result_output(res, out.data, out.len);
		tpg_buf_free(&out);
	}
	/* The way that answered is the one later checks get. */
	tpg_svc_set_found_url(run, s);
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

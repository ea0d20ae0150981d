/*
 * service_ctr.c - the container of a `kind: service` check (service_int.h):
 * started in the sandbox with the check's ports published and health
 * override, or found (one an earlier service check of the run started);
 * how its ports are reached (its address, or a port published on the
 * daemon's host: docs/docker-checks.md); what the report shows of it.
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>

#define LOGS_TAIL (16u << 10)
#define PORTS_LABEL "tpgrade.ports"

/* ---- The container and its addresses ------------------------------------------- */

static void svc_free(tpg_svc *s)
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
	tpg_svc *s = p;
	tpg_docker *dk = NULL;
	/* After Ctrl-C this is refused; the run's cleanup by label follows. */
	if (tpg_run_docker(run, &dk, NULL) == 0)
		tpg_docker_container_remove(dk, s->id, tpg_now_ms() + TPG_SVC_AFTER_MS, NULL);
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
static void svc_learn(tpg_svc *s, const json_t *info)
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
char *tpg_svc_url(const tpg_svc *s, long long port, int which)
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
size_t tpg_svc_ways(const tpg_svc *s, int ways[2])
{
	size_t n = 0;
	if (s->reach == TPG_SVC_REACH_IP)
		ways[n++] = 0;
	else if (s->reach == TPG_SVC_REACH_PUBLISHED)
		ways[n++] = 1;
	else if (s->local) {
		ways[n++] = s->prefer;
		ways[n++] = !s->prefer;
	} else {
		ways[n++] = 1;
	}
	return n;
}

void tpg_svc_set_found_url(tpg_run *run, const tpg_svc *s)
{
	if (!s->nports)
		return;
	int ways[2];
	size_t n = tpg_svc_ways(s, ways);
	for (size_t i = 0; i < n; i++) {
		char *u = tpg_svc_url(s, s->ports[0], ways[i]);
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

void tpg_svc_show_health_log(const json_t *info, tpg_buf *out)
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

void tpg_svc_show_logs(tpg_docker *dk, const char *id, tpg_buf *out)
{
	tpg_dc_proc p;
	tpg_dc_proc_init(&p, "the container", LOGS_TAIL);
	if (tpg_docker_container_logs_cb(dk, id, false, tpg_now_ms() + TPG_SVC_AFTER_MS, tpg_dc_proc_feed,
	                                 NULL, &p, NULL) == 0 && (p.all.len || p.all.truncated)) {
		tpg_buf_printf(out, "--- container logs%s ---\n", p.all.truncated ? " (end)" : "");
		const char *text = tpg_buf_cstr(&p.all);
		tpg_buf_append(out, text, p.all.len);
		if (p.all.len && text[p.all.len - 1] != '\n')
			tpg_buf_putc(out, '\n');
	}
	tpg_dc_proc_free(&p);
}

/* ---- Starting or finding the container ------------------------------------------- */

static tpg_svc *find_reused(tpg_run *run, const tpg_check *check, const char *ref)
{
	for (size_t i = 0; i < check->uses.len; i++) {
		tpg_svc *s = tpg_run_get(run, check->uses.items[i], "service");
		if (s && (!strcmp(s->id, ref) || !strcmp(s->name, ref) ||
		          (strlen(ref) >= 12 && !strncmp(s->id, ref, strlen(ref)))))
			return s;
	}
	return NULL;
}

/* 1 ready, 0 failed (res set), -1 error (res set). */
int tpg_svc_reuse(tpg_run *run, const tpg_check *check, const tpg_svc_cfg *c, tpg_docker *dk,
                 const char *ref, tpg_svc **out, tpg_result *res)
{
	tpg_svc *s = find_reused(run, check, ref);
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
	for (const char *p = ports; p && *p && s->nports < TPG_SVC_MAX_PORTS;) {
		s->ports[s->nports++] = strtoll(p, (char **)&p, 10);
		p += *p == ',';
	}
	for (size_t i = 0; i < c->nports && s->nports < TPG_SVC_MAX_PORTS; i++) {
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

int tpg_svc_start(tpg_run *run, const tpg_check *check, const tpg_svc_cfg *c, tpg_docker *dk,
                 const char *image, tpg_svc **out, tpg_result *res)
{
	tpg_strv labels = TPG_STRV_INIT, publish = TPG_STRV_INIT;
	tpg_err err = {0};
	char *id = NULL;
	const tpg_docker_endpoint *ep = tpg_docker_endpoint_get(dk);
	bool local = ep->socket_path != NULL;
	int rc;

	tpg_svc *s = tpg_xcalloc(1, sizeof(*s));
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
	if (c->nports && c->reach != TPG_SVC_REACH_IP && strcmp(spec.network, "none")) {
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
	tpg_svc_set_found_url(run, s);
	rc = 1;
out:
	tpg_strv_free(&labels);
	tpg_strv_free(&publish);
	return rc;
}

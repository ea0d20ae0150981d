/*
 * kind_run.c - `kind: run`: runs a container to completion in the sandbox
 * (docker run --rm), then grades its exit code and output. See
 * docs/spec.md, "run", and docs/docker-checks.md for the sandbox.
 *
 * The container gets no network unless asked, a memory, process and CPU
 * budget, no capabilities, no-new-privileges and no mounts. One that has
 * not exited at the check's deadline is killed and the check fails. What
 * it prints is kept capped (the tail of each stream).
 */
#include "tpgrade/check.h"
#include "tpgrade/dockcheck.h"
#include "tpgrade/docker.h"
#include "tpgrade/pred.h"

#include <stdlib.h>
#include <string.h>

#define AFTER_MS 15000   /* logs and removal after the deadline */

typedef struct run_cfg {
	tpg_tmpl image;
	tpg_dc_sandbox sb;
	tpg_dc_proc_ctx pctx;
	tpg_pred *expect;
} run_cfg;

static void free_cfg(void *p)
{
	run_cfg *c = p;
	if (!c)
		return;
	tpg_tmpl_free(&c->image);
	tpg_dc_sandbox_free(&c->sb);
	tpg_pred_free(c->expect, &tpg_dc_proc_ops);
	free(c);
}

static int parse(tpg_fields *f, void **out)
{
	run_cfg *c = tpg_xcalloc(1, sizeof(*c));
	*out = c;
	tpg_fields_tmpl(f, "image", true, &c->image);
	tpg_dc_sandbox_parse(f, &c->sb);
	tpg_pred_parse(f, "expect", &tpg_dc_proc_ops, &c->pctx, &c->expect);
	return tpg_fields_errors(f) ? -1 : 0;
}

static void run_check(const tpg_check *check, const void *cfgp, tpg_run *run, tpg_result *res)
{
	const run_cfg *c = cfgp;
	char *image = NULL, *name = NULL, *id = NULL;
	tpg_strv labels = TPG_STRV_INIT;
	tpg_docker *dk = NULL;
	tpg_dc_proc proc;
	tpg_err err = {0};
	char secs[32];
	int rc;

	tpg_dc_proc_init(&proc, "the container", (size_t)c->sb.output_limit);
	if (tpg_dc_expand(run, &c->image, &image, res) < 0)
		goto out;
	dk = tpg_dc_docker(run, res);
	if (!dk)
		goto out;

	name = tpg_dc_name(run, check, NULL);
	tpg_dc_labels(run, check, &labels);
	tpg_docker_container_spec spec;
	memset(&spec, 0, sizeof(spec));
	spec.image = image;
	spec.name = name;
	spec.labels = (const char *const *)labels.items;
	tpg_dc_sandbox_apply(&c->sb, TPG_DC_NET_NONE, &spec);
	tpg_result_data(res, "run", json_pack("{s:s,s:s,s:s}", "run", tpg_run_id(run), "image",
	                                      image, "container", name));

	long long t0 = tpg_now_ms();
	rc = tpg_docker_container_create(dk, &spec, tpg_run_deadline(run), &id, &err);
	if (rc < 0) {
		tpg_dc_start_failed(res, rc, &err, image, true);
		goto out;
	}
	rc = tpg_docker_container_start(dk, id, tpg_run_deadline(run), &err);
	if (rc < 0) {
		tpg_dc_start_failed(res, rc, &err, image, false);
		goto out;
	}
	rc = tpg_docker_container_wait(dk, id, tpg_run_deadline(run), &proc.exit_code, &err);
	long long ran = tpg_now_ms() - t0;
	proc.exited = rc == 0;
	if (rc < 0 && rc != TPG_ETIMEOUT) {
		tpg_dc_result_error(res, rc, &err, "waiting for the container");
		goto out;
	}

	/* What it printed, and why it stopped; after the deadline too. */
	long long after = tpg_now_ms() + AFTER_MS;
	tpg_err lerr = {0};
	int lrc = tpg_docker_container_logs_cb(dk, id, false, after, tpg_dc_proc_feed, NULL, &proc,
	                                       &lerr);
	json_t *info = NULL;
	if (tpg_docker_container_inspect(dk, id, after, &info, NULL) == 0)
		proc.oom_killed = json_is_true(json_object_get(json_object_get(info, "State"),
		                                               "OOMKilled"));
	json_decref(info);
	if (proc.all.len || proc.all.truncated) {
		const char *text = tpg_buf_cstr(&proc.all);
		tpg_result_output(res, text, proc.all.len);
	}

	if (rc == TPG_ETIMEOUT) {
		tpg_result_fail(res, "the container did not exit within %s: it was killed",
		                tpg_dc_secs(check->timeout_ms, secs, sizeof(secs)));
		goto out;
	}
	if (lrc < 0) {
		tpg_dc_result_error(res, lrc, &lerr, "reading the container's output");
		goto out;
	}

	tpg_buf why = TPG_BUF_INIT;
	int ok = tpg_dc_proc_grade(c->expect, &c->pctx, &proc, tpg_run_lang(run), &why);
	tpg_buf status = TPG_BUF_INIT;
	tpg_dc_proc_status(&proc, &status);
	if (ok == 1)
		tpg_result_pass(res, "%s (ran %s)", tpg_buf_cstr(&why), tpg_dc_secs(ran, secs, sizeof(secs)));
	else if (ok == 0 && strstr(tpg_buf_cstr(&why), "exited with code"))
		tpg_result_fail(res, "%s", tpg_buf_cstr(&why));
	else if (ok == 0)
		tpg_result_fail(res, "%s (%s)", tpg_buf_cstr(&why), tpg_buf_cstr(&status));
	else
		tpg_result_error(res, "%s", tpg_buf_cstr(&why));
	if (res->data)
		json_object_set_new(json_object_get(res->data, "run"), "exit_code",
		                    json_integer(proc.exit_code));
	tpg_buf_free(&status);
	tpg_buf_free(&why);
out:
	if (id) {
		/* --rm; after Ctrl-C this fails and the run's cleanup does it. */
		tpg_docker_container_remove(dk, id, tpg_now_ms() + AFTER_MS, NULL);
	}
	tpg_dc_proc_free(&proc);
	tpg_strv_free(&labels);
	free(image);
	free(name);
	free(id);
}

const tpg_check_kind tpg_kind_run = {
	.name = "run",
	.summary = "runs a container to completion in a sandbox and grades its exit code and output",
	.needs = TPG_NEEDS_DOCKER,
	.default_timeout_ms = 60000,
	.parse = parse,
	.run = run_check,
	.free_cfg = free_cfg,
};

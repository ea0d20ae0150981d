/* engine_docker.c - the run's Docker client: lazy connection, cleanup. */
#include "engine_internal.h"
#include "tpgrade/docker.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Connecting and negotiating: a slow dind may take a few seconds. */
#define CONNECT_TIMEOUT_MS 15000
/* Removing what a run made: containers first, then images and networks. */
#define CLEANUP_TIMEOUT_MS 60000

int tpg_run_docker(tpg_run *run, tpg_docker **out, tpg_err *err)
{
	*out = NULL;
	if (run->docker) {
		*out = run->docker;
		return 0;
	}
	if (run->docker_tried) {
		tpg_err_set(err, run->docker_err.code, "%s", run->docker_err.msg);
		return run->docker_err.code;
	}
	run->docker_tried = true;
	tpg_docker_opts o;
	memset(&o, 0, sizeof(o));
	o.host = run->opts->docker_host;
	tpg_docker *dk = NULL;
	int rc = tpg_docker_open(&o, &dk, &run->docker_err);
	long long deadline = tpg_now_ms() + CONNECT_TIMEOUT_MS;
	if (rc == 0)
		rc = tpg_docker_ping(dk, deadline, &run->docker_err);
	/* A TCP daemon may still be starting (GitLab's docker:dind service
	 * comes up after the job's script starts): retry until the deadline.
	 * A missing local socket will not appear by waiting. */
	while (rc == TPG_EUNAVAIL && !tpg_docker_endpoint_get(dk)->socket_path &&
	       tpg_now_ms() + 500 < deadline && !tpg_interrupted()) {
		struct timespec pause = { 0, 500 * 1000000L };
		nanosleep(&pause, NULL);
		tpg_err_clear(&run->docker_err);
		rc = tpg_docker_ping(dk, deadline, &run->docker_err);
	}
	if (rc < 0) {
		if (!run->docker_err.code)
			run->docker_err.code = rc;
		tpg_docker_close(dk);
		tpg_err_set(err, rc, "%s", run->docker_err.msg);
		return rc;
	}
	run->docker = dk;
	*out = dk;
	return 0;
}

void tpg_engine_docker_finish(tpg_run *run)
{
	if (!run->docker)
		return;
	/* Signals must not stop the cleanup itself: it has its own deadline. */
	bool was_interrupted = tpg_interrupted();
	tpg_interrupt_set(false);
	tpg_docker_cleanup_stats stats;
	tpg_err err = {0};
	memset(&stats, 0, sizeof(stats));
	if (tpg_docker_cleanup(run->docker, run->id, tpg_now_ms() + CLEANUP_TIMEOUT_MS, &stats, &err) < 0)
		run->cleanup_note = tpg_xasprintf(
		         "cleanup of this run's Docker objects (label %s=%s) was incomplete: %s; "
		         "run `tpgrade cleanup` to remove leftovers",
		         TPG_DOCKER_LABEL_RUN, run->id, err.msg);
	if (was_interrupted)
		tpg_interrupt_set(true);
	tpg_docker_close(run->docker);
	run->docker = NULL;
}

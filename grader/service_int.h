/*
 * service_int.h - what the files of `kind: service` share: kind_service.c
 * (the keys, and the check that runs the steps), service_ctr.c (starting
 * or finding the container, reaching its ports, what the report shows of
 * it), service_steps.c (the steps). Not a public header.
 */
#ifndef TPGRADE_SERVICE_INT_H
#define TPGRADE_SERVICE_INT_H

#include "tpgrade/check.h"
#include "tpgrade/dockcheck.h"
#include "tpgrade/docker.h"
#include "tpgrade/pred.h"
#include "tpgrade/textmatch.h"

#define TPG_SVC_MAX_PORTS 8
/* Removal, inspects and logs for the report go on this long after the
 * check's deadline. */
#define TPG_SVC_AFTER_MS 15000

typedef enum {
	TPG_SVC_REACH_AUTO, TPG_SVC_REACH_IP, TPG_SVC_REACH_PUBLISHED
} tpg_svc_reach;
typedef enum {
	TPG_SVC_HEALTHY, TPG_SVC_UNHEALTHY, TPG_SVC_STARTING, TPG_SVC_RUNNING
} tpg_svc_want;
/* In the order of the keys a step may have. */
typedef enum {
	TPG_SVC_WAIT, TPG_SVC_HTTP, TPG_SVC_EXEC, TPG_SVC_LOGS, TPG_SVC_SLEEP
} tpg_svc_step_type;

/* "healthy", "unhealthy", "starting", "running", NULL: by tpg_svc_want. */
extern const char *const tpg_svc_want_names[];

typedef struct tpg_svc_step {
	tpg_svc_step_type type;
	long long within_ms;     /* -1: the step's default */
	tpg_l10n message;
	/* wait-health */
	tpg_svc_want want;
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
} tpg_svc_step;

typedef struct tpg_svc_cfg {
	tpg_tmpl image;
	tpg_tmpl container;
	tpg_dc_sandbox sb;
	long long ports[TPG_SVC_MAX_PORTS];
	size_t nports;
	tpg_svc_reach reach;
	bool hc_set;
	long long hc_interval, hc_timeout, hc_start, hc_retries;
	tpg_svc_step *steps;
	size_t nsteps;
} tpg_svc_cfg;

/* A container of the run, kept for later checks (freed by the run). */
typedef struct tpg_svc {
	char *id;
	char *name;
	bool local;              /* the daemon is on this machine (unix socket) */
	tpg_svc_reach reach;
	char *ip;                /* on its network; NULL if none */
	char *pub_host;          /* where published ports are reached */
	long long ports[TPG_SVC_MAX_PORTS];
	int host_ports[TPG_SVC_MAX_PORTS];
	size_t nports;
	int prefer;              /* 0: the IP, 1: the published port */
} tpg_svc;

/* What the steps of one check share. */
typedef struct tpg_svc_ctx {
	tpg_run *run;
	tpg_docker *dk;
	tpg_svc *s;
	json_t *last_info;       /* the last inspect, for the failure report */
	tpg_buf extra;           /* more output for the report */
} tpg_svc_ctx;

/* ---- The container (service_ctr.c) ---------------------------------------- */

/* Starts a container of `image` for the check / finds the one `ref` names
 * (a service check of this run started it). 1 ready (*out set, owned by
 * the run), 0 failed (the student's), -1 error; `res` says why then, and
 * *out is set when the container was created but did not start. */
int tpg_svc_start(tpg_run *run, const tpg_check *check, const tpg_svc_cfg *c, tpg_docker *dk,
                  const char *image, tpg_svc **out, tpg_result *res);
int tpg_svc_reuse(tpg_run *run, const tpg_check *check, const tpg_svc_cfg *c, tpg_docker *dk,
                  const char *ref, tpg_svc **out, tpg_result *res);
/* The ways to reach a port (0 the container's address, 1 the published
 * port), best first; returns how many. */
size_t tpg_svc_ways(const tpg_svc *s, int ways[2]);
/* "http://host:port" of `port` the way `which`; NULL if there is none. */
char *tpg_svc_url(const tpg_svc *s, long long port, int which);
/* Publishes ${found.<check>.url}: the first port, the way preferred. */
void tpg_svc_set_found_url(tpg_run *run, const tpg_svc *s);
/* For the report: the last health probes of an inspect answer; the end
 * of the container's logs. */
void tpg_svc_show_health_log(const json_t *info, tpg_buf *out);
void tpg_svc_show_logs(tpg_docker *dk, const char *id, tpg_buf *out);

/* ---- Steps (service_steps.c) ----------------------------------------------- */

/* Runs one step: 1 ok, 0 failed (the student's), <0 error; `why` says
 * what it saw. */
int tpg_svc_step_run(tpg_svc_ctx *x, const tpg_svc_step *st, tpg_buf *why);
/* "wait-health: healthy", "http: GET /kill"... */
void tpg_svc_step_describe(const tpg_svc_step *st, tpg_buf *out);
/* Inspects the container into x->last_info: 1, 0 it is gone (why), <0
 * an error (why). */
int tpg_svc_inspect(tpg_svc_ctx *x, tpg_buf *why);

#endif

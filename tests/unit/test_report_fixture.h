/*
 * test_report_fixture.h - reports shared by the tests of the report writers
 * (tests/unit/test_report*.c). Header-only: static inline helpers.
 */
#ifndef TEST_REPORT_FIXTURE_H
#define TEST_REPORT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tpgrade/report.h"

/* A typical run: two suites, every status, a bonus, a deselected check. */
static inline tpg_report *fx_sample(void)
{
	tpg_report *r = tpg_report_new();
	tpg_report_check *c;

	r->tp = tpg_xstrdup("tp2bis");
	r->title = tpg_xstrdup("Dockerfile et images");
	r->spec_path = tpg_xstrdup("checks/tp2bis.yaml");
	r->spec_digest = tpg_xstrdup("sha256:0123abcd");
	r->student = tpg_xstrdup("alice");
	r->repository = tpg_xstrdup("https://gitlab.example/alice/tp2bis.git");
	r->commit = tpg_xstrdup("1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d");
	r->commit_date = tpg_xstrdup("2026-12-01T10:00:00Z");
	r->ref = tpg_xstrdup("main");
	r->hostname = tpg_xstrdup("runner-1");
	r->lang = tpg_xstrdup("en");
	r->started = 1796316116.0;   /* 2026-12-03T16:41:56Z */
	r->seconds = 12.5;
	tpg_strv_push(&r->notes, "2 commits after the deadline");

	tpg_report_add_suite(r, "cowsay", "Image cowsay");
	c = tpg_report_add_check(r, "cowsay.from", "FROM an official image");
	c->kind = tpg_xstrdup("dockerfile");
	c->points = c->max_points = 2;
	c->message = tpg_xstrdup("uses debian:bookworm-slim");
	c->file = tpg_xstrdup("cowsay/Dockerfile");
	c->line = 1;
	c->seconds = 0.012;
	tpg_strv_push(&c->tags, "dockerfile");
	c = tpg_report_add_check(r, "cowsay.entrypoint", "ENTRYPOINT in exec form");
	c->kind = tpg_xstrdup("dockerfile");
	c->status = TPG_STATUS_FAILED;
	c->max_points = 2;
	c->message = tpg_xstrdup("ENTRYPOINT uses the shell form");
	c->hint = tpg_xstrdup("write ENTRYPOINT [\"cowsay\"]");
	c->file = tpg_xstrdup("cowsay/Dockerfile");
	c->line = 3;
	c->seconds = 0.004;
	tpg_strv_push(&c->needs, "cowsay.from");
	c = tpg_report_add_check(r, "cowsay.run", "The container runs");
	c->kind = tpg_xstrdup("run");
	c->status = TPG_STATUS_ERROR;
	c->max_points = 1;
	c->message = tpg_xstrdup("cannot connect to unix:///var/run/docker.sock");
	c->output = tpg_xstrdup("Step 1/3 : FROM debian\nerror: daemon unreachable\n");
	c->seconds = 3.2;
	c->data = json_pack("{s:s, s:i}", "image", "tp2bis-cowsay", "exit", 1);

	tpg_report_add_suite(r, "registry", "Push to the registry");
	c = tpg_report_add_check(r, "registry.push", "Image pushed");
	c->kind = tpg_xstrdup("registry");
	c->status = TPG_STATUS_SKIPPED;
	c->max_points = 2;
	c->message = tpg_xstrdup("needs cowsay.run, which did not pass");
	c = tpg_report_add_check(r, "registry.tag", "Tagged v1");
	c->kind = tpg_xstrdup("registry");
	c->bonus = true;
	c->points = c->max_points = 1;
	c->message = tpg_xstrdup("tag v1 found");
	c = tpg_report_add_check(r, "registry.extra", "Deselected check");
	c->kind = tpg_xstrdup("registry");
	c->status = TPG_STATUS_SKIPPED;
	c->counted = false;
	c->max_points = 0;
	c->message = tpg_xstrdup("not selected (--only)");
	tpg_report_tally(r);
	return r;
}

/* Runs a writer into a string (malloc'ed). */
typedef int (*fx_writer)(const tpg_report *, FILE *, tpg_err *);

static inline char *fx_write(fx_writer w, const tpg_report *r, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	tpg_err err = {0};

	if (!f)
		abort();
	if (w(r, f, &err) != 0) {
		fprintf(stderr, "writer failed: %s\n", err.msg);
		abort();
	}
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

/* Runs a writer on the sample report into /dev/full, where every write
 * fails: its return code, with *err filled. 1 when there is no /dev/full
 * (the caller skips). */
static inline int fx_write_full(fx_writer w, tpg_err *err)
{
	tpg_report *r = fx_sample();
	FILE *f = fopen("/dev/full", "w");
	int rc = 1;

	if (f) {
		rc = w(r, f, err);
		fclose(f);
	}
	tpg_report_free(r);
	return rc;
}

/* A fresh temporary folder (malloc'ed path). */
static inline char *fx_tmpdir(void)
{
	char *d = tpg_xstrdup("/tmp/tpgrade-test-XXXXXX");
	if (!mkdtemp(d))
		abort();
	return d;
}

static inline void fx_rmdir(const char *d)
{
	char *cmd = tpg_xasprintf("rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", d);
	free(cmd);
}

static inline int fx_write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	fwrite(data, 1, len, f);
	return fclose(f);
}

static inline char *fx_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (!f)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = tpg_xrealloc(buf, cap);
		}
		got = fread(buf + n, 1, 4096, f);
		n += got;
	} while (got > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Runs a shell command, returns its stdout (malloc'ed) and exit status. */
static inline char *fx_run(const char *cmd, int *status)
{
	FILE *p = popen(cmd, "r");
	char *buf = NULL;
	size_t n = 0, cap = 0, got;

	if (!p)
		abort();
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = tpg_xrealloc(buf, cap);
		}
		got = fread(buf + n, 1, 4096, p);
		n += got;
	} while (got > 0);
	buf[n] = '\0';
	int st = pclose(p);
	if (status)
		*status = st;
	return buf;
}

static inline size_t fx_count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

#endif

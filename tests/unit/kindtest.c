/* kindtest.c - see kindtest.h. */
#include "kindtest.h"
#include "tpgrade/engine.h"
#include "tpgrade/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tpgt_kind_tmpdir(void)
{
	char tmpl[] = "/tmp/tpgt-kind.XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? tpg_xstrdup(d) : NULL;
}

void tpgt_kind_rmrf(const char *dir)
{
	char *cmd = tpg_xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(cmd);
}

void tpgt_kind_write(const char *dir, const char *rel, const char *content)
{
	char *path = tpg_xasprintf("%s/%s", dir, rel);
	for (char *p = path + strlen(dir) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	}
	FILE *fp = fopen(path, "wb");
	if (fp) {
		fwrite(content, 1, strlen(content), fp);
		fclose(fp);
	}
	free(path);
}

static char *wrap(const char *checks_yaml)
{
	return tpg_xasprintf("tp: t\ntitle: T\nlang: en\nsuites:\n  - id: s\n    title: S\n    checks:\n%s",
	                     checks_yaml);
}

tpg_report *tpgt_kind_grade(const char *checks_yaml, const char *dir)
{
	char *text = wrap(checks_yaml);
	tpg_diags d = TPG_DIAGS_INIT;
	tpg_spec *spec = NULL;
	tpg_spec_opts so = { NULL, false };
	tpg_report *r = NULL;
	if (tpg_spec_load_buffer("t.yaml", text, strlen(text), &so, &spec, &d) < 0) {
		tpg_diags_print(&d, stderr);
	} else {
		tpg_engine_opts eo;
		tpg_err err = {0};
		memset(&eo, 0, sizeof(eo));
		eo.repo_path = dir;
		eo.lang = "en";
		if (tpg_engine_run(spec, &eo, &r, &err) < 0)
			fprintf(stderr, "engine: %s\n", err.msg);
	}
	tpg_spec_free(spec);
	tpg_diags_free(&d);
	free(text);
	return r;
}

static const tpg_report_check *find(const tpg_report *r, const char *id)
{
	for (size_t i = 0; r && i < r->nchecks; i++)
		if (!strcmp(r->checks[i].id, id))
			return &r->checks[i];
	return NULL;
}

const char *tpgt_kind_status(const tpg_report *r, const char *id)
{
	const tpg_report_check *c = find(r, id);
	if (c && getenv("TPGT_VERBOSE"))
		fprintf(stderr, "%s: %s: %s\n", id, tpg_status_name(c->status), c->message);
	return c ? tpg_status_name(c->status) : "absent";
}

const char *tpgt_kind_message(const tpg_report *r, const char *id)
{
	const tpg_report_check *c = find(r, id);
	return c && c->message ? c->message : "";
}

int tpgt_kind_spec_errors(const char *checks_yaml, const char *needle, bool *found)
{
	char *text = wrap(checks_yaml);
	tpg_diags d = TPG_DIAGS_INIT;
	tpg_spec *spec = NULL;
	tpg_spec_opts so = { NULL, false };
	tpg_spec_load_buffer("t.yaml", text, strlen(text), &so, &spec, &d);
	*found = false;
	for (size_t i = 0; i < d.len; i++)
		if (needle && strstr(d.items[i].msg, needle))
			*found = true;
	if (needle && !*found)
		tpg_diags_print(&d, stderr);
	int n = (int)d.len;
	tpg_spec_free(spec);
	tpg_diags_free(&d);
	free(text);
	return n;
}

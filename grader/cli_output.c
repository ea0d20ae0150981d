/* cli_output.c - writing the reports a command asked for. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void tpg_cli_split_list(tpg_strv *v, const char *arg)
{
	const char *p = arg;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n)
			tpg_strv_push_owned(v, tpg_xstrndup(p, n));
		if (!comma)
			break;
		p = comma + 1;
	}
}

const char *tpg_cli_lang_from_env(void)
{
	const char *l = getenv("LC_ALL");
	if (!l || !*l)
		l = getenv("LANG");
	if (l && !strncmp(l, "fr", 2))
		return "fr";
	if (l && !strncmp(l, "en", 2))
		return "en";
	return NULL;
}

void tpg_cli_term_opts(const tpg_cli_look *look, FILE *out, bool student, tpg_term_opts *opts)
{
	int fd = fileno(out);
	bool tty = isatty(fd);
	const char *no_color = getenv("NO_COLOR");

	memset(opts, 0, sizeof(*opts));
	if (look->color == 1)
		opts->color = true;
	else if (look->color == 0)
		opts->color = false;
	else
		opts->color = tty && !(no_color && *no_color) && getenv("TERM") &&
		              strcmp(getenv("TERM"), "dumb") != 0;
	opts->ascii = !tpg_term_locale_is_utf8();
	opts->quiet = look->quiet;
	opts->verbose = look->verbose;
	opts->student = student;
	if (tty) {
		struct winsize ws;
		if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
			opts->width = ws.ws_col;
	}
}

bool tpg_cli_outputs_use_stdout(const tpg_cli_outputs *o)
{
	return (o->junit && !strcmp(o->junit, "-")) || (o->json && !strcmp(o->json, "-")) ||
	       (o->gradescope && !strcmp(o->gradescope, "-"));
}

int tpg_cli_write_outputs(const tpg_cli_outputs *o, const tpg_report *report)
{
	struct {
		const char *path;
		tpg_write_fn fn;
	} outs[] = {
		{ o->junit, tpg_report_junit_fn },
		{ o->json, tpg_report_json_fn },
		{ o->gradescope, tpg_report_gradescope_fn },
	};
	int rc = 0;
	for (size_t i = 0; i < TPG_ARRAY_LEN(outs); i++) {
		tpg_err err = {0};
		if (!outs[i].path)
			continue;
		if (tpg_write_atomic(outs[i].path, outs[i].fn, (void *)report, &err) < 0) {
			fprintf(stderr, "tpgrade: %s\n", err.msg);
			rc = TPG_EXIT_ENV;
		}
	}
	return rc;
}

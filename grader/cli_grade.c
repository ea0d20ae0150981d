/* cli_grade.c - `tpgrade grade` (instructors, CI) and `tpgrade check`
 * (students, in their own repository). */
#include "cli.h"
#include "tpgrade/class.h"
#include "tpgrade/engine.h"
#include "tpgrade/git.h"
#include "tpgrade/yaml.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct grade_args {
	tpg_cli_outputs out;
	tpg_cli_look look;
	tpg_strv vars;
	tpg_engine_opts eng;
	const char *spec_arg;
	const char *repo_arg;
	/* git */
	const char *ref;
	const char *deadline;
	const char *token;
	const char *user;
	const char *password;
	const char *ssh_key;
	bool keep;
	bool in_place;
	long long git_timeout_ms;
	const char *class_info;   /* `tpgrade class` children: what was fetched (class.h) */
} grade_args;

enum {
	OPT_JUNIT = 256, OPT_JSON, OPT_GRADESCOPE, OPT_VAR, OPT_ONLY, OPT_SKIP, OPT_TAGS,
	OPT_SKIP_TAGS, OPT_NO_COLOR, OPT_COLOR, OPT_LANG, OPT_DOCKER_HOST, OPT_BUILDER,
	OPT_STUDENT, OPT_REF, OPT_DEADLINE, OPT_TOKEN, OPT_USER, OPT_PASSWORD, OPT_SSH_KEY,
	OPT_KEEP, OPT_IN_PLACE, OPT_GIT_TIMEOUT, OPT_CLASS_INFO
};

static const struct option grade_options[] = {
	{ "junit", required_argument, NULL, OPT_JUNIT },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "gradescope", required_argument, NULL, OPT_GRADESCOPE },
	{ "var", required_argument, NULL, OPT_VAR },
	{ "only", required_argument, NULL, OPT_ONLY },
	{ "skip", required_argument, NULL, OPT_SKIP },
	{ "tags", required_argument, NULL, OPT_TAGS },
	{ "skip-tags", required_argument, NULL, OPT_SKIP_TAGS },
	{ "no-color", no_argument, NULL, OPT_NO_COLOR },
	{ "color", no_argument, NULL, OPT_COLOR },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "lang", required_argument, NULL, OPT_LANG },
	{ "docker-host", required_argument, NULL, OPT_DOCKER_HOST },
	{ "builder", required_argument, NULL, OPT_BUILDER },
	{ "student", required_argument, NULL, OPT_STUDENT },
	{ "ref", required_argument, NULL, OPT_REF },
	{ "deadline", required_argument, NULL, OPT_DEADLINE },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "user", required_argument, NULL, OPT_USER },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "ssh-key", required_argument, NULL, OPT_SSH_KEY },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ "in-place", no_argument, NULL, OPT_IN_PLACE },
	{ "git-timeout", required_argument, NULL, OPT_GIT_TIMEOUT },
	{ "class-info", required_argument, NULL, OPT_CLASS_INFO },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static const char grade_usage[] =
	"Usage: tpgrade grade [OPTIONS] SPEC [REPO]\n"
	"\n"
	"Grades REPO (a folder, a local git repository, or a git URL; default: the\n"
	"current folder) with SPEC (a spec file, or the name of an installed one,\n"
	"like tp2bis).\n"
	"\n"
	"Reports:\n"
	"  --junit FILE          JUnit XML (GitLab test report); - for stdout\n"
	"  --json FILE           JSON result; - for stdout\n"
	"  --gradescope FILE     Gradescope results.json; - for stdout\n"
	"  -q, --quiet           terminal report: only failures and the total\n"
	"  -v, --verbose         terminal report: times and outputs\n"
	"  --no-color, --color   colours (default: on a terminal, unless NO_COLOR)\n"
	"  --lang fr|en          language of hints (default: LANG, else the spec's)\n"
	"Selection:\n"
	"  --only ID,..          only these checks (ids, suite ids or patterns like cowsay.*)\n"
	"  --skip ID,..          leave these out\n"
	"  --tags T,..           only checks with one of these tags\n"
	"  --skip-tags T,..      leave out checks with one of these tags (e.g. docker, live)\n"
	"  --var NAME=VALUE      set a spec variable (repeatable)\n"
	"Docker:\n"
	"  --docker-host URL     daemon to use (default: DOCKER_HOST, then the socket)\n"
	"  --builder auto|buildkit|classic\n"
	"Repository:\n"
	"  --ref BRANCH|TAG|SHA  what to grade (default: the default branch)\n"
	"  --deadline ISO8601    grade the last commit at or before this time\n"
	"  --token T, --user U, --password P, --ssh-key FILE   git credentials\n"
	"                        (also GIT_TOKEN, GIT_USERNAME, GIT_PASSWORD, ~/.netrc)\n"
	"  --git-timeout SECONDS clone deadline (default 300)\n"
	"  --keep                keep the clone (its path is printed)\n"
	"  --in-place            grade a local folder as it is, without cloning\n"
	"  --student NAME        the student's name or id, for reports\n"
	"\n"
	"Exit status: 0 all checks passed, 1 a check failed, 2 usage or spec error,\n"
	"3 the environment failed (report still written), 130 interrupted.\n";

static const char check_usage[] =
	"Usage: tpgrade check [OPTIONS] [SPEC]\n"
	"\n"
	"Checks your work in the current repository before you hand it in.\n"
	"SPEC is the TP's spec (e.g. tp2bis); without it, tpgrade reads the name\n"
	"from .tpgrade.yaml at the root of your repository:\n"
	"\n"
	"    spec: tp2bis\n"
	"\n"
	"Options are those of `tpgrade grade` (see tpgrade grade --help), e.g.\n"
	"  --only cowsay         check one exercise\n"
	"  --skip-tags docker    no Docker daemon at hand: static checks only\n"
	"  --lang en             hints in English\n";

static int parse_args(int argc, char **argv, grade_args *a, bool student)
{
	int opt;

	optind = 1;
	a->look.color = -1;
	while ((opt = getopt_long(argc, argv, "qvh", grade_options, NULL)) != -1) {
		switch (opt) {
		case OPT_JUNIT: a->out.junit = optarg; break;
		case OPT_JSON: a->out.json = optarg; break;
		case OPT_GRADESCOPE: a->out.gradescope = optarg; break;
		case OPT_VAR:
			if (!strchr(optarg, '=')) {
				fprintf(stderr, "tpgrade: --var takes NAME=VALUE, got '%s'\n", optarg);
				return TPG_EXIT_USAGE;
			}
			tpg_strv_push(&a->vars, optarg);
			break;
		case OPT_ONLY: tpg_cli_split_list(&a->eng.only, optarg); break;
		case OPT_SKIP: tpg_cli_split_list(&a->eng.skip, optarg); break;
		case OPT_TAGS: tpg_cli_split_list(&a->eng.tags, optarg); break;
		case OPT_SKIP_TAGS: tpg_cli_split_list(&a->eng.skip_tags, optarg); break;
		case OPT_NO_COLOR: a->look.color = 0; break;
		case OPT_COLOR: a->look.color = 1; break;
		case 'q': a->look.quiet = true; break;
		case 'v': a->look.verbose = true; break;
		case OPT_LANG:
			if (strcmp(optarg, "fr") && strcmp(optarg, "en")) {
				fprintf(stderr, "tpgrade: --lang takes fr or en, got '%s'\n", optarg);
				return TPG_EXIT_USAGE;
			}
			a->eng.lang = optarg;
			break;
		case OPT_DOCKER_HOST: a->eng.docker_host = optarg; break;
		case OPT_BUILDER:
			if (strcmp(optarg, "auto") && strcmp(optarg, "buildkit") && strcmp(optarg, "classic")) {
				fprintf(stderr, "tpgrade: --builder takes auto, buildkit or classic\n");
				return TPG_EXIT_USAGE;
			}
			a->eng.builder = optarg;
			break;
		case OPT_STUDENT: a->eng.student = optarg; break;
		case OPT_REF: a->ref = optarg; break;
		case OPT_DEADLINE: a->deadline = optarg; break;
		case OPT_TOKEN: a->token = optarg; break;
		case OPT_USER: a->user = optarg; break;
		case OPT_PASSWORD: a->password = optarg; break;
		case OPT_SSH_KEY: a->ssh_key = optarg; break;
		case OPT_KEEP: a->keep = true; break;
		case OPT_IN_PLACE: a->in_place = true; break;
		case OPT_CLASS_INFO: a->class_info = optarg; break;
		case OPT_GIT_TIMEOUT: {
			char *end;
			double s = strtod(optarg, &end);
			if (*end || s <= 0) {
				fprintf(stderr, "tpgrade: --git-timeout takes seconds\n");
				return TPG_EXIT_USAGE;
			}
			a->git_timeout_ms = (long long)(s * 1000);
			break;
		}
		case 'h':
			fputs(student ? check_usage : grade_usage, stdout);
			return -1;
		default:
			fprintf(stderr, "Try 'tpgrade %s --help'.\n", student ? "check" : "grade");
			return TPG_EXIT_USAGE;
		}
	}
	int rest = argc - optind;
	if (student) {
		if (rest > 1) {
			fprintf(stderr, "tpgrade check: too many arguments (it grades the current folder)\n");
			return TPG_EXIT_USAGE;
		}
		a->spec_arg = rest ? argv[optind] : NULL;
	} else {
		if (rest < 1 || rest > 2) {
			fprintf(stderr, "%s", rest < 1 ? "tpgrade grade: missing SPEC\n"
			                               : "tpgrade grade: too many arguments\n");
			fprintf(stderr, "Try 'tpgrade grade --help'.\n");
			return TPG_EXIT_USAGE;
		}
		a->spec_arg = argv[optind];
		a->repo_arg = rest == 2 ? argv[optind + 1] : ".";
	}
	if (!a->eng.lang)
		a->eng.lang = tpg_cli_lang_from_env();
	return 0;
}

/* Progress on stderr while grading, when it is a terminal. */
typedef struct progress {
	bool on;
	size_t done, total;
} progress;

static void on_start(void *ctx, const tpg_check *c)
{
	progress *p = ctx;
	if (!p->on)
		return;
	fprintf(stderr, "\r\033[K[%zu/%zu] %s ...", p->done + 1, p->total, c->id);
	fflush(stderr);
}

static void on_done(void *ctx, const tpg_report_check *r)
{
	progress *p = ctx;
	p->done++;
	if (p->on) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
	TPG_UNUSED(r);
}

static int load_spec(const char *arg, const char *argv0, const tpg_strv *vars, tpg_spec **spec)
{
	tpg_err err = {0};
	tpg_diags diags = TPG_DIAGS_INIT;
	char *path = tpg_spec_resolve(arg, argv0, &err);
	if (!path) {
		fprintf(stderr, "tpgrade: %s\n", err.msg);
		return TPG_EXIT_USAGE;
	}
	tpg_spec_opts so = { vars, true };
	int rc = tpg_spec_load(path, &so, spec, &diags);
	free(path);
	if (rc < 0) {
		tpg_diags_sort(&diags);
		tpg_diags_print(&diags, stderr);
		fprintf(stderr, "tpgrade: %zu problem%s in the spec: nothing graded\n", diags.len,
		        diags.len == 1 ? "" : "s");
		tpg_diags_free(&diags);
		return TPG_EXIT_USAGE;
	}
	tpg_diags_free(&diags);
	return 0;
}

static int grade(grade_args *a, const char *argv0, bool student)
{
	tpg_spec *spec = NULL;
	tpg_git_checkout *co = NULL;
	tpg_report *report = NULL;
	tpg_err err = {0};
	int rc = load_spec(a->spec_arg, argv0, &a->vars, &spec);
	if (rc)
		return rc;

	/* Where the files are: cloned (URL, local git repository), or in place. */
	char *commit = NULL, *commit_date = NULL;
	if (a->in_place) {
		a->eng.repo_path = a->repo_arg;
		tpg_git_describe_local(a->repo_arg, &commit, &commit_date, NULL);
	} else {
		tpg_git_opts go;
		memset(&go, 0, sizeof(go));
		go.url = a->repo_arg;
		go.ref = a->ref;
		go.deadline = a->deadline;
		go.token = a->token ? a->token : getenv("GIT_TOKEN");
		go.username = a->user ? a->user : getenv("GIT_USERNAME");
		go.password = a->password ? a->password : getenv("GIT_PASSWORD");
		go.ssh_key = a->ssh_key;
		go.keep = a->keep;
		go.timeout_ms = a->git_timeout_ms;
		tpg_git_failure why = TPG_GIT_FAIL_OTHER;
		if (tpg_git_global_init(&err) < 0 || tpg_git_fetch_ex(&go, &co, &why, &err) < 0) {
			fprintf(stderr, "tpgrade: cannot get the repository: %s\n", err.msg);
			if (a->class_info)
				tpg_class_info_write(a->class_info, NULL, why, err.msg, NULL);
			tpg_spec_free(spec);
			return err.code == TPG_EINVAL || err.code == TPG_ENOTFOUND ? TPG_EXIT_USAGE : TPG_EXIT_ENV;
		}
		a->eng.repo_path = co->workdir;
		a->eng.repository = co->display_url;
		a->eng.commit = co->commit;
		a->eng.commit_date = co->commit_date;
		a->eng.ref = co->ref;
		a->eng.notes = &co->notes;
		if (a->class_info)
			tpg_class_info_write(a->class_info, co, TPG_GIT_OK, NULL, NULL);
		if (a->keep && co->root)
			fprintf(stderr, "tpgrade: the clone is kept in %s\n", co->root);
	}
	if (commit) {
		a->eng.commit = commit;
		a->eng.commit_date = commit_date;
	}

	bool machine_stdout = tpg_cli_outputs_use_stdout(&a->out);
	FILE *term = machine_stdout ? stderr : stdout;
	progress prog = { isatty(STDERR_FILENO) && !a->look.quiet, 0, spec->nchecks };
	a->eng.on_start = on_start;
	a->eng.on_done = on_done;
	a->eng.progress_ctx = &prog;

	rc = tpg_engine_run(spec, &a->eng, &report, &err);
	if (rc < 0) {
		fprintf(stderr, "tpgrade: %s\n", err.msg);
		rc = err.code == TPG_ENOTFOUND || err.code == TPG_EINVAL ? TPG_EXIT_USAGE : TPG_EXIT_ENV;
	} else {
		tpg_term_opts to;
		tpg_cli_term_opts(&a->look, term, student, &to);
		tpg_report_write_term(report, &to, term, NULL);
		fflush(term);
		int wrc = tpg_cli_write_outputs(&a->out, report);
		rc = report->exit_code;
		if (wrc && rc != TPG_EXIT_INTERRUPTED)
			rc = wrc;
	}
	tpg_report_free(report);
	tpg_git_checkout_free(co);
	free(commit);
	free(commit_date);
	tpg_spec_free(spec);
	return rc;
}

static void free_args(grade_args *a)
{
	tpg_strv_free(&a->vars);
	tpg_engine_opts_free(&a->eng);
}

int tpg_cli_grade(int argc, char **argv, const char *argv0)
{
	grade_args a;
	memset(&a, 0, sizeof(a));
	int rc = parse_args(argc, argv, &a, false);
	if (rc == 0)
		rc = grade(&a, argv0, false);
	free_args(&a);
	return rc < 0 ? 0 : rc;
}

/* The folder holding .tpgrade.yaml or .git, from the current one upwards. */
static char *find_repo_root(void)
{
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return tpg_xstrdup(".");
	char *dir = tpg_xstrdup(cwd);
	for (;;) {
		struct stat st;
		char *cfg = tpg_xasprintf("%s/.tpgrade.yaml", dir);
		char *git = tpg_xasprintf("%s/.git", dir);
		bool found = stat(cfg, &st) == 0 || stat(git, &st) == 0;
		free(cfg);
		free(git);
		if (found) {
			free(cwd);
			return dir;
		}
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			break;
		*slash = '\0';
	}
	free(dir);
	return cwd;
}

/* Reads .tpgrade.yaml: `spec:` (required), `vars:`, `lang:`. */
static int read_project_config(const char *root, grade_args *a, char **spec_out, tpg_strv *cfg_vars)
{
	char *path = tpg_xasprintf("%s/.tpgrade.yaml", root);
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		free(path);
		return 1;
	}
	tpg_buf data = TPG_BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 && data.len < (1u << 20))
		tpg_buf_append(&data, chunk, n);
	fclose(fp);

	tpg_diags diags = TPG_DIAGS_INIT;
	tpg_yaml_doc *doc = NULL;
	int rc = 0;
	if (tpg_yaml_parse(path, tpg_buf_cstr(&data), data.len, NULL, &doc, &diags) < 0) {
		tpg_diags_print(&diags, stderr);
		rc = TPG_EXIT_USAGE;
	} else {
		const tpg_yaml_node *root_node = tpg_yaml_root(doc);
		const tpg_yaml_node *spec = tpg_yaml_get(root_node, "spec");
		const tpg_yaml_node *vars = tpg_yaml_get(root_node, "vars");
		const tpg_yaml_node *lang = tpg_yaml_get(root_node, "lang");
		if (!spec || spec->type != TPG_YAML_SCALAR || !*spec->value) {
			fprintf(stderr, "%s: write the TP's spec name in it, e.g.  spec: tp2bis\n", path);
			rc = TPG_EXIT_USAGE;
		} else {
			/* A relative spec path is relative to the repository root. */
			struct stat st;
			char *rel = tpg_xasprintf("%s/%s", root, spec->value);
			*spec_out = stat(rel, &st) == 0 ? rel : (free(rel), tpg_xstrdup(spec->value));
		}
		if (vars && vars->type == TPG_YAML_MAP)
			for (size_t i = 0; i < vars->n; i++)
				if (vars->items[2 * i + 1]->type == TPG_YAML_SCALAR)
					tpg_strv_push_owned(cfg_vars, tpg_xasprintf("%s=%s", vars->items[2 * i]->value,
					                                             vars->items[2 * i + 1]->value));
		if (lang && lang->type == TPG_YAML_SCALAR && !a->eng.lang &&
		    (!strcmp(lang->value, "fr") || !strcmp(lang->value, "en")))
			a->eng.lang = !strcmp(lang->value, "fr") ? "fr" : "en";
	}
	tpg_yaml_free(doc);
	tpg_diags_free(&diags);
	tpg_buf_free(&data);
	free(path);
	return rc;
}

int tpg_cli_check(int argc, char **argv, const char *argv0)
{
	grade_args a;
	char *root, *spec_from_cfg = NULL;
	tpg_strv cfg_vars = TPG_STRV_INIT;

	memset(&a, 0, sizeof(a));
	int rc = parse_args(argc, argv, &a, true);
	if (rc) {
		free_args(&a);
		return rc < 0 ? 0 : rc;
	}
	root = find_repo_root();
	rc = read_project_config(root, &a, &spec_from_cfg, &cfg_vars);
	if (rc > 1) {
		free(root);
		free_args(&a);
		tpg_strv_free(&cfg_vars);
		return rc;
	}
	if (!a.spec_arg && !spec_from_cfg) {
		fprintf(stderr,
		        "tpgrade check: which TP? Name its spec, e.g.\n"
		        "    tpgrade check tp2bis\n"
		        "or create %s/.tpgrade.yaml containing:\n"
		        "    spec: tp2bis\n", root);
		free(root);
		free_args(&a);
		return TPG_EXIT_USAGE;
	}
	/* Command-line variables win over the project file's. */
	for (size_t i = 0; i < a.vars.len; i++)
		tpg_strv_push(&cfg_vars, a.vars.items[i]);
	tpg_strv_free(&a.vars);
	a.vars = cfg_vars;
	if (!a.spec_arg)
		a.spec_arg = spec_from_cfg;
	a.repo_arg = root;
	a.in_place = true;
	rc = grade(&a, argv0, true);
	free(spec_from_cfg);
	free(root);
	free_args(&a);
	return rc;
}

/* cli_class.c - `tpgrade class` and `tpgrade merge` (docs/class.md). */
#include "cli.h"
#include "tpgrade/class.h"
#include "tpgrade/gradebook.h"
#include "tpgrade/roster.h"
#include "tpgrade/sanitize.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_OUT "tpgrade-out"
#define DEFAULT_STUDENT_TIMEOUT_MS (30LL * 60 * 1000)
#define DEFAULT_GRACE_MS (30LL * 1000)

static const char class_usage[] =
	"Usage: tpgrade class [OPTIONS] SPEC ROSTER\n"
	"\n"
	"Grades every student of ROSTER (CSV or YAML: id, repo, and optionally name,\n"
	"group, ref, deadline) with SPEC, one `tpgrade grade` process per student,\n"
	"into a grade book: DIR/grades.csv, DIR/summary.json, DIR/report.html, and\n"
	"per student DIR/<id>/junit.xml, result.json, log.txt. Running it again\n"
	"grades only the students whose commit (or the spec, or the options) changed.\n"
	"\n"
	"  -j, --jobs N            students graded at once (default: the number of CPUs)\n"
	"  -o, --out DIR           output folder (default ./" DEFAULT_OUT ")\n"
	"  --force                 grade everyone again\n"
	"  --format gradescope     also write DIR/<id>/results.json (Gradescope)\n"
	"  --shard K/N             grade every N-th student, starting with the K-th (1-based);\n"
	"                          default from CI_NODE_INDEX/CI_NODE_TOTAL (GitLab parallel)\n"
	"                          or JOB_COMPLETION_INDEX (Kubernetes, 0-based) with\n"
	"  --shard-total N         the number of shards (or TPGRADE_SHARD_TOTAL)\n"
	"  --student-timeout S     stop grading a student after S seconds (default 1800)\n"
	"  --grace S               after Ctrl-C or a timeout, seconds a student gets to\n"
	"                          clean up its Docker objects (default 30)\n"
	"  -q, --quiet             print only errors and the summary\n"
	"Repository (as for tpgrade grade; the roster's ref/deadline columns win):\n"
	"  --ref BRANCH|TAG|SHA    --deadline ISO8601    --git-timeout SECONDS    --keep\n"
	"  --token T, --user U, --password P, --ssh-key FILE\n"
	"                          (also GIT_TOKEN, GIT_USERNAME, GIT_PASSWORD, ~/.netrc)\n"
	"Grading (as for tpgrade grade):\n"
	"  --var NAME=VALUE  --only ID,..  --skip ID,..  --tags T,..  --skip-tags T,..\n"
	"  --lang fr|en (also report.html's labels; default: LANG, else the spec's)\n"
	"  --docker-host URL\n"
	"\n"
	"Exit status: 0 every student graded, 1 some could not be graded (error rows),\n"
	"2 usage, spec or roster error, 3 the grade book could not be written,\n"
	"130 interrupted (the next run resumes).\n";

static const char merge_usage[] =
	"Usage: tpgrade merge [OPTIONS] DIR...\n"
	"\n"
	"Combines the output folders of sharded `tpgrade class --shard K/N` runs into\n"
	"one grade book (grades.csv, summary.json, report.html, the students' files).\n"
	"\n"
	"  -o, --out DIR           where (default ./" DEFAULT_OUT ")\n"
	"  --format gradescope     also write DIR/<id>/results.json\n"
	"\n"
	"Exit status: 0 every student graded, 1 some are errors or missing from every\n"
	"DIR, 2 usage error or DIRs of different specs, 3 cannot write.\n";

enum {
	OPT_OUT = 256, OPT_FORCE, OPT_FORMAT, OPT_SHARD, OPT_SHARD_TOTAL, OPT_STUDENT_TIMEOUT,
	OPT_GRACE, OPT_REF, OPT_DEADLINE, OPT_GIT_TIMEOUT, OPT_KEEP, OPT_TOKEN, OPT_USER,
	OPT_PASSWORD, OPT_SSH_KEY, OPT_VAR, OPT_ONLY, OPT_SKIP, OPT_TAGS, OPT_SKIP_TAGS, OPT_LANG,
	OPT_DOCKER_HOST
};

static const struct option class_options[] = {
	{ "jobs", required_argument, NULL, 'j' },
	{ "out", required_argument, NULL, 'o' },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "shard-total", required_argument, NULL, OPT_SHARD_TOTAL },
	{ "student-timeout", required_argument, NULL, OPT_STUDENT_TIMEOUT },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "ref", required_argument, NULL, OPT_REF },
	{ "deadline", required_argument, NULL, OPT_DEADLINE },
	{ "git-timeout", required_argument, NULL, OPT_GIT_TIMEOUT },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "user", required_argument, NULL, OPT_USER },
	{ "password", required_argument, NULL, OPT_PASSWORD },
	{ "ssh-key", required_argument, NULL, OPT_SSH_KEY },
	{ "var", required_argument, NULL, OPT_VAR },
	{ "only", required_argument, NULL, OPT_ONLY },
	{ "skip", required_argument, NULL, OPT_SKIP },
	{ "tags", required_argument, NULL, OPT_TAGS },
	{ "skip-tags", required_argument, NULL, OPT_SKIP_TAGS },
	{ "lang", required_argument, NULL, OPT_LANG },
	{ "docker-host", required_argument, NULL, OPT_DOCKER_HOST },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

typedef struct class_args {
	tpg_class_opts o;
	const char *out;
	const char *shard;
	const char *shard_total;
	const char *spec_arg, *roster_arg;
	const char *lang;           /* --lang, else from LC_ALL/LANG; NULL: the spec's */
	tpg_strv vars;
} class_args;

static int seconds_arg(const char *opt, const char *v, long long *ms)
{
	char *end;
	errno = 0;
	double s = strtod(v, &end);
	if (errno || end == v || *end || !(s > 0) || s > 1e7) {
		fprintf(stderr, "tpgrade: %s takes a number of seconds, got '%s'\n", opt, v);
		return TPG_EXIT_USAGE;
	}
	*ms = (long long)(s * 1000);
	return 0;
}

static int int_arg(const char *what, const char *v, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi) {
		fprintf(stderr, "tpgrade: %s must be a whole number from %ld to %ld, got '%s'\n", what,
		        lo, hi, v);
		return TPG_EXIT_USAGE;
	}
	*out = n;
	return 0;
}

static int cpu_count(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static int parse_class_args(int argc, char **argv, class_args *a)
{
	int opt;
	long n;
	tpg_class_opts *o = &a->o;

	optind = 1;
	o->jobs = 0;
	o->student_timeout_ms = DEFAULT_STUDENT_TIMEOUT_MS;
	o->grace_ms = DEFAULT_GRACE_MS;
	while ((opt = getopt_long(argc, argv, "j:o:qh", class_options, NULL)) != -1) {
		int rc = 0;
		switch (opt) {
		case 'j':
			rc = int_arg("-j", optarg, 1, 1024, &n);
			o->jobs = (int)n;
			break;
		case 'o': a->out = optarg; break;
		case OPT_FORCE: o->force = true; break;
		case OPT_FORMAT: {
			tpg_strv f = TPG_STRV_INIT;
			tpg_cli_split_list(&f, optarg);
			for (size_t i = 0; i < f.len && !rc; i++) {
				if (!strcmp(f.items[i], "gradescope"))
					o->gradescope = true;
				else if (strcmp(f.items[i], "junit") && strcmp(f.items[i], "json")) {
					fprintf(stderr, "tpgrade: --format takes gradescope (junit and json are "
					        "always written), got '%s'\n", f.items[i]);
					rc = TPG_EXIT_USAGE;
				}
			}
			tpg_strv_free(&f);
			break;
		}
		case OPT_SHARD: a->shard = optarg; break;
		case OPT_SHARD_TOTAL: a->shard_total = optarg; break;
		case OPT_STUDENT_TIMEOUT:
			rc = seconds_arg("--student-timeout", optarg, &o->student_timeout_ms);
			break;
		case OPT_GRACE: rc = seconds_arg("--grace", optarg, &o->grace_ms); break;
		case 'q': o->quiet = true; break;
		case OPT_REF: o->ref = optarg; break;
		case OPT_DEADLINE: {
			tpg_err err = {0};
			if (tpg_parse_iso8601(optarg, NULL, NULL, &err) < 0) {
				fprintf(stderr, "tpgrade: --deadline: %s\n", err.msg);
				rc = TPG_EXIT_USAGE;
			}
			o->deadline = optarg;
			break;
		}
		case OPT_GIT_TIMEOUT: rc = seconds_arg("--git-timeout", optarg, &o->git_timeout_ms); break;
		case OPT_KEEP: o->keep = true; break;
		case OPT_TOKEN: o->token = optarg; break;
		case OPT_USER: o->user = optarg; break;
		case OPT_PASSWORD: o->password = optarg; break;
		case OPT_SSH_KEY: o->ssh_key = optarg; break;
		case OPT_VAR:
			if (!strchr(optarg, '=')) {
				fprintf(stderr, "tpgrade: --var takes NAME=VALUE, got '%s'\n", optarg);
				rc = TPG_EXIT_USAGE;
			}
			tpg_strv_push(&a->vars, optarg);
			tpg_strv_push_owned(&o->child_args, tpg_xasprintf("--var=%s", optarg));
			break;
		case OPT_ONLY:
		case OPT_SKIP:
		case OPT_TAGS:
		case OPT_SKIP_TAGS: {
			const char *name = opt == OPT_ONLY ? "only" : opt == OPT_SKIP ? "skip"
			                   : opt == OPT_TAGS ? "tags" : "skip-tags";
			tpg_strv_push_owned(&o->child_args, tpg_xasprintf("--%s=%s", name, optarg));
			break;
		}
		case OPT_LANG:
			if (strcmp(optarg, "fr") && strcmp(optarg, "en")) {
				fprintf(stderr, "tpgrade: --lang takes fr or en, got '%s'\n", optarg);
				rc = TPG_EXIT_USAGE;
			}
			a->lang = optarg;
			break;
		case OPT_DOCKER_HOST:
			tpg_strv_push_owned(&o->child_args, tpg_xasprintf("--docker-host=%s", optarg));
			break;
		case 'h':
			fputs(class_usage, stdout);
			return -1;
		default:
			fprintf(stderr, "Try 'tpgrade class --help'.\n");
			return TPG_EXIT_USAGE;
		}
		if (rc)
			return rc;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "tpgrade class: %s\nTry 'tpgrade class --help'.\n",
		        argc - optind < 2 ? "give SPEC and ROSTER" : "too many arguments");
		return TPG_EXIT_USAGE;
	}
	a->spec_arg = argv[optind];
	a->roster_arg = argv[optind + 1];
	/* One language for the hints of every child and report.html's labels
	 * (and the key: a change regrades); none: the spec's. */
	if (!a->lang)
		a->lang = tpg_cli_lang_from_env();
	if (a->lang)
		tpg_strv_push_owned(&o->child_args, tpg_xasprintf("--lang=%s", a->lang));
	if (!o->jobs)
		o->jobs = cpu_count();
	return 0;
}

/* K/N from --shard, GitLab's or Kubernetes' variables; 0/0 when none. */
static int resolve_shard(const class_args *a, int *k, int *n)
{
	long kk = 0, nn = 0;
	*k = *n = 0;
	if (a->shard) {
		const char *slash = strchr(a->shard, '/');
		char *kpart = slash ? tpg_xstrndup(a->shard, (size_t)(slash - a->shard)) : NULL;
		int rc = !slash ? TPG_EXIT_USAGE : int_arg("--shard K", kpart, 1, 100000, &kk);
		if (!rc)
			rc = int_arg("--shard N", slash + 1, 1, 100000, &nn);
		free(kpart);
		if (rc || kk > nn) {
			fprintf(stderr, "tpgrade: --shard takes K/N with 1 <= K <= N (e.g. 2/3), got '%s'\n",
			        a->shard);
			return TPG_EXIT_USAGE;
		}
	} else if (getenv("CI_NODE_INDEX") && *getenv("CI_NODE_INDEX")) {
		const char *t = getenv("CI_NODE_TOTAL");
		if (int_arg("CI_NODE_INDEX", getenv("CI_NODE_INDEX"), 1, 100000, &kk) ||
		    int_arg("CI_NODE_TOTAL", t ? t : "", 1, 100000, &nn))
			return TPG_EXIT_USAGE;
	} else if (getenv("JOB_COMPLETION_INDEX") && *getenv("JOB_COMPLETION_INDEX")) {
		const char *t = a->shard_total ? a->shard_total : getenv("TPGRADE_SHARD_TOTAL");
		if (!t || !*t) {
			fprintf(stderr, "tpgrade: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) "
			        "but not the number of shards: give --shard-total N or set "
			        "TPGRADE_SHARD_TOTAL\n");
			return TPG_EXIT_USAGE;
		}
		if (int_arg("JOB_COMPLETION_INDEX", getenv("JOB_COMPLETION_INDEX"), 0, 99999, &kk) ||
		    int_arg("the number of shards", t, 1, 100000, &nn))
			return TPG_EXIT_USAGE;
		kk++;
	} else {
		return 0;
	}
	if (kk > nn) {
		fprintf(stderr, "tpgrade: shard %ld of %ld does not exist\n", kk, nn);
		return TPG_EXIT_USAGE;
	}
	if (nn > 1) {
		*k = (int)kk;
		*n = (int)nn;
	}
	return 0;
}

static int make_dirs(const char *path)
{
	char *p = tpg_xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	int rc = mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -errno;
	free(p);
	struct stat st;
	if (rc == 0 && (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)))
		rc = -ENOTDIR;
	return rc;
}

/* One class run per output folder at a time. Returns the lock's fd. */
static int lock_out(const char *dir)
{
	char *path = tpg_xasprintf("%s/.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	free(path);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return -2;
	}
	return fd;
}

/* Prints the summary; returns the exit status it calls for. */
static int print_summary(const tpg_gradebook *gb, const char *out, bool merge)
{
	tpg_gb_stats st;
	tpg_gradebook_stats(gb, &st);
	printf("%s: %zu student%s: %zu graded, %zu error%s", merge ? "tpgrade merge" : "tpgrade class",
	       st.count, st.count == 1 ? "" : "s", st.graded, st.errors, st.errors == 1 ? "" : "s");
	if (st.pending)
		printf(", %zu not graded yet", st.pending);
	printf("\n");
	if (!merge)
		printf("This run: %zu graded, %zu unchanged, %zu error%s%s\n", st.run_graded,
		       st.run_unchanged, st.run_errors, st.run_errors == 1 ? "" : "s",
		       gb->interrupted ? " (interrupted: run again to finish)" : "");
	if (st.graded) {
		char m[32], md[32], mn[32], mx[32], ms[32];
		tpg_gb_format_points(round(st.mean * 100) / 100, m, sizeof(m));
		tpg_gb_format_points(st.median, md, sizeof(md));
		tpg_gb_format_points(st.min, mn, sizeof(mn));
		tpg_gb_format_points(st.max, mx, sizeof(mx));
		tpg_gb_format_points(st.max_score, ms, sizeof(ms));
		printf("Scores: mean %s, median %s, min %s, max %s (out of %s)\n", m, md, mn, mx, ms);
	}
	printf("Grade book: %s/grades.csv, %s/report.html, %s/summary.json\n", out, out, out);
	/* A merge also fails for students no shard graded. */
	int rc = gb->interrupted ? TPG_EXIT_INTERRUPTED
	         : st.errors || (merge && st.pending) ? TPG_EXIT_FAILED : TPG_EXIT_PASSED;
	tpg_gb_stats_clear(&st);
	return rc;
}

static char *key_base(const tpg_spec *spec, const tpg_class_opts *o)
{
	tpg_buf b = TPG_BUF_INIT;
	tpg_buf_printf(&b, "tpgrade=%s\nspec=%s\n", TPGRADE_VERSION, spec->digest);
	for (size_t i = 0; i < o->child_args.len; i++)
		if (strncmp(o->child_args.items[i], "--docker-host=", 14) != 0)
			tpg_buf_printf(&b, "%s\n", o->child_args.items[i]);
	return tpg_buf_detach(&b);
}

static int run_class(class_args *a, const char *argv0)
{
	tpg_err err = {0};
	tpg_diags diags = TPG_DIAGS_INIT;
	tpg_spec *spec = NULL;
	tpg_roster *roster = NULL;
	tpg_gradebook *gb = NULL;
	tpg_strv problems = TPG_STRV_INIT;
	char *spec_path = NULL, *abs_spec = NULL, *kb = NULL;
	int lockfd = -1, rc;

	spec_path = tpg_spec_resolve(a->spec_arg, argv0, &err);
	if (!spec_path) {
		fprintf(stderr, "tpgrade: %s\n", err.msg);
		return TPG_EXIT_USAGE;
	}
	tpg_spec_opts so = { &a->vars, true };
	if (tpg_spec_load(spec_path, &so, &spec, &diags) < 0) {
		tpg_diags_sort(&diags);
		tpg_diags_print(&diags, stderr);
		fprintf(stderr, "tpgrade: %zu problem%s in the spec: nothing graded\n", diags.len,
		        diags.len == 1 ? "" : "s");
		rc = TPG_EXIT_USAGE;
		goto out;
	}
	abs_spec = realpath(spec_path, NULL);
	if (!abs_spec)
		abs_spec = tpg_xstrdup(spec_path);

	rc = tpg_roster_load(a->roster_arg, &roster, &problems, &err);
	if (rc < 0) {
		for (size_t i = 0; i < problems.len; i++) {
			char *t = tpg_sanitize_term(problems.items[i], strlen(problems.items[i]));
			fprintf(stderr, "%s\n", t);
			free(t);
		}
		if (problems.len)
			fprintf(stderr, "tpgrade: %zu problem%s in the roster: nothing graded\n",
			        problems.len, problems.len == 1 ? "" : "s");
		else
			fprintf(stderr, "tpgrade: %s\n", err.msg);
		rc = TPG_EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < roster->notes.len && !a->o.quiet; i++) {
		char *t = tpg_sanitize_term(roster->notes.items[i], strlen(roster->notes.items[i]));
		fprintf(stderr, "note: %s\n", t);
		free(t);
	}
	for (size_t i = 0; i < roster->len; i++) {
		const char *dl = roster->students[i].deadline;
		if (dl && tpg_parse_iso8601(dl, NULL, NULL, &err) < 0) {
			fprintf(stderr, "%s:%d: deadline: %s\n", roster->path, roster->students[i].line,
			        err.msg);
			rc = TPG_EXIT_USAGE;
		}
	}
	if (rc < 0 || rc == TPG_EXIT_USAGE) {
		rc = TPG_EXIT_USAGE;
		goto out;
	}

	int k, n;
	if ((rc = resolve_shard(a, &k, &n)) != 0)
		goto out;
	const char *out = a->out ? a->out : DEFAULT_OUT;
	if (make_dirs(out) < 0) {
		fprintf(stderr, "tpgrade: cannot create the output folder %s: %s\n", out,
		        strerror(errno));
		rc = TPG_EXIT_USAGE;
		goto out;
	}
	lockfd = lock_out(out);
	if (lockfd == -2) {
		fprintf(stderr, "tpgrade: another tpgrade class is writing to %s\n", out);
		rc = TPG_EXIT_USAGE;
		goto out;
	}

	gb = tpg_gradebook_from_spec(spec, spec_path);
	if (a->lang) {
		free(gb->lang);
		gb->lang = tpg_xstrdup(a->lang);
	}
	gb->shard_index = k;
	gb->shard_total = n;
	size_t selected = 0;
	for (size_t i = 0; i < roster->len; i++) {
		bool in = n == 0 || (int)(i % (size_t)n) == k - 1;
		tpg_gradebook_add(gb, &roster->students[i], in);
		selected += in;
	}
	if (n && !a->o.quiet)
		fprintf(stderr, "shard %d of %d: %zu of %zu students\n", k, n, selected, roster->len);

	kb = key_base(spec, &a->o);
	a->o.key_base = kb;
	a->o.spec_path = abs_spec;
	a->o.out_dir = out;
	a->o.self_exe = access("/proc/self/exe", X_OK) == 0 ? "/proc/self/exe" : argv0;
	a->o.tty = isatty(STDERR_FILENO) && !a->o.quiet;
	if (!a->o.token && getenv("GIT_TOKEN") && *getenv("GIT_TOKEN"))
		a->o.token = getenv("GIT_TOKEN");
	if (!a->o.user && getenv("GIT_USERNAME") && *getenv("GIT_USERNAME"))
		a->o.user = getenv("GIT_USERNAME");
	if (!a->o.password && getenv("GIT_PASSWORD") && *getenv("GIT_PASSWORD"))
		a->o.password = getenv("GIT_PASSWORD");

	gb->generated = tpg_wall_seconds();
	if (tpg_class_run(&a->o, roster, gb, &err) < 0) {
		fprintf(stderr, "tpgrade: %s\n", err.msg);
		rc = TPG_EXIT_ENV;
		goto out;
	}
	gb->generated = tpg_wall_seconds();
	if (tpg_gradebook_write_all(gb, out, &err) < 0) {
		fprintf(stderr, "tpgrade: %s\n", err.msg);
		rc = TPG_EXIT_ENV;
		goto out;
	}
	rc = print_summary(gb, out, false);
out:
	if (lockfd >= 0)
		close(lockfd);
	tpg_gradebook_free(gb);
	tpg_roster_free(roster);
	tpg_spec_free(spec);
	tpg_diags_free(&diags);
	tpg_strv_free(&problems);
	free(spec_path);
	free(abs_spec);
	free(kb);
	return rc;
}

int tpg_cli_class(int argc, char **argv, const char *argv0)
{
	class_args a;
	memset(&a, 0, sizeof(a));
	int rc = parse_class_args(argc, argv, &a);
	if (rc == 0)
		rc = run_class(&a, argv0);
	tpg_strv_free(&a.vars);
	tpg_strv_free(&a.o.child_args);
	return rc < 0 ? 0 : rc;
}

/* ------------------------------------------------------------------ merge */

int tpg_cli_merge(int argc, char **argv, const char *argv0)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *out = DEFAULT_OUT;
	bool gradescope = false;
	int opt;

	TPG_UNUSED(argv0);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case OPT_FORMAT:
			if (strcmp(optarg, "gradescope")) {
				fprintf(stderr, "tpgrade: --format takes gradescope, got '%s'\n", optarg);
				return TPG_EXIT_USAGE;
			}
			gradescope = true;
			break;
		case 'h': fputs(merge_usage, stdout); return 0;
		default:
			fprintf(stderr, "Try 'tpgrade merge --help'.\n");
			return TPG_EXIT_USAGE;
		}
	}
	int nsrc = argc - optind;
	if (nsrc < 1) {
		fprintf(stderr, "tpgrade merge: give the output folders of the shards\n"
		        "Try 'tpgrade merge --help'.\n");
		return TPG_EXIT_USAGE;
	}
	char **src = argv + optind;
	if (make_dirs(out) < 0) {
		fprintf(stderr, "tpgrade: cannot create %s: %s\n", out, strerror(errno));
		return TPG_EXIT_USAGE;
	}
	int lockfd = lock_out(out);
	if (lockfd == -2) {
		fprintf(stderr, "tpgrade: a tpgrade class is writing to %s\n", out);
		return TPG_EXIT_USAGE;
	}
	tpg_gradebook *gb = NULL;
	tpg_err err = {0};
	size_t missing = 0;
	int rc = tpg_class_merge(src, nsrc, out, gradescope, &gb, &missing, &err);
	if (missing)
		fprintf(stderr, "tpgrade merge: %zu student%s in no shard's output (a shard "
		        "missing or interrupted?)\n", missing, missing == 1 ? "" : "s");
	if (rc < 0) {
		fprintf(stderr, "tpgrade: %s\n", err.msg);
		rc = rc == TPG_EIO ? TPG_EXIT_ENV : TPG_EXIT_USAGE;
	} else {
		rc = print_summary(gb, out, true);
	}
	if (lockfd >= 0)
		close(lockfd);
	tpg_gradebook_free(gb);
	return rc;
}

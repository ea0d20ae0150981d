/* cli_cleanup.c - `tpgrade cleanup`: remove what interrupted or crashed
 * runs left on the daemon, found by our label. Objects without it are
 * never touched. */
#include "cli.h"
#include "tpgrade/docker.h"

#include <getopt.h>
#include <string.h>

static const char cleanup_usage[] =
	"Usage: tpgrade cleanup [--run ID] [--docker-host URL]\n"
	"\n"
	"Removes the containers, images, networks and volumes that tpgrade runs\n"
	"created (label " TPG_DOCKER_LABEL_RUN "), e.g. after a crash. With --run, only\n"
	"those of one run. Nothing without the label is touched.\n";

int tpg_cli_cleanup(int argc, char **argv, const char *argv0)
{
	static const struct option opts[] = {
		{ "run", required_argument, NULL, 'r' },
		{ "docker-host", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *run_id = NULL, *host = NULL;
	int opt;
	TPG_UNUSED(argv0);

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r': run_id = optarg; break;
		case 'H': host = optarg; break;
		case 'h': fputs(cleanup_usage, stdout); return 0;
		default: fputs(cleanup_usage, stderr); return TPG_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(cleanup_usage, stderr);
		return TPG_EXIT_USAGE;
	}
	tpg_docker *dk = NULL;
	tpg_docker_opts o;
	tpg_err err = {0};
	memset(&o, 0, sizeof(o));
	o.host = host;
	if (tpg_docker_open(&o, &dk, &err) < 0 ||
	    tpg_docker_ping(dk, tpg_now_ms() + 15000, &err) < 0) {
		fprintf(stderr, "tpgrade: %s\n", err.msg);
		tpg_docker_close(dk);
		return TPG_EXIT_ENV;
	}
	tpg_docker_cleanup_stats st;
	memset(&st, 0, sizeof(st));
	int rc = tpg_docker_cleanup(dk, run_id, tpg_now_ms() + 120000, &st, &err);
	printf("removed %d container%s, %d image%s, %d network%s, %d volume%s\n", st.containers,
	       st.containers == 1 ? "" : "s", st.images, st.images == 1 ? "" : "s", st.networks,
	       st.networks == 1 ? "" : "s", st.volumes, st.volumes == 1 ? "" : "s");
	if (rc < 0)
		fprintf(stderr, "tpgrade: some objects could not be removed: %s\n", err.msg);
	tpg_docker_close(dk);
	return rc < 0 ? TPG_EXIT_ENV : 0;
}

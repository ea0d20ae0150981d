/*
 * class_engine_time.c - bench/class.sh's helper: the engine's own time per
 * student, in process, without cloning nor starting a process:
 *
 *   class_engine_time SPEC DIR...
 *
 * loads SPEC once, then grades each DIR (a checked-out repository) with
 * tpg_engine_run and prints "students N total_ms T mean_ms M max_ms X
 * maxrss_kb R". Built by bench/class.sh against build/libtpgrade.a.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tpgrade/engine.h"
#include "tpgrade/spec.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s SPEC DIR...\n", argv[0]);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	tpg_spec *spec = NULL;
	tpg_diags diags = TPG_DIAGS_INIT;
	tpg_spec_opts so = { NULL, true };
	if (tpg_spec_load(argv[1], &so, &spec, &diags) < 0) {
		tpg_diags_print(&diags, stderr);
		return 2;
	}
	double total = 0, max = 0;
	int n = 0;
	for (int i = 2; i < argc; i++) {
		tpg_engine_opts o;
		tpg_report *r = NULL;
		tpg_err err = {0};
		memset(&o, 0, sizeof(o));
		o.repo_path = argv[i];
		double t0 = now_ms();
		if (tpg_engine_run(spec, &o, &r, &err) < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], err.msg);
			continue;
		}
		double t = now_ms() - t0;
		tpg_report_free(r);
		total += t;
		if (t > max)
			max = t;
		n++;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("students %d total_ms %.2f mean_ms %.3f max_ms %.3f maxrss_kb %ld\n", n, total,
	       n ? total / n : 0.0, max, ru.ru_maxrss);
	tpg_spec_free(spec);
	tpg_diags_free(&diags);
	curl_global_cleanup();
	return n ? 0 : 1;
}

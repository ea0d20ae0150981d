/* cli_dockerfile.c - `tpgrade dump-dockerfile FILE`: the parse in the
 * format of BuildKit's parser test results, for checking our parser
 * against BuildKit's and for instructors debugging a spec. */
#include "cli.h"
#include "tpgrade/dockerfile.h"

#include <errno.h>
#include <string.h>

#define DUMP_MAX_BYTES (16u << 20)

int tpg_cli_dump_dockerfile(int argc, char **argv, const char *argv0)
{
	TPG_UNUSED(argv0);
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: tpgrade dump-dockerfile FILE\n\n"
		       "Prints the parse of FILE (- for stdin) one instruction per line, as\n"
		       "BuildKit's parser tests do. A file BuildKit rejects gives its error on\n"
		       "stderr and exit status 2.\n");
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "Usage: tpgrade dump-dockerfile FILE\n");
		return TPG_EXIT_USAGE;
	}
	const char *path = argv[1];
	FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!fp) {
		fprintf(stderr, "tpgrade: cannot read %s: %s\n", path, strerror(errno));
		return TPG_EXIT_USAGE;
	}
	tpg_buf data = TPG_BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		tpg_buf_append(&data, chunk, n);
		if (data.len > DUMP_MAX_BYTES)
			break;
	}
	bool failed = ferror(fp);
	if (fp != stdin)
		fclose(fp);
	if (failed || data.len > DUMP_MAX_BYTES) {
		fprintf(stderr, "tpgrade: %s: %s\n", path,
		        failed ? "read error" : "over the 16 MB limit for a Dockerfile");
		tpg_buf_free(&data);
		return TPG_EXIT_USAGE;
	}
	tpg_dockerfile *df = NULL;
	tpg_err err = {0};
	int line = 0;
	if (tpg_dockerfile_parse(tpg_buf_cstr(&data), data.len, &df, &line, &err) < 0) {
		if (line > 0)
			fprintf(stderr, "%s:%d: %s\n", path, line, err.msg);
		else
			fprintf(stderr, "%s: %s\n", path, err.msg);
		tpg_buf_free(&data);
		return TPG_EXIT_USAGE;
	}
	tpg_buf out = TPG_BUF_INIT;
	tpg_dockerfile_dump(df, &out);
	fwrite(out.data ? out.data : "", 1, out.len, stdout);
	tpg_buf_free(&out);
	tpg_dockerfile_free(df);
	tpg_buf_free(&data);
	return 0;
}

/* dump.c DIR OUT.tar - writes the build context of DIR as tpgrade does. */
#include "tpgrade/buildctx.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	tpg_err err = {0};
	if (argc != 3)
		return 2;
	FILE *f = fopen(argv[2], "w");
	if (!f)
		return 1;
	int rc = tpg_buildctx_write(argv[1], NULL, f, NULL, &err);
	fclose(f);
	if (rc)
		fprintf(stderr, "%s\n", err.msg);
	return rc ? 1 : 0;
}

/* main.c - placeholder entry point until the CLI lands. */
#include <stdio.h>
#include "tpgrade/common.h"
int main(void)
{
	printf("tpgrade %s\n", TPGRADE_VERSION);
	return 0;
}

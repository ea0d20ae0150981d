/* repo_int.h - what repo.c shares with repo_walk.c; not a public header. */
#ifndef TPGRADE_REPO_INT_H
#define TPGRADE_REPO_INT_H

#include "tpgrade/repo.h"

/* The root's O_RDONLY|O_DIRECTORY descriptor; borrowed. */
int tpg_repo_rootfd(const tpg_repo *repo);

#endif

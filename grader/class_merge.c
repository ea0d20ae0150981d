/*
 * class_merge.c - `tpgrade merge`: the output folders of sharded class runs
 * combined into one grade book. Each student comes from the folder whose
 * shard it belongs to (the most recently graded one if several claim it);
 * its files are copied, regular files only, never through a symlink.
 */
#include "tpgrade/class.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int copy_fd_fn(FILE *out, void *ctx, tpg_err *err)
{
	int fd = *(int *)ctx;
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			return tpg_err_set(err, TPG_EIO, "write error");
	return n < 0 ? tpg_err_errno(err, errno, "read error") : 0;
}

/* Copies a regular file (never through a symlink). Missing: removes dst. */
static int copy_file(const char *src, const char *dst, tpg_err *err)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		unlink(dst);
		return 0;
	}
	int rc = tpg_write_atomic(dst, copy_fd_fn, &fd, err);
	close(fd);
	return rc;
}

static bool same_dir(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static long find_row(const tpg_gradebook *gb, const char *id)
{
	for (size_t i = 0; i < gb->nrows; i++)
		if (strcmp(gb->rows[i].id, id) == 0)
			return (long)i;
	return -1;
}

static double state_time(const char *dir, const char *folder)
{
	char *p = tpg_xasprintf("%s/%s/state.json", dir, folder);
	tpg_class_state st;
	double t = -1;
	if (tpg_class_state_read(p, &st, NULL) == 0) {
		t = st.graded_at;
		tpg_class_state_clear(&st);
	}
	free(p);
	return t;
}

static int cmp_rows(const void *x, const void *y)
{
	const tpg_gb_row *a = x, *b = y;
	return a->index < b->index ? -1 : a->index > b->index;
}

static int merge_rows(char *const *src, int nsrc, tpg_gradebook **books, tpg_gradebook *gb,
                      const char *out, bool gradescope, size_t *missing, tpg_err *err)
{
	static const char *const files[] = { "result.json", "junit.xml", "log.txt", "results.json",
		"state.json" };
	int rc = 0;
	/* Rows of the other shards' rosters that the first lacks. */
	for (int i = 1; i < nsrc; i++) {
		for (size_t r = 0; r < books[i]->nrows; r++) {
			const tpg_gb_row *o = &books[i]->rows[r];
			if (find_row(gb, o->id) >= 0)
				continue;
			tpg_student s = { .id = o->id, .name = o->name, .group = o->group,
			                  .repo = o->repo, .ref = o->ref, .folder = o->folder,
			                  .index = o->index };
			tpg_gradebook_add(gb, &s, true);
		}
	}
	qsort(gb->rows, gb->nrows, sizeof(*gb->rows), cmp_rows);
	for (size_t r = 0; r < gb->nrows; r++) {
		tpg_gb_row *row = &gb->rows[r];
		const char *best = NULL;
		double best_t = -1;
		for (int i = 0; i < nsrc; i++) {
			const tpg_gradebook *b = i == 0 ? gb : books[i];
			long k = i == 0 ? (long)r : find_row(b, row->id);
			if (k < 0 || !b->rows[k].in_shard || strcmp(b->rows[k].folder, row->folder))
				continue;
			double t = state_time(src[i], row->folder);
			if (t > best_t) {
				best_t = t;
				best = src[i];
			}
		}
		row->in_shard = true;
		if (!best) {
			(*missing)++;
			continue;
		}
		if (!same_dir(best, out)) {
			char *d = tpg_xasprintf("%s/%s", out, row->folder);
			if (mkdir(d, 0755) < 0 && errno != EEXIST && rc == 0)
				rc = tpg_err_errno(err, errno, "cannot create %s", d);
			free(d);
			for (size_t f = 0; f < TPG_ARRAY_LEN(files); f++) {
				char *from = tpg_xasprintf("%s/%s/%s", best, row->folder, files[f]);
				char *to = tpg_xasprintf("%s/%s/%s", out, row->folder, files[f]);
				tpg_err e = {0};
				if (copy_file(from, to, &e) < 0 && rc == 0) {
					rc = e.code;
					if (err)
						*err = e;
				}
				free(from);
				free(to);
			}
		}
		tpg_gradebook_load_row(gb, row, out);
		if (gradescope && row->status != TPG_GB_PENDING) {
			char *sd = tpg_xasprintf("%s/%s", out, row->folder);
			tpg_class_write_gradescope_from_state(sd, NULL);
			free(sd);
		}
	}
	return rc;
}

int tpg_class_merge(char *const *src, int nsrc, const char *out, bool gradescope,
                    tpg_gradebook **gb_out, size_t *missing, tpg_err *err)
{
	tpg_gradebook **books = tpg_xcalloc((size_t)nsrc, sizeof(*books));
	int rc = 0;

	*gb_out = NULL;
	*missing = 0;
	for (int i = 0; i < nsrc && !rc; i++) {
		char *p = tpg_xasprintf("%s/class.json", src[i]);
		if ((rc = tpg_gradebook_read_class_json(p, &books[i], err)) < 0)
			rc = rc == TPG_EPARSE ? TPG_EPARSE : TPG_ENOTFOUND;
		else if (i > 0 && strcmp(books[i]->spec_digest, books[0]->spec_digest) != 0)
			rc = tpg_err_set(err, TPG_EINVAL, "%s was graded with another spec (%s) than %s "
			                 "(%s): not merged", src[i], books[i]->spec_digest, src[0],
			                 books[0]->spec_digest);
		free(p);
	}
	if (!rc) {
		tpg_gradebook *gb = books[0];
		books[0] = NULL;
		gb->shard_index = gb->shard_total = 0;
		rc = merge_rows(src, nsrc, books, gb, out, gradescope, missing, err);
		gb->generated = tpg_wall_seconds();
		if (!rc)
			rc = tpg_gradebook_write_all(gb, out, err);
		*gb_out = gb;
	}
	for (int i = 0; i < nsrc; i++)
		tpg_gradebook_free(books[i]);
	free(books);
	return rc;
}

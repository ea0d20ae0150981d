/*
 * atomicfile.c - write a file so readers see the old or the new contents,
 * never a half-written one (a CI job killed mid-write, a full disk).
 */
#include "tpgrade/report.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int io_error(tpg_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like tpg_err_errno, but always TPG_EIO: callers only care that it failed. */
static int io_error(tpg_err *err, int errnum, const char *fmt, ...)
{
	char what[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return tpg_err_set(err, TPG_EIO, "%s: %s", what, strerror(errnum));
}

static int write_stdout(tpg_write_fn write, void *ctx, tpg_err *err)
{
	int rc = write(stdout, ctx, err);

	if (rc != 0)
		return rc;
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout))
		return io_error(err, errno ? errno : EIO, "cannot write to standard output");
	return 0;
}

/* The folder of `path` ("." when it has none) and the temporary's name. */
static char *temp_template(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	if (!slash)
		return tpg_xasprintf(".%s.tmp-XXXXXX", base);
	return tpg_xasprintf("%.*s/.%s.tmp-XXXXXX", (int)(slash - path), path, base);
}

static void sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? tpg_xstrndup(path, slash == path ? 1 : (size_t)(slash - path))
	                  : tpg_xstrdup(".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	/* Best effort: the rename is what matters, this only makes it durable. */
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

int tpg_write_atomic(const char *path, tpg_write_fn write, void *ctx, tpg_err *err)
{
	struct stat st;
	char *tmp;
	FILE *f;
	int fd, rc;

	if (!path || !*path)
		return tpg_err_set(err, TPG_EINVAL, "cannot write a file without a name");
	if (strcmp(path, "-") == 0)
		return write_stdout(write, ctx, err);
	if (path[strlen(path) - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
		return tpg_err_set(err, TPG_EIO, "cannot write %s: it is a directory", path);

	tmp = temp_template(path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = io_error(err, errno, "cannot write %s: cannot create a temporary file %s",
		              path, tmp);
		free(tmp);
		return rc;
	}
	/* mkstemp makes it 0600; reports are meant to be read by others (CI). */
	(void)fchmod(fd, 0644);   /* on failure it stays private: harmless */
	f = fdopen(fd, "w");
	if (!f) {
		rc = io_error(err, errno, "cannot write %s", path);
		close(fd);
		goto fail;
	}
	rc = write(f, ctx, err);
	if (rc != 0) {
		fclose(f);
		if (err && err->msg[0])
			tpg_err_prefix(err, "cannot write %s", path);
		else
			tpg_err_set(err, rc, "cannot write %s", path);
		goto fail;
	}
	errno = 0;
	if (fflush(f) != 0 || ferror(f)) {
		rc = io_error(err, errno ? errno : EIO, "cannot write %s", path);
		fclose(f);
		goto fail;
	}
	if (fsync(fileno(f)) != 0 && errno != EINVAL && errno != EROFS) {
		rc = io_error(err, errno, "cannot write %s (fsync)", path);
		fclose(f);
		goto fail;
	}
	if (fclose(f) != 0) {
		rc = io_error(err, errno, "cannot write %s (close)", path);
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		rc = io_error(err, errno, "cannot write %s: cannot rename %s over it", path, tmp);
		goto fail;
	}
	sync_dir(path);
	free(tmp);
	return 0;

fail:
	unlink(tmp);
	free(tmp);
	return rc;
}

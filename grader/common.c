/* common.c - error records, allocation, clocks and the signal flag. */
#include "tpgrade/common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int tpg_err_vset(tpg_err *err, int code, const char *fmt, va_list ap)
{
	if (err) {
		err->code = code;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	}
	return code;
}

int tpg_err_set(tpg_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tpg_err_vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int tpg_err_prefix(tpg_err *err, const char *fmt, ...)
{
	char prefix[512];
	char old[TPG_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return TPG_EGENERIC;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Truncation is fine: the message is for humans. */
	size_t n = strlen(prefix);
	if (n > sizeof(err->msg) - 3)
		n = sizeof(err->msg) - 3;
	memcpy(err->msg, prefix, n);
	memcpy(err->msg + n, ": ", 2);
	size_t rest = sizeof(err->msg) - n - 3;
	size_t olen = strnlen(old, rest);
	memcpy(err->msg + n + 2, old, olen);
	err->msg[n + 2 + olen] = '\0';
	return err->code ? err->code : TPG_EGENERIC;
}

static int code_from_errno(int errnum)
{
	switch (errnum) {
	case ENOENT: case ENOTDIR: return TPG_ENOTFOUND;
	case EACCES: case EPERM: return TPG_EDENIED;
	case EEXIST: return TPG_EEXISTS;
	case ELOOP: return TPG_ESYMLINK;
	case EFBIG: return TPG_ETOOBIG;
	case ETIMEDOUT: return TPG_ETIMEOUT;
	case EINTR: return TPG_ECANCELED;
	case ECONNREFUSED: case EHOSTUNREACH: case ENETUNREACH: return TPG_EUNAVAIL;
	default: return TPG_EIO;
	}
}

int tpg_err_errno(tpg_err *err, int errnum, const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return tpg_err_set(err, code_from_errno(errnum), "%s: %s", what, strerror(errnum));
}

void tpg_err_clear(tpg_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

const char *tpg_err_code_name(int code)
{
	switch (code) {
	case TPG_OK: return "ok";
	case TPG_EINVAL: return "invalid";
	case TPG_ENOTFOUND: return "not found";
	case TPG_EIO: return "i/o error";
	case TPG_ETOOBIG: return "too big";
	case TPG_ETIMEOUT: return "timeout";
	case TPG_ECANCELED: return "interrupted";
	case TPG_EUNAVAIL: return "unavailable";
	case TPG_EPARSE: return "parse error";
	case TPG_ESYMLINK: return "symlink out of the repository";
	case TPG_EAUTH: return "authentication";
	case TPG_EPROTO: return "protocol error";
	case TPG_EEXISTS: return "exists";
	case TPG_EDENIED: return "permission denied";
	default: return "error";
	}
}

static void out_of_memory(size_t n)
{
	fprintf(stderr, "tpgrade: out of memory (allocating %zu bytes)\n", n);
	abort();
}

void *tpg_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory(n);
	return p;
}

void *tpg_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		out_of_memory(n * size);
	return p;
}

void *tpg_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		out_of_memory(n);
	return q;
}

void *tpg_xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > ((size_t)-1) / size)
		out_of_memory((size_t)-1);
	return tpg_xrealloc(p, n * size);
}

char *tpg_xstrdup(const char *s)
{
	return s ? tpg_xstrndup(s, strlen(s)) : NULL;
}

char *tpg_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = tpg_xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *tpg_xvasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	p = tpg_xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *tpg_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	p = tpg_xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

const char *tpg_format_size(long long bytes, char *buf, size_t bufsize)
{
	static const char *const units[] = {"KB", "MB", "GB", "TB", "PB", "EB"};

	if (!buf || bufsize == 0)
		return "";
	if (bytes < 1024) {
		snprintf(buf, bufsize, "%lld byte%s", bytes, bytes == 1 ? "" : "s");
		return buf;
	}
	double v = (double)bytes / 1024.0;
	size_t u = 0;
	while (v >= 1024.0 && u + 1 < TPG_ARRAY_LEN(units)) {
		v /= 1024.0;
		u++;
	}
	/* Rounding must not print "1024 KB" or "10.0 MB" style values that
	 * belong to the next unit or format. */
	if (v >= 1023.5 && u + 1 < TPG_ARRAY_LEN(units)) {
		v /= 1024.0;
		u++;
	}
	if (v < 9.95)
		snprintf(buf, bufsize, "%.1f %s", v, units[u]);
	else
		snprintf(buf, bufsize, "%.0f %s", v, units[u]);
	return buf;
}

long long tpg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double tpg_wall_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The process's one mutable global besides the check-kind table. */
static volatile sig_atomic_t interrupted_flag;

static void on_signal(int sig)
{
	TPG_UNUSED(sig);
	interrupted_flag = 1;
}

bool tpg_interrupted(void)
{
	return interrupted_flag != 0;
}

void tpg_interrupt_set(bool on)
{
	interrupted_flag = on ? 1 : 0;
}

void tpg_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: blocking reads should return EINTR so we notice. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * common.h - error codes, the error record every fallible call fills in,
 * and allocation helpers shared by every module.
 *
 * Conventions (see docs/hacking.md):
 *  - A fallible function returns 0 on success or a negative TPG_E* code, and
 *    fills the caller's `tpg_err` with a message meant for a human (it may end
 *    up verbatim in a report). There is no hidden "last error" global.
 *  - Whatever a function returns through an out-pointer belongs to the caller
 *    unless its documentation says otherwise; it is freed with the matching
 *    *_free function (or free() for plain strings).
 *  - Allocation failure aborts the process (tpg_xmalloc & co.), like git's
 *    xmalloc: we never try to grade in an out-of-memory state.
 */
#ifndef TPGRADE_COMMON_H
#define TPGRADE_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define TPGRADE_VERSION "0.1.0"

enum {
	TPG_OK = 0,
	TPG_EGENERIC = -1,   /* anything without a better code */
	TPG_EINVAL = -2,     /* bad argument or malformed input */
	TPG_ENOTFOUND = -3,  /* file, image, container, tag... does not exist */
	TPG_EIO = -4,        /* read/write failure */
	TPG_ETOOBIG = -5,    /* a size cap was hit */
	TPG_ETIMEOUT = -6,   /* a deadline passed */
	TPG_ECANCELED = -7,  /* SIGINT/SIGTERM arrived */
	TPG_EUNAVAIL = -8,   /* a service (daemon, registry) cannot be reached */
	TPG_EPARSE = -9,     /* input does not parse (YAML, Dockerfile, JSON) */
	TPG_ESYMLINK = -10,  /* a symlink would leave the repository */
	TPG_EAUTH = -11,     /* credentials refused or missing */
	TPG_EPROTO = -12,    /* a peer answered something we cannot understand */
	TPG_EEXISTS = -13,   /* already exists */
	TPG_EDENIED = -14    /* permission denied */
};

#define TPG_ERR_MSG_MAX 2048

/* The error record. Zero-initialise it (`tpg_err err = {0};`). */
typedef struct tpg_err {
	int code;                      /* last TPG_E* code set, 0 if none */
	char msg[TPG_ERR_MSG_MAX];     /* human-readable, NUL-terminated */
} tpg_err;

/* Sets err (if non-NULL) and returns `code`, so `return tpg_err_set(...)`. */
int tpg_err_set(tpg_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int tpg_err_vset(tpg_err *err, int code, const char *fmt, va_list ap);
/* Prepends "<prefix>: " to the current message, keeps the code; returns it. */
int tpg_err_prefix(tpg_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Sets a message from errno: "<what>: <strerror(errnum)>", code from errnum. */
int tpg_err_errno(tpg_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tpg_err_clear(tpg_err *err);
/* A short name of a TPG_E* code ("timeout", "not found"...). Static. */
const char *tpg_err_code_name(int code);

/* Allocation: abort on failure. */
void *tpg_xmalloc(size_t n);
void *tpg_xcalloc(size_t n, size_t size);
void *tpg_xrealloc(void *p, size_t n);
void *tpg_xreallocarray(void *p, size_t n, size_t size);
char *tpg_xstrdup(const char *s);           /* NULL in, NULL out */
char *tpg_xstrndup(const char *s, size_t n);
char *tpg_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *tpg_xvasprintf(const char *fmt, va_list ap);

/* Growable arrays: TPG_ARRAY_GROW(ptr, len, cap) makes room for one more. */
#define TPG_ARRAY_GROW(ptr, len, cap)                                       \
	do {                                                                 \
		if ((len) >= (cap)) {                                            \
			(cap) = (cap) ? (cap) * 2 : 8;                               \
			(ptr) = tpg_xreallocarray((ptr), (cap), sizeof(*(ptr)));     \
		}                                                                \
	} while (0)

#define TPG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TPG_UNUSED(x) ((void)(x))

/* "512 bytes", "512 KB", "1.0 MB", "1.0 GB" (units of 1024). Writes into
 * buf (32 bytes are always enough) and returns it. */
const char *tpg_format_size(long long bytes, char *buf, size_t bufsize);

/* Monotonic clock in milliseconds; deadlines are absolute values of it. */
long long tpg_now_ms(void);
/* Wall clock as seconds since the epoch, with sub-second precision. */
double tpg_wall_seconds(void);

/*
 * The one signal flag of the process (set by the SIGINT/SIGTERM handler that
 * main installs). Long waits poll it and give up with TPG_ECANCELED.
 */
bool tpg_interrupted(void);
void tpg_signals_install(void);
/* For tests: raise the flag as a signal would, or lower it. */
void tpg_interrupt_set(bool on);

#endif

/* git_result.c - what a worker reports, and libgit2's errors in our terms. */
#include "tpgrade/git_impl.h"
#include "tpgrade/sanitize.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void tpg_git_result_clear(tpg_git_result *r)
{
	if (!r)
		return;
	free(r->message);
	free(r->commit);
	free(r->tip);
	free(r->commit_date);
	free(r->ref);
	free(r->phase);
	tpg_strv_free(&r->notes);
	memset(r, 0, sizeof(*r));
}

static void set_str(char **slot, const char *s, size_t n)
{
	free(*slot);
	*slot = tpg_xstrndup(s, n);
}

/* Records: a tag byte, a 32-bit big-endian length, that many bytes. */
bool tpg_git_result_decode(const char *data, size_t len, tpg_git_result *r)
{
	size_t i = 0;
	bool final = false;

	while (i + 5 <= len && !final) {
		const unsigned char *h = (const unsigned char *)data + i;
		size_t n = ((size_t)h[1] << 24) | ((size_t)h[2] << 16) | ((size_t)h[3] << 8) | h[4];
		if (n > len - i - 5)
			break;
		const char *v = data + i + 5;
		char *text = tpg_xstrndup(v, n);
		switch (h[0]) {
		case 'P': set_str(&r->phase, v, n); break;
		case 'C': set_str(&r->commit, v, n); break;
		case 'H': set_str(&r->tip, v, n); break;
		case 'D': set_str(&r->commit_date, v, n); break;
		case 'R': set_str(&r->ref, v, n); break;
		case 'T': r->commit_time = strtoll(text, NULL, 10); break;
		case 'A': r->commits_after_deadline = (int)strtol(text, NULL, 10); break;
		case 'S': r->has_submodules = text[0] == '1'; break;
		case 'N': tpg_strv_push(&r->notes, text); break;
		case 'K':
			r->code = 0;
			final = true;
			break;
		case 'E': {
			char *end = NULL;
			r->code = (int)strtol(text, &end, 10);
			if (end && *end == '\n')
				r->why = (tpg_git_failure)strtol(end + 1, &end, 10);
			set_str(&r->message, end && *end == '\n' ? end + 1 : "", SIZE_MAX);
			if (r->code >= 0)
				r->code = TPG_EGENERIC;
			final = true;
			break;
		}
		default: break;
		}
		free(text);
		i += 5 + n;
	}
	return final;
}

const char *tpg_git_failure_name(tpg_git_failure why)
{
	switch (why) {
	case TPG_GIT_OK: return "ok";
	case TPG_GIT_FAIL_INVALID: return "invalid request";
	case TPG_GIT_FAIL_NOT_FOUND: return "repository not found";
	case TPG_GIT_FAIL_EMPTY: return "empty repository";
	case TPG_GIT_FAIL_NO_REF: return "ref not found";
	case TPG_GIT_FAIL_NO_COMMIT: return "no commit before the deadline";
	case TPG_GIT_FAIL_AUTH: return "authentication refused";
	case TPG_GIT_FAIL_UNREACHABLE: return "host unreachable";
	case TPG_GIT_FAIL_TIMEOUT: return "timeout";
	case TPG_GIT_FAIL_TOO_BIG: return "repository too big";
	case TPG_GIT_FAIL_CANCELED: return "interrupted";
	default: return "error";
	}
}

static bool has(const char *msg, const char *needle)
{
	return strcasestr(msg, needle) != NULL;
}

/*
 * libgit2 1.5 reports most network failures as GIT_ERROR with a class and
 * a message, so the message decides (docs/git.md lists what we saw).
 */
int tpg_git_error_from_libgit2(int rc, const char *what, tpg_git_failure *why, tpg_err *err)
{
	const git_error *e = git_error_last();
	char *flat = tpg_sanitize_one_line(e && e->message ? e->message : "unknown libgit2 error", 0);
	char *m = tpg_git_printable(flat, 600);
	free(flat);
	int klass = e ? e->klass : GIT_ERROR_NONE;
	int code, ret;
	tpg_git_failure w;

	if (has(m, "hostkey") || has(m, "host key")) {
		ret = tpg_err_set(err, TPG_EUNAVAIL, "%s: the ssh host key is unknown or has "
			"changed (%s); add the host to ~/.ssh/known_hosts, e.g. with ssh-keyscan, "
			"after checking its fingerprint", what, m);
		if (why)
			*why = TPG_GIT_FAIL_UNREACHABLE;
		free(m);
		return ret;
	}
	if (rc == GIT_EAUTH || has(m, "status code: 401") || has(m, "status code: 403") ||
	    has(m, "authenticat") || has(m, "credentials") || has(m, "permission denied (publickey")) {
		code = TPG_EAUTH;
		w = TPG_GIT_FAIL_AUTH;
	} else if (rc == GIT_ECERTIFICATE || has(m, "certificate")) {
		code = TPG_EUNAVAIL;
		w = TPG_GIT_FAIL_UNREACHABLE;
	} else if (has(m, "timed out") || has(m, "timeout")) {
		code = TPG_ETIMEOUT;
		w = TPG_GIT_FAIL_TIMEOUT;
	} else if (has(m, "status code: 404") || has(m, "not exported") ||
		   has(m, "not found") || has(m, "does not exist") ||
		   has(m, "could not find repository") || has(m, "not a git repository") ||
		   has(m, "does not appear to be a git repository") ||
		   has(m, "failed to resolve path") || has(m, "no such file") ||
		   (rc == GIT_ENOTFOUND && klass != GIT_ERROR_NET)) {
		code = TPG_ENOTFOUND;
		w = TPG_GIT_FAIL_NOT_FOUND;
	} else if (has(m, "failed to connect") || has(m, "failed to resolve address") ||
		   has(m, "connection refused") || has(m, "unreachable") ||
		   has(m, "no route to host") || has(m, "name or service not known") ||
		   has(m, "connection reset") || has(m, "early eof") ||
		   has(m, "unexpected eof") || has(m, "status code: 5") ||
		   klass == GIT_ERROR_NET || klass == GIT_ERROR_SSH || klass == GIT_ERROR_HTTP) {
		code = TPG_EUNAVAIL;
		w = TPG_GIT_FAIL_UNREACHABLE;
	} else if (has(m, "file too large") || has(m, "no space left")) {
		code = TPG_ETOOBIG;
		w = TPG_GIT_FAIL_TOO_BIG;
	} else if (rc == GIT_EUSER) {
		code = TPG_ECANCELED;
		w = TPG_GIT_FAIL_CANCELED;
	} else {
		code = TPG_EGENERIC;
		w = TPG_GIT_FAIL_OTHER;
	}
	if (why)
		*why = w;
	if (code == TPG_ENOTFOUND)
		ret = tpg_err_set(err, code, "%s: repository not found (%s)", what, m);
	else
		ret = tpg_err_set(err, code, "%s: %s", what, m);
	free(m);
	return ret;
}

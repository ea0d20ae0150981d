/* regex.c - the PCRE2 wrapper. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tpgrade/regex.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* Enough for any sane pattern on a capped file; stops catastrophic
 * backtracking within a fraction of a second. */
#define MATCH_LIMIT 5000000u
#define DEPTH_LIMIT 100000u

struct tpg_regex {
	char *pattern;
	pcre2_code *code;
};

int tpg_regex_compile(const char *pattern, int flags, tpg_regex **out,
                      size_t *erroffset, tpg_err *err)
{
	uint32_t opts = PCRE2_MULTILINE | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_UCP;
	int errcode;
	PCRE2_SIZE off;

	*out = NULL;
	if (flags & TPG_REGEX_NOCASE)
		opts |= PCRE2_CASELESS;
	if (flags & TPG_REGEX_DOTALL)
		opts |= PCRE2_DOTALL;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts,
	                                 &errcode, &off, NULL);
	if (!code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		if (erroffset)
			*erroffset = off;
		return tpg_err_set(err, TPG_EINVAL, "%s at offset %zu", (char *)msg, (size_t)off);
	}
	tpg_regex *re = tpg_xcalloc(1, sizeof(*re));
	re->pattern = tpg_xstrdup(pattern);
	re->code = code;
	*out = re;
	return 0;
}

int tpg_regex_search(const tpg_regex *re, const char *subject, size_t len,
                     size_t *start, size_t *end)
{
	pcre2_match_context *mctx = pcre2_match_context_create(NULL);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
	int rc;

	pcre2_set_match_limit(mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(mctx, DEPTH_LIMIT);
	rc = pcre2_match(re->code, (PCRE2_SPTR)(subject ? subject : ""), subject ? len : 0, 0, 0,
	                 md, mctx);
	if (rc >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		if (start)
			*start = ov[0];
		if (end)
			*end = ov[1];
		rc = 1;
	} else if (rc == PCRE2_ERROR_NOMATCH) {
		rc = 0;
	} else {
		rc = TPG_ETOOBIG;
	}
	pcre2_match_data_free(md);
	pcre2_match_context_free(mctx);
	return rc;
}

const char *tpg_regex_pattern(const tpg_regex *re)
{
	return re->pattern;
}

void tpg_regex_free(tpg_regex *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	free(re->pattern);
	free(re);
}

/*
 * shellword.c - BuildKit's shell-word lexer (frontend/dockerfile/shell/lex.go)
 * re-implemented in C: same scanner (Go's text/scanner: runes, U+FFFD for
 * invalid UTF-8, a leading BOM skipped), same quote/escape rules, same `${}`
 * modifiers, same word splitting, same error messages.
 *
 * Two BuildKit details are kept on purpose because docker build shows them:
 *  - the words buffer is shared by nested scans, so a `${v:-w}` in the middle
 *    of a word drops what preceded it from ProcessWords' result (not from
 *    ProcessWord's);
 *  - `${v//p/r}` expands `$0`/`$$` in r as Go's Regexp.ReplaceAllString does.
 * Pattern matching emulates Go's RE2 leftmost-first semantics with a Pike VM
 * (linear time) instead of compiling a regexp.
 */
#include "tpgrade/shellword.h"
#include "tpgrade/dockerfile.h"
#include "tpgrade/sanitize.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SW_EOF (-1)
#define SW_WORK_BUDGET (64u * 1024u * 1024u)   /* bytes appended, all buffers */
#define SW_MATCH_BUDGET (10u * 1000u * 1000u)  /* Pike VM thread steps */

/* ---- Go-like scanner over a byte string --------------------------------- */

typedef struct sw_scanner {
	const char *s;
	size_t n;
	size_t pos;     /* next undecoded byte */
	int32_t ch;     /* peeked rune, -2 before the first Peek */
} sw_scanner;

static void scan_init(sw_scanner *sc, const char *s, size_t n)
{
	sc->s = s;
	sc->n = n;
	sc->pos = 0;
	sc->ch = -2;
}

static int32_t scan_raw(sw_scanner *sc)
{
	size_t w;
	int32_t r;

	if (sc->pos >= sc->n)
		return SW_EOF;
	r = tpg_go_decode_rune(sc->s + sc->pos, sc->n - sc->pos, &w);
	sc->pos += w;
	return r;
}

static int32_t scan_peek(sw_scanner *sc)
{
	if (sc->ch == -2) {
		sc->ch = scan_raw(sc);
		if (sc->ch == 0xFEFF)
			sc->ch = scan_raw(sc);  /* text/scanner ignores a leading BOM */
	}
	return sc->ch;
}

static int32_t scan_next(sw_scanner *sc)
{
	int32_t c = scan_peek(sc);
	if (c != SW_EOF)
		sc->ch = scan_raw(sc);
	return c;
}

/* ---- UTF-8 and Go helpers ---------------------------------------------- */

int32_t tpg_go_decode_rune(const char *s, size_t n, size_t *width)
{
	uint32_t cp;
	size_t w = n ? tpg_utf8_len(s, n, &cp) : 0;

	if (w == 0) {
		/* Go's utf8.DecodeRune: an invalid byte is one RuneError. */
		*width = n ? 1 : 0;
		return TPG_GO_RUNE_ERROR;
	}
	*width = w;
	return (int32_t)cp;
}

void tpg_go_append_rune(tpg_buf *b, int32_t r)
{
	char out[4];

	if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		r = TPG_GO_RUNE_ERROR;
	tpg_buf_append(b, out, tpg_utf8_encode((uint32_t)r, out));
}

char *tpg_go_to_lower_str(const char *s, size_t len)
{
	tpg_buf b = TPG_BUF_INIT;
	bool ascii = true;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80) {
			ascii = false;
			break;
		}
	if (ascii) {
		char *out = tpg_xmalloc(len + 1);
		for (size_t i = 0; i < len; i++)
			out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
		out[len] = '\0';
		return out;
	}
	tpg_buf_append(&b, "", 0);
	for (size_t i = 0; i < len;) {
		size_t w;
		int32_t r = tpg_go_decode_rune(s + i, len - i, &w);
		tpg_go_append_rune(&b, tpg_go_to_lower(r));
		i += w;
	}
	return tpg_buf_detach(&b);
}

bool tpg_go_space_at(const char *s, size_t n, size_t *width)
{
	int32_t r = tpg_go_decode_rune(s, n, width);
	return tpg_go_is_space(r);
}

/* ---- lexer state -------------------------------------------------------- */

typedef struct sw_env {
	const char *key;
	size_t klen;
	const char *val;
} sw_env;

typedef struct sw {
	sw_scanner sc;
	int32_t escape;
	bool raw_quotes;
	bool raw_escapes;
	bool skip_unset;
	bool skip_quotes;
	sw_env *env;
	size_t nenv;
	tpg_buf wbuf;          /* BuildKit's shared wordsBuffer */
	tpg_strv *unmatched;
	int depth;
	bool limit_hit;        /* one of our caps, not a BuildKit error */
	size_t work;           /* bytes appended so far */
	size_t match_steps;
	int err_code;
	char *err_msg;         /* malloc'ed, the inner message */
} sw;

static int sw_fail(sw *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int sw_fail(sw *s, int code, const char *fmt, ...)
{
	va_list ap;

	if (s->err_code)
		return s->err_code;
	va_start(ap, fmt);
	s->err_msg = tpg_xvasprintf(fmt, ap);
	va_end(ap);
	s->err_code = code;
	return code;
}

static int too_big(sw *s)
{
	s->limit_hit = true;
	return sw_fail(s, TPG_ETOOBIG, "expansion exceeds %u bytes", TPG_SHELL_MAX_OUTPUT);
}

/* Appends with the size caps; returns nonzero once over a cap. */
static int out_append(sw *s, tpg_buf *b, const char *p, size_t n)
{
	if (s->err_code)
		return s->err_code;
	if (b->len + n > TPG_SHELL_MAX_OUTPUT || s->work + n > SW_WORK_BUDGET)
		return too_big(s);
	s->work += n;
	tpg_buf_append(b, p, n);
	return 0;
}

static int out_rune(sw *s, tpg_buf *b, int32_t r)
{
	tpg_buf tmp = TPG_BUF_INIT;
	int rc;

	if (r >= 0 && r < 0x80) {
		char c = (char)r;
		return out_append(s, b, &c, 1);
	}
	tpg_go_append_rune(&tmp, r);
	rc = out_append(s, b, tmp.data, tmp.len);
	tpg_buf_free(&tmp);
	return rc;
}

/* A rune as Go's string(rune) prints it (EOF and invalid give U+FFFD). */
static void rune_str(int32_t r, char out[5])
{
	tpg_buf b = TPG_BUF_INIT;
	tpg_go_append_rune(&b, r);
	memcpy(out, b.data, b.len);
	out[b.len] = '\0';
	tpg_buf_free(&b);
}

static bool env_get(sw *s, const char *name, size_t nlen, const char **val)
{
	for (size_t i = s->nenv; i-- > 0;) {
		if (s->env[i].klen == nlen && memcmp(s->env[i].key, name, nlen) == 0) {
			*val = s->env[i].val;
			return true;
		}
	}
	*val = "";
	if (s->unmatched && !tpg_strv_contains(s->unmatched, name))
		tpg_strv_push(s->unmatched, name);
	return false;
}

/* ---- words -------------------------------------------------------------- */

typedef struct sw_words {
	tpg_buf *buf;
	tpg_strv words;
	bool in_word;
} sw_words;

static int words_raw_char(sw *s, sw_words *w, int32_t ch)
{
	w->in_word = true;
	return out_rune(s, w->buf, ch);
}

static int words_char(sw *s, sw_words *w, int32_t ch)
{
	bool space = tpg_go_is_space(ch);

	if (space && w->in_word) {
		if (w->buf->len != 0) {
			tpg_strv_push(&w->words, tpg_buf_cstr(w->buf));
			tpg_buf_clear(w->buf);
			w->in_word = false;
		}
		return 0;
	}
	if (!space)
		return words_raw_char(s, w, ch);
	return 0;
}

static int words_string(sw *s, sw_words *w, const char *str, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t wd;
		int32_t r = tpg_go_decode_rune(str + i, n - i, &wd);
		int rc = words_char(s, w, r);
		if (rc)
			return rc;
		i += wd;
	}
	return 0;
}

static int words_raw_string(sw *s, sw_words *w, const char *str, size_t n)
{
	w->in_word = true;
	return out_append(s, w->buf, str, n);
}

static void words_finish(sw_words *w)
{
	if (w->buf->len > 0) {
		tpg_strv_push(&w->words, tpg_buf_cstr(w->buf));
		tpg_buf_clear(w->buf);
		w->in_word = false;
	}
}

/* ---- patterns (convertShellPatternToRegex + RE2 leftmost-first) ---------- */

enum { TOK_LIT, TOK_ANY, TOK_STAR };

typedef struct pat_tok {
	int kind;
	int32_t r;
} pat_tok;

typedef struct pattern {
	pat_tok *t;
	size_t n;
	bool greedy;
	bool anchored;
} pattern;

/* Returns 0, or sets *bad to the rune after a bad `\` (EOF as -1). */
static int pattern_compile(const char *p, size_t plen, bool greedy, bool anchored,
			   pattern *out, int32_t *bad)
{
	sw_scanner sc;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	out->greedy = greedy;
	out->anchored = anchored;
	scan_init(&sc, p, plen);
	for (int32_t tok = scan_next(&sc); tok != SW_EOF; tok = scan_next(&sc)) {
		pat_tok t = {TOK_LIT, tok};
		if (tok == '*') {
			t.kind = TOK_STAR;
		} else if (tok == '?') {
			t.kind = TOK_ANY;
		} else if (tok == '\\') {
			int32_t nx = scan_peek(&sc);
			if (nx == '}' || nx == '/')
				continue;
			tok = scan_next(&sc);
			if (tok != '*' && tok != '?' && tok != '\\') {
				free(out->t);
				out->t = NULL;
				*bad = tok;
				return -1;
			}
			t.r = tok;
		}
		TPG_ARRAY_GROW(out->t, out->n, cap);
		out->t[out->n++] = t;
	}
	return 0;
}

/*
 * NFA nodes: i in [0,n) is token i (for a star, its split), n is the match,
 * n+1+i is the consuming half of star i.
 */
typedef struct pike_thread {
	size_t node;
	size_t start;
} pike_thread;

typedef struct pike {
	const pattern *p;
	size_t nnodes;
	unsigned *mark;      /* generation per node */
	unsigned gen;
	pike_thread *cur, *nxt;
	size_t ncur, nnxt;
	size_t *stack;
} pike;

static void pike_add(pike *vm, pike_thread *list, size_t *nlist, size_t node, size_t start)
{
	/* Explicit stack: epsilon closure through a run of stars. */
	size_t sp = 0;

	vm->stack[sp++] = node;
	while (sp > 0) {
		size_t nd = vm->stack[--sp];
		if (vm->mark[nd] == vm->gen)
			continue;
		vm->mark[nd] = vm->gen;
		if (nd < vm->p->n && vm->p->t[nd].kind == TOK_STAR) {
			size_t consume = vm->p->n + 1 + nd;
			/* push in reverse priority order */
			if (vm->p->greedy) {
				vm->stack[sp++] = nd + 1;
				vm->stack[sp++] = consume;
			} else {
				vm->stack[sp++] = consume;
				vm->stack[sp++] = nd + 1;
			}
			continue;
		}
		list[(*nlist)++] = (pike_thread){nd, start};
	}
}

/* Leftmost-first match of p in s[0..n) starting the search at `from`.
 * Returns 1 and the match bounds, 0 when none, -1 when over budget. */
static int pike_find(sw *s, const pattern *p, const char *str, size_t n, size_t from,
		     size_t *ms, size_t *me)
{
	pike vm;
	int found = 0;
	size_t pos = from;

	if (p->anchored && from > 0)
		return 0;
	memset(&vm, 0, sizeof(vm));
	vm.p = p;
	vm.nnodes = 2 * p->n + 2;
	vm.mark = tpg_xcalloc(vm.nnodes, sizeof(unsigned));
	vm.cur = tpg_xcalloc(vm.nnodes + 1, sizeof(pike_thread));
	vm.nxt = tpg_xcalloc(vm.nnodes + 1, sizeof(pike_thread));
	vm.stack = tpg_xcalloc(2 * vm.nnodes + 2, sizeof(size_t));
	vm.gen = 1;
	for (;;) {
		size_t w = 0;
		int32_t r = SW_EOF;

		if (!found && (!p->anchored || pos == 0))
			pike_add(&vm, vm.cur, &vm.ncur, 0, pos);  /* lowest priority */
		if (vm.ncur == 0)
			break;
		if (pos < n)
			r = tpg_go_decode_rune(str + pos, n - pos, &w);
		vm.gen++;
		vm.nnxt = 0;
		for (size_t i = 0; i < vm.ncur; i++) {
			pike_thread t = vm.cur[i];
			if (++s->match_steps > SW_MATCH_BUDGET) {
				found = -1;
				goto out;
			}
			if (t.node == p->n) {
				found = 1;
				*ms = t.start;
				*me = pos;
				break;  /* lower-priority threads lose */
			}
			if (r == SW_EOF)
				continue;
			if (t.node > p->n) {               /* star consumes */
				if (r != '\n')
					pike_add(&vm, vm.nxt, &vm.nnxt, t.node - p->n - 1, t.start);
				continue;
			}
			if (p->t[t.node].kind == TOK_ANY ? r != '\n' : p->t[t.node].r == r)
				pike_add(&vm, vm.nxt, &vm.nnxt, t.node + 1, t.start);
		}
		if (pos >= n) {
			vm.ncur = 0;
			break;
		}
		pos += w;
		pike_thread *tmp = vm.cur;
		vm.cur = vm.nxt;
		vm.nxt = tmp;
		vm.ncur = vm.nnxt;
		vm.gen++;
		/* the threads carried over were added under the previous gen */
	}
out:
	free(vm.mark);
	free(vm.cur);
	free(vm.nxt);
	free(vm.stack);
	return found;
}

static void runes_of(const char *s, size_t n, int32_t **out, size_t *nout)
{
	int32_t *r = tpg_xcalloc(n + 1, sizeof(int32_t));
	size_t k = 0;

	for (size_t i = 0; i < n;) {
		size_t w;
		r[k++] = tpg_go_decode_rune(s + i, n - i, &w);
		i += w;
	}
	*out = r;
	*nout = k;
}

static void runes_to_buf(tpg_buf *b, const int32_t *r, size_t n)
{
	tpg_buf_append(b, "", 0);
	for (size_t i = 0; i < n; i++)
		tpg_go_append_rune(b, r[i]);
}

static int bad_pattern(sw *s, const char *p, int32_t bad)
{
	char rs[5];
	rune_str(bad, rs);
	return sw_fail(s, TPG_EPARSE, "invalid pattern (%s) in substitution: invalid escape '\\%s'",
		       p, rs);
}

/* ${v#p} / ${v##p}: value after the shortest/longest anchored match. */
static int trim_prefix(sw *s, const char *pat, size_t plen, const char *val, size_t vlen,
		       bool greedy, tpg_buf *out)
{
	pattern p;
	int32_t bad;
	size_t ms = 0, me = 0;
	int rc;

	if (pattern_compile(pat, plen, greedy, true, &p, &bad) != 0) {
		char *ps = tpg_xstrndup(pat, plen);
		rc = bad_pattern(s, ps, bad);
		free(ps);
		return rc;
	}
	rc = pike_find(s, &p, val, vlen, 0, &ms, &me);
	free(p.t);
	if (rc < 0)
		return sw_fail(s, TPG_ETOOBIG, "pattern matching exceeds its work budget");
	if (rc == 1)
		return out_append(s, out, val + me, vlen - me);
	return out_append(s, out, val, vlen);
}

/* reversePattern: reverses runes but keeps `\x` pairs in order. */
static void reverse_pattern(const char *p, size_t n, tpg_buf *out)
{
	int32_t *r, *o;
	size_t k;

	runes_of(p, n, &r, &k);
	o = tpg_xcalloc(k + 1, sizeof(int32_t));
	for (size_t i = 0; i < k;) {
		size_t oi = k - 1 - i;
		if (r[i] == '\\' && i != k - 1) {
			o[oi - 1] = r[i];
			o[oi] = r[i + 1];
			i += 2;
		} else {
			o[oi] = r[i];
			i++;
		}
	}
	runes_to_buf(out, o, k);
	free(r);
	free(o);
}

static void reverse_string(const char *p, size_t n, tpg_buf *out)
{
	int32_t *r;
	size_t k;

	runes_of(p, n, &r, &k);
	for (size_t i = 0; i < k / 2; i++) {
		int32_t t = r[i];
		r[i] = r[k - 1 - i];
		r[k - 1 - i] = t;
	}
	runes_to_buf(out, r, k);
	free(r);
}

static int trim_suffix(sw *s, const char *pat, size_t plen, const char *val, size_t vlen,
		       bool greedy, tpg_buf *out)
{
	tpg_buf rp = TPG_BUF_INIT, rv = TPG_BUF_INIT, t = TPG_BUF_INIT, back = TPG_BUF_INIT;
	int rc;

	reverse_pattern(pat, plen, &rp);
	reverse_string(val, vlen, &rv);
	rc = trim_prefix(s, rp.data, rp.len, rv.data, rv.len, greedy, &t);
	if (rc == 0) {
		tpg_buf_append(&t, "", 0);
		reverse_string(t.data, t.len, &back);
		rc = out_append(s, out, back.data, back.len);
	}
	tpg_buf_free(&rp);
	tpg_buf_free(&rv);
	tpg_buf_free(&t);
	tpg_buf_free(&back);
	return rc;
}

/* Go's regexp.extract for `$name` / `${name}` in a replacement template. */
static bool tmpl_extract(const char *str, size_t n, size_t *consumed, long *num)
{
	size_t i = 0, off = 0;
	bool brace = false;

	if (n == 0)
		return false;
	if (str[0] == '{') {
		brace = true;
		off = 1;
	}
	while (off + i < n) {
		size_t w;
		int32_t r = tpg_go_decode_rune(str + off + i, n - off - i, &w);
		if (!tpg_go_is_letter(r) && !tpg_go_is_digit(r) && r != '_')
			break;
		i += w;
	}
	if (i == 0)
		return false;
	const char *name = str + off;
	size_t nlen = i;
	if (brace) {
		if (off + i >= n || str[off + i] != '}')
			return false;
		i++;
	}
	*num = 0;
	for (size_t k = 0; k < nlen; k++) {
		if (name[k] < '0' || name[k] > '9' || *num >= 100000000L) {
			*num = -1;
			break;
		}
		*num = *num * 10 + (name[k] - '0');
	}
	if (name[0] == '0' && nlen > 1)
		*num = -1;
	*consumed = off + i;
	return true;
}

static int tmpl_expand(sw *s, tpg_buf *out, const char *t, size_t tn, const char *src,
		       size_t ms, size_t me)
{
	while (tn > 0) {
		const char *d = memchr(t, '$', tn);
		size_t used;
		long num;
		int rc;

		if (!d)
			break;
		if ((rc = out_append(s, out, t, (size_t)(d - t))))
			return rc;
		tn -= (size_t)(d - t) + 1;
		t = d + 1;
		if (tn > 0 && t[0] == '$') {
			if ((rc = out_append(s, out, "$", 1)))
				return rc;
			t++;
			tn--;
			continue;
		}
		if (!tmpl_extract(t, tn, &used, &num)) {
			if ((rc = out_append(s, out, "$", 1)))
				return rc;
			continue;
		}
		t += used;
		tn -= used;
		if (num == 0 && (rc = out_append(s, out, src + ms, me - ms)))
			return rc;
	}
	return out_append(s, out, t, tn);
}

static int replace(sw *s, const char *pat, size_t plen, const char *rep, size_t rlen,
		   const char *val, size_t vlen, bool all, tpg_buf *out)
{
	pattern p;
	int32_t bad;
	size_t ms, me;
	int rc = 0, f;

	if (pattern_compile(pat, plen, true, false, &p, &bad) != 0) {
		char *ps = tpg_xstrndup(pat, plen);
		rc = bad_pattern(s, ps, bad);
		free(ps);
		return rc;
	}
	if (!all) {
		f = pike_find(s, &p, val, vlen, 0, &ms, &me);
		if (f == 1) {
			if (!(rc = out_append(s, out, val, ms)) &&
			    !(rc = out_append(s, out, rep, rlen)))
				rc = out_append(s, out, val + me, vlen - me);
		} else if (f == 0) {
			rc = out_append(s, out, val, vlen);
		}
	} else {
		/* Regexp.ReplaceAllString's loop. */
		size_t last = 0, search = 0;
		f = 0;
		while (search <= vlen) {
			size_t w = 0;
			f = pike_find(s, &p, val, vlen, search, &ms, &me);
			if (f != 1)
				break;
			if ((rc = out_append(s, out, val + last, ms - last)))
				break;
			if (me > last || ms == 0)
				if ((rc = tmpl_expand(s, out, rep, rlen, val, ms, me)))
					break;
			last = me;
			if (search < vlen)
				tpg_go_decode_rune(val + search, vlen - search, &w);
			if (search + w > me)
				search += w;
			else if (search + 1 > me)
				search++;
			else
				search = me;
		}
		if (!rc && f >= 0)
			rc = out_append(s, out, val + last, vlen - last);
	}
	free(p.t);
	if (!rc && f < 0)
		return sw_fail(s, TPG_ETOOBIG, "pattern matching exceeds its work budget");
	return rc;
}

/* ---- the lexer ---------------------------------------------------------- */

static int process_stop_on(sw *s, int32_t stop, bool raw_escapes, tpg_buf *result,
			   tpg_strv *words_out);
static int process_dollar(sw *s, tpg_buf *out);

static bool is_special_param(int32_t c)
{
	switch (c) {
	case '@': case '*': case '#': case '?': case '-': case '$': case '!': case '0':
		return true;
	default:
		return false;
	}
}

static void process_name(sw *s, tpg_buf *name)
{
	tpg_buf_append(name, "", 0);
	while (scan_peek(&s->sc) != SW_EOF) {
		int32_t ch = scan_peek(&s->sc);
		if (name->len == 0 && tpg_go_is_digit(ch)) {
			while (scan_peek(&s->sc) != SW_EOF && tpg_go_is_digit(scan_peek(&s->sc)))
				tpg_go_append_rune(name, scan_next(&s->sc));
			return;
		}
		if (name->len == 0 && is_special_param(ch)) {
			tpg_go_append_rune(name, scan_next(&s->sc));
			return;
		}
		if (!tpg_go_is_letter(ch) && !tpg_go_is_digit(ch) && ch != '_')
			break;
		tpg_go_append_rune(name, scan_next(&s->sc));
	}
}

static int process_single_quote(sw *s, tpg_buf *out)
{
	int32_t ch = scan_next(&s->sc);
	int rc;

	if (s->raw_quotes && (rc = out_rune(s, out, ch)))
		return rc;
	for (;;) {
		ch = scan_next(&s->sc);
		if (ch == SW_EOF)
			return sw_fail(s, TPG_EPARSE,
				       "unexpected end of statement while looking for matching single-quote");
		if (ch == '\'') {
			if (s->raw_quotes)
				return out_rune(s, out, ch);
			return 0;
		}
		if ((rc = out_rune(s, out, ch)))
			return rc;
	}
}

static int process_double_quote(sw *s, tpg_buf *out)
{
	int32_t ch = scan_next(&s->sc);
	int rc;

	if (s->raw_quotes && (rc = out_rune(s, out, ch)))
		return rc;
	for (;;) {
		int32_t pk = scan_peek(&s->sc);
		if (pk == SW_EOF)
			return sw_fail(s, TPG_EPARSE,
				       "unexpected end of statement while looking for matching double-quote");
		if (pk == '"') {
			ch = scan_next(&s->sc);
			if (s->raw_quotes)
				return out_rune(s, out, ch);
			return 0;
		}
		if (pk == '$') {
			tpg_buf v = TPG_BUF_INIT;
			rc = process_dollar(s, &v);
			if (!rc)
				rc = out_append(s, out, v.data ? v.data : "", v.len);
			tpg_buf_free(&v);
			if (rc)
				return rc;
			continue;
		}
		ch = scan_next(&s->sc);
		if (ch == s->escape) {
			if (s->raw_escapes && (rc = out_rune(s, out, ch)))
				return rc;
			pk = scan_peek(&s->sc);
			if (pk == SW_EOF)
				continue;
			if (pk == '"' || pk == '$' || pk == s->escape)
				ch = scan_next(&s->sc);
		}
		if ((rc = out_rune(s, out, ch)))
			return rc;
	}
}

static int process_possible_heredoc(sw *s, tpg_buf *out)
{
	int rc;

	scan_next(&s->sc);
	if (scan_peek(&s->sc) != '<')
		return out_append(s, out, "<", 1);
	scan_next(&s->sc);
	if ((rc = out_append(s, out, "<<", 2)))
		return rc;
	for (int32_t c = scan_peek(&s->sc); c == ' ' || c == '\t' || c == '\r';
	     c = scan_peek(&s->sc)) {
		if ((rc = out_rune(s, out, c)))
			return rc;
		scan_next(&s->sc);
	}
	return 0;
}

/* The text of `${name<chs>word}` that SkipUnsetEnv leaves in place. */
static int keep_ref(sw *s, tpg_buf *out, const char *name, const char *mid, const tpg_buf *word,
		    const char *mid2, const tpg_buf *word2)
{
	int rc;

	if ((rc = out_append(s, out, "${", 2)) ||
	    (rc = out_append(s, out, name, strlen(name))) ||
	    (rc = out_append(s, out, mid, strlen(mid))))
		return rc;
	if (word && (rc = out_append(s, out, word->data ? word->data : "", word->len)))
		return rc;
	if (mid2 && (rc = out_append(s, out, mid2, strlen(mid2))))
		return rc;
	if (word2 && (rc = out_append(s, out, word2->data ? word2->data : "", word2->len)))
		return rc;
	return out_append(s, out, "}", 1);
}

static int nested(sw *s, int32_t stop, bool raw_escapes, tpg_buf *out)
{
	int rc;

	if (s->depth >= TPG_SHELL_MAX_DEPTH) {
		s->limit_hit = true;
		return sw_fail(s, TPG_EPARSE, "substitutions nested deeper than %d", TPG_SHELL_MAX_DEPTH);
	}
	s->depth++;
	rc = process_stop_on(s, stop, raw_escapes, out, NULL);
	s->depth--;
	return rc;
}

/* processStopOn for a modifier word: BuildKit turns "ran out of input" into
 * a missing-brace message. */
static int modifier_word(sw *s, int32_t stop, bool raw, tpg_buf *word, const char *eof_msg)
{
	int rc = nested(s, stop, raw, word);

	/* BuildKit reports any failure that ran out of input as a missing
	 * delimiter; our own limits keep their message. */
	if (rc == TPG_EPARSE && !s->limit_hit && scan_peek(&s->sc) == SW_EOF) {
		free(s->err_msg);
		s->err_msg = tpg_xstrdup(eof_msg);
	}
	tpg_buf_append(word, "", 0);
	return rc;
}

static int process_dollar(sw *s, tpg_buf *out)
{
	tpg_buf name = TPG_BUF_INIT;
	const char *val;
	bool set;
	int32_t ch;
	char chs[16];
	bool null_is_unset = false;
	int rc = 0;

	tpg_buf_append(out, "", 0);
	scan_next(&s->sc);
	if (scan_peek(&s->sc) != '{') {
		process_name(s, &name);
		if (name.len == 0) {
			rc = out_append(s, out, "$", 1);
		} else {
			set = env_get(s, name.data, name.len, &val);
			if (!set && s->skip_unset) {
				if (!(rc = out_append(s, out, "$", 1)))
					rc = out_append(s, out, name.data, name.len);
			} else {
				rc = out_append(s, out, val, strlen(val));
			}
		}
		tpg_buf_free(&name);
		return rc;
	}
	scan_next(&s->sc);
	ch = scan_peek(&s->sc);
	if (ch == SW_EOF)
		return sw_fail(s, TPG_EPARSE, "syntax error: missing '}'");
	if (ch == '{' || ch == '}' || ch == ':')
		return sw_fail(s, TPG_EPARSE, "syntax error: bad substitution");
	process_name(s, &name);
	ch = scan_next(&s->sc);
	rune_str(ch, chs);

	switch (ch) {
	case '}':
		set = env_get(s, name.data, name.len, &val);
		if (!set && s->skip_unset)
			rc = keep_ref(s, out, name.data, "", NULL, NULL, NULL);
		else
			rc = out_append(s, out, val, strlen(val));
		break;
	case ':': {
		null_is_unset = true;
		ch = scan_next(&s->sc);
		size_t l = strlen(chs);
		rune_str(ch, chs + l);
	}
		/* fall through */
	case '+':
	case '-':
	case '?':
	case '#':
	case '%': {
		bool raw = ch == '#' || ch == '%';
		tpg_buf word = TPG_BUF_INIT;
		if (null_is_unset && raw) {
			rc = sw_fail(s, TPG_EPARSE, "unsupported modifier (%s) in substitution", chs);
			break;
		}
		rc = modifier_word(s, '}', raw, &word, "syntax error: missing '}'");
		if (rc) {
			tpg_buf_free(&word);
			break;
		}
		set = env_get(s, name.data, name.len, &val);
		if (s->skip_unset && !set) {
			rc = keep_ref(s, out, name.data, chs, &word, NULL, NULL);
			tpg_buf_free(&word);
			break;
		}
		switch (ch) {
		case '-':
			if (!set || (null_is_unset && val[0] == '\0'))
				rc = out_append(s, out, word.data, word.len);
			else
				rc = out_append(s, out, val, strlen(val));
			break;
		case '+':
			if (set && !(null_is_unset && val[0] == '\0'))
				rc = out_append(s, out, word.data, word.len);
			break;
		case '?':
			if (!set)
				rc = sw_fail(s, TPG_EPARSE, "%s: %s", name.data,
					     word.len ? word.data : "is not allowed to be unset");
			else if (null_is_unset && val[0] == '\0')
				rc = sw_fail(s, TPG_EPARSE, "%s: %s", name.data,
					     word.len ? word.data : "is not allowed to be empty");
			else
				rc = out_append(s, out, val, strlen(val));
			break;
		case '%':
		case '#': {
			const char *p = word.data;
			size_t plen = word.len;
			bool greedy = false;
			if (plen > 0 && (unsigned char)p[0] == (unsigned)ch) {
				greedy = true;
				p++;
				plen--;
			}
			if (ch == '%')
				rc = trim_suffix(s, p, plen, val, strlen(val), greedy, out);
			else
				rc = trim_prefix(s, p, plen, val, strlen(val), greedy, out);
			break;
		}
		default:
			rc = sw_fail(s, TPG_EPARSE, "unsupported modifier (%s) in substitution", chs);
		}
		tpg_buf_free(&word);
		break;
	}
	case '/': {
		tpg_buf pat = TPG_BUF_INIT, rep = TPG_BUF_INIT;
		bool all = scan_peek(&s->sc) == '/';
		if (all)
			scan_next(&s->sc);
		rc = modifier_word(s, '/', true, &pat, "syntax error: missing '/' in ${}");
		if (!rc)
			rc = modifier_word(s, '}', true, &rep, "syntax error: missing '}'");
		if (!rc) {
			set = env_get(s, name.data, name.len, &val);
			if (s->skip_unset && !set)
				rc = keep_ref(s, out, name.data, "/", &pat, "/", &rep);
			else
				rc = replace(s, pat.data, pat.len, rep.data, rep.len, val, strlen(val),
					     all, out);
		}
		tpg_buf_free(&pat);
		tpg_buf_free(&rep);
		break;
	}
	default:
		rc = sw_fail(s, TPG_EPARSE, "unsupported modifier (%s) in substitution", chs);
	}
	tpg_buf_free(&name);
	return rc;
}

static int process_stop_on(sw *s, int32_t stop, bool raw_escapes, tpg_buf *result,
			   tpg_strv *words_out)
{
	sw_words w = {&s->wbuf, TPG_STRV_INIT, false};
	bool saved = s->raw_escapes;
	int rc = 0;

	tpg_buf_clear(&s->wbuf);
	tpg_buf_append(result, "", 0);
	s->raw_escapes = raw_escapes;
	for (;;) {
		int32_t ch = scan_peek(&s->sc);
		if (ch == SW_EOF)
			break;
		if (stop != SW_EOF && ch == stop) {
			scan_next(&s->sc);
			words_finish(&w);
			goto out;
		}
		if (ch == '$' || ch == '<' ||
		    (!s->skip_quotes && (ch == '\'' || ch == '"'))) {
			tpg_buf tmp = TPG_BUF_INIT;
			if (ch == '$')
				rc = process_dollar(s, &tmp);
			else if (ch == '<')
				rc = process_possible_heredoc(s, &tmp);
			else if (ch == '\'')
				rc = process_single_quote(s, &tmp);
			else
				rc = process_double_quote(s, &tmp);
			tpg_buf_append(&tmp, "", 0);
			if (!rc)
				rc = out_append(s, result, tmp.data, tmp.len);
			if (!rc)
				rc = ch == '$' ? words_string(s, &w, tmp.data, tmp.len)
					       : words_raw_string(s, &w, tmp.data, tmp.len);
			tpg_buf_free(&tmp);
			if (rc)
				goto out;
			continue;
		}
		ch = scan_next(&s->sc);
		if (ch == s->escape) {
			if (s->raw_escapes) {
				if ((rc = words_raw_char(s, &w, ch)) || (rc = out_rune(s, result, ch)))
					goto out;
			}
			ch = scan_next(&s->sc);
			if (ch == SW_EOF)
				break;
			rc = words_raw_char(s, &w, ch);
		} else {
			rc = words_char(s, &w, ch);
		}
		if (rc || (rc = out_rune(s, result, ch)))
			goto out;
	}
	if (stop != SW_EOF) {
		char rs[5];
		rune_str(stop, rs);
		rc = sw_fail(s, TPG_EPARSE,
			     "unexpected end of statement while looking for matching %s", rs);
		goto out;
	}
	words_finish(&w);
out:
	s->raw_escapes = saved;
	if (!rc && words_out) {
		for (size_t i = 0; i < w.words.len; i++)
			tpg_strv_push(words_out, w.words.items[i]);
	}
	tpg_strv_free(&w.words);
	return rc;
}

int tpg_shell_process(const char *word, const tpg_shell_opts *opts, const tpg_strv *env,
		      char **result, tpg_strv *words, tpg_strv *unmatched, tpg_err *err)
{
	static const tpg_shell_opts defaults = {0};
	sw s;
	tpg_buf res = TPG_BUF_INIT;
	tpg_strv ws = TPG_STRV_INIT;
	int rc;

	if (result)
		*result = NULL;
	if (!word)
		word = "";
	if (!opts)
		opts = &defaults;
	memset(&s, 0, sizeof(s));
	scan_init(&s.sc, word, strlen(word));
	s.escape = opts->escape ? (unsigned char)opts->escape : '\\';
	s.raw_quotes = opts->raw_quotes;
	s.raw_escapes = opts->raw_escapes;
	s.skip_unset = opts->skip_unset_env;
	s.skip_quotes = opts->skip_quotes;
	s.unmatched = unmatched;
	if (env && env->len) {
		s.env = tpg_xcalloc(env->len, sizeof(sw_env));
		for (size_t i = 0; i < env->len; i++) {
			const char *e = env->items[i];
			const char *eq = strchr(e, '=');
			s.env[s.nenv].key = e;
			s.env[s.nenv].klen = eq ? (size_t)(eq - e) : strlen(e);
			s.env[s.nenv].val = eq ? eq + 1 : "";
			s.nenv++;
		}
	}
	rc = process_stop_on(&s, SW_EOF, s.raw_escapes, &res, &ws);
	if (rc) {
		tpg_buf q = TPG_BUF_INIT;
		tpg_buf_init_capped(&q, 512, false);
		tpg_go_quote(word, strlen(word), &q);
		tpg_err_set(err, s.err_code ? s.err_code : rc, "failed to process %s%s: %s",
			    tpg_buf_cstr(&q), q.truncated ? "..." : "",
			    s.err_msg ? s.err_msg : "error");
		tpg_buf_free(&q);
		tpg_buf_free(&res);
		tpg_strv_free(&ws);
	} else {
		if (result)
			*result = tpg_buf_detach(&res);
		if (words)
			for (size_t i = 0; i < ws.len; i++)
				tpg_strv_push(words, ws.items[i]);
		tpg_buf_free(&res);
		tpg_strv_free(&ws);
	}
	free(s.err_msg);
	free(s.env);
	tpg_buf_free(&s.wbuf);
	return rc ? (s.err_code ? s.err_code : rc) : 0;
}

int tpg_shell_expand_word(const char *word, char escape, const tpg_strv *env, char **out,
			  tpg_err *err)
{
	tpg_shell_opts o = {0};
	o.escape = escape;
	return tpg_shell_process(word, &o, env, out, NULL, NULL, err);
}

int tpg_shell_expand_words(const char *line, char escape, const tpg_strv *env, tpg_strv *out,
			   tpg_err *err)
{
	tpg_shell_opts o = {0};
	o.escape = escape;
	return tpg_shell_process(line, &o, env, NULL, out, NULL, err);
}

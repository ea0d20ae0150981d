/*
 * sanitize.h - make untrusted bytes (student files, container output, build
 * logs) safe for one destination: valid UTF-8 for JSON, harmless text for a
 * terminal, well-formed XML 1.0 character data, and cuts that never split a
 * UTF-8 sequence.
 *
 * Every function takes a pointer and a length, so input may hold NULs and
 * anything else; a NULL pointer is treated as empty. The *_buf variants
 * append to a tpg_buf (which may be capped); the others return a malloc'ed
 * NUL-terminated string owned by the caller (NULL in, NULL out).
 */
#ifndef TPGRADE_SANITIZE_H
#define TPGRADE_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tpgrade/buf.h"

#define TPG_SANITIZE_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/*
 * Decodes one code point at s[0..len) (len > 0). Returns the number of bytes
 * consumed (>= 1). An invalid sequence (stray continuation byte, overlong
 * form, surrogate, > U+10FFFF, truncated sequence) yields U+FFFD and
 * consumes its maximal valid prefix, as Unicode recommends, so decoding
 * always makes progress and resynchronises on the next lead byte.
 */
size_t tpg_sanitize_decode(const char *s, size_t len, uint32_t *cp);
/* Length (1-4) of the valid UTF-8 sequence at s[0..len) (len > 0), with its
 * code point in *cp (may be NULL); 0 when s does not start a valid one. The
 * one UTF-8 validator of the project: everything else builds on it. */
size_t tpg_utf8_len(const char *s, size_t len, uint32_t *cp);

/* Writes the UTF-8 form of cp (at most U+10FFFF, not a surrogate) into out;
 * returns its length (1-4). The one UTF-8 encoder of the project. */
size_t tpg_utf8_encode(uint32_t cp, char out[4]);

/* C1 controls and the bidirectional formatting characters (U+061C,
 * U+200E/F, U+202A-E, U+2066-9): code points that can make text read
 * differently from what it is, shown as "<U+202E>" or escaped by callers. */
bool tpg_sanitize_is_invisible(uint32_t cp);

/* True when s[0..len) is valid UTF-8 without NUL bytes. */
bool tpg_sanitize_is_utf8(const char *s, size_t len);

/*
 * Valid UTF-8: every invalid sequence becomes U+FFFD. NUL bytes become
 * U+FFFD as well, since the result is a C string.
 */
void tpg_sanitize_utf8_buf(tpg_buf *out, const char *s, size_t len);
char *tpg_sanitize_utf8(const char *s, size_t len);

/*
 * For a terminal: valid UTF-8 in which nothing can move the cursor, change
 * colours, set the window title or reorder text. Kept: '\n', '\t', and
 * "\r\n" (as "\n"). Shown as visible text instead: other C0 controls in
 * caret notation (ESC is "^[", a lone CR "^M"), DEL as "^?", C1 controls
 * and bidirectional formatting characters as "<U+009B>", "<U+202E>".
 */
void tpg_sanitize_term_buf(tpg_buf *out, const char *s, size_t len);
char *tpg_sanitize_term(const char *s, size_t len);

/*
 * XML 1.0 character data, escaped: '&' '<' '>' become entities; characters
 * XML 1.0 forbids (C0 controls other than TAB, LF, CR; U+FFFE, U+FFFF) are
 * dropped, and so are whole ANSI escape sequences (colours in build logs)
 * so they do not leave "[31m" behind. CR is written "&#13;" so parsers keep
 * it. With `attr`, '"' and '\'' are escaped too and TAB/LF as "&#9;"
 * "&#10;" so attribute-value normalisation does not turn them into spaces.
 * Invalid UTF-8 becomes U+FFFD.
 */
void tpg_sanitize_xml_buf(tpg_buf *out, const char *s, size_t len, bool attr);
char *tpg_sanitize_xml(const char *s, size_t len, bool attr);

/*
 * Largest n <= max such that s[0..n) does not end inside a UTF-8 sequence
 * (cuts before a continuation byte are moved back to its lead byte).
 */
size_t tpg_sanitize_truncate(const char *s, size_t len, size_t max);
/*
 * `s` on one line: every run of whitespace and control characters becomes
 * one space, leading and trailing ones are dropped, invalid UTF-8 becomes
 * U+FFFD, and the result is cut at `max` bytes on a character boundary
 * (0: no cut). malloc'ed; NULL in gives "".
 */
char *tpg_sanitize_one_line(const char *s, size_t max);
/* Smallest offset such that s[off..len) is at most max bytes and does not
 * start inside a UTF-8 sequence. */
size_t tpg_sanitize_tail(const char *s, size_t len, size_t max);


/*
 * Caps s[0..len) to `max` bytes: when longer, keeps the head (a quarter)
 * and the tail (the rest: logs fail at the end), cut at line boundaries
 * when one is near and never inside a UTF-8 sequence, joined by a line
 * "[... 9.5 MiB truncated ...]". The result is valid UTF-8 (invalid input
 * is repaired as by tpg_sanitize_utf8, before measuring) and at most `max`
 * bytes, so clipping it again changes nothing. Below
 * TPG_SANITIZE_CLIP_MIN the cut is plain, without the marker. max 0 means
 * no cap. Costs O(max), not O(len).
 */
#define TPG_SANITIZE_MARKER_MAX 48
#define TPG_SANITIZE_CLIP_MIN 128
char *tpg_sanitize_clip(const char *s, size_t len, size_t max);

#endif

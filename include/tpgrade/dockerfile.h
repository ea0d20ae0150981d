/*
 * dockerfile.h - a Dockerfile parser that behaves like BuildKit's low-level
 * parser (moby/buildkit frontend/dockerfile/parser, the one docker build
 * uses), plus stage analysis on top of it.
 *
 * What "behaves like" means (see docs/dockerfile-parser.md): for every input
 * of tests/data/buildkit-parser the dump is byte for byte BuildKit's
 * AST.Dump(), the error messages are BuildKit's, and lines, flags, JSON
 * form, heredocs, warnings and original lines are BuildKit's. That includes
 * its quirks: case-insensitive keywords, unknown instructions accepted,
 * comment lines inside continuations, `["a" "b"]` silently taken as shell
 * form, heredocs only for ADD/COPY/RUN, `ONBUILD ONBUILD` accepted here (the
 * later instruction layer rejects it).
 *
 * One deliberate difference: a file holding a NUL byte is rejected as "not a
 * text file" (BuildKit would parse the garbage); this is what UTF-16 files
 * saved by Windows editors look like.
 *
 * Ownership: everything reachable from a tpg_dockerfile belongs to it and is
 * freed by tpg_dockerfile_free. Pointers returned by tpg_dockerfile_effective
 * are borrowed from the tpg_dockerfile.
 */
#ifndef TPGRADE_DOCKERFILE_H
#define TPGRADE_DOCKERFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"

/* BuildKit's bufio.Scanner limit: a line of this many bytes (without its
 * newline) or more fails with "dockerfile line greater than max allowed
 * size of 65535". */
#define TPG_DF_MAX_LINE 65536

typedef struct tpg_df_heredoc {
	char *name;       /* terminator word, quotes removed ("EOF") */
	uint64_t fd;      /* "3<<EOF" gives 3; 0 when absent (Go uint) */
	bool expand;      /* false when any part of the name was quoted */
	bool chomp;       /* "<<-": leading tabs are stripped later */
	char *content;    /* raw body lines, line endings kept, tabs kept */
} tpg_df_heredoc;

typedef struct tpg_df_instr {
	char *keyword;        /* as written ("Run"); "" for a lone `\` line */
	char *cmd;            /* Go strings.ToLower(keyword) ("run") */
	tpg_strv flags;       /* "--from=build": quotes and escapes removed */
	tpg_strv args;        /* the Next chain (empty for ONBUILD: see inner) */
	size_t *arg_lens;     /* byte length of args.items[i]: larger than
	                       * strlen() only when a JSON string held \u0000 */
	struct tpg_df_instr *inner; /* ONBUILD's instruction, else NULL */
	bool json;            /* exec form (JSON array) */
	char *json_error;     /* the arguments start with '[' but are not a JSON
	                       * array of strings, so BuildKit took them as
	                       * shell form: why ("expected ',' or ']' after
	                       * array element at character 6, found '\"'"),
	                       * else NULL */
	char *original;       /* the assembled line */
	int start_line, end_line;   /* 1-based, heredoc bodies included; 0 for
	                             * an ONBUILD's inner instruction */
	tpg_df_heredoc *heredocs;   /* on the ONBUILD node for ONBUILD RUN <<X */
	size_t nheredocs;
	tpg_strv comments;    /* BuildKit's PrevComment: the comment lines just
	                       * before the instruction, without '#' */
} tpg_df_instr;

/* BuildKit's Detail of the empty-continuation warning (same for all). */
#define TPG_DF_EMPTY_CONTINUATION_DETAIL \
	"Empty continuation lines will become errors in a future release"

typedef struct tpg_dockerfile {
	tpg_df_instr *instrs;
	size_t ninstrs;
	char escape;          /* '\\' or '`' */
	char *syntax;         /* `# syntax=` value as written, or NULL */
	char *check;          /* `# check=` value, or NULL */
	tpg_strv warnings;    /* "Empty continuation line found in: RUN a b" */
	int *warning_lines;   /* line of each warning (end of its instruction) */
} tpg_dockerfile;

/* Where BuildKit locates a parse error (its first Range). */
typedef struct tpg_df_errpos {
	int start_line;
	int end_line;
} tpg_df_errpos;

/*
 * Parses `len` bytes. On success *out is a new tpg_dockerfile. On error
 * returns TPG_EPARSE with BuildKit's message in err ("file with no
 * instructions", "unterminated heredoc", "dockerfile line greater than max
 * allowed size of 65535", "ENV must have two arguments"...) and, when
 * err_line is not NULL, the line BuildKit reports (0 when none; note that
 * BuildKit reports directive errors one line early, and we keep that).
 */
int tpg_dockerfile_parse(const char *data, size_t len, tpg_dockerfile **out, int *err_line,
			 tpg_err *err);
/* The same with BuildKit's whole range. */
int tpg_dockerfile_parse_at(const char *data, size_t len, tpg_dockerfile **out,
			    tpg_df_errpos *pos, tpg_err *err);
void tpg_dockerfile_free(tpg_dockerfile *df);

/* BuildKit's AST.Dump()+"\n": one "(cmd ...)" line per instruction. */
void tpg_dockerfile_dump(const tpg_dockerfile *df, tpg_buf *out);
/* Dump of one instruction, without the outer parentheses. */
void tpg_df_instr_dump(const tpg_df_instr *in, tpg_buf *out);
/* Go strconv.Quote semantics (reports reuse it). */
void tpg_go_quote(const char *s, size_t len, tpg_buf *out);

/* ---- building blocks, BuildKit functions of the same names --------------- */

/* parseWords: the quote-aware splitter of ENV/LABEL/ARG; quotes and escapes
 * stay in the words. Appends to out. */
void tpg_df_parse_words(const char *rest, size_t len, char escape, tpg_strv *out);

/* Exec-form check of RUN/CMD/ENTRYPOINT/SHELL/ADD/COPY/VOLUME. */
enum {
	TPG_DF_NOT_JSON = 0,       /* shell form (why in *why when it starts with '[') */
	TPG_DF_JSON = 1,           /* a JSON array of strings: values in out/lens */
	TPG_DF_JSON_NOT_STRINGS = 2 /* valid JSON array with a non-string: error */
};
int tpg_df_json_array(const char *rest, size_t len, tpg_strv *out, size_t **lens, char **why);

/* ParseHeredoc on one word ("<<-'EOF'"): returns 1 and fills *h (owned by the
 * caller, free with tpg_df_heredoc_clear) when it is a heredoc, 0 when not,
 * TPG_EPARSE with BuildKit's message when the word is malformed. */
int tpg_df_parse_heredoc(const char *word, tpg_df_heredoc *h, tpg_err *err);
void tpg_df_heredoc_clear(tpg_df_heredoc *h);
/* heredocsFromLine: the heredocs an instruction line opens, in order.
 * *out is malloc'ed (free each with tpg_df_heredoc_clear, then free()). */
int tpg_df_heredocs_from_line(const char *line, tpg_df_heredoc **out, size_t *n, tpg_err *err);

/* DirectiveParser.ParseAll: the `# name=value` directives at the top of
 * `data` (names lowercased); names and values appended to the two lists
 * (same index). Returns TPG_EPARSE on a repeated directive, keeping those
 * before it. */
int tpg_df_parse_directives(const char *data, size_t len, tpg_strv *names, tpg_strv *values,
			    tpg_err *err);
/*
 * DetectSyntax (key "syntax", any_format true: `#`, then `//` comments, then
 * a JSON object; a leading "#!" line and a UTF-8 BOM are skipped) and
 * ParseDirective (any_format false: `#` only). Returns true when found; *ref
 * is the value up to the first space, *cmdline the whole value (both
 * malloc'ed), *line its 1-based line (0 for JSON). Outputs may be NULL.
 */
bool tpg_df_detect_directive(const char *data, size_t len, const char *key, bool any_format,
			     char **ref, char **cmdline, int *line);

/* ---- stages -------------------------------------------------------------- */

typedef struct tpg_df_stage {
	size_t index;         /* 0-based */
	char *name;           /* "AS name" lowercased, NULL if none */
	char *base;           /* FROM's image word as written ("${BASE}") */
	char *base_expanded;  /* with the ARGs declared before the first FROM
	                       * (build args override their defaults) and the
	                       * automatic platform args; "" when it expands to
	                       * nothing (BuildKit: "base name (...) should not
	                       * be blank"); NULL when the expansion fails */
	char *platform;       /* --platform value as written, or NULL */
	size_t first, last;   /* instruction index range; first is the FROM */
	long parent;          /* index of the stage named by the expanded base
	                       * (FROM <earlier stage>), -1 for an image */
} tpg_df_stage;

/*
 * Splits at FROM. build_args (may be NULL) are "NAME=VALUE" like
 * --build-arg; they override the defaults of ARGs declared before the first
 * FROM, and may set the automatic args (TARGETPLATFORM, TARGETOS,
 * TARGETARCH, TARGETVARIANT, BUILDPLATFORM, BUILDOS, BUILDARCH,
 * BUILDVARIANT; default: this machine, linux). Errors (TPG_EPARSE, BuildKit's
 * wording, prefixed with "line N: "): an instruction other than ARG before
 * the first FROM ("no build stage in current context"), no FROM, "FROM
 * requires either one or three arguments", an invalid or duplicate stage
 * name, and the ONBUILD triggers BuildKit's instruction layer refuses
 * (`ONBUILD ONBUILD`, `ONBUILD FROM`, `ONBUILD MAINTAINER`, a bare ONBUILD),
 * which the parser itself accepts as BuildKit's parser does. Other
 * instruction-level checks (unknown instructions, flags) are not made.
 */
int tpg_dockerfile_stages(const tpg_dockerfile *df, const tpg_strv *build_args,
			  tpg_df_stage **out, size_t *nout, tpg_err *err);
void tpg_df_stages_free(tpg_df_stage *stages, size_t n);

/*
 * The instruction in effect for `cmd` ("entrypoint", "cmd", "healthcheck",
 * "user", "workdir", "shell", "stopsignal", any lowercase keyword) at the end
 * of stage `index`: the last top-level one in the stage, else the one in
 * effect in its parent stage (FROM <stage>), recursively; NULL when none or
 * when the chain reaches an image. ONBUILD-wrapped instructions never count.
 * Borrowed pointer into df.
 *
 * This is raw inheritance: for "cmd" it ignores Docker's rule that setting
 * ENTRYPOINT resets the CMD inherited from the base; use
 * tpg_dockerfile_effective_cmd for the CMD the image really gets.
 */
const tpg_df_instr *tpg_dockerfile_effective(const tpg_dockerfile *df, const tpg_df_stage *stages,
					     size_t nstages, size_t index, const char *cmd);
/*
 * The CMD the image of stage `index` gets: its own last CMD; else NULL if the
 * stage sets an ENTRYPOINT (Docker and BuildKit clear an inherited CMD when a
 * stage sets ENTRYPOINT without setting CMD); else the parent's, by the same
 * rule. Borrowed.
 */
const tpg_df_instr *tpg_dockerfile_effective_cmd(const tpg_dockerfile *df,
						 const tpg_df_stage *stages, size_t nstages,
						 size_t index);

#endif

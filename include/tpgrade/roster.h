/*
 * roster.h - the list of students of a class run (docs/class.md).
 *
 * A roster is CSV or YAML. CSV: a header row naming at least an id column
 * (`id`, `student`, `login`) and a repository column (`repo`,
 * `repository`, `url`), optionally `name`, `group`, `ref`, `deadline`;
 * comma, semicolon (French Excel) or tab separated, RFC 4180 quoting
 * (separators, quotes and newlines inside quoted fields), CRLF or LF, a
 * UTF-8 BOM; a file that is not UTF-8 is read as Windows-1252 (what Excel
 * writes by default). YAML: a list of mappings with the same keys, or a
 * mapping whose `students` is that list.
 *
 * Every problem is reported at once, as "roster.csv:12: duplicate id
 * 'alice' (first on line 3)". Ids unsafe as folder names ("a/b", "..",
 * "grades.csv", control characters) are kept as ids; their files go to a
 * safe folder (tpg_roster_folder_name), which a note reports.
 */
#ifndef TPGRADE_ROSTER_H
#define TPGRADE_ROSTER_H

#include <stddef.h>

#include "tpgrade/buf.h"
#include "tpgrade/common.h"

#define TPG_ROSTER_MAX_BYTES (16u << 20)

typedef struct tpg_student {
	char *id;        /* as written (trimmed), never empty */
	char *name;      /* NULL when absent */
	char *group;     /* NULL when absent */
	char *repo;      /* URL or path; relative paths are made relative to the
	                    roster's folder. May hold credentials: never print it,
	                    use tpg_url_redact. */
	char *ref;       /* NULL: the class default (--ref) */
	char *deadline;  /* NULL: the class default (--deadline) */
	char *folder;    /* safe folder name for its outputs */
	int line;        /* 1-based line of its row (CSV) or mapping (YAML) */
	size_t index;    /* position in the roster, 0-based */
} tpg_student;

typedef struct tpg_roster {
	char *path;              /* as given */
	tpg_student *students;
	size_t len, cap;
	tpg_strv notes;          /* remarks that are not errors ("file:line: ...") */
} tpg_roster;

/*
 * Reads and validates the roster at `path`. On success *out is freed with
 * tpg_roster_free. TPG_EPARSE when the roster has problems (each one a
 * line "path:line: message" appended to `problems`), TPG_ENOTFOUND/TPG_EIO
 * (err says why) when it cannot be read, TPG_ETOOBIG over 16 MiB.
 */
int tpg_roster_load(const char *path, tpg_roster **out, tpg_strv *problems, tpg_err *err);

/*
 * The same from memory. `name` is used in messages and chooses the format
 * (.yaml/.yml: YAML, .csv/.tsv/.txt: CSV, otherwise sniffed); `base_dir`
 * (may be NULL) is where relative repository paths are taken from.
 */
int tpg_roster_parse(const char *name, const char *data, size_t len, const char *base_dir,
                     tpg_roster **out, tpg_strv *problems);

void tpg_roster_free(tpg_roster *roster);

/*
 * A folder name for `id`: the id itself when it is made of ASCII letters,
 * digits, '.', '_' and '-', does not start with '.' or '-', is at most 64
 * bytes and is not one of the class outputs (grades.csv, summary.json,
 * report.html, class.json); otherwise those characters with '_' for runs
 * of others, then '-' and 8 hex digits of a hash of the id. Caller frees.
 */
char *tpg_roster_folder_name(const char *id);
/* Whether tpg_roster_folder_name(id) is the id itself. */
int tpg_roster_id_is_safe(const char *id);

/* A 64-bit FNV-1a hash, for folder names and cache keys (not security). */
unsigned long long tpg_roster_hash(const char *data, size_t len);

#endif

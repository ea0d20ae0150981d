/* class_roster.c - reading a class roster (CSV or YAML) and checking it. */
#include "tpgrade/git_impl.h"
#include "tpgrade/roster.h"
#include "tpgrade/sanitize.h"
#include "tpgrade/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum { COL_ID, COL_REPO, COL_NAME, COL_GROUP, COL_REF, COL_DEADLINE, NCOLS };

static const char *const col_names[NCOLS] = { "id", "repo", "name", "group", "ref", "deadline" };

/* Header spellings, lower case; French ones as French Excel users write them. */
static const struct {
	const char *alias;
	int col;
} aliases[] = {
	{ "id", COL_ID }, { "student", COL_ID }, { "student_id", COL_ID }, { "login", COL_ID },
	{ "username", COL_ID }, { "identifiant", COL_ID }, { "etudiant", COL_ID },
	{ "\xc3\xa9tudiant", COL_ID },
	{ "repo", COL_REPO }, { "repository", COL_REPO }, { "url", COL_REPO }, { "git", COL_REPO },
	{ "git_url", COL_REPO }, { "depot", COL_REPO }, { "d\xc3\xa9p\xc3\xb4t", COL_REPO },
	{ "name", COL_NAME }, { "nom", COL_NAME }, { "full_name", COL_NAME },
	{ "group", COL_GROUP }, { "groupe", COL_GROUP }, { "section", COL_GROUP },
	{ "ref", COL_REF }, { "branch", COL_REF }, { "branche", COL_REF },
	{ "deadline", COL_DEADLINE }, { "date_limite", COL_DEADLINE },
};

static int column_of(const char *header)
{
	char low[64];
	size_t n = strlen(header);
	if (n >= sizeof(low))
		return -1;
	for (size_t i = 0; i <= n; i++) {
		char c = header[i];
		low[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c == ' ' || c == '-' ? '_' : c;
	}
	for (size_t i = 0; i < TPG_ARRAY_LEN(aliases); i++)
		if (strcmp(low, aliases[i].alias) == 0)
			return aliases[i].col;
	return -1;
}

/* ---------------------------------------------------------------- helpers */

unsigned long long tpg_roster_hash(const char *data, size_t len)
{
	unsigned long long h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)data[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static const char *const reserved[] = { "grades.csv", "summary.json", "report.html",
	"class.json" };

int tpg_roster_id_is_safe(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64 || id[0] == '.' || id[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	for (size_t i = 0; i < TPG_ARRAY_LEN(reserved); i++)
		if (strcasecmp(id, reserved[i]) == 0)
			return 0;
	return 1;
}

char *tpg_roster_folder_name(const char *id)
{
	if (tpg_roster_id_is_safe(id))
		return tpg_xstrdup(id);
	tpg_buf b = TPG_BUF_INIT;
	bool run = false;
	for (const char *p = id; *p && b.len < 48; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '.' || c == '_' || c == '-';
		if (ok && b.len == 0 && (c == '.' || c == '-'))
			ok = false;
		if (ok) {
			tpg_buf_putc(&b, c);
			run = false;
		} else if (!run) {
			tpg_buf_putc(&b, '_');
			run = true;
		}
	}
	unsigned long long h = tpg_roster_hash(id, strlen(id));
	tpg_buf_printf(&b, "%s%08llx", b.len ? "-" : "student-", h & 0xffffffffULL);
	return tpg_buf_detach(&b);
}

/* A repository the git layer will read as a path (not a URL, scp-like
 * "host:path" included): the same parser decides. */
static bool is_local_path(const char *repo)
{
	tpg_git_url u;
	if (tpg_git_url_parse(repo, &u, NULL) < 0)
		return false;   /* the child says what is wrong with it */
	bool local = u.kind == TPG_GIT_URL_LOCAL;
	tpg_git_url_clear(&u);
	return local;
}

/* Windows-1252 bytes 0x80..0x9F; 0 where the code page has a hole. */
static const unsigned short cp1252_high[32] = {
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
	0x2039, 0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
	0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178
};

static void put_utf8(tpg_buf *b, unsigned cp)
{
	char s[4];
	tpg_buf_append(b, s, tpg_utf8_encode(cp, s));
}

static char *from_cp1252(const char *data, size_t len)
{
	tpg_buf b = TPG_BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c == 0)
			put_utf8(&b, 0xFFFD);
		else if (c < 0x80)
			tpg_buf_putc(&b, (char)c);
		else if (c < 0xA0)
			put_utf8(&b, cp1252_high[c - 0x80] ? cp1252_high[c - 0x80] : 0xFFFD);
		else
			put_utf8(&b, c);
	}
	return tpg_buf_detach(&b);
}

static char *trim_dup(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return tpg_xstrndup(s, n);
}

static void problem(tpg_strv *problems, const char *name, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void problem(tpg_strv *problems, const char *name, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = tpg_xvasprintf(fmt, ap);
	va_end(ap);
	if (line > 0)
		tpg_strv_push_owned(problems, tpg_xasprintf("%s:%d: %s", name, line, msg));
	else
		tpg_strv_push_owned(problems, tpg_xasprintf("%s: %s", name, msg));
	free(msg);
}

/* An id, name... shown in a message: short, one line, escaped as the git
 * layer shows refs and paths. */
static char *shown(const char *s)
{
	return tpg_git_printable(s, 80);
}

/* One row, whatever the format: column values (borrowed), its line. */
typedef struct row {
	const char *v[NCOLS];
	int line;
} row;

static void add_student(tpg_roster *r, const row *w, const char *name, const char *base_dir,
                        tpg_strv *problems)
{
	const char *id = w->v[COL_ID] ? w->v[COL_ID] : "";
	const char *repo = w->v[COL_REPO] ? w->v[COL_REPO] : "";
	if (!*id) {
		if (*repo) {
			char *s = shown(repo);
			problem(problems, name, w->line, "no id for repository %s", s);
			free(s);
		} else {
			problem(problems, name, w->line, "no id and no repository");
		}
		return;
	}
	if (strlen(id) > 200) {
		problem(problems, name, w->line, "id longer than 200 characters");
		return;
	}
	char *sid = shown(id);
	if (!*repo) {
		problem(problems, name, w->line, "student '%s' has no repository", sid);
		free(sid);
		return;
	}
	for (size_t i = 0; i < r->len; i++) {
		if (strcmp(r->students[i].id, id) == 0) {
			problem(problems, name, w->line, "duplicate id '%s' (first on line %d)", sid,
			        r->students[i].line);
			free(sid);
			return;
		}
	}
	free(sid);
	TPG_ARRAY_GROW(r->students, r->len, r->cap);
	tpg_student *s = &r->students[r->len];
	memset(s, 0, sizeof(*s));
	s->index = r->len++;
	s->line = w->line;
	s->id = tpg_xstrdup(id);
	s->name = w->v[COL_NAME] && *w->v[COL_NAME] ? tpg_xstrdup(w->v[COL_NAME]) : NULL;
	s->group = w->v[COL_GROUP] && *w->v[COL_GROUP] ? tpg_xstrdup(w->v[COL_GROUP]) : NULL;
	s->ref = w->v[COL_REF] && *w->v[COL_REF] ? tpg_xstrdup(w->v[COL_REF]) : NULL;
	s->deadline = w->v[COL_DEADLINE] && *w->v[COL_DEADLINE] ? tpg_xstrdup(w->v[COL_DEADLINE])
	                                                          : NULL;
	if (base_dir && *base_dir && repo[0] != '/' && is_local_path(repo))
		s->repo = tpg_xasprintf("%s/%s", base_dir, repo);
	else
		s->repo = tpg_xstrdup(repo);
}

/* Gives each student a folder; unsafe ids and (case-insensitive) clashes
 * get a hashed name, noted. */
static void assign_folders(tpg_roster *r, const char *name)
{
	for (size_t i = 0; i < r->len; i++) {
		tpg_student *s = &r->students[i];
		char *folder = tpg_roster_folder_name(s->id);
		for (int attempt = 2;; attempt++) {
			bool clash = false;
			for (size_t j = 0; j < i && !clash; j++)
				clash = strcasecmp(r->students[j].folder, folder) == 0;
			if (!clash)
				break;
			char *again = tpg_xasprintf("%s-%d", folder, attempt);
			free(folder);
			folder = again;
		}
		if (strcmp(folder, s->id) != 0) {
			char *sid = shown(s->id);
			tpg_strv_push_owned(&r->notes,
				tpg_xasprintf("%s:%d: id '%s' is not usable as a folder name: its files go "
				              "to %s/", name, s->line, sid, folder));
			free(sid);
		}
		s->folder = folder;
	}
}

/* -------------------------------------------------------------------- CSV */

typedef struct csv {
	const char *p, *end;
	char sep;
	int line;
} csv;

/* Reads one record into fields; false at the end of input. */
static bool csv_record(csv *c, tpg_strv *fields, int *start_line, bool *unterminated)
{
	if (c->p >= c->end)
		return false;
	*start_line = c->line;
	for (;;) {
		tpg_buf f = TPG_BUF_INIT;
		while (c->p < c->end && *c->p == ' ' && c->sep != ' ')
			c->p++;
		if (c->p < c->end && *c->p == '"') {
			c->p++;
			for (;;) {
				if (c->p >= c->end) {
					*unterminated = true;
					break;
				}
				if (*c->p == '"') {
					if (c->p + 1 < c->end && c->p[1] == '"') {
						tpg_buf_putc(&f, '"');
						c->p += 2;
						continue;
					}
					c->p++;
					break;
				}
				if (*c->p == '\n' || (*c->p == '\r' && (c->p + 1 >= c->end || c->p[1] != '\n')))
					c->line++;
				tpg_buf_putc(&f, *c->p++);
			}
			/* Text after the closing quote: kept, as spreadsheets do. */
			while (c->p < c->end && *c->p != c->sep && *c->p != '\n' && *c->p != '\r')
				tpg_buf_putc(&f, *c->p++);
			char *v = tpg_buf_detach(&f);
			tpg_strv_push_owned(fields, trim_dup(v, strlen(v)));
			free(v);
		} else {
			const char *s = c->p;
			while (c->p < c->end && *c->p != c->sep && *c->p != '\n' && *c->p != '\r')
				c->p++;
			tpg_strv_push_owned(fields, trim_dup(s, (size_t)(c->p - s)));
			tpg_buf_free(&f);
		}
		if (c->p < c->end && *c->p == c->sep) {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == '\r')
			c->p++;
		if (c->p < c->end && *c->p == '\n')
			c->p++;
		c->line++;
		return true;
	}
}

/* The separator: whichever of , ; TAB appears most in the header row. */
static char csv_sniff(const char *p, const char *end)
{
	size_t n[3] = { 0 };
	const char seps[3] = { ',', ';', '\t' };
	bool quoted = false;
	for (; p < end; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && (*p == '\n' || *p == '\r'))
			break;
		else if (!quoted)
			for (int i = 0; i < 3; i++)
				if (*p == seps[i])
					n[i]++;
	}
	int best = 0;
	for (int i = 1; i < 3; i++)
		if (n[i] > n[best])
			best = i;
	return seps[best];
}

static bool blank_record(const tpg_strv *f)
{
	for (size_t i = 0; i < f->len; i++)
		if (f->items[i][0])
			return false;
	return true;
}

static void parse_csv(tpg_roster *r, const char *name, const char *text, size_t len,
                      const char *base_dir, tpg_strv *problems)
{
	csv c = { text, text + len, 0, 1 };
	tpg_strv fields = TPG_STRV_INIT;
	int line = 0;
	bool unterminated = false;
	int map[256];
	size_t ncols = 0;
	bool have_header = false;

	/* Skip blank and comment lines before the header. */
	while (c.p < c.end && (*c.p == '\n' || *c.p == '\r' || *c.p == '#')) {
		if (*c.p == '#')
			while (c.p < c.end && *c.p != '\n')
				c.p++;
		if (c.p < c.end && *c.p == '\r')
			c.p++;
		if (c.p < c.end && *c.p == '\n')
			c.p++;
		c.line++;
	}
	c.sep = csv_sniff(c.p, c.end);
	while (csv_record(&c, &fields, &line, &unterminated)) {
		if (unterminated) {
			problem(problems, name, line, "a quoted field is not closed (a missing '\"')");
			break;
		}
		if (blank_record(&fields) || fields.items[0][0] == '#') {
			tpg_strv_free(&fields);
			continue;
		}
		if (!have_header) {
			have_header = true;
			int seen[NCOLS] = { 0 };
			ncols = fields.len < 256 ? fields.len : 256;
			for (size_t i = 0; i < ncols; i++) {
				int col = column_of(fields.items[i]);
				map[i] = col;
				if (col < 0) {
					if (fields.items[i][0]) {
						char *s = shown(fields.items[i]);
						tpg_strv_push_owned(&r->notes,
							tpg_xasprintf("%s:%d: column '%s' ignored", name, line, s));
						free(s);
					}
					continue;
				}
				if (seen[col]) {
					char *s = shown(fields.items[i]);
					problem(problems, name, line, "column '%s' repeats the %s column",
					        s, col_names[col]);
					free(s);
					map[i] = -1;
				}
				seen[col] = 1;
			}
			if (!seen[COL_ID] || !seen[COL_REPO]) {
				char *hdr = tpg_strv_join(&fields, c.sep == '\t' ? "\\t" : (char[]){ c.sep, 0 });
				char *s = shown(hdr);
				problem(problems, name, line,
				        "the header row needs an id column (id, student or login) and a "
				        "repository column (repo, repository or url); found: %s", s);
				free(s);
				free(hdr);
				tpg_strv_free(&fields);
				break;
			}
			tpg_strv_free(&fields);
			continue;
		}
		row w;
		memset(&w, 0, sizeof(w));
		w.line = line;
		for (size_t i = 0; i < fields.len && i < ncols; i++)
			if (map[i] >= 0)
				w.v[map[i]] = fields.items[i];
		add_student(r, &w, name, base_dir, problems);
		tpg_strv_free(&fields);
	}
	tpg_strv_free(&fields);
	if (!have_header)
		problem(problems, name, 0, "empty roster: no header row, no students");
}

/* ------------------------------------------------------------------- YAML */

static void parse_yaml(tpg_roster *r, const char *name, const char *text, size_t len,
                       const char *base_dir, tpg_strv *problems)
{
	tpg_yaml_doc *doc = NULL;
	tpg_diags diags = TPG_DIAGS_INIT;

	if (tpg_yaml_parse(name, text, len, NULL, &doc, &diags) < 0) {
		for (size_t i = 0; i < diags.len; i++)
			problem(problems, name, diags.items[i].line, "%s", diags.items[i].msg);
		if (!diags.len)
			problem(problems, name, 0, "not valid YAML");
		tpg_diags_free(&diags);
		return;
	}
	tpg_diags_free(&diags);
	const tpg_yaml_node *root = tpg_yaml_root(doc);
	const tpg_yaml_node *list = root;
	if (root->type == TPG_YAML_MAP)
		list = tpg_yaml_get(root, "students");
	if (!list || list->type != TPG_YAML_SEQ) {
		problem(problems, name, root->line,
		        "expected a list of students (each a mapping with id and repo), or a "
		        "mapping whose 'students' is that list; found %s",
		        list ? tpg_yaml_type_name(list) : "no 'students' key");
		tpg_yaml_free(doc);
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		const tpg_yaml_node *item = list->items[i];
		if (item->type != TPG_YAML_MAP) {
			problem(problems, name, item->line, "students[%zu]: expected a mapping (id: ..., "
			        "repo: ...), found %s", i, tpg_yaml_type_name(item));
			continue;
		}
		row w;
		memset(&w, 0, sizeof(w));
		w.line = item->line;
		bool bad = false;
		for (size_t k = 0; k < item->n; k++) {
			const tpg_yaml_node *key = item->items[2 * k], *val = item->items[2 * k + 1];
			if (key->type != TPG_YAML_SCALAR)
				continue;
			int col = column_of(key->value);
			if (col < 0) {
				char *s = shown(key->value);
				tpg_strv_push_owned(&r->notes, tpg_xasprintf("%s:%d: key '%s' ignored", name,
				                                             key->line, s));
				free(s);
				continue;
			}
			if (tpg_yaml_is_null(val))
				continue;
			if (val->type != TPG_YAML_SCALAR || strlen(val->value) != val->len) {
				problem(problems, name, val->line, "students[%zu].%s: expected a string, "
				        "found %s", i, key->value, tpg_yaml_type_name(val));
				bad = true;
				continue;
			}
			w.v[col] = val->value;
		}
		if (!bad)
			add_student(r, &w, name, base_dir, problems);
	}
	tpg_yaml_free(doc);
}

/* ------------------------------------------------------------------ entry */

static bool is_yaml_name(const char *name, const char *text, size_t len)
{
	const char *dot = strrchr(name, '.');
	if (dot && (!strcasecmp(dot, ".yaml") || !strcasecmp(dot, ".yml")))
		return true;
	if (dot && (!strcasecmp(dot, ".csv") || !strcasecmp(dot, ".tsv") || !strcasecmp(dot, ".txt")))
		return false;
	/* Sniff: YAML starts with "- ", "---" or "students:". */
	size_t i = 0;
	while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
		i++;
	return (len - i >= 2 && text[i] == '-' && (text[i + 1] == ' ' || text[i + 1] == '-')) ||
	       (len - i >= 9 && strncmp(text + i, "students:", 9) == 0);
}

int tpg_roster_parse(const char *name, const char *data, size_t len, const char *base_dir,
                     tpg_roster **out, tpg_strv *problems)
{
	tpg_roster *r = tpg_xcalloc(1, sizeof(*r));
	size_t before = problems->len;
	char *text;

	*out = NULL;
	r->path = tpg_xstrdup(name);
	if (len >= 2 && (((unsigned char)data[0] == 0xFF && (unsigned char)data[1] == 0xFE) ||
	                 ((unsigned char)data[0] == 0xFE && (unsigned char)data[1] == 0xFF))) {
		problem(problems, name, 0, "the file is UTF-16 (Excel's \"Unicode text\"): save it "
		        "as \"CSV UTF-8\" instead");
		tpg_roster_free(r);
		return TPG_EPARSE;
	}
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
		data += 3;
		len -= 3;
	}
	if (tpg_sanitize_is_utf8(data, len)) {
		text = tpg_xstrndup(data, len);
	} else if (memchr(data, '\0', len)) {
		problem(problems, name, 0, "the file holds NUL bytes: not a text roster");
		tpg_roster_free(r);
		return TPG_EPARSE;
	} else {
		text = from_cp1252(data, len);
		tpg_strv_push_owned(&r->notes, tpg_xasprintf("%s: not UTF-8: read as Windows-1252 "
		                                             "(Excel's default encoding)", name));
	}
	size_t tlen = strlen(text);
	if (is_yaml_name(name, text, tlen))
		parse_yaml(r, name, text, tlen, base_dir, problems);
	else
		parse_csv(r, name, text, tlen, base_dir, problems);
	free(text);
	if (problems->len == before && r->len == 0)
		problem(problems, name, 0, "no students in the roster");
	if (problems->len > before) {
		tpg_roster_free(r);
		return TPG_EPARSE;
	}
	assign_folders(r, name);
	*out = r;
	return 0;
}

int tpg_roster_load(const char *path, tpg_roster **out, tpg_strv *problems, tpg_err *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return tpg_err_errno(err, errno, "cannot open the roster %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return tpg_err_set(err, TPG_EINVAL, "the roster %s is not a regular file", path);
	}
	if (st.st_size > (off_t)TPG_ROSTER_MAX_BYTES) {
		close(fd);
		return tpg_err_set(err, TPG_ETOOBIG, "the roster %s is over 16 MiB", path);
	}
	tpg_buf b = TPG_BUF_INIT;
	char chunk[65536];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			tpg_buf_append(&b, chunk, (size_t)n);
	int e = errno;
	close(fd);
	if (n < 0) {
		tpg_buf_free(&b);
		return tpg_err_errno(err, e, "cannot read the roster %s", path);
	}
	char *dir = NULL;
	const char *slash = strrchr(path, '/');
	char *abs = realpath(path, NULL);
	if (abs) {
		*strrchr(abs, '/') = '\0';
		dir = abs[0] ? abs : (free(abs), tpg_xstrdup("/"));
	} else if (slash) {
		dir = tpg_xstrndup(path, (size_t)(slash - path));
	}
	int rc = tpg_roster_parse(path, b.data ? b.data : "", b.len, dir, out, problems);
	free(dir);
	tpg_buf_free(&b);
	if (rc < 0)
		tpg_err_set(err, rc, "the roster %s has problems", path);
	return rc;
}

void tpg_roster_free(tpg_roster *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->len; i++) {
		tpg_student *s = &r->students[i];
		free(s->id);
		free(s->name);
		free(s->group);
		free(s->repo);
		free(s->ref);
		free(s->deadline);
		free(s->folder);
	}
	free(r->students);
	free(r->path);
	tpg_strv_free(&r->notes);
	free(r);
}

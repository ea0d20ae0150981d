/* test_roster.c - class rosters: CSV as spreadsheets write it (BOM, CRLF,
 * semicolons, quotes, Windows-1252), YAML, and the problems reported with
 * their line numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tpgrade/roster.h"

static tpg_roster *parse_ok(const char *name, const char *text, const char *base)
{
	tpg_strv problems = TPG_STRV_INIT;
	tpg_roster *r = NULL;
	int rc = tpg_roster_parse(name, text, strlen(text), base, &r, &problems);
	for (size_t i = 0; i < problems.len; i++)
		print_error("unexpected problem: %s\n", problems.items[i]);
	assert_int_equal(rc, 0);
	assert_non_null(r);
	tpg_strv_free(&problems);
	return r;
}

/* Parses text expecting problems; returns them joined by newlines. */
static char *parse_bad(const char *name, const char *text, size_t len)
{
	tpg_strv problems = TPG_STRV_INIT;
	tpg_roster *r = NULL;
	int rc = tpg_roster_parse(name, text, len, NULL, &r, &problems);
	assert_int_equal(rc, TPG_EPARSE);
	assert_null(r);
	assert_true(problems.len > 0);
	char *all = tpg_strv_join(&problems, "\n");
	tpg_strv_free(&problems);
	return all;
}

static bool notes_have(const tpg_roster *r, const char *needle)
{
	for (size_t i = 0; i < r->notes.len; i++)
		if (strstr(r->notes.items[i], needle))
			return true;
	return false;
}

static void test_csv_basic(void **state)
{
	(void)state;
	tpg_roster *r = parse_ok("roster.csv",
		"id,name,group,repo,ref\n"
		"alice,Alice Martin,A,https://git.example/alice/tp.git,\n"
		"bob,Bob,B,git@git.example:bob/tp.git,dev\n", "/base");
	assert_int_equal(r->len, 2);
	assert_string_equal(r->students[0].id, "alice");
	assert_string_equal(r->students[0].name, "Alice Martin");
	assert_string_equal(r->students[0].group, "A");
	assert_string_equal(r->students[0].repo, "https://git.example/alice/tp.git");
	assert_null(r->students[0].ref);
	assert_string_equal(r->students[0].folder, "alice");
	assert_int_equal(r->students[0].line, 2);
	assert_int_equal(r->students[0].index, 0);
	assert_string_equal(r->students[1].repo, "git@git.example:bob/tp.git");
	assert_string_equal(r->students[1].ref, "dev");
	assert_int_equal(r->students[1].line, 3);
	assert_int_equal(r->notes.len, 0);
	tpg_roster_free(r);

	/* Paths are taken from the roster's folder; what the git layer reads
	 * as a URL (scp-like "h:path" too) is kept as written. */
	r = parse_ok("roster.csv",
		"id,repo\n"
		"p1,repos/p1\n"
		"p2,/abs/p2\n"
		"p3,h:grp/p3.git\n"
		"p4,file:///srv/p4.git\n"
		"p5,dir/with:colon\n", "/base");
	assert_string_equal(r->students[0].repo, "/base/repos/p1");
	assert_string_equal(r->students[1].repo, "/abs/p2");
	assert_string_equal(r->students[2].repo, "h:grp/p3.git");
	assert_string_equal(r->students[3].repo, "file:///srv/p4.git");
	assert_string_equal(r->students[4].repo, "/base/dir/with:colon");
	tpg_roster_free(r);
}

static void test_csv_excel_french(void **state)
{
	(void)state;
	/* BOM, CRLF, semicolons, French headers, quoted fields holding the
	 * separator, doubled quotes and a newline; then a blank line. */
	const char *text =
		"\xEF\xBB\xBF" "Etudiant;Nom;Groupe;D\xC3\xA9p\xC3\xB4t\r\n"
		"e1;\"Dupont; Jean\";G1;/srv/e1.git\r\n"
		"e2;\"L'\"\"as\"\"\r\ndes TP\";G2;repos/e2\r\n"
		"\r\n"
		"e3;  \xC3\x89lodie  ;G1;/srv/e3.git\r\n";
	tpg_roster *r = parse_ok("classe.csv", text, "/home/prof");
	assert_int_equal(r->len, 3);
	assert_string_equal(r->students[0].name, "Dupont; Jean");
	assert_string_equal(r->students[1].name, "L'\"as\"\r\ndes TP");
	assert_string_equal(r->students[1].repo, "/home/prof/repos/e2");
	assert_int_equal(r->students[1].line, 3);
	/* The quoted newline counts: e3 is on line 6. */
	assert_int_equal(r->students[2].line, 6);
	assert_string_equal(r->students[2].name, "\xC3\x89lodie");
	assert_string_equal(r->students[0].group, "G1");
	tpg_roster_free(r);
}

static void test_csv_tabs_comments_unknown_columns(void **state)
{
	(void)state;
	tpg_roster *r = parse_ok("r.tsv",
		"# exported from the LMS\n"
		"login\temail\turl\n"
		"# a comment row\n"
		"x1\tx1@example.org\thttps://h/x1.git\n", NULL);
	assert_int_equal(r->len, 1);
	assert_string_equal(r->students[0].id, "x1");
	assert_string_equal(r->students[0].repo, "https://h/x1.git");
	assert_int_equal(r->students[0].line, 4);
	assert_true(notes_have(r, "r.tsv:2: column 'email' ignored"));
	tpg_roster_free(r);
}

static void test_csv_cp1252(void **state)
{
	(void)state;
	/* "Élodie" and a right single quote in Windows-1252. */
	const char text[] = "id;name;repo\ne1;\xC9lodie O\x92Neil;/r/e1\n";
	tpg_roster *r = parse_ok("r.csv", text, NULL);
	assert_string_equal(r->students[0].name, "\xC3\x89lodie O\xE2\x80\x99Neil");
	assert_true(notes_have(r, "Windows-1252"));
	tpg_roster_free(r);
}

static void test_csv_problems(void **state)
{
	(void)state;
	const char *text =
		"id,name,repo\n"
		"alice,Alice,/r/a\n"
		"bob,Bob,\n"
		",Nobody,/r/x\n"
		"alice,Alice again,/r/a2\n"
		"carol,Carol,/r/c\n";
	char *all = parse_bad("class.csv", text, strlen(text));
	assert_non_null(strstr(all, "class.csv:3: student 'bob' has no repository"));
	assert_non_null(strstr(all, "class.csv:4: no id for repository /r/x"));
	assert_non_null(strstr(all, "class.csv:5: duplicate id 'alice' (first on line 2)"));
	free(all);

	all = parse_bad("h.csv", "name,repo\nA,/r/a\n", 16);
	assert_non_null(strstr(all, "h.csv:1: the header row needs an id column"));
	assert_non_null(strstr(all, "found: name,repo"));
	free(all);

	const char *unterminated = "id,repo\na,\"/r/a\nb,/r/b\n";
	all = parse_bad("u.csv", unterminated, strlen(unterminated));
	assert_non_null(strstr(all, "u.csv:2: a quoted field is not closed"));
	free(all);

	all = parse_bad("e.csv", "", 0);
	assert_non_null(strstr(all, "empty roster"));
	free(all);
	all = parse_bad("e.csv", "id,repo\n\n", 9);
	assert_non_null(strstr(all, "no students"));
	free(all);

	const char utf16[] = "\xFF\xFEi\0d\0";
	all = parse_bad("x.csv", utf16, sizeof(utf16) - 1);
	assert_non_null(strstr(all, "UTF-16"));
	free(all);

	all = parse_bad("n.csv", "id,repo\na,b\0c\n", 14);
	assert_non_null(strstr(all, "NUL"));
	free(all);

	all = parse_bad("d.csv", "id,student,repo\na,b,c\n", 22);
	assert_non_null(strstr(all, "column 'student' repeats the id column"));
	free(all);
}

static void test_unsafe_ids(void **state)
{
	(void)state;
	tpg_roster *r = parse_ok("r.csv",
		"id,repo\n"
		"../../etc,/r/1\n"
		"a/b,/r/2\n"
		"grades.csv,/r/3\n"
		".hidden,/r/4\n"
		"\xC3\xA9l\xC3\xA8ve,/r/5\n"
		"\"new\nline\",/r/6\n"
		"Alice,/r/7\n"
		"alice,/r/8\n"
		"ok-id_1.2,/r/9\n", NULL);
	assert_int_equal(r->len, 9);
	for (size_t i = 0; i < r->len; i++) {
		const char *f = r->students[i].folder;
		assert_true(tpg_roster_id_is_safe(f));
		for (size_t j = 0; j < i; j++)
			assert_true(strcasecmp(f, r->students[j].folder) != 0);
	}
	/* Ids are kept as written. */
	assert_string_equal(r->students[0].id, "../../etc");
	assert_string_equal(r->students[5].id, "new\nline");
	assert_true(r->students[0].folder[0] == '_' && strstr(r->students[0].folder, "etc-"));
	assert_true(strncmp(r->students[1].folder, "a_b-", 4) == 0);
	assert_true(strncmp(r->students[2].folder, "grades.csv-", 11) == 0);
	assert_true(strncmp(r->students[3].folder, "_hidden-", 8) == 0);
	assert_string_equal(r->students[6].folder, "Alice");
	/* "alice" clashes with "Alice" on a case-insensitive disk. */
	assert_string_equal(r->students[7].folder, "alice-2");
	assert_string_equal(r->students[8].folder, "ok-id_1.2");
	assert_true(notes_have(r, "r.csv:2: id '../../etc' is not usable as a folder name"));
	assert_true(notes_have(r, "'new\\nline'"));
	tpg_roster_free(r);
}

static void test_folder_names(void **state)
{
	(void)state;
	char *a = tpg_roster_folder_name("a/b");
	char *b = tpg_roster_folder_name("a/b");
	char *c = tpg_roster_folder_name("a:b");
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	free(a);
	free(b);
	free(c);
	char *e = tpg_roster_folder_name("");
	assert_true(strncmp(e, "student-", 8) == 0);
	free(e);
	char longid[300];
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	char *l = tpg_roster_folder_name(longid);
	assert_true(strlen(l) <= 64);
	assert_true(tpg_roster_id_is_safe(l));
	free(l);
	assert_true(tpg_roster_id_is_safe("s001"));
	assert_false(tpg_roster_id_is_safe("-rf"));
	assert_false(tpg_roster_id_is_safe("SUMMARY.JSON"));
	assert_false(tpg_roster_id_is_safe(".."));
}

static void test_yaml(void **state)
{
	(void)state;
	tpg_roster *r = parse_ok("class.yaml",
		"students:\n"
		"  - id: alice\n"
		"    name: Alice\n"
		"    repo: https://h/alice.git\n"
		"    deadline: 2026-12-10T23:59:00+01:00\n"
		"  - student: 42\n"
		"    repository: repos/42\n"
		"    branch: rendu\n"
		"    email: x@y\n", "/b");
	assert_int_equal(r->len, 2);
	assert_string_equal(r->students[0].deadline, "2026-12-10T23:59:00+01:00");
	assert_int_equal(r->students[0].line, 2);
	assert_string_equal(r->students[1].id, "42");
	assert_string_equal(r->students[1].repo, "/b/repos/42");
	assert_string_equal(r->students[1].ref, "rendu");
	assert_int_equal(r->students[1].line, 6);
	assert_true(notes_have(r, "class.yaml:9: key 'email' ignored"));
	tpg_roster_free(r);

	/* A bare list, sniffed without an extension. */
	r = parse_ok("roster", "- {id: a, repo: /r/a}\n- {id: b, url: /r/b}\n", NULL);
	assert_int_equal(r->len, 2);
	tpg_roster_free(r);

	const char *bad = "- {id: a, repo: /r/a}\n- just text\n- {id: c, repo: [x]}\n- {id: a, repo: /r/z}\n";
	char *all = parse_bad("b.yml", bad, strlen(bad));
	assert_non_null(strstr(all, "b.yml:2: students[1]: expected a mapping"));
	assert_non_null(strstr(all, "b.yml:3: students[2].repo: expected a string"));
	assert_non_null(strstr(all, "b.yml:4: duplicate id 'a' (first on line 1)"));
	free(all);

	all = parse_bad("c.yaml", "teachers: []\n", 13);
	assert_non_null(strstr(all, "expected a list of students"));
	free(all);
	all = parse_bad("d.yaml", "- [unclosed\n", 12);
	assert_non_null(strstr(all, "d.yaml:"));
	free(all);
}

static void test_hostile_bytes(void **state)
{
	(void)state;
	/* Random bytes never crash the parser, and whatever it accepts has
	 * safe folders. */
	unsigned seed = 12345;
	char buf[512];
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(round % 500) + 1;
		memcpy(buf, "id,repo\n", 8);
		for (size_t i = 8; i < n + 8 && i < sizeof(buf); i++) {
			seed = seed * 1103515245u + 12345u;
			static const char pick[] = "ab,;\"\n\r \t#\xC3\xA9\xFF/.:-";
			buf[i] = pick[(seed >> 16) % (sizeof(pick) - 1)];
		}
		size_t len = n + 8 < sizeof(buf) ? n + 8 : sizeof(buf);
		tpg_strv problems = TPG_STRV_INIT;
		tpg_roster *r = NULL;
		int rc = tpg_roster_parse(round % 2 ? "x.csv" : "x.yaml", buf, len, "/b", &r, &problems);
		if (rc == 0)
			for (size_t i = 0; i < r->len; i++)
				assert_true(tpg_roster_id_is_safe(r->students[i].folder));
		tpg_roster_free(r);
		tpg_strv_free(&problems);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_basic),
		cmocka_unit_test(test_csv_excel_french),
		cmocka_unit_test(test_csv_tabs_comments_unknown_columns),
		cmocka_unit_test(test_csv_cp1252),
		cmocka_unit_test(test_csv_problems),
		cmocka_unit_test(test_unsafe_ids),
		cmocka_unit_test(test_folder_names),
		cmocka_unit_test(test_yaml),
		cmocka_unit_test(test_hostile_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#!/bin/bash
# tpgrade class on 39 students cloned from local git servers (git://,
# smart HTTP with a token, local paths), broken ones included (not found,
# authentication refused, empty, missing branch, a symlink to /etc/passwd,
# odd file names, connection refused, a server that never answers):
#   - the grades at the deadline, error rows with the right reasons;
#   - -j 4 and -j 1 give the same grade book;
#   - a second run regrades nothing, --force regrades everyone, a late push
#     is regraded alone;
#   - an interrupted run (SIGINT) stops cleanly and the next one resumes;
#   - Gradescope files; the token appears in no output and no file.
set -eu
. "$(dirname "$0")/../lib.sh"
. "$REPO_ROOT/tests/e2e/fixtures/class/setup.sh"
class_setup

csv_field() { # DIR ID COLUMN: a field of grades.csv (python's csv module)
    python3 - "$TEST_TMP/$1/grades.csv" "$2" "$3" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8", newline="")))
print([r for r in rows if r["id"] == sys.argv[2]][0][sys.argv[3]])
PY
}
state_field() { json_get "$TEST_TMP/$1/$2/state.json" "$3"; }

# ------------------------------------------------------------ the reference
class_run ref1 -j 1
assert_status 1 "-j 1 (error rows give exit 1)"
out=$(cat "$TEST_TMP/ref1.log")
assert_contains "$out" "39 students: 33 graded, 6 errors"
assert_contains "$out" "This run: 33 graded, 0 unchanged, 6 errors"
for k in $(seq 1 30); do
    n=$(printf 's%03d' "$k")
    assert_eq "$(expected_score "$k")" "$(csv_field ref1 "$n" score)" "score of $n"
    assert_eq 8 "$(csv_field ref1 "$n" max)" "max of $n"
    late=0
    [ $((k % 4)) != 0 ] || late=1
    assert_eq "$late" "$(csv_field ref1 "$n" commits_after_deadline)" "late commits of $n"
done
# The deadline picked c2 of s004 (full, 9), not its late c3 (shell, 4).
assert_eq "2026-12-05T10:00:00+01:00" "$(csv_field ref1 s004 commit_date)"
assert_eq "$(git --git-dir="$CLASS_REPOS/s004.git" rev-parse main~1)" "$(csv_field ref1 s004 commit)"
head -1 "$TEST_TMP/ref1/grades.csv" | grep -q '^id,name,group,score,max,cowsay.dockerfile,cowsay.entrypoint,cowsay.program,health.app,health.instruction,health.fail,docs.readme,commit,commit_date,commits_after_deadline,status,message' ||
    fail "grades.csv header: $(head -1 "$TEST_TMP/ref1/grades.csv")"

# Error rows and why.
for pair in "ghost:repository not found" "intruder:authentication refused" "vide:empty repository" \
    "nobranch:ref not found" "refused:host unreachable" "hung:timeout"; do
    id=${pair%%:*}
    assert_eq error "$(csv_field ref1 "$id" status)" "status of $id"
    assert_eq "${pair#*:}" "$(state_field ref1 "$id" failure)" "failure of $id"
done
assert_contains "$(csv_field ref1 nobranch message)" "rendu-final"
assert_contains "$(csv_field ref1 intruder message)" "authentication refused"
# The symlink is never followed; odd names do not stop grading.
assert_eq graded "$(csv_field ref1 lien status)"
assert_eq 0 "$(csv_field ref1 lien cowsay.dockerfile)"
grep -q 'root:x:0:0' -r "$TEST_TMP/ref1" && fail "/etc/passwd was read"
assert_file_contains "$TEST_TMP/ref1/lien/result.json" "/etc/passwd"
assert_eq 9 "$(csv_field ref1 noms score)"
# The hostile id gets a safe folder; its name stays text.
assert_eq 5 "$(csv_field ref1 'ünï/../x' score)"
folder=$(json_get "$TEST_TMP/ref1/class.json" "students.30.folder")
case $folder in _n_.._x-*) ;; *) fail "folder of the hostile id: $folder" ;; esac
assert_file "$TEST_TMP/ref1/$folder/result.json"
[ ! -e "$TEST_TMP/x" ] || fail "a folder escaped the output"
for f in junit.xml result.json log.txt state.json; do assert_file "$TEST_TMP/ref1/s001/$f"; done
[ ! -e "$TEST_TMP/ref1/ghost/result.json" ] || fail "an error row has a result.json"
assert_file "$TEST_TMP/ref1/ghost/log.txt"
assert_eq 39 "$(json_get "$TEST_TMP/ref1/summary.json" count)"
assert_eq 33 "$(json_get "$TEST_TMP/ref1/summary.json" graded)"
assert_eq 6 "$(json_get "$TEST_TMP/ref1/summary.json" errors)"
ls -A "$TEST_TMP/ref1"/*/.staging >/dev/null 2>&1 && fail "staging folders left behind"

# ---------------------------------------------------------- -j 4 == -j 1
class_run ref4 -j 4 --format gradescope
assert_status 1
diff <(normalized_csv ref1) <(normalized_csv ref4) >"$TEST_TMP/j.diff" ||
    fail "-j 4 and -j 1 differ: $(head -20 "$TEST_TMP/j.diff")"
python3 - "$TEST_TMP/ref1/summary.json" "$TEST_TMP/ref4/summary.json" <<'PY' || fail "summaries differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    for k in ("generated", "run"):
        d.pop(k)
    for e in d["students_in_error"]:
        e["message"] = " ".join(w for w in e["message"].split() if not w[0].isdigit())
assert a == b, (a, b)
PY
# Gradescope files, graded and error rows.
assert_eq 9 "$(json_get "$TEST_TMP/ref4/s004/results.json" score)"
assert_eq 7 "$(json_get "$TEST_TMP/ref4/s004/results.json" tests | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
assert_eq 0 "$(json_get "$TEST_TMP/ref4/ghost/results.json" score)"
assert_contains "$(json_get "$TEST_TMP/ref4/ghost/results.json" output)" "could not be graded"

# ------------------------------------------------- incremental and --force
md5() { (cd "$TEST_TMP/$1" && find . -name state.json -path './s0*' | sort | xargs md5sum); }
before=$(md5 ref1)
class_run ref1 -j 2
assert_status 1
assert_eq 0 "$(summary_run ref1 graded)" "second run: nothing graded again"
# The two transient errors (timeout, refused) are retried; every other row is unchanged.
assert_eq 37 "$(summary_run ref1 unchanged)"
assert_eq "$before" "$(md5 ref1)" "states rewritten by an unchanged run"
assert_contains "$(cat "$TEST_TMP/ref1.log")" "This run: 0 graded, 37 unchanged, 2 errors"
diff <(normalized_csv ref1) <(normalized_csv ref4) >/dev/null || fail "the grade book changed"

class_run ref1 -j 2 --force
assert_status 1
assert_eq 33 "$(summary_run ref1 graded)" "--force regrades everyone"

# A push before the deadline (s005: full -> shell) and one after (s010).
push() { # K TREE DATE
    local w
    w=$(mktemp_dir push)
    _class_git clone -q "$CLASS_REPOS/$(printf 's%03d' "$1").git" "$w"
    find "$w" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
    cp -R "$CLASS_FIXTURES/trees/$2/." "$w/"
    _class_git -C "$w" add -A
    DATE=$3 _class_git -C "$w" commit -q -m "push $2"
    _class_git -C "$w" push -q origin main
}
push 5 shell 2026-12-08T12:00:00+01:00
push 10 nohealth 2026-12-21T12:00:00+01:00
cp "$TEST_TMP/ref1/grades.csv" "$TEST_TMP/before.csv"
class_run ref1 -j 2
assert_status 1
assert_eq 2 "$(summary_run ref1 graded)" "only the two pushed students are graded again"
assert_eq 4 "$(csv_field ref1 s005 score)"
assert_eq 0 "$(csv_field ref1 s005 commits_after_deadline)"
assert_eq 9 "$(csv_field ref1 s010 score)" "s010 pushed after the deadline"
assert_eq 1 "$(csv_field ref1 s010 commits_after_deadline)"
changed=$(diff <(sed -E 's/after [0-9.]+ s/after N s/g' "$TEST_TMP/before.csv") <(normalized_csv ref1) |
    grep '^>' | cut -d, -f1 | tr '\n' ' ')
assert_eq "> s005 > s010 " "$changed" "rows changed by the push"

# ------------------------------------------------------ interrupt, resume
"$TPGRADE" class -j 1 --out "$TEST_TMP/intr" --token "$CLASS_TOKEN" --deadline "$CLASS_DEADLINE" \
    --git-timeout 2 "$CLASS_SPEC" "$CLASS_ROSTER" >"$TEST_TMP/intr.log" 2>&1 </dev/null &
pid=$!
at_exit kill "$pid"
states_at_least() { [ "$(find "$1" -name state.json 2>/dev/null | wc -l)" -ge "$2" ]; }
wait_until "$(scaled 60)" states_at_least "$TEST_TMP/intr" 6 ||
    fail "the interrupted run did not start grading"
kill -INT "$pid"
set +e
wait "$pid"
STATUS=$?
set -e
assert_status 130 "an interrupted class run"
assert_contains "$(cat "$TEST_TMP/intr.log")" "interrupted"
done_before=$(find "$TEST_TMP/intr" -name state.json | wc -l)
[ "$done_before" -lt 39 ] || fail "the run was not interrupted"
pending=$(grep -c ',pending,' "$TEST_TMP/intr/grades.csv" || true)
assert_eq "$((39 - done_before))" "$pending" "pending rows in the interrupted grade book"
assert_eq true "$(json_get "$TEST_TMP/intr/summary.json" run.interrupted)"
ls -A "$TEST_TMP/intr"/*/.staging >/dev/null 2>&1 && fail "staging left by the interrupted run"
pgrep -f -- "$TEST_TMP/intr" >/dev/null && fail "children still running after the interruption"
class_run intr -j 2
assert_status 1 "the resumed run"
# Finished students are not graded again; the others are.
assert_eq "$done_before" "$(summary_run intr unchanged)" "resume: finished students unchanged"
assert_eq "$((39 - done_before))" "$(( $(summary_run intr graded) + $(summary_run intr errors) ))" \
    "resume: the others graded"
diff <(normalized_csv intr) <(normalized_csv ref1) >"$TEST_TMP/r.diff" ||
    fail "resumed grade book differs: $(head -20 "$TEST_TMP/r.diff")"

# ------------------------------------------------- the per-student deadline
# A child stuck on a server that never answers (with a long git timeout) is
# stopped by the per-student limit; the class goes on.
{ head -1 "$CLASS_ROSTER"; grep -E '^(hung|s002),' "$CLASS_ROSTER"; } >"$TEST_TMP/slow.csv"
t0=$(date +%s)
"$TPGRADE" class -j 2 --out "$TEST_TMP/slow" --token "$CLASS_TOKEN" --git-timeout 120 \
    --student-timeout "$(scaled 2)" --grace 2 "$CLASS_SPEC" "$TEST_TMP/slow.csv" \
    >"$TEST_TMP/slow.log" 2>&1 </dev/null && STATUS=0 || STATUS=$?
assert_status 1 "a class with a student stopped by the time limit"
[ $(($(date +%s) - t0)) -lt "$(scaled 30)" ] || fail "the per-student limit did not stop the child"
assert_eq timeout "$(state_field slow hung failure)"
assert_contains "$(csv_field slow hung message)" "per-student time limit"
assert_eq graded "$(csv_field slow s002 status)"
pgrep -f -- "$TEST_TMP/slow" >/dev/null && fail "a stopped child is still running"

# -------------------------------------------------------------- the token
all_outputs=$(cat "$TEST_TMP"/*.log)
[ -n "$all_outputs" ] || fail "no console output collected"
assert_not_contains "$all_outputs" "$CLASS_TOKEN" "the token in the console output"
if grep -rlF -- "$CLASS_TOKEN" "$TEST_TMP/ref1" "$TEST_TMP/ref4" "$TEST_TMP/intr" "$TEST_TMP/slow" >"$TEST_TMP/leak" 2>/dev/null; then
    fail "the token is in $(head -3 "$TEST_TMP/leak")"
fi
note "token absent from $(find "$TEST_TMP/ref1" "$TEST_TMP/ref4" "$TEST_TMP/intr" -type f | wc -l) files and the console output"

# ------------------------------------------------ the servers go away
# Students whose server does not answer keep their grade, with a note.
"$REPO_ROOT/tests/env/git-server.sh" stop "$CLASS_SRV"
class_run ref1 -j 2
assert_status 1
assert_eq 0 "$(summary_run ref1 graded)" "nothing graded while the servers are down"
assert_eq graded "$(csv_field ref1 s001 status)"
assert_eq 4 "$(csv_field ref1 s001 score)"
assert_contains "$(csv_field ref1 s001 message)" "not checked for new commits this run (host unreachable"
assert_not_contains "$(csv_field ref1 s002 message)" "not checked" "a local repository is checked"
assert_contains "$(cat "$TEST_TMP/ref1.log")" "s003: 5/8 (kept, not checked: host unreachable"

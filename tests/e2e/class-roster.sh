#!/bin/bash
# tpgrade class: rosters as instructors write them (French Excel CSV, YAML),
# roster problems reported with their lines (exit 2, nothing graded), the
# progress line on a terminal, usage errors, the lock on the output folder,
# and `tpgrade merge` misuse.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
need_cmd git python3
spec=$REPO_ROOT/tests/e2e/fixtures/class/spec.yaml
trees=$REPO_ROOT/tests/e2e/fixtures/class/trees
d=$(mktemp_dir class)
for v in full shell; do
    mkdir -p "$d/$v"
    cp -R "$trees/$v/." "$d/$v/"
    make_git_repo "$d/$v" >/dev/null
done

# ------------------------------------------------- French Excel and YAML
printf '\xef\xbb\xbfEtudiant;Nom;Groupe;D\xc3\xa9p\xc3\xb4t\r\n' >"$d/excel.csv"
printf 'e1;"Dupont; Jean";G1;full\r\n' >>"$d/excel.csv"
printf 'e2;"L\x27""as"" des TP";G2;shell\r\n' >>"$d/excel.csv"
run "$TPGRADE" class -j 2 --out "$d/o1" "$spec" "$d/excel.csv"
assert_status 0
assert_contains "$OUT" "2 students: 2 graded, 0 errors"
assert_file_contains "$d/o1/grades.csv" 'e1,"Dupont; Jean",G1,9,8'
assert_file_contains "$d/o1/grades.csv" "e2,\"L'\"\"as\"\" des TP\",G2,4,8"

cat >"$d/class.yaml" <<EOF
students:
  - {id: y1, name: Yasmine, repo: full}
  - id: y2
    repository: $d/shell
    branch: main
EOF
run "$TPGRADE" class -q --out "$d/o2" "$spec" "$d/class.yaml"
assert_status 0
assert_file_contains "$d/o2/grades.csv" "y1,Yasmine,,9,8"
assert_file_contains "$d/o2/grades.csv" "y2,,,4,8"

# ---------------------------------------------------------- roster problems
cat >"$d/bad.csv" <<EOF
id,name,repo
alice,Alice,full
bob,Bob,
,Nobody,shell
alice,Alice again,shell
../../etc,Climber,full
EOF
run "$TPGRADE" class --out "$d/o3" "$spec" "$d/bad.csv"
assert_status 2
assert_contains "$ERR" "bad.csv:3: student 'bob' has no repository"
assert_contains "$ERR" "bad.csv:4: no id for repository shell"
assert_contains "$ERR" "bad.csv:5: duplicate id 'alice' (first on line 2)"
assert_contains "$ERR" "3 problems in the roster: nothing graded"
[ ! -e "$d/o3" ] || fail "an output folder was created for a bad roster"

# Unsafe ids are a note, not an error: the id is kept, the folder is safe.
printf 'id,repo\n../../etc,full\n' >"$d/unsafe.csv"
run "$TPGRADE" class --out "$d/o4" "$spec" "$d/unsafe.csv"
assert_status 0
assert_contains "$ERR" "unsafe.csv:2: id '../../etc' is not usable as a folder name"
assert_file_contains "$d/o4/grades.csv" "../../etc,,,9,8"
[ "$(find "$d/o4" -mindepth 1 -maxdepth 1 -type d | wc -l)" = 1 ] || fail "unexpected folders in o4"
[ ! -e "$d/etc" ] || fail "the id climbed out of the output folder"

printf 'id,repo,deadline\nz,full,next friday\n' >"$d/dl.csv"
run "$TPGRADE" class --out "$d/o5" "$spec" "$d/dl.csv"
assert_status 2
assert_contains "$ERR" "dl.csv:2: deadline:"

printf 'name,url\nA,full\n' >"$d/noid.csv"
run "$TPGRADE" class --out "$d/o5" "$spec" "$d/noid.csv"
assert_status 2
assert_contains "$ERR" "noid.csv:1: the header row needs an id column"

run "$TPGRADE" class --out "$d/o5" "$spec" "$d/missing.csv"
assert_status 2
assert_contains "$ERR" "cannot open the roster"

# --------------------------------------------------------- the progress line
# On a terminal (script(1) gives one): a line rewritten in place (done,
# failed, unchanged, running, elapsed, ETA), errors printed above it and
# kept, graded students left to the line, the summary after it.
if command -v script >/dev/null; then
    printf 'id,repo\nt0,nowhere\nt1,full\nt2,shell\n' >"$d/tty.csv"
    script -qec "$(printf '%q ' "$TPGRADE" class -j 1 --out "$d/o8" "$spec" "$d/tty.csv")" \
        /dev/null </dev/null >"$d/tty.log" 2>&1 && STATUS=0 || STATUS=$?
    assert_status 1 "class on a terminal with an error row"
    tty_out=$(tr '\r' '\n' <"$d/tty.log")
    assert_contains "$tty_out" "$(printf '\033[K')[1/3] t0: error (repository not found): cannot grade"
    assert_contains "$tty_out" "1/3 done, 1 failed, 0 unchanged, 0 running, 0:0"
    assert_contains "$tty_out" " elapsed, ETA "
    assert_contains "$tty_out" "3/3 done, 1 failed, 0 unchanged, 0 running"
    assert_contains "$tty_out" "3 students: 2 graded, 1 error"
    assert_not_contains "$tty_out" "t1:" "a graded student is left to the progress line"
    # Not a terminal: one line per student, no escape sequences.
    run "$TPGRADE" class -j 1 --force --out "$d/o8" "$spec" "$d/tty.csv"
    assert_contains "$ERR" "t1: 9/8 (graded"
    assert_not_contains "$ERR" "$(printf '\033')" "escape sequences without a terminal"
else
    note "script(1) not installed: the progress line is not tested (Debian package bsdutils)"
fi

# ------------------------------------------------------------- usage errors
run "$TPGRADE" class "$spec"
assert_status 2
assert_contains "$ERR" "give SPEC and ROSTER"
run "$TPGRADE" class --shard 4/3 "$spec" "$d/excel.csv"
assert_status 2
assert_contains "$ERR" "--shard takes K/N"
run env JOB_COMPLETION_INDEX=1 "$TPGRADE" class --out "$d/o6" "$spec" "$d/excel.csv"
assert_status 2
assert_contains "$ERR" "give --shard-total N"
run "$TPGRADE" class -j 0 "$spec" "$d/excel.csv"
assert_status 2
run "$TPGRADE" class --deadline tomorrow "$spec" "$d/excel.csv"
assert_status 2
run "$TPGRADE" class --format pdf "$spec" "$d/excel.csv"
assert_status 2
printf 'tp: x\n' >"$d/bad-spec.yaml"
run "$TPGRADE" class --out "$d/o6" "$d/bad-spec.yaml" "$d/excel.csv"
assert_status 2
assert_contains "$ERR" "in the spec: nothing graded"
run "$TPGRADE" class --help
assert_status 0
assert_contains "$OUT" "--shard K/N"

# One run per output folder: a lock held by one process (python3).
python3 - "$d/o1/.lock" "$d/locked" <<'PY' &
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)
PY
lockpid=$!
at_exit kill "$lockpid"
wait_until "$(scaled 10)" test -e "$d/locked" || fail "could not take the lock"
run "$TPGRADE" class --out "$d/o1" "$spec" "$d/excel.csv"
assert_status 2
assert_contains "$ERR" "another tpgrade class is writing to"
kill "$lockpid"
wait "$lockpid" 2>/dev/null || true

# -------------------------------------------------------------------- merge
run "$TPGRADE" merge
assert_status 2
run "$TPGRADE" merge --out "$d/m" "$d/nowhere"
assert_status 2
assert_contains "$ERR" "class.json"
# Outputs of two specs do not merge.
cp "$spec" "$d/other-spec.yaml"
printf '# changed\n' >>"$d/other-spec.yaml"
run "$TPGRADE" class -q --out "$d/o7" "$d/other-spec.yaml" "$d/excel.csv"
assert_status 0
# A spec that changed regrades everyone; the same spec again regrades nobody.
run "$TPGRADE" class -q --out "$d/o1" "$spec" "$d/excel.csv"
assert_contains "$OUT" "This run: 0 graded, 2 unchanged"
run "$TPGRADE" class -q --out "$d/o1" "$d/other-spec.yaml" "$d/excel.csv"
assert_contains "$OUT" "This run: 2 graded, 0 unchanged"
run "$TPGRADE" merge --out "$d/m" "$d/o1" "$d/o7"
assert_status 0
run "$TPGRADE" merge --out "$d/m" "$d/o2" "$d/o7"
assert_status 2
assert_contains "$ERR" "was graded with another spec"

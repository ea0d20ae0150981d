#!/bin/bash
# Sharding: three shards (--shard 1/3, GitLab's CI_NODE_INDEX/CI_NODE_TOTAL,
# Kubernetes' JOB_COMPLETION_INDEX with --shard-total) merged with
# `tpgrade merge` give the grade book of one run; a missing shard shows as
# students not graded yet.
set -eu
. "$(dirname "$0")/../lib.sh"
. "$REPO_ROOT/tests/e2e/fixtures/class/setup.sh"
class_setup

class_run one -j 2 --format gradescope
assert_status 1

# Three shards, three ways of naming them.
class_run s1 -j 2 --shard 1/3
assert_status 1
assert_contains "$(cat "$TEST_TMP/s1.log")" "shard 1 of 3: 13 of 39 students"
CI_NODE_INDEX=2 CI_NODE_TOTAL=3 class_run s2 -j 2
assert_status 1
assert_contains "$(cat "$TEST_TMP/s2.log")" "shard 2 of 3: 13 of 39 students"
JOB_COMPLETION_INDEX=2 class_run s3 -j 2 --shard-total 3
assert_status 1
assert_contains "$(cat "$TEST_TMP/s3.log")" "shard 3 of 3: 13 of 39 students"

# Every 3rd student, in roster order, and nobody twice.
ids() { tail -n +2 "$TEST_TMP/$1/grades.csv" | cut -d, -f1 | tr '\n' ' '; }
case $(ids s1) in "s001 s004 s007 "*) ;; *) fail "shard 1 holds $(ids s1)" ;; esac
case $(ids s2) in "s002 s005 s008 "*) ;; *) fail "shard 2 holds $(ids s2)" ;; esac
case $(ids s3) in "s003 s006 s009 "*) ;; *) fail "shard 3 holds $(ids s3)" ;; esac
assert_eq 2 "$(json_get "$TEST_TMP/s2/summary.json" shard.index)"
[ ! -e "$TEST_TMP/s1/s002" ] || fail "shard 1 graded a student of shard 2"

run "$TPGRADE" merge --format gradescope --out "$TEST_TMP/merged" "$TEST_TMP/s3" "$TEST_TMP/s1" "$TEST_TMP/s2"
assert_status 1 "merge (error rows give 1)"
assert_contains "$OUT" "39 students: 33 graded, 6 errors"
diff <(normalized_csv one) <(normalized_csv merged) >"$TEST_TMP/m.diff" ||
    fail "merged grade book differs from one run: $(head -20 "$TEST_TMP/m.diff")"
python3 - "$TEST_TMP/one/summary.json" "$TEST_TMP/merged/summary.json" <<'PY' || fail "summaries differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    for k in ("generated", "run", "shard"):
        d.pop(k)
    for e in d["students_in_error"]:
        e["message"] = " ".join(w for w in e["message"].split() if not w[0].isdigit())
assert a == b, (a, b)
PY
# The students' files come along; Gradescope's files are made.
for f in result.json junit.xml log.txt state.json results.json; do
    assert_file "$TEST_TMP/merged/s002/$f"
done
cmp "$TEST_TMP/s2/s002/result.json" "$TEST_TMP/merged/s002/result.json" || fail "result.json not copied as is"
assert_eq 9 "$(json_get "$TEST_TMP/merged/s004/results.json" score)"
assert_file "$TEST_TMP/merged/report.html"
assert_eq null "$(json_get "$TEST_TMP/merged/summary.json" shard)"

# Merging again into the same folder is harmless; a shard missing shows.
run "$TPGRADE" merge --out "$TEST_TMP/merged" "$TEST_TMP/s1" "$TEST_TMP/s2" "$TEST_TMP/s3"
assert_status 1
diff <(normalized_csv one) <(normalized_csv merged) >/dev/null || fail "second merge differs"
run "$TPGRADE" merge --out "$TEST_TMP/partial" "$TEST_TMP/s1" "$TEST_TMP/s2"
assert_status 1
assert_contains "$ERR" "13 students in no shard's output"
assert_eq 13 "$(json_get "$TEST_TMP/partial/summary.json" pending)"
assert_eq 39 "$(($(wc -l <"$TEST_TMP/partial/grades.csv") - 1))"

# A shard graded again (incremental) still merges the same.
class_run s2 -j 2 --shard 2/3
assert_status 1
assert_eq 0 "$(summary_run s2 graded)"
run "$TPGRADE" merge --out "$TEST_TMP/merged2" "$TEST_TMP/s1" "$TEST_TMP/s2" "$TEST_TMP/s3"
diff <(normalized_csv one) <(normalized_csv merged2) >/dev/null || fail "merge after an incremental shard run differs"
grep -rlF -- "$CLASS_TOKEN" "$TEST_TMP"/s? "$TEST_TMP"/merged* "$TEST_TMP"/*.log && fail "token leaked"
true

#!/bin/bash
# TP 2Bis end to end: grade every sample submission with checks/tp2bis.yaml
# against the real daemon (images built, containers run, health watched)
# and a real registry:2 on port 5000, and compare each check's outcome with
# the sample's `expected` file. The complete sample is graded with the live
# checks (the registry exercise done for real first); the others without.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
need_cmd xmllint
need_docker python:3-slim ubuntu registry:2
spec="$REPO_ROOT/checks/tp2bis.yaml"
xsd="$REPO_ROOT/tests/data/junit/junit-gitlab.xsd"
samples="$REPO_ROOT/sample-submissions"
out=$(mktemp_dir out)
# Shorter waits than the rubric's 60 s: only the failing samples wait it out.
wait_var="health_wait=15s"

count_labelled() {
	echo $(( $(docker ps -aq --filter label=tpgrade.run | wc -l) +
	         $(docker images -q --filter label=tpgrade.run | wc -l) +
	         $(docker network ls -q --filter label=tpgrade.run | wc -l) ))
}
before=$(count_labelled)

# --- Exercise 3 done for real, as the student would: registry:2 on 5000.
reg=tpgtest-tp2bis-registry
docker rm -f "$reg" >/dev/null 2>&1 || true
if curl -s -o /dev/null --max-time 2 http://127.0.0.1:5000/v2/; then
	fail "port 5000 is already in use: the TP's registry needs it"
fi
docker run -d -p 5000:5000 --restart always --name "$reg" registry:2 >/dev/null
at_exit docker rm -f "$reg"
at_exit docker image rm -f localhost:5000/my-ubuntu
wait_until 30 curl -sf -o /dev/null http://127.0.0.1:5000/v2/ || fail "registry:2 did not start"
docker tag ubuntu localhost:5000/my-ubuntu
docker push -q localhost:5000/my-ubuntu >/dev/null
docker image rm localhost:5000/my-ubuntu >/dev/null
docker pull -q localhost:5000/my-ubuntu >/dev/null

compare() { # sample json
	python3 - "$1" "$2" "$samples/$1/expected" <<'PY'
import json, sys
name, report, expected = sys.argv[1:]
r = json.load(open(report))
got = {c["id"]: c["status"] for c in r["checks"]}
want = {}
for line in open(expected):
    line = line.split("#", 1)[0].strip()
    if line:
        cid, status = line.split()
        want[cid] = status
bad = [f"  {cid}: expected {want[cid]}, got {got.get(cid)}: "
       + next((c["message"] for c in r["checks"] if c["id"] == cid), "")[:300]
       for cid in want if got.get(cid) != want[cid]]
extra = sorted(set(got) - set(want))
if bad or extra:
    print(f"{name}: outcomes differ from {expected}:\n" + "\n".join(bad)
          + (f"\n  not in expected: {extra}" if extra else ""))
    sys.exit(1)
print(f"{name}: {len(want)} checks as expected, score {r['score']:g}/{r['max_score']:g}")
PY
}

failures=0
for dir in "$samples"/*/; do
	name=$(basename "$dir")
	[ -f "$dir/expected" ] || fail "$name has no expected file"
	repo="$out/repos/$name"
	mkdir -p "$(dirname "$repo")"
	cp -a "$dir/repo" "$repo"
	make_git_repo "$repo" >/dev/null
	args=(--var "$wait_var" --json "$out/$name.json" --junit "$out/$name.xml" --no-color)
	[ "$name" = complete ] || args+=(--skip-tags live)
	start=$(date +%s.%N)
	# The repository is cloned (a local git repository), as an instructor would.
	run "$TPGRADE" grade -v "${args[@]}" "$spec" "$repo"
	secs=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$(date +%s.%N)")
	note "$name graded in $secs s (exit $STATUS)"
	[ "$STATUS" = 0 ] || [ "$STATUS" = 1 ] || fail "$name: exit status $STATUS"
	xmllint --noout --schema "$xsd" "$out/$name.xml" 2>/dev/null || fail "$name: JUnit does not validate"
	compare "$name" "$out/$name.json" || failures=$((failures + 1))
	if [ "$name" = complete ]; then
		assert_eq "$(json_get "$out/complete.json" score)" "29"
		assert_eq "$(json_get "$out/complete.json" max_score)" "28"
		assert_eq "$STATUS" "0"
		# Graded from a clone: the report names the commit.
		assert_match "$(json_get "$out/complete.json" commit)" '^[0-9a-f]{40}$'
		assert_eq "$(json_get "$out/complete.json" commit)" "$(git -C "$repo" rev-parse HEAD)"
		# Every report line says which file it graded.
		python3 -c "
import json; r = json.load(open('$out/complete.json'))
graded = [c for c in r['checks'] if 'live' not in c['tags']]
missing = [c['id'] for c in graded if not c['file']]
assert not missing, missing" || fail "a check without the file it graded"
	fi
done
[ "$failures" = 0 ] || fail "$failures sample(s) graded differently than expected"

# The malformed JSON gets its own explanation; curl without -f says why.
assert_contains "$(json_get "$out/malformed-json.json" checks.16.message)" "not valid JSON"
assert_contains "$(json_get "$out/curl-no-fail.json" checks.2.message)" "curl"

# Nothing left behind by any run.
after=$(count_labelled)
assert_eq "$after" "$before" "Docker objects labelled tpgrade.run before/after"

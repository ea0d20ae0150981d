#!/bin/bash
# The grade/check/validate/list commands on static checks: outcomes, exit
# codes, report formats (JUnit validated against GitLab's schema), selection.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
need_cmd xmllint
spec="$REPO_ROOT/tests/e2e/fixtures/static.yaml"
xsd="$REPO_ROOT/tests/data/junit/junit-gitlab.xsd"
repo=$(mktemp_dir repo)
mkdir -p "$repo/cowsay" "$repo/tp2bis/healthcheck"
cat >"$repo/cowsay/Dockerfile" <<'DF'
FROM ubuntu
RUN apt-get update && apt-get install -y cowsay
ENTRYPOINT ["/usr/games/cowsay" "-f"]
DF
cat >"$repo/tp2bis/healthcheck/app.py" <<'PY'
from flask import Flask
app = Flask(__name__)
@app.route("/health")
def health(): return "ok"
@app.route("/kill")
def kill(): return "bye"
PY
cat >"$repo/tp2bis/healthcheck/Dockerfile" <<'DF'
FROM python:3-slim
RUN pip install flask
COPY app.py .
HEALTHCHECK CMD curl http://localhost:5000/health
CMD ["python", "app.py"]
DF
echo "# notes" >"$repo/readme.md"
out=$(mktemp_dir out)

# --- grade: failures give exit 1, and every format is written.
run "$TPGRADE" grade --in-place --no-color --lang en --junit "$out/j.xml" --json "$out/r.json" \
	--gradescope "$out/g.json" "$spec" "$repo"
assert_status 1
assert_contains "$OUT" "cowsay.entrypoint-exec"
assert_contains "$OUT" "not valid JSON"
assert_contains "$OUT" "Hint: Add --fail to curl"
xmllint --noout --schema "$xsd" "$out/j.xml" || fail "JUnit does not validate"
assert_eq "$(json_get "$out/r.json" score)" "5"
assert_eq "$(json_get "$out/r.json" max_score)" "8"
assert_eq "$(json_get "$out/r.json" exit_code)" "1"
python3 - "$out/r.json" <<'PYCHK' || fail "per-check outcomes differ"
import json, sys
r = json.load(open(sys.argv[1]))
want = {"health.files": "passed", "health.instruction": "passed", "health.probe": "failed",
        "cowsay.dockerfile": "passed", "cowsay.entrypoint-exec": "failed",
        "cowsay.entrypoint-cowsay": "skipped", "misc.readme": "passed", "misc.no-secrets": "passed"}
got = {c["id"]: c["status"] for c in r["checks"]}
assert got == want, got
files = {c["id"]: c["file"] for c in r["checks"]}
assert files["cowsay.entrypoint-exec"] == "cowsay/Dockerfile", files
assert files["health.instruction"] == "tp2bis/healthcheck/Dockerfile", files
c = [c for c in r["checks"] if c["id"] == "cowsay.entrypoint-cowsay"][0]
assert "needs cowsay.entrypoint-exec" in c["message"], c
assert [c for c in r["checks"] if c["id"] == "misc.readme"][0]["bonus"] is True
PYCHK
grep -q '<failure' "$out/j.xml" || fail "no <failure> in JUnit"
grep -q '<skipped' "$out/j.xml" || fail "no <skipped> in JUnit"
grep -q 'file="cowsay/Dockerfile"' "$out/j.xml" || fail "no file attribute"
python3 -c "import json,sys; d=json.load(open('$out/g.json')); assert len(d['tests'])==8" || fail "gradescope"

# --- a machine format on stdout moves the terminal report to stderr.
run "$TPGRADE" grade --in-place --json - "$spec" "$repo"
assert_status 1
python3 -c "import json,sys; json.loads(sys.argv[1])" "$OUT" || fail "stdout is not only JSON"
assert_contains "$ERR" "cowsay.entrypoint-exec"

# --- selection: --only, --skip, --tags, --skip-tags; unselected = not counted.
run "$TPGRADE" grade --in-place --only health.files,health.instruction --json "$out/o.json" "$spec" "$repo"
assert_status 0
assert_eq "$(json_get "$out/o.json" max_score)" "3"
run "$TPGRADE" grade --in-place --only cowsay --json "$out/o.json" "$spec" "$repo"
assert_status 1
assert_eq "$(json_get "$out/o.json" max_score)" "4"
run "$TPGRADE" grade --in-place --only 'health.*' --skip health.probe --json "$out/o.json" "$spec" "$repo"
assert_status 0
run "$TPGRADE" grade --in-place --tags docs --json "$out/o.json" "$spec" "$repo"
assert_status 0
assert_eq "$(json_get "$out/o.json" score)" "1"
assert_eq "$(json_get "$out/o.json" max_score)" "0"
run "$TPGRADE" grade --in-place --skip-tags static --json "$out/o.json" "$spec" "$repo"
assert_status 0
# --only pulls in prerequisites (the found Dockerfile), which are reported.
run "$TPGRADE" grade --in-place --only cowsay.entrypoint-exec --json "$out/o.json" "$spec" "$repo"
assert_status 1
python3 -c "
import json; r=json.load(open('$out/o.json'))
s={c['id']:c['status'] for c in r['checks']}
assert s['cowsay.dockerfile']=='passed' and s['cowsay.entrypoint-exec']=='failed', s
assert s['health.files']=='skipped', s" || fail "prerequisites of --only"

# --- fixing the mistakes passes everything (exit 0).
sed -i 's|\["/usr/games/cowsay" "-f"\]|["/usr/games/cowsay"]|' "$repo/cowsay/Dockerfile"
sed -i 's|curl http|curl -fsS http|' "$repo/tp2bis/healthcheck/Dockerfile"
run "$TPGRADE" grade --in-place --json "$out/ok.json" "$spec" "$repo"
assert_status 0
assert_eq "$(json_get "$out/ok.json" score)" "9"

# --- validate, list.
run "$TPGRADE" validate "$spec"
assert_status 0
assert_contains "$OUT" "8 checks in 3 suites, 8 points (+1 bonus)"
run "$TPGRADE" list "$spec"
assert_status 0
assert_contains "$OUT" "cowsay.entrypoint-cowsay"
run "$TPGRADE" validate --kinds
assert_status 0
assert_contains "$OUT" "dockerfile"

# --- student self-check: .tpgrade.yaml names the spec.
cp "$spec" "$repo/spec.yaml"
printf 'spec: spec.yaml\nlang: en\n' >"$repo/.tpgrade.yaml"
(cd "$repo/cowsay" && "$TPGRADE" check --no-color) >"$out/check.txt" 2>&1 || fail "check failed: $(cat "$out/check.txt")"
rm "$repo/.tpgrade.yaml"
run bash -c "cd '$repo' && '$TPGRADE' check"
assert_status 2
assert_contains "$ERR" "spec: tp2bis"

# --- help and version on every command.
for cmd in grade check validate list dump-dockerfile cleanup; do
	run "$TPGRADE" "$cmd" --help
	assert_status 0
	assert_contains "$OUT" "Usage: tpgrade $cmd"
done
run "$TPGRADE" --version
assert_status 0
run "$TPGRADE" frobnicate
assert_status 2

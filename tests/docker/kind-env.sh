#!/bin/bash
# The Docker kinds and their environment: a daemon that is not there
# (every Docker check is an error naming the socket, exit 3, reports
# written, static checks still graded); a run killed with SIGKILL leaves
# labelled objects that `tpgrade cleanup --run ID` removes (and nothing
# else); runs in parallel on one daemon do not collide.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
need_docker busybox:latest python:3-slim

repo=$(mktemp_dir repo)
out=$(mktemp_dir out)
mkdir -p "$repo/app"
cat >"$repo/app/app.py" <<'PY'
from flask import Flask
app = Flask(__name__)
@app.route('/health')
def health():
    return 'OK'
app.run(host='0.0.0.0', port=5000)
PY
cat >"$repo/app/Dockerfile" <<'DF'
FROM python:3-slim
COPY app.py /app.py
HEALTHCHECK CMD curl -f http://localhost:5000/health || exit 1
CMD ["python3", "/app.py"]
DF

# ---- 1. No daemon.
cat >"$out/nodaemon.yaml" <<'YAML'
tp: t
title: no daemon
suites:
  - id: s
    title: s
    checks:
      - id: static
        title: a static check
        kind: file
        path: app/app.py
      - id: build
        title: build
        kind: build
        context: app
      - id: run
        title: run
        kind: run
        image: busybox
      - id: service
        title: service
        kind: service
        image: busybox
      - id: image
        title: image
        kind: image
        image: busybox
      - id: container
        title: container
        kind: container
        name: registry
YAML
run "$TPGRADE" grade --in-place --no-color --lang en --docker-host unix:///nonexistent.sock \
    --json "$out/nd.json" --junit "$out/nd.xml" "$out/nodaemon.yaml" "$repo"
assert_status 3
assert_file "$out/nd.xml"
python3 - "$out/nd.json" <<'PY' || fail "no daemon: outcomes"
import json, sys
r = json.load(open(sys.argv[1]))
c = {x["id"]: x for x in r["checks"]}
assert c["static"]["status"] == "passed", c["static"]
for k in ("build", "run", "service", "image", "container"):
    assert c[k]["status"] == "error", (k, c[k])
    assert "/nonexistent.sock" in c[k]["message"], c[k]["message"]
assert r["exit_code"] == 3
PY

# ---- 2. A crashed run, then tpgrade cleanup.
stranger=$(unique_name stranger)
docker run -d --name "$stranger" --label tpgrade.check=x busybox sleep 600 >/dev/null
docker_rm_at_exit "$stranger"
mark=crash$$$RANDOM
cat >"$out/crash.yaml" <<YAML
tp: t
title: crash
suites:
  - id: s
    title: s
    checks:
      - id: build
        title: build
        kind: build
        context: app
      - id: svc
        title: service
        kind: service
        image: \${found.build.image}
      - id: $mark
        title: a long run
        kind: run
        image: busybox
        args: [sleep, "600"]
        timeout: 10m
YAML
"$TPGRADE" grade --in-place --no-color "$out/crash.yaml" "$repo" >"$out/crash.txt" 2>&1 </dev/null &
pid=$!
at_exit kill -KILL "$pid"
long_run_started() { [ -n "$(docker ps -q --filter "label=tpgrade.check=$mark")" ]; }
wait_until "$(scaled 60)" long_run_started || fail "the long run never started: $(cat "$out/crash.txt")"
runid=$(docker ps --filter "label=tpgrade.check=$mark" --format '{{.Label "tpgrade.run"}}')
assert_match "$runid" '^[0-9a-f]{12}$'
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
count() {
    { docker ps -aq --filter "label=tpgrade.run=$runid"
      docker images -q --filter "label=tpgrade.run=$runid"; } | wc -l
}
assert_eq 3 "$(count)" "objects left by the killed run (2 containers, 1 image)"
run "$TPGRADE" cleanup --run "$runid"
assert_status 0
assert_contains "$OUT" "removed 2 containers, 1 image"
assert_eq 0 "$(count)" "objects left after cleanup"
assert_eq running "$(docker inspect -f '{{.State.Status}}' "$stranger")" "a container without the run label"

# ---- 3. Parallel runs on one daemon.
cat >"$out/par.yaml" <<'YAML'
tp: t
title: parallel
suites:
  - id: s
    title: s
    checks:
      - id: app.build
        title: build
        kind: build
        context: app
      - id: app.svc
        title: service
        kind: service
        image: ${found.app.build.image}
        port: 5000
        health: {interval: 500ms, retries: 3}
        steps:
          - wait-health: healthy
            within: 60s
          - http: {path: /health, body: {equals: OK}}
      - id: app.run
        title: run
        kind: run
        image: ${found.app.build.tag}
        args: [python3, -c, "print('ok')"]
        expect: [{stdout: {equals: ok}}]
YAML
pids=()
for i in 1 2 3 4; do
    "$TPGRADE" grade --in-place --no-color --json "$out/par$i.json" "$out/par.yaml" "$repo" \
        >"$out/par$i.txt" 2>&1 </dev/null &
    pids+=($!)
done
for i in 1 2 3 4; do
    st=0
    wait "${pids[$((i - 1))]}" || st=$?
    sed 's/^/  | /' "$out/par$i.txt" >&2
    assert_eq 0 "$st" "parallel run $i"
done
ids=$(for i in 1 2 3 4; do json_get "$out/par$i.json" checks[0].data.build.run; done | sort -u | wc -l)
assert_eq 4 "$ids" "distinct run ids"
for i in 1 2 3 4; do
    runid=$(json_get "$out/par$i.json" checks[0].data.build.run)
    assert_eq 0 "$(count)" "objects left by parallel run $i"
done

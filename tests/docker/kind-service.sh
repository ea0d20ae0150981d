#!/bin/bash
# `kind: service` and `kind: container` against the real daemon. The TP's
# Flask app with HEALTHCHECK `curl -f .../health`: healthy, GET /kill,
# unhealthy, with a 1 s health interval instead of the image's 30 s; the
# same app with curl WITHOUT -f never turns unhealthy (the point of the
# exercise), and the report shows the last probes and the logs; reusing
# the container in a later check (exec, logs); both ways of reaching it
# (container IP, published port); an image without HEALTHCHECK; a service
# that dies at once. `container` checks on a registry:2 the test starts
# itself, which the run must leave alone.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
need_docker python:3-slim busybox:latest registry:2

repo=$(mktemp_dir repo)
out=$(mktemp_dir out)
mkdir -p "$repo/good" "$repo/nofail" "$repo/plain"
cat >"$repo/good/app.py" <<'PY'
from flask import Flask
app = Flask(__name__)
healthy = True

@app.route('/health')
def health():
    return ('OK', 200) if healthy else ('NOT OK', 500)

@app.route('/kill')
def kill():
    global healthy
    healthy = False
    return 'You have killed your app.'

if __name__ == '__main__':
    app.run(host='0.0.0.0', port=5000)
PY
cat >"$repo/good/Dockerfile" <<'DF'
FROM python:3-slim
RUN pip install flask
WORKDIR /app
COPY app.py .
HEALTHCHECK CMD curl -f http://localhost:5000/health || exit 1
CMD ["python3", "app.py"]
DF
cp "$repo/good/app.py" "$repo/nofail/app.py"
sed 's/curl -f /curl /' "$repo/good/Dockerfile" >"$repo/nofail/Dockerfile"
cp "$repo/good/app.py" "$repo/plain/app.py"
grep -v HEALTHCHECK "$repo/good/Dockerfile" >"$repo/plain/Dockerfile"

# A registry the "student" started by hand, which the run must not touch.
reg=$(unique_name registry)
reg_port=$(free_port)
docker run -d --name "$reg" --restart always -p "127.0.0.1:$reg_port:5000" \
    --label tpgtest=1 registry:2 >/dev/null || fail "cannot start registry:2"
docker_rm_at_exit "$reg"
plain_ctr=$(unique_name plain)
docker run -d --name "$plain_ctr" busybox sleep 600 >/dev/null
docker_rm_at_exit "$plain_ctr"

spec=$(mktemp_dir spec)/svc.yaml
cat >"$spec" <<YAML
tp: t
title: service kind
x-cycle: &cycle
  kind: service
  port: 5000
  health: {interval: 1s, timeout: 2s, retries: 2}
  steps:
    - wait-health: healthy
      within: 40s
    - http: {path: /health, status: 200, body: {equals: OK}}
    - http: /kill
    - wait-health: unhealthy
      within: 15s
      message: {fr: "reste healthy", en: "the app stays healthy after /kill: does the HEALTHCHECK use curl -f?"}
    - http: {path: /health, status: 500, body: NOT OK}
suites:
  - id: good
    title: curl -f
    checks:
      - id: good.build
        title: builds
        kind: build
        context: good
      - id: good.cycle
        title: healthy, killed, unhealthy
        <<: *cycle
        image: \${found.good.build.image}
      - id: good.reuse
        title: the same container, later
        kind: service
        container: \${found.good.cycle.container}
        steps:
          - exec: {command: [python3, -c, "print('é' * 3)"], stdout: {equals: ééé}}
          - exec: "test -f /app/app.py && echo present"
          - logs: {matches: '"GET /kill HTTP/1\.1" 200'}
          - http: {path: /health, status: 500}
      - id: good.published
        title: reached through a published port
        <<: *cycle
        image: \${found.good.build.image}
        reach: published
  - id: nofail
    title: curl without -f
    checks:
      - id: nofail.build
        title: builds
        kind: build
        context: nofail
      - id: nofail.cycle
        title: never unhealthy
        <<: *cycle
        image: \${found.nofail.build.image}
  - id: other
    title: other services
    checks:
      - id: plain.build
        title: builds
        kind: build
        context: plain
      - id: plain.health
        title: no HEALTHCHECK
        kind: service
        image: \${found.plain.build.image}
        port: 5000
        steps: [{wait-health: healthy, within: 10s}]
      - id: plain.http
        title: answers without a HEALTHCHECK
        kind: service
        image: \${found.plain.build.image}
        port: 5000
        steps: [{http: /health, within: 20s}]
      - id: dies
        title: dies at once
        kind: service
        image: busybox
        args: [sh, -c, "echo boom >&2; exit 4"]
        steps: [{wait-health: running, within: 5s}, {sleep: 1s}, {wait-health: running}]
  - id: logs
    title: logs steps
    checks:
      - id: logs.later
        title: a line that comes after 1 MB of others
        kind: service
        image: busybox
        args: [sh, -c, "seq 1 100000 | sed s/^/noise-/; sleep 2; echo READY; exec sleep 600"]
        steps:
          - logs: {not-contains: READY}
            within: 0
          - logs: READY
            within: 30s
          - logs: {not-contains: Traceback}
      - id: logs.never
        title: a line that never comes
        kind: service
        container: \${found.logs.later.container}
        steps: [{logs: NEVER-PRINTED, within: 2s}]
      - id: logs.stopped
        title: a container that stopped says no more
        kind: service
        image: busybox
        args: [sh, -c, "echo BYE"]
        steps: [{sleep: 1s}, {logs: BYE}, {logs: NOPE, within: 60s}]
  - id: ctr
    title: containers started by hand
    checks:
      - id: ctr.registry
        title: registry runs, restart always, port published
        kind: container
        name: $reg
        image: 'registry:2*'
        running: true
        expect:
          - restart-policy: {equals: always}
          - published: {container: 5000, host: $reg_port}
          - published: '$reg_port:5000'
          - state: running
          - mounts: {matches: 'volume .*:/var/lib/registry'}
          - image: {equals: 'registry:2'}
      - id: ctr.registry-port
        title: the registry's port, alone
        kind: container
        name: $reg
        expect: [{published: '$reg_port:5000'}]
      - id: ctr.plain
        title: wrong restart policy and no port
        kind: container
        name: $plain_ctr
        expect:
          - restart-policy: always
      - id: ctr.plain-port
        title: no port
        kind: container
        name: $plain_ctr
        expect:
          - published: 5000
      - id: ctr.none
        title: absent
        kind: container
        name: tpgtest-does-not-exist-*
        exists: false
      - id: ctr.ours
        title: the run's own service container is visible
        kind: container
        name: \${found.good.cycle.container}
        expect: [{health: unhealthy}]
YAML

run "$TPGRADE" grade --in-place --no-color --lang en -v --json "$out/r.json" "$spec" "$repo"
assert_status 1
python3 - "$out/r.json" "$reg_port" <<'PY' || fail "outcomes differ (see the log)"
import json, sys
r = json.load(open(sys.argv[1])); reg_port = sys.argv[2]
c = {x["id"]: x for x in r["checks"]}
want = {"good.build": "passed", "good.cycle": "passed", "good.reuse": "passed",
        "good.published": "passed", "nofail.build": "passed", "nofail.cycle": "failed",
        "plain.build": "passed", "plain.health": "failed", "plain.http": "passed",
        "dies": "failed", "ctr.registry": "passed", "ctr.plain": "failed",
        "ctr.plain-port": "failed", "ctr.none": "passed", "ctr.ours": "passed",
        "logs.later": "passed", "logs.never": "failed", "logs.stopped": "failed"}
got = {k: v["status"] for k, v in c.items()}
bad = {k: (got.get(k), v, c.get(k, {}).get("message")) for k, v in want.items() if got.get(k) != v}
assert not bad, bad
m = c["good.cycle"]["message"]
assert "healthy after" in m and "unhealthy after" in m and "answered 500" in m, m
# Unhealthy within seconds, not 90: the health override works.
assert c["good.cycle"]["seconds"] < 30, c["good.cycle"]["seconds"]
url = c["good.published"]["data"]["service"]["url"]
assert url.startswith("http://127.0.0.1:") and not url.endswith(":5000"), url
assert not c["good.cycle"]["data"]["service"]["url"].startswith("http://127.0.0.1"), c["good.cycle"]["data"]
n = c["nofail.cycle"]
assert "step 4 (wait-health: unhealthy)" in n["message"], n["message"]
assert "does the HEALTHCHECK use curl -f?" in n["message"], n["message"]
assert "still 'healthy'" in n["message"], n["message"]
assert "kept succeeding" in n["message"], n["message"]
assert "last health checks" in n["output"] and "NOT OK" in n["output"], n["output"]
assert "container logs" in n["output"] and "GET /kill" in n["output"], n["output"]
assert "has no HEALTHCHECK" in c["plain.health"]["message"], c["plain.health"]["message"]
d = c["dies"]
assert "exit code 4" in d["message"], d["message"]
assert "boom" in d["output"], d["output"]
assert "'no'" in c["ctr.plain"]["message"], c["ctr.plain"]["message"]
assert "no port is published" in c["ctr.plain-port"]["message"], c["ctr.plain-port"]["message"]
p = c["ctr.registry-port"]
assert p["status"] == "passed" and "5000/tcp is published on 127.0.0.1:" + reg_port in p["message"], p
# Logs are followed, not read again and again; a stopped container's are final.
assert c["logs.never"]["seconds"] < 10, c["logs.never"]
assert "does not contain 'NEVER-PRINTED'" in c["logs.never"]["message"], c["logs.never"]
s = c["logs.stopped"]
assert s["seconds"] < 30 and "step 3 (logs)" in s["message"], s
print(c["good.cycle"]["data"]["service"]["run"])
PY
runid=$(json_get "$out/r.json" checks[1].data.service.run)
assert_eq "" "$(docker ps -aq --filter "label=tpgrade.run=$runid")" "containers left"
assert_eq "" "$(docker images -q --filter "label=tpgrade.run=$runid")" "images left"
# The student's containers are untouched.
assert_eq "running" "$(docker inspect -f '{{.State.Status}}' "$reg")" "the registry"
assert_eq "running" "$(docker inspect -f '{{.State.Status}}' "$plain_ctr")" "the plain container"

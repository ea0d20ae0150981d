#!/bin/bash
# SIGINT in the middle of a long Docker check: during a build (both
# builders) and during a wait-health. The check is reported as an
# interrupted error, the checks after it are skipped, the reports are
# still written, tpgrade exits 130, and nothing with the run's label is
# left on the daemon (containers, images, networks), nor the build's
# process.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
need_docker busybox:latest

repo=$(mktemp_dir repo)
out=$(mktemp_dir out)
tag=$$$RANDOM
mkdir -p "$repo/fast" "$repo/slow" "$repo/sick"
printf 'FROM busybox\nCMD ["sleep", "600"]\n' >"$repo/fast/Dockerfile"
# A different sleep per test run, to find our build's process.
printf 'FROM busybox\nRUN echo start && sleep 1%s\n' "$tag" >"$repo/slow/Dockerfile"
printf 'FROM busybox\nHEALTHCHECK --interval=1s CMD false\nCMD ["sleep", "600"]\n' \
    >"$repo/sick/Dockerfile"

spec=$(mktemp_dir spec)/sigint.yaml
cat >"$spec" <<YAML
tp: t
title: interrupted
suites:
  - id: s
    title: s
    checks:
      - id: fast.build
        title: builds
        kind: build
        context: fast
      - id: svc-$tag
        title: a service that stays up
        kind: service
        image: \${found.fast.build.image}
      - id: slow.build
        title: a long build
        kind: build
        context: slow
        no-cache: true
      - id: after
        title: never runs
        kind: run
        image: busybox
        args: ["true"]
YAML
cat >"$spec.health" <<YAML
tp: t
title: interrupted
suites:
  - id: s
    title: s
    checks:
      - id: sick.build
        title: builds
        kind: build
        context: sick
      - id: svc-$tag
        title: waits for a health that never comes
        kind: service
        image: \${found.sick.build.image}
        health: {interval: 1s, retries: 1000}
        steps: [{wait-health: healthy, within: 100s}]
      - id: after
        title: never runs
        kind: run
        image: busybox
        args: ["true"]
YAML

# The run id, from the labels of the service container once it exists.
run_id_of_service() {
    docker ps -a --filter "label=tpgrade.check=svc-$tag" --format '{{.Label "tpgrade.run"}}' | head -n1
}

leftovers() {   # RUN_ID
    {
        docker ps -aq --filter "label=tpgrade.run=$1"
        docker images -q --filter "label=tpgrade.run=$1"
        docker network ls -q --filter "label=tpgrade.run=$1"
    } | wc -l
}

interrupt() {   # NAME SPEC WAIT_CMD... : runs tpgrade, waits for WAIT_CMD, sends SIGINT
    local name=$1 spec=$2 pid status runid
    shift 2
    "$TPGRADE" grade --in-place --no-color --lang en --json "$out/$name.json" \
        --junit "$out/$name.xml" "$spec" "$repo" >"$out/$name.txt" 2>&1 </dev/null &
    pid=$!
    at_exit kill -KILL "$pid"
    wait_until "$(scaled 60)" "$@" || { kill -KILL "$pid"; fail "$name: never got to the long step"; }
    runid=$(run_id_of_service)
    sleep 1
    kill -INT "$pid"
    status=0
    wait "$pid" || status=$?
    sed 's/^/  | /' "$out/$name.txt" >&2
    assert_eq 130 "$status" "$name: exit status"
    assert_file "$out/$name.json"
    assert_file "$out/$name.xml"
    assert_match "$runid" '^[0-9a-f]{12}$'
    assert_eq 0 "$(leftovers "$runid")" "$name: objects left with label tpgrade.run=$runid"
    echo "$runid"
}

building() { pgrep -f "[s]leep 1$tag" >/dev/null; }
service_up() { [ -n "$(run_id_of_service)" ]; }

for builder in buildkit classic; do
    interrupt "build-$builder" "$spec" building >/dev/null
    python3 - "$out/build-$builder.json" "svc-$tag" <<'PY' || fail "build-$builder: outcomes"
import json, sys
r = json.load(open(sys.argv[1])); svc = sys.argv[2]
c = {x["id"]: x for x in r["checks"]}
got = {k: v["status"] for k, v in c.items()}
assert got == {"fast.build": "passed", svc: "passed", "slow.build": "error", "after": "skipped"}, got
assert "interrupted" in c["slow.build"]["message"], c["slow.build"]["message"]
assert "interrupted" in c["after"]["message"], c["after"]["message"]
assert r["exit_code"] == 130, r["exit_code"]
PY
    # The daemon stopped the build too.
    wait_until "$(scaled 20)" sh -c "! pgrep -f '[s]leep 1$tag'" || fail "build-$builder: the build goes on"
done

interrupt health "$spec.health" service_up >/dev/null
python3 - "$out/health.json" "svc-$tag" <<'PY' || fail "health: outcomes"
import json, sys
r = json.load(open(sys.argv[1])); svc = sys.argv[2]
c = {x["id"]: x for x in r["checks"]}
got = {k: v["status"] for k, v in c.items()}
assert got == {"sick.build": "passed", svc: "error", "after": "skipped"}, got
m = c[svc]["message"]
assert "interrupted during step 1 (wait-health: healthy)" in m, m
PY

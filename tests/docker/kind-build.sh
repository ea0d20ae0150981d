#!/bin/bash
# `kind: build` against the real daemon: a build that succeeds with both
# builders (and --builder overriding the spec), the built image labelled
# with the run (then removed by the run's cleanup), build args, a
# Dockerfile found by a `dockerfile` check, a build failing at a RUN step
# (the step and its output in the report), a missing context, a
# Dockerfile outside the context.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
need_docker busybox:latest python:3-slim

repo=$(mktemp_dir repo)
out=$(mktemp_dir out)
mkdir -p "$repo/app" "$repo/broken" "$repo/nested/deep" "$repo/other"
cat >"$repo/app/Dockerfile" <<'DF'
FROM busybox
ARG GREETING=hello
RUN echo "$GREETING" > /greeting
COPY hello.txt /hello.txt
CMD ["cat", "/greeting"]
DF
echo "hi there" >"$repo/app/hello.txt"
cat >"$repo/broken/Dockerfile" <<'DF'
FROM busybox
RUN echo step-one-ok
RUN echo "about to fail" && ls /nonexistent-dir-tpgrade
RUN echo never-reached
DF
printf 'FROM busybox\nCMD ["echo", "deep"]\n' >"$repo/nested/deep/Dockerfile.dev"
printf 'FROM busybox\n' >"$repo/other/Dockerfile"

spec=$(mktemp_dir spec)/build.yaml
cat >"$spec" <<'YAML'
tp: t
title: build kind
suites:
  - id: b
    title: builds
    checks:
      - id: app.build
        title: app builds
        kind: build
        context: app
        build-args: {GREETING: bonjour}
        expect: [{log: {not-contains: never-reached}}]
      - id: app.labelled
        title: the image carries the run label
        kind: image
        image: ${found.app.build.image}
        expect:
          - labels: {matches: '^tpgrade\.run=[0-9a-f]{12}$'}
          - labels: {matches: '^tpgrade\.check=app\.build$'}
          - cmd: {equals: '["cat","/greeting"]'}
      - id: app.tag
        title: the tag works as an image name
        kind: run
        image: ${found.app.build.tag}
        expect: [{stdout: {equals: bonjour}}]
      - id: deep.find
        title: the Dockerfile is found
        kind: dockerfile
        find: {glob: "**/Dockerfile.dev"}
        expect: [{present: true, instruction: CMD}]
      - id: deep.build
        title: builds from a found path
        kind: build
        context: ${found.deep.find.dir}
        dockerfile: ${found.deep.find.file}
      - id: broken.build
        title: a RUN step fails
        kind: build
        context: broken
      - id: missing.build
        title: no such context
        kind: build
        context: nowhere
      - id: outside.build
        title: the Dockerfile outside the context
        kind: build
        context: app
        dockerfile: other/Dockerfile
YAML

check_outcomes() {   # REPORT BUILDER
    python3 - "$1" "$2" <<'PY' || fail "outcomes differ with $2 (see the log)"
import json, sys
r = json.load(open(sys.argv[1])); builder = sys.argv[2]
c = {x["id"]: x for x in r["checks"]}
want = {"app.build": "passed", "app.labelled": "passed", "app.tag": "passed",
        "deep.find": "passed", "deep.build": "passed", "broken.build": "failed",
        "missing.build": "failed", "outside.build": "failed"}
got = {k: v["status"] for k, v in c.items()}
assert got == want, got
assert c["app.build"]["data"]["build"]["builder"] == builder, c["app.build"]["data"]
b = c["broken.build"]
assert "RUN echo \"about to fail\" && ls /nonexistent-dir-tpgrade" in b["message"], b["message"]
assert "about to fail" in b["output"], b["output"]
assert "nonexistent-dir-tpgrade" in b["output"], b["output"]
assert "never-reached" not in b["output"], b["output"]
assert b["file"] == "broken/Dockerfile", b["file"]
assert "does not exist" in c["missing.build"]["message"], c["missing.build"]
assert "outside the build context" in c["outside.build"]["message"], c["outside.build"]
assert c["deep.build"]["file"] == "nested/deep/Dockerfile.dev", c["deep.build"]["file"]
print(r["checks"][0]["data"]["build"]["run"])
PY
}

for builder in buildkit classic; do
    run "$TPGRADE" grade --in-place --no-color --lang en --builder "$builder" \
        --json "$out/$builder.json" "$spec" "$repo"
    assert_status 1
    runid=$(check_outcomes "$out/$builder.json" "$builder")
    assert_match "$runid" '^[0-9a-f]{12}$'
    # Everything the run made is gone: images, containers.
    assert_eq "" "$(docker images -q --filter "label=tpgrade.run=$runid")" "images left by $builder"
    assert_eq "" "$(docker ps -aq --filter "label=tpgrade.run=$runid")" "containers left by $builder"
done
# The classic builder names steps "Step N/M".
assert_contains "$(json_get "$out/classic.json" checks[5].message)" "Step "
assert_contains "$(json_get "$out/buildkit.json" checks[5].message)" "[3/4] RUN"

# The spec's builder, when the command line says nothing.
sed 's/        context: app$/        context: app\n        builder: classic/' "$spec" >"$spec.classic"
run "$TPGRADE" grade --in-place --no-color --only app.build --json "$out/spec.json" "$spec.classic" "$repo"
assert_status 0
assert_eq classic "$(json_get "$out/spec.json" checks[0].data.build.builder)"

# Steps that need the network during the build use the default bridge;
# network: none cuts them off (the mirror is unreachable then).
cat >"$spec.net" <<'YAML'
tp: t
title: build network
suites:
  - id: b
    title: b
    checks:
      - id: nonet
        title: no network for RUN
        kind: build
        context: app
        network: none
        builder: classic
YAML
run "$TPGRADE" grade --in-place --no-color --json "$out/net.json" "$spec.net" "$repo"
assert_status 0

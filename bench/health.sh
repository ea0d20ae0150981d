#!/bin/bash
# bench/health.sh - how long grading the HEALTHCHECK exercise takes (build,
# healthy, GET /kill, unhealthy), and what tpgrade costs over the Docker
# operations it asks for. Prints figures; not a test.
#
#   bench/health.sh [BUILD]        # BUILD: folder holding tpgrade (default build)
#
# Env: RUNS (default 5) repetitions of the short runs; DEFAULTS=0 skips the
# run with the image's own health timing (about two minutes); BUILDER
# (buildkit or classic, default buildkit; classic when the docker CLI has
# no buildx, so that both sides use the same builder). Needs dockerd, python3, curl,
# the docker CLI and the python:3-slim base image (tests/env/base-images.sh).
#
# Measured, each RUNS times, median and min:
#   A. tpgrade grade: build + service (health interval 1s, 3 retries):
#      wait healthy, GET /kill, wait unhealthy;
#   B. the same Docker operations with the docker CLI and curl in this
#      script: docker build, docker run --health-interval=1s, polling
#      docker inspect every 200 ms (as tpgrade polls), curl, docker rm -f;
#   A - B is tpgrade's overhead; tpgrade's CPU time is printed too.
# Then once: C. tpgrade with the image's own timing (30 s interval, 3
# retries), the time a grader without the override would take.
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}
TPGRADE=$PWD/$BUILD/tpgrade
RUNS=${RUNS:-5}
BUILDER=${BUILDER:-buildkit}
[ -x "$TPGRADE" ] || { echo "no $TPGRADE: run make" >&2; exit 2; }
ALSO_BUILDKIT=0
if [ "$BUILDER" = buildkit ] && ! docker buildx version >/dev/null 2>&1; then
    # The CLI builds with BuildKit only through buildx; compare like with
    # like, and time tpgrade with BuildKit on its own.
    echo "note: the docker CLI has no buildx: A and B use the classic builder" >&2
    BUILDER=classic
    ALSO_BUILDKIT=1
fi
docker image inspect python:3-slim >/dev/null 2>&1 ||
    { echo "no python:3-slim image: tests/env/base-images.sh ensure" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tpgrade-bench.XXXXXX")
cleanup() {
    docker rm -f "bench-health-$$" >/dev/null 2>&1 || true
    docker rmi -f "bench-health-$$" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/repo/healthcheck"
cat >"$work/repo/healthcheck/app.py" <<'PY'
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
cat >"$work/repo/healthcheck/Dockerfile" <<'DF'
FROM python:3-slim
RUN pip install flask
WORKDIR /app
COPY app.py .
HEALTHCHECK CMD curl -f http://localhost:5000/health || exit 1
CMD ["python3", "app.py"]
DF

spec() {   # HEALTH_LINE WITHIN
    cat <<YAML
tp: bench
title: health bench
suites:
  - id: health
    title: health
    checks:
      - id: health.build
        title: build
        kind: build
        context: healthcheck
      - id: health.kill
        title: healthy, /kill, unhealthy
        kind: service
        image: \${found.health.build.image}
        port: 5000
        timeout: 10m
$1
        steps:
          - wait-health: healthy
            within: $2
          - http: /kill
          - wait-health: unhealthy
            within: $2
YAML
}
spec "        health: {interval: 1s, timeout: 3s, retries: 3}" 60s >"$work/short.yaml"
spec "" 5m >"$work/defaults.yaml"

now() { python3 -c 'import time; print("%.3f" % time.monotonic())'; }

# Runs tpgrade; prints "wall cpu build_s service_s".
tpg_once() {
    python3 - "$TPGRADE" "$1" "$work/repo" "$work/r.json" "$BUILDER" <<'PY'
import json, resource, subprocess, sys, time
tpg, spec, repo, report, builder = sys.argv[1:6]
t0 = time.monotonic()
p = subprocess.run([tpg, "grade", "--in-place", "-q", "--no-color", "--builder", builder,
                    "--json", report, spec, repo], stdout=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
r = json.load(open(report))
if p.returncode != 0:
    sys.exit("tpgrade failed: %s" % [(c["id"], c["status"], c["message"]) for c in r["checks"]])
s = {c["id"]: c["seconds"] for c in r["checks"]}
print("%.3f %.3f %.3f %.3f" % (wall, ru.ru_utime + ru.ru_stime, s["health.build"], s["health.kill"]))
PY
}

# The same operations with the docker CLI; prints "wall build_s service_s".
cli_once() {
    local name=bench-health-$$ t0 t1 t2 st
    export DOCKER_BUILDKIT=$([ "$BUILDER" = buildkit ] && echo 1 || echo 0)
    t0=$(now)
    docker build -q -t "$name" "$work/repo/healthcheck" >/dev/null 2>&1
    t1=$(now)
    docker run -d --name "$name" --health-interval=1s --health-timeout=3s --health-retries=3 \
        "$name" >/dev/null
    ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name")
    until [ "$(docker inspect -f '{{.State.Health.Status}}' "$name")" = healthy ]; do sleep 0.2; done
    curl -fsS "http://$ip:5000/kill" >/dev/null
    until [ "$(docker inspect -f '{{.State.Health.Status}}' "$name")" = unhealthy ]; do sleep 0.2; done
    docker rm -f "$name" >/dev/null
    docker rmi -f "$name" >/dev/null
    t2=$(now)
    python3 -c "import sys; a,b,c=map(float,sys.argv[1:]); print('%.3f %.3f %.3f' % (c-a, b-a, c-b))" \
        "$t0" "$t1" "$t2"
}

stats() {   # reads numbers, prints "median min"
    python3 -c 'import statistics, sys; v=[float(x) for x in sys.stdin.read().split()]; print("%.2f %.2f" % (statistics.median(v), min(v)))'
}

echo "tpgrade health bench: $RUNS runs, builder $BUILDER, $(docker version -f 'Docker {{.Server.Version}}' 2>/dev/null)"
echo "warm-up (fills the build cache) ..."
tpg_once "$work/short.yaml" >/dev/null
cli_once >/dev/null

: >"$work/a.txt"
: >"$work/b.txt"
for i in $(seq "$RUNS"); do
    tpg_once "$work/short.yaml" >>"$work/a.txt"
    cli_once >>"$work/b.txt"
done
col() { awk -v c="$1" '{print $c}' "$2" | stats; }
read -r a_med a_min <<<"$(col 1 "$work/a.txt")"
read -r b_med b_min <<<"$(col 1 "$work/b.txt")"
printf '\n%-52s %8s %8s\n' "" median min
printf '%-52s %7ss %7ss\n' "A. tpgrade: build + healthy + /kill + unhealthy" "$a_med" "$a_min"
printf '%-52s %7ss %7ss\n' "   of which the build check" $(col 3 "$work/a.txt")
printf '%-52s %7ss %7ss\n' "   of which the service check" $(col 4 "$work/a.txt")
printf '%-52s %7ss %7ss\n' "   tpgrade CPU time (user+sys)" $(col 2 "$work/a.txt")
printf '%-52s %7ss %7ss\n' "B. docker CLI + curl, same operations" "$b_med" "$b_min"
printf '%-52s %7ss %7ss\n' "   of which docker build" $(col 2 "$work/b.txt")
printf '%-52s %7ss %7ss\n' "   of which run, healthy, /kill, unhealthy, rm" $(col 3 "$work/b.txt")
python3 -c "import sys; a,b=map(float,sys.argv[1:]); print('%-52s %7.2fs (%+.0f%%)' % ('A - B: tpgrade overhead (medians)', a-b, 100*(a-b)/b))" "$a_med" "$b_med"

if [ "$ALSO_BUILDKIT" = 1 ]; then
    BUILDER=buildkit
    tpg_once "$work/short.yaml" >/dev/null
    : >"$work/k.txt"
    for i in $(seq "$RUNS"); do
        tpg_once "$work/short.yaml" >>"$work/k.txt"
    done
    printf '%-52s %7ss %7ss\n' "A'. A with BuildKit (no CLI equivalent here)" $(col 1 "$work/k.txt")
    printf '%-52s %7ss %7ss\n' "   of which the build check" $(col 3 "$work/k.txt")
    BUILDER=classic
fi

if [ "${DEFAULTS:-1}" != 0 ]; then
    echo
    echo "C. once, with the image's own health timing (30 s interval, 3 retries) ..."
    read -r c_wall _ c_build c_svc <<<"$(tpg_once "$work/defaults.yaml")"
    printf '%-52s %7ss\n' "C. tpgrade without the health override" "$c_wall"
    printf '%-52s %7ss\n' "   of which the service check" "$c_svc"
    python3 -c "import sys; a,c=map(float,sys.argv[1:]); print('%-52s %7.1fx' % ('C / A: the override saves', c/a))" "$a_med" "$c_wall"
fi

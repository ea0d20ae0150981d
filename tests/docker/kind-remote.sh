#!/bin/bash
# A daemon reached over TCP, as in GitLab CI with docker:dind, where the
# grader cannot reach container addresses: a TCP proxy to the local socket
# on the docker0 address stands in for tcp://docker:2375. A service check
# with `reach: auto` then publishes its port on 0.0.0.0 of the daemon's
# host and talks to <daemon host>:<published port>; build, run and
# cleanup work through the same endpoint.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
need_docker busybox:latest python:3-slim
need_cmd ip python3

addr=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1)
[ -n "$addr" ] || need_or_fail "no docker0 address to stand for a remote daemon"
out=$(mktemp_dir out)

python3 -u - "$addr" "$DOCKER_SOCK" >"$out/proxy.port" 2>"$out/proxy.err" <<'PY' &
import socket, sys, threading
host, path = sys.argv[1], sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, 0))
srv.listen(64)
print(srv.getsockname()[1], flush=True)

def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

def handle(c):
    u = socket.socket(socket.AF_UNIX)
    try:
        u.connect(path)
    except OSError:
        c.close()
        return
    t = threading.Thread(target=pump, args=(u, c), daemon=True)
    t.start()
    pump(c, u)
    t.join()
    c.close()
    u.close()

while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
PY
proxy=$!
at_exit kill "$proxy"
wait_until 10 test -s "$out/proxy.port" || fail "the TCP proxy did not start: $(cat "$out/proxy.err")"
port=$(head -n1 "$out/proxy.port")
host="tcp://$addr:$port"

repo=$(mktemp_dir repo)
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
cat >"$out/remote.yaml" <<'YAML'
tp: t
title: remote daemon
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
        health: {interval: 500ms}
        steps:
          - wait-health: healthy
            within: 60s
          - http: {path: /health, body: {equals: OK}}
          - exec: {command: [python3, -c, "print('inside')"], stdout: inside}
      - id: app.run
        title: run
        kind: run
        image: ${found.app.build.tag}
        args: [python3, -c, "print('ok')"]
        expect: [{stdout: {equals: ok}}]
YAML
run "$TPGRADE" grade --in-place --no-color --docker-host "$host" --json "$out/r.json" \
    "$out/remote.yaml" "$repo"
assert_status 0
url=$(json_get "$out/r.json" checks[1].data.service.url)
assert_match "$url" "^http://$addr:[0-9]+\$"
assert_ne "http://$addr:5000" "$url" "an ephemeral published port"
runid=$(json_get "$out/r.json" checks[0].data.build.run)
assert_eq "" "$(docker ps -aq --filter "label=tpgrade.run=$runid")" "containers left"
assert_eq "" "$(docker images -q --filter "label=tpgrade.run=$runid")" "images left"

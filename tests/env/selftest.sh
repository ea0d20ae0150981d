#!/bin/bash
# Checks that the base images do what the TP's Dockerfiles need, the way a
# student would use them:
#   - a Flask app FROM python:3-slim with `pip install flask` and a curl
#     HEALTHCHECK becomes healthy, then unhealthy after GET /kill;
#   - FROM ubuntu + `apt-get update && apt-get install -y cowsay` with an
#     exec-form ENTRYPOINT runs `-f stegosaurus Yo!` (and UTF-8 text);
#   - `docker run -d -p 5000:5000 --restart always --name registry registry:2`
#     serves /v2/ and takes a push (port 5000 when free, else another);
#   - busybox starts in a blink.
# Remembers success per set of image ids (TPG_TEST_STATE/selftest.ok);
# --force runs anyway. Prints timings.
set -eu
TEST_NAME=selftest
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"

need_docker python:3-slim ubuntu registry:2 busybox
stamp=$TPG_TEST_STATE/selftest.ok
key=$({
    for i in python:3-slim ubuntu registry:2 busybox; do docker image inspect -f '{{.Id}}' "$i"; done
    sha256sum <"$0"
} | sha256sum | cut -c1-64)
if [ "${1:-}" != --force ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
    echo "selftest already passed for these images (remove $stamp or use --force to rerun)"
    exit 0
fi
rm -f "$stamp"
T_ALL=$(env_now)
step() { echo "-- $*"; }

# ------------------------------------------------------------------ flask
step "flask app FROM python:3-slim with a curl HEALTHCHECK"
d=$(mktemp_dir flask)
cat >"$d/app.py" <<'EOF'
from flask import Flask
app = Flask(__name__)
healthy = True

@app.route("/")
def index():
    return "Bonjour !\n"

@app.route("/health")
def health():
    return ("OK\n", 200) if healthy else ("KO\n", 500)

@app.route("/kill")
def kill():
    global healthy
    healthy = False
    return "killed\n"

if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
EOF
cat >"$d/Dockerfile" <<'EOF'
FROM python:3-slim
WORKDIR /app
COPY app.py .
RUN pip install flask
EXPOSE 5000
HEALTHCHECK --interval=1s --timeout=3s --start-period=2s --retries=2 \
    CMD curl -f http://localhost:5000/health || exit 1
CMD ["python", "app.py"]
EOF
img=$(unique_name flask)
docker_rmi_at_exit "$img"
t=$(env_now)
run docker build -t "$img" "$d"
assert_status 0 "docker build of the flask app"
assert_contains "$OUT$ERR" "Requirement already satisfied"
echo "   build: $(env_elapsed "$t")"
c=$(unique_name flask)
docker_rm_at_exit "$c"
t=$(env_now)
docker run -d --name "$c" "$img" >/dev/null
health() { docker inspect -f '{{.State.Health.Status}}' "$c"; }
wait_until 60 sh -c "[ \"\$(docker inspect -f '{{.State.Health.Status}}' $c)\" = healthy ]" ||
    fail "flask container not healthy: $(health); $(docker logs "$c" 2>&1 | tail -5)"
echo "   healthy after $(env_elapsed "$t")"
run docker exec "$c" curl -fsS http://localhost:5000/kill
assert_status 0
t=$(env_now)
wait_until 60 sh -c "[ \"\$(docker inspect -f '{{.State.Health.Status}}' $c)\" = unhealthy ]" ||
    fail "flask container not unhealthy after /kill: $(health)"
echo "   unhealthy $(env_elapsed "$t") after /kill"

# ----------------------------------------------------------------- cowsay
step "cowsay FROM ubuntu with apt-get and an exec-form ENTRYPOINT"
d=$(mktemp_dir cowsay)
cat >"$d/Dockerfile" <<'EOF'
FROM ubuntu
RUN apt-get update && apt-get install -y cowsay
ENTRYPOINT ["/usr/games/cowsay"]
EOF
img=$(unique_name cowsay)
docker_rmi_at_exit "$img"
t=$(env_now)
run docker build -t "$img" "$d"
assert_status 0 "docker build of cowsay (needs Debian's mirror from containers)"
echo "   build: $(env_elapsed "$t")"
run docker run --rm "$img" -f stegosaurus Yo!
assert_status 0
assert_contains "$OUT" "< Yo! >"
run docker run --rm "$img" -f elephant-in-snake Yo!
assert_status 0
run docker run --rm "$img" "Ça marche, élève ☕"
assert_status 0
assert_contains "$OUT" "Ça marche, élève ☕"
# As on Ubuntu, /usr/games is not in PATH: the classic mistake must fail.
run docker run --rm ubuntu cowsay hi
assert_ne 0 "$STATUS" "cowsay should not be in PATH"

# --------------------------------------------------------------- registry
step "registry:2 with -p PORT:5000 --restart always, push and pull"
port=5000
python3 -c 'import socket,sys; s=socket.socket(); s.bind(("0.0.0.0", 5000))' 2>/dev/null || port=$(free_port)
c=$(unique_name registry)
docker_rm_at_exit "$c"
t=$(env_now)
docker run -d -p "$port:5000" --restart always --name "$c" registry:2 >/dev/null
wait_until 20 curl -fsS "http://localhost:$port/v2/" ||
    fail "registry does not answer on $port: $(docker logs "$c" 2>&1 | tail -5)"
echo "   /v2/ answers on port $port after $(env_elapsed "$t")"
ref=localhost:$port/selftest/busybox:1
docker_rmi_at_exit "$ref"
docker tag busybox "$ref"
t=$(env_now)
run docker push "$ref"
assert_status 0 "docker push"
run curl -fsS "http://localhost:$port/v2/_catalog"
assert_contains "$OUT" '"selftest/busybox"'
docker rmi "$ref" >/dev/null
run docker pull "$ref"
assert_status 0 "docker pull"
echo "   push + pull: $(env_elapsed "$t")"

# ---------------------------------------------------------------- busybox
t=$(env_now)
run docker run --rm busybox true
assert_status 0
echo "-- docker run --rm busybox true: $(env_elapsed "$t")"

echo "$key" >"$stamp"
echo "selftest passed in $(env_elapsed "$T_ALL")"

#!/bin/bash
# A daemon reached over TCP with TLS, for real: a second dockerd of our
# own listening on tcp://127.0.0.1:2376 with --tlsverify (a CA, a server
# and a client certificate made here with openssl), fed busybox from the
# main daemon. A `run` check passes through DOCKER_HOST + DOCKER_TLS_VERIFY
# + DOCKER_CERT_PATH, through --docker-host, and the way GitLab's
# docker:dind is found (DOCKER_TLS_CERTDIR, the host `docker`, no local
# socket); a wrong CA, no client certificate and plain HTTP are errors
# that say so (exit 3).
#
# The second daemon runs in a network namespace of its own (unshare -n):
# dockerd --bridge=none deletes the host's docker0, and its port and
# iptables stay out of the host's way. tpgrade joins that namespace
# (nsenter); for the dind case also a mount namespace where /etc/hosts
# names `docker` and /var/run/docker.sock is not a socket. At the end the
# main daemon must still run a container on its docker0.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
need_root
need_cmd dockerd unshare nsenter openssl ip mount
need_docker busybox:latest

bridge_before=$(ip -o link show docker0 2>/dev/null | cut -d: -f1)

d=$(mktemp -d /var/tmp/tpgrade-tls.XXXXXX)   # short: unix socket paths
stop_daemon() {
    local pid
    pid=$(cat "$d/dockerd.pid" 2>/dev/null) || pid=
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    grep -o " $d/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$d"
}
at_exit stop_daemon

# ---- Certificates: a CA, the daemon's (127.0.0.1, localhost, docker), ours.
c=$d/certs
mkdir -p "$c" "$d/dind/client" "$d/wrong" "$d/none" "$d/root" "$d/exec" "$d/repo"
(
    cd "$c"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 \
        -subj /CN=tpgrade-test-ca
    openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr \
        -subj /CN=localhost
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:docker\nextendedKeyUsage=serverAuth\n' \
        >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
        -extfile server.ext -out server-cert.pem
    openssl req -newkey rsa:2048 -nodes -keyout key.pem -out client.csr -subj /CN=tpgrade
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
        -extfile client.ext -out cert.pem
    # Another CA, which did not sign the daemon's certificate.
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/wrong/ca-key.pem" \
        -out "$d/wrong/ca.pem" -days 2 -subj /CN=another-ca
) >"$d/openssl.log" 2>&1 || fail "openssl: $(tail -3 "$d/openssl.log")"
cp "$c/ca.pem" "$c/cert.pem" "$c/key.pem" "$d/dind/client/"
cp "$c/cert.pem" "$c/key.pem" "$d/wrong/"

# ---- The second daemon.
echo '{}' >"$d/daemon.json"   # not /etc/docker/daemon.json
unshare --net --fork -- sh -c 'ip link set lo up && exec "$@"' sh \
    dockerd --config-file "$d/daemon.json" --data-root "$d/root" --exec-root "$d/exec" \
    --pidfile "$d/dockerd.pid" -H "unix://$d/docker.sock" -H tcp://127.0.0.1:2376 \
    --tlsverify --tlscacert "$c/ca.pem" --tlscert "$c/server-cert.pem" \
    --tlskey "$c/server-key.pem" --bridge=none --iptables=false --ip6tables=false \
    >"$d/dockerd.log" 2>&1 </dev/null &
second() { docker -H "unix://$d/docker.sock" "$@"; }
wait_until "$(scaled 60)" second version ||
    need_or_fail "the second dockerd did not start: $(tail -5 "$d/dockerd.log")"
pid=$(cat "$d/dockerd.pid")
docker save busybox:latest | second load >/dev/null || fail "cannot load busybox into it"

cat >"$d/tls.yaml" <<'YAML'
tp: t
title: TLS
suites:
  - id: s
    title: s
    checks:
      - id: hello
        title: hello over TLS
        kind: run
        image: busybox
        args: [sh, -c, "echo hello over TLS; echo on stderr >&2"]
        expect: [{stdout: {equals: hello over TLS}}, {stderr: on stderr}]
YAML
# grade ENV...: tpgrade in the daemon's network namespace, with ENV only.
grade() {
    run nsenter --net="/proc/$pid/ns/net" -- env -i PATH="$PATH" HOME="$d" "$@" \
        "$TPGRADE" grade --in-place --no-color --lang en --json "$d/r.json" "$d/tls.yaml" \
        "$d/repo"
}
message() { json_get "$d/r.json" checks[0].message; }
tls_host=tcp://127.0.0.1:2376

grade DOCKER_HOST=$tls_host DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$c"
assert_status 0 "DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH"

run nsenter --net="/proc/$pid/ns/net" -- env -i PATH="$PATH" HOME="$d" \
    DOCKER_HOST=unix:///nonexistent.sock DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$c" \
    "$TPGRADE" grade --in-place --no-color --docker-host "$tls_host" "$d/tls.yaml" "$d/repo"
assert_status 0 "--docker-host wins over DOCKER_HOST"

# GitLab's docker:dind as the job sees it: DOCKER_TLS_CERTDIR, the service
# named `docker`, nothing on /var/run/docker.sock.
sed '/[[:space:]]docker$/d' /etc/hosts >"$d/hosts"
echo "127.0.0.1 docker" >>"$d/hosts"
: >"$d/not-a-socket"
run nsenter --net="/proc/$pid/ns/net" -- unshare --mount -- sh -c '
    mount --bind "$1/hosts" /etc/hosts &&
    { [ ! -e /var/run/docker.sock ] || mount --bind "$1/not-a-socket" /var/run/docker.sock; } &&
    exec env -i PATH="$PATH" HOME="$1" DOCKER_TLS_CERTDIR="$1/dind" "$2" grade --in-place \
        --no-color --lang en --json "$1/r.json" "$1/tls.yaml" "$1/repo"' sh "$d" "$TPGRADE"
assert_status 0 "GitLab docker:dind (DOCKER_TLS_CERTDIR)"

# Certificates do not mend by waiting: no retrying as for a daemon starting.
t0=$SECONDS
grade DOCKER_HOST=$tls_host DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$d/wrong"
assert_status 3 "a CA that did not sign the daemon's certificate"
[ $((SECONDS - t0)) -lt "$(scaled 10)" ] || fail "a certificate error took $((SECONDS - t0)) s"
assert_contains "$(message)" "cannot connect to the Docker daemon at $tls_host over TLS"
assert_contains "$(message)" "$d/wrong/ca.pem"

grade DOCKER_HOST=$tls_host DOCKER_TLS=1 DOCKER_CERT_PATH="$d/none"
assert_status 3 "no client certificate"
assert_contains "$(message)" "it refused our client certificate (none)"

grade DOCKER_HOST=$tls_host
assert_status 3 "plain HTTP to the TLS port"
assert_contains "$(message)" "it speaks TLS only"

# Nothing of ours is left on the second daemon; the main one still works.
assert_eq "" "$(second ps -aq)" "containers left on the TLS daemon"
stop_daemon
assert_eq "$bridge_before" "$(ip -o link show docker0 2>/dev/null | cut -d: -f1)" \
    "the main daemon's docker0 (ifindex)"
run docker run --rm busybox true
assert_status 0 "a container on the main daemon afterwards"

#!/bin/sh
# registry.sh - start and stop a real Docker registry (Debian's
# docker-registry, i.e. distribution 2.8) on 127.0.0.1 for tests.
#
#   tests/env/registry.sh start MODE PORT DIR   MODE: noauth | htpasswd | token
#                                               PORT: a port, or 0 for a free one
#   tests/env/registry.sh stop DIR
#   tests/env/registry.sh check                 exit 0 if everything needed is
#                                               installed, 77 otherwise
#
# `start` prints the registry's address (127.0.0.1:PORT) and leaves in DIR:
#   config.yml, storage/, registry.log, registry.pid, port
#   user, password (htpasswd and token modes: a random password, mode 600)
#   token mode: token.key, token.crt, token-server.log, token-server.pid,
#               token-port, refresh-token (an identity token for `user`)
# The password can be chosen with TPG_REGISTRY_PASSWORD; the user with
# TPG_REGISTRY_USER (default tpguser). Token lifetime: TPG_TOKEN_EXPIRES_IN
# (default 300 s). Nothing secret is printed.
#
# With TPG_REGISTRY_TLS_NAME=NAME the registry speaks https only, with a
# certificate for NAME signed by a private CA made for it (DIR/ca.crt: the
# CA bundle clients need), and `start` prints NAME:PORT. NAME must resolve
# to 127.0.0.1: a subdomain of localhost (curl resolves those itself), so
# that clients do not take the registry for a loopback one spoken to over
# plain http.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PY=${TPG_PYTHON:-/usr/bin/python3}
REGISTRY_BIN=${TPG_REGISTRY_BIN:-/usr/bin/docker-registry}

die() { echo "registry.sh: $*" >&2; exit 1; }

missing() {
	if [ ! -x "$REGISTRY_BIN" ]; then echo "docker-registry (apt-get install docker-registry)"; fi
	if ! command -v htpasswd >/dev/null 2>&1; then echo "htpasswd (apt-get install apache2-utils)"; fi
	if ! command -v openssl >/dev/null 2>&1; then echo "openssl (apt-get install openssl)"; fi
	if ! command -v curl >/dev/null 2>&1; then echo "curl (apt-get install curl)"; fi
	if ! "$PY" -c 'import cryptography' >/dev/null 2>&1; then
		echo "python3-cryptography (apt-get install python3-cryptography)"
	fi
}

free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

random_secret() {
	# 24 random bytes, base64 without characters that trouble URLs or YAML.
	head -c 24 /dev/urandom | base64 | tr -d '/+=\n'
}

wait_http() { # URL PIDFILE LOG [CA]: until the URL answers anything HTTP
	i=0
	while [ $i -lt 200 ]; do
		code=$(curl --noproxy '*' ${4:+--cacert "$4"} -s -o /dev/null -m 2 -w '%{http_code}' "$1" \
			2>/dev/null || true)
		case $code in 2??|4??) return 0 ;; esac
		if ! kill -0 "$(cat "$2")" 2>/dev/null; then
			echo "registry.sh: process died; last log lines:" >&2
			tail -n 20 "$3" >&2 || true
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "registry.sh: $1 did not answer within 20 s" >&2
	return 1
}

stop_pidfile() {
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

make_tls_cert() { # DIR NAME: DIR/ca.crt, and DIR/tls.crt + tls.key for NAME signed by it
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=tpgtest-ca \
		-keyout "$1/ca.key" -out "$1/ca.crt" >/dev/null 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" \
		-keyout "$1/tls.key" -out "$1/tls.csr" >/dev/null 2>&1 &&
	printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
		"$2" >"$1/tls.ext" &&
	openssl x509 -req -in "$1/tls.csr" -CA "$1/ca.crt" -CAkey "$1/ca.key" -CAcreateserial \
		-days 30 -extfile "$1/tls.ext" -out "$1/tls.crt" >/dev/null 2>&1
}

start() {
	mode=$1 port=$2 dir=$3
	case $mode in noauth|htpasswd|token) ;; *) die "unknown mode '$mode' (noauth, htpasswd, token)" ;; esac
	m=$(missing)
	[ -z "$m" ] || die "missing: $m"
	mkdir -p "$dir/storage"
	dir=$(cd "$dir" && pwd)
	[ ! -f "$dir/registry.pid" ] || stop_pidfile "$dir/registry.pid"
	[ "$port" != 0 ] || port=$(free_port)
	user=${TPG_REGISTRY_USER:-tpguser}
	pass=${TPG_REGISTRY_PASSWORD:-$(random_secret)}
	auth=""
	if [ "$mode" != noauth ]; then
		umask 077
		printf '%s\n' "$user" >"$dir/user"
		printf '%s' "$pass" >"$dir/password"
		umask 022
	fi
	case $mode in
	htpasswd)
		# -i: the password comes on stdin, never on a command line.
		printf '%s' "$pass" | htpasswd -iBc "$dir/htpasswd" "$user" 2>/dev/null
		auth="auth:
  htpasswd:
    realm: tpgtest-basic
    path: $dir/htpasswd"
		;;
	token)
		openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=tpgtest-token \
			-keyout "$dir/token.key" -out "$dir/token.crt" >/dev/null 2>&1
		umask 077
		printf '%s:%s\n' "$user" "$pass" >"$dir/users"
		refresh=$(random_secret)
		printf '%s' "$refresh" >"$dir/refresh-token"
		printf '%s:%s\n' "$user" "$refresh" >"$dir/refresh-tokens"
		umask 022
		rm -f "$dir/token-port"
		"$PY" "$HERE/token-server.py" --port 0 --port-file "$dir/token-port" \
			--key "$dir/token.key" --cert "$dir/token.crt" --users "$dir/users" \
			--refresh-tokens "$dir/refresh-tokens" \
			--expires-in "${TPG_TOKEN_EXPIRES_IN:-300}" \
			--log "$dir/token-server.log" </dev/null >>"$dir/token-server.log" 2>&1 &
		echo $! >"$dir/token-server.pid"
		i=0
		while [ ! -s "$dir/token-port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		[ -s "$dir/token-port" ] || { tail -n 20 "$dir/token-server.log" >&2; die "token server did not start"; }
		tport=$(cat "$dir/token-port")
		wait_http "http://127.0.0.1:$tport/stats" "$dir/token-server.pid" "$dir/token-server.log"
		auth="auth:
  token:
    realm: http://127.0.0.1:$tport/token
    service: tpgtest-registry
    issuer: tpgtest-issuer
    rootcertbundle: $dir/token.crt"
		;;
	esac
	tls="" scheme=http host=127.0.0.1 ca=""
	if [ -n "${TPG_REGISTRY_TLS_NAME:-}" ]; then
		host=$TPG_REGISTRY_TLS_NAME scheme=https ca=$dir/ca.crt
		make_tls_cert "$dir" "$host" || die "openssl cannot make the TLS certificates"
		tls="  tls:
    certificate: $dir/tls.crt
    key: $dir/tls.key"
	fi
	cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: $(random_secret)
$tls
$auth
EOF
	echo "$port" >"$dir/port"
	"$REGISTRY_BIN" serve "$dir/config.yml" </dev/null >>"$dir/registry.log" 2>&1 &
	echo $! >"$dir/registry.pid"
	if ! wait_http "$scheme://$host:$port/v2/" "$dir/registry.pid" "$dir/registry.log" "$ca"; then
		stop "$dir"
		die "registry ($mode) did not start on $scheme://$host:$port"
	fi
	echo "$host:$port"
}

stop() {
	dir=$1
	[ -d "$dir" ] || return 0
	stop_pidfile "$dir/registry.pid"
	stop_pidfile "$dir/token-server.pid"
}

case ${1:-} in
start) [ $# -eq 4 ] || die "usage: $0 start MODE PORT DIR"; start "$2" "$3" "$4" ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
check)
	m=$(missing)
	if [ -n "$m" ]; then echo "registry.sh: missing: $m" >&2; exit 77; fi
	;;
*) die "usage: $0 start MODE PORT DIR | stop DIR | check" ;;
esac

#!/bin/bash
# registry-client.sh - the registry client against real registries.
#
# Starts Debian's docker-registry three ways (no auth, htpasswd Basic, token
# auth with our token server), once more over https only (a certificate for
# tpgtest.localhost signed by a private CA), the misbehaving servers of
# tests/registry/fake-registry.py (one on 127.0.0.1, a "sink" on 127.0.0.2
# that logs the Authorization headers it gets), then runs
# $BUILD/tests/test_registry_live with TPG_REGISTRY_LIVE=1, and finally
# greps every output and log for the secrets.
#
# Env: REPO_ROOT, BUILD (default build), CI (true: a skip is a failure),
# TPG_KEEP_TMP=1 keeps the registries' directories and logs.
# Exit: 0 pass, 77 skip, anything else fail.
set -u

REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../lib.sh
. "$REPO_ROOT/tests/lib.sh"
PY=${TPG_PYTHON:-/usr/bin/python3}
ENV_SH=$REPO_ROOT/tests/env/registry.sh
BIN=$BUILD/tests/test_registry_live

say() { echo "registry-client: $*"; }

[ -x "$BIN" ] || fail "$BIN is missing (make unit-bins)"
if ! missing=$("$ENV_SH" check 2>&1); then
	need_or_fail "${missing:-tests/env/registry.sh check failed}"
fi

WORK=$(mktemp_dir live)
fail_setup() {
	for f in "$WORK"/*/registry.log "$WORK"/*/token-server.log "$WORK"/fake/*.log; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
	fail "$*"
}

for m in noauth htpasswd token; do
	at_exit "$ENV_SH" stop "$WORK/$m"
	addr=$("$ENV_SH" start "$m" 0 "$WORK/$m") || fail_setup "cannot start the $m registry"
	eval "ADDR_$m=\$addr"
done
at_exit "$ENV_SH" stop "$WORK/tls"
ADDR_tls=$(TPG_REGISTRY_TLS_NAME=tpgtest.localhost "$ENV_SH" start noauth 0 "$WORK/tls") ||
	fail_setup "cannot start the https registry (libcurl must resolve *.localhost itself)"
say "registries: noauth $ADDR_noauth, htpasswd $ADDR_htpasswd, token $ADDR_token, https $ADDR_tls"

# The fake servers: a sink on another loopback address, then the fake.
mkdir -p "$WORK/fake"
head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$WORK/fake/password"
echo tpguser >"$WORK/fake/user"
: >"$WORK/fake/sink.log"
"$PY" "$REPO_ROOT/tests/registry/fake-registry.py" --role sink --bind 127.0.0.2 \
	--port-file "$WORK/fake/sink-port" --log "$WORK/fake/sink.log" \
	</dev/null >>"$WORK/fake/sink-server.log" 2>&1 &
at_exit kill "$!"
i=0
while [ ! -s "$WORK/fake/sink-port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$WORK/fake/sink-port" ] || fail_setup "the sink server did not start"
"$PY" "$REPO_ROOT/tests/registry/fake-registry.py" --role fake --bind 127.0.0.1 \
	--port-file "$WORK/fake/port" --log "$WORK/fake/fake.log" \
	--password-file "$WORK/fake/password" \
	--sink "http://127.0.0.2:$(cat "$WORK/fake/sink-port")" \
	</dev/null >>"$WORK/fake/fake-server.log" 2>&1 &
at_exit kill "$!"
i=0
while [ ! -s "$WORK/fake/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$WORK/fake/port" ] || fail_setup "the fake server did not start"

# A port nobody listens on, for "registry down".
DEAD=$(free_port)

mkdir -p "$WORK/tmp"
: >"$WORK/messages.txt"
say "running $BIN"
TPG_REGISTRY_LIVE=1 \
TPG_LIVE_NOAUTH=$ADDR_noauth \
TPG_LIVE_BASIC=$ADDR_htpasswd TPG_LIVE_BASIC_DIR=$WORK/htpasswd \
TPG_LIVE_TOKEN=$ADDR_token TPG_LIVE_TOKEN_DIR=$WORK/token \
TPG_LIVE_TLS=$ADDR_tls TPG_LIVE_TLS_CA=$WORK/tls/ca.crt TPG_LIVE_TLS_OTHER_CA=$WORK/token/token.crt \
TPG_LIVE_FAKE=127.0.0.1:$(cat "$WORK/fake/port") TPG_LIVE_FAKE_DIR=$WORK/fake \
TPG_LIVE_DEAD=127.0.0.1:$DEAD \
TPG_LIVE_TMP=$WORK/tmp TPG_LIVE_OUT=$WORK/messages.txt \
PATH=$REPO_ROOT/tests/registry:$PATH \
	"$BIN" >"$WORK/out.txt" 2>&1
rc=$?
cat "$WORK/out.txt"

# No secret in any output or log (the secret files and the config.json files
# the test wrote on purpose are not outputs).
leaks=0
for secret_file in "$WORK/htpasswd/password" "$WORK/token/password" \
	"$WORK/token/refresh-token" "$WORK/fake/password"; do
	secret=$(cat "$secret_file")
	[ -n "$secret" ] || continue
	for f in "$WORK/out.txt" "$WORK/messages.txt" "$WORK"/*/*.log "$WORK"/tmp/*.log; do
		[ -f "$f" ] || continue
		if grep -qF -- "$secret" "$f"; then
			say "FAIL: a secret (from $(basename "$(dirname "$secret_file")")/$(basename "$secret_file")) appears in $f"
			leaks=1
		fi
	done
done
if ! grep -q "Authorization: <none>" "$WORK/fake/sink.log"; then
	say "FAIL: the sink on 127.0.0.2 saw no redirected request"
	leaks=1
fi
if grep -q "Authorization: Basic" "$WORK/fake/sink.log"; then
	say "FAIL: credentials were forwarded to the redirect target"
	leaks=1
fi
say "$(wc -l <"$WORK/messages.txt") messages checked for secrets"

if [ $rc -ne 0 ] || [ $leaks -ne 0 ]; then
	for f in "$WORK"/*/registry.log "$WORK"/*/token-server.log "$WORK"/fake/*.log; do
		[ -f "$f" ] && { echo "--- $f (tail)"; tail -n 15 "$f"; }
	done
	fail "registry client live tests (exit $rc, leaks $leaks)"
fi
exit 0

# Helpers for tests/e2e/*.sh and tests/docker/*.sh (bash). Source it first:
#
#   #!/bin/bash
#   set -eu
#   . "$(dirname "$0")/../lib.sh"
#   need_docker
#   run "$TPGRADE" --version
#   assert_status 0
#   assert_contains "$OUT" "tpgrade"
#
# Protocol (tests/run-all.sh): exit 0 = pass, 77 = skip, anything else = fail.
# Do not set your own EXIT trap: register cleanups with at_exit.
# See docs/testing.md.

# ------------------------------------------------------------------ context
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$REPO_ROOT/build}
case $BUILD in /*) ;; *) BUILD=$REPO_ROOT/$BUILD ;; esac
TPGRADE=${TPGRADE:-$BUILD/tpgrade}
TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}
DOCKER_SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
export REPO_ROOT BUILD TPGRADE

is_ci() { case ${CI:-} in true|TRUE|True|1|yes) return 0 ;; *) return 1 ;; esac; }

# ----------------------------------------------------------------- outcomes
_tpg_where() {
    # First frame outside this file: the test line that called us.
    local i
    for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
        if [ "${BASH_SOURCE[$i]}" != "${BASH_SOURCE[0]}" ]; then
            echo "${BASH_SOURCE[$i]##*/}:${BASH_LINENO[$((i - 1))]}"
            return
        fi
    done
    echo "?"
}
note() { printf '# %s\n' "$*" >&2; }
skip() { printf 'SKIP: %s\n' "${1:-no reason given}" >&2; exit 77; }
fail() { printf 'FAIL (%s): %s\n' "$(_tpg_where)" "${1:-failed}" >&2; exit 1; }
# Skips normally; fails under CI=true, where everything must be available.
need_or_fail() {
    if is_ci; then fail "CI=true and $1"; fi
    skip "$1"
}

# ------------------------------------------------------------------ cleanup
_tpg_cleanups=()
# at_exit CMD [ARGS...]: run at exit (last registered, first run), whatever
# the outcome. Arguments are kept as given (no re-splitting).
at_exit() {
    local q
    printf -v q '%q ' "$@"
    _tpg_cleanups+=("$q")
}
_tpg_exit() {
    local rc=$? i
    set +e
    for ((i = ${#_tpg_cleanups[@]} - 1; i >= 0; i--)); do
        eval "${_tpg_cleanups[$i]}" >/dev/null 2>&1
    done
    exit $rc
}
trap _tpg_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A private temporary directory, removed at exit unless TPG_KEEP_TMP=1.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tpgtest-${TEST_NAME}.XXXXXX")
if [ "${TPG_KEEP_TMP:-0}" = 1 ]; then
    note "keeping $TEST_TMP"
else
    at_exit rm -rf "$TEST_TMP"
fi
# mktemp_dir [NAME]: a new directory inside TEST_TMP; prints its path.
mktemp_dir() { mktemp -d "$TEST_TMP/${1:-d}.XXXXXX"; }

# --------------------------------------------------------------- assertions
assert_eq() {
    [ "$1" = "$2" ] || fail "${3:-values differ}: expected [$1], got [$2]"
}
assert_ne() {
    [ "$1" != "$2" ] || fail "${3:-values are equal}: both are [$1]"
}
assert_contains() {
    case $1 in *"$2"*) ;; *) fail "${3:-missing text}: [$2] not found in:
$(printf '%s' "$1" | tail -n 40)" ;; esac
}
assert_not_contains() {
    case $1 in *"$2"*) fail "${3:-unexpected text}: [$2] found in:
$(printf '%s' "$1" | tail -n 40)" ;; esac
}
# assert_match TEXT ERE [MSG]
assert_match() {
    printf '%s\n' "$1" | grep -Eq -- "$2" || fail "${3:-no match}: /$2/ does not match:
$(printf '%s' "$1" | tail -n 40)"
}
assert_file() { [ -f "$1" ] || fail "${2:-missing file}: $1"; }
assert_file_contains() {
    assert_file "$1"
    grep -Fq -- "$2" "$1" || fail "${3:-missing text}: [$2] not in $1"
}

# run CMD [ARGS...]: runs without tripping set -e; sets STATUS, OUT (stdout),
# ERR (stderr) and prints both to the test log.
run() {
    local o e had_e=
    case $- in *e*) had_e=1 ;; esac
    o=$(mktemp "$TEST_TMP/out.XXXXXX")
    e=$(mktemp "$TEST_TMP/err.XXXXXX")
    printf '$ %s\n' "$*" >&2
    set +e
    "$@" >"$o" 2>"$e" </dev/null
    STATUS=$?
    [ -z "$had_e" ] || set -e
    OUT=$(cat "$o")
    ERR=$(cat "$e")
    rm -f "$o" "$e"
    [ -z "$OUT" ] || printf '%s\n' "$OUT" | sed 's/^/  | /' >&2
    [ -z "$ERR" ] || printf '%s\n' "$ERR" | sed 's/^/  ! /' >&2
    printf '  -> exit %s\n' "$STATUS" >&2
    return 0
}
# assert_status EXPECTED: about the last `run`.
assert_status() {
    [ "${STATUS:-}" = "$1" ] || fail "${2:-exit status}: expected $1, got ${STATUS:-none}"
}

# ----------------------------------------------------------------- prereqs
need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || need_or_fail "command '$c' not found (.ci/deps.sh installs it)"
    done
}
need_root() { [ "$(id -u)" = 0 ] || need_or_fail "needs root"; }
need_tpgrade() { [ -x "$TPGRADE" ] || fail "no tpgrade binary at $TPGRADE (run make)"; }

docker_ping() {
    [ "$(curl -fsS --max-time 3 --unix-socket "$DOCKER_SOCK" http://localhost/_ping 2>/dev/null)" = OK ]
}
# need_docker [IMAGE...]: a daemon answers (and has these images). Skips,
# or fails under CI=true. tests/run-all.sh has started the daemon and built
# the base images before running tests/docker/.
need_docker() {
    command -v curl >/dev/null 2>&1 || need_or_fail "curl not found"
    docker_ping || need_or_fail "no Docker daemon answers on $DOCKER_SOCK (tests/env/dockerd.sh ensure)"
    command -v docker >/dev/null 2>&1 || need_or_fail "docker client not found"
    local i
    for i in "$@"; do
        docker image inspect "$i" >/dev/null 2>&1 ||
            need_or_fail "image $i missing (tests/env/base-images.sh ensure)"
    done
}

# ------------------------------------------------------------------- json
# json_get FILE|- PATH: prints the value at PATH (a.b[0].c or a.b.0.c);
# strings raw, other values as JSON; status 1 if absent. python3, else jq.
json_get() {
    local src=$1 path=$2
    if command -v python3 >/dev/null 2>&1; then
        python3 -c '
import json, re, sys
src, path = sys.argv[1], sys.argv[2]
data = json.load(sys.stdin if src == "-" else open(src, encoding="utf-8"))
for tok in [t for t in re.split(r"[.\[\]]+", path) if t != ""]:
    try:
        if isinstance(data, list):
            data = data[int(tok)]
        elif isinstance(data, dict):
            data = data[tok]
        else:
            sys.exit(1)
    except (KeyError, IndexError, ValueError):
        sys.exit(1)
print(data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False))
' "$src" "$path"
    elif command -v jq >/dev/null 2>&1; then
        local p
        p=$(printf '%s' "$path" | jq -R 'split("[.\\[\\]]+"; null) | map(select(. != "") | (tonumber? // .))')
        set -- -r --argjson p "$p" 'getpath($p) as $v | if $v == null then halt_error(1)
            elif ($v | type) == "string" then $v else ($v | tojson) end'
        if [ "$src" = - ]; then jq "$@" 2>/dev/null; else jq "$@" "$src" 2>/dev/null; fi
    else
        need_or_fail "json_get needs python3 or jq"
    fi
}

# -------------------------------------------------------------------- git
# Fixed identity and dates, so that commit ids are the same on every run.
_tpg_git() {
    GIT_AUTHOR_NAME="Élève Test" GIT_AUTHOR_EMAIL=eleve@example.org \
    GIT_COMMITTER_NAME="Élève Test" GIT_COMMITTER_EMAIL=eleve@example.org \
    GIT_AUTHOR_DATE="${_TPG_GIT_DATE:-2024-01-15T10:00:00+0100}" \
    GIT_COMMITTER_DATE="${_TPG_GIT_DATE:-2024-01-15T10:00:00+0100}" \
    GIT_CONFIG_NOSYSTEM=1 HOME="$TEST_TMP" git -c init.defaultBranch=main \
        -c commit.gpgsign=false -c core.autocrlf=false "$@"
}
# make_git_repo DIR [MESSAGE]: git init DIR (created if needed) and commit
# everything in it (an empty commit if it is empty). Prints the commit id.
make_git_repo() {
    local dir=$1 msg=${2:-Initial commit}
    mkdir -p "$dir"
    _tpg_git -C "$dir" init -q
    git_commit_all "$dir" "$msg"
}
# git_commit_all DIR MESSAGE [DATE]: commits every change; prints the id.
git_commit_all() {
    local dir=$1 msg=$2
    _TPG_GIT_DATE=${3:-${_TPG_GIT_DATE:-2024-01-15T10:00:00+0100}} \
        _tpg_git -C "$dir" add -A
    _TPG_GIT_DATE=${3:-${_TPG_GIT_DATE:-2024-01-15T10:00:00+0100}} \
        _tpg_git -C "$dir" commit -q --allow-empty -m "$msg"
    _tpg_git -C "$dir" rev-parse HEAD
}

# ----------------------------------------------------------------- waiting
# wait_until SECONDS CMD [ARGS...]: polls CMD every 0.2 s until it succeeds.
wait_until() {
    local limit=$1 end
    shift
    end=$(( $(date +%s) + limit ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
}
# scaled SECONDS: a timeout, tripled under ASan/UBSan (TPG_SANITIZED=1).
scaled() { if [ "${TPG_SANITIZED:-0}" = 1 ]; then echo $(( $1 * 3 )); else echo "$1"; fi; }

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ----------------------------------------------------------------- docker
# unique_name [WHAT]: a container/image name unique to this test run,
# "tpgtest-WHAT-TEST_NAME-PID-RANDOM" (tests/run-all.sh reports containers
# named tpgtest-* that a test leaves behind).
unique_name() {
    printf 'tpgtest-%s-%s-%s-%s\n' "${1:-x}" "$TEST_NAME" "$$" "$RANDOM" |
        tr 'A-Z' 'a-z' | tr -c 'a-z0-9_.\n-' '-'
}
docker_rm_at_exit() { local c; for c in "$@"; do at_exit docker rm -f -v "$c"; done; }
docker_rmi_at_exit() { local i; for i in "$@"; do at_exit docker rmi -f "$i"; done; }

# start_registry [PORT]: a registry:2 container published on 127.0.0.1:PORT
# (a free port by default), removed at exit. Sets REGISTRY_PORT,
# REGISTRY_CONTAINER, REGISTRY (host:port to tag images with).
start_registry() {
    need_docker registry:2
    REGISTRY_PORT=${1:-$(free_port)}
    REGISTRY_CONTAINER=$(unique_name registry)
    docker run -d --name "$REGISTRY_CONTAINER" -p "127.0.0.1:$REGISTRY_PORT:5000" registry:2 >/dev/null ||
        fail "cannot start registry:2 on port $REGISTRY_PORT"
    docker_rm_at_exit "$REGISTRY_CONTAINER"
    REGISTRY=localhost:$REGISTRY_PORT
    wait_until "$(scaled 20)" curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" ||
        fail "registry on port $REGISTRY_PORT does not answer: $(docker logs "$REGISTRY_CONTAINER" 2>&1 | tail -5)"
}

# start_host_registry [MODE]: a registry without Docker, Debian's
# docker-registry run by tests/env/registry.sh (MODE noauth, htpasswd or
# token; default noauth) on 127.0.0.1 at a free port, stopped at exit.
# Sets REGISTRY (127.0.0.1:PORT), REGISTRY_PORT, REGISTRY_DIR (user,
# password, ... as registry.sh documents).
start_host_registry() {
    local rs=$REPO_ROOT/tests/env/registry.sh missing
    missing=$("$rs" check 2>&1) || need_or_fail "${missing:-registry.sh check failed}"
    REGISTRY_DIR=$(mktemp_dir registry)
    at_exit "$rs" stop "$REGISTRY_DIR"
    REGISTRY=$("$rs" start "${1:-noauth}" 0 "$REGISTRY_DIR") ||
        fail "tests/env/registry.sh start ${1:-noauth} failed"
    REGISTRY_PORT=${REGISTRY##*:}
}

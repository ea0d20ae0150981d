#!/bin/bash
# tests/run-all.sh BUILD: every test, with the binaries of BUILD, in order:
#   1. unit tests      BUILD/tests/test_*              (as tests/run-unit.sh)
#   2. end-to-end      tests/e2e/*.sh
#   3. environment     tests/env/dockerd.sh ensure, base-images.sh, selftest.sh
#                      (only when a docker test is selected)
#   4. docker tests    tests/docker/*.sh
#
# Test scripts get REPO_ROOT, BUILD (absolute), TPGRADE (BUILD/tpgrade),
# TEST_NAME, TPG_TEST_LOG, a private TMPDIR, and CI / TPG_SANITIZED as given;
# they run from REPO_ROOT with stdin on /dev/null; exit 0 = pass, 77 = skip,
# else fail. With CI=true, a docker test that skips or cannot run (daemon or
# images unavailable) FAILS; without it, it is skipped with the reason.
#
# TESTS=regex        run only tests whose KIND/NAME matches (e.g. 'e2e/|docker/registry')
# TPG_TEST_TIMEOUT=s override every per-test timeout (defaults: unit/e2e 300 s,
#                    docker 900 s, tripled when TPG_SANITIZED=1)
# TPG_KEEP_TMP=1     keep each test's TMPDIR
# Logs: BUILD/test-logs/KIND/NAME.log; the tail of a failing one is printed.
set -u
. "$(dirname "$0")/env/runner.sh"
runner_init "${1:-}"
ENV_DIR=$REPO_ROOT/tests/env

san=""
[ "${TPG_SANITIZED:-0}" = 1 ] && san=" (ASan+UBSan)"
echo "== tpgrade tests: $BUILD$san, CI=${CI:-unset}${TESTS:+, TESTS=$TESTS}"
if [ ! -x "$TPGRADE" ]; then
    echo "no tpgrade binary at $TPGRADE: run 'make BUILD=${BUILD#"$REPO_ROOT"/}' first" >&2
    exit 2
fi
RUN_SELECTED=0

# ------------------------------------------------------------------ unit
echo "== unit tests"
runner_unit_phase

# ------------------------------------------------------------------- e2e
echo "== end-to-end tests"
for t in "$REPO_ROOT"/tests/e2e/*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    runner_selected "e2e/$name" || continue
    RUN_SELECTED=$((RUN_SELECTED + 1))
    run_test e2e "$name" 300 bash "$t"
done

# ---------------------------------------------------------------- docker
docker_tests=()
for t in "$REPO_ROOT"/tests/docker/*.sh; do
    [ -f "$t" ] || continue
    runner_selected "docker/$(basename "$t" .sh)" && docker_tests+=("$t")
done
RUN_SELECTED=$((RUN_SELECTED + ${#docker_tests[@]}))

# env_step NAME TIMEOUT CMD...: a setup step, logged like a test but counted
# only when it fails (and only under CI=true, else the docker tests skip).
ENV_REASON=""
env_step() {
    local name=$1 limit=$2 log t0 rc
    shift 2
    log=$RUN_LOG_DIR/env/$name.log
    mkdir -p "$RUN_LOG_DIR/env"
    t0=$(runner_now)
    ( cd "$REPO_ROOT" && exec timeout --kill-after=10 "$limit" "$@" ) </dev/null >"$log" 2>&1
    rc=$?
    if [ $rc = 0 ]; then
        runner_line ENV "env/$name" "(ok, $(runner_secs "$t0"))"
        grep -aE 'built in|imported|done in|ready after|took' "$log" | sed 's/^/      /'
        return 0
    fi
    [ $rc = 124 ] && echo "timed out after ${limit}s" >>"$log"
    local first
    first=$(grep -a -m1 -i 'error' "$log" || grep -a -m1 -v '^ ' "$log")
    ENV_REASON="env/$name failed (exit $rc): $first"
    if runner_is_ci; then
        N_FAIL=$((N_FAIL + 1)); FAILED_NAMES+=("env/$name")
        runner_line FAIL "env/$name" "(exit $rc, $(runner_secs "$t0"); log $log)"
    else
        runner_line ENV "env/$name" "(unavailable, exit $rc, $(runner_secs "$t0"); log $log)"
    fi
    runner_show_log "$log" 40
    return 1
}

leftovers() { docker ps -a --filter name=tpgtest- --format '{{.Names}}' 2>/dev/null | sort; }

if [ ${#docker_tests[@]} -gt 0 ]; then
    echo "== test environment (dockerd, base images)"
    env_ok=0
    if env_step dockerd 300 "$ENV_DIR/dockerd.sh" ensure &&
        env_step base-images 2400 "$ENV_DIR/base-images.sh" ensure &&
        env_step selftest 900 "$ENV_DIR/selftest.sh"; then
        env_ok=1
    elif ! runner_is_ci; then
        echo "docker tests will be skipped: $ENV_REASON"
        echo "(they need root and docker.io: run .ci/deps.sh and tests/env/dockerd.sh ensure as root; CI=true makes this a failure)"
    fi
    echo "== docker tests"
    for t in "${docker_tests[@]}"; do
        name=$(basename "$t" .sh)
        if [ $env_ok = 1 ]; then
            before=$(leftovers)
            TPG_DOCKER_READY=1 run_test docker "$name" 900 bash "$t"
            left=$(comm -13 <(printf '%s\n' "$before") <(leftovers) | tr '\n' ' ')
            [ -n "${left// /}" ] && echo "      warning: docker/$name left containers behind: $left"
        else
            runner_not_run "docker/$name" "${ENV_REASON:-test environment unavailable}"
        fi
    done
fi

if [ -n "${TESTS:-}" ] && [ "$RUN_SELECTED" = 0 ]; then
    echo "no test matches TESTS='$TESTS'" >&2
    exit 1
fi
runner_summary "all tests"

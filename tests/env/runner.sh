# Sourced by tests/run-all.sh and tests/run-unit.sh: runs one test program
# with a timeout and a log, prints PASS/FAIL/SKIP with its duration, counts.
# Not executable on its own.

RUNNER_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

runner_is_ci() { case ${CI:-} in true|TRUE|True|1|yes) return 0 ;; *) return 1 ;; esac; }
runner_now() { date +%s.%N | cut -c1-14; }
runner_secs() { awk -v a="$1" -v b="$(runner_now)" 'BEGIN { printf "%.1fs", b - a }'; }

# runner_init BUILD: absolute BUILD, log dir, counters.
runner_init() {
    local b=${1:-}
    [ -n "$b" ] || { echo "usage: $0 BUILD_DIR" >&2; exit 64; }
    case $b in /*) ;; *) b=$RUNNER_REPO_ROOT/$b ;; esac
    [ -d "$b" ] || { echo "$0: no build directory $b (run make first)" >&2; exit 2; }
    BUILD=$(cd "$b" && pwd)
    REPO_ROOT=$RUNNER_REPO_ROOT
    TPGRADE=$BUILD/tpgrade
    RUN_LOG_DIR=$BUILD/test-logs
    mkdir -p "$RUN_LOG_DIR"
    export BUILD REPO_ROOT TPGRADE
    N_PASS=0 N_FAIL=0 N_SKIP=0
    FAILED_NAMES=() SKIPPED_NAMES=()
    RUN_T0=$(runner_now)
    # Sanitizer defaults (no effect on normal binaries); callers may override.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_string_checks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    if [ "${TPG_SANITIZED:-0}" = 1 ]; then RUN_TIME_SCALE=3; else RUN_TIME_SCALE=1; fi
}

# runner_selected KIND/NAME: does it match TESTS (an extended regex), if set?
runner_selected() {
    [ -z "${TESTS:-}" ] && return 0
    printf '%s\n' "$1" | grep -Eq -- "$TESTS"
}

runner_line() { printf '%-4s  %-50s %s\n' "$1" "$2" "${3:-}"; }

runner_show_log() {
    local log=$1 n=${2:-80}
    echo "----- last $n lines of $log -----"
    tail -n "$n" "$log"
    echo "----- end of $log -----"
}

# run_test KIND NAME TIMEOUT_SECONDS CMD [ARGS...]
# Exit protocol: 0 pass, 77 skip, anything else fail. Under CI=true a skip
# of a docker test is a failure. Output goes to $RUN_LOG_DIR/KIND/NAME.log.
run_test() {
    local kind=$1 name=$2 limit=$3
    shift 3
    local id=$kind/$name log=$RUN_LOG_DIR/$kind/$name.log t0 rc tmp extra=""
    mkdir -p "$RUN_LOG_DIR/$kind"
    limit=$(( limit * RUN_TIME_SCALE ))
    [ -n "${TPG_TEST_TIMEOUT:-}" ] && limit=$TPG_TEST_TIMEOUT
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/tpgrun.XXXXXX")
    t0=$(runner_now)
    {
        echo "# $id: $*"
        echo "# started $(date -u '+%Y-%m-%dT%H:%M:%SZ'), timeout ${limit}s, TMPDIR=$tmp"
    } >"$log"
    # An inner shell waits for the test, so that "Aborted (core dumped)" and
    # the like land in the log rather than in the middle of our report.
    bash -c 'cd "$1" || exit 2; shift; "$@"; exit $?' "$id" "$REPO_ROOT" \
        env TEST_NAME="$name" TPG_TEST_LOG="$log" TMPDIR="$tmp" \
        timeout --kill-after=10 "$limit" "$@" </dev/null >>"$log" 2>&1
    rc=$?
    [ "${TPG_KEEP_TMP:-0}" = 1 ] || rm -rf --one-file-system "$tmp" 2>/dev/null
    local dur
    dur=$(runner_secs "$t0")
    echo "# exit $rc after $dur" >>"$log"
    case $rc in
        0)
            [ "$kind" = unit ] && extra=$(grep -a '^\[  PASSED  \] [0-9]' "$log" |
                awk '{ n += $4 } END { if (NR) printf "%d cases, ", n }')
            N_PASS=$((N_PASS + 1))
            runner_line PASS "$id" "(${extra}$dur)"
            return 0 ;;
        77)
            local why
            why=$(grep -ai '^skip:' "$log" | tail -n 1 | sed 's/^[Ss][Kk][Ii][Pp]: *//')
            if [ "$kind" = docker ] && runner_is_ci; then
                N_FAIL=$((N_FAIL + 1)); FAILED_NAMES+=("$id")
                runner_line FAIL "$id" "(skipped, but CI=true requires docker tests to run: ${why:-no reason}; $dur)"
                runner_show_log "$log" 80
                return 1
            fi
            N_SKIP=$((N_SKIP + 1)); SKIPPED_NAMES+=("$id")
            runner_line SKIP "$id" "(${why:-no reason given}; $dur)"
            return 0 ;;
        124|137)
            why="timed out after ${limit}s" ;;
        *)
            why="exit $rc"
            [ "$rc" -gt 128 ] && why="$why, SIG$(kill -l $((rc - 128)) 2>/dev/null)" ;;
    esac
    N_FAIL=$((N_FAIL + 1)); FAILED_NAMES+=("$id")
    runner_line FAIL "$id" "($why, $dur; log $log)"
    runner_show_log "$log" 80
    return 1
}

# Marks a test as not run: FAIL under CI=true, SKIP otherwise.
runner_not_run() {
    local id=$1 why=$2
    if runner_is_ci; then
        N_FAIL=$((N_FAIL + 1)); FAILED_NAMES+=("$id")
        runner_line FAIL "$id" "(not run: $why)"
    else
        N_SKIP=$((N_SKIP + 1)); SKIPPED_NAMES+=("$id")
        runner_line SKIP "$id" "(not run: $why)"
    fi
}

# The unit phase: every BUILD/tests/test_* whose source is tests/unit/test_*.c.
runner_unit_phase() {
    local src name bin
    for src in "$REPO_ROOT"/tests/unit/test_*.c; do
        [ -e "$src" ] || continue
        name=$(basename "$src" .c)
        runner_selected "unit/$name" || continue
        RUN_SELECTED=$((${RUN_SELECTED:-0} + 1))
        bin=$BUILD/tests/$name
        if [ ! -x "$bin" ]; then
            N_FAIL=$((N_FAIL + 1)); FAILED_NAMES+=("unit/$name")
            runner_line FAIL "unit/$name" "(not built: $bin missing; run 'make BUILD=${BUILD#"$REPO_ROOT"/} unit-bins')"
            continue
        fi
        run_test unit "$name" 300 "$bin"
    done
    for bin in "$BUILD"/tests/test_*; do
        [ -x "$bin" ] || continue
        name=$(basename "$bin")
        [ -e "$REPO_ROOT/tests/unit/$name.c" ] || echo "note: ignoring $bin (no tests/unit/$name.c any more)"
    done
}

# Prints the summary; returns nonzero if anything failed.
runner_summary() {
    local label=${1:-summary}
    echo
    if [ ${#SKIPPED_NAMES[@]} -gt 0 ]; then
        echo "skipped: ${SKIPPED_NAMES[*]}"
    fi
    if [ ${#FAILED_NAMES[@]} -gt 0 ]; then
        echo "FAILED: ${FAILED_NAMES[*]}"
        echo "logs: $RUN_LOG_DIR/<kind>/<name>.log"
    fi
    echo "($label for $BUILD took $(runner_secs "$RUN_T0"))"
    echo "summary: $N_PASS passed, $N_FAIL failed, $N_SKIP skipped"
    [ "$N_FAIL" = 0 ]
}

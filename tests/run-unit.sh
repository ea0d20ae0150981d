#!/bin/bash
# tests/run-unit.sh BUILD: runs every unit test program BUILD/tests/test_*
# (one per tests/unit/test_*.c) from the repository root; prints PASS/FAIL
# per program and a summary; exits nonzero if any failed or is not built.
# TESTS=regex selects by name (unit/test_glob). Logs: BUILD/test-logs/unit/.
set -u
. "$(dirname "$0")/env/runner.sh"
runner_init "${1:-}"
echo "== unit tests ($BUILD)"
RUN_SELECTED=0
runner_unit_phase
if [ -n "${TESTS:-}" ] && [ "$RUN_SELECTED" = 0 ]; then
    echo "no unit test matches TESTS='$TESTS'" >&2
    exit 1
fi
runner_summary "unit tests"

#!/bin/bash
# Clones over real servers: starts `git daemon`, the smart-HTTP server
# with Basic auth and (when installed) sshd (tests/env/git-server.sh), runs BUILD/tests/test_git_remote
# against them, then checks that the token appears nowhere in what the test
# printed (every message, note and URL of the git module) nor in the HTTP
# server's log. Skips when git's daemon/http-backend or python3 are missing.
set -eu
. "$(dirname "$0")/../lib.sh"

need_cmd git python3
exec_path=$(git --exec-path)
[ -x "$exec_path/git-daemon" ] || need_or_fail "git-daemon not found in $exec_path"
[ -x "$exec_path/git-http-backend" ] || need_or_fail "git-http-backend not found in $exec_path"
bin=$BUILD/tests/test_git_remote
[ -x "$bin" ] || fail "$bin is not built (make BUILD=${BUILD#"$REPO_ROOT"/} unit-bins)"

srv=$(mktemp_dir git-server)
at_exit "$REPO_ROOT/tests/env/git-server.sh" stop "$srv"
run "$REPO_ROOT/tests/env/git-server.sh" start "$srv"
assert_status 0 "git-server.sh start"
eval "$OUT"
export TPG_GIT_SERVER_URLS TPG_GIT_SERVER_USER TPG_GIT_SERVER_TOKEN_FILE
token=$(cat "$TPG_GIT_SERVER_TOKEN_FILE")
[ ${#token} -ge 16 ] || fail "token too short"

export TPG_GIT_SERVER_REPOS
if [ -n "${TPG_GIT_SSH_URL:-}" ]; then
    export TPG_GIT_SSH_URL TPG_GIT_SSH_KEY TPG_GIT_SSH_BADKEY TPG_GIT_SSH_HOME
    # Our own agent holding the test key, killed by its pid at exit.
    if command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null; then
        eval "$(ssh-agent -s)" >/dev/null
        at_exit kill "$SSH_AGENT_PID"
        ssh-add -q "$TPG_GIT_SSH_KEY" 2>/dev/null && export TPG_GIT_SSH_AGENT=1
    fi
else
    note "no sshd: the ssh cases skip (Debian package openssh-server)"
fi

run "$bin"
assert_status 0 "test_git_remote"
assert_contains "$OUT$ERR" "[  PASSED  ] 9 test(s)."
assert_contains "$OUT" "msg: error: [authentication refused]"

# Not git-daemon.log: the test puts the token in a URL path on purpose (to
# check that the daemon's echo of it is scrubbed), and the daemon logs paths.
all="$OUT
$ERR
$(cat "$srv/http.log" 2>/dev/null)"
assert_not_contains "$all" "$token" "the token leaked"
note "token absent from $(printf '%s' "$all" | wc -l) lines of output and server logs"

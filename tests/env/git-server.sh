#!/bin/bash
# tests/env/git-server.sh start DIR | stop DIR | env DIR
#
# Local git servers for tpgrade's git tests, all on 127.0.0.1, free ports:
#   - `git daemon` (git://, --export-all, --base-path=DIR/repos)
#   - smart HTTP: `git http-backend` behind tests/env/git-server/http_git.py,
#     HTTP Basic auth, user `student`, a random token as the password
# `start` creates DIR/repos (below), starts both and prints, for eval:
#   TPG_GIT_SERVER_URLS='git://127.0.0.1:P http://127.0.0.1:Q'
#   TPG_GIT_SERVER_USER=student
#   TPG_GIT_SERVER_TOKEN_FILE=DIR/token     (the token itself is never printed)
#   TPG_GIT_SERVER_REPOS=DIR/repos
# and, when sshd is installed (Debian package openssh-server), an sshd on
# 127.0.0.1 that accepts one key for the current user:
#   TPG_GIT_SSH_URL='ssh://USER@127.0.0.1:R'   (append DIR/repos/hello.git)
#   TPG_GIT_SSH_KEY=DIR/ssh/client_ed25519      (authorized)
#   TPG_GIT_SSH_BADKEY=DIR/ssh/other_ed25519    (not authorized)
#   TPG_GIT_SSH_HOME=DIR/ssh/home               (a HOME whose .ssh/known_hosts
#                                                has the server's host key)
# `env` prints the same for running servers; `stop` kills what start started
# (by the pids it recorded, after checking they are still ours).
#
# Repositories (fixed committer dates, so tests can check deadline choices):
#   hello.git  main: c1 2026-12-01T10:00:00+01:00, c2 2026-12-05T10:00:00+01:00
#              (tag v1, annotated), c3 2026-12-20T10:00:00+01:00;
#              branch dev: c2 + d1 2026-12-06T10:00:00+01:00
#              file README holds "c1", "c2" or "c3"
#   empty.git  no commit
#   big.git    one 2 MB random file
# Needs git (with git-daemon and git-http-backend, Debian package `git`) and
# python3.
set -eu

die() { echo "git-server: error: $*" >&2; exit 1; }
log() { echo "git-server: $*" >&2; }

HERE=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || die "usage: $0 start|stop|env DIR"

# Is PID alive and running COMM?
pid_is() {
    local pid=$1 name=$2
    case $pid in ''|*[!0-9]*) return 1 ;; esac
    [ -r "/proc/$pid/comm" ] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
    ! sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | grep -q '^[ZX]'
}

stop_pidfile() {
    local file=$1 name=$2 pid i
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if pid_is "$pid" "$name"; then
        kill "$pid" 2>/dev/null || true
        for i in $(seq 50); do pid_is "$pid" "$name" || break; sleep 0.1; done
        pid_is "$pid" "$name" && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

print_env() {
    local gp hp
    gp=$(cat "$DIR/git-daemon.port" 2>/dev/null) || die "no git daemon in $DIR"
    hp=$(cat "$DIR/http.port" 2>/dev/null) || die "no http server in $DIR"
    echo "TPG_GIT_SERVER_URLS='git://127.0.0.1:$gp http://127.0.0.1:$hp'"
    echo "TPG_GIT_SERVER_USER=student"
    echo "TPG_GIT_SERVER_TOKEN_FILE='$DIR/token'"
    echo "TPG_GIT_SERVER_REPOS='$DIR/repos'"
    if [ -s "$DIR/sshd.port" ]; then
        echo "TPG_GIT_SSH_URL='ssh://$(id -un)@127.0.0.1:$(cat "$DIR/sshd.port")'"
        echo "TPG_GIT_SSH_KEY='$DIR/ssh/client_ed25519'"
        echo "TPG_GIT_SSH_BADKEY='$DIR/ssh/other_ed25519'"
        echo "TPG_GIT_SSH_HOME='$DIR/ssh/home'"
    fi
}

sshd_path() {
    local p
    for p in /usr/sbin/sshd /usr/local/sbin/sshd "$(command -v sshd 2>/dev/null)"; do
        [ -n "$p" ] && [ -x "$p" ] && { echo "$p"; return 0; }
    done
    return 1
}

# Is something speaking SSH on 127.0.0.1:PORT?
ssh_banner() {
    python3 - "$1" 2>/dev/null <<'PY'
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
c.settimeout(2)
sys.exit(0 if c.recv(64).startswith(b"SSH-") else 1)
PY
}

# sshd on a free port with its own host key and one authorized client key;
# nothing of the system's ssh configuration is used.
start_sshd() {
    local sshd port i try pid s=$DIR/ssh
    sshd=$(sshd_path) || { log "no sshd (install openssh-server): ssh tests will skip"; return 0; }
    command -v ssh-keygen >/dev/null || { log "no ssh-keygen: ssh tests will skip"; return 0; }
    rm -rf "$s"
    mkdir -p "$s"
    chmod 700 "$s"
    ssh-keygen -q -t ed25519 -N '' -f "$s/host_ed25519"
    ssh-keygen -q -t ed25519 -N '' -C tpg-client -f "$s/client_ed25519"
    ssh-keygen -q -t ed25519 -N '' -C tpg-other -f "$s/other_ed25519"
    cp "$s/client_ed25519.pub" "$s/authorized_keys"
    # Privilege separation needs it when sshd starts as root.
    if [ "$(id -u)" = 0 ]; then mkdir -p /run/sshd; fi
    for try in 1 2 3 4 5; do
        port=$(free_port)
        cat > "$s/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $s/host_ed25519
AuthorizedKeysFile $s/authorized_keys
PidFile $DIR/sshd.pid
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
CONF
        rm -f "$DIR/sshd.pid"
        "$sshd" -D -f "$s/sshd_config" -E "$DIR/sshd.log" </dev/null >/dev/null 2>&1 &
        pid=$!
        for i in $(seq 100); do
            if ssh_banner "$port"; then
                echo "$pid" > "$DIR/sshd.pid"
                echo "$port" > "$DIR/sshd.port"
                mkdir -p "$s/home/.ssh"
                echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$s/host_ed25519.pub")" \
                    > "$s/home/.ssh/known_hosts"
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
        log "sshd did not start on port $port (try $try)"
    done
    log "cannot start sshd (log: $DIR/sshd.log): ssh tests will skip"
}

# commit DATE MESSAGE: in the current work tree, README = MESSAGE.
commit() {
    printf '%s\n' "$2" > README
    git add -A
    GIT_AUTHOR_DATE=$1 GIT_COMMITTER_DATE=$1 git commit -q -m "$2"
}

make_repos() {
    local w=$DIR/work
    rm -rf "$DIR/repos" "$w"
    mkdir -p "$DIR/repos" "$w"
    export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
    export GIT_AUTHOR_NAME=Student GIT_AUTHOR_EMAIL=student@example.com
    export GIT_COMMITTER_NAME=Student GIT_COMMITTER_EMAIL=student@example.com
    (
        cd "$w"
        git init -q -b main hello
        cd hello
        printf 'FROM alpine:3.20\n' > Dockerfile
        commit 2026-12-01T10:00:00+01:00 c1
        commit 2026-12-05T10:00:00+01:00 c2
        GIT_COMMITTER_DATE=2026-12-05T10:00:00+01:00 git tag -a -m "version 1" v1
        git checkout -q -b dev
        commit 2026-12-06T10:00:00+01:00 d1
        git checkout -q main
        commit 2026-12-20T10:00:00+01:00 c3
    )
    git clone -q --bare "$w/hello" "$DIR/repos/hello.git"
    git init -q --bare "$DIR/repos/empty.git"
    (
        cd "$w"
        git init -q -b main big
        cd big
        head -c 2097152 /dev/urandom > blob.bin
        commit 2026-12-01T10:00:00+01:00 big
    )
    git clone -q --bare "$w/big" "$DIR/repos/big.git"
    rm -rf "$w"
}

start_daemon() {
    local port i try
    for try in 1 2 3 4 5; do
        port=$(free_port)
        rm -f "$DIR/git-daemon.pid"
        git daemon --reuseaddr --listen=127.0.0.1 --port="$port" --export-all \
            --base-path="$DIR/repos" --pid-file="$DIR/git-daemon.pid" \
            "$DIR/repos" </dev/null >>"$DIR/git-daemon.log" 2>&1 &
        for i in $(seq 100); do
            if GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
                git ls-remote "git://127.0.0.1:$port/hello.git" >/dev/null 2>&1; then
                echo "$port" > "$DIR/git-daemon.port"
                return 0
            fi
            kill -0 $! 2>/dev/null || break
            sleep 0.1
        done
        stop_pidfile "$DIR/git-daemon.pid" git-daemon
        log "git daemon did not start on port $port (try $try)"
    done
    die "cannot start git daemon (log: $DIR/git-daemon.log)"
}

start_http() {
    local i pid
    rm -f "$DIR/http.port"
    python3 "$HERE/git-server/http_git.py" --root "$DIR/repos" --user student \
        --token-file "$DIR/token" --port-file "$DIR/http.port" \
        </dev/null >>"$DIR/http.log" 2>&1 &
    pid=$!
    echo "$pid" > "$DIR/http.pid"
    for i in $(seq 100); do
        if [ -s "$DIR/http.port" ]; then
            # Unauthenticated: must be refused with 401.
            if python3 - "$(cat "$DIR/http.port")" <<'EOF'
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen("http://127.0.0.1:%s/hello.git/info/refs?service=git-upload-pack" % sys.argv[1], timeout=5)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 401 else 1)
sys.exit(1)
EOF
            then
                return 0
            fi
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    die "cannot start the http git server (log: $DIR/http.log)"
}

case $cmd in
start)
    command -v git >/dev/null || die "git not found (Debian package git)"
    command -v python3 >/dev/null || die "python3 not found"
    [ -x "$(git --exec-path)/git-daemon" ] || die "git-daemon not found in $(git --exec-path)"
    [ -x "$(git --exec-path)/git-http-backend" ] || die "git-http-backend not found"
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    "$0" stop "$DIR"
    make_repos
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > "$DIR/token")
    start_daemon
    start_http
    start_sshd
    print_env
    ;;
env)
    DIR=$(cd "$DIR" && pwd)
    print_env
    ;;
stop)
    [ -d "$DIR" ] || exit 0
    stop_pidfile "$DIR/git-daemon.pid" git-daemon
    stop_pidfile "$DIR/http.pid" python3
    stop_pidfile "$DIR/sshd.pid" sshd
    rm -f "$DIR/git-daemon.port" "$DIR/http.port" "$DIR/sshd.port"
    ;;
*)
    die "usage: $0 start|stop|env DIR"
    ;;
esac

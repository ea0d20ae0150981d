#!/bin/bash
# Makes sure a Docker daemon answers on /var/run/docker.sock.
#
#   tests/env/dockerd.sh ensure   start dockerd in the background unless one answers
#   tests/env/dockerd.sh stop     stop the dockerd that `ensure` started (only that one)
#   tests/env/dockerd.sh status   say whether a daemon answers, and who started it
#
# Exit status of ensure: 0 a daemon answers; 2 none answers and we may not
# start one here (not root, no dockerd binary); 1 we tried and it failed.
#
# Environment: TPG_DOCKERD_TIMEOUT (seconds to wait for /_ping, default 90),
# TPG_DOCKERD_ARGS (extra dockerd arguments), TPG_TEST_STATE (state dir,
# default /var/tmp/tpgrade-test: dockerd.log, dockerd.pid).
set -u
TPG_ENV_NAME=dockerd
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

OUR_PIDFILE=$TPG_TEST_STATE/dockerd.pid
LOG=$TPG_TEST_STATE/dockerd.log
DOCKER_PIDFILE=${TPG_DOCKER_PIDFILE:-/var/run/docker.pid}   # written by dockerd itself
TIMEOUT=${TPG_DOCKERD_TIMEOUT:-90}

read_pid() { [ -r "$1" ] && tr -dc 0-9 <"$1" 2>/dev/null; }

show_log_tail() {
    if [ -r "$LOG" ]; then
        env_log "last lines of $LOG:"
        tail -n "${1:-30}" "$LOG" | sed 's/^/    /' >&2
    fi
    env_log "full daemon log: $LOG"
}

# Waits until the daemon answers; PID (optional) must stay alive meanwhile.
wait_ping() {
    local pid=${1:-} deadline=$(( $(date +%s) + TIMEOUT ))
    while :; do
        docker_ping && return 0
        if [ -n "$pid" ] && ! pid_is "$pid" dockerd; then
            env_log "dockerd (pid $pid) exited before answering"
            return 1
        fi
        [ "$(date +%s)" -ge "$deadline" ] && { env_log "no answer on $DOCKER_SOCK after ${TIMEOUT}s"; return 1; }
        sleep 0.3
    done
}

find_dockerd() {
    local c
    for c in "$(command -v dockerd 2>/dev/null)" /usr/sbin/dockerd /usr/bin/dockerd; do
        [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
    done
    return 1
}

# The default bridge's interface can vanish under a running daemon (another
# dockerd started with --bridge=none deletes docker0); containers then fail
# with "could not find bridge docker0". Recreate it as dockerd would.
repair_bridge() {
    [ "$DOCKER_SOCK" = /var/run/docker.sock ] && [ "$(id -u)" = 0 ] || return 0
    command -v ip >/dev/null || return 0
    local info name gw net subnet
    info=$(curl -fsS --max-time 5 --unix-socket "$DOCKER_SOCK" http://localhost/networks/bridge 2>/dev/null) || return 0
    name=$(printf '%s' "$info" | sed -n 's/.*"com.docker.network.bridge.name":"\([^"]*\)".*/\1/p')
    gw=$(printf '%s' "$info" | sed -n 's/.*"Gateway":"\([0-9.]*\)".*/\1/p')
    net=$(printf '%s' "$info" | sed -n 's/.*"Subnet":"\([0-9.]*\)\/.*/\1/p')
    subnet=$(printf '%s' "$info" | sed -n 's/.*"Subnet":"[0-9.]*\/\([0-9]*\)".*/\1/p')
    # The default bridge usually records no Gateway: it is the subnet's first address.
    [ -z "$gw" ] && [ -n "$net" ] && gw=$(echo "$net" | awk -F. '{ printf "%d.%d.%d.%d", $1, $2, $3, $4 + 1 }')
    name=${name:-docker0}
    ip link show "$name" >/dev/null 2>&1 && return 0
    [ -n "$gw" ] && [ -n "$subnet" ] || return 0
    env_log "bridge interface $name is missing under the running daemon; recreating it ($gw/$subnet)"
    ip link add "$name" type bridge && ip addr add "$gw/$subnet" dev "$name" && ip link set "$name" up ||
        env_log "could not recreate $name: restart dockerd (tests/env/dockerd.sh stop; ensure)"
}

# dockerd needs cgroups; without systemd nobody may have mounted them.
ensure_cgroups() {
    grep -qE '^[^ ]+ /sys/fs/cgroup(/[^ ]*)? cgroup2? ' /proc/mounts && return 0
    if command -v cgroupfs-mount >/dev/null; then
        env_log "no cgroup filesystem mounted; running cgroupfs-mount"
        cgroupfs-mount || env_log "cgroupfs-mount failed"
    else
        env_log "no cgroup filesystem mounted; mounting cgroup2 on /sys/fs/cgroup"
        mount -t cgroup2 cgroup2 /sys/fs/cgroup || env_log "mounting cgroup2 failed"
    fi
}

cmd_ensure() {
    if docker_ping; then
        env_log "a daemon answers on $DOCKER_SOCK (pid $(read_pid "$DOCKER_PIDFILE" || echo '?'))"
        repair_bridge
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        if [ -S "$DOCKER_SOCK" ] && [ ! -w "$DOCKER_SOCK" ]; then
            env_log "$DOCKER_SOCK exists but uid $(id -u) may not use it (not in the 'docker' group?)"
        else
            env_log "no Docker daemon answers on $DOCKER_SOCK and only root can start one (uid $(id -u))"
        fi
        env_log "start it as root ('sudo $0 ensure') or run the tests as root"
        return 2
    fi
    local bin
    bin=$(find_dockerd) || {
        env_log "dockerd not found: install it with 'apt-get install docker.io' (.ci/deps.sh does)"
        return 2
    }
    env_mkstate

    # A daemon process that does not answer yet: starting, or hung. Never start
    # a second one on the same data root.
    local pid
    pid=$(read_pid "$DOCKER_PIDFILE")
    if pid_is "$pid" dockerd; then
        env_log "dockerd pid $pid is running but does not answer yet; waiting up to ${TIMEOUT}s"
        wait_ping "$pid" && { env_log "ready"; return 0; }
        if [ "$(read_pid "$OUR_PIDFILE")" = "$pid" ]; then
            env_log "it is ours and hung: stopping it to start a fresh one"
            stop_pid "$pid" || { show_log_tail; return 1; }
        else
            env_log "dockerd pid $pid was not started by this script; not touching it"
            show_log_tail
            return 1
        fi
    elif [ -n "$pid" ]; then
        env_log "removing stale $DOCKER_PIDFILE (pid $pid is gone)"
        rm -f "$DOCKER_PIDFILE"
    fi
    local others=
    if [ "$DOCKER_SOCK" = /var/run/docker.sock ]; then
        for pid in $(pgrep -x dockerd 2>/dev/null); do
            pid_is "$pid" dockerd && others="$others$pid "   # zombies do not count
        done
    fi
    if [ -n "$others" ]; then
        env_log "dockerd process(es) $others run without answering on $DOCKER_SOCK (other socket or pidfile?); refusing to start another on the same data root"
        return 1
    fi
    rm -f "$OUR_PIDFILE"
    ensure_cgroups

    local cpid=
    [ "$DOCKER_SOCK" = /var/run/docker.sock ] && cpid=$(read_pid /var/run/docker/containerd/containerd.pid)
    pid_is "$cpid" containerd && env_log "containerd pid $cpid left by a previous dockerd is still running; dockerd will reuse it"

    {
        echo
        echo "=== $(date -u '+%Y-%m-%dT%H:%M:%SZ') $bin ${TPG_DOCKERD_ARGS:-} (started by $0)"
    } >>"$LOG"
    local t0
    t0=$(env_now)
    # setsid: its own session, so that neither the timeout of a test runner
    # nor a Ctrl-C in the terminal kills it. Word splitting of ARGS wanted.
    # shellcheck disable=SC2086
    # Other inherited descriptors are closed: a daemon holding the pipe of a
    # CI harness open would keep it waiting for EOF after the tests end.
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
        done
        exec setsid "$bin" ${TPG_DOCKERD_ARGS:-} >>"$LOG" 2>&1 </dev/null
    ) &
    pid=$!
    echo "$pid" >"$OUR_PIDFILE"
    env_log "started $bin (pid $pid), log $LOG; waiting up to ${TIMEOUT}s for $DOCKER_SOCK"
    if wait_ping "$pid"; then
        env_log "ready after $(env_elapsed "$t0")"
        return 0
    fi
    show_log_tail 40
    if grep -qiE 'iptables|nat' "$LOG" 2>/dev/null; then
        env_log "hint: networking setup failed; check 'iptables -t nat -S' works (docker.io depends on iptables)"
    fi
    return 1
}

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        pid_is "$pid" dockerd || return 0
        sleep 0.3
    done
    env_log "dockerd pid $pid ignored SIGTERM for 30s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    sleep 1
    ! pid_is "$pid" dockerd
}

cmd_stop() {
    local pid
    pid=$(read_pid "$OUR_PIDFILE")
    if [ -z "$pid" ]; then
        env_log "no dockerd started by this script (no $OUR_PIDFILE); leaving any daemon alone"
        return 0
    fi
    if ! pid_is "$pid" dockerd; then
        env_log "dockerd pid $pid (ours) is already gone; removing $OUR_PIDFILE"
        rm -f "$OUR_PIDFILE"
        return 0
    fi
    env_log "stopping dockerd pid $pid"
    stop_pid "$pid" || { env_log "could not stop pid $pid"; return 1; }
    rm -f "$OUR_PIDFILE"
    env_log "stopped"
}

cmd_status() {
    local pid ours
    pid=$(read_pid "$DOCKER_PIDFILE")
    ours=$(read_pid "$OUR_PIDFILE")
    if docker_ping; then
        local v
        v=$(curl -fsS --max-time 3 --unix-socket "$DOCKER_SOCK" http://localhost/version 2>/dev/null |
            sed -n 's/.*"Version":"\([^"]*\)".*"ApiVersion":"\([^"]*\)".*/\1 (API \2)/p')
        echo "answering on $DOCKER_SOCK: dockerd ${v:-?}, pid ${pid:-?}$([ -n "$ours" ] && [ "$ours" = "$pid" ] && echo ', started by tests/env/dockerd.sh')"
        echo "log: $( [ "$ours" = "$pid" ] && echo "$LOG" || echo 'unknown (not started by us)')"
        return 0
    fi
    echo "no daemon answers on $DOCKER_SOCK"
    pid_is "$pid" dockerd && echo "dockerd pid $pid is running (starting or hung)"
    [ -r "$LOG" ] && echo "our last log: $LOG"
    return 1
}

case ${1:-ensure} in
    ensure|start) cmd_ensure ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    -h|--help|help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) echo "usage: $0 ensure|stop|status" >&2; exit 64 ;;
esac

# Sourced by the scripts of tests/env/: paths, logging, the daemon probe.
# Not executable on its own.

TPG_ENV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TPG_REPO_ROOT=$(cd "$TPG_ENV_DIR/../.." && pwd)

# Per-machine state (dockerd log and pidfile, locks): the daemon and the
# images are per machine, not per checkout.
if [ -z "${TPG_TEST_STATE:-}" ]; then
    if [ "$(id -u)" = 0 ] || [ -w /var/tmp/tpgrade-test ]; then
        TPG_TEST_STATE=/var/tmp/tpgrade-test
    else
        TPG_TEST_STATE=${TMPDIR:-/tmp}/tpgrade-test-$(id -u)
    fi
fi
# Per-checkout caches (debootstrap tarballs), gitignored.
TPG_CACHE_DIR=${TPG_CACHE_DIR:-$TPG_REPO_ROOT/tests/.cache}
DOCKER_SOCK=${DOCKER_SOCK:-/var/run/docker.sock}

env_log() { printf '%s: %s\n' "${TPG_ENV_NAME:-env}" "$*" >&2; }
env_die() { env_log "error: $*"; exit 1; }

# Monotonic-ish seconds with millisecond precision, for timings.
env_now() { date +%s.%N | cut -c1-14; }
env_elapsed() { awk -v a="$1" -v b="$(env_now)" 'BEGIN { printf "%.1fs", b - a }'; }

# True when a daemon answers /_ping on the socket within 3 seconds.
docker_ping() {
    [ -S "$DOCKER_SOCK" ] || return 1
    [ "$(curl -fsS --max-time 3 --unix-socket "$DOCKER_SOCK" http://localhost/_ping 2>/dev/null)" = OK ]
}

# Is PID alive and running program NAME (matched against /proc/PID/comm)?
pid_is() {
    local pid=$1 name=$2 comm
    case $pid in ''|*[!0-9]*) return 1 ;; esac
    [ -r "/proc/$pid/comm" ] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [ "$comm" = "$name" ] || return 1
    # A zombie is gone for our purpose.
    ! sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | grep -q '^[ZX]'
}

env_mkstate() {
    mkdir -p "$TPG_TEST_STATE" 2>/dev/null || env_die "cannot create state dir $TPG_TEST_STATE"
}

#!/bin/sh
# Installs the Debian packages that tpgrade's build and tests need, when they
# are missing and we may (root, or passwordless sudo). A no-op (one
# dpkg-query) when everything is there.
#
# Missing build packages we cannot install: error (exit 1).
# Missing test-only packages we cannot install: warning (exit 0), the tests
# that need them skip; with CI=true it is an error.
#
# TPG_DEPS_SKIP=1 skips everything (a machine that is not Debian).
set -u

BUILD_PKGS="build-essential pkg-config libcurl4-openssl-dev libjansson-dev libyaml-dev
    libgit2-dev libpcre2-dev libarchive-dev libcmocka-dev"
# docker.io: dockerd + client; docker-registry: registry image and host registry;
# debootstrap, util-linux (unshare, flock, setsid), procps (pgrep), iptables,
# iproute2, cgroupfs-mount: tests/env/; libxml2-utils (xmllint, JUnit XSD),
# apache2-utils (htpasswd), openssl, python3-jwt: registry auth tests;
# chromium: the HTML report test. openssh-server: git over ssh in the git tests.
TEST_PKGS="docker.io docker-registry debootstrap util-linux procps iptables iproute2
    cgroupfs-mount ca-certificates libxml2-utils apache2-utils git curl python3
    openssl python3-cryptography chromium openssh-server openssh-client"

is_ci() { case ${CI:-} in true|TRUE|True|1|yes) return 0 ;; *) return 1 ;; esac; }
say() { echo "deps: $*" >&2; }

[ "${TPG_DEPS_SKIP:-0}" = 1 ] && { say "TPG_DEPS_SKIP=1: not checking packages"; exit 0; }
if ! command -v dpkg-query >/dev/null 2>&1; then
    say "not a Debian system (no dpkg-query): install the equivalents of: $BUILD_PKGS $TEST_PKGS"
    exit 0
fi

# Prints the packages of the list that are not installed (one dpkg-query).
missing() {
    installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null |
        awk '$1 == "ii" { print $2 }')
    for p in "$@"; do
        printf '%s\n' "$installed" | grep -qx -- "$p" || printf '%s ' "$p"
    done
}
# shellcheck disable=SC2086
miss_build=$(missing $BUILD_PKGS)
# shellcheck disable=SC2086
miss_test=$(missing $TEST_PKGS)
all="$miss_build$miss_test"
[ -z "$all" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    cmd="sudo apt-get update && sudo apt-get install -y --no-install-recommends $all"
    if [ -n "$miss_build" ]; then
        say "missing build packages: $miss_build"
        say "not root and no passwordless sudo; install them with:"
        echo "    $cmd" >&2
        exit 1
    fi
    say "missing test packages: $miss_test"
    say "not root and no passwordless sudo; install them with:"
    echo "    $cmd" >&2
    if is_ci; then
        say "CI=true: every test must run, so this is an error"
        exit 1
    fi
    say "continuing: the tests that need them will be skipped"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
APT="$SUDO apt-get -y -qq -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
t0=$(date +%s)
say "installing: $all"
# shellcheck disable=SC2086
if ! $APT update >/dev/null; then
    say "apt-get update failed; trying the install with the lists we have"
fi
# shellcheck disable=SC2086
if ! $APT install --no-install-recommends $all; then
    say "apt-get install failed"
    if [ -n "$miss_build" ] && [ -n "$miss_test" ]; then
        say "retrying with the build packages alone: $miss_build"
        # shellcheck disable=SC2086
        $APT install --no-install-recommends $miss_build || true
    fi
    # shellcheck disable=SC2086
    still_build=$(missing $BUILD_PKGS)
    # shellcheck disable=SC2086
    still_test=$(missing $TEST_PKGS)
    if [ -n "$still_build" ] || is_ci; then
        say "still missing: $still_build$still_test"
        exit 1
    fi
    say "still missing test packages: $still_test (their tests will be skipped)"
    exit 0
fi
say "installed in $(( $(date +%s) - t0 ))s"

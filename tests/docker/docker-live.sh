#!/bin/bash
# Real-daemon tests of the Engine API client: runs the cmocka program
# BUILD/tests/test_docker_live (tests/unit/test_docker_live.c) with
# TPG_DOCKER_LIVE=1. Negotiation, both builders (success, failing RUN,
# .dockerignore), 50 MB of output under a cap, a container killed at its
# deadline, exec, UTF-8 logs, the health override, sandbox limits, and
# the cleanup by label.
#
# Env: REPO_ROOT, BUILD (from tests/run-all.sh); TPG_LIVE_IMAGE overrides
# the image (default tpgrade-base/debian:bookworm, from
# tests/env/base-images.sh). Exit 0 pass, 77 skip, else fail.
set -u
cd "${REPO_ROOT:-$(dirname "$0")/../..}" || exit 1
BUILD=${BUILD:-build}
bin=$BUILD/tests/test_docker_live
if [ ! -x "$bin" ]; then
    echo "no $bin: build the unit test programs first (make unit-bins)" >&2
    exit 1
fi
if ! docker info >/dev/null 2>&1; then
    echo "skip: no Docker daemon answers (DOCKER_HOST=${DOCKER_HOST:-unset})"
    exit 77
fi
img=${TPG_LIVE_IMAGE:-tpgrade-base/debian:bookworm}
if ! docker image inspect "$img" >/dev/null 2>&1; then
    if [ -x tests/env/base-images.sh ]; then
        tests/env/base-images.sh ensure || { echo "skip: base images cannot be built"; exit 77; }
    fi
    if ! docker image inspect "$img" >/dev/null 2>&1; then
        echo "skip: no image $img (tests/env/base-images.sh provides it)"
        exit 77
    fi
fi
TPG_DOCKER_LIVE=1 TPG_LIVE_IMAGE=$img "$bin"

#!/bin/bash
# Conformance: the build context tpgrade sends (grader/buildctx.c) has the
# same entries, in the same order, as the one the docker CLI sends with the
# classic builder, for a tree exercising .dockerignore (exceptions, "**",
# excluded folders with and without exceptions, an excluded Dockerfile,
# symlinks). The CLI talks to a fake daemon (capture.py) that saves the tar.
# Needs the docker CLI, python3 and cc; no daemon.
set -u
cd "${REPO_ROOT:-$(dirname "$0")/../..}" || exit 1
BUILD=${BUILD:-build}
for tool in docker python3 cc tar; do
    command -v $tool >/dev/null || { echo "skip: no $tool"; exit 77; }
done
[ -f "$BUILD/libtpgrade.a" ] || { echo "no $BUILD/libtpgrade.a" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tpg-ctxconf.XXXXXX")
srv_pid=
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

here=tests/docker/buildctx-vs-cli
libs=$(pkg-config --libs libcurl jansson libarchive libpcre2-8 yaml-0.1 libgit2 2>/dev/null)
san=
[ "${TPG_SANITIZED:-0}" = 1 ] && san="-fsanitize=address,undefined"
cc -std=c11 -D_GNU_SOURCE $san -Iinclude "$here/dump.c" "$BUILD/libtpgrade.a" $libs -lm -lpthread \
    -o "$work/dump" || exit 1

ctx=$work/ctx
mkdir -p "$ctx"/{a/b,docs,node_modules/x,cache/deep,empty,sub}
touch "$ctx"/{Dockerfile,app.py,README.md,NOTES.md} "$ctx"/a/b/c.pyc "$ctx"/a/keep.pyc \
    "$ctx"/docs/{x.md,keep.txt} "$ctx"/node_modules/x/y.js "$ctx"/node_modules/keep.js \
    "$ctx"/cache/c "$ctx"/cache/deep/d "$ctx"/sub/{a.tmp,b.txt}
ln -s /etc/passwd "$ctx/link"
ln -s ../docs "$ctx/sub/docs-link"
printf '%s\n' '# comment' '**/*.pyc' '!a/keep.pyc' '*.md' '!README.md' 'docs' \
    '!docs/keep.txt' 'node_modules' '!node_modules/keep.js' 'cache/**' 'empty' \
    'Dockerfile' '/sub/*.tmp' > "$ctx/.dockerignore"

python3 "$here/capture.py" "$work/d.sock" "$work/cli.tar" &
srv_pid=$!
for _ in $(seq 50); do [ -S "$work/d.sock" ] && break; sleep 0.1; done
DOCKER_BUILDKIT=0 DOCKER_HOST=unix://$work/d.sock DOCKER_CONFIG=$work/dc \
    timeout 30 docker build -q "$ctx" >/dev/null 2>&1
[ -s "$work/cli.tar" ] || { echo "skip: the docker CLI sent no build context"; exit 77; }
"$work/dump" "$ctx" "$work/ours.tar" || exit 1
if ! diff <(tar tf "$work/cli.tar") <(tar tf "$work/ours.tar"); then
    echo "FAIL: tpgrade's build context differs from the docker CLI's (< cli, > ours)"
    exit 1
fi
echo "same $(tar tf "$work/ours.tar" | wc -l) entries as $(docker --version)"

#!/bin/bash
# make install puts the binary, the specs and the man page under
# DESTDIR/PREFIX, and the installed binary finds its specs by name.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
dest=$(mktemp_dir dest)
san=
[ "${TPG_SANITIZED:-}" = 1 ] && san=1
run make -s -C "$REPO_ROOT" install BUILD="$BUILD" SAN="$san" DESTDIR="$dest" PREFIX=/opt/tpg
assert_status 0
assert_file "$dest/opt/tpg/bin/tpgrade"
assert_file "$dest/opt/tpg/share/tpgrade/checks/tp2bis.yaml"
assert_file "$dest/opt/tpg/share/man/man1/tpgrade.1"
# A bare spec name resolves next to the installed binary, from anywhere.
run bash -c "cd / && TPGRADE_CHECKS_DIR= '$dest/opt/tpg/bin/tpgrade' validate tp2bis"
assert_status 0
assert_contains "$OUT" "share/tpgrade/checks/tp2bis.yaml: OK"
run bash -c "cd / && '$dest/opt/tpg/bin/tpgrade' list tp2bis"
assert_status 0
assert_contains "$OUT" "Total: 28 points (+1 bonus)"
run bash -c "cd / && '$dest/opt/tpg/bin/tpgrade' validate no-such-tp"
assert_status 2
assert_contains "$ERR" "no spec named 'no-such-tp'"

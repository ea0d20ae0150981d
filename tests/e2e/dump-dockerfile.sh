#!/bin/bash
# dump-dockerfile prints BuildKit's dump for every conformance case, and
# exits 2 with the error on stderr for the cases BuildKit rejects.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
data="$REPO_ROOT/tests/data/buildkit-parser"
n=0
for dir in "$data"/testfiles/*/; do
	run "$TPGRADE" dump-dockerfile "$dir/Dockerfile"
	assert_status 0
	[ "$OUT"$'\n' = "$(cat "$dir/result")"$'\n' ] || fail "dump differs for $dir"
	n=$((n + 1))
done
for dir in "$data"/oracle-extra/*/; do
	if [ -f "$dir/result" ]; then
		run "$TPGRADE" dump-dockerfile "$dir/Dockerfile"
		assert_status 0
		[ "$OUT"$'\n' = "$(cat "$dir/result")"$'\n' ] || fail "dump differs for $dir"
	else
		run "$TPGRADE" dump-dockerfile "$dir/Dockerfile"
		assert_status 2
		assert_contains "$ERR" "$(head -c 40 "$dir/error")"
	fi
	n=$((n + 1))
done
for dir in "$data"/testfiles-negative/*/; do
	run "$TPGRADE" dump-dockerfile "$dir/Dockerfile"
	assert_status 2
	[ -n "$ERR" ] || fail "no error message for $dir"
	n=$((n + 1))
done
# Binary garbage is an error, not a crash.
tmp=$(mktemp_dir)
head -c 4096 /dev/urandom >"$tmp/Dockerfile"
run "$TPGRADE" dump-dockerfile "$tmp/Dockerfile"
assert_status 2
run "$TPGRADE" dump-dockerfile "$tmp/missing"
assert_status 2
note "$n conformance cases"

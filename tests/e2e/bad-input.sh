#!/bin/bash
# Bad input gets a clear message and nothing is lost: missing repository,
# a spec that is not YAML, binary and huge files, symlinks out of the
# repository, '..' in spec paths, unreadable files, unwritable outputs.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
tmp=$(mktemp_dir)
spec="$tmp/spec.yaml"
cat >"$spec" <<'YAML'
tp: bad
title: Bad input
suites:
  - id: s
    title: S
    checks:
      - id: s.dockerfile
        title: the Dockerfile has an ENTRYPOINT
        kind: dockerfile
        path: Dockerfile
        instruction: ENTRYPOINT
        expect: [{present: true}]
      - id: s.notes
        title: notes mention docker
        kind: file
        path: notes.md
        expect: [{content: docker}]
YAML
repo="$tmp/repo"
mkdir "$repo"

# Missing repository: usage error, nothing graded.
run "$TPGRADE" grade --in-place "$spec" "$tmp/nope"
assert_status 2
assert_contains "$ERR" "not found"

# A spec that is not YAML, a spec that is not there, a spec with '..'.
printf 'tp: [unclosed\n' >"$tmp/broken.yaml"
run "$TPGRADE" grade --in-place "$tmp/broken.yaml" "$repo"
assert_status 2
assert_match "$ERR" "broken.yaml:[0-9]+:[0-9]+: error: .*YAML"
run "$TPGRADE" grade --in-place "$tmp/absent.yaml" "$repo"
assert_status 2
sed 's|path: notes.md|path: ../../etc/passwd|' "$spec" >"$tmp/escape.yaml"
run "$TPGRADE" validate "$tmp/escape.yaml"
assert_status 2
assert_match "$OUT" "escape.yaml:[0-9]+:[0-9]+: error: suites\[0\]\.checks\[1\]\.path: .*inside the repository"

# A binary file where a Dockerfile was expected: a failed check, not a crash.
head -c 65536 /dev/urandom >"$repo/Dockerfile"
printf 'docker\0\1\2 binary notes\n' >"$repo/notes.md"
run "$TPGRADE" grade --in-place --json "$tmp/r.json" "$spec" "$repo"
assert_status 1
assert_eq "$(json_get "$tmp/r.json" checks.0.status)" "failed"
assert_contains "$(json_get "$tmp/r.json" checks.0.message)" "does not parse"
assert_eq "$(json_get "$tmp/r.json" checks.1.status)" "passed"

# A 1 GB (sparse) file: the size cap answers at once.
rm "$repo/Dockerfile"
truncate -s 1G "$repo/notes.md"
printf 'FROM x\nENTRYPOINT ["a"]\n' >"$repo/Dockerfile"
start=$(date +%s)
run "$TPGRADE" grade --in-place --json "$tmp/r.json" "$spec" "$repo"
assert_status 1
[ $(( $(date +%s) - start )) -lt 10 ] || fail "the size cap took too long"
assert_contains "$(json_get "$tmp/r.json" checks.1.message)" "1.0 GB, over the 1.0 MB limit"

# A symlink out of the repository is never followed.
rm "$repo/notes.md"
ln -s /etc/passwd "$repo/notes.md"
run "$TPGRADE" grade --in-place --json "$tmp/r.json" "$spec" "$repo"
assert_status 1
assert_contains "$(json_get "$tmp/r.json" checks.1.message)" "outside the repository: not followed"
assert_not_contains "$(cat "$tmp/r.json")" "root:x:0:0"
rm "$repo/notes.md"
ln -s ../../../../../../etc/passwd "$repo/notes.md"
run "$TPGRADE" grade --in-place --json "$tmp/r.json" "$spec" "$repo"
assert_contains "$(json_get "$tmp/r.json" checks.1.message)" "outside the repository"

# A FIFO where a file was expected does not block.
rm "$repo/notes.md"
mkfifo "$repo/notes.md"
run timeout 20 "$TPGRADE" grade --in-place --json "$tmp/r.json" "$spec" "$repo"
assert_status 1
assert_eq "$(json_get "$tmp/r.json" checks.1.status)" "failed"
rm "$repo/notes.md"

# An unreadable file (as an unprivileged user: root reads everything).
echo "docker notes" >"$repo/notes.md"
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	# A world-traversable copy: the test's own temp folders are private.
	pub=$(mktemp -d /tmp/tpgtest-public.XXXXXX)
	at_exit rm -rf "$pub"
	cp -a "$spec" "$repo" "$pub/"
	chmod -R a+rX "$pub"
	chmod 000 "$pub/repo/notes.md"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$TPGRADE" grade --in-place \
		--json - "$pub/spec.yaml" "$pub/repo"
	assert_status 1
	assert_contains "$OUT" "Permission denied"
else
	note "not root: unreadable-file case left out"
fi

# Outputs that cannot be written: exit 3, the report on the terminal, and an
# existing file is never left half-written.
run "$TPGRADE" grade --in-place --json "$tmp/no/such/dir/r.json" "$spec" "$repo"
assert_status 3
assert_contains "$OUT" "s.dockerfile"
mkdir "$tmp/adir"
run "$TPGRADE" grade --in-place --json "$tmp/adir" "$spec" "$repo"
assert_status 3
[ -z "$(ls -A "$tmp/adir")" ] || fail "a temporary file was left in $tmp/adir"
# An existing report that cannot be replaced stays whole (immutable file:
# even root's rename fails); no temporary file is left next to it.
echo '{"previous": true}' >"$tmp/keep.json"
if chattr +i "$tmp/keep.json" 2>/dev/null; then
	at_exit chattr -i "$tmp/keep.json"
	run "$TPGRADE" grade --in-place --json "$tmp/keep.json" "$spec" "$repo"
	chattr -i "$tmp/keep.json"
	assert_status 3
	assert_eq "$(cat "$tmp/keep.json")" '{"previous": true}'
	[ "$(ls -A "$tmp" | grep -c keep)" = 1 ] || fail "a temporary file was left: $(ls -A "$tmp")"
else
	note "chattr +i not supported here: immutable-target case left out"
fi
true

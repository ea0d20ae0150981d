#!/bin/bash
# `kind: registry` without any registry: spec errors (file:line:col, key
# path, what to write), automatic tags, --skip-tags registry, and a
# registry that does not answer (error, exit 3, not a failure).
# tests/docker/registry-kind.sh grades against real registries.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
tmp=$(mktemp_dir)
cat >"$tmp/bad.yaml" <<'YAML'
tp: bad
title: bad
suites:
  - id: s
    title: s
    checks:
      - {id: a, title: t, kind: registry, image: "Localhost:5000/My-Ubuntu"}
      - {id: b, title: t, kind: registry}
      - {id: c, title: t, kind: registry, image: x/y, expect: [{platform: linux}]}
      - {id: d, title: t, kind: registry, image: x/y, expect: [{tags: -1}, {tag: latest, tags: 2}]}
      - {id: e, title: t, kind: registry, image: x/y, anonymous: true, password: p, username: u}
      - {id: f, title: t, kind: registry, image: x/y, expect: [{digest-equals-local: "UPPER:x:y"}, {manifest: many}, {color: red}]}
      - {id: g, title: t, kind: registry, image: x/y, expect: [{tag: {matches: '('}}, {repository: maybe}], insecur: true}
      - {id: h, title: t, kind: registry, image: x/y, expect: [{catalog: []}]}
YAML
run "$TPGRADE" validate "$tmp/bad.yaml"
assert_status 2
all="$OUT$ERR"
assert_contains "$all" "bad.yaml:7:50: error: suites[0].checks[0].image: invalid image reference \"Localhost:5000/My-Ubuntu\": repository name must be lowercase"
assert_contains "$all" "checks[1].image: required"
assert_contains "$all" "checks[2].expect[0].platform: 'linux' is not a platform: write os/architecture"
assert_contains "$all" "checks[3].expect[0].tags: must be a count or {min: N, max: N}"
assert_contains "$all" "checks[3].expect[1]: one condition per item"
assert_contains "$all" "checks[4].anonymous: anonymous: true takes no username/password"
assert_contains "$all" "checks[5].expect[0].digest-equals-local: invalid image reference"
assert_contains "$all" "checks[5].expect[1].manifest: 'many' is not one of: exists, absent, image, index, list"
assert_contains "$all" "checks[5].expect[2]: a condition needs one of: repository, tag, tags, manifest, platform, catalog, digest-equals-local, any, all, not"
assert_contains "$all" "checks[6].expect[0].tag.matches: the regular expression '(' does not compile"
assert_contains "$all" "checks[6].expect[1].repository: 'maybe' is not one of: exists, absent"
assert_contains "$all" "checks[6].insecur: unknown key 'insecur'"
assert_contains "$all" "checks[7].expect[0].catalog: an empty list"
assert_contains "$all" "14 problems"

# The test fixture is valid; its checks carry the "registry" tag.
spec="$REPO_ROOT/tests/docker/fixtures/registry.yaml"
run "$TPGRADE" validate "$spec"
assert_status 0
run "$TPGRADE" validate --kinds
assert_match "$OUT" '^registry +'
run "$TPGRADE" list "$spec"
assert_status 0
assert_contains "$OUT" "registry.pushed"
assert_match "$OUT" "registry"

# --skip-tags registry grades nothing here: exit 0, nothing counted.
repo=$(mktemp_dir repo)
run "$TPGRADE" grade --in-place --skip-tags registry --json "$tmp/skip.json" "$spec" "$repo"
assert_status 0
assert_eq "$(json_get "$tmp/skip.json" max_score)" "0"

# A registry nobody answers for: an error of the environment (exit 3).
port=$(free_port)
run "$TPGRADE" grade --in-place --no-color --lang en --only registry.pushed,registry.pulled \
	--var "registry=127.0.0.1:$port" --json "$tmp/down.json" "$spec" "$repo"
assert_status 3
assert_eq "$(json_get "$tmp/down.json" 'checks[0].status')" "error"
assert_contains "$(json_get "$tmp/down.json" 'checks[0].message')" "cannot reach the registry at http://127.0.0.1:$port/v2/"
assert_eq "$(json_get "$tmp/down.json" 'checks[1].status')" "skipped"
exit 0

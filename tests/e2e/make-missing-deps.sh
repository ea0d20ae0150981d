#!/bin/bash
# `make` names the Debian package of a missing library instead of failing
# with a compiler error (pkg-config is made to miss jansson).
set -eu
. "$(dirname "$0")/../lib.sh"
bin=$(mktemp_dir bin)
real=$(command -v pkg-config) || skip "no pkg-config"
cat >"$bin/pkg-config" <<SH
#!/bin/sh
for a in "\$@"; do [ "\$a" = jansson ] && exit 1; done
exec "$real" "\$@"
SH
chmod +x "$bin/pkg-config"
run env PATH="$bin:$PATH" make -C "$REPO_ROOT" BUILD="$(mktemp_dir build)"
assert_status 2
assert_contains "$ERR" "missing libraries"
assert_contains "$ERR" "apt-get install libjansson-dev"

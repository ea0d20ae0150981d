#!/bin/bash
# registry-kind.sh - `kind: registry` against real registries.
#
#  - Debian's docker-registry (tests/env/registry.sh) without auth, with
#    htpasswd (Basic) and with token auth: images pushed by the daemon
#    (docker push, docker manifest push for an index), every condition of
#    tests/docker/fixtures/registry.yaml passing and failing; credentials
#    from spec variables (environment) and from a DOCKER_CONFIG config.json;
#    a wrong password and no credentials (error, exit 3); the catalog over
#    several pages (105 repositories);
#  - tests/docker/fixtures/registry-helper.py serve: a tags list in pages of
#    40 (250 tags), and a repository answering 503 (error);
#  - a registry that is down (error, exit 3);
#  - an https-only registry with a private CA: verified with `ca-bundle`,
#    an error without it;
#  - the TP: a `registry:2` container run as the student does, my-ubuntu
#    pushed, removed, pulled back: registry.pushed and registry.pulled pass;
#    then fail when the local image is rebuilt, retagged or removed;
#  - no password in any output (terminal, JSON, JUnit).
#
# Env: REPO_ROOT, BUILD, TPGRADE, CI (true: a skip is a failure).
# Exit: 0 pass, 77 skip, anything else fail.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
need_docker busybox:latest ubuntu:latest registry:2
need_cmd curl
ENV_SH=$REPO_ROOT/tests/env/registry.sh
SPEC=$REPO_ROOT/tests/docker/fixtures/registry.yaml
HELPER=$REPO_ROOT/tests/docker/fixtures/registry-helper.py
PY=${TPG_PYTHON:-/usr/bin/python3}
if ! missing=$("$ENV_SH" check 2>&1); then
	need_or_fail "${missing:-tests/env/registry.sh check failed}"
fi
docker manifest --help >/dev/null 2>&1 || need_or_fail "the docker CLI has no 'docker manifest'"

# No stray credentials: tpgrade and the docker CLI see an empty config
# unless a test says otherwise.
DOCKER_CONFIG=$(mktemp_dir docker-config)
export DOCKER_CONFIG
unset DOCKER_AUTH_CONFIG TPGTEST_REG_USER TPGTEST_REG_PASSWORD
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

WORK=$(mktemp_dir work)
OUTS=$(mktemp_dir outputs)    # every tpgrade output, grepped for secrets at the end
REPO=$(mktemp_dir repo)       # what is graded: nothing (registry checks only)
ARCH=$(docker version --format '{{.Server.Arch}}')
SECRETS=()
say() { echo "registry-kind: $*"; }

# grade NAME ARGS...: tpgrade grade with every report format kept in OUTS.
grade() {
	local name=$1
	shift
	run "$TPGRADE" grade --in-place --no-color --lang en --json "$OUTS/$name.json" \
		--junit "$OUTS/$name.xml" --gradescope "$OUTS/$name.gs.json" "$@" "$SPEC" "$REPO"
	printf '%s\n%s\n' "$OUT" "$ERR" >"$OUTS/$name.term"
	JSON=$OUTS/$name.json
}
# statuses JSON [ID=STATUS...]: every counted check has its status: given,
# else by its id (*.fail failed, *.error error, others passed).
statuses() {
	"$PY" - "$@" <<'PY' || fail "unexpected outcomes in $1"
import json, sys
r = json.load(open(sys.argv[1]))
given = dict(a.split("=", 1) for a in sys.argv[2:])
bad = 0
for c in r["checks"]:
    if not c["counted"]:
        continue
    cid = c["id"]
    want = given.get(cid) or ("failed" if cid.endswith(".fail") else
                              "error" if cid.endswith(".error") else "passed")
    if c["status"] != want:
        print("%s: %s, expected %s: %s" % (cid, c["status"], want, c["message"]))
        bad = 1
sys.exit(bad)
PY
}
# msg JSON ID: the message of a check.
msg() {
	"$PY" -c 'import json, sys
for c in json.load(open(sys.argv[1]))["checks"]:
    if c["id"] == sys.argv[2]:
        print(c["message"])' "$1" "$2"
}
# found JSON ID KEY: a value of the check's JSON details.
detail() {
	"$PY" -c 'import json, sys
for c in json.load(open(sys.argv[1]))["checks"]:
    if c["id"] == sys.argv[2]:
        print((c.get("data") or {}).get("registry", {}).get(sys.argv[3], ""))' "$1" "$2" "$3"
}

# Two images of our own (never push or remove the base images themselves).
IMG_A=$(unique_name img-a)
IMG_B=$(unique_name img-b)
for i in "$IMG_A" "$IMG_B"; do
	printf 'FROM busybox:latest\nLABEL tpgtest.image=%s\n' "$i" |
		docker build -q -t "$i" - >/dev/null 2>"$WORK/build.err" ||
		fail "docker build $i: $(cat "$WORK/build.err")"
	docker_rmi_at_exit "$(docker image inspect --format '{{.Id}}' "$i")" "$i"
done

# fill ADDR CONFIG_DIR: pushes tpgtest:{latest,v1,v2} (image A), tpgtest:arm
# (image B) and the index tpgtest:multi (A as linux/ARCH, B as
# linux/arm64/v8) with the docker CLI configured by CONFIG_DIR. Sets DIGEST
# (of latest).
fill() {
	local addr=$1 dc=$2 t
	for t in latest v1 v2; do
		docker tag "$IMG_A" "$addr/tpgtest:$t"
		docker_rmi_at_exit "$addr/tpgtest:$t"
		DOCKER_CONFIG=$dc docker push -q "$addr/tpgtest:$t" >/dev/null ||
			fail "docker push $addr/tpgtest:$t"
	done
	docker tag "$IMG_B" "$addr/tpgtest:arm"
	docker_rmi_at_exit "$addr/tpgtest:arm"
	DOCKER_CONFIG=$dc docker push -q "$addr/tpgtest:arm" >/dev/null || fail "docker push arm"
	DOCKER_CONFIG=$dc docker manifest create --insecure "$addr/tpgtest:multi" \
		"$addr/tpgtest:latest" "$addr/tpgtest:arm" >/dev/null || fail "docker manifest create"
	DOCKER_CONFIG=$dc docker manifest annotate --os linux --arch arm64 --variant v8 \
		"$addr/tpgtest:multi" "$addr/tpgtest:arm" || fail "docker manifest annotate"
	DOCKER_CONFIG=$dc docker manifest push --insecure --purge "$addr/tpgtest:multi" >/dev/null ||
		fail "docker manifest push"
	DIGEST=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$IMG_A" |
		sed -n "s|^$addr/tpgtest@||p" | head -n 1)
	[ -n "$DIGEST" ] || fail "no RepoDigest for $addr/tpgtest"
}

# The whole `conds` suite against ADDR: every check has its outcome.
conds() {
	local name=$1 addr=$2
	shift 2
	grade "$name" --only conds --var "reg=$addr" --var "digest=$DIGEST" --var "arch=$ARCH" "$@"
	assert_status 1
	statuses "$JSON"
	# What the messages say.
	assert_contains "$(msg "$JSON" repo.exists.fail)" "no repository tpgtest-missing in $addr (the catalog has: tpgtest)"
	assert_contains "$(msg "$JSON" repo.exists)" "repository tpgtest exists in $addr (tags: arm, latest, multi, v1, v2)"
	assert_contains "$(msg "$JSON" tag.exact.fail)" "$addr/tpgtest has no tag v9 (it has: arm, latest, multi, v1, v2)"
	assert_contains "$(msg "$JSON" tag.match)" "tag v1 matches"
	assert_contains "$(msg "$JSON" tag.match.fail)" "no tag of $addr/tpgtest qualifies (arm, latest, multi, v1, v2): tag arm does not match /^release-/"
	assert_contains "$(msg "$JSON" tags.count.fail)" "$addr/tpgtest has 5 tags: arm, latest, multi, v1, v2; expected at most 1"
	assert_contains "$(msg "$JSON" manifest.default)" "$addr/tpgtest:latest is an image (${DIGEST:0:19}"
	assert_contains "$(msg "$JSON" manifest.default.fail)" "tag nope not found in repository tpgtest of $addr"
	assert_contains "$(msg "$JSON" manifest.image.fail)" "is a multi-platform index ("
	assert_contains "$(msg "$JSON" manifest.image.fail)" "linux/arm64/v8"
	assert_contains "$(msg "$JSON" manifest.image.fail)" "), not a single image"
	assert_contains "$(msg "$JSON" manifest.index.fail)" "not a multi-platform index"
	assert_contains "$(msg "$JSON" platform.image)" "is an image for linux/$ARCH"
	assert_contains "$(msg "$JSON" platform.image.fail)" "is an image for linux/$ARCH, not linux/s390x"
	assert_contains "$(msg "$JSON" platform.index.fail)" "is an index without linux/s390x (its platforms: "
	assert_contains "$(msg "$JSON" catalog.name.fail)" "the catalog of $addr has no tpgtest-missing (it has: tpgtest)"
	assert_contains "$(msg "$JSON" local.named.fail)" "the local image busybox:latest was neither pushed to nor pulled from $addr/tpgtest"
	assert_contains "$(msg "$JSON" combo.message.fail)" "custom explanation: push a tag nope (none of the alternatives holds"
	assert_eq "$(detail "$JSON" manifest.digest digest)" "$DIGEST" "digest of manifest.digest"
	assert_eq "$(detail "$JSON" manifest.default tag)" "latest"
	assert_eq "$(json_get "$JSON" exit_code)" 1
}

# ---------------------------------------------------------------- no auth
at_exit "$ENV_SH" stop "$WORK/noauth"
ADDR=$("$ENV_SH" start noauth 0 "$WORK/noauth") || fail "cannot start the noauth registry"
say "noauth registry $ADDR"
fill "$ADDR" "$DOCKER_CONFIG"
conds noauth "$ADDR"

# The catalog over two pages (the client asks 100 a page): 105 more repos.
"$PY" "$HELPER" bulk "$ADDR" tpgtest latest tpgtest-bulk 105 || fail "bulk repositories"
grade bulk --only bulk --var "reg=$ADDR"
assert_status 0
statuses "$JSON"
grade bulk-fail --only catalog.name.fail,repo.exists.fail --var "reg=$ADDR"
assert_status 1
statuses "$JSON"
assert_contains "$(msg "$JSON" catalog.name.fail)" "and 96 more"
assert_contains "$(msg "$JSON" repo.exists.fail)" "(the catalog has: tpgtest, tpgtest-bulk-000,"

# ------------------------------------------------- htpasswd and token auth
for mode in htpasswd token; do
	at_exit "$ENV_SH" stop "$WORK/$mode"
	addr=$("$ENV_SH" start "$mode" 0 "$WORK/$mode") || fail "cannot start the $mode registry"
	say "$mode registry $addr"
	user=$(cat "$WORK/$mode/user")
	pass=$(cat "$WORK/$mode/password")
	SECRETS+=("$pass")
	dc=$(mktemp_dir "config-$mode")
	printf '%s' "$pass" | DOCKER_CONFIG=$dc docker login -u "$user" --password-stdin "$addr" \
		>/dev/null 2>"$WORK/login.err" || fail "docker login $addr: $(cat "$WORK/login.err")"
	fill "$addr" "$dc"

	# Credentials from spec variables (here the environment, as in GitLab CI).
	TPGTEST_REG_USER=$user TPGTEST_REG_PASSWORD=$pass conds "$mode-vars" "$addr" --verbose
	TPGTEST_REG_USER=$user TPGTEST_REG_PASSWORD=$pass run "$TPGRADE" list "$SPEC"
	printf '%s\n%s\n' "$OUT" "$ERR" >"$OUTS/$mode-list.term"

	# Credentials from a config.json (docker login's), nothing in the spec.
	DOCKER_CONFIG=$dc grade "$mode-config" --only repo.exists,tag.exact,manifest.index,catalog.name \
		--var "reg=$addr"
	assert_status 0
	statuses "$JSON"

	# A wrong password: the environment's problem (error, exit 3), said plainly.
	wrong="wrong-$RANDOM-$RANDOM-secret"
	SECRETS+=("$wrong")
	TPGTEST_REG_USER=$user TPGTEST_REG_PASSWORD=$wrong grade "$mode-wrong" \
		--only repo.exists,manifest.default,registry.pushed --var "reg=$addr" --var "registry=$addr"
	assert_status 3
	statuses "$JSON" repo.exists=error manifest.default=error registry.pushed=error
	assert_contains "$(msg "$JSON" repo.exists)" "refused the credentials"
	assert_contains "$(msg "$JSON" repo.exists)" "tpgrade needs read access"

	# No credentials at all.
	grade "$mode-none" --only repo.exists --var "reg=$addr"
	assert_status 3
	statuses "$JSON" repo.exists=error
	assert_contains "$(msg "$JSON" repo.exists)" "authentication"
done

# ------------------------------------------------------ paged tags, 503
: >"$WORK/helper.log"
"$PY" "$HELPER" serve --port-file "$WORK/helper-port" </dev/null >>"$WORK/helper.log" 2>&1 &
at_exit kill "$!"
wait_until 10 test -s "$WORK/helper-port" || fail "registry-helper.py serve did not start"
PAGED=127.0.0.1:$(cat "$WORK/helper-port")
grade paged --only paged --var "paged=$PAGED"
assert_status 3
statuses "$JSON"
assert_contains "$(msg "$JSON" tags.paged)" "has 250 tags"
assert_contains "$(msg "$JSON" broken.error)" "503"

# ------------------------------------------------------- registry down
DEAD=127.0.0.1:$(free_port)
grade down --only repo.exists,manifest.default,registry.pushed,registry.pulled \
	--var "reg=$DEAD" --var "registry=$DEAD"
assert_status 3
statuses "$JSON" repo.exists=error manifest.default=error registry.pushed=error \
	registry.pulled=skipped
assert_contains "$(msg "$JSON" registry.pushed)" "cannot reach the registry at http://$DEAD/v2/"
assert_contains "$OUT" "error"

# ------------------------------------------------ https, private CA
at_exit "$ENV_SH" stop "$WORK/tls"
TLS=$(TPG_REGISTRY_TLS_NAME=tpgtest.localhost "$ENV_SH" start noauth 0 "$WORK/tls") ||
	fail "cannot start the https registry"
grade tls --only tls --var "tls=$TLS" --var "ca=$WORK/tls/ca.crt"
assert_status 3
statuses "$JSON"
assert_contains "$(msg "$JSON" tls.ca)" "no repository tpgtest in $TLS (the registry is empty"
assert_contains "$(msg "$JSON" tls.noca.error)" "TLS error with the registry at https://$TLS/v2/"

# ---------------------------------------------- the TP with registry:2
PORT=$(free_port)
CT=$(unique_name registry)
docker_rm_at_exit "$CT"
docker run -d -p "127.0.0.1:$PORT:5000" --restart always --name "$CT" registry:2 >/dev/null ||
	fail "docker run registry:2"
wait_until "$(scaled 20)" curl -fsS --noproxy '*' "http://127.0.0.1:$PORT/v2/" ||
	fail "registry:2 does not answer: $(docker logs "$CT" 2>&1 | tail -n 5)"
TP=localhost:$PORT
UB=$(unique_name ubuntu)
printf 'FROM ubuntu:latest\nLABEL tpgtest.image=%s\n' "$UB" |
	docker build -q -t "$UB" - >/dev/null 2>"$WORK/build.err" || fail "docker build $UB: $(cat "$WORK/build.err")"
docker_rmi_at_exit "$(docker image inspect --format '{{.Id}}' "$UB")" "$UB" "$TP/my-ubuntu"

# Before anything is pushed.
grade tp-empty --only tp --var "registry=$TP"
assert_status 1
statuses "$JSON" registry.pushed=failed registry.pulled=skipped
assert_contains "$(msg "$JSON" registry.pushed)" "nothing was pushed to $TP/my-ubuntu: docker tag then docker push (no repository my-ubuntu in $TP (the registry is empty"

# The student's commands: tag, push, remove locally, pull back.
docker tag "$UB" "$TP/my-ubuntu"
docker push -q "$TP/my-ubuntu" >/dev/null || fail "docker push $TP/my-ubuntu"
docker image remove "$UB" "$TP/my-ubuntu" >/dev/null || fail "docker image remove"
docker pull -q "$TP/my-ubuntu" >/dev/null || fail "docker pull $TP/my-ubuntu"
grade tp-ok --only tp --var "registry=$TP"
assert_status 0
statuses "$JSON"
assert_contains "$(msg "$JSON" registry.pushed)" "$TP/my-ubuntu has 1 tag: latest"
assert_contains "$(msg "$JSON" registry.pulled)" "the local image $TP/my-ubuntu:latest is the one in the registry"
TP_DIGEST=$(detail "$JSON" registry.pushed digest)
assert_match "$TP_DIGEST" '^sha256:[0-9a-f]{64}$'
assert_eq "$(detail "$JSON" registry.pulled digest)" "$TP_DIGEST"
assert_contains "$(docker image inspect --format '{{json .RepoDigests}}' "$TP/my-ubuntu")" "$TP_DIGEST"
if command -v xmllint >/dev/null 2>&1; then
	xmllint --noout --schema "$REPO_ROOT/tests/data/junit/junit-gitlab.xsd" "$OUTS/tp-ok.xml" \
		2>"$WORK/xmllint.err" || fail "JUnit does not validate: $(cat "$WORK/xmllint.err")"
fi

# The same registry named 127.0.0.1:PORT: the same digests.
grade tp-ip --only tp --var "registry=127.0.0.1:$PORT"
assert_status 0
statuses "$JSON"

# Rebuilt and retagged locally (never pushed): no digest from the registry.
UB2=$(unique_name ubuntu2)
printf 'FROM ubuntu:latest\nLABEL tpgtest.image=%s\n' "$UB2" |
	docker build -q -t "$UB2" - >/dev/null 2>"$WORK/build.err" || fail "docker build $UB2: $(cat "$WORK/build.err")"
docker_rmi_at_exit "$(docker image inspect --format '{{.Id}}' "$UB2")" "$UB2"
docker tag "$UB2" "$TP/my-ubuntu"
grade tp-rebuilt --only tp --var "registry=$TP"
assert_status 1
statuses "$JSON" registry.pulled=failed
assert_contains "$(msg "$JSON" registry.pulled)" "the local image $TP/my-ubuntu:latest was neither pushed to nor pulled from $TP/my-ubuntu"

# The registry moved on (a new push from elsewhere) while the local image
# is the old one: its digest there is not the registry's.
docker push -q "$TP/my-ubuntu" >/dev/null || fail "docker push (second image)"
docker pull -q "$TP/my-ubuntu" >/dev/null
docker tag "$(docker image inspect --format '{{.Id}}' "$TP/my-ubuntu@$TP_DIGEST")" "$TP/my-ubuntu" ||
	fail "retag the first image"
grade tp-retagged --only tp --var "registry=$TP"
assert_status 1
statuses "$JSON" registry.pulled=failed
assert_contains "$(msg "$JSON" registry.pulled)" "is not the one in the registry"
assert_contains "$(msg "$JSON" registry.pulled)" "local image's digest there is ${TP_DIGEST:0:19}"

# Removed locally and not pulled back.
docker image remove "$TP/my-ubuntu" >/dev/null
grade tp-removed --only tp --var "registry=$TP"
assert_status 1
statuses "$JSON" registry.pulled=failed
assert_contains "$(msg "$JSON" registry.pulled)" "the Docker daemon has no image $TP/my-ubuntu:latest"

# ------------------------------------------------------- no secret leaks
for s in "${SECRETS[@]}"; do
	for f in "$OUTS"/*; do
		if grep -qF -- "$s" "$f"; then
			fail "a password appears in $(basename "$f")"
		fi
	done
done
if [ -n "${TPG_TEST_LOG:-}" ] && [ -f "$TPG_TEST_LOG" ]; then
	for s in "${SECRETS[@]}"; do
		! grep -qF -- "$s" "$TPG_TEST_LOG" || fail "a password appears in the test log"
	done
fi
say "no password in any of $(ls "$OUTS" | wc -l) output files"
exit 0

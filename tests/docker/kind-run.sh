#!/bin/bash
# `kind: run` against the real daemon: the cowsay image of the TP (built
# FROM ubuntu with apt-get) run with `-f stegosaurus Yo!` and with UTF-8
# text, cowsay not in PATH, the sandbox (no network, no capabilities,
# no-new-privileges, env/user/workdir), and hostile containers: one that
# never exits (killed at the deadline), one printing 50 MB (the cap holds,
# the grader stays small), a fork bomb and a memory hog (the limits hold,
# the run goes on). Nothing of the run is left on the daemon.
set -eu
. "$(dirname "$0")/../lib.sh"
need_tpgrade
need_docker busybox:latest python:3-slim ubuntu:latest

repo=$(mktemp_dir repo)
out=$(mktemp_dir out)
mkdir -p "$repo/cowsay"
cat >"$repo/cowsay/Dockerfile" <<'DF'
FROM ubuntu
RUN apt-get update && apt-get install -y cowsay
ENTRYPOINT ["/usr/games/cowsay"]
DF

spec=$(mktemp_dir spec)/run.yaml
cat >"$spec" <<'YAML'
tp: t
title: run kind
suites:
  - id: cowsay
    title: cowsay
    checks:
      - id: cowsay.build
        title: builds
        kind: build
        context: cowsay
        timeout: 5m
      - id: cowsay.entrypoint
        title: exec-form entrypoint
        kind: image
        image: ${found.cowsay.build.image}
        expect:
          - entrypoint: {equals: '["/usr/games/cowsay"]'}
          - entrypoint-form: exec
      - id: cowsay.stego
        title: a stegosaurus says Yo!
        kind: run
        image: ${found.cowsay.build.image}
        args: [-f, stegosaurus, Yo!]
        expect:
          - exit-code: 0
          - stdout: ["< Yo! >", '\__/']
      - id: cowsay.utf8
        title: UTF-8 intact
        kind: run
        image: ${found.cowsay.build.image}
        args: [Un éléphant dans un boa.]
        expect:
          - stdout: "< Un éléphant dans un boa. >"
      - id: cowsay.not-in-path
        title: cowsay is not in PATH in ubuntu
        kind: run
        image: ubuntu
        args: [cowsay, hello]
  - id: sandbox
    title: sandbox
    checks:
      - id: sb.defaults
        title: no network, no capabilities, no new privileges
        kind: run
        image: busybox
        args: [sh, -c, "ls /sys/class/net; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status"]
        expect:
          - stdout: {equals: "lo\nCapEff:\t0000000000000000\nNoNewPrivs:\t1"}
      - id: sb.options
        title: env, user, workdir, bridge
        kind: run
        image: busybox
        args: [sh, -c, 'echo "$FOO"; id -u; pwd; ls /sys/class/net | grep -c eth0; echo oops >&2; exit 3']
        env: {FOO: bar baz}
        user: "1234"
        workdir: /tmp
        network: bridge
        expect:
          - exit-code: 3
          - stdout: {equals: "bar baz\n1234\n/tmp\n1"}
          - stderr: {equals: oops}
          - output: [bar baz, oops]
      - id: sb.never
        title: never exits
        kind: run
        image: busybox
        args: [sh, -c, "echo started; exec sleep 1000"]
        timeout: 3s
      - id: sb.big
        title: prints 50 MB
        kind: run
        image: busybox
        args: [sh, -c, "head -c 52428800 /dev/zero | tr '\\0' x; echo; echo THE-END"]
        expect: [{stdout: THE-END}]
      - id: sb.forkbomb
        title: a fork bomb
        kind: run
        image: busybox
        args: [sh, -c, "b() { b | b & }; b; sleep 3; echo survived"]
        pids: 32
        cpus: 0.5
        timeout: 20s
      - id: sb.memory
        title: too much memory
        kind: run
        image: python:3-slim
        args: [python3, -c, "a = bytearray(512 << 20); print('allocated')"]
        memory: 64MiB
      - id: sb.after
        title: the run goes on
        kind: run
        image: busybox
        args: [echo, still fine]
        expect: [{stdout: {equals: still fine}}]
YAML

# Run tpgrade under python to read its peak memory (ru_maxrss of children).
python3 - "$TPGRADE" "$spec" "$repo" "$out/r.json" >"$out/stdout.txt" 2>"$out/rss.txt" <<'PY'
import resource, subprocess, sys
tpg, spec, repo, report = sys.argv[1:5]
p = subprocess.run([tpg, "grade", "--in-place", "--no-color", "--lang", "en", "-v",
                    "--json", report, spec, repo], stdin=subprocess.DEVNULL)
sys.stderr.write("%d %d\n" % (p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
PY
sed 's/^/  | /' "$out/stdout.txt" | cut -c1-300 >&2
read -r status rss_kb <"$out/rss.txt"
note "exit $status, tpgrade peak RSS ${rss_kb} KB"
assert_eq 1 "$status" "exit status"
if [ "${TPG_SANITIZED:-0}" != 1 ]; then
    [ "$rss_kb" -lt 102400 ] || fail "tpgrade used ${rss_kb} KB for 50 MB of output"
fi

python3 - "$out/r.json" <<'PY' || fail "outcomes differ (see the log)"
import json, sys
r = json.load(open(sys.argv[1]))
c = {x["id"]: x for x in r["checks"]}
want = {"cowsay.build": "passed", "cowsay.entrypoint": "passed", "cowsay.stego": "passed",
        "cowsay.utf8": "passed", "cowsay.not-in-path": "failed", "sb.defaults": "passed",
        "sb.options": "passed", "sb.never": "failed", "sb.big": "passed",
        "sb.forkbomb": "passed", "sb.memory": "failed", "sb.after": "passed"}
got = {k: v["status"] for k, v in c.items()}
bad = {k: (got.get(k), v, c.get(k, {}).get("message")) for k, v in want.items() if got.get(k) != v}
assert not bad, bad
assert "Un éléphant dans un boa." in c["cowsay.utf8"]["output"], c["cowsay.utf8"]["output"]
m = c["cowsay.not-in-path"]["message"]
assert "cannot start" in m and "cowsay" in m, m
m = c["sb.never"]["message"]
assert "did not exit within 3.0 s" in m, m
assert "started" in c["sb.never"]["output"], c["sb.never"]
big = c["sb.big"]
assert len(big["output"].encode()) < 70 * 1024, len(big["output"])
assert "earlier bytes not kept" in big["output"], big["output"][:200]
assert big["output"].rstrip().endswith("THE-END"), big["output"][-100:]
m = c["sb.memory"]["message"]
assert "137" in m and "out of memory" in m, m
print(c["sb.after"]["data"]["run"]["run"])
PY
runid=$(json_get "$out/r.json" checks[11].data.run.run)
assert_match "$runid" '^[0-9a-f]{12}$'
assert_eq "" "$(docker ps -aq --filter "label=tpgrade.run=$runid")" "containers left"
assert_eq "" "$(docker images -q --filter "label=tpgrade.run=$runid")" "images left"
# The machine is fine: the daemon answers and runs a container at once.
docker run --rm busybox true || fail "the daemon cannot run a container after the test"

#!/bin/bash
# bench/class.sh [STUDENTS] - how long and how much memory grading a class
# takes, static checks only (tests/e2e/fixtures/class/spec.yaml), students
# cloned from a local git daemon (tests/env/git-server.sh). Prints figures;
# not a timed test. Default: 200 students.
#
# Measures, each on a fresh output folder:
#   tpgrade class -j 1 and -j 2    wall time per student (clone + grade),
#                                  peak memory of the whole process tree
#   tpgrade class again            the incremental run (nothing changed)
#   engine alone                   tpg_engine_run in one process over the
#                                  checked-out trees (bench/class_engine_time.c)
#   tpgrade grade --in-place       one process per student, no clone
#   git clone + grep script        the shell way (bench/class_grep_checks.sh),
#                                  -j 1 and -j 2 (xargs -P)
# Needs: git (git-daemon), python3, cc and the build's libraries; make is
# run first. BUILD=build-san works but measures the sanitizers.
set -eu
N=${1:-200}
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO_ROOT/$BUILD ;; esac
TPGRADE=$BUILD/tpgrade
SPEC=$REPO_ROOT/tests/e2e/fixtures/class/spec.yaml
DEADLINE=2026-12-10T23:59:00+01:00
cd "$REPO_ROOT"
make -s BUILD="${BUILD#"$REPO_ROOT"/}" >/dev/null

T=$(mktemp -d "${TMPDIR:-/tmp}/tpgrade-bench-class.XXXXXX")
cleanup() { tests/env/git-server.sh stop "$T/srv" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
now() { date +%s.%N; }
secs() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$@"; }
per() { python3 -c "import sys; print('%.1f' % (float(sys.argv[1]) * 1000 / float(sys.argv[2])))" "$@"; }

echo "== setting up $N student repositories"
eval "$(tests/env/git-server.sh start "$T/srv" 2>/dev/null)"
set -- $TPG_GIT_SERVER_URLS
GIT=$1
tests/e2e/fixtures/class/make-class.sh "$TPG_GIT_SERVER_REPOS/class" "$N"
{
    echo "id,repo"
    for k in $(seq 1 "$N"); do n=$(printf 's%03d' "$k"); echo "$n,$GIT/class/$n.git"; done
} >"$T/roster.csv"

# class J OUT: one class run with memory sampling; sets WALL, MEM.
class() {
    local j=$1 out=$2 t0 t1
    rm -f "$T/pid" "$T/mem"
    python3 bench/class_tree_mem.py "$T/pid" "$T/mem" &
    local sampler=$!
    t0=$(now)
    "$TPGRADE" class -q -j "$j" --deadline "$DEADLINE" --out "$T/$out" "$SPEC" "$T/roster.csv" \
        >"$T/$out.log" 2>&1 &
    echo $! >"$T/pid"
    wait $! || [ $? = 1 ] || { echo "tpgrade class failed:"; tail "$T/$out.log"; exit 1; }
    t1=$(now)
    wait "$sampler"
    WALL=$(secs "$t0" "$t1")
    MEM=$(cat "$T/mem")
}

echo "== tpgrade class"
class 1 j1
WALL1=$WALL MEM1=$MEM
class 2 j2
WALL2=$WALL MEM2=$MEM
t0=$(now)
"$TPGRADE" class -q -j 2 --deadline "$DEADLINE" --out "$T/j2" "$SPEC" "$T/roster.csv" >"$T/inc.log" 2>&1 || true
WALLI=$(secs "$t0" "$(now)")
grep -q "This run: 0 graded, $N unchanged" "$T/inc.log" || { echo "incremental run regraded:"; cat "$T/inc.log"; }
# Engine seconds as the children's JSON reports give them (1 ms resolution).
ENGINE_JSON=$(python3 - "$T/j1" <<'PY'
import glob, json, sys
s = [json.load(open(p))["seconds"] for p in glob.glob(sys.argv[1] + "/*/result.json")]
print("%.3f" % (sum(s) * 1000 / len(s)))
PY
)

echo "== engine alone, grade --in-place, and the shell way"
mkdir -p "$T/clones"
git_clone_at_deadline() { # URL DIR: clone, then the last commit before the deadline
    git clone -q "$1" "$2" &&
        git -C "$2" checkout -q "$(git -C "$2" rev-list -1 --first-parent --before="$DEADLINE" HEAD)"
}
export -f git_clone_at_deadline
export DEADLINE
t0=$(now)
for k in $(seq 1 "$N"); do
    n=$(printf 's%03d' "$k")
    git_clone_at_deadline "$GIT/class/$n.git" "$T/clones/$n"
    bench/class_grep_checks.sh "$T/clones/$n" >>"$T/grep1.txt"
done
WALLG1=$(secs "$t0" "$(now)")
rm -rf "$T/clones2"
mkdir -p "$T/clones2"
t0=$(now)
seq 1 "$N" | xargs -P 2 -I{} bash -c 'n=$(printf "s%03d" {}); git_clone_at_deadline "$0/class/$n.git" "$1/$n" && '"$REPO_ROOT"'/bench/class_grep_checks.sh "$1/$n"' "$GIT" "$T/clones2" >"$T/grep2.txt"
WALLG2=$(secs "$t0" "$(now)")

cc -std=c11 -O2 -D_GNU_SOURCE -Iinclude -o "$T/engine_time" bench/class_engine_time.c \
    "$BUILD/libtpgrade.a" $(pkg-config --cflags --libs libcurl jansson yaml-0.1 libgit2 libpcre2-8 libarchive) -lm -lpthread
ENGINE=$("$T/engine_time" "$SPEC" "$T"/clones/s*)

t0=$(now)
for d in "$T"/clones/s*; do
    "$TPGRADE" grade -q --in-place --json "$T/g.json" "$SPEC" "$d" >/dev/null 2>&1 || true
done
WALLP=$(secs "$t0" "$(now)")
MAXRSS_GRADE=$( { /usr/bin/time -f '%M' "$TPGRADE" grade -q --in-place "$SPEC" "$T/clones/s001" >/dev/null; } 2>&1 | tail -1 || true)

# Same grades both ways?
SAME=$(python3 - "$T/j1/grades.csv" "$T/grep1.txt" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
grep = [l.split("/")[0] for l in open(sys.argv[2]).read().split()]
bonus = [int(r["docs.readme"] or 0) for r in rows]
ours = [str(int(float(r["score"])) - b) for r, b in zip(rows, bonus)]
print(sum(a == b for a, b in zip(ours, grep)), "of", len(rows))
PY
)

kv() { printf '%s\n' "$1" | tr ' ' '\n' | awk -v k="$2" 'prev == k { print; exit } { prev = $0 }'; }
mb() { python3 -c "import sys; print('%.1f' % (int(sys.argv[1]) / 1024))" "$1"; }
echo
echo "== $N students, static checks ($(nproc) CPUs, $(uname -r))"
printf '%-44s %10s %14s\n' "" "total s" "ms/student"
printf '%-44s %10s %14s\n' "tpgrade class -j 1 (clone + grade)" "$WALL1" "$(per "$WALL1" "$N")"
printf '%-44s %10s %14s\n' "tpgrade class -j 2 (clone + grade)" "$WALL2" "$(per "$WALL2" "$N")"
printf '%-44s %10s %14s\n' "tpgrade class -j 2, nothing changed (probe)" "$WALLI" "$(per "$WALLI" "$N")"
printf '%-44s %10s %14s\n' "git clone + grep script, one at a time" "$WALLG1" "$(per "$WALLG1" "$N")"
printf '%-44s %10s %14s\n' "git clone + grep script, xargs -P 2" "$WALLG2" "$(per "$WALLG2" "$N")"
printf '%-44s %10s %14s\n' "tpgrade grade --in-place (a process each)" "$WALLP" "$(per "$WALLP" "$N")"
printf '%-44s %10s %14s\n' "engine alone, in process" "$(python3 -c "print('%.3f' % ($(kv "$ENGINE" total_ms) / 1000))")" "$(kv "$ENGINE" mean_ms) (max $(kv "$ENGINE" max_ms))"
printf '%-44s %10s %14s\n' "engine, the reports' \"seconds\" (1 ms steps)" "" "$ENGINE_JSON"
echo
echo "peak memory of the whole process tree (parent + children + git workers):"
printf '  -j 1: %s MB PSS (%s MB RSS summed), %s processes at most\n' "$(mb "$(kv "$MEM1" pss_kb)")" "$(mb "$(kv "$MEM1" rss_kb)")" "$(kv "$MEM1" procs)"
printf '  -j 2: %s MB PSS (%s MB RSS summed), %s processes at most\n' "$(mb "$(kv "$MEM2" pss_kb)")" "$(mb "$(kv "$MEM2" rss_kb)")" "$(kv "$MEM2" procs)"
printf '  one tpgrade grade process: %s MB max RSS; the engine over %s students in one process: %s MB\n' \
    "$(mb "${MAXRSS_GRADE:-0}")" "$N" "$(mb "$(kv "$ENGINE" maxrss_kb)")"
echo "scores equal to the grep script's (bonus aside): $SAME"

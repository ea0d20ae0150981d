#!/bin/bash
# report.html of a class run: self-contained (nothing fetched, a CSP),
# student strings escaped, labels in the spec's language (French) unless
# --lang or LANG say otherwise, and, rendered by headless Chromium, the
# numbers shown are those of grades.csv and summary.json (the class table,
# the histogram, the pass rate per check); sorting works (#sort=); a
# screenshot is kept in BUILD/test-logs/e2e/class-report.png.
# With CI=true Chromium must be there; otherwise that part is skipped.
set -eu
. "$(dirname "$0")/../lib.sh"
. "$REPO_ROOT/tests/e2e/fixtures/class/setup.sh"
# The language must come from the spec (which names none: French).
export LANG=C.UTF-8
unset LC_ALL
class_setup
class_run out -j 2
assert_status 1
html=$TEST_TMP/out/report.html
assert_file "$html"

# ------------------------------------------------------------ the language
assert_file_contains "$html" '<html lang="fr">'
assert_file_contains "$html" '<h2>Taux de réussite par vérification</h2>'
assert_file_contains "$html" '<th data-key="id">Identifiant</th>'
grep -q 'Pass rate per check' "$html" && fail "English label in the French report"
# --lang wins over LANG, LANG over the spec; a merge keeps the language.
{ head -1 "$CLASS_ROSTER"; grep -E '^s002,' "$CLASS_ROSTER"; } >"$TEST_TMP/one.csv"
lang_of() { sed -n 's/.*<html lang="\([a-z]*\)">.*/\1/p' "$TEST_TMP/$1/report.html"; }
LANG=en_US.UTF-8 "$TPGRADE" class -q --out "$TEST_TMP/en" "$CLASS_SPEC" "$TEST_TMP/one.csv" \
    >"$TEST_TMP/en.log" 2>&1 || fail "class with LANG=en_US: $(tail -3 "$TEST_TMP/en.log")"
assert_eq en "$(lang_of en)" "LANG=en_US.UTF-8"
assert_file_contains "$TEST_TMP/en/report.html" '<h2>Pass rate per check</h2>'
LANG=en_US.UTF-8 LC_ALL=fr_FR.UTF-8 "$TPGRADE" class -q --out "$TEST_TMP/lcall" "$CLASS_SPEC" \
    "$TEST_TMP/one.csv" >"$TEST_TMP/lcall.log" 2>&1 || fail "class with LC_ALL=fr_FR"
assert_eq fr "$(lang_of lcall)" "LC_ALL before LANG"
LANG=fr_FR.UTF-8 "$TPGRADE" class -q --lang en --out "$TEST_TMP/opt" "$CLASS_SPEC" \
    "$TEST_TMP/one.csv" >"$TEST_TMP/opt.log" 2>&1 || fail "class --lang en"
assert_eq en "$(lang_of opt)" "--lang en"
"$TPGRADE" merge --out "$TEST_TMP/merged-en" "$TEST_TMP/en" >/dev/null 2>&1 || fail "merge"
assert_eq en "$(lang_of merged-en)" "a merge keeps the language"

# ------------------------------------------------------------ static checks
python3 - "$html" <<'PY' || fail "report.html is not self-contained or not escaped"
import re, sys
t = open(sys.argv[1], encoding="utf-8").read()
assert t.count("<script") == 1, "one script, ours"
assert "&lt;script&gt;alert(1)&lt;/script&gt;" in t
assert "default-src 'none'" in t
# No external resource: the only URL is SVG's namespace.
urls = set(re.findall(r"""(?:src|href)\s*=\s*["']?([^"' >]+)""", t))
bad = [u for u in urls if re.match(r"(?i)[a-z][a-z0-9+.-]*:", u) or u.startswith("//")]
assert not bad, bad
assert not re.search(r"(?i)@import|url\(", t)
PY

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
    if is_ci; then fail "CI=true and chromium is not installed (.ci/deps.sh installs it)"; fi
    note "chromium not installed: the rendering part is skipped (Debian package chromium)"
    exit 0
fi

profile=$(mktemp_dir chromium-profile)
chrome() {
    timeout "$(scaled 90)" "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-extensions --disable-default-apps --user-data-dir="$profile" "$@" \
        2>>"$TEST_TMP/chromium.log"
}
chrome --dump-dom "file://$html" >"$TEST_TMP/dom.html" || fail "chromium --dump-dom failed: $(tail -5 "$TEST_TMP/chromium.log")"
chrome --virtual-time-budget=2000 --dump-dom "file://$html#sort=score:desc" >"$TEST_TMP/dom-sorted.html" ||
    fail "chromium --dump-dom (sorted) failed"

python3 - "$TEST_TMP/dom.html" "$TEST_TMP/dom-sorted.html" "$TEST_TMP/out/grades.csv" \
    "$TEST_TMP/out/summary.json" <<'PY' || fail "the rendered report does not match grades.csv"
import csv, json, sys
from html.parser import HTMLParser

class Table(HTMLParser):
    """Rows of table#grades' body (cell texts by class) and the stat cards."""
    def __init__(self):
        super().__init__()
        self.rows, self.stats, self.scripts = [], {}, 0
        self.bins, self.checks = [], {}
        self.in_grades = self.in_body = False
        self.cell = None
        self.stat = None
        self.check = self.check_cell = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "g" and "bin" in a.get("class", "").split():
            self.bins.append(int(a["data-count"]))
        if tag == "tr" and "data-check" in a:
            self.check = self.checks[a["data-check"]] = []
        if self.check is not None and tag == "td":
            self.check.append("")
            self.check_cell = len(self.check) - 1
        if tag == "table" and a.get("id") == "grades":
            self.in_grades = True
        if self.in_grades and tag == "tbody":
            self.in_body = True
        if self.in_body and tag == "tr":
            self.rows.append([])
        if self.in_body and tag == "td":
            self.cell = [a.get("class", ""), ""]
            self.rows[-1].append(self.cell)
        if tag == "dd" and a.get("id", "").startswith("stat-"):
            self.stat = a["id"][5:]
            self.stats[self.stat] = ""
    def handle_endtag(self, tag):
        if tag == "table":
            self.in_grades = self.in_body = False
        if tag == "td":
            self.cell = self.check_cell = None
        if tag == "tr":
            self.check = None
        if tag == "dd":
            self.stat = None
    def handle_data(self, data):
        if self.cell is not None:
            self.cell[1] += data
        if self.check_cell is not None:
            self.check[self.check_cell] += data
        if self.stat:
            self.stats[self.stat] += data

def parse(path):
    t = Table()
    t.feed(open(path, encoding="utf-8").read())
    return t

dom, sorted_dom = parse(sys.argv[1]), parse(sys.argv[2])
rows = list(csv.reader(open(sys.argv[3], encoding="utf-8", newline="")))
header, body = rows[0], rows[1:]
checks = header[5:header.index("commit")]
summary = json.load(open(sys.argv[4]))

assert dom.scripts == 1, "a student's string became a script element"
assert len(dom.rows) == len(body), (len(dom.rows), len(body))
for got, want in zip(dom.rows, body):
    cells = {cls.split()[0]: text for cls, text in got}
    assert cells["id"] == want[0], (cells["id"], want[0])
    assert cells["name"] == want[1].lstrip("'"), (cells["name"], want[1])
    assert cells["score"] == want[3] and cells["max"] == want[4], (want[0], cells, want[3:5])
    pts = [text for cls, text in got if cls.startswith("pts")]
    assert pts == want[5:5 + len(checks)], (want[0], pts, want[5:5 + len(checks)])
    shown = {"noté": "graded", "erreur": "error", "en attente": "pending"}[cells["status"]]
    assert shown == want[header.index("status")], (want[0], cells["status"])
    assert cells["late"] == want[header.index("commits_after_deadline")]
hostile = [r for r in dom.rows if r[1][1] == "<script>alert(1)</script>"]
assert len(hostile) == 1, "the hostile name is shown as text"

assert dom.stats["count"] == str(summary["count"])
assert dom.stats["graded"] == str(summary["graded"])
assert dom.stats["errors"] == str(summary["errors"])
mean = round(summary["score"]["mean"], 2)
assert dom.stats["mean"].split(" ")[0] == ("%g" % mean), (dom.stats["mean"], mean)
assert dom.stats["max"].split(" ")[0] == "%g" % summary["score"]["max"]

# The histogram counts every graded student once, in the bin of its score.
assert sum(dom.bins) == summary["graded"], (dom.bins, summary["graded"])
scores = [float(r[3]) for r in body if r[header.index("status")] == "graded"]
for b, n in enumerate(dom.bins):
    assert n == sum(1 for s in scores if round(s) == b or (b == len(dom.bins) - 1 and s > b)), (b, n)
# The pass rate per check: the summary's, and the rows' statuses.
assert sorted(dom.checks) == sorted(c["id"] for c in summary["checks"])
for c in summary["checks"]:
    row = dom.checks[c["id"]]   # check, suite, pass rate, passed, mean points
    assert row[3] == "%d/%d" % (c["passed"], c["graded"]), (c["id"], row)
    pct = row[2].strip()
    want_pct = "%.0f%%" % (c["pass_rate"] * 100) if c["pass_rate"] is not None else "–"
    assert pct == want_pct, (c["id"], pct, want_pct)

# #sort=score:desc: graded rows by decreasing score, the others last.
scores = [next(t for c, t in r if c == "score") for r in sorted_dom.rows]
nums = [float(s) for s in scores if s]
assert nums == sorted(nums, reverse=True), scores
assert all(s == "" for s in scores[len(nums):]), scores
print("rendered rows:", len(dom.rows))
PY

shots=$BUILD/test-logs/e2e
mkdir -p "$shots" 2>/dev/null || shots=$TEST_TMP
chrome --window-size=1400,1600 --screenshot="$shots/class-report.png" "file://$html" >/dev/null ||
    fail "chromium --screenshot failed"
[ -s "$shots/class-report.png" ] || fail "no screenshot"
head -c 8 "$shots/class-report.png" | od -An -tx1 | grep -q '89 50 4e 47' || fail "the screenshot is not a PNG"
note "screenshot: $shots/class-report.png"

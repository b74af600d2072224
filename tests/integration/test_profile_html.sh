#!/usr/bin/env bash
# test_profile_html.sh: the HTML report of `smolder profile` on real processes with real eBPF.
# 1. The demo service under demo_load (real HTTP): -o x.html -o x.json; the page parses with
#    balanced tags and unique ids, holds every JSON finding in impact order, a chart per timeline
#    figure, the on-CPU and memory flame graphs and the memory table (one row per site up to 30).
# 2. Headless Chromium loads it: no console message at all, search from the URL works in each
#    embedded graph separately (cpu-s=, mem-s=), a dispatched click zooms one graph and leaves
#    the other alone, hovering a chart fills its readout; screenshots are saved.
# 3. Hostile names: a target whose process and function names are HTML markup and a load command
#    that prints a </script> tag: the page holds them only escaped, runs only its own script.
# 4. Without -o: smolder-PID-TIME.html and .json, both names printed.
source "$(dirname "$0")/lib.sh"
require_root_bpf

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "FAIL: chromium missing (apt-get install chromium)" >&2; exit 1; }
SHOTS=${BUILD_DIR:-$WORK}/html-report-screenshots
mkdir -p "$SHOTS"

# browse URL ARGS...: headless Chromium with a throwaway profile; console messages go to
# $WORK/console (every CONSOLE line the page logged).
browse() {
	local url=$1 profile
	shift
	profile=$(mktemp -d "$WORK/chromium.XXXXXX")
	timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
		--allow-file-access-from-files --enable-logging=stderr --v=0 "$@" "$url" \
		2>"$WORK/chromium.err"
	grep ':CONSOLE' "$WORK/chromium.err" >>"$WORK/console"
}

# --- 1. the demo service under real HTTP load -------------------------------------------------
port=18480
while ss -ltn "sport = :$port" | grep -q LISTEN; do port=$((port + 1)); done
start_fixture demo_server "$port" 4
for _ in $(seq 50); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.1; done
# The load command is shell text: the fixture's path quoted (a checkout path may hold spaces).
"$SMOLDER" profile -p "$FIXTURE_PID" --during "$(printf '%q' "$FIXTURES/demo_load") $port 3 4" \
	-o "$WORK/x.html" -o "$WORK/x.json" >"$WORK/p.out" 2>"$WORK/p.err"
code=$?
[ "$code" -eq 0 ] || fail "profile exited $code: $(tail -3 "$WORK/p.err")"
grep -q 'wrote .*x\.html' "$WORK/p.err" && pass "report path printed" || fail "no 'wrote x.html'"

cat >"$WORK/check_page.py" <<'PY'
import html.parser, json, re, sys
page, report = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
VOID = {"meta", "br", "img", "hr", "input", "link", "area", "base", "col", "embed", "source",
        "track", "wbr"}

class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.ids, self.tags, self.errors = [], [], [], []
        self.cls = {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.append(a["id"])
        for c in (a.get("class") or "").split():
            self.cls[c] = self.cls.get(c, 0) + 1
        if tag not in VOID:
            self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.append(a["id"])
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes <%s>" % (tag, self.stack[-1] if self.stack else "-"))
        else:
            self.stack.pop()

p = Page()
p.feed(page)
p.close()
assert not p.errors, p.errors[:5]
assert not p.stack, "unclosed: %s" % p.stack
dup = {i for i in p.ids if p.ids.count(i) > 1}
assert not dup, "duplicate ids: %s" % sorted(dup)[:5]
assert sum(1 for t, a in p.tags if t == "script") == 1, "one script element"
assert not re.search(r'(src|href)="(https?:)?//', page), "network reference"
# findings: all of them, in impact order
texts = [html.unescape(t) for t in re.findall(r'<li class="finding"><span[^>]*>[^<]*</span>([^<]*)</li>', page)]
want = [f["text"] for f in sorted(report["findings"], key=lambda f: -f.get("impact", 0))]
assert texts == want and texts, (texts, want)
assert any(f["kind"] == "cpu" and "handle_" in f["text"] and "demo_server.c:" in f["text"]
           for f in report["findings"]), report["findings"]
# timeline charts: one per figure, each with drawn series
charts = re.findall(r'<figure class="chart" id="chart-([a-z_]+)"', page)
zero = re.findall(r'<span class="zero" id="zero-([a-z_]+)"', page)
for c in ("cpu", "memory", "threads", "ctx", "faults", "disk", "net"):
    assert (c in charts) != (c in zero), (c, charts, zero)  # a chart, or said to be zero
for c in ("cpu", "memory", "threads"):
    assert c in charts, (c, charts)
for c in zero:  # said zero only when the JSON has it zero at every point
    key = {"ctx": "ctx_voluntary", "faults": "minor_faults", "disk": "read_bytes", "net": "net_rx_bytes"}.get(c)
    assert key is None or all(p[key] == 0 for p in report["timeline"]), c
lines = re.findall(r'<polyline class="series"[^>]*points="([^"]*)"', page)
assert len(lines) >= 2 * len(charts) - 3 and all(len(l.split()) >= 2 for l in lines), len(lines)
assert page.count('class="load-mark"') == 2 * len(charts), "load start/end on every chart"
# flame graphs: on-CPU and memory drawn; off-CPU present or said absent
def frames(prefix):
    m = re.search(r'<g id="%s-frames".*?</g>\n</svg>' % prefix, page, re.S)
    return len(re.findall(r"<rect ", m.group(0))) if m else 0
assert frames("cpu") >= 20, frames("cpu")
assert frames("mem") >= 5, frames("mem")
assert frames("offcpu") >= 5, frames("offcpu")  # the demo's threads block in accept and recv
# memory table: one row per site (at most 30), a sparkline per site with a series
sites = report["memory"]["sites"]
rows = page.count('<tr class="site">')
assert rows == min(30, len(sites)), (rows, len(sites))
assert page.count('<svg class="spark"') == sum(1 for s in sites[:30] if len(s["series"]) >= 2)
assert "audit_append" in page and 'id="measured"' in page and "Hz" in page
# one document behind both files: even smolder's own cost, read while the JSON is written, agrees
own = "smolder's own cost: %.2f s of CPU" % report["smolder"]["cpu_s"]
assert html.unescape(page).count(own) == 1, (own, re.findall(r"own cost: [^<]*", html.unescape(page)))
print("%d findings, %d charts, %d+%d flame graph frames, %d memory rows, %d bytes" %
      (len(texts), len(charts), frames("cpu"), frames("mem"), rows, len(page)))
PY
if python3 "$WORK/check_page.py" "$WORK/x.html" "$WORK/x.json" >"$WORK/check" 2>&1; then
	pass "page: $(cat "$WORK/check")"
else
	fail "page: $(tail -3 "$WORK/check")"
fi

# --- 2. in Chromium ---------------------------------------------------------------------------
: >"$WORK/console"
browse "file://$WORK/x.html?cpu-s=handle_&mem-s=audit_append&offcpu-s=schedule" --dump-dom \
	>"$WORK/search.html"
[ -s "$WORK/search.html" ] || fail "no DOM dumped: $(tail -3 "$WORK/chromium.err")"
cpu=$(grep -o '<text id="cpu-matched"[^>]*>Matched: [0-9.]*%' "$WORK/search.html" | grep -o '[0-9.]*%')
mem=$(grep -o '<text id="mem-matched"[^>]*>Matched: [0-9.]*%' "$WORK/search.html" | grep -o '[0-9.]*%')
python3 -c "import sys; sys.exit(0 if float('${cpu%\%}' or 0) > 30 else 1)" 2>/dev/null &&
	pass "cpu-s= searches the on-CPU graph ($cpu in handle_*)" || fail "on-CPU search: '$cpu'"
python3 -c "import sys; sys.exit(0 if float('${mem%\%}' or 0) > 0 else 1)" 2>/dev/null &&
	pass "mem-s= searches the memory graph ($mem in audit_append)" || fail "memory search: '$mem'"
off=$(grep -o '<text id="offcpu-matched"[^>]*>Matched: [0-9.]*%' "$WORK/search.html" | grep -o '[0-9.]*%')
python3 -c "import sys; sys.exit(0 if float('${off%\%}' or 0) > 0 else 1)" 2>/dev/null &&
	pass "offcpu-s= searches the off-CPU graph ($off of blocked time under schedule)" || fail "off-CPU search: '$off'"

cat >"$WORK/events.html" <<HTML
<html><body><pre id="out">pending</pre>
<iframe id="f" src="file://$WORK/x.html" width="1280" height="900"></iframe>
<script>
document.getElementById("f").onload = function () {
	var d = this.contentDocument, out = [];
	out.push("scripts=" + d.querySelectorAll("script").length + " pwned=" + this.contentWindow.pwned);
	try {
		events(d, out);
	} catch (e) {
		out.push("error=" + e);
	}
	document.getElementById("out").textContent = out.join("|");
};
function events(d, out) {
	function g(graph, name) {
		return Array.from(d.querySelectorAll("#" + graph + "-frames g")).find(function (e) {
			return e.querySelector("title").textContent.split("\n")[0] === name;
		});
	}
	function width(graph, name) { return g(graph, name).querySelector("rect").getAttribute("width"); }
	out.push("rects cpu=" + d.querySelectorAll("#cpu-frames rect").length +
		" mem=" + d.querySelectorAll("#mem-frames rect").length +
		" offcpu=" + d.querySelectorAll("#offcpu-frames rect").length);
	g("cpu", "handle_sort").dispatchEvent(new MouseEvent("click", {bubbles: true}));
	out.push("cpu zoom=" + width("cpu", "handle_sort") + " cpu-unzoom=" +
		d.getElementById("cpu-unzoom").getAttribute("class") + " mem-unzoom=" +
		d.getElementById("mem-unzoom").getAttribute("class"));
	g("mem", "audit_append").dispatchEvent(new MouseEvent("click", {bubbles: true}));
	out.push("mem zoom=" + width("mem", "audit_append"));
	g("offcpu", "schedule").dispatchEvent(new MouseEvent("click", {bubbles: true}));
	out.push("offcpu zoom=" + width("offcpu", "schedule"));
	g("cpu", "all").dispatchEvent(new MouseEvent("click", {bubbles: true}));
	out.push("cpu reset=" + d.getElementById("cpu-unzoom").getAttribute("class") +
		" mem still=" + width("mem", "audit_append"));
	var svg = d.querySelector("#chart-cpu svg"), r = svg.getBoundingClientRect();
	svg.dispatchEvent(new MouseEvent("mousemove", {bubbles: true,
		clientX: r.left + r.width * 0.6, clientY: r.top + r.height / 2}));
	out.push("readout=" + d.querySelector("#chart-cpu .readout").textContent);
}
</script></body></html>
HTML
browse "file://$WORK/events.html" --dump-dom >"$WORK/events.out"
ev=$(grep -o '<pre id="out">[^<]*' "$WORK/events.out")
echo "$ev" | grep -Eq 'rects cpu=[0-9]{2,} mem=[0-9]+ offcpu=[0-9]{2,}' && pass "flame graphs render in the page" ||
	fail "rects: $ev"
echo "$ev" | grep -q 'cpu zoom=1180.00 cpu-unzoom= mem-unzoom=hide' &&
	pass "click zooms the on-CPU graph only" || fail "cpu zoom: $ev"
echo "$ev" | grep -q 'mem zoom=1180.00' && pass "click zooms the memory graph" || fail "mem zoom: $ev"
echo "$ev" | grep -q 'offcpu zoom=1180.00' && pass "click zooms the off-CPU graph" ||
	fail "off-CPU zoom: $ev"
echo "$ev" | grep -q 'cpu reset=hide mem still=1180.00' &&
	pass "reset of one graph leaves the other zoomed" || fail "reset: $ev"
echo "$ev" | grep -Eq 'readout=t=[0-9.]+ s +user [0-9.]+% +sys [0-9.]+%' &&
	pass "chart hover shows the values" || fail "hover: $ev"
browse "file://$WORK/x.html" --screenshot="$SHOTS/report.png" --window-size=1280,4200 >/dev/null
browse "file://$WORK/x.html?cpu-s=handle_sort&mem-x=0" --screenshot="$SHOTS/search.png" \
	--window-size=1280,2400 >/dev/null
for s in report search; do
	[ -s "$SHOTS/$s.png" ] && pass "screenshot $SHOTS/$s.png" || fail "no screenshot $s.png"
done
[ ! -s "$WORK/console" ] && pass "no console messages" || fail "console: $(head -3 "$WORK/console")"
kill "$FIXTURE_PID" 2>/dev/null

# --- 3. hostile names -------------------------------------------------------------------------
start_fixture html_hostile 30
wait_for_line ready "$WORK/html_hostile.out" 50
"$SMOLDER" profile -p "$FIXTURE_PID" -d 8 \
	--during "echo '</script><script>window.pwned=3</script> & \"q\" <b>'; sleep 2" \
	-o "$WORK/h.html" -o "$WORK/h.json" >"$WORK/h.out" 2>"$WORK/h.err"
code=$?
[ "$code" -eq 0 ] || fail "hostile profile exited $code: $(tail -3 "$WORK/h.err")"
if python3 - "$WORK/h.html" "$WORK/h.json" >"$WORK/check" 2>&1 <<'PY'
import json, sys
page, d = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
# the names reached the data ...
assert d["command"] == "</b>&\"'<i>", d["command"]
assert any("</script><script>window.pwned=1" in f["name"] for f in d["cpu"]["functions"])
assert any(any("<img src=x" in fr for fr in s["stack"]) for s in d["memory"]["sites"])
assert "window.pwned=3" in d["load"]["output_tail"]
# ... and the page holds them only escaped
for raw in ("<script>window.pwned", "<img src=x", "</b>&", "<i>", "<b>"):
    assert raw not in page, raw
for esc in ("&lt;/script&gt;&lt;script&gt;window.pwned=1&lt;/script&gt;",
            "&lt;img src=x onerror=window.pwned=2&gt;&amp;&#39;q",
            "&lt;/b&gt;&amp;&quot;&#39;&lt;i&gt;",
            "&lt;/script&gt;&lt;script&gt;window.pwned=3&lt;/script&gt; &amp; &quot;q&quot; &lt;b&gt;"):
    assert esc in page, esc
print("names escaped in %d bytes" % len(page))
PY
then
	pass "hostile names: $(cat "$WORK/check")"
else
	fail "hostile names: $(tail -3 "$WORK/check")"
fi
sed -i "s#file://$WORK/x.html#file://$WORK/h.html#" "$WORK/events.html"
: >"$WORK/console"
browse "file://$WORK/events.html" --dump-dom >"$WORK/hevents.out"
grep -q 'scripts=1 pwned=undefined' "$WORK/hevents.out" &&
	pass "hostile names: only the page's script runs" ||
	fail "hostile page: $(grep -o '<pre id="out">[^<]*' "$WORK/hevents.out")"

# --- 4. no -o: the report and its JSON, names printed -----------------------------------------
mkdir -p "$WORK/default"
(cd "$WORK/default" && "$SMOLDER" profile -p "$FIXTURE_PID" -d 2 --no-memory) 2>"$WORK/d.err"
page=$(ls "$WORK/default"/smolder-"$FIXTURE_PID"-*.html 2>/dev/null | head -1)
if [ -s "$page" ] && [ -s "${page%.html}.json" ] &&
	grep -q "wrote $(basename "$page")" "$WORK/d.err" &&
	grep -q "wrote $(basename "${page%.html}.json")" "$WORK/d.err"; then
	pass "no -o: $(basename "$page") and its .json written, names printed"
else
	fail "no -o: $(ls "$WORK/default"); $(tail -2 "$WORK/d.err")"
fi

finish

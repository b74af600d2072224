#!/usr/bin/env bash
# test_flamegraph_browser.sh: the SVG's script in a real browser (headless Chromium): search from
# the URL highlights matching frames and shows the matched share, zoom from the URL and a
# dispatched click rescale the subtree and fade its ancestors, hover fills the details line.
# Saves screenshots (search and zoom) under $BUILD_DIR/flamegraph-screenshots for a human to look
# at. Needs no BPF.
source "$(dirname "$0")/lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "FAIL: chromium missing (apt-get install chromium)" >&2; exit 1; }
SHOTS=${BUILD_DIR:-$WORK}/flamegraph-screenshots
mkdir -p "$SHOTS"

# browse URL ARGS...: runs headless Chromium on URL with a throwaway profile, output on stdout.
browse() {
	local url=$1 profile
	shift
	profile=$(mktemp -d "$WORK/chromium.XXXXXX")
	timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
		--allow-file-access-from-files "$@" "$url" 2>"$WORK/chromium.err"
}

cd "$WORK" || exit 1
printf 'main;serve;parse_json 30\nmain;serve;reply 20\nmain;idle 40\nmain;serve;parse_xml 10\nmain;gc;sweep_[k] 15\nmain;serve;inline_fast_[i] 5\n' >app.folded
"$SMOLDER" flamegraph app.folded -o app.svg --subtitle "browser check" 2>/dev/null ||
	{ fail "rendering app.svg"; finish; }
# Layout (counts): all 0..120, main 0..120, gc 0..15, idle 15..55, serve 55..120 (depth 2),
# parse_json 60..90 and parse_xml 90..100 under serve.

# 1. search from the URL
browse "file://$WORK/app.svg?s=parse_" --dump-dom >search.html
[ -s search.html ] || fail "search: no DOM dumped: $(tail -3 "$WORK/chromium.err")"
n=$(tr -d '\n' <search.html | grep -o 'fill="#e600e6"' | wc -l)
[ "$n" -eq 2 ] && pass "search highlights the 2 matching frames" || fail "search highlighted $n frames"
grep -q '<text id="matched"[^>]*>Matched: 33.33%</text>' search.html &&
	pass "matched share shown (40 of 120 = 33.33%)" || fail "matched text: $(grep -o '<text id="matched"[^<]*' search.html)"
tr -d '\n' <search.html | grep -o '<title>reply[^<]*</title><rect [^>]*>' | grep -q 'fill="#e600e6"' &&
	fail "non-matching frame highlighted" || pass "non-matching frames keep their colour"

# nested matches count once: "serve|parse" covers serve's 65 of 120
browse "file://$WORK/app.svg?s=serve%7Cparse" --dump-dom >nested.html
grep -q 'Matched: 54.17%' nested.html && pass "nested matches counted once (65/120)" ||
	fail "nested match: $(grep -o '<text id="matched"[^<]*' nested.html)"

# ignore case
browse "file://$WORK/app.svg?s=PARSE&i=1" --dump-dom >icase.html
grep -q 'Matched: 33.33%' icase.html && pass "i=1 ignores case" || fail "ignore case did not match"
browse "file://$WORK/app.svg?s=PARSE" --dump-dom >case.html
grep -q 'Matched: 0.00%' case.html && pass "search is case-sensitive by default" || fail "case-sensitive search matched"

# 2. zoom from the URL into serve (x=55, depth 2)
browse "file://$WORK/app.svg?x=55&d=2" --dump-dom >zoom.html
flat=$(tr -d '\n' <zoom.html)
echo "$flat" | grep -o '<g [^>]*><title>serve[^<]*</title><rect [^>]*>' | grep -q 'x="10.00"[^>]*width="1180.00"' &&
	pass "zoom: serve spans the full width" || fail "zoom: serve not full width"
echo "$flat" | grep -o '<g [^>]*><title>parse_json[^<]*</title><rect [^>]*>' | grep -q 'width="544.62"' &&
	pass "zoom: child rescaled (30/65 of 1180 px)" || fail "zoom: parse_json not rescaled"
echo "$flat" | grep -o '<g [^>]*><title>idle' | grep -q 'class="hide"' &&
	pass "zoom: frames outside hidden" || fail "zoom: idle still visible"
echo "$flat" | grep -o '<g [^>]*><title>main' | grep -q 'class="parent"' &&
	pass "zoom: ancestors faded" || fail "zoom: main not marked as parent"
echo "$flat" | grep -q '<text id="unzoom" class=""' && pass "zoom: reset control shown" ||
	fail "zoom: Reset Zoom hidden"

# 3. real events: a page loads the SVG in a frame, dispatches a hover and a click on "serve",
# then a click on the root (reset), and reports what the SVG's own handlers did.
cat >events.html <<HTML
<html><body><pre id="out">pending</pre>
<iframe id="f" src="file://$WORK/app.svg" width="1200" height="200"></iframe>
<script>
document.getElementById("f").onload = function () {
	var d = this.contentDocument, out = [];
	function g(name) {
		return Array.from(d.querySelectorAll("#frames g")).find(function (e) {
			return e.querySelector("title").textContent.split("\n")[0] === name;
		});
	}
	function width(name) { return g(name).querySelector("rect").getAttribute("width"); }
	g("serve").dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
	out.push("details=" + d.getElementById("details").textContent);
	g("serve").dispatchEvent(new MouseEvent("click", {bubbles: true}));
	out.push("clicked serve=" + width("serve") + " idle=" + g("idle").getAttribute("class"));
	g("all").dispatchEvent(new MouseEvent("click", {bubbles: true}));
	out.push("reset serve=" + width("serve") + " idle=" + g("idle").getAttribute("class"));
	document.getElementById("out").textContent = out.join("|");
};
</script></body></html>
HTML
browse "file://$WORK/events.html" --dump-dom >events.out
grep -q 'details=serve | 65 samples, 54.17%' events.out && pass "hover fills the details line" ||
	fail "hover: $(grep -o '<pre id="out">[^<]*' events.out)"
grep -q 'clicked serve=1180.00 idle=hide' events.out && pass "click zooms into the frame" ||
	fail "click: $(grep -o '<pre id="out">[^<]*' events.out)"
grep -q 'reset serve=639.17 idle=' events.out && ! grep -q 'reset serve=639.17 idle=hide' events.out &&
	pass "click on the root resets the zoom" || fail "reset: $(grep -o '<pre id="out">[^<]*' events.out)"

# 4. screenshots for a human: search and zoom
browse "file://$WORK/app.svg?s=parse_" --screenshot="$SHOTS/search.png" --window-size=1200,160 >/dev/null
browse "file://$WORK/app.svg?x=55&d=2" --screenshot="$SHOTS/zoom.png" --window-size=1200,160 >/dev/null
for s in search zoom; do
	[ -s "$SHOTS/$s.png" ] && pass "screenshot $SHOTS/$s.png" || fail "no screenshot $s.png"
done

finish

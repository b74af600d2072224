// flamegraph.js: the interactive part of smolder's SVG flame graphs (embedded by the build).
// Owns hover details, click-to-zoom with reset, regex search with the matched share, and URL
// parameters (s=REGEX, i=1 ignore case, x=OFFSET&d=DEPTH zoom) so a view can be shared or
// checked by a headless browser. It reads everything from the DOM: no profile data is ever
// spliced into this script, so hostile frame names cannot reach it as code.
// All state lives in one smolderFlameGraph(svg) call per graph, so an HTML page can hold several
// graphs (rendered with an embed id): their element ids and URL parameters carry the prefix
// given in the svg's sm:prefix attribute ("cpu-frames", "cpu-s=REGEX").
"use strict";

// A standalone SVG document: its onload handler.
function init(evt) {
	smolderFlameGraph(document.documentElement);
}

function smolderFlameGraph(svg) {
var NS = "https://smolder.dev/ns/flamegraph";
var cfg = {}, nodes = [], byElement = new Map();
var details, matched, searchButton, icButton, unzoomButton;
var zoomed = null, searchTerm = null, ignoreCase = false;
var prefix = attr(svg, "prefix") || "";
var embedded = prefix !== "";

// sm: attributes are namespaced in an SVG document, plain "sm:NAME" attributes in HTML.
function attr(el, name) {
	var v = el.getAttributeNS(NS, name);
	return v === null ? el.getAttribute("sm:" + name) : v;
}

function num(el, name) {
	return parseFloat(attr(el, name));
}

function byId(name) {
	return svg.querySelector("#" + prefix + name);
}

// URL parameter names: prefixed when several graphs share a page.
function key(name) {
	return prefix + name;
}

(function () {
	var frames = byId("frames");
	var groups = frames.getElementsByTagName("g");
	details = byId("details");
	matched = byId("matched");
	searchButton = byId("search");
	icButton = byId("ignorecase");
	unzoomButton = byId("unzoom");
	cfg.inverted = attr(frames, "inverted") === "1";
	cfg.fh = num(frames, "fh");
	cfg.y0 = num(frames, "y0");
	cfg.xpad = num(frames, "xpad");
	cfg.width = num(frames, "width");
	cfg.fontsize = num(frames, "fontsize");
	cfg.fontwidth = num(frames, "fontwidth");
	cfg.highlight = attr(frames, "highlight");
	for (var i = 0; i < groups.length; i++) {
		var g = groups[i];
		var rect = g.getElementsByTagName("rect")[0];
		var title = g.getElementsByTagName("title")[0].textContent;
		var y = parseFloat(rect.getAttribute("y"));
		var n = {
			g: g,
			rect: rect,
			text: g.getElementsByTagName("text")[0],
			title: title,
			name: title.split("\n")[0],
			x: num(g, "x"),
			w: num(g, "w"),
			depth: Math.round((cfg.inverted ? y - cfg.y0 : cfg.y0 - y) / cfg.fh),
			fill: rect.getAttribute("fill"),
			chars: null
		};
		nodes.push(n);
		byElement.set(g, n);
	}
	cfg.total = nodes.length ? nodes[0].w : 0;
	cfg.eps = cfg.total * 1e-9;

	frames.addEventListener("click", function (e) {
		var n = frameOf(e.target);
		if (!n)
			return;
		if (n.depth === 0)
			unzoom();
		else
			zoom(n);
	});
	frames.addEventListener("mouseover", function (e) {
		var n = frameOf(e.target);
		if (n)
			details.textContent = n.title.replace(/\n/g, " | ");
	});
	frames.addEventListener("mouseout", function () {
		details.textContent = " ";
	});
	unzoomButton.addEventListener("click", unzoom);
	searchButton.addEventListener("click", function () {
		if (searchTerm !== null)
			resetSearch();
		else
			searchPrompt();
	});
	icButton.addEventListener("click", function () {
		ignoreCase = !ignoreCase;
		icButton.classList.toggle("on", ignoreCase);
		if (searchTerm !== null)
			search(searchTerm);
	});
	window.addEventListener("keydown", function (e) {
		// On a page with several graphs Ctrl-F stays the browser's own find.
		if (!embedded && (e.ctrlKey || e.metaKey) && e.key === "f") {
			e.preventDefault();
			searchPrompt();
		} else if (e.key === "Escape") {
			unzoom();
		}
	});

	var params = new URLSearchParams(window.location.search);
	if (params.get(key("i")) === "1") {
		ignoreCase = true;
		icButton.classList.add("on");
	}
	if (params.has(key("x")) && params.has(key("d"))) {
		var target = findFrame(parseFloat(params.get(key("x"))),
			parseInt(params.get(key("d")), 10));
		if (target && target.depth > 0)
			zoom(target);
	}
	if (params.get(key("s")))
		search(params.get(key("s")));
})();

function frameOf(el) {
	while (el && el.tagName !== "g")
		el = el.parentNode;
	return el ? byElement.get(el) : null;
}

// The frame at depth d whose span contains the count offset x.
function findFrame(x, d) {
	for (var i = 0; i < nodes.length; i++) {
		var n = nodes[i];
		if (n.depth === d && x >= n.x - cfg.eps && x < n.x + n.w - cfg.eps)
			return n;
	}
	return null;
}

// Label that fits w px: whole name, a prefix and "..", or nothing (as the renderer does).
function label(n, w) {
	var fit = Math.floor((w - 6) / (cfg.fontsize * cfg.fontwidth));
	if (n.chars === null)
		n.chars = Array.from(n.name);
	if (fit < 3)
		return "";
	if (n.chars.length <= fit)
		return n.name;
	return n.chars.slice(0, fit - 2).join("") + "..";
}

function place(n, x, w) {
	n.rect.setAttribute("x", x.toFixed(2));
	n.rect.setAttribute("width", w.toFixed(2));
	n.text.setAttribute("x", (x + 3).toFixed(2));
	n.text.textContent = label(n, w);
}

function zoom(target) {
	var plot = cfg.width - 2 * cfg.xpad, scale = plot / target.w;
	var lo = target.x - cfg.eps, hi = target.x + target.w + cfg.eps;
	zoomed = target;
	for (var i = 0; i < nodes.length; i++) {
		var n = nodes[i];
		if (n.depth < target.depth && n.x <= lo + 2 * cfg.eps && n.x + n.w >= hi - 2 * cfg.eps) {
			n.g.classList.remove("hide");
			n.g.classList.add("parent");
			place(n, cfg.xpad, plot);
		} else if (n.depth >= target.depth && n.x >= lo && n.x + n.w <= hi) {
			n.g.classList.remove("hide", "parent");
			place(n, cfg.xpad + (n.x - target.x) * scale, n.w * scale);
		} else {
			n.g.classList.add("hide");
		}
	}
	unzoomButton.classList.remove("hide");
	updateUrl();
}

function unzoom() {
	var scale = (cfg.width - 2 * cfg.xpad) / cfg.total;
	zoomed = null;
	for (var i = 0; i < nodes.length; i++) {
		var n = nodes[i];
		n.g.classList.remove("hide", "parent");
		place(n, cfg.xpad + n.x * scale, n.w * scale);
	}
	unzoomButton.classList.add("hide");
	updateUrl();
}

function searchPrompt() {
	var term = window.prompt("Search frames (regular expression, e.g. ^ext4_):", searchTerm || "");
	if (term !== null && term !== "")
		search(term);
}

// Highlights frames whose name matches and shows their share of all samples, counting nested
// matches once (the union of their spans).
function search(term) {
	var re;
	try {
		re = new RegExp(term, ignoreCase ? "i" : "");
	} catch (err) {
		matched.textContent = "Invalid regex";
		return;
	}
	var spans = [];
	searchTerm = term;
	for (var i = 1; i < nodes.length; i++) {
		var n = nodes[i];
		if (re.test(n.name)) {
			n.rect.setAttribute("fill", cfg.highlight);
			n.g.classList.add("match");
			spans.push([n.x, n.x + n.w]);
		} else {
			n.rect.setAttribute("fill", n.fill);
			n.g.classList.remove("match");
		}
	}
	spans.sort(function (a, b) {
		return a[0] - b[0];
	});
	var covered = 0, end = -Infinity;
	for (var k = 0; k < spans.length; k++) {
		var s = Math.max(spans[k][0], end);
		if (spans[k][1] > s)
			covered += spans[k][1] - s;
		end = Math.max(end, spans[k][1]);
	}
	var pct = cfg.total > 0 ? (100 * covered) / cfg.total : 0;
	matched.textContent = "Matched: " + pct.toFixed(2) + "%";
	matched.setAttribute("data-matched", String(spans.length));
	searchButton.classList.add("on");
	searchButton.textContent = "Reset Search";
	updateUrl();
}

function resetSearch() {
	searchTerm = null;
	for (var i = 0; i < nodes.length; i++) {
		nodes[i].rect.setAttribute("fill", nodes[i].fill);
		nodes[i].g.classList.remove("match");
	}
	matched.textContent = " ";
	searchButton.classList.remove("on");
	searchButton.textContent = "Search";
	updateUrl();
}

// Keeps the view in the URL so it can be shared (other graphs' parameters kept); file:// pages
// may refuse, which is harmless.
function updateUrl() {
	var params = new URLSearchParams(window.location.search);
	["s", "i", "x", "d"].forEach(function (k) {
		params.delete(key(k));
	});
	if (searchTerm !== null)
		params.set(key("s"), searchTerm);
	if (ignoreCase)
		params.set(key("i"), "1");
	if (zoomed) {
		params.set(key("x"), String(zoomed.x));
		params.set(key("d"), String(zoomed.depth));
	}
	var q = params.toString();
	try {
		history.replaceState(null, "", q ? "?" + q : window.location.pathname);
	} catch (err) {
		// not allowed for this document
	}
}
}

/* flamegraph.c: SVG flame graph rendering. Owns layout (sorted siblings, minwidth culling that
 * keeps counts in parents, icicle mode), colours (palettes, kernel/inlined frames, differential
 * red/blue), escaping of every input string, and the document around the embedded script
 * (flamegraph.js). Work is per drawn frame and per unique name, never per input line. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flamegraph_internal.h"
#include "flamegraph_js.h"

#define FONT_WIDTH 0.59 /* average glyph width as a fraction of the font size */
#define XPAD	   10
#define LABEL_PAD  3
#define HIGHLIGHT  "#e600e6"
#define SM_NS	   "https://smolder.dev/ns/flamegraph"

/* From the folded name's suffix: "_[k]" kernel, "_[i]" inlined, "_[j]" a JIT-compiled language's
 * function (JavaScript, Python), flamegraph.pl's conventions. */
enum frame_kind { FRAME_USER = 0, FRAME_KERNEL, FRAME_INLINED, FRAME_JIT, FRAME_PYTHON };

void flamegraph_options_init(struct flamegraph_options *o)
{
	memset(o, 0, sizeof(*o));
	o->countname = "samples";
	o->palette = FLAMEGRAPH_PALETTE_HOT;
	o->width = 1200;
	o->minwidth = 0.1;
	o->frame_height = 16;
	o->font_size = 12;
}

int flamegraph_palette_parse(const char *name, enum flamegraph_palette *palette)
{
	static const char *const names[] = {"hot", "mem", "io"};

	for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(name, names[i])) {
			*palette = (enum flamegraph_palette)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Output buffer: stdio's per-call overhead matters at a few hundred thousand frames. */
struct out_buf {
	FILE *f;
	char buf[1 << 16];
	size_t len;
	int err;
};

static void ob_flush(struct out_buf *ob)
{
	if (ob->len && fwrite(ob->buf, 1, ob->len, ob->f) != ob->len)
		ob->err = -EIO;
	ob->len = 0;
}

static void ob_mem(struct out_buf *ob, const char *s, size_t n)
{
	if (ob->len + n > sizeof(ob->buf)) {
		ob_flush(ob);
		if (n > sizeof(ob->buf)) {
			if (fwrite(s, 1, n, ob->f) != n)
				ob->err = -EIO;
			return;
		}
	}
	memcpy(ob->buf + ob->len, s, n);
	ob->len += n;
}

static void ob_str(struct out_buf *ob, const char *s)
{
	ob_mem(ob, s, strlen(s));
}

static void ob_printf(struct out_buf *ob, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ob_printf(struct out_buf *ob, const char *fmt, ...)
{
	char tmp[256], *big;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		ob_mem(ob, tmp, (size_t)n);
		return;
	}
	big = malloc((size_t)n + 1);
	if (!big) {
		ob->err = -ENOMEM;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	ob_mem(ob, big, (size_t)n);
	free(big);
}

/* Writes v with two decimals, without printf (called several times per frame). */
static void ob_fixed2(struct out_buf *ob, double v)
{
	char tmp[32];
	int i = sizeof(tmp);
	uint64_t n;
	bool neg = v < 0;

	if (!isfinite(v) || fabs(v) > 1e15) {
		ob_printf(ob, "%.2f", isfinite(v) ? v : 0.0);
		return;
	}
	n = (uint64_t)llround(fabs(v) * 100.0);
	tmp[--i] = (char)('0' + n % 10);
	n /= 10;
	tmp[--i] = (char)('0' + n % 10);
	n /= 10;
	tmp[--i] = '.';
	do {
		tmp[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	if (neg)
		tmp[--i] = '-';
	ob_mem(ob, tmp + i, sizeof(tmp) - (size_t)i);
}

static void ob_int(struct out_buf *ob, long long v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lld", v);

	ob_mem(ob, tmp, (size_t)n);
}

/* Escapes already-sanitised UTF-8 for XML text and attribute values. */
static void ob_escaped(struct out_buf *ob, const char *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		const char *rep;

		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			continue;
		}
		ob_mem(ob, s + run, i - run);
		ob_str(ob, rep);
		run = i + 1;
	}
	ob_mem(ob, s + run, n - run);
}

size_t flamegraph_sanitize_utf8(const char *in, size_t len, char *out, size_t *codepoints)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0, cps = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;

		if (c < 0x80) {
			if (c == '\t' || c == '\n' || c == '\r')
				out[o++] = ' ';
			else if (c < 0x20 || c == 0x7f)
				goto replace;
			else
				out[o++] = (char)c;
			i++;
			cps++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			cp = c & 0x07;
		} else {
			goto replace;
		}
		if (i + n > len)
			goto replace;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto replace;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF, and XML's non-characters. */
		/* C1 controls and bidi overrides too: the diff summary goes to a terminal, where
		 * they act as escape sequences or reorder the text (as smolder's text_sanitize). */
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff ||
		    (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069)) {
			/* Well-formed but not allowed: one replacement for the sequence. */
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i += n;
			cps++;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
		cps++;
		continue;
replace:
		memcpy(out + o, "\xef\xbf\xbd", 3);
		o += 3;
		i++;
		cps++;
	}
	if (codepoints)
		*codepoints = cps;
	return o;
}

/* Sanitises and escapes an arbitrary NUL-terminated input string (title, subtitle, countname). */
static void ob_escaped_input(struct out_buf *ob, const char *s)
{
	size_t len = strlen(s);
	char *tmp = malloc(len * 3 + 1);

	if (!tmp) {
		ob->err = -ENOMEM;
		return;
	}
	len = flamegraph_sanitize_utf8(s, len, tmp, NULL);
	ob_escaped(ob, tmp, len);
	free(tmp);
}

/* Per unique name, computed when first drawn. */
struct name_info {
	char *label; /* sanitised, suffix removed; NULL until computed */
	uint32_t label_len, codepoints;
	uint8_t kind;
	char color[8]; /* "#rrggbb" */
};

static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static void palette_color(enum flamegraph_palette pal, enum frame_kind kind, uint32_t h,
			  char color[8])
{
	/* Three independent variables in [0, 1) from the name: same name, same colour. */
	double v1 = (h & 0x3ff) / 1024.0, v2 = ((h >> 10) & 0x3ff) / 1024.0;
	double v3 = ((h >> 20) & 0x3ff) / 1024.0;
	int r, g, b;

	if (kind == FRAME_KERNEL && pal != FLAMEGRAPH_PALETTE_IO) {
		r = 70 + (int)(40 * v1), g = 130 + (int)(40 * v1), b = 200 + (int)(40 * v2);
	} else if (kind == FRAME_KERNEL) {
		r = 230 + (int)(25 * v1), g = 130 + (int)(40 * v2), b = 30 + (int)(30 * v3);
	} else if (kind == FRAME_INLINED && pal == FLAMEGRAPH_PALETTE_MEM) {
		r = 220 + (int)(30 * v1), g = 200 + (int)(30 * v2), b = 60 + (int)(40 * v3);
	} else if (kind == FRAME_INLINED) {
		r = 40 + (int)(40 * v1), g = 200 + (int)(30 * v2), b = 130 + (int)(40 * v3);
	} else if (kind == FRAME_PYTHON) {
		/* Yellow in every palette: the Python code, apart from the native frames under and
		 * around it. */
		r = 225 + (int)(30 * v1), g = 195 + (int)(35 * v2), b = 40 + (int)(50 * v3);
	} else if (kind == FRAME_JIT && pal == FLAMEGRAPH_PALETTE_MEM) {
		r = 170 + (int)(40 * v1), g = 110 + (int)(40 * v2), b = 210 + (int)(40 * v3);
	} else if (kind == FRAME_JIT) {
		/* Green, as flamegraph.pl draws JIT frames: apart from native code's reds. */
		r = 50 + (int)(60 * v3), g = 170 + (int)(60 * v1), b = 50 + (int)(50 * v2);
	} else if (pal == FLAMEGRAPH_PALETTE_MEM) {
		r = (int)(60 * v3), g = 180 + (int)(50 * v1), b = 40 + (int)(50 * v2);
	} else if (pal == FLAMEGRAPH_PALETTE_IO) {
		r = 60 + (int)(50 * v1), g = 100 + (int)(50 * v1), b = 200 + (int)(50 * v2);
	} else {
		r = 205 + (int)(50 * v3), g = (int)(230 * v1), b = (int)(55 * v2);
	}
	snprintf(color, 8, "#%02x%02x%02x", r & 0xff, g & 0xff, b & 0xff);
}

bool flamegraph_frame_is_python(const char *name, size_t len)
{
	const char *open = NULL;
	size_t i = len;

	/* "qualname (file.py:LINE)" or "qualname (file.py)": smolder's Python frames. */
	if (len < 7 || name[len - 1] != ')')
		return false;
	i = len - 1;
	while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
		i--;
	if (i < len - 1 && i > 0 && name[i - 1] == ':')
		i--;
	if (i < 4 || memcmp(name + i - 3, ".py", 3) != 0)
		return false;
	for (size_t k = i - 3; k-- > 1;)
		if (name[k] == '(' && name[k - 1] == ' ') {
			open = name + k;
			break;
		}
	return open != NULL;
}

static int name_info_get(const struct folded_profile *p, const struct flamegraph_options *o,
			 struct name_info *infos, uint32_t id, struct name_info **out)
{
	struct name_info *ni = &infos[id];
	size_t len, cps;
	const char *s;

	*out = ni;
	if (ni->label)
		return 0;
	s = name_table_get(&p->names, id, &len);
	ni->kind = FRAME_USER;
	if (len > 4 && !memcmp(s + len - 4, "_[k]", 4))
		ni->kind = FRAME_KERNEL;
	else if (len > 4 && !memcmp(s + len - 4, "_[i]", 4))
		ni->kind = FRAME_INLINED;
	else if (len > 4 && !memcmp(s + len - 4, "_[j]", 4))
		ni->kind = FRAME_JIT;
	else if (flamegraph_frame_is_python(s, len))
		ni->kind = FRAME_PYTHON;
	palette_color(o->palette, ni->kind, name_hash(s, len), ni->color);
	if (ni->kind != FRAME_USER && ni->kind != FRAME_PYTHON)
		len -= 4;
	ni->label = malloc(len * 3 + 1);
	if (!ni->label)
		return -ENOMEM;
	ni->label_len = (uint32_t)flamegraph_sanitize_utf8(s, len, ni->label, &cps);
	ni->codepoints = (uint32_t)cps;
	return 0;
}

/* Writes the label that fits WIDTH px: the whole name, or a prefix and "..", or nothing. */
static void ob_label(struct out_buf *ob, const struct name_info *ni, double width, int font_size)
{
	long fit = (long)((width - 2 * LABEL_PAD) / (font_size * FONT_WIDTH));
	size_t cut = 0;

	if (fit < 3)
		return;
	if ((long)ni->codepoints <= fit) {
		ob_escaped(ob, ni->label, ni->label_len);
		return;
	}
	for (long k = 0; k < fit - 2 && cut < ni->label_len; k++) {
		cut++;
		while (cut < ni->label_len && ((unsigned char)ni->label[cut] & 0xc0) == 0x80)
			cut++;
	}
	ob_escaped(ob, ni->label, cut);
	ob_str(ob, "..");
}

/* "1,234,567" for integral counts, else up to 15 significant digits. */
static void ob_count(struct out_buf *ob, double v)
{
	char tmp[64], grouped[96];
	size_t n = folded_format_count(v, tmp, sizeof(tmp)), g = 0, digits;

	if (memchr(tmp, '.', n) || memchr(tmp, 'e', n)) {
		ob_mem(ob, tmp, n);
		return;
	}
	digits = n;
	for (size_t i = 0; i < n; i++) {
		grouped[g++] = tmp[i];
		if (--digits && digits % 3 == 0)
			grouped[g++] = ',';
	}
	ob_mem(ob, grouped, g);
}

static void ob_amount(struct out_buf *ob, double v, const struct flamegraph_options *o)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

	if (!strcmp(o->countname, "bytes") && v >= 1024) {
		double x = v;
		int u = 0;

		while (x >= 1024 && u < 5) {
			x /= 1024;
			u++;
		}
		ob_printf(ob, "%.1f %s (", x, units[u]);
		ob_count(ob, v);
		ob_str(ob, " bytes)");
		return;
	}
	ob_count(ob, v);
	ob_str(ob, " ");
	ob_escaped_input(ob, o->countname);
}

static void ob_percent(struct out_buf *ob, double part, double whole)
{
	ob_fixed2(ob, whole > 0 ? part * 100.0 / whole : 0);
	ob_str(ob, "%");
}

double render_overlay_change(const struct render_overlay *ov, double after, double after_total,
			     double before)
{
	if (ov->normalize) {
		double a = after_total > 0 ? after * 100.0 / after_total : 0;
		double b = ov->before_total > 0 ? before * 100.0 / ov->before_total : 0;

		return a - b;
	}
	return after - before;
}

static void diff_color(double change, double max_change, char color[8])
{
	double t = max_change > 0 ? fabs(change) / max_change : 0;
	int c;

	if (t > 1)
		t = 1;
	/* Small changes stay visible: sqrt lifts them off white. */
	c = (int)lround(235 - 200 * sqrt(t));
	if (change > 0)
		snprintf(color, 8, "#ff%02x%02x", c, c);
	else if (change < 0)
		snprintf(color, 8, "#%02x%02xff", c, c);
	else
		snprintf(color, 8, "#ebebeb");
}

struct layout_item {
	uint32_t node, depth;
	double x; /* offset in counts from the left edge */
};

struct layout {
	struct layout_item *items;
	size_t count, cap;
	uint32_t max_depth;
};

/* Collects drawn frames in preorder, siblings in name order. A frame narrower than minwidth is
 * not drawn and neither is anything above it, but its count stays in its parent's width. */
static int layout_build(const struct folded_profile *p, const struct folded_children *c,
			double min_count, struct layout *l)
{
	struct layout_item *stack = NULL;
	size_t depth_cap = 0, sp = 0;
	int err = 0;

	l->count = 0;
	l->max_depth = 0;
	depth_cap = 64;
	stack = malloc(depth_cap * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	stack[sp++] = (struct layout_item){0, 0, 0};
	while (sp) {
		struct layout_item it = stack[--sp];
		double x;
		uint32_t a, b;

		if (l->count == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 4096;
			struct layout_item *items = realloc(l->items, cap * sizeof(*items));

			if (!items) {
				err = -ENOMEM;
				break;
			}
			l->items = items;
			l->cap = cap;
		}
		l->items[l->count++] = it;
		if (it.depth > l->max_depth)
			l->max_depth = it.depth;
		a = c->start[it.node];
		b = c->start[it.node + 1];
		/* Push in reverse so the first sibling pops first; x needs a forward pass. */
		x = it.x;
		for (uint32_t k = a; k < b; k++)
			x += p->totals[c->child[k]];
		for (uint32_t k = b; k > a; k--) {
			uint32_t ch = c->child[k - 1];

			x -= p->totals[ch];
			if (p->totals[ch] < min_count || p->totals[ch] <= 0)
				continue;
			if (sp == depth_cap) {
				struct layout_item *s = realloc(stack, depth_cap * 2 * sizeof(*s));

				if (!s) {
					err = -ENOMEM;
					goto out;
				}
				stack = s;
				depth_cap *= 2;
			}
			stack[sp++] = (struct layout_item){ch, it.depth + 1, x};
		}
	}
out:
	free(stack);
	return err;
}

/* Ids and style rules of one graph: bare in a standalone SVG; prefixed "ID-" and scoped to
 * "#ID-svg" when embedded in a page with other graphs (an inline SVG's <style> is global). */
struct graph_names {
	char pre[48];	/* "" or "ID-" */
	char scope[56]; /* "" or "#ID-svg " */
};

static int count_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Re-lays l out with at most max_frames frames: only frames wider than the (max_frames + 1)-th
 * widest drawn one stay. A parent is never narrower than its child, so what stays is a tree. */
static int layout_fit(const struct folded_profile *p, const struct folded_children *c,
		      size_t max_frames, struct layout *l)
{
	double *w = malloc(l->count * sizeof(*w)), cut;

	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < l->count; i++)
		w[i] = p->totals[l->items[i].node];
	qsort(w, l->count, sizeof(*w), count_desc);
	cut = w[max_frames];
	free(w);
	/* Strictly wider than the cut: ties at the cut go together. */
	return layout_build(p, c, nextafter(cut, INFINITY), l);
}

static void write_header(struct out_buf *ob, const struct flamegraph_options *o,
			 const struct render_overlay *ov, int height, int top, int y0)
{
	const char *title = o->title;
	int fs = o->font_size, w = o->width;
	struct graph_names gn = {"", ""};
	const char *pre = gn.pre, *sc = gn.scope;

	if (o->embed_id) {
		snprintf(gn.pre, sizeof(gn.pre), "%s-", o->embed_id);
		snprintf(gn.scope, sizeof(gn.scope), "#%s-svg ", o->embed_id);
	}
	if (!title)
		title = ov	      ? "Differential Flame Graph"
			: o->inverted ? "Icicle Graph"
				      : "Flame Graph";
	if (!o->embed_id) {
		ob_str(ob, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
		ob_printf(ob,
			  "<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
			  "xmlns=\"http://www.w3.org/2000/svg\" xmlns:sm=\"" SM_NS
			  "\" onload=\"init(evt)\">\n",
			  w, height, w, height);
	} else {
		/* In HTML the sm: attributes are plain attributes; the script reads both forms. */
		ob_printf(ob,
			  "<svg id=\"%ssvg\" class=\"smolder-flamegraph\" version=\"1.1\" "
			  "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
			  "xmlns=\"http://www.w3.org/2000/svg\" xmlns:sm=\"" SM_NS
			  "\" sm:prefix=\"%s\">\n",
			  pre, w, height, w, height, pre);
	}
	ob_str(ob,
	       "<!-- Flame graph by smolder. Click a frame to zoom, Ctrl-F or 'Search' to "
	       "highlight by regex. URL parameters: s=REGEX, i=1 (ignore case), x=OFFSET&d=DEPTH "
	       "(zoom), each prefixed by the graph's id prefix when embedded in a page. -->\n");
	ob_printf(ob,
		  "<style type=\"text/css\">\n"
		  "%stext { font-family: Verdana, \"DejaVu Sans\", sans-serif; font-size: %dpx; "
		  "fill: #000; }\n"
		  "#%stitle { text-anchor: middle; font-size: %dpx; }\n"
		  "#%ssubtitle { text-anchor: middle; fill: #555; }\n"
		  "#%ssearch, #%signorecase, #%sunzoom { cursor: pointer; opacity: 0.6; }\n"
		  "#%ssearch:hover, #%signorecase:hover, #%sunzoom:hover, %s.on { opacity: 1; }\n"
		  "#%ssearch.on, #%signorecase.on { fill: " HIGHLIGHT "; }\n"
		  "#%sframes g { cursor: pointer; }\n"
		  "#%sframes rect { rx: 2px; ry: 2px; }\n"
		  "#%sframes g:hover rect { stroke: #000; stroke-width: 0.5; }\n"
		  "#%sframes text { pointer-events: none; }\n"
		  "%s.hide { display: none; }\n"
		  "%s.parent { opacity: 0.5; }\n"
		  "</style>\n",
		  sc, fs, pre, fs + 5, pre, pre, pre, pre, pre, pre, pre, sc, pre, pre, pre, pre,
		  pre, pre, sc, sc);
	if (!o->embed_id) {
		ob_str(ob, "<script type=\"text/ecmascript\"><![CDATA[\n");
		ob_mem(ob, (const char *)flamegraph_js, flamegraph_js_len);
		ob_str(ob, "]]></script>\n");
	}
	ob_printf(ob, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", w, height,
		  ov					 ? "#ffffff"
		  : o->palette == FLAMEGRAPH_PALETTE_HOT ? "#f8f4ec"
							 : "#f4f6f8");
	ob_printf(ob, "<text id=\"%stitle\" x=\"%d\" y=\"%d\">", pre, w / 2, fs * 2);
	ob_escaped_input(ob, title);
	ob_str(ob, "</text>\n");
	if (o->subtitle) {
		ob_printf(ob, "<text id=\"%ssubtitle\" x=\"%d\" y=\"%d\">", pre, w / 2,
			  fs * 2 + fs + 6);
		ob_escaped_input(ob, o->subtitle);
		ob_str(ob, "</text>\n");
	}
	ob_printf(ob, "<text id=\"%sunzoom\" class=\"hide\" x=\"%d\" y=\"%d\">Reset Zoom</text>\n",
		  pre, XPAD, fs * 2);
	ob_printf(ob, "<text id=\"%ssearch\" x=\"%d\" y=\"%d\">Search</text>\n", pre,
		  w - XPAD - 100, fs * 2);
	ob_printf(ob, "<text id=\"%signorecase\" x=\"%d\" y=\"%d\">ic</text>\n", pre, w - XPAD - 16,
		  fs * 2);
	ob_printf(ob, "<text id=\"%sdetails\" x=\"%d\" y=\"%d\"> </text>\n", pre, XPAD,
		  height - fs / 2 - 4);
	ob_printf(ob, "<text id=\"%smatched\" x=\"%d\" y=\"%d\"> </text>\n", pre, w - XPAD - 160,
		  height - fs / 2 - 4);
	ob_printf(
		ob,
		"<g id=\"%sframes\" sm:inverted=\"%d\" sm:fh=\"%d\" sm:y0=\"%d\" sm:xpad=\"%d\" "
		"sm:width=\"%d\" sm:fontsize=\"%d\" sm:fontwidth=\"%.2f\" sm:highlight=\"" HIGHLIGHT
		"\" sm:top=\"%d\">\n",
		pre, o->inverted ? 1 : 0, o->frame_height, y0, XPAD, w, fs, FONT_WIDTH, top);
}

const char *flamegraph_script(size_t *len)
{
	*len = flamegraph_js_len;
	return (const char *)flamegraph_js;
}

static bool embed_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 40 || !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
			return false;
	return true;
}

static int options_check(const struct flamegraph_options *o)
{
	if (o->width < 100 || o->width > 1000000 || !(o->minwidth >= 0) || !isfinite(o->minwidth) ||
	    o->frame_height < 4 || o->frame_height > 200 || o->font_size < 4 ||
	    o->font_size > 100 || !o->countname || !*o->countname ||
	    (o->embed_id && !embed_id_valid(o->embed_id)))
		return -EINVAL;
	return 0;
}

int flamegraph_render_tree(const struct folded_profile *p, const struct folded_children *c,
			   const struct flamegraph_options *o, const struct render_overlay *ov,
			   FILE *out)
{
	struct out_buf *ob = NULL;
	struct name_info *infos = NULL;
	struct layout l = {0};
	double total = p->totals[0], scale;
	int fs = o->font_size, fh = o->frame_height, top, bottom, height, y0, err;

	err = options_check(o);
	if (err)
		return err;
	if (!(total > 0))
		return -EINVAL;
	scale = (o->width - 2.0 * XPAD) / total;
	ob = malloc(sizeof(*ob));
	infos = calloc(p->names.count + 1, sizeof(*infos));
	if (!ob || !infos) {
		err = -ENOMEM;
		goto out;
	}
	ob->f = out;
	ob->len = 0;
	ob->err = 0;
	err = layout_build(p, c, o->minwidth / scale, &l);
	if (!err && o->max_frames && l.count > o->max_frames)
		err = layout_fit(p, c, o->max_frames, &l);
	if (err)
		goto out;
	top = fs * 3 + (o->subtitle ? fs + 6 : 0);
	bottom = fs * 2 + 6;
	height = top + ((int)l.max_depth + 1) * fh + bottom;
	y0 = o->inverted ? top : height - bottom - fh;
	write_header(ob, o, ov, height, top, y0);

	for (size_t i = 0; i < l.count && !ob->err; i++) {
		const struct layout_item *it = &l.items[i];
		const struct folded_node *n = &p->nodes[it->node];
		double x = XPAD + it->x * scale, w = p->totals[it->node] * scale;
		int y = o->inverted ? y0 + (int)it->depth * fh : y0 - (int)it->depth * fh;
		struct name_info root = {.label = "all", .label_len = 3, .codepoints = 3};
		struct name_info *ni = &root;
		char num[40], color[8];

		if (it->node != 0) {
			err = name_info_get(p, o, infos, n->name, &ni);
			if (err)
				goto out;
		}
		memcpy(color, it->node ? ni->color : "#e8a040", 8);
		ob_str(ob, "<g sm:x=\"");
		ob_mem(ob, num, folded_format_count(it->x, num, sizeof(num)));
		ob_str(ob, "\" sm:w=\"");
		ob_mem(ob, num, folded_format_count(p->totals[it->node], num, sizeof(num)));
		ob_str(ob, "\"><title>");
		ob_escaped(ob, ni->label, ni->label_len);
		ob_str(ob, "\n");
		ob_amount(ob, p->totals[it->node], o);
		ob_str(ob, ", ");
		ob_percent(ob, p->totals[it->node], total);
		if (ni->kind == FRAME_KERNEL)
			ob_str(ob, " (kernel)");
		else if (ni->kind == FRAME_INLINED)
			ob_str(ob, " (inlined)");
		else if (ni->kind == FRAME_JIT)
			ob_str(ob, " (JIT)");
		else if (ni->kind == FRAME_PYTHON)
			ob_str(ob, " (Python)");
		if (ov) {
			double before = ov->before[it->node];
			double change =
				render_overlay_change(ov, p->totals[it->node], total, before);

			ob_str(ob, "\nbefore: ");
			ob_amount(ob, before, o);
			ob_str(ob, ", ");
			ob_percent(ob, before, ov->before_total);
			ob_str(ob, "; change: ");
			if (change >= 0)
				ob_str(ob, "+");
			if (ov->normalize) {
				ob_fixed2(ob, change);
				ob_str(ob, " points");
			} else {
				if (change < 0) {
					ob_str(ob, "-");
					change = -change;
				}
				ob_count(ob, change);
				struct render_overlay shares = {.before_total = ov->before_total,
								.normalize = true};
				double points = render_overlay_change(&shares, p->totals[it->node],
								      total, before);

				ob_str(ob, points >= 0 ? " (+" : " (");
				ob_fixed2(ob, points);
				ob_str(ob, " points)");
			}
			diff_color(render_overlay_change(ov, p->totals[it->node], total, before),
				   ov->max_change, color);
		}
		ob_str(ob, "</title><rect x=\"");
		ob_fixed2(ob, x);
		ob_str(ob, "\" y=\"");
		ob_int(ob, y);
		ob_str(ob, "\" width=\"");
		ob_fixed2(ob, w);
		ob_str(ob, "\" height=\"");
		ob_int(ob, fh - 1);
		ob_str(ob, "\" fill=\"");
		ob_str(ob, color);
		ob_str(ob, "\"/><text x=\"");
		ob_fixed2(ob, x + LABEL_PAD);
		ob_str(ob, "\" y=\"");
		ob_int(ob, y + fh / 2 + fs / 2 - 2);
		ob_str(ob, "\">");
		ob_label(ob, ni, w, fs);
		ob_str(ob, "</text></g>\n");
	}
	ob_str(ob, "</g>\n</svg>\n");
	ob_flush(ob);
	err = ob->err;
	if (!err && (fflush(out) || ferror(out)))
		err = -EIO;
out:
	if (infos) {
		for (uint32_t i = 0; i < p->names.count; i++)
			free(infos[i].label);
	}
	free(infos);
	free(l.items);
	free(ob);
	return err;
}

int flamegraph_render(const struct folded_profile *p, const struct flamegraph_options *o, FILE *out)
{
	struct folded_children c;
	int err;

	if (!p || !o || !out)
		return -EINVAL;
	err = options_check(o);
	if (err)
		return err;
	if (!(folded_profile_total(p) > 0))
		return -EINVAL;
	err = folded_profile_totals(p);
	if (err)
		return err;
	err = folded_children_build(p, &c);
	if (err)
		return err;
	err = flamegraph_render_tree(p, &c, o, NULL, out);
	folded_children_release(&c);
	return err;
}

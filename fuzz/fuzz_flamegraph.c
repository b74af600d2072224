/* fuzz_flamegraph.c: libFuzzer target over the folded parser, writer, SVG renderer and
 * differential renderer. Input: one flag byte (options), then folded text; a line "---" splits
 * BEFORE from AFTER for the diff. Oracles beyond the sanitizers: every SVG must be well-formed
 * XML (libxml2) with exactly one <script> element, and folded output must round-trip. */
#include <libxml/parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flamegraph.h"
#include "folded.h"

static struct folded_profile *parse(const uint8_t *data, size_t size)
{
	struct folded_profile *p = folded_profile_new();
	FILE *in;

	if (!p)
		abort();
	if (!size)
		return p;
	in = fmemopen((void *)data, size, "r");
	if (!in)
		abort();
	if (folded_profile_parse(p, in, NULL))
		abort();
	fclose(in);
	return p;
}

static void check_svg(const char *buf, size_t len)
{
	xmlDocPtr doc = xmlReadMemory(buf, (int)len, "fuzz.svg", NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	size_t scripts = 0;

	if (!doc) {
		fwrite(buf, 1, len, stderr);
		fprintf(stderr, "\nfuzz: SVG is not well-formed XML\n");
		abort();
	}
	xmlFreeDoc(doc);
	for (const char *s = buf; (s = strstr(s, "<script")) != NULL; s++)
		scripts++;
	if (scripts != 1) {
		fprintf(stderr, "fuzz: %zu <script elements\n", scripts);
		abort();
	}
}

static char *write_folded(const struct folded_profile *p, size_t *len)
{
	char *buf = NULL;
	FILE *out = open_memstream(&buf, len);

	if (!out || folded_profile_write(p, out))
		abort();
	fclose(out);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double minwidths[] = {0, 0.1, 1, 5};
	struct flamegraph_options o;
	struct folded_profile *after, *before, *again;
	const uint8_t *split;
	char *buf = NULL, *w1, *w2;
	size_t len = 0, l1, l2;
	uint8_t flags;
	FILE *out;
	int rc;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	flamegraph_options_init(&o);
	o.inverted = flags & 1;
	o.palette = (enum flamegraph_palette)((flags >> 1) % 3);
	o.minwidth = minwidths[(flags >> 3) & 3];
	o.width = 100 + ((flags >> 5) & 3) * 700;
	if (flags & 0x80) {
		o.countname = "bytes";
		o.title = (const char *)"t\xff<&>]]>";
	}

	split = memmem(data, size, "\n---\n", 5);
	after = parse(data, split ? (size_t)(split - data) : size);
	before = parse(split ? split + 5 : data, split ? size - (size_t)(split + 5 - data) : 0);

	out = open_memstream(&buf, &len);
	rc = flamegraph_render(after, &o, out);
	fclose(out);
	if (rc == 0)
		check_svg(buf, len);
	else if (folded_profile_total(after) > 0)
		abort(); /* only an empty profile may be refused */
	free(buf);

	/* Folded output must parse back to the same output. */
	w1 = write_folded(after, &l1);
	again = parse((const uint8_t *)w1, l1);
	w2 = write_folded(again, &l2);
	if (l1 != l2 || memcmp(w1, w2, l1))
		abort();
	free(w1);
	free(w2);
	folded_profile_free(again);

	if (folded_profile_total(before) > 0 && folded_profile_total(after) > 0) {
		struct flamegraph_diff *d = flamegraph_diff_new(before, after, flags & 2);

		if (!d)
			abort();
		buf = NULL;
		out = open_memstream(&buf, &len);
		if (flamegraph_diff_render(d, &o, out))
			abort();
		fclose(out);
		check_svg(buf, len);
		free(buf);
		out = fopen("/dev/null", "w");
		if (flamegraph_diff_write_summary(d, 20, out))
			abort();
		fclose(out);
		flamegraph_diff_free(d);
	}
	folded_profile_free(before);
	folded_profile_free(after);
	return 0;
}

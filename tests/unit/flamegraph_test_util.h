/* flamegraph_test_util.h: helpers shared by the flame graph unit tests (folded parsing from a
 * string, rendering to a string, checking SVGs with a real XML parser: Debian's xmllint). */
#ifndef SMOLDER_FLAMEGRAPH_TEST_UTIL_H
#define SMOLDER_FLAMEGRAPH_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "flamegraph.h"
#include "folded.h"

/* Moves an open_memstream buffer to a plain heap copy (GCC 12 otherwise warns about pointers
 * into it as dangling, a false positive). */
static inline char *take_buffer(char *buf)
{
	char *copy = strdup(buf);

	assert_non_null(copy);
	free(buf);
	return copy;
}

/* Parses TEXT into a new profile; stats to st (may be NULL). */
static inline struct folded_profile *parse_text(const char *text, struct folded_parse_stats *st)
{
	struct folded_profile *p = folded_profile_new();
	FILE *in = fmemopen((void *)text, strlen(text), "r");

	assert_non_null(p);
	assert_non_null(in);
	assert_int_equal(folded_profile_parse(p, in, st), 0);
	fclose(in);
	return p;
}

/* Returns the folded form of p (caller frees). */
static inline char *write_text(const struct folded_profile *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	assert_int_equal(folded_profile_write(p, out), 0);
	fclose(out);
	return take_buffer(buf);
}

/* Checks that the SVG text is well-formed XML with xmllint (libxml2-utils). */
static inline void assert_xml_well_formed(const char *svg)
{
	char path[] = "/tmp/smolder-test-svg.XXXXXX";
	char cmd[128];
	int fd = mkstemp(path);
	size_t len = strlen(svg);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, svg, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
	if (system(cmd) != 0) {
		fprintf(stderr, "xmllint rejected the SVG kept at %s\n", path);
		fail();
	}
	unlink(path);
}

/* Renders p with o (NULL: defaults) and checks it is well-formed; caller frees. */
static inline char *render_text(const struct folded_profile *p, const struct flamegraph_options *o)
{
	struct flamegraph_options def;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	if (!o) {
		flamegraph_options_init(&def);
		o = &def;
	}
	assert_non_null(out);
	assert_int_equal(flamegraph_render(p, o, out), 0);
	fclose(out);
	assert_xml_well_formed(buf);
	return take_buffer(buf);
}

static inline size_t count_occurrences(const char *hay, const char *needle)
{
	size_t n = 0, off = 0;
	const char *hit;

	while ((hit = strstr(hay + off, needle)) != NULL) {
		n++;
		off = (size_t)(hit - hay) + 1;
	}
	return n;
}

/* One drawn frame as the SVG describes it. */
struct svg_frame {
	double x, w;   /* sm:x, sm:w (counts) */
	double rx, rw; /* rect x, width (px) */
	int y;
	char name[256]; /* first title line, escaped as in the file */
	char fill[8];
	char label[256];
};

/* Extracts every frame from a rendered SVG (one <g> per line). Returns the count. */
static inline size_t svg_frames(const char *svg, struct svg_frame *frames, size_t max)
{
	size_t n = 0;

	const char *s = svg;

	while ((s = strstr(s, "<g sm:x=\"")) != NULL && n < max) {
		struct svg_frame *f = &frames[n];
		const char *t = strstr(s, "<title>") + 7, *nl = strchr(t, '\n');
		const char *lab, *end;
		size_t len;

		memset(f, 0, sizeof(*f));
		assert_int_equal(sscanf(s, "<g sm:x=\"%lf\" sm:w=\"%lf\"", &f->x, &f->w), 2);
		len = (size_t)(nl - t) < sizeof(f->name) - 1 ? (size_t)(nl - t)
							     : sizeof(f->name) - 1;
		memcpy(f->name, t, len);
		assert_int_equal(sscanf(strstr(s, "<rect x="),
					"<rect x=\"%lf\" y=\"%d\" width=\"%lf\"", &f->rx, &f->y,
					&f->rw),
				 3);
		memcpy(f->fill, strstr(s, "fill=\"") + 6, 7);
		lab = strchr(strstr(s, "<text x="), '>') + 1;
		end = strstr(lab, "</text>");
		len = (size_t)(end - lab) < sizeof(f->label) - 1 ? (size_t)(end - lab)
								 : sizeof(f->label) - 1;
		memcpy(f->label, lab, len);
		n++;
		s++;
	}
	return n;
}

static inline const struct svg_frame *find_frame(const struct svg_frame *f, size_t n,
						 const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(f[i].name, name))
			return &f[i];
	}
	return NULL;
}

#endif

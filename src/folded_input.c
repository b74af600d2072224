/* folded_input.c: loads folded-stack input for the flamegraph and diff commands and reports what
 * was skipped; the parser itself (flamegraph/folded.c) never prints. */
#include "smolder/folded_input.h"
#include "smolder/cli.h"
#include "smolder/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int folded_input_load(const char *path, struct folded_profile **out)
{
	struct folded_parse_stats st;
	struct folded_profile *p;
	bool is_stdin = !path || !strcmp(path, "-");
	const char *name = is_stdin ? "stdin" : path;
	FILE *in;
	int err;

	*out = NULL;
	in = is_stdin ? stdin : fopen(path, "r");
	if (!in) {
		err = -errno;
		log_error("cannot open %s: %s", path, strerror(errno));
		return err;
	}
	p = folded_profile_new();
	if (!p) {
		err = -ENOMEM;
		log_error("out of memory reading %s", name);
		goto out;
	}
	err = folded_profile_parse(p, in, &st);
	if (err) {
		log_error("%s: %s", name, err == -ENOMEM ? "out of memory" : "read error");
		goto out;
	}
	if (st.invalid)
		log_warn("%s: ignored %zu line%s that %s not 'stack count' (first: line %zu)", name,
			 st.invalid, st.invalid == 1 ? "" : "s", st.invalid == 1 ? "is" : "are",
			 st.first_invalid_line);
	if (!(folded_profile_total(p) > 0)) {
		log_error(
			"%s: no stacks to draw (%zu line%s read, %zu invalid); expected lines like "
			"'main;foo;bar 42'",
			name, st.lines, st.lines == 1 ? "" : "s", st.invalid);
		err = -ENODATA;
		goto out;
	}
	log_debug("%s: %zu stacks, total %.15g", name, folded_profile_stack_count(p),
		  folded_profile_total(p));
	*out = p;
	p = NULL;
out:
	folded_profile_free(p);
	if (!is_stdin)
		fclose(in);
	return err;
}

int folded_input_exit_code(int err)
{
	if (err == -ENOMEM || err == -EIO)
		return SMOLDER_EXIT_INTERNAL;
	return SMOLDER_EXIT_USAGE;
}

void folded_input_render_options(const struct cli_options *opts, struct flamegraph_options *fo)
{
	flamegraph_options_init(fo);
	fo->title = opts->title;
	fo->subtitle = opts->subtitle;
	if (opts->countname)
		fo->countname = opts->countname;
	fo->inverted = opts->inverted;
	fo->width = opts->width;
	fo->minwidth = opts->minwidth;
}

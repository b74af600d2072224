/* folded_input.c: loads folded-stack input for the flamegraph and diff commands and reports what
 * was skipped; the parser itself (flamegraph/folded.c) never prints. */
#include "smolder/folded_input.h"
#include "smolder/cli.h"
#include "smolder/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int folded_input_load(const char *path, struct folded_profile **out)
{
	struct folded_parse_stats ps;
	struct folded_profile *p;
	struct stat st;
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
	/* fopen takes a directory for reading; the first read would fail with EISDIR (an I/O error,
	 * exit 6) although the argument is what is wrong. */
	if (fstat(fileno(in), &st) == 0 && S_ISDIR(st.st_mode)) {
		log_error("%s is a directory, not a file of folded stacks", path);
		fclose(in);
		return -EISDIR;
	}
	p = folded_profile_new();
	if (!p) {
		err = -ENOMEM;
		log_error("out of memory reading %s", name);
		goto out;
	}
	err = folded_profile_parse(p, in, &ps);
	if (err == -EILSEQ) {
		log_error("%s: binary data (line %zu: over %u MiB without a newline, holding NUL "
			  "bytes), not folded stacks",
			  name, ps.nul_line, FOLDED_MAX_LINE >> 20);
		goto out;
	}
	if (err) {
		log_error("%s: %s", name, err == -ENOMEM ? "out of memory" : strerror(-err));
		goto out;
	}
	if (ps.too_long)
		log_warn("%s: skipped %zu line%s longer than %u MiB", name, ps.too_long,
			 ps.too_long == 1 ? "" : "s", FOLDED_MAX_LINE >> 20);
	if (ps.invalid > ps.too_long)
		log_warn("%s: ignored %zu line%s that %s not 'stack count' (first: line %zu)", name,
			 ps.invalid - ps.too_long, ps.invalid - ps.too_long == 1 ? "" : "s",
			 ps.invalid - ps.too_long == 1 ? "is" : "are", ps.first_invalid_line);
	if (!(folded_profile_total(p) > 0)) {
		log_error(
			"%s: no stacks to draw (%zu line%s read, %zu invalid); expected lines like "
			"'main;foo;bar 42'",
			name, ps.lines, ps.lines == 1 ? "" : "s", ps.invalid);
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

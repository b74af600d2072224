/* cmd_flamegraph.c: `smolder flamegraph [FILE|-] [-o FILE]`: folded stacks in, interactive SVG
 * (or merged, sorted folded stacks for .folded/.txt) out. Without -o the SVG goes to stdout, as
 * flamegraph.pl users expect (`smolder flamegraph x.folded > x.svg`), but never to a terminal. */
#include "smolder/commands.h"
#include "smolder/folded_input.h"
#include "smolder/log.h"
#include "smolder/output_file.h"

#include "flamegraph.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int cmd_flamegraph(const struct cli_options *opts)
{
	const char *path = opts->n_outputs ? opts->outputs[0].path : "-";
	enum output_format format = strcmp(path, "-") ? cli_output_format(path) : OUTPUT_FORMAT_SVG;
	struct flamegraph_options fo;
	struct folded_profile *p = NULL;
	struct output_file out = {0};
	int err, rc;

	if (format != OUTPUT_FORMAT_SVG && format != OUTPUT_FORMAT_FOLDED) {
		log_error("flamegraph writes .svg (or .folded/.txt stacks), not '%s'", path);
		return SMOLDER_EXIT_USAGE;
	}
	if (!strcmp(path, "-") && isatty(STDOUT_FILENO)) {
		log_error("not writing an SVG to a terminal: use -o FILE.svg or redirect stdout");
		return SMOLDER_EXIT_USAGE;
	}
	folded_input_render_options(opts, &fo);
	if (opts->colors && flamegraph_palette_parse(opts->colors, &fo.palette)) {
		log_error("invalid --colors '%s' (hot, mem or io)", opts->colors);
		return SMOLDER_EXIT_USAGE;
	}

	err = folded_input_load(opts->input, &p);
	if (err)
		return folded_input_exit_code(err);
	folded_profile_compact(p);
	err = output_file_open(&out, path);
	if (err) {
		log_error("cannot write %s: %s", path, strerror(-err));
		rc = SMOLDER_EXIT_USAGE;
		goto out;
	}
	if (format == OUTPUT_FORMAT_SVG)
		err = flamegraph_render(p, &fo, out.fp);
	else
		err = folded_profile_write(p, out.fp);
	if (err) {
		log_error("writing %s failed: %s", path, strerror(-err));
		output_file_abort(&out);
		rc = err == -EINVAL ? SMOLDER_EXIT_USAGE : SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	err = output_file_commit(&out);
	if (err) {
		log_error("writing %s failed: %s", path, strerror(-err));
		rc = SMOLDER_EXIT_INTERNAL;
		goto out;
	}
	if (strcmp(path, "-"))
		log_info("wrote %s (%zu stacks)", path, folded_profile_stack_count(p));
	rc = SMOLDER_EXIT_OK;
out:
	folded_profile_free(p);
	return rc;
}

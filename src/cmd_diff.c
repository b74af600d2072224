/* cmd_diff.c: `smolder diff BEFORE AFTER [-o FILE] [--normalize] [--fail-on PERCENT]`: a
 * differential flame graph (default diff.svg, its name printed), a table of the functions whose
 * share changed most on stdout (stderr when the SVG itself goes to stdout), and exit 5 when a
 * function's total share grew by more than --fail-on points. */
#include "smolder/commands.h"
#include "smolder/folded_input.h"
#include "smolder/log.h"
#include "smolder/output_file.h"

#include "flamegraph.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define SUMMARY_ROWS 15

int cmd_diff(const struct cli_options *opts)
{
	const char *path = opts->n_outputs ? opts->outputs[0].path : "diff.svg";
	struct folded_profile *before = NULL, *after = NULL;
	struct flamegraph_diff *d = NULL;
	struct flamegraph_options fo;
	struct output_file out = {0};
	const char *grew = NULL;
	double growth;
	int err, rc = SMOLDER_EXIT_INTERNAL;

	if (strcmp(path, "-") && cli_output_format(path) != OUTPUT_FORMAT_SVG) {
		log_error("diff writes an .svg differential flame graph, not '%s'", path);
		return SMOLDER_EXIT_USAGE;
	}
	if (!strcmp(opts->before, "-") && !strcmp(opts->after, "-")) {
		log_error("BEFORE and AFTER cannot both be stdin");
		return SMOLDER_EXIT_USAGE;
	}
	if (!strcmp(path, "-") && isatty(STDOUT_FILENO)) {
		log_error("not writing an SVG to a terminal: use -o FILE.svg or redirect stdout");
		return SMOLDER_EXIT_USAGE;
	}
	if (!opts->n_outputs) {
		char why[512];

		/* -o paths were checked by the command line; the default one is checked here. */
		if (output_file_check(path, why, sizeof(why)) != 0) {
			log_error("%s", why);
			return SMOLDER_EXIT_USAGE;
		}
		output_file_remove_stale(path);
	}
	folded_input_render_options(opts, &fo);

	err = folded_input_load(opts->before, &before);
	if (!err)
		err = folded_input_load(opts->after, &after);
	if (err) {
		rc = folded_input_exit_code(err);
		goto out;
	}
	folded_profile_compact(before);
	folded_profile_compact(after);
	d = flamegraph_diff_new(before, after, opts->normalize);
	if (!d) {
		log_error("comparing profiles failed: %s", strerror(errno));
		goto out;
	}
	err = output_file_open(&out, path);
	if (err) {
		log_error("cannot write %s: %s", path, strerror(-err));
		rc = SMOLDER_EXIT_USAGE;
		goto out;
	}
	err = flamegraph_diff_render(d, &fo, out.fp);
	if (err) {
		log_error("writing %s failed: %s", path, strerror(-err));
		output_file_abort(&out);
		goto out;
	}
	err = output_file_commit(&out);
	if (err) {
		log_error("writing %s failed: %s", path, strerror(-err));
		goto out;
	}
	if (strcmp(path, "-"))
		log_info("wrote %s", path);
	err = flamegraph_diff_write_summary(d, SUMMARY_ROWS, strcmp(path, "-") ? stdout : stderr);
	if (err || fflush(stdout)) {
		log_error("writing the summary failed");
		goto out;
	}
	rc = SMOLDER_EXIT_OK;
	growth = flamegraph_diff_max_growth(d, &grew);
	if (opts->fail_on >= 0 && growth > opts->fail_on) {
		log_error("--fail-on %.2f: %s grew by %.2f percentage points of total share",
			  opts->fail_on, grew, growth);
		rc = SMOLDER_EXIT_THRESHOLD;
	}
out:
	flamegraph_diff_free(d);
	folded_profile_free(before);
	folded_profile_free(after);
	return rc;
}

/* folded_input.h: loading a folded-stack file (or stdin) for `smolder flamegraph` and
 * `smolder diff`, with the one-line diagnostics both commands share. */
#ifndef SMOLDER_FOLDED_INPUT_H
#define SMOLDER_FOLDED_INPUT_H

#include "flamegraph.h"
#include "folded.h"
#include "smolder/cli.h"

/* Reads PATH ("-" or NULL: stdin) into a new profile (*out, caller frees with
 * folded_profile_free). Invalid lines are reported once as a warning. Returns 0; -ENOENT/-EACCES
 * etc. when the file cannot be opened, -ENODATA when it holds no stack with a count, -EIO or
 * -ENOMEM; each failure is logged. */
int folded_input_load(const char *path, struct folded_profile **out);

/* Exit code for a folded_input_load error: bad or empty input is a usage error (1), anything
 * else internal (6). */
int folded_input_exit_code(int err);

/* Fills fo from the rendering options both commands accept (title, subtitle, countname, inverted,
 * width, minwidth); the palette is left to the caller. */
void folded_input_render_options(const struct cli_options *opts, struct flamegraph_options *fo);

#endif

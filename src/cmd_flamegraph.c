/* cmd_flamegraph.c: placeholder for `smolder flamegraph` until its implementation lands; fails
 * loudly. */
#include "smolder/commands.h"
#include "smolder/log.h"

int cmd_flamegraph(const struct cli_options *opts)
{
	(void)opts;
	log_error("'smolder flamegraph' is not implemented in this build");
	return SMOLDER_EXIT_INTERNAL;
}

/* cmd_diff.c: placeholder for `smolder diff` until its implementation lands; fails loudly. */
#include "smolder/commands.h"
#include "smolder/log.h"

int cmd_diff(const struct cli_options *opts)
{
	(void)opts;
	log_error("'smolder diff' is not implemented in this build");
	return SMOLDER_EXIT_INTERNAL;
}

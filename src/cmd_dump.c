/* cmd_dump.c: placeholder for `smolder dump` until its implementation lands; fails loudly. */
#include "smolder/commands.h"
#include "smolder/log.h"

int cmd_dump(const struct cli_options *opts)
{
	(void)opts;
	log_error("'smolder dump' is not implemented in this build");
	return SMOLDER_EXIT_INTERNAL;
}

/* cmd_leaks.c: placeholder for `smolder leaks` until its implementation lands; fails loudly. */
#include "smolder/commands.h"
#include "smolder/log.h"

int cmd_leaks(const struct cli_options *opts)
{
	(void)opts;
	log_error("'smolder leaks' is not implemented in this build");
	return SMOLDER_EXIT_INTERNAL;
}

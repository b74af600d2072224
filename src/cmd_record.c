/* cmd_record.c: placeholder for `smolder record` until its implementation lands; fails loudly. */
#include "smolder/commands.h"
#include "smolder/log.h"

int cmd_record(const struct cli_options *opts)
{
	(void)opts;
	log_error("'smolder record' is not implemented in this build");
	return SMOLDER_EXIT_INTERNAL;
}

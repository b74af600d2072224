/* commands.h: one entry point per subcommand. Each returns an exit code (enum smolder_exit); main.c
 * is the only caller and the only place that exits. */
#ifndef SMOLDER_COMMANDS_H
#define SMOLDER_COMMANDS_H

#include "smolder/cli.h"

int cmd_record(const struct cli_options *opts);
int cmd_leaks(const struct cli_options *opts);
int cmd_profile(const struct cli_options *opts);
int cmd_dump(const struct cli_options *opts);
int cmd_flamegraph(const struct cli_options *opts);
int cmd_diff(const struct cli_options *opts);
int cmd_check(const struct cli_options *opts);

#endif

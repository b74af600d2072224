/* main.c: entry point. Parses the command line, sets up logging, runs one subcommand and exits with
 * its code. The only file that calls exit. */
#include "smolder/cli.h"
#include "smolder/commands.h"
#include "smolder/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

/* The unwinder and the symbolizer keep every object the target maps open (through map_files, so
 * names survive unloading and the target's exit), libdwfl a descriptor per object and per
 * separate debug file: a target with hundreds of libraries (Python extension modules) passes the
 * usual soft limit of 1024. Raise it to the hard limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct cli_options opts;
	char err[512];
	int rc;

	if (cli_parse(argc, argv, &opts, err, sizeof(err)) != 0) {
		fprintf(stderr, "smolder: %s\n", err);
		return SMOLDER_EXIT_USAGE;
	}
	if (opts.verbosity < 0)
		log_set_level(LOG_LEVEL_QUIET);
	else
		log_set_level((enum log_level)(LOG_LEVEL_INFO + opts.verbosity));
	log_install_libbpf();
	raise_fd_limit();

	switch (opts.command) {
	case CLI_CMD_HELP:
		fputs(cli_help_text(opts.help_for), stdout);
		rc = SMOLDER_EXIT_OK;
		break;
	case CLI_CMD_VERSION:
		printf("smolder %s\n", SMOLDER_VERSION);
		rc = SMOLDER_EXIT_OK;
		break;
	case CLI_CMD_RECORD:
		rc = cmd_record(&opts);
		break;
	case CLI_CMD_LEAKS:
		rc = cmd_leaks(&opts);
		break;
	case CLI_CMD_DUMP:
		rc = cmd_dump(&opts);
		break;
	case CLI_CMD_FLAMEGRAPH:
		rc = cmd_flamegraph(&opts);
		break;
	case CLI_CMD_DIFF:
		rc = cmd_diff(&opts);
		break;
	case CLI_CMD_PROFILE:
		rc = cmd_profile(&opts);
		break;
	case CLI_CMD_CHECK:
		rc = cmd_check(&opts);
		break;
	default:
		fprintf(stderr, "smolder: no command given (see smolder --help)\n");
		rc = SMOLDER_EXIT_USAGE;
	}
	exit(rc);
}

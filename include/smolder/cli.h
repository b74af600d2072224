/* cli.h: the command line of DESIGN.md parsed into one options struct, duration parsing, output
 * format by extension, exit codes, and the help texts (main.c prints them). */
#ifndef SMOLDER_CLI_H
#define SMOLDER_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit codes: the contract of DESIGN.md. Commands return one of these. */
enum smolder_exit {
	SMOLDER_EXIT_OK = 0,
	SMOLDER_EXIT_USAGE = 1,
	SMOLDER_EXIT_TARGET = 2,    /* target not found or exited before attach */
	SMOLDER_EXIT_PRIVILEGE = 3, /* message names the capability or sysctl */
	SMOLDER_EXIT_KERNEL = 4,    /* kernel feature missing */
	SMOLDER_EXIT_THRESHOLD = 5, /* --fail-on or a check budget crossed */
	SMOLDER_EXIT_INTERNAL = 6,  /* unexpected failure (I/O error writing output, ...) */
};

enum cli_command {
	CLI_CMD_NONE = 0,
	CLI_CMD_HELP,
	CLI_CMD_VERSION,
	CLI_CMD_RECORD,
	CLI_CMD_LEAKS,
	CLI_CMD_DUMP,
	CLI_CMD_FLAMEGRAPH,
	CLI_CMD_DIFF,
	CLI_CMD_CHECK,
	CLI_CMD_PROFILE,
};

enum output_format {
	OUTPUT_FORMAT_UNKNOWN = 0,
	OUTPUT_FORMAT_FOLDED,	  /* .folded, .txt */
	OUTPUT_FORMAT_SVG,	  /* .svg */
	OUTPUT_FORMAT_JSON,	  /* .json */
	OUTPUT_FORMAT_PPROF,	  /* .pb.gz */
	OUTPUT_FORMAT_SPEEDSCOPE, /* .speedscope.json */
	OUTPUT_FORMAT_JUNIT,	  /* .xml (check) */
	OUTPUT_FORMAT_HTML,	  /* .html, .htm (profile) */
	OUTPUT_FORMAT_COUNT,	  /* keep last: the number of formats */
};

enum sample_backend {
	SAMPLE_BACKEND_AUTO = 0, /* eBPF, falling back to ptrace with a notice */
	SAMPLE_BACKEND_BPF,
	SAMPLE_BACKEND_PTRACE,
};

#define CLI_MAX_OUTPUTS 16
#define CLI_MAX_PIDS	64

/* Whether descendants of the targets are followed. */
enum cli_children {
	CLI_CHILDREN_DEFAULT = 0, /* resolved by cli_parse: FOLLOW in launch mode, NONE with -p */
	CLI_CHILDREN_FOLLOW,	  /* --children */
	CLI_CHILDREN_NONE,	  /* --no-children */
};

struct cli_output {
	const char *path; /* "-" means stdout */
	enum output_format format;
};

struct cli_options {
	enum cli_command command;
	enum cli_command help_for; /* with CLI_CMD_HELP: the subcommand whose help was asked */
	int verbosity;		   /* 0 default, +1 per -v, -1 for -q */

	/* record / leaks / dump: the target */
	pid_t pid;		  /* 0 when launching; else pids[0] */
	pid_t pids[CLI_MAX_PIDS]; /* -p PID,PID,... (in the order given) */
	size_t n_pids;
	enum cli_children children;  /* never DEFAULT after cli_parse */
	bool merge_processes;	     /* --merge-processes */
	char **launch_argv;	     /* after "--", NULL-terminated; borrowed from argv */
	int frequency_hz;	     /* -F, default 99 */
	uint64_t duration_ns;	     /* -d, 0 = until Ctrl-C or target exit */
	uint64_t interval_ns;	     /* leaks -i, default 1 s */
	double min_age_s;	     /* leaks --min-age */
	bool no_kernel;		     /* --no-kernel */
	bool threads;		     /* --threads */
	bool json;		     /* dump --json */
	bool native;		     /* --native: keep interpreter-internal native frames */
	bool python_by_function;     /* --function: Python frames without the executing line */
	enum sample_backend backend; /* record --backend bpf|ptrace|auto */
	struct cli_output outputs[CLI_MAX_OUTPUTS];
	size_t n_outputs;

	/* flamegraph */
	const char *input; /* file or "-" (stdin); NULL = stdin */
	const char *title;
	const char *subtitle;
	const char *countname;
	const char *colors; /* hot|mem|io */
	bool inverted;
	int width;	 /* px, default 1200 */
	double minwidth; /* px, default 0.1 */

	/* diff */
	const char *before;
	const char *after;
	bool normalize;
	double fail_on; /* percentage points; < 0 = off */

	/* profile */
	const char *during; /* --during 'LOAD CMD' (sh -c) */
	bool no_memory;	    /* --no-memory */
	bool no_off_cpu;    /* --no-off-cpu */

	/* check */
	const char *current;			/* the report under test */
	const char *baselines[CLI_MAX_OUTPUTS]; /* --baseline, repeatable (median of them) */
	size_t n_baselines;
	const char *budget;	   /* --budget FILE */
	double max_regression_pct; /* --max-regression; NAN = not given */
	double ops;		   /* --ops; NAN = not given */
	const char *ops_probe;	   /* --ops-probe [LIB:]FUNCTION (profile) */
};

/* Parses argv into opts (defaults filled in). Returns 0, or -EINVAL with a one-line message in err.
 * opts borrows strings from argv. */
int cli_parse(int argc, char **argv, struct cli_options *opts, char *err, size_t errlen);

/* Parses "30", "30s", "5m", "2h", "1.5s", "250ms" into nanoseconds. Rejects garbage, negatives,
 * zero and overflow with -EINVAL / -ERANGE. */
int cli_parse_duration(const char *text, uint64_t *ns);

/* Output format chosen by the file's extension; "-" is folded. */
enum output_format cli_output_format(const char *path);
const char *cli_output_format_name(enum output_format format);

/* Help text for a subcommand (CLI_CMD_NONE: the overview). Static storage. */
const char *cli_help_text(enum cli_command command);
const char *cli_command_name(enum cli_command command);

#endif

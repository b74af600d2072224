/* cli_help.c: the text of `smolder --help` and of each command's --help (the synopsis DESIGN.md
 * and the README show); kept apart from the parser in cli.c, which owns the options themselves. */
#include "smolder/cli.h"

static const char *const cli_help_overview =
	"usage: smolder [-v|-q] COMMAND [OPTIONS]\n"
	"\n"
	"Profile CPU and memory growth of a running process with eBPF.\n"
	"\n"
	"commands:\n"
	"  record      sample CPU stacks, write folded stacks / flame graph\n"
	"  leaks       track heap allocations over time, report growing sites\n"
	"  dump        print every thread's stack right now (ptrace)\n"
	"  flamegraph  render folded stacks as an interactive SVG\n"
	"  diff        compare two profiles; differential flame graph, CI gate\n"
	"  check       gate a report on budgets and baselines (CI); JUnit XML\n"
	"  profile     CPU, memory growth and a resource timeline during a load test\n"
	"\n"
	"global options:\n"
	"  -h, --help     this help (smolder COMMAND --help for a command)\n"
	"  -V, --version  print the version\n"
	"  -v, --verbose  more diagnostics (repeat for more)\n"
	"  -q, --quiet    errors only\n"
	"\n"
	"exit codes: 0 ok, 1 usage, 2 target not found, 3 insufficient privilege,\n"
	"            4 kernel feature missing, 5 --fail-on threshold or check budget crossed,\n"
	"            6 internal error\n";

static const char *const cli_help_record =
	"usage: smolder record (-p PID[,PID...] | -- CMD ARGS...) [-F HZ] [-d DURATION]\n"
	"                      [-o FILE]... [--children | --no-children] [--merge-processes]\n"
	"                      [--no-kernel] [--threads] [--backend bpf|ptrace|auto]\n"
	"                      [--native] [--function]\n"
	"\n"
	"Sample on-CPU stacks of a process and write folded stacks or a flame graph.\n"
	"\n"
	"  -p, --pid PID[,PID]  attach to running processes\n"
	"  -- CMD ARGS...       launch CMD and profile it from its first instruction\n"
	"      --children       also every descendant of the -p processes, present and future\n"
	"      --no-children    launch mode: only CMD itself (default: CMD and its children)\n"
	"      --merge-processes  one root frame per command, not per process\n"
	"  -F, --frequency HZ   samples per second per CPU (default 99, max 10000)\n"
	"  -d, --duration D     stop after D (30, 30s, 5m, 2h); default: Ctrl-C or target exit\n"
	"  -o, --output FILE    .folded/.txt folded stacks, .svg flame graph, .json, .pb.gz "
	"pprof,\n"
	"                       .speedscope.json; repeatable;\n"
	"                       '-' writes folded stacks to stdout (default: smolder-PID.svg)\n"
	"      --no-kernel      drop kernel frames\n"
	"      --threads        add the thread (name/tid) as the root frame\n"
	"      --backend B      bpf (default when allowed), ptrace, or auto\n"
	"      --native         Python targets: keep the interpreter's own native frames\n"
	"      --function       Python targets: one frame per function, not per line\n"
	"\n"
	"example: smolder record -p 1234 -d 60 -o cpu.svg -o cpu.folded\n";

static const char *const cli_help_leaks =
	"usage: smolder leaks (-p PID[,PID...] | -- CMD ARGS...) [-d DURATION] [-i INTERVAL]\n"
	"                     [-o FILE]... [--children | --no-children] [--merge-processes]\n"
	"                     [--min-age SECONDS] [--native] [--function]\n"
	"\n"
	"Track heap allocations and report the sites whose memory keeps growing.\n"
	"\n"
	"  -p, --pid PID[,PID]  attach to running processes (each keeps its own books)\n"
	"  -- CMD ARGS...       launch CMD and track it from its first instruction\n"
	"      --children       also every descendant of the -p processes, present and future\n"
	"      --no-children    launch mode: only CMD itself (default: CMD and its children)\n"
	"      --merge-processes  flame graphs: one root frame per command, not per process\n"
	"  -d, --duration D     stop after D (30, 30s, 5m, 2h); default: Ctrl-C or target exit\n"
	"  -i, --interval I     snapshot interval (default 1s)\n"
	"  -o, --output FILE    .json report, .svg/.folded memory flame graph, .pb.gz pprof,\n"
	"                       .speedscope.json; repeatable\n"
	"                       (default: smolder-leaks-PID.json; text summary on stdout)\n"
	"      --min-age S      hide allocations younger than S seconds from outstanding totals\n"
	"      --native         Python targets: keep the interpreter's own native frames\n"
	"      --function       Python targets: one frame per function, not per line\n"
	"\n"
	"example: smolder leaks -p 1234 -d 2h -o leaks.json -o leaks.svg\n";

static const char *const cli_help_dump =
	"usage: smolder dump -p PID[,PID...] [--json] [--native]\n"
	"\n"
	"Stop every thread briefly with ptrace, print its stack, and let it run again.\n"
	"\n"
	"  -p, --pid PID   the process (a comma-separated list: each in turn)\n"
	"      --json      machine-readable output\n"
	"      --native    Python targets: keep the interpreter's own native frames\n";

static const char *const cli_help_flamegraph =
	"usage: smolder flamegraph [FILE|-] [-o FILE] [--title T] [--subtitle S] [--countname "
	"NAME]\n"
	"                          [--colors hot|mem|io] [--inverted] [--width PX] [--minwidth "
	"PX]\n"
	"\n"
	"Render folded stacks (root;caller;leaf COUNT) as an interactive SVG flame graph.\n"
	"\n"
	"  FILE             folded input (default or '-': stdin)\n"
	"  -o, --output F   SVG output (default: stdout)\n"
	"  --title T        title (default \"Flame Graph\")\n"
	"  --subtitle S     second line under the title\n"
	"  --countname N    unit of counts: samples (default), bytes, ...\n"
	"  --colors P       palette: hot (default), mem, io\n"
	"  --inverted       icicle graph: roots at the top\n"
	"  --width PX       image width (default 1200)\n"
	"  --minwidth PX    omit frames narrower than PX (default 0.1); counts stay in parents\n";

static const char *const cli_help_diff =
	"usage: smolder diff BEFORE AFTER [-o FILE] [--normalize] [--fail-on PERCENT]\n"
	"\n"
	"Compare two folded profiles: differential flame graph (widths from AFTER, red grew,\n"
	"blue shrank) and a table of the functions whose share changed most.\n"
	"\n"
	"  -o, --output F       SVG output (default: diff.svg)\n"
	"  --normalize          compare shares instead of raw counts\n"
	"  --fail-on PERCENT    exit 5 if any function's total share grew by more than PERCENT\n"
	"                       percentage points (CI regression gate)\n";

static const char *const cli_help_check =
	"usage: smolder check CURRENT [--baseline BASE]... [--budget FILE] [--max-regression "
	"PERCENT]\n"
	"                     [--ops N] [-o junit.xml]\n"
	"\n"
	"Gate a report (JSON of profile, record or leaks; pprof; folded) on absolute budgets and "
	"on\n"
	"regressions against baselines. Prints a table; exit 0 when every check holds, 5 when one\n"
	"fails, 1 on bad input.\n"
	"\n"
	"  --baseline BASE        a report of the reference build; repeat it to compare against "
	"the\n"
	"                         median of several runs\n"
	"  --budget FILE          JSON budget: {\"max_regression_percent\": 10, \"ops\": N,\n"
	"                         \"checks\": [{\"metric\": M, \"max\": X, "
	"\"max_regression_percent\":\n"
	"                         P, \"min_change\": C, \"function\": F, \"regex\": true}]}\n"
	"  --max-regression P     allowed growth over the baseline in percent (default 10)\n"
	"  --ops N                operations each run performed (for per-op metrics of reports\n"
	"                         that do not count them)\n"
	"  -o, --output F.xml     JUnit XML, one test case per metric\n"
	"\n"
	"metrics: peak_rss_bytes rss_growth_bytes_per_s rss_growth_bytes_per_op leaked_bytes\n"
	"         leaked_bytes_per_op leaked_bytes_per_100_ops heap_leak_rate_bytes_per_s cpu_s\n"
	"         cpu_s_per_op off_cpu_share function_share function_self_share dropped_ratio\n"
	"\n"
	"example: smolder check current.json --baseline main.json --max-regression 10 -o "
	"junit.xml\n";

static const char *const cli_help_profile =
	"usage: smolder profile (-p PID[,PID...] | -- CMD ARGS...) [--during 'LOAD CMD']\n"
	"                       [-d DURATION] [-F HZ] [-i INTERVAL] [--ops N | --ops-probe "
	"FUNCTION]\n"
	"                       [--no-memory] [--no-off-cpu] [--children | --no-children]\n"
	"                       [--merge-processes] [-o FILE]...\n"
	"\n"
	"One attach: on-CPU stacks, off-CPU time, allocation growth and a resource timeline from\n"
	"/proc.\n"
	"\n"
	"  --children       also every descendant of the -p processes, present and future\n"
	"  --no-children    launch mode: only CMD itself (default: CMD and its children)\n"
	"  --merge-processes  one root frame per command, not per process\n"
	"  --during CMD     run CMD with sh -c once attached; the run ends when it exits;\n"
	"                   a CMD using $PORT waits until the target listens on a TCP port\n"
	"  --ops N          operations done during the run: per-operation figures\n"
	"                   (without it: parsed from wrk, ab or redis-benchmark output)\n"
	"  --ops-probe [LIB:]FUNCTION  count calls of a native function as operations\n"
	"  --no-memory      no allocation tracking (its cost)\n"
	"  --no-off-cpu     no off-CPU (blocked time) tracking\n"
	"  -i, --interval T timeline and memory snapshot period (default 1s)\n"
	"  -o, --output F   .html report, .json report, .folded/.svg on-CPU flame graph\n"
	"                   (X.offcpu.* and X.mem.* written beside it), .pb.gz pprof,\n"
	"                   .speedscope.json (default: smolder-PID-TIME.html and .json)\n";

const char *cli_help_text(enum cli_command command)
{
	switch (command) {
	case CLI_CMD_PROFILE:
		return cli_help_profile;
	case CLI_CMD_RECORD:
		return cli_help_record;
	case CLI_CMD_LEAKS:
		return cli_help_leaks;
	case CLI_CMD_DUMP:
		return cli_help_dump;
	case CLI_CMD_FLAMEGRAPH:
		return cli_help_flamegraph;
	case CLI_CMD_DIFF:
		return cli_help_diff;
	case CLI_CMD_CHECK:
		return cli_help_check;
	default:
		return cli_help_overview;
	}
}

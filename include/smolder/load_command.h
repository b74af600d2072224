/* load_command.h: the --during load command of `smolder profile`: a session collector that runs
 * sh -c COMMAND in its own process group once the target is profiled, ends the run when it exits
 * (its pidfd wakes the loop), keeps the tail of its output for the report and counts the
 * operations it reports (wrk, ab, redis-benchmark, demo_load summaries). A command that refers to
 * $PORT waits until the target (or a process of its tree) listens on a TCP port and gets it in
 * its environment. The load window (start to end) is what per-operation figures are measured
 * over: the target's CPU seconds, RSS and optional counters (operations, allocations) are read
 * at both ends. */
#ifndef SMOLDER_LOAD_COMMAND_H
#define SMOLDER_LOAD_COMMAND_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct session;
struct session_collector;

#define LOAD_TAIL_BYTES	    2048
#define LOAD_PORT_TIMEOUT_S 30 /* default; SMOLDER_PORT_TIMEOUT=SECONDS overrides */

/* Counters read at both ends of the load window. */
enum load_count {
	LOAD_COUNT_OPS,	   /* the --ops-probe uprobe's calls */
	LOAD_COUNT_ALLOCS, /* allocations the tracker saw */
	LOAD_COUNT_MAX,
};

struct load_counter {
	void *ctx;
	int (*read)(void *ctx, uint64_t *count); /* 0 or -errno */
};

/* The target's figures at one end of the load window (NAN / valid=false when unreadable). */
struct load_mark {
	double cpu_s;	    /* user + system CPU seconds of the target (/proc/PID/stat) */
	uint64_t rss_bytes; /* VmRSS */
	uint64_t count[LOAD_COUNT_MAX]; /* the counters' values */
	bool rss_valid, count_valid[LOAD_COUNT_MAX];
};

struct load_command {
	const char *command;   /* borrowed (the options') */
	pid_t pid;	       /* of sh; 0 before start */
	int out_fd;	       /* unlinked temporary file with its stdout and stderr, or -1 */
	int pidfd;	       /* readable when it exits, or -1 */
	bool done;	       /* reaped: status and end_s are valid */
	int status;	       /* exit status, or 128 + signal */
	double start_s, end_s; /* seconds into the run */
	char tail[LOAD_TAIL_BYTES + 1]; /* after load_command_read_tail */
	/* $PORT: the command waits on go_fd (its write end here) until the port is known. */
	bool wants_port;
	int go_fd;
	uint16_t port; /* given as $PORT, or 0 */
	double port_timeout_s;
	double next_port_check_s;
	int failure; /* a smolder exit code when the command could not start (port never seen) */
	struct load_counter counters[LOAD_COUNT_MAX];
	struct load_mark at_start, at_end; /* valid once started / done */
	bool started;
	bool tree_cpu; /* the window's CPU is the target tree's (children followed), set by the user
			*/
};

/* A load command for sh -c command (borrowed: it must outlive the object). NULL with errno set;
 * free with load_command_free. A command naming $PORT or ${PORT} waits for the target's port. */
struct load_command *load_command_new(const char *command);
/* Whether command refers to the PORT variable ($PORT or ${PORT}). */
bool load_command_wants_port(const char *command);
/* Sets a counter read at both ends of the load window (before the session starts). */
void load_command_set_counter(struct load_command *lc, enum load_count which,
			      const struct load_counter *counter);
/* The counter's increase over the load window into *delta. false when there was no window or
 * the counter could not be read at one of its ends. */
bool load_command_count(const struct load_command *lc, enum load_count which, uint64_t *delta);
/* Ends a command still running (SIGTERM to its group, reaped), closes its files. NULL-safe. */
void load_command_free(struct load_command *lc);
/* Fills plug: start forks the command, poll reaps it and requests the session's stop, stop ends
 * it when the run ended first. */
void load_command_plug(struct load_command *lc, struct session_collector *plug);
/* Reads the last LOAD_TAIL_BYTES of its output into lc->tail. */
void load_command_read_tail(struct load_command *lc);
/* Operations the command reported in its output (NAN when none or unreadable). */
double load_command_ops(const struct load_command *lc);
/* Operations from a load tool's output read from fp (from its start): the sum of wrk and
 * demo_load "N requests in", redis-benchmark "N requests completed in" (one per test) and ab
 * "Complete requests: N". NAN when no line matches. */
double load_command_parse_ops(FILE *fp);

#endif

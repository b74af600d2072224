/* session.h: one profiling run of one target, shared by record, leaks and profile. Owns the target
 * model (PID or launched command held before exec, run control, the unwinder and symbolizer opened
 * once) and the one event loop that drives every collector plugged into it. A collector (CPU
 * samples, allocations, off-CPU time, resource timeline) is a set of callbacks; the session calls
 * them in a fixed order: attach (target not yet running its program), start (target exec'd,
 * models open), poll (records waiting), tick (every interval), stop (run over: stop and drain). */
#ifndef SMOLDER_SESSION_H
#define SMOLDER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smolder/cli.h"
#include "smolder/run_control.h"
#include "smolder/target.h"

struct session;
struct unwinder;
struct symbolizer;

#define SESSION_MAX_COLLECTORS 8

/* What a launched target's end looks like once the outputs are written. */
enum session_launch_end {
	SESSION_LAUNCH_WAIT, /* record: wait for CMD (forwarding signals), return its status */
	SESSION_LAUNCH_STOP, /* leaks, profile: the target lives as long as the run; end it */
};

/* The callbacks of one collector. Every callback may be NULL. Errors are logged by the collector;
 * attach returns a smolder exit code, the others 0 or -errno. */
struct session_collector {
	const char *name;
	void *ctx;
	/* Before the target runs: launch mode holds the child before exec (attach by path). */
	int (*attach)(void *ctx, struct session *session);
	/* Launch mode, the child released: waits (bounded) until it has exec'd, by events in order
	 * with the collector's records. -EOPNOTSUPP: the session waits on /proc/PID/exe instead. */
	int (*wait_exec)(void *ctx, struct session *session);
	/* The target runs its program and the shared models are open; t = 0 of the run. */
	int (*start)(void *ctx, struct session *session);
	/* An fd that is readable when records wait (epoll), or -1: then poll is the loop's wait. */
	int (*fd)(void *ctx);
	/* Consumes waiting records, waiting up to timeout_ms (0: do not wait). */
	int (*poll)(void *ctx, struct session *session, int timeout_ms);
	/* Every interval, t seconds into the run. */
	int (*tick)(void *ctx, struct session *session, double t);
	/* The run is over (t seconds): stop collecting, deliver what is queued. */
	int (*stop)(void *ctx, struct session *session, double t);
};

struct session_options {
	pid_t pid;	   /* -p (the first of pids); 0 when launching */
	const pid_t *pids; /* -p PID,PID,...: every one is checked and watched */
	size_t n_pids;
	char **launch_argv;   /* -- CMD ARGS..., or NULL */
	uint64_t duration_ns; /* 0 = until Ctrl-C or target exit */
	uint64_t interval_ns; /* tick period; 0 = 1 s */
	enum session_launch_end launch_end;
	/* No session-wide unwinder and symbolizer (record: the CPU collector keeps one model per
	 * process in its process_table); the leak collector needs them. */
	bool no_shared_models;
};

struct session {
	struct session_options opts;
	pid_t pid;
	bool launched;
	struct target_launch launch;
	struct run_control rc;
	bool rc_ready;
	struct unwinder *unwinder;     /* NULL when it could not be opened (leaf-only stacks) */
	struct symbolizer *symbolizer; /* NULL: frames are raw addresses */
	char comm[64];
	enum run_stop stop; /* why the run ended */
	double duration_s;  /* of the run, from start to stop */
	struct session_collector collectors[SESSION_MAX_COLLECTORS];
	size_t n_collectors;
	uint64_t last_map_refreshes;
	int epoll_fd;
	const char *stop_requested; /* session_request_stop's reason, or NULL */
};

/* The target, duration and interval of a collecting command's options (-p, -- CMD, -d, -i), with
 * what happens to a launched command at the end. The rest of *so is zeroed. */
void session_options_from_cli(struct session_options *so, const struct cli_options *opts,
			      enum session_launch_end launch_end);
/* Finds the target: checks -p PID, or forks the launch command held before exec. Returns a smolder
 * exit code (with a one-line error logged); s->pid is valid on success. */
int session_open(struct session *s, const struct session_options *opts);
/* Adds a collector (copied). Returns 0 or -ENOSPC. */
int session_add(struct session *s, const struct session_collector *collector);
/* Signals to the signalfd, collectors attached, the launched child released and exec'd, models
 * opened, collectors started. Returns a smolder exit code. */
int session_start(struct session *s);
/* The event loop, until -d, a signal or the target's exit; then every collector's stop. Returns a
 * smolder exit code. */
int session_run(struct session *s);
/* A collector ends the run (profile: the load command finished); reason is static text. The
 * loop stops at its next turn, stop is RUN_STOP_DURATION. */
void session_request_stop(struct session *s, const char *reason);
/* Seconds since the run started. */
double session_elapsed(const struct session *s);
/* After the outputs: ends or waits for a launched target per opts.launch_end. Returns code, or in
 * SESSION_LAUNCH_WAIT mode the command's status when code is SMOLDER_EXIT_OK. */
int session_finish(struct session *s, int code);
/* Releases everything the session owns; a launched child is never left behind (a held one exits,
 * a running one is ended). NULL-safe. */
void session_release(struct session *s);

#endif

/* run_control.h: when a recording run ends: -d elapsed, SIGINT/SIGTERM (taken through a signalfd so
 * a second Ctrl-C during the final flush cannot interrupt it), or the target's exit (pidfd). */
#ifndef SMOLDER_RUN_CONTROL_H
#define SMOLDER_RUN_CONTROL_H

#include <stdint.h>
#include <sys/types.h>

enum run_stop {
	RUN_CONTINUE = 0,
	RUN_STOP_DURATION,
	RUN_STOP_SIGNAL,
	RUN_STOP_TARGET_EXIT,
};

#define RUN_CONTROL_MAX_WATCHED 64

struct run_control {
	int signal_fd;
	int pidfd;
	int more_pidfds[RUN_CONTROL_MAX_WATCHED]; /* run_control_watch: the run ends when all exit
						   */
	size_t n_more;
	pid_t target_pid;
	uint64_t start_ns;    /* CLOCK_MONOTONIC */
	uint64_t deadline_ns; /* 0 = none */
	int last_signal;      /* the signal that stopped the run, for forwarding */
	enum run_stop reason;
};

/* Blocks SIGINT/SIGTERM (delivered to the signalfd), opens a pidfd for pid (0 = no target watch),
 * arms the deadline. Call before creating threads. Returns 0 or -errno. */
int run_control_init(struct run_control *rc, pid_t pid, uint64_t duration_ns);
/* Also waits for pid: with several, the run ends when every one has exited. A pid already gone
 * is ignored. 0 or -errno. */
int run_control_watch(struct run_control *rc, pid_t pid);
/* Non-blocking: the reason to stop now, or RUN_CONTINUE. Once a reason is returned it sticks. */
enum run_stop run_control_check(struct run_control *rc);
/* Sleeps up to timeout_ms or until a stop reason arrives; returns run_control_check(). */
enum run_stop run_control_wait(struct run_control *rc, int timeout_ms);
/* Seconds since init. */
double run_control_elapsed(const struct run_control *rc);
const char *run_control_reason_name(enum run_stop reason);
/* Closes fds and restores the signal mask. NULL-safe. */
void run_control_release(struct run_control *rc);

uint64_t run_control_now_ns(void);

#endif

/* run_control.c: one place that decides when a run ends. SIGINT/SIGTERM are blocked and read from a
 * signalfd, so they never interrupt the flush of outputs; the target's exit comes from a pidfd. */
#include "smolder/run_control.h"

#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t run_control_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int run_control_init(struct run_control *rc, pid_t pid, uint64_t duration_ns)
{
	sigset_t set;
	int err;

	memset(rc, 0, sizeof(*rc));
	rc->signal_fd = -1;
	rc->pidfd = -1;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -errno;
	rc->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (rc->signal_fd < 0) {
		err = -errno;
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		return err;
	}
	if (pid > 0) {
		rc->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (rc->pidfd < 0 && errno == ESRCH) {
			rc->reason = RUN_STOP_TARGET_EXIT;
		}
		/* Without pidfd (old kernels) target exit is noticed through kill(pid, 0). */
	}
	rc->target_pid = pid;
	rc->start_ns = run_control_now_ns();
	rc->deadline_ns = duration_ns ? rc->start_ns + duration_ns : 0;
	return 0;
}

static bool run_control_pidfd_gone(int pidfd)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	return poll(&pfd, 1, 0) > 0;
}

/* The run ends when every watched process has exited. */
static bool run_control_target_gone(struct run_control *rc)
{
	bool gone = false;

	if (rc->pidfd >= 0)
		gone = run_control_pidfd_gone(rc->pidfd);
	else if (rc->target_pid > 0)
		gone = kill(rc->target_pid, 0) != 0 && errno == ESRCH;
	for (size_t i = 0; gone && i < rc->n_more; i++)
		gone = run_control_pidfd_gone(rc->more_pidfds[i]);
	return gone;
}

int run_control_watch(struct run_control *rc, pid_t pid)
{
	int fd;

	if (rc->n_more == RUN_CONTROL_MAX_WATCHED)
		return -E2BIG;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return errno == ESRCH ? 0 : -errno; /* gone already: nothing to wait for */
	rc->more_pidfds[rc->n_more++] = fd;
	return 0;
}

enum run_stop run_control_check(struct run_control *rc)
{
	struct signalfd_siginfo si;

	if (rc->reason != RUN_CONTINUE)
		return rc->reason;
	if (rc->signal_fd >= 0 && read(rc->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		rc->last_signal = (int)si.ssi_signo;
		rc->reason = RUN_STOP_SIGNAL;
	} else if (run_control_target_gone(rc)) {
		rc->reason = RUN_STOP_TARGET_EXIT;
	} else if (rc->deadline_ns && run_control_now_ns() >= rc->deadline_ns) {
		rc->reason = RUN_STOP_DURATION;
	}
	return rc->reason;
}

enum run_stop run_control_wait(struct run_control *rc, int timeout_ms)
{
	struct pollfd pfds[2];
	int n = 0;

	if (run_control_check(rc) != RUN_CONTINUE)
		return rc->reason;
	if (rc->deadline_ns) {
		uint64_t now = run_control_now_ns();
		uint64_t left_ms =
			rc->deadline_ns > now ? (rc->deadline_ns - now) / 1000000 + 1 : 0;

		if (timeout_ms < 0 || (uint64_t)timeout_ms > left_ms)
			timeout_ms = (int)left_ms;
	}
	if (rc->signal_fd >= 0) {
		pfds[n].fd = rc->signal_fd;
		pfds[n++].events = POLLIN;
	}
	if (rc->pidfd >= 0) {
		pfds[n].fd = rc->pidfd;
		pfds[n++].events = POLLIN;
	} else if (rc->target_pid > 0 && (timeout_ms < 0 || timeout_ms > 200)) {
		timeout_ms = 200; /* poll kill(pid, 0) often enough */
	}
	if (rc->n_more && (timeout_ms < 0 || timeout_ms > 200)) {
		timeout_ms = 200; /* poll kill(pid, 0) often enough */
	}
	poll(pfds, (nfds_t)n, timeout_ms);
	return run_control_check(rc);
}

double run_control_elapsed(const struct run_control *rc)
{
	return (double)(run_control_now_ns() - rc->start_ns) / 1e9;
}

const char *run_control_reason_name(enum run_stop reason)
{
	switch (reason) {
	case RUN_STOP_DURATION:
		return "duration elapsed";
	case RUN_STOP_SIGNAL:
		return "interrupted";
	case RUN_STOP_TARGET_EXIT:
		return "target exited";
	default:
		return "running";
	}
}

void run_control_release(struct run_control *rc)
{
	sigset_t set;

	if (!rc)
		return;
	if (rc->signal_fd >= 0) {
		close(rc->signal_fd);
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		/* Signals that arrived during the flush were already consumed or stay pending: drop
		 * them rather than die after the outputs were written. */
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
	}
	if (rc->pidfd >= 0)
		close(rc->pidfd);
	for (size_t i = 0; i < rc->n_more; i++)
		close(rc->more_pidfds[i]);
	rc->n_more = 0;
	rc->signal_fd = -1;
	rc->pidfd = -1;
}

/* session.c: one run of one target for every collecting command: finds or launches the target,
 * attaches the collectors in the order launch mode needs (before exec), opens the unwinder and
 * symbolizer once for all of them, and runs the one event loop (ring buffers through epoll, the
 * interval tick, run control) until -d, Ctrl-C/SIGTERM or the target's exit. */
#include "smolder/session.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "smolder/log.h"
#include "smolder/symbolizer.h"
#include "smolder/unwinder.h"

#define SESSION_POLL_MS		  100
#define SESSION_SYMBOL_REFRESH_NS 1000000000ULL

void session_options_from_cli(struct session_options *so, const struct cli_options *opts,
			      enum session_launch_end launch_end)
{
	*so = (struct session_options){
		.pid = opts->pid,
		.pids = opts->pids,
		.n_pids = opts->n_pids,
		.launch_argv = opts->launch_argv,
		.duration_ns = opts->duration_ns,
		.interval_ns = opts->interval_ns,
		.launch_end = launch_end,
	};
}

int session_open(struct session *s, const struct session_options *opts)
{
	char err[512];
	int rc;

	memset(s, 0, sizeof(*s));
	s->opts = *opts;
	s->launch.release_fd = -1;
	s->launch.pidfd = -1;
	s->rc.signal_fd = -1;
	s->rc.pidfd = -1;
	s->epoll_fd = -1;
	if (!s->opts.interval_ns)
		s->opts.interval_ns = 1000000000ULL;
	if (!opts->launch_argv) {
		s->pid = opts->pid;
		for (size_t i = 0; i < (opts->n_pids ? opts->n_pids : 1); i++) {
			rc = target_check(opts->n_pids ? opts->pids[i] : s->pid, err, sizeof(err));
			if (rc != SMOLDER_EXIT_OK) {
				log_error("%s", err);
				return rc;
			}
		}
		return SMOLDER_EXIT_OK;
	}
	rc = target_launch_prepare(opts->launch_argv, &s->launch);
	if (rc < 0) {
		log_error("cannot run %s: %s", opts->launch_argv[0], strerror(-rc));
		return SMOLDER_EXIT_TARGET;
	}
	s->launched = true;
	s->pid = s->launch.pid;
	return SMOLDER_EXIT_OK;
}

int session_add(struct session *s, const struct session_collector *collector)
{
	if (s->n_collectors == SESSION_MAX_COLLECTORS)
		return -ENOSPC;
	s->collectors[s->n_collectors++] = *collector;
	return 0;
}

/* Launch mode: the child was released and is exec'ing. Waits (bounded) until /proc/PID/exe is no
 * longer smolder's own image, so the models read the new program's mappings. */
static void session_wait_for_exec(pid_t pid)
{
	char self[PATH_MAX], child[PATH_MAX], path[64];
	ssize_t n_self, n_child;

	n_self = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n_self < 0)
		return;
	self[n_self] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	for (int i = 0; i < 2000; i++) {
		n_child = readlink(path, child, sizeof(child) - 1);
		if (n_child < 0)
			return; /* exited (exec failed) or zombie */
		child[n_child] = '\0';
		if (strcmp(child, self) != 0)
			return;
		usleep(1000);
	}
}

/* An exec event from a collector says when the child has exec'd, also for a command whose binary
 * is smolder's own (same /proc/PID/exe); without one, the path is watched. */
static void session_wait_exec(struct session *s)
{
	for (size_t i = 0; i < s->n_collectors; i++) {
		struct session_collector *c = &s->collectors[i];

		if (c->wait_exec && c->wait_exec(c->ctx, s) == 0)
			return;
	}
	session_wait_for_exec(s->pid);
}

/* The unwinder and symbolizer, once for every collector. Failures degrade the outputs (raw
 * addresses, leaf-only stacks); they do not end the run. */
static void session_open_models(struct session *s)
{
	char why[256];

	if (s->opts.no_shared_models) {
		if (target_files_check(s->pid, why, sizeof(why)) != 0)
			log_warn(
				"%s: cannot read its files (/proc/%d/root), so stacks will stop at "
				"their first frame and frames will be addresses, not names",
				why, s->pid);
		if (target_comm(s->pid, s->comm, sizeof(s->comm)) != 0)
			snprintf(s->comm, sizeof(s->comm), "%d", s->pid);
		return;
	}
	/* Launch mode made it before exec: read the program's maps now, before a short-lived target
	 * is gone (its last maps are kept for the records still queued). */
	if (s->unwinder)
		unwinder_refresh_maps(s->unwinder);
	else
		s->unwinder = unwinder_new(s->pid);
	/* Sampling works without it, but every stack would stop at its leaf, unnamed: say so once,
	 * loudly, naming the missing right (not only at -v). */
	if (target_files_check(s->pid, why, sizeof(why)) != 0)
		log_warn("%s: cannot read its files (/proc/%d/root), so stacks will stop at their "
			 "first frame and frames will be addresses, not names",
			 why, s->pid);
	if (!s->unwinder)
		log_warn("unwinder for PID %d: %s; stacks will hold their leaf only", s->pid,
			 strerror(errno));
	s->symbolizer = symbolizer_new(s->pid);
	if (!s->symbolizer)
		log_warn("symbolizer for PID %d: %s; frames will be raw addresses", s->pid,
			 strerror(errno));
	if (target_comm(s->pid, s->comm, sizeof(s->comm)) != 0)
		snprintf(s->comm, sizeof(s->comm), "%d", s->pid);
}

static int session_epoll_add(struct session *s, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	if (fd < 0)
		return 0;
	return epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

int session_start(struct session *s)
{
	int rc;

	rc = run_control_init(&s->rc, s->pid, s->opts.duration_ns);
	if (rc < 0) {
		log_error("signal handling setup: %s", strerror(-rc));
		return SMOLDER_EXIT_INTERNAL;
	}
	s->rc_ready = true;
	/* With a -p list the run lasts until every listed process has exited. */
	for (size_t i = 1; !s->launched && i < s->opts.n_pids; i++) {
		rc = run_control_watch(&s->rc, s->opts.pids[i]);
		if (rc < 0) {
			log_error("watching PID %d: %s", (int)s->opts.pids[i], strerror(-rc));
			return SMOLDER_EXIT_INTERNAL;
		}
	}
	/* The unwinder exists before any probe fires: the allocation tracker's first stack-learning
	 * snapshots need it. Launch mode: a target may exec, allocate and exit within a
	 * millisecond; its maps are read again right after exec (session_open_models). */
	if (!s->opts.no_shared_models)
		s->unwinder = unwinder_new(s->pid);
	for (size_t i = 0; i < s->n_collectors; i++) {
		struct session_collector *c = &s->collectors[i];

		if (c->attach && (rc = c->attach(c->ctx, s)) != SMOLDER_EXIT_OK)
			return rc;
	}
	if (s->launched) {
		if (target_launch_release(&s->launch) < 0) {
			log_error("cannot start %s: the child went away", s->opts.launch_argv[0]);
			return SMOLDER_EXIT_TARGET;
		}
		session_wait_exec(s);
	} else if (kill(s->pid, 0) != 0 && errno == ESRCH) {
		log_error("PID %d exited before smolder could attach", s->pid);
		return SMOLDER_EXIT_TARGET;
	}
	session_open_models(s);

	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epoll_fd < 0) {
		log_error("epoll: %s", strerror(errno));
		return SMOLDER_EXIT_INTERNAL;
	}
	/* Ctrl-C and the target's exit wake the loop at once, not at the next timeout. */
	if (session_epoll_add(s, s->rc.signal_fd) || session_epoll_add(s, s->rc.pidfd)) {
		log_error("epoll: %s", strerror(errno));
		return SMOLDER_EXIT_INTERNAL;
	}
	/* t = 0 is when every collector is in place: -d counts profiling time, not set-up time. */
	s->rc.start_ns = run_control_now_ns();
	if (s->opts.duration_ns)
		s->rc.deadline_ns = s->rc.start_ns + s->opts.duration_ns;
	for (size_t i = 0; i < s->n_collectors; i++) {
		struct session_collector *c = &s->collectors[i];

		if (c->start && (rc = c->start(c->ctx, s)) < 0) {
			log_error("starting %s: %s", c->name, strerror(-rc));
			return SMOLDER_EXIT_INTERNAL;
		}
		if (c->fd && (rc = session_epoll_add(s, c->fd(c->ctx))) < 0) {
			log_error("epoll: %s", strerror(-rc));
			return SMOLDER_EXIT_INTERNAL;
		}
	}
	return SMOLDER_EXIT_OK;
}

/* The unwinder noticed new mappings (dlopen, exec): let the symbolizer open them while the target
 * is alive. */
static void session_refresh_symbols(struct session *s)
{
	struct unwinder_stats st;

	if (!s->unwinder || !s->symbolizer)
		return;
	unwinder_get_stats(s->unwinder, &st);
	if (st.map_refreshes != s->last_map_refreshes) {
		s->last_map_refreshes = st.map_refreshes;
		symbolizer_refresh(s->symbolizer);
	}
}

/* The collector whose poll is the loop's wait (no fd to watch: the ptrace sampler), or -1. */
static int session_blocking_collector(const struct session *s)
{
	for (size_t i = 0; i < s->n_collectors; i++) {
		const struct session_collector *c = &s->collectors[i];

		if (c->poll && (!c->fd || c->fd(c->ctx) < 0))
			return (int)i;
	}
	return -1;
}

static int session_wait(struct session *s, int blocking, int timeout_ms)
{
	struct epoll_event events[8];
	int rc = 0;

	if (blocking >= 0) {
		struct session_collector *c = &s->collectors[blocking];

		rc = c->poll(c->ctx, s, timeout_ms);
	} else if (epoll_wait(s->epoll_fd, events, 8, timeout_ms) < 0 && errno != EINTR) {
		rc = -errno;
	}
	for (size_t i = 0; rc == 0 && i < s->n_collectors; i++) {
		struct session_collector *c = &s->collectors[i];
		int n;

		if (!c->poll || (int)i == blocking)
			continue;
		n = c->poll(c->ctx, s, 0);
		if (n < 0)
			rc = n;
	}
	return rc < 0 ? rc : 0;
}

int session_run(struct session *s)
{
	uint64_t interval = s->opts.interval_ns, next = s->rc.start_ns + interval;
	uint64_t next_symbols = s->rc.start_ns + SESSION_SYMBOL_REFRESH_NS;
	int blocking = session_blocking_collector(s), code = SMOLDER_EXIT_OK, rc;
	double t;

	while (!s->stop_requested && run_control_check(&s->rc) == RUN_CONTINUE) {
		uint64_t now = run_control_now_ns(), wait_ns;

		if (now >= next) {
			t = (double)(now - s->rc.start_ns) / 1e9;
			for (size_t i = 0; i < s->n_collectors; i++) {
				struct session_collector *c = &s->collectors[i];

				if (c->tick && (rc = c->tick(c->ctx, s, t)) < 0) {
					log_error("%s: %s", c->name, strerror(-rc));
					code = SMOLDER_EXIT_INTERNAL;
				}
			}
			next += interval;
			if (next <= now)
				next = now + interval;
			if (code != SMOLDER_EXIT_OK)
				break;
			continue;
		}
		wait_ns = next - now;
		if (s->rc.deadline_ns && s->rc.deadline_ns > now &&
		    s->rc.deadline_ns - now < wait_ns)
			wait_ns = s->rc.deadline_ns - now;
		rc = session_wait(s, blocking,
				  wait_ns / 1000000 + 1 < SESSION_POLL_MS
					  ? (int)(wait_ns / 1000000 + 1)
					  : SESSION_POLL_MS);
		if (rc < 0) {
			log_error("reading events: %s", strerror(-rc));
			code = SMOLDER_EXIT_INTERNAL;
			break;
		}
		session_refresh_symbols(s);
		if (s->symbolizer && run_control_now_ns() >= next_symbols) {
			next_symbols = run_control_now_ns() + SESSION_SYMBOL_REFRESH_NS;
			symbolizer_refresh(s->symbolizer);
		}
	}
	s->stop = s->rc.reason != RUN_CONTINUE ? s->rc.reason
		  : s->stop_requested	       ? RUN_STOP_DURATION
					       : RUN_STOP_SIGNAL;
	/* Late mappings seen by the unwinder while the target may still be alive. */
	if (s->symbolizer)
		symbolizer_refresh(s->symbolizer);
	if (s->stop == RUN_STOP_SIGNAL && s->launched && s->opts.launch_end == SESSION_LAUNCH_WAIT)
		target_launch_signal(&s->launch, s->rc.last_signal);
	s->duration_s = session_elapsed(s);
	/* A failure above still lets every collector deliver what it has: outputs are written. */
	for (size_t i = 0; i < s->n_collectors; i++) {
		struct session_collector *c = &s->collectors[i];

		if (c->stop && (rc = c->stop(c->ctx, s, s->duration_s)) < 0) {
			log_warn("%s: draining the last events failed: %s", c->name, strerror(-rc));
		}
	}
	return code;
}

void session_request_stop(struct session *s, const char *reason)
{
	s->stop_requested = reason;
}

double session_elapsed(const struct session *s)
{
	return run_control_elapsed(&s->rc);
}

/* SESSION_LAUNCH_WAIT, after the outputs are written: wait for CMD, forwarding SIGINT/SIGTERM. */
static void session_wait_child(struct session *s)
{
	for (;;) {
		struct pollfd pfds[2];
		struct signalfd_siginfo si;
		int n = 0;

		if (target_launch_wait(&s->launch, false) != 0)
			return; /* reaped, or an error: nothing more to wait for */
		if (s->rc.signal_fd >= 0) {
			pfds[n].fd = s->rc.signal_fd;
			pfds[n++].events = POLLIN;
		}
		if (s->launch.pidfd >= 0) {
			pfds[n].fd = s->launch.pidfd;
			pfds[n++].events = POLLIN;
		}
		poll(pfds, (nfds_t)n, n == 0 || s->launch.pidfd < 0 ? 100 : -1);
		if (s->rc.signal_fd >= 0 &&
		    read(s->rc.signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			target_launch_signal(&s->launch, (int)si.ssi_signo);
	}
}

int session_finish(struct session *s, int code)
{
	int child_code;

	if (!s->launched)
		return code;
	if (s->opts.launch_end == SESSION_LAUNCH_WAIT) {
		session_wait_child(s);
		child_code = target_launch_exit_code(&s->launch);
		/* CMD's status is the answer, unless smolder itself failed to write. */
		return code == SMOLDER_EXIT_OK ? child_code : code;
	}
	/* The target lives as long as the run: -d or a signal ends it too. */
	if (s->stop != RUN_STOP_TARGET_EXIT)
		target_launch_signal(&s->launch, s->stop == RUN_STOP_SIGNAL && s->rc.last_signal
							 ? s->rc.last_signal
							 : SIGTERM);
	target_launch_wait(&s->launch, true);
	return code;
}

void session_release(struct session *s)
{
	if (!s)
		return;
	if (s->launched && !s->launch.reaped) {
		/* Never leave a child behind: a held one exits when its release pipe closes, a
		 * released one is ended. */
		if (s->launch.release_fd < 0)
			target_launch_signal(&s->launch, SIGTERM);
		target_launch_wait(&s->launch, true);
	}
	if (s->launch.pidfd >= 0)
		close(s->launch.pidfd);
	s->launch.pidfd = -1;
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	s->epoll_fd = -1;
	if (s->rc_ready)
		run_control_release(&s->rc);
	s->rc_ready = false;
	symbolizer_free(s->symbolizer);
	s->symbolizer = NULL;
	unwinder_free(s->unwinder);
	s->unwinder = NULL;
}

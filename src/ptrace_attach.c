/* ptrace_attach.c: owns the instant during which a target's threads are ptrace-stopped: seizing,
 * interrupting, waiting, reading registers and stack, detaching — and the guarantee that smolder
 * never leaves a target stopped or traced.
 *
 * Why PTRACE_SEIZE + PTRACE_INTERRUPT and not PTRACE_ATTACH: ATTACH stops with a SIGSTOP that is
 * indistinguishable from a real one and can clobber the target's job-control state; an interrupt
 * stop is a pure ptrace stop. When the tracer dies (even by SIGKILL) the kernel unlinks its tracees
 * (exit_ptrace -> __ptrace_unlink), which wakes every thread from its interrupt stop and reinstates
 * a group stop that was in effect, so the only state smolder itself must repair is a signal the
 * thread stopped on: that one is handed back on PTRACE_DETACH. The signal handler installed by
 * ptrace_guard_install detaches explicitly for that reason. */
#include "smolder/ptrace_attach.h"
#include "smolder/target.h"

#include "smolder/cli.h"
#include "smolder/log.h"
#include "smolder/proc_maps.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PTRACE_CAP_SYS_PTRACE  19
#define PTRACE_MAX_SCAN_ROUNDS 64

/* The session whose threads are stopped right now, for the signal handler; NULL otherwise. */
static struct ptrace_session *volatile ptrace_guarded_session;

static uint64_t ptrace_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int ptrace_errorf(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int ptrace_errorf(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Value of "Key:\t..." from a /proc status file as a long; -ENOENT when absent. */
static int ptrace_status_field(const char *status, const char *key, long *value)
{
	size_t klen = strlen(key);
	const char *p = status;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			*value = strtol(p + klen + 1, NULL, 10);
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ENOENT;
}

int ptrace_tracer_pid(pid_t pid, pid_t tid)
{
	char path[64], buf[4096];
	ssize_t n;
	long value;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	n = target_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (ptrace_status_field(buf, "TracerPid", &value))
		return -EINVAL;
	return (int)value;
}

static bool ptrace_have_cap_sys_ptrace(void)
{
	char buf[4096];
	const char *p;
	unsigned long long caps;

	if (target_read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return false;
	p = strstr(buf, "\nCapEff:");
	if (!p)
		return false;
	caps = strtoull(p + 8, NULL, 16);
	return (caps >> PTRACE_CAP_SYS_PTRACE) & 1;
}

int ptrace_denial_probe(pid_t pid, struct ptrace_denial *d)
{
	static char comm[64];
	char path[64], buf[4096];
	unsigned int ruid = 0, euid = 0;
	const char *uid_line;
	struct stat st;
	ssize_t n;
	int tracer;

	memset(d, 0, sizeof(*d));
	d->yama_scope = -1;
	d->dumpable = true;
	tracer = ptrace_tracer_pid(pid, 0);
	if (tracer < 0)
		return tracer;
	d->tracer_pid = tracer;
	if (tracer > 0) {
		snprintf(path, sizeof(path), "/proc/%d/comm", tracer);
		if (target_read_file(path, comm, sizeof(comm)) > 0) {
			comm[strcspn(comm, "\n")] = '\0';
			d->tracer_comm = comm;
		}
	}
	if (target_read_file("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf)) > 0)
		d->yama_scope = atoi(buf);
	d->have_cap_sys_ptrace = ptrace_have_cap_sys_ptrace();

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	n = target_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	uid_line = strstr(buf, "\nUid:");
	if (uid_line)
		sscanf(uid_line + 5, "%u %u", &ruid, &euid);
	d->same_uid = ruid == getuid() && euid == getuid();
	/* A non-dumpable process (setuid, PR_SET_DUMPABLE 0) has its /proc files owned by root. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (stat(path, &st) == 0 && st.st_uid != euid)
		d->dumpable = false;
	return 0;
}

int ptrace_denial_explain(const struct ptrace_denial *d, char *err, size_t errlen)
{
	if (d->tracer_pid > 0)
		return ptrace_errorf(
			err, errlen, SMOLDER_EXIT_PRIVILEGE,
			"target is already traced by PID %d (%s); a process can have only "
			"one tracer: detach that debugger/tracer first",
			(int)d->tracer_pid, d->tracer_comm ? d->tracer_comm : "?");
	if (d->yama_scope >= 3)
		return ptrace_errorf(
			err, errlen, SMOLDER_EXIT_PRIVILEGE,
			"ptrace is disabled by sysctl kernel.yama.ptrace_scope=3 (can only "
			"be lowered by a reboot)");
	if (d->yama_scope == 2 && !d->have_cap_sys_ptrace)
		return ptrace_errorf(err, errlen, SMOLDER_EXIT_PRIVILEGE,
				     "sysctl kernel.yama.ptrace_scope=2 allows ptrace only with "
				     "CAP_SYS_PTRACE: run as root");
	if (!d->same_uid && !d->have_cap_sys_ptrace)
		return ptrace_errorf(
			err, errlen, SMOLDER_EXIT_PRIVILEGE,
			"target runs as another user: tracing it needs CAP_SYS_PTRACE");
	if (!d->dumpable && !d->have_cap_sys_ptrace)
		return ptrace_errorf(err, errlen, SMOLDER_EXIT_PRIVILEGE,
				     "target is not dumpable (setuid or prctl PR_SET_DUMPABLE=0): "
				     "tracing it needs CAP_SYS_PTRACE");
	if (d->yama_scope == 1 && !d->have_cap_sys_ptrace)
		return ptrace_errorf(
			err, errlen, SMOLDER_EXIT_PRIVILEGE,
			"sysctl kernel.yama.ptrace_scope=1 allows tracing only descendants: "
			"run with CAP_SYS_PTRACE or set kernel.yama.ptrace_scope=0");
	return 0;
}

int ptrace_attach_check(pid_t pid, char *err, size_t errlen)
{
	struct ptrace_denial d;
	int ret = ptrace_denial_probe(pid, &d);

	if (ret == -ESRCH || ret == -ENOENT)
		return ptrace_errorf(err, errlen, SMOLDER_EXIT_TARGET, "no process with PID %d",
				     (int)pid);
	if (ret < 0)
		return ptrace_errorf(err, errlen, SMOLDER_EXIT_PRIVILEGE,
				     "cannot inspect PID %d: %s", (int)pid, strerror(-ret));
	/* Yama scope 1 forbids only non-descendants; we cannot know about PR_SET_PTRACER grants, so
	 * scope 1 is judged by the attach itself, and only explained when it fails. */
	if (d.yama_scope == 1)
		d.yama_scope = 0;
	return ptrace_denial_explain(&d, err, errlen);
}

void ptrace_session_init(struct ptrace_session *s, pid_t pid)
{
	const char *pause = getenv("SMOLDER_TEST_PAUSE_STOPPED_MS");

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->mem_fd = -1;
	if (pause)
		s->pause_ms = (uint32_t)strtoul(pause, NULL, 10);
}

static pid_t ptrace_parent_pid(pid_t pid)
{
	char path[64], buf[512], *close_paren;
	int ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (target_read_file(path, buf, sizeof(buf)) < 0)
		return 0;
	close_paren = strrchr(buf, ')');
	if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1)
		return 0;
	return (pid_t)ppid;
}

static struct ptrace_thread *ptrace_session_find(struct ptrace_session *s, pid_t tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->threads[i].tid == tid)
			return &s->threads[i];
	return NULL;
}

static struct ptrace_thread *ptrace_session_add(struct ptrace_session *s, pid_t tid)
{
	struct ptrace_thread *t;

	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct ptrace_thread *nt = realloc(s->threads, ncap * sizeof(*nt));

		if (!nt)
			return NULL;
		s->threads = nt;
		s->cap = ncap;
	}
	t = &s->threads[s->n++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	return t;
}

/* Drops entries of a previous stop, keeping threads still seized (they did not stop in time). */
static void ptrace_session_compact(struct ptrace_session *s)
{
	size_t j = 0;

	for (size_t i = 0; i < s->n; i++)
		if (s->threads[i].seized)
			s->threads[j++] = s->threads[i];
	s->n = j;
}

/* Takes one waitpid status for t. */
static void ptrace_thread_on_status(struct ptrace_session *s, struct ptrace_thread *t, int status)
{
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		/* A dead tracee is unlinked by the kernel: nothing to detach. */
		t->gone = true;
		t->seized = false;
		s->n_vanished++;
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	/* event 0 is a signal-delivery-stop: the signal must be handed back at detach. Any event
	 * stop (PTRACE_EVENT_STOP for our interrupt or a group stop) carries no signal to
	 * re-inject. */
	if ((status >> 16) == 0)
		t->pending_signal = WSTOPSIG(status);
	t->stopped = true;
	if (ptrace(PTRACE_GETREGS, t->tid, NULL, &t->regs) == 0) {
		t->regs_valid = true;
	} else if (errno == ESRCH) {
		/* Killed while stopped (SIGKILL needs no tracer's consent). */
		t->gone = true;
		t->stopped = false;
		s->n_vanished++;
	}
}

/* waitpid(tid, WNOHANG) that never reaps the exit of a thread-group leader that is smolder's own
 * child (launch mode): that status belongs to the launch code. Returns tid with *status, 0 when
 * nothing is pending, -1 with errno. A leader left unreaped is reported as exited with status 0. */
static pid_t ptrace_wait_thread(struct ptrace_session *s, pid_t tid, int *status)
{
	if (tid == s->pid && s->target_is_child) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)tid, &si, WEXITED | WSTOPPED | __WALL | WNOHANG | WNOWAIT) <
		    0)
			return -1;
		if (si.si_pid != tid)
			return 0;
		if (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED ||
		    si.si_code == CLD_DUMPED) {
			*status = 0; /* WIFEXITED */
			return tid;
		}
	}
	return waitpid(tid, status, __WALL | WNOHANG);
}

/* A thread whose detach failed with ESRCH was killed while stopped and is exiting; as its tracer we
 * must reap it, or its thread group can never finish dying. Bounded: 100 ms. */
static void ptrace_reap_dying(struct ptrace_session *s, struct ptrace_thread *t)
{
	uint64_t deadline = ptrace_now_ns() + 100000000ull;
	struct timespec pause = {0, 200000};

	while (ptrace_now_ns() < deadline) {
		int status;
		pid_t r = ptrace_wait_thread(s, t->tid, &status);

		if (r < 0 || (r == t->tid && (WIFEXITED(status) || WIFSIGNALED(status))))
			return;
		nanosleep(&pause, NULL);
	}
}

static bool ptrace_thread_waiting(const struct ptrace_thread *t)
{
	return t->seized && !t->stopped && !t->gone;
}

/* Waits until every seized thread has stopped or died, or the deadline passes. SIGCHLD is blocked
 * by the caller, so a stop notification arriving between the poll and the sleep is not lost. */
static void ptrace_session_wait(struct ptrace_session *s, uint64_t deadline_ns)
{
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		size_t waiting = 0;
		uint64_t now;
		struct timespec ts;

		for (size_t i = 0; i < s->n; i++) {
			struct ptrace_thread *t = &s->threads[i];
			int status;
			pid_t r;

			if (!ptrace_thread_waiting(t))
				continue;
			r = ptrace_wait_thread(s, t->tid, &status);
			if (r == t->tid)
				ptrace_thread_on_status(s, t, status);
			else if (r < 0 && errno == ECHILD) {
				t->gone = true;
				t->seized = false;
				s->n_vanished++;
			}
			if (ptrace_thread_waiting(t))
				waiting++;
		}
		if (!waiting)
			return;
		now = ptrace_now_ns();
		if (now >= deadline_ns)
			return;
		/* Sleep until a child notification, at most 1 ms: a bounded poll keeps us correct
		 * even if the notification went to another of our threads. */
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(deadline_ns - now < 1000000 ? deadline_ns - now : 1000000);
		sigtimedwait(&chld, NULL, &ts);
	}
}

/* Lists /proc/PID/task and seizes + interrupts every thread not yet known. Returns the number of
 * new threads seized, or a negative errno (-EPERM from the first seize, -ESRCH: process gone). */
static int ptrace_session_scan(struct ptrace_session *s, enum ptrace_stop_mode mode)
{
	char path[64];
	DIR *dir;
	struct dirent *de;
	int added = 0, first_error = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)s->pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((de = readdir(dir))) {
		pid_t tid = (pid_t)atoi(de->d_name);
		struct ptrace_thread *t;
		int state;

		if (tid <= 0 || ptrace_session_find(s, tid))
			continue;
		state = target_task_state(s->pid, tid);
		/* Zombies and dying tasks never stop: waiting for them would only hit the timeout.
		 */
		if (state < 0 || state == 'Z' || state == 'X') {
			continue;
		}
		if (mode == PTRACE_STOP_RUNNING && state != 'R')
			continue;
		t = ptrace_session_add(s, tid);
		if (!t) {
			first_error = -ENOMEM;
			break;
		}
		if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0) {
			int e = errno;

			t->gone = true;
			if (e == ESRCH) {
				s->n_vanished++;
				continue;
			}
			if (!first_error)
				first_error = -e;
			continue;
		}
		t->seized = true;
		if (!s->stop_begin_ns)
			s->stop_begin_ns = ptrace_now_ns();
		if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0 && errno == ESRCH) {
			/* Died between seize and interrupt; its exit status is reaped in wait. */
		}
		added++;
	}
	closedir(dir);
	if (first_error && !added)
		return first_error;
	if (first_error == -ENOMEM)
		return first_error;
	return added;
}

static void ptrace_guard_register(struct ptrace_session *s)
{
	ptrace_guarded_session = s;
}

int ptrace_session_stop(struct ptrace_session *s, enum ptrace_stop_mode mode, int timeout_ms,
			char *err, size_t errlen)
{
	uint64_t deadline;
	sigset_t chld;
	size_t stopped = 0;
	int state, ret, rounds = 0;

	ptrace_session_compact(s);
	s->n_vanished = 0;
	s->n_not_stopped = 0;
	s->stop_begin_ns = 0;
	s->stop_end_ns = 0;

	state = target_task_state(s->pid, s->pid);
	if (state == -ENOENT || state == -ESRCH || state == 'Z' || state == 'X')
		return ptrace_errorf(err, errlen, SMOLDER_EXIT_TARGET, "process %d is gone",
				     (int)s->pid);
	s->target_was_stopped = state == 'T';
	s->target_is_child = ptrace_parent_pid(s->pid) == getpid();
	if (s->mem_fd < 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/mem", (int)s->pid);
		/* Opened after the seize would race nothing: access is checked per read against our
		 * ptrace relationship (PTRACE_MODE_ATTACH), which holds while threads are stopped.
		 */
		s->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	}

	/* Stop notifications arrive as SIGCHLD; blocked, they wake sigtimedwait instead of being
	 * discarded (SIGCHLD's default action is to ignore). */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (!s->mask_saved && pthread_sigmask(SIG_BLOCK, &chld, &s->saved_mask) == 0)
		s->mask_saved = true;
	ptrace_guard_register(s);
	deadline = ptrace_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		ret = ptrace_session_scan(s, mode);
		if (ret < 0)
			goto err_detach;
		ptrace_session_wait(s, deadline);
		/* Stopped threads cannot clone; one more scan that finds nothing new proves every
		 * thread is held. Sampling mode takes one pass: it wants the threads on CPU now. */
		if (mode == PTRACE_STOP_RUNNING || (ret == 0 && rounds > 0))
			break;
		if (++rounds >= PTRACE_MAX_SCAN_ROUNDS || ptrace_now_ns() >= deadline)
			break;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->threads[i].stopped)
			stopped++;
		else if (ptrace_thread_waiting(&s->threads[i]))
			s->n_not_stopped++;
	}
	if (s->n_not_stopped)
		log_warn("%zu thread(s) of %d did not stop within %d ms (uninterruptible sleep?)",
			 s->n_not_stopped, (int)s->pid, timeout_ms);
	if (mode == PTRACE_STOP_ALL && !stopped) {
		ret = -ESRCH;
		goto err_detach;
	}
	if (s->pause_ms) {
		struct timespec ts = {.tv_sec = s->pause_ms / 1000,
				      .tv_nsec = (long)(s->pause_ms % 1000) * 1000000};

		log_info("test hook: %zu thread(s) stopped, pausing %u ms", stopped, s->pause_ms);
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	return 0;

err_detach:
	ptrace_session_detach(s);
	if (ret == -EPERM) {
		struct ptrace_denial d;

		if (ptrace_denial_probe(s->pid, &d) == 0 && ptrace_denial_explain(&d, err, errlen))
			return SMOLDER_EXIT_PRIVILEGE;
		return ptrace_errorf(err, errlen, SMOLDER_EXIT_PRIVILEGE,
				     "ptrace of PID %d not permitted (needs CAP_SYS_PTRACE)",
				     (int)s->pid);
	}
	if (ret == -ESRCH)
		return ptrace_errorf(err, errlen, SMOLDER_EXIT_TARGET,
				     "process %d exited while smolder was attaching", (int)s->pid);
	return ptrace_errorf(err, errlen, SMOLDER_EXIT_INTERNAL, "ptrace of PID %d failed: %s",
			     (int)s->pid, strerror(-ret));
}

/* Finds the end of the mapping holding addr. The maps are cached across stops (re-reading them
 * every sample would cost more than the sample) and re-read when addr falls outside them. */
static int ptrace_stack_end(struct ptrace_session *s, uint64_t addr, uint64_t *end)
{
	const struct proc_map *m = s->maps_valid ? proc_maps_find(&s->maps, addr) : NULL;
	int ret;

	if (!m || !(m->perms & PROC_MAP_READ)) {
		proc_maps_release(&s->maps);
		s->maps_valid = false;
		ret = proc_maps_read(s->pid, &s->maps);
		if (ret < 0)
			return ret;
		s->maps_valid = true;
		m = proc_maps_find(&s->maps, addr);
	}
	if (!m || !(m->perms & PROC_MAP_READ))
		return -EFAULT;
	*end = m->end;
	return 0;
}

ssize_t ptrace_session_read_stack(struct ptrace_session *s, const struct ptrace_thread *t,
				  uint8_t *buf, size_t cap, bool *clipped)
{
	uint64_t sp, end = 0;
	size_t want, got = 0;
	int ret;

	*clipped = false;
	if (!t->regs_valid || s->mem_fd < 0)
		return -EINVAL;
	sp = t->regs.rsp;
	ret = ptrace_stack_end(s, sp, &end);
	if (ret == -EFAULT)
		return 0;
	if (ret < 0)
		return ret;
	want = end - sp;
	if (want > cap) {
		want = cap;
		*clipped = true;
	}
	while (got < want) {
		ssize_t n = pread(s->mem_fd, buf + got, want - got, (off_t)(sp + got));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (got)
				break;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int ptrace_session_detach(struct ptrace_session *s)
{
	int first = 0;

	for (size_t i = 0; i < s->n; i++) {
		struct ptrace_thread *t = &s->threads[i];
		int status;

		if (!t->seized)
			continue;
		if (!t->stopped) {
			/* It may have stopped since the wait gave up; only a stopped tracee can be
			 * detached. One still running is detached by the kernel when smolder exits,
			 * and retried by the next stop of this session. */
			pid_t r = ptrace_wait_thread(s, t->tid, &status);

			if (r == t->tid)
				ptrace_thread_on_status(s, t, status);
			if (!t->stopped)
				continue;
		}
		if (ptrace(PTRACE_DETACH, t->tid, NULL, (void *)(long)t->pending_signal) < 0) {
			if (errno == ESRCH)
				ptrace_reap_dying(s, t);
			else if (!first)
				first = -errno;
		}
		t->seized = false;
		t->stopped = false;
	}
	s->stop_end_ns = ptrace_now_ns();
	if (s->mask_saved) {
		pthread_sigmask(SIG_SETMASK, &s->saved_mask, NULL);
		s->mask_saved = false;
	}
	if (ptrace_guarded_session == s) {
		bool lingering = false;

		for (size_t i = 0; i < s->n; i++)
			lingering |= s->threads[i].seized;
		if (!lingering)
			ptrace_guarded_session = NULL;
	}
	return first;
}

void ptrace_session_release(struct ptrace_session *s)
{
	if (!s)
		return;
	ptrace_session_detach(s);
	if (ptrace_guarded_session == s)
		ptrace_guarded_session = NULL;
	free(s->threads);
	s->threads = NULL;
	s->n = s->cap = 0;
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	s->mem_fd = -1;
	proc_maps_release(&s->maps);
	s->maps_valid = false;
}

double ptrace_session_stopped_ms(const struct ptrace_session *s)
{
	if (!s->stop_begin_ns || s->stop_end_ns < s->stop_begin_ns)
		return 0.0;
	return (double)(s->stop_end_ns - s->stop_begin_ns) / 1e6;
}

/* Async-signal-safe: raw ptrace calls on the registered session, then the default action. */
static void ptrace_guard_handler(int sig)
{
	struct ptrace_session *s = ptrace_guarded_session;
	int saved_errno = errno;

	if (s) {
		for (size_t i = 0; i < s->n; i++) {
			struct ptrace_thread *t = &s->threads[i];

			if (t->seized && t->stopped)
				ptrace(PTRACE_DETACH, t->tid, NULL,
				       (void *)(long)t->pending_signal);
		}
		ptrace_guarded_session = NULL;
	}
	errno = saved_errno;
	signal(sig, SIG_DFL);
	raise(sig);
}

void ptrace_guard_install(void)
{
	static const int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV,
				      SIGBUS, SIGILL,  SIGFPE, SIGABRT, SIGPIPE};
	static bool installed;
	struct sigaction sa;

	if (installed)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ptrace_guard_handler;
	sigfillset(&sa.sa_mask);
	/* SA_RESETHAND: a fault inside the handler kills smolder (and the kernel detaches). */
	sa.sa_flags = SA_RESETHAND;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		struct sigaction old;

		/* Respect an inherited SIG_IGN (nohup) for the terminal signals. */
		if (sigaction(signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN &&
		    (signals[i] == SIGHUP || signals[i] == SIGINT || signals[i] == SIGPIPE))
			continue;
		sigaction(signals[i], &sa, NULL);
	}
	installed = true;
}

/* ptrace_attach.h: stopping every thread of a target with ptrace for an instant and letting it go
 * again: PTRACE_SEIZE + PTRACE_INTERRUPT of all threads (re-scanning /proc/PID/task until no new
 * thread appears), reading registers and stack bytes while stopped, and detaching on every path,
 * including fatal signals in smolder. Also explains why an attach was refused (another tracer,
 * Yama, ownership). Used by `dump` and by the ptrace sampling backend of `record`. */
#ifndef SMOLDER_PTRACE_ATTACH_H
#define SMOLDER_PTRACE_ATTACH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "smolder/proc_maps.h"

/* Per-thread state of one stop. */
struct ptrace_thread {
	pid_t tid;
	bool seized;	    /* we are its tracer */
	bool stopped;	    /* in a ptrace stop we caused, registers readable */
	bool gone;	    /* exited (or became a zombie) while we attached */
	bool regs_valid;    /* regs holds the user registers at the stop */
	int pending_signal; /* a signal it stopped on: handed back at detach so it is not lost */
	struct user_regs_struct regs;
};

/* What to stop. */
enum ptrace_stop_mode {
	PTRACE_STOP_ALL = 0, /* every thread (dump) */
	PTRACE_STOP_RUNNING =
		1, /* only threads in state R (CPU sampling: sleeping threads untouched) */
};

struct ptrace_session {
	pid_t pid;
	int mem_fd;	       /* /proc/PID/mem, opened at each stop */
	struct proc_maps maps; /* cached for finding stack ends; re-read on a miss */
	bool maps_valid;
	struct ptrace_thread *threads;
	size_t n, cap;
	bool target_is_child;	 /* smolder forked it: its exit status is not ours to reap here */
	bool target_was_stopped; /* the process was in group stop (Ctrl-Z) before we came */
	size_t n_vanished;	 /* threads that exited between listing and stopping */
	size_t n_not_stopped;	 /* threads that did not stop before the timeout (D state) */
	uint64_t stop_begin_ns;	 /* CLOCK_MONOTONIC: first PTRACE_INTERRUPT */
	uint64_t stop_end_ns;	 /* last detach */
	sigset_t saved_mask;	 /* signal mask before SIGCHLD was blocked for the stop */
	bool mask_saved;
	uint32_t pause_ms; /* test hook SMOLDER_TEST_PAUSE_STOPPED_MS: sleep while stopped */
};

/* Checks, without attaching, whether pid can be ptraced by us: not traced by someone else, not
 * forbidden by Yama. Returns 0, or a smolder exit code (SMOLDER_EXIT_PRIVILEGE, _TARGET) with a
 * one-line reason naming the cause in err. */
int ptrace_attach_check(pid_t pid, char *err, size_t errlen);

/* Inputs of the reason an attach got EPERM; split out so the wording is unit-testable. */
struct ptrace_denial {
	pid_t tracer_pid;	 /* TracerPid of the target, 0 if none */
	const char *tracer_comm; /* its name, may be NULL */
	int yama_scope;		 /* kernel.yama.ptrace_scope, -1 when Yama is absent */
	bool have_cap_sys_ptrace;
	bool same_uid; /* target's real/effective uids match ours */
	bool dumpable; /* target is dumpable (not setuid, no PR_SET_DUMPABLE 0) */
};
/* Writes the one-line reason for the denial into err. Returns SMOLDER_EXIT_PRIVILEGE, or 0 when
 * the inputs say nothing forbids the attach. */
int ptrace_denial_explain(const struct ptrace_denial *denial, char *err, size_t errlen);
/* Fills denial from /proc for pid. Returns 0 or -errno (-ESRCH when pid is gone). */
int ptrace_denial_probe(pid_t pid, struct ptrace_denial *denial);

/* Initialises an empty session for pid (no syscalls). */
void ptrace_session_init(struct ptrace_session *s, pid_t pid);
/* Stops the target's threads (mode) and reads their registers; returns with them stopped. Threads
 * that vanish meanwhile are counted, not errors. Returns 0; a smolder exit code with a reason in
 * err when the target cannot be traced (SMOLDER_EXIT_PRIVILEGE) or is gone (SMOLDER_EXIT_TARGET).
 * On error nothing stays attached. */
int ptrace_session_stop(struct ptrace_session *s, enum ptrace_stop_mode mode, int timeout_ms,
			char *err, size_t errlen);
/* Copies stack bytes of a stopped thread from its sp up to the end of the mapping holding sp,
 * at most cap bytes, into buf. *clipped is set when cap cut the copy short. Returns bytes copied
 * (0 when sp is not in a readable mapping) or -errno. */
ssize_t ptrace_session_read_stack(struct ptrace_session *s, const struct ptrace_thread *t,
				  uint8_t *buf, size_t cap, bool *clipped);
/* Detaches every thread we seized (handing back pending signals); a target that was stopped before
 * stays stopped (the kernel reinstates its group stop). Returns 0 or the first -errno other than
 * -ESRCH (a thread that died meanwhile is not an error). Idempotent. */
int ptrace_session_detach(struct ptrace_session *s);
/* Detaches and frees the thread array and fds; the struct itself is the caller's. NULL-safe. */
void ptrace_session_release(struct ptrace_session *s);
/* Milliseconds between the first interrupt and the last detach of the latest stop. */
double ptrace_session_stopped_ms(const struct ptrace_session *s);

/* Installs handlers for SIGINT, SIGTERM, SIGHUP, SIGQUIT and fatal signals (SIGSEGV, SIGBUS,
 * SIGILL, SIGFPE, SIGABRT) that detach the session's stopped threads before smolder dies. The
 * session is registered while threads are stopped; the handler is the one global of this module
 * because a signal handler can reach nothing else. Idempotent. */
void ptrace_guard_install(void);
/* TracerPid of /proc/PID/status (or of a task when tid != 0). Returns it (>= 0) or -errno. */
int ptrace_tracer_pid(pid_t pid, pid_t tid);

#endif

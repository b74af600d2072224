/* target.h: the process being profiled: checks before attach (exists, not a kernel thread, not a
 * zombie), its name and memory, and launch mode (fork, hold before exec until probes are attached).
 */
#ifndef SMOLDER_TARGET_H
#define SMOLDER_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Checks pid can be profiled. Returns 0, or a smolder exit code (SMOLDER_EXIT_TARGET, ...) with a
 * one-line reason in err. A thread id that is not its process's id is refused (exit 1) with the
 * process id to use: smolder attaches to processes. */
int target_check(pid_t pid, char *err, size_t errlen);

/* Reads a small file (procfs) into buf, NUL-terminated, at most len - 1 bytes. Returns the length
 * or -errno. */
int target_read_file(const char *path, char *buf, size_t len);
/* Capability numbers smolder's messages name (linux/capability.h). */
#define TARGET_CAP_SYS_PTRACE 19
#define TARGET_CAP_SYS_ADMIN  21
#define TARGET_CAP_PERFMON    38
#define TARGET_CAP_BPF	      39

/* Whether smolder itself has capability cap in its effective set (/proc/self/status). */
bool target_self_capable(int cap);
/* Checks smolder may read the target's mapped files through /proc/PID/root (ptrace read access).
 * Returns 0, or -EACCES/-EPERM with a one-line reason in why naming the right that is missing
 * (other uid, capabilities the target holds, not dumpable, or a refusal despite CAP_SYS_PTRACE);
 * capabilities smolder already has are never named. */
int target_files_check(pid_t pid, char *why, size_t len);
/* The thread group (process) id of a task, from /proc/TID/status; -1 when unreadable. */
pid_t target_tgid(pid_t tid);
/* The one-letter state of a task from /proc/PID/task/TID/stat. Returns the letter or -errno. */
int target_task_state(pid_t pid, pid_t tid);
/* CPU seconds (user + system, all threads, from /proc/PID/stat; 1/CLK_TCK resolution) the process
 * has used so far; a zombie not yet reaped still reports its total. Returns 0 or -errno. */
int target_cpu_seconds(pid_t pid, double *seconds);
/* CPU seconds of roots[0..n_roots); with children, of their whole tree: every living descendant
 * and the exited processes the tree reaped (a worker pool's CPU, not only its master's). 0 or
 * -errno (a root unreadable). */
int target_tree_cpu_seconds(const pid_t *roots, size_t n_roots, bool children, double *seconds);
/* The process name (comm) into buf. Returns 0 or -errno. */
int target_comm(pid_t pid, char *buf, size_t len);
/* A thread's name (comm of /proc/PID/task/TID). Returns 0 or -errno. */
int target_thread_name(pid_t pid, pid_t tid, char *buf, size_t len);

/* Every living descendant of roots[0..n_roots) (children, their children, ...), read from the
 * ppid fields of /proc. *out (free with free) gets n_out pids, roots excluded. 0 or -errno. */
int target_descendants(const pid_t *roots, size_t n_roots, pid_t **out, size_t *n_out);

struct target_memory {
	uint64_t rss_bytes;  /* VmRSS */
	uint64_t anon_bytes; /* RssAnon */
};
/* Reads /proc/PID/status memory figures. Returns 0 or -errno. */
int target_memory(pid_t pid, struct target_memory *mem);

/* Launch mode: the child is forked and waits before exec until target_launch_release(). */
struct target_launch {
	pid_t pid;
	int release_fd; /* write end of the pipe the child waits on; -1 once released */
	int pidfd;	/* for exit notification; -1 if pidfd_open is unavailable */
	bool reaped;
	int wait_status; /* valid once reaped */
};
/* execvp's search for command: with a '/' the file itself, otherwise the first executable in
 * PATH; the resolved path goes to out (PATH_MAX bytes). Returns 0, -ENOENT or -EACCES. */
int target_find_program(const char *command, char *out);
/* Forks argv[0] (PATH search) held before exec. Returns 0, or -errno (-ENOENT, -EACCES: the
 * command cannot run; nothing was forked). */
int target_launch_prepare(char **argv, struct target_launch *launch);
/* Lets the child exec. Returns 0 or -errno; -ENOEXEC style failures surface as exit status 127. */
int target_launch_release(struct target_launch *launch);
/* Sends sig to the launched child (forwarding Ctrl-C / SIGTERM). */
int target_launch_signal(struct target_launch *launch, int sig);
/* How long a blocking target_launch_wait waits before SIGKILL, and after it before giving up. */
#define TARGET_LAUNCH_GRACE_MS 5000
/* Waits for the child. block: until it exits, but at most TARGET_LAUNCH_GRACE_MS before killing
 * it (SIGKILL, with a warning) and as long again after that (-ETIMEDOUT: a child stuck in
 * uninterruptible sleep). Returns 1 when reaped, 0 if still running (block false), or -errno. */
int target_launch_wait(struct target_launch *launch, bool block);
/* The exit code smolder should return for the child's wait status (128+sig for signals). */
int target_launch_exit_code(const struct target_launch *launch);

#endif

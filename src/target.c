/* target.c: what smolder knows about the target process from /proc, and launch mode: the child is
 * forked and held on a pipe before exec, so probes are in place before its first instruction. */
#include "smolder/target.h"
#include "smolder/cli.h"
#include "smolder/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int target_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

int target_task_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512], *close_paren;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	n = target_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	/* comm may hold spaces and parentheses: the state follows the last ')'. */
	close_paren = strrchr(buf, ')');
	if (!close_paren || close_paren[1] != ' ' || !close_paren[2])
		return -EINVAL;
	return (unsigned char)close_paren[2];
}

pid_t target_tgid(pid_t tid)
{
	char path[64], buf[1024], *line;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (target_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	line = strstr(buf, "\nTgid:");
	return line ? (pid_t)atoi(line + 6) : -1;
}

static void target_ptrace_reason(pid_t pid, char *why, size_t len);

/* utime + stime of pid, plus cutime + cstime (its reaped children's totals) when reaped is set. */
static int target_stat_cpu(pid_t pid, bool reaped, double *seconds)
{
	unsigned long long utime, stime;
	long long cutime = 0, cstime = 0;
	char path[64], buf[1024], *close_paren;
	long ticks = sysconf(_SC_CLK_TCK);
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = target_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	/* After comm: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
	 * utime stime (fields 3..15). */
	close_paren = strrchr(buf, ')');
	if (!close_paren || ticks <= 0 ||
	    sscanf(close_paren + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &utime,
		   &stime, &cutime, &cstime) < 2)
		return -EINVAL;
	*seconds = (double)(utime + stime) / (double)ticks;
	if (reaped && cutime >= 0 && cstime >= 0)
		*seconds += (double)(cutime + cstime) / (double)ticks;
	return 0;
}

int target_cpu_seconds(pid_t pid, double *seconds)
{
	return target_stat_cpu(pid, false, seconds);
}

int target_tree_cpu_seconds(const pid_t *roots, size_t n_roots, bool children, double *seconds)
{
	pid_t *desc = NULL;
	size_t n_desc = 0;
	double sum = 0, one;
	int ret;

	*seconds = 0;
	/* Every root must be readable: a half sum would read as a drop in CPU. */
	for (size_t i = 0; i < n_roots; i++) {
		ret = target_stat_cpu(roots[i], children, &one);
		if (ret)
			return ret;
		sum += one;
	}
	if (children) {
		/* A process in the tree counts once: alive, by its own time; exited and reaped by
		 * a parent in the tree, in that parent's cutime/cstime. Descendants that vanish
		 * between the scan and the read are skipped (their reaper counts them next time).
		 */
		ret = target_descendants(roots, n_roots, &desc, &n_desc);
		if (ret)
			return ret;
		for (size_t i = 0; i < n_desc; i++)
			if (target_stat_cpu(desc[i], true, &one) == 0)
				sum += one;
		free(desc);
	}
	*seconds = sum;
	return 0;
}

int target_check(pid_t pid, char *err, size_t errlen)
{
	char path[64], buf[64];
	pid_t tgid;
	int n, state;

	if (pid <= 0) {
		snprintf(err, errlen, "invalid PID %d", (int)pid);
		return SMOLDER_EXIT_USAGE;
	}
	state = target_task_state(pid, pid);
	if (state == -ENOENT || state == -ESRCH) {
		snprintf(err, errlen, "no process with PID %d", (int)pid);
		return SMOLDER_EXIT_TARGET;
	}
	if (state == 'Z' || state == 'X') {
		snprintf(err, errlen,
			 "PID %d is a zombie (exited, not yet reaped): nothing to profile",
			 (int)pid);
		return SMOLDER_EXIT_TARGET;
	}
	/* /proc/TID exists for every thread, though unlisted: a thread id passes the checks above,
	 * and the tgid filter would then match no sample ("did not run on a CPU"). */
	tgid = target_tgid(pid);
	if (tgid > 0 && tgid != pid) {
		char comm[64] = "?";

		target_comm(tgid, comm, sizeof(comm));
		snprintf(err, errlen,
			 "%d is a thread id, not a process id: it is a thread of process %d (%s); "
			 "use -p %d",
			 (int)pid, (int)tgid, comm, (int)tgid);
		return SMOLDER_EXIT_USAGE;
	}
	/* Kernel threads have no user address space: their maps file is empty, exe unreadable. */
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	n = target_read_file(path, buf, sizeof(buf));
	if (n == 0) {
		snprintf(err, errlen, "PID %d is a kernel thread: it has no user stacks or heap",
			 (int)pid);
		return SMOLDER_EXIT_TARGET;
	}
	if (n == -EACCES || n == -EPERM) {
		char why[256];

		target_ptrace_reason(pid, why, sizeof(why));
		snprintf(err, errlen, "cannot read /proc/%d/maps: %s", (int)pid, why);
		return SMOLDER_EXIT_PRIVILEGE;
	}
	if (n < 0) {
		snprintf(err, errlen, "PID %d vanished while checking it", (int)pid);
		return SMOLDER_EXIT_TARGET;
	}
	return 0;
}

/* A hexadecimal capability mask ("CapEff:", "CapPrm:") from a status file, 0 when absent. */
static uint64_t target_status_caps(const char *status, const char *key)
{
	const char *line = strstr(status, key);

	return line ? strtoull(line + strlen(key), NULL, 16) : 0;
}

bool target_self_capable(int cap)
{
	char buf[4096];

	if (cap < 0 || cap > 63 || target_read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		return false;
	return (target_status_caps(buf, "\nCapEff:") >> cap & 1) != 0;
}

/* Why smolder has no ptrace read access to pid, naming only what is missing: CAP_SYS_PTRACE
 * overrides every other reason. */
static void target_ptrace_reason(pid_t pid, char *why, size_t len)
{
	char path[64], status[4096], self[4096];
	unsigned long target_uid = 0;
	uint64_t target_caps, self_caps;
	const char *uid_line;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (target_read_file(path, status, sizeof(status)) < 0 ||
	    target_read_file("/proc/self/status", self, sizeof(self)) < 0) {
		snprintf(why, len, "no ptrace read access to PID %d", (int)pid);
		return;
	}
	uid_line = strstr(status, "\nUid:");
	if (uid_line)
		target_uid = strtoul(uid_line + 5, NULL, 10);
	target_caps = target_status_caps(status, "\nCapPrm:");
	self_caps = target_status_caps(self, "\nCapPrm:");
	if (target_self_capable(TARGET_CAP_SYS_PTRACE))
		snprintf(why, len,
			 "no ptrace read access to PID %d although smolder has CAP_SYS_PTRACE (a "
			 "security module or another user namespace refuses it)",
			 (int)pid);
	else if (target_uid != (unsigned long)geteuid())
		snprintf(why, len,
			 "no ptrace read access to PID %d: it runs as uid %lu, smolder as uid %lu "
			 "without CAP_SYS_PTRACE",
			 (int)pid, target_uid, (unsigned long)geteuid());
	else if (target_caps & ~self_caps)
		snprintf(why, len,
			 "no ptrace read access to PID %d: it holds capabilities smolder lacks "
			 "(CapPrm %llx), and smolder lacks CAP_SYS_PTRACE",
			 (int)pid, (unsigned long long)(target_caps & ~self_caps));
	else
		snprintf(why, len,
			 "no ptrace read access to PID %d: it is not dumpable (a setuid or setcap "
			 "program, or PR_SET_DUMPABLE 0), and smolder lacks CAP_SYS_PTRACE",
			 (int)pid);
}

int target_files_check(pid_t pid, char *why, size_t len)
{
	char path[64];
	DIR *dir;
	int err;

	/* The test the unwinder, symbolizer and leak tracker depend on: /proc/PID/root (their
	 * fallback where /proc/PID/map_files is refused) needs ptrace read access. */
	snprintf(path, sizeof(path), "/proc/%d/root/", (int)pid);
	dir = opendir(path);
	if (dir) {
		closedir(dir);
		return 0;
	}
	err = errno;
	if (err != EACCES && err != EPERM)
		return 0; /* gone, or not a permission problem: the caller's own checks report it */
	target_ptrace_reason(pid, why, len);
	return -err;
}

static int target_read_comm(const char *path, char *buf, size_t len)
{
	char tmp[64];
	int n = target_read_file(path, tmp, sizeof(tmp));

	if (n < 0)
		return n;
	if (n > 0 && tmp[n - 1] == '\n')
		tmp[n - 1] = '\0';
	snprintf(buf, len, "%s", tmp);
	return 0;
}

int target_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	return target_read_comm(path, buf, len);
}

int target_thread_name(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[96];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	return target_read_comm(path, buf, len);
}

int target_memory(pid_t pid, struct target_memory *mem)
{
	char path[64], buf[4096], *line;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	n = target_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return n == -ENOENT ? -ESRCH : n;
	memset(mem, 0, sizeof(*mem));
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned long long kb;

		if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
			mem->rss_bytes = kb * 1024;
		else if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
			mem->anon_bytes = kb * 1024;
	}
	return 0;
}

int target_find_program(const char *command, char *out)
{
	const char *path = getenv("PATH"), *dir;
	struct stat st;

	if (strchr(command, '/')) {
		if (!realpath(command, out))
			return -errno;
		if (stat(out, &st) != 0)
			return -errno;
		/* What execve would answer for a directory or a file without the x bit. */
		if (S_ISDIR(st.st_mode) || access(out, X_OK) != 0)
			return -EACCES;
		return 0;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (dir = path; dir; dir = strchr(dir, ':') ? strchr(dir, ':') + 1 : NULL) {
		size_t dlen = strchr(dir, ':') ? (size_t)(strchr(dir, ':') - dir) : strlen(dir);
		char candidate[PATH_MAX];

		if (snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)(dlen ? dlen : 1),
			     dlen ? dir : ".", command) >= (int)sizeof(candidate))
			continue;
		if (stat(candidate, &st) == 0 && !S_ISDIR(st.st_mode) &&
		    access(candidate, X_OK) == 0 && realpath(candidate, out))
			return 0;
	}
	return -ENOENT;
}

int target_launch_prepare(char **argv, struct target_launch *launch)
{
	char program[PATH_MAX];
	int pipefd[2], err;
	pid_t pid;

	memset(launch, 0, sizeof(*launch));
	launch->release_fd = -1;
	launch->pidfd = -1;
	if (!argv || !argv[0])
		return -EINVAL;
	/* A command that cannot run is a missing target (exit 2), found before anything attaches,
	 * not an exit status 127 after a run that profiled nothing. */
	err = target_find_program(argv[0], program);
	if (err)
		return err;
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (pid == 0) {
		char go;
		sigset_t none;

		/* The parent blocks SIGINT/SIGTERM for its signalfd; the child must not inherit
		 * that. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		close(pipefd[1]);
		/* Wait until the parent has attached; EOF without a byte means it gave up. */
		if (read(pipefd[0], &go, 1) != 1)
			_exit(127);
		close(pipefd[0]);
		execvp(argv[0], argv);
		/* In the child, which is no longer smolder's library code: report like a shell does
		 * and exit 127, which the parent returns as the command's status. */
		fprintf(stderr, "smolder: cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[0]);
	launch->pid = pid;
	launch->release_fd = pipefd[1];
	launch->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return 0;
}

int target_launch_release(struct target_launch *launch)
{
	char go = 'g';
	ssize_t n;

	if (launch->release_fd < 0)
		return -EINVAL;
	n = write(launch->release_fd, &go, 1);
	close(launch->release_fd);
	launch->release_fd = -1;
	return n == 1 ? 0 : -EPIPE;
}

int target_launch_signal(struct target_launch *launch, int sig)
{
	if (launch->pid <= 0 || launch->reaped)
		return -ESRCH;
	return kill(launch->pid, sig) == 0 ? 0 : -errno;
}

/* Reaps exited threads of the launched process that smolder still traces (ptrace backend): a
 * thread killed while held stays a zombie until its tracer reaps it, and until then the leader's
 * exit cannot be collected, so a blocking waitpid on the leader would never return. */
static void reap_traced_threads(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid > 0 && tid != pid)
			waitpid(tid, NULL, __WALL | WNOHANG); /* ECHILD unless it is our tracee */
	}
	closedir(dir);
}

int target_launch_wait(struct target_launch *launch, bool block)
{
	uint64_t waited_ms = 0;
	bool killed = false;
	pid_t r;

	if (launch->reaped)
		return 1;
	if (launch->pid <= 0)
		return -ECHILD;
	/* Closing the release pipe unblocks a child that was never released: it exits with 127. */
	if (block && launch->release_fd >= 0) {
		close(launch->release_fd);
		launch->release_fd = -1;
	}
	for (;;) {
		struct timespec pause = {0, 5000000};

		r = waitpid(launch->pid, &launch->wait_status, WNOHANG);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != 0 || !block)
			break;
		reap_traced_threads(launch->pid);
		/* Bounded: a child that ignores SIGTERM is killed after the grace period; one that
		 * does not die even then (uninterruptible sleep) is left to init. */
		if (waited_ms == TARGET_LAUNCH_GRACE_MS && !killed) {
			log_warn("launched PID %d still running %.0f s after it was told to stop: "
				 "killing it",
				 (int)launch->pid, TARGET_LAUNCH_GRACE_MS / 1000.0);
			kill(launch->pid, SIGKILL);
			killed = true;
			waited_ms = 0;
		} else if (waited_ms == TARGET_LAUNCH_GRACE_MS) {
			log_warn("launched PID %d did not exit after SIGKILL (uninterruptible "
				 "sleep?): "
				 "not waiting for it",
				 (int)launch->pid);
			return -ETIMEDOUT;
		}
		nanosleep(&pause, NULL);
		waited_ms += 5;
	}
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	launch->reaped = true;
	if (launch->pidfd >= 0) {
		close(launch->pidfd);
		launch->pidfd = -1;
	}
	return 1;
}

int target_launch_exit_code(const struct target_launch *launch)
{
	if (!launch->reaped)
		return SMOLDER_EXIT_INTERNAL;
	if (WIFEXITED(launch->wait_status))
		return WEXITSTATUS(launch->wait_status);
	if (WIFSIGNALED(launch->wait_status))
		return 128 + WTERMSIG(launch->wait_status);
	return SMOLDER_EXIT_INTERNAL;
}

/* The parent of pid from /proc/PID/stat (the field after the parenthesised name, which may itself
 * hold spaces and parentheses). Returns the ppid or -errno. */
static int target_parent(pid_t pid)
{
	char path[64], buf[512], *close_paren;
	int n, ppid;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = target_read_file(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	close_paren = strrchr(buf, ')');
	if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1)
		return -EINVAL;
	return ppid;
}

int target_descendants(const pid_t *roots, size_t n_roots, pid_t **out, size_t *n_out)
{
	pid_t *pids = NULL, *parents = NULL, *found = NULL;
	size_t n = 0, cap = 0, n_found = 0;
	struct dirent *de;
	bool grew = true;
	DIR *dir;
	int ret = 0;

	*out = NULL;
	*n_out = 0;
	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		int ppid;

		if (pid <= 0 || (ppid = target_parent(pid)) <= 0)
			continue; /* not a process, gone, or a child of the kernel */
		if (n == cap) {
			size_t grown_cap = cap ? cap * 2 : 256;
			pid_t *a = realloc(pids, grown_cap * sizeof(*a));
			pid_t *b = a ? realloc(parents, grown_cap * sizeof(*b)) : NULL;

			if (a)
				pids = a;
			if (!b) {
				ret = -ENOMEM;
				goto out;
			}
			parents = b;
			cap = grown_cap;
		}
		pids[n] = pid;
		parents[n++] = (pid_t)ppid;
	}
	found = calloc(n + 1, sizeof(*found));
	if (!found) {
		ret = -ENOMEM;
		goto out;
	}
	/* Grow the set until no process has a parent in it: a few passes for real trees. */
	while (grew) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			bool in_set = false, parent_in = false;

			for (size_t r = 0; r < n_roots; r++) {
				in_set |= roots[r] == pids[i];
				parent_in |= roots[r] == parents[i];
			}
			for (size_t f = 0; f < n_found && !(in_set && parent_in); f++) {
				in_set |= found[f] == pids[i];
				parent_in |= found[f] == parents[i];
			}
			if (parent_in && !in_set) {
				found[n_found++] = pids[i];
				grew = true;
			}
		}
	}
	*out = found;
	*n_out = n_found;
	found = NULL;
out:
	closedir(dir);
	free(found);
	free(pids);
	free(parents);
	return ret;
}

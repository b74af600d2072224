/* unwind_capture.h: test/bench helper (header-only) that runs the unwind_target fixture in a mode,
 * stops the reporting thread with ptrace, and captures what a sampler would: its registers and the
 * stack from sp to the end of the stack mapping (read from /proc/PID/mem), plus the maps and an
 * unwinder created while the target is alive. capture_end kills the target; the capture stays
 * usable (unwinding after the target exit is part of what is tested). */
#ifndef SMOLDER_TEST_UNWIND_CAPTURE_H
#define SMOLDER_TEST_UNWIND_CAPTURE_H

#include "smolder/proc_maps.h"
#include "smolder/unwinder.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The fixture capture_begin runs: unwind_target, or a variant built from the same source. */
static const char *capture_program = "unwind_target";

struct capture {
	pid_t pid, tid;
	int out_fd; /* the fixture's stdout */
	struct user_regs_struct regs;
	uint8_t *stack;
	size_t stack_len;
	struct proc_maps maps;
	struct unwinder *uw;
	char fixture[4096];
};

/* Reads one line ("WORD TID") from the fixture within 10 s. */
static int capture_read_line(struct capture *cap, const char *word, pid_t *tid)
{
	char line[128];
	size_t len = 0;

	while (len < sizeof(line) - 1) {
		struct pollfd pfd = {.fd = cap->out_fd, .events = POLLIN};

		if (poll(&pfd, 1, 10000) <= 0)
			return -ETIMEDOUT;
		if (read(cap->out_fd, line + len, 1) != 1)
			return -EIO;
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	if (strncmp(line, word, strlen(word)) != 0)
		return -EPROTO;
	*tid = (pid_t)atoi(line + strlen(word));
	return *tid > 0 ? 0 : -EPROTO;
}

static int capture_stop(struct capture *cap)
{
	int status;

	if (ptrace(PTRACE_INTERRUPT, cap->tid, 0, 0) < 0)
		return -errno;
	if (waitpid(cap->tid, &status, __WALL) < 0)
		return -errno;
	if (ptrace(PTRACE_GETREGS, cap->tid, 0, &cap->regs) < 0)
		return -errno;
	return 0;
}

/* Runs the fixture in mode and stops the reporting thread. When want is given, resumes and stops
 * the thread again (up to tries times; single-steps up to -tries instructions when tries < 0) until
 * want(cap) accepts the stopped ip. */
static int capture_begin(struct capture *cap, const char *mode, bool (*want)(struct capture *),
			 int tries)
{
	int pipefd[2], err, fd;
	const struct proc_map *stack_map;
	char path[64];
	pid_t tid;

	memset(cap, 0, sizeof(*cap));
	cap->out_fd = -1;
	snprintf(cap->fixture, sizeof(cap->fixture), "%s/%s", SMOLDER_FIXTURE_DIR, capture_program);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	cap->pid = fork();
	if (cap->pid < 0)
		return -errno;
	if (cap->pid == 0) {
		/* A fixture must not outlive a crashed test: it would spin forever. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pipefd[1], STDOUT_FILENO);
		execl(cap->fixture, cap->fixture, mode, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	cap->out_fd = pipefd[0];
	if (strcmp(mode, "signal") == 0) {
		if ((err = capture_read_line(cap, "armed", &tid)) < 0)
			return err;
		/* "armed" is written just before the spin: let it get there first. */
		usleep(100000);
		kill(cap->pid, SIGUSR1);
	}
	if ((err = capture_read_line(cap, "ready", &cap->tid)) < 0)
		return err;
	if (ptrace(PTRACE_SEIZE, cap->tid, 0, 0) < 0)
		return -errno;
	if ((err = capture_stop(cap)) < 0)
		return err;
	for (int i = 0; want && !want(cap); i++) {
		if (tries >= 0 && i >= tries)
			return -EAGAIN;
		if (tries < 0) {
			int status;

			/* Single-step: lands on every instruction, e.g. a one-instruction PLT stub.
			 */
			if (i >= -tries)
				return -EAGAIN;
			if (ptrace(PTRACE_SINGLESTEP, cap->tid, 0, 0) < 0 ||
			    waitpid(cap->tid, &status, __WALL) < 0 ||
			    ptrace(PTRACE_GETREGS, cap->tid, 0, &cap->regs) < 0)
				return -errno;
			continue;
		}
		if (ptrace(PTRACE_CONT, cap->tid, 0, 0) < 0)
			return -errno;
		usleep(200 + (i % 7) * 50);
		if ((err = capture_stop(cap)) < 0)
			return err;
	}
	if ((err = proc_maps_read(cap->pid, &cap->maps)) < 0)
		return err;
	stack_map = proc_maps_find(&cap->maps, cap->regs.rsp);
	if (!stack_map)
		return -ENOENT;
	cap->stack_len = stack_map->end - cap->regs.rsp;
	cap->stack = malloc(cap->stack_len);
	if (!cap->stack)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)cap->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, cap->stack, cap->stack_len, (off_t)cap->regs.rsp) !=
	    (ssize_t)cap->stack_len) {
		close(fd);
		return -EIO;
	}
	close(fd);
	cap->uw = unwinder_new(cap->pid);
	return cap->uw ? 0 : -errno;
}

/* Kills and reaps the fixture; the captured data stays. */
static void capture_end(struct capture *cap)
{
	int status;

	if (cap->pid > 0) {
		/* Detach first: a traced non-leader thread's exit would otherwise have to be reaped
		 * by us before the leader's, and waitpid(pid) would wait forever. */
		if (cap->tid > 0)
			ptrace(PTRACE_DETACH, cap->tid, 0, 0);
		kill(cap->pid, SIGKILL);
		while (waitpid(cap->pid, &status, __WALL) < 0 && errno == EINTR)
			;
		cap->pid = -cap->pid;
	}
	if (cap->out_fd >= 0)
		close(cap->out_fd);
	cap->out_fd = -1;
}

static void capture_release(struct capture *cap)
{
	capture_end(cap);
	unwinder_free(cap->uw);
	proc_maps_release(&cap->maps);
	free(cap->stack);
	memset(cap, 0, sizeof(*cap));
}

static struct unwind_snapshot capture_snapshot(const struct capture *cap, size_t clip)
{
	struct unwind_snapshot snap = {
		.ip = cap->regs.rip,
		.sp = cap->regs.rsp,
		.bp = cap->regs.rbp,
		.stack = cap->stack,
		.stack_len = (uint32_t)(clip && clip < cap->stack_len ? clip : cap->stack_len),
		.stack_clipped = clip && clip < cap->stack_len,
	};
	return snap;
}

#endif

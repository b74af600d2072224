/* load_command.c: the --during load command collector of `smolder profile` (see load_command.h):
 * fork + sh -c in its own process group, output to an unlinked temporary file, pidfd in the event
 * loop, and the operation count parsed from the tool's summary. */
#include "smolder/load_command.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smolder/log.h"
#include "smolder/session.h"

struct load_command *load_command_new(const char *command)
{
	struct load_command *lc = calloc(1, sizeof(*lc));

	if (!lc)
		return NULL;
	lc->command = command;
	lc->out_fd = -1;
	lc->pidfd = -1;
	return lc;
}

void load_command_free(struct load_command *lc)
{
	if (!lc)
		return;
	if (lc->pid > 0 && !lc->done) {
		kill(-lc->pid, SIGTERM);
		waitpid(lc->pid, NULL, 0);
	}
	if (lc->out_fd >= 0)
		close(lc->out_fd);
	if (lc->pidfd >= 0)
		close(lc->pidfd);
	free(lc);
}

/* sh -c CMD in its own process group, output to an unlinked temporary file (its tail goes into
 * the report). */
static int load_start(void *ctx, struct session *s)
{
	struct load_command *lc = ctx;
	char path[] = "/tmp/smolder-load-XXXXXX";
	sigset_t none;
	pid_t pid;

	lc->out_fd = mkstemp(path);
	if (lc->out_fd < 0)
		return -errno;
	unlink(path);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		dup2(lc->out_fd, STDOUT_FILENO);
		dup2(lc->out_fd, STDERR_FILENO);
		execl("/bin/sh", "sh", "-c", lc->command, (char *)NULL);
		_exit(127);
	}
	lc->pid = pid;
	lc->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	lc->start_s = session_elapsed(s);
	log_info("load: started sh -c '%s' (PID %d)", lc->command, (int)pid);
	return 0;
}

static void load_reaped(struct load_command *lc, struct session *s, int status)
{
	lc->done = true;
	lc->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	lc->end_s = session_elapsed(s);
}

static int load_fd(void *ctx)
{
	struct load_command *lc = ctx;

	return lc->pidfd;
}

/* Polled with the loop: the run ends when the load command exits. */
static int load_poll(void *ctx, struct session *s, int timeout_ms)
{
	struct load_command *lc = ctx;
	int status;

	(void)timeout_ms;
	if (lc->pid > 0 && !lc->done && waitpid(lc->pid, &status, WNOHANG) == lc->pid) {
		load_reaped(lc, s, status);
		log_info("load: finished with status %d after %.1f s", lc->status,
			 lc->end_s - lc->start_s);
		session_request_stop(s, "load command finished");
	}
	return 0;
}

/* The run ended first (-d, Ctrl-C, target exit): the load command is ended too. */
static int load_stop(void *ctx, struct session *s, double t)
{
	struct load_command *lc = ctx;
	int status;

	(void)t;
	if (lc->pid <= 0 || lc->done)
		return 0;
	kill(-lc->pid, SIGTERM);
	if (waitpid(lc->pid, &status, 0) == lc->pid)
		load_reaped(lc, s, status);
	return 0;
}

void load_command_plug(struct load_command *lc, struct session_collector *plug)
{
	*plug = (struct session_collector){.name = "load command",
					   .ctx = lc,
					   .start = load_start,
					   .fd = load_fd,
					   .poll = load_poll,
					   .stop = load_stop};
}

void load_command_read_tail(struct load_command *lc)
{
	off_t end;
	ssize_t n;

	lc->tail[0] = '\0';
	if (lc->out_fd < 0)
		return;
	end = lseek(lc->out_fd, 0, SEEK_END);
	if (end < 0)
		return;
	n = pread(lc->out_fd, lc->tail, LOAD_TAIL_BYTES,
		  end > LOAD_TAIL_BYTES ? end - LOAD_TAIL_BYTES : 0);
	lc->tail[n > 0 ? n : 0] = '\0';
}

double load_command_parse_ops(FILE *fp)
{
	double total = 0;
	bool found = false;
	char line[512];

	while (fgets(line, sizeof(line), fp)) {
		unsigned long long n;
		char *at = strstr(line, " requests in ");

		if (!at)
			at = strstr(line, " requests completed in ");
		if (at) {
			/* The count right before the phrase ("demo_load: 123 requests in"). */
			char *start = at;

			while (start > line && start[-1] >= '0' && start[-1] <= '9')
				start--;
			if (start < at && sscanf(start, "%llu", &n) == 1) {
				total += (double)n;
				found = true;
			}
		} else if (sscanf(line, "Complete requests: %llu", &n) == 1) {
			total += (double)n;
			found = true;
		}
	}
	return found ? total : NAN;
}

/* The summary may be anywhere in the output (redis-benchmark prints one per test, far above its
 * tail), so the whole file is read through a duplicate descriptor. */
double load_command_ops(const struct load_command *lc)
{
	int copy = lc && lc->out_fd >= 0 ? dup(lc->out_fd) : -1;
	FILE *fp = copy >= 0 ? fdopen(copy, "r") : NULL;
	double ops;

	if (!fp) {
		if (copy >= 0)
			close(copy);
		return NAN;
	}
	rewind(fp);
	ops = load_command_parse_ops(fp);
	fclose(fp);
	return ops;
}

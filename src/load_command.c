/* load_command.c: the --during load command collector of `smolder profile` (see load_command.h):
 * fork + sh -c in its own process group, output to an unlinked temporary file, pidfd in the event
 * loop, the $PORT wait, the load window's marks, and the operation count parsed from the tool's
 * summary.
 *
 * The $PORT wait forks sh at start, held on a pipe: its pidfd is in the event loop from the
 * beginning (the session adds collector fds once), and the loop's turns (at least every 100 ms)
 * look for the port; when it appears, the port is written to the pipe and the child sets PORT and
 * execs. The wait is bounded (LOAD_PORT_TIMEOUT_S): a service that never listens ends the run
 * with exit 2, as one that exits before listening does. */
#include "smolder/load_command.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smolder/cli.h"
#include "smolder/log.h"
#include "smolder/session.h"
#include "smolder/target.h"
#include "smolder/tcp_listen.h"

#define LOAD_PORT_CHECK_S 0.05

struct load_command *load_command_new(const char *command)
{
	struct load_command *lc = calloc(1, sizeof(*lc));
	const char *env;

	if (!lc)
		return NULL;
	lc->command = command;
	lc->out_fd = -1;
	lc->pidfd = -1;
	lc->go_fd = -1;
	lc->wants_port = load_command_wants_port(command);
	lc->port_timeout_s = LOAD_PORT_TIMEOUT_S;
	env = getenv("SMOLDER_PORT_TIMEOUT");
	if (env && *env && strtod(env, NULL) > 0)
		lc->port_timeout_s = strtod(env, NULL);
	return lc;
}

bool load_command_wants_port(const char *command)
{
	return command && (strstr(command, "$PORT") || strstr(command, "${PORT}"));
}

void load_command_set_counter(struct load_command *lc, enum load_count which,
			      const struct load_counter *counter)
{
	lc->counters[which] = *counter;
}

bool load_command_count(const struct load_command *lc, enum load_count which, uint64_t *delta)
{
	if (!lc || !lc->started || !lc->at_start.count_valid[which] ||
	    !lc->at_end.count_valid[which] || lc->at_end.count[which] < lc->at_start.count[which])
		return false;
	*delta = lc->at_end.count[which] - lc->at_start.count[which];
	return true;
}

/* The target's CPU (of its tree with tree_cpu), RSS and operation count now: one end of the load
 * window. */
static void load_mark(const struct load_command *lc, const struct session *s, struct load_mark *m)
{
	bool many = !s->launched && s->opts.n_pids > 1;
	struct target_memory mem;

	if (target_tree_cpu_seconds(many ? s->opts.pids : &s->pid, many ? s->opts.n_pids : 1,
				    lc->tree_cpu, &m->cpu_s))
		m->cpu_s = NAN;
	m->rss_valid = target_memory(s->pid, &mem) == 0;
	m->rss_bytes = m->rss_valid ? mem.rss_bytes : 0;
	for (int i = 0; i < LOAD_COUNT_MAX; i++)
		m->count_valid[i] = lc->counters[i].read &&
				    lc->counters[i].read(lc->counters[i].ctx, &m->count[i]) == 0;
}

void load_command_free(struct load_command *lc)
{
	if (!lc)
		return;
	if (lc->pid > 0 && !lc->done) {
		kill(-lc->pid, SIGTERM);
		waitpid(lc->pid, NULL, 0);
	}
	if (lc->go_fd >= 0)
		close(lc->go_fd);
	if (lc->out_fd >= 0)
		close(lc->out_fd);
	if (lc->pidfd >= 0)
		close(lc->pidfd);
	free(lc);
}

/* The command runs from now: the window's first mark. */
static void load_started(struct load_command *lc, struct session *s)
{
	lc->started = true;
	lc->start_s = session_elapsed(s);
	load_mark(lc, s, &lc->at_start);
}

/* The port is known: the held child gets it and execs. */
static void load_release(struct load_command *lc, struct session *s, uint16_t port)
{
	char buf[8];
	int len = snprintf(buf, sizeof(buf), "%u", (unsigned)port);

	lc->port = port;
	if (write(lc->go_fd, buf, (size_t)len) != len)
		log_warn("load: cannot pass PORT to the command: %s", strerror(errno));
	close(lc->go_fd);
	lc->go_fd = -1;
	load_started(lc, s);
	log_info("load: PID %d listens on TCP port %u after %.1f s; started sh -c '%s' with "
		 "PORT=%u",
		 (int)s->pid, (unsigned)port, lc->start_s, lc->command, (unsigned)port);
}

/* The held child: waits for the port on fd, then PORT=port sh -c CMD. EOF without a port: the
 * run ended first; it exits without running anything. */
static void load_child_wait_port(int fd)
{
	char buf[8] = "";
	ssize_t n, len = 0;

	while (len < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(fd, buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	if (len <= 0)
		_exit(125);
	buf[len] = '\0';
	setenv("PORT", buf, 1);
}

/* sh -c CMD in its own process group, output to an unlinked temporary file (its tail goes into
 * the report); with $PORT, held until the port is known. */
static int load_start(void *ctx, struct session *s)
{
	struct load_command *lc = ctx;
	char path[] = "/tmp/smolder-load-XXXXXX";
	int go[2] = {-1, -1};
	sigset_t none;
	pid_t pid;

	lc->out_fd = mkstemp(path);
	if (lc->out_fd < 0)
		return -errno;
	unlink(path);
	if (lc->wants_port && pipe2(go, O_CLOEXEC) != 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		if (go[0] >= 0) {
			close(go[0]);
			close(go[1]);
		}
		return err;
	}
	if (pid == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		if (go[0] >= 0) {
			close(go[1]);
			load_child_wait_port(go[0]);
		}
		dup2(lc->out_fd, STDOUT_FILENO);
		dup2(lc->out_fd, STDERR_FILENO);
		execl("/bin/sh", "sh", "-c", lc->command, (char *)NULL);
		_exit(127);
	}
	/* Also here: a kill(-pid) right after the fork must not miss a child that has not run
	 * its own setpgid yet. */
	setpgid(pid, pid);
	lc->pid = pid;
	lc->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (!lc->wants_port) {
		load_started(lc, s);
		log_info("load: started sh -c '%s' (PID %d)", lc->command, (int)pid);
		return 0;
	}
	close(go[0]);
	lc->go_fd = go[1];
	log_info("load: waiting (up to %.0f s) for PID %d to listen on a TCP port for $PORT",
		 lc->port_timeout_s, (int)s->pid);
	return 0;
}

/* A loop turn while the command waits for $PORT: look for the port (every LOAD_PORT_CHECK_S),
 * give up after the timeout. */
static void load_check_port(struct load_command *lc, struct session *s)
{
	double now = session_elapsed(s);
	int port;

	if (now < lc->next_port_check_s)
		return;
	lc->next_port_check_s = now + LOAD_PORT_CHECK_S;
	port = tcp_listen_port(s->pid);
	if (port > 0) {
		load_release(lc, s, (uint16_t)port);
		return;
	}
	if (now < lc->port_timeout_s)
		return;
	log_error("PID %d did not listen on a TCP port within %.0f s, so the load command "
		  "(which uses $PORT) was not run (SMOLDER_PORT_TIMEOUT=SECONDS waits longer)",
		  (int)s->pid, lc->port_timeout_s);
	lc->failure = SMOLDER_EXIT_TARGET;
	close(lc->go_fd); /* the held child exits */
	lc->go_fd = -1;
	session_request_stop(s, "the target never listened on a TCP port");
}

static void load_reaped(struct load_command *lc, struct session *s, int status)
{
	lc->done = true;
	lc->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	lc->end_s = session_elapsed(s);
	if (lc->started)
		load_mark(lc, s, &lc->at_end);
}

static int load_fd(void *ctx)
{
	struct load_command *lc = ctx;

	return lc->pidfd;
}

/* A load command that failed (a typo: sh's 127, a refused connection) leaves a report of an idle
 * target: said as a warning with its last output line, so that the short run is not taken for
 * the service's profile. */
static void load_warn_failed(struct load_command *lc)
{
	char line[201] = "", *last, *end;
	size_t n = 0;

	load_command_read_tail(lc);
	end = lc->tail + strlen(lc->tail);
	while (end > lc->tail && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	for (last = end; last > lc->tail && last[-1] != '\n';)
		last--;
	/* The command's own bytes: control characters (escape sequences) shown as '?'. */
	for (; last < end && n < sizeof(line) - 1; last++, n++)
		line[n] = (unsigned char)*last < 0x20 || *last == 0x7f ? '?' : *last;
	line[n] = '\0';
	log_warn("load: '%s' failed with status %d after %.1f s%s%s", lc->command, lc->status,
		 lc->end_s - lc->start_s, n ? ": " : " (no output)", line);
}

/* Polled with the loop: the run ends when the load command exits. */
static int load_poll(void *ctx, struct session *s, int timeout_ms)
{
	struct load_command *lc = ctx;
	int status;

	(void)timeout_ms;
	if (lc->go_fd >= 0)
		load_check_port(lc, s);
	if (lc->pid > 0 && !lc->done && waitpid(lc->pid, &status, WNOHANG) == lc->pid) {
		load_reaped(lc, s, status);
		if (!lc->started)
			return 0; /* never ran: load_check_port said why */
		if (lc->status)
			load_warn_failed(lc);
		else
			log_info("load: finished with status 0 after %.1f s",
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
	if (lc->go_fd >= 0) {
		/* Still waiting for the port: the target exited (or -d, Ctrl-C) first. */
		if (s->stop == RUN_STOP_TARGET_EXIT) {
			log_error("PID %d exited before it listened on a TCP port, so the load "
				  "command (which uses $PORT) was not run",
				  (int)s->pid);
			lc->failure = SMOLDER_EXIT_TARGET;
		} else {
			log_warn("the run ended before PID %d listened on a TCP port: the load "
				 "command was not run",
				 (int)s->pid);
		}
		close(lc->go_fd);
		lc->go_fd = -1;
	}
	if (lc->pid <= 0 || lc->done)
		return 0;
	/* The window ends now, while the target is still there to be read. */
	if (lc->started)
		load_mark(lc, s, &lc->at_end);
	kill(-lc->pid, SIGTERM);
	if (waitpid(lc->pid, &status, 0) == lc->pid) {
		struct load_mark end = lc->at_end;

		load_reaped(lc, s, status);
		lc->at_end = end; /* the mark taken before SIGTERM */
	}
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

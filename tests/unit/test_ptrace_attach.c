/* test_ptrace_attach.c: the attach module against a real multi-threaded fixture (threads_known):
 * every thread held and released, registers and stack readable while held, a pre-stopped target
 * left stopped, a vanished target reported, and the wording of each denial cause. */
#include "smolder/cli.h"
#include "smolder/ptrace_attach.h"
#include "smolder/target.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct fixture {
	pid_t pid;
};

static int count_state(pid_t pid, int letter);

static int fixture_start(void **state)
{
	static struct fixture f;
	int out[2];
	char buf[64] = {0};
	ssize_t n;

	assert_int_equal(pipe(out), 0);
	f.pid = fork();
	assert_true(f.pid >= 0);
	if (f.pid == 0) {
		dup2(out[1], 1);
		close(out[0]);
		execl(SMOLDER_FIXTURE_DIR "/threads_known", "threads_known", "60", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	n = read(out[0], buf, sizeof(buf) - 1);
	close(out[0]);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "ready"));
	*state = &f;
	return 0;
}

static int fixture_stop(void **state)
{
	struct fixture *f = *state;
	pid_t r;

	kill(f->pid, SIGKILL);
	/* A failed assertion leaves the test without releasing its session: threads we still
	 * trace are zombies only we can reap, and until they are the leader's exit cannot be
	 * collected. Reap everything of ours (__WALL) until the leader comes back. */
	do {
		r = waitpid(-1, NULL, __WALL);
	} while (r != f->pid && !(r < 0 && errno != EINTR));
	return 0;
}

/* Waits up to 5 s until exactly want tasks of pid are in state letter: "ready" is printed just
 * before main blocks in read(), and on a loaded machine it can stay runnable for a while. */
static bool wait_for_states(pid_t pid, int letter, int want)
{
	for (int i = 0; i < 500; i++) {
		if (count_state(pid, letter) == want)
			return true;
		usleep(10000);
	}
	return false;
}

static int count_state(pid_t pid, int letter)
{
	char path[64];
	int n = 0;

	for (pid_t tid = pid; tid < pid + 64; tid++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)tid);
		if (access(path, F_OK) == 0 && target_task_state(pid, tid) == letter)
			n++;
	}
	return n;
}

static void test_stop_all_and_release(void **state)
{
	struct fixture *f = *state;
	struct ptrace_session s;
	char err[256] = "";
	uint8_t *buf = malloc(256 * 1024);
	size_t with_regs = 0;

	ptrace_session_init(&s, f->pid);
	assert_int_equal(ptrace_session_stop(&s, PTRACE_STOP_ALL, 2000, err, sizeof(err)), 0);
	assert_false(s.target_was_stopped);
	assert_int_equal(s.n, 4);
	for (size_t i = 0; i < s.n; i++) {
		bool clipped;
		ssize_t got;

		assert_true(s.threads[i].stopped);
		with_regs += s.threads[i].regs_valid;
		/* 't' is "tracing stop": held by us right now. */
		assert_int_equal(target_task_state(f->pid, s.threads[i].tid), 't');
		got = ptrace_session_read_stack(&s, &s.threads[i], buf, 256 * 1024, &clipped);
		assert_true(got > 0);
	}
	assert_int_equal(with_regs, 4);
	assert_int_equal(ptrace_tracer_pid(f->pid, 0), getpid());
	assert_int_equal(ptrace_session_detach(&s), 0);
	assert_true(ptrace_session_stopped_ms(&s) > 0.0);
	assert_int_equal(ptrace_tracer_pid(f->pid, 0), 0);
	assert_int_equal(count_state(f->pid, 't'), 0);
	assert_int_equal(count_state(f->pid, 'T'), 0);
	/* A second stop of the same session works (the sampler's pattern). */
	assert_int_equal(ptrace_session_stop(&s, PTRACE_STOP_ALL, 2000, err, sizeof(err)), 0);
	assert_int_equal(s.n, 4);
	ptrace_session_release(&s);
	assert_int_equal(ptrace_tracer_pid(f->pid, 0), 0);
	free(buf);
}

static void test_stop_running_only(void **state)
{
	struct fixture *f = *state;
	struct ptrace_session s;
	char err[256] = "";
	size_t stopped = 0;

	/* main (read) and sleeper (nanosleep) asleep, so the set to stop is exactly the spinners.
	 */
	assert_true(wait_for_states(f->pid, 'S', 2));
	ptrace_session_init(&s, f->pid);
	assert_int_equal(ptrace_session_stop(&s, PTRACE_STOP_RUNNING, 2000, err, sizeof(err)), 0);
	for (size_t i = 0; i < s.n; i++)
		stopped += s.threads[i].stopped;
	/* spinner and libworker spin; main (read) and sleeper (nanosleep) sleep. On 2 CPUs both
	 * spinners are R (running or runnable). */
	assert_int_equal(stopped, 2);
	for (size_t i = 0; i < s.n; i++)
		assert_int_not_equal(s.threads[i].tid, f->pid);
	ptrace_session_release(&s);
	assert_int_equal(ptrace_tracer_pid(f->pid, 0), 0);
}

static void test_prestopped_stays_stopped(void **state)
{
	struct fixture *f = *state;
	struct ptrace_session s;
	char err[256] = "";
	int status;

	kill(f->pid, SIGSTOP);
	assert_int_equal(waitpid(f->pid, &status, WUNTRACED), f->pid);
	assert_true(WIFSTOPPED(status));
	ptrace_session_init(&s, f->pid);
	assert_int_equal(ptrace_session_stop(&s, PTRACE_STOP_ALL, 2000, err, sizeof(err)), 0);
	assert_true(s.target_was_stopped);
	assert_int_equal(s.n, 4);
	for (size_t i = 0; i < s.n; i++)
		assert_true(s.threads[i].regs_valid);
	ptrace_session_release(&s);
	assert_int_equal(ptrace_tracer_pid(f->pid, 0), 0);
	/* Give the kernel's group-stop reinstatement a moment, then every thread is 'T' again. */
	usleep(50000);
	assert_int_equal(count_state(f->pid, 'T'), 4);
	kill(f->pid, SIGCONT);
	usleep(50000);
	assert_int_equal(count_state(f->pid, 'T'), 0);
}

static void test_gone_target(void **state)
{
	struct ptrace_session s;
	char err[256] = "";
	pid_t child = fork();

	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	ptrace_session_init(&s, child);
	assert_int_equal(ptrace_session_stop(&s, PTRACE_STOP_ALL, 500, err, sizeof(err)),
			 SMOLDER_EXIT_TARGET);
	assert_non_null(strstr(err, "gone"));
	ptrace_session_release(&s);
	assert_int_equal(ptrace_attach_check(child, err, sizeof(err)), SMOLDER_EXIT_TARGET);
}

static void test_killed_while_stopped(void **state)
{
	struct fixture *f = *state;
	struct ptrace_session s;
	char err[256] = "";

	ptrace_session_init(&s, f->pid);
	assert_int_equal(ptrace_session_stop(&s, PTRACE_STOP_ALL, 2000, err, sizeof(err)), 0);
	kill(f->pid, SIGKILL);
	/* Detaching from threads that died meanwhile is not an error. */
	assert_int_equal(ptrace_session_detach(&s), 0);
	ptrace_session_release(&s);
}

static void test_denial_wording(void **state)
{
	struct ptrace_denial d = {.tracer_pid = 0,
				  .yama_scope = -1,
				  .have_cap_sys_ptrace = false,
				  .same_uid = true,
				  .dumpable = true};
	char err[256];

	assert_int_equal(ptrace_denial_explain(&d, err, sizeof(err)), 0);
	d.tracer_pid = 4242;
	d.tracer_comm = "gdb";
	assert_int_equal(ptrace_denial_explain(&d, err, sizeof(err)), SMOLDER_EXIT_PRIVILEGE);
	assert_non_null(strstr(err, "already traced by PID 4242 (gdb)"));
	d.tracer_pid = 0;
	d.yama_scope = 1;
	assert_int_equal(ptrace_denial_explain(&d, err, sizeof(err)), SMOLDER_EXIT_PRIVILEGE);
	assert_non_null(strstr(err, "kernel.yama.ptrace_scope=1"));
	d.have_cap_sys_ptrace = true;
	assert_int_equal(ptrace_denial_explain(&d, err, sizeof(err)), 0);
	d.yama_scope = 3;
	assert_int_equal(ptrace_denial_explain(&d, err, sizeof(err)), SMOLDER_EXIT_PRIVILEGE);
	assert_non_null(strstr(err, "kernel.yama.ptrace_scope=3"));
	d.yama_scope = 2;
	d.have_cap_sys_ptrace = false;
	assert_int_equal(ptrace_denial_explain(&d, err, sizeof(err)), SMOLDER_EXIT_PRIVILEGE);
	assert_non_null(strstr(err, "CAP_SYS_PTRACE"));
	d.yama_scope = 0;
	d.same_uid = false;
	assert_int_equal(ptrace_denial_explain(&d, err, sizeof(err)), SMOLDER_EXIT_PRIVILEGE);
	assert_non_null(strstr(err, "another user"));
	d.same_uid = true;
	d.dumpable = false;
	assert_int_equal(ptrace_denial_explain(&d, err, sizeof(err)), SMOLDER_EXIT_PRIVILEGE);
	assert_non_null(strstr(err, "not dumpable"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stop_all_and_release, fixture_start,
						fixture_stop),
		cmocka_unit_test_setup_teardown(test_stop_running_only, fixture_start,
						fixture_stop),
		cmocka_unit_test_setup_teardown(test_prestopped_stays_stopped, fixture_start,
						fixture_stop),
		cmocka_unit_test_setup_teardown(test_killed_while_stopped, fixture_start,
						fixture_stop),
		cmocka_unit_test(test_gone_target),
		cmocka_unit_test(test_denial_wording),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

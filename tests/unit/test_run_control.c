/* test_run_control.c: a run ends on the deadline, on SIGINT/SIGTERM (caught, not fatal), and when
 * the target exits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smolder/run_control.h"

static void test_deadline(void **state)
{
	struct run_control rc;
	uint64_t start = run_control_now_ns();

	(void)state;
	assert_int_equal(run_control_init(&rc, 0, 200000000ULL), 0);
	assert_int_equal(run_control_check(&rc), RUN_CONTINUE);
	while (run_control_wait(&rc, 1000) == RUN_CONTINUE)
		;
	assert_int_equal(rc.reason, RUN_STOP_DURATION);
	assert_true(run_control_now_ns() - start >= 200000000ULL);
	assert_true(run_control_elapsed(&rc) < 2.0);
	run_control_release(&rc);
	run_control_release(NULL);
}

static void test_signal(void **state)
{
	struct run_control rc;

	(void)state;
	assert_int_equal(run_control_init(&rc, 0, 0), 0);
	kill(getpid(), SIGINT); /* blocked: goes to the signalfd, does not kill us */
	assert_int_equal(run_control_wait(&rc, 1000), RUN_STOP_SIGNAL);
	assert_int_equal(rc.last_signal, SIGINT);
	/* A second signal during the flush changes nothing. */
	kill(getpid(), SIGTERM);
	assert_int_equal(run_control_check(&rc), RUN_STOP_SIGNAL);
	run_control_release(&rc);
}

static void test_target_exit(void **state)
{
	struct run_control rc;
	pid_t child = fork();

	(void)state;
	if (child == 0) {
		usleep(100000);
		_exit(0);
	}
	assert_int_equal(run_control_init(&rc, child, 5000000000ULL), 0);
	assert_int_equal(run_control_wait(&rc, 3000), RUN_STOP_TARGET_EXIT);
	assert_true(run_control_elapsed(&rc) < 3.0);
	run_control_release(&rc);
	waitpid(child, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_target_exit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

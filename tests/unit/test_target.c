/* test_target.c: target checks (missing, zombie, kernel thread), /proc readers, launch mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smolder/cli.h"
#include "smolder/target.h"

static void test_check(void **state)
{
	char err[256];
	pid_t child;

	(void)state;
	assert_int_equal(target_check(getpid(), err, sizeof(err)), 0);
	assert_int_equal(target_check(0x3ffffff0, err, sizeof(err)), SMOLDER_EXIT_TARGET);
	assert_non_null(strstr(err, "no process"));
	/* kthreadd is PID 2 on Linux. */
	assert_int_equal(target_check(2, err, sizeof(err)), SMOLDER_EXIT_TARGET);
	assert_non_null(strstr(err, "kernel thread"));
	child = fork();
	if (child == 0)
		_exit(0);
	usleep(100000); /* let it exit; unreaped it is a zombie */
	assert_int_equal(target_check(child, err, sizeof(err)), SMOLDER_EXIT_TARGET);
	assert_non_null(strstr(err, "zombie"));
	waitpid(child, NULL, 0);
}

static pid_t thread_tid;
static pthread_barrier_t thread_barrier;

static void *thread_main(void *arg)
{
	(void)arg;
	thread_tid = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(&thread_barrier); /* tid published */
	pthread_barrier_wait(&thread_barrier); /* checks done */
	return NULL;
}

/* A thread id is refused with the process id to use (record -p TID of a non-main thread). */
static void test_check_thread_id(void **state)
{
	char err[256], want[64];
	pthread_t t;

	(void)state;
	pthread_barrier_init(&thread_barrier, NULL, 2);
	assert_int_equal(pthread_create(&t, NULL, thread_main, NULL), 0);
	pthread_barrier_wait(&thread_barrier);
	assert_int_equal(target_tgid(thread_tid), getpid());
	assert_int_equal(target_tgid(getpid()), getpid());
	assert_int_equal(target_check(thread_tid, err, sizeof(err)), SMOLDER_EXIT_USAGE);
	snprintf(want, sizeof(want), "use -p %d", (int)getpid());
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "thread id"));
	pthread_barrier_wait(&thread_barrier);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&thread_barrier);
}

static void test_proc_readers(void **state)
{
	struct target_memory mem;
	char name[64];

	(void)state;
	assert_int_equal(target_comm(getpid(), name, sizeof(name)), 0);
	assert_string_equal(name, "test_target");
	assert_int_equal(target_thread_name(getpid(), getpid(), name, sizeof(name)), 0);
	assert_string_equal(name, "test_target");
	assert_int_equal(target_memory(getpid(), &mem), 0);
	assert_true(mem.rss_bytes > 0);
	assert_true(mem.anon_bytes > 0 && mem.anon_bytes <= mem.rss_bytes);
	assert_int_equal(target_memory(0x3ffffff0, &mem), -ESRCH);
}

static void test_launch(void **state)
{
	char *argv[] = {"sh", "-c", "exit 7", NULL};
	char *missing[] = {"/nonexistent/program", NULL};
	struct target_launch l;

	(void)state;
	assert_int_equal(target_launch_prepare(argv, &l), 0);
	/* Held before exec: it must not have run yet. */
	usleep(50000);
	assert_int_equal(target_launch_wait(&l, false), 0);
	assert_int_equal(target_launch_release(&l), 0);
	assert_int_equal(target_launch_wait(&l, true), 1);
	assert_int_equal(target_launch_exit_code(&l), 7);

	/* A command that cannot run is found before the fork. */
	assert_int_equal(target_launch_prepare(missing, &l), -ENOENT);
	assert_int_equal(l.pid, 0);
	char *not_on_path[] = {"smolder-no-such-command", NULL};
	assert_int_equal(target_launch_prepare(not_on_path, &l), -ENOENT);
	char *directory[] = {"/tmp", NULL};
	assert_int_equal(target_launch_prepare(directory, &l), -EACCES);

	/* One that passes the check and still fails in execve (its interpreter is missing) exits
	 * 127, as a shell reports it. */
	char script[] = "/tmp/smolder-test-target-XXXXXX";
	int fd = mkstemp(script);
	assert_true(fd >= 0);
	assert_true(write(fd, "#!/nonexistent/interpreter\n", 27) == 27);
	close(fd);
	chmod(script, 0755);
	char *bad_interp[] = {script, NULL};
	assert_int_equal(target_launch_prepare(bad_interp, &l), 0);
	assert_int_equal(target_launch_release(&l), 0);
	assert_int_equal(target_launch_wait(&l, true), 1);
	assert_int_equal(target_launch_exit_code(&l), 127);
	unlink(script);

	char *sleeper[] = {"sleep", "30", NULL};
	assert_int_equal(target_launch_prepare(sleeper, &l), 0);
	assert_int_equal(target_launch_release(&l), 0);
	assert_int_equal(target_launch_signal(&l, SIGTERM), 0);
	assert_int_equal(target_launch_wait(&l, true), 1);
	assert_int_equal(target_launch_exit_code(&l), 128 + SIGTERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_thread_id),
		cmocka_unit_test(test_proc_readers),
		cmocka_unit_test(test_launch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

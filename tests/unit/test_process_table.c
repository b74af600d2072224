/* test_process_table.c: per-process models on real processes (a forked child of the test): one
 * model per program a pid runs, each with its own "COMMAND [PID]" root frame found back by
 * process_table_find_root; exit makes a reused pid a new model; a child gone before it was read
 * borrows its fork parent's model; distinct pids are counted once; a runtime the caller examined
 * and lent stays the caller's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/process_table.h"
#include "smolder/python.h"

struct fixture {
	struct frame_names *names;
	struct process_table *table;
	pid_t child;
};

static int setup(void **state)
{
	static struct fixture f;

	f.names = frame_names_new();
	f.table = f.names ? process_table_new(f.names) : NULL;
	f.child = fork();
	if (f.child == 0) {
		/* A crashed test must not leave it paused, holding ctest's output pipe open. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pause();
		_exit(0);
	}
	*state = &f;
	return f.table && f.child > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	kill(f->child, SIGKILL);
	waitpid(f->child, NULL, 0);
	process_table_free(f->table);
	frame_names_free(f->names);
	return 0;
}

static void test_models_and_roots(void **state)
{
	struct fixture *f = *state;
	struct process_model *a, *b, *again;
	char want[128], got[128];

	a = process_table_get(f->table, f->child);
	assert_non_null(a);
	assert_non_null(a->unwinder);
	assert_non_null(a->symbolizer);
	assert_int_equal(frame_kind(a->root_frame), FRAME_KIND_PROCESS);
	snprintf(want, sizeof(want), "%s [%d]", a->comm, (int)f->child);
	frame_names_format(f->names, a->root_frame, got, sizeof(got));
	assert_string_equal(got, want);
	again = process_table_get(f->table, f->child);
	assert_ptr_equal(a, again);
	assert_ptr_equal(process_table_find_root(f->table, a->root_frame), a);

	/* An exec: a second model with its own root, the first kept for queued samples. */
	assert_int_equal(process_table_exec(f->table, f->child), 0);
	b = process_table_get(f->table, f->child);
	assert_ptr_not_equal(a, b);
	assert_int_equal(b->exec_count, 1);
	assert_true(a->exited);
	assert_true(b->root_frame != a->root_frame);
	assert_ptr_equal(process_table_find_root(f->table, a->root_frame), a);
	assert_ptr_equal(process_table_find_root(f->table, b->root_frame), b);
	assert_int_equal(process_table_pid_count(f->table), 1);

	/* Not a root frame of this table. */
	assert_null(process_table_find_root(f->table, frame_user(0x401000, 0)));
}

static void test_exit_and_fork_fallback(void **state)
{
	struct fixture *f = *state;
	struct process_model *self, *gone, *reused;
	size_t n_before, n_after;
	pid_t dead = fork();

	if (dead == 0)
		_exit(0);
	assert_true(dead > 0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);

	/* The dead child was forked by us: it borrows our model (same address space). */
	self = process_table_get(f->table, getpid());
	assert_non_null(self);
	assert_int_equal(process_table_fork(f->table, dead, getpid()), 0);
	gone = process_table_get(f->table, dead);
	assert_non_null(gone);
	assert_true(gone->borrowed);
	assert_ptr_equal(gone->unwinder, self->unwinder);
	assert_ptr_equal(gone->symbolizer, self->symbolizer);

	/* After its exit, the pid's next sample is a new process's: a new model. */
	process_table_models(f->table, &n_before);
	process_table_exit(f->table, dead);
	assert_true(gone->exited);
	reused = process_table_get(f->table, dead);
	assert_non_null(reused);
	assert_ptr_not_equal(reused, gone);
	assert_false(reused->borrowed); /* no fork seen for the new process */
	assert_null(reused->unwinder);	/* and it cannot be read: it does not exist */
	process_table_models(f->table, &n_after);
	assert_int_equal(n_after, n_before + 1);
}

/* A launched command's first event is its exec: its model, made at the first sample after it,
 * counts its pid (roots are written only when more than one pid was seen). */
static void test_exec_first_counts_pid(void **state)
{
	struct fixture *f = *state;
	struct frame_names *names = frame_names_new();
	struct process_table *table = names ? process_table_new(names) : NULL;
	struct process_model *m;

	assert_non_null(table);
	assert_int_equal(process_table_exec(table, f->child), 0);
	assert_null(process_table_find(table, f->child));
	m = process_table_get(table, f->child);
	assert_non_null(m);
	assert_int_equal(m->exec_count, 1);
	assert_int_equal(process_table_pid_count(table), 1);
	assert_ptr_equal(process_table_find(table, f->child), m);
	process_table_free(table);
	frame_names_free(names);
}

/* leaks lends its first target's runtime (process_table_python_examined) before attaching; a
 * target gone during attach never gets a model to take it, and the table must not free it (the
 * caller does: freed twice, smolder crashed). Needs a live CPython for a real runtime. */
static void test_examined_runtime_stays_callers(void **state)
{
	static const char *const pythons[] = {"/root/.pyenv/versions/3.12.1/bin/python3",
					      "/usr/bin/python3"};
	struct fixture *f = *state;
	struct process_table *table = process_table_new(f->names);
	struct python_runtime *rt = NULL;
	const char *python = NULL;
	int in[2];
	pid_t pid;

	for (size_t i = 0; i < sizeof(pythons) / sizeof(pythons[0]) && !python; i++)
		if (!access(pythons[i], X_OK))
			python = pythons[i];
	if (!python) {
		process_table_free(table);
		print_message("no CPython installed: skipped\n");
		skip();
	}
	assert_non_null(table);
	assert_int_equal(pipe(in), 0);
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		close(in[1]);
		execl(python, python, "-c", "import sys; sys.stdin.read()", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	/* Until its interpreter runs (EAGAIN meanwhile): up to 20 s on a loaded machine. */
	for (int tries = 0; !rt && tries < 200; tries++) {
		rt = python_runtime_open(pid, f->names);
		if (!rt)
			nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
	}
	close(in[1]);
	waitpid(pid, NULL, 0);
	assert_non_null(rt);

	process_table_python_examined(table, pid, rt);
	process_table_free(table); /* pid never got a model */
	assert_non_null(python_runtime_version(rt));
	python_runtime_free(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_first_counts_pid),
		cmocka_unit_test(test_models_and_roots),
		cmocka_unit_test(test_exit_and_fork_fallback),
		cmocka_unit_test(test_examined_runtime_stays_callers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

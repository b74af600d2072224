/* test_python.c: the CPython runtime (src/runtime/python*.c) against a real interpreter started
 * by the test: discovery and validation, naming a code object, the validated cache (a hit; a
 * non-code address is stale; a code object whose fields change at the same address is re-read,
 * as when a freed code object's address is reused; after the target exits, names validated while
 * it ran are kept and counted), splicing into native stacks, and the fallbacks (not Python:
 * ENOENT; a corrupt offset: EPROTO). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/runtime/python_internal.h"
#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/python.h"

/* The target: a function in a file of a known name, its code object's address, a list's (not a
 * code object) and a str's; waits for stdin to close. */
static const char target_script[] =
	"import sys\n"
	"def target_fn(a):\n"
	"    return a + 1\n"
	"other = 'renamed_fn'\n"
	"lst = [1, 2, 3]\n"
	"print(id(target_fn.__code__), id(lst), id(other), target_fn.__code__.co_firstlineno,\n"
	"      flush=True)\n"
	"sys.stdin.read()\n";

struct target {
	pid_t pid;
	int stdin_fd;
	uint64_t code, list, other;
	int firstlineno;
	int minor;
};

static const char *find_python(int *minor)
{
	static const char *const candidates[] = {"/root/.pyenv/versions/3.12.1/bin/python3",
						 "/root/.pyenv/versions/3.9.18/bin/python3",
						 "/usr/bin/python3.11"};

	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (!access(candidates[i], X_OK)) {
			*minor = strstr(candidates[i], "3.12")	? 12
				 : strstr(candidates[i], "3.9") ? 9
								: 11;
			return candidates[i];
		}
	}
	return NULL;
}

static int start_target(struct target *t, const char *python, const char *dir)
{
	char path[256], line[256];
	int in[2], out[2];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/cache_target.py", dir);
	fp = fopen(path, "w");
	if (!fp)
		return -1;
	fputs(target_script, fp);
	fclose(fp);
	if (pipe(in) || pipe(out))
		return -1;
	t->pid = fork();
	if (t->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		if (chdir(dir) == 0)
			execl(python, python, "cache_target.py", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t->stdin_fd = in[1];
	fp = fdopen(out[0], "r");
	if (!fp || !fgets(line, sizeof(line), fp))
		return -1;
	fclose(fp);
	return sscanf(line, "%lu %lu %lu %d", &t->code, &t->list, &t->other, &t->firstlineno) == 4
		       ? 0
		       : -1;
}

static void stop_target(struct target *t)
{
	close(t->stdin_fd);
	waitpid(t->pid, NULL, 0);
}

static char dir[] = "/tmp/smolder-test-python-XXXXXX";

static void test_runtime(void **state)
{
	struct python_runtime_stats stats;
	struct python_runtime *rt;
	struct frame_names *names;
	struct named_frame nf;
	struct target t = {0};
	const char *python;
	uint64_t frame, frame2, saved, other;
	uint32_t name_off;
	char want[16];
	struct iovec local, remote;

	(void)state;
	python = find_python(&t.minor);
	if (!python) {
		print_message("no CPython 3.9/3.11/3.12 installed: skipped\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	assert_int_equal(start_target(&t, python, dir), 0);
	names = frame_names_new();
	assert_non_null(names);
	rt = python_runtime_open(t.pid, names);
	assert_non_null(rt);
	snprintf(want, sizeof(want), "3.%d", t.minor);
	assert_string_equal(python_runtime_version(rt), want);

	/* A code object that has not started: its first line. instr 0 on 3.11+ (no pointer),
	 * f_lasti -1 before. */
	assert_int_equal(python_runtime_frame(rt, t.code, t.minor >= 11 ? 0 : (uint64_t)-1, &frame),
			 0);
	assert_int_equal(frame_kind(frame), FRAME_KIND_PYTHON);
	assert_int_equal(frame_names_get(names, frame, &nf), 0);
	assert_string_equal(nf.function, "target_fn");
	/* relative to the target's working directory */
	assert_string_equal(nf.file, "cache_target.py");
	assert_int_equal(nf.line, t.firstlineno);
	assert_int_equal(
		python_runtime_frame(rt, t.code, t.minor >= 11 ? 0 : (uint64_t)-1, &frame2), 0);
	assert_int_equal(frame2, frame);
	python_runtime_stats(rt, &stats);
	assert_int_equal(stats.frames_named, 2);
	assert_int_equal(stats.code_cache_hits, 1);

	/* Not a code object. */
	assert_int_equal(python_runtime_frame(rt, t.list, 0, &frame2), -ESTALE);
	assert_int_equal(python_runtime_frame(rt, 0x10, 0, &frame2), -EFAULT);
	python_runtime_stats(rt, &stats);
	assert_int_equal(stats.code_stale, 1);
	assert_int_equal(stats.code_unreadable, 1);

	/* Another code object at the same address: the name field now points at another str. The
	 * checksum changes, the entry is re-read: never the old name. Restored afterwards. */
	name_off = rt->off.minor >= 11 ? rt->off.code_qualname : rt->off.code_name;
	local = (struct iovec){.iov_base = &saved, .iov_len = 8};
	remote = (struct iovec){.iov_base = (void *)(uintptr_t)(t.code + name_off), .iov_len = 8};
	assert_int_equal(process_vm_readv(t.pid, &local, 1, &remote, 1, 0), 8);
	other = t.other;
	local.iov_base = &other;
	assert_int_equal(process_vm_writev(t.pid, &local, 1, &remote, 1, 0), 8);
	/* An entry checked less than 10 ms ago is trusted; after that it is checked again. */
	usleep(30 * 1000);
	assert_int_equal(
		python_runtime_frame(rt, t.code, t.minor >= 11 ? 0 : (uint64_t)-1, &frame2), 0);
	assert_int_equal(frame_names_get(names, frame2, &nf), 0);
	assert_string_equal(nf.function, "renamed_fn");
	local.iov_base = &saved;
	assert_int_equal(process_vm_writev(t.pid, &local, 1, &remote, 1, 0), 8);
	usleep(30 * 1000);
	assert_int_equal(
		python_runtime_frame(rt, t.code, t.minor >= 11 ? 0 : (uint64_t)-1, &frame2), 0);
	assert_int_equal(frame2, frame);
	python_runtime_stats(rt, &stats);
	assert_int_equal(stats.code_cache_hits, 1);

	/* A fork's runtime (python_runtime_fork; here "forked" to the same process, whose memory
	 * a fork child shares at the fork): the same interpreter facts, nothing read, its own empty
	 * code cache, the same names. */
	{
		struct python_runtime *fork = python_runtime_fork(rt, t.pid);
		struct python_runtime_stats fs;

		assert_non_null(fork);
		assert_string_equal(python_runtime_version(fork), python_runtime_version(rt));
		assert_string_equal(python_runtime_object(fork), python_runtime_object(rt));
		assert_true(python_runtime_is_eval_frame(fork, rt->eval_lo));
		assert_true(python_runtime_is_internal(fork, rt->text_ranges[0]));
		assert_int_equal(python_runtime_frame(fork, t.code,
						      t.minor >= 11 ? 0 : (uint64_t)-1, &frame2),
				 0);
		assert_int_equal(frame2, frame);
		python_runtime_stats(fork, &fs);
		assert_int_equal(fs.frames_named, 1);
		assert_int_equal(fs.code_cache_hits, 0);
		python_runtime_free(fork);
	}

	/* Splicing: [leaf libc, eval, internal, eval, internal, main] with two groups. */
	{
		uint64_t eval = rt->eval_lo + 16, internal = rt->text_ranges[0] + 8;
		uint64_t native[] = {0x7f0000001000ULL, eval, internal, eval, internal, 0x401000};
		uint64_t py[] = {frame_named(FRAME_KIND_PYTHON, 1),
				 frame_named(FRAME_KIND_PYTHON, 2),
				 frame_named(FRAME_KIND_PYTHON, 3)};
		uint32_t flags[] = {0, SMOLDER_PY_FRAME_ENTRY, SMOLDER_PY_FRAME_ENTRY};
		uint64_t out[16];
		size_t n;

		assert_true(python_runtime_is_eval_frame(rt, eval));
		assert_true(python_runtime_is_internal(rt, internal));
		assert_false(python_runtime_is_internal(rt, 0x7f0000001000ULL));
		n = python_runtime_merge(rt, native, 6, py, flags, 3, false, out, 16);
		assert_int_equal(n, 5);
		assert_int_equal(out[0], native[0]);
		assert_int_equal(out[1], py[0]);
		assert_int_equal(out[2], py[1]);
		assert_int_equal(out[3], py[2]);
		assert_int_equal(out[4], native[5]);
		n = python_runtime_merge(rt, native, 6, py, flags, 3, true, out, 16);
		assert_int_equal(n, 7);
		assert_int_equal(out[3], internal);
		assert_int_equal(out[5], internal);
		/* A native stack cut short: the groups left over go to the root end. */
		n = python_runtime_merge(rt, native, 2, py, flags, 3, false, out, 16);
		assert_int_equal(n, 4);
		assert_int_equal(out[3], py[2]);
		/* More eval frames than groups: the one left over is dropped (kept with --native).
		 */
		n = python_runtime_merge(rt, native, 6, py, flags, 2, false, out, 16);
		assert_int_equal(n, 4);
		assert_int_equal(out[1], py[0]);
		assert_int_equal(out[2], py[1]);
		assert_int_equal(out[3], native[5]);
		n = python_runtime_merge(rt, native, 6, py, flags, 2, true, out, 16);
		assert_int_equal(n, 7);
		assert_int_equal(out[4], eval);
		/* cap is respected */
		assert_int_equal(python_runtime_merge(rt, native, 6, py, flags, 3, false, out, 2),
				 2);
	}

	/* A corrupt offset does not validate. */
	setenv("SMOLDER_PYTHON_OFFSET", "tstate_interp=24", 1);
	errno = 0;
	assert_null(python_runtime_open(t.pid, names));
	assert_int_equal(errno, EPROTO);
	setenv("SMOLDER_PYTHON_OFFSET", "no_such_offset=1", 1);
	assert_null(python_runtime_open(t.pid, names));
	unsetenv("SMOLDER_PYTHON_OFFSET");

	/* After the target exits, names validated while it ran are kept, counted as unverified. */
	stop_target(&t);
	usleep(30 * 1000);
	assert_int_equal(
		python_runtime_frame(rt, t.code, t.minor >= 11 ? 0 : (uint64_t)-1, &frame2), 0);
	assert_int_equal(frame2, frame);
	python_runtime_stats(rt, &stats);
	assert_int_equal(stats.code_unverified, 1);
	/* A code object never seen cannot be named. */
	assert_int_equal(python_runtime_frame(rt, t.list, 0, &frame2), -EFAULT);

	python_runtime_free(rt);
	python_runtime_free(NULL);
	frame_names_free(names);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		assert_int_equal(system(cmd), 0);
	}
}

static void test_not_python(void **state)
{
	struct frame_names *names = frame_names_new();
	pid_t pid;

	(void)state;
	pid = fork();
	if (pid == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	usleep(100 * 1000);
	errno = 0;
	assert_null(python_runtime_open(pid, names));
	assert_int_equal(errno, ENOENT);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	errno = 0;
	assert_null(python_runtime_open(pid, names));
	assert_true(errno == ESRCH || errno == ENOENT);
	frame_names_free(names);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runtime),
		cmocka_unit_test(test_not_python),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

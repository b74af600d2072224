/* test_mixed_stack.c: the BPF Python walk's read window (mixed_stack_walk_window) for each
 * version's frame layout, and how outputs recognise a Python frame by its name
 * (flamegraph_frame_is_python). Splicing itself runs against a real interpreter in test_python
 * and the integration tests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "flamegraph.h"
#include "smolder/mixed_stack.h"

#define N SMOLDER_PY_NO_OFFSET

static struct smolder_python_config layout(uint32_t minor, uint32_t previous, uint32_t code,
					   uint32_t instr, uint32_t is_entry, uint32_t owner)
{
	struct smolder_python_config cfg = {
		.version = 0x0300 | minor,
		.frame_previous = previous,
		.frame_code = code,
		.frame_instr = instr,
		.frame_is_entry = is_entry,
		.frame_owner = owner,
		.cframe_current_frame = N,
		.owner_cstack = N,
	};
	return cfg;
}

static void test_window_per_version(void **state)
{
	/* Offsets of the pyenv builds (gdb on their DWARF). */
	struct smolder_python_config v38 = layout(8, 24, 32, 104, N, N);
	struct smolder_python_config v311 = layout(11, 48, 32, 56, 68, 69);
	struct smolder_python_config v312 = layout(12, 8, 0, 56, N, 70);

	(void)state;
	assert_int_equal(mixed_stack_walk_window(&v38), 0);
	assert_int_equal(v38.frame_read_offset, 24);
	assert_int_equal(v38.frame_read_size, 104 + 8 - 24); /* f_lasti read as 8 bytes */
	assert_int_equal(mixed_stack_walk_window(&v311), 0);
	assert_int_equal(v311.frame_read_offset, 32);
	assert_int_equal(v311.frame_read_size, 69 + 1 - 32); /* up to the owner byte */
	assert_int_equal(mixed_stack_walk_window(&v312), 0);
	assert_int_equal(v312.frame_read_offset, 0);
	assert_int_equal(v312.frame_read_size, 71);
	assert_int_equal(v312.max_frames, SMOLDER_PYTHON_MAX_FRAMES);
}

static void test_window_limits(void **state)
{
	struct smolder_python_config wide = layout(12, 0, 8, SMOLDER_PYTHON_FRAME_READ, N, N);
	struct smolder_python_config off = {0};
	struct smolder_python_config capped = layout(12, 8, 0, 56, N, 70);

	(void)state;
	/* Fields spanning more than one read: refused, never read out of bounds. */
	assert_int_equal(mixed_stack_walk_window(&wide), -EINVAL);
	/* Not Python: nothing to set up. */
	assert_int_equal(mixed_stack_walk_window(&off), 0);
	assert_int_equal(off.frame_read_size, 0);
	capped.max_frames = 100000;
	assert_int_equal(mixed_stack_walk_window(&capped), 0);
	assert_int_equal(capped.max_frames, SMOLDER_PYTHON_MAX_FRAMES);
	capped.max_frames = 50;
	assert_int_equal(mixed_stack_walk_window(&capped), 0);
	assert_int_equal(capped.max_frames, 50);
}

static int is_python(const char *name)
{
	return flamegraph_frame_is_python(name, strlen(name));
}

static void test_python_frame_names(void **state)
{
	(void)state;
	assert_true(is_python("phase_a (cpu_phases.py:12)"));
	assert_true(is_python("Thread.run (threading.py:975)"));
	assert_true(is_python("main.<locals>.<lambda> (/srv/app/x.py:91)"));
	assert_true(is_python("phase_a (cpu_phases.py)")); /* --function */
	assert_false(is_python("main"));
	assert_false(is_python("foo (bar.c:12)"));
	assert_false(is_python("x.py:12)"));
	assert_false(is_python("[python truncated]"));
	assert_false(is_python("f (a.py:12"));
	assert_false(is_python("f (a.pyx:12)"));
	assert_false(is_python(".py)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_per_version),
		cmocka_unit_test(test_window_limits),
		cmocka_unit_test(test_python_frame_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_frame_names.c: the frame encoding (frame.h) keeps kernel, user and named frames apart, and
 * the registry interns tuples to stable frames, formats them and rejects foreign values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smolder/frame_names.h"

static void test_encoding(void **state)
{
	uint64_t u = frame_user(0x7fffdeadbeefULL, 5), k = 0xffffffff81000000ULL;
	uint64_t n = frame_named(FRAME_KIND_PYTHON, 42);

	(void)state;
	assert_true(frame_is_user(u));
	assert_false(frame_is_kernel(u));
	assert_false(frame_is_named(u));
	assert_int_equal(frame_user_address(u), 0x7fffdeadbeefULL);
	assert_int_equal(frame_user_generation(u), 5);
	assert_int_equal(frame_user(0x401000, 0), 0x401000);
	assert_true(frame_is_kernel(k));
	assert_false(frame_is_named(k));
	assert_false(frame_is_user(k));
	assert_int_equal(frame_kind(k), FRAME_KIND_NATIVE);
	assert_true(frame_is_named(n));
	assert_false(frame_is_kernel(n));
	assert_int_equal(frame_kind(n), FRAME_KIND_PYTHON);
	assert_int_equal(frame_named_id(n), 42);
	/* The largest generation stays a user frame. */
	u = frame_user(FRAME_USER_ADDRESS_MASK, FRAME_GENERATION_MAX);
	assert_true(frame_is_user(u));
	assert_int_equal(frame_user_generation(u), FRAME_GENERATION_MAX);
}

static void test_intern(void **state)
{
	struct frame_names *names = frame_names_new();
	uint64_t a, b, c, d, again;
	struct named_frame nf;
	char buf[64];

	(void)state;
	assert_non_null(names);
	assert_int_equal(frame_names_intern(names, FRAME_KIND_PYTHON, "f", "app.py", 3, &a), 0);
	assert_int_equal(frame_names_intern(names, FRAME_KIND_PYTHON, "f", "app.py", 4, &b), 0);
	assert_int_equal(frame_names_intern(names, FRAME_KIND_JS, "f", "app.py", 3, &c), 0);
	assert_int_equal(frame_names_intern(names, FRAME_KIND_MARKER, "[truncated]", NULL, 0, &d),
			 0);
	assert_int_equal(frame_names_intern(names, FRAME_KIND_PYTHON, "f", "app.py", 3, &again), 0);
	assert_int_equal(a, again);
	assert_int_not_equal(a, b);
	assert_int_not_equal(a, c);
	assert_int_equal(frame_kind(c), FRAME_KIND_JS);
	assert_int_equal(frame_names_count(names), 4);
	assert_int_equal(frame_names_get(names, b, &nf), 0);
	assert_string_equal(nf.function, "f");
	assert_string_equal(nf.file, "app.py");
	assert_int_equal(nf.line, 4);
	assert_int_equal(frame_names_get(names, d, &nf), 0);
	assert_null(nf.file);
	assert_int_equal(frame_names_get(names, 0x401000, &nf), -ENOENT);
	assert_int_equal(frame_names_get(names, frame_named(FRAME_KIND_PYTHON, 99), &nf), -ENOENT);
	/* Right id, wrong kind: not ours. */
	assert_int_equal(frame_names_get(names, frame_named(FRAME_KIND_JS, 0), &nf), -ENOENT);
	assert_int_equal(frame_names_intern(names, FRAME_KIND_NATIVE, "x", NULL, 0, &again),
			 -EINVAL);
	assert_int_equal(frame_names_intern(names, FRAME_KIND_PYTHON, NULL, NULL, 0, &again),
			 -EINVAL);

	frame_names_format(names, a, buf, sizeof(buf));
	assert_string_equal(buf, "f (app.py:3)");
	frame_names_format(names, d, buf, sizeof(buf));
	assert_string_equal(buf, "[truncated]");
	assert_int_equal(frame_names_intern(names, FRAME_KIND_PYTHON, "a;b\nc", "x.py", 0, &a), 0);
	frame_names_format(names, a, buf, sizeof(buf));
	assert_string_equal(buf, "a:b?c (x.py)");
	assert_int_equal(frame_names_format(names, 0x401000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	frame_names_free(names);
	frame_names_free(NULL);
}

static void test_many(void **state)
{
	struct frame_names *names = frame_names_new();
	char fn[32];
	uint64_t f;

	(void)state;
	assert_non_null(names);
	for (uint32_t i = 0; i < 100000; i++) {
		snprintf(fn, sizeof(fn), "fn%u", i % 50000);
		assert_int_equal(
			frame_names_intern(names, FRAME_KIND_PYTHON, fn, "m.py", i % 7, &f), 0);
	}
	/* 50000 names x 7 lines, but i%50000 and i%7 pair up in 100000 distinct ways. */
	assert_int_equal(frame_names_count(names), 100000);
	for (uint32_t i = 0; i < 100000; i++) {
		struct named_frame nf;

		snprintf(fn, sizeof(fn), "fn%u", i % 50000);
		assert_int_equal(
			frame_names_intern(names, FRAME_KIND_PYTHON, fn, "m.py", i % 7, &f), 0);
		assert_int_equal(frame_named_id(f), i);
		assert_int_equal(frame_names_get(names, f, &nf), 0);
		assert_string_equal(nf.function, fn);
	}
	assert_true(frame_names_memory(names) > 100000);
	frame_names_free(names);
}

/* The [truncated] marker: one frame value per registry, recognised only as itself. */
static void test_truncated_marker(void **state)
{
	struct frame_names *names = frame_names_new();
	uint64_t t1, t2, other, python;
	char buf[64];

	(void)state;
	assert_non_null(names);
	assert_false(frame_names_is_truncated(names, 0));
	assert_int_equal(frame_names_truncated(names, &t1), 0);
	assert_int_equal(frame_names_truncated(names, &t2), 0);
	assert_true(t1 == t2);
	assert_int_equal(frame_kind(t1), FRAME_KIND_MARKER);
	assert_true(frame_names_is_truncated(names, t1));
	assert_int_equal(
		frame_names_intern(names, FRAME_KIND_MARKER, "[python truncated]", NULL, 0, &other),
		0);
	assert_false(frame_names_is_truncated(names, other));
	/* Same text, another kind: a Python function that happens to be called "[truncated]". */
	assert_int_equal(frame_names_intern(names, FRAME_KIND_PYTHON, FRAME_MARKER_TRUNCATED, NULL,
					    0, &python),
			 0);
	assert_false(frame_names_is_truncated(names, python));
	assert_false(frame_names_is_truncated(names, frame_user(0x401000, 0)));
	assert_false(frame_names_is_truncated(NULL, t1));
	assert_true(frame_names_format(names, t1, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "[truncated]");
	frame_names_free(names);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_intern),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_truncated_marker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

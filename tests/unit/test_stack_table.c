/* test_stack_table.c: interning gives stable dense ids, distinguishes prefixes, survives growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "smolder/stack_table.h"

static void test_intern(void **state)
{
	struct stack_table *t = stack_table_new();
	uint64_t a[] = {1, 2, 3}, b[] = {1, 2}, c[] = {3, 2, 1};
	uint32_t ia, ib, ic, again, empty, n;
	const uint64_t *frames;

	(void)state;
	assert_non_null(t);
	assert_int_equal(stack_table_add(t, a, 3, &ia), 0);
	assert_int_equal(stack_table_add(t, b, 2, &ib), 0);
	assert_int_equal(stack_table_add(t, c, 3, &ic), 0);
	assert_int_equal(stack_table_add(t, NULL, 0, &empty), 0);
	assert_int_equal(stack_table_add(t, a, 3, &again), 0);
	assert_int_equal(ia, 0);
	assert_int_equal(ib, 1);
	assert_int_equal(ic, 2);
	assert_int_equal(empty, 3);
	assert_int_equal(again, ia);
	assert_int_equal(stack_table_count(t), 4);
	frames = stack_table_get(t, ic, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(frames, c, sizeof(c));
	assert_null(stack_table_get(t, 99, &n));
	stack_table_free(t);
	stack_table_free(NULL);
}

static void test_many(void **state)
{
	struct stack_table *t = stack_table_new();
	uint64_t frames[8];
	uint32_t id, n;

	(void)state;
	for (uint32_t i = 0; i < 100000; i++) {
		for (int k = 0; k < 8; k++)
			frames[k] = 0x400000 + i * 16 + (uint64_t)k;
		assert_int_equal(stack_table_add(t, frames, 1 + i % 8, &id), 0);
		assert_int_equal(id, i);
	}
	for (uint32_t i = 0; i < 100000; i += 997) {
		const uint64_t *f;

		for (int k = 0; k < 8; k++)
			frames[k] = 0x400000 + i * 16 + (uint64_t)k;
		assert_int_equal(stack_table_add(t, frames, 1 + i % 8, &id), 0);
		assert_int_equal(id, i);
		f = stack_table_get(t, id, &n);
		assert_int_equal(n, 1 + i % 8);
		assert_memory_equal(f, frames, n * sizeof(*f));
	}
	assert_int_equal(stack_table_count(t), 100000);
	assert_true(stack_table_memory(t) > 100000 * sizeof(uint64_t));
	stack_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intern),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

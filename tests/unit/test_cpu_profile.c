/* test_cpu_profile.c: samples aggregate per (stack, thread); kernel frames come before user frames
 * in the stored stack; totals split complete / truncated / kernel only; names survive; growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "smolder/cpu_profile.h"
#include "smolder/frame_names.h"

static uint64_t count_of(const struct cpu_profile *p, uint32_t stack_id, int32_t tid)
{
	const struct cpu_profile_entry *e;
	size_t n;

	e = cpu_profile_entries(p, &n);
	for (size_t i = 0; i < n; i++)
		if (e[i].stack_id == stack_id && e[i].tid == tid)
			return e[i].count;
	return 0;
}

static void test_aggregate(void **state)
{
	struct cpu_profile *p = cpu_profile_new(42);
	uint64_t user[] = {0x401000, 0x402000, 0x403000};
	uint64_t kernel[] = {0xffffffff81000000ULL, 0xffffffff81000100ULL};
	struct cpu_profile_totals t;
	const uint64_t *frames;
	const struct cpu_profile_entry *e;
	uint32_t n;
	size_t n_entries;

	(void)state;
	assert_non_null(p);
	assert_int_equal(cpu_profile_pid(p), 42);
	for (int i = 0; i < 5; i++)
		assert_int_equal(
			cpu_profile_add(p, 100, user, 3, NULL, 0, CPU_PROFILE_SAMPLE_COMPLETE), 0);
	assert_int_equal(cpu_profile_add(p, 101, user, 3, NULL, 0, CPU_PROFILE_SAMPLE_COMPLETE), 0);
	assert_int_equal(cpu_profile_add(p, 100, user, 1, kernel, 2, CPU_PROFILE_SAMPLE_TRUNCATED),
			 0);
	assert_int_equal(cpu_profile_add(p, 100, NULL, 0, kernel, 2, 0), 0);
	cpu_profile_add_lost(p, 3);

	e = cpu_profile_entries(p, &n_entries);
	assert_int_equal(n_entries, 4);
	assert_int_equal(count_of(p, e[0].stack_id, 100), 5);
	assert_int_equal(count_of(p, e[0].stack_id, 101), 1);
	/* Kernel leaf first, then the user stack, which did not reach its root: the [truncated]
	 * marker is its outermost frame. */
	frames = stack_table_get(cpu_profile_stacks(p), e[2].stack_id, &n);
	assert_int_equal(n, 4);
	assert_true(frames[0] == kernel[0] && frames[1] == kernel[1] && frames[2] == user[0]);
	assert_true(cpu_profile_is_kernel_address(frames[0]));
	assert_false(cpu_profile_is_kernel_address(frames[2]));
	assert_true(frame_names_is_truncated(cpu_profile_names(p), frames[3]));
	/* Complete stacks and kernel-only ones carry no marker. */
	frames = stack_table_get(cpu_profile_stacks(p), e[0].stack_id, &n);
	assert_int_equal(n, 3);
	assert_false(frame_names_is_truncated(cpu_profile_names(p), frames[2]));
	frames = stack_table_get(cpu_profile_stacks(p), e[3].stack_id, &n);
	assert_int_equal(n, 2);

	cpu_profile_get_totals(p, &t);
	assert_int_equal(t.samples, 8);
	assert_int_equal(t.complete, 6);
	assert_int_equal(t.truncated, 1);
	assert_int_equal(t.kernel_only, 1);
	assert_int_equal(t.lost, 3);
	cpu_profile_set_unknown_frames(p, 9);
	cpu_profile_get_totals(p, &t);
	assert_int_equal(t.unknown_frames, 9);
	assert_true(cpu_profile_memory(p) > 0);
	cpu_profile_free(p);
	cpu_profile_free(NULL);
}

static void test_thread_names(void **state)
{
	struct cpu_profile *p = cpu_profile_new(1);
	uint64_t ip = 0x1000;

	(void)state;
	assert_null(cpu_profile_thread_name(p, 7));
	assert_false(cpu_profile_has_thread(p, 7));
	assert_int_equal(cpu_profile_add(p, 7, &ip, 1, NULL, 0, 0), 0);
	assert_true(cpu_profile_has_thread(p, 7));
	assert_null(cpu_profile_thread_name(p, 7));
	assert_int_equal(cpu_profile_set_thread_name(p, 7, "worker"), 0);
	assert_int_equal(cpu_profile_set_thread_name(p, 8, "other"), 0);
	assert_int_equal(cpu_profile_set_thread_name(p, 7, "renamed"), 0);
	assert_string_equal(cpu_profile_thread_name(p, 7), "renamed");
	assert_string_equal(cpu_profile_thread_name(p, 8), "other");
	cpu_profile_free(p);
}

static void test_growth(void **state)
{
	struct cpu_profile *p = cpu_profile_new(1);
	struct cpu_profile_totals t;
	size_t n;

	(void)state;
	/* 5000 stacks x 3 threads, each added twice: hash resizes keep every cell findable. */
	for (int round = 0; round < 2; round++)
		for (uint64_t s = 0; s < 5000; s++)
			for (int32_t tid = 1; tid <= 3; tid++) {
				uint64_t ips[2] = {0x400000 + s, 0x500000};

				assert_int_equal(cpu_profile_add(p, tid, ips, 2, NULL, 0, 0), 0);
			}
	cpu_profile_entries(p, &n);
	assert_int_equal(n, 15000);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(cpu_profile_entries(p, &n)[i].count, 2);
	assert_int_equal(stack_table_count(cpu_profile_stacks(p)), 5000);
	cpu_profile_get_totals(p, &t);
	assert_int_equal(t.samples, 30000);
	assert_int_equal(t.truncated, 30000);
	cpu_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aggregate),
		cmocka_unit_test(test_thread_names),
		cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_offcpu_collector.c: the off-CPU logic that needs no kernel: the weight-preserving sampling
 * the BPF program applies (smolder_offcpu_weight, events.h), the state of a switched-out thread
 * (smolder_offcpu_state_of), the finding's blocking point, and the time-weighted aggregation of
 * records under their state frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "smolder/cpu_profile.h"
#include "smolder/events.h"
#include "smolder/frame.h"
#include "smolder/frame_names.h"
#include "smolder/offcpu_collector.h"

static void test_weight_long_blocks_kept_whole(void **state)
{
	(void)state;
	/* d >= T: always kept with weight d, whatever the random number. */
	assert_int_equal(smolder_offcpu_weight(1000000, 1000000, 0xffffffffu), 1000000);
	assert_int_equal(smolder_offcpu_weight(7000000, 1000000, 0), 7000000);
	assert_int_equal(smolder_offcpu_weight(7000000, 1000000, 0xffffffffu), 7000000);
	assert_int_equal(smolder_offcpu_weight(0, 1000000, 0), 0);
	/* T = 0: no sampling. */
	assert_int_equal(smolder_offcpu_weight(5, 0, 0xffffffffu), 5);
}

static void test_weight_short_blocks_unbiased(void **state)
{
	const uint64_t t = 1000000;
	const uint64_t ds[] = {1, 999, 250000, 300000, 999999};

	(void)state;
	for (size_t k = 0; k < sizeof(ds) / sizeof(ds[0]); k++) {
		uint64_t d = ds[k], kept = 0, sum = 0, n = 1u << 16;

		/* r over an even grid of [0, 2^32): the kept fraction is d/T, so the mean weight
		 * (T when kept) is d, within one grid step. */
		for (uint64_t i = 0; i < n; i++) {
			uint64_t w = smolder_offcpu_weight(d, t, (uint32_t)(i << 16));

			assert_true(w == 0 || w == t);
			kept += w != 0;
			sum += w;
		}
		assert_true((double)sum / (double)n >= (double)d - (double)t / (double)n);
		assert_true((double)sum / (double)n <= (double)d + (double)t / (double)n);
		/* Bounded records: at most blocked time / T + 1 of them. */
		assert_true(kept <= (d * n) / t + 1);
	}
	/* The largest threshold allowed keeps the arithmetic in 64 bits. */
	assert_int_equal(smolder_offcpu_weight(SMOLDER_OFFCPU_MIN_BLOCK_MAX_NS - 1,
					       SMOLDER_OFFCPU_MIN_BLOCK_MAX_NS, 0),
			 SMOLDER_OFFCPU_MIN_BLOCK_MAX_NS);
	assert_int_equal(smolder_offcpu_weight(1, SMOLDER_OFFCPU_MIN_BLOCK_MAX_NS, 0xffffffffu), 0);
}

static void test_state_of(void **state)
{
	(void)state;
	/* Preempted, or switched out still TASK_RUNNING: waiting for a CPU. */
	assert_int_equal(smolder_offcpu_state_of(SMOLDER_TASK_INTERRUPTIBLE, 1, 202),
			 SMOLDER_OFFCPU_RUNNABLE);
	assert_int_equal(smolder_offcpu_state_of(0, 0, 0), SMOLDER_OFFCPU_RUNNABLE);
	/* futex: lock, interruptible or not. */
	assert_int_equal(smolder_offcpu_state_of(SMOLDER_TASK_INTERRUPTIBLE, 0, 202),
			 SMOLDER_OFFCPU_LOCK);
	/* D state: I/O; TASK_KILLABLE (0x100 | D) too. */
	assert_int_equal(smolder_offcpu_state_of(SMOLDER_TASK_UNINTERRUPTIBLE, 0, 0),
			 SMOLDER_OFFCPU_IO);
	assert_int_equal(smolder_offcpu_state_of(0x100 | SMOLDER_TASK_UNINTERRUPTIBLE, 0, -1),
			 SMOLDER_OFFCPU_IO);
	/* Other interruptible waits (nanosleep 230, epoll_wait 232, read 0) and page faults
	 * (orig_ax -1): sleep. */
	assert_int_equal(smolder_offcpu_state_of(SMOLDER_TASK_INTERRUPTIBLE, 0, 230),
			 SMOLDER_OFFCPU_SLEEP);
	assert_int_equal(smolder_offcpu_state_of(SMOLDER_TASK_INTERRUPTIBLE, 0, -1),
			 SMOLDER_OFFCPU_SLEEP);
	assert_string_equal(offcpu_state_name(SMOLDER_OFFCPU_LOCK), "lock");
	assert_string_equal(offcpu_state_name(99), "unknown");
}

static void test_blocking_point(void **state)
{
	const char *mutex[] = {"__schedule_[k]",
			       "futex_wait_[i]",
			       "__lll_lock_wait",
			       "lll_mutex_lock_optimized_[i]",
			       "___pthread_mutex_lock",
			       "contended_get",
			       "waiter",
			       "start_thread",
			       "[lock]"};
	const char *sleep[] = {"do_nanosleep_[k]", "__GI___clock_nanosleep",
			       "__nanosleep",	   "sleep_ms_[i]",
			       "sleep_phase",	   "sleeper"};
	const char *app_leaf[] = {"schedule_[k]", "wait_for_io", "serve", "[io]"};
	const char *kernel_only[] = {"schedule_[k]", "[blocked at end]", "[sleep]"};
	char in[64], under[64];

	(void)state;
	assert_true(offcpu_blocking_point(mutex, 9, in, under, sizeof(in)));
	assert_string_equal(in, "pthread_mutex_lock");
	assert_string_equal(under, "contended_get");
	assert_true(offcpu_blocking_point(sleep, 6, in, under, sizeof(in)));
	assert_string_equal(in, "nanosleep");
	assert_string_equal(under, "sleep_ms");
	assert_true(offcpu_blocking_point(app_leaf, 4, in, under, sizeof(in)));
	assert_string_equal(in, "wait_for_io");
	assert_string_equal(under, "serve");
	assert_false(offcpu_blocking_point(kernel_only, 3, in, under, sizeof(in)));
}

static void test_add_weighted_under_state(void **state)
{
	struct frame_names *names = frame_names_new();
	struct offcpu_collector *oc = offcpu_collector_new(0);
	uint64_t user[2] = {frame_user(0x401000, 0), frame_user(0x402000, 0)};
	uint64_t kernel[1] = {0xffffffff81000000ULL};
	const struct cpu_profile_entry *e;
	struct named_frame nf;
	size_t n;

	(void)state;
	assert_non_null(names);
	assert_non_null(oc);
	assert_int_equal(offcpu_collector_min_block_ns(oc), SMOLDER_OFFCPU_MIN_BLOCK_DEFAULT_NS);
	assert_int_equal(offcpu_collector_open(oc, 1, names), 0);
	/* 7 ms in sleep, twice, same stack: one cell of 14000 us; 1 us rounding to the nearest. */
	assert_int_equal(offcpu_collector_add(oc, 0, 1, 1, user, 2, kernel, 1,
					      CPU_PROFILE_SAMPLE_COMPLETE, SMOLDER_OFFCPU_SLEEP,
					      7000400),
			 0);
	assert_int_equal(offcpu_collector_add(oc, 0, 1, 1, user, 2, kernel, 1,
					      CPU_PROFILE_SAMPLE_COMPLETE, SMOLDER_OFFCPU_SLEEP,
					      6999600),
			 0);
	assert_int_equal(offcpu_collector_add(oc, 0, 1, 1, user, 2, kernel, 1,
					      CPU_PROFILE_SAMPLE_COMPLETE, SMOLDER_OFFCPU_LOCK,
					      1000000),
			 0);
	assert_int_equal(offcpu_collector_add(oc, 0, 1, 1, user, 2, kernel, 1, 0, 7, 1), -EINVAL);
	/* The state frame is the stack's outermost: "[sleep]" in the shared registry. */
	{
		struct cpu_profile *p = cpu_profile_new_with_names(1, names);

		assert_non_null(p);
		assert_int_equal(cpu_profile_add_weighted(p, 0, user[1], 1, user, 1, NULL, 0,
							  CPU_PROFILE_SAMPLE_COMPLETE, 42),
				 0);
		e = cpu_profile_entries(p, &n);
		assert_int_equal(n, 1);
		assert_int_equal(e[0].count, 42);
		cpu_profile_free(p); /* borrowed names stay */
	}
	/* The state markers were interned by open: interning "[sleep]" again adds nothing. */
	n = frame_names_count(names);
	{
		uint64_t f;

		assert_int_equal(
			frame_names_intern(names, FRAME_KIND_MARKER, "[sleep]", NULL, 0, &f), 0);
		assert_int_equal(frame_names_get(names, f, &nf), 0);
		assert_string_equal(nf.function, "[sleep]");
	}
	assert_int_equal(frame_names_count(names), n);
	offcpu_collector_free(oc);
	offcpu_collector_free(NULL);
	frame_names_free(names);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weight_long_blocks_kept_whole),
		cmocka_unit_test(test_weight_short_blocks_unbiased),
		cmocka_unit_test(test_state_of),
		cmocka_unit_test(test_blocking_point),
		cmocka_unit_test(test_add_weighted_under_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

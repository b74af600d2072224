/* test_timeline.c: the bounded timeline series: appending up to the bound, halving when full
 * (counters add, percentages average, levels and t are the later point's), an odd last point,
 * many halvings keeping time order and the counters' totals, and RSS growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>

#include "smolder/timeline.h"

static struct timeline_point point(int i)
{
	return (struct timeline_point){.t = i + 1,
				       .cpu_user_pct = i % 2 ? 30 : 10,
				       .rss_bytes = 1000 + (uint64_t)i,
				       .read_bytes = 7,
				       .minor_faults = (uint64_t)i,
				       .threads = (uint64_t)i};
}

static void test_downsample_pairs(void **state)
{
	struct timeline *tl = timeline_new(4, NULL);

	(void)state;
	assert_non_null(tl);
	for (int i = 0; i < 4; i++) {
		struct timeline_point p = point(i);

		timeline_append(tl, &p);
	}
	assert_int_equal(tl->n_points, 4);
	/* The fifth point halves the series first: 2 merged + the new one. */
	struct timeline_point p = point(4);

	timeline_append(tl, &p);
	assert_int_equal(tl->n_points, 3);
	assert_true(tl->points[0].t == 2 && tl->points[1].t == 4 && tl->points[2].t == 5);
	assert_true(tl->points[0].cpu_user_pct == 20);	     /* averaged */
	assert_int_equal(tl->points[0].read_bytes, 14);	     /* added */
	assert_int_equal(tl->points[1].minor_faults, 2 + 3); /* added */
	assert_int_equal(tl->points[1].rss_bytes, 1003);     /* the later level */
	assert_int_equal(tl->points[1].threads, 3);
	timeline_free(tl);
}

static void test_downsample_odd(void **state)
{
	struct timeline *tl = timeline_new(8, NULL);

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct timeline_point p = point(i);

		timeline_append(tl, &p);
	}
	timeline_downsample(tl);
	assert_int_equal(tl->n_points, 1);
	assert_true(tl->points[0].t == 2);
	timeline_free(tl);
}

static void test_long_run_bounded(void **state)
{
	struct timeline *tl = timeline_new(100, NULL);
	uint64_t read = 0;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		struct timeline_point p = point(i);

		timeline_append(tl, &p);
		assert_true(tl->n_points <= 100);
	}
	assert_true(tl->n_points > 50);
	for (size_t i = 0; i < tl->n_points; i++) {
		read += tl->points[i].read_bytes;
		if (i)
			assert_true(tl->points[i].t > tl->points[i - 1].t);
	}
	/* Only the points dropped as odd leftovers are missing from the total: a few halvings'
	 * worth at most, never the bulk. */
	assert_true(read <= 7ULL * 100000 && read >= 7ULL * 100000 * 9 / 10);
	assert_true(tl->points[tl->n_points - 1].t == 100000);
	timeline_free(tl);
}

static void test_rss_growth(void **state)
{
	struct timeline *tl = timeline_new(0, NULL);
	struct timeline_point p = point(0);

	(void)state;
	assert_int_equal(tl->max_points, TIMELINE_MAX_POINTS);
	assert_true(timeline_rss_growth(tl) == 0);
	tl->first_rss = 500;
	p.rss_bytes = 64 << 20;
	timeline_append(tl, &p);
	assert_true(timeline_rss_growth(tl) == (double)(64 << 20) - 500);
	timeline_free(tl);
	timeline_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_downsample_pairs),
		cmocka_unit_test(test_downsample_odd),
		cmocka_unit_test(test_long_run_bounded),
		cmocka_unit_test(test_rss_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

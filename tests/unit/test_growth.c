/* test_growth.c: growth series downsampling, Theil-Sen, verdicts and rate formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "smolder/growth.h"

/* Deterministic noise in [-1, 1]. */
static double noise(unsigned *state)
{
	*state = *state * 1103515245u + 12345u;
	return ((double)((*state >> 8) & 0xffff) / 32768.0) - 1.0;
}

static void fill(struct growth_series *s, double seconds, double dt, double (*f)(double, void *),
		 void *arg)
{
	for (double t = 0; t <= seconds + 1e-9; t += dt)
		growth_series_add(s, t, f(t, arg));
}

static double linear_noisy(double t, void *arg)
{
	return 1e6 + 409600.0 * t + 20000 * noise(arg);
}

static void test_theil_sen_exact_line(void **state)
{
	struct growth_point p[20];
	double slope, icpt;

	for (int i = 0; i < 20; i++) {
		p[i].t = i;
		p[i].v = 5 + 3.0 * i;
	}
	assert_int_equal(growth_theil_sen(p, 20, &slope, &icpt), 0);
	assert_true(fabs(slope - 3.0) < 1e-9);
	assert_true(fabs(icpt - 5.0) < 1e-9);
	assert_int_equal(growth_theil_sen(p, 1, &slope, &icpt), -EINVAL);
}

static void test_theil_sen_ignores_outliers(void **state)
{
	struct growth_point p[30];
	double slope, icpt;

	for (int i = 0; i < 30; i++) {
		p[i].t = i;
		p[i].v = 100.0 * i;
	}
	/* spikes: a burst of temporaries and a batch freed at once */
	p[7].v += 1e6;
	p[15].v -= 5e5;
	p[22].v += 3e6;
	assert_int_equal(growth_theil_sen(p, 30, &slope, &icpt), 0);
	assert_true(fabs(slope - 100.0) < 1.0);
}

static void test_linear_leak_verdict_and_rate(void **state)
{
	struct growth_series s;
	struct growth_params params = {.warmup_s = 3, .min_growth_bytes = 65536};
	struct growth_result r;
	unsigned seed = 42;

	assert_int_equal(growth_series_init(&s, 240), 0);
	fill(&s, 25, 1, linear_noisy, &seed);
	params.turnover_bytes = 409600.0 * 22;
	growth_analyze(&s, &params, &r);
	assert_int_equal(r.verdict, GROWTH_LEAK);
	assert_true(fabs(r.rate - 409600.0) / 409600.0 < 0.02);
	assert_true(r.confidence > 0.8);
	growth_series_release(&s);
}

static double plateau(double t, void *arg)
{
	/* a cache filling for 5 s then bounded at 2 MB */
	return (t < 5 ? t / 5 : 1) * 2048000.0 + 2048 * noise(arg);
}

static void test_plateau_is_not_leak(void **state)
{
	struct growth_series s;
	struct growth_params params = {.warmup_s = 3, .min_growth_bytes = 65536};
	struct growth_result r;
	unsigned seed = 7;

	assert_int_equal(growth_series_init(&s, 240), 0);
	fill(&s, 25, 1, plateau, &seed);
	params.turnover_bytes = 2048.0 * 200 * 22;
	growth_analyze(&s, &params, &r);
	assert_int_equal(r.verdict, GROWTH_PLATEAU);
	assert_true(r.confidence > 0.5);
	growth_series_release(&s);
}

static double refill(double t, void *arg)
{
	/* cache full before attach: its evictions free invisible blocks, so it seems to refill
	 * for 12 s, then it is flat */
	return (t < 12 ? t / 12 : 1) * 4e6 + 1000 * noise(arg);
}

static void test_refilling_cache_is_plateau(void **state)
{
	struct growth_series s;
	struct growth_params params = {.warmup_s = 3, .min_growth_bytes = 65536};
	struct growth_result r;
	unsigned seed = 9;

	assert_int_equal(growth_series_init(&s, 240), 0);
	fill(&s, 30, 1, refill, &seed);
	growth_analyze(&s, &params, &r);
	assert_int_equal(r.verdict, GROWTH_PLATEAU);
	growth_series_release(&s);
}

static double churn_level(double t, void *arg)
{
	return 500000 + 30000 * noise(arg);
}

static void test_churn_and_steady(void **state)
{
	struct growth_series s;
	struct growth_params params = {.warmup_s = 3, .min_growth_bytes = 65536};
	struct growth_result r;
	unsigned seed = 3;

	assert_int_equal(growth_series_init(&s, 240), 0);
	fill(&s, 25, 1, churn_level, &seed);
	params.turnover_bytes = 50e6; /* 50 MB allocated and freed */
	growth_analyze(&s, &params, &r);
	assert_int_equal(r.verdict, GROWTH_CHURN);
	params.turnover_bytes = 0;
	growth_analyze(&s, &params, &r);
	assert_int_equal(r.verdict, GROWTH_STEADY);
	growth_series_release(&s);
}

static double pool_refill(double t, void *arg)
{
	/* a pool of live blocks allocated before attach, replaced within the first second */
	return (t < 1 ? t : 1) * 500000 + 5000 * noise(arg);
}

static void test_pool_refilled_in_transient_is_churn(void **state)
{
	struct growth_series s;
	struct growth_params params = {.warmup_s = 3, .min_growth_bytes = 16384};
	struct growth_result r;
	unsigned seed = 5;

	assert_int_equal(growth_series_init(&s, 240), 0);
	fill(&s, 25, 1, pool_refill, &seed);
	params.turnover_bytes = 1e9;
	growth_analyze(&s, &params, &r);
	assert_int_equal(r.verdict, GROWTH_CHURN);
	/* the same shape with no turnover is a structure that filled up: plateau */
	params.turnover_bytes = 500000;
	growth_analyze(&s, &params, &r);
	assert_int_equal(r.verdict, GROWTH_PLATEAU);
	growth_series_release(&s);
}

static double in_flight(double t, void *arg)
{
	/* a 188 KiB temporary buffer, zero to three of them in flight at any snapshot */
	unsigned *seed = arg;

	(void)t;
	return 192512.0 * (double)((unsigned)(noise(seed) * 1000 + 1000) % 4);
}

static void test_in_flight_buffers_are_churn(void **state)
{
	struct growth_series s;
	struct growth_params params = {.warmup_s = 3, .min_growth_bytes = 65536};
	struct growth_result r;
	unsigned seed = 11;

	assert_int_equal(growth_series_init(&s, 240), 0);
	fill(&s, 30, 1, in_flight, &seed);
	params.turnover_bytes = 200e6;
	growth_analyze(&s, &params, &r);
	/* spikes are not a level reached and held: never a plateau, never a leak */
	assert_int_equal(r.verdict, GROWTH_CHURN);
	growth_series_release(&s);
}

/* A churning loop's working set, exactly flat but for snapshots that caught a few blocks in
 * flight (a real series from test_leaks_verdicts' churn fixture that was called a plateau when
 * the maximum, not the held level, was taken as what the series grew to). */
static void test_churn_with_spikes_is_not_plateau(void **state)
{
	static const double v[] = {517088, 525248, 525248, 510528, 510528, 510528, 525248,
				   510528, 510528, 510528, 510528, 513472, 510528, 510528,
				   517088, 510528, 510528, 531808, 531808, 523648, 510528,
				   525248, 525248, 510528, 515968};
	struct growth_series s;
	struct growth_params params = {.warmup_s = 2.5, .min_growth_bytes = 16384};
	struct growth_result r;

	(void)state;
	assert_int_equal(growth_series_init(&s, 240), 0);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		growth_series_add(&s, (double)(i + 1), v[i]);
	params.turnover_bytes = 100e6;
	growth_analyze(&s, &params, &r);
	assert_int_equal(r.verdict, GROWTH_CHURN);
	growth_series_release(&s);
}

static double slow_leak(double t, void *arg)
{
	return 51200.0 * t + 1024 * noise(arg);
}

static void test_slow_leak(void **state)
{
	struct growth_series s;
	struct growth_params params = {.warmup_s = 3, .min_growth_bytes = 65536};
	struct growth_result r;
	unsigned seed = 11;

	assert_int_equal(growth_series_init(&s, 240), 0);
	fill(&s, 20, 1, slow_leak, &seed);
	growth_analyze(&s, &params, &r);
	assert_int_equal(r.verdict, GROWTH_LEAK);
	assert_true(fabs(r.rate - 51200.0) / 51200.0 < 0.05);
	growth_series_release(&s);
}

/* A short run on a loaded machine (smolder profile's 4 s load window at -i 0.5): one tick came
 * 0.2 s late and the run's last point is a partial interval 0.04 s after the one before. The
 * leak's second half is judged over the second half of the window in time; split by point count
 * it was the last 0.84 s, whose growth fell under half the floor, and the verdict flipped. */
static void test_leak_with_late_tick_and_short_last_point(void **state)
{
	static const double t[] = {0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.2, 3.5, 4.0, 4.04};
	struct growth_series s;
	struct growth_params params = {.warmup_s = 1, .min_growth_bytes = 16384};
	struct growth_result r;

	assert_int_equal(growth_series_init(&s, 240), 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		growth_series_add(&s, t[i], 288 + 9600 * t[i]);
	params.turnover_bytes = 9 * 9600 * 4.04;
	growth_analyze(&s, &params, &r);
	assert_int_equal(r.verdict, GROWTH_LEAK);
	assert_true(fabs(r.rate - 9600.0) / 9600.0 < 0.01);
	growth_series_release(&s);
}

static void test_too_few_points(void **state)
{
	struct growth_series s;
	struct growth_params params = {.warmup_s = 3, .min_growth_bytes = 65536};
	struct growth_result r;

	assert_int_equal(growth_series_init(&s, 16), 0);
	growth_series_add(&s, 0, 1e6);
	growth_series_add(&s, 1, 2e6);
	growth_analyze(&s, &params, &r);
	assert_int_equal(r.verdict, GROWTH_STEADY);
	assert_true(r.confidence < 0.5);
	growth_series_release(&s);
}

static void test_downsampling_is_bounded_and_keeps_slope(void **state)
{
	struct growth_series s;
	struct growth_params params = {.warmup_s = 60, .min_growth_bytes = 65536};
	struct growth_result r;

	assert_int_equal(growth_series_init(&s, 64), 0);
	/* ten hours at one point per second */
	for (int i = 0; i < 36000; i++)
		growth_series_add(&s, i, 1000.0 * i);
	assert_true(s.n <= 64);
	assert_true(s.points[0].t < 3600);	  /* still covers the start */
	assert_true(s.points[s.n - 1].t > 30000); /* and recent points */
	assert_true(s.last.t == 35999);
	assert_int_equal(s.samples, 36000);
	for (size_t i = 1; i < s.n; i++)
		assert_true(s.points[i].t > s.points[i - 1].t);
	growth_analyze(&s, &params, &r);
	assert_int_equal(r.verdict, GROWTH_LEAK);
	assert_true(fabs(r.rate - 1000.0) < 1.0);
	growth_series_release(&s);
}

static void test_format(void **state)
{
	char buf[64];

	assert_string_equal(growth_format_rate(98.4 * 1024, buf, sizeof(buf)),
			    "98.4 KiB/s (346 MiB/h)");
	assert_string_equal(growth_format_bytes(512, buf, sizeof(buf)), "512 B");
	assert_string_equal(growth_format_bytes(1.5 * 1024 * 1024, buf, sizeof(buf)), "1.50 MiB");
	assert_string_equal(growth_verdict_name(GROWTH_PLATEAU), "plateau");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_theil_sen_exact_line),
		cmocka_unit_test(test_theil_sen_ignores_outliers),
		cmocka_unit_test(test_linear_leak_verdict_and_rate),
		cmocka_unit_test(test_plateau_is_not_leak),
		cmocka_unit_test(test_refilling_cache_is_plateau),
		cmocka_unit_test(test_churn_and_steady),
		cmocka_unit_test(test_slow_leak),
		cmocka_unit_test(test_leak_with_late_tick_and_short_last_point),
		cmocka_unit_test(test_in_flight_buffers_are_churn),
		cmocka_unit_test(test_churn_with_spikes_is_not_plateau),
		cmocka_unit_test(test_pool_refilled_in_transient_is_churn),
		cmocka_unit_test(test_too_few_points),
		cmocka_unit_test(test_downsampling_is_bounded_and_keeps_slope),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

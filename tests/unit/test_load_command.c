/* test_load_command.c: operation counts parsed from real load tools' output (wrk, ab,
 * redis-benchmark in its default and quiet forms, demo_load), sums over several summaries, and
 * NAN for output without one (a failed tool, a count missing before the phrase); which commands
 * wait for $PORT; counters over the load window (absent ends, a counter that went backwards). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "smolder/load_command.h"

static double parse(const char *text)
{
	FILE *fp = fmemopen((void *)text, strlen(text), "r");
	double ops;

	assert_non_null(fp);
	ops = load_command_parse_ops(fp);
	fclose(fp);
	return ops;
}

static void test_wrk(void **state)
{
	(void)state;
	assert_true(parse("Running 3s test @ http://127.0.0.1:18480/sort\n"
			  "  1 threads and 4 connections\n"
			  "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n"
			  "    Latency     1.21ms  301.50us   5.03ms   80.12%\n"
			  "    Req/Sec     3.30k   112.84     3.50k    70.00%\n"
			  "  9876 requests in 3.00s, 1.23MB read\n"
			  "Requests/sec:   3291.50\n"
			  "Transfer/sec:    419.88KB\n") == 9876);
}

static void test_ab(void **state)
{
	(void)state;
	assert_true(parse("Server Software:        \n"
			  "Concurrency Level:      4\n"
			  "Time taken for tests:   1.234 seconds\n"
			  "Complete requests:      5000\n"
			  "Failed requests:        0\n"
			  "Requests per second:    4051.86 [#/sec] (mean)\n") == 5000);
}

static void test_redis_benchmark_sums_tests(void **state)
{
	(void)state;
	/* The default form: one summary per test, far apart; they add up. */
	assert_true(parse("====== SET ======\n"
			  "  20000 requests completed in 0.41 seconds\n"
			  "  4 parallel clients\n"
			  "  3 bytes payload\n"
			  "99.99% <= 1 milliseconds\n"
			  "48780.49 requests per second\n"
			  "\n"
			  "====== GET ======\n"
			  "  20000 requests completed in 0.40 seconds\n"
			  "  4 parallel clients\n"
			  "50000.00 requests per second\n") == 40000);
}

static void test_demo_load(void **state)
{
	(void)state;
	assert_true(parse("demo_load: 123 requests in 2.0 s\n") == 123);
}

static void test_no_summary(void **state)
{
	(void)state;
	assert_true(isnan(parse("")));
	assert_true(isnan(parse("unable to connect to 127.0.0.1:1 Connection refused\n")));
	/* The phrase without a count before it is not a summary. */
	assert_true(isnan(parse("many requests in flight\n")));
	/* "requests per second" alone (redis-benchmark -q) carries no count. */
	assert_true(isnan(parse("SET: 48780.49 requests per second\n")));
}

static void test_wants_port(void **state)
{
	struct load_command *lc;

	(void)state;
	assert_true(load_command_wants_port("wrk http://127.0.0.1:$PORT/"));
	assert_true(load_command_wants_port("redis-benchmark -p ${PORT} -n 10"));
	assert_false(load_command_wants_port("sleep 4"));
	assert_false(load_command_wants_port("echo PORT"));
	assert_false(load_command_wants_port(NULL));
	lc = load_command_new("ab -n 10 http://127.0.0.1:$PORT/");
	assert_non_null(lc);
	assert_true(lc->wants_port && lc->go_fd == -1 && lc->port_timeout_s == LOAD_PORT_TIMEOUT_S);
	load_command_free(lc);
	load_command_free(NULL);
}

static void test_window_count(void **state)
{
	struct load_command *lc = load_command_new("true");
	uint64_t d = 7;

	(void)state;
	assert_false(load_command_count(lc, LOAD_COUNT_OPS, &d)); /* never started */
	lc->started = true;
	lc->at_start.count[LOAD_COUNT_OPS] = 100;
	lc->at_start.count_valid[LOAD_COUNT_OPS] = true;
	assert_false(load_command_count(lc, LOAD_COUNT_OPS, &d)); /* no end mark */
	lc->at_end.count[LOAD_COUNT_OPS] = 450;
	lc->at_end.count_valid[LOAD_COUNT_OPS] = true;
	assert_true(load_command_count(lc, LOAD_COUNT_OPS, &d));
	assert_int_equal(d, 350);
	assert_false(load_command_count(lc, LOAD_COUNT_ALLOCS, &d)); /* no such counter */
	lc->at_end.count[LOAD_COUNT_OPS] = 50;			     /* went backwards */
	assert_false(load_command_count(lc, LOAD_COUNT_OPS, &d));
	assert_false(load_command_count(NULL, LOAD_COUNT_OPS, &d));
	load_command_free(lc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrk),
		cmocka_unit_test(test_ab),
		cmocka_unit_test(test_redis_benchmark_sums_tests),
		cmocka_unit_test(test_demo_load),
		cmocka_unit_test(test_no_summary),
		cmocka_unit_test(test_wants_port),
		cmocka_unit_test(test_window_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

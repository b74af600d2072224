/* test_log.c: levels filter messages, errors always pass, output format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smolder/log.h"

static char *captured;
static size_t captured_len;

static FILE *capture(void)
{
	free(captured);
	captured = NULL;
	return open_memstream(&captured, &captured_len);
}

static void test_levels(void **state)
{
	FILE *fp = capture();

	(void)state;
	log_set_stream(fp);
	log_set_level(LOG_LEVEL_INFO);
	log_info("hello %d", 42);
	log_debug("hidden");
	log_warn("careful");
	log_set_level(LOG_LEVEL_QUIET);
	log_info("hidden too");
	log_warn("hidden three");
	log_error("broken");
	fclose(fp);
	log_set_stream(NULL);
	assert_string_equal(
		captured, "smolder: hello 42\nsmolder: warning: careful\nsmolder: error: broken\n");
	assert_int_equal(log_get_level(), LOG_LEVEL_QUIET);
}

static void test_debug_and_newline(void **state)
{
	FILE *fp = capture();

	(void)state;
	log_set_stream(fp);
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("one\n");
	log_msg(LOG_LEVEL_INFO, "two");
	fclose(fp);
	log_set_stream(NULL);
	/* A message that already ends in a newline does not get a second one. */
	assert_string_equal(captured, "smolder: debug: one\nsmolder: two\n");
	free(captured);
	captured = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_debug_and_newline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

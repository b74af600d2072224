/* test_ops_probe.c: --ops-probe's spec split (LIB:FUNCTION vs C++ '::') and function lookup in
 * real ELF files: a static function of a fixture built -O2 (found in .symtab, with GCC's
 * .constprop clone counted as the function), a libc export (.dynsym), and a missing name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "smolder/ops_probe.h"

static void test_split(void **state)
{
	size_t len;
	const char *f;

	(void)state;
	f = ops_probe_split("handle_request", &len);
	assert_int_equal(len, 0);
	assert_string_equal(f, "handle_request");
	f = ops_probe_split("libc:malloc", &len);
	assert_int_equal(len, 4);
	assert_string_equal(f, "malloc");
	f = ops_probe_split("_ZN2ns1fEv", &len);
	assert_int_equal(len, 0);
	f = ops_probe_split("ns::f", &len);
	assert_int_equal(len, 0);
	assert_string_equal(f, "ns::f");
	f = ops_probe_split("libfoo.so:ns::f", &len);
	assert_int_equal(len, 9);
	assert_string_equal(f, "ns::f");
}

static void test_find(void **state)
{
	uint64_t off[16];
	size_t n;

	(void)state;
	assert_int_equal(ops_probe_find_function(SMOLDER_FIXTURE_DIR "/leak_linear",
						 "handle_request", off, 16, &n),
			 0);
	assert_int_equal(n, 1);
	assert_true(off[0] > 0);
	/* demo_server's route_request exists only as route_request.constprop.0 at -O2. */
	assert_int_equal(ops_probe_find_function(SMOLDER_FIXTURE_DIR "/demo_server",
						 "route_request", off, 16, &n),
			 0);
	assert_int_equal(n, 1);
	/* A prefix of a name is not the name. */
	assert_int_equal(ops_probe_find_function(SMOLDER_FIXTURE_DIR "/demo_server", "route_req",
						 off, 16, &n),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(ops_probe_find_function(SMOLDER_FIXTURE_DIR "/leak_linear",
						 "no_such_function", off, 16, &n),
			 0);
	assert_int_equal(n, 0);
	assert_true(ops_probe_find_function("/nonexistent/file", "main", off, 16, &n) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

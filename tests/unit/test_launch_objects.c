/* test_launch_objects.c: the loader's --list output parsed into object paths, and resolving real
 * programs (a dynamic one lists its libc; a missing command is -ENOENT). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "smolder/launch_objects.h"

static void test_parse_list(void **state)
{
	static const char text[] =
		"\tlinux-vdso.so.1 (0x00007ffd5f3e2000)\n"
		"\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f1d2a000000)\n"
		"\tlibmissing.so.1 => not found\n"
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1d29e1f000)\n"
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1d29e1f000)\n"
		"\t/lib64/ld-linux-x86-64.so.2 (0x00007f1d2a2b5000)\n"
		"\tlibodd.so => /opt/my libs/libodd.so (0x00007f1d29000000)";
	struct launch_objects objects = {0};

	assert_int_equal(launch_objects_parse_list(text, &objects), 0);
	assert_int_equal(objects.n, 4);
	assert_string_equal(objects.paths[0], "/lib/x86_64-linux-gnu/libstdc++.so.6");
	assert_string_equal(objects.paths[1], "/lib/x86_64-linux-gnu/libc.so.6");
	assert_string_equal(objects.paths[2], "/lib64/ld-linux-x86-64.so.2");
	assert_string_equal(objects.paths[3], "/opt/my libs/libodd.so");
	launch_objects_release(&objects);
	launch_objects_release(NULL);
}

static void test_resolve(void **state)
{
	struct launch_objects objects;
	bool libc = false;

	/* "true" through PATH, as execvp would find it: the program first, then its libc. */
	assert_int_equal(launch_objects_resolve("true", &objects), 0);
	assert_true(objects.n >= 2);
	assert_true(objects.paths[0][0] == '/');
	assert_non_null(strstr(objects.paths[0], "true"));
	for (size_t i = 1; i < objects.n; i++)
		libc |= strstr(objects.paths[i], "/libc.so") != NULL;
	assert_true(libc);
	launch_objects_release(&objects);

	assert_int_equal(launch_objects_resolve("smolder-no-such-command-xyz", &objects), -ENOENT);
	assert_int_equal(launch_objects_resolve("/nonexistent/prog", &objects), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

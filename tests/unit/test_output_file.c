/* test_output_file.c: outputs appear complete or not at all; aborts leave no temporary files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smolder/output_file.h"

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_commit_replaces(void **state)
{
	char dir[] = "/tmp/smolder-test-XXXXXX", path[256], buf[64] = {0};
	struct output_file out;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out.folded", dir);
	fp = fopen(path, "w");
	fputs("old\n", fp);
	fclose(fp);

	assert_int_equal(output_file_open(&out, path), 0);
	fputs("new contents\n", out.fp);
	/* Until commit the old file is intact and the new data sits in a temporary file. */
	fp = fopen(path, "r");
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_string_equal(buf, "old\n");
	assert_int_equal(count_entries(dir), 2);
	assert_int_equal(output_file_commit(&out), 0);
	fp = fopen(path, "r");
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_string_equal(buf, "new contents\n");
	assert_int_equal(count_entries(dir), 1);
	unlink(path);
	rmdir(dir);
}

static void test_abort_leaves_nothing(void **state)
{
	char dir[] = "/tmp/smolder-test-XXXXXX", path[256];
	struct output_file out;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.svg", dir);
	assert_int_equal(output_file_open(&out, path), 0);
	fputs("partial", out.fp);
	output_file_abort(&out);
	assert_int_equal(count_entries(dir), 0);
	output_file_abort(&out); /* twice is harmless */
	output_file_abort(NULL);
	rmdir(dir);
}

static void test_bad_directory(void **state)
{
	struct output_file out;

	(void)state;
	assert_true(output_file_open(&out, "/nonexistent-dir/x.svg") < 0);
	assert_true(output_file_open(&out, "") < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_replaces),
		cmocka_unit_test(test_abort_leaves_nothing),
		cmocka_unit_test(test_bad_directory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_output_file.c: outputs appear complete or not at all; aborts leave no temporary files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
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

static void test_check(void **state)
{
	char dir[] = "/tmp/smolder-test-XXXXXX", path[300], err[512];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ok.svg", dir);
	assert_int_equal(output_file_check(path, err, sizeof(err)), 0);
	assert_int_equal(count_entries(dir), 0); /* the probe file is gone */
	assert_int_equal(output_file_check("-", err, sizeof(err)), 0);

	assert_int_not_equal(output_file_check("/nonexistent-dir/x.svg", err, sizeof(err)), 0);
	assert_non_null(strstr(err, "/nonexistent-dir"));
	assert_int_equal(output_file_check("/proc/x.folded", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "/proc"));
	assert_int_equal(output_file_check("/proc/self/../x.folded", err, sizeof(err)), -EPERM);
	assert_int_equal(output_file_check("/sys/kernel/x.svg", err, sizeof(err)), -EPERM);
	assert_int_not_equal(output_file_check("/dev/null", err, sizeof(err)), 0);
	assert_int_not_equal(output_file_check("", err, sizeof(err)), 0);

	/* A directory named like an output, and a path ending in '/'. */
	snprintf(path, sizeof(path), "%s/d.svg", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(output_file_check(path, err, sizeof(err)), -EISDIR);
	snprintf(path, sizeof(path), "%s/", dir);
	assert_int_equal(output_file_check(path, err, sizeof(err)), -EISDIR);
	snprintf(path, sizeof(path), "%s/d.svg", dir);
	rmdir(path);

	/* A file where a directory should be. */
	snprintf(path, sizeof(path), "%s/file", dir);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/file/x.svg", dir);
	assert_int_not_equal(output_file_check(path, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/file", dir);
	unlink(path);

	/* A directory that takes no new file (root bypasses modes: as root, test a read-only one
	 * only where the kernel refuses everyone). */
	if (geteuid() != 0) {
		chmod(dir, 0555);
		snprintf(path, sizeof(path), "%s/x.svg", dir);
		assert_int_not_equal(output_file_check(path, err, sizeof(err)), 0);
		chmod(dir, 0755);
	}
	rmdir(dir);
}

/* Temporary files left by a killed writer go; a live writer's (locked) and other names stay. */
static void test_remove_stale(void **state)
{
	char dir[] = "/tmp/smolder-test-XXXXXX", path[300], other[300];
	struct output_file live;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.svg.tmp.AbC123", dir);
	fp = fopen(path, "w");
	fclose(fp);
	snprintf(other, sizeof(other), "%s/x.svg.tmp.keep", dir); /* not mkstemp's 6 characters */
	fp = fopen(other, "w");
	fclose(fp);
	snprintf(path, sizeof(path), "%s/x.svg", dir);
	assert_int_equal(output_file_open(&live, path), 0);
	assert_int_equal(count_entries(dir), 3);
	assert_int_equal(output_file_remove_stale(path), 1);
	assert_int_equal(count_entries(dir), 2); /* the live temporary and the other name */
	assert_int_equal(output_file_commit(&live), 0);
	unlink(other);
	unlink(path);
	assert_int_equal(output_file_remove_stale("-"), 0);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_replaces), cmocka_unit_test(test_abort_leaves_nothing),
		cmocka_unit_test(test_bad_directory),	cmocka_unit_test(test_check),
		cmocka_unit_test(test_remove_stale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

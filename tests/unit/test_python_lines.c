/* test_python_lines.c: the line-table decoders (python_lines.c) give every instruction offset the
 * line CPython itself gives it (co_positions() on 3.11+, co_lines() on 3.10, dis.findlinestarts
 * before), for code captured from the real interpreters 3.8-3.13 (tests/unit/data/, written by
 * python_lines_capture.py), and again for a fresh capture from each interpreter installed here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smolder/python_lines.h"

#define MAX_TABLE 65536

/* Checks one capture (a file or a pipe); returns the number of code objects checked. */
static size_t check_capture(FILE *fp, const char *what, int want_minor)
{
	static uint8_t table[MAX_TABLE];
	char *line = NULL, *save;
	size_t cap = 0, len = 0, codes = 0, offsets = 0;
	int minor = -1, first = 0;

	while (getline(&line, &cap, fp) > 0) {
		if (!strncmp(line, "code ", 5)) {
			char *hex = NULL;

			assert_int_equal(sscanf(line, "code %d %d", &minor, &first), 2);
			assert_int_equal(minor, want_minor);
			hex = strrchr(line, ' ') + 1;
			len = 0;
			for (; hex[0] && hex[0] != '\n' && hex[1]; hex += 2) {
				unsigned b;

				assert_true(len < MAX_TABLE);
				assert_int_equal(sscanf(hex, "%2x", &b), 1);
				table[len++] = (uint8_t)b;
			}
			codes++;
		} else if (!strncmp(line, "expect", 6)) {
			for (char *tok = strtok_r(line + 6, " \n", &save); tok;
			     tok = strtok_r(NULL, " \n", &save)) {
				long off, want;
				int got;

				assert_int_equal(sscanf(tok, "%ld:%ld", &off, &want), 2);
				got = python_lines_lookup(python_lines_format(minor), table, len,
							  first, off);
				if (got != want)
					fail_msg("%s: code #%zu (firstlineno %d) offset %ld: line "
						 "%d, "
						 "CPython says %ld",
						 what, codes, first, off, got, want);
				offsets++;
			}
		}
	}
	free(line);
	assert_true(offsets > codes);
	return codes;
}

static void test_captured(void **state)
{
	static const int minors[] = {8, 9, 10, 11, 12, 13};
	char path[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(minors) / sizeof(minors[0]); i++) {
		FILE *fp;

		snprintf(path, sizeof(path), "%s/tests/unit/data/python_lines_3.%d.txt",
			 SMOLDER_SOURCE_DIR, minors[i]);
		fp = fopen(path, "r");
		assert_non_null(fp);
		assert_true(check_capture(fp, path, minors[i]) >= 20);
		fclose(fp);
	}
}

/* A fresh capture from every installed interpreter (more code objects than the checked-in copy). */
static void test_live_interpreters(void **state)
{
	static const char *const versions[] = {"3.8.18", "3.9.18", "3.10.13",
					       "3.11.7", "3.12.1", "3.13.0"};
	char python[256], cmd[4096];
	size_t ran = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		int minor = atoi(versions[i] + 2);
		FILE *fp;

		snprintf(python, sizeof(python), "/root/.pyenv/versions/%s/bin/python3",
			 versions[i]);
		if (access(python, X_OK)) {
			print_message("python %s not installed: live check skipped\n", versions[i]);
			continue;
		}
		snprintf(cmd, sizeof(cmd), "'%s' '%s/tests/unit/python_lines_capture.py'", python,
			 SMOLDER_SOURCE_DIR);
		fp = popen(cmd, "r");
		assert_non_null(fp);
		assert_true(check_capture(fp, python, minor) >= 100);
		assert_int_equal(pclose(fp), 0);
		ran++;
	}
	if (!access("/usr/bin/python3.11", X_OK)) {
		FILE *fp;

		snprintf(cmd, sizeof(cmd),
			 "/usr/bin/python3.11 '%s/tests/unit/python_lines_capture.py'",
			 SMOLDER_SOURCE_DIR);
		fp = popen(cmd, "r");
		assert_non_null(fp);
		assert_true(check_capture(fp, "/usr/bin/python3.11", 11) >= 100);
		assert_int_equal(pclose(fp), 0);
	}
	if (!ran)
		print_message("no pyenv interpreter installed: checked-in captures only\n");
}

/* Hand-made tables: offsets before the start, past the end, and truncated input. */
static void test_edges(void **state)
{
	/* 3.11 entries: 1 unit no-column line +2 (code 13, svarint 4 = +2), then 2 units short */
	static const uint8_t loc[] = {0x80 | (13 << 3) | 0, 4, 0x80 | (0 << 3) | 1, 0x00};
	static const uint8_t lnotab[] = {4, 1, 6, 0xff}; /* +1 at 4, -1 at 10 */
	static const uint8_t linetab[] = {4, 0, 2, 0x80, 6, 3};

	(void)state;
	assert_int_equal(python_lines_lookup(PYTHON_LINES_LOCATIONS, loc, sizeof(loc), 10, -2), 10);
	assert_int_equal(python_lines_lookup(PYTHON_LINES_LOCATIONS, loc, sizeof(loc), 10, 0), 12);
	assert_int_equal(python_lines_lookup(PYTHON_LINES_LOCATIONS, loc, sizeof(loc), 10, 4), 12);
	assert_int_equal(python_lines_lookup(PYTHON_LINES_LOCATIONS, loc, sizeof(loc), 10, 6), -1);
	assert_int_equal(python_lines_lookup(PYTHON_LINES_LOCATIONS, loc, 1, 10, 0), -1);
	assert_int_equal(python_lines_lookup(PYTHON_LINES_LNOTAB, lnotab, 4, 5, 0), 5);
	assert_int_equal(python_lines_lookup(PYTHON_LINES_LNOTAB, lnotab, 4, 5, 4), 6);
	assert_int_equal(python_lines_lookup(PYTHON_LINES_LNOTAB, lnotab, 4, 5, 12), 5);
	assert_int_equal(python_lines_lookup(PYTHON_LINES_LINETABLE, linetab, 6, 7, 2), 7);
	assert_int_equal(python_lines_lookup(PYTHON_LINES_LINETABLE, linetab, 6, 7, 4), -1);
	assert_int_equal(python_lines_lookup(PYTHON_LINES_LINETABLE, linetab, 6, 7, 8), 10);
	assert_int_equal(python_lines_lookup(PYTHON_LINES_LINETABLE, linetab, 6, 7, 12), -1);
	assert_int_equal(python_lines_format(8), PYTHON_LINES_LNOTAB);
	assert_int_equal(python_lines_format(10), PYTHON_LINES_LINETABLE);
	assert_int_equal(python_lines_format(13), PYTHON_LINES_LOCATIONS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captured),
		cmocka_unit_test(test_live_interpreters),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_report_outputs.c: the format -> writer dispatch: each output goes to its format's writer
 * and appears complete; a writer's failure leaves no file (and no temporary) but the other
 * outputs are still written and the first error is returned; a format the command has no writer
 * for is -EINVAL with nothing written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "smolder/report_outputs.h"
#include "tmp_dir.h"

static int calls;

static int write_text(void *ctx, const struct cli_output *out, FILE *fp)
{
	calls++;
	fprintf(fp, "%s %s\n", (const char *)ctx, cli_output_format_name(out->format));
	return 0;
}

static int write_fails(void *ctx, const struct cli_output *out, FILE *fp)
{
	(void)ctx;
	(void)out;
	calls++;
	fputs("half a file", fp);
	return -ENOSPC;
}

static void path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmp_dir, name);
}

static size_t files_in_tmp(void)
{
	DIR *d = opendir(tmp_dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_dispatch(void **state)
{
	char folded[256], json[256], pb[256], line[64];
	struct cli_output outs[3];
	struct report_writers w = {
		.by_format =
			{[OUTPUT_FORMAT_FOLDED] = write_text, [OUTPUT_FORMAT_JSON] = write_fails},
		.ctx = "run",
	};
	FILE *fp;

	(void)state;
	path(folded, sizeof(folded), "a.folded");
	path(json, sizeof(json), "a.json");
	path(pb, sizeof(pb), "a.pb.gz");
	outs[0] = (struct cli_output){json, OUTPUT_FORMAT_JSON};
	outs[1] = (struct cli_output){pb, OUTPUT_FORMAT_PPROF};
	outs[2] = (struct cli_output){folded, OUTPUT_FORMAT_FOLDED};
	calls = 0;
	/* the first failure is returned; every output was attempted */
	assert_int_equal(report_outputs_write(&w, outs, 3), -ENOSPC);
	assert_int_equal(calls, 2);
	assert_int_equal(access(json, F_OK), -1);
	assert_int_equal(access(pb, F_OK), -1);
	fp = fopen(folded, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	assert_string_equal(line, "run folded\n");
	assert_int_equal(files_in_tmp(), 1); /* no temporary file left behind */
	/* a format without a writer alone */
	assert_int_equal(report_outputs_write(&w, &outs[1], 1), -EINVAL);
	assert_int_equal(report_outputs_write(&w, &outs[2], 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}

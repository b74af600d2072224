/* test_junit.c: JUnit XML of check results: counts, one testcase per result, failure with its
 * message, escaping of markup and control bytes; every document checked by xmllint (libxml2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smolder/check.h"
#include "smolder/junit.h"

static char *render(const struct check_result *r, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	char path[] = "/tmp/smolder-junit-XXXXXX", cmd[128];
	int fd;

	assert_non_null(fp);
	assert_int_equal(junit_write_check(r, n, "suite <&>", 1.5, fp), 0);
	fclose(fp);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
	if (system(cmd) != 0)
		fail_msg("xmllint rejected:\n%s", buf);
	unlink(path);
	return buf;
}

static void test_results(void **state)
{
	struct check_spec cpu = {.metric = CHECK_CPU_PER_OP, .max = NAN};
	struct check_spec share = {.metric = CHECK_FUNCTION_SHARE, .max = 0.5};
	struct check_result r[2] = {
		{.spec = &cpu, .name = "cpu_s_per_op", .current = 2, .baseline = 1, .limit = 1.1},
		{.spec = &share,
		 .name = "function_share[a<b>&\"c\"]",
		 .current = 0.1,
		 .baseline = NAN,
		 .limit = 0.5,
		 .passed = true},
	};
	char *xml;

	(void)state;
	snprintf(r[0].message, sizeof(r[0].message), "regressed <100%%> & \"more\"\x01\ttab\nline");
	xml = render(r, 2);
	assert_non_null(strstr(xml, "tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\""));
	assert_non_null(strstr(xml, "<testcase classname=\"smolder.check\" name=\"cpu_s_per_op\""));
	assert_non_null(strstr(xml, "name=\"function_share[a&lt;b&gt;&amp;&quot;c&quot;]\""));
	assert_non_null(strstr(xml, "<failure type=\"regression\" message=\"regressed &lt;100%&gt; "
				    "&amp; &quot;more&quot;?&#9;tab&#10;line\">"));
	assert_null(strstr(strstr(xml, "function_share"), "<failure")); /* the passing case */
	assert_non_null(strstr(xml, "<testsuites name=\"suite &lt;&amp;&gt;\""));
	free(xml);
}

static void test_budget_failure_type(void **state)
{
	struct check_spec rss = {.metric = CHECK_PEAK_RSS, .max = 100};
	struct check_result r = {.spec = &rss,
				 .name = "peak_rss_bytes",
				 .current = 200,
				 .baseline = NAN,
				 .limit = 100};
	char *xml;

	(void)state;
	snprintf(r.message, sizeof(r.message), "over the budget");
	xml = render(&r, 1);
	assert_non_null(strstr(xml, "<failure type=\"budget\""));
	free(xml);
	xml = render(NULL, 0); /* no checks: still a valid, empty suite */
	assert_non_null(strstr(xml, "tests=\"0\" failures=\"0\""));
	free(xml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_results),
		cmocka_unit_test(test_budget_failure_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

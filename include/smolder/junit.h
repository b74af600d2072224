/* junit.h: JUnit XML (the Ant/Jenkins/GitLab structure: testsuites > testsuite > testcase with
 * failure) of `smolder check`'s results, one test case per metric. */
#ifndef SMOLDER_JUNIT_H
#define SMOLDER_JUNIT_H

#include <stddef.h>
#include <stdio.h>

struct check_result;

/* Writes results as one <testsuite name=suite>; a failed check is a <failure> with its message,
 * every case's values go to its <system-out>. Returns 0 or -EIO. */
int junit_write_check(const struct check_result *results, size_t n, const char *suite,
		      double seconds, FILE *fp);

/* Writes s XML-escaped (attribute-safe; bytes that XML 1.0 forbids become '?'). */
void junit_write_escaped(const char *s, FILE *fp);

#endif
